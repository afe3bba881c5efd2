//! A balancing tower `Service` over a set of inner services, using any [`Picker`].

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use ha_core::{Clock, Health, NodeId};
use parking_lot::{MappedMutexGuard, Mutex, MutexGuard};
use rand::Rng;
use tower::{BoxError, Service};

use crate::{Balancer, Picker, RequestOutcome};

/// Why the balancing service could not be built or could not route a call.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BalanceError {
    /// The picker could not pick: no endpoint available
    /// ([`Error::NoEndpointAvailable`](crate::Error::NoEndpointAvailable)), or a hash picker got
    /// a request without a key ([`Error::KeyRequired`](crate::Error::KeyRequired)).
    #[error(transparent)]
    Pick(#[from] crate::Error),
    /// The endpoint set holds an endpoint with no inner service (at construction, or after the
    /// service failed and was dropped).
    #[error("endpoint {0} has no inner service")]
    NoService(NodeId),
    /// A service was given for an endpoint the set does not hold.
    #[error("a service was given for endpoint {0}, which the set does not hold")]
    UnknownEndpoint(NodeId),
    /// `call` found no endpoint made ready by `poll_ready` for this request (called without
    /// `poll_ready`, or the picked endpoint changed in between).
    #[error("no ready endpoint for this call; poll_ready first")]
    NotReady,
}

/// How a request names its key for the consistent-hash and Maglev pickers.
///
/// Implemented by [`NoKey`] (every request unkeyed) and by every closure
/// `Fn(&Req) -> Option<Vec<u8>>`; a request whose closure answers `None` is picked without a key.
pub trait RequestKey<Req> {
    /// The request's key, if it has one.
    fn key(&self, request: &Req) -> Option<Vec<u8>>;

    /// Whether requests may carry keys; decides how [`Balance::poll_ready`] waits (see
    /// [`Balance`]). Default `true`.
    fn keyed(&self) -> bool {
        true
    }
}

/// No request carries a key.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoKey;

impl<Req> RequestKey<Req> for NoKey {
    fn key(&self, _: &Req) -> Option<Vec<u8>> {
        None
    }

    fn keyed(&self) -> bool {
        false
    }
}

impl<Req, F: Fn(&Req) -> Option<Vec<u8>>> RequestKey<Req> for F {
    fn key(&self, request: &Req) -> Option<Vec<u8>> {
        self(request)
    }
}

#[derive(Debug)]
struct Shared<P, R> {
    balancer: Balancer<P>,
    rng: R,
}

/// A tower [`Service`] spreading requests over inner services, one per endpoint of a
/// [`Balancer`], with any [`Picker`].
///
/// - **State.** The balancer and the seeded generator `R` sit behind one `Arc<parking_lot::Mutex>`,
///   shared by every clone: cloning a `Balance` clones the inner services (as tower services
///   are cloned per connection) but all clones pick from, and feed, the same balancer. Time
///   comes from the injected [`Clock`].
/// - **Readiness, unkeyed** (key extractor [`NoKey`]): `poll_ready` picks an endpoint and drives
///   that one service's `poll_ready`; the pick is kept until it is ready (or stops being
///   available — drained, unhealthy — when a new pick is made), and `call` sends the request
///   there. While it waits, only that service's readiness wakes the task: a change to the set
///   (the pick drained meanwhile) is seen at the next poll, which then picks again. A picker error (nothing available) does not fail `poll_ready`: it answers ready and
///   the next `call` fails at once with [`BalanceError::Pick`], as the guards in this module
///   fail fast.
/// - **Readiness, keyed** (a key closure): the endpoint depends on the request, so `poll_ready`
///   drives every available endpoint's service and is ready when all of them are; `call` picks
///   by key ([`Balancer::pick_key`]) and sends the request to that (ready) service.
/// - **A failed inner `poll_ready`** drops that inner service from this `Balance` and marks its
///   endpoint [`Health::Unhealthy`] in the shared set, so no clone picks it; give a new service
///   with [`insert_service`](Self::insert_service) and mark the endpoint healthy again.
/// - **Feedback.** `call` records [`Balancer::on_start`]; the response future records
///   [`Balancer::on_complete`] with the latency (clock now − start) and
///   [`RequestOutcome::Success`] / [`RequestOutcome::Failure`] from the inner result. A response
///   future dropped before it ends (a client timeout, a cancelled request) still ends its
///   in-flight count, reported as a failure with the time it had taken so far.
///
/// Errors come out as tower's [`BoxError`]: a [`BalanceError`] from the balancer, or the inner
/// service's error.
///
/// ```
/// use std::future::{Ready, ready};
/// use std::task::{Context, Poll, Waker};
/// use ha_balance::{Balancer, Endpoint, EndpointSet, RoundRobin, tower::Balance};
/// use ha_core::{ManualClock, NodeId};
/// use rand::{SeedableRng, rngs::StdRng};
/// use tower::Service;
///
/// /// An inner service answering with its name (a hyper client, in real life).
/// #[derive(Clone)]
/// struct Backend(&'static str);
/// impl Service<u32> for Backend {
///     type Response = String;
///     type Error = std::convert::Infallible;
///     type Future = Ready<Result<String, Self::Error>>;
///     fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
///         Poll::Ready(Ok(()))
///     }
///     fn call(&mut self, req: u32) -> Self::Future {
///         ready(Ok(format!("{}:{req}", self.0)))
///     }
/// }
///
/// let (a, b) = (NodeId::new("a")?, NodeId::new("b")?);
/// let set = EndpointSet::new(vec![Endpoint::new(a.clone()), Endpoint::new(b.clone())], Default::default())?;
/// let mut lb = Balance::new(
///     Balancer::new(set, RoundRobin::default()),
///     [(a, Backend("a")), (b, Backend("b"))],
///     StdRng::seed_from_u64(7), // the picker's randomness, seeded
///     ManualClock::new(),       // SystemClock in production
/// )?;
/// let mut cx = Context::from_waker(Waker::noop());
/// let mut answers = Vec::new();
/// for req in 0..4 {
///     assert!(lb.poll_ready(&mut cx).is_ready());
///     let response = std::pin::pin!(lb.call(req));
///     let Poll::Ready(answer) = response.poll(&mut cx) else { unreachable!() };
///     answers.push(answer?);
/// }
/// assert_eq!(answers, ["a:0", "b:1", "a:2", "b:3"]);
/// assert_eq!(lb.balancer().endpoints().in_flight("a"), Some(0));
/// # Ok::<(), tower::BoxError>(())
/// ```
#[derive(Debug)]
pub struct Balance<P, S, R, C, K = NoKey> {
    shared: Arc<Mutex<Shared<P, R>>>,
    services: HashMap<NodeId, S>,
    clock: C,
    key: K,
    /// Unkeyed mode: the endpoint picked by `poll_ready` (or why none could be).
    chosen: Option<Result<NodeId, BalanceError>>,
    /// Keyed mode: endpoints whose service answered ready and has not been called since.
    ready: HashSet<NodeId>,
}

impl<P: Clone, S: Clone, R, C: Clone, K: Clone> Clone for Balance<P, S, R, C, K> {
    /// A handle on the same balancer, with clones of the inner services and nothing ready yet.
    fn clone(&self) -> Self {
        Balance {
            shared: self.shared.clone(),
            services: self.services.clone(),
            clock: self.clock.clone(),
            key: self.key.clone(),
            chosen: None,
            ready: HashSet::new(),
        }
    }
}

impl<P: Picker, S, R: Rng, C: Clock> Balance<P, S, R, C, NoKey> {
    /// A service sending each request to the service of the endpoint `balancer` picks;
    /// `services` gives one inner service per endpoint of the balancer's set, `rng` the
    /// (seeded) randomness for the picker, `clock` the time for latencies and drains.
    ///
    /// # Errors
    /// [`BalanceError::NoService`] if an endpoint of the set has no service,
    /// [`BalanceError::UnknownEndpoint`] if a service names an endpoint the set does not hold.
    pub fn new(
        balancer: Balancer<P>,
        services: impl IntoIterator<Item = (NodeId, S)>,
        rng: R,
        clock: C,
    ) -> Result<Self, BalanceError> {
        let services: HashMap<NodeId, S> = services.into_iter().collect();
        if let Some(id) = services
            .keys()
            .find(|id| !balancer.endpoints().contains(id.as_str()))
        {
            return Err(BalanceError::UnknownEndpoint(id.clone()));
        }
        if let Some(id) = balancer
            .endpoints()
            .ids()
            .find(|id| !services.contains_key(*id))
        {
            return Err(BalanceError::NoService(id.clone()));
        }
        Ok(Balance {
            shared: Arc::new(Mutex::new(Shared { balancer, rng })),
            services,
            clock,
            key: NoKey,
            chosen: None,
            ready: HashSet::new(),
        })
    }
}

impl<P: Picker, S, R: Rng, C: Clock, K> Balance<P, S, R, C, K> {
    /// The service, with requests keyed by `key` (for [`ConsistentHash`](crate::ConsistentHash)
    /// and [`MaglevHash`](crate::MaglevHash)); see [`Balance`] for how readiness changes.
    pub fn with_key<K2>(self, key: K2) -> Balance<P, S, R, C, K2> {
        Balance {
            shared: self.shared,
            services: self.services,
            clock: self.clock,
            key,
            chosen: None,
            ready: HashSet::new(),
        }
    }

    /// The shared balancer, locked: to read loads, or add, drain and mark endpoints (an
    /// endpoint added to the set needs a service here too, through
    /// [`insert_service`](Self::insert_service)). Do not hold it across a call.
    pub fn balancer(&self) -> MappedMutexGuard<'_, Balancer<P>> {
        MutexGuard::map(self.shared.lock(), |s| &mut s.balancer)
    }

    /// Sets the inner service for endpoint `id` in this `Balance` (not in its clones), replacing
    /// any; returns the one replaced.
    pub fn insert_service(&mut self, id: NodeId, service: S) -> Option<S> {
        self.ready.remove(&id);
        if matches!(&self.chosen, Some(Ok(chosen)) if *chosen == id) {
            self.chosen = None;
        }
        self.services.insert(id, service)
    }

    /// Drops the failed service of `id` and marks the endpoint unhealthy.
    fn fail(&mut self, id: &NodeId, error: &BoxError) {
        self.services.remove(id);
        self.ready.remove(id);
        let now = self.clock.now();
        let marked =
            self.balancer()
                .endpoints_mut()
                .set_health(id.as_str(), Health::Unhealthy, now);
        tracing::debug!(endpoint = %id, %error, marked = marked.is_ok(), "inner service failed; endpoint marked unhealthy");
    }

    fn poll_unkeyed<Req>(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>>
    where
        S: Service<Req>,
        S::Error: Into<BoxError>,
    {
        loop {
            let id = match &self.chosen {
                Some(Ok(id)) if self.balancer().endpoints().is_available(id.as_str()) => id.clone(),
                _ => {
                    let now = self.clock.now();
                    let picked = {
                        let mut guard = self.shared.lock();
                        let Shared { balancer, rng } = &mut *guard;
                        balancer.pick(now, rng)
                    };
                    match picked {
                        Ok(id) => {
                            self.chosen = Some(Ok(id.clone()));
                            id
                        }
                        Err(e) => {
                            // Ready: the call fails fast with the reason.
                            self.chosen = Some(Err(e.into()));
                            return Poll::Ready(Ok(()));
                        }
                    }
                }
            };
            let Some(service) = self.services.get_mut(&id) else {
                self.chosen = Some(Err(BalanceError::NoService(id)));
                return Poll::Ready(Ok(()));
            };
            match service.poll_ready(cx) {
                Poll::Ready(Ok(())) => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => {
                    self.chosen = None;
                    self.fail(&id, &e.into());
                }
            }
        }
    }

    fn poll_keyed<Req>(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>>
    where
        S: Service<Req>,
        S::Error: Into<BoxError>,
    {
        let available: Vec<NodeId> = {
            let balancer = self.balancer();
            let set = balancer.endpoints();
            set.available_indices()
                .iter()
                .filter_map(|&i| set.id_at(i).cloned())
                .collect()
        };
        let mut all_ready = true;
        for id in available {
            if self.ready.contains(&id) {
                continue;
            }
            // An endpoint without a service fails its calls with NoService; nothing to wait on.
            let Some(service) = self.services.get_mut(&id) else {
                continue;
            };
            match service.poll_ready(cx) {
                Poll::Ready(Ok(())) => {
                    self.ready.insert(id);
                }
                Poll::Pending => all_ready = false,
                Poll::Ready(Err(e)) => self.fail(&id, &e.into()),
            }
        }
        if all_ready {
            Poll::Ready(Ok(()))
        } else {
            Poll::Pending
        }
    }

    /// The endpoint for `request`, taken out of the ready state.
    fn route<Req>(&mut self, request: &Req) -> Result<NodeId, BalanceError>
    where
        K: RequestKey<Req>,
    {
        if !self.key.keyed() {
            return self.chosen.take().unwrap_or(Err(BalanceError::NotReady));
        }
        let now = self.clock.now();
        let key = self.key.key(request);
        let picked = {
            let mut guard = self.shared.lock();
            let Shared { balancer, rng } = &mut *guard;
            match &key {
                Some(key) => balancer.pick_key(key, now, rng),
                None => balancer.pick(now, rng),
            }
        }?;
        if !self.services.contains_key(&picked) {
            return Err(BalanceError::NoService(picked));
        }
        if self.ready.remove(&picked) {
            Ok(picked)
        } else {
            Err(BalanceError::NotReady)
        }
    }
}

impl<P, S, R, C, K, Req> Service<Req> for Balance<P, S, R, C, K>
where
    P: Picker,
    S: Service<Req>,
    S::Error: Into<BoxError>,
    R: Rng,
    C: Clock + Clone,
    K: RequestKey<Req>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = BalanceFuture<S::Future, P, R, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if self.key.keyed() {
            self.poll_keyed(cx)
        } else {
            self.poll_unkeyed(cx)
        }
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let routed = self.route(&request).and_then(|id| {
            let service = self
                .services
                .get_mut(&id)
                .ok_or_else(|| BalanceError::NoService(id.clone()))?;
            Ok((id, service))
        });
        let (id, service) = match routed {
            Ok(found) => found,
            Err(e) => {
                tracing::debug!(error = %e, "balance call refused");
                return BalanceFuture::refused(e);
            }
        };
        let start = self.clock.now();
        if let Err(e) = self.shared.lock().balancer.on_start(id.as_str(), start) {
            return BalanceFuture::refused(e.into());
        }
        let inner = service.call(request);
        BalanceFuture {
            inner: Some(inner),
            refused: None,
            in_flight: Some(InFlight {
                shared: self.shared.clone(),
                clock: self.clock.clone(),
                id,
                start,
            }),
        }
    }
}

/// A request under way to one endpoint; records its end in the balancer once, when it completes
/// or (as a failure) when dropped.
#[derive(Debug)]
struct InFlight<P: Picker, R, C: Clock> {
    shared: Arc<Mutex<Shared<P, R>>>,
    clock: C,
    id: NodeId,
    start: Instant,
}

impl<P: Picker, R, C: Clock> InFlight<P, R, C> {
    fn end(&self, outcome: RequestOutcome) {
        let now = self.clock.now();
        let latency = now.saturating_duration_since(self.start);
        // UnknownEndpoint: the endpoint left the set meanwhile; nothing to record.
        let recorded =
            self.shared
                .lock()
                .balancer
                .on_complete(self.id.as_str(), latency, outcome, now);
        tracing::debug!(endpoint = %self.id, ?latency, ?outcome, known = recorded.is_ok(), "balanced call ended");
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`Balance`]: the inner call, recording its latency and outcome
    /// in the balancer when it ends (or a failure when dropped unfinished), or an immediate
    /// [`BalanceError`].
    #[derive(Debug)]
    pub struct BalanceFuture<F, P: Picker, R, C: Clock> {
        #[pin]
        inner: Option<F>,
        refused: Option<BalanceError>,
        in_flight: Option<InFlight<P, R, C>>,
    }

    impl<F, P: Picker, R, C: Clock> PinnedDrop for BalanceFuture<F, P, R, C> {
        fn drop(this: Pin<&mut Self>) {
            if let Some(in_flight) = this.project().in_flight.take() {
                in_flight.end(RequestOutcome::Failure);
            }
        }
    }
}

impl<F, P: Picker, R, C: Clock> BalanceFuture<F, P, R, C> {
    fn refused(error: BalanceError) -> Self {
        BalanceFuture {
            inner: None,
            refused: Some(error),
            in_flight: None,
        }
    }
}

impl<F, T, E, P, R, C> Future for BalanceFuture<F, P, R, C>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
    P: Picker,
    C: Clock,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        match this.inner.as_pin_mut() {
            None => Poll::Ready(Err(this.refused.take().map_or_else(
                || BoxError::from("balance future polled after completion"),
                BoxError::from,
            ))),
            Some(inner) => match inner.poll(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(result) => {
                    if let Some(in_flight) = this.in_flight.take() {
                        in_flight.end(if result.is_ok() {
                            RequestOutcome::Success
                        } else {
                            RequestOutcome::Failure
                        });
                    }
                    Poll::Ready(result.map_err(Into::into))
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::task::Waker;
    use std::time::Duration;

    use ha_core::ManualClock;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;
    use crate::tower_layers::future::test_support::poll_once;
    use crate::{ConsistentHash, Endpoint, EndpointSet, P2cPeakEwma, RoundRobin};

    /// A backend answering its name after `latency` (the future moves the shared clock when
    /// polled), ready only while `ready` is set.
    #[derive(Debug, Clone)]
    struct Backend {
        name: &'static str,
        latency: Duration,
        clock: ManualClock,
        ready: Arc<AtomicBool>,
        broken: bool,
    }

    struct Timed {
        name: &'static str,
        latency: Duration,
        clock: ManualClock,
    }

    impl Future for Timed {
        type Output = Result<&'static str, BoxError>;
        fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Self::Output> {
            self.clock.advance(self.latency);
            Poll::Ready(Ok(self.name))
        }
    }

    impl Service<u32> for Backend {
        type Response = &'static str;
        type Error = BoxError;
        type Future = Timed;
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
            if self.broken {
                Poll::Ready(Err("broken".into()))
            } else if self.ready.load(Ordering::SeqCst) {
                Poll::Ready(Ok(()))
            } else {
                Poll::Pending
            }
        }
        fn call(&mut self, _: u32) -> Timed {
            Timed {
                name: self.name,
                latency: self.latency,
                clock: self.clock.clone(),
            }
        }
    }

    const NAMES: [&str; 4] = ["e0", "e1", "e2", "e3"];

    fn backends(
        latencies_ms: &[u64],
        clock: &ManualClock,
    ) -> (EndpointSet, Vec<(NodeId, Backend)>) {
        let mut endpoints = Vec::new();
        let mut services = Vec::new();
        for (name, &ms) in NAMES.iter().zip(latencies_ms) {
            let id = NodeId::new(name).unwrap();
            endpoints.push(Endpoint::new(id.clone()));
            services.push((
                id,
                Backend {
                    name,
                    latency: Duration::from_millis(ms),
                    clock: clock.clone(),
                    ready: Arc::new(AtomicBool::new(true)),
                    broken: false,
                },
            ));
        }
        (
            EndpointSet::new(endpoints, Default::default()).unwrap(),
            services,
        )
    }

    fn balance<P: Picker>(
        picker: P,
        latencies_ms: &[u64],
        clock: &ManualClock,
    ) -> Balance<P, Backend, StdRng, ManualClock> {
        let (set, services) = backends(latencies_ms, clock);
        Balance::new(
            Balancer::new(set, picker),
            services,
            StdRng::seed_from_u64(3),
            clock.clone(),
        )
        .unwrap()
    }

    fn cx() -> Context<'static> {
        Context::from_waker(Waker::noop())
    }

    /// poll_ready, call and poll the response to its end; the endpoint that answered.
    fn send<K: RequestKey<u32>, P: Picker>(
        lb: &mut Balance<P, Backend, StdRng, ManualClock, K>,
        req: u32,
    ) -> &'static str {
        assert!(matches!(lb.poll_ready(&mut cx()), Poll::Ready(Ok(()))));
        match poll_once(lb.call(req)) {
            Poll::Ready(Ok(name)) => name,
            other => panic!("{other:?}"),
        }
    }

    fn count(picks: &[&str], name: &str) -> usize {
        picks.iter().filter(|p| **p == name).count()
    }

    #[test]
    fn round_robin_spreads_picks_evenly_and_ends_every_call() {
        let clock = ManualClock::new();
        let mut lb = balance(RoundRobin::default(), &[1, 1, 1], &clock);
        let picks: Vec<_> = (0..300).map(|i| send(&mut lb, i)).collect();
        for name in &NAMES[..3] {
            assert_eq!(count(&picks, name), 100);
            assert_eq!(lb.balancer().endpoints().in_flight(name), Some(0));
        }
    }

    #[test]
    fn peak_ewma_sends_fewer_requests_to_a_slow_service() {
        let clock = ManualClock::new();
        let mut lb = balance(
            P2cPeakEwma::new(Default::default()).unwrap(),
            &[10, 10, 10, 500],
            &clock,
        );
        let picks: Vec<_> = (0..400).map(|i| send(&mut lb, i)).collect();
        let slow_late = count(&picks[100..], "e3");
        assert!(
            slow_late < 15,
            "{slow_late} of 300 went to the slow service"
        );
        for name in &NAMES[..3] {
            assert!(count(&picks[100..], name) > 60);
        }
    }

    #[test]
    fn a_dropped_response_future_ends_its_in_flight_count_as_a_failure() {
        let clock = ManualClock::new();
        let mut lb = balance(RoundRobin::default(), &[1, 1], &clock);
        assert!(lb.poll_ready(&mut cx()).is_ready());
        let pending = lb.call(1);
        assert_eq!(lb.balancer().endpoints().in_flight("e0"), Some(1));
        drop(pending);
        assert_eq!(lb.balancer().endpoints().in_flight("e0"), Some(0));
        // A clone shares the balancer.
        let mut clone = lb.clone();
        assert!(clone.poll_ready(&mut cx()).is_ready());
        let pending = clone.call(2);
        assert_eq!(lb.balancer().endpoints().in_flight("e1"), Some(1));
        drop(pending);
        assert_eq!(lb.balancer().endpoints().in_flight("e1"), Some(0));
    }

    #[test]
    fn the_latency_fed_back_is_clock_now_minus_start_also_for_a_dropped_future() {
        let clock = ManualClock::new();
        let mut lb = balance(
            P2cPeakEwma::new(Default::default()).unwrap(),
            &[300, 300],
            &clock,
        );
        // Completed: the backend's future moves the clock by its 300 ms.
        let first = send(&mut lb, 1);
        let i = usize::from(first == "e1");
        let estimate = lb.balancer().picker().estimate_ns(i).unwrap();
        assert!((estimate - 300e6).abs() < 1e3, "{estimate}");
        // Dropped after 700 ms: a peak, taken at once.
        assert!(lb.poll_ready(&mut cx()).is_ready());
        let pending = lb.call(2);
        let j = usize::from(lb.balancer().endpoints().in_flight("e1") == Some(1));
        clock.advance(Duration::from_millis(700));
        drop(pending);
        let estimate = lb.balancer().picker().estimate_ns(j).unwrap();
        assert!((estimate - 700e6).abs() < 1e3, "{estimate}");
    }

    #[test]
    fn a_draining_endpoint_gets_nothing() {
        let clock = ManualClock::new();
        let mut lb = balance(RoundRobin::default(), &[1, 1, 1], &clock);
        let now = clock.now();
        lb.balancer().endpoints_mut().drain("e1", now).unwrap();
        let picks: Vec<_> = (0..100).map(|i| send(&mut lb, i)).collect();
        assert_eq!(count(&picks, "e1"), 0);
        assert_eq!(count(&picks, "e0"), 50);
        let drained = lb.balancer().poll_drained(clock.now()).unwrap();
        assert_eq!(drained.id.as_str(), "e1");
    }

    #[test]
    fn a_pick_drained_while_waiting_for_readiness_is_replaced() {
        let clock = ManualClock::new();
        let mut lb = balance(RoundRobin::default(), &[1, 1], &clock);
        lb.services[&NodeId::new("e0").unwrap()]
            .ready
            .store(false, Ordering::SeqCst);
        assert!(lb.poll_ready(&mut cx()).is_pending());
        lb.balancer()
            .endpoints_mut()
            .drain("e0", clock.now())
            .unwrap();
        assert_eq!(send(&mut lb, 1), "e1");
    }

    #[test]
    fn a_failed_inner_service_is_dropped_and_its_endpoint_marked_unhealthy() {
        let clock = ManualClock::new();
        let mut lb = balance(RoundRobin::default(), &[1, 1], &clock);
        let e0 = NodeId::new("e0").unwrap();
        lb.services.get_mut(&e0).unwrap().broken = true;
        assert_eq!(send(&mut lb, 1), "e1");
        assert_eq!(
            lb.balancer().endpoints().health("e0"),
            Some(Health::Unhealthy)
        );
        assert!(!lb.services.contains_key(&e0));
        assert_eq!(send(&mut lb, 2), "e1");
    }

    #[test]
    fn nothing_available_fails_the_call_fast_with_a_typed_error() {
        let clock = ManualClock::new();
        let mut lb = balance(RoundRobin::default(), &[1], &clock);
        lb.balancer()
            .endpoints_mut()
            .drain("e0", clock.now())
            .unwrap();
        assert!(matches!(lb.poll_ready(&mut cx()), Poll::Ready(Ok(()))));
        let Poll::Ready(Err(e)) = poll_once(lb.call(1)) else {
            panic!()
        };
        assert!(matches!(
            e.downcast_ref::<BalanceError>(),
            Some(BalanceError::Pick(crate::Error::NoEndpointAvailable { .. }))
        ));
        // call without poll_ready
        let Poll::Ready(Err(e)) = poll_once(lb.call(2)) else {
            panic!()
        };
        assert_eq!(
            e.downcast_ref::<BalanceError>(),
            Some(&BalanceError::NotReady)
        );
    }

    #[test]
    fn construction_checks_that_services_and_endpoints_match() {
        let clock = ManualClock::new();
        let (set, mut services) = backends(&[1, 1], &clock);
        let last = services.pop().unwrap();
        let err = Balance::new(
            Balancer::new(set.clone(), RoundRobin::default()),
            services.clone(),
            StdRng::seed_from_u64(1),
            clock.clone(),
        )
        .unwrap_err();
        assert_eq!(err, BalanceError::NoService(last.0.clone()));
        let mut extra = last.1.clone();
        extra.name = "x";
        services.push(last);
        services.push((NodeId::new("x").unwrap(), extra));
        let err = Balance::new(
            Balancer::new(set, RoundRobin::default()),
            services,
            StdRng::seed_from_u64(1),
            clock,
        )
        .unwrap_err();
        assert_eq!(
            err,
            BalanceError::UnknownEndpoint(NodeId::new("x").unwrap())
        );
    }

    #[test]
    fn keyed_requests_go_to_their_consistent_hash_home() {
        let clock = ManualClock::new();
        let mut lb = balance(
            ConsistentHash::new(Default::default()).unwrap(),
            &[1, 1, 1, 1],
            &clock,
        )
        .with_key(|req: &u32| Some((req % 10).to_le_bytes().to_vec()));
        let homes: Vec<_> = (0..10).map(|i| send(&mut lb, i)).collect();
        for i in 10..200 {
            assert_eq!(send(&mut lb, i), homes[(i % 10) as usize]);
        }
        assert!(homes.iter().collect::<HashSet<_>>().len() > 1);
    }

    #[test]
    fn keyed_mode_waits_for_every_available_service() {
        let clock = ManualClock::new();
        let mut lb = balance(
            ConsistentHash::new(Default::default()).unwrap(),
            &[1, 1],
            &clock,
        )
        .with_key(|req: &u32| Some(req.to_le_bytes().to_vec()));
        let ready = lb.services[&NodeId::new("e1").unwrap()].ready.clone();
        ready.store(false, Ordering::SeqCst);
        assert!(lb.poll_ready(&mut cx()).is_pending());
        ready.store(true, Ordering::SeqCst);
        assert!(lb.poll_ready(&mut cx()).is_ready());
        // A keyed request without a poll_ready of its own finds its endpoint not ready.
        let name = match poll_once(lb.call(7)) {
            Poll::Ready(Ok(name)) => name,
            other => panic!("{other:?}"),
        };
        let Poll::Ready(Err(e)) = poll_once(lb.call(7)) else {
            panic!()
        };
        assert_eq!(
            e.downcast_ref::<BalanceError>(),
            Some(&BalanceError::NotReady)
        );
        assert_eq!(send(&mut lb, 7), name);
    }
}
