//! # ha-cache — what is kept close
//!
//! A fast concurrent in-process cache, [`Cache`], for keeping hot data close to a service. Like
//! every ha algorithm crate it does **no I/O**: it spawns nothing, never sleeps, and reads time
//! only through an injected [`Clock`](ha_core::Clock) ([`ManualClock`](ha_core::ManualClock) in
//! tests).
//!
//! | concern | items |
//! |---|---|
//! | the cache | [`Cache`], [`CacheBuilder`], [`CacheConfig`] |
//! | per-entry TTL and tags | [`InsertOptions`], [`Cache::invalidate_tag`] |
//! | reading the contents (to warm another cache) | [`Cache::iter`], [`CacheEntry`], [`Iter`] |
//! | glob invalidation | [`KeyPattern`], [`Cache::invalidate_pattern`] |
//! | single-flight loading | [`Cache::get_or_load`], [`Cache::get_or_load_async`], [`LoadError`] |
//! | observing | [`CacheStats`], [`RemovalCause`], [`CacheBuilder::eviction_listener`] |
//! | two levels: L1 over a shared L2 | [`TieredCache`], [`TieredBuilder`], [`TieredConfig`], [`WritePolicy`], [`Slot`], [`TierStats`], [`TierError`] |
//! | the L2 and the origin | [`Backend`], [`BackendError`], [`MemoryBackend`], `RedisBackend` (feature `redis`), [`Origin`], [`origin_fn`] |
//! | edge caches | [`Primary`], [`Edge`], [`InvalidationLog`], [`Changes`], [`SyncOutcome`] |
//!
//! ## The policy: adaptive W-TinyLFU, and why
//!
//! Eviction follows Caffeine's adaptive **W-TinyLFU** (Einziger, Friedman, Manes, "TinyLFU: A
//! Highly Efficient Cache Admission Policy", ACM ToS 2017; Einziger et al., "Adaptive Software
//! Cache Management", Middleware 2018). New entries enter a small LRU *window*; entries leaving
//! the window must win a duel against the main space's LRU victim on estimated frequency, read
//! from a 4-bit count-min sketch that is halved periodically so popularity ages. The main space
//! is a segmented LRU (probation / protected). A hill climber resizes the window from the
//! observed hit ratio: small for frequency-skewed traffic, large for recency-heavy traffic.
//!
//! Where we differ from Caffeine: a read does not move its entry on the lists at once (Caffeine
//! buffers reads and replays them); it sets a `referenced` bit and counts in the sketch, and the
//! move it earned — to its list's tail, or from probation to protected — is made when eviction
//! next reaches it (CLOCK's second chance). The sketch keeps a key's four counters in one
//! 64-byte block, four 64-bit words per expected entry (Caffeine has one: fewer collisions
//! are worth up to 2 points of hit ratio on our Zipf traces); the hill climber's
//! samples are at least 5,000 requests, and the climber, sketch and lists are per shard.
//!
//! Why this and not S3-FIFO or plain LRU: LRU admits every one-hit wonder and a single scan
//! flushes it; frequency-based admission keeps the hot set through scans and is near-optimal
//! for the skewed (Zipf-like) popularity of key-value traffic, and the adaptive window recovers
//! recency-heavy workloads (loops, bursts) where fixed-window TinyLFU and FIFO-family policies
//! each lose on some trace. It is the policy with the best published results on both the
//! key-value and the block (ARC, OLTP) traces the issue names.
//!
//! ## Concurrency
//!
//! The cache is split into shards (16 by default; fewer for small capacities), each a W-TinyLFU
//! core behind its own `parking_lot` read-write lock with its own sketch, window and
//! statistics, so there is no global lock. A read takes its shard's lock *shared*: a hit sets
//! the entry's referenced bit, appends the key's hash to the shard's 64-slot read buffer (a
//! plain store; a read lost to a racing reader or a full buffer only blurs an estimate) and
//! bumps one atomic hit counter. The next writer — or the reader that fills the buffer, if the
//! shard is free — counts the buffered reads in the sketch in one batch, as Caffeine's read
//! buffer does, so a hit never touches the sketch's random cache line. Writes, removal of an expired entry,
//! time-to-idle reads and eviction take it exclusive. The capacity is split evenly between the
//! shards. Keys are hashed with `ahash`, seeded from the config so runs replay. Listeners run
//! after the shard lock is released; expiry happens during ordinary operations (every write,
//! every read that meets an expired entry, and every 64th hit on a shard holding timed
//! entries), so the listener hears about expirations without any maintenance call.
//!
//! Memory per entry, in slabs indexed by a 4-byte slot: the *entry* a read touches (key hash,
//! key, value, read bit, region: 32 bytes for `u64 → u64`), 16 bytes of list links, weight and
//! slot generation, 5 bytes of hash table (a slot index and a control byte, at the table's
//! load factor) and 32 bytes of frequency sketch per entry of capacity; an entry that can expire
//! adds 24 bytes of deadlines (the whole shard does, once it holds one), and a tagged entry its
//! tags in a side map. `benches/cache_memory.rs` measures the total against quick_cache and
//! moka.
//!
//! ## Example
//!
//! ```
//! use std::time::Duration;
//! use ha_cache::{Cache, InsertOptions, RemovalCause};
//! use ha_core::ManualClock;
//!
//! let clock = ManualClock::new();
//! let cache: Cache<String, String> = Cache::builder(10_000)
//!     .time_to_live(Duration::from_secs(300))
//!     .clock(clock.clone())
//!     .eviction_listener(|key, _value, cause| {
//!         if cause == RemovalCause::Expired {
//!             // refresh `key` in the background, count it, ...
//!         }
//!     })
//!     .build()?;
//!
//! cache.insert("user:1".into(), "ada".into());
//! cache.insert_with("user:2".into(), "bob".into(), &InsertOptions::new().tag("team:red"))?;
//! assert_eq!(cache.get("user:1").as_deref(), Some("ada"));
//! assert_eq!(cache.invalidate_tag("team:red"), 1);
//! assert_eq!(cache.invalidate_pattern("user:*")?, 1); // user:1
//!
//! let loaded = cache.get_or_load("user:3".into(), |_| Ok::<_, std::io::Error>("cy".into()));
//! assert_eq!(loaded.unwrap(), "cy");
//! clock.advance(Duration::from_secs(301));
//! assert_eq!(cache.get("user:3"), None); // expired: never returned
//! cache.purge_expired(); // optional: operations expire due entries as they go
//! let stats = cache.stats();
//! assert_eq!((stats.hits, stats.misses, stats.expirations), (1, 2, 1));
//! # Ok::<(), ha_cache::Error>(())
//! ```

mod backend;
mod builder;
mod cache;
mod cache_entry;
mod config;
mod deferred;
mod edge;
mod error;
mod expiry;
mod frequency_sketch;
mod glob;
mod insert_options;
mod invalidation_log;
mod listener;
mod memory_backend;
mod origin;
mod policy;
mod primary;
#[cfg(feature = "redis")]
mod redis_backend;
mod shard;
mod single_flight;
mod slot;
mod stats;
mod tier_error;
mod tier_stats;
mod tiered;
mod tiered_builder;
mod tiered_config;
mod write_policy;

pub use backend::{Backend, BackendError, BackendOp, BoxError};
pub use builder::CacheBuilder;
pub use cache::Cache;
pub use cache_entry::{CacheEntry, Iter};
pub use config::{CacheConfig, MAX_SHARDS};
pub use edge::{Edge, Snapshot, SnapshotEntry, SyncOutcome};
pub use error::{Error, Result};
pub use glob::KeyPattern;
pub use insert_options::InsertOptions;
pub use invalidation_log::{Change, Changes, InvalidationLog, LogEntry};
pub use listener::RemovalCause;
pub use memory_backend::MemoryBackend;
pub use origin::{Origin, OriginFn, origin_fn};
pub use primary::Primary;
#[cfg(feature = "redis")]
pub use redis_backend::{RedisBackend, RedisConfig};
pub use single_flight::LoadError;
pub use slot::Slot;
pub use stats::CacheStats;
pub use tier_error::TierError;
pub use tier_stats::TierStats;
pub use tiered::TieredCache;
pub use tiered_builder::TieredBuilder;
pub use tiered_config::{MAX_TTL, TieredConfig};
pub use write_policy::WritePolicy;
