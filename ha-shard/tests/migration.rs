//! Properties of a shard migration: one readable owner holding every acknowledged write at every
//! step, refusals that change nothing, and resumption from a persisted record.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use ha_core::NodeId;
use ha_shard::{Error, MigrationConfig, MigrationRecord, MigrationStep, ShardId, ShardMigration};
use proptest::prelude::*;

fn id(name: &str) -> NodeId {
    NodeId::new(name).unwrap()
}

fn migration(max_cut_over_lag: u64) -> ShardMigration {
    ShardMigration::new(
        ShardId(7),
        id("source"),
        id("target"),
        MigrationConfig { max_cut_over_lag },
    )
    .unwrap()
}

#[derive(Debug, Clone, Copy)]
enum Event {
    CopyComplete,
    CaughtUp(u64),
    CutOver,
    CleanupComplete,
    Abort,
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        Just(Event::CopyComplete),
        (0u64..4).prop_map(Event::CaughtUp),
        Just(Event::CutOver),
        Just(Event::CleanupComplete),
        Just(Event::Abort),
    ]
}

fn feed(m: &mut ShardMigration, event: Event) -> Result<MigrationStep, Error> {
    match event {
        Event::CopyComplete => m.on_copy_complete(),
        Event::CaughtUp(lag) => m.on_caught_up(lag),
        Event::CutOver => m.on_cut_over(),
        Event::CleanupComplete => m.on_cleanup_complete(),
        Event::Abort => m.abort(),
    }
}

/// The step an event leads to from `step`, or `None` if the event does not fit it.
fn expected(step: MigrationStep, event: Event, max_lag: u64) -> Option<MigrationStep> {
    use MigrationStep::*;
    match (step, event) {
        (Copying, Event::CopyComplete) => Some(CatchingUp),
        (CatchingUp | Draining, Event::CaughtUp(0)) => Some(CutOver),
        (CatchingUp | Draining, Event::CaughtUp(lag)) if lag <= max_lag => Some(Draining),
        (CatchingUp, Event::CaughtUp(_)) => Some(CatchingUp),
        (Draining, Event::CaughtUp(_)) => Some(Draining),
        (CutOver, Event::CutOver) => Some(CleaningUp),
        (CleaningUp, Event::CleanupComplete) => Some(Done),
        (Copying | CatchingUp | Draining, Event::Abort) => Some(Aborted),
        _ => None,
    }
}

/// A toy store per node, a capture log at the source, and writes routed as the migration says.
#[derive(Debug, Default)]
struct Model {
    stores: BTreeMap<NodeId, BTreeMap<u8, u32>>,
    /// Writes captured while copying, not yet replayed on the target.
    log: Vec<(u8, u32)>,
    /// The source's data when the copy started.
    snapshot: BTreeMap<u8, u32>,
    /// Every acknowledged write's latest value (its sequence number).
    truth: BTreeMap<u8, u32>,
}

impl Model {
    fn write(&mut self, m: &ShardMigration, key: u8, value: u32) {
        let route = m.writes_go_to();
        if route.held {
            // Held: not applied and not acknowledged; the client retries later.
            return;
        }
        self.stores.entry(route.to).or_default().insert(key, value);
        if let Some(also) = route.also_to {
            self.stores.entry(also).or_default().insert(key, value);
        }
        if route.captured_for_catch_up {
            self.log.push((key, value));
        }
        self.truth.insert(key, value);
    }

    /// A write from a router that has not switched: sent to the source. A fenced source refuses
    /// it with a redirect and the router retries at the owner (`write`); an unfenced one applies
    /// and acknowledges it itself — which loses it, if the source no longer serves reads.
    fn stale_write(&mut self, m: &ShardMigration, key: u8, value: u32) {
        if m.writes_go_to().fence.as_ref() == Some(m.from()) {
            self.write(m, key, value);
        } else {
            self.stores
                .entry(m.from().clone())
                .or_default()
                .insert(key, value);
            self.truth.insert(key, value);
        }
    }

    /// Replays up to `n` captured writes on the target (while catching up).
    fn replay(&mut self, m: &ShardMigration, n: usize) {
        let n = n.min(self.log.len());
        let target = self.stores.entry(m.to().clone()).or_default();
        for (key, value) in self.log.drain(..n) {
            // Values are write sequence numbers: a key double-written since already holds a newer
            // one, which a replay must not overwrite (a real catch-up compares versions).
            let held = target.entry(key).or_insert(value);
            *held = (*held).max(value);
        }
    }

    fn assert_one_readable_owner(&self, m: &ShardMigration) {
        let owner = m.reads_go_to();
        assert!(owner == m.from() || owner == m.to());
        let empty = BTreeMap::new();
        let data = self.stores.get(owner).unwrap_or(&empty);
        for (key, value) in &self.truth {
            assert_eq!(
                data.get(key),
                Some(value),
                "{owner} misses key {key} while {}",
                m.step()
            );
        }
        let route = m.writes_go_to();
        assert_eq!(&route.to, owner, "writes skip the readable owner");
    }
}

proptest! {
    #[test]
    fn at_every_migration_step_every_key_has_exactly_one_readable_owner(
        keys in prop::collection::vec(0u8..16, 0..40),
        max_lag in 0u64..4,
        abort_at in prop::option::of(0usize..2),
    ) {
        let mut m = migration(max_lag);
        let mut model = Model::default();
        // Each write's value is its sequence number, so later writes hold larger values.
        let mut writes = keys.into_iter().zip(1u32..);
        let mut some_writes = |m: &ShardMigration, model: &mut Model, n: usize| {
            for (key, value) in writes.by_ref().take(n) {
                model.write(m, key, value);
                model.assert_one_readable_owner(m);
            }
        };
        some_writes(&m, &mut model, 5);
        model.snapshot = model.stores.get(m.from()).cloned().unwrap_or_default();
        // Writes during the copy go to the source and the capture log.
        some_writes(&m, &mut model, 5);
        if abort_at == Some(0) {
            m.abort().unwrap();
        } else {
            m.on_copy_complete().unwrap();
            model.stores.insert(m.to().clone(), model.snapshot.clone());
            m.check_invariants();
            model.assert_one_readable_owner(&m);
            // Catch up in steps while new writes double-write.
            while m.step() == MigrationStep::CatchingUp {
                if abort_at == Some(1) {
                    m.abort().unwrap();
                    break;
                }
                some_writes(&m, &mut model, 2);
                model.replay(&m, 3);
                m.on_caught_up(model.log.len() as u64).unwrap();
                m.check_invariants();
                model.assert_one_readable_owner(&m);
            }
            // Draining: writes are held while the rest replays, one at a time.
            while m.step() == MigrationStep::Draining {
                some_writes(&m, &mut model, 2);
                model.replay(&m, 1);
                m.on_caught_up(model.log.len() as u64).unwrap();
                m.check_invariants();
                model.assert_one_readable_owner(&m);
            }
            if m.step() == MigrationStep::CutOver {
                some_writes(&m, &mut model, 5);
                // Routers that have not switched yet write to the fenced source.
                for (key, value) in [(1u8, 1_000_000u32), (2, 1_000_001)] {
                    model.stale_write(&m, key, value);
                    model.assert_one_readable_owner(&m);
                }
                m.on_cut_over().unwrap();
                some_writes(&m, &mut model, 5);
                m.on_cleanup_complete().unwrap();
                prop_assert_eq!(m.reads_go_to(), &id("target"));
            }
        }
        m.check_invariants();
        model.assert_one_readable_owner(&m);
        some_writes(&m, &mut model, 40);
        prop_assert!(m.is_finished());
    }

    #[test]
    fn out_of_order_migration_events_are_refused_and_change_nothing(
        events in prop::collection::vec(event(), 0..20),
        max_lag in 0u64..3,
    ) {
        let mut m = migration(max_lag);
        for event in events {
            let before = m.clone();
            let result = feed(&mut m, event);
            match expected(before.step(), event, max_lag) {
                Some(step) => {
                    prop_assert_eq!(result.unwrap(), step);
                    prop_assert_eq!(m.step(), step);
                }
                None => {
                    prop_assert!(
                        matches!(result, Err(Error::MigrationEventRefused { step, .. }) if step == before.step()),
                        "{event:?} while {}", before.step()
                    );
                    prop_assert_eq!(&m, &before);
                }
            }
            m.check_invariants();
        }
    }

    #[test]
    fn a_resumed_migration_continues_where_it_stopped(
        before in prop::collection::vec(event(), 0..10),
        after in prop::collection::vec(event(), 0..10),
        max_lag in 0u64..3,
    ) {
        let mut m = migration(max_lag);
        for event in before {
            let _ = feed(&mut m, event);
        }
        let json = serde_json::to_string(&m.record()).unwrap();
        let record: MigrationRecord = serde_json::from_str(&json).unwrap();
        let mut resumed = ShardMigration::resume(record).unwrap();
        prop_assert_eq!(&resumed, &m);
        resumed.check_invariants();
        for event in after {
            let original = feed(&mut m, event);
            let again = feed(&mut resumed, event);
            prop_assert_eq!(original, again);
            prop_assert_eq!(&resumed, &m);
            prop_assert_eq!(resumed.reads_go_to(), m.reads_go_to());
            prop_assert_eq!(resumed.writes_go_to(), m.writes_go_to());
        }
    }
}
