//! The errors of the hash-slot table.

use ha_core::NodeId;

/// Why a slot table could not be built, or why a command on it was refused.
///
/// Each value names the bad slot, range or node. Routing never fails: a request that a node
/// must not serve is a [`Redirect`](crate::Redirect), a value, not an error.
///
/// ```
/// use ha_core::NodeId;
/// use ha_shard::{SlotError, SlotTable};
///
/// let a = NodeId::new("a")?;
/// let err = SlotTable::new([(0..=100, a)]).unwrap_err();
/// assert_eq!(err, SlotError::Uncovered { slot: 101 });
/// assert_eq!(err.to_string(), "slot 101 has no owner; every slot in 0..=16383 needs one");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SlotError {
    /// A slot number is 16384 or more.
    #[error("slot {slot} is out of range; slots are 0..=16383")]
    SlotOutOfRange {
        /// The slot given.
        slot: u16,
    },
    /// A slot range ends before it starts.
    #[error("slot range {start}..={end} is empty")]
    EmptyRange {
        /// The first slot of the range.
        start: u16,
        /// The last slot of the range.
        end: u16,
    },
    /// No range covers a slot; the lowest such slot is named.
    #[error("slot {slot} has no owner; every slot in 0..=16383 needs one")]
    Uncovered {
        /// The lowest slot without an owner.
        slot: u16,
    },
    /// Two ranges cover a slot; the lowest such slot is named.
    #[error("slot {slot} is assigned twice, to {first} and to {second}")]
    Overlap {
        /// The lowest slot covered twice.
        slot: u16,
        /// The node of the range that starts first.
        first: NodeId,
        /// The node of the other range.
        second: NodeId,
    },
    /// No node or no slot range was given.
    #[error("a slot table needs at least one node")]
    NoNodes,
    /// More nodes than slots.
    #[error("{nodes} nodes exceed the limit of 16384, one per slot")]
    TooManyNodes {
        /// The number of nodes there would be.
        nodes: usize,
    },
    /// A node was listed twice where each must appear once.
    #[error("node {node} is listed twice")]
    DuplicateNode {
        /// The node listed twice.
        node: NodeId,
    },
    /// A node is not in the table.
    #[error("node {node} is not in the slot table")]
    UnknownNode {
        /// The node given.
        node: NodeId,
    },
    /// A slot cannot migrate to the node that already owns it.
    #[error("slot {slot} is already owned by {node}; it cannot migrate to its owner")]
    AlreadyOwner {
        /// The slot.
        slot: u16,
        /// Its owner, given as the target.
        node: NodeId,
    },
    /// A slot is already migrating to another node.
    #[error("slot {slot} is already migrating to {to}; abort that migration first")]
    AlreadyMigrating {
        /// The slot.
        slot: u16,
        /// The target of the migration under way.
        to: NodeId,
    },
    /// A migration was completed or aborted on a slot that is not migrating.
    #[error("slot {slot} is not migrating")]
    NotMigrating {
        /// The slot.
        slot: u16,
    },
    /// A node that still owns slots cannot be removed.
    #[error("node {node} still owns {slots} slots; migrate them away first")]
    NodeOwnsSlots {
        /// The node.
        node: NodeId,
        /// How many slots it owns.
        slots: usize,
    },
    /// A node that is importing a slot cannot be removed.
    #[error("node {node} is importing slot {slot}; complete or abort that migration first")]
    NodeImporting {
        /// The node.
        node: NodeId,
        /// The lowest slot it is importing.
        slot: u16,
    },
}
