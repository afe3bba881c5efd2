//! Replay: run a scaling policy over a recorded load trace and see what it would have done.
//!
//! The trace is a [`TimeSeries`] of demand (in any unit a replica serves — requests per second,
//! cores). At each point the policy sees a [`LoadObservation`] and answers the replicas it
//! wants; the replay then
//!
//! 1. starts the missing replicas, which serve only after `warm_up`;
//! 2. stops surplus replicas at once, those still warming first (the newest first), then ready ones;
//! 3. holds the result until the next point: the capacity served is `ready × capacity_per_replica`,
//!    demand above it is unmet (an SLO miss), capacity above it is over-provisioning, and every
//!    replica started — warming or ready — is paid for.
//!
//! Any policy plugs in through [`ReplayPolicy`]; an autoscaler (the HPA of this crate, a step
//! policy, a predictive one) implements it by turning the observation into its own inputs — for
//! an `Instant`-driven component, `start + observation.elapsed` is the `now` to pass. A closure
//! `FnMut(&LoadObservation) -> u32` is a policy too.

use std::time::Duration;

use crate::TimeSeries;
use crate::error::{Error, Result, in_range, positive};

/// What a policy sees at one point of the trace.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct LoadObservation {
    /// The point's timestamp, in the trace's unit.
    pub time: i64,
    /// Time since the first point of the trace.
    pub elapsed: Duration,
    /// The demand at this point.
    pub demand: f64,
    /// Replicas serving now (warm).
    pub ready_replicas: u32,
    /// Replicas started and still warming up.
    pub warming_replicas: u32,
    /// What one replica serves, as configured.
    pub capacity_per_replica: f64,
}

impl LoadObservation {
    /// Demand over the ready replicas' capacity (∞ when demand meets no ready replica, 0 when
    /// there is no demand either).
    pub fn utilization_ratio(&self) -> f64 {
        let capacity = f64::from(self.ready_replicas) * self.capacity_per_replica;
        if capacity > 0.0 {
            self.demand / capacity
        } else if self.demand > 0.0 {
            f64::INFINITY
        } else {
            0.0
        }
    }
}

/// A scaling policy the replay can drive: given what it sees, the replicas it wants.
///
/// Implementations keep their own state (history, cooldowns, stabilization windows) across calls;
/// the replay calls [`ReplayPolicy::desired_replicas`] once per trace point, in time order.
pub trait ReplayPolicy {
    /// The replicas wanted from this point on.
    fn desired_replicas(&mut self, observation: &LoadObservation) -> u32;
}

impl<F: FnMut(&LoadObservation) -> u32> ReplayPolicy for F {
    fn desired_replicas(&mut self, observation: &LoadObservation) -> u32 {
        self(observation)
    }
}

/// The simplest policy: enough replicas for the demand at a target utilization,
/// `ceil(demand / (capacity_per_replica × target_ratio))`, within `[min, max]`. Purely reactive.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TargetUtilization {
    /// Target utilization in `(0, 1]`.
    pub target_ratio: f64,
    /// The fewest replicas.
    pub min_replicas: u32,
    /// The most replicas; at least `min_replicas`.
    pub max_replicas: u32,
}

impl TargetUtilization {
    /// A checked policy: target in `(0, 1]`, `min ≤ max`.
    pub fn new(target_ratio: f64, min_replicas: u32, max_replicas: u32) -> Result<Self> {
        in_range(
            "target_ratio",
            target_ratio,
            f64::MIN_POSITIVE,
            1.0,
            "(0, 1]",
        )?;
        if min_replicas > max_replicas {
            return Err(ha_core::Error::Inverted {
                lower: "min_replicas",
                lower_value: f64::from(min_replicas),
                upper: "max_replicas",
                upper_value: f64::from(max_replicas),
            }
            .into());
        }
        Ok(Self {
            target_ratio,
            min_replicas,
            max_replicas,
        })
    }
}

impl ReplayPolicy for TargetUtilization {
    fn desired_replicas(&mut self, o: &LoadObservation) -> u32 {
        let want = (o.demand / (o.capacity_per_replica * self.target_ratio)).ceil();
        let want = if want.is_finite() {
            want.clamp(0.0, f64::from(u32::MAX)) as u32
        } else {
            0
        };
        want.clamp(self.min_replicas, self.max_replicas)
    }
}

/// How the replayed service behaves and what it costs.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ReplayConfig {
    /// Demand one ready replica serves; positive. Default 100.
    pub capacity_per_replica: f64,
    /// Time from start to serving; default 60 s.
    pub warm_up: Duration,
    /// Replicas ready at the first point; default 1.
    pub initial_replicas: u32,
    /// Price of one replica for an hour (warming or ready); at least 0, default 0.
    pub price_per_replica_hour: f64,
    /// Seconds per unit of the trace's timestamps; positive, default 1 (Unix seconds).
    pub seconds_per_unit: f64,
}

impl Default for ReplayConfig {
    fn default() -> Self {
        Self {
            capacity_per_replica: 100.0,
            warm_up: Duration::from_secs(60),
            initial_replicas: 1,
            price_per_replica_hour: 0.0,
            seconds_per_unit: 1.0,
        }
    }
}

impl ReplayConfig {
    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        positive("capacity_per_replica", self.capacity_per_replica)?;
        in_range(
            "price_per_replica_hour",
            self.price_per_replica_hour,
            0.0,
            f64::MAX,
            "[0, ∞)",
        )?;
        positive("seconds_per_unit", self.seconds_per_unit)?;
        Ok(())
    }
}

/// One point of a replay: the state held from this point to the next.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ReplayStep {
    /// The point's timestamp.
    pub time: i64,
    /// The demand.
    pub demand: f64,
    /// What the policy asked for.
    pub desired: u32,
    /// Replicas serving.
    pub ready: u32,
    /// Replicas warming up.
    pub warming: u32,
    /// Capacity served, `ready × capacity_per_replica`.
    pub capacity: f64,
    /// Demand above capacity (0 when met).
    pub unmet: f64,
    /// Capacity above demand (0 when short).
    pub over_provisioned: f64,
    /// Seconds held, to the next point (the last point holds for the gap before it).
    pub held_seconds: f64,
    /// Cost of the replicas held over those seconds.
    pub cost: f64,
}

/// The outcome of a replay.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ReplayReport {
    /// Point by point.
    pub steps: Vec<ReplayStep>,
    /// Points where demand was not fully served.
    pub slo_misses: usize,
    /// Unmet demand integrated over time, in demand-hours.
    pub unmet_demand_hours: f64,
    /// Idle capacity integrated over time, in demand-hours.
    pub over_provisioned_hours: f64,
    /// Replica-hours paid for (warming included).
    pub replica_hours: f64,
    /// The total cost.
    pub cost: f64,
    /// The most replicas held at once.
    pub peak_replicas: u32,
}

impl ReplayReport {
    /// The steps as CSV with a header line:
    /// `time,demand,desired,ready,warming,capacity,unmet,over_provisioned,held_seconds,cost`.
    pub fn to_csv(&self) -> String {
        let mut out = String::from(
            "time,demand,desired,ready,warming,capacity,unmet,over_provisioned,held_seconds,cost\n",
        );
        for s in &self.steps {
            out.push_str(&format!(
                "{},{},{},{},{},{},{},{},{},{}\n",
                s.time,
                s.demand,
                s.desired,
                s.ready,
                s.warming,
                s.capacity,
                s.unmet,
                s.over_provisioned,
                s.held_seconds,
                s.cost
            ));
        }
        out
    }
}

/// Replays `policy` over the demand `trace`.
///
/// ```
/// use std::time::Duration;
/// use ha_scale::{ReplayConfig, TargetUtilization, TimeSeries, replay};
///
/// // Demand steps from 150 to 450 at minute 5; each replica serves 100 and warms up for 2 min.
/// let demand: Vec<f64> = (0..10).map(|m| if m < 5 { 150.0 } else { 450.0 }).collect();
/// let trace = TimeSeries::regular(0, 60, demand)?;
/// let config = ReplayConfig {
///     warm_up: Duration::from_secs(120),
///     initial_replicas: 2,
///     price_per_replica_hour: 0.5,
///     ..ReplayConfig::default()
/// };
/// let report = replay(&trace, &config, TargetUtilization::new(1.0, 1, 10)?)?;
/// assert_eq!(report.steps[5].desired, 5);
/// assert_eq!(report.steps[5].ready, 2); // three more still warming
/// assert_eq!(report.steps[7].ready, 5); // ready two minutes later
/// assert_eq!(report.slo_misses, 2); // minutes 5 and 6
/// assert!(report.to_csv().starts_with("time,demand,desired"));
/// # Ok::<(), ha_scale::Error>(())
/// ```
///
/// # Errors
/// Bad settings, or a negative demand ([`Error::NegativeDemand`]).
pub fn replay(
    trace: &TimeSeries,
    config: &ReplayConfig,
    mut policy: impl ReplayPolicy,
) -> Result<ReplayReport> {
    config.validate()?;
    if let Some((index, &value)) = trace.values().iter().enumerate().find(|(_, v)| **v < 0.0) {
        return Err(Error::NegativeDemand { index, value });
    }
    let times = trace.times();
    let start = times[0];
    let seconds = |from: i64, to: i64| (to as f64 - from as f64) * config.seconds_per_unit;
    let warm_up = config.warm_up.as_secs_f64();
    let mut ready = config.initial_replicas;
    // Replicas warming up: (seconds since start when ready, count), oldest first.
    let mut warming: Vec<(f64, u32)> = Vec::new();
    let mut steps = Vec::with_capacity(trace.len());
    let mut report = ReplayReport {
        steps: Vec::new(),
        slo_misses: 0,
        unmet_demand_hours: 0.0,
        over_provisioned_hours: 0.0,
        replica_hours: 0.0,
        cost: 0.0,
        peak_replicas: ready,
    };
    for (i, (&time, &demand)) in times.iter().zip(trace.values()).enumerate() {
        let now = seconds(start, time);
        // Warm replicas join.
        warming.retain(|&(at, count)| {
            if at <= now {
                ready = ready.saturating_add(count);
                false
            } else {
                true
            }
        });
        let warming_now: u32 = warming.iter().fold(0u32, |a, w| a.saturating_add(w.1));
        let observation = LoadObservation {
            time,
            elapsed: Duration::try_from_secs_f64(now.max(0.0)).unwrap_or(Duration::MAX),
            demand,
            ready_replicas: ready,
            warming_replicas: warming_now,
            capacity_per_replica: config.capacity_per_replica,
        };
        let desired = policy.desired_replicas(&observation);
        let held = ready.saturating_add(warming_now);
        if desired > held {
            warming.push((now + warm_up, desired - held));
            if warm_up <= 0.0 {
                ready = ready.saturating_add(desired - held);
                warming.clear();
            }
        } else {
            let mut surplus = held - desired;
            while surplus > 0 {
                match warming.last_mut() {
                    Some(newest) if newest.1 > surplus => {
                        newest.1 -= surplus;
                        surplus = 0;
                    }
                    Some(newest) => {
                        surplus -= newest.1;
                        warming.pop();
                    }
                    None => {
                        ready -= surplus.min(ready);
                        surplus = 0;
                    }
                }
            }
        }
        let warming_after: u32 = warming.iter().fold(0u32, |a, w| a.saturating_add(w.1));
        let capacity = f64::from(ready) * config.capacity_per_replica;
        let held_seconds = match (
            times.get(i + 1),
            i.checked_sub(1).and_then(|p| times.get(p)),
        ) {
            (Some(&next), _) => seconds(time, next),
            (None, Some(&previous)) => seconds(previous, time),
            (None, None) => 0.0,
        };
        let hours = held_seconds / 3600.0;
        let paid = f64::from(ready) + f64::from(warming_after);
        let step = ReplayStep {
            time,
            demand,
            desired,
            ready,
            warming: warming_after,
            capacity,
            unmet: (demand - capacity).max(0.0),
            over_provisioned: (capacity - demand).max(0.0),
            held_seconds,
            cost: paid * hours * config.price_per_replica_hour,
        };
        if step.unmet > 0.0 {
            report.slo_misses += 1;
        }
        report.unmet_demand_hours += step.unmet * hours;
        report.over_provisioned_hours += step.over_provisioned * hours;
        report.replica_hours += paid * hours;
        report.cost += step.cost;
        report.peak_replicas = report
            .peak_replicas
            .max(ready.saturating_add(warming_after));
        tracing::debug!(
            time,
            demand,
            desired,
            ready,
            warming = warming_after,
            unmet = step.unmet,
            "replay step"
        );
        steps.push(step);
    }
    report.steps = steps;
    Ok(report)
}
