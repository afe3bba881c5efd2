//! # ha-replication — keeping copies right
//!
//! This crate decides how copies of data stay right while nodes fail, as sans-IO state machines:
//! replica replies, timeouts and time (`now: Instant`) come in; the messages to send and the
//! decisions come out. It does **no I/O** — no sockets, no threads, no clock reads.
//!
//! | concern | types |
//! |---|---|
//! | N / R / W and consistency levels (ONE … EACH_QUORUM) | [`QuorumConfig`], [`ReplicationConfig`], [`ConsistencyLevel`], [`Requirement`], [`ReplicaSet`] |
//! | one write, one read: need more / succeeded / failed, read repair | [`WriteCoordinator`], [`ReadCoordinator`], [`Progress`], [`QuorumFailure`], [`RepairWrite`] |
//! | versions | [`VersionVector`], [`DvvSet`] (dotted version vectors), [`HybridClock`] |
//! | conflicts | [`Reconcile`], [`Stamped`] (last writer wins), [`ConflictResolver`], [`MergeWith`], [`Resolved`] |
//! | strong mode: a linearizable register (ABD) | [`AbdOperation`], [`AbdRegister`], [`AbdQuorums`] |
//! | eventual mode | [`sloppy_targets`], [`HintStore`] (hinted handoff), [`MerkleTree`] (anti-entropy) |
//!
//! Bad settings (R or W above N, a zero factor, an unknown local datacenter) are refused when a
//! config or coordinator is built; bad replies (unknown replicas, duplicates) are typed
//! [`Error`]s that change nothing; replies after a decision are taken in for repair but never
//! change the answer. Strong mode is checked linearizable, and eventual mode convergent with no
//! acknowledged write lost, by seeded fault-injecting simulations in `tests/`.
//!
//! ## The loop
//!
//! A `QUORUM` write of a dotted-version-vector value to three replicas, one of which is down,
//! then a `QUORUM` read that finds one stale copy and repairs it:
//!
//! ```
//! use std::time::{Duration, Instant};
//! use ha_core::NodeId;
//! use ha_replication::{
//!     DvvSet, Progress, QuorumConfig, ReadCoordinator, ReplicaSet, VersionVector,
//!     WriteCoordinator,
//! };
//!
//! let config = QuorumConfig::default(); // N = 3, R = W = QUORUM
//! let ids = ["a", "b", "c"].map(NodeId::new).into_iter().collect::<Result<Vec<_>, _>>()?;
//! let replicas = ReplicaSet::single_datacenter(ids.clone())?;
//! let mut stores = vec![DvvSet::new(); 3];
//! let mut now = Instant::now();
//!
//! // Write "v1" coordinated by a: a and b acknowledge, c is down.
//! stores[0].write(&ids[0], &VersionVector::new(), "v1")?;
//! let mut write = WriteCoordinator::new(
//!     replicas.clone(), &config.write_requirement()?, now + Duration::from_millis(50))?;
//! write.on_ack(&ids[0])?;
//! stores[1] = stores[0].clone();
//! assert_eq!(write.on_ack(&ids[1])?, Progress::Succeeded(2));
//! now += Duration::from_millis(60);
//! assert_eq!(write.handle_timeout(now), Progress::Succeeded(2)); // decided stays decided
//!
//! // c is back; a read hears from c (nothing) and b, answers "v1" and repairs c.
//! let mut read = ReadCoordinator::new(
//!     replicas, &config.read_requirement()?, now + Duration::from_millis(50))?;
//! read.on_value(&ids[2], None)?;
//! let Progress::Succeeded(Some(value)) = read.on_value(&ids[1], Some(stores[1].clone()))? else {
//!     panic!("quorum of two replies");
//! };
//! assert_eq!(value.values().collect::<Vec<_>>(), [&"v1"]);
//! for repair in read.repairs() {
//!     assert_eq!(repair.replica, ids[2]);
//!     stores[2].merge(&repair.value);
//! }
//! assert_eq!(stores[2], stores[0]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Still to come in this crate for the issue "ha-replication: quorums, versions, lag tracking,
//! failure detection and failover — proven under faults": replica lag tracking, the phi accrual
//! failure detector, failover choice with fencing epochs, session guarantees, and a trait for an
//! existing leader-election backend.

mod abd;
mod conflict;
mod consistency;
mod dotted;
mod error;
mod hinted_handoff;
mod hlc;
mod merkle;
mod quorum;
mod read_coordinator;
mod replica_set;
mod sloppy_quorum;
mod version_vector;
mod write_coordinator;

pub use abd::{
    AbdOperation, AbdOutput, AbdQuorums, AbdRegister, AbdReply, AbdRequest, Tag, Tagged,
};
pub use conflict::{
    ConflictResolver, KeepSiblings, LastWriterWins, MergeWith, Reconcile, Resolved, Stamped,
};
pub use consistency::{
    ConsistencyLevel, DEFAULT_DATACENTER, QuorumConfig, ReplicationConfig, Requirement,
};
pub use dotted::{Dot, DvvSet};
pub use error::{Error, Result};
pub use hinted_handoff::{Hint, HintConfig, HintOutcome, HintStore};
pub use hlc::{HlcTimestamp, HybridClock};
pub use merkle::{KeyRange, MAX_MERKLE_DEPTH, MerkleTree, merkle_key_hash};
pub use quorum::{Progress, QuorumFailure};
pub use read_coordinator::{ReadCoordinator, RepairWrite};
pub use replica_set::{MAX_REPLICAS, ReplicaSet};
pub use sloppy_quorum::{SloppyTarget, sloppy_targets};
pub use version_vector::{Causality, VersionVector};
pub use write_coordinator::WriteCoordinator;
