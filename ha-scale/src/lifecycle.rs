//! One instance's life, as a state machine: requested → starting → ready → serving → draining →
//! terminating → gone, or failed on the way.
//!
//! | state | left by | to | actions asked for | timeout (default) → what then |
//! |---|---|---|---|---|
//! | [`Requested`](InstanceState::Requested) | the provider confirms the create | starting | — | [`create_timeout`](LifecycleConfig::create_timeout) (2 min) → failed |
//! | [`Starting`](InstanceState::Starting) | health checks pass ([`healthy_threshold`](ha_core::HealthCheckConfig::healthy_threshold) in a row, 2) | ready | `Register` | [`ready_timeout`](LifecycleConfig::ready_timeout) (5 min) → failed |
//! | [`Ready`](InstanceState::Ready) | the balancer confirms the registration | serving | — | [`register_timeout`](LifecycleConfig::register_timeout) (30 s) → failed (draining first if work reached it) |
//! | [`Serving`](InstanceState::Serving) | retired, or unhealthy too long | draining | `Drain` | unhealthy for [`unhealthy_timeout`](LifecycleConfig::unhealthy_timeout) (5 min) → draining, to be replaced |
//! | [`Draining`](InstanceState::Draining) | no request left in flight | terminating | `Deregister`, `Destroy` | [`drain_timeout`](LifecycleConfig::drain_timeout) (300 s) → terminating, the rest abandoned |
//! | [`Terminating`](InstanceState::Terminating) | the provider confirms the destroy | gone | — | [`destroy_timeout`](LifecycleConfig::destroy_timeout) (2 min) → `Destroy` again |
//! | [`Failed`](InstanceState::Failed) | the provider confirms the destroy | gone | `Deregister` (if it may be registered), `Destroy` | as terminating |
//!
//! A retired instance that serves no traffic yet (requested, starting, or ready with nothing in
//! flight) skips the drain. Draining follows ha-balance's connection draining
//! (`EndpointSet::drain`): no new work, then let go when the in-flight count reaches zero or the
//! drain timeout passes ([`DrainEnd`], shared through ha-core).
//!
//! Each method takes the time and returns the [`Transition`] it caused, with the actions the new
//! state asks of the application; [`Lifecycle::poll_timeout`] says when to call
//! [`Lifecycle::handle_timeout`] next. Unlike a Kubernetes pod, whose `Failed` phase is final,
//! a failed instance here still holds resources until its destroy is confirmed: only
//! [`Gone`](InstanceState::Gone) is terminal.

use std::fmt;
use std::time::{Duration, Instant};

use ha_core::DrainEnd;
use ha_core::validate::non_zero_duration;
use ha_core::{CheckOutcome, Health, HealthCheck, HealthCheckConfig};

use crate::Result;

/// Where an instance stands in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum InstanceState {
    /// Asked of the provider; not confirmed yet.
    Requested,
    /// Created and booting; its health checks have not passed yet.
    Starting,
    /// Its health checks passed; being registered with the balancer.
    Ready,
    /// Registered: takes traffic.
    Serving,
    /// Takes no new work; waits for its in-flight work to finish or the drain timeout.
    Draining,
    /// Deregistered; being destroyed.
    Terminating,
    /// Failed (not created, not ready in time, lost...); being destroyed. See
    /// [`Lifecycle::failure`] for why.
    Failed,
    /// Destroyed. The only terminal state.
    Gone,
}

impl InstanceState {
    /// Whether the instance counts toward the desired replicas: requested, starting, ready or
    /// serving — not on its way out.
    #[must_use]
    pub fn is_live(self) -> bool {
        matches!(
            self,
            InstanceState::Requested
                | InstanceState::Starting
                | InstanceState::Ready
                | InstanceState::Serving
        )
    }

    /// Whether the instance is gone, the one terminal state.
    #[must_use]
    pub fn is_terminal(self) -> bool {
        self == InstanceState::Gone
    }

    /// Whether the balancer may know the instance: ready (being registered), serving or draining.
    #[must_use]
    pub fn may_be_registered(self) -> bool {
        matches!(
            self,
            InstanceState::Ready | InstanceState::Serving | InstanceState::Draining
        )
    }

    fn name(self) -> &'static str {
        match self {
            InstanceState::Requested => "requested",
            InstanceState::Starting => "starting",
            InstanceState::Ready => "ready",
            InstanceState::Serving => "serving",
            InstanceState::Draining => "draining",
            InstanceState::Terminating => "terminating",
            InstanceState::Failed => "failed",
            InstanceState::Gone => "gone",
        }
    }
}

impl fmt::Display for InstanceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The timeouts of each step and the health checks that make an instance ready.
///
/// ```
/// use std::time::Duration;
/// use ha_scale::LifecycleConfig;
///
/// let config = LifecycleConfig::default();
/// assert_eq!(config.ready_timeout, Duration::from_secs(300));
/// assert!(LifecycleConfig { drain_timeout: Duration::ZERO, ..config }.validate().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct LifecycleConfig {
    /// How long the provider has to confirm a create. Default 2 min.
    pub create_timeout: Duration,
    /// How long a created instance has to pass its health checks. Default 5 min.
    pub ready_timeout: Duration,
    /// How long the balancer has to confirm a registration. Default 30 s.
    pub register_timeout: Duration,
    /// How long a serving instance may stay unhealthy before it is drained and replaced.
    /// Default 5 min.
    pub unhealthy_timeout: Duration,
    /// How long a drain waits for in-flight work. Default 300 s, ha-balance's and AWS load
    /// balancers' deregistration delay.
    pub drain_timeout: Duration,
    /// How long the provider has to confirm a destroy before it is asked again. Default 2 min.
    pub destroy_timeout: Duration,
    /// The health checks: [`healthy_threshold`](HealthCheckConfig::healthy_threshold)
    /// successes in a row make a starting instance ready (default 2),
    /// [`unhealthy_threshold`](HealthCheckConfig::unhealthy_threshold) failures make a serving
    /// one unhealthy (default 3). The check interval is the application's to keep.
    pub health_check: HealthCheckConfig,
}

impl Default for LifecycleConfig {
    fn default() -> Self {
        LifecycleConfig {
            create_timeout: Duration::from_secs(120),
            ready_timeout: Duration::from_secs(300),
            register_timeout: Duration::from_secs(30),
            unhealthy_timeout: Duration::from_secs(300),
            drain_timeout: Duration::from_secs(300),
            destroy_timeout: Duration::from_secs(120),
            health_check: HealthCheckConfig::default(),
        }
    }
}

impl LifecycleConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`ha_core::Error::Zero`] for a zero timeout, and what
    /// [`HealthCheckConfig::validate`] rejects.
    pub fn validate(&self) -> Result<()> {
        non_zero_duration("create timeout", self.create_timeout)?;
        non_zero_duration("ready timeout", self.ready_timeout)?;
        non_zero_duration("register timeout", self.register_timeout)?;
        non_zero_duration("unhealthy timeout", self.unhealthy_timeout)?;
        non_zero_duration("drain timeout", self.drain_timeout)?;
        non_zero_duration("destroy timeout", self.destroy_timeout)?;
        self.health_check.validate()?;
        Ok(())
    }
}

/// Why an instance failed, or was drained to be replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum FailureCause {
    /// The provider refused or failed the create.
    CreateFailed(String),
    /// The provider did not confirm the create within the create timeout.
    CreateTimedOut,
    /// The health checks did not pass within the ready timeout.
    NotReadyInTime,
    /// The balancer refused the registration.
    RegisterFailed(String),
    /// The balancer did not confirm the registration within the register timeout.
    RegisterTimedOut,
    /// Serving, it stayed unhealthy for the unhealthy timeout; it is drained and replaced.
    UnhealthyTooLong,
    /// The application reported it lost (crashed, reclaimed, its host gone).
    Lost(String),
}

impl fmt::Display for FailureCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailureCause::CreateFailed(why) => write!(f, "create failed: {why}"),
            FailureCause::CreateTimedOut => f.write_str("create not confirmed in time"),
            FailureCause::NotReadyInTime => f.write_str("not ready in time"),
            FailureCause::RegisterFailed(why) => write!(f, "register failed: {why}"),
            FailureCause::RegisterTimedOut => f.write_str("registration not confirmed in time"),
            FailureCause::UnhealthyTooLong => f.write_str("unhealthy too long"),
            FailureCause::Lost(why) => write!(f, "lost: {why}"),
        }
    }
}

/// What the application is asked to do for one instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum LifecycleAction {
    /// Add it to the balancer (or service discovery).
    Register,
    /// Send it no new work (ha-balance: `EndpointSet::drain`).
    Drain,
    /// Remove it from the balancer.
    Deregister,
    /// Destroy it (and cancel it, if it is still being created). Must be idempotent: it may be
    /// asked again when a confirmation is late.
    Destroy,
}

/// What moved an instance from one state to another.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum Cause {
    /// The provider confirmed the create.
    Created,
    /// The health checks passed.
    HealthChecksPassed,
    /// The balancer confirmed the registration.
    Registered,
    /// The executor (or the application) retired it.
    Retired,
    /// Its drain ended.
    DrainEnded(DrainEnd),
    /// The provider confirmed the destroy.
    Destroyed,
    /// The destroy was not confirmed in time and is asked again (the state does not change).
    DestroyRetried,
    /// It failed, or is drained to be replaced.
    Failed(FailureCause),
}

/// A change of an instance's state and the actions it asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a transition carries actions the application must carry out"]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Transition {
    /// The state before.
    pub from: InstanceState,
    /// The state after (the same for [`Cause::DestroyRetried`]).
    pub to: InstanceState,
    /// Why.
    pub cause: Cause,
    /// What the application must do, in order.
    pub actions: Vec<LifecycleAction>,
}

/// One instance's lifecycle.
///
/// ```
/// use std::time::{Duration, Instant};
/// use ha_core::CheckOutcome;
/// use ha_scale::{InstanceState, Lifecycle, LifecycleAction, LifecycleConfig};
///
/// let start = Instant::now();
/// let mut life = Lifecycle::new(LifecycleConfig::default(), start)?;
/// let _ = life.on_created(start + Duration::from_secs(20))?;
/// let ms = Duration::from_millis(5);
/// assert!(life.on_check(CheckOutcome::Success, ms, start + Duration::from_secs(30))?.is_none());
/// let ready = life.on_check(CheckOutcome::Success, ms, start + Duration::from_secs(40))?;
/// assert_eq!(ready.map(|t| t.actions), Some(vec![LifecycleAction::Register]));
/// let _ = life.on_registered(start + Duration::from_secs(41))?;
/// assert_eq!(life.state(), InstanceState::Serving);
///
/// // Retired with 3 requests in flight: drained until they finish.
/// life.on_in_flight(3, start + Duration::from_secs(60))?;
/// let drain = life.retire(start + Duration::from_secs(60))?;
/// assert_eq!(drain.map(|t| t.to), Some(InstanceState::Draining));
/// let done = life.on_in_flight(0, start + Duration::from_secs(75))?.ok_or("not drained")?;
/// assert_eq!(done.actions, vec![LifecycleAction::Deregister, LifecycleAction::Destroy]);
/// let _ = life.on_destroyed(start + Duration::from_secs(90))?;
/// assert!(life.state().is_terminal());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Lifecycle {
    config: LifecycleConfig,
    state: InstanceState,
    entered: Instant,
    requested: Instant,
    created: Option<Instant>,
    available_since: Option<Instant>,
    health: HealthCheck,
    unhealthy_since: Option<Instant>,
    in_flight: u32,
    drain_end: Option<DrainEnd>,
    failure: Option<FailureCause>,
    destroy_asked: Option<Instant>,
    destroy_attempts: u32,
}

impl Lifecycle {
    /// An instance requested of the provider at `now`.
    ///
    /// # Errors
    /// As [`LifecycleConfig::validate`].
    pub fn new(config: LifecycleConfig, now: Instant) -> Result<Lifecycle> {
        config.validate()?;
        let health = HealthCheck::new(config.health_check)?;
        Ok(Lifecycle {
            config,
            state: InstanceState::Requested,
            entered: now,
            requested: now,
            created: None,
            available_since: None,
            health,
            unhealthy_since: None,
            in_flight: 0,
            drain_end: None,
            failure: None,
            destroy_asked: None,
            destroy_attempts: 0,
        })
    }

    /// An instance already serving at `now` (one the executor adopts at start-up).
    ///
    /// # Errors
    /// As [`LifecycleConfig::validate`].
    pub fn serving(config: LifecycleConfig, now: Instant) -> Result<Lifecycle> {
        let mut life = Lifecycle::new(config, now)?;
        life.state = InstanceState::Serving;
        life.created = Some(now);
        life.available_since = Some(now);
        // Healthy until its checks say otherwise: it was serving before we looked.
        for _ in 0..config.health_check.healthy_threshold {
            let _ = life
                .health
                .record(CheckOutcome::Success, Duration::ZERO, now);
        }
        Ok(life)
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &LifecycleConfig {
        &self.config
    }

    /// The state.
    #[must_use]
    pub fn state(&self) -> InstanceState {
        self.state
    }

    /// When the present state was entered.
    #[must_use]
    pub fn entered_at(&self) -> Instant {
        self.entered
    }

    /// When the instance was requested.
    #[must_use]
    pub fn requested_at(&self) -> Instant {
        self.requested
    }

    /// When the provider confirmed the create, if it has.
    #[must_use]
    pub fn created_at(&self) -> Option<Instant> {
        self.created
    }

    /// Since when the instance is available — serving and not unhealthy — if it is.
    #[must_use]
    pub fn available_since(&self) -> Option<Instant> {
        if self.is_available() {
            self.available_since
        } else {
            None
        }
    }

    /// Its health, as its checks say.
    #[must_use]
    pub fn health(&self) -> Health {
        self.health.health()
    }

    /// Whether it takes traffic and counts as capacity: serving and not unhealthy.
    #[must_use]
    pub fn is_available(&self) -> bool {
        self.state == InstanceState::Serving && self.health.health() != Health::Unhealthy
    }

    /// Since when a serving instance is unhealthy, if it is.
    #[must_use]
    pub fn unhealthy_since(&self) -> Option<Instant> {
        self.unhealthy_since
    }

    /// The requests in flight last reported.
    #[must_use]
    pub fn in_flight(&self) -> u32 {
        self.in_flight
    }

    /// How its drain ended, once it has.
    #[must_use]
    pub fn drain_end(&self) -> Option<DrainEnd> {
        self.drain_end
    }

    /// Why it failed, or was drained to be replaced, if it was.
    #[must_use]
    pub fn failure(&self) -> Option<&FailureCause> {
        self.failure.as_ref()
    }

    /// How many times its destroy has been asked for.
    #[must_use]
    pub fn destroy_attempts(&self) -> u32 {
        self.destroy_attempts
    }

    /// When the present state times out, if it can: when to call
    /// [`handle_timeout`](Self::handle_timeout) next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let c = &self.config;
        match self.state {
            InstanceState::Requested => Some(deadline(self.entered, c.create_timeout)),
            InstanceState::Starting => Some(deadline(self.entered, c.ready_timeout)),
            InstanceState::Ready => Some(deadline(self.entered, c.register_timeout)),
            InstanceState::Serving => self
                .unhealthy_since
                .map(|since| deadline(since, c.unhealthy_timeout)),
            InstanceState::Draining => Some(deadline(self.entered, c.drain_timeout)),
            InstanceState::Terminating | InstanceState::Failed => Some(deadline(
                self.destroy_asked.unwrap_or(self.entered),
                c.destroy_timeout,
            )),
            InstanceState::Gone => None,
        }
    }

    /// The provider confirmed the create: the instance is starting.
    ///
    /// # Errors
    /// [`Error::InstanceEventRefused`](crate::Error::InstanceEventRefused) unless requested.
    pub fn on_created(&mut self, now: Instant) -> Result<Transition> {
        self.expect("created", InstanceState::Requested)?;
        self.created = Some(now);
        Ok(self.go(InstanceState::Starting, Cause::Created, vec![], now))
    }

    /// The provider could not create the instance.
    ///
    /// # Errors
    /// [`Error::InstanceEventRefused`](crate::Error::InstanceEventRefused) unless requested.
    pub fn on_create_failed(&mut self, why: impl Into<String>, now: Instant) -> Result<Transition> {
        self.expect("create failed", InstanceState::Requested)?;
        Ok(self.fail(FailureCause::CreateFailed(why.into()), now))
    }

    /// A health check ended at `now` after `latency`. Starting, enough passes make it ready
    /// (asking for `Register`); serving, its health is followed: an unhealthy instance is not
    /// available, and one unhealthy for the unhealthy timeout is drained and replaced. Checks
    /// of an instance on its way out are ignored.
    ///
    /// # Errors
    /// [`Error::InstanceEventRefused`](crate::Error::InstanceEventRefused) while requested (the
    /// provider has not confirmed the create yet).
    pub fn on_check(
        &mut self,
        outcome: CheckOutcome,
        latency: Duration,
        now: Instant,
    ) -> Result<Option<Transition>> {
        match self.state {
            InstanceState::Requested => Err(self.refuse("a health check")),
            InstanceState::Terminating | InstanceState::Failed | InstanceState::Gone => Ok(None),
            InstanceState::Starting => {
                let _ = self.health.record(outcome, latency, now);
                if matches!(self.health.health(), Health::Healthy | Health::Degraded) {
                    Ok(Some(self.go(
                        InstanceState::Ready,
                        Cause::HealthChecksPassed,
                        vec![LifecycleAction::Register],
                        now,
                    )))
                } else {
                    Ok(None)
                }
            }
            InstanceState::Ready | InstanceState::Serving | InstanceState::Draining => {
                let change = self.health.record(outcome, latency, now);
                if let Some(change) = change {
                    if change.to == Health::Unhealthy {
                        self.unhealthy_since = Some(now);
                    } else if change.from == Health::Unhealthy {
                        self.unhealthy_since = None;
                        if self.state == InstanceState::Serving {
                            self.available_since = Some(now);
                        }
                    }
                    tracing::debug!(
                        state = %self.state,
                        from = ?change.from,
                        to = ?change.to,
                        "instance health changed"
                    );
                }
                Ok(None)
            }
        }
    }

    /// The balancer confirmed the registration: the instance serves.
    ///
    /// # Errors
    /// [`Error::InstanceEventRefused`](crate::Error::InstanceEventRefused) unless ready.
    pub fn on_registered(&mut self, now: Instant) -> Result<Transition> {
        self.expect("registered", InstanceState::Ready)?;
        self.available_since = Some(now);
        Ok(self.go(InstanceState::Serving, Cause::Registered, vec![], now))
    }

    /// The balancer refused the registration: the instance fails (drained first if work
    /// reached it anyway).
    ///
    /// # Errors
    /// [`Error::InstanceEventRefused`](crate::Error::InstanceEventRefused) unless ready.
    pub fn on_register_failed(
        &mut self,
        why: impl Into<String>,
        now: Instant,
    ) -> Result<Transition> {
        self.expect("register failed", InstanceState::Ready)?;
        Ok(self.fail_or_drain(FailureCause::RegisterFailed(why.into()), now))
    }

    /// The requests in flight on the instance, as the balancer counts them. Draining, zero
    /// ends the drain ([`DrainEnd::Idle`]): `Deregister`, then `Destroy`.
    ///
    /// # Errors
    /// [`Error::InstanceEventRefused`](crate::Error::InstanceEventRefused) for work in flight
    /// on an instance the balancer cannot know yet (requested or starting).
    pub fn on_in_flight(&mut self, in_flight: u32, now: Instant) -> Result<Option<Transition>> {
        if in_flight > 0
            && matches!(
                self.state,
                InstanceState::Requested | InstanceState::Starting
            )
        {
            return Err(self.refuse("work in flight"));
        }
        self.in_flight = in_flight;
        if self.state == InstanceState::Draining && in_flight == 0 {
            return Ok(Some(self.end_drain(DrainEnd::Idle, now)));
        }
        Ok(None)
    }

    /// Its drain ended as the balancer reports (ha-balance's
    /// [`Drained`](ha_core::Drained)), with `abandoned` requests left.
    ///
    /// # Errors
    /// [`Error::InstanceEventRefused`](crate::Error::InstanceEventRefused) unless draining.
    pub fn on_drained(
        &mut self,
        end: DrainEnd,
        abandoned: u32,
        now: Instant,
    ) -> Result<Transition> {
        self.expect("drained", InstanceState::Draining)?;
        self.in_flight = abandoned;
        Ok(self.end_drain(end, now))
    }

    /// Takes the instance out of service. Serving (or ready with work in flight), it drains;
    /// requested, starting or ready with nothing in flight, it is destroyed at once (ready:
    /// deregistered first). Already on its way out: nothing.
    ///
    /// # Errors
    /// None today; the `Result` keeps room for checks.
    pub fn retire(&mut self, now: Instant) -> Result<Option<Transition>> {
        Ok(match self.state {
            InstanceState::Serving => Some(self.go(
                InstanceState::Draining,
                Cause::Retired,
                vec![LifecycleAction::Drain],
                now,
            )),
            InstanceState::Ready if self.in_flight > 0 => Some(self.go(
                InstanceState::Draining,
                Cause::Retired,
                vec![LifecycleAction::Drain],
                now,
            )),
            InstanceState::Ready => Some(self.destroy(
                Cause::Retired,
                vec![LifecycleAction::Deregister, LifecycleAction::Destroy],
                now,
            )),
            InstanceState::Requested | InstanceState::Starting => {
                Some(self.destroy(Cause::Retired, vec![LifecycleAction::Destroy], now))
            }
            InstanceState::Draining
            | InstanceState::Terminating
            | InstanceState::Failed
            | InstanceState::Gone => None,
        })
    }

    /// The application lost the instance (crashed, reclaimed): it fails at once, in-flight work
    /// and all, and is deregistered (if the balancer may know it) and destroyed.
    ///
    /// # Errors
    /// None today; the `Result` keeps room for checks.
    pub fn on_failed(
        &mut self,
        why: impl Into<String>,
        now: Instant,
    ) -> Result<Option<Transition>> {
        Ok(match self.state {
            InstanceState::Terminating | InstanceState::Failed | InstanceState::Gone => None,
            _ => Some(self.fail(FailureCause::Lost(why.into()), now)),
        })
    }

    /// The provider confirmed the destroy: the instance is gone.
    ///
    /// # Errors
    /// [`Error::InstanceEventRefused`](crate::Error::InstanceEventRefused) unless terminating
    /// or failed (a live instance that vanished is [`on_failed`](Self::on_failed)).
    pub fn on_destroyed(&mut self, now: Instant) -> Result<Transition> {
        if !matches!(
            self.state,
            InstanceState::Terminating | InstanceState::Failed
        ) {
            return Err(self.refuse("destroyed"));
        }
        Ok(self.go(InstanceState::Gone, Cause::Destroyed, vec![], now))
    }

    /// Acts on the present state's timeout if it has passed at `now` (extra calls are
    /// harmless): a create, readiness or registration too slow fails the instance; an
    /// instance unhealthy too long is drained to be replaced; a drain too long ends
    /// ([`DrainEnd::TimedOut`]); a destroy not confirmed is asked again.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<Transition> {
        let due = self.poll_timeout()?;
        if now < due {
            return None;
        }
        tracing::debug!(state = %self.state, waited = ?now.saturating_duration_since(self.entered), "instance step timed out");
        Some(match self.state {
            InstanceState::Requested => self.fail(FailureCause::CreateTimedOut, now),
            InstanceState::Starting => self.fail(FailureCause::NotReadyInTime, now),
            InstanceState::Ready => self.fail_or_drain(FailureCause::RegisterTimedOut, now),
            InstanceState::Serving => {
                self.failure = Some(FailureCause::UnhealthyTooLong);
                self.go(
                    InstanceState::Draining,
                    Cause::Failed(FailureCause::UnhealthyTooLong),
                    vec![LifecycleAction::Drain],
                    now,
                )
            }
            InstanceState::Draining => self.end_drain(DrainEnd::TimedOut, now),
            InstanceState::Terminating | InstanceState::Failed => {
                self.destroy_asked = Some(now);
                self.destroy_attempts = self.destroy_attempts.saturating_add(1);
                Transition {
                    from: self.state,
                    to: self.state,
                    cause: Cause::DestroyRetried,
                    actions: vec![LifecycleAction::Destroy],
                }
            }
            InstanceState::Gone => return None,
        })
    }

    /// Checks the state, for tests and fuzzing: a destroy is asked for in terminating and
    /// failed, a failure is known when failed, a drain end only after draining, an unhealthy
    /// mark only while the checks say unhealthy.
    ///
    /// # Panics
    /// If one does not hold, which is a bug.
    pub fn check_invariants(&self) {
        if matches!(
            self.state,
            InstanceState::Terminating | InstanceState::Failed
        ) {
            assert!(self.destroy_asked.is_some() && self.destroy_attempts >= 1);
        }
        if self.state == InstanceState::Failed {
            assert!(self.failure.is_some(), "failed without a cause");
        }
        if self.drain_end.is_some() {
            assert!(
                matches!(
                    self.state,
                    InstanceState::Terminating | InstanceState::Failed | InstanceState::Gone
                ),
                "drain ended while {}",
                self.state
            );
        }
        if self.unhealthy_since.is_some() {
            assert_eq!(self.health.health(), Health::Unhealthy);
        }
        if matches!(self.state, InstanceState::Requested) {
            assert!(self.created.is_none());
        }
    }

    fn end_drain(&mut self, end: DrainEnd, now: Instant) -> Transition {
        self.drain_end = Some(end);
        tracing::debug!(?end, abandoned = self.in_flight, drained_for = ?now.saturating_duration_since(self.entered), "drain ended");
        self.destroy(
            Cause::DrainEnded(end),
            vec![LifecycleAction::Deregister, LifecycleAction::Destroy],
            now,
        )
    }

    fn destroy(&mut self, cause: Cause, actions: Vec<LifecycleAction>, now: Instant) -> Transition {
        self.destroy_asked = Some(now);
        self.destroy_attempts = self.destroy_attempts.saturating_add(1);
        self.go(InstanceState::Terminating, cause, actions, now)
    }

    /// Fails a ready instance, unless work reached it anyway (the registration went through
    /// unconfirmed): then it is drained first, the failure noted, so no work is cut off.
    fn fail_or_drain(&mut self, cause: FailureCause, now: Instant) -> Transition {
        if self.in_flight > 0 {
            self.failure = Some(cause.clone());
            return self.go(
                InstanceState::Draining,
                Cause::Failed(cause),
                vec![LifecycleAction::Drain],
                now,
            );
        }
        self.fail(cause, now)
    }

    fn fail(&mut self, cause: FailureCause, now: Instant) -> Transition {
        let mut actions = Vec::with_capacity(2);
        if self.state.may_be_registered() {
            actions.push(LifecycleAction::Deregister);
        }
        actions.push(LifecycleAction::Destroy);
        self.failure = Some(cause.clone());
        self.destroy_asked = Some(now);
        self.destroy_attempts = self.destroy_attempts.saturating_add(1);
        self.go(InstanceState::Failed, Cause::Failed(cause), actions, now)
    }

    fn go(
        &mut self,
        to: InstanceState,
        cause: Cause,
        actions: Vec<LifecycleAction>,
        now: Instant,
    ) -> Transition {
        let from = self.state;
        self.state = to;
        self.entered = now;
        if to != InstanceState::Serving {
            self.unhealthy_since = None;
        }
        tracing::debug!(%from, %to, ?cause, ?actions, "instance transition");
        Transition {
            from,
            to,
            cause,
            actions,
        }
    }

    fn expect(&self, event: &'static str, state: InstanceState) -> Result<()> {
        if self.state == state {
            Ok(())
        } else {
            Err(self.refuse(event))
        }
    }

    fn refuse(&self, event: &'static str) -> crate::Error {
        crate::Error::InstanceEventRefused {
            instance: "the instance".into(),
            event,
            state: self.state,
        }
    }
}

/// `at + wait`, or the latest instant within reach when that overflows.
pub(crate) fn deadline(at: Instant, wait: Duration) -> Instant {
    let mut wait = wait;
    loop {
        if let Some(t) = at.checked_add(wait) {
            return t;
        }
        wait /= 2;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    const MS: Duration = Duration::from_millis(5);

    fn started(now: Instant) -> Lifecycle {
        let mut life = Lifecycle::new(LifecycleConfig::default(), now).unwrap();
        let _ = life.on_created(now).unwrap();
        life
    }

    #[test]
    fn an_instance_not_ready_within_five_minutes_fails_and_is_destroyed() {
        let t0 = Instant::now();
        let mut life = started(t0);
        assert_eq!(life.poll_timeout(), Some(t0 + Duration::from_secs(300)));
        assert!(life.handle_timeout(t0 + Duration::from_secs(299)).is_none());
        let t = life.handle_timeout(t0 + Duration::from_secs(300)).unwrap();
        assert_eq!(t.to, InstanceState::Failed);
        assert_eq!(t.cause, Cause::Failed(FailureCause::NotReadyInTime));
        assert_eq!(t.actions, vec![LifecycleAction::Destroy]);
        assert_eq!(life.failure(), Some(&FailureCause::NotReadyInTime));
        life.check_invariants();
    }

    #[test]
    fn a_drain_that_times_out_abandons_its_work_and_destroys() {
        let t0 = Instant::now();
        let mut life = Lifecycle::serving(LifecycleConfig::default(), t0).unwrap();
        let _ = life.on_in_flight(4, t0).unwrap();
        let _ = life.retire(t0).unwrap();
        assert_eq!(life.state(), InstanceState::Draining);
        assert!(life.handle_timeout(t0 + Duration::from_secs(200)).is_none());
        let t = life.handle_timeout(t0 + Duration::from_secs(300)).unwrap();
        assert_eq!(t.cause, Cause::DrainEnded(DrainEnd::TimedOut));
        assert_eq!(life.in_flight(), 4);
        life.check_invariants();
    }

    #[test]
    fn a_late_destroy_is_asked_again() {
        let t0 = Instant::now();
        let mut life = started(t0);
        let _ = life.retire(t0).unwrap();
        assert_eq!(life.destroy_attempts(), 1);
        let t = life.handle_timeout(t0 + Duration::from_secs(120)).unwrap();
        assert_eq!(
            (t.from, t.to),
            (InstanceState::Terminating, InstanceState::Terminating)
        );
        assert_eq!(t.actions, vec![LifecycleAction::Destroy]);
        assert_eq!(life.destroy_attempts(), 2);
        assert_eq!(life.poll_timeout(), Some(t0 + Duration::from_secs(240)));
    }

    #[test]
    fn an_instance_unhealthy_too_long_is_drained_to_be_replaced() {
        let t0 = Instant::now();
        let mut life = Lifecycle::serving(LifecycleConfig::default(), t0).unwrap();
        for i in 1..=3 {
            let _ = life
                .on_check(CheckOutcome::Failure, MS, t0 + Duration::from_secs(30 * i))
                .unwrap();
        }
        assert!(!life.is_available());
        let since = life.unhealthy_since().unwrap();
        let t = life
            .handle_timeout(since + Duration::from_secs(300))
            .unwrap();
        assert_eq!(t.to, InstanceState::Draining);
        assert_eq!(life.failure(), Some(&FailureCause::UnhealthyTooLong));
    }

    #[test]
    fn recovering_health_clears_the_unhealthy_clock() {
        let t0 = Instant::now();
        let mut life = Lifecycle::serving(LifecycleConfig::default(), t0).unwrap();
        for i in 1..=3 {
            let _ = life
                .on_check(CheckOutcome::Failure, MS, t0 + Duration::from_secs(i))
                .unwrap();
        }
        for i in 4..=5 {
            let _ = life
                .on_check(CheckOutcome::Success, MS, t0 + Duration::from_secs(i))
                .unwrap();
        }
        assert!(life.is_available());
        assert_eq!(life.poll_timeout(), None);
    }

    #[test]
    fn events_out_of_place_are_refused_with_the_state() {
        let t0 = Instant::now();
        let mut life = Lifecycle::new(LifecycleConfig::default(), t0).unwrap();
        let err = life.on_registered(t0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the instance cannot take registered while requested"
        );
        assert!(life.on_check(CheckOutcome::Success, MS, t0).is_err());
        assert!(life.on_destroyed(t0).is_err());
    }

    #[test]
    fn a_lost_serving_instance_is_deregistered_and_destroyed() {
        let t0 = Instant::now();
        let mut life = Lifecycle::serving(LifecycleConfig::default(), t0).unwrap();
        let t = life.on_failed("host down", t0).unwrap().unwrap();
        assert_eq!(
            t.actions,
            vec![LifecycleAction::Deregister, LifecycleAction::Destroy]
        );
        let _ = life.on_destroyed(t0 + Duration::from_secs(3)).unwrap();
        assert!(life.state().is_terminal());
        assert_eq!(life.poll_timeout(), None);
    }

    #[test]
    fn zero_timeouts_are_refused() {
        let config = LifecycleConfig {
            ready_timeout: Duration::ZERO,
            ..LifecycleConfig::default()
        };
        assert_eq!(
            Lifecycle::new(config, Instant::now())
                .unwrap_err()
                .to_string(),
            "ready timeout must be greater than zero"
        );
    }
}
