//! What a [`TieredCache`](crate::TieredCache) keeps in its L1: a value, or the memory that the
//! key is absent.

use std::time::Instant;

/// One L1 entry of a [`TieredCache`](crate::TieredCache): a value, or a negative entry saying
/// the key was absent from L2 and the origin, trusted until `until`.
///
/// The deadline is kept in the slot itself (not only as the L1 entry's TTL) so a negative entry
/// lives for the negative TTL whatever the L1 default TTL is: the tiered cache treats an absent
/// slot past its deadline as a miss and removes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot<V> {
    /// The key's value.
    Present(V),
    /// The key was absent; believe it until this instant.
    Absent {
        /// When the negative entry stops counting.
        until: Instant,
    },
}

impl<V> Slot<V> {
    /// The value, if present.
    #[must_use]
    pub fn into_value(self) -> Option<V> {
        match self {
            Slot::Present(value) => Some(value),
            Slot::Absent { .. } => None,
        }
    }
}
