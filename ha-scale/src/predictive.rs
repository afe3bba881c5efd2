//! Predictive scaling: provision now for the demand the forecast expects once new replicas are
//! warm.
//!
//! A replica started at `now` serves only at `now + warm_up`, so a purely reactive policy is
//! always one warm-up late on a rising load. The [`PredictiveScaler`] reads the [`Forecast`] at
//! `now + warm_up` — the mean or the upper bound of its 80% or 95% band, as configured — and
//! turns that demand into replicas, `⌈demand / (capacity_per_replica × target_utilization)⌉`.
//! It then scales to the larger of that figure and the reactive proposal (an HPA
//! [`Decision`](crate::Decision)'s desired replicas, a step policy's, any `u32`), within
//! `[min_replicas, max_replicas]`: the forecast may add capacity ahead of time, never remove
//! what the reactive policy asks for (the rule of AWS EC2 Auto Scaling's predictive scaling,
//! which "scales to the higher of" forecast and dynamic capacity).
//!
//! In [`PredictiveMode::ReportOnly`] the reactive proposal is returned unchanged as the
//! decision while the predictive figure is still computed and reported — to watch what the
//! forecast would do before letting it act.

use std::time::Duration;

use crate::error::{Error, Result, finite, in_range, positive};
use crate::{FittedModel, Forecast, ForecastPoint};

/// Which figure of the forecast to plan for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum PlanFor {
    /// The point forecast (the conditional mean): half the time demand is above it.
    Mean,
    /// The upper bound of the central 80% band (the 90th percentile).
    #[default]
    Upper80,
    /// The upper bound of the central 95% band (the 97.5th percentile).
    Upper95,
}

impl PlanFor {
    fn of(self, point: &ForecastPoint) -> f64 {
        match self {
            PlanFor::Mean => point.mean,
            PlanFor::Upper80 => point.p80.upper,
            PlanFor::Upper95 => point.p95.upper,
        }
    }
}

/// Whether the forecast acts or only reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum PredictiveMode {
    /// Scale to the larger of the reactive and the predictive figures.
    #[default]
    Act,
    /// Return the reactive proposal unchanged; report the predictive figure beside it.
    ReportOnly,
}

/// The settings of a [`PredictiveScaler`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PredictiveConfig {
    /// Demand one ready replica serves, in the forecast's unit; positive. Default 100.
    pub capacity_per_replica: f64,
    /// Time from starting a replica to its serving; the forecast is read this far ahead.
    /// Default 180 s.
    pub warm_up: Duration,
    /// Seconds per unit of the forecast's timestamps; positive. Default 1 (Unix seconds).
    pub seconds_per_unit: f64,
    /// The utilization to plan for, in `(0, 1]`. Default 0.8.
    pub target_utilization: f64,
    /// Which figure of the forecast to plan for. Default [`PlanFor::Upper80`].
    pub plan_for: PlanFor,
    /// The fewest replicas. Default 1.
    pub min_replicas: u32,
    /// The most replicas; at least `min_replicas`. Default 100.
    pub max_replicas: u32,
    /// Act or only report. Default [`PredictiveMode::Act`].
    pub mode: PredictiveMode,
}

impl Default for PredictiveConfig {
    fn default() -> Self {
        Self {
            capacity_per_replica: 100.0,
            warm_up: Duration::from_secs(180),
            seconds_per_unit: 1.0,
            target_utilization: 0.8,
            plan_for: PlanFor::Upper80,
            min_replicas: 1,
            max_replicas: 100,
            mode: PredictiveMode::Act,
        }
    }
}

impl PredictiveConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`ha_core::Error::NotFinite`] / [`ha_core::Error::OutOfRange`] for a capacity or a
    /// time unit that is not a positive number or a target utilization outside `(0, 1]`;
    /// [`ha_core::Error::Inverted`] for min above max.
    pub fn validate(&self) -> Result<()> {
        positive("capacity_per_replica", self.capacity_per_replica)?;
        positive("seconds_per_unit", self.seconds_per_unit)?;
        in_range(
            "target_utilization",
            self.target_utilization,
            f64::MIN_POSITIVE,
            1.0,
            "(0, 1]",
        )?;
        if self.min_replicas > self.max_replicas {
            return Err(ha_core::Error::Inverted {
                lower: "min_replicas",
                lower_value: f64::from(self.min_replicas),
                upper: "max_replicas",
                upper_value: f64::from(self.max_replicas),
            }
            .into());
        }
        Ok(())
    }
}

/// Which figure the decision followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum PredictiveReason {
    /// The forecast needs more than the reactive proposal: scaled ahead.
    ForecastAhead,
    /// The reactive proposal is at least what the forecast needs.
    ReactiveSufficient,
    /// Report-only mode: the reactive proposal, whatever the forecast says.
    ReportOnly,
}

/// A replica bound that cut the decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ReplicaBound {
    /// Raised to `min_replicas`.
    Min,
    /// Lowered to `max_replicas`.
    Max,
}

/// What a [`PredictiveScaler`] decided, with the numbers behind it.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PredictiveDecision {
    /// The replicas to run.
    pub replicas: u32,
    /// The replicas the forecast needs at `now + warm_up`, before the bounds.
    pub predictive_replicas: u32,
    /// The reactive proposal given.
    pub reactive_replicas: u32,
    /// The forecast demand at `now + warm_up` (the configured figure; negative forecasts read
    /// as 0).
    pub forecast_demand: f64,
    /// `now + warm_up`, in the forecast's time unit.
    pub target_time: f64,
    /// Which figure won.
    pub reason: PredictiveReason,
    /// The bound that cut the decision, if one did (never in report-only mode).
    pub bound: Option<ReplicaBound>,
}

/// Scales to the larger of a reactive proposal and what a forecast needs once new replicas are
/// warm. Holds only its validated settings; every call is independent.
///
/// ```
/// use std::time::Duration;
/// use ha_scale::{PlanFor, PredictiveConfig, PredictiveReason, PredictiveScaler, TimeSeries, ModelSpec};
///
/// // An hour of per-minute demand growing 20 a minute; each replica serves 100 and warms for 5 min.
/// let demand: Vec<f64> = (0..60).map(|m| 500.0 + 20.0 * m as f64).collect();
/// let series = TimeSeries::regular(0, 60, demand)?;
/// let model = ModelSpec::LinearTrend.fit(&series)?;
/// let scaler = PredictiveScaler::new(PredictiveConfig {
///     capacity_per_replica: 100.0,
///     warm_up: Duration::from_secs(300),
///     target_utilization: 1.0,
///     plan_for: PlanFor::Mean,
///     ..PredictiveConfig::default()
/// })?;
/// // Now is the last minute (demand 1680): the reactive policy asks for 17 replicas,
/// // the forecast sees 1780 in five minutes and asks for 18.
/// let decision = scaler.decide_with_model(59 * 60, 17, &model)?;
/// assert_eq!(decision.predictive_replicas, 18);
/// assert_eq!(decision.replicas, 18);
/// assert_eq!(decision.reason, PredictiveReason::ForecastAhead);
/// # Ok::<(), ha_scale::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PredictiveScaler {
    config: PredictiveConfig,
}

impl PredictiveScaler {
    /// A scaler with checked settings.
    ///
    /// # Errors
    /// See [`PredictiveConfig::validate`].
    pub fn new(config: PredictiveConfig) -> Result<Self> {
        config.validate()?;
        Ok(Self { config })
    }

    /// The settings.
    pub fn config(&self) -> &PredictiveConfig {
        &self.config
    }

    /// `now + warm_up` in the forecast's time unit.
    fn target_time(&self, now: i64) -> f64 {
        now as f64 + self.config.warm_up.as_secs_f64() / self.config.seconds_per_unit
    }

    /// Decides from a forecast: `now` is in the forecast's time unit, `reactive` the reactive
    /// policy's proposal. The demand at `now + warm_up` is interpolated linearly between the
    /// two forecast points around it.
    ///
    /// # Errors
    /// [`Error::EmptyForecast`] for a forecast without points;
    /// [`Error::UnsortedTimestamps`] / [`Error::DuplicateTimestamp`] for points out of order;
    /// [`Error::ForecastDoesNotCover`] when `now + warm_up` lies before the first point or after
    /// the last; [`ha_core::Error::NotFinite`] for a NaN or infinite forecast figure around it.
    pub fn decide(
        &self,
        now: i64,
        reactive: u32,
        forecast: &Forecast,
    ) -> Result<PredictiveDecision> {
        let points = &forecast.points;
        let (first, last) = match (points.first(), points.last()) {
            (Some(f), Some(l)) => (f, l),
            _ => return Err(Error::EmptyForecast),
        };
        for (index, pair) in points.windows(2).enumerate() {
            if pair[1].time < pair[0].time {
                return Err(Error::UnsortedTimestamps {
                    index: index + 1,
                    time: pair[1].time,
                });
            }
            if pair[1].time == pair[0].time {
                return Err(Error::DuplicateTimestamp {
                    index: index + 1,
                    time: pair[1].time,
                });
            }
        }
        let target = self.target_time(now);
        if !(first.time as f64 <= target && target <= last.time as f64) {
            return Err(Error::ForecastDoesNotCover {
                target,
                first: first.time,
                last: last.time,
            });
        }
        // The first point at or after the target, and the one before it.
        let after = points.partition_point(|p| (p.time as f64) < target);
        let upper = points.get(after).unwrap_or(last);
        let lower = after.checked_sub(1).and_then(|i| points.get(i));
        let plan = self.config.plan_for;
        let at_upper = finite("forecast demand", plan.of(upper))?;
        let demand = match lower {
            Some(lower) if (upper.time as f64) > target => {
                let at_lower = finite("forecast demand", plan.of(lower))?;
                let span = upper.time as f64 - lower.time as f64;
                let frac = (target - lower.time as f64) / span;
                at_lower + frac * (at_upper - at_lower)
            }
            _ => at_upper,
        };
        Ok(self.combine(reactive, demand.max(0.0), target))
    }

    /// Decides from a fitted model: forecasts just far enough to reach `now + warm_up` (`now`
    /// in the model's series' time unit, normally the time of its last point) and calls
    /// [`PredictiveScaler::decide`].
    ///
    /// # Errors
    /// Those of [`PredictiveScaler::decide`], and the forecast's (a horizon above
    /// [`MAX_HORIZON`](crate::MAX_HORIZON) when `now + warm_up` is that far beyond the model's
    /// data).
    pub fn decide_with_model(
        &self,
        now: i64,
        reactive: u32,
        model: &FittedModel,
    ) -> Result<PredictiveDecision> {
        let first = model.forecast(1)?;
        let first_time = first.points.first().map_or(0, |p| p.time) as f64;
        let step = model.step();
        let target = self.target_time(now);
        let ahead = ((target - first_time) / step).ceil();
        // Two more steps than strictly needed, so the target has a point on either side.
        let horizon = if ahead.is_finite() && ahead > 0.0 {
            (ahead.min(u32::MAX as f64) as usize).saturating_add(2)
        } else {
            2
        };
        let forecast = model.forecast(horizon)?;
        self.decide(now, reactive, &forecast)
    }

    /// Turns the demand at the target time into replicas and combines them with the reactive
    /// proposal.
    fn combine(&self, reactive: u32, demand: f64, target_time: f64) -> PredictiveDecision {
        let c = &self.config;
        let needed = (demand / (c.capacity_per_replica * c.target_utilization)).ceil();
        // `as` saturates: a demand beyond u32::MAX replicas reads as u32::MAX.
        let predictive = if needed.is_finite() {
            needed as u32
        } else {
            u32::MAX
        };
        let (replicas, reason, bound) = match c.mode {
            PredictiveMode::ReportOnly => (reactive, PredictiveReason::ReportOnly, None),
            PredictiveMode::Act => {
                let (wanted, reason) = if predictive > reactive {
                    (predictive, PredictiveReason::ForecastAhead)
                } else {
                    (reactive, PredictiveReason::ReactiveSufficient)
                };
                let bound = if wanted < c.min_replicas {
                    Some(ReplicaBound::Min)
                } else if wanted > c.max_replicas {
                    Some(ReplicaBound::Max)
                } else {
                    None
                };
                (wanted.clamp(c.min_replicas, c.max_replicas), reason, bound)
            }
        };
        tracing::debug!(
            target_time,
            demand,
            predictive,
            reactive,
            replicas,
            ?reason,
            ?bound,
            "predictive scaling decision"
        );
        PredictiveDecision {
            replicas,
            predictive_replicas: predictive,
            reactive_replicas: reactive,
            forecast_demand: demand,
            target_time,
            reason,
            bound,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::{Interval, ModelSpec};

    fn point(time: i64, mean: f64) -> ForecastPoint {
        ForecastPoint {
            horizon: 1,
            time,
            mean,
            p80: Interval::around(mean, 10.0),
            p95: Interval::around(mean, 20.0),
        }
    }

    fn forecast(points: Vec<ForecastPoint>) -> Forecast {
        Forecast {
            model: ModelSpec::LinearTrend,
            points,
        }
    }

    fn scaler(mode: PredictiveMode, plan_for: PlanFor) -> PredictiveScaler {
        PredictiveScaler::new(PredictiveConfig {
            capacity_per_replica: 100.0,
            warm_up: Duration::from_secs(120),
            target_utilization: 0.5,
            plan_for,
            min_replicas: 2,
            max_replicas: 20,
            mode,
            ..PredictiveConfig::default()
        })
        .unwrap()
    }

    #[test]
    fn interpolates_the_demand_at_now_plus_warm_up() {
        // Points at 60 and 180; the target 0 + 120 lies halfway: demand 300, 300 / 50 = 6.
        let f = forecast(vec![point(60, 200.0), point(180, 400.0)]);
        let d = scaler(PredictiveMode::Act, PlanFor::Mean)
            .decide(0, 3, &f)
            .unwrap();
        assert_eq!(d.target_time, 120.0);
        assert!((d.forecast_demand - 300.0).abs() < 1e-9);
        assert_eq!(d.predictive_replicas, 6);
        assert_eq!(d.replicas, 6);
        assert_eq!(d.reason, PredictiveReason::ForecastAhead);
        assert_eq!(d.bound, None);
    }

    #[test]
    fn the_quantile_chosen_is_the_one_planned_for() {
        let f = forecast(vec![point(120, 300.0)]);
        let mean = scaler(PredictiveMode::Act, PlanFor::Mean)
            .decide(0, 0, &f)
            .unwrap();
        let p80 = scaler(PredictiveMode::Act, PlanFor::Upper80)
            .decide(0, 0, &f)
            .unwrap();
        let p95 = scaler(PredictiveMode::Act, PlanFor::Upper95)
            .decide(0, 0, &f)
            .unwrap();
        assert_eq!(mean.forecast_demand, 300.0);
        assert_eq!(p80.forecast_demand, 310.0);
        assert_eq!(p95.forecast_demand, 320.0);
        assert_eq!(
            (
                mean.predictive_replicas,
                p80.predictive_replicas,
                p95.predictive_replicas
            ),
            (6, 7, 7)
        );
    }

    #[test]
    fn reactive_wins_when_it_asks_for_more_and_bounds_apply() {
        let f = forecast(vec![point(120, 300.0)]);
        let s = scaler(PredictiveMode::Act, PlanFor::Mean);
        let d = s.decide(0, 9, &f).unwrap();
        assert_eq!(
            (d.replicas, d.reason),
            (9, PredictiveReason::ReactiveSufficient)
        );
        let d = s.decide(0, 40, &f).unwrap();
        assert_eq!((d.replicas, d.bound), (20, Some(ReplicaBound::Max)));
        let low = forecast(vec![point(120, -50.0)]);
        let d = s.decide(0, 0, &low).unwrap();
        assert_eq!(d.forecast_demand, 0.0);
        assert_eq!((d.replicas, d.bound), (2, Some(ReplicaBound::Min)));
    }

    #[test]
    fn report_only_returns_the_reactive_proposal_and_reports_the_forecast() {
        let f = forecast(vec![point(120, 900.0)]);
        let d = scaler(PredictiveMode::ReportOnly, PlanFor::Mean)
            .decide(0, 3, &f)
            .unwrap();
        assert_eq!(d.replicas, 3);
        assert_eq!(d.predictive_replicas, 18);
        assert_eq!(d.reason, PredictiveReason::ReportOnly);
    }

    #[test]
    fn bad_forecasts_are_typed_errors() {
        let s = scaler(PredictiveMode::Act, PlanFor::Mean);
        assert_eq!(s.decide(0, 1, &forecast(vec![])), Err(Error::EmptyForecast));
        let short = forecast(vec![point(30, 1.0), point(60, 1.0)]);
        assert!(matches!(
            s.decide(0, 1, &short),
            Err(Error::ForecastDoesNotCover {
                first: 30,
                last: 60,
                ..
            })
        ));
        let late = forecast(vec![point(200, 1.0)]);
        assert!(matches!(
            s.decide(0, 1, &late),
            Err(Error::ForecastDoesNotCover { .. })
        ));
        let nan = forecast(vec![point(60, 1.0), point(180, f64::NAN)]);
        assert!(matches!(
            s.decide(0, 1, &nan),
            Err(Error::Core(ha_core::Error::NotFinite { .. }))
        ));
        let unsorted = forecast(vec![point(180, 1.0), point(60, 1.0)]);
        assert!(matches!(
            s.decide(0, 1, &unsorted),
            Err(Error::UnsortedTimestamps { index: 1, .. })
        ));
        let dup = forecast(vec![point(60, 1.0), point(60, 1.0)]);
        assert!(matches!(
            s.decide(0, 1, &dup),
            Err(Error::DuplicateTimestamp { index: 1, .. })
        ));
    }

    #[test]
    fn bad_settings_are_rejected() {
        let bad = |c: PredictiveConfig| PredictiveScaler::new(c).is_err();
        let d = PredictiveConfig::default();
        assert!(bad(PredictiveConfig {
            capacity_per_replica: 0.0,
            ..d
        }));
        assert!(bad(PredictiveConfig {
            capacity_per_replica: f64::NAN,
            ..d
        }));
        assert!(bad(PredictiveConfig {
            target_utilization: 0.0,
            ..d
        }));
        assert!(bad(PredictiveConfig {
            target_utilization: 1.5,
            ..d
        }));
        assert!(bad(PredictiveConfig {
            seconds_per_unit: -1.0,
            ..d
        }));
        assert!(bad(PredictiveConfig {
            min_replicas: 5,
            max_replicas: 4,
            ..d
        }));
        assert!(!bad(PredictiveConfig {
            target_utilization: 1.0,
            ..d
        }));
    }

    #[test]
    fn with_a_model_the_forecast_reaches_the_warm_up() {
        let series =
            crate::TimeSeries::regular(0, 60, (0..30).map(|m| 100.0 * m as f64).collect()).unwrap();
        let model = ModelSpec::LinearTrend.fit(&series).unwrap();
        // Now 29 min (demand 2900); ten minutes of warm-up: 3900 at 50% of 100 → 78.
        let s = PredictiveScaler::new(PredictiveConfig {
            warm_up: Duration::from_secs(600),
            target_utilization: 0.5,
            plan_for: PlanFor::Mean,
            ..PredictiveConfig::default()
        })
        .unwrap();
        let d = s.decide_with_model(29 * 60, 58, &model).unwrap();
        assert!(
            (d.forecast_demand - 3900.0).abs() < 1e-6,
            "{}",
            d.forecast_demand
        );
        assert_eq!(d.predictive_replicas, 78);
        assert_eq!(d.replicas, 78);
    }
}
