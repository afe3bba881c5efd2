//! Redis Cluster hash slots: public vectors for `key_slot`, and properties of the slot table, its
//! migrations and the MOVED / ASK redirects, checked against the Redis Cluster specification
//! (<https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/>, in redis-doc as
//! `docs/reference/cluster-spec.md`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;

use ha_core::NodeId;
use ha_shard::{
    Error, Redirect, SLOT_COUNT, SlotMigration, SlotRange, SlotTable, hash_tag, key_slot,
};
use proptest::prelude::*;

fn id(name: &str) -> NodeId {
    NodeId::new(name).unwrap()
}

fn node(i: usize) -> NodeId {
    id(&format!("n{i}"))
}

// ---------------------------------------------------------------------------------------------
// Vectors
// ---------------------------------------------------------------------------------------------

#[test]
fn crc16_xmodem_check_string_lands_in_slot_12739() {
    // Cluster spec, "Key distribution model": CRC16 is XMODEM, "Output for "123456789": 31C3".
    // 0x31C3 = 12739, already below 16384, and "123456789" has no hash tag.
    assert_eq!(key_slot(b"123456789"), 0x31C3);
    assert_eq!(key_slot(b"123456789"), 12739);
}

#[test]
fn cluster_keyslot_documentation_examples() {
    // redis-doc `commands/cluster-keyslot.md` (https://redis.io/docs/latest/commands/cluster-keyslot/):
    // CLUSTER KEYSLOT somekey → 11058; foo{hash_tag} → 2515; bar{hash_tag} → 2515.
    assert_eq!(key_slot(b"somekey"), 11058);
    assert_eq!(key_slot(b"foo{hash_tag}"), 2515);
    assert_eq!(key_slot(b"bar{hash_tag}"), 2515);
}

#[test]
fn hash_tag_examples_of_the_cluster_specification() {
    // Cluster spec, "Hash tags", its four examples.
    // "{user1000}.following and {user1000}.followers will hash to the same hash slot since only
    // the substring user1000 will be hashed".
    assert_eq!(hash_tag(b"{user1000}.following"), Some(&b"user1000"[..]));
    assert_eq!(
        key_slot(b"{user1000}.following"),
        key_slot(b"{user1000}.followers")
    );
    assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
    // "For the key foo{}{bar} the whole key will be hashed".
    assert_eq!(hash_tag(b"foo{}{bar}"), None);
    assert_ne!(key_slot(b"foo{}{bar}"), key_slot(b"bar"));
    // "For the key foo{{bar}}zap the substring {bar will be hashed".
    assert_eq!(hash_tag(b"foo{{bar}}zap"), Some(&b"{bar"[..]));
    assert_eq!(key_slot(b"foo{{bar}}zap"), key_slot(b"{bar"));
    // "For the key foo{bar}{zap} the substring bar will be hashed".
    assert_eq!(hash_tag(b"foo{bar}{zap}"), Some(&b"bar"[..]));
    assert_eq!(key_slot(b"foo{bar}{zap}"), key_slot(b"bar"));
    // "if the key starts with {}, it is guaranteed to be hashed as a whole".
    assert_eq!(hash_tag(b"{}{user1000}"), None);
}

#[test]
fn slots_that_client_libraries_check_against_cluster_keyslot() {
    // StackExchange.Redis, tests/StackExchange.Redis.Tests/ClusterTests.cs, `HashSlots` (run
    // against a live cluster).
    let stackexchange: [(&[u8], u16); 19] = [
        (b"", 0),
        (b"abc", 7638),
        (b"{abc}", 7638),
        (b"abcdef", 15101),
        (b"abc{abc}def", 7638),
        (b"c", 7365),
        (b"g", 7233),
        (b"d", 11298),
        (b"user1000", 3443),
        (b"{user1000}", 3443),
        (b"abc{user1000}", 3443),
        (b"abc{user1000}def", 3443),
        (b"{user1000}.following", 3443),
        (b"{user1000}.followers", 3443),
        (b"foo{}{bar}", 8363),
        (b"foo{{bar}}zap", 4015),
        (b"{bar", 4015),
        (b"foo{bar}{zap}", 5061),
        (b"bar", 5061),
    ];
    // redis-py, tests/test_cluster.py, `test_keyslot`.
    let redis_py: [(&[u8], u16); 4] = [
        (b"foo", 12182),
        (b"{foo}bar", 12182),
        (b"{foo}", 12182),
        (b"1337", 4314),
    ];
    for (key, slot) in stackexchange.into_iter().chain(redis_py) {
        assert_eq!(key_slot(key), slot, "{}", String::from_utf8_lossy(key));
    }
}

#[test]
fn three_masters_split_as_the_specification_shows() {
    // Cluster spec, "Client connections and redirection handling": CLUSTER SLOTS of a three-master
    // cluster made by redis-cli lists 0-5460, 5461-10922 and 10923-16383.
    let table = SlotTable::split_evenly([id("a"), id("b"), id("c")]).unwrap();
    let ranges: Vec<(u16, u16)> = table.ranges().iter().map(|r| (r.start, r.end)).collect();
    assert_eq!(ranges, [(0, 5460), (5461, 10922), (10923, 16383)]);
}

/// redis-cli's split, from `clusterManagerCommandCreate` in redis `src/redis-cli.c`: a `float`
/// cursor advanced by `16384 / (float) masters`, each range ending at
/// `lround(cursor + slots_per_node - 1)`, the last one at 16383.
fn redis_cli_split(masters: usize) -> Vec<(u16, u16)> {
    let slots_per_node = 16384.0_f32 / masters as f32;
    let (mut first, mut cursor, mut out) = (0_i64, 0.0_f32, Vec::new());
    for i in 0..masters {
        let mut last = (cursor + slots_per_node - 1.0).round() as i64;
        if last > 16384 || i == masters - 1 {
            last = 16383;
        }
        if last < first {
            last = first;
        }
        out.push((first as u16, last as u16));
        first = last + 1;
        cursor += slots_per_node;
    }
    out
}

#[test]
fn split_evenly_matches_redis_cli_up_to_77_nodes() {
    for n in 1..=77 {
        let table = SlotTable::split_evenly((0..n).map(node)).unwrap();
        let ours: Vec<(u16, u16)> = table.ranges().iter().map(|r| (r.start, r.end)).collect();
        assert_eq!(ours, redis_cli_split(n), "{n} nodes");
    }
    // From 78 nodes on, the float cursor drifts a slot at some boundaries; ours stays exact.
    let table = SlotTable::split_evenly((0..78).map(node)).unwrap();
    let ours: Vec<(u16, u16)> = table.ranges().iter().map(|r| (r.start, r.end)).collect();
    assert_ne!(ours, redis_cli_split(78));
}

// ---------------------------------------------------------------------------------------------
// The specification's walk-through, and bad input
// ---------------------------------------------------------------------------------------------

/// A key of slot `slot`, found by trying `key:0`, `key:1`, ...
fn key_in_slot(slot: u16) -> Vec<u8> {
    (0..)
        .map(|i| format!("key:{i}").into_bytes())
        .find(|key| key_slot(key) == slot)
        .unwrap()
}

#[test]
fn the_specification_example_of_moving_slot_8_from_a_to_b() {
    // Cluster spec, "Live reconfiguration" and "ASK redirection": move hash slot 8 from A to B.
    let (a, b, c) = (id("A"), id("B"), id("C"));
    let mut table = SlotTable::new([
        (0..=5460, a.clone()),
        (5461..=10922, b.clone()),
        (10923..=16383, c.clone()),
    ])
    .unwrap();
    let key = key_in_slot(8);
    let moved_to = |node: &NodeId| Redirect::Moved {
        slot: 8,
        node: node.clone(),
    };

    // "We send B: CLUSTER SETSLOT 8 IMPORTING A; We send A: CLUSTER SETSLOT 8 MIGRATING B".
    let migration = table.begin_migration(8, &b).unwrap();
    assert_eq!(
        migration,
        SlotMigration {
            slot: 8,
            from: a.clone(),
            to: b.clone()
        }
    );
    // "All the other nodes will continue to point clients to node A".
    assert_eq!(table.redirect(&key, &c, false), moved_to(&a));
    // "All queries about existing keys are processed by A".
    assert_eq!(table.redirect(&key, &a, true), Redirect::Serve);
    // "All queries about non-existing keys in A are processed by B, because A will redirect
    // clients to B".
    assert_eq!(
        table.redirect(&key, &a, false),
        Redirect::Ask {
            slot: 8,
            node: b.clone()
        }
    );
    assert_eq!(table.redirect_asking(&key, &b, false), Redirect::Serve);
    // "a buggy client [...] will not send the ASKING command [...] so B will redirect the client
    // to A using a MOVED redirection error".
    assert_eq!(table.redirect(&key, &b, true), moved_to(&a));
    // ASKING only matters on the importing node.
    assert_eq!(table.redirect_asking(&key, &c, true), moved_to(&a));

    // "SETSLOT <slot> NODE <node-id>": "Once hash slot 8 migration is completed, A will send a
    // MOVED message".
    table.complete_migration(8).unwrap();
    assert_eq!(table.redirect(&key, &a, false), moved_to(&b));
    assert_eq!(table.redirect(&key, &b, true), Redirect::Serve);
    assert_eq!(table.owner(8).unwrap(), &b);
    assert_eq!(table.migrations().count(), 0);
}

#[test]
fn bad_input_is_a_typed_error_never_a_panic() {
    let (a, b, c) = (id("a"), id("b"), id("c"));
    let mut table = SlotTable::new([(0..=8191, a.clone()), (8192..=16383, b.clone())]).unwrap();

    for slot in [SLOT_COUNT, u16::MAX] {
        assert_eq!(table.owner(slot), Err(Error::SlotOutOfRange { slot }));
        assert_eq!(
            table.begin_migration(slot, &b),
            Err(Error::SlotOutOfRange { slot })
        );
        assert_eq!(
            table.complete_migration(slot),
            Err(Error::SlotOutOfRange { slot })
        );
        assert_eq!(
            table.abort_migration(slot),
            Err(Error::SlotOutOfRange { slot })
        );
        assert_eq!(table.migration(slot), None);
    }
    assert_eq!(
        table.begin_migration(1, &c),
        Err(Error::UnknownNode(c.clone()))
    );
    assert_eq!(
        table.begin_migration(1, &a),
        Err(Error::SlotAlreadyOwned {
            slot: 1,
            node: a.clone()
        })
    );
    assert_eq!(
        table.complete_migration(1),
        Err(Error::SlotNotMigrating { slot: 1 })
    );
    assert_eq!(
        table.abort_migration(1),
        Err(Error::SlotNotMigrating { slot: 1 })
    );

    table.add_node(c.clone()).unwrap();
    table.begin_migration(1, &c).unwrap();
    // Starting the same migration again is harmless; another target is refused.
    assert_eq!(table.begin_migration(1, &c).unwrap().to, c);
    assert_eq!(
        table.begin_migration(1, &b),
        Err(Error::SlotAlreadyMigrating {
            slot: 1,
            to: c.clone()
        })
    );
    assert_eq!(
        table.remove_node(&c),
        Err(Error::NodeImportingSlot {
            node: c.clone(),
            slot: 1
        })
    );
    assert_eq!(
        table.remove_node(&a),
        Err(Error::NodeOwnsSlots {
            node: a.clone(),
            slots: 8192
        })
    );
    assert_eq!(
        table.remove_node(&id("z")),
        Err(Error::UnknownNode(id("z")))
    );
    table.abort_migration(1).unwrap();
    table.remove_node(&c).unwrap();
    table.check_invariants();

    let empty: [(RangeInclusive<u16>, NodeId); 0] = [];
    assert_eq!(SlotTable::new(empty), Err(Error::EmptyNodeSet));
    assert_eq!(
        SlotTable::new([(0..=SLOT_COUNT, a.clone())]),
        Err(Error::SlotOutOfRange { slot: SLOT_COUNT })
    );
    #[allow(clippy::reversed_empty_ranges)]
    let reversed = 5..=4;
    assert_eq!(
        SlotTable::new([(reversed, a.clone()), (0..=16383, b.clone())]),
        Err(Error::EmptySlotRange { start: 5, end: 4 })
    );
    assert_eq!(SlotTable::split_evenly([]), Err(Error::EmptyNodeSet));
    assert_eq!(
        SlotTable::split_evenly([a.clone(), b.clone(), a.clone()]),
        Err(Error::DuplicateNode(a.clone()))
    );
    assert_eq!(
        SlotTable::split_evenly((0..=usize::from(SLOT_COUNT)).map(node)),
        Err(Error::TooManyNodes {
            algorithm: "slot table",
            count: 16385,
            max: 16384
        })
    );
}

#[test]
fn error_messages_name_the_bad_value() {
    let cases = [
        (
            Error::SlotOutOfRange { slot: 16384 },
            "slot 16384 is out of range; slots are 0..=16383",
        ),
        (
            Error::SlotOverlap {
                slot: 7,
                first: id("a"),
                second: id("b"),
            },
            "slot 7 is assigned twice, to a and to b",
        ),
        (
            Error::SlotAlreadyOwned {
                slot: 3,
                node: id("a"),
            },
            "slot 3 is already owned by a; it cannot migrate to its owner",
        ),
        (
            Error::SlotNotMigrating { slot: 9 },
            "slot 9 is not migrating",
        ),
        (Error::UnknownNode(id("x")), "node x is not among the nodes"),
        (
            Error::UncoveredSlot { slot: 101 },
            "slot 101 has no owner; every slot in 0..=16383 needs one",
        ),
        (
            Error::NodeImportingSlot {
                slot: 5,
                node: id("c"),
            },
            "node c is importing slot 5; complete or abort that migration first",
        ),
    ];
    for (err, text) in cases {
        assert_eq!(err.to_string(), text);
    }
}

#[test]
fn a_node_joins_takes_slots_and_a_drained_node_leaves() {
    let (a, b, c) = (id("a"), id("b"), id("c"));
    let mut table = SlotTable::split_evenly([a.clone(), b.clone()]).unwrap();
    assert!(table.add_node(c.clone()).unwrap());
    for slot in 0..=99 {
        table.begin_migration(slot, &c).unwrap();
        table.complete_migration(slot).unwrap();
    }
    assert_eq!(
        table.ranges()[0],
        SlotRange {
            start: 0,
            end: 99,
            node: c.clone()
        }
    );
    // Drain b into a, then forget it.
    for slot in 8192..SLOT_COUNT {
        table.begin_migration(slot, &a).unwrap();
        table.complete_migration(slot).unwrap();
    }
    table.remove_node(&b).unwrap();
    table.check_invariants();
    let counts = table.slot_counts();
    assert_eq!(counts.len(), 2);
    assert_eq!((counts[&a], counts[&c]), (16284, 100));
}

#[cfg(feature = "serde")]
#[test]
fn a_slot_table_round_trips_through_json_and_bad_json_is_refused() {
    let (a, b, c) = (id("a"), id("b"), id("c"));
    let mut table = SlotTable::split_evenly([a, b]).unwrap();
    table.add_node(c.clone()).unwrap();
    table.begin_migration(5, &c).unwrap();
    let json = serde_json::to_string(&table).unwrap();
    let back: SlotTable = serde_json::from_str(&json).unwrap();
    assert_eq!(back, table);
    back.check_invariants();

    let overlapping =
        r#"{"ranges":[{"start":0,"end":9000,"node":"a"},{"start":9000,"end":16383,"node":"b"}]}"#;
    let err = serde_json::from_str::<SlotTable>(overlapping).unwrap_err();
    assert!(
        err.to_string().contains("slot 9000 is assigned twice"),
        "{err}"
    );
    let to_owner = r#"{"ranges":[{"start":0,"end":16383,"node":"a"}],"migrations":{"3":"a"}}"#;
    assert!(serde_json::from_str::<SlotTable>(to_owner).is_err());

    let redirect = Redirect::Ask { slot: 5, node: c };
    let json = serde_json::to_string(&redirect).unwrap();
    assert_eq!(json, r#"{"ask":{"slot":5,"node":"c"}}"#);
    assert_eq!(serde_json::from_str::<Redirect>(&json).unwrap(), redirect);
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

/// Keys of any bytes, half of them built from braces and a few letters so that tags, empty tags
/// and unclosed braces are common.
fn key() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..48),
        prop::collection::vec(prop::sample::select(b"{}{}ab\x00\xff".to_vec()), 0..16),
    ]
}

/// A valid partition of the slots into consecutive segments, in slot order, over up to 6 nodes.
fn segments() -> impl Strategy<Value = Vec<(RangeInclusive<u16>, NodeId)>> {
    (
        prop::collection::btree_set(1..SLOT_COUNT, 0..24),
        1usize..=6,
    )
        .prop_flat_map(|(cuts, nodes)| {
            let starts: Vec<u16> = std::iter::once(0).chain(cuts).collect();
            let len = starts.len();
            (Just(starts), prop::collection::vec(0..nodes, len))
        })
        .prop_map(|(starts, owners)| {
            starts
                .iter()
                .zip(&owners)
                .enumerate()
                .map(|(i, (&start, &owner))| {
                    let end = starts.get(i + 1).map_or(SLOT_COUNT - 1, |&next| next - 1);
                    (start..=end, node(owner))
                })
                .collect()
        })
}

/// The owner of every slot according to `segments`.
fn expected_owners(segments: &[(RangeInclusive<u16>, NodeId)]) -> Vec<NodeId> {
    let mut owners = Vec::with_capacity(usize::from(SLOT_COUNT));
    for (range, node) in segments {
        owners.extend(range.clone().map(|_| node.clone()));
    }
    owners
}

fn all_owners(table: &SlotTable) -> Vec<NodeId> {
    (0..SLOT_COUNT)
        .map(|slot| table.owner(slot).unwrap().clone())
        .collect()
}

/// A table over a random partition, with an extra node `new` that owns nothing.
fn table() -> impl Strategy<Value = SlotTable> {
    segments().prop_map(|segments| {
        let mut table = SlotTable::new(segments).unwrap();
        table.add_node(id("new")).unwrap();
        table
    })
}

/// Follows redirects from `start`, as a Redis Cluster client does, with the key held by
/// `holder`; returns the node that served and the number of requests sent.
fn follow(
    table: &SlotTable,
    key: &[u8],
    start: &NodeId,
    holder: Option<&NodeId>,
) -> (NodeId, usize) {
    let slot = key_slot(key);
    let (mut at, mut asking) = (start.clone(), false);
    for requests in 1..=4 {
        let present = holder == Some(&at);
        let reply = if asking {
            table.redirect_asking(key, &at, present)
        } else {
            table.redirect(key, &at, present)
        };
        match reply {
            Redirect::Serve => return (at, requests),
            Redirect::Moved { slot: s, node } => {
                assert_eq!(s, slot);
                (at, asking) = (node, false);
            }
            Redirect::Ask { slot: s, node } => {
                assert_eq!(s, slot);
                (at, asking) = (node, true);
            }
        }
    }
    panic!("no node served {key:?} within 4 requests");
}

/// Where the key lives at one step of a migration.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// Before the migration; the owner has the key.
    Before,
    /// Migrating; the key is still on the source.
    OnSource,
    /// Migrating; MIGRATE has moved the key to the target.
    OnTarget,
    /// Migrating; the key exists nowhere yet (a write creates it).
    Nowhere,
    /// SlotMigration completed; the key is on the new owner.
    Completed,
    /// SlotMigration aborted before the key moved; it is on the source.
    Aborted,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn key_slot_is_always_below_16384(key in key()) {
        prop_assert!(key_slot(&key) < SLOT_COUNT);
    }

    #[test]
    fn keys_with_the_same_hash_tag_share_a_slot(
        prefixes in prop::collection::vec(prop::collection::vec(any::<u8>().prop_filter("no {", |&b| b != b'{'), 0..8), 2),
        tag in prop::collection::vec(any::<u8>().prop_filter("no }", |&b| b != b'}'), 1..12),
        suffixes in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..8), 2),
    ) {
        let keys: Vec<Vec<u8>> = prefixes
            .iter()
            .zip(&suffixes)
            .map(|(prefix, suffix)| [prefix.as_slice(), b"{", &tag, b"}", suffix].concat())
            .collect();
        for key in &keys {
            prop_assert_eq!(hash_tag(key), Some(tag.as_slice()));
            prop_assert_eq!(key_slot(key), key_slot(&tag));
        }
    }

    #[test]
    fn slot_table_from_any_valid_partition_covers_every_slot_exactly_once(
        (segments, shuffled) in segments().prop_flat_map(|s| (Just(s.clone()), Just(s).prop_shuffle())),
    ) {
        let table = SlotTable::new(shuffled).unwrap();
        table.check_invariants();
        let expected = expected_owners(&segments);
        prop_assert_eq!(all_owners(&table), expected.clone());

        // The compact ranges tile 0..=16383 in order, merge runs of one node, and agree with owner().
        let ranges = table.ranges();
        let mut next = 0u32;
        for (i, range) in ranges.iter().enumerate() {
            prop_assert_eq!(u32::from(range.start), next);
            prop_assert!(range.start <= range.end);
            if let Some(previous) = i.checked_sub(1).and_then(|p| ranges.get(p)) {
                prop_assert_ne!(&previous.node, &range.node);
            }
            for slot in range.slots() {
                prop_assert_eq!(&expected[usize::from(slot)], &range.node);
            }
            next = u32::from(range.end) + 1;
        }
        prop_assert_eq!(next, u32::from(SLOT_COUNT));

        let counts = table.slot_counts();
        prop_assert_eq!(counts.values().sum::<usize>(), usize::from(SLOT_COUNT));
        for (node, count) in &counts {
            prop_assert_eq!(*count, expected.iter().filter(|owner| *owner == node).count());
        }
    }

    #[test]
    fn slot_table_names_the_lowest_gap_or_overlap(
        segments in segments().prop_filter("two segments or more", |s| s.len() >= 2),
        pick in any::<prop::sample::Index>(),
    ) {
        // Drop one segment: its first slot is the lowest uncovered one.
        let dropped = pick.index(segments.len());
        let mut gap = segments.clone();
        let (range, _) = gap.remove(dropped);
        prop_assert_eq!(SlotTable::new(gap), Err(Error::UncoveredSlot { slot: *range.start() }));

        // Stretch one segment over the first slot of the next: that slot is covered twice.
        let stretched = pick.index(segments.len() - 1);
        let mut overlap = segments.clone();
        let (range, first) = overlap[stretched].clone();
        overlap[stretched].0 = *range.start()..=*range.end() + 1;
        let (next, second) = segments[stretched + 1].clone();
        overlap.reverse();
        prop_assert_eq!(
            SlotTable::new(overlap),
            Err(Error::SlotOverlap { slot: *next.start(), first, second })
        );
    }

    #[test]
    fn completing_a_migration_moves_exactly_one_slot(
        table in table(),
        slot in 0..SLOT_COUNT,
        pick in any::<prop::sample::Index>(),
    ) {
        let mut table = table;
        let before = all_owners(&table);
        let counts_before = table.slot_counts();
        let source = before[usize::from(slot)].clone();
        let targets: Vec<NodeId> = table.nodes().filter(|n| **n != source).cloned().collect();
        let target = pick.get(&targets).clone();

        let started = table.begin_migration(slot, &target).unwrap();
        prop_assert_eq!(&started, &SlotMigration { slot, from: source.clone(), to: target.clone() });
        table.check_invariants();
        prop_assert_eq!(all_owners(&table), before.clone(), "beginning moves nothing");
        prop_assert_eq!(table.migrations().collect::<Vec<_>>(), vec![started.clone()]);

        prop_assert_eq!(table.complete_migration(slot).unwrap(), started);
        table.check_invariants();
        let after = all_owners(&table);
        let changed: Vec<usize> = (0..before.len()).filter(|&s| before[s] != after[s]).collect();
        prop_assert_eq!(changed, vec![usize::from(slot)]);
        prop_assert_eq!(&after[usize::from(slot)], &target);
        let counts = table.slot_counts();
        prop_assert_eq!(counts[&source] + 1, counts_before[&source]);
        prop_assert_eq!(counts[&target], counts_before[&target] + 1);
        prop_assert_eq!(table.migrations().count(), 0);
    }

    #[test]
    fn a_key_is_served_by_exactly_one_node_at_every_migration_step(
        table in table(),
        key in key(),
        pick in any::<prop::sample::Index>(),
    ) {
        let slot = key_slot(&key);
        let source = table.owner(slot).unwrap().clone();
        let targets: Vec<NodeId> = table.nodes().filter(|n| **n != source).cloned().collect();
        let target = pick.get(&targets).clone();
        let outsider = id("outsider");

        for step in [Step::Before, Step::OnSource, Step::OnTarget, Step::Nowhere, Step::Completed, Step::Aborted] {
            let mut table = table.clone();
            if !matches!(step, Step::Before) {
                table.begin_migration(slot, &target).unwrap();
            }
            match step {
                Step::Completed => { table.complete_migration(slot).unwrap(); }
                Step::Aborted => { table.abort_migration(slot).unwrap(); }
                _ => {}
            }
            table.check_invariants();
            let holder = match step {
                Step::Before | Step::OnSource | Step::Aborted => Some(&source),
                Step::OnTarget | Step::Completed => Some(&target),
                Step::Nowhere => None,
            };
            // The node that must serve: the holder, or the target for a key not created yet.
            let server = holder.unwrap_or(&target);
            let migrating = table.migration(slot).is_some();
            let owner = table.owner(slot).unwrap().clone();

            // Every node's answer, with and without ASKING.
            let mut serving = BTreeSet::new();
            let mut asked = BTreeSet::new();
            for n in table.nodes().chain([&outsider]) {
                let present = holder == Some(n);
                let plain = table.redirect(&key, n, present);
                let asking = table.redirect_asking(&key, n, present);
                let plain_serves = *n == owner && (!migrating || present);
                prop_assert_eq!(plain == Redirect::Serve, plain_serves, "{:?} {} plain", step, n);
                prop_assert_eq!(
                    asking == Redirect::Serve,
                    plain_serves || (migrating && *n == target),
                    "{:?} {} asking", step, n
                );
                match plain {
                    Redirect::Serve => { serving.insert(n.clone()); }
                    Redirect::Ask { node, .. } => { asked.insert(node); }
                    Redirect::Moved { node, .. } => prop_assert_eq!(&node, &owner),
                }
            }
            // A node receives ASKING only from an ASK reply: the nodes a client can be served by.
            for n in asked {
                if table.redirect_asking(&key, &n, holder == Some(&n)) == Redirect::Serve {
                    serving.insert(n);
                }
            }
            prop_assert_eq!(serving, BTreeSet::from([server.clone()]), "{:?}", step);

            // A client starting anywhere reaches that node in at most three requests.
            for start in table.nodes().chain([&outsider]) {
                let (served_by, requests) = follow(&table, &key, start, holder);
                prop_assert_eq!(&served_by, server, "{:?} from {}", step, start);
                prop_assert!(requests <= 3);
            }
        }
    }
}

/// One command on the table, for the random resharding property.
#[derive(Debug, Clone)]
enum Op {
    Begin(u16, usize),
    Complete(u16),
    Abort(u16),
    Add(usize),
    Remove(usize),
}

/// Slots where commands collide, and two that do not exist.
const SLOTS: [u16; 7] = [0, 1, 2, 8191, 16383, 16384, u16::MAX];
const POOL: usize = 5;

fn op() -> impl Strategy<Value = Op> {
    let slot = prop::sample::select(SLOTS.to_vec());
    prop_oneof![
        3 => (slot.clone(), 0..POOL).prop_map(|(s, n)| Op::Begin(s, n)),
        2 => slot.clone().prop_map(Op::Complete),
        1 => slot.prop_map(Op::Abort),
        1 => (0..POOL).prop_map(Op::Add),
        1 => (0..POOL).prop_map(Op::Remove),
    ]
}

/// A plain model of the table: owners by pool index, the node set, migrations.
struct Model {
    owners: Vec<usize>,
    nodes: BTreeSet<usize>,
    migrations: BTreeMap<u16, usize>,
}

impl Model {
    fn apply(&mut self, op: &Op) -> Result<(), Error> {
        let out_of_range = |slot: u16| Error::SlotOutOfRange { slot };
        match *op {
            Op::Begin(slot, to) => {
                let owner = *self
                    .owners
                    .get(usize::from(slot))
                    .ok_or(out_of_range(slot))?;
                if !self.nodes.contains(&to) {
                    return Err(Error::UnknownNode(node(to)));
                }
                if owner == to {
                    return Err(Error::SlotAlreadyOwned {
                        slot,
                        node: node(to),
                    });
                }
                match self.migrations.get(&slot) {
                    Some(&m) if m != to => Err(Error::SlotAlreadyMigrating { slot, to: node(m) }),
                    _ => {
                        self.migrations.insert(slot, to);
                        Ok(())
                    }
                }
            }
            Op::Complete(slot) | Op::Abort(slot) => {
                self.owners
                    .get(usize::from(slot))
                    .ok_or(out_of_range(slot))?;
                let to = self
                    .migrations
                    .remove(&slot)
                    .ok_or(Error::SlotNotMigrating { slot })?;
                if matches!(op, Op::Complete(_)) {
                    self.owners[usize::from(slot)] = to;
                }
                Ok(())
            }
            Op::Add(n) => {
                self.nodes.insert(n);
                Ok(())
            }
            Op::Remove(n) => {
                if !self.nodes.contains(&n) {
                    return Err(Error::UnknownNode(node(n)));
                }
                let owned = self.owners.iter().filter(|&&o| o == n).count();
                if owned > 0 {
                    return Err(Error::NodeOwnsSlots {
                        node: node(n),
                        slots: owned,
                    });
                }
                if let Some((&slot, _)) = self.migrations.iter().find(|&(_, &to)| to == n) {
                    return Err(Error::NodeImportingSlot {
                        node: node(n),
                        slot,
                    });
                }
                self.nodes.remove(&n);
                Ok(())
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn random_resharding_agrees_with_a_plain_model(
        initial in 1..=3usize,
        ops in prop::collection::vec(op(), 0..40),
    ) {
        let mut table = SlotTable::split_evenly((0..initial).map(node)).unwrap();
        let index_of = |n: &NodeId| (0..POOL).find(|&i| node(i) == *n).unwrap();
        let mut model = Model {
            owners: all_owners(&table).iter().map(index_of).collect(),
            nodes: (0..initial).collect(),
            migrations: BTreeMap::new(),
        };
        for op in &ops {
            let expected = model.apply(op);
            let got = match *op {
                Op::Begin(slot, to) => table.begin_migration(slot, &node(to)).map(drop),
                Op::Complete(slot) => table.complete_migration(slot).map(drop),
                Op::Abort(slot) => table.abort_migration(slot).map(drop),
                Op::Add(n) => table.add_node(node(n)).map(drop),
                Op::Remove(n) => table.remove_node(&node(n)),
            };
            prop_assert_eq!(got, expected, "{:?}", op);
            table.check_invariants();
            for slot in SLOTS.into_iter().filter(|&s| s < SLOT_COUNT) {
                prop_assert_eq!(index_of(table.owner(slot).unwrap()), model.owners[usize::from(slot)]);
            }
            let migrations: BTreeMap<u16, usize> =
                table.migrations().map(|m| (m.slot, index_of(&m.to))).collect();
            prop_assert_eq!(&migrations, &model.migrations);
            let nodes: BTreeSet<usize> = table.nodes().map(index_of).collect();
            prop_assert_eq!(&nodes, &model.nodes);
        }
        let total: usize = table.slot_counts().values().sum();
        prop_assert_eq!(total, usize::from(SLOT_COUNT));
    }
}
