//! The endpoint set: who may take requests right now, and how many each has in flight.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ha_core::{Health, NodeId};

use crate::Drained;
use crate::draining::Drain;
use crate::slow_start::ramped_weight;
use crate::{Endpoint, Error, Result};

/// The settings of an [`EndpointSet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct EndpointSetConfig {
    /// How long a draining endpoint may keep requests in flight before it is let go anyway.
    /// Default 300 s; never zero.
    pub drain_timeout: Duration,
    /// The window over which an added or recovered endpoint's weight ramps up (see
    /// [`slow_start`](crate::slow_start)). Default zero: no slow start.
    pub slow_start: Duration,
}

impl Default for EndpointSetConfig {
    fn default() -> Self {
        EndpointSetConfig {
            drain_timeout: Duration::from_secs(300),
            slow_start: Duration::ZERO,
        }
    }
}

impl EndpointSetConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`ha_core::Error::Zero`] (as [`Error::Core`]) for a zero drain timeout.
    pub fn validate(&self) -> Result<()> {
        if self.drain_timeout.is_zero() {
            return Err(ha_core::Error::Zero {
                name: "drain timeout",
            }
            .into());
        }
        Ok(())
    }
}

/// One endpoint's state, but for what every pick reads (in [`Hot`]).
#[derive(Debug, Clone)]
pub(crate) struct Slot {
    pub(crate) id: NodeId,
    pub(crate) health: Health,
    pub(crate) drain: Option<Drain>,
    /// When its slow start began, while it may still be ramping.
    pub(crate) ramp_from: Option<Instant>,
}

/// What the scanning pickers read of every endpoint, kept apart from the rest so a scan over
/// 1000 endpoints reads 8 KB.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hot {
    pub(crate) in_flight: u32,
    pub(crate) weight: u32,
}

/// The endpoints a [`Balancer`](crate::Balancer) picks among, with each one's health, weight,
/// drain state and in-flight count.
///
/// An endpoint is **available** — a picker may choose it — when its health is
/// [`Health::Healthy`] or [`Health::Degraded`], it is not draining and its weight is above 0.
/// Pickers only ever choose available endpoints; when there are none, they answer
/// [`Error::NoEndpointAvailable`] with the counts of why.
///
/// Endpoints keep the order they were added in (round robin and smooth weighted round robin walk
/// them in that order). Feedback naming an endpoint the set does not hold is answered with
/// [`Error::UnknownEndpoint`] and changes nothing.
///
/// ```
/// use std::time::Instant;
/// use ha_balance::{Endpoint, EndpointSet};
/// use ha_core::{Health, NodeId};
///
/// let now = Instant::now();
/// let mut set = EndpointSet::new(
///     vec![Endpoint::new(NodeId::new("a")?), Endpoint::new(NodeId::new("b")?).with_weight(0)],
///     Default::default(),
/// )?;
/// assert_eq!(set.available_len(), 1); // b has weight 0
/// set.set_health("a", Health::Unhealthy, now)?;
/// assert_eq!(set.available_len(), 0);
/// assert!(set.set_health("zz", Health::Healthy, now).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct EndpointSet {
    config: EndpointSetConfig,
    slots: Vec<Slot>,
    /// Parallel to `slots`.
    hot: Vec<Hot>,
    index: HashMap<NodeId, usize>,
    /// Indices of the available endpoints, ascending.
    available: Vec<usize>,
    /// Bumped when endpoints are added or removed or a weight changes.
    membership_version: u64,
    /// Bumped on every change to membership, weights, health or drains.
    version: u64,
    /// The latest instant at which some endpoint may still be ramping.
    ramp_until: Option<Instant>,
}

impl EndpointSet {
    /// A set of `endpoints`, none of them ramping up (slow start applies to endpoints added or
    /// recovering later).
    ///
    /// # Errors
    /// [`Error::EmptyEndpointSet`], [`Error::DuplicateEndpoint`], [`Error::AllWeightsZero`], or an
    /// invalid config (see [`EndpointSetConfig::validate`]).
    pub fn new(endpoints: Vec<Endpoint>, config: EndpointSetConfig) -> Result<EndpointSet> {
        config.validate()?;
        if endpoints.is_empty() {
            return Err(Error::EmptyEndpointSet);
        }
        if endpoints.iter().all(|e| e.weight == 0) {
            return Err(Error::AllWeightsZero {
                count: endpoints.len(),
            });
        }
        let mut set = EndpointSet {
            config,
            slots: Vec::with_capacity(endpoints.len()),
            hot: Vec::with_capacity(endpoints.len()),
            index: HashMap::with_capacity(endpoints.len()),
            available: Vec::with_capacity(endpoints.len()),
            membership_version: 0,
            version: 0,
            ramp_until: None,
        };
        for endpoint in endpoints {
            set.insert(endpoint, None)?;
        }
        set.changed(true);
        Ok(set)
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &EndpointSetConfig {
        &self.config
    }

    /// Endpoints in the set, available or not.
    #[must_use]
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether the set holds no endpoint (possible only after removals and drains).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Endpoints that may be picked now.
    #[must_use]
    pub fn available_len(&self) -> usize {
        self.available.len()
    }

    /// Whether the set holds `id`.
    #[must_use]
    pub fn contains(&self, id: &str) -> bool {
        self.index.contains_key(id)
    }

    /// The ids, in the set's order.
    pub fn ids(&self) -> impl ExactSizeIterator<Item = &NodeId> + '_ {
        self.slots.iter().map(|s| &s.id)
    }

    /// Whether `id` may be picked now; `false` for an unknown id.
    #[must_use]
    pub fn is_available(&self, id: &str) -> bool {
        self.index.get(id).is_some_and(|&i| self.available_at(i))
    }

    /// Whether `id` is draining.
    #[must_use]
    pub fn is_draining(&self, id: &str) -> bool {
        self.slot(id).is_some_and(|s| s.drain.is_some())
    }

    /// Requests in flight to `id` (started and not yet ended), or `None` for an unknown id.
    #[must_use]
    pub fn in_flight(&self, id: &str) -> Option<u32> {
        self.index.get(id).map(|&i| self.hot[i].in_flight)
    }

    /// The health of `id`, or `None` for an unknown id.
    #[must_use]
    pub fn health(&self, id: &str) -> Option<Health> {
        self.slot(id).map(|s| s.health)
    }

    /// The weight `id` is picked with at `now`: its configured weight, less while it ramps up
    /// in slow start. `None` for an unknown id.
    #[must_use]
    pub fn effective_weight(&self, id: &str, now: Instant) -> Option<u32> {
        let &i = self.index.get(id)?;
        Some(self.weight_at(i, now))
    }

    /// Adds `endpoint` at `now`; with slow start configured, its weight ramps up from `now`.
    ///
    /// # Errors
    /// [`Error::DuplicateEndpoint`] if the set already holds its id.
    pub fn add(&mut self, endpoint: Endpoint, now: Instant) -> Result<()> {
        tracing::debug!(endpoint = %endpoint.id, weight = endpoint.weight, health = %endpoint.health, "endpoint added");
        self.insert(endpoint, Some(now))?;
        self.changed(true);
        Ok(())
    }

    /// Removes `id` at once, in-flight requests or not (see [`drain`](Self::drain) for the
    /// graceful way), and returns it.
    ///
    /// # Errors
    /// [`Error::UnknownEndpoint`] if the set does not hold `id`.
    pub fn remove(&mut self, id: &str) -> Result<Endpoint> {
        let i = self.position(id)?;
        let slot = self.slots.remove(i);
        let hot = self.hot.remove(i);
        self.index.remove(id);
        for (j, s) in self.slots.iter().enumerate().skip(i) {
            self.index.insert(s.id.clone(), j);
        }
        tracing::debug!(endpoint = %slot.id, in_flight = hot.in_flight, "endpoint removed");
        self.changed(true);
        Ok(Endpoint {
            id: slot.id,
            weight: hot.weight,
            health: slot.health,
        })
    }

    /// Sets the health of `id`. An endpoint that becomes available again after being
    /// unavailable ramps up from `now` when slow start is configured.
    ///
    /// # Errors
    /// [`Error::UnknownEndpoint`] if the set does not hold `id`.
    pub fn set_health(&mut self, id: &str, health: Health, now: Instant) -> Result<()> {
        let i = self.position(id)?;
        let slot = &mut self.slots[i];
        if slot.health == health {
            return Ok(());
        }
        let recovered = !slot.health.is_available() && health.is_available();
        tracing::debug!(endpoint = %slot.id, from = %slot.health, to = %health, "endpoint health changed");
        slot.health = health;
        if recovered {
            self.start_ramp(i, now);
        }
        self.changed(false);
        Ok(())
    }

    /// Sets the weight of `id`; 0 stops new picks without draining it.
    ///
    /// # Errors
    /// [`Error::UnknownEndpoint`] if the set does not hold `id`.
    pub fn set_weight(&mut self, id: &str, weight: u32) -> Result<()> {
        let i = self.position(id)?;
        let hot = &mut self.hot[i];
        tracing::debug!(
            endpoint = id,
            from = hot.weight,
            to = weight,
            "endpoint weight changed"
        );
        hot.weight = weight;
        self.changed(true);
        Ok(())
    }

    /// Counts a request started on `id`.
    ///
    /// # Errors
    /// [`Error::UnknownEndpoint`] if the set does not hold `id`; nothing is counted.
    pub fn on_start(&mut self, id: &str) -> Result<()> {
        let i = self.position(id)?;
        self.start_at(i);
        Ok(())
    }

    /// Counts a request to `id` as ended. An end with no request in flight is ignored (the count
    /// stays 0).
    ///
    /// # Errors
    /// [`Error::UnknownEndpoint`] if the set does not hold `id` — as after a drain timed out with
    /// requests in flight; safe to ignore.
    pub fn on_end(&mut self, id: &str) -> Result<()> {
        let i = self.position(id)?;
        self.end_at(i);
        Ok(())
    }

    /// Starts draining `id` at `now`: it takes no new requests from now on, and is reported by
    /// [`poll_drained`](Self::poll_drained) once its in-flight requests have ended or the drain
    /// timeout has passed. Draining an endpoint already draining keeps its first deadline.
    ///
    /// # Errors
    /// [`Error::UnknownEndpoint`] if the set does not hold `id`.
    pub fn drain(&mut self, id: &str, now: Instant) -> Result<()> {
        let i = self.position(id)?;
        let timeout = self.config.drain_timeout;
        let in_flight = self.hot[i].in_flight;
        let slot = &mut self.slots[i];
        if slot.drain.is_some() {
            return Ok(());
        }
        tracing::debug!(endpoint = %slot.id, in_flight, timeout = ?timeout, "endpoint draining");
        slot.drain = Some(Drain::new(now, timeout));
        self.changed(false);
        Ok(())
    }

    /// The next endpoint whose drain is over at `now` — its in-flight count is 0 or its drain
    /// timeout has passed — removed from the set; `None` when no drain is over. Call until
    /// `None`; drains end in the set's order.
    #[must_use = "a drained endpoint is removed from the set; shut it down"]
    pub fn poll_drained(&mut self, now: Instant) -> Option<Drained> {
        let (i, end) = self.slots.iter().enumerate().find_map(|(i, s)| {
            let end = s.drain?.end(self.hot[i].in_flight, now)?;
            Some((i, end))
        })?;
        let slot = &self.slots[i];
        let in_flight = self.hot[i].in_flight;
        let report = Drained {
            id: slot.id.clone(),
            end,
            elapsed: slot
                .drain
                .map_or(Duration::ZERO, |d| now.saturating_duration_since(d.started)),
            abandoned: in_flight,
        };
        tracing::debug!(endpoint = %report.id, end = ?report.end, elapsed = ?report.elapsed, abandoned = report.abandoned, "endpoint drained");
        // The slot was just found, so its id is present.
        let _removed = self.remove(report.id.as_str());
        Some(report)
    }

    /// The earliest drain deadline, if any endpoint is draining: when to call
    /// [`poll_drained`](Self::poll_drained) at the latest. Drains that end early, by their
    /// requests finishing, are reported by the next poll after the last
    /// [`on_end`](Self::on_end).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.slots
            .iter()
            .filter_map(|s| {
                s.drain
                    .filter(|d| d.deadline > d.started)
                    .map(|d| d.deadline)
            })
            .min()
    }

    /// Recounts the derived state against the endpoints. For tests and fuzzing.
    ///
    /// # Panics
    /// If an invariant is broken: the index or the list of available endpoints disagrees with
    /// the endpoints.
    pub fn check_invariants(&self) {
        assert_eq!(
            self.index.len(),
            self.slots.len(),
            "one index entry an endpoint"
        );
        assert_eq!(
            self.hot.len(),
            self.slots.len(),
            "one load entry an endpoint"
        );
        for (i, s) in self.slots.iter().enumerate() {
            assert_eq!(self.index.get(&s.id), Some(&i), "index of {}", s.id);
        }
        let available: Vec<usize> = (0..self.slots.len())
            .filter(|&i| self.available_at(i))
            .collect();
        assert_eq!(available, self.available, "available endpoints");
    }

    // ----- by index: what pickers read -----

    /// The indices of the endpoints available now, ascending. An index is an endpoint's
    /// position in the set's order; indices shift when endpoints are removed (see
    /// [`membership_version`](Self::membership_version)).
    #[must_use]
    pub fn available_indices(&self) -> &[usize] {
        &self.available
    }

    /// The id of the endpoint at index `i`.
    #[must_use]
    pub fn id_at(&self, i: usize) -> Option<&NodeId> {
        self.slots.get(i).map(|s| &s.id)
    }

    /// The in-flight count of the endpoint at index `i`.
    #[must_use]
    pub fn in_flight_at(&self, i: usize) -> Option<u32> {
        self.hot.get(i).map(|h| h.in_flight)
    }

    /// The effective weight (slow start applied) of the endpoint at index `i` at `now`.
    #[must_use]
    pub fn effective_weight_at(&self, i: usize, now: Instant) -> Option<u32> {
        (i < self.slots.len()).then(|| self.weight_at(i, now))
    }

    /// A number that changes whenever endpoints are added or removed or a weight changes: state
    /// a picker keeps by index is stale once it differs.
    #[must_use]
    pub fn membership_version(&self) -> u64 {
        self.membership_version
    }

    /// A number that changes on every change to membership, weights, health or drains.
    #[must_use]
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The error a picker answers when no endpoint is available, with the counts of why.
    #[must_use]
    pub fn none_available(&self) -> Error {
        let mut unhealthy = 0;
        let mut draining = 0;
        let mut zero_weight = 0;
        for (s, h) in self.slots.iter().zip(&self.hot) {
            unhealthy += usize::from(!s.health.is_available());
            draining += usize::from(s.drain.is_some());
            zero_weight += usize::from(h.weight == 0);
        }
        tracing::debug!(
            total = self.slots.len(),
            unhealthy,
            draining,
            zero_weight,
            "no endpoint available"
        );
        Error::NoEndpointAvailable {
            total: self.slots.len(),
            unhealthy,
            draining,
            zero_weight,
        }
    }

    pub(crate) fn slots(&self) -> &[Slot] {
        &self.slots
    }

    /// In-flight counts and configured weights, parallel to the slots.
    pub(crate) fn hot(&self) -> &[Hot] {
        &self.hot
    }

    /// Whether the endpoint at index `i`, which must be in range, may be picked.
    pub(crate) fn available_at(&self, i: usize) -> bool {
        let slot = &self.slots[i];
        slot.health.is_available() && slot.drain.is_none() && self.hot[i].weight > 0
    }

    /// Whether some endpoint may be ramping at `now`.
    pub(crate) fn ramping(&self, now: Instant) -> bool {
        self.ramp_until.is_some_and(|until| now < until)
    }

    /// The effective weight of the endpoint at index `i`, which must be in range.
    pub(crate) fn weight_at(&self, i: usize, now: Instant) -> u32 {
        let weight = self.hot[i].weight;
        if !self.ramping(now) {
            return weight;
        }
        match self.slots[i].ramp_from {
            Some(since) => ramped_weight(weight, since, self.config.slow_start, now),
            None => weight,
        }
    }

    pub(crate) fn start_at(&mut self, i: usize) {
        let hot = &mut self.hot[i];
        hot.in_flight = hot.in_flight.saturating_add(1);
    }

    pub(crate) fn end_at(&mut self, i: usize) {
        let hot = &mut self.hot[i];
        hot.in_flight = hot.in_flight.saturating_sub(1);
    }

    pub(crate) fn position(&self, id: &str) -> Result<usize> {
        self.index
            .get(id)
            .copied()
            .ok_or_else(|| Error::UnknownEndpoint(id.to_owned()))
    }

    fn slot(&self, id: &str) -> Option<&Slot> {
        self.index.get(id).map(|&i| &self.slots[i])
    }

    fn insert(&mut self, endpoint: Endpoint, ramp_from: Option<Instant>) -> Result<()> {
        if self.index.contains_key(endpoint.id.as_str()) {
            return Err(Error::DuplicateEndpoint(endpoint.id));
        }
        let i = self.slots.len();
        self.index.insert(endpoint.id.clone(), i);
        self.slots.push(Slot {
            id: endpoint.id,
            health: endpoint.health,
            drain: None,
            ramp_from: None,
        });
        self.hot.push(Hot {
            in_flight: 0,
            weight: endpoint.weight,
        });
        if let Some(now) = ramp_from {
            self.start_ramp(i, now);
        }
        Ok(())
    }

    fn start_ramp(&mut self, i: usize, now: Instant) {
        let window = self.config.slow_start;
        if window.is_zero() {
            return;
        }
        self.slots[i].ramp_from = Some(now);
        let until = crate::deadline::deadline(now, window);
        self.ramp_until = Some(self.ramp_until.map_or(until, |u| u.max(until)));
    }

    fn changed(&mut self, membership: bool) {
        self.version = self.version.wrapping_add(1);
        if membership {
            self.membership_version = self.membership_version.wrapping_add(1);
        }
        let mut available = std::mem::take(&mut self.available);
        available.clear();
        available.extend((0..self.slots.len()).filter(|&i| self.available_at(i)));
        self.available = available;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DrainEnd;

    fn ep(id: &str, weight: u32) -> Endpoint {
        Endpoint::new(NodeId::new(id).unwrap()).with_weight(weight)
    }

    fn set(weights: &[(&str, u32)], config: EndpointSetConfig) -> EndpointSet {
        EndpointSet::new(weights.iter().map(|&(id, w)| ep(id, w)).collect(), config).unwrap()
    }

    #[test]
    fn bad_sets_are_rejected_with_their_reason() {
        let config = EndpointSetConfig::default();
        assert_eq!(
            EndpointSet::new(vec![], config).unwrap_err(),
            Error::EmptyEndpointSet
        );
        assert_eq!(
            EndpointSet::new(vec![ep("a", 0), ep("b", 0)], config).unwrap_err(),
            Error::AllWeightsZero { count: 2 }
        );
        assert!(matches!(
            EndpointSet::new(vec![ep("a", 1), ep("a", 2)], config),
            Err(Error::DuplicateEndpoint(id)) if id.as_str() == "a"
        ));
        let zero = EndpointSetConfig {
            drain_timeout: Duration::ZERO,
            ..config
        };
        assert!(matches!(
            EndpointSet::new(vec![ep("a", 1)], zero),
            Err(Error::Core(ha_core::Error::Zero { .. }))
        ));
    }

    #[test]
    fn unknown_endpoints_in_feedback_are_errors_that_change_nothing() {
        let now = Instant::now();
        let mut s = set(&[("a", 1)], EndpointSetConfig::default());
        let unknown = Error::UnknownEndpoint("x".into());
        assert_eq!(s.on_start("x"), Err(unknown.clone()));
        assert_eq!(s.on_end("x"), Err(unknown.clone()));
        assert_eq!(s.drain("x", now), Err(unknown.clone()));
        assert_eq!(s.set_weight("x", 3), Err(unknown.clone()));
        assert_eq!(s.remove("x"), Err(unknown));
        assert_eq!(s.in_flight("a"), Some(0));
        s.on_end("a").unwrap(); // an end without a start is ignored
        assert_eq!(s.in_flight("a"), Some(0));
        s.check_invariants();
    }

    #[test]
    fn the_none_available_error_counts_why() {
        let now = Instant::now();
        let mut s = set(
            &[("a", 1), ("b", 0), ("c", 1)],
            EndpointSetConfig::default(),
        );
        s.set_health("a", Health::Unhealthy, now).unwrap();
        s.drain("c", now).unwrap();
        assert_eq!(s.available_len(), 0);
        assert_eq!(
            s.none_available(),
            Error::NoEndpointAvailable {
                total: 3,
                unhealthy: 1,
                draining: 1,
                zero_weight: 1
            }
        );
    }

    #[test]
    fn removal_keeps_the_order_and_the_index() {
        let mut s = set(
            &[("a", 1), ("b", 2), ("c", 3)],
            EndpointSetConfig::default(),
        );
        let v = s.membership_version();
        let b = s.remove("b").unwrap();
        assert_eq!((b.id.as_str(), b.weight), ("b", 2));
        assert_ne!(s.membership_version(), v);
        assert_eq!(
            s.ids().map(NodeId::as_str).collect::<Vec<_>>(),
            vec!["a", "c"]
        );
        assert_eq!(s.available_indices(), &[0, 1]);
        s.check_invariants();
        s.remove("a").unwrap();
        s.remove("c").unwrap();
        assert!(s.is_empty());
        assert_eq!(s.available_len(), 0);
        s.check_invariants();
    }

    #[test]
    fn a_drain_times_out_with_requests_in_flight() {
        let now = Instant::now();
        let mut s = set(&[("a", 1), ("b", 1)], EndpointSetConfig::default());
        s.on_start("a").unwrap();
        s.on_start("a").unwrap();
        s.drain("a", now).unwrap();
        s.drain("a", now + Duration::from_secs(100)).unwrap(); // keeps the first deadline
        assert!(!s.is_available("a") && s.is_draining("a"));
        assert_eq!(s.available_indices(), &[1]);
        assert_eq!(s.poll_drained(now + Duration::from_secs(299)), None);
        let deadline = s.poll_timeout().unwrap();
        assert_eq!(deadline, now + Duration::from_secs(300));
        let drained = s.poll_drained(deadline).unwrap();
        assert_eq!(drained.end, DrainEnd::TimedOut);
        assert_eq!(drained.abandoned, 2);
        assert_eq!(drained.elapsed, Duration::from_secs(300));
        assert!(!s.contains("a"));
        assert_eq!(s.poll_drained(deadline), None);
        assert_eq!(s.poll_timeout(), None);
        assert!(s.on_end("a").is_err());
        s.check_invariants();
    }

    #[test]
    fn an_added_endpoint_ramps_up_but_the_first_ones_do_not() {
        let now = Instant::now();
        let config = EndpointSetConfig {
            slow_start: Duration::from_secs(60),
            ..EndpointSetConfig::default()
        };
        let mut s = set(&[("a", 10)], config);
        assert_eq!(s.effective_weight("a", now), Some(10));
        s.add(ep("b", 10), now).unwrap();
        assert_eq!(s.effective_weight("b", now), Some(1));
        assert_eq!(
            s.effective_weight("b", now + Duration::from_secs(30)),
            Some(5)
        );
        assert_eq!(
            s.effective_weight("b", now + Duration::from_secs(60)),
            Some(10)
        );
        assert!(s.add(ep("b", 1), now).is_err());
        // Recovery ramps again.
        let later = now + Duration::from_secs(120);
        s.set_health("a", Health::Unhealthy, later).unwrap();
        s.set_health("a", Health::Healthy, later).unwrap();
        assert_eq!(s.effective_weight("a", later), Some(1));
        assert_eq!(
            s.effective_weight_at(0, later + Duration::from_secs(60)),
            Some(10)
        );
        assert_eq!(s.effective_weight_at(9, later), None);
        s.check_invariants();
    }

    #[test]
    fn degraded_endpoints_are_available_and_unknown_ones_are_not() {
        let now = Instant::now();
        let mut s = set(&[("a", 1), ("b", 1)], EndpointSetConfig::default());
        s.set_health("a", Health::Degraded, now).unwrap();
        s.set_health("b", Health::Unknown, now).unwrap();
        assert!(s.is_available("a"));
        assert!(!s.is_available("b"));
        assert_eq!(s.health("b"), Some(Health::Unknown));
        s.set_weight("a", 0).unwrap();
        assert!(!s.is_available("a"));
        s.check_invariants();
    }
}
