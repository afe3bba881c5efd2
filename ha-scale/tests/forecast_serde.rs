//! Config and report types survive a JSON round trip.
#![cfg(feature = "serde")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ha_scale::{
    CapacityConfig, CapacityResource, FittedModel, Forecast, ModelSpec, ReplayConfig, ReplayReport,
    ResourceForecast, ResourceUsage, Seasonality, SelectionConfig, TargetUtilization, TimeSeries,
    forecast_resource, replay,
};

/// Serialises, reads back and serialises again: the same JSON (serde_json's default float parser
/// may differ from the original in the last bit, so values are compared through their text).
fn round_trip<T: serde::Serialize + serde::de::DeserializeOwned>(value: &T) {
    let json = serde_json::to_string(value).unwrap();
    let back: T = serde_json::from_str(&json).unwrap();
    let again = serde_json::to_string(&back).unwrap();
    let (a, b): (serde_json::Value, serde_json::Value) = (
        serde_json::from_str(&json).unwrap(),
        serde_json::from_str(&again).unwrap(),
    );
    assert_eq!(a, b);
}

#[test]
fn forecasts_models_and_reports_round_trip_through_json() {
    let values: Vec<f64> = (0..60)
        .map(|t| 100.0 + t as f64 + 10.0 * ((t % 6) as f64))
        .collect();
    let series = TimeSeries::regular(0, 3600, values).unwrap();
    let spec = ModelSpec::HoltWinters {
        season_length: 6,
        seasonality: Seasonality::Additive,
        damped: true,
    };
    let model: FittedModel = spec.fit(&series).unwrap();
    round_trip(&model);
    let forecast: Forecast = model.forecast(12).unwrap();
    round_trip(&forecast);
    let config = CapacityConfig {
        selection: SelectionConfig {
            season_length: Some(6),
            ..SelectionConfig::default()
        },
        ..CapacityConfig::default()
    };
    round_trip(&config);
    let usage = ResourceUsage {
        resource: CapacityResource::Cpu,
        series: series.clone(),
        capacity: 1000.0,
    };
    let outlook: ResourceForecast = forecast_resource(&usage, &config).unwrap();
    round_trip(&outlook);
    let report: ReplayReport = replay(
        &series,
        &ReplayConfig::default(),
        TargetUtilization::new(0.7, 1, 10).unwrap(),
    )
    .unwrap();
    round_trip(&report);
    round_trip(&ReplayConfig::default());
}
