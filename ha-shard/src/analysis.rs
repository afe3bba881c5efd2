//! How well a placement spreads keys, and how many keys a membership change moves.
//!
//! The two measures placement papers report: the load of the busiest node against the mean for
//! a key population (Lamping and Veach's and Maglev's balance figures; Karger et al.'s "load"),
//! and the share of keys that change owner when the node set changes, against the ideal
//! `1/(n+1)` for a node joining `n` others (Karger et al.'s "monotonicity"; the minimal
//! disruption of Maglev's paper). Both run over a population the caller picks, so they measure
//! that population, not an expectation.
//!
//! ```
//! use ha_core::{Node, NodeId};
//! use ha_shard::{Rendezvous, ideal_join_fraction, load_imbalance, moved_fraction};
//!
//! let nodes = (0..5)
//!     .map(|i| Ok(Node::new(NodeId::new(format!("n{i}"))?, "")))
//!     .collect::<Result<Vec<_>, ha_core::Error>>()?;
//! let four = Rendezvous::new(nodes[..4].to_vec())?;
//! let five = Rendezvous::new(nodes)?;
//! let keys: Vec<[u8; 4]> = (0..10_000u32).map(u32::to_le_bytes).collect();
//!
//! let load = load_imbalance(&four, &keys);
//! assert!(load.peak_over_mean < 1.1);
//! let moved = moved_fraction(&four, &five, &keys);
//! assert!((moved - ideal_join_fraction(4)).abs() < 0.02); // about 1/5
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;

use ha_core::NodeId;

use crate::Placement;

/// How a key population spreads over a placement's nodes.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct LoadReport {
    /// Keys owned by each node, every node listed (those with none at 0).
    pub per_node: BTreeMap<NodeId, u64>,
    /// Keys in the population.
    pub keys: u64,
    /// Keys per node on average.
    pub mean: f64,
    /// Keys on the busiest node.
    pub peak: u64,
    /// `peak / mean`: 1 is a perfect spread; 1 also for an empty population.
    pub peak_over_mean: f64,
    /// The population standard deviation of the per-node counts.
    pub std_dev: f64,
    /// The busiest node relative to its weight: the largest ratio of a node's keys to its
    /// weighted fair share `keys × wᵢ / Σw`. Equal to `peak_over_mean` when every weight is the
    /// same; 1 for an empty population. This is the figure to compare against 1 for weighted
    /// nodes, whose raw counts differ by design.
    pub weighted_peak_over_mean: f64,
    /// The population standard deviation, over the nodes, of each node's keys divided by its
    /// weighted fair share (so unitless: 0 is a spread exactly in proportion to weight); 0 for
    /// an empty population.
    pub weighted_std_dev: f64,
}

/// The spread of `keys` over `placement`'s nodes, each key counted at its owner
/// ([`Placement::locate`]): in raw counts (`peak_over_mean`, `std_dev`), and relative to each
/// node's weight (`weighted_peak_over_mean`, `weighted_std_dev`), where a node of weight `wᵢ`
/// out of `Σw` should hold `keys × wᵢ / Σw`.
///
/// ```
/// use std::num::NonZeroU32;
/// use ha_core::{Node, NodeId};
/// use ha_shard::{Rendezvous, load_imbalance};
///
/// let heavy = NonZeroU32::new(3).ok_or("zero")?;
/// let nodes = vec![
///     Node::new(NodeId::new("big")?, "").with_weight(heavy),
///     Node::new(NodeId::new("small")?, ""),
/// ];
/// let keys: Vec<[u8; 4]> = (0..20_000u32).map(u32::to_le_bytes).collect();
/// let report = load_imbalance(&Rendezvous::new(nodes)?, &keys);
/// // "big" holds about 3/4 of the keys: 1.5× the plain mean, but its fair share by weight.
/// assert!(report.peak_over_mean > 1.4);
/// assert!(report.weighted_peak_over_mean < 1.03);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use]
pub fn load_imbalance<P: Placement + ?Sized, K: AsRef<[u8]>>(
    placement: &P,
    keys: impl IntoIterator<Item = K>,
) -> LoadReport {
    let nodes = placement.nodes();
    let mut counts = vec![0u64; nodes.len()];
    for key in keys {
        let owner = placement.locate_hash(placement.hash_key(key.as_ref()));
        if let Some(count) = counts.get_mut(owner) {
            *count = count.saturating_add(1);
        }
    }
    let total = counts.iter().fold(0u64, |a, &c| a.saturating_add(c));
    let peak = counts.iter().copied().max().unwrap_or(0);
    let n = counts.len().max(1) as f64;
    let mean = total as f64 / n;
    let variance = counts
        .iter()
        .map(|&c| (c as f64 - mean).powi(2))
        .sum::<f64>()
        / n;
    // Each node's keys over its weighted fair share; weights are at least 1, so the total is
    // positive and every share is too when there are keys.
    let total_weight: f64 = nodes.iter().map(|n| f64::from(n.weight.get())).sum();
    let relative: Vec<f64> = nodes
        .iter()
        .zip(&counts)
        .map(|(node, &count)| {
            let fair = total as f64 * f64::from(node.weight.get()) / total_weight;
            if fair > 0.0 { count as f64 / fair } else { 1.0 }
        })
        .collect();
    let weighted_peak_over_mean = if total == 0 {
        1.0
    } else {
        relative.iter().copied().fold(0.0_f64, f64::max)
    };
    let relative_mean = relative.iter().sum::<f64>() / n;
    let weighted_std_dev = if total == 0 {
        0.0
    } else {
        (relative
            .iter()
            .map(|r| (r - relative_mean).powi(2))
            .sum::<f64>()
            / n)
            .sqrt()
    };
    tracing::debug!(
        keys = total,
        peak,
        mean,
        weighted_peak_over_mean,
        weighted_std_dev,
        "load imbalance measured"
    );
    LoadReport {
        per_node: nodes
            .iter()
            .zip(&counts)
            .map(|(node, &count)| (node.id.clone(), count))
            .collect(),
        keys: total,
        mean,
        peak,
        peak_over_mean: if mean > 0.0 { peak as f64 / mean } else { 1.0 },
        std_dev: variance.sqrt(),
        weighted_peak_over_mean,
        weighted_std_dev,
    }
}

/// The share of `keys`, in [0, 1], whose owner (by node id) differs between `before` and
/// `after`; 0 for an empty population.
#[must_use]
pub fn moved_fraction<B: Placement + ?Sized, A: Placement + ?Sized, K: AsRef<[u8]>>(
    before: &B,
    after: &A,
    keys: impl IntoIterator<Item = K>,
) -> f64 {
    let (mut total, mut moved) = (0u64, 0u64);
    for key in keys {
        let key = key.as_ref();
        total += 1;
        if before.locate(key).id != after.locate(key).id {
            moved += 1;
        }
    }
    if total == 0 {
        0.0
    } else {
        moved as f64 / total as f64
    }
}

/// The least share of keys a node joining `nodes` equal nodes must take: `1/(nodes + 1)`, the
/// new node's fair share (1 when it joins none).
#[must_use]
pub fn ideal_join_fraction(nodes: usize) -> f64 {
    1.0 / (nodes as f64 + 1.0)
}

#[cfg(test)]
mod tests {
    use ha_core::Node;

    use super::*;
    use crate::Rendezvous;

    fn placement(n: usize) -> Rendezvous {
        Rendezvous::new(
            (0..n)
                .map(|i| Node::new(NodeId::new(format!("n{i}")).unwrap(), ""))
                .collect(),
        )
        .unwrap()
    }

    #[test]
    fn an_empty_population_is_balanced_and_moves_nothing() {
        let p = placement(3);
        let report = load_imbalance(&p, Vec::<Vec<u8>>::new());
        assert_eq!(report.keys, 0);
        assert_eq!(report.peak_over_mean, 1.0);
        assert_eq!(report.per_node.len(), 3);
        assert_eq!(
            moved_fraction(&p, &placement(4), Vec::<Vec<u8>>::new()),
            0.0
        );
    }

    #[test]
    fn counts_add_up_and_the_peak_is_one_of_them() {
        let p = placement(4);
        let keys: Vec<[u8; 4]> = (0..1000u32).map(u32::to_le_bytes).collect();
        let report = load_imbalance(&p, &keys);
        assert_eq!(report.per_node.values().sum::<u64>(), 1000);
        assert_eq!(report.mean, 250.0);
        assert!(report.per_node.values().any(|&c| c == report.peak));
        assert!(report.peak_over_mean >= 1.0 && report.std_dev >= 0.0);
    }

    /// A placement sending key `[i]` to node `i`, to count by hand.
    struct ByFirstByte(Vec<Node>);

    impl Placement for ByFirstByte {
        fn nodes(&self) -> &[Node] {
            &self.0
        }
        fn hash_key(&self, key: &[u8]) -> u64 {
            u64::from(key.first().copied().unwrap_or(0))
        }
        fn locate_hash(&self, hash: u64) -> usize {
            hash as usize % self.0.len()
        }
        fn visit_preference(
            &self,
            hash: u64,
            visit: &mut dyn FnMut(usize) -> std::ops::ControlFlow<()>,
        ) {
            for i in 0..self.0.len() {
                if visit((self.locate_hash(hash) + i) % self.0.len()).is_break() {
                    return;
                }
            }
        }
    }

    fn light_and_heavy() -> ByFirstByte {
        let heavy = std::num::NonZeroU32::new(3).unwrap();
        ByFirstByte(vec![
            Node::new(NodeId::new("light").unwrap(), ""),
            Node::new(NodeId::new("heavy").unwrap(), "").with_weight(heavy),
        ])
    }

    #[test]
    fn a_spread_in_proportion_to_weight_is_weighted_balanced() {
        // 1 key on the light node, 3 on the heavy one: exactly their shares.
        let report = load_imbalance(&light_and_heavy(), [[0], [1], [1], [1]]);
        assert_eq!(report.peak_over_mean, 1.5);
        assert_eq!(report.weighted_peak_over_mean, 1.0);
        assert_eq!(report.weighted_std_dev, 0.0);
    }

    #[test]
    fn an_even_split_over_unequal_weights_overloads_the_light_node() {
        // 2 keys each: the light node's fair share is 1 (ratio 2), the heavy one's 3 (ratio 2/3).
        let report = load_imbalance(&light_and_heavy(), [[0], [0], [1], [1]]);
        assert_eq!(report.peak_over_mean, 1.0);
        assert_eq!(report.weighted_peak_over_mean, 2.0);
        assert!((report.weighted_std_dev - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn equal_weights_give_the_same_weighted_and_raw_peak() {
        let keys: Vec<[u8; 4]> = (0..1000u32).map(u32::to_le_bytes).collect();
        let report = load_imbalance(&placement(4), &keys);
        assert!((report.weighted_peak_over_mean - report.peak_over_mean).abs() < 1e-12);
        assert!((report.weighted_std_dev - report.std_dev / report.mean).abs() < 1e-12);
        let empty = load_imbalance(&light_and_heavy(), Vec::<Vec<u8>>::new());
        assert_eq!(
            (empty.weighted_peak_over_mean, empty.weighted_std_dev),
            (1.0, 0.0)
        );
    }

    #[test]
    fn the_ideal_join_share_is_one_over_n_plus_one() {
        assert_eq!(ideal_join_fraction(0), 1.0);
        assert_eq!(ideal_join_fraction(3), 0.25);
    }
}
