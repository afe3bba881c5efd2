//! The steps of a failover, with the time each is expected to take, checked against the
//! targets: failover under 30 s, RPO under 1 min, RTO under 5 min.

use std::fmt;
use std::time::Duration;

use ha_core::NodeId;

use crate::error::non_zero;
use crate::{Epoch, Promotion, Result};

/// How long each step is expected to take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct StepDurations {
    /// From the primary's failure to its detection (about the φ detector's time to reach its
    /// threshold, or a lease's time to expire). Default 10 s.
    pub detect: Duration,
    /// Taking the new epoch and telling the old primary and the stores (revoking its lease,
    /// cutting its storage or network access). Default 2 s.
    pub fence: Duration,
    /// Promoting the chosen replica: replaying what it flushed, opening for writes. Default 5 s.
    pub promote: Duration,
    /// Repointing one replica to the new primary; all are repointed in parallel. Default 3 s.
    pub repoint: Duration,
    /// Clients finding the new primary (DNS or proxy update, reconnect). Default 10 s.
    pub client_reconnect: Duration,
}

impl Default for StepDurations {
    fn default() -> Self {
        StepDurations {
            detect: Duration::from_secs(10),
            fence: Duration::from_secs(2),
            promote: Duration::from_secs(5),
            repoint: Duration::from_secs(3),
            client_reconnect: Duration::from_secs(10),
        }
    }
}

/// The targets a failover is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct FailoverTargets {
    /// Failure to a new primary with its replicas following. Default 30 s.
    pub failover: Duration,
    /// The most data loss (recovery point objective). Default 1 min.
    pub rpo: Duration,
    /// Failure to clients served again (recovery time objective). Default 5 min.
    pub rto: Duration,
}

impl Default for FailoverTargets {
    fn default() -> Self {
        FailoverTargets {
            failover: Duration::from_secs(30),
            rpo: Duration::from_secs(60),
            rto: Duration::from_secs(300),
        }
    }
}

impl FailoverTargets {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`ha_core::Error::Zero`] for a zero failover or RTO target (a zero RPO is allowed: no
    /// data loss at all).
    pub fn validate(&self) -> Result<()> {
        non_zero("failover target", self.failover)?;
        non_zero("rto target", self.rto)?;
        Ok(())
    }
}

/// One step of a failover.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case", tag = "step")
)]
pub enum FailoverStep {
    /// The primary's failure is noticed.
    Detect {
        /// The failed primary.
        primary: NodeId,
    },
    /// The new epoch is taken and the old primary fenced: stores refuse writes of older epochs.
    FenceOldPrimary {
        /// The old primary.
        primary: NodeId,
        /// The new epoch.
        epoch: Epoch,
    },
    /// The chosen replica becomes primary in the new epoch.
    Promote {
        /// The replica promoted.
        node: NodeId,
        /// Its epoch.
        epoch: Epoch,
    },
    /// A replica is repointed to the new primary.
    Repoint {
        /// The replica.
        replica: NodeId,
        /// The new primary.
        to: NodeId,
    },
    /// Clients find and reach the new primary.
    ClientsReconnect {
        /// The new primary.
        to: NodeId,
    },
}

impl fmt::Display for FailoverStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailoverStep::Detect { primary } => write!(f, "detect failure of {primary}"),
            FailoverStep::FenceOldPrimary { primary, epoch } => {
                write!(f, "fence {primary} by taking {epoch}")
            }
            FailoverStep::Promote { node, epoch } => write!(f, "promote {node} in {epoch}"),
            FailoverStep::Repoint { replica, to } => write!(f, "repoint {replica} to {to}"),
            FailoverStep::ClientsReconnect { to } => write!(f, "clients reconnect to {to}"),
        }
    }
}

/// A step with its expected timing, measured from the failure.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PlannedStep {
    /// The step.
    pub step: FailoverStep,
    /// When it starts.
    pub starts_at: Duration,
    /// How long it is expected to take.
    pub expected: Duration,
}

/// An expected figure against its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TargetCheck {
    /// The expected value.
    pub expected: Duration,
    /// The target.
    pub target: Duration,
    /// Whether the expected value is within the target.
    pub met: bool,
}

impl TargetCheck {
    fn new(expected: Duration, target: Duration) -> TargetCheck {
        TargetCheck {
            expected,
            target,
            met: expected <= target,
        }
    }
}

/// The failover, step by step, with its expected durations against the targets.
///
/// The order is the safe one: the old primary is fenced (a new epoch is taken and published, so
/// stores refuse its writes) **before** the new primary accepts writes, so at no moment can two
/// primaries write in the same epoch — the promoted node writes in the new epoch, and the old one
/// is refused by every store that learned of it. Then the other replicas are repointed (in
/// parallel), and the old primary may later rejoin as a replica after a catch-up plan (it may need
/// a rewind: see [`CatchUpPlan::Diverged`](crate::CatchUpPlan::Diverged)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct FailoverPlan {
    /// The steps in order; the repoints run in parallel, starting together.
    pub steps: Vec<PlannedStep>,
    /// Failure to new primary with every replica repointed, against the failover target.
    pub failover: TargetCheck,
    /// Expected data loss (the promoted replica's lag), against the RPO.
    pub rpo: TargetCheck,
    /// Failure to clients served by the new primary, against the RTO.
    pub rto: TargetCheck,
}

impl FailoverPlan {
    /// Whether every target is met.
    #[must_use]
    pub fn meets_targets(&self) -> bool {
        self.failover.met && self.rpo.met && self.rto.met
    }

    /// The plan for replacing `old_primary` by `promotion` in `epoch`, repointing `replicas`
    /// (the promoted node and the old primary among them are skipped).
    ///
    /// ```
    /// use std::time::Duration;
    /// use ha_core::NodeId;
    /// use ha_replication::{Epoch, FailoverPlan, FailoverTargets, Position, Promotion, StepDurations};
    ///
    /// let promotion = Promotion {
    ///     node: NodeId::new("r1")?,
    ///     position: Position(990),
    ///     records_lost: 10,
    ///     data_loss: Duration::from_millis(40),
    /// };
    /// let replicas = [NodeId::new("r1")?, NodeId::new("r2")?, NodeId::new("r3")?];
    /// let plan = FailoverPlan::new(
    ///     &NodeId::new("db-0")?, &promotion, Epoch(8), &replicas,
    ///     &StepDurations::default(), &FailoverTargets::default(),
    /// )?;
    /// assert_eq!(plan.steps.len(), 6); // detect, fence, promote, 2 repoints, reconnect
    /// assert_eq!(plan.failover.expected, Duration::from_secs(20)); // 10 + 2 + 5 + 3
    /// assert_eq!(plan.rto.expected, Duration::from_secs(27)); // 10 + 2 + 5 + 10
    /// assert!(plan.meets_targets());
    /// # Ok::<(), ha_replication::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`FailoverTargets::validate`].
    pub fn new(
        old_primary: &NodeId,
        promotion: &Promotion,
        epoch: Epoch,
        replicas: &[NodeId],
        durations: &StepDurations,
        targets: &FailoverTargets,
    ) -> Result<FailoverPlan> {
        targets.validate()?;
        let mut steps = Vec::new();
        let mut clock = Duration::ZERO;
        let mut push = |step, expected: Duration, clock: &mut Duration| {
            steps.push(PlannedStep {
                step,
                starts_at: *clock,
                expected,
            });
            *clock = clock.saturating_add(expected);
        };
        push(
            FailoverStep::Detect {
                primary: old_primary.clone(),
            },
            durations.detect,
            &mut clock,
        );
        push(
            FailoverStep::FenceOldPrimary {
                primary: old_primary.clone(),
                epoch,
            },
            durations.fence,
            &mut clock,
        );
        push(
            FailoverStep::Promote {
                node: promotion.node.clone(),
                epoch,
            },
            durations.promote,
            &mut clock,
        );
        let promoted_at = clock;
        let mut repointed = false;
        for replica in replicas {
            if replica == &promotion.node || replica == old_primary {
                continue;
            }
            let mut start = promoted_at;
            push(
                FailoverStep::Repoint {
                    replica: replica.clone(),
                    to: promotion.node.clone(),
                },
                durations.repoint,
                &mut start,
            );
            repointed = true;
        }
        let failover = if repointed {
            promoted_at.saturating_add(durations.repoint)
        } else {
            promoted_at
        };
        let mut start = promoted_at;
        push(
            FailoverStep::ClientsReconnect {
                to: promotion.node.clone(),
            },
            durations.client_reconnect,
            &mut start,
        );
        let rto = promoted_at.saturating_add(durations.client_reconnect);
        let plan = FailoverPlan {
            steps,
            failover: TargetCheck::new(failover, targets.failover),
            rpo: TargetCheck::new(promotion.data_loss, targets.rpo),
            rto: TargetCheck::new(rto, targets.rto),
        };
        tracing::debug!(
            old_primary = %old_primary,
            new_primary = %promotion.node,
            epoch = epoch.0,
            failover_s = failover.as_secs_f64(),
            rto_s = rto.as_secs_f64(),
            rpo_s = promotion.data_loss.as_secs_f64(),
            meets_targets = plan.meets_targets(),
            "failover planned"
        );
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Position;

    #[test]
    fn slow_steps_and_large_lag_miss_their_targets() {
        let id = |s: &str| NodeId::new(s).unwrap();
        let promotion = Promotion {
            node: id("r1"),
            position: Position(1),
            records_lost: 0,
            data_loss: Duration::from_secs(90),
        };
        let durations = StepDurations {
            detect: Duration::from_secs(40),
            client_reconnect: Duration::from_secs(300),
            ..StepDurations::default()
        };
        let plan = FailoverPlan::new(
            &id("p"),
            &promotion,
            Epoch(2),
            &[id("p"), id("r1")],
            &durations,
            &FailoverTargets::default(),
        )
        .unwrap();
        // No replica left to repoint: detect, fence, promote, reconnect.
        assert_eq!(plan.steps.len(), 4);
        assert_eq!(plan.failover.expected, Duration::from_secs(47));
        assert!(!plan.failover.met && !plan.rpo.met && !plan.rto.met);
        assert!(!plan.meets_targets());
        assert_eq!(plan.steps[2].starts_at, Duration::from_secs(42));
        for s in &plan.steps {
            assert!(!s.step.to_string().is_empty());
        }
        let bad = FailoverTargets {
            rto: Duration::ZERO,
            ..FailoverTargets::default()
        };
        assert!(FailoverPlan::new(&id("p"), &promotion, Epoch(2), &[], &durations, &bad).is_err());
    }
}
