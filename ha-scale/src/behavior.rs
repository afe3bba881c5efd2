//! Scaling behavior (`HorizontalPodAutoscalerBehavior`): stabilization windows and rate
//! policies for each direction, with Kubernetes' defaults and its rate-limit arithmetic
//! (`calculateScaleUpLimitWithScalingRules` and `calculateScaleDownLimitWithBehaviors` in
//! `horizontal.go`).

use std::time::Duration;

use crate::{Error, Result, ScaleEvents};

/// The longest policy period Kubernetes accepts (`periodSeconds` ≤ 1800).
pub const MAX_POLICY_PERIOD: Duration = Duration::from_secs(1800);
/// The longest stabilization window Kubernetes accepts (`stabilizationWindowSeconds` ≤ 3600).
pub const MAX_STABILIZATION_WINDOW: Duration = Duration::from_secs(3600);

/// How a policy's value is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum PolicyKind {
    /// `Pods`: at most `value` pods added (or removed) per period.
    Pods,
    /// `Percent`: at most `value`% of the replicas at the period's start added (or removed)
    /// per period.
    Percent,
}

/// One rate policy (`HPAScalingPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ScalingPolicy {
    /// Pods or percent.
    pub kind: PolicyKind,
    /// How many pods, or what percentage; above zero.
    pub value: u32,
    /// The window the change is counted over (`periodSeconds`): above zero, at most 30 min.
    pub period: Duration,
}

impl ScalingPolicy {
    /// `value` pods per `period`.
    #[must_use]
    pub fn pods(value: u32, period: Duration) -> ScalingPolicy {
        ScalingPolicy {
            kind: PolicyKind::Pods,
            value,
            period,
        }
    }

    /// `value` percent per `period`.
    #[must_use]
    pub fn percent(value: u32, period: Duration) -> ScalingPolicy {
        ScalingPolicy {
            kind: PolicyKind::Percent,
            value,
            period,
        }
    }
}

/// Which policy applies when several do (`selectPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum SelectPolicy {
    /// The policy allowing the largest change. The default.
    #[default]
    Max,
    /// The policy allowing the smallest change.
    Min,
    /// No scaling in this direction at all.
    Disabled,
}

/// The rules for one direction (`HPAScalingRules`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ScalingRules {
    /// The stabilization window: scaling up takes the lowest recommendation within it,
    /// scaling down the highest. At most 1 h.
    pub stabilization_window: Duration,
    /// Which policy wins.
    pub select_policy: SelectPolicy,
    /// The rate policies; at least one unless `select_policy` is `Disabled`.
    pub policies: Vec<ScalingPolicy>,
}

impl ScalingRules {
    /// Kubernetes' default scale-up rules: no stabilization, the larger of 4 pods and 100% per
    /// 15 s.
    #[must_use]
    pub fn default_scale_up() -> ScalingRules {
        ScalingRules {
            stabilization_window: Duration::ZERO,
            select_policy: SelectPolicy::Max,
            policies: vec![
                ScalingPolicy::pods(4, Duration::from_secs(15)),
                ScalingPolicy::percent(100, Duration::from_secs(15)),
            ],
        }
    }

    /// Kubernetes' default scale-down rules: a 300 s stabilization window, 100% per 15 s.
    #[must_use]
    pub fn default_scale_down() -> ScalingRules {
        ScalingRules {
            stabilization_window: Duration::from_secs(300),
            select_policy: SelectPolicy::Max,
            policies: vec![ScalingPolicy::percent(100, Duration::from_secs(15))],
        }
    }

    /// Checks the rules against Kubernetes' API validation.
    ///
    /// # Errors
    /// [`ha_core::Error::TooLarge`] for a window above 1 h or a period above 30 min,
    /// [`ha_core::Error::Zero`] for a zero period, [`Error::ZeroPolicyValue`],
    /// [`Error::NoPolicies`].
    pub fn validate(&self, direction: &'static str) -> Result<()> {
        if self.stabilization_window > MAX_STABILIZATION_WINDOW {
            return Err(ha_core::Error::TooLarge {
                name: "stabilization window (seconds)",
                value: self.stabilization_window.as_secs(),
                max: MAX_STABILIZATION_WINDOW.as_secs(),
            }
            .into());
        }
        if self.policies.is_empty() && self.select_policy != SelectPolicy::Disabled {
            return Err(Error::NoPolicies { direction });
        }
        for (index, policy) in self.policies.iter().enumerate() {
            if policy.period.is_zero() {
                return Err(ha_core::Error::Zero {
                    name: "policy period",
                }
                .into());
            }
            if policy.period > MAX_POLICY_PERIOD {
                return Err(ha_core::Error::TooLarge {
                    name: "policy period (seconds)",
                    value: policy.period.as_secs(),
                    max: MAX_POLICY_PERIOD.as_secs(),
                }
                .into());
            }
            if policy.value == 0 {
                return Err(Error::ZeroPolicyValue { direction, index });
            }
        }
        Ok(())
    }

    /// The longest policy period (`getLongestPolicyPeriod`), zero without policies.
    #[must_use]
    pub fn longest_period(&self) -> Duration {
        self.policies
            .iter()
            .map(|p| p.period)
            .max()
            .unwrap_or(Duration::ZERO)
    }
}

/// Scaling behavior: the rules for each direction. `Default` is Kubernetes' default behavior.
///
/// ```
/// use std::time::Duration;
/// use ha_scale::{Behavior, ScalingPolicy, ScalingRules, SelectPolicy};
///
/// // The design figures: up 100% per 15 s, down 10% per 60 s with a 300 s window.
/// let behavior = Behavior {
///     scale_up: ScalingRules::default_scale_up(),
///     scale_down: ScalingRules {
///         stabilization_window: Duration::from_secs(300),
///         select_policy: SelectPolicy::Max,
///         policies: vec![ScalingPolicy::percent(10, Duration::from_secs(60))],
///     },
/// };
/// behavior.validate()?;
/// # Ok::<(), ha_scale::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Behavior {
    /// Rules for scaling up.
    pub scale_up: ScalingRules,
    /// Rules for scaling down.
    pub scale_down: ScalingRules,
}

impl Default for Behavior {
    fn default() -> Self {
        Behavior {
            scale_up: ScalingRules::default_scale_up(),
            scale_down: ScalingRules::default_scale_down(),
        }
    }
}

impl Behavior {
    /// Checks both directions' rules.
    ///
    /// # Errors
    /// See [`ScalingRules::validate`].
    pub fn validate(&self) -> Result<()> {
        self.scale_up.validate("scale up")?;
        self.scale_down.validate("scale down")
    }
}

/// The highest count the scale-up policies allow now
/// (`calculateScaleUpLimitWithScalingRules`): for each policy, the replicas at the start of
/// its period — current, minus pods added, plus pods removed within the period by recorded
/// scale events — plus the policy's pods, or times `1 + percent / 100` rounded up; the largest
/// (`Max`) or smallest (`Min`) over the policies; the current count when `Disabled`.
pub(crate) fn scale_up_limit(
    current: u32,
    events: &ScaleEvents,
    rules: &ScalingRules,
    now: std::time::Instant,
) -> u32 {
    let pick: fn(i64, i64) -> i64 = match rules.select_policy {
        SelectPolicy::Disabled => return current,
        SelectPolicy::Min => i64::min,
        SelectPolicy::Max => i64::max,
    };
    let mut result: Option<i64> = None;
    for policy in &rules.policies {
        let start = period_start_replicas(current, events, policy.period, now);
        let proposed = match policy.kind {
            PolicyKind::Pods => start + i64::from(policy.value),
            // Rounded up, so a small count can always grow.
            PolicyKind::Percent => {
                (start as f64 * (1.0 + f64::from(policy.value) / 100.0)).ceil() as i64
            }
        };
        result = Some(result.map_or(proposed, |r| pick(r, proposed)));
    }
    clamp_u32(result.unwrap_or(i64::from(current)))
}

/// The lowest count the scale-down policies allow now (`calculateScaleDownLimitWithBehaviors`):
/// for each policy, the replicas at the start of its period minus the policy's pods, or times
/// `1 − percent / 100` truncated; the smallest (`Max`, the largest change) or largest (`Min`)
/// over the policies; the current count when `Disabled`.
pub(crate) fn scale_down_limit(
    current: u32,
    events: &ScaleEvents,
    rules: &ScalingRules,
    now: std::time::Instant,
) -> u32 {
    let pick: fn(i64, i64) -> i64 = match rules.select_policy {
        SelectPolicy::Disabled => return current,
        SelectPolicy::Min => i64::max,
        SelectPolicy::Max => i64::min,
    };
    let mut result: Option<i64> = None;
    for policy in &rules.policies {
        let start = period_start_replicas(current, events, policy.period, now);
        let proposed = match policy.kind {
            PolicyKind::Pods => start - i64::from(policy.value),
            PolicyKind::Percent => (start as f64 * (1.0 - f64::from(policy.value) / 100.0)) as i64,
        };
        result = Some(result.map_or(proposed, |r| pick(r, proposed)));
    }
    clamp_u32(result.unwrap_or(i64::from(current)))
}

/// `currentReplicas − replicasAddedInCurrentPeriod + replicasDeletedInCurrentPeriod`.
fn period_start_replicas(
    current: u32,
    events: &ScaleEvents,
    period: Duration,
    now: std::time::Instant,
) -> i64 {
    i64::from(current) - i64::from(events.added_within(period, now))
        + i64::from(events.removed_within(period, now))
}

fn clamp_u32(x: i64) -> u32 {
    u32::try_from(x.max(0)).unwrap_or(u32::MAX)
}
