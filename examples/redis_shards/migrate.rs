//! A server joins: the arcs it takes over move from their old owners, wave by wave as ha-shard's
//! `Rebalancer` plans them, each through its `ShardMigration` (copy → catch up → cut over →
//! clean up) while the proxy keeps serving.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::error::Error;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ha::core::{Node, NodeId};
use ha::shard::{
    HashRing, KetamaName, MigrationConfig, Placement, RebalanceConfig, Rebalancer, ShardId, Target,
    ideal_join_fraction,
};
use redis_protocol::resp2::types::BytesFrame;

use crate::backend::{Backend, Reply, command};
use crate::proxy::Proxy;
use crate::routing::{ArcRoute, Join, MovingArc, MovingState};

/// Keys copied per pipelined round trip.
const COPY_CHUNK: usize = 256;

/// What a join did.
#[derive(Debug, Clone)]
pub(crate) struct JoinReport {
    /// Keys on the servers before the join.
    pub(crate) keys_before: u64,
    /// Keys the plan expected to move (the moving arcs' key counts at planning).
    pub(crate) keys_planned: u64,
    /// Keys copied from a snapshot to the new server.
    pub(crate) keys_copied: u64,
    /// Captured writes replayed while catching up.
    pub(crate) writes_replayed: u64,
    /// Keys deleted from the old owners in clean-up.
    pub(crate) keys_cleaned: u64,
    /// The least share a join can move: `1/(n+1)`.
    pub(crate) ideal_fraction: f64,
    /// The share of ketama's circle that changed owner.
    pub(crate) circle_share: f64,
    /// Arcs of the circle, and those that moved.
    pub(crate) arcs: usize,
    /// Arcs moved.
    pub(crate) arcs_moved: usize,
    /// Waves of the plan.
    pub(crate) waves: usize,
    /// How long the migration took.
    pub(crate) elapsed: Duration,
}

/// Every key of `backend`, by SCAN.
pub(crate) async fn scan_all(
    backend: &Backend,
) -> Result<Vec<Bytes>, Box<dyn Error + Send + Sync>> {
    let mut cursor = Bytes::from_static(b"0");
    let mut keys = Vec::new();
    loop {
        let reply = backend
            .call(command(&[b"SCAN", &cursor, b"COUNT", b"1000"]))
            .await;
        let BytesFrame::Array(mut items) = reply.frame else {
            return Err(format!("SCAN on {} failed: {:?}", backend.address, reply.frame).into());
        };
        let (Some(BytesFrame::Array(batch)), Some(BytesFrame::BulkString(next))) =
            (items.pop(), items.pop())
        else {
            return Err(format!("SCAN on {} answered oddly", backend.address).into());
        };
        keys.extend(batch.into_iter().filter_map(|k| match k {
            BytesFrame::BulkString(k) => Some(k),
            _ => None,
        }));
        if next.as_ref() == b"0" {
            return Ok(keys);
        }
        cursor = next;
    }
}

/// Copies `keys` from `from` to `to` (DUMP + PTTL, then RESTORE … REPLACE, or DEL when gone);
/// returns how many existed.
async fn copy_keys(
    from: &Backend,
    to: &Backend,
    keys: &[Bytes],
) -> Result<u64, Box<dyn Error + Send + Sync>> {
    let mut copied = 0;
    for chunk in keys.chunks(COPY_CHUNK) {
        let asks: Vec<Bytes> = chunk
            .iter()
            .flat_map(|k| [command(&[b"DUMP", k]), command(&[b"PTTL", k])])
            .collect();
        let answers = from
            .send(asks)
            .await
            .map_err(|_| format!("{} unavailable", from.address))?;
        let mut writes = Vec::with_capacity(chunk.len());
        for (key, pair) in chunk.iter().zip(answers.chunks(2)) {
            match (&pair[0].frame, &pair[1].frame) {
                (BytesFrame::BulkString(payload), BytesFrame::Integer(pttl)) => {
                    let ttl = (*pttl).max(0).to_string();
                    writes.push(command(&[
                        b"RESTORE",
                        key,
                        ttl.as_bytes(),
                        payload,
                        b"REPLACE",
                    ]));
                    copied += 1;
                }
                (BytesFrame::Null, _) => writes.push(command(&[b"DEL", key])),
                (other, _) => return Err(format!("DUMP {key:?} failed: {other:?}").into()),
            }
        }
        let done = to
            .send(writes)
            .await
            .map_err(|_| format!("{} unavailable", to.address))?;
        if let Some(bad) = done
            .iter()
            .find(|r| matches!(r.frame, BytesFrame::Error(_)))
        {
            return Err(format!("copy to {} failed: {:?}", to.address, bad.frame).into());
        }
    }
    Ok(copied)
}

/// Deletes `keys` from `backend`; returns how many it held.
async fn delete_keys(
    backend: &Backend,
    keys: &[Bytes],
) -> Result<u64, Box<dyn Error + Send + Sync>> {
    let mut deleted = 0;
    for chunk in keys.chunks(COPY_CHUNK) {
        let mut cmd: Vec<&[u8]> = vec![b"DEL"];
        cmd.extend(chunk.iter().map(|k| k.as_ref()));
        match backend.call(command(&cmd)).await.frame {
            BytesFrame::Integer(n) => deleted += n as u64,
            other => return Err(format!("DEL on {} failed: {other:?}", backend.address).into()),
        }
    }
    Ok(deleted)
}

/// Waits until every command queued to every server before now has been answered.
async fn barrier(backends: &[Backend]) {
    for backend in backends {
        let _: Reply = backend.call(command(&[b"PING"])).await;
    }
}

/// `node` (served by `backend`) joins the proxy's ring; the arcs it takes over migrate while the
/// proxy serves. Returns the figures.
pub(crate) async fn join(
    proxy: &Proxy,
    backend: Backend,
    node: Node,
    name: KetamaName,
    max_moves_per_wave: u32,
) -> Result<JoinReport, Box<dyn Error + Send + Sync>> {
    let started = Instant::now();
    let (old_ring, old_backends) = {
        let routing = proxy.routing.read();
        (routing.ring.clone(), routing.backends.clone())
    };
    let mut nodes = old_ring.nodes().to_vec();
    nodes.push(node);
    let new_ring = HashRing::ketama(nodes, name)?;
    let join = Join::new(&old_ring, &new_ring);

    // The plan: every arc is a shard; its size is its key count now.
    let mut sizes: BTreeMap<ShardId, u64> = (0..join.bounds.len() as u32)
        .map(|a| (ShardId(a), 0))
        .collect();
    let mut keys_before = 0;
    for b in &old_backends {
        for key in scan_all(b).await? {
            keys_before += 1;
            let arc = join.arc_of(old_ring.hash_key(&key));
            *sizes.entry(ShardId(arc as u32)).or_default() += 1;
        }
    }
    let id = |ring: &HashRing, i: usize| -> NodeId { ring.nodes()[i].id.clone() };
    let current: BTreeMap<ShardId, NodeId> = (0u32..)
        .zip(&join.owners)
        .map(|(a, &(old, _))| (ShardId(a), id(&old_ring, old)))
        .collect();
    let target: BTreeMap<ShardId, NodeId> = (0u32..)
        .zip(&join.owners)
        .map(|(a, &(_, new))| (ShardId(a), id(&new_ring, new)))
        .collect();
    let rebalancer = Rebalancer::new(RebalanceConfig {
        max_moves_per_node: max_moves_per_wave,
        max_moves_in_flight: max_moves_per_wave,
        ..RebalanceConfig::default()
    })?;
    let plan = rebalancer.plan(&current, &sizes, &Target::Assignment(target))?;
    let index_of = |node: &NodeId| new_ring.nodes().iter().position(|n| &n.id == node);
    let mut circle = 0u64;
    for m in plan.moves() {
        let a = m.shard.0 as usize;
        let low = if a == 0 {
            join.bounds[join.bounds.len() - 1]
        } else {
            join.bounds[a - 1]
        };
        circle += u64::from(join.bounds[a].wrapping_sub(low));
    }
    let mut report = JoinReport {
        keys_before,
        keys_planned: plan.moves().map(|m| m.bytes).sum(),
        keys_copied: 0,
        writes_replayed: 0,
        keys_cleaned: 0,
        ideal_fraction: ideal_join_fraction(old_ring.nodes().len()),
        circle_share: circle as f64 / f64::from(u32::MAX),
        arcs: join.bounds.len(),
        arcs_moved: plan.moves().count(),
        waves: plan.waves().len(),
        elapsed: Duration::ZERO,
    };
    let arc_bounds = join.bounds.clone();
    {
        let mut routing = proxy.routing.write();
        routing.backends.push(backend);
        routing.join = Some(join);
    }
    let backends = proxy.routing.read().backends.clone();
    let arc_of = |key: &[u8]| {
        let h = old_ring.hash_key(key);
        let i = arc_bounds.partition_point(|&b| u64::from(b) < h);
        if i == arc_bounds.len() { 0 } else { i }
    };

    for wave in plan.waves() {
        // Start every move of the wave: its arc now follows its migration.
        let mut moving: HashMap<usize, Arc<MovingArc>> = HashMap::new();
        for m in wave {
            let (Some(from), Some(to)) = (index_of(&m.from), index_of(&m.to)) else {
                return Err(format!("plan names an unknown node in {m:?}").into());
            };
            let arc = Arc::new(MovingArc {
                state: tokio::sync::Mutex::new(MovingState {
                    migration: m.migration(MigrationConfig::default())?,
                    from,
                    to,
                    captured: BTreeSet::new(),
                    touched: BTreeSet::new(),
                }),
            });
            moving.insert(m.shard.0 as usize, arc);
        }
        {
            let mut routing = proxy.routing.write();
            if let Some(join) = routing.join.as_mut() {
                for (&a, arc) in &moving {
                    join.arcs[a] = ArcRoute::Moving(Arc::clone(arc));
                }
            }
        }
        // Commands routed before the switch are answered before the copy starts.
        barrier(&backends).await;

        // Copy: a snapshot of each source's keys in the wave's arcs.
        let sources: BTreeSet<usize> = {
            let mut s = BTreeSet::new();
            for arc in moving.values() {
                s.insert(arc.state.lock().await.from);
            }
            s
        };
        let mut snapshot: HashMap<usize, Vec<Bytes>> = HashMap::new();
        for &source in &sources {
            for key in scan_all(&backends[source]).await? {
                let a = arc_of(&key);
                if moving.contains_key(&a) {
                    snapshot.entry(a).or_default().push(key);
                }
            }
        }
        for (&a, arc) in &moving {
            let mut state = arc.state.lock().await;
            let keys = snapshot.get(&a).map(Vec::as_slice).unwrap_or_default();
            report.keys_copied +=
                copy_keys(&backends[state.from], &backends[state.to], keys).await?;
            state.migration.on_copy_complete()?;
        }

        // Catch up, cut over, clean up.
        for (&a, arc) in &moving {
            let mut state = arc.state.lock().await;
            let captured: Vec<Bytes> = std::mem::take(&mut state.captured).into_iter().collect();
            if !captured.is_empty() {
                // Behind by the captured writes: stays catching up while they replay.
                state.migration.on_caught_up(captured.len() as u64)?;
            }
            copy_keys(&backends[state.from], &backends[state.to], &captured).await?;
            report.writes_replayed += captured.len() as u64;
            state.migration.on_caught_up(0)?;
            state.migration.on_cut_over()?;
            let mut old: BTreeSet<Bytes> = std::mem::take(&mut state.touched);
            old.extend(snapshot.remove(&a).unwrap_or_default());
            let old: Vec<Bytes> = old.into_iter().collect();
            report.keys_cleaned += delete_keys(&backends[state.from], &old).await?;
            state.migration.on_cleanup_complete()?;
            debug_assert!(state.migration.is_finished());
            let to = state.to;
            drop(state);
            let mut routing = proxy.routing.write();
            if let Some(join) = routing.join.as_mut() {
                join.arcs[a] = ArcRoute::Stable(to);
            }
        }
    }
    {
        let mut routing = proxy.routing.write();
        routing.ring = new_ring;
        routing.join = None;
    }
    report.elapsed = started.elapsed();
    Ok(report)
}
