//! Every config and report of the picking side round-trips through JSON.
#![cfg(feature = "serde")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use ha_balance::{
    AffinityConfig, AffinityPick, DrainEnd, Drained, Endpoint, EndpointSetConfig, GeoPoint,
    PeakEwmaConfig, Region, RegionChoice, RegionRouterConfig, RegionStrategy, RepickReason,
    RequestOutcome, Stickiness, Unmeasured,
};
use ha_core::{Health, NodeId};
use serde::Serialize;
use serde::de::DeserializeOwned;

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(value: &T) -> String {
    let json = serde_json::to_string(value).unwrap();
    let back: T = serde_json::from_str(&json).unwrap();
    assert_eq!(&back, value, "{json}");
    json
}

#[test]
fn configs_and_reports_round_trip_through_json() {
    let id = NodeId::new("api-1").unwrap();
    round_trip(&EndpointSetConfig {
        drain_timeout: Duration::from_secs(30),
        slow_start: Duration::from_secs(60),
    });
    round_trip(&PeakEwmaConfig {
        decay: Duration::from_secs(5),
        unmeasured: Unmeasured::DefaultRtt(Duration::from_millis(30)),
    });
    round_trip(&AffinityConfig::default());
    round_trip(&RegionRouterConfig::default());
    let json = round_trip(
        &Endpoint::new(id.clone())
            .with_weight(3)
            .with_health(Health::Degraded),
    );
    assert!(json.contains(r#""health":"degraded""#), "{json}");
    round_trip(&RequestOutcome::Failure);
    let json = round_trip(&Drained {
        id: id.clone(),
        end: DrainEnd::TimedOut,
        elapsed: Duration::from_secs(300),
        abandoned: 2,
    });
    assert!(json.contains(r#""end":"timed_out""#), "{json}");
    round_trip(&AffinityPick {
        endpoint: id.clone(),
        stickiness: Stickiness::Repicked {
            previous: id,
            reason: RepickReason::Draining,
        },
    });
    let point = GeoPoint::new(48.86, 2.35).unwrap();
    round_trip(&Region::new("eu-west", point));
    round_trip(&RegionStrategy::Nearest(point));
    round_trip(&RegionChoice {
        region: "eu-west".into(),
        failover: 1,
        distance_km: Some(12.5),
        latency: None,
    });
}
