//! Dotted version vectors: a value's siblings, each tagged with the one event (its *dot*) that
//! wrote it, under one version vector for the whole set — the form Riak 2.0 keeps
//! (`dvv_enabled`), after Preguiça, Baquero, Almeida, Fonte and Gonçalves, "Dotted Version
//! Vectors: Logical Clocks for Optimistic Replication" (2010), and Almeida et al., "Scalable and
//! Accurate Causality Tracking for Eventually Consistent Stores" (DAIS 2014).
//!
//! Why: with one plain version vector per value and the coordinating replica as the actor, two
//! clients writing concurrently through the same coordinator either overwrite each other (a lost
//! write) or, with client ids as actors, grow the vector without bound. With dots, a write
//! carries the causal context the client read; it removes exactly the siblings that context
//! covers, and keeps the rest — so a write through the same coordinator that did not see a
//! sibling keeps it (a true sibling), and one that did see it replaces it (no false sibling).
//!
//! Followed: Riak's object model (siblings with dots, one clock). Where we differ: no
//! per-sibling timestamps or metadata; values are the caller's type.

use std::cmp::Ordering;

use ha_core::NodeId;

use crate::{Causality, Error, Result, VersionVector};

/// One event: the `counter`-th write coordinated by `actor`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Dot {
    /// The replica that coordinated the write.
    pub actor: NodeId,
    /// Its write number, from 1.
    pub counter: u64,
}

impl Dot {
    /// Whether `clock` has seen this event.
    #[must_use]
    pub fn is_covered_by(&self, clock: &VersionVector) -> bool {
        clock.contains(&self.actor, self.counter)
    }
}

/// A dotted version vector set: the concurrent values (siblings) of one key, each with its dot,
/// and the version vector of everything the set has seen (its causal context).
///
/// A client reads [`values`](Self::values) and [`context`](Self::context), and writes back with
/// that context: the write replaces every sibling the context covers. Replicas exchange whole
/// sets and [`merge`](Self::merge) them; merge is commutative, associative and idempotent.
///
/// ```
/// use ha_core::NodeId;
/// use ha_replication::{DvvSet, VersionVector};
///
/// let coordinator = NodeId::new("r1")?;
/// let mut key = DvvSet::new();
/// // Two clients read nothing, then both write through the same coordinator.
/// key.write(&coordinator, &VersionVector::new(), "x")?;
/// key.write(&coordinator, &VersionVector::new(), "y")?;
/// assert_eq!(key.values().collect::<Vec<_>>(), [&"x", &"y"]); // true siblings
/// // A client that read both writes one value: both siblings go.
/// let context = key.context().clone();
/// key.write(&coordinator, &context, "x+y")?;
/// assert_eq!(key.values().collect::<Vec<_>>(), [&"x+y"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Its serde form is the clock and the `(dot, value)` siblings; one read back with siblings out
/// of dot order, a dot twice, or a dot its clock has not seen is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(
        try_from = "DvvSetData<V>",
        into = "DvvSetData<V>",
        bound(
            serialize = "V: Clone + serde::Serialize",
            deserialize = "V: serde::Deserialize<'de>"
        )
    )
)]
pub struct DvvSet<V> {
    clock: VersionVector,
    /// Sorted by dot.
    siblings: Vec<(Dot, V)>,
}

/// The serde form of a [`DvvSet`].
#[derive(Debug, Clone)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
struct DvvSetData<V> {
    clock: VersionVector,
    siblings: Vec<(Dot, V)>,
}

impl<V> TryFrom<DvvSetData<V>> for DvvSet<V> {
    type Error = Error;

    fn try_from(data: DvvSetData<V>) -> Result<DvvSet<V>> {
        if data.siblings.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(Error::InvalidVersion(
                "siblings must be sorted by dot, each dot once",
            ));
        }
        if data
            .siblings
            .iter()
            .any(|(d, _)| d.counter == 0 || !d.is_covered_by(&data.clock))
        {
            return Err(Error::InvalidVersion(
                "every sibling's dot must be a seen event of the clock",
            ));
        }
        Ok(DvvSet {
            clock: data.clock,
            siblings: data.siblings,
        })
    }
}

impl<V> From<DvvSet<V>> for DvvSetData<V> {
    fn from(set: DvvSet<V>) -> DvvSetData<V> {
        DvvSetData {
            clock: set.clock,
            siblings: set.siblings,
        }
    }
}

impl<V> Default for DvvSet<V> {
    fn default() -> Self {
        DvvSet {
            clock: VersionVector::new(),
            siblings: Vec::new(),
        }
    }
}

impl<V> DvvSet<V> {
    /// The empty set: no value, nothing seen.
    #[must_use]
    pub fn new() -> DvvSet<V> {
        DvvSet::default()
    }

    /// The causal context to hand a client with the values: a write carrying it supersedes
    /// every value read.
    #[must_use]
    pub fn context(&self) -> &VersionVector {
        &self.clock
    }

    /// The siblings' values, in dot order.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.siblings.iter().map(|(_, v)| v)
    }

    /// The siblings with their dots, in dot order.
    #[must_use]
    pub fn siblings(&self) -> &[(Dot, V)] {
        &self.siblings
    }

    /// Whether the set holds no value.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.siblings.is_empty()
    }

    /// Whether a sibling written by the event `dot` is in the set. (Whether the set has *seen*
    /// the event, kept or superseded, is `dot.is_covered_by(set.context())`.)
    #[must_use]
    pub fn holds(&self, dot: &Dot) -> bool {
        self.siblings.iter().any(|(d, _)| d == dot)
    }

    /// Writes `value` as coordinator `actor` with the causal `context` the client read (empty
    /// for a blind write): removes every sibling `context` covers, adds `value` under a new dot,
    /// and returns the dot.
    ///
    /// # Errors
    /// [`Error::CounterOverflow`] if `actor`'s counter is at `u64::MAX`; nothing changes.
    pub fn write(&mut self, actor: &NodeId, context: &VersionVector, value: V) -> Result<Dot> {
        let counter = self
            .clock
            .get(actor)
            .max(context.get(actor))
            .checked_add(1)
            .ok_or(Error::CounterOverflow("dotted version vector"))?;
        let dot = Dot {
            actor: actor.clone(),
            counter,
        };
        let before = self.siblings.len();
        self.siblings.retain(|(d, _)| !d.is_covered_by(context));
        let replaced = before - self.siblings.len();
        self.clock.merge(context);
        self.clock.witness(actor, counter);
        // The new dot is the largest of its actor, so it sorts after its actor's siblings.
        let at = self
            .siblings
            .partition_point(|(d, _)| d.cmp(&dot) == Ordering::Less);
        self.siblings.insert(at, (dot.clone(), value));
        tracing::debug!(
            actor = %actor,
            counter,
            replaced,
            siblings = self.siblings.len(),
            "dotted write"
        );
        Ok(dot)
    }
}

impl<V: Clone> DvvSet<V> {
    /// Takes in a replica's copy of the same key: keeps each sibling of either side unless the
    /// other side has seen its dot and dropped it (it was superseded there), and merges the
    /// clocks.
    pub fn merge(&mut self, other: &DvvSet<V>) {
        // Fast paths, when one side's clock descends the other's. If `other` has seen all
        // `self` has, every sibling of `self` is covered by `other`'s clock and survives only if
        // `other` holds it too: the result is `other`'s siblings minus those `self` saw and
        // dropped — `other` itself when there are none. Symmetrically the other way round.
        match self.clock.compare(&other.clock) {
            Causality::Before
                if other
                    .siblings
                    .iter()
                    .all(|(d, _)| !d.is_covered_by(&self.clock) || self.holds(d)) =>
            {
                self.clock.clone_from(&other.clock);
                self.siblings.clone_from(&other.siblings);
                return;
            }
            Causality::After | Causality::Equal
                if self
                    .siblings
                    .iter()
                    .all(|(d, _)| !d.is_covered_by(&other.clock) || other.holds(d)) =>
            {
                return;
            }
            _ => {}
        }
        let mut merged: Vec<(Dot, V)> =
            Vec::with_capacity(self.siblings.len() + other.siblings.len());
        let (mut i, mut j) = (0, 0);
        let (a, b) = (&self.siblings, &other.siblings);
        while i < a.len() || j < b.len() {
            let order = match (a.get(i), b.get(j)) {
                (Some(x), Some(y)) => x.0.cmp(&y.0),
                (Some(_), None) => Ordering::Less,
                _ => Ordering::Greater,
            };
            match order {
                Ordering::Equal => {
                    merged.push(a[i].clone());
                    i += 1;
                    j += 1;
                }
                Ordering::Less => {
                    if !a[i].0.is_covered_by(&other.clock) {
                        merged.push(a[i].clone());
                    }
                    i += 1;
                }
                Ordering::Greater => {
                    if !b[j].0.is_covered_by(&self.clock) {
                        merged.push(b[j].clone());
                    }
                    j += 1;
                }
            }
        }
        self.siblings = merged;
        self.clock.merge(&other.clock);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> NodeId {
        NodeId::new(s).unwrap()
    }

    #[test]
    fn a_write_that_saw_a_sibling_replaces_it_and_one_that_did_not_keeps_it() {
        let r = id("r");
        let mut set = DvvSet::new();
        set.write(&r, &VersionVector::new(), 1).unwrap();
        let seen = set.context().clone();
        set.write(&r, &VersionVector::new(), 2).unwrap();
        set.write(&r, &seen, 3).unwrap();
        // 1 replaced by 3 (which saw it); 2 was not seen by 3, so it stays.
        assert_eq!(set.values().copied().collect::<Vec<_>>(), [2, 3]);
    }

    #[test]
    fn merge_drops_siblings_the_other_side_superseded() {
        let (r1, r2) = (id("r1"), id("r2"));
        let mut a = DvvSet::new();
        a.write(&r1, &VersionVector::new(), "old").unwrap();
        let mut b = a.clone();
        let ctx = b.context().clone();
        b.write(&r2, &ctx, "new").unwrap();
        let mut ab = a.clone();
        ab.merge(&b);
        let mut ba = b.clone();
        ba.merge(&a);
        assert_eq!(ab, ba);
        assert_eq!(ab.values().copied().collect::<Vec<_>>(), ["new"]);
        // Concurrent writes on both sides survive as siblings.
        a.write(&r1, &ctx, "other").unwrap();
        a.merge(&b);
        assert_eq!(a.values().copied().collect::<Vec<_>>(), ["other", "new"]);
    }
}
