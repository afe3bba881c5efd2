//! Rendezvous hashing, or highest random weight (Thaler and Ravishankar, 1996), weighted by the
//! logarithmic method (Schindelhauer and Schomaker, 2005).

use std::ops::ControlFlow;

use ha_core::Node;

use crate::hash::{mix, unit_interval};
use crate::placement::validate_nodes;
use crate::{Placement, Result, key_hash};

/// Every node scores every key; the highest score owns it.
///
/// A node's score for a key is `w / −ln(u)`, where `w` is the node's weight and `u` a uniform
/// value in (0, 1) mixed from the key hash and the node id's hash: node `i` then owns exactly the
/// share `wᵢ / Σw` of the keys in expectation. Ties (vanishingly rare) go to the smaller id.
///
/// - **Minimal disruption for any change.** Adding a node moves keys only to it; removing a node
///   moves only its keys; reweighting one node moves keys only to or from it.
/// - **Natural replicas.** The preference order is the nodes by descending score, so replicas are
///   as stable as owners.
/// - **Cost.** A lookup scores every node: `O(n)`, about 3 ns a node when weights are equal
///   (scores then compare as integers; BENCHMARKS.md) and more with weights (one logarithm a
///   node). `visit_preference` scores each node once and sorts the scores, so replicas cost
///   `O(n log n)` comparisons and `n` scores.
///   For thousands of nodes and hot paths, prefer Maglev or a ring.
///
/// ```
/// use std::num::NonZeroU32;
/// use ha_core::{Node, NodeId};
/// use ha_shard::{Placement, Rendezvous};
///
/// let big = Node::new(NodeId::new("big")?, "").with_weight(NonZeroU32::new(3).unwrap_or(NonZeroU32::MIN));
/// let small = Node::new(NodeId::new("small")?, "");
/// let hrw = Rendezvous::new(vec![big, small])?;
/// let on_big = (0..10_000u32)
///     .filter(|k| hrw.locate(&k.to_le_bytes()).id.as_str() == "big")
///     .count();
/// assert!((7_000..8_000).contains(&on_big)); // about 3/4
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Rendezvous {
    nodes: Vec<Node>,
    /// The hash of each node's id, seeding its scores.
    seeds: Vec<u64>,
    /// Each node's weight, as a float; `None` when all weights are equal.
    weights: Option<Vec<f64>>,
}

impl Rendezvous {
    /// A placement over `nodes`.
    ///
    /// # Errors
    /// [`Error::EmptyNodeSet`](crate::Error::EmptyNodeSet) or
    /// [`Error::DuplicateNode`](crate::Error::DuplicateNode).
    pub fn new(nodes: Vec<Node>) -> Result<Rendezvous> {
        validate_nodes(&nodes)?;
        let seeds = nodes
            .iter()
            .map(|n| key_hash(n.id.as_str().as_bytes()))
            .collect();
        let equal = nodes.iter().all(|n| n.weight == nodes[0].weight);
        let weights = (!equal).then(|| nodes.iter().map(|n| f64::from(n.weight.get())).collect());
        Ok(Rendezvous {
            nodes,
            seeds,
            weights,
        })
    }

    /// Node `i`'s rank for `hash` as an integer; higher wins. With equal weights it is the mixed
    /// draw itself (`−1/ln(u)` grows with `u`); with weights it is the score `w / −ln(u)`, a
    /// positive finite float, whose bits order as the floats do.
    fn rank(&self, i: usize, hash: u64) -> u64 {
        let draw = mix(hash, self.seeds[i]);
        match &self.weights {
            None => draw,
            Some(w) => (w[i] / -unit_interval(draw).ln()).to_bits(),
        }
    }

    /// Orders `(rank, node)` pairs best first: higher rank, then the smaller id.
    fn better(&self, a: (u64, usize), b: (u64, usize)) -> std::cmp::Ordering {
        b.0.cmp(&a.0)
            .then_with(|| self.nodes[a.1].id.cmp(&self.nodes[b.1].id))
    }
}

impl Placement for Rendezvous {
    fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    fn locate_hash(&self, hash: u64) -> usize {
        (1..self.nodes.len())
            .map(|i| (self.rank(i, hash), i))
            .fold((self.rank(0, hash), 0), |best, candidate| {
                if self.better(candidate, best).is_lt() {
                    candidate
                } else {
                    best
                }
            })
            .1
    }

    fn visit_preference(&self, hash: u64, visit: &mut dyn FnMut(usize) -> ControlFlow<()>) {
        // Each node is scored once; the sort compares the stored ranks.
        let mut order: Vec<(u64, usize)> = (0..self.nodes.len())
            .map(|i| (self.rank(i, hash), i))
            .collect();
        order.sort_unstable_by(|&a, &b| self.better(a, b));
        for (_, i) in order {
            if visit(i).is_break() {
                return;
            }
        }
    }
}
