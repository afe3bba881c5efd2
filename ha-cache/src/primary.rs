//! The cache edges sync from: a [`Cache`] whose every change is recorded in an
//! [`InvalidationLog`].

use std::hash::Hash;

use parking_lot::Mutex;

use crate::deferred::Deferral;
use crate::{
    Cache, Change, Changes, InsertOptions, InvalidationLog, KeyPattern, Result, Snapshot,
    SnapshotEntry,
};

/// A primary cache: writes go to its [`Cache`] and, under the same lock and in the same order,
/// to its [`InvalidationLog`], so the log replays to exactly the primary's contents. Edges
/// ([`Edge`](crate::Edge)) ask it [`changes_since`](Primary::changes_since) their version.
///
/// Reads go straight to the cache ([`Primary::cache`]); only writes take the log lock. The
/// cache's eviction listener is called after that lock is released, so it may use the primary
/// (read its version, even write).
///
/// Every primary has an epoch (see [`InvalidationLog`]): give each start of a primary a new
/// one, so edges that synced from the previous run notice and reload instead of trusting
/// versions that now name other changes.
///
/// ```
/// use ha_cache::{Cache, Primary};
///
/// let epoch = 0x9e37_79b9; // at a real start: rand::random(), or a persisted counter
/// let primary = Primary::new(Cache::<String, u32>::builder(1_000).build()?, 128, epoch)?;
/// assert_eq!(primary.set("a".into(), 1)?, 1);
/// assert_eq!(primary.epoch(), epoch);
/// # Ok::<(), ha_cache::Error>(())
/// ```
#[derive(Debug)]
pub struct Primary<K, V> {
    cache: Cache<K, V>,
    log: Mutex<InvalidationLog<K, V>>,
}

impl<K, V> Primary<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + AsRef<str> + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// A primary over `cache` (which should start empty) keeping the newest `log_entries`
    /// changes (zero is refused), in log epoch `epoch`.
    pub fn new(cache: Cache<K, V>, log_entries: usize, epoch: u64) -> Result<Primary<K, V>> {
        tracing::debug!(log_entries, epoch, "primary started");
        Ok(Primary {
            cache,
            log: Mutex::new(InvalidationLog::new(log_entries, epoch)?),
        })
    }

    /// Sets `key` to `value`; returns the change's version.
    pub fn set(&self, key: K, value: V) -> Result<u64> {
        self.set_with(key, value, &InsertOptions::new())
    }

    /// Sets `key` to `value` with its own TTL and tags; returns the change's version. A refused
    /// insert (zero TTL, too heavy) changes nothing and logs nothing.
    pub fn set_with(&self, key: K, value: V, options: &InsertOptions) -> Result<u64> {
        let _listeners_after_unlock = Deferral::start();
        let mut log = self.log.lock();
        self.cache
            .insert_with(key.clone(), value.clone(), options)?;
        Ok(log.append(Change::Set {
            key,
            value,
            ttl: options.ttl,
            tags: options.tags.iter().map(|t| t.to_string()).collect(),
        }))
    }

    /// Removes `key`; returns the change's version.
    pub fn delete(&self, key: &K) -> u64 {
        let _listeners_after_unlock = Deferral::start();
        let mut log = self.log.lock();
        self.cache.remove(key);
        log.append(Change::Delete { key: key.clone() })
    }

    /// Removes the keys matching the glob `pattern`; returns the change's version. A malformed
    /// pattern is refused and logs nothing.
    pub fn invalidate_pattern(&self, pattern: &str) -> Result<u64> {
        let compiled = KeyPattern::new(pattern)?;
        let _listeners_after_unlock = Deferral::start();
        let mut log = self.log.lock();
        self.cache
            .invalidate_matching(|key| compiled.matches(key.as_ref()));
        Ok(log.append(Change::InvalidatePattern {
            pattern: pattern.to_string(),
        }))
    }

    /// Removes the keys stored with `tag`; returns the change's version.
    pub fn invalidate_tag(&self, tag: &str) -> u64 {
        let _listeners_after_unlock = Deferral::start();
        let mut log = self.log.lock();
        self.cache.invalidate_tag(tag);
        log.append(Change::InvalidateTag {
            tag: tag.to_string(),
        })
    }

    /// Removes everything; returns the change's version.
    pub fn clear(&self) -> u64 {
        let _listeners_after_unlock = Deferral::start();
        let mut log = self.log.lock();
        self.cache.clear();
        log.append(Change::Clear)
    }

    /// What an edge at `version` must apply (see [`InvalidationLog::changes_since`]).
    #[must_use]
    pub fn changes_since(&self, version: u64) -> Changes<K, V> {
        self.log.lock().changes_since(version)
    }

    /// The primary's entries for `keys` (those it holds, each with its remaining time to live
    /// and its tags) and the epoch and version they are current at, read under the log lock so
    /// no write falls between them; for warming an edge with
    /// [`Edge::apply_snapshot`](crate::Edge::apply_snapshot). The cache cannot be listed, so
    /// the caller names the keys (its hot set, or the keys an edge held when it reloaded:
    /// [`Edge::sync_with_primary`](crate::Edge::sync_with_primary) does that).
    pub fn snapshot(&self, keys: impl IntoIterator<Item = K>) -> Snapshot<K, V> {
        // The caller's iterator runs before the lock is taken: it may use the primary.
        let keys: Vec<K> = keys.into_iter().collect();
        let log = self.log.lock();
        let entries = keys
            .into_iter()
            .filter_map(|key| {
                let (value, ttl, tags) = self.cache.peek_entry(&key)?;
                Some(SnapshotEntry {
                    key,
                    value,
                    ttl,
                    tags: tags.iter().map(|t| t.to_string()).collect(),
                })
            })
            .collect();
        Snapshot {
            epoch: log.epoch(),
            version: log.latest_version(),
            entries,
        }
    }

    /// Keeps only the newest `keep` log entries.
    pub fn truncate_log(&self, keep: usize) {
        self.log.lock().truncate(keep);
    }

    /// The version of the newest change.
    #[must_use]
    pub fn version(&self) -> u64 {
        self.log.lock().latest_version()
    }

    /// The log's epoch.
    #[must_use]
    pub fn epoch(&self) -> u64 {
        self.log.lock().epoch()
    }

    /// The primary's cache, for reads.
    #[must_use]
    pub fn cache(&self) -> &Cache<K, V> {
        &self.cache
    }

    /// Checks the log's invariants.
    pub fn check_invariants(&self) -> std::result::Result<(), String> {
        self.log.lock().check_invariants()
    }
}
