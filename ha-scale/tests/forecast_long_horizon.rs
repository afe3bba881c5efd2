//! A capacity forecast far past the data does not extrapolate a local slope: a flat
//! daily-seasonal series gets neither explosive growth nor an exhaustion date.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ha_scale::{
    CapacityConfig, CapacityResource, ModelSpec, ResourceUsage, SelectionConfig, TimeSeries,
    forecast_resource,
};

/// Uniform noise in `[-amp, amp]` from a fixed linear congruential generator.
fn noise(n: usize, seed: u64, amp: f64) -> Vec<f64> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((x >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 2.0 * amp
        })
        .collect()
}

/// `100 · (1 + 0.5 sin(2π t / m)) ± 5`: stationary, with a season of `m` steps.
fn flat_seasonal(m: usize, step: i64, n: usize) -> ResourceUsage {
    let e = noise(n, 42, 5.0);
    let y = (0..n)
        .map(|t| 100.0 * (1.0 + 0.5 * (t as f64 * std::f64::consts::TAU / m as f64).sin()) + e[t])
        .collect();
    ResourceUsage {
        resource: CapacityResource::Cpu,
        series: TimeSeries::regular(0, step, y).unwrap(),
        capacity: 1000.0,
    }
}

fn assert_flat(usage: &ResourceUsage, season_length: Option<usize>, label: &str) {
    let config = CapacityConfig {
        selection: SelectionConfig {
            season_length,
            ..SelectionConfig::default()
        },
        ..CapacityConfig::default()
    };
    let outlook = forecast_resource(usage, &config).unwrap();
    let growth = outlook.yearly_growth_ratio.unwrap();
    assert!(
        !matches!(
            outlook.model,
            ModelSpec::Holt { damped: false } | ModelSpec::HoltWinters { damped: false, .. }
        ),
        "{label}: an undamped trend chosen for a year ahead: {:?}",
        outlook.model
    );
    // The review found +125 000 % a year and an exhaustion 1.75 days after the data (Holt).
    assert!(
        growth.abs() < 1.0,
        "{label}: {} growth {growth}",
        outlook.model.name()
    );
    assert_eq!(
        outlook.exhaustion.expected,
        None,
        "{label}: {} runs out",
        outlook.model.name()
    );
    assert!(
        outlook.exhaustion.confidence < 0.5,
        "{label}: {} confidence {}",
        outlook.model.name(),
        outlook.exhaustion.confidence
    );
}

/// The review's case (finding 1): four days of per-minute use, a year ahead, default selection.
#[test]
fn a_flat_daily_seasonal_minute_series_gets_no_explosive_growth_nor_exhaustion() {
    let usage = flat_seasonal(1440, 60, 1440 * 4);
    assert_flat(&usage, None, "minutes, no season");
}

/// Eight weeks of hourly use, a year ahead, with and without the daily season offered.
#[test]
fn a_flat_daily_seasonal_hourly_series_gets_no_explosive_growth_nor_exhaustion() {
    let usage = flat_seasonal(24, 3600, 24 * 56);
    assert_flat(&usage, None, "hours, no season");
    assert_flat(&usage, Some(24), "hours, daily season");
}
