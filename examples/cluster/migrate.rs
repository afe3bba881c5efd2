//! A node joins: ha-shard plans which shard copies move to it and runs each move as a
//! `ShardMigration` through the coordinator's `KeyRouter` — copy a snapshot from the source's
//! log, catch up (writes go to both), cut over, delete the source's copy.
//!
//! The copies to move come from the grown `ShardPlacement` (zone-aware, replication factor 3):
//! each shard keeps the copies that stay and sends the others to the new node. A `Rebalancer`
//! orders those moves into waves under per-node and cluster-wide limits (each copy of a shard is
//! one "slot" in its assignment, so a shard's copies are planned independently).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use ha::core::{Node, NodeId};
use ha::shard::{
    MigrationConfig, RebalanceConfig, Rebalancer, ShardId, ShardMigration, ShardPlacement,
    ShardPlacementConfig, Target, ideal_join_fraction,
};
use serde_json::{Value, json};

use crate::coordinator::Coordinator;
use crate::protocol::{Request, Response, ShardFilter};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Moves copies to the nodes `all` adds (already members of the coordinator); returns the
/// figures for the report.
pub(crate) async fn rebalance(
    coordinator: &Arc<Coordinator>,
    all: Vec<Node>,
    shards: u32,
    log: &(dyn Fn(String) + Send + Sync),
) -> Result<Value, BoxError> {
    let rf = coordinator.settings.replication_factor;
    let config = ShardPlacementConfig {
        replication_factor: rf.try_into()?,
    };
    let placement = ShardPlacement::new(all.clone(), config)?;
    // Each (shard, copy index) is a slot of the assignment the rebalancer plans over.
    let slot = |shard: ShardId, i: usize| ShardId(shard.0 * rf as u32 + i as u32);
    let mut current = BTreeMap::new();
    let mut target = BTreeMap::new();
    {
        let router = coordinator.router.read();
        for (shard, owners) in router.assignment() {
            let wanted: Vec<NodeId> = placement
                .locate(*shard)
                .nodes()
                .map(|n| n.id.clone())
                .collect();
            let mut arriving = wanted.iter().filter(|n| !owners.contains(n));
            for (i, owner) in owners.iter().enumerate() {
                current.insert(slot(*shard, i), owner.clone());
                let to = if wanted.contains(owner) {
                    owner.clone()
                } else {
                    arriving.next().cloned().unwrap_or_else(|| owner.clone())
                };
                target.insert(slot(*shard, i), to);
            }
        }
    }
    let sizes = current.keys().map(|s| (*s, 1u64)).collect();
    let planner = Rebalancer::new(RebalanceConfig {
        max_moves_per_node: 4,
        max_moves_in_flight: 8,
        ..RebalanceConfig::default()
    })?;
    let plan = planner.plan(&current, &sizes, &Target::Assignment(target))?;
    log(format!(
        "rebalance plan: {} shard copies move to the new node in {} waves",
        plan.move_count(),
        plan.waves().len()
    ));
    let started = Instant::now();
    let mut keys_copied = 0u64;
    for wave in plan.waves() {
        let moves: Vec<(ShardId, NodeId, NodeId)> = wave
            .iter()
            .map(|m| (ShardId(m.shard.0 / rf as u32), m.from.clone(), m.to.clone()))
            .collect();
        {
            let mut router = coordinator.router.write();
            for (shard, from, to) in &moves {
                let m = ShardMigration::new(
                    *shard,
                    from.clone(),
                    to.clone(),
                    MigrationConfig::default(),
                )?;
                router.start(m)?;
            }
        }
        let runs = moves.iter().map(|(shard, from, to)| {
            move_one(coordinator, *shard, from.clone(), to.clone(), shards)
        });
        for result in futures_util::future::join_all(runs).await {
            keys_copied += result?;
        }
        let mut router = coordinator.router.write();
        while router.poll_finished().is_some() {}
    }
    // Keys per copy: the distinct keys the cluster holds, from the nodes' own counts.
    let total_copies: u64 = coordinator.node_key_counts().await.iter().sum();
    let moved_fraction = if total_copies > 0 {
        keys_copied as f64 / total_copies as f64
    } else {
        0.0
    };
    Ok(json!({
        "moves": plan.move_count(),
        "waves": plan.waves().len(),
        "keys_copied": keys_copied,
        "moved_fraction": moved_fraction,
        "ideal_fraction": ideal_join_fraction(all.len().saturating_sub(1)),
        "seconds": started.elapsed().as_secs_f64(),
    }))
}

/// One copy's move; returns the keys copied.
async fn move_one(
    coordinator: &Arc<Coordinator>,
    shard: ShardId,
    from: NodeId,
    to: NodeId,
    shards: u32,
) -> Result<u64, BoxError> {
    let filter = ShardFilter {
        shards,
        shard: shard.0,
    };
    let source = coordinator.member(&from).ok_or("source node unknown")?;
    let target = coordinator.member(&to).ok_or("target node unknown")?;
    // Copying: writes stay on the source and land in its log; take a snapshot of the shard.
    let mut keys = HashSet::new();
    let (_, mut position) = stream(&source.client, &target.client, 0, filter, &mut keys).await?;
    coordinator.step(shard, &from, |m| m.on_copy_complete().map(|_| ()))?;
    // Catching up: writes go to both; replay the source's log from the snapshot on.
    loop {
        let (replayed, next) =
            stream(&source.client, &target.client, position, filter, &mut keys).await?;
        position = next;
        if replayed == 0 {
            break;
        }
    }
    coordinator.step(shard, &from, |m| m.on_caught_up(0).map(|_| ()))?;
    // Cut over: reads and writes go to the target. Every router is this one: clean up.
    coordinator.step(shard, &from, |m| m.on_cut_over().map(|_| ()))?;
    let purged = source.client.call(&Request::Purge { filter }).await;
    if !matches!(purged, Ok(Response::Purged(_))) {
        return Err("source did not purge the moved shard".into());
    }
    coordinator.step(shard, &from, |m| m.on_cleanup_complete().map(|_| ()))?;
    Ok(keys.len() as u64)
}

/// Copies the source's log entries of one shard from `position` to its end onto the target
/// (a put applies only if newer, so replays are safe); returns the entries copied and the
/// position reached, and notes the keys in `keys`.
async fn stream(
    source: &crate::client::NodeClient,
    target: &crate::client::NodeClient,
    mut position: u64,
    filter: ShardFilter,
    keys: &mut HashSet<Vec<u8>>,
) -> Result<(u64, u64), BoxError> {
    let mut copied = 0;
    loop {
        let request = Request::StreamFrom {
            position,
            max: 2000,
            filter: Some(filter),
        };
        let Ok(Response::Entries { entries, next, end }) = source.call(&request).await else {
            return Err("source did not stream its log".into());
        };
        for (key, item) in entries {
            keys.insert(key.clone());
            let put = Request::Put { key, item };
            if !matches!(target.call(&put).await, Ok(Response::Ack { .. })) {
                return Err("target refused a copied entry".into());
            }
            copied += 1;
        }
        position = next;
        if next >= end {
            return Ok((copied, position));
        }
    }
}

impl Coordinator {
    /// Reports an event to the migration of `shard`'s copy on `from`.
    pub(crate) fn step(
        &self,
        shard: ShardId,
        from: &NodeId,
        event: impl FnOnce(&mut ShardMigration) -> ha::shard::Result<()>,
    ) -> Result<(), BoxError> {
        let mut router = self.router.write();
        let m = router
            .migration_mut(shard, from)
            .ok_or("migration not found")?;
        event(m)?;
        tracing::debug!(%shard, %from, step = %m.step(), "migration step");
        Ok(())
    }

    /// Each node's key count, from its heartbeat answer.
    pub(crate) async fn node_key_counts(&self) -> Vec<u64> {
        let mut counts = Vec::new();
        for id in self.member_ids() {
            if let Some(m) = self.member(&id) {
                if let Ok(Response::Heartbeat { keys, .. }) =
                    m.client.call(&Request::Heartbeat).await
                {
                    counts.push(keys);
                }
            }
        }
        counts
    }
}
