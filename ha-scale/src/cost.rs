//! Cost projection: what the capacity the forecast needs will cost, month by month.
//!
//! Each month provisions, per resource, the peak of the point forecast within the month grossed
//! up by the reserve — `peak / (1 − headroom_ratio)` — at that resource's unit price, which
//! changes by `yearly_price_change_ratio` a year, compounded monthly. A month is 1/12 of a mean
//! Gregorian year.

use crate::error::{Error, Result, finite, in_range, positive};
use crate::{CapacityResource, ResourceForecast, SECONDS_PER_YEAR};

/// The price of one unit of a resource for a month.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Price {
    /// Which resource.
    pub resource: CapacityResource,
    /// Price of one unit (in the resource series' unit) for a month; finite, at least 0.
    pub per_unit_month: f64,
}

/// Prices per resource and how they move.
#[derive(Debug, Clone, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PriceModel {
    /// One price per resource priced.
    pub prices: Vec<Price>,
    /// Yearly change of every price (−0.1 = 10% cheaper each year); above −1; default 0.
    pub yearly_price_change_ratio: f64,
    /// The reserve provisioned above the forecast peak, as in [`crate::CapacityConfig`];
    /// `[0, 1)`, default 0 here (set it to the plan's 0.3 to price the reserve).
    pub headroom_ratio: f64,
}

impl PriceModel {
    /// Checks the settings: prices finite and non-negative, each resource once, change above −1,
    /// headroom in `[0, 1)`.
    pub fn validate(&self) -> Result<()> {
        let mut seen = std::collections::BTreeSet::new();
        for p in &self.prices {
            in_range("per_unit_month", p.per_unit_month, 0.0, f64::MAX, "[0, ∞)")?;
            if !seen.insert(p.resource) {
                return Err(Error::DuplicateResource(p.resource));
            }
        }
        finite("yearly_price_change_ratio", self.yearly_price_change_ratio)?;
        if self.yearly_price_change_ratio <= -1.0 {
            return Err(ha_core::Error::OutOfRange {
                name: "yearly_price_change_ratio",
                value: self.yearly_price_change_ratio,
                range: "(-1, ∞)",
            }
            .into());
        }
        in_range("headroom_ratio", self.headroom_ratio, 0.0, 1.0, "[0, 1)")?;
        if self.headroom_ratio >= 1.0 {
            return Err(ha_core::Error::OutOfRange {
                name: "headroom_ratio",
                value: self.headroom_ratio,
                range: "[0, 1)",
            }
            .into());
        }
        Ok(())
    }
}

/// One resource's cost in one month.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ResourceCost {
    /// Which resource.
    pub resource: CapacityResource,
    /// Units provisioned: the month's forecast peak grossed up by the reserve.
    pub units: f64,
    /// `units × price`.
    pub cost: f64,
}

/// One month of the projection.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct MonthCost {
    /// 1 for the first month after the data.
    pub month: u32,
    /// Per priced resource, in the price list's order.
    pub items: Vec<ResourceCost>,
    /// The month's total.
    pub total: f64,
}

/// A cost projection over months.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CostProjection {
    /// Month by month.
    pub months: Vec<MonthCost>,
    /// The sum over all months.
    pub total: f64,
}

/// Projects the cost of the next `months` months from resource forecasts that cover them.
///
/// ```
/// use ha_scale::{CapacityConfig, Price, PriceModel, CapacityResource, ResourceUsage, TimeSeries};
/// use ha_scale::{forecast_resource, project_cost};
///
/// let flat = TimeSeries::regular(0, 86_400, (0..60).map(|d| 100.0 + (d % 2) as f64).collect())?;
/// let usage = ResourceUsage { resource: CapacityResource::Storage, series: flat, capacity: 500.0 };
/// let outlook = forecast_resource(&usage, &CapacityConfig::default())?;
/// let prices = PriceModel {
///     prices: vec![Price { resource: CapacityResource::Storage, per_unit_month: 0.1 }],
///     ..PriceModel::default()
/// };
/// let projection = project_cost(&[outlook], &prices, 3)?;
/// assert_eq!(projection.months.len(), 3);
/// assert!((projection.months[0].total - 10.1).abs() < 0.5); // ~101 GB at 0.10
/// # Ok::<(), ha_scale::Error>(())
/// ```
///
/// # Errors
/// Bad prices, a price for a resource without a forecast ([`Error::UnknownResource`]), zero
/// months, or months beyond a forecast's horizon.
pub fn project_cost(
    forecasts: &[ResourceForecast],
    prices: &PriceModel,
    months: u32,
) -> Result<CostProjection> {
    prices.validate()?;
    if months == 0 {
        return Err(ha_core::Error::Zero { name: "months" }.into());
    }
    let month_seconds = SECONDS_PER_YEAR / 12.0;
    let gross = 1.0 / (1.0 - prices.headroom_ratio);
    let monthly_change = (1.0 + prices.yearly_price_change_ratio).powf(1.0 / 12.0);
    let mut per_resource = Vec::with_capacity(prices.prices.len());
    for price in &prices.prices {
        let f = forecasts
            .iter()
            .find(|f| f.resource == price.resource)
            .ok_or(Error::UnknownResource(price.resource))?;
        positive("step_seconds", f.step_seconds)?;
        let steps_per_month = month_seconds / f.step_seconds;
        let covered = f.forecast.points.len() as f64 / steps_per_month;
        if f.forecast.points.is_empty() || covered + 1e-9 < f64::from(months) {
            return Err(ha_core::Error::TooLarge {
                name: "months",
                value: u64::from(months),
                max: covered.floor() as u64,
            }
            .into());
        }
        let peaks: Vec<f64> = (0..months)
            .map(|k| {
                let from = (f64::from(k) * steps_per_month).floor() as usize;
                let to = ((f64::from(k + 1) * steps_per_month).ceil() as usize)
                    .min(f.forecast.points.len())
                    .max(from + 1);
                f.forecast.points[from.min(f.forecast.points.len() - 1)..to]
                    .iter()
                    .map(|p| p.mean)
                    .fold(f64::NEG_INFINITY, f64::max)
                    .max(0.0)
            })
            .collect();
        per_resource.push((price, peaks));
    }
    let mut out = Vec::with_capacity(months as usize);
    let mut total = 0.0;
    for k in 0..months {
        let factor = monthly_change.powi(k as i32);
        let items: Vec<ResourceCost> = per_resource
            .iter()
            .map(|(price, peaks)| {
                let units = peaks[k as usize] * gross;
                ResourceCost {
                    resource: price.resource,
                    units,
                    cost: units * price.per_unit_month * factor,
                }
            })
            .collect();
        let month_total = items.iter().map(|i| i.cost).sum::<f64>();
        total += month_total;
        out.push(MonthCost {
            month: k + 1,
            items,
            total: month_total,
        });
    }
    tracing::debug!(months, total, "cost projected");
    Ok(CostProjection { months: out, total })
}
