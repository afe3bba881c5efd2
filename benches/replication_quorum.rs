//! Quorum decisions and version-vector work on the hot path of every replicated read and write:
//! a write coordinator fed a majority of acknowledgements; a read coordinator fed a majority of
//! copies, reconciled, with its read repairs listed (one replica is stale) — for last-writer-wins
//! values (the coordinator's own cost) and for dotted version vector sets; a digest read of
//! dotted version vector sets whose digests agree (the data copy, digests of the others hashed
//! in the measurement); N = 3 and 5.
//! Version-vector compare and merge with 10 actors.
//!
//! Run: `cargo bench --bench replication_quorum`. Target: each well under 1 µs.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use ha::core::NodeId;
use ha::replication::{
    DigestRead, DvvSet, HlcTimestamp, Progress, ReadCoordinator, ReplicaSet, Requirement, Stamped,
    VersionDigest, VersionVector, WriteCoordinator,
};

fn ids(n: usize) -> Vec<NodeId> {
    (0..n)
        .map(|i| NodeId::new(format!("replica-{i}")).unwrap())
        .collect()
}

fn quorum(c: &mut Criterion) {
    let deadline = Instant::now() + Duration::from_secs(1);
    let mut group = c.benchmark_group("quorum");
    for n in [3usize, 5] {
        let nodes = ids(n);
        let set = ReplicaSet::single_datacenter(nodes.clone()).unwrap();
        let majority = Requirement::majority(n).unwrap();
        group.bench_with_input(BenchmarkId::new("write-decision", n), &n, |b, _| {
            b.iter(|| {
                let mut write =
                    WriteCoordinator::new(set.clone(), black_box(&majority), deadline).unwrap();
                let mut progress = Progress::NeedMore;
                for node in &nodes {
                    progress = write.on_ack(black_box(node)).unwrap();
                    if progress.is_done() {
                        break;
                    }
                }
                progress
            })
        });
        // Copies as replicas hold them: one stale, the rest current.
        let mut old = DvvSet::new();
        old.write(&nodes[0], &VersionVector::new(), 1u64).unwrap();
        let mut new = old.clone();
        let context = new.context().clone();
        new.write(&nodes[1], &context, 2).unwrap();
        // Last-writer-wins copies: the coordinator's own cost, with a value that is cheap to
        // reconcile and clone.
        let stamp = |n| HlcTimestamp {
            wall_nanos: n,
            logical: 0,
        };
        let lww: Vec<Stamped<u64>> = (0..n)
            .map(|i| Stamped::new(7, stamp(if i == 0 { 1 } else { 2 }), nodes[0].clone()))
            .collect();
        group.bench_with_input(BenchmarkId::new("read-decision-lww", n), &n, |b, _| {
            b.iter_batched(
                || lww.clone(),
                |copies| {
                    let mut read: ReadCoordinator<Stamped<u64>> =
                        ReadCoordinator::new(set.clone(), black_box(&majority), deadline).unwrap();
                    let mut progress = Progress::NeedMore;
                    for (node, copy) in nodes.iter().zip(copies) {
                        progress = read.on_value(node, Some(copy)).unwrap();
                        if progress.is_done() {
                            break;
                        }
                    }
                    (progress, read.repairs().len())
                },
                BatchSize::SmallInput,
            )
        });
        // The copies arrive as owned values (cloned outside the measurement).
        let copies: Vec<DvvSet<u64>> = (0..n)
            .map(|i| if i == 0 { old.clone() } else { new.clone() })
            .collect();
        group.bench_with_input(BenchmarkId::new("read-decision-dvv", n), &n, |b, _| {
            b.iter_batched(
                || copies.clone(),
                |copies| {
                    let mut read: ReadCoordinator<DvvSet<u64>> =
                        ReadCoordinator::new(set.clone(), black_box(&majority), deadline).unwrap();
                    let mut progress = Progress::NeedMore;
                    for (node, copy) in nodes.iter().zip(copies) {
                        progress = read.on_value(node, Some(copy)).unwrap();
                        if progress.is_done() {
                            break;
                        }
                    }
                    (progress, read.repairs().len())
                },
                BatchSize::SmallInput,
            )
        });
        // Digest read, digests agreeing: the data replica's copy and the others' digests.
        group.bench_with_input(BenchmarkId::new("digest-read-dvv", n), &n, |b, _| {
            b.iter_batched(
                || new.clone(),
                |copy| {
                    let mut read: DigestRead<DvvSet<u64>> =
                        DigestRead::new(set.clone(), black_box(&majority), &nodes[0], deadline)
                            .unwrap();
                    while read.poll_transmit().is_some() {}
                    let digest = black_box(&copy).version_digest();
                    let mut progress = read.on_data(&nodes[0], Some(copy)).unwrap();
                    for node in &nodes[1..] {
                        if progress.is_done() {
                            break;
                        }
                        progress = read.on_digest(node, Some(black_box(digest))).unwrap();
                    }
                    progress
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

fn version_vector(c: &mut Criterion) {
    let actors = ids(10);
    let a = VersionVector::from_entries(actors.iter().cloned().zip(1..));
    let mut b = a.clone();
    b.increment(&actors[3]).unwrap();
    let mut concurrent = a.clone();
    concurrent.increment(&actors[7]).unwrap();
    let mut group = c.benchmark_group("version-vector");
    group.bench_function("compare/10-actors/before", |bench| {
        bench.iter(|| black_box(&a).compare(black_box(&b)))
    });
    group.bench_function("compare/10-actors/concurrent", |bench| {
        bench.iter(|| black_box(&b).compare(black_box(&concurrent)))
    });
    group.bench_function("merge/10-actors", |bench| {
        let mut target = b.clone();
        bench.iter(|| {
            target.merge(black_box(&concurrent));
            target.len()
        })
    });
    group.bench_function("clone+merge/10-actors", |bench| {
        bench.iter(|| {
            let mut m = black_box(&b).clone();
            m.merge(black_box(&concurrent));
            m
        })
    });
    group.finish();
}

criterion_group!(benches, quorum, version_vector);
criterion_main!(benches);
