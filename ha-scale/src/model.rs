//! Which forecasting model to fit, and the fitted model that forecasts.

use crate::error::{Error, Result};
use crate::linear::{LINEAR_MIN_POINTS, LinearFit};
use crate::smoothing::{self, Components, SmoothingFit};
use crate::{Forecast, ForecastPoint, Interval, Seasonality, TimeSeries, holt, holt_winters};

/// The longest season accepted: a week of minutes (a year of hourly points, 8 760, fits).
pub const MAX_SEASON_LENGTH: usize = 10_080;
/// The longest forecast horizon accepted, in steps (a year of 30-second steps).
pub const MAX_HORIZON: usize = 1_051_920;
/// The seed of the simulated bands of [`FittedModel::forecast`].
pub const DEFAULT_SEED: u64 = 0x5eed_f0ca;

/// A forecasting model, before fitting.
///
/// ```
/// use ha_scale::{ModelSpec, Seasonality, TimeSeries};
///
/// // Three weeks of an hourly load with a daily swing and a slow rise.
/// let values: Vec<f64> = (0..24 * 21)
///     .map(|t| 100.0 + 0.05 * t as f64 + 20.0 * (t as f64 * std::f64::consts::TAU / 24.0).sin())
///     .collect();
/// let series = TimeSeries::regular(0, 3600, values)?;
/// let spec = ModelSpec::HoltWinters { season_length: 24, seasonality: Seasonality::Additive, damped: false };
/// let model = spec.fit(&series)?;
/// let forecast = model.forecast(24)?;
/// assert_eq!(forecast.points.len(), 24);
/// assert_eq!(forecast.points[0].time, 3600 * 24 * 21);
/// let expected = 100.0 + 0.05 * (24.0 * 21.0 + 6.0) + 20.0; // 6 h in: the daily peak
/// assert!((forecast.points[6].mean - expected).abs() < 1.0);
/// assert!(forecast.points[6].p95.contains(&forecast.points[6].p80));
/// # Ok::<(), ha_scale::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum ModelSpec {
    /// A least-squares straight line.
    LinearTrend,
    /// Holt's linear trend method; `damped` flattens the trend over the horizon.
    Holt {
        /// Whether the trend is damped by a fitted `φ ∈ [0.8, 0.98]`.
        damped: bool,
    },
    /// Holt-Winters: level, trend and a season of `season_length` steps.
    HoltWinters {
        /// Steps in one season (24 for a daily cycle of hourly points); at least 2.
        season_length: usize,
        /// Additive or multiplicative season.
        seasonality: Seasonality,
        /// Whether the trend is damped.
        damped: bool,
    },
}

impl ModelSpec {
    /// A short name (`"holt-winters additive damped"`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::LinearTrend => "linear trend",
            Self::Holt { damped: false } => "holt",
            Self::Holt { damped: true } => "holt damped",
            Self::HoltWinters {
                seasonality: Seasonality::Additive,
                damped: false,
                ..
            } => "holt-winters additive",
            Self::HoltWinters {
                seasonality: Seasonality::Additive,
                damped: true,
                ..
            } => "holt-winters additive damped",
            Self::HoltWinters {
                seasonality: Seasonality::Multiplicative,
                damped: false,
                ..
            } => "holt-winters multiplicative",
            Self::HoltWinters {
                seasonality: Seasonality::Multiplicative,
                damped: true,
                ..
            } => "holt-winters multiplicative damped",
        }
    }

    /// Checks the settings: a season of 2 to [`MAX_SEASON_LENGTH`] steps.
    pub fn validate(&self) -> Result<()> {
        if let Self::HoltWinters { season_length, .. } = *self {
            if season_length < 2 {
                return Err(ha_core::Error::OutOfRange {
                    name: "season_length",
                    value: season_length as f64,
                    range: "[2, 10080]",
                }
                .into());
            }
            if season_length > MAX_SEASON_LENGTH {
                return Err(ha_core::Error::TooLarge {
                    name: "season_length",
                    value: season_length as u64,
                    max: MAX_SEASON_LENGTH as u64,
                }
                .into());
            }
        }
        Ok(())
    }

    /// The fewest points the model can be fitted to.
    pub fn min_points(&self) -> usize {
        match *self {
            Self::LinearTrend => LINEAR_MIN_POINTS,
            Self::Holt { .. } => holt::HOLT_MIN_POINTS,
            Self::HoltWinters { season_length, .. } => {
                season_length.saturating_mul(holt_winters::HW_MIN_SEASONS)
            }
        }
    }

    /// Fits the model to an evenly spaced series, by least squares (the line) or by minimising
    /// the one-step squared error (the smoothing methods).
    ///
    /// # Errors
    /// Bad settings, a series shorter than [`ModelSpec::min_points`], uneven spacing, a value
    /// that is not positive for a multiplicative season, or no parameters with a finite error
    /// ([`Error::FitFailed`], also when values so large that the fit overflows leave a
    /// parameter, a state or the error not finite).
    pub fn fit(&self, series: &TimeSeries) -> Result<FittedModel> {
        self.validate()?;
        let y = series.values();
        let needed = self.min_points();
        if y.len() < needed {
            return Err(Error::SeriesTooShort {
                model: self.name(),
                needed,
                got: y.len(),
            });
        }
        let step = series.step()?;
        let inner = match *self {
            Self::LinearTrend => Inner::Linear(LinearFit::fit(y)),
            Self::Holt { damped } => {
                let init = holt::initial_state(y);
                let c = Components {
                    damped,
                    season: None,
                };
                Inner::Smoothing(
                    smoothing::fit(c, &init, y).ok_or(Error::FitFailed { model: self.name() })?,
                )
            }
            Self::HoltWinters {
                season_length,
                seasonality,
                damped,
            } => {
                if seasonality == Seasonality::Multiplicative {
                    if let Some((index, &value)) = y.iter().enumerate().find(|(_, v)| **v <= 0.0) {
                        return Err(Error::NonPositiveValue {
                            model: self.name(),
                            index,
                            value,
                        });
                    }
                }
                let init = holt_winters::initial_state(y, season_length, seasonality);
                let c = Components {
                    damped,
                    season: Some((season_length, seasonality)),
                };
                Inner::Smoothing(
                    smoothing::fit(c, &init, y).ok_or(Error::FitFailed { model: self.name() })?,
                )
            }
        };
        let model = FittedModel {
            spec: *self,
            inner,
            step,
            last_time: series.last_time(),
        };
        // Huge but finite values can overflow the sums into a NaN or infinite fit: refused
        // here rather than forecast as NaN.
        if let Err(e) = model.check() {
            tracing::debug!(model = self.name(), error = %e, "fit is not finite");
            return Err(Error::FitFailed { model: self.name() });
        }
        tracing::debug!(
            model = self.name(),
            points = y.len(),
            sse = model.sse(),
            aicc = model.aicc(),
            "forecasting model fitted"
        );
        Ok(model)
    }
}

/// The fitted parameters. Smoothing weights in error-correction form (`β` and `γ` as they
/// multiply the one-step error, Hyndman et al. 2008); `None` where the model has no such part.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Parameters {
    /// Level smoothing `α`.
    pub alpha: Option<f64>,
    /// Trend smoothing `β` (`α β*` in Holt's component form).
    pub beta: Option<f64>,
    /// Season smoothing `γ` (`(1 − α) γ*` in Holt-Winters' component form).
    pub gamma: Option<f64>,
    /// Trend damping `φ` (damped models).
    pub phi: Option<f64>,
    /// The current change per step of the deseasonalised series: the line's slope or the
    /// smoothed trend.
    pub slope: f64,
}

#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
enum Inner {
    Linear(LinearFit),
    Smoothing(SmoothingFit),
}

/// A model fitted to a series: forecasts with prediction bands, its parameters and its fit.
///
/// With the `serde` feature a model deserializes through a check of every invariant a fit
/// guarantees (see [`Error::InvalidModel`]), so a hand-edited model is refused, never a panic
/// later in [`forecast`](FittedModel::forecast).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(try_from = "RawFittedModel"))]
pub struct FittedModel {
    spec: ModelSpec,
    inner: Inner,
    step: f64,
    last_time: i64,
}

/// The unchecked mirror of [`FittedModel`] that deserialization reads first.
#[cfg(feature = "serde")]
#[derive(serde::Deserialize)]
struct RawFittedModel {
    spec: ModelSpec,
    inner: Inner,
    step: f64,
    last_time: i64,
}

#[cfg(feature = "serde")]
impl TryFrom<RawFittedModel> for FittedModel {
    type Error = Error;

    fn try_from(raw: RawFittedModel) -> Result<Self> {
        let model = FittedModel {
            spec: raw.spec,
            inner: raw.inner,
            step: raw.step,
            last_time: raw.last_time,
        };
        model.check()?;
        Ok(model)
    }
}

impl FittedModel {
    /// Checks the invariants a fit guarantees: a valid spec matching the fitted parts, at least
    /// [`ModelSpec::min_points`] points, a season vector of the season's length, parameters in
    /// their admissible ranges and finite numbers.
    fn check(&self) -> Result<()> {
        let bad = |reason: String| Err(Error::InvalidModel { reason });
        self.spec.validate().map_err(|e| Error::InvalidModel {
            reason: e.to_string(),
        })?;
        if !(self.step.is_finite() && self.step > 0.0) {
            return bad(format!(
                "step {} is not a positive finite number",
                self.step
            ));
        }
        let needed = self.spec.min_points();
        if self.len() < needed {
            return bad(format!(
                "{} needs at least {needed} points, the model says {}",
                self.spec.name(),
                self.len()
            ));
        }
        let finite_non_negative = |name: &str, v: f64| {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                bad(format!("{name} {v} is not a finite non-negative number"))
            }
        };
        match (&self.inner, self.spec) {
            (Inner::Linear(l), ModelSpec::LinearTrend) => {
                for (name, v) in [
                    ("intercept", l.intercept),
                    ("slope", l.slope),
                    ("mean index", l.x_mean()),
                ] {
                    if !v.is_finite() {
                        return bad(format!("{name} {v} is not finite"));
                    }
                }
                finite_non_negative("sigma2", l.sigma2)?;
                finite_non_negative("sse", l.sse)?;
                finite_non_negative("sxx", l.sxx())?;
            }
            (Inner::Smoothing(s), ModelSpec::Holt { damped })
                if s.seasonality.is_none() && s.damped == damped => {}
            (
                Inner::Smoothing(s),
                ModelSpec::HoltWinters {
                    season_length,
                    seasonality,
                    damped,
                },
            ) if s.seasonality == Some(seasonality)
                && s.damped == damped
                && s.season_length == season_length => {}
            _ => {
                return bad(format!(
                    "the fitted parts do not match the spec {}",
                    self.spec.name()
                ));
            }
        }
        if let Inner::Smoothing(s) = &self.inner {
            if s.seasonality.is_some() && s.state.season.len() != s.season_length {
                return bad(format!(
                    "{} seasonal factors for a season of {}",
                    s.state.season.len(),
                    s.season_length
                ));
            }
            let p = s.params;
            let in_unit = |v: f64| v.is_finite() && (0.0..=1.0).contains(&v);
            let admissible = in_unit(p.alpha)
                && in_unit(p.gamma)
                && in_unit(p.phi)
                && (0.0..=p.alpha).contains(&p.beta);
            if !admissible {
                return bad(format!(
                    "smoothing parameters α {}, β {}, γ {}, φ {} out of range",
                    p.alpha, p.beta, p.gamma, p.phi
                ));
            }
            if !(s.state.level.is_finite()
                && s.state.trend.is_finite()
                && s.state.season.iter().all(|v| v.is_finite()))
            {
                return bad("a level, trend or seasonal state is not finite".into());
            }
            finite_non_negative("sigma2", s.sigma2)?;
            finite_non_negative("sse", s.sse)?;
        }
        Ok(())
    }

    /// The model fitted.
    pub fn spec(&self) -> ModelSpec {
        self.spec
    }

    /// The fitted parameters.
    pub fn parameters(&self) -> Parameters {
        match &self.inner {
            Inner::Linear(l) => Parameters {
                alpha: None,
                beta: None,
                gamma: None,
                phi: None,
                slope: l.slope,
            },
            Inner::Smoothing(s) => Parameters {
                alpha: Some(s.params.alpha),
                beta: Some(s.params.beta),
                gamma: s.seasonality.map(|_| s.params.gamma),
                phi: s.damped.then_some(s.params.phi),
                slope: s.state.trend,
            },
        }
    }

    /// The seasonal factors after the last observation, in season order starting with the next
    /// step's (additive offsets or multiplicative ratios); `None` without a season.
    pub fn seasonal_factors(&self) -> Option<Vec<f64>> {
        match &self.inner {
            Inner::Smoothing(s) if s.seasonality.is_some() => {
                let m = s.season_length;
                Some(
                    s.state
                        .season
                        .iter()
                        .copied()
                        .cycle()
                        .skip(s.n.checked_rem(m).unwrap_or(0))
                        .take(m)
                        .collect(),
                )
            }
            _ => None,
        }
    }

    /// Points fitted.
    pub fn len(&self) -> usize {
        match &self.inner {
            Inner::Linear(l) => l.n,
            Inner::Smoothing(s) => s.n,
        }
    }

    /// Always `false`: a model is fitted to at least [`ModelSpec::min_points`] points.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The series' step between points, in its time unit.
    pub fn step(&self) -> f64 {
        self.step
    }

    /// Sum of squared errors: one-step-ahead for the smoothing methods, residuals for the line.
    pub fn sse(&self) -> f64 {
        match &self.inner {
            Inner::Linear(l) => l.sse,
            Inner::Smoothing(s) => s.sse,
        }
    }

    /// The error variance behind the bands.
    pub fn sigma2(&self) -> f64 {
        match &self.inner {
            Inner::Linear(l) => l.sigma2,
            Inner::Smoothing(s) => s.sigma2,
        }
    }

    /// Quantities estimated from the data: smoothing parameters, initial states and `σ`
    /// (Hyndman et al. 2008, §7.1), or intercept, slope and `σ` for the line.
    pub fn estimated_parameters(&self) -> usize {
        match &self.inner {
            Inner::Linear(_) => 3,
            Inner::Smoothing(s) => {
                let weights = 2 + usize::from(s.seasonality.is_some()) + usize::from(s.damped);
                let states = 2 + s
                    .seasonality
                    .map_or(0, |_| s.season_length.saturating_sub(1));
                weights + states + 1
            }
        }
    }

    /// The corrected Akaike information criterion with Gaussian errors,
    /// `n ln(SSE / n) + 2k + 2k(k + 1) / (n − k − 1)`; +∞ when `n ≤ k + 1`.
    pub fn aicc(&self) -> f64 {
        let n = self.len() as f64;
        let k = self.estimated_parameters() as f64;
        if n <= k + 1.0 {
            return f64::INFINITY;
        }
        let mse = (self.sse() / n).max(f64::MIN_POSITIVE);
        n * mse.ln() + 2.0 * k + 2.0 * k * (k + 1.0) / (n - k - 1.0)
    }

    /// The deseasonalised level-plus-trend `h` steps after the last point (`h = 0`: now).
    pub fn trend_ahead(&self, h: usize) -> f64 {
        match &self.inner {
            Inner::Linear(l) => l.at(l.n.saturating_sub(1).saturating_add(h) as f64),
            Inner::Smoothing(s) if h == 0 => s.level(),
            Inner::Smoothing(s) => s.trend_ahead(h),
        }
    }

    /// Forecasts `horizon` steps with 80% and 95% bands; simulated bands (multiplicative
    /// season) draw from [`DEFAULT_SEED`].
    ///
    /// # Errors
    /// A horizon of 0 or above [`MAX_HORIZON`].
    pub fn forecast(&self, horizon: usize) -> Result<Forecast> {
        self.forecast_seeded(horizon, DEFAULT_SEED)
    }

    /// [`FittedModel::forecast`] with the simulation's seed given.
    pub fn forecast_seeded(&self, horizon: usize, seed: u64) -> Result<Forecast> {
        if horizon == 0 {
            return Err(ha_core::Error::Zero { name: "horizon" }.into());
        }
        if horizon > MAX_HORIZON {
            return Err(ha_core::Error::TooLarge {
                name: "horizon",
                value: horizon as u64,
                max: MAX_HORIZON as u64,
            }
            .into());
        }
        let steps: Vec<(f64, Interval, Interval)> = match &self.inner {
            Inner::Linear(l) => (1..=horizon)
                .map(|h| {
                    let (mean, var) = l.predict(h);
                    let sd = var.max(0.0).sqrt();
                    (
                        mean,
                        Interval::around(mean, crate::Z_80 * sd),
                        Interval::around(mean, crate::Z_95 * sd),
                    )
                })
                .collect(),
            Inner::Smoothing(s) => s.forecast(horizon, seed),
        };
        let points = steps
            .into_iter()
            .enumerate()
            .map(|(i, (mean, p80, p95))| {
                let ahead = (self.step * (i + 1) as f64).round();
                ForecastPoint {
                    horizon: i + 1,
                    time: self.last_time.saturating_add(ahead as i64),
                    mean,
                    p80,
                    p95,
                }
            })
            .collect();
        Ok(Forecast {
            model: self.spec,
            points,
        })
    }
}
