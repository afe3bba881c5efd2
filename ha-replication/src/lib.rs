//! # ha-replication — keeping copies right
//!
//! The logic that keeps copies of data right while nodes fail, as sans-IO state machines and
//! plain functions: replica replies, timeouts, positions, heartbeats and time (`now: Instant`)
//! come in; messages to send, resolved values, read repairs, lag reports, suspicions, failover
//! decisions and plans go out. The crate does **no I/O**: it opens
//! no sockets, spawns nothing, never sleeps and never reads the clock (the in-memory election
//! backend reads an injected [`ha_core::Clock`]).
//!
//! ## Quorums, versions, strong and eventual modes
//!
//! | concern | types |
//! |---|---|
//! | N / R / W and consistency levels (ONE … EACH_QUORUM) | [`QuorumConfig`], [`ReplicationConfig`], [`ConsistencyLevel`], [`Requirement`], [`ReplicaSet`] |
//! | one write, one read: need more / succeeded / failed, read repair | [`WriteCoordinator`], [`ReadCoordinator`], [`Progress`], [`QuorumFailure`], [`RepairWrite`] |
//! | digest reads (one value, digests from the others, full reads on a mismatch) | [`DigestRead`], [`ReadRequest`], [`VersionDigest`], [`DigestBytes`] |
//! | versions | [`VersionVector`], [`DvvSet`] (dotted version vectors), [`HybridClock`] |
//! | conflicts | [`Reconcile`], [`Stamped`] (last writer wins), [`ConflictResolver`], [`MergeWith`], [`Resolved`] |
//! | strong mode: a linearizable register (ABD) | [`AbdOperation`], [`AbdRegister`], [`AbdQuorums`] |
//! | eventual mode | [`sloppy_targets`], [`HintStore`] (hinted handoff), [`MerkleTree`] (anti-entropy, per-key [`VersionDigest`]) |
//!
//! Bad settings (R or W above N, a zero factor, an unknown local datacenter) are refused when a
//! config or coordinator is built; bad replies (unknown replicas, duplicates) are typed
//! [`Error`]s that change nothing; replies after a decision are taken in for repair but never
//! change the answer. Strong mode is checked linearizable, and eventual mode convergent with no
//! acknowledged write lost, by seeded fault-injecting simulations in `tests/`.
//!
//! ### A quorum write, then a read that repairs
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
//! ## Lag, failure detection, failover
//!
//! | concern | types |
//! |---|---|
//! | replica lag as PostgreSQL's write / flush / replay lag, p50 / p99 over a window | [`LagTracker`], [`LagWindow`], [`PerStage`], [`LagStage`] |
//! | in sync / lagging / disconnected | [`LagLimits`], [`LagStatus`] |
//! | stream from a position, take a snapshot, or rewind a deposed primary | [`CatchUpConfig`], [`CatchUpPlan`], [`RetainedLog`], [`EpochHistory`] |
//! | φ accrual failure detection (Akka's parameters) | [`PhiAccrualDetector`], [`PhiConfig`], [`FailureDetectors`] |
//! | which replica to promote, or why none | [`FailoverSelector`], [`FailoverPolicy`], [`FailoverDecision`], [`Rejection`] |
//! | the failover's steps against 30 s / RPO 1 min / RTO 5 min | [`FailoverPlan`], [`StepDurations`], [`FailoverTargets`] |
//! | deposed primaries' writes refused | [`Epoch`], [`Fence`], [`FenceVerdict`] |
//! | read-your-writes, monotonic reads, across failovers | [`Session`], [`Covers`], [`ReadTarget`], [`EpochPosition`] |
//! | leader election over an existing engine | [`ElectionBackend`], [`Lease`], [`InMemoryElection`] (tests) |
//!
//! ### A failover
//!
//! A primary and two replicas; the primary's heartbeats stop, the detector suspects it, the most
//! caught-up healthy replica is chosen, a new epoch fences the old primary, and a client session
//! reads its own write only where it has arrived:
//!
//! ```
//! use std::time::{Duration, Instant};
//! use ha_core::{Health, NodeId};
//! use ha_replication::*;
//!
//! let (p, r1, r2) = (NodeId::new("p")?, NodeId::new("r1")?, NodeId::new("r2")?);
//! let mut lag = LagTracker::new(LagConfig::default())?;
//! lag.add_replica(r1.clone())?;
//! lag.add_replica(r2.clone())?;
//! let mut detector = PhiAccrualDetector::new(PhiConfig::default())?;
//! let mut session = Session::<Position>::new();
//! let mut fence = Fence::new();
//!
//! let mut now = Instant::now();
//! for i in 1..=50u64 {
//!     detector.heartbeat(now)?;
//!     lag.on_primary_write(Position(i), now)?;
//!     assert!(fence.admit(&p, Epoch(1)).is_accepted());
//!     session.on_write(Position(i));
//!     now += Duration::from_millis(20);
//!     lag.on_replica_report(&r1, PerStage::uniform(Position(i)), now)?;
//!     lag.on_replica_report(&r2, PerStage::uniform(Position(i - 1)), now)?;
//! }
//! // r2 is one write behind: the session's last write is only on r1.
//! let states = [(r1.clone(), Position(50)), (r2.clone(), Position(49))];
//! assert_eq!(session.read_target(Some(&Position(50)), &states), ReadTarget::Replicas(vec![r1.clone()]));
//!
//! // The primary goes silent; 15 s later it is suspected.
//! now += Duration::from_secs(15);
//! assert!(!detector.is_available(now));
//! let candidates: Vec<_> = [&r1, &r2].into_iter().map(|r| {
//!     let report = lag.replica(r, now)?;
//!     let at = report.positions.map_or(Position::ZERO, |p| p.flush);
//!     Ok(FailoverCandidate::new(r.clone(), at)
//!         .with_health(Health::Healthy)
//!         .with_lag(report.p99.replay.unwrap_or_default()))
//! }).collect::<Result<_>>()?;
//! let decision = FailoverSelector::new(FailoverPolicy::default())?
//!     .choose(lag.primary_position().unwrap_or_default(), &candidates)?;
//! let promotion = decision.promote.expect("r1 is eligible");
//! assert_eq!(promotion.node, r1);
//!
//! let plan = FailoverPlan::new(&p, &promotion, Epoch(2), &[r1.clone(), r2.clone()],
//!     &StepDurations::default(), &FailoverTargets::default())?;
//! assert!(plan.meets_targets());
//! // r1 writes in epoch 2; the old primary's late write in epoch 1 is refused.
//! assert!(fence.admit(&r1, Epoch(2)).is_accepted());
//! assert!(!fence.admit(&p, Epoch(1)).is_accepted());
//! # Ok::<(), ha_replication::Error>(())
//! ```

mod abd;
mod catch_up;
mod conflict;
mod consistency;
mod digest;
mod digest_read;
mod dotted;
mod election;
mod epoch_history;
mod epoch_position;
mod error;
mod failover;
mod failover_plan;
mod failure_detectors;
mod fencing;
mod hinted_handoff;
mod hlc;
mod lag;
mod lag_status;
mod lag_window;
mod merkle;
mod phi;
mod position;
mod quorum;
mod read_coordinator;
mod replica_set;
mod session;
mod sloppy_quorum;
mod stage;
mod version_vector;
mod write_coordinator;

pub use catch_up::{CatchUpConfig, CatchUpPlan, RetainedLog};
pub use election::{Campaign, ElectionBackend, InMemoryElection, Lease};
pub use epoch_history::EpochHistory;
pub use epoch_position::EpochPosition;
pub use error::{Error, Result};
pub use failover::{
    FailoverCandidate, FailoverDecision, FailoverPolicy, FailoverSelector, Promotion, Rejection,
};
pub use failover_plan::{
    FailoverPlan, FailoverStep, FailoverTargets, PlannedStep, StepDurations, TargetCheck,
};
pub use failure_detectors::FailureDetectors;
pub use fencing::{Epoch, Fence, FenceVerdict};
pub use lag::{LagConfig, LagTracker, ReplicaLag, SampleCount};
pub use lag_status::{LagLimits, LagStatus};
pub use lag_window::{LagWindow, LagWindowConfig};
pub use phi::{PhiAccrualDetector, PhiConfig, phi};
pub use position::Position;
pub use session::{Covers, ReadTarget, Session};
pub use stage::{LagStage, PerStage};

pub use abd::{
    AbdOperation, AbdOutput, AbdQuorums, AbdRegister, AbdReply, AbdRequest, AbdWriter, Tag, Tagged,
};
pub use conflict::{
    ConflictResolver, KeepSiblings, LastWriterWins, MergeWith, Reconcile, Resolved, Stamped,
};
pub use consistency::{
    ConsistencyLevel, DEFAULT_DATACENTER, QuorumConfig, ReplicationConfig, Requirement,
};
pub use digest::{DigestBytes, DigestWriter, VersionDigest};
pub use digest_read::{DigestRead, ReadRequest};
pub use dotted::{Dot, DvvSet};
pub use hinted_handoff::{Hint, HintConfig, HintOutcome, HintStore};
pub use hlc::{HlcTimestamp, HybridClock};
pub use merkle::{KeyRange, MAX_MERKLE_DEPTH, MerkleTree, merkle_key_hash};
pub use quorum::{Progress, QuorumFailure};
pub use read_coordinator::{ReadCoordinator, RepairWrite};
pub use replica_set::{MAX_REPLICAS, ReplicaSet};
pub use sloppy_quorum::{SloppyTarget, sloppy_targets};
pub use version_vector::{Causality, VersionVector};
pub use write_coordinator::WriteCoordinator;
