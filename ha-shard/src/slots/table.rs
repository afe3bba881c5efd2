//! The slot table: which node owns each of the 16384 hash slots.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::RangeInclusive;

use ha_core::NodeId;

use super::{SLOT_COUNT, key_slot};
use crate::{Error, Result};

/// The number of slots, as an index bound.
const SLOTS: usize = SLOT_COUNT as usize;

/// A run of consecutive slots with one owner, as one entry of `CLUSTER SLOTS` shows it.
///
/// ```
/// use ha_core::NodeId;
/// use ha_shard::SlotRange;
///
/// let range = SlotRange { start: 0, end: 5460, node: NodeId::new("a")? };
/// assert_eq!(range.slot_count(), 5461);
/// assert!(range.slots().contains(&5460));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SlotRange {
    /// The first slot of the run.
    pub start: u16,
    /// The last slot of the run, included.
    pub end: u16,
    /// The node that owns every slot of the run.
    pub node: NodeId,
}

impl SlotRange {
    /// The slots of the run, `start..=end`.
    #[must_use]
    pub fn slots(&self) -> RangeInclusive<u16> {
        self.start..=self.end
    }

    /// How many slots the run holds (0 if `end` is before `start`).
    #[must_use]
    pub fn slot_count(&self) -> usize {
        (usize::from(self.end) + 1).saturating_sub(usize::from(self.start))
    }
}

/// Which node owns each of the 16384 hash slots of a Redis-style cluster, and which slots are
/// being moved from one node to another.
///
/// Every slot always has exactly one owner: the table is built from slot ranges that must cover
/// `0..=16383` exactly once ([`new`](Self::new)), or split evenly over a list of nodes
/// ([`split_evenly`](Self::split_evenly)). Ownership then changes one slot at a time, through a
/// migration ([`begin_migration`](Self::begin_migration),
/// [`complete_migration`](Self::complete_migration)), and [`redirect`](Self::redirect) answers,
/// for a request that reached a node, whether that node serves it or where the client must go —
/// Redis Cluster's `-MOVED` and `-ASK` replies.
///
/// Nodes can be in the table without owning a slot: a node just added to take a share
/// ([`add_node`](Self::add_node)), or one drained before it is removed
/// ([`remove_node`](Self::remove_node)).
///
/// ```
/// use ha_core::NodeId;
/// use ha_shard::{SlotRange, SlotTable, key_slot};
///
/// let (a, b, c) = (NodeId::new("a")?, NodeId::new("b")?, NodeId::new("c")?);
/// let table = SlotTable::new([
///     (0..=5460, a.clone()),
///     (5461..=10922, b.clone()),
///     (10923..=16383, c.clone()),
/// ])?;
/// assert_eq!(table.owner(5461)?, &b);
/// assert_eq!(key_slot(b"foo"), 12182);
/// assert_eq!(table.owner_of_key(b"foo"), &c);
/// assert_eq!(table.ranges()[0], SlotRange { start: 0, end: 5460, node: a.clone() });
/// assert_eq!(table.slot_counts()[&a], 5461);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(try_from = "Layout", into = "Layout")
)]
pub struct SlotTable {
    /// Every node, sorted by id, without duplicates; at most [`SLOTS`].
    pub(super) nodes: Vec<NodeId>,
    /// The index in `nodes` of each slot's owner.
    pub(super) owners: Box<[u16; SLOTS]>,
    /// The slots being migrated, with the index in `nodes` of their target.
    pub(super) migrations: BTreeMap<u16, u16>,
}

/// `slot` as an index into the owners, if it is a slot.
pub(super) fn slot_index(slot: u16) -> Result<usize> {
    if slot < SLOT_COUNT {
        Ok(usize::from(slot))
    } else {
        Err(Error::SlotOutOfRange { slot })
    }
}

/// The error for a table of `count` nodes, more than there are slots.
fn too_many_nodes(count: usize) -> Error {
    Error::TooManyNodes {
        algorithm: "slot table",
        count,
        max: SLOTS,
    }
}

/// An index below [`SLOTS`] as a slot number.
fn to_slot(index: usize) -> u16 {
    debug_assert!(index < SLOTS, "slot index {index} out of range");
    u16::try_from(index).unwrap_or(SLOT_COUNT - 1)
}

impl SlotTable {
    /// A table from slot ranges and their owners; the ranges may come in any order.
    ///
    /// # Errors
    /// [`Error::EmptyNodeSet`] if there is no range; [`Error::EmptySlotRange`] for a range that
    /// ends before it starts; [`Error::SlotOutOfRange`] for a range that ends at 16384 or
    /// beyond; [`Error::SlotOverlap`] naming the lowest slot two ranges cover;
    /// [`Error::UncoveredSlot`] naming the lowest slot no range covers. They are checked in this
    /// order.
    ///
    /// ```
    /// use ha_core::NodeId;
    /// use ha_shard::{Error, SlotTable};
    ///
    /// let (a, b) = (NodeId::new("a")?, NodeId::new("b")?);
    /// let table = SlotTable::new([(8192..=16383, b.clone()), (0..=8191, a.clone())])?;
    /// assert_eq!(table.owner(8191)?, &a);
    ///
    /// let overlap = SlotTable::new([(0..=8192, a.clone()), (8192..=16383, b.clone())]);
    /// assert_eq!(overlap, Err(Error::SlotOverlap { slot: 8192, first: a, second: b }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new<I>(ranges: I) -> Result<SlotTable>
    where
        I: IntoIterator<Item = (RangeInclusive<u16>, NodeId)>,
    {
        let ranges = ranges
            .into_iter()
            .map(|(slots, node)| SlotRange {
                start: *slots.start(),
                end: *slots.end(),
                node,
            })
            .collect();
        SlotTable::from_ranges(ranges)
    }

    /// The slots split into one contiguous range per node, in the order given, with sizes that
    /// differ by at most one: 3 nodes get `0..=5460`, `5461..=10922` and `10923..=16383`.
    ///
    /// The `i`-th range ends at `round((i + 1) × 16384 / n) − 1`, the split `redis-cli --cluster
    /// create` makes; redis-cli computes it with a `float` cursor and, from 78 nodes on, lands
    /// one slot off at some boundaries, where this computes exactly.
    ///
    /// # Errors
    /// [`Error::EmptyNodeSet`] for no node, [`Error::TooManyNodes`] for more than 16384,
    /// [`Error::DuplicateNode`] for a node listed twice.
    ///
    /// ```
    /// use ha_core::NodeId;
    /// use ha_shard::SlotTable;
    ///
    /// let nodes = [NodeId::new("a")?, NodeId::new("b")?, NodeId::new("c")?];
    /// let table = SlotTable::split_evenly(nodes)?;
    /// let ends: Vec<u16> = table.ranges().iter().map(|r| r.end).collect();
    /// assert_eq!(ends, [5460, 10922, 16383]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn split_evenly<I>(nodes: I) -> Result<SlotTable>
    where
        I: IntoIterator<Item = NodeId>,
    {
        let nodes: Vec<NodeId> = nodes.into_iter().collect();
        let n = nodes.len();
        if n == 0 {
            return Err(Error::EmptyNodeSet);
        }
        if n > SLOTS {
            return Err(too_many_nodes(n));
        }
        let mut sorted = nodes.clone();
        sorted.sort();
        if let Some(node) = sorted.windows(2).find_map(|pair| match pair {
            [x, y] if x == y => Some(x.clone()),
            _ => None,
        }) {
            return Err(Error::DuplicateNode(node));
        }
        let mut start = 0;
        let ranges = nodes
            .into_iter()
            .enumerate()
            .map(|(i, node)| {
                // round half up of (i + 1) × SLOTS / n, minus one; n ≤ SLOTS keeps each range
                // non-empty and the products far below usize::MAX.
                let end = if i + 1 == n {
                    SLOTS - 1
                } else {
                    (2 * (i + 1) * SLOTS + n) / (2 * n) - 1
                };
                let range = SlotRange {
                    start: to_slot(start),
                    end: to_slot(end),
                    node,
                };
                start = end + 1;
                range
            })
            .collect();
        SlotTable::from_ranges(ranges)
    }

    /// A table from ranges, validated.
    fn from_ranges(mut ranges: Vec<SlotRange>) -> Result<SlotTable> {
        if ranges.is_empty() {
            return Err(Error::EmptyNodeSet);
        }
        ranges.sort_by(|x, y| (x.start, x.end, &x.node).cmp(&(y.start, y.end, &y.node)));
        for range in &ranges {
            if range.start > range.end {
                return Err(Error::EmptySlotRange {
                    start: range.start,
                    end: range.end,
                });
            }
            slot_index(range.end)?;
        }
        // Ranges in order of their start: the first slot found taken is the lowest covered twice.
        let mut covered_by: Vec<Option<usize>> = vec![None; SLOTS];
        for (i, range) in ranges.iter().enumerate() {
            for slot in range.slots() {
                let cell = &mut covered_by[usize::from(slot)];
                if let Some(first) = *cell {
                    let first = ranges.get(first).map_or(&range.node, |r| &r.node);
                    return Err(Error::SlotOverlap {
                        slot,
                        first: first.clone(),
                        second: range.node.clone(),
                    });
                }
                *cell = Some(i);
            }
        }
        // Disjoint non-empty ranges: at most SLOTS of them, hence at most SLOTS nodes.
        let mut nodes: Vec<NodeId> = ranges.iter().map(|r| r.node.clone()).collect();
        nodes.sort();
        nodes.dedup();
        let range_owner = ranges
            .iter()
            .map(|r| index_in(&nodes, &r.node))
            .collect::<Option<Vec<u16>>>()
            .ok_or(too_many_nodes(nodes.len()))?;
        let mut owners = Box::new([0; SLOTS]);
        for (slot, (owner, range)) in owners.iter_mut().zip(&covered_by).enumerate() {
            *owner =
                range
                    .and_then(|i| range_owner.get(i).copied())
                    .ok_or(Error::UncoveredSlot {
                        slot: to_slot(slot),
                    })?;
        }
        let table = SlotTable {
            nodes,
            owners,
            migrations: BTreeMap::new(),
        };
        debug_assert!(table.consistent());
        Ok(table)
    }

    /// The owner of `slot`: the node that serves it, and that a `-MOVED` reply names.
    ///
    /// While the slot migrates the owner stays its source, until
    /// [`complete_migration`](Self::complete_migration).
    ///
    /// # Errors
    /// [`Error::SlotOutOfRange`] if `slot` is 16384 or more.
    pub fn owner(&self, slot: u16) -> Result<&NodeId> {
        Ok(self.node(self.owners[slot_index(slot)?]))
    }

    /// The owner of the slot of `key` ([`key_slot`]): where a client with an up-to-date slot map
    /// sends a request about `key`.
    #[must_use]
    pub fn owner_of_key(&self, key: &[u8]) -> &NodeId {
        // key_slot is always below SLOT_COUNT.
        self.node(self.owners[usize::from(key_slot(key))])
    }

    /// The compact list of slot ranges, one per run of consecutive slots with one owner, in slot
    /// order: what `CLUSTER SLOTS` lists (without replicas and addresses). Together the ranges
    /// cover `0..=16383` exactly once.
    #[must_use]
    pub fn ranges(&self) -> Vec<SlotRange> {
        let mut start = 0;
        self.owners
            .chunk_by(|x, y| x == y)
            .filter_map(|run| {
                let owner = *run.first()?;
                let range = SlotRange {
                    start: to_slot(start),
                    end: to_slot(start + run.len() - 1),
                    node: self.node(owner).clone(),
                };
                start += run.len();
                Some(range)
            })
            .collect()
    }

    /// How many slots each node owns, every node included (those owning none with 0). The
    /// counts add up to 16384.
    #[must_use]
    pub fn slot_counts(&self) -> BTreeMap<NodeId, usize> {
        let mut counts = vec![0; self.nodes.len()];
        for &owner in self.owners.iter() {
            if let Some(count) = counts.get_mut(usize::from(owner)) {
                *count += 1;
            }
        }
        self.nodes.iter().cloned().zip(counts).collect()
    }

    /// Every node in the table, slot owners or not, sorted by id.
    pub fn nodes(&self) -> impl ExactSizeIterator<Item = &NodeId> + '_ {
        self.nodes.iter()
    }

    /// Whether `node` is in the table.
    #[must_use]
    pub fn contains_node(&self, node: &NodeId) -> bool {
        self.index_of(node).is_some()
    }

    /// Adds a node that owns no slot yet, so that slots can migrate to it; returns `false`, and
    /// changes nothing, if it was already in the table.
    ///
    /// # Errors
    /// [`Error::TooManyNodes`] if the table already holds 16384 nodes.
    ///
    /// ```
    /// use ha_core::NodeId;
    /// use ha_shard::SlotTable;
    ///
    /// let (a, b) = (NodeId::new("a")?, NodeId::new("b")?);
    /// let mut table = SlotTable::new([(0..=16383, a)])?;
    /// assert!(table.add_node(b.clone())?);
    /// assert_eq!(table.slot_counts()[&b], 0);
    /// table.begin_migration(42, &b)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_node(&mut self, node: NodeId) -> Result<bool> {
        let Err(at) = self.nodes.binary_search(&node) else {
            return Ok(false);
        };
        if self.nodes.len() >= SLOTS {
            return Err(too_many_nodes(self.nodes.len() + 1));
        }
        let at = u16::try_from(at).map_err(|_| too_many_nodes(self.nodes.len() + 1))?;
        self.nodes.insert(usize::from(at), node);
        let shift = |i: &mut u16| {
            if *i >= at {
                *i += 1;
            }
        };
        self.owners.iter_mut().for_each(shift);
        self.migrations.values_mut().for_each(shift);
        debug_assert!(self.consistent());
        Ok(true)
    }

    /// Removes a node that owns no slot and imports none (the `CLUSTER FORGET` step after a node
    /// was drained).
    ///
    /// # Errors
    /// [`Error::UnknownNode`] if it is not in the table; [`Error::NodeOwnsSlots`] if it
    /// still owns slots; [`Error::NodeImportingSlot`] if a slot is migrating to it.
    pub fn remove_node(&mut self, node: &NodeId) -> Result<()> {
        let at = self
            .index_of(node)
            .ok_or_else(|| Error::UnknownNode(node.clone()))?;
        let owned = self.owners.iter().filter(|&&owner| owner == at).count();
        if owned > 0 {
            return Err(Error::NodeOwnsSlots {
                node: node.clone(),
                slots: owned,
            });
        }
        if let Some((&slot, _)) = self.migrations.iter().find(|&(_, &to)| to == at) {
            return Err(Error::NodeImportingSlot {
                node: node.clone(),
                slot,
            });
        }
        self.nodes.remove(usize::from(at));
        let shift = |i: &mut u16| {
            if *i > at {
                *i -= 1;
            }
        };
        self.owners.iter_mut().for_each(shift);
        self.migrations.values_mut().for_each(shift);
        debug_assert!(self.consistent());
        Ok(())
    }

    /// Recounts the table's invariants, for tests and fuzzing: nodes sorted and distinct, at most
    /// 16384 of them, every slot owned by a node of the table, every migration a slot whose
    /// target is a node of the table other than its owner.
    ///
    /// # Panics
    /// If an invariant is broken, which is a bug in ha-shard.
    pub fn check_invariants(&self) {
        assert!(self.consistent(), "slot table invariants broken: {self:?}");
    }

    /// Whether the invariants of [`check_invariants`](Self::check_invariants) hold.
    fn consistent(&self) -> bool {
        let n = self.nodes.len();
        let in_table = |i: u16| usize::from(i) < n;
        n > 0
            && n <= SLOTS
            && self
                .nodes
                .windows(2)
                .all(|pair| matches!(pair, [x, y] if x < y))
            && self.owners.iter().all(|&owner| in_table(owner))
            && self.migrations.iter().all(|(&slot, &to)| {
                slot < SLOT_COUNT && in_table(to) && self.owners[usize::from(slot)] != to
            })
    }

    /// The node at `index`, an index this table handed out.
    pub(super) fn node(&self, index: u16) -> &NodeId {
        &self.nodes[usize::from(index)]
    }

    /// The index of `node`, if it is in the table.
    pub(super) fn index_of(&self, node: &NodeId) -> Option<u16> {
        index_in(&self.nodes, node)
    }
}

/// The index of `node` in the sorted `nodes`, if it is there and fits a `u16`.
fn index_in(nodes: &[NodeId], node: &NodeId) -> Option<u16> {
    nodes
        .binary_search(node)
        .ok()
        .and_then(|i| u16::try_from(i).ok())
}

impl fmt::Debug for SlotTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let migrations: BTreeMap<u16, &NodeId> = self
            .migrations
            .iter()
            .map(|(&slot, &to)| (slot, self.node(to)))
            .collect();
        f.debug_struct("SlotTable")
            .field("nodes", &self.nodes)
            .field("ranges", &self.ranges())
            .field("migrations", &migrations)
            .finish()
    }
}

/// The serde form of a [`SlotTable`], validated on the way in like [`SlotTable::new`].
#[cfg(feature = "serde")]
#[derive(serde::Serialize, serde::Deserialize)]
struct Layout {
    /// Every node, those without slots included.
    #[serde(default)]
    nodes: Vec<NodeId>,
    /// The slot ranges and their owners.
    ranges: Vec<SlotRange>,
    /// The slots being migrated and their targets.
    #[serde(default)]
    migrations: BTreeMap<u16, NodeId>,
}

#[cfg(feature = "serde")]
impl From<SlotTable> for Layout {
    fn from(table: SlotTable) -> Layout {
        Layout {
            ranges: table.ranges(),
            migrations: table
                .migrations
                .iter()
                .map(|(&slot, &to)| (slot, table.node(to).clone()))
                .collect(),
            nodes: table.nodes,
        }
    }
}

#[cfg(feature = "serde")]
impl TryFrom<Layout> for SlotTable {
    type Error = Error;

    fn try_from(layout: Layout) -> Result<SlotTable> {
        let mut table = SlotTable::from_ranges(layout.ranges)?;
        for node in layout.nodes {
            table.add_node(node)?;
        }
        for (slot, to) in layout.migrations {
            table.begin_migration(slot, &to)?;
        }
        Ok(table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(name: &str) -> NodeId {
        NodeId::new(name).unwrap()
    }

    #[test]
    fn adjacent_ranges_of_one_node_merge_into_one() {
        let table = SlotTable::new([
            (0..=99, id("a")),
            (100..=199, id("a")),
            (200..=16383, id("b")),
        ])
        .unwrap();
        let ranges = table.ranges();
        assert_eq!(ranges.len(), 2);
        assert_eq!(ranges[0].slots(), 0..=199);
        assert_eq!(ranges[1].slots(), 200..=16383);
    }

    #[test]
    fn adding_and_removing_nodes_keeps_every_owner() {
        let mut table = SlotTable::split_evenly([id("m"), id("c"), id("x")]).unwrap();
        let before = table.ranges();
        assert!(table.add_node(id("a")).unwrap());
        assert!(!table.add_node(id("a")).unwrap());
        table.check_invariants();
        assert_eq!(table.ranges(), before);
        table.remove_node(&id("a")).unwrap();
        table.check_invariants();
        assert_eq!(table.ranges(), before);
    }

    #[test]
    fn split_evenly_gives_every_node_a_share_up_to_one_slot_each() {
        for n in [1, 2, 3, 7, 1000, SLOTS] {
            let nodes = (0..n).map(|i| id(&format!("n{i:05}")));
            let table = SlotTable::split_evenly(nodes).unwrap();
            let counts = table.slot_counts();
            let (min, max) = (
                counts.values().min().unwrap(),
                counts.values().max().unwrap(),
            );
            assert!(max - min <= 1, "{n} nodes: {min}..={max}");
            assert_eq!(counts.values().sum::<usize>(), SLOTS);
        }
    }
}
