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
    /// A node was named that is not among the nodes in question: removed from a placement that
    /// does not hold it, holding shards outside a skew rebalance's node set, or given a capacity
    /// no assignment mentions.
    #[error("node {0} is not among the nodes")]
    UnknownNode(NodeId),
    /// A hash shard map was asked for zero shards.
    #[error("a shard map needs at least one shard, got 0")]
    NoShards,
    /// A range bound sorts before the bound preceding it.
    #[error("range bound {index} sorts before range bound {}; bounds must be strictly increasing", .index.saturating_sub(1))]
    UnsortedRangeBound {
        /// Its position among the bounds.
        index: usize,
    },
    /// A range bound equals the bound preceding it, or — for bound 0 — is the empty key, where
    /// the keyspace starts; either would leave a shard with no keys.
    #[error("range bound {index} repeats the bound before it (the empty key, for bound 0)")]
    DuplicateRangeBound {
        /// Its position among the bounds.
        index: usize,
    },
    /// A shard id the shard map does not hold.
    #[error("{0} is not in the shard map")]
    UnknownShard(ShardId),
    /// A split point that is not strictly inside the shard's range (splitting at its start or
    /// outside it would leave a half with no keys).
    #[error("the split point is not strictly inside the key range of {0}")]
    SplitPointOutsideShard(ShardId),
    /// A merge of two shards whose ranges do not meet, `left` ending where `right` starts.
    #[error("{left} and {right} are not adjacent ranges, {left} directly before {right}")]
    ShardsNotAdjacent {
        /// The shard asked to be on the left.
        left: ShardId,
        /// The shard asked to be on the right.
        right: ShardId,
    },
    /// Every shard id up to `u32::MAX` has been handed out.
    #[error("no shard ids left: every id up to {} has been used", u32::MAX)]
    ShardIdsExhausted,
    /// A key listed twice in a directory shard map.
    #[error("directory entry {index} lists a key already listed")]
    DuplicateDirectoryKey {
        /// The position of the second listing among the entries.
        index: usize,
    },
    /// A range shard map read back whose shard ids do not fit its bounds: not one more id than
    /// bounds, an id twice, or an id at or past the next fresh id.
    #[error("range shard layout invalid: {0}")]
    InvalidRangeLayout(&'static str),
    /// A rebalance input names a shard the current assignment does not hold.
    #[error("shard {shard} in {input} is not in the current assignment")]
    ShardNotAssigned {
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
    /// A rebalance plan read back is not one the planner could have made: an empty wave, a
    /// shard moving twice, or a move whose destination is not the shard's target node.
    #[error("rebalance plan invalid: {0}")]
    InvalidPlan(&'static str),
    /// A migration or move was given the same node as source and destination.
    #[error("{shard} cannot move from node {node} to itself")]
    SameNode {
        /// The shard.
        shard: ShardId,
        /// The node named twice.
        node: NodeId,
    },
    /// A key router was given a migration whose source does not hold a copy of the shard.
    #[error("node {node} holds no copy of {shard} to migrate")]
    NotAnOwner {
        /// The shard.
        shard: ShardId,
        /// The node named as the source.
        node: NodeId,
    },
    /// A key router was given a migration to a node that already holds a copy of the shard,
    /// or is already receiving one.
    #[error("node {node} already holds or is receiving a copy of {shard}")]
    AlreadyOwner {
        /// The shard.
        shard: ShardId,
        /// The node named as the target.
        node: NodeId,
    },
    /// A key router was given a second migration of the same copy of a shard.
    #[error("the copy of {shard} on node {node} is already migrating")]
    MigrationInFlight {
        /// The shard.
        shard: ShardId,
        /// The source of the migration under way.
        node: NodeId,
    },
}

/// Checks that a factor is a finite number of at least 1, or above 1 when `strictly`.
pub(crate) fn factor(name: &'static str, value: f64, strictly: bool) -> Result<f64> {
    if !value.is_finite() {
        return Err(ha_core::Error::NotFinite { name, value }.into());
    }
    if value < 1.0 || (strictly && value == 1.0) {
        let range = if strictly { "(1, ∞)" } else { "[1, ∞)" };
        return Err(ha_core::Error::OutOfRange { name, value, range }.into());
    }
    Ok(value)
}

/// `Result` with ha-shard's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
