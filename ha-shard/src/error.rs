//! The one error type of ha-shard.

use ha_core::NodeId;

use crate::{MigrationStep, ShardId};

/// What went wrong when a placement was built or asked something it cannot answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A placement was built over no nodes.
    #[error("a placement needs at least one node")]
    EmptyNodeSet,
    /// The same node id was given twice.
    #[error("node {0} appears more than once")]
    DuplicateNode(NodeId),
    /// More distinct replicas were asked for than there are nodes.
    #[error("{requested} replicas requested, but only {available} nodes are placed")]
    TooManyReplicas {
        /// Replicas asked for.
        requested: usize,
        /// Nodes in the placement.
        available: usize,
    },
    /// An algorithm that cannot honour weights was given a weighted node.
    #[error("{algorithm} placement does not support weights; node {node} has weight {weight}")]
    WeightsUnsupported {
        /// The algorithm.
        algorithm: &'static str,
        /// The weighted node.
        node: NodeId,
        /// Its weight.
        weight: u32,
    },
    /// More nodes than the algorithm can address.
    #[error("{algorithm} placement holds at most {max} nodes, got {count}")]
    TooManyNodes {
        /// The algorithm.
        algorithm: &'static str,
        /// Nodes given.
        count: usize,
        /// The most it holds.
        max: usize,
    },
    /// A shared-vocabulary error from ha-core.
    #[error(transparent)]
    Core(#[from] ha_core::Error),
    /// A rebalance input names a shard the current assignment does not hold.
    #[error("shard {shard} in {input} is not in the current assignment")]
    UnknownShard {
        /// The shard.
        shard: ShardId,
        /// The input naming it (`"sizes"`, `"target"`).
        input: &'static str,
    },
    /// A shard of the current assignment is missing from another rebalance input.
    #[error("shard {shard} of the current assignment is missing from {input}")]
    MissingShard {
        /// The shard.
        shard: ShardId,
        /// The input lacking it (`"sizes"`, `"target"`).
        input: &'static str,
    },
    /// A node is named where only the nodes of the cluster may appear: a node holding shards
    /// outside a skew rebalance's node set, or a capacity for a node no assignment mentions.
    #[error("node {0} is not in the node set")]
    UnknownNode(NodeId),
    /// No order of moves found keeps a node within its byte capacity.
    #[error(
        "no order of moves keeps node {node} within its capacity of {capacity} bytes: moving {shard} in needs {needed}"
    )]
    CapacityExceeded {
        /// The shard that could not move in.
        shard: ShardId,
        /// Its destination.
        node: NodeId,
        /// The bytes the destination would hold with the shard counted in.
        needed: u64,
        /// The destination's capacity.
        capacity: u64,
    },
    /// A migration was told of an event its current step does not expect; nothing changed.
    #[error("migration of {shard} cannot take {event} while {step}")]
    MigrationEventRefused {
        /// The shard migrating.
        shard: ShardId,
        /// The event refused (`"copy complete"`, `"abort"`, ...).
        event: &'static str,
        /// The step the migration stays in.
        step: MigrationStep,
    },
    /// A migration or move was given the same node as source and destination.
    #[error("{shard} cannot move from node {node} to itself")]
    SameNode {
        /// The shard.
        shard: ShardId,
        /// The node named twice.
        node: NodeId,
    },
}

/// `Result` with ha-shard's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
