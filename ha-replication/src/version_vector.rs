//! Version vectors: one counter per actor, ordered by happens-before (Parker et al., "Detection
//! of mutual inconsistency in distributed systems", 1983; as Dynamo and Riak keep them).
//!
//! Two vectors compare as equal, before, after, or concurrent; [`merge`](VersionVector::merge)
//! is the least upper bound, so it is commutative, associative and idempotent (property-tested
//! in `tests/version_properties.rs`). Pruning follows Riak's vclock pruning — drop the entries
//! of actors that no longer write, then the least informative ones above a size bound — and
//! says what it costs: a pruned version can look **older** than a version it in fact descends
//! (or concurrent with it). A resolver that drops dominated versions then discards the newer
//! one: pruning can lose a write unless the caller guards against it (see
//! [`VersionVector::prune`]).

use std::cmp::Ordering;

use ha_core::NodeId;

use crate::{Error, Result};

/// How two versions relate by happens-before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Causality {
    /// Both have seen exactly the same events.
    Equal,
    /// The left happened before the right: the right has seen everything the left has, and more.
    Before,
    /// The left happened after the right.
    After,
    /// Each has seen an event the other has not: neither supersedes the other.
    Concurrent,
}

/// A version vector: for each actor (a replica, or a coordinator), how many of its events are
/// known. Missing actors count zero.
///
/// Entries are kept sorted by actor in one vector, so compare and merge are one linear walk
/// (about 10 actors is the usual size: one per replica that ever coordinated a write).
///
/// ```
/// use ha_core::NodeId;
/// use ha_replication::{Causality, VersionVector};
///
/// let (a, b) = (NodeId::new("a")?, NodeId::new("b")?);
/// let mut left = VersionVector::new();
/// left.increment(&a)?;
/// let mut right = left.clone();
/// right.increment(&b)?;
/// assert_eq!(left.compare(&right), Causality::Before);
/// left.increment(&a)?;
/// assert_eq!(left.compare(&right), Causality::Concurrent);
/// left.merge(&right);
/// assert_eq!(left.compare(&right), Causality::After);
/// assert_eq!(left.get(&a), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Its serde form is the list of `(actor, counter)` pairs; one read back with actors out of
/// order, an actor twice or a zero counter is refused.
#[derive(Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(try_from = "Vec<(NodeId, u64)>", into = "Vec<(NodeId, u64)>")
)]
pub struct VersionVector {
    /// `(actor, counter)` pairs, sorted by actor, counters above zero.
    entries: Vec<(NodeId, u64)>,
}

impl VersionVector {
    /// The empty vector: no events seen.
    #[must_use]
    pub fn new() -> VersionVector {
        VersionVector::default()
    }

    /// A vector from `(actor, counter)` pairs in any order; zero counters are left out and an
    /// actor given twice keeps its larger counter.
    pub fn from_entries(entries: impl IntoIterator<Item = (NodeId, u64)>) -> VersionVector {
        let mut vv = VersionVector::new();
        for (actor, counter) in entries {
            vv.witness(&actor, counter);
        }
        vv
    }

    /// The counter of `actor` (zero if absent).
    #[must_use]
    pub fn get(&self, actor: &NodeId) -> u64 {
        match self.find(actor) {
            Ok(i) => self.entries[i].1,
            Err(_) => 0,
        }
    }

    /// Counts one more event of `actor` and returns its new counter.
    ///
    /// # Errors
    /// [`Error::CounterOverflow`] if the counter is at `u64::MAX`; the vector is unchanged.
    pub fn increment(&mut self, actor: &NodeId) -> Result<u64> {
        match self.find(actor) {
            Ok(i) => {
                let next = self.entries[i]
                    .1
                    .checked_add(1)
                    .ok_or(Error::CounterOverflow("version vector"))?;
                self.entries[i].1 = next;
                Ok(next)
            }
            Err(i) => {
                self.entries.insert(i, (actor.clone(), 1));
                Ok(1)
            }
        }
    }

    /// Raises `actor`'s counter to at least `counter` (an event seen elsewhere).
    pub fn witness(&mut self, actor: &NodeId, counter: u64) {
        if counter == 0 {
            return;
        }
        match self.find(actor) {
            Ok(i) => self.entries[i].1 = self.entries[i].1.max(counter),
            Err(i) => self.entries.insert(i, (actor.clone(), counter)),
        }
    }

    /// Whether `actor`'s event number `counter` is among the events seen.
    #[must_use]
    pub fn contains(&self, actor: &NodeId, counter: u64) -> bool {
        counter <= self.get(actor)
    }

    /// How `self` relates to `other` by happens-before.
    #[must_use]
    pub fn compare(&self, other: &VersionVector) -> Causality {
        let (mut less, mut greater) = (false, false);
        let (mut i, mut j) = (0, 0);
        let (a, b) = (&self.entries, &other.entries);
        while i < a.len() && j < b.len() {
            match a[i].0.cmp(&b[j].0) {
                Ordering::Less => {
                    greater = true;
                    i += 1;
                }
                Ordering::Greater => {
                    less = true;
                    j += 1;
                }
                Ordering::Equal => {
                    match a[i].1.cmp(&b[j].1) {
                        Ordering::Less => less = true,
                        Ordering::Greater => greater = true,
                        Ordering::Equal => {}
                    }
                    i += 1;
                    j += 1;
                }
            }
            if less && greater {
                return Causality::Concurrent;
            }
        }
        greater |= i < a.len();
        less |= j < b.len();
        match (less, greater) {
            (false, false) => Causality::Equal,
            (true, false) => Causality::Before,
            (false, true) => Causality::After,
            (true, true) => Causality::Concurrent,
        }
    }

    /// Whether `self` has seen every event `other` has (equal or after).
    #[must_use]
    pub fn descends(&self, other: &VersionVector) -> bool {
        matches!(self.compare(other), Causality::Equal | Causality::After)
    }

    /// Takes in every event of `other`: each counter becomes the larger of the two (the least
    /// upper bound).
    pub fn merge(&mut self, other: &VersionVector) {
        if other.entries.is_empty() {
            return;
        }
        if self.entries.is_empty() {
            self.entries.clone_from(&other.entries);
            return;
        }
        // Fast path: `other` has seen everything `self` has (a newer copy of the same key):
        // take its entries, reusing the allocation.
        if self.entries.len() < other.entries.len() && other.descends(self) {
            self.entries.clone_from(&other.entries);
            return;
        }
        // Fast path: the same actors in the same order, as between replicas of one key.
        if self.entries.len() == other.entries.len()
            && self
                .entries
                .iter()
                .zip(&other.entries)
                .all(|(x, y)| x.0 == y.0)
        {
            for (x, y) in self.entries.iter_mut().zip(&other.entries) {
                x.1 = x.1.max(y.1);
            }
            return;
        }
        let mut merged = Vec::with_capacity(self.entries.len().max(other.entries.len()));
        let (mut i, mut j) = (0, 0);
        let (a, b) = (&self.entries, &other.entries);
        while i < a.len() && j < b.len() {
            match a[i].0.cmp(&b[j].0) {
                Ordering::Less => {
                    merged.push(a[i].clone());
                    i += 1;
                }
                Ordering::Greater => {
                    merged.push(b[j].clone());
                    j += 1;
                }
                Ordering::Equal => {
                    merged.push((a[i].0.clone(), a[i].1.max(b[j].1)));
                    i += 1;
                    j += 1;
                }
            }
        }
        merged.extend_from_slice(&a[i..]);
        merged.extend_from_slice(&b[j..]);
        self.entries = merged;
    }

    /// The `(actor, counter)` entries, sorted by actor.
    pub fn iter(&self) -> impl Iterator<Item = (&NodeId, u64)> {
        self.entries.iter().map(|(a, c)| (a, *c))
    }

    /// The number of actors with a counter above zero.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no event has been seen.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bounds the vector's size, as Riak's vclock pruning does: first drops the entries of
    /// actors for which `active` is false (replicas that left), then, while more than
    /// `max_entries` remain, the entry with the smallest counter (ties: the greatest actor id).
    /// Returns the number of entries dropped.
    ///
    /// **The cost of pruning: a pruned vector can look older than a version it descends, and so
    /// lose a write.** With `v1 = {a:1, b:3}` and `v2 = {a:2, b:3}` (v2 descends v1), pruning v2
    /// to one entry drops `a:2` and leaves `{b:3}`, which now compares *before* v1: a store that
    /// drops the dominated version keeps v1 and discards the newer v2. It can also make two
    /// ordered versions look concurrent (a false sibling, harmless). What callers must do:
    ///
    /// - prune only entries no other live copy can still hold with a higher count — actors that
    ///   left and whose writes every replica has merged (the `active` filter), not merely the
    ///   smallest counters of busy actors;
    /// - or, when pruning by size, keep a pruned vector's value as a sibling whenever it
    ///   compares [`Before`](Causality::Before) (not only [`Concurrent`](Causality::Concurrent))
    ///   with the version it meets, and let a later write with the read context resolve it;
    /// - prune stored versions only, never a causal context a client is about to write back;
    ///   and never drop the entry of an actor that still coordinates writes from a
    ///   [`DvvSet`](crate::DvvSet)'s clock: its next write would reissue an event number (see
    ///   [`DvvSet::write`](crate::DvvSet::write)).
    pub fn prune(&mut self, max_entries: usize, active: impl Fn(&NodeId) -> bool) -> usize {
        let before = self.entries.len();
        self.entries.retain(|(actor, _)| active(actor));
        while self.entries.len() > max_entries {
            let smallest = self
                .entries
                .iter()
                .enumerate()
                .min_by(|(_, x), (_, y)| x.1.cmp(&y.1).then_with(|| y.0.cmp(&x.0)))
                .map(|(i, _)| i);
            match smallest {
                Some(i) => {
                    self.entries.remove(i);
                }
                None => break,
            }
        }
        let dropped = before - self.entries.len();
        if dropped > 0 {
            tracing::debug!(
                dropped,
                kept = self.entries.len(),
                max_entries,
                "version vector pruned"
            );
        }
        dropped
    }

    fn find(&self, actor: &NodeId) -> std::result::Result<usize, usize> {
        self.entries.binary_search_by(|(a, _)| a.cmp(actor))
    }
}

impl Clone for VersionVector {
    fn clone(&self) -> VersionVector {
        VersionVector {
            entries: self.entries.clone(),
        }
    }

    /// Reuses `self`'s allocation.
    fn clone_from(&mut self, source: &VersionVector) {
        self.entries.clone_from(&source.entries);
    }
}

impl TryFrom<Vec<(NodeId, u64)>> for VersionVector {
    type Error = Error;

    fn try_from(entries: Vec<(NodeId, u64)>) -> Result<VersionVector> {
        if entries.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(Error::InvalidVersion(
                "version vector actors must be sorted and distinct",
            ));
        }
        if entries.iter().any(|(_, c)| *c == 0) {
            return Err(Error::InvalidVersion(
                "version vector counters must be above zero",
            ));
        }
        Ok(VersionVector { entries })
    }
}

impl From<VersionVector> for Vec<(NodeId, u64)> {
    fn from(vv: VersionVector) -> Vec<(NodeId, u64)> {
        vv.entries
    }
}

impl PartialOrd for VersionVector {
    /// Happens-before as a partial order: `None` for concurrent vectors.
    fn partial_cmp(&self, other: &VersionVector) -> Option<Ordering> {
        match self.compare(other) {
            Causality::Equal => Some(Ordering::Equal),
            Causality::Before => Some(Ordering::Less),
            Causality::After => Some(Ordering::Greater),
            Causality::Concurrent => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> NodeId {
        NodeId::new(s).unwrap()
    }

    /// Review item 5: the docs said pruning only ever makes false siblings. It can make the
    /// newer version look older, which is what the docs now say and callers must guard against.
    #[test]
    fn a_pruned_vector_can_look_older_than_a_version_it_descends() {
        let v1 = VersionVector::from_entries([(id("a"), 1), (id("b"), 3)]);
        let mut v2 = VersionVector::from_entries([(id("a"), 2), (id("b"), 3)]);
        assert_eq!(v2.compare(&v1), Causality::After);
        assert_eq!(v2.prune(1, |_| true), 1);
        assert_eq!(v2, VersionVector::from_entries([(id("b"), 3)]));
        assert_eq!(v2.compare(&v1), Causality::Before);
    }

    #[test]
    fn missing_actors_count_zero_and_disjoint_vectors_are_concurrent() {
        let a = VersionVector::from_entries([(id("a"), 1)]);
        let b = VersionVector::from_entries([(id("b"), 1)]);
        assert_eq!(a.compare(&b), Causality::Concurrent);
        assert_eq!(a.partial_cmp(&b), None);
        assert_eq!(VersionVector::new().compare(&a), Causality::Before);
        assert_eq!(a.compare(&VersionVector::new()), Causality::After);
        let zero = VersionVector::from_entries([(id("a"), 0)]);
        assert!(zero.is_empty());
    }

    #[test]
    fn overflow_is_an_error_and_leaves_the_vector_unchanged() {
        let mut v = VersionVector::from_entries([(id("a"), u64::MAX)]);
        assert_eq!(
            v.increment(&id("a")),
            Err(Error::CounterOverflow("version vector"))
        );
        assert_eq!(v.get(&id("a")), u64::MAX);
    }

    #[test]
    fn prune_drops_inactive_actors_then_the_smallest_counters() {
        let mut v = VersionVector::from_entries([
            (id("a"), 5),
            (id("b"), 1),
            (id("c"), 3),
            (id("gone"), 9),
        ]);
        let dropped = v.prune(2, |actor| actor.as_str() != "gone");
        assert_eq!(dropped, 2);
        assert_eq!(
            v.iter().map(|(a, c)| (a.as_str(), c)).collect::<Vec<_>>(),
            [("a", 5), ("c", 3)]
        );
    }

    #[test]
    fn merge_takes_the_larger_counter_of_each_actor() {
        let mut a = VersionVector::from_entries([(id("a"), 3), (id("c"), 1)]);
        let b = VersionVector::from_entries([(id("a"), 1), (id("b"), 2), (id("c"), 4)]);
        a.merge(&b);
        assert_eq!(
            a.iter().map(|(a, c)| (a.as_str(), c)).collect::<Vec<_>>(),
            [("a", 3), ("b", 2), ("c", 4)]
        );
        assert!(a.descends(&b));
    }
}
