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

/// A hand-edited model is refused when read back, with a typed error, instead of panicking later
/// in `forecast` (a season of 0 divided by zero, a short season indexed out of bounds).
#[test]
fn a_tampered_fitted_model_is_refused_on_deserialize_not_a_panic_in_forecast() {
    let values: Vec<f64> = (0..48).map(|t| 10.0 + (t % 4) as f64).collect();
    let series = TimeSeries::regular(0, 60, values).unwrap();
    let spec = ModelSpec::HoltWinters {
        season_length: 4,
        seasonality: Seasonality::Additive,
        damped: false,
    };
    let model = spec.fit(&series).unwrap();
    let json = serde_json::to_string(&model).unwrap();
    let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
    let edits: [(&str, serde_json::Value); 5] = [
        ("/inner/Smoothing/season_length", 0.into()),
        ("/spec/HoltWinters/season_length", 0.into()),
        ("/inner/Smoothing/n", 0.into()),
        ("/inner/Smoothing/state/season", serde_json::json!([1.0])),
        ("/inner/Smoothing/params/alpha", 7.0.into()),
    ];
    for (pointer, new) in edits {
        let mut bad = value.clone();
        *bad.pointer_mut(pointer).expect(pointer) = new;
        let err = serde_json::from_value::<FittedModel>(bad).unwrap_err();
        assert!(
            err.to_string().contains("not a valid fitted model"),
            "{pointer}: {err}"
        );
    }
    // Both season lengths at 0 together: the spec itself is refused.
    *value.pointer_mut("/inner/Smoothing/season_length").unwrap() = 0.into();
    *value
        .pointer_mut("/spec/HoltWinters/season_length")
        .unwrap() = 0.into();
    assert!(serde_json::from_value::<FittedModel>(value).is_err());
    // A linear model with no points is refused too.
    let line = ModelSpec::LinearTrend.fit(&series).unwrap();
    let mut value = serde_json::to_value(&line).unwrap();
    *value.pointer_mut("/inner/Linear/n").unwrap() = 0.into();
    assert!(serde_json::from_value::<FittedModel>(value).is_err());
}

/// Values so large that the least-squares sums overflow are refused with a typed error rather
/// than fitted "successfully" with NaN forecasts (review finding 5).
#[test]
fn an_overflowing_fit_is_a_typed_error_not_nan_forecasts() {
    let series = TimeSeries::regular(0, 60, vec![1e308; 4]).unwrap();
    assert!(matches!(
        ModelSpec::LinearTrend.fit(&series),
        Err(ha_scale::Error::FitFailed { .. })
    ));
}
