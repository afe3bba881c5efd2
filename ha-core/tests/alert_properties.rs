//! Properties of alert rules, checked against a reference model over random sample sequences.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use ha_core::{Alert, AlertKind, AlertRule, AlertSet, AlertState, Comparison, Error, Severity};
use proptest::prelude::*;

const THRESHOLD: f64 = 1.0;

fn comparison() -> impl Strategy<Value = Comparison> {
    prop_oneof![
        Just(Comparison::Above),
        Just(Comparison::AtOrAbove),
        Just(Comparison::Below),
        Just(Comparison::AtOrBelow),
    ]
}

/// Values around the threshold, with the threshold itself often enough to test `>` against `>=`.
fn value() -> impl Strategy<Value = f64> {
    prop_oneof![Just(THRESHOLD), Just(0.9), Just(1.1), 0.0..2.0f64]
}

/// Gaps between samples in milliseconds, equal timestamps included.
fn gap_ms() -> impl Strategy<Value = u64> {
    prop_oneof![1 => Just(0u64), 4 => 0..3_000u64]
}

fn for_duration() -> impl Strategy<Value = Duration> {
    prop_oneof![1 => Just(0u64), 4 => 0..10_000u64].prop_map(Duration::from_millis)
}

fn rule(comparison: Comparison, for_duration: Duration) -> AlertRule {
    AlertRule::new(
        "rule",
        "m",
        comparison,
        THRESHOLD,
        for_duration,
        Severity::Warning,
    )
}

/// Sample times from gaps, starting at `start`.
fn times(start: Instant, gaps: &[u64]) -> Vec<Instant> {
    let mut now = start;
    gaps.iter()
        .map(|gap| {
            now += Duration::from_millis(*gap);
            now
        })
        .collect()
}

/// The state the alert must be in after the samples `held[..=i]` at `times[..=i]`, worked out from
/// the whole history rather than step by step: pending from the first sample of the unbroken run of
/// holding samples that ends at `i`, firing from the first sample of that run at which it had held
/// for `for_duration`.
fn expected_state(
    held: &[bool],
    times: &[Instant],
    i: usize,
    for_duration: Duration,
) -> AlertState {
    if !held[i] {
        return AlertState::Inactive;
    }
    let start = (0..=i).rev().take_while(|&k| held[k]).last().unwrap();
    let since = times[start];
    match (start..=i).find(|&k| times[k] - since >= for_duration) {
        Some(k) => AlertState::Firing {
            since,
            fired_at: times[k],
        },
        None => AlertState::Pending { since },
    }
}

proptest! {
    #[test]
    fn alert_fires_only_once_condition_held_for_whole_duration(
        comparison in comparison(),
        for_duration in for_duration(),
        samples in prop::collection::vec((gap_ms(), value()), 1..60),
    ) {
        let mut alert = Alert::new(rule(comparison, for_duration)).unwrap();
        let (gaps, values): (Vec<u64>, Vec<f64>) = samples.into_iter().unzip();
        let times = times(Instant::now(), &gaps);
        let held: Vec<bool> = values.iter().map(|v| comparison.holds(*v, THRESHOLD)).collect();
        for i in 0..values.len() {
            let transition = alert.observe(values[i], times[i]).unwrap();
            alert.check_invariants();
            let state = alert.state();
            prop_assert_eq!(state, expected_state(&held, &times, i, for_duration), "sample {}", i);
            if let AlertState::Firing { since, fired_at } = state {
                // Every sample from `since` to now held, and the run has lasted long enough.
                let run_start = (0..=i).rev().take_while(|&k| held[k]).last().unwrap();
                prop_assert_eq!(times[run_start], since);
                prop_assert!(held[run_start..=i].iter().all(|h| *h));
                prop_assert!(fired_at - since >= for_duration);
                // It fired at the first sample where that was true, and said so then.
                let fired_now = fired_at == times[i]
                    && (run_start..i).all(|k| times[k] - since < for_duration);
                prop_assert_eq!(
                    transition.as_ref().map(|t| t.kind) == Some(AlertKind::Fired),
                    fired_now
                );
            } else {
                prop_assert!(transition.as_ref().is_none_or(|t| t.kind != AlertKind::Fired));
            }
        }
    }

    #[test]
    fn alert_resolves_as_soon_as_condition_stops(
        comparison in comparison(),
        for_duration in for_duration(),
        samples in prop::collection::vec((gap_ms(), value()), 1..60),
    ) {
        let mut alert = Alert::new(rule(comparison, for_duration)).unwrap();
        let mut now = Instant::now();
        for (gap, value) in samples {
            now += Duration::from_millis(gap);
            let before = alert.state();
            let transition = alert.observe(value, now).unwrap();
            let kind = transition.as_ref().map(|t| t.kind);
            if comparison.holds(value, THRESHOLD) {
                let stopped = matches!(
                    kind,
                    Some(AlertKind::Resolved { .. } | AlertKind::Cancelled)
                );
                prop_assert!(!stopped, "a holding sample caused {:?}", kind);
                continue;
            }
            prop_assert_eq!(alert.state(), AlertState::Inactive);
            match before {
                AlertState::Inactive => prop_assert_eq!(kind, None),
                AlertState::Pending { .. } => prop_assert_eq!(kind, Some(AlertKind::Cancelled)),
                AlertState::Firing { since, fired_at } => {
                    let t = transition.unwrap();
                    prop_assert_eq!(t.kind, AlertKind::Resolved { fired_at });
                    prop_assert_eq!((t.since, t.at, t.value), (since, now, value));
                }
            }
        }
    }

    #[test]
    fn every_transition_leads_from_the_previous_state_to_the_current(
        comparison in comparison(),
        for_duration in for_duration(),
        samples in prop::collection::vec((gap_ms(), value()), 1..60),
    ) {
        let mut alert = Alert::new(rule(comparison, for_duration)).unwrap();
        let mut now = Instant::now();
        for (gap, value) in samples {
            now += Duration::from_millis(gap);
            let before = alert.state();
            match alert.observe(value, now).unwrap() {
                Some(t) => {
                    prop_assert_eq!(t.from(), before);
                    prop_assert_eq!(t.to(), alert.state());
                    prop_assert_ne!(before, alert.state());
                    prop_assert_eq!((t.at, t.value), (now, value));
                }
                None => prop_assert_eq!(before, alert.state()),
            }
        }
    }

    #[test]
    fn refused_samples_leave_the_alert_unchanged(
        comparison in comparison(),
        for_duration in for_duration(),
        samples in prop::collection::vec((gap_ms(), value(), 0..4u8, 1..5_000u64), 1..40),
    ) {
        let mut alert = Alert::new(rule(comparison, for_duration)).unwrap();
        let start = Instant::now() + Duration::from_secs(10);
        let mut now = start;
        for (gap, value, bad, behind_ms) in samples {
            now += Duration::from_millis(gap);
            alert.observe(value, now).unwrap();
            let (state, latest) = (alert.state(), alert.latest_sample());
            let behind = Duration::from_millis(behind_ms);
            let result = match bad {
                0 => alert.observe(f64::NAN, now),
                1 => alert.observe(f64::INFINITY, now),
                2 => alert.observe(f64::NEG_INFINITY, now + behind),
                _ => alert.observe(value, now - behind),
            };
            match result {
                Err(Error::NotFinite { .. }) => prop_assert!(bad < 3),
                Err(Error::OutOfOrder { behind: b, .. }) => {
                    prop_assert!(bad == 3);
                    prop_assert_eq!(b, behind);
                }
                other => prop_assert!(false, "expected a refusal, got {:?}", other),
            }
            prop_assert_eq!((alert.state(), alert.latest_sample()), (state, latest));
        }
    }

    #[test]
    fn alert_set_gives_the_same_transitions_as_its_alerts_fed_alone(
        rules in prop::collection::vec((0..3usize, comparison(), for_duration()), 0..6),
        samples in prop::collection::vec((0..4usize, gap_ms(), value()), 1..60),
    ) {
        const METRICS: [&str; 4] = ["a", "b", "c", "unwatched"];
        let rules: Vec<AlertRule> = rules
            .into_iter()
            .enumerate()
            .map(|(i, (metric, comparison, for_duration))| {
                let mut rule = rule(comparison, for_duration);
                rule.name = format!("rule{i}");
                rule.metric = METRICS[metric].to_owned();
                rule
            })
            .collect();
        let mut set = AlertSet::new(rules.clone()).unwrap();
        let mut alone: Vec<Alert> = rules.into_iter().map(|r| Alert::new(r).unwrap()).collect();
        let mut now = Instant::now();
        for (metric, gap, value) in samples {
            now += Duration::from_millis(gap);
            let metric = METRICS[metric];
            let from_set = set.observe(metric, value, now).unwrap();
            set.check_invariants();
            let from_alone: Vec<_> = alone
                .iter_mut()
                .filter(|a| a.rule().metric == metric)
                .filter_map(|a| a.observe(value, now).unwrap())
                .collect();
            prop_assert_eq!(from_set, from_alone);
            let states: Vec<_> = set.alerts().map(Alert::state).collect();
            let alone_states: Vec<_> = alone.iter().map(Alert::state).collect();
            prop_assert_eq!(states, alone_states);
            let firing: Vec<_> = set.firing().map(|(r, at)| (r.name.clone(), at)).collect();
            let alone_firing: Vec<_> = alone
                .iter()
                .filter_map(|a| match a.state() {
                    AlertState::Firing { fired_at, .. } => Some((a.rule().name.clone(), fired_at)),
                    _ => None,
                })
                .collect();
            prop_assert_eq!(firing, alone_firing);
        }
    }
}
