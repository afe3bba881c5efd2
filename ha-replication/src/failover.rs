//! Which replica to promote when the primary fails — or why none may be.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use ha_core::{Health, NodeId};

use crate::{Error, LagStatus, Position, Result};

/// A replica that might be promoted, as the caller sees it at the moment of failover.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct FailoverCandidate {
    /// The replica.
    pub node: NodeId,
    /// Its health. Default [`Health::Unknown`] (not eligible until known).
    pub health: Health,
    /// Its replication status, from the [`LagTracker`](crate::LagTracker). Default
    /// [`LagStatus::InSync`].
    pub lag_status: LagStatus,
    /// Tagged never to be promoted (Patroni's `nofailover`). Default false.
    pub no_failover: bool,
    /// Its zone, if known.
    pub zone: Option<String>,
    /// How far it holds the log: the position it would serve from once promoted (its flush
    /// position, for a replica that replays everything it flushed before promotion).
    pub position: Position,
    /// Its replication lag in time — the data loss window if it is promoted — if measured.
    pub lag: Option<Duration>,
}

impl FailoverCandidate {
    /// A candidate at `position`, of unknown health, in sync, not tagged, in no zone, with no
    /// lag measured.
    #[must_use]
    pub fn new(node: NodeId, position: Position) -> FailoverCandidate {
        FailoverCandidate {
            node,
            health: Health::Unknown,
            lag_status: LagStatus::InSync,
            no_failover: false,
            zone: None,
            position,
            lag: None,
        }
    }

    /// The candidate, with `health`.
    #[must_use]
    pub fn with_health(mut self, health: Health) -> FailoverCandidate {
        self.health = health;
        self
    }

    /// The candidate, with replication status `status`.
    #[must_use]
    pub fn with_lag_status(mut self, status: LagStatus) -> FailoverCandidate {
        self.lag_status = status;
        self
    }

    /// The candidate, tagged never to be promoted.
    #[must_use]
    pub fn no_failover(mut self) -> FailoverCandidate {
        self.no_failover = true;
        self
    }

    /// The candidate, in `zone`.
    #[must_use]
    pub fn with_zone(mut self, zone: impl Into<String>) -> FailoverCandidate {
        self.zone = Some(zone.into());
        self
    }

    /// The candidate, with time lag `lag`.
    #[must_use]
    pub fn with_lag(mut self, lag: Duration) -> FailoverCandidate {
        self.lag = Some(lag);
        self
    }
}

/// What makes a candidate eligible, and which eligible one is preferred.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct FailoverPolicy {
    /// The most data loss allowed, as replication lag in time (the RPO). Default 1 min.
    pub max_data_loss: Duration,
    /// The most records a candidate may be behind the failed primary's last known position, if
    /// limited. Default `None`.
    pub max_records_behind: Option<u64>,
    /// Zones to promote into, most preferred first. Default none.
    pub preferred_zones: Vec<String>,
    /// Whether a degraded candidate may be promoted. Default false: healthy only.
    pub allow_degraded: bool,
    /// Candidates within this many records of the most caught-up one count as equally caught
    /// up, and are ranked by zone and lag. Default 0.
    pub caught_up_tolerance: u64,
}

impl Default for FailoverPolicy {
    fn default() -> Self {
        FailoverPolicy {
            max_data_loss: Duration::from_secs(60),
            max_records_behind: None,
            preferred_zones: Vec::new(),
            allow_degraded: false,
            caught_up_tolerance: 0,
        }
    }
}

impl FailoverPolicy {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`ha_core::Error::Empty`] for an empty preferred zone name.
    pub fn validate(&self) -> Result<()> {
        if self.preferred_zones.iter().any(String::is_empty) {
            return Err(ha_core::Error::Empty {
                name: "preferred zone",
            }
            .into());
        }
        Ok(())
    }
}

/// Why a candidate may not be promoted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case", tag = "reason")
)]
pub enum Rejection {
    /// Its health is not good enough.
    NotHealthy {
        /// Its health.
        health: Health,
    },
    /// It is tagged never to be promoted.
    NoFailoverTag,
    /// Its replication stream is disconnected: what it holds is unknown.
    Disconnected,
    /// Its time lag is over the allowed data loss.
    LagOverLimit {
        /// Its lag.
        lag: Duration,
        /// The allowed data loss.
        max: Duration,
    },
    /// It is behind the primary but no time lag was measured, so the data loss is unknown.
    LagUnknown {
        /// How many records it is behind.
        records_behind: u64,
    },
    /// It is more records behind than allowed.
    TooFarBehind {
        /// How many records it is behind.
        records_behind: u64,
        /// The most allowed.
        max: u64,
    },
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::NotHealthy { health } => write!(f, "health is {health}"),
            Rejection::NoFailoverTag => f.write_str("tagged nofailover"),
            Rejection::Disconnected => f.write_str("replication disconnected"),
            Rejection::LagOverLimit { lag, max } => {
                write!(f, "lag {lag:?} exceeds the allowed data loss of {max:?}")
            }
            Rejection::LagUnknown { records_behind } => {
                write!(f, "{records_behind} records behind with no lag measured")
            }
            Rejection::TooFarBehind {
                records_behind,
                max,
            } => write!(
                f,
                "{records_behind} records behind, above the limit of {max}"
            ),
        }
    }
}

/// The replica chosen for promotion.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Promotion {
    /// The replica to promote.
    pub node: NodeId,
    /// The position it will serve from.
    pub position: Position,
    /// Records the failed primary had written past it: lost unless the old primary's log is
    /// recovered.
    pub records_lost: u64,
    /// Its time lag: the expected data loss window (zero when it was fully caught up).
    pub data_loss: Duration,
}

/// The outcome of a failover choice: the promotion, if any, and every candidate's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct FailoverDecision {
    /// The replica to promote; `None` when every candidate was rejected (or there were none).
    pub promote: Option<Promotion>,
    /// The eligible candidates, best first (the first is promoted).
    pub ranked: Vec<NodeId>,
    /// The rejected candidates and why, in id order.
    pub rejected: Vec<(NodeId, Rejection)>,
}

/// Chooses the replica to promote under a validated [`FailoverPolicy`].
///
/// The rules are those Patroni, repmgr and Orchestrator apply to PostgreSQL and MySQL: a
/// candidate must be healthy, reachable, not tagged `nofailover`, and within the allowed data
/// loss (the RPO: its replication lag, in time and optionally in records); among the eligible,
/// the most caught-up wins, then a preferred zone, then the lowest lag, then the id (so the
/// choice is deterministic). Candidates within `caught_up_tolerance` records of the most
/// caught-up count as equally caught up, so a replica in the preferred zone a few records behind
/// can win. Every rejected candidate comes back with its reason.
///
/// ```
/// use std::time::Duration;
/// use ha_core::{Health, NodeId};
/// use ha_replication::{FailoverCandidate, FailoverPolicy, FailoverSelector, Position, Rejection};
///
/// let selector = FailoverSelector::new(FailoverPolicy {
///     preferred_zones: vec!["eu-1a".into()],
///     ..FailoverPolicy::default()
/// })?;
/// let ms = Duration::from_millis;
/// let candidates = [
///     FailoverCandidate::new(NodeId::new("r1")?, Position(990)).with_health(Health::Healthy).with_lag(ms(40)).with_zone("eu-1b"),
///     FailoverCandidate::new(NodeId::new("r2")?, Position(1000)).with_health(Health::Healthy).with_lag(ms(5)).no_failover(),
///     FailoverCandidate::new(NodeId::new("r3")?, Position(995)).with_health(Health::Unhealthy).with_lag(ms(5)),
/// ];
/// let decision = selector.choose(Position(1000), &candidates)?;
/// let promoted = decision.promote.unwrap();
/// assert_eq!((promoted.node.as_str(), promoted.records_lost), ("r1", 10));
/// assert_eq!(decision.rejected[0].1, Rejection::NoFailoverTag);
/// assert_eq!(decision.rejected[1].1, Rejection::NotHealthy { health: Health::Unhealthy });
/// # Ok::<(), ha_replication::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailoverSelector {
    policy: FailoverPolicy,
}

impl FailoverSelector {
    /// A selector applying `policy`.
    ///
    /// # Errors
    /// As [`FailoverPolicy::validate`].
    pub fn new(policy: FailoverPolicy) -> Result<FailoverSelector> {
        policy.validate()?;
        Ok(FailoverSelector { policy })
    }

    /// The policy.
    #[must_use]
    pub fn policy(&self) -> &FailoverPolicy {
        &self.policy
    }

    /// Why `candidate` may not be promoted after a primary last known at `primary`, or `None`
    /// if it may.
    #[must_use]
    pub fn rejection(&self, primary: Position, candidate: &FailoverCandidate) -> Option<Rejection> {
        let health_ok = match candidate.health {
            Health::Healthy => true,
            Health::Degraded => self.policy.allow_degraded,
            Health::Unknown | Health::Unhealthy => false,
        };
        if !health_ok {
            return Some(Rejection::NotHealthy {
                health: candidate.health,
            });
        }
        if candidate.no_failover {
            return Some(Rejection::NoFailoverTag);
        }
        if candidate.lag_status == LagStatus::Disconnected {
            return Some(Rejection::Disconnected);
        }
        let records_behind = primary.records_after(candidate.position);
        if let Some(max) = self.policy.max_records_behind {
            if records_behind > max {
                return Some(Rejection::TooFarBehind {
                    records_behind,
                    max,
                });
            }
        }
        match candidate.lag {
            Some(lag) if lag > self.policy.max_data_loss => Some(Rejection::LagOverLimit {
                lag,
                max: self.policy.max_data_loss,
            }),
            None if records_behind > 0 => Some(Rejection::LagUnknown { records_behind }),
            _ => None,
        }
    }

    /// Chooses among `candidates` after a primary last known at position `primary`.
    ///
    /// # Errors
    /// [`Error::DuplicateReplica`] if a candidate is listed twice.
    pub fn choose(
        &self,
        primary: Position,
        candidates: &[FailoverCandidate],
    ) -> Result<FailoverDecision> {
        let mut seen = BTreeSet::new();
        for c in candidates {
            if !seen.insert(&c.node) {
                return Err(Error::DuplicateReplica(c.node.clone()));
            }
        }
        let mut eligible = Vec::new();
        let mut rejected = Vec::new();
        for c in candidates {
            match self.rejection(primary, c) {
                Some(why) => rejected.push((c.node.clone(), why)),
                None => eligible.push(c),
            }
        }
        rejected.sort_by(|a, b| a.0.cmp(&b.0));
        let best = eligible
            .iter()
            .map(|c| c.position)
            .max()
            .unwrap_or_default();
        let tolerance = self.policy.caught_up_tolerance;
        let zone_rank = |c: &FailoverCandidate| {
            c.zone
                .as_ref()
                .and_then(|z| self.policy.preferred_zones.iter().position(|p| p == z))
                .unwrap_or(usize::MAX)
        };
        eligible.sort_by(|a, b| {
            let a_near = best.records_after(a.position) <= tolerance;
            let b_near = best.records_after(b.position) <= tolerance;
            b_near
                .cmp(&a_near)
                .then_with(|| {
                    if a_near && b_near {
                        std::cmp::Ordering::Equal
                    } else {
                        b.position.cmp(&a.position)
                    }
                })
                .then_with(|| zone_rank(a).cmp(&zone_rank(b)))
                .then_with(|| b.position.cmp(&a.position))
                .then_with(|| a.lag.unwrap_or_default().cmp(&b.lag.unwrap_or_default()))
                .then_with(|| a.node.cmp(&b.node))
        });
        let promote = eligible.first().map(|c| Promotion {
            node: c.node.clone(),
            position: c.position,
            records_lost: primary.records_after(c.position),
            data_loss: c.lag.unwrap_or_default(),
        });
        match &promote {
            Some(p) => tracing::debug!(
                node = %p.node,
                position = p.position.0,
                records_lost = p.records_lost,
                data_loss_ms = p.data_loss.as_millis(),
                eligible = eligible.len(),
                rejected = rejected.len(),
                "failover candidate chosen"
            ),
            None => tracing::debug!(rejected = ?rejected, "no failover candidate eligible"),
        }
        Ok(FailoverDecision {
            promote,
            ranked: eligible.iter().map(|c| c.node.clone()).collect(),
            rejected,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn healthy(name: &str, position: u64) -> FailoverCandidate {
        FailoverCandidate::new(NodeId::new(name).unwrap(), Position(position))
            .with_health(Health::Healthy)
            .with_lag(Duration::from_millis(10))
    }

    #[test]
    fn each_rejection_reason_is_reported() {
        let s = FailoverSelector::new(FailoverPolicy {
            max_records_behind: Some(100),
            ..FailoverPolicy::default()
        })
        .unwrap();
        let mut unknown_lag = healthy("f", 950);
        unknown_lag.lag = None;
        let candidates = [
            healthy("a", 1000).with_health(Health::Degraded),
            healthy("b", 1000).no_failover(),
            healthy("c", 1000).with_lag_status(LagStatus::Disconnected),
            healthy("d", 1000).with_lag(Duration::from_secs(61)),
            healthy("e", 800),
            unknown_lag,
        ];
        let d = s.choose(Position(1000), &candidates).unwrap();
        assert_eq!(d.promote, None);
        assert!(d.ranked.is_empty());
        let reasons: Vec<_> = d.rejected.iter().map(|r| r.1).collect();
        assert_eq!(
            reasons,
            vec![
                Rejection::NotHealthy {
                    health: Health::Degraded
                },
                Rejection::NoFailoverTag,
                Rejection::Disconnected,
                Rejection::LagOverLimit {
                    lag: Duration::from_secs(61),
                    max: Duration::from_secs(60)
                },
                Rejection::TooFarBehind {
                    records_behind: 200,
                    max: 100
                },
                Rejection::LagUnknown { records_behind: 50 },
            ]
        );
        for r in reasons {
            assert!(!r.to_string().is_empty());
        }
    }

    #[test]
    fn most_caught_up_wins_then_zone_within_the_tolerance() {
        let mut policy = FailoverPolicy {
            preferred_zones: vec!["z1".into(), "z2".into()],
            ..FailoverPolicy::default()
        };
        let candidates = [
            healthy("a", 1000).with_zone("z3"),
            healthy("b", 998).with_zone("z2"),
            healthy("c", 990).with_zone("z1"),
        ];
        let s = FailoverSelector::new(policy.clone()).unwrap();
        let d = s.choose(Position(1000), &candidates).unwrap();
        assert_eq!(
            d.ranked.iter().map(NodeId::as_str).collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
        policy.caught_up_tolerance = 5;
        let s = FailoverSelector::new(policy.clone()).unwrap();
        let d = s.choose(Position(1000), &candidates).unwrap();
        assert_eq!(
            d.ranked.iter().map(NodeId::as_str).collect::<Vec<_>>(),
            ["b", "a", "c"]
        );
        policy.caught_up_tolerance = 10;
        let s = FailoverSelector::new(policy).unwrap();
        let d = s.choose(Position(1000), &candidates).unwrap();
        assert_eq!(
            d.ranked.iter().map(NodeId::as_str).collect::<Vec<_>>(),
            ["c", "b", "a"]
        );
        assert_eq!(d.promote.unwrap().records_lost, 10);
    }

    #[test]
    fn duplicates_and_empty_zones_are_refused() {
        let s = FailoverSelector::new(FailoverPolicy::default()).unwrap();
        let dup = [healthy("a", 1), healthy("a", 2)];
        assert!(matches!(
            s.choose(Position(2), &dup),
            Err(Error::DuplicateReplica(_))
        ));
        assert!(
            FailoverSelector::new(FailoverPolicy {
                preferred_zones: vec![String::new()],
                ..FailoverPolicy::default()
            })
            .is_err()
        );
        let none = s.choose(Position(2), &[]).unwrap();
        assert!(none.promote.is_none() && none.rejected.is_empty());
    }
}
