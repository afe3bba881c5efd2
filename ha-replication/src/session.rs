//! Session guarantees: read-your-writes and monotonic reads, by a token the client carries.

use ha_core::NodeId;

use crate::Position;

/// A state a session token can be compared with and grown by: a join semilattice.
///
/// Laws: `join` is commutative, associative and idempotent; `a.covers(b)` holds exactly when
/// joining `b` into `a` leaves `a` unchanged; after `a.join(b)`, `a` covers both.
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
    /// No replica has caught up: read from the primary, or wait for a replica.
    Primary,
}

/// A client session's token: what it has written and read, so far.
///
/// Following Terry et al., "Session Guarantees for Weakly Consistent Replicated Data" (1994):
/// the client's session keeps a token of everything it has written and read; a read goes only to
/// a replica whose state *covers* the token, so the client sees its own writes and never sees
/// the data go back in time, whichever replica serves it. When no replica has caught up, the
/// read goes to the primary (or waits).
///
/// The token is any type implementing [`Covers`]: a log [`Position`] for a single-primary log,
/// or a version vector for multi-writer replication (a vector covers another when it is at least
/// as large in every entry, and joining takes the entry-wise maximum).
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
/// assert_eq!(session.read_target(&replicas), ReadTarget::Replicas(vec![b.clone()]));
/// // b served a read at 125: from now on reads must come from at least 125.
/// session.on_read(&Position(125));
/// assert_eq!(session.read_target(&[(a, Position(124))]), ReadTarget::Primary);
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
    /// session's reads, in the order given; the primary when none may.
    #[must_use]
    pub fn read_target<'a, I>(&self, replicas: I) -> ReadTarget
    where
        I: IntoIterator<Item = &'a (NodeId, T)>,
        T: 'a,
    {
        let caught_up: Vec<NodeId> = replicas
            .into_iter()
            .filter(|(_, state)| self.can_read_from(state))
            .map(|(id, _)| id.clone())
            .collect();
        tracing::debug!(eligible = caught_up.len(), "session read target");
        if caught_up.is_empty() {
            ReadTarget::Primary
        } else {
            ReadTarget::Replicas(caught_up)
        }
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
        assert_eq!(s.read_target(&replicas), ReadTarget::Replicas(vec![y]));
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
        assert_eq!(s.read_target(&none), ReadTarget::Primary);
    }
}
