//! Many alert rules, fed samples by metric name.

use std::time::Instant;

use super::{Alert, AlertRule, AlertTransition};
use crate::Result;
use crate::error::finite;

/// Many [`Alert`]s evaluated together: each sample goes to every rule that watches its metric.
///
/// Rules are kept, fed and reported in the order given, so the same samples always give the same
/// transitions in the same order. Rule names need not be unique, though transitions are easier to
/// tell apart when they are.
///
/// ```
/// use std::time::Duration;
/// use ha_core::{AlertKind, AlertRule, AlertSet, metric};
///
/// let mut alerts = AlertSet::new(AlertRule::defaults())?;
/// let start = std::time::Instant::now();
/// let at = |secs| start + Duration::from_secs(secs);
///
/// for secs in [0, 150, 300] {
///     let _ = alerts.observe(metric::CPU_UTILIZATION_RATIO, 0.97, at(secs))?;
/// }
/// // Both CPU rules have held for 5 minutes; the error ratio is fine.
/// let firing: Vec<_> = alerts.firing().map(|(rule, _)| rule.name.as_str()).collect();
/// assert_eq!(firing, ["cpu_warning", "cpu_critical"]);
///
/// let changes = alerts.observe(metric::CPU_UTILIZATION_RATIO, 0.90, at(360))?;
/// assert_eq!(changes.len(), 1);
/// assert_eq!(changes[0].rule, "cpu_critical");
/// assert!(matches!(changes[0].kind, AlertKind::Resolved { .. }));
///
/// // No rule watches this metric: ignored.
/// assert!(alerts.observe("queue_depth", 12.0, at(360))?.is_empty());
/// # Ok::<(), ha_core::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct AlertSet {
    alerts: Vec<Alert>,
}

impl AlertSet {
    /// A set of inactive alerts, one per rule, in the order given.
    ///
    /// # Errors
    /// Whatever [`AlertRule::validate`] rejects, for the first bad rule.
    pub fn new(rules: impl IntoIterator<Item = AlertRule>) -> Result<AlertSet> {
        let alerts = rules
            .into_iter()
            .map(Alert::new)
            .collect::<Result<Vec<_>>>()?;
        Ok(AlertSet { alerts })
    }

    /// Evaluates every rule on `metric` at a sample `value` taken at `now`, in the set's order,
    /// and returns the transitions caused, in that order.
    ///
    /// A sample for a metric that no rule watches is ignored: nothing changes and no transition is
    /// returned. Time order is checked per rule, so samples of different metrics may be fed in any
    /// interleaving.
    ///
    /// # Errors
    /// [`Error::NotFinite`](crate::Error::NotFinite) if `value` is NaN or infinite, whatever the
    /// metric; [`Error::OutOfOrder`](crate::Error::OutOfOrder) if `now` is earlier than the latest
    /// sample taken in by a rule on `metric`. A refused sample changes no rule.
    pub fn observe(
        &mut self,
        metric: &str,
        value: f64,
        now: Instant,
    ) -> Result<Vec<AlertTransition>> {
        finite("alert sample", value)?;
        let watching = |alert: &&mut Alert| alert.rule.metric == metric;
        for alert in self.alerts.iter_mut().filter(watching) {
            alert.check(value, now)?;
        }
        Ok(self
            .alerts
            .iter_mut()
            .filter(watching)
            .filter_map(|alert| alert.apply(value, now))
            .collect())
    }

    /// The firing alerts' rules, each with the time it fired, in the set's order.
    pub fn firing(&self) -> impl Iterator<Item = (&AlertRule, Instant)> {
        self.alerts.iter().filter_map(|alert| match alert.state() {
            super::AlertState::Firing { fired_at, .. } => Some((alert.rule(), fired_at)),
            _ => None,
        })
    }

    /// Every alert, in the set's order.
    pub fn alerts(&self) -> impl Iterator<Item = &Alert> {
        self.alerts.iter()
    }

    /// The number of rules.
    #[must_use]
    pub fn len(&self) -> usize {
        self.alerts.len()
    }

    /// Whether the set has no rules.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.alerts.is_empty()
    }

    /// Checks every alert's invariants; see [`Alert::check_invariants`].
    ///
    /// # Panics
    /// If an invariant is broken, which is a bug in ha-core.
    pub fn check_invariants(&self) {
        for alert in &self.alerts {
            alert.check_invariants();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{AlertKind, AlertState};
    use crate::{Comparison, Error, Severity, metric};
    use std::time::Duration;

    fn rule(name: &str, metric: &str, threshold: f64) -> AlertRule {
        AlertRule::new(
            name,
            metric,
            Comparison::Above,
            threshold,
            Duration::ZERO,
            Severity::Warning,
        )
    }

    #[test]
    fn samples_go_only_to_rules_on_their_metric_in_insertion_order() {
        let mut set = AlertSet::new([
            rule("b_high", "b", 10.0),
            rule("a_high", "a", 1.0),
            rule("b_low", "b", 5.0),
        ])
        .unwrap();
        let t0 = Instant::now();
        let fired = set.observe("b", 20.0, t0).unwrap();
        let names: Vec<_> = fired.iter().map(|t| t.rule.as_str()).collect();
        assert_eq!(names, ["b_high", "b_low"]);
        assert!(fired.iter().all(|t| t.kind == AlertKind::Fired));
        let states: Vec<_> = set.alerts().map(|a| a.state().is_firing()).collect();
        assert_eq!(states, [true, false, true]);
        let firing: Vec<_> = set.firing().map(|(r, at)| (r.name.as_str(), at)).collect();
        assert_eq!(firing, [("b_high", t0), ("b_low", t0)]);
    }

    #[test]
    fn unwatched_metric_is_ignored_but_non_finite_values_are_not() {
        let mut set = AlertSet::new(AlertRule::defaults()).unwrap();
        let t0 = Instant::now();
        assert_eq!(set.observe("unknown", 1e9, t0), Ok(vec![]));
        assert!(matches!(
            set.observe("unknown", f64::NAN, t0),
            Err(Error::NotFinite { .. })
        ));
        assert!(set.alerts().all(|a| a.latest_sample().is_none()));
    }

    #[test]
    fn out_of_order_sample_changes_no_rule() {
        let mut set = AlertSet::new([rule("early", "m", 1.0), rule("late", "m", 1.0)]).unwrap();
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_secs(1);
        // Only the second rule has seen t1 (fed alone through a set of its own would be the same).
        set.alerts[1].observe(0.0, t1).unwrap();
        let err = set.observe("m", 5.0, t0).unwrap_err();
        assert!(matches!(err, Error::OutOfOrder { .. }));
        assert_eq!(set.alerts[0].state(), AlertState::Inactive);
        assert_eq!(set.alerts[0].latest_sample(), None);
        // Other metrics keep their own time.
        assert_eq!(set.observe("other", 5.0, t0), Ok(vec![]));
    }

    #[test]
    fn bad_rule_is_rejected_at_construction() {
        let err = AlertSet::new([rule("ok", metric::ERROR_RATIO, 0.1), rule("", "m", 1.0)]);
        assert_eq!(
            err.unwrap_err(),
            Error::Empty {
                name: "alert rule name"
            }
        );
        assert!(AlertSet::new([]).unwrap().is_empty());
    }
}
