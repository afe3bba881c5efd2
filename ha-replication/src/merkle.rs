//! Anti-entropy by Merkle trees over key-hash ranges (Dynamo, SOSP 2007, §4.7; Cassandra's
//! repair): each replica hashes its keys into `2^depth` ranges of the 64-bit key-hash space;
//! two replicas compare trees from the root down, descending only into subtrees that differ, and
//! then compare only the keys of the ranges that differ.
//!
//! Hashing is stable across processes and platforms: a key's range is the top `depth` bits of its
//! XXH3-64 hash (seed 0, as ha-shard's `key_hash`); a leaf's hash is the wrapping sum of XXH3-64
//! over each `key ‖ digest` (little-endian digest), so it is independent of insertion order and
//! updated in place; an inner node hashes its children's hashes (little-endian, left then right), except that
//! an empty subtree (both children 0) is 0.
//! The per-key `digest` is a stable hash of the stored version: for a [`DvvSet`](crate::DvvSet)
//! (or a [`Stamped`](crate::Stamped) or [`Tagged`](crate::Tagged) value) take its
//! [`VersionDigest::version_digest`](crate::VersionDigest), which is the same on every node and
//! platform; two replicas holding equal copies of a key then agree on its leaf.

use std::collections::BTreeMap;

use xxhash_rust::xxh3::xxh3_64;

use crate::Result;

/// The largest tree depth: 2^20 ranges, 16 MiB of node hashes.
pub const MAX_MERKLE_DEPTH: u8 = 20;

/// The hash of a key in the anti-entropy key space (XXH3-64, seed 0).
#[must_use]
pub fn merkle_key_hash(key: &[u8]) -> u64 {
    xxh3_64(key)
}

fn entry_hash(key: &[u8], digest: u64) -> u64 {
    let mut buf = Vec::with_capacity(key.len() + 8);
    buf.extend_from_slice(key);
    buf.extend_from_slice(&digest.to_le_bytes());
    xxh3_64(&buf)
}

fn inner_hash(left: u64, right: u64) -> u64 {
    if left == 0 && right == 0 {
        // An empty subtree hashes to 0, so an empty tree is all zeros however it was made.
        return 0;
    }
    let mut buf = [0u8; 16];
    buf[..8].copy_from_slice(&left.to_le_bytes());
    buf[8..].copy_from_slice(&right.to_le_bytes());
    xxh3_64(&buf)
}

/// A range of the key-hash space: the keys whose hash lies in `start..=end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct KeyRange {
    /// The leaf's index, from 0.
    pub leaf: usize,
    /// The first key hash in the range.
    pub start: u64,
    /// The last key hash in the range.
    pub end: u64,
}

/// A Merkle tree of one replica's keys and version digests.
///
/// ```
/// use ha_replication::MerkleTree;
///
/// let mut ours = MerkleTree::new(8)?;
/// let mut theirs = MerkleTree::new(8)?;
/// for key in ["a", "b", "c"] {
///     ours.insert(key.as_bytes(), 1);
///     theirs.insert(key.as_bytes(), 1);
/// }
/// assert_eq!(ours.root(), theirs.root());
/// theirs.update(b"b", 1, 2); // a newer version of b
/// let ranges = ours.diff(&theirs)?;
/// assert_eq!(ranges.len(), 1);
/// let keys = MerkleTree::differing_keys(
///     &ranges, 8,
///     [("a", 1), ("b", 1), ("c", 1)],
///     [("a", 1), ("b", 2), ("c", 1)],
/// );
/// assert_eq!(keys, ["b"]);
/// # Ok::<(), ha_replication::Error>(())
/// ```
///
/// Trees travel between replicas as serde data (with the `serde` feature): depth and node hashes,
/// checked when read back (a node count that does not match the depth is refused).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(try_from = "MerkleTreeData", into = "MerkleTreeData")
)]
pub struct MerkleTree {
    depth: u8,
    /// Heap layout: node `i` has children `2i + 1` and `2i + 2`; leaves start at `2^depth - 1`.
    nodes: Vec<u64>,
}

/// The serde form of a [`MerkleTree`].
#[derive(Debug, Clone)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
struct MerkleTreeData {
    depth: u8,
    nodes: Vec<u64>,
}

impl TryFrom<MerkleTreeData> for MerkleTree {
    type Error = crate::Error;

    fn try_from(data: MerkleTreeData) -> Result<MerkleTree> {
        let mut tree = MerkleTree::new(data.depth)?;
        if data.nodes.len() != tree.nodes.len() {
            return Err(ha_core::Error::OutOfRange {
                name: "merkle tree node count",
                value: data.nodes.len() as f64,
                range: "2^(depth + 1) - 1",
            }
            .into());
        }
        tree.nodes = data.nodes;
        Ok(tree)
    }
}

impl From<MerkleTree> for MerkleTreeData {
    fn from(tree: MerkleTree) -> MerkleTreeData {
        MerkleTreeData {
            depth: tree.depth,
            nodes: tree.nodes,
        }
    }
}

impl MerkleTree {
    /// An empty tree of `2^depth` ranges.
    ///
    /// # Errors
    /// [`ha_core::Error::TooLarge`] (as [`Error::Core`](crate::Error::Core)) above
    /// [`MAX_MERKLE_DEPTH`].
    pub fn new(depth: u8) -> Result<MerkleTree> {
        if depth > MAX_MERKLE_DEPTH {
            return Err(ha_core::Error::TooLarge {
                name: "merkle tree depth",
                value: u64::from(depth),
                max: u64::from(MAX_MERKLE_DEPTH),
            }
            .into());
        }
        Ok(MerkleTree {
            depth,
            nodes: vec![0; (1usize << (depth + 1)) - 1],
        })
    }

    /// A tree of `entries`: `(key, digest)` pairs, keys distinct.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn build<K: AsRef<[u8]>>(
        depth: u8,
        entries: impl IntoIterator<Item = (K, u64)>,
    ) -> Result<MerkleTree> {
        let mut tree = MerkleTree::new(depth)?;
        let first_leaf = tree.first_leaf();
        for (key, digest) in entries {
            let key = key.as_ref();
            let leaf = first_leaf + leaf_index(depth, key);
            tree.nodes[leaf] = tree.nodes[leaf].wrapping_add(entry_hash(key, digest));
        }
        for i in (0..first_leaf).rev() {
            tree.nodes[i] = inner_hash(tree.nodes[2 * i + 1], tree.nodes[2 * i + 2]);
        }
        Ok(tree)
    }

    /// The depth: the tree has `2^depth` ranges.
    #[must_use]
    pub fn depth(&self) -> u8 {
        self.depth
    }

    /// The root hash: equal roots mean (up to hash collisions) equal keys and digests.
    #[must_use]
    pub fn root(&self) -> u64 {
        self.nodes.first().copied().unwrap_or(0)
    }

    /// The leaf (range index) `key` falls in.
    #[must_use]
    pub fn leaf_of(&self, key: &[u8]) -> usize {
        leaf_index(self.depth, key)
    }

    /// Adds `key` with its version `digest` (a key not in the tree).
    pub fn insert(&mut self, key: &[u8], digest: u64) {
        self.apply(key, entry_hash(key, digest), true);
    }

    /// Removes `key` with the `digest` it was inserted with.
    pub fn remove(&mut self, key: &[u8], digest: u64) {
        self.apply(key, entry_hash(key, digest), false);
    }

    /// Replaces `key`'s digest `old` by `new`.
    pub fn update(&mut self, key: &[u8], old: u64, new: u64) {
        self.remove(key, old);
        self.insert(key, new);
    }

    /// The ranges whose keys or digests differ between `self` and `other`, in leaf order,
    /// visiting only subtrees whose hashes differ.
    ///
    /// # Errors
    /// [`ha_core::Error::OutOfRange`] (as [`Error::Core`](crate::Error::Core)) when the trees'
    /// depths differ.
    pub fn diff(&self, other: &MerkleTree) -> Result<Vec<KeyRange>> {
        if self.depth != other.depth {
            return Err(ha_core::Error::OutOfRange {
                name: "other merkle tree depth",
                value: f64::from(other.depth),
                range: "the same depth as this tree",
            }
            .into());
        }
        let first_leaf = self.first_leaf();
        let mut out = Vec::new();
        let mut stack = vec![0usize];
        let mut visited = 0usize;
        while let Some(i) = stack.pop() {
            visited += 1;
            if self.nodes[i] == other.nodes[i] {
                continue;
            }
            if i >= first_leaf {
                out.push(self.range(i - first_leaf));
            } else {
                stack.push(2 * i + 2);
                stack.push(2 * i + 1);
            }
        }
        tracing::debug!(
            depth = self.depth,
            differing = out.len(),
            visited,
            "merkle comparison"
        );
        Ok(out)
    }

    /// The keys, among two replicas' `(key, digest)` listings, that differ within `ranges` (from
    /// [`diff`](Self::diff) of trees of `depth`): missing on one side, or with another digest.
    /// Sorted, each once. Only keys in the ranges are compared, so each replica need only list
    /// those.
    pub fn differing_keys<K: AsRef<[u8]> + Ord + Clone>(
        ranges: &[KeyRange],
        depth: u8,
        ours: impl IntoIterator<Item = (K, u64)>,
        theirs: impl IntoIterator<Item = (K, u64)>,
    ) -> Vec<K> {
        let wanted: std::collections::BTreeSet<usize> = ranges.iter().map(|r| r.leaf).collect();
        let depth = depth.min(MAX_MERKLE_DEPTH);
        let ours: BTreeMap<K, u64> = ours
            .into_iter()
            .filter(|(k, _)| wanted.contains(&leaf_index(depth, k.as_ref())))
            .collect();
        let theirs: BTreeMap<K, u64> = theirs
            .into_iter()
            .filter(|(k, _)| wanted.contains(&leaf_index(depth, k.as_ref())))
            .collect();
        let mut keys: Vec<K> = ours
            .iter()
            .filter(|(k, d)| theirs.get(*k) != Some(*d))
            .map(|(k, _)| k.clone())
            .chain(theirs.keys().filter(|k| !ours.contains_key(*k)).cloned())
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }

    fn first_leaf(&self) -> usize {
        (1usize << self.depth) - 1
    }

    fn range(&self, leaf: usize) -> KeyRange {
        if self.depth == 0 {
            return KeyRange {
                leaf,
                start: 0,
                end: u64::MAX,
            };
        }
        let shift = 64 - u32::from(self.depth);
        let start = (leaf as u64) << shift;
        KeyRange {
            leaf,
            start,
            end: start | (u64::MAX >> u32::from(self.depth)),
        }
    }

    fn apply(&mut self, key: &[u8], hash: u64, add: bool) {
        let mut i = self.first_leaf() + leaf_index(self.depth, key);
        self.nodes[i] = if add {
            self.nodes[i].wrapping_add(hash)
        } else {
            self.nodes[i].wrapping_sub(hash)
        };
        while i > 0 {
            i = (i - 1) / 2;
            self.nodes[i] = inner_hash(self.nodes[2 * i + 1], self.nodes[2 * i + 2]);
        }
    }
}

fn leaf_index(depth: u8, key: &[u8]) -> usize {
    if depth == 0 {
        return 0;
    }
    // depth <= 20, so the index fits any usize of 32 bits or more.
    usize::try_from(merkle_key_hash(key) >> (64 - u32::from(depth))).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incremental_updates_match_a_fresh_build() {
        let mut tree = MerkleTree::new(6).unwrap();
        for i in 0..100u64 {
            tree.insert(format!("k{i}").as_bytes(), i);
        }
        tree.update(b"k7", 7, 70);
        tree.remove(b"k8", 8);
        let fresh = MerkleTree::build(
            6,
            (0..100u64)
                .filter(|i| *i != 8)
                .map(|i| (format!("k{i}"), if i == 7 { 70 } else { i })),
        )
        .unwrap();
        assert_eq!(tree, fresh);
    }

    #[test]
    fn diff_finds_exactly_the_ranges_of_changed_keys() {
        let keys: Vec<(String, u64)> = (0..500u64).map(|i| (format!("k{i}"), i)).collect();
        let ours = MerkleTree::build(10, keys.clone()).unwrap();
        let mut theirs_keys = keys.clone();
        theirs_keys[3].1 = 999;
        theirs_keys.remove(10);
        theirs_keys.push(("new".into(), 1));
        let theirs = MerkleTree::build(10, theirs_keys.clone()).unwrap();
        let ranges = ours.diff(&theirs).unwrap();
        assert!(ranges.len() <= 3 && !ranges.is_empty());
        let diff = MerkleTree::differing_keys(&ranges, 10, keys, theirs_keys);
        assert_eq!(diff, ["k10", "k3", "new"]);
        assert!(ours.diff(&MerkleTree::new(9).unwrap()).is_err());
        assert!(MerkleTree::new(MAX_MERKLE_DEPTH + 1).is_err());
    }

    #[test]
    fn ranges_cover_the_key_space_and_hold_their_keys() {
        let tree = MerkleTree::new(4).unwrap();
        assert_eq!(tree.range(0).start, 0);
        assert_eq!(tree.range(15).end, u64::MAX);
        assert_eq!(tree.range(1).start, tree.range(0).end + 1);
        let h = merkle_key_hash(b"x");
        let r = tree.range(tree.leaf_of(b"x"));
        assert!(r.start <= h && h <= r.end);
    }
}
