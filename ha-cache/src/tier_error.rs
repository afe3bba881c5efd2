//! Why a [`TieredCache`](crate::TieredCache) call has no answer.

use std::error::Error as StdError;
use std::sync::Arc;

use crate::BackendError;

/// Why a [`TieredCache`](crate::TieredCache) call failed. Cheap to clone: callers that shared
/// one load share its error.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum TierError {
    /// L2 failed and there is no origin to fall back to (reads), or L2 refused a write, delete
    /// or invalidation (L1 was cleared of the affected keys all the same).
    #[error(transparent)]
    Backend(Arc<BackendError>),
    /// The origin loader failed.
    #[error("the origin loader failed: {0}")]
    Origin(Arc<dyn StdError + Send + Sync + 'static>),
    /// The load panicked; nothing was cached.
    #[error("the tiered cache load panicked")]
    LoadPanicked,
    /// The L1 refused an input (a zero TTL in the insert options).
    #[error(transparent)]
    Cache(#[from] crate::Error),
}

impl TierError {
    /// The backend error, if L2 failed.
    #[must_use]
    pub fn backend(&self) -> Option<&BackendError> {
        match self {
            TierError::Backend(err) => Some(err),
            _ => None,
        }
    }
}

impl From<BackendError> for TierError {
    fn from(err: BackendError) -> Self {
        TierError::Backend(Arc::new(err))
    }
}
