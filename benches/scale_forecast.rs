//! ha-scale capacity forecasting: Holt-Winters fitted to two years of hourly data (17 520
//! points, a daily season of 24), a 30-day forecast (720 hourly steps) from the fit, and the
//! automatic choice among all seven candidate models.
//!
//! Run: `cargo bench --bench scale_forecast`. No Rust peer fits seasonal exponential smoothing
//! (`augurs-ets` has no seasonal components, grafana/augurs#27), so there is no side-by-side
//! group; the target is a fit well under a second.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use ha::scale::{ModelSpec, Seasonality, SelectionConfig, TimeSeries, select_model};

const HOURS: usize = 2 * 365 * 24;

/// Two years of hourly load: growth, a daily cycle and cheap deterministic noise.
fn two_years_hourly() -> TimeSeries {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let values = (0..HOURS)
        .map(|t| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let noise = (x >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            let day = (std::f64::consts::TAU * (t % 24) as f64 / 24.0).sin();
            (500.0 + 0.01 * t as f64) * (1.0 + 0.4 * day) + 20.0 * noise
        })
        .collect();
    TimeSeries::regular(0, 3600, values).unwrap()
}

fn spec(seasonality: Seasonality) -> ModelSpec {
    ModelSpec::HoltWinters {
        season_length: 24,
        seasonality,
        damped: false,
    }
}

fn fit(c: &mut Criterion) {
    let series = two_years_hourly();
    let mut group = c.benchmark_group("holt_winters_fit_17520");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(10));
    for (name, kind) in [
        ("additive", Seasonality::Additive),
        ("multiplicative", Seasonality::Multiplicative),
    ] {
        group.bench_function(BenchmarkId::new("ha-scale", name), |b| {
            b.iter(|| spec(kind).fit(black_box(&series)).unwrap())
        });
    }
    group.finish();
}

fn forecast(c: &mut Criterion) {
    let series = two_years_hourly();
    let mut group = c.benchmark_group("forecast_30_days_hourly");
    group.sample_size(20);
    for (name, kind) in [
        ("additive", Seasonality::Additive),
        ("multiplicative-simulated", Seasonality::Multiplicative),
    ] {
        let model = spec(kind).fit(&series).unwrap();
        group.bench_function(BenchmarkId::new("ha-scale", name), |b| {
            b.iter(|| black_box(&model).forecast(720).unwrap())
        });
    }
    group.finish();
}

fn selection(c: &mut Criterion) {
    let series = two_years_hourly();
    let config = SelectionConfig {
        season_length: Some(24),
        ..SelectionConfig::default()
    };
    let mut group = c.benchmark_group("select_model_17520");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(15));
    group.bench_function("ha-scale/aicc-7-candidates", |b| {
        b.iter(|| select_model(black_box(&series), &config).unwrap())
    });
    group.finish();
}

criterion_group!(benches, fit, forecast, selection);
criterion_main!(benches);
