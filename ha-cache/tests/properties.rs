//! Property tests: capacity, expiry, invalidation and single-flight invariants under arbitrary
//! operation sequences.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use ha_cache::{Cache, InsertOptions};
use ha_core::ManualClock;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Insert(u8, u8),
    InsertTtl(u8, u8, u8),
    Get(u8),
    Remove(u8),
    Advance(u8),
    InvalidateTag(u8),
    InvalidatePattern(u8),
    Clear,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (any::<u8>(), 1..40u8).prop_map(|(k, w)| Op::Insert(k, w)),
        3 => (any::<u8>(), 1..40u8, 1..20u8).prop_map(|(k, w, t)| Op::InsertTtl(k, w, t)),
        6 => any::<u8>().prop_map(Op::Get),
        2 => any::<u8>().prop_map(Op::Remove),
        2 => (1..10u8).prop_map(Op::Advance),
        1 => (0..4u8).prop_map(Op::InvalidateTag),
        1 => (0..10u8).prop_map(Op::InvalidatePattern),
        1 => Just(Op::Clear),
    ]
}

fn key(k: u8) -> String {
    format!("k{k}")
}

/// The value written encodes its weight and its write number, so a read can be traced back to
/// the write that produced it.
fn value(weight: u8, write: u32) -> u64 {
    (u64::from(write) << 8) | u64::from(weight)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn weight_never_exceeds_capacity_and_expired_entries_are_never_returned(
        capacity in 40..400u64,
        shards in prop_oneof![Just(1usize), Just(2), Just(4)],
        ops in prop::collection::vec(op(), 1..300),
    ) {
        let clock = ManualClock::new();
        let cache: Cache<String, u64> = Cache::builder(capacity)
            .shards(shards)
            .weigher(|_, v: &u64| (*v & 0xff) as u32)
            .time_to_idle(Duration::from_secs(15))
            .clock(clock.clone())
            .build()
            .unwrap();
        // write number -> (expiry deadline in seconds from start)
        let mut deadlines: HashMap<u64, u64> = HashMap::new();
        let mut last_access: HashMap<String, u64> = HashMap::new();
        let mut now = 0u64;
        for (write, op) in ops.into_iter().enumerate() {
            let write = write as u32;
            match op {
                Op::Insert(k, w) => {
                    let v = value(w, write);
                    cache.insert(key(k), v);
                    deadlines.insert(v, u64::MAX);
                    last_access.insert(key(k), now);
                }
                Op::InsertTtl(k, w, t) => {
                    let v = value(w, write);
                    let options = InsertOptions::new().ttl(Duration::from_secs(u64::from(t)));
                    let _ = cache.insert_with(key(k), v, &options);
                    deadlines.insert(v, now + u64::from(t));
                    last_access.insert(key(k), now);
                }
                Op::Get(k) => {
                    if let Some(v) = cache.get(&key(k)) {
                        let deadline = deadlines[&v];
                        prop_assert!(now < deadline, "entry past its ttl returned");
                        let idle_since = last_access[&key(k)];
                        prop_assert!(now < idle_since + 15, "idle entry returned");
                        last_access.insert(key(k), now);
                    }
                }
                Op::Remove(k) => {
                    cache.remove(&key(k));
                    prop_assert!(!cache.contains(&key(k)));
                }
                Op::Advance(s) => {
                    clock.advance(Duration::from_secs(u64::from(s)));
                    now += u64::from(s);
                }
                Op::InvalidateTag(t) => {
                    cache.invalidate_tag(&format!("t{t}"));
                }
                Op::InvalidatePattern(p) => {
                    cache.invalidate_pattern(&format!("k{p}*")).unwrap();
                }
                Op::Clear => cache.clear(),
            }
            prop_assert!(cache.weighted_size() <= capacity);
            if let Err(broken) = cache.check_invariants() {
                prop_assert!(false, "{}", broken);
            }
        }
    }

    #[test]
    fn tag_invalidation_removes_exactly_the_tagged_entries(
        entries in prop::collection::vec((0..60u8, prop::collection::vec(0..4u8, 0..3)), 1..80),
        tag in 0..4u8,
    ) {
        let cache: Cache<String, u32> = Cache::builder(1_000).build().unwrap();
        let mut model: HashMap<String, Vec<u8>> = HashMap::new();
        for (k, tags) in entries {
            let options = tags.iter().fold(InsertOptions::new(), |o, t| o.tag(format!("t{t}")));
            cache.insert_with(key(k), 0, &options).unwrap();
            model.insert(key(k), tags);
        }
        let expected = model.values().filter(|tags| tags.contains(&tag)).count() as u64;
        prop_assert_eq!(cache.invalidate_tag(&format!("t{tag}")), expected);
        for (k, tags) in &model {
            prop_assert_eq!(cache.contains(k), !tags.contains(&tag), "key {}", k);
        }
        prop_assert_eq!(cache.invalidate_tag(&format!("t{tag}")), 0);
    }

    #[test]
    fn pattern_invalidation_removes_exactly_the_matching_entries(
        keys in prop::collection::hash_set("[ab:]{0,6}", 0..60),
        pattern in "[ab:*?]{0,5}",
    ) {
        prop_assume!(!pattern.contains("**"));
        let cache: Cache<String, u32> = Cache::builder(1_000).build().unwrap();
        for k in &keys {
            cache.insert(k.clone(), 0);
        }
        let expected = keys.iter().filter(|k| oracle(pattern.as_bytes(), k.as_bytes())).count() as u64;
        prop_assert_eq!(cache.invalidate_pattern(&pattern).unwrap(), expected);
        for k in &keys {
            prop_assert_eq!(cache.contains(k), !oracle(pattern.as_bytes(), k.as_bytes()), "key {:?}", k);
        }
    }
}

/// An independent matcher for `*` and `?` patterns, by recursion.
fn oracle(pattern: &[u8], key: &[u8]) -> bool {
    match (pattern.first(), key.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            oracle(&pattern[1..], key) || (!key.is_empty() && oracle(pattern, &key[1..]))
        }
        (Some(b'?'), Some(_)) => oracle(&pattern[1..], &key[1..]),
        (Some(p), Some(k)) if p == k => oracle(&pattern[1..], &key[1..]),
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn single_flight_runs_a_loader_once_per_key_under_concurrency(
        threads in 2..6usize,
        keys in 1..4u32,
    ) {
        let cache: Cache<u32, u32> = Cache::builder(100).build().unwrap();
        let runs: Arc<Vec<AtomicUsize>> = Arc::new((0..keys).map(|_| AtomicUsize::new(0)).collect());
        let barrier = Arc::new(Barrier::new(threads));
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (cache, runs, barrier) = (cache.clone(), runs.clone(), barrier.clone());
                thread::spawn(move || {
                    barrier.wait();
                    (0..keys)
                        .map(|i| {
                            let key = (i + t as u32) % keys;
                            cache
                                .get_or_load(key, |&k| {
                                    runs[k as usize].fetch_add(1, Ordering::SeqCst);
                                    thread::sleep(Duration::from_millis(5));
                                    Ok::<_, String>(k * 10)
                                })
                                .unwrap()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for (t, handle) in handles.into_iter().enumerate() {
            let got = handle.join().unwrap();
            for (i, v) in got.into_iter().enumerate() {
                prop_assert_eq!(v, ((i as u32 + t as u32) % keys) * 10);
            }
        }
        for run in runs.iter() {
            prop_assert_eq!(run.load(Ordering::SeqCst), 1);
        }
    }
}
