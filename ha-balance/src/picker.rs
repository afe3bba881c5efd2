//! The one trait every picking algorithm implements.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ha_core::NodeId;
use rand::Rng;

use crate::{EndpointSet, RequestOutcome, Result};

/// A load-balancing algorithm: which available endpoint takes the next request.
///
/// A picker chooses among [`EndpointSet::available_indices`] — healthy or degraded, not
/// draining, weight above 0 — and returns the chosen endpoint's index. It keeps its own state
/// (a cursor, current weights, latency estimates) and hears about requests through
/// [`on_start`](Self::on_start) and [`on_complete`](Self::on_complete); the set keeps what all
/// pickers share (health, weights, in-flight counts). Randomness comes from the generator passed
/// in, so a seeded generator replays the same picks.
///
/// Most callers use a picker through a [`Balancer`](crate::Balancer), which owns the set, turns
/// indices into ids and routes feedback by id.
///
/// Every picker answers [`Error::NoEndpointAvailable`](crate::Error::NoEndpointAvailable) when
/// nothing is available; pickers that place by key answer
/// [`Error::KeyRequired`](crate::Error::KeyRequired) without one, and the others ignore the key.
pub trait Picker {
    /// A short name for logs and errors (`"round robin"`).
    fn name(&self) -> &'static str;

    /// The index of the endpoint to take a request with `key` (if the caller has one) at `now`.
    ///
    /// # Errors
    /// [`Error::NoEndpointAvailable`](crate::Error::NoEndpointAvailable) when the set has no
    /// available endpoint, [`Error::KeyRequired`](crate::Error::KeyRequired) from pickers that
    /// need a key, and the picker's own build errors (a hash placement that cannot be built).
    fn pick<R: Rng + ?Sized>(
        &mut self,
        endpoints: &EndpointSet,
        key: Option<&[u8]>,
        now: Instant,
        rng: &mut R,
    ) -> Result<usize>;

    /// A request was sent to the endpoint at `index` at `now`. Default: nothing to do.
    fn on_start(&mut self, endpoints: &EndpointSet, index: usize, now: Instant) {
        let _ = (endpoints, index, now);
    }

    /// A request to the endpoint at `index` ended at `now` after `latency`. Default: nothing to
    /// do.
    fn on_complete(
        &mut self,
        endpoints: &EndpointSet,
        index: usize,
        latency: Duration,
        outcome: RequestOutcome,
        now: Instant,
    ) {
        let _ = (endpoints, index, latency, outcome, now);
    }
}

/// A picker's per-endpoint state, kept aligned with the set's indices: when the membership
/// changes, values follow their endpoint by id and new endpoints get fresh values.
#[derive(Debug, Clone)]
pub(crate) struct PerEndpoint<T> {
    version: Option<u64>,
    ids: Vec<NodeId>,
    values: Vec<T>,
}

impl<T> Default for PerEndpoint<T> {
    fn default() -> Self {
        PerEndpoint {
            version: None,
            ids: Vec::new(),
            values: Vec::new(),
        }
    }
}

impl<T> PerEndpoint<T> {
    /// Re-aligns with `set` if its membership changed.
    pub(crate) fn sync(&mut self, set: &EndpointSet, mut fresh: impl FnMut() -> T) {
        if self.version == Some(set.membership_version()) {
            return;
        }
        let mut old: HashMap<NodeId, T> = self.ids.drain(..).zip(self.values.drain(..)).collect();
        for slot in set.slots() {
            self.values
                .push(old.remove(&slot.id).unwrap_or_else(&mut fresh));
            self.ids.push(slot.id.clone());
        }
        self.version = Some(set.membership_version());
    }

    pub(crate) fn values(&self) -> &[T] {
        &self.values
    }

    pub(crate) fn values_mut(&mut self) -> &mut [T] {
        &mut self.values
    }
}
