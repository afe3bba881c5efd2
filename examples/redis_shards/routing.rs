//! Where the proxy sends a key: the ketama ring, and during a join the arcs of the ring that
//! change owner, each either waiting, moving (with its `ShardMigration`) or moved.
//!
//! An *arc* is the stretch of ketama's 32-bit circle between two consecutive points of the
//! union of the old and the new ring: every hash in it has the same owner in the old ring and
//! the same owner in the new one, so the arc is the unit that moves (the shard, in ha-shard's
//! words; its `ShardId` is its index). This key router over a ring plus in-flight migrations
//! lives here, in the example, because ha-shard has none yet.

use std::collections::BTreeSet;
use std::sync::Arc;

use bytes::Bytes;
use ha::shard::{HashRing, Placement, ShardMigration};

use crate::backend::Backend;

/// One arc during a join.
#[derive(Debug, Clone)]
pub(crate) enum ArcRoute {
    /// Not moving (or not yet, or no longer): every command goes to this server.
    Stable(usize),
    /// Moving: commands take the arc's lock and follow its migration's step.
    Moving(Arc<MovingArc>),
}

/// An arc in migration.
#[derive(Debug)]
pub(crate) struct MovingArc {
    /// Taken by every command on the arc and by each step of its migration, so a command sees
    /// one step from its routing to its reply.
    pub(crate) state: tokio::sync::Mutex<MovingState>,
}

/// What a moving arc's lock guards.
#[derive(Debug)]
pub(crate) struct MovingState {
    /// The state machine: where reads and writes go.
    pub(crate) migration: ShardMigration,
    /// The source server's index.
    pub(crate) from: usize,
    /// The target server's index.
    pub(crate) to: usize,
    /// Keys written while copying, to replay on the target when catching up.
    pub(crate) captured: BTreeSet<Bytes>,
    /// Every key written to the arc during the migration, to clean up from the source.
    pub(crate) touched: BTreeSet<Bytes>,
}

impl MovingState {
    /// The server index of a node of this migration.
    pub(crate) fn index_of(&self, node: &ha::core::NodeId) -> usize {
        if node == self.migration.from() {
            self.from
        } else {
            self.to
        }
    }
}

/// The arcs of a join.
#[derive(Debug)]
pub(crate) struct Join {
    /// Each arc's upper end (inclusive), ascending; arc 0 also takes the hashes above the last.
    pub(crate) bounds: Vec<u32>,
    /// Each arc's route.
    pub(crate) arcs: Vec<ArcRoute>,
    /// Each arc's owner before and after.
    pub(crate) owners: Vec<(usize, usize)>,
}

impl Join {
    /// The arcs between the points of `old` and `new`, each routed to its old owner.
    pub(crate) fn new(old: &HashRing, new_ring: &HashRing) -> Join {
        let mut bounds: Vec<u32> = old
            .points()
            .chain(new_ring.points())
            .map(|(p, _)| p as u32)
            .collect();
        bounds.sort_unstable();
        bounds.dedup();
        let owners: Vec<(usize, usize)> = bounds
            .iter()
            .map(|&b| {
                (
                    old.locate_hash(u64::from(b)),
                    new_ring.locate_hash(u64::from(b)),
                )
            })
            .collect();
        let arcs = owners.iter().map(|&(o, _)| ArcRoute::Stable(o)).collect();
        Join {
            bounds,
            arcs,
            owners,
        }
    }

    /// The arc holding a 32-bit ketama hash.
    pub(crate) fn arc_of(&self, hash: u64) -> usize {
        let i = self.bounds.partition_point(|&b| u64::from(b) < hash);
        if i == self.bounds.len() { 0 } else { i }
    }
}

/// Where a key goes now.
#[derive(Debug, Clone)]
pub(crate) enum Route {
    /// To this server, without ceremony.
    Stable(usize),
    /// Through this moving arc.
    Moving(Arc<MovingArc>),
}

/// The proxy's routing table.
#[derive(Debug)]
pub(crate) struct Routing {
    /// The servers, by ring node index.
    pub(crate) backends: Vec<Backend>,
    /// The ring outside a join (the old ring during one).
    pub(crate) ring: HashRing,
    /// The join in progress, if any.
    pub(crate) join: Option<Join>,
}

impl Routing {
    /// Where `key` goes.
    #[inline]
    pub(crate) fn route(&self, key: &[u8]) -> Route {
        match &self.join {
            None => Route::Stable(self.ring.locate_hash(self.ring.hash_key(key))),
            Some(join) => match &join.arcs[join.arc_of(self.ring.hash_key(key))] {
                ArcRoute::Stable(server) => Route::Stable(*server),
                ArcRoute::Moving(arc) => Route::Moving(Arc::clone(arc)),
            },
        }
    }
}
