//! # ha-cache — what is kept close
//!
//! This crate will keep hot data close to a service:
//!
//! - a concurrent bounded in-process cache with an eviction policy that beats LRU on real workloads,
//!   TTL and time-to-idle through an injected `Clock`, tags and glob-pattern invalidation, statistics,
//!   an eviction listener and single-flight loading;
//! - a two-level cache over an async backend trait (read-through, write-through or
//!   invalidate-on-write, negative caching);
//! - edge caches that stay in sync with a primary through a versioned invalidation log.
//!
//! It is empty for now: the issue "ha-cache: a concurrent cache that beats LRU, with tags, patterns,
//! TTL, tiers and edge sync" fills it.
