//! A position in a replicated log: how far a node has written, flushed or applied.

use std::fmt;

/// A position in the replicated log, as PostgreSQL's LSN or a Raft log index: a `u64` that only
/// grows on a given node while its epoch stays the same.
///
/// Position `p` means "every record up to and including `p`". What one unit is — a record, a
/// byte — is the caller's choice; lag "in records" is the difference of two positions in that
/// unit. Position 0 is the empty log.
///
/// ```
/// use ha_replication::Position;
///
/// let primary = Position(1_200);
/// let replica = Position(1_150);
/// assert_eq!(primary.records_after(replica), 50);
/// assert_eq!(replica.records_after(primary), 0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct Position(pub u64);

impl Position {
    /// The empty log.
    pub const ZERO: Position = Position(0);

    /// How many units this position lies after `earlier`; 0 when it does not.
    #[must_use]
    pub fn records_after(self, earlier: Position) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "position {}", self.0)
    }
}

impl From<u64> for Position {
    fn from(p: u64) -> Position {
        Position(p)
    }
}
