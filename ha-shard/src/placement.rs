//! The one trait every placement algorithm implements.

use std::collections::HashSet;
use std::ops::ControlFlow;

use ha_core::{Node, NodeId};

use crate::hash::mix;
use crate::{Error, Result, key_hash};

/// Whether replicas are spread over zones ([`Placement::locate_n_with`],
/// [`ShardPlacementConfig::zone_spread`](crate::ShardPlacementConfig::zone_spread)).
///
/// ```
/// use ha_core::{Node, NodeId};
/// use ha_shard::{Placement, Rendezvous, ZoneSpread};
///
/// // Two zones of two nodes: spread, two replicas never share a zone; ignored, they may.
/// let nodes = ["a", "b", "c", "d"]
///     .iter()
///     .zip(["z1", "z1", "z2", "z2"])
///     .map(|(id, zone)| Ok(Node::new(NodeId::new(*id)?, "").with_zone(zone)))
///     .collect::<Result<Vec<_>, ha_core::Error>>()?;
/// let hrw = Rendezvous::new(nodes)?;
/// let shared = (0..100u32).any(|k| {
///     let pair = hrw.locate_n_with(&k.to_le_bytes(), 2, ZoneSpread::Ignore).unwrap_or_default();
///     pair.len() == 2 && pair[0].zone == pair[1].zone
/// });
/// assert!(shared);
/// for k in 0..100u32 {
///     let pair = hrw.locate_n(&k.to_le_bytes(), 2)?; // ZoneSpread::Distinct
///     assert_ne!(pair[0].zone, pair[1].zone);
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[non_exhaustive]
pub enum ZoneSpread {
    /// Replicas in distinct zones whenever the nodes offer enough zones, then in preference
    /// order (the default).
    #[default]
    Distinct,
    /// Zones are not looked at: the first distinct nodes of the preference order. For nodes
    /// without zones, or when replicas must follow the algorithm's own order (a ring client's
    /// successors) to agree with another system.
    Ignore,
}

/// Where keys live: a placement algorithm over a fixed set of nodes.
///
/// An implementation answers two questions about a 64-bit key hash: which node owns it
/// ([`locate_hash`](Self::locate_hash)), and in what order the other nodes should hold its
/// replicas ([`visit_preference`](Self::visit_preference)). From these the trait derives the rest:
/// lookups by key, and [`locate_n`](Self::locate_n) — `n` distinct nodes for `n` replicas, spread
/// over as many zones as the nodes offer.
///
/// [`locate_n_with`](Self::locate_n_with) turns the zone spreading off ([`ZoneSpread`]).
///
/// Nodes are referred to by their index in [`nodes`](Self::nodes). A placement is immutable:
/// a membership change builds a new one, and comparing the two says which keys move.
///
/// ```
/// use ha_core::{Node, NodeId};
/// use ha_shard::{Placement, Rendezvous};
///
/// let nodes = ["a", "b", "c", "d"]
///     .iter()
///     .zip(["z1", "z1", "z2", "z3"])
///     .map(|(id, zone)| Ok(Node::new(NodeId::new(*id)?, "").with_zone(zone)))
///     .collect::<Result<Vec<_>, ha_core::Error>>()?;
/// let placement = Rendezvous::new(nodes)?;
/// let owner = placement.locate(b"user:42");
/// let replicas = placement.locate_n(b"user:42", 3)?;
/// assert_eq!(replicas[0].id, owner.id);
/// // Three replicas in three different zones.
/// let mut zones: Vec<_> = replicas.iter().map(|n| n.zone.clone()).collect();
/// zones.sort();
/// zones.dedup();
/// assert_eq!(zones.len(), 3);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Placement {
    /// The nodes placed over, in the order indices refer to; never empty.
    fn nodes(&self) -> &[Node];

    /// The hash this placement gives a key. Default: [`key_hash`] (XXH3-64); a placement that must
    /// interoperate with another system's hashing (ketama's MD5) overrides it.
    fn hash_key(&self, key: &[u8]) -> u64 {
        key_hash(key)
    }

    /// The index of the node that owns `hash`.
    fn locate_hash(&self, hash: u64) -> usize;

    /// Calls `visit` with node indices in this placement's order of preference for `hash`, the
    /// owner first, until `visit` breaks or every node has been offered. An index may be offered
    /// more than once (a ring walk meets a node's virtual points again); callers skip repeats.
    fn visit_preference(&self, hash: u64, visit: &mut dyn FnMut(usize) -> ControlFlow<()>);

    /// The node that owns `key`.
    fn locate(&self, key: &[u8]) -> &Node {
        self.node(self.locate_hash(self.hash_key(key)))
    }

    /// `n` distinct nodes for `key`, the owner first, in distinct zones when enough exist: see
    /// [`locate_n_hash`](Self::locate_n_hash).
    ///
    /// # Errors
    /// [`Error::TooManyReplicas`] if `n` exceeds the number of nodes.
    fn locate_n(&self, key: &[u8], n: usize) -> Result<Vec<&Node>> {
        self.locate_n_with(key, n, ZoneSpread::default())
    }

    /// `n` distinct nodes for `key`, the owner first, spreading over zones as `spread` says: see
    /// [`locate_n_hash_with`](Self::locate_n_hash_with).
    ///
    /// # Errors
    /// [`Error::TooManyReplicas`] if `n` exceeds the number of nodes.
    fn locate_n_with(&self, key: &[u8], n: usize, spread: ZoneSpread) -> Result<Vec<&Node>> {
        let indices = self.locate_n_hash_with(self.hash_key(key), n, spread)?;
        Ok(indices.into_iter().map(|i| self.node(i)).collect())
    }

    /// The indices of `n` distinct nodes for `hash`, the owner first, in distinct zones when
    /// enough exist: [`locate_n_hash_with`](Self::locate_n_hash_with) with the default
    /// [`ZoneSpread::Distinct`].
    ///
    /// # Errors
    /// [`Error::TooManyReplicas`] if `n` exceeds the number of nodes.
    fn locate_n_hash(&self, hash: u64, n: usize) -> Result<Vec<usize>> {
        self.locate_n_hash_with(hash, n, ZoneSpread::default())
    }

    /// The indices of `n` distinct nodes for `hash`, the owner first.
    ///
    /// With [`ZoneSpread::Distinct`] (the default of [`locate_n_hash`](Self::locate_n_hash)),
    /// nodes are taken in preference order, first only from zones not yet used (nodes with no
    /// zone count together as one zone), then — when there are fewer zones than `n` — from the
    /// rest, again in preference order. So replicas land in distinct zones whenever enough zones
    /// exist, and the choice is as stable as the algorithm's preference order.
    ///
    /// With [`ZoneSpread::Ignore`], zones play no part: the first `n` distinct nodes of the
    /// preference order, as a plain ring or rendezvous client picks replicas.
    ///
    /// # Errors
    /// [`Error::TooManyReplicas`] if `n` exceeds the number of nodes.
    fn locate_n_hash_with(&self, hash: u64, n: usize, spread: ZoneSpread) -> Result<Vec<usize>> {
        let nodes = self.nodes();
        if n > nodes.len() {
            return Err(Error::TooManyReplicas {
                requested: n,
                available: nodes.len(),
            });
        }
        let mut chosen: Vec<usize> = Vec::with_capacity(n);
        if n == 0 {
            return Ok(chosen);
        }
        let mut seen = vec![false; nodes.len()];
        if spread == ZoneSpread::Ignore {
            self.visit_preference(hash, &mut |i| {
                if let Some(first_visit) = seen.get_mut(i).filter(|s| !**s) {
                    *first_visit = true;
                    chosen.push(i);
                }
                if chosen.len() >= n {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            });
            debug_assert_eq!(chosen.len(), n, "a preference walk must offer every node");
            return Ok(chosen);
        }
        // Once every zone is used, later nodes can only fill in preference order: the walk stops
        // as soon as the nodes passed over so far suffice.
        let all_zones = nodes
            .iter()
            .map(|node| node.zone.as_deref())
            .collect::<HashSet<_>>()
            .len();
        let mut passed_over = Vec::new();
        let mut zones: HashSet<Option<&str>> = HashSet::new();
        self.visit_preference(hash, &mut |i| {
            if let Some(first_visit) = seen.get_mut(i).filter(|s| !**s) {
                *first_visit = true;
                if zones.insert(nodes[i].zone.as_deref()) {
                    chosen.push(i);
                } else {
                    passed_over.push(i);
                }
            }
            let enough = chosen.len() >= n
                || (zones.len() == all_zones && chosen.len() + passed_over.len() >= n);
            if enough {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
        chosen.truncate(n);
        let missing = n - chosen.len();
        chosen.extend(passed_over.into_iter().take(missing));
        debug_assert_eq!(chosen.len(), n, "a preference walk must offer every node");
        Ok(chosen)
    }

    /// The node at `index`.
    ///
    /// # Panics
    /// If `index` is not below `nodes().len()`; indices from this trait's methods always are.
    fn node(&self, index: usize) -> &Node {
        &self.nodes()[index]
    }
}

/// Probes tried by [`probe_then_walk`] before it walks the remaining nodes in order.
const REPLICA_PROBES: u64 = 64;

/// The preference order of a placement that can only look owners up (jump, Maglev, Memento):
/// the owner of `hash`, then the owners of `hash` mixed with the probe numbers 1 to 63, then
/// every node in index order from the owner on — so every node is offered, the first replicas
/// are spread like owners, and the rest is deterministic.
pub(crate) fn probe_then_walk(
    hash: u64,
    len: usize,
    locate: impl Fn(u64) -> usize,
    visit: &mut dyn FnMut(usize) -> ControlFlow<()>,
) {
    let owner = locate(hash);
    if visit(owner).is_break() {
        return;
    }
    for probe in 1..REPLICA_PROBES {
        if visit(locate(mix(hash, probe))).is_break() {
            return;
        }
    }
    for step in 1..len {
        if visit((owner + step) % len).is_break() {
            return;
        }
    }
}

/// Checks a node set for a placement: not empty, no id twice.
pub(crate) fn validate_nodes(nodes: &[Node]) -> Result<()> {
    if nodes.is_empty() {
        return Err(Error::EmptyNodeSet);
    }
    let mut ids: HashSet<&NodeId> = HashSet::with_capacity(nodes.len());
    for node in nodes {
        if !ids.insert(&node.id) {
            return Err(Error::DuplicateNode(node.id.clone()));
        }
    }
    Ok(())
}
