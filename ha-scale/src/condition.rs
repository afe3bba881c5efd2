//! The status conditions a Kubernetes HPA reports with each decision: `AbleToScale`,
//! `ScalingActive` and `ScalingLimited`, each with a reason and message as
//! `pkg/controller/podautoscaler/horizontal.go` words them.

use std::fmt;

/// Which condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ConditionType {
    /// Whether the autoscaler could scale, or what held it (stabilization).
    AbleToScale,
    /// Whether the autoscaler could compute a replica count from its metrics.
    ScalingActive,
    /// Whether the desired count was clamped by min / max or a rate limit.
    ScalingLimited,
}

/// Why a condition is as it is; the names are Kubernetes' reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ConditionReason {
    /// `AbleToScale` true: the recommendation stood as computed.
    ReadyForNewScale,
    /// `AbleToScale` true: a new replica count was decided (Kubernetes: the scale was updated).
    SucceededRescale,
    /// `AbleToScale` true: the scale-up stabilization window held the recommendation down.
    ScaleUpStabilized,
    /// `AbleToScale` true: the scale-down stabilization window held the recommendation up.
    ScaleDownStabilized,
    /// `ScalingActive` true: a valid metric gave a replica count.
    ValidMetricFound,
    /// `ScalingActive` false: the target has zero replicas and min replicas is not zero.
    ScalingDisabled,
    /// `ScalingActive` false: a resource metric could not be computed.
    FailedGetResourceMetric,
    /// `ScalingActive` false: a pods metric could not be computed.
    FailedGetPodsMetric,
    /// `ScalingActive` false: an object metric could not be computed.
    FailedGetObjectMetric,
    /// `ScalingActive` false: an external metric could not be computed.
    FailedGetExternalMetric,
    /// `ScalingLimited` false: the desired count is within every limit.
    DesiredWithinRange,
    /// `ScalingLimited` true: clamped by the scale-up rate limit.
    ScaleUpLimit,
    /// `ScalingLimited` true: clamped by the scale-down rate limit.
    ScaleDownLimit,
    /// `ScalingLimited` true: clamped to max replicas.
    TooManyReplicas,
    /// `ScalingLimited` true: clamped to min replicas.
    TooFewReplicas,
}

impl ConditionReason {
    /// The condition message Kubernetes writes with this reason.
    #[must_use]
    pub fn message(self) -> &'static str {
        match self {
            ConditionReason::ReadyForNewScale => "recommended size matches current size",
            ConditionReason::SucceededRescale => {
                "the HPA controller was able to update the target scale"
            }
            ConditionReason::ScaleUpStabilized => {
                "recent recommendations were lower than current one, applying the lowest recent recommendation"
            }
            ConditionReason::ScaleDownStabilized => {
                "recent recommendations were higher than current one, applying the highest recent recommendation"
            }
            ConditionReason::ValidMetricFound => {
                "the HPA was able to successfully calculate a replica count"
            }
            ConditionReason::ScalingDisabled => {
                "scaling is disabled since the replica count of the target is zero"
            }
            ConditionReason::FailedGetResourceMetric
            | ConditionReason::FailedGetPodsMetric
            | ConditionReason::FailedGetObjectMetric
            | ConditionReason::FailedGetExternalMetric => {
                "the HPA was unable to compute the replica count"
            }
            ConditionReason::DesiredWithinRange => {
                "the desired count is within the acceptable range"
            }
            ConditionReason::ScaleUpLimit => {
                "the desired replica count is increasing faster than the maximum scale rate"
            }
            ConditionReason::ScaleDownLimit => {
                "the desired replica count is decreasing faster than the maximum scale rate"
            }
            ConditionReason::TooManyReplicas => {
                "the desired replica count is more than the maximum replica count"
            }
            ConditionReason::TooFewReplicas => {
                "the desired replica count is less than the minimum replica count"
            }
        }
    }
}

impl fmt::Display for ConditionReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// One condition of a [`Decision`](crate::Decision).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Condition {
    /// Which condition.
    pub kind: ConditionType,
    /// Its status (`True` / `False`).
    pub status: bool,
    /// Why.
    pub reason: ConditionReason,
}

/// Sets `kind` in `list`, replacing an earlier setting (Kubernetes' `setCondition`).
pub(crate) fn set(
    list: &mut Vec<Condition>,
    kind: ConditionType,
    status: bool,
    reason: ConditionReason,
) {
    let condition = Condition {
        kind,
        status,
        reason,
    };
    match list.iter_mut().find(|c| c.kind == kind) {
        Some(existing) => *existing = condition,
        None => list.push(condition),
    }
}
