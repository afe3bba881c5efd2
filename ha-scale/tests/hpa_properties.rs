//! Properties of the HPA autoscaler, over random configurations and metric histories.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use ha_scale::{
    Autoscaler, AutoscalerConfig, Behavior, MetricSpec, MetricValue, Observation, Pod, PodSample,
    Resource, ResourceTarget, ScalingPolicy, ScalingRules, SelectPolicy, Tolerance, ValueTarget,
};
use proptest::prelude::*;

/// One step of a run: seconds since the previous decision, the external demand, and per pod
/// (by index, cycling) a CPU usage in millicores, whether it is ready, whether it has a sample.
#[derive(Debug, Clone)]
struct Step {
    dt: u64,
    demand: u32,
    usage: Vec<(u32, bool, bool)>,
}

fn steps(max_len: usize) -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        (
            1u64..120,
            0u32..300,
            prop::collection::vec(
                (
                    0u32..3000,
                    prop::bool::weighted(0.9),
                    prop::bool::weighted(0.9),
                ),
                1..8,
            ),
        )
            .prop_map(|(dt, demand, usage)| Step { dt, demand, usage }),
        1..max_len,
    )
}

fn policy() -> impl Strategy<Value = ScalingPolicy> {
    (prop::bool::ANY, 1u32..200, 1u64..300).prop_map(|(pods, value, period)| {
        let period = Duration::from_secs(period);
        if pods {
            ScalingPolicy::pods(value.min(20), period)
        } else {
            ScalingPolicy::percent(value, period)
        }
    })
}

fn rules() -> impl Strategy<Value = ScalingRules> {
    (
        0u64..600,
        prop::sample::select(vec![
            SelectPolicy::Max,
            SelectPolicy::Min,
            SelectPolicy::Disabled,
        ]),
        prop::collection::vec(policy(), 1..3),
    )
        .prop_map(|(window, select_policy, policies)| ScalingRules {
            stabilization_window: Duration::from_secs(window),
            select_policy,
            policies,
        })
}

fn behavior() -> impl Strategy<Value = Option<Behavior>> {
    prop::option::of(
        (rules(), rules()).prop_map(|(scale_up, scale_down)| Behavior {
            scale_up,
            scale_down,
        }),
    )
}

/// CPU at 60% and external demand (1 replica per unit) on `replicas` pods.
fn observation(replicas: u32, step: &Step, start: Instant, now: Instant) -> Observation {
    let mut pods = Vec::new();
    let mut samples = Vec::new();
    for i in 0..replicas as usize {
        let (usage, ready, sampled) = step.usage[i % step.usage.len()];
        let name = format!("pod-{i}");
        let mut pod = Pod::running(name.clone(), start).with_request(Resource::Cpu, 1.0);
        if !ready {
            pod = pod.unready_since(start);
        }
        pods.push(pod);
        if sampled {
            samples.push(PodSample::new(name, f64::from(usage) / 1000.0, now));
        }
    }
    Observation::new(
        replicas,
        pods,
        vec![
            MetricValue::PerPod(samples),
            MetricValue::External(vec![f64::from(step.demand)]),
        ],
    )
}

fn config(min: u32, max: u32, behavior: Option<Behavior>) -> AutoscalerConfig {
    AutoscalerConfig {
        min_replicas: min,
        max_replicas: max,
        metrics: vec![
            MetricSpec::Resource {
                resource: Resource::Cpu,
                target: ResourceTarget::Utilization(60),
            },
            MetricSpec::External {
                name: "demand".into(),
                target: ValueTarget::AverageValue(1.0),
            },
        ],
        behavior,
        ..Default::default()
    }
}

/// A recorded decision: time, replicas before, replicas after, the metrics' proposal.
type Trace = Vec<(Instant, u32, u32, Option<u32>)>;

/// Runs `steps` from `initial` replicas, feeding each decision back as the current count.
fn run(hpa: &mut Autoscaler, initial: u32, steps: &[Step]) -> Trace {
    let start = Instant::now();
    let mut now = start + Duration::from_secs(3600);
    let mut current = initial;
    let mut trace = Vec::new();
    for step in steps {
        now += Duration::from_secs(step.dt);
        let obs = observation(current, step, start, now);
        match hpa.decide(now, &obs) {
            Ok(d) => {
                trace.push((now, current, d.desired_replicas, d.metric_replicas));
                current = d.desired_replicas;
            }
            // Every metric invalid (no CPU samples at all is not possible with the external
            // metric valid), or invalid CPU with a lower demand: Kubernetes leaves the count.
            Err(ha_scale::Error::InvalidMetrics { .. }) => {}
            Err(other) => panic!("unexpected error {other}"),
        }
        assert_eq!(hpa.check_invariants(), Ok(()));
    }
    trace
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn decision_always_lies_within_min_and_max(
        min in 1u32..10,
        span in 0u32..40,
        behavior in behavior(),
        initial in 0u32..60,
        steps in steps(30),
    ) {
        let max = min + span;
        let initial = initial.clamp(1, max + 10);
        let mut hpa = Autoscaler::new(config(min, max, behavior)).unwrap();
        for (_, _, after, _) in run(&mut hpa, initial, &steps) {
            prop_assert!((min..=max).contains(&after), "{after} outside [{min}, {max}]");
        }
    }

    #[test]
    fn within_tolerance_nothing_changes(
        requests in prop::collection::vec(100u32..4000, 1..30),
        target in 10u32..200,
        ratio_permille in 920u32..1080,
        tolerance in 0.08f64..0.3,
    ) {
        // Usage set so that every pod runs at `target × ratio` percent of its request.
        let start = Instant::now();
        let now = start + Duration::from_secs(3600);
        let n = requests.len() as u32;
        let pods: Vec<Pod> = requests
            .iter()
            .enumerate()
            .map(|(i, r)| Pod::running(format!("p{i}"), start).with_request(Resource::Cpu, f64::from(*r) / 1000.0))
            .collect();
        let samples = requests
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let usage = (u64::from(*r) * u64::from(target) * u64::from(ratio_permille)) / 100_000;
                PodSample::new(format!("p{i}"), usage as f64 / 1000.0, now)
            })
            .collect();
        let cfg = AutoscalerConfig {
            min_replicas: 1,
            max_replicas: 100,
            metrics: vec![MetricSpec::Resource { resource: Resource::Cpu, target: ResourceTarget::Utilization(target) }],
            tolerance: Tolerance::symmetric(tolerance),
            ..Default::default()
        };
        let mut hpa = Autoscaler::new(cfg).unwrap();
        let d = hpa.decide(now, &Observation::new(n, pods, vec![MetricValue::PerPod(samples)])).unwrap();
        let utilization = d.metrics[0].current().unwrap().average_utilization_percent.unwrap();
        let ratio = utilization as f64 / f64::from(target);
        prop_assume!(Tolerance::symmetric(tolerance).is_within(ratio));
        prop_assert_eq!(d.metric_replicas, Some(n));
        prop_assert_eq!(d.desired_replicas, n);
        prop_assert!(!d.rescale());
    }

    #[test]
    fn within_tolerance_nothing_changes_for_pods_object_and_external_metrics(
        current in 1u32..50,
        target_milli in 1000u32..100_000,
        ratio_permille in 905u32..1095,
        kind in 0u8..4,
    ) {
        let start = Instant::now();
        let now = start + Duration::from_secs(3600);
        let target = f64::from(target_milli) / 1000.0;
        // The metric's mean per pod (or value) at `ratio` of the target, in whole thousandths.
        let per_pod_milli = u64::from(target_milli) * u64::from(ratio_permille) / 1000;
        let per_pod = per_pod_milli as f64 / 1000.0;
        let total = (per_pod_milli * u64::from(current)) as f64 / 1000.0;
        let pods: Vec<Pod> = (0..current).map(|i| Pod::running(format!("p{i}"), start)).collect();
        let (spec, value) = match kind {
            0 => (
                MetricSpec::Pods { name: "qps".into(), average_value: target },
                MetricValue::PerPod((0..current).map(|i| PodSample::new(format!("p{i}"), per_pod, now)).collect()),
            ),
            1 => (
                MetricSpec::Object { name: "qps".into(), target: ValueTarget::Value(target) },
                MetricValue::Object(per_pod),
            ),
            2 => (
                MetricSpec::External { name: "q".into(), target: ValueTarget::AverageValue(target) },
                MetricValue::External(vec![total]),
            ),
            _ => (
                MetricSpec::Object { name: "q".into(), target: ValueTarget::AverageValue(target) },
                MetricValue::Object(total),
            ),
        };
        let cfg = AutoscalerConfig { min_replicas: 1, max_replicas: 100, metrics: vec![spec], ..Default::default() };
        let mut hpa = Autoscaler::new(cfg).unwrap();
        let d = hpa.decide(now, &Observation::new(current, pods, vec![value])).unwrap();
        prop_assert_eq!(d.metric_replicas, Some(current));
        prop_assert_eq!(d.desired_replicas, current);
    }

    #[test]
    fn with_behavior_replicas_never_grow_faster_than_the_policy_over_any_period(
        pods_policy in prop::bool::ANY,
        value in 1u32..150,
        period in 5u64..300,
        initial in 1u32..20,
        steps in steps(40),
    ) {
        let period = Duration::from_secs(period);
        let policy = if pods_policy {
            ScalingPolicy::pods(value, period)
        } else {
            ScalingPolicy::percent(value, period)
        };
        let behavior = Behavior {
            scale_up: ScalingRules { stabilization_window: Duration::ZERO, select_policy: SelectPolicy::Max, policies: vec![policy] },
            // No scale downs, so every window's growth is measured from its first count.
            scale_down: ScalingRules { select_policy: SelectPolicy::Disabled, ..ScalingRules::default_scale_down() },
        };
        let mut hpa = Autoscaler::new(config(1, 1000, Some(behavior))).unwrap();
        let trace = run(&mut hpa, initial, &steps);
        let allowed = |base: u32| -> u32 {
            if pods_policy {
                base + value
            } else {
                (f64::from(base) * (1.0 + f64::from(value) / 100.0)).ceil() as u32
            }
        };
        for (j, &(tj, _, after_j, _)) in trace.iter().enumerate() {
            for &(ti, before_i, _, _) in &trace[..=j] {
                if tj.duration_since(ti) < period {
                    prop_assert!(
                        after_j <= allowed(before_i),
                        "{before_i} grew to {after_j} within {period:?} ({policy:?})"
                    );
                }
            }
        }
    }

    #[test]
    fn stabilization_never_scales_down_below_the_highest_recommendation_in_the_window(
        with_behavior in prop::bool::ANY,
        window in 0u64..600,
        initial in 1u32..30,
        steps in steps(40),
    ) {
        let window_d = Duration::from_secs(window);
        let behavior = with_behavior.then(|| Behavior {
            scale_up: ScalingRules::default_scale_up(),
            scale_down: ScalingRules { stabilization_window: window_d, ..ScalingRules::default_scale_down() },
        });
        let cfg = AutoscalerConfig { downscale_stabilization: window_d, ..config(1, 200, behavior) };
        let mut hpa = Autoscaler::new(cfg).unwrap();
        let trace = run(&mut hpa, initial, &steps);
        // The recommendations: the initial count at the first decision, then each proposal.
        let mut recs: Vec<(Instant, u32)> = Vec::new();
        if let Some(&(t0, before, _, _)) = trace.first() {
            recs.push((t0, before));
        }
        for &(t, before, after, proposal) in &trace {
            let proposal = proposal.unwrap();
            recs.push((t, proposal));
            if after < before {
                // Kubernetes: without behavior the window includes its edge, with it it does not.
                let highest = recs
                    .iter()
                    .filter(|(at, _)| {
                        let age = t.duration_since(*at);
                        age < window_d || (!with_behavior && age == window_d) || age.is_zero()
                    })
                    .map(|(_, r)| *r)
                    .max()
                    .unwrap();
                prop_assert!(after >= highest.min(200), "scaled down to {after} below {highest}");
            }
        }
    }
}
