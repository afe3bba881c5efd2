//! Predictive scaling: properties named for their invariants, and a replay on a ramp.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use ha_scale::{
    Forecast, ForecastPoint, Interval, LoadObservation, ModelSpec, PlanFor, PredictiveConfig,
    PredictiveMode, PredictiveReason, PredictiveScaler, ReplayConfig, ReplayPolicy,
    TargetUtilization, TimeSeries, replay,
};
use proptest::prelude::*;

/// A forecast every 60 s from 60 on, with bands of ±`spread` and ±2 `spread`.
fn forecast(means: &[f64], spread: f64) -> Forecast {
    Forecast {
        model: ModelSpec::LinearTrend,
        points: means
            .iter()
            .enumerate()
            .map(|(i, &mean)| ForecastPoint {
                horizon: i + 1,
                time: 60 * (i as i64 + 1),
                mean,
                p80: Interval::around(mean, spread),
                p95: Interval::around(mean, 2.0 * spread),
            })
            .collect(),
    }
}

fn plan_for() -> impl Strategy<Value = PlanFor> {
    prop_oneof![
        Just(PlanFor::Mean),
        Just(PlanFor::Upper80),
        Just(PlanFor::Upper95)
    ]
}

prop_compose! {
    fn case()(
        means in prop::collection::vec(-100.0..1e6f64, 1..20),
        spread in 0.0..1e4f64,
        min in 0u32..20,
        extra in 0u32..200,
        warm_up_steps in 0.0..1.0f64,
        capacity in 0.5..1e3f64,
        target in 0.05..1.0f64,
        plan in plan_for(),
    )(
        reactive in min..=min + extra,
        any_reactive in 0u32..500,
        means in Just(means.clone()),
        spread in Just(spread),
        min in Just(min),
        max in Just(min + extra),
        // A warm-up that lands within the forecast's span.
        warm_up in Just(60.0 + warm_up_steps * 60.0 * (means.len() - 1) as f64),
        capacity in Just(capacity),
        target in Just(target),
        plan in Just(plan),
    ) -> (Forecast, u32, u32, PredictiveConfig) {
        let config = PredictiveConfig {
            capacity_per_replica: capacity,
            warm_up: Duration::from_secs_f64(warm_up),
            seconds_per_unit: 1.0,
            target_utilization: target,
            plan_for: plan,
            min_replicas: min,
            max_replicas: max,
            mode: PredictiveMode::Act,
        };
        (forecast(&means, spread), reactive, any_reactive, config)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// The reactive proposal obeys the same bounds (an HPA decision is clamped to them).
    #[test]
    fn the_decision_is_never_below_the_reactive_proposal_in_act_mode((f, reactive, _, config) in case()) {
        let d = PredictiveScaler::new(config).unwrap().decide(0, reactive, &f).unwrap();
        prop_assert!(d.replicas >= reactive, "{} < {reactive}", d.replicas);
        prop_assert!(d.replicas >= d.predictive_replicas.min(config.max_replicas));
        prop_assert_eq!(d.reactive_replicas, reactive);
        prop_assert_eq!(
            d.reason == PredictiveReason::ForecastAhead,
            d.predictive_replicas > reactive
        );
    }

    #[test]
    fn report_only_never_changes_the_reactive_decision((f, _, reactive, config) in case()) {
        let acting = PredictiveScaler::new(config).unwrap().decide(0, reactive, &f).unwrap();
        let config = PredictiveConfig { mode: PredictiveMode::ReportOnly, ..config };
        let d = PredictiveScaler::new(config).unwrap().decide(0, reactive, &f).unwrap();
        prop_assert_eq!(d.replicas, reactive);
        prop_assert_eq!(d.reason, PredictiveReason::ReportOnly);
        prop_assert_eq!(d.bound, None);
        // The predictive figure is still reported, the same as when acting.
        prop_assert_eq!(d.predictive_replicas, acting.predictive_replicas);
        prop_assert_eq!(d.forecast_demand, acting.forecast_demand);
    }

    /// In act mode, whatever the reactive proposal (report-only mode passes it through as is).
    #[test]
    fn decision_always_within_min_and_max((f, _, reactive, config) in case()) {
        let d = PredictiveScaler::new(config).unwrap().decide(0, reactive, &f).unwrap();
        prop_assert!(config.min_replicas <= d.replicas && d.replicas <= config.max_replicas);
    }

    #[test]
    fn planning_for_a_wider_band_never_needs_fewer_replicas((f, reactive, _, config) in case()) {
        let at = |plan_for| {
            PredictiveScaler::new(PredictiveConfig { plan_for, ..config })
                .unwrap()
                .decide(0, reactive, &f)
                .unwrap()
                .predictive_replicas
        };
        let (mean, p80, p95) = (at(PlanFor::Mean), at(PlanFor::Upper80), at(PlanFor::Upper95));
        prop_assert!(mean <= p80 && p80 <= p95, "{mean} {p80} {p95}");
    }
}

/// The replay adapter: the reactive target-utilization policy, raised by the replicas a linear
/// trend fitted to the last ten minutes of demand needs once new replicas are warm.
#[derive(Debug)]
struct Predictive {
    reactive: TargetUtilization,
    scaler: PredictiveScaler,
    history: Vec<(i64, f64)>,
    forecasts_used: usize,
}

impl ReplayPolicy for Predictive {
    fn desired_replicas(&mut self, o: &LoadObservation) -> u32 {
        let proposal = self.reactive.desired_replicas(o);
        self.history.push((o.time, o.demand));
        let recent = &self.history[self.history.len().saturating_sub(10)..];
        let series = TimeSeries::new(
            recent.iter().map(|p| p.0).collect(),
            recent.iter().map(|p| p.1).collect(),
        );
        // Too little history for a fit: the reactive proposal alone.
        match series
            .and_then(|s| ModelSpec::LinearTrend.fit(&s))
            .and_then(|m| self.scaler.decide_with_model(o.time, proposal, &m))
        {
            Ok(d) => {
                self.forecasts_used += 1;
                d.replicas
            }
            Err(_) => proposal,
        }
    }
}

fn predictive(mode: PredictiveMode, warm_up: Duration) -> Predictive {
    Predictive {
        reactive: TargetUtilization::new(1.0, 1, 100).unwrap(),
        scaler: PredictiveScaler::new(PredictiveConfig {
            capacity_per_replica: 100.0,
            warm_up,
            target_utilization: 1.0,
            plan_for: PlanFor::Upper80,
            min_replicas: 1,
            max_replicas: 100,
            mode,
            ..PredictiveConfig::default()
        })
        .unwrap(),
        history: Vec::new(),
        forecasts_used: 0,
    }
}

#[test]
fn on_a_ramp_scaling_ahead_by_the_warm_up_misses_fewer_points_than_reacting() {
    // Demand rises 50 a minute for an hour; each replica serves 100 and warms for 3 minutes.
    let warm_up = Duration::from_secs(180);
    let demand: Vec<f64> = (0..60).map(|m| 100.0 + 50.0 * m as f64).collect();
    let trace = TimeSeries::regular(0, 60, demand).unwrap();
    let config = ReplayConfig {
        capacity_per_replica: 100.0,
        warm_up,
        initial_replicas: 2,
        price_per_replica_hour: 0.25,
        seconds_per_unit: 1.0,
    };
    let reactive = replay(
        &trace,
        &config,
        TargetUtilization::new(1.0, 1, 100).unwrap(),
    )
    .unwrap();
    let mut policy = predictive(PredictiveMode::Act, warm_up);
    let ahead = replay(&trace, &config, |o: &LoadObservation| {
        policy.desired_replicas(o)
    })
    .unwrap();
    assert!(policy.forecasts_used >= 55, "{}", policy.forecasts_used);
    // Reacting, every minute of the ramp is short; scaling ahead, only the first few, before
    // the trend has points enough to be fitted and a warm-up has passed.
    assert!(
        reactive.slo_misses >= 55,
        "reactive misses {}",
        reactive.slo_misses
    );
    assert!(
        ahead.slo_misses <= 5,
        "predictive misses {}",
        ahead.slo_misses
    );
    assert!(ahead.unmet_demand_hours < reactive.unmet_demand_hours / 10.0);
    // It pays for the capacity it starts early.
    assert!(ahead.cost > reactive.cost);

    // Report only: exactly the reactive replay.
    let mut watching = predictive(PredictiveMode::ReportOnly, warm_up);
    let watched = replay(&trace, &config, |o: &LoadObservation| {
        watching.desired_replicas(o)
    })
    .unwrap();
    assert!(watching.forecasts_used >= 55);
    assert_eq!(watched, reactive);
}

#[test]
fn config_and_decision_round_trip_through_serde() {
    let config = PredictiveConfig {
        plan_for: PlanFor::Upper95,
        mode: PredictiveMode::ReportOnly,
        ..PredictiveConfig::default()
    };
    let text = serde_json::to_string(&config).unwrap();
    assert_eq!(
        serde_json::from_str::<PredictiveConfig>(&text).unwrap(),
        config
    );
    let d = PredictiveScaler::new(config)
        .unwrap()
        .decide(0, 3, &forecast(&[100.0, 200.0, 300.0, 400.0], 10.0))
        .unwrap();
    let text = serde_json::to_string(&d).unwrap();
    assert!(text.contains("\"reason\":\"ReportOnly\""), "{text}");
    assert_eq!(
        serde_json::from_str::<ha_scale::PredictiveDecision>(&text).unwrap(),
        d
    );
}
