//! The one error type of ha-replication.

use std::time::Duration;

use ha_core::NodeId;

use crate::{Epoch, LagStage, Position};

/// What went wrong: a bad setting, or an input that contradicts what was fed before.
///
/// Every constructor validates its configuration once; every input that can be wrong (a position
/// or a time going backwards, an unknown replica, a second reply from one replica) is refused
/// with the state left unchanged. A normal refusal — a quorum not reached, a hint dropped at its
/// bound, a write fenced off — is a value, never this error.
///
/// ```
/// use ha_replication::{ConsistencyLevel, Error, ReplicationConfig};
///
/// let config = ReplicationConfig::single_datacenter(3);
/// let err = config.requirement(ConsistencyLevel::Count(4)).unwrap_err();
/// assert!(matches!(err, Error::LevelExceedsReplicas { .. }));
/// # Ok::<(), Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A shared-vocabulary error from ha-core: a bad number, a zero duration, inverted settings.
    #[error(transparent)]
    Core(#[from] ha_core::Error),
    /// A node named that is not a replica here: not tracked by a lag tracker, or a reply from a
    /// node the operation did not send to.
    #[error("node {0} is not a replica here")]
    UnknownReplica(NodeId),
    /// A node named twice: a replica added twice, or listed twice in a replica set.
    #[error("node {0} appears more than once")]
    DuplicateReplica(NodeId),
    /// The primary reported a write position below one it reported before.
    #[error("primary position went back from {previous} to {given}")]
    PrimaryPositionRegressed {
        /// The position reported before.
        previous: Position,
        /// The lower position now given.
        given: Position,
    },
    /// A replica reported a position below one it reported before, for one stage.
    #[error(
        "replica {replica} {stage} position went back from {previous} to {given}; reset the replica if it was re-cloned"
    )]
    ReplicaPositionRegressed {
        /// The replica.
        replica: NodeId,
        /// The stage whose position went back.
        stage: LagStage,
        /// The position reported before.
        previous: Position,
        /// The lower position now given.
        given: Position,
    },
    /// A replica reported stages out of their order: it cannot have flushed more than it wrote,
    /// or replayed more than it flushed.
    #[error(
        "replica {replica} reports write {write}, flush {flush}, replay {replay}; they must satisfy write ≥ flush ≥ replay"
    )]
    StagesOutOfOrder {
        /// The replica.
        replica: NodeId,
        /// Its write position.
        write: Position,
        /// Its flush position.
        flush: Position,
        /// Its replay position.
        replay: Position,
    },
    /// A replica reported a position the primary has not written.
    #[error("replica {replica} reports {reported}, beyond the primary's {primary}")]
    ReplicaAhead {
        /// The replica.
        replica: NodeId,
        /// The position it reported.
        reported: Position,
        /// The primary's latest position.
        primary: Position,
    },
    /// An event came with a time earlier than an event already taken in.
    #[error(
        "{what} is {behind:?} older than the latest one taken in; events must come in time order"
    )]
    TimeRegressed {
        /// What was fed (`"primary write"`, `"replica report"`, `"heartbeat"`).
        what: &'static str,
        /// How far before the latest event it lies.
        behind: Duration,
    },
    /// Every epoch up to `u64::MAX` has been used.
    #[error("no epochs left: every epoch up to {} has been used", u64::MAX)]
    EpochsExhausted,
    /// A promotion was recorded in an epoch not above the current one.
    #[error("{given} is not newer than the current {current}")]
    EpochNotNewer {
        /// The epoch given.
        given: Epoch,
        /// The current epoch.
        current: Epoch,
    },
    /// A promotion was recorded at a position before the previous epoch's fork.
    #[error("{epoch} cannot fork at {at}, before the previous fork at {previous}")]
    ForkBeforePrevious {
        /// The new epoch.
        epoch: Epoch,
        /// Where it was said to fork.
        at: Position,
        /// Where the previous epoch forked.
        previous: Position,
    },
    /// An epoch newer than any the history holds.
    #[error("{given} is newer than the current {current}")]
    UnknownEpoch {
        /// The epoch given.
        given: Epoch,
        /// The current epoch.
        current: Epoch,
    },
    /// A lease was renewed or resigned that is no longer the current one: it expired, or a
    /// newer epoch was elected.
    #[error("the lease of {holder} for {epoch} is no longer held")]
    LeaseLost {
        /// Who held it.
        holder: NodeId,
        /// Its epoch.
        epoch: Epoch,
    },
    /// A replication factor of zero: data would be kept nowhere.
    #[error("replication factor must be greater than zero (datacenter {datacenter:?})")]
    ZeroReplicationFactor {
        /// The datacenter whose factor is zero (the only one, for a single-datacenter config).
        datacenter: String,
    },
    /// A replication config naming no datacenter at all.
    #[error("a replication config needs at least one datacenter")]
    NoDatacenters,
    /// A consistency level asks for more replicas than are kept.
    #[error("consistency level {level} needs {required} replicas, but only {available} are kept")]
    LevelExceedsReplicas {
        /// The level, as text (`"THREE"`, `"4"`).
        level: String,
        /// Replicas the level needs.
        required: usize,
        /// Replicas kept (in all, or in the datacenter the level counts in).
        available: usize,
    },
    /// A consistency level that names zero replicas.
    #[error("consistency level must ask for at least one replica")]
    ZeroConsistency,
    /// A datacenter was named that the replication config does not hold.
    #[error("datacenter {0:?} is not in the replication config")]
    UnknownDatacenter(String),
    /// `LOCAL_QUORUM` (or `LOCAL_ONE`) was asked of a config with no local datacenter.
    #[error("{0} needs a local datacenter, and the replication config names none")]
    NoLocalDatacenter(&'static str),
    /// A requirement naming the same datacenter twice.
    #[error("datacenter {0:?} appears more than once in the requirement")]
    DuplicateDatacenter(String),
    /// A replica set with no replicas.
    #[error("a replica set needs at least one replica")]
    EmptyReplicaSet,
    /// The replicas asked cannot meet the requirement even if all answer (Cassandra's
    /// `Unavailable`): the operation is refused before anything is sent.
    #[error("{needed} replicas needed in {scope}, but only {available} are in the replica set")]
    Unavailable {
        /// Where the count falls short (`"all datacenters"`, or the datacenter's name).
        scope: String,
        /// Replicas needed there.
        needed: usize,
        /// Replicas asked there.
        available: usize,
    },
    /// A second reply from the same replica in the same phase; the first one stands.
    #[error("node {0} already replied to this operation")]
    DuplicateReply(NodeId),
    /// Read and write quorums that need not intersect, so a read could miss a finished write.
    #[error(
        "read quorum {read} plus write quorum {write} must exceed the {replicas} replicas for reads to see every finished write"
    )]
    QuorumsDoNotIntersect {
        /// The read quorum.
        read: usize,
        /// The write quorum.
        write: usize,
        /// Replicas in the set.
        replicas: usize,
    },
    /// A remote hybrid-logical-clock timestamp further ahead of local physical time than the
    /// maximum clock offset allows; the local clock is left unchanged.
    #[error(
        "remote timestamp is {ahead_nanos} ns ahead of local physical time, above the maximum offset of {max_offset_nanos} ns"
    )]
    ClockOffsetExceeded {
        /// How far ahead the remote wall time is.
        ahead_nanos: u64,
        /// The configured maximum offset.
        max_offset_nanos: u64,
    },
    /// A hybrid logical clock whose logical counter would overflow (more than `u32::MAX` events
    /// within one physical tick); the clock is left unchanged.
    #[error("hybrid logical clock counter exhausted within one physical tick")]
    ClockCounterExhausted,
    /// Version data read back (serde) that no sequence of operations could have made.
    #[error("invalid version data: {0}")]
    InvalidVersion(&'static str),
    /// A counter (a version vector entry, a write tag) that would overflow `u64`.
    #[error("{0} counter would overflow")]
    CounterOverflow(&'static str),
}

/// `Result` with ha-replication's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) use ha_core::validate::{in_range, non_zero_duration as non_zero};

/// A time regression of `latest - given`, for `what`.
pub(crate) fn time_regressed(
    what: &'static str,
    latest: std::time::Instant,
    given: std::time::Instant,
) -> Error {
    Error::TimeRegressed {
        what,
        behind: latest.saturating_duration_since(given),
    }
}
