//! Tier advisors and what-if projections under arbitrary input: they never panic (bad input is
//! a typed error), and they are monotone where they should be — more load never recommends
//! fewer replicas, a smaller pool or fewer shards, worse metrics never withdraw a scale-up, and
//! projections grow with load and cross their limits where the report says.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use ha_scale::{
    CacheAdvisor, CacheAdvisorConfig, CacheObservation, CacheTarget, DatabaseAdvisor,
    DatabaseAdvisorConfig, DatabaseObservation, Error, GIB, MAX_CACHE_SHARDS, ResourceModel, Tier,
    TierKind, TierResource, WhatIf,
};
use proptest::prelude::*;

/// Any f64, the awkward ones often.
fn any_number() -> impl Strategy<Value = f64> {
    prop_oneof![
        2 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(-0.0),
        1 => Just(1e300),
        6 => -10.0f64..10.0,
        4 => 0.0f64..1.0,
        2 => any::<f64>(),
    ]
}

fn any_duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        Just(Duration::ZERO),
        Just(Duration::MAX),
        (0u64..10_000).prop_map(Duration::from_millis),
    ]
}

fn db_observation() -> impl Strategy<Value = DatabaseObservation> {
    (
        (0.0f64..1e6, 0.0f64..1e6, 0u32..6, 0u64..300),
        (0.0f64..=1.0, 0u64..5000, 1u64..500, 1u32..200, 0.0f64..=1.0),
        (prop::option::of(1u32..64), 0u32..8),
    )
        .prop_map(
            |(
                (reads, writes, replicas, lag),
                (storage, qt, mqt, pool, util),
                (cores, spindles),
            )| {
                DatabaseObservation {
                    reads_per_second: reads,
                    writes_per_second: writes,
                    replicas,
                    replica_lag: Duration::from_millis(lag),
                    storage_used_ratio: storage,
                    query_time: Duration::from_millis(qt),
                    mean_query_time: Duration::from_millis(mqt),
                    pool_size: pool,
                    pool_utilization_ratio: util,
                    cpu_cores: cores,
                    effective_spindles: spindles,
                }
            },
        )
}

fn advisor() -> DatabaseAdvisor {
    DatabaseAdvisor::new(DatabaseAdvisorConfig::default()).unwrap()
}

fn cache_advisor() -> CacheAdvisor {
    CacheAdvisor::new(CacheAdvisorConfig::default()).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn database_advisor_never_panics_on_any_input(
        rates in (any_number(), any_number(), any_number(), any_number()),
        durations in (any_duration(), any_duration(), any_duration()),
        counts in (any::<u32>(), any::<u32>(), prop::option::of(any::<u32>()), any::<u32>()),
        config in (any_number(), any_duration(), any::<u32>(), any_number(), any_duration(), any_number(), any_number()),
    ) {
        let obs = DatabaseObservation {
            reads_per_second: rates.0,
            writes_per_second: rates.1,
            replicas: counts.0,
            replica_lag: durations.0,
            storage_used_ratio: rates.2,
            query_time: durations.1,
            mean_query_time: durations.2,
            pool_size: counts.1,
            pool_utilization_ratio: rates.3,
            cpu_cores: counts.2,
            effective_spindles: counts.3,
        };
        match advisor().advise(&obs) {
            Ok(advice) => {
                prop_assert!(advice.recommended_replicas >= obs.replicas);
                prop_assert!(advice.pool.needed >= 1);
            }
            Err(e) => prop_assert!(matches!(e, Error::Core(_)), "{}", e),
        }
        let custom = DatabaseAdvisorConfig {
            read_write_ratio_above: config.0,
            max_replica_lag: config.1,
            max_replicas_per_primary: config.2,
            storage_above_ratio: config.3,
            query_time_above: config.4,
            pool_utilization_above_ratio: config.5,
            pool_headroom_ratio: config.6,
        };
        if let Ok(advisor) = DatabaseAdvisor::new(custom) {
            let _ = advisor.advise(&obs);
        }
    }

    #[test]
    fn more_reads_never_recommend_fewer_replicas(
        obs in db_observation(),
        extra in 0.0f64..1e6,
    ) {
        let before = advisor().advise(&obs).unwrap();
        let busier = DatabaseObservation { reads_per_second: obs.reads_per_second + extra, ..obs };
        let after = advisor().advise(&busier).unwrap();
        prop_assert!(after.recommended_replicas >= before.recommended_replicas,
            "{:?} then {:?}", before.replicas, after.replicas);
        prop_assert!(after.recommended_replicas >= obs.replicas);
        prop_assert!(after.recommended_replicas <= obs.replicas.max(3));
    }

    #[test]
    fn scaling_all_load_never_recommends_fewer_replicas_or_a_smaller_pool(
        obs in db_observation(),
        factor in 1.0f64..100.0,
    ) {
        let before = advisor().advise(&obs).unwrap();
        let busier = DatabaseObservation {
            reads_per_second: obs.reads_per_second * factor,
            writes_per_second: obs.writes_per_second * factor,
            ..obs
        };
        let after = advisor().advise(&busier).unwrap();
        prop_assert!(after.recommended_replicas >= before.recommended_replicas);
        prop_assert!(after.pool.needed >= before.pool.needed);
        prop_assert!(after.pool.concurrency >= before.pool.concurrency);
    }

    #[test]
    fn worse_metrics_never_withdraw_a_scale_up(
        obs in db_observation(),
        more in (0.0f64..=1.0, 0u64..5000, 0.0f64..=1.0),
    ) {
        let before = advisor().advise(&obs).unwrap();
        let worse = DatabaseObservation {
            storage_used_ratio: (obs.storage_used_ratio + more.0).min(1.0),
            query_time: obs.query_time + Duration::from_millis(more.1),
            pool_utilization_ratio: (obs.pool_utilization_ratio + more.2).min(1.0),
            ..obs
        };
        let after = advisor().advise(&worse).unwrap();
        prop_assert!(after.scale_up.len() >= before.scale_up.len());
    }

    #[test]
    fn cache_advisor_never_panics_on_any_input(
        obs in (any::<u64>(), any::<u32>(), any::<u32>(), any::<u64>(), any::<u64>(), any::<u64>(), any::<u64>()),
        target in (any::<u64>(), any::<u32>(), any_number(), any_number()),
        config in (any::<u64>(), any_number(), any_number(), any::<u64>(), any_number(), any::<u32>()),
    ) {
        let obs = CacheObservation {
            data_bytes: obs.0,
            shards: obs.1,
            replicas_per_shard: obs.2,
            keys: obs.3,
            hits: obs.4,
            misses: obs.5,
            evictions: obs.6,
        };
        let target = CacheTarget {
            data_bytes: target.0,
            replicas_per_shard: target.1,
            ops_per_second: target.2,
            ops_per_shard: target.3,
        };
        let custom = CacheAdvisorConfig {
            cluster_above_bytes: config.0,
            eviction_rate_above_ratio: config.1,
            hit_ratio_below: config.2,
            max_node_memory_bytes: config.3,
            memory_headroom_ratio: config.4,
            min_shards: config.5,
        };
        for advisor in [Ok(cache_advisor()), CacheAdvisor::new(custom)].into_iter().flatten() {
            if let Ok(advice) = advisor.advise(&obs) {
                prop_assert!(advice.hit_ratio.is_none_or(|r| (0.0..=1.0).contains(&r)));
                prop_assert!(advice.eviction_rate.is_none_or(|r| (0.0..=1.0).contains(&r)));
            }
            if let Ok(plan) = advisor.size_cluster(&target) {
                prop_assert!(plan.shards >= 1 && plan.shards <= MAX_CACHE_SHARDS);
                prop_assert!(plan.memory_per_node_bytes <= advisor.config().max_node_memory_bytes);
            }
        }
    }

    #[test]
    fn more_data_or_throughput_never_plans_fewer_shards_and_nodes_stay_within_memory(
        data in 0u64..(100_000 * GIB),
        extra in 0u64..(10_000 * GIB),
        ops in 0.0f64..1e7,
        more_ops in 0.0f64..1e7,
        replicas in 0u32..4,
    ) {
        let advisor = cache_advisor();
        let target = CacheTarget { data_bytes: data, replicas_per_shard: replicas, ops_per_second: ops, ops_per_shard: 100_000.0 };
        let small = advisor.size_cluster(&target).unwrap();
        let large = advisor.size_cluster(&CacheTarget {
            data_bytes: data + extra,
            ops_per_second: ops + more_ops,
            ..target
        }).unwrap();
        prop_assert!(large.shards >= small.shards);
        prop_assert!(large.nodes >= small.nodes);
        for plan in [small, large] {
            prop_assert!(plan.memory_per_node_bytes <= 30 * GIB);
            prop_assert!(plan.shards >= 3);
            prop_assert_eq!(plan.nodes, plan.shards * (1 + replicas));
        }
    }

    #[test]
    fn what_if_never_panics_on_any_numbers(
        models in prop::collection::vec((any_number(), any_number(), any_number()), 0..5),
        k in any_number(),
    ) {
        let resources = [TierResource::Cpu, TierResource::Memory, TierResource::Connections, TierResource::Disk, TierResource::Network];
        let resources: Vec<ResourceModel> = models
            .iter()
            .zip(resources)
            .map(|(&(u, l, e), resource)| ResourceModel { resource, utilization_ratio: u, limit_ratio: l, exponent: e })
            .collect();
        let tier = Tier { name: "t".into(), kind: TierKind::Database, resources };
        match WhatIf::new(vec![tier]) {
            Ok(what_if) => match what_if.project(k) {
                Ok(report) => prop_assert!(report.crossings.iter().all(|c| c.crosses_at <= k)),
                Err(e) => prop_assert!(matches!(e, Error::Core(_))),
            },
            Err(e) => prop_assert!(matches!(e, Error::Core(_))),
        }
    }

    #[test]
    fn projections_grow_with_load_and_cross_where_the_report_says(
        models in prop::collection::vec((0.0f64..=1.0, 0.05f64..=1.0, 0.1f64..4.0), 1..5),
        k in 0.01f64..50.0,
        more in 0.0f64..50.0,
    ) {
        let resources = [TierResource::Cpu, TierResource::Memory, TierResource::Connections, TierResource::Disk, TierResource::Network];
        let resources: Vec<ResourceModel> = models
            .iter()
            .zip(resources)
            .map(|(&(u, l, e), r)| ResourceModel::linear(r, u).unwrap().with_limit(l).unwrap().with_exponent(e).unwrap())
            .collect();
        let what_if = WhatIf::new(vec![Tier::new("db", TierKind::Database, resources.clone()).unwrap()]).unwrap();
        let low = what_if.project(k).unwrap();
        let high = what_if.project(k + more).unwrap();
        for (a, b) in low.tiers[0].resources.iter().zip(&high.tiers[0].resources) {
            prop_assert!(b.projected_ratio >= a.projected_ratio);
            prop_assert!(!a.over_limit || b.over_limit);
        }
        prop_assert!(high.crossings.len() >= low.crossings.len());
        prop_assert!(low.crossings.windows(2).all(|w| w[0].crosses_at <= w[1].crosses_at));
        for m in &resources {
            if let Some(at) = m.crosses_at() {
                let there = m.project(at);
                prop_assert!((there - m.limit_ratio).abs() <= 1e-9 * m.limit_ratio.max(1.0), "{} vs {}", there, m.limit_ratio);
            } else {
                prop_assert_eq!(m.utilization_ratio, 0.0);
            }
        }
    }
}
