//! ha-core's hot-path statistics, side by side with the peers that do the same job.
//!
//! Run: `cargo bench --bench core_stats`. Groups put ha beside its peers so criterion's report shows
//! the ratio: `sketch_record/ha-core` vs `sketch_record/sketches-ddsketch` (the crate ha-core wraps,
//! so the ratio is the wrapper's cost) vs `sketch_record/hdrhistogram` (fixed-range integer
//! histogram at the same 1% precision).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use ha::core::{
    CheckOutcome, Ewma, HealthCheck, HealthCheckConfig, QuantileSketch, QuantileSketchConfig,
    SlidingWindow, SlidingWindowConfig,
};
use hdrhistogram::Histogram;
use sketches_ddsketch::{Config, DDSketch};

/// Latencies in microseconds spread over five decades (a cheap log-uniform sequence).
fn latencies_us() -> Vec<f64> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            10f64.powf(1.0 + 5.0 * (x >> 11) as f64 / (1u64 << 53) as f64)
        })
        .collect()
}

fn sketches(c: &mut Criterion) {
    let values = latencies_us();
    let mut group = c.benchmark_group("sketch_record");
    let mut ours = QuantileSketch::new(QuantileSketchConfig::default()).unwrap();
    let mut i = 0;
    group.bench_function("ha-core", |b| {
        b.iter(|| {
            i = (i + 1) & 4095;
            ours.record(black_box(values[i])).unwrap();
        })
    });
    let mut dd = DDSketch::new(Config::defaults());
    group.bench_function("sketches-ddsketch", |b| {
        b.iter(|| {
            i = (i + 1) & 4095;
            dd.add(black_box(values[i]));
        })
    });
    let mut hdr = Histogram::<u64>::new_with_bounds(1, 10_000_000, 2).unwrap();
    group.bench_function("hdrhistogram", |b| {
        b.iter(|| {
            i = (i + 1) & 4095;
            hdr.record(black_box(values[i]) as u64).unwrap();
        })
    });
    group.finish();

    // Quantile queries on sketches filled with the same 100 000 values.
    let (mut ours, mut dd, mut hdr) = (
        QuantileSketch::new(QuantileSketchConfig::default()).unwrap(),
        DDSketch::new(Config::defaults()),
        Histogram::<u64>::new_with_bounds(1, 10_000_000, 2).unwrap(),
    );
    for k in 0..100_000 {
        let v = values[k & 4095];
        ours.record(v).unwrap();
        dd.add(v);
        hdr.record(v as u64).unwrap();
    }
    let mut group = c.benchmark_group("sketch_p99");
    group.bench_function("ha-core", |b| {
        b.iter(|| ours.quantile(black_box(0.99)).unwrap())
    });
    group.bench_function("sketches-ddsketch", |b| {
        b.iter(|| dd.quantile(black_box(0.99)).unwrap())
    });
    group.bench_function("hdrhistogram", |b| {
        b.iter(|| hdr.value_at_quantile(black_box(0.99)))
    });
    group.finish();
}

fn time_series(c: &mut Criterion) {
    let start = Instant::now();
    let step = Duration::from_micros(250);

    let mut ewma = Ewma::with_half_life(Duration::from_secs(10)).unwrap();
    let mut now = start;
    c.bench_function("ewma_record/ha-core", |b| {
        b.iter(|| {
            now += step;
            ewma.record(black_box(12.5), now).unwrap();
        })
    });

    let mut window = SlidingWindow::new(SlidingWindowConfig::default()).unwrap();
    let mut now = start;
    c.bench_function("window_add/ha-core", |b| {
        b.iter(|| {
            now += step;
            window.add(now, black_box(1))
        })
    });
    c.bench_function("window_sum_current_bucket/ha-core", |b| {
        b.iter(|| window.sum(black_box(now)))
    });
    let later = now + Duration::from_secs(30);
    c.bench_function("window_sum_30_buckets_later/ha-core", |b| {
        b.iter(|| window.sum(black_box(later)))
    });

    let mut check = HealthCheck::new(HealthCheckConfig::default()).unwrap();
    let mut now = start;
    let mut n = 0u32;
    c.bench_function("health_check_record/ha-core", |b| {
        b.iter(|| {
            now += step;
            n = n.wrapping_add(1);
            let outcome = if n % 5 == 0 {
                CheckOutcome::Failure
            } else {
                CheckOutcome::Success
            };
            check.record(outcome, black_box(Duration::from_millis(3)), now)
        })
    });
}

criterion_group!(benches, sketches, time_series);
criterion_main!(benches);
