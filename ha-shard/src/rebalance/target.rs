//! Target assignments computed from node weights or from a skew bound.

use std::collections::{BTreeMap, BTreeSet};

use ha_core::NodeId;

use super::{SkewReport, bytes_per_node};
use crate::error::factor;
use crate::{Error, Result, ShardId};

/// The assignment with each weighted node holding its weight share of the shard count, moving as
/// few shards as those counts allow; see [`Target::Weights`](super::Target::Weights).
pub(super) fn by_weights(
    current: &BTreeMap<ShardId, NodeId>,
    sizes: &BTreeMap<ShardId, u64>,
    weights: &BTreeMap<NodeId, u32>,
) -> Result<BTreeMap<ShardId, NodeId>> {
    if weights.is_empty() {
        return Err(Error::EmptyNodeSet);
    }
    let total: u128 = weights.values().map(|&w| u128::from(w)).sum();
    if total == 0 {
        return Err(ha_core::Error::Zero {
            name: "total weight",
        }
        .into());
    }
    let size = |s: &ShardId| sizes.get(s).copied().unwrap_or(0);
    // Shards per node now, largest first (they are the ones that stay).
    let mut held: BTreeMap<&NodeId, Vec<ShardId>> = BTreeMap::new();
    for (shard, node) in current {
        held.entry(node).or_default().push(*shard);
    }
    for shards in held.values_mut() {
        shards.sort_by(|a, b| size(b).cmp(&size(a)).then(a.cmp(b)));
    }
    let count_on = |node: &NodeId| held.get(node).map_or(0, Vec::len) as u128;

    // Counts: each node's share rounded down, then one more for as many nodes as shards remain,
    // first to nodes that would otherwise shed a shard.
    let n = current.len() as u128;
    let mut quota: BTreeMap<&NodeId, u128> = BTreeMap::new();
    let mut candidates = Vec::new();
    for (node, &w) in weights {
        let share = n * u128::from(w);
        quota.insert(node, share / total);
        if share % total > 0 {
            let sheds = count_on(node) > share / total;
            candidates.push((node, sheds, share % total));
        }
    }
    let extra = n - quota.values().sum::<u128>();
    candidates.sort_by(|a, b| b.1.cmp(&a.1).then(b.2.cmp(&a.2)).then(a.0.cmp(b.0)));
    debug_assert!(candidates.len() as u128 >= extra);
    for (node, _, _) in candidates.into_iter().take(extra as usize) {
        *quota.entry(node).or_default() += 1;
    }

    // Keep up to the count on each node; the rest move.
    let mut target = BTreeMap::new();
    let mut pool = Vec::new();
    let mut room: BTreeMap<&NodeId, (u128, u64)> = BTreeMap::new();
    for (node, &q) in &quota {
        let shards = held.get(*node).map_or(&[][..], Vec::as_slice);
        let keep = shards.len().min(usize::try_from(q).unwrap_or(usize::MAX));
        let kept_bytes = shards[..keep]
            .iter()
            .fold(0u64, |sum, s| sum.saturating_add(size(s)));
        for s in &shards[..keep] {
            target.insert(*s, (*node).clone());
        }
        pool.extend_from_slice(&shards[keep..]);
        room.insert(node, (q - keep as u128, kept_bytes));
    }
    for (node, shards) in &held {
        if !quota.contains_key(node) {
            pool.extend_from_slice(shards);
        }
    }
    pool.sort_by(|a, b| size(b).cmp(&size(a)).then(a.cmp(b)));
    for shard in pool {
        // The node with the most room left, then the fewest bytes, then the smallest id.
        let best = room
            .iter_mut()
            .filter(|(_, (left, _))| *left > 0)
            .max_by(|a, b| {
                (a.1.0)
                    .cmp(&b.1.0)
                    .then(b.1.1.cmp(&a.1.1))
                    .then(b.0.cmp(a.0))
            });
        let Some((node, (left, bytes))) = best else {
            debug_assert!(false, "counts add up to the shard count");
            break;
        };
        *left -= 1;
        *bytes = bytes.saturating_add(size(&shard));
        target.insert(shard, (*node).clone());
    }
    Ok(target)
}

/// Peak ÷ mean bytes over `nodes`; 1 when they hold nothing.
pub(super) fn skew_of(held: &BTreeMap<NodeId, u64>, nodes: &BTreeSet<NodeId>) -> f64 {
    let loads: Vec<f64> = nodes
        .iter()
        .map(|n| held.get(n).copied().unwrap_or(0) as f64)
        .collect();
    let total: f64 = loads.iter().sum();
    if total <= 0.0 || loads.is_empty() {
        return 1.0;
    }
    let peak = loads.iter().copied().fold(0.0, f64::max);
    peak / (total / loads.len() as f64)
}

/// The assignment after moving shards from the most to the least loaded node until the skew is
/// within `max_skew`; see [`Target::Skew`](super::Target::Skew).
pub(super) fn by_skew(
    current: &BTreeMap<ShardId, NodeId>,
    sizes: &BTreeMap<ShardId, u64>,
    nodes: &BTreeSet<NodeId>,
    max_skew: f64,
) -> Result<(BTreeMap<ShardId, NodeId>, SkewReport)> {
    if nodes.is_empty() {
        return Err(Error::EmptyNodeSet);
    }
    factor("max_skew", max_skew, false)?;
    if let Some(node) = current.values().find(|n| !nodes.contains(*n)) {
        return Err(Error::UnknownNode(node.clone()));
    }
    let size = |s: &ShardId| sizes.get(s).copied().unwrap_or(0);
    let mut assignment = current.clone();
    let mut held: BTreeMap<NodeId, u64> = nodes.iter().map(|n| (n.clone(), 0)).collect();
    for (node, bytes) in bytes_per_node(current, sizes) {
        held.insert(node, bytes);
    }
    let before = skew_of(&held, nodes);
    // Nodes by bytes held, and each node's shards by (size, whether it started there, id): the
    // peak and least loaded nodes and the best shard to move are then found in O(log n).
    let mut by_load: BTreeMap<u64, BTreeSet<NodeId>> = BTreeMap::new();
    for (node, &bytes) in &held {
        by_load.entry(bytes).or_default().insert(node.clone());
    }
    let mut shards_on: BTreeMap<NodeId, BTreeSet<(u64, bool, ShardId)>> = BTreeMap::new();
    for (&shard, node) in current {
        shards_on
            .entry(node.clone())
            .or_default()
            .insert((size(&shard), true, shard));
    }
    let total: f64 = held.values().map(|&b| b as f64).sum();
    let mean = total / nodes.len() as f64;
    // Each step lowers the sum of squared node loads, so the loop ends; the cap bounds the work
    // for adversarial sizes.
    let max_steps = current.len().saturating_mul(nodes.len()).max(16);
    for _ in 0..max_steps {
        // The peak: the most bytes, ties to the smallest id; the least: the fewest, likewise.
        let (Some((&p, peak)), Some((&l, least))) =
            (by_load.last_key_value(), by_load.first_key_value())
        else {
            break;
        };
        let (Some(peak), Some(least)) = (peak.first().cloned(), least.first().cloned()) else {
            break;
        };
        if total <= 0.0 || p as f64 / mean <= max_skew {
            break;
        }
        let Some((s, was_here, shard)) = best_shard(shards_on.get(&peak), p, l) else {
            break;
        };
        assignment.insert(shard, least.clone());
        if let Some(on_peak) = shards_on.get_mut(&peak) {
            on_peak.remove(&(s, was_here, shard));
        }
        let started_on_least = current.get(&shard) == Some(&least);
        shards_on
            .entry(least.clone())
            .or_default()
            .insert((s, started_on_least, shard));
        relocate(&mut by_load, &peak, p, p - s);
        relocate(&mut by_load, &least, l, l + s);
        held.insert(peak, p - s);
        held.insert(least, l + s);
    }
    let after = skew_of(&held, nodes);
    Ok((
        assignment,
        SkewReport {
            before,
            after,
            reached: after <= max_skew,
        },
    ))
}

/// The shard of `on_peak` whose move from the peak (`p` bytes) to the least loaded node (`l`
/// bytes) leaves the larger of the two smallest, if that is below `p`; ties to a shard that did
/// not start on the peak (moving it back is free), then to the smallest id.
///
/// The larger of `p − s` and `l + s` falls while `2s ≤ p − l` and rises after, so the best size
/// is the largest at most half the gap or the smallest at least half of it; within a size, the
/// set's order puts the preferred shard first.
fn best_shard(
    on_peak: Option<&BTreeSet<(u64, bool, ShardId)>>,
    p: u64,
    l: u64,
) -> Option<(u64, bool, ShardId)> {
    let on_peak = on_peak?;
    let gap = p.checked_sub(l)?;
    let half = gap / 2;
    let first_of_size = |size: u64| on_peak.range((size, false, ShardId(0))..).next().copied();
    let below = on_peak
        .range(..=(half, true, ShardId(u32::MAX)))
        .next_back()
        .and_then(|&(size, _, _)| first_of_size(size));
    let above = on_peak
        .range((gap.div_ceil(2), false, ShardId(0))..)
        .next()
        .copied();
    [below, above]
        .into_iter()
        .flatten()
        .filter(|&(s, _, _)| s > 0 && l.saturating_add(s) < p)
        .min_by_key(|&(s, was_here, shard)| ((p - s).max(l + s), was_here, shard))
}

/// Moves `node` from the `from` bytes group to the `to` one.
fn relocate(by_load: &mut BTreeMap<u64, BTreeSet<NodeId>>, node: &NodeId, from: u64, to: u64) {
    if let Some(group) = by_load.get_mut(&from) {
        group.remove(node);
        if group.is_empty() {
            by_load.remove(&from);
        }
    }
    by_load.entry(to).or_default().insert(node.clone());
}
