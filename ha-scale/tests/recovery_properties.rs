//! Recovery runbook properties under random reports: it never resumes before a validation of
//! the restored state passes, its step times add up to its total, and every step it waits in
//! has a deadline.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use ha_core::CheckOutcome;
use ha_scale::{
    ConsistencyCheck, Error, Recovery, RecoveryAction, RecoveryConfig, RecoveryOutcome,
    RecoveryStep, RestorePoint, RestoreSource,
};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Check(bool),
    Isolated,
    Replaced,
    Restored(u64),
    Validated(u64, u64),
    Resumed,
    StepFailed,
    Advance(u64),
    Retry,
    /// The event the runbook waits for, with a payload drawn from the seed.
    Proceed(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => prop::bool::weighted(0.8).prop_map(Op::Check),
        2 => Just(Op::Isolated),
        2 => Just(Op::Replaced),
        2 => (0u64..120).prop_map(Op::Restored),
        3 => (0u64..3, 0u64..300).prop_map(|(g, l)| Op::Validated(g, l)),
        3 => Just(Op::Resumed),
        1 => Just(Op::StepFailed),
        2 => (1u64..150).prop_map(Op::Advance),
        1 => Just(Op::Retry),
        12 => any::<u64>().prop_map(Op::Proceed),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn recovery_never_resumes_before_validation_passes(ops in prop::collection::vec(op(), 1..60)) {
        let config = RecoveryConfig::default();
        let t0 = Instant::now();
        let mut now = t0;
        let mut run = Recovery::new("db", config, t0).unwrap();
        // Whether a passing validation came after the latest restore, by our own count.
        let mut passed_since_restore = false;
        for op in &ops {
            let op = match *op {
                Op::Proceed(seed) => match run.step() {
                    RecoveryStep::Detecting => Op::Check(seed % 6 == 0),
                    RecoveryStep::Isolating => Op::Isolated,
                    RecoveryStep::Replacing => Op::Replaced,
                    RecoveryStep::Restoring => Op::Restored(seed % 90),
                    RecoveryStep::Validating => Op::Validated(u64::from(seed % 5 == 0), seed % 160),
                    RecoveryStep::Resuming => Op::Resumed,
                    _ => Op::Retry,
                },
                ref other => other.clone(),
            };
            let op = &op;
            let result = match op {
                Op::Check(ok) => run.on_check(
                    if *ok { CheckOutcome::Success } else { CheckOutcome::Failure },
                    now,
                ),
                Op::Isolated => run.on_isolated(now),
                Op::Replaced => run.on_replaced("db-2", now),
                Op::Restored(loss) => {
                    let point = RestorePoint {
                        source: RestoreSource::Checkpoint("c".into()),
                        data_until: t0.checked_sub(Duration::from_secs(*loss)).unwrap_or(t0),
                    };
                    let r = run.on_restored(point, now);
                    if r.is_ok() {
                        passed_since_restore = false;
                    }
                    r
                }
                Op::Validated(gaps, lag) => {
                    let check = ConsistencyCheck { gaps: *gaps, lag: Duration::from_millis(*lag) };
                    let r = run.on_validated(check, now);
                    if r.is_ok() && check.gaps <= config.max_gaps && check.lag <= config.max_lag {
                        passed_since_restore = true;
                    }
                    r
                }
                Op::Resumed => run.on_resumed(now),
                Op::StepFailed => run.on_step_failed("operator gave up", now),
                Op::Advance(secs) => {
                    now += Duration::from_secs(*secs);
                    run.handle_timeout(now)
                }
                Op::Retry | Op::Proceed(_) => run.retry(now),
            };
            match result {
                Ok(_) | Err(Error::RecoveryEventRefused { .. }) => {}
                Err(e) => panic!("unexpected error for {op:?}: {e}"),
            }
            run.check_invariants();
            let step = run.step();
            if matches!(step, RecoveryStep::Resuming | RecoveryStep::Recovered) {
                prop_assert!(passed_since_restore, "{step} without a passing validation");
            }
            let mut pending = Vec::new();
            while let Some(action) = run.poll_action() {
                pending.push(action);
            }
            if pending.contains(&RecoveryAction::Resume) {
                prop_assert!(passed_since_restore);
            }
            let report = run.report(now);
            prop_assert_eq!(report.steps.iter().map(|s| s.took).sum::<Duration>(), report.total);
            prop_assert_eq!(report.within_rto, report.total <= config.rto);
            if let RecoveryOutcome::Failed(failure) = &report.outcome {
                prop_assert!(!failure.why.is_empty() && !failure.next.is_empty());
            }
            prop_assert_eq!(run.poll_timeout().is_some(), !step.is_finished());
        }
    }
}
