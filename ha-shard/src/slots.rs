//! Redis Cluster hash slots: which of 16384 slots a key falls in, which node owns each slot,
//! how a slot moves between nodes, and the `-MOVED` / `-ASK` redirects that keep clients right
//! while it does.
//!
//! This follows the [Redis Cluster specification] and reproduces its observable decisions:
//! - [`key_slot`] is `CLUSTER KEYSLOT`: CRC-16/XMODEM of the key — or of its `{hash tag}` —
//!   modulo 16384 (the spec's "Key distribution model" and "Hash tags");
//! - [`SlotTable`] is the slot-to-node map a client caches from `CLUSTER SLOTS`, with every slot
//!   owned by exactly one node;
//! - [`SlotTable::begin_migration`], [`SlotTable::complete_migration`] and
//!   [`SlotTable::abort_migration`] are `CLUSTER SETSLOT` `MIGRATING`/`IMPORTING`, `NODE` and
//!   `STABLE` ("Live reconfiguration");
//! - [`SlotTable::redirect`] and [`SlotTable::redirect_asking`] are what a node answers to a
//!   request ("MOVED Redirection", "ASK redirection").
//!
//! Where we differ: the table is one authoritative view of the cluster, not each node's own
//! view reconciled by gossip and configuration epochs; replicas, failover and `-TRYAGAIN` for
//! multi-key commands during a migration are not modelled; node ids are ha's [`NodeId`], not
//! 40-character hex names. Like the rest of ha it does no I/O: moving the keys is the
//! application's job.
//!
//! ```
//! use ha_core::NodeId;
//! use ha_shard::{Redirect, SlotTable, key_slot};
//!
//! // Three masters, as `redis-cli --cluster create` splits the slots; then a fourth joins
//! // and takes the slot of "user:1000".
//! let (a, b, c) = (NodeId::new("a")?, NodeId::new("b")?, NodeId::new("c")?);
//! let d = NodeId::new("d")?;
//! let mut table = SlotTable::split_evenly([a.clone(), b.clone(), c.clone()])?;
//! table.add_node(d.clone())?;
//! let slot = key_slot(b"user:1000");
//! let source = table.owner(slot)?.clone();
//! table.begin_migration(slot, &d)?;
//! assert_eq!(table.redirect(b"user:1000", &source, false), Redirect::Ask { slot, node: d.clone() });
//! table.complete_migration(slot)?;
//! assert_eq!(table.redirect(b"user:1000", &source, false), Redirect::Moved { slot, node: d.clone() });
//! assert_eq!(table.slot_counts()[&d], 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [Redis Cluster specification]: https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/
//! [`NodeId`]: ha_core::NodeId

mod key_slot;
mod migration;
mod placement;
mod redirect;
mod table;

pub use key_slot::{SLOT_COUNT, hash_tag, key_slot};
pub use migration::SlotMigration;
pub use placement::SlotPlacement;
pub use redirect::Redirect;
pub use table::{SlotRange, SlotTable};
