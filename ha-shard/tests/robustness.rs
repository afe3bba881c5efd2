//! Fuzz-like robustness: arbitrary bytes, arbitrary JSON shapes and arbitrary settings thrown at
//! the public constructors and deserializers. The invariant is the same everywhere: **an error
//! or a valid value, never a panic** — and a value accepted is checked against the type's own
//! invariants (and, for serde, reads back equal once written).
//!
//! Cargo-fuzz targets would need a nightly toolchain; these run in the ordinary test suite.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::num::NonZeroU32;

use ha_core::{Node, NodeId};
use ha_shard::{
    DirectoryShards, HashRing, HashShards, HotSpots, KetamaName, Maglev, MaglevConfig, RangeShards,
    RebalanceConfig, Rebalancer, RingConfig, SLOT_COUNT, ShardHashing, ShardId, ShardMap,
    SlotTable, Target,
};
use proptest::prelude::*;

/// Node ids from a small pool, so that generated inputs collide, overlap and repeat.
fn node_name() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => prop::sample::select(vec!["a", "b", "c", "d", "e"]).prop_map(str::to_owned),
        1 => Just(String::new()),
        1 => "[a-z0-9:-]{0,12}",
    ]
}

fn node_id() -> impl Strategy<Value = NodeId> {
    prop::sample::select(vec!["a", "b", "c", "d", "e"]).prop_map(|n| NodeId::new(n).unwrap())
}

/// Slot numbers around the edges that matter: 0, the top slot 16383, 16384 and beyond.
fn slot() -> impl Strategy<Value = u16> {
    prop_oneof![
        3 => 0u16..SLOT_COUNT,
        1 => prop::sample::select(vec![0, 1, 8191, 8192, 16382, 16383, 16384, 16385, u16::MAX]),
        1 => any::<u16>(),
    ]
}

/// Slot ranges that often tile `0..=16383` exactly (split points, in order), and otherwise
/// leave gaps, overlap, run backwards or past the end.
fn slot_ranges() -> impl Strategy<Value = Vec<(u16, u16, NodeId)>> {
    let tiling = prop::collection::btree_set(1u16..SLOT_COUNT, 0..6).prop_flat_map(|cuts| {
        let mut starts = vec![0u16];
        starts.extend(cuts);
        let n = starts.len();
        prop::collection::vec(node_id(), n).prop_map(move |nodes| {
            starts
                .iter()
                .enumerate()
                .map(|(i, &start)| {
                    let end = starts.get(i + 1).map_or(SLOT_COUNT - 1, |next| next - 1);
                    (start, end, nodes[i].clone())
                })
                .collect::<Vec<_>>()
        })
    });
    let arbitrary = prop::collection::vec((slot(), slot(), node_id()), 0..6);
    prop_oneof![tiling, arbitrary]
}

/// A JSON value of any shape, with numbers and strings near the limits the types care about.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        prop::sample::select(vec![
            0i64,
            1,
            2,
            3,
            7,
            16383,
            16384,
            65537,
            -1,
            i64::from(u32::MAX),
            i64::MAX
        ])
        .prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        node_name().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "count",
                    "hashing",
                    "bounds",
                    "ids",
                    "next_id",
                    "default",
                    "entries",
                    "ranges",
                    "nodes",
                    "migrations",
                    "waves",
                    "target",
                    "skew",
                    "start",
                    "end",
                    "node",
                    "shard",
                    "from",
                    "to",
                    "bytes"
                ])
                .prop_map(str::to_owned),
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A slot table as serde writes it, with arbitrary parts.
fn slot_table_json() -> impl Strategy<Value = serde_json::Value> {
    (
        prop::collection::vec(node_name(), 0..4),
        slot_ranges(),
        prop::collection::btree_map(slot(), node_name(), 0..4),
    )
        .prop_map(|(nodes, ranges, migrations)| {
            serde_json::json!({
                "nodes": nodes,
                "ranges": ranges
                    .into_iter()
                    .map(|(start, end, node)| serde_json::json!({"start": start, "end": end, "node": node}))
                    .collect::<Vec<_>>(),
                "migrations": migrations,
            })
        })
}

/// A shard map as serde writes it, with arbitrary parts (small counts and the largest ones).
fn shard_map_json() -> impl Strategy<Value = serde_json::Value> {
    let count = prop_oneof![0u64..300, Just(u64::from(u32::MAX)), Just(1 << 32)];
    let hashing = prop_oneof![
        Just(serde_json::json!("jump")),
        Just(serde_json::json!("rendezvous")),
        prop_oneof![0u64..2000, Just(65_537), Just(u64::from(u32::MAX))]
            .prop_map(|t| serde_json::json!({"maglev": {"table_size": t}})),
        prop_oneof![0u64..200, Just((1 << 24) + 1), Just(u64::from(u32::MAX))]
            .prop_map(|p| serde_json::json!({"ring": {"points_per_weight": p}})),
    ];
    let hash = (count, hashing).prop_map(
        |(count, hashing)| serde_json::json!({"hash": {"count": count, "hashing": hashing}}),
    );
    let bound = prop::collection::vec(prop::sample::select(vec![0u8, 1, b'a', b'm', 255]), 0..3);
    let range = (
        prop::collection::vec(bound.clone(), 0..5),
        prop::collection::vec(0u32..8, 0..7),
        prop_oneof![0u32..10, Just(u32::MAX)],
    )
        .prop_map(|(bounds, ids, next_id)| {
            serde_json::json!({"range": {"bounds": bounds, "ids": ids, "next_id": next_id}})
        });
    let directory = (any::<u32>(), prop::collection::vec((bound, 0u32..5), 0..5))
        .prop_map(|(default, entries)| {
            serde_json::json!({"directory": {"default": default, "entries": entries}})
        });
    prop_oneof![hash, range, directory]
}

/// A rebalance plan as serde writes it, with arbitrary waves, moves and targets.
fn plan_json() -> impl Strategy<Value = serde_json::Value> {
    let a_move = (0u32..6, node_name(), node_name(), any::<u64>()).prop_map(|(s, from, to, bytes)| {
        serde_json::json!({"shard": s, "from": from, "to": to, "bytes": bytes})
    });
    let skew = prop_oneof![
        Just(serde_json::Value::Null),
        (any::<f64>(), any::<f64>(), any::<bool>())
            .prop_map(|(b, a, r)| serde_json::json!({"before": b, "after": a, "reached": r})),
    ];
    (
        prop::collection::vec(prop::collection::vec(a_move, 0..4), 0..4),
        prop::collection::btree_map(0u32..6, node_name(), 0..6),
        skew,
    )
        .prop_map(|(waves, target, skew)| {
            serde_json::json!({"waves": waves, "target": target, "skew": skew})
        })
}

/// Checks a shard map that was accepted: every key maps to a shard it holds, range layouts
/// pass their check, and it reads back equal.
fn check_shard_map(map: &ShardMap) -> Result<(), TestCaseError> {
    for key in [&b""[..], b"a", b"m", b"zz", &[255, 255]] {
        prop_assert!(map.contains(map.shard_of(key)));
    }
    if let ShardMap::Range(range) = map {
        prop_assert!(range.check().is_ok());
    }
    let back: ShardMap = serde_json::from_value(serde_json::to_value(map).unwrap()).unwrap();
    prop_assert_eq!(&back, map);
    Ok(())
}

/// Checks a slot table that was accepted: its invariants, full coverage, and a serde round trip.
fn check_slot_table(table: &SlotTable) -> Result<(), TestCaseError> {
    table.check_invariants();
    let covered: usize = table.ranges().iter().map(|r| r.slot_count()).sum();
    prop_assert_eq!(covered, usize::from(SLOT_COUNT));
    let back: SlotTable = serde_json::from_value(serde_json::to_value(table).unwrap()).unwrap();
    prop_assert_eq!(&back, table);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn arbitrary_bytes_never_panic_any_deserializer(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        // Parse errors mostly; whatever parses must be valid.
        if let Ok(table) = serde_json::from_slice::<SlotTable>(&bytes) {
            check_slot_table(&table)?;
        }
        if let Ok(map) = serde_json::from_slice::<ShardMap>(&bytes) {
            check_shard_map(&map)?;
        }
        let _ = serde_json::from_slice::<ha_shard::Plan>(&bytes);
        let _ = serde_json::from_slice::<ha_shard::MigrationRecord>(&bytes);
        let _ = serde_json::from_slice::<RebalanceConfig>(&bytes);
    }

    #[test]
    fn arbitrary_json_shapes_are_an_error_or_a_valid_value(value in json_value()) {
        if let Ok(table) = serde_json::from_value::<SlotTable>(value.clone()) {
            check_slot_table(&table)?;
        }
        if let Ok(map) = serde_json::from_value::<ShardMap>(value.clone()) {
            check_shard_map(&map)?;
        }
        if let Ok(record) = serde_json::from_value::<ha_shard::MigrationRecord>(value.clone()) {
            if let Ok(migration) = ha_shard::ShardMigration::resume(record) {
                migration.check_invariants();
            }
        }
        let _ = serde_json::from_value::<ha_shard::Plan>(value.clone());
        let _ = serde_json::from_value::<HashShards>(value.clone());
        let _ = serde_json::from_value::<RangeShards>(value.clone());
        let _ = serde_json::from_value::<DirectoryShards>(value);
    }

    #[test]
    fn slot_table_json_is_an_error_or_a_valid_table_never_a_panic(value in slot_table_json()) {
        if let Ok(table) = serde_json::from_value::<SlotTable>(value) {
            check_slot_table(&table)?;
        }
    }

    #[test]
    fn slot_table_ranges_are_an_error_or_a_valid_table_never_a_panic(ranges in slot_ranges()) {
        let built = SlotTable::new(ranges.iter().map(|(start, end, node)| (*start..=*end, node.clone())));
        if let Ok(table) = built {
            check_slot_table(&table)?;
            // Accepted ranges must have covered every slot exactly once, each with its owner.
            for (start, end, node) in &ranges {
                for slot in [*start, *end] {
                    prop_assert_eq!(table.owner(slot).unwrap(), node);
                }
            }
        }
    }

    #[test]
    fn slot_table_commands_are_an_error_or_keep_the_table_valid(
        ops in prop::collection::vec((0u8..5, slot(), node_id()), 0..40),
    ) {
        let mut table = SlotTable::split_evenly([NodeId::new("a").unwrap(), NodeId::new("b").unwrap()]).unwrap();
        for (op, slot, node) in ops {
            let _ = match op {
                0 => table.add_node(node).map(drop),
                1 => table.remove_node(&node),
                2 => table.begin_migration(slot, &node).map(drop),
                3 => table.complete_migration(slot).map(drop),
                _ => table.abort_migration(slot).map(drop),
            };
            table.check_invariants();
            let _ = table.owner(slot);
            let _ = table.migration(slot);
        }
        check_slot_table(&table)?;
    }

    #[test]
    fn shard_map_json_is_an_error_or_a_valid_map_never_a_panic(value in shard_map_json()) {
        if let Ok(map) = serde_json::from_value::<ShardMap>(value) {
            check_shard_map(&map)?;
        }
    }

    #[test]
    fn shard_map_constructors_are_an_error_or_a_valid_map_never_a_panic(
        bounds in prop::collection::vec(prop::collection::vec(prop::sample::select(vec![0u8, 1, b'a', b'm', 255]), 0..3), 0..6),
        entries in prop::collection::vec((prop::collection::vec(any::<u8>(), 0..2), any::<u32>()), 0..6),
        default in any::<u32>(),
        split_at in prop::collection::vec(any::<u8>(), 0..3),
        pick in any::<u32>(),
    ) {
        if let Ok(range) = RangeShards::new(bounds) {
            check_shard_map(&ShardMap::Range(range.clone()))?;
            // Splits and merges on arbitrary shards and points: an error or a valid map.
            let shard = ShardId(pick % (range.count() as u32 + 1));
            if let Ok((split, right)) = range.split(shard, &split_at) {
                check_shard_map(&ShardMap::Range(split.clone()))?;
                let merged = split.merge(shard, right).unwrap();
                prop_assert_eq!(merged.bounds(), range.bounds());
            }
            if let Ok(merged) = range.merge(shard, ShardId(shard.0.wrapping_add(1))) {
                check_shard_map(&ShardMap::Range(merged))?;
            }
        }
        let entries: Vec<(Vec<u8>, ShardId)> = entries.into_iter().map(|(k, s)| (k, ShardId(s))).collect();
        if let Ok(directory) = DirectoryShards::new(ShardId(default), entries) {
            check_shard_map(&ShardMap::Directory(directory))?;
        }
    }

    #[test]
    fn plan_json_is_an_error_or_a_consistent_plan_never_a_panic(value in plan_json()) {
        if let Ok(plan) = serde_json::from_value::<ha_shard::Plan>(value) {
            let mut moved = BTreeSet::new();
            for wave in plan.waves() {
                prop_assert!(!wave.is_empty());
                for m in wave {
                    prop_assert!(m.from != m.to);
                    prop_assert!(moved.insert(m.shard), "{:?} moves twice", m.shard);
                    prop_assert_eq!(plan.target().get(&m.shard), Some(&m.to));
                }
            }
            prop_assert_eq!(plan.move_count(), moved.len());
        }
    }

    #[test]
    fn rebalance_inputs_are_an_error_or_a_plan_reaching_its_target_never_a_panic(
        current in prop::collection::btree_map(0u32..12, node_id(), 0..12),
        sizes in prop::collection::btree_map(0u32..12, prop_oneof![0u64..100, Just(u64::MAX)], 0..12),
        weights in prop::collection::btree_map(node_id(), prop_oneof![0u32..4, Just(u32::MAX)], 0..5),
        skew in prop_oneof![Just(f64::NAN), Just(f64::INFINITY), -1.0f64..3.0],
        capacities in prop::collection::btree_map(node_id(), prop_oneof![0u64..300, Just(u64::MAX)], 0..3),
        per_node in 1u32..4,
        target_kind in 0u8..3,
        explicit in prop::collection::vec(node_id(), 12),
    ) {
        let current: BTreeMap<ShardId, NodeId> = current.into_iter().map(|(s, n)| (ShardId(s), n)).collect();
        // Sizes usually for the same shards, sometimes not.
        let sizes: BTreeMap<ShardId, u64> = if sizes.len() % 3 == 0 {
            sizes.into_iter().map(|(s, b)| (ShardId(s), b)).collect()
        } else {
            current.keys().map(|&s| (s, sizes.get(&s.0).copied().unwrap_or(1))).collect()
        };
        let target = match target_kind {
            0 => Target::Weights(weights.clone()),
            1 => Target::Skew { nodes: weights.keys().cloned().chain(current.values().cloned()).collect(), max_skew: skew },
            _ => Target::Assignment(current.keys().zip(explicit).map(|(&s, n)| (s, n)).collect()),
        };
        let planner = Rebalancer::new(RebalanceConfig {
            max_moves_per_node: NonZeroU32::new(per_node).unwrap(),
            capacity_bytes: capacities,
            ..RebalanceConfig::default()
        });
        if let Ok(plan) = planner.plan(&current, &sizes, &target) {
            let mut assignment = current.clone();
            for m in plan.moves() {
                prop_assert_eq!(assignment.insert(m.shard, m.to.clone()), Some(m.from.clone()));
            }
            prop_assert_eq!(&assignment, plan.target());
        }
    }

    #[test]
    fn placement_settings_are_an_error_or_a_working_placement_never_a_panic(
        weights in prop::collection::vec(prop_oneof![1u32..4, Just(u32::MAX)], 0..6),
        points in prop_oneof![0u32..50, Just((1 << 24) + 1), Just(u32::MAX)],
        table_size in prop_oneof![0u32..200, Just(65_536), Just(u32::MAX)],
        names in prop::collection::vec("[a-z]{0,90}", 0..6),
        count in prop_oneof![0u32..40, Just(u32::MAX)],
        key in prop::collection::vec(any::<u8>(), 0..8),
    ) {
        let nodes: Vec<Node> = weights
            .iter()
            .enumerate()
            .map(|(i, &w)| {
                Node::new(NodeId::new(format!("n{i}")).unwrap(), names.get(i).cloned().unwrap_or_default())
                    .with_weight(NonZeroU32::new(w).unwrap())
            })
            .collect();
        let use_it = |p: &dyn ha_shard::Placement| {
            let owner = p.locate(&key).id.clone();
            assert!(p.nodes().iter().any(|n| n.id == owner));
        };
        if let Ok(ring) = HashRing::new(nodes.clone(), RingConfig { points_per_weight: points }) {
            use_it(&ring);
        }
        for name in [KetamaName::Id, KetamaName::Address] {
            if let Ok(ring) = HashRing::ketama(nodes.clone(), name) {
                use_it(&ring);
            }
        }
        if let Ok(maglev) = Maglev::new(nodes, MaglevConfig { table_size }) {
            use_it(&maglev);
        }
        let rules = [
            ShardHashing::Jump,
            ShardHashing::Rendezvous,
            ShardHashing::Maglev(MaglevConfig { table_size }),
            ShardHashing::Ring(RingConfig { points_per_weight: points }),
        ];
        for rule in rules {
            if let Ok(map) = HashShards::with_hashing(count, rule) {
                check_shard_map(&ShardMap::Hash(map))?;
            }
        }
    }

    #[test]
    fn measured_loads_are_an_error_or_a_classification_never_a_panic(
        loads in prop::collection::btree_map(0u32..20, prop_oneof![any::<f64>(), 0.0f64..100.0], 0..20),
        factor in prop_oneof![any::<f64>(), 1.0f64..5.0],
    ) {
        let loads: BTreeMap<ShardId, f64> = loads.into_iter().map(|(s, l)| (ShardId(s), l)).collect();
        if let Ok(spots) = HotSpots::classify(&loads, factor) {
            prop_assert!(spots.mean.is_finite() && spots.mean >= 0.0);
            for heat in spots.hot.iter().chain(&spots.cold) {
                prop_assert_eq!(loads.get(&heat.shard), Some(&heat.load));
            }
        }
    }
}
