//! The key router under random writes and migration steps: every copy of every key always has
//! one node serving its reads, and that node holds the key's last acknowledged write.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use ha_core::{Node, NodeId};
use ha_shard::{
    HashShards, KeyRouter, MigrationStep, ShardId, ShardMap, ShardMigration, ShardPlacement,
    ShardPlacementConfig,
};
use proptest::prelude::*;

/// One node's data: key → value (a global write counter, so newer is larger) and its write log.
#[derive(Default, Clone)]
struct Store {
    data: BTreeMap<Vec<u8>, u64>,
    log: Vec<(Vec<u8>, u64)>,
}

impl Store {
    fn apply(&mut self, key: &[u8], value: u64) {
        let slot = self.data.entry(key.to_vec()).or_insert(0);
        if value > *slot {
            *slot = value;
        }
        self.log.push((key.to_vec(), value));
    }
}

#[derive(Debug, Clone)]
enum Op {
    Write(u8),
    Advance(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![3 => any::<u8>().prop_map(Op::Write), 1 => any::<u8>().prop_map(Op::Advance)]
}

fn id(i: usize) -> NodeId {
    NodeId::new(format!("n{i}")).unwrap()
}

/// A migration's snapshot: the source's log position when it started.
struct Copy {
    start: usize,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn no_key_unreadable_during_a_migration(ops in proptest::collection::vec(op(), 1..300)) {
        const SHARDS: u32 = 8;
        let nodes: Vec<Node> = (0..4).map(|i| Node::new(id(i), "")).collect();
        let config = ShardPlacementConfig { replication_factor: 2.try_into().unwrap() };
        let placement = ShardPlacement::new(nodes.clone(), config).unwrap();
        let map = ShardMap::Hash(HashShards::new(SHARDS).unwrap());
        let mut router = KeyRouter::from_placement(map.clone(), &placement).unwrap();
        // Node n4 joins: each shard's copies move to where the grown placement puts them.
        let mut grown = nodes.clone();
        grown.push(Node::new(id(4), ""));
        let after = ShardPlacement::new(grown, config).unwrap();
        let mut copies = BTreeMap::new();
        let mut stores: BTreeMap<NodeId, Store> = (0..5).map(|i| (id(i), Store::default())).collect();
        for shard in map.shards() {
            let old: Vec<NodeId> = router.owners(shard).unwrap().to_vec();
            let new: Vec<NodeId> = after.locate(shard).nodes().map(|n| n.id.clone()).collect();
            let gone = old.iter().filter(|n| !new.contains(n));
            let came = new.iter().filter(|n| !old.contains(n));
            for (from, to) in gone.zip(came) {
                let m = ShardMigration::new(shard, from.clone(), to.clone(), Default::default()).unwrap();
                router.start(m).unwrap();
                copies.insert((shard, from.clone()), Copy { start: 0 });
            }
        }
        let mut acked: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
        let mut counter = 0u64;
        for op in ops {
            match op {
                Op::Write(k) => {
                    let key = format!("key{k}").into_bytes();
                    let route = router.route(&key);
                    if route.held {
                        continue; // refused as retryable: not acknowledged
                    }
                    counter += 1;
                    for node in route.write_to.iter().chain(&route.also_write_to) {
                        stores.get_mut(node).unwrap().apply(&key, counter);
                    }
                    acked.insert(key, counter);
                }
                Op::Advance(i) => {
                    let live: Vec<(ShardId, NodeId)> =
                        router.migrations().map(|m| (m.shard(), m.from().clone())).collect();
                    if live.is_empty() {
                        continue;
                    }
                    let (shard, from) = live[usize::from(i) % live.len()].clone();
                    let m = router.migration_mut(shard, &from).unwrap();
                    let to = m.to().clone();
                    let in_shard = |key: &[u8]| map.shard_of(key) == shard;
                    match m.step() {
                        MigrationStep::Copying => {
                            // The snapshot: the source's data now; its later writes are captured.
                            let source = stores[&from].clone();
                            copies.get_mut(&(shard, from.clone())).unwrap().start = source.log.len();
                            m.on_copy_complete().unwrap();
                            let target = stores.get_mut(&to).unwrap();
                            for (key, value) in source.data.iter().filter(|(k, _)| in_shard(k)) {
                                target.apply(key, *value);
                            }
                        }
                        MigrationStep::CatchingUp | MigrationStep::Draining => {
                            let start = copies[&(shard, from.clone())].start;
                            let captured: Vec<_> = stores[&from].log[start..].to_vec();
                            let target = stores.get_mut(&to).unwrap();
                            for (key, value) in captured.iter().filter(|(k, _)| in_shard(k)) {
                                target.apply(key, *value);
                            }
                            m.on_caught_up(0).unwrap();
                        }
                        MigrationStep::CutOver => {
                            m.on_cut_over().unwrap();
                        }
                        MigrationStep::CleaningUp => {
                            let source = stores.get_mut(&from).unwrap();
                            source.data.retain(|k, _| !in_shard(k));
                            m.on_cleanup_complete().unwrap();
                        }
                        MigrationStep::Done | MigrationStep::Aborted => {}
                    }
                    while router.poll_finished().is_some() {}
                }
            }
            router.check_invariants();
            for (key, value) in &acked {
                let route = router.route(key);
                prop_assert!(!route.read_from.is_empty());
                for node in &route.read_from {
                    let seen = stores[node].data.get(key).copied();
                    prop_assert_eq!(seen, Some(*value), "{:?} on {}", key, node);
                }
            }
        }
        // Every copy still routable once the migrations are polled out.
        prop_assert!(router.migrations().all(|m| !m.is_finished()));
    }
}
