//! Conflicts: how replicas' copies of one key combine ([`Reconcile`]), and how a reader turns
//! siblings into an answer ([`ConflictResolver`]): last writer wins on hybrid-logical-clock
//! stamps, a user merge function, or the siblings themselves when neither wins.

use ha_core::NodeId;

use crate::{DvvSet, HlcTimestamp};

/// A replicated value whose copies combine into one that has seen everything either has seen.
///
/// `reconcile` must be commutative, associative and idempotent (a join), so replicas converge
/// whatever order copies arrive in; the read coordinator folds replies with it and repairs every
/// replica whose copy differs from the result.
pub trait Reconcile: Clone + PartialEq {
    /// Takes `other`'s information into `self`.
    fn reconcile(&mut self, other: &Self);
}

impl<V: Clone + PartialEq> Reconcile for DvvSet<V> {
    fn reconcile(&mut self, other: &Self) {
        self.merge(other);
    }
}

/// A value stamped by its writer for last-writer-wins: the copy with the greater
/// `(stamp, writer)` wins.
///
/// A hybrid logical clock never returns the same stamp twice, so one writer's stamps are unique
/// and the writer id breaks ties between writers; two copies with equal stamp and writer are the
/// same write — provided each writer's [`HybridClock`](crate::HybridClock) state is durable
/// across restarts (see its docs). A writer whose clock restarted from zero can stamp a new
/// value with a `(stamp, writer)` it already used: then `reconcile` keeps whichever copy a
/// replica holds, and replicas holding different ones never converge.
///
/// ```
/// use ha_core::NodeId;
/// use ha_replication::{HlcTimestamp, Reconcile, Stamped};
///
/// let early = HlcTimestamp { wall_nanos: 10, logical: 0 };
/// let late = HlcTimestamp { wall_nanos: 10, logical: 1 };
/// let mut a = Stamped::new("old", early, NodeId::new("w1")?);
/// a.reconcile(&Stamped::new("new", late, NodeId::new("w2")?));
/// assert_eq!(a.value, "new");
/// # Ok::<(), ha_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Stamped<V> {
    /// The value.
    pub value: V,
    /// When it was written.
    pub stamp: HlcTimestamp,
    /// Who wrote it.
    pub writer: NodeId,
}

impl<V> Stamped<V> {
    /// `value` written by `writer` at `stamp`.
    pub fn new(value: V, stamp: HlcTimestamp, writer: NodeId) -> Stamped<V> {
        Stamped {
            value,
            stamp,
            writer,
        }
    }

    /// Whether `self` wins over `other` under last-writer-wins.
    #[must_use]
    pub fn wins_over(&self, other: &Stamped<V>) -> bool {
        (self.stamp, &self.writer) > (other.stamp, &other.writer)
    }
}

impl<V: Clone + PartialEq> Reconcile for Stamped<V> {
    fn reconcile(&mut self, other: &Self) {
        if other.wins_over(self) {
            self.clone_from(other);
        }
    }
}

/// What a reader gets for a key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Resolved<V> {
    /// One value won, or the siblings were merged into one.
    Value(V),
    /// Concurrent values none of which wins: the application chooses, and writes back its choice
    /// with the causal context it read, which replaces them all.
    Siblings(Vec<V>),
}

/// Turns a key's siblings (never empty) into an answer.
pub trait ConflictResolver<V> {
    /// Resolves `siblings`, given in a deterministic order (dot order for a [`DvvSet`]).
    fn resolve(&self, siblings: Vec<V>) -> Resolved<V>;
}

/// Resolves nothing: one value is returned as is, several as [`Resolved::Siblings`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeepSiblings;

impl<V> ConflictResolver<V> for KeepSiblings {
    fn resolve(&self, mut siblings: Vec<V>) -> Resolved<V> {
        if siblings.len() == 1 {
            if let Some(only) = siblings.pop() {
                return Resolved::Value(only);
            }
        }
        Resolved::Siblings(siblings)
    }
}

/// Last writer wins: the sibling with the greatest `(stamp, writer)`. Concurrent writes other
/// than the winner are discarded — the price of never showing siblings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LastWriterWins;

impl<V> ConflictResolver<Stamped<V>> for LastWriterWins {
    fn resolve(&self, siblings: Vec<Stamped<V>>) -> Resolved<Stamped<V>> {
        let mut winner: Option<Stamped<V>> = None;
        for s in siblings {
            match &winner {
                Some(w) if !s.wins_over(w) => {}
                _ => winner = Some(s),
            }
        }
        match winner {
            Some(w) => Resolved::Value(w),
            None => Resolved::Siblings(Vec::new()),
        }
    }
}

/// A user merge function folded over the siblings in order (for a set union, a counter's
/// maximum, a shopping cart). It should be commutative and associative, or the answer depends on
/// sibling order.
///
/// ```
/// use ha_replication::{ConflictResolver, MergeWith, Resolved};
///
/// let union = MergeWith(|a: &Vec<u32>, b: &Vec<u32>| {
///     let mut out = a.clone();
///     out.extend(b.iter().filter(|x| !a.contains(x)));
///     out.sort();
///     out
/// });
/// assert_eq!(union.resolve(vec![vec![1, 2], vec![2, 3]]), Resolved::Value(vec![1, 2, 3]));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct MergeWith<F>(pub F);

impl<V, F: Fn(&V, &V) -> V> ConflictResolver<V> for MergeWith<F> {
    fn resolve(&self, siblings: Vec<V>) -> Resolved<V> {
        let mut iter = siblings.into_iter();
        match iter.next() {
            Some(first) => Resolved::Value(iter.fold(first, |acc, v| (self.0)(&acc, &v))),
            None => Resolved::Siblings(Vec::new()),
        }
    }
}

impl<V: Clone> DvvSet<V> {
    /// The set's values resolved by `resolver`, or `None` if it holds none.
    ///
    /// ```
    /// use ha_core::NodeId;
    /// use ha_replication::{DvvSet, KeepSiblings, Resolved, VersionVector};
    ///
    /// let r = NodeId::new("r")?;
    /// let mut key = DvvSet::new();
    /// key.write(&r, &VersionVector::new(), 1)?;
    /// assert_eq!(key.resolve(&KeepSiblings), Some(Resolved::Value(1)));
    /// key.write(&r, &VersionVector::new(), 2)?;
    /// assert_eq!(key.resolve(&KeepSiblings), Some(Resolved::Siblings(vec![1, 2])));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn resolve<R: ConflictResolver<V>>(&self, resolver: &R) -> Option<Resolved<V>> {
        if self.is_empty() {
            return None;
        }
        Some(resolver.resolve(self.values().cloned().collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamped(v: u32, wall: u64, writer: &str) -> Stamped<u32> {
        Stamped::new(
            v,
            HlcTimestamp {
                wall_nanos: wall,
                logical: 0,
            },
            NodeId::new(writer).unwrap(),
        )
    }

    #[test]
    fn last_writer_wins_picks_the_greatest_stamp_then_writer() {
        let resolved = LastWriterWins.resolve(vec![
            stamped(1, 5, "b"),
            stamped(2, 7, "a"),
            stamped(3, 7, "c"),
        ]);
        assert_eq!(resolved, Resolved::Value(stamped(3, 7, "c")));
    }

    #[test]
    fn lww_reconcile_is_order_independent() {
        let (x, y) = (stamped(1, 5, "b"), stamped(2, 5, "a"));
        let mut xy = x.clone();
        xy.reconcile(&y);
        let mut yx = y.clone();
        yx.reconcile(&x);
        assert_eq!(xy, yx);
        assert_eq!(xy.value, 1);
    }

    #[test]
    fn keep_siblings_returns_one_value_as_a_value() {
        assert_eq!(KeepSiblings.resolve(vec![4]), Resolved::Value(4));
        assert_eq!(
            KeepSiblings.resolve(vec![4, 5]),
            Resolved::Siblings(vec![4, 5])
        );
    }
}
