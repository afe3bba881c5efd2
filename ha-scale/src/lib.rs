//! # ha-scale — how much to run
//!
//! ha-scale decides how much capacity a service needs, now and ahead, as pure logic: it does
//! **no I/O**, keeps no clock and spawns nothing. Metrics come in as values, with their
//! timestamps; decisions and reports come out as values.
//!
//! ## Autoscaling
//!
//! | concern | types |
//! |---|---|
//! | Kubernetes HPA (autoscaling/v2), rule for rule | [`Autoscaler`], [`AutoscalerConfig`], [`Observation`] → [`Decision`] with its [`Condition`]s and [`Limits`]; [`MetricSpec`] kinds resource / pods / object / external; [`Behavior`] policies and stabilization |
//! | the replica calculator for one metric | [`replica_calculator`], [`metric`] |
//! | step scaling with cooldowns, as operators write it | [`StepScaler`] over ha-core alert rules |
//! | queue and latency targets | [`QueueTarget`], [`latency_target_replicas`] |
//! | scaling ahead of a forecast by the warm-up | [`PredictiveScaler`] → [`PredictiveDecision`]: the larger of the reactive proposal and the forecast's need, or report only |
//!
//! ## Capacity forecasting
//!
//! | concern | types |
//! |---|---|
//! | the data | [`TimeSeries`] (strictly increasing timestamps, finite values, evenly spaced for the models) |
//! | models | [`ModelSpec`]: least-squares [`LinearTrend`](ModelSpec::LinearTrend), [`Holt`](ModelSpec::Holt) (damped or not), [`HoltWinters`](ModelSpec::HoltWinters) additive or multiplicative; fitted by minimising the one-step squared error |
//! | forecasts | [`FittedModel::forecast`] → [`Forecast`] with 80% / 95% [`Interval`]s |
//! | model choice | [`select_model`] by AICc or a held-back window ([`Criterion`]) |
//! | accuracy | [`smape`], [`seasonal_naive`] |
//! | per resource | [`forecast_resource`] → [`ResourceForecast`]: growth a year, seasonal peak factor, [`Exhaustion`] of the capacity less a 30% reserve |
//! | which runs out first | [`rank_bottlenecks`] → [`Bottleneck`]s |
//! | what it costs | [`project_cost`] over N months from a [`PriceModel`] |
//! | the cheapest capacity mix | [`plan_capacity_mix`]: [`InstanceType`]s reserved / spot / on-demand in a [`CapacityMix`] → [`MixPlan`] covering a peak with the reserve, with its monthly cost |
//! | what a policy would have done | [`replay`] any [`ReplayPolicy`] over a demand trace → [`ReplayReport`] (replicas, SLO misses, over-provisioning, cost; CSV) |
//!
//! The smoothing models are written here rather than wrapped: the `augurs-ets` crate fits only
//! non-seasonal ETS models (its seasonal components are unimplemented, grafana/augurs#27).
//!
//! ```
//! use ha_scale::{SelectionConfig, TimeSeries, select_model, smape, seasonal_naive};
//!
//! // Four weeks of hourly requests per second: a daily cycle over slow growth.
//! let values: Vec<f64> = (0..24 * 28)
//!     .map(|t| {
//!         let hour = (t % 24) as f64;
//!         200.0 + 0.1 * t as f64 + 80.0 * (std::f64::consts::TAU * hour / 24.0).sin()
//!     })
//!     .collect();
//! let (history, last_day) = values.split_at(24 * 27);
//! let series = TimeSeries::regular(0, 3600, history.to_vec())?;
//! let config = SelectionConfig { season_length: Some(24), ..SelectionConfig::default() };
//! let chosen = select_model(&series, &config)?;
//! let forecast = chosen.model.forecast(24)?;
//! let ours = smape(last_day, &forecast.means()).unwrap();
//! let naive = smape(last_day, &seasonal_naive(history, 24, 24).unwrap()).unwrap();
//! assert!(ours < naive, "{ours} vs {naive}");
//! # Ok::<(), ha_scale::Error>(())
//! ```
//!
//! ## From decision to action
//!
//! | concern | types |
//! |---|---|
//! | one instance's life: requested → starting → ready → serving → draining → terminating → gone, or failed; a timeout per step | [`Lifecycle`], [`LifecycleConfig`], [`InstanceState`] → [`Transition`]s with [`LifecycleAction`]s |
//! | carrying out a replica count or a new revision | [`Executor`] queues [`Action`]s (`Create`, `Register`, `Drain`, `Deregister`, `Destroy`) at a [`RolloutStrategy`]'s pace (Kubernetes max surge / max unavailable as a [`Budget`], or one at a time), retires unhealthy then least-loaded instances first, drains as ha-balance does, keeps a [`HistoryEntry`] per step with its reason |
//! | warm-up | [`Executor::available_replicas`] and [`Executor::observation`]: a new instance counts as capacity only once it serves, so an [`Autoscaler`] fed them does not overshoot |
//! | the application's provider (feature `provider`) | `InstanceProvider`, an async trait, and `execute`, which runs one action through it into an [`ActionResult`] |
//! | recovering a failed component | [`Recovery`]: detect (N re-checks), isolate, replace, restore, validate, resume, each timed → [`RecoveryReport`] against the RTO and RPO; a [`RecoveryFailure`] says why and what next |
//! | what a failure does | [`DependencyGraph`] of services and data stores, edges with a [`Criticality`] and a [`Fallback`]; [`DependencyGraph::impact`] → [`FailureImpact`]: affected nodes, [`ImpactLevel`] per node, fallbacks in effect, overall health by ha-core's aggregation |
//! | database tier | [`DatabaseAdvisor`]: read replicas (reads:writes over 4:1, lag under 100 ms, at most 3), scale up (storage, query time, pool use), pool sizing by Little's law against `cores × 2 + spindles` |
//! | cache tier | [`CacheAdvisor`]: single node → cluster past 5 GiB, eviction and hit-ratio alerts, [`CacheAdvisor::size_cluster`] (shards, replicas, ≤ 30 GiB a node) |
//! | what if load grows k× | [`WhatIf`] over [`Tier`]s of [`ResourceModel`]s (linear or per-resource exponents) → [`WhatIfReport`]: utilization per tier and resource, the limits crossed earliest first with their [`Remedy`]s |
//!
//! ```
//! use std::time::{Duration, Instant};
//! use ha_core::NodeId;
//! use ha_scale::{Action, Executor, ExecutorConfig, InstanceState};
//!
//! let t0 = Instant::now();
//! let serving = ["web-1", "web-2"].map(NodeId::new).into_iter().collect::<Result<Vec<_>, _>>()?;
//! let mut exec = Executor::adopting(ExecutorConfig::default(), serving, t0)?;
//! exec.on_in_flight("web-2", 1, t0)?;
//! exec.set_desired(1, "night: load fell", t0)?;
//! // The least-loaded instance drains; it is destroyed once its last request ends.
//! assert_eq!(exec.poll_action(), Some(Action::Drain { id: NodeId::new("web-1")? }));
//! exec.on_in_flight("web-1", 0, t0 + Duration::from_secs(1))?;
//! assert_eq!(exec.poll_action(), Some(Action::Deregister { id: NodeId::new("web-1")? }));
//! assert_eq!(exec.poll_action(), Some(Action::Destroy { id: NodeId::new("web-1")? }));
//! exec.on_destroyed("web-1", t0 + Duration::from_secs(20))?;
//! assert_eq!(exec.available_replicas(), 1);
//! assert_eq!(exec.instance("web-2").map(|l| l.state()), Some(InstanceState::Serving));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod accuracy;
mod autoscaler;
mod behavior;
mod bottleneck;
mod cache_advisor;
mod capacity_mix;
mod capacity_resource;
mod condition;
mod cost;
mod database_advisor;
mod dependency_graph;
mod error;
mod executor;
mod failure_impact;
mod forecast;
mod holt;
mod holt_winters;
mod interval;
mod lifecycle;
mod linear;
pub mod metric;
mod model;
mod model_selection;
mod optimizer;
mod pod;
mod predictive;
#[cfg(feature = "provider")]
mod provider;
mod queue_target;
mod recovery;
mod replay;
pub mod replica_calculator;
mod resource_forecast;
mod scale_event;
mod series;
mod smoothing;
mod stabilization;
mod step_scaling;
mod tolerance;
mod what_if;

pub use autoscaler::{
    Autoscaler, AutoscalerConfig, Decision, Limits, MetricStatus, Observation,
    SCALE_UP_LIMIT_FACTOR, SCALE_UP_LIMIT_MINIMUM,
};
pub use behavior::{
    Behavior, MAX_POLICY_PERIOD, MAX_STABILIZATION_WINDOW, PolicyKind, ScalingPolicy, ScalingRules,
    SelectPolicy,
};
pub use condition::{Condition, ConditionReason, ConditionType};
pub use error::{Error, Result};
pub use metric::{MetricSpec, MetricValue, PodSample, Resource, ResourceTarget, ValueTarget};
pub use pod::{Pod, PodPhase, ReadyCondition};
pub use predictive::{
    PlanFor, PredictiveConfig, PredictiveDecision, PredictiveMode, PredictiveReason,
    PredictiveScaler, ReplicaBound,
};
pub use queue_target::{QueueTarget, latency_target_replicas};
pub use replica_calculator::{CurrentMetric, MetricProposal};
pub use scale_event::{ScaleEvent, ScaleEvents};
pub use stabilization::{Recommendation, Recommendations};
pub use step_scaling::{
    StepDecision, StepReason, StepRule, StepScaler, StepScalingConfig, step_metric,
};
pub use tolerance::Tolerance;

pub use accuracy::{seasonal_naive, smape};
pub use bottleneck::{Bottleneck, rank_bottlenecks};
pub use capacity_mix::{
    CapacityMix, HOURS_PER_MONTH, InstanceKind, InstanceType, KindPlan, MAX_INSTANCE_TYPES,
    MAX_INSTANCES_PER_TYPE, MAX_SEARCH_NODES, MixConfig, MixPlan, PlanLine, plan_capacity_mix,
};
pub use capacity_resource::CapacityResource;
pub use cost::{CostProjection, MonthCost, Price, PriceModel, ResourceCost, project_cost};
pub use forecast::{Forecast, ForecastPoint};
pub use holt_winters::Seasonality;
pub use interval::{Interval, Z_80, Z_95};
pub use model::{DEFAULT_SEED, FittedModel, MAX_HORIZON, MAX_SEASON_LENGTH, ModelSpec, Parameters};
pub use model_selection::{CandidateScore, Criterion, Selection, SelectionConfig, select_model};
pub use replay::{
    LoadObservation, ReplayConfig, ReplayPolicy, ReplayReport, ReplayStep, TargetUtilization,
    replay,
};
pub use resource_forecast::{
    CapacityConfig, Exhaustion, ResourceForecast, ResourceUsage, SECONDS_PER_YEAR,
    forecast_resource, forecast_resources,
};
pub use series::TimeSeries;

pub use executor::{
    Action, ActionResult, Budget, Executor, ExecutorConfig, HistoryEntry, HistoryEvent,
    InstanceRef, RolloutStrategy,
};
pub use lifecycle::{
    Cause, FailureCause, InstanceState, Lifecycle, LifecycleAction, LifecycleConfig, Transition,
};
#[cfg(feature = "provider")]
pub use provider::{InstanceProvider, execute};
pub use recovery::{
    ConsistencyCheck, Recovery, RecoveryAction, RecoveryConfig, RecoveryFailure, RecoveryOutcome,
    RecoveryReport, RecoveryStep, RestorePoint, RestoreSource, StepTiming,
};

pub use cache_advisor::{
    CacheAdvice, CacheAdvisor, CacheAdvisorConfig, CacheAlert, CacheObservation, CacheTarget,
    CacheTopology, ClusterBound, ClusterPlan, GIB, MAX_CACHE_SHARDS, MAX_REPLICAS_PER_SHARD,
};
pub use database_advisor::{
    DatabaseAdvice, DatabaseAdvisor, DatabaseAdvisorConfig, DatabaseObservation, MAX_RATE,
    MAX_REPLICAS_PER_PRIMARY, PoolSizing, PoolVerdict, ReplicaAdvice, ScaleUpReason,
};
pub use dependency_graph::{
    Criticality, CyclePolicy, Dependency, DependencyGraph, Fallback, GraphConfig, GraphNode,
    MAX_GRAPH_NODES, NodeKind,
};
pub use failure_impact::{FailureImpact, FallbackInEffect, ImpactLevel, NodeImpact};
pub use what_if::{
    Crossing, DEFAULT_LIMIT_RATIO, MAX_EXPONENT, Remedy, ResourceModel, ResourceProjection, Tier,
    TierKind, TierProjection, TierResource, WhatIf, WhatIfReport, remedies,
};
