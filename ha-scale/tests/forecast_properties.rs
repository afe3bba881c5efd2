//! Properties of forecasts, outlooks, rankings and cost projections, each named for its
//! invariant.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use ha_scale::{
    CapacityConfig, CapacityResource, Error, ModelSpec, Price, PriceModel, ResourceUsage,
    Seasonality, SelectionConfig, TimeSeries, forecast_resource, forecast_resources, project_cost,
    rank_bottlenecks, select_model,
};
use proptest::prelude::*;

const DAY: i64 = 86_400;

fn specs(m: usize) -> Vec<ModelSpec> {
    let mut out = vec![
        ModelSpec::LinearTrend,
        ModelSpec::Holt { damped: false },
        ModelSpec::Holt { damped: true },
    ];
    for seasonality in [Seasonality::Additive, Seasonality::Multiplicative] {
        for damped in [false, true] {
            out.push(ModelSpec::HoltWinters {
                season_length: m,
                seasonality,
                damped,
            });
        }
    }
    out
}

/// A positive seasonal series with noise drawn from the strategy.
fn seasonal(level: f64, slope: f64, amplitude: f64, noise: &[f64]) -> Vec<f64> {
    noise
        .iter()
        .enumerate()
        .map(|(t, e)| {
            let season = (std::f64::consts::TAU * (t % 7) as f64 / 7.0).sin();
            level + slope * t as f64 + amplitude * season + e
        })
        .collect()
}

fn series_strategy() -> impl Strategy<Value = Vec<f64>> {
    (
        100.0..1000.0f64,
        -0.5..2.0f64,
        0.0..50.0f64,
        prop::collection::vec(-5.0..5.0f64, 28..120),
    )
        .prop_map(|(level, slope, amplitude, noise)| seasonal(level, slope, amplitude, &noise))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn band_95_contains_band_80_and_both_contain_the_mean(y in series_strategy()) {
        let series = TimeSeries::regular(0, DAY, y).unwrap();
        for spec in specs(7) {
            let forecast = spec.fit(&series).unwrap().forecast(30).unwrap();
            for p in &forecast.points {
                prop_assert!(p.p95.contains(&p.p80), "{} h={}: {:?} {:?}", spec.name(), p.horizon, p.p95, p.p80);
                prop_assert!(p.p80.lower <= p.mean && p.mean <= p.p80.upper, "{} h={}", spec.name(), p.horizon);
            }
        }
    }

    #[test]
    fn analytic_intervals_widen_with_horizon(y in series_strategy()) {
        let series = TimeSeries::regular(0, DAY, y).unwrap();
        for spec in specs(7) {
            if matches!(spec, ModelSpec::HoltWinters { seasonality: Seasonality::Multiplicative, .. }) {
                continue; // simulated bands: widening holds only up to sampling noise
            }
            let forecast = spec.fit(&series).unwrap().forecast(40).unwrap();
            for pair in forecast.points.windows(2) {
                prop_assert!(pair[1].p95.width() >= pair[0].p95.width() - 1e-9, "{} h={}", spec.name(), pair[1].horizon);
                prop_assert!(pair[1].p80.width() >= pair[0].p80.width() - 1e-9);
            }
        }
    }

    #[test]
    fn forecast_times_advance_one_step_per_horizon(y in series_strategy(), step in 1i64..100_000) {
        let n = y.len() as i64;
        let series = TimeSeries::regular(1_000, step, y).unwrap();
        let forecast = ModelSpec::Holt { damped: false }.fit(&series).unwrap().forecast(10).unwrap();
        for p in &forecast.points {
            prop_assert_eq!(p.time, 1_000 + step * (n - 1 + p.horizon as i64));
        }
    }

    #[test]
    fn selection_keeps_the_lowest_scoring_candidate(y in series_strategy()) {
        let series = TimeSeries::regular(0, DAY, y).unwrap();
        let config = SelectionConfig { season_length: Some(7), ..SelectionConfig::default() };
        let chosen = select_model(&series, &config).unwrap();
        let best = chosen.scores.iter().filter_map(|s| s.score.map(|v| (v, s.model)))
            .min_by(|a, b| a.0.total_cmp(&b.0)).unwrap();
        prop_assert_eq!(chosen.model.spec(), best.1);
        prop_assert!((chosen.model.aicc() - best.0).abs() < 1e-9);
    }

    #[test]
    fn arbitrary_values_fit_or_fail_with_a_typed_error_never_a_panic(
        values in prop::collection::vec(prop_oneof![
            -1e6..1e6f64, Just(0.0), Just(f64::NAN), Just(f64::INFINITY), Just(1e300)
        ], 0..40),
        m in 0usize..12,
    ) {
        match TimeSeries::regular(0, 60, values) {
            Err(e) => prop_assert!(matches!(e, Error::EmptySeries | Error::NonFiniteValue { .. }), "{e}"),
            Ok(series) => {
                for spec in specs(m) {
                    if let Ok(model) = spec.fit(&series) {
                        let _ = model.forecast(5).unwrap();
                    }
                }
            }
        }
    }

    #[test]
    fn earliest_exhaustion_is_no_later_than_expected_and_expected_no_later_than_latest(
        start in 10.0..400.0f64, per_day in 0.0..3.0f64, noise in prop::collection::vec(-3.0..3.0f64, 60..120),
    ) {
        let y: Vec<f64> = noise.iter().enumerate().map(|(d, e)| start + per_day * d as f64 + e).collect();
        let usage = ResourceUsage { resource: CapacityResource::Storage, series: TimeSeries::regular(0, DAY, y).unwrap(), capacity: 1000.0 };
        let outlook = forecast_resource(&usage, &CapacityConfig::default()).unwrap();
        let x = outlook.exhaustion;
        prop_assert!((0.0..=1.0).contains(&x.confidence));
        if let (Some(earliest), Some(expected)) = (x.earliest, x.expected) {
            prop_assert!(earliest <= expected);
        }
        if let (Some(expected), Some(latest)) = (x.expected, x.latest) {
            prop_assert!(expected <= latest);
        }
        if x.expected.is_some() { prop_assert!(x.earliest.is_some()); }
        if x.latest.is_some() { prop_assert!(x.expected.is_some()); }
    }

    #[test]
    fn more_headroom_never_delays_exhaustion(
        per_day in 0.5..3.0f64, noise in prop::collection::vec(-2.0..2.0f64, 60..90), low in 0.0..0.4f64, extra in 0.0..0.4f64,
    ) {
        let y: Vec<f64> = noise.iter().enumerate().map(|(d, e)| 200.0 + per_day * d as f64 + e).collect();
        let usage = ResourceUsage { resource: CapacityResource::Cpu, series: TimeSeries::regular(0, DAY, y).unwrap(), capacity: 800.0 };
        let at = |headroom_ratio: f64| forecast_resource(&usage, &CapacityConfig { headroom_ratio, ..CapacityConfig::default() }).unwrap().exhaustion;
        let (loose, tight) = (at(low), at(low + extra));
        let key = |t: Option<i64>| t.unwrap_or(i64::MAX);
        prop_assert!(key(tight.expected) <= key(loose.expected));
        prop_assert!(key(tight.earliest) <= key(loose.earliest));
        prop_assert!(tight.confidence >= loose.confidence - 1e-12);
    }

    #[test]
    fn bottlenecks_come_in_order_of_expected_exhaustion(rates in prop::collection::vec(0.0..5.0f64, 5)) {
        let resources = [CapacityResource::Cpu, CapacityResource::Memory, CapacityResource::Storage, CapacityResource::Bandwidth, CapacityResource::Requests];
        let usages: Vec<ResourceUsage> = resources.iter().zip(&rates).map(|(r, rate)| {
            let y = (0..60).map(|d| 100.0 + rate * d as f64 + (d % 3) as f64).collect();
            ResourceUsage { resource: *r, series: TimeSeries::regular(0, DAY, y).unwrap(), capacity: 1000.0 }
        }).collect();
        let outlooks = forecast_resources(&usages, &CapacityConfig::default()).unwrap();
        let ranking = rank_bottlenecks(&outlooks);
        prop_assert_eq!(ranking.len(), 5);
        for pair in ranking.windows(2) {
            prop_assert!(pair[0].expected.unwrap_or(i64::MAX) <= pair[1].expected.unwrap_or(i64::MAX));
        }
    }

    #[test]
    fn projected_total_is_the_sum_of_months_and_grows_with_price(
        price in 0.01..10.0f64, months in 1u32..12, change in -0.5..0.5f64,
    ) {
        let y = (0..90).map(|d| 50.0 + 0.2 * d as f64 + (d % 2) as f64).collect();
        let usage = ResourceUsage { resource: CapacityResource::Memory, series: TimeSeries::regular(0, DAY, y).unwrap(), capacity: 500.0 };
        let outlook = forecast_resource(&usage, &CapacityConfig::default()).unwrap();
        let model = |p: f64| PriceModel {
            prices: vec![Price { resource: CapacityResource::Memory, per_unit_month: p }],
            yearly_price_change_ratio: change,
            headroom_ratio: 0.3,
        };
        let cheap = project_cost(std::slice::from_ref(&outlook), &model(price), months).unwrap();
        let dear = project_cost(std::slice::from_ref(&outlook), &model(price * 2.0), months).unwrap();
        prop_assert_eq!(cheap.months.len(), months as usize);
        let sum: f64 = cheap.months.iter().map(|m| m.total).sum();
        prop_assert!((sum - cheap.total).abs() <= 1e-9 * cheap.total.abs().max(1.0));
        prop_assert!((dear.total - 2.0 * cheap.total).abs() <= 1e-9 * dear.total.max(1.0));
        // Provisioned units cover the month's forecast with the reserve: units × 0.7 ≥ demand.
        for m in &cheap.months {
            prop_assert!(m.items[0].units * 0.7 >= 50.0);
        }
    }
}

#[test]
fn bad_input_gets_typed_errors() {
    assert!(matches!(
        TimeSeries::new(vec![0, 10, 5], vec![1.0; 3]),
        Err(Error::UnsortedTimestamps { index: 2, time: 5 })
    ));
    assert!(matches!(
        TimeSeries::new(vec![0, 10, 10], vec![1.0; 3]),
        Err(Error::DuplicateTimestamp { index: 2, .. })
    ));
    let short = TimeSeries::regular(0, DAY, vec![1.0; 10]).unwrap();
    let hw = ModelSpec::HoltWinters {
        season_length: 7,
        seasonality: Seasonality::Additive,
        damped: false,
    };
    assert!(matches!(
        hw.fit(&short),
        Err(Error::SeriesTooShort {
            needed: 21,
            got: 10,
            ..
        })
    ));
    let tiny_season = ModelSpec::HoltWinters {
        season_length: 1,
        seasonality: Seasonality::Additive,
        damped: false,
    };
    assert!(matches!(tiny_season.fit(&short), Err(Error::Core(_))));
    let with_zero = TimeSeries::regular(0, 1, (0..30).map(|t| (t % 7) as f64).collect()).unwrap();
    let mul = ModelSpec::HoltWinters {
        season_length: 7,
        seasonality: Seasonality::Multiplicative,
        damped: false,
    };
    assert!(matches!(
        mul.fit(&with_zero),
        Err(Error::NonPositiveValue { index: 0, .. })
    ));
    let gappy = TimeSeries::new(
        (0..10).map(|t| if t < 5 { t } else { t + 20 }).collect(),
        vec![1.0; 10],
    )
    .unwrap();
    assert!(matches!(
        ModelSpec::LinearTrend.fit(&gappy),
        Err(Error::IrregularSpacing { index: 4, .. })
    ));
    let model = ModelSpec::LinearTrend.fit(&short).unwrap();
    assert!(matches!(model.forecast(0), Err(Error::Core(_))));
    // A year ahead in one-second steps is past the horizon limit: refused, not attempted.
    let per_second = TimeSeries::regular(0, 1, vec![1.0; 10]).unwrap();
    let usage = ResourceUsage {
        resource: CapacityResource::Cpu,
        series: per_second,
        capacity: 10.0,
    };
    assert!(matches!(
        forecast_resource(&usage, &CapacityConfig::default()),
        Err(Error::Core(ha_core::Error::TooLarge { .. }))
    ));

    let usage = ResourceUsage {
        resource: CapacityResource::Cpu,
        series: short.clone(),
        capacity: 0.0,
    };
    assert!(forecast_resource(&usage, &CapacityConfig::default()).is_err());
    let usage = ResourceUsage {
        resource: CapacityResource::Cpu,
        series: short.clone(),
        capacity: 10.0,
    };
    for bad in [
        CapacityConfig {
            headroom_ratio: 1.0,
            ..CapacityConfig::default()
        },
        CapacityConfig {
            headroom_ratio: f64::NAN,
            ..CapacityConfig::default()
        },
        CapacityConfig {
            horizon: Duration::ZERO,
            ..CapacityConfig::default()
        },
        CapacityConfig {
            seconds_per_unit: -1.0,
            ..CapacityConfig::default()
        },
    ] {
        assert!(
            matches!(forecast_resource(&usage, &bad), Err(Error::Core(_))),
            "{bad:?}"
        );
    }
    let twice = [usage.clone(), usage.clone()];
    assert!(matches!(
        forecast_resources(&twice, &CapacityConfig::default()),
        Err(Error::DuplicateResource(CapacityResource::Cpu))
    ));

    let outlook = forecast_resource(&usage, &CapacityConfig::default()).unwrap();
    let unpriced = PriceModel {
        prices: vec![Price {
            resource: CapacityResource::Storage,
            per_unit_month: 1.0,
        }],
        ..PriceModel::default()
    };
    assert!(matches!(
        project_cost(std::slice::from_ref(&outlook), &unpriced, 1),
        Err(Error::UnknownResource(CapacityResource::Storage))
    ));
    let priced = PriceModel {
        prices: vec![Price {
            resource: CapacityResource::Cpu,
            per_unit_month: 1.0,
        }],
        ..PriceModel::default()
    };
    assert!(matches!(
        project_cost(std::slice::from_ref(&outlook), &priced, 0),
        Err(Error::Core(_))
    ));
    // One year of forecast covers 12 months, not 13.
    assert!(project_cost(std::slice::from_ref(&outlook), &priced, 12).is_ok());
    assert!(matches!(
        project_cost(std::slice::from_ref(&outlook), &priced, 13),
        Err(Error::Core(_))
    ));
    let negative = PriceModel {
        prices: vec![Price {
            resource: CapacityResource::Cpu,
            per_unit_month: -1.0,
        }],
        ..PriceModel::default()
    };
    assert!(project_cost(std::slice::from_ref(&outlook), &negative, 1).is_err());
}

#[test]
fn selection_with_nothing_fittable_names_every_reason() {
    let two = TimeSeries::regular(0, 1, vec![1.0, 2.0]).unwrap();
    match select_model(&two, &SelectionConfig::default()) {
        Err(Error::NoModelFits { reasons }) => {
            assert!(
                reasons.contains("linear trend") && reasons.contains("holt damped"),
                "{reasons}"
            );
        }
        other => panic!("expected NoModelFits, got {other:?}"),
    }
}

#[test]
fn seasonal_peak_factor_and_yearly_growth_are_measured() {
    // Hourly requests: a daily peak 2× the trough, growing 20% a year.
    let hour = 3600;
    let per_hour_growth = 0.2 / (365.2425 * 24.0);
    let y: Vec<f64> = (0..24 * 42)
        .map(|t| {
            let level = 1000.0 * (1.0 + per_hour_growth * t as f64);
            level * (1.0 + (1.0 / 3.0) * (std::f64::consts::TAU * (t % 24) as f64 / 24.0).sin())
        })
        .collect();
    let usage = ResourceUsage {
        resource: CapacityResource::Requests,
        series: TimeSeries::regular(0, hour, y).unwrap(),
        capacity: 5000.0,
    };
    let config = CapacityConfig {
        horizon: Duration::from_secs(30 * 86_400),
        selection: SelectionConfig {
            season_length: Some(24),
            ..SelectionConfig::default()
        },
        ..CapacityConfig::default()
    };
    let outlook = forecast_resource(&usage, &config).unwrap();
    assert!(
        matches!(outlook.model, ModelSpec::HoltWinters { .. }),
        "{:?}",
        outlook.model
    );
    assert!(
        (outlook.peak_factor - 4.0 / 3.0).abs() < 0.02,
        "peak factor {}",
        outlook.peak_factor
    );
    let growth = outlook.yearly_growth_ratio.unwrap();
    // 20% of the level at the start is ~19.1% of the level six weeks later; a damped winner
    // would show less.
    assert!((0.1..0.25).contains(&growth), "growth {growth}");
    assert!(outlook.exhaustion.expected.is_none());
}

#[test]
fn a_tiny_time_unit_is_refused_or_forecast_without_overflow() {
    let y = (0..30).map(|d| 100.0 + d as f64).collect();
    let usage = ResourceUsage {
        resource: CapacityResource::Cpu,
        series: TimeSeries::regular(0, 1, y).unwrap(),
        capacity: 1000.0,
    };
    for seconds_per_unit in [1e-300, 1e-12, 1e-3] {
        let config = CapacityConfig {
            horizon: Duration::from_nanos(1),
            seconds_per_unit,
            ..CapacityConfig::default()
        };
        match forecast_resource(&usage, &config) {
            Ok(outlook) => assert!(!outlook.forecast.points.is_empty()),
            Err(e) => assert!(matches!(e, Error::Core(_)), "{e}"),
        }
    }
}
