//! What the coordinator knows about each node's health, and the decisions it takes from it:
//! φ-accrual failure detection on heartbeats (ha-replication), a circuit breaker and Envoy-style
//! outlier ejection per node, and P2C peak-EWMA choice among a key's replicas (ha-balance).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use ha::balance::{
    Balancer, BreakerPermit, BreakerState, CallOutcome, CircuitBreaker, CircuitBreakerConfig,
    Endpoint, EndpointSet, OutlierConfig, OutlierDetector, OutlierEvent, P2cPeakEwma,
    RequestOutcome, ResponseClass, SlidingWindowKind,
};
use ha::core::{Health, NodeId};
use ha::replication::{FailureDetectors, PhiConfig};
use rand::rngs::StdRng;

use crate::client::CallError;

/// A change worth printing.
#[derive(Debug, Clone)]
pub(crate) enum GuardEvent {
    Suspected { node: NodeId, phi: f64 },
    Recovered { node: NodeId },
    Ejected { node: NodeId },
    Unejected { node: NodeId },
    BreakerOpened { node: NodeId },
    BreakerClosed { node: NodeId },
}

#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct GuardCounts {
    pub(crate) detections: u64,
    pub(crate) ejections: u64,
    pub(crate) breaker_opens: u64,
}

#[derive(Debug)]
pub(crate) struct Guard {
    detectors: FailureDetectors,
    suspected: BTreeSet<NodeId>,
    breakers: BTreeMap<NodeId, CircuitBreaker>,
    outlier: OutlierDetector,
    /// One balancer per replica set (a few dozen at most), fed by the reads sent to that set.
    balancers: HashMap<Vec<NodeId>, Balancer<P2cPeakEwma>>,
    pub(crate) counts: GuardCounts,
    breaker_config: CircuitBreakerConfig,
}

/// Why a node was not asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Skip {
    Suspected,
    BreakerOpen,
}

impl Guard {
    pub(crate) fn new(
        nodes: &[NodeId],
        call_timeout: Duration,
        now: Instant,
    ) -> Result<Guard, Box<dyn std::error::Error + Send + Sync>> {
        let phi = PhiConfig {
            threshold: 8.0,
            // Heartbeats every 100 ms; a pause of up to a second is tolerated (a loaded machine
            // delays them), so a dead node is suspected about 1.2 s after its last heartbeat.
            acceptable_heartbeat_pause: Duration::from_secs(1),
            first_heartbeat_estimate: Duration::from_millis(100),
            min_std_deviation: Duration::from_millis(50),
            ..PhiConfig::default()
        };
        // The breaker trips on failures (refused connections, timeouts), not on latency: the
        // slow node is routed around by the peak-EWMA choice and hedged reads instead.
        let breaker_config = CircuitBreakerConfig {
            sliding_window: SlidingWindowKind::CountBased { calls: 20 },
            minimum_calls: 10,
            failure_threshold_ratio: 0.5,
            slow_call_threshold_ratio: 1.0,
            slow_call_duration: call_timeout,
            wait_in_open: Duration::from_secs(1),
            permitted_calls_in_half_open: 3,
            max_wait_in_half_open: None,
        };
        let outlier = OutlierConfig {
            consecutive_gateway_failure: 5,
            enforce_consecutive_gateway_failure: true,
            interval: Duration::from_millis(500),
            base_ejection_time: Duration::from_secs(2),
            max_ejection_time: Duration::from_secs(10),
            max_ejection_percent: 20,
            ..OutlierConfig::default()
        };
        let mut guard = Guard {
            detectors: FailureDetectors::new(phi)?,
            suspected: BTreeSet::new(),
            breakers: BTreeMap::new(),
            outlier: OutlierDetector::new(outlier, nodes.iter().cloned(), now)?,
            balancers: HashMap::new(),
            counts: GuardCounts::default(),
            breaker_config,
        };
        for node in nodes {
            guard
                .breakers
                .insert(node.clone(), CircuitBreaker::new(breaker_config)?);
        }
        Ok(guard)
    }

    pub(crate) fn add_node(
        &mut self,
        node: &NodeId,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.outlier.add_endpoint(node.clone())?;
        self.breakers
            .insert(node.clone(), CircuitBreaker::new(self.breaker_config)?);
        Ok(())
    }

    pub(crate) fn on_heartbeat(&mut self, node: &NodeId, now: Instant) {
        if let Err(e) = self.detectors.heartbeat(node, now) {
            tracing::debug!(%node, error = %e, "heartbeat refused");
        }
    }

    pub(crate) fn is_suspected(&self, node: &NodeId) -> bool {
        self.suspected.contains(node)
    }

    /// A permit to call `node`, or why not.
    pub(crate) fn admit(
        &mut self,
        node: &NodeId,
        now: Instant,
    ) -> Result<Option<BreakerPermit>, Skip> {
        if self.suspected.contains(node) {
            return Err(Skip::Suspected);
        }
        match self.breakers.get_mut(node) {
            Some(b) => b.try_acquire(now).map(Some).map_err(|_| Skip::BreakerOpen),
            None => Ok(None),
        }
    }

    /// A call to `node` ended; feeds the breaker, the outlier detector and the set's balancer.
    pub(crate) fn on_call(
        &mut self,
        node: &NodeId,
        permit: Option<BreakerPermit>,
        outcome: Result<(), CallError>,
        latency: Duration,
        set: Option<&[NodeId]>,
        now: Instant,
    ) -> Vec<GuardEvent> {
        let mut events = Vec::new();
        if let (Some(permit), Some(b)) = (permit, self.breakers.get_mut(node)) {
            let o = if outcome.is_ok() {
                CallOutcome::Success
            } else {
                CallOutcome::Failure
            };
            if let Some(t) = b.record(permit, o, latency, now) {
                events.extend(self.breaker_event(node, t.to));
            }
        }
        let class = match outcome {
            Ok(()) => ResponseClass::Success,
            Err(CallError::Protocol) => ResponseClass::ServerError,
            Err(_) => ResponseClass::GatewayError,
        };
        if let Ok(Some(event)) = self.outlier.record(node, class, now) {
            events.extend(self.outlier_event(event));
        }
        if let Some(lb) = set.and_then(|s| self.balancers.get_mut(s)) {
            let o = if outcome.is_ok() {
                RequestOutcome::Success
            } else {
                RequestOutcome::Failure
            };
            let _ = lb.on_complete(node.as_str(), latency, o, now);
        }
        events
    }

    fn breaker_event(&mut self, node: &NodeId, to: BreakerState) -> Option<GuardEvent> {
        match to {
            BreakerState::Open => {
                self.counts.breaker_opens += 1;
                Some(GuardEvent::BreakerOpened { node: node.clone() })
            }
            BreakerState::Closed => Some(GuardEvent::BreakerClosed { node: node.clone() }),
            BreakerState::HalfOpen => None,
        }
    }

    fn outlier_event(&mut self, event: OutlierEvent) -> Option<GuardEvent> {
        match event {
            OutlierEvent::Ejected { endpoint, .. } => {
                self.counts.ejections += 1;
                Some(GuardEvent::Ejected { node: endpoint })
            }
            OutlierEvent::Unejected { endpoint } => Some(GuardEvent::Unejected { node: endpoint }),
        }
    }

    /// The replicas of `set` in the order to ask them for a read: the P2C peak-EWMA pick first,
    /// then the others by their latency estimate; suspected, ejected or broken nodes last.
    pub(crate) fn read_order(
        &mut self,
        set: &[NodeId],
        now: Instant,
        rng: &mut StdRng,
    ) -> Vec<NodeId> {
        let lb = match self.balancers.get_mut(set) {
            Some(lb) => lb,
            None => {
                let endpoints = set.iter().cloned().map(Endpoint::new).collect();
                let built = EndpointSet::new(endpoints, Default::default())
                    .map_err(|e| e.to_string())
                    .and_then(|s| {
                        P2cPeakEwma::new(Default::default())
                            .map(|p| Balancer::new(s, p))
                            .map_err(|e| e.to_string())
                    });
                match built {
                    Ok(lb) => self.balancers.entry(set.to_vec()).or_insert(lb),
                    Err(e) => {
                        tracing::debug!(error = %e, "no balancer for the set");
                        return set.to_vec();
                    }
                }
            }
        };
        for id in set {
            let bad = self.suspected.contains(id)
                || self.outlier.is_ejected(id)
                || self
                    .breakers
                    .get(id)
                    .is_some_and(|b| b.state() == BreakerState::Open);
            let health = if bad {
                Health::Unhealthy
            } else {
                Health::Healthy
            };
            if lb.endpoints().health(id.as_str()) != Some(health) {
                let _ = lb.endpoints_mut().set_health(id.as_str(), health, now);
            }
        }
        let first = lb.pick(now, rng).ok();
        let estimate = |id: &NodeId| {
            let ids: Vec<&NodeId> = lb.endpoints().ids().collect();
            let i = ids.iter().position(|x| *x == id);
            let healthy = lb.endpoints().is_available(id.as_str());
            let est = i.and_then(|i| lb.picker().estimate_ns(i)).unwrap_or(0.0);
            (!healthy, est)
        };
        let mut order: Vec<NodeId> = set.to_vec();
        order.sort_by(|a, b| {
            let (ea, eb) = (estimate(a), estimate(b));
            ea.0.cmp(&eb.0).then(ea.1.total_cmp(&eb.1))
        });
        if let Some(first) = first {
            order.retain(|n| n != &first);
            order.insert(0, first);
        }
        order
    }

    /// A read of `set` was sent to `node`: counts it in flight for the set's balancer.
    pub(crate) fn on_sent(&mut self, set: &[NodeId], node: &NodeId, now: Instant) {
        if let Some(lb) = self.balancers.get_mut(set) {
            let _ = lb.on_start(node.as_str(), now);
        }
    }

    /// Periodic work: suspicion from φ, outlier sweeps, breaker timeouts.
    pub(crate) fn tick(&mut self, nodes: &[NodeId], now: Instant) -> Vec<GuardEvent> {
        let mut events = Vec::new();
        for node in nodes {
            let Some(phi) = self.detectors.phi(node, now) else {
                continue;
            };
            let down = self.detectors.health(node, now) == Health::Unhealthy;
            if down && self.suspected.insert(node.clone()) {
                self.counts.detections += 1;
                events.push(GuardEvent::Suspected {
                    node: node.clone(),
                    phi,
                });
            } else if !down && self.suspected.remove(node) {
                events.push(GuardEvent::Recovered { node: node.clone() });
            }
        }
        for event in self.outlier.handle_timeout(now) {
            events.extend(self.outlier_event(event));
        }
        let mut changes = Vec::new();
        for (node, b) in &mut self.breakers {
            if let Some(t) = b.handle_timeout(now) {
                changes.push((node.clone(), t.to));
            }
        }
        for (node, to) in changes {
            events.extend(self.breaker_event(&node, to));
        }
        events
    }
}
