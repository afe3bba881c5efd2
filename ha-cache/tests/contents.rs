//! Reading a cache's contents with `Cache::iter`, and the one entry-weight limit every shard
//! holds to.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ha_cache::{Cache, CacheEntry, Error, InsertOptions};
use ha_core::ManualClock;

#[test]
fn every_shard_admits_exactly_max_entry_weight() {
    // 103 over 4 shards: three shards of 26 and one of 25; the limit is 25 everywhere.
    let cache: Cache<u32, u32> = Cache::builder(103)
        .shards(4)
        .weigher(|_, v: &u32| *v)
        .build()
        .unwrap();
    assert_eq!(cache.max_entry_weight(), 25);
    for key in 0..200 {
        cache.insert(key, 26);
        assert!(!cache.contains(&key), "key {key}: weight 26 was stored");
        assert_eq!(
            cache.try_insert(key, 26),
            Err(Error::WeightOverCapacity {
                weight: 26,
                max: 25
            })
        );
        cache.insert(key, 25);
        assert_eq!(
            cache.get(&key),
            Some(25),
            "key {key}: weight 25 was refused"
        );
        cache.remove(&key);
    }
    cache.check_invariants().unwrap();
}

#[test]
fn iter_yields_exactly_the_live_entries_with_remaining_ttl_and_tags() {
    let clock = ManualClock::new();
    let cache: Cache<String, u32> = Cache::builder(1_000)
        .shards(4)
        .time_to_live(Duration::from_secs(100))
        .clock(clock.clone())
        .build()
        .unwrap();
    for i in 0..40u32 {
        let mut options = InsertOptions::new();
        if i % 2 == 0 {
            options = options.ttl(Duration::from_secs(u64::from(i) + 1));
        }
        if i % 3 == 0 {
            options = options.tag("b").tag("a").tag("b");
        }
        cache.insert_with(format!("k{i}"), i, &options).unwrap();
    }
    clock.advance(Duration::from_secs(10));
    let before = cache.stats();
    let seen: BTreeMap<String, CacheEntry<String, u32>> =
        cache.iter().map(|e| (e.key.clone(), e)).collect();
    assert_eq!(cache.stats(), before, "iterating counted as reads");
    for i in 0..40u32 {
        let key = format!("k{i}");
        // Even keys live i + 1 s: those with i + 1 <= 10 have expired.
        let left = if i % 2 == 0 {
            (u64::from(i) + 1).checked_sub(10).filter(|&s| s > 0)
        } else {
            Some(90)
        };
        match left {
            None => assert!(!seen.contains_key(&key), "{key} expired but was yielded"),
            Some(left) => {
                let entry = &seen[&key];
                assert_eq!(entry.value, i);
                assert_eq!(entry.ttl, Some(Duration::from_secs(left)));
                let tags: Vec<Arc<str>> = if i % 3 == 0 {
                    vec!["a".into(), "b".into()]
                } else {
                    Vec::new()
                };
                assert_eq!(entry.tags, tags);
                assert_eq!(entry.insert_options().ttl, entry.ttl);
            }
        }
    }
    assert_eq!(seen.len(), 40 - 5);
}

#[test]
fn iter_without_expiry_reports_no_deadline_and_sees_every_shard() {
    let cache: Cache<u64, u64> = Cache::builder(10_000).build().unwrap();
    cache.insert_many((0..1_000).map(|k| (k, k * 2)));
    let mut keys: Vec<u64> = cache
        .iter()
        .map(|e| {
            assert_eq!(e.value, e.key * 2);
            assert_eq!(e.ttl, None);
            assert!(e.tags.is_empty());
            e.key
        })
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, (0..1_000).collect::<Vec<_>>());
    cache.clear();
    assert_eq!(cache.iter().count(), 0);
}
