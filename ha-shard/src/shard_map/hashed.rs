//! The hash strategy: a fixed number of shards, a key's hash jumping to one of them.

use std::num::NonZeroU32;

use crate::{Error, Result, ShardId, jump_consistent_hash, key_hash};

/// A fixed number of shards `0..count`; key `k` lives in shard
/// `jump_consistent_hash(key_hash(k), count)`.
///
/// Jump consistent hash (Lamping and Veach, 2014) is the rule, applied to shard numbers rather
/// than to nodes: growing from `n` to `m` shards moves the minimal share `1 − n/m` of the keys,
/// every one of them to a new shard `n..m`, and a lookup needs no table. The price is jump's:
/// shards are only added or removed at the end. Which *node* holds a shard is a separate choice
/// ([`ShardPlacement`](crate::ShardPlacement)); to hash keys straight onto nodes with another
/// rule, use a [`Placement`](crate::Placement) such as [`Maglev`](crate::Maglev) over nodes
/// named for the shards.
///
/// ```
/// use ha_shard::{HashShards, ShardId};
///
/// let eight = HashShards::new(8)?;
/// let ten = HashShards::new(10)?;
/// let (before, after) = (eight.shard_of(b"order:7"), ten.shard_of(b"order:7"));
/// assert!(before == after || after >= ShardId(8)); // a key moves only to a new shard
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(transparent)
)]
pub struct HashShards {
    count: NonZeroU32,
}

impl HashShards {
    /// `count` shards, `ShardId(0)` to `ShardId(count − 1)`.
    ///
    /// # Errors
    /// [`Error::NoShards`] if `count` is 0.
    pub fn new(count: u32) -> Result<HashShards> {
        let count = NonZeroU32::new(count).ok_or(Error::NoShards)?;
        Ok(HashShards { count })
    }

    /// The number of shards.
    #[must_use]
    pub fn count(&self) -> u32 {
        self.count.get()
    }

    /// The shard of `key`.
    #[must_use]
    pub fn shard_of(&self, key: &[u8]) -> ShardId {
        self.shard_of_hash(key_hash(key))
    }

    /// The shard of a key whose placement hash ([`key_hash`]) the caller already has.
    #[must_use]
    pub fn shard_of_hash(&self, hash: u64) -> ShardId {
        ShardId(jump_consistent_hash(hash, self.count.get()))
    }

    /// Whether `shard` is one of these shards.
    #[must_use]
    pub fn contains(&self, shard: ShardId) -> bool {
        shard.0 < self.count.get()
    }

    /// Every shard, in order.
    pub fn shards(&self) -> impl Iterator<Item = ShardId> + '_ {
        (0..self.count.get()).map(ShardId)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_shards_are_refused() {
        assert_eq!(HashShards::new(0), Err(Error::NoShards));
    }

    #[test]
    fn one_shard_holds_every_key() {
        let one = HashShards::new(1).unwrap();
        for k in 0..100u32 {
            assert_eq!(one.shard_of(&k.to_le_bytes()), ShardId(0));
        }
    }
}
