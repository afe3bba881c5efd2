//! The coordinator of one read: asks every replica, reconciles the copies that come back, answers
//! once the consistency level is met, and lists the read-repair writes for replicas found stale.
//!
//! Followed: Dynamo's read path (the coordinator reconciles the versions it received and writes
//! the result back to replicas holding older ones) with Cassandra's consistency levels. Where we
//! differ: full values, not digests, come back from every replica.

use std::time::Instant;

use ha_core::NodeId;

use crate::quorum::{Tally, TallyStatus, deadline_passed};
use crate::{Progress, QuorumFailure, ReplicaSet, Requirement, Result};

/// A write that brings a stale replica up to date: send `value` to `replica`, which reconciles
/// it with its copy.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct RepairWrite<T> {
    /// The stale replica.
    pub replica: NodeId,
    /// The reconciled value it lacks.
    pub value: T,
}

/// The state machine of one read, over copies of type `T` that [`Reconcile`](crate::Reconcile)
/// (a [`DvvSet`](crate::DvvSet), a [`Stamped`](crate::Stamped) value, an ABD
/// [`Tagged`](crate::Tagged) value).
///
/// Feed it each replica's copy ([`on_value`](Self::on_value), `None` when the replica holds
/// nothing for the key), failures ([`on_failure`](Self::on_failure)) and the deadline
/// ([`handle_timeout`](Self::handle_timeout)). Once the level is met it answers
/// `Succeeded(value)`: every copy received, reconciled — the newest, or for a `DvvSet` the
/// siblings none of which supersedes the others. [`poll_repair`](Self::poll_repair) then hands
/// out, once each, the writes that bring each replica that answered with less up to date
/// ([`repairs`](Self::repairs) lists them all at once). Replies after the decision are still
/// taken in: a late stale copy gets its own repair, and a late copy newer than the answer sends
/// its news to every replica that answered (the answer itself does not change).
///
/// Bad input is refused as for the [`WriteCoordinator`](crate::WriteCoordinator): an unknown
/// replica or a second reply is an error and changes nothing.
///
/// ```
/// use std::time::{Duration, Instant};
/// use ha_core::NodeId;
/// use ha_replication::{
///     DvvSet, Progress, ReadCoordinator, ReplicaSet, Requirement, VersionVector,
/// };
///
/// let (a, b, c) = (NodeId::new("a")?, NodeId::new("b")?, NodeId::new("c")?);
/// let replicas = ReplicaSet::single_datacenter([a.clone(), b.clone(), c.clone()])?;
/// let mut old = DvvSet::new();
/// old.write(&a, &VersionVector::new(), "v1")?;
/// let mut new = old.clone();
/// let context = new.context().clone();
/// new.write(&b, &context, "v2")?;
///
/// let now = Instant::now();
/// let mut read = ReadCoordinator::new(replicas, &Requirement::majority(3)?, now + Duration::from_millis(50))?;
/// assert_eq!(read.on_value(&a, Some(old))?, Progress::NeedMore);
/// let Progress::Succeeded(Some(value)) = read.on_value(&b, Some(new.clone()))? else { panic!() };
/// assert_eq!(value.values().collect::<Vec<_>>(), [&"v2"]);
/// // a answered with an older copy: repair it.
/// let repairs = read.repairs();
/// assert_eq!(repairs.len(), 1);
/// assert_eq!(repairs[0].replica, a);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ReadCoordinator<T> {
    tally: Tally,
    deadline: Instant,
    /// Per replica index: the copy received (`Some(None)`: replied, holds nothing).
    copies: Vec<Option<Option<T>>>,
    /// The copies received until the decision, reconciled: the answer, once decided.
    merged: Option<T>,
    /// Every copy received, including after the decision, reconciled (only once a copy comes
    /// late): what repairs bring replicas up to.
    latest: Option<T>,
    decided: Option<Decision>,
    /// Bumped each time a late copy changes what repairs bring replicas up to.
    generation: u64,
    /// Per replica index: the generation it is known to hold (its copy equals it, or a repair
    /// of it was handed out by `poll_repair`). Empty until `poll_repair` is first called.
    repaired: Vec<Option<u64>>,
}

#[derive(Debug, Clone)]
enum Decision {
    Succeeded,
    Failed(QuorumFailure),
}

impl<T: crate::Reconcile> ReadCoordinator<T> {
    /// A read of every replica of `replicas`, needing `requirement`, failing at `deadline`.
    ///
    /// # Errors
    /// [`Error::Unavailable`](crate::Error::Unavailable) if the set cannot meet the requirement.
    pub fn new(
        replicas: ReplicaSet,
        requirement: &Requirement,
        deadline: Instant,
    ) -> Result<ReadCoordinator<T>> {
        let tally = Tally::new(replicas, requirement)?;
        let n = tally.replicas().len();
        let copies = (0..n).map(|_| None).collect();
        Ok(ReadCoordinator {
            tally,
            deadline,
            copies,
            merged: None,
            latest: None,
            decided: None,
            generation: 0,
            repaired: Vec::new(),
        })
    }

    /// The replicas to ask: all of them.
    #[must_use]
    pub fn targets(&self) -> &[NodeId] {
        self.tally.replicas().nodes()
    }

    /// Takes in `from`'s copy (`None`: it holds nothing for the key).
    ///
    /// # Errors
    /// [`Error::UnknownReplica`](crate::Error::UnknownReplica),
    /// [`Error::DuplicateReply`](crate::Error::DuplicateReply); nothing changes.
    pub fn on_value(&mut self, from: &NodeId, copy: Option<T>) -> Result<Progress<Option<T>>> {
        let index = self.tally.record(from, true)?;
        if let Some(copy) = &copy {
            if self.decided.is_some() {
                // A late copy: fold it into what repairs bring replicas up to; if that changes,
                // every replica must be brought up to the new value.
                let latest = self
                    .latest
                    .get_or_insert_with(|| self.merged.clone().unwrap_or_else(|| copy.clone()));
                let before = latest.clone();
                latest.reconcile(copy);
                if *latest != before {
                    self.generation += 1;
                    tracing::debug!(replica = %from, generation = self.generation, "late copy brings news: repairs again");
                }
            } else {
                match &mut self.merged {
                    Some(merged) => merged.reconcile(copy),
                    None => self.merged = Some(copy.clone()),
                }
            }
        }
        if let Some(slot) = self.copies.get_mut(index) {
            *slot = Some(copy);
        }
        Ok(self.decide())
    }

    /// Takes in `from`'s failure to answer.
    ///
    /// # Errors
    /// As [`on_value`](Self::on_value).
    pub fn on_failure(&mut self, from: &NodeId) -> Result<Progress<Option<T>>> {
        self.tally.record(from, false)?;
        Ok(self.decide())
    }

    /// Takes in the time: past the deadline, an undecided read fails with
    /// [`QuorumFailure::Timeout`](crate::QuorumFailure::Timeout).
    pub fn handle_timeout(&mut self, now: Instant) -> Progress<Option<T>> {
        if self.decided.is_none() && deadline_passed(self.deadline, now) {
            let failure = self.tally.timeout_failure();
            tracing::debug!(?failure, "read timed out");
            self.decided = Some(Decision::Failed(failure));
        }
        self.progress()
    }

    /// When to call [`handle_timeout`](Self::handle_timeout): the deadline, or `None` once
    /// decided.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.decided.is_none().then_some(self.deadline)
    }

    /// Where the read stands.
    #[must_use]
    pub fn progress(&self) -> Progress<Option<T>> {
        match &self.decided {
            None => Progress::NeedMore,
            Some(Decision::Succeeded) => Progress::Succeeded(self.merged.clone()),
            Some(Decision::Failed(failure)) => Progress::Failed(failure.clone()),
        }
    }

    /// Every copy received so far, reconciled (`None` if none holds the key); after the
    /// decision it may be newer than the answer.
    #[must_use]
    pub fn merged(&self) -> Option<&T> {
        self.latest.as_ref().or(self.merged.as_ref())
    }

    /// The read-repair writes: the reconciled value of every copy received so far, to each
    /// replica that answered with a copy differing from it (or with none). Replicas that did not
    /// answer are not listed — hinted handoff and anti-entropy reach them. Sorted by replica id.
    #[must_use]
    pub fn repairs(&self) -> Vec<RepairWrite<T>> {
        let Some(merged) = self.merged() else {
            return Vec::new();
        };
        let repairs: Vec<RepairWrite<T>> = self
            .tally
            .replicas()
            .nodes()
            .iter()
            .zip(&self.copies)
            .filter_map(|(id, copy)| match copy {
                Some(Some(c)) if c == merged => None,
                Some(_) => Some(RepairWrite {
                    replica: id.clone(),
                    value: merged.clone(),
                }),
                None => None,
            })
            .collect();
        if !repairs.is_empty() {
            tracing::debug!(stale = repairs.len(), "read repair");
        }
        repairs
    }

    /// The next read-repair write to send, once the read is decided: each replica that answered
    /// with a copy differing from every copy received so far, reconciled, gets one — once. Drain
    /// it after the decision and again after every late reply: a late stale copy is repaired in
    /// its turn, and a late copy newer than what was repaired before sends the new value to
    /// every replica that answered (those holding it already are skipped).
    ///
    /// ```
    /// use std::time::Instant;
    /// use ha_core::NodeId;
    /// use ha_replication::{HlcTimestamp, ReadCoordinator, ReplicaSet, Requirement, Stamped};
    ///
    /// let (a, b, c) = (NodeId::new("a")?, NodeId::new("b")?, NodeId::new("c")?);
    /// let set = ReplicaSet::single_datacenter([a.clone(), b.clone(), c.clone()])?;
    /// let at = |t, v| Stamped::new(v, HlcTimestamp { wall_nanos: t, logical: 0 }, a.clone());
    /// let mut read = ReadCoordinator::new(set, &Requirement::count(2)?, Instant::now())?;
    /// read.on_value(&a, Some(at(1, "old")))?;
    /// read.on_value(&b, Some(at(2, "new")))?; // decided: "new"; a is stale
    /// let repair = read.poll_repair().expect("a is stale");
    /// assert_eq!((repair.replica, repair.value.value), (a.clone(), "new"));
    /// assert!(read.poll_repair().is_none());
    /// // c answers late with something newer still: a and b both need it.
    /// read.on_value(&c, Some(at(3, "newest")))?;
    /// let again: Vec<_> = std::iter::from_fn(|| read.poll_repair()).map(|r| r.replica).collect();
    /// assert_eq!(again, [a, b]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn poll_repair(&mut self) -> Option<RepairWrite<T>> {
        self.decided.as_ref()?;
        let target = self.latest.as_ref().or(self.merged.as_ref())?;
        let generation = self.generation;
        let nodes = self.tally.replicas().nodes();
        if self.repaired.len() != nodes.len() {
            self.repaired.resize(nodes.len(), None);
        }
        for (i, (copy, repaired)) in self.copies.iter().zip(&mut self.repaired).enumerate() {
            let Some(copy) = copy else { continue };
            if *repaired == Some(generation) {
                continue;
            }
            *repaired = Some(generation);
            if copy.as_ref() != Some(target) {
                let replica = nodes.get(i)?.clone();
                tracing::debug!(%replica, generation, "read repair");
                return Some(RepairWrite {
                    replica,
                    value: target.clone(),
                });
            }
        }
        None
    }

    /// The copies received so far (`None`: the replica holds nothing), by replica.
    pub(crate) fn copies(&self) -> impl Iterator<Item = &Option<T>> {
        self.copies.iter().flatten()
    }

    /// Checks the internal counts (panics if they disagree); for tests and fuzzing.
    pub fn check_invariants(&self) {
        self.tally.check_invariants();
        let received = self.copies.iter().filter(|c| c.is_some()).count();
        assert_eq!(received, self.tally.succeeded(), "copies received");
    }

    fn decide(&mut self) -> Progress<Option<T>> {
        if self.decided.is_none() {
            match self.tally.status() {
                TallyStatus::Pending => {}
                TallyStatus::Met => {
                    tracing::debug!(replies = self.tally.succeeded(), "read quorum met");
                    self.decided = Some(Decision::Succeeded);
                }
                TallyStatus::Failed(failure) => {
                    tracing::debug!(?failure, "read quorum impossible");
                    self.decided = Some(Decision::Failed(failure));
                }
            }
        }
        self.progress()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Error, HlcTimestamp, Stamped};

    fn id(s: &str) -> NodeId {
        NodeId::new(s).unwrap()
    }

    fn stamped(v: u32, wall: u64) -> Stamped<u32> {
        Stamped::new(
            v,
            HlcTimestamp {
                wall_nanos: wall,
                logical: 0,
            },
            id("w"),
        )
    }

    #[test]
    fn newest_copy_wins_and_stale_and_empty_replicas_get_repaired() {
        let set = ReplicaSet::single_datacenter([id("a"), id("b"), id("c")]).unwrap();
        let mut r =
            ReadCoordinator::new(set, &Requirement::count(3).unwrap(), Instant::now()).unwrap();
        r.on_value(&id("a"), Some(stamped(1, 1))).unwrap();
        r.on_value(&id("b"), None).unwrap();
        let p = r.on_value(&id("c"), Some(stamped(2, 2))).unwrap();
        assert_eq!(p, Progress::Succeeded(Some(stamped(2, 2))));
        let stale: Vec<_> = r.repairs().into_iter().map(|w| w.replica).collect();
        assert_eq!(stale, [id("a"), id("b")]);
        r.check_invariants();
        assert_eq!(
            r.on_value(&id("c"), None),
            Err(Error::DuplicateReply(id("c")))
        );
    }

    #[test]
    fn late_replies_feed_repairs_but_not_the_answer() {
        let set = ReplicaSet::single_datacenter([id("a"), id("b"), id("c")]).unwrap();
        let mut r =
            ReadCoordinator::new(set, &Requirement::count(1).unwrap(), Instant::now()).unwrap();
        let p = r.on_value(&id("a"), Some(stamped(1, 1))).unwrap();
        assert_eq!(p, Progress::Succeeded(Some(stamped(1, 1))));
        assert_eq!(r.on_value(&id("b"), Some(stamped(5, 5))).unwrap(), p);
        assert_eq!(r.repairs().len(), 1);
        assert_eq!(r.repairs()[0].replica, id("a"));
    }

    /// Late replies (after the decision) get repairs of their own, handed out once each, and
    /// a late newer copy is sent to everyone who answered.
    #[test]
    fn late_replies_get_their_repairs_once_each() {
        let set = ReplicaSet::single_datacenter([id("a"), id("b"), id("c"), id("d")]).unwrap();
        let mut r =
            ReadCoordinator::new(set, &Requirement::count(2).unwrap(), Instant::now()).unwrap();
        assert!(r.on_value(&id("a"), Some(stamped(2, 2))).is_ok());
        assert!(r.poll_repair().is_none(), "undecided: nothing yet");
        r.on_value(&id("b"), Some(stamped(2, 2))).unwrap();
        assert!(r.poll_repair().is_none(), "both hold the answer");
        // c answers late with an older copy: only c is repaired, once.
        r.on_value(&id("c"), Some(stamped(1, 1))).unwrap();
        let repair = r.poll_repair().unwrap();
        assert_eq!((repair.replica, repair.value), (id("c"), stamped(2, 2)));
        assert!(r.poll_repair().is_none());
        // d answers late with something newer: a, b and c all get it; d does not.
        r.on_value(&id("d"), Some(stamped(3, 3))).unwrap();
        let all: Vec<_> = std::iter::from_fn(|| r.poll_repair()).collect();
        assert_eq!(
            all.iter().map(|w| w.replica.clone()).collect::<Vec<_>>(),
            [id("a"), id("b"), id("c")]
        );
        assert!(all.iter().all(|w| w.value == stamped(3, 3)));
        assert!(r.poll_repair().is_none());
        assert_eq!(r.progress(), Progress::Succeeded(Some(stamped(2, 2))));
        r.check_invariants();
    }

    #[test]
    fn no_copy_anywhere_reads_as_none_with_no_repairs() {
        let set = ReplicaSet::single_datacenter([id("a")]).unwrap();
        let mut r: ReadCoordinator<Stamped<u32>> =
            ReadCoordinator::new(set, &Requirement::count(1).unwrap(), Instant::now()).unwrap();
        assert_eq!(
            r.on_value(&id("a"), None).unwrap(),
            Progress::Succeeded(None)
        );
        assert!(r.repairs().is_empty());
    }
}
