//! Properties of smooth weighted round robin, session affinity and slow start.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use ha_balance::{
    AffinityConfig, Balancer, Endpoint, EndpointSet, EndpointSetConfig, LeastConnections,
    RoundRobin, SessionAffinity, SmoothWeightedRoundRobin, Stickiness, WeightedRandom,
};
use ha_core::{Health, NodeId};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;

fn set(weights: &[u32]) -> EndpointSet {
    let endpoints = weights
        .iter()
        .enumerate()
        .map(|(i, &w)| Endpoint::new(NodeId::new(format!("e{i}")).unwrap()).with_weight(w))
        .collect();
    EndpointSet::new(endpoints, EndpointSetConfig::default()).unwrap()
}

fn swrr_picks(weights: &[u32], picks: usize) -> Vec<usize> {
    let mut lb = Balancer::new(set(weights), SmoothWeightedRoundRobin::default());
    let mut rng = StdRng::seed_from_u64(0);
    let now = Instant::now();
    (0..picks)
        .map(|_| {
            let id = lb.pick(now, &mut rng).unwrap();
            id.as_str()[1..].parse().unwrap()
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn smooth_wrr_gives_each_endpoint_exactly_its_weight_in_every_cycle(
        weights in prop::collection::vec(0u32..12, 1..10),
    ) {
        prop_assume!(weights.iter().any(|&w| w > 0));
        let total: u32 = weights.iter().sum();
        let cycles = 3;
        let picks = swrr_picks(&weights, total as usize * cycles);
        for cycle in picks.chunks(total as usize) {
            let mut counts = vec![0u32; weights.len()];
            for &i in cycle {
                counts[i] += 1;
            }
            prop_assert_eq!(&counts, &weights);
        }
    }

    #[test]
    fn smooth_wrr_never_picks_a_weight_one_endpoint_twice_in_a_row_when_others_outweigh_it(
        weights in prop::collection::vec(1u32..12, 2..10),
    ) {
        let total: u32 = weights.iter().sum();
        let picks = swrr_picks(&weights, total as usize * 3);
        for pair in picks.windows(2) {
            let repeated = pair[0] == pair[1];
            prop_assert!(!(repeated && weights[pair[0]] == 1), "{:?}", picks);
        }
    }

    #[test]
    fn session_affinity_never_holds_more_than_its_cap_and_kept_endpoints_are_available(
        ops in prop::collection::vec((0u16..64, 0usize..4, 0u8..6, 0u64..600), 1..200),
        cap in 1usize..16,
    ) {
        let mut lb = Balancer::new(set(&[1, 1, 1, 1]), RoundRobin::default());
        let mut sessions = SessionAffinity::new(AffinityConfig {
            ttl: Duration::from_secs(300),
            max_sessions: cap,
        })
        .unwrap();
        let mut rng = StdRng::seed_from_u64(9);
        let mut now = Instant::now();
        for (session, which, action, advance) in ops {
            let id = format!("e{which}");
            match action {
                0 => drop(lb.endpoints_mut().set_health(&id, Health::Unhealthy, now)),
                1 => drop(lb.endpoints_mut().set_health(&id, Health::Healthy, now)),
                2 => {
                    let _ = lb.endpoints_mut().drain(&id, now);
                    let _ = lb.poll_drained(now);
                }
                _ => {}
            }
            now += Duration::from_secs(advance);
            let session = format!("s{session}");
            let remembered = sessions.endpoint_of(&session, now).cloned();
            match sessions.pick(&mut lb, &session, now, &mut rng) {
                Ok(pick) => {
                    prop_assert!(lb.endpoints().is_available(pick.endpoint.as_str()));
                    match &pick.stickiness {
                        Stickiness::Kept => prop_assert_eq!(Some(&pick.endpoint), remembered.as_ref()),
                        Stickiness::Repicked { previous, .. } => {
                            prop_assert_eq!(Some(previous), remembered.as_ref());
                        }
                        Stickiness::New => {}
                    }
                    prop_assert_eq!(sessions.endpoint_of(&session, now), Some(&pick.endpoint));
                }
                Err(_) => prop_assert_eq!(lb.endpoints().available_len(), 0),
            }
            sessions.check_invariants();
            prop_assert!(sessions.len() <= cap);
        }
    }
}

#[test]
fn a_slow_starting_endpoint_takes_a_growing_share() {
    // Two endpoints of weight 10; the second joins with a 100 s slow start.
    let config = EndpointSetConfig {
        slow_start: Duration::from_secs(100),
        ..EndpointSetConfig::default()
    };
    let start = Instant::now();
    let first = Endpoint::new(NodeId::new("old").unwrap()).with_weight(10);
    let mut set = EndpointSet::new(vec![first], config).unwrap();
    set.add(
        Endpoint::new(NodeId::new("new").unwrap()).with_weight(10),
        start,
    )
    .unwrap();
    let share = |lb: &mut Balancer<WeightedRandom>, at: Instant| {
        let mut rng = StdRng::seed_from_u64(5);
        let picks = 10_000;
        let new = (0..picks)
            .filter(|_| lb.pick(at, &mut rng).unwrap().as_str() == "new")
            .count();
        new as f64 / f64::from(picks)
    };
    let mut lb = Balancer::new(set, WeightedRandom::default());
    let early = share(&mut lb, start + Duration::from_secs(10)); // 1 : 10
    let middle = share(&mut lb, start + Duration::from_secs(50)); // 5 : 10
    let done = share(&mut lb, start + Duration::from_secs(100)); // 10 : 10
    assert!((early - 1.0 / 11.0).abs() < 0.02, "{early}");
    assert!((middle - 5.0 / 15.0).abs() < 0.02, "{middle}");
    assert!((done - 0.5).abs() < 0.02, "{done}");
}

#[test]
fn least_connections_spreads_a_burst_by_weight() {
    let mut lb = Balancer::new(set(&[1, 2, 3]), LeastConnections::default());
    let mut rng = StdRng::seed_from_u64(0);
    let now = Instant::now();
    for _ in 0..60 {
        let id = lb.pick(now, &mut rng).unwrap();
        lb.on_start(id.as_str(), now).unwrap();
    }
    let in_flight: Vec<u32> = ["e0", "e1", "e2"]
        .iter()
        .map(|id| lb.endpoints().in_flight(id).unwrap())
        .collect();
    assert_eq!(in_flight, vec![10, 20, 30]);
}
