//! A GCRA rate limit as tower middleware.

use std::sync::Arc;
use std::task::{Context, Poll};

use ha_core::Clock;
use tower::{BoxError, Layer, Service};

use super::GuardError;
use super::future::{GuardFuture, Unguarded};
use crate::{RateDecision, RateLimiter};

/// Wraps services in a [`RateLimitService`] sharing one [`RateLimiter`].
///
/// ```
/// use std::sync::Arc;
/// use ha_balance::{RateLimitConfig, RateLimiter, tower::RateLimitLayer};
/// use ha_core::{Clock, SystemClock};
///
/// let limiter = Arc::new(RateLimiter::new(RateLimitConfig::default(), SystemClock.now())?);
/// let layer = RateLimitLayer::new(limiter, SystemClock);
/// # let _ = layer;
/// # Ok::<(), ha_balance::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct RateLimitLayer<C> {
    limiter: Arc<RateLimiter>,
    clock: C,
}

impl<C> RateLimitLayer<C> {
    /// A layer checking `limiter` at the time `clock` gives.
    pub fn new(limiter: Arc<RateLimiter>, clock: C) -> Self {
        RateLimitLayer { limiter, clock }
    }
}

impl<S, C: Clone> Layer<S> for RateLimitLayer<C> {
    type Service = RateLimitService<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimitService {
            inner,
            limiter: self.limiter.clone(),
            clock: self.clock.clone(),
        }
    }
}

/// A service whose calls pass a GCRA rate limit first; a refused call fails at once with
/// [`GuardError::RateLimited`].
#[derive(Debug, Clone)]
pub struct RateLimitService<S, C> {
    inner: S,
    limiter: Arc<RateLimiter>,
    clock: C,
}

impl<S, C, Req> Service<Req> for RateLimitService<S, C>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    C: Clock,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = GuardFuture<S::Future, Unguarded>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        match self.limiter.check(self.clock.now()) {
            RateDecision::Admitted => GuardFuture::call(self.inner.call(request), Unguarded),
            RateDecision::Rejected { retry_after } => {
                GuardFuture::refused(GuardError::RateLimited { retry_after })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RateLimitConfig;
    use crate::tower_layers::future::test_support::{Echo, poll_once};
    use ha_core::ManualClock;
    use std::time::Duration;

    #[test]
    fn calls_past_the_burst_fail_with_a_retry_after() {
        let clock = ManualClock::new();
        let config = RateLimitConfig {
            requests_per_second: 10.0,
            burst: 2,
        };
        let limiter = Arc::new(RateLimiter::new(config, clock.now()).unwrap());
        let mut service = RateLimitLayer::new(limiter, clock.clone()).layer(Echo);
        for n in 0..2 {
            assert!(matches!(poll_once(service.call(n)), Poll::Ready(Ok(x)) if x == n));
        }
        let Poll::Ready(Err(e)) = poll_once(service.call(3)) else {
            panic!()
        };
        assert_eq!(
            e.downcast_ref::<GuardError>(),
            Some(&GuardError::RateLimited {
                retry_after: Duration::from_millis(100)
            })
        );
        clock.advance(Duration::from_millis(100));
        assert!(matches!(poll_once(service.call(4)), Poll::Ready(Ok(4))));
        let Poll::Ready(Err(e)) = poll_once(service.call(4)) else {
            panic!()
        };
        assert!(e.downcast_ref::<GuardError>().is_some());
    }
}
