//! Session guarantees: read-your-writes and monotonic reads, by a token the client carries.

use ha_core::NodeId;

use crate::{EpochHistory, EpochPosition, Position, Result};

/// A state a session token can be compared with and grown by: a join semilattice.
///
/// Laws: `join` is commutative, associative and idempotent; `a.covers(b)` implies that joining
/// `b` into `a` leaves `a` unchanged (a `covers` that cannot tell answers no, never a wrong
/// yes). For [`Position`] and [`VersionVector`](crate::VersionVector) it is exact: `a.covers(b)`
/// holds exactly when the join leaves `a` unchanged, and after `a.join(b)`, `a` covers both.
/// For [`EpochPosition`] it is exact within one epoch and answers no across epochs, where only
/// the [`EpochHistory`] can tell ([`Session::read_target_in`]).
pub trait Covers {
    /// Whether this state includes everything `other` includes.
    fn covers(&self, other: &Self) -> bool;

    /// Grows this state to include `other` (the least upper bound of the two).
    fn join(&mut self, other: &Self);
}

impl Covers for Position {
    fn covers(&self, other: &Position) -> bool {
        self >= other
    }

    fn join(&mut self, other: &Position) {
        if *other > *self {
            *self = *other;
        }
    }
}

/// Within one epoch, a position covers every position up to it; a state of another epoch is
/// never said to cover (whether the timelines agree that far needs the [`EpochHistory`]: use
/// [`Session::read_target_in`]), except that everything covers the empty token. Joining keeps
/// the later epoch's position (the larger `(epoch, position)`): a session that read or wrote on
/// a newer timeline goes on from there.
impl Covers for EpochPosition {
    fn covers(&self, other: &EpochPosition) -> bool {
        *other == EpochPosition::default()
            || (self.epoch == other.epoch && self.position >= other.position)
    }

    fn join(&mut self, other: &EpochPosition) {
        if *other > *self {
            *self = *other;
        }
    }
}

/// A version vector covers another when it descends from it (equal or after), and joins by
/// merging: a session token of a version vector gives read-your-writes over multi-writer data.
impl Covers for crate::VersionVector {
    fn covers(&self, other: &crate::VersionVector) -> bool {
        self.descends(other)
    }

    fn join(&mut self, other: &crate::VersionVector) {
        self.merge(other);
    }
}

/// Where a session's read may go.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case", tag = "to")
)]
pub enum ReadTarget {
    /// Any of these replicas (in the order given) has caught up with the session.
    Replicas(Vec<NodeId>),
    /// No replica has caught up, the primary has: read from the primary.
    Primary,
    /// Nobody known has caught up with the session, not even the primary (a newly promoted
    /// primary still applying its predecessor's log, or no primary known): wait and ask again.
    Wait,
    /// The session read or wrote records past `fork` on the timeline of `epoch` that a failover
    /// discarded: the current timeline forked from it at `fork`, so no node will ever hold them.
    /// Tell the client its latest writes may be lost; [`Session::rebase`] moves the session
    /// onto the current timeline.
    Diverged {
        /// The epoch of the session's token.
        epoch: crate::Epoch,
        /// The last position of that epoch the current timeline kept.
        fork: Position,
    },
}

/// A client session's token: what it has written and read, so far.
///
/// Following Terry et al., "Session Guarantees for Weakly Consistent Replicated Data" (1994):
/// the client's session keeps a token of everything it has written and read; a read goes only to
/// a replica whose state *covers* the token, so the client sees its own writes and never sees
/// the data go back in time, whichever replica serves it. When no replica has caught up, the
/// read goes to the primary if it has, and otherwise waits.
///
/// The token is any type implementing [`Covers`]: an [`EpochPosition`] for a single-primary log
/// that fails over (use [`read_target_in`](Self::read_target_in) with the [`EpochHistory`]), a
/// bare log [`Position`] only where the primary never changes, or a version vector for
/// multi-writer replication (a vector covers another when it is at least as large in every
/// entry, and joining takes the entry-wise maximum).
///
/// Why the epoch: after a failover the new primary writes its own records from its promotion
/// position on. A bare position 1000 acknowledged by the old primary is then "covered" by the
/// new primary at 1005 although its records 991..=1000 differ; an `EpochPosition` token is
/// judged against where the epochs forked and comes out [`ReadTarget::Diverged`] instead.
///
/// ```
/// use ha_core::NodeId;
/// use ha_replication::{Position, ReadTarget, Session};
///
/// let mut session = Session::<Position>::new();
/// session.on_write(Position(120)); // the primary acknowledged the write at 120
/// let (a, b) = (NodeId::new("a")?, NodeId::new("b")?);
/// let replicas = [(a.clone(), Position(100)), (b.clone(), Position(125))];
/// // Only b has the session's write.
/// let primary = Position(130);
/// assert_eq!(session.read_target(Some(&primary), &replicas), ReadTarget::Replicas(vec![b.clone()]));
/// // b served a read at 125: from now on reads must come from at least 125.
/// session.on_read(&Position(125));
/// assert_eq!(session.read_target(Some(&primary), &[(a.clone(), Position(124))]), ReadTarget::Primary);
/// // Nobody at 125 (the primary's position unknown): wait.
/// assert_eq!(session.read_target(None, &[(a, Position(124))]), ReadTarget::Wait);
/// # Ok::<(), ha_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Session<T> {
    token: T,
}

impl<T: Covers + Default> Session<T> {
    /// A session that has written and read nothing.
    #[must_use]
    pub fn new() -> Session<T> {
        Session {
            token: T::default(),
        }
    }
}

impl<T: Covers> Session<T> {
    /// A session resumed from a token the client kept (a cookie, a header).
    #[must_use]
    pub fn from_token(token: T) -> Session<T> {
        Session { token }
    }

    /// The session's token, to hand to the client.
    #[must_use]
    pub fn token(&self) -> &T {
        &self.token
    }

    /// A write of this session was acknowledged at `at` (read-your-writes).
    pub fn on_write(&mut self, at: T) {
        self.token.join(&at);
    }

    /// A read of this session was served by a replica at state `at` (monotonic reads).
    pub fn on_read(&mut self, at: &T) {
        self.token.join(at);
    }

    /// Whether a replica at state `replica` may serve this session's reads.
    #[must_use]
    pub fn can_read_from(&self, replica: &T) -> bool {
        replica.covers(&self.token)
    }

    /// The replicas, among `replicas` (each with its current state), that may serve this
    /// session's reads, in the order given; else the primary if its state (`primary`, `None`
    /// when unknown) covers the token; else [`ReadTarget::Wait`].
    #[must_use]
    pub fn read_target<'a, I>(&self, primary: Option<&T>, replicas: I) -> ReadTarget
    where
        I: IntoIterator<Item = &'a (NodeId, T)>,
        T: 'a,
    {
        let caught_up: Vec<NodeId> = replicas
            .into_iter()
            .filter(|(_, state)| self.can_read_from(state))
            .map(|(id, _)| id.clone())
            .collect();
        let primary_covers = primary.is_some_and(|p| self.can_read_from(p));
        tracing::debug!(
            eligible = caught_up.len(),
            primary_covers,
            "session read target"
        );
        if !caught_up.is_empty() {
            ReadTarget::Replicas(caught_up)
        } else if primary_covers {
            ReadTarget::Primary
        } else {
            ReadTarget::Wait
        }
    }
}

impl Session<EpochPosition> {
    /// Where this session's read may go across failovers, judged with the epochs' fork points:
    /// [`ReadTarget::Diverged`] if the current timeline discarded part of what the session saw;
    /// else the replicas whose state holds the token's records (whatever epoch they are on —
    /// [`EpochPosition::covers_in`]), in the order given; else the primary if it holds them;
    /// else [`ReadTarget::Wait`].
    ///
    /// ```
    /// use ha_core::NodeId;
    /// use ha_replication::{Epoch, EpochHistory, EpochPosition, Position, ReadTarget, Session};
    ///
    /// let at = |e, p| EpochPosition::new(Epoch(e), Position(p));
    /// let mut session = Session::<EpochPosition>::new();
    /// session.on_write(at(1, 1000)); // acknowledged by the primary of epoch 1
    /// // It fails; r1, promoted at 990, is the primary of epoch 2 and reaches 1005.
    /// let mut history = EpochHistory::new(Epoch(1));
    /// history.on_promotion(Epoch(2), Position(990))?;
    /// let r2 = NodeId::new("r2")?;
    /// let target = session.read_target_in(&history, Some(&at(2, 1005)), &[(r2, at(2, 1005))])?;
    /// assert_eq!(target, ReadTarget::Diverged { epoch: Epoch(1), fork: Position(990) });
    /// // Had r1 been promoted at 1000, the write survives, but only from 1000 on epoch 2.
    /// let mut history = EpochHistory::new(Epoch(1));
    /// history.on_promotion(Epoch(2), Position(1000))?;
    /// assert_eq!(session.read_target_in(&history, Some(&at(2, 995)), &[])?, ReadTarget::Wait);
    /// assert_eq!(session.read_target_in(&history, Some(&at(2, 1001)), &[])?, ReadTarget::Primary);
    /// # Ok::<(), ha_replication::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::UnknownEpoch`](crate::Error::UnknownEpoch) if the token or a node names an
    /// epoch newer than `history` knows (bring the history up to date first).
    pub fn read_target_in<'a, I>(
        &self,
        history: &EpochHistory,
        primary: Option<&EpochPosition>,
        replicas: I,
    ) -> Result<ReadTarget>
    where
        I: IntoIterator<Item = &'a (NodeId, EpochPosition)>,
    {
        let token = self.token;
        if let Some(fork) = history.divergence(token.epoch, token.position)? {
            tracing::debug!(%token, fork = fork.0, "session token diverged from the current timeline");
            return Ok(ReadTarget::Diverged {
                epoch: token.epoch,
                fork,
            });
        }
        let mut caught_up = Vec::new();
        for (id, state) in replicas {
            if state.covers_in(&token, history)? {
                caught_up.push(id.clone());
            }
        }
        let primary_covers = match primary {
            Some(p) => p.covers_in(&token, history)?,
            None => false,
        };
        tracing::debug!(%token, eligible = caught_up.len(), primary_covers, "session read target");
        Ok(if !caught_up.is_empty() {
            ReadTarget::Replicas(caught_up)
        } else if primary_covers {
            ReadTarget::Primary
        } else {
            ReadTarget::Wait
        })
    }

    /// Moves the token onto the current epoch of `history`: a token whose records the current
    /// timeline kept becomes the same position on the current epoch (exactly equivalent, and
    /// then comparable with [`Covers::covers`]); a token the timeline discarded part of is cut
    /// back to the fork. Returns the fork in that second case (the session's writes after it
    /// may be lost), `None` in the first.
    ///
    /// # Errors
    /// [`Error::UnknownEpoch`](crate::Error::UnknownEpoch) if the token's epoch is newer than
    /// `history` knows; the token is unchanged.
    pub fn rebase(&mut self, history: &EpochHistory) -> Result<Option<Position>> {
        let diverged = history.divergence(self.token.epoch, self.token.position)?;
        let position = diverged.unwrap_or(self.token.position);
        self.token = EpochPosition::new(history.current(), position);
        tracing::debug!(token = %self.token, ?diverged, "session token rebased");
        Ok(diverged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::VersionVector;

    #[test]
    fn a_version_vector_token_needs_every_entry_covered() {
        let v = |pairs: &[(&str, u64)]| {
            VersionVector::from_entries(
                pairs
                    .iter()
                    .map(|&(actor, n)| (NodeId::new(actor).unwrap(), n)),
            )
        };
        let mut s = Session::<VersionVector>::new();
        s.on_write(v(&[("a", 3)]));
        s.on_read(&v(&[("b", 2)]));
        assert_eq!(*s.token(), v(&[("a", 3), ("b", 2)]));
        let (x, y) = (NodeId::new("x").unwrap(), NodeId::new("y").unwrap());
        let replicas = [
            (x.clone(), v(&[("a", 5), ("b", 1)])), // concurrent: misses b's 2
            (y.clone(), v(&[("a", 3), ("b", 2), ("c", 9)])),
        ];
        assert_eq!(
            s.read_target(None, &replicas),
            ReadTarget::Replicas(vec![y])
        );
    }

    #[test]
    fn the_token_never_goes_back() {
        let mut s = Session::from_token(Position(50));
        s.on_write(Position(10));
        s.on_read(&Position(40));
        assert_eq!(*s.token(), Position(50));
        assert!(s.can_read_from(&Position(50)));
        assert!(!s.can_read_from(&Position(49)));
        let none: [(NodeId, Position); 0] = [];
        assert_eq!(
            s.read_target(Some(&Position(50)), &none),
            ReadTarget::Primary
        );
        assert_eq!(s.read_target(Some(&Position(49)), &none), ReadTarget::Wait);
    }

    fn at(e: u64, p: u64) -> EpochPosition {
        EpochPosition::new(crate::Epoch(e), Position(p))
    }

    /// Review item 7: a token of 1000 from the old primary; the new primary was promoted at 990
    /// and is now at 990, then at 1005 on its own timeline. A bare position would send the read
    /// to the new primary (before 1000) and then call it covered (after 1005); the epoch token
    /// says the records are gone.
    #[test]
    fn a_token_from_the_old_primary_is_not_covered_by_a_new_primary_at_a_lower_or_unrelated_position()
     {
        let mut history = EpochHistory::new(crate::Epoch(1));
        history
            .on_promotion(crate::Epoch(2), Position(990))
            .unwrap();
        // What a bare position says, wrongly.
        let bare = Session::from_token(Position(1000));
        let none: [(NodeId, Position); 0] = [];
        assert_eq!(
            bare.read_target(Some(&Position(1005)), &none),
            ReadTarget::Primary
        );

        let mut session = Session::<EpochPosition>::new();
        session.on_write(at(1, 1000));
        for primary in [at(2, 990), at(2, 1005)] {
            assert!(!session.can_read_from(&primary));
            assert_eq!(
                session
                    .read_target_in(&history, Some(&primary), &[])
                    .unwrap(),
                ReadTarget::Diverged {
                    epoch: crate::Epoch(1),
                    fork: Position(990)
                }
            );
        }
        // An old-epoch replica that still holds 1000 is not on the current timeline either.
        let r = NodeId::new("r").unwrap();
        assert!(matches!(
            session.read_target_in(&history, None, &[(r.clone(), at(1, 1000))]),
            Ok(ReadTarget::Diverged { .. })
        ));
        // Rebasing cuts the token back to the fork, on epoch 2.
        assert_eq!(session.rebase(&history).unwrap(), Some(Position(990)));
        assert_eq!(*session.token(), at(2, 990));
        assert_eq!(
            session
                .read_target_in(&history, Some(&at(2, 1005)), &[])
                .unwrap(),
            ReadTarget::Primary
        );
        // A history that does not know epoch 3 is out of date.
        assert!(
            session
                .read_target_in(&history, Some(&at(3, 2000)), &[])
                .is_err()
        );
    }

    #[test]
    fn a_token_the_new_timeline_kept_is_covered_across_epochs_and_rebases_exactly() {
        let mut history = EpochHistory::new(crate::Epoch(1));
        history
            .on_promotion(crate::Epoch(2), Position(1000))
            .unwrap();
        let mut session = Session::from_token(at(1, 1000));
        let (old, new) = (NodeId::new("old").unwrap(), NodeId::new("new").unwrap());
        let replicas = [(old.clone(), at(1, 1003)), (new.clone(), at(2, 999))];
        // The old-epoch replica holds 1..=1000, the same records as epoch 2's; the new one is
        // short of 1000.
        assert_eq!(
            session.read_target_in(&history, None, &replicas).unwrap(),
            ReadTarget::Replicas(vec![old])
        );
        assert_eq!(session.rebase(&history).unwrap(), None);
        assert_eq!(*session.token(), at(2, 1000));
        session.on_read(&at(2, 1010));
        assert_eq!(*session.token(), at(2, 1010));
        assert!(session.can_read_from(&at(2, 1010)));
        assert!(!session.can_read_from(&at(1, 5000)));
    }
}
