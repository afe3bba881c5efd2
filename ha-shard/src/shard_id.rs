//! The name of a shard.

use std::fmt;

/// A shard's number, unique within a shard map. Shards are the unit that moves between nodes:
/// keys map to shards, shards to nodes.
///
/// ```
/// use ha_shard::ShardId;
///
/// let shard = ShardId(7);
/// assert_eq!(shard.to_string(), "shard-7");
/// assert!(ShardId(3) < shard);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(transparent)
)]
pub struct ShardId(pub u32);

impl fmt::Display for ShardId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "shard-{}", self.0)
    }
}
