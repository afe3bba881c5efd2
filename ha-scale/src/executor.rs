//! The scaling executor: turns a desired replica count (an [`Autoscaler`](crate::Autoscaler)'s
//! decision) and a desired revision into the actions that carry it out, one instance
//! [`Lifecycle`] each, as a Kubernetes Deployment and its ReplicaSets do.
//!
//! **Sans-IO.** The executor queues [`Action`]s (`Create`, `Register`, `Drain`, `Deregister`,
//! `Destroy`) that the application drains with [`Executor::poll_action`] and carries out through
//! its provider and balancer; it reports what happened back (`on_created`, `on_check`,
//! `on_registered`, `on_in_flight` or ha-balance's `on_drained`, `on_destroyed`, `on_failed`,
//! or an [`ActionResult`] per action) and calls [`Executor::handle_timeout`] at
//! [`Executor::poll_timeout`]. With the `provider` feature, an async
//! `InstanceProvider` runs the actions.
//!
//! **Pace.** [`RolloutStrategy::Rolling`] follows a Deployment's rolling update: with `D` desired
//! replicas, at most `D + max_surge` instances exist (every instance not yet gone counts,
//! draining, terminating and failed ones too, so a quota is never exceeded), and the executor
//! never takes an available instance out of service when that would leave fewer than
//! `D − max_unavailable` available (failures can; the executor does not add to them). Each
//! budget is a count or a percentage of `D`; as Kubernetes rounds, the surge rounds up and the
//! unavailable count down, and when both come to zero the unavailable count is 1
//! (`ResolveFenceposts`). Scaling up creates every missing instance the surge allows at once;
//! [`RolloutStrategy::OneAtATime`] changes one instance at a time and waits until it serves (or is
//! gone) before the next.
//!
//! **Victims.** A scale down (or a rollout) retires instances in this order, first to last:
//! 1. of an old revision before the current one;
//! 2. not serving yet before serving — requested, then starting, then ready (Kubernetes:
//!    unscheduled, then pending, then not ready go first);
//! 3. unhealthy, then of unknown health, then degraded, then healthy;
//! 4. least loaded first — fewest requests in flight, so the drain is shortest;
//! 5. available for the shortest time first (Kubernetes: "been ready for less time");
//! 6. by id, so the choice is deterministic.
//!
//! So the instances that keep serving are the healthy, settled ones, and the ones let go cost
//! the least work. An instance that serves is drained (ha-balance's draining: no new work, then
//! let go when its in-flight count reaches zero or the drain timeout passes) before it is
//! deregistered and destroyed; one that serves no traffic yet is destroyed at once.
//!
//! **Warm-up.** A new instance counts as capacity only once it serves and is not unhealthy:
//! [`Executor::available_replicas`] and the pods of [`Executor::observation`] (where starting
//! instances are unready) are what an autoscaler must be fed, so it does not add capacity again
//! for load the starting instances will soon take.
//!
//! **History.** Every desired-count change, rollout, create and transition is kept, with its
//! reason, in a bounded [`Executor::history`].

use std::cmp::Reverse;
use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use ha_core::Drained;
use ha_core::{CheckOutcome, Health, NodeId};

use crate::lifecycle::{Cause, LifecycleAction, Transition};
use crate::{
    Decision, Error, InstanceState, Lifecycle, LifecycleConfig, MetricValue, Observation, Pod,
    PodPhase, ReadyCondition, Result,
};

/// A rollout budget: a count of instances, or a percentage of the desired replicas
/// (Kubernetes' `IntOrString`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum Budget {
    /// This many instances.
    Count(u32),
    /// This percentage of the desired replicas.
    Percent(u32),
}

impl Budget {
    /// The budget for `desired` replicas; a percentage rounded up or down as asked.
    ///
    /// ```
    /// use ha_scale::Budget;
    ///
    /// assert_eq!(Budget::Percent(25).resolve(10, true), 3); // 2.5 up
    /// assert_eq!(Budget::Percent(25).resolve(10, false), 2); // 2.5 down
    /// assert_eq!(Budget::Count(1).resolve(10, false), 1);
    /// ```
    #[must_use]
    pub fn resolve(self, desired: u32, round_up: bool) -> u32 {
        match self {
            Budget::Count(n) => n,
            Budget::Percent(p) => {
                let scaled = u64::from(desired) * u64::from(p);
                let n = if round_up {
                    scaled.div_ceil(100)
                } else {
                    scaled / 100
                };
                u32::try_from(n).unwrap_or(u32::MAX)
            }
        }
    }

    fn is_zero(self) -> bool {
        matches!(self, Budget::Count(0) | Budget::Percent(0))
    }
}

/// How fast the executor changes the instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum RolloutStrategy {
    /// One instance at a time: nothing new starts while an instance is being created, made
    /// ready, registered, drained or destroyed. Budgets: surge 1, unavailable 0.
    OneAtATime,
    /// A Kubernetes rolling update.
    Rolling {
        /// How many instances may exist beyond the desired replicas; a percentage rounds up.
        max_surge: Budget,
        /// How many of the desired replicas may be unavailable through the executor's doing; a
        /// percentage rounds down, and must not exceed 100.
        max_unavailable: Budget,
    },
}

impl Default for RolloutStrategy {
    /// Kubernetes' default: 25% surge, 25% unavailable.
    fn default() -> Self {
        RolloutStrategy::Rolling {
            max_surge: Budget::Percent(25),
            max_unavailable: Budget::Percent(25),
        }
    }
}

impl RolloutStrategy {
    /// Checks the budgets.
    ///
    /// # Errors
    /// [`Error::ZeroRolloutBudget`] when both are zero; [`ha_core::Error::OutOfRange`] for a
    /// max unavailable above 100%.
    pub fn validate(&self) -> Result<()> {
        if let RolloutStrategy::Rolling {
            max_surge,
            max_unavailable,
        } = *self
        {
            if max_surge.is_zero() && max_unavailable.is_zero() {
                return Err(Error::ZeroRolloutBudget);
            }
            if let Budget::Percent(p) = max_unavailable {
                if p > 100 {
                    return Err(ha_core::Error::OutOfRange {
                        name: "max unavailable percent",
                        value: f64::from(p),
                        range: "[0, 100]",
                    }
                    .into());
                }
            }
        }
        Ok(())
    }

    /// The surge and unavailable counts for `desired` replicas.
    ///
    /// ```
    /// use ha_scale::{Budget, RolloutStrategy};
    ///
    /// assert_eq!(RolloutStrategy::default().budgets(10), (3, 2));
    /// // Both round to zero at 3 replicas: Kubernetes then allows one unavailable.
    /// let small = RolloutStrategy::Rolling { max_surge: Budget::Count(0), max_unavailable: Budget::Percent(10) };
    /// assert_eq!(small.budgets(3), (0, 1));
    /// assert_eq!(RolloutStrategy::OneAtATime.budgets(10), (1, 0));
    /// ```
    #[must_use]
    pub fn budgets(&self, desired: u32) -> (u32, u32) {
        match *self {
            RolloutStrategy::OneAtATime => (1, 0),
            RolloutStrategy::Rolling {
                max_surge,
                max_unavailable,
            } => {
                let surge = max_surge.resolve(desired, true);
                let unavailable = max_unavailable.resolve(desired, false);
                if surge == 0 && unavailable == 0 {
                    (0, 1)
                } else {
                    (surge, unavailable)
                }
            }
        }
    }
}

/// The settings of an [`Executor`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ExecutorConfig {
    /// The pace. Default: rolling, 25% surge, 25% unavailable.
    pub strategy: RolloutStrategy,
    /// Each instance's timeouts and health checks. Default: [`LifecycleConfig::default`].
    pub lifecycle: LifecycleConfig,
    /// The prefix of the instance ids the executor mints (`instance-1`, `instance-2`...).
    /// Default `"instance"`.
    pub name_prefix: String,
    /// The most history entries kept; older ones are dropped. Default 1000.
    pub history_limit: usize,
    /// The most replicas that may be desired, bounding memory. Default 10 000.
    pub max_desired: u32,
}

impl Default for ExecutorConfig {
    fn default() -> Self {
        ExecutorConfig {
            strategy: RolloutStrategy::default(),
            lifecycle: LifecycleConfig::default(),
            name_prefix: "instance".into(),
            history_limit: 1000,
            max_desired: 10_000,
        }
    }
}

impl ExecutorConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// What [`RolloutStrategy::validate`] and [`LifecycleConfig::validate`] reject;
    /// [`ha_core::Error::Empty`] for an empty name prefix; [`ha_core::Error::Zero`] for a zero
    /// history limit or max desired.
    pub fn validate(&self) -> Result<()> {
        self.strategy.validate()?;
        self.lifecycle.validate()?;
        if self.name_prefix.is_empty() {
            return Err(ha_core::Error::Empty {
                name: "name prefix",
            }
            .into());
        }
        if self.history_limit == 0 {
            return Err(ha_core::Error::Zero {
                name: "history limit",
            }
            .into());
        }
        if self.max_desired == 0 {
            return Err(ha_core::Error::Zero {
                name: "max desired replicas",
            }
            .into());
        }
        Ok(())
    }
}

/// What the application must do for the executor.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum Action {
    /// Create an instance with this id, running this revision.
    Create {
        /// The id the executor gave it.
        id: NodeId,
        /// The revision (version of the template) to run.
        revision: u64,
    },
    /// Register it with the balancer.
    Register {
        /// The instance.
        id: NodeId,
    },
    /// Send it no new work (ha-balance: `EndpointSet::drain`).
    Drain {
        /// The instance.
        id: NodeId,
    },
    /// Remove it from the balancer.
    Deregister {
        /// The instance.
        id: NodeId,
    },
    /// Destroy it (cancelling its creation if need be). Idempotent: it may be asked again.
    Destroy {
        /// The instance.
        id: NodeId,
    },
}

impl Action {
    /// The instance acted on.
    #[must_use]
    pub fn id(&self) -> &NodeId {
        match self {
            Action::Create { id, .. }
            | Action::Register { id }
            | Action::Drain { id }
            | Action::Deregister { id }
            | Action::Destroy { id } => id,
        }
    }

    fn of(action: LifecycleAction, id: NodeId) -> Action {
        match action {
            LifecycleAction::Register => Action::Register { id },
            LifecycleAction::Drain => Action::Drain { id },
            LifecycleAction::Deregister => Action::Deregister { id },
            LifecycleAction::Destroy => Action::Destroy { id },
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Create { id, revision } => write!(f, "create {id} at revision {revision}"),
            Action::Register { id } => write!(f, "register {id}"),
            Action::Drain { id } => write!(f, "drain {id}"),
            Action::Deregister { id } => write!(f, "deregister {id}"),
            Action::Destroy { id } => write!(f, "destroy {id}"),
        }
    }
}

/// How an [`Action`] went, as the application reports it back with
/// [`Executor::on_result`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ActionResult {
    /// The action carried out.
    pub action: Action,
    /// `Ok`, or why it failed.
    pub outcome: std::result::Result<(), String>,
}

/// What a history entry records.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum HistoryEvent {
    /// The desired replicas changed.
    DesiredChanged {
        /// Before.
        from: u32,
        /// After.
        to: u32,
    },
    /// A rollout to a new revision started.
    RolloutStarted {
        /// The revision before.
        from: u64,
        /// The revision rolled out.
        to: u64,
    },
    /// An instance was requested of the provider.
    Requested {
        /// The instance.
        instance: NodeId,
        /// Its revision.
        revision: u64,
    },
    /// An instance changed state (or, terminating, had its destroy asked again).
    Transition {
        /// The instance.
        instance: NodeId,
        /// The state before.
        from: InstanceState,
        /// The state after.
        to: InstanceState,
        /// The actions asked for.
        actions: Vec<LifecycleAction>,
    },
    /// The application reported an action failed.
    ActionFailed {
        /// The action.
        action: Action,
    },
}

/// One entry of the scaling history.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct HistoryEntry {
    /// When, as the time since the executor was built.
    pub at: Duration,
    /// What happened.
    pub event: HistoryEvent,
    /// Why, with the numbers behind it.
    pub reason: String,
}

/// One tracked instance, as [`Executor::instances`] lists it.
#[derive(Debug, Clone, Copy)]
pub struct InstanceRef<'a> {
    /// Its id.
    pub id: &'a NodeId,
    /// The revision it runs.
    pub revision: u64,
    /// Its lifecycle.
    pub lifecycle: &'a Lifecycle,
}

#[derive(Debug, Clone)]
struct Tracked {
    life: Lifecycle,
    revision: u64,
}

/// The scaling executor.
///
/// ```
/// use std::time::{Duration, Instant};
/// use ha_core::CheckOutcome;
/// use ha_scale::{Action, Executor, ExecutorConfig};
///
/// let mut now = Instant::now();
/// let mut exec = Executor::new(ExecutorConfig::default(), now)?;
/// exec.set_desired(2, "initial size", now)?;
/// let mut created = Vec::new();
/// while let Some(action) = exec.poll_action() {
///     if let Action::Create { id, .. } = action {
///         created.push(id);
///     }
/// }
/// assert_eq!(created.len(), 2);
/// assert_eq!(exec.available_replicas(), 0); // nothing counts before it serves
///
/// now += Duration::from_secs(30);
/// for id in &created {
///     exec.on_created(id.as_str(), now)?;
///     for _ in 0..2 {
///         exec.on_check(id.as_str(), CheckOutcome::Success, Duration::from_millis(3), now)?;
///     }
/// }
/// let registers: Vec<Action> = std::iter::from_fn(|| exec.poll_action()).collect();
/// assert!(registers.iter().all(|a| matches!(a, Action::Register { .. })));
/// for id in &created {
///     exec.on_registered(id.as_str(), now)?;
/// }
/// assert_eq!(exec.available_replicas(), 2);
/// # Ok::<(), ha_scale::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Executor {
    config: ExecutorConfig,
    started: Instant,
    latest: Instant,
    desired: u32,
    revision: u64,
    instances: BTreeMap<NodeId, Tracked>,
    serial: u64,
    actions: VecDeque<Action>,
    history: VecDeque<HistoryEntry>,
}

impl Executor {
    /// An executor with no instances and zero desired, at revision 0.
    ///
    /// # Errors
    /// As [`ExecutorConfig::validate`].
    pub fn new(config: ExecutorConfig, now: Instant) -> Result<Executor> {
        config.validate()?;
        Ok(Executor {
            config,
            started: now,
            latest: now,
            desired: 0,
            revision: 0,
            instances: BTreeMap::new(),
            serial: 0,
            actions: VecDeque::new(),
            history: VecDeque::new(),
        })
    }

    /// An executor that takes over instances already serving at revision 0, desiring as many.
    ///
    /// # Errors
    /// As [`ExecutorConfig::validate`]; [`Error::DuplicateInstance`] for an id given twice;
    /// [`ha_core::Error::TooLarge`] for more than `max_desired` instances.
    pub fn adopting(
        config: ExecutorConfig,
        serving: impl IntoIterator<Item = NodeId>,
        now: Instant,
    ) -> Result<Executor> {
        let mut exec = Executor::new(config, now)?;
        for id in serving {
            if exec.instances.contains_key(&id) {
                return Err(Error::DuplicateInstance(id.to_string()));
            }
            let life = Lifecycle::serving(exec.config.lifecycle, now)?;
            exec.instances.insert(id, Tracked { life, revision: 0 });
        }
        let count = exec.instances.len();
        let desired = u32::try_from(count).unwrap_or(u32::MAX);
        exec.check_desired(desired)?;
        exec.desired = desired;
        exec.record(
            now,
            HistoryEvent::DesiredChanged {
                from: 0,
                to: desired,
            },
            format!("adopted {count} serving instances"),
        );
        Ok(exec)
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &ExecutorConfig {
        &self.config
    }

    /// The desired replicas.
    #[must_use]
    pub fn desired(&self) -> u32 {
        self.desired
    }

    /// The revision instances are brought to.
    #[must_use]
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// The surge and unavailable counts for the present desired replicas.
    #[must_use]
    pub fn budgets(&self) -> (u32, u32) {
        self.config.strategy.budgets(self.desired)
    }

    /// Instances not gone yet — everything that may hold resources, the count bounded by the
    /// surge.
    #[must_use]
    pub fn existing_replicas(&self) -> u32 {
        count(self.instances.len())
    }

    /// Instances that count toward the desired replicas: requested, starting, ready or serving.
    #[must_use]
    pub fn live_replicas(&self) -> u32 {
        count(
            self.instances
                .values()
                .filter(|t| t.life.state().is_live())
                .count(),
        )
    }

    /// Instances that serve and are not unhealthy: the capacity that exists now, and what an
    /// autoscaler must count as ready (a starting instance's capacity does not count until it
    /// serves).
    #[must_use]
    pub fn available_replicas(&self) -> u32 {
        count(
            self.instances
                .values()
                .filter(|t| t.life.is_available())
                .count(),
        )
    }

    /// The tracked instances (not gone), by id.
    pub fn instances(&self) -> impl Iterator<Item = InstanceRef<'_>> + '_ {
        self.instances.iter().map(|(id, t)| InstanceRef {
            id,
            revision: t.revision,
            lifecycle: &t.life,
        })
    }

    /// One instance's lifecycle, if it is tracked.
    #[must_use]
    pub fn instance(&self, id: &str) -> Option<&Lifecycle> {
        self.instances.get(id).map(|t| &t.life)
    }

    /// The instances as an [`Autoscaler`](crate::Autoscaler) sees pods: requested ones pending;
    /// starting, ready (not registered yet) and unhealthy ones running but not ready, so their
    /// capacity does not count; available ones ready since they became available; draining
    /// and terminating ones being deleted; failed ones failed.
    #[must_use]
    pub fn pods(&self) -> Vec<Pod> {
        self.instances
            .iter()
            .map(|(id, t)| {
                let life = &t.life;
                let started = life.created_at().unwrap_or(life.requested_at());
                match life.state() {
                    InstanceState::Requested => Pod::pending(id.as_str()),
                    InstanceState::Starting | InstanceState::Ready => {
                        Pod::running(id.as_str(), started).unready_since(started)
                    }
                    InstanceState::Serving => {
                        let mut pod = Pod::running(id.as_str(), started);
                        pod.ready = Some(match (life.available_since(), life.unhealthy_since()) {
                            (Some(since), _) => ReadyCondition {
                                ready: true,
                                last_transition: since,
                            },
                            (None, since) => ReadyCondition {
                                ready: false,
                                last_transition: since.unwrap_or(life.entered_at()),
                            },
                        });
                        pod
                    }
                    InstanceState::Draining | InstanceState::Terminating => {
                        Pod::running(id.as_str(), started).being_deleted()
                    }
                    InstanceState::Failed | InstanceState::Gone => {
                        Pod::running(id.as_str(), started).in_phase(PodPhase::Failed)
                    }
                }
            })
            .collect()
    }

    /// An autoscaler [`Observation`] of the desired replicas with [`pods`](Self::pods) and
    /// these metric values.
    #[must_use]
    pub fn observation(&self, metrics: Vec<MetricValue>) -> Observation {
        Observation::new(self.desired, self.pods(), metrics)
    }

    /// The history, oldest first.
    pub fn history(&self) -> impl ExactSizeIterator<Item = &HistoryEntry> + '_ {
        self.history.iter()
    }

    /// The next action to carry out, oldest first.
    #[must_use = "an action must be carried out"]
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The earliest instance timeout: when to call [`handle_timeout`](Self::handle_timeout).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.instances
            .values()
            .filter_map(|t| t.life.poll_timeout())
            .min()
    }

    /// Sets the desired replicas, with the reason for the history.
    ///
    /// # Errors
    /// [`ha_core::Error::TooLarge`] above `max_desired`; [`ha_core::Error::OutOfOrder`] for a
    /// time before one already seen.
    pub fn set_desired(
        &mut self,
        desired: u32,
        reason: impl Into<String>,
        now: Instant,
    ) -> Result<()> {
        self.advance(now)?;
        self.check_desired(desired)?;
        if desired != self.desired {
            let from = self.desired;
            self.desired = desired;
            tracing::debug!(from, to = desired, "desired replicas changed");
            self.record(
                now,
                HistoryEvent::DesiredChanged { from, to: desired },
                reason.into(),
            );
        }
        self.reconcile(now);
        Ok(())
    }

    /// Sets the desired replicas an autoscaler decided.
    ///
    /// # Errors
    /// As [`set_desired`](Self::set_desired).
    pub fn apply(&mut self, decision: &Decision, now: Instant) -> Result<()> {
        let reason = match (decision.metric, decision.metric_replicas) {
            (Some(metric), Some(proposed)) => format!(
                "autoscaler: metric {metric} proposed {proposed}, decided {} from {}",
                decision.desired_replicas, decision.current_replicas
            ),
            _ => format!(
                "autoscaler: decided {} from {}",
                decision.desired_replicas, decision.current_replicas
            ),
        };
        self.set_desired(decision.desired_replicas, reason, now)
    }

    /// Starts replacing every instance with one at `revision`, at the strategy's pace. The
    /// same revision again changes nothing.
    ///
    /// # Errors
    /// [`ha_core::Error::OutOfOrder`] for a time before one already seen.
    pub fn roll_out(
        &mut self,
        revision: u64,
        reason: impl Into<String>,
        now: Instant,
    ) -> Result<()> {
        self.advance(now)?;
        if revision != self.revision {
            let from = self.revision;
            self.revision = revision;
            tracing::debug!(from, to = revision, "rollout started");
            self.record(
                now,
                HistoryEvent::RolloutStarted { from, to: revision },
                reason.into(),
            );
        }
        self.reconcile(now);
        Ok(())
    }

    /// The provider created the instance.
    ///
    /// # Errors
    /// [`Error::UnknownInstance`], [`Error::InstanceEventRefused`] unless requested,
    /// [`ha_core::Error::OutOfOrder`].
    pub fn on_created(&mut self, id: &str, now: Instant) -> Result<()> {
        self.event(id, now, |life| life.on_created(now).map(Some))
    }

    /// The provider could not create the instance: it fails (and is replaced).
    ///
    /// # Errors
    /// As [`on_created`](Self::on_created).
    pub fn on_create_failed(&mut self, id: &str, why: &str, now: Instant) -> Result<()> {
        self.event(id, now, |life| life.on_create_failed(why, now).map(Some))
    }

    /// A health check of the instance ended at `now` after `latency`.
    ///
    /// # Errors
    /// [`Error::UnknownInstance`], [`Error::InstanceEventRefused`] while requested,
    /// [`ha_core::Error::OutOfOrder`].
    pub fn on_check(
        &mut self,
        id: &str,
        outcome: CheckOutcome,
        latency: Duration,
        now: Instant,
    ) -> Result<()> {
        self.event(id, now, |life| life.on_check(outcome, latency, now))
    }

    /// The balancer registered the instance: it serves.
    ///
    /// # Errors
    /// [`Error::UnknownInstance`], [`Error::InstanceEventRefused`] unless ready,
    /// [`ha_core::Error::OutOfOrder`].
    pub fn on_registered(&mut self, id: &str, now: Instant) -> Result<()> {
        self.event(id, now, |life| life.on_registered(now).map(Some))
    }

    /// The balancer refused the registration: the instance fails (and is replaced).
    ///
    /// # Errors
    /// As [`on_registered`](Self::on_registered).
    pub fn on_register_failed(&mut self, id: &str, why: &str, now: Instant) -> Result<()> {
        self.event(id, now, |life| life.on_register_failed(why, now).map(Some))
    }

    /// The requests in flight on the instance; zero ends its drain.
    ///
    /// # Errors
    /// [`Error::UnknownInstance`], [`Error::InstanceEventRefused`] for work in flight on a
    /// requested or starting instance, [`ha_core::Error::OutOfOrder`].
    pub fn on_in_flight(&mut self, id: &str, in_flight: u32, now: Instant) -> Result<()> {
        self.event(id, now, |life| life.on_in_flight(in_flight, now))
    }

    /// The report that the instance's drain ended, as ha-balance's `EndpointSet::poll_drained`
    /// gives it.
    ///
    /// # Errors
    /// [`Error::UnknownInstance`], [`Error::InstanceEventRefused`] unless draining,
    /// [`ha_core::Error::OutOfOrder`].
    pub fn on_drained(&mut self, drained: &Drained, now: Instant) -> Result<()> {
        self.event(drained.id.as_str(), now, |life| {
            life.on_drained(drained.end, drained.abandoned, now)
                .map(Some)
        })
    }

    /// The provider destroyed the instance: it is gone.
    ///
    /// # Errors
    /// [`Error::UnknownInstance`], [`Error::InstanceEventRefused`] unless terminating or
    /// failed, [`ha_core::Error::OutOfOrder`].
    pub fn on_destroyed(&mut self, id: &str, now: Instant) -> Result<()> {
        self.event(id, now, |life| life.on_destroyed(now).map(Some))
    }

    /// The instance was lost (crashed, reclaimed): it fails at once, in-flight work and all,
    /// and is replaced.
    ///
    /// # Errors
    /// [`Error::UnknownInstance`], [`ha_core::Error::OutOfOrder`].
    pub fn on_failed(&mut self, id: &str, why: &str, now: Instant) -> Result<()> {
        self.event(id, now, |life| life.on_failed(why, now))
    }

    /// How an action went. A create or registration that failed fails the instance; a destroy
    /// that failed is asked again at its timeout; a failed drain or deregistration is recorded
    /// (the drain still ends at its timeout). A confirmation that comes after the instance
    /// moved on (a create confirmed once it was retired) is recorded and otherwise ignored.
    ///
    /// # Errors
    /// [`Error::UnknownInstance`] for an instance already gone or never known,
    /// [`ha_core::Error::OutOfOrder`].
    pub fn on_result(&mut self, result: &ActionResult, now: Instant) -> Result<()> {
        let id = result.action.id().as_str();
        let state = self
            .instances
            .get(id)
            .map(|t| t.life.state())
            .ok_or_else(|| Error::UnknownInstance(id.to_string()))?;
        match (&result.action, &result.outcome) {
            (Action::Create { .. }, Ok(())) if state == InstanceState::Requested => {
                self.on_created(id, now)
            }
            (Action::Create { .. }, Err(why)) if state == InstanceState::Requested => {
                self.on_create_failed(id, why, now)
            }
            (Action::Register { .. }, Ok(())) if state == InstanceState::Ready => {
                self.on_registered(id, now)
            }
            (Action::Register { .. }, Err(why)) if state == InstanceState::Ready => {
                self.on_register_failed(id, why, now)
            }
            (Action::Destroy { .. }, Ok(()))
                if matches!(state, InstanceState::Terminating | InstanceState::Failed) =>
            {
                self.on_destroyed(id, now)
            }
            (action, outcome) => {
                self.advance(now)?;
                if let Err(why) = outcome {
                    tracing::debug!(%action, why, "action failed");
                    self.record(
                        now,
                        HistoryEvent::ActionFailed {
                            action: action.clone(),
                        },
                        why.clone(),
                    );
                }
                Ok(())
            }
        }
    }

    /// Acts on every timeout passed at `now` (extra calls are harmless).
    ///
    /// # Errors
    /// [`ha_core::Error::OutOfOrder`] for a time before one already seen.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<()> {
        self.advance(now)?;
        let due: Vec<NodeId> = self
            .instances
            .iter()
            .filter(|(_, t)| t.life.poll_timeout().is_some_and(|at| at <= now))
            .map(|(id, _)| id.clone())
            .collect();
        for id in due {
            let transition = self
                .instances
                .get_mut(&id)
                .and_then(|t| t.life.handle_timeout(now));
            if let Some(transition) = transition {
                let reason = describe(&transition.cause);
                self.apply_transition(&id, transition, reason, now);
            }
        }
        self.reconcile(now);
        Ok(())
    }

    /// Checks the state, for tests and fuzzing: every lifecycle's invariants, no gone instance
    /// still tracked, the history within its limit.
    ///
    /// # Panics
    /// If one does not hold, which is a bug.
    pub fn check_invariants(&self) {
        for (id, t) in &self.instances {
            t.life.check_invariants();
            assert_ne!(t.life.state(), InstanceState::Gone, "{id} gone but tracked");
        }
        assert!(self.history.len() <= self.config.history_limit);
        assert!(self.desired <= self.config.max_desired);
    }

    fn check_desired(&self, desired: u32) -> Result<()> {
        if desired > self.config.max_desired {
            return Err(ha_core::Error::TooLarge {
                name: "desired replicas",
                value: u64::from(desired),
                max: u64::from(self.config.max_desired),
            }
            .into());
        }
        Ok(())
    }

    fn advance(&mut self, now: Instant) -> Result<()> {
        if now < self.latest {
            return Err(ha_core::Error::OutOfOrder {
                name: "executor event time",
                behind: self.latest.duration_since(now),
            }
            .into());
        }
        self.latest = now;
        Ok(())
    }

    fn event(
        &mut self,
        id: &str,
        now: Instant,
        f: impl FnOnce(&mut Lifecycle) -> Result<Option<Transition>>,
    ) -> Result<()> {
        self.advance(now)?;
        let key = self
            .instances
            .get_key_value(id)
            .map(|(k, _)| k.clone())
            .ok_or_else(|| Error::UnknownInstance(id.to_string()))?;
        let tracked = self
            .instances
            .get_mut(&key)
            .ok_or_else(|| Error::UnknownInstance(id.to_string()))?;
        let transition = f(&mut tracked.life).map_err(|e| match e {
            Error::InstanceEventRefused { event, state, .. } => Error::InstanceEventRefused {
                instance: format!("instance {id}"),
                event,
                state,
            },
            other => other,
        })?;
        if let Some(transition) = transition {
            let reason = describe(&transition.cause);
            self.apply_transition(&key, transition, reason, now);
        }
        self.reconcile(now);
        Ok(())
    }

    fn apply_transition(&mut self, id: &NodeId, t: Transition, reason: String, now: Instant) {
        for action in &t.actions {
            self.actions.push_back(Action::of(*action, id.clone()));
        }
        if t.to == InstanceState::Gone {
            self.instances.remove(id);
        }
        self.record(
            now,
            HistoryEvent::Transition {
                instance: id.clone(),
                from: t.from,
                to: t.to,
                actions: t.actions,
            },
            reason,
        );
    }

    fn record(&mut self, now: Instant, event: HistoryEvent, reason: String) {
        if self.history.len() >= self.config.history_limit {
            self.history.pop_front();
        }
        self.history.push_back(HistoryEntry {
            at: now.saturating_duration_since(self.started),
            event,
            reason,
        });
    }

    /// The order instances are retired in, first to last (see the module docs).
    #[allow(clippy::type_complexity)]
    fn victim_key<'a>(
        &self,
        id: &'a NodeId,
        t: &Tracked,
    ) -> (bool, u8, u8, u32, Reverse<Option<Instant>>, &'a NodeId) {
        let state_rank = match t.life.state() {
            InstanceState::Requested => 0,
            InstanceState::Starting => 1,
            InstanceState::Ready => 2,
            _ => 3,
        };
        let health_rank = if t.life.state() == InstanceState::Serving {
            match t.life.health() {
                Health::Unhealthy => 0,
                Health::Unknown => 1,
                Health::Degraded => 2,
                Health::Healthy => 3,
            }
        } else {
            0
        };
        (
            t.revision == self.revision,
            state_rank,
            health_rank,
            t.life.in_flight(),
            Reverse(t.life.available_since()),
            id,
        )
    }

    fn reconcile(&mut self, now: Instant) {
        let d = self.desired;
        let (surge, unavailable) = self.budgets();
        let min_available = d.saturating_sub(unavailable);
        let one_at_a_time = self.config.strategy == RolloutStrategy::OneAtATime;
        let mut available = self.available_replicas();
        let mut transitional = count(
            self.instances
                .values()
                .filter(|t| t.life.state() != InstanceState::Serving)
                .count(),
        );
        let mut current_live = count(
            self.instances
                .values()
                .filter(|t| t.life.state().is_live() && t.revision == self.revision)
                .count(),
        );
        let live = self.live_replicas();

        // Retire: current-revision instances above the desired count, and every old one.
        let mut excess = current_live.saturating_sub(d);
        let mut candidates: Vec<_> = self
            .instances
            .iter()
            .filter(|(_, t)| t.life.state().is_live())
            .map(|(id, t)| self.victim_key(id, t))
            .collect();
        candidates.sort();
        let victims: Vec<(NodeId, bool)> = {
            let mut chosen = Vec::new();
            for (current, _, _, _, _, id) in candidates {
                if current && excess == 0 {
                    break;
                }
                if one_at_a_time && transitional >= 1 {
                    break;
                }
                let Some(t) = self.instances.get(id) else {
                    continue;
                };
                let was_available = t.life.is_available();
                if was_available && available.saturating_sub(1) < min_available {
                    // Taking it out would leave too few available; a later, unavailable
                    // candidate may still go.
                    continue;
                }
                if was_available {
                    available -= 1;
                }
                if current {
                    excess -= 1;
                    current_live -= 1;
                }
                transitional += 1;
                chosen.push((id.clone(), current));
            }
            chosen
        };
        for (id, current) in victims {
            let Some(t) = self.instances.get_mut(&id) else {
                continue;
            };
            let (state, health, in_flight) = (t.life.state(), t.life.health(), t.life.in_flight());
            let Ok(Some(transition)) = t.life.retire(now) else {
                continue;
            };
            let reason = if current {
                format!(
                    "scale down: {live} live above {d} desired; retiring a {state} instance, health {health:?}, {in_flight} in flight"
                )
            } else {
                format!(
                    "rollout to revision {}: retiring a {state} instance of revision {}, health {health:?}, {in_flight} in flight",
                    self.revision, t.revision
                )
            };
            tracing::debug!(%id, live, desired = d, available, min_available, %state, "retiring instance");
            self.apply_transition(&id, transition, reason, now);
        }

        // Create: the current-revision instances missing, as far as the surge allows.
        let existing = self.existing_replicas();
        let missing = d.saturating_sub(current_live);
        let room = d.saturating_add(surge).saturating_sub(existing);
        let mut creates = missing.min(room);
        if one_at_a_time {
            creates = creates.min(u32::from(transitional == 0));
        }
        if creates > 0 {
            tracing::debug!(
                desired = d,
                current_live,
                existing,
                surge,
                creates,
                "creating instances"
            );
        }
        for _ in 0..creates {
            let Some(id) = self.mint_id() else {
                break;
            };
            let Ok(life) = Lifecycle::new(self.config.lifecycle, now) else {
                break;
            };
            let revision = self.revision;
            self.instances
                .insert(id.clone(), Tracked { life, revision });
            self.actions.push_back(Action::Create {
                id: id.clone(),
                revision,
            });
            self.record(
                now,
                HistoryEvent::Requested {
                    instance: id,
                    revision,
                },
                format!(
                    "{current_live} live of {d} desired at revision {revision}; {existing} exist, surge {surge} allows {room} more"
                ),
            );
        }
    }

    fn mint_id(&mut self) -> Option<NodeId> {
        loop {
            self.serial = self.serial.checked_add(1)?;
            let id = NodeId::new(format!("{}-{}", self.config.name_prefix, self.serial)).ok()?;
            if !self.instances.contains_key(&id) {
                return Some(id);
            }
        }
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn describe(cause: &Cause) -> String {
    match cause {
        Cause::Created => "provider created it".into(),
        Cause::HealthChecksPassed => "health checks passed".into(),
        Cause::Registered => "balancer registered it".into(),
        Cause::Retired => "retired".into(),
        Cause::DrainEnded(end) => format!("drain ended: {end:?}"),
        Cause::Destroyed => "provider destroyed it".into(),
        Cause::DestroyRetried => "destroy not confirmed in time; asked again".into(),
        Cause::Failed(failure) => format!("failed: {failure}; to be replaced"),
    }
}
