//! Property tests of the lag, failure detection and failover pieces, each named for the
//! invariant it checks.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ha_core::{Health, NodeId};
use ha_replication::{
    Epoch, FailoverCandidate, FailoverPolicy, FailoverSelector, Fence, LagConfig, LagStatus,
    LagTracker, PerStage, PhiAccrualDetector, PhiConfig, Position, SampleCount, Session, phi,
};
use proptest::prelude::*;

fn id(i: usize) -> NodeId {
    NodeId::new(format!("n{i}")).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn phi_grows_as_silence_grows(
        intervals in prop::collection::vec(1u64..5_000, 0..50),
        pause_ms in 0u64..5_000,
        min_dev_ms in 1u64..500,
        a in 0u64..120_000,
        b in 0u64..120_000,
    ) {
        let mut d = PhiAccrualDetector::new(PhiConfig {
            acceptable_heartbeat_pause: Duration::from_millis(pause_ms),
            min_std_deviation: Duration::from_millis(min_dev_ms),
            ..PhiConfig::default()
        }).unwrap();
        let mut now = Instant::now();
        d.heartbeat(now).unwrap();
        for i in intervals {
            now += Duration::from_millis(i);
            d.heartbeat(now).unwrap();
            d.check_invariants();
        }
        let (short, long) = (a.min(b), a.max(b));
        let p_short = d.phi(now + Duration::from_millis(short));
        let p_long = d.phi(now + Duration::from_millis(long));
        prop_assert!(p_short.is_finite() && p_short >= 0.0);
        prop_assert!(p_long >= p_short, "phi({short} ms) = {p_short} > phi({long} ms) = {p_long}");
    }

    #[test]
    fn phi_formula_is_monotone_in_silence(
        mean in 0.001f64..100.0,
        deviation in 0.001f64..10.0,
        a in -1e6f64..1e6,
        b in -1e6f64..1e6,
    ) {
        let (short, long) = (a.min(b), a.max(b));
        prop_assert!(phi(long, mean, deviation) >= phi(short, mean, deviation));
    }

    #[test]
    fn failover_never_picks_an_ineligible_replica_and_picks_the_most_caught_up(
        specs in prop::collection::vec(
            (0u64..1_000, 0usize..4, any::<bool>(), 0u64..120_000, 0usize..3, 0usize..3, any::<bool>()),
            0..8,
        ),
        max_behind in prop::option::of(0u64..500),
        tolerance in 0u64..50,
    ) {
        let healths = [Health::Healthy, Health::Degraded, Health::Unknown, Health::Unhealthy];
        let statuses = [LagStatus::InSync, LagStatus::Lagging, LagStatus::Disconnected];
        let candidates: Vec<FailoverCandidate> = specs.iter().enumerate().map(|(i, s)| {
            let mut c = FailoverCandidate::new(id(i), Position(s.0))
                .with_health(healths[s.1])
                .with_lag_status(statuses[s.4])
                .with_zone(format!("z{}", s.5));
            if s.2 { c = c.no_failover(); }
            if s.6 { c = c.with_lag(Duration::from_millis(s.3)); }
            c
        }).collect();
        let selector = FailoverSelector::new(FailoverPolicy {
            max_records_behind: max_behind,
            preferred_zones: vec!["z1".into()],
            caught_up_tolerance: tolerance,
            ..FailoverPolicy::default()
        }).unwrap();
        let primary = Position(1_000);
        let d = selector.choose(primary, &candidates).unwrap();
        prop_assert_eq!(d.ranked.len() + d.rejected.len(), candidates.len());
        let eligible: Vec<&FailoverCandidate> = candidates.iter()
            .filter(|c| selector.rejection(primary, c).is_none())
            .collect();
        match &d.promote {
            None => prop_assert!(eligible.is_empty()),
            Some(p) => {
                let chosen = candidates.iter().find(|c| c.node == p.node).unwrap();
                prop_assert!(selector.rejection(primary, chosen).is_none());
                prop_assert!(chosen.health == Health::Healthy);
                prop_assert!(!chosen.no_failover);
                prop_assert!(chosen.lag_status != LagStatus::Disconnected);
                prop_assert!(chosen.lag.unwrap_or_default() <= selector.policy().max_data_loss);
                let best = eligible.iter().map(|c| c.position).max().unwrap();
                prop_assert!(best.records_after(chosen.position) <= tolerance);
            }
        }
        for (node, why) in &d.rejected {
            let c = candidates.iter().find(|c| &c.node == node).unwrap();
            prop_assert_eq!(selector.rejection(primary, c), Some(*why));
        }
    }

    #[test]
    fn fencing_never_accepts_a_stale_epoch_nor_two_writers_in_one_epoch(
        writes in prop::collection::vec((0usize..4, 0u64..8), 1..100),
    ) {
        let mut fence = Fence::new();
        let mut highest_accepted: Option<Epoch> = None;
        let mut writer_of: BTreeMap<Epoch, NodeId> = BTreeMap::new();
        for (node, epoch) in writes {
            let (node, epoch) = (id(node), Epoch(epoch));
            if fence.admit(&node, epoch).is_accepted() {
                prop_assert!(epoch > Epoch(0), "epoch 0 (none elected) accepted");
                prop_assert!(highest_accepted.is_none_or(|h| epoch >= h), "stale {epoch} accepted");
                highest_accepted = Some(epoch);
                let holder = writer_of.entry(epoch).or_insert_with(|| node.clone());
                prop_assert_eq!(&*holder, &node, "two writers in {}", epoch);
            } else {
                prop_assert!(highest_accepted.is_some() || epoch == Epoch(0));
            }
            prop_assert_eq!(fence.current(), highest_accepted.unwrap_or_default());
        }
    }

    #[test]
    fn a_session_reads_only_from_replicas_that_cover_its_token(
        ops in prop::collection::vec((any::<bool>(), 0u64..1_000), 1..50),
        replicas in prop::collection::vec(0u64..1_000, 1..5),
        primary in 0u64..1_000,
    ) {
        let mut session = Session::<Position>::new();
        let mut max_seen = Position(0);
        for (write, at) in ops {
            if write { session.on_write(Position(at)); } else { session.on_read(&Position(at)); }
            max_seen = max_seen.max(Position(at));
            prop_assert_eq!(*session.token(), max_seen, "the token never goes back");
        }
        let states: Vec<(NodeId, Position)> =
            replicas.iter().enumerate().map(|(i, &p)| (id(i), Position(p))).collect();
        let primary = Position(primary);
        match session.read_target(Some(&primary), &states) {
            ha_replication::ReadTarget::Replicas(ids) => {
                for r in ids {
                    let state = states.iter().find(|s| s.0 == r).unwrap().1;
                    prop_assert!(state >= max_seen);
                }
            }
            ha_replication::ReadTarget::Primary => {
                prop_assert!(states.iter().all(|s| s.1 < max_seen));
                prop_assert!(primary >= max_seen);
            }
            ha_replication::ReadTarget::Wait => {
                prop_assert!(states.iter().all(|s| s.1 < max_seen));
                prop_assert!(primary < max_seen);
            }
            other => prop_assert!(false, "a position token cannot diverge: {:?}", other),
        }
    }

    #[test]
    fn a_small_sample_ring_never_underestimates_an_advancing_replicas_lag(
        steps in prop::collection::vec((1u64..20, 0u64..50, prop::collection::vec(0u64..30, 3)), 1..200),
        ring in 4u32..24,
    ) {
        let config = |n| LagConfig { max_samples: SampleCount(n), ..LagConfig::default() };
        let mut small = LagTracker::new(config(ring)).unwrap();
        let mut exact = LagTracker::new(config(1 << 20)).unwrap();
        let replicas: Vec<NodeId> = (0..3).map(id).collect();
        for r in &replicas {
            small.add_replica(r.clone()).unwrap();
            exact.add_replica(r.clone()).unwrap();
        }
        let mut now = Instant::now();
        let mut head = 0u64;
        let mut at = [None::<u64>; 3];
        for (grow, dt, advances) in steps {
            head += grow;
            now += Duration::from_millis(dt);
            small.on_primary_write(Position(head), now).unwrap();
            exact.on_primary_write(Position(head), now).unwrap();
            for (i, r) in replicas.iter().enumerate() {
                let before = at[i];
                let next = (before.unwrap_or(0) + advances[i]).min(head);
                at[i] = Some(next);
                let p = PerStage::uniform(Position(next));
                let got = small.on_replica_report(r, p, now).unwrap();
                let want = exact.on_replica_report(r, p, now).unwrap();
                if before.is_some_and(|b| next > b) {
                    prop_assert!(got.replay >= want.replay, "{:?} < {:?}", got.replay, want.replay);
                }
            }
            small.check_invariants();
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn suspect_at_is_the_first_instant_phi_reaches_the_threshold(
        intervals in prop::collection::vec(100u64..3_000, 0..30),
        threshold in 0.5f64..16.0,
    ) {
        let mut d = PhiAccrualDetector::new(PhiConfig { threshold, ..PhiConfig::default() }).unwrap();
        let mut now = Instant::now();
        d.heartbeat(now).unwrap();
        for i in intervals {
            now += Duration::from_millis(i);
            d.heartbeat(now).unwrap();
        }
        let at = d.suspect_at().unwrap();
        prop_assert!(!d.is_available(at));
        prop_assert!(d.is_available(at - Duration::from_nanos(1)));
    }
}
