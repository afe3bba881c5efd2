//! Why an entry left the cache, and the listener told about it.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

/// Why an entry left the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum RemovalCause {
    /// Evicted by the policy to stay within the capacity (or too heavy to be stored at all).
    Size,
    /// Its time to live or time to idle ran out.
    Expired,
    /// Removed by the user: `remove`, `invalidate_tag`, `invalidate_pattern`, `clear`.
    Explicit,
    /// Its value was overwritten by an `insert` of the same key.
    Replaced,
}

impl RemovalCause {
    /// Whether the policy or the clock removed the entry, rather than the user.
    #[must_use]
    pub fn was_evicted(self) -> bool {
        matches!(self, RemovalCause::Size | RemovalCause::Expired)
    }
}

impl fmt::Display for RemovalCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RemovalCause::Size => "size",
            RemovalCause::Expired => "expired",
            RemovalCause::Explicit => "explicit",
            RemovalCause::Replaced => "replaced",
        })
    }
}

/// The eviction listener: called with the key, the value and the cause of every removal.
pub(crate) type Listener<K, V> = Arc<dyn Fn(K, V, RemovalCause) + Send + Sync>;

/// Entries removed under a shard lock, handed to the listener once the lock is released.
pub(crate) type Removed<K, V> = Vec<(K, V, RemovalCause)>;

/// Calls `listener` for each removed entry, outside every lock. A panicking listener is
/// contained: the panic is logged and the remaining entries are still reported.
pub(crate) fn notify<K, V>(listener: Option<&Listener<K, V>>, removed: Removed<K, V>) {
    let Some(listener) = listener else {
        return;
    };
    for (key, value, cause) in removed {
        if catch_unwind(AssertUnwindSafe(|| listener(key, value, cause))).is_err() {
            tracing::warn!(%cause, "eviction listener panicked; the cache is unaffected");
        }
    }
}
