//! The coordinator of one write: sends to every replica, counts acknowledgements against the
//! consistency level, and answers as soon as the level is met or cannot be.
//!
//! Followed: Dynamo's and Cassandra's coordinator — the write goes to all N replicas and
//! succeeds with W acknowledgements; the rest keep applying it in the background. Failures and
//! the deadline decide a failure; a timed-out write may have been applied by some replicas.

use std::time::Instant;

use ha_core::NodeId;

use crate::quorum::{Tally, TallyStatus, deadline_passed};
use crate::{Progress, ReplicaSet, Requirement, Result};

/// The state machine of one write.
///
/// Feed it each replica's acknowledgement ([`on_ack`](Self::on_ack)) or failure
/// ([`on_failure`](Self::on_failure)) and the deadline ([`handle_timeout`](Self::handle_timeout),
/// when [`poll_timeout`](Self::poll_timeout) says). Each returns the [`Progress`]:
/// `Succeeded(acks)` once the level is met, `Failed(why)` once it cannot be or the deadline
/// passed, `NeedMore` until then.
///
/// **Bad and late input.** A reply from a node not in the replica set is
/// [`Error::UnknownReplica`](crate::Error::UnknownReplica), a second reply from the same replica
/// [`Error::DuplicateReply`](crate::Error::DuplicateReply); neither changes anything. A reply
/// after the decision is recorded (so [`acked`](Self::acked) lists every replica known to hold the
/// write, and [`unacked`](Self::unacked) those that need a hint or repair) but never changes the
/// decision: the same final progress is returned again.
///
/// ```
/// use std::time::{Duration, Instant};
/// use ha_core::NodeId;
/// use ha_replication::{
///     ConsistencyLevel, Progress, ReplicaSet, ReplicationConfig, WriteCoordinator,
/// };
///
/// let ids = ["a", "b", "c"].map(|s| NodeId::new(s)).into_iter().collect::<Result<Vec<_>, _>>()?;
/// let replicas = ReplicaSet::single_datacenter(ids.clone())?;
/// let quorum = ReplicationConfig::single_datacenter(3).requirement(ConsistencyLevel::Quorum)?;
/// let now = Instant::now();
/// let mut write = WriteCoordinator::new(replicas, &quorum, now + Duration::from_millis(100))?;
/// assert_eq!(write.on_ack(&ids[0])?, Progress::NeedMore);
/// assert_eq!(write.on_failure(&ids[1])?, Progress::NeedMore);
/// assert_eq!(write.on_ack(&ids[2])?, Progress::Succeeded(2));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct WriteCoordinator {
    tally: Tally,
    deadline: Instant,
    decided: Option<Progress<usize>>,
}

impl WriteCoordinator {
    /// A write to every replica of `replicas`, needing `requirement`, failing at `deadline`.
    ///
    /// # Errors
    /// [`Error::Unavailable`](crate::Error::Unavailable) if the replica set cannot meet the
    /// requirement even if every replica acknowledges (too few replicas overall or in a
    /// datacenter the requirement counts in): nothing should be sent.
    pub fn new(
        replicas: ReplicaSet,
        requirement: &Requirement,
        deadline: Instant,
    ) -> Result<WriteCoordinator> {
        Ok(WriteCoordinator {
            tally: Tally::new(replicas, requirement)?,
            deadline,
            decided: None,
        })
    }

    /// The replicas to send the write to: all of them.
    #[must_use]
    pub fn targets(&self) -> &[NodeId] {
        self.tally.replicas().nodes()
    }

    /// Takes in `from`'s acknowledgement.
    ///
    /// # Errors
    /// [`Error::UnknownReplica`](crate::Error::UnknownReplica),
    /// [`Error::DuplicateReply`](crate::Error::DuplicateReply).
    pub fn on_ack(&mut self, from: &NodeId) -> Result<Progress<usize>> {
        self.tally.record(from, true)?;
        Ok(self.decide())
    }

    /// Takes in `from`'s failure to apply the write (an error reply, or a connection the
    /// transport knows is gone).
    ///
    /// # Errors
    /// As [`on_ack`](Self::on_ack).
    pub fn on_failure(&mut self, from: &NodeId) -> Result<Progress<usize>> {
        self.tally.record(from, false)?;
        Ok(self.decide())
    }

    /// Takes in the time: past the deadline, an undecided write fails with
    /// [`QuorumFailure::Timeout`](crate::QuorumFailure::Timeout). Harmless to call early or often.
    pub fn handle_timeout(&mut self, now: Instant) -> Progress<usize> {
        if self.decided.is_none() && deadline_passed(self.deadline, now) {
            let failure = self.tally.timeout_failure();
            tracing::debug!(?failure, "write timed out");
            self.decided = Some(Progress::Failed(failure));
        }
        self.progress()
    }

    /// When to call [`handle_timeout`](Self::handle_timeout): the deadline, or `None` once
    /// decided.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.decided.is_none().then_some(self.deadline)
    }

    /// Where the write stands.
    #[must_use]
    pub fn progress(&self) -> Progress<usize> {
        self.decided.clone().unwrap_or(Progress::NeedMore)
    }

    /// Replicas that acknowledged, so far (including after the decision).
    pub fn acked(&self) -> impl Iterator<Item = &NodeId> {
        self.tally.succeeded_nodes()
    }

    /// Replicas that have not acknowledged (failed or silent): the ones a hint or a repair must
    /// reach.
    pub fn unacked(&self) -> impl Iterator<Item = &NodeId> {
        let tally = &self.tally;
        tally
            .replicas()
            .nodes()
            .iter()
            .enumerate()
            .filter(move |(i, _)| tally.reply(*i) != crate::quorum::Reply::Succeeded)
            .map(|(_, id)| id)
    }

    /// Checks the internal counts (panics if they disagree); for tests and fuzzing.
    pub fn check_invariants(&self) {
        self.tally.check_invariants();
    }

    fn decide(&mut self) -> Progress<usize> {
        if self.decided.is_none() {
            match self.tally.status() {
                TallyStatus::Pending => {}
                TallyStatus::Met => {
                    let acks = self.tally.succeeded();
                    tracing::debug!(acks, "write quorum met");
                    self.decided = Some(Progress::Succeeded(acks));
                }
                TallyStatus::Failed(failure) => {
                    tracing::debug!(?failure, "write quorum impossible");
                    self.decided = Some(Progress::Failed(failure));
                }
            }
        }
        self.progress()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::{ConsistencyLevel, Error, QuorumFailure, ReplicationConfig};

    fn id(s: &str) -> NodeId {
        NodeId::new(s).unwrap()
    }

    fn two_dcs() -> (ReplicaSet, ReplicationConfig) {
        let set = ReplicaSet::new([
            (id("e1"), "eu"),
            (id("e2"), "eu"),
            (id("e3"), "eu"),
            (id("u1"), "us"),
            (id("u2"), "us"),
            (id("u3"), "us"),
        ])
        .unwrap();
        let config = ReplicationConfig::new([("eu", 3), ("us", 3)], Some("eu")).unwrap();
        (set, config)
    }

    #[test]
    fn each_quorum_needs_a_majority_in_every_datacenter() {
        let (set, config) = two_dcs();
        let req = config.requirement(ConsistencyLevel::EachQuorum).unwrap();
        let now = Instant::now();
        let mut w = WriteCoordinator::new(set, &req, now + Duration::from_secs(1)).unwrap();
        for node in ["e1", "e2", "e3", "u1"] {
            assert_eq!(w.on_ack(&id(node)).unwrap(), Progress::NeedMore);
        }
        assert_eq!(w.on_ack(&id("u2")).unwrap(), Progress::Succeeded(5));
        w.check_invariants();
    }

    #[test]
    fn local_quorum_fails_when_the_local_datacenter_cannot_answer() {
        let (set, config) = two_dcs();
        let req = config.requirement(ConsistencyLevel::LocalQuorum).unwrap();
        let mut w = WriteCoordinator::new(set, &req, Instant::now()).unwrap();
        w.on_ack(&id("u1")).unwrap();
        w.on_failure(&id("e1")).unwrap();
        let p = w.on_failure(&id("e2")).unwrap();
        assert_eq!(
            p,
            Progress::Failed(QuorumFailure::NotEnoughReplicas {
                datacenter: Some("eu".into()),
                needed: 2,
                succeeded: 0,
                failed: 2
            })
        );
        // Late acks are recorded but do not change the decision.
        assert_eq!(w.on_ack(&id("e3")).unwrap(), p);
        assert_eq!(w.acked().count(), 2);
    }

    #[test]
    fn unknown_duplicate_and_unavailable_are_errors() {
        let (set, config) = two_dcs();
        let req = config.requirement(ConsistencyLevel::Quorum).unwrap();
        let mut w = WriteCoordinator::new(set, &req, Instant::now()).unwrap();
        assert_eq!(w.on_ack(&id("x")), Err(Error::UnknownReplica(id("x"))));
        w.on_ack(&id("e1")).unwrap();
        assert_eq!(w.on_ack(&id("e1")), Err(Error::DuplicateReply(id("e1"))));
        assert_eq!(
            w.on_failure(&id("e1")),
            Err(Error::DuplicateReply(id("e1")))
        );
        let eu_only = ReplicaSet::single_datacenter([id("e1"), id("e2")]).unwrap();
        let local = config.requirement(ConsistencyLevel::LocalQuorum).unwrap();
        assert!(matches!(
            WriteCoordinator::new(eu_only, &local, Instant::now()),
            Err(Error::Unavailable { .. })
        ));
    }

    #[test]
    fn the_deadline_fails_an_undecided_write_once() {
        let set = ReplicaSet::single_datacenter([id("a"), id("b"), id("c")]).unwrap();
        let req = Requirement::majority(3).unwrap();
        let start = Instant::now();
        let mut w = WriteCoordinator::new(set, &req, start + Duration::from_millis(10)).unwrap();
        w.on_ack(&id("a")).unwrap();
        assert_eq!(w.handle_timeout(start), Progress::NeedMore);
        assert_eq!(w.poll_timeout(), Some(start + Duration::from_millis(10)));
        let p = w.handle_timeout(start + Duration::from_millis(10));
        assert!(matches!(p, Progress::Failed(QuorumFailure::Timeout { .. })));
        assert_eq!(w.poll_timeout(), None);
        assert_eq!(w.unacked().count(), 2);
    }

    #[test]
    fn a_hand_built_requirement_of_nothing_or_a_datacenter_twice_is_refused() {
        let set = ReplicaSet::single_datacenter([id("a"), id("b"), id("c")]).unwrap();
        let now = Instant::now();
        let nothing = Requirement {
            total: 0,
            per_datacenter: Vec::new(),
            ..Requirement::majority(3).unwrap()
        };
        assert_eq!(
            WriteCoordinator::new(set.clone(), &nothing, now).err(),
            Some(Error::ZeroConsistency)
        );
        let dc = set.datacenters()[0].clone();
        let twice = Requirement {
            total: 0,
            per_datacenter: vec![(dc.clone(), 1), (dc.clone(), 1)],
            ..Requirement::majority(3).unwrap()
        };
        assert_eq!(
            WriteCoordinator::new(set, &twice, now).err(),
            Some(Error::DuplicateDatacenter(dc))
        );
    }
}
