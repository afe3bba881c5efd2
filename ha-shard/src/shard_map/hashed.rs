//! The hash strategy: a fixed number of shards, a key's hash placed on one of them by any of the
//! placement algorithms.

use std::fmt;
use std::num::NonZeroU32;
use std::sync::Arc;

use ha_core::{Node, NodeId};

use crate::{
    Error, HashRing, Maglev, MaglevConfig, Placement, Rendezvous, Result, RingConfig, ShardId,
    jump_consistent_hash, key_hash,
};

/// The rule that spreads keys over the shards of a [`HashShards`]: one of the placement
/// algorithms, applied to shard numbers rather than to nodes.
///
/// Every rule but [`Jump`](ShardHashing::Jump) places over nodes named for the shards, shard `i`
/// being the node whose id is `i` in decimal (`"0"`, `"1"`, …), so a map built from the same
/// count and rule places every key the same way in every process.
///
/// | rule | lookup | memory | growing from `n` to `m` shards moves |
/// |---|---|---|---|
/// | `Jump` (default) | O(log n), no table | none | the minimal `1 − n/m`, all to new shards |
/// | `Rendezvous` | O(n) | 16 bytes a shard | the minimal `1 − n/m`, all to new shards |
/// | `Maglev` | one table read | 4 bytes a table entry | about `1 − n/m`, plus Maglev's small extra disruption |
/// | `Ring` | O(log points) | 16 bytes a point | about `1 − n/m`, all to new shards |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[non_exhaustive]
pub enum ShardHashing {
    /// Jump consistent hash (Lamping and Veach, 2014) of the key hash: no table at all.
    #[default]
    Jump,
    /// Rendezvous (highest random weight) hashing over the shards.
    Rendezvous,
    /// A Maglev lookup table over the shards.
    Maglev(MaglevConfig),
    /// A hash ring with virtual nodes over the shards.
    Ring(RingConfig),
}

/// A fixed number of shards `0..count`; key `k` lives in the shard its [`ShardHashing`] rule
/// gives `key_hash(k)` — by default `jump_consistent_hash(key_hash(k), count)`.
///
/// Jump consistent hash (Lamping and Veach, 2014), the default, needs no table: growing from `n`
/// to `m` shards moves the minimal share `1 − n/m` of the keys, every one of them to a new shard
/// `n..m`. The other rules ([`with_hashing`](Self::with_hashing)) build their placement once, at
/// construction, and share it between clones. Which *node* holds a shard is a separate choice
/// ([`ShardPlacement`](crate::ShardPlacement)).
///
/// ```
/// use ha_shard::{HashShards, MaglevConfig, ShardHashing, ShardId};
///
/// let eight = HashShards::new(8)?;
/// let ten = HashShards::new(10)?;
/// let (before, after) = (eight.shard_of(b"order:7"), ten.shard_of(b"order:7"));
/// assert!(before == after || after >= ShardId(8)); // a key moves only to a new shard
///
/// let maglev = HashShards::with_hashing(10, ShardHashing::Maglev(MaglevConfig::default()))?;
/// assert!(maglev.shard_of(b"order:7") < ShardId(10));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(try_from = "HashShardsSpec", into = "HashShardsSpec")
)]
pub struct HashShards {
    count: NonZeroU32,
    hashing: ShardHashing,
    /// The placement over the shards, for every rule but jump.
    placement: Option<Arc<dyn Placement + Send + Sync>>,
}

/// What a [`HashShards`] is made from, and what it serializes to.
#[cfg(feature = "serde")]
#[derive(serde::Serialize, serde::Deserialize)]
struct HashShardsSpec {
    count: u32,
    #[serde(default)]
    hashing: ShardHashing,
}

#[cfg(feature = "serde")]
impl TryFrom<HashShardsSpec> for HashShards {
    type Error = Error;

    fn try_from(spec: HashShardsSpec) -> Result<HashShards> {
        HashShards::with_hashing(spec.count, spec.hashing)
    }
}

#[cfg(feature = "serde")]
impl From<HashShards> for HashShardsSpec {
    fn from(shards: HashShards) -> HashShardsSpec {
        HashShardsSpec {
            count: shards.count(),
            hashing: shards.hashing,
        }
    }
}

impl fmt::Debug for HashShards {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HashShards")
            .field("count", &self.count)
            .field("hashing", &self.hashing)
            .finish_non_exhaustive()
    }
}

/// Two maps are equal when they have the same count and rule: they place every key alike.
impl PartialEq for HashShards {
    fn eq(&self, other: &HashShards) -> bool {
        self.count == other.count && self.hashing == other.hashing
    }
}

impl Eq for HashShards {}

impl std::hash::Hash for HashShards {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.count.hash(state);
        self.hashing.hash(state);
    }
}

impl HashShards {
    /// `count` shards, `ShardId(0)` to `ShardId(count − 1)`, spread by jump consistent hash.
    ///
    /// # Errors
    /// [`Error::NoShards`] if `count` is 0.
    pub fn new(count: u32) -> Result<HashShards> {
        HashShards::with_hashing(count, ShardHashing::Jump)
    }

    /// `count` shards spread by `hashing`. Builds the rule's placement over the shards now.
    ///
    /// # Errors
    /// [`Error::NoShards`] if `count` is 0; the rule's own errors for its settings (a Maglev
    /// table that is not a prime at least `count`, a ring of more than 2²⁴ points);
    /// [`Error::TooManyNodes`] for a rendezvous rule over more than 2²⁰ shards (each is scored
    /// on every lookup). The sizes are checked before anything is built, so a count read from
    /// untrusted input cannot make it allocate a node per shard first.
    pub fn with_hashing(count: u32, hashing: ShardHashing) -> Result<HashShards> {
        let count = NonZeroU32::new(count).ok_or(Error::NoShards)?;
        check_fits(count, hashing)?;
        let nodes = || -> Result<Vec<Node>> {
            (0..count.get())
                .map(|i| Ok(Node::new(NodeId::new(i.to_string())?, "")))
                .collect()
        };
        let placement: Option<Arc<dyn Placement + Send + Sync>> = match hashing {
            ShardHashing::Jump => None,
            ShardHashing::Rendezvous => Some(Arc::new(Rendezvous::new(nodes()?)?)),
            ShardHashing::Maglev(config) => Some(Arc::new(Maglev::new(nodes()?, config)?)),
            ShardHashing::Ring(config) => Some(Arc::new(HashRing::new(nodes()?, config)?)),
        };
        Ok(HashShards {
            count,
            hashing,
            placement,
        })
    }

    /// The number of shards.
    #[must_use]
    pub fn count(&self) -> u32 {
        self.count.get()
    }

    /// The rule spreading keys over the shards.
    #[must_use]
    pub fn hashing(&self) -> ShardHashing {
        self.hashing
    }

    /// The shard of `key`.
    #[must_use]
    pub fn shard_of(&self, key: &[u8]) -> ShardId {
        self.shard_of_hash(key_hash(key))
    }

    /// The shard of a key whose placement hash ([`key_hash`]) the caller already has.
    #[must_use]
    pub fn shard_of_hash(&self, hash: u64) -> ShardId {
        match &self.placement {
            // Indices are below `count`, a u32.
            Some(placement) => ShardId(placement.locate_hash(hash) as u32),
            None => ShardId(jump_consistent_hash(hash, self.count.get())),
        }
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

/// The most shards a [`ShardHashing::Rendezvous`] rule places keys over.
const MAX_RENDEZVOUS_SHARDS: u32 = 1 << 20;

/// Refuses a shard count the rule's placement would refuse, before its nodes are built.
fn check_fits(count: NonZeroU32, hashing: ShardHashing) -> Result<()> {
    let too_many = |algorithm, max: usize| Error::TooManyNodes {
        algorithm,
        count: count.get() as usize,
        max,
    };
    match hashing {
        ShardHashing::Jump => Ok(()),
        ShardHashing::Rendezvous if count.get() > MAX_RENDEZVOUS_SHARDS => Err(too_many(
            "rendezvous hash shards",
            MAX_RENDEZVOUS_SHARDS as usize,
        )),
        ShardHashing::Rendezvous => Ok(()),
        ShardHashing::Maglev(config) => {
            config.validate()?;
            if count.get() > config.table_size {
                return Err(too_many("maglev", config.table_size as usize));
            }
            Ok(())
        }
        ShardHashing::Ring(config) => {
            config.validate()?;
            let points = u64::from(count.get()) * u64::from(config.points_per_weight);
            if points > crate::ring::MAX_POINTS {
                return Err(ha_core::Error::TooLarge {
                    name: "ring points",
                    value: points,
                    max: crate::ring::MAX_POINTS,
                }
                .into());
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_shards_are_refused() {
        assert_eq!(HashShards::new(0), Err(Error::NoShards));
    }

    fn rules() -> [ShardHashing; 4] {
        [
            ShardHashing::Jump,
            ShardHashing::Rendezvous,
            ShardHashing::Maglev(MaglevConfig { table_size: 1021 }),
            ShardHashing::Ring(RingConfig {
                points_per_weight: 100,
            }),
        ]
    }

    #[test]
    fn every_rule_places_keys_on_its_shards_and_moves_them_only_to_new_ones_on_growth() {
        for rule in rules() {
            let small = HashShards::with_hashing(8, rule).unwrap();
            let big = HashShards::with_hashing(10, rule).unwrap();
            let (mut moved, mut seen) = (0, [0u32; 8]);
            for k in 0..20_000u32 {
                let key = k.to_le_bytes();
                let (before, after) = (small.shard_of(&key), big.shard_of(&key));
                assert!(small.contains(before) && big.contains(after), "{rule:?}");
                seen[before.0 as usize] += 1;
                if before != after {
                    moved += 1;
                    // Maglev may shuffle a few entries between old shards; the others never.
                    if !matches!(rule, ShardHashing::Maglev(_)) {
                        assert!(
                            after.0 >= 8,
                            "{rule:?} moved {k} from {before:?} to {after:?}"
                        );
                    }
                }
            }
            assert!(seen.iter().all(|&n| n > 1500), "{rule:?} spread {seen:?}");
            // The ideal share is 1 − 8/10 = 20% of the keys.
            assert!((3_000..=5_000).contains(&moved), "{rule:?} moved {moved}");
        }
    }

    #[test]
    fn maps_equal_by_count_and_rule() {
        let a = HashShards::with_hashing(4, ShardHashing::Rendezvous).unwrap();
        assert_eq!(a.clone(), a);
        assert_ne!(a, HashShards::new(4).unwrap());
        assert_eq!(a.hashing(), ShardHashing::Rendezvous);
        assert!(format!("{a:?}").contains("Rendezvous"));
    }

    #[test]
    fn a_rule_refuses_its_bad_settings() {
        let too_small = ShardHashing::Maglev(MaglevConfig { table_size: 7 });
        assert!(HashShards::with_hashing(8, too_small).is_err());
        let no_points = ShardHashing::Ring(RingConfig {
            points_per_weight: 0,
        });
        assert!(HashShards::with_hashing(8, no_points).is_err());
    }

    /// Regression: a huge count read back with a table-based rule built a node per shard (four
    /// billion of them) before the rule's own size check refused it, exhausting memory. Now it
    /// is refused up front, with the error the placement itself gives.
    #[test]
    fn a_huge_count_is_refused_before_anything_is_built() {
        let ring = ShardHashing::Ring(RingConfig::default());
        assert_eq!(
            HashShards::with_hashing(u32::MAX, ring).unwrap_err(),
            Error::Core(ha_core::Error::TooLarge {
                name: "ring points",
                value: u64::from(u32::MAX) * 1500,
                max: 1 << 24,
            })
        );
        let maglev = ShardHashing::Maglev(MaglevConfig::default());
        assert_eq!(
            HashShards::with_hashing(u32::MAX, maglev).unwrap_err(),
            Error::TooManyNodes {
                algorithm: "maglev",
                count: u32::MAX as usize,
                max: 65_537
            }
        );
        assert!(matches!(
            HashShards::with_hashing(u32::MAX, ShardHashing::Rendezvous),
            Err(Error::TooManyNodes { max: 1_048_576, .. })
        ));
        // The limits are those of the placements: one more shard than fits is refused by both.
        let small_ring = RingConfig {
            points_per_weight: 100,
        };
        let nodes = |n: u32| -> Vec<Node> {
            (0..n)
                .map(|i| Node::new(NodeId::new(i.to_string()).unwrap(), ""))
                .collect()
        };
        let over = (1 << 24) / 100 + 1;
        assert_eq!(
            HashShards::with_hashing(over, ShardHashing::Ring(small_ring)).unwrap_err(),
            HashRing::new(nodes(over), small_ring).unwrap_err()
        );
        let table = MaglevConfig { table_size: 7 };
        assert_eq!(
            HashShards::with_hashing(8, ShardHashing::Maglev(table)).unwrap_err(),
            Maglev::new(nodes(8), table).unwrap_err()
        );
        #[cfg(feature = "serde")]
        {
            let json = r#"{"count":4294967295,"hashing":{"maglev":{"table_size":65537}}}"#;
            assert!(serde_json::from_str::<HashShards>(json).is_err());
        }
    }

    #[cfg(feature = "serde")]
    #[test]
    fn serde_round_trips_count_and_rule() {
        for rule in rules() {
            let map = HashShards::with_hashing(6, rule).unwrap();
            let json = serde_json::to_string(&map).unwrap();
            let back: HashShards = serde_json::from_str(&json).unwrap();
            assert_eq!(back, map);
            assert_eq!(back.shard_of(b"k"), map.shard_of(b"k"));
        }
        let zero: std::result::Result<HashShards, _> = serde_json::from_str(r#"{"count":0}"#);
        assert!(zero.is_err());
        let default: HashShards = serde_json::from_str(r#"{"count":3}"#).unwrap();
        assert_eq!(default.hashing(), ShardHashing::Jump);
    }

    #[test]
    fn one_shard_holds_every_key() {
        let one = HashShards::new(1).unwrap();
        for k in 0..100u32 {
            assert_eq!(one.shard_of(&k.to_le_bytes()), ShardId(0));
        }
    }
}
