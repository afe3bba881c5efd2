//! Consistent hashing with bounded loads (Mirrokni, Thorup and Zadimoghaddam, "Consistent
//! Hashing with Bounded Loads", SODA 2018; arXiv:1608.01350), in the form Vimeo (for its video
//! caches) and HAProxy (`hash-balance-factor`) use it: any placement's preference order, walked
//! from the key, stopping at the first node below its capacity.
//!
//! Followed: the paper's capacity `⌈c · m / n⌉` for `m` balls over `n` bins, with `c = 1 + ε`,
//! generalised to weights and counting the ball being placed (as HAProxy does). Where we differ:
//! the paper places balls along a ring and, on a deletion, moves balls so the placement matches
//! an insertion-only history; here any [`Placement`] supplies the order, and a release moves
//! assignments only when a capacity shrinks below a node's load — the fewest moves that keep
//! the bound (see [`BoundedLoads::release`]).

use std::collections::{BTreeSet, HashMap};
use std::ops::ControlFlow;

use crate::error::factor;
use crate::{Placement, Result};

/// The settings of [`BoundedLoads`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct BoundedLoadsConfig {
    /// The load factor `c`: no node holds more than `c ×` its weighted share of the live
    /// assignments (rounded up, counting the one being placed). Finite and at least 1; default
    /// 1.25 (HAProxy writes it `hash-balance-factor 125`).
    ///
    /// Smaller is better balanced, larger is more stable: for `c = 1 + ε` the paper bounds the
    /// expected nodes a key's walk visits, and the expected moves an update causes, by `O(1/ε²)`.
    /// `c = 1` is the tightest bound — every node holds at most its fair share rounded up — and
    /// sends many keys past their owner; a very large `c` never refuses the owner, which is the
    /// plain placement.
    pub load_factor: f64,
}

impl Default for BoundedLoadsConfig {
    fn default() -> Self {
        BoundedLoadsConfig { load_factor: 1.25 }
    }
}

impl BoundedLoadsConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`ha_core::Error::NotFinite`] or [`ha_core::Error::OutOfRange`] (as [`Error::Core`](crate::Error::Core)) for
    /// a load factor that is not a finite number of at least 1.
    pub fn validate(&self) -> Result<()> {
        factor("bounded-loads load factor", self.load_factor, false).map(drop)
    }
}

/// An assignment that a [`release`](BoundedLoads::release) moved off a node whose capacity
/// shrank below its load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct KeyMove {
    /// The assigned key hash.
    pub hash: u64,
    /// The node index it was on.
    pub from: usize,
    /// The node index it is on now.
    pub to: usize,
}

/// Assigns keys to the nodes of any [`Placement`] so that no node carries more than `c ×` its
/// share: the key goes to the first node in the placement's preference order (its owner first)
/// whose load is below its capacity.
///
/// **Capacity.** With `m` live assignments and node weights `wᵢ` summing to `W`, node `i`'s
/// capacity — for placing the next key, so counting it — is
///
/// `capacityᵢ = max(⌈c · (m + 1) · wᵢ / W⌉, ⌈(m + 1) · wᵢ / W⌉)`,
///
/// the first term in floating point, the second in exact integers (equal to the first in exact
/// arithmetic since `c ≥ 1`; it keeps the guarantee below whatever the rounding). Weights are the
/// placement's node weights; pair weighted nodes with a placement that honours them
/// ([`Rendezvous`](crate::Rendezvous), [`Maglev`](crate::Maglev), [`HashRing`](crate::HashRing)).
///
/// **An assignment always finds room.** The capacities sum to at least
/// `Σ (m + 1) · wᵢ / W = m + 1`, more than the `m` loads, so some node is below its capacity;
/// every placement's preference walk offers every node, so [`assign`](Self::assign) never
/// fails and returns a node, not a `Result`.
///
/// **The bound holds after every call.** With `m` the live assignments, every node holds at most
/// `max(⌈c · m · wᵢ / W⌉, ⌈m · wᵢ / W⌉)` after any sequence of assigns and releases (checked by
/// [`check_invariants`](Self::check_invariants)); [`capacity`](Self::capacity) is that bound
/// for the next assignment, `m + 1`. An assign keeps it (the node chosen was below its capacity,
/// which is the new bound once the assignment counts). A release lowers `m`, so a node's bound
/// can drop below its load; the release then moves that node's excess assignments along their
/// own preference walks and returns those [`KeyMove`]s — usually none, and at most
/// `⌈c · wᵢ / W⌉` from node `i` (one, when `c · wᵢ ≤ W`), since that bounds how far its bound
/// drops.
///
/// **Keys.** Assignments are keyed by the 64-bit key hash. Assigning a hash already assigned
/// returns its node and changes nothing, as a balancer with key affinity expects; an assignment
/// stays on its node until released or moved by a release, even when its owner later has room.
///
/// **Memory** grows with live assignments only: per assignment, one hash-map entry (hash → node)
/// and one B-tree entry in the node's set, about 40 bytes with the maps' overhead, plus 24 bytes
/// a node. An assign costs a preference walk (stopping at the first node with room) and
/// `O(log m)` map work. A release costs `O(log m)` map work and a scan of every node for one over
/// its lowered bound — `O(n)` even when nothing moves, so releases dominate at thousands of nodes
/// — plus a preference walk and another scan for each assignment it moves.
///
/// A membership change needs a new placement and so a new `BoundedLoads`, into which the caller
/// re-assigns its live keys.
///
/// ```
/// use ha_core::{Node, NodeId};
/// use ha_shard::{BoundedLoads, BoundedLoadsConfig, Placement, Rendezvous};
///
/// let nodes = (0..4)
///     .map(|i| Ok(Node::new(NodeId::new(format!("cache-{i}"))?, "")))
///     .collect::<Result<Vec<_>, ha_core::Error>>()?;
/// let mut loads = BoundedLoads::new(Rendezvous::new(nodes)?, BoundedLoadsConfig::default())?;
/// // A hot key, requested over and over, is one assignment.
/// let node = loads.assign_key(b"video:1");
/// assert_eq!(loads.assign_key(b"video:1"), node);
/// for i in 0..100u32 {
///     loads.assign_key(format!("video:{i}").as_bytes());
/// }
/// for i in 0..4 {
///     assert!(loads.load(i) <= loads.capacity(i)); // at most ⌈1.25 × 101 / 4⌉ = 32
/// }
/// let moves = loads.release_key(b"video:1");
/// assert!(moves.iter().all(|m| loads.assigned(m.hash) == Some(m.to)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct BoundedLoads<P> {
    placement: P,
    load_factor: f64,
    /// Node weights, as the placement reports them.
    weights: Vec<u64>,
    /// Their sum.
    total_weight: u64,
    /// Every live assignment: key hash → node index.
    owners: HashMap<u64, usize>,
    /// The key hashes assigned to each node; its length is the node's load.
    held: Vec<BTreeSet<u64>>,
}

impl<P: Placement> BoundedLoads<P> {
    /// Bounded loads over `placement`, with no assignments yet.
    ///
    /// # Errors
    /// An invalid config (see [`BoundedLoadsConfig::validate`]).
    pub fn new(placement: P, config: BoundedLoadsConfig) -> Result<BoundedLoads<P>> {
        config.validate()?;
        let weights: Vec<u64> = placement
            .nodes()
            .iter()
            .map(|n| u64::from(n.weight.get()))
            .collect();
        let total_weight = weights.iter().sum();
        let held = vec![BTreeSet::new(); weights.len()];
        Ok(BoundedLoads {
            placement,
            load_factor: config.load_factor,
            weights,
            total_weight,
            owners: HashMap::new(),
            held,
        })
    }

    /// The node index for `hash`: its current node if already assigned, otherwise the first node
    /// in the placement's preference order whose load is below its [`capacity`](Self::capacity),
    /// which then holds it. Always succeeds (see the type's docs).
    pub fn assign(&mut self, hash: u64) -> usize {
        if let Some(&node) = self.owners.get(&hash) {
            return node;
        }
        self.place(hash)
    }

    /// [`assign`](Self::assign) for a key, hashed as the placement hashes keys.
    pub fn assign_key(&mut self, key: &[u8]) -> usize {
        let hash = self.placement.hash_key(key);
        self.assign(hash)
    }

    /// Frees `hash`'s assignment, and returns the assignments moved to keep every node within its
    /// (now smaller) capacity: each was on a node over its capacity and now sits on the first node
    /// of its own preference walk with room. From an overloaded node, the assignment with the
    /// smallest hash moves first, so the moves are deterministic.
    ///
    /// Releasing a hash that is not assigned changes nothing and moves nothing.
    #[must_use = "moved assignments now live on other nodes"]
    pub fn release(&mut self, hash: u64) -> Vec<KeyMove> {
        let Some(node) = self.owners.remove(&hash) else {
            return Vec::new();
        };
        if let Some(set) = self.held.get_mut(node) {
            set.remove(&hash);
        }
        let mut moves = Vec::new();
        let live = self.owners.len();
        while let Some(from) = (0..self.held.len()).find(|&i| self.load(i) > self.bound(i, live)) {
            let Some(moved) = self.held.get_mut(from).and_then(BTreeSet::pop_first) else {
                break;
            };
            self.owners.remove(&moved);
            // With `moved` out, `capacity` is the bound at `live`: `from` is still at or over
            // it, so the walk passes it by, and the node chosen ends within it.
            let to = self.place(moved);
            moves.push(KeyMove {
                hash: moved,
                from,
                to,
            });
        }
        moves
    }

    /// [`release`](Self::release) for a key, hashed as the placement hashes keys.
    #[must_use = "moved assignments now live on other nodes"]
    pub fn release_key(&mut self, key: &[u8]) -> Vec<KeyMove> {
        let hash = self.placement.hash_key(key);
        self.release(hash)
    }

    /// The node `hash` is assigned to, if it is.
    #[must_use]
    pub fn assigned(&self, hash: u64) -> Option<usize> {
        self.owners.get(&hash).copied()
    }

    /// Live assignments on node `node` (0 for an index past the nodes).
    #[must_use]
    pub fn load(&self, node: usize) -> usize {
        self.held.get(node).map_or(0, BTreeSet::len)
    }

    /// The load factor `c`.
    #[must_use]
    pub fn load_factor(&self) -> f64 {
        self.load_factor
    }

    /// The most assignments node `node` may hold once the next key is placed:
    /// `max(⌈c · (m + 1) · wᵢ / W⌉, ⌈(m + 1) · wᵢ / W⌉)` for `m` live assignments (0 for an index
    /// past the nodes).
    #[must_use]
    pub fn capacity(&self, node: usize) -> usize {
        self.bound(node, self.owners.len() + 1)
    }

    /// The most `node` may hold while `m` assignments are live: `max(⌈c·m·w/W⌉, ⌈m·w/W⌉)`,
    /// the second term in exact integers so rounding can never break the room argument.
    fn bound(&self, node: usize, m: usize) -> usize {
        let Some(&weight) = self.weights.get(node) else {
            return 0;
        };
        let m = m as u128;
        let (w, total) = (u128::from(weight), u128::from(self.total_weight));
        let fair = (m * w).div_ceil(total);
        let scaled = (self.load_factor * m as f64 * weight as f64 / total as f64).ceil();
        // `as` saturates: a huge factor means no bound at all.
        (scaled as u128).max(fair).try_into().unwrap_or(usize::MAX)
    }

    /// All live assignments.
    #[must_use]
    pub fn assigned_count(&self) -> usize {
        self.owners.len()
    }

    /// The placement whose preference order is followed.
    #[must_use]
    pub fn placement(&self) -> &P {
        &self.placement
    }

    /// Recounts the state and checks the bound: every assignment is counted on exactly its node,
    /// and every node's load is within its capacity. For tests and fuzzing.
    ///
    /// # Panics
    /// If an invariant is broken.
    pub fn check_invariants(&self) {
        let counted: usize = self.held.iter().map(BTreeSet::len).sum();
        assert_eq!(
            counted,
            self.owners.len(),
            "loads must add up to the assignments"
        );
        for (&hash, &node) in &self.owners {
            assert!(
                self.held.get(node).is_some_and(|set| set.contains(&hash)),
                "assignment {hash:#x} missing from node {node}"
            );
        }
        let live = self.owners.len();
        for node in 0..self.held.len() {
            assert!(
                self.load(node) <= self.bound(node, live),
                "node {node} holds {} over its bound {} at {live} assignments",
                self.load(node),
                self.bound(node, live)
            );
        }
    }

    /// Places an unassigned `hash` on the first node in preference order with room.
    fn place(&mut self, hash: u64) -> usize {
        let mut chosen = None;
        self.placement.visit_preference(hash, &mut |i| {
            if self.load(i) < self.capacity(i) {
                chosen = Some(i);
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
        // The walk offers every node and some node has room; the scan only guards against a
        // placement breaking the trait's contract.
        let node = chosen
            .or_else(|| (0..self.held.len()).find(|&i| self.load(i) < self.capacity(i)))
            .unwrap_or_else(|| self.placement.locate_hash(hash));
        debug_assert!(
            chosen.is_some(),
            "a preference walk must offer a node with room"
        );
        if let Some(set) = self.held.get_mut(node) {
            set.insert(hash);
            self.owners.insert(hash, node);
        }
        node
    }
}
