//! One φ accrual detector per monitored node, as Akka's failure detector registry keeps them.

use std::collections::BTreeMap;
use std::time::Instant;

use ha_core::{Health, NodeId};

use crate::{PhiAccrualDetector, PhiConfig, Result};

/// A [`PhiAccrualDetector`] for each node heard from, under one [`PhiConfig`].
///
/// A node is monitored from its first heartbeat (as in Akka's `DefaultFailureDetectorRegistry`);
/// a node never heard from is neither available nor suspected: its [`health`](Self::health) is
/// [`Health::Unknown`].
///
/// ```
/// use std::time::{Duration, Instant};
/// use ha_core::{Health, NodeId};
/// use ha_replication::{FailureDetectors, PhiConfig};
///
/// let mut detectors = FailureDetectors::new(PhiConfig::default())?;
/// let (a, b) = (NodeId::new("a")?, NodeId::new("b")?);
/// let mut now = Instant::now();
/// for i in 0..10 {
///     detectors.heartbeat(&a, now)?;
///     if i < 5 {
///         detectors.heartbeat(&b, now)?; // b goes silent after 5 beats
///     }
///     now += Duration::from_secs(1);
/// }
/// // a beat 1 s ago, b 6 s ago: past its 1 s rhythm plus the 3 s acceptable pause.
/// assert_eq!(detectors.health(&a, now), Health::Healthy);
/// assert_eq!(detectors.health(&b, now), Health::Unhealthy);
/// assert_eq!(detectors.suspected(now).len(), 1);
/// assert_eq!(detectors.health(&NodeId::new("c")?, now), Health::Unknown);
/// # Ok::<(), ha_replication::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct FailureDetectors {
    config: PhiConfig,
    detectors: BTreeMap<NodeId, PhiAccrualDetector>,
}

impl FailureDetectors {
    /// A registry monitoring nobody yet.
    ///
    /// # Errors
    /// As [`PhiConfig::validate`].
    pub fn new(config: PhiConfig) -> Result<FailureDetectors> {
        config.validate()?;
        Ok(FailureDetectors {
            config,
            detectors: BTreeMap::new(),
        })
    }

    /// The settings every detector uses.
    #[must_use]
    pub fn config(&self) -> &PhiConfig {
        &self.config
    }

    /// A heartbeat from `node` arrived at `now`; the first one starts monitoring it.
    ///
    /// # Errors
    /// [`crate::Error::TimeRegressed`] if `now` is before `node`'s previous heartbeat; nothing
    /// changes.
    pub fn heartbeat(&mut self, node: &NodeId, now: Instant) -> Result<()> {
        if let Some(detector) = self.detectors.get_mut(node) {
            return detector.heartbeat(now);
        }
        let mut detector = PhiAccrualDetector::new(self.config)?;
        detector.heartbeat(now)?;
        self.detectors.insert(node.clone(), detector);
        Ok(())
    }

    /// `node`'s φ at `now`, if it is monitored.
    #[must_use]
    pub fn phi(&self, node: &NodeId, now: Instant) -> Option<f64> {
        self.detectors.get(node).map(|d| d.phi(now))
    }

    /// [`Health::Healthy`] while `node`'s φ is below the threshold, [`Health::Unhealthy`] from
    /// it on, [`Health::Unknown`] if it was never heard from.
    #[must_use]
    pub fn health(&self, node: &NodeId, now: Instant) -> Health {
        match self.detectors.get(node) {
            None => Health::Unknown,
            Some(d) if d.is_available(now) => Health::Healthy,
            Some(_) => Health::Unhealthy,
        }
    }

    /// The monitored nodes whose φ has reached the threshold at `now`, with their φ, in id
    /// order.
    #[must_use]
    pub fn suspected(&self, now: Instant) -> Vec<(NodeId, f64)> {
        self.detectors
            .iter()
            .map(|(id, d)| (id, d.phi(now)))
            .filter(|(_, phi)| *phi >= self.config.threshold)
            .map(|(id, phi)| (id.clone(), phi))
            .collect()
    }

    /// Stops monitoring `node` (it left the cluster); returns whether it was monitored.
    pub fn remove(&mut self, node: &NodeId) -> bool {
        self.detectors.remove(node).is_some()
    }

    /// The monitored nodes, in id order.
    pub fn nodes(&self) -> impl Iterator<Item = &NodeId> {
        self.detectors.keys()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn removed_nodes_are_unknown_and_time_going_back_is_refused() {
        let mut d = FailureDetectors::new(PhiConfig::default()).unwrap();
        let a = NodeId::new("a").unwrap();
        let t0 = Instant::now() + Duration::from_secs(1);
        d.heartbeat(&a, t0).unwrap();
        assert!(d.heartbeat(&a, t0 - Duration::from_millis(1)).is_err());
        assert!(d.phi(&a, t0).unwrap() < 1e-6);
        assert_eq!(d.nodes().count(), 1);
        assert!(d.remove(&a));
        assert!(!d.remove(&a));
        assert_eq!(d.health(&a, t0), Health::Unknown);
        assert_eq!(d.phi(&a, t0), None);
        let bad = PhiConfig {
            threshold: -1.0,
            ..PhiConfig::default()
        };
        assert!(FailureDetectors::new(bad).is_err());
    }
}
