//! Kubernetes conformance: the scenarios of Kubernetes' HPA tests, reproduced as our own table.
//!
//! Sources, all in kubernetes/kubernetes `pkg/controller/podautoscaler/`:
//! - `replica_calculator_test.go` — one metric's proposal (`TestReplicaCalc*`);
//! - `horizontal_test.go` — the controller: several metrics (`TestScaleUpOneMetricEmpty`, ...),
//!   rate policies (`TestScalingWithRules`, by case name), stabilization
//!   (`TestNormalizeDesiredReplicas`, `TestNormalizeDesiredReplicasWithBehavior`, by case name)
//!   and scale events (`TestStoreScaleEvents`).
//!
//! Each case names its source. The Kubernetes harness gives every pod two containers with the
//! listed request and usage each; a pod here carries the sums. Its "zero" times (a pod start or
//! readiness change never set) are one day before `now` here; a "hot" pod started at `now`.
//! Cases of `TestScalingWithRules` call Kubernetes' rate conversion alone; here they run through
//! the whole [`Autoscaler`] with zero stabilization windows and zero tolerance, the proposal
//! coming from an external average-value metric (target 1, value = the proposal).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use ha_scale::{
    Autoscaler, AutoscalerConfig, Behavior, ConditionReason, ConditionType, CurrentMetric,
    Decision, Error, MetricSpec, MetricValue, Observation, Pod, PodPhase, PodSample,
    Recommendation, Recommendations, Resource, ResourceTarget, ScaleEvent, ScaleEvents,
    ScalingPolicy, ScalingRules, SelectPolicy, Tolerance, ValueTarget,
};

const DAY: Duration = Duration::from_secs(86_400);

/// One `replicaCalcTestCase`.
#[derive(Default)]
struct Calc {
    current: u32,
    readiness: Vec<bool>,
    hot: Vec<bool>,
    phase: Vec<PodPhase>,
    deleting: Vec<bool>,
    /// CPU: per-container requests (cores) and usage levels (millicores); pod names override.
    requests: Vec<f64>,
    levels: Vec<i64>,
    pod_names: Vec<String>,
    target_percent: u32,
    /// A metric instead of CPU.
    metric: Option<(MetricSpec, MetricValue)>,
    expected: u32,
    expected_utilization: Option<i64>,
    expected_average: Option<f64>,
}

impl Calc {
    fn pods(&self, now: Instant) -> Vec<Pod> {
        let zero = now - DAY;
        let count = (self.current as usize).max(self.phase.len());
        (0..count)
            .map(|i| {
                let ready = self.readiness.get(i).copied().unwrap_or(true);
                let hot = self.hot.get(i).copied().unwrap_or(false);
                let mut pod = Pod::running(format!("test-pod-{i}"), if hot { now } else { zero });
                pod.ready = Some(ha_scale::ReadyCondition {
                    ready,
                    last_transition: zero,
                });
                pod.phase = self.phase.get(i).copied().unwrap_or(PodPhase::Running);
                pod.deleting = self.deleting.get(i).copied().unwrap_or(false);
                if let Some(r) = self.requests.get(i) {
                    pod = pod.with_request(Resource::Cpu, 2.0 * r);
                }
                pod
            })
            .collect()
    }

    fn run(self) -> Decision {
        let now = Instant::now() + DAY * 2;
        let (spec, value) = match &self.metric {
            Some((spec, value)) => (spec.clone(), value.clone()),
            None => {
                let samples = self
                    .levels
                    .iter()
                    .enumerate()
                    .map(|(i, level)| {
                        let name = self
                            .pod_names
                            .get(i)
                            .cloned()
                            .unwrap_or_else(|| format!("test-pod-{i}"));
                        // Two containers, each at `level` millicores; sampled at the zero time.
                        PodSample::new(name, 2.0 * *level as f64 / 1000.0, now - DAY)
                    })
                    .collect();
                (
                    MetricSpec::Resource {
                        resource: Resource::Cpu,
                        target: ResourceTarget::Utilization(self.target_percent),
                    },
                    MetricValue::PerPod(samples),
                )
            }
        };
        let config = AutoscalerConfig {
            min_replicas: 1,
            max_replicas: 10_000,
            metrics: vec![spec],
            cpu_initialization_period: Duration::from_secs(120),
            initial_readiness_delay: Duration::from_secs(10),
            ..Default::default()
        };
        let mut hpa = Autoscaler::new(config).unwrap();
        let observation = Observation::new(self.current, self.pods(now), vec![value]);
        let decision = hpa.decide(now, &observation).unwrap();
        assert_eq!(decision.metric_replicas, Some(self.expected), "proposal");
        let current = decision.metrics[0].current().unwrap();
        if let Some(u) = self.expected_utilization {
            assert_eq!(current.average_utilization_percent, Some(u), "utilization");
        }
        if let Some(v) = self.expected_average {
            let got = current.average_value.or(current.value).unwrap();
            assert!((got - v).abs() < 1e-9, "current value {got}, expected {v}");
        }
        decision
    }

    fn error(self) -> Error {
        let now = Instant::now() + DAY * 2;
        let (spec, value) = self.metric.clone().unwrap_or_else(|| {
            let samples = self
                .levels
                .iter()
                .enumerate()
                .map(|(i, level)| {
                    let name = self
                        .pod_names
                        .get(i)
                        .cloned()
                        .unwrap_or_else(|| format!("test-pod-{i}"));
                    PodSample::new(name, 2.0 * *level as f64 / 1000.0, now - DAY)
                })
                .collect();
            (
                MetricSpec::Resource {
                    resource: Resource::Cpu,
                    target: ResourceTarget::Utilization(self.target_percent),
                },
                MetricValue::PerPod(samples),
            )
        });
        let config = AutoscalerConfig {
            min_replicas: 1,
            max_replicas: 10_000,
            metrics: vec![spec],
            ..Default::default()
        };
        let mut hpa = Autoscaler::new(config).unwrap();
        let observation = Observation::new(self.current, self.pods(now), vec![value]);
        match hpa.decide(now, &observation).unwrap_err() {
            Error::InvalidMetrics { first, .. } => *first,
            other => other,
        }
    }
}

fn cpu(current: u32, requests: &[f64], levels: &[i64], target: u32, expected: u32) -> Calc {
    Calc {
        current,
        requests: requests.to_vec(),
        levels: levels.to_vec(),
        target_percent: target,
        expected,
        ..Calc::default()
    }
}

fn pods_metric(levels: &[i64], target: i64) -> (MetricSpec, MetricValue) {
    let now = Instant::now();
    let samples = levels
        .iter()
        .enumerate()
        .map(|(i, l)| PodSample::new(format!("test-pod-{i}"), *l as f64 / 1000.0, now))
        .collect();
    (
        MetricSpec::Pods {
            name: "qps".into(),
            average_value: target as f64 / 1000.0,
        },
        MetricValue::PerPod(samples),
    )
}

fn object(level: i64, target: ValueTarget) -> (MetricSpec, MetricValue) {
    (
        MetricSpec::Object {
            name: "qps".into(),
            target,
        },
        MetricValue::Object(level as f64 / 1000.0),
    )
}

fn external(level: i64, target: ValueTarget) -> (MetricSpec, MetricValue) {
    (
        MetricSpec::External {
            name: "qps".into(),
            target,
        },
        MetricValue::External(vec![level as f64 / 1000.0]),
    )
}

fn milli(m: i64) -> f64 {
    m as f64 / 1000.0
}

// ---------------------------------------------------------------- replica_calculator_test.go

/// TestReplicaCalcDisjointResourcesMetrics: samples of no known pod.
#[test]
fn replica_calc_disjoint_resources_metrics() {
    let calc = Calc {
        pod_names: vec!["an-older-pod-name".into()],
        ..cpu(1, &[1.0], &[100], 100, 0)
    };
    assert!(matches!(calc.error(), Error::ZeroRequests { .. }));
}

/// TestReplicaCalcScaleUp
#[test]
fn replica_calc_scale_up() {
    Calc {
        expected_utilization: Some(50),
        expected_average: Some(1.0),
        ..cpu(3, &[1.0; 3], &[300, 500, 700], 30, 5)
    }
    .run();
}

/// TestReplicaCalcScaleUpUnreadyLessScale
#[test]
fn replica_calc_scale_up_unready_less_scale() {
    Calc {
        readiness: vec![false, true, true],
        expected_utilization: Some(60),
        ..cpu(3, &[1.0; 3], &[300, 500, 700], 30, 4)
    }
    .run();
}

/// TestReplicaCalcScaleUpHotCpuLessScale
#[test]
fn replica_calc_scale_up_hot_cpu_less_scale() {
    Calc {
        hot: vec![true, false, false],
        expected_utilization: Some(60),
        ..cpu(3, &[1.0; 3], &[300, 500, 700], 30, 4)
    }
    .run();
}

/// TestReplicaCalcScaleUpUnreadyNoScale
#[test]
fn replica_calc_scale_up_unready_no_scale() {
    Calc {
        readiness: vec![true, false, false],
        expected_utilization: Some(40),
        ..cpu(3, &[1.0; 3], &[400, 500, 700], 30, 3)
    }
    .run();
}

/// TestReplicaCalcScaleHotCpuNoScale
#[test]
fn replica_calc_scale_hot_cpu_no_scale() {
    Calc {
        readiness: vec![true, false, false],
        hot: vec![false, true, true],
        expected_utilization: Some(40),
        ..cpu(3, &[1.0; 3], &[400, 500, 700], 30, 3)
    }
    .run();
}

/// TestReplicaCalcScaleUpIgnoresFailedPods
#[test]
fn replica_calc_scale_up_ignores_failed_pods() {
    use PodPhase::{Failed, Running};
    Calc {
        readiness: vec![true, true, false, false],
        phase: vec![Running, Running, Failed, Failed],
        expected_utilization: Some(60),
        ..cpu(2, &[1.0; 4], &[500, 700], 30, 4)
    }
    .run();
}

/// TestReplicaCalcScaleUpIgnoresDeletionPods
#[test]
fn replica_calc_scale_up_ignores_deletion_pods() {
    Calc {
        readiness: vec![true, true, false, false],
        phase: vec![PodPhase::Running; 4],
        deleting: vec![false, false, true, true],
        expected_utilization: Some(60),
        ..cpu(2, &[1.0; 4], &[500, 700], 30, 4)
    }
    .run();
}

/// TestReplicaCalcScaleUpCM
#[test]
fn replica_calc_scale_up_cm() {
    Calc {
        current: 3,
        metric: Some(pods_metric(&[20000, 10000, 30000], 15000)),
        expected: 4,
        expected_average: Some(20.0),
        ..Calc::default()
    }
    .run();
}

/// TestReplicaCalcScaleUpCMUnreadyHotCpuNoLessScale: readiness rules are for CPU only.
#[test]
fn replica_calc_scale_up_cm_unready_hot_cpu_no_less_scale() {
    Calc {
        current: 3,
        readiness: vec![true, true, false],
        hot: vec![false, false, true],
        metric: Some(pods_metric(&[50000, 10000, 30000], 15000)),
        expected: 6,
        expected_average: Some(30.0),
        ..Calc::default()
    }
    .run();
}

/// TestReplicaCalcScaleUpCMUnreadyHotCpuScaleWouldScaleDown: the mean is truncated (31666m).
#[test]
fn replica_calc_scale_up_cm_unready_hot_cpu_scale_would_scale_down() {
    Calc {
        current: 3,
        readiness: vec![false, true, false],
        hot: vec![true, false, true],
        metric: Some(pods_metric(&[50000, 15000, 30000], 15000)),
        expected: 7,
        expected_average: Some(31.666),
        ..Calc::default()
    }
    .run();
}

/// TestReplicaCalcScaleUpCMObject
#[test]
fn replica_calc_scale_up_cm_object() {
    Calc {
        current: 3,
        metric: Some(object(20000, ValueTarget::Value(15.0))),
        expected: 4,
        expected_average: Some(20.0),
        ..Calc::default()
    }
    .run();
}

/// TestReplicaCalcScaleUpCMPerPodObject
#[test]
fn replica_calc_scale_up_cm_per_pod_object() {
    Calc {
        current: 3,
        metric: Some(object(20000, ValueTarget::AverageValue(5.0))),
        expected: 4,
        expected_average: Some(6.667),
        ..Calc::default()
    }
    .run();
}

/// TestReplicaCalcScaleUpCMObjectIgnoresUnreadyPods: ceil(5 × 1 ready pod), not 15.
#[test]
fn replica_calc_scale_up_cm_object_ignores_unready_pods() {
    Calc {
        current: 3,
        readiness: vec![false, true, false],
        metric: Some(object(50000, ValueTarget::Value(10.0))),
        expected: 5,
        ..Calc::default()
    }
    .run();
}

/// TestReplicaCalcScaleUpCMExternal
#[test]
fn replica_calc_scale_up_cm_external() {
    Calc {
        current: 1,
        metric: Some(external(8600, ValueTarget::Value(4.4))),
        expected: 2,
        ..Calc::default()
    }
    .run();
}

/// TestReplicaCalcScaleUpCMExternalIgnoresUnreadyPods: 2, not 6.
#[test]
fn replica_calc_scale_up_cm_external_ignores_unready_pods() {
    Calc {
        current: 3,
        readiness: vec![false, true, false],
        metric: Some(external(8600, ValueTarget::Value(4.4))),
        expected: 2,
        ..Calc::default()
    }
    .run();
}

/// TestReplicaCalcScaleUpPerPodCMExternal
#[test]
fn replica_calc_scale_up_per_pod_cm_external() {
    Calc {
        current: 3,
        metric: Some(external(8600, ValueTarget::AverageValue(2.15))),
        expected: 4,
        expected_average: Some(2.867),
        ..Calc::default()
    }
    .run();
}

/// TestReplicaCalcScaleDown
#[test]
fn replica_calc_scale_down() {
    Calc {
        expected_utilization: Some(28),
        expected_average: Some(0.56),
        ..cpu(5, &[1.0; 5], &[100, 300, 500, 250, 250], 50, 3)
    }
    .run();
}

/// TestReplicaCalcScaleDownCM
#[test]
fn replica_calc_scale_down_cm() {
    Calc {
        current: 5,
        metric: Some(pods_metric(&[12000; 5], 20000)),
        expected: 3,
        ..Calc::default()
    }
    .run();
}

/// TestReplicaCalcScaleDownPerPodCMObject
#[test]
fn replica_calc_scale_down_per_pod_cm_object() {
    Calc {
        current: 5,
        metric: Some(object(6000, ValueTarget::AverageValue(2.0))),
        expected: 3,
        expected_average: Some(1.2),
        ..Calc::default()
    }
    .run();
}

/// TestReplicaCalcScaleDownCMObject
#[test]
fn replica_calc_scale_down_cm_object() {
    Calc {
        current: 5,
        metric: Some(object(12000, ValueTarget::Value(20.0))),
        expected: 3,
        ..Calc::default()
    }
    .run();
}

/// TestReplicaCalcScaleDownCMExternal
#[test]
fn replica_calc_scale_down_cm_external() {
    Calc {
        current: 5,
        metric: Some(external(8600, ValueTarget::Value(milli(14334)))),
        expected: 3,
        ..Calc::default()
    }
    .run();
}

/// TestReplicaCalcScaleDownPerPodCMExternal
#[test]
fn replica_calc_scale_down_per_pod_cm_external() {
    Calc {
        current: 5,
        metric: Some(external(8600, ValueTarget::AverageValue(milli(2867)))),
        expected: 3,
        expected_average: Some(1.72),
        ..Calc::default()
    }
    .run();
}

/// TestReplicaCalcScaleDownIncludeUnreadyPods
#[test]
fn replica_calc_scale_down_include_unready_pods() {
    Calc {
        readiness: vec![true, true, true, false, false],
        expected_utilization: Some(30),
        ..cpu(5, &[1.0; 5], &[100, 300, 500, 250, 250], 50, 2)
    }
    .run();
}

/// TestReplicaCalcScaleDownExcludeUnscheduledPods
#[test]
fn replica_calc_scale_down_exclude_unscheduled_pods() {
    use PodPhase::{Pending, Running};
    Calc {
        readiness: vec![true, false, false, false, false],
        phase: vec![Running, Pending, Pending, Pending, Pending],
        expected_utilization: Some(10),
        ..cpu(5, &[1.0; 5], &[100], 50, 1)
    }
    .run();
}

/// TestReplicaCalcScaleDownIgnoreHotCpuPods
#[test]
fn replica_calc_scale_down_ignore_hot_cpu_pods() {
    Calc {
        hot: vec![false, false, false, true, true],
        expected_utilization: Some(30),
        ..cpu(5, &[1.0; 5], &[100, 300, 500, 250, 250], 50, 2)
    }
    .run();
}

/// TestReplicaCalcScaleDownIgnoresFailedPods
#[test]
fn replica_calc_scale_down_ignores_failed_pods() {
    use PodPhase::{Failed, Running};
    Calc {
        readiness: vec![true, true, true, true, true, false, false],
        phase: vec![Running, Running, Running, Running, Running, Failed, Failed],
        expected_utilization: Some(28),
        ..cpu(5, &[1.0; 7], &[100, 300, 500, 250, 250], 50, 3)
    }
    .run();
}

/// TestReplicaCalcScaleDownIgnoresDeletionPods
#[test]
fn replica_calc_scale_down_ignores_deletion_pods() {
    Calc {
        readiness: vec![true, true, true, true, true, false, false],
        phase: vec![PodPhase::Running; 7],
        deleting: vec![false, false, false, false, false, true, true],
        expected_utilization: Some(28),
        ..cpu(5, &[1.0; 7], &[100, 300, 500, 250, 250], 50, 3)
    }
    .run();
}

/// TestReplicaCalcTolerance: 102% against 100% stays.
#[test]
fn replica_calc_tolerance() {
    Calc {
        expected_utilization: Some(102),
        ..cpu(3, &[0.9, 1.0, 1.1], &[1010, 1030, 1020], 100, 3)
    }
    .run();
}

/// TestReplicaCalcToleranceCM
#[test]
fn replica_calc_tolerance_cm() {
    Calc {
        current: 3,
        metric: Some(pods_metric(&[20000, 21000, 21000], 20000)),
        expected: 3,
        expected_average: Some(20.666),
        ..Calc::default()
    }
    .run();
}

/// TestReplicaCalcToleranceCMObject
#[test]
fn replica_calc_tolerance_cm_object() {
    Calc {
        current: 3,
        metric: Some(object(20666, ValueTarget::Value(20.0))),
        expected: 3,
        ..Calc::default()
    }
    .run();
}

/// TestReplicaCalcTolerancePerPodCMObject
#[test]
fn replica_calc_tolerance_per_pod_cm_object() {
    Calc {
        current: 4,
        metric: Some(object(20166, ValueTarget::AverageValue(5.0))),
        expected: 4,
        expected_average: Some(5.042),
        ..Calc::default()
    }
    .run();
}

/// TestReplicaCalcToleranceCMExternal
#[test]
fn replica_calc_tolerance_cm_external() {
    Calc {
        current: 3,
        metric: Some(external(8600, ValueTarget::Value(8.888))),
        expected: 3,
        ..Calc::default()
    }
    .run();
}

/// TestReplicaCalcTolerancePerPodCMExternal
#[test]
fn replica_calc_tolerance_per_pod_cm_external() {
    Calc {
        current: 3,
        metric: Some(external(8600, ValueTarget::AverageValue(2.9))),
        expected: 3,
        ..Calc::default()
    }
    .run();
}

/// TestReplicaCalcSuperfluousMetrics: samples of unknown pods count in the pod total only.
#[test]
fn replica_calc_superfluous_metrics() {
    Calc {
        expected_utilization: Some(587),
        expected_average: Some(11.75),
        ..cpu(4, &[1.0; 4], &[4000, 9500, 3000, 7000, 3200, 2000], 100, 24)
    }
    .run();
}

/// TestReplicaCalcMissingMetrics: missing pods count at 100% of their request on a scale down.
#[test]
fn replica_calc_missing_metrics() {
    Calc {
        expected_utilization: Some(24),
        expected_average: Some(0.495),
        ..cpu(4, &[1.0; 4], &[400, 95], 100, 3)
    }
    .run();
}

/// TestReplicaCalcEmptyCPURequest
#[test]
fn replica_calc_empty_cpu_request() {
    let err = cpu(1, &[], &[200], 100, 0).error();
    assert!(matches!(err, Error::MissingRequest { .. }), "{err}");
}

/// TestReplicaCalcMissingMetricsNoChangeEq
#[test]
fn replica_calc_missing_metrics_no_change_eq() {
    Calc {
        expected_utilization: Some(100),
        ..cpu(2, &[1.0; 2], &[1000], 100, 2)
    }
    .run();
}

/// TestReplicaCalcMissingMetricsNoChangeGt: the missing pod at 0 reverses the scale up.
#[test]
fn replica_calc_missing_metrics_no_change_gt() {
    Calc {
        expected_utilization: Some(190),
        ..cpu(2, &[1.0; 2], &[1900], 100, 2)
    }
    .run();
}

/// TestReplicaCalcMissingMetricsNoChangeLt: the missing pod at 100% reverses the scale down.
#[test]
fn replica_calc_missing_metrics_no_change_lt() {
    Calc {
        expected_utilization: Some(60),
        ..cpu(2, &[1.0; 2], &[600], 100, 2)
    }
    .run();
}

/// TestReplicaCalcMissingMetricsUnreadyChange
#[test]
fn replica_calc_missing_metrics_unready_change() {
    Calc {
        readiness: vec![false, true, true],
        expected_utilization: Some(45),
        ..cpu(3, &[1.0; 3], &[100, 450], 50, 3)
    }
    .run();
}

/// TestReplicaCalcMissingMetricsHotCpuNoChange
#[test]
fn replica_calc_missing_metrics_hot_cpu_no_change() {
    Calc {
        hot: vec![true, false, false],
        expected_utilization: Some(45),
        ..cpu(3, &[1.0; 3], &[100, 450], 50, 3)
    }
    .run();
}

/// TestReplicaCalcMissingMetricsUnreadyScaleUp
#[test]
fn replica_calc_missing_metrics_unready_scale_up() {
    Calc {
        readiness: vec![false, true, true],
        expected_utilization: Some(200),
        ..cpu(3, &[1.0; 3], &[100, 2000], 50, 4)
    }
    .run();
}

/// TestReplicaCalcMissingMetricsHotCpuScaleUp
#[test]
fn replica_calc_missing_metrics_hot_cpu_scale_up() {
    Calc {
        readiness: vec![false, true, true],
        hot: vec![true, false, false],
        expected_utilization: Some(200),
        ..cpu(3, &[1.0; 3], &[100, 2000], 50, 4)
    }
    .run();
}

/// TestReplicaCalcMissingMetricsUnreadyScaleDown
#[test]
fn replica_calc_missing_metrics_unready_scale_down() {
    Calc {
        readiness: vec![false, true, true, true],
        expected_utilization: Some(10),
        ..cpu(4, &[1.0; 4], &[100, 100, 100], 50, 3)
    }
    .run();
}

/// TestReplicaCalcDuringRollingUpdateWithMaxSurge: more pods than replicas; the count that
/// the assumptions give moves against the ratio, so nothing changes.
#[test]
fn replica_calc_during_rolling_update_with_max_surge() {
    Calc {
        phase: vec![PodPhase::Running; 3],
        expected_utilization: Some(10),
        ..cpu(2, &[1.0; 3], &[100, 100], 50, 2)
    }
    .run();
}

/// TestReplicaCalcComputedToleranceAlgImplementation: a target just past the tolerance
/// scales down to ceil(used / (requested × target) × 10); one just inside it does not.
#[test]
fn replica_calc_computed_tolerance_alg_implementation() {
    let per_pod_requested = 300i64; // 2 × 150m used per pod, in millicores
    let requests: Vec<f64> = [100, -100, 10, -10, 2, -2, 1, -1, 0, 0]
        .iter()
        .map(|d| (per_pod_requested + d) as f64 / 1000.0)
        .collect();
    let levels = [150i64; 10];
    // requestedToUsed = 2; target = 1 / (2 × 0.9) + 0.01 = 0.5655... → 56%.
    let target: f64 = 1.0 / (2.0 * (1.0 - 0.1)) + 0.01;
    let percent = (target * 100.0) as u32;
    let used_ratio = 1500.0 / (3000.0 * target);
    let expected = (used_ratio * 10.0).ceil() as u32;
    Calc {
        expected_utilization: Some(50),
        ..cpu(10, &requests, &levels, percent, expected)
    }
    .run();
    let percent = ((1.0 / (2.0 * (1.0 - 0.1)) + 0.004) * 100.0) as u32;
    cpu(10, &requests, &levels, percent, 10).run();
}

// ---------------------------------------------------------------- horizontal_test.go: metrics

fn cpu_case_pods(now: Instant, levels: &[f64]) -> (Vec<Pod>, MetricValue) {
    let pods = (0..levels.len())
        .map(|i| Pod::running(format!("p{i}"), now - DAY).with_request(Resource::Cpu, 1.0))
        .collect();
    let samples = levels
        .iter()
        .enumerate()
        .map(|(i, v)| PodSample::new(format!("p{i}"), *v, now))
        .collect();
    (pods, MetricValue::PerPod(samples))
}

/// TestScaleUpOneMetricEmpty: an external metric fails, CPU proposes a scale up: it goes on,
/// the invalid metric reported.
#[test]
fn scale_up_one_metric_empty() {
    let now = Instant::now() + DAY * 2;
    let config = AutoscalerConfig {
        min_replicas: 2,
        max_replicas: 6,
        metrics: vec![
            MetricSpec::Resource {
                resource: Resource::Cpu,
                target: ResourceTarget::Utilization(30),
            },
            MetricSpec::External {
                name: "qps".into(),
                target: ValueTarget::Value(0.1),
            },
        ],
        ..Default::default()
    };
    let mut hpa = Autoscaler::new(config).unwrap();
    let (pods, cpu) = cpu_case_pods(now, &[0.3, 0.4, 0.5]);
    let obs = Observation::new(
        3,
        pods,
        vec![cpu, MetricValue::Unavailable("something went wrong".into())],
    );
    let d = hpa.decide(now, &obs).unwrap();
    assert_eq!(d.desired_replicas, 4);
    assert_eq!(
        d.metrics[1].failure,
        Some(ConditionReason::FailedGetExternalMetric)
    );
    assert!(matches!(
        d.metrics[1].error,
        Some(Error::MetricUnavailable { .. })
    ));
    assert_eq!(
        d.reason(ConditionType::ScalingActive),
        Some(ConditionReason::ValidMetricFound)
    );
}

/// TestNoScaleDownOneMetricEmpty: an external metric fails, CPU proposes a scale down: no
/// decision.
#[test]
fn no_scale_down_one_metric_empty() {
    let now = Instant::now() + DAY * 2;
    let config = AutoscalerConfig {
        min_replicas: 2,
        max_replicas: 6,
        metrics: vec![
            MetricSpec::Resource {
                resource: Resource::Cpu,
                target: ResourceTarget::Utilization(50),
            },
            MetricSpec::External {
                name: "qps".into(),
                target: ValueTarget::Value(1.0),
            },
        ],
        ..Default::default()
    };
    let mut hpa = Autoscaler::new(config).unwrap();
    let (pods, cpu) = cpu_case_pods(now, &[0.1, 0.3, 0.5, 0.25, 0.25]);
    let obs = Observation::new(5, pods, vec![cpu, MetricValue::Unavailable("down".into())]);
    let err = hpa.decide(now, &obs).unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidMetrics {
                invalid: 1,
                total: 2,
                ..
            }
        ),
        "{err}"
    );
}

/// Our own case for `computeReplicasForMetrics`' rule that the largest proposal wins (CPU
/// proposes 4, a pods metric 6); the proposals themselves are those of TestReplicaCalcScaleUp's
/// CPU figures at a 30% target and of a qps pods metric.
#[test]
fn several_metrics_largest_proposal_wins() {
    let now = Instant::now() + DAY * 2;
    let (spec, value) = pods_metric(&[20000, 40000, 30000], 15000);
    let config = AutoscalerConfig {
        max_replicas: 20,
        metrics: vec![
            MetricSpec::Resource {
                resource: Resource::Cpu,
                target: ResourceTarget::Utilization(30),
            },
            spec,
        ],
        ..Default::default()
    };
    let mut hpa = Autoscaler::new(config).unwrap();
    let (pods, cpu) = cpu_case_pods(now, &[0.3, 0.4, 0.5]);
    let pods = pods
        .into_iter()
        .enumerate()
        .map(|(i, mut p)| {
            p.name = format!("test-pod-{i}");
            p
        })
        .collect();
    let cpu = match cpu {
        MetricValue::PerPod(s) => MetricValue::PerPod(
            s.into_iter()
                .enumerate()
                .map(|(i, mut s)| {
                    s.pod = format!("test-pod-{i}");
                    s
                })
                .collect(),
        ),
        other => other,
    };
    let d = hpa
        .decide(now, &Observation::new(3, pods, vec![cpu, value]))
        .unwrap();
    assert_eq!(d.metrics[0].proposal.unwrap().replicas, 4);
    assert_eq!(d.metrics[1].proposal.unwrap().replicas, 6);
    assert_eq!(
        (d.metric_replicas, d.metric, d.desired_replicas),
        (Some(6), Some(1), 6)
    );
    assert_eq!(
        d.rescale_reason.as_deref(),
        Some("pods metric qps above target")
    );
}

/// reconcileAutoscaler: current above max is brought to max, below min to min, without
/// consulting metrics; a target at zero with min > 0 is left alone (ScalingDisabled).
#[test]
fn reconcile_out_of_range_and_disabled() {
    let now = Instant::now();
    let config = AutoscalerConfig {
        min_replicas: 2,
        max_replicas: 5,
        ..Default::default()
    };
    let mut hpa = Autoscaler::new(config).unwrap();
    let unavailable = || vec![MetricValue::Unavailable("n/a".into())];
    let d = hpa
        .decide(now, &Observation::new(9, vec![], unavailable()))
        .unwrap();
    assert_eq!(d.desired_replicas, 5);
    let d = hpa
        .decide(now, &Observation::new(1, vec![], unavailable()))
        .unwrap();
    assert_eq!(d.desired_replicas, 2);
    let d = hpa
        .decide(now, &Observation::new(0, vec![], unavailable()))
        .unwrap();
    assert_eq!(d.desired_replicas, 0);
    assert_eq!(
        d.reason(ConditionType::ScalingActive),
        Some(ConditionReason::ScalingDisabled)
    );
}

/// getUsageRatioReplicaCount from zero replicas: ceil(ratio), no pods, no tolerance
/// (minReplicas 0 with an object metric).
#[test]
fn scale_from_zero_with_object_metric() {
    let now = Instant::now();
    let config = AutoscalerConfig {
        min_replicas: 0,
        max_replicas: 10,
        metrics: vec![MetricSpec::Object {
            name: "queue".into(),
            target: ValueTarget::Value(10.0),
        }],
        ..Default::default()
    };
    let mut hpa = Autoscaler::new(config).unwrap();
    let d = hpa
        .decide(
            now,
            &Observation::new(0, vec![], vec![MetricValue::Object(25.0)]),
        )
        .unwrap();
    assert_eq!((d.metric_replicas, d.desired_replicas), (Some(3), 3));
    // And back to zero once the queue is empty and the window has passed.
    let later = now + Duration::from_secs(301);
    let pods = (0..3).map(|i| Pod::running(format!("q{i}"), now)).collect();
    let d = hpa
        .decide(
            later,
            &Observation::new(3, pods, vec![MetricValue::Object(0.0)]),
        )
        .unwrap();
    assert_eq!(d.desired_replicas, 0);
}

// ---------------------------------------------------------------- horizontal_test.go: rules

/// `generateScalingRules`: a Pods and a Percent policy, each only when non-zero.
fn rules(pods: u32, pods_period: u64, percent: u32, percent_period: u64) -> ScalingRules {
    let mut policies = Vec::new();
    if pods != 0 {
        policies.push(ScalingPolicy::pods(pods, Duration::from_secs(pods_period)));
    }
    if percent != 0 {
        policies.push(ScalingPolicy::percent(
            percent,
            Duration::from_secs(percent_period),
        ));
    }
    ScalingRules {
        stabilization_window: Duration::ZERO,
        select_policy: SelectPolicy::Max,
        policies,
    }
}

/// `generateEventsUniformDistribution`: events spread over the last `period` seconds.
fn uniform(now: Instant, changes: &[u32], period: f64) -> Vec<ScaleEvent> {
    let segment = period / changes.len() as f64;
    changes
        .iter()
        .enumerate()
        .map(|(i, c)| ScaleEvent {
            change: *c,
            at: now - Duration::from_secs_f64(period - segment * (i as f64 + 1.0) + segment / 2.0),
            outdated: false,
        })
        .collect()
}

struct Rules {
    up_events: Vec<u32>,
    down_events: Vec<u32>,
    min: u32,
    max: u32,
    up: Option<ScalingRules>,
    down: Option<ScalingRules>,
    current: u32,
    desired: u32,
    expected: u32,
    reason: ConditionReason,
}

impl Rules {
    fn run(self, name: &str) {
        let now = Instant::now() + DAY;
        let mut up = self.up.unwrap_or_else(ScalingRules::default_scale_up);
        let mut down = self.down.unwrap_or_else(ScalingRules::default_scale_down);
        up.stabilization_window = Duration::ZERO;
        down.stabilization_window = Duration::ZERO;
        let config = AutoscalerConfig {
            min_replicas: self.min,
            max_replicas: self.max,
            metrics: vec![MetricSpec::External {
                name: "demand".into(),
                target: ValueTarget::AverageValue(1.0),
            }],
            behavior: Some(Behavior {
                scale_up: up,
                scale_down: down,
            }),
            tolerance: Tolerance::symmetric(0.0),
            ..Default::default()
        };
        let events = ScaleEvents::from_events(
            uniform(now, &self.up_events, 120.0),
            uniform(now, &self.down_events, 120.0),
        );
        let mut hpa = Autoscaler::with_history(config, Recommendations::default(), events).unwrap();
        let obs = Observation::new(
            self.current,
            vec![],
            vec![MetricValue::External(vec![f64::from(self.desired)])],
        );
        let d = hpa.decide(now, &obs).unwrap();
        if self.current > self.max || self.current < self.min {
            // reconcileAutoscaler brings an out-of-range count to the range without
            // consulting the metrics (Kubernetes' case calls the rate conversion directly).
            assert_eq!(
                (d.metric_replicas, d.desired_replicas),
                (None, self.expected),
                "{name}"
            );
            return;
        }
        assert_eq!(d.metric_replicas, Some(self.desired), "{name}: proposal");
        assert_eq!(d.desired_replicas, self.expected, "{name}");
        assert_eq!(
            d.reason(ConditionType::ScalingLimited),
            Some(self.reason),
            "{name}"
        );
        assert_eq!(hpa.check_invariants(), Ok(()));
    }
}

fn case(
    min: u32,
    max: u32,
    current: u32,
    desired: u32,
    expected: u32,
    reason: ConditionReason,
) -> Rules {
    Rules {
        up_events: vec![],
        down_events: vec![],
        min,
        max,
        up: None,
        down: None,
        current,
        desired,
        expected,
        reason,
    }
}

/// TestScalingWithRules, every case, by name.
#[test]
fn scaling_with_rules() {
    use ConditionReason::{
        DesiredWithinRange, ScaleDownLimit, ScaleUpLimit, TooFewReplicas, TooManyReplicas,
    };
    let cases: Vec<(&str, Rules)> = vec![
        (
            "prenormalized desired replicas within range",
            case(3, 8, 5, 7, 7, DesiredWithinRange),
        ),
        (
            "prenormalized desired replicas < minReplicas",
            case(2, 8, 3, 1, 2, TooFewReplicas),
        ),
        (
            "prenormalized desired replicas within range when minReplicas is 0",
            case(0, 10, 1, 0, 0, DesiredWithinRange),
        ),
        (
            "maxReplicas is the limit because maxReplicas < scaleUpLimit",
            case(1, 10, 20, 1000, 10, TooManyReplicas),
        ),
        (
            "desired replica count is more than the maximum replica count",
            case(100, 150, 100, 1000, 150, TooManyReplicas),
        ),
        (
            "scaleUpLimit is the limit because scaleUpLimit < maxReplicas with user policies",
            Rules {
                up: Some(rules(0, 0, 1, 60)),
                ..case(1, 2000, 3, 1000, 4, ScaleUpLimit)
            },
        ),
        (
            "scaleDownLimit is the limit because scaleDownLimit > minReplicas with user defined policies",
            Rules {
                down: Some(rules(20, 60, 0, 0)),
                ..case(3, 2000, 1000, 3, 980, ScaleDownLimit)
            },
        ),
        (
            "scaleUp with default behavior",
            case(1, 1000, 10, 50, 20, ScaleUpLimit),
        ),
        (
            "scaleUp with pods policy larger than percent policy",
            Rules {
                up: Some(rules(100, 60, 100, 60)),
                ..case(1, 1000, 10, 500, 110, ScaleUpLimit)
            },
        ),
        (
            "scaleUp with percent policy larger than pods policy",
            Rules {
                up: Some(rules(2, 60, 100, 60)),
                ..case(1, 1000, 10, 500, 20, ScaleUpLimit)
            },
        ),
        (
            "scaleUp with spec MaxReplicas limitation with large pod policy",
            Rules {
                up: Some(rules(100, 60, 0, 0)),
                ..case(1, 1000, 10, 50, 50, DesiredWithinRange)
            },
        ),
        (
            "scaleUp with spec MaxReplicas limitation with large percent policy",
            Rules {
                up: Some(rules(10000, 60, 0, 0)),
                ..case(1, 1000, 10, 50, 50, DesiredWithinRange)
            },
        ),
        (
            "scaleUp with pod policy limitation",
            Rules {
                up: Some(rules(30, 60, 0, 0)),
                ..case(1, 1000, 10, 50, 40, ScaleUpLimit)
            },
        ),
        (
            "scaleUp with percent policy limitation",
            Rules {
                up: Some(rules(0, 0, 200, 60)),
                ..case(1, 1000, 10, 50, 30, ScaleUpLimit)
            },
        ),
        (
            "scaleDown with percent policy larger than pod policy",
            Rules {
                down: Some(rules(20, 60, 1, 60)),
                ..case(1, 1000, 100, 2, 80, ScaleDownLimit)
            },
        ),
        (
            "scaleDown with pod policy larger than percent policy",
            Rules {
                down: Some(rules(2, 60, 1, 60)),
                ..case(1, 1000, 100, 2, 98, ScaleDownLimit)
            },
        ),
        (
            "scaleDown with spec MinReplicas=nil limitation with large pod policy",
            Rules {
                down: Some(rules(100, 60, 0, 0)),
                ..case(1, 1000, 10, 0, 1, TooFewReplicas)
            },
        ),
        (
            "scaleDown with spec MinReplicas limitation with large percent policy",
            Rules {
                down: Some(rules(0, 0, 100, 60)),
                ..case(5, 1000, 10, 2, 5, TooFewReplicas)
            },
        ),
        (
            "scaleDown with pod policy limitation",
            Rules {
                down: Some(rules(5, 60, 0, 0)),
                ..case(1, 1000, 10, 2, 5, ScaleDownLimit)
            },
        ),
        (
            "scaleDown with percent policy limitation",
            Rules {
                down: Some(rules(0, 0, 50, 60)),
                ..case(1, 1000, 10, 5, 5, DesiredWithinRange)
            },
        ),
        (
            "scaleUp with spec MaxReplicas limitation with large pod policy and events",
            Rules {
                up_events: vec![1, 5, 9],
                up: Some(rules(300, 60, 0, 0)),
                ..case(1, 200, 100, 500, 200, TooManyReplicas)
            },
        ),
        (
            "scaleUp with spec MaxReplicas limitation with large percent policy and events",
            Rules {
                up_events: vec![1, 5, 9],
                up: Some(rules(0, 0, 10000, 60)),
                ..case(1, 200, 100, 500, 200, TooManyReplicas)
            },
        ),
        (
            "scaleUp with currentReplicas limitation with rate.PeriodSeconds with a lot of recent scale up events",
            Rules {
                up_events: vec![1, 5, 9],
                up: Some(rules(5, 120, 0, 0)),
                ..case(1, 1000, 100, 500, 100, ScaleUpLimit)
            },
        ),
        (
            "scaleUp with pod policy and previous scale up events",
            Rules {
                up_events: vec![1, 5, 9],
                up: Some(rules(150, 120, 0, 0)),
                ..case(1, 1000, 100, 500, 235, ScaleUpLimit)
            },
        ),
        (
            "scaleUp with percent policy and previous scale up events",
            Rules {
                up_events: vec![1, 5, 9],
                up: Some(rules(0, 0, 200, 120)),
                ..case(1, 1000, 100, 500, 255, ScaleUpLimit)
            },
        ),
        (
            "scaleUp with percent policy and previous scale up and down events",
            Rules {
                up_events: vec![4],
                down_events: vec![2],
                up: Some(rules(0, 0, 300, 300)),
                ..case(1, 1000, 6, 24, 16, ScaleUpLimit)
            },
        ),
        (
            "scaleDown with default policy and previous events",
            Rules {
                down_events: vec![1, 5, 9],
                ..case(1, 1000, 10, 5, 5, DesiredWithinRange)
            },
        ),
        (
            "scaleDown with spec MinReplicas=nil limitation with large pod policy and previous events",
            Rules {
                down_events: vec![1, 5, 9],
                down: Some(rules(115, 120, 0, 0)),
                ..case(1, 1000, 100, 0, 1, TooFewReplicas)
            },
        ),
        (
            "scaleDown with spec MinReplicas limitation with large pod policy and previous events",
            Rules {
                down_events: vec![1, 5, 9],
                down: Some(rules(130, 120, 0, 0)),
                ..case(5, 1000, 100, 0, 5, TooFewReplicas)
            },
        ),
        (
            "scaleDown with spec MinReplicas limitation with large percent policy and previous events",
            Rules {
                down_events: vec![1, 5, 9],
                down: Some(rules(0, 0, 100, 120)),
                ..case(5, 1000, 100, 2, 5, TooFewReplicas)
            },
        ),
        (
            "scaleDown with pod policy limitation and previous events",
            Rules {
                down_events: vec![1, 5, 9],
                down: Some(rules(5, 120, 0, 0)),
                ..case(1, 1000, 100, 2, 100, ScaleDownLimit)
            },
        ),
        (
            "scaleDown with percent policy limitation and previous events",
            Rules {
                down_events: vec![2, 4, 6],
                down: Some(rules(0, 0, 50, 120)),
                ..case(1, 1000, 100, 0, 56, ScaleDownLimit)
            },
        ),
        (
            "scaleDown with percent policy and previous scale up and down events",
            Rules {
                up_events: vec![2],
                down_events: vec![4],
                down: Some(rules(0, 0, 50, 180)),
                ..case(1, 1000, 10, 1, 6, ScaleDownLimit)
            },
        ),
        (
            "scaleDown with previous events preventing further scale down",
            Rules {
                down_events: vec![10, 10, 10],
                down: Some(rules(0, 0, 10, 120)),
                ..case(1, 1000, 100, 0, 100, ScaleDownLimit)
            },
        ),
        (
            "scaleDown with with previous events still allowing more scale down",
            Rules {
                down_events: vec![10, 10, 10],
                down: Some(rules(0, 0, 1000, 120)),
                ..case(1, 1000, 10, 5, 5, DesiredWithinRange)
            },
        ),
        (
            "check 'outdated' flag for events for one behavior for up",
            Rules {
                up_events: vec![8, 12, 9, 11],
                up: Some(rules(1000, 60, 0, 0)),
                ..case(1, 1000, 100, 200, 200, DesiredWithinRange)
            },
        ),
        (
            "check that events were not marked 'outdated' for two different policies in the behavior for up",
            Rules {
                up_events: vec![8, 12, 9, 11],
                up: Some(rules(1000, 120, 100, 60)),
                ..case(1, 1000, 100, 200, 200, DesiredWithinRange)
            },
        ),
        (
            "check that events were marked 'outdated' for two different policies in the behavior for up",
            Rules {
                up_events: vec![8, 12, 9, 11],
                up: Some(rules(1000, 30, 100, 60)),
                ..case(1, 1000, 100, 200, 200, DesiredWithinRange)
            },
        ),
        (
            "check 'outdated' flag for events for one behavior for down",
            Rules {
                down_events: vec![8, 12, 9, 11],
                down: Some(rules(1000, 60, 0, 0)),
                ..case(1, 1000, 100, 5, 5, DesiredWithinRange)
            },
        ),
        (
            "check that events were not marked 'outdated' for two different policies in the behavior for down",
            Rules {
                down_events: vec![8, 12, 9, 11],
                down: Some(rules(1000, 120, 100, 60)),
                ..case(1, 1000, 100, 5, 5, DesiredWithinRange)
            },
        ),
        (
            "check that events were marked 'outdated' for two different policies in the behavior for down",
            Rules {
                down_events: vec![8, 12, 9, 11],
                down: Some(rules(1000, 30, 100, 60)),
                ..case(1, 1000, 100, 5, 5, DesiredWithinRange)
            },
        ),
    ];
    assert!(cases.len() >= 40);
    for (name, rules) in cases {
        rules.run(name);
    }
}

/// The select policies: `TestCalculateScaleDownLimitWithBehaviors`-style (5 replicas, 2 pods
/// and 50% per 60 s): Min keeps the smaller change (3), Max the larger (2), Disabled none.
#[test]
fn select_policy_min_max_disabled() {
    for (select, expected, reason) in [
        (SelectPolicy::Min, 3, ConditionReason::ScaleDownLimit),
        (SelectPolicy::Max, 2, ConditionReason::ScaleDownLimit),
        (SelectPolicy::Disabled, 5, ConditionReason::ScaleDownLimit),
    ] {
        let mut down = rules(2, 60, 50, 60);
        down.select_policy = select;
        Rules {
            down: Some(down),
            ..case(1, 100, 5, 1, expected, reason)
        }
        .run(&format!("{select:?}"));
    }
}

// ---------------------------------------------------------------- stabilization

fn stabilize_case(
    name: &str,
    recommendations: &[(u32, u64)],
    current: u32,
    desired: u32,
    behavior: Option<(u64, u64)>,
    expected: u32,
    expected_log: Option<&[u32]>,
) {
    let now = Instant::now() + DAY;
    let entries = recommendations
        .iter()
        .map(|(replicas, ago)| Recommendation {
            replicas: *replicas,
            at: now - Duration::from_secs(*ago),
        })
        .collect();
    let behavior = behavior.map(|(up, down)| Behavior {
        scale_up: ScalingRules {
            stabilization_window: Duration::from_secs(up),
            ..ScalingRules::default_scale_up()
        },
        scale_down: ScalingRules {
            stabilization_window: Duration::from_secs(down),
            ..ScalingRules::default_scale_down()
        },
    });
    let config = AutoscalerConfig {
        min_replicas: 1,
        max_replicas: 1000,
        metrics: vec![MetricSpec::External {
            name: "demand".into(),
            target: ValueTarget::AverageValue(1.0),
        }],
        behavior,
        tolerance: Tolerance::symmetric(0.0),
        ..Default::default()
    };
    let mut hpa = Autoscaler::with_history(
        config,
        Recommendations::from_entries(entries),
        ScaleEvents::default(),
    )
    .unwrap();
    let obs = Observation::new(
        current,
        vec![],
        vec![MetricValue::External(vec![f64::from(desired)])],
    );
    let d = hpa.decide(now, &obs).unwrap();
    assert_eq!(d.stabilized_replicas, Some(expected), "{name}");
    if let Some(log) = expected_log {
        let got: Vec<u32> = hpa
            .recommendations()
            .entries()
            .iter()
            .map(|r| r.replicas)
            .collect();
        assert_eq!(got, log, "{name}: recommendation log");
    }
}

/// TestNormalizeDesiredReplicas (no behavior, 5 min window), every case.
#[test]
fn normalize_desired_replicas() {
    // Current 10: a scale down, so stabilization shows.
    stabilize_case("empty log", &[], 10, 5, None, 5, Some(&[5]));
    stabilize_case(
        "stabilize",
        &[(4, 120), (5, 60)],
        10,
        3,
        None,
        5,
        Some(&[4, 5, 3]),
    );
    stabilize_case(
        "no stabilize",
        &[(1, 120), (2, 60)],
        10,
        3,
        None,
        3,
        Some(&[1, 2, 3]),
    );
    stabilize_case(
        "no stabilize - old recommendations",
        &[(10, 600), (9, 540)],
        10,
        3,
        None,
        3,
        Some(&[10, 3]),
    );
    stabilize_case(
        "stabilize - old recommendations",
        &[(10, 600), (4, 60), (5, 120), (9, 540)],
        10,
        3,
        None,
        5,
        Some(&[10, 4, 5, 3]),
    );
}

/// TestNormalizeDesiredReplicasWithBehavior, every case (windows in seconds, up then down).
#[test]
fn normalize_desired_replicas_with_behavior() {
    stabilize_case(
        "simple scale down stabilization",
        &[(4, 120), (5, 60)],
        100,
        3,
        Some((0, 180)),
        5,
        Some(&[4, 5, 3]),
    );
    stabilize_case(
        "simple scale up stabilization",
        &[(4, 120), (5, 60)],
        1,
        7,
        Some((300, 0)),
        4,
        Some(&[4, 5, 7]),
    );
    stabilize_case(
        "no scale down stabilization",
        &[(1, 120), (2, 60)],
        100,
        3,
        Some((300, 0)),
        3,
        Some(&[1, 2, 3]),
    );
    stabilize_case(
        "no scale up stabilization",
        &[(4, 120), (5, 60)],
        1,
        3,
        Some((0, 300)),
        3,
        Some(&[4, 5, 3]),
    );
    stabilize_case(
        "no scale down stabilization, reuse recommendation element",
        &[(10, 600), (9, 540)],
        100,
        3,
        Some((0, 0)),
        3,
        Some(&[10, 3]),
    );
    stabilize_case(
        "no scale up stabilization, reuse recommendation element",
        &[(10, 600), (9, 540)],
        1,
        100,
        Some((0, 0)),
        100,
        Some(&[10, 100]),
    );
    stabilize_case(
        "scale down stabilization, reuse one of obsolete recommendation element",
        &[(10, 600), (4, 60), (5, 120), (9, 540)],
        100,
        3,
        Some((0, 180)),
        5,
        Some(&[10, 4, 5, 3]),
    );
    stabilize_case(
        "scale up stabilization, reuse one of obsolete recommendation element",
        &[(10, 6000), (6, 60), (5, 120), (9, 180)],
        1,
        100,
        Some((300, 300)),
        5,
        Some(&[100, 6, 5, 9]),
    );
    stabilize_case(
        "scale up and down stabilization, do not scale up when prenormalized rec goes down",
        &[(2, 6000), (3, 180)],
        2,
        1,
        Some((300, 300)),
        2,
        None,
    );
    stabilize_case(
        "scale up and down stabilization, do not scale down when prenormalized rec goes up",
        &[(2, 6000), (1, 180)],
        2,
        3,
        Some((300, 300)),
        2,
        None,
    );
}

/// Without behavior the condition is ScaleDownStabilized when the window holds the count up
/// (normalizeDesiredReplicas), and the scale-up limit is max(2 × current, 4)
/// (TestScalingWithRules' "scaleUp with default behavior" counterpart, calculateScaleUpLimit).
#[test]
fn no_behavior_stabilization_and_scale_up_limit() {
    let now = Instant::now() + DAY;
    let config = AutoscalerConfig {
        min_replicas: 1,
        max_replicas: 1000,
        metrics: vec![MetricSpec::External {
            name: "demand".into(),
            target: ValueTarget::AverageValue(1.0),
        }],
        tolerance: Tolerance::symmetric(0.0),
        ..Default::default()
    };
    let mut hpa = Autoscaler::new(config).unwrap();
    let ext = |v: f64| vec![MetricValue::External(vec![v])];
    // 1 → 50 limited to max(2, 4) = 4.
    let d = hpa
        .decide(now, &Observation::new(1, vec![], ext(50.0)))
        .unwrap();
    assert_eq!(d.desired_replicas, 4);
    assert_eq!(
        d.reason(ConditionType::ScalingLimited),
        Some(ConditionReason::ScaleUpLimit)
    );
    // 4 → 50 limited to 8, then 16.
    let d = hpa
        .decide(
            now + Duration::from_secs(15),
            &Observation::new(4, vec![], ext(50.0)),
        )
        .unwrap();
    assert_eq!(d.desired_replicas, 8);
    // Demand drops: held at the highest recommendation of the last 300 s (50 → clamped 16).
    let d = hpa
        .decide(
            now + Duration::from_secs(30),
            &Observation::new(8, vec![], ext(2.0)),
        )
        .unwrap();
    assert_eq!(d.stabilized_replicas, Some(50));
    assert_eq!(d.desired_replicas, 16);
    let d = hpa
        .decide(
            now + Duration::from_secs(200),
            &Observation::new(16, vec![], ext(2.0)),
        )
        .unwrap();
    assert_eq!(d.desired_replicas, 32);
    // 301 s after the last 50: only 2s remain in the window.
    let d = hpa
        .decide(
            now + Duration::from_secs(331),
            &Observation::new(32, vec![], ext(2.0)),
        )
        .unwrap();
    assert_eq!(d.desired_replicas, 2);
    assert_eq!(
        d.reason(ConditionType::AbleToScale),
        Some(ConditionReason::SucceededRescale)
    );
    // Without behavior, calculateScaleUpLimit bounds the maximum on every decision, a scale
    // down included (32 → 2: limit 64), and there is no scale-down limit (review finding 9).
    let limits = d.limits.unwrap();
    assert_eq!(limits.scale_up_limit, Some(64));
    assert_eq!(limits.max_allowed, 64);
    assert_eq!(limits.scale_down_limit, None);
    let d = hpa
        .decide(
            now + Duration::from_secs(340),
            &Observation::new(5, vec![], ext(2.0)),
        )
        .unwrap();
    assert_eq!(
        d.reason(ConditionType::AbleToScale),
        Some(ConditionReason::SucceededRescale)
    );
    assert_eq!(d.desired_replicas, 2);
    assert_eq!(hpa.check_invariants(), Ok(()));
}

/// TestStoreScaleEvents: events older than the longest policy period are marked outdated and
/// the last outdated slot is reused.
#[test]
fn store_scale_events() {
    let now = Instant::now() + DAY;
    let ago = |s: u64| now - Duration::from_secs(s);
    let ev = |change, at| ScaleEvent {
        change,
        at,
        outdated: false,
    };
    // "replace one entry, use policies with different periods" (up rules 10 pods / 60 s,
    // 100% / 30 s): {8,29s} {6,59s} {7,61s} {9,61s} → 8, 6, 7 (outdated), 5.
    let up = rules(10, 60, 100, 30);
    let config = AutoscalerConfig {
        min_replicas: 1,
        max_replicas: 1000,
        metrics: vec![MetricSpec::External {
            name: "demand".into(),
            target: ValueTarget::AverageValue(1.0),
        }],
        behavior: Some(Behavior {
            scale_up: up,
            scale_down: ScalingRules::default_scale_down(),
        }),
        tolerance: Tolerance::symmetric(0.0),
        ..Default::default()
    };
    let events = ScaleEvents::from_events(
        vec![
            ev(8, ago(29)),
            ev(6, ago(59)),
            ev(7, ago(61)),
            ev(9, ago(61)),
        ],
        vec![],
    );
    let mut hpa = Autoscaler::with_history(config, Recommendations::default(), events).unwrap();
    // 24 replicas, 14 added within 60 s and 8 within 30 s: the limit is
    // max(10 + 10, 16 × 2) = 32, so adding 5 (24 → 29) is within it and is recorded.
    let obs = Observation::new(24, vec![], vec![MetricValue::External(vec![29.0])]);
    let d = hpa.decide(now, &obs).unwrap();
    assert_eq!(d.desired_replicas, 29);
    let got: Vec<(u32, bool)> = hpa
        .scale_events()
        .up()
        .iter()
        .map(|e| (e.change, e.outdated))
        .collect();
    assert_eq!(got, vec![(8, false), (6, false), (7, true), (5, false)]);
}

/// The decision reports each metric's current value (status.currentMetrics).
#[test]
fn current_metrics_reported() {
    let d = Calc {
        expected_utilization: Some(50),
        ..cpu(3, &[1.0; 3], &[300, 500, 700], 30, 5)
    }
    .run();
    let current: CurrentMetric = d.metrics[0].current().unwrap();
    assert_eq!(current.average_value, Some(1.0));
    assert_eq!(
        d.metrics[0].name,
        "cpu resource utilization (percentage of request)"
    );
}
