//! Reading a cache's contents: [`Cache::iter`] and the [`CacheEntry`] it yields.

use std::fmt;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use crate::{Cache, InsertOptions};

/// One live entry of a [`Cache`], as [`Cache::iter`] reports it: enough to store it again
/// elsewhere with the same remaining life and tags ([`CacheEntry::insert_options`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheEntry<K, V> {
    /// The key.
    pub key: K,
    /// The value.
    pub value: V,
    /// The life left when the entry was read: until the earlier of its time-to-live deadline
    /// and, with a time to idle, its last access plus that time. `None`: it never expires.
    pub ttl: Option<Duration>,
    /// The tags it was inserted with, sorted, without repeats.
    pub tags: Vec<Arc<str>>,
}

impl<K, V> CacheEntry<K, V> {
    /// The options that store this entry elsewhere with the same remaining life and tags.
    #[must_use]
    pub fn insert_options(&self) -> InsertOptions {
        InsertOptions {
            ttl: self.ttl,
            tags: self.tags.clone(),
        }
    }
}

/// An iterator over the live entries of a [`Cache`], made by [`Cache::iter`].
///
/// It reads one shard at a time: each shard is locked (shared) only while its live entries
/// are copied out, so writers are never held up for the whole walk. An entry written during
/// the walk to a shard already visited is not seen; each key is yielded at most once.
pub struct Iter<K, V> {
    cache: Cache<K, V>,
    next_shard: usize,
    buffer: std::vec::IntoIter<CacheEntry<K, V>>,
}

impl<K, V> fmt::Debug for Iter<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iter")
            .field("next_shard", &self.next_shard)
            .field("buffered", &self.buffer.len())
            .finish_non_exhaustive()
    }
}

impl<K, V> Iter<K, V> {
    pub(crate) fn new(cache: Cache<K, V>) -> Iter<K, V> {
        Iter {
            cache,
            next_shard: 0,
            buffer: Vec::new().into_iter(),
        }
    }
}

impl<K, V> Iterator for Iter<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    type Item = CacheEntry<K, V>;

    fn next(&mut self) -> Option<CacheEntry<K, V>> {
        loop {
            if let Some(entry) = self.buffer.next() {
                return Some(entry);
            }
            let entries = self.cache.shard_entries(self.next_shard)?;
            self.next_shard += 1;
            self.buffer = entries.into_iter();
        }
    }
}
