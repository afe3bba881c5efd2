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

/// Entries removed under a shard lock, handed to the listener once the lock is released (and
/// dropped there without one, so a value's destructor never runs under a lock). The first
/// entry is held inline: the usual write removes at most one (its eviction or the value it
/// replaced), and then costs no allocation.
pub(crate) struct Removed<K, V> {
    first: Option<(K, V, RemovalCause)>,
    rest: Vec<(K, V, RemovalCause)>,
}

impl<K, V> Removed<K, V> {
    pub(crate) fn new() -> Removed<K, V> {
        Removed {
            first: None,
            rest: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, key: K, value: V, cause: RemovalCause) {
        if self.first.is_none() {
            self.first = Some((key, value, cause));
        } else {
            self.rest.push((key, value, cause));
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    /// How many entries were removed.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest.len()
    }
}

impl<K, V> IntoIterator for Removed<K, V> {
    type Item = (K, V, RemovalCause);
    type IntoIter = std::iter::Chain<
        std::option::IntoIter<(K, V, RemovalCause)>,
        std::vec::IntoIter<(K, V, RemovalCause)>,
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.first.into_iter().chain(self.rest)
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removed_entries_come_back_in_the_order_pushed() {
        let mut removed = Removed::new();
        assert!(removed.is_empty());
        removed.push(1, 'a', RemovalCause::Size);
        removed.push(2, 'b', RemovalCause::Replaced);
        removed.push(3, 'c', RemovalCause::Expired);
        assert_eq!(removed.len(), 3);
        let keys: Vec<i32> = removed.into_iter().map(|(k, _, _)| k).collect();
        assert_eq!(keys, vec![1, 2, 3]);
    }
}
