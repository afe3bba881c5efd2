//! # ha-core — the shared vocabulary of ha
//!
//! Every other ha crate builds on the types and tools here.

mod aggregation;
mod alert;
mod clock;
mod error;
mod health;
mod health_check;
mod node;
mod severity;
mod stats;

pub use aggregation::{AggregationConfig, Component, HealthAggregator, HealthSummary};
pub use alert::{
    Alert, AlertKind, AlertRule, AlertSet, AlertState, AlertTransition, Comparison, metric,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{Error, Result};
pub use health::Health;
pub use health_check::{
    CheckOutcome, CheckVerdict, HealthCheck, HealthCheckConfig, HealthTransition,
};
pub use node::{Node, NodeId};
pub use severity::Severity;
pub use stats::{
    Ewma, QuantileSketch, QuantileSketchConfig, Quantiles, SlidingWindow, SlidingWindowConfig,
};
