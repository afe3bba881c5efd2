//! Placement lookups — a string key to its owning node — beside the crates.io peers doing the
//! same job, for 10, 100 and 1000 nodes.
//!
//! Run: `cargo bench --bench shard_lookup`. Each group holds ha-shard and its peer at one size
//! (`jump/ha-shard/100` beside `jump/jumphash/100`), so criterion's report shows the ratio.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use ha::core::{Node, NodeId};
use ha::shard::{HashRing, JumpHash, Maglev, MaglevConfig, Placement, Rendezvous, RingConfig};
use jumphash::JumpHasher;
use maglev::ConsistentHasher;
use rendezvous_hash::RendezvousNodes;

const SIZES: [usize; 3] = [10, 100, 1000];

fn keys() -> Vec<String> {
    (0..4096).map(|i| format!("user:{i}")).collect()
}

fn nodes(count: usize) -> Vec<Node> {
    (0..count)
        .map(|i| Node::new(NodeId::new(format!("node-{i}")).unwrap(), ""))
        .collect()
}

fn jump(c: &mut Criterion) {
    let keys = keys();
    let mut group = c.benchmark_group("jump");
    for size in SIZES {
        let ours = JumpHash::new(nodes(size)).unwrap();
        let mut i = 0;
        group.bench_with_input(BenchmarkId::new("ha-shard", size), &size, |b, _| {
            b.iter(|| {
                i = (i + 1) & 4095;
                ours.locate(black_box(keys[i].as_bytes())).weight
            })
        });
        let peer = JumpHasher::new();
        group.bench_with_input(BenchmarkId::new("jumphash", size), &size, |b, &n| {
            b.iter(|| {
                i = (i + 1) & 4095;
                peer.slot(black_box(&keys[i].as_str()), n as u32)
            })
        });
    }
    group.finish();
}

fn rendezvous(c: &mut Criterion) {
    let keys = keys();
    let mut group = c.benchmark_group("rendezvous");
    for size in SIZES {
        let ours = Rendezvous::new(nodes(size)).unwrap();
        let mut i = 0;
        group.bench_with_input(BenchmarkId::new("ha-shard", size), &size, |b, _| {
            b.iter(|| {
                i = (i + 1) & 4095;
                ours.locate(black_box(keys[i].as_bytes())).weight
            })
        });
        let names: Vec<String> = (0..size).map(|n| format!("node-{n}")).collect();
        let mut peer = RendezvousNodes::default();
        for name in &names {
            peer.insert(name.as_str());
        }
        group.bench_with_input(BenchmarkId::new("rendezvous_hash", size), &size, |b, _| {
            b.iter(|| {
                i = (i + 1) & 4095;
                peer.calc_candidates(black_box(&keys[i].as_str()))
                    .next()
                    .map(|name| name.len())
            })
        });
    }
    group.finish();
}

fn maglev_tables(c: &mut Criterion) {
    let keys = keys();
    let mut group = c.benchmark_group("maglev");
    for size in SIZES {
        let ours = Maglev::new(nodes(size), MaglevConfig::default()).unwrap();
        let mut i = 0;
        group.bench_with_input(BenchmarkId::new("ha-shard", size), &size, |b, _| {
            b.iter(|| {
                i = (i + 1) & 4095;
                ours.locate(black_box(keys[i].as_bytes())).weight
            })
        });
        let names: Vec<String> = (0..size).map(|n| format!("node-{n}")).collect();
        let peer = maglev::Maglev::new(names);
        group.bench_with_input(BenchmarkId::new("maglev", size), &size, |b, _| {
            b.iter(|| {
                i = (i + 1) & 4095;
                peer.get(black_box(keys[i].as_str())).map(String::len)
            })
        });
    }
    group.finish();
}

/// hashring has no virtual nodes of its own; its docs build them as `(node, i)` items, here 160 a
/// node as the figures assume.
fn rings(c: &mut Criterion) {
    let keys = keys();
    let mut group = c.benchmark_group("ring");
    for size in SIZES {
        let ours = HashRing::new(nodes(size), RingConfig::default()).unwrap();
        let mut i = 0;
        group.bench_with_input(BenchmarkId::new("ha-shard", size), &size, |b, _| {
            b.iter(|| {
                i = (i + 1) & 4095;
                ours.locate(black_box(keys[i].as_bytes())).weight
            })
        });
        let mut peer = hashring::HashRing::new();
        for node in 0..size {
            for vnode in 0..160usize {
                peer.add((node, vnode));
            }
        }
        group.bench_with_input(BenchmarkId::new("hashring", size), &size, |b, _| {
            b.iter(|| {
                i = (i + 1) & 4095;
                peer.get(black_box(&keys[i].as_str()))
                    .map(|&(node, _)| node)
            })
        });
    }
    group.finish();
}

/// Three replicas of a key on the ring, beside hashring's `get_with_replicas` (no zones on either
/// side, so ha-shard fills the three in preference order).
fn replicas(c: &mut Criterion) {
    let keys = keys();
    let mut group = c.benchmark_group("replicas_3");
    for size in SIZES {
        let ours = HashRing::new(nodes(size), RingConfig::default()).unwrap();
        let mut i = 0;
        group.bench_with_input(BenchmarkId::new("ha-shard", size), &size, |b, _| {
            b.iter(|| {
                i = (i + 1) & 4095;
                ours.locate_n(black_box(keys[i].as_bytes()), 3)
                    .unwrap()
                    .len()
            })
        });
        let mut peer = hashring::HashRing::new();
        for node in 0..size {
            for vnode in 0..160usize {
                peer.add((node, vnode));
            }
        }
        group.bench_with_input(BenchmarkId::new("hashring", size), &size, |b, _| {
            b.iter(|| {
                i = (i + 1) & 4095;
                peer.get_with_replicas(black_box(&keys[i].as_str()), 3)
                    .map(|r| r.len())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, jump, rendezvous, maglev_tables, rings, replicas);
criterion_main!(benches);
