//! Properties of the health-check state machine and of health aggregation.

use std::time::{Duration, Instant};

use ha_core::{
    AggregationConfig, CheckOutcome, CheckVerdict, Component, Health, HealthAggregator,
    HealthCheck, HealthCheckConfig,
};
use proptest::prelude::*;

fn outcome() -> impl Strategy<Value = (CheckOutcome, u64)> {
    (
        prop::sample::select(vec![
            CheckOutcome::Success,
            CheckOutcome::Failure,
            CheckOutcome::Timeout,
        ]),
        // Latencies around the 400 ms degraded bound and the 1 s timeout.
        prop::sample::select(vec![5, 399, 401, 900, 1000, 1001, 3000]),
    )
}

fn health() -> impl Strategy<Value = Health> {
    prop::sample::select(vec![
        Health::Healthy,
        Health::Unknown,
        Health::Degraded,
        Health::Unhealthy,
    ])
}

fn all_of(tail: &[CheckVerdict], n: u32, ok: impl Fn(CheckVerdict) -> bool) -> bool {
    tail.len() >= n as usize && tail[tail.len() - n as usize..].iter().all(|&v| ok(v))
}

proptest! {
    #[test]
    fn health_changes_only_after_the_configured_run_of_outcomes(
        outcomes in prop::collection::vec(outcome(), 0..200),
        unhealthy_threshold in 1u32..5,
        healthy_threshold in 1u32..5,
        degraded_threshold in 1u32..5,
    ) {
        let config = HealthCheckConfig {
            interval: Duration::from_secs(2),
            timeout: Duration::from_secs(1),
            unhealthy_threshold,
            healthy_threshold,
            degraded_latency: Some(Duration::from_millis(400)),
            degraded_threshold,
        };
        let mut check = HealthCheck::new(config).unwrap();
        let mut now = Instant::now();
        let mut verdicts = Vec::new();
        for (outcome, ms) in outcomes {
            now += Duration::from_secs(2);
            let latency = Duration::from_millis(ms);
            let verdict = check.verdict(outcome, latency);
            verdicts.push(verdict);
            let before = check.health();
            let change = check.record(outcome, latency, now);
            check.check_invariants();
            let after = check.health();
            prop_assert_eq!(change.is_some(), before != after);
            let fails = all_of(&verdicts, unhealthy_threshold, |v| v == CheckVerdict::Fail);
            let successes = all_of(&verdicts, healthy_threshold, |v| v != CheckVerdict::Fail);
            let passes = all_of(&verdicts, healthy_threshold, |v| v == CheckVerdict::Pass);
            let slows = all_of(&verdicts, degraded_threshold, |v| v == CheckVerdict::Slow);
            let long_slows = all_of(&verdicts, degraded_threshold.max(healthy_threshold), |v| v == CheckVerdict::Slow);
            // Safety: every change is justified by a full run ending now.
            if before != after {
                let justified = match (before, after) {
                    (_, Health::Unhealthy) => fails,
                    (Health::Unknown | Health::Unhealthy, Health::Healthy) => successes && verdict == CheckVerdict::Pass,
                    (Health::Unknown | Health::Unhealthy, Health::Degraded) => successes && verdict == CheckVerdict::Slow,
                    (Health::Healthy, Health::Degraded) => slows,
                    (Health::Degraded, Health::Healthy) => passes,
                    _ => false,
                };
                prop_assert!(justified, "{:?} -> {:?} after {:?}", before, after, verdicts);
            }
            // Liveness: a full run always takes effect.
            if fails {
                prop_assert_eq!(after, Health::Unhealthy);
            }
            if passes {
                prop_assert_eq!(after, Health::Healthy);
            }
            if long_slows {
                prop_assert_eq!(after, Health::Degraded);
            }
            prop_assert_eq!(check.next_check_due(), Some(now - latency + Duration::from_secs(2)));
        }
    }

    #[test]
    fn aggregation_is_monotone_for_random_fleets_and_thresholds(
        components in prop::collection::vec((health(), any::<bool>()), 1..40),
        pick in any::<prop::sample::Index>(),
        worse in health(),
        unhealthy_above in 0.0f64..=1.0,
        degraded_share in 0.0f64..=1.0,
        any_unhealthy in any::<bool>(),
    ) {
        let aggregator = HealthAggregator::new(AggregationConfig {
            unhealthy_above_ratio: unhealthy_above,
            degraded_above_ratio: unhealthy_above * degraded_share,
            degraded_on_any_unhealthy: any_unhealthy,
        })
        .unwrap();
        let mut fleet: Vec<Component> = components
            .iter()
            .map(|&(health, critical)| Component { health, critical })
            .collect();
        let before = aggregator.aggregate(fleet.iter().copied()).health;
        let i = pick.index(fleet.len());
        prop_assume!(worse > fleet[i].health);
        fleet[i].health = worse;
        let after = aggregator.aggregate(fleet.iter().copied()).health;
        prop_assert!(after >= before, "{:?} became {:?}", before, after);
    }
}

/// Every fleet of up to four components, every critical flag, every single worsening, and
/// thresholds on the k/n grid where shares of small fleets sit exactly at the boundary.
#[test]
fn aggregation_is_monotone_turning_a_component_worse_never_makes_the_whole_better() {
    const ALL: [Health; 4] = [
        Health::Healthy,
        Health::Unknown,
        Health::Degraded,
        Health::Unhealthy,
    ];
    let mut grid = vec![0.0, 1.0];
    for n in 1..=4 {
        for k in 0..=n {
            grid.push(f64::from(k) / f64::from(n));
        }
    }
    grid.sort_by(f64::total_cmp);
    grid.dedup();
    let mut aggregators = Vec::new();
    for &u in &grid {
        for &d in grid.iter().filter(|&&d| d <= u) {
            for any in [false, true] {
                aggregators.push(
                    HealthAggregator::new(AggregationConfig {
                        unhealthy_above_ratio: u,
                        degraded_above_ratio: d,
                        degraded_on_any_unhealthy: any,
                    })
                    .unwrap(),
                );
            }
        }
    }
    let mut checked = 0u64;
    for size in 1..=4u32 {
        for code in 0..(8usize.pow(size)) {
            let fleet: Vec<Component> = (0..size as usize)
                .map(|i| {
                    let digit = code / 8usize.pow(i as u32) % 8;
                    Component {
                        health: ALL[digit % 4],
                        critical: digit >= 4,
                    }
                })
                .collect();
            for aggregator in &aggregators {
                let before = aggregator.aggregate(fleet.iter().copied()).health;
                for i in 0..fleet.len() {
                    for &worse in ALL.iter().filter(|&&h| h > fleet[i].health) {
                        let mut changed = fleet.clone();
                        changed[i].health = worse;
                        let after = aggregator.aggregate(changed).health;
                        assert!(
                            after >= before,
                            "{fleet:?}: component {i} → {worse:?} turned {before:?} into {after:?}"
                        );
                        checked += 1;
                    }
                }
            }
        }
    }
    assert!(checked > 100_000, "{checked}");
}
