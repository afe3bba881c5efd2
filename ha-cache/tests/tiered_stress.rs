//! Many tasks read and write one tiered cache at once; once they stop, L1 agrees with L2.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use async_trait::async_trait;
use ha_cache::{
    Backend, BackendError, BoxError, Cache, InsertOptions, MemoryBackend, Slot, TieredCache,
    WritePolicy, origin_fn,
};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const KEYS: [&str; 6] = ["a:1", "a:2", "b:1", "b:2", "c:1", "c:2"];

/// A memory L2 whose reads take a few scheduler turns after reading, so writes land between
/// a load's L2 read and its L1 fill.
#[derive(Debug, Clone)]
struct SlowReads(MemoryBackend<String, u64>);

async fn turns(n: usize) {
    for _ in 0..n {
        tokio::task::yield_now().await;
    }
}

#[async_trait]
impl Backend<String, u64> for SlowReads {
    async fn get(&self, key: &String) -> Result<Option<u64>, BackendError> {
        let value = self.0.get(key).await;
        turns(3).await;
        value
    }
    async fn set(
        &self,
        key: &String,
        value: &u64,
        options: &InsertOptions,
    ) -> Result<(), BackendError> {
        self.0.set(key, value, options).await
    }
    async fn set_if_absent(
        &self,
        key: &String,
        value: &u64,
        options: &InsertOptions,
    ) -> Result<bool, BackendError> {
        self.0.set_if_absent(key, value, options).await
    }
    async fn delete(&self, key: &String) -> Result<bool, BackendError> {
        self.0.delete(key).await
    }
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<u64>>, BackendError> {
        let values = self.0.get_many(keys).await;
        turns(3).await;
        values
    }
    async fn invalidate_pattern(&self, pattern: &str) -> Result<u64, BackendError> {
        self.0.invalidate_pattern(pattern).await
    }
    async fn invalidate_tag(&self, tag: &str) -> Result<u64, BackendError> {
        self.0.invalidate_tag(tag).await
    }
}

fn run(policy: WritePolicy, seed: u64) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_time()
        .build()
        .unwrap();
    let l2: MemoryBackend<String, u64> = MemoryBackend::new();
    let cache = TieredCache::builder(Cache::builder(100), SlowReads(l2.clone()))
        .write_policy(policy)
        .negative_ttl(Duration::from_secs(3600))
        .origin(origin_fn(|key: String| async move {
            tokio::task::yield_now().await;
            Ok::<_, BoxError>(key.ends_with('1').then_some(1_000_000))
        }))
        .build()
        .unwrap();
    runtime.block_on(async {
        let tasks: Vec<_> = (0..8u64)
            .map(|t| {
                let cache = cache.clone();
                tokio::spawn(async move {
                    let mut rng = SmallRng::seed_from_u64(seed ^ t);
                    for i in 0..300u64 {
                        let key = KEYS[rng.random_range(0..KEYS.len())].to_string();
                        match rng.random_range(0..10) {
                            0..=4 => {
                                cache.get(&key).await.unwrap();
                            }
                            5..=6 => cache.set(key, t * 1_000 + i).await.unwrap(),
                            7 => {
                                cache.delete(&key).await.unwrap();
                            }
                            8 => {
                                let keys: Vec<String> =
                                    KEYS.iter().map(|k| k.to_string()).collect();
                                cache.get_many(&keys).await.unwrap();
                            }
                            _ => {
                                cache.invalidate_pattern("b:*").await.unwrap();
                            }
                        }
                        if i % 7 == 0 {
                            tokio::task::yield_now().await;
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        for key in KEYS {
            let in_l2 = l2.get(&key.to_string()).await.unwrap();
            match cache.l1().peek(key) {
                Some(Slot::Present(value)) => assert_eq!(in_l2, Some(value), "stale {key} in L1"),
                Some(Slot::Absent { .. }) => assert_eq!(in_l2, None, "{key} absent in L1 only"),
                None => {}
            }
        }
        assert!(cache.l1().check_invariants().is_ok());
    });
}

#[test]
fn after_concurrent_reads_and_writes_l1_never_disagrees_with_l2_write_through() {
    for seed in 0..4 {
        run(WritePolicy::WriteThrough, seed);
    }
}

#[test]
fn after_concurrent_reads_and_writes_l1_never_disagrees_with_l2_invalidate_on_write() {
    for seed in 0..4 {
        run(WritePolicy::InvalidateOnWrite, seed);
    }
}
