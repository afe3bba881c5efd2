//! Per-entry settings of an insert: its own time to live and its tags.

use std::sync::Arc;
use std::time::Duration;

/// How one entry is stored: a time to live of its own (instead of the cache's default) and tags
/// that [`Cache::invalidate_tag`](crate::Cache::invalidate_tag) can remove it by.
///
/// ```
/// use std::time::Duration;
/// use ha_cache::{Cache, InsertOptions};
///
/// let cache: Cache<String, u32> = Cache::builder(100).build()?;
/// let options = InsertOptions::new().ttl(Duration::from_secs(30)).tag("user:7");
/// cache.insert_with("user:7:name".to_string(), 1, &options)?;
/// assert_eq!(cache.invalidate_tag("user:7"), 1);
/// # Ok::<(), ha_cache::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InsertOptions {
    /// The entry's time to live, or `None` for the cache's default. Zero is refused at insert.
    pub ttl: Option<Duration>,
    /// Tags the entry can be invalidated by.
    pub tags: Vec<Arc<str>>,
}

impl InsertOptions {
    /// No per-entry TTL, no tags.
    #[must_use]
    pub fn new() -> InsertOptions {
        InsertOptions::default()
    }

    /// Sets the entry's time to live.
    #[must_use]
    pub fn ttl(mut self, ttl: Duration) -> InsertOptions {
        self.ttl = Some(ttl);
        self
    }

    /// Adds a tag.
    #[must_use]
    pub fn tag(mut self, tag: impl Into<Arc<str>>) -> InsertOptions {
        self.tags.push(tag.into());
        self
    }
}
