//! Fencing by epoch: once a newer primary is elected, writes from a deposed one are refused.

use std::fmt;

use ha_core::NodeId;

use crate::{Error, Result};

/// A leadership term: each promotion takes a higher one. Epoch 0 is "none elected yet".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct Epoch(pub u64);

impl Epoch {
    /// The epoch after this one.
    ///
    /// # Errors
    /// [`Error::EpochsExhausted`] after `u64::MAX`.
    pub fn next(self) -> Result<Epoch> {
        self.0
            .checked_add(1)
            .map(Epoch)
            .ok_or(Error::EpochsExhausted)
    }
}

impl fmt::Display for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "epoch {}", self.0)
    }
}

/// What a [`Fence`] says to a write.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case", tag = "verdict")
)]
#[must_use]
pub enum FenceVerdict {
    /// The write's epoch is the newest known and its writer holds it: apply the write.
    Accepted,
    /// The write's epoch is older than the newest known: its writer was deposed.
    StaleEpoch {
        /// The epoch the write carried.
        given: Epoch,
        /// The newest epoch known.
        current: Epoch,
        /// Who holds the newest epoch, if known.
        holder: Option<NodeId>,
    },
    /// Another node already holds the write's epoch: two writers claim one epoch.
    WrongHolder {
        /// The epoch both claim.
        epoch: Epoch,
        /// Who holds it.
        holder: NodeId,
        /// Who tried to write.
        writer: NodeId,
    },
}

impl FenceVerdict {
    /// Whether the write may be applied.
    #[must_use]
    pub fn is_accepted(&self) -> bool {
        matches!(self, FenceVerdict::Accepted)
    }
}

/// The newest epoch a store has seen and its holder; checks each write's fencing token.
///
/// Every promotion takes a new, higher epoch (a term in Raft, a timeline in PostgreSQL, a
/// fencing token in Kleppmann's "How to do distributed locking"). The primary stamps each write
/// with its epoch; whatever stores the writes — a replica, a shared disk, an object store —
/// keeps a [`Fence`] and refuses any write stamped with an epoch older than the newest it has
/// seen. A deposed primary that wakes from a pause and still believes it leads is therefore
/// turned away by every store that heard of its successor. A fence also refuses a second node
/// claiming an epoch already held, so two primaries can never write in the same epoch.
///
/// ```
/// use ha_core::NodeId;
/// use ha_replication::{Epoch, Fence, FenceVerdict};
///
/// let (old, new) = (NodeId::new("db-1")?, NodeId::new("db-2")?);
/// let mut fence = Fence::new();
/// assert!(fence.admit(&old, Epoch(1)).is_accepted());
/// // db-2 is promoted in epoch 2; its first write raises the fence.
/// assert!(fence.admit(&new, Epoch(2)).is_accepted());
/// // db-1 wakes up and writes with its old epoch: refused.
/// assert!(matches!(fence.admit(&old, Epoch(1)), FenceVerdict::StaleEpoch { .. }));
/// // Nobody else may write in epoch 2.
/// assert!(matches!(fence.admit(&old, Epoch(2)), FenceVerdict::WrongHolder { .. }));
/// # Ok::<(), ha_replication::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Fence {
    current: Epoch,
    holder: Option<NodeId>,
}

impl Fence {
    /// A fence that has seen no epoch (epoch 0, no holder).
    #[must_use]
    pub fn new() -> Fence {
        Fence::default()
    }

    /// The newest epoch seen.
    #[must_use]
    pub fn current(&self) -> Epoch {
        self.current
    }

    /// Who holds the newest epoch, if known.
    #[must_use]
    pub fn holder(&self) -> Option<&NodeId> {
        self.holder.as_ref()
    }

    /// Learns that `holder` was elected in `epoch` (from the election backend, or a message
    /// carrying it), without a write. Older epochs are ignored: the fence never goes back.
    /// Returns whether the fence moved.
    pub fn observe(&mut self, holder: &NodeId, epoch: Epoch) -> bool {
        if epoch > self.current || (epoch == self.current && self.holder.is_none()) {
            tracing::debug!(from = self.current.0, to = epoch.0, %holder, "fence raised");
            self.current = epoch;
            self.holder = Some(holder.clone());
            true
        } else {
            false
        }
    }

    /// Checks a write by `writer` stamped with `epoch` and, when it is accepted, remembers the
    /// epoch: a newer epoch raises the fence for good.
    pub fn admit(&mut self, writer: &NodeId, epoch: Epoch) -> FenceVerdict {
        let verdict = self.check(writer, epoch);
        if verdict.is_accepted() {
            self.observe(writer, epoch);
        } else {
            tracing::debug!(%writer, given = epoch.0, current = self.current.0, ?verdict, "write fenced off");
        }
        verdict
    }

    /// What [`admit`](Self::admit) would say, without remembering anything.
    pub fn check(&self, writer: &NodeId, epoch: Epoch) -> FenceVerdict {
        // Epoch 0 is "none elected yet": no writer holds it.
        if epoch < self.current || epoch == Epoch(0) {
            return FenceVerdict::StaleEpoch {
                given: epoch,
                current: self.current,
                holder: self.holder.clone(),
            };
        }
        match &self.holder {
            Some(holder) if epoch == self.current && holder != writer => {
                FenceVerdict::WrongHolder {
                    epoch,
                    holder: holder.clone(),
                    writer: writer.clone(),
                }
            }
            _ => FenceVerdict::Accepted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> NodeId {
        NodeId::new(s).unwrap()
    }

    #[test]
    fn epoch_zero_is_never_admitted() {
        let mut fence = Fence::new();
        assert!(!fence.admit(&id("a"), Epoch(0)).is_accepted());
        assert!(fence.admit(&id("a"), Epoch(1)).is_accepted());
    }

    #[test]
    fn epochs_run_out_with_an_error() {
        assert_eq!(Epoch(1).next(), Ok(Epoch(2)));
        assert_eq!(Epoch(u64::MAX).next(), Err(Error::EpochsExhausted));
    }

    #[test]
    fn observing_an_older_epoch_changes_nothing() {
        let mut f = Fence::new();
        assert!(f.observe(&id("a"), Epoch(3)));
        assert!(!f.observe(&id("b"), Epoch(2)));
        assert!(!f.observe(&id("b"), Epoch(3)));
        assert_eq!((f.current(), f.holder()), (Epoch(3), Some(&id("a"))));
        assert_eq!(
            f.check(&id("b"), Epoch(2)),
            FenceVerdict::StaleEpoch {
                given: Epoch(2),
                current: Epoch(3),
                holder: Some(id("a"))
            }
        );
        // A refused write leaves the fence as it was.
        let _ = f.admit(&id("b"), Epoch(3));
        assert_eq!(f.holder(), Some(&id("a")));
    }
}
