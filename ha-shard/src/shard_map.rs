//! Shard maps: which shard a key belongs to, by hash, by key range or by an explicit directory;
//! and where each shard's copies live.
//!
//! Keys map to shards, shards to nodes: the two steps are separate so a shard — the unit that
//! moves — can change nodes without any key changing shard, and a shard can split without any
//! node changing. The three strategies are the classic ones (see Kleppmann, *Designing
//! Data-Intensive Applications*, ch. 6, "Partitioning"):
//!
//! | strategy | a key's shard | range scans | changes |
//! |---|---|---|---|
//! | [`HashShards`] | its [`key_hash`](crate::key_hash) placed by a [`ShardHashing`] rule: jump consistent hash, rendezvous, Maglev or a ring | touch every shard | grow or shrink the count; minimal movement |
//! | [`RangeShards`] | the range holding it, keys ordered as bytes | touch only overlapping shards | [`split`](RangeShards::split) and [`merge`](RangeShards::merge) adjacent shards |
//! | [`DirectoryShards`] | its table entry, else the default | touch the listed keys' shards and the default | edit the table |
//!
//! [`ShardPlacement`] puts each shard's primary and replicas on nodes, in distinct zones when it
//! can; [`ShardPlacement::route`] answers a key's shard, primary and replicas in one call.
//!
//! Where we differ from the systems these come from: maps are values, not replicated metadata —
//! agreeing on the current map, and moving the data when it changes, is the caller's job.

mod directory;
mod hashed;
mod range;
mod replicas;

pub use directory::DirectoryShards;
pub use hashed::{HashShards, ShardHashing};
pub use range::{RangeShards, ShardRange};
pub use replicas::{Route, ShardPlacement, ShardPlacementConfig};

use crate::ShardId;

/// Which shard each key belongs to, by one of three strategies.
///
/// ```
/// use ha_shard::{HashShards, ShardMap};
///
/// let map = ShardMap::Hash(HashShards::new(16)?);
/// let shard = map.shard_of(b"order:1001");
/// assert!(map.contains(shard));
/// assert_eq!(map.shards().len(), 16);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[non_exhaustive]
pub enum ShardMap {
    /// A fixed number of shards, keys spread by hash.
    Hash(HashShards),
    /// Contiguous ranges of byte-string keys.
    Range(RangeShards),
    /// An explicit key → shard table with a default.
    Directory(DirectoryShards),
}

impl ShardMap {
    /// The shard of `key`: exactly one, always one the map holds.
    #[must_use]
    pub fn shard_of(&self, key: &[u8]) -> ShardId {
        match self {
            ShardMap::Hash(map) => map.shard_of(key),
            ShardMap::Range(map) => map.shard_of(key),
            ShardMap::Directory(map) => map.shard_of(key),
        }
    }

    /// Whether the map holds `shard`.
    #[must_use]
    pub fn contains(&self, shard: ShardId) -> bool {
        match self {
            ShardMap::Hash(map) => map.contains(shard),
            ShardMap::Range(map) => map.contains(shard),
            ShardMap::Directory(map) => map.contains(shard),
        }
    }

    /// Every shard the map holds, in id order. Allocates one entry a shard.
    #[must_use]
    pub fn shards(&self) -> Vec<ShardId> {
        match self {
            ShardMap::Hash(map) => map.shards().collect(),
            ShardMap::Range(map) => {
                let mut shards: Vec<ShardId> = map.ranges().map(|r| r.shard).collect();
                shards.sort_unstable();
                shards
            }
            ShardMap::Directory(map) => map.shards().into_iter().collect(),
        }
    }

    /// The shards a scan of `start ≤ key < end` must visit (`end` `None`: no upper limit), in
    /// key order for ranges and id order otherwise; none when the range is empty. Hash shards
    /// scatter every range over every shard, so all are returned; a directory returns the
    /// shards of the listed keys in the range and its default.
    #[must_use]
    pub fn shards_touched(&self, start: &[u8], end: Option<&[u8]>) -> Vec<ShardId> {
        match self {
            ShardMap::Range(map) => map.shards_touched(start, end),
            ShardMap::Directory(map) => map.shards_touched(start, end),
            ShardMap::Hash(_) if end.is_some_and(|end| end <= start) => Vec::new(),
            ShardMap::Hash(map) => map.shards().collect(),
        }
    }
}
