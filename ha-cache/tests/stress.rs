//! Several threads run random operations at once; afterwards the invariants and the counts
//! must agree.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use ha_cache::{Cache, InsertOptions, RemovalCause};
use ha_core::ManualClock;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

#[test]
fn threads_hammering_one_cache_leave_it_consistent() {
    let clock = ManualClock::new();
    let removed = Arc::new([(); 4].map(|_| AtomicU64::new(0)));
    let sink = removed.clone();
    let cache: Cache<u64, u64> = Cache::builder(2_000)
        .shards(4)
        .weigher(|_, v: &u64| (v % 7 + 1) as u32)
        .time_to_live(Duration::from_millis(500))
        .clock(clock.clone())
        .eviction_listener(move |_, _, cause| {
            let i = match cause {
                RemovalCause::Size => 0,
                RemovalCause::Expired => 1,
                RemovalCause::Explicit => 2,
                _ => 3,
            };
            sink[i].fetch_add(1, Ordering::Relaxed);
        })
        .build()
        .unwrap();
    let handles: Vec<_> = (0..4u64)
        .map(|seed| {
            let (cache, clock) = (cache.clone(), clock.clone());
            thread::spawn(move || {
                let mut rng = SmallRng::seed_from_u64(seed);
                for i in 0..20_000u64 {
                    let key = rng.random_range(0..5_000u64);
                    match rng.random_range(0..100) {
                        0..60 => {
                            if let Some(v) = cache.get(&key) {
                                assert_eq!(v / 1_000_000, key, "a value of another key");
                            }
                        }
                        60..85 => cache.insert(key, key * 1_000_000 + i),
                        85..90 => {
                            let options = InsertOptions::new().tag(format!("t{}", key % 10));
                            cache
                                .insert_with(key, key * 1_000_000 + i, &options)
                                .unwrap();
                        }
                        90..95 => {
                            cache.remove(&key);
                        }
                        95..98 => {
                            let v = cache
                                .get_or_load(key, |k| Ok::<_, ()>(k * 1_000_000))
                                .unwrap();
                            assert_eq!(v / 1_000_000, key);
                        }
                        98 => {
                            cache.invalidate_tag(&format!("t{}", key % 10));
                        }
                        _ => clock.advance(Duration::from_millis(1)),
                    }
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    cache.check_invariants().unwrap();
    assert!(cache.weighted_size() <= 2_000);
    let stats = cache.stats();
    let gone = stats.evictions_size + stats.expirations + stats.removals_explicit;
    assert_eq!(stats.inserts - gone, cache.len(), "{stats:?}");
    assert_eq!(removed[0].load(Ordering::Relaxed), stats.evictions_size);
    assert_eq!(removed[1].load(Ordering::Relaxed), stats.expirations);
    assert_eq!(removed[2].load(Ordering::Relaxed), stats.removals_explicit);
    assert_eq!(removed[3].load(Ordering::Relaxed), stats.replacements);
    assert!(stats.hits > 0 && stats.expirations > 0 && stats.evictions_size > 0);
}
