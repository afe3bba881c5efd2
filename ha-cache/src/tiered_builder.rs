//! Builds a [`TieredCache`].

use std::fmt;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use ha_core::{Clock, SystemClock};

use crate::backend::Backend;
use crate::origin::Origin;
use crate::{CacheBuilder, Result, Slot, TieredCache, TieredConfig, WritePolicy};

/// Builds a [`TieredCache`] from an L1 [`CacheBuilder`], an L2 [`Backend`], and optionally an
/// [`Origin`], a clock and the [`TieredConfig`] settings. See [`TieredCache`] for an example.
pub struct TieredBuilder<K, V, B> {
    l1: CacheBuilder<K, Slot<V>>,
    l2: B,
    origin: Option<Box<dyn Origin<K, V>>>,
    config: TieredConfig,
    clock: Arc<dyn Clock>,
}

impl<K, V, B: fmt::Debug> fmt::Debug for TieredBuilder<K, V, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TieredBuilder")
            .field("l1", &self.l1)
            .field("l2", &self.l2)
            .field("origin", &self.origin.is_some())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<K, V, B> TieredBuilder<K, V, B>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    B: Backend<K, V> + 'static,
{
    /// `l1` over `l2`, default [`TieredConfig`], no origin, the system clock.
    pub fn new(l1: CacheBuilder<K, Slot<V>>, l2: B) -> TieredBuilder<K, V, B> {
        TieredBuilder {
            l1,
            l2,
            origin: None,
            config: TieredConfig::default(),
            clock: Arc::new(SystemClock),
        }
    }

    /// Replaces every [`TieredConfig`] setting.
    #[must_use]
    pub fn config(mut self, config: TieredConfig) -> Self {
        self.config = config;
        self
    }

    /// Sets [`TieredConfig::write_policy`].
    #[must_use]
    pub fn write_policy(mut self, policy: WritePolicy) -> Self {
        self.config.write_policy = policy;
        self
    }

    /// Sets [`TieredConfig::l2_ttl`].
    #[must_use]
    pub fn l2_ttl(mut self, ttl: Duration) -> Self {
        self.config.l2_ttl = Some(ttl);
        self
    }

    /// Sets [`TieredConfig::negative_ttl`]: absence is remembered in L1 for `ttl`.
    #[must_use]
    pub fn negative_ttl(mut self, ttl: Duration) -> Self {
        self.config.negative_ttl = Some(ttl);
        self
    }

    /// The source of truth loaded on a miss in both levels.
    #[must_use]
    pub fn origin(mut self, origin: impl Origin<K, V> + 'static) -> Self {
        self.origin = Some(Box::new(origin));
        self
    }

    /// The clock of L1 (its TTLs) and of negative entries.
    #[must_use]
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Validates the settings (the [`TieredConfig`] and the L1's) and builds the cache.
    pub fn build(self) -> Result<TieredCache<K, V, B>> {
        self.config.validate()?;
        let l1 = self.l1.clock(Arc::clone(&self.clock)).build()?;
        Ok(TieredCache::from_parts(
            l1,
            self.l2,
            self.origin,
            self.config,
            self.clock,
        ))
    }
}
