//! The φ accrual failure detector, as Akka computes it; see [`PhiAccrualDetector`].

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::Result;
use crate::error::{in_range, non_zero, time_regressed};

/// The most inter-arrival samples a detector may keep.
const MAX_SAMPLE_SIZE: u32 = 100_000;

/// The longest first heartbeat estimate, acceptable pause or minimum deviation accepted: a day,
/// so sums of squared intervals in nanoseconds stay finite.
const MAX_INTERVAL: Duration = Duration::from_secs(86_400);

/// The settings of a [`PhiAccrualDetector`]; the defaults are Akka Cluster's.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PhiConfig {
    /// The φ at which a node is suspected, above 0. Default 8 (Akka Cluster and Cassandra).
    /// Lower detects crashes sooner but suspects healthy nodes more often.
    pub threshold: f64,
    /// How many recent inter-arrival times the mean and deviation are taken over, in
    /// `[1, 100 000]`. Default 1000.
    pub max_sample_size: u32,
    /// The least standard deviation used, so a very regular heartbeat does not make the
    /// detector jump at a small delay. Default 100 ms.
    pub min_std_deviation: Duration,
    /// A pause in heartbeats that is accepted as normal (a GC pause, a network blip), added to
    /// the mean interval. Default 3 s.
    pub acceptable_heartbeat_pause: Duration,
    /// The interval expected before any has been measured: the heartbeat interval. Default 1 s.
    pub first_heartbeat_estimate: Duration,
}

impl Default for PhiConfig {
    fn default() -> Self {
        PhiConfig {
            threshold: 8.0,
            max_sample_size: 1000,
            min_std_deviation: Duration::from_millis(100),
            acceptable_heartbeat_pause: Duration::from_secs(3),
            first_heartbeat_estimate: Duration::from_secs(1),
        }
    }
}

impl PhiConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`ha_core::Error::OutOfRange`] / [`ha_core::Error::NotFinite`] for a threshold that is not
    /// a positive finite number, [`ha_core::Error::Zero`] / [`ha_core::Error::TooLarge`] for the
    /// sample size, [`ha_core::Error::Zero`] for a zero minimum deviation or first estimate,
    /// [`ha_core::Error::TooLarge`] for a first estimate, pause or minimum deviation over a day.
    pub fn validate(&self) -> Result<()> {
        in_range(
            "phi threshold",
            self.threshold,
            f64::MIN_POSITIVE,
            f64::MAX,
            "(0, ∞)",
        )?;
        if self.max_sample_size == 0 {
            return Err(ha_core::Error::Zero {
                name: "max sample size",
            }
            .into());
        }
        if self.max_sample_size > MAX_SAMPLE_SIZE {
            return Err(ha_core::Error::TooLarge {
                name: "max sample size",
                value: self.max_sample_size.into(),
                max: MAX_SAMPLE_SIZE.into(),
            }
            .into());
        }
        non_zero("min std deviation", self.min_std_deviation)?;
        non_zero("first heartbeat estimate", self.first_heartbeat_estimate)?;
        // Intervals are summed and squared in nanoseconds: a day keeps every sum finite.
        for (name, value) in [
            ("first heartbeat estimate", self.first_heartbeat_estimate),
            (
                "acceptable heartbeat pause",
                self.acceptable_heartbeat_pause,
            ),
            ("min std deviation", self.min_std_deviation),
        ] {
            if value > MAX_INTERVAL {
                return Err(ha_core::Error::TooLarge {
                    name,
                    value: value.as_secs(),
                    max: MAX_INTERVAL.as_secs(),
                }
                .into());
            }
        }
        Ok(())
    }
}

/// The φ accrual failure detector for one monitored node (Hayashibara, Défago, Yared and
/// Katayama, "The φ Accrual Failure Detector", SRDS 2004), with the parameters and formula of Akka's
/// `PhiAccrualFailureDetector`, the variant Cassandra's `phi_convict_threshold` also tunes.
///
/// Instead of a yes / no verdict after a fixed timeout, the detector gives a suspicion level
/// `φ = -log10(1 - F(t))`, where `t` is the time since the last heartbeat and `F` the
/// cumulative distribution of a normal distribution fitted to recent heartbeat inter-arrival
/// times. `φ = 1` means a 10% chance that a heartbeat this late is still coming, `φ = 3` 0.1%;
/// the node is suspected once `φ` reaches the threshold. Since the distribution follows the
/// observed intervals, the detector adapts to each link's jitter.
///
/// **As Akka.** The mean is taken over at most `max_sample_size` recent intervals, with
/// `acceptable_heartbeat_pause` added to it; the standard deviation is at least
/// `min_std_deviation`; before any interval is seen the history is seeded with
/// `first_heartbeat_estimate ± first_heartbeat_estimate / 4`, so a node suspected before its
/// second heartbeat is judged against the expected rhythm. `F` is the logistic approximation of
/// the normal distribution `F(y) ≈ 1 / (1 + e^(-y·(1.5976 + 0.070566·y²)))` (Bowling et al.,
/// 2009). An interval is only recorded while the node is available, so an outage does not inflate
/// the mean.
///
/// **Where we differ.** `φ = log10(1 + e^z)` with `z = y·(1.5976 + 0.070566·y²)` is the same
/// value, computed in a form that stays finite and monotone for any silence (Akka's reaches
/// infinity once `e^-z` underflows). Sums of intervals are kept in integer nanoseconds, so long
/// runs do not drift. Cassandra (since 1.2) fits an exponential distribution instead of a normal
/// one; its `phi_convict_threshold` (default 8) plays the part of our `threshold`.
///
/// ```
/// use std::time::{Duration, Instant};
/// use ha_replication::{PhiAccrualDetector, PhiConfig};
///
/// let mut detector = PhiAccrualDetector::new(PhiConfig::default())?;
/// let mut now = Instant::now();
/// for _ in 0..10 {
///     detector.heartbeat(now)?;
///     now += Duration::from_secs(1);
/// }
/// // One second after the last heartbeat all is well; after 20 s of silence it is suspected.
/// assert!(detector.phi(now) < 0.5);
/// assert!(detector.is_available(now));
/// assert!(detector.phi(now + Duration::from_secs(19)) > 8.0);
/// assert!(!detector.is_available(now + Duration::from_secs(19)));
/// # Ok::<(), ha_replication::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct PhiAccrualDetector {
    config: PhiConfig,
    /// Recent inter-arrival times, in nanoseconds.
    intervals: VecDeque<u64>,
    sum: u128,
    squares: u128,
    /// The mean and standard deviation of `intervals` in seconds, kept up to date by `push`.
    mean: f64,
    deviation: f64,
    last_heartbeat: Option<Instant>,
}

impl PhiAccrualDetector {
    /// A detector that has heard nothing yet, its history seeded from the first heartbeat
    /// estimate.
    ///
    /// # Errors
    /// As [`PhiConfig::validate`].
    pub fn new(config: PhiConfig) -> Result<PhiAccrualDetector> {
        config.validate()?;
        let mut detector = PhiAccrualDetector {
            config,
            intervals: VecDeque::new(),
            sum: 0,
            squares: 0,
            mean: 0.0,
            deviation: 0.0,
            last_heartbeat: None,
        };
        let mean = nanos(config.first_heartbeat_estimate);
        let deviation = mean / 4;
        detector.push(mean - deviation);
        detector.push(mean + deviation);
        Ok(detector)
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &PhiConfig {
        &self.config
    }

    /// A heartbeat arrived at `now`. The interval since the previous one joins the history only
    /// if the node was available at `now` (φ below the threshold), so an outage does not stretch
    /// the expected rhythm.
    ///
    /// # Errors
    /// [`crate::Error::TimeRegressed`] if `now` is before the previous heartbeat; nothing changes.
    pub fn heartbeat(&mut self, now: Instant) -> Result<()> {
        if let Some(last) = self.last_heartbeat {
            if now < last {
                return Err(time_regressed("heartbeat", last, now));
            }
            if self.is_available(now) {
                self.push(nanos(now - last));
            } else {
                tracing::debug!(
                    phi = self.phi(now),
                    silence_ms = (now - last).as_millis(),
                    "heartbeat after suspicion; interval not recorded"
                );
            }
        }
        self.last_heartbeat = Some(now);
        Ok(())
    }

    /// The suspicion level at `now`: 0 before the first heartbeat (nothing to suspect yet),
    /// then growing with the silence since the last heartbeat. Never negative, NaN or infinite.
    #[must_use]
    pub fn phi(&self, now: Instant) -> f64 {
        let Some(last) = self.last_heartbeat else {
            return 0.0;
        };
        let silence = now.saturating_duration_since(last).as_secs_f64();
        let (mean, deviation) = (self.mean, self.deviation);
        let mean = mean + self.config.acceptable_heartbeat_pause.as_secs_f64();
        let deviation = deviation.max(self.config.min_std_deviation.as_secs_f64());
        phi(silence, mean, deviation)
    }

    /// Whether the node is trusted at `now`: φ below the threshold.
    #[must_use]
    pub fn is_available(&self, now: Instant) -> bool {
        let phi = self.phi(now);
        let available = phi < self.config.threshold;
        if !available {
            tracing::debug!(phi, threshold = self.config.threshold, "node suspected");
        }
        available
    }

    /// When φ will reach the threshold if no heartbeat arrives: the instant to check the node
    /// again (a timer's deadline, as `poll_timeout` gives one in a sans-IO loop); `None` before
    /// the first heartbeat. Exact to a nanosecond (found by bisection, φ growing with silence).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use ha_replication::{PhiAccrualDetector, PhiConfig};
    ///
    /// let mut detector = PhiAccrualDetector::new(PhiConfig::default())?;
    /// let start = Instant::now();
    /// detector.heartbeat(start)?;
    /// let deadline = detector.suspect_at().unwrap();
    /// assert!(detector.is_available(deadline - Duration::from_nanos(1)));
    /// assert!(!detector.is_available(deadline));
    /// # Ok::<(), ha_replication::Error>(())
    /// ```
    #[must_use]
    pub fn suspect_at(&self) -> Option<Instant> {
        let last = self.last_heartbeat?;
        let reached =
            |silence: u64| self.phi(last + Duration::from_nanos(silence)) >= self.config.threshold;
        // Find an upper bound by doubling from the mean interval, then bisect.
        let mut high = nanos(self.config.first_heartbeat_estimate).max(1);
        while !reached(high) {
            match high.checked_mul(2) {
                Some(h) if last.checked_add(Duration::from_nanos(h)).is_some() => high = h,
                _ => return None,
            }
        }
        let mut low = 0u64;
        while high - low > 1 {
            let mid = low + (high - low) / 2;
            if reached(mid) {
                high = mid;
            } else {
                low = mid;
            }
        }
        let at = if reached(low) { low } else { high };
        last.checked_add(Duration::from_nanos(at))
    }

    /// When the latest heartbeat arrived.
    #[must_use]
    pub fn last_heartbeat(&self) -> Option<Instant> {
        self.last_heartbeat
    }

    /// The mean and standard deviation of the recorded intervals, in seconds.
    #[must_use]
    pub fn mean_and_deviation(&self) -> (f64, f64) {
        (self.mean, self.deviation)
    }

    /// Checks the internal invariants, panicking if one is broken; for tests.
    pub fn check_invariants(&self) {
        assert!(!self.intervals.is_empty());
        assert!(self.intervals.len() <= self.config.max_sample_size.max(2) as usize);
        let sum: u128 = self.intervals.iter().map(|&i| u128::from(i)).sum();
        let squares: u128 = self
            .intervals
            .iter()
            .map(|&i| u128::from(i) * u128::from(i))
            .sum();
        assert_eq!((sum, squares), (self.sum, self.squares));
        let n = self.intervals.len() as f64;
        assert!((self.mean - sum as f64 / n / 1e9).abs() <= 1e-12 * self.mean.max(1.0));
    }

    fn push(&mut self, interval: u64) {
        // The two seed samples stay until real ones replace them, even with a sample size of 1.
        while self.intervals.len() >= self.config.max_sample_size.max(2) as usize {
            if let Some(old) = self.intervals.pop_front() {
                self.sum -= u128::from(old);
                self.squares -= u128::from(old) * u128::from(old);
            }
        }
        self.intervals.push_back(interval);
        self.sum += u128::from(interval);
        self.squares += u128::from(interval) * u128::from(interval);
        let n = self.intervals.len() as f64;
        let mean = self.sum as f64 / n;
        let variance = (self.squares as f64 / n - mean * mean).max(0.0);
        self.mean = mean / 1e9;
        self.deviation = variance.sqrt() / 1e9;
    }
}

/// A duration in nanoseconds, saturating at about 584 years.
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// φ for a silence of `t` against a normal distribution of `mean` and `deviation` (all seconds,
/// `deviation > 0`): `-log10(1 - F(t))` with Akka's logistic approximation of `F`, written as
/// `log10(1 + e^z)` (a softplus) so it stays finite and monotone for any `t`.
///
/// ```
/// use ha_replication::phi;
///
/// assert!((phi(1.0, 1.0, 0.25) - 2f64.log10()).abs() < 1e-12); // F = 1/2 at the mean
/// assert!(phi(2.0, 1.0, 0.25) > phi(1.5, 1.0, 0.25));
/// assert!(phi(1e9, 1.0, 0.25).is_finite());
/// ```
#[must_use]
pub fn phi(t: f64, mean: f64, deviation: f64) -> f64 {
    let y = (t - mean) / deviation;
    let z = y * (1.5976 + 0.070566 * y * y);
    // softplus(z) = ln(1 + e^z), evaluated without overflow.
    let softplus = z.max(0.0) + (-z.abs()).exp().ln_1p();
    let phi = softplus / std::f64::consts::LN_10;
    if phi.is_nan() { 0.0 } else { phi.min(f64::MAX) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_over_a_day_are_refused_not_overflowed() {
        let config = PhiConfig {
            first_heartbeat_estimate: Duration::MAX,
            ..PhiConfig::default()
        };
        assert!(matches!(
            config.validate(),
            Err(crate::Error::Core(ha_core::Error::TooLarge { .. }))
        ));
    }

    /// Akka's own expression, for comparison where it is finite.
    fn akka_phi(t: f64, mean: f64, deviation: f64) -> f64 {
        let y = (t - mean) / deviation;
        let e = (-y * (1.5976 + 0.070566 * y * y)).exp();
        if t > mean {
            -(e / (1.0 + e)).log10()
        } else {
            -(1.0 - 1.0 / (1.0 + e)).log10()
        }
    }

    #[test]
    fn the_stable_form_equals_akkas_expression() {
        for t in [0.0, 0.5, 0.9, 1.0, 1.1, 1.5, 2.0, 3.0, 4.0] {
            let (ours, theirs) = (phi(t, 1.0, 0.25), akka_phi(t, 1.0, 0.25));
            assert!(
                (ours - theirs).abs() < 1e-9 * theirs.max(1.0),
                "{t}: {ours} vs {theirs}"
            );
        }
    }

    #[test]
    fn phi_matches_the_normal_tail_within_the_approximation() {
        // At the mean F = 1/2; three deviations above it 1 - Φ(3) = 0.00135, φ = 2.87 (the
        // logistic approximation gives 2.91).
        assert!((phi(10.0, 10.0, 2.0) - 0.5f64.log10().abs()).abs() < 1e-12);
        assert!((phi(16.0, 10.0, 2.0) - 2.87).abs() < 0.05);
        // Large silences stay finite; far below the mean φ is 0.
        assert!(phi(1e300, 1.0, 1e-9).is_finite());
        assert_eq!(phi(-1e300, 1.0, 1e-9), 0.0);
    }

    #[test]
    fn bad_settings_are_rejected() {
        let with = |f: fn(&mut PhiConfig)| {
            let mut c = PhiConfig::default();
            f(&mut c);
            PhiAccrualDetector::new(c).map(|_| ())
        };
        assert!(with(|c| c.threshold = 0.0).is_err());
        assert!(with(|c| c.threshold = f64::NAN).is_err());
        assert!(with(|c| c.max_sample_size = 0).is_err());
        assert!(with(|c| c.max_sample_size = MAX_SAMPLE_SIZE + 1).is_err());
        assert!(with(|c| c.min_std_deviation = Duration::ZERO).is_err());
        assert!(with(|c| c.first_heartbeat_estimate = Duration::ZERO).is_err());
        assert!(with(|c| c.acceptable_heartbeat_pause = Duration::ZERO).is_ok());
    }

    #[test]
    fn before_the_first_heartbeat_nothing_is_suspected() {
        let d = PhiAccrualDetector::new(PhiConfig::default()).unwrap();
        assert_eq!(d.phi(Instant::now()), 0.0);
        let (mean, deviation) = d.mean_and_deviation();
        assert!((mean - 1.0).abs() < 1e-12 && (deviation - 0.25).abs() < 1e-12);
        d.check_invariants();
    }

    #[test]
    fn the_history_keeps_at_most_max_sample_size_intervals() {
        let mut d = PhiAccrualDetector::new(PhiConfig {
            max_sample_size: 3,
            acceptable_heartbeat_pause: Duration::ZERO,
            ..PhiConfig::default()
        })
        .unwrap();
        let mut now = Instant::now();
        for _ in 0..10 {
            d.heartbeat(now).unwrap();
            now += Duration::from_millis(200);
            d.check_invariants();
        }
        let (mean, deviation) = d.mean_and_deviation();
        assert!(
            (mean - 0.2).abs() < 1e-9 && deviation < 1e-9,
            "{mean} {deviation}"
        );
    }

    #[test]
    fn intervals_after_a_suspicion_are_not_recorded_and_time_must_not_go_back() {
        let mut d = PhiAccrualDetector::new(PhiConfig::default()).unwrap();
        let t0 = Instant::now() + Duration::from_secs(1);
        d.heartbeat(t0).unwrap();
        let late = t0 + Duration::from_secs(60);
        assert!(!d.is_available(late));
        d.heartbeat(late).unwrap();
        let (mean, _) = d.mean_and_deviation();
        assert!((mean - 1.0).abs() < 1e-12, "the 60 s gap was not recorded");
        assert!(d.heartbeat(t0).is_err());
        assert_eq!(d.last_heartbeat(), Some(late));
    }
}
