//! Properties of versions and quorum counting: version-vector comparison is a partial order,
//! merge is a join (commutative, associative, idempotent, least upper bound), dotted version
//! vector sets merge the same way, and a quorum coordinator decides exactly when the counts say.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use ha_core::NodeId;
use ha_replication::{
    Causality, DvvSet, HlcTimestamp, Progress, ReadCoordinator, Reconcile, ReplicaSet, Requirement,
    Stamped, VersionVector, WriteCoordinator,
};
use proptest::prelude::*;

fn actor(i: u8) -> NodeId {
    NodeId::new(format!("n{i}")).unwrap()
}

fn vv() -> impl Strategy<Value = VersionVector> {
    proptest::collection::vec((0u8..5, 0u64..4), 0..6)
        .prop_map(|e| VersionVector::from_entries(e.into_iter().map(|(a, c)| (actor(a), c))))
}

fn flip(c: Causality) -> Causality {
    match c {
        Causality::Before => Causality::After,
        Causality::After => Causality::Before,
        other => other,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn vv_compare_is_a_partial_order(a in vv(), b in vv(), c in vv()) {
        // Reflexive.
        prop_assert_eq!(a.compare(&a), Causality::Equal);
        // Antisymmetric: each direction is the other's mirror, and equal means identical.
        prop_assert_eq!(a.compare(&b), flip(b.compare(&a)));
        if a.compare(&b) == Causality::Equal {
            prop_assert_eq!(&a, &b);
        }
        // Transitive.
        if a.descends(&b) && b.descends(&c) {
            prop_assert!(a.descends(&c));
        }
        // Agrees with a per-actor check.
        let le = |x: &VersionVector, y: &VersionVector| x.iter().all(|(act, n)| n <= y.get(act));
        prop_assert_eq!(b.descends(&a), le(&a, &b));
    }

    #[test]
    fn vv_merge_is_commutative_associative_idempotent_and_the_least_upper_bound(
        a in vv(), b in vv(), c in vv()
    ) {
        let merged = |x: &VersionVector, y: &VersionVector| {
            let mut m = x.clone();
            m.merge(y);
            m
        };
        prop_assert_eq!(merged(&a, &b), merged(&b, &a));
        prop_assert_eq!(merged(&merged(&a, &b), &c), merged(&a, &merged(&b, &c)));
        prop_assert_eq!(merged(&a, &a), a.clone());
        let ab = merged(&a, &b);
        prop_assert!(ab.descends(&a) && ab.descends(&b));
        // Least: any upper bound of both descends the merge.
        if c.descends(&a) && c.descends(&b) {
            prop_assert!(c.descends(&ab));
        }
    }

    #[test]
    fn pruned_vectors_keep_at_most_the_bound_and_only_active_actors(a in vv(), max in 0usize..4) {
        let mut p = a.clone();
        p.prune(max, |act| act.as_str() != "n0");
        prop_assert!(p.len() <= max);
        prop_assert_eq!(p.get(&actor(0)), 0);
        prop_assert!(a.descends(&p));
    }

    #[test]
    fn dvv_merge_is_commutative_associative_and_idempotent(
        ops in proptest::collection::vec((0usize..3, 0usize..3, any::<bool>(), 0u32..100), 1..25)
    ) {
        // Three replicas; each op writes at replica i with the context of replica j (or a blind
        // write), or syncs i from j.
        let mut replicas = vec![DvvSet::<u32>::new(); 3];
        for (i, j, write, value) in ops {
            if write {
                let context = if value % 3 == 0 { VersionVector::new() } else { replicas[j].context().clone() };
                replicas[i].write(&actor(i as u8), &context, value).unwrap();
            } else {
                let other = replicas[j].clone();
                replicas[i].merge(&other);
            }
        }
        let merged = |x: &DvvSet<u32>, y: &DvvSet<u32>| {
            let mut m = x.clone();
            m.merge(y);
            m
        };
        let (a, b, c) = (&replicas[0], &replicas[1], &replicas[2]);
        // The merge (fast paths included) equals its definition: keep each side's sibling
        // unless the other side has seen its dot and does not hold it.
        let reference = |x: &DvvSet<u32>, y: &DvvSet<u32>| {
            let mut kept: Vec<_> = x
                .siblings()
                .iter()
                .filter(|(d, _)| y.holds(d) || !d.is_covered_by(y.context()))
                .chain(y.siblings().iter().filter(|(d, _)| !x.holds(d) && !d.is_covered_by(x.context())))
                .cloned()
                .collect();
            kept.sort_by(|p, q| p.0.cmp(&q.0));
            let mut clock = x.context().clone();
            clock.merge(y.context());
            (clock, kept)
        };
        for (x, y) in [(a, b), (b, a), (a, c), (c, b)] {
            let m = merged(x, y);
            prop_assert_eq!((m.context().clone(), m.siblings().to_vec()), reference(x, y));
        }
        prop_assert_eq!(merged(a, b), merged(b, a));
        prop_assert_eq!(merged(&merged(a, b), c), merged(a, &merged(b, c)));
        prop_assert_eq!(merged(a, a), a.clone());
        // Every sibling of the merge is a sibling of one side, and every event seen is kept or
        // superseded: the merged clock covers both sides.
        let abc = merged(&merged(a, b), c);
        for (dot, _) in abc.siblings() {
            prop_assert!(a.holds(dot) || b.holds(dot) || c.holds(dot));
        }
        for side in [a, b, c] {
            prop_assert!(abc.context().descends(side.context()));
        }
    }

    #[test]
    fn a_write_coordinator_decides_exactly_when_the_counts_allow(
        n in 1usize..7,
        w_seed in 0usize..7,
        events in proptest::collection::vec((0usize..7, any::<bool>()), 0..12),
    ) {
        let w = w_seed % n + 1;
        let ids: Vec<NodeId> = (0..n as u8).map(actor).collect();
        let set = ReplicaSet::single_datacenter(ids.clone()).unwrap();
        let mut coordinator = WriteCoordinator::new(set, &Requirement::count(w).unwrap(), Instant::now()).unwrap();
        let (mut acks, mut fails) = (0, 0);
        let mut replied = vec![false; n];
        let mut expected: Progress<usize> = Progress::NeedMore;
        for (i, ok) in events {
            let i = i % n;
            let result = if ok { coordinator.on_ack(&ids[i]) } else { coordinator.on_failure(&ids[i]) };
            if replied[i] {
                prop_assert!(result.is_err());
                continue;
            }
            replied[i] = true;
            if ok { acks += 1 } else { fails += 1 }
            if !expected.is_done() {
                if acks >= w {
                    expected = Progress::Succeeded(acks);
                } else if fails > n - w {
                    expected = Progress::Failed(ha_replication::QuorumFailure::NotEnoughReplicas {
                        datacenter: None, needed: w, succeeded: acks, failed: fails,
                    });
                }
            }
            prop_assert_eq!(result.unwrap(), expected.clone());
            coordinator.check_invariants();
        }
    }

    #[test]
    fn a_read_answers_the_reconciled_copies_seen_at_the_decision_and_repairs_every_stale_replica(
        n in 1usize..7,
        r_seed in 0usize..7,
        replies in proptest::collection::vec((proptest::option::of(0u64..4), any::<bool>()), 6),
        order_seed in any::<u64>(),
    ) {
        let r = r_seed % n + 1;
        let ids: Vec<NodeId> = (0..n as u8).map(actor).collect();
        let set = ReplicaSet::single_datacenter(ids.clone()).unwrap();
        let mut read = ReadCoordinator::new(set, &Requirement::count(r).unwrap(), Instant::now()).unwrap();
        let copy = |wall: u64| Stamped::new(wall, HlcTimestamp { wall_nanos: wall, logical: 0 }, actor(9));
        // A reply order from the seed.
        let mut order: Vec<usize> = (0..n).collect();
        let mut x = order_seed;
        for i in (1..n).rev() {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            order.swap(i, (x >> 33) as usize % (i + 1));
        }
        let reconcile = |acc: Option<Stamped<u64>>, c: &Option<Stamped<u64>>| match (acc, c) {
            (Some(mut a), Some(c)) => { a.reconcile(c); Some(a) }
            (None, Some(c)) => Some(c.clone()),
            (a, None) => a,
        };
        let mut seen: Option<Stamped<u64>> = None;
        let mut answered: Option<Progress<Option<Stamped<u64>>>> = None;
        let mut received: Vec<(usize, Option<Stamped<u64>>)> = Vec::new();
        for &i in &order {
            let (wall, fails) = replies[i];
            let progress = if fails {
                read.on_failure(&ids[i]).unwrap()
            } else {
                let c = wall.map(copy);
                if answered.is_none() {
                    seen = reconcile(seen, &c);
                }
                received.push((i, c.clone()));
                read.on_value(&ids[i], c).unwrap()
            };
            read.check_invariants();
            match &answered {
                Some(first) => prop_assert_eq!(&progress, first),
                None if progress.is_done() => {
                    if let Progress::Succeeded(v) = &progress {
                        prop_assert_eq!(v, &seen);
                    }
                    answered = Some(progress);
                }
                None => {}
            }
        }
        // Repairs: exactly the replicas that answered with less than everything received.
        let all = received.iter().fold(None, |acc, (_, c)| reconcile(acc, c));
        let mut stale: Vec<NodeId> = received
            .iter()
            .filter(|(_, c)| all.is_some() && *c != all)
            .map(|(i, _)| ids[*i].clone())
            .collect();
        stale.sort();
        let repairs = read.repairs();
        prop_assert!(repairs.iter().all(|w| Some(&w.value) == all.as_ref()));
        prop_assert_eq!(repairs.into_iter().map(|w| w.replica).collect::<Vec<_>>(), stale);
    }
}
