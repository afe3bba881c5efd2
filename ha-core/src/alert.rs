//! Threshold alert rules with a hold duration: "metric op threshold for duration → severity".
//!
//! This follows [Prometheus alerting rules][prom]. A rule's condition that starts to hold makes its
//! alert *pending*; once the condition has held for the rule's `for` duration the alert is
//! *firing*; the first evaluation where it no longer holds cancels a pending alert or resolves a
//! firing one. A rule with no `for` (here a zero [`AlertRule::for_duration`]) fires at the first
//! evaluation where its condition holds. As in Prometheus, an alert fires when
//! `now - since >= for`.
//!
//! [`Alert`] is the state machine of one rule; [`AlertSet`] routes samples by metric name to many.
//! [`AlertRule::defaults`] gives six rules for CPU, memory, disk, replication lag and errors, over the
//! metric names in [`metric`].
//!
//! # The condition between samples
//!
//! A rule is evaluated only at the samples it is fed, as Prometheus evaluates a rule only at its
//! evaluation ticks. The condition is taken to hold through the whole gap between two consecutive
//! samples where it holds, so a dip between them goes unseen: feed samples as often as the
//! shortest dip you care about. Feed samples in time order; equal times are fine.
//!
//! # Where we differ from Prometheus
//!
//! - **No query language or labels.** A rule compares one named metric with a constant; compute
//!   rates or averages before feeding, and keep one [`AlertSet`] per monitored target.
//! - **The caller drives evaluation.** There is no evaluation interval and no clock: each
//!   [`Alert::observe`] call is one evaluation, at the `now` it is given.
//! - **Silence is not absence.** Prometheus drops a pending alert and resolves a firing one when its
//!   expression returns no data. Here no sample means no evaluation: the state stays as it was, and
//!   a holding sample after a long silence counts the silence as holding.
//! - **No `keep_firing_for`, and resolution is reported once.** A firing alert resolves on the first
//!   sample where the condition fails, and [`AlertKind::Resolved`] is returned once; Prometheus
//!   keeps resending resolved alerts to Alertmanager for a while.
//!
//! This module does no I/O and never reads the clock.
//!
//! [prom]: https://prometheus.io/docs/prometheus/latest/configuration/alerting_rules/

mod rule;
mod set;

use std::time::Instant;

use crate::error::finite;
use crate::{Error, Result, Severity};

pub use rule::{AlertRule, Comparison, metric};
pub use set::AlertSet;

/// Where an [`Alert`] stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AlertState {
    /// The condition does not hold (or no sample has been seen). The initial state.
    #[default]
    Inactive,
    /// The condition holds, but not yet for the rule's `for_duration`.
    Pending {
        /// The time of the first sample of the current run of holding samples.
        since: Instant,
    },
    /// The condition has held for at least the rule's `for_duration`.
    Firing {
        /// The time of the first sample of the current run of holding samples.
        since: Instant,
        /// The time of the sample at which the alert fired.
        fired_at: Instant,
    },
}

impl AlertState {
    /// Whether the alert is firing.
    #[must_use]
    pub fn is_firing(self) -> bool {
        matches!(self, AlertState::Firing { .. })
    }

    /// Whether the alert is pending.
    #[must_use]
    pub fn is_pending(self) -> bool {
        matches!(self, AlertState::Pending { .. })
    }
}

/// What changed in an [`AlertTransition`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertKind {
    /// Inactive → pending: the condition started to hold.
    Pending,
    /// Pending → firing (or inactive → firing when `for_duration` is zero): the condition has held
    /// for `for_duration`. Page or open a ticket now, by the rule's severity.
    Fired,
    /// Pending → inactive: the condition stopped holding before the alert fired.
    Cancelled,
    /// Firing → inactive: the condition stopped holding.
    Resolved {
        /// When the alert fired.
        fired_at: Instant,
    },
}

/// A change of an [`Alert`]'s state, caused by one sample: something to log or page on.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertTransition {
    /// The rule's name.
    pub rule: String,
    /// The rule's severity.
    pub severity: Severity,
    /// What changed.
    pub kind: AlertKind,
    /// The time of the first sample of the run of holding samples this transition belongs to.
    pub since: Instant,
    /// The time of the sample that caused the transition.
    pub at: Instant,
    /// The value of that sample.
    pub value: f64,
}

impl AlertTransition {
    /// The state the alert left.
    #[must_use]
    pub fn from(&self) -> AlertState {
        match self.kind {
            // With a zero `for_duration` the alert fires on the sample that starts the run.
            AlertKind::Pending => AlertState::Inactive,
            AlertKind::Fired if self.since == self.at => AlertState::Inactive,
            AlertKind::Fired | AlertKind::Cancelled => AlertState::Pending { since: self.since },
            AlertKind::Resolved { fired_at } => AlertState::Firing {
                since: self.since,
                fired_at,
            },
        }
    }

    /// The state the alert entered.
    #[must_use]
    pub fn to(&self) -> AlertState {
        match self.kind {
            AlertKind::Pending => AlertState::Pending { since: self.since },
            AlertKind::Fired => AlertState::Firing {
                since: self.since,
                fired_at: self.at,
            },
            AlertKind::Cancelled | AlertKind::Resolved { .. } => AlertState::Inactive,
        }
    }
}

/// The state machine of one [`AlertRule`], fed timestamped samples of the rule's metric.
///
/// Each [`observe`](Alert::observe) evaluates the rule at one sample and returns the transition it
/// caused, if any. Every transition is also emitted as a `tracing` debug event.
///
/// ```
/// use std::time::Duration;
/// use ha_core::{Alert, AlertKind, AlertRule, AlertState};
///
/// let mut alert = Alert::new(AlertRule::cpu_warning())?; // > 0.85 for 5 min
/// let start = std::time::Instant::now();
/// let at = |secs| start + Duration::from_secs(secs);
///
/// assert_eq!(alert.observe(0.50, at(0))?, None);
/// let pending = alert.observe(0.90, at(60))?.map(|t| t.kind);
/// assert_eq!(pending, Some(AlertKind::Pending));
/// assert_eq!(alert.observe(0.97, at(300))?, None); // held 4 min: still pending
/// let fired = alert.observe(0.92, at(360))?.map(|t| t.kind);
/// assert_eq!(fired, Some(AlertKind::Fired)); // held 5 min
/// assert_eq!(alert.state(), AlertState::Firing { since: at(60), fired_at: at(360) });
///
/// let resolved = alert.observe(0.40, at(420))?.map(|t| t.kind);
/// assert_eq!(resolved, Some(AlertKind::Resolved { fired_at: at(360) }));
/// assert_eq!(alert.state(), AlertState::Inactive);
///
/// // Bad samples are refused and change nothing.
/// assert!(alert.observe(f64::NAN, at(480)).is_err());
/// assert!(alert.observe(0.99, at(400)).is_err()); // older than the latest sample
/// # Ok::<(), ha_core::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Alert {
    rule: AlertRule,
    state: AlertState,
    latest: Option<Instant>,
}

impl Alert {
    /// An inactive alert for `rule`.
    ///
    /// # Errors
    /// Whatever [`AlertRule::validate`] rejects.
    pub fn new(rule: AlertRule) -> Result<Alert> {
        rule.validate()?;
        Ok(Alert {
            rule,
            state: AlertState::Inactive,
            latest: None,
        })
    }

    /// Evaluates the rule at a sample `value` of its metric taken at `now`.
    ///
    /// # Errors
    /// [`Error::NotFinite`] if `value` is NaN or infinite, [`Error::OutOfOrder`] if `now` is earlier
    /// than the latest sample taken in. A refused sample leaves the alert unchanged.
    pub fn observe(&mut self, value: f64, now: Instant) -> Result<Option<AlertTransition>> {
        self.check(value, now)?;
        Ok(self.apply(value, now))
    }

    /// The current state.
    #[must_use]
    pub fn state(&self) -> AlertState {
        self.state
    }

    /// The rule evaluated.
    #[must_use]
    pub fn rule(&self) -> &AlertRule {
        &self.rule
    }

    /// The time of the latest sample taken in, if any.
    #[must_use]
    pub fn latest_sample(&self) -> Option<Instant> {
        self.latest
    }

    /// Checks the alert's internal invariants, for tests and fuzzing: a pending or firing run
    /// started no later than it fired and than the latest sample, and a firing run has lasted at
    /// least `for_duration`.
    ///
    /// # Panics
    /// If an invariant is broken, which is a bug in ha-core.
    pub fn check_invariants(&self) {
        match self.state {
            AlertState::Inactive => {}
            AlertState::Pending { since } => {
                assert!(self.latest.is_some_and(|latest| since <= latest));
                assert!(
                    self.latest
                        .is_some_and(|latest| latest - since < self.rule.for_duration)
                );
            }
            AlertState::Firing { since, fired_at } => {
                assert!(since <= fired_at);
                assert!(self.latest.is_some_and(|latest| fired_at <= latest));
                assert!(fired_at - since >= self.rule.for_duration);
            }
        }
    }

    /// Refuses a sample that [`apply`](Alert::apply) must not take in.
    fn check(&self, value: f64, now: Instant) -> Result<()> {
        finite("alert sample", value)?;
        match self.latest {
            Some(latest) if now < latest => Err(Error::OutOfOrder {
                name: "alert sample",
                behind: latest - now,
            }),
            _ => Ok(()),
        }
    }

    /// Takes in a sample that passed [`check`](Alert::check).
    fn apply(&mut self, value: f64, now: Instant) -> Option<AlertTransition> {
        debug_assert!(self.check(value, now).is_ok());
        self.latest = Some(now);
        let holds = self.rule.comparison.holds(value, self.rule.threshold);
        let held_enough =
            |since: Instant| now.saturating_duration_since(since) >= self.rule.for_duration;
        let (next, kind, since) = match (self.state, holds) {
            (AlertState::Inactive, false) | (AlertState::Firing { .. }, true) => return None,
            (AlertState::Inactive, true) if held_enough(now) => (
                AlertState::Firing {
                    since: now,
                    fired_at: now,
                },
                AlertKind::Fired,
                now,
            ),
            (AlertState::Inactive, true) => {
                (AlertState::Pending { since: now }, AlertKind::Pending, now)
            }
            (AlertState::Pending { since }, true) if held_enough(since) => (
                AlertState::Firing {
                    since,
                    fired_at: now,
                },
                AlertKind::Fired,
                since,
            ),
            (AlertState::Pending { .. }, true) => return None,
            (AlertState::Pending { since }, false) => {
                (AlertState::Inactive, AlertKind::Cancelled, since)
            }
            (AlertState::Firing { since, fired_at }, false) => (
                AlertState::Inactive,
                AlertKind::Resolved { fired_at },
                since,
            ),
        };
        self.state = next;
        tracing::debug!(
            rule = %self.rule.name,
            metric = %self.rule.metric,
            transition = ?kind,
            value,
            comparison = self.rule.comparison.symbol(),
            threshold = self.rule.threshold,
            held_for = ?now.saturating_duration_since(since),
            for_duration = ?self.rule.for_duration,
            ?since,
            at = ?now,
            "alert transition",
        );
        Some(AlertTransition {
            rule: self.rule.name.clone(),
            severity: self.rule.severity,
            kind,
            since,
            at: now,
            value,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn secs(start: Instant, s: u64) -> Instant {
        start + Duration::from_secs(s)
    }

    fn kind(t: Option<AlertTransition>) -> Option<AlertKind> {
        t.map(|t| t.kind)
    }

    /// `x > 1.0` for 10 s, critical.
    fn ten_second_rule() -> AlertRule {
        AlertRule::new(
            "high",
            "x",
            Comparison::Above,
            1.0,
            Duration::from_secs(10),
            Severity::Critical,
        )
    }

    #[test]
    fn holding_sample_makes_an_inactive_alert_pending() {
        let mut alert = Alert::new(ten_second_rule()).unwrap();
        let t0 = Instant::now();
        let t = alert.observe(2.0, t0).unwrap().unwrap();
        assert_eq!(t.kind, AlertKind::Pending);
        assert_eq!((t.since, t.at, t.value), (t0, t0, 2.0));
        assert_eq!((t.rule.as_str(), t.severity), ("high", Severity::Critical));
        assert_eq!((t.from(), t.to()), (AlertState::Inactive, alert.state()));
        assert_eq!(alert.state(), AlertState::Pending { since: t0 });
        alert.check_invariants();
    }

    #[test]
    fn pending_alert_fires_once_held_for_the_whole_duration() {
        let mut alert = Alert::new(ten_second_rule()).unwrap();
        let t0 = Instant::now();
        alert.observe(2.0, t0).unwrap();
        assert_eq!(alert.observe(3.0, secs(t0, 9)).unwrap(), None);
        assert_eq!(alert.state(), AlertState::Pending { since: t0 });
        let t = alert.observe(1.5, secs(t0, 10)).unwrap().unwrap();
        assert_eq!(t.kind, AlertKind::Fired);
        assert_eq!(t.from(), AlertState::Pending { since: t0 });
        let firing = AlertState::Firing {
            since: t0,
            fired_at: secs(t0, 10),
        };
        assert_eq!((t.to(), alert.state()), (firing, firing));
        // Still holding: no new transition, state kept.
        assert_eq!(alert.observe(5.0, secs(t0, 100)).unwrap(), None);
        assert_eq!(alert.state(), firing);
        alert.check_invariants();
    }

    #[test]
    fn failing_sample_cancels_a_pending_alert_and_restarts_the_run() {
        let mut alert = Alert::new(ten_second_rule()).unwrap();
        let t0 = Instant::now();
        alert.observe(2.0, t0).unwrap();
        let t = alert.observe(1.0, secs(t0, 5)).unwrap().unwrap(); // 1.0 is not > 1.0
        assert_eq!(t.kind, AlertKind::Cancelled);
        assert_eq!((t.since, t.at), (t0, secs(t0, 5)));
        assert_eq!(
            (t.from(), t.to()),
            (AlertState::Pending { since: t0 }, AlertState::Inactive)
        );
        assert_eq!(alert.state(), AlertState::Inactive);
        // A new run starts from scratch: 10 s after t0 is not enough.
        assert_eq!(
            kind(alert.observe(2.0, secs(t0, 6)).unwrap()),
            Some(AlertKind::Pending)
        );
        assert_eq!(alert.observe(2.0, secs(t0, 15)).unwrap(), None);
        assert_eq!(
            kind(alert.observe(2.0, secs(t0, 16)).unwrap()),
            Some(AlertKind::Fired)
        );
    }

    #[test]
    fn failing_sample_resolves_a_firing_alert() {
        let mut alert = Alert::new(ten_second_rule()).unwrap();
        let t0 = Instant::now();
        alert.observe(2.0, t0).unwrap();
        alert.observe(2.0, secs(t0, 12)).unwrap();
        let t = alert.observe(0.5, secs(t0, 13)).unwrap().unwrap();
        let resolved = AlertKind::Resolved {
            fired_at: secs(t0, 12),
        };
        assert_eq!(
            (t.kind, t.since, t.at, t.value),
            (resolved, t0, secs(t0, 13), 0.5)
        );
        assert_eq!(
            t.from(),
            AlertState::Firing {
                since: t0,
                fired_at: secs(t0, 12)
            }
        );
        assert_eq!(alert.state(), AlertState::Inactive);
        assert_eq!(alert.observe(0.5, secs(t0, 14)).unwrap(), None);
    }

    #[test]
    fn zero_for_duration_fires_on_the_first_holding_sample() {
        let mut rule = ten_second_rule();
        rule.for_duration = Duration::ZERO;
        let mut alert = Alert::new(rule).unwrap();
        let t0 = Instant::now();
        assert_eq!(alert.observe(0.0, t0).unwrap(), None);
        let t = alert.observe(2.0, secs(t0, 1)).unwrap().unwrap();
        assert_eq!(t.kind, AlertKind::Fired);
        assert_eq!((t.from(), t.to()), (AlertState::Inactive, alert.state()));
        assert_eq!(
            alert.state(),
            AlertState::Firing {
                since: secs(t0, 1),
                fired_at: secs(t0, 1)
            }
        );
        alert.check_invariants();
    }

    #[test]
    fn equal_timestamps_are_accepted() {
        let mut alert = Alert::new(ten_second_rule()).unwrap();
        let t0 = Instant::now();
        alert.observe(2.0, t0).unwrap();
        assert_eq!(
            kind(alert.observe(0.0, t0).unwrap()),
            Some(AlertKind::Cancelled)
        );
        assert_eq!(
            kind(alert.observe(2.0, t0).unwrap()),
            Some(AlertKind::Pending)
        );
    }

    #[test]
    fn non_finite_sample_is_refused_and_leaves_state_unchanged() {
        let mut alert = Alert::new(ten_second_rule()).unwrap();
        let t0 = Instant::now();
        alert.observe(2.0, t0).unwrap();
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let err = alert.observe(bad, secs(t0, 20)).unwrap_err();
            assert!(matches!(
                err,
                Error::NotFinite {
                    name: "alert sample",
                    ..
                }
            ));
        }
        assert_eq!(alert.state(), AlertState::Pending { since: t0 });
        assert_eq!(alert.latest_sample(), Some(t0));
        assert_eq!(
            Error::NotFinite {
                name: "alert sample",
                value: f64::NAN
            }
            .to_string(),
            "alert sample must be a finite number, got NaN"
        );
    }

    #[test]
    fn out_of_order_sample_is_refused_and_leaves_state_unchanged() {
        let mut alert = Alert::new(ten_second_rule()).unwrap();
        let t0 = Instant::now();
        alert.observe(2.0, secs(t0, 5)).unwrap();
        let err = alert.observe(0.0, secs(t0, 2)).unwrap_err();
        assert_eq!(
            err,
            Error::OutOfOrder {
                name: "alert sample",
                behind: Duration::from_secs(3)
            }
        );
        assert_eq!(alert.state(), AlertState::Pending { since: secs(t0, 5) });
        assert_eq!(alert.latest_sample(), Some(secs(t0, 5)));
    }

    #[test]
    fn invalid_rule_is_rejected_at_construction() {
        let mut rule = ten_second_rule();
        rule.threshold = f64::NAN;
        assert!(matches!(Alert::new(rule), Err(Error::NotFinite { .. })));
    }

    #[test]
    fn presets_fire_after_their_hold_and_not_before() {
        for rule in AlertRule::defaults() {
            let hold = rule.for_duration;
            let above = rule.threshold * 1.5;
            let mut alert = Alert::new(rule.clone()).unwrap();
            let t0 = Instant::now();
            // Exactly at the threshold does not hold: every preset is a strict `>`.
            assert_eq!(alert.observe(rule.threshold, t0).unwrap(), None, "{rule}");
            let t1 = t0 + Duration::from_secs(1);
            assert_eq!(
                kind(alert.observe(above, t1).unwrap()),
                Some(AlertKind::Pending)
            );
            let just_before = t1 + hold - Duration::from_millis(1);
            assert_eq!(alert.observe(above, just_before).unwrap(), None, "{rule}");
            let t = alert.observe(above, t1 + hold).unwrap().unwrap();
            assert_eq!(
                (t.kind, t.severity),
                (AlertKind::Fired, rule.severity),
                "{rule}"
            );
        }
    }
}
