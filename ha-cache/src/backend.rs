//! The L2 of a [`TieredCache`](crate::TieredCache): an async key-value store shared by many
//! processes (Redis, Memcached, a database table), behind one small trait.
//!
//! The trait is the one place where ha-cache meets I/O: the crate calls it, the application (or
//! the `redis` feature's [`RedisBackend`](crate::RedisBackend)) implements it. Every method may
//! fail with a [`BackendError`] that keeps the store's own error as its source.

use std::error::Error as StdError;
use std::fmt;

use async_trait::async_trait;

use crate::InsertOptions;

/// The boxed error of a store, kept as the source of a [`BackendError`].
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Which backend operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum BackendOp {
    /// [`Backend::get`] or [`Backend::get_many`].
    Get,
    /// [`Backend::set`] or [`Backend::set_many`].
    Set,
    /// [`Backend::delete`].
    Delete,
    /// [`Backend::invalidate_pattern`].
    InvalidatePattern,
    /// [`Backend::invalidate_tag`].
    InvalidateTag,
    /// Encoding a key or value for the store, or decoding one from it.
    Codec,
    /// Connecting to the store.
    Connect,
    /// Checking the store's settings.
    Config,
}

impl fmt::Display for BackendOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BackendOp::Get => "get",
            BackendOp::Set => "set",
            BackendOp::Delete => "delete",
            BackendOp::InvalidatePattern => "pattern invalidation",
            BackendOp::InvalidateTag => "tag invalidation",
            BackendOp::Codec => "codec",
            BackendOp::Connect => "connect",
            BackendOp::Config => "config",
        })
    }
}

/// A backend operation that failed, with the store's own error as its
/// [`source`](std::error::Error::source).
///
/// ```
/// use std::error::Error as _;
/// use ha_cache::{BackendError, BackendOp};
///
/// let err = BackendError::new(BackendOp::Get, std::io::Error::other("connection reset"));
/// assert_eq!(err.op(), BackendOp::Get);
/// assert_eq!(err.to_string(), "l2 backend get failed: connection reset");
/// assert!(err.source().is_some());
/// ```
#[derive(Debug, thiserror::Error)]
#[error("l2 backend {op} failed: {source}")]
pub struct BackendError {
    op: BackendOp,
    #[source]
    source: BoxError,
}

impl BackendError {
    /// A failure of `op` caused by `source`.
    pub fn new(op: BackendOp, source: impl Into<BoxError>) -> BackendError {
        BackendError {
            op,
            source: source.into(),
        }
    }

    /// The operation that failed.
    #[must_use]
    pub fn op(&self) -> BackendOp {
        self.op
    }

    /// The store's own error.
    #[must_use]
    pub fn into_source(self) -> BoxError {
        self.source
    }
}

/// An async key-value store used as the L2 of a [`TieredCache`](crate::TieredCache).
///
/// `ttl` is the entry's time to live in the store (`None`: kept until deleted or evicted by the
/// store). Tags in [`InsertOptions`] are stored as membership that
/// [`invalidate_tag`](Backend::invalidate_tag) can find; a store that cannot keep them returns
/// an error from `invalidate_tag` rather than removing nothing silently. `get_many` and
/// `set_many` have default forms that loop over `get` and `set`; stores with a batch command
/// (MGET, pipelines) override them.
///
/// Implementations must be safe to call concurrently; the tiered cache holds no lock while a
/// backend call runs.
#[async_trait]
pub trait Backend<K, V>: Send + Sync + fmt::Debug
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    /// The value stored under `key`, or `None`.
    async fn get(&self, key: &K) -> Result<Option<V>, BackendError>;

    /// Stores `value` under `key` for `options.ttl` (none: no expiry) with `options.tags`.
    async fn set(&self, key: &K, value: &V, options: &InsertOptions) -> Result<(), BackendError>;

    /// Stores `value` under `key` only if the key holds nothing; whether it stored. The tiered
    /// cache fills L2 after an origin load with this, so a fill never overwrites a concurrent
    /// write. The default form (a `get`, then a `set`) is not atomic; stores with a
    /// conditional write (Redis `SET .. NX`) override it.
    async fn set_if_absent(
        &self,
        key: &K,
        value: &V,
        options: &InsertOptions,
    ) -> Result<bool, BackendError> {
        if self.get(key).await?.is_some() {
            return Ok(false);
        }
        self.set(key, value, options).await?;
        Ok(true)
    }

    /// Removes `key`; whether it was present (a store that cannot tell answers `true`).
    async fn delete(&self, key: &K) -> Result<bool, BackendError>;

    /// The values of `keys`, in order.
    async fn get_many(&self, keys: &[K]) -> Result<Vec<Option<V>>, BackendError> {
        let mut values = Vec::with_capacity(keys.len());
        for key in keys {
            values.push(self.get(key).await?);
        }
        Ok(values)
    }

    /// Stores every pair with the same `options`.
    async fn set_many(
        &self,
        entries: &[(K, V)],
        options: &InsertOptions,
    ) -> Result<(), BackendError> {
        for (key, value) in entries {
            self.set(key, value, options).await?;
        }
        Ok(())
    }

    /// Removes every key matching the glob `pattern`, returning how many. The pattern is in
    /// ha-cache's dialect, [`KeyPattern`](crate::KeyPattern)'s (Redis's `MATCH`), matched
    /// against the key's bytes as [`KeyPattern::matches_bytes`](crate::KeyPattern::matches_bytes)
    /// does, so every level of a tiered cache removes the same keys.
    async fn invalidate_pattern(&self, pattern: &str) -> Result<u64, BackendError>;

    /// Removes every key stored with `tag`, returning how many.
    async fn invalidate_tag(&self, tag: &str) -> Result<u64, BackendError>;
}

/// A shared backend is a backend: several tiered caches (or a cache and the application) can
/// hold one `Arc` to the same store, or an `Arc<dyn Backend<K, V>>` to pick the store at run
/// time.
#[async_trait]
impl<K, V, B> Backend<K, V> for std::sync::Arc<B>
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
    B: Backend<K, V> + ?Sized,
{
    async fn get(&self, key: &K) -> Result<Option<V>, BackendError> {
        (**self).get(key).await
    }

    async fn set(&self, key: &K, value: &V, options: &InsertOptions) -> Result<(), BackendError> {
        (**self).set(key, value, options).await
    }

    async fn set_if_absent(
        &self,
        key: &K,
        value: &V,
        options: &InsertOptions,
    ) -> Result<bool, BackendError> {
        (**self).set_if_absent(key, value, options).await
    }

    async fn delete(&self, key: &K) -> Result<bool, BackendError> {
        (**self).delete(key).await
    }

    async fn get_many(&self, keys: &[K]) -> Result<Vec<Option<V>>, BackendError> {
        (**self).get_many(keys).await
    }

    async fn set_many(
        &self,
        entries: &[(K, V)],
        options: &InsertOptions,
    ) -> Result<(), BackendError> {
        (**self).set_many(entries, options).await
    }

    async fn invalidate_pattern(&self, pattern: &str) -> Result<u64, BackendError> {
        (**self).invalidate_pattern(pattern).await
    }

    async fn invalidate_tag(&self, tag: &str) -> Result<u64, BackendError> {
        (**self).invalidate_tag(tag).await
    }
}
