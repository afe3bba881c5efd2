//! The services and data stores of a system and their dependencies.

use std::collections::BTreeMap;
use std::fmt;

use ha_core::{AggregationConfig, HealthAggregator, NodeId};

use crate::{Error, Result};

/// The most nodes a graph may hold; bounds the work of one analysis.
pub const MAX_GRAPH_NODES: usize = 100_000;

/// What a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum NodeKind {
    /// A service users reach, directly or through other services. The overall health is taken
    /// over the services.
    Service,
    /// A data store, queue or stream (PostgreSQL, Redis, Kafka).
    DataStore,
}

impl fmt::Display for NodeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NodeKind::Service => "service",
            NodeKind::DataStore => "data store",
        })
    }
}

/// A node of the graph.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct GraphNode {
    /// Its id, unique in the graph.
    pub id: NodeId,
    /// Service or data store.
    pub kind: NodeKind,
    /// A critical service caps the overall health (ha-core's [`Component::critical`](ha_core::Component::critical)):
    /// checkout down is the shop down, whatever else works.
    pub critical: bool,
}

impl GraphNode {
    /// A service that is not critical.
    ///
    /// # Errors
    /// [`ha_core::Error::EmptyNodeId`] for an empty id.
    pub fn service(id: impl AsRef<str>) -> Result<GraphNode> {
        Ok(GraphNode {
            id: NodeId::new(id)?,
            kind: NodeKind::Service,
            critical: false,
        })
    }

    /// A data store.
    ///
    /// # Errors
    /// [`ha_core::Error::EmptyNodeId`] for an empty id.
    pub fn data_store(id: impl AsRef<str>) -> Result<GraphNode> {
        Ok(GraphNode {
            id: NodeId::new(id)?,
            kind: NodeKind::DataStore,
            critical: false,
        })
    }

    /// The same node, marked critical.
    #[must_use]
    pub fn critical(mut self) -> GraphNode {
        self.critical = true;
        self
    }
}

/// How much a dependant loses when a dependency is down (and no fallback stands in).
///
/// Ordered from the least to the most loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum Criticality {
    /// A feature users barely notice goes (recommendations, analytics): the dependant's impact
    /// is at most [`ImpactLevel::Minor`](crate::ImpactLevel::Minor).
    Optional,
    /// The dependant works with less (slower, fewer features): impact at most
    /// [`ImpactLevel::Degraded`](crate::ImpactLevel::Degraded).
    Soft,
    /// The dependant cannot work without it: it takes the dependency's impact in full.
    Hard,
}

impl fmt::Display for Criticality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Criticality::Optional => "optional",
            Criticality::Soft => "soft",
            Criticality::Hard => "hard",
        })
    }
}

/// What a dependant serves instead when a dependency is down.
///
/// A fallback *contains* the failure: the dependant runs on it at the fallback's own impact
/// ([`Fallback::impact`](crate::Fallback::impact)), and its dependants see it working.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum Fallback {
    /// Last known values from a cache (stale data).
    Cached,
    /// Static defaults (a fixed price list, a canned page).
    Static,
    /// A reduced mode of the dependant itself (read-only, queue the writes).
    DegradedMode,
}

impl fmt::Display for Fallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Fallback::Cached => "cached",
            Fallback::Static => "static",
            Fallback::DegradedMode => "degraded mode",
        })
    }
}

/// An edge: `from` depends on `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Dependency {
    /// The dependant.
    pub from: NodeId,
    /// What it depends on.
    pub to: NodeId,
    /// How much `from` loses when `to` is down.
    pub criticality: Criticality,
    /// What `from` serves instead, if anything.
    pub fallback: Option<Fallback>,
}

impl Dependency {
    /// `from` depends on `to` with this criticality and no fallback.
    ///
    /// # Errors
    /// [`ha_core::Error::EmptyNodeId`] for an empty id.
    pub fn new(
        from: impl AsRef<str>,
        to: impl AsRef<str>,
        criticality: Criticality,
    ) -> Result<Self> {
        Ok(Dependency {
            from: NodeId::new(from)?,
            to: NodeId::new(to)?,
            criticality,
            fallback: None,
        })
    }

    /// The same edge with a fallback.
    #[must_use]
    pub fn with_fallback(mut self, fallback: Fallback) -> Dependency {
        self.fallback = Some(fallback);
        self
    }
}

/// Whether the graph may hold cycles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum CyclePolicy {
    /// A cycle is a design error (two services that cannot start without each other):
    /// construction fails with [`Error::DependencyCycle`] naming it. The default.
    #[default]
    Refuse,
    /// Cycles are taken as they are (mutual soft dependencies); the analysis still ends.
    Allow,
}

/// The graph's settings.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct GraphConfig {
    /// Whether cycles are refused. Default [`CyclePolicy::Refuse`].
    pub cycles: CyclePolicy,
    /// How the services' impacts make one overall health. Default ha-core's default rule.
    pub aggregation: AggregationConfig,
}

/// Services, data stores and their dependencies, validated.
///
/// A [`DependencyGraph`] holds [`GraphNode`]s (services and data stores) and [`Dependency`]
/// edges "`from` depends on `to`", each with a [`Criticality`] (how much `from` loses when `to`
/// is down) and an optional [`Fallback`] (what `from` serves instead: a cache, static content,
/// a degraded mode). [`DependencyGraph::impact`](crate::DependencyGraph::impact) turns a set of
/// failed nodes into a [`FailureImpact`](crate::FailureImpact).
///
/// The vocabulary is that of dependency-aware impact analysis as the SRE book's "Addressing
/// Cascading Failures" and AWS's "Static stability" write it: hard dependencies take their
/// dependants down, soft ones degrade them, and a fallback contains a failure.
///
/// The graph is validated once, at construction: node ids unique, every edge between known
/// nodes, no edge twice, and — unless [`CyclePolicy::Allow`] — no cycle (the error names one).
///
/// ```
/// use ha_scale::{Criticality, Dependency, DependencyGraph, Error, Fallback, GraphConfig, GraphNode};
///
/// let graph = DependencyGraph::new(
///     GraphConfig::default(),
///     [GraphNode::service("pricing")?, GraphNode::data_store("redis")?, GraphNode::data_store("postgresql")?],
///     [
///         Dependency::new("pricing", "redis", Criticality::Soft)?,
///         Dependency::new("pricing", "postgresql", Criticality::Hard)?.with_fallback(Fallback::Cached),
///     ],
/// )?;
/// assert_eq!(graph.dependencies_of("pricing")?.count(), 2);
///
/// let cyclic = DependencyGraph::new(
///     GraphConfig::default(),
///     [GraphNode::service("a")?, GraphNode::service("b")?],
///     [Dependency::new("a", "b", Criticality::Hard)?, Dependency::new("b", "a", Criticality::Soft)?],
/// );
/// assert!(matches!(cyclic, Err(Error::DependencyCycle { .. })));
/// # Ok::<(), ha_scale::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct DependencyGraph {
    pub(crate) config: GraphConfig,
    pub(crate) nodes: Vec<GraphNode>,
    pub(crate) index: BTreeMap<NodeId, usize>,
    pub(crate) edges: Vec<Dependency>,
    /// Per node, the indices (into `edges`) of the edges it is the `to` of: its dependants.
    pub(crate) dependants: Vec<Vec<usize>>,
    /// Per node, the indices of the edges it is the `from` of: its dependencies.
    pub(crate) dependencies: Vec<Vec<usize>>,
    pub(crate) aggregator: HealthAggregator,
}

impl DependencyGraph {
    /// A graph of these nodes and edges.
    ///
    /// # Errors
    /// - the aggregation settings' errors ([`AggregationConfig::validate`]);
    /// - [`ha_core::Error::TooLarge`] for more than [`MAX_GRAPH_NODES`] nodes;
    /// - [`Error::DuplicateNode`] for an id given twice;
    /// - [`Error::UnknownNode`] for an edge naming a node not given;
    /// - [`Error::DuplicateDependency`] for the same `from → to` twice;
    /// - [`Error::DependencyCycle`], naming one cycle, when cycles are refused and there is one
    ///   (a node depending on itself is a cycle).
    pub fn new(
        config: GraphConfig,
        nodes: impl IntoIterator<Item = GraphNode>,
        edges: impl IntoIterator<Item = Dependency>,
    ) -> Result<DependencyGraph> {
        let aggregator = HealthAggregator::new(config.aggregation)?;
        let nodes: Vec<GraphNode> = nodes.into_iter().collect();
        if nodes.len() > MAX_GRAPH_NODES {
            return Err(ha_core::Error::TooLarge {
                name: "graph nodes",
                value: nodes.len() as u64,
                max: MAX_GRAPH_NODES as u64,
            }
            .into());
        }
        let mut index = BTreeMap::new();
        for (i, node) in nodes.iter().enumerate() {
            if index.insert(node.id.clone(), i).is_some() {
                return Err(Error::DuplicateNode(node.id.to_string()));
            }
        }
        let edges: Vec<Dependency> = edges.into_iter().collect();
        let mut dependants = vec![Vec::new(); nodes.len()];
        let mut dependencies = vec![Vec::new(); nodes.len()];
        let mut seen = BTreeMap::new();
        for (e, edge) in edges.iter().enumerate() {
            let lookup = |id: &NodeId| {
                index.get(id).copied().ok_or_else(|| Error::UnknownNode {
                    node: id.to_string(),
                    context: format!("the dependency {} → {}", edge.from, edge.to),
                })
            };
            let (from, to) = (lookup(&edge.from)?, lookup(&edge.to)?);
            if seen.insert((from, to), e).is_some() {
                return Err(Error::DuplicateDependency {
                    from: edge.from.to_string(),
                    to: edge.to.to_string(),
                });
            }
            dependencies[from].push(e);
            dependants[to].push(e);
        }
        let graph = DependencyGraph {
            config,
            nodes,
            index,
            edges,
            dependants,
            dependencies,
            aggregator,
        };
        if config.cycles == CyclePolicy::Refuse {
            if let Some(cycle) = graph.find_cycle() {
                return Err(Error::DependencyCycle { cycle });
            }
        }
        tracing::debug!(
            nodes = graph.nodes.len(),
            edges = graph.edges.len(),
            cycles = ?config.cycles,
            "dependency graph built"
        );
        Ok(graph)
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &GraphConfig {
        &self.config
    }

    /// The nodes, in the order given.
    #[must_use]
    pub fn nodes(&self) -> &[GraphNode] {
        &self.nodes
    }

    /// The edges, in the order given.
    #[must_use]
    pub fn edges(&self) -> &[Dependency] {
        &self.edges
    }

    /// The node with this id.
    #[must_use]
    pub fn node(&self, id: &str) -> Option<&GraphNode> {
        self.index.get(id).and_then(|&i| self.nodes.get(i))
    }

    /// The edges from `id`: what it depends on.
    ///
    /// # Errors
    /// [`Error::UnknownNode`] for an id not in the graph.
    pub fn dependencies_of(&self, id: &str) -> Result<impl Iterator<Item = &Dependency>> {
        let i = self.position(id, "the query")?;
        Ok(self.dependencies[i]
            .iter()
            .filter_map(|&e| self.edges.get(e)))
    }

    /// The edges to `id`: what depends on it.
    ///
    /// # Errors
    /// [`Error::UnknownNode`] for an id not in the graph.
    pub fn dependants_of(&self, id: &str) -> Result<impl Iterator<Item = &Dependency>> {
        let i = self.position(id, "the query")?;
        Ok(self.dependants[i].iter().filter_map(|&e| self.edges.get(e)))
    }

    pub(crate) fn position(&self, id: &str, context: &str) -> Result<usize> {
        self.index
            .get(id)
            .copied()
            .ok_or_else(|| Error::UnknownNode {
                node: id.to_owned(),
                context: context.to_owned(),
            })
    }

    /// One cycle, as the ids along it with the first repeated at the end (`a → b → a`), if the
    /// graph has any. Iterative depth-first search with three colours, in node order.
    fn find_cycle(&self) -> Option<Vec<String>> {
        #[derive(Clone, Copy, PartialEq)]
        enum Colour {
            White,
            Grey,
            Black,
        }
        let mut colour = vec![Colour::White; self.nodes.len()];
        for start in 0..self.nodes.len() {
            if colour[start] != Colour::White {
                continue;
            }
            // (node, next outgoing edge to look at)
            let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
            colour[start] = Colour::Grey;
            while let Some(&mut (node, ref mut next)) = stack.last_mut() {
                let Some(&e) = self.dependencies[node].get(*next) else {
                    colour[node] = Colour::Black;
                    stack.pop();
                    continue;
                };
                *next += 1;
                let Some(&to) = self.edges.get(e).and_then(|edge| self.index.get(&edge.to)) else {
                    continue;
                };
                match colour[to] {
                    Colour::White => {
                        colour[to] = Colour::Grey;
                        stack.push((to, 0));
                    }
                    Colour::Grey => {
                        let from = stack.iter().position(|&(n, _)| n == to).unwrap_or(0);
                        let mut cycle: Vec<String> = stack[from..]
                            .iter()
                            .map(|&(n, _)| self.nodes[n].id.to_string())
                            .collect();
                        cycle.push(self.nodes[to].id.to_string());
                        return Some(cycle);
                    }
                    Colour::Black => {}
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(id: &str) -> GraphNode {
        GraphNode::service(id).unwrap()
    }

    fn dep(from: &str, to: &str) -> Dependency {
        Dependency::new(from, to, Criticality::Hard).unwrap()
    }

    #[test]
    fn cycles_are_refused_and_named() {
        let err = DependencyGraph::new(
            GraphConfig::default(),
            ["a", "b", "c", "d"].map(svc),
            [dep("a", "b"), dep("b", "c"), dep("c", "d"), dep("d", "b")],
        )
        .unwrap_err();
        assert_eq!(
            err,
            Error::DependencyCycle {
                cycle: ["b", "c", "d", "b"].map(String::from).to_vec()
            }
        );
        assert_eq!(err.to_string(), "dependency cycle: b → c → d → b");
        let self_loop =
            DependencyGraph::new(GraphConfig::default(), [svc("a")], [dep("a", "a")]).unwrap_err();
        assert_eq!(self_loop.to_string(), "dependency cycle: a → a");
    }

    #[test]
    fn cycles_pass_when_allowed() {
        let config = GraphConfig {
            cycles: CyclePolicy::Allow,
            ..GraphConfig::default()
        };
        let graph =
            DependencyGraph::new(config, ["a", "b"].map(svc), [dep("a", "b"), dep("b", "a")])
                .unwrap();
        assert_eq!(graph.edges().len(), 2);
    }

    #[test]
    fn a_diamond_is_not_a_cycle() {
        let graph = DependencyGraph::new(
            GraphConfig::default(),
            ["a", "b", "c", "d"].map(svc),
            [dep("a", "b"), dep("a", "c"), dep("b", "d"), dep("c", "d")],
        )
        .unwrap();
        assert_eq!(graph.dependants_of("d").unwrap().count(), 2);
        assert_eq!(graph.dependencies_of("a").unwrap().count(), 2);
    }

    #[test]
    fn unknown_duplicate_and_empty_names_are_refused() {
        let unknown = DependencyGraph::new(GraphConfig::default(), [svc("a")], [dep("a", "kafka")])
            .unwrap_err();
        assert!(matches!(&unknown, Error::UnknownNode { node, .. } if node == "kafka"));
        assert_eq!(
            unknown.to_string(),
            "unknown node kafka in the dependency a → kafka"
        );
        let twice = DependencyGraph::new(
            GraphConfig::default(),
            ["a", "b"].map(svc),
            [dep("a", "b"), dep("a", "b").with_fallback(Fallback::Static)],
        )
        .unwrap_err();
        assert_eq!(
            twice,
            Error::DuplicateDependency {
                from: "a".into(),
                to: "b".into()
            }
        );
        let node_twice =
            DependencyGraph::new(GraphConfig::default(), ["a", "a"].map(svc), []).unwrap_err();
        assert_eq!(node_twice, Error::DuplicateNode("a".into()));
        assert!(GraphNode::service("").is_err());
        assert!(Dependency::new("a", "", Criticality::Soft).is_err());
        let graph = DependencyGraph::new(GraphConfig::default(), [svc("a")], []).unwrap();
        assert!(matches!(
            graph.dependants_of("zz").err(),
            Some(Error::UnknownNode { .. })
        ));
    }

    #[test]
    fn bad_aggregation_settings_are_refused() {
        let config = GraphConfig {
            aggregation: AggregationConfig {
                unhealthy_above_ratio: f64::NAN,
                ..AggregationConfig::default()
            },
            ..GraphConfig::default()
        };
        assert!(matches!(
            DependencyGraph::new(config, [svc("a")], []),
            Err(Error::Core(ha_core::Error::NotFinite { .. }))
        ));
    }
}
