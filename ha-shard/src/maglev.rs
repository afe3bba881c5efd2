//! Maglev hashing (Eisenbud et al., "Maglev: A Fast and Reliable Software Network Load
//! Balancer", NSDI 2016, section 3.4).

use std::collections::HashMap;
use std::ops::ControlFlow;

use ha_core::{Node, NodeId};
use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::placement::{probe_then_walk, validate_nodes};
use crate::{Error, Placement, Result};

/// The settings of a [`Maglev`] table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct MaglevConfig {
    /// The lookup table's size `M`: a prime, at least the number of nodes; the paper advises
    /// `M ≥ 100 × nodes` for even shares. Default 65 537. The table takes 4 bytes an entry.
    pub table_size: u32,
}

impl Default for MaglevConfig {
    fn default() -> Self {
        MaglevConfig { table_size: 65_537 }
    }
}

/// The largest table accepted: 2²⁴ − 3, the largest prime below 2²⁴ (64 MiB of entries).
const MAX_TABLE_SIZE: u32 = 16_777_213;

impl MaglevConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`ha_core::Error::OutOfRange`] (as [`Error::Core`]) for a table size that is not a prime
    /// in `[2, 16 777 213]`.
    pub fn validate(&self) -> Result<()> {
        if !(2..=MAX_TABLE_SIZE).contains(&self.table_size) || !is_prime(self.table_size) {
            return Err(Error::Core(ha_core::Error::OutOfRange {
                name: "maglev table size",
                value: f64::from(self.table_size),
                range: "primes in [2, 16777213]",
            }));
        }
        Ok(())
    }
}

fn is_prime(n: u32) -> bool {
    n >= 2 && (2..).take_while(|d| d * d <= n).all(|d| n % d != 0)
}

/// A lookup table of `M` entries, each naming a node; a key's owner is `table[hash mod M]`.
///
/// Each node walks its own permutation of the table (an offset and a skip derived from its id)
/// and the nodes take turns claiming their next free entry until the table is full, so every node
/// holds a near-equal share — `weight`-proportional here: in each round a node earns
/// `weight / lightest weight` turns, taken interleaved with the others'. Lookups are one array
/// read, whatever the node count.
///
/// - **Disruption.** The table size stays fixed when nodes come and go (the `maglev` crate sizes
///   its table from the node count and so moves nearly every key on a join). A join or leave moves
///   the ideal share of keys plus a small extra — entries that change hands between other nodes as
///   the turns shift. Measured with the default table, that extra is 0.2% of the keys at 10
///   nodes, 0.6% at 100 and 0.6% at 1000: a join moves 1.02× the ideal `1/(n+1)` at 10 nodes,
///   but 1.6× at 100 and 6.8× at 1000, where the ideal share is itself 1% and 0.1% (see
///   `examples/placement_report.rs`). The paper advises at least 100 entries a node; a larger
///   table shrinks the extra (about as `1/√M`). [`rebuild`](Maglev::rebuild) removes it: built
///   from the current table, a join moves the ideal share and no more (at the price of a table
///   that depends on the membership history).
/// - **Cost.** Building takes `O(M log M)` expected steps along the nodes' walks (the paper;
///   `O(M²)` in the worst case), weighted or not: every round gives every node at least one
///   turn (measured in release: 2.8 ms for 1000 equal nodes, 1.5 ms with one at weight 1000).
///   The table holds `4·M` bytes (256 KiB at the default); build only on membership changes.
///
/// Node ids are hashed with XXH3-64 seeded 0 (offset) and 1 (skip), so every process builds the
/// same table. Replicas probe the table with the key hash mixed with a probe number, then walk
/// the nodes in order.
///
/// ```
/// use ha_core::{Node, NodeId};
/// use ha_shard::{Maglev, MaglevConfig, Placement};
///
/// let nodes = (0..5)
///     .map(|i| Ok(Node::new(NodeId::new(format!("lb-{i}"))?, "")))
///     .collect::<Result<Vec<_>, ha_core::Error>>()?;
/// let maglev = Maglev::new(nodes, MaglevConfig::default())?;
/// let share = maglev.table_share(0);
/// assert!((share - 0.2).abs() < 0.001);
/// assert!(maglev.locate(b"flow:10.0.0.1:443").id.as_str().starts_with("lb-"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Maglev {
    nodes: Vec<Node>,
    config: MaglevConfig,
    table: Vec<u32>,
}

impl Maglev {
    /// Builds the table for `nodes`.
    ///
    /// # Errors
    /// [`Error::EmptyNodeSet`], [`Error::DuplicateNode`], an invalid config (see
    /// [`MaglevConfig::validate`]), or [`Error::TooManyNodes`] when there are more nodes than
    /// table entries.
    pub fn new(nodes: Vec<Node>, config: MaglevConfig) -> Result<Maglev> {
        validate_nodes(&nodes)?;
        config.validate()?;
        let size = config.table_size as usize;
        if nodes.len() > size {
            return Err(Error::TooManyNodes {
                algorithm: "maglev",
                count: nodes.len(),
                max: size,
            });
        }
        let m = u64::from(config.table_size);
        let walks = walks(&nodes, m);
        // Each round every node earns `weight / lightest weight` turns, at least one, and the
        // nodes with turns left take them one at a time in index order, so heavy nodes' turns
        // interleave with the others' and the build takes `O(M)` turns. Every node ends within
        // one entry of its exact share but for the heaviest, which absorbs the others' rounding.
        let min_weight = nodes.iter().map(|n| n.weight.get()).min().unwrap_or(1);
        let earn: Vec<f64> = nodes
            .iter()
            .map(|n| f64::from(n.weight.get()) / f64::from(min_weight))
            .collect();
        let mut credit = vec![0.0f64; nodes.len()];
        let mut next = vec![0u64; nodes.len()];
        let mut table = vec![FREE; size];
        let mut filled = 0;
        let mut active = Vec::with_capacity(nodes.len());
        while filled < size {
            for (c, e) in credit.iter_mut().zip(&earn) {
                *c += e;
            }
            active.clear();
            active.extend((0..nodes.len()).filter(|&i| credit[i] >= 1.0));
            while !active.is_empty() && filled < size {
                active.retain(|&i| {
                    if filled == size {
                        return false;
                    }
                    credit[i] -= 1.0;
                    let (offset, skip) = walks[i];
                    // Each node's walk visits every entry within `m` steps (`m` is prime and
                    // `skip` in `1..m`), so a free entry is always found while one exists.
                    loop {
                        let entry = ((offset + next[i] * skip) % m) as usize;
                        next[i] += 1;
                        if table[entry] == FREE {
                            // Node counts are at most the table size, itself below 2²⁴.
                            table[entry] = i as u32;
                            filled += 1;
                            break;
                        }
                    }
                    credit[i] >= 1.0
                });
            }
        }
        Ok(Maglev {
            nodes,
            config,
            table,
        })
    }

    /// The table for `nodes`, built from this one so that only the entries that must change hands
    /// do: a joining node takes entries only from nodes above their new share, a leaving node's
    /// entries go only to nodes below theirs, and a reweighted node gains or loses only its
    /// difference. Every node ends within one entry of its weighted share of the table.
    ///
    /// Unlike [`new`](Self::new), the result depends on history: processes that must agree on the
    /// table start from the same table and apply the same membership changes in the same order
    /// (as with [`Memento`](crate::Memento)). The extra movement of a fresh build (see the type's
    /// docs) is gone: a join moves the ideal `1/(n+1)` of the keys, plus at most one entry a
    /// node from rounding.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn rebuild(&self, nodes: Vec<Node>) -> Result<Maglev> {
        validate_nodes(&nodes)?;
        let size = self.table.len();
        if nodes.len() > size {
            return Err(Error::TooManyNodes {
                algorithm: "maglev",
                count: nodes.len(),
                max: size,
            });
        }
        let m = u64::from(self.config.table_size);
        let quotas = quotas(&nodes, size);
        let new_index: HashMap<&NodeId, u32> = nodes.iter().map(|n| &n.id).zip(0u32..).collect();
        // Keep every entry whose owner stays; free the others.
        let mut table: Vec<u32> = self
            .table
            .iter()
            .map(|&old| {
                self.nodes
                    .get(old as usize)
                    .and_then(|n| new_index.get(&n.id).copied())
                    .unwrap_or(FREE)
            })
            .collect();
        let mut held = vec![0usize; nodes.len()];
        for &owner in table.iter().filter(|&&o| o != FREE) {
            held[owner as usize] += 1;
        }
        // Nodes below their share claim, in turns, the next entry along their own walk that is
        // free or held by a node above its share.
        let walks = walks(&nodes, m);
        let mut next = vec![0u64; nodes.len()];
        let mut short: Vec<usize> = (0..nodes.len()).filter(|&i| held[i] < quotas[i]).collect();
        while !short.is_empty() {
            for &i in &short {
                let (offset, skip) = walks[i];
                // A full walk meets every entry, and while a node is short some entry is free
                // or surplus (the shares sum to the table size), so this ends within `m` steps.
                while next[i] < m {
                    let entry = ((offset + next[i] * skip) % m) as usize;
                    next[i] += 1;
                    let owner = table[entry];
                    if owner == FREE || held[owner as usize] > quotas[owner as usize] {
                        if owner != FREE {
                            held[owner as usize] -= 1;
                        }
                        // Node counts are at most the table size, itself below 2²⁴.
                        table[entry] = i as u32;
                        held[i] += 1;
                        break;
                    }
                }
            }
            short.retain(|&i| held[i] < quotas[i] && next[i] < m);
        }
        debug_assert!(table.iter().all(|&o| o != FREE));
        Ok(Maglev {
            nodes,
            config: self.config,
            table,
        })
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &MaglevConfig {
        &self.config
    }

    /// The share of table entries (and so of keys) node `index` holds; 0 for an unknown index.
    #[must_use]
    pub fn table_share(&self, index: usize) -> f64 {
        let held = self.table.iter().filter(|&&e| e as usize == index).count();
        held as f64 / self.table.len() as f64
    }
}

/// A table entry no node holds yet.
const FREE: u32 = u32::MAX;

/// Per node: the start and stride of its permutation of a table of `m` entries.
fn walks(nodes: &[Node], m: u64) -> Vec<(u64, u64)> {
    nodes
        .iter()
        .map(|n| {
            let id = n.id.as_str().as_bytes();
            (
                xxh3_64_with_seed(id, 0) % m,
                xxh3_64_with_seed(id, 1) % (m - 1) + 1,
            )
        })
        .collect()
}

/// Each node's share of `size` entries in proportion to its weight, by largest remainder (ties to
/// the earlier node), so the shares sum to `size` exactly.
fn quotas(nodes: &[Node], size: usize) -> Vec<usize> {
    let total: u64 = nodes.iter().map(|n| u64::from(n.weight.get())).sum();
    let size = size as u64;
    let exact: Vec<(u64, u64)> = nodes
        .iter()
        .map(|n| {
            let scaled = u64::from(n.weight.get()) * size;
            (scaled / total, scaled % total)
        })
        .collect();
    let mut quotas: Vec<usize> = exact.iter().map(|&(q, _)| q as usize).collect();
    let missing = size as usize - quotas.iter().sum::<usize>();
    let mut by_remainder: Vec<usize> = (0..nodes.len()).collect();
    by_remainder.sort_by(|&a, &b| exact[b].1.cmp(&exact[a].1).then(a.cmp(&b)));
    for &i in by_remainder.iter().take(missing) {
        quotas[i] += 1;
    }
    quotas
}

impl Placement for Maglev {
    fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    fn locate_hash(&self, hash: u64) -> usize {
        self.table[(hash % u64::from(self.config.table_size)) as usize] as usize
    }

    fn visit_preference(&self, hash: u64, visit: &mut dyn FnMut(usize) -> ControlFlow<()>) {
        probe_then_walk(hash, self.nodes.len(), |h| self.locate_hash(h), visit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ha_core::NodeId;
    use std::num::NonZeroU32;

    fn nodes(weights: &[u32]) -> Vec<Node> {
        weights
            .iter()
            .enumerate()
            .map(|(i, &w)| {
                Node::new(NodeId::new(format!("n{i}")).unwrap(), "")
                    .with_weight(NonZeroU32::new(w).unwrap())
            })
            .collect()
    }

    #[test]
    fn table_sizes_must_be_prime_and_fit() {
        for bad in [0, 1, 4, 65_536, MAX_TABLE_SIZE + 2] {
            assert!(
                Maglev::new(nodes(&[1]), MaglevConfig { table_size: bad }).is_err(),
                "{bad}"
            );
        }
        assert!(matches!(
            Maglev::new(nodes(&[1, 1, 1, 1]), MaglevConfig { table_size: 3 }),
            Err(Error::TooManyNodes { .. })
        ));
        assert!(Maglev::new(nodes(&[1, 1, 1]), MaglevConfig { table_size: 3 }).is_ok());
        assert!(is_prime(65_537) && is_prime(MAX_TABLE_SIZE) && !is_prime(65_535));
    }

    #[test]
    fn equal_nodes_get_equal_shares() {
        let m = Maglev::new(nodes(&[1; 7]), MaglevConfig::default()).unwrap();
        for i in 0..7 {
            assert!((m.table_share(i) - 1.0 / 7.0).abs() < 1e-4, "{i}");
        }
        assert!(m.table.iter().all(|&e| (e as usize) < 7));
    }

    /// The figures quoted in the type's docs, at 10 nodes: a join moves the ideal share plus at
    /// most 0.5% of the keys between the old nodes.
    #[test]
    fn a_join_moves_little_more_than_the_ideal_share() {
        let keys: Vec<u64> = (0..20_000u64)
            .map(|i| crate::key_hash(&i.to_le_bytes()))
            .collect();
        let before = Maglev::new(nodes(&[1; 10]), MaglevConfig::default()).unwrap();
        let after = Maglev::new(nodes(&[1; 11]), MaglevConfig::default()).unwrap();
        let (mut moved, mut extra) = (0usize, 0usize);
        for &k in &keys {
            let (old, new) = (before.locate_hash(k), after.locate_hash(k));
            moved += usize::from(old != new);
            extra += usize::from(old != new && new != 10);
        }
        let n = keys.len() as f64;
        assert!(extra as f64 / n <= 0.005, "extra {}", extra as f64 / n);
        assert!(moved as f64 / n <= 1.1 / 11.0, "moved {}", moved as f64 / n);
    }

    fn moves(before: &Maglev, after: &Maglev) -> Vec<(NodeId, NodeId)> {
        before
            .table
            .iter()
            .zip(&after.table)
            .filter_map(|(&a, &b)| {
                let (from, to) = (&before.nodes[a as usize].id, &after.nodes[b as usize].id);
                (from != to).then(|| (from.clone(), to.clone()))
            })
            .collect()
    }

    #[test]
    fn a_rebuilt_join_takes_entries_only_for_the_newcomer() {
        let before = Maglev::new(nodes(&[1; 10]), MaglevConfig::default()).unwrap();
        let after = before.rebuild(nodes(&[1; 11])).unwrap();
        let newcomer = NodeId::new("n10").unwrap();
        let moved = moves(&before, &after);
        let stray = moved.iter().filter(|(_, to)| *to != newcomer).count();
        assert!(stray <= 11, "{stray} entries moved between old nodes");
        let share = moved.len() as f64 / 65_537.0;
        assert!(share <= 1.01 / 11.0, "moved {share}");
        for i in 0..11 {
            assert!((after.table_share(i) - 1.0 / 11.0).abs() <= 1.0 / 65_537.0 + 1e-12);
        }
    }

    #[test]
    fn a_rebuilt_leave_moves_only_the_leavers_entries() {
        let before = Maglev::new(nodes(&[1; 12]), MaglevConfig::default()).unwrap();
        let mut rest = nodes(&[1; 12]);
        let leaver = rest.remove(5).id;
        let after = before.rebuild(rest).unwrap();
        let moved = moves(&before, &after);
        let stray = moved.iter().filter(|(from, _)| *from != leaver).count();
        assert!(stray <= 12, "{stray} entries moved between staying nodes");
        assert!(moved.iter().filter(|(from, _)| *from == leaver).count() > 5_000);
    }

    #[test]
    fn a_rebuild_honours_new_weights() {
        let before = Maglev::new(nodes(&[1, 1, 1]), MaglevConfig::default()).unwrap();
        let after = before.rebuild(nodes(&[1, 1, 2])).unwrap();
        for (i, expected) in [0.25, 0.25, 0.5].into_iter().enumerate() {
            assert!((after.table_share(i) - expected).abs() < 1e-4);
        }
        let moved = moves(&before, &after);
        assert!(moved.iter().all(|(_, to)| to.as_str() == "n2"));
    }

    #[test]
    fn quotas_sum_to_the_table() {
        let q = quotas(&nodes(&[1, 2, 3, 7]), 65_537);
        assert_eq!(q.iter().sum::<usize>(), 65_537);
        assert_eq!(quotas(&nodes(&[1; 3]), 7), vec![3, 2, 2]);
    }

    /// One heavy node among many light ones (the review's slow case): every light node within
    /// one entry of its exact share, the heavy node absorbing the rounding.
    #[test]
    fn a_skewed_weighting_keeps_every_share() {
        let mut weights = vec![1; 200];
        weights[0] = 200;
        let m = Maglev::new(nodes(&weights), MaglevConfig::default()).unwrap();
        let exact = 65_537.0 / 399.0;
        for i in 1..200 {
            let held = m.table_share(i) * 65_537.0;
            assert!(
                (held - exact).abs() <= 1.0,
                "node {i} holds {held}, exact {exact}"
            );
        }
        assert!((m.table_share(0) - 200.0 / 399.0).abs() < 0.01);
    }

    #[test]
    fn shares_follow_weights() {
        let m = Maglev::new(nodes(&[1, 2, 5]), MaglevConfig::default()).unwrap();
        for (i, expected) in [1.0 / 8.0, 2.0 / 8.0, 5.0 / 8.0].into_iter().enumerate() {
            assert!(
                (m.table_share(i) - expected).abs() < 1e-3,
                "{i}: {}",
                m.table_share(i)
            );
        }
    }
}
