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
