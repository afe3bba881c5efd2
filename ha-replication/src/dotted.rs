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
use std::fmt;
use std::sync::Arc;

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
///
/// A set is shared, copy-on-write, behind an [`Arc`]: cloning one (a read coordinator keeping a
/// replica's copy, handing out the answer and its repairs) copies a pointer, not the clock and
/// the values; a write or merge copies only when the set is shared.
#[derive(Clone)]
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
    inner: Arc<Inner<V>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Inner<V> {
    clock: VersionVector,
    /// Sorted by dot.
    siblings: Vec<(Dot, V)>,
}

impl<V: fmt::Debug> fmt::Debug for DvvSet<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DvvSet")
            .field("clock", &self.inner.clock)
            .field("siblings", &self.inner.siblings)
            .finish()
    }
}

impl<V: PartialEq> PartialEq for DvvSet<V> {
    fn eq(&self, other: &DvvSet<V>) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner) || self.inner == other.inner
    }
}

impl<V: Eq> Eq for DvvSet<V> {}

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
            inner: Arc::new(Inner {
                clock: data.clock,
                siblings: data.siblings,
            }),
        })
    }
}

impl<V: Clone> From<DvvSet<V>> for DvvSetData<V> {
    fn from(set: DvvSet<V>) -> DvvSetData<V> {
        let inner = Arc::unwrap_or_clone(set.inner);
        DvvSetData {
            clock: inner.clock,
            siblings: inner.siblings,
        }
    }
}

impl<V> Default for DvvSet<V> {
    fn default() -> Self {
        DvvSet {
            inner: Arc::new(Inner {
                clock: VersionVector::new(),
                siblings: Vec::new(),
            }),
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
        &self.inner.clock
    }

    /// The siblings' values, in dot order.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.inner.siblings.iter().map(|(_, v)| v)
    }

    /// The siblings with their dots, in dot order.
    #[must_use]
    pub fn siblings(&self) -> &[(Dot, V)] {
        &self.inner.siblings
    }

    /// Whether the set holds no value.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.inner.siblings.is_empty()
    }

    /// Whether a sibling written by the event `dot` is in the set. (Whether the set has *seen*
    /// the event, kept or superseded, is `dot.is_covered_by(set.context())`.)
    #[must_use]
    pub fn holds(&self, dot: &Dot) -> bool {
        self.inner.siblings.iter().any(|(d, _)| d == dot)
    }
}

impl<V: Clone> DvvSet<V> {
    /// Writes `value` as coordinator `actor` with the causal `context` the client read (empty
    /// for a blind write): removes every sibling `context` covers, adds `value` under a new dot,
    /// and returns the dot.
    ///
    /// **Durability.** The new dot's counter comes from this set's clock (and the context), so
    /// `self` must be the coordinator's own up-to-date, durably stored copy of the key, and the
    /// stored set (its clock) must survive restarts. If the coordinator writes into a copy that
    /// lost its entry for `actor` — a restart with an empty or older store, a stand-in that
    /// dropped the key, a pruned clock — a blind write reissues a dot such as `actor:1` that
    /// already named another write. Then replicas whose clock has seen `actor:1` but do not
    /// hold it discard the new value on merge (an acknowledged write lost), and replicas that
    /// hold the old `actor:1` keep whichever value they merged first (merge stops being
    /// commutative, so replicas never converge). Read-before-write with the stored copy, or
    /// recover the actor's counter from the other replicas before it coordinates again.
    ///
    /// # Errors
    /// [`Error::CounterOverflow`] if `actor`'s counter is at `u64::MAX`; nothing changes.
    pub fn write(&mut self, actor: &NodeId, context: &VersionVector, value: V) -> Result<Dot> {
        let counter = self
            .inner
            .clock
            .get(actor)
            .max(context.get(actor))
            .checked_add(1)
            .ok_or(Error::CounterOverflow("dotted version vector"))?;
        let dot = Dot {
            actor: actor.clone(),
            counter,
        };
        let inner = Arc::make_mut(&mut self.inner);
        let before = inner.siblings.len();
        inner.siblings.retain(|(d, _)| !d.is_covered_by(context));
        let replaced = before - inner.siblings.len();
        inner.clock.merge(context);
        inner.clock.witness(actor, counter);
        // The new dot is the largest of its actor, so it sorts after its actor's siblings.
        let at = inner
            .siblings
            .partition_point(|(d, _)| d.cmp(&dot) == Ordering::Less);
        inner.siblings.insert(at, (dot.clone(), value));
        tracing::debug!(
            actor = %actor,
            counter,
            replaced,
            siblings = inner.siblings.len(),
            "dotted write"
        );
        Ok(dot)
    }

    /// Takes in a replica's copy of the same key: keeps each sibling of either side unless the
    /// other side has seen its dot and dropped it (it was superseded there), and merges the
    /// clocks.
    pub fn merge(&mut self, other: &DvvSet<V>) {
        // Fast paths, when one side's clock descends the other's. If `other` has seen all
        // `self` has, every sibling of `self` is covered by `other`'s clock and survives only if
        // `other` holds it too: the result is `other`'s siblings minus those `self` saw and
        // dropped — `other` itself when there are none. Symmetrically the other way round.
        if Arc::ptr_eq(&self.inner, &other.inner) {
            return;
        }
        let (mine, theirs) = (&*self.inner, &*other.inner);
        match mine.clock.compare(&theirs.clock) {
            Causality::Before
                if theirs
                    .siblings
                    .iter()
                    .all(|(d, _)| !d.is_covered_by(&mine.clock) || self.holds(d)) =>
            {
                // The result is `other`: share it.
                self.inner = Arc::clone(&other.inner);
                return;
            }
            Causality::After | Causality::Equal
                if mine
                    .siblings
                    .iter()
                    .all(|(d, _)| !d.is_covered_by(&theirs.clock) || other.holds(d)) =>
            {
                return;
            }
            _ => {}
        }
        let mut merged: Vec<(Dot, V)> =
            Vec::with_capacity(mine.siblings.len() + theirs.siblings.len());
        let (mut i, mut j) = (0, 0);
        let (a, b) = (&mine.siblings, &theirs.siblings);
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
                    if !a[i].0.is_covered_by(&theirs.clock) {
                        merged.push(a[i].clone());
                    }
                    i += 1;
                }
                Ordering::Greater => {
                    if !b[j].0.is_covered_by(&mine.clock) {
                        merged.push(b[j].clone());
                    }
                    j += 1;
                }
            }
        }
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => {
                inner.siblings = merged;
                inner.clock.merge(&theirs.clock);
            }
            None => {
                let mut clock = self.inner.clock.clone();
                clock.merge(&theirs.clock);
                self.inner = Arc::new(Inner {
                    clock,
                    siblings: merged,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> NodeId {
        NodeId::new(s).unwrap()
    }

    /// Review item 6, documented: a coordinator that lost its copy reissues a dot, and a replica
    /// that saw the old event drops the new write. This is why the stored set must be durable.
    #[test]
    fn a_coordinator_that_lost_its_copy_reissues_a_dot_and_the_write_is_dropped() {
        let r = id("r");
        let mut replica = DvvSet::new();
        let first = replica.write(&r, &VersionVector::new(), "first").unwrap();
        let ctx = replica.context().clone();
        replica.write(&r, &ctx, "second").unwrap(); // r:2 replaces r:1
        let mut restarted = DvvSet::new(); // r's store came back empty
        let reissued = restarted.write(&r, &VersionVector::new(), "lost").unwrap();
        assert_eq!(reissued, first);
        replica.merge(&restarted);
        assert_eq!(replica.values().copied().collect::<Vec<_>>(), ["second"]);
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
