//! Consistent hashing with bounded loads over several placements: the bound holds after every
//! step, the owner is taken whenever it has room, and releases give capacity back.
#![allow(clippy::unwrap_used)]

use std::num::NonZeroU32;
use std::ops::ControlFlow;

use ha_core::{Node, NodeId};
use ha_shard::{
    BoundedLoads, BoundedLoadsConfig, Error, HashRing, Memento, Placement, Rendezvous, RingConfig,
};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Assign(u64),
    Release(u64),
}

/// Hashes from a small pool, so releases often hit live assignments and assigns repeat.
fn ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(
        prop_oneof![
            3 => (0u64..200).prop_map(Op::Assign),
            2 => (0u64..200).prop_map(Op::Release),
        ],
        0..400,
    )
}

fn weighted(weights: &[u32]) -> Vec<Node> {
    weights
        .iter()
        .enumerate()
        .map(|(i, &w)| {
            Node::new(NodeId::new(format!("node-{i}")).unwrap(), "")
                .with_weight(NonZeroU32::new(w).unwrap())
        })
        .collect()
}

fn config(load_factor: f64) -> BoundedLoadsConfig {
    BoundedLoadsConfig { load_factor }
}

/// Spreads the small pool of hashes over the whole range.
fn spread(h: u64) -> u64 {
    ha_shard::key_hash(&h.to_le_bytes())
}

/// Applies `op`, checking the moves a release reports and the invariants after it.
fn step<P: Placement>(loads: &mut BoundedLoads<P>, op: &Op) -> Result<(), TestCaseError> {
    match *op {
        Op::Assign(h) => {
            let before = loads.assigned(spread(h));
            let node = loads.assign(spread(h));
            if let Some(b) = before {
                prop_assert_eq!(node, b, "a re-assign must return the same node");
            }
            prop_assert_eq!(loads.assigned(spread(h)), Some(node));
        }
        Op::Release(h) => {
            let moves = loads.release(spread(h));
            prop_assert_eq!(loads.assigned(spread(h)), None);
            for m in moves {
                prop_assert_ne!(m.from, m.to);
                prop_assert_eq!(loads.assigned(m.hash), Some(m.to));
            }
        }
    }
    loads.check_invariants();
    // The bound, at the current count: no node above ⌈c × its weighted average⌉.
    let nodes = loads.placement().nodes();
    let total: u64 = nodes.iter().map(|n| u64::from(n.weight.get())).sum();
    let live = loads.assigned_count() as f64;
    for (i, node) in nodes.iter().enumerate() {
        let share = live * f64::from(node.weight.get()) / total as f64;
        let bound = (loads.load_factor() * share).ceil().max(share.ceil());
        prop_assert!(
            loads.load(i) as f64 <= bound,
            "node {} holds {} over {}",
            i,
            loads.load(i),
            bound
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn bounded_loads_never_exceed_capacity(
        weights in prop::collection::vec(1u32..5, 1..12),
        load_factor in 1.0f64..2.0,
        ops in ops(),
    ) {
        let mut on_rendezvous =
            BoundedLoads::new(Rendezvous::new(weighted(&weights)).unwrap(), config(load_factor)).unwrap();
        let ring = HashRing::new(weighted(&weights), RingConfig::default()).unwrap();
        let mut on_ring = BoundedLoads::new(ring, config(load_factor)).unwrap();
        let equal = vec![1; weights.len()];
        let mut on_memento =
            BoundedLoads::new(Memento::new(weighted(&equal)).unwrap(), config(load_factor)).unwrap();
        for op in &ops {
            step(&mut on_rendezvous, op)?;
            step(&mut on_ring, op)?;
            step(&mut on_memento, op)?;
        }
    }

    #[test]
    fn assignment_prefers_the_placements_owner_when_it_has_room(
        weights in prop::collection::vec(1u32..5, 1..12),
        load_factor in 1.0f64..2.0,
        ops in ops(),
        fresh in 1_000u64..2_000,
    ) {
        let placement = Rendezvous::new(weighted(&weights)).unwrap();
        let mut loads = BoundedLoads::new(placement, config(load_factor)).unwrap();
        for op in &ops {
            step(&mut loads, op)?;
        }
        let hash = spread(fresh);
        // The expected node: the first in preference order with room.
        let mut expected = None;
        loads.placement().visit_preference(hash, &mut |i| {
            if loads.load(i) < loads.capacity(i) {
                expected = Some(i);
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
        let owner = loads.placement().locate_hash(hash);
        let owner_has_room = loads.load(owner) < loads.capacity(owner);
        let node = loads.assign(hash);
        prop_assert_eq!(Some(node), expected);
        if owner_has_room {
            prop_assert_eq!(node, owner);
        }
    }

    #[test]
    fn releases_restore_capacity(
        weights in prop::collection::vec(1u32..5, 1..12),
        load_factor in 1.0f64..2.0,
        ops in ops(),
        fresh in 1_000u64..2_000,
    ) {
        let placement = Rendezvous::new(weighted(&weights)).unwrap();
        let mut loads = BoundedLoads::new(placement, config(load_factor)).unwrap();
        for op in &ops {
            step(&mut loads, op)?;
        }
        let n = weights.len();
        let before: Vec<(usize, usize)> = (0..n).map(|i| (loads.load(i), loads.capacity(i))).collect();
        // Assigning a new key and releasing it leaves loads and capacities as they were.
        let node = loads.assign(spread(fresh));
        prop_assert_eq!(loads.load(node), before[node].0 + 1);
        let moves = loads.release(spread(fresh));
        prop_assert!(moves.is_empty(), "{:?}", moves);
        let after: Vec<(usize, usize)> = (0..n).map(|i| (loads.load(i), loads.capacity(i))).collect();
        prop_assert_eq!(&after, &before);
        // Releasing everything empties every node and gives back the first capacities.
        for h in 0u64..200 {
            let _moves = loads.release(spread(h));
            loads.check_invariants();
        }
        let empty = BoundedLoads::new(Rendezvous::new(weighted(&weights)).unwrap(), config(load_factor)).unwrap();
        prop_assert_eq!(loads.assigned_count(), 0);
        for i in 0..n {
            prop_assert_eq!(loads.load(i), 0);
            prop_assert_eq!(loads.capacity(i), empty.capacity(i));
        }
    }
}

/// With `c = 1` and equal weights, no node takes more than its fair share, so all end equal.
#[test]
fn a_load_factor_of_one_fills_every_node_to_its_fair_share() {
    let placement = Rendezvous::new(weighted(&[1; 7])).unwrap();
    let mut loads = BoundedLoads::new(placement, config(1.0)).unwrap();
    for h in 0..700u64 {
        loads.assign(spread(h));
    }
    for i in 0..7 {
        assert_eq!(loads.load(i), 100);
    }
}

/// Weighted nodes get capacity in proportion to their weight.
#[test]
fn capacity_follows_weights() {
    let placement = Rendezvous::new(weighted(&[1, 3])).unwrap();
    let mut loads = BoundedLoads::new(placement, config(1.25)).unwrap();
    for h in 0..399u64 {
        loads.assign(spread(h));
    }
    // Next key: ⌈1.25 × 400 × 1/4⌉ = 125 and ⌈1.25 × 400 × 3/4⌉ = 375.
    assert_eq!(loads.capacity(0), 125);
    assert_eq!(loads.capacity(1), 375);
    assert_eq!(loads.capacity(2), 0);
    assert!(loads.load(0) <= 125 && loads.load(1) <= 375);
}

#[test]
fn bad_load_factors_are_refused() {
    let placement = || Rendezvous::new(weighted(&[1, 1])).unwrap();
    for c in [0.99, 0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(
            matches!(
                BoundedLoads::new(placement(), config(c)),
                Err(Error::Core(_))
            ),
            "{c}"
        );
    }
    assert!(BoundedLoads::new(placement(), BoundedLoadsConfig::default()).is_ok());
    assert_eq!(BoundedLoadsConfig::default().load_factor, 1.25);
}

/// The reviewer's probe: with c = 1 and two equal nodes, five assignments and one release leave
/// four, so neither node may hold more than ⌈4 / 2⌉ = 2.
#[test]
fn after_a_release_no_node_exceeds_c_times_the_current_average() {
    let mut loads =
        BoundedLoads::new(Rendezvous::new(weighted(&[1, 1])).unwrap(), config(1.0)).unwrap();
    let hashes: Vec<u64> = (0..5).map(spread).collect();
    for &h in &hashes {
        loads.assign(h);
    }
    for &h in &hashes {
        let mut probe = loads.clone();
        let _moves = probe.release(h);
        probe.check_invariants();
        assert!(
            (0..2).all(|i| probe.load(i) <= 2),
            "loads {:?}",
            (probe.load(0), probe.load(1))
        );
    }
}

/// A node filled while the total was high is over its capacity once the other nodes' keys are
/// released: the releases move its excess to nodes with room, and report each move.
#[test]
fn a_release_that_shrinks_capacity_moves_the_excess() {
    let placement = Rendezvous::new(weighted(&[1; 3])).unwrap();
    let mut loads = BoundedLoads::new(placement, config(1.25)).unwrap();
    let hashes: Vec<u64> = (0..12u64).map(spread).collect();
    for &h in &hashes {
        loads.assign(h);
    }
    // At least 4 of the 12 keys share a node; with only those left, ⌈1.25 × (4 + 1) / 3⌉ = 3.
    let full = (0..3).max_by_key(|&i| loads.load(i)).unwrap();
    assert!(loads.load(full) >= 4);
    let mut moves = Vec::new();
    for &h in &hashes {
        if loads.assigned(h) != Some(full) {
            moves.extend(loads.release(h));
            loads.check_invariants();
        }
    }
    assert!(!moves.is_empty());
    for m in &moves {
        assert_eq!(m.from, full);
        assert_ne!(m.to, full);
    }
    assert!(loads.load(full) <= loads.capacity(full));
}
