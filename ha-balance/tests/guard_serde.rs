//! Every guard config and report survives a serde round trip.
#![cfg(feature = "serde")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ha_balance::{
    AdaptiveAlgorithm, AdaptiveLimitConfig, CircuitBreakerConfig, ConcurrencyLimitConfig,
    KeyedLimiterConfig, OutlierConfig, PanicThreshold, RateLimitConfig, SlidingWindowKind,
    WhenFull,
};
use serde::{Serialize, de::DeserializeOwned};

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(value: T) {
    let json = serde_json::to_string(&value).unwrap();
    assert_eq!(serde_json::from_str::<T>(&json).unwrap(), value, "{json}");
}

#[test]
fn configs_round_trip() {
    round_trip(CircuitBreakerConfig::default());
    round_trip(CircuitBreakerConfig {
        sliding_window: SlidingWindowKind::TimeBased { seconds: 30 },
        max_wait_in_half_open: Some(std::time::Duration::from_secs(3)),
        ..Default::default()
    });
    round_trip(RateLimitConfig::default());
    round_trip(KeyedLimiterConfig {
        when_full: WhenFull::Reject,
        ..Default::default()
    });
    round_trip(ConcurrencyLimitConfig::default());
    round_trip(AdaptiveLimitConfig {
        algorithm: AdaptiveAlgorithm::gradient(),
        ..Default::default()
    });
    round_trip(OutlierConfig::default());
    round_trip(PanicThreshold::default());
}

#[test]
fn a_config_read_back_is_validated_like_one_built() {
    let json = r#"{"requests_per_second":0.0,"burst":10}"#;
    let config: RateLimitConfig = serde_json::from_str(json).unwrap();
    assert!(config.validate().is_err());
    assert!(serde_json::from_str::<PanicThreshold>("150.0").is_err());
    assert_eq!(
        serde_json::to_string(&PanicThreshold::default()).unwrap(),
        "50.0"
    );
}
