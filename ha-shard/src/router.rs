//! A key router: a shard map, the nodes holding each shard's copies, and the migrations of
//! those copies under way.
//!
//! A [`ShardMigration`] says where one shard's reads and writes go while its copy moves from one
//! node to another; a [`KeyRouter`] combines many of them with the steady state, so a
//! coordinator asks one question per key — [`KeyRouter::route`] — and gets, for every copy of
//! the key's shard, the node to read and the node that must acknowledge a write, plus the nodes
//! that must also be written (targets catching up). Reads stay on a copy's old owner until the
//! migration cuts over; writes go to both while the target catches up; from the cut-over on both
//! go to the target, and when the migration is done the target replaces the source in the
//! owner table ([`KeyRouter::poll_finished`]). So no key is ever unreadable: every copy always
//! has exactly one node serving reads, and it holds every acknowledged write (the property test
//! `no_key_unreadable_during_a_migration` checks it over random writes and migration steps).
//!
//! Like the rest of the crate the router does no I/O: the caller copies data, reports the
//! migration's events on [`KeyRouter::migration_mut`] and sends the requests.

use std::collections::BTreeMap;

use ha_core::NodeId;

use crate::{
    Error, MigrationStep, Placement, Result, ShardId, ShardMap, ShardMigration, ShardPlacement,
};

/// Where one key's reads and writes go now.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct KeyRoute {
    /// The key's shard.
    pub shard: ShardId,
    /// One node per copy of the shard, primary first: the node serving that copy's reads.
    pub read_from: Vec<NodeId>,
    /// One node per copy, in the same order: the node that must acknowledge a write for that
    /// copy. Always equal to `read_from`.
    pub write_to: Vec<NodeId>,
    /// Nodes that must also apply each write but do not count toward its acknowledgement: the
    /// targets of migrations catching up or draining.
    pub also_write_to: Vec<NodeId>,
    /// Whether a migration of one of the copies is draining: writes must be held (queued, or
    /// refused as retryable) until it cuts over.
    pub held: bool,
}

/// A shard map, each shard's owners and the migrations of their copies: one answer per key,
/// [`route`](Self::route), says which node serves each copy's reads and which nodes take a
/// write. A copy's reads stay on its old owner until its migration cuts over, writes go to both
/// while the target catches up, and a done migration puts the target in the source's place
/// ([`poll_finished`](Self::poll_finished)) — so no key is unreadable during a migration.
///
/// ```
/// use std::collections::BTreeMap;
/// use ha_core::NodeId;
/// use ha_shard::{HashShards, KeyRouter, MigrationStep, ShardId, ShardMap, ShardMigration};
///
/// let [a, b, c] = ["a", "b", "c"].map(|n| NodeId::new(n).unwrap());
/// let map = ShardMap::Hash(HashShards::new(1)?);
/// let owners = BTreeMap::from([(ShardId(0), vec![a.clone(), b.clone()])]);
/// let mut router = KeyRouter::new(map, owners)?;
/// router.start(ShardMigration::new(ShardId(0), b.clone(), c.clone(), Default::default())?)?;
/// // Copying: reads and writes stay on b.
/// assert_eq!(router.route(b"k").read_from, [a.clone(), b.clone()]);
/// let m = router.migration_mut(ShardId(0), &b).ok_or("migrating")?;
/// m.on_copy_complete()?;
/// // Catching up: writes go to b and c, reads stay on b.
/// let route = router.route(b"k");
/// assert_eq!((route.read_from[1].clone(), route.also_write_to.clone()), (b.clone(), vec![c.clone()]));
/// let m = router.migration_mut(ShardId(0), &b).ok_or("migrating")?;
/// assert_eq!(m.on_caught_up(0)?, MigrationStep::CutOver);
/// m.on_cut_over()?;
/// m.on_cleanup_complete()?;
/// // Done: c replaces b.
/// assert!(router.poll_finished().is_some());
/// assert_eq!(router.owners(ShardId(0)), Some(&[a, c][..]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct KeyRouter {
    map: ShardMap,
    owners: BTreeMap<ShardId, Vec<NodeId>>,
    migrations: BTreeMap<(ShardId, NodeId), ShardMigration>,
}

impl KeyRouter {
    /// A router over `map` whose shard `s` has its copies on `owners[s]`, primary first.
    ///
    /// # Errors
    /// [`Error::MissingShard`] when a shard of the map has no entry or no owner,
    /// [`Error::UnknownShard`] for an entry the map does not hold, and [`Error::DuplicateNode`]
    /// when a shard names a node twice.
    pub fn new(map: ShardMap, owners: BTreeMap<ShardId, Vec<NodeId>>) -> Result<KeyRouter> {
        for shard in map.shards() {
            if owners.get(&shard).is_none_or(Vec::is_empty) {
                return Err(Error::MissingShard {
                    shard,
                    input: "owners",
                });
            }
        }
        for (shard, nodes) in &owners {
            if !map.contains(*shard) {
                return Err(Error::UnknownShard(*shard));
            }
            for (i, node) in nodes.iter().enumerate() {
                if nodes[..i].contains(node) {
                    return Err(Error::DuplicateNode(node.clone()));
                }
            }
        }
        Ok(KeyRouter {
            map,
            owners,
            migrations: BTreeMap::new(),
        })
    }

    /// A router over `map` with each shard's copies where `placement` puts them.
    ///
    /// # Errors
    /// As [`new`](Self::new); never for a placement's own answers.
    pub fn from_placement<P: Placement>(
        map: ShardMap,
        placement: &ShardPlacement<P>,
    ) -> Result<KeyRouter> {
        let owners = map
            .shards()
            .into_iter()
            .map(|shard| {
                let nodes = placement
                    .locate(shard)
                    .nodes()
                    .map(|n| n.id.clone())
                    .collect();
                (shard, nodes)
            })
            .collect();
        KeyRouter::new(map, owners)
    }

    /// The shard map.
    #[must_use]
    pub fn map(&self) -> &ShardMap {
        &self.map
    }

    /// The nodes holding `shard`'s copies, primary first, as of the last finished migration.
    #[must_use]
    pub fn owners(&self, shard: ShardId) -> Option<&[NodeId]> {
        self.owners.get(&shard).map(Vec::as_slice)
    }

    /// Every shard's owners.
    #[must_use]
    pub fn assignment(&self) -> &BTreeMap<ShardId, Vec<NodeId>> {
        &self.owners
    }

    /// Where `key`'s reads and writes go now.
    #[must_use]
    pub fn route(&self, key: &[u8]) -> KeyRoute {
        let shard = self.map.shard_of(key);
        self.route_shard(shard).unwrap_or(KeyRoute {
            shard,
            read_from: Vec::new(),
            write_to: Vec::new(),
            also_write_to: Vec::new(),
            held: false,
        })
    }

    /// Where `shard`'s reads and writes go now, or `None` for a shard the map does not hold.
    #[must_use]
    pub fn route_shard(&self, shard: ShardId) -> Option<KeyRoute> {
        let owners = self.owners.get(&shard)?;
        let mut route = KeyRoute {
            shard,
            read_from: Vec::with_capacity(owners.len()),
            write_to: Vec::with_capacity(owners.len()),
            also_write_to: Vec::new(),
            held: false,
        };
        for owner in owners {
            match self.migrations.get(&(shard, owner.clone())) {
                Some(migration) => {
                    let writes = migration.writes_go_to();
                    route.read_from.push(migration.reads_go_to().clone());
                    route.write_to.push(writes.to);
                    route.also_write_to.extend(writes.also_to);
                    route.held |= writes.held;
                }
                None => {
                    route.read_from.push(owner.clone());
                    route.write_to.push(owner.clone());
                }
            }
        }
        tracing::debug!(
            %shard,
            copies = route.read_from.len(),
            also = route.also_write_to.len(),
            held = route.held,
            "routed"
        );
        Some(route)
    }

    /// Starts routing by `migration`, which moves the copy of its shard on its source node to
    /// its target node.
    ///
    /// # Errors
    /// [`Error::UnknownShard`] for a shard the map does not hold, [`Error::NotAnOwner`] when the
    /// source holds no copy, [`Error::AlreadyOwner`] when the target holds or is receiving one,
    /// [`Error::MigrationInFlight`] when the source's copy is already moving.
    pub fn start(&mut self, migration: ShardMigration) -> Result<()> {
        let shard = migration.shard();
        let owners = self.owners.get(&shard).ok_or(Error::UnknownShard(shard))?;
        let from = migration.from().clone();
        let to = migration.to().clone();
        if !owners.contains(&from) {
            return Err(Error::NotAnOwner { shard, node: from });
        }
        let receiving = self
            .migrations
            .values()
            .any(|m| m.shard() == shard && m.to() == &to);
        if owners.contains(&to) || receiving {
            return Err(Error::AlreadyOwner { shard, node: to });
        }
        if self.migrations.contains_key(&(shard, from.clone())) {
            return Err(Error::MigrationInFlight { shard, node: from });
        }
        tracing::debug!(%shard, %from, %to, step = %migration.step(), "migration routed");
        self.migrations.insert((shard, from), migration);
        Ok(())
    }

    /// The migration of the copy of `shard` on `from`, if one is under way.
    #[must_use]
    pub fn migration(&self, shard: ShardId, from: &NodeId) -> Option<&ShardMigration> {
        self.migrations.get(&(shard, from.clone()))
    }

    /// The migration of the copy of `shard` on `from`, to report its events.
    pub fn migration_mut(&mut self, shard: ShardId, from: &NodeId) -> Option<&mut ShardMigration> {
        self.migrations.get_mut(&(shard, from.clone()))
    }

    /// The migrations under way, by shard then source.
    pub fn migrations(&self) -> impl Iterator<Item = &ShardMigration> + '_ {
        self.migrations.values()
    }

    /// The number of migrations under way (finished ones not yet polled included).
    #[must_use]
    pub fn migrations_len(&self) -> usize {
        self.migrations.len()
    }

    /// Takes out the next finished migration: a done one puts its target in its source's place
    /// among the shard's owners; an aborted one leaves the owners as they were.
    #[must_use = "a finished migration may leave a copy to delete"]
    pub fn poll_finished(&mut self) -> Option<ShardMigration> {
        let key = self
            .migrations
            .iter()
            .find(|(_, m)| m.is_finished())
            .map(|(k, _)| k.clone())?;
        let migration = self.migrations.remove(&key)?;
        if migration.step() == MigrationStep::Done {
            if let Some(owners) = self.owners.get_mut(&migration.shard()) {
                for owner in owners.iter_mut() {
                    if owner == migration.from() {
                        *owner = migration.to().clone();
                    }
                }
            }
        }
        tracing::debug!(
            shard = %migration.shard(),
            from = %migration.from(),
            to = %migration.to(),
            step = %migration.step(),
            "migration finished"
        );
        Some(migration)
    }

    /// Recounts the router's invariants; panics when one is broken (for tests).
    pub fn check_invariants(&self) {
        for (shard, owners) in &self.owners {
            assert!(!owners.is_empty(), "{shard} has no owner");
            let route = self.route_shard(*shard);
            let Some(route) = route else {
                panic!("{shard} unroutable");
            };
            assert_eq!(
                route.read_from, route.write_to,
                "{shard} reads and writes differ"
            );
            assert_eq!(route.read_from.len(), owners.len());
        }
        for ((shard, from), m) in &self.migrations {
            assert_eq!((m.shard(), m.from()), (*shard, from));
            assert!(self.owners.get(shard).is_some_and(|o| o.contains(from)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::HashShards;

    fn id(s: &str) -> NodeId {
        NodeId::new(s).unwrap()
    }

    fn router() -> KeyRouter {
        let map = ShardMap::Hash(HashShards::new(2).unwrap());
        let owners = BTreeMap::from([
            (ShardId(0), vec![id("a"), id("b")]),
            (ShardId(1), vec![id("b"), id("c")]),
        ]);
        KeyRouter::new(map, owners).unwrap()
    }

    #[test]
    fn owners_must_cover_the_map_without_duplicates() {
        let map = ShardMap::Hash(HashShards::new(2).unwrap());
        let one = BTreeMap::from([(ShardId(0), vec![id("a")])]);
        assert!(matches!(
            KeyRouter::new(map.clone(), one),
            Err(Error::MissingShard { .. })
        ));
        let twice = BTreeMap::from([
            (ShardId(0), vec![id("a"), id("a")]),
            (ShardId(1), vec![id("a")]),
        ]);
        assert!(matches!(
            KeyRouter::new(map.clone(), twice),
            Err(Error::DuplicateNode(_))
        ));
        let extra = BTreeMap::from([
            (ShardId(0), vec![id("a")]),
            (ShardId(1), vec![id("a")]),
            (ShardId(7), vec![id("a")]),
        ]);
        assert!(matches!(
            KeyRouter::new(map, extra),
            Err(Error::UnknownShard(ShardId(7)))
        ));
    }

    #[test]
    fn bad_migrations_are_refused_and_change_nothing() {
        let mut r = router();
        let m = |s, f: &str, t: &str| {
            ShardMigration::new(ShardId(s), id(f), id(t), Default::default()).unwrap()
        };
        assert!(matches!(
            r.start(m(0, "c", "d")),
            Err(Error::NotAnOwner { .. })
        ));
        assert!(matches!(
            r.start(m(0, "a", "b")),
            Err(Error::AlreadyOwner { .. })
        ));
        assert!(matches!(
            r.start(m(9, "a", "d")),
            Err(Error::UnknownShard(_))
        ));
        r.start(m(0, "a", "d")).unwrap();
        assert!(matches!(
            r.start(m(0, "a", "e")),
            Err(Error::MigrationInFlight { .. })
        ));
        assert!(matches!(
            r.start(m(0, "b", "d")),
            Err(Error::AlreadyOwner { .. })
        ));
        assert_eq!(r.migrations_len(), 1);
        r.check_invariants();
    }

    #[test]
    fn routes_follow_each_step_and_done_replaces_the_owner() {
        let mut r = router();
        let plain = r.route_shard(ShardId(1)).unwrap();
        assert_eq!(plain.read_from, [id("b"), id("c")]);
        r.start(ShardMigration::new(ShardId(1), id("c"), id("d"), Default::default()).unwrap())
            .unwrap();
        let step = |r: &KeyRouter| r.route_shard(ShardId(1)).unwrap();
        assert_eq!(step(&r).read_from, [id("b"), id("c")]);
        assert!(step(&r).also_write_to.is_empty());
        let m = r.migration_mut(ShardId(1), &id("c")).unwrap();
        m.on_copy_complete().unwrap();
        assert_eq!(step(&r).read_from, [id("b"), id("c")]);
        assert_eq!(step(&r).also_write_to, [id("d")]);
        let m = r.migration_mut(ShardId(1), &id("c")).unwrap();
        m.on_caught_up(0).unwrap();
        assert_eq!(step(&r).read_from, [id("b"), id("d")]);
        assert!(step(&r).also_write_to.is_empty());
        assert!(r.poll_finished().is_none());
        let m = r.migration_mut(ShardId(1), &id("c")).unwrap();
        m.on_cut_over().unwrap();
        m.on_cleanup_complete().unwrap();
        let done = r.poll_finished().unwrap();
        assert_eq!(done.step(), MigrationStep::Done);
        assert_eq!(r.owners(ShardId(1)), Some(&[id("b"), id("d")][..]));
        assert_eq!(r.migrations_len(), 0);
        r.check_invariants();
    }

    #[test]
    fn an_aborted_migration_keeps_the_owner() {
        let mut r = router();
        r.start(ShardMigration::new(ShardId(0), id("a"), id("d"), Default::default()).unwrap())
            .unwrap();
        r.migration_mut(ShardId(0), &id("a"))
            .unwrap()
            .abort()
            .unwrap();
        assert_eq!(r.poll_finished().unwrap().step(), MigrationStep::Aborted);
        assert_eq!(r.owners(ShardId(0)), Some(&[id("a"), id("b")][..]));
    }

    #[test]
    fn draining_holds_writes() {
        let mut r = router();
        let config = crate::MigrationConfig {
            max_cut_over_lag: 5,
        };
        r.start(ShardMigration::new(ShardId(0), id("b"), id("d"), config).unwrap())
            .unwrap();
        let m = r.migration_mut(ShardId(0), &id("b")).unwrap();
        m.on_copy_complete().unwrap();
        assert_eq!(m.on_caught_up(3).unwrap(), MigrationStep::Draining);
        let route = r.route_shard(ShardId(0)).unwrap();
        assert!(route.held);
        assert_eq!(route.read_from, [id("a"), id("b")]);
    }
}
