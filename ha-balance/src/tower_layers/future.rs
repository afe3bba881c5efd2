//! The response future shared by the guard services.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tower::BoxError;

use super::GuardError;

/// Something that learns how a call ended: records it in a breaker, frees a slot.
pub(crate) trait OnComplete: Send {
    /// The call ended; `ok` says whether the inner service succeeded.
    fn complete(&mut self, ok: bool);
}

/// The rate limit's guard: nothing to do when a call ends.
#[derive(Debug, Clone, Copy)]
pub struct Unguarded;

impl OnComplete for Unguarded {
    fn complete(&mut self, _ok: bool) {}
}

pin_project_lite::pin_project! {
    /// The response future of the guard services: the inner call, or an immediate refusal.
    #[derive(Debug)]
    pub struct GuardFuture<F, G> {
        #[pin]
        inner: Option<F>,
        refused: Option<GuardError>,
        guard: Option<G>,
    }
}

impl<F, G> GuardFuture<F, G> {
    pub(crate) fn call(inner: F, guard: G) -> Self {
        GuardFuture {
            inner: Some(inner),
            refused: None,
            guard: Some(guard),
        }
    }

    pub(crate) fn refused(error: GuardError) -> Self {
        GuardFuture {
            inner: None,
            refused: Some(error),
            guard: None,
        }
    }
}

#[allow(private_bounds)]
impl<F, T, E, G> Future for GuardFuture<F, G>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
    G: OnComplete,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        match this.inner.as_pin_mut() {
            None => Poll::Ready(Err(this.refused.take().map_or_else(
                || BoxError::from("guard future polled after completion"),
                BoxError::from,
            ))),
            Some(inner) => match inner.poll(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(result) => {
                    if let Some(mut guard) = this.guard.take() {
                        guard.complete(result.is_ok());
                    }
                    Poll::Ready(result.map_err(Into::into))
                }
            },
        }
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use std::future::{Ready, ready};
    use std::task::{Context, Poll, Waker};

    use tower::Service;

    /// A service answering `Ok(n)` for `n < 100` and `Err` otherwise, at once.
    #[derive(Debug, Clone, Copy)]
    pub(crate) struct Echo;

    impl Service<u32> for Echo {
        type Response = u32;
        type Error = &'static str;
        type Future = Ready<Result<u32, &'static str>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, n: u32) -> Self::Future {
            ready(if n < 100 { Ok(n) } else { Err("failed") })
        }
    }

    /// Polls a future once with a no-op waker.
    pub(crate) fn poll_once<F: std::future::Future>(f: F) -> Poll<F::Output> {
        let mut f = std::pin::pin!(f);
        f.as_mut().poll(&mut Context::from_waker(Waker::noop()))
    }
}
