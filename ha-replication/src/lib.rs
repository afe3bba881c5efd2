//! # ha-replication — keeping copies right
//!
//! This crate will hold the logic that keeps copies of data right while nodes fail, as sans-IO state
//! machines (replies, timeouts and time come in; messages and decisions go out):
//!
//! - quorum reads and writes with N / R / W and consistency levels, read repair, strong (ABD) and
//!   eventual (sloppy quorum, hinted handoff, anti-entropy) modes;
//! - version vectors, dotted version vectors, hybrid logical clocks and siblings;
//! - replica lag tracking, the phi accrual failure detector, failover choice with fencing epochs,
//!   session guarantees, and a trait for an existing leader-election backend.
//!
//! It is empty for now: the issue "ha-replication: quorums, versions, lag tracking, failure detection
//! and failover — proven under faults" fills it.
