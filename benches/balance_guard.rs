//! Request guards — GCRA rate limits (direct and keyed, on 1 and 2 threads) beside governor,
//! and the circuit breaker's acquire + record.
//!
//! Run: `cargo bench --bench balance_guard`. Each group holds ha-balance and governor side by
//! side (`gcra_direct/ha-balance/1` beside `gcra_direct/governor/1`), both reading the same
//! time source: the OS monotonic clock through `std::time::Instant` (ha-balance is handed
//! `Instant::now()`, governor runs on its `MonotonicClock`, which reads `Instant::now()` too).
//! `governor-quanta` is governor on its default clock (quanta's TSC reads), for reference. The
//! rate is 10⁹ a second with a burst of 1000, so every check is admitted and takes the
//! compare-and-swap path. On 2 threads the figure is the wall time for each thread to make one
//! check, both threads at once on one limiter (the same 1024 keys for the keyed groups).
//!
//! `gcra_fake_clock` takes the OS clock out: governor reads its `FakeRelativeClock` (an atomic
//! count of nanoseconds), ha-balance the same count turned into an `Instant`, each advanced
//! 1 µs a check at 10⁶ a second, so the figures are the limiters' own work (ha-balance's
//! including its `Instant` arithmetic).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use governor::clock::{FakeRelativeClock, MonotonicClock};
use governor::{Quota, RateLimiter as Governor};
use ha::balance::{
    CallOutcome, CircuitBreaker, CircuitBreakerConfig, KeyedLimiterConfig, KeyedRateLimiter,
    RateLimitConfig, RateLimiter,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

const KEYS: u64 = 1024;
const RATE: u32 = 1_000_000_000;

fn config() -> RateLimitConfig {
    RateLimitConfig {
        requests_per_second: f64::from(RATE),
        burst: 1000,
    }
}

fn quota() -> Quota {
    Quota::per_second(NonZeroU32::new(RATE).unwrap()).allow_burst(NonZeroU32::new(1000).unwrap())
}

/// Runs `op(i)` `iters` times on each of `threads` threads at once; the wall time.
fn run<F: Fn(u64) + Sync>(threads: usize, iters: u64, op: F) -> Duration {
    if threads == 1 {
        let start = Instant::now();
        for i in 0..iters {
            op(i.wrapping_mul(7));
        }
        return start.elapsed();
    }
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let op = &op;
            s.spawn(move || {
                for i in 0..iters {
                    op(i.wrapping_mul(7).wrapping_add(t as u64 * 511));
                }
            });
        }
    });
    start.elapsed()
}

fn gcra_direct(c: &mut Criterion) {
    let mut group = c.benchmark_group("gcra_direct");
    for threads in [1usize, 2] {
        let ours = RateLimiter::new(config(), Instant::now()).unwrap();
        group.bench_with_input(
            BenchmarkId::new("ha-balance", threads),
            &threads,
            |b, &n| {
                b.iter_custom(|iters| {
                    run(n, iters, |_| {
                        black_box(ours.check(Instant::now()).is_admitted());
                    })
                })
            },
        );
        let peer = Governor::direct_with_clock(quota(), MonotonicClock);
        group.bench_with_input(BenchmarkId::new("governor", threads), &threads, |b, &n| {
            b.iter_custom(|iters| {
                run(n, iters, |_| {
                    black_box(peer.check().is_ok());
                })
            })
        });
        let quanta = Governor::direct(quota());
        group.bench_with_input(
            BenchmarkId::new("governor-quanta", threads),
            &threads,
            |b, &n| {
                b.iter_custom(|iters| {
                    run(n, iters, |_| {
                        black_box(quanta.check().is_ok());
                    })
                })
            },
        );
    }
    group.finish();
}

fn gcra_keyed(c: &mut Criterion) {
    let mut group = c.benchmark_group("gcra_keyed");
    for threads in [1usize, 2] {
        let ours = KeyedRateLimiter::new(
            KeyedLimiterConfig {
                limit: config(),
                ..KeyedLimiterConfig::default()
            },
            Instant::now(),
        )
        .unwrap();
        group.bench_with_input(
            BenchmarkId::new("ha-balance", threads),
            &threads,
            |b, &n| {
                b.iter_custom(|iters| {
                    run(n, iters, |i| {
                        black_box(ours.check(&(i % KEYS), Instant::now()).is_admitted());
                    })
                })
            },
        );
        let peer = Governor::dashmap_with_clock(quota(), MonotonicClock);
        group.bench_with_input(BenchmarkId::new("governor", threads), &threads, |b, &n| {
            b.iter_custom(|iters| {
                run(n, iters, |i| {
                    black_box(peer.check_key(&(i % KEYS)).is_ok());
                })
            })
        });
        let quanta = Governor::dashmap(quota());
        group.bench_with_input(
            BenchmarkId::new("governor-quanta", threads),
            &threads,
            |b, &n| {
                b.iter_custom(|iters| {
                    run(n, iters, |i| {
                        black_box(quanta.check_key(&(i % KEYS)).is_ok());
                    })
                })
            },
        );
    }
    group.finish();
}

/// governor's `FakeRelativeClock`, giving `Instant`s: the same atomic count of nanoseconds,
/// advanced the same way.
#[derive(Debug, Clone)]
struct FakeClock {
    origin: Instant,
    nanos: Arc<AtomicU64>,
}

impl FakeClock {
    fn new() -> FakeClock {
        FakeClock {
            origin: Instant::now(),
            nanos: Arc::new(AtomicU64::new(0)),
        }
    }

    fn advance(&self, by: Duration) {
        let by = by.as_nanos() as u64;
        let mut prev = self.nanos.load(Ordering::Acquire);
        while let Err(actual) =
            self.nanos
                .compare_exchange_weak(prev, prev + by, Ordering::Release, Ordering::Relaxed)
        {
            prev = actual;
        }
    }

    fn now(&self) -> Instant {
        self.origin + Duration::from_nanos(self.nanos.load(Ordering::Acquire))
    }
}

fn gcra_fake_clock(c: &mut Criterion) {
    const STEP: Duration = Duration::from_micros(1);
    let config = RateLimitConfig {
        requests_per_second: 1e6,
        burst: 1000,
    };
    let quota = Quota::per_second(NonZeroU32::new(1_000_000).unwrap())
        .allow_burst(NonZeroU32::new(1000).unwrap());
    let mut group = c.benchmark_group("gcra_fake_clock");
    let clock = FakeClock::new();
    let ours = RateLimiter::new(config, clock.now()).unwrap();
    group.bench_function("direct/ha-balance", |b| {
        b.iter(|| {
            clock.advance(STEP);
            black_box(ours.check(clock.now()).is_admitted())
        })
    });
    let fake = FakeRelativeClock::default();
    let peer = Governor::direct_with_clock(quota, fake.clone());
    group.bench_function("direct/governor", |b| {
        b.iter(|| {
            fake.advance(STEP);
            black_box(peer.check().is_ok())
        })
    });
    let keyed = KeyedRateLimiter::new(
        KeyedLimiterConfig {
            limit: config,
            ..KeyedLimiterConfig::default()
        },
        clock.now(),
    )
    .unwrap();
    let mut i = 0u64;
    group.bench_function("keyed/ha-balance", |b| {
        b.iter(|| {
            i = (i + 7) % KEYS;
            clock.advance(STEP);
            black_box(keyed.check(&i, clock.now()).is_admitted())
        })
    });
    let peer = Governor::dashmap_with_clock(quota, fake.clone());
    group.bench_function("keyed/governor", |b| {
        b.iter(|| {
            i = (i + 7) % KEYS;
            fake.advance(STEP);
            black_box(peer.check_key(&i).is_ok())
        })
    });
    group.finish();
}

fn breaker(c: &mut Criterion) {
    let mut group = c.benchmark_group("breaker");
    let mut breaker = CircuitBreaker::new(CircuitBreakerConfig::default()).unwrap();
    let mut now = Instant::now();
    let mut i = 0u32;
    group.bench_function("acquire_record/ha-balance", |b| {
        b.iter(|| {
            now += Duration::from_micros(1);
            i = i.wrapping_add(1);
            // One failure in eight: below the 50% threshold, so the breaker stays closed.
            let outcome = if i % 8 == 0 {
                CallOutcome::Failure
            } else {
                CallOutcome::Success
            };
            if let Ok(permit) = breaker.try_acquire(now) {
                black_box(breaker.record(permit, outcome, Duration::from_millis(3), now));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, gcra_direct, gcra_keyed, gcra_fake_clock, breaker);
criterion_main!(benches);
