//! What an [`Autoscaler`](crate::Autoscaler) measures: the metric specs of Kubernetes'
//! `autoscaling/v2` API and the values observed for them.
//!
//! Kubernetes carries every quantity as an integer number of thousandths (a *milli-value*,
//! `Quantity.MilliValue()`), and its replica calculator does integer arithmetic on them: a
//! utilization percentage is truncated, an average usage is truncated. To reproduce its answers
//! exactly, every value here is converted once to integer thousandths (rounded to the nearest,
//! so `0.3` is `300m` despite binary floating point) and computed on as Kubernetes does.

use std::fmt;
use std::time::{Duration, Instant};

use crate::{ConditionReason, Error, Result};

/// The largest metric value or request accepted, so sums of milli-values stay exact.
pub(crate) const MAX_VALUE: f64 = 1e15;

/// A compute resource of a pod, as in Kubernetes' `ResourceName`.
///
/// Only [`Resource::Cpu`] gets the CPU-specific readiness rules (samples of pods still
/// initialising are set aside; see [`AutoscalerConfig::cpu_initialization_period`](crate::AutoscalerConfig::cpu_initialization_period)).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum Resource {
    /// CPU, in cores.
    Cpu,
    /// Memory, in bytes.
    Memory,
    /// Any other resource, by name (`ephemeral-storage`, `nvidia.com/gpu`).
    Named(String),
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Resource::Cpu => f.write_str("cpu"),
            Resource::Memory => f.write_str("memory"),
            Resource::Named(name) => f.write_str(name),
        }
    }
}

/// The target of a resource metric (`MetricTarget` of a `Resource` metric source).
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum ResourceTarget {
    /// `averageUtilization`: the mean usage over the mean request of the pods, in percent
    /// (`70` for 70%). Above 100 is allowed.
    Utilization(u32),
    /// `averageValue`: the mean usage per pod, in the resource's unit.
    AverageValue(f64),
}

/// The target of an object or external metric.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum ValueTarget {
    /// `value`: the metric's value (an external metric's values summed) is held at the target
    /// by scaling the ready pods in proportion.
    Value(f64),
    /// `averageValue`: the metric's value divided by the replicas is held at the target.
    AverageValue(f64),
}

/// One metric an autoscaler follows (`MetricSpec`). With several, the largest proposal wins.
///
/// ```
/// use ha_scale::{MetricSpec, Resource, ResourceTarget, ValueTarget};
///
/// let cpu = MetricSpec::Resource { resource: Resource::Cpu, target: ResourceTarget::Utilization(70) };
/// let qps = MetricSpec::Pods { name: "requests_per_second".into(), average_value: 100.0 };
/// let queue = MetricSpec::External { name: "queue_depth".into(), target: ValueTarget::AverageValue(30.0) };
/// assert_eq!(cpu.describe(), "cpu resource utilization (percentage of request)");
/// assert!(queue.allows_scale_to_zero() && !qps.allows_scale_to_zero());
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum MetricSpec {
    /// A resource of the pods (CPU, memory), from per-pod samples.
    Resource {
        /// The resource.
        resource: Resource,
        /// Its target.
        target: ResourceTarget,
    },
    /// A per-pod custom metric (requests per second per pod), held at an average value.
    Pods {
        /// The metric's name.
        name: String,
        /// The target mean per pod.
        average_value: f64,
    },
    /// A metric describing one object (an ingress's requests per second).
    Object {
        /// The metric's name.
        name: String,
        /// Its target.
        target: ValueTarget,
    },
    /// A metric from outside the cluster (a queue's depth); all its series are summed.
    External {
        /// The metric's name.
        name: String,
        /// Its target.
        target: ValueTarget,
    },
}

impl MetricSpec {
    /// The metric's name as Kubernetes reports it in events and conditions.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            MetricSpec::Resource {
                resource,
                target: ResourceTarget::Utilization(_),
            } => format!("{resource} resource utilization (percentage of request)"),
            MetricSpec::Resource { resource, .. } => format!("{resource} resource"),
            MetricSpec::Pods { name, .. } => format!("pods metric {name}"),
            MetricSpec::Object { name, .. } => format!("object metric {name}"),
            MetricSpec::External { name, .. } => format!("external metric {name}"),
        }
    }

    /// Whether this metric can drive a scale up from zero pods: object and external metrics
    /// can, per-pod metrics cannot (they have no pods to sample).
    #[must_use]
    pub fn allows_scale_to_zero(&self) -> bool {
        matches!(
            self,
            MetricSpec::Object { .. } | MetricSpec::External { .. }
        )
    }

    /// The kind, as text: `"resource"`, `"pods"`, `"object"`, `"external"`.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            MetricSpec::Resource { .. } => "resource",
            MetricSpec::Pods { .. } => "pods",
            MetricSpec::Object { .. } => "object",
            MetricSpec::External { .. } => "external",
        }
    }

    /// The `ScalingActive` reason Kubernetes sets when this metric cannot be computed.
    #[must_use]
    pub fn failure_reason(&self) -> ConditionReason {
        match self {
            MetricSpec::Resource { .. } => ConditionReason::FailedGetResourceMetric,
            MetricSpec::Pods { .. } => ConditionReason::FailedGetPodsMetric,
            MetricSpec::Object { .. } => ConditionReason::FailedGetObjectMetric,
            MetricSpec::External { .. } => ConditionReason::FailedGetExternalMetric,
        }
    }

    /// Checks the target: a utilization above 0 percent, a value of at least one thousandth.
    ///
    /// # Errors
    /// [`Error::NonPositiveTarget`] naming the metric's position `index`.
    pub fn validate(&self, index: usize) -> Result<()> {
        let value = match self {
            MetricSpec::Resource {
                target: ResourceTarget::Utilization(percent),
                ..
            } => f64::from(*percent),
            MetricSpec::Resource {
                target: ResourceTarget::AverageValue(v),
                ..
            }
            | MetricSpec::Pods {
                average_value: v, ..
            }
            | MetricSpec::Object {
                target: ValueTarget::Value(v) | ValueTarget::AverageValue(v),
                ..
            }
            | MetricSpec::External {
                target: ValueTarget::Value(v) | ValueTarget::AverageValue(v),
                ..
            } => *v,
        };
        target_milli(index, value).map(drop)
    }
}

/// One pod's sample of a per-pod metric, as the metrics API returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct PodSample {
    /// The pod's name.
    pub pod: String,
    /// The value, in the metric's unit (cores for CPU, bytes for memory).
    pub value: f64,
    /// When the sample's window ended.
    pub timestamp: Instant,
    /// The window the sample averages over (the metrics server's is 1 minute by default).
    pub window: Duration,
}

impl PodSample {
    /// A sample of `value` for `pod`, taken at `timestamp` over a one-minute window.
    #[must_use]
    pub fn new(pod: impl Into<String>, value: f64, timestamp: Instant) -> PodSample {
        PodSample {
            pod: pod.into(),
            value,
            timestamp,
            window: Duration::from_secs(60),
        }
    }
}

/// The value observed for one configured metric, in the configuration's order.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricValue {
    /// Per-pod samples, for a resource or pods metric. Pods without a sample are *missing*.
    PerPod(Vec<PodSample>),
    /// The value of an object metric.
    Object(f64),
    /// The values of an external metric's series; they are summed.
    External(Vec<f64>),
    /// The metric source could not provide the metric: the metric is invalid this time.
    Unavailable(String),
}

impl MetricValue {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            MetricValue::PerPod(_) => "per-pod samples",
            MetricValue::Object(_) => "an object value",
            MetricValue::External(_) => "external values",
            MetricValue::Unavailable(_) => "unavailable",
        }
    }
}

/// Converts a value to integer thousandths, as `Quantity.MilliValue()`; rounds to the nearest.
pub(crate) fn to_milli(value: f64) -> Option<i64> {
    if value.is_finite() && (0.0..=MAX_VALUE).contains(&value) {
        // In range: at most 1e18, below i64::MAX.
        Some((value * 1000.0).round() as i64)
    } else {
        None
    }
}

/// A metric value in thousandths, or [`Error::BadMetricValue`].
pub(crate) fn metric_milli(
    metric: usize,
    what: impl FnOnce() -> String,
    value: f64,
) -> Result<i64> {
    to_milli(value).ok_or_else(|| Error::BadMetricValue {
        metric,
        what: what(),
        value,
    })
}

/// A target in thousandths, at least 1, or [`Error::NonPositiveTarget`].
pub(crate) fn target_milli(metric: usize, value: f64) -> Result<i64> {
    match to_milli(value) {
        Some(milli) if milli >= 1 => Ok(milli),
        _ if value.is_nan() => Err(ha_core::Error::NotFinite {
            name: "metric target",
            value,
        }
        .into()),
        _ => Err(Error::NonPositiveTarget { metric, value }),
    }
}

/// Thousandths back to units.
pub(crate) fn from_milli(milli: i64) -> f64 {
    milli as f64 / 1000.0
}
