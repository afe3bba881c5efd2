//! The settings of a [`TieredCache`](crate::TieredCache).

use std::time::Duration;

use crate::{Result, WritePolicy};

/// The longest `l2_ttl` or `negative_ttl` accepted: 100 years, so every deadline fits an `Instant`.
pub const MAX_TTL: Duration = Duration::from_secs(100 * 365 * 86_400);

/// How a [`TieredCache`](crate::TieredCache) writes and what it remembers. The L1's own
/// settings (capacity, L1 TTL, weigher) are those of its [`CacheBuilder`](crate::CacheBuilder).
///
/// ```
/// use std::time::Duration;
/// use ha_cache::{TieredConfig, WritePolicy};
///
/// let config = TieredConfig {
///     write_policy: WritePolicy::InvalidateOnWrite,
///     l2_ttl: Some(Duration::from_secs(3600)),
///     negative_ttl: Some(Duration::from_secs(5)),
/// };
/// assert!(config.validate().is_ok());
/// let zero = TieredConfig { negative_ttl: Some(Duration::ZERO), ..TieredConfig::default() };
/// assert_eq!(zero.validate().unwrap_err().to_string(), "negative_ttl must be greater than zero");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TieredConfig {
    /// Whether a write stores the value in L1 or removes it there. Default
    /// [`WritePolicy::WriteThrough`].
    pub write_policy: WritePolicy,
    /// The TTL given to L2 entries written without one of their own, `None` for none (the
    /// store's own eviction). Default `None`.
    pub l2_ttl: Option<Duration>,
    /// How long a key found absent (in L2, and in the origin when there is one) is remembered
    /// as absent in L1, `None` to not cache absence. The L1 TTL still bounds it. Default `None`.
    pub negative_ttl: Option<Duration>,
}

impl TieredConfig {
    /// Refuses a zero `l2_ttl` or `negative_ttl` (use `None` for "none"), or one above
    /// [`MAX_TTL`].
    pub fn validate(&self) -> Result<()> {
        for (name, ttl) in [("l2_ttl", self.l2_ttl), ("negative_ttl", self.negative_ttl)] {
            if ttl.is_some_and(|ttl| ttl.is_zero()) {
                return Err(ha_core::Error::Zero { name }.into());
            }
            if let Some(ttl) = ttl.filter(|&ttl| ttl > MAX_TTL) {
                return Err(ha_core::Error::TooLarge {
                    name,
                    value: ttl.as_secs(),
                    max: MAX_TTL.as_secs(),
                }
                .into());
            }
        }
        Ok(())
    }
}
