//! The one error type of ha-balance.

use ha_core::NodeId;

/// What went wrong when a balancer component was built, fed something it cannot take, or asked
/// for a pick it cannot make.
///
/// Settings are validated once, at construction; feedback naming an endpoint a component does
/// not hold and picks with nothing to pick from come back as values of this type, never a panic.
/// A normal refusal (a rate limit, an open breaker, a full bulkhead) is a value, not an error.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An endpoint set was built over no endpoints.
    #[error("an endpoint set needs at least one endpoint")]
    EmptyEndpointSet,
    /// The same endpoint id was given twice.
    #[error("endpoint {0} appears more than once")]
    DuplicateEndpoint(NodeId),
    /// Every endpoint of a new set has weight 0, so none would ever take a request.
    #[error("all {count} endpoints have weight 0; at least one must take requests")]
    AllWeightsZero {
        /// Endpoints given.
        count: usize,
    },
    /// No endpoint may take a request: each is unhealthy, draining or of weight 0 (or the set is
    /// empty after removals).
    #[error(
        "no endpoint is available: of {total}, {unhealthy} unhealthy, {draining} draining, {zero_weight} of weight 0"
    )]
    NoEndpointAvailable {
        /// Endpoints in the set.
        total: usize,
        /// Of them, not healthy or degraded.
        unhealthy: usize,
        /// Of them, draining.
        draining: usize,
        /// Of them, of weight 0.
        zero_weight: usize,
    },
    /// Feedback or a change named an endpoint the component does not track (never added, or
    /// removed since — after a drain, say). Nothing changed; callers may ignore it.
    #[error("endpoint {0} is not in the set")]
    UnknownEndpoint(String),
    /// A picker that places by request key was asked to pick without one.
    #[error("the {picker} picker places requests by key; call pick_key")]
    KeyRequired {
        /// The picker.
        picker: &'static str,
    },
    /// A region router was built over no regions.
    #[error("a region router needs at least one region")]
    NoRegions,
    /// The same region name was given twice.
    #[error("region {0} appears more than once")]
    DuplicateRegion(String),
    /// A region was named that the router does not hold.
    #[error("region {0} is not known")]
    UnknownRegion(String),
    /// Every region is unhealthy (or, by latency, none of the healthy ones has been measured
    /// and there is no order to fail over in — never: unmeasured regions rank last).
    #[error("no region is available: all {total} are unhealthy")]
    NoRegionAvailable {
        /// Regions known.
        total: usize,
    },
    /// A shared-vocabulary error from ha-core (a non-finite or out-of-range setting).
    #[error(transparent)]
    Core(#[from] ha_core::Error),
    /// A placement for the consistent-hash or Maglev picker could not be built.
    #[error(transparent)]
    Placement(#[from] ha_shard::Error),
    /// A permit was handed back to a component that did not issue it, or handed back twice.
    #[error("{component} did not issue this permit, or it was already released")]
    ForeignPermit {
        /// The component (`"concurrency limiter"`).
        component: &'static str,
    },
    /// A waiter ticket that is not (or no longer) in the queue.
    #[error("waiter ticket {0} is not in the queue")]
    UnknownTicket(u64),
}

/// `Result` with ha-balance's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Checks that `value` is a finite ratio in `(0, 1]`.
pub(crate) fn positive_ratio(name: &'static str, value: f64) -> Result<f64> {
    if !value.is_finite() {
        return Err(ha_core::Error::NotFinite { name, value }.into());
    }
    if value <= 0.0 || value > 1.0 {
        return Err(ha_core::Error::OutOfRange {
            name,
            value,
            range: "(0, 1]",
        }
        .into());
    }
    Ok(value)
}

/// Checks that a count is not zero.
pub(crate) fn non_zero(name: &'static str, value: u64) -> Result<u64> {
    if value == 0 {
        Err(ha_core::Error::Zero { name }.into())
    } else {
        Ok(value)
    }
}

pub(crate) use ha_core::validate::non_zero_duration;
