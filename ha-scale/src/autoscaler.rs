//! The autoscaler: Kubernetes' horizontal pod autoscaler (`autoscaling/v2`), decision for
//! decision, as `reconcileAutoscaler` in `pkg/controller/podautoscaler/horizontal.go` makes it.
//!
//! Each [`Autoscaler::decide`] is one reconciliation: it takes the time and an
//! [`Observation`] (the replicas, the pods, each metric's value), computes every metric's
//! proposal ([`crate::replica_calculator`] rules), keeps the largest, normalizes it —
//! without [`Behavior`]: the 300 s scale-down stabilization and the scale-up limit
//! `max(2 × current, 4)`; with it: the stabilization windows and rate policies — clamps it to
//! `[min, max]`, records the recommendation and the scale event, and returns a [`Decision`]
//! with Kubernetes' conditions and the limits that applied.
//!
//! Where we differ from Kubernetes: no API objects, label selectors or metric clients — the
//! caller lists the pods and fetches the values; the decided count is assumed applied (the
//! scale event is recorded at once, as Kubernetes records it after a successful update); one
//! `now` serves the whole decision where Kubernetes reads the clock several times.

use std::time::{Duration, Instant};

use crate::behavior::{scale_down_limit, scale_up_limit};
use crate::condition::set;
use crate::replica_calculator::ReplicaCalculator;
use crate::{
    Behavior, Condition, ConditionReason, ConditionType, CurrentMetric, Error, MetricProposal,
    MetricSpec, MetricValue, Pod, Recommendations, Resource, ResourceTarget, Result, ScaleEvents,
    Tolerance,
};

/// The scale-up limit without behavior: `max(2 × current, 4)` (`calculateScaleUpLimit`).
pub const SCALE_UP_LIMIT_FACTOR: u32 = 2;
/// The least scale-up limit without behavior.
pub const SCALE_UP_LIMIT_MINIMUM: u32 = 4;

/// The settings of an [`Autoscaler`] (an HPA's spec and the controller's flags).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AutoscalerConfig {
    /// The fewest replicas (`minReplicas`). Default 1. Zero only with an object or external
    /// metric (scale to zero).
    pub min_replicas: u32,
    /// The most replicas (`maxReplicas`); at least 1 and at least `min_replicas`. Default 10.
    pub max_replicas: u32,
    /// The metrics followed; at least one. Default: CPU utilization 80% (the `autoscaling/v1`
    /// default).
    pub metrics: Vec<MetricSpec>,
    /// Scaling behavior; `None` (the default) for Kubernetes' behavior-less rules: the
    /// scale-up limit `max(2 × current, 4)` and `downscale_stabilization`.
    pub behavior: Option<Behavior>,
    /// The tolerance around a usage ratio of 1. Default 0.1 both ways.
    pub tolerance: Tolerance,
    /// The scale-down stabilization window used without behavior
    /// (`--horizontal-pod-autoscaler-downscale-stabilization`). Default 300 s.
    pub downscale_stabilization: Duration,
    /// How long after its start a pod's CPU samples may be distorted by start-up
    /// (`--horizontal-pod-autoscaler-cpu-initialization-period`). Default 5 min.
    pub cpu_initialization_period: Duration,
    /// How long after its start a pod's readiness may still flip without having ever been
    /// ready (`--horizontal-pod-autoscaler-initial-readiness-delay`). Default 30 s.
    pub initial_readiness_delay: Duration,
}

impl Default for AutoscalerConfig {
    fn default() -> Self {
        AutoscalerConfig {
            min_replicas: 1,
            max_replicas: 10,
            metrics: vec![MetricSpec::Resource {
                resource: Resource::Cpu,
                target: ResourceTarget::Utilization(80),
            }],
            behavior: None,
            tolerance: Tolerance::default(),
            downscale_stabilization: Duration::from_secs(300),
            cpu_initialization_period: Duration::from_secs(300),
            initial_readiness_delay: Duration::from_secs(30),
        }
    }
}

impl AutoscalerConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`ha_core::Error::Zero`] for max replicas 0, [`ha_core::Error::Inverted`] for min above
    /// max, [`Error::NoMetrics`], [`Error::ScaleToZeroNeedsObjectOrExternalMetric`],
    /// [`Error::NonPositiveTarget`], and what [`Behavior::validate`] and
    /// [`Tolerance::validate`] reject.
    pub fn validate(&self) -> Result<()> {
        if self.max_replicas == 0 {
            return Err(ha_core::Error::Zero {
                name: "max replicas",
            }
            .into());
        }
        if self.min_replicas > self.max_replicas {
            return Err(ha_core::Error::Inverted {
                lower: "min replicas",
                lower_value: f64::from(self.min_replicas),
                upper: "max replicas",
                upper_value: f64::from(self.max_replicas),
            }
            .into());
        }
        if self.metrics.is_empty() {
            return Err(Error::NoMetrics);
        }
        if self.min_replicas == 0 && !self.metrics.iter().any(MetricSpec::allows_scale_to_zero) {
            return Err(Error::ScaleToZeroNeedsObjectOrExternalMetric);
        }
        for (index, metric) in self.metrics.iter().enumerate() {
            metric.validate(index)?;
        }
        if let Some(behavior) = &self.behavior {
            behavior.validate()?;
        }
        self.tolerance.validate()
    }
}

/// What the autoscaler sees at one decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// The replicas asked for now (`scale.spec.replicas`).
    pub current_replicas: u32,
    /// The replicas that exist (`scale.status.replicas`), used by average-value object and
    /// external metrics; `None` for the same as `current_replicas`.
    pub status_replicas: Option<u32>,
    /// The workload's pods.
    pub pods: Vec<Pod>,
    /// One value per configured metric, in the configuration's order.
    pub metrics: Vec<MetricValue>,
}

impl Observation {
    /// An observation of `current_replicas` with these pods and metric values.
    #[must_use]
    pub fn new(current_replicas: u32, pods: Vec<Pod>, metrics: Vec<MetricValue>) -> Observation {
        Observation {
            current_replicas,
            status_replicas: None,
            pods,
            metrics,
        }
    }
}

/// What happened to one metric at a decision.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct MetricStatus {
    /// The metric, as Kubernetes names it.
    pub name: String,
    /// Its proposal, if it could be computed.
    pub proposal: Option<MetricProposal>,
    /// Why it could not be, if it could not (`FailedGet...Metric`).
    pub failure: Option<ConditionReason>,
    /// The error that made it invalid, as text.
    pub message: Option<String>,
    /// The error that made it invalid.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub error: Option<Error>,
}

impl MetricStatus {
    /// The metric's current value, if its proposal was computed.
    #[must_use]
    pub fn current(&self) -> Option<CurrentMetric> {
        self.proposal.map(|p| p.current)
    }
}

/// The limits that bounded a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Limits {
    /// The fewest replicas allowed: min replicas, or the scale-down rate limit if higher.
    pub min_allowed: u32,
    /// The most replicas allowed: max replicas, or the scale-up rate limit if lower.
    pub max_allowed: u32,
    /// The scale-up rate limit. Without behavior it is always set, as in Kubernetes'
    /// `normalizeDesiredReplicas`: `calculateScaleUpLimit` (max(2 × current, 4)) bounds
    /// `max_allowed` on every decision, a scale down included. With behavior it is set only
    /// when the stabilized recommendation is a scale up, the one case in which
    /// `convertDesiredReplicasWithBehaviorRate` applies it.
    pub scale_up_limit: Option<u32>,
    /// The scale-down rate limit. Set only with behavior, when the stabilized recommendation
    /// is a scale down; without behavior Kubernetes has no scale-down rate limit.
    pub scale_down_limit: Option<u32>,
}

/// One decision of an [`Autoscaler`].
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Decision {
    /// The replicas before.
    pub current_replicas: u32,
    /// The replicas to run now. Equal to `current_replicas` when nothing changes.
    pub desired_replicas: u32,
    /// The largest metric proposal (`metricDesiredReplicas`), when metrics were consulted.
    pub metric_replicas: Option<u32>,
    /// The index of the metric whose proposal won.
    pub metric: Option<usize>,
    /// The recommendation after stabilization, when metrics were consulted.
    pub stabilized_replicas: Option<u32>,
    /// Each metric's outcome, in configuration order.
    pub metrics: Vec<MetricStatus>,
    /// The limits that applied, when metrics were consulted.
    pub limits: Option<Limits>,
    /// The conditions, as Kubernetes sets them.
    pub conditions: Vec<Condition>,
    /// Why the count changed (`"cpu resource utilization (percentage of request) above
    /// target"`, `"All metrics below target"`, ...), when it did.
    pub rescale_reason: Option<String>,
}

impl Decision {
    /// Whether the replica count changes.
    #[must_use]
    pub fn rescale(&self) -> bool {
        self.desired_replicas != self.current_replicas
    }

    /// The reason of condition `kind`, if set.
    #[must_use]
    pub fn reason(&self, kind: ConditionType) -> Option<ConditionReason> {
        self.conditions
            .iter()
            .find(|c| c.kind == kind)
            .map(|c| c.reason)
    }

    /// Whether the count was clamped (`ScalingLimited` true).
    #[must_use]
    pub fn limited(&self) -> bool {
        self.conditions
            .iter()
            .any(|c| c.kind == ConditionType::ScalingLimited && c.status)
    }
}

/// A horizontal autoscaler with Kubernetes HPA semantics, keeping its own recommendation and
/// scale-event history.
///
/// Each [`decide`](Autoscaler::decide) is one pass of Kubernetes' `reconcileAutoscaler`
/// (`pkg/controller/podautoscaler/horizontal.go`):
///
/// 1. a target at zero replicas with `min_replicas > 0` is left alone (`ScalingDisabled`); a
///    count outside `[min, max]` is brought to the nearest bound without consulting metrics;
/// 2. every metric proposes a count by the replica calculator's rules (usage ratio, tolerance,
///    `ceil(ratio × ready pods)`, missing and unready pods, the direction re-check); the largest
///    wins; invalid metrics are reported on the [`Decision`], and are fatal
///    ([`Error::InvalidMetrics`]) only when all are invalid or the others propose fewer replicas;
/// 3. without [`Behavior`]: the highest recommendation of the last `downscale_stabilization`
///    (300 s), then `[min, min(max, max(2 × current, 4))]`; with it: the stabilization windows
///    (scale up: lowest recommendation in its window; scale down: highest), then the rate
///    policies measured from the recorded scale events, then `[min, max]`;
/// 4. the recommendation, and with behavior the scale event, are recorded.
///
/// The decision carries the conditions Kubernetes would set (`AbleToScale`, `ScalingActive`,
/// `ScalingLimited` with reasons such as `ScaleUpLimit`, `TooManyReplicas`, `TooFewReplicas`,
/// `ScaleDownStabilized`) and the [`Limits`] that applied.
///
/// ```
/// use std::time::{Duration, Instant};
/// use ha_scale::{
///     Autoscaler, AutoscalerConfig, ConditionReason, ConditionType, MetricSpec, MetricValue,
///     Observation, Pod, PodSample, Resource, ResourceTarget,
/// };
///
/// let config = AutoscalerConfig {
///     min_replicas: 2,
///     max_replicas: 20,
///     metrics: vec![MetricSpec::Resource { resource: Resource::Cpu, target: ResourceTarget::Utilization(50) }],
///     ..Default::default()
/// };
/// let mut hpa = Autoscaler::new(config)?;
/// let start = Instant::now();
/// let now = start + Duration::from_secs(600);
/// // Three pods requesting 1 core each, using 0.9, 0.8 and 1.0: 90% against a 50% target.
/// let pods: Vec<Pod> = (0..3)
///     .map(|i| Pod::running(format!("web-{i}"), start).with_request(Resource::Cpu, 1.0))
///     .collect();
/// let samples = [0.9, 0.8, 1.0]
///     .iter()
///     .enumerate()
///     .map(|(i, v)| PodSample::new(format!("web-{i}"), *v, now))
///     .collect();
/// let decision = hpa.decide(now, &Observation::new(3, pods, vec![MetricValue::PerPod(samples)]))?;
/// assert_eq!(decision.metric_replicas, Some(6)); // ceil(90 / 50 × 3)
/// assert_eq!(decision.desired_replicas, 6); // within max(2 × 3, 4)
/// assert_eq!(decision.reason(ConditionType::ScalingLimited), Some(ConditionReason::DesiredWithinRange));
/// # Ok::<(), ha_scale::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Autoscaler {
    config: AutoscalerConfig,
    recommendations: Recommendations,
    events: ScaleEvents,
    latest: Option<Instant>,
}

impl Autoscaler {
    /// An autoscaler with no history.
    ///
    /// # Errors
    /// Whatever [`AutoscalerConfig::validate`] rejects.
    pub fn new(config: AutoscalerConfig) -> Result<Autoscaler> {
        config.validate()?;
        Ok(Autoscaler {
            config,
            recommendations: Recommendations::default(),
            events: ScaleEvents::default(),
            latest: None,
        })
    }

    /// An autoscaler resuming from a recorded history (after a restart, or seeded in a test).
    ///
    /// # Errors
    /// Whatever [`AutoscalerConfig::validate`] rejects.
    pub fn with_history(
        config: AutoscalerConfig,
        recommendations: Recommendations,
        events: ScaleEvents,
    ) -> Result<Autoscaler> {
        let mut autoscaler = Autoscaler::new(config)?;
        autoscaler.latest = recommendations.latest().max(events.latest());
        autoscaler.recommendations = recommendations;
        autoscaler.events = events;
        Ok(autoscaler)
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &AutoscalerConfig {
        &self.config
    }

    /// The recommendation history.
    #[must_use]
    pub fn recommendations(&self) -> &Recommendations {
        &self.recommendations
    }

    /// The scale-event history (empty without behavior, as in Kubernetes).
    #[must_use]
    pub fn scale_events(&self) -> &ScaleEvents {
        &self.events
    }

    /// Decides the replicas at `now` from `observation` (one `reconcileAutoscaler`).
    ///
    /// The history changes only when a decision is returned, except for the first call's
    /// initial recommendation, which Kubernetes records before anything can fail.
    ///
    /// # Errors
    /// [`ha_core::Error::OutOfOrder`] when `now` is earlier than a previous decision;
    /// [`Error::MetricCountMismatch`] and [`Error::DuplicatePod`] for a malformed observation;
    /// [`Error::InvalidMetrics`] when every metric is invalid, or some are and the others
    /// propose fewer replicas than now: Kubernetes then leaves the scale alone and reports
    /// `ScalingActive` false with the first invalid metric's `FailedGet*Metric` reason; the
    /// error carries that reason and the unchanged [`Decision`] with its conditions and
    /// per-metric statuses.
    pub fn decide(&mut self, now: Instant, observation: &Observation) -> Result<Decision> {
        if let Some(latest) = self.latest {
            if now < latest {
                return Err(ha_core::Error::OutOfOrder {
                    name: "decision time",
                    behind: latest.duration_since(now),
                }
                .into());
            }
        }
        let configured = self.config.metrics.len();
        if observation.metrics.len() != configured {
            return Err(Error::MetricCountMismatch {
                configured,
                given: observation.metrics.len(),
            });
        }
        let mut names = std::collections::BTreeSet::new();
        for pod in &observation.pods {
            if !names.insert(pod.name.as_str()) {
                return Err(Error::DuplicatePod {
                    pod: pod.name.clone(),
                    place: "the pods".into(),
                });
            }
        }
        self.latest = Some(now);
        let current = observation.current_replicas;
        self.recommendations.record_initial(current, now);
        let (min, max) = (self.config.min_replicas, self.config.max_replicas);
        let mut decision = Decision {
            current_replicas: current,
            desired_replicas: current,
            metric_replicas: None,
            metric: None,
            stabilized_replicas: None,
            metrics: Vec::new(),
            limits: None,
            conditions: Vec::new(),
            rescale_reason: None,
        };
        let desired = if current == 0 && min != 0 {
            // Autoscaling is disabled for a target scaled to zero by hand.
            set(
                &mut decision.conditions,
                ConditionType::ScalingActive,
                false,
                ConditionReason::ScalingDisabled,
            );
            tracing::debug!(current, min, "scaling disabled: target at zero replicas");
            return Ok(decision);
        } else if current > max {
            decision.rescale_reason =
                Some("Current number of replicas above Spec.MaxReplicas".into());
            max
        } else if current < min {
            decision.rescale_reason =
                Some("Current number of replicas below Spec.MinReplicas".into());
            min
        } else {
            self.replicas_from_metrics(now, observation, &mut decision)?
        };
        if desired != current {
            if let Some(behavior) = &self.config.behavior {
                let rules = if desired > current {
                    &behavior.scale_up
                } else {
                    &behavior.scale_down
                };
                self.events
                    .record(current, desired, rules.longest_period(), now);
            }
            set(
                &mut decision.conditions,
                ConditionType::AbleToScale,
                true,
                ConditionReason::SucceededRescale,
            );
        }
        decision.desired_replicas = desired;
        tracing::debug!(
            current,
            desired,
            metric_replicas = decision.metric_replicas,
            stabilized = decision.stabilized_replicas,
            reason = decision.rescale_reason.as_deref(),
            "autoscaler decision"
        );
        Ok(decision)
    }

    /// The metric-driven branch of `reconcileAutoscaler`: `computeReplicasForMetrics`, then
    /// `normalizeDesiredReplicas` or `normalizeDesiredReplicasWithBehaviors`.
    fn replicas_from_metrics(
        &mut self,
        now: Instant,
        observation: &Observation,
        decision: &mut Decision,
    ) -> Result<u32> {
        let current = observation.current_replicas;
        let calculator = ReplicaCalculator {
            tolerance: self.config.tolerance,
            cpu_initialization_period: self.config.cpu_initialization_period,
            initial_readiness_delay: self.config.initial_readiness_delay,
            pods: &observation.pods,
            now,
        };
        let status_replicas = observation.status_replicas.unwrap_or(current);
        // computeReplicasForMetrics: the largest proposal wins (the first of equals);
        // invalid metrics are counted and the first one's error kept.
        let mut best: Option<(u32, usize)> = None;
        let mut invalid = 0;
        let mut first_error: Option<(Error, ConditionReason)> = None;
        for (index, (spec, value)) in self
            .config
            .metrics
            .iter()
            .zip(&observation.metrics)
            .enumerate()
        {
            let outcome = calculator.propose(index, spec, value, current, status_replicas);
            let mut status = MetricStatus {
                name: spec.describe(),
                proposal: None,
                failure: None,
                message: None,
                error: None,
            };
            match outcome {
                Ok(proposal) => {
                    if best.is_none_or(|(replicas, _)| proposal.replicas > replicas) {
                        best = Some((proposal.replicas, index));
                    }
                    status.proposal = Some(proposal);
                }
                Err(err) => {
                    tracing::debug!(metric = index, error = %err, "invalid metric");
                    invalid += 1;
                    if first_error.is_none() {
                        first_error = Some((err.clone(), spec.failure_reason()));
                    }
                    status.failure = Some(spec.failure_reason());
                    status.message = Some(err.to_string());
                    status.error = Some(err);
                }
            }
            decision.metrics.push(status);
        }
        let proposed = best.map_or(0, |(replicas, _)| replicas);
        // All invalid, or some invalid while the valid ones would scale down: no decision.
        // Kubernetes keeps the replicas and sets ScalingActive false with the first invalid
        // metric's FailedGet*Metric reason; the error carries that status.
        if let Some((first, reason)) = first_error {
            if invalid >= self.config.metrics.len() || proposed < current {
                set(
                    &mut decision.conditions,
                    ConditionType::ScalingActive,
                    false,
                    reason,
                );
                tracing::debug!(
                    invalid,
                    total = self.config.metrics.len(),
                    proposed,
                    current,
                    ?reason,
                    "invalid metrics: no scale change"
                );
                return Err(Error::InvalidMetrics {
                    invalid,
                    total: self.config.metrics.len(),
                    first: Box::new(first),
                    reason,
                    decision: Box::new(decision.clone()),
                });
            }
        }
        set(
            &mut decision.conditions,
            ConditionType::ScalingActive,
            true,
            ConditionReason::ValidMetricFound,
        );
        decision.metric_replicas = Some(proposed);
        decision.metric = best.map(|(_, index)| index);
        if proposed > current {
            let name = best
                .and_then(|(_, i)| decision.metrics.get(i))
                .map_or_else(String::new, |m| m.name.clone());
            decision.rescale_reason = Some(format!("{name} above target"));
        } else if proposed < current {
            decision.rescale_reason = Some("All metrics below target".into());
        }
        Ok(match self.config.behavior.clone() {
            None => self.normalize(now, current, proposed, decision),
            Some(behavior) => {
                self.normalize_with_behavior(now, current, proposed, &behavior, decision)
            }
        })
    }

    /// `normalizeDesiredReplicas`: the highest recommendation within the downscale window,
    /// then `convertDesiredReplicasWithRules` — at least min replicas, at most
    /// `min(max replicas, max(2 × current, 4))`.
    fn normalize(
        &mut self,
        now: Instant,
        current: u32,
        proposed: u32,
        decision: &mut Decision,
    ) -> u32 {
        let stabilized =
            self.recommendations
                .stabilize_down(proposed, self.config.downscale_stabilization, now);
        let able = if stabilized == proposed {
            ConditionReason::ReadyForNewScale
        } else {
            ConditionReason::ScaleDownStabilized
        };
        set(
            &mut decision.conditions,
            ConditionType::AbleToScale,
            true,
            able,
        );
        let (min, max) = (self.config.min_replicas, self.config.max_replicas);
        let scale_up_limit = current
            .saturating_mul(SCALE_UP_LIMIT_FACTOR)
            .max(SCALE_UP_LIMIT_MINIMUM);
        let (max_allowed, over_max) = if max > scale_up_limit {
            (scale_up_limit, ConditionReason::ScaleUpLimit)
        } else {
            (max, ConditionReason::TooManyReplicas)
        };
        let (desired, reason) = if stabilized < min {
            (min, ConditionReason::TooFewReplicas)
        } else if stabilized > max_allowed {
            (max_allowed, over_max)
        } else {
            (stabilized, ConditionReason::DesiredWithinRange)
        };
        set(
            &mut decision.conditions,
            ConditionType::ScalingLimited,
            desired != stabilized,
            reason,
        );
        decision.stabilized_replicas = Some(stabilized);
        decision.limits = Some(Limits {
            min_allowed: min,
            max_allowed,
            scale_up_limit: Some(scale_up_limit),
            scale_down_limit: None,
        });
        tracing::debug!(
            proposed,
            stabilized,
            desired,
            min,
            max_allowed,
            "normalized without behavior"
        );
        desired
    }

    /// `normalizeDesiredReplicasWithBehaviors`: stabilization by both windows, then
    /// `convertDesiredReplicasWithBehaviorRate` — the rate policies, then min and max.
    fn normalize_with_behavior(
        &mut self,
        now: Instant,
        current: u32,
        proposed: u32,
        behavior: &Behavior,
        decision: &mut Decision,
    ) -> u32 {
        let (stabilized, stabilized_reason) = self.recommendations.stabilize_with_behavior(
            current,
            proposed,
            behavior.scale_up.stabilization_window,
            behavior.scale_down.stabilization_window,
            now,
        );
        let able = if stabilized == proposed {
            ConditionReason::ReadyForNewScale
        } else {
            stabilized_reason
        };
        set(
            &mut decision.conditions,
            ConditionType::AbleToScale,
            true,
            able,
        );
        let (min, max) = (self.config.min_replicas, self.config.max_replicas);
        let mut limits = Limits {
            min_allowed: min,
            max_allowed: max,
            scale_up_limit: None,
            scale_down_limit: None,
        };
        let (desired, reason) = if stabilized > current {
            // A limit below the current count (events not yet expired) holds the count.
            let limit = scale_up_limit(current, &self.events, &behavior.scale_up, now).max(current);
            limits.scale_up_limit = Some(limit);
            let (max_allowed, reason) = if max > limit {
                (limit, ConditionReason::ScaleUpLimit)
            } else {
                (max, ConditionReason::TooManyReplicas)
            };
            limits.max_allowed = max_allowed;
            if stabilized > max_allowed {
                (max_allowed, reason)
            } else {
                (stabilized, ConditionReason::DesiredWithinRange)
            }
        } else if stabilized < current {
            let limit =
                scale_down_limit(current, &self.events, &behavior.scale_down, now).min(current);
            limits.scale_down_limit = Some(limit);
            let (min_allowed, reason) = if min < limit {
                (limit, ConditionReason::ScaleDownLimit)
            } else {
                (min, ConditionReason::TooFewReplicas)
            };
            limits.min_allowed = min_allowed;
            if stabilized < min_allowed {
                (min_allowed, reason)
            } else {
                (stabilized, ConditionReason::DesiredWithinRange)
            }
        } else {
            (stabilized, ConditionReason::DesiredWithinRange)
        };
        set(
            &mut decision.conditions,
            ConditionType::ScalingLimited,
            desired != stabilized,
            reason,
        );
        decision.stabilized_replicas = Some(stabilized);
        decision.limits = Some(limits);
        tracing::debug!(
            proposed,
            stabilized,
            desired,
            scale_up_limit = limits.scale_up_limit,
            scale_down_limit = limits.scale_down_limit,
            "normalized with behavior"
        );
        desired
    }

    /// Checks the internal invariants, for tests and fuzzing: no recorded recommendation or
    /// scale event after the latest decision, and no scale event with a zero change.
    ///
    /// ```
    /// use ha_scale::{Autoscaler, AutoscalerConfig};
    ///
    /// let hpa = Autoscaler::new(AutoscalerConfig::default())?;
    /// assert_eq!(hpa.check_invariants(), Ok(()));
    /// # Ok::<(), ha_scale::Error>(())
    /// ```
    ///
    /// # Errors
    /// A description of the first invariant that does not hold, which is a bug. It never
    /// panics.
    pub fn check_invariants(&self) -> std::result::Result<(), String> {
        if let Some(latest) = self.latest {
            if self.recommendations.latest().is_some_and(|t| t > latest) {
                return Err("a recommendation is later than the latest decision".to_owned());
            }
            if self.events.latest().is_some_and(|t| t > latest) {
                return Err("a scale event is later than the latest decision".to_owned());
            }
        }
        if self
            .events
            .up()
            .iter()
            .chain(self.events.down())
            .any(|e| e.change == 0)
        {
            return Err("a scale event with a zero change".to_owned());
        }
        Ok(())
    }
}

#[cfg(test)]
#[cfg(feature = "serde")]
mod tests {
    use super::*;
    use crate::{PodSample, ScalingPolicy, ValueTarget};

    #[test]
    fn config_and_decision_round_trip_through_json() {
        let config = AutoscalerConfig {
            metrics: vec![
                MetricSpec::Resource {
                    resource: Resource::Memory,
                    target: ResourceTarget::AverageValue(512e6),
                },
                MetricSpec::External {
                    name: "queue".into(),
                    target: ValueTarget::AverageValue(30.0),
                },
            ],
            behavior: Some(Behavior {
                scale_down: crate::ScalingRules {
                    policies: vec![ScalingPolicy::percent(10, Duration::from_secs(60))],
                    ..crate::ScalingRules::default_scale_down()
                },
                ..Behavior::default()
            }),
            ..Default::default()
        };
        let json = serde_json::to_string(&config).unwrap();
        let back: AutoscalerConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, config);

        let start = Instant::now();
        let now = start + Duration::from_secs(60);
        let pods = vec![Pod::running("a", start), Pod::running("b", start)];
        let memory = MetricValue::PerPod(vec![
            PodSample::new("a", 600e6, now),
            PodSample::new("b", -1.0, now),
        ]);
        let obs = Observation::new(2, pods, vec![memory, MetricValue::External(vec![200.0])]);
        let mut hpa = Autoscaler::new(config).unwrap();
        let decision = hpa.decide(now, &obs).unwrap();
        assert!(decision.metrics[0].error.is_some());
        let json = serde_json::to_string(&decision).unwrap();
        let back: Decision = serde_json::from_str(&json).unwrap();
        assert_eq!(back.desired_replicas, decision.desired_replicas);
        assert_eq!(back.metrics[0].message, decision.metrics[0].message);
        assert_eq!(back.metrics[0].error, None); // the typed error is not serialized
        assert_eq!(back.conditions, decision.conditions);
    }
}
