//! Nanoseconds per pick for every ha-balance picker, over 10 and 1000 endpoints.
//!
//! Run: `cargo bench --bench balance_pick`. Each group is one picker (`pick/smooth_wrr`), with
//! one entry a set size (`ha-balance/10`, `ha-balance/1000`). A pick includes turning the chosen
//! index into an endpoint id (a reference-count increment, and its drop). Endpoints have weights
//! 1–3 and, for the pickers that read load, a spread of in-flight requests and latencies. No peer
//! crate is benched beside them: tower's balancers pick inside a `Service` over live inner
//! services and cannot be timed on a pick alone.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use ha::balance::{
    Balancer, ConsistentHash, Endpoint, EndpointSet, LeastConnections, MaglevHash, P2cLeastLoaded,
    P2cPeakEwma, Picker, Random, RequestOutcome, RoundRobin, SmoothWeightedRoundRobin,
    WeightedRandom,
};
use ha::core::NodeId;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const SIZES: [usize; 2] = [10, 1000];

fn balancer<P: Picker>(count: usize, picker: P) -> Balancer<P> {
    let endpoints = (0..count)
        .map(|i| {
            Endpoint::new(NodeId::new(format!("endpoint-{i}")).unwrap())
                .with_weight(1 + (i as u32 % 3))
        })
        .collect();
    let mut lb = Balancer::new(
        EndpointSet::new(endpoints, Default::default()).unwrap(),
        picker,
    );
    // Load: about half the endpoints with a few requests in flight, every one with a latency.
    let now = Instant::now();
    let mut rng = SmallRng::seed_from_u64(1);
    let ids: Vec<String> = lb.endpoints().ids().map(ToString::to_string).collect();
    for id in &ids {
        lb.on_start(id, now).unwrap();
        let latency = Duration::from_micros(rng.random_range(1_000..50_000));
        lb.on_complete(id, latency, RequestOutcome::Success, now)
            .unwrap();
        for _ in 0..rng.random_range(0..4) {
            lb.on_start(id, now).unwrap();
        }
    }
    lb
}

fn bench_picker<P: Picker>(c: &mut Criterion, name: &str, make: impl Fn() -> P, keyed: bool) {
    let keys: Vec<Vec<u8>> = (0..4096)
        .map(|i| format!("user:{i}").into_bytes())
        .collect();
    let mut group = c.benchmark_group(format!("pick/{name}"));
    for size in SIZES {
        let mut lb = balancer(size, make());
        let mut rng = SmallRng::seed_from_u64(7);
        let now = Instant::now() + Duration::from_secs(1);
        let mut k = 0usize;
        group.bench_function(BenchmarkId::new("ha-balance", size), |b| {
            b.iter(|| {
                let picked = if keyed {
                    k = (k + 1) & 4095;
                    lb.pick_key(black_box(&keys[k]), now, &mut rng)
                } else {
                    lb.pick(now, &mut rng)
                };
                black_box(picked.unwrap())
            });
        });
    }
    group.finish();
}

fn pick(c: &mut Criterion) {
    bench_picker(c, "round_robin", RoundRobin::default, false);
    bench_picker(c, "smooth_wrr", SmoothWeightedRoundRobin::default, false);
    bench_picker(c, "random", || Random, false);
    bench_picker(c, "weighted_random", WeightedRandom::default, false);
    bench_picker(c, "least_connections", LeastConnections::default, false);
    bench_picker(c, "p2c_least_loaded", || P2cLeastLoaded, false);
    bench_picker(
        c,
        "p2c_peak_ewma",
        || P2cPeakEwma::new(Default::default()).unwrap(),
        false,
    );
    bench_picker(
        c,
        "consistent_hash",
        || ConsistentHash::new(Default::default()).unwrap(),
        true,
    );
    bench_picker(
        c,
        "maglev",
        || MaglevHash::new(Default::default()).unwrap(),
        true,
    );
}

criterion_group!(benches, pick);
criterion_main!(benches);
