//! A concurrency limit as tower middleware.

use std::sync::Arc;
use std::task::{Context, Poll};

use ha_core::Clock;
use parking_lot::Mutex;
use tower::{BoxError, Layer, Service};

use super::GuardError;
use super::future::{GuardFuture, OnComplete};
use crate::{Admission, ConcurrencyLimitConfig, ConcurrencyLimiter, ConcurrencyPermit, Result};

/// Wraps services in a [`ConcurrencyLimitService`] sharing one [`ConcurrencyLimiter`].
///
/// ```
/// use ha_balance::{ConcurrencyLimitConfig, tower::ConcurrencyLimitLayer};
/// use ha_core::SystemClock;
///
/// let layer = ConcurrencyLimitLayer::new(ConcurrencyLimitConfig { max_concurrent: 64, ..Default::default() }, SystemClock)?;
/// # let _ = layer;
/// # Ok::<(), ha_balance::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ConcurrencyLimitLayer<C> {
    limiter: Arc<Mutex<ConcurrencyLimiter>>,
    clock: C,
}

impl<C> ConcurrencyLimitLayer<C> {
    /// A layer allowing `config.max_concurrent` calls at once across every service it wraps.
    /// The middleware does not queue (it cannot wait without an executor): `max_queue` is taken
    /// as 0, and a call finding no slot fails at once with [`GuardError::Overloaded`].
    ///
    /// # Errors
    /// As [`ConcurrencyLimitConfig::validate`].
    pub fn new(config: ConcurrencyLimitConfig, clock: C) -> Result<Self> {
        let limiter = ConcurrencyLimiter::new(ConcurrencyLimitConfig {
            max_queue: 0,
            ..config
        })?;
        Ok(ConcurrencyLimitLayer {
            limiter: Arc::new(Mutex::new(limiter)),
            clock,
        })
    }

    /// The shared limiter, to read its load or steer its limit (an
    /// [`AdaptiveLimit`](crate::AdaptiveLimit)).
    #[must_use]
    pub fn limiter(&self) -> &Arc<Mutex<ConcurrencyLimiter>> {
        &self.limiter
    }
}

impl<S, C: Clone> Layer<S> for ConcurrencyLimitLayer<C> {
    type Service = ConcurrencyLimitService<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        ConcurrencyLimitService {
            inner,
            limiter: self.limiter.clone(),
            clock: self.clock.clone(),
        }
    }
}

/// A service allowing a bounded number of calls under way; the slot is freed when the response
/// future completes or is dropped.
#[derive(Debug, Clone)]
pub struct ConcurrencyLimitService<S, C> {
    inner: S,
    limiter: Arc<Mutex<ConcurrencyLimiter>>,
    clock: C,
}

/// Frees the call's slot when it ends or is dropped.
#[derive(Debug)]
pub struct SlotGuard<C: Clock> {
    limiter: Arc<Mutex<ConcurrencyLimiter>>,
    clock: C,
    permit: Option<ConcurrencyPermit>,
}

impl<C: Clock> Drop for SlotGuard<C> {
    fn drop(&mut self) {
        if let Some(permit) = self.permit.take() {
            // The permit came from this limiter, so release cannot fail; with no queue there
            // is no waiter to hand the slot to.
            let _ = self.limiter.lock().release(permit, self.clock.now());
        }
    }
}

impl<C: Clock> OnComplete for SlotGuard<C> {
    fn complete(&mut self, _ok: bool) {
        if let Some(permit) = self.permit.take() {
            let _ = self.limiter.lock().release(permit, self.clock.now());
        }
    }
}

impl<S, C, Req> Service<Req> for ConcurrencyLimitService<S, C>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    C: Clock + Clone,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = GuardFuture<S::Future, SlotGuard<C>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let now = self.clock.now();
        let admission = self.limiter.lock().try_acquire(now);
        match admission {
            Admission::Granted(permit) => GuardFuture::call(
                self.inner.call(request),
                SlotGuard {
                    limiter: self.limiter.clone(),
                    clock: self.clock.clone(),
                    permit: Some(permit),
                },
            ),
            Admission::Queued(ticket) => {
                // Not reachable with no queue; cancel defensively rather than leak a waiter.
                let _ = self.limiter.lock().cancel(ticket);
                GuardFuture::refused(GuardError::Overloaded)
            }
            Admission::Rejected => GuardFuture::refused(GuardError::Overloaded),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tower_layers::future::test_support::{Echo, poll_once};
    use ha_core::ManualClock;

    #[test]
    fn calls_past_the_limit_fail_and_slots_free_on_completion_or_drop() {
        let clock = ManualClock::new();
        let layer = ConcurrencyLimitLayer::new(
            ConcurrencyLimitConfig {
                max_concurrent: 1,
                max_queue: 5,
                ..Default::default()
            },
            clock,
        )
        .unwrap();
        let mut service = layer.layer(Echo);
        let pending = service.call(1);
        let Poll::Ready(Err(e)) = poll_once(service.call(2)) else {
            panic!()
        };
        assert_eq!(
            e.downcast_ref::<GuardError>(),
            Some(&GuardError::Overloaded)
        );
        drop(pending);
        assert_eq!(layer.limiter().lock().in_flight(), 0);
        assert!(matches!(poll_once(service.call(3)), Poll::Ready(Ok(3))));
        assert_eq!(layer.limiter().lock().in_flight(), 0);
    }
}
