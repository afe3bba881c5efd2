//! The cache edges sync from: a [`Cache`] whose every change is recorded in an
//! [`InvalidationLog`].

use std::hash::Hash;

use parking_lot::Mutex;

use crate::{Cache, Change, Changes, InsertOptions, InvalidationLog, KeyPattern, Result, Snapshot};

/// A primary cache: writes go to its [`Cache`] and, under the same lock and in the same order,
/// to its [`InvalidationLog`], so the log replays to exactly the primary's contents. Edges
/// ([`Edge`](crate::Edge)) ask it [`changes_since`](Primary::changes_since) their version.
///
/// Reads go straight to the cache ([`Primary::cache`]); only writes take the log lock. The
/// cache's eviction listener runs under that lock, so it must not write to the primary.
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
    /// A primary over `cache` keeping the newest `log_entries` changes (zero is refused).
    pub fn new(cache: Cache<K, V>, log_entries: usize) -> Result<Primary<K, V>> {
        Ok(Primary {
            cache,
            log: Mutex::new(InvalidationLog::new(log_entries)?),
        })
    }

    /// Sets `key` to `value`; returns the change's version.
    pub fn set(&self, key: K, value: V) -> Result<u64> {
        self.set_with(key, value, &InsertOptions::new())
    }

    /// Sets `key` to `value` with its own TTL and tags; returns the change's version. A refused
    /// insert (zero TTL, too heavy) changes nothing and logs nothing.
    pub fn set_with(&self, key: K, value: V, options: &InsertOptions) -> Result<u64> {
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
        let mut log = self.log.lock();
        self.cache.remove(key);
        log.append(Change::Delete { key: key.clone() })
    }

    /// Removes the keys matching the glob `pattern`; returns the change's version. A malformed
    /// pattern is refused and logs nothing.
    pub fn invalidate_pattern(&self, pattern: &str) -> Result<u64> {
        let compiled = KeyPattern::new(pattern)?;
        let mut log = self.log.lock();
        self.cache
            .invalidate_matching(|key| compiled.matches(key.as_ref()));
        Ok(log.append(Change::InvalidatePattern {
            pattern: pattern.to_string(),
        }))
    }

    /// Removes the keys stored with `tag`; returns the change's version.
    pub fn invalidate_tag(&self, tag: &str) -> u64 {
        let mut log = self.log.lock();
        self.cache.invalidate_tag(tag);
        log.append(Change::InvalidateTag {
            tag: tag.to_string(),
        })
    }

    /// Removes everything; returns the change's version.
    pub fn clear(&self) -> u64 {
        let mut log = self.log.lock();
        self.cache.clear();
        log.append(Change::Clear)
    }

    /// What an edge at `version` must apply (see [`InvalidationLog::changes_since`]).
    #[must_use]
    pub fn changes_since(&self, version: u64) -> Changes<K, V> {
        self.log.lock().changes_since(version)
    }

    /// The primary's values of `keys` (those it holds) and the version they are current at,
    /// read under the log lock so no write falls between them; for warming an edge after a
    /// reload with [`Edge::apply_snapshot`](crate::Edge::apply_snapshot). The cache cannot be
    /// listed, so the caller names the keys (its hot set, or the edge's recent misses).
    pub fn snapshot(&self, keys: impl IntoIterator<Item = K>) -> Snapshot<K, V> {
        let log = self.log.lock();
        let entries = keys
            .into_iter()
            .filter_map(|key| self.cache.peek(&key).map(|value| (key, value)))
            .collect();
        Snapshot {
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
