//! One suite run against every picker: picks only ever land on available endpoints (healthy or
//! degraded, not draining, weight above 0), whatever happens to the set; nothing available is a
//! typed error; the same seed replays the same picks.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use ha_balance::{
    Balancer, ConsistentHash, Endpoint, EndpointSet, EndpointSetConfig, Error, LeastConnections,
    MaglevHash, P2cLeastLoaded, P2cPeakEwma, Picker, Random, RequestOutcome, RoundRobin,
    SmoothWeightedRoundRobin, WeightedRandom,
};
use ha_core::{Health, NodeId};
use ha_shard::{MaglevConfig, RingConfig};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;

/// Makes a fresh picker.
type MakePicker = fn() -> AnyPicker;

/// Runs `check` with a fresh instance of every picker.
fn for_every_picker(mut check: impl FnMut(&str, &mut dyn FnMut() -> AnyPicker)) {
    let makers: Vec<(&str, MakePicker)> = vec![
        ("round robin", || {
            AnyPicker::RoundRobin(RoundRobin::default())
        }),
        ("smooth wrr", || {
            AnyPicker::Swrr(SmoothWeightedRoundRobin::default())
        }),
        ("random", || AnyPicker::Random(Random)),
        ("weighted random", || {
            AnyPicker::WeightedRandom(WeightedRandom::default())
        }),
        ("least connections", || {
            AnyPicker::LeastConnections(LeastConnections::default())
        }),
        ("p2c least loaded", || AnyPicker::P2c(P2cLeastLoaded)),
        ("p2c peak-ewma", || {
            AnyPicker::PeakEwma(P2cPeakEwma::new(Default::default()).unwrap())
        }),
        ("consistent hash", || {
            AnyPicker::Hash(
                ConsistentHash::new(RingConfig {
                    points_per_weight: 40,
                })
                .unwrap(),
            )
        }),
        ("maglev", || {
            AnyPicker::Maglev(MaglevHash::new(MaglevConfig { table_size: 251 }).unwrap())
        }),
    ];
    for (name, make) in makers {
        check(name, &mut || make());
    }
}

/// Every picker behind one type, so one suite drives them all.
#[derive(Debug)]
enum AnyPicker {
    RoundRobin(RoundRobin),
    Swrr(SmoothWeightedRoundRobin),
    Random(Random),
    WeightedRandom(WeightedRandom),
    LeastConnections(LeastConnections),
    P2c(P2cLeastLoaded),
    PeakEwma(P2cPeakEwma),
    Hash(ConsistentHash),
    Maglev(MaglevHash),
}

macro_rules! each {
    ($self:ident, $p:ident => $e:expr) => {
        match $self {
            AnyPicker::RoundRobin($p) => $e,
            AnyPicker::Swrr($p) => $e,
            AnyPicker::Random($p) => $e,
            AnyPicker::WeightedRandom($p) => $e,
            AnyPicker::LeastConnections($p) => $e,
            AnyPicker::P2c($p) => $e,
            AnyPicker::PeakEwma($p) => $e,
            AnyPicker::Hash($p) => $e,
            AnyPicker::Maglev($p) => $e,
        }
    };
}

impl Picker for AnyPicker {
    fn name(&self) -> &'static str {
        each!(self, p => p.name())
    }

    fn pick<R: rand::Rng + ?Sized>(
        &mut self,
        endpoints: &EndpointSet,
        key: Option<&[u8]>,
        now: Instant,
        rng: &mut R,
    ) -> ha_balance::Result<usize> {
        each!(self, p => p.pick(endpoints, key, now, rng))
    }

    fn on_start(&mut self, endpoints: &EndpointSet, index: usize, now: Instant) {
        each!(self, p => p.on_start(endpoints, index, now))
    }

    fn on_complete(
        &mut self,
        endpoints: &EndpointSet,
        index: usize,
        latency: Duration,
        outcome: RequestOutcome,
        now: Instant,
    ) {
        each!(self, p => p.on_complete(endpoints, index, latency, outcome, now))
    }
}

fn endpoints(count: usize, config: EndpointSetConfig) -> EndpointSet {
    let endpoints = (0..count)
        .map(|i| {
            Endpoint::new(NodeId::new(format!("e{i}")).unwrap()).with_weight(1 + (i as u32 % 3))
        })
        .collect();
    EndpointSet::new(endpoints, config).unwrap()
}

#[derive(Debug, Clone)]
enum Op {
    Pick { key: u16 },
    Complete { which: usize, latency_ms: u64 },
    Health { which: usize, health: Health },
    Drain { which: usize },
    Weight { which: usize, weight: u32 },
    Add { name: u8 },
    Remove { which: usize },
    PollDrained,
    Advance { ms: u64 },
}

fn op() -> impl Strategy<Value = Op> {
    let health = prop_oneof![
        Just(Health::Healthy),
        Just(Health::Degraded),
        Just(Health::Unknown),
        Just(Health::Unhealthy),
    ];
    prop_oneof![
        8 => any::<u16>().prop_map(|key| Op::Pick { key }),
        3 => (any::<usize>(), 1u64..3_000).prop_map(|(which, latency_ms)| Op::Complete { which, latency_ms }),
        2 => (any::<usize>(), health).prop_map(|(which, health)| Op::Health { which, health }),
        1 => any::<usize>().prop_map(|which| Op::Drain { which }),
        1 => (any::<usize>(), 0u32..4).prop_map(|(which, weight)| Op::Weight { which, weight }),
        1 => any::<u8>().prop_map(|name| Op::Add { name }),
        1 => any::<usize>().prop_map(|which| Op::Remove { which }),
        1 => Just(Op::PollDrained),
        2 => (0u64..120_000).prop_map(|ms| Op::Advance { ms }),
    ]
}

/// Applies `ops`, checking after every pick that the endpoint picked was available and, in
/// particular, not draining; returns the picks.
fn run(picker: AnyPicker, ops: &[Op], seed: u64) -> Result<Vec<String>, TestCaseError> {
    let config = EndpointSetConfig {
        slow_start: Duration::from_secs(30),
        ..EndpointSetConfig::default()
    };
    let mut lb = Balancer::new(endpoints(6, config), picker);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut now = Instant::now();
    let mut in_flight: Vec<String> = Vec::new();
    let mut picks = Vec::new();
    let id_of = |lb: &Balancer<AnyPicker>, which: usize| {
        let ids: Vec<String> = lb.endpoints().ids().map(ToString::to_string).collect();
        (!ids.is_empty()).then(|| ids[which % ids.len()].clone())
    };
    for op in ops {
        match op {
            Op::Pick { key } => match lb.pick_key(&key.to_le_bytes(), now, &mut rng) {
                Ok(id) => {
                    let set = lb.endpoints();
                    prop_assert!(!set.is_draining(id.as_str()), "picked draining {id}");
                    prop_assert!(set.is_available(id.as_str()), "picked unavailable {id}");
                    lb.on_start(id.as_str(), now).unwrap();
                    in_flight.push(id.to_string());
                    picks.push(id.to_string());
                }
                Err(Error::NoEndpointAvailable { total, .. }) => {
                    prop_assert_eq!(lb.endpoints().available_len(), 0);
                    prop_assert_eq!(total, lb.endpoints().len());
                }
                Err(e) => return Err(TestCaseError::fail(format!("pick failed: {e}"))),
            },
            Op::Complete { which, latency_ms } => {
                if !in_flight.is_empty() {
                    let id = in_flight.swap_remove(which % in_flight.len());
                    let latency = Duration::from_millis(*latency_ms);
                    match lb.on_complete(&id, latency, RequestOutcome::Success, now) {
                        Ok(()) | Err(Error::UnknownEndpoint(_)) => {}
                        Err(e) => return Err(TestCaseError::fail(e.to_string())),
                    }
                }
            }
            Op::Health { which, health } => {
                if let Some(id) = id_of(&lb, *which) {
                    lb.endpoints_mut().set_health(&id, *health, now).unwrap();
                }
            }
            Op::Drain { which } => {
                if let Some(id) = id_of(&lb, *which) {
                    lb.endpoints_mut().drain(&id, now).unwrap();
                }
            }
            Op::Weight { which, weight } => {
                if let Some(id) = id_of(&lb, *which) {
                    lb.endpoints_mut().set_weight(&id, *weight).unwrap();
                }
            }
            Op::Add { name } => {
                let endpoint = Endpoint::new(NodeId::new(format!("n{name}")).unwrap());
                match lb.endpoints_mut().add(endpoint, now) {
                    Ok(()) | Err(Error::DuplicateEndpoint(_)) => {}
                    Err(e) => return Err(TestCaseError::fail(e.to_string())),
                }
            }
            Op::Remove { which } => {
                if let Some(id) = id_of(&lb, *which) {
                    lb.endpoints_mut().remove(&id).unwrap();
                }
            }
            Op::PollDrained => {
                while let Some(drained) = lb.poll_drained(now) {
                    prop_assert!(!lb.endpoints().contains(drained.id.as_str()));
                }
            }
            Op::Advance { ms } => now += Duration::from_millis(*ms),
        }
        lb.endpoints().check_invariants();
    }
    Ok(picks)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn every_picker_picks_only_available_endpoints_and_draining_endpoints_are_never_picked(
        ops in prop::collection::vec(op(), 1..120),
        seed in any::<u64>(),
    ) {
        let mut result = Ok(());
        for_every_picker(|name, make| {
            if result.is_ok() {
                result = run(make(), &ops, seed)
                    .map(drop)
                    .map_err(|e| TestCaseError::fail(format!("{name}: {e}")));
            }
        });
        result?;
    }

    #[test]
    fn every_picker_replays_the_same_picks_from_the_same_seed(
        ops in prop::collection::vec(op(), 1..60),
        seed in any::<u64>(),
    ) {
        let mut result = Ok(());
        for_every_picker(|name, make| {
            if result.is_ok() {
                let first = run(make(), &ops, seed);
                let second = run(make(), &ops, seed);
                result = match (first, second) {
                    (Ok(a), Ok(b)) if a == b => Ok(()),
                    (a, b) => Err(TestCaseError::fail(format!("{name}: {a:?} vs {b:?}"))),
                };
            }
        });
        result?;
    }
}

#[test]
fn every_picker_answers_no_endpoint_available_when_nothing_is() {
    let now = Instant::now();
    for_every_picker(|name, make| {
        let mut lb = Balancer::new(endpoints(3, EndpointSetConfig::default()), make());
        let mut rng = StdRng::seed_from_u64(1);
        lb.endpoints_mut()
            .set_health("e0", Health::Unhealthy, now)
            .unwrap();
        lb.endpoints_mut().drain("e1", now).unwrap();
        lb.endpoints_mut().set_weight("e2", 0).unwrap();
        let err = lb.pick_key(b"k", now, &mut rng).unwrap_err();
        assert_eq!(
            err,
            Error::NoEndpointAvailable {
                total: 3,
                unhealthy: 1,
                draining: 1,
                zero_weight: 1
            },
            "{name}"
        );
        // Emptied by removals: the same error, never a panic.
        for id in ["e0", "e1", "e2"] {
            lb.endpoints_mut().remove(id).unwrap();
        }
        assert!(
            matches!(
                lb.pick_key(b"k", now, &mut rng),
                Err(Error::NoEndpointAvailable { total: 0, .. })
            ),
            "{name}"
        );
    });
}

#[test]
fn every_picker_refuses_feedback_for_unknown_endpoints() {
    let now = Instant::now();
    for_every_picker(|name, make| {
        let mut lb = Balancer::new(endpoints(2, EndpointSetConfig::default()), make());
        let unknown = Error::UnknownEndpoint("zz".into());
        assert_eq!(lb.on_start("zz", now), Err(unknown.clone()), "{name}");
        assert_eq!(
            lb.on_complete("zz", Duration::from_millis(1), RequestOutcome::Failure, now),
            Err(unknown),
            "{name}"
        );
    });
}

#[test]
fn pickers_that_place_by_key_refuse_picks_without_one() {
    let now = Instant::now();
    let mut rng = StdRng::seed_from_u64(1);
    let mut ring = Balancer::new(
        endpoints(3, EndpointSetConfig::default()),
        ConsistentHash::new(Default::default()).unwrap(),
    );
    assert_eq!(
        ring.pick(now, &mut rng),
        Err(Error::KeyRequired {
            picker: "consistent hash"
        })
    );
    let mut maglev = Balancer::new(
        endpoints(3, EndpointSetConfig::default()),
        MaglevHash::new(Default::default()).unwrap(),
    );
    assert_eq!(
        maglev.pick(now, &mut rng),
        Err(Error::KeyRequired { picker: "maglev" })
    );
}
