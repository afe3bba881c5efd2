//! The scaling executor end to end: rollouts at the budgets' pace, the victims' order, drains
//! that wait for in-flight work (fed by ha-balance's endpoint set), warm-up with the
//! autoscaler, the history, bad input, and the async provider.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use ha_balance::{DrainEnd, Endpoint, EndpointSet, EndpointSetConfig};
use ha_core::{CheckOutcome, NodeId};
use ha_scale::{
    Action, Autoscaler, AutoscalerConfig, Budget, Error, Executor, ExecutorConfig, HistoryEvent,
    InstanceState, LifecycleConfig, MetricSpec, MetricValue, Observation, Pod, RolloutStrategy,
    ValueTarget,
};

const MS: Duration = Duration::from_millis(3);

fn ids(names: &[&str]) -> Vec<NodeId> {
    names.iter().map(|n| NodeId::new(n).unwrap()).collect()
}

fn drain_actions(exec: &mut Executor) -> Vec<Action> {
    std::iter::from_fn(|| exec.poll_action()).collect()
}

/// Plays a provider and balancer that do what they are asked at once; returns the actions
/// seen, and checks the budget after each one.
fn cooperate(exec: &mut Executor, now: Instant, watch: &mut Watch) -> Vec<Action> {
    let mut seen = Vec::new();
    while let Some(action) = exec.poll_action() {
        let id = action.id().to_string();
        match &action {
            Action::Create { .. } => {
                exec.on_created(&id, now).unwrap();
                exec.on_check(&id, CheckOutcome::Success, MS, now).unwrap();
                exec.on_check(&id, CheckOutcome::Success, MS, now).unwrap();
            }
            Action::Register { .. } => exec.on_registered(&id, now).unwrap(),
            Action::Drain { .. } => exec.on_in_flight(&id, 0, now).unwrap(),
            Action::Deregister { .. } => {}
            Action::Destroy { .. } => exec.on_destroyed(&id, now).unwrap(),
        }
        watch.see(exec);
        seen.push(action);
    }
    seen
}

#[derive(Default)]
struct Watch {
    most_existing: u32,
    least_available: Option<u32>,
}

impl Watch {
    fn see(&mut self, exec: &Executor) {
        self.most_existing = self.most_existing.max(exec.existing_replicas());
        let available = exec.available_replicas();
        self.least_available = Some(self.least_available.map_or(available, |a| a.min(available)));
    }
}

#[test]
fn a_rollout_with_surge_one_and_no_unavailable_replaces_one_instance_at_a_time() {
    let now = Instant::now();
    let config = ExecutorConfig {
        strategy: RolloutStrategy::Rolling {
            max_surge: Budget::Count(1),
            max_unavailable: Budget::Count(0),
        },
        ..ExecutorConfig::default()
    };
    let mut exec = Executor::adopting(config, ids(&["a", "b", "c"]), now).unwrap();
    exec.roll_out(2, "new image", now).unwrap();
    let first = drain_actions(&mut exec);
    assert_eq!(
        first,
        vec![Action::Create {
            id: NodeId::new("instance-1").unwrap(),
            revision: 2
        }]
    );
    // Re-queue by confirming the create by hand, then let the rest run.
    let mut watch = Watch::default();
    exec.on_created("instance-1", now).unwrap();
    exec.on_check("instance-1", CheckOutcome::Success, MS, now)
        .unwrap();
    exec.on_check("instance-1", CheckOutcome::Success, MS, now)
        .unwrap();
    let seen = cooperate(&mut exec, now, &mut watch);
    assert!(watch.most_existing <= 4, "surge 1 over 3");
    assert!(watch.least_available.unwrap() >= 3, "no unavailability");
    let creates = seen
        .iter()
        .filter(|a| matches!(a, Action::Create { .. }))
        .count();
    assert_eq!(creates, 2);
    assert!(
        exec.instances()
            .all(|r| r.revision == 2 && r.lifecycle.state() == InstanceState::Serving)
    );
    assert_eq!(exec.existing_replicas(), 3);
}

#[test]
fn percent_budgets_round_as_kubernetes_rounds_them() {
    let now = Instant::now();
    // 25% of 10: surge 3 (2.5 up), unavailable 2 (2.5 down).
    let names: Vec<String> = (0..10).map(|i| format!("old-{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut exec = Executor::adopting(ExecutorConfig::default(), ids(&refs), now).unwrap();
    assert_eq!(exec.budgets(), (3, 2));
    exec.roll_out(1, "new image", now).unwrap();
    let actions = drain_actions(&mut exec);
    let creates = actions
        .iter()
        .filter(|a| matches!(a, Action::Create { .. }))
        .count();
    let drains = actions
        .iter()
        .filter(|a| matches!(a, Action::Drain { .. }))
        .count();
    assert_eq!((creates, drains), (3, 2));
    assert_eq!(exec.existing_replicas(), 13);
    assert_eq!(exec.available_replicas(), 8);
}

#[test]
fn scale_down_retires_the_unhealthy_then_the_least_loaded_and_waits_for_their_drains() {
    let t0 = Instant::now();
    let mut exec =
        Executor::adopting(ExecutorConfig::default(), ids(&["a", "b", "c", "d"]), t0).unwrap();
    for (id, n) in [("a", 5), ("b", 1), ("c", 3), ("d", 2)] {
        exec.on_in_flight(id, n, t0).unwrap();
    }
    for i in 0..3 {
        exec.on_check("c", CheckOutcome::Failure, MS, t0 + Duration::from_secs(i))
            .unwrap();
    }
    let t1 = t0 + Duration::from_secs(10);
    exec.set_desired(2, "quiet night", t1).unwrap();
    assert_eq!(
        drain_actions(&mut exec),
        vec![
            Action::Drain {
                id: NodeId::new("c").unwrap()
            },
            Action::Drain {
                id: NodeId::new("b").unwrap()
            },
        ]
    );
    // b finishes its request: deregistered, then destroyed.
    exec.on_in_flight("b", 0, t1 + Duration::from_secs(4))
        .unwrap();
    assert_eq!(
        drain_actions(&mut exec),
        vec![
            Action::Deregister {
                id: NodeId::new("b").unwrap()
            },
            Action::Destroy {
                id: NodeId::new("b").unwrap()
            },
        ]
    );
    exec.on_destroyed("b", t1 + Duration::from_secs(9)).unwrap();
    // c keeps its three requests: nothing until the 300 s drain timeout.
    assert_eq!(exec.poll_timeout(), Some(t1 + Duration::from_secs(300)));
    exec.handle_timeout(t1 + Duration::from_secs(299)).unwrap();
    assert!(drain_actions(&mut exec).is_empty());
    exec.handle_timeout(t1 + Duration::from_secs(300)).unwrap();
    let after = drain_actions(&mut exec);
    assert!(after.contains(&Action::Destroy {
        id: NodeId::new("c").unwrap()
    }));
    assert_eq!(
        exec.instance("c").unwrap().drain_end(),
        Some(DrainEnd::TimedOut)
    );
    // The reason names the state, the health and the load.
    let reasons: Vec<&str> = exec
        .history()
        .filter(|e| {
            matches!(
                e.event,
                HistoryEvent::Transition {
                    to: InstanceState::Draining,
                    ..
                }
            )
        })
        .map(|e| e.reason.as_str())
        .collect();
    assert_eq!(
        reasons,
        vec![
            "scale down: 4 live above 2 desired; retiring a serving instance, health Unhealthy, 3 in flight",
            "scale down: 4 live above 2 desired; retiring a serving instance, health Healthy, 1 in flight",
        ]
    );
}

#[test]
fn ha_balance_endpoint_set_drives_the_drain() {
    let t0 = Instant::now();
    let members = ids(&["a", "b"]);
    let mut set = EndpointSet::new(
        members.iter().cloned().map(Endpoint::new).collect(),
        EndpointSetConfig::default(),
    )
    .unwrap();
    let mut exec = Executor::adopting(ExecutorConfig::default(), members, t0).unwrap();
    for (id, n) in [("a", 2), ("b", 1)] {
        for _ in 0..n {
            set.on_start(id).unwrap();
        }
        exec.on_in_flight(id, n, t0).unwrap();
    }
    exec.set_desired(1, "less load", t0).unwrap();
    for action in drain_actions(&mut exec) {
        if let Action::Drain { id } = action {
            set.drain(id.as_str(), t0).unwrap();
        }
    }
    assert!(set.is_draining("b") && !set.is_draining("a"));
    assert!(set.poll_drained(t0).is_none());
    set.on_end("b").unwrap();
    let drained = set.poll_drained(t0 + Duration::from_secs(2)).unwrap();
    exec.on_drained(&drained, t0 + Duration::from_secs(2))
        .unwrap();
    assert_eq!(
        drain_actions(&mut exec),
        vec![
            Action::Deregister {
                id: NodeId::new("b").unwrap()
            },
            Action::Destroy {
                id: NodeId::new("b").unwrap()
            }
        ]
    );
    exec.on_destroyed("b", t0 + Duration::from_secs(5)).unwrap();
    assert!(exec.instance("b").is_none());
    assert_eq!(exec.available_replicas(), 1);
}

#[test]
fn warm_up_keeps_the_autoscaler_from_overshooting() {
    let t0 = Instant::now();
    let config = AutoscalerConfig {
        min_replicas: 1,
        max_replicas: 20,
        metrics: vec![MetricSpec::Object {
            name: "fleet_utilization".into(),
            target: ValueTarget::Value(0.7),
        }],
        ..AutoscalerConfig::default()
    };
    let mut hpa = Autoscaler::new(config.clone()).unwrap();
    let mut naive = Autoscaler::new(config).unwrap();
    let mut exec = Executor::adopting(ExecutorConfig::default(), ids(&["a", "b"]), t0).unwrap();

    // The two serving instances run at twice the target: four are needed.
    let hot = vec![MetricValue::Object(1.4)];
    let first = hpa.decide(t0, &exec.observation(hot.clone())).unwrap();
    assert_eq!(first.desired_replicas, 4);
    let _ = naive.decide(t0, &exec.observation(hot.clone())).unwrap();
    exec.apply(&first, t0).unwrap();
    let created: Vec<String> = drain_actions(&mut exec)
        .iter()
        .map(|a| a.id().to_string())
        .collect();
    assert_eq!(created.len(), 2);
    let t1 = t0 + Duration::from_secs(15);
    for id in &created {
        exec.on_created(id, t1).unwrap();
    }

    // 15 s later the new instances are still booting and the load is unchanged. Fed the
    // executor's view (2 ready of 4), the autoscaler holds at 4.
    assert_eq!(exec.available_replicas(), 2);
    let held = hpa.decide(t1, &exec.observation(hot.clone())).unwrap();
    assert_eq!(held.desired_replicas, 4);
    // Counting the booting instances as capacity doubles again: the overshoot warm-up avoids.
    let all_ready: Vec<Pod> = ["a", "b"]
        .iter()
        .map(|n| n.to_string())
        .chain(created.iter().cloned())
        .map(|n| Pod::running(n, t0))
        .collect();
    let overshoot = naive
        .decide(t1, &Observation::new(4, all_ready, hot))
        .unwrap();
    assert_eq!(overshoot.desired_replicas, 8);

    // Once the new instances serve, the load spreads and the count holds.
    let t2 = t1 + Duration::from_secs(30);
    for id in &created {
        exec.on_check(id, CheckOutcome::Success, MS, t2).unwrap();
        exec.on_check(id, CheckOutcome::Success, MS, t2).unwrap();
        exec.on_registered(id, t2).unwrap();
    }
    assert_eq!(exec.available_replicas(), 4);
    let settled = hpa
        .decide(t2, &exec.observation(vec![MetricValue::Object(0.7)]))
        .unwrap();
    assert_eq!(settled.desired_replicas, 4);
}

#[test]
fn a_failed_create_is_replaced_and_the_history_says_why() {
    let t0 = Instant::now();
    let mut exec = Executor::new(ExecutorConfig::default(), t0).unwrap();
    exec.set_desired(1, "launch", t0).unwrap();
    let first = drain_actions(&mut exec);
    let id = first[0].id().to_string();
    exec.on_create_failed(&id, "quota exceeded", t0 + Duration::from_secs(3))
        .unwrap();
    let next = drain_actions(&mut exec);
    assert!(next.contains(&Action::Destroy {
        id: NodeId::new(&id).unwrap()
    }));
    assert!(
        next.iter()
            .any(|a| matches!(a, Action::Create { id: new, .. } if new.as_str() != id))
    );
    let reasons: Vec<String> = exec
        .history()
        .map(|e| format!("{:?}: {}", e.at, e.reason))
        .collect();
    assert_eq!(reasons[0], "0ns: launch");
    assert!(
        reasons
            .iter()
            .any(|r| r.ends_with("failed: create failed: quota exceeded; to be replaced"))
    );
    assert!(
        reasons
            .iter()
            .any(|r| r
                .ends_with("0 live of 1 desired at revision 0; 1 exist, surge 1 allows 1 more"))
    );
}

#[test]
fn a_stuck_start_is_replaced_after_the_ready_timeout() {
    let t0 = Instant::now();
    let mut exec = Executor::new(ExecutorConfig::default(), t0).unwrap();
    exec.set_desired(1, "launch", t0).unwrap();
    let id = drain_actions(&mut exec)[0].id().to_string();
    exec.on_created(&id, t0).unwrap();
    assert_eq!(exec.poll_timeout(), Some(t0 + Duration::from_secs(300)));
    exec.handle_timeout(t0 + Duration::from_secs(300)).unwrap();
    let actions = drain_actions(&mut exec);
    assert_eq!(actions.len(), 2, "{actions:?}");
    assert_eq!(exec.instance(&id).unwrap().state(), InstanceState::Failed);
    assert_eq!(exec.live_replicas(), 1);
}

#[test]
fn bad_input_gets_typed_errors() {
    let t0 = Instant::now();
    let too_unavailable = ExecutorConfig {
        strategy: RolloutStrategy::Rolling {
            max_surge: Budget::Count(1),
            max_unavailable: Budget::Percent(150),
        },
        ..ExecutorConfig::default()
    };
    assert_eq!(
        Executor::new(too_unavailable, t0).unwrap_err().to_string(),
        "max unavailable percent must be in [0, 100], got 150"
    );
    let zero_drain = ExecutorConfig {
        lifecycle: LifecycleConfig {
            drain_timeout: Duration::ZERO,
            ..LifecycleConfig::default()
        },
        ..ExecutorConfig::default()
    };
    assert_eq!(
        Executor::new(zero_drain, t0).unwrap_err().to_string(),
        "drain timeout must be greater than zero"
    );
    let no_prefix = ExecutorConfig {
        name_prefix: String::new(),
        ..ExecutorConfig::default()
    };
    assert!(Executor::new(no_prefix, t0).is_err());
    assert_eq!(
        Executor::adopting(ExecutorConfig::default(), ids(&["a", "a"]), t0).unwrap_err(),
        Error::DuplicateInstance("a".into())
    );

    let mut exec = Executor::adopting(ExecutorConfig::default(), ids(&["a"]), t0).unwrap();
    assert_eq!(
        exec.on_registered("ghost", t0).unwrap_err(),
        Error::UnknownInstance("ghost".into())
    );
    assert_eq!(
        exec.on_registered("a", t0).unwrap_err().to_string(),
        "instance a cannot take registered while serving"
    );
    assert_eq!(
        exec.set_desired(20_000, "too many", t0)
            .unwrap_err()
            .to_string(),
        "desired replicas is 20000, above the limit of 10000"
    );
    exec.set_desired(2, "grow", t0 + Duration::from_secs(5))
        .unwrap();
    assert!(matches!(
        exec.set_desired(1, "late", t0).unwrap_err(),
        Error::Core(ha_core::Error::OutOfOrder { .. })
    ));
    let new_id = drain_actions(&mut exec)[0].id().to_string();
    exec.on_created(&new_id, t0 + Duration::from_secs(6))
        .unwrap();
    assert_eq!(
        exec.on_in_flight(&new_id, 2, t0 + Duration::from_secs(6))
            .unwrap_err()
            .to_string(),
        format!("instance {new_id} cannot take work in flight while starting")
    );
    exec.check_invariants();
}

#[test]
fn one_at_a_time_scales_up_one_instance_after_another() {
    let t0 = Instant::now();
    let config = ExecutorConfig {
        strategy: RolloutStrategy::OneAtATime,
        ..ExecutorConfig::default()
    };
    let mut exec = Executor::new(config, t0).unwrap();
    exec.set_desired(3, "launch", t0).unwrap();
    let mut watch = Watch::default();
    let mut rounds = 0;
    loop {
        let actions = drain_actions(&mut exec);
        let creates: Vec<_> = actions
            .iter()
            .filter(|a| matches!(a, Action::Create { .. }))
            .collect();
        assert!(creates.len() <= 1);
        if actions.is_empty() {
            break;
        }
        for action in actions {
            let id = action.id().to_string();
            match action {
                Action::Create { .. } => {
                    assert_eq!(exec.existing_replicas(), exec.available_replicas() + 1);
                    exec.on_created(&id, t0).unwrap();
                    exec.on_check(&id, CheckOutcome::Success, MS, t0).unwrap();
                    exec.on_check(&id, CheckOutcome::Success, MS, t0).unwrap();
                }
                Action::Register { .. } => exec.on_registered(&id, t0).unwrap(),
                other => panic!("unexpected {other:?}"),
            }
            watch.see(&exec);
        }
        rounds += 1;
    }
    assert_eq!(rounds, 6, "create, then register, three times");
    assert_eq!(exec.available_replicas(), 3);
}

#[cfg(feature = "serde")]
#[test]
fn configs_and_history_round_trip_through_serde() {
    let config = ExecutorConfig::default();
    let json = serde_json::to_string(&config).unwrap();
    assert_eq!(
        serde_json::from_str::<ExecutorConfig>(&json).unwrap(),
        config
    );
    let t0 = Instant::now();
    let mut exec = Executor::new(config, t0).unwrap();
    exec.set_desired(1, "launch", t0).unwrap();
    let entries: Vec<_> = exec.history().cloned().collect();
    let json = serde_json::to_string(&entries).unwrap();
    assert!(json.contains("\"desired_changed\""));
    let back: Vec<ha_scale::HistoryEntry> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, entries);
}

#[cfg(feature = "provider")]
mod provider {
    use std::collections::BTreeSet;
    use std::sync::Mutex;

    use async_trait::async_trait;

    use super::*;
    use ha_scale::{InstanceProvider, execute};

    /// A provider whose first create fails; it remembers what exists.
    #[derive(Default)]
    struct Cloud {
        creates: Mutex<u32>,
        running: Mutex<BTreeSet<String>>,
    }

    #[async_trait]
    impl InstanceProvider for Cloud {
        async fn create(&self, id: &NodeId, _revision: u64) -> Result<(), String> {
            let mut creates = self.creates.lock().unwrap();
            *creates += 1;
            if *creates == 1 {
                return Err("zone out of capacity".into());
            }
            self.running.lock().unwrap().insert(id.to_string());
            Ok(())
        }
        async fn register(&self, _: &NodeId) -> Result<(), String> {
            Ok(())
        }
        async fn drain(&self, _: &NodeId) -> Result<(), String> {
            Ok(())
        }
        async fn deregister(&self, _: &NodeId) -> Result<(), String> {
            Ok(())
        }
        async fn destroy(&self, id: &NodeId) -> Result<(), String> {
            self.running.lock().unwrap().remove(id.as_str());
            Ok(())
        }
    }

    #[test]
    fn the_async_provider_runs_the_actions_and_a_failed_create_is_replaced() {
        let t0 = Instant::now();
        let cloud = Cloud::default();
        let mut exec = Executor::new(ExecutorConfig::default(), t0).unwrap();
        exec.set_desired(2, "launch", t0).unwrap();
        for round in 0..10 {
            let now = t0 + Duration::from_secs(round);
            while let Some(action) = exec.poll_action() {
                let result = futures::executor::block_on(execute(&cloud, &action));
                exec.on_result(&result, now).unwrap();
            }
            let starting: Vec<String> = exec
                .instances()
                .filter(|r| r.lifecycle.state() == InstanceState::Starting)
                .map(|r| r.id.to_string())
                .collect();
            for id in starting {
                exec.on_check(&id, CheckOutcome::Success, MS, now).unwrap();
            }
        }
        assert_eq!(exec.available_replicas(), 2);
        assert_eq!(cloud.running.lock().unwrap().len(), 2);
        assert_eq!(*cloud.creates.lock().unwrap(), 3);
        assert!(
            exec.history()
                .any(|e| e.reason.contains("zone out of capacity"))
        );
    }
}
