//! Properties of rebalancing plans (targets, waves, capacity, skew) and of hot-shard detection.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use ha_core::{NodeId, SlidingWindowConfig};
use ha_shard::{
    Error, LoadConfig, LoadMetric, LoadTracker, Plan, RebalanceConfig, Rebalancer, ShardId, Target,
};
use proptest::prelude::*;

fn node(i: usize) -> NodeId {
    NodeId::new(format!("n{i}")).unwrap()
}

/// A cluster: each shard's node index and size.
#[derive(Debug, Clone)]
struct Cluster {
    current: BTreeMap<ShardId, NodeId>,
    sizes: BTreeMap<ShardId, u64>,
}

fn cluster(max_nodes: usize, max_shards: usize) -> impl Strategy<Value = Cluster> {
    prop::collection::vec((0..max_nodes, 0u64..1_000), 0..max_shards).prop_map(|shards| {
        let mut current = BTreeMap::new();
        let mut sizes = BTreeMap::new();
        for (i, (n, size)) in shards.into_iter().enumerate() {
            let shard = ShardId(u32::try_from(i).unwrap());
            current.insert(shard, node(n));
            sizes.insert(shard, size);
        }
        Cluster { current, sizes }
    })
}

fn weights(max_nodes: usize) -> impl Strategy<Value = BTreeMap<NodeId, u32>> {
    prop::collection::btree_map((0..max_nodes).prop_map(node), 0u32..5, 1..max_nodes)
        .prop_filter("some weight", |w| w.values().any(|&w| w > 0))
}

fn config() -> impl Strategy<Value = RebalanceConfig> {
    (1u32..4, 1u32..6).prop_map(|(per_node, in_flight)| RebalanceConfig {
        max_moves_per_node: NonZeroU32::new(per_node).unwrap(),
        max_moves_in_flight: NonZeroU32::new(in_flight).unwrap(),
        capacity_bytes: BTreeMap::new(),
    })
}

/// Applies the plan wave by wave, checking each move leaves from where the shard is.
fn apply(plan: &Plan, current: &BTreeMap<ShardId, NodeId>) -> BTreeMap<ShardId, NodeId> {
    let mut assignment = current.clone();
    for wave in plan.waves() {
        assert!(!wave.is_empty(), "an empty wave");
        for m in wave {
            assert_eq!(assignment.get(&m.shard), Some(&m.from), "{m:?}");
            assert_ne!(m.from, m.to);
            assignment.insert(m.shard, m.to.clone());
        }
    }
    assignment
}

fn counts(assignment: &BTreeMap<ShardId, NodeId>) -> BTreeMap<NodeId, usize> {
    let mut counts = BTreeMap::new();
    for node in assignment.values() {
        *counts.entry(node.clone()).or_default() += 1;
    }
    counts
}

fn bytes(
    assignment: &BTreeMap<ShardId, NodeId>,
    sizes: &BTreeMap<ShardId, u64>,
) -> BTreeMap<NodeId, u64> {
    let mut held = BTreeMap::new();
    for (shard, node) in assignment {
        *held.entry(node.clone()).or_default() += sizes[shard];
    }
    held
}

fn skew(held: &BTreeMap<NodeId, u64>, nodes: &BTreeSet<NodeId>) -> f64 {
    let total: u64 = nodes
        .iter()
        .map(|n| held.get(n).copied().unwrap_or(0))
        .sum();
    if total == 0 {
        return 1.0;
    }
    let peak = nodes
        .iter()
        .map(|n| held.get(n).copied().unwrap_or(0))
        .max()
        .unwrap();
    peak as f64 / (total as f64 / nodes.len() as f64)
}

/// Every node's target count lies within one of its weighted share, rounded down or up.
fn assert_counts_follow_weights(
    target: &BTreeMap<ShardId, NodeId>,
    weights: &BTreeMap<NodeId, u32>,
) {
    let n = target.len() as u64;
    let total: u64 = weights.values().map(|&w| u64::from(w)).sum();
    let counts = counts(target);
    for (node, &count) in &counts {
        assert!(weights.contains_key(node), "{node} was drained");
        let _ = count;
    }
    for (node, &w) in weights {
        let share = n * u64::from(w);
        let count = counts.get(node).copied().unwrap_or(0) as u64;
        assert!(
            count >= share / total && count <= share.div_ceil(total),
            "{node}: {count} shards for a share of {share}/{total}"
        );
    }
}

proptest! {
    #[test]
    fn a_plan_applied_to_the_current_assignment_gives_the_target(
        c in cluster(6, 40),
        explicit in prop::collection::vec(0usize..8, 40),
        w in weights(8),
        max_skew in 1.0f64..3.0,
        config in config(),
    ) {
        let planner = Rebalancer::new(config);
        let target: BTreeMap<_, _> = c.current.keys().zip(&explicit).map(|(s, &n)| (*s, node(n))).collect();
        let plan = planner.plan(&c.current, &c.sizes, &Target::Assignment(target.clone())).unwrap();
        prop_assert_eq!(&apply(&plan, &c.current), &target);
        prop_assert_eq!(plan.target(), &target);

        let plan = planner.plan(&c.current, &c.sizes, &Target::Weights(w.clone())).unwrap();
        prop_assert_eq!(&apply(&plan, &c.current), plan.target());
        assert_counts_follow_weights(plan.target(), &w);

        let nodes: BTreeSet<_> = (0..6).map(node).collect();
        let plan = planner
            .plan(&c.current, &c.sizes, &Target::Skew { nodes, max_skew })
            .unwrap();
        prop_assert_eq!(&apply(&plan, &c.current), plan.target());
    }

    #[test]
    fn a_plan_moves_no_shard_that_needed_no_move(
        c in cluster(6, 40),
        explicit in prop::collection::vec(0usize..8, 40),
        w in weights(8),
        config in config(),
    ) {
        let planner = Rebalancer::new(config);
        let target: BTreeMap<_, _> = c.current.keys().zip(&explicit).map(|(s, &n)| (*s, node(n))).collect();
        let plan = planner.plan(&c.current, &c.sizes, &Target::Assignment(target.clone())).unwrap();
        let moved: BTreeSet<_> = plan.moves().map(|m| m.shard).collect();
        let needed: BTreeSet<_> = c.current.iter().filter(|(s, n)| target[*s] != **n).map(|(s, _)| *s).collect();
        prop_assert_eq!(moved, needed);
        prop_assert_eq!(plan.bytes_moved(), plan.moves().map(|m| c.sizes[&m.shard]).sum::<u64>());

        // From weights: a node gives shards or takes them, never both, and exactly the surplus
        // over its target count moves.
        let plan = planner.plan(&c.current, &c.sizes, &Target::Weights(w)).unwrap();
        let before = counts(&c.current);
        let after = counts(plan.target());
        let surplus: usize = before
            .iter()
            .map(|(n, &b)| b.saturating_sub(after.get(n).copied().unwrap_or(0)))
            .sum();
        prop_assert_eq!(plan.move_count(), surplus);
        let senders: BTreeSet<_> = plan.moves().map(|m| m.from.clone()).collect();
        let receivers: BTreeSet<_> = plan.moves().map(|m| m.to.clone()).collect();
        prop_assert!(senders.is_disjoint(&receivers));
    }

    #[test]
    fn waves_never_exceed_the_concurrency_limits(
        c in cluster(6, 40),
        explicit in prop::collection::vec(0usize..8, 40),
        config in config(),
    ) {
        let (per_node, in_flight) = (config.max_moves_per_node.get() as usize, config.max_moves_in_flight.get() as usize);
        let planner = Rebalancer::new(config);
        let target: BTreeMap<_, _> = c.current.keys().zip(&explicit).map(|(s, &n)| (*s, node(n))).collect();
        let plan = planner.plan(&c.current, &c.sizes, &Target::Assignment(target)).unwrap();
        for wave in plan.waves() {
            prop_assert!(!wave.is_empty() && wave.len() <= in_flight);
            let mut busy: BTreeMap<&NodeId, usize> = BTreeMap::new();
            for m in wave {
                *busy.entry(&m.from).or_default() += 1;
                *busy.entry(&m.to).or_default() += 1;
            }
            prop_assert!(busy.values().all(|&b| b <= per_node), "{busy:?}");
        }
    }

    #[test]
    fn capacity_is_never_exceeded_during_the_plan(
        c in cluster(5, 30),
        explicit in prop::collection::vec(0usize..6, 30),
        slack in prop::collection::vec(0u64..3_000, 6),
        config in config(),
    ) {
        let initial = bytes(&c.current, &c.sizes);
        let target: BTreeMap<_, _> = c.current.keys().zip(&explicit).map(|(s, &n)| (*s, node(n))).collect();
        // Capacities only for nodes the plan knows of; the others are refused as unknown.
        let known: BTreeSet<NodeId> = c.current.values().chain(target.values()).cloned().collect();
        let capacity: BTreeMap<NodeId, u64> = (0..6)
            .map(node)
            .filter(|n| known.contains(n))
            .enumerate()
            .map(|(i, n)| {
                let cap = initial.get(&n).copied().unwrap_or(0) + slack[i];
                (n, cap)
            })
            .collect();
        let config = RebalanceConfig { capacity_bytes: capacity.clone(), ..config };
        let planner = Rebalancer::new(config.clone());
        match planner.plan(&c.current, &c.sizes, &Target::Assignment(target.clone())) {
            Ok(plan) => {
                let mut held = initial.clone();
                for wave in plan.waves() {
                    // Conservatively: incoming bytes land at the start, outgoing leave at the end.
                    let mut peak = held.clone();
                    for m in wave {
                        *peak.entry(m.to.clone()).or_default() += m.bytes;
                    }
                    for (n, &b) in &peak {
                        prop_assert!(b <= capacity[n], "{n} holds {b} of {}", capacity[n]);
                    }
                    held = peak;
                    for m in wave {
                        *held.get_mut(&m.from).unwrap() -= m.bytes;
                    }
                }
                prop_assert_eq!(&apply(&plan, &c.current), &target);
            }
            Err(err) => prop_assert!(matches!(err, Error::CapacityExceeded { .. }), "{err}"),
        }
        // With room for everything anywhere, a plan always exists.
        let total: u64 = c.sizes.values().sum();
        let roomy = RebalanceConfig {
            capacity_bytes: known.iter().map(|n| (n.clone(), total)).collect(),
            ..config
        };
        prop_assert!(Rebalancer::new(roomy).plan(&c.current, &c.sizes, &Target::Assignment(target)).is_ok());
    }

    #[test]
    fn skew_rebalance_reaches_its_bound_when_possible(
        c in cluster(5, 40),
        extra_nodes in 0usize..3,
        unit in 1u64..100,
        max_skew in 1.0f64..3.0,
        config in config(),
    ) {
        let planner = Rebalancer::new(config);
        let nodes: BTreeSet<_> = (0..5 + extra_nodes).map(node).collect();

        // Equal sizes: the bound is reachable whenever it allows the best spread, ⌈n/m⌉ shards on
        // the fullest node.
        let equal: BTreeMap<_, _> = c.sizes.keys().map(|s| (*s, unit)).collect();
        let (n, m) = (c.current.len(), nodes.len());
        // Computed as the planner computes skew, peak ÷ (total ÷ nodes), so the floats agree.
        let best = if n == 0 {
            1.0
        } else {
            (n.div_ceil(m) as u64 * unit) as f64 / ((n as u64 * unit) as f64 / m as f64)
        };
        let bound = max_skew.max(best);
        let plan = planner.plan(&c.current, &equal, &Target::Skew { nodes: nodes.clone(), max_skew: bound }).unwrap();
        let report = plan.skew().unwrap();
        let after = skew(&bytes(plan.target(), &equal), &nodes);
        prop_assert!(report.reached && after <= bound, "{report:?}, bound {bound}");
        prop_assert_eq!(report.after, after);

        // Any sizes: it either reaches the bound or stops where no shard on the fullest node
        // would even out the fullest and the emptiest.
        let plan = planner.plan(&c.current, &c.sizes, &Target::Skew { nodes: nodes.clone(), max_skew }).unwrap();
        let report = plan.skew().unwrap();
        let held = bytes(plan.target(), &c.sizes);
        prop_assert_eq!(report.after, skew(&held, &nodes));
        prop_assert_eq!(report.before, skew(&bytes(&c.current, &c.sizes), &nodes));
        prop_assert!(report.after <= report.before);
        if report.reached {
            prop_assert!(report.after <= max_skew);
        } else {
            let load = |n: &NodeId| held.get(n).copied().unwrap_or(0);
            let peak = nodes.iter().map(load).max().unwrap();
            let least = nodes.iter().map(load).min().unwrap();
            for (shard, owner) in plan.target() {
                if load(owner) == peak {
                    let s = c.sizes[shard];
                    prop_assert!(s == 0 || least + s >= peak, "{shard} ({s}) could still move");
                }
            }
        }
    }

    #[test]
    fn hot_shards_are_exactly_those_above_k_times_the_mean(
        records in prop::collection::vec((0u32..12, 0u64..1_000, 0u64..100_000, 0u64..20_000), 0..60),
        hot_factor in 1.01f64..4.0,
        bytes_metric in any::<bool>(),
    ) {
        let start = Instant::now();
        let config = LoadConfig {
            window: SlidingWindowConfig { window: Duration::from_secs(30), buckets: 30 },
            hot_factor,
            metric: if bytes_metric { LoadMetric::Bytes } else { LoadMetric::Ops },
        };
        let mut tracker = LoadTracker::new(config).unwrap();
        let mut sums: BTreeMap<ShardId, (u64, u64)> = BTreeMap::new();
        for &(shard, ops, bytes, millis) in &records {
            // Times within the window's first 20 s, so every record is still in it at 25 s.
            prop_assert!(tracker.record(ShardId(shard), ops, bytes, start + Duration::from_millis(millis)));
            let sum = sums.entry(ShardId(shard)).or_default();
            sum.0 += ops;
            sum.1 += bytes;
            tracker.check_invariants();
        }
        let now = start + Duration::from_secs(25);
        let loads: BTreeMap<ShardId, f64> = sums
            .iter()
            .map(|(s, &(ops, bytes))| (*s, if bytes_metric { bytes } else { ops } as f64 / 30.0))
            .collect();
        let snapshot = tracker.snapshot(now);
        prop_assert_eq!(snapshot.len(), loads.len());
        let spots = tracker.hot_spots(now);
        let mean = if loads.is_empty() { 0.0 } else { loads.values().sum::<f64>() / loads.len() as f64 };
        prop_assert!((spots.mean - mean).abs() <= 1e-9 * mean.max(1.0));
        let hot: BTreeSet<_> = spots.hot.iter().map(|h| h.shard).collect();
        let cold: BTreeSet<_> = spots.cold.iter().map(|h| h.shard).collect();
        for (shard, &load) in &loads {
            prop_assert_eq!(snapshot[shard].get(config.metric), load);
            prop_assert_eq!(hot.contains(shard), mean > 0.0 && load > hot_factor * spots.mean, "{} at {}", shard, load);
            prop_assert_eq!(cold.contains(shard), mean > 0.0 && load < spots.mean / hot_factor, "{} at {}", shard, load);
        }
        // Hottest first, coldest first, and the ratio is to the mean.
        prop_assert!(spots.hot.windows(2).all(|w| w[0].load > w[1].load || (w[0].load == w[1].load && w[0].shard < w[1].shard)));
        prop_assert!(spots.cold.windows(2).all(|w| w[0].load < w[1].load || (w[0].load == w[1].load && w[0].shard < w[1].shard)));
        for h in spots.hot.iter().chain(&spots.cold) {
            prop_assert_eq!(h.ratio_to_mean, h.load / spots.mean);
        }
    }
}
