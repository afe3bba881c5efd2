//! A linearizable register over quorums: the multi-writer form of Attiya, Bar-Noy and Dolev's
//! algorithm ("Sharing memory robustly in message-passing systems", JACM 1995; multi-writer as
//! in Lynch and Shvartsman, 1997).
//!
//! A **read** asks a read quorum for its `(tag, value)`, takes the highest tag, writes it back to
//! a write quorum, and only then answers — so no later read can return an older value. A
//! **write** asks a read quorum for the highest tag, and writes its value under a higher tag
//! (`seq + 1`, ties between writers broken by writer id, then by the write's nonce) to a write
//! quorum. Reads and writes stay linearizable while any read quorum and any write quorum
//! intersect (`R + W > N`), however messages are delayed, reordered or lost and replicas crash
//! (a replica's register must survive its restart).
//!
//! **Tags must be unique per write.** Two writes with the same tag and different values break
//! linearizability: if one client runs two writes at once, both queries may see seq 5 and both
//! write under `(6, client)`; replica a adopts x, replica b adopts y (a replica keeps the first
//! copy of an equal tag), and two later reads can return x and then y with no write between.
//! So either keep **at most one write in flight per writer id** ([`AbdOperation::write`]), or
//! start writes from an [`AbdWriter`], which gives each of its writes a distinct nonce so
//! concurrent writes of one client get distinct, totally ordered tags.
//!
//! Where we differ from the paper: a read whose query quorum already shows the highest tag on at
//! least a write quorum of replicas skips the write-back (the value is already where the
//! write-back would put it); a read finding no value anywhere in its quorum answers `None` at
//! once. Both keep linearizability: the tested simulation checks it.

use std::collections::VecDeque;
use std::time::Instant;

use ha_core::NodeId;

use crate::{
    Error, Progress, QuorumFailure, ReadCoordinator, Reconcile, ReplicaSet, Requirement, Result,
    WriteCoordinator,
};

/// The version of a register value: a sequence number, ties broken by the writer's id, then by
/// the write's nonce. Ordered by those three fields in that order.
///
/// **Tags must be unique per write.** If one client runs two writes at once under one tag,
/// both queries may see seq 5 and both write under `(6, client)`; replica a adopts x, replica b
/// adopts y (a replica keeps the first copy of an equal tag), and two later reads can return x
/// and then y with no write between — not linearizable. So keep at most one write in flight
/// per writer id ([`AbdOperation::write`]), or start writes from an [`AbdWriter`], which gives
/// each of its writes its own nonce.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Tag {
    /// Writes before this one in tag order, plus one.
    pub seq: u64,
    /// The client that wrote it.
    pub writer: NodeId,
    /// Distinguishes the writer's writes that may run at once (0 for a writer with at most one
    /// write in flight; an [`AbdWriter`] numbers its writes). Default 0 when read back without.
    #[cfg_attr(feature = "serde", serde(default))]
    pub nonce: u64,
}

/// A register value with its tag.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Tagged<V> {
    /// Its version.
    pub tag: Tag,
    /// The value.
    pub value: V,
}

impl<V: Clone + PartialEq> Reconcile for Tagged<V> {
    /// Keeps the higher tag.
    fn reconcile(&mut self, other: &Self) {
        if other.tag > self.tag {
            self.clone_from(other);
        }
    }
}

/// A message from an ABD operation to a replica.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum AbdRequest<V> {
    /// Send back your tagged value ([`AbdRegister::on_query`]).
    Query,
    /// Adopt this value if its tag is higher than yours, and acknowledge
    /// ([`AbdRegister::on_update`]).
    Update(Tagged<V>),
}

/// A replica's answer to an [`AbdRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum AbdReply<V> {
    /// The replica's tagged value (`None`: never written).
    Value(Option<Tagged<V>>),
    /// The replica holds a tag at least this one.
    Ack(Tag),
}

/// The replica side of the register: the highest tagged value it has seen. It must be kept
/// durably (a replica restarting with an older register breaks linearizability).
///
/// ```
/// use ha_core::NodeId;
/// use ha_replication::{AbdRegister, AbdReply, AbdRequest, Tag, Tagged};
///
/// let mut register = AbdRegister::new();
/// let tag = Tag { seq: 1, writer: NodeId::new("client-1")?, nonce: 0 };
/// let reply = register.handle(AbdRequest::Update(Tagged { tag: tag.clone(), value: 7 }));
/// assert_eq!(reply, AbdReply::Ack(tag));
/// assert_eq!(register.on_query().map(|t| t.value), Some(7));
/// # Ok::<(), ha_core::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AbdRegister<V> {
    current: Option<Tagged<V>>,
}

impl<V: Clone> AbdRegister<V> {
    /// A register never written.
    #[must_use]
    pub fn new() -> AbdRegister<V> {
        AbdRegister { current: None }
    }

    /// The tagged value held.
    #[must_use]
    pub fn on_query(&self) -> Option<Tagged<V>> {
        self.current.clone()
    }

    /// Adopts `update` if its tag is higher than the one held; returns whether it did. Either
    /// way the replica now holds a tag at least `update`'s, so it may acknowledge.
    pub fn on_update(&mut self, update: Tagged<V>) -> bool {
        let newer = self.current.as_ref().is_none_or(|c| update.tag > c.tag);
        if newer {
            self.current = Some(update);
        }
        newer
    }

    /// Answers a request.
    pub fn handle(&mut self, request: AbdRequest<V>) -> AbdReply<V> {
        match request {
            AbdRequest::Query => AbdReply::Value(self.on_query()),
            AbdRequest::Update(update) => {
                let tag = update.tag.clone();
                self.on_update(update);
                AbdReply::Ack(tag)
            }
        }
    }
}

/// The read and write quorums of an ABD register: each any set of that many replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AbdQuorums {
    /// Replies the query phase waits for.
    pub read: usize,
    /// Acknowledgements the update phase waits for.
    pub write: usize,
}

impl AbdQuorums {
    /// Majorities of `replicas`, the usual choice (tolerates a minority failing).
    #[must_use]
    pub fn majority(replicas: usize) -> AbdQuorums {
        let q = replicas / 2 + 1;
        AbdQuorums { read: q, write: q }
    }

    /// Checks the quorums against a replica count.
    ///
    /// # Errors
    /// [`Error::ZeroConsistency`] for a zero quorum, [`Error::LevelExceedsReplicas`] for one
    /// above `replicas`, [`Error::QuorumsDoNotIntersect`] unless `read + write > replicas`.
    pub fn validate(&self, replicas: usize) -> Result<()> {
        for q in [self.read, self.write] {
            if q == 0 {
                return Err(Error::ZeroConsistency);
            }
            if q > replicas {
                return Err(Error::LevelExceedsReplicas {
                    level: q.to_string(),
                    required: q,
                    available: replicas,
                });
            }
        }
        if self.read + self.write <= replicas {
            return Err(Error::QuorumsDoNotIntersect {
                read: self.read,
                write: self.write,
                replicas,
            });
        }
        Ok(())
    }
}

/// What a finished ABD operation returns.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum AbdOutput<V> {
    /// A read's value (`None`: never written).
    Read(Option<V>),
    /// A write took effect, under this tag.
    Written(Tag),
}

#[derive(Debug, Clone)]
enum Phase<V> {
    Query(ReadCoordinator<Tagged<V>>),
    Update {
        coordinator: WriteCoordinator,
        tagged: Tagged<V>,
    },
    Done(Progress<AbdOutput<V>>),
}

#[derive(Debug, Clone)]
enum Kind<V> {
    Read,
    Write {
        writer: NodeId,
        nonce: u64,
        value: V,
    },
}

/// A client that writes an ABD register, possibly several writes at once: each write it starts
/// gets its own nonce, so two of its writes in flight together never share a tag (see the
/// [`Tag`] for what a shared tag breaks).
///
/// The nonces must not repeat while an earlier write with the same nonce may still be in
/// flight: start from a durable counter, or from a random `u64` drawn at each start of the
/// client process (two processes using one writer id, or one restarted while its old writes
/// are still in the network, must not reuse nonces).
///
/// ```
/// use std::time::{Duration, Instant};
/// use ha_core::NodeId;
/// use ha_replication::{AbdQuorums, AbdWriter, ReplicaSet};
///
/// let ids = ["a", "b", "c"].map(NodeId::new).into_iter().collect::<Result<Vec<_>, _>>()?;
/// let set = ReplicaSet::single_datacenter(ids)?;
/// let deadline = Instant::now() + Duration::from_millis(100);
/// let mut client = AbdWriter::new(NodeId::new("client")?, 7);
/// let x = client.write(set.clone(), AbdQuorums::majority(3), "x", deadline)?;
/// let y = client.write(set, AbdQuorums::majority(3), "y", deadline)?;
/// assert_eq!(client.next_nonce(), 9); // x took 7, y took 8: distinct tags whatever seq
/// # let _ = (x, y);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AbdWriter {
    id: NodeId,
    next_nonce: u64,
}

impl AbdWriter {
    /// The writer `id`, whose first write takes nonce `first_nonce`.
    #[must_use]
    pub fn new(id: NodeId, first_nonce: u64) -> AbdWriter {
        AbdWriter {
            id,
            next_nonce: first_nonce,
        }
    }

    /// The writer's id.
    #[must_use]
    pub fn id(&self) -> &NodeId {
        &self.id
    }

    /// The nonce the next write will take (persist it to resume after a restart).
    #[must_use]
    pub fn next_nonce(&self) -> u64 {
        self.next_nonce
    }

    /// Starts a write of `value` under this writer's next nonce; it may run alongside this
    /// writer's other writes.
    ///
    /// # Errors
    /// As [`AbdQuorums::validate`] against the replica count; [`Error::CounterOverflow`] when
    /// the nonces run out. Nothing is used up on an error.
    pub fn write<V: Clone + PartialEq>(
        &mut self,
        replicas: ReplicaSet,
        quorums: AbdQuorums,
        value: V,
        deadline: Instant,
    ) -> Result<AbdOperation<V>> {
        let nonce = self.next_nonce;
        let next = nonce
            .checked_add(1)
            .ok_or(Error::CounterOverflow("abd writer nonce"))?;
        let op = AbdOperation::start(
            Kind::Write {
                writer: self.id.clone(),
                nonce,
                value,
            },
            replicas,
            quorums,
            deadline,
        )?;
        self.next_nonce = next;
        Ok(op)
    }
}

/// One ABD read or write, as a state machine: feed it replies and the time, drain the requests it
/// wants sent with [`poll_transmit`](Self::poll_transmit), and it answers with [`Progress`].
///
/// A write whose update phase times out or fails may still have taken effect on some replicas
/// (and a later read may return it): its outcome is unknown, as with any quorum write.
///
/// ```
/// use std::time::{Duration, Instant};
/// use ha_core::NodeId;
/// use ha_replication::{AbdOperation, AbdOutput, AbdQuorums, AbdRegister, Progress, ReplicaSet};
///
/// let ids = ["a", "b", "c"].map(NodeId::new).into_iter().collect::<Result<Vec<_>, _>>()?;
/// let set = ReplicaSet::single_datacenter(ids.clone())?;
/// let mut replicas = vec![AbdRegister::new(); 3];
/// let deadline = Instant::now() + Duration::from_millis(100);
///
/// // A perfect network: deliver every request at once, in order.
/// let mut run = |mut op: AbdOperation<u32>| -> Result<_, ha_replication::Error> {
///     loop {
///         let Some((to, request)) = op.poll_transmit() else { return Ok(op.progress()) };
///         let i = ids.iter().position(|id| *id == to).unwrap_or(0);
///         let reply = replicas[i].handle(request);
///         if op.on_reply(&to, reply)?.is_done() {
///             return Ok(op.progress());
///         }
///     }
/// };
/// let quorums = AbdQuorums::majority(3);
/// let client = NodeId::new("client")?;
/// let write = AbdOperation::write(set.clone(), quorums, client, 42, deadline)?;
/// assert!(matches!(run(write)?, Progress::Succeeded(AbdOutput::Written(_))));
/// let read = AbdOperation::read(set, quorums, deadline)?;
/// assert_eq!(run(read)?, Progress::Succeeded(AbdOutput::Read(Some(42))));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct AbdOperation<V> {
    kind: Kind<V>,
    replicas: ReplicaSet,
    write_quorum: Requirement,
    deadline: Instant,
    phase: Phase<V>,
    outbox: VecDeque<(NodeId, AbdRequest<V>)>,
}

impl<V: Clone + PartialEq> AbdOperation<V> {
    /// A read of the register kept by `replicas`.
    ///
    /// # Errors
    /// As [`AbdQuorums::validate`] against the replica count.
    pub fn read(
        replicas: ReplicaSet,
        quorums: AbdQuorums,
        deadline: Instant,
    ) -> Result<AbdOperation<V>> {
        AbdOperation::start(Kind::Read, replicas, quorums, deadline)
    }

    /// A write of `value` by client `writer`, with nonce 0. The id must be unique among writers
    /// and the writer must have **at most one write in flight** (see [`Tag`]);
    /// a client that writes concurrently starts its writes from an [`AbdWriter`].
    ///
    /// # Errors
    /// As [`AbdQuorums::validate`] against the replica count.
    pub fn write(
        replicas: ReplicaSet,
        quorums: AbdQuorums,
        writer: NodeId,
        value: V,
        deadline: Instant,
    ) -> Result<AbdOperation<V>> {
        AbdOperation::start(
            Kind::Write {
                writer,
                nonce: 0,
                value,
            },
            replicas,
            quorums,
            deadline,
        )
    }

    fn start(
        kind: Kind<V>,
        replicas: ReplicaSet,
        quorums: AbdQuorums,
        deadline: Instant,
    ) -> Result<AbdOperation<V>> {
        quorums.validate(replicas.len())?;
        let query = ReadCoordinator::new(
            replicas.clone(),
            &Requirement::count(quorums.read)?,
            deadline,
        )?;
        let outbox = replicas
            .nodes()
            .iter()
            .map(|id| (id.clone(), AbdRequest::Query))
            .collect();
        Ok(AbdOperation {
            kind,
            write_quorum: Requirement::count(quorums.write)?,
            replicas,
            deadline,
            phase: Phase::Query(query),
            outbox,
        })
    }

    /// The next request to send, if any: drain after construction and after every input.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<(NodeId, AbdRequest<V>)> {
        self.outbox.pop_front()
    }

    /// Takes in `from`'s reply. A reply meant for an earlier phase (a late query answer during
    /// the update phase, an acknowledgement of another tag) or arriving after the operation is
    /// decided is ignored, as the protocol allows: the current progress is returned.
    ///
    /// # Errors
    /// [`Error::UnknownReplica`], or [`Error::DuplicateReply`] for a second reply of the same
    /// phase from the same replica; nothing changes.
    pub fn on_reply(
        &mut self,
        from: &NodeId,
        reply: AbdReply<V>,
    ) -> Result<Progress<AbdOutput<V>>> {
        if !self.replicas.contains(from) {
            return Err(Error::UnknownReplica(from.clone()));
        }
        match (&mut self.phase, reply) {
            (Phase::Query(query), AbdReply::Value(copy)) => {
                let progress = query.on_value(from, copy)?;
                self.after_query(progress)?;
            }
            (
                Phase::Update {
                    coordinator,
                    tagged,
                },
                AbdReply::Ack(tag),
            ) if tag == tagged.tag => {
                let progress = coordinator.on_ack(from)?;
                self.after_update(progress);
            }
            _ => {}
        }
        Ok(self.progress())
    }

    /// Takes in `from`'s failure to answer the current phase.
    ///
    /// # Errors
    /// As [`on_reply`](Self::on_reply).
    pub fn on_failure(&mut self, from: &NodeId) -> Result<Progress<AbdOutput<V>>> {
        match &mut self.phase {
            Phase::Query(query) => {
                let progress = query.on_failure(from)?;
                self.after_query(progress)?;
            }
            Phase::Update { coordinator, .. } => {
                let progress = coordinator.on_failure(from)?;
                self.after_update(progress);
            }
            Phase::Done(_) => {
                if !self.replicas.contains(from) {
                    return Err(Error::UnknownReplica(from.clone()));
                }
            }
        }
        Ok(self.progress())
    }

    /// Takes in the time: past the deadline an undecided operation fails with
    /// [`QuorumFailure::Timeout`].
    pub fn handle_timeout(&mut self, now: Instant) -> Progress<AbdOutput<V>> {
        let failure = match &mut self.phase {
            Phase::Query(query) => match query.handle_timeout(now) {
                Progress::Failed(f) => Some(f),
                _ => None,
            },
            Phase::Update { coordinator, .. } => match coordinator.handle_timeout(now) {
                Progress::Failed(f) => Some(f),
                _ => None,
            },
            Phase::Done(_) => None,
        };
        if let Some(failure) = failure {
            self.fail(failure);
        }
        self.progress()
    }

    /// When to call [`handle_timeout`](Self::handle_timeout): the deadline, until decided.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        (!matches!(self.phase, Phase::Done(_))).then_some(self.deadline)
    }

    /// Where the operation stands.
    #[must_use]
    pub fn progress(&self) -> Progress<AbdOutput<V>> {
        match &self.phase {
            Phase::Done(p) => p.clone(),
            _ => Progress::NeedMore,
        }
    }

    /// Whether the operation is in its second (update / write-back) phase.
    #[must_use]
    pub fn is_updating(&self) -> bool {
        matches!(self.phase, Phase::Update { .. })
    }

    fn after_query(&mut self, progress: Progress<Option<Tagged<V>>>) -> Result<()> {
        let Phase::Query(query) = &self.phase else {
            return Ok(());
        };
        let highest = match progress {
            Progress::NeedMore => return Ok(()),
            Progress::Failed(failure) => {
                self.fail(failure);
                return Ok(());
            }
            Progress::Succeeded(highest) => highest,
        };
        let tagged = match (&self.kind, highest) {
            (Kind::Read, None) => {
                tracing::debug!("abd read: no value in the query quorum");
                self.phase = Phase::Done(Progress::Succeeded(AbdOutput::Read(None)));
                return Ok(());
            }
            (Kind::Read, Some(highest)) => {
                let holding = query
                    .copies()
                    .filter(|c| c.as_ref().is_some_and(|c| c.tag == highest.tag))
                    .count();
                if holding >= self.write_quorum.total {
                    tracing::debug!(
                        seq = highest.tag.seq,
                        holding,
                        "abd read: highest tag already on a write quorum"
                    );
                    self.phase =
                        Phase::Done(Progress::Succeeded(AbdOutput::Read(Some(highest.value))));
                    return Ok(());
                }
                highest
            }
            (
                Kind::Write {
                    writer,
                    nonce,
                    value,
                },
                highest,
            ) => {
                let seq = highest
                    .map_or(0, |h| h.tag.seq)
                    .checked_add(1)
                    .ok_or(Error::CounterOverflow("abd tag"))?;
                Tagged {
                    tag: Tag {
                        seq,
                        writer: writer.clone(),
                        nonce: *nonce,
                    },
                    value: value.clone(),
                }
            }
        };
        tracing::debug!(seq = tagged.tag.seq, writer = %tagged.tag.writer, "abd update phase");
        let coordinator =
            WriteCoordinator::new(self.replicas.clone(), &self.write_quorum, self.deadline)?;
        self.outbox.clear();
        self.outbox.extend(
            self.replicas
                .nodes()
                .iter()
                .map(|id| (id.clone(), AbdRequest::Update(tagged.clone()))),
        );
        self.phase = Phase::Update {
            coordinator,
            tagged,
        };
        Ok(())
    }

    fn after_update(&mut self, progress: Progress<usize>) {
        let Phase::Update { tagged, .. } = &self.phase else {
            return;
        };
        match progress {
            Progress::NeedMore => {}
            Progress::Failed(failure) => self.fail(failure),
            Progress::Succeeded(_) => {
                let output = match &self.kind {
                    Kind::Read => AbdOutput::Read(Some(tagged.value.clone())),
                    Kind::Write { .. } => AbdOutput::Written(tagged.tag.clone()),
                };
                tracing::debug!(seq = tagged.tag.seq, "abd operation done");
                self.phase = Phase::Done(Progress::Succeeded(output));
            }
        }
    }

    fn fail(&mut self, failure: QuorumFailure) {
        tracing::debug!(?failure, "abd operation failed");
        self.outbox.clear();
        self.phase = Phase::Done(Progress::Failed(failure));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn id(s: &str) -> NodeId {
        NodeId::new(s).unwrap()
    }

    /// Runs `op`'s query phase on an empty register seen by `a` and `b`, and returns the
    /// update it then sends.
    fn update_after_empty_query(op: &mut AbdOperation<&'static str>) -> Tagged<&'static str> {
        while op.poll_transmit().is_some() {}
        op.on_reply(&id("a"), AbdReply::Value(None)).unwrap();
        op.on_reply(&id("b"), AbdReply::Value(None)).unwrap();
        assert!(op.is_updating());
        match op.poll_transmit() {
            Some((_, AbdRequest::Update(tagged))) => tagged,
            other => panic!("expected an update, got {other:?}"),
        }
    }

    /// Delivers `x` to a then `y`, and `y` to b then `x`: whether a and b end up agreeing.
    fn replicas_agree(x: &Tagged<&'static str>, y: &Tagged<&'static str>) -> bool {
        let (mut a, mut b) = (AbdRegister::new(), AbdRegister::new());
        a.on_update(x.clone());
        b.on_update(y.clone());
        a.on_update(y.clone());
        b.on_update(x.clone());
        a.on_query() == b.on_query()
    }

    /// Review item 4: one writer id with two writes in flight. Without a nonce both writes
    /// take the tag (1, c), replicas keep different values, and reads can flip between them;
    /// an `AbdWriter` gives them distinct tags and every replica keeps the same one.
    #[test]
    fn two_writes_in_flight_from_one_abd_writer_get_distinct_tags_and_replicas_agree() {
        let set = ReplicaSet::single_datacenter([id("a"), id("b"), id("c")]).unwrap();
        let q = AbdQuorums::majority(3);
        let deadline = Instant::now() + Duration::from_secs(1);

        let mut bare_x = AbdOperation::write(set.clone(), q, id("c"), "x", deadline).unwrap();
        let mut bare_y = AbdOperation::write(set.clone(), q, id("c"), "y", deadline).unwrap();
        let (x, y) = (
            update_after_empty_query(&mut bare_x),
            update_after_empty_query(&mut bare_y),
        );
        assert_eq!(x.tag, y.tag, "the hazard the docs describe");
        assert!(!replicas_agree(&x, &y));

        let mut client = AbdWriter::new(id("c"), 40);
        let mut op_x = client.write(set.clone(), q, "x", deadline).unwrap();
        let mut op_y = client.write(set, q, "y", deadline).unwrap();
        let (x, y) = (
            update_after_empty_query(&mut op_x),
            update_after_empty_query(&mut op_y),
        );
        assert_eq!((x.tag.seq, y.tag.seq), (1, 1));
        assert_eq!((x.tag.nonce, y.tag.nonce), (40, 41));
        assert!(replicas_agree(&x, &y));
        assert!(replicas_agree(&y, &x));
    }

    #[test]
    fn an_abd_writer_out_of_nonces_refuses_and_keeps_its_counter() {
        let set = ReplicaSet::single_datacenter([id("a")]).unwrap();
        let mut client = AbdWriter::new(id("c"), u64::MAX);
        let deadline = Instant::now();
        assert_eq!(
            client
                .write(set, AbdQuorums::majority(1), 1u8, deadline)
                .err(),
            Some(Error::CounterOverflow("abd writer nonce"))
        );
        assert_eq!(client.next_nonce(), u64::MAX);
    }
}
