//! # ha-balance — where each request goes
//!
//! This crate will make the decisions a client-side or proxy load balancer makes for every request:
//!
//! - pickers behind one trait: round robin, smooth weighted round robin, random, least connections,
//!   power of two choices (least loaded and peak-EWMA), consistent hash and Maglev, slow start;
//! - active health checks and passive outlier detection with Envoy's semantics;
//! - circuit breakers, GCRA rate limits keyed per client, concurrency limits;
//! - session affinity, connection draining and region routing, with a `tower` integration.
//!
//! It is empty for now: the issue "ha-balance: where each request goes — balancing, health, outlier
//! ejection, breakers, limits, affinity" fills it.
