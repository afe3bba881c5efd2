//! # ha-scale — how much to run
//!
//! ha-scale decides how much capacity a service needs, now and ahead, as pure logic: it does
//! **no I/O**, keeps no clock and spawns nothing. Metrics come in as values, with their
//! timestamps; decisions and reports come out as values.
//!
//! ## Capacity forecasting
//!
//! | concern | types |
//! |---|---|
//! | the data | [`TimeSeries`] (strictly increasing timestamps, finite values, evenly spaced for the models) |
//! | models | [`ModelSpec`]: least-squares [`LinearTrend`](ModelSpec::LinearTrend), [`Holt`](ModelSpec::Holt) (damped or not), [`HoltWinters`](ModelSpec::HoltWinters) additive or multiplicative; fitted by minimising the one-step squared error |
//! | forecasts | [`FittedModel::forecast`] → [`Forecast`] with 80% / 95% [`Interval`]s |
//! | model choice | [`select_model`] by AICc or a held-back window ([`Criterion`]) |
//! | accuracy | [`smape`], [`seasonal_naive`] |
//! | per resource | [`forecast_resource`] → [`ResourceForecast`]: growth a year, seasonal peak factor, [`Exhaustion`] of the capacity less a 30% reserve |
//! | which runs out first | [`rank_bottlenecks`] → [`Bottleneck`]s |
//! | what it costs | [`project_cost`] over N months from a [`PriceModel`] |
//! | what a policy would have done | [`replay`] any [`ReplayPolicy`] over a demand trace → [`ReplayReport`] (replicas, SLO misses, over-provisioning, cost; CSV) |
//!
//! The smoothing models are written here rather than wrapped: the `augurs-ets` crate fits only
//! non-seasonal ETS models (its seasonal components are unimplemented, grafana/augurs#27).
//!
//! ```
//! use ha_scale::{SelectionConfig, TimeSeries, select_model, smape, seasonal_naive};
//!
//! // Four weeks of hourly requests per second: a daily cycle over slow growth.
//! let values: Vec<f64> = (0..24 * 28)
//!     .map(|t| {
//!         let hour = (t % 24) as f64;
//!         200.0 + 0.1 * t as f64 + 80.0 * (std::f64::consts::TAU * hour / 24.0).sin()
//!     })
//!     .collect();
//! let (history, last_day) = values.split_at(24 * 27);
//! let series = TimeSeries::regular(0, 3600, history.to_vec())?;
//! let config = SelectionConfig { season_length: Some(24), ..SelectionConfig::default() };
//! let chosen = select_model(&series, &config)?;
//! let forecast = chosen.model.forecast(24)?;
//! let ours = smape(last_day, &forecast.means()).unwrap();
//! let naive = smape(last_day, &seasonal_naive(history, 24, 24).unwrap()).unwrap();
//! assert!(ours < naive, "{ours} vs {naive}");
//! # Ok::<(), ha_scale::Error>(())
//! ```

mod accuracy;
mod bottleneck;
mod cost;
mod error;
mod forecast;
mod holt;
mod holt_winters;
mod interval;
mod linear;
mod model;
mod model_selection;
mod optimizer;
mod replay;
mod resource;
mod resource_forecast;
mod series;
mod smoothing;

pub use accuracy::{seasonal_naive, smape};
pub use bottleneck::{Bottleneck, rank_bottlenecks};
pub use cost::{CostProjection, MonthCost, Price, PriceModel, ResourceCost, project_cost};
pub use error::{Error, Result};
pub use forecast::{Forecast, ForecastPoint};
pub use holt_winters::Seasonality;
pub use interval::{Interval, Z_80, Z_95};
pub use model::{DEFAULT_SEED, FittedModel, MAX_HORIZON, MAX_SEASON_LENGTH, ModelSpec, Parameters};
pub use model_selection::{CandidateScore, Criterion, Selection, SelectionConfig, select_model};
pub use replay::{
    LoadObservation, ReplayConfig, ReplayPolicy, ReplayReport, ReplayStep, TargetUtilization,
    replay,
};
pub use resource::Resource;
pub use resource_forecast::{
    CapacityConfig, Exhaustion, ResourceForecast, ResourceUsage, SECONDS_PER_YEAR,
    forecast_resource, forecast_resources,
};
pub use series::TimeSeries;
