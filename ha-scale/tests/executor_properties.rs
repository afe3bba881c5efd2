//! Scaling executor properties under random events: the surge and unavailable budgets hold,
//! no instance with work in flight is destroyed before its drain ends or times out, no
//! instance outlives a step's timeout, and a cooperative provider always settles on exactly
//! the desired instances at the current revision.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use ha_balance::{DrainEnd, Drained};
use ha_core::{CheckOutcome, NodeId};
use ha_scale::{
    Action, Budget, Error, Executor, ExecutorConfig, FailureCause, InstanceState, RolloutStrategy,
};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Desired(u32),
    Rollout,
    Advance(u64),
    Created(usize),
    CreateFailed(usize),
    Check(usize, bool),
    Registered(usize),
    InFlight(usize, u32),
    Drained(usize, bool),
    Destroyed(usize),
    Lost(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (0u32..10).prop_map(Op::Desired),
        1 => Just(Op::Rollout),
        3 => (1u64..400).prop_map(Op::Advance),
        4 => any::<usize>().prop_map(Op::Created),
        1 => any::<usize>().prop_map(Op::CreateFailed),
        5 => (any::<usize>(), prop::bool::weighted(0.8)).prop_map(|(i, ok)| Op::Check(i, ok)),
        4 => any::<usize>().prop_map(Op::Registered),
        3 => (any::<usize>(), 0u32..4).prop_map(|(i, n)| Op::InFlight(i, n)),
        1 => (any::<usize>(), any::<bool>()).prop_map(|(i, idle)| Op::Drained(i, idle)),
        3 => any::<usize>().prop_map(Op::Destroyed),
        1 => any::<usize>().prop_map(Op::Lost),
    ]
}

fn budget() -> impl Strategy<Value = Budget> {
    prop_oneof![
        (0u32..3).prop_map(Budget::Count),
        (0u32..60).prop_map(Budget::Percent)
    ]
}

fn strategy() -> impl Strategy<Value = ha_scale::RolloutStrategy> {
    prop_oneof![
        1 => Just(ha_scale::RolloutStrategy::OneAtATime),
        3 => (budget(), budget()).prop_map(|(max_surge, max_unavailable)| {
            ha_scale::RolloutStrategy::Rolling { max_surge, max_unavailable }
        }),
    ]
    .prop_filter("a rollout needs some budget", |s| s.validate().is_ok())
}

struct Sim {
    exec: Executor,
    now: Instant,
    drain_started: BTreeMap<NodeId, Instant>,
    drain_timeout: Duration,
}

impl Sim {
    fn new(strategy: ha_scale::RolloutStrategy, initial: u32) -> Sim {
        let now = Instant::now();
        let config = ExecutorConfig {
            strategy,
            ..ExecutorConfig::default()
        };
        let drain_timeout = config.lifecycle.drain_timeout;
        let ids = (0..initial).map(|i| NodeId::new(format!("old-{i}")).unwrap());
        let exec = Executor::adopting(config, ids, now).unwrap();
        Sim {
            exec,
            now,
            drain_started: BTreeMap::new(),
            drain_timeout,
        }
    }

    fn pick(&self, i: usize) -> Option<NodeId> {
        let ids: Vec<NodeId> = self.exec.instances().map(|r| r.id.clone()).collect();
        if ids.is_empty() {
            None
        } else {
            Some(ids[i % ids.len()].clone())
        }
    }

    fn apply(&mut self, op: &Op) -> Result<Option<NodeId>, Error> {
        let now = self.now;
        let target = match op {
            Op::Created(i)
            | Op::CreateFailed(i)
            | Op::Check(i, _)
            | Op::Registered(i)
            | Op::InFlight(i, _)
            | Op::Drained(i, _)
            | Op::Destroyed(i)
            | Op::Lost(i) => self.pick(*i),
            _ => None,
        };
        let id = target.clone().map(|id| id.to_string()).unwrap_or_default();
        let ms = Duration::from_millis(4);
        match op {
            Op::Desired(n) => self.exec.set_desired(*n, "test", now)?,
            Op::Rollout => {
                let next = self.exec.revision() + 1;
                self.exec.roll_out(next, "test", now)?;
            }
            Op::Advance(secs) => {
                self.now += Duration::from_secs(*secs);
                self.exec.handle_timeout(self.now)?;
                // No instance is left past a step's deadline.
                for r in self.exec.instances() {
                    if let Some(due) = r.lifecycle.poll_timeout() {
                        assert!(
                            due > self.now,
                            "{} stayed {} past its deadline",
                            r.id,
                            r.lifecycle.state()
                        );
                    }
                }
            }
            _ if target.is_none() => {}
            Op::Created(_) => self.exec.on_created(&id, now)?,
            Op::CreateFailed(_) => self.exec.on_create_failed(&id, "no capacity", now)?,
            Op::Check(_, ok) => {
                let outcome = if *ok {
                    CheckOutcome::Success
                } else {
                    CheckOutcome::Failure
                };
                self.exec.on_check(&id, outcome, ms, now)?;
            }
            Op::Registered(_) => self.exec.on_registered(&id, now)?,
            Op::InFlight(_, n) => self.exec.on_in_flight(&id, *n, now)?,
            Op::Drained(_, idle) => {
                let state = self.exec.instance(&id).map(|l| l.state());
                let started = self.drain_started.get(id.as_str()).copied();
                // ha-balance reports a drain only when it is over: idle, or timed out.
                let timed_out = started.is_some_and(|s| now >= s + self.drain_timeout);
                let in_flight = self.exec.instance(&id).map_or(0, |l| l.in_flight());
                if state == Some(InstanceState::Draining) && (*idle || timed_out) {
                    let drained = Drained {
                        id: target.clone().unwrap(),
                        end: if *idle {
                            DrainEnd::Idle
                        } else {
                            DrainEnd::TimedOut
                        },
                        elapsed: started.map_or(Duration::ZERO, |s| now - s),
                        abandoned: if *idle { 0 } else { in_flight },
                    };
                    self.exec.on_drained(&drained, now)?;
                }
            }
            Op::Destroyed(_) => self.exec.on_destroyed(&id, now)?,
            Op::Lost(_) => self.exec.on_failed(&id, "host lost", now)?,
        }
        Ok(target)
    }

    /// One op, with every budget and drain invariant checked on what it caused.
    fn step(&mut self, op: &Op) {
        let before: BTreeMap<NodeId, (InstanceState, bool)> = self
            .exec
            .instances()
            .map(|r| {
                (
                    r.id.clone(),
                    (r.lifecycle.state(), r.lifecycle.is_available()),
                )
            })
            .collect();
        let target = match self.apply(op) {
            Ok(target) => target,
            Err(Error::InstanceEventRefused { .. }) => return,
            Err(e) => panic!("unexpected error for {op:?}: {e}"),
        };
        self.exec.check_invariants();
        let actions: Vec<Action> = std::iter::from_fn(|| self.exec.poll_action()).collect();
        let (surge, unavailable) = self.exec.budgets();
        let desired = self.exec.desired();

        // Surge: an instance is only ever created within desired + max surge.
        if actions.iter().any(|a| matches!(a, Action::Create { .. })) {
            assert!(
                self.exec.existing_replicas() <= desired + surge,
                "{} instances exist after a create, above {desired} desired + {surge} surge",
                self.exec.existing_replicas()
            );
        }
        // Unavailable: the executor takes no available instance out of service below
        // desired − max unavailable (failures reported on an instance are not its doing).
        let voluntary_loss = before.iter().any(|(id, (_, was))| {
            *was && Some(id) != target.as_ref()
                && !self
                    .exec
                    .instance(id.as_str())
                    .is_some_and(|l| l.is_available())
        });
        if voluntary_loss {
            assert!(
                self.exec.available_replicas() >= desired.saturating_sub(unavailable),
                "{} available after a drain, below {desired} desired − {unavailable} unavailable",
                self.exec.available_replicas()
            );
        }
        for action in &actions {
            let id = action.id();
            let life = self.exec.instance(id.as_str());
            match action {
                Action::Drain { .. } => {
                    self.drain_started.insert(id.clone(), self.now);
                }
                Action::Destroy { .. } => {
                    let Some(life) = life else { continue };
                    let was = before.get(id).map(|b| b.0);
                    // A destroy asked again: the instance was already going.
                    if matches!(
                        was,
                        Some(InstanceState::Terminating | InstanceState::Failed)
                    ) {
                        continue;
                    }
                    match life.state() {
                        InstanceState::Failed => assert!(
                            matches!(life.failure(), Some(FailureCause::Lost(_)))
                                || life.in_flight() == 0,
                            "{id} failed and destroyed with {} in flight: {:?}",
                            life.in_flight(),
                            life.failure()
                        ),
                        InstanceState::Terminating => match life.drain_end() {
                            Some(DrainEnd::TimedOut) => {
                                let started = self.drain_started.get(id).copied().unwrap();
                                assert!(
                                    self.now >= started + self.drain_timeout,
                                    "{id} drain ended early"
                                );
                            }
                            _ => assert_eq!(
                                life.in_flight(),
                                0,
                                "{id} destroyed with work in flight before its drain ended"
                            ),
                        },
                        other => panic!("destroy asked for {id} while {other}"),
                    }
                }
                _ => {}
            }
        }
    }

    /// Plays a provider and balancer that do everything asked, promptly, until the instances
    /// settle; returns the rounds it took.
    fn settle(&mut self) -> usize {
        for round in 0..400 {
            let ids: Vec<(NodeId, InstanceState, bool)> = self
                .exec
                .instances()
                .map(|r| {
                    (
                        r.id.clone(),
                        r.lifecycle.state(),
                        r.lifecycle.health() == ha_core::Health::Healthy,
                    )
                })
                .collect();
            let settled = ids.len() as u32 == self.exec.desired()
                && self.exec.instances().all(|r| {
                    r.lifecycle.state() == InstanceState::Serving
                        && r.revision == self.exec.revision()
                        && r.lifecycle.is_available()
                });
            if settled {
                return round;
            }
            for (id, state, healthy) in ids {
                let op = match state {
                    InstanceState::Requested => Some(Op::Created(0)),
                    InstanceState::Starting => Some(Op::Check(0, true)),
                    InstanceState::Ready => Some(Op::Registered(0)),
                    InstanceState::Serving if !healthy => Some(Op::Check(0, true)),
                    InstanceState::Draining => Some(Op::InFlight(0, 0)),
                    InstanceState::Terminating | InstanceState::Failed => Some(Op::Destroyed(0)),
                    _ => None,
                };
                if let Some(op) = op {
                    let index = self.exec.instances().position(|r| r.id == &id).unwrap();
                    let op = match op {
                        Op::Created(_) => Op::Created(index),
                        Op::Check(_, ok) => Op::Check(index, ok),
                        Op::Registered(_) => Op::Registered(index),
                        Op::InFlight(_, n) => Op::InFlight(index, n),
                        Op::Destroyed(_) => Op::Destroyed(index),
                        other => other,
                    };
                    self.step(&op);
                }
            }
            self.step(&Op::Advance(1));
        }
        panic!(
            "did not settle: desired {}, instances {:?}",
            self.exec.desired(),
            self.exec
                .instances()
                .map(|r| (r.id.to_string(), r.lifecycle.state(), r.revision))
                .collect::<Vec<_>>()
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn the_executor_never_exceeds_max_surge_or_max_unavailable_and_never_cuts_a_drain_short(
        strategy in strategy(),
        initial in 0u32..6,
        ops in prop::collection::vec(op(), 1..120),
    ) {
        let mut sim = Sim::new(strategy, initial);
        for op in &ops {
            sim.step(op);
        }
    }

    #[test]
    fn every_instance_reaches_gone_or_serves_and_the_fleet_settles_on_the_desired_revision(
        strategy in strategy(),
        initial in 0u32..6,
        ops in prop::collection::vec(op(), 0..80),
        desired in 0u32..8,
    ) {
        let mut sim = Sim::new(strategy, initial);
        for op in &ops {
            sim.step(op);
        }
        sim.step(&Op::Desired(desired));
        let before: BTreeSet<NodeId> = sim.exec.instances().map(|r| r.id.clone()).collect();
        sim.settle();
        // Whatever did not end up serving at the current revision is gone.
        let after: BTreeSet<NodeId> = sim.exec.instances().map(|r| r.id.clone()).collect();
        prop_assert_eq!(after.len() as u32, desired);
        for id in before.difference(&after) {
            prop_assert!(sim.exec.instance(id.as_str()).is_none());
        }
    }
}

#[test]
fn a_strategy_with_neither_surge_nor_unavailable_is_refused() {
    let config = ExecutorConfig {
        strategy: RolloutStrategy::Rolling {
            max_surge: Budget::Percent(0),
            max_unavailable: Budget::Count(0),
        },
        ..ExecutorConfig::default()
    };
    assert_eq!(
        Executor::new(config, Instant::now()).unwrap_err(),
        Error::ZeroRolloutBudget
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn scale_down_retires_unhealthy_instances_first_then_the_least_loaded(
        fleet in prop::collection::vec((0u32..5, prop::bool::weighted(0.3)), 2..10),
        keep in 0usize..9,
    ) {
        let keep = keep % fleet.len();
        let t0 = Instant::now();
        let config = ExecutorConfig {
            strategy: RolloutStrategy::Rolling {
                max_surge: Budget::Count(1),
                max_unavailable: Budget::Percent(100),
            },
            ..ExecutorConfig::default()
        };
        let ids: Vec<NodeId> = (0..fleet.len()).map(|i| NodeId::new(format!("i{i}")).unwrap()).collect();
        let mut exec = Executor::adopting(config, ids.clone(), t0).unwrap();
        for (id, &(in_flight, unhealthy)) in ids.iter().zip(&fleet) {
            exec.on_in_flight(id.as_str(), in_flight, t0).unwrap();
            if unhealthy {
                for _ in 0..3 {
                    exec.on_check(id.as_str(), CheckOutcome::Failure, Duration::from_millis(1), t0).unwrap();
                }
            }
        }
        exec.set_desired(keep as u32, "test", t0).unwrap();
        let drained: Vec<NodeId> = std::iter::from_fn(|| exec.poll_action())
            .filter_map(|a| match a {
                Action::Drain { id } => Some(id),
                _ => None,
            })
            .collect();
        let mut expected: Vec<(bool, u32, NodeId)> = ids
            .iter()
            .zip(&fleet)
            .map(|(id, &(in_flight, unhealthy))| (!unhealthy, in_flight, id.clone()))
            .collect();
        expected.sort();
        let expected: Vec<NodeId> = expected
            .into_iter()
            .take(fleet.len() - keep)
            .map(|(_, _, id)| id)
            .collect();
        prop_assert_eq!(drained, expected);
    }
}
