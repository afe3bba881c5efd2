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
///   node). `visit_preference` sorts the nodes, so replicas cost `O(n log n)`.
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

    /// Node `i`'s score for `hash`; higher wins.
    fn score(&self, i: usize, hash: u64) -> f64 {
        let draw = mix(hash, self.seeds[i]);
        match &self.weights {
            // Equal weights: `−1/ln(u)` grows with `u`, so the draw itself ranks the nodes.
            None => draw as f64,
            Some(w) => w[i] / -unit_interval(draw).ln(),
        }
    }

    /// Whether node `a` beats node `b` for `hash`.
    fn beats(&self, a: usize, b: usize, hash: u64) -> bool {
        match &self.weights {
            None => {
                let (da, db) = (mix(hash, self.seeds[a]), mix(hash, self.seeds[b]));
                da > db || (da == db && self.nodes[a].id < self.nodes[b].id)
            }
            Some(_) => {
                let (sa, sb) = (self.score(a, hash), self.score(b, hash));
                sa > sb || (sa == sb && self.nodes[a].id < self.nodes[b].id)
            }
        }
    }
}

impl Placement for Rendezvous {
    fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    fn locate_hash(&self, hash: u64) -> usize {
        (1..self.nodes.len()).fold(
            0,
            |best, i| if self.beats(i, best, hash) { i } else { best },
        )
    }

    fn visit_preference(&self, hash: u64, visit: &mut dyn FnMut(usize) -> ControlFlow<()>) {
        let mut order: Vec<usize> = (0..self.nodes.len()).collect();
        order.sort_by(|&a, &b| {
            if self.beats(a, b, hash) {
                std::cmp::Ordering::Less
            } else if self.beats(b, a, hash) {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        });
        for i in order {
            if visit(i).is_break() {
                return;
            }
        }
    }
}
