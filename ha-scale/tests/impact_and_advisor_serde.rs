//! The failure-impact, advisor and what-if config and report types survive a JSON round trip.
#![cfg(feature = "serde")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use ha_scale::{
    CacheAdvisor, CacheAdvisorConfig, CacheObservation, CacheTarget, Criticality, DatabaseAdvisor,
    DatabaseAdvisorConfig, DatabaseObservation, Dependency, DependencyGraph, Fallback, GIB,
    GraphConfig, GraphNode, ResourceModel, Tier, TierKind, TierResource, WhatIf,
};

/// Serialises, reads back and compares, through JSON values (floats may differ in the last bit
/// after serde_json's default parser, so the text is compared once more after the round trip).
fn round_trip<T: serde::Serialize + serde::de::DeserializeOwned>(value: &T) -> String {
    let json = serde_json::to_string(value).unwrap();
    let back: T = serde_json::from_str(&json).unwrap();
    let again = serde_json::to_string(&back).unwrap();
    let (a, b): (serde_json::Value, serde_json::Value) = (
        serde_json::from_str(&json).unwrap(),
        serde_json::from_str(&again).unwrap(),
    );
    assert_eq!(a, b);
    json
}

#[test]
fn impact_reports_and_graph_parts_round_trip() {
    let nodes = vec![
        GraphNode::service("pricing").unwrap().critical(),
        GraphNode::data_store("redis").unwrap(),
        GraphNode::data_store("postgresql").unwrap(),
    ];
    let edges = vec![
        Dependency::new("pricing", "redis", Criticality::Soft).unwrap(),
        Dependency::new("pricing", "postgresql", Criticality::Hard)
            .unwrap()
            .with_fallback(Fallback::DegradedMode),
    ];
    round_trip(&nodes);
    let json = round_trip(&edges);
    assert!(json.contains("\"degraded_mode\""), "{json}");
    round_trip(&GraphConfig::default());
    let graph = DependencyGraph::new(GraphConfig::default(), nodes, edges).unwrap();
    let impact = graph.impact(["redis", "postgresql"]).unwrap();
    let json = round_trip(&impact);
    assert!(json.contains("\"outage\""), "{json}");
}

#[test]
fn advisor_configs_and_advice_round_trip() {
    round_trip(&DatabaseAdvisorConfig::default());
    round_trip(&CacheAdvisorConfig::default());
    let obs = DatabaseObservation {
        reads_per_second: 900.0,
        writes_per_second: 100.0,
        replicas: 1,
        replica_lag: Duration::from_millis(10),
        storage_used_ratio: 0.9,
        query_time: Duration::from_secs(3),
        mean_query_time: Duration::from_millis(5),
        pool_size: 10,
        pool_utilization_ratio: 0.8,
        cpu_cores: Some(4),
        effective_spindles: 1,
    };
    round_trip(&obs);
    let advice = DatabaseAdvisor::new(DatabaseAdvisorConfig::default())
        .unwrap()
        .advise(&obs)
        .unwrap();
    assert_eq!(advice.scale_up.len(), 3);
    round_trip(&advice);
    let cache = CacheAdvisor::new(CacheAdvisorConfig::default()).unwrap();
    let obs = CacheObservation {
        data_bytes: 40 * GIB,
        shards: 1,
        replicas_per_shard: 1,
        keys: 10,
        hits: 1,
        misses: 9,
        evictions: 5,
    };
    round_trip(&obs);
    round_trip(&cache.advise(&obs).unwrap());
    round_trip(&CacheTarget::data(GIB));
    round_trip(&cache.size_cluster(&CacheTarget::data(GIB)).unwrap());
}

#[test]
fn what_if_models_and_reports_round_trip() {
    let tier = Tier::new(
        "cache",
        TierKind::Cache,
        vec![
            ResourceModel::linear(TierResource::Memory, 0.5).unwrap(),
            ResourceModel::linear(TierResource::Cpu, 0.0).unwrap(),
        ],
    )
    .unwrap();
    round_trip(&tier);
    let report = WhatIf::new(vec![tier]).unwrap().project(3.0).unwrap();
    let json = round_trip(&report);
    assert!(json.contains("\"cluster_mode\""), "{json}");
}
