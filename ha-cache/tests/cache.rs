//! Behaviour of `Cache` across its modules: eviction, expiry, tags, patterns, bad input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ha_cache::{Cache, Error, InsertOptions, RemovalCause};
use ha_core::ManualClock;

type Heard = Arc<Mutex<Vec<(String, u64, RemovalCause)>>>;

fn listened(capacity: u64, clock: &ManualClock) -> (Cache<String, u64>, Heard) {
    let heard: Heard = Arc::default();
    let sink = heard.clone();
    let cache = Cache::builder(capacity)
        .shards(1)
        .clock(clock.clone())
        .eviction_listener(move |k, v, cause| sink.lock().unwrap().push((k, v, cause)))
        .build()
        .unwrap();
    (cache, heard)
}

fn causes(heard: &Heard, cause: RemovalCause) -> Vec<String> {
    let mut keys: Vec<String> = heard
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, _, c)| *c == cause)
        .map(|(k, _, _)| k.clone())
        .collect();
    keys.sort();
    keys
}

#[test]
fn frequent_keys_survive_a_scan_that_would_flush_lru() {
    let cache: Cache<u64, u64> = Cache::builder(100).shards(1).build().unwrap();
    for _ in 0..5 {
        for key in 0..50 {
            if cache.get(&key).is_none() {
                cache.insert(key, key);
            }
        }
    }
    for key in 1_000..3_000 {
        if cache.get(&key).is_none() {
            cache.insert(key, key);
        }
    }
    let kept = (0..50).filter(|k| cache.contains(k)).count();
    assert!(kept >= 45, "only {kept} of 50 hot keys survived the scan");
    assert!(cache.len() <= 100);
    cache.check_invariants().unwrap();
}

#[test]
fn entry_count_stays_within_capacity_and_evictions_are_reported_as_size() {
    let clock = ManualClock::new();
    let (cache, heard) = listened(10, &clock);
    for key in 0..100 {
        cache.insert(format!("k{key}"), key);
    }
    assert_eq!(cache.len(), 10);
    assert_eq!(causes(&heard, RemovalCause::Size).len(), 90);
    let stats = cache.stats();
    assert_eq!((stats.inserts, stats.evictions_size), (100, 90));
    assert!((stats.eviction_ratio() - 0.9).abs() < 1e-9);
}

#[test]
fn listener_hears_expirations_without_maintenance_calls() {
    let clock = ManualClock::new();
    let (cache, heard) = listened(100, &clock);
    cache
        .insert_with(
            "short".into(),
            1,
            &InsertOptions::new().ttl(Duration::from_secs(1)),
        )
        .unwrap();
    cache.insert("long".into(), 2);
    clock.advance(Duration::from_secs(2));
    // Ordinary traffic on other keys, never touching "short".
    for i in 0..100 {
        cache.insert(format!("other{i}"), i);
    }
    assert_eq!(
        causes(&heard, RemovalCause::Expired),
        vec!["short".to_string()]
    );
    assert_eq!(cache.get("long"), Some(2));
}

#[test]
fn default_ttl_per_entry_ttl_and_time_to_idle() {
    let clock = ManualClock::new();
    let cache: Cache<&'static str, u32> = Cache::builder(100)
        .time_to_live(Duration::from_secs(10))
        .time_to_idle(Duration::from_secs(4))
        .clock(clock.clone())
        .build()
        .unwrap();
    cache.insert("busy", 1);
    cache.insert("idle", 2);
    cache
        .insert_with(
            "long",
            3,
            &InsertOptions::new().ttl(Duration::from_secs(60)),
        )
        .unwrap();
    for _ in 0..3 {
        clock.advance(Duration::from_secs(3));
        assert_eq!(
            cache.get("busy"),
            Some(1),
            "reads keep an entry from idling out"
        );
        assert_eq!(cache.get("long"), Some(3));
    }
    assert_eq!(cache.get("idle"), None, "idle for 9 s > 4 s");
    clock.advance(Duration::from_secs(2));
    assert_eq!(cache.get("busy"), None, "time to live of 10 s ran out");
    assert_eq!(
        cache.get("long"),
        Some(3),
        "its own ttl of 60 s; idle only 2 s"
    );
    clock.advance(Duration::from_secs(5));
    assert_eq!(cache.get("long"), None, "idle 5 s > 4 s");
    assert!(!cache.contains("long"));
}

#[test]
fn overwriting_reports_the_old_value_as_replaced() {
    let clock = ManualClock::new();
    let (cache, heard) = listened(100, &clock);
    cache.insert("a".into(), 1);
    cache.insert("a".into(), 2);
    assert_eq!(cache.get("a"), Some(2));
    assert_eq!(
        heard.lock().unwrap()[0],
        ("a".to_string(), 1, RemovalCause::Replaced)
    );
    assert_eq!(cache.stats().updates, 1);
    assert_eq!(cache.remove("a"), Some(2));
    assert_eq!(
        causes(&heard, RemovalCause::Explicit),
        vec!["a".to_string()]
    );
    assert_eq!(cache.remove("a"), None);
}

#[test]
fn tags_and_patterns_remove_exactly_their_entries() {
    let clock = ManualClock::new();
    let (cache, heard) = listened(100, &clock);
    let red = InsertOptions::new().tag("red");
    let both = InsertOptions::new().tag("red").tag("blue");
    cache.insert_with("user:1".into(), 1, &red).unwrap();
    cache.insert_with("user:2".into(), 2, &both).unwrap();
    cache.insert("order:1".into(), 3);
    // Re-inserting without tags drops the old tags.
    cache.insert("user:1".into(), 10);
    assert_eq!(cache.invalidate_tag("red"), 1);
    assert_eq!(cache.invalidate_tag("blue"), 0, "user:2 already gone");
    assert_eq!(cache.invalidate_tag("nobody"), 0);
    assert!(cache.contains("user:1") && !cache.contains("user:2"));
    assert_eq!(cache.invalidate_pattern("user:?").unwrap(), 1);
    assert_eq!(cache.invalidate_pattern("*").unwrap(), 1);
    assert!(cache.is_empty());
    assert_eq!(causes(&heard, RemovalCause::Explicit).len(), 3);
    cache.check_invariants().unwrap();
}

#[test]
fn clear_removes_everything_and_the_cache_keeps_working() {
    let clock = ManualClock::new();
    let (cache, heard) = listened(100, &clock);
    cache.insert_many((0..20).map(|i| (format!("k{i}"), i)));
    assert_eq!(
        cache.get_many(["k1", "k2", "nope"]),
        vec![Some(1), Some(2), None]
    );
    cache.clear();
    assert!(cache.is_empty());
    assert_eq!(causes(&heard, RemovalCause::Explicit).len(), 20);
    cache.insert("again".into(), 1);
    assert_eq!(cache.get("again"), Some(1));
    cache.check_invariants().unwrap();
}

#[test]
fn bad_input_is_refused_or_documented() {
    assert!(Cache::<u32, u32>::builder(0).build().is_err());
    assert!(
        Cache::<u32, u32>::builder(10)
            .time_to_live(Duration::ZERO)
            .build()
            .is_err()
    );
    assert!(
        Cache::<u32, u32>::builder(10)
            .time_to_idle(Duration::ZERO)
            .build()
            .is_err()
    );
    let clock = ManualClock::new();
    let heard: Heard = Arc::default();
    let sink = heard.clone();
    let cache: Cache<String, u64> = Cache::builder(100)
        .shards(2)
        .weigher(|_, v: &u64| *v as u32)
        .clock(clock)
        .eviction_listener(move |k, v, cause| sink.lock().unwrap().push((k, v, cause)))
        .build()
        .unwrap();
    assert_eq!(cache.max_entry_weight(), 50);
    assert_eq!(
        cache.try_insert("big".into(), 51),
        Err(Error::WeightOverCapacity {
            weight: 51,
            max: 50
        })
    );
    let zero_ttl = InsertOptions::new().ttl(Duration::ZERO);
    assert!(cache.insert_with("z".into(), 1, &zero_ttl).is_err());
    assert!(cache.is_empty());
    // Plain insert of an entry too heavy: not stored, the older value dropped, reported as size.
    cache.insert("big".into(), 10);
    cache.insert("big".into(), 500);
    assert!(!cache.contains("big"));
    assert_eq!(causes(&heard, RemovalCause::Size), vec!["big".to_string()]);
    assert_eq!(
        causes(&heard, RemovalCause::Replaced),
        vec!["big".to_string()]
    );
    assert!(matches!(
        cache.invalidate_pattern("[a-"),
        Err(Error::InvalidPattern { .. })
    ));
    cache.check_invariants().unwrap();
}

#[test]
fn weighted_cache_stays_within_total_weight() {
    let cache: Cache<u32, Vec<u8>> = Cache::builder(1_000)
        .weigher(|_, v: &Vec<u8>| v.len() as u32)
        .build()
        .unwrap();
    for i in 0..500u32 {
        cache.insert(i, vec![0; (i % 50 + 1) as usize]);
        assert!(cache.weighted_size() <= 1_000);
    }
    cache.check_invariants().unwrap();
}

#[test]
fn a_panicking_listener_does_not_break_the_cache() {
    let cache: Cache<u32, u32> = Cache::builder(2)
        .shards(1)
        .eviction_listener(|_, _, _| panic!("listener bug"))
        .build()
        .unwrap();
    for i in 0..10 {
        cache.insert(i, i);
    }
    assert_eq!(cache.len(), 2);
    cache.check_invariants().unwrap();
}

#[test]
fn statistics_count_hits_misses_and_ratios() {
    let cache: Cache<u32, u32> = Cache::builder(100).build().unwrap();
    cache.insert(1, 1);
    assert_eq!(cache.get(&1), Some(1));
    assert_eq!(cache.get(&1), Some(1));
    assert_eq!(cache.get(&2), None);
    assert!(cache.contains(&1));
    let stats = cache.stats();
    assert_eq!((stats.hits, stats.misses, stats.inserts), (2, 1, 1));
    assert!((stats.hit_ratio() - 2.0 / 3.0).abs() < 1e-9);
    let json = serde_json::to_string(&stats).unwrap();
    assert!(json.contains("\"hits\":2"));
}
