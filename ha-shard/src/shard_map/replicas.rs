//! Replica placement: each shard's primary and replicas over a node set.

use std::num::NonZeroUsize;

use ha_core::Node;

use crate::{Error, Placement, Rendezvous, Result, ShardId, ShardMap, ZoneSpread};

/// Settings of a [`ShardPlacement`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ShardPlacementConfig {
    /// Copies of each shard, the primary included: the primary and `replication_factor − 1`
    /// replicas, on distinct nodes. At most the number of nodes. Default: 3.
    pub replication_factor: NonZeroUsize,
    /// Whether a shard's copies go to distinct zones when the nodes offer enough
    /// ([`ZoneSpread::Distinct`], the default), or simply to the first distinct nodes of the
    /// placement's preference order ([`ZoneSpread::Ignore`]). Read back as the default when
    /// absent.
    #[cfg_attr(feature = "serde", serde(default))]
    pub zone_spread: ZoneSpread,
}

impl Default for ShardPlacementConfig {
    fn default() -> ShardPlacementConfig {
        ShardPlacementConfig {
            replication_factor: NonZeroUsize::MIN.saturating_add(2),
            zone_spread: ZoneSpread::Distinct,
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
/// nodes, in distinct zones whenever the nodes offer enough zones (unless
/// [`zone_spread`](ShardPlacementConfig::zone_spread) is [`ZoneSpread::Ignore`]).
///
/// A shard is placed like a key whose hash is the placement's hash of the shard number's four
/// little-endian bytes: the copies are [`Placement::locate_n_hash_with`] of that hash and the
/// configured [`ZoneSpread`], the primary first. Over the default [`Rendezvous`], adding a node moves only the shard copies that now
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
    zone_spread: ZoneSpread,
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
            zone_spread: config.zone_spread,
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

    /// Whether copies are spread over zones.
    #[must_use]
    pub fn zone_spread(&self) -> ZoneSpread {
        self.zone_spread
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
            .locate_n_hash_with(hash, self.replication_factor.get(), self.zone_spread)
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
    fn zones_are_spread_by_default() {
        assert_eq!(
            ShardPlacementConfig::default().zone_spread,
            ZoneSpread::Distinct
        );
    }

    /// Six nodes in two zones, three copies: spread, both zones always hold a copy; ignored,
    /// the copies are the first three nodes of the rendezvous order, some shard's all in one
    /// zone.
    #[test]
    fn ignoring_zones_takes_the_preference_order() {
        let zoned: Vec<Node> = nodes(6)
            .into_iter()
            .enumerate()
            .map(|(i, n)| n.with_zone(if i < 3 { "east" } else { "west" }))
            .collect();
        let spread = ShardPlacement::new(zoned.clone(), ShardPlacementConfig::default()).unwrap();
        let ignore = ShardPlacement::new(
            zoned,
            ShardPlacementConfig {
                zone_spread: ZoneSpread::Ignore,
                ..ShardPlacementConfig::default()
            },
        )
        .unwrap();
        assert_eq!(ignore.zone_spread(), ZoneSpread::Ignore);
        let zones = |route: Route<'_>| {
            let mut z: Vec<_> = route.nodes().map(|n| n.zone.clone()).collect();
            z.sort();
            z.dedup();
            z.len()
        };
        let mut one_zone = 0;
        for s in 0..100 {
            assert_eq!(zones(spread.locate(ShardId(s))), 2, "shard {s}");
            let route = ignore.locate(ShardId(s));
            let mut order = Vec::new();
            ignore
                .placement()
                .visit_preference(ignore.shard_hash(ShardId(s)), &mut |i| {
                    order.push(i);
                    std::ops::ControlFlow::Continue(())
                });
            let expected: Vec<&NodeId> = order
                .iter()
                .take(3)
                .map(|&i| &ignore.placement().nodes()[i].id)
                .collect();
            assert_eq!(route.nodes().map(|n| &n.id).collect::<Vec<_>>(), expected);
            one_zone += usize::from(zones(route) == 1);
        }
        assert!(one_zone > 0, "some shard keeps all copies in one zone");
    }

    #[cfg(feature = "serde")]
    #[test]
    fn a_config_without_zone_spread_reads_back_spreading() {
        let config: ShardPlacementConfig =
            serde_json::from_str(r#"{"replication_factor":2}"#).unwrap();
        assert_eq!(config.zone_spread, ZoneSpread::Distinct);
        let ignore: ShardPlacementConfig =
            serde_json::from_str(r#"{"replication_factor":2,"zone_spread":"ignore"}"#).unwrap();
        assert_eq!(ignore.zone_spread, ZoneSpread::Ignore);
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
