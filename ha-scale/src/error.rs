//! The one error type of ha-scale.

/// What went wrong when a setting, an observation or a metric was rejected.
///
/// Settings are checked once, when an [`Autoscaler`](crate::Autoscaler) is built; observations
/// and metric values at each decision. A bad metric value makes that metric *invalid*: as in
/// Kubernetes, the decision goes on with the other metrics when they propose a scale up, and
/// the invalid metric is reported on the [`Decision`](crate::Decision) with its error.
///
/// ```
/// use ha_scale::{AutoscalerConfig, Error};
///
/// let config = AutoscalerConfig { min_replicas: 5, max_replicas: 3, ..Default::default() };
/// let err = config.validate().unwrap_err();
/// assert!(matches!(err, Error::Core(ha_core::Error::Inverted { .. })));
/// assert_eq!(err.to_string(), "min replicas (5) must not exceed max replicas (3)");
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A shared-vocabulary error from ha-core: a NaN or infinite number, a value out of range,
    /// a zero that must be positive, settings the wrong way round, time running backwards.
    #[error(transparent)]
    Core(#[from] ha_core::Error),
    /// An autoscaler was configured without metrics.
    #[error("an autoscaler needs at least one metric")]
    NoMetrics,
    /// `min_replicas` 0 without an object or external metric: only those can tell the
    /// autoscaler to scale up from zero pods (Kubernetes' `HPAScaleToZero` rule).
    #[error("min replicas 0 needs at least one object or external metric")]
    ScaleToZeroNeedsObjectOrExternalMetric,
    /// A metric target that must be positive was zero, negative or below a thousandth.
    #[error("metric {metric}: target must be at least 0.001, got {value}")]
    NonPositiveTarget {
        /// The metric's position in the configuration.
        metric: usize,
        /// The target given.
        value: f64,
    },
    /// A scaling policy with a zero value.
    #[error("{direction} policy {index}: value must be greater than zero")]
    ZeroPolicyValue {
        /// `"scale up"` or `"scale down"`.
        direction: &'static str,
        /// The policy's position.
        index: usize,
    },
    /// Scaling rules without policies whose select policy is not `Disabled`.
    #[error("{direction} rules need at least one policy unless the select policy is Disabled")]
    NoPolicies {
        /// `"scale up"` or `"scale down"`.
        direction: &'static str,
    },
    /// An observation carried a different number of metric values than metrics configured.
    #[error("the observation has {given} metric values for {configured} configured metrics")]
    MetricCountMismatch {
        /// Metrics configured.
        configured: usize,
        /// Values observed.
        given: usize,
    },
    /// A metric value of the wrong kind for its metric (per-pod samples for an object metric...).
    #[error("metric {metric}: {spec} metric observed as {observed}")]
    MetricKindMismatch {
        /// The metric's position.
        metric: usize,
        /// The kind configured.
        spec: &'static str,
        /// The kind observed.
        observed: &'static str,
    },
    /// A metric value that is negative, NaN, infinite or too large.
    #[error("metric {metric}: {what} must be a finite number in [0, 1e15], got {value}")]
    BadMetricValue {
        /// The metric's position.
        metric: usize,
        /// What was bad (`"sample of pod web-1"`, `"object value"`).
        what: String,
        /// The value given.
        value: f64,
    },
    /// A pod listed twice in the pods or in one metric's samples.
    #[error("pod {pod} appears more than once in {place}")]
    DuplicatePod {
        /// The pod's name.
        pod: String,
        /// `"the pods"` or the metric.
        place: String,
    },
    /// A per-pod metric with no pods to spread it over (Kubernetes: "no pods returned by
    /// selector while calculating replica count").
    #[error("metric {metric}: no pods to calculate a replica count from")]
    NoPods {
        /// The metric's position.
        metric: usize,
    },
    /// No sample of a per-pod metric belongs to a ready pod (Kubernetes: "did not receive
    /// metrics for targeted pods (pods might be unready)").
    #[error("metric {metric}: no samples for ready pods")]
    NoReadyPodMetrics {
        /// The metric's position.
        metric: usize,
    },
    /// A pod without a request for the resource whose utilization is the target.
    #[error("metric {metric}: pod {pod} has no {resource} request")]
    MissingRequest {
        /// The metric's position.
        metric: usize,
        /// The pod.
        pod: String,
        /// The resource.
        resource: String,
    },
    /// A request that is negative, NaN, infinite or too large.
    #[error("pod {pod}: {resource} request must be a finite number in [0, 1e15], got {value}")]
    BadRequest {
        /// The pod.
        pod: String,
        /// The resource.
        resource: String,
        /// The value given.
        value: f64,
    },
    /// The requests of the pods with samples sum to zero, so utilization is undefined
    /// (Kubernetes: "no metrics returned matched known pods").
    #[error("metric {metric}: the pods with samples request no {resource} at all")]
    ZeroRequests {
        /// The metric's position.
        metric: usize,
        /// The resource.
        resource: String,
    },
    /// The metric source reported that it could not get the metric.
    #[error("metric {metric}: unavailable: {reason}")]
    MetricUnavailable {
        /// The metric's position.
        metric: usize,
        /// The source's reason.
        reason: String,
    },
    /// Every metric was invalid, or some were and the valid ones proposed a scale down: no
    /// decision (Kubernetes: "invalid metrics (n invalid out of m), first error is: ...").
    #[error("invalid metrics ({invalid} invalid out of {total}), first error is: {first}")]
    InvalidMetrics {
        /// Invalid metrics.
        invalid: usize,
        /// Metrics configured.
        total: usize,
        /// The first invalid metric's error.
        first: Box<Error>,
    },
}

/// `Result` with ha-scale's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
