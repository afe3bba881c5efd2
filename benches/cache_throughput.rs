//! In-process cache throughput — get hit, get miss, insert, and a 90/10 read/write mix over
//! Zipf(0.9) keys on 1 and 2 threads — for ha-cache beside moka (sync), quick_cache and
//! mini-moka, in the same groups (`mix/ha-cache/2` beside `mix/quick_cache/2`).
//!
//! Run: `cargo bench --bench cache_throughput`. Capacity 10,000 entries over 100,000 keys of
//! `u64 → u64`; the multi-thread rows report wall time per operation with the operations split
//! between the threads.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Zipf};

const CAPACITY: u64 = 10_000;
const KEY_SPACE: u64 = 100_000;
const TRACE: usize = 1 << 16;

trait Subject: Send + Sync {
    fn get(&self, key: u64) -> Option<u64>;
    fn insert(&self, key: u64, value: u64);
}

struct Ha(ha::cache::Cache<u64, u64>);
impl Subject for Ha {
    fn get(&self, key: u64) -> Option<u64> {
        self.0.get(&key)
    }
    fn insert(&self, key: u64, value: u64) {
        self.0.insert(key, value)
    }
}

struct Moka(moka::sync::Cache<u64, u64>);
impl Subject for Moka {
    fn get(&self, key: u64) -> Option<u64> {
        self.0.get(&key)
    }
    fn insert(&self, key: u64, value: u64) {
        self.0.insert(key, value)
    }
}

struct Quick(quick_cache::sync::Cache<u64, u64>);
impl Subject for Quick {
    fn get(&self, key: u64) -> Option<u64> {
        self.0.get(&key)
    }
    fn insert(&self, key: u64, value: u64) {
        self.0.insert(key, value)
    }
}

struct MiniMoka(mini_moka::sync::Cache<u64, u64>);
impl Subject for MiniMoka {
    fn get(&self, key: u64) -> Option<u64> {
        self.0.get(&key)
    }
    fn insert(&self, key: u64, value: u64) {
        self.0.insert(key, value)
    }
}

fn subjects() -> Vec<(&'static str, Box<dyn Subject>)> {
    vec![
        (
            "ha-cache",
            Box::new(Ha(ha::cache::Cache::builder(CAPACITY).build().unwrap())),
        ),
        (
            "quick_cache",
            Box::new(Quick(quick_cache::sync::Cache::new(CAPACITY as usize))),
        ),
        ("moka", Box::new(Moka(moka::sync::Cache::new(CAPACITY)))),
        (
            "mini-moka",
            Box::new(MiniMoka(mini_moka::sync::Cache::new(CAPACITY))),
        ),
    ]
}

fn zipf_trace(seed: u64) -> Vec<u64> {
    let zipf = Zipf::new(KEY_SPACE as f64, 0.9).unwrap();
    let mut rng = SmallRng::seed_from_u64(seed);
    (0..TRACE).map(|_| zipf.sample(&mut rng) as u64).collect()
}

fn uniform_trace(seed: u64, range: std::ops::Range<u64>) -> Vec<u64> {
    let mut rng = SmallRng::seed_from_u64(seed);
    (0..TRACE)
        .map(|_| rng.random_range(range.clone()))
        .collect()
}

fn single_ops(c: &mut Criterion) {
    let present = uniform_trace(1, 0..CAPACITY / 2);
    let absent = uniform_trace(2, KEY_SPACE..2 * KEY_SPACE);
    let inserts = uniform_trace(3, 0..KEY_SPACE);
    for (name, subject) in subjects() {
        for key in 0..CAPACITY / 2 {
            subject.insert(key, key);
        }
        // Warm the policy so the present keys are established.
        for &key in &present {
            subject.get(key);
        }
        let mut group = c.benchmark_group("get_hit");
        group.throughput(Throughput::Elements(1));
        let mut i = 0;
        group.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) & (TRACE - 1);
                black_box(subject.get(black_box(present[i])))
            })
        });
        group.finish();
        let mut group = c.benchmark_group("get_miss");
        group.throughput(Throughput::Elements(1));
        group.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) & (TRACE - 1);
                black_box(subject.get(black_box(absent[i])))
            })
        });
        group.finish();
        let mut group = c.benchmark_group("insert");
        group.throughput(Throughput::Elements(1));
        group.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) & (TRACE - 1);
                subject.insert(black_box(inserts[i]), i as u64)
            })
        });
        group.finish();
    }
}

/// Runs `iters` mix operations split over `threads`, returning the wall time.
fn run_mix(subject: &dyn Subject, traces: &[Vec<u64>], iters: u64) -> Duration {
    let per_thread = iters / traces.len() as u64 + 1;
    let start = Instant::now();
    std::thread::scope(|scope| {
        for trace in traces {
            scope.spawn(move || {
                for n in 0..per_thread {
                    let key = trace[n as usize & (TRACE - 1)];
                    if n % 10 == 0 {
                        subject.insert(key, n);
                    } else {
                        black_box(subject.get(key));
                    }
                }
            });
        }
    });
    start.elapsed()
}

fn mix(c: &mut Criterion) {
    let mut group = c.benchmark_group("zipf_0.9_mix_90_10");
    group.throughput(Throughput::Elements(1));
    for threads in [1usize, 2] {
        let traces: Vec<Vec<u64>> = (0..threads as u64).map(|t| zipf_trace(10 + t)).collect();
        for (name, subject) in subjects() {
            // Warm up: fill the cache from the same distribution.
            run_mix(subject.as_ref(), &traces, 200_000);
            group.bench_with_input(BenchmarkId::new(name, threads), &threads, |b, _| {
                b.iter_custom(|iters| run_mix(subject.as_ref(), &traces, iters))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, single_ops, mix);
criterion_main!(benches);
