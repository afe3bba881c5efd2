//! What a fitted model says about the future: a point forecast with its bands, step by step.

use crate::{Interval, ModelSpec};

/// One step of a forecast.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ForecastPoint {
    /// Steps after the last observation (1 for the next point).
    pub horizon: usize,
    /// The timestamp, in the series' unit.
    pub time: i64,
    /// The point forecast (the conditional mean).
    pub mean: f64,
    /// The central 80% prediction band.
    pub p80: Interval,
    /// The central 95% prediction band.
    pub p95: Interval,
}

/// A forecast: the model that made it and one [`ForecastPoint`] per step ahead.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Forecast {
    /// The model that made it.
    pub model: ModelSpec,
    /// The steps, horizon 1 first.
    pub points: Vec<ForecastPoint>,
}

impl Forecast {
    /// The point forecasts, in order.
    pub fn means(&self) -> Vec<f64> {
        self.points.iter().map(|p| p.mean).collect()
    }
}
