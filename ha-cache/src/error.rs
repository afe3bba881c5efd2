//! The one error type of ha-cache.

/// What went wrong when a cache was built or asked something it cannot do.
///
/// Every setting is checked once, when the cache is built; afterwards only inputs that can be
/// wrong (a glob pattern, an entry heavier than the cache can hold) return an error.
///
/// ```
/// use ha_cache::{Cache, Error};
///
/// let err = Cache::<String, u32>::builder(0).build().unwrap_err();
/// assert!(matches!(err, Error::Core(ha_core::Error::Zero { .. })));
/// assert_eq!(err.to_string(), "max_capacity must be greater than zero");
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A shared-vocabulary error from ha-core (a zero capacity, a zero duration, a count too large).
    #[error(transparent)]
    Core(#[from] ha_core::Error),
    /// The shard count is not a power of two.
    #[error("shards must be a power of two, got {0}")]
    ShardsNotPowerOfTwo(usize),
    /// An entry weighs more than one shard of the cache can hold; it was not stored.
    #[error("an entry of weight {weight} exceeds the largest storable weight {max}")]
    WeightOverCapacity {
        /// The entry's weight.
        weight: u64,
        /// The largest weight one entry may have (the capacity of one shard).
        max: u64,
    },
    /// A glob pattern that does not parse.
    #[error("invalid glob pattern {pattern:?} at position {position}: {reason}")]
    InvalidPattern {
        /// The pattern given.
        pattern: String,
        /// The byte position of the fault.
        position: usize,
        /// What is wrong there.
        reason: &'static str,
    },
    /// An edge was given changes that skip versions it has not applied.
    #[error("edge expected change version {expected}, got {found}")]
    VersionGap {
        /// The version the edge needed next.
        expected: u64,
        /// The version it was given.
        found: u64,
    },
    /// A Redis backend's key and tag prefixes where one begins the other, so cached keys and
    /// tag bookkeeping could mix.
    #[error(
        "key_prefix {key_prefix:?} and tag_prefix {tag_prefix:?} overlap: neither may begin the other"
    )]
    OverlappingPrefixes {
        /// The key prefix.
        key_prefix: String,
        /// The tag prefix.
        tag_prefix: String,
    },
    /// A snapshot older than the edge's current version.
    #[error("snapshot at version {snapshot} is older than the edge at version {edge}")]
    StaleSnapshot {
        /// The snapshot's version.
        snapshot: u64,
        /// The edge's version.
        edge: u64,
    },
}

/// `Result` with ha-cache's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
