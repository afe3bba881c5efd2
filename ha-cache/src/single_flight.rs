//! Single-flight loading: concurrent `get_or_load` / `get_or_load_async` callers for one missing
//! key share one loader run and its outcome.
//!
//! Every flight, sync or async, is one [`Shared`] future registered under `(key, value and
//! error types)`, so a sync caller and an async caller of the same key share one load:
//! - an **async** leader registers the load itself (its loader closure is called on the
//!   future's first poll, never under the flights lock), and whoever polls the shared future
//!   drives it — a sync caller that joins it drives it on its own thread;
//! - a **sync** leader registers a future that completes when it finishes, runs its loader on
//!   its own thread, then completes the flight — sync waiters block on it (a condition variable
//!   wakes them), async waiters await it.
//!
//! The flights lock is held only to look a flight up or register one; no loader and no other
//! lock of the cache runs under it. A leader stores a value in the cache *before* it retires
//! its flight, so a caller either finds the flight or the value. A sync leader that panics
//! completes its flight from a drop guard with [`LoadError::Panicked`], so waiters never hang,
//! and the cache is never poisoned. A sync loader that asks for its own key (directly or through
//! `get_or_load_async` on the same thread) gets [`LoadError::Recursive`] instead of waiting on
//! itself forever.

use std::any::{Any, TypeId};
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};
use parking_lot::{Condvar, Mutex};

/// Why `get_or_load` has no value: the loader failed (its error, shared by every caller that
/// waited on the same run), panicked, or asked for its own key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError<E> {
    /// The loader returned this error.
    #[error("the loader failed: {0}")]
    Failed(Arc<E>),
    /// The loader panicked (the caller whose loader it was sees the panic itself).
    #[error("the loader panicked")]
    Panicked,
    /// A sync loader asked the cache for the very key it is loading (on its own thread): it
    /// would have waited on itself forever.
    #[error("the loader asked for the key it is loading")]
    Recursive,
}

impl<E> Clone for LoadError<E> {
    fn clone(&self) -> Self {
        match self {
            LoadError::Failed(e) => LoadError::Failed(Arc::clone(e)),
            LoadError::Panicked => LoadError::Panicked,
            LoadError::Recursive => LoadError::Recursive,
        }
    }
}

impl<E> LoadError<E> {
    /// The loader's error, if it returned one.
    #[must_use]
    pub fn failure(&self) -> Option<&E> {
        match self {
            LoadError::Failed(e) => Some(e),
            LoadError::Panicked | LoadError::Recursive => None,
        }
    }
}

/// The outcome every caller of one flight gets.
pub(crate) type Outcome<V, E> = Result<V, LoadError<E>>;

/// One load, shared by every caller that joins it.
pub(crate) type SharedLoad<V, E> = Shared<BoxFuture<'static, Outcome<V, E>>>;

/// A registered flight: the shared load, and the token of the sync leader running it, if one is.
struct Entry<V, E> {
    load: SharedLoad<V, E>,
    leader: Option<u64>,
}

/// Tokens of sync leaders, unique in the process.
static NEXT_LEADER: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// The sync flights this thread is leading (their loaders are running on it).
    static LEADING: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

fn led_here(token: u64) -> bool {
    LEADING.with(|leading| leading.borrow().contains(&token))
}

type FlightKey<K> = (K, TypeId);
type FlightMap<K> = HashMap<FlightKey<K>, Arc<dyn Any + Send + Sync>, ahash::RandomState>;

/// The flights in progress, keyed by `(key, value and error types)`.
pub(crate) struct Flights<K> {
    map: Mutex<FlightMap<K>>,
}

impl<K> fmt::Debug for Flights<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Flights")
            .field("in_flight", &self.map.lock().len())
            .finish()
    }
}

fn flight_type<V: 'static, E: 'static>() -> TypeId {
    TypeId::of::<Entry<V, E>>()
}

impl<K: Hash + Eq + Clone> Flights<K> {
    pub(crate) fn new(seed: u64) -> Flights<K> {
        Flights {
            map: Mutex::new(HashMap::with_hasher(ahash::RandomState::with_seeds(
                seed, 1, 2, 3,
            ))),
        }
    }

    /// The flight registered for `key`: its load, or `Recursive` if this thread leads it.
    fn find<V, E>(
        map: &FlightMap<K>,
        flight_key: &FlightKey<K>,
    ) -> Option<Outcome<SharedLoad<V, E>, E>>
    where
        V: Clone + Send + Sync + 'static,
        E: Send + Sync + 'static,
    {
        let entry = map.get(flight_key)?.downcast_ref::<Entry<V, E>>()?;
        if entry.leader.is_some_and(led_here) {
            return Some(Err(LoadError::Recursive));
        }
        Some(Ok(entry.load.clone()))
    }

    /// Joins the flight for `key`, or starts a sync one and leads it.
    pub(crate) fn join<V, E>(&self, key: &K) -> Role<'_, K, V, E>
    where
        V: Clone + Send + Sync + 'static,
        E: Send + Sync + 'static,
    {
        let flight_key = (key.clone(), flight_type::<V, E>());
        let mut map = self.map.lock();
        if let Some(found) = Self::find::<V, E>(&map, &flight_key) {
            return Role::Waiter(found);
        }
        let completion = Arc::new(Completion {
            state: Mutex::new((None, Vec::new())),
        });
        let token = NEXT_LEADER.fetch_add(1, Ordering::Relaxed);
        let load = Awaiting(Arc::clone(&completion)).boxed().shared();
        map.insert(
            flight_key.clone(),
            Arc::new(Entry {
                load,
                leader: Some(token),
            }),
        );
        drop(map);
        LEADING.with(|leading| leading.borrow_mut().push(token));
        Role::Leader(Leader {
            flights: self,
            key: Some(flight_key),
            completion,
            token,
        })
    }

    /// The async flight for `key`: the one registered, or the one `make` builds (which must
    /// run no user code: it is called under the flights lock); `make` may decline with a value
    /// of its own.
    pub(crate) fn join_async<V, E, X>(
        &self,
        key: &K,
        make: impl FnOnce() -> Result<SharedLoad<V, E>, X>,
    ) -> Result<Outcome<SharedLoad<V, E>, E>, X>
    where
        V: Clone + Send + Sync + 'static,
        E: Send + Sync + 'static,
    {
        let flight_key = (key.clone(), flight_type::<V, E>());
        let mut map = self.map.lock();
        if let Some(found) = Self::find::<V, E>(&map, &flight_key) {
            return Ok(found);
        }
        let load = make()?;
        map.insert(
            flight_key,
            Arc::new(Entry {
                load: load.clone(),
                leader: None,
            }),
        );
        Ok(Ok(load))
    }

    /// Retires the async flight for `key`.
    pub(crate) fn retire<V: 'static, E: 'static>(&self, key: K) {
        self.map.lock().remove(&(key, flight_type::<V, E>()));
    }
}

/// What a `get_or_load` caller does: wait for a flight (or learn it is its own), or lead one.
pub(crate) enum Role<'a, K: Hash + Eq, V: Clone, E> {
    Waiter(Outcome<SharedLoad<V, E>, E>),
    Leader(Leader<'a, K, V, E>),
}

/// The outcome of a sync leader's flight (once it is known), and the wakers of those awaiting it.
type CompletionState<V, E> = (Option<Outcome<V, E>>, Vec<Waker>);

/// Where a sync leader leaves its outcome.
struct Completion<V, E> {
    state: Mutex<CompletionState<V, E>>,
}

/// The future of a sync leader's flight: ready once the leader completes it.
struct Awaiting<V, E>(Arc<Completion<V, E>>);

impl<V: Clone, E> Future for Awaiting<V, E> {
    type Output = Outcome<V, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.0.state.lock();
        if let Some(outcome) = &state.0 {
            return Poll::Ready(outcome.clone());
        }
        if !state.1.iter().any(|w| w.will_wake(cx.waker())) {
            state.1.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

/// The sync leader's duty: complete its flight, even by unwinding.
pub(crate) struct Leader<'a, K: Hash + Eq, V: Clone, E> {
    flights: &'a Flights<K>,
    key: Option<FlightKey<K>>,
    completion: Arc<Completion<V, E>>,
    token: u64,
}

impl<K: Hash + Eq, V: Clone, E> Leader<'_, K, V, E> {
    /// Hands `outcome` to every waiter and retires the flight.
    pub(crate) fn finish(mut self, outcome: Outcome<V, E>) {
        self.complete(outcome);
    }

    fn complete(&mut self, outcome: Outcome<V, E>) {
        let Some(key) = self.key.take() else {
            return;
        };
        LEADING.with(|leading| leading.borrow_mut().retain(|&t| t != self.token));
        let wakers = {
            let mut state = self.completion.state.lock();
            state.0 = Some(outcome);
            std::mem::take(&mut state.1)
        };
        self.flights.map.lock().remove(&key);
        for waker in wakers {
            waker.wake();
        }
    }
}

impl<K: Hash + Eq, V: Clone, E> Drop for Leader<'_, K, V, E> {
    fn drop(&mut self) {
        // Dropped unfinished: the loader panicked.
        self.complete(Err(LoadError::Panicked));
    }
}

/// Wakes a thread blocked in [`block_on`].
#[derive(Default)]
struct Signal {
    woken: Mutex<bool>,
    wake: Condvar,
}

impl Wake for Signal {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        *self.woken.lock() = true;
        self.wake.notify_all();
    }
}

/// Drives `future` to completion on this thread, sleeping on a condition variable while it is
/// pending: how a sync caller waits on (or drives) a shared load.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let signal = Arc::new(Signal::default());
    let waker = Waker::from(Arc::clone(&signal));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        let mut woken = signal.woken.lock();
        while !*woken {
            signal.wake.wait(&mut woken);
        }
        *woken = false;
    }
}
