//! One Kubernetes-HPA decision of ha-scale's `Autoscaler`: 10 pods, 3 metrics (CPU utilization,
//! a pods metric, an external metric), default behavior (stabilization windows and rate
//! policies), with the recommendation and event history of a steady run.
//!
//! Run: `cargo bench --bench scale_hpa`. No Rust crate implements the HPA's arithmetic to
//! compare with; the figure is ours alone.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use ha::scale::{
    Autoscaler, AutoscalerConfig, Behavior, MetricSpec, MetricValue, Observation, Pod, PodSample,
    Resource, ResourceTarget, ValueTarget,
};

fn decision(c: &mut Criterion) {
    let config = AutoscalerConfig {
        min_replicas: 2,
        max_replicas: 50,
        metrics: vec![
            MetricSpec::Resource {
                resource: Resource::Cpu,
                target: ResourceTarget::Utilization(70),
            },
            MetricSpec::Pods {
                name: "requests_per_second".into(),
                average_value: 100.0,
            },
            MetricSpec::External {
                name: "queue_depth".into(),
                target: ValueTarget::AverageValue(30.0),
            },
        ],
        behavior: Some(Behavior::default()),
        ..Default::default()
    };
    let start = Instant::now();
    let mut now = start + Duration::from_secs(3600);
    let pods: Vec<Pod> = (0..10)
        .map(|i| Pod::running(format!("web-{i}"), start).with_request(Resource::Cpu, 0.5))
        .collect();
    let cpu = (0..10)
        .map(|i| PodSample::new(format!("web-{i}"), 0.3 + 0.02 * f64::from(i), now))
        .collect();
    let rps = (0..10)
        .map(|i| PodSample::new(format!("web-{i}"), 90.0 + f64::from(i), now))
        .collect();
    let observation = Observation::new(
        10,
        pods,
        vec![
            MetricValue::PerPod(cpu),
            MetricValue::PerPod(rps),
            MetricValue::External(vec![180.0, 150.0]),
        ],
    );
    let mut hpa = Autoscaler::new(config).unwrap();
    let mut group = c.benchmark_group("hpa_decision");
    group.bench_function("ha-scale/10-pods-3-metrics-behavior", |b| {
        b.iter(|| {
            now += Duration::from_secs(15);
            black_box(hpa.decide(now, black_box(&observation)).unwrap())
        })
    });
    group.finish();
}

criterion_group!(benches, decision);
criterion_main!(benches);
