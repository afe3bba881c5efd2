//! Counts over the last stretch of time, in time buckets.

use std::time::{Duration, Instant};

use crate::error::non_zero_duration;
use crate::{Error, Result};

/// The largest number of buckets a [`SlidingWindow`] may have; it bounds memory (8 bytes a bucket)
/// and the cost of a query.
pub(crate) const MAX_BUCKETS: u32 = 100_000;

/// The shape of a [`SlidingWindow`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SlidingWindowConfig {
    /// How far back the window reaches. Default 60 s.
    pub window: Duration,
    /// How many buckets the window is cut into; more buckets give a finer edge. Default 60, at most
    /// 100 000.
    pub buckets: u32,
}

impl Default for SlidingWindowConfig {
    fn default() -> Self {
        SlidingWindowConfig {
            window: Duration::from_secs(60),
            buckets: 60,
        }
    }
}

impl SlidingWindowConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::Zero`] for a zero window or zero buckets, [`Error::TooLarge`] for more than
    /// 100 000 buckets or for buckets narrower than a nanosecond.
    pub fn validate(&self) -> Result<()> {
        non_zero_duration("window", self.window)?;
        if self.buckets == 0 {
            return Err(Error::Zero { name: "buckets" });
        }
        if self.buckets > MAX_BUCKETS {
            return Err(Error::TooLarge {
                name: "buckets",
                value: self.buckets.into(),
                max: MAX_BUCKETS.into(),
            });
        }
        let nanos = u64::try_from(self.window.as_nanos()).unwrap_or(u64::MAX);
        if u64::from(self.buckets) > nanos {
            return Err(Error::TooLarge {
                name: "buckets",
                value: self.buckets.into(),
                max: nanos,
            });
        }
        Ok(())
    }
}

/// A count over the last `window` of time — requests in the last minute, errors in the last
/// 10 s — kept in a ring of time buckets.
///
/// **Accuracy and memory.** Time is cut into buckets of `window / buckets`. A query at `now` sums
/// the bucket holding `now` and the `buckets − 1` before it, so it covers between
/// `window − window/buckets` and `window` of the past: the edge is exact to one bucket. Memory is
/// 8 bytes a bucket (480 bytes for the default 60 s in 60 buckets). An add costs one step per
/// bucket it moves the window forward, at most one lap of buckets, so a steady stream costs
/// constant time per add; a query at or after the newest amount costs one step per bucket
/// elapsed since it (constant time within the same bucket), a query into the past one step per
/// bucket. Bucket counts saturate at `u64::MAX` instead of wrapping.
///
/// Amounts recorded out of order count as long as their bucket is still inside the window;
/// older ones are dropped and [`add`](Self::add) says so.
///
/// ```
/// use std::time::{Duration, Instant};
/// use ha_core::{SlidingWindow, SlidingWindowConfig};
///
/// let start = Instant::now();
/// let mut errors = SlidingWindow::new(SlidingWindowConfig {
///     window: Duration::from_secs(10),
///     buckets: 10,
/// })?;
/// errors.add(start, 3);
/// errors.add(start + Duration::from_secs(4), 2);
/// assert_eq!(errors.sum(start + Duration::from_secs(5)), 5);
/// // Ten seconds on, the first three have left the window.
/// assert_eq!(errors.sum(start + Duration::from_secs(10)), 2);
/// assert_eq!(errors.rate_per_second(start + Duration::from_secs(10)), 0.2);
/// # Ok::<(), ha_core::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct SlidingWindow {
    config: SlidingWindowConfig,
    bucket_nanos: u128,
    counts: Vec<u64>,
    /// The exact sum of `counts`: the buckets from `head − buckets + 1` to `head`.
    total: u128,
    /// The time bucket 0 starts at; set by the first amount recorded.
    origin: Option<Instant>,
    /// The index of the newest bucket, counted from `origin`.
    head: i64,
}

impl SlidingWindow {
    /// An empty window.
    ///
    /// # Errors
    /// As [`SlidingWindowConfig::validate`].
    pub fn new(config: SlidingWindowConfig) -> Result<SlidingWindow> {
        config.validate()?;
        Ok(SlidingWindow {
            config,
            bucket_nanos: config.window.as_nanos() / u128::from(config.buckets),
            counts: vec![0; config.buckets as usize],
            total: 0,
            origin: None,
            head: 0,
        })
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &SlidingWindowConfig {
        &self.config
    }

    /// Adds one at `now`; see [`add`](Self::add).
    pub fn increment(&mut self, now: Instant) -> bool {
        self.add(now, 1)
    }

    /// Adds `amount` at `now`. Returns `false`, counting nothing, when `now` lies so far before the
    /// newest amount that its bucket has already left the window.
    pub fn add(&mut self, now: Instant, amount: u64) -> bool {
        let origin = *self.origin.get_or_insert(now);
        let index = self.bucket_index(origin, now);
        if index > self.head {
            // Buckets between the old head and the new one start empty; at most one lap of them.
            for bucket in (self.head + 1).max(index - self.len() + 1)..=index {
                let slot = self.slot(bucket);
                self.total -= u128::from(self.counts[slot]);
                self.counts[slot] = 0;
            }
            self.head = index;
        } else if self.head.saturating_sub(index) >= self.len() {
            return false;
        }
        let slot = self.slot(index);
        let old = self.counts[slot];
        self.counts[slot] = old.saturating_add(amount);
        self.total += u128::from(self.counts[slot] - old);
        true
    }

    /// The total of the amounts in the window that ends at `now`.
    #[must_use]
    pub fn sum(&self, now: Instant) -> u64 {
        let Some(origin) = self.origin else {
            return 0;
        };
        let index = self.bucket_index(origin, now);
        let sum = if index >= self.head {
            // The window has moved `ahead` buckets past the newest one: drop the oldest `ahead`.
            let ahead = index - self.head;
            if ahead >= self.len() {
                return 0;
            }
            let oldest = self.head - self.len() + 1;
            let expired: u128 = (oldest..oldest + ahead)
                .map(|b| u128::from(self.counts[self.slot(b)]))
                .sum();
            self.total - expired
        } else {
            // A query into the past: the live buckets up to `index`.
            (self.head.saturating_sub(self.len() - 1)..=index)
                .map(|b| u128::from(self.counts[self.slot(b)]))
                .sum()
        };
        u64::try_from(sum).unwrap_or(u64::MAX)
    }

    /// The sum at `now` divided by the window's length in seconds.
    #[must_use]
    pub fn rate_per_second(&self, now: Instant) -> f64 {
        self.sum(now) as f64 / self.config.window.as_secs_f64()
    }

    /// Recounts the window's internal bookkeeping, for tests and fuzzing: the running total equals
    /// the sum of the buckets, and nothing was counted before the first amount.
    ///
    /// # Panics
    /// If the bookkeeping is inconsistent, which is a bug in ha-core.
    pub fn check_invariants(&self) {
        let recount: u128 = self.counts.iter().map(|&c| u128::from(c)).sum();
        assert_eq!(
            self.total, recount,
            "running total differs from the buckets"
        );
        if self.origin.is_none() {
            assert_eq!((self.total, self.head), (0, 0), "amounts without an origin");
        }
    }

    /// Forgets every amount.
    pub fn clear(&mut self) {
        self.counts.fill(0);
        self.total = 0;
        self.origin = None;
        self.head = 0;
    }

    fn len(&self) -> i64 {
        i64::from(self.config.buckets)
    }

    fn slot(&self, index: i64) -> usize {
        // `rem_euclid` by a positive length is in `0..len`, and the length fits in `usize`.
        index.rem_euclid(self.len()) as usize
    }

    /// The bucket `t` falls in, counted from `origin` (negative before it).
    fn bucket_index(&self, origin: Instant, t: Instant) -> i64 {
        let to_index = |n: u128| i64::try_from(n).unwrap_or(i64::MAX);
        if t >= origin {
            to_index((t - origin).as_nanos() / self.bucket_nanos)
        } else {
            -to_index((origin - t).as_nanos().div_ceil(self.bucket_nanos))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(secs: u64, buckets: u32) -> SlidingWindow {
        SlidingWindow::new(SlidingWindowConfig {
            window: Duration::from_secs(secs),
            buckets,
        })
        .unwrap()
    }

    fn at(start: Instant, millis: u64) -> Instant {
        start + Duration::from_millis(millis)
    }

    #[test]
    fn bad_shapes_are_rejected() {
        let bad = |window, buckets| SlidingWindow::new(SlidingWindowConfig { window, buckets });
        assert_eq!(
            bad(Duration::ZERO, 10).unwrap_err(),
            Error::Zero { name: "window" }
        );
        assert_eq!(
            bad(Duration::from_secs(1), 0).unwrap_err(),
            Error::Zero { name: "buckets" }
        );
        assert!(matches!(
            bad(Duration::from_secs(1), MAX_BUCKETS + 1),
            Err(Error::TooLarge { .. })
        ));
        assert!(matches!(
            bad(Duration::from_nanos(5), 6),
            Err(Error::TooLarge { .. })
        ));
        assert!(bad(Duration::from_nanos(6), 6).is_ok());
    }

    #[test]
    fn empty_window_sums_to_zero() {
        let w = window(60, 60);
        assert_eq!(w.sum(Instant::now()), 0);
        assert_eq!(w.rate_per_second(Instant::now()), 0.0);
    }

    #[test]
    fn amounts_leave_after_the_window() {
        let t = Instant::now();
        let mut w = window(60, 60);
        w.add(t, 10);
        w.add(at(t, 30_000), 5);
        assert_eq!(w.sum(at(t, 59_999)), 15);
        assert_eq!(w.sum(at(t, 60_000)), 5);
        assert_eq!(w.sum(at(t, 89_999)), 5);
        assert_eq!(w.sum(at(t, 90_000)), 0);
    }

    #[test]
    fn a_gap_longer_than_the_window_clears_everything() {
        let t = Instant::now();
        let mut w = window(10, 10);
        for s in 0..10 {
            w.add(at(t, s * 1000), 1);
        }
        assert_eq!(w.sum(at(t, 9000)), 10);
        w.add(at(t, 1_000_000), 7);
        assert_eq!(w.sum(at(t, 1_000_000)), 7);
    }

    #[test]
    fn late_amounts_count_while_their_bucket_is_in_the_window() {
        let t = Instant::now();
        let mut w = window(10, 10);
        w.add(at(t, 20_000), 1);
        assert!(w.add(at(t, 11_000), 2));
        assert!(!w.add(at(t, 10_999), 4), "bucket 10 has left the window");
        assert_eq!(w.sum(at(t, 20_000)), 3);
    }

    #[test]
    fn amounts_before_the_first_one_are_counted() {
        let t = at(Instant::now(), 100_000);
        let mut w = window(10, 10);
        w.add(t, 1);
        assert!(w.add(t - Duration::from_millis(1), 1));
        assert!(w.add(t - Duration::from_millis(8_500), 1));
        assert!(!w.add(t - Duration::from_millis(9_500), 1));
        assert_eq!(w.sum(t), 3);
    }

    #[test]
    fn queries_in_the_past_see_what_was_then_in_the_window() {
        let t = Instant::now();
        let mut w = window(10, 10);
        w.add(t, 1);
        w.add(at(t, 5_000), 2);
        w.add(at(t, 9_000), 4);
        assert_eq!(w.sum(at(t, 5_000)), 3);
        assert_eq!(w.sum(at(t, 9_000)), 7);
    }

    #[test]
    fn counts_saturate() {
        let t = Instant::now();
        let mut w = window(1, 1);
        w.add(t, u64::MAX);
        w.add(t, 5);
        assert_eq!(w.sum(t), u64::MAX);
        w.clear();
        assert_eq!(w.sum(t), 0);
        let mut two = window(2, 2);
        two.add(t, u64::MAX);
        two.add(at(t, 1_000), u64::MAX);
        assert_eq!(two.sum(at(t, 1_000)), u64::MAX, "the total saturates too");
        assert_eq!(two.sum(at(t, 2_000)), u64::MAX);
        assert_eq!(two.sum(at(t, 3_000)), 0);
        two.check_invariants();
    }
}
