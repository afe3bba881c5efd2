//! The one error type of ha-replication.

use ha_core::NodeId;

/// What went wrong when a setting was rejected or a replica's reply could not be taken in.
///
/// Settings are validated once, when a coordinator or store is built; replies are checked as
/// they come (a reply from a replica the operation never asked, or a second reply from one it
/// did). A normal refusal — a quorum not reached, a hint dropped at the bound — is a value,
/// never this error.
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
    /// A shared-vocabulary error from ha-core.
    #[error(transparent)]
    Core(#[from] ha_core::Error),
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
    /// A replica set with the same node twice.
    #[error("node {0} appears more than once in the replica set")]
    DuplicateReplica(NodeId),
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
    /// A reply from a node the operation did not send to.
    #[error("reply from node {0}, which is not a replica of this operation")]
    UnknownReplica(NodeId),
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
