//! Grouping moves into waves under concurrency limits and node capacities.

use std::collections::BTreeMap;

use ha_core::NodeId;

use super::{Move, RebalanceConfig, bytes_per_node};
use crate::{Error, Result, ShardId};

/// Orders `moves` into waves; see [`Rebalancer`](super::Rebalancer) for the rules.
pub(super) fn schedule(
    mut moves: Vec<Move>,
    current: &BTreeMap<ShardId, NodeId>,
    sizes: &BTreeMap<ShardId, u64>,
    config: &RebalanceConfig,
) -> Result<Vec<Vec<Move>>> {
    let mut held = bytes_per_node(current, sizes);
    let capacity = |node: &NodeId| config.capacity_bytes.get(node).copied();

    // The end state must fit, or no order will.
    let mut end = held.clone();
    for m in &moves {
        let from: &mut u64 = end.entry(m.from.clone()).or_default();
        *from = from.saturating_sub(m.bytes);
        let to: &mut u64 = end.entry(m.to.clone()).or_default();
        *to = to.saturating_add(m.bytes);
    }
    for (node, &bytes) in &end {
        let Some(cap) = capacity(node) else { continue };
        // A node over capacity already and receiving nothing is left as it is.
        let incoming = moves
            .iter()
            .filter(|m| &m.to == node)
            .max_by(|a, b| a.bytes.cmp(&b.bytes).then(b.shard.cmp(&a.shard)));
        if let (true, Some(m)) = (bytes > cap, incoming) {
            return Err(Error::CapacityExceeded {
                shard: m.shard,
                node: node.clone(),
                needed: bytes,
                capacity: cap,
            });
        }
    }

    moves.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.shard.cmp(&b.shard)));
    let per_node = config.max_moves_per_node as usize;
    let in_flight = config.max_moves_in_flight as usize;
    let mut waves = Vec::new();
    while !moves.is_empty() {
        let mut busy: BTreeMap<NodeId, usize> = BTreeMap::new();
        let mut incoming: BTreeMap<NodeId, u64> = BTreeMap::new();
        let mut wave = Vec::new();
        let mut waiting = Vec::new();
        for m in moves {
            let load = |node: &NodeId| busy.get(node).copied().unwrap_or(0);
            let fits = capacity(&m.to).is_none_or(|cap| {
                let at_start = held.get(&m.to).copied().unwrap_or(0);
                let coming = incoming.get(&m.to).copied().unwrap_or(0);
                at_start.saturating_add(coming).saturating_add(m.bytes) <= cap
            });
            if wave.len() < in_flight && load(&m.from) < per_node && load(&m.to) < per_node && fits
            {
                *busy.entry(m.from.clone()).or_default() += 1;
                *busy.entry(m.to.clone()).or_default() += 1;
                let coming: &mut u64 = incoming.entry(m.to.clone()).or_default();
                *coming = coming.saturating_add(m.bytes);
                wave.push(m);
            } else {
                waiting.push(m);
            }
        }
        if wave.is_empty() {
            // Nothing could start: every waiting move's destination is too full.
            let Some(m) = waiting.first() else { break };
            let at_start = held.get(&m.to).copied().unwrap_or(0);
            return Err(Error::CapacityExceeded {
                shard: m.shard,
                node: m.to.clone(),
                needed: at_start.saturating_add(m.bytes),
                capacity: capacity(&m.to).unwrap_or(u64::MAX),
            });
        }
        // The wave ends: sources drop their copies.
        for m in &wave {
            let from: &mut u64 = held.entry(m.from.clone()).or_default();
            *from = from.saturating_sub(m.bytes);
            let to: &mut u64 = held.entry(m.to.clone()).or_default();
            *to = to.saturating_add(m.bytes);
        }
        waves.push(wave);
        moves = waiting;
    }
    Ok(waves)
}
