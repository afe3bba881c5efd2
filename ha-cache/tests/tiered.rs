//! The two-level cache: read-through, write policies, negative caching, L2 failures, per-level
//! statistics and single-flight loads.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::executor::block_on;
use ha_cache::{
    Backend, BoxError, Cache, InsertOptions, MemoryBackend, Slot, TierError, TieredCache,
    TieredConfig, WritePolicy, origin_fn,
};
use ha_core::ManualClock;

type Tiered = TieredCache<String, String, MemoryBackend<String, String>>;

/// A tiered cache over a shared memory L2 whose origin knows `user:1` and `user:2`, and counts
/// its calls.
fn tiered(
    clock: &ManualClock,
    configure: impl FnOnce(
        ha_cache::TieredBuilder<String, String, MemoryBackend<String, String>>,
    )
        -> ha_cache::TieredBuilder<String, String, MemoryBackend<String, String>>,
) -> (Tiered, MemoryBackend<String, String>, Arc<AtomicU64>) {
    let l2 = MemoryBackend::with_clock(clock.clone());
    let calls = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&calls);
    let builder = TieredCache::builder(Cache::builder(1_000), l2.clone())
        .clock(clock.clone())
        .origin(origin_fn(move |key: String| {
            counted.fetch_add(1, Ordering::SeqCst);
            async move {
                Ok::<_, BoxError>(match key.as_str() {
                    "user:1" => Some("ada".to_string()),
                    "user:2" => Some("bob".to_string()),
                    _ => None,
                })
            }
        }));
    (configure(builder).build().unwrap(), l2, calls)
}

fn k(s: &str) -> String {
    s.to_string()
}

#[test]
fn read_through_loads_the_origin_once_and_fills_both_levels() {
    let clock = ManualClock::new();
    let (cache, l2, calls) = tiered(&clock, |b| b);
    block_on(async {
        assert_eq!(
            cache.get(&k("user:1")).await.unwrap().as_deref(),
            Some("ada")
        );
        assert_eq!(l2.get(&k("user:1")).await.unwrap().as_deref(), Some("ada"));
        assert_eq!(cache.l1().peek("user:1"), Some(Slot::Present(k("ada"))));
        assert_eq!(
            cache.get(&k("user:1")).await.unwrap().as_deref(),
            Some("ada")
        );
    });
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let stats = cache.stats();
    assert_eq!((stats.l1_hits, stats.l1_misses), (1, 1));
    assert_eq!((stats.l2_hits, stats.l2_misses, stats.l2_errors), (0, 1, 0));
    assert_eq!((stats.origin_loads, stats.origin_misses), (1, 0));
}

#[test]
fn an_l2_hit_fills_l1_without_asking_the_origin() {
    let clock = ManualClock::new();
    let (cache, l2, calls) = tiered(&clock, |b| b);
    block_on(async {
        l2.set(&k("user:9"), &k("zed"), &InsertOptions::new())
            .await
            .unwrap();
        assert_eq!(
            cache.get(&k("user:9")).await.unwrap().as_deref(),
            Some("zed")
        );
    });
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    assert!(cache.l1().contains("user:9"));
    assert_eq!(cache.stats().l2_hits, 1);
}

#[test]
fn write_through_keeps_the_written_value_in_l1() {
    let clock = ManualClock::new();
    let (cache, l2, _) = tiered(&clock, |b| b.write_policy(WritePolicy::WriteThrough));
    block_on(async {
        cache.get(&k("user:1")).await.unwrap();
        cache.set(k("user:1"), k("ada lovelace")).await.unwrap();
        assert_eq!(
            cache.l1().peek("user:1"),
            Some(Slot::Present(k("ada lovelace")))
        );
        assert_eq!(
            l2.get(&k("user:1")).await.unwrap().as_deref(),
            Some("ada lovelace")
        );
        assert_eq!(
            cache.get(&k("user:1")).await.unwrap().as_deref(),
            Some("ada lovelace")
        );
    });
    assert_eq!(cache.stats().l1_hits, 1);
}

#[test]
fn invalidate_on_write_removes_the_key_from_l1_and_reloads_it_from_l2() {
    let clock = ManualClock::new();
    let (cache, l2, calls) = tiered(&clock, |b| b.write_policy(WritePolicy::InvalidateOnWrite));
    block_on(async {
        cache.get(&k("user:1")).await.unwrap();
        cache.set(k("user:1"), k("ada lovelace")).await.unwrap();
        assert!(!cache.l1().contains("user:1"));
        assert_eq!(
            l2.get(&k("user:1")).await.unwrap().as_deref(),
            Some("ada lovelace")
        );
        assert_eq!(
            cache.get(&k("user:1")).await.unwrap().as_deref(),
            Some("ada lovelace")
        );
    });
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(cache.stats().l2_hits, 1);
}

#[test]
fn negative_entries_answer_until_their_ttl_then_the_origin_is_asked_again() {
    let clock = ManualClock::new();
    let (cache, _, calls) = tiered(&clock, |b| b.negative_ttl(Duration::from_secs(5)));
    block_on(async {
        assert_eq!(cache.get(&k("ghost")).await.unwrap(), None);
        clock.advance(Duration::from_secs(4));
        assert_eq!(cache.get(&k("ghost")).await.unwrap(), None);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        clock.advance(Duration::from_secs(1));
        assert_eq!(cache.get(&k("ghost")).await.unwrap(), None);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    });
    let stats = cache.stats();
    assert_eq!(stats.negative_hits, 1);
    assert_eq!(stats.negative_inserts, 2);
    assert_eq!(stats.origin_misses, 2);
}

#[test]
fn a_write_replaces_a_negative_entry() {
    let clock = ManualClock::new();
    let (cache, _, _) = tiered(&clock, |b| b.negative_ttl(Duration::from_secs(60)));
    block_on(async {
        assert_eq!(cache.get(&k("ghost")).await.unwrap(), None);
        cache.set(k("ghost"), k("boo")).await.unwrap();
        assert_eq!(
            cache.get(&k("ghost")).await.unwrap().as_deref(),
            Some("boo")
        );
    });
}

#[test]
fn without_negative_ttl_absence_is_not_cached() {
    let clock = ManualClock::new();
    let (cache, _, calls) = tiered(&clock, |b| b);
    block_on(async {
        for _ in 0..3 {
            assert_eq!(cache.get(&k("ghost")).await.unwrap(), None);
        }
    });
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert!(!cache.l1().contains("ghost"));
    assert_eq!(cache.stats().negative_hits, 0);
}

#[test]
fn a_failing_l2_falls_back_to_the_origin_without_writing_l2() {
    let clock = ManualClock::new();
    let (cache, l2, calls) = tiered(&clock, |b| b);
    l2.set_available(false);
    block_on(async {
        assert_eq!(
            cache.get(&k("user:2")).await.unwrap().as_deref(),
            Some("bob")
        );
    });
    l2.set_available(true);
    assert!(l2.is_empty());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let stats = cache.stats();
    assert_eq!(
        (stats.l2_errors, stats.fallbacks, stats.origin_loads),
        (1, 1, 1)
    );
}

#[test]
fn a_failing_l2_without_origin_returns_the_error_and_caches_nothing() {
    let clock = ManualClock::new();
    let l2: MemoryBackend<String, String> = MemoryBackend::with_clock(clock.clone());
    let cache = TieredCache::builder(Cache::builder(100), l2.clone())
        .clock(clock.clone())
        .negative_ttl(Duration::from_secs(60))
        .build()
        .unwrap();
    block_on(async {
        l2.set(&k("a"), &k("1"), &InsertOptions::new())
            .await
            .unwrap();
        l2.set_available(false);
        let err = cache.get(&k("a")).await.unwrap_err();
        assert!(matches!(err, TierError::Backend(_)));
        assert!(err.backend().is_some());
        assert!(
            cache.l1().is_empty(),
            "an L2 error must not be cached as absence"
        );
        l2.set_available(true);
        assert_eq!(cache.get(&k("a")).await.unwrap().as_deref(), Some("1"));
    });
    assert_eq!(cache.stats().l2_errors, 1);
}

#[test]
fn a_failed_l2_write_returns_the_error_and_removes_the_old_l1_value() {
    let clock = ManualClock::new();
    let (cache, l2, _) = tiered(&clock, |b| b);
    block_on(async {
        cache.get(&k("user:1")).await.unwrap();
        l2.set_available(false);
        assert!(cache.set(k("user:1"), k("new")).await.is_err());
        assert!(!cache.l1().contains("user:1"));
        assert!(cache.delete(&k("user:2")).await.is_err());
        l2.set_available(true);
        // L2 kept the old value; the next read serves it, not the refused one.
        assert_eq!(
            cache.get(&k("user:1")).await.unwrap().as_deref(),
            Some("ada")
        );
    });
    assert_eq!(cache.stats().l2_errors, 2);
}

#[test]
fn an_origin_error_is_returned_and_not_cached() {
    let clock = ManualClock::new();
    let l2: MemoryBackend<String, String> = MemoryBackend::with_clock(clock.clone());
    let fail = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let failing = Arc::clone(&fail);
    let cache = TieredCache::builder(Cache::builder(100), l2)
        .clock(clock.clone())
        .negative_ttl(Duration::from_secs(60))
        .origin(origin_fn(move |_key: String| {
            let fail = failing.load(Ordering::SeqCst);
            async move {
                if fail {
                    Err::<Option<String>, BoxError>("db down".into())
                } else {
                    Ok(Some("v".to_string()))
                }
            }
        }))
        .build()
        .unwrap();
    block_on(async {
        let err = cache.get(&k("a")).await.unwrap_err();
        assert_eq!(err.to_string(), "the origin loader failed: db down");
        assert!(cache.l1().is_empty());
        fail.store(false, Ordering::SeqCst);
        assert_eq!(cache.get(&k("a")).await.unwrap().as_deref(), Some("v"));
    });
    assert_eq!(cache.stats().origin_errors, 1);
}

#[test]
fn a_panicking_origin_gives_an_error_and_leaves_the_cache_usable() {
    let clock = ManualClock::new();
    let l2: MemoryBackend<String, String> = MemoryBackend::with_clock(clock.clone());
    let cache = TieredCache::builder(Cache::builder(100), l2)
        .clock(clock.clone())
        .origin(origin_fn(|key: String| async move {
            assert!(key != "bomb", "origin exploded");
            Ok::<_, BoxError>(Some(key))
        }))
        .build()
        .unwrap();
    block_on(async {
        assert!(matches!(
            cache.get(&k("bomb")).await,
            Err(TierError::LoadPanicked)
        ));
        assert_eq!(
            cache.get(&k("fine")).await.unwrap().as_deref(),
            Some("fine")
        );
        assert!(cache.l1().check_invariants().is_ok());
    });
}

#[test]
fn get_many_asks_l2_once_for_the_l1_misses_and_the_origin_for_the_rest() {
    let clock = ManualClock::new();
    let (cache, l2, calls) = tiered(&clock, |b| b.negative_ttl(Duration::from_secs(5)));
    block_on(async {
        cache.get(&k("user:1")).await.unwrap(); // L1 holds user:1
        l2.set(&k("x"), &k("from l2"), &InsertOptions::new())
            .await
            .unwrap();
        let keys = [k("user:1"), k("x"), k("user:2"), k("ghost")];
        let values = cache.get_many(&keys).await.unwrap();
        assert_eq!(
            values,
            vec![Some(k("ada")), Some(k("from l2")), Some(k("bob")), None]
        );
        assert_eq!(l2.get(&k("user:2")).await.unwrap().as_deref(), Some("bob"));
        assert_eq!(cache.l1().peek("x"), Some(Slot::Present(k("from l2"))));
        // Everything is now in L1 (ghost as a negative entry).
        assert_eq!(cache.get_many(&keys).await.unwrap(), values);
    });
    assert_eq!(calls.load(Ordering::SeqCst), 3); // user:1, user:2, ghost
    let stats = cache.stats();
    assert_eq!(stats.l1_hits, 4);
    assert_eq!(stats.negative_hits, 1);
}

#[test]
fn set_many_writes_both_levels_and_invalidations_clear_both() {
    let clock = ManualClock::new();
    let (cache, l2, _) = tiered(&clock, |b| b);
    block_on(async {
        cache
            .set_many(vec![
                (k("user:7"), k("g")),
                (k("user:8"), k("h")),
                (k("order:1"), k("o")),
            ])
            .await
            .unwrap();
        assert_eq!(cache.l1().len(), 3);
        assert_eq!(l2.len(), 3);
        assert_eq!(cache.invalidate_pattern("user:*").await.unwrap(), 2);
        assert_eq!(cache.l1().len(), 1);
        assert_eq!(l2.len(), 1);
        assert!(cache.invalidate_pattern("user:[").await.is_err());

        let tagged = InsertOptions::new().tag("team:red");
        cache.set_with(k("t1"), k("r"), &tagged).await.unwrap();
        assert_eq!(cache.invalidate_tag("team:red").await.unwrap(), 1);
        assert!(!cache.l1().contains("t1"));
        assert_eq!(l2.get(&k("t1")).await.unwrap(), None);
        assert!(cache.delete(&k("order:1")).await.unwrap());
        assert!(cache.l1().is_empty());
    });
}

#[test]
fn l2_ttl_and_per_write_ttl_reach_l2() {
    let clock = ManualClock::new();
    let (cache, l2, _) = tiered(&clock, |b| b.l2_ttl(Duration::from_secs(10)));
    block_on(async {
        cache.set(k("a"), k("1")).await.unwrap();
        let short = InsertOptions::new().ttl(Duration::from_secs(2));
        cache.set_with(k("b"), k("2"), &short).await.unwrap();
        clock.advance(Duration::from_secs(2));
        assert_eq!(l2.get(&k("b")).await.unwrap(), None);
        assert!(!cache.l1().contains("b"));
        clock.advance(Duration::from_secs(8));
        assert_eq!(l2.get(&k("a")).await.unwrap(), None);
        let zero = InsertOptions::new().ttl(Duration::ZERO);
        assert!(matches!(
            cache.set_with(k("c"), k("3"), &zero).await,
            Err(TierError::Cache(_))
        ));
        assert_eq!(l2.get(&k("c")).await.unwrap(), None);
    });
}

#[test]
fn zero_durations_in_the_config_are_refused_at_build() {
    let l2: MemoryBackend<String, String> = MemoryBackend::new();
    let config = TieredConfig {
        l2_ttl: Some(Duration::ZERO),
        ..TieredConfig::default()
    };
    let err = TieredCache::builder(Cache::builder(10), l2.clone())
        .config(config)
        .build()
        .unwrap_err();
    assert_eq!(err.to_string(), "l2_ttl must be greater than zero");
    assert!(TieredCache::builder(Cache::builder(0), l2).build().is_err());
}

#[test]
fn single_flight_runs_the_origin_once_under_concurrent_misses() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_time()
        .build()
        .unwrap();
    let l2: MemoryBackend<String, String> = MemoryBackend::new();
    let calls = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&calls);
    let cache = TieredCache::builder(Cache::builder(100), l2)
        .origin(origin_fn(move |key: String| {
            counted.fetch_add(1, Ordering::SeqCst);
            async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                Ok::<_, BoxError>(Some(format!("v:{key}")))
            }
        }))
        .build()
        .unwrap();
    let values = runtime.block_on(async {
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let cache = cache.clone();
                tokio::spawn(async move { cache.get(&k("hot")).await })
            })
            .collect();
        let mut values = Vec::new();
        for task in tasks {
            values.push(task.await.unwrap().unwrap());
        }
        values
    });
    assert!(values.iter().all(|v| v.as_deref() == Some("v:hot")));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let stats = cache.stats();
    assert_eq!(stats.origin_loads, 1);
    assert_eq!(stats.l2_misses, 1);
    assert_eq!(stats.l1_hits + stats.l1_misses, 32);
}

#[test]
fn a_write_during_a_load_never_leaves_the_old_value_in_l1() {
    // The origin is slow; a write lands while the load is in flight. The load's (older) value
    // must not survive in L1.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    let l2: MemoryBackend<String, String> = MemoryBackend::new();
    let cache = TieredCache::builder(Cache::builder(100), l2)
        .origin(origin_fn(|_key: String| async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            Ok::<_, BoxError>(Some("old".to_string()))
        }))
        .build()
        .unwrap();
    runtime.block_on(async {
        let reader = {
            let cache = cache.clone();
            tokio::spawn(async move { cache.get(&k("a")).await })
        };
        tokio::time::sleep(Duration::from_millis(10)).await;
        cache.set(k("a"), k("new")).await.unwrap();
        reader.await.unwrap().unwrap();
        assert_ne!(cache.l1().peek("a"), Some(Slot::Present(k("old"))));
    });
}

#[test]
fn a_tag_invalidation_reaches_values_that_reads_brought_into_l1() {
    let clock = ManualClock::new();
    let (cache, l2, _) = tiered(&clock, |b| b.write_policy(WritePolicy::InvalidateOnWrite));
    block_on(async {
        let tagged = InsertOptions::new().tag("team:red");
        cache.set_with(k("t1"), k("r"), &tagged).await.unwrap();
        // A read fills L1 from L2; the copy there does not carry the tag.
        assert_eq!(cache.get(&k("t1")).await.unwrap().as_deref(), Some("r"));
        assert!(cache.l1().contains("t1"));
        assert_eq!(cache.invalidate_tag("team:red").await.unwrap(), 1);
        assert_eq!(l2.get(&k("t1")).await.unwrap(), None);
        assert_eq!(cache.get(&k("t1")).await.unwrap(), None);
    });
}

/// A memory L2 whose writes and invalidations hang while `stall` is set.
#[derive(Debug, Clone)]
struct Stalling {
    inner: MemoryBackend<String, String>,
    stall: Arc<std::sync::atomic::AtomicBool>,
}

impl Stalling {
    async fn wait(&self) {
        if self.stall.load(Ordering::SeqCst) {
            futures::future::pending::<()>().await;
        }
    }
}

#[async_trait::async_trait]
impl Backend<String, String> for Stalling {
    async fn get(&self, key: &String) -> Result<Option<String>, ha_cache::BackendError> {
        self.inner.get(key).await
    }
    async fn set(
        &self,
        key: &String,
        value: &String,
        options: &InsertOptions,
    ) -> Result<(), ha_cache::BackendError> {
        self.wait().await;
        self.inner.set(key, value, options).await
    }
    async fn delete(&self, key: &String) -> Result<bool, ha_cache::BackendError> {
        self.wait().await;
        self.inner.delete(key).await
    }
    async fn invalidate_pattern(&self, pattern: &str) -> Result<u64, ha_cache::BackendError> {
        self.wait().await;
        self.inner.invalidate_pattern(pattern).await
    }
    async fn invalidate_tag(&self, tag: &str) -> Result<u64, ha_cache::BackendError> {
        self.wait().await;
        self.inner.invalidate_tag(tag).await
    }
}

#[test]
fn a_write_whose_future_is_dropped_does_not_keep_later_loads_out_of_l1() {
    let l2 = Stalling {
        inner: MemoryBackend::new(),
        stall: Arc::new(std::sync::atomic::AtomicBool::new(true)),
    };
    let cache = TieredCache::builder(Cache::builder(100), l2.clone())
        .build()
        .unwrap();
    let waker = futures::task::noop_waker();
    let mut cx = std::task::Context::from_waker(&waker);
    {
        // Cancelled mid-way (a timeout, a dropped request): L2 never answers.
        use std::future::Future as _;
        let mut set = Box::pin(cache.set(k("a"), k("1")));
        assert!(set.as_mut().poll(&mut cx).is_pending());
        let mut tag = Box::pin(cache.invalidate_tag("t"));
        assert!(tag.as_mut().poll(&mut cx).is_pending());
        let b = k("b");
        let mut delete = Box::pin(cache.delete(&b));
        assert!(delete.as_mut().poll(&mut cx).is_pending());
    }
    l2.stall.store(false, Ordering::SeqCst);
    block_on(async {
        for key in ["a", "b", "c", "d"] {
            l2.inner
                .set(&k(key), &k("v"), &InsertOptions::new())
                .await
                .unwrap();
            assert_eq!(cache.get(&k(key)).await.unwrap().as_deref(), Some("v"));
            assert!(cache.l1().contains(key), "{key} kept out of l1");
        }
        cache.set(k("e"), k("w")).await.unwrap();
        assert!(
            cache.l1().contains("e"),
            "write-through after a cancelled write"
        );
    });
}
