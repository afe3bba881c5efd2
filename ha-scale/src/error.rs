//! The one error type of ha-scale.

/// What went wrong when a setting, an observation, a metric, a series or a plan was rejected.
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
    /// An external metric source returned an empty series (Kubernetes' `GetExternalMetric`:
    /// "no metrics returned from external metrics API"): the metric is invalid, not a usage of 0.
    #[error("metric {metric}: no metrics returned from the external metrics source")]
    EmptyExternalMetric {
        /// The metric's position.
        metric: usize,
    },
    /// Every metric was invalid, or some were and the valid ones proposed a scale down: no
    /// scale change (Kubernetes: "invalid metrics (n invalid out of m), first error is: ...").
    ///
    /// As Kubernetes does, the replicas are left as they are and the status still reports why:
    /// `decision` is the status Kubernetes writes — `desired_replicas == current_replicas`,
    /// `ScalingActive` false with `reason` (the first invalid metric's `FailedGet*Metric`) and
    /// every metric's outcome. The recommendation and scale-event history are not changed.
    #[error("invalid metrics ({invalid} invalid out of {total}), first error is: {first}")]
    InvalidMetrics {
        /// Invalid metrics.
        invalid: usize,
        /// Metrics configured.
        total: usize,
        /// The first invalid metric's error.
        first: Box<Error>,
        /// The `ScalingActive` false reason: the first invalid metric's
        /// [`MetricSpec::failure_reason`](crate::MetricSpec::failure_reason)
        /// (`FailedGetResourceMetric`, `FailedGetExternalMetric`, ...).
        reason: crate::ConditionReason,
        /// The decision as reported: no change, the `ScalingActive` false condition and each
        /// metric's status.
        decision: Box<crate::Decision>,
    },
    /// A time series was given no points.
    #[error("a time series needs at least one point, got none")]
    EmptySeries,
    /// Timestamps and values of different lengths.
    #[error("a time series got {times} timestamps but {values} values")]
    LengthMismatch {
        /// Timestamps given.
        times: usize,
        /// Values given.
        values: usize,
    },
    /// A timestamp earlier than the one before it.
    #[error(
        "timestamp {index} ({time}) is earlier than the one before it; timestamps must increase"
    )]
    UnsortedTimestamps {
        /// Its position.
        index: usize,
        /// The timestamp.
        time: i64,
    },
    /// A timestamp equal to the one before it.
    #[error("timestamp {index} ({time}) repeats the one before it")]
    DuplicateTimestamp {
        /// Its position.
        index: usize,
        /// The timestamp.
        time: i64,
    },
    /// A value that is NaN or infinite.
    #[error("value {index} is {value}; every value must be a finite number")]
    NonFiniteValue {
        /// Its position.
        index: usize,
        /// The value.
        value: f64,
    },
    /// A series too short for the model asked for.
    #[error("{model} needs at least {needed} points, the series has {got}")]
    SeriesTooShort {
        /// The model.
        model: &'static str,
        /// Points it needs.
        needed: usize,
        /// Points given.
        got: usize,
    },
    /// A model that needs evenly spaced points got a gap or a crowding.
    #[error(
        "timestamps {index} and {} are {gap} apart, but the series steps by {step} (the median gap); the models need even spacing (within 10%)",
        .index + 1
    )]
    IrregularSpacing {
        /// The position of the first point of the uneven pair.
        index: usize,
        /// The gap found.
        gap: i64,
        /// The series' median step.
        step: f64,
    },
    /// A multiplicative model was given a value that is not positive.
    #[error("{model} needs positive values, value {index} is {value}")]
    NonPositiveValue {
        /// The model.
        model: &'static str,
        /// Its position.
        index: usize,
        /// The value.
        value: f64,
    },
    /// The fit could not find parameters with a finite error.
    #[error(
        "{model} could not be fitted: the one-step errors are not finite for any parameters tried"
    )]
    FitFailed {
        /// The model.
        model: &'static str,
    },
    /// A [`FittedModel`](crate::FittedModel) read back (deserialized) breaks an invariant of a
    /// fitted model: a season of the wrong length, too few points, a parameter outside its
    /// admissible range or a number that is not finite.
    #[error("not a valid fitted model: {reason}")]
    InvalidModel {
        /// What is wrong.
        reason: String,
    },
    /// Automatic selection had no candidate model that could be fitted; the reasons per model follow.
    #[error("no candidate model could be fitted: {reasons}")]
    NoModelFits {
        /// Each candidate's error, joined.
        reasons: String,
    },
    /// The same resource was given twice.
    #[error("resource {0} is given more than once")]
    DuplicateResource(crate::CapacityResource),
    /// A load trace with a negative demand.
    #[error("demand {index} is {value}; demand cannot be negative")]
    NegativeDemand {
        /// Its position.
        index: usize,
        /// The value.
        value: f64,
    },
    /// A resource is named that the plan does not hold (a price for an unforecast resource).
    #[error("resource {0} has no forecast")]
    UnknownResource(crate::CapacityResource),
    /// A forecast without points.
    #[error("the forecast has no points")]
    EmptyForecast,
    /// A forecast that does not reach the time it is read at (`now + warm_up`).
    #[error("the forecast covers {first}..={last}, not the time {target} it is needed at")]
    ForecastDoesNotCover {
        /// `now + warm_up`, in the forecast's time unit.
        target: f64,
        /// The first point's time.
        first: i64,
        /// The last point's time.
        last: i64,
    },
    /// A capacity mix whose shares do not sum to 1.
    #[error("the capacity mix's shares sum to {sum}, not 1")]
    MixDoesNotSumToOne {
        /// Their sum.
        sum: f64,
    },
    /// A kind with a share in the mix but no instance type on offer.
    #[error("the mix has a {0} share but no {0} instance type is on offer")]
    NoInstanceOfKind(crate::InstanceKind),
    /// An instance type name given twice.
    #[error("instance type {0} is given more than once")]
    DuplicateInstanceType(String),
    /// A rollout whose max surge and max unavailable are both zero: no instance could ever be
    /// added or taken down (Kubernetes refuses the same Deployment).
    #[error("max surge and max unavailable must not both be zero")]
    ZeroRolloutBudget,
    /// An instance id the executor does not track (never created, or already gone).
    #[error("instance {0} is not tracked by the executor")]
    UnknownInstance(String),
    /// An instance id adopted twice.
    #[error("instance {0} is already tracked by the executor")]
    DuplicateInstance(String),
    /// An event an instance cannot take in its present state (registered before it was ready).
    #[error("{instance} cannot take {event} while {state}")]
    InstanceEventRefused {
        /// The instance: `instance web-3`, or `the instance` for a lone [`Lifecycle`](crate::Lifecycle).
        instance: String,
        /// The event.
        event: &'static str,
        /// Its state.
        state: crate::InstanceState,
    },
    /// An event a recovery runbook cannot take at its present step.
    #[error("recovery of {component} cannot take {event} while {step}")]
    RecoveryEventRefused {
        /// The component recovering.
        component: String,
        /// The event.
        event: &'static str,
        /// The runbook's step.
        step: crate::RecoveryStep,
    },
    /// A dependency graph with a cycle where cycles are refused; the ids along one cycle, the
    /// first repeated at the end.
    #[error("dependency cycle: {}", .cycle.join(" → "))]
    DependencyCycle {
        /// The cycle: `["a", "b", "a"]` for a → b → a.
        cycle: Vec<String>,
    },
    /// A node id the graph does not hold.
    #[error("unknown node {node} in {context}")]
    UnknownNode {
        /// The id.
        node: String,
        /// Where it was named (`the dependency a → b`, `the failed nodes`).
        context: String,
    },
    /// A graph node id given twice.
    #[error("node {0} is given more than once")]
    DuplicateNode(String),
    /// The same dependency `from → to` given twice.
    #[error("the dependency {from} → {to} is given more than once")]
    DuplicateDependency {
        /// The dependant.
        from: String,
        /// Its dependency.
        to: String,
    },
    /// A what-if tier name given twice.
    #[error("tier {0} is given more than once")]
    DuplicateTier(String),
    /// A resource given twice in one what-if tier.
    #[error("tier {tier}: resource {resource} is given more than once")]
    DuplicateTierResource {
        /// The tier.
        tier: String,
        /// The resource.
        resource: crate::TierResource,
    },
}

/// `Result` with ha-scale's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) use ha_core::validate::{finite, in_range};

/// Checks that a number is finite and strictly positive.
pub(crate) fn positive(name: &'static str, value: f64) -> Result<f64> {
    finite(name, value)?;
    if value <= 0.0 {
        return Err(ha_core::Error::OutOfRange {
            name,
            value,
            range: "(0, ∞)",
        }
        .into());
    }
    Ok(value)
}
