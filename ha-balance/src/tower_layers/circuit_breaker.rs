//! A circuit breaker as tower middleware.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use ha_core::Clock;
use parking_lot::Mutex;
use tower::{BoxError, Layer, Service};

use super::GuardError;
use super::future::{GuardFuture, OnComplete};
use crate::{BreakerPermit, CallOutcome, CircuitBreaker};

/// Wraps services in a [`CircuitBreakerService`] sharing one [`CircuitBreaker`].
///
/// ```
/// use std::sync::Arc;
/// use ha_balance::{CircuitBreaker, tower::CircuitBreakerLayer};
/// use ha_core::SystemClock;
/// use parking_lot::Mutex;
///
/// let breaker = Arc::new(Mutex::new(CircuitBreaker::new(Default::default())?));
/// let layer = CircuitBreakerLayer::new(breaker, SystemClock);
/// # let _ = layer;
/// # Ok::<(), ha_balance::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct CircuitBreakerLayer<C> {
    breaker: Arc<Mutex<CircuitBreaker>>,
    clock: C,
}

impl<C> CircuitBreakerLayer<C> {
    /// A layer guarding calls with `breaker`, timing them with `clock`.
    pub fn new(breaker: Arc<Mutex<CircuitBreaker>>, clock: C) -> Self {
        CircuitBreakerLayer { breaker, clock }
    }
}

impl<S, C: Clone> Layer<S> for CircuitBreakerLayer<C> {
    type Service = CircuitBreakerService<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        CircuitBreakerService {
            inner,
            breaker: self.breaker.clone(),
            clock: self.clock.clone(),
        }
    }
}

/// A service whose calls pass a circuit breaker: a refused call fails at once with
/// [`GuardError::CircuitOpen`]; an admitted call's `Ok` records a success and its `Err` a
/// failure, with the call's duration (slow calls count as such). A call dropped before it ends
/// records [`CallOutcome::Ignored`], giving a half-open probe slot back.
#[derive(Debug, Clone)]
pub struct CircuitBreakerService<S, C> {
    inner: S,
    breaker: Arc<Mutex<CircuitBreaker>>,
    clock: C,
}

/// Records the call's outcome in the breaker when it ends (or `Ignored` when dropped).
#[derive(Debug)]
pub struct BreakerGuard<C: Clock> {
    breaker: Arc<Mutex<CircuitBreaker>>,
    clock: C,
    permit: Option<BreakerPermit>,
    started: Instant,
}

impl<C: Clock> BreakerGuard<C> {
    fn finish(&mut self, outcome: CallOutcome) {
        if let Some(permit) = self.permit.take() {
            let now = self.clock.now();
            let took = now.saturating_duration_since(self.started);
            let _ = self.breaker.lock().record(permit, outcome, took, now);
        }
    }
}

impl<C: Clock> OnComplete for BreakerGuard<C> {
    fn complete(&mut self, ok: bool) {
        self.finish(if ok {
            CallOutcome::Success
        } else {
            CallOutcome::Failure
        });
    }
}

impl<C: Clock> Drop for BreakerGuard<C> {
    fn drop(&mut self) {
        self.finish(CallOutcome::Ignored);
    }
}

impl<S, C, Req> Service<Req> for CircuitBreakerService<S, C>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    C: Clock + Clone,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = GuardFuture<S::Future, BreakerGuard<C>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let now = self.clock.now();
        let acquired = self.breaker.lock().try_acquire(now);
        match acquired {
            Ok(permit) => GuardFuture::call(
                self.inner.call(request),
                BreakerGuard {
                    breaker: self.breaker.clone(),
                    clock: self.clock.clone(),
                    permit: Some(permit),
                    started: now,
                },
            ),
            Err(rejection) => GuardFuture::refused(GuardError::CircuitOpen {
                retry_after: rejection.retry_after(now),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tower_layers::future::test_support::{Echo, poll_once};
    use crate::{BreakerState, CircuitBreakerConfig, SlidingWindowKind};
    use ha_core::ManualClock;
    use std::time::Duration;

    #[test]
    fn failures_open_the_breaker_and_calls_then_fail_fast() {
        let clock = ManualClock::new();
        let breaker = Arc::new(Mutex::new(
            CircuitBreaker::new(CircuitBreakerConfig {
                sliding_window: SlidingWindowKind::CountBased { calls: 4 },
                minimum_calls: 4,
                permitted_calls_in_half_open: 1,
                wait_in_open: Duration::from_secs(5),
                ..Default::default()
            })
            .unwrap(),
        ));
        let mut service = CircuitBreakerLayer::new(breaker.clone(), clock.clone()).layer(Echo);
        for _ in 0..4 {
            assert!(matches!(poll_once(service.call(500)), Poll::Ready(Err(_))));
        }
        assert_eq!(breaker.lock().state(), BreakerState::Open);
        let Poll::Ready(Err(e)) = poll_once(service.call(1)) else {
            panic!()
        };
        assert_eq!(
            e.downcast_ref::<GuardError>(),
            Some(&GuardError::CircuitOpen {
                retry_after: Some(Duration::from_secs(5))
            })
        );
        clock.advance(Duration::from_secs(5));
        // A probe dropped unpolled gives its slot back.
        drop(service.call(1));
        assert_eq!(breaker.lock().half_open_permits_issued(), 0);
        assert!(matches!(poll_once(service.call(1)), Poll::Ready(Ok(1))));
        assert_eq!(breaker.lock().state(), BreakerState::Closed);
    }
}
