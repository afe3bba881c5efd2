//! Per-level statistics of a [`TieredCache`](crate::TieredCache).

use std::sync::atomic::{AtomicU64, Ordering};

use crate::CacheStats;

/// What each level of a [`TieredCache`](crate::TieredCache) answered, counted once per
/// lookup (a lookup that waited on another caller's load counts one L1 miss and nothing below
/// it: the load it shared is counted once).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TierStats {
    /// The L1 cache's own counts (its hits include negative hits; its inserts include absent
    /// markers; its `load_failures` include loads that found the key absent with negative
    /// caching off, which are not errors).
    pub l1: CacheStats,
    /// Lookups answered by a value held in L1.
    pub l1_hits: u64,
    /// Lookups that L1 could not answer (no entry, or an expired absent marker).
    pub l1_misses: u64,
    /// Lookups answered "absent" by a negative entry in L1, without asking L2 or the origin.
    pub negative_hits: u64,
    /// L2 reads that found a value.
    pub l2_hits: u64,
    /// L2 reads that found none.
    pub l2_misses: u64,
    /// L2 calls (reads, writes, deletes, invalidations) that failed.
    pub l2_errors: u64,
    /// Calls of the origin loader.
    pub origin_loads: u64,
    /// Origin calls that answered "absent".
    pub origin_misses: u64,
    /// Origin calls that failed.
    pub origin_errors: u64,
    /// Origin calls made because L2 failed (counted in `origin_loads` too).
    pub fallbacks: u64,
    /// Absent markers stored in L1 (negative caching).
    pub negative_inserts: u64,
}

impl TierStats {
    /// The share of lookups answered by L1, values and negative entries alike, in [0, 1]
    /// (0 before any lookup).
    #[must_use]
    pub fn l1_hit_ratio(&self) -> f64 {
        ratio(
            self.l1_hits + self.negative_hits,
            self.l1_hits + self.negative_hits + self.l1_misses,
        )
    }

    /// The share of L2 reads that found a value, in [0, 1] (0 before any read).
    #[must_use]
    pub fn l2_hit_ratio(&self) -> f64 {
        ratio(self.l2_hits, self.l2_hits + self.l2_misses + self.l2_errors)
    }
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// The live counters behind [`TierStats`].
#[derive(Debug, Default)]
pub(crate) struct TierCounters {
    pub(crate) l1_hits: AtomicU64,
    pub(crate) l1_misses: AtomicU64,
    pub(crate) negative_hits: AtomicU64,
    pub(crate) l2_hits: AtomicU64,
    pub(crate) l2_misses: AtomicU64,
    pub(crate) l2_errors: AtomicU64,
    pub(crate) origin_loads: AtomicU64,
    pub(crate) origin_misses: AtomicU64,
    pub(crate) origin_errors: AtomicU64,
    pub(crate) fallbacks: AtomicU64,
    pub(crate) negative_inserts: AtomicU64,
}

impl TierCounters {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self, l1: CacheStats) -> TierStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        TierStats {
            l1,
            l1_hits: get(&self.l1_hits),
            l1_misses: get(&self.l1_misses),
            negative_hits: get(&self.negative_hits),
            l2_hits: get(&self.l2_hits),
            l2_misses: get(&self.l2_misses),
            l2_errors: get(&self.l2_errors),
            origin_loads: get(&self.origin_loads),
            origin_misses: get(&self.origin_misses),
            origin_errors: get(&self.origin_errors),
            fallbacks: get(&self.fallbacks),
            negative_inserts: get(&self.negative_inserts),
        }
    }
}
