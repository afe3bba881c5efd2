//! The directory strategy: an explicit key → shard table.

use std::collections::{BTreeMap, BTreeSet};

use crate::{Error, Result, ShardId};

/// An explicit table from key to shard, with a default shard for every key not listed — the
/// lookup-service scheme (a "directory" or "lookup table") used when particular keys, a large
/// tenant say, must live on a chosen shard.
///
/// Any shard id may be used; the map holds the shards named in the table plus the default. The
/// table is ordered by key, so iteration and range questions are deterministic.
///
/// ```
/// use ha_shard::{DirectoryShards, ShardId};
///
/// let map = DirectoryShards::new(ShardId(0), [(b"tenant:big".to_vec(), ShardId(7))])?;
/// assert_eq!(map.shard_of(b"tenant:big"), ShardId(7));
/// assert_eq!(map.shard_of(b"tenant:small"), ShardId(0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(try_from = "Layout", into = "Layout")
)]
pub struct DirectoryShards {
    table: BTreeMap<Vec<u8>, ShardId>,
    default: ShardId,
}

impl DirectoryShards {
    /// A directory sending each listed key to its shard and every other key to `default`.
    ///
    /// # Errors
    /// [`Error::DuplicateDirectoryKey`] if a key is listed twice (even with the same shard).
    pub fn new<K: Into<Vec<u8>>>(
        default: ShardId,
        entries: impl IntoIterator<Item = (K, ShardId)>,
    ) -> Result<DirectoryShards> {
        let mut table = BTreeMap::new();
        for (index, (key, shard)) in entries.into_iter().enumerate() {
            if table.insert(key.into(), shard).is_some() {
                return Err(Error::DuplicateDirectoryKey { index });
            }
        }
        Ok(DirectoryShards { table, default })
    }

    /// The shard of every key not listed.
    #[must_use]
    pub fn default_shard(&self) -> ShardId {
        self.default
    }

    /// The shard of `key`: its entry's, or the default.
    #[must_use]
    pub fn shard_of(&self, key: &[u8]) -> ShardId {
        self.table.get(key).copied().unwrap_or(self.default)
    }

    /// The listed keys and their shards, in key order.
    pub fn entries(&self) -> impl Iterator<Item = (&[u8], ShardId)> + '_ {
        self.table.iter().map(|(k, &s)| (k.as_slice(), s))
    }

    /// Whether `shard` is the default or named by an entry.
    #[must_use]
    pub fn contains(&self, shard: ShardId) -> bool {
        shard == self.default || self.table.values().any(|&s| s == shard)
    }

    /// Every shard — the default and those named by entries — in order.
    #[must_use]
    pub fn shards(&self) -> BTreeSet<ShardId> {
        let mut shards: BTreeSet<ShardId> = self.table.values().copied().collect();
        shards.insert(self.default);
        shards
    }

    /// The shards that may hold keys in `start ≤ key < end` (`end` `None`: no upper limit): the
    /// shards of the listed keys in the range and the default, in order; none when the range is
    /// empty. The default is always included for a non-empty range — conservatively, since the
    /// range may hold keys nobody listed.
    #[must_use]
    pub fn shards_touched(&self, start: &[u8], end: Option<&[u8]>) -> Vec<ShardId> {
        use std::ops::Bound;
        if end.is_some_and(|end| end <= start) {
            return Vec::new();
        }
        let upper = end.map_or(Bound::Unbounded, Bound::Excluded);
        let mut shards: BTreeSet<ShardId> = self
            .table
            .range::<[u8], _>((Bound::Included(start), upper))
            .map(|(_, &s)| s)
            .collect();
        shards.insert(self.default);
        shards.into_iter().collect()
    }
}

/// The serde form of a [`DirectoryShards`]: entries as a list (JSON map keys must be strings),
/// a key listed twice refused on the way in.
#[cfg(feature = "serde")]
#[derive(serde::Serialize, serde::Deserialize)]
struct Layout {
    /// The shard of unlisted keys.
    default: ShardId,
    /// The listed keys and their shards.
    entries: Vec<(Vec<u8>, ShardId)>,
}

#[cfg(feature = "serde")]
impl From<DirectoryShards> for Layout {
    fn from(map: DirectoryShards) -> Layout {
        Layout {
            default: map.default,
            entries: map.table.into_iter().collect(),
        }
    }
}

#[cfg(feature = "serde")]
impl TryFrom<Layout> for DirectoryShards {
    type Error = Error;

    fn try_from(layout: Layout) -> Result<DirectoryShards> {
        DirectoryShards::new(layout.default, layout.entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn touched_shards_are_the_listed_ones_in_range_and_the_default() {
        let map = DirectoryShards::new(
            ShardId(0),
            [
                (&b"a"[..], ShardId(1)),
                (b"m", ShardId(2)),
                (b"z", ShardId(3)),
            ],
        )
        .unwrap();
        assert_eq!(
            map.shards_touched(b"b", Some(b"z")),
            vec![ShardId(0), ShardId(2)]
        );
        assert!(map.shards_touched(b"z", Some(b"a")).is_empty());
    }

    #[cfg(feature = "serde")]
    #[test]
    fn serde_round_trips_and_refuses_a_key_listed_twice() {
        let map = DirectoryShards::new(ShardId(4), [(b"k".to_vec(), ShardId(1))]).unwrap();
        let json = serde_json::to_string(&map).unwrap();
        assert_eq!(serde_json::from_str::<DirectoryShards>(&json).unwrap(), map);
        let bad = r#"{"default":0,"entries":[[[1],2],[[1],3]]}"#;
        assert!(serde_json::from_str::<DirectoryShards>(bad).is_err());
    }
}
