//! Shard maps, replica placement, cross-shard query helpers and placement analysis. Properties
//! are named for the invariant they state; every bad input has a test showing its typed error.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use ha_core::{Node, NodeId};
use ha_shard::{
    DirectoryShards, Error, HashShards, RangeShards, Rendezvous, RingConfig, ShardHashing, ShardId,
    ShardMap, ShardPlacement, ShardPlacementConfig, group_by_shard, ideal_join_fraction,
    load_imbalance, merge_sorted, merge_sorted_by_key, moved_fraction,
};
use proptest::prelude::*;

fn nodes(count: usize, zones: usize) -> Vec<Node> {
    (0..count)
        .map(|i| {
            Node::new(NodeId::new(format!("node-{i}")).unwrap(), "")
                .with_zone(format!("zone-{}", i % zones.max(1)))
        })
        .collect()
}

fn config(replication_factor: usize) -> ShardPlacementConfig {
    ShardPlacementConfig {
        replication_factor: replication_factor.try_into().unwrap(),
        ..ShardPlacementConfig::default()
    }
}

fn bytes(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

/// Short keys over a small alphabet, so generated keys, bounds and split points collide often.
fn key() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop::sample::select(vec![0u8, 1, b'a', b'b', b'c', 0xff]),
        0..5,
    )
}

/// Valid range bounds: distinct, non-empty keys, sorted.
fn bounds() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::btree_set(key(), 0..8).prop_map(|set| {
        set.into_iter()
            .filter(|k| !k.is_empty())
            .collect::<Vec<_>>()
    })
}

fn directory() -> impl Strategy<Value = DirectoryShards> {
    (0u32..6, prop::collection::btree_map(key(), 0u32..6, 0..8)).prop_map(|(default, table)| {
        DirectoryShards::new(
            ShardId(default),
            table.into_iter().map(|(k, s)| (k, ShardId(s))),
        )
        .unwrap()
    })
}

/// Every rule but Maglev's, whose small extra disruption the growth property does not allow.
fn hashing() -> impl Strategy<Value = ShardHashing> {
    prop_oneof![
        Just(ShardHashing::Jump),
        Just(ShardHashing::Rendezvous),
        Just(ShardHashing::Ring(RingConfig {
            points_per_weight: 40
        })),
    ]
}

fn shard_map() -> impl Strategy<Value = ShardMap> {
    prop_oneof![
        (1u32..40, hashing())
            .prop_map(|(n, rule)| ShardMap::Hash(HashShards::with_hashing(n, rule).unwrap())),
        bounds().prop_map(|b| ShardMap::Range(RangeShards::new(b).unwrap())),
        directory().prop_map(ShardMap::Directory),
    ]
}

/// The ranges of a range map tile the keyspace: the first starts at the empty key, each ends
/// where the next starts, the last is unbounded, and starts rise strictly.
fn assert_tiles_the_keyspace(map: &RangeShards) {
    map.check().unwrap();
    let ranges: Vec<_> = map.ranges().collect();
    assert_eq!(ranges.len(), map.count());
    assert_eq!(ranges.first().unwrap().start, &[] as &[u8]);
    assert_eq!(ranges.last().unwrap().end, None);
    for pair in ranges.windows(2) {
        assert_eq!(pair[0].end, Some(pair[1].start));
        assert!(pair[0].start < pair[1].start);
    }
}

proptest! {
    #[test]
    fn every_key_maps_to_exactly_one_shard(map in shard_map(), keys in prop::collection::vec(key(), 1..30)) {
        let shards = map.shards();
        for key in &keys {
            let shard = map.shard_of(key);
            prop_assert!(map.contains(shard));
            prop_assert_eq!(shards.binary_search(&shard).map(|_| ()), Ok(()));
            prop_assert_eq!(map.shard_of(key), shard, "the same key, the same shard");
            match &map {
                ShardMap::Range(range) => {
                    let holders: Vec<ShardId> =
                        range.ranges().filter(|r| r.contains(key)).map(|r| r.shard).collect();
                    prop_assert_eq!(holders, vec![shard]);
                }
                ShardMap::Directory(dir) => {
                    let listed = dir.entries().find(|(k, _)| *k == key.as_slice()).map(|(_, s)| s);
                    prop_assert_eq!(shard, listed.unwrap_or(dir.default_shard()));
                }
                ShardMap::Hash(hash) => prop_assert!(shard.0 < hash.count()),
                _ => unreachable!(),
            }
        }
    }

    #[test]
    fn range_split_then_merge_is_identity(bounds in bounds(), at in key()) {
        let map = RangeShards::new(bounds).unwrap();
        let shard = map.shard_of(&at);
        prop_assume!(map.range_of(shard).unwrap().start != at.as_slice());
        let (split, right) = map.split(shard, &at).unwrap();
        split.check().unwrap();
        prop_assert_eq!(split.count(), map.count() + 1);
        prop_assert!(!map.contains(right), "the right half has a fresh id");
        prop_assert_eq!(split.shard_of(&at), right);
        prop_assert_eq!(split.range_of(shard).unwrap().end, Some(at.as_slice()));
        let merged = split.merge(shard, right).unwrap();
        prop_assert!(merged.ranges().eq(map.ranges()));
        prop_assert_eq!(merged.bounds(), map.bounds());
    }

    #[test]
    fn range_shards_cover_the_keyspace_in_order(
        bounds in bounds(),
        ops in prop::collection::vec((any::<bool>(), key()), 0..20),
        probes in prop::collection::vec(key(), 0..20),
    ) {
        let mut map = RangeShards::new(bounds).unwrap();
        assert_tiles_the_keyspace(&map);
        let mut retired = BTreeSet::new();
        for (split, at) in ops {
            let shard = map.shard_of(&at);
            if split {
                if let Ok((next, right)) = map.split(shard, &at) {
                    prop_assert!(!retired.contains(&right), "ids are never reused");
                    map = next;
                }
            } else {
                let ranges: Vec<_> = map.ranges().map(|r| r.shard).collect();
                let i = ranges.iter().position(|&s| s == shard).unwrap();
                if let Some(&right) = ranges.get(i + 1) {
                    map = map.merge(shard, right).unwrap();
                    retired.insert(right);
                }
            }
            assert_tiles_the_keyspace(&map);
            for probe in &probes {
                let holders = map.ranges().filter(|r| r.contains(probe)).count();
                prop_assert_eq!(holders, 1);
            }
        }
    }

    #[test]
    fn keys_in_a_range_query_come_only_from_the_touched_shards(
        map in shard_map(),
        start in key(),
        end in prop::option::of(key()),
        keys in prop::collection::vec(key(), 0..40),
    ) {
        let touched = map.shards_touched(&start, end.as_deref());
        for key in keys.iter().filter(|k| **k >= start && end.as_ref().is_none_or(|e| *k < e)) {
            prop_assert!(touched.contains(&map.shard_of(key)), "{key:?} in {touched:?}");
        }
        if end.as_ref().is_some_and(|e| *e <= start) {
            prop_assert!(touched.is_empty());
        }
        if let ShardMap::Range(range) = &map {
            // Tight: every touched shard's range overlaps the query.
            for shard in &touched {
                let r = range.range_of(*shard).unwrap();
                let starts_before_end = end.as_deref().is_none_or(|e| r.start < e);
                let ends_after_start = r.end.is_none_or(|e| e > start.as_slice());
                prop_assert!(starts_before_end && ends_after_start);
            }
        }
    }

    #[test]
    fn grouping_by_shard_partitions_the_keys_by_their_shard(
        map in shard_map(),
        keys in prop::collection::vec(key(), 0..40),
    ) {
        let groups = group_by_shard(&map, &keys);
        let mut seen: Vec<usize> = groups.values().flatten().copied().collect();
        seen.sort_unstable();
        prop_assert_eq!(seen, (0..keys.len()).collect::<Vec<_>>());
        for (shard, indices) in &groups {
            prop_assert!(!indices.is_empty() && indices.windows(2).all(|w| w[0] < w[1]));
            prop_assert!(indices.iter().all(|&i| map.shard_of(&keys[i]) == *shard));
        }
    }

    #[test]
    fn replicas_are_distinct_and_span_zones_when_possible(
        count in 1usize..10,
        zones in 1usize..5,
        rf_pick in 0usize..10,
        shards in 1u32..60,
    ) {
        let rf = rf_pick % count + 1;
        let placement = ShardPlacement::new(nodes(count, zones), config(rf)).unwrap();
        let zone_count = count.min(zones);
        let map = ShardMap::Hash(HashShards::new(shards).unwrap());
        for shard in map.shards() {
            let route = placement.locate(shard);
            prop_assert_eq!(route.shard, shard);
            prop_assert_eq!(route.replicas.len(), rf - 1);
            let ids: BTreeSet<&NodeId> = route.nodes().map(|n| &n.id).collect();
            prop_assert_eq!(ids.len(), rf, "copies on distinct nodes");
            let used: BTreeSet<_> = route.nodes().map(|n| n.zone.clone()).collect();
            prop_assert_eq!(used.len(), rf.min(zone_count), "as many zones as possible");
        }
        let key = shards.to_le_bytes();
        let route = placement.route(&map, &key);
        prop_assert_eq!(route.clone(), placement.locate(map.shard_of(&key)));
    }

    #[test]
    fn growing_hash_shards_moves_only_to_new_shards(
        before in 1u32..200,
        added in 1u32..50,
        rule in hashing(),
        hashes in prop::collection::vec(any::<u64>(), 1..200),
    ) {
        let small = HashShards::with_hashing(before, rule).unwrap();
        let big = HashShards::with_hashing(before + added, rule).unwrap();
        for hash in hashes {
            let (from, to) = (small.shard_of_hash(hash), big.shard_of_hash(hash));
            prop_assert!(from == to || to.0 >= before, "{from} -> {to}");
        }
    }

    #[test]
    fn sorted_merge_equals_sorting_the_union_truncated_to_the_limit(
        mut parts in prop::collection::vec(prop::collection::vec(-20i32..20, 0..15), 0..6),
        limit in 0usize..80,
    ) {
        for part in &mut parts {
            part.sort_unstable();
        }
        let mut union: Vec<i32> = parts.iter().flatten().copied().collect();
        union.sort_unstable();
        union.truncate(limit);
        prop_assert_eq!(merge_sorted(parts.clone(), limit), union.clone());

        // By key: descending order through a reversed key, pairs carrying their part.
        let tagged: Vec<Vec<(i32, usize)>> = parts
            .iter()
            .enumerate()
            .map(|(p, part)| part.iter().rev().map(|&v| (v, p)).collect())
            .collect();
        let mut expected: Vec<(i32, usize)> = tagged.iter().flatten().copied().collect();
        expected.sort_by_key(|&(v, p)| (std::cmp::Reverse(v), p));
        expected.truncate(limit);
        prop_assert_eq!(
            merge_sorted_by_key(tagged, limit, |&(v, _)| std::cmp::Reverse(v)),
            expected
        );
    }
}

#[test]
fn a_join_under_rendezvous_moves_about_the_ideal_share() {
    let before = Rendezvous::new(nodes(7, 3)).unwrap();
    let after = Rendezvous::new(nodes(8, 3)).unwrap();
    let keys: Vec<[u8; 4]> = (0..20_000u32).map(u32::to_le_bytes).collect();
    let moved = moved_fraction(&before, &after, &keys);
    assert!((moved - ideal_join_fraction(7)).abs() < 0.015, "{moved}");
    let load = load_imbalance(&after, &keys);
    assert_eq!(load.per_node.len(), 8);
    assert!(load.peak_over_mean < 1.1, "{load:?}");
}

#[test]
fn zero_hash_shards_are_refused() {
    assert_eq!(HashShards::new(0), Err(Error::NoShards));
}

#[test]
fn unsorted_range_bounds_are_refused() {
    let err = RangeShards::new(vec![bytes("m"), bytes("c")]).unwrap_err();
    assert_eq!(err, Error::UnsortedRangeBound { index: 1 });
}

#[test]
fn duplicate_range_bounds_are_refused() {
    let err = RangeShards::new(vec![bytes("c"), bytes("m"), bytes("m")]).unwrap_err();
    assert_eq!(err, Error::DuplicateRangeBound { index: 2 });
}

#[test]
fn an_empty_first_range_bound_is_refused() {
    let err = RangeShards::new(vec![Vec::new(), bytes("m")]).unwrap_err();
    assert_eq!(err, Error::DuplicateRangeBound { index: 0 });
}

#[test]
fn splitting_an_unknown_shard_is_refused() {
    let map = RangeShards::new(vec![bytes("m")]).unwrap();
    assert_eq!(
        map.split(ShardId(9), b"x").unwrap_err(),
        Error::UnknownShard(ShardId(9))
    );
}

#[test]
fn splitting_at_or_outside_a_shard_edge_is_refused() {
    let map = RangeShards::new(vec![bytes("g"), bytes("p")]).unwrap();
    for at in ["g", "p", "a", "z"] {
        assert_eq!(
            map.split(ShardId(1), at.as_bytes()).unwrap_err(),
            Error::SplitPointOutsideShard(ShardId(1)),
            "{at}"
        );
    }
    assert_eq!(
        map.split(ShardId(0), b"").unwrap_err(),
        Error::SplitPointOutsideShard(ShardId(0))
    );
}

#[test]
fn merging_an_unknown_shard_is_refused() {
    let map = RangeShards::new(vec![bytes("m")]).unwrap();
    assert_eq!(
        map.merge(ShardId(0), ShardId(5)).unwrap_err(),
        Error::UnknownShard(ShardId(5))
    );
    assert_eq!(
        map.merge(ShardId(5), ShardId(1)).unwrap_err(),
        Error::UnknownShard(ShardId(5))
    );
}

#[test]
fn merging_non_adjacent_shards_is_refused() {
    let map = RangeShards::new(vec![bytes("g"), bytes("p")]).unwrap();
    for (left, right) in [(0, 2), (1, 0), (1, 1)] {
        assert_eq!(
            map.merge(ShardId(left), ShardId(right)).unwrap_err(),
            Error::ShardsNotAdjacent {
                left: ShardId(left),
                right: ShardId(right)
            }
        );
    }
}

#[test]
fn a_merged_away_shard_id_is_not_reused() {
    let map = RangeShards::new(vec![bytes("m")]).unwrap();
    let merged = map.merge(ShardId(0), ShardId(1)).unwrap();
    let (_, right) = merged.split(ShardId(0), b"m").unwrap();
    assert_eq!(right, ShardId(2));
}

#[cfg(feature = "serde")]
#[test]
fn splitting_past_the_last_shard_id_is_refused() {
    let full = r#"{"range":{"bounds":[],"ids":[0],"next_id":4294967295}}"#;
    let ShardMap::Range(map) = serde_json::from_str::<ShardMap>(full).unwrap() else {
        panic!("a range map");
    };
    assert_eq!(
        map.split(ShardId(0), b"m").unwrap_err(),
        Error::ShardIdsExhausted
    );
}

#[test]
fn a_directory_key_listed_twice_is_refused() {
    let err = DirectoryShards::new(
        ShardId(0),
        [
            (bytes("a"), ShardId(1)),
            (bytes("b"), ShardId(1)),
            (bytes("a"), ShardId(2)),
        ],
    )
    .unwrap_err();
    assert_eq!(err, Error::DuplicateDirectoryKey { index: 2 });
}

#[test]
fn placing_shards_on_no_nodes_is_refused() {
    let err = ShardPlacement::new(Vec::new(), ShardPlacementConfig::default()).unwrap_err();
    assert_eq!(err, Error::EmptyNodeSet);
}

#[test]
fn more_replicas_than_nodes_are_refused() {
    let err = ShardPlacement::new(nodes(4, 2), config(5)).unwrap_err();
    assert_eq!(
        err,
        Error::TooManyReplicas {
            requested: 5,
            available: 4
        }
    );
}

#[test]
fn a_node_listed_twice_is_refused() {
    let mut twice = nodes(3, 1);
    twice.push(twice[0].clone());
    let err = ShardPlacement::new(twice, config(1)).unwrap_err();
    assert_eq!(err, Error::DuplicateNode(NodeId::new("node-0").unwrap()));
}

#[test]
fn shard_maps_survive_serde_and_directory_tables_stay_ordered() {
    let map = DirectoryShards::new(
        ShardId(0),
        [(bytes("z"), ShardId(2)), (bytes("a"), ShardId(1))],
    )
    .unwrap();
    let order: Vec<&[u8]> = map.entries().map(|(k, _)| k).collect();
    assert_eq!(order, vec![&b"a"[..], b"z"]);
    #[cfg(feature = "serde")]
    {
        let map = ShardMap::Directory(map);
        let back: ShardMap = serde_json::from_str(&serde_json::to_string(&map).unwrap()).unwrap();
        assert_eq!(back, map);
    }
}
