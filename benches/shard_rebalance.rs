//! Rebalance planning at scale: 8192 shards over 100 nodes, for a join, a drain, a skew bound
//! and a spread from one node to all. No crates.io peer plans shard moves; the figures stand
//! alone.
//!
//! Run: `cargo bench --bench shard_rebalance`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::hint::black_box;
use std::num::NonZeroU32;

use criterion::{Criterion, criterion_group, criterion_main};
use ha::core::NodeId;
use ha::shard::{RebalanceConfig, Rebalancer, ShardId, Target};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const SHARDS: u32 = 8192;
const NODES: usize = 100;

fn node(i: usize) -> NodeId {
    NodeId::new(format!("node-{i}")).unwrap()
}

fn rebalance(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(7);
    let sizes: BTreeMap<ShardId, u64> = (0..SHARDS)
        .map(|s| (ShardId(s), rng.random_range(1..1_000_000)))
        .collect();
    let spread: BTreeMap<ShardId, NodeId> = (0..SHARDS)
        .map(|s| (ShardId(s), node(s as usize % NODES)))
        .collect();
    let piled: BTreeMap<ShardId, NodeId> = (0..SHARDS).map(|s| (ShardId(s), node(0))).collect();
    let weights =
        |nodes: usize| -> BTreeMap<NodeId, u32> { (0..nodes).map(|i| (node(i), 1)).collect() };
    let planner = Rebalancer::new(RebalanceConfig {
        max_moves_per_node: NonZeroU32::new(2).unwrap(),
        max_moves_in_flight: NonZeroU32::new(16).unwrap(),
        capacity_bytes: BTreeMap::new(),
    });
    let cases = [
        ("join", &spread, Target::Weights(weights(NODES + 1))),
        ("drain", &spread, Target::Weights(weights(NODES - 1))),
        ("spread_from_one", &piled, Target::Weights(weights(NODES))),
        (
            "skew_1.05",
            &spread,
            Target::Skew {
                nodes: (0..NODES).map(node).collect::<BTreeSet<_>>(),
                max_skew: 1.05,
            },
        ),
    ];
    let mut group = c.benchmark_group("rebalance_8192_shards_100_nodes");
    group.sample_size(10);
    for (name, current, target) in &cases {
        group.bench_function(*name, |b| {
            b.iter(|| {
                planner
                    .plan(current, &sizes, black_box(target))
                    .unwrap()
                    .move_count()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, rebalance);
criterion_main!(benches);
