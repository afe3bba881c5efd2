//! Quantiles of a stream in bounded memory, with a relative-error guarantee.

use std::fmt;
use std::time::Duration;

use sketches_ddsketch::{Config, DDSketch};

use crate::error::finite;
use crate::{Error, Result};

/// The smallest relative accuracy accepted: below it, bucket indices of the largest `f64` values
/// would overflow the sketch's 32-bit keys.
const MIN_RELATIVE_ACCURACY: f64 = 1e-6;
/// The largest number of buckets per sign.
const MAX_BUCKETS: u32 = 1 << 20;

/// The settings of a [`QuantileSketch`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct QuantileSketchConfig {
    /// The guaranteed relative error `α` of every quantile, in `[0.000001, 0.5]`. Default 0.01 (1%).
    pub relative_accuracy: f64,
    /// The most buckets kept per sign, bounding memory to 8 bytes a bucket. Default 2048, which at
    /// 1% accuracy spans values from `x` to about `6 × 10¹⁷ · x` before any bucket is collapsed.
    /// At most 1 048 576.
    pub max_buckets: u32,
    /// Values of this magnitude or smaller are counted as zero. Default `1e-9`. Must be a
    /// positive, normal `f64`.
    pub min_value: f64,
}

impl Default for QuantileSketchConfig {
    fn default() -> Self {
        QuantileSketchConfig {
            relative_accuracy: 0.01,
            max_buckets: 2048,
            min_value: 1e-9,
        }
    }
}

impl QuantileSketchConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::OutOfRange`] for an accuracy outside `[0.000001, 0.5]` or a `min_value` that is not
    /// a positive normal number, [`Error::NotFinite`] for NaN or infinite values, [`Error::Zero`] or
    /// [`Error::TooLarge`] for the bucket limit.
    pub fn validate(&self) -> Result<()> {
        let accuracy = finite("relative accuracy", self.relative_accuracy)?;
        if !(MIN_RELATIVE_ACCURACY..=0.5).contains(&accuracy) {
            return Err(Error::OutOfRange {
                name: "relative accuracy",
                value: accuracy,
                range: "[0.000001, 0.5]",
            });
        }
        if self.max_buckets == 0 {
            return Err(Error::Zero {
                name: "max buckets",
            });
        }
        if self.max_buckets > MAX_BUCKETS {
            return Err(Error::TooLarge {
                name: "max buckets",
                value: self.max_buckets.into(),
                max: MAX_BUCKETS.into(),
            });
        }
        let min_value = finite("min value", self.min_value)?;
        if !min_value.is_normal() || min_value < 0.0 {
            return Err(Error::OutOfRange {
                name: "min value",
                value: min_value,
                range: "positive normal numbers",
            });
        }
        Ok(())
    }
}

/// The usual summary of a distribution, as estimated by a [`QuantileSketch`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Quantiles {
    /// How many values were recorded.
    pub count: u64,
    /// The smallest value, exact.
    pub min: f64,
    /// The mean, exact up to floating-point rounding (infinite if the sum of the values
    /// overflows an `f64`).
    pub mean: f64,
    /// The median, within the sketch's relative accuracy.
    pub p50: f64,
    /// The 95th percentile, within the sketch's relative accuracy.
    pub p95: f64,
    /// The 99th percentile, within the sketch's relative accuracy.
    pub p99: f64,
    /// The largest value, exact.
    pub max: f64,
}

/// A mergeable sketch of a distribution that answers any quantile within a relative error.
///
/// This is DDSketch (Masson, Rim and Lee, VLDB 2019), through the `sketches-ddsketch` crate, a port
/// of DataDog's reference implementation; this type adds validation, typed errors and the summary
/// ha reports.
///
/// **Guarantee.** Let `x` be the exact value of rank `⌊q·(n−1)⌋` (counting from 0) among the `n`
/// values recorded. `quantile(q)` returns `x̃` with `|x̃ − x| ≤ α·|x|`, where `α` is the configured
/// relative accuracy, for `|x| > min_value`; values of smaller magnitude are counted as zero.
/// Negative values are sketched too, in a store of their own, so the sketch serves signed
/// quantities (clock offsets, deltas) as well as latencies and sizes; NaN and infinities are
/// refused. `min` and `max`
/// (quantiles 0 and 1) are exact. The guarantee holds for every quantile as long as the recorded
/// positive (or negative) values span less than a factor of `γ^max_buckets`, where
/// `γ = (1+α)/(1−α)`; past that the lowest buckets are merged and only the lowest quantiles lose
/// accuracy.
///
/// **Memory.** 8 bytes a bucket, growing in steps of 128 buckets to at most `max_buckets` per sign:
/// with the defaults, latencies from 100 µs to 10 s fill about 580 buckets (4.6 KiB), and the
/// sketch never exceeds 2 × 16 KiB.
///
/// **Merging.** Two sketches with equal settings merge into the sketch of the union of their
/// values, so per-node or per-interval sketches can be combined.
///
/// **Counts.** The total count is a `u64`; a recording or merge that would overflow it is refused
/// with [`Error::TooLarge`] and changes nothing.
///
/// ```
/// use ha_core::{QuantileSketch, QuantileSketchConfig};
///
/// let mut latency_ms = QuantileSketch::new(QuantileSketchConfig::default())?;
/// for v in 1..=1000 {
///     latency_ms.record(f64::from(v))?;
/// }
/// let p99 = latency_ms.quantile(0.99)?.unwrap_or_default();
/// assert!((p99 - 990.0).abs() <= 0.01 * 990.0);
/// let summary = latency_ms.quantiles().unwrap();
/// assert_eq!((summary.count, summary.min, summary.max), (1000, 1.0, 1000.0));
/// # Ok::<(), ha_core::Error>(())
/// ```
#[derive(Clone)]
pub struct QuantileSketch {
    config: QuantileSketchConfig,
    sketch: DDSketch,
}

impl QuantileSketch {
    /// An empty sketch.
    ///
    /// # Errors
    /// As [`QuantileSketchConfig::validate`].
    pub fn new(config: QuantileSketchConfig) -> Result<QuantileSketch> {
        config.validate()?;
        Ok(QuantileSketch {
            config,
            sketch: empty_sketch(&config),
        })
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &QuantileSketchConfig {
        &self.config
    }

    /// Records one value.
    ///
    /// # Errors
    /// [`Error::NotFinite`] for NaN or an infinity; nothing is recorded.
    pub fn record(&mut self, value: f64) -> Result<()> {
        self.record_n(value, 1)
    }

    /// Records `value` `count` times, in constant time.
    ///
    /// # Errors
    /// [`Error::NotFinite`] for NaN or an infinity, [`Error::TooLarge`] if the total count would
    /// overflow a `u64`; nothing is recorded.
    pub fn record_n(&mut self, value: f64, count: u64) -> Result<()> {
        let value = finite("sample", value)?;
        self.room_for(count)?;
        self.sketch.add_with_count(value, count);
        Ok(())
    }

    /// Records a duration, in seconds.
    ///
    /// # Errors
    /// [`Error::TooLarge`] if the total count would overflow a `u64`; nothing is recorded.
    pub fn record_duration(&mut self, duration: Duration) -> Result<()> {
        self.record_n(duration.as_secs_f64(), 1)
    }

    /// The estimated `q`-quantile (`0.5` for the median), or `None` if nothing was recorded.
    ///
    /// # Errors
    /// [`Error::OutOfRange`] if `q` is NaN or outside `[0, 1]`.
    pub fn quantile(&self, q: f64) -> Result<Option<f64>> {
        if !(0.0..=1.0).contains(&q) {
            return Err(Error::OutOfRange {
                name: "quantile",
                value: q,
                range: "[0, 1]",
            });
        }
        // The range was checked above, the only error the sketch reports.
        Ok(self.sketch.quantile(q).ok().flatten())
    }

    /// Count, min, mean, p50, p95, p99 and max, or `None` if nothing was recorded.
    #[must_use]
    pub fn quantiles(&self) -> Option<Quantiles> {
        let count = self.count();
        let at = |q: f64| self.sketch.quantile(q).ok().flatten();
        Some(Quantiles {
            count,
            min: self.sketch.min()?,
            mean: self.sketch.sum()? / count as f64,
            p50: at(0.5)?,
            p95: at(0.95)?,
            p99: at(0.99)?,
            max: self.sketch.max()?,
        })
    }

    /// How many values were recorded.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.sketch.count() as u64
    }

    /// How many buckets are in use, positive and negative; each takes 8 bytes.
    #[must_use]
    pub fn buckets(&self) -> usize {
        self.sketch.length()
    }

    /// Whether nothing was recorded.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.count() == 0
    }

    /// The smallest value recorded.
    #[must_use]
    pub fn min(&self) -> Option<f64> {
        self.sketch.min()
    }

    /// The largest value recorded.
    #[must_use]
    pub fn max(&self) -> Option<f64> {
        self.sketch.max()
    }

    /// The sum of the values recorded.
    #[must_use]
    pub fn sum(&self) -> Option<f64> {
        self.sketch.sum()
    }

    /// Adds every value of `other` to this sketch.
    ///
    /// # Errors
    /// [`Error::IncompatibleSketches`] if the two were built with different settings,
    /// [`Error::TooLarge`] if the total count would overflow a `u64`; this sketch is unchanged.
    pub fn merge(&mut self, other: &QuantileSketch) -> Result<()> {
        let incompatible = || Error::IncompatibleSketches {
            left: self.config,
            right: other.config,
        };
        if self.config != other.config {
            return Err(incompatible());
        }
        self.room_for(other.count())?;
        self.sketch.merge(&other.sketch).map_err(|_| incompatible())
    }

    /// Forgets every value, keeping the settings.
    pub fn clear(&mut self) {
        self.sketch = empty_sketch(&self.config);
    }

    /// Refuses `more` values when the total count (and so any bucket's) would overflow.
    fn room_for(&self, more: u64) -> Result<()> {
        match self.count().checked_add(more) {
            Some(_) => Ok(()),
            None => Err(Error::TooLarge {
                name: "quantile sketch count",
                value: more,
                max: u64::MAX - self.count(),
            }),
        }
    }
}

fn empty_sketch(config: &QuantileSketchConfig) -> DDSketch {
    DDSketch::new(Config::new(
        config.relative_accuracy,
        config.max_buckets,
        config.min_value,
    ))
}

impl fmt::Debug for QuantileSketch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QuantileSketch")
            .field("config", &self.config)
            .field("count", &self.count())
            .field("min", &self.min())
            .field("max", &self.max())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sketch() -> QuantileSketch {
        QuantileSketch::new(QuantileSketchConfig::default()).unwrap()
    }

    #[test]
    fn bad_settings_are_rejected() {
        let with = |f: fn(&mut QuantileSketchConfig)| {
            let mut c = QuantileSketchConfig::default();
            f(&mut c);
            QuantileSketch::new(c).map(|_| ())
        };
        assert!(matches!(
            with(|c| c.relative_accuracy = 0.0),
            Err(Error::OutOfRange { .. })
        ));
        assert!(matches!(
            with(|c| c.relative_accuracy = 0.6),
            Err(Error::OutOfRange { .. })
        ));
        assert!(matches!(
            with(|c| c.relative_accuracy = f64::NAN),
            Err(Error::NotFinite { .. })
        ));
        assert!(matches!(
            with(|c| c.max_buckets = 0),
            Err(Error::Zero { .. })
        ));
        assert!(matches!(
            with(|c| c.max_buckets = MAX_BUCKETS + 1),
            Err(Error::TooLarge { .. })
        ));
        assert!(matches!(
            with(|c| c.min_value = 0.0),
            Err(Error::OutOfRange { .. })
        ));
        assert!(matches!(
            with(|c| c.min_value = -1.0),
            Err(Error::OutOfRange { .. })
        ));
        assert!(with(|c| c.relative_accuracy = MIN_RELATIVE_ACCURACY).is_ok());
    }

    #[test]
    fn bad_samples_and_quantiles_are_rejected() {
        let mut s = sketch();
        assert!(matches!(
            s.record(f64::INFINITY),
            Err(Error::NotFinite { .. })
        ));
        assert!(s.is_empty());
        for q in [-0.1, 1.1, f64::NAN] {
            assert!(matches!(s.quantile(q), Err(Error::OutOfRange { .. })));
        }
        assert_eq!(s.quantile(0.5), Ok(None));
        assert_eq!(s.quantiles(), None);
    }

    #[test]
    fn extremes_are_exact() {
        let mut s = sketch();
        for v in [3.0, 1e-3, 7e6, 42.0] {
            s.record(v).unwrap();
        }
        assert_eq!(s.quantile(0.0).unwrap(), Some(1e-3));
        assert_eq!(s.quantile(1.0).unwrap(), Some(7e6));
        assert_eq!(s.quantiles().unwrap().max, 7e6);
    }

    #[test]
    fn negative_and_zero_values_are_sketched() {
        let mut s = sketch();
        for v in [-100.0, -10.0, 0.0, 0.0, 10.0] {
            s.record(v).unwrap();
        }
        let median = s.quantile(0.5).unwrap().unwrap();
        assert_eq!(median, 0.0);
        let low = s.quantile(0.25).unwrap().unwrap();
        assert!((low + 10.0).abs() <= 0.1, "{low}");
        assert_eq!(s.quantiles().unwrap().mean, -20.0);
    }

    #[test]
    fn durations_are_recorded_in_seconds() {
        let mut s = sketch();
        s.record_duration(Duration::from_millis(250)).unwrap();
        s.record_n(0.25, 3).unwrap();
        assert_eq!(s.count(), 4);
        let p50 = s.quantile(0.5).unwrap().unwrap();
        assert!((p50 - 0.25).abs() <= 0.0025);
    }

    #[test]
    fn sketches_with_different_settings_do_not_merge() {
        let mut a = sketch();
        a.record(1.0).unwrap();
        let b = QuantileSketch::new(QuantileSketchConfig {
            relative_accuracy: 0.02,
            ..QuantileSketchConfig::default()
        })
        .unwrap();
        assert_eq!(
            a.merge(&b),
            Err(Error::IncompatibleSketches {
                left: *a.config(),
                right: *b.config(),
            })
        );
        assert_eq!(a.count(), 1);
        a.clear();
        assert!(a.is_empty());
    }

    #[test]
    fn memory_stays_within_the_bucket_limit_and_high_quantiles_stay_accurate() {
        let mut s = QuantileSketch::new(QuantileSketchConfig {
            max_buckets: 128,
            ..QuantileSketchConfig::default()
        })
        .unwrap();
        for e in -300..300 {
            s.record(10f64.powi(e)).unwrap();
            s.record(-(10f64.powi(e))).unwrap();
        }
        s.record_n(2e299, 100_000).unwrap();
        assert!(s.buckets() <= 2 * 128, "{} buckets", s.buckets());
        // 128 buckets span a factor of about 13 at 1%: the high quantiles lie inside it.
        let p99 = s.quantile(0.99).unwrap().unwrap();
        assert!((p99 / 2e299 - 1.0).abs() <= 0.01, "{p99}");
        assert_eq!(s.quantile(1.0).unwrap(), Some(2e299));
        assert_eq!(s.quantile(0.0).unwrap(), Some(-(10f64.powi(299))));
    }

    #[test]
    fn counts_that_would_overflow_are_refused_and_change_nothing() {
        let mut s = sketch();
        s.record_n(1.0, u64::MAX).unwrap();
        assert!(matches!(s.record(2.0), Err(Error::TooLarge { .. })));
        assert!(matches!(
            s.record_duration(Duration::from_secs(1)),
            Err(Error::TooLarge { .. })
        ));
        let mut one = sketch();
        one.record(3.0).unwrap();
        assert!(matches!(s.merge(&one), Err(Error::TooLarge { .. })));
        assert_eq!((s.count(), s.max()), (u64::MAX, Some(1.0)));
    }

    #[test]
    fn values_at_min_value_count_as_zero() {
        let mut s = sketch();
        s.record(1e-9).unwrap();
        s.record(-1e-9).unwrap();
        assert_eq!(s.quantile(0.5).unwrap(), Some(0.0));
        s.record_n(2e-9, 3).unwrap();
        // Ranks 2 to 4 of 5 are the values just above `min_value`.
        let top = s.quantile(0.99).unwrap().unwrap();
        assert!((top - 2e-9).abs() <= 0.01 * 2e-9);
    }
}
