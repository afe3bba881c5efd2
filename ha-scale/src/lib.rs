//! # ha-scale — how much to run
//!
//! This crate will decide how much capacity a service needs, now and ahead:
//!
//! - an autoscaler with Kubernetes HPA semantics, step scaling, queue and latency targets, predictive
//!   and cost-aware scaling;
//! - capacity forecasting (linear trend, Holt, Holt-Winters) with prediction intervals, time to
//!   exhaustion per resource and bottleneck ranking;
//! - replay of a policy over a load trace, and the steps that carry a decision out safely.
//!
//! It is empty for now: the issues "ha-scale: autoscaling decisions with Kubernetes HPA semantics,
//! predictive scaling…" and "From decision to action: scaling execution, recovery runbooks, failure
//! impact and tier advisors" fill it.

mod autoscaler;
mod behavior;
mod condition;
mod error;
pub mod metric;
mod pod;
mod queue_target;
pub mod replica_calculator;
mod scale_event;
mod stabilization;
mod step_scaling;
mod tolerance;

pub use autoscaler::{
    Autoscaler, AutoscalerConfig, Decision, Limits, MetricStatus, Observation,
    SCALE_UP_LIMIT_FACTOR, SCALE_UP_LIMIT_MINIMUM,
};
pub use behavior::{
    Behavior, MAX_POLICY_PERIOD, MAX_STABILIZATION_WINDOW, PolicyKind, ScalingPolicy, ScalingRules,
    SelectPolicy,
};
pub use condition::{Condition, ConditionReason, ConditionType};
pub use error::{Error, Result};
pub use metric::{MetricSpec, MetricValue, PodSample, Resource, ResourceTarget, ValueTarget};
pub use pod::{Pod, PodPhase, ReadyCondition};
pub use queue_target::{QueueTarget, latency_target_replicas};
pub use replica_calculator::{CurrentMetric, MetricProposal};
pub use scale_event::{ScaleEvent, ScaleEvents};
pub use stabilization::{Recommendation, Recommendations};
pub use step_scaling::{
    StepDecision, StepReason, StepRule, StepScaler, StepScalingConfig, step_metric,
};
pub use tolerance::Tolerance;
