//! # ha-shard — where data lives
//!
//! ha-shard decides where every key lives and where its replicas go, as pure logic over node sets
//! and key hashes: it does **no I/O**, keeps no clock and spawns nothing. Every placement hashes
//! keys with one stable, specified function ([`key_hash`], XXH3-64), so processes on different
//! machines and releases agree on placement; callers may bring their own 64-bit key hash.
//!
//! Placement algorithms share the [`Placement`] trait: `locate` a key's owner, `locate_n` its
//! replicas in distinct zones when the nodes offer enough.
//!
//! | algorithm | lookup | weights | membership changes |
//! |---|---|---|---|
//! | [`JumpHash`] | `O(ln n)`, no memory | no | append or remove the last node |
//! | [`Rendezvous`] | `O(n)` | yes (logarithmic method) | any, minimal movement |
//! | [`Maglev`] | `O(1)`, a fixed table | yes | any, near-minimal movement |
//! | [`Memento`] | `O(ln n)`, a slot per bucket | no | any (MementoHash: a fresh build is jump hash; removals are remembered) |
//! | [`HashRing`] | `O(1)` expected (bucket index over sorted points), 16 B a point | yes (points ∝ weight) | any, minimal movement; ketama mode compatible with libmemcached's weighted ketama and twemproxy |
//!
//! Redis Cluster's own scheme is here too, exactly as Redis computes it: [`key_slot`] (CRC16 mod
//! 16384 with `{hash tags}`) and a [`SlotTable`] of slot owners with MIGRATING / IMPORTING states
//! and the MOVED / ASK answers a cluster client or proxy acts on; [`SlotPlacement`] puts a slot
//! table behind the [`Placement`] trait.
//!
//! [`BoundedLoads`] caps any placement's load: it assigns keys along the placement's preference
//! order to the first node below `c ×` its fair share (consistent hashing with bounded loads, as
//! Vimeo and HAProxy use it) and tracks live assignments.
//!
//! Keys group into shards, the unit that moves: a [`ShardMap`] assigns each key one shard by
//! hash ([`HashShards`]), by key range with splits and merges ([`RangeShards`]) or by an explicit
//! table ([`DirectoryShards`]); a [`ShardPlacement`] puts each shard's primary and replicas on
//! nodes in distinct zones, and [`ShardPlacement::route`] gives a key's shard, primary and
//! replicas in one call. Cross-shard queries are planned with [`group_by_shard`] and
//! [`ShardMap::shards_touched`] and answered with [`merge_sorted`], [`merge_counts`] and
//! [`merge_sums`]; [`load_imbalance`] and [`moved_fraction`] measure any placement's spread and
//! the keys a change moves.
//!
//! Shards move, too. A [`LoadTracker`] measures each shard's ops and bytes per second over a
//! sliding window and names the [`HotSpots`]: shards above `k ×` the mean, and below `mean / k`.
//! A [`Rebalancer`] plans the fewest moves from the current assignment to a [`Target`] (an
//! explicit assignment, node weights after a join, leave or reweight, or a bound on byte skew)
//! as a [`Plan`] of waves that respect per-node and cluster-wide limits on concurrent moves and
//! never overfill a node. Each move then runs as a [`ShardMigration`] — copying, catching up,
//! cut over, cleaning up, done — which says at every step where reads and writes go, refuses
//! events out of order and resumes from a serde-able [`MigrationRecord`].
//! A [`KeyRouter`] routes keys over a shard map and many such migrations at once: per key,
//! the node serving each copy's reads and the nodes a write must reach ([`KeyRoute`]).
//!
//! Still to come for the issue "ha-shard: hash rings, shard maps, replica placement, hot shards
//! and rebalancing plans": see the issue's closing notes.

mod analysis;
mod bounded;
mod error;
mod hash;
mod jump;
mod load;
mod maglev;
mod memento;
mod migration;
mod placement;
mod query;
mod rebalance;
mod rendezvous;
mod ring;
mod router;
mod shard_id;
mod shard_map;
mod slots;

pub use analysis::{LoadReport, ideal_join_fraction, load_imbalance, moved_fraction};
pub use bounded::{BoundedLoads, BoundedLoadsConfig, KeyMove};
pub use error::{Error, Result};
pub use hash::key_hash;
pub use jump::{JumpHash, jump_consistent_hash};
pub use load::{HotSpots, LoadConfig, LoadMetric, LoadTracker, ShardHeat, ShardLoad};
pub use maglev::{Maglev, MaglevConfig};
pub use memento::Memento;
pub use migration::{MigrationConfig, MigrationRecord, MigrationStep, ShardMigration, WriteRoute};
pub use placement::Placement;
pub use query::{group_by_shard, merge_counts, merge_sorted, merge_sorted_by_key, merge_sums};
pub use rebalance::{Move, Plan, RebalanceConfig, Rebalancer, SkewReport, Target};
pub use rendezvous::Rendezvous;
pub use ring::{HashRing, KetamaName, RingConfig};
pub use router::{KeyRoute, KeyRouter};
pub use shard_id::ShardId;
pub use shard_map::{
    DirectoryShards, HashShards, RangeShards, Route, ShardHashing, ShardMap, ShardPlacement,
    ShardPlacementConfig, ShardRange,
};
pub use slots::{
    Redirect, SLOT_COUNT, SlotError, SlotMigration, SlotPlacement, SlotRange, SlotTable, hash_tag,
    key_slot,
};
