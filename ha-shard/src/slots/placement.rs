//! A Redis Cluster slot table behind the [`Placement`] trait.

use std::collections::HashMap;
use std::ops::ControlFlow;

use ha_core::{Node, NodeId};

use super::{SLOT_COUNT, SlotTable, key_slot};
use crate::placement::validate_nodes;
use crate::{Error, Placement, Result};

/// A [`SlotTable`] as a [`Placement`]: a key's owner is the owner of its Redis hash slot.
///
/// The "hash" of a key is its slot ([`key_slot`], CRC16/XMODEM mod 16384 with `{hash tags}`), so
/// keys place exactly as Redis Cluster places them; a caller's own 64-bit hash is taken mod 16384.
/// Redis Cluster keeps replicas per master rather than per key, so the preference order after the
/// owner is simply the other nodes in list order; use the table's own replica layout where it
/// matters. The placement is a snapshot: migrations change the table, after which a new
/// placement is built.
///
/// ```
/// use ha_core::{Node, NodeId};
/// use ha_shard::{Placement, SlotPlacement, SlotTable};
///
/// let nodes: Vec<Node> = ["a", "b", "c"]
///     .iter()
///     .map(|id| Ok(Node::new(NodeId::new(*id)?, format!("{id}:6379"))))
///     .collect::<Result<_, ha_core::Error>>()?;
/// let table = SlotTable::split_evenly(nodes.iter().map(|n| n.id.clone()))?;
/// let placement = SlotPlacement::new(nodes, table)?;
/// // "123456789" hashes to slot 12739, in the third node's range 10923..=16383.
/// assert_eq!(placement.locate(b"123456789").id.as_str(), "c");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct SlotPlacement {
    nodes: Vec<Node>,
    table: SlotTable,
    /// The index in `nodes` of each slot's owner.
    owners: Vec<u32>,
}

impl SlotPlacement {
    /// A placement over `nodes` following `table`.
    ///
    /// # Errors
    /// [`Error::EmptyNodeSet`], [`Error::DuplicateNode`], or [`Error::UnknownNode`] for a slot
    /// owner missing from `nodes`.
    pub fn new(nodes: Vec<Node>, table: SlotTable) -> Result<SlotPlacement> {
        validate_nodes(&nodes)?;
        let index: HashMap<&NodeId, u32> = nodes.iter().map(|n| &n.id).zip(0u32..).collect();
        let mut owners = vec![0u32; usize::from(SLOT_COUNT)];
        // The ranges cover every slot exactly once in a valid table.
        for range in table.ranges() {
            let owner = *index
                .get(&range.node)
                .ok_or_else(|| Error::UnknownNode(range.node.clone()))?;
            for slot in range.slots() {
                owners[usize::from(slot)] = owner;
            }
        }
        Ok(SlotPlacement {
            nodes,
            table,
            owners,
        })
    }

    /// The slot table followed.
    #[must_use]
    pub fn table(&self) -> &SlotTable {
        &self.table
    }
}

impl Placement for SlotPlacement {
    fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    fn hash_key(&self, key: &[u8]) -> u64 {
        u64::from(key_slot(key))
    }

    fn locate_hash(&self, hash: u64) -> usize {
        self.owners[(hash % u64::from(SLOT_COUNT)) as usize] as usize
    }

    fn visit_preference(&self, hash: u64, visit: &mut dyn FnMut(usize) -> ControlFlow<()>) {
        let owner = self.locate_hash(hash);
        if visit(owner).is_break() {
            return;
        }
        for i in (0..self.nodes.len()).filter(|&i| i != owner) {
            if visit(i).is_break() {
                return;
            }
        }
    }
}
