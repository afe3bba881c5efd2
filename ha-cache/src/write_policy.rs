//! What a [`TieredCache`](crate::TieredCache) does with L1 when it writes L2.

/// How a write reaches the L1 of a [`TieredCache`](crate::TieredCache). L2 is written first in
/// both; a failed L2 write always removes the key from L1 so L1 never holds a value L2 refused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum WritePolicy {
    /// Write L2, then store the value in this process's L1 too: the next local read hits.
    /// Other processes' L1s keep their copies until their TTL (pair with edge sync or short
    /// L1 TTLs when that matters).
    #[default]
    WriteThrough,
    /// Write L2, then remove the key from L1: the next local read loads the value back from L2.
    /// For values written far more often than read, or larger than L1 should hold.
    InvalidateOnWrite,
}
