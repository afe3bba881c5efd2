//! Building a [`Cache`]: settings plus the behaviour that is code (weigher, listener, clock).

use std::fmt;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use ha_core::{Clock, SystemClock};

use crate::listener::Listener;
use crate::{Cache, CacheConfig, RemovalCause, Result};

/// Weighs an entry, for caches bounded by total weight.
pub(crate) type Weigher<K, V> = Arc<dyn Fn(&K, &V) -> u32 + Send + Sync>;

/// Builds a [`Cache`]; [`Cache::builder`] starts one.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use ha_cache::{Cache, RemovalCause};
///
/// let evicted = Arc::new(Mutex::new(Vec::new()));
/// let seen = evicted.clone();
/// let cache: Cache<String, String> = Cache::builder(1_000) // bytes, with the weigher below
///     .weigher(|key: &String, value: &String| (key.len() + value.len()) as u32)
///     .eviction_listener(move |key, _value, cause| seen.lock().unwrap().push((key, cause)))
///     .shards(1)
///     .build()?;
/// cache.insert("a".into(), "x".repeat(600));
/// cache.insert("b".into(), "y".repeat(600)); // 1,202 bytes > 1,000: one entry goes
/// assert_eq!(cache.len(), 1);
/// assert_eq!(evicted.lock().unwrap()[0].1, RemovalCause::Size);
/// # Ok::<(), ha_cache::Error>(())
/// ```
pub struct CacheBuilder<K, V> {
    config: CacheConfig,
    weigher: Option<Weigher<K, V>>,
    listener: Option<Listener<K, V>>,
    clock: Arc<dyn Clock>,
}

impl<K, V> fmt::Debug for CacheBuilder<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheBuilder")
            .field("config", &self.config)
            .field("weigher", &self.weigher.is_some())
            .field("listener", &self.listener.is_some())
            .field("clock", &self.clock)
            .finish()
    }
}

impl<K, V> CacheBuilder<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// A builder for a cache of `max_capacity` entries (or total weight, with a weigher), on
    /// the system clock, with the other settings at their [`CacheConfig`] defaults.
    #[must_use]
    pub fn new(max_capacity: u64) -> CacheBuilder<K, V> {
        CacheBuilder::from_config(CacheConfig {
            max_capacity,
            ..CacheConfig::default()
        })
    }

    /// A builder starting from `config`.
    #[must_use]
    pub fn from_config(config: CacheConfig) -> CacheBuilder<K, V> {
        CacheBuilder {
            config,
            weigher: None,
            listener: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// Entries live this long after being written (unless their insert gives their own TTL).
    #[must_use]
    pub fn time_to_live(mut self, ttl: Duration) -> Self {
        self.config.time_to_live = Some(ttl);
        self
    }

    /// Entries live this long after their last read or write.
    #[must_use]
    pub fn time_to_idle(mut self, tti: Duration) -> Self {
        self.config.time_to_idle = Some(tti);
        self
    }

    /// Sets the shard count (a power of two), instead of the automatic choice.
    #[must_use]
    pub fn shards(mut self, shards: usize) -> Self {
        self.config.shards = shards;
        self
    }

    /// Seeds the key hash and the policy's tie-breaking.
    #[must_use]
    pub fn hash_seed(mut self, seed: u64) -> Self {
        self.config.hash_seed = seed;
        self
    }

    /// Bounds the cache by total weight: each entry weighs what `weigher` says (a weight of
    /// zero counts as one). The weigher runs outside every lock, once per insert.
    #[must_use]
    pub fn weigher(mut self, weigher: impl Fn(&K, &V) -> u32 + Send + Sync + 'static) -> Self {
        self.weigher = Some(Arc::new(weigher));
        self
    }

    /// Calls `listener` with the key, value and cause of every entry that leaves the cache —
    /// evicted, expired, removed or replaced — from the thread whose operation removed it,
    /// after the cache's locks are released. A panic in the listener is caught and logged.
    #[must_use]
    pub fn eviction_listener(
        mut self,
        listener: impl Fn(K, V, RemovalCause) + Send + Sync + 'static,
    ) -> Self {
        self.listener = Some(Arc::new(listener));
        self
    }

    /// Reads time from `clock` (a [`ManualClock`](ha_core::ManualClock) in tests).
    #[must_use]
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Validates the settings and builds the cache.
    pub fn build(self) -> Result<Cache<K, V>> {
        self.config.validate()?;
        Ok(Cache::from_parts(
            self.config,
            self.weigher,
            self.listener,
            self.clock,
        ))
    }
}
