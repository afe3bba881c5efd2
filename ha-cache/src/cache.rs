//! The concurrent in-process cache.

use std::borrow::Borrow;
use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::FutureExt;
use ha_core::Clock;
use parking_lot::RwLock;

use crate::builder::Weigher;
use crate::cache_entry::{CacheEntry, Iter};
use crate::expiry::{LazyNow, Timer, nanos};
use crate::listener::{Listener, Removed};
use crate::shard::{Shard, ShardSettings, Tag, Write};
use crate::single_flight::{Flights, LoadError, Role, SharedLoad, block_on};
use crate::{CacheBuilder, CacheConfig, CacheStats, Error, InsertOptions, KeyPattern, Result};

/// A bounded, concurrent, in-process cache with an adaptive W-TinyLFU eviction policy.
///
/// Cloning a `Cache` is cheap and shares it. Every operation locks one shard (a
/// `parking_lot` read-write lock) briefly; reads take it shared unless they must remove an
/// expired entry or move a time-to-idle deadline; there is no global lock. See the
/// [crate docs](crate) for the policy and why.
///
/// ```
/// use std::time::Duration;
/// use ha_cache::Cache;
/// use ha_core::ManualClock;
///
/// let clock = ManualClock::new();
/// let cache: Cache<String, u32> = Cache::builder(1_000)
///     .time_to_live(Duration::from_secs(60))
///     .clock(clock.clone())
///     .build()?;
/// cache.insert("a".to_string(), 1);
/// assert_eq!(cache.get("a"), Some(1));
/// clock.advance(Duration::from_secs(61));
/// assert_eq!(cache.get("a"), None); // expired entries are never returned
/// assert_eq!(cache.stats().expirations, 1);
/// # Ok::<(), ha_cache::Error>(())
/// ```
pub struct Cache<K, V> {
    inner: Arc<Inner<K, V>>,
}

/// One shard's lock on a cache line (two, for the adjacent-line prefetcher) of its own, so
/// threads working in neighbouring shards do not invalidate each other's lock word.
#[repr(align(128))]
struct Padded<T>(T);

impl<T> std::ops::Deref for Padded<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

/// A shard behind its lock, on lines of its own.
type Locked<K, V> = Padded<RwLock<Shard<K, V>>>;

struct Inner<K, V> {
    shards: Box<[Locked<K, V>]>,
    mask: usize,
    hasher: ahash::RandomState,
    timer: Timer,
    weigher: Option<Weigher<K, V>>,
    listener: Option<Listener<K, V>>,
    flights: Flights<K>,
    config: CacheConfig,
    max_entry_weight: u64,
    load_successes: AtomicU64,
    load_failures: AtomicU64,
}

impl<K, V> Clone for Cache<K, V> {
    fn clone(&self) -> Self {
        Cache {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<K, V> fmt::Debug for Cache<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache")
            .field("config", &self.inner.config)
            .field("shards", &self.inner.shards.len())
            .field("weigher", &self.inner.weigher.is_some())
            .field("listener", &self.inner.listener.is_some())
            .finish_non_exhaustive()
    }
}

impl<K, V> Cache<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// A cache with `config`, on the system clock, without weigher or listener.
    pub fn new(config: CacheConfig) -> Result<Cache<K, V>> {
        CacheBuilder::from_config(config).build()
    }

    /// Starts a builder for a cache of `max_capacity` entries (or total weight, with a weigher).
    #[must_use]
    pub fn builder(max_capacity: u64) -> CacheBuilder<K, V> {
        CacheBuilder::new(max_capacity)
    }

    pub(crate) fn from_parts(
        config: CacheConfig,
        weigher: Option<Weigher<K, V>>,
        listener: Option<Listener<K, V>>,
        clock: Arc<dyn Clock>,
    ) -> Cache<K, V> {
        let count = config.shard_count();
        let base = config.max_capacity / count as u64;
        let extra = config.max_capacity % count as u64;
        let weighted = weigher.is_some();
        let shards: Box<[_]> = (0..count as u64)
            .map(|i| {
                let capacity = base + u64::from(i < extra);
                Padded(RwLock::new(Shard::new(ShardSettings {
                    capacity,
                    max_entry_weight: base,
                    // A weighted shard sizes its sketch for entries of weight ~64; it grows
                    // with the entry count.
                    entries: if weighted {
                        (capacity / 64).max(16)
                    } else {
                        capacity
                    },
                    default_ttl: config.time_to_live.map(nanos),
                    time_to_idle: config.time_to_idle.map(nanos),
                    seed: config.hash_seed ^ i.wrapping_mul(0x9e37_79b9_7f4a_7c15),
                })))
            })
            .collect();
        tracing::debug!(
            max_capacity = config.max_capacity,
            shards = count,
            weighted,
            "cache built"
        );
        let seed = config.hash_seed;
        Cache {
            inner: Arc::new(Inner {
                shards,
                mask: count - 1,
                hasher: ahash::RandomState::with_seeds(seed, !seed, 0x243f_6a88, 0x85a3_08d3),
                timer: Timer::new(clock),
                weigher,
                listener,
                flights: Flights::new(seed),
                max_entry_weight: base,
                config,
                load_successes: AtomicU64::new(0),
                load_failures: AtomicU64::new(0),
            }),
        }
    }

    fn hash<Q: Hash + ?Sized>(&self, key: &Q) -> u64 {
        self.inner.hasher.hash_one(key)
    }

    fn shard(&self, hash: u64) -> &RwLock<Shard<K, V>> {
        // The table uses the low bits and the top 7; pick the shard from the middle.
        &self.inner.shards[(hash >> 40) as usize & self.inner.mask]
    }

    fn notify(&self, removed: Removed<K, V>) {
        if !removed.is_empty() {
            // A primary or edge defers listener calls until it has released its own lock.
            crate::deferred::notify_or_defer(self.inner.listener.as_ref(), removed);
        }
    }

    /// The value of `key`, if present and not expired; counts a hit or a miss.
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        let shard = self.shard(hash);
        let mut now = LazyNow::new(&self.inner.timer);
        // Most reads need the shard only shared; expiry and time to idle need it exclusive.
        let shared = shard.read();
        if let Some(answer) = shared.get_shared(hash, key, &mut now) {
            let full = shared.reads_full();
            drop(shared);
            if full {
                // This read filled the buffer (a read-mostly spell): count the batch now if
                // no one holds the shard, so the sketch keeps learning without writes.
                if let Some(mut exclusive) = shard.try_write() {
                    exclusive.drain_reads();
                }
            }
            return answer;
        }
        drop(shared);
        let mut removed = Removed::new();
        let value = shard.write().get(hash, key, &mut now, &mut removed);
        self.notify(removed);
        value
    }

    /// The values of `keys`, in order (mget).
    pub fn get_many<'q, Q>(&self, keys: impl IntoIterator<Item = &'q Q>) -> Vec<Option<V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized + 'q,
    {
        keys.into_iter().map(|key| self.get(key)).collect()
    }

    /// Whether `key` holds a live value; no effect on statistics or the policy.
    pub fn contains<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        let mut now = LazyNow::new(&self.inner.timer);
        self.shard(hash).read().peek(hash, key, &mut now).is_some()
    }

    /// The live value of `key` with no effect on statistics or the policy.
    pub fn peek<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        let mut now = LazyNow::new(&self.inner.timer);
        self.shard(hash).read().peek(hash, key, &mut now)
    }

    /// The live value of `key` with its remaining time to live (`None`: no deadline) and its
    /// tags, with no effect on statistics or the policy (for a primary's snapshot).
    pub(crate) fn peek_entry(&self, key: &K) -> Option<(V, Option<Duration>, Vec<Tag>)> {
        let hash = self.hash(key);
        let mut now = LazyNow::new(&self.inner.timer);
        let (value, left, tags) = self.shard(hash).read().peek_entry(hash, key, &mut now)?;
        Some((value, left.map(Duration::from_nanos), tags))
    }

    fn weigh(&self, key: &K, value: &V) -> u32 {
        match &self.inner.weigher {
            Some(weigher) => weigher(key, value).max(1),
            None => 1,
        }
    }

    fn store(&self, key: K, value: V, write: Write) {
        let hash = self.hash(&key);
        let mut removed = Removed::new();
        let mut now = LazyNow::new(&self.inner.timer);
        self.shard(hash)
            .write()
            .insert(hash, key, value, write, &mut now, &mut removed);
        self.notify(removed);
    }

    /// Stores `value` under `key` (set), with the cache's default TTL, replacing any value (the
    /// listener hears [`Replaced`](crate::RemovalCause::Replaced)).
    ///
    /// An entry weighing more than [`max_entry_weight`](Cache::max_entry_weight) cannot be
    /// stored: it is dropped, reported to the listener as evicted for
    /// [`Size`](crate::RemovalCause::Size), and any previous value of the key is removed so no
    /// stale value survives. [`try_insert`](Cache::try_insert) refuses such an entry instead.
    pub fn insert(&self, key: K, value: V) {
        let weight = self.weigh(&key, &value);
        let write = Write {
            weight,
            ..Write::default()
        };
        self.store(key, value, write);
    }

    /// Stores `value` under `key`, or refuses an entry heavier than
    /// [`max_entry_weight`](Cache::max_entry_weight) and changes nothing.
    pub fn try_insert(&self, key: K, value: V) -> Result<()> {
        self.insert_with(key, value, &InsertOptions::default())
    }

    /// Stores `value` under `key` with its own TTL and tags. Refuses a zero TTL and an entry
    /// heavier than [`max_entry_weight`](Cache::max_entry_weight), changing nothing.
    pub fn insert_with(&self, key: K, value: V, options: &InsertOptions) -> Result<()> {
        if options.ttl.is_some_and(|ttl| ttl.is_zero()) {
            return Err(ha_core::Error::Zero { name: "ttl" }.into());
        }
        let weight = self.weigh(&key, &value);
        if u64::from(weight) > self.inner.max_entry_weight {
            return Err(Error::WeightOverCapacity {
                weight: u64::from(weight),
                max: self.inner.max_entry_weight,
            });
        }
        let tags: Option<Box<[Tag]>> = if options.tags.is_empty() {
            None
        } else {
            let mut tags = options.tags.clone();
            tags.sort_unstable();
            tags.dedup();
            Some(tags.into_boxed_slice())
        };
        let write = Write {
            weight,
            ttl: options.ttl.map(nanos),
            tags,
        };
        self.store(key, value, write);
        Ok(())
    }

    /// Stores every pair (mset), as [`insert`](Cache::insert) does.
    pub fn insert_many(&self, entries: impl IntoIterator<Item = (K, V)>) {
        for (key, value) in entries {
            self.insert(key, value);
        }
    }

    /// Removes `key` (delete), returning its live value.
    pub fn remove<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        let mut removed = Removed::new();
        let mut now = LazyNow::new(&self.inner.timer);
        let value = self
            .shard(hash)
            .write()
            .remove(hash, key, &mut now, &mut removed);
        self.notify(removed);
        value
    }

    /// Removes every live entry inserted with `tag`, returning how many. Each shard is locked
    /// in turn; entries inserted meanwhile in a shard already visited stay.
    pub fn invalidate_tag(&self, tag: &str) -> u64 {
        let mut count = 0;
        for shard in self.inner.shards.iter() {
            let mut removed = Removed::new();
            let mut now = LazyNow::new(&self.inner.timer);
            count += shard.write().invalidate_tag(tag, &mut now, &mut removed);
            self.notify(removed);
        }
        tracing::debug!(tag, count, "cache tag invalidated");
        count
    }

    /// Removes every live entry whose key matches the glob `pattern` (see [`KeyPattern`]),
    /// returning how many; a malformed pattern is refused and nothing is removed. Scans every
    /// entry, one shard at a time.
    ///
    /// ```
    /// use ha_cache::{Cache, Error};
    ///
    /// let cache: Cache<String, u32> = Cache::builder(100).build()?;
    /// cache.insert_many([("user:1".to_string(), 1), ("user:2".to_string(), 2), ("order:1".to_string(), 3)]);
    /// assert_eq!(cache.invalidate_pattern("user:*")?, 2);
    /// assert!(cache.contains("order:1"));
    /// assert!(matches!(cache.invalidate_pattern("user:[").unwrap_err(), Error::InvalidPattern { .. }));
    /// # Ok::<(), ha_cache::Error>(())
    /// ```
    pub fn invalidate_pattern(&self, pattern: &str) -> Result<u64>
    where
        K: AsRef<str>,
    {
        let pattern = KeyPattern::new(pattern)?;
        Ok(self.invalidate_matching(|key| pattern.matches(key.as_ref())))
    }

    /// Removes every live entry whose key satisfies `predicate`, returning how many.
    pub fn invalidate_matching(&self, predicate: impl Fn(&K) -> bool) -> u64 {
        let mut count = 0;
        for shard in self.inner.shards.iter() {
            let mut removed = Removed::new();
            let mut now = LazyNow::new(&self.inner.timer);
            count += shard
                .write()
                .invalidate_matching(&predicate, &mut now, &mut removed);
            self.notify(removed);
        }
        tracing::debug!(count, "cache entries invalidated by key");
        count
    }

    /// Removes every entry (the listener hears [`Explicit`](crate::RemovalCause::Explicit), or
    /// [`Expired`](crate::RemovalCause::Expired) for those already expired).
    pub fn clear(&self) {
        for shard in self.inner.shards.iter() {
            let mut removed = Removed::new();
            let mut now = LazyNow::new(&self.inner.timer);
            shard.write().clear(&mut now, &mut removed);
            self.notify(removed);
        }
    }

    /// Removes every expired entry now. Never needed for correctness — expired entries are never
    /// returned, and operations expire due entries as they go — but useful to hear about
    /// expirations at a quiet time.
    pub fn purge_expired(&self) {
        for shard in self.inner.shards.iter() {
            let mut removed = Removed::new();
            let mut now = LazyNow::new(&self.inner.timer);
            shard.write().purge_expired(&mut now, &mut removed);
            self.notify(removed);
        }
    }

    /// The value of `key`, loading it with `loader` on a miss. Concurrent callers for the same
    /// missing key run one loader and share its value or error ([`LoadError::Failed`]); if that
    /// loader panics its own caller sees the panic and the waiters [`LoadError::Panicked`].
    /// Sync and async callers of one key share one flight (a sync caller that joins an async
    /// load drives it on its own thread, so a load that needs its async runtime's context there
    /// fails as [`LoadError::Panicked`]); flights are told apart by the error type `E` as well
    /// as the key. The loader runs outside every lock of the cache, so it may use the cache,
    /// except to load its own key: that answers [`LoadError::Recursive`].
    ///
    /// ```
    /// use ha_cache::{Cache, LoadError};
    ///
    /// let cache: Cache<u32, String> = Cache::builder(100).build()?;
    /// let value = cache.get_or_load(7, |k| Ok::<_, std::io::Error>(format!("row {k}")));
    /// assert_eq!(value.unwrap(), "row 7");
    /// let failed = cache.get_or_load(8, |_| Err(std::io::Error::other("db down")));
    /// assert!(matches!(failed, Err(LoadError::Failed(_))));
    /// assert!(!cache.contains(&8)); // errors are not cached
    /// # Ok::<(), ha_cache::Error>(())
    /// ```
    pub fn get_or_load<E, F>(&self, key: K, loader: F) -> std::result::Result<V, LoadError<E>>
    where
        F: FnOnce(&K) -> std::result::Result<V, E>,
        E: Send + Sync + 'static,
    {
        if let Some(value) = self.get(&key) {
            return Ok(value);
        }
        match self.inner.flights.join::<V, E>(&key) {
            Role::Waiter(flight) => block_on(flight?),
            Role::Leader(leader) => {
                // A leader that finished between our miss and our joining left its value.
                if let Some(value) = self.peek(&key) {
                    leader.finish(Ok(value.clone()));
                    return Ok(value);
                }
                let outcome = match loader(&key) {
                    Ok(value) => {
                        self.inner.load_successes.fetch_add(1, Ordering::Relaxed);
                        self.insert(key, value.clone());
                        Ok(value)
                    }
                    Err(err) => {
                        self.inner.load_failures.fetch_add(1, Ordering::Relaxed);
                        Err(LoadError::Failed(Arc::new(err)))
                    }
                };
                leader.finish(outcome.clone());
                outcome
            }
        }
    }

    /// The async form of [`get_or_load`](Cache::get_or_load): concurrent callers for the same
    /// missing key (async or sync) share one load. A panicking load gives every caller
    /// [`LoadError::Panicked`]. If every caller drops its future, the next caller for the key
    /// resumes the same load. `loader` is called on the load's first poll, outside every lock
    /// of the cache, so it may use the cache (but a load that awaits its own key never ends).
    ///
    /// ```
    /// use ha_cache::Cache;
    ///
    /// let cache: Cache<u32, String> = Cache::builder(100).build()?;
    /// let value = futures::executor::block_on(
    ///     cache.get_or_load_async(7, |k| async move { Ok::<_, std::io::Error>(format!("row {k}")) }),
    /// );
    /// assert_eq!(value.unwrap(), "row 7");
    /// assert!(cache.contains(&7));
    /// # Ok::<(), ha_cache::Error>(())
    /// ```
    pub async fn get_or_load_async<E, F, Fut>(
        &self,
        key: K,
        loader: F,
    ) -> std::result::Result<V, LoadError<E>>
    where
        F: FnOnce(K) -> Fut + Send + 'static,
        Fut: Future<Output = std::result::Result<V, E>> + Send + 'static,
        E: Send + Sync + 'static,
    {
        if let Some(value) = self.get(&key) {
            return Ok(value);
        }
        let load_key = key.clone();
        // Only the cache's own code runs under the flights lock: the loader is called when
        // the load is first polled.
        let flight = self.inner.flights.join_async::<V, E, _>(&key, || {
            match self.peek(&key) {
                // A load that finished between our miss and now left its value.
                Some(value) => Err(value),
                None => Ok(self.async_flight(key.clone(), async move { loader(load_key).await })),
            }
        });
        match flight {
            Ok(flight) => flight?.await,
            Err(value) => Ok(value),
        }
    }

    fn async_flight<E, Fut>(&self, key: K, load: Fut) -> SharedLoad<V, E>
    where
        Fut: Future<Output = std::result::Result<V, E>> + Send + 'static,
        E: Send + Sync + 'static,
    {
        // A weak handle: a flight kept in the cache's own flight map must not keep it alive.
        let inner = Arc::downgrade(&self.inner);
        async move {
            let outcome = AssertUnwindSafe(load).catch_unwind().await;
            let cache = inner.upgrade().map(|inner| Cache { inner });
            let count = |counter: fn(&Inner<K, V>) -> &AtomicU64| {
                if let Some(cache) = &cache {
                    counter(&cache.inner).fetch_add(1, Ordering::Relaxed);
                }
            };
            let result = match outcome {
                Ok(Ok(value)) => {
                    count(|inner| &inner.load_successes);
                    if let Some(cache) = &cache {
                        cache.insert(key.clone(), value.clone());
                    }
                    Ok(value)
                }
                Ok(Err(err)) => {
                    count(|inner| &inner.load_failures);
                    Err(LoadError::Failed(Arc::new(err)))
                }
                Err(_) => {
                    count(|inner| &inner.load_failures);
                    tracing::warn!("cache async loader panicked");
                    Err(LoadError::Panicked)
                }
            };
            if let Some(cache) = &cache {
                cache.inner.flights.retire::<V, E>(key);
            }
            result
        }
        .boxed()
        .shared()
    }

    /// The live entries, with their remaining time to live and their tags, one shard at a
    /// time (see [`Iter`]), in no particular order; no effect on statistics or the policy.
    /// Use it to warm another cache — an edge after a reload, a new process — with the same
    /// remaining lives and tags.
    ///
    /// ```
    /// use std::time::Duration;
    /// use ha_cache::{Cache, InsertOptions};
    /// use ha_core::ManualClock;
    ///
    /// let clock = ManualClock::new();
    /// let primary: Cache<String, u32> = Cache::builder(100).clock(clock.clone()).build()?;
    /// let options = InsertOptions::new().ttl(Duration::from_secs(60)).tag("team:red");
    /// primary.insert_with("a".into(), 1, &options)?;
    /// primary.insert("b".into(), 2);
    /// clock.advance(Duration::from_secs(20));
    ///
    /// let edge: Cache<String, u32> = Cache::builder(100).clock(clock.clone()).build()?;
    /// for entry in primary.iter() {
    ///     if entry.key == "a" {
    ///         assert_eq!(entry.ttl, Some(Duration::from_secs(40)));
    ///         assert_eq!(entry.tags, vec!["team:red".into()]);
    ///     }
    ///     edge.insert_with(entry.key.clone(), entry.value, &entry.insert_options())?;
    /// }
    /// assert_eq!((edge.get("a"), edge.get("b")), (Some(1), Some(2)));
    /// clock.advance(Duration::from_secs(41));
    /// assert_eq!(edge.get("a"), None); // it kept its remaining 40 s, not a fresh 60
    /// # Ok::<(), ha_cache::Error>(())
    /// ```
    #[must_use]
    pub fn iter(&self) -> Iter<K, V> {
        Iter::new(self.clone())
    }

    /// The live entries of shard `index`, or `None` past the last shard.
    pub(crate) fn shard_entries(&self, index: usize) -> Option<Vec<CacheEntry<K, V>>> {
        let shard = self.inner.shards.get(index)?;
        let mut now = LazyNow::new(&self.inner.timer);
        let mut live = Vec::new();
        shard.read().live_entries(&mut now, &mut live);
        Some(
            live.into_iter()
                .map(|(key, value, left, tags)| CacheEntry {
                    key,
                    value,
                    ttl: left.map(Duration::from_nanos),
                    tags,
                })
                .collect(),
        )
    }

    /// Hit, miss, insert, eviction and expiry counts, summed over the shards.
    #[must_use]
    pub fn stats(&self) -> CacheStats {
        let mut stats = CacheStats::default();
        for shard in self.inner.shards.iter() {
            stats += shard.read().stats();
        }
        stats.load_successes = self.inner.load_successes.load(Ordering::Relaxed);
        stats.load_failures = self.inner.load_failures.load(Ordering::Relaxed);
        stats
    }

    /// Entries held, including expired ones not yet removed.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.inner.shards.iter().map(|s| s.read().len()).sum()
    }

    /// Whether the cache holds no entry.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Total weight held (the entry count without a weigher).
    #[must_use]
    pub fn weighted_size(&self) -> u64 {
        self.inner.shards.iter().map(|s| s.read().weight()).sum()
    }

    /// The capacity: most entries, or most total weight with a weigher.
    #[must_use]
    pub fn max_capacity(&self) -> u64 {
        self.inner.config.max_capacity
    }

    /// The heaviest entry the cache stores: `max_capacity / shards`, rounded down (the
    /// capacity of its smallest shard). Every shard holds to this same limit, even those whose
    /// share of the capacity is one more.
    #[must_use]
    pub fn max_entry_weight(&self) -> u64 {
        self.inner.max_entry_weight
    }

    /// The settings the cache was built with.
    #[must_use]
    pub fn config(&self) -> &CacheConfig {
        &self.inner.config
    }

    /// Recounts every internal invariant (lists, table, weights within each shard's capacity,
    /// tag index) and describes the first one broken. For tests; it locks each shard in turn.
    pub fn check_invariants(&self) -> std::result::Result<(), String> {
        let mut capacity = 0;
        for (i, shard) in self.inner.shards.iter().enumerate() {
            let shard = shard.read();
            capacity += shard.capacity();
            shard
                .check_invariants()
                .map_err(|broken| format!("shard {i}: {broken}"))?;
        }
        if capacity != self.inner.config.max_capacity {
            return Err(format!(
                "shard capacities sum to {capacity}, not {}",
                self.inner.config.max_capacity
            ));
        }
        Ok(())
    }
}
