//! Edge caches converge to the primary under any interleaving of writes, syncs and log
//! truncations; log versions strictly increase.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ha_cache::{
    Cache, Change, Changes, Edge, Error, InsertOptions, InvalidationLog, LogEntry, Primary,
    Snapshot, SnapshotEntry, SyncOutcome,
};
use proptest::prelude::*;

const KEYS: [&str; 8] = [
    "user:1", "user:2", "user:3", "order:1", "order:2", "cart:1", "cart:2", "misc",
];
const PATTERNS: [&str; 4] = ["user:*", "order:?", "*:2", "c[a]rt:*"];
const TAGS: [&str; 2] = ["red", "blue"];

#[derive(Debug, Clone)]
enum Op {
    Set {
        key: usize,
        value: u32,
        tag: Option<usize>,
    },
    Delete(usize),
    Pattern(usize),
    Tag(usize),
    Clear,
    Sync(usize),
    Truncate(usize),
    /// The primary restarts: a new, empty cache and log with a new epoch.
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..KEYS.len(), any::<u32>(), proptest::option::of(0..TAGS.len()))
            .prop_map(|(key, value, tag)| Op::Set { key, value, tag }),
        2 => (0..KEYS.len()).prop_map(Op::Delete),
        1 => (0..PATTERNS.len()).prop_map(Op::Pattern),
        1 => (0..TAGS.len()).prop_map(Op::Tag),
        1 => Just(Op::Clear),
        4 => (0..3usize).prop_map(Op::Sync),
        1 => (0..4usize).prop_map(Op::Truncate),
        1 => Just(Op::Restart),
    ]
}

fn primary(log_entries: usize) -> Primary<String, u32> {
    primary_of_epoch(log_entries, 1)
}

fn primary_of_epoch(log_entries: usize, epoch: u64) -> Primary<String, u32> {
    Primary::new(Cache::builder(1_000).build().unwrap(), log_entries, epoch).unwrap()
}

/// Every key the edge holds has the primary's value.
fn assert_no_stale(edge: &Edge<String, u32>, primary: &Primary<String, u32>) {
    for key in KEYS {
        if let Some(value) = edge.cache().peek(key) {
            assert_eq!(
                primary.cache().peek(key),
                Some(value),
                "edge holds a stale {key}"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn edges_converge_to_the_primary_after_any_interleaving_of_writes_syncs_and_truncations(
        ops in proptest::collection::vec(op(), 1..120),
        log_entries in 1usize..12,
        edge_capacity in prop_oneof![Just(3u64), Just(100u64)],
    ) {
        let mut primary = primary(log_entries);
        let mut epoch = 1;
        let edges: Vec<Edge<String, u32>> = (0..3)
            .map(|_| Edge::new(Cache::builder(edge_capacity).shards(1).build().unwrap()))
            .collect();
        let mut reloaded = [false; 3];
        let mut last_version = 0;
        for op in ops {
            let version = match op {
                Op::Set { key, value, tag } => {
                    let mut options = InsertOptions::new();
                    if let Some(tag) = tag {
                        options = options.tag(TAGS[tag]);
                    }
                    Some(primary.set_with(KEYS[key].to_string(), value, &options).unwrap())
                }
                Op::Delete(key) => Some(primary.delete(&KEYS[key].to_string())),
                Op::Pattern(p) => Some(primary.invalidate_pattern(PATTERNS[p]).unwrap()),
                Op::Tag(t) => Some(primary.invalidate_tag(TAGS[t])),
                Op::Clear => Some(primary.clear()),
                Op::Sync(e) => {
                    let outcome = edges[e].sync_with_primary(&primary).unwrap();
                    reloaded[e] |= matches!(outcome, SyncOutcome::Reloaded { .. });
                    prop_assert_eq!(edges[e].version(), primary.version());
                    assert_no_stale(&edges[e], &primary);
                    None
                }
                Op::Truncate(keep) => {
                    primary.truncate_log(keep);
                    None
                }
                Op::Restart => {
                    epoch += 1;
                    primary = primary_of_epoch(log_entries, epoch);
                    last_version = 0;
                    None
                }
            };
            if let Some(version) = version {
                prop_assert_eq!(version, last_version + 1, "versions strictly increase by one");
                last_version = version;
            }
            prop_assert!(primary.check_invariants().is_ok());
            for edge in &edges {
                prop_assert!(edge.cache().check_invariants().is_ok());
            }
        }
        for (e, edge) in edges.iter().enumerate() {
            let outcome = edge.sync_with_primary(&primary).unwrap();
            reloaded[e] |= matches!(outcome, SyncOutcome::Reloaded { .. });
            prop_assert_eq!(edge.version(), primary.version());
            assert_no_stale(edge, &primary);
            if edge_capacity == 100 && !reloaded[e] {
                // An edge with room for every key that never reloaded is an exact copy.
                for key in KEYS {
                    prop_assert_eq!(edge.cache().peek(key), primary.cache().peek(key));
                }
            }
        }
    }

    #[test]
    fn log_versions_strictly_increase_and_changes_since_is_exactly_the_suffix_or_a_reload(
        appends in 1usize..60,
        max_entries in 1usize..20,
        asked in 0u64..70,
    ) {
        let mut log: InvalidationLog<String, u32> = InvalidationLog::new(max_entries, 7).unwrap();
        for i in 0..appends {
            let v = log.append(Change::Delete { key: i.to_string() });
            prop_assert_eq!(v, i as u64 + 1);
        }
        prop_assert!(log.check_invariants().is_ok());
        prop_assert!(log.len() <= max_entries);
        let latest = log.latest_version();
        match log.changes_since(asked) {
            Changes::Entries { epoch, entries, version } => {
                prop_assert_eq!(epoch, 7);
                prop_assert_eq!(version, latest.max(asked.min(latest)));
                let versions: Vec<u64> = entries.iter().map(|e| e.version).collect();
                let want: Vec<u64> = (asked + 1..=latest).collect();
                prop_assert_eq!(versions, want);
            }
            Changes::Reload { epoch, version } => {
                prop_assert_eq!((epoch, version), (7, latest));
                let reaches = log.oldest_version().is_some_and(|o| o <= asked + 1);
                prop_assert!(asked > latest || !reaches);
            }
        }
    }
}

#[test]
fn a_gap_in_the_changes_is_refused_and_nothing_is_applied() {
    let edge: Edge<String, u32> = Edge::new(Cache::builder(10).build().unwrap());
    let gap = Changes::Entries {
        epoch: 1,
        entries: vec![LogEntry {
            version: 2,
            change: Change::Set {
                key: "a".into(),
                value: 1,
                ttl: None,
                tags: vec![],
            },
        }],
        version: 2,
    };
    let err = edge.apply(gap).unwrap_err();
    assert!(matches!(
        err,
        Error::VersionGap {
            expected: 1,
            found: 2
        }
    ));
    assert_eq!(err.to_string(), "edge expected change version 1, got 2");
    assert_eq!(edge.version(), 0);
    assert!(edge.cache().is_empty());
    let missing_tail = Changes::<String, u32>::Entries {
        epoch: 1,
        entries: vec![],
        version: 5,
    };
    assert!(edge.apply(missing_tail).is_err());
}

#[test]
fn a_repeated_answer_is_applied_once() {
    let primary = primary(10);
    let edge: Edge<String, u32> = Edge::new(Cache::builder(10).build().unwrap());
    primary.set("a".into(), 1).unwrap();
    primary.set("b".into(), 2).unwrap();
    let answer = primary.changes_since(0);
    assert_eq!(
        edge.apply(answer.clone()).unwrap(),
        SyncOutcome::Applied {
            applied: 2,
            version: 2
        }
    );
    assert_eq!(
        edge.apply(answer).unwrap(),
        SyncOutcome::Applied {
            applied: 0,
            version: 2
        }
    );
    assert_eq!(edge.get("b"), Some(2));
}

#[test]
fn an_edge_ahead_of_a_restarted_primary_reloads() {
    let old = primary(10);
    let edge: Edge<String, u32> = Edge::new(Cache::builder(10).build().unwrap());
    for i in 0..5 {
        old.set(format!("k{i}"), i).unwrap();
    }
    edge.sync_with_primary(&old).unwrap();
    let restarted = primary_of_epoch(10, 2);
    restarted.set("k0".into(), 99).unwrap();
    assert_eq!(
        edge.sync_with_primary(&restarted).unwrap(),
        SyncOutcome::Reloaded {
            version: 1,
            warmed: 1
        }
    );
    // Warmed from a snapshot of the keys it held: only k0 is still on the primary.
    assert_eq!(edge.cache().len(), 1);
    assert_eq!(edge.get("k0"), Some(99));
    restarted.set("k1".into(), 7).unwrap();
    edge.sync_with_primary(&restarted).unwrap();
    assert_eq!(edge.get("k1"), Some(7));
}

#[test]
fn snapshots_warm_a_reloaded_edge_and_stale_ones_are_refused() {
    let edge: Edge<String, u32> = Edge::new(Cache::builder(10).build().unwrap());
    edge.apply_snapshot(Snapshot {
        epoch: 1,
        version: 4,
        entries: vec![SnapshotEntry {
            key: "a".into(),
            value: 1,
            ttl: None,
            tags: vec![],
        }],
    })
    .unwrap();
    assert_eq!((edge.version(), edge.get("a")), (4, Some(1)));
    let err = edge
        .apply_snapshot(Snapshot {
            epoch: 1,
            version: 3,
            entries: vec![],
        })
        .unwrap_err();
    assert!(matches!(
        err,
        Error::StaleSnapshot {
            snapshot: 3,
            edge: 4
        }
    ));
    assert_eq!(edge.get("a"), Some(1));
}

#[test]
fn the_primary_refuses_bad_input_without_logging_it() {
    let primary = primary(10);
    assert!(primary.invalidate_pattern("user:[").is_err());
    let zero = InsertOptions::new().ttl(std::time::Duration::ZERO);
    assert!(primary.set_with("a".into(), 1, &zero).is_err());
    assert_eq!(primary.version(), 0);
    assert!(Primary::<String, u32>::new(Cache::builder(10).build().unwrap(), 0, 1).is_err());
}

#[test]
fn a_reloaded_edge_warmed_from_a_primary_snapshot_matches_the_primary() {
    let primary = primary(2);
    let edge: Edge<String, u32> = Edge::new(Cache::builder(10).build().unwrap());
    for (i, key) in KEYS.iter().enumerate() {
        primary.set(key.to_string(), i as u32).unwrap();
    }
    assert!(matches!(
        edge.sync_with_primary(&primary).unwrap(),
        SyncOutcome::Reloaded { version: 8, .. }
    ));
    let snapshot = primary.snapshot([
        "user:1".to_string(),
        "cart:2".to_string(),
        "gone".to_string(),
    ]);
    assert_eq!(snapshot.version, 8);
    assert_eq!(snapshot.entries.len(), 2);
    edge.apply_snapshot(snapshot).unwrap();
    assert_eq!(edge.get("cart:2"), Some(6));
    primary.set("user:1".into(), 100).unwrap();
    edge.sync_with_primary(&primary).unwrap();
    assert_eq!(edge.get("user:1"), Some(100));
    assert_no_stale(&edge, &primary);
}

#[test]
fn an_edge_behind_a_restarted_primary_with_a_higher_version_reloads() {
    // The edge is at version 10 of the old primary; the new primary makes 12 changes, among
    // them deleting a key the edge holds. Versions alone would hand the edge only 11 and 12.
    let old = primary_of_epoch(100, 1);
    let edge: Edge<String, u32> = Edge::new(Cache::builder(100).build().unwrap());
    for i in 0..10 {
        old.set(format!("k{i}"), i).unwrap();
    }
    edge.sync_with_primary(&old).unwrap();
    assert_eq!((edge.epoch(), edge.version()), (Some(1), 10));
    let restarted = primary_of_epoch(100, 2);
    restarted.set("k0".into(), 0).unwrap();
    restarted.delete(&"k0".to_string());
    for i in 1..11 {
        restarted.set(format!("k{i}"), 100 + i).unwrap();
    }
    assert_eq!(restarted.version(), 12);
    let outcome = edge.sync_with_primary(&restarted).unwrap();
    assert_eq!(
        outcome,
        SyncOutcome::Reloaded {
            version: 12,
            warmed: 9
        }
    );
    assert_eq!(edge.epoch(), Some(2));
    assert_eq!(edge.get("k0"), None, "deleted on the restarted primary");
    assert_eq!(edge.get("k5"), Some(105));
    assert_no_stale(&edge, &restarted);
    // An answer of another epoch given by hand (the sans-IO path) reloads too.
    let other = primary_of_epoch(100, 3);
    other.set("z".into(), 1).unwrap();
    let outcome = edge.apply(other.changes_since(edge.version())).unwrap();
    assert_eq!(
        outcome,
        SyncOutcome::Reloaded {
            version: 1,
            warmed: 0
        }
    );
    assert!(edge.cache().is_empty());
    let mut keys = edge.take_reload_keys();
    keys.sort();
    assert_eq!(keys.len(), 9);
    edge.apply_snapshot(other.snapshot(keys)).unwrap();
    assert!(edge.cache().is_empty());
    assert_eq!((edge.epoch(), edge.version()), (Some(3), 1));
}

#[test]
fn a_warmed_edge_keeps_the_primarys_tags_and_ttls() {
    use std::time::Duration;
    let clock = ha_core::ManualClock::new();
    let cache = |capacity| {
        Cache::builder(capacity)
            .clock(clock.clone())
            .build()
            .unwrap()
    };
    let primary: Primary<String, u32> = Primary::new(cache(100), 100, 1).unwrap();
    let edge: Edge<String, u32> = Edge::new(cache(100));
    let tagged = InsertOptions::new().tag("red").tag("blue");
    let short = InsertOptions::new().ttl(Duration::from_secs(10));
    primary.set_with("tagged".into(), 1, &tagged).unwrap();
    primary.set_with("short".into(), 2, &short).unwrap();
    primary.set("plain".into(), 3).unwrap();
    clock.advance(Duration::from_secs(4));
    let snapshot = primary.snapshot(["tagged".into(), "short".into(), "plain".into()]);
    let short_entry = snapshot.entries.iter().find(|e| e.key == "short").unwrap();
    assert_eq!(short_entry.ttl, Some(Duration::from_secs(6)));
    let tagged_entry = snapshot.entries.iter().find(|e| e.key == "tagged").unwrap();
    assert_eq!(
        tagged_entry.tags,
        vec!["blue".to_string(), "red".to_string()]
    );
    edge.apply_snapshot(snapshot).unwrap();
    assert_eq!(edge.get("tagged"), Some(1));

    // The primary invalidates the tag: the warmed edge must drop the key too.
    primary.invalidate_tag("blue");
    edge.sync_with_primary(&primary).unwrap();
    assert_eq!(edge.get("tagged"), None, "the snapshot kept the tag");
    // The entry had 6 s left on the primary: the edge expires it then, not never.
    clock.advance(Duration::from_secs(5));
    assert_eq!(edge.get("short"), Some(2));
    clock.advance(Duration::from_secs(1));
    assert_eq!(edge.get("short"), None, "the snapshot kept the TTL");
    assert_eq!(primary.cache().get("short"), None);
    assert_eq!(edge.get("plain"), Some(3));
}

/// Runs `f` on a thread and fails the test if it does not finish within 10 s (a deadlock).
fn within_10s<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(std::time::Duration::from_secs(10))
        .unwrap_or_else(|_| panic!("{what}: no answer within 10 s (deadlock)"))
}

#[test]
fn a_primary_listener_that_calls_the_primary_does_not_deadlock() {
    use std::sync::{Arc, Mutex, OnceLock};
    let seen = within_10s("primary listener", || {
        let slot: Arc<OnceLock<Arc<Primary<String, u32>>>> = Arc::new(OnceLock::new());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (listener_slot, listener_seen) = (slot.clone(), seen.clone());
        let cache = Cache::builder(2)
            .shards(1)
            .eviction_listener(move |key: String, _value: u32, cause| {
                let primary = listener_slot.get().unwrap();
                // Reads the primary's version, and writes to it.
                let version = primary.version();
                listener_seen
                    .lock()
                    .unwrap()
                    .push((key.clone(), cause, version));
                if key == "b" {
                    primary.delete(&"x".to_string());
                }
            })
            .build()
            .unwrap();
        let primary = Arc::new(Primary::new(cache, 100, 1).unwrap());
        assert!(slot.set(primary.clone()).is_ok());
        primary.set("a".into(), 1).unwrap();
        primary.set("a".into(), 2).unwrap(); // replaced
        primary.set("b".into(), 1).unwrap();
        primary.delete(&"b".to_string());
        primary.clear();
        seen.lock().unwrap().clone()
    });
    assert!(seen.len() >= 3, "{seen:?}");
    // Each call came after the write that caused it was logged.
    assert_eq!(seen[0].2, 2);
}

#[test]
fn an_edge_listener_that_calls_the_edge_does_not_deadlock() {
    use std::sync::{Arc, Mutex, OnceLock};
    let seen = within_10s("edge listener", || {
        let slot: Arc<OnceLock<Arc<Edge<String, u32>>>> = Arc::new(OnceLock::new());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (listener_slot, listener_seen) = (slot.clone(), seen.clone());
        let cache = Cache::builder(2)
            .shards(1)
            .eviction_listener(move |key: String, _value: u32, cause| {
                let edge = listener_slot.get().unwrap();
                listener_seen
                    .lock()
                    .unwrap()
                    .push((key, cause, edge.version()));
            })
            .build()
            .unwrap();
        let edge = Arc::new(Edge::new(cache));
        assert!(slot.set(edge.clone()).is_ok());
        let primary = primary(2);
        for i in 0..4 {
            primary.set(format!("k{i}"), i).unwrap();
        }
        edge.apply(primary.changes_since(0)).unwrap(); // reload: truncated
        primary.set("k0".into(), 1).unwrap();
        primary.set("k0".into(), 2).unwrap();
        edge.sync_with_primary(&primary).unwrap();
        primary.clear();
        edge.sync_with_primary(&primary).unwrap();
        seen.lock().unwrap().clone()
    });
    assert!(!seen.is_empty());
}

#[test]
fn answers_with_versions_near_the_top_of_u64_are_applied_or_refused_without_panicking() {
    let edge: Edge<String, u32> = Edge::new(Cache::builder(10).build().unwrap());
    let set = |version| LogEntry {
        version,
        change: Change::Set {
            key: "a".into(),
            value: 1,
            ttl: None,
            tags: vec![],
        },
    };
    edge.apply(Changes::Reload {
        epoch: 1,
        version: u64::MAX - 1,
    })
    .unwrap();
    let last = Changes::Entries {
        epoch: 1,
        entries: vec![set(u64::MAX)],
        version: u64::MAX,
    };
    assert_eq!(
        edge.apply(last.clone()).unwrap(),
        SyncOutcome::Applied {
            applied: 1,
            version: u64::MAX
        }
    );
    assert_eq!(edge.get("a"), Some(1));
    // At the top: nothing can follow, a repeat is skipped, nothing overflows.
    assert!(matches!(
        edge.apply(last).unwrap(),
        SyncOutcome::Applied { applied: 0, .. }
    ));
    let empty = Changes::<String, u32>::Entries {
        epoch: 1,
        entries: vec![],
        version: u64::MAX,
    };
    assert!(edge.apply(empty).is_ok());
}

#[test]
fn a_snapshot_key_iterator_may_use_the_primary() {
    let primary = std::sync::Arc::new(primary(10));
    primary.set("a".into(), 1).unwrap();
    let inside = primary.clone();
    let snapshot = within_10s("snapshot iterator", move || {
        inside.snapshot(["a".to_string()].into_iter().inspect(|_| {
            let _ = inside.version();
        }))
    });
    assert_eq!(snapshot.entries.len(), 1);
}
