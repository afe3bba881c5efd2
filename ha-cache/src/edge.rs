//! An edge cache: a local [`Cache`] kept in sync with a [`Primary`] by replaying its
//! [`InvalidationLog`].

use std::cell::RefCell;
use std::hash::Hash;

use parking_lot::Mutex;

use crate::deferred::Deferral;
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
    /// The edge could not continue from its version — the log no longer reached it, or the
    /// primary's epoch changed (it restarted) — so it cleared itself and is now at `version`.
    /// [`Edge::sync_with_primary`] then warms it again from a snapshot of the keys it held
    /// (`warmed` of them were still on the primary); after [`Edge::apply`], warm it with
    /// [`Edge::take_reload_keys`], [`Primary::snapshot`] and [`Edge::apply_snapshot`].
    Reloaded {
        /// The edge's version now.
        version: u64,
        /// How many entries a snapshot put back (0 after [`Edge::apply`]).
        warmed: usize,
    },
}

/// One entry of a [`Snapshot`]: the primary's value with its remaining time to live and its
/// tags, so a warmed edge expires it and invalidates it by tag as the primary does.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SnapshotEntry<K, V> {
    /// The key.
    pub key: K,
    /// The value.
    pub value: V,
    /// What was left of the entry's time to live on the primary (counted again from when the
    /// edge applies the snapshot); `None` if it had no deadline (the edge's default TTL).
    pub ttl: Option<std::time::Duration>,
    /// The entry's tags.
    pub tags: Vec<String>,
}

/// A snapshot of some of the primary's entries at `version` of log `epoch`, to warm an edge
/// after a reload.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Snapshot<K, V> {
    /// The primary's log epoch.
    pub epoch: u64,
    /// The primary's version when the entries were read.
    pub version: u64,
    /// The entries.
    pub entries: Vec<SnapshotEntry<K, V>>,
}

/// Where an edge is: the log epoch and the version of the last change it applied.
#[derive(Debug, Clone, Copy, Default)]
struct Position {
    /// `None` until the edge first applies an answer or a snapshot.
    epoch: Option<u64>,
    version: u64,
}

/// A read-only copy of a primary, synced by version.
///
/// Sync is sans-IO: the edge says its [`version`](Edge::version), the primary (over whatever
/// transport the application uses) answers [`changes_since`](Primary::changes_since) that
/// version, and the edge [`apply`](Edge::apply)s the answer. [`Edge::sync_with_primary`] does
/// the round trip in process. On [`Changes::Reload`], or an answer from another log epoch than
/// the one the edge applied (the primary restarted), the edge clears itself and continues from
/// the primary's version: an empty cache holds nothing stale. It keeps the keys it held, so it
/// can be warmed again from a [`Primary::snapshot`] of them ([`Edge::sync_with_primary`] does
/// so; see [`Edge::take_reload_keys`]).
///
/// Guarantee: after applying the primary's answer for version `v`, every key the edge holds has
/// the value the primary had at `v`, and the tags it had there. An entry's TTL counts from when
/// the edge applied it, so an edge may keep an entry up to one sync interval after the primary
/// expired it.
///
/// The edge's eviction listener is called after the edge's lock is released, so it may use the
/// edge.
///
/// ```
/// use ha_cache::{Cache, Edge, Primary, SyncOutcome};
///
/// let primary = Primary::new(Cache::<String, u32>::builder(1_000).build()?, 128, 1)?;
/// let edge = Edge::new(Cache::builder(100).build()?);
/// primary.set("user:1".into(), 1)?;
/// primary.set("user:2".into(), 2)?;
/// assert_eq!(edge.sync_with_primary(&primary)?, SyncOutcome::Applied { applied: 2, version: 2 });
/// assert_eq!(edge.get("user:1"), Some(1));
///
/// primary.invalidate_pattern("user:1")?;
/// primary.truncate_log(0); // the edge's next change is gone from the log
/// assert_eq!(edge.sync_with_primary(&primary)?, SyncOutcome::Reloaded { version: 3, warmed: 1 });
/// assert_eq!(edge.get("user:1"), None);
/// assert_eq!(edge.get("user:2"), Some(2)); // warmed again from a snapshot
///
/// // The primary restarts with a new epoch; its versions start again.
/// let primary = Primary::new(Cache::<String, u32>::builder(1_000).build()?, 128, 2)?;
/// for i in 0..4 {
///     primary.set(format!("user:{i}"), 10 + i)?;
/// }
/// assert_eq!(edge.sync_with_primary(&primary)?, SyncOutcome::Reloaded { version: 4, warmed: 1 });
/// assert_eq!(edge.get("user:2"), Some(12));
/// # Ok::<(), ha_cache::Error>(())
/// ```
#[derive(Debug)]
pub struct Edge<K, V> {
    cache: Cache<K, V>,
    position: Mutex<Position>,
    reload_keys: Mutex<Vec<K>>,
}

impl<K, V> Edge<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + AsRef<str> + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// An edge over `cache` at version 0 (before any change) of no epoch yet. `cache` should
    /// start empty.
    #[must_use]
    pub fn new(cache: Cache<K, V>) -> Edge<K, V> {
        Edge {
            cache,
            position: Mutex::new(Position::default()),
            reload_keys: Mutex::new(Vec::new()),
        }
    }

    /// The version of the last change applied.
    #[must_use]
    pub fn version(&self) -> u64 {
        self.position.lock().version
    }

    /// The log epoch of the changes applied, `None` before the first.
    #[must_use]
    pub fn epoch(&self) -> Option<u64> {
        self.position.lock().epoch
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

    /// Asks `primary` for the changes since this edge's version and applies them. If the edge
    /// must reload, it then applies a [`Primary::snapshot`] of the keys it held, so it stays
    /// warm.
    pub fn sync_with_primary(&self, primary: &Primary<K, V>) -> Result<SyncOutcome> {
        let _listeners_after_unlock = Deferral::start();
        let mut position = self.position.lock();
        let changes = primary.changes_since(position.version);
        match self.apply_locked(&mut position, changes)? {
            SyncOutcome::Reloaded { .. } => {
                let keys = std::mem::take(&mut *self.reload_keys.lock());
                let snapshot = primary.snapshot(keys);
                let warmed = snapshot.entries.len();
                self.apply_snapshot_locked(&mut position, snapshot)?;
                Ok(SyncOutcome::Reloaded {
                    version: position.version,
                    warmed,
                })
            }
            applied => Ok(applied),
        }
    }

    /// Applies the primary's answer to [`version`](Edge::version). Entries at or below the
    /// edge's version are skipped (a repeated answer is harmless); a batch that starts after
    /// the edge's next version, or is not contiguous, is refused with
    /// [`Error::VersionGap`] and nothing is applied. An answer from another epoch than the
    /// edge's reloads it, as [`Changes::Reload`] does.
    pub fn apply(&self, changes: Changes<K, V>) -> Result<SyncOutcome> {
        let _listeners_after_unlock = Deferral::start();
        let mut position = self.position.lock();
        self.apply_locked(&mut position, changes)
    }

    /// The keys the edge held when it last reloaded (and no snapshot has warmed since), to ask
    /// the primary a [`snapshot`](Primary::snapshot) of; empties the list.
    pub fn take_reload_keys(&self) -> Vec<K> {
        std::mem::take(&mut *self.reload_keys.lock())
    }

    /// Replaces the edge's contents with `snapshot` (each entry with its TTL and tags) and
    /// moves to its epoch and version. Refuses ([`Error::StaleSnapshot`]) a snapshot of the
    /// edge's epoch older than the edge's version, changing nothing. A snapshot of another
    /// epoch is taken as the primary's new start; if it is not (an old snapshot delivered
    /// late), the next sync sees the epoch differ and reloads again.
    pub fn apply_snapshot(&self, snapshot: Snapshot<K, V>) -> Result<()> {
        let _listeners_after_unlock = Deferral::start();
        let mut position = self.position.lock();
        self.apply_snapshot_locked(&mut position, snapshot)
    }

    fn apply_snapshot_locked(
        &self,
        position: &mut Position,
        snapshot: Snapshot<K, V>,
    ) -> Result<()> {
        if position.epoch == Some(snapshot.epoch) && snapshot.version < position.version {
            return Err(Error::StaleSnapshot {
                snapshot: snapshot.version,
                edge: position.version,
            });
        }
        self.cache.clear();
        self.reload_keys.lock().clear();
        let mut skipped = 0;
        for entry in snapshot.entries {
            let options = InsertOptions {
                ttl: entry.ttl,
                tags: entry.tags.into_iter().map(Into::into).collect(),
            };
            // A zero TTL (the entry expired as it was read) or an entry too heavy for the edge
            // is left out: the edge may always hold less than the primary.
            if self
                .cache
                .insert_with(entry.key, entry.value, &options)
                .is_err()
            {
                skipped += 1;
            }
        }
        *position = Position {
            epoch: Some(snapshot.epoch),
            version: snapshot.version,
        };
        tracing::debug!(
            epoch = snapshot.epoch,
            version = position.version,
            skipped,
            "edge snapshot applied"
        );
        Ok(())
    }

    /// Clears the edge, keeping the keys it held for a snapshot, and moves it to `epoch` and
    /// `version`.
    fn reload(&self, position: &mut Position, epoch: u64, version: u64) -> SyncOutcome {
        let held = RefCell::new(Vec::new());
        self.cache.invalidate_matching(|key| {
            held.borrow_mut().push(key.clone());
            true
        });
        *self.reload_keys.lock() = held.into_inner();
        tracing::debug!(
            from_epoch = ?position.epoch,
            from = position.version,
            epoch,
            to = version,
            "edge reloaded: cleared"
        );
        *position = Position {
            epoch: Some(epoch),
            version,
        };
        SyncOutcome::Reloaded { version, warmed: 0 }
    }

    fn apply_locked(&self, position: &mut Position, changes: Changes<K, V>) -> Result<SyncOutcome> {
        let epoch = changes.epoch();
        if position.epoch.is_some_and(|mine| mine != epoch) {
            // The primary restarted: its versions name other changes than those applied here.
            return Ok(self.reload(position, epoch, changes.version()));
        }
        match changes {
            Changes::Reload { version: to, .. } => Ok(self.reload(position, epoch, to)),
            Changes::Entries {
                entries,
                version: to,
                ..
            } => {
                let fresh: Vec<LogEntry<K, V>> = entries
                    .into_iter()
                    .filter(|e| e.version > position.version)
                    .collect();
                // Saturating: an answer is caller input, and versions near u64::MAX must be
                // refused or applied, never overflow.
                let mut expected = position.version.saturating_add(1);
                for entry in &fresh {
                    if entry.version != expected {
                        return Err(Error::VersionGap {
                            expected,
                            found: entry.version,
                        });
                    }
                    expected = expected.saturating_add(1);
                }
                if to > position.version
                    && fresh.last().map_or(position.version, |e| e.version) != to
                {
                    return Err(Error::VersionGap {
                        expected,
                        found: to,
                    });
                }
                position.epoch = Some(epoch);
                let applied = fresh.len();
                for entry in fresh {
                    self.apply_change(entry.change);
                    position.version = entry.version;
                }
                tracing::debug!(applied, version = position.version, "edge synced");
                Ok(SyncOutcome::Applied {
                    applied,
                    version: position.version,
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
