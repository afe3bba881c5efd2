//! Hinted handoff (Dynamo, SOSP 2007, §4.6; Cassandra's hints): a write meant for a replica that
//! cannot be reached is kept as a *hint* by the node that took it in its place, and handed to the
//! replica when it is back.
//!
//! Hints are bounded, with a documented drop policy: at most `max_hints_per_node` per target and
//! `max_hints` in all, each kept at most `max_hint_window` (Cassandra's `max_hint_window`, default
//! 3 hours). A hint for a key already hinted to the same target is reconciled into the one kept
//! (it never takes more room). When a bound is reached the **new** hint is refused — reported as
//! [`HintOutcome::Dropped`] and counted — and hints past the window expire; either way the
//! replica misses that write until read repair or anti-entropy ([`MerkleTree`](crate::MerkleTree))
//! brings it over, as in Cassandra, where hints are an optimisation and repair is the guarantee.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ha_core::NodeId;

use crate::{Reconcile, Result};

/// The bounds of a [`HintStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct HintConfig {
    /// Hints kept for one target, above zero; default 10 000.
    pub max_hints_per_node: usize,
    /// Hints kept in all, above zero; default 100 000.
    pub max_hints: usize,
    /// How long a hint is kept before it expires, above zero; default 3 hours (Cassandra's
    /// `max_hint_window`).
    pub max_hint_window: Duration,
}

impl Default for HintConfig {
    fn default() -> Self {
        HintConfig {
            max_hints_per_node: 10_000,
            max_hints: 100_000,
            max_hint_window: Duration::from_secs(3 * 3600),
        }
    }
}

impl HintConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`ha_core::Error::Zero`] (as [`Error::Core`](crate::Error::Core)) for a zero bound or
    /// window.
    pub fn validate(&self) -> Result<()> {
        let zero = |name| Err(ha_core::Error::Zero { name }.into());
        if self.max_hints_per_node == 0 {
            return zero("max hints per node");
        }
        if self.max_hints == 0 {
            return zero("max hints");
        }
        if self.max_hint_window.is_zero() {
            return zero("max hint window");
        }
        Ok(())
    }
}

/// A write kept for a replica that could not take it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Hint<K, V> {
    /// The replica the write is for.
    pub target: NodeId,
    /// The key written.
    pub key: K,
    /// The value to hand over (reconciled with any later hint for the same key).
    pub value: V,
}

/// What [`HintStore::store`] did with a hint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum HintOutcome {
    /// Kept as a new hint.
    Stored,
    /// Reconciled into the hint already kept for the same target and key.
    Coalesced,
    /// Refused: the target's or the store's bound is reached. Anti-entropy must repair.
    Dropped,
}

/// The hints a node keeps for other replicas, bounded (see the module docs for the drop policy).
///
/// ```
/// use std::time::Instant;
/// use ha_core::NodeId;
/// use ha_replication::{HintConfig, HintOutcome, HintStore, HlcTimestamp, Stamped};
///
/// let down = NodeId::new("r3")?;
/// let mut hints = HintStore::new(HintConfig { max_hints_per_node: 1, ..Default::default() })?;
/// let stamp = |n| HlcTimestamp { wall_nanos: n, logical: 0 };
/// let now = Instant::now();
/// let v = |x, n| Stamped::new(x, stamp(n), down.clone());
/// assert_eq!(hints.store(down.clone(), "k1", v(1, 1), now), HintOutcome::Stored);
/// assert_eq!(hints.store(down.clone(), "k1", v(2, 2), now), HintOutcome::Coalesced);
/// assert_eq!(hints.store(down.clone(), "k2", v(3, 3), now), HintOutcome::Dropped);
/// // r3 is back: hand its hints over.
/// let delivered = hints.take(&down, 100);
/// assert_eq!(delivered.len(), 1);
/// assert_eq!(delivered[0].value.value, 2);
/// assert_eq!(hints.dropped(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct HintStore<K, V> {
    config: HintConfig,
    hints: BTreeMap<NodeId, BTreeMap<K, (V, Instant)>>,
    total: usize,
    dropped: u64,
    expired: u64,
}

impl<K: Ord + Clone, V: Reconcile> HintStore<K, V> {
    /// An empty store.
    ///
    /// # Errors
    /// As [`HintConfig::validate`].
    pub fn new(config: HintConfig) -> Result<HintStore<K, V>> {
        config.validate()?;
        Ok(HintStore {
            config,
            hints: BTreeMap::new(),
            total: 0,
            dropped: 0,
            expired: 0,
        })
    }

    /// Keeps `value` for `target` under `key`, taken at `now`.
    pub fn store(&mut self, target: NodeId, key: K, value: V, now: Instant) -> HintOutcome {
        let per_node = self.hints.get(&target).map_or(0, BTreeMap::len);
        if let Some((kept, at)) = self.hints.get_mut(&target).and_then(|h| h.get_mut(&key)) {
            kept.reconcile(&value);
            *at = now;
            return HintOutcome::Coalesced;
        }
        if per_node >= self.config.max_hints_per_node || self.total >= self.config.max_hints {
            self.dropped += 1;
            tracing::debug!(
                target = %target,
                per_node,
                total = self.total,
                max_per_node = self.config.max_hints_per_node,
                max = self.config.max_hints,
                "hint dropped at the bound"
            );
            return HintOutcome::Dropped;
        }
        self.hints
            .entry(target)
            .or_default()
            .insert(key, (value, now));
        self.total += 1;
        HintOutcome::Stored
    }

    /// Removes and returns up to `max` hints for `target`, in key order, to deliver now that it
    /// is reachable. A hint whose delivery fails can be stored again.
    pub fn take(&mut self, target: &NodeId, max: usize) -> Vec<Hint<K, V>> {
        let Some(queue) = self.hints.get_mut(target) else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(max.min(queue.len()));
        while out.len() < max {
            let Some((key, (value, _))) = queue.pop_first() else {
                break;
            };
            out.push(Hint {
                target: target.clone(),
                key,
                value,
            });
        }
        if queue.is_empty() {
            self.hints.remove(target);
        }
        self.total -= out.len();
        if !out.is_empty() {
            tracing::debug!(target = %target, delivered = out.len(), left = self.len_for(target), "hints handed off");
        }
        out
    }

    /// Expires hints kept longer than the window; returns how many.
    pub fn handle_timeout(&mut self, now: Instant) -> usize {
        let window = self.config.max_hint_window;
        let mut expired = 0;
        self.hints.retain(|_, queue| {
            let before = queue.len();
            queue.retain(|_, (_, at)| now.saturating_duration_since(*at) < window);
            expired += before - queue.len();
            !queue.is_empty()
        });
        if expired > 0 {
            self.total -= expired;
            self.expired += expired as u64;
            tracing::debug!(expired, left = self.total, "hints expired");
        }
        expired
    }

    /// When the oldest hint expires (call [`handle_timeout`](Self::handle_timeout) then), or
    /// `None` with no hints.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.hints
            .values()
            .flat_map(|q| q.values().map(|(_, at)| *at))
            .min()
            // A window past what an `Instant` can hold never expires a hint.
            .and_then(|oldest| oldest.checked_add(self.config.max_hint_window))
    }

    /// Hints kept in all.
    #[must_use]
    pub fn len(&self) -> usize {
        self.total
    }

    /// Whether no hint is kept.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Hints kept for `target`.
    #[must_use]
    pub fn len_for(&self, target: &NodeId) -> usize {
        self.hints.get(target).map_or(0, BTreeMap::len)
    }

    /// The targets with hints waiting, sorted.
    pub fn targets(&self) -> impl Iterator<Item = &NodeId> {
        self.hints.keys()
    }

    /// Hints refused at the bound since the store was made.
    #[must_use]
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Hints expired since the store was made.
    #[must_use]
    pub fn expired(&self) -> u64 {
        self.expired
    }

    /// Recounts the hints (panics if the count or a bound disagrees); for tests and fuzzing.
    pub fn check_invariants(&self) {
        let counted: usize = self.hints.values().map(BTreeMap::len).sum();
        assert_eq!(counted, self.total, "hint count");
        assert!(self.total <= self.config.max_hints, "store bound");
        assert!(
            self.hints
                .values()
                .all(|q| !q.is_empty() && q.len() <= self.config.max_hints_per_node),
            "per-node bound"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{HlcTimestamp, Stamped};

    fn v(x: u32) -> Stamped<u32> {
        Stamped::new(
            x,
            HlcTimestamp {
                wall_nanos: u64::from(x),
                logical: 0,
            },
            NodeId::new("w").unwrap(),
        )
    }

    #[test]
    fn a_window_past_what_an_instant_holds_never_times_out() {
        let config = HintConfig {
            max_hint_window: Duration::MAX,
            ..HintConfig::default()
        };
        let mut store = HintStore::new(config).unwrap();
        store.store(NodeId::new("r").unwrap(), "k", v(1), Instant::now());
        assert_eq!(store.poll_timeout(), None);
    }

    #[test]
    fn the_store_bound_refuses_new_hints_and_expiry_frees_room() {
        let config = HintConfig {
            max_hints_per_node: 10,
            max_hints: 2,
            max_hint_window: Duration::from_secs(10),
        };
        let mut store = HintStore::new(config).unwrap();
        let (a, b) = (NodeId::new("a").unwrap(), NodeId::new("b").unwrap());
        let t0 = Instant::now();
        assert_eq!(store.store(a.clone(), 1, v(1), t0), HintOutcome::Stored);
        assert_eq!(
            store.store(b.clone(), 1, v(1), t0 + Duration::from_secs(5)),
            HintOutcome::Stored
        );
        assert_eq!(store.store(b.clone(), 2, v(2), t0), HintOutcome::Dropped);
        store.check_invariants();
        assert_eq!(store.poll_timeout(), Some(t0 + Duration::from_secs(10)));
        assert_eq!(store.handle_timeout(t0 + Duration::from_secs(10)), 1);
        assert_eq!(store.len_for(&a), 0);
        assert_eq!(store.store(b.clone(), 2, v(2), t0), HintOutcome::Stored);
        assert_eq!(store.take(&b, 1).len(), 1);
        assert_eq!(store.len(), 1);
        store.check_invariants();
        assert_eq!((store.dropped(), store.expired()), (1, 1));
    }

    #[test]
    fn zero_bounds_are_refused() {
        let bad = HintConfig {
            max_hints: 0,
            ..HintConfig::default()
        };
        assert!(HintStore::<u32, Stamped<u32>>::new(bad).is_err());
    }
}
