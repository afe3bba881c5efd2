//! Placement lookups — a string key to its owning node — beside the crates.io peers doing the
//! same job, for 10, 100 and 1000 nodes.
//!
//! Run: `cargo bench --bench shard_lookup`. Each group holds ha-shard and its peer at one size
//! (`jump/ha-shard/100` beside `jump/jumphash/100`), so criterion's report shows the ratio.
//! MementoHash has no Rust peer (none offers arbitrary removal), so its group holds jumphash, the
//! speed it aims for; the ketama ring sits in the ring group beside hashring; bounded loads have
//! no peer; Redis key slots are measured beside redis-protocol's `redis_keyslot`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use ha::core::{Node, NodeId};
use ha::shard::{
    BoundedLoads, BoundedLoadsConfig, HashRing, JumpHash, KetamaName, Maglev, MaglevConfig,
    Memento, Placement, Rendezvous, RingConfig, SlotTable, key_slot,
};
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
/// node as the figures assume. ha-shard's native ring (1500 points a node) and its ketama
/// ring (160 MD5 points a node, as twemproxy builds it; a key costs an MD5) run beside it.
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
        let ketama = HashRing::ketama(nodes(size), KetamaName::Id).unwrap();
        group.bench_with_input(BenchmarkId::new("ha-shard-ketama", size), &size, |b, _| {
            b.iter(|| {
                i = (i + 1) & 4095;
                ketama.locate(black_box(keys[i].as_bytes())).weight
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

/// MementoHash fresh (plain jump hash), and after a tenth of its nodes left from the middle
/// (every removed bucket a memento entry the lookup may follow), beside jumphash.
fn memento(c: &mut Criterion) {
    let keys = keys();
    let mut group = c.benchmark_group("memento");
    for size in SIZES {
        let fresh = Memento::new(nodes(size)).unwrap();
        let mut removed = fresh.clone();
        for i in (0..size).step_by(10) {
            removed = removed
                .remove(&NodeId::new(format!("node-{i}")).unwrap())
                .unwrap();
        }
        let mut i = 0;
        group.bench_with_input(BenchmarkId::new("ha-shard", size), &size, |b, _| {
            b.iter(|| {
                i = (i + 1) & 4095;
                fresh.locate(black_box(keys[i].as_bytes())).weight
            })
        });
        group.bench_with_input(
            BenchmarkId::new("ha-shard-10pct-removed", size),
            &size,
            |b, _| {
                b.iter(|| {
                    i = (i + 1) & 4095;
                    removed.locate(black_box(keys[i].as_bytes())).weight
                })
            },
        );
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

/// Consistent hashing with bounded loads (c = 1.25) over the default ring, holding 8 live keys a
/// node: one iteration assigns a fresh key and releases the oldest, so the load stays put.
/// No Rust peer offers bounded loads.
fn bounded_loads(c: &mut Criterion) {
    let mut group = c.benchmark_group("bounded_loads");
    for size in SIZES {
        let ring = HashRing::new(nodes(size), RingConfig::default()).unwrap();
        let mut loads = BoundedLoads::new(ring, BoundedLoadsConfig::default()).unwrap();
        let live = 8 * size as u64;
        let hash = |k: u64| ha::shard::key_hash(&k.to_le_bytes());
        for k in 0..live {
            loads.assign(hash(k));
        }
        let mut next = live;
        group.bench_with_input(
            BenchmarkId::new("ha-shard-assign-release", size),
            &size,
            |b, _| {
                b.iter(|| {
                    let node = loads.assign(black_box(hash(next)));
                    let moved = loads.release(hash(next - live)).len();
                    next += 1;
                    node + moved
                })
            },
        );
    }
    group.finish();
}

/// Redis Cluster's `CLUSTER KEYSLOT` beside redis-protocol's `redis_keyslot`, on plain keys and on
/// keys with a `{hash tag}`.
fn key_slots(c: &mut Criterion) {
    let plain = keys();
    let tagged: Vec<String> = (0..4096).map(|i| format!("{{user:{i}}}:cart")).collect();
    let mut group = c.benchmark_group("key_slot");
    for (name, keys) in [("plain", &plain), ("tagged", &tagged)] {
        let mut i = 0;
        group.bench_function(BenchmarkId::new("ha-shard", name), |b| {
            b.iter(|| {
                i = (i + 1) & 4095;
                key_slot(black_box(keys[i].as_bytes()))
            })
        });
        group.bench_function(BenchmarkId::new("redis-protocol", name), |b| {
            b.iter(|| {
                i = (i + 1) & 4095;
                redis_protocol::redis_keyslot(black_box(keys[i].as_bytes()))
            })
        });
    }
    group.finish();
}

/// A key's owner in a slot table split evenly over the nodes: its slot, then the table.
fn slot_tables(c: &mut Criterion) {
    let keys = keys();
    let mut group = c.benchmark_group("slots");
    for size in SIZES {
        let table = SlotTable::split_evenly(nodes(size).into_iter().map(|n| n.id)).unwrap();
        let mut i = 0;
        group.bench_with_input(BenchmarkId::new("ha-shard", size), &size, |b, _| {
            b.iter(|| {
                i = (i + 1) & 4095;
                table
                    .owner_of_key(black_box(keys[i].as_bytes()))
                    .as_str()
                    .len()
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

criterion_group!(
    benches,
    jump,
    rendezvous,
    maglev_tables,
    rings,
    replicas,
    memento,
    bounded_loads,
    key_slots,
    slot_tables
);
criterion_main!(benches);
