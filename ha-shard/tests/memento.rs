//! MementoHash through its membership history: any node leaves with only its keys moving, and
//! adding nodes back in reverse order walks the same placements backwards.
#![allow(clippy::unwrap_used)]

use ha_core::{Node, NodeId};
use ha_shard::{JumpHash, Memento, Placement};
use proptest::prelude::*;

fn nodes(count: usize) -> Vec<Node> {
    (0..count)
        .map(|i| Node::new(NodeId::new(format!("node-{i}")).unwrap(), ""))
        .collect()
}

fn owner_ids(p: &Memento, keys: &[u64]) -> Vec<NodeId> {
    keys.iter()
        .map(|&k| p.node(p.locate_hash(k)).id.clone())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn removing_any_node_moves_only_its_keys(
        count in 2usize..40,
        picks in prop::collection::vec(any::<prop::sample::Index>(), 1..30),
        keys in prop::collection::vec(any::<u64>(), 200),
    ) {
        let mut placement = Memento::new(nodes(count)).unwrap();
        for pick in picks {
            if placement.nodes().len() == 1 {
                break;
            }
            let leaver = placement.node(pick.index(placement.nodes().len())).id.clone();
            let next = placement.remove(&leaver).unwrap();
            prop_assert_eq!(next.nodes().len(), placement.nodes().len() - 1);
            for (old, new) in owner_ids(&placement, &keys).into_iter().zip(owner_ids(&next, &keys)) {
                prop_assert!(old == new || old == leaver, "{} moved to {} when {} left", old, new, leaver);
                prop_assert!(new != leaver);
            }
            placement = next;
        }
    }

    #[test]
    fn adding_back_restores_the_previous_placement(
        count in 2usize..40,
        picks in prop::collection::vec(any::<prop::sample::Index>(), 1..30),
    ) {
        let mut history = vec![Memento::new(nodes(count)).unwrap()];
        let mut left = Vec::new();
        for pick in picks {
            let current = history.last().unwrap();
            if current.nodes().len() == 1 {
                break;
            }
            let leaver = current.node(pick.index(current.nodes().len())).clone();
            history.push(current.remove(&leaver.id).unwrap());
            left.push(leaver);
        }
        let mut placement = history.pop().unwrap();
        while let Some(node) = left.pop() {
            placement = placement.add(node).unwrap();
            let previous = history.pop().unwrap();
            prop_assert_eq!(&placement, &previous);
        }
    }

    #[test]
    fn adding_a_node_after_removals_moves_keys_only_to_it(
        count in 2usize..40,
        picks in prop::collection::vec(any::<prop::sample::Index>(), 1..10),
        keys in prop::collection::vec(any::<u64>(), 200),
    ) {
        let mut placement = Memento::new(nodes(count)).unwrap();
        for pick in picks {
            if placement.nodes().len() == 1 {
                break;
            }
            let leaver = placement.node(pick.index(placement.nodes().len())).id.clone();
            placement = placement.remove(&leaver).unwrap();
        }
        let newcomer = Node::new(NodeId::new("newcomer").unwrap(), "");
        let grown = placement.add(newcomer.clone()).unwrap();
        for (old, new) in owner_ids(&placement, &keys).into_iter().zip(owner_ids(&grown, &keys)) {
            prop_assert!(old == new || new == newcomer.id, "{} moved to {}", old, new);
        }
    }

    #[test]
    fn lookups_stay_in_range_through_any_history(
        count in 1usize..40,
        ops in prop::collection::vec((any::<bool>(), any::<prop::sample::Index>()), 0..40),
        keys in prop::collection::vec(any::<u64>(), 50),
    ) {
        let mut placement = Memento::new(nodes(count)).unwrap();
        let mut fresh = 0;
        for (add, pick) in ops {
            placement = if add || placement.nodes().len() == 1 {
                fresh += 1;
                placement.add(Node::new(NodeId::new(format!("fresh-{fresh}")).unwrap(), "")).unwrap()
            } else {
                let leaver = placement.node(pick.index(placement.nodes().len())).id.clone();
                placement.remove(&leaver).unwrap()
            };
            for &key in &keys {
                prop_assert!(placement.locate_hash(key) < placement.nodes().len());
            }
        }
    }

    #[test]
    fn a_fresh_build_places_keys_as_jump_hash(
        count in 1usize..100,
        keys in prop::collection::vec(any::<u64>(), 50),
    ) {
        let memento = Memento::new(nodes(count)).unwrap();
        let jump = JumpHash::new(nodes(count)).unwrap();
        for key in keys {
            prop_assert_eq!(memento.locate_hash(key), jump.locate_hash(key));
        }
    }
}

/// After removing 3 of 10 nodes in the middle, each remaining node holds within 5% of the mean
/// share of 100 000 keys, and a removal moved only the leaver's tenth of the keys.
#[test]
fn removals_keep_the_balance() {
    let keys: Vec<u64> = (0..100_000u64)
        .map(|i| ha_shard::key_hash(&i.to_le_bytes()))
        .collect();
    let mut placement = Memento::new(nodes(10)).unwrap();
    for leaver in ["node-2", "node-5", "node-8"] {
        let next = placement.remove(&NodeId::new(leaver).unwrap()).unwrap();
        let moved = owner_ids(&placement, &keys)
            .iter()
            .zip(owner_ids(&next, &keys))
            .filter(|(a, b)| **a != *b)
            .count() as f64
            / keys.len() as f64;
        let ideal = 1.0 / placement.nodes().len() as f64;
        assert!(moved <= 1.1 * ideal, "moved {moved}, ideal {ideal}");
        placement = next;
    }
    let mut load = [0usize; 7];
    for &k in &keys {
        load[placement.locate_hash(k)] += 1;
    }
    let mean = keys.len() as f64 / 7.0;
    let peak = *load.iter().max().unwrap() as f64 / mean;
    assert!(peak <= 1.05, "peak/mean {peak}: {load:?}");
}
