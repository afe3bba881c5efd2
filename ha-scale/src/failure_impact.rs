//! What a failure does to the services above it.

use std::collections::{BTreeSet, VecDeque};
use std::fmt;

use ha_core::{Component, Health, HealthSummary, NodeId};

use crate::{Criticality, DependencyGraph, Fallback, NodeKind, Result};

/// How much users of a node notice, from none to an outage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum ImpactLevel {
    /// Nothing.
    #[default]
    None,
    /// Barely: stale data, a missing optional feature.
    Minor,
    /// Working with less: slower, fewer features, static content.
    Degraded,
    /// Not working.
    Outage,
}

impl ImpactLevel {
    /// The health this impact gives a component: none → healthy, minor or degraded →
    /// degraded, outage → unhealthy.
    #[must_use]
    pub fn health(self) -> Health {
        match self {
            ImpactLevel::None => Health::Healthy,
            ImpactLevel::Minor | ImpactLevel::Degraded => Health::Degraded,
            ImpactLevel::Outage => Health::Unhealthy,
        }
    }
}

impl fmt::Display for ImpactLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ImpactLevel::None => "none",
            ImpactLevel::Minor => "minor",
            ImpactLevel::Degraded => "degraded",
            ImpactLevel::Outage => "outage",
        })
    }
}

impl Criticality {
    /// The impact a dependant takes through an edge of this criticality from a dependency at
    /// `level`: hard passes it in full, soft caps it at degraded, optional at minor.
    ///
    /// ```
    /// use ha_scale::{Criticality, ImpactLevel};
    ///
    /// assert_eq!(Criticality::Soft.pass(ImpactLevel::Outage), ImpactLevel::Degraded);
    /// assert_eq!(Criticality::Hard.pass(ImpactLevel::Minor), ImpactLevel::Minor);
    /// ```
    #[must_use]
    pub fn pass(self, level: ImpactLevel) -> ImpactLevel {
        match self {
            Criticality::Hard => level,
            Criticality::Soft => level.min(ImpactLevel::Degraded),
            Criticality::Optional => level.min(ImpactLevel::Minor),
        }
    }
}

impl Fallback {
    /// The impact of running on this fallback: cached data is minor (stale), static content
    /// and a degraded mode are degraded.
    #[must_use]
    pub fn impact(self) -> ImpactLevel {
        match self {
            Fallback::Cached => ImpactLevel::Minor,
            Fallback::Static | Fallback::DegradedMode => ImpactLevel::Degraded,
        }
    }
}

/// One node's share of a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct NodeImpact {
    /// The node.
    pub node: NodeId,
    /// Service or data store.
    pub kind: NodeKind,
    /// What its users notice.
    pub level: ImpactLevel,
    /// Whether it is one of the failed nodes.
    pub failed: bool,
    /// Whether the failure reaches it (see [`FailureImpact`]).
    pub affected: bool,
    /// Whether it runs on a fallback (and, when not affected, contains the failure).
    pub on_fallback: bool,
    /// The affected nodes it depends on directly, sorted.
    pub causes: Vec<NodeId>,
}

/// A fallback standing in for a down dependency.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct FallbackInEffect {
    /// The dependant serving from it.
    pub node: NodeId,
    /// The affected dependency it stands in for.
    pub dependency: NodeId,
    /// Which fallback.
    pub fallback: Fallback,
}

/// What a set of failed nodes does to the system.
///
/// [`DependencyGraph::impact`] takes the failed nodes and follows the dependency edges backwards,
/// from each failed node to what depends on it. The rule, precisely:
///
/// - **affected**: the least set holding every failed node and every node with an edge to an
///   affected node *that has no fallback*. Equivalently: a node is affected when a path of
///   fallback-free edges leads from it to a failed node (the empty path for the failed node
///   itself). Criticality does not change *whether* a node is affected, only how much.
/// - **on a fallback**: a node that is not affected but has an edge *with* a fallback to an
///   affected node. The fallback contains the failure: the node serves from it at the
///   fallback's [impact](Fallback::impact), and nothing is affected through it.
/// - **impact level**: a failed node is at [`ImpactLevel::Outage`]. Any other affected node
///   takes, over its fallback-free edges to affected nodes, the highest of the dependency's
///   level capped by the edge's [`Criticality`] (hard: in full; soft: at most degraded;
///   optional: at most minor), and also the impact of any fallback it runs on. A node on a
///   fallback is at its fallbacks' highest impact. Levels are the least fixed point of these
///   rules, so cycles (when the graph allows them) end.
///
/// The overall health is ha-core's [`HealthAggregator`](ha_core::HealthAggregator) over the
/// services (data stores show through the services that use them), each a
/// [`Component`] at its level's [`Health`], critical when the node is.
///
/// ```
/// use ha_core::Health;
/// use ha_scale::{
///     Criticality::*, Dependency, DependencyGraph, Fallback, GraphConfig, GraphNode, ImpactLevel,
/// };
///
/// let graph = DependencyGraph::new(
///     GraphConfig::default(),
///     [
///         GraphNode::service("checkout")?.critical(),
///         GraphNode::service("pricing")?,
///         GraphNode::service("stream processor")?,
///         GraphNode::data_store("redis")?,
///         GraphNode::data_store("postgresql")?,
///         GraphNode::data_store("kafka")?,
///     ],
///     [
///         Dependency::new("checkout", "pricing", Hard)?,
///         Dependency::new("pricing", "redis", Soft)?,
///         Dependency::new("pricing", "postgresql", Hard)?.with_fallback(Fallback::Cached),
///         Dependency::new("stream processor", "kafka", Hard)?,
///         Dependency::new("stream processor", "redis", Hard)?,
///     ],
/// )?;
///
/// // PostgreSQL down: pricing serves cached prices, nothing above it is touched.
/// let impact = graph.impact(["postgresql"])?;
/// assert_eq!(impact.level("pricing"), ImpactLevel::Minor);
/// assert!(impact.on_fallback("pricing") && !impact.is_affected("pricing"));
/// assert_eq!(impact.level("checkout"), ImpactLevel::None);
///
/// // Redis down: the stream processor stops, pricing and so checkout degrade.
/// let impact = graph.impact(["redis"])?;
/// assert_eq!(impact.level("stream processor"), ImpactLevel::Outage);
/// assert_eq!(impact.level("checkout"), ImpactLevel::Degraded);
/// assert_eq!(impact.health.health, Health::Unhealthy); // 1 of 3 services down is over 30%
/// # Ok::<(), ha_scale::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct FailureImpact {
    /// The failed nodes, sorted, without repeats.
    pub failed: Vec<NodeId>,
    /// Every node with some impact (affected or on a fallback), worst first, then by id.
    pub impacts: Vec<NodeImpact>,
    /// The fallbacks in effect, by node then dependency.
    pub fallbacks: Vec<FallbackInEffect>,
    /// The overall health: ha-core's aggregation over the services.
    pub health: HealthSummary,
}

impl FailureImpact {
    /// The impact on `node`: [`ImpactLevel::None`] when it is untouched (or not in the graph).
    #[must_use]
    pub fn level(&self, node: &str) -> ImpactLevel {
        self.impacts
            .iter()
            .find(|i| i.node.as_str() == node)
            .map_or(ImpactLevel::None, |i| i.level)
    }

    /// Whether the failure reaches `node`.
    #[must_use]
    pub fn is_affected(&self, node: &str) -> bool {
        self.impacts
            .iter()
            .any(|i| i.node.as_str() == node && i.affected)
    }

    /// Whether `node` runs on a fallback.
    #[must_use]
    pub fn on_fallback(&self, node: &str) -> bool {
        self.impacts
            .iter()
            .any(|i| i.node.as_str() == node && i.on_fallback)
    }

    /// The affected nodes, failed ones included, sorted.
    #[must_use]
    pub fn affected(&self) -> Vec<&NodeId> {
        let mut out: Vec<&NodeId> = self
            .impacts
            .iter()
            .filter(|i| i.affected)
            .map(|i| &i.node)
            .collect();
        out.sort();
        out
    }
}

impl DependencyGraph {
    /// What the failure of these nodes does: the affected nodes, each node's impact level, the
    /// fallbacks in effect and the overall health. The rule is in the
    /// [`FailureImpact`] docs. Naming a node twice is the same as once; no
    /// failed node gives an empty impact.
    ///
    /// Runs in O(nodes + edges × levels).
    ///
    /// # Errors
    /// [`Error::UnknownNode`](crate::Error::UnknownNode) for a failed node not in the graph.
    pub fn impact<S: AsRef<str>>(
        &self,
        failed: impl IntoIterator<Item = S>,
    ) -> Result<FailureImpact> {
        let n = self.nodes.len();
        let mut is_failed = vec![false; n];
        for id in failed {
            let i = self.position(id.as_ref(), "the failed nodes")?;
            is_failed[i] = true;
        }
        // Least fixed point of the levels over fallback-free edges, by a work list: a level
        // only rises, and there are four, so each node is queued at most four times.
        let mut level = vec![ImpactLevel::None; n];
        let mut queue = VecDeque::new();
        for (i, &f) in is_failed.iter().enumerate() {
            if f {
                level[i] = ImpactLevel::Outage;
                queue.push_back(i);
            }
        }
        while let Some(d) = queue.pop_front() {
            for &e in &self.dependants[d] {
                let edge = &self.edges[e];
                if edge.fallback.is_some() {
                    continue;
                }
                let Some(&from) = self.index.get(&edge.from) else {
                    continue;
                };
                let passed = edge.criticality.pass(level[d]);
                if passed > level[from] {
                    level[from] = passed;
                    queue.push_back(from);
                }
            }
        }
        // Every level through a fallback-free edge from an affected node is at least minor, so
        // "affected" is "level above none" here.
        let affected: Vec<bool> = level.iter().map(|&l| l > ImpactLevel::None).collect();
        let mut fallbacks = Vec::new();
        let mut on_fallback = vec![false; n];
        let mut causes: Vec<BTreeSet<NodeId>> = vec![BTreeSet::new(); n];
        for edge in &self.edges {
            let (Some(&from), Some(&to)) = (self.index.get(&edge.from), self.index.get(&edge.to))
            else {
                continue;
            };
            if !affected[to] {
                continue;
            }
            causes[from].insert(edge.to.clone());
            if let Some(fallback) = edge.fallback {
                on_fallback[from] = true;
                level[from] = level[from].max(fallback.impact());
                fallbacks.push(FallbackInEffect {
                    node: edge.from.clone(),
                    dependency: edge.to.clone(),
                    fallback,
                });
            }
        }
        fallbacks.sort_by(|a, b| (&a.node, &a.dependency).cmp(&(&b.node, &b.dependency)));
        let mut impacts: Vec<NodeImpact> = (0..n)
            .filter(|&i| affected[i] || on_fallback[i])
            .map(|i| NodeImpact {
                node: self.nodes[i].id.clone(),
                kind: self.nodes[i].kind,
                level: level[i],
                failed: is_failed[i],
                affected: affected[i],
                on_fallback: on_fallback[i],
                causes: std::mem::take(&mut causes[i]).into_iter().collect(),
            })
            .collect();
        impacts.sort_by(|a, b| b.level.cmp(&a.level).then_with(|| a.node.cmp(&b.node)));
        let health = self.aggregator.aggregate(
            self.nodes
                .iter()
                .zip(&level)
                .filter(|(node, _)| node.kind == NodeKind::Service)
                .map(|(node, l)| Component {
                    health: l.health(),
                    critical: node.critical,
                }),
        );
        let mut failed: Vec<NodeId> = (0..n)
            .filter(|&i| is_failed[i])
            .map(|i| self.nodes[i].id.clone())
            .collect();
        failed.sort();
        tracing::debug!(
            failed = ?failed,
            affected = affected.iter().filter(|&&a| a).count(),
            on_fallback = on_fallback.iter().filter(|&&f| f).count(),
            outages = level.iter().filter(|&&l| l == ImpactLevel::Outage).count(),
            health = %health.health,
            "failure impact"
        );
        Ok(FailureImpact {
            failed,
            impacts,
            fallbacks,
            health,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn criticality_caps_and_fallback_impacts() {
        use ImpactLevel::*;
        for level in [None, Minor, Degraded, Outage] {
            assert_eq!(Criticality::Hard.pass(level), level);
            assert!(Criticality::Soft.pass(level) <= Degraded);
            assert!(Criticality::Optional.pass(level) <= Minor);
        }
        assert_eq!(Criticality::Optional.pass(Outage), Minor);
        assert_eq!(Fallback::Cached.impact(), Minor);
        assert_eq!(Fallback::Static.impact(), Degraded);
        assert_eq!(Fallback::DegradedMode.impact(), Degraded);
        assert_eq!(None.health(), Health::Healthy);
        assert_eq!(Minor.health(), Health::Degraded);
        assert_eq!(Outage.health(), Health::Unhealthy);
        assert_eq!(Outage.to_string(), "outage");
    }
}
