//! Passive outlier detection with Envoy's semantics: endpoints that answer badly are ejected
//! from balancing for a while, longer each time.
//!
//! Followed: Envoy's outlier detection (`envoy.config.cluster.v3.OutlierDetection` and its
//! architecture overview):
//! - **consecutive 5xx**: `consecutive_5xx` (default 5) server errors in a row eject at once;
//! - **consecutive gateway failures**: `consecutive_gateway_failure` (default 5) gateway errors
//!   (502, 503, 504, or a connect failure / timeout) in a row eject at once — not enforced by
//!   default, as Envoy's `enforcing_consecutive_gateway_failure` defaults to 0%;
//! - **success rate**: every `interval` (10 s), over the endpoints with at least
//!   `success_rate_request_volume` (100) requests in the interval, and only when at least
//!   `success_rate_minimum_hosts` (5) such endpoints exist, an endpoint whose success rate is
//!   below `mean − success_rate_stdev_factor × stdev` (1.9) is ejected;
//! - an ejection lasts `base_ejection_time × times ejected` (30 s × n), capped at
//!   `max(max_ejection_time, base_ejection_time)` (300 s); an ejected endpoint comes back at the
//!   first interval sweep after its time is up; each sweep in which an endpoint is not ejected
//!   lowers its count of times ejected by one (Envoy's backoff decay);
//! - at most `max_ejection_percent` (10%) of the endpoints are ejected at once, strictly as
//!   Envoy enforces it since 1.31: with fewer than ten endpoints the default ejects none, unless
//!   `always_eject_one` (Envoy's `always_eject_one_host`, default false) lets one endpoint be
//!   ejected when none is — turn it on for small clusters;
//! - the panic threshold (50%): when fewer endpoints than that share are routable, all are
//!   ([`OutlierDetector::routable`]).
//!
//! Where we differ: Envoy's `enforcing_*` percentages (a random draw per detection) are on / off
//! switches here, so decisions need no randomness; the failure-percentage detector and
//! local-origin error splitting are not offered. Removing endpoints can leave more than the
//! maximum share ejected until the next unejections; ejections never add to it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ha_core::NodeId;

use crate::error::{non_zero, non_zero_duration};
use crate::{Error, PanicThreshold, Result, Routable};

/// How a response counts for outlier detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum ResponseClass {
    /// Anything that is not a server error (2xx, 3xx, 4xx).
    Success,
    /// A 5xx other than 502, 503 and 504.
    ServerError,
    /// 502, 503, 504, or a failure to connect or a timeout: a gateway error, which is also a 5xx.
    GatewayError,
}

impl ResponseClass {
    /// The class of an HTTP status code.
    ///
    /// ```
    /// use ha_balance::ResponseClass;
    /// assert_eq!(ResponseClass::from_http_status(404), ResponseClass::Success);
    /// assert_eq!(ResponseClass::from_http_status(500), ResponseClass::ServerError);
    /// assert_eq!(ResponseClass::from_http_status(503), ResponseClass::GatewayError);
    /// ```
    #[must_use]
    pub fn from_http_status(status: u16) -> ResponseClass {
        match status {
            502..=504 => ResponseClass::GatewayError,
            500..=599 => ResponseClass::ServerError,
            _ => ResponseClass::Success,
        }
    }
}

/// The settings of an [`OutlierDetector`]. The defaults are Envoy's.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct OutlierConfig {
    /// Server errors (gateway errors included) in a row that eject. Default 5; not zero.
    pub consecutive_5xx: u32,
    /// Whether consecutive 5xx detection ejects. Default true (Envoy's 100%).
    pub enforce_consecutive_5xx: bool,
    /// Gateway errors in a row that eject. Default 5; not zero.
    pub consecutive_gateway_failure: u32,
    /// Whether consecutive gateway-failure detection ejects. Default false (Envoy's 0%).
    pub enforce_consecutive_gateway_failure: bool,
    /// Time between sweeps (success-rate analysis and unejection). Default 10 s; not zero.
    pub interval: Duration,
    /// The ejection time of a first ejection. Default 30 s; not zero.
    pub base_ejection_time: Duration,
    /// The longest ejection (taken as at least `base_ejection_time`). Default 300 s.
    pub max_ejection_time: Duration,
    /// The most endpoints ejected at once, in percent of all, in `[0, 100]`. Default 10.
    pub max_ejection_percent: u32,
    /// Whether one endpoint may be ejected when none is, whatever the percentage (Envoy's
    /// `always_eject_one_host`). Default false, as in Envoy: with the default 10% a cluster of
    /// fewer than ten endpoints then ejects none, so small clusters want this on.
    pub always_eject_one: bool,
    /// Whether success-rate detection ejects. Default true (Envoy's 100%).
    pub enforce_success_rate: bool,
    /// Endpoints with enough requests needed for success-rate analysis. Default 5; not zero.
    pub success_rate_minimum_hosts: u32,
    /// Requests in an interval that make an endpoint count for success-rate analysis.
    /// Default 100; not zero.
    pub success_rate_request_volume: u32,
    /// How many standard deviations below the mean success rate ejects. Default 1.9 (Envoy's
    /// 1900 / 1000); finite, not negative.
    pub success_rate_stdev_factor: f64,
    /// The share of routable endpoints, in percent, below which all endpoints are routable.
    /// Default 50; in `[0, 100]`.
    pub healthy_panic_threshold_percent: f64,
}

impl Default for OutlierConfig {
    fn default() -> Self {
        OutlierConfig {
            consecutive_5xx: 5,
            enforce_consecutive_5xx: true,
            consecutive_gateway_failure: 5,
            enforce_consecutive_gateway_failure: false,
            interval: Duration::from_secs(10),
            base_ejection_time: Duration::from_secs(30),
            max_ejection_time: Duration::from_secs(300),
            max_ejection_percent: 10,
            always_eject_one: false,
            enforce_success_rate: true,
            success_rate_minimum_hosts: 5,
            success_rate_request_volume: 100,
            success_rate_stdev_factor: 1.9,
            healthy_panic_threshold_percent: 50.0,
        }
    }
}

impl OutlierConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`ha_core::Error::Zero`] for a zero count or duration; [`ha_core::Error::OutOfRange`] or
    /// [`ha_core::Error::NotFinite`] for a percentage outside `[0, 100]` or a negative or
    /// non-finite stdev factor (all as [`Error::Core`]).
    pub fn validate(&self) -> Result<()> {
        non_zero("consecutive 5xx", self.consecutive_5xx.into())?;
        non_zero(
            "consecutive gateway failure",
            self.consecutive_gateway_failure.into(),
        )?;
        non_zero_duration("outlier interval", self.interval)?;
        non_zero_duration("base ejection time", self.base_ejection_time)?;
        if self.max_ejection_percent > 100 {
            return Err(ha_core::Error::OutOfRange {
                name: "max ejection percent",
                value: self.max_ejection_percent.into(),
                range: "[0, 100]",
            }
            .into());
        }
        non_zero(
            "success rate minimum hosts",
            self.success_rate_minimum_hosts.into(),
        )?;
        non_zero(
            "success rate request volume",
            self.success_rate_request_volume.into(),
        )?;
        let factor = self.success_rate_stdev_factor;
        if !factor.is_finite() {
            return Err(ha_core::Error::NotFinite {
                name: "success rate stdev factor",
                value: factor,
            }
            .into());
        }
        if factor < 0.0 {
            return Err(ha_core::Error::OutOfRange {
                name: "success rate stdev factor",
                value: factor,
                range: "[0, ∞)",
            }
            .into());
        }
        PanicThreshold::new(self.healthy_panic_threshold_percent)?;
        Ok(())
    }
}

/// Why an endpoint was ejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum EjectionReason {
    /// Consecutive server errors.
    Consecutive5xx,
    /// Consecutive gateway errors.
    ConsecutiveGatewayFailure,
    /// A success rate below the cluster's mean by the stdev factor.
    SuccessRate,
}

/// A change the detector made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutlierEvent {
    /// An endpoint was ejected.
    Ejected {
        /// The endpoint.
        endpoint: NodeId,
        /// Why.
        reason: EjectionReason,
        /// The earliest time it comes back (at the first sweep from then on).
        until: Instant,
        /// Its count of times ejected, this one included (the ejection-time multiplier).
        times: u32,
    },
    /// An endpoint came back.
    Unejected {
        /// The endpoint.
        endpoint: NodeId,
    },
}

#[derive(Debug, Clone, Default)]
struct Host {
    consecutive_5xx: u32,
    consecutive_gateway: u32,
    successes: u64,
    requests: u64,
    ejected_until: Option<Instant>,
    times: u32,
    ejected_this_interval: bool,
}

/// Passive outlier detection over a set of endpoints.
///
/// # Semantics
///
/// Passive outlier detection with Envoy's semantics: endpoints that answer badly are ejected
/// from balancing for a while, longer each time.
///
/// Followed: Envoy's outlier detection (`envoy.config.cluster.v3.OutlierDetection` and its
/// architecture overview):
/// - **consecutive 5xx**: `consecutive_5xx` (default 5) server errors in a row eject at once;
/// - **consecutive gateway failures**: `consecutive_gateway_failure` (default 5) gateway errors
///   (502, 503, 504, or a connect failure / timeout) in a row eject at once — not enforced by
///   default, as Envoy's `enforcing_consecutive_gateway_failure` defaults to 0%;
/// - **success rate**: every `interval` (10 s), over the endpoints with at least
///   `success_rate_request_volume` (100) requests in the interval, and only when at least
///   `success_rate_minimum_hosts` (5) such endpoints exist, an endpoint whose success rate is
///   below `mean − success_rate_stdev_factor × stdev` (1.9) is ejected;
/// - an ejection lasts `base_ejection_time × times ejected` (30 s × n), capped at
///   `max(max_ejection_time, base_ejection_time)` (300 s); an ejected endpoint comes back at the
///   first interval sweep after its time is up; each sweep in which an endpoint is not ejected
///   lowers its count of times ejected by one (Envoy's backoff decay);
/// - at most `max_ejection_percent` (10%) of the endpoints are ejected at once, strictly as
///   Envoy enforces it since 1.31: with fewer than ten endpoints the default ejects none, unless
///   `always_eject_one` (Envoy's `always_eject_one_host`, default false) lets one endpoint be
///   ejected when none is — turn it on for small clusters;
/// - the panic threshold (50%): when fewer endpoints than that share are routable, all are
///   ([`OutlierDetector::routable`]).
///
/// Where we differ: Envoy's `enforcing_*` percentages (a random draw per detection) are on / off
/// switches here, so decisions need no randomness; the failure-percentage detector and
/// local-origin error splitting are not offered. Removing endpoints can leave more than the
/// maximum share ejected until the next unejections; ejections never add to it.
///
/// ```
/// use std::time::{Duration, Instant};
/// use ha_balance::{OutlierConfig, OutlierDetector, OutlierEvent, ResponseClass};
/// use ha_core::NodeId;
///
/// let ids: Vec<NodeId> = (0..10).map(|i| NodeId::new(format!("10.0.0.{i}"))).collect::<Result<_, _>>()?;
/// let mut now = Instant::now();
/// let mut detector = OutlierDetector::new(OutlierConfig::default(), ids.clone(), now)?;
/// let mut ejected = None;
/// for _ in 0..5 {
///     ejected = detector.record(&ids[3], ResponseClass::from_http_status(500), now)?;
/// }
/// assert!(matches!(ejected, Some(OutlierEvent::Ejected { times: 1, .. })));
/// assert_eq!(detector.routable().endpoints.len(), 9);
///
/// // 30 s later, at the next sweep, it is back.
/// now += Duration::from_secs(30);
/// let events = detector.handle_timeout(now);
/// assert_eq!(events, vec![OutlierEvent::Unejected { endpoint: ids[3].clone() }]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct OutlierDetector {
    config: OutlierConfig,
    panic: PanicThreshold,
    hosts: BTreeMap<NodeId, Host>,
    ejected: usize,
    next_sweep: Instant,
}

impl OutlierDetector {
    /// A detector over `endpoints`, none ejected, the first sweep an interval after `now`.
    ///
    /// # Errors
    /// As [`OutlierConfig::validate`]; [`Error::DuplicateEndpoint`] for an endpoint given twice.
    pub fn new(
        config: OutlierConfig,
        endpoints: impl IntoIterator<Item = NodeId>,
        now: Instant,
    ) -> Result<OutlierDetector> {
        config.validate()?;
        let mut detector = OutlierDetector {
            config,
            panic: PanicThreshold::new(config.healthy_panic_threshold_percent)?,
            hosts: BTreeMap::new(),
            ejected: 0,
            next_sweep: crate::deadline::deadline(now, config.interval),
        };
        for endpoint in endpoints {
            detector.add_endpoint(endpoint)?;
        }
        Ok(detector)
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &OutlierConfig {
        &self.config
    }

    /// Starts tracking an endpoint.
    ///
    /// # Errors
    /// [`Error::DuplicateEndpoint`] if it is tracked already.
    pub fn add_endpoint(&mut self, endpoint: NodeId) -> Result<()> {
        if self.hosts.contains_key(&endpoint) {
            return Err(Error::DuplicateEndpoint(endpoint));
        }
        self.hosts.insert(endpoint, Host::default());
        Ok(())
    }

    /// Stops tracking an endpoint.
    ///
    /// # Errors
    /// [`Error::UnknownEndpoint`] if it is not tracked.
    pub fn remove_endpoint(&mut self, endpoint: &NodeId) -> Result<()> {
        let host = self
            .hosts
            .remove(endpoint)
            .ok_or_else(|| Error::UnknownEndpoint(endpoint.to_string()))?;
        if host.ejected_until.is_some() {
            self.ejected -= 1;
        }
        Ok(())
    }

    /// Endpoints tracked.
    #[must_use]
    pub fn len(&self) -> usize {
        self.hosts.len()
    }

    /// Whether no endpoint is tracked.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }

    /// Endpoints ejected now.
    #[must_use]
    pub fn ejected_count(&self) -> usize {
        self.ejected
    }

    /// Whether `endpoint` is ejected (false for an endpoint not tracked).
    #[must_use]
    pub fn is_ejected(&self, endpoint: &NodeId) -> bool {
        self.hosts
            .get(endpoint)
            .is_some_and(|h| h.ejected_until.is_some())
    }

    /// Takes in one response of `endpoint` at `now`; returns the ejection it caused, if any.
    ///
    /// # Errors
    /// [`Error::UnknownEndpoint`] for an endpoint not tracked.
    pub fn record(
        &mut self,
        endpoint: &NodeId,
        class: ResponseClass,
        now: Instant,
    ) -> Result<Option<OutlierEvent>> {
        let config = self.config;
        let host = self
            .hosts
            .get_mut(endpoint)
            .ok_or_else(|| Error::UnknownEndpoint(endpoint.to_string()))?;
        host.requests += 1;
        let reason = match class {
            ResponseClass::Success => {
                host.successes += 1;
                host.consecutive_5xx = 0;
                host.consecutive_gateway = 0;
                None
            }
            ResponseClass::ServerError => {
                host.consecutive_5xx = host.consecutive_5xx.saturating_add(1);
                host.consecutive_gateway = 0;
                (host.consecutive_5xx >= config.consecutive_5xx && config.enforce_consecutive_5xx)
                    .then_some(EjectionReason::Consecutive5xx)
            }
            ResponseClass::GatewayError => {
                host.consecutive_5xx = host.consecutive_5xx.saturating_add(1);
                host.consecutive_gateway = host.consecutive_gateway.saturating_add(1);
                if host.consecutive_gateway >= config.consecutive_gateway_failure
                    && config.enforce_consecutive_gateway_failure
                {
                    Some(EjectionReason::ConsecutiveGatewayFailure)
                } else {
                    (host.consecutive_5xx >= config.consecutive_5xx
                        && config.enforce_consecutive_5xx)
                        .then_some(EjectionReason::Consecutive5xx)
                }
            }
        };
        let Some(reason) = reason else {
            return Ok(None);
        };
        // Envoy resets the run once it is detected, ejected or not.
        host.consecutive_5xx = 0;
        host.consecutive_gateway = 0;
        if host.ejected_until.is_some() {
            return Ok(None);
        }
        Ok(self.eject(endpoint, reason, now))
    }

    fn may_eject_one_more(&self) -> bool {
        let n = self.hosts.len() as u64;
        let after = self.ejected as u64 + 1;
        after * 100 <= u64::from(self.config.max_ejection_percent) * n
            || (self.config.always_eject_one && self.ejected == 0)
    }

    fn eject(
        &mut self,
        endpoint: &NodeId,
        reason: EjectionReason,
        now: Instant,
    ) -> Option<OutlierEvent> {
        if !self.may_eject_one_more() {
            tracing::debug!(
                %endpoint,
                ?reason,
                ejected = self.ejected,
                endpoints = self.hosts.len(),
                max_ejection_percent = self.config.max_ejection_percent,
                "outlier detected but not ejected: at the maximum ejection percent"
            );
            return None;
        }
        let base = self.config.base_ejection_time;
        let cap = self.config.max_ejection_time.max(base);
        let host = self.hosts.get_mut(endpoint)?;
        host.times = host.times.saturating_add(1);
        let time = base.saturating_mul(host.times).min(cap);
        let until = crate::deadline::deadline(now, time);
        host.ejected_until = Some(until);
        host.ejected_this_interval = true;
        let times = host.times;
        self.ejected += 1;
        tracing::debug!(
            %endpoint,
            ?reason,
            times,
            ejection_time = ?time,
            ejected = self.ejected,
            endpoints = self.hosts.len(),
            "outlier ejected"
        );
        Some(OutlierEvent::Ejected {
            endpoint: endpoint.clone(),
            reason,
            until,
            times,
        })
    }

    /// When to call [`handle_timeout`](Self::handle_timeout): the next sweep.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        Some(self.next_sweep)
    }

    /// Runs the interval sweep if it is due at `now` (extra calls are harmless): brings back
    /// endpoints whose ejection is over, decays the ejection counts of endpoints not ejected,
    /// runs success-rate analysis, and starts a new interval. Returns the changes in endpoint
    /// order, unejections first.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<OutlierEvent> {
        if now < self.next_sweep {
            return Vec::new();
        }
        let mut events = Vec::new();
        for (endpoint, host) in &mut self.hosts {
            match host.ejected_until {
                Some(until) if now >= until => {
                    host.ejected_until = None;
                    self.ejected -= 1;
                    tracing::debug!(%endpoint, times = host.times, "outlier unejected");
                    events.push(OutlierEvent::Unejected {
                        endpoint: endpoint.clone(),
                    });
                }
                None if !host.ejected_this_interval => host.times = host.times.saturating_sub(1),
                _ => {}
            }
        }
        if self.config.enforce_success_rate {
            events.extend(self.success_rate_ejections(now));
        }
        for host in self.hosts.values_mut() {
            host.successes = 0;
            host.requests = 0;
            host.ejected_this_interval = false;
        }
        // Sweeps keep their cadence; a long gap skips the missed ones.
        while self.next_sweep <= now {
            match self.next_sweep.checked_add(self.config.interval) {
                Some(next) => self.next_sweep = next,
                None => break,
            }
        }
        events
    }

    fn success_rate_ejections(&mut self, now: Instant) -> Vec<OutlierEvent> {
        let volume = u64::from(self.config.success_rate_request_volume);
        let rates: Vec<(NodeId, f64)> = self
            .hosts
            .iter()
            .filter(|(_, h)| h.requests >= volume && h.ejected_until.is_none())
            .map(|(id, h)| (id.clone(), h.successes as f64 / h.requests as f64))
            .collect();
        if rates.len() < self.config.success_rate_minimum_hosts as usize {
            return Vec::new();
        }
        let n = rates.len() as f64;
        let mean = rates.iter().map(|(_, r)| r).sum::<f64>() / n;
        let variance = rates.iter().map(|(_, r)| (r - mean).powi(2)).sum::<f64>() / n;
        let threshold = mean - self.config.success_rate_stdev_factor * variance.sqrt();
        let mut outliers: Vec<&(NodeId, f64)> =
            rates.iter().filter(|(_, r)| *r < threshold).collect();
        // The worst first, so the cap keeps the worst out.
        outliers.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
        tracing::debug!(
            mean,
            stdev = variance.sqrt(),
            threshold,
            hosts = rates.len(),
            outliers = outliers.len(),
            "outlier success-rate analysis"
        );
        let outliers: Vec<NodeId> = outliers.into_iter().map(|(id, _)| id.clone()).collect();
        outliers
            .iter()
            .filter_map(|id| self.eject(id, EjectionReason::SuccessRate, now))
            .collect()
    }

    /// The endpoints to balance over: those not ejected, or all of them when fewer than the
    /// panic threshold are not ejected. In endpoint order.
    #[must_use]
    pub fn routable(&self) -> Routable<NodeId> {
        self.routable_with(|_| true)
    }

    /// As [`routable`](Self::routable), counting as unhealthy also the endpoints `is_healthy`
    /// turns down (the verdict of active health checks, say).
    #[must_use]
    pub fn routable_with(&self, is_healthy: impl Fn(&NodeId) -> bool) -> Routable<NodeId> {
        let all: Vec<NodeId> = self.hosts.keys().cloned().collect();
        self.panic
            .select(&all, |id| !self.is_ejected(id) && is_healthy(id))
    }

    /// Checks the internal bookkeeping, for tests and fuzzing.
    ///
    /// # Panics
    /// If it is inconsistent, which is a bug in ha-balance.
    pub fn check_invariants(&self) {
        let ejected = self
            .hosts
            .values()
            .filter(|h| h.ejected_until.is_some())
            .count();
        assert_eq!(ejected, self.ejected);
        for h in self.hosts.values() {
            assert!(h.successes <= h.requests);
            assert!(h.ejected_until.is_none() || h.times > 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SEC: Duration = Duration::from_secs(1);

    fn ids(n: usize) -> Vec<NodeId> {
        (0..n)
            .map(|i| NodeId::new(format!("h{i:03}")).unwrap())
            .collect()
    }

    fn detector(config: OutlierConfig, n: usize) -> (OutlierDetector, Vec<NodeId>, Instant) {
        let t = Instant::now();
        let ids = ids(n);
        (
            OutlierDetector::new(config, ids.clone(), t).unwrap(),
            ids,
            t,
        )
    }

    #[test]
    fn defaults_are_envoys() {
        let c = OutlierConfig::default();
        assert_eq!((c.consecutive_5xx, c.consecutive_gateway_failure), (5, 5));
        assert_eq!(c.interval, 10 * SEC);
        assert_eq!(
            (c.base_ejection_time, c.max_ejection_time),
            (30 * SEC, 300 * SEC)
        );
        assert_eq!(c.max_ejection_percent, 10);
        assert_eq!(
            (c.success_rate_minimum_hosts, c.success_rate_request_volume),
            (5, 100)
        );
        assert_eq!(c.success_rate_stdev_factor, 1.9);
        assert_eq!(c.healthy_panic_threshold_percent, 50.0);
    }

    #[test]
    fn bad_settings_and_unknown_endpoints_are_rejected() {
        let base = OutlierConfig::default();
        for c in [
            OutlierConfig {
                consecutive_5xx: 0,
                ..base
            },
            OutlierConfig {
                interval: Duration::ZERO,
                ..base
            },
            OutlierConfig {
                max_ejection_percent: 101,
                ..base
            },
            OutlierConfig {
                success_rate_stdev_factor: f64::NAN,
                ..base
            },
            OutlierConfig {
                success_rate_stdev_factor: -1.0,
                ..base
            },
            OutlierConfig {
                healthy_panic_threshold_percent: 150.0,
                ..base
            },
        ] {
            assert!(OutlierDetector::new(c, ids(3), Instant::now()).is_err());
        }
        let dup =
            OutlierDetector::new(base, [ids(1)[0].clone(), ids(1)[0].clone()], Instant::now());
        assert!(matches!(dup, Err(Error::DuplicateEndpoint(_))));
        let (mut d, _, t) = detector(base, 3);
        let stranger = NodeId::new("x").unwrap();
        assert!(matches!(
            d.record(&stranger, ResponseClass::Success, t),
            Err(Error::UnknownEndpoint(_))
        ));
    }

    #[test]
    fn a_success_breaks_the_run() {
        let (mut d, ids, t) = detector(OutlierConfig::default(), 10);
        for _ in 0..4 {
            assert_eq!(
                d.record(&ids[0], ResponseClass::ServerError, t).unwrap(),
                None
            );
        }
        assert_eq!(d.record(&ids[0], ResponseClass::Success, t).unwrap(), None);
        for _ in 0..4 {
            assert_eq!(
                d.record(&ids[0], ResponseClass::GatewayError, t).unwrap(),
                None
            );
        }
        assert!(
            d.record(&ids[0], ResponseClass::ServerError, t)
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn gateway_failures_eject_only_when_enforced() {
        let config = OutlierConfig {
            consecutive_5xx: 100,
            enforce_consecutive_gateway_failure: true,
            consecutive_gateway_failure: 3,
            ..OutlierConfig::default()
        };
        let (mut d, ids, t) = detector(config, 10);
        let events: Vec<_> = (0..3)
            .filter_map(|_| d.record(&ids[1], ResponseClass::GatewayError, t).unwrap())
            .collect();
        assert!(matches!(
            events.as_slice(),
            [OutlierEvent::Ejected {
                reason: EjectionReason::ConsecutiveGatewayFailure,
                ..
            }]
        ));
    }

    #[test]
    fn ejection_time_grows_with_repeats_and_is_capped() {
        let config = OutlierConfig {
            max_ejection_time: 70 * SEC,
            ..OutlierConfig::default()
        };
        let (mut d, ids, mut now) = detector(config, 10);
        let mut lengths = Vec::new();
        for _ in 0..3 {
            let mut ejection = None;
            for _ in 0..5 {
                ejection = d
                    .record(&ids[0], ResponseClass::ServerError, now)
                    .unwrap()
                    .or(ejection);
            }
            let Some(OutlierEvent::Ejected { until, .. }) = ejection else {
                panic!("not ejected")
            };
            lengths.push(until - now);
            // Sweep until it comes back.
            while d.is_ejected(&ids[0]) {
                now += 10 * SEC;
                let _ = d.handle_timeout(now);
            }
        }
        assert_eq!(lengths, vec![30 * SEC, 60 * SEC, 70 * SEC]);
    }

    #[test]
    fn the_ejection_count_decays_while_healthy() {
        let (mut d, ids, mut now) = detector(OutlierConfig::default(), 10);
        for _ in 0..5 {
            let _ = d.record(&ids[0], ResponseClass::ServerError, now);
        }
        for _ in 0..20 {
            now += 10 * SEC;
            let _ = d.handle_timeout(now);
        }
        let mut ejection = None;
        for _ in 0..5 {
            ejection = d
                .record(&ids[0], ResponseClass::ServerError, now)
                .unwrap()
                .or(ejection);
        }
        assert!(matches!(
            ejection,
            Some(OutlierEvent::Ejected { times: 1, .. })
        ));
    }

    #[test]
    fn success_rate_ejects_the_low_outlier() {
        let (mut d, ids, t) = detector(OutlierConfig::default(), 10);
        for (i, id) in ids.iter().enumerate() {
            // Host 7 succeeds 50%, the rest 99%; errors spread so no run reaches 5.
            for r in 0..200 {
                let fail = if i == 7 { r % 2 == 0 } else { r % 100 == 0 };
                let class = if fail {
                    ResponseClass::ServerError
                } else {
                    ResponseClass::Success
                };
                let _ = d.record(id, class, t).unwrap();
            }
        }
        let events = d.handle_timeout(t + 10 * SEC);
        assert!(matches!(
            events.as_slice(),
            [OutlierEvent::Ejected { reason: EjectionReason::SuccessRate, endpoint, .. }] if *endpoint == ids[7]
        ));
    }

    #[test]
    fn success_rate_needs_the_minimum_hosts() {
        let (mut d, ids, t) = detector(OutlierConfig::default(), 4);
        for (i, id) in ids.iter().enumerate() {
            for r in 0..200 {
                let fail = i == 0 && r % 2 == 0;
                let class = if fail {
                    ResponseClass::ServerError
                } else {
                    ResponseClass::Success
                };
                let _ = d.record(id, class, t).unwrap();
            }
        }
        assert!(d.handle_timeout(t + 10 * SEC).is_empty());
    }

    #[test]
    fn by_default_a_small_cluster_ejects_none_as_envoy_enforces_the_percent() {
        let (mut d, ids, t) = detector(OutlierConfig::default(), 5);
        for _ in 0..5 {
            let _ = d.record(&ids[0], ResponseClass::ServerError, t).unwrap();
        }
        assert_eq!(d.ejected_count(), 0);
    }

    #[test]
    fn one_endpoint_may_always_be_ejected_when_told_to() {
        for (always, expected) in [(true, 1), (false, 0)] {
            let config = OutlierConfig {
                always_eject_one: always,
                ..OutlierConfig::default()
            };
            let (mut d, ids, t) = detector(config, 4);
            for id in &ids {
                for _ in 0..5 {
                    let _ = d.record(id, ResponseClass::ServerError, t);
                }
            }
            assert_eq!(d.ejected_count(), expected);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn outlier_ejection_never_ejects_more_than_the_max_percent(
            ops in proptest::collection::vec((0usize..30, 0u8..4), 1..600),
            n in 1usize..30,
            percent in 0u32..=100,
            always in any::<bool>(),
        ) {
            let config = OutlierConfig {
                max_ejection_percent: percent,
                always_eject_one: always,
                consecutive_5xx: 2,
                success_rate_request_volume: 3,
                success_rate_minimum_hosts: 2,
                ..OutlierConfig::default()
            };
            let (mut d, ids, mut now) = detector(config, n);
            let cap = ((n as u64 * u64::from(percent)) / 100).max(u64::from(always)) as usize;
            for (host, op) in ops {
                let id = &ids[host % n];
                match op {
                    0 => { let _ = d.record(id, ResponseClass::Success, now).unwrap(); }
                    1 => { let _ = d.record(id, ResponseClass::ServerError, now).unwrap(); }
                    2 => { let _ = d.record(id, ResponseClass::GatewayError, now).unwrap(); }
                    _ => { now += 5 * SEC; let _ = d.handle_timeout(now); }
                }
                d.check_invariants();
                prop_assert!(d.ejected_count() <= cap, "{} ejected of {n}, cap {cap}", d.ejected_count());
                let routable = d.routable();
                if routable.panic {
                    prop_assert_eq!(routable.endpoints.len(), n);
                }
            }
        }
    }
}
