//! The one error type of ha-shard.

use ha_core::NodeId;

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
    /// A membership change named a node the placement does not hold.
    #[error("node {0} is not in the placement")]
    UnknownNode(NodeId),
}

/// `Result` with ha-shard's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
