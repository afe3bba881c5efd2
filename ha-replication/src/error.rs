//! The one error type of ha-replication.

use std::time::Duration;

use ha_core::NodeId;

use crate::{Epoch, LagStage, Position};

/// What went wrong: a bad setting, or an input that contradicts what was fed before.
///
/// Every constructor validates its configuration once; every input that can be wrong (a position
/// or a time going backwards, an unknown replica) is refused with the state left unchanged.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A shared-vocabulary error from ha-core: a bad number, a zero duration, inverted settings.
    #[error(transparent)]
    Core(#[from] ha_core::Error),
    /// A replica was named that is not tracked.
    #[error("replica {0} is not tracked")]
    UnknownReplica(NodeId),
    /// A replica was added twice.
    #[error("replica {0} is already tracked")]
    DuplicateReplica(NodeId),
    /// The primary reported a write position below one it reported before.
    #[error("primary position went back from {previous} to {given}")]
    PrimaryPositionRegressed {
        /// The position reported before.
        previous: Position,
        /// The lower position now given.
        given: Position,
    },
    /// A replica reported a position below one it reported before, for one stage.
    #[error(
        "replica {replica} {stage} position went back from {previous} to {given}; reset the replica if it was re-cloned"
    )]
    ReplicaPositionRegressed {
        /// The replica.
        replica: NodeId,
        /// The stage whose position went back.
        stage: LagStage,
        /// The position reported before.
        previous: Position,
        /// The lower position now given.
        given: Position,
    },
    /// A replica reported stages out of their order: it cannot have flushed more than it wrote,
    /// or replayed more than it flushed.
    #[error(
        "replica {replica} reports write {write}, flush {flush}, replay {replay}; they must satisfy write ≥ flush ≥ replay"
    )]
    StagesOutOfOrder {
        /// The replica.
        replica: NodeId,
        /// Its write position.
        write: Position,
        /// Its flush position.
        flush: Position,
        /// Its replay position.
        replay: Position,
    },
    /// A replica reported a position the primary has not written.
    #[error("replica {replica} reports {reported}, beyond the primary's {primary}")]
    ReplicaAhead {
        /// The replica.
        replica: NodeId,
        /// The position it reported.
        reported: Position,
        /// The primary's latest position.
        primary: Position,
    },
    /// An event came with a time earlier than an event already taken in.
    #[error(
        "{what} is {behind:?} older than the latest one taken in; events must come in time order"
    )]
    TimeRegressed {
        /// What was fed (`"primary write"`, `"replica report"`, `"heartbeat"`).
        what: &'static str,
        /// How far before the latest event it lies.
        behind: Duration,
    },
    /// Every epoch up to `u64::MAX` has been used.
    #[error("no epochs left: every epoch up to {} has been used", u64::MAX)]
    EpochsExhausted,
    /// A promotion was recorded in an epoch not above the current one.
    #[error("{given} is not newer than the current {current}")]
    EpochNotNewer {
        /// The epoch given.
        given: Epoch,
        /// The current epoch.
        current: Epoch,
    },
    /// A promotion was recorded at a position before the previous epoch's fork.
    #[error("{epoch} cannot fork at {at}, before the previous fork at {previous}")]
    ForkBeforePrevious {
        /// The new epoch.
        epoch: Epoch,
        /// Where it was said to fork.
        at: Position,
        /// Where the previous epoch forked.
        previous: Position,
    },
    /// An epoch newer than any the history holds.
    #[error("{given} is newer than the current {current}")]
    UnknownEpoch {
        /// The epoch given.
        given: Epoch,
        /// The current epoch.
        current: Epoch,
    },
    /// A lease was renewed or resigned that is no longer the current one: it expired, or a
    /// newer epoch was elected.
    #[error("the lease of {holder} for {epoch} is no longer held")]
    LeaseLost {
        /// Who held it.
        holder: NodeId,
        /// Its epoch.
        epoch: Epoch,
    },
}

/// `Result` with ha-replication's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Checks that a duration is not zero.
pub(crate) fn non_zero(name: &'static str, value: Duration) -> Result<Duration> {
    if value.is_zero() {
        Err(ha_core::Error::Zero { name }.into())
    } else {
        Ok(value)
    }
}

/// Checks that `value` is finite and inside `[low, high]`, naming the range in `range`.
pub(crate) fn in_range(
    name: &'static str,
    value: f64,
    low: f64,
    high: f64,
    range: &'static str,
) -> Result<f64> {
    if !value.is_finite() {
        return Err(ha_core::Error::NotFinite { name, value }.into());
    }
    if value < low || value > high {
        return Err(ha_core::Error::OutOfRange { name, value, range }.into());
    }
    Ok(value)
}

/// A time regression of `latest - given`, for `what`.
pub(crate) fn time_regressed(
    what: &'static str,
    latest: std::time::Instant,
    given: std::time::Instant,
) -> Error {
    Error::TimeRegressed {
        what,
        behind: latest.saturating_duration_since(given),
    }
}
