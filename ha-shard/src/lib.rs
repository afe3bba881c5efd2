//! # ha-shard — where data lives
//!
//! This crate will decide where every key lives, where its replicas go, and how data moves when nodes
//! join, leave or run hot, as pure logic over node sets and key hashes (no I/O):
//!
//! - one stable, specified 64-bit placement hash;
//! - placement algorithms behind one trait: a hash ring with virtual nodes (and a ketama-compatible
//!   mode), jump consistent hash, rendezvous hashing, Maglev, consistent hashing with bounded loads,
//!   Redis Cluster hash slots and an arbitrary-removal consistent hash;
//! - shard maps by hash, range and directory, with replica placement across zones;
//! - hot-shard detection, a rebalance planner and a migration state machine;
//! - cross-shard query planning and placement analysis.
//!
//! It is empty for now: the issue "ha-shard: hash rings, shard maps, replica placement, hot shards and
//! rebalancing plans" fills it.

mod slots;

pub use slots::{
    Migration, Redirect, SLOT_COUNT, SlotError, SlotRange, SlotTable, hash_tag, key_slot,
};
