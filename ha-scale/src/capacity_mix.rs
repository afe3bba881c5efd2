//! Cost-aware capacity mix: the cheapest set of instances that covers a peak demand with a
//! reserve, split between reserved, spot and on-demand capacity in a target mix.
//!
//! The capacity needed is `peak / (1 − headroom_ratio)`, so that at the peak the reserve (30%
//! by default, as in [`CapacityConfig`](crate::CapacityConfig)) stays free. Each kind's share of
//! it — e.g. 60% reserved baseline, 30% spot, 10% on-demand burst — is covered by instances of
//! that kind only, at the least hourly price: an unbounded covering problem solved exactly by
//! branch and bound over the kind's types, best price per unit of capacity first (each branch
//! is cut when even the most efficient remaining type cannot beat the best plan found). The
//! search visits at most [`MAX_SEARCH_NODES`] nodes per kind; a plan found within that budget
//! is marked [`KindPlan::optimal`], one cut short is the best found (never worse than all of
//! the most efficient type).
//!
//! A month is [`HOURS_PER_MONTH`] = 730 hours (8 760 / 12), as cloud price lists count it.

use crate::error::{Error, Result, in_range, positive};

/// Hours in a month as cloud price lists count them: 8 760 / 12.
pub const HOURS_PER_MONTH: f64 = 730.0;

/// The most nodes the branch and bound visits for one kind before it returns its best plan.
pub const MAX_SEARCH_NODES: usize = 100_000;

/// The most instances of one type a plan may hold.
pub const MAX_INSTANCES_PER_TYPE: u64 = 1_000_000_000;

/// The most instance types one plan may choose among. The search goes one level deeper per type
/// of a kind, so this bounds its depth (clouds offer a few hundred types).
pub const MAX_INSTANCE_TYPES: usize = 4096;

/// How an instance is bought.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum InstanceKind {
    /// Committed for a term at a discount: the baseline.
    Reserved,
    /// Spare capacity at a deep discount that the provider may take back.
    Spot,
    /// Paid by the hour without commitment: the burst.
    OnDemand,
}

impl InstanceKind {
    /// The three kinds, in plan order.
    pub const ALL: [InstanceKind; 3] = [
        InstanceKind::Reserved,
        InstanceKind::Spot,
        InstanceKind::OnDemand,
    ];
}

impl std::fmt::Display for InstanceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            InstanceKind::Reserved => "reserved",
            InstanceKind::Spot => "spot",
            InstanceKind::OnDemand => "on-demand",
        })
    }
}

/// One instance type on offer.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct InstanceType {
    /// Its name (`"m7g.xlarge reserved"`); unique within the offer.
    pub name: String,
    /// How it is bought.
    pub kind: InstanceKind,
    /// Demand one instance serves, in the peak's unit; positive.
    pub capacity: f64,
    /// Price of one instance for an hour; at least 0.
    pub hourly_price: f64,
}

/// The share of the needed capacity each kind covers; each in `[0, 1]`, summing to 1.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CapacityMix {
    /// The reserved baseline. Default 0.6.
    pub reserved: f64,
    /// Spot. Default 0.3.
    pub spot: f64,
    /// On-demand burst. Default 0.1.
    pub on_demand: f64,
}

impl Default for CapacityMix {
    fn default() -> Self {
        Self {
            reserved: 0.6,
            spot: 0.3,
            on_demand: 0.1,
        }
    }
}

impl CapacityMix {
    /// The share of `kind`.
    pub fn share(&self, kind: InstanceKind) -> f64 {
        match kind {
            InstanceKind::Reserved => self.reserved,
            InstanceKind::Spot => self.spot,
            InstanceKind::OnDemand => self.on_demand,
        }
    }

    /// Checks the shares: each in `[0, 1]`, summing to 1 within 1e-9.
    ///
    /// # Errors
    /// [`ha_core::Error::NotFinite`] / [`ha_core::Error::OutOfRange`] for a share outside
    /// `[0, 1]`; [`Error::MixDoesNotSumToOne`] otherwise.
    pub fn validate(&self) -> Result<()> {
        in_range("reserved share", self.reserved, 0.0, 1.0, "[0, 1]")?;
        in_range("spot share", self.spot, 0.0, 1.0, "[0, 1]")?;
        in_range("on-demand share", self.on_demand, 0.0, 1.0, "[0, 1]")?;
        let sum = self.reserved + self.spot + self.on_demand;
        if (sum - 1.0).abs() > 1e-9 {
            return Err(Error::MixDoesNotSumToOne { sum });
        }
        Ok(())
    }
}

/// What to plan for.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct MixConfig {
    /// The split between kinds.
    pub mix: CapacityMix,
    /// The reserve kept free at the peak, as a ratio of capacity in `[0, 1)`; default 0.3.
    pub headroom_ratio: f64,
}

impl Default for MixConfig {
    fn default() -> Self {
        Self {
            mix: CapacityMix::default(),
            headroom_ratio: 0.3,
        }
    }
}

impl MixConfig {
    /// Checks the mix and the headroom.
    ///
    /// # Errors
    /// See [`CapacityMix::validate`]; [`ha_core::Error::OutOfRange`] for a headroom outside
    /// `[0, 1)`.
    pub fn validate(&self) -> Result<()> {
        self.mix.validate()?;
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

/// Instances of one type in a plan.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PlanLine {
    /// The instance type's name.
    pub instance: String,
    /// How many.
    pub count: u64,
    /// Their capacity, `count × capacity`.
    pub capacity: f64,
    /// Their price for an hour.
    pub hourly_cost: f64,
}

/// The plan for one kind.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct KindPlan {
    /// The kind.
    pub kind: InstanceKind,
    /// The capacity it must cover, `share × needed`.
    pub required_capacity: f64,
    /// The capacity bought.
    pub capacity: f64,
    /// Its price for an hour.
    pub hourly_cost: f64,
    /// The instances, by type (only types bought).
    pub lines: Vec<PlanLine>,
    /// Whether the search proved this the cheapest (false only when it hit
    /// [`MAX_SEARCH_NODES`]).
    pub optimal: bool,
}

/// The cheapest plan covering a peak with its reserve, in the target mix.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct MixPlan {
    /// The peak demand planned for.
    pub peak_demand: f64,
    /// The capacity needed, `peak / (1 − headroom_ratio)`.
    pub required_capacity: f64,
    /// The capacity bought (at least the capacity needed).
    pub capacity: f64,
    /// Per kind with a share above 0, reserved first.
    pub kinds: Vec<KindPlan>,
    /// The price of the plan for an hour.
    pub hourly_cost: f64,
    /// The price of the plan for a month of [`HOURS_PER_MONTH`] hours.
    pub monthly_cost: f64,
}

/// The cheapest plan that covers `peak_demand` with the reserve, in the target mix.
///
/// ```
/// use ha_scale::{InstanceKind, InstanceType, MixConfig, plan_capacity_mix};
///
/// let offer = |name: &str, kind, capacity, hourly_price| InstanceType {
///     name: name.into(), kind, capacity, hourly_price,
/// };
/// let types = [
///     offer("large reserved", InstanceKind::Reserved, 400.0, 0.12),
///     offer("large spot", InstanceKind::Spot, 400.0, 0.06),
///     offer("large on-demand", InstanceKind::OnDemand, 400.0, 0.20),
///     offer("small on-demand", InstanceKind::OnDemand, 100.0, 0.05),
/// ];
/// // A peak of 2800 with a 30% reserve needs 4000: 2400 reserved, 1200 spot, 400 on-demand.
/// let plan = plan_capacity_mix(2800.0, &types, &MixConfig::default())?;
/// assert!((plan.required_capacity - 4000.0).abs() < 1e-9);
/// assert_eq!(plan.kinds[0].lines[0].count, 6); // 6 × 400 reserved
/// assert_eq!(plan.kinds[1].lines[0].count, 3); // 3 × 400 spot
/// // 4 small on-demand (0.20) tie with one large; 6 × 0.12 + 3 × 0.06 + 0.20 = 1.10 an hour.
/// assert!((plan.hourly_cost - 1.10).abs() < 1e-9);
/// assert!((plan.monthly_cost - 803.0).abs() < 1e-9);
/// # Ok::<(), ha_scale::Error>(())
/// ```
///
/// # Errors
/// Bad settings ([`MixConfig::validate`]); a peak that is negative, NaN or infinite; an
/// instance type with a non-positive capacity, a negative or non-finite price, or a name given
/// twice ([`Error::DuplicateInstanceType`]); a kind with a share above 0 and no type on offer
/// ([`Error::NoInstanceOfKind`]); more than [`MAX_INSTANCE_TYPES`] types, or a plan needing
/// more than [`MAX_INSTANCES_PER_TYPE`] of a type ([`ha_core::Error::TooLarge`]).
pub fn plan_capacity_mix(
    peak_demand: f64,
    types: &[InstanceType],
    config: &MixConfig,
) -> Result<MixPlan> {
    config.validate()?;
    in_range("peak demand", peak_demand, 0.0, f64::MAX, "[0, ∞)")?;
    if types.len() > MAX_INSTANCE_TYPES {
        return Err(ha_core::Error::TooLarge {
            name: "instance types",
            value: types.len() as u64,
            max: MAX_INSTANCE_TYPES as u64,
        }
        .into());
    }
    for (i, t) in types.iter().enumerate() {
        positive("instance capacity", t.capacity)?;
        in_range(
            "instance hourly price",
            t.hourly_price,
            0.0,
            f64::MAX,
            "[0, ∞)",
        )?;
        if types[..i].iter().any(|u| u.name == t.name) {
            return Err(Error::DuplicateInstanceType(t.name.clone()));
        }
    }
    let required = peak_demand / (1.0 - config.headroom_ratio);
    let mut kinds = Vec::new();
    for kind in InstanceKind::ALL {
        let share = config.mix.share(kind);
        if share <= 0.0 {
            continue;
        }
        let mut offer: Vec<&InstanceType> = types.iter().filter(|t| t.kind == kind).collect();
        if offer.is_empty() {
            return Err(Error::NoInstanceOfKind(kind));
        }
        // Best price per unit of capacity first; ties to the larger instance.
        offer.sort_by(|a, b| {
            (a.hourly_price / a.capacity)
                .total_cmp(&(b.hourly_price / b.capacity))
                .then(b.capacity.total_cmp(&a.capacity))
        });
        kinds.push(cover(kind, share * required, &offer)?);
    }
    let capacity = kinds.iter().map(|k| k.capacity).sum();
    let hourly_cost: f64 = kinds.iter().map(|k| k.hourly_cost).sum();
    let plan = MixPlan {
        peak_demand,
        required_capacity: required,
        capacity,
        kinds,
        hourly_cost,
        monthly_cost: hourly_cost * HOURS_PER_MONTH,
    };
    tracing::debug!(
        peak_demand,
        required,
        capacity,
        hourly_cost,
        monthly_cost = plan.monthly_cost,
        "capacity mix plan"
    );
    Ok(plan)
}

/// The branch and bound's state for one kind.
struct Search<'a> {
    offer: &'a [&'a InstanceType],
    /// Shortfall small enough to be rounding: `required × 1e-9`.
    tolerance: f64,
    counts: Vec<u64>,
    best: Option<(f64, Vec<u64>)>,
    nodes: usize,
}

impl Search<'_> {
    /// Chooses the count of type `i` onwards to cover `remaining` at least, having spent `cost`.
    fn go(&mut self, i: usize, remaining: f64, cost: f64) {
        if self.nodes >= MAX_SEARCH_NODES {
            return;
        }
        self.nodes += 1;
        if remaining <= self.tolerance {
            if self.best.as_ref().is_none_or(|(c, _)| cost < *c) {
                self.best = Some((cost, self.counts.clone()));
            }
            return;
        }
        let Some(t) = self.offer.get(i) else { return };
        // No plan from here costs less than covering the rest at this type's rate.
        let bound = cost + remaining * (t.hourly_price / t.capacity);
        if self.best.as_ref().is_some_and(|(c, _)| bound >= *c) {
            return;
        }
        let most = ((remaining - self.tolerance) / t.capacity).ceil() as u64;
        for n in (0..=most).rev() {
            self.counts[i] = n;
            let covered = n as f64 * t.capacity;
            self.go(i + 1, remaining - covered, cost + n as f64 * t.hourly_price);
            if self.nodes >= MAX_SEARCH_NODES {
                break;
            }
        }
        self.counts[i] = 0;
    }
}

/// The cheapest cover of `required` with the kind's types, sorted best rate first.
fn cover(kind: InstanceKind, required: f64, offer: &[&InstanceType]) -> Result<KindPlan> {
    let Some(first) = offer.first() else {
        return Err(Error::NoInstanceOfKind(kind));
    };
    // Rounding (4000 = 2800 / 0.7 computes as 4000.0000000000005) must not buy one more.
    let tolerance = required * 1e-9;
    let all_first = ((required - tolerance) / first.capacity).ceil().max(0.0);
    if all_first > MAX_INSTANCES_PER_TYPE as f64 {
        return Err(ha_core::Error::TooLarge {
            name: "instances of one type",
            value: all_first as u64,
            max: MAX_INSTANCES_PER_TYPE,
        }
        .into());
    }
    // The incumbent: all of the most efficient type.
    let mut seed = vec![0; offer.len()];
    seed[0] = all_first as u64;
    let mut search = Search {
        offer,
        tolerance,
        counts: vec![0; offer.len()],
        best: Some((all_first * first.hourly_price, seed)),
        nodes: 0,
    };
    search.go(0, required, 0.0);
    let optimal = search.nodes < MAX_SEARCH_NODES;
    let counts = search.best.map(|(_, c)| c).unwrap_or_default();
    let lines: Vec<PlanLine> = offer
        .iter()
        .zip(&counts)
        .filter(|(_, n)| **n > 0)
        .map(|(t, &n)| PlanLine {
            instance: t.name.clone(),
            count: n,
            capacity: n as f64 * t.capacity,
            hourly_cost: n as f64 * t.hourly_price,
        })
        .collect();
    let plan = KindPlan {
        kind,
        required_capacity: required,
        capacity: lines.iter().map(|l| l.capacity).sum(),
        hourly_cost: lines.iter().map(|l| l.hourly_cost).sum(),
        lines,
        optimal,
    };
    tracing::debug!(
        %kind,
        required,
        capacity = plan.capacity,
        hourly_cost = plan.hourly_cost,
        optimal,
        nodes = search.nodes,
        "capacity mix: kind covered"
    );
    Ok(plan)
}
