//! Replication health decisions: the φ of a monitored node, a lag-tracker update (one replica
//! report, three stages, against a ring of primary positions), a primary write sample, and a
//! failover choice among 5 replicas.
//!
//! Run: `cargo bench --bench replication_health`. Target: each well under 1 µs.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use ha::core::{Health, NodeId};
use ha::replication::{
    FailoverCandidate, FailoverPolicy, FailoverSelector, LagConfig, LagTracker, PerStage,
    PhiAccrualDetector, PhiConfig, Position,
};

fn phi(c: &mut Criterion) {
    let mut detector = PhiAccrualDetector::new(PhiConfig::default()).unwrap();
    let mut now = Instant::now();
    for i in 0..1000u64 {
        detector.heartbeat(now).unwrap();
        now += Duration::from_millis(1000 + (i * 37) % 200);
    }
    let mut group = c.benchmark_group("phi");
    let mut silence = 0u64;
    group.bench_function("ha-replication/phi", |b| {
        b.iter(|| {
            silence = (silence + 7) % 20_000;
            detector.phi(black_box(now + Duration::from_millis(silence)))
        })
    });
    group.bench_function("ha-replication/heartbeat", |b| {
        b.iter(|| {
            now += Duration::from_millis(1000);
            detector.heartbeat(black_box(now)).unwrap();
        })
    });
    group.finish();
}

fn lag(c: &mut Criterion) {
    let mut tracker = LagTracker::new(LagConfig::default()).unwrap();
    let replicas: Vec<NodeId> = (0..3)
        .map(|i| NodeId::new(format!("replica-{i}")).unwrap())
        .collect();
    for r in &replicas {
        tracker.add_replica(r.clone()).unwrap();
    }
    let mut now = Instant::now();
    let mut position = 1_000u64;
    let mut group = c.benchmark_group("lag");
    // One primary write and the three replicas' reports of it, 200 µs later: four updates.
    group.bench_function("ha-replication/write+3 reports", |b| {
        b.iter(|| {
            position += 8;
            tracker.on_primary_write(Position(position), now).unwrap();
            now += Duration::from_micros(200);
            for (i, r) in replicas.iter().enumerate() {
                let at = Position(position - 8 * i as u64);
                let reported = PerStage::new(at, at, Position(at.0.saturating_sub(8)));
                black_box(tracker.on_replica_report(r, reported, now).unwrap());
            }
        })
    });
    group.bench_function("ha-replication/report", |b| {
        b.iter(|| {
            position += 8;
            tracker.on_primary_write(Position(position), now).unwrap();
            now += Duration::from_micros(200);
            let at = Position(position);
            black_box(
                tracker
                    .on_replica_report(&replicas[0], PerStage::uniform(at), now)
                    .unwrap(),
            )
        })
    });
    group.finish();
}

fn failover(c: &mut Criterion) {
    let selector = FailoverSelector::new(FailoverPolicy {
        preferred_zones: vec!["z1".into()],
        ..FailoverPolicy::default()
    })
    .unwrap();
    let candidates: Vec<FailoverCandidate> = (0..5u64)
        .map(|i| {
            FailoverCandidate::new(NodeId::new(format!("r{i}")).unwrap(), Position(1000 - i))
                .with_health(if i == 2 {
                    Health::Unhealthy
                } else {
                    Health::Healthy
                })
                .with_zone(format!("z{}", i % 3))
                .with_lag(Duration::from_millis(10 * i))
        })
        .collect();
    c.bench_function("failover/ha-replication/choose-of-5", |b| {
        b.iter(|| {
            selector
                .choose(black_box(Position(1000)), black_box(&candidates))
                .unwrap()
        })
    });
}

criterion_group!(benches, phi, lag, failover);
criterion_main!(benches);
