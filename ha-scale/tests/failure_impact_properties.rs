//! Failure impact against a brute-force reference over random graphs: the affected nodes are
//! exactly those with a fallback-free path to a failed node, the levels are the best such path
//! through the criticalities, more failures never make anything better, and a refused cycle is
//! a real one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use ha_core::Health;
use ha_scale::{
    Criticality, CyclePolicy, Dependency, DependencyGraph, Error, Fallback, GraphConfig, GraphNode,
    ImpactLevel,
};
use proptest::prelude::*;

/// A random graph as plain data: node count, edges `(from, to, criticality, fallback)`, and
/// which nodes are services and critical.
#[derive(Debug, Clone)]
struct Spec {
    n: usize,
    edges: Vec<(usize, usize, Criticality, Option<Fallback>)>,
    service: Vec<bool>,
    critical: Vec<bool>,
}

fn name(i: usize) -> String {
    format!("n{i}")
}

fn criticality() -> impl Strategy<Value = Criticality> {
    prop_oneof![
        Just(Criticality::Hard),
        Just(Criticality::Soft),
        Just(Criticality::Optional)
    ]
}

fn fallback() -> impl Strategy<Value = Option<Fallback>> {
    prop_oneof![
        3 => Just(None),
        1 => Just(Some(Fallback::Cached)),
        1 => Just(Some(Fallback::Static)),
        1 => Just(Some(Fallback::DegradedMode)),
    ]
}

/// Graphs of up to 8 nodes; `dag` keeps every edge pointing to a higher index.
fn spec(dag: bool) -> impl Strategy<Value = Spec> {
    (1usize..=8).prop_flat_map(move |n| {
        let edge = (0..n, 0..n, criticality(), fallback());
        (
            prop::collection::vec(edge, 0..(n * 3)),
            prop::collection::vec(any::<bool>(), n),
            prop::collection::vec(prop::bool::weighted(0.2), n),
        )
            .prop_map(move |(raw, service, critical)| {
                let mut seen = BTreeSet::new();
                let edges = raw
                    .into_iter()
                    .filter(|&(a, b, _, _)| !dag || a < b)
                    .filter(|&(a, b, _, _)| seen.insert((a, b)))
                    .collect();
                Spec {
                    n,
                    edges,
                    service,
                    critical,
                }
            })
    })
}

fn build(spec: &Spec, cycles: CyclePolicy) -> Result<DependencyGraph, Error> {
    let nodes = (0..spec.n).map(|i| {
        let node = if spec.service[i] {
            GraphNode::service(name(i)).unwrap()
        } else {
            GraphNode::data_store(name(i)).unwrap()
        };
        if spec.critical[i] {
            node.critical()
        } else {
            node
        }
    });
    let edges = spec.edges.iter().map(|&(a, b, c, f)| {
        let d = Dependency::new(name(a), name(b), c).unwrap();
        match f {
            Some(f) => d.with_fallback(f),
            None => d,
        }
    });
    DependencyGraph::new(
        GraphConfig {
            cycles,
            ..GraphConfig::default()
        },
        nodes,
        edges,
    )
}

/// The reference: over every simple path of fallback-free edges from `v` to a failed node,
/// the best level it carries (the least cap along it), or `None` when there is no such path.
fn best_path(spec: &Spec, failed: &[bool], v: usize) -> Option<ImpactLevel> {
    fn walk(
        spec: &Spec,
        failed: &[bool],
        v: usize,
        cap: ImpactLevel,
        on_path: &mut Vec<bool>,
        best: &mut Option<ImpactLevel>,
    ) {
        if failed[v] {
            *best = (*best).max(Some(cap));
        }
        on_path[v] = true;
        for &(a, b, c, f) in &spec.edges {
            if a == v && f.is_none() && !on_path[b] {
                walk(spec, failed, b, c.pass(cap), on_path, best);
            }
        }
        on_path[v] = false;
    }
    let mut best = None;
    walk(
        spec,
        failed,
        v,
        ImpactLevel::Outage,
        &mut vec![false; spec.n],
        &mut best,
    );
    best
}

/// Whether any path (any edges) leads from `v` to a failed node: the transitive dependants.
fn depends_transitively(spec: &Spec, failed: &[bool], v: usize) -> bool {
    let mut seen = vec![false; spec.n];
    let mut stack = vec![v];
    while let Some(u) = stack.pop() {
        if failed[u] {
            return true;
        }
        if std::mem::replace(&mut seen[u], true) {
            continue;
        }
        stack.extend(spec.edges.iter().filter(|e| e.0 == u).map(|e| e.1));
    }
    false
}

fn failed_names(failed: &[bool]) -> Vec<String> {
    (0..failed.len()).filter(|&i| failed[i]).map(name).collect()
}

fn failed_set(n: usize) -> impl Strategy<Value = Vec<bool>> {
    prop::collection::vec(prop::bool::weighted(0.25), n)
}

fn graph_and_failures(dag: bool) -> impl Strategy<Value = (Spec, Vec<bool>)> {
    spec(dag).prop_flat_map(|s| {
        let n = s.n;
        (Just(s), failed_set(n))
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn impact_marks_exactly_the_transitive_dependants_of_failed_nodes_minus_those_behind_a_fallback(
        (spec, failed) in graph_and_failures(false),
    ) {
        let graph = build(&spec, CyclePolicy::Allow).unwrap();
        let impact = graph.impact(failed_names(&failed)).unwrap();
        for v in 0..spec.n {
            let reference = best_path(&spec, &failed, v).is_some();
            prop_assert_eq!(impact.is_affected(&name(v)), reference, "node {}", v);
            // Affected nodes are transitive dependants, whatever the fallbacks.
            if reference {
                prop_assert!(depends_transitively(&spec, &failed, v));
            }
            // A transitive dependant left unaffected has a fallback in effect on its way:
            // on every path some edge with a fallback leaves an affected node's dependant.
            if depends_transitively(&spec, &failed, v) && !reference {
                let contained = spec.edges.iter().any(|&(a, b, _, f)| {
                    f.is_some() && best_path(&spec, &failed, b).is_some()
                        && best_path(&spec, &failed, a).is_none()
                });
                prop_assert!(contained);
            }
            // On a fallback: not affected, with a fallback edge to an affected node.
            let on_fallback_reference = !reference
                && spec.edges.iter().any(|&(a, b, _, f)| {
                    a == v && f.is_some() && best_path(&spec, &failed, b).is_some()
                });
            prop_assert_eq!(
                impact.on_fallback(&name(v)) && !impact.is_affected(&name(v)),
                on_fallback_reference,
                "node {}", v
            );
        }
        let affected: Vec<String> = impact.affected().into_iter().map(|id| id.to_string()).collect();
        let mut expected: Vec<String> =
            (0..spec.n).filter(|&v| best_path(&spec, &failed, v).is_some()).map(name).collect();
        expected.sort();
        prop_assert_eq!(affected, expected);
    }

    #[test]
    fn impact_levels_are_the_best_fallback_free_path_through_the_criticalities(
        (spec, failed) in graph_and_failures(false),
    ) {
        let graph = build(&spec, CyclePolicy::Allow).unwrap();
        let impact = graph.impact(failed_names(&failed)).unwrap();
        for v in 0..spec.n {
            let through_paths = best_path(&spec, &failed, v).unwrap_or(ImpactLevel::None);
            let through_fallbacks = spec
                .edges
                .iter()
                .filter(|&&(a, b, _, f)| a == v && f.is_some() && best_path(&spec, &failed, b).is_some())
                .filter_map(|&(_, _, _, f)| f.map(Fallback::impact))
                .max()
                .unwrap_or(ImpactLevel::None);
            prop_assert_eq!(impact.level(&name(v)), through_paths.max(through_fallbacks), "node {}", v);
        }
        // The overall health is ha-core's aggregation of the services' levels.
        let services: Vec<ha_core::Component> = (0..spec.n)
            .filter(|&v| spec.service[v])
            .map(|v| ha_core::Component { health: impact.level(&name(v)).health(), critical: spec.critical[v] })
            .collect();
        let expected = ha_core::HealthAggregator::new(Default::default()).unwrap().aggregate(services);
        prop_assert_eq!(impact.health, expected);
    }

    #[test]
    fn more_failures_never_make_any_node_or_the_whole_better(
        (spec, failed, more) in spec(false).prop_flat_map(|s| {
            let n = s.n;
            (Just(s), failed_set(n), failed_set(n))
        }),
    ) {
        let graph = build(&spec, CyclePolicy::Allow).unwrap();
        let union: Vec<bool> = failed.iter().zip(&more).map(|(a, b)| *a || *b).collect();
        let small = graph.impact(failed_names(&failed)).unwrap();
        let large = graph.impact(failed_names(&union)).unwrap();
        for v in 0..spec.n {
            prop_assert!(large.level(&name(v)) >= small.level(&name(v)),
                "node {}: {:?} then {:?}", v, small.level(&name(v)), large.level(&name(v)));
            prop_assert!(!small.is_affected(&name(v)) || large.is_affected(&name(v)));
        }
        // Health's order: Healthy < Unknown < Degraded < Unhealthy.
        prop_assert!(large.health.health >= small.health.health);
    }

    #[test]
    fn a_graph_is_refused_exactly_when_it_has_a_cycle_and_the_error_names_a_real_one(
        spec in spec(false),
    ) {
        let has_cycle = (0..spec.n).any(|v| {
            // v reaches itself through at least one edge.
            let starts: Vec<bool> = (0..spec.n).map(|u| u == v).collect();
            spec.edges.iter().any(|&(a, b, _, _)| a == v && depends_transitively(&spec, &starts, b))
        });
        match build(&spec, CyclePolicy::Refuse) {
            Ok(_) => prop_assert!(!has_cycle),
            Err(Error::DependencyCycle { cycle }) => {
                prop_assert!(has_cycle);
                prop_assert!(cycle.len() >= 2);
                prop_assert_eq!(cycle.first(), cycle.last());
                for pair in cycle.windows(2) {
                    prop_assert!(spec.edges.iter().any(|&(a, b, _, _)| name(a) == pair[0] && name(b) == pair[1]),
                        "{:?} is not an edge", pair);
                }
            }
            Err(other) => prop_assert!(false, "unexpected error {other}"),
        }
    }

    #[test]
    fn acyclic_graphs_are_always_accepted((spec, failed) in graph_and_failures(true)) {
        let graph = build(&spec, CyclePolicy::Refuse).unwrap();
        let impact = graph.impact(failed_names(&failed)).unwrap();
        prop_assert_eq!(impact.failed.len(), failed.iter().filter(|&&f| f).count());
    }

    #[test]
    fn building_a_graph_from_any_names_never_panics(
        nodes in prop::collection::vec("[a-c]{0,2}", 0..6),
        edges in prop::collection::vec(("[a-d]{0,2}", "[a-d]{0,2}", criticality()), 0..8),
        failed in prop::collection::vec("[a-d]{0,2}", 0..3),
    ) {
        let nodes: Vec<GraphNode> = nodes.iter().filter_map(|n| GraphNode::service(n).ok()).collect();
        let edges: Vec<Dependency> =
            edges.iter().filter_map(|(a, b, c)| Dependency::new(a, b, *c).ok()).collect();
        if let Ok(graph) = DependencyGraph::new(GraphConfig::default(), nodes, edges) {
            match graph.impact(&failed) {
                Ok(impact) => prop_assert!(impact.failed.len() <= failed.len()),
                Err(e) => {
                    let expected = matches!(e, Error::UnknownNode { .. });
                    prop_assert!(expected, "unexpected error {}", e);
                }
            }
        }
    }
}

#[test]
fn the_issue_example_pricing_and_the_stream_processor() {
    let graph = DependencyGraph::new(
        GraphConfig::default(),
        [
            GraphNode::service("web").unwrap().critical(),
            GraphNode::service("pricing").unwrap(),
            GraphNode::service("stream processor").unwrap(),
            GraphNode::service("recommendations").unwrap(),
            GraphNode::data_store("redis").unwrap(),
            GraphNode::data_store("postgresql").unwrap(),
            GraphNode::data_store("kafka").unwrap(),
        ],
        [
            Dependency::new("web", "pricing", Criticality::Hard).unwrap(),
            Dependency::new("web", "recommendations", Criticality::Optional).unwrap(),
            Dependency::new("pricing", "redis", Criticality::Soft).unwrap(),
            Dependency::new("pricing", "postgresql", Criticality::Hard)
                .unwrap()
                .with_fallback(Fallback::Static),
            Dependency::new("recommendations", "kafka", Criticality::Hard).unwrap(),
            Dependency::new("stream processor", "kafka", Criticality::Hard).unwrap(),
            Dependency::new("stream processor", "redis", Criticality::Hard).unwrap(),
        ],
    )
    .unwrap();

    let kafka = graph.impact(["kafka"]).unwrap();
    assert_eq!(kafka.level("stream processor"), ImpactLevel::Outage);
    assert_eq!(kafka.level("recommendations"), ImpactLevel::Outage);
    assert_eq!(kafka.level("web"), ImpactLevel::Minor, "optional edge");
    assert_eq!(kafka.level("pricing"), ImpactLevel::None);
    assert!(kafka.fallbacks.is_empty());
    // 2 of 4 services down: over 30%.
    assert_eq!(kafka.health.health, Health::Unhealthy);
    assert_eq!(kafka.impacts[0].level, ImpactLevel::Outage);

    let postgres = graph.impact(["postgresql"]).unwrap();
    assert_eq!(
        postgres.level("pricing"),
        ImpactLevel::Degraded,
        "static prices"
    );
    assert!(!postgres.is_affected("pricing") && !postgres.is_affected("web"));
    assert_eq!(postgres.fallbacks.len(), 1);
    assert_eq!(postgres.fallbacks[0].fallback, Fallback::Static);
    assert_eq!(postgres.health.health, Health::Degraded);

    let both = graph.impact(["postgresql", "redis", "redis"]).unwrap();
    assert_eq!(both.failed.len(), 2);
    let pricing = both
        .impacts
        .iter()
        .find(|i| i.node.as_str() == "pricing")
        .unwrap();
    assert!(pricing.affected && pricing.on_fallback);
    assert_eq!(
        pricing
            .causes
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>(),
        ["postgresql", "redis"]
    );
    assert_eq!(both.level("web"), ImpactLevel::Degraded);
    // 1 of 4 services down (25%, not over 30%), web (critical) degraded.
    assert_eq!(both.health.health, Health::Degraded);

    assert!(matches!(
        graph.impact(["mysql"]),
        Err(Error::UnknownNode { node, .. }) if node == "mysql"
    ));
    let none = graph.impact(Vec::<String>::new()).unwrap();
    assert!(none.impacts.is_empty());
    assert_eq!(none.health.health, Health::Healthy);
}

#[test]
fn allowed_cycles_end_and_propagate_around() {
    let graph = DependencyGraph::new(
        GraphConfig {
            cycles: CyclePolicy::Allow,
            ..GraphConfig::default()
        },
        ["a", "b", "c"].map(|n| GraphNode::service(n).unwrap()),
        [
            Dependency::new("a", "b", Criticality::Hard).unwrap(),
            Dependency::new("b", "a", Criticality::Soft).unwrap(),
            Dependency::new("c", "a", Criticality::Hard).unwrap(),
        ],
    )
    .unwrap();
    let impact = graph.impact(["b"]).unwrap();
    assert_eq!(impact.level("a"), ImpactLevel::Outage);
    assert_eq!(impact.level("c"), ImpactLevel::Outage);
    let impact = graph.impact(["a"]).unwrap();
    assert_eq!(impact.level("b"), ImpactLevel::Degraded);
    assert_eq!(impact.level("c"), ImpactLevel::Outage);
}
