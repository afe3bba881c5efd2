//! Grouping moves into waves under concurrency limits and node capacities.

use std::collections::BTreeMap;

use ha_core::NodeId;

use super::{Move, RebalanceConfig, bytes_per_node};
use crate::{Error, Result, ShardId};

/// The end of the pending list.
const END: usize = usize::MAX;

/// Orders `moves` into waves; see [`Rebalancer`](super::Rebalancer) for the rules.
///
/// Each wave walks the pending moves, largest first, taking every one that fits. The walk stops
/// as soon as nothing further can fit — the wave is full, or every move left has a source or a
/// destination already at its per-node limit — so a wave costs the moves it looks at, not every
/// move pending, and a plan of thousands of moves through one node stays fast.
pub(super) fn schedule(
    mut moves: Vec<Move>,
    current: &BTreeMap<ShardId, NodeId>,
    sizes: &BTreeMap<ShardId, u64>,
    config: &RebalanceConfig,
) -> Result<Vec<Vec<Move>>> {
    moves.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.shard.cmp(&b.shard)));

    // Nodes by index, with their bytes and capacities.
    let mut names: Vec<NodeId> = bytes_per_node(current, sizes).into_keys().collect();
    names.extend(moves.iter().flat_map(|m| [m.from.clone(), m.to.clone()]));
    names.sort_unstable();
    names.dedup();
    let index = |node: &NodeId| names.binary_search(node).unwrap_or(0);
    let held_now = bytes_per_node(current, sizes);
    let mut held: Vec<u64> = names
        .iter()
        .map(|n| held_now.get(n).copied().unwrap_or(0))
        .collect();
    let capacity: Vec<Option<u64>> = names
        .iter()
        .map(|n| config.capacity_bytes.get(n).copied())
        .collect();
    let ends: Vec<(usize, usize)> = moves
        .iter()
        .map(|m| (index(&m.from), index(&m.to)))
        .collect();

    // The end state must fit, or no order will.
    let mut end = held.clone();
    let mut largest_in: Vec<Option<usize>> = vec![None; names.len()];
    for (i, (m, &(from, to))) in moves.iter().zip(&ends).enumerate() {
        end[from] = end[from].saturating_sub(m.bytes);
        end[to] = end[to].saturating_add(m.bytes);
        // Moves are sorted largest first, so the first one in is the largest (ties: lowest id).
        largest_in[to].get_or_insert(i);
    }
    for (node, &bytes) in end.iter().enumerate() {
        // A node over capacity already and receiving nothing is left as it is.
        if let (Some(cap), Some(i)) = (capacity[node], largest_in[node])
            && bytes > cap
        {
            return Err(Error::CapacityExceeded {
                shard: moves[i].shard,
                node: names[node].clone(),
                needed: bytes,
                capacity: cap,
            });
        }
    }

    let per_node = config.max_moves_per_node.get() as usize;
    let in_flight = config.max_moves_in_flight.get() as usize;
    // The pending moves as a linked list in size order, so taking one is O(1).
    let mut next: Vec<usize> = (1..=moves.len()).collect();
    if let Some(last) = next.last_mut() {
        *last = END;
    }
    let mut head = if moves.is_empty() { END } else { 0 };
    // Pending moves per source and per destination node.
    let (mut out_of, mut into) = (vec![0usize; names.len()], vec![0usize; names.len()]);
    for &(from, to) in &ends {
        out_of[from] += 1;
        into[to] += 1;
    }
    let mut taken: Vec<Option<Move>> = moves.into_iter().map(Some).collect();
    let mut busy = vec![0usize; names.len()];
    let mut incoming = vec![0u64; names.len()];
    let mut waves = Vec::new();
    while head != END {
        // Moves not yet looked at in this wave, per node; and how many of those could still
        // start, by source and by destination.
        let (mut unseen_out, mut unseen_in) = (out_of.clone(), into.clone());
        let pending: usize = out_of.iter().sum();
        let (mut open_out, mut open_in) = (pending, pending);
        let mut wave: Vec<(usize, usize, usize)> = Vec::new();
        let (mut prev, mut at) = (END, head);
        while at != END && wave.len() < in_flight && open_out > 0 && open_in > 0 {
            let (from, to) = ends[at];
            let bytes = taken[at].as_ref().map_or(0, |m| m.bytes);
            unseen_out[from] -= 1;
            unseen_in[to] -= 1;
            let (from_free, to_free) = (busy[from] < per_node, busy[to] < per_node);
            open_out -= usize::from(from_free);
            open_in -= usize::from(to_free);
            let fits = capacity[to].is_none_or(|cap| {
                held[to].saturating_add(incoming[to]).saturating_add(bytes) <= cap
            });
            if from_free && to_free && fits {
                incoming[to] = incoming[to].saturating_add(bytes);
                for node in [from, to] {
                    busy[node] += 1;
                    if busy[node] == per_node {
                        open_out -= unseen_out[node];
                        open_in -= unseen_in[node];
                    }
                }
                wave.push((at, from, to));
                // Unlink the move taken.
                let after = next[at];
                if prev == END {
                    head = after;
                } else {
                    next[prev] = after;
                }
                at = after;
            } else {
                prev = at;
                at = next[at];
            }
        }
        if wave.is_empty() {
            // Nothing could start: every waiting move's destination is too full.
            let Some(m) = taken.get(head).and_then(Option::as_ref) else {
                break;
            };
            let to = ends[head].1;
            return Err(Error::CapacityExceeded {
                shard: m.shard,
                node: m.to.clone(),
                needed: held[to].saturating_add(m.bytes),
                capacity: capacity[to].unwrap_or(u64::MAX),
            });
        }
        // The wave ends: sources drop their copies; the counters start afresh.
        let mut moved = Vec::with_capacity(wave.len());
        for (at, from, to) in wave {
            let Some(m) = taken[at].take() else { continue };
            held[from] = held[from].saturating_sub(m.bytes);
            held[to] = held[to].saturating_add(m.bytes);
            out_of[from] -= 1;
            into[to] -= 1;
            busy[from] = 0;
            busy[to] = 0;
            incoming[to] = 0;
            moved.push(m);
        }
        waves.push(moved);
    }
    Ok(waves)
}
