//! Where each epoch's log forked from the previous one, as PostgreSQL's timeline history files
//! record it.

use crate::{Epoch, Error, Position, Result};

/// The fork points of the log: for each epoch, the last position it shares with the epoch
/// before it (the promoted replica's position when it was promoted).
///
/// After a failover the new primary writes its own records after its promotion position, while
/// the deposed primary may hold records past that point that no replica received. Those records
/// differ from the new primary's at the same positions, so the old primary cannot simply stream
/// from where it stands: it must first discard everything after the fork point, as `pg_rewind`
/// does with PostgreSQL's timeline history. [`divergence`](Self::divergence) says whether and
/// where; [`CatchUpConfig::plan_rejoin`](crate::CatchUpConfig::plan_rejoin) turns it into a plan.
///
/// ```
/// use ha_replication::{Epoch, EpochHistory, Position};
///
/// let mut history = EpochHistory::new(Epoch(1));
/// history.on_promotion(Epoch(2), Position(100))?; // r1 promoted at 100
/// // The old primary of epoch 1 stopped at 103: its 101..=103 are not the new primary's.
/// assert_eq!(history.divergence(Epoch(1), Position(103))?, Some(Position(100)));
/// // A replica of epoch 1 that stopped at 90 simply follows.
/// assert_eq!(history.divergence(Epoch(1), Position(90))?, None);
/// # Ok::<(), ha_replication::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(try_from = "Vec<(Epoch, Position)>", into = "Vec<(Epoch, Position)>")
)]
pub struct EpochHistory {
    /// `(epoch, fork position)`, epochs strictly increasing, fork positions non-decreasing; the
    /// first epoch forks at position 0.
    forks: Vec<(Epoch, Position)>,
}

impl EpochHistory {
    /// A history whose log began in `first`.
    #[must_use]
    pub fn new(first: Epoch) -> EpochHistory {
        EpochHistory {
            forks: vec![(first, Position::ZERO)],
        }
    }

    /// The current epoch.
    #[must_use]
    pub fn current(&self) -> Epoch {
        self.forks.last().map_or(Epoch(0), |f| f.0)
    }

    /// The epochs and their fork positions, oldest first.
    #[must_use]
    pub fn forks(&self) -> &[(Epoch, Position)] {
        &self.forks
    }

    /// A replica was promoted in `epoch` holding the log up to `at`: the new epoch forks there.
    ///
    /// # Errors
    /// [`Error::EpochNotNewer`] if `epoch` is not above the current one,
    /// [`Error::ForkBeforePrevious`] if `at` lies before the previous fork (the promoted replica
    /// would not hold records the previous epoch's primary had already built on); nothing
    /// changes.
    pub fn on_promotion(&mut self, epoch: Epoch, at: Position) -> Result<()> {
        let (current, previous_fork) = self.forks.last().copied().unwrap_or_default();
        if epoch <= current {
            return Err(Error::EpochNotNewer {
                given: epoch,
                current,
            });
        }
        if at < previous_fork {
            return Err(Error::ForkBeforePrevious {
                epoch,
                at,
                previous: previous_fork,
            });
        }
        tracing::debug!(epoch = epoch.0, at = at.0, "epoch forked");
        self.forks.push((epoch, at));
        Ok(())
    }

    /// For a node whose log was written in `epoch` (the newest epoch it followed) up to
    /// `position`: the position it must rewind to before following the current epoch, or `None`
    /// if its log is a prefix of the current one.
    ///
    /// # Errors
    /// [`Error::UnknownEpoch`] if `epoch` is newer than the current epoch.
    pub fn divergence(&self, epoch: Epoch, position: Position) -> Result<Option<Position>> {
        let current = self.current();
        if epoch > current {
            return Err(Error::UnknownEpoch {
                given: epoch,
                current,
            });
        }
        // The first epoch after the node's forked at `fork`: the node's records after it were
        // not carried into the current epoch. Later forks cannot lie below it.
        let fork = self
            .forks
            .iter()
            .find(|(e, _)| *e > epoch)
            .map(|(_, at)| *at);
        Ok(fork.filter(|&at| position > at))
    }

    /// How far the logs of epochs `a` and `b` agree: the last position both timelines share,
    /// or `None` when they are one timeline (the same epoch, or no recorded fork between them).
    ///
    /// The later of the two forked from the earlier's line at the first fork recorded after the
    /// earlier epoch; later forks cannot lie below it.
    ///
    /// ```
    /// use ha_replication::{Epoch, EpochHistory, Position};
    ///
    /// let mut history = EpochHistory::new(Epoch(1));
    /// history.on_promotion(Epoch(2), Position(100))?;
    /// history.on_promotion(Epoch(3), Position(150))?;
    /// assert_eq!(history.shared_prefix(Epoch(1), Epoch(3))?, Some(Position(100)));
    /// assert_eq!(history.shared_prefix(Epoch(3), Epoch(2))?, Some(Position(150)));
    /// assert_eq!(history.shared_prefix(Epoch(2), Epoch(2))?, None);
    /// # Ok::<(), ha_replication::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::UnknownEpoch`] if either epoch is newer than the current epoch.
    pub fn shared_prefix(&self, a: Epoch, b: Epoch) -> Result<Option<Position>> {
        let current = self.current();
        let (low, high) = if a <= b { (a, b) } else { (b, a) };
        if high > current {
            return Err(Error::UnknownEpoch {
                given: high,
                current,
            });
        }
        Ok(self
            .forks
            .iter()
            .find(|(e, _)| *e > low && *e <= high)
            .map(|(_, at)| *at))
    }
}

impl TryFrom<Vec<(Epoch, Position)>> for EpochHistory {
    type Error = Error;

    /// A history read back (from storage, from serde): checked as if each promotion were
    /// recorded again.
    fn try_from(forks: Vec<(Epoch, Position)>) -> Result<EpochHistory> {
        let mut entries = forks.into_iter();
        let Some((first, _)) = entries.next() else {
            return Err(ha_core::Error::Empty {
                name: "epoch history",
            }
            .into());
        };
        let mut history = EpochHistory::new(first);
        for (epoch, at) in entries {
            history.on_promotion(epoch, at)?;
        }
        Ok(history)
    }
}

impl From<EpochHistory> for Vec<(Epoch, Position)> {
    fn from(history: EpochHistory) -> Vec<(Epoch, Position)> {
        history.forks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_history_read_back_is_checked() {
        assert!(EpochHistory::try_from(Vec::new()).is_err());
        let bad = vec![(Epoch(2), Position(0)), (Epoch(1), Position(5))];
        assert!(EpochHistory::try_from(bad).is_err());
        let good = vec![(Epoch(1), Position(0)), (Epoch(2), Position(5))];
        let h = EpochHistory::try_from(good.clone()).unwrap();
        assert_eq!(Vec::from(h), good);
    }

    #[test]
    fn promotions_must_move_forward() {
        let mut h = EpochHistory::new(Epoch(1));
        h.on_promotion(Epoch(3), Position(50)).unwrap();
        assert_eq!(
            h.on_promotion(Epoch(3), Position(60)),
            Err(Error::EpochNotNewer {
                given: Epoch(3),
                current: Epoch(3)
            })
        );
        assert!(matches!(
            h.on_promotion(Epoch(4), Position(49)),
            Err(Error::ForkBeforePrevious { .. })
        ));
        assert_eq!(
            h.forks(),
            &[(Epoch(1), Position(0)), (Epoch(3), Position(50))]
        );
        assert!(matches!(
            h.divergence(Epoch(4), Position(1)),
            Err(Error::UnknownEpoch { .. })
        ));
    }

    #[test]
    fn a_node_of_the_current_epoch_or_behind_every_fork_never_diverges() {
        let mut h = EpochHistory::new(Epoch(1));
        h.on_promotion(Epoch(2), Position(100)).unwrap();
        h.on_promotion(Epoch(3), Position(150)).unwrap();
        assert_eq!(h.divergence(Epoch(3), Position(500)).unwrap(), None);
        assert_eq!(h.divergence(Epoch(2), Position(150)).unwrap(), None);
        assert_eq!(
            h.divergence(Epoch(2), Position(151)).unwrap(),
            Some(Position(150))
        );
        // An epoch the history skipped (never wrote) forks where the next known one does.
        assert_eq!(
            h.divergence(Epoch(0), Position(120)).unwrap(),
            Some(Position(0))
        );
        assert_eq!(
            h.divergence(Epoch(1), Position(120)).unwrap(),
            Some(Position(100))
        );
    }
}
