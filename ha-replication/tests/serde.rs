//! Configs and reports round-trip through JSON; validated forms refuse bad input.
#![cfg(feature = "serde")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use ha_core::NodeId;
use ha_replication::{
    CatchUpConfig, CatchUpPlan, Epoch, EpochHistory, FailoverCandidate, FailoverPlan,
    FailoverPolicy, FailoverSelector, FailoverTargets, Fence, LagConfig, LagTracker, PerStage,
    PhiConfig, Position, ReplicaLag, Session, StepDurations,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(value: &T) {
    let json = serde_json::to_string(value).unwrap();
    let back: T = serde_json::from_str(&json).unwrap();
    assert_eq!(&back, value, "{json}");
}

#[test]
fn configs_and_reports_round_trip() {
    round_trip(&LagConfig::default());
    round_trip(&PhiConfig::default());
    round_trip(&CatchUpConfig::default());
    round_trip(&FailoverPolicy::default());
    round_trip(&FailoverTargets::default());
    round_trip(&StepDurations::default());
    round_trip(&Session::from_token(Position(7)));
    round_trip(&CatchUpPlan::Rewind {
        replica_at: Position(3),
        fork_at: Position(1),
        records_discarded: 2,
    });
    let mut fence = Fence::new();
    let _ = fence.admit(&NodeId::new("a").unwrap(), Epoch(4));
    round_trip(&fence);
    let mut history = EpochHistory::new(Epoch(1));
    history.on_promotion(Epoch(2), Position(10)).unwrap();
    round_trip(&history);

    let mut lag = LagTracker::new(LagConfig::default()).unwrap();
    let r = NodeId::new("r").unwrap();
    lag.add_replica(r.clone()).unwrap();
    let now = Instant::now();
    lag.on_primary_write(Position(10), now).unwrap();
    lag.on_replica_report(
        &r,
        PerStage::uniform(Position(5)),
        now + Duration::from_millis(3),
    )
    .unwrap();
    let report: ReplicaLag = lag.replica(&r, now + Duration::from_millis(3)).unwrap();
    round_trip(&report);

    let c = FailoverCandidate::new(r.clone(), Position(10))
        .with_health(ha_core::Health::Healthy)
        .with_lag(Duration::from_millis(3));
    round_trip(&c);
    let decision = FailoverSelector::new(FailoverPolicy::default())
        .unwrap()
        .choose(Position(10), &[c])
        .unwrap();
    round_trip(&decision);
    let plan = FailoverPlan::new(
        &NodeId::new("p").unwrap(),
        decision.promote.as_ref().unwrap(),
        Epoch(2),
        &[r],
        &StepDurations::default(),
        &FailoverTargets::default(),
    )
    .unwrap();
    round_trip(&plan);
}

#[test]
fn an_invalid_epoch_history_does_not_parse() {
    assert!(serde_json::from_str::<EpochHistory>("[]").is_err());
    assert!(serde_json::from_str::<EpochHistory>("[[2,0],[1,5]]").is_err());
    assert!(serde_json::from_str::<EpochHistory>("[[1,0],[2,5]]").is_ok());
}
