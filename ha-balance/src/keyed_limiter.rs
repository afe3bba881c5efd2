//! A GCRA rate limit per key (per client, per API token), with bounded memory.
//!
//! Each key holds one GCRA cell (its theoretical arrival time) in one of several shards, each a
//! hash table behind a `parking_lot` read-write lock: a key already present is checked under the
//! shared lock with one compare-and-swap, so threads checking different keys, or the same key,
//! never wait for one another except when a new key is inserted.
//!
//! **Idle keys.** A key whose TAT is not after `now` is back at rest — a full burst available —
//! exactly as a key never seen, so forgetting it loses nothing. [`KeyedRateLimiter::retain_recent`]
//! drops every such key; a shard about to exceed its share of `max_keys` drops its own first.
//!
//! **When full.** If a shard still holds its share of `max_keys` after dropping idle keys, a new
//! key gets the answer of [`WhenFull`]: by default it is checked against one *shared overflow
//! cell* with the same rate and burst, so memory stays bounded, unseen clients are still served,
//! and a flood of fresh keys cannot buy more than one client's rate between them; or it is
//! refused outright, with a retry-after of when the first key of its shard goes idle.
//! Memory per key: the key, 8 bytes of state, and the hash table's slot overhead.
//!
//! Governor's keyed limiter (a `DashMap` of cells, `retain_recent`, no cap) is the model; the cap
//! and the overflow cell are ours.

use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hashbrown::HashTable;
use parking_lot::RwLock;

use crate::Result;
use crate::error::non_zero;
use crate::gcra::{Gcra, RateDecision, RateLimitConfig, check_cell, nanos_since};

/// What a full [`KeyedRateLimiter`] answers a key it cannot make room for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum WhenFull {
    /// Check it against one overflow cell shared by every key not tracked (the default): such
    /// keys together get one client's rate and burst.
    #[default]
    SharedOverflow,
    /// Refuse it, with a retry-after of when the first key of its shard goes idle.
    Reject,
}

/// The settings of a [`KeyedRateLimiter`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct KeyedLimiterConfig {
    /// The limit of each key. Default 1000 requests a second, burst 1000.
    pub limit: RateLimitConfig,
    /// The most keys tracked at once, a hard cap. Default 100 000; not zero. Split as evenly as
    /// it goes over the shards (their shares differ by at most one and add up to exactly this),
    /// so a shard may fill before the whole does.
    pub max_keys: usize,
    /// Shards (independent locks). Default 64; not zero, at most 4096. Rounded up to a power of
    /// two, then down to at most `max_keys`'s largest power of two, so every shard holds a key.
    pub shards: usize,
    /// What a new key gets when its shard is full of active keys. Default
    /// [`WhenFull::SharedOverflow`].
    pub when_full: WhenFull,
}

impl Default for KeyedLimiterConfig {
    fn default() -> Self {
        KeyedLimiterConfig {
            limit: RateLimitConfig::default(),
            max_keys: 100_000,
            shards: 64,
            when_full: WhenFull::SharedOverflow,
        }
    }
}

const MAX_SHARDS: usize = 4096;

impl KeyedLimiterConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// As [`RateLimitConfig::validate`]; [`ha_core::Error::Zero`] for zero keys or shards,
    /// [`ha_core::Error::TooLarge`] for more than 4096 shards (as [`Error::Core`](crate::Error::Core)).
    pub fn validate(&self) -> Result<()> {
        self.limit.validate()?;
        non_zero("max keys", self.max_keys as u64)?;
        non_zero("shards", self.shards as u64)?;
        if self.shards > MAX_SHARDS {
            return Err(ha_core::Error::TooLarge {
                name: "shards",
                value: self.shards as u64,
                max: MAX_SHARDS as u64,
            }
            .into());
        }
        Ok(())
    }
}

/// Counts for dashboards and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct KeyedLimiterStats {
    /// Keys tracked now.
    pub keys: usize,
    /// Idle keys dropped so far.
    pub evicted: u64,
    /// Checks of keys that found no room (answered by [`WhenFull`]).
    pub overflowed: u64,
}

/// One shard, on its own cache lines.
#[derive(Debug)]
#[repr(align(128))]
struct Shard<K> {
    table: RwLock<HashTable<Entry<K>>>,
    /// This shard's share of `max_keys`.
    capacity: usize,
}

#[derive(Debug)]
struct Entry<K> {
    hash: u64,
    key: K,
    tat: AtomicU64,
}

/// A GCRA limit per key with bounded memory; `&self` everywhere,
/// so share it behind an `Arc`. `S` hashes keys: by default `ahash` with random seeds, so
/// clients cannot aim their keys at one shard.
///
/// # Semantics
///
/// A GCRA rate limit per key (per client, per API token), with bounded memory.
///
/// Each key holds one GCRA cell (its theoretical arrival time) in one of several shards, each a
/// hash table behind a `parking_lot` read-write lock: a key already present is checked under the
/// shared lock with one compare-and-swap, so threads checking different keys, or the same key,
/// never wait for one another except when a new key is inserted.
///
/// **Idle keys.** A key whose TAT is not after `now` is back at rest — a full burst available —
/// exactly as a key never seen, so forgetting it loses nothing. [`KeyedRateLimiter::retain_recent`]
/// drops every such key; a shard about to exceed its share of `max_keys` drops its own first.
///
/// **When full.** If a shard still holds its share of `max_keys` after dropping idle keys, a new
/// key gets the answer of [`WhenFull`]: by default it is checked against one *shared overflow
/// cell* with the same rate and burst, so memory stays bounded, unseen clients are still served,
/// and a flood of fresh keys cannot buy more than one client's rate between them; or it is
/// refused outright, with a retry-after of when the first key of its shard goes idle.
/// Memory per key: the key, 8 bytes of state, and the hash table's slot overhead.
///
/// Governor's keyed limiter (a `DashMap` of cells, `retain_recent`, no cap) is the model; the cap
/// and the overflow cell are ours.
///
/// ```
/// use std::time::{Duration, Instant};
/// use ha_balance::{KeyedLimiterConfig, KeyedRateLimiter, RateLimitConfig};
///
/// let start = Instant::now();
/// let limiter = KeyedRateLimiter::new(KeyedLimiterConfig {
///     limit: RateLimitConfig { requests_per_second: 1.0, burst: 2 },
///     ..KeyedLimiterConfig::default()
/// }, start)?;
/// assert!(limiter.check(&"alice", start).is_admitted());
/// assert!(limiter.check(&"alice", start).is_admitted());
/// assert_eq!(limiter.check(&"alice", start).retry_after(), Some(Duration::from_secs(1)));
/// assert!(limiter.check(&"bob", start).is_admitted(), "each key has its own limit");
///
/// // Two seconds on, both are at rest again and forgetting them loses nothing.
/// assert_eq!(limiter.retain_recent(start + Duration::from_secs(2)), 2);
/// assert_eq!(limiter.len(), 0);
/// # Ok::<(), ha_balance::Error>(())
/// ```
#[derive(Debug)]
pub struct KeyedRateLimiter<K, S = ahash::RandomState> {
    config: KeyedLimiterConfig,
    gcra: Gcra,
    origin: Instant,
    hasher: S,
    shards: Box<[Shard<K>]>,
    overflow: AtomicU64,
    evicted: AtomicU64,
    overflowed: AtomicU64,
}

impl<K: Hash + Eq + Clone> KeyedRateLimiter<K, ahash::RandomState> {
    /// An empty limiter measuring time from `origin`, hashing with randomly seeded `ahash`.
    ///
    /// # Errors
    /// As [`KeyedLimiterConfig::validate`].
    pub fn new(config: KeyedLimiterConfig, origin: Instant) -> Result<Self> {
        Self::with_hasher(config, origin, ahash::RandomState::new())
    }
}

impl<K: Hash + Eq + Clone, S: BuildHasher> KeyedRateLimiter<K, S> {
    /// An empty limiter hashing keys with `hasher`.
    ///
    /// # Errors
    /// As [`KeyedLimiterConfig::validate`].
    pub fn with_hasher(config: KeyedLimiterConfig, origin: Instant, hasher: S) -> Result<Self> {
        config.validate()?;
        let gcra = Gcra::new(config.limit)?;
        // Every shard gets at least one key: no more shards than max_keys' largest power of two.
        let most_shards = 1 << config.max_keys.ilog2();
        let count = config.shards.next_power_of_two().min(most_shards);
        let (share, remainder) = (config.max_keys / count, config.max_keys % count);
        let shards = (0..count)
            .map(|i| Shard {
                table: RwLock::new(HashTable::new()),
                capacity: share + usize::from(i < remainder),
            })
            .collect();
        Ok(KeyedRateLimiter {
            config,
            gcra,
            origin,
            hasher,
            shards,
            overflow: AtomicU64::new(0),
            evicted: AtomicU64::new(0),
            overflowed: AtomicU64::new(0),
        })
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &KeyedLimiterConfig {
        &self.config
    }

    #[inline]
    fn shard(&self, hash: u64) -> &Shard<K> {
        // Middle bits pick the shard: the table takes its bucket from the low bits and its
        // control byte from the top seven, so those must stay spread within a shard.
        let index = (hash >> 40) as usize & (self.shards.len() - 1);
        &self.shards[index]
    }

    /// Decides one request of `key` at `now`, counting it if admitted.
    #[inline]
    pub fn check(&self, key: &K, now: Instant) -> RateDecision {
        let now = nanos_since(self.origin, now);
        let hash = self.hasher.hash_one(key);
        let shard = self.shard(hash);
        {
            let table = shard.table.read();
            if let Some(entry) = table.find(hash, |e| e.key == *key) {
                return self.logged(check_cell(&entry.tat, self.gcra, now));
            }
        }
        self.check_new(shard, hash, key, now)
    }

    #[cold]
    fn check_new(&self, shard: &Shard<K>, hash: u64, key: &K, now: u64) -> RateDecision {
        let mut table = shard.table.write();
        // Another thread may have inserted it meanwhile.
        if let Some(entry) = table.find(hash, |e| e.key == *key) {
            return self.logged(check_cell(&entry.tat, self.gcra, now));
        }
        if table.len() >= shard.capacity {
            let before = table.len();
            table.retain(|e| e.tat.load(Ordering::Acquire) > now);
            let dropped = before - table.len();
            self.evicted.fetch_add(dropped as u64, Ordering::Relaxed);
            if table.len() >= shard.capacity {
                self.overflowed.fetch_add(1, Ordering::Relaxed);
                return self.when_full(&table, shard.capacity, now);
            }
        }
        let cell = AtomicU64::new(0);
        let decision = check_cell(&cell, self.gcra, now);
        table.insert_unique(
            hash,
            Entry {
                hash,
                key: key.clone(),
                tat: cell,
            },
            |e| e.hash,
        );
        self.logged(decision)
    }

    fn when_full(
        &self,
        table: &HashTable<Entry<K>>,
        shard_capacity: usize,
        now: u64,
    ) -> RateDecision {
        match self.config.when_full {
            WhenFull::SharedOverflow => {
                let decision = check_cell(&self.overflow, self.gcra, now);
                tracing::debug!(
                    admitted = decision.is_admitted(),
                    shard_capacity,
                    "keyed rate limiter full: new key checked against the shared overflow cell"
                );
                decision
            }
            WhenFull::Reject => {
                let first_idle = table
                    .iter()
                    .map(|e| e.tat.load(Ordering::Acquire))
                    .min()
                    .unwrap_or(now);
                let retry_after = Duration::from_nanos(first_idle.saturating_sub(now));
                tracing::debug!(
                    ?retry_after,
                    shard_capacity,
                    "keyed rate limiter full: new key refused"
                );
                RateDecision::Rejected { retry_after }
            }
        }
    }

    #[inline]
    fn logged(&self, decision: RateDecision) -> RateDecision {
        if let RateDecision::Rejected { retry_after } = decision {
            tracing::debug!(
                ?retry_after,
                emission_ns = self.gcra.emission,
                "keyed rate limiter rejected a request"
            );
        }
        decision
    }

    /// Drops every key at rest at `now` (its next request would see a full burst, as a new key
    /// does); returns how many. Call it now and then (every few seconds) to keep memory to the
    /// active keys.
    pub fn retain_recent(&self, now: Instant) -> usize {
        let now = nanos_since(self.origin, now);
        let mut dropped = 0;
        for shard in self.shards.iter() {
            let mut table = shard.table.write();
            let before = table.len();
            table.retain(|e| e.tat.load(Ordering::Acquire) > now);
            dropped += before - table.len();
        }
        self.evicted.fetch_add(dropped as u64, Ordering::Relaxed);
        tracing::debug!(dropped, "keyed rate limiter dropped idle keys");
        dropped
    }

    /// Keys tracked now.
    #[must_use]
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.table.read().len()).sum()
    }

    /// Whether no key is tracked.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most keys tracked at once: exactly `max_keys`.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.shards.iter().map(|s| s.capacity).sum()
    }

    /// Counts for dashboards.
    #[must_use]
    pub fn stats(&self) -> KeyedLimiterStats {
        KeyedLimiterStats {
            keys: self.len(),
            evicted: self.evicted.load(Ordering::Relaxed),
            overflowed: self.overflowed.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SEC: Duration = Duration::from_secs(1);

    fn limiter(
        max_keys: usize,
        shards: usize,
        when_full: WhenFull,
    ) -> (KeyedRateLimiter<u32>, Instant) {
        let t = Instant::now();
        let config = KeyedLimiterConfig {
            limit: RateLimitConfig {
                requests_per_second: 1.0,
                burst: 2,
            },
            max_keys,
            shards,
            when_full,
        };
        (KeyedRateLimiter::new(config, t).unwrap(), t)
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let c = KeyedLimiterConfig::default();
        assert_eq!(c.limit.requests_per_second, 1000.0);
        assert_eq!(
            (c.max_keys, c.shards, c.when_full),
            (100_000, 64, WhenFull::SharedOverflow)
        );
    }

    #[test]
    fn bad_settings_are_rejected() {
        for config in [
            KeyedLimiterConfig {
                max_keys: 0,
                ..Default::default()
            },
            KeyedLimiterConfig {
                shards: 0,
                ..Default::default()
            },
            KeyedLimiterConfig {
                shards: 5000,
                ..Default::default()
            },
            KeyedLimiterConfig {
                limit: RateLimitConfig {
                    requests_per_second: 0.0,
                    burst: 1,
                },
                ..Default::default()
            },
        ] {
            assert!(KeyedRateLimiter::<u32>::new(config, Instant::now()).is_err());
        }
    }

    #[test]
    fn keys_are_limited_apart() {
        let (l, t) = limiter(100, 4, WhenFull::Reject);
        for key in 0..10 {
            assert!(l.check(&key, t).is_admitted());
            assert!(l.check(&key, t).is_admitted());
            assert_eq!(l.check(&key, t).retry_after(), Some(SEC));
        }
        assert_eq!(l.len(), 10);
    }

    #[test]
    fn full_with_active_keys_new_keys_share_the_overflow_cell() {
        let (l, t) = limiter(2, 1, WhenFull::SharedOverflow);
        assert!(l.check(&1, t).is_admitted());
        assert!(l.check(&2, t).is_admitted());
        // Keys 3, 4 and 5 find no room: together they get one key's burst of 2.
        let admitted = [3, 4, 5]
            .iter()
            .filter(|k| l.check(k, t).is_admitted())
            .count();
        assert_eq!(admitted, 2);
        assert_eq!(l.len(), 2);
        assert_eq!(l.stats().overflowed, 3);
    }

    #[test]
    fn full_with_active_keys_new_keys_are_refused_until_one_goes_idle() {
        let (l, t) = limiter(2, 1, WhenFull::Reject);
        assert!(l.check(&1, t).is_admitted());
        assert!(l.check(&2, t + SEC / 2).is_admitted());
        let refused = l.check(&3, t + SEC / 2);
        assert_eq!(
            refused.retry_after(),
            Some(SEC / 2),
            "key 1 is at rest at t + 1 s"
        );
        // At t + 1 s key 1 is idle, dropped, and key 3 takes its place.
        assert!(l.check(&3, t + SEC).is_admitted());
        assert_eq!(l.stats().evicted, 1);
    }

    #[test]
    fn retain_recent_drops_only_keys_at_rest() {
        let (l, t) = limiter(100, 4, WhenFull::Reject);
        assert!(l.check(&1, t).is_admitted());
        assert!(l.check(&1, t).is_admitted());
        assert!(l.check(&2, t).is_admitted());
        // Key 2's TAT is t + 1 s, key 1's t + 2 s.
        assert_eq!(l.retain_recent(t + SEC), 1);
        assert_eq!(l.len(), 1);
        assert!(
            !l.check(&1, t + SEC / 2).is_admitted(),
            "key 1 kept its state"
        );
    }

    #[test]
    fn threads_sharing_a_key_get_one_burst() {
        let (l, t) = limiter(100, 4, WhenFull::Reject);
        let l = std::sync::Arc::new(l);
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let l = l.clone();
                std::thread::spawn(move || (0..50).filter(|_| l.check(&7, t).is_admitted()).count())
            })
            .collect();
        let total: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(total, 2);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn memory_never_exceeds_the_cap_and_each_key_keeps_its_limit(
            ops in proptest::collection::vec((0u32..40, 0u64..400), 1..400),
            max_keys in 1usize..20,
            shards in 1usize..40,
        ) {
            let (l, t) = limiter(max_keys, shards, WhenFull::Reject);
            prop_assert_eq!(l.capacity(), max_keys);
            let mut now = 0u64;
            let mut admitted: std::collections::HashMap<u32, Vec<u64>> = Default::default();
            for (key, gap_ms) in ops {
                now += gap_ms;
                if l.check(&key, t + Duration::from_millis(now)).is_admitted() {
                    admitted.entry(key).or_default().push(now);
                }
                prop_assert!(l.len() <= max_keys);
            }
            // Per key: at most burst + ⌊w / T⌋ in any window w (T = 1 s, burst 2).
            for times in admitted.values() {
                for i in 0..times.len() {
                    for j in i..times.len() {
                        prop_assert!((j - i + 1) as u64 <= 2 + (times[j] - times[i]) / 1000);
                    }
                }
            }
        }
    }
}
