//! Step scaling with cooldowns over ha-core alert rules, and the queue and latency targets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use ha_core::metric::{CPU_UTILIZATION_RATIO as CPU, MEMORY_UTILIZATION_RATIO as MEM};
use ha_scale::{
    Error, QueueTarget, StepReason, StepRule, StepScaler, StepScalingConfig, Tolerance,
    latency_target_replicas, step_metric,
};

fn at(start: Instant, secs: u64) -> Instant {
    start + Duration::from_secs(secs)
}

/// Feeds `metric` at `value` every 30 s over `[from, to]`.
fn feed(scaler: &mut StepScaler, start: Instant, metric: &str, value: f64, from: u64, to: u64) {
    for s in (from..=to).step_by(30) {
        scaler.observe(metric, value, at(start, s)).unwrap();
    }
}

#[test]
fn scale_up_waits_for_the_hold_time_then_the_cooldown() {
    let start = Instant::now();
    let mut s = StepScaler::new(StepScalingConfig::operator_defaults()).unwrap();
    feed(&mut s, start, CPU, 0.75, 0, 150);
    assert_eq!(s.decide(4, at(start, 150)).reason, StepReason::NoRuleFiring); // 2.5 min
    feed(&mut s, start, CPU, 0.75, 180, 180);
    let d = s.decide(4, at(start, 180));
    assert_eq!(
        (d.desired_replicas, d.reason),
        (6, StepReason::RuleFired(0))
    );
    // Still hot: held by the 5 min cooldown, then +2 again.
    feed(&mut s, start, CPU, 0.75, 210, 450);
    let d = s.decide(6, at(start, 450));
    assert_eq!(d.reason, StepReason::Cooldown(0));
    assert_eq!(d.cooldown_remaining, Some(Duration::from_secs(30)));
    feed(&mut s, start, CPU, 0.75, 480, 480);
    assert_eq!(s.decide(6, at(start, 480)).desired_replicas, 8);
}

#[test]
fn the_largest_scale_up_wins_and_max_replicas_caps_it() {
    let start = Instant::now();
    let mut s = StepScaler::new(StepScalingConfig::operator_defaults()).unwrap();
    feed(&mut s, start, MEM, 0.9, 0, 180); // +1
    feed(&mut s, start, step_metric::LATENCY_P95_SECONDS, 1.5, 0, 180); // +2
    feed(&mut s, start, step_metric::QUEUE_LENGTH, 500.0, 0, 180); // +1
    assert_eq!(s.firing(), vec![1, 2, 3]);
    let d = s.decide(10, at(start, 180));
    assert_eq!(
        (d.desired_replicas, d.reason),
        (12, StepReason::RuleFired(2))
    );
    let d = s.decide(20, at(start, 900));
    assert_eq!((d.desired_replicas, d.reason), (20, StepReason::AtLimit(2)));
}

#[test]
fn scale_down_needs_every_condition_for_ten_minutes() {
    let start = Instant::now();
    let mut s = StepScaler::new(StepScalingConfig::operator_defaults()).unwrap();
    feed(&mut s, start, CPU, 0.2, 0, 600);
    feed(&mut s, start, MEM, 0.6, 0, 600); // memory not low: no scale down
    assert_eq!(s.decide(5, at(start, 600)).desired_replicas, 5);
    feed(&mut s, start, CPU, 0.2, 630, 1200);
    feed(&mut s, start, MEM, 0.4, 630, 1200); // low from 630 s: fires at 1230 s
    assert_eq!(s.decide(5, at(start, 1200)).desired_replicas, 5);
    feed(&mut s, start, CPU, 0.2, 1230, 1230);
    feed(&mut s, start, MEM, 0.4, 1230, 1230);
    let d = s.decide(5, at(start, 1230));
    assert_eq!(
        (d.desired_replicas, d.reason),
        (4, StepReason::RuleFired(4))
    );
    // Down to min 2 and no further.
    feed(&mut s, start, CPU, 0.2, 1260, 3000);
    feed(&mut s, start, MEM, 0.4, 1260, 3000);
    assert_eq!(s.decide(2, at(start, 3000)).reason, StepReason::AtLimit(4));
}

#[test]
fn a_scale_up_beats_a_scale_down_and_out_of_range_counts_are_clamped() {
    let start = Instant::now();
    let rules = vec![
        StepRule::when(
            ha_core::AlertRule::new(
                "hot",
                CPU,
                ha_core::Comparison::Above,
                0.5,
                Duration::ZERO,
                ha_core::Severity::Warning,
            ),
            1,
        ),
        StepRule::when(
            ha_core::AlertRule::new(
                "any",
                CPU,
                ha_core::Comparison::AtOrAbove,
                0.0,
                Duration::ZERO,
                ha_core::Severity::Warning,
            ),
            -3,
        ),
    ];
    let config = StepScalingConfig {
        rules,
        ..StepScalingConfig::operator_defaults()
    };
    let mut s = StepScaler::new(config).unwrap();
    s.observe(CPU, 0.9, start).unwrap();
    assert_eq!(s.decide(5, start).desired_replicas, 6);
    let d = s.decide(30, at(start, 1));
    assert_eq!((d.desired_replicas, d.reason), (20, StepReason::OutOfRange));
}

#[test]
fn bad_samples_and_settings_are_refused() {
    let start = Instant::now();
    let mut s = StepScaler::new(StepScalingConfig::operator_defaults()).unwrap();
    assert!(matches!(
        s.observe(CPU, f64::NAN, start).unwrap_err(),
        Error::Core(ha_core::Error::NotFinite { .. })
    ));
    s.observe(CPU, 0.5, at(start, 60)).unwrap();
    assert!(matches!(
        s.observe(CPU, 0.5, at(start, 30)).unwrap_err(),
        Error::Core(ha_core::Error::OutOfOrder { .. })
    ));
    let inverted = StepScalingConfig {
        min_replicas: 5,
        max_replicas: 2,
        ..StepScalingConfig::operator_defaults()
    };
    assert!(StepScaler::new(inverted).is_err());
    let mut zero_change = StepScalingConfig::operator_defaults();
    zero_change.rules[0].change = 0;
    assert!(matches!(
        zero_change.validate().unwrap_err(),
        Error::Core(ha_core::Error::Zero { .. })
    ));
    let mut no_conditions = StepScalingConfig::operator_defaults();
    no_conditions.rules[0].conditions.clear();
    assert!(no_conditions.validate().is_err());
    let mut nan_threshold = StepScalingConfig::operator_defaults();
    nan_threshold.rules[0].conditions[0].threshold = f64::NAN;
    assert!(nan_threshold.validate().is_err());
}

#[test]
fn queue_target_drains_the_backlog_in_time() {
    let target = QueueTarget {
        per_replica_throughput: 10.0,
        drain_time: Duration::from_secs(120),
        min_replicas: 2,
        max_replicas: 50,
    };
    assert_eq!(target.replicas(12_000.0, 0.0).unwrap(), 10);
    assert_eq!(target.replicas(12_001.0, 0.0).unwrap(), 11);
    assert_eq!(target.replicas(0.0, 35.0).unwrap(), 4);
    assert_eq!(target.replicas(1e12, 0.0).unwrap(), 50);
    assert_eq!(target.replicas(10.0, 0.0).unwrap(), 2);
    for bad in [-1.0, f64::NAN, f64::INFINITY] {
        assert!(target.replicas(bad, 0.0).is_err());
        assert!(target.replicas(0.0, bad).is_err());
    }
    let zero = QueueTarget {
        per_replica_throughput: 0.0,
        ..target
    };
    assert!(zero.validate().is_err());
    let no_drain = QueueTarget {
        drain_time: Duration::ZERO,
        ..target
    };
    assert!(no_drain.validate().is_err());
}

#[test]
fn latency_target_scales_in_proportion() {
    let ms = Duration::from_millis;
    let t = Tolerance::default();
    assert_eq!(
        latency_target_replicas(10, ms(500), ms(1000), t, 2, 50).unwrap(),
        5
    );
    assert_eq!(
        latency_target_replicas(10, ms(3000), ms(1000), t, 2, 20).unwrap(),
        20
    );
    assert_eq!(
        latency_target_replicas(10, ms(950), ms(1000), t, 2, 50).unwrap(),
        10
    );
    assert!(latency_target_replicas(10, ms(950), Duration::ZERO, t, 2, 50).is_err());
    assert!(latency_target_replicas(10, ms(950), ms(1000), t, 5, 2).is_err());
}

#[test]
fn queue_target_does_not_bump_an_exact_multiple_by_float_error() {
    // 21 / 10 s = 2.1 items/s over 0.3 items/s per replica is exactly 7; f64 gives 7.000…01.
    let target = QueueTarget {
        per_replica_throughput: 0.3,
        drain_time: Duration::from_secs(10),
        min_replicas: 0,
        max_replicas: 100,
    };
    assert_eq!(target.replicas(21.0, 0.0).unwrap(), 7);
    assert_eq!(target.replicas(0.0, 2.1).unwrap(), 7);
    // Just above an exact multiple still rounds up.
    assert_eq!(target.replicas(21.01, 0.0).unwrap(), 8);
    assert_eq!(target.replicas(0.0, 0.0).unwrap(), 0);
}

#[test]
fn queue_and_latency_targets_refuse_max_replicas_zero() {
    let target = QueueTarget {
        min_replicas: 0,
        max_replicas: 0,
        ..QueueTarget::default()
    };
    assert!(matches!(
        target.validate(),
        Err(Error::Core(ha_core::Error::Zero { .. }))
    ));
    assert!(target.replicas(10.0, 0.0).is_err());
    let ms = Duration::from_millis;
    assert!(matches!(
        latency_target_replicas(0, ms(10), ms(100), Tolerance::default(), 0, 0),
        Err(Error::Core(ha_core::Error::Zero { .. }))
    ));
}

#[test]
fn latency_target_scales_up_from_zero_when_requests_wait() {
    let ms = Duration::from_millis;
    let t = Tolerance::default();
    // Latency observed with no replicas means requests are waiting: at least one replica.
    assert_eq!(
        latency_target_replicas(0, ms(3000), ms(1000), t, 0, 20).unwrap(),
        1
    );
    assert_eq!(
        latency_target_replicas(0, ms(100), ms(1000), t, 0, 20).unwrap(),
        1
    );
    assert_eq!(
        latency_target_replicas(0, ms(3000), ms(1000), t, 3, 20).unwrap(),
        3
    );
    // No latency at zero replicas is no demand: stay at zero.
    assert_eq!(
        latency_target_replicas(0, Duration::ZERO, ms(1000), t, 0, 20).unwrap(),
        0
    );
}
