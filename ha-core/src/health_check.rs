//! The active health-check state machine of one target.

use std::time::{Duration, Instant};

use crate::error::non_zero_duration;
use crate::{Error, Health, Result};

/// The settings of a [`HealthCheck`]. The defaults are those of the HA design: a check every 30 s,
/// a 5 s timeout, 3 failures to go unhealthy, 2 successes to go healthy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct HealthCheckConfig {
    /// Time from the start of one check to the start of the next. Default 30 s.
    pub interval: Duration,
    /// A check that takes longer counts as failed. Default 5 s; at most `interval`.
    pub timeout: Duration,
    /// Consecutive failures (and timeouts) that make the target unhealthy. Default 3.
    pub unhealthy_threshold: u32,
    /// Consecutive successes that make an unhealthy or unknown target healthy (or degraded, if the
    /// last was slow); also the run of fast successes that turns a degraded target healthy.
    /// Default 2.
    pub healthy_threshold: u32,
    /// A success slower than this is "slow" and counts toward degraded. Default `None`: latency
    /// never degrades, as in Envoy and Kubernetes, whose checks know only up and down; set it to
    /// the latency your service calls too slow. When set, it must be below `timeout`.
    pub degraded_latency: Option<Duration>,
    /// Consecutive slow successes that turn a healthy target degraded. Default 3.
    pub degraded_threshold: u32,
}

impl Default for HealthCheckConfig {
    fn default() -> Self {
        HealthCheckConfig {
            interval: Duration::from_secs(30),
            timeout: Duration::from_secs(5),
            unhealthy_threshold: 3,
            healthy_threshold: 2,
            degraded_latency: None,
            degraded_threshold: 3,
        }
    }
}

impl HealthCheckConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::Zero`] for a zero interval, timeout, threshold or degraded latency;
    /// [`Error::Inverted`] for a timeout longer than the interval or a degraded latency not below
    /// the timeout.
    pub fn validate(&self) -> Result<()> {
        non_zero_duration("check interval", self.interval)?;
        non_zero_duration("check timeout", self.timeout)?;
        if self.unhealthy_threshold == 0 {
            return Err(Error::Zero {
                name: "unhealthy threshold",
            });
        }
        if self.healthy_threshold == 0 {
            return Err(Error::Zero {
                name: "healthy threshold",
            });
        }
        if self.degraded_threshold == 0 {
            return Err(Error::Zero {
                name: "degraded threshold",
            });
        }
        if self.timeout > self.interval {
            return Err(inverted(
                "check timeout",
                self.timeout,
                "check interval",
                self.interval,
            ));
        }
        if let Some(slow) = self.degraded_latency {
            non_zero_duration("degraded latency", slow)?;
            if slow >= self.timeout {
                return Err(inverted(
                    "degraded latency",
                    slow,
                    "check timeout",
                    self.timeout,
                ));
            }
        }
        Ok(())
    }
}

fn inverted(lower: &'static str, low: Duration, upper: &'static str, up: Duration) -> Error {
    Error::Inverted {
        lower,
        lower_value: low.as_secs_f64(),
        upper,
        upper_value: up.as_secs_f64(),
    }
}

/// How one check ended, as the application observed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "lowercase")
)]
pub enum CheckOutcome {
    /// The target answered as a healthy target should.
    Success,
    /// The target answered wrongly or refused the check.
    Failure,
    /// No answer within the timeout.
    Timeout,
}

/// How a check counted, after its latency was weighed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "lowercase")
)]
pub enum CheckVerdict {
    /// A success within the degraded latency.
    Pass,
    /// A success slower than the degraded latency.
    Slow,
    /// A failure, a timeout, or a success slower than the timeout.
    Fail,
}

/// A change of a target's health, and the check that caused it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthTransition {
    /// The health before the check.
    pub from: Health,
    /// The health after it.
    pub to: Health,
    /// When the check ended.
    pub at: Instant,
}

/// The health of one target as judged by active checks: runs of consecutive results move it
/// between unknown, healthy, degraded and unhealthy, and it says when the next check is due.
///
/// The rules, with `F` = `unhealthy_threshold`, `S` = `healthy_threshold` and
/// `D` = `degraded_threshold`:
/// - `F` failures in a row (timeouts and checks slower than the timeout included) make it
///   **unhealthy**, from any state;
/// - from unknown or unhealthy, `S` successes in a row make it **healthy** — or **degraded** if the
///   last of them was slow;
/// - from healthy, `D` slow successes in a row make it **degraded**;
/// - from degraded, `S` fast successes in a row make it **healthy** again.
///
/// Nothing else changes the state, so a single odd result never flips it. A target starts unknown
/// and is due for a check at once. This follows Envoy's and Kubernetes' threshold semantics;
/// unlike Envoy, the very first check is not special: `S` successes are needed to become healthy.
///
/// The application runs the check itself (an HTTP GET, a TCP connect, a query) and reports its
/// outcome and latency with [`record`](Self::record); the next check is due `interval` after the
/// reported one started. An application that wants the state machine to enforce the timeout
/// tells it when a check starts ([`on_check_started`](Self::on_check_started)), sleeps until
/// [`poll_timeout`](Self::poll_timeout), and calls [`handle_timeout`](Self::handle_timeout),
/// which counts a check still unanswered at its deadline as a timeout. Outcomes count in the
/// order they are recorded; time only schedules checks.
///
/// ```
/// use std::time::{Duration, Instant};
/// use ha_core::{CheckOutcome, Health, HealthCheck, HealthCheckConfig};
///
/// let mut check = HealthCheck::new(HealthCheckConfig::default())?;
/// let mut now = Instant::now();
/// assert!(check.is_due(now));
/// for _ in 0..2 {
///     check.record(CheckOutcome::Success, Duration::from_millis(20), now);
///     now += Duration::from_secs(30);
/// }
/// assert_eq!(check.health(), Health::Healthy);
/// // Two failures are not enough; the third makes it unhealthy.
/// check.record(CheckOutcome::Failure, Duration::from_millis(3), now);
/// check.record(CheckOutcome::Timeout, Duration::from_secs(5), now + Duration::from_secs(30));
/// let change = check.record(CheckOutcome::Failure, Duration::from_millis(3), now + Duration::from_secs(60));
/// assert_eq!(change.map(|c| c.to), Some(Health::Unhealthy));
/// # Ok::<(), ha_core::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct HealthCheck {
    config: HealthCheckConfig,
    health: Health,
    fail_run: u32,
    success_run: u32,
    pass_run: u32,
    slow_run: u32,
    next_due: Option<Instant>,
    /// When the check under way started, if one is.
    in_flight: Option<Instant>,
}

impl HealthCheck {
    /// A target of unknown health, due for a check at once.
    ///
    /// # Errors
    /// As [`HealthCheckConfig::validate`].
    pub fn new(config: HealthCheckConfig) -> Result<HealthCheck> {
        config.validate()?;
        Ok(HealthCheck {
            config,
            health: Health::Unknown,
            fail_run: 0,
            success_run: 0,
            pass_run: 0,
            slow_run: 0,
            next_due: None,
            in_flight: None,
        })
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &HealthCheckConfig {
        &self.config
    }

    /// The target's current health.
    #[must_use]
    pub fn health(&self) -> Health {
        self.health
    }

    /// How the config weighs a check's `outcome` and `latency`.
    #[must_use]
    pub fn verdict(&self, outcome: CheckOutcome, latency: Duration) -> CheckVerdict {
        match outcome {
            CheckOutcome::Failure | CheckOutcome::Timeout => CheckVerdict::Fail,
            CheckOutcome::Success if latency > self.config.timeout => CheckVerdict::Fail,
            CheckOutcome::Success
                if self
                    .config
                    .degraded_latency
                    .is_some_and(|slow| latency > slow) =>
            {
                CheckVerdict::Slow
            }
            CheckOutcome::Success => CheckVerdict::Pass,
        }
    }

    /// Notes that a check started at `now`: until it is recorded, no other check is due, and
    /// [`poll_timeout`](Self::poll_timeout) returns its deadline. Starting a check while another
    /// is under way abandons the earlier one's deadline.
    pub fn on_check_started(&mut self, now: Instant) {
        self.in_flight = Some(now);
    }

    /// Takes in a check that ended at `now` after `latency`, and returns the change of health it
    /// caused, if any. The next check becomes due `interval` after this one started (when
    /// [`on_check_started`](Self::on_check_started) was called, else `now − latency`).
    pub fn record(
        &mut self,
        outcome: CheckOutcome,
        latency: Duration,
        now: Instant,
    ) -> Option<HealthTransition> {
        let verdict = self.verdict(outcome, latency);
        let started = self
            .in_flight
            .take()
            .unwrap_or_else(|| now.checked_sub(latency).unwrap_or(now));
        self.next_due = Some(started.checked_add(self.config.interval).unwrap_or(now));
        let bump = |run: u32, hit: bool| if hit { run.saturating_add(1) } else { 0 };
        self.fail_run = bump(self.fail_run, verdict == CheckVerdict::Fail);
        self.success_run = bump(self.success_run, verdict != CheckVerdict::Fail);
        self.pass_run = bump(self.pass_run, verdict == CheckVerdict::Pass);
        self.slow_run = bump(self.slow_run, verdict == CheckVerdict::Slow);

        let (fail_enough, success_enough) = (
            self.fail_run >= self.config.unhealthy_threshold,
            self.success_run >= self.config.healthy_threshold,
        );
        let next = match self.health {
            _ if fail_enough => Health::Unhealthy,
            Health::Unknown | Health::Unhealthy if success_enough => {
                if verdict == CheckVerdict::Slow {
                    Health::Degraded
                } else {
                    Health::Healthy
                }
            }
            Health::Healthy if self.slow_run >= self.config.degraded_threshold => Health::Degraded,
            Health::Degraded if self.pass_run >= self.config.healthy_threshold => Health::Healthy,
            unchanged => unchanged,
        };
        if next == self.health {
            return None;
        }
        let transition = HealthTransition {
            from: self.health,
            to: next,
            at: now,
        };
        tracing::debug!(
            from = %transition.from,
            to = %transition.to,
            ?outcome,
            ?latency,
            fail_run = self.fail_run,
            success_run = self.success_run,
            "health check changed health"
        );
        self.health = next;
        Some(transition)
    }

    /// Checks the internal bookkeeping, for tests and fuzzing: the runs agree with one another
    /// (a failure run excludes a success run; fast and slow runs are parts of the success run and
    /// exclude each other).
    ///
    /// # Panics
    /// If they disagree, which is a bug in ha-core.
    pub fn check_invariants(&self) {
        assert!(self.fail_run == 0 || self.success_run == 0);
        assert!(self.pass_run == 0 || self.slow_run == 0);
        assert!(self.pass_run <= self.success_run && self.slow_run <= self.success_run);
        assert!(self.pass_run + self.slow_run > 0 || self.success_run == 0);
    }

    /// If the check under way has passed its deadline at `now`, records it as a
    /// [`CheckOutcome::Timeout`] ended at the deadline and returns the change of health it caused.
    /// Calling it at other times does nothing.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<HealthTransition> {
        let deadline = self.check_deadline()?;
        if now < deadline {
            return None;
        }
        self.record(CheckOutcome::Timeout, self.config.timeout, deadline)
    }

    /// The deadline of the check under way, if one is.
    #[must_use]
    pub fn check_deadline(&self) -> Option<Instant> {
        let started = self.in_flight?;
        Some(started.checked_add(self.config.timeout).unwrap_or(started))
    }

    /// When to come back: the deadline of the check under way, else when the next check is due.
    /// `None` before the first check, which is due at once.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.check_deadline().or(self.next_due)
    }

    /// When the next check should start; `None` before the first check, which is due at once.
    #[must_use]
    pub fn next_check_due(&self) -> Option<Instant> {
        self.next_due
    }

    /// Whether a check should start at `now`: none is under way and the next is due.
    #[must_use]
    pub fn is_due(&self, now: Instant) -> bool {
        self.in_flight.is_none() && self.next_due.is_none_or(|due| now >= due)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CheckOutcome::*;

    const MS: Duration = Duration::from_millis(1);

    fn check(config: HealthCheckConfig) -> HealthCheck {
        HealthCheck::new(config).unwrap()
    }

    fn feed(c: &mut HealthCheck, outcomes: &[(CheckOutcome, u64)]) -> Health {
        let t = Instant::now();
        for &(o, ms) in outcomes {
            let _ = c.record(o, MS * ms as u32, t);
        }
        c.health()
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let c = HealthCheckConfig::default();
        assert_eq!(c.interval, Duration::from_secs(30));
        assert_eq!(c.timeout, Duration::from_secs(5));
        assert_eq!((c.unhealthy_threshold, c.healthy_threshold), (3, 2));
    }

    #[test]
    fn bad_settings_are_rejected() {
        let with = |f: fn(&mut HealthCheckConfig)| {
            let mut c = HealthCheckConfig::default();
            f(&mut c);
            c.validate()
        };
        assert!(matches!(
            with(|c| c.interval = Duration::ZERO),
            Err(Error::Zero { .. })
        ));
        assert!(matches!(
            with(|c| c.timeout = Duration::ZERO),
            Err(Error::Zero { .. })
        ));
        assert!(matches!(
            with(|c| c.unhealthy_threshold = 0),
            Err(Error::Zero { .. })
        ));
        assert!(matches!(
            with(|c| c.healthy_threshold = 0),
            Err(Error::Zero { .. })
        ));
        assert!(matches!(
            with(|c| c.degraded_threshold = 0),
            Err(Error::Zero { .. })
        ));
        assert!(matches!(
            with(|c| c.timeout = Duration::from_secs(31)),
            Err(Error::Inverted { .. })
        ));
        assert!(matches!(
            with(|c| c.degraded_latency = Some(Duration::from_secs(5))),
            Err(Error::Inverted { .. })
        ));
        assert!(matches!(
            with(|c| c.degraded_latency = Some(Duration::ZERO)),
            Err(Error::Zero { .. })
        ));
    }

    #[test]
    fn starts_unknown_and_due() {
        let c = check(HealthCheckConfig::default());
        assert_eq!(c.health(), Health::Unknown);
        assert!(c.is_due(Instant::now()));
        assert_eq!(c.next_check_due(), None);
    }

    #[test]
    fn next_check_is_due_an_interval_after_the_last_started() {
        let mut c = check(HealthCheckConfig::default());
        let t = Instant::now() + Duration::from_secs(100);
        let _ = c.record(Success, Duration::from_secs(2), t);
        assert_eq!(c.next_check_due(), Some(t + Duration::from_secs(28)));
        assert!(!c.is_due(t + Duration::from_secs(27)));
        assert!(c.is_due(t + Duration::from_secs(28)));
    }

    #[test]
    fn a_check_under_way_times_out_at_its_deadline() {
        let mut c = check(HealthCheckConfig {
            unhealthy_threshold: 1,
            ..HealthCheckConfig::default()
        });
        let t = Instant::now();
        c.on_check_started(t);
        assert!(
            !c.is_due(t + Duration::from_secs(60)),
            "one check at a time"
        );
        assert_eq!(c.poll_timeout(), Some(t + Duration::from_secs(5)));
        assert_eq!(c.handle_timeout(t + Duration::from_secs(4)), None);
        let change = c.handle_timeout(t + Duration::from_secs(7)).unwrap();
        assert_eq!(
            (change.to, change.at),
            (Health::Unhealthy, t + Duration::from_secs(5))
        );
        assert_eq!(c.check_deadline(), None);
        assert_eq!(c.poll_timeout(), Some(t + Duration::from_secs(30)));
        assert_eq!(
            c.handle_timeout(t + Duration::from_secs(60)),
            None,
            "nothing under way"
        );
    }

    #[test]
    fn a_started_check_schedules_the_next_from_its_start() {
        let mut c = check(HealthCheckConfig::default());
        let t = Instant::now();
        c.on_check_started(t);
        let _ = c.record(Success, Duration::from_secs(1), t + Duration::from_secs(2));
        assert_eq!(c.next_check_due(), Some(t + Duration::from_secs(30)));
        assert!(c.is_due(t + Duration::from_secs(30)));
    }

    #[test]
    fn failures_need_the_full_run() {
        let mut c = check(HealthCheckConfig::default());
        assert_eq!(feed(&mut c, &[(Success, 1), (Success, 1)]), Health::Healthy);
        assert_eq!(feed(&mut c, &[(Failure, 1), (Timeout, 1)]), Health::Healthy);
        assert_eq!(feed(&mut c, &[(Success, 1)]), Health::Healthy, "run broken");
        assert_eq!(
            feed(&mut c, &[(Failure, 1), (Failure, 1), (Failure, 1)]),
            Health::Unhealthy
        );
        assert_eq!(feed(&mut c, &[(Success, 1)]), Health::Unhealthy);
        assert_eq!(feed(&mut c, &[(Success, 1)]), Health::Healthy);
    }

    #[test]
    fn a_success_slower_than_the_timeout_is_a_failure() {
        let mut c = check(HealthCheckConfig::default());
        assert_eq!(
            c.verdict(Success, Duration::from_secs(6)),
            CheckVerdict::Fail
        );
        assert_eq!(
            c.verdict(Success, Duration::from_secs(5)),
            CheckVerdict::Pass
        );
        assert_eq!(feed(&mut c, &[(Success, 6000); 3]), Health::Unhealthy);
    }

    #[test]
    fn slow_successes_degrade_after_the_run_and_fast_ones_restore() {
        let mut c = check(HealthCheckConfig {
            degraded_latency: Some(Duration::from_millis(500)),
            ..HealthCheckConfig::default()
        });
        assert_eq!(
            feed(&mut c, &[(Success, 10), (Success, 10)]),
            Health::Healthy
        );
        assert_eq!(
            feed(&mut c, &[(Success, 900), (Success, 900)]),
            Health::Healthy
        );
        assert_eq!(feed(&mut c, &[(Success, 900)]), Health::Degraded);
        assert_eq!(feed(&mut c, &[(Success, 10)]), Health::Degraded);
        assert_eq!(feed(&mut c, &[(Success, 10)]), Health::Healthy);
    }

    #[test]
    fn recovering_slowly_lands_in_degraded() {
        let mut c = check(HealthCheckConfig {
            degraded_latency: Some(Duration::from_millis(500)),
            ..HealthCheckConfig::default()
        });
        assert_eq!(feed(&mut c, &[(Failure, 1); 3]), Health::Unhealthy);
        assert_eq!(
            feed(&mut c, &[(Success, 10), (Success, 900)]),
            Health::Degraded
        );
    }

    #[test]
    fn transitions_report_both_ends() {
        let mut c = check(HealthCheckConfig {
            healthy_threshold: 1,
            ..HealthCheckConfig::default()
        });
        let t = Instant::now();
        let change = c.record(Success, MS, t).unwrap();
        assert_eq!(
            (change.from, change.to, change.at),
            (Health::Unknown, Health::Healthy, t)
        );
        assert_eq!(c.record(Success, MS, t), None);
    }
}
