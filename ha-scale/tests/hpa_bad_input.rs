//! Bad settings and bad observations give typed errors, never a panic, and change nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use ha_scale::{
    Autoscaler, AutoscalerConfig, Behavior, ConditionReason, ConditionType, Error, MetricSpec,
    MetricValue, Observation, Pod, PodSample, Resource, ResourceTarget, ScalingPolicy,
    ScalingRules, SelectPolicy, Tolerance, ValueTarget,
};

fn cpu(percent: u32) -> MetricSpec {
    MetricSpec::Resource {
        resource: Resource::Cpu,
        target: ResourceTarget::Utilization(percent),
    }
}

fn with_metric(metric: MetricSpec) -> AutoscalerConfig {
    AutoscalerConfig {
        metrics: vec![metric],
        ..Default::default()
    }
}

fn first_error(err: Error) -> Error {
    match err {
        Error::InvalidMetrics { first, .. } => *first,
        other => other,
    }
}

fn pods(n: usize, start: Instant) -> Vec<Pod> {
    (0..n)
        .map(|i| Pod::running(format!("p{i}"), start).with_request(Resource::Cpu, 1.0))
        .collect()
}

fn samples(values: &[f64], now: Instant) -> MetricValue {
    MetricValue::PerPod(
        values
            .iter()
            .enumerate()
            .map(|(i, v)| PodSample::new(format!("p{i}"), *v, now))
            .collect(),
    )
}

#[test]
fn min_above_max_is_inverted() {
    let config = AutoscalerConfig {
        min_replicas: 5,
        max_replicas: 3,
        ..Default::default()
    };
    assert!(matches!(
        Autoscaler::new(config).unwrap_err(),
        Error::Core(ha_core::Error::Inverted { .. })
    ));
}

#[test]
fn zero_max_and_missing_metrics_are_refused() {
    let zero_max = AutoscalerConfig {
        min_replicas: 0,
        max_replicas: 0,
        ..Default::default()
    };
    assert!(matches!(
        zero_max.validate().unwrap_err(),
        Error::Core(ha_core::Error::Zero { .. })
    ));
    let none = AutoscalerConfig {
        metrics: vec![],
        ..Default::default()
    };
    assert_eq!(none.validate().unwrap_err(), Error::NoMetrics);
    let zero_min = AutoscalerConfig {
        min_replicas: 0,
        ..Default::default()
    };
    assert_eq!(
        zero_min.validate().unwrap_err(),
        Error::ScaleToZeroNeedsObjectOrExternalMetric
    );
}

#[test]
fn targets_at_or_below_zero_are_refused() {
    for metric in [
        cpu(0),
        MetricSpec::Resource {
            resource: Resource::Memory,
            target: ResourceTarget::AverageValue(-1.0),
        },
        MetricSpec::Pods {
            name: "qps".into(),
            average_value: 0.0,
        },
        MetricSpec::Object {
            name: "qps".into(),
            target: ValueTarget::Value(-5.0),
        },
        MetricSpec::External {
            name: "q".into(),
            target: ValueTarget::AverageValue(0.0004),
        },
    ] {
        let err = with_metric(metric.clone()).validate().unwrap_err();
        assert!(
            matches!(err, Error::NonPositiveTarget { metric: 0, .. }),
            "{metric:?}: {err}"
        );
    }
    let nan = MetricSpec::Object {
        name: "qps".into(),
        target: ValueTarget::Value(f64::NAN),
    };
    assert!(matches!(
        with_metric(nan).validate().unwrap_err(),
        Error::Core(ha_core::Error::NotFinite { .. })
    ));
}

#[test]
fn bad_behavior_and_tolerance_are_refused() {
    let with_up = |scale_up: ScalingRules| AutoscalerConfig {
        behavior: Some(Behavior {
            scale_up,
            ..Behavior::default()
        }),
        ..Default::default()
    };
    let zero_value = ScalingRules {
        policies: vec![ScalingPolicy::pods(0, Duration::from_secs(15))],
        ..ScalingRules::default_scale_up()
    };
    assert!(matches!(
        with_up(zero_value).validate().unwrap_err(),
        Error::ZeroPolicyValue { index: 0, .. }
    ));
    let zero_period = ScalingRules {
        policies: vec![ScalingPolicy::pods(1, Duration::ZERO)],
        ..ScalingRules::default_scale_up()
    };
    assert!(matches!(
        with_up(zero_period).validate().unwrap_err(),
        Error::Core(ha_core::Error::Zero { .. })
    ));
    let long_period = ScalingRules {
        policies: vec![ScalingPolicy::percent(10, Duration::from_secs(1801))],
        ..ScalingRules::default_scale_up()
    };
    assert!(matches!(
        with_up(long_period).validate().unwrap_err(),
        Error::Core(ha_core::Error::TooLarge { .. })
    ));
    let long_window = ScalingRules {
        stabilization_window: Duration::from_secs(3601),
        ..ScalingRules::default_scale_up()
    };
    assert!(matches!(
        with_up(long_window).validate().unwrap_err(),
        Error::Core(ha_core::Error::TooLarge { .. })
    ));
    let no_policies = ScalingRules {
        policies: vec![],
        ..ScalingRules::default_scale_up()
    };
    assert!(matches!(
        with_up(no_policies).validate().unwrap_err(),
        Error::NoPolicies { .. }
    ));
    let disabled = ScalingRules {
        select_policy: SelectPolicy::Disabled,
        policies: vec![],
        ..ScalingRules::default_scale_up()
    };
    assert!(with_up(disabled).validate().is_ok());
    for tolerance in [
        Tolerance::symmetric(f64::NAN),
        Tolerance::symmetric(-0.1),
        Tolerance {
            scale_down: 1.0,
            scale_up: 0.1,
        },
    ] {
        let config = AutoscalerConfig {
            tolerance,
            ..Default::default()
        };
        assert!(matches!(config.validate().unwrap_err(), Error::Core(_)));
    }
}

#[test]
fn negative_nan_and_infinite_metrics_are_refused() {
    let start = Instant::now();
    let now = start + Duration::from_secs(600);
    for bad in [-0.1, f64::NAN, f64::INFINITY, 2e15] {
        let mut hpa = Autoscaler::new(with_metric(cpu(50))).unwrap();
        let obs = Observation::new(3, pods(3, start), vec![samples(&[0.5, bad, 0.5], now)]);
        let err = first_error(hpa.decide(now, &obs).unwrap_err());
        assert!(
            matches!(err, Error::BadMetricValue { metric: 0, .. }),
            "{bad}: {err}"
        );
    }
    let object = MetricSpec::Object {
        name: "qps".into(),
        target: ValueTarget::Value(10.0),
    };
    let mut hpa = Autoscaler::new(with_metric(object)).unwrap();
    let obs = Observation::new(3, pods(3, start), vec![MetricValue::Object(f64::NAN)]);
    assert!(matches!(
        first_error(hpa.decide(now, &obs).unwrap_err()),
        Error::BadMetricValue { .. }
    ));
    let external = MetricSpec::External {
        name: "q".into(),
        target: ValueTarget::Value(10.0),
    };
    let mut hpa = Autoscaler::new(with_metric(external)).unwrap();
    let obs = Observation::new(
        3,
        pods(3, start),
        vec![MetricValue::External(vec![1.0, -3.0])],
    );
    assert!(matches!(
        first_error(hpa.decide(now, &obs).unwrap_err()),
        Error::BadMetricValue { .. }
    ));
}

#[test]
fn zero_missing_and_bad_requests_are_refused() {
    let start = Instant::now();
    let now = start + Duration::from_secs(600);
    let mut hpa = Autoscaler::new(with_metric(cpu(50))).unwrap();
    let zero: Vec<Pod> = (0..2)
        .map(|i| Pod::running(format!("p{i}"), start).with_request(Resource::Cpu, 0.0))
        .collect();
    let obs = Observation::new(2, zero, vec![samples(&[0.5, 0.5], now)]);
    assert!(matches!(
        first_error(hpa.decide(now, &obs).unwrap_err()),
        Error::ZeroRequests { .. }
    ));
    let missing = vec![Pod::running("p0", start), Pod::running("p1", start)];
    let obs = Observation::new(2, missing, vec![samples(&[0.5, 0.5], now)]);
    assert!(matches!(
        first_error(hpa.decide(now, &obs).unwrap_err()),
        Error::MissingRequest { .. }
    ));
    let nan = vec![Pod::running("p0", start).with_request(Resource::Cpu, f64::NAN)];
    let obs = Observation::new(1, nan, vec![samples(&[0.5], now)]);
    assert!(matches!(
        first_error(hpa.decide(now, &obs).unwrap_err()),
        Error::BadRequest { .. }
    ));
}

#[test]
fn malformed_observations_are_refused_and_change_nothing() {
    let start = Instant::now();
    let now = start + Duration::from_secs(600);
    let mut hpa = Autoscaler::new(with_metric(cpu(50))).unwrap();
    // Wrong number of metric values.
    let obs = Observation::new(2, pods(2, start), vec![]);
    assert!(matches!(
        hpa.decide(now, &obs).unwrap_err(),
        Error::MetricCountMismatch {
            configured: 1,
            given: 0
        }
    ));
    // A pod listed twice.
    let mut twice = pods(2, start);
    twice.push(twice[0].clone());
    let obs = Observation::new(2, twice, vec![samples(&[0.5, 0.5], now)]);
    assert!(matches!(
        hpa.decide(now, &obs).unwrap_err(),
        Error::DuplicatePod { .. }
    ));
    assert!(hpa.recommendations().entries().is_empty());
    // A pod sampled twice.
    let mut dup = vec![
        PodSample::new("p0", 0.5, now),
        PodSample::new("p1", 0.5, now),
    ];
    dup.push(dup[0].clone());
    let obs = Observation::new(2, pods(2, start), vec![MetricValue::PerPod(dup)]);
    assert!(matches!(
        first_error(hpa.decide(now, &obs).unwrap_err()),
        Error::DuplicatePod { .. }
    ));
    // A value of the wrong kind.
    let obs = Observation::new(2, pods(2, start), vec![MetricValue::Object(1.0)]);
    assert!(matches!(
        first_error(hpa.decide(now, &obs).unwrap_err()),
        Error::MetricKindMismatch { .. }
    ));
    // Only the initial recommendation was recorded by the failed decisions.
    assert_eq!(hpa.recommendations().entries().len(), 1);
    // Time running backwards.
    let obs = Observation::new(2, pods(2, start), vec![samples(&[0.5, 0.5], now)]);
    assert!(hpa.decide(now, &obs).is_ok());
    assert!(matches!(
        hpa.decide(now - Duration::from_secs(1), &obs).unwrap_err(),
        Error::Core(ha_core::Error::OutOfOrder { .. })
    ));
    assert_eq!(hpa.check_invariants(), Ok(()));
}

#[test]
fn no_pods_and_no_ready_samples_are_invalid_metrics() {
    let start = Instant::now();
    let now = start + Duration::from_secs(600);
    let mut hpa = Autoscaler::new(with_metric(cpu(50))).unwrap();
    let obs = Observation::new(2, vec![], vec![samples(&[0.5], now)]);
    assert!(matches!(
        first_error(hpa.decide(now, &obs).unwrap_err()),
        Error::NoPods { .. }
    ));
    let unready: Vec<Pod> = pods(2, start)
        .into_iter()
        .map(|p| p.unready_since(start))
        .collect();
    let obs = Observation::new(2, unready, vec![samples(&[0.5, 0.5], now)]);
    assert!(matches!(
        first_error(hpa.decide(now, &obs).unwrap_err()),
        Error::NoReadyPodMetrics { .. }
    ));
    let obs = Observation::new(
        2,
        pods(2, start),
        vec![MetricValue::Unavailable("api down".into())],
    );
    let err = hpa.decide(now, &obs).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid metrics (1 invalid out of 1), first error is: metric 0: unavailable: api down"
    );
}

/// Kubernetes' `GetExternalMetric` answers "no metrics returned from external metrics API" for
/// an empty series: the metric is invalid, never a usage of 0 that scales down — and it is not
/// fatal when another metric proposes a scale up.
#[test]
fn an_empty_external_series_is_an_invalid_metric_not_a_usage_of_zero() {
    let start = Instant::now();
    let now = start + Duration::from_secs(600);
    let external = MetricSpec::External {
        name: "queue".into(),
        target: ValueTarget::Value(10.0),
    };
    let config = AutoscalerConfig {
        min_replicas: 1,
        max_replicas: 10,
        metrics: vec![external.clone()],
        ..Default::default()
    };
    let mut hpa = Autoscaler::new(config).unwrap();
    let obs = Observation::new(5, pods(5, start), vec![MetricValue::External(vec![])]);
    assert_eq!(
        first_error(hpa.decide(now, &obs).unwrap_err()),
        Error::EmptyExternalMetric { metric: 0 }
    );
    // With a CPU metric proposing a scale up, the empty series is reported and the scale up goes on.
    let config = AutoscalerConfig {
        min_replicas: 1,
        max_replicas: 10,
        metrics: vec![cpu(50), external],
        ..Default::default()
    };
    let mut hpa = Autoscaler::new(config).unwrap();
    let obs = Observation::new(
        2,
        pods(2, start),
        vec![samples(&[0.9, 0.9], now), MetricValue::External(vec![])],
    );
    let decision = hpa.decide(now, &obs).unwrap();
    assert_eq!(decision.desired_replicas, 4);
    assert_eq!(
        decision.metrics[1].error,
        Some(Error::EmptyExternalMetric { metric: 1 })
    );
}

/// Kubernetes keeps the replicas when the metrics are invalid and sets `ScalingActive` false with
/// the first invalid metric's `FailedGet*Metric` reason: that status reaches the caller with the
/// error, for all-invalid metrics and for an invalid metric beside a scale-down proposal.
#[test]
fn invalid_metrics_carry_the_scaling_active_false_reason_and_the_unchanged_decision() {
    let start = Instant::now();
    let now = start + Duration::from_secs(600);
    let external = MetricSpec::External {
        name: "queue".into(),
        target: ValueTarget::Value(10.0),
    };
    let config = AutoscalerConfig {
        metrics: vec![external, cpu(50)],
        ..Default::default()
    };
    let mut hpa = Autoscaler::new(config).unwrap();
    let obs = Observation::new(
        3,
        pods(3, start),
        vec![
            MetricValue::Unavailable("api down".into()),
            MetricValue::Unavailable("no samples".into()),
        ],
    );
    match hpa.decide(now, &obs).unwrap_err() {
        Error::InvalidMetrics {
            invalid: 2,
            total: 2,
            reason,
            decision,
            ..
        } => {
            assert_eq!(reason, ConditionReason::FailedGetExternalMetric);
            assert_eq!(decision.desired_replicas, 3);
            assert!(!decision.rescale());
            assert_eq!(
                decision.reason(ConditionType::ScalingActive),
                Some(ConditionReason::FailedGetExternalMetric)
            );
            assert_eq!(decision.metrics.len(), 2);
            assert_eq!(
                decision.metrics[1].failure,
                Some(ConditionReason::FailedGetResourceMetric)
            );
        }
        other => panic!("expected InvalidMetrics, got {other:?}"),
    }
    // CPU well below target (a scale down) beside an invalid external metric.
    let obs = Observation::new(
        3,
        pods(3, start),
        vec![
            MetricValue::Unavailable("api down".into()),
            samples(&[0.05, 0.05, 0.05], now),
        ],
    );
    match hpa.decide(now, &obs).unwrap_err() {
        Error::InvalidMetrics {
            invalid: 1,
            reason,
            decision,
            ..
        } => {
            assert_eq!(reason, ConditionReason::FailedGetExternalMetric);
            assert_eq!(decision.desired_replicas, 3);
            assert!(decision.metrics[1].proposal.is_some());
        }
        other => panic!("expected InvalidMetrics, got {other:?}"),
    }
}
