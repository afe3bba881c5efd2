//! Active health checks over a set of endpoints: which checks are due at `now`, and each
//! endpoint's health from ha-core's [`HealthCheck`] state machine.
//!
//! Each endpoint has its own [`HealthCheck`] (interval 30 s, timeout 5 s, 3 failures to
//! unhealthy, 2 successes to healthy by default, as Envoy's and Kubernetes' checks). The
//! schedule says which endpoints to check now ([`HealthSchedule::due`]), takes the application's
//! results ([`HealthSchedule::record`]), turns checks unanswered past their timeout into
//! failures ([`HealthSchedule::handle_timeout`]), and says when to come back
//! ([`HealthSchedule::poll_timeout`]). The application runs the checks itself.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ha_core::{CheckOutcome, Health, HealthCheck, HealthCheckConfig, HealthTransition, NodeId};

use crate::{Error, Result};

/// Active health checks of many endpoints, one [`HealthCheck`] each, in endpoint order.
///
/// ```
/// use std::time::{Duration, Instant};
/// use ha_balance::HealthSchedule;
/// use ha_core::{CheckOutcome, Health, HealthCheckConfig, NodeId};
///
/// let (a, b) = (NodeId::new("a")?, NodeId::new("b")?);
/// let mut checks = HealthSchedule::new(HealthCheckConfig::default())?;
/// checks.add_endpoint(a.clone())?;
/// checks.add_endpoint(b.clone())?;
/// let mut now = Instant::now();
/// for _ in 0..2 {
///     for id in checks.due(now) {
///         checks.on_check_started(&id, now)?;
///         checks.record(&id, CheckOutcome::Success, Duration::from_millis(20), now)?;
///     }
///     assert!(checks.due(now).is_empty());
///     assert_eq!(checks.poll_timeout(), Some(now + Duration::from_secs(30)));
///     now += Duration::from_secs(30);
/// }
/// assert_eq!(checks.health(&a), Some(Health::Healthy));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct HealthSchedule {
    config: HealthCheckConfig,
    checks: BTreeMap<NodeId, HealthCheck>,
}

impl HealthSchedule {
    /// An empty schedule whose endpoints are checked with `config`.
    ///
    /// # Errors
    /// As [`HealthCheckConfig::validate`] (as [`Error::Core`]).
    pub fn new(config: HealthCheckConfig) -> Result<HealthSchedule> {
        config.validate()?;
        Ok(HealthSchedule {
            config,
            checks: BTreeMap::new(),
        })
    }

    /// The settings every endpoint is checked with.
    #[must_use]
    pub fn config(&self) -> &HealthCheckConfig {
        &self.config
    }

    /// Starts checking an endpoint; its health is unknown and its first check due at once.
    ///
    /// # Errors
    /// [`Error::DuplicateEndpoint`] if it is checked already.
    pub fn add_endpoint(&mut self, endpoint: NodeId) -> Result<()> {
        if self.checks.contains_key(&endpoint) {
            return Err(Error::DuplicateEndpoint(endpoint));
        }
        let check = HealthCheck::new(self.config)?;
        self.checks.insert(endpoint, check);
        Ok(())
    }

    /// Stops checking an endpoint.
    ///
    /// # Errors
    /// [`Error::UnknownEndpoint`] if it is not checked.
    pub fn remove_endpoint(&mut self, endpoint: &NodeId) -> Result<()> {
        self.checks
            .remove(endpoint)
            .map(drop)
            .ok_or_else(|| Error::UnknownEndpoint(endpoint.to_string()))
    }

    /// The endpoints whose check is due at `now` (none under way, the interval passed), in
    /// endpoint order.
    #[must_use]
    pub fn due(&self, now: Instant) -> Vec<NodeId> {
        self.checks
            .iter()
            .filter(|(_, c)| c.is_due(now))
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Notes that the check of `endpoint` started at `now`, so it times out at `now + timeout`.
    ///
    /// # Errors
    /// [`Error::UnknownEndpoint`] if it is not checked.
    pub fn on_check_started(&mut self, endpoint: &NodeId, now: Instant) -> Result<()> {
        self.check_mut(endpoint)?.on_check_started(now);
        Ok(())
    }

    /// Takes in a check of `endpoint` that ended at `now`; returns the change of health.
    ///
    /// # Errors
    /// [`Error::UnknownEndpoint`] if it is not checked.
    pub fn record(
        &mut self,
        endpoint: &NodeId,
        outcome: CheckOutcome,
        latency: Duration,
        now: Instant,
    ) -> Result<Option<HealthTransition>> {
        let change = self.check_mut(endpoint)?.record(outcome, latency, now);
        if let Some(change) = change {
            tracing::debug!(%endpoint, from = %change.from, to = %change.to, ?outcome, ?latency, "endpoint health changed");
        }
        Ok(change)
    }

    /// Counts every check still unanswered at its deadline as a timeout; returns the changes
    /// of health, in endpoint order.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<(NodeId, HealthTransition)> {
        self.checks
            .iter_mut()
            .filter_map(|(id, c)| c.handle_timeout(now).map(|t| (id.clone(), t)))
            .collect()
    }

    /// When to come back: the earliest check deadline or due time. `None` when there are no
    /// endpoints; an endpoint never checked is due at once (its time is `None` in
    /// [`HealthCheck::poll_timeout`], so look at [`due`](Self::due) first).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.checks
            .values()
            .filter_map(HealthCheck::poll_timeout)
            .min()
    }

    /// The health of `endpoint`, if it is checked.
    #[must_use]
    pub fn health(&self, endpoint: &NodeId) -> Option<Health> {
        self.checks.get(endpoint).map(HealthCheck::health)
    }

    /// Every endpoint and its health, in endpoint order.
    pub fn iter(&self) -> impl Iterator<Item = (&NodeId, Health)> {
        self.checks.iter().map(|(id, c)| (id, c.health()))
    }

    /// Whether `endpoint` may take traffic by its checks: healthy or degraded. Unknown (never
    /// checked yet) and unhealthy endpoints may not; an endpoint not checked is `false`.
    #[must_use]
    pub fn is_routable(&self, endpoint: &NodeId) -> bool {
        matches!(
            self.health(endpoint),
            Some(Health::Healthy | Health::Degraded)
        )
    }

    fn check_mut(&mut self, endpoint: &NodeId) -> Result<&mut HealthCheck> {
        self.checks
            .get_mut(endpoint)
            .ok_or_else(|| Error::UnknownEndpoint(endpoint.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: Duration = Duration::from_secs(1);

    fn id(s: &str) -> NodeId {
        NodeId::new(s).unwrap()
    }

    #[test]
    fn new_endpoints_are_due_at_once_and_then_every_interval() {
        let mut s = HealthSchedule::new(HealthCheckConfig::default()).unwrap();
        s.add_endpoint(id("b")).unwrap();
        s.add_endpoint(id("a")).unwrap();
        let t = Instant::now();
        assert_eq!(s.due(t), vec![id("a"), id("b")]);
        s.record(&id("a"), CheckOutcome::Success, SEC, t).unwrap();
        assert_eq!(s.due(t), vec![id("b")]);
        // The check took 1 s, so it started at t − 1 s and the next is due 30 s after that.
        assert_eq!(s.due(t + 28 * SEC).len(), 1);
        assert_eq!(s.due(t + 29 * SEC), vec![id("a"), id("b")]);
    }

    #[test]
    fn unanswered_checks_time_out_into_unhealthy() {
        let mut s = HealthSchedule::new(HealthCheckConfig::default()).unwrap();
        s.add_endpoint(id("a")).unwrap();
        let mut t = Instant::now();
        let mut changes = Vec::new();
        for _ in 0..3 {
            assert_eq!(s.due(t), vec![id("a")]);
            s.on_check_started(&id("a"), t).unwrap();
            assert!(s.due(t).is_empty(), "one check at a time");
            assert_eq!(s.poll_timeout(), Some(t + 5 * SEC));
            changes.extend(s.handle_timeout(t + 5 * SEC));
            t += 30 * SEC;
        }
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].1.to, Health::Unhealthy);
        assert!(!s.is_routable(&id("a")));
    }

    #[test]
    fn unknown_and_duplicate_endpoints_are_errors() {
        let mut s = HealthSchedule::new(HealthCheckConfig::default()).unwrap();
        s.add_endpoint(id("a")).unwrap();
        assert_eq!(
            s.add_endpoint(id("a")),
            Err(Error::DuplicateEndpoint(id("a")))
        );
        let t = Instant::now();
        assert_eq!(
            s.record(&id("z"), CheckOutcome::Success, SEC, t),
            Err(Error::UnknownEndpoint("z".into()))
        );
        assert!(s.remove_endpoint(&id("z")).is_err());
        s.remove_endpoint(&id("a")).unwrap();
        assert_eq!(s.poll_timeout(), None);
        assert!(
            HealthSchedule::new(HealthCheckConfig {
                interval: Duration::ZERO,
                ..Default::default()
            })
            .is_err()
        );
    }
}
