//! Replaying policies over load traces: properties named for their invariants, and bad input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use ha_scale::{Error, LoadObservation, ReplayConfig, TargetUtilization, TimeSeries, replay};
use proptest::prelude::*;

fn config(warm_up_s: u64, initial: u32) -> ReplayConfig {
    ReplayConfig {
        capacity_per_replica: 100.0,
        warm_up: Duration::from_secs(warm_up_s),
        initial_replicas: initial,
        price_per_replica_hour: 0.25,
        seconds_per_unit: 1.0,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn held_replicas_equal_the_policy_wish_and_accounts_add_up(
        demand in prop::collection::vec(0.0..2000.0f64, 1..80),
        wishes in prop::collection::vec(0u32..30, 80),
        warm_up in 0u64..600,
        initial in 0u32..10,
    ) {
        let trace = TimeSeries::regular(0, 60, demand).unwrap();
        let mut i = 0;
        let policy = |_: &LoadObservation| { i += 1; wishes[i - 1] };
        let cfg = config(warm_up, initial);
        let report = replay(&trace, &cfg, policy).unwrap();
        prop_assert_eq!(report.steps.len(), trace.len());
        let mut replica_hours = 0.0;
        for s in &report.steps {
            prop_assert_eq!(s.ready + s.warming, s.desired);
            prop_assert!((s.capacity - f64::from(s.ready) * 100.0).abs() < 1e-9);
            prop_assert!(s.unmet == 0.0 || s.over_provisioned == 0.0);
            prop_assert!((s.demand - s.capacity - s.unmet + s.over_provisioned).abs() < 1e-6);
            replica_hours += f64::from(s.desired) * s.held_seconds / 3600.0;
        }
        prop_assert!((report.replica_hours - replica_hours).abs() < 1e-9);
        prop_assert!((report.cost - 0.25 * report.replica_hours).abs() < 1e-9);
        prop_assert_eq!(report.slo_misses, report.steps.iter().filter(|s| s.unmet > 0.0).count());
        prop_assert_eq!(report.to_csv().lines().count(), trace.len() + 1);
    }

    #[test]
    fn new_replicas_serve_only_after_their_warm_up(
        demand in prop::collection::vec(0.0..3000.0f64, 2..60),
        warm_up in 1u64..900,
    ) {
        let trace = TimeSeries::regular(0, 60, demand).unwrap();
        let report = replay(&trace, &config(warm_up, 1), TargetUtilization::new(0.8, 1, 50).unwrap()).unwrap();
        // Ready replicas at t never exceed those wanted at or before t − warm_up, or the start.
        for (i, s) in report.steps.iter().enumerate() {
            let bound = report.steps[..=i]
                .iter()
                .filter(|earlier| earlier.time as f64 <= s.time as f64 - warm_up as f64)
                .map(|earlier| earlier.desired)
                .max()
                .unwrap_or(0)
                .max(1);
            prop_assert!(s.ready <= bound, "step {i}: ready {} > {bound}", s.ready);
        }
    }
}

#[test]
fn scaling_ahead_by_the_warm_up_misses_fewer_points_than_reacting() {
    // A ramp: demand rises 50 a minute; replicas warm up for 3 minutes.
    let demand: Vec<f64> = (0..60).map(|m| 100.0 + 50.0 * m as f64).collect();
    let trace = TimeSeries::regular(0, 60, demand.clone()).unwrap();
    let cfg = config(180, 2);
    let reactive = replay(&trace, &cfg, TargetUtilization::new(1.0, 1, 100).unwrap()).unwrap();
    // An oracle that provisions for the demand three minutes out.
    let ahead = |o: &LoadObservation| {
        let minute = (o.time / 60) as usize;
        let future = demand.get(minute + 3).copied().unwrap_or(o.demand);
        (future / o.capacity_per_replica).ceil() as u32
    };
    let predictive = replay(&trace, &cfg, ahead).unwrap();
    assert!(
        reactive.slo_misses > 50,
        "reactive misses {}",
        reactive.slo_misses
    );
    assert!(
        predictive.slo_misses < 5,
        "predictive misses {}",
        predictive.slo_misses
    );
    assert!(predictive.unmet_demand_hours < reactive.unmet_demand_hours);
    assert!(predictive.cost > reactive.cost);
}

#[test]
fn bad_replay_input_gets_typed_errors() {
    let trace = TimeSeries::regular(0, 60, vec![10.0, -1.0]).unwrap();
    let policy = TargetUtilization::new(0.7, 1, 5).unwrap();
    assert!(matches!(
        replay(&trace, &ReplayConfig::default(), policy),
        Err(Error::NegativeDemand { index: 1, .. })
    ));
    let trace = TimeSeries::regular(0, 60, vec![10.0, 1.0]).unwrap();
    for bad in [
        ReplayConfig {
            capacity_per_replica: 0.0,
            ..ReplayConfig::default()
        },
        ReplayConfig {
            capacity_per_replica: f64::NAN,
            ..ReplayConfig::default()
        },
        ReplayConfig {
            price_per_replica_hour: -1.0,
            ..ReplayConfig::default()
        },
        ReplayConfig {
            seconds_per_unit: 0.0,
            ..ReplayConfig::default()
        },
    ] {
        assert!(
            matches!(replay(&trace, &bad, policy), Err(Error::Core(_))),
            "{bad:?}"
        );
    }
    assert!(TargetUtilization::new(0.0, 1, 5).is_err());
    assert!(TargetUtilization::new(1.5, 1, 5).is_err());
    assert!(matches!(
        TargetUtilization::new(0.5, 6, 5),
        Err(Error::Core(ha_core::Error::Inverted { .. }))
    ));
}

#[test]
fn a_single_point_trace_holds_for_no_time() {
    let trace = TimeSeries::regular(0, 60, vec![500.0]).unwrap();
    let report = replay(
        &trace,
        &config(0, 1),
        TargetUtilization::new(1.0, 1, 10).unwrap(),
    )
    .unwrap();
    assert_eq!(report.steps[0].ready, 5); // no warm-up: ready at once
    assert_eq!(report.cost, 0.0);
    assert_eq!(report.slo_misses, 0);
}

#[test]
fn extreme_time_units_neither_panic_nor_lose_points() {
    let trace = TimeSeries::regular(0, 60, vec![100.0, 200.0, 300.0]).unwrap();
    let cfg = ReplayConfig {
        seconds_per_unit: 1e300,
        ..config(60, 1)
    };
    let report = replay(&trace, &cfg, TargetUtilization::new(1.0, 1, 10).unwrap()).unwrap();
    assert_eq!(report.steps.len(), 3);
}
