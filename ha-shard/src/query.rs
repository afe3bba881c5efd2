//! Cross-shard query planning: which shards a query visits, and merging their partial answers.
//!
//! A scatter-gather query — a multi-key read, a range scan, a grouped count — is planned by
//! grouping its keys by shard ([`group_by_shard`]) or listing the shards its range touches
//! ([`ShardMap::shards_touched`]), sent to each shard, and answered by merging the partial
//! results: sorted pages with [`merge_sorted`] / [`merge_sorted_by_key`] (a k-way merge that
//! stops at the limit, as a coordinator does for `ORDER BY … LIMIT`), grouped counts and sums with
//! [`merge_counts`] and [`merge_sums`]. Everything here is deterministic: groups come out in
//! shard or key order, and ties keep the order of the parts.
//!
//! ```
//! use ha_shard::{HashShards, ShardMap, group_by_shard, merge_sorted};
//!
//! let map = ShardMap::Hash(HashShards::new(4)?);
//! let keys = ["a", "b", "c", "d", "e"];
//! let plan = group_by_shard(&map, &keys);
//! assert_eq!(plan.values().map(Vec::len).sum::<usize>(), keys.len());
//!
//! // Each shard answers its top entries in order; the coordinator keeps the first three.
//! let pages = vec![vec![1, 4, 9], vec![2, 3], vec![], vec![5]];
//! assert_eq!(merge_sorted(pages, 3), vec![1, 2, 3]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap};

use crate::{ShardId, ShardMap};

/// The keys grouped by shard: for each shard holding at least one of `keys`, the indices into
/// `keys` of those it holds, ascending. Shards come out in id order.
#[must_use]
pub fn group_by_shard<K: AsRef<[u8]>>(map: &ShardMap, keys: &[K]) -> BTreeMap<ShardId, Vec<usize>> {
    let mut groups: BTreeMap<ShardId, Vec<usize>> = BTreeMap::new();
    for (index, key) in keys.iter().enumerate() {
        groups
            .entry(map.shard_of(key.as_ref()))
            .or_default()
            .push(index);
    }
    groups
}

/// The first `limit` items of the union of `parts`, each sorted ascending, in ascending order —
/// the same as sorting the union and truncating it, in `O(limit · log parts)` after the first
/// item of every part. Equal items come out in the order of their parts. A part that is not
/// sorted gives a deterministic but unsorted answer.
#[must_use]
pub fn merge_sorted<T: Ord, I: IntoIterator<Item = T>>(
    parts: impl IntoIterator<Item = I>,
    limit: usize,
) -> Vec<T> {
    kway(parts, limit, |item| (item, ()))
        .into_iter()
        .map(|(item, ())| item)
        .collect()
}

/// [`merge_sorted`] for parts sorted ascending by `key`: the first `limit` items of the union
/// by `key`, ties in the order of their parts.
#[must_use]
pub fn merge_sorted_by_key<T, K: Ord, I: IntoIterator<Item = T>>(
    parts: impl IntoIterator<Item = I>,
    limit: usize,
    mut key: impl FnMut(&T) -> K,
) -> Vec<T> {
    kway(parts, limit, |item| (key(&item), item))
        .into_iter()
        .map(|(_, item)| item)
        .collect()
}

/// Per-group counts from every shard added up: each part lists `(group, count)` pairs, a group
/// may appear in several parts (and more than once in one). Sums saturate at `u64::MAX`.
#[must_use]
pub fn merge_counts<K: Ord, I: IntoIterator<Item = (K, u64)>>(
    parts: impl IntoIterator<Item = I>,
) -> BTreeMap<K, u64> {
    let mut totals: BTreeMap<K, u64> = BTreeMap::new();
    for (group, count) in parts.into_iter().flatten() {
        let total = totals.entry(group).or_insert(0);
        *total = total.saturating_add(count);
    }
    totals
}

/// Per-group sums from every shard added up, like [`merge_counts`] for `f64` values. Values are
/// added in the order of the parts, so the result is the same on every run.
#[must_use]
pub fn merge_sums<K: Ord, I: IntoIterator<Item = (K, f64)>>(
    parts: impl IntoIterator<Item = I>,
) -> BTreeMap<K, f64> {
    let mut totals: BTreeMap<K, f64> = BTreeMap::new();
    for (group, value) in parts.into_iter().flatten() {
        *totals.entry(group).or_insert(0.0) += value;
    }
    totals
}

/// The head of one part in the k-way merge, ordered so the max-heap pops the smallest key, and
/// among equal keys the earliest part.
struct Head<K, W> {
    key: K,
    part: usize,
    value: W,
}

impl<K: Ord, W> Ord for Head<K, W> {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .key
            .cmp(&self.key)
            .then_with(|| other.part.cmp(&self.part))
    }
}

impl<K: Ord, W> PartialOrd for Head<K, W> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<K: Ord, W> PartialEq for Head<K, W> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl<K: Ord, W> Eq for Head<K, W> {}

/// A k-way merge of `parts` by the key `split` gives each item, keeping the first `limit`.
fn kway<T, K: Ord, W, I: IntoIterator<Item = T>>(
    parts: impl IntoIterator<Item = I>,
    limit: usize,
    mut split: impl FnMut(T) -> (K, W),
) -> Vec<(K, W)> {
    let mut out = Vec::new();
    if limit == 0 {
        return out;
    }
    let mut iters: Vec<I::IntoIter> = parts.into_iter().map(IntoIterator::into_iter).collect();
    let mut heap = BinaryHeap::with_capacity(iters.len());
    for (part, iter) in iters.iter_mut().enumerate() {
        if let Some(item) = iter.next() {
            let (key, value) = split(item);
            heap.push(Head { key, part, value });
        }
    }
    while out.len() < limit {
        let Some(Head { key, part, value }) = heap.pop() else {
            break;
        };
        out.push((key, value));
        if let Some(item) = iters.get_mut(part).and_then(Iterator::next) {
            let (key, value) = split(item);
            heap.push(Head { key, part, value });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_keep_the_order_of_the_parts() {
        let parts = vec![vec![(1, "a"), (2, "a")], vec![(1, "b")], vec![(1, "c")]];
        let merged = merge_sorted_by_key(parts, 10, |&(k, _)| k);
        assert_eq!(merged, vec![(1, "a"), (1, "b"), (1, "c"), (2, "a")]);
    }

    #[test]
    fn a_zero_limit_gives_nothing() {
        assert!(merge_sorted(vec![vec![1, 2]], 0).is_empty());
    }

    #[test]
    fn counts_add_up_per_group_and_saturate() {
        let merged = merge_counts(vec![
            vec![("x", 2), ("y", 1)],
            vec![("x", 3)],
            vec![("y", u64::MAX)],
        ]);
        assert_eq!(merged, BTreeMap::from([("x", 5), ("y", u64::MAX)]));
    }

    #[test]
    fn sums_add_up_per_group() {
        let merged = merge_sums(vec![vec![("x", 1.5)], vec![("x", 2.0), ("y", -1.0)]]);
        assert_eq!(merged, BTreeMap::from([("x", 3.5), ("y", -1.0)]));
    }
}
