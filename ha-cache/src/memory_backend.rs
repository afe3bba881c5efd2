//! An in-memory [`Backend`] for tests, examples and single-process use.

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use async_trait::async_trait;
use ha_core::{Clock, SystemClock};
use parking_lot::Mutex;

use crate::backend::{Backend, BackendError, BackendOp};
use crate::{InsertOptions, KeyPattern};

struct Stored<V> {
    value: V,
    deadline: Option<Instant>,
    tags: Vec<Arc<str>>,
}

/// An in-memory L2: a `parking_lot`-guarded map with per-entry TTL read from an injected
/// [`Clock`], tag membership, and glob invalidation over each key's `Display` text.
///
/// It can be switched [unavailable](MemoryBackend::set_available) to rehearse an L2 outage:
/// every call then fails with a [`BackendError`]. Clones share one store, so tests keep a handle
/// to what the tiered cache writes.
///
/// ```
/// use std::time::Duration;
/// use ha_cache::{Backend, InsertOptions, MemoryBackend};
/// use ha_core::ManualClock;
///
/// let clock = ManualClock::new();
/// let l2: MemoryBackend<String, u32> = MemoryBackend::with_clock(clock.clone());
/// futures::executor::block_on(async {
///     let ttl = InsertOptions::new().ttl(Duration::from_secs(10)).tag("red");
///     l2.set(&"a".to_string(), &1, &ttl).await?;
///     assert_eq!(l2.get(&"a".to_string()).await?, Some(1));
///     clock.advance(Duration::from_secs(10));
///     assert_eq!(l2.get(&"a".to_string()).await?, None); // expired
///     l2.set(&"user:1".to_string(), &7, &InsertOptions::new()).await?;
///     assert_eq!(l2.invalidate_pattern("user:*").await?, 1);
///     l2.set_available(false);
///     assert!(l2.get(&"b".to_string()).await.is_err());
///     Ok::<(), ha_cache::BackendError>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct MemoryBackend<K, V> {
    inner: Arc<Inner<K, V>>,
}

struct Inner<K, V> {
    map: Mutex<HashMap<K, Stored<V>>>,
    clock: Arc<dyn Clock>,
    available: AtomicBool,
}

impl<K, V> Clone for MemoryBackend<K, V> {
    fn clone(&self) -> Self {
        MemoryBackend {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<K, V> fmt::Debug for MemoryBackend<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryBackend")
            .field("entries", &self.inner.map.lock().len())
            .field("available", &self.inner.available.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl<K, V> Default for MemoryBackend<K, V> {
    fn default() -> Self {
        MemoryBackend::with_clock(SystemClock)
    }
}

/// The error of an unavailable [`MemoryBackend`].
#[derive(Debug, thiserror::Error)]
#[error("the memory backend is marked unavailable")]
struct Unavailable;

impl<K, V> MemoryBackend<K, V> {
    /// An empty store on the system clock.
    #[must_use]
    pub fn new() -> MemoryBackend<K, V> {
        MemoryBackend::default()
    }

    /// An empty store reading time from `clock` (a [`ManualClock`](ha_core::ManualClock) in
    /// tests).
    pub fn with_clock(clock: impl Clock + 'static) -> MemoryBackend<K, V> {
        MemoryBackend {
            inner: Arc::new(Inner {
                map: Mutex::new(HashMap::new()),
                clock: Arc::new(clock),
                available: AtomicBool::new(true),
            }),
        }
    }

    /// Makes every later call succeed (`true`) or fail with a [`BackendError`] (`false`).
    pub fn set_available(&self, available: bool) {
        self.inner.available.store(available, Ordering::SeqCst);
    }

    /// How many entries are stored, expired ones included until they are next touched.
    #[must_use]
    pub fn len(&self) -> usize {
        self.inner.map.lock().len()
    }

    /// Whether nothing is stored.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn check(&self, op: BackendOp) -> Result<(), BackendError> {
        if self.inner.available.load(Ordering::SeqCst) {
            Ok(())
        } else {
            Err(BackendError::new(op, Unavailable))
        }
    }
}

impl<K, V> MemoryBackend<K, V>
where
    K: Hash + Eq + Clone,
    V: Clone,
{
    fn read(map: &mut HashMap<K, Stored<V>>, key: &K, now: Instant) -> Option<V> {
        match map.get(key) {
            Some(stored) if stored.deadline.is_some_and(|d| d <= now) => {
                map.remove(key);
                None
            }
            Some(stored) => Some(stored.value.clone()),
            None => None,
        }
    }

    fn write(&self, map: &mut HashMap<K, Stored<V>>, key: &K, value: &V, options: &InsertOptions) {
        // A TTL past what an `Instant` can hold never expires.
        let deadline = options
            .ttl
            .and_then(|ttl| self.inner.clock.now().checked_add(ttl));
        let stored = Stored {
            value: value.clone(),
            deadline,
            tags: options.tags.clone(),
        };
        map.insert(key.clone(), stored);
    }

    fn remove_where(&self, predicate: impl Fn(&K, &Stored<V>) -> bool) -> u64 {
        let now = self.inner.clock.now();
        let mut map = self.inner.map.lock();
        let before = map.len();
        let mut expired = 0;
        map.retain(|key, stored| {
            if stored.deadline.is_some_and(|d| d <= now) {
                expired += 1;
                false
            } else {
                !predicate(key, stored)
            }
        });
        (before - map.len() - expired) as u64
    }
}

#[async_trait]
impl<K, V> Backend<K, V> for MemoryBackend<K, V>
where
    K: Hash + Eq + Clone + fmt::Display + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    async fn get(&self, key: &K) -> Result<Option<V>, BackendError> {
        self.check(BackendOp::Get)?;
        let now = self.inner.clock.now();
        Ok(Self::read(&mut self.inner.map.lock(), key, now))
    }

    async fn set(&self, key: &K, value: &V, options: &InsertOptions) -> Result<(), BackendError> {
        self.check(BackendOp::Set)?;
        self.write(&mut self.inner.map.lock(), key, value, options);
        Ok(())
    }

    async fn set_if_absent(
        &self,
        key: &K,
        value: &V,
        options: &InsertOptions,
    ) -> Result<bool, BackendError> {
        self.check(BackendOp::Set)?;
        let now = self.inner.clock.now();
        let mut map = self.inner.map.lock();
        if Self::read(&mut map, key, now).is_some() {
            return Ok(false);
        }
        self.write(&mut map, key, value, options);
        Ok(true)
    }

    async fn delete(&self, key: &K) -> Result<bool, BackendError> {
        self.check(BackendOp::Delete)?;
        let now = self.inner.clock.now();
        let removed = self.inner.map.lock().remove(key);
        Ok(removed.is_some_and(|stored| stored.deadline.is_none_or(|d| d > now)))
    }

    async fn get_many(&self, keys: &[K]) -> Result<Vec<Option<V>>, BackendError> {
        self.check(BackendOp::Get)?;
        let now = self.inner.clock.now();
        let mut map = self.inner.map.lock();
        Ok(keys
            .iter()
            .map(|key| Self::read(&mut map, key, now))
            .collect())
    }

    async fn set_many(
        &self,
        entries: &[(K, V)],
        options: &InsertOptions,
    ) -> Result<(), BackendError> {
        self.check(BackendOp::Set)?;
        let mut map = self.inner.map.lock();
        for (key, value) in entries {
            self.write(&mut map, key, value, options);
        }
        Ok(())
    }

    async fn invalidate_pattern(&self, pattern: &str) -> Result<u64, BackendError> {
        self.check(BackendOp::InvalidatePattern)?;
        let pattern = KeyPattern::new(pattern)
            .map_err(|err| BackendError::new(BackendOp::InvalidatePattern, err))?;
        Ok(self.remove_where(|key, _| pattern.matches(&key.to_string())))
    }

    async fn invalidate_tag(&self, tag: &str) -> Result<u64, BackendError> {
        self.check(BackendOp::InvalidateTag)?;
        Ok(self.remove_where(|_, stored| stored.tags.iter().any(|t| &**t == tag)))
    }
}
