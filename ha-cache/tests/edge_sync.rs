//! Edge caches converge to the primary under any interleaving of writes, syncs and log
//! truncations; log versions strictly increase.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ha_cache::{
    Cache, Change, Changes, Edge, Error, InsertOptions, InvalidationLog, LogEntry, Primary,
    Snapshot, SyncOutcome,
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
    ]
}

fn primary(log_entries: usize) -> Primary<String, u32> {
    Primary::new(Cache::builder(1_000).build().unwrap(), log_entries).unwrap()
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
        let primary = primary(log_entries);
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
        let mut log: InvalidationLog<String, u32> = InvalidationLog::new(max_entries).unwrap();
        for i in 0..appends {
            let v = log.append(Change::Delete { key: i.to_string() });
            prop_assert_eq!(v, i as u64 + 1);
        }
        prop_assert!(log.check_invariants().is_ok());
        prop_assert!(log.len() <= max_entries);
        let latest = log.latest_version();
        match log.changes_since(asked) {
            Changes::Entries { entries, version } => {
                prop_assert_eq!(version, latest.max(asked.min(latest)));
                let versions: Vec<u64> = entries.iter().map(|e| e.version).collect();
                let want: Vec<u64> = (asked + 1..=latest).collect();
                prop_assert_eq!(versions, want);
            }
            Changes::Reload { version } => {
                prop_assert_eq!(version, latest);
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
    let restarted = primary(10);
    restarted.set("k0".into(), 99).unwrap();
    assert_eq!(
        edge.sync_with_primary(&restarted).unwrap(),
        SyncOutcome::Reloaded { version: 1 }
    );
    assert!(edge.cache().is_empty());
    restarted.set("k1".into(), 7).unwrap();
    edge.sync_with_primary(&restarted).unwrap();
    assert_eq!(edge.get("k1"), Some(7));
}

#[test]
fn snapshots_warm_a_reloaded_edge_and_stale_ones_are_refused() {
    let edge: Edge<String, u32> = Edge::new(Cache::builder(10).build().unwrap());
    edge.apply_snapshot(Snapshot {
        version: 4,
        entries: vec![("a".into(), 1)],
    })
    .unwrap();
    assert_eq!((edge.version(), edge.get("a")), (4, Some(1)));
    let err = edge
        .apply_snapshot(Snapshot {
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
    assert!(Primary::<String, u32>::new(Cache::builder(10).build().unwrap(), 0).is_err());
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
        SyncOutcome::Reloaded { version: 8 }
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
