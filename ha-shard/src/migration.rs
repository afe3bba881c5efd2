//! One shard's move from one node to another, as a state machine.
//!
//! The steps follow the online shard moves of Vitess (`MoveTables`: copy, then catch up from the
//! binlog, then switch reads and writes) and CockroachDB's range rebalancing (learner snapshot,
//! then promotion): the target is filled from a snapshot while the source keeps serving, the
//! writes that arrived meanwhile are replayed, routing switches in one step, and only then is
//! the source's copy deleted. Unlike Vitess we switch reads and writes together, and from the
//! switch on the source is *fenced*: it refuses the shard's writes with a redirect to the target
//! (as a Redis Cluster node answers `MOVED`), so a router that has not switched yet cannot land a
//! write on the old owner. A target still a few writes behind at the switch first drains them
//! with writes held, so reads never move to a node that misses an acknowledged write.
//!
//! The routing at each step is tabled on [`ShardMigration`].

use std::fmt;

use ha_core::NodeId;

use crate::{Error, Result, ShardId};

/// Where a shard's migration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum MigrationStep {
    /// The target is being filled from a snapshot of the source. Reads and writes stay at the
    /// source; the source also captures (logs) each write so it can be replayed on the target.
    Copying,
    /// The snapshot is in; the captured writes are being replayed on the target, and new writes
    /// go to both source and target. Reads stay at the source.
    CatchingUp,
    /// The target is within the allowed lag but not yet level: new writes are held (queued, or
    /// refused as retryable) while the last captured writes replay. Reads stay at the source.
    Draining,
    /// The target has caught up: routing switches, reads and writes go to the target, and the
    /// source refuses the shard's writes with a redirect to the target.
    CutOver,
    /// Every router has switched; the source's copy is being deleted. The target serves.
    CleaningUp,
    /// The source's copy is gone; the target owns the shard.
    Done,
    /// Given up before cut-over; the source still owns the shard, and the target's partial copy
    /// is the caller's to delete.
    Aborted,
}

impl fmt::Display for MigrationStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MigrationStep::Copying => "copying",
            MigrationStep::CatchingUp => "catching up",
            MigrationStep::Draining => "draining",
            MigrationStep::CutOver => "cut over",
            MigrationStep::CleaningUp => "cleaning up",
            MigrationStep::Done => "done",
            MigrationStep::Aborted => "aborted",
        })
    }
}

/// Where a shard's writes go during a migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteRoute {
    /// The node every write must be acknowledged by; always the node reads go to.
    pub to: NodeId,
    /// A second node every write must also be applied to (the target while catching up).
    pub also_to: Option<NodeId>,
    /// Whether `to` must capture each write for replay on the target (while copying).
    pub captured_for_catch_up: bool,
    /// Whether writes must be held — queued by the router, or refused as retryable — until the
    /// step changes (while draining). Held writes are not acknowledged.
    pub held: bool,
    /// A node that must refuse the shard's writes with a redirect to `to`: the source from the
    /// cut-over on (routers that have not switched are sent on), the target after an abort.
    pub fence: Option<NodeId>,
}

/// Settings of a [`ShardMigration`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct MigrationConfig {
    /// The largest catch-up lag (captured writes not yet replayed on the target, in the caller's
    /// unit) at which [`on_caught_up`](ShardMigration::on_caught_up) stops taking new writes to
    /// let the rest drain ([`Draining`](MigrationStep::Draining)). Default 0: writes are never
    /// held, and the migration cuts over once the target reports no lag. A larger value ends a
    /// catch-up that new writes keep feeding, at the cost of a short pause in writes; reads move
    /// to the target only once it reports no lag.
    pub max_cut_over_lag: u64,
}

/// What a restarted coordinator needs to resume a migration: the serde-able state of one.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct MigrationRecord {
    /// The shard moving.
    pub shard: ShardId,
    /// Where it comes from.
    pub from: NodeId,
    /// Where it goes.
    pub to: NodeId,
    /// The step reached.
    pub step: MigrationStep,
    /// The last catch-up lag reported, if any.
    pub last_lag: Option<u64>,
    /// The settings.
    pub config: MigrationConfig,
}

/// One shard's move: a state machine fed the events of the copy, the catch-up, the cut-over and
/// the clean-up, saying at every step where reads and writes go.
///
/// Events that do not fit the current step are refused with
/// [`Error::MigrationEventRefused`] and change nothing.
///
/// | step | reads | writes |
/// |---|---|---|
/// | [`Copying`](MigrationStep::Copying) | source | source, captured for catch-up |
/// | [`CatchingUp`](MigrationStep::CatchingUp) | source | source and target |
/// | [`Draining`](MigrationStep::Draining) | source | held |
/// | [`CutOver`](MigrationStep::CutOver) | target | target; the source refuses and redirects |
/// | [`CleaningUp`](MigrationStep::CleaningUp) | target | target; the source refuses and redirects |
/// | [`Done`](MigrationStep::Done) | target | target; the source refuses and redirects |
/// | [`Aborted`](MigrationStep::Aborted) | source | source; the target refuses and redirects |
///
/// ```
/// use ha_core::NodeId;
/// use ha_shard::{MigrationConfig, MigrationStep, ShardId, ShardMigration};
///
/// let (a, b) = (NodeId::new("a")?, NodeId::new("b")?);
/// let mut m = ShardMigration::new(ShardId(4), a.clone(), b.clone(), MigrationConfig::default())?;
/// assert_eq!(m.reads_go_to(), &a);
/// m.on_copy_complete()?;
/// assert_eq!(m.writes_go_to().also_to, Some(b.clone()));
/// assert_eq!(m.on_caught_up(3)?, MigrationStep::CatchingUp); // not there yet
/// assert_eq!(m.on_caught_up(0)?, MigrationStep::CutOver);
/// assert_eq!(m.reads_go_to(), &b);
/// assert!(m.abort().is_err(), "too late to go back");
/// m.on_cut_over()?;
/// // A restarted coordinator picks up from the record.
/// let mut m = ShardMigration::resume(m.record())?;
/// assert_eq!(m.on_cleanup_complete()?, MigrationStep::Done);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardMigration {
    shard: ShardId,
    from: NodeId,
    to: NodeId,
    step: MigrationStep,
    last_lag: Option<u64>,
    config: MigrationConfig,
}

impl ShardMigration {
    /// A migration of `shard` from `from` to `to`, starting to copy.
    ///
    /// # Errors
    /// [`Error::SameNode`] if `from` and `to` are the same node.
    pub fn new(
        shard: ShardId,
        from: NodeId,
        to: NodeId,
        config: MigrationConfig,
    ) -> Result<ShardMigration> {
        ShardMigration::resume(MigrationRecord {
            shard,
            from,
            to,
            step: MigrationStep::Copying,
            last_lag: None,
            config,
        })
    }

    /// The migration a [`record`](Self::record) describes, continuing from its step.
    ///
    /// # Errors
    /// [`Error::SameNode`] if the record's source and target are the same node.
    pub fn resume(record: MigrationRecord) -> Result<ShardMigration> {
        if record.from == record.to {
            return Err(Error::SameNode {
                shard: record.shard,
                node: record.from,
            });
        }
        let last_lag = match record.step {
            // No lag is reported before the copy completes; a record saying otherwise is stale.
            MigrationStep::Copying => None,
            _ => record.last_lag,
        };
        Ok(ShardMigration {
            shard: record.shard,
            from: record.from,
            to: record.to,
            step: record.step,
            last_lag,
            config: record.config,
        })
    }

    /// The state to persist so a restarted coordinator can [`resume`](Self::resume).
    #[must_use]
    pub fn record(&self) -> MigrationRecord {
        MigrationRecord {
            shard: self.shard,
            from: self.from.clone(),
            to: self.to.clone(),
            step: self.step,
            last_lag: self.last_lag,
            config: self.config,
        }
    }

    /// The shard moving.
    #[must_use]
    pub fn shard(&self) -> ShardId {
        self.shard
    }

    /// The source node.
    #[must_use]
    pub fn from(&self) -> &NodeId {
        &self.from
    }

    /// The target node.
    #[must_use]
    pub fn to(&self) -> &NodeId {
        &self.to
    }

    /// The current step.
    #[must_use]
    pub fn step(&self) -> MigrationStep {
        self.step
    }

    /// The last catch-up lag reported, if any.
    #[must_use]
    pub fn last_lag(&self) -> Option<u64> {
        self.last_lag
    }

    /// Whether the migration has ended, done or aborted.
    #[must_use]
    pub fn is_finished(&self) -> bool {
        matches!(self.step, MigrationStep::Done | MigrationStep::Aborted)
    }

    /// The one node that serves reads now: the source until cut-over, the target from then on,
    /// the source again after an abort.
    #[must_use]
    pub fn reads_go_to(&self) -> &NodeId {
        match self.step {
            MigrationStep::Copying
            | MigrationStep::CatchingUp
            | MigrationStep::Draining
            | MigrationStep::Aborted => &self.from,
            MigrationStep::CutOver | MigrationStep::CleaningUp | MigrationStep::Done => &self.to,
        }
    }

    /// Where writes go now; see the table in the module docs.
    #[must_use]
    pub fn writes_go_to(&self) -> WriteRoute {
        let (also_to, captured_for_catch_up, held, fence) = match self.step {
            MigrationStep::Copying => (None, true, false, None),
            MigrationStep::CatchingUp => (Some(self.to.clone()), false, false, None),
            MigrationStep::Draining => (Some(self.to.clone()), false, true, None),
            MigrationStep::CutOver | MigrationStep::CleaningUp | MigrationStep::Done => {
                (None, false, false, Some(self.from.clone()))
            }
            MigrationStep::Aborted => (None, false, false, Some(self.to.clone())),
        };
        WriteRoute {
            to: self.reads_go_to().clone(),
            also_to,
            captured_for_catch_up,
            held,
            fence,
        }
    }

    /// The snapshot is on the target: start catching up.
    ///
    /// # Errors
    /// [`Error::MigrationEventRefused`] unless copying.
    pub fn on_copy_complete(&mut self) -> Result<MigrationStep> {
        self.advance(
            "copy complete",
            MigrationStep::Copying,
            MigrationStep::CatchingUp,
        )
    }

    /// The target is `lag` captured writes behind. With no lag the migration cuts over: reads
    /// and writes go to the target from now on, and the source is fenced. Within
    /// [`max_cut_over_lag`](MigrationConfig::max_cut_over_lag) it starts (or keeps) draining:
    /// writes are held until a later report of no lag. Above it the migration keeps catching up
    /// (or, once draining, keeps draining). The lag is noted; the step reached is returned.
    ///
    /// # Errors
    /// [`Error::MigrationEventRefused`] unless catching up or draining.
    pub fn on_caught_up(&mut self, lag: u64) -> Result<MigrationStep> {
        if !matches!(
            self.step,
            MigrationStep::CatchingUp | MigrationStep::Draining
        ) {
            return Err(self.refuse("caught up", self.step));
        }
        self.last_lag = Some(lag);
        if lag == 0 {
            self.step = MigrationStep::CutOver;
        } else if lag <= self.config.max_cut_over_lag {
            self.step = MigrationStep::Draining;
        }
        Ok(self.step)
    }

    /// Every router now sends the shard's traffic to the target: start deleting the source's
    /// copy.
    ///
    /// # Errors
    /// [`Error::MigrationEventRefused`] unless cut over.
    pub fn on_cut_over(&mut self) -> Result<MigrationStep> {
        self.advance(
            "cut over",
            MigrationStep::CutOver,
            MigrationStep::CleaningUp,
        )
    }

    /// The source's copy is deleted: the migration is done.
    ///
    /// # Errors
    /// [`Error::MigrationEventRefused`] unless cleaning up.
    pub fn on_cleanup_complete(&mut self) -> Result<MigrationStep> {
        self.advance(
            "cleanup complete",
            MigrationStep::CleaningUp,
            MigrationStep::Done,
        )
    }

    /// Gives up: the source keeps the shard, and the target is fenced. Only before cut-over —
    /// once the target has taken writes alone, going back would lose them. Writes held while
    /// draining go to the source.
    ///
    /// # Errors
    /// [`Error::MigrationEventRefused`] from cut-over on, and once aborted.
    pub fn abort(&mut self) -> Result<MigrationStep> {
        match self.step {
            MigrationStep::Copying | MigrationStep::CatchingUp | MigrationStep::Draining => {
                self.step = MigrationStep::Aborted;
                Ok(self.step)
            }
            step => Err(self.refuse("abort", step)),
        }
    }

    /// Checks the state, for tests and fuzzing: source and target differ, the node reads go to
    /// takes every write, and no lag is known before the copy completes.
    ///
    /// # Panics
    /// If one does not hold, which is a bug.
    pub fn check_invariants(&self) {
        assert_ne!(self.from, self.to, "a migration needs two nodes");
        let reads = self.reads_go_to();
        assert!(reads == &self.from || reads == &self.to);
        let writes = self.writes_go_to();
        assert_eq!(
            &writes.to, reads,
            "the readable owner must take every write"
        );
        assert_ne!(writes.also_to.as_ref(), Some(reads));
        assert_ne!(
            writes.fence.as_ref(),
            Some(reads),
            "the readable owner is never fenced"
        );
        if self.step == MigrationStep::Copying {
            assert_eq!(
                self.last_lag, None,
                "lag reported before the copy completed"
            );
        }
    }

    fn expect(&self, event: &'static str, step: MigrationStep) -> Result<()> {
        if self.step == step {
            Ok(())
        } else {
            Err(self.refuse(event, self.step))
        }
    }

    fn advance(
        &mut self,
        event: &'static str,
        from: MigrationStep,
        to: MigrationStep,
    ) -> Result<MigrationStep> {
        self.expect(event, from)?;
        self.step = to;
        Ok(to)
    }

    fn refuse(&self, event: &'static str, step: MigrationStep) -> Error {
        Error::MigrationEventRefused {
            shard: self.shard,
            event,
            step,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(name: &str) -> NodeId {
        NodeId::new(name).unwrap()
    }

    #[test]
    fn a_migration_to_its_own_source_is_rejected() {
        let err = ShardMigration::new(ShardId(1), id("a"), id("a"), MigrationConfig::default())
            .unwrap_err();
        assert_eq!(
            err,
            Error::SameNode {
                shard: ShardId(1),
                node: id("a")
            }
        );
        let mut record = ShardMigration::new(ShardId(1), id("a"), id("b"), Default::default())
            .unwrap()
            .record();
        record.to = id("a");
        assert!(matches!(
            ShardMigration::resume(record),
            Err(Error::SameNode { .. })
        ));
    }

    #[test]
    fn refusals_name_the_event_and_the_step() {
        let mut m = ShardMigration::new(ShardId(3), id("a"), id("b"), Default::default()).unwrap();
        let err = m.on_cut_over().unwrap_err();
        assert_eq!(
            err.to_string(),
            "migration of shard-3 cannot take cut over while copying"
        );
        m.abort().unwrap();
        assert!(m.abort().is_err());
        assert!(m.on_copy_complete().is_err());
        assert_eq!(m.reads_go_to(), &id("a"));
        assert!(m.is_finished());
    }

    #[test]
    fn a_lag_above_the_bound_keeps_catching_up() {
        let config = MigrationConfig {
            max_cut_over_lag: 5,
        };
        let mut m = ShardMigration::new(ShardId(3), id("a"), id("b"), config).unwrap();
        m.on_copy_complete().unwrap();
        assert_eq!(m.on_caught_up(6).unwrap(), MigrationStep::CatchingUp);
        assert_eq!(m.last_lag(), Some(6));
        // Within the bound: writes are held while the rest drains; reads stay at the source.
        assert_eq!(m.on_caught_up(5).unwrap(), MigrationStep::Draining);
        assert!(m.writes_go_to().held);
        assert_eq!(m.reads_go_to(), &id("a"));
        assert_eq!(m.on_caught_up(2).unwrap(), MigrationStep::Draining);
        assert_eq!(m.on_caught_up(0).unwrap(), MigrationStep::CutOver);
        let route = m.writes_go_to();
        assert_eq!((route.to, route.fence), (id("b"), Some(id("a"))));
        m.check_invariants();
    }

    #[test]
    fn a_draining_migration_can_still_abort_and_fences_the_target() {
        let config = MigrationConfig {
            max_cut_over_lag: 5,
        };
        let mut m = ShardMigration::new(ShardId(3), id("a"), id("b"), config).unwrap();
        m.on_copy_complete().unwrap();
        m.on_caught_up(3).unwrap();
        assert_eq!(m.abort().unwrap(), MigrationStep::Aborted);
        let route = m.writes_go_to();
        assert_eq!(
            (route.to, route.held, route.fence),
            (id("a"), false, Some(id("b")))
        );
    }
}
