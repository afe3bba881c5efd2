//! Bottleneck ranking: which resource runs out first.

use crate::{CapacityResource, ResourceForecast};

/// One resource in the ranking.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Bottleneck {
    /// Which resource.
    pub resource: CapacityResource,
    /// Where its point forecast reaches the usable capacity; `None` beyond the horizon.
    pub expected: Option<i64>,
    /// Where its upper 95% band does.
    pub earliest: Option<i64>,
    /// The probability its demand exceeds the usable capacity within the horizon.
    pub confidence: f64,
}

/// Ranks resources by earliest exhaustion: by expected date, then — for those not expected to
/// run out within the horizon — by the pessimistic date, then by confidence (higher first), then
/// by resource for a stable order.
///
/// ```
/// use ha_scale::{Bottleneck, CapacityConfig, CapacityResource, ResourceUsage, TimeSeries};
/// use ha_scale::{forecast_resources, rank_bottlenecks};
///
/// let day = 86_400;
/// let grow = |from: f64, per_day: f64| {
///     TimeSeries::regular(0, day, (0..100).map(|d| from + per_day * d as f64 + (d % 2) as f64).collect())
/// };
/// let usages = [
///     ResourceUsage { resource: CapacityResource::Cpu, series: grow(20.0, 0.05)?, capacity: 64.0 },
///     ResourceUsage { resource: CapacityResource::Memory, series: grow(100.0, 0.5)?, capacity: 256.0 },
/// ];
/// let outlooks = forecast_resources(&usages, &CapacityConfig::default())?;
/// let ranking = rank_bottlenecks(&outlooks);
/// assert_eq!(ranking[0].resource, CapacityResource::Memory); // 179 GB usable, reached in ~110 days
/// assert!(ranking[0].expected.is_some());
/// # Ok::<(), ha_scale::Error>(())
/// ```
pub fn rank_bottlenecks(forecasts: &[ResourceForecast]) -> Vec<Bottleneck> {
    let mut out: Vec<Bottleneck> = forecasts
        .iter()
        .map(|f| Bottleneck {
            resource: f.resource,
            expected: f.exhaustion.expected,
            earliest: f.exhaustion.earliest,
            confidence: f.exhaustion.confidence,
        })
        .collect();
    let key = |t: Option<i64>| t.unwrap_or(i64::MAX);
    out.sort_by(|a, b| {
        key(a.expected)
            .cmp(&key(b.expected))
            .then(key(a.earliest).cmp(&key(b.earliest)))
            .then(b.confidence.total_cmp(&a.confidence))
            .then(a.resource.cmp(&b.resource))
    });
    for (rank, b) in out.iter().enumerate() {
        tracing::debug!(
            rank,
            resource = %b.resource,
            expected = ?b.expected,
            earliest = ?b.earliest,
            confidence = b.confidence,
            "bottleneck"
        );
    }
    out
}
