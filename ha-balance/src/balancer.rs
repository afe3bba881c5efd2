//! A picker over an endpoint set, addressed by endpoint id.

use std::time::{Duration, Instant};

use ha_core::NodeId;
use rand::Rng;

use crate::{Drained, EndpointSet, Picker, RequestOutcome, Result};

/// A [`Picker`] together with the [`EndpointSet`] it picks from: picks come out as endpoint
/// ids, feedback goes in by id.
///
/// The loop: [`pick`](Self::pick) (or [`pick_key`](Self::pick_key)) an endpoint, call
/// [`on_start`](Self::on_start) when the request is sent and
/// [`on_complete`](Self::on_complete) when it ends. In-flight counts — which least connections,
/// the power-of-two-choices pickers and draining rely on — count only requests started this
/// way.
///
/// ```
/// use std::time::{Duration, Instant};
/// use ha_balance::{Balancer, Endpoint, EndpointSet, RequestOutcome, SmoothWeightedRoundRobin};
/// use ha_core::NodeId;
/// use rand::{SeedableRng, rngs::StdRng};
///
/// let endpoints = [("a", 5), ("b", 1), ("c", 1)]
///     .into_iter()
///     .map(|(id, w)| Ok(Endpoint::new(NodeId::new(id)?).with_weight(w)))
///     .collect::<Result<Vec<_>, ha_core::Error>>()?;
/// let set = EndpointSet::new(endpoints, Default::default())?;
/// let mut balancer = Balancer::new(set, SmoothWeightedRoundRobin::default());
/// let mut rng = StdRng::seed_from_u64(7);
/// let now = Instant::now();
/// let mut picks = String::new();
/// for _ in 0..7 {
///     let id = balancer.pick(now, &mut rng)?;
///     balancer.on_start(id.as_str(), now)?;
///     balancer.on_complete(id.as_str(), Duration::from_millis(3), RequestOutcome::Success, now)?;
///     picks.push_str(id.as_str());
/// }
/// assert_eq!(picks, "aabacaa"); // as nginx
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Balancer<P> {
    endpoints: EndpointSet,
    picker: P,
}

impl<P: Picker> Balancer<P> {
    /// `picker` over `endpoints`.
    #[must_use]
    pub fn new(endpoints: EndpointSet, picker: P) -> Balancer<P> {
        Balancer { endpoints, picker }
    }

    /// The endpoint to take the next request at `now`, for pickers that need no key.
    ///
    /// # Errors
    /// As [`Picker::pick`]: [`Error::NoEndpointAvailable`](crate::Error::NoEndpointAvailable),
    /// or [`Error::KeyRequired`](crate::Error::KeyRequired) from a hash picker.
    pub fn pick<R: Rng + ?Sized>(&mut self, now: Instant, rng: &mut R) -> Result<NodeId> {
        self.pick_with(None, now, rng)
    }

    /// The endpoint to take the next request, whose key is `key` (a user id, a session, a
    /// cache key), at `now`. Pickers that do not place by key ignore it.
    ///
    /// # Errors
    /// As [`Picker::pick`].
    pub fn pick_key<R: Rng + ?Sized>(
        &mut self,
        key: &[u8],
        now: Instant,
        rng: &mut R,
    ) -> Result<NodeId> {
        self.pick_with(Some(key), now, rng)
    }

    fn pick_with<R: Rng + ?Sized>(
        &mut self,
        key: Option<&[u8]>,
        now: Instant,
        rng: &mut R,
    ) -> Result<NodeId> {
        let i = self.picker.pick(&self.endpoints, key, now, rng)?;
        let set = &self.endpoints;
        let slot = set
            .slots()
            .get(i)
            .filter(|_| set.available_at(i))
            .ok_or_else(|| set.none_available())?;
        tracing::debug!(
            picker = self.picker.name(),
            endpoint = %slot.id,
            in_flight = set.hot()[i].in_flight,
            available = self.endpoints.available_len(),
            "picked"
        );
        Ok(slot.id.clone())
    }

    /// A request was sent to `id` at `now`.
    ///
    /// # Errors
    /// [`Error::UnknownEndpoint`](crate::Error::UnknownEndpoint) if the set does not hold `id`;
    /// nothing is counted.
    pub fn on_start(&mut self, id: &str, now: Instant) -> Result<()> {
        let i = self.endpoints.position(id)?;
        self.endpoints.start_at(i);
        self.picker.on_start(&self.endpoints, i, now);
        Ok(())
    }

    /// A request to `id` ended at `now`, after `latency`, with `outcome`.
    ///
    /// # Errors
    /// [`Error::UnknownEndpoint`](crate::Error::UnknownEndpoint) if the set does not hold `id`
    /// (as after it was removed, or its drain timed out); nothing changes and the error may be
    /// ignored.
    pub fn on_complete(
        &mut self,
        id: &str,
        latency: Duration,
        outcome: RequestOutcome,
        now: Instant,
    ) -> Result<()> {
        let i = self.endpoints.position(id)?;
        self.endpoints.end_at(i);
        self.picker
            .on_complete(&self.endpoints, i, latency, outcome, now);
        Ok(())
    }

    /// The next endpoint whose drain is over; see [`EndpointSet::poll_drained`].
    #[must_use = "a drained endpoint is removed from the set; shut it down"]
    pub fn poll_drained(&mut self, now: Instant) -> Option<Drained> {
        self.endpoints.poll_drained(now)
    }

    /// The endpoints.
    #[must_use]
    pub fn endpoints(&self) -> &EndpointSet {
        &self.endpoints
    }

    /// The endpoints, to add, remove, drain or change them.
    pub fn endpoints_mut(&mut self) -> &mut EndpointSet {
        &mut self.endpoints
    }

    /// The picker.
    #[must_use]
    pub fn picker(&self) -> &P {
        &self.picker
    }
}
