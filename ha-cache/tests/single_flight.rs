//! Single-flight loading, sync and async: one loader run per missing key, shared outcomes,
//! panics contained.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use futures::channel::oneshot;
use futures::executor::block_on;
use futures::future::{join, join_all};
use ha_cache::{Cache, LoadError};

#[derive(Debug, PartialEq)]
struct DbDown;

#[test]
fn concurrent_sync_callers_share_one_error() {
    let cache: Cache<u32, u32> = Cache::builder(100).build().unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let barrier = Arc::new(Barrier::new(4));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let (cache, runs, barrier) = (cache.clone(), runs.clone(), barrier.clone());
            thread::spawn(move || {
                barrier.wait();
                cache.get_or_load(1, |_| {
                    runs.fetch_add(1, Ordering::SeqCst);
                    thread::sleep(Duration::from_millis(50));
                    Err(DbDown)
                })
            })
        })
        .collect();
    let outcomes: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    for outcome in &outcomes {
        assert_eq!(outcome.as_ref().unwrap_err().failure(), Some(&DbDown));
    }
    assert!(!cache.contains(&1));
    assert_eq!(cache.stats().load_failures, 1);
}

#[test]
fn a_panicking_sync_loader_releases_its_waiters_and_the_cache_keeps_working() {
    let cache: Cache<u32, u32> = Cache::builder(100).build().unwrap();
    let barrier = Arc::new(Barrier::new(2));
    let leader = {
        let (cache, barrier) = (cache.clone(), barrier.clone());
        thread::spawn(move || {
            catch_unwind(AssertUnwindSafe(|| {
                cache.get_or_load(1, |_| -> Result<u32, DbDown> {
                    barrier.wait();
                    thread::sleep(Duration::from_millis(50));
                    panic!("loader bug")
                })
            }))
            .is_err()
        })
    };
    barrier.wait();
    // The leader is inside its loader now: this call waits on its flight.
    let waited = cache.get_or_load(1, |_| Ok::<_, DbDown>(7));
    assert!(leader.join().unwrap(), "the leader sees its own panic");
    // Either the waiter joined the flight (Panicked) or came after it and loaded itself.
    assert!(matches!(waited, Err(LoadError::Panicked) | Ok(7)));
    assert_eq!(
        cache.get_or_load(1, |_| Ok::<_, DbDown>(8)).unwrap(),
        waited.unwrap_or(8)
    );
    cache.insert(2, 2);
    assert_eq!(cache.get(&2), Some(2));
}

#[test]
fn async_callers_share_one_load() {
    let cache: Cache<u32, String> = Cache::builder(100).build().unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = oneshot::channel::<()>();
    let rx = Arc::new(std::sync::Mutex::new(Some(rx)));
    let callers = (0..5).map(|_| {
        let (runs, rx) = (runs.clone(), rx.clone());
        cache.get_or_load_async(9, move |key| {
            runs.fetch_add(1, Ordering::SeqCst);
            let rx = rx.lock().unwrap().take().unwrap();
            async move {
                rx.await.unwrap();
                Ok::<_, DbDown>(format!("value {key}"))
            }
        })
    });
    let (outcomes, ()) = block_on(join(join_all(callers), async move {
        tx.send(()).unwrap();
    }));
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    for outcome in outcomes {
        assert_eq!(outcome.unwrap(), "value 9");
    }
    assert_eq!(cache.get(&9).as_deref(), Some("value 9"));
    assert_eq!(cache.stats().load_successes, 1);
}

#[test]
fn a_panicking_async_load_gives_every_caller_an_error() {
    let cache: Cache<u32, u32> = Cache::builder(100).build().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let rx = Arc::new(std::sync::Mutex::new(Some(rx)));
    let callers = (0..3).map(|_| {
        let rx = rx.clone();
        cache.get_or_load_async(1, move |_| {
            let rx = rx.lock().unwrap().take().unwrap();
            async move {
                rx.await.unwrap();
                if true {
                    panic!("loader bug");
                }
                Ok::<u32, DbDown>(1)
            }
        })
    });
    let (outcomes, ()) = block_on(join(join_all(callers), async move {
        tx.send(()).unwrap();
    }));
    for outcome in outcomes {
        assert!(matches!(outcome, Err(LoadError::Panicked)));
    }
    // The flight is retired: the next load runs afresh.
    let next = block_on(cache.get_or_load_async(1, |_| async { Ok::<_, DbDown>(5) }));
    assert_eq!(next.unwrap(), 5);
}

#[test]
fn an_abandoned_async_load_is_resumed_by_the_next_caller() {
    let cache: Cache<u32, u32> = Cache::builder(100).build().unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    {
        let runs = runs.clone();
        let first = cache.get_or_load_async(3, move |_| {
            runs.fetch_add(1, Ordering::SeqCst);
            async { futures::future::pending::<Result<u32, DbDown>>().await }
        });
        // Poll once, then drop it.
        let mut first = Box::pin(first);
        let waker = futures::task::noop_waker();
        let mut cx = std::task::Context::from_waker(&waker);
        assert!(first.as_mut().poll(&mut cx).is_pending());
    }
    // The abandoned load is still registered; a second caller joins it rather than loading.
    let runs2 = runs.clone();
    let mut second = Box::pin(cache.get_or_load_async(3, move |_| {
        runs2.fetch_add(1, Ordering::SeqCst);
        async { Ok::<_, DbDown>(4) }
    }));
    let waker = futures::task::noop_waker();
    let mut cx = std::task::Context::from_waker(&waker);
    assert!(second.as_mut().poll(&mut cx).is_pending());
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

use std::future::Future;

/// Runs `f` on a thread and fails the test if it does not finish within 10 s (a deadlock).
fn within_10s<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(10))
        .unwrap_or_else(|_| panic!("{what}: no answer within 10 s (deadlock)"))
}

#[test]
fn an_async_loader_that_loads_another_key_of_the_same_cache_does_not_deadlock() {
    let cache: Cache<u32, u32> = Cache::builder(100).build().unwrap();
    let value = within_10s("re-entrant async loader", move || {
        let inner = cache.clone();
        block_on(cache.get_or_load_async(1, move |_| {
            // The loader closure itself uses the cache (sync), and so does its future (async).
            let two = inner.get_or_load(2, |_| Ok::<_, DbDown>(2)).unwrap();
            async move {
                let three = inner
                    .get_or_load_async(3, |_| async { Ok::<_, DbDown>(3) })
                    .await
                    .unwrap();
                Ok::<_, DbDown>(two + three)
            }
        }))
    });
    assert_eq!(value.unwrap(), 5);
}

#[test]
fn a_sync_loader_that_loads_other_keys_works_and_its_own_key_is_refused() {
    let cache: Cache<u32, u32> = Cache::builder(100).build().unwrap();
    let inner = cache.clone();
    let (value, own) = within_10s("re-entrant sync loader", move || {
        let mut own = None;
        let value = cache.get_or_load(1, |_| {
            own = Some(inner.get_or_load(1, |_| Ok::<_, DbDown>(99)));
            let async_own = block_on(inner.get_or_load_async(1, |_| async { Ok::<_, DbDown>(98) }));
            assert!(matches!(async_own, Err(LoadError::Recursive)));
            Ok::<_, DbDown>(inner.get_or_load(2, |_| Ok::<_, DbDown>(2)).unwrap() + 1)
        });
        (value, own)
    });
    assert_eq!(value.unwrap(), 3);
    assert!(matches!(own, Some(Err(LoadError::Recursive))));
}

#[test]
fn an_async_caller_joins_a_sync_load_of_the_same_key() {
    let cache: Cache<u32, u32> = Cache::builder(100).build().unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let (entered_tx, entered_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let leader = {
        let (cache, runs) = (cache.clone(), runs.clone());
        thread::spawn(move || {
            cache.get_or_load(5, |_| {
                runs.fetch_add(1, Ordering::SeqCst);
                entered_tx.send(()).unwrap();
                release_rx.recv().unwrap();
                Ok::<_, DbDown>(50)
            })
        })
    };
    entered_rx.recv().unwrap(); // the sync leader is inside its loader
    let runs2 = runs.clone();
    let mut waiter = Box::pin(cache.get_or_load_async(5, move |_| {
        runs2.fetch_add(1, Ordering::SeqCst);
        async { Ok::<_, DbDown>(51) }
    }));
    let waker = futures::task::noop_waker();
    let mut cx = std::task::Context::from_waker(&waker);
    assert!(
        waiter.as_mut().poll(&mut cx).is_pending(),
        "joined the sync flight"
    );
    release_tx.send(()).unwrap();
    assert_eq!(leader.join().unwrap().unwrap(), 50);
    assert_eq!(block_on(waiter).unwrap(), 50); // the leader has finished: ready at once
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[test]
fn a_sync_caller_joins_and_drives_an_async_load_of_the_same_key() {
    let cache: Cache<u32, u32> = Cache::builder(100).build().unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = oneshot::channel::<()>();
    let runs1 = runs.clone();
    let mut first = Box::pin(cache.get_or_load_async(6, move |_| {
        runs1.fetch_add(1, Ordering::SeqCst);
        async move {
            rx.await.unwrap();
            Ok::<_, DbDown>(60)
        }
    }));
    let waker = futures::task::noop_waker();
    let mut cx = std::task::Context::from_waker(&waker);
    assert!(first.as_mut().poll(&mut cx).is_pending());
    drop(first); // nobody drives the async load any more: the sync caller must
    let sync = {
        let (cache, runs) = (cache.clone(), runs.clone());
        thread::spawn(move || {
            cache.get_or_load(6, |_| {
                runs.fetch_add(1, Ordering::SeqCst);
                Ok::<_, DbDown>(61)
            })
        })
    };
    thread::sleep(Duration::from_millis(50));
    tx.send(()).unwrap();
    let value = within_10s("sync waiter", move || sync.join().unwrap());
    assert_eq!(value.unwrap(), 60);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(cache.get(&6), Some(60));
}
