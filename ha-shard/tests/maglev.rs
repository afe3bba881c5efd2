//! Properties of Maglev's history-aware rebuild over random membership histories.
#![allow(clippy::unwrap_used)]

use std::num::NonZeroU32;

use ha_core::{Node, NodeId};
use ha_shard::{Maglev, MaglevConfig, Placement};
use proptest::prelude::*;

const TABLE: u32 = 4099;

#[derive(Debug, Clone)]
enum Change {
    Join(u32),
    Leave(prop::sample::Index),
    Reweight(prop::sample::Index, u32),
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        (1u32..5).prop_map(Change::Join),
        any::<prop::sample::Index>().prop_map(Change::Leave),
        (any::<prop::sample::Index>(), 1u32..5).prop_map(|(i, w)| Change::Reweight(i, w)),
    ]
}

fn node(name: u32, weight: u32) -> Node {
    Node::new(NodeId::new(format!("n{name}")).unwrap(), "")
        .with_weight(NonZeroU32::new(weight).unwrap())
}

/// Entry owners by node id, for comparing two tables.
fn owners(m: &Maglev) -> Vec<NodeId> {
    (0..u64::from(TABLE))
        .map(|e| m.node(m.locate_hash(e)).id.clone())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn a_rebuild_moves_only_entries_of_the_changed_node_and_meets_every_share(
        weights in prop::collection::vec(1u32..5, 2..12),
        changes in prop::collection::vec(change(), 1..6),
    ) {
        let mut nodes: Vec<Node> = weights.iter().zip(0u32..).map(|(&w, i)| node(i, w)).collect();
        let mut table = Maglev::new(nodes.clone(), MaglevConfig { table_size: TABLE }).unwrap();
        let mut fresh_name = nodes.len() as u32;
        for change in changes {
            let changed: NodeId = match change {
                Change::Join(w) => {
                    nodes.push(node(fresh_name, w));
                    fresh_name += 1;
                    nodes[nodes.len() - 1].id.clone()
                }
                Change::Leave(i) if nodes.len() > 1 => nodes.remove(i.index(nodes.len())).id,
                Change::Leave(_) => continue,
                Change::Reweight(i, w) => {
                    let i = i.index(nodes.len());
                    nodes[i].weight = NonZeroU32::new(w).unwrap();
                    nodes[i].id.clone()
                }
            };
            let next = table.rebuild(nodes.clone()).unwrap();
            let stray = owners(&table)
                .iter()
                .zip(owners(&next))
                .filter(|(a, b)| *a != b && **a != changed && *b != changed)
                .count();
            // Rounding can shift at most one entry a node.
            prop_assert!(stray <= nodes.len() + 1, "{} entries moved between unchanged nodes", stray);
            let total: u32 = nodes.iter().map(|n| n.weight.get()).sum();
            for (i, n) in nodes.iter().enumerate() {
                let exact = f64::from(TABLE) * f64::from(n.weight.get()) / f64::from(total);
                let held = next.table_share(i) * f64::from(TABLE);
                prop_assert!((held - exact).abs() < 1.0 + 1e-9, "{}: {} entries for a share of {}", n.id, held, exact);
            }
            table = next;
        }
    }
}
