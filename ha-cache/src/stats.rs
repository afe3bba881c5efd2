//! Hit, miss, insert, eviction and expiry counts.

use std::ops::AddAssign;

/// Counts kept per shard under its lock (so counting costs no shared cache line), summed on
/// demand into [`CacheStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CacheStats {
    /// Lookups that found a live entry.
    pub hits: u64,
    /// Lookups that found none (or only an expired one).
    pub misses: u64,
    /// Inserts of a key not present.
    pub inserts: u64,
    /// Inserts that overwrote a present key.
    pub updates: u64,
    /// Entries evicted to stay within the capacity (cause [`Size`](crate::RemovalCause::Size)),
    /// including entries too heavy to be stored.
    pub evictions_size: u64,
    /// Entries whose time to live or time to idle ran out (cause
    /// [`Expired`](crate::RemovalCause::Expired)).
    pub expirations: u64,
    /// Entries removed by the user (cause [`Explicit`](crate::RemovalCause::Explicit)).
    pub removals_explicit: u64,
    /// Values overwritten by an insert (cause [`Replaced`](crate::RemovalCause::Replaced)).
    pub replacements: u64,
    /// Loader runs of `get_or_load` that produced a value.
    pub load_successes: u64,
    /// Loader runs of `get_or_load` that failed or panicked.
    pub load_failures: u64,
}

impl CacheStats {
    /// Lookups in all: hits and misses.
    #[must_use]
    pub fn requests(&self) -> u64 {
        self.hits + self.misses
    }

    /// Hits over lookups, in `[0, 1]`; 0 before any lookup.
    #[must_use]
    pub fn hit_ratio(&self) -> f64 {
        ratio(self.hits, self.requests())
    }

    /// Misses over lookups, in `[0, 1]`; 0 before any lookup.
    #[must_use]
    pub fn miss_ratio(&self) -> f64 {
        ratio(self.misses, self.requests())
    }

    /// Entries the cache itself removed: size evictions and expirations.
    #[must_use]
    pub fn evictions(&self) -> u64 {
        self.evictions_size + self.expirations
    }

    /// Evictions (size and expiry) per insert of a new key, in `[0, 1]` for a cache that never
    /// shrinks; 0 before any insert.
    #[must_use]
    pub fn eviction_ratio(&self) -> f64 {
        ratio(self.evictions(), self.inserts)
    }
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

impl AddAssign for CacheStats {
    fn add_assign(&mut self, other: CacheStats) {
        self.hits += other.hits;
        self.misses += other.misses;
        self.inserts += other.inserts;
        self.updates += other.updates;
        self.evictions_size += other.evictions_size;
        self.expirations += other.expirations;
        self.removals_explicit += other.removals_explicit;
        self.replacements += other.replacements;
        self.load_successes += other.load_successes;
        self.load_failures += other.load_failures;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_are_zero_before_traffic_and_fractions_after() {
        let mut stats = CacheStats::default();
        assert_eq!(stats.hit_ratio(), 0.0);
        assert_eq!(stats.eviction_ratio(), 0.0);
        stats += CacheStats {
            hits: 3,
            misses: 1,
            inserts: 4,
            evictions_size: 1,
            expirations: 1,
            ..CacheStats::default()
        };
        assert_eq!(stats.hit_ratio(), 0.75);
        assert_eq!(stats.miss_ratio(), 0.25);
        assert_eq!(stats.eviction_ratio(), 0.5);
    }
}
