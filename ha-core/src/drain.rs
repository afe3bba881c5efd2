//! The end of a drain: an instance or endpoint on its way out takes no new work and is let go
//! when its in-flight work has finished or its drain timeout has passed.
//!
//! The vocabulary the balancer that drains (ha-balance's `EndpointSet`) and the executor that
//! retires instances (ha-scale) share; the draining itself lives in ha-balance.

use std::time::Duration;

use crate::NodeId;

/// Why a drain ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum DrainEnd {
    /// Every in-flight request finished.
    Idle,
    /// The drain timeout passed with requests still in flight; they are abandoned.
    TimedOut,
}

/// An endpoint or instance whose drain is over: it takes no more work and may be shut down.
/// ha-balance's `EndpointSet::poll_drained` reports one as it removes a drained endpoint; an
/// executor retiring instances takes it as the signal to deregister and destroy.
///
/// ```
/// use std::time::Duration;
/// use ha_core::{DrainEnd, Drained, NodeId};
///
/// let drained = Drained {
///     id: NodeId::new("api-3")?,
///     end: DrainEnd::TimedOut,
///     elapsed: Duration::from_secs(300),
///     abandoned: 2,
/// };
/// assert!(drained.end == DrainEnd::TimedOut && drained.abandoned > 0);
/// # Ok::<(), ha_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Drained {
    /// The endpoint or instance.
    pub id: NodeId,
    /// Why the drain ended.
    pub end: DrainEnd,
    /// From the start of the drain to the poll that reported it.
    pub elapsed: Duration,
    /// Requests still in flight when it ended (0 unless it timed out).
    pub abandoned: u32,
}
