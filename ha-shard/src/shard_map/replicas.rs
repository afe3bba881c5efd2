//! Replica placement: each shard's primary and replicas over a node set.

use std::num::NonZeroUsize;

use ha_core::Node;

use crate::{Error, Placement, Rendezvous, Result, ShardId, ShardMap};

/// Settings of a [`ShardPlacement`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ShardPlacementConfig {
    /// Copies of each shard, the primary included: the primary and `replication_factor − 1`
    /// replicas, on distinct nodes. At most the number of nodes. Default: 3.
    pub replication_factor: NonZeroUsize,
}

impl Default for ShardPlacementConfig {
    fn default() -> ShardPlacementConfig {
        ShardPlacementConfig {
            replication_factor: NonZeroUsize::MIN.saturating_add(2),
        }
    }
}

impl ShardPlacementConfig {
    /// Checks the settings against a placement over `nodes` nodes.
    ///
    /// # Errors
    /// [`Error::TooManyReplicas`] if the replication factor exceeds `nodes`.
    pub fn validate(&self, nodes: usize) -> Result<()> {
        if self.replication_factor.get() > nodes {
            return Err(Error::TooManyReplicas {
                requested: self.replication_factor.get(),
                available: nodes,
            });
        }
        Ok(())
    }
}

/// Where each shard's copies live: a primary and `replication_factor − 1` replicas on distinct
/// nodes, in distinct zones whenever the nodes offer enough zones.
///
/// A shard is placed like a key whose hash is the placement's hash of the shard number's four
/// little-endian bytes: the copies are [`Placement::locate_n_hash`] of that hash, the primary
/// first. Over the default [`Rendezvous`], adding a node moves only the shard copies that now
/// prefer it, and removing one moves only its copies — the fewest possible. Any other
/// [`Placement`] can be used through [`with_placement`](Self::with_placement).
///
/// ```
/// use ha_core::{Node, NodeId};
/// use ha_shard::{RangeShards, ShardMap, ShardPlacement, ShardPlacementConfig};
///
/// let nodes = (0..5)
///     .map(|i| Ok(Node::new(NodeId::new(format!("n{i}"))?, "").with_zone(format!("z{}", i % 3))))
///     .collect::<Result<Vec<_>, ha_core::Error>>()?;
/// let placement = ShardPlacement::new(nodes, ShardPlacementConfig::default())?;
/// let map = ShardMap::Range(RangeShards::new(vec![b"m".to_vec()])?);
/// let route = placement.route(&map, b"user:42");
/// assert_eq!(route.replicas.len(), 2);
/// let mut zones: Vec<_> = route.nodes().map(|n| n.zone.clone()).collect();
/// zones.sort();
/// zones.dedup();
/// assert_eq!(zones.len(), 3); // three copies in three zones
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ShardPlacement<P = Rendezvous> {
    placement: P,
    replication_factor: NonZeroUsize,
}

/// Where a key, or a shard, lives: its shard, the shard's primary and its other replicas.
#[derive(Debug, Clone, PartialEq)]
pub struct Route<'a> {
    /// The shard.
    pub shard: ShardId,
    /// The node holding the primary copy.
    pub primary: &'a Node,
    /// The nodes holding the other `replication_factor − 1` copies, in preference order (the
    /// order to promote them in); distinct from each other and from the primary.
    pub replicas: Vec<&'a Node>,
}

impl<'a> Route<'a> {
    /// Every node holding a copy, the primary first.
    pub fn nodes(&self) -> impl Iterator<Item = &'a Node> + '_ {
        std::iter::once(self.primary).chain(self.replicas.iter().copied())
    }
}

impl ShardPlacement<Rendezvous> {
    /// Shard copies over `nodes` by rendezvous hashing.
    ///
    /// # Errors
    /// [`Error::EmptyNodeSet`], [`Error::DuplicateNode`], or [`Error::TooManyReplicas`] if the
    /// replication factor exceeds the number of nodes.
    pub fn new(nodes: Vec<Node>, config: ShardPlacementConfig) -> Result<ShardPlacement> {
        ShardPlacement::with_placement(Rendezvous::new(nodes)?, config)
    }
}

impl<P: Placement> ShardPlacement<P> {
    /// Shard copies by any placement's preference order.
    ///
    /// # Errors
    /// [`Error::TooManyReplicas`] if the replication factor exceeds the placement's nodes.
    pub fn with_placement(placement: P, config: ShardPlacementConfig) -> Result<ShardPlacement<P>> {
        config.validate(placement.nodes().len())?;
        Ok(ShardPlacement {
            placement,
            replication_factor: config.replication_factor,
        })
    }

    /// The placement over the nodes.
    pub fn placement(&self) -> &P {
        &self.placement
    }

    /// Copies of each shard, the primary included.
    #[must_use]
    pub fn replication_factor(&self) -> usize {
        self.replication_factor.get()
    }

    /// The hash a shard is placed by.
    #[must_use]
    pub fn shard_hash(&self, shard: ShardId) -> u64 {
        self.placement.hash_key(&shard.0.to_le_bytes())
    }

    /// Where `shard`'s copies live.
    #[must_use]
    pub fn locate(&self, shard: ShardId) -> Route<'_> {
        let hash = self.shard_hash(shard);
        // The factor was checked against the nodes at construction, so this cannot refuse.
        let indices = self
            .placement
            .locate_n_hash(hash, self.replication_factor.get())
            .unwrap_or_default();
        debug_assert_eq!(indices.len(), self.replication_factor.get());
        let primary = indices
            .first()
            .copied()
            .unwrap_or_else(|| self.placement.locate_hash(hash));
        Route {
            shard,
            primary: self.placement.node(primary),
            replicas: indices
                .iter()
                .skip(1)
                .map(|&i| self.placement.node(i))
                .collect(),
        }
    }

    /// Where `key` lives: its shard in `map` and that shard's copies, in one call.
    #[must_use]
    pub fn route(&self, map: &ShardMap, key: &[u8]) -> Route<'_> {
        self.locate(map.shard_of(key))
    }
}

#[cfg(test)]
mod tests {
    use ha_core::NodeId;

    use super::*;

    fn nodes(n: usize) -> Vec<Node> {
        (0..n)
            .map(|i| Node::new(NodeId::new(format!("n{i}")).unwrap(), ""))
            .collect()
    }

    #[test]
    fn the_default_replication_factor_is_three() {
        assert_eq!(ShardPlacementConfig::default().replication_factor.get(), 3);
    }

    #[test]
    fn more_replicas_than_nodes_are_refused() {
        let err = ShardPlacement::new(nodes(2), ShardPlacementConfig::default()).unwrap_err();
        assert_eq!(
            err,
            Error::TooManyReplicas {
                requested: 3,
                available: 2
            }
        );
    }

    #[test]
    fn an_empty_node_set_is_refused() {
        let err = ShardPlacement::new(Vec::new(), ShardPlacementConfig::default()).unwrap_err();
        assert_eq!(err, Error::EmptyNodeSet);
    }

    #[test]
    fn adding_a_node_moves_shard_copies_only_to_it() {
        let config = ShardPlacementConfig::default();
        let before = ShardPlacement::new(nodes(6), config).unwrap();
        let after = ShardPlacement::new(nodes(7), config).unwrap();
        for s in 0..200 {
            let ids = |p: &ShardPlacement| -> Vec<NodeId> {
                let mut v: Vec<NodeId> =
                    p.locate(ShardId(s)).nodes().map(|n| n.id.clone()).collect();
                v.sort();
                v
            };
            let (b, a) = (ids(&before), ids(&after));
            let gained: Vec<_> = a.iter().filter(|id| !b.contains(id)).collect();
            assert!(
                gained.iter().all(|id| id.as_str() == "n6"),
                "shard {s}: {b:?} -> {a:?}"
            );
        }
    }
}
