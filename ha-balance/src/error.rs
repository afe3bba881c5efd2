//! The one error type of ha-balance.

use ha_core::NodeId;

/// What went wrong when a balancer component was built or fed something it cannot take.
///
/// Settings are checked once, at construction; a normal refusal (a rate limit, an open breaker,
/// a full bulkhead) is a value, not an error.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A shared-vocabulary error from ha-core: a setting out of range, zero, not finite or too
    /// large.
    #[error(transparent)]
    Core(#[from] ha_core::Error),
    /// An endpoint was named that the component does not track.
    #[error("endpoint {0} is not tracked")]
    UnknownEndpoint(NodeId),
    /// The same endpoint was added twice.
    #[error("endpoint {0} is already tracked")]
    DuplicateEndpoint(NodeId),
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

/// Checks that a duration is not zero.
pub(crate) fn non_zero_duration(
    name: &'static str,
    value: std::time::Duration,
) -> Result<std::time::Duration> {
    if value.is_zero() {
        Err(ha_core::Error::Zero { name }.into())
    } else {
        Ok(value)
    }
}
