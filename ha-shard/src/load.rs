//! Per-shard load, and the shards that run hot or cold.
//!
//! Each shard's operations and bytes are counted in two [`SlidingWindow`]s from ha-core, so a
//! rate is the amount seen in the last `window` divided by its length (exact to one bucket). A
//! shard is **hot** when its load exceeds `hot_factor × mean` and **cold** when it is below
//! `mean / hot_factor`, the mean taken over every tracked shard, the shard itself included. We
//! only report; splitting, merging or moving is the caller's decision (see
//! [`Rebalancer`](crate::Rebalancer)).
//!
//! **The factor must be below the shard count to ever flag a shard.** A shard's load is at most
//! `n × mean` over `n` shards (all the load on one shard), so with `hot_factor ≥ n` nothing is
//! ever hot — with the default 2.0, two shards never are, whatever their loads. Track more shards
//! than the factor, or compare two shards directly.

use std::collections::BTreeMap;
use std::time::Instant;

use ha_core::{SlidingWindow, SlidingWindowConfig};

use crate::error::factor;
use crate::{Result, ShardId};

/// Which rate hot-shard detection compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum LoadMetric {
    /// Operations per second (the default).
    #[default]
    Ops,
    /// Bytes per second.
    Bytes,
}

/// Settings of a [`LoadTracker`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct LoadConfig {
    /// The window rates are measured over. Default 60 s in 60 buckets.
    pub window: SlidingWindowConfig,
    /// How many times the mean a shard's load must exceed to be hot; a shard below
    /// `mean / hot_factor` is cold. Finite and greater than 1. Default 2.0.
    pub hot_factor: f64,
    /// The rate compared. Default [`LoadMetric::Ops`].
    pub metric: LoadMetric,
}

impl Default for LoadConfig {
    fn default() -> Self {
        LoadConfig {
            window: SlidingWindowConfig::default(),
            hot_factor: 2.0,
            metric: LoadMetric::Ops,
        }
    }
}

impl LoadConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// As [`SlidingWindowConfig::validate`] for the window; [`ha_core::Error::NotFinite`] or
    /// [`ha_core::Error::OutOfRange`] (inside [`Error::Core`](crate::Error::Core)) for a
    /// `hot_factor` that is not a finite number above 1.
    pub fn validate(&self) -> Result<()> {
        self.window.validate()?;
        validate_hot_factor(self.hot_factor)
    }
}

fn validate_hot_factor(hot_factor: f64) -> Result<()> {
    factor("hot_factor", hot_factor, true)?;
    Ok(())
}

/// A shard's rates over the window.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ShardLoad {
    /// Operations per second.
    pub ops_per_second: f64,
    /// Bytes per second.
    pub bytes_per_second: f64,
}

impl ShardLoad {
    /// The rate `metric` names.
    #[must_use]
    pub fn get(&self, metric: LoadMetric) -> f64 {
        match metric {
            LoadMetric::Ops => self.ops_per_second,
            LoadMetric::Bytes => self.bytes_per_second,
        }
    }
}

/// One shard singled out as hot or cold.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ShardHeat {
    /// The shard.
    pub shard: ShardId,
    /// Its load in the configured metric.
    pub load: f64,
    /// `load / mean`.
    pub ratio_to_mean: f64,
}

/// The hot and cold shards at one moment.
#[derive(Debug, Clone, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct HotSpots {
    /// The mean load over every tracked shard; 0 when none is tracked.
    pub mean: f64,
    /// Shards above `hot_factor × mean`, hottest first, ties by shard id.
    pub hot: Vec<ShardHeat>,
    /// Shards below `mean / hot_factor`, coldest first, ties by shard id. Empty while the mean is
    /// zero.
    pub cold: Vec<ShardHeat>,
}

impl HotSpots {
    /// Classifies `loads` with `hot_factor`; the rule of [`LoadTracker::hot_spots`], for loads
    /// measured elsewhere.
    ///
    /// # Errors
    /// As [`LoadConfig::validate`] for `hot_factor`; [`ha_core::Error::NotFinite`] or
    /// [`ha_core::Error::OutOfRange`] (inside [`Error::Core`](crate::Error::Core)) for a load
    /// that is not a finite number of at least 0 — a NaN would otherwise make the mean NaN and
    /// hide every hot shard.
    pub fn classify(loads: &BTreeMap<ShardId, f64>, hot_factor: f64) -> Result<HotSpots> {
        validate_hot_factor(hot_factor)?;
        for &load in loads.values() {
            if !load.is_finite() {
                return Err(ha_core::Error::NotFinite {
                    name: "shard load",
                    value: load,
                }
                .into());
            }
            if load < 0.0 {
                return Err(ha_core::Error::OutOfRange {
                    name: "shard load",
                    value: load,
                    range: "[0, ∞)",
                }
                .into());
            }
        }
        Ok(classify(loads, hot_factor))
    }
}

fn classify(loads: &BTreeMap<ShardId, f64>, hot_factor: f64) -> HotSpots {
    if loads.is_empty() {
        return HotSpots::default();
    }
    let mean = loads.values().sum::<f64>() / loads.len() as f64;
    if mean <= 0.0 || !mean.is_finite() {
        return HotSpots {
            mean,
            ..HotSpots::default()
        };
    }
    let heat = |(&shard, &load): (&ShardId, &f64)| ShardHeat {
        shard,
        load,
        ratio_to_mean: load / mean,
    };
    let mut hot: Vec<ShardHeat> = loads
        .iter()
        .filter(|&(_, &load)| load > hot_factor * mean)
        .map(heat)
        .collect();
    let mut cold: Vec<ShardHeat> = loads
        .iter()
        .filter(|&(_, &load)| load < mean / hot_factor)
        .map(heat)
        .collect();
    hot.sort_by(|a, b| b.load.total_cmp(&a.load).then(a.shard.cmp(&b.shard)));
    cold.sort_by(|a, b| a.load.total_cmp(&b.load).then(a.shard.cmp(&b.shard)));
    HotSpots { mean, hot, cold }
}

/// Per-shard ops and bytes over a sliding window, and the hot and cold shards among them.
///
/// A shard is tracked from its first [`record`](Self::record) or [`track`](Self::track) until
/// [`forget`](Self::forget); every tracked shard counts toward the mean, idle or not, so track
/// the shards a node holds to let idle ones show as cold.
///
/// ```
/// use std::time::{Duration, Instant};
/// use ha_shard::{LoadConfig, LoadTracker, ShardId};
///
/// let now = Instant::now();
/// let mut load = LoadTracker::new(LoadConfig::default())?;
/// for shard in 0..4 {
///     load.record(ShardId(shard), 60, 6_000, now);
/// }
/// load.record(ShardId(2), 600, 60_000, now + Duration::from_secs(1));
/// let spots = load.hot_spots(now + Duration::from_secs(2));
/// assert_eq!(spots.hot.len(), 1);
/// assert_eq!(spots.hot[0].shard, ShardId(2));
/// assert!(spots.hot[0].ratio_to_mean > 2.0);
/// # Ok::<(), ha_shard::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct LoadTracker {
    config: LoadConfig,
    /// An empty window of the validated shape, cloned for each new shard.
    empty: SlidingWindow,
    shards: BTreeMap<ShardId, Windows>,
}

#[derive(Debug, Clone)]
struct Windows {
    ops: SlidingWindow,
    bytes: SlidingWindow,
}

impl LoadTracker {
    /// A tracker with no shards.
    ///
    /// # Errors
    /// As [`LoadConfig::validate`].
    pub fn new(config: LoadConfig) -> Result<LoadTracker> {
        config.validate()?;
        Ok(LoadTracker {
            config,
            empty: SlidingWindow::new(config.window)?,
            shards: BTreeMap::new(),
        })
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &LoadConfig {
        &self.config
    }

    /// Starts tracking `shard` with no load, if it is not tracked yet.
    pub fn track(&mut self, shard: ShardId) {
        self.windows(shard);
    }

    /// Stops tracking `shard` (it moved away, or was merged).
    pub fn forget(&mut self, shard: ShardId) {
        self.shards.remove(&shard);
    }

    /// Counts `ops` operations and `bytes` bytes on `shard` at `now`. Returns `false`, counting
    /// nothing, when `now` is so far before the newest record that it has left the window.
    pub fn record(&mut self, shard: ShardId, ops: u64, bytes: u64, now: Instant) -> bool {
        let windows = self.windows(shard);
        let counted = windows.ops.add(now, ops);
        // Both windows share a shape and see the same times, so they accept or drop together.
        let counted_bytes = windows.bytes.add(now, bytes);
        debug_assert_eq!(counted, counted_bytes);
        counted && counted_bytes
    }

    /// Every tracked shard's rates at `now`, by shard id.
    #[must_use]
    pub fn snapshot(&self, now: Instant) -> BTreeMap<ShardId, ShardLoad> {
        self.shards
            .iter()
            .map(|(&shard, w)| {
                let load = ShardLoad {
                    ops_per_second: w.ops.rate_per_second(now),
                    bytes_per_second: w.bytes.rate_per_second(now),
                };
                (shard, load)
            })
            .collect()
    }

    /// The hot and cold shards at `now`, in the configured metric.
    #[must_use]
    pub fn hot_spots(&self, now: Instant) -> HotSpots {
        let loads = self
            .snapshot(now)
            .into_iter()
            .map(|(shard, load)| (shard, load.get(self.config.metric)))
            .collect();
        classify(&loads, self.config.hot_factor)
    }

    /// Recounts every window, for tests and fuzzing.
    ///
    /// # Panics
    /// If a window's bookkeeping is inconsistent, which is a bug.
    pub fn check_invariants(&self) {
        for w in self.shards.values() {
            w.ops.check_invariants();
            w.bytes.check_invariants();
        }
    }

    fn windows(&mut self, shard: ShardId) -> &mut Windows {
        let empty = &self.empty;
        self.shards.entry(shard).or_insert_with(|| Windows {
            ops: empty.clone(),
            bytes: empty.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::Error;

    #[test]
    fn bad_hot_factors_are_rejected() {
        for bad in [f64::NAN, f64::INFINITY, 1.0, 0.5, -2.0] {
            let config = LoadConfig {
                hot_factor: bad,
                ..LoadConfig::default()
            };
            assert!(
                matches!(
                    LoadTracker::new(config),
                    Err(Error::Core(
                        ha_core::Error::NotFinite { .. } | ha_core::Error::OutOfRange { .. }
                    ))
                ),
                "{bad}"
            );
            assert!(HotSpots::classify(&BTreeMap::new(), bad).is_err());
        }
    }

    /// Regression: one NaN load made the mean NaN, and `classify` answered "nothing hot" for
    /// a set with a shard 100× the others; a negative load skewed the mean the same way.
    #[test]
    fn loads_that_are_not_finite_and_non_negative_are_refused() {
        let mut loads: BTreeMap<ShardId, f64> = (0..9).map(|s| (ShardId(s), 1.0)).collect();
        loads.insert(ShardId(9), 100.0);
        assert_eq!(
            HotSpots::classify(&loads, 2.0).unwrap().hot[0].shard,
            ShardId(9)
        );
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -1.0] {
            let mut with_bad = loads.clone();
            with_bad.insert(ShardId(10), bad);
            assert!(
                matches!(
                    HotSpots::classify(&with_bad, 2.0),
                    Err(Error::Core(
                        ha_core::Error::NotFinite { .. } | ha_core::Error::OutOfRange { .. }
                    ))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn zero_windows_and_buckets_are_rejected() {
        let zero_window = LoadConfig {
            window: SlidingWindowConfig {
                window: Duration::ZERO,
                buckets: 10,
            },
            ..LoadConfig::default()
        };
        assert_eq!(
            LoadTracker::new(zero_window).unwrap_err(),
            Error::Core(ha_core::Error::Zero { name: "window" })
        );
        let zero_buckets = LoadConfig {
            window: SlidingWindowConfig {
                window: Duration::from_secs(1),
                buckets: 0,
            },
            ..LoadConfig::default()
        };
        assert_eq!(
            LoadTracker::new(zero_buckets).unwrap_err(),
            Error::Core(ha_core::Error::Zero { name: "buckets" })
        );
    }

    #[test]
    fn idle_tracked_shards_are_cold_and_lower_the_mean() {
        let now = Instant::now();
        let mut load = LoadTracker::new(LoadConfig::default()).unwrap();
        load.track(ShardId(9));
        load.record(ShardId(1), 600, 0, now);
        load.record(ShardId(2), 600, 0, now);
        let spots = load.hot_spots(now);
        assert_eq!(spots.mean, 400.0 / 60.0);
        assert!(spots.hot.is_empty());
        assert_eq!(spots.cold.len(), 1);
        assert_eq!(spots.cold[0].shard, ShardId(9));
        assert_eq!(spots.cold[0].ratio_to_mean, 0.0);
        load.forget(ShardId(9));
        assert!(load.hot_spots(now).cold.is_empty());
        load.check_invariants();
    }

    #[test]
    fn the_bytes_metric_ranks_by_bytes() {
        let now = Instant::now();
        let config = LoadConfig {
            metric: LoadMetric::Bytes,
            ..LoadConfig::default()
        };
        let mut load = LoadTracker::new(config).unwrap();
        load.record(ShardId(1), 1_000, 10, now);
        for s in 2..6 {
            load.record(ShardId(s), 1, 10, now);
        }
        load.record(ShardId(6), 1, 1_000, now);
        let spots = load.hot_spots(now);
        assert_eq!(
            spots.hot.iter().map(|h| h.shard).collect::<Vec<_>>(),
            [ShardId(6)]
        );
    }

    #[test]
    fn no_load_means_nothing_hot_or_cold() {
        let mut load = LoadTracker::new(LoadConfig::default()).unwrap();
        load.track(ShardId(1));
        load.track(ShardId(2));
        assert_eq!(
            load.hot_spots(Instant::now()),
            HotSpots {
                mean: 0.0,
                hot: vec![],
                cold: vec![]
            }
        );
    }
}
