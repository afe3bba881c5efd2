//! # ha-scale — how much to run
//!
//! This crate will decide how much capacity a service needs, now and ahead:
//!
//! - an autoscaler with Kubernetes HPA semantics, step scaling, queue and latency targets, predictive
//!   and cost-aware scaling;
//! - capacity forecasting (linear trend, Holt, Holt-Winters) with prediction intervals, time to
//!   exhaustion per resource and bottleneck ranking;
//! - replay of a policy over a load trace, and the steps that carry a decision out safely.
//!
//! It is empty for now: the issues "ha-scale: autoscaling decisions with Kubernetes HPA semantics,
//! predictive scaling…" and "From decision to action: scaling execution, recovery runbooks, failure
//! impact and tier advisors" fill it.
