//! MementoHash (Coluzzi, Brocco, Antonelli and Leonardi, "MementoHash: A Stateful, Minimal
//! Memory, Best Performing Consistent Hash Algorithm", IEEE/ACM Transactions on Networking 2024;
//! arXiv:2306.09783): jump hash that can lose any node.
//!
//! Followed: the paper's lookup, removal and restore procedures as the authors wrote them in
//! their reference implementation, `MementoEngine` and `Memento` in
//! `SUPSI-DTI-ISIN/java-consistent-hashing-algorithms`
//! (`ch.supsi.dti.isin.consistenthash.memento`). Where we differ:
//! - the re-hash of a key after it meets a removed bucket `b` is [`mix`]`(hash, b)` (MurmurHash3's
//!   finalizer over the 64-bit key hash) where the Java code re-hashes the key string seeded with
//!   `b`; lookups are therefore not bit-compatible with the Java engine, only the algorithm is;
//! - the replacement set is a slot per bucket of the b-array (working slots name their node,
//!   removed ones hold the memento entry) rather than a separate hash table, because named nodes
//!   need a bucket-to-node map anyway; lookups stay `O(1)` a step and deterministic.

use std::ops::ControlFlow;

use ha_core::{Node, NodeId};

use crate::hash::mix;
use crate::jump::jump_consistent_hash;
use crate::placement::{probe_then_walk, validate_nodes};
use crate::{Error, Placement, Result};

/// Jump consistent hash extended with a "memento" of removed buckets, so that **any** node can
/// leave while only its keys move, at jump-hash lookup speed.
///
/// Node `i` of a fresh placement is jump bucket `i`, and a placement built fresh from a node
/// list *is* jump hash over those nodes: [`Memento::new`] answers exactly as
/// [`JumpHash::new`](crate::JumpHash::new) does. The difference is the membership history:
/// - [`remove`](Memento::remove) takes out any node. Removing the last bucket while nothing else
///   is removed just shrinks the jump range (jump's own case); otherwise the bucket is remembered
///   with its *replacer* — the working-set size after the removal — and the previously removed
///   bucket. A key whose jump lands on a removed bucket `b` is re-hashed into `0..replacer` and
///   follows the chain of replacements to a working bucket. Only the removed node's keys move,
///   spread evenly over the rest (minimal disruption and balance, as the paper proves).
/// - [`add`](Memento::add) restores the **most recently removed** bucket (the memento is a
///   stack) and gives it to the new node, or appends a bucket when nothing is removed. Adding a
///   node back right after removing it restores the previous placement exactly, state and all;
///   adding any node moves keys only to it.
///
/// **History matters.** Two placements over the same working nodes but reached by different
/// removal orders place keys differently, and a placement rebuilt fresh from today's node list
/// is plain jump hash, which differs from both. Processes agree on placement by starting from the
/// same node list and applying the same ordered log of `remove` / `add` calls — the membership
/// log of a configuration store or consensus group. `==` compares whole states, nodes in full
/// (ids, addresses, weights and health), so compare after agreeing on those too.
///
/// **Memory.** The node list plus one 12-byte slot per bucket of the b-array (working nodes plus
/// removed ones still remembered); the algorithm's own state beyond jump hash is one entry per
/// removed node, as the paper promises. A lookup is a jump (`O(ln b)` for `b` buckets) plus, for
/// a key that meets removed buckets, re-hashes — a few, more as the removed share of the b-array
/// grows (the paper analyses the cost).
///
/// **No weights**, like jump hash: weighted nodes are refused.
///
/// Replicas ([`locate_n`](Placement::locate_n)) come from looking up the key mixed with a probe
/// number, skipping nodes already chosen, then from a walk over the rest in order.
///
/// ```
/// use ha_core::{Node, NodeId};
/// use ha_shard::{JumpHash, Memento, Placement};
///
/// let nodes = (0..6)
///     .map(|i| Ok(Node::new(NodeId::new(format!("cache-{i}"))?, "")))
///     .collect::<Result<Vec<_>, ha_core::Error>>()?;
/// let memento = Memento::new(nodes.clone())?;
/// let jump = JumpHash::new(nodes)?;
/// let key = 0x5eed_u64;
/// assert_eq!(memento.locate_hash(key), jump.locate_hash(key)); // fresh: plain jump
///
/// // Any node may leave; keys on the others stay put.
/// let leaver = NodeId::new("cache-2")?;
/// let smaller = memento.remove(&leaver)?;
/// for key in 0..1_000u64 {
///     let before = &memento.node(memento.locate_hash(key)).id;
///     let after = &smaller.node(smaller.locate_hash(key)).id;
///     assert!(before == after || *before == leaver);
/// }
/// // Adding it back restores the previous placement.
/// let restored = smaller.add(Node::new(leaver, ""))?;
/// assert_eq!(restored, memento);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Memento {
    /// The working nodes, in bucket order.
    nodes: Vec<Node>,
    /// The bucket of each working node, parallel to `nodes`.
    node_buckets: Vec<u32>,
    /// The b-array: one slot per bucket, working or removed.
    buckets: Vec<Bucket>,
    /// The most recently removed bucket still removed, or the b-array length when none is.
    last_removed: u32,
    /// Removed buckets still in the b-array (the memento's size).
    removed: u32,
}

/// One bucket of the b-array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bucket {
    /// Held by the working node at this index of `nodes`.
    Working(u32),
    /// Removed: the memento entry.
    Removed {
        /// The working-set size just after the removal, which is also the bucket that replaces
        /// this one.
        replacer: u32,
        /// The bucket removed before this one (the b-array length if none was).
        prev_removed: u32,
    },
}

/// A bucket while a membership change is assembled.
enum Slot {
    Working(Node),
    Removed { replacer: u32, prev_removed: u32 },
}

/// The most buckets the b-array may hold: jump hash's limit.
const MAX_BUCKETS: usize = i32::MAX as usize;

impl Memento {
    /// A fresh placement over `nodes`, bucket `i` being `nodes[i]`, with nothing removed — the
    /// same placement as [`JumpHash::new`](crate::JumpHash::new) over the same list.
    ///
    /// # Errors
    /// [`Error::EmptyNodeSet`], [`Error::DuplicateNode`], [`Error::WeightsUnsupported`] for a
    /// node whose weight is not 1, [`Error::TooManyNodes`] past `2³¹ − 1` nodes.
    pub fn new(nodes: Vec<Node>) -> Result<Memento> {
        validate_nodes(&nodes)?;
        if let Some(weighted) = nodes.iter().find(|n| n.weight.get() != 1) {
            return Err(unsupported_weight(weighted));
        }
        check_size(nodes.len())?;
        let len = nodes.len() as u32;
        Ok(Memento::assemble(
            nodes.into_iter().map(Slot::Working).collect(),
            len,
        ))
    }

    /// The placement after `id` leaves: only the keys `id` owned move, spread over the rest.
    ///
    /// # Errors
    /// [`Error::UnknownNode`] if `id` is not a working node, [`Error::EmptyNodeSet`] if it is the
    /// only one.
    pub fn remove(&self, id: &NodeId) -> Result<Memento> {
        let index = self
            .nodes
            .iter()
            .position(|n| n.id == *id)
            .ok_or_else(|| Error::UnknownNode(id.clone()))?;
        if self.nodes.len() == 1 {
            return Err(Error::EmptyNodeSet);
        }
        let bucket = self.node_buckets[index];
        let mut slots = self.slots();
        if self.removed == 0 && bucket as usize == slots.len() - 1 {
            // Jump hash's own case: the b-array shrinks and nothing is remembered.
            slots.truncate(bucket as usize);
        } else {
            slots[bucket as usize] = Slot::Removed {
                replacer: self.nodes.len() as u32 - 1,
                prev_removed: self.last_removed,
            };
        }
        // Either way `bucket` is the one an `add` restores next.
        let last_removed = bucket;
        Ok(Memento::assemble(slots, last_removed))
    }

    /// The placement after `node` joins: it takes the most recently removed bucket, or a new
    /// bucket at the end when none is removed. Only keys that move to `node` move.
    ///
    /// # Errors
    /// [`Error::DuplicateNode`] if a working node has the same id, [`Error::WeightsUnsupported`]
    /// for a weight other than 1, [`Error::TooManyNodes`] past `2³¹ − 1` buckets.
    pub fn add(&self, node: Node) -> Result<Memento> {
        if node.weight.get() != 1 {
            return Err(unsupported_weight(&node));
        }
        if self.nodes.iter().any(|n| n.id == node.id) {
            return Err(Error::DuplicateNode(node.id));
        }
        let mut slots = self.slots();
        let bucket = self.last_removed as usize;
        let last_removed = match slots.get(bucket) {
            Some(&Slot::Removed { prev_removed, .. }) => {
                slots[bucket] = Slot::Working(node);
                prev_removed
            }
            _ => {
                debug_assert_eq!(self.removed, 0, "a removed bucket is always remembered");
                debug_assert_eq!(bucket, slots.len(), "with nothing removed, the next is new");
                check_size(slots.len() + 1)?;
                slots.push(Slot::Working(node));
                slots.len() as u32
            }
        };
        Ok(Memento::assemble(slots, last_removed))
    }

    /// Removed buckets the placement remembers: the memento's size.
    #[must_use]
    pub fn removed_count(&self) -> usize {
        self.removed as usize
    }

    /// The bucket a working node holds — its jump bucket when nothing is removed.
    #[must_use]
    pub fn bucket_of(&self, index: usize) -> Option<u32> {
        self.node_buckets.get(index).copied()
    }

    /// The working bucket for `hash`: the paper's lookup (Algorithm "MementoHash lookup").
    fn bucket_for(&self, hash: u64) -> u32 {
        let mut b = jump_consistent_hash(hash, self.buckets.len() as u32);
        let mut replacer = self.replacer(b);
        while let Some(size) = replacer {
            // `b` was removed when `size` buckets stayed working: re-hash into `0..size`.
            b = (mix(hash, u64::from(b)) % u64::from(size)) as u32;
            // Buckets removed before `b`'s removal (their replacer is at least `size`) hand over
            // to their replacer until a working bucket or a later removal is reached.
            let mut r = self.replacer(b);
            while let Some(next) = r.filter(|&next| next >= size) {
                b = next;
                r = self.replacer(b);
            }
            replacer = r;
        }
        b
    }

    /// The replacer of bucket `b` if it is removed.
    fn replacer(&self, b: u32) -> Option<u32> {
        match self.buckets.get(b as usize) {
            Some(Bucket::Removed { replacer, .. }) => Some(*replacer),
            _ => None,
        }
    }

    /// The current b-array as slots, for a membership change.
    fn slots(&self) -> Vec<Slot> {
        self.buckets
            .iter()
            .map(|bucket| match *bucket {
                Bucket::Working(i) => Slot::Working(self.nodes[i as usize].clone()),
                Bucket::Removed {
                    replacer,
                    prev_removed,
                } => Slot::Removed {
                    replacer,
                    prev_removed,
                },
            })
            .collect()
    }

    /// A placement from its b-array; `slots.len()` is at most [`MAX_BUCKETS`].
    fn assemble(slots: Vec<Slot>, last_removed: u32) -> Memento {
        let mut nodes = Vec::with_capacity(slots.len());
        let mut node_buckets = Vec::with_capacity(slots.len());
        let mut removed = 0;
        let buckets = slots
            .into_iter()
            .enumerate()
            .map(|(b, slot)| match slot {
                Slot::Working(node) => {
                    nodes.push(node);
                    node_buckets.push(b as u32);
                    Bucket::Working(nodes.len() as u32 - 1)
                }
                Slot::Removed {
                    replacer,
                    prev_removed,
                } => {
                    removed += 1;
                    Bucket::Removed {
                        replacer,
                        prev_removed,
                    }
                }
            })
            .collect();
        Memento {
            nodes,
            node_buckets,
            buckets,
            last_removed,
            removed,
        }
    }
}

fn unsupported_weight(node: &Node) -> Error {
    Error::WeightsUnsupported {
        algorithm: "memento",
        node: node.id.clone(),
        weight: node.weight.get(),
    }
}

fn check_size(buckets: usize) -> Result<()> {
    if buckets > MAX_BUCKETS {
        return Err(Error::TooManyNodes {
            algorithm: "memento",
            count: buckets,
            max: MAX_BUCKETS,
        });
    }
    Ok(())
}

impl Placement for Memento {
    fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    fn locate_hash(&self, hash: u64) -> usize {
        match self.buckets.get(self.bucket_for(hash) as usize) {
            Some(Bucket::Working(i)) => *i as usize,
            _ => {
                debug_assert!(false, "a memento lookup ends on a working bucket");
                0
            }
        }
    }

    fn visit_preference(&self, hash: u64, visit: &mut dyn FnMut(usize) -> ControlFlow<()>) {
        probe_then_walk(hash, self.nodes.len(), |h| self.locate_hash(h), visit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::JumpHash;
    use std::num::NonZeroU32;

    fn nodes(count: usize) -> Vec<Node> {
        (0..count)
            .map(|i| Node::new(NodeId::new(format!("n{i}")).unwrap(), ""))
            .collect()
    }

    #[test]
    fn a_fresh_placement_is_jump_hash() {
        let m = Memento::new(nodes(13)).unwrap();
        let j = JumpHash::new(nodes(13)).unwrap();
        for key in 0..10_000u64 {
            let key = mix(key, 7);
            assert_eq!(m.locate_hash(key), j.locate_hash(key));
        }
    }

    #[test]
    fn removing_the_last_node_first_is_jumps_own_case() {
        let m = Memento::new(nodes(5)).unwrap();
        let m = m.remove(&NodeId::new("n4").unwrap()).unwrap();
        assert_eq!(m.removed_count(), 0);
        assert_eq!(m, Memento::new(nodes(4)).unwrap());
        let m = m.remove(&NodeId::new("n1").unwrap()).unwrap();
        assert_eq!(m.removed_count(), 1);
        assert_eq!(m.bucket_of(1), Some(2));
    }

    #[test]
    fn bad_changes_are_refused() {
        let m = Memento::new(nodes(2)).unwrap();
        let ghost = NodeId::new("ghost").unwrap();
        assert_eq!(m.remove(&ghost).unwrap_err(), Error::UnknownNode(ghost));
        let one = m.remove(&NodeId::new("n0").unwrap()).unwrap();
        assert_eq!(
            one.remove(&NodeId::new("n1").unwrap()).unwrap_err(),
            Error::EmptyNodeSet
        );
        assert!(matches!(
            m.add(Node::new(NodeId::new("n1").unwrap(), "")),
            Err(Error::DuplicateNode(_))
        ));
        let heavy =
            Node::new(NodeId::new("h").unwrap(), "").with_weight(NonZeroU32::new(2).unwrap());
        assert!(matches!(
            m.add(heavy.clone()),
            Err(Error::WeightsUnsupported { weight: 2, .. })
        ));
        assert!(matches!(
            Memento::new(vec![heavy]),
            Err(Error::WeightsUnsupported { .. })
        ));
        assert_eq!(Memento::new(vec![]).unwrap_err(), Error::EmptyNodeSet);
    }

    #[test]
    fn a_removed_nodes_keys_spread_evenly_over_the_rest() {
        let m = Memento::new(nodes(10)).unwrap();
        let m = m.remove(&NodeId::new("n3").unwrap()).unwrap();
        let m = m.remove(&NodeId::new("n7").unwrap()).unwrap();
        let mut load = [0usize; 8];
        let keys = 80_000u64;
        for key in 0..keys {
            load[m.locate_hash(mix(key, 99))] += 1;
        }
        let mean = keys as f64 / 8.0;
        for l in load {
            assert!((l as f64 - mean).abs() / mean < 0.05, "{load:?}");
        }
    }
}
