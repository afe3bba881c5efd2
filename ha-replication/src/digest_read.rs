//! A read that asks one replica for the value and the others only for its digest, and reads
//! full values from everyone only when the digests disagree — Cassandra's read path.
//!
//! Followed: Cassandra's digest reads (one "data" request to the closest replica, "digest"
//! requests to the others; on a mismatch, full data reads, reconciliation and read repair).
//! Where we differ: digest requests go to every other replica (a digest is eight bytes), and a
//! failed data replica switches to full reads at once rather than after a speculative-retry
//! delay. The digest is a [`VersionDigest`], XXH3-64 of the copy's canonical bytes.

use std::collections::VecDeque;
use std::time::Instant;

use ha_core::NodeId;

use crate::quorum::{Tally, TallyStatus, deadline_passed};
use crate::{
    Error, Progress, ReadCoordinator, Reconcile, RepairWrite, ReplicaSet, Requirement, Result,
    VersionDigest,
};

/// What a digest read asks a replica for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum ReadRequest {
    /// Send your copy (answer with [`DigestRead::on_data`]).
    Data,
    /// Send only your copy's [`VersionDigest`] (answer with [`DigestRead::on_digest`]).
    Digest,
}

#[derive(Debug, Clone)]
enum Phase<T> {
    /// One data request and digest requests out.
    Digests {
        tally: Tally,
        /// The data replica's copy and its digest, once it answered.
        data: Option<(Option<T>, Option<u64>)>,
        /// Digests received before the data (checked when it comes).
        pending: Vec<Option<u64>>,
    },
    /// The digests disagreed (or the data replica failed): full reads of every replica.
    Full(ReadCoordinator<T>),
    /// Answered from the data replica's copy, every digest agreeing.
    Done(Progress<Option<T>>),
}

/// One digest read, as a state machine: drain [`poll_transmit`](Self::poll_transmit) for the
/// requests, feed the data reply ([`on_data`](Self::on_data)), digest replies
/// ([`on_digest`](Self::on_digest)), failures and the time, and it answers with [`Progress`]
/// as a [`ReadCoordinator`] does.
///
/// While the digests agree with the data replica's copy, the answer is that copy, once the
/// consistency level is met (counting the data reply and the digest replies). The first
/// digest that disagrees turns the read into a full read: data requests go to every other
/// replica, the copies are reconciled, and [`poll_repair`](Self::poll_repair) hands out the
/// read repairs.
///
/// ```
/// use std::time::{Duration, Instant};
/// use ha_core::NodeId;
/// use ha_replication::{
///     DigestRead, DvvSet, Progress, ReadRequest, ReplicaSet, Requirement, VersionDigest,
///     VersionVector,
/// };
///
/// let (a, b, c) = (NodeId::new("a")?, NodeId::new("b")?, NodeId::new("c")?);
/// let set = ReplicaSet::single_datacenter([a.clone(), b.clone(), c.clone()])?;
/// let mut old = DvvSet::new();
/// old.write(&a, &VersionVector::new(), 1u64)?;
/// let mut new = old.clone();
/// let ctx = new.context().clone();
/// new.write(&b, &ctx, 2)?;
/// let stores = [new.clone(), new.clone(), old]; // c missed the second write
/// let deadline = Instant::now() + Duration::from_millis(50);
///
/// // a and b agree: answered from a's copy, c never sent a value.
/// let mut read = DigestRead::new(set.clone(), &Requirement::majority(3)?, &a, deadline)?;
/// let requests: Vec<_> = std::iter::from_fn(|| read.poll_transmit()).collect();
/// assert_eq!(requests, [(a.clone(), ReadRequest::Data), (b.clone(), ReadRequest::Digest),
///     (c.clone(), ReadRequest::Digest)]);
/// read.on_digest(&b, Some(stores[1].version_digest()))?;
/// let Progress::Succeeded(Some(value)) = read.on_data(&a, Some(stores[0].clone()))? else {
///     panic!("quorum of agreeing copies");
/// };
/// assert_eq!(value, new);
///
/// // c's digest disagrees: full reads, then c is repaired.
/// let mut read = DigestRead::new(set, &Requirement::majority(3)?, &a, deadline)?;
/// while read.poll_transmit().is_some() {}
/// read.on_data(&a, Some(stores[0].clone()))?;
/// read.on_digest(&c, Some(stores[2].version_digest()))?;
/// assert!(read.is_full_read());
/// let asked: Vec<_> = std::iter::from_fn(|| read.poll_transmit()).collect();
/// assert_eq!(asked, [(b.clone(), ReadRequest::Data), (c.clone(), ReadRequest::Data)]);
/// read.on_data(&c, Some(stores[2].clone()))?;
/// assert_eq!(read.progress(), Progress::Succeeded(Some(new.clone())));
/// let repair = read.poll_repair().expect("c is stale");
/// assert_eq!((repair.replica, repair.value), (c, new));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct DigestRead<T> {
    replicas: ReplicaSet,
    requirement: Requirement,
    deadline: Instant,
    data_replica: NodeId,
    phase: Phase<T>,
    outbox: VecDeque<(NodeId, ReadRequest)>,
}

impl<T: Reconcile + VersionDigest> DigestRead<T> {
    /// A digest read of `replicas` needing `requirement`, asking `data_replica` (usually the
    /// closest) for the value and the others for digests, failing at `deadline`.
    ///
    /// # Errors
    /// [`Error::UnknownReplica`] if `data_replica` is not in `replicas`;
    /// [`Error::Unavailable`] if the set cannot meet the requirement.
    pub fn new(
        replicas: ReplicaSet,
        requirement: &Requirement,
        data_replica: &NodeId,
        deadline: Instant,
    ) -> Result<DigestRead<T>> {
        if !replicas.contains(data_replica) {
            return Err(Error::UnknownReplica(data_replica.clone()));
        }
        let tally = Tally::new(replicas.clone(), requirement)?;
        let mut outbox = VecDeque::with_capacity(replicas.len());
        outbox.push_back((data_replica.clone(), ReadRequest::Data));
        outbox.extend(
            replicas
                .nodes()
                .iter()
                .filter(|id| *id != data_replica)
                .map(|id| (id.clone(), ReadRequest::Digest)),
        );
        Ok(DigestRead {
            replicas,
            requirement: requirement.clone(),
            deadline,
            data_replica: data_replica.clone(),
            phase: Phase::Digests {
                tally,
                data: None,
                pending: Vec::new(),
            },
            outbox,
        })
    }

    /// The next request to send: drain after construction and after every input (a mismatch
    /// adds data requests).
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<(NodeId, ReadRequest)> {
        self.outbox.pop_front()
    }

    /// Whether a mismatch (or the data replica's failure) turned this into a full read.
    #[must_use]
    pub fn is_full_read(&self) -> bool {
        matches!(self.phase, Phase::Full(_))
    }

    /// Takes in `from`'s copy (`None`: it holds nothing for the key). Before any mismatch,
    /// a copy from a replica other than the data replica counts as its digest.
    ///
    /// # Errors
    /// [`Error::UnknownReplica`], [`Error::DuplicateReply`]; nothing changes.
    pub fn on_data(&mut self, from: &NodeId, copy: Option<T>) -> Result<Progress<Option<T>>> {
        match &mut self.phase {
            Phase::Full(full) => return full.on_value(from, copy),
            Phase::Done(_) => {
                self.check_replica(from)?;
                return Ok(self.progress());
            }
            Phase::Digests { .. } if *from != self.data_replica => {
                let digest = copy.as_ref().map(VersionDigest::version_digest);
                return self.on_digest(from, digest);
            }
            Phase::Digests { tally, data, .. } => {
                tally.record(from, true)?;
                let digest = copy.as_ref().map(VersionDigest::version_digest);
                *data = Some((copy, digest));
            }
        }
        self.after_digests_input()
    }

    /// Takes in `from`'s digest (`None`: it holds nothing for the key). After a mismatch,
    /// digests are ignored (the full read's data replies count).
    ///
    /// # Errors
    /// [`Error::UnknownReplica`], [`Error::DuplicateReply`] (a digest from the data replica
    /// included); nothing changes.
    pub fn on_digest(&mut self, from: &NodeId, digest: Option<u64>) -> Result<Progress<Option<T>>> {
        let Phase::Digests { tally, pending, .. } = &mut self.phase else {
            self.check_replica(from)?;
            return Ok(self.progress());
        };
        if *from == self.data_replica {
            return Err(Error::DuplicateReply(from.clone()));
        }
        tally.record(from, true)?;
        pending.push(digest);
        self.after_digests_input()
    }

    /// Takes in `from`'s failure to answer. The data replica failing turns the read into a
    /// full read of the others.
    ///
    /// # Errors
    /// As [`on_digest`](Self::on_digest).
    pub fn on_failure(&mut self, from: &NodeId) -> Result<Progress<Option<T>>> {
        match &mut self.phase {
            Phase::Full(full) => full.on_failure(from),
            Phase::Done(_) => {
                self.check_replica(from)?;
                Ok(self.progress())
            }
            Phase::Digests { tally, .. } => {
                tally.record(from, false)?;
                if *from == self.data_replica {
                    tracing::debug!(replica = %from, "digest read: data replica failed, reading in full");
                    self.go_full()?;
                    return Ok(self.progress());
                }
                self.after_digests_input()
            }
        }
    }

    /// Takes in the time: past the deadline an undecided read fails with
    /// [`QuorumFailure::Timeout`](crate::QuorumFailure::Timeout).
    pub fn handle_timeout(&mut self, now: Instant) -> Progress<Option<T>> {
        match &mut self.phase {
            Phase::Full(full) => full.handle_timeout(now),
            Phase::Done(p) => p.clone(),
            Phase::Digests { tally, .. } => {
                if deadline_passed(self.deadline, now) {
                    let failure = tally.timeout_failure();
                    tracing::debug!(?failure, "digest read timed out");
                    self.finish(Progress::Failed(failure));
                }
                self.progress()
            }
        }
    }

    /// When to call [`handle_timeout`](Self::handle_timeout): the deadline, until decided.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.phase {
            Phase::Full(full) => full.poll_timeout(),
            Phase::Done(_) => None,
            Phase::Digests { .. } => Some(self.deadline),
        }
    }

    /// Where the read stands.
    #[must_use]
    pub fn progress(&self) -> Progress<Option<T>> {
        match &self.phase {
            Phase::Full(full) => full.progress(),
            Phase::Done(p) => p.clone(),
            Phase::Digests { .. } => Progress::NeedMore,
        }
    }

    /// The next read-repair write, after a full read (see
    /// [`ReadCoordinator::poll_repair`]); none when the digests agreed.
    #[must_use]
    pub fn poll_repair(&mut self) -> Option<RepairWrite<T>> {
        match &mut self.phase {
            Phase::Full(full) => full.poll_repair(),
            _ => None,
        }
    }

    fn check_replica(&self, from: &NodeId) -> Result<()> {
        if self.replicas.contains(from) {
            Ok(())
        } else {
            Err(Error::UnknownReplica(from.clone()))
        }
    }

    fn finish(&mut self, progress: Progress<Option<T>>) {
        self.outbox.clear();
        self.phase = Phase::Done(progress);
    }

    /// After a reply in the digest phase: a mismatch goes full; a met level with the data in
    /// hand answers; an impossible level fails.
    fn after_digests_input(&mut self) -> Result<Progress<Option<T>>> {
        let Phase::Digests {
            tally,
            data,
            pending,
        } = &mut self.phase
        else {
            return Ok(self.progress());
        };
        if let Some((_, expected)) = data {
            let expected = *expected;
            if pending.iter().any(|d| *d != expected) {
                tracing::debug!(digests = pending.len(), "digest mismatch: reading in full");
                self.go_full()?;
                return Ok(self.progress());
            }
            pending.clear();
        }
        match tally.status() {
            TallyStatus::Pending => {}
            TallyStatus::Met => {
                if let Some((copy, _)) = data.take() {
                    tracing::debug!(replies = tally.succeeded(), "digest read: copies agree");
                    self.finish(Progress::Succeeded(copy));
                }
            }
            TallyStatus::Failed(failure) => {
                tracing::debug!(?failure, "digest read impossible");
                self.finish(Progress::Failed(failure));
            }
        }
        Ok(self.progress())
    }

    /// Switches to full reads of every replica, keeping the data replica's copy (or failure).
    fn go_full(&mut self) -> Result<()> {
        let Phase::Digests { tally, data, .. } = &mut self.phase else {
            return Ok(());
        };
        let data_failed = data.is_none()
            && tally
                .replicas()
                .index_of(&self.data_replica)
                .is_some_and(|i| tally.reply(i) == crate::quorum::Reply::Failed);
        let data = data.take().map(|(copy, _)| copy);
        let mut full =
            ReadCoordinator::new(self.replicas.clone(), &self.requirement, self.deadline)?;
        match data {
            Some(copy) => {
                full.on_value(&self.data_replica, copy)?;
            }
            None if data_failed => {
                full.on_failure(&self.data_replica)?;
            }
            None => {}
        }
        self.outbox.clear();
        self.outbox.extend(
            self.replicas
                .nodes()
                .iter()
                .filter(|id| **id != self.data_replica)
                .map(|id| (id.clone(), ReadRequest::Data)),
        );
        self.phase = Phase::Full(full);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{HlcTimestamp, QuorumFailure, Stamped};
    use std::time::Duration;

    fn id(s: &str) -> NodeId {
        NodeId::new(s).unwrap()
    }

    fn v(value: u64, wall: u64) -> Stamped<u64> {
        Stamped::new(
            value,
            HlcTimestamp {
                wall_nanos: wall,
                logical: 0,
            },
            id("w"),
        )
    }

    fn read(n: usize, need: usize) -> DigestRead<Stamped<u64>> {
        let ids: Vec<NodeId> = (0..n).map(|i| id(&format!("r{i}"))).collect();
        let set = ReplicaSet::single_datacenter(ids).unwrap();
        let mut r = DigestRead::new(
            set,
            &Requirement::count(need).unwrap(),
            &id("r0"),
            Instant::now() + Duration::from_secs(1),
        )
        .unwrap();
        while r.poll_transmit().is_some() {}
        r
    }

    #[test]
    fn agreeing_digests_answer_from_the_data_copy_without_full_reads() {
        let mut r = read(3, 2);
        assert_eq!(
            r.on_digest(&id("r1"), Some(v(1, 1).version_digest()))
                .unwrap(),
            Progress::NeedMore
        );
        let p = r.on_data(&id("r0"), Some(v(1, 1))).unwrap();
        assert_eq!(p, Progress::Succeeded(Some(v(1, 1))));
        assert!(!r.is_full_read());
        assert!(r.poll_transmit().is_none());
        assert!(r.poll_repair().is_none());
        // A late disagreeing digest changes nothing (anti-entropy reaches that replica).
        assert_eq!(r.on_digest(&id("r2"), None).unwrap(), p);
    }

    #[test]
    fn a_digest_that_disagrees_before_the_data_arrives_forces_full_reads() {
        let mut r = read(3, 2);
        r.on_digest(&id("r1"), Some(v(2, 2).version_digest()))
            .unwrap();
        assert!(!r.is_full_read(), "nothing to compare with yet");
        assert_eq!(
            r.on_data(&id("r0"), Some(v(1, 1))).unwrap(),
            Progress::NeedMore
        );
        assert!(r.is_full_read());
        let asked: Vec<_> = std::iter::from_fn(|| r.poll_transmit()).collect();
        assert_eq!(
            asked,
            [(id("r1"), ReadRequest::Data), (id("r2"), ReadRequest::Data)]
        );
        // Late phase-one digests are ignored now.
        assert_eq!(r.on_digest(&id("r2"), Some(7)).unwrap(), Progress::NeedMore);
        assert_eq!(
            r.on_data(&id("r1"), Some(v(2, 2))).unwrap(),
            Progress::Succeeded(Some(v(2, 2)))
        );
        let repair = r.poll_repair().unwrap();
        assert_eq!((repair.replica, repair.value), (id("r0"), v(2, 2)));
        assert!(r.poll_repair().is_none());
    }

    #[test]
    fn a_failed_data_replica_switches_to_full_reads_of_the_others() {
        let mut r = read(3, 2);
        assert_eq!(r.on_failure(&id("r0")).unwrap(), Progress::NeedMore);
        assert!(r.is_full_read());
        assert_eq!(std::iter::from_fn(|| r.poll_transmit()).count(), 2);
        r.on_data(&id("r1"), None).unwrap();
        assert_eq!(
            r.on_data(&id("r2"), Some(v(3, 3))).unwrap(),
            Progress::Succeeded(Some(v(3, 3)))
        );
    }

    #[test]
    fn bad_replies_are_refused_and_failures_and_timeouts_decide() {
        let mut r = read(3, 3);
        assert_eq!(
            r.on_digest(&id("x"), None),
            Err(Error::UnknownReplica(id("x")))
        );
        assert_eq!(
            r.on_digest(&id("r0"), None),
            Err(Error::DuplicateReply(id("r0")))
        );
        r.on_digest(&id("r1"), None).unwrap();
        assert_eq!(
            r.on_digest(&id("r1"), None),
            Err(Error::DuplicateReply(id("r1")))
        );
        assert!(matches!(
            r.on_failure(&id("r2")).unwrap(),
            Progress::Failed(QuorumFailure::NotEnoughReplicas { .. })
        ));
        assert_eq!(r.poll_timeout(), None);

        let mut slow = read(3, 2);
        let late = Instant::now() + Duration::from_secs(2);
        assert!(matches!(
            slow.handle_timeout(late),
            Progress::Failed(QuorumFailure::Timeout { .. })
        ));
        assert!(
            DigestRead::<Stamped<u64>>::new(
                ReplicaSet::single_datacenter([id("a")]).unwrap(),
                &Requirement::count(1).unwrap(),
                &id("b"),
                late,
            )
            .is_err()
        );
    }
}
