//! A position on one epoch's timeline: `(epoch, position)`, the session token that stays right
//! across a failover.

use std::fmt;

use crate::{Epoch, EpochHistory, Position, Result};

/// A position in the log of one epoch (a PostgreSQL timeline, a Raft term's log): "every record
/// up to `position`, as written on the timeline of `epoch`".
///
/// A bare [`Position`] is not enough once primaries change: after a failover the new primary
/// writes its own records from its promotion position on, so the old primary's position 1000
/// and the new primary's position 1000 may name different data. Two `EpochPosition`s of the same
/// epoch compare by position; across epochs only the [`EpochHistory`] (where each epoch forked)
/// says whether one log holds the other's records: see [`covers_in`](Self::covers_in).
///
/// ```
/// use ha_replication::{Epoch, EpochHistory, EpochPosition, Position};
///
/// let mut history = EpochHistory::new(Epoch(1));
/// history.on_promotion(Epoch(2), Position(990))?; // promoted holding 1..=990
/// let token = EpochPosition::new(Epoch(1), Position(1000)); // written on the old primary
/// // The new primary, even at 1005, does not hold records 991..=1000 of epoch 1.
/// let new_primary = EpochPosition::new(Epoch(2), Position(1005));
/// assert!(!new_primary.covers_in(&token, &history)?);
/// // A token within the shared part is held.
/// let early = EpochPosition::new(Epoch(1), Position(900));
/// assert!(new_primary.covers_in(&early, &history)?);
/// # Ok::<(), ha_replication::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct EpochPosition {
    /// The epoch whose timeline the position is on.
    pub epoch: Epoch,
    /// How far along it.
    pub position: Position,
}

impl EpochPosition {
    /// `position` on the timeline of `epoch`.
    #[must_use]
    pub fn new(epoch: Epoch, position: Position) -> EpochPosition {
        EpochPosition { epoch, position }
    }

    /// Whether a node at this state holds every record `token` names, knowing where each epoch
    /// forked: its position is at least the token's, and the two timelines agree at least up
    /// to the token's position.
    ///
    /// # Errors
    /// [`Error::UnknownEpoch`](crate::Error::UnknownEpoch) when either epoch is newer than the
    /// history's current one (the history is out of date).
    pub fn covers_in(&self, token: &EpochPosition, history: &EpochHistory) -> Result<bool> {
        if self.position < token.position {
            return Ok(false);
        }
        let shared = history.shared_prefix(self.epoch, token.epoch)?;
        Ok(shared.is_none_or(|at| at >= token.position))
    }
}

impl fmt::Display for EpochPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {}", self.epoch, self.position)
    }
}
