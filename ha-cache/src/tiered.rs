//! A two-level cache: the in-process [`Cache`] as L1 over a shared async [`Backend`] as L2,
//! with an optional origin behind both.

use std::fmt;
use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ha_core::Clock;

use crate::backend::{Backend, BackendError, BackendOp};
use crate::origin::Origin;
use crate::tier_stats::TierCounters;
use crate::{
    Cache, InsertOptions, LoadError, Slot, TierError, TierStats, TieredBuilder, TieredConfig,
    WritePolicy,
};

/// How many write stripes guard loads against concurrent writes.
const STRIPES: usize = 64;

/// A two-level cache: L1 = [`Cache`] of [`Slot`]s in this process, L2 = a shared [`Backend`],
/// read-through to an optional [`Origin`]. Cloning shares it.
///
/// ## Reads
///
/// A read asks L1; on a miss it runs one load per key at a time (single-flight, through
/// [`Cache::get_or_load_async`]): L2, then the origin if L2 has no value. A value found in L2
/// fills L1; a value from the origin fills L2 (with [`TieredConfig::l2_ttl`], through
/// [`Backend::set_if_absent`] so a fill never overwrites a concurrent write: if L2 got a value
/// meanwhile, that value is the answer) and L1. A key
/// absent everywhere is remembered in L1 as [`Slot::Absent`] for
/// [`TieredConfig::negative_ttl`] when that is set.
///
/// ## When L2 fails
///
/// A failed L2 read falls back to the origin when there is one (counted in
/// [`TierStats::fallbacks`]; the origin's value fills L1 but is not written to the failing L2),
/// and otherwise returns [`TierError::Backend`]. A failed L2 write after an origin load is
/// counted and logged, and the read still returns the origin's value. A failed L2 write, delete
/// or invalidation removes the affected keys from L1 and returns the error. L1 never holds a
/// value that did not come from L2 or the origin, and errors are never cached.
///
/// ## Writes racing loads
///
/// A load that read L2 before a concurrent write to the same key could put the old value in L1
/// after the write. Each key falls in one of 64 stripes with a count of writes started and
/// finished; a read whose load overlapped a write of its stripe removes the key from L1 once the
/// load is done, so the next read goes to L2. (If every caller of a load drops its future, the
/// caller that resumes the load checks only the writes since it started.)
///
/// ```
/// use std::time::Duration;
/// use ha_cache::{Cache, MemoryBackend, TieredCache, BoxError, origin_fn};
/// use ha_core::ManualClock;
///
/// # futures::executor::block_on(async {
/// let clock = ManualClock::new();
/// let l2: MemoryBackend<String, String> = MemoryBackend::with_clock(clock.clone());
/// let users = TieredCache::builder(Cache::builder(10_000), l2.clone())
///     .clock(clock.clone())
///     .negative_ttl(Duration::from_secs(5))
///     .origin(origin_fn(|id: String| async move {
///         Ok::<_, BoxError>((id == "user:1").then(|| "ada".to_string()))
///     }))
///     .build()?;
///
/// assert_eq!(users.get(&"user:1".into()).await?.as_deref(), Some("ada")); // origin → L2 → L1
/// assert_eq!(users.get(&"user:1".into()).await?.as_deref(), Some("ada")); // L1 hit
/// assert_eq!(users.get(&"user:2".into()).await?, None); // absent, remembered for 5 s
/// assert_eq!(users.get(&"user:2".into()).await?, None); // negative hit
/// users.set("user:2".into(), "bob".into()).await?; // write-through: L2, then L1
/// assert_eq!(users.get(&"user:2".into()).await?.as_deref(), Some("bob"));
///
/// let stats = users.stats();
/// assert_eq!((stats.l1_hits, stats.negative_hits, stats.origin_loads), (2, 1, 2));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct TieredCache<K, V, B> {
    inner: Arc<Inner<K, V, B>>,
}

struct Inner<K, V, B> {
    l1: Cache<K, Slot<V>>,
    l2: B,
    origin: Option<Box<dyn Origin<K, V>>>,
    config: TieredConfig,
    clock: Arc<dyn Clock>,
    counters: TierCounters,
    stripes: Box<[Stripe]>,
    hasher: ahash::RandomState,
}

/// Writes started and finished on the keys of one stripe.
#[derive(Debug, Default)]
struct Stripe {
    started: AtomicU64,
    finished: AtomicU64,
}

/// A write in progress on one stripe (or all): counted finished when dropped — also when the
/// caller drops the write's future before L2 answers, so a cancelled write never leaves its
/// stripes looking busy (which would make every later load of them skip L1).
struct Writing<'a> {
    stripes: &'a [Stripe],
    /// The stripe, or `None` for all.
    stripe: Option<usize>,
}

impl<'a> Writing<'a> {
    fn one(stripes: &'a [Stripe], stripe: usize) -> Writing<'a> {
        Writing {
            stripes,
            stripe: Some(stripe),
        }
    }
}

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        match self.stripe {
            Some(stripe) => {
                if let Some(s) = self.stripes.get(stripe) {
                    s.finished.fetch_add(1, Ordering::SeqCst);
                }
            }
            None => {
                for s in self.stripes {
                    s.finished.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
    }
}

/// A stripe's counts when a load began.
#[derive(Debug, Clone, Copy)]
struct Guard {
    stripe: usize,
    started: u64,
    finished: u64,
}

/// Where a load starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    /// Ask L2, then the origin.
    L2,
    /// L2 was asked (by `get_many`) and has no value: the origin, whose value fills L2.
    OriginL2Missed,
    /// L2 failed (in `get_many`): the origin, whose value is not written to L2.
    OriginL2Failed,
}

/// Why a load produced nothing to cache.
#[derive(Debug)]
enum Fail {
    /// The key is absent and absence is not cached.
    Missing,
    /// A real failure.
    Tier(TierError),
}

impl<K, V, B> Clone for TieredCache<K, V, B> {
    fn clone(&self) -> Self {
        TieredCache {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<K, V, B: fmt::Debug> fmt::Debug for TieredCache<K, V, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TieredCache")
            .field("l1", &self.inner.l1)
            .field("l2", &self.inner.l2)
            .field("origin", &self.inner.origin.is_some())
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// What L1 said about a key.
enum L1Answer<V> {
    Value(V),
    Absent,
    Miss,
}

impl<K, V, B> TieredCache<K, V, B>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    B: Backend<K, V> + 'static,
{
    /// Starts a builder with `l1` (capacity, L1 TTL, weigher...) over `l2`.
    pub fn builder(l1: crate::CacheBuilder<K, Slot<V>>, l2: B) -> TieredBuilder<K, V, B> {
        TieredBuilder::new(l1, l2)
    }

    pub(crate) fn from_parts(
        l1: Cache<K, Slot<V>>,
        l2: B,
        origin: Option<Box<dyn Origin<K, V>>>,
        config: TieredConfig,
        clock: Arc<dyn Clock>,
    ) -> TieredCache<K, V, B> {
        tracing::debug!(
            policy = ?config.write_policy,
            l2_ttl = ?config.l2_ttl,
            negative_ttl = ?config.negative_ttl,
            origin = origin.is_some(),
            "tiered cache built"
        );
        TieredCache {
            inner: Arc::new(Inner {
                l1,
                l2,
                origin,
                config,
                clock,
                counters: TierCounters::default(),
                stripes: (0..STRIPES).map(|_| Stripe::default()).collect(),
                hasher: ahash::RandomState::with_seeds(
                    0x5851_f42d,
                    0x4c95_7f2d,
                    0x1405_7b7e,
                    0xf767_814f,
                ),
            }),
        }
    }

    /// The value of `key`: from L1, else L2, else the origin (see [`TieredCache`]).
    /// `Ok(None)` when the key is absent everywhere asked.
    pub async fn get(&self, key: &K) -> Result<Option<V>, TierError> {
        match self.ask_l1(key) {
            L1Answer::Value(value) => return Ok(Some(value)),
            L1Answer::Absent => return Ok(None),
            L1Answer::Miss => {}
        }
        self.load(key.clone(), Start::L2).await
    }

    /// The values of `keys`, in order: L1 first, then one [`Backend::get_many`] for the L1
    /// misses, then the origin (single-flight per key) for keys L2 lacks.
    pub async fn get_many(&self, keys: &[K]) -> Result<Vec<Option<V>>, TierError> {
        let mut values = Vec::with_capacity(keys.len());
        let mut missing = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            match self.ask_l1(key) {
                L1Answer::Value(value) => values.push(Some(value)),
                L1Answer::Absent => values.push(None),
                L1Answer::Miss => {
                    values.push(None);
                    missing.push(i);
                }
            }
        }
        if missing.is_empty() {
            return Ok(values);
        }
        let inner = &self.inner;
        let wanted: Vec<K> = missing.iter().map(|&i| keys[i].clone()).collect();
        let guards: Vec<Guard> = wanted.iter().map(|key| inner.guard(key)).collect();
        let asked = inner.l2.get_many(&wanted).await.and_then(|found| {
            if found.len() == wanted.len() {
                Ok(found)
            } else {
                Err(BackendError::new(
                    BackendOp::Get,
                    format!("get_many of {} keys answered {}", wanted.len(), found.len()),
                ))
            }
        });
        let (found, then) = match asked {
            Ok(found) => (found, Start::OriginL2Missed),
            Err(err) => {
                TierCounters::bump(&inner.counters.l2_errors);
                tracing::debug!(error = %err, keys = wanted.len(), "l2 get_many failed");
                if inner.origin.is_none() {
                    return Err(err.into());
                }
                (Vec::new(), Start::OriginL2Failed)
            }
        };
        let mut found = found.into_iter();
        for ((i, key), guard) in missing.into_iter().zip(wanted).zip(guards) {
            match found.next().flatten() {
                Some(value) => {
                    TierCounters::bump(&inner.counters.l2_hits);
                    inner.l1.insert(key.clone(), Slot::Present(value.clone()));
                    inner.settle(&key, guard);
                    values[i] = Some(value);
                }
                None => {
                    if then == Start::OriginL2Missed {
                        TierCounters::bump(&inner.counters.l2_misses);
                    }
                    // The guard from before the L2 read: a write landing between that read
                    // and the origin load must drop what the load leaves in L1.
                    values[i] = self.load_guarded(key, then, guard).await?;
                }
            }
        }
        Ok(values)
    }

    /// Writes `value` to L2 (with [`TieredConfig::l2_ttl`]), then to or out of L1 by the
    /// [`WritePolicy`].
    pub async fn set(&self, key: K, value: V) -> Result<(), TierError> {
        self.set_with(key, value, &InsertOptions::new()).await
    }

    /// Writes `value` with its own TTL (in both levels; the L2 TTL defaults to
    /// [`TieredConfig::l2_ttl`]) and tags (kept in both levels). A zero TTL is refused before
    /// anything is written.
    pub async fn set_with(
        &self,
        key: K,
        value: V,
        options: &InsertOptions,
    ) -> Result<(), TierError> {
        check_ttl(options)?;
        let inner = &self.inner;
        let guard = inner.begin_write(inner.stripe(&key));
        let _finished = Writing::one(&inner.stripes, guard.stripe);
        let l2_options = inner.l2_options(options);
        let written = inner.l2.set(&key, &value, &l2_options).await;
        // The stripes' writes count as finished when `_finished` drops, after this.
        match written {
            Ok(()) => {
                inner.fill_after_write(key, value, options, &guard);
                Ok(())
            }
            Err(err) => {
                TierCounters::bump(&inner.counters.l2_errors);
                tracing::debug!(error = %err, "l2 set failed; key removed from l1");
                inner.l1.remove(&key);
                Err(err.into())
            }
        }
    }

    /// Writes every pair with one [`Backend::set_many`], then to or out of L1 by the
    /// [`WritePolicy`].
    pub async fn set_many(&self, entries: Vec<(K, V)>) -> Result<(), TierError> {
        let inner = &self.inner;
        // One write a stripe, however many of the batch's keys fall in it.
        let mut stripes: Vec<usize> = entries.iter().map(|(k, _)| inner.stripe(k)).collect();
        stripes.sort_unstable();
        stripes.dedup();
        let guards: Vec<Guard> = stripes.iter().map(|&s| inner.begin_write(s)).collect();
        let _finished: Vec<Writing<'_>> = guards
            .iter()
            .map(|g| Writing::one(&inner.stripes, g.stripe))
            .collect();
        let guard_of = |key: &K| {
            let stripe = inner.stripe(key);
            guards.iter().find(|g| g.stripe == stripe)
        };
        let l2_options = inner.l2_options(&InsertOptions::new());
        let written = inner.l2.set_many(&entries, &l2_options).await;
        // The stripes' writes count as finished when `_finished` drops, after this.
        match written {
            Ok(()) => {
                for (key, value) in entries {
                    match guard_of(&key) {
                        Some(guard) => {
                            inner.fill_after_write(key, value, &InsertOptions::new(), guard);
                        }
                        None => {
                            inner.l1.remove(&key);
                        }
                    }
                }
                Ok(())
            }
            Err(err) => {
                TierCounters::bump(&inner.counters.l2_errors);
                tracing::debug!(error = %err, keys = entries.len(), "l2 set_many failed");
                for (key, _) in &entries {
                    inner.l1.remove(key);
                }
                Err(err.into())
            }
        }
    }

    /// Deletes `key` from L2 and L1; whether L2 held it. L1 forgets it even if L2 fails.
    pub async fn delete(&self, key: &K) -> Result<bool, TierError> {
        let inner = &self.inner;
        let guard = inner.begin_write(inner.stripe(key));
        let _finished = Writing::one(&inner.stripes, guard.stripe);
        let deleted = inner.l2.delete(key).await;
        inner.l1.remove(key);
        deleted.map_err(|err| {
            TierCounters::bump(&inner.counters.l2_errors);
            err.into()
        })
    }

    /// Removes every key stored with `tag` from L2, and clears L1, returning how many L2
    /// removed. L1 is cleared even if L2 fails.
    ///
    /// L1 is cleared whole because a value a read brought up from L2 or the origin does not
    /// carry the tags it was written with (the [`Backend`] returns values only), so L1 cannot
    /// tell which of its entries the tag covers; the next reads refill it from L2.
    ///
    /// The trade-off: exact L1 invalidation would need the tags with every value read, and no
    /// store gives them cheaply — Redis would read a second structure (the key's tag record)
    /// on every `GET`, and `MGET` would become a script, slowing the hottest path to speed up a
    /// rare one. Asking L2 which keys it removed is not enough either: a key whose L2 copy
    /// expired or was evicted (Redis under `maxmemory`) is no longer listed under its tags
    /// while L1 may still hold it. So a tag invalidation costs a burst of L2 reads as L1
    /// refills; keep tag invalidations rare next to reads, or use
    /// [`invalidate_pattern`](TieredCache::invalidate_pattern), which L1 applies exactly
    /// because it matches keys, not tags.
    pub async fn invalidate_tag(&self, tag: &str) -> Result<u64, TierError> {
        let inner = &self.inner;
        let finished = inner.begin_all();
        let removed = inner.l2.invalidate_tag(tag).await;
        let l1 = inner.l1.len();
        inner.l1.clear();
        drop(finished);
        tracing::debug!(tag, l1, l2 = ?removed.as_ref().ok(), "tiered tag invalidation");
        removed.map_err(|err| {
            TierCounters::bump(&inner.counters.l2_errors);
            err.into()
        })
    }

    /// The cached values in L1 (present or absent), for inspection.
    #[must_use]
    pub fn l1(&self) -> &Cache<K, Slot<V>> {
        &self.inner.l1
    }

    /// The L2 backend.
    #[must_use]
    pub fn l2(&self) -> &B {
        &self.inner.l2
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &TieredConfig {
        &self.inner.config
    }

    /// The per-level counts.
    #[must_use]
    pub fn stats(&self) -> TierStats {
        self.inner.counters.snapshot(self.inner.l1.stats())
    }

    fn ask_l1(&self, key: &K) -> L1Answer<V> {
        let inner = &self.inner;
        match inner.l1.get(key) {
            Some(Slot::Present(value)) => {
                TierCounters::bump(&inner.counters.l1_hits);
                L1Answer::Value(value)
            }
            Some(Slot::Absent { until }) if until > inner.clock.now() => {
                TierCounters::bump(&inner.counters.negative_hits);
                L1Answer::Absent
            }
            Some(Slot::Absent { .. }) => {
                // A negative entry past its deadline: forget it (removing is always safe).
                inner.l1.remove(key);
                TierCounters::bump(&inner.counters.l1_misses);
                L1Answer::Miss
            }
            None => {
                TierCounters::bump(&inner.counters.l1_misses);
                L1Answer::Miss
            }
        }
    }

    /// One single-flight load of `key` into L1, starting at `start`.
    async fn load(&self, key: K, start: Start) -> Result<Option<V>, TierError> {
        let guard = self.inner.guard(&key);
        self.load_guarded(key, start, guard).await
    }

    /// A load whose overlap with writes is judged from `guard`, taken before the first level
    /// this read asked (L2 already, when `start` skips it).
    async fn load_guarded(
        &self,
        key: K,
        start: Start,
        guard: Guard,
    ) -> Result<Option<V>, TierError> {
        let inner = Arc::clone(&self.inner);
        let loaded = self
            .inner
            .l1
            .get_or_load_async(key.clone(), move |key| async move {
                inner.fetch(key, start).await
            })
            .await;
        self.inner.settle(&key, guard);
        match loaded {
            Ok(slot) => Ok(slot.into_value()),
            Err(LoadError::Failed(fail)) => match &*fail {
                Fail::Missing => Ok(None),
                Fail::Tier(err) => Err(err.clone()),
            },
            Err(_) => Err(TierError::LoadPanicked),
        }
    }
}

impl<K, V, B> TieredCache<K, V, B>
where
    K: Hash + Eq + Clone + Send + Sync + AsRef<str> + 'static,
    V: Clone + Send + Sync + 'static,
    B: Backend<K, V> + 'static,
{
    /// Removes every key matching the glob `pattern` from L2 and L1, returning how many L2
    /// removed. A malformed pattern is refused before anything is removed; L1 is invalidated
    /// even if L2 fails.
    pub async fn invalidate_pattern(&self, pattern: &str) -> Result<u64, TierError> {
        let compiled = crate::KeyPattern::new(pattern)?;
        let inner = &self.inner;
        let finished = inner.begin_all();
        let removed = inner.l2.invalidate_pattern(pattern).await;
        let l1 = inner
            .l1
            .invalidate_matching(|key| compiled.matches(key.as_ref()));
        drop(finished);
        tracing::debug!(pattern, l1, l2 = ?removed.as_ref().ok(), "tiered pattern invalidation");
        removed.map_err(|err| {
            TierCounters::bump(&inner.counters.l2_errors);
            err.into()
        })
    }
}

fn check_ttl(options: &InsertOptions) -> Result<(), TierError> {
    if options.ttl.is_some_and(|ttl| ttl.is_zero()) {
        return Err(crate::Error::from(ha_core::Error::Zero { name: "ttl" }).into());
    }
    Ok(())
}

impl<K, V, B> Inner<K, V, B>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    B: Backend<K, V> + 'static,
{
    fn stripe(&self, key: &K) -> usize {
        self.hasher.hash_one(key) as usize % STRIPES
    }

    fn guard(&self, key: &K) -> Guard {
        let stripe = self.stripe(key);
        let s = &self.stripes[stripe];
        // `finished` before `started`: a write finishing in between shows as started ≠ finished.
        let finished = s.finished.load(Ordering::SeqCst);
        let started = s.started.load(Ordering::SeqCst);
        Guard {
            stripe,
            started,
            finished,
        }
    }

    /// After a load filled L1: if a write of the key's stripe overlapped the load, the value
    /// may be older than that write, so L1 forgets it.
    fn settle(&self, key: &K, guard: Guard) {
        let s = &self.stripes[guard.stripe];
        let started = s.started.load(Ordering::SeqCst);
        let finished = s.finished.load(Ordering::SeqCst);
        if started != guard.started || finished != guard.finished || started != finished {
            tracing::debug!(
                stripe = guard.stripe,
                writes = started - guard.started,
                "load overlapped a write; key dropped from l1"
            );
            self.l1.remove(key);
        }
    }

    /// Counts a write of `stripe` as started; the guard holds the counts from just before.
    fn begin_write(&self, stripe: usize) -> Guard {
        let s = &self.stripes[stripe];
        // `finished` before `started`, as in `guard`: a write finishing in between shows as
        // one still running, which only makes the fill more cautious.
        let finished = s.finished.load(Ordering::SeqCst);
        let started = s.started.fetch_add(1, Ordering::SeqCst);
        Guard {
            stripe,
            started,
            finished,
        }
    }

    /// Whether another write of the guard's stripe ran alongside this one: running when it
    /// began, or begun since. Two such writes may land in L2 in one order and in L1 in the
    /// other, so neither may fill L1.
    fn write_overlapped(&self, guard: &Guard) -> bool {
        let started = self.stripes[guard.stripe].started.load(Ordering::SeqCst);
        guard.started != guard.finished || started != guard.started + 1
    }

    /// Counts a write of every stripe as started, until the returned value is dropped.
    fn begin_all(&self) -> Writing<'_> {
        for s in self.stripes.iter() {
            s.started.fetch_add(1, Ordering::SeqCst);
        }
        Writing {
            stripes: &self.stripes,
            stripe: None,
        }
    }

    fn l2_options(&self, options: &InsertOptions) -> InsertOptions {
        InsertOptions {
            ttl: options.ttl.or(self.config.l2_ttl),
            tags: options.tags.clone(),
        }
    }

    /// L1 after `key` was written to L2: the new value (write-through), unless another write
    /// of the stripe overlapped this one — checked before the insert and again after it, so a
    /// write beginning in between is seen by one check or the other — or nothing.
    fn fill_after_write(&self, key: K, value: V, options: &InsertOptions, guard: &Guard) {
        match self.config.write_policy {
            WritePolicy::WriteThrough if self.write_overlapped(guard) => {
                tracing::debug!(
                    stripe = guard.stripe,
                    "writes overlapped; key dropped from l1"
                );
                self.l1.remove(&key);
            }
            WritePolicy::WriteThrough => {
                if let Err(err) = self
                    .l1
                    .insert_with(key.clone(), Slot::Present(value), options)
                {
                    // Too heavy for L1: L2 has it, L1 must not keep an older value.
                    tracing::debug!(error = %err, "written value not kept in l1");
                    self.l1.remove(&key);
                } else if self.write_overlapped(guard) {
                    tracing::debug!(stripe = guard.stripe, "a write began; key dropped from l1");
                    self.l1.remove(&key);
                }
            }
            WritePolicy::InvalidateOnWrite => {
                self.l1.remove(&key);
            }
        }
    }

    fn absent(&self) -> Result<Slot<V>, Fail> {
        match self.config.negative_ttl {
            Some(ttl) => {
                TierCounters::bump(&self.counters.negative_inserts);
                // `validate` bounds the TTL, so the deadline fits; were it not to, the absence
                // is simply not remembered.
                match self.clock.now().checked_add(ttl) {
                    Some(until) => Ok(Slot::Absent { until }),
                    None => Err(Fail::Missing),
                }
            }
            None => Err(Fail::Missing),
        }
    }

    /// The loader behind every single-flight load: L2 (from [`Start::L2`]), then the origin.
    async fn fetch(&self, key: K, start: Start) -> Result<Slot<V>, Fail> {
        let mut l2_failed = start == Start::OriginL2Failed;
        if l2_failed {
            TierCounters::bump(&self.counters.fallbacks);
        }
        if start == Start::L2 {
            match self.l2.get(&key).await {
                Ok(Some(value)) => {
                    TierCounters::bump(&self.counters.l2_hits);
                    return Ok(Slot::Present(value));
                }
                Ok(None) => TierCounters::bump(&self.counters.l2_misses),
                Err(err) => {
                    TierCounters::bump(&self.counters.l2_errors);
                    if self.origin.is_none() {
                        tracing::debug!(error = %err, "l2 read failed, no origin");
                        return Err(Fail::Tier(err.into()));
                    }
                    tracing::debug!(error = %err, "l2 read failed, falling back to the origin");
                    TierCounters::bump(&self.counters.fallbacks);
                    l2_failed = true;
                }
            }
        }
        let Some(origin) = &self.origin else {
            return self.absent();
        };
        TierCounters::bump(&self.counters.origin_loads);
        match origin.load(&key).await {
            Ok(Some(value)) => {
                // After an L2 failure the origin's value is not written back to L2 (it is
                // failing); for keys L2 answered "absent" it is.
                if !l2_failed {
                    // `set_if_absent`: a fill never overwrites a write that landed meanwhile.
                    let options = self.l2_options(&InsertOptions::new());
                    match self.l2.set_if_absent(&key, &value, &options).await {
                        Ok(true) => {}
                        Ok(false) => {
                            // A write landed in L2 during the load: it is newer than ours.
                            if let Ok(Some(newer)) = self.l2.get(&key).await {
                                tracing::debug!("l2 was written during the origin load");
                                return Ok(Slot::Present(newer));
                            }
                        }
                        Err(err) => {
                            TierCounters::bump(&self.counters.l2_errors);
                            tracing::debug!(error = %err, "l2 fill after an origin load failed");
                        }
                    }
                }
                Ok(Slot::Present(value))
            }
            Ok(None) => {
                TierCounters::bump(&self.counters.origin_misses);
                self.absent()
            }
            Err(err) => {
                TierCounters::bump(&self.counters.origin_errors);
                tracing::debug!(error = %err, "origin load failed");
                Err(Fail::Tier(TierError::Origin(Arc::from(err))))
            }
        }
    }
}
