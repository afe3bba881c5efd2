//! Rebalancing plans: which shards move where, in which order.
//!
//! A [`Rebalancer`] turns the current assignment of shards to nodes, the shards' sizes and a
//! [`Target`] into a [`Plan`]: the fewest moves that reach the target, grouped into waves that run
//! one after the other. The approach is that of Kafka's `kafka-reassign-partitions` and
//! Cruise Control (compute the target, diff it against the present, throttle the moves) with
//! CockroachDB's rule of never overfilling a store; it differs in planning whole-shard moves
//! only (no replica sets) and in counting capacity conservatively.
//!
//! The rules — targets, waves and capacity — are documented on [`Rebalancer`].

mod target;
mod waves;

use std::collections::{BTreeMap, BTreeSet};
use std::num::NonZeroU32;

use ha_core::NodeId;

use crate::{Error, MigrationConfig, Result, ShardId, ShardMigration};

/// Settings of a [`Rebalancer`]. The limits are non-zero types, so every value is valid: a
/// limit of zero moves, which no plan could meet, cannot be written (nor read back).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct RebalanceConfig {
    /// The most moves a node takes part in per wave, as source or destination. Default 1.
    pub max_moves_per_node: NonZeroU32,
    /// The most moves per wave across the cluster. Default 4.
    pub max_moves_in_flight: NonZeroU32,
    /// Per-node capacity in bytes; a node not listed is unbounded. Default: none.
    pub capacity_bytes: BTreeMap<NodeId, u64>,
}

impl Default for RebalanceConfig {
    fn default() -> Self {
        RebalanceConfig {
            max_moves_per_node: NonZeroU32::MIN,
            max_moves_in_flight: NonZeroU32::MIN.saturating_add(3),
            capacity_bytes: BTreeMap::new(),
        }
    }
}

/// What a rebalance aims for.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Target {
    /// This node for every shard; it must name exactly the shards of the current assignment.
    Assignment(BTreeMap<ShardId, NodeId>),
    /// The nodes that will hold shards and their weights. Each node's target count is its
    /// weight share of the shards, rounded down or up — up first for nodes already holding more
    /// than the rounded-down share, so fewer shards move. Nodes holding shards but missing here
    /// (or weighted 0) are drained. Among a node's shards the largest stay; the ones that move
    /// go, the largest first, to the node with the most room left under its count.
    Weights(BTreeMap<NodeId, u32>),
    /// Move shards, one at a time from the node with the most bytes to the one with the fewest,
    /// until the peak node's bytes are at most `max_skew` times the mean over `nodes`. Each step
    /// moves the shard that best evens out the two nodes, and only if it lowers the larger of
    /// them; when no shard does, the plan stops short and its [`SkewReport`] says so.
    Skew {
        /// Every node of the cluster, empty ones included; shards must be on these.
        nodes: BTreeSet<NodeId>,
        /// The bound on peak ÷ mean bytes; finite and at least 1.
        max_skew: f64,
    },
}

/// One shard moving.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Move {
    /// The shard.
    pub shard: ShardId,
    /// Its current node.
    pub from: NodeId,
    /// Its node after the move.
    pub to: NodeId,
    /// Its size, the bytes to copy.
    pub bytes: u64,
}

/// How a skew rebalance went.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SkewReport {
    /// Peak ÷ mean bytes before the plan (1 when no node holds bytes).
    pub before: f64,
    /// Peak ÷ mean bytes after the plan.
    pub after: f64,
    /// Whether `after` is within the bound asked for.
    pub reached: bool,
}

impl Move {
    /// The migration state machine that carries this move out, starting to copy.
    ///
    /// # Errors
    /// [`Error::SameNode`] if the move's source and destination are the same node (never for a
    /// move of a [`Plan`]).
    pub fn migration(&self, config: MigrationConfig) -> Result<ShardMigration> {
        ShardMigration::new(self.shard, self.from.clone(), self.to.clone(), config)
    }
}

/// The moves of a rebalance, in waves to run one after the other.
///
/// A plan serializes to its waves, target and skew report; reading one back checks that it is
/// one the planner could have made ([`Error::InvalidPlan`], [`Error::SameNode`]), so a plan
/// persisted by one coordinator can be carried on by another.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(try_from = "PlanParts")
)]
pub struct Plan {
    waves: Vec<Vec<Move>>,
    target: BTreeMap<ShardId, NodeId>,
    skew: Option<SkewReport>,
}

/// A [`Plan`] as read, before its checks.
#[cfg(feature = "serde")]
#[derive(serde::Deserialize)]
struct PlanParts {
    waves: Vec<Vec<Move>>,
    target: BTreeMap<ShardId, NodeId>,
    skew: Option<SkewReport>,
}

#[cfg(feature = "serde")]
impl TryFrom<PlanParts> for Plan {
    type Error = Error;

    fn try_from(parts: PlanParts) -> Result<Plan> {
        let mut moved = BTreeSet::new();
        for m in parts.waves.iter().flatten() {
            if m.from == m.to {
                return Err(Error::SameNode {
                    shard: m.shard,
                    node: m.from.clone(),
                });
            }
            if !moved.insert(m.shard) {
                return Err(Error::InvalidPlan("a shard moves twice"));
            }
            if parts.target.get(&m.shard) != Some(&m.to) {
                return Err(Error::InvalidPlan(
                    "a move's destination is not its shard's target node",
                ));
            }
        }
        if parts.waves.iter().any(Vec::is_empty) {
            return Err(Error::InvalidPlan("an empty wave"));
        }
        Ok(Plan {
            waves: parts.waves,
            target: parts.target,
            skew: parts.skew,
        })
    }
}

impl Plan {
    /// The waves, in order; each wave's moves may run together. No wave is empty.
    #[must_use]
    pub fn waves(&self) -> &[Vec<Move>] {
        &self.waves
    }

    /// Every move, wave by wave.
    pub fn moves(&self) -> impl Iterator<Item = &Move> {
        self.waves.iter().flatten()
    }

    /// How many shards move.
    #[must_use]
    pub fn move_count(&self) -> usize {
        self.waves.iter().map(Vec::len).sum()
    }

    /// The bytes copied in all, saturating.
    #[must_use]
    pub fn bytes_moved(&self) -> u64 {
        self.moves().fold(0, |sum, m| sum.saturating_add(m.bytes))
    }

    /// Whether nothing moves.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.waves.is_empty()
    }

    /// The assignment once every move is done.
    #[must_use]
    pub fn target(&self) -> &BTreeMap<ShardId, NodeId> {
        &self.target
    }

    /// For a [`Target::Skew`], the skew before and after.
    #[must_use]
    pub fn skew(&self) -> Option<SkewReport> {
        self.skew
    }
}

/// Plans rebalances: the fewest moves from the current assignment to a [`Target`], in waves.
///
/// **Targets.** An explicit assignment; node weights, from which each node's shard *count* is
/// its weight share of all shards (counts, not bytes: a shard map is balanced in shards, and the
/// bytes a shard will hold are not known in advance) — a join, a leave or a reweight is a new
/// weights map; or a bound on byte skew (peak node bytes ÷ mean node bytes), reached by moving
/// shards from the most to the least loaded node. In every case the moves are exactly the shards
/// whose target node differs from their current one, so no shard that could stay moves.
///
/// **Waves.** A wave starts its moves together and the next wave starts when all have finished.
/// No node is the source or destination of more than
/// [`max_moves_per_node`](RebalanceConfig::max_moves_per_node) moves in a wave, and no wave has
/// more than [`max_moves_in_flight`](RebalanceConfig::max_moves_in_flight).
///
/// **Capacity, conservatively.** A move's bytes count on its destination from the start of its
/// wave and stay on its source until the wave ends (a copy exists in both places while the move
/// runs). So within a wave, a node's bytes at the wave's start plus everything moving in must fit
/// its capacity, and space freed by moves out is reused only from the next wave on. The order is
/// found greedily, the largest moves first: each wave takes every pending move that fits. When a
/// wave could start none, [`Error::CapacityExceeded`] names the shard left waiting; this is
/// certain when the waiting moves form a cycle between full nodes, but a different order of the
/// earlier waves might in rare cases have fitted. Targets computed from weights or a skew bound
/// do not look at capacities; one that would overfill a node is refused the same way.
///
/// ```
/// use std::collections::BTreeMap;
/// use ha_core::NodeId;
/// use ha_shard::{RebalanceConfig, Rebalancer, ShardId, Target};
///
/// let (a, b) = (NodeId::new("a")?, NodeId::new("b")?);
/// let current: BTreeMap<_, _> = (0..4).map(|s| (ShardId(s), a.clone())).collect();
/// let sizes: BTreeMap<_, _> = (0..4).map(|s| (ShardId(s), 100 * u64::from(s + 1))).collect();
/// // b joins with the same weight as a: two shards move, one wave at a time per node.
/// let weights = BTreeMap::from([(a.clone(), 1), (b.clone(), 1)]);
/// let plan = Rebalancer::new(RebalanceConfig::default())
///     .plan(&current, &sizes, &Target::Weights(weights))?;
/// assert_eq!(plan.move_count(), 2);
/// assert_eq!(plan.waves().len(), 2);
/// assert!(plan.moves().all(|m| m.from == a && m.to == b));
/// // The largest shards stay.
/// assert_eq!(plan.target()[&ShardId(3)], a);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Rebalancer {
    config: RebalanceConfig,
}

impl Rebalancer {
    /// A planner with these settings (every [`RebalanceConfig`] is valid).
    #[must_use]
    pub fn new(config: RebalanceConfig) -> Rebalancer {
        Rebalancer { config }
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &RebalanceConfig {
        &self.config
    }

    /// Plans the moves from `current` to `target`, `sizes` giving every shard's bytes.
    ///
    /// # Errors
    /// - [`Error::MissingShard`] / [`Error::ShardNotAssigned`] when `sizes` or an explicit target do
    ///   not name exactly the shards of `current`;
    /// - [`Error::EmptyNodeSet`] for an empty weights map or skew node set;
    ///   [`ha_core::Error::Zero`] when every weight is 0;
    /// - [`ha_core::Error::NotFinite`] / [`ha_core::Error::OutOfRange`] for a skew bound that
    ///   is not a finite number of at least 1;
    /// - [`Error::UnknownNode`] for a shard on a node outside a skew node set, or a capacity for a
    ///   node neither the current assignment nor the target mentions;
    /// - [`Error::CapacityExceeded`] when the target or every order of the moves found overfills
    ///   a node (see the module docs).
    pub fn plan(
        &self,
        current: &BTreeMap<ShardId, NodeId>,
        sizes: &BTreeMap<ShardId, u64>,
        target: &Target,
    ) -> Result<Plan> {
        same_shards(current, sizes, "sizes")?;
        let (target_assignment, skew, target_nodes) = match target {
            Target::Assignment(assignment) => {
                same_shards(current, assignment, "target")?;
                let nodes = assignment.values().cloned().collect();
                (assignment.clone(), None, nodes)
            }
            Target::Weights(weights) => (
                target::by_weights(current, sizes, weights)?,
                None,
                weights.keys().cloned().collect(),
            ),
            Target::Skew { nodes, max_skew } => {
                let (assignment, report) = target::by_skew(current, sizes, nodes, *max_skew)?;
                (assignment, Some(report), nodes.clone())
            }
        };
        let known = |node: &NodeId| {
            target_nodes.contains(node) || current.values().any(|held| held == node)
        };
        if let Some(node) = self.config.capacity_bytes.keys().find(|n| !known(n)) {
            return Err(Error::UnknownNode(node.clone()));
        }
        let moves: Vec<Move> = current
            .iter()
            .filter_map(|(&shard, from)| {
                let to = target_assignment.get(&shard)?;
                (to != from).then(|| Move {
                    shard,
                    from: from.clone(),
                    to: to.clone(),
                    bytes: sizes.get(&shard).copied().unwrap_or(0),
                })
            })
            .collect();
        let waves = waves::schedule(moves, current, sizes, &self.config)?;
        Ok(Plan {
            waves,
            target: target_assignment,
            skew,
        })
    }
}

/// Checks that `other` names exactly the shards of `current`.
fn same_shards<V>(
    current: &BTreeMap<ShardId, NodeId>,
    other: &BTreeMap<ShardId, V>,
    input: &'static str,
) -> Result<()> {
    if let Some(&shard) = current.keys().find(|s| !other.contains_key(s)) {
        return Err(Error::MissingShard { shard, input });
    }
    if let Some(&shard) = other.keys().find(|s| !current.contains_key(s)) {
        return Err(Error::ShardNotAssigned { shard, input });
    }
    Ok(())
}

/// Bytes held per node under `assignment`, saturating.
pub(crate) fn bytes_per_node(
    assignment: &BTreeMap<ShardId, NodeId>,
    sizes: &BTreeMap<ShardId, u64>,
) -> BTreeMap<NodeId, u64> {
    let mut held = BTreeMap::new();
    for (shard, node) in assignment {
        let bytes = sizes.get(shard).copied().unwrap_or(0);
        let sum: &mut u64 = held.entry(node.clone()).or_default();
        *sum = sum.saturating_add(bytes);
    }
    held
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(name: &str) -> NodeId {
        NodeId::new(name).unwrap()
    }

    fn two_shards_on_a() -> (BTreeMap<ShardId, NodeId>, BTreeMap<ShardId, u64>) {
        let current = BTreeMap::from([(ShardId(1), id("a")), (ShardId(2), id("a"))]);
        let sizes = BTreeMap::from([(ShardId(1), 10), (ShardId(2), 20)]);
        (current, sizes)
    }

    #[cfg(feature = "serde")]
    #[test]
    fn zero_limits_cannot_be_read_back() {
        let json = serde_json::to_value(RebalanceConfig::default()).unwrap();
        for limit in ["max_moves_per_node", "max_moves_in_flight"] {
            let mut zero = json.clone();
            zero[limit] = 0.into();
            assert!(
                serde_json::from_value::<RebalanceConfig>(zero).is_err(),
                "{limit}"
            );
        }
        let back: RebalanceConfig = serde_json::from_value(json).unwrap();
        assert_eq!(back, RebalanceConfig::default());
    }

    #[test]
    fn empty_node_sets_are_rejected() {
        let (current, sizes) = two_shards_on_a();
        let planner = Rebalancer::new(RebalanceConfig::default());
        let weights = Target::Weights(BTreeMap::new());
        assert_eq!(
            planner.plan(&current, &sizes, &weights).unwrap_err(),
            Error::EmptyNodeSet
        );
        let skew = Target::Skew {
            nodes: BTreeSet::new(),
            max_skew: 1.5,
        };
        assert_eq!(
            planner.plan(&current, &sizes, &skew).unwrap_err(),
            Error::EmptyNodeSet
        );
        let all_zero = Target::Weights(BTreeMap::from([(id("a"), 0), (id("b"), 0)]));
        assert_eq!(
            planner.plan(&current, &sizes, &all_zero).unwrap_err(),
            Error::Core(ha_core::Error::Zero {
                name: "total weight"
            })
        );
    }

    #[test]
    fn unknown_nodes_are_rejected() {
        let (current, sizes) = two_shards_on_a();
        let planner = Rebalancer::new(RebalanceConfig::default());
        let skew = Target::Skew {
            nodes: BTreeSet::from([id("b"), id("c")]),
            max_skew: 1.5,
        };
        assert_eq!(
            planner.plan(&current, &sizes, &skew).unwrap_err(),
            Error::UnknownNode(id("a"))
        );
        let config = RebalanceConfig {
            capacity_bytes: BTreeMap::from([(id("typo"), 100)]),
            ..RebalanceConfig::default()
        };
        let planner = Rebalancer::new(config);
        let target = Target::Weights(BTreeMap::from([(id("a"), 1), (id("b"), 1)]));
        assert_eq!(
            planner.plan(&current, &sizes, &target).unwrap_err(),
            Error::UnknownNode(id("typo"))
        );
    }

    #[test]
    fn bad_skew_bounds_are_rejected() {
        let (current, sizes) = two_shards_on_a();
        let planner = Rebalancer::new(RebalanceConfig::default());
        for bad in [f64::NAN, f64::INFINITY, 0.99, 0.0, -1.0] {
            let skew = Target::Skew {
                nodes: BTreeSet::from([id("a"), id("b")]),
                max_skew: bad,
            };
            assert!(
                matches!(
                    planner.plan(&current, &sizes, &skew),
                    Err(Error::Core(
                        ha_core::Error::NotFinite { .. } | ha_core::Error::OutOfRange { .. }
                    ))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn shard_sets_must_agree() {
        let (current, mut sizes) = two_shards_on_a();
        let planner = Rebalancer::new(RebalanceConfig::default());
        let stay = Target::Assignment(current.clone());
        sizes.insert(ShardId(9), 1);
        assert_eq!(
            planner.plan(&current, &sizes, &stay).unwrap_err(),
            Error::ShardNotAssigned {
                shard: ShardId(9),
                input: "sizes"
            }
        );
        sizes.remove(&ShardId(9));
        sizes.remove(&ShardId(1));
        assert_eq!(
            planner.plan(&current, &sizes, &stay).unwrap_err(),
            Error::MissingShard {
                shard: ShardId(1),
                input: "sizes"
            }
        );
        let (current, sizes) = two_shards_on_a();
        let partial = Target::Assignment(BTreeMap::from([(ShardId(1), id("b"))]));
        assert_eq!(
            planner.plan(&current, &sizes, &partial).unwrap_err(),
            Error::MissingShard {
                shard: ShardId(2),
                input: "target"
            }
        );
    }

    #[test]
    fn a_swap_between_full_nodes_is_refused_naming_the_shard() {
        let current = BTreeMap::from([(ShardId(1), id("a")), (ShardId(2), id("b"))]);
        let sizes = BTreeMap::from([(ShardId(1), 10), (ShardId(2), 10)]);
        let config = RebalanceConfig {
            capacity_bytes: BTreeMap::from([(id("a"), 15), (id("b"), 15)]),
            ..RebalanceConfig::default()
        };
        let swap = Target::Assignment(BTreeMap::from([
            (ShardId(1), id("b")),
            (ShardId(2), id("a")),
        ]));
        let err = Rebalancer::new(config)
            .plan(&current, &sizes, &swap)
            .unwrap_err();
        assert!(matches!(
            err,
            Error::CapacityExceeded {
                needed: 20,
                capacity: 15,
                ..
            }
        ));
    }

    #[test]
    fn a_target_beyond_capacity_is_refused() {
        let (current, sizes) = two_shards_on_a();
        let config = RebalanceConfig {
            capacity_bytes: BTreeMap::from([(id("b"), 25)]),
            ..RebalanceConfig::default()
        };
        let all_to_b = Target::Assignment(BTreeMap::from([
            (ShardId(1), id("b")),
            (ShardId(2), id("b")),
        ]));
        assert_eq!(
            Rebalancer::new(config)
                .plan(&current, &sizes, &all_to_b)
                .unwrap_err(),
            Error::CapacityExceeded {
                shard: ShardId(2),
                node: id("b"),
                needed: 30,
                capacity: 25
            }
        );
    }

    #[test]
    fn a_move_waits_for_room_freed_in_an_earlier_wave() {
        // c is full until shard 3 leaves it; shard 1 can only move in after that wave.
        let current = BTreeMap::from([(ShardId(1), id("a")), (ShardId(3), id("c"))]);
        let sizes = BTreeMap::from([(ShardId(1), 10), (ShardId(3), 10)]);
        let config = RebalanceConfig {
            capacity_bytes: BTreeMap::from([(id("c"), 10)]),
            max_moves_per_node: NonZeroU32::new(4).unwrap(),
            ..RebalanceConfig::default()
        };
        let target = Target::Assignment(BTreeMap::from([
            (ShardId(1), id("c")),
            (ShardId(3), id("b")),
        ]));
        let plan = Rebalancer::new(config)
            .plan(&current, &sizes, &target)
            .unwrap();
        let waves: Vec<Vec<ShardId>> = plan
            .waves()
            .iter()
            .map(|w| w.iter().map(|m| m.shard).collect())
            .collect();
        assert_eq!(waves, [vec![ShardId(3)], vec![ShardId(1)]]);
    }

    #[test]
    fn a_move_becomes_its_migration() {
        let (current, sizes) = two_shards_on_a();
        let target = Target::Weights(BTreeMap::from([(id("a"), 1), (id("b"), 1)]));
        let plan = Rebalancer::new(RebalanceConfig::default())
            .plan(&current, &sizes, &target)
            .unwrap();
        let m = plan.moves().next().unwrap();
        let migration = m.migration(MigrationConfig::default()).unwrap();
        assert_eq!(
            (migration.shard(), migration.from(), migration.to()),
            (m.shard, &m.from, &m.to)
        );
        let same = Move {
            to: m.from.clone(),
            ..m.clone()
        };
        assert!(matches!(
            same.migration(MigrationConfig::default()),
            Err(Error::SameNode { .. })
        ));
    }

    #[cfg(feature = "serde")]
    #[test]
    fn a_plan_reads_back_only_when_consistent() {
        let (current, sizes) = two_shards_on_a();
        let target = Target::Weights(BTreeMap::from([(id("a"), 1), (id("b"), 1)]));
        let plan = Rebalancer::new(RebalanceConfig::default())
            .plan(&current, &sizes, &target)
            .unwrap();
        let json = serde_json::to_value(&plan).unwrap();
        assert_eq!(serde_json::from_value::<Plan>(json.clone()).unwrap(), plan);

        let edit = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut bad = json.clone();
            f(&mut bad);
            serde_json::from_value::<Plan>(bad).unwrap_err().to_string()
        };
        let twice = edit(&|v| {
            let m = v["waves"][0][0].clone();
            v["waves"][0].as_array_mut().unwrap().push(m);
        });
        assert!(twice.contains("moves twice"), "{twice}");
        let elsewhere = edit(&|v| v["waves"][0][0]["to"] = "c".into());
        assert!(elsewhere.contains("target node"), "{elsewhere}");
        let itself = edit(&|v| v["waves"][0][0]["to"] = v["waves"][0][0]["from"].clone());
        assert!(itself.contains("to itself"), "{itself}");
        let empty = edit(&|v| {
            v["waves"]
                .as_array_mut()
                .unwrap()
                .push(serde_json::json!([]))
        });
        assert!(empty.contains("empty wave"), "{empty}");
    }
}
