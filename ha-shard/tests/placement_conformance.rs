//! One conformance suite, run against every `Placement` implementation. Each property is named
//! for the invariant it states; an implementation joins by adding a line to `KINDS` and `build`.
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::ops::ControlFlow;

use ha_core::{Node, NodeId};
use ha_shard::{
    HashRing, JumpHash, KetamaName, Maglev, MaglevConfig, Memento, Placement, Rendezvous,
    RingConfig, SlotPlacement, SlotTable, ZoneSpread,
};
use proptest::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Jump,
    Rendezvous,
    Maglev,
    Ring,
    Ketama,
    Memento,
    Slots,
}

/// The placements whose membership changes move a bounded set of keys.
const KINDS: [Kind; 5] = [
    Kind::Jump,
    Kind::Rendezvous,
    Kind::Maglev,
    Kind::Ring,
    Kind::Memento,
];

/// Every placement, for the properties that hold whatever the membership history: ketama's point
/// counts depend on the whole pool, so a change can move keys between servers that stayed, and a
/// Redis slot table split evenly anew re-deals its slot ranges.
const ALL_KINDS: [Kind; 7] = [
    Kind::Jump,
    Kind::Rendezvous,
    Kind::Maglev,
    Kind::Ring,
    Kind::Ketama,
    Kind::Memento,
    Kind::Slots,
];

fn build(kind: Kind, nodes: Vec<Node>) -> Box<dyn Placement> {
    match kind {
        Kind::Jump => Box::new(JumpHash::new(nodes).unwrap()),
        Kind::Rendezvous => Box::new(Rendezvous::new(nodes).unwrap()),
        // A smaller prime table than the default keeps the debug-mode suite fast.
        Kind::Maglev => Box::new(Maglev::new(nodes, MaglevConfig { table_size: 16_411 }).unwrap()),
        Kind::Ring => Box::new(HashRing::new(nodes, RingConfig::default()).unwrap()),
        Kind::Ketama => Box::new(HashRing::ketama(nodes, KetamaName::Id).unwrap()),
        Kind::Memento => Box::new(Memento::new(nodes).unwrap()),
        Kind::Slots => {
            let table = SlotTable::split_evenly(nodes.iter().map(|n| n.id.clone())).unwrap();
            Box::new(SlotPlacement::new(nodes, table).unwrap())
        }
    }
}

/// Which node can leave while the rest keep their keys: jump hash only loses its last node, and
/// so does a fresh MementoHash build, which is jump hash (any node leaves through
/// `Memento::remove`; see `tests/memento.rs`).
fn removable(kind: Kind, pick: usize, len: usize) -> usize {
    match kind {
        Kind::Jump | Kind::Memento => len - 1,
        Kind::Rendezvous | Kind::Maglev | Kind::Ring | Kind::Ketama | Kind::Slots => pick % len,
    }
}

/// How many of the (at most 200 distinct) sampled keys a membership change may move between nodes
/// it did not touch: none for the strictly minimal algorithms. Maglev's table refill shifts a few
/// entries: at most 1.04% of keys for 1–40 nodes with this table (measured over 100 000 keys),
/// about 2 of 200 expected; 12 keeps a false alarm below one in ten million cases.
fn extra_moves_allowed(kind: Kind) -> usize {
    match kind {
        Kind::Jump | Kind::Rendezvous | Kind::Ring | Kind::Memento => 0,
        Kind::Maglev => 12,
        Kind::Ketama | Kind::Slots => usize::MAX,
    }
}

fn nodes(count: usize, zones: usize) -> Vec<Node> {
    (0..count)
        .map(|i| {
            Node::new(NodeId::new(format!("node-{i}")).unwrap(), "")
                .with_zone(format!("zone-{}", i % zones.max(1)))
        })
        .collect()
}

fn owner_ids(p: &dyn Placement, keys: &[u64]) -> Vec<NodeId> {
    keys.iter()
        .map(|&k| p.node(p.locate_hash(k)).id.clone())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn locate_n_gives_n_distinct_nodes_owner_first(
        count in 1usize..30,
        zones in 1usize..6,
        keys in prop::collection::vec(any::<u64>(), 1..50),
    ) {
        for kind in ALL_KINDS {
            let p = build(kind, nodes(count, zones));
            for &key in &keys {
                for n in [0, 1, count.min(3), count] {
                    let chosen = p.locate_n_hash(key, n).unwrap();
                    prop_assert_eq!(chosen.len(), n);
                    let distinct: HashSet<_> = chosen.iter().collect();
                    prop_assert_eq!(distinct.len(), n, "{:?}: repeats in {:?}", kind, chosen);
                    if n > 0 {
                        prop_assert_eq!(chosen[0], p.locate_hash(key), "{:?}: owner not first", kind);
                    }
                }
                prop_assert!(p.locate_n_hash(key, count + 1).is_err());
            }
        }
    }

    #[test]
    fn locate_n_uses_distinct_zones_when_enough_exist(
        count in 2usize..30,
        zones in 1usize..6,
        n in 1usize..6,
        keys in prop::collection::vec(any::<u64>(), 1..50),
    ) {
        prop_assume!(n <= count);
        for kind in ALL_KINDS {
            let p = build(kind, nodes(count, zones));
            let available = count.min(zones);
            for &key in &keys {
                let chosen = p.locate_n_hash(key, n).unwrap();
                let used: HashSet<_> = chosen.iter().map(|&i| p.node(i).zone.clone()).collect();
                prop_assert_eq!(used.len(), n.min(available), "{:?}: zones {:?}", kind, used);
            }
        }
    }

    #[test]
    fn preference_offers_every_node(count in 1usize..40, key in any::<u64>()) {
        for kind in ALL_KINDS {
            let p = build(kind, nodes(count, 3));
            let mut seen = vec![false; count];
            p.visit_preference(key, &mut |i| {
                seen[i] = true;
                ControlFlow::Continue(())
            });
            prop_assert!(seen.iter().all(|&s| s), "{:?} skipped a node", kind);
        }
    }

    #[test]
    fn adding_a_node_moves_keys_only_to_it(
        count in 1usize..40,
        keys in prop::collection::btree_set(any::<u64>(), 1..200).prop_map(|k| k.into_iter().collect::<Vec<_>>()),
    ) {
        for kind in KINDS {
            let before = build(kind, nodes(count, 3));
            let after = build(kind, nodes(count + 1, 3));
            let newcomer = after.node(count).id.clone();
            let moves = owner_ids(&*before, &keys).into_iter().zip(owner_ids(&*after, &keys));
            let extra = moves.filter(|(old, new)| old != new && *new != newcomer).count();
            prop_assert!(extra <= extra_moves_allowed(kind), "{:?}: {} keys moved between old nodes", kind, extra);
        }
    }

    #[test]
    fn removing_a_node_moves_only_its_keys(
        count in 2usize..40,
        pick in any::<usize>(),
        keys in prop::collection::btree_set(any::<u64>(), 1..200).prop_map(|k| k.into_iter().collect::<Vec<_>>()),
    ) {
        for kind in KINDS {
            let all = nodes(count, 3);
            let mut rest = all.clone();
            let leaver = rest.remove(removable(kind, pick, count)).id;
            let before = build(kind, all);
            let after = build(kind, rest);
            let moves = owner_ids(&*before, &keys).into_iter().zip(owner_ids(&*after, &keys));
            let extra = moves.filter(|(old, new)| old != new && *old != leaver).count();
            prop_assert!(extra <= extra_moves_allowed(kind), "{:?}: {} keys moved between staying nodes", kind, extra);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn locate_n_ignoring_zones_is_the_first_n_distinct_nodes_of_the_preference_order(
        count in 1usize..30,
        zones in 1usize..6,
        n in 0usize..8,
        keys in prop::collection::vec(any::<u64>(), 1..10),
    ) {
        prop_assume!(n <= count);
        for kind in ALL_KINDS {
            let p = build(kind, nodes(count, zones));
            for &key in &keys {
                let mut order = Vec::new();
                p.visit_preference(key, &mut |i| {
                    if !order.contains(&i) {
                        order.push(i);
                    }
                    ControlFlow::Continue(())
                });
                order.truncate(n);
                let chosen = p.locate_n_hash_with(key, n, ZoneSpread::Ignore).unwrap();
                prop_assert_eq!(&chosen, &order, "{:?}", kind);
                // With one zone, spreading has nothing to do: both answers agree.
                if zones == 1 {
                    prop_assert_eq!(p.locate_n_hash(key, n).unwrap(), order, "{:?}", kind);
                }
            }
            prop_assert!(p.locate_n_hash_with(0, count + 1, ZoneSpread::Ignore).is_err());
        }
    }
}

/// Over 100 000 keys on 10 nodes each node's share stays within 5% of the mean, and a join moves
/// at most 1.1× the ideal `1/(n+1)` of the keys.
#[test]
fn placements_are_balanced_and_joins_move_about_the_ideal_share() {
    let keys: Vec<u64> = (0..100_000u64)
        .map(|i| ha_shard::key_hash(&i.to_le_bytes()))
        .collect();
    for kind in KINDS {
        let p = build(kind, nodes(10, 3));
        let mut load = [0usize; 10];
        for &k in &keys {
            load[p.locate_hash(k)] += 1;
        }
        let peak = *load.iter().max().unwrap() as f64 / (keys.len() as f64 / 10.0);
        assert!(peak <= 1.05, "{kind:?}: peak/mean {peak}");

        let grown = build(kind, nodes(11, 3));
        let moved = owner_ids(&*p, &keys)
            .iter()
            .zip(owner_ids(&*grown, &keys))
            .filter(|(a, b)| **a != *b)
            .count() as f64
            / keys.len() as f64;
        let ideal = 1.0 / 11.0;
        assert!(
            moved <= 1.1 * ideal,
            "{kind:?}: moved {moved}, ideal {ideal}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn reweighting_a_rendezvous_node_moves_keys_only_to_or_from_it(
        weights in prop::collection::vec(1u32..10, 2..20),
        pick in any::<prop::sample::Index>(),
        new_weight in 1u32..10,
        keys in prop::collection::btree_set(any::<u64>(), 1..200).prop_map(|k| k.into_iter().collect::<Vec<_>>()),
    ) {
        let weighted = |ws: &[u32]| {
            let list = ws
                .iter()
                .enumerate()
                .map(|(i, &w)| {
                    Node::new(NodeId::new(format!("node-{i}")).unwrap(), "")
                        .with_weight(std::num::NonZeroU32::new(w).unwrap())
                })
                .collect();
            Rendezvous::new(list).unwrap()
        };
        let i = pick.index(weights.len());
        let mut changed = weights.clone();
        changed[i] = new_weight;
        let (before, after) = (weighted(&weights), weighted(&changed));
        let target = before.node(i).id.clone();
        let moves = owner_ids(&before, &keys).into_iter().zip(owner_ids(&after, &keys));
        for (old, new) in moves {
            prop_assert!(old == new || old == target || new == target, "{} → {}", old, new);
        }
    }
}
