//! Active health checks and passive outlier detection decide together which endpoints take
//! traffic, with the panic threshold as the backstop.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use ha_balance::{HealthSchedule, OutlierConfig, OutlierDetector, ResponseClass};
use ha_core::{CheckOutcome, HealthCheckConfig, NodeId};

fn ids(n: usize) -> Vec<NodeId> {
    (0..n)
        .map(|i| NodeId::new(format!("10.0.0.{i}")).unwrap())
        .collect()
}

#[test]
fn failed_checks_and_ejections_both_remove_endpoints_until_the_panic_threshold() {
    let endpoints = ids(10);
    let mut now = Instant::now();
    let mut checks = HealthSchedule::new(HealthCheckConfig::default()).unwrap();
    for id in &endpoints {
        checks.add_endpoint(id.clone()).unwrap();
    }
    let mut outliers = OutlierDetector::new(
        OutlierConfig {
            max_ejection_percent: 50,
            ..OutlierConfig::default()
        },
        endpoints.clone(),
        now,
    )
    .unwrap();

    // Three rounds of checks: endpoints 0..3 fail every check, the rest pass.
    for _ in 0..3 {
        for id in checks.due(now) {
            let failing = endpoints[..3].contains(&id);
            let outcome = if failing {
                CheckOutcome::Failure
            } else {
                CheckOutcome::Success
            };
            checks
                .record(&id, outcome, Duration::from_millis(10), now)
                .unwrap();
        }
        now += Duration::from_secs(30);
        let _ = outliers.handle_timeout(now);
    }
    let routable = outliers.routable_with(|id| checks.is_routable(id));
    assert!(!routable.panic);
    assert_eq!(routable.endpoints, endpoints[3..].to_vec());

    // Endpoints 3 and 4 answer five 500s in a row: ejected; 5 of 10 routable is not below 50%.
    for id in &endpoints[3..5] {
        for _ in 0..5 {
            outliers
                .record(id, ResponseClass::from_http_status(500), now)
                .unwrap();
        }
    }
    let routable = outliers.routable_with(|id| checks.is_routable(id));
    assert_eq!((routable.endpoints.len(), routable.panic), (5, false));

    // One more ejection leaves 4 of 10: panic, every endpoint is used.
    for _ in 0..5 {
        outliers
            .record(&endpoints[5], ResponseClass::GatewayError, now)
            .unwrap();
    }
    assert_eq!(outliers.ejected_count(), 3);
    let routable = outliers.routable_with(|id| checks.is_routable(id));
    assert!(routable.panic);
    assert_eq!(routable.endpoints, endpoints);
}
