//! Step (threshold) scaling with cooldowns, as operators write it: "add 2 replicas when CPU is
//! above 70% for 3 minutes; remove 1 when CPU is below 30% and memory below 50% for 10
//! minutes; at least 2, at most 20; wait 5 minutes between changes".
//!
//! The conditions are ha-core [`AlertRule`]s — a metric compared with a threshold for a hold
//! time — each evaluated by its own [`Alert`] state machine. A [`StepRule`] fires when all its
//! conditions are firing. This follows AWS EC2 Auto Scaling's *simple scaling* policies
//! (a change per alarm, then a cooldown during which no further simple-scaling change is made);
//! where we differ: several rules may fire at once — the largest scale up wins, and any scale up
//! wins over a scale down — and the cooldown has a length per direction.

use std::time::{Duration, Instant};

use ha_core::{Alert, AlertRule, Comparison, Severity, metric};

use crate::{Error, Result};

/// Metric names used by [`StepScalingConfig::operator_defaults`] beyond ha-core's
/// [`metric`] names.
pub mod step_metric {
    /// The 95th percentile of request latency, in seconds.
    pub const LATENCY_P95_SECONDS: &str = "latency_p95_seconds";
    /// Items waiting in the work queue.
    pub const QUEUE_LENGTH: &str = "queue_length";
}

/// A change of the replica count when every one of its conditions is firing.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct StepRule {
    /// The conditions, all of which must be firing; at least one.
    pub conditions: Vec<AlertRule>,
    /// Replicas added (positive) or removed (negative); not zero.
    pub change: i32,
}

impl StepRule {
    /// A rule of one condition.
    #[must_use]
    pub fn when(condition: AlertRule, change: i32) -> StepRule {
        StepRule {
            conditions: vec![condition],
            change,
        }
    }
}

/// The settings of a [`StepScaler`].
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct StepScalingConfig {
    /// The fewest replicas. Default 2.
    pub min_replicas: u32,
    /// The most replicas, at least `min_replicas` and 1. Default 20.
    pub max_replicas: u32,
    /// The rules; the default is [`StepScalingConfig::operator_defaults`]'s.
    pub rules: Vec<StepRule>,
    /// The least time from any change to a scale up. Default 5 min.
    pub scale_up_cooldown: Duration,
    /// The least time from any change to a scale down. Default 5 min.
    pub scale_down_cooldown: Duration,
}

impl Default for StepScalingConfig {
    fn default() -> Self {
        StepScalingConfig::operator_defaults()
    }
}

fn condition(
    name: &str,
    metric: &str,
    comparison: Comparison,
    threshold: f64,
    minutes: u64,
) -> AlertRule {
    AlertRule::new(
        name,
        metric,
        comparison,
        threshold,
        Duration::from_secs(60 * minutes),
        Severity::Warning,
    )
}

impl StepScalingConfig {
    /// The operators' example: +2 when CPU > 70% for 3 min, +1 when memory > 80% for 3 min,
    /// +2 when p95 latency > 1 s for 3 min, +1 when the queue holds over 100 items for 3 min;
    /// −1 when CPU < 30% and memory < 50% for 10 min; min 2, max 20, 5 min cooldowns. CPU and
    /// memory are ratios in `[0, 1]` under ha-core's [`metric`] names; latency and queue use
    /// [`step_metric`]'s.
    #[must_use]
    pub fn operator_defaults() -> StepScalingConfig {
        use Comparison::{Above, Below};
        StepScalingConfig {
            min_replicas: 2,
            max_replicas: 20,
            rules: vec![
                StepRule::when(
                    condition("cpu_high", metric::CPU_UTILIZATION_RATIO, Above, 0.70, 3),
                    2,
                ),
                StepRule::when(
                    condition(
                        "memory_high",
                        metric::MEMORY_UTILIZATION_RATIO,
                        Above,
                        0.80,
                        3,
                    ),
                    1,
                ),
                StepRule::when(
                    condition(
                        "latency_high",
                        step_metric::LATENCY_P95_SECONDS,
                        Above,
                        1.0,
                        3,
                    ),
                    2,
                ),
                StepRule::when(
                    condition("queue_long", step_metric::QUEUE_LENGTH, Above, 100.0, 3),
                    1,
                ),
                StepRule {
                    conditions: vec![
                        condition("cpu_low", metric::CPU_UTILIZATION_RATIO, Below, 0.30, 10),
                        condition(
                            "memory_low",
                            metric::MEMORY_UTILIZATION_RATIO,
                            Below,
                            0.50,
                            10,
                        ),
                    ],
                    change: -1,
                },
            ],
            scale_up_cooldown: Duration::from_secs(300),
            scale_down_cooldown: Duration::from_secs(300),
        }
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`ha_core::Error::Zero`] for max replicas 0 or a rule with a zero change,
    /// [`ha_core::Error::Inverted`] for min above max, [`ha_core::Error::Empty`] for a rule
    /// without conditions, and what [`AlertRule::validate`] rejects.
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
        for rule in &self.rules {
            if rule.change == 0 {
                return Err(ha_core::Error::Zero {
                    name: "step rule change",
                }
                .into());
            }
            if rule.conditions.is_empty() {
                return Err(ha_core::Error::Empty {
                    name: "step rule conditions",
                }
                .into());
            }
            for c in &rule.conditions {
                c.validate()?;
            }
        }
        Ok(())
    }
}

/// Why a [`StepDecision`] is what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum StepReason {
    /// No rule is firing.
    NoRuleFiring,
    /// The rule at this index fired and its change applied (clamped to min / max).
    RuleFired(usize),
    /// A rule fired but the count is already at the limit it pushes against.
    AtLimit(usize),
    /// A rule fired but the cooldown since the last change has not passed.
    Cooldown(usize),
    /// The count was outside `[min, max]` and was brought back.
    OutOfRange,
}

/// One decision of a [`StepScaler`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct StepDecision {
    /// The replicas before.
    pub current_replicas: u32,
    /// The replicas to run.
    pub desired_replicas: u32,
    /// Why.
    pub reason: StepReason,
    /// How long the cooldown still holds a firing rule back, if it does.
    pub cooldown_remaining: Option<Duration>,
}

/// Step scaling with cooldowns over ha-core alert rules.
///
/// Feed metric samples with [`observe`](StepScaler::observe) as they come; ask for a
/// [`decide`](StepScaler::decide) whenever the count may change.
///
/// ```
/// use std::time::{Duration, Instant};
/// use ha_core::metric;
/// use ha_scale::{StepReason, StepScaler, StepScalingConfig};
///
/// let mut scaler = StepScaler::new(StepScalingConfig::operator_defaults())?;
/// let start = Instant::now();
/// let at = |s: u64| start + Duration::from_secs(s);
/// for s in (0..=180).step_by(30) {
///     scaler.observe(metric::CPU_UTILIZATION_RATIO, 0.85, at(s))?; // above 70%
/// }
/// let d = scaler.decide(4, at(180));
/// assert_eq!((d.desired_replicas, d.reason), (6, StepReason::RuleFired(0))); // +2 after 3 min
/// scaler.observe(metric::CPU_UTILIZATION_RATIO, 0.9, at(210))?;
/// let d = scaler.decide(6, at(210));
/// assert_eq!((d.desired_replicas, d.reason), (6, StepReason::Cooldown(0))); // 5 min cooldown
/// # Ok::<(), ha_scale::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct StepScaler {
    config: StepScalingConfig,
    alerts: Vec<Vec<Alert>>,
    last_change: Option<Instant>,
}

impl StepScaler {
    /// A scaler with every condition inactive.
    ///
    /// # Errors
    /// Whatever [`StepScalingConfig::validate`] rejects.
    pub fn new(config: StepScalingConfig) -> Result<StepScaler> {
        config.validate()?;
        let alerts = config
            .rules
            .iter()
            .map(|r| {
                r.conditions
                    .iter()
                    .cloned()
                    .map(Alert::new)
                    .collect::<ha_core::Result<Vec<_>>>()
            })
            .collect::<ha_core::Result<Vec<_>>>()?;
        Ok(StepScaler {
            config,
            alerts,
            last_change: None,
        })
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &StepScalingConfig {
        &self.config
    }

    /// Feeds a sample of `metric` taken at `now` to every condition watching it.
    ///
    /// # Errors
    /// [`ha_core::Error::NotFinite`] for a NaN or infinite value and
    /// [`ha_core::Error::OutOfOrder`] for a sample older than one already taken; either way
    /// no condition changes.
    pub fn observe(&mut self, metric: &str, value: f64, now: Instant) -> Result<()> {
        if !value.is_finite() {
            return Err(ha_core::Error::NotFinite {
                name: "step scaling sample",
                value,
            }
            .into());
        }
        // Check every watcher's order first, so a refused sample changes nothing.
        for alert in self.alerts.iter().flatten() {
            if alert.rule().metric == metric {
                if let Some(latest) = alert.latest_sample() {
                    if now < latest {
                        return Err(ha_core::Error::OutOfOrder {
                            name: "step scaling sample",
                            behind: latest.duration_since(now),
                        }
                        .into());
                    }
                }
            }
        }
        for alert in self.alerts.iter_mut().flatten() {
            if alert.rule().metric == metric {
                alert.observe(value, now).map_err(Error::from)?;
            }
        }
        Ok(())
    }

    /// Which rules fire now: all their conditions firing.
    #[must_use]
    pub fn firing(&self) -> Vec<usize> {
        self.alerts
            .iter()
            .enumerate()
            .filter(|(_, conditions)| conditions.iter().all(|a| a.state().is_firing()))
            .map(|(i, _)| i)
            .collect()
    }

    /// The replicas to run at `now` with `current` running. A change is recorded as the start
    /// of a cooldown.
    pub fn decide(&mut self, current: u32, now: Instant) -> StepDecision {
        let (min, max) = (self.config.min_replicas, self.config.max_replicas);
        let mut decision = StepDecision {
            current_replicas: current,
            desired_replicas: current,
            reason: StepReason::NoRuleFiring,
            cooldown_remaining: None,
        };
        if !(min..=max).contains(&current) {
            decision.desired_replicas = current.clamp(min, max);
            decision.reason = StepReason::OutOfRange;
            self.last_change = Some(now);
            return decision;
        }
        // The largest scale up, else the largest scale down.
        let firing = self.firing();
        let pick = firing
            .iter()
            .copied()
            .filter_map(|i| self.config.rules.get(i).map(|r| (i, r.change)))
            .max_by_key(|&(i, change)| (change > 0, change.unsigned_abs(), std::cmp::Reverse(i)));
        let Some((index, change)) = pick else {
            return decision;
        };
        let cooldown = if change > 0 {
            self.config.scale_up_cooldown
        } else {
            self.config.scale_down_cooldown
        };
        if let Some(last) = self.last_change {
            let since = now.saturating_duration_since(last);
            if since < cooldown {
                decision.reason = StepReason::Cooldown(index);
                decision.cooldown_remaining = Some(cooldown - since);
                tracing::debug!(
                    rule = index,
                    ?since,
                    ?cooldown,
                    "step scaling held by cooldown"
                );
                return decision;
            }
        }
        let target = (i64::from(current) + i64::from(change)).clamp(i64::from(min), i64::from(max));
        let desired = u32::try_from(target).unwrap_or(current);
        if desired == current {
            decision.reason = StepReason::AtLimit(index);
            return decision;
        }
        decision.desired_replicas = desired;
        decision.reason = StepReason::RuleFired(index);
        self.last_change = Some(now);
        tracing::debug!(
            rule = index,
            change,
            current,
            desired,
            "step scaling rule fired"
        );
        decision
    }
}
