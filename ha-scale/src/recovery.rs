//! A recovery runbook for a failed component, as a state machine with RTO and RPO accounting.
//!
//! The steps are those of a disaster-recovery runbook (the AWS Well-Architected reliability
//! pillar's "detect, isolate, recover, validate"; Google SRE's incident playbooks):
//!
//! 1. **detect** — the first failed check starts the runbook; `confirmations` re-checks in a
//!    row must fail too, so a blip is a false alarm, not a failover;
//! 2. **isolate** — deregister and fence the component, so it takes no traffic and cannot
//!    write if it comes back (replacing before isolating risks two writers);
//! 3. **replace** — start a replacement;
//! 4. **restore** — load its state from a checkpoint or a replica's position; the data written
//!    after that point and before the failure is the data-loss window, held against the RPO;
//! 5. **validate** — check consistency: no gaps beyond the bound, replication lag below the
//!    bound (a lagging replacement is re-validated until it catches up or the step times out);
//! 6. **resume** — send traffic to the replacement.
//!
//! Each step asks the application for a [`RecoveryAction`] and waits for its report, within its
//! timeout. The whole run, from the first failed check to resumption, is held against the RTO.
//! A step that fails or times out stops the runbook at [`RecoveryStep::Failed`] with a
//! [`RecoveryFailure`] saying why and what to do next; [`Recovery::retry`] takes that advice
//! and restarts the step named. The runbook never resumes before a validation passes.
//!
//! Defaults follow the HA design's figures: RTO 5 min, RPO 1 min, three re-checks (the
//! health checks' three failures to unhealthy), lag bound 100 ms (replication lag p99).

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use ha_core::CheckOutcome;
use ha_core::validate::non_zero_duration;

use crate::lifecycle::deadline;
use crate::{Error, Result};

/// Where a recovery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum RecoveryStep {
    /// Re-checking the component to confirm the failure.
    Detecting,
    /// Deregistering and fencing it.
    Isolating,
    /// Starting a replacement.
    Replacing,
    /// Restoring the replacement's state.
    Restoring,
    /// Checking the restored state's consistency.
    Validating,
    /// Sending traffic to the replacement.
    Resuming,
    /// Done: the replacement serves.
    Recovered,
    /// The re-checks passed: the component did not fail.
    FalseAlarm,
    /// A step failed or timed out; see [`Recovery::failure`].
    Failed,
}

impl RecoveryStep {
    /// Whether the runbook has ended (recovered, false alarm, or failed — from which
    /// [`Recovery::retry`] may restart it).
    #[must_use]
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            RecoveryStep::Recovered | RecoveryStep::FalseAlarm | RecoveryStep::Failed
        )
    }
}

impl fmt::Display for RecoveryStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RecoveryStep::Detecting => "detecting",
            RecoveryStep::Isolating => "isolating",
            RecoveryStep::Replacing => "replacing",
            RecoveryStep::Restoring => "restoring",
            RecoveryStep::Validating => "validating",
            RecoveryStep::Resuming => "resuming",
            RecoveryStep::Recovered => "recovered",
            RecoveryStep::FalseAlarm => "a false alarm",
            RecoveryStep::Failed => "failed",
        })
    }
}

/// The targets, the confirmation count, the validation bounds and each step's timeout.
///
/// ```
/// use std::time::Duration;
/// use ha_scale::RecoveryConfig;
///
/// let config = RecoveryConfig::default();
/// assert_eq!((config.rto, config.rpo), (Duration::from_secs(300), Duration::from_secs(60)));
/// assert!(RecoveryConfig { confirmations: 0, ..config }.validate().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct RecoveryConfig {
    /// The recovery time objective: the most time from the first failed check to resumption.
    /// Default 5 min.
    pub rto: Duration,
    /// The recovery point objective: the most data loss, as time. Default 1 min.
    pub rpo: Duration,
    /// Re-checks after the first failure that must all fail to confirm it; at least 1.
    /// Default 3.
    pub confirmations: u32,
    /// The most gaps (missing records, sequence holes) a validation may find. Default 0.
    pub max_gaps: u64,
    /// The most replication lag a validation may find. Default 100 ms.
    pub max_lag: Duration,
    /// Time for the re-checks. Default 90 s (three checks 30 s apart).
    pub detect_timeout: Duration,
    /// Time to isolate. Default 30 s.
    pub isolate_timeout: Duration,
    /// Time to start a replacement. Default 2 min.
    pub replace_timeout: Duration,
    /// Time to restore its state. Default 2 min.
    pub restore_timeout: Duration,
    /// Time for validation to pass, re-validating a lagging replacement. Default 1 min.
    pub validate_timeout: Duration,
    /// Time to resume traffic. Default 30 s.
    pub resume_timeout: Duration,
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        RecoveryConfig {
            rto: Duration::from_secs(300),
            rpo: Duration::from_secs(60),
            confirmations: 3,
            max_gaps: 0,
            max_lag: Duration::from_millis(100),
            detect_timeout: Duration::from_secs(90),
            isolate_timeout: Duration::from_secs(30),
            replace_timeout: Duration::from_secs(120),
            restore_timeout: Duration::from_secs(120),
            validate_timeout: Duration::from_secs(60),
            resume_timeout: Duration::from_secs(30),
        }
    }
}

impl RecoveryConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`ha_core::Error::Zero`] for a zero RTO, RPO, confirmation count or timeout.
    pub fn validate(&self) -> Result<()> {
        non_zero_duration("rto", self.rto)?;
        non_zero_duration("rpo", self.rpo)?;
        if self.confirmations == 0 {
            return Err(ha_core::Error::Zero {
                name: "confirmations",
            }
            .into());
        }
        non_zero_duration("detect timeout", self.detect_timeout)?;
        non_zero_duration("isolate timeout", self.isolate_timeout)?;
        non_zero_duration("replace timeout", self.replace_timeout)?;
        non_zero_duration("restore timeout", self.restore_timeout)?;
        non_zero_duration("validate timeout", self.validate_timeout)?;
        non_zero_duration("resume timeout", self.resume_timeout)?;
        Ok(())
    }

    fn timeout(&self, step: RecoveryStep) -> Option<Duration> {
        match step {
            RecoveryStep::Detecting => Some(self.detect_timeout),
            RecoveryStep::Isolating => Some(self.isolate_timeout),
            RecoveryStep::Replacing => Some(self.replace_timeout),
            RecoveryStep::Restoring => Some(self.restore_timeout),
            RecoveryStep::Validating => Some(self.validate_timeout),
            RecoveryStep::Resuming => Some(self.resume_timeout),
            RecoveryStep::Recovered | RecoveryStep::FalseAlarm | RecoveryStep::Failed => None,
        }
    }
}

/// What the runbook asks the application to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum RecoveryAction {
    /// Check the component again; report with [`Recovery::on_check`].
    Recheck,
    /// Deregister and fence it; report with [`Recovery::on_isolated`].
    Isolate,
    /// Start a replacement; report with [`Recovery::on_replaced`].
    Replace,
    /// Restore the replacement's state; report with [`Recovery::on_restored`].
    Restore,
    /// Check the restored state's consistency; report with [`Recovery::on_validated`].
    Validate,
    /// Send traffic to the replacement; report with [`Recovery::on_resumed`].
    Resume,
}

/// Where restored state came from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum RestoreSource {
    /// A checkpoint (snapshot, backup), by name.
    Checkpoint(String),
    /// A replica, from its replication position.
    Replica {
        /// The replica.
        replica: String,
        /// Its position (log sequence number, offset).
        position: u64,
    },
}

/// What a restore brought back: its source and the time of the newest data it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestorePoint {
    /// The source.
    pub source: RestoreSource,
    /// The time of the newest write the restored state holds. Writes after it, up to the
    /// failure, are lost.
    pub data_until: Instant,
}

/// What a consistency check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ConsistencyCheck {
    /// Gaps found (missing records, sequence holes).
    pub gaps: u64,
    /// Replication lag behind the primary or the source.
    pub lag: Duration,
}

/// Why a runbook stopped, and what to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct RecoveryFailure {
    /// The step that failed.
    pub step: RecoveryStep,
    /// Why, with the numbers.
    pub why: String,
    /// What to do next.
    pub next: String,
    /// The step [`Recovery::retry`] restarts.
    pub retry_from: RecoveryStep,
}

/// How a runbook ended, or that it has not.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum RecoveryOutcome {
    /// Still running, at this step.
    InProgress(RecoveryStep),
    /// The replacement serves.
    Recovered,
    /// The component had not failed.
    FalseAlarm,
    /// Stopped; why and what next.
    Failed(RecoveryFailure),
}

/// How long one step took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct StepTiming {
    /// The step.
    pub step: RecoveryStep,
    /// When it started, as the time since the first failed check.
    pub started: Duration,
    /// How long it took (so far, for the step under way).
    pub took: Duration,
}

/// The account of a recovery against its RTO and RPO.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct RecoveryReport {
    /// The component recovered.
    pub component: String,
    /// How it ended, or its step.
    pub outcome: RecoveryOutcome,
    /// Each step taken, in order (retried steps appear again, after the time spent failed),
    /// the one under way last; their times sum to `total`.
    pub steps: Vec<StepTiming>,
    /// From the first failed check to resumption (or to now, or to the failure).
    pub total: Duration,
    /// The RTO.
    pub rto: Duration,
    /// Whether `total` is within the RTO.
    pub within_rto: bool,
    /// The data-loss window, once state is restored: from the newest restored write to the
    /// first failed check.
    pub data_loss: Option<Duration>,
    /// The RPO.
    pub rpo: Duration,
    /// Whether the data-loss window is within the RPO, once known.
    pub within_rpo: Option<bool>,
    /// Where the state came from, once restored.
    pub restored_from: Option<RestoreSource>,
    /// The replacement, once started.
    pub replacement: Option<String>,
    /// The last consistency check.
    pub last_validation: Option<ConsistencyCheck>,
}

/// One component's recovery runbook.
///
/// ```
/// use std::time::{Duration, Instant};
/// use ha_core::CheckOutcome;
/// use ha_scale::{
///     ConsistencyCheck, Recovery, RecoveryAction, RecoveryConfig, RecoveryStep, RestorePoint,
///     RestoreSource,
/// };
///
/// let failed = Instant::now();
/// let s = Duration::from_secs;
/// let mut run = Recovery::new("orders-db", RecoveryConfig::default(), failed)?;
/// for i in 1..=3 {
///     assert_eq!(run.poll_action(), Some(RecoveryAction::Recheck));
///     run.on_check(CheckOutcome::Failure, failed + s(10 * i))?;
/// }
/// assert_eq!(run.poll_action(), Some(RecoveryAction::Isolate));
/// run.on_isolated(failed + s(35))?;
/// run.on_replaced("orders-db-2", failed + s(95))?;
/// let point = RestorePoint {
///     source: RestoreSource::Replica { replica: "orders-db-r1".into(), position: 88_112 },
///     data_until: failed - s(2),
/// };
/// run.on_restored(point, failed + s(150))?;
/// run.on_validated(ConsistencyCheck { gaps: 0, lag: Duration::from_millis(40) }, failed + s(160))?;
/// run.on_resumed(failed + s(165))?;
///
/// let report = run.report(failed + s(165));
/// assert_eq!(run.step(), RecoveryStep::Recovered);
/// assert_eq!(report.total, s(165));
/// assert!(report.within_rto);
/// assert_eq!((report.data_loss, report.within_rpo), (Some(s(2)), Some(true)));
/// # Ok::<(), ha_scale::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Recovery {
    config: RecoveryConfig,
    component: String,
    detected: Instant,
    latest: Instant,
    step: RecoveryStep,
    entered: Instant,
    failed_checks: u32,
    steps: Vec<StepTiming>,
    failure: Option<RecoveryFailure>,
    restore: Option<RestorePoint>,
    replacement: Option<String>,
    validation: Option<ConsistencyCheck>,
    validated: bool,
    ended: Option<Instant>,
    actions: VecDeque<RecoveryAction>,
}

impl Recovery {
    /// Starts the runbook for `component` on its first failed check, at `now`: it asks for a
    /// re-check.
    ///
    /// # Errors
    /// As [`RecoveryConfig::validate`]; [`ha_core::Error::Empty`] for an empty component name.
    pub fn new(
        component: impl Into<String>,
        config: RecoveryConfig,
        now: Instant,
    ) -> Result<Recovery> {
        config.validate()?;
        let component = component.into();
        if component.is_empty() {
            return Err(ha_core::Error::Empty {
                name: "component name",
            }
            .into());
        }
        tracing::debug!(%component, confirmations = config.confirmations, "recovery started on a failed check");
        Ok(Recovery {
            config,
            component,
            detected: now,
            latest: now,
            step: RecoveryStep::Detecting,
            entered: now,
            failed_checks: 0,
            steps: Vec::new(),
            failure: None,
            restore: None,
            replacement: None,
            validation: None,
            validated: false,
            ended: None,
            actions: VecDeque::from([RecoveryAction::Recheck]),
        })
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &RecoveryConfig {
        &self.config
    }

    /// The component recovering.
    #[must_use]
    pub fn component(&self) -> &str {
        &self.component
    }

    /// The step.
    #[must_use]
    pub fn step(&self) -> RecoveryStep {
        self.step
    }

    /// Why it stopped and what to do next, if it failed.
    #[must_use]
    pub fn failure(&self) -> Option<&RecoveryFailure> {
        self.failure.as_ref()
    }

    /// Whether a validation has passed since the last restore.
    #[must_use]
    pub fn validated(&self) -> bool {
        self.validated
    }

    /// The RTO left at `now` (zero once it is spent).
    #[must_use]
    pub fn rto_remaining(&self, now: Instant) -> Duration {
        self.config.rto.saturating_sub(self.elapsed(now))
    }

    /// The next action, oldest first.
    #[must_use = "an action must be carried out"]
    pub fn poll_action(&mut self) -> Option<RecoveryAction> {
        self.actions.pop_front()
    }

    /// When the present step times out: when to call [`handle_timeout`](Self::handle_timeout).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.config
            .timeout(self.step)
            .map(|t| deadline(self.entered, t))
    }

    /// A re-check ended at `now`. A failure (or time-out) counts toward the confirmations and,
    /// with enough, isolates the component; a success ends the runbook as a false alarm.
    ///
    /// # Errors
    /// [`Error::RecoveryEventRefused`] unless detecting; [`ha_core::Error::OutOfOrder`].
    pub fn on_check(&mut self, outcome: CheckOutcome, now: Instant) -> Result<RecoveryStep> {
        self.expect("a re-check", RecoveryStep::Detecting, now)?;
        match outcome {
            CheckOutcome::Success => {
                tracing::debug!(component = %self.component, failed_checks = self.failed_checks, "re-check passed: false alarm");
                self.go(RecoveryStep::FalseAlarm, None, now);
            }
            CheckOutcome::Failure | CheckOutcome::Timeout => {
                self.failed_checks = self.failed_checks.saturating_add(1);
                tracing::debug!(component = %self.component, failed_checks = self.failed_checks, needed = self.config.confirmations, "re-check failed");
                if self.failed_checks >= self.config.confirmations {
                    self.go(RecoveryStep::Isolating, Some(RecoveryAction::Isolate), now);
                } else {
                    self.actions.push_back(RecoveryAction::Recheck);
                }
            }
        }
        Ok(self.step)
    }

    /// The component is deregistered and fenced: start a replacement.
    ///
    /// # Errors
    /// [`Error::RecoveryEventRefused`] unless isolating; [`ha_core::Error::OutOfOrder`].
    pub fn on_isolated(&mut self, now: Instant) -> Result<RecoveryStep> {
        self.expect("isolated", RecoveryStep::Isolating, now)?;
        self.go(RecoveryStep::Replacing, Some(RecoveryAction::Replace), now);
        Ok(self.step)
    }

    /// The replacement is up: restore its state.
    ///
    /// # Errors
    /// [`Error::RecoveryEventRefused`] unless replacing; [`ha_core::Error::OutOfOrder`].
    pub fn on_replaced(
        &mut self,
        replacement: impl Into<String>,
        now: Instant,
    ) -> Result<RecoveryStep> {
        self.expect("replaced", RecoveryStep::Replacing, now)?;
        self.replacement = Some(replacement.into());
        self.go(RecoveryStep::Restoring, Some(RecoveryAction::Restore), now);
        Ok(self.step)
    }

    /// The replacement's state is restored up to `point`: validate it. The data-loss window
    /// is now known.
    ///
    /// # Errors
    /// [`Error::RecoveryEventRefused`] unless restoring; [`ha_core::Error::OutOfOrder`].
    pub fn on_restored(&mut self, point: RestorePoint, now: Instant) -> Result<RecoveryStep> {
        self.expect("restored", RecoveryStep::Restoring, now)?;
        let loss = self.detected.saturating_duration_since(point.data_until);
        tracing::debug!(component = %self.component, ?loss, rpo = ?self.config.rpo, source = ?point.source, "state restored");
        self.restore = Some(point);
        self.validated = false;
        self.validation = None;
        self.go(
            RecoveryStep::Validating,
            Some(RecoveryAction::Validate),
            now,
        );
        Ok(self.step)
    }

    /// A consistency check of the restored state. Within the bounds, traffic resumes. Gaps
    /// beyond the bound fail the step (waiting will not fill them: restore again); lag beyond
    /// it asks for another validation, until the validate timeout.
    ///
    /// # Errors
    /// [`Error::RecoveryEventRefused`] unless validating; [`ha_core::Error::OutOfOrder`].
    pub fn on_validated(&mut self, check: ConsistencyCheck, now: Instant) -> Result<RecoveryStep> {
        self.expect("validated", RecoveryStep::Validating, now)?;
        self.validation = Some(check);
        let (gaps_ok, lag_ok) = (
            check.gaps <= self.config.max_gaps,
            check.lag <= self.config.max_lag,
        );
        tracing::debug!(component = %self.component, gaps = check.gaps, lag = ?check.lag, max_gaps = self.config.max_gaps, max_lag = ?self.config.max_lag, "validation");
        if !gaps_ok {
            let failure = RecoveryFailure {
                step: RecoveryStep::Validating,
                why: format!(
                    "{} gaps in the restored state, at most {} allowed",
                    check.gaps, self.config.max_gaps
                ),
                next: "restore again from a checkpoint or replica position that covers the gaps, then validate; retry restarts the restore".into(),
                retry_from: RecoveryStep::Restoring,
            };
            self.fail(failure, now);
        } else if lag_ok {
            self.validated = true;
            self.go(RecoveryStep::Resuming, Some(RecoveryAction::Resume), now);
        } else {
            self.actions.push_back(RecoveryAction::Validate);
        }
        Ok(self.step)
    }

    /// Traffic goes to the replacement: recovered.
    ///
    /// # Errors
    /// [`Error::RecoveryEventRefused`] unless resuming; [`ha_core::Error::OutOfOrder`].
    pub fn on_resumed(&mut self, now: Instant) -> Result<RecoveryStep> {
        self.expect("resumed", RecoveryStep::Resuming, now)?;
        self.go(RecoveryStep::Recovered, None, now);
        let total = self.elapsed(now);
        tracing::debug!(component = %self.component, ?total, rto = ?self.config.rto, within = total <= self.config.rto, "recovered");
        Ok(self.step)
    }

    /// The application could not carry out the present step: the runbook stops with why and
    /// what to do next.
    ///
    /// # Errors
    /// [`Error::RecoveryEventRefused`] once finished; [`ha_core::Error::OutOfOrder`].
    pub fn on_step_failed(&mut self, why: &str, now: Instant) -> Result<RecoveryStep> {
        self.check_time(now)?;
        if self.step.is_finished() {
            return Err(self.refuse("a step failure"));
        }
        let failure = self.advice(self.step, format!("{} failed: {why}", self.step));
        self.fail(failure, now);
        Ok(self.step)
    }

    /// Stops the runbook if the present step's timeout has passed at `now` (extra calls are
    /// harmless), and returns the step.
    ///
    /// # Errors
    /// [`ha_core::Error::OutOfOrder`].
    pub fn handle_timeout(&mut self, now: Instant) -> Result<RecoveryStep> {
        self.check_time(now)?;
        let Some(due) = self.poll_timeout() else {
            return Ok(self.step);
        };
        if now < due {
            return Ok(self.step);
        }
        let took = now.saturating_duration_since(self.entered);
        let why = match self.step {
            RecoveryStep::Detecting => format!(
                "only {} of {} re-checks came back within {took:?}",
                self.failed_checks, self.config.confirmations
            ),
            RecoveryStep::Validating => match self.validation {
                Some(check) => format!(
                    "lag {:?} still above the {:?} bound after {took:?}",
                    check.lag, self.config.max_lag
                ),
                None => format!("no validation came back within {took:?}"),
            },
            step => format!("{step} took longer than {took:?}"),
        };
        let failure = self.advice(self.step, why);
        self.fail(failure, now);
        Ok(self.step)
    }

    /// Takes the failure's advice: restarts the step its [`RecoveryFailure::retry_from`] names,
    /// with a fresh timeout, and asks for that step's action again. The RTO clock keeps
    /// running from the first failed check.
    ///
    /// # Errors
    /// [`Error::RecoveryEventRefused`] unless failed; [`ha_core::Error::OutOfOrder`].
    pub fn retry(&mut self, now: Instant) -> Result<RecoveryStep> {
        self.expect("a retry", RecoveryStep::Failed, now)?;
        let Some(failure) = self.failure.take() else {
            return Err(self.refuse("a retry"));
        };
        let step = failure.retry_from;
        let action = match step {
            RecoveryStep::Detecting => {
                self.failed_checks = 0;
                RecoveryAction::Recheck
            }
            RecoveryStep::Isolating => RecoveryAction::Isolate,
            RecoveryStep::Replacing => RecoveryAction::Replace,
            RecoveryStep::Restoring => RecoveryAction::Restore,
            RecoveryStep::Validating => RecoveryAction::Validate,
            _ => RecoveryAction::Resume,
        };
        self.ended = None;
        tracing::debug!(component = %self.component, %step, "recovery step retried");
        self.go(step, Some(action), now);
        Ok(self.step)
    }

    /// The account so far (or of the whole run, once finished) at `now`.
    #[must_use]
    pub fn report(&self, now: Instant) -> RecoveryReport {
        let end = self.ended.unwrap_or(now.max(self.latest));
        let total = end.saturating_duration_since(self.detected);
        let mut steps = self.steps.clone();
        if !self.step.is_finished() {
            steps.push(StepTiming {
                step: self.step,
                started: self.entered.saturating_duration_since(self.detected),
                took: end.saturating_duration_since(self.entered),
            });
        }
        let data_loss = self
            .restore
            .as_ref()
            .map(|p| self.detected.saturating_duration_since(p.data_until));
        let outcome = match self.step {
            RecoveryStep::Recovered => RecoveryOutcome::Recovered,
            RecoveryStep::FalseAlarm => RecoveryOutcome::FalseAlarm,
            RecoveryStep::Failed => match &self.failure {
                Some(f) => RecoveryOutcome::Failed(f.clone()),
                None => RecoveryOutcome::InProgress(self.step),
            },
            step => RecoveryOutcome::InProgress(step),
        };
        RecoveryReport {
            component: self.component.clone(),
            outcome,
            steps,
            total,
            rto: self.config.rto,
            within_rto: total <= self.config.rto,
            data_loss,
            rpo: self.config.rpo,
            within_rpo: data_loss.map(|loss| loss <= self.config.rpo),
            restored_from: self.restore.as_ref().map(|p| p.source.clone()),
            replacement: self.replacement.clone(),
            last_validation: self.validation,
        }
    }

    /// Checks the state, for tests and fuzzing: resuming and recovered only after a passing
    /// validation of a restored state; a failure known exactly when failed; a replacement
    /// before restoring; the re-checks below the confirmations while detecting.
    ///
    /// # Panics
    /// If one does not hold, which is a bug.
    pub fn check_invariants(&self) {
        if matches!(self.step, RecoveryStep::Resuming | RecoveryStep::Recovered) {
            assert!(self.validated, "resuming without a passing validation");
            assert!(self.restore.is_some(), "resuming without a restore");
            let check = self.validation.unwrap_or(ConsistencyCheck {
                gaps: u64::MAX,
                lag: Duration::MAX,
            });
            assert!(check.gaps <= self.config.max_gaps && check.lag <= self.config.max_lag);
        }
        assert_eq!(self.failure.is_some(), self.step == RecoveryStep::Failed);
        if matches!(
            self.step,
            RecoveryStep::Restoring | RecoveryStep::Validating | RecoveryStep::Resuming
        ) {
            assert!(self.replacement.is_some());
        }
        if self.step == RecoveryStep::Detecting {
            assert!(self.failed_checks < self.config.confirmations);
        }
    }

    fn elapsed(&self, now: Instant) -> Duration {
        self.ended
            .unwrap_or(now.max(self.latest))
            .saturating_duration_since(self.detected)
    }

    fn advice(&self, step: RecoveryStep, why: String) -> RecoveryFailure {
        let (next, retry_from) = match step {
            RecoveryStep::Detecting => (
                "make sure the health checker reaches the component, then retry the re-checks",
                RecoveryStep::Detecting,
            ),
            RecoveryStep::Isolating => (
                "fence the component another way (revoke its lease, raise its epoch, block it at the network) before any replacement takes writes; retry once it is isolated",
                RecoveryStep::Isolating,
            ),
            RecoveryStep::Replacing => (
                "start the replacement on another host or zone, or check the provider's quota and capacity; retry",
                RecoveryStep::Replacing,
            ),
            RecoveryStep::Restoring => (
                "restore from an older checkpoint or another replica; retry",
                RecoveryStep::Restoring,
            ),
            RecoveryStep::Validating => (
                "let the replacement catch up and retry the validation, or restore from a newer position; never resume on an unvalidated state",
                RecoveryStep::Validating,
            ),
            _ => (
                "check the balancer registration of the replacement; retry",
                RecoveryStep::Resuming,
            ),
        };
        RecoveryFailure {
            step,
            why,
            next: next.into(),
            retry_from,
        }
    }

    fn fail(&mut self, failure: RecoveryFailure, now: Instant) {
        tracing::debug!(component = %self.component, step = %failure.step, why = %failure.why, next = %failure.next, "recovery step failed");
        self.go(RecoveryStep::Failed, None, now);
        self.failure = Some(failure);
    }

    fn go(&mut self, to: RecoveryStep, action: Option<RecoveryAction>, now: Instant) {
        // Only a failed runbook is ever left once finished (by a retry): its wait counts too.
        {
            self.steps.push(StepTiming {
                step: self.step,
                started: self.entered.saturating_duration_since(self.detected),
                took: now.saturating_duration_since(self.entered),
            });
        }
        self.step = to;
        self.entered = now;
        self.actions.clear();
        if let Some(action) = action {
            self.actions.push_back(action);
        }
        if to.is_finished() {
            self.ended = Some(now);
        }
    }

    fn check_time(&mut self, now: Instant) -> Result<()> {
        if now < self.latest {
            return Err(ha_core::Error::OutOfOrder {
                name: "recovery event time",
                behind: self.latest.duration_since(now),
            }
            .into());
        }
        self.latest = now;
        Ok(())
    }

    fn expect(&mut self, event: &'static str, step: RecoveryStep, now: Instant) -> Result<()> {
        if self.step != step {
            return Err(self.refuse(event));
        }
        self.check_time(now)
    }

    fn refuse(&self, event: &'static str) -> Error {
        Error::RecoveryEventRefused {
            component: self.component.clone(),
            event,
            step: self.step,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn confirmed(t0: Instant) -> Recovery {
        let mut run = Recovery::new("db", RecoveryConfig::default(), t0).unwrap();
        for i in 1..=3 {
            run.on_check(CheckOutcome::Failure, t0 + s(i)).unwrap();
        }
        run
    }

    fn restored(t0: Instant, data_until: Instant) -> Recovery {
        let mut run = confirmed(t0);
        run.on_isolated(t0 + s(10)).unwrap();
        run.on_replaced("db-2", t0 + s(20)).unwrap();
        run.on_restored(
            RestorePoint {
                source: RestoreSource::Checkpoint("nightly".into()),
                data_until,
            },
            t0 + s(30),
        )
        .unwrap();
        run
    }

    #[test]
    fn a_passing_recheck_is_a_false_alarm() {
        let t0 = Instant::now();
        let mut run = Recovery::new("db", RecoveryConfig::default(), t0).unwrap();
        run.on_check(CheckOutcome::Failure, t0 + s(10)).unwrap();
        assert_eq!(
            run.on_check(CheckOutcome::Success, t0 + s(20)).unwrap(),
            RecoveryStep::FalseAlarm
        );
        assert_eq!(run.poll_timeout(), None);
        assert_eq!(run.report(t0 + s(60)).outcome, RecoveryOutcome::FalseAlarm);
        assert_eq!(run.report(t0 + s(60)).total, s(20));
    }

    #[test]
    fn a_lagging_replacement_is_revalidated_until_it_catches_up() {
        let t0 = Instant::now();
        let mut run = restored(t0, t0);
        assert_eq!(run.poll_action(), Some(RecoveryAction::Validate));
        let lagging = ConsistencyCheck {
            gaps: 0,
            lag: Duration::from_secs(2),
        };
        assert_eq!(
            run.on_validated(lagging, t0 + s(35)).unwrap(),
            RecoveryStep::Validating
        );
        assert_eq!(run.poll_action(), Some(RecoveryAction::Validate));
        assert!(run.on_resumed(t0 + s(36)).is_err());
        let caught_up = ConsistencyCheck {
            gaps: 0,
            lag: Duration::from_millis(20),
        };
        run.on_validated(caught_up, t0 + s(40)).unwrap();
        assert_eq!(run.poll_action(), Some(RecoveryAction::Resume));
        run.on_resumed(t0 + s(41)).unwrap();
        run.check_invariants();
    }

    #[test]
    fn gaps_fail_validation_and_the_retry_restores_again() {
        let t0 = Instant::now();
        let mut run = restored(t0, t0);
        run.on_validated(
            ConsistencyCheck {
                gaps: 2,
                lag: Duration::ZERO,
            },
            t0 + s(35),
        )
        .unwrap();
        let failure = run.failure().unwrap().clone();
        assert_eq!(
            failure.why,
            "2 gaps in the restored state, at most 0 allowed"
        );
        assert_eq!(failure.retry_from, RecoveryStep::Restoring);
        assert_eq!(run.retry(t0 + s(40)).unwrap(), RecoveryStep::Restoring);
        assert_eq!(run.poll_action(), Some(RecoveryAction::Restore));
        assert!(!run.validated());
        run.check_invariants();
    }

    #[test]
    fn a_slow_step_fails_with_why_and_next() {
        let t0 = Instant::now();
        let mut run = confirmed(t0);
        assert_eq!(run.poll_timeout(), Some(t0 + s(3) + s(30)));
        assert_eq!(
            run.handle_timeout(t0 + s(32)).unwrap(),
            RecoveryStep::Isolating
        );
        assert_eq!(
            run.handle_timeout(t0 + s(33)).unwrap(),
            RecoveryStep::Failed
        );
        let failure = run.failure().unwrap();
        assert_eq!(failure.step, RecoveryStep::Isolating);
        assert_eq!(failure.why, "isolating took longer than 30s");
        assert!(failure.next.contains("fence"));
        let report = run.report(t0 + s(100));
        assert_eq!(report.total, s(33));
        assert!(matches!(report.outcome, RecoveryOutcome::Failed(_)));
    }

    #[test]
    fn data_loss_is_held_against_the_rpo_and_time_against_the_rto() {
        let t0 = Instant::now();
        let mut run = restored(t0, t0 - s(90));
        run.on_validated(
            ConsistencyCheck {
                gaps: 0,
                lag: Duration::ZERO,
            },
            t0 + s(200),
        )
        .unwrap();
        run.on_resumed(t0 + s(301)).unwrap();
        let report = run.report(t0 + s(400));
        assert_eq!(report.data_loss, Some(s(90)));
        assert_eq!(report.within_rpo, Some(false));
        assert_eq!(report.total, s(301));
        assert!(!report.within_rto);
        let steps: Vec<_> = report.steps.iter().map(|t| t.step).collect();
        assert_eq!(
            steps,
            vec![
                RecoveryStep::Detecting,
                RecoveryStep::Isolating,
                RecoveryStep::Replacing,
                RecoveryStep::Restoring,
                RecoveryStep::Validating,
                RecoveryStep::Resuming
            ]
        );
        assert_eq!(
            report.steps.iter().map(|t| t.took).sum::<Duration>(),
            s(301)
        );
    }

    #[cfg(feature = "serde")]
    #[test]
    fn the_report_and_config_round_trip_through_serde() {
        let t0 = Instant::now();
        let run = restored(t0, t0 - s(5));
        let report = run.report(t0 + s(31));
        let json = serde_json::to_string(&report).unwrap();
        assert!(json.contains("\"within_rto\":true"), "{json}");
        assert_eq!(
            serde_json::from_str::<RecoveryReport>(&json).unwrap(),
            report
        );
        let config = RecoveryConfig::default();
        let json = serde_json::to_string(&config).unwrap();
        assert_eq!(
            serde_json::from_str::<RecoveryConfig>(&json).unwrap(),
            config
        );
    }

    #[test]
    fn bad_settings_and_events_out_of_place_are_refused() {
        let t0 = Instant::now();
        let zero_rto = RecoveryConfig {
            rto: Duration::ZERO,
            ..RecoveryConfig::default()
        };
        assert_eq!(
            Recovery::new("db", zero_rto, t0).unwrap_err().to_string(),
            "rto must be greater than zero"
        );
        assert!(Recovery::new("", RecoveryConfig::default(), t0).is_err());
        let mut run = Recovery::new("db", RecoveryConfig::default(), t0).unwrap();
        assert_eq!(
            run.on_isolated(t0).unwrap_err().to_string(),
            "recovery of db cannot take isolated while detecting"
        );
        run.on_check(CheckOutcome::Failure, t0 + s(5)).unwrap();
        assert!(run.on_check(CheckOutcome::Failure, t0 + s(4)).is_err());
    }
}
