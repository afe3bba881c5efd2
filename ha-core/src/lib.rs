//! # ha-core — the shared vocabulary of ha
//!
//! Every other ha crate builds on the types and tools here.

mod clock;
mod error;
mod health;
mod node;
mod severity;
pub mod slo;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{Error, Result};
pub use health::Health;
pub use node::{Node, NodeId};
pub use severity::Severity;
pub use slo::{BurnRateAlert, BurnRatePolicy, BurnRateRule, ErrorBudget, EventCounts};
