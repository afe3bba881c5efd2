//! One metric's replica proposal, computed as Kubernetes' replica calculator computes it
//! (`pkg/controller/podautoscaler/replica_calculator.go`, with `metrics/utilization.go`).
//!
//! Each function below names the Go function whose rules it follows. The arithmetic is the
//! same integer milli-value arithmetic (see [`crate::metric`]); a per-pod metric's pods are
//! sorted into ready, unready, missing and ignored exactly as `groupPods` sorts them.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use crate::metric::{from_milli, metric_milli, target_milli};
use crate::{
    Error, MetricSpec, MetricValue, Pod, PodPhase, PodSample, Resource, ResourceTarget, Result,
    Tolerance, ValueTarget,
};

/// The value of a metric now, as the HPA's `status.currentMetrics` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CurrentMetric {
    /// For a resource utilization target: the pods' usage over their requests, in percent,
    /// truncated (`currentUtilization`).
    pub average_utilization_percent: Option<i64>,
    /// For per-pod and average-value targets: the mean per pod, in the metric's unit.
    pub average_value: Option<f64>,
    /// For value targets: the metric's value (an external metric's series summed).
    pub value: Option<f64>,
}

/// What one metric proposes.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct MetricProposal {
    /// The replica count this metric asks for, before any limit.
    pub replicas: u32,
    /// The metric's value now.
    pub current: CurrentMetric,
}

/// The pods as `groupPods` sorts them for one per-pod metric.
#[derive(Debug, Default)]
struct PodGroups<'a> {
    /// Pods whose sample counts.
    ready: usize,
    /// Pending pods, and — for CPU — pods not ready or still warming up: set aside, then
    /// counted at 0 on a scale up.
    unready: BTreeSet<&'a str>,
    /// Pods without a sample: set aside, then counted at the target on a scale down and at 0
    /// on a scale up.
    missing: BTreeSet<&'a str>,
    /// Failed pods and pods being deleted: left out entirely.
    ignored: BTreeSet<&'a str>,
}

/// Computes one metric's proposal over the observed pods.
#[derive(Debug)]
pub(crate) struct ReplicaCalculator<'a> {
    pub(crate) tolerance: Tolerance,
    pub(crate) cpu_initialization_period: Duration,
    pub(crate) initial_readiness_delay: Duration,
    pub(crate) pods: &'a [Pod],
    pub(crate) now: Instant,
}

/// `ceil(x)` as a replica count, saturating at `i32::MAX` as Kubernetes' `int32` does.
fn ceil_replicas(x: f64) -> u32 {
    // `as` saturates (and maps NaN to 0); `i32::MAX` fits in u32.
    (x.ceil() as u32).min(i32::MAX as u32)
}

/// `true` when `start + period` lies after `t` (an unrepresentable sum lies after anything).
fn ends_after(start: Instant, period: Duration, t: Instant) -> bool {
    start.checked_add(period).is_none_or(|end| end > t)
}

impl<'a> ReplicaCalculator<'a> {
    /// The proposal of metric `index` (`computeReplicasForMetric` in `horizontal.go`):
    /// per-pod metrics use the spec replicas, average-value object and external metrics the
    /// status replicas, as Kubernetes passes them.
    pub(crate) fn propose(
        &self,
        index: usize,
        spec: &MetricSpec,
        value: &'a MetricValue,
        spec_replicas: u32,
        status_replicas: u32,
    ) -> Result<MetricProposal> {
        if let MetricValue::Unavailable(reason) = value {
            return Err(Error::MetricUnavailable {
                metric: index,
                reason: reason.clone(),
            });
        }
        let mismatch = || Error::MetricKindMismatch {
            metric: index,
            spec: spec.kind(),
            observed: value.kind(),
        };
        match (spec, value) {
            (MetricSpec::Resource { resource, target }, MetricValue::PerPod(samples)) => {
                match *target {
                    ResourceTarget::Utilization(percent) => {
                        self.resource_replicas(index, spec_replicas, percent, resource, samples)
                    }
                    ResourceTarget::AverageValue(average) => self.plain_metric_replicas(
                        index,
                        spec_replicas,
                        target_milli(index, average)?,
                        Some(resource),
                        samples,
                    ),
                }
            }
            (MetricSpec::Pods { average_value, .. }, MetricValue::PerPod(samples)) => self
                .plain_metric_replicas(
                    index,
                    spec_replicas,
                    target_milli(index, *average_value)?,
                    None,
                    samples,
                ),
            (MetricSpec::Object { target, .. }, MetricValue::Object(v)) => {
                let usage = metric_milli(index, || "object value".into(), *v)?;
                self.value_replicas(index, spec_replicas, status_replicas, *target, usage)
            }
            (MetricSpec::External { target, .. }, MetricValue::External(values)) => {
                // GetExternalMetric: an empty list is an error ("no metrics returned from
                // external metrics API"), so the metric is invalid rather than a usage of 0.
                if values.is_empty() {
                    return Err(Error::EmptyExternalMetric { metric: index });
                }
                // GetExternalMetricReplicas: the series are summed, capped at MaxInt64.
                let mut usage: i128 = 0;
                for (i, v) in values.iter().enumerate() {
                    usage += i128::from(metric_milli(index, || format!("external value {i}"), *v)?);
                }
                let usage = i64::try_from(usage).unwrap_or(i64::MAX);
                self.value_replicas(index, spec_replicas, status_replicas, *target, usage)
            }
            _ => Err(mismatch()),
        }
    }

    /// Object and external metrics: `GetObjectMetricReplicas` / `GetExternalMetricReplicas`
    /// for a value target, `GetObjectPerPodMetricReplicas` / `GetExternalPerPodMetricReplicas`
    /// for an average-value target.
    fn value_replicas(
        &self,
        index: usize,
        spec_replicas: u32,
        status_replicas: u32,
        target: ValueTarget,
        usage: i64,
    ) -> Result<MetricProposal> {
        match target {
            ValueTarget::Value(target) => {
                let target = target_milli(index, target)?;
                let ratio = usage as f64 / target as f64;
                let replicas = self.usage_ratio_replica_count(index, spec_replicas, ratio)?;
                tracing::debug!(
                    metric = index,
                    usage,
                    target,
                    ratio,
                    replicas,
                    "value metric proposal"
                );
                Ok(MetricProposal {
                    replicas,
                    current: CurrentMetric {
                        value: Some(from_milli(usage)),
                        ..CurrentMetric::default()
                    },
                })
            }
            ValueTarget::AverageValue(target) => {
                let target = target_milli(index, target)?;
                // ratio = usage / (target × status replicas); outside tolerance the proposal
                // is ceil(usage / target), whatever the replicas now.
                let ratio = usage as f64 / (target as f64 * f64::from(status_replicas));
                let replicas = if self.tolerance.is_within(ratio) {
                    status_replicas
                } else {
                    ceil_replicas(usage as f64 / target as f64)
                };
                let average = (status_replicas > 0)
                    .then(|| from_milli((usage as f64 / f64::from(status_replicas)).ceil() as i64));
                tracing::debug!(
                    metric = index,
                    usage,
                    target,
                    ratio,
                    replicas,
                    "average-value metric proposal"
                );
                Ok(MetricProposal {
                    replicas,
                    current: CurrentMetric {
                        average_value: average,
                        ..CurrentMetric::default()
                    },
                })
            }
        }
    }

    /// `getUsageRatioReplicaCount`: within tolerance nothing changes; otherwise
    /// `ceil(ratio × ready pods)`, ready meaning running with `Ready` true. From zero replicas
    /// (scale to zero) tolerance and pods are not consulted: `ceil(ratio)`.
    fn usage_ratio_replica_count(&self, index: usize, current: u32, ratio: f64) -> Result<u32> {
        if current == 0 {
            return Ok(ceil_replicas(ratio));
        }
        if self.tolerance.is_within(ratio) {
            return Ok(current);
        }
        if self.pods.is_empty() {
            return Err(Error::NoPods { metric: index });
        }
        let ready = self.pods.iter().filter(|p| p.is_ready()).count();
        Ok(ceil_replicas(ratio * ready as f64))
    }

    /// Reads the samples into thousandths, refusing bad values and a pod sampled twice.
    fn samples(
        index: usize,
        samples: &'a [PodSample],
    ) -> Result<BTreeMap<&'a str, (i64, &'a PodSample)>> {
        let mut out = BTreeMap::new();
        for s in samples {
            let milli = metric_milli(index, || format!("sample of pod {}", s.pod), s.value)?;
            if out.insert(s.pod.as_str(), (milli, s)).is_some() {
                return Err(Error::DuplicatePod {
                    pod: s.pod.clone(),
                    place: format!("the samples of metric {index}"),
                });
            }
        }
        Ok(out)
    }

    /// `groupPods`: failed and deleted pods are ignored; pending pods are unready; pods without
    /// a sample are missing; for CPU only, a pod is unready when it has no `Ready` condition or
    /// start time, or — within `cpu_initialization_period` of its start — when it is not ready
    /// or its sample's window began before it last became ready, or — after that period — when
    /// it is not ready and has never been ready (its readiness last changed within
    /// `initial_readiness_delay` of its start).
    fn group_pods(
        &self,
        samples: &BTreeMap<&'a str, (i64, &'a PodSample)>,
        resource: Option<&Resource>,
    ) -> PodGroups<'a> {
        let mut groups = PodGroups::default();
        for pod in self.pods {
            let name = pod.name.as_str();
            if pod.deleting || pod.phase == PodPhase::Failed {
                groups.ignored.insert(name);
                continue;
            }
            if pod.phase == PodPhase::Pending {
                groups.unready.insert(name);
                continue;
            }
            let Some(&(_, sample)) = samples.get(name) else {
                groups.missing.insert(name);
                continue;
            };
            if resource == Some(&Resource::Cpu) {
                let unready = match (pod.ready, pod.start_time) {
                    (Some(condition), Some(start)) => {
                        if ends_after(start, self.cpu_initialization_period, self.now) {
                            !condition.ready
                                || ends_after(
                                    condition.last_transition,
                                    sample.window,
                                    sample.timestamp,
                                )
                        } else {
                            !condition.ready
                                && ends_after(
                                    start,
                                    self.initial_readiness_delay,
                                    condition.last_transition,
                                )
                        }
                    }
                    _ => true,
                };
                if unready {
                    groups.unready.insert(name);
                    continue;
                }
            }
            groups.ready += 1;
        }
        groups
    }

    /// Each pod's request of `resource` in thousandths (`calculateRequests`): every pod
    /// listed needs one.
    fn requests(&self, index: usize, resource: &Resource) -> Result<BTreeMap<&'a str, i64>> {
        let mut out = BTreeMap::new();
        for pod in self.pods {
            let Some(&value) = pod.requests.get(resource) else {
                return Err(Error::MissingRequest {
                    metric: index,
                    pod: pod.name.clone(),
                    resource: resource.to_string(),
                });
            };
            let milli = crate::metric::to_milli(value).ok_or_else(|| Error::BadRequest {
                pod: pod.name.clone(),
                resource: resource.to_string(),
                value,
            })?;
            out.insert(pod.name.as_str(), milli);
        }
        Ok(out)
    }

    /// `GetResourceReplicas`: a resource utilization target.
    fn resource_replicas(
        &self,
        index: usize,
        current: u32,
        target_percent: u32,
        resource: &Resource,
        samples: &'a [PodSample],
    ) -> Result<MetricProposal> {
        let samples = Self::samples(index, samples)?;
        if self.pods.is_empty() {
            return Err(Error::NoPods { metric: index });
        }
        let groups = self.group_pods(&samples, Some(resource));
        let mut metrics: BTreeMap<&str, i128> = samples
            .iter()
            .filter(|(name, _)| !groups.ignored.contains(*name) && !groups.unready.contains(*name))
            .map(|(name, (v, _))| (*name, i128::from(*v)))
            .collect();
        if metrics.is_empty() {
            return Err(Error::NoReadyPodMetrics { metric: index });
        }
        let requests = self.requests(index, resource)?;
        let target = i64::from(target_percent);
        let (ratio, utilization, raw) =
            utilization_ratio(index, resource, &metrics, &requests, target)?;
        let current_metric = CurrentMetric {
            average_utilization_percent: Some(utilization),
            average_value: Some(from_milli(raw)),
            value: None,
        };
        let replicas = self.rebalance(
            current,
            ratio,
            &groups,
            &mut metrics,
            |metrics, scale_down| {
                if scale_down {
                    // On a scale down a missing pod counts at 100% of its request, or at the
                    // target when the target is above 100%.
                    let fallback = i128::from(target.max(100));
                    for pod in &groups.missing {
                        let request = requests.get(pod).copied().unwrap_or(0);
                        metrics.insert(pod, i128::from(request) * fallback / 100);
                    }
                }
                utilization_ratio(index, resource, metrics, &requests, target).map(|r| r.0)
            },
        )?;
        tracing::debug!(
            metric = index,
            %resource,
            utilization,
            target_percent,
            ratio,
            ready = groups.ready,
            unready = groups.unready.len(),
            missing = groups.missing.len(),
            ignored = groups.ignored.len(),
            replicas,
            "resource utilization proposal"
        );
        Ok(MetricProposal {
            replicas,
            current: current_metric,
        })
    }

    /// `calcPlainMetricReplicas`: a pods metric, or a resource average-value target.
    fn plain_metric_replicas(
        &self,
        index: usize,
        current: u32,
        target: i64,
        resource: Option<&Resource>,
        samples: &'a [PodSample],
    ) -> Result<MetricProposal> {
        let samples = Self::samples(index, samples)?;
        if self.pods.is_empty() {
            return Err(Error::NoPods { metric: index });
        }
        let groups = self.group_pods(&samples, resource);
        let mut metrics: BTreeMap<&str, i128> = samples
            .iter()
            .filter(|(name, _)| !groups.ignored.contains(*name) && !groups.unready.contains(*name))
            .map(|(name, (v, _))| (*name, i128::from(*v)))
            .collect();
        if metrics.is_empty() {
            return Err(Error::NoReadyPodMetrics { metric: index });
        }
        let (ratio, usage) = usage_ratio(&metrics, target);
        let replicas = self.rebalance(
            current,
            ratio,
            &groups,
            &mut metrics,
            |metrics, scale_down| {
                if scale_down {
                    // On a scale down a missing pod counts at exactly the target.
                    for pod in &groups.missing {
                        metrics.insert(pod, i128::from(target));
                    }
                }
                Ok(usage_ratio(metrics, target).0)
            },
        )?;
        tracing::debug!(
            metric = index,
            usage,
            target,
            ratio,
            ready = groups.ready,
            unready = groups.unready.len(),
            missing = groups.missing.len(),
            replicas,
            "per-pod metric proposal"
        );
        Ok(MetricProposal {
            replicas,
            current: CurrentMetric {
                average_value: Some(from_milli(usage)),
                ..CurrentMetric::default()
            },
        })
    }

    /// The shared tail of `GetResourceReplicas` and `calcPlainMetricReplicas`.
    ///
    /// With no missing pods, and no unready pods on a scale up: within tolerance nothing
    /// changes, else `ceil(ratio × ready pods)`. Otherwise the set-aside pods are filled in —
    /// missing pods by `fill_missing` on a scale down (`ratio < 1`) and at 0 on a scale up
    /// (`ratio > 1`); unready pods at 0 on a scale up — and the ratio recomputed. The
    /// recomputed ratio changes nothing if it is within tolerance or on the other side of 1
    /// (the assumptions reversed the direction), and so does a count `ceil(new ratio × pods
    /// counted)` that moves against the new ratio's direction.
    fn rebalance(
        &self,
        current: u32,
        ratio: f64,
        groups: &PodGroups<'a>,
        metrics: &mut BTreeMap<&'a str, i128>,
        recompute: impl FnOnce(&mut BTreeMap<&'a str, i128>, bool) -> Result<f64>,
    ) -> Result<u32> {
        let scale_up_with_unready = !groups.unready.is_empty() && ratio > 1.0;
        if !scale_up_with_unready && groups.missing.is_empty() {
            if self.tolerance.is_within(ratio) {
                return Ok(current);
            }
            return Ok(ceil_replicas(ratio * groups.ready as f64));
        }
        if !groups.missing.is_empty() && ratio > 1.0 {
            for pod in &groups.missing {
                metrics.insert(pod, 0);
            }
        }
        if scale_up_with_unready {
            for pod in &groups.unready {
                metrics.insert(pod, 0);
            }
        }
        let scale_down = !groups.missing.is_empty() && ratio < 1.0;
        let new_ratio = recompute(metrics, scale_down)?;
        if self.tolerance.is_within(new_ratio)
            || (ratio < 1.0 && new_ratio > 1.0)
            || (ratio > 1.0 && new_ratio < 1.0)
        {
            return Ok(current);
        }
        let new_replicas = ceil_replicas(new_ratio * metrics.len() as f64);
        if (new_ratio < 1.0 && new_replicas > current)
            || (new_ratio > 1.0 && new_replicas < current)
        {
            return Ok(current);
        }
        Ok(new_replicas)
    }
}

/// `GetResourceUtilizationRatio`: the summed usage over the summed requests of the pods with
/// samples, as a truncated percentage, over the target percentage; also the mean usage per
/// pod, truncated. Samples of pods not listed are skipped.
fn utilization_ratio(
    index: usize,
    resource: &Resource,
    metrics: &BTreeMap<&str, i128>,
    requests: &BTreeMap<&str, i64>,
    target_percent: i64,
) -> Result<(f64, i64, i64)> {
    let (mut usage, mut requested, mut entries) = (0i128, 0i128, 0i128);
    for (pod, value) in metrics {
        if let Some(request) = requests.get(pod) {
            usage += value;
            requested += i128::from(*request);
            entries += 1;
        }
    }
    if requested == 0 {
        return Err(Error::ZeroRequests {
            metric: index,
            resource: resource.to_string(),
        });
    }
    let utilization = i64::try_from(usage * 100 / requested).unwrap_or(i64::MAX);
    let raw = i64::try_from(usage / entries).unwrap_or(i64::MAX);
    Ok((utilization as f64 / target_percent as f64, utilization, raw))
}

/// `GetMetricUsageRatio`: the mean of the samples, truncated, over the target.
fn usage_ratio(metrics: &BTreeMap<&str, i128>, target: i64) -> (f64, i64) {
    let total: i128 = metrics.values().sum();
    let count = i128::try_from(metrics.len()).unwrap_or(i128::MAX).max(1);
    let usage = i64::try_from(total / count).unwrap_or(i64::MAX);
    (usage as f64 / target as f64, usage)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ReadyCondition;

    /// One case of Kubernetes' `TestGroupPods` (replica_calculator_test.go): pods, their
    /// samples (seconds before now, window), the resource, and the expected ready count,
    /// unready and missing pods.
    struct Case {
        name: &'static str,
        pods: Vec<Pod>,
        samples: Vec<(&'static str, u64, u64)>,
        resource: Resource,
        ready: usize,
        unready: Vec<&'static str>,
        missing: Vec<&'static str>,
    }

    fn pod(
        name: &str,
        phase: PodPhase,
        start: Option<Instant>,
        ready: Option<(bool, Instant)>,
    ) -> Pod {
        Pod {
            name: name.into(),
            phase,
            deleting: false,
            start_time: start,
            ready: ready.map(|(ready, last_transition)| ReadyCondition {
                ready,
                last_transition,
            }),
            requests: std::collections::BTreeMap::new(),
        }
    }

    #[test]
    fn group_pods_as_kubernetes_does() {
        use PodPhase::{Pending, Succeeded};
        let now = Instant::now() + Duration::from_secs(86_400);
        let ago = |s: u64| now - Duration::from_secs(s);
        let cases = vec![
            Case {
                name: "void",
                pods: vec![],
                samples: vec![],
                resource: Resource::Cpu,
                ready: 0,
                unready: vec![],
                missing: vec![],
            },
            Case {
                name: "count in a ready pod - memory",
                pods: vec![pod("bentham", Succeeded, None, None)],
                samples: vec![("bentham", 0, 60)],
                resource: Resource::Memory,
                ready: 1,
                unready: vec![],
                missing: vec![],
            },
            Case {
                name: "ignore a pod without ready condition - CPU",
                pods: vec![pod("lucretius", Succeeded, Some(now), None)],
                samples: vec![("lucretius", 80_000, 0)],
                resource: Resource::Cpu,
                ready: 0,
                unready: vec!["lucretius"],
                missing: vec![],
            },
            Case {
                name: "count in a ready pod with fresh metrics during initialization period - CPU",
                pods: vec![pod(
                    "bentham",
                    Succeeded,
                    Some(ago(60)),
                    Some((true, ago(30))),
                )],
                samples: vec![("bentham", 0, 30)],
                resource: Resource::Cpu,
                ready: 1,
                unready: vec![],
                missing: vec![],
            },
            Case {
                name: "ignore a ready pod without fresh metrics during initialization period - CPU",
                pods: vec![pod(
                    "bentham",
                    Succeeded,
                    Some(ago(60)),
                    Some((true, ago(30))),
                )],
                samples: vec![("bentham", 0, 60)],
                resource: Resource::Cpu,
                ready: 0,
                unready: vec!["bentham"],
                missing: vec![],
            },
            Case {
                name: "ignore an unready pod during initialization period - CPU",
                pods: vec![pod(
                    "lucretius",
                    Succeeded,
                    Some(ago(600)),
                    Some((false, ago(594))),
                )],
                samples: vec![("lucretius", 80_000, 0)],
                resource: Resource::Cpu,
                ready: 0,
                unready: vec!["lucretius"],
                missing: vec![],
            },
            Case {
                name: "count in a ready pod without fresh metrics after initialization period - CPU",
                pods: vec![pod(
                    "bentham",
                    Succeeded,
                    Some(ago(180)),
                    Some((true, ago(180))),
                )],
                samples: vec![("bentham", 120, 60)],
                resource: Resource::Cpu,
                ready: 1,
                unready: vec![],
                missing: vec![],
            },
            Case {
                name: "count in an unready pod that was ready after initialization period - CPU",
                pods: vec![pod(
                    "lucretius",
                    Succeeded,
                    Some(ago(600)),
                    Some((false, ago(540))),
                )],
                samples: vec![("lucretius", 80_000, 0)],
                resource: Resource::Cpu,
                ready: 1,
                unready: vec![],
                missing: vec![],
            },
            Case {
                // Kubernetes' case expects the pod counted: the readiness change lies exactly at
                // start + delay, and the rule needs it strictly before.
                name: "ignore pod that has never been ready after initialization period - CPU",
                pods: vec![pod(
                    "lucretius",
                    Succeeded,
                    Some(ago(600)),
                    Some((false, ago(590))),
                )],
                samples: vec![("lucretius", 80_000, 0)],
                resource: Resource::Cpu,
                ready: 1,
                unready: vec![],
                missing: vec![],
            },
            Case {
                name: "a missing pod",
                pods: vec![pod("epicurus", Succeeded, Some(ago(180)), None)],
                samples: vec![],
                resource: Resource::Cpu,
                ready: 0,
                unready: vec![],
                missing: vec!["epicurus"],
            },
            Case {
                name: "several pods",
                pods: vec![
                    pod("lucretius", Succeeded, Some(now), None),
                    pod("niccolo", Succeeded, Some(ago(180)), Some((true, ago(180)))),
                    pod("epicurus", Succeeded, Some(ago(180)), None),
                ],
                samples: vec![("lucretius", 80_000, 0), ("niccolo", 80_000, 0)],
                resource: Resource::Cpu,
                ready: 1,
                unready: vec!["lucretius"],
                missing: vec!["epicurus"],
            },
            Case {
                name: "pending pods are ignored",
                pods: vec![pod("unscheduled", Pending, None, None)],
                samples: vec![],
                resource: Resource::Cpu,
                ready: 0,
                unready: vec!["unscheduled"],
                missing: vec![],
            },
        ];
        for case in cases {
            let samples: Vec<PodSample> = case
                .samples
                .iter()
                .map(|(pod, age, window)| PodSample {
                    pod: (*pod).into(),
                    value: 1.0,
                    timestamp: ago(*age),
                    window: Duration::from_secs(*window),
                })
                .collect();
            let calculator = ReplicaCalculator {
                tolerance: Tolerance::default(),
                cpu_initialization_period: Duration::from_secs(120),
                initial_readiness_delay: Duration::from_secs(10),
                pods: &case.pods,
                now,
            };
            let by_pod = ReplicaCalculator::samples(0, &samples).unwrap();
            let groups = calculator.group_pods(&by_pod, Some(&case.resource));
            assert_eq!(groups.ready, case.ready, "{}: ready", case.name);
            assert_eq!(
                groups.unready.into_iter().collect::<Vec<_>>(),
                case.unready,
                "{}: unready",
                case.name
            );
            assert_eq!(
                groups.missing.into_iter().collect::<Vec<_>>(),
                case.missing,
                "{}: missing",
                case.name
            );
        }
    }
}
