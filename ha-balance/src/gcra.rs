//! Rate limiting by the Generic Cell Rate Algorithm (GCRA).
//!
//! Followed: the GCRA of ATM traffic policing (ITU-T I.371) in its "virtual scheduling" form, as
//! governor and redis-cell use it: one number per limited thing, the theoretical arrival time
//! (TAT) of the next request at the steady rate. A request at `t` conforms when
//! `TAT ≤ t + τ`, and then moves `TAT` to `max(TAT, t) + T`, where `T = 1 / rate` is the emission
//! interval and `τ` the burst tolerance. A refused request changes nothing and learns when it
//! would conform: `TAT − τ`.
//!
//! **Burst `b` admits `b` requests at once** (then one every `T`), as governor's `Quota` does:
//! `τ = T × (b − 1)`. redis-cell's `CL.THROTTLE key max_burst ...` admits `max_burst + 1` at
//! once (its reply's "limit" is `max_burst + 1`), so redis-cell's `max_burst = b − 1`. In any
//! window of length `w`, at most `b + ⌊w / T⌋` requests conform.
//!
//! `T` is kept in whole nanoseconds, rounded up, so the limiter never admits more than the
//! configured rate. The state is one `AtomicU64` updated by compare-and-swap, so a
//! [`RateLimiter`] is checked through `&self` from any number of threads.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::Result;
use crate::error::non_zero;

/// The settings of a GCRA rate limit: a steady rate and a burst.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct RateLimitConfig {
    /// The steady rate, in requests per second. Default 1000 (the design's rate per client);
    /// finite, positive, and at most 10⁹ (one request a nanosecond).
    pub requests_per_second: f64,
    /// Requests admitted at once from rest (governor's burst; redis-cell's `max_burst + 1`).
    /// Default 1000, one second's worth, as governor's `Quota::per_second`. Not zero.
    pub burst: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            requests_per_second: 1000.0,
            burst: 1000,
        }
    }
}

impl RateLimitConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`ha_core::Error::NotFinite`] or [`ha_core::Error::OutOfRange`] for a rate that is not a
    /// finite number in `(0, 10⁹]`, or so low that one request takes over 500 years;
    /// [`ha_core::Error::Zero`] for a zero burst; [`ha_core::Error::TooLarge`] for a burst whose
    /// requests at this rate span over 584 years (all as [`Error::Core`](crate::Error::Core)).
    pub fn validate(&self) -> Result<()> {
        Gcra::new(*self).map(drop)
    }
}

/// The arithmetic of one GCRA limit, on nanosecond timestamps; no state of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Gcra {
    /// `T`, in nanoseconds.
    pub(crate) emission: u64,
    /// `τ = T × (b − 1)`, in nanoseconds.
    pub(crate) tolerance: u64,
}

impl Gcra {
    pub(crate) fn new(config: RateLimitConfig) -> Result<Gcra> {
        let rate = config.requests_per_second;
        let name = "requests per second";
        if !rate.is_finite() {
            return Err(ha_core::Error::NotFinite { name, value: rate }.into());
        }
        // The emission interval must be at least a nanosecond and fit a u64 of nanoseconds
        // (about 584 years); 1e-10 requests a second is well past that.
        if !(1e-10..=1e9).contains(&rate) {
            return Err(ha_core::Error::OutOfRange {
                name,
                value: rate,
                range: "[1e-10, 1e9]",
            }
            .into());
        }
        non_zero("burst", config.burst.into())?;
        let emission = (1e9 / rate).ceil().max(1.0) as u64;
        // The whole burst, `T × b`, must fit the nanosecond clock (about 584 years): a saturated
        // tolerance would admit every request.
        let burst = u64::from(config.burst);
        let tolerance = emission
            .checked_mul(burst - 1)
            .filter(|t| t.checked_add(emission).is_some())
            .ok_or(ha_core::Error::TooLarge {
                name: "burst at this rate (the whole burst must span under 584 years)",
                value: burst,
                max: u64::MAX / emission,
            })?;
        Ok(Gcra {
            emission,
            tolerance,
        })
    }

    /// Decides a request at `now` against `tat`: the new TAT if it conforms, else the earliest
    /// time it would.
    #[inline]
    pub(crate) fn decide(self, tat: u64, now: u64) -> Result<u64, u64> {
        if tat > now.saturating_add(self.tolerance) {
            Err(tat - self.tolerance)
        } else {
            Ok(tat.max(now).saturating_add(self.emission))
        }
    }
}

/// Nanoseconds from `origin` to `now`, 0 before it, saturating about 584 years after.
#[inline]
pub(crate) fn nanos_since(origin: Instant, now: Instant) -> u64 {
    let d = now.saturating_duration_since(origin);
    d.as_secs()
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::from(d.subsec_nanos()))
}

/// Whether a rate-limited request may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum RateDecision {
    /// It conforms; the limiter counted it.
    Admitted,
    /// It does not; nothing was counted. It would conform `retry_after` from now.
    Rejected {
        /// How long until the same request would conform.
        retry_after: Duration,
    },
}

impl RateDecision {
    /// Whether the request was admitted.
    #[must_use]
    pub fn is_admitted(&self) -> bool {
        matches!(self, RateDecision::Admitted)
    }

    /// How long to wait before retrying; `None` when admitted.
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            RateDecision::Admitted => None,
            RateDecision::Rejected { retry_after } => Some(*retry_after),
        }
    }
}

/// One GCRA rate limit shared by everything that calls it (a whole service, one backend).
/// Lock-free: [`check`](Self::check) takes `&self`, so share it behind an `Arc` across threads.
/// For a limit per client, see [`KeyedRateLimiter`](crate::KeyedRateLimiter).
///
/// ```
/// use std::time::{Duration, Instant};
/// use ha_balance::{RateDecision, RateLimitConfig, RateLimiter};
///
/// let start = Instant::now();
/// let limiter = RateLimiter::new(RateLimitConfig { requests_per_second: 10.0, burst: 3 }, start)?;
/// for _ in 0..3 {
///     assert!(limiter.check(start).is_admitted()); // burst 3 admits 3 at once
/// }
/// let refused = limiter.check(start);
/// assert_eq!(refused, RateDecision::Rejected { retry_after: Duration::from_millis(100) });
/// assert!(limiter.check(start + Duration::from_millis(100)).is_admitted());
/// # Ok::<(), ha_balance::Error>(())
/// ```
#[derive(Debug)]
pub struct RateLimiter {
    gcra: Gcra,
    config: RateLimitConfig,
    origin: Instant,
    tat: AtomicU64,
}

impl RateLimiter {
    /// A limiter at rest (a full burst available), measuring time from `origin`; checks at
    /// instants before `origin` count as at `origin`.
    ///
    /// # Errors
    /// As [`RateLimitConfig::validate`].
    pub fn new(config: RateLimitConfig, origin: Instant) -> Result<RateLimiter> {
        Ok(RateLimiter {
            gcra: Gcra::new(config)?,
            config,
            origin,
            tat: AtomicU64::new(0),
        })
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &RateLimitConfig {
        &self.config
    }

    /// The emission interval `T` actually used (`1 / rate`, rounded up to whole nanoseconds).
    #[must_use]
    pub fn emission_interval(&self) -> Duration {
        Duration::from_nanos(self.gcra.emission)
    }

    /// Decides one request at `now`, counting it if admitted.
    #[inline]
    pub fn check(&self, now: Instant) -> RateDecision {
        let now = nanos_since(self.origin, now);
        let decision = check_cell(&self.tat, self.gcra, now);
        if let RateDecision::Rejected { retry_after } = decision {
            tracing::debug!(
                ?retry_after,
                emission_ns = self.gcra.emission,
                tolerance_ns = self.gcra.tolerance,
                "rate limiter rejected a request"
            );
        }
        decision
    }

    /// Requests that would be admitted at once at `now`, without counting any.
    #[must_use]
    pub fn available(&self, now: Instant) -> u64 {
        available(
            self.tat.load(Ordering::Acquire),
            self.gcra,
            nanos_since(self.origin, now),
        )
    }
}

/// The lock-free check of one cell.
#[inline]
pub(crate) fn check_cell(cell: &AtomicU64, gcra: Gcra, now: u64) -> RateDecision {
    let mut current = cell.load(Ordering::Acquire);
    loop {
        match gcra.decide(current, now) {
            Err(at) => {
                return RateDecision::Rejected {
                    retry_after: Duration::from_nanos(at.saturating_sub(now)),
                };
            }
            Ok(next) => {
                match cell.compare_exchange_weak(current, next, Ordering::AcqRel, Ordering::Acquire)
                {
                    Ok(_) => return RateDecision::Admitted,
                    Err(actual) => current = actual,
                }
            }
        }
    }
}

/// Requests that would conform at once at `now` given `tat`.
pub(crate) fn available(tat: u64, gcra: Gcra, now: u64) -> u64 {
    let limit = now
        .saturating_add(gcra.tolerance)
        .saturating_add(gcra.emission);
    limit.saturating_sub(tat.max(now)) / gcra.emission
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn limiter(rate: f64, burst: u32) -> (RateLimiter, Instant) {
        let t = Instant::now();
        let config = RateLimitConfig {
            requests_per_second: rate,
            burst,
        };
        (RateLimiter::new(config, t).unwrap(), t)
    }

    #[test]
    fn a_burst_spanning_past_the_clock_is_refused_not_saturated() {
        let config = RateLimitConfig {
            requests_per_second: 1e-9,
            burst: 20,
        };
        let refused = RateLimiter::new(config, Instant::now());
        assert!(matches!(
            refused,
            Err(crate::Error::Core(ha_core::Error::TooLarge {
                value: 20,
                ..
            }))
        ));
    }

    #[test]
    fn default_is_a_thousand_a_second() {
        let c = RateLimitConfig::default();
        assert_eq!((c.requests_per_second, c.burst), (1000.0, 1000));
        let (l, _) = limiter(1000.0, 1);
        assert_eq!(l.emission_interval(), Duration::from_millis(1));
    }

    #[test]
    fn bad_settings_are_rejected() {
        for (rate, burst) in [
            (0.0, 1),
            (-1.0, 1),
            (f64::NAN, 1),
            (f64::INFINITY, 1),
            (2e9, 1),
            (1e-12, 1),
            (10.0, 0),
        ] {
            let config = RateLimitConfig {
                requests_per_second: rate,
                burst,
            };
            assert!(config.validate().is_err(), "{rate} {burst}");
        }
    }

    #[test]
    fn burst_b_admits_exactly_b_at_once_as_governor_does() {
        for burst in [1, 2, 5, 100] {
            let (l, t) = limiter(10.0, burst);
            assert_eq!(l.available(t), u64::from(burst));
            for _ in 0..burst {
                assert!(l.check(t).is_admitted());
            }
            assert_eq!(l.available(t), 0);
            assert_eq!(l.check(t).retry_after(), Some(Duration::from_millis(100)));
        }
    }

    #[test]
    fn redis_cell_max_burst_is_burst_minus_one() {
        // CL.THROTTLE key 15 30 60 admits 16 at once: our burst 16 at 0.5 requests a second.
        let (l, t) = limiter(0.5, 15 + 1);
        let admitted = (0..20).filter(|_| l.check(t).is_admitted()).count();
        assert_eq!(admitted, 16);
    }

    #[test]
    fn a_steady_stream_at_the_rate_is_never_refused() {
        let (l, t) = limiter(1000.0, 1);
        for i in 0..10_000u32 {
            assert!(
                l.check(t + Duration::from_micros(1000 * u64::from(i)))
                    .is_admitted()
            );
        }
    }

    #[test]
    fn checks_before_the_origin_count_as_at_it() {
        let (l, t) = limiter(1.0, 1);
        let early = t.checked_sub(Duration::from_secs(1)).unwrap_or(t);
        assert!(l.check(early).is_admitted());
        assert!(!l.check(t).is_admitted());
    }

    #[test]
    fn shared_across_threads_it_admits_the_burst_once() {
        let (l, t) = limiter(1.0, 1000);
        let l = std::sync::Arc::new(l);
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let l = l.clone();
                std::thread::spawn(move || (0..500).filter(|_| l.check(t).is_admitted()).count())
            })
            .collect();
        let total: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(total, 1000);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn gcra_never_admits_more_than_burst_plus_rate_times_t_in_any_window(
            gaps in proptest::collection::vec(0u64..3_000_000, 1..200),
            rate in 1.0f64..5000.0,
            burst in 1u32..20,
        ) {
            let (l, t) = limiter(rate, burst);
            let emission = l.emission_interval().as_nanos() as u64;
            prop_assert!(emission as f64 >= 1e9 / rate - 1e-6, "T is rounded up");
            let mut now = 0u64;
            let mut admitted = Vec::new();
            for gap in gaps {
                now += gap;
                if l.check(t + Duration::from_nanos(now)).is_admitted() {
                    admitted.push(now);
                }
            }
            for i in 0..admitted.len() {
                for j in i..admitted.len() {
                    let window = admitted[j] - admitted[i];
                    let count = (j - i + 1) as u64;
                    prop_assert!(count <= u64::from(burst) + window / emission,
                        "{count} admitted in {window} ns");
                }
            }
        }
    }
}
