//! Jump consistent hash (Lamping and Veach, "A Fast, Minimal Memory, Consistent Hash
//! Algorithm", 2014).

use std::ops::ControlFlow;

use ha_core::Node;

use crate::placement::{probe_then_walk, validate_nodes};
use crate::{Error, Placement, Result};

/// The bucket in `0..buckets` for `key`: the paper's reference function, bit for bit.
///
/// When `buckets` grows from `b` to `b + 1`, exactly the keys that move go to the new bucket `b`,
/// about `1/(b+1)` of them; no memory is used and a lookup takes `O(ln buckets)` steps. With
/// `buckets == 0` there is no bucket to return; like the reference implementations, it returns 0.
///
/// ```
/// use ha_shard::jump_consistent_hash;
///
/// assert_eq!(jump_consistent_hash(256, 1024), 520);
/// assert_eq!(jump_consistent_hash(0xDEAD10CC, 666), 361);
/// ```
#[must_use]
pub fn jump_consistent_hash(key: u64, buckets: u32) -> u32 {
    let mut key = key;
    let (mut b, mut j): (i64, i64) = (-1, 0);
    while j < i64::from(buckets) {
        b = j;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        j = ((b + 1) as f64 * ((1i64 << 31) as f64 / ((key >> 33) + 1) as f64)) as i64;
    }
    // `b` is in `0..buckets` once the loop has run, and -1 only when `buckets` is 0.
    u32::try_from(b).unwrap_or(0)
}

/// Jump consistent hash over named nodes: node `i` is bucket `i`.
///
/// The fastest placement here and the one with no memory, at a price that decides where it fits:
/// - **Membership changes only at the end.** Appending a node moves the minimal `1/(n+1)` of the
///   keys, all to the new node; removing the *last* node moves only its keys. Removing any other
///   node renumbers the ones after it and moves far more keys — so jump suits storage whose
///   shards are numbered and grow (or shrink) at the end, and rendezvous or a ring suit arbitrary
///   membership.
/// - **No weights.** Every bucket gets the same share. A weighted node cannot be expressed as
///   several buckets without breaking the minimal movement above, so weighted nodes are refused.
///
/// Replicas ([`locate_n`](Placement::locate_n)) come from re-jumping the key mixed with a probe
/// number, skipping nodes already chosen, and then from a walk over the rest in order.
///
/// ```
/// use ha_core::{Node, NodeId};
/// use ha_shard::{JumpHash, Placement};
///
/// let shards = (0..8)
///     .map(|i| Ok(Node::new(NodeId::new(format!("shard-{i}"))?, "")))
///     .collect::<Result<Vec<_>, ha_core::Error>>()?;
/// let jump = JumpHash::new(shards)?;
/// let owner = jump.locate(b"order:1001");
/// assert!(owner.id.as_str().starts_with("shard-"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct JumpHash {
    nodes: Vec<Node>,
    buckets: u32,
}

impl JumpHash {
    /// A placement over `nodes`, bucket `i` being `nodes[i]`.
    ///
    /// # Errors
    /// [`Error::EmptyNodeSet`], [`Error::DuplicateNode`], [`Error::WeightsUnsupported`] for a
    /// node whose weight is not 1, [`Error::TooManyNodes`] past `2³¹ − 1` nodes.
    pub fn new(nodes: Vec<Node>) -> Result<JumpHash> {
        validate_nodes(&nodes)?;
        if let Some(weighted) = nodes.iter().find(|n| n.weight.get() != 1) {
            return Err(Error::WeightsUnsupported {
                algorithm: "jump",
                node: weighted.id.clone(),
                weight: weighted.weight.get(),
            });
        }
        let max = i32::MAX as usize;
        let buckets = u32::try_from(nodes.len())
            .ok()
            .filter(|&b| b as usize <= max)
            .ok_or(Error::TooManyNodes {
                algorithm: "jump",
                count: nodes.len(),
                max,
            })?;
        Ok(JumpHash { nodes, buckets })
    }
}

impl Placement for JumpHash {
    fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    fn locate_hash(&self, hash: u64) -> usize {
        jump_consistent_hash(hash, self.buckets) as usize
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

    /// The reference vectors of dgryski/go-jump (`jump_test.go`), also used by
    /// lithammer/python-jump-consistent-hash, computed with the paper's C++ function.
    #[test]
    fn matches_the_reference_vectors() {
        assert_eq!(jump_consistent_hash(1, 1), 0);
        assert_eq!(jump_consistent_hash(42, 57), 43);
        assert_eq!(jump_consistent_hash(0xDEAD10CC, 1), 0);
        assert_eq!(jump_consistent_hash(0xDEAD10CC, 666), 361);
        assert_eq!(jump_consistent_hash(256, 1024), 520);
    }

    /// Further vectors collected by the Elixir `jumper` library's tests from other
    /// implementations, including the largest key and a bucket count past 2³⁰.
    #[test]
    fn matches_vectors_from_other_implementations() {
        assert_eq!(jump_consistent_hash(0, 1), 0);
        assert_eq!(jump_consistent_hash(4, 2), 1);
        assert_eq!(jump_consistent_hash(7, 2), 0);
        assert_eq!(jump_consistent_hash(1, 128), 55);
        assert_eq!(jump_consistent_hash(129, 128), 120);
        assert_eq!(jump_consistent_hash(128, 100_000_000), 38_172_097);
        assert_eq!(jump_consistent_hash(128, 2_147_483_648), 1_644_467_860);
        assert_eq!(jump_consistent_hash(u64::MAX, 128), 92);
    }

    #[test]
    fn zero_buckets_gives_zero() {
        assert_eq!(jump_consistent_hash(12345, 0), 0);
    }

    #[test]
    fn weighted_nodes_are_refused() {
        let node =
            Node::new(NodeId::new("a").unwrap(), "").with_weight(NonZeroU32::new(3).unwrap());
        assert!(matches!(
            JumpHash::new(vec![node]),
            Err(Error::WeightsUnsupported { weight: 3, .. })
        ));
        assert_eq!(JumpHash::new(vec![]).unwrap_err(), Error::EmptyNodeSet);
    }
}
