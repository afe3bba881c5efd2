//! # ha-replication — keeping copies right
//!
//! The logic that keeps copies of data right while nodes fail, as sans-IO state machines and
//! plain functions: positions, replies, heartbeats and time (`now: Instant`) come in; lag
//! reports, suspicions, failover decisions and plans go out. The crate does **no I/O**: it opens
//! no sockets, spawns nothing, never sleeps and never reads the clock (the in-memory election
//! backend reads an injected [`ha_core::Clock`]).
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
//! | read-your-writes, monotonic reads | [`Session`], [`Covers`], [`ReadTarget`] |
//! | leader election over an existing engine | [`ElectionBackend`], [`Lease`], [`InMemoryElection`] (tests) |
//!
//! ## The loop
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
//! assert_eq!(session.read_target(&states), ReadTarget::Replicas(vec![r1.clone()]));
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

mod catch_up;
mod election;
mod epoch_history;
mod error;
mod failover;
mod failover_plan;
mod failure_detectors;
mod fencing;
mod lag;
mod lag_status;
mod lag_window;
mod phi;
mod position;
mod session;
mod stage;

pub use catch_up::{CatchUpConfig, CatchUpPlan, RetainedLog};
pub use election::{Campaign, ElectionBackend, InMemoryElection, Lease};
pub use epoch_history::EpochHistory;
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
