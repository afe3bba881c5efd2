//! Single-flight loading: concurrent `get_or_load` callers for one missing key share one loader
//! run and its outcome.
//!
//! The first caller (the leader) registers a flight under `(key, error type)` and runs the
//! loader; later callers find the flight and wait on it — on a condition variable in the sync
//! form, on a [`Shared`](futures_util::future::Shared) future in the async form. The leader
//! stores a value in the cache *before* it retires the flight, so a caller either finds the
//! flight or the value. A leader that panics retires its flight from a drop guard with
//! [`LoadError::Panicked`], so waiters never hang, and the cache (whose locks are never held
//! while a loader runs) is never poisoned.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};

/// Why `get_or_load` has no value: the loader failed (its error, shared by every caller that
/// waited on the same run) or panicked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError<E> {
    /// The loader returned this error.
    #[error("the loader failed: {0}")]
    Failed(Arc<E>),
    /// The loader panicked (the caller whose loader it was sees the panic itself).
    #[error("the loader panicked")]
    Panicked,
}

impl<E> Clone for LoadError<E> {
    fn clone(&self) -> Self {
        match self {
            LoadError::Failed(e) => LoadError::Failed(Arc::clone(e)),
            LoadError::Panicked => LoadError::Panicked,
        }
    }
}

impl<E> LoadError<E> {
    /// The loader's error, if it returned one.
    #[must_use]
    pub fn failure(&self) -> Option<&E> {
        match self {
            LoadError::Failed(e) => Some(e),
            LoadError::Panicked => None,
        }
    }
}

/// The outcome every caller of one flight gets.
pub(crate) type Outcome<V, E> = Result<V, LoadError<E>>;

/// One loader run that callers wait on.
pub(crate) struct Flight<V, E> {
    outcome: Mutex<Option<Outcome<V, E>>>,
    done: Condvar,
}

impl<V: Clone, E> Flight<V, E> {
    /// Blocks until the leader finishes, then returns its outcome.
    pub(crate) fn wait(&self) -> Outcome<V, E> {
        let mut outcome = self.outcome.lock();
        loop {
            if let Some(outcome) = outcome.as_ref() {
                return outcome.clone();
            }
            self.done.wait(&mut outcome);
        }
    }
}

type FlightKey<K> = (K, TypeId);
type FlightMap<K> = HashMap<FlightKey<K>, Arc<dyn Any + Send + Sync>, ahash::RandomState>;

/// The flights in progress, sync or async, keyed by `(key, error type)`.
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

impl<K: Hash + Eq + Clone> Flights<K> {
    pub(crate) fn new(seed: u64) -> Flights<K> {
        Flights {
            map: Mutex::new(HashMap::with_hasher(ahash::RandomState::with_seeds(
                seed, 1, 2, 3,
            ))),
        }
    }

    /// Joins the flight for `key`, or starts one and leads it.
    pub(crate) fn join<V, E>(&self, key: &K) -> Role<'_, K, V, E>
    where
        V: Clone + Send + Sync + 'static,
        E: Send + Sync + 'static,
    {
        let flight_key = (key.clone(), TypeId::of::<Flight<V, E>>());
        let mut map = self.map.lock();
        if let Some(existing) = map.get(&flight_key) {
            if let Ok(flight) = Arc::clone(existing).downcast::<Flight<V, E>>() {
                return Role::Waiter(flight);
            }
        }
        let flight = Arc::new(Flight {
            outcome: Mutex::new(None),
            done: Condvar::new(),
        });
        map.insert(flight_key.clone(), flight.clone());
        Role::Leader(Leader {
            flights: self,
            key: Some(flight_key),
            flight,
        })
    }

    /// Runs `f` on the async flight registered for `key` and type `T`, registering the one
    /// `make` builds if there is none; `make` may decline with a value of its own.
    pub(crate) fn shared<T, R, X>(
        &self,
        key: &K,
        make: impl FnOnce() -> Result<T, X>,
        f: impl FnOnce(&T) -> R,
    ) -> Result<R, X>
    where
        T: Send + Sync + 'static,
    {
        let flight_key = (key.clone(), TypeId::of::<T>());
        let mut map = self.map.lock();
        if let Some(flight) = map.get(&flight_key).and_then(|f| f.downcast_ref::<T>()) {
            return Ok(f(flight));
        }
        let made = make()?;
        let out = f(&made);
        map.insert(flight_key, Arc::new(made));
        Ok(out)
    }

    /// Retires the async flight for `key` and type `T`.
    pub(crate) fn retire<T: 'static>(&self, key: K) {
        self.map.lock().remove(&(key, TypeId::of::<T>()));
    }
}

/// What a `get_or_load` caller does: wait for a flight, or lead one.
pub(crate) enum Role<'a, K: Hash + Eq, V: Clone, E> {
    Waiter(Arc<Flight<V, E>>),
    Leader(Leader<'a, K, V, E>),
}

/// The leader's duty: finish its flight, even by unwinding.
pub(crate) struct Leader<'a, K: Hash + Eq, V: Clone, E> {
    flights: &'a Flights<K>,
    key: Option<FlightKey<K>>,
    flight: Arc<Flight<V, E>>,
}

impl<K: Hash + Eq, V: Clone, E> Leader<'_, K, V, E> {
    /// Hands `outcome` to every waiter and retires the flight.
    pub(crate) fn finish(mut self, outcome: Outcome<V, E>) {
        self.complete(outcome);
    }

    fn complete(&mut self, outcome: Outcome<V, E>) {
        *self.flight.outcome.lock() = Some(outcome);
        self.flight.done.notify_all();
        if let Some(key) = self.key.take() {
            self.flights.map.lock().remove(&key);
        }
    }
}

impl<K: Hash + Eq, V: Clone, E> Drop for Leader<'_, K, V, E> {
    fn drop(&mut self) {
        if self.key.is_some() {
            // Dropped unfinished: the loader panicked.
            self.complete(Err(LoadError::Panicked));
        }
    }
}
