//! # ha-replication — keeping copies right
//!
//! This crate holds the logic that keeps copies of data right while nodes fail, as sans-IO state
//! machines (replies, timeouts and time come in; messages and decisions go out):
//!
//! - quorum reads and writes with N / R / W and consistency levels, read repair, strong (ABD) and
//!   eventual (sloppy quorum, hinted handoff, anti-entropy) modes;
//! - version vectors, dotted version vectors, hybrid logical clocks and siblings;
//! - replica lag tracking, the phi accrual failure detector, failover choice with fencing epochs,
//!   session guarantees, and a trait for an existing leader-election backend.

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
pub use replica_set::ReplicaSet;
pub use sloppy_quorum::{SloppyTarget, sloppy_targets};
pub use version_vector::{Causality, VersionVector};
pub use write_coordinator::WriteCoordinator;
