//! One resource's outlook: its forecast, growth, seasonal peak and when it runs out.
//!
//! A capacity keeps a reserve for spikes — 30% by default — so a resource "runs out" when the
//! forecast reaches `capacity × (1 − headroom_ratio)`, the usable capacity. The expected date is
//! where the point forecast reaches it, the earliest where the upper 95% band does, the latest
//! where the lower 95% band does; the confidence is the probability that demand exceeds the
//! usable capacity at the worst step of the horizon, from the normal approximation of the bands.

use std::time::Duration;

use crate::error::{Error, Result, in_range, positive};
use crate::interval::{Z_95, normal_cdf};
use crate::model_selection::select_among;
use crate::{CapacityResource, Forecast, ModelSpec, SelectionConfig, TimeSeries};

/// Seconds in a mean Gregorian year (365.2425 days).
pub const SECONDS_PER_YEAR: f64 = 365.2425 * 86_400.0;

/// How far and how cautiously to plan.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CapacityConfig {
    /// The reserve kept free for spikes, as a ratio of capacity in `[0, 1)`; default 0.3.
    pub headroom_ratio: f64,
    /// How far ahead to forecast; default one mean Gregorian year (365.2425 days), so a year's
    /// cost projection fits in it.
    pub horizon: Duration,
    /// Seconds per unit of the series' timestamps (1 for Unix seconds, the default; 3600 for
    /// hour numbers).
    pub seconds_per_unit: f64,
    /// Model choice; default [`SelectionConfig::default`] (no season). For a horizon longer
    /// than the data, [`forecast_resource`] leaves out undamped trends and scores on a hold-out
    /// instead of AICc (see there).
    pub selection: SelectionConfig,
}

impl Default for CapacityConfig {
    fn default() -> Self {
        Self {
            headroom_ratio: 0.3,
            horizon: Duration::from_secs(31_556_952),
            seconds_per_unit: 1.0,
            selection: SelectionConfig::default(),
        }
    }
}

impl CapacityConfig {
    /// Checks the settings: headroom in `[0, 1)`, a positive horizon and unit, a valid selection.
    pub fn validate(&self) -> Result<()> {
        in_range("headroom_ratio", self.headroom_ratio, 0.0, 1.0, "[0, 1)")?;
        if self.headroom_ratio >= 1.0 {
            return Err(ha_core::Error::OutOfRange {
                name: "headroom_ratio",
                value: self.headroom_ratio,
                range: "[0, 1)",
            }
            .into());
        }
        if self.horizon.is_zero() {
            return Err(ha_core::Error::Zero { name: "horizon" }.into());
        }
        positive("seconds_per_unit", self.seconds_per_unit)?;
        self.selection.validate()
    }
}

/// A resource's measured use and its capacity, in the same unit.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ResourceUsage {
    /// Which resource.
    pub resource: CapacityResource,
    /// Its use over time, evenly spaced.
    pub series: TimeSeries,
    /// The capacity provisioned, in the series' unit; positive.
    pub capacity: f64,
}

/// When a resource reaches its usable capacity, in the series' time unit.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Exhaustion {
    /// Where the point forecast first reaches the usable capacity; `None` within the horizon.
    pub expected: Option<i64>,
    /// Where the upper 95% band first reaches it (the pessimistic date).
    pub earliest: Option<i64>,
    /// Where the lower 95% band first reaches it (the optimistic date).
    pub latest: Option<i64>,
    /// The probability, in `[0, 1]`, that demand exceeds the usable capacity at the horizon's
    /// worst step.
    pub confidence: f64,
}

/// One resource's outlook.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ResourceForecast {
    /// Which resource.
    pub resource: CapacityResource,
    /// The capacity provisioned.
    pub capacity: f64,
    /// `capacity × (1 − headroom_ratio)`.
    pub usable: f64,
    /// The model chosen.
    pub model: ModelSpec,
    /// The forecast over the horizon.
    pub forecast: Forecast,
    /// The step between points, in seconds.
    pub step_seconds: f64,
    /// The deseasonalised level now.
    pub current_level: f64,
    /// Deseasonalised growth over the next year, as a ratio (0.2 = +20%); `None` when the level
    /// now is not positive.
    pub yearly_growth_ratio: Option<f64>,
    /// The seasonal peak over the season's mean (2.0 = peaks twice the average), over the first
    /// season of the forecast; 1 without a season.
    pub peak_factor: f64,
    /// When the usable capacity is reached.
    pub exhaustion: Exhaustion,
}

/// Forecasts one resource: picks a model by `config.selection`, forecasts the horizon and
/// derives growth, peak factor and exhaustion.
///
/// When the horizon is longer than the data, model choice is made for capacity planning rather
/// than for the next step:
/// - the undamped Holt and Holt-Winters candidates are not offered (unless
///   `selection.damped` is false): a one-step criterion picks them on high-frequency data and
///   they carry the last few steps' slope over the whole horizon;
/// - with the default [`Criterion::Aicc`](crate::Criterion::Aicc), candidates are scored on a
///   hold-out instead — one season when the series holds four or more, else the last quarter
///   of the series — and the winner is refitted on the whole series (AICc again if no
///   candidate can be fitted without the window).
///
/// A flat daily-seasonal series of minutes thus gets no growth and no exhaustion, where AICc
/// alone chose undamped Holt and reported an exhaustion within two days.
///
/// ```
/// use std::time::Duration;
/// use ha_scale::{CapacityConfig, CapacityResource, ResourceUsage, TimeSeries, forecast_resource};
///
/// // Daily storage use, 200 days growing 1 GB a day from 300 GB, on a 1 000 GB volume.
/// let day = 86_400;
/// let used: Vec<f64> = (0..200).map(|d| 300.0 + d as f64 + (d % 3) as f64).collect();
/// let usage = ResourceUsage {
///     resource: CapacityResource::Storage,
///     series: TimeSeries::regular(0, day, used)?,
///     capacity: 1000.0,
/// };
/// let outlook = forecast_resource(&usage, &CapacityConfig::default())?;
/// assert_eq!(outlook.usable, 700.0); // 30% kept free
/// // 700 GB is reached about 200 days after the last point.
/// let expected_days = (outlook.exhaustion.expected.unwrap() - 199 * day) / day;
/// assert!((195..=205).contains(&expected_days), "{expected_days}");
/// assert!(outlook.exhaustion.confidence > 0.9);
/// # Ok::<(), ha_scale::Error>(())
/// ```
///
/// # Errors
/// Bad settings, a capacity that is not positive, or a series no model can be fitted to.
pub fn forecast_resource(
    usage: &ResourceUsage,
    config: &CapacityConfig,
) -> Result<ResourceForecast> {
    config.validate()?;
    positive("capacity", usage.capacity)?;
    let step_seconds = usage.series.step()? * config.seconds_per_unit;
    let horizon_steps = (config.horizon.as_secs_f64() / step_seconds)
        .ceil()
        .max(1.0);
    if horizon_steps > crate::MAX_HORIZON as f64 {
        return Err(ha_core::Error::TooLarge {
            name: "horizon steps",
            value: horizon_steps as u64,
            max: crate::MAX_HORIZON as u64,
        }
        .into());
    }
    let candidates = long_horizon_candidates(
        &config.selection,
        horizon_steps as usize,
        usage.series.len(),
    );
    let selection = match long_horizon_holdout(
        &config.selection,
        horizon_steps as usize,
        usage.series.len(),
    ) {
        // A hold-out too long for every candidate falls back to the configured criterion.
        Some(holdout) => select_among(&usage.series, &holdout, &candidates)
            .or_else(|_| select_among(&usage.series, &config.selection, &candidates))?,
        None => select_among(&usage.series, &config.selection, &candidates)?,
    };
    let model = selection.model;
    let forecast = model.forecast(horizon_steps as usize)?;
    let usable = usage.capacity * (1.0 - config.headroom_ratio);

    let current_level = model.trend_ahead(0);
    let steps_per_year = (SECONDS_PER_YEAR / step_seconds).round().max(1.0) as usize;
    let yearly_growth_ratio = (current_level > 0.0)
        .then(|| model.trend_ahead(steps_per_year) / current_level - 1.0)
        .filter(|g| g.is_finite());

    // The peak factor of the chosen model's season; a model without one has none (its trend
    // over the first "season" of the forecast is not a seasonal peak).
    let peak_factor = match config
        .selection
        .season_length
        .filter(|_| model.seasonal_factors().is_some())
    {
        Some(m) => {
            let season = model.forecast(m)?;
            let means = season.means();
            let avg = means.iter().sum::<f64>() / means.len() as f64;
            let peak = means.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if avg > 0.0 { peak / avg } else { 1.0 }
        }
        None => 1.0,
    };

    let first = |f: &dyn Fn(&crate::ForecastPoint) -> bool| {
        forecast.points.iter().find(|p| f(p)).map(|p| p.time)
    };
    let confidence = forecast
        .points
        .iter()
        .map(|p| {
            let sd = (p.p95.upper - p.mean) / Z_95;
            if sd > 0.0 {
                1.0 - normal_cdf((usable - p.mean) / sd)
            } else if p.mean >= usable {
                1.0
            } else {
                0.0
            }
        })
        .fold(0.0, f64::max);
    let exhaustion = Exhaustion {
        expected: first(&|p| p.mean >= usable),
        earliest: first(&|p| p.p95.upper >= usable),
        latest: first(&|p| p.p95.lower >= usable),
        confidence,
    };
    tracing::debug!(
        resource = %usage.resource,
        model = model.spec().name(),
        capacity = usage.capacity,
        usable,
        current_level,
        ?yearly_growth_ratio,
        peak_factor,
        expected = ?exhaustion.expected,
        earliest = ?exhaustion.earliest,
        confidence,
        "resource forecast"
    );
    Ok(ResourceForecast {
        resource: usage.resource,
        capacity: usage.capacity,
        usable,
        model: model.spec(),
        forecast,
        step_seconds,
        current_level,
        yearly_growth_ratio,
        peak_factor,
        exhaustion,
    })
}

/// The candidates for a capacity forecast `horizon_steps` ahead of a series of `points`.
///
/// AICc (and any one-step score) rewards the model that best follows the *local* level and
/// slope, which on high-frequency data is undamped Holt (or undamped Holt-Winters): it then
/// carries the slope of the last few steps over the whole horizon, and a flat daily-seasonal
/// series of minutes gets a yearly growth of thousands of percent and a false exhaustion within
/// days. So when the horizon is longer than the data and damped candidates are allowed, the
/// undamped smoothing candidates are left out: a damped trend levels off (at most `φ / (1 − φ)`
/// = 49 steps of the current slope with `φ ≤ 0.98`), and the linear trend, whose slope is
/// estimated from the whole series, stays. Over a horizon within the data every candidate
/// stays. With `damped: false` the caller asked for undamped trends and gets them.
fn long_horizon_candidates(
    selection: &SelectionConfig,
    horizon_steps: usize,
    points: usize,
) -> Vec<ModelSpec> {
    let all = selection.candidates();
    if !selection.damped || horizon_steps <= points {
        return all;
    }
    let kept: Vec<ModelSpec> = all
        .into_iter()
        .filter(|spec| {
            !matches!(
                spec,
                ModelSpec::Holt { damped: false } | ModelSpec::HoltWinters { damped: false, .. }
            )
        })
        .collect();
    tracing::debug!(
        horizon_steps,
        points,
        candidates = kept.len(),
        "horizon longer than the data: undamped smoothing candidates left out"
    );
    kept
}

/// The hold-out selection that replaces AICc for a horizon longer than the data.
///
/// AICc scores one-step errors only, which says little about a forecast many seasons ahead;
/// the error forecasting a held-back window does. The window is one season when the series holds
/// at least one more season than Holt-Winters needs, else the last quarter of the series. An
/// explicit [`Criterion::Holdout`](crate::Criterion::Holdout), or a horizon within the data,
/// keeps the configured criterion (`None`).
fn long_horizon_holdout(
    selection: &SelectionConfig,
    horizon_steps: usize,
    points: usize,
) -> Option<SelectionConfig> {
    if selection.criterion != crate::Criterion::Aicc || horizon_steps <= points {
        return None;
    }
    let window = match selection.season_length {
        Some(m) if points / m.max(1) > crate::holt_winters::HW_MIN_SEASONS => m,
        _ => (points / 4).max(1),
    };
    tracing::debug!(
        horizon_steps,
        points,
        window,
        "horizon longer than the data: candidates scored on a hold-out"
    );
    Some(SelectionConfig {
        criterion: crate::Criterion::Holdout { points: window },
        ..*selection
    })
}

/// Forecasts several resources, each at most once.
///
/// # Errors
/// [`Error::DuplicateResource`], or the first resource's error from [`forecast_resource`].
pub fn forecast_resources(
    usages: &[ResourceUsage],
    config: &CapacityConfig,
) -> Result<Vec<ResourceForecast>> {
    let mut seen = std::collections::BTreeSet::new();
    for u in usages {
        if !seen.insert(u.resource) {
            return Err(Error::DuplicateResource(u.resource));
        }
    }
    usages
        .iter()
        .map(|u| forecast_resource(u, config))
        .collect()
}
