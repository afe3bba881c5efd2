//! The source of truth behind a [`TieredCache`](crate::TieredCache): what a read loads when
//! neither level holds the key.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;

use async_trait::async_trait;

use crate::BoxError;

/// Loads a key from the source of truth (a database, a service) on a miss in both levels.
/// `Ok(None)` means the key does not exist there (negative caching may remember that).
#[async_trait]
pub trait Origin<K, V>: Send + Sync + fmt::Debug
where
    K: Send + Sync + 'static,
{
    /// The key's value in the source of truth, `None` if it has none.
    async fn load(&self, key: &K) -> Result<Option<V>, BoxError>;
}

/// An [`Origin`] from an async closure, made by [`origin_fn`].
pub struct OriginFn<F, K> {
    load: F,
    _key: PhantomData<fn(K)>,
}

impl<F, K> fmt::Debug for OriginFn<F, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OriginFn").finish_non_exhaustive()
    }
}

/// An [`Origin`] that calls `load` with an owned key.
///
/// ```
/// use ha_cache::{BoxError, Origin, origin_fn};
///
/// let origin = origin_fn(|id: u32| async move { Ok::<_, BoxError>((id < 10).then(|| format!("row {id}"))) });
/// let row = futures::executor::block_on(origin.load(&3))?;
/// assert_eq!(row.as_deref(), Some("row 3"));
/// # Ok::<(), BoxError>(())
/// ```
pub fn origin_fn<F, K, V, Fut>(load: F) -> OriginFn<F, K>
where
    F: Fn(K) -> Fut + Send + Sync,
    Fut: Future<Output = Result<Option<V>, BoxError>> + Send,
{
    OriginFn {
        load,
        _key: PhantomData,
    }
}

#[async_trait]
impl<F, K, V, Fut> Origin<K, V> for OriginFn<F, K>
where
    F: Fn(K) -> Fut + Send + Sync,
    Fut: Future<Output = Result<Option<V>, BoxError>> + Send,
    K: Clone + Send + Sync + 'static,
{
    async fn load(&self, key: &K) -> Result<Option<V>, BoxError> {
        (self.load)(key.clone()).await
    }
}
