//! An edge cache: a local [`Cache`] kept in sync with a [`Primary`] by replaying its
//! [`InvalidationLog`].

use std::hash::Hash;

use parking_lot::Mutex;

use crate::{Cache, Change, Changes, Error, InsertOptions, KeyPattern, LogEntry, Primary, Result};

/// What one sync did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum SyncOutcome {
    /// Changes were applied (`applied` may be 0: the edge was current).
    Applied {
        /// How many changes were applied.
        applied: usize,
        /// The edge's version now.
        version: u64,
    },
    /// The log no longer reached the edge: it cleared itself and is now at `version`. Warm it
    /// with [`Edge::apply_snapshot`] if wanted.
    Reloaded {
        /// The edge's version now.
        version: u64,
    },
}

/// A snapshot of the primary's contents at `version`, to warm an edge after a reload.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Snapshot<K, V> {
    /// The primary's version when the entries were read.
    pub version: u64,
    /// The entries.
    pub entries: Vec<(K, V)>,
}

/// A read-only copy of a primary, synced by version.
///
/// Sync is sans-IO: the edge says its [`version`](Edge::version), the primary (over whatever
/// transport the application uses) answers [`changes_since`](Primary::changes_since) that
/// version, and the edge [`apply`](Edge::apply)s the answer. [`Edge::sync_with_primary`] does
/// the round trip in process. On [`Changes::Reload`] the edge clears itself and continues from
/// the primary's version: an empty cache holds nothing stale; the application may then warm it
/// with [`Edge::apply_snapshot`] from [`Primary::snapshot`] (or any snapshot taken at a known version).
///
/// Guarantee: after applying the primary's answer for version `v`, every key the edge holds has
/// the value the primary had at `v`. An entry's TTL counts from when the edge applied it, so an
/// edge may keep an entry up to one sync interval after the primary expired it.
///
/// ```
/// use ha_cache::{Cache, Edge, Primary, SyncOutcome};
///
/// let primary = Primary::new(Cache::<String, u32>::builder(1_000).build()?, 128)?;
/// let edge = Edge::new(Cache::builder(100).build()?);
/// primary.set("user:1".into(), 1)?;
/// primary.set("user:2".into(), 2)?;
/// assert_eq!(edge.sync_with_primary(&primary)?, SyncOutcome::Applied { applied: 2, version: 2 });
/// assert_eq!(edge.get("user:1"), Some(1));
///
/// primary.invalidate_pattern("user:*")?;
/// primary.truncate_log(0); // the edge's next change is gone from the log
/// assert_eq!(edge.sync_with_primary(&primary)?, SyncOutcome::Reloaded { version: 3 });
/// assert_eq!(edge.get("user:2"), None);
/// # Ok::<(), ha_cache::Error>(())
/// ```
#[derive(Debug)]
pub struct Edge<K, V> {
    cache: Cache<K, V>,
    version: Mutex<u64>,
}

impl<K, V> Edge<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + AsRef<str> + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// An edge over `cache` at version 0 (before any change). `cache` should start empty.
    #[must_use]
    pub fn new(cache: Cache<K, V>) -> Edge<K, V> {
        Edge {
            cache,
            version: Mutex::new(0),
        }
    }

    /// The version of the last change applied.
    #[must_use]
    pub fn version(&self) -> u64 {
        *self.version.lock()
    }

    /// The edge's value of `key`.
    pub fn get(&self, key: &str) -> Option<V>
    where
        K: std::borrow::Borrow<str>,
    {
        self.cache.get(key)
    }

    /// The edge's cache, for reads (writes belong to the primary).
    #[must_use]
    pub fn cache(&self) -> &Cache<K, V> {
        &self.cache
    }

    /// Asks `primary` for the changes since this edge's version and applies them.
    pub fn sync_with_primary(&self, primary: &Primary<K, V>) -> Result<SyncOutcome> {
        let mut version = self.version.lock();
        let changes = primary.changes_since(*version);
        self.apply_locked(&mut version, changes)
    }

    /// Applies the primary's answer to [`version`](Edge::version). Entries at or below the
    /// edge's version are skipped (a repeated answer is harmless); a batch that starts after
    /// the edge's next version, or is not contiguous, is refused with
    /// [`Error::VersionGap`] and nothing is applied.
    pub fn apply(&self, changes: Changes<K, V>) -> Result<SyncOutcome> {
        let mut version = self.version.lock();
        self.apply_locked(&mut version, changes)
    }

    /// Replaces the edge's contents with `snapshot` and moves to its version. Refuses
    /// ([`Error::StaleSnapshot`]) a snapshot older than the edge's version, changing nothing.
    pub fn apply_snapshot(&self, snapshot: Snapshot<K, V>) -> Result<()> {
        let mut version = self.version.lock();
        if snapshot.version < *version {
            return Err(Error::StaleSnapshot {
                snapshot: snapshot.version,
                edge: *version,
            });
        }
        self.cache.clear();
        for (key, value) in snapshot.entries {
            self.cache.insert(key, value);
        }
        *version = snapshot.version;
        tracing::debug!(version = *version, "edge snapshot applied");
        Ok(())
    }

    fn apply_locked(&self, version: &mut u64, changes: Changes<K, V>) -> Result<SyncOutcome> {
        match changes {
            Changes::Reload { version: to } => {
                self.cache.clear();
                tracing::debug!(from = *version, to, "edge reloaded: cleared");
                *version = to;
                Ok(SyncOutcome::Reloaded { version: to })
            }
            Changes::Entries {
                entries,
                version: to,
            } => {
                let fresh: Vec<LogEntry<K, V>> = entries
                    .into_iter()
                    .filter(|e| e.version > *version)
                    .collect();
                let mut expected = *version + 1;
                for entry in &fresh {
                    if entry.version != expected {
                        return Err(Error::VersionGap {
                            expected,
                            found: entry.version,
                        });
                    }
                    expected += 1;
                }
                if to > *version && fresh.last().map_or(*version, |e| e.version) != to {
                    return Err(Error::VersionGap {
                        expected,
                        found: to,
                    });
                }
                let applied = fresh.len();
                for entry in fresh {
                    self.apply_change(entry.change);
                    *version = entry.version;
                }
                tracing::debug!(applied, version = *version, "edge synced");
                Ok(SyncOutcome::Applied {
                    applied,
                    version: *version,
                })
            }
        }
    }

    fn apply_change(&self, change: Change<K, V>) {
        match change {
            Change::Set {
                key,
                value,
                ttl,
                tags,
            } => {
                let options = InsertOptions {
                    ttl,
                    tags: tags.into_iter().map(Into::into).collect(),
                };
                if self
                    .cache
                    .insert_with(key.clone(), value, &options)
                    .is_err()
                {
                    // Refused (too heavy for the edge, zero TTL): the old value must not stay.
                    self.cache.remove(&key);
                }
            }
            Change::Delete { key } => {
                self.cache.remove(&key);
            }
            Change::InvalidatePattern { pattern } => match KeyPattern::new(&pattern) {
                Ok(compiled) => {
                    self.cache
                        .invalidate_matching(|key| compiled.matches(key.as_ref()));
                }
                Err(err) => {
                    // The primary checks patterns; one that does not parse here clears all.
                    tracing::warn!(error = %err, "edge got a malformed pattern; cleared");
                    self.cache.clear();
                }
            },
            Change::InvalidateTag { tag } => {
                self.cache.invalidate_tag(&tag);
            }
            Change::Clear => self.cache.clear(),
        }
    }
}
