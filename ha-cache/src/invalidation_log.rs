//! The primary's versioned record of changes, which edge caches replay to stay in sync.

use std::collections::VecDeque;
use std::time::Duration;

use crate::Result;

/// One change of the primary's contents.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Change<K, V> {
    /// `key` was set to `value`, with its own TTL (counted by an edge from when it applies the
    /// change) and tags.
    Set {
        /// The key.
        key: K,
        /// The new value.
        value: V,
        /// The entry's own TTL, `None` for the edge cache's default.
        ttl: Option<Duration>,
        /// The entry's tags.
        tags: Vec<String>,
    },
    /// `key` was removed.
    Delete {
        /// The key.
        key: K,
    },
    /// Every key matching the glob `pattern` was removed.
    InvalidatePattern {
        /// The pattern, already checked by the primary.
        pattern: String,
    },
    /// Every key stored with `tag` was removed.
    InvalidateTag {
        /// The tag.
        tag: String,
    },
    /// Everything was removed.
    Clear,
}

/// A [`Change`] with its version.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct LogEntry<K, V> {
    /// The version, one more than the previous entry's.
    pub version: u64,
    /// What changed.
    pub change: Change<K, V>,
}

/// The primary's answer to an edge at some version. Both forms carry the log's
/// [epoch](InvalidationLog::epoch): an edge that has applied changes of another epoch (the
/// primary restarted, and its versions started again) reloads whatever the versions say.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Changes<K, V> {
    /// Every change after the edge's version, oldest first, and the primary's version.
    Entries {
        /// The log's epoch.
        epoch: u64,
        /// The changes, contiguous in version.
        entries: Vec<LogEntry<K, V>>,
        /// The primary's version (the last entry's, or the asked version when none).
        version: u64,
    },
    /// The log no longer reaches back to the edge's version, or the edge is ahead of the
    /// primary: the edge must clear itself (or load a snapshot) and continue from `version`.
    Reload {
        /// The log's epoch.
        epoch: u64,
        /// The primary's version.
        version: u64,
    },
}

impl<K, V> Changes<K, V> {
    /// The epoch of the log that answered.
    #[must_use]
    pub fn epoch(&self) -> u64 {
        match self {
            Changes::Entries { epoch, .. } | Changes::Reload { epoch, .. } => *epoch,
        }
    }

    /// The primary's version.
    #[must_use]
    pub fn version(&self) -> u64 {
        match self {
            Changes::Entries { version, .. } | Changes::Reload { version, .. } => *version,
        }
    }
}

/// A bounded, versioned log of changes.
///
/// Every change (a set with its value, a delete, a pattern or tag invalidation, a clear) gets
/// the next version, strictly increasing from 1. The log keeps the newest `max_entries`; an
/// edge at version `v` asks for [`changes_since(v)`](InvalidationLog::changes_since) and gets
/// either every change after `v` or, when the log no longer reaches back to `v + 1`,
/// [`Changes::Reload`]. This is the replication-log shape of Redis's replication backlog
/// (`PSYNC` with a partial resync when the backlog still holds the offset, a full resync
/// otherwise); here a "full resync" is an edge clearing itself, or loading a snapshot, since a
/// cache may always be empty.
///
/// Versions start again at 1 when a primary restarts with a new log, so a version alone cannot
/// tell an edge that the changes it applied belong to a log that no longer exists. Each log
/// therefore has an **epoch**, given at construction and carried in every answer
/// ([`Changes`]) and snapshot: like Redis's replication ID, which a replica compares before it
/// trusts an offset. Give every log a fresh epoch — a random number drawn at the primary's
/// start (`rand::random()`), or a counter kept in durable storage and bumped at each start.
///
/// ```
/// use ha_cache::{Change, Changes, InvalidationLog};
///
/// let mut log: InvalidationLog<String, u32> = InvalidationLog::new(2, 0x5eed)?;
/// let v1 = log.append(Change::Delete { key: "a".into() });
/// let v2 = log.append(Change::Clear);
/// let v3 = log.append(Change::InvalidateTag { tag: "red".into() });
/// assert_eq!((v1, v2, v3), (1, 2, 3));
/// assert!(matches!(log.changes_since(1), Changes::Entries { ref entries, version: 3, .. } if entries.len() == 2));
/// assert_eq!(log.changes_since(0), Changes::Reload { epoch: 0x5eed, version: 3 }); // entry 1 was truncated
/// # Ok::<(), ha_cache::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct InvalidationLog<K, V> {
    entries: VecDeque<LogEntry<K, V>>,
    latest: u64,
    max_entries: usize,
    epoch: u64,
}

impl<K: Clone, V: Clone> InvalidationLog<K, V> {
    /// An empty log of `epoch` at version 0 keeping the newest `max_entries` changes; zero is
    /// refused. `epoch` must differ from every earlier log's that edges may have applied (see
    /// the type's docs).
    pub fn new(max_entries: usize, epoch: u64) -> Result<InvalidationLog<K, V>> {
        if max_entries == 0 {
            return Err(ha_core::Error::Zero {
                name: "max_entries",
            }
            .into());
        }
        Ok(InvalidationLog {
            entries: VecDeque::new(),
            latest: 0,
            max_entries,
            epoch,
        })
    }

    /// Records `change` under the next version and returns it, dropping the oldest entry when
    /// the log is full.
    pub fn append(&mut self, change: Change<K, V>) -> u64 {
        self.latest += 1;
        if self.entries.len() == self.max_entries {
            self.entries.pop_front();
        }
        self.entries.push_back(LogEntry {
            version: self.latest,
            change,
        });
        self.latest
    }

    /// Keeps only the newest `keep` entries (edges further behind will reload).
    pub fn truncate(&mut self, keep: usize) {
        let drop = self.entries.len().saturating_sub(keep);
        self.entries.drain(..drop);
        tracing::debug!(
            dropped = drop,
            kept = self.entries.len(),
            "invalidation log truncated"
        );
    }

    /// What an edge at `version` must apply: the entries after it, or a reload.
    #[must_use]
    pub fn changes_since(&self, version: u64) -> Changes<K, V> {
        if version > self.latest {
            tracing::debug!(
                edge = version,
                primary = self.latest,
                "edge ahead of the log"
            );
            return Changes::Reload {
                epoch: self.epoch,
                version: self.latest,
            };
        }
        if version == self.latest {
            return Changes::Entries {
                epoch: self.epoch,
                entries: Vec::new(),
                version,
            };
        }
        let oldest = self.oldest_version().unwrap_or(self.latest + 1);
        if version + 1 < oldest {
            tracing::debug!(edge = version, oldest, "log no longer reaches the edge");
            return Changes::Reload {
                epoch: self.epoch,
                version: self.latest,
            };
        }
        let skip = (version + 1 - oldest) as usize;
        Changes::Entries {
            epoch: self.epoch,
            entries: self.entries.iter().skip(skip).cloned().collect(),
            version: self.latest,
        }
    }

    /// The log's epoch, given at construction.
    #[must_use]
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The version of the newest change (0 before any).
    #[must_use]
    pub fn latest_version(&self) -> u64 {
        self.latest
    }

    /// The version of the oldest change kept, if any is.
    #[must_use]
    pub fn oldest_version(&self) -> Option<u64> {
        self.entries.front().map(|e| e.version)
    }

    /// How many changes are kept.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no change is kept.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The most changes kept.
    #[must_use]
    pub fn max_entries(&self) -> usize {
        self.max_entries
    }

    /// Checks that versions are contiguous, end at the latest, and the size bound holds.
    pub fn check_invariants(&self) -> std::result::Result<(), String> {
        if self.entries.len() > self.max_entries {
            return Err(format!(
                "{} entries over {}",
                self.entries.len(),
                self.max_entries
            ));
        }
        for (a, b) in self.entries.iter().zip(self.entries.iter().skip(1)) {
            if b.version != a.version + 1 {
                return Err(format!("version {} follows {}", b.version, a.version));
            }
        }
        match self.entries.back() {
            Some(last) if last.version != self.latest => Err(format!(
                "last entry {} but latest {}",
                last.version, self.latest
            )),
            _ => Ok(()),
        }
    }
}
