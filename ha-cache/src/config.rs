//! The settings of a [`Cache`](crate::Cache), validated once when it is built.

use std::time::Duration;

use crate::{Error, Result};

/// Most shards a cache may have.
pub const MAX_SHARDS: usize = 1 << 12;
/// Capacity a shard should have at least before the automatic shard count adds another.
const MIN_SHARD_CAPACITY: u64 = 256;
/// Shards chosen automatically at most.
const AUTO_SHARDS: usize = 16;

/// The plain-data settings of a cache. Behaviour that is code (a weigher, an eviction listener, a
/// clock) is set on the [`CacheBuilder`](crate::CacheBuilder).
///
/// ```
/// use std::time::Duration;
/// use ha_cache::{Cache, CacheConfig};
///
/// let config = CacheConfig {
///     max_capacity: 10_000,
///     time_to_live: Some(Duration::from_secs(300)),
///     ..CacheConfig::default()
/// };
/// let cache: Cache<String, u64> = Cache::new(config)?;
/// assert_eq!(cache.max_capacity(), 10_000);
/// # Ok::<(), ha_cache::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default))]
pub struct CacheConfig {
    /// The most entries the cache holds, or with a weigher the most total weight. Must be above
    /// zero. Default 10,000.
    pub max_capacity: u64,
    /// How long an entry lives after it was written, unless its insert says otherwise. `None`
    /// (the default) keeps entries until evicted; a zero duration is refused.
    pub time_to_live: Option<Duration>,
    /// How long an entry lives after it was last read or written. `None` (the default) keeps
    /// idle entries; a zero duration is refused.
    pub time_to_idle: Option<Duration>,
    /// Independently locked segments, a power of two up to [`MAX_SHARDS`], or 0 (the default)
    /// to choose: 16, fewer for small capacities so each shard holds at least 256. The
    /// capacity is split evenly between the shards, so one entry may weigh at most
    /// `max_capacity / shards`.
    pub shards: usize,
    /// Seeds the key hash and the policy's tie-breaking, so runs replay exactly. Set a secret
    /// random value for caches keyed by untrusted input. Default 0.
    pub hash_seed: u64,
}

impl Default for CacheConfig {
    fn default() -> CacheConfig {
        CacheConfig {
            max_capacity: 10_000,
            time_to_live: None,
            time_to_idle: None,
            shards: 0,
            hash_seed: 0,
        }
    }
}

impl CacheConfig {
    /// Checks every setting.
    pub fn validate(&self) -> Result<()> {
        if self.max_capacity == 0 {
            return Err(ha_core::Error::Zero {
                name: "max_capacity",
            }
            .into());
        }
        for (name, value) in [
            ("time_to_live", self.time_to_live),
            ("time_to_idle", self.time_to_idle),
        ] {
            if value.is_some_and(|d| d.is_zero()) {
                return Err(ha_core::Error::Zero { name }.into());
            }
        }
        if self.shards != 0 {
            if !self.shards.is_power_of_two() {
                return Err(Error::ShardsNotPowerOfTwo(self.shards));
            }
            if self.shards > MAX_SHARDS {
                return Err(ha_core::Error::TooLarge {
                    name: "shards",
                    value: self.shards as u64,
                    max: MAX_SHARDS as u64,
                }
                .into());
            }
            if self.shards as u64 > self.max_capacity {
                return Err(ha_core::Error::TooLarge {
                    name: "shards",
                    value: self.shards as u64,
                    max: self.max_capacity,
                }
                .into());
            }
        }
        Ok(())
    }

    /// The shard count used: the configured one, or the automatic choice.
    #[must_use]
    pub fn shard_count(&self) -> usize {
        if self.shards != 0 {
            return self.shards;
        }
        let mut shards = AUTO_SHARDS;
        while shards > 1 && self.max_capacity / (shards as u64) < MIN_SHARD_CAPACITY {
            shards /= 2;
        }
        shards
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_settings_are_refused() {
        let zero = CacheConfig {
            max_capacity: 0,
            ..CacheConfig::default()
        };
        assert!(zero.validate().is_err());
        let ttl = CacheConfig {
            time_to_live: Some(Duration::ZERO),
            ..CacheConfig::default()
        };
        assert_eq!(
            ttl.validate(),
            Err(Error::Core(ha_core::Error::Zero {
                name: "time_to_live"
            }))
        );
        let shards = CacheConfig {
            shards: 3,
            ..CacheConfig::default()
        };
        assert_eq!(shards.validate(), Err(Error::ShardsNotPowerOfTwo(3)));
        let too_many = CacheConfig {
            max_capacity: 4,
            shards: 8,
            ..CacheConfig::default()
        };
        assert!(too_many.validate().is_err());
    }

    #[test]
    fn automatic_shards_keep_shards_large_enough() {
        let small = CacheConfig {
            max_capacity: 100,
            ..CacheConfig::default()
        };
        assert_eq!(small.shard_count(), 1);
        let big = CacheConfig {
            max_capacity: 1_000_000,
            ..CacheConfig::default()
        };
        assert_eq!(big.shard_count(), 16);
        assert_eq!(CacheConfig::default().shard_count(), 16);
    }
}
