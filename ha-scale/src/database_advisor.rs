//! Advice for a database tier.

use std::time::Duration;

use ha_core::validate::ratio;

use crate::error::{in_range, positive};
use crate::{Error, Result};

/// The most a rate (queries a second) may be.
pub const MAX_RATE: f64 = 1e12;

/// The most replicas per primary a configuration may allow.
pub const MAX_REPLICAS_PER_PRIMARY: u32 = 64;

/// The thresholds. Defaults are the HA design's.
///
/// ```
/// use ha_scale::DatabaseAdvisorConfig;
///
/// let config = DatabaseAdvisorConfig::default();
/// assert_eq!((config.read_write_ratio_above, config.max_replicas_per_primary), (4.0, 3));
/// assert!(DatabaseAdvisorConfig { storage_above_ratio: 1.5, ..config }.validate().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DatabaseAdvisorConfig {
    /// Add a replica when reads per write exceed this; at least 1. Default 4.
    pub read_write_ratio_above: f64,
    /// ... and the replica lag is below this; not zero. Default 100 ms.
    pub max_replica_lag: Duration,
    /// Never propose more replicas than this per primary; 1 to [`MAX_REPLICAS_PER_PRIMARY`].
    /// Default 3.
    pub max_replicas_per_primary: u32,
    /// Scale up when the storage used is above this share, in `(0, 1]`. Default 0.80.
    pub storage_above_ratio: f64,
    /// Scale up when queries take longer than this; not zero. Default 2 s.
    pub query_time_above: Duration,
    /// Scale up when the pool is busier than this share, in `(0, 1]`. Default 0.70.
    pub pool_utilization_above_ratio: f64,
    /// The pool's room above Little's-law concurrency, in `[0, 10]`. Default 0.25.
    pub pool_headroom_ratio: f64,
}

impl Default for DatabaseAdvisorConfig {
    fn default() -> Self {
        DatabaseAdvisorConfig {
            read_write_ratio_above: 4.0,
            max_replica_lag: Duration::from_millis(100),
            max_replicas_per_primary: 3,
            storage_above_ratio: 0.80,
            query_time_above: Duration::from_secs(2),
            pool_utilization_above_ratio: 0.70,
            pool_headroom_ratio: 0.25,
        }
    }
}

impl DatabaseAdvisorConfig {
    /// Checks the thresholds.
    ///
    /// # Errors
    /// [`ha_core::Error::NotFinite`], [`ha_core::Error::OutOfRange`], [`ha_core::Error::Zero`] or
    /// [`ha_core::Error::TooLarge`] naming the setting outside its range (see each field).
    pub fn validate(&self) -> Result<()> {
        in_range(
            "read write ratio above",
            self.read_write_ratio_above,
            1.0,
            1e9,
            "[1, 1e9]",
        )?;
        ha_core::validate::non_zero_duration("max replica lag", self.max_replica_lag)?;
        if self.max_replicas_per_primary == 0 {
            return Err(ha_core::Error::Zero {
                name: "max replicas per primary",
            }
            .into());
        }
        if self.max_replicas_per_primary > MAX_REPLICAS_PER_PRIMARY {
            return Err(ha_core::Error::TooLarge {
                name: "max replicas per primary",
                value: u64::from(self.max_replicas_per_primary),
                max: u64::from(MAX_REPLICAS_PER_PRIMARY),
            }
            .into());
        }
        positive(
            "storage above ratio",
            ratio("storage above ratio", self.storage_above_ratio)?,
        )?;
        ha_core::validate::non_zero_duration("query time above", self.query_time_above)?;
        positive(
            "pool utilization above ratio",
            ratio(
                "pool utilization above ratio",
                self.pool_utilization_above_ratio,
            )?,
        )?;
        in_range(
            "pool headroom ratio",
            self.pool_headroom_ratio,
            0.0,
            10.0,
            "[0, 10]",
        )?;
        Ok(())
    }
}

/// What the database does now.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DatabaseObservation {
    /// Read queries a second, in `[0, MAX_RATE]`.
    pub reads_per_second: f64,
    /// Write queries a second, in `[0, MAX_RATE]`.
    pub writes_per_second: f64,
    /// Read replicas of this primary now.
    pub replicas: u32,
    /// The worst replica's lag (zero without replicas).
    pub replica_lag: Duration,
    /// The share of storage used, in `[0, 1]`.
    pub storage_used_ratio: f64,
    /// The query time the scale-up rule watches (the percentile you alert on, p95 say).
    pub query_time: Duration,
    /// The mean time a query holds a connection, for Little's law.
    pub mean_query_time: Duration,
    /// Connections in the pool now; at least 1.
    pub pool_size: u32,
    /// The pool's busy share, in `[0, 1]`.
    pub pool_utilization_ratio: f64,
    /// The primary's cores, for PostgreSQL's `cores × 2 + spindles` guidance; `None` leaves the
    /// guidance out.
    pub cpu_cores: Option<u32>,
    /// Effective spindles: 0 when the working set is cached in memory, up to the disks' count
    /// as the cache hit rate falls (an SSD counts about 1).
    pub effective_spindles: u32,
}

impl DatabaseObservation {
    fn validate(&self) -> Result<()> {
        in_range(
            "reads per second",
            self.reads_per_second,
            0.0,
            MAX_RATE,
            "[0, 1e12]",
        )?;
        in_range(
            "writes per second",
            self.writes_per_second,
            0.0,
            MAX_RATE,
            "[0, 1e12]",
        )?;
        ratio("storage used ratio", self.storage_used_ratio)?;
        ratio("pool utilization ratio", self.pool_utilization_ratio)?;
        if self.pool_size == 0 {
            return Err(ha_core::Error::Zero { name: "pool size" }.into());
        }
        Ok(())
    }
}

/// The replica part of the advice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum ReplicaAdvice {
    /// Reads do not outnumber writes enough for a replica to pay.
    NotReadHeavy,
    /// Add one replica.
    Add {
        /// Replicas now.
        from: u32,
        /// Replicas proposed.
        to: u32,
    },
    /// Read-heavy, but the replicas lag too much: fix the lag (replica size, network,
    /// long-running queries holding replay) before adding another.
    LagTooHigh {
        /// The lag seen.
        lag: Duration,
        /// The bound.
        max: Duration,
    },
    /// Read-heavy, but the primary already has the most replicas allowed: shard, or cache the
    /// reads.
    AtLimit {
        /// Replicas now.
        replicas: u32,
        /// The limit.
        max: u32,
    },
}

/// Why a larger primary is advised.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum ScaleUpReason {
    /// Storage used above its threshold.
    Storage {
        /// Share used.
        used_ratio: f64,
        /// Threshold.
        above_ratio: f64,
    },
    /// Queries slower than the threshold.
    QueryTime {
        /// Query time seen.
        query_time: Duration,
        /// Threshold.
        above: Duration,
    },
    /// Connection pool busier than the threshold.
    PoolUtilization {
        /// Busy share.
        utilization_ratio: f64,
        /// Threshold.
        above_ratio: f64,
    },
}

/// How the pool's size compares with what the load needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum PoolVerdict {
    /// Smaller than Little's law with headroom: requests queue for a connection.
    TooSmall,
    /// Large enough, and not beyond both the need and the guidance.
    Fits,
    /// Larger than both the need and `cores × 2 + spindles`: extra connections only queue in
    /// the database.
    Oversized,
}

/// The connection-pool sizing check.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PoolSizing {
    /// Little's law: queries a second × mean query time, the connections busy on average.
    pub concurrency: f64,
    /// `ceil(concurrency × (1 + headroom))`, at least 1.
    pub needed: u32,
    /// `cores × 2 + effective spindles`, when the cores are known.
    pub guideline: Option<u32>,
    /// The pool's size now.
    pub current: u32,
    /// The verdict.
    pub verdict: PoolVerdict,
}

/// The advice for one primary and its replicas.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DatabaseAdvice {
    /// Reads per write; `None` without writes.
    pub read_write_ratio: Option<f64>,
    /// The replica advice.
    pub replicas: ReplicaAdvice,
    /// The replicas to run: never fewer than now.
    pub recommended_replicas: u32,
    /// The reasons for a larger primary, empty when none.
    pub scale_up: Vec<ScaleUpReason>,
    /// The pool sizing check.
    pub pool: PoolSizing,
}

/// Applies the database rules to an observation.
///
/// The rules are the HA design's:
///
/// - **read replica**: add one when reads outnumber writes by more than 4:1 *and* the
///   replicas' lag stays under 100 ms (a lagging replica serves stale reads and would lag more
///   under more load — fix the lag first), up to 3 replicas per primary. The advisor never
///   proposes fewer replicas than there are: retiring one is an operator's call.
/// - **scale up** (a larger primary) when storage is over 80% used, queries take over 2 s, or
///   the connection pool is over 70% busy.
/// - **pool size**: by Little's law the connections busy on average are the arrival rate times
///   the mean time each holds one, `L = λ × W` (queries a second × mean query time); the pool
///   should hold that with headroom, `ceil(L × (1 + headroom))` (headroom default 25%). Against
///   it stands PostgreSQL's guidance for how many connections a server runs well at once,
///   `cores × 2 + effective spindles` (the PostgreSQL wiki's "Number Of Database Connections",
///   as HikariCP's "About Pool Sizing" quotes it): a pool beyond both is oversized — its extra
///   connections queue inside the database instead of in the pool.
///
/// ```
/// use std::time::Duration;
/// use ha_scale::{DatabaseAdvisor, DatabaseObservation, PoolVerdict, ReplicaAdvice, ScaleUpReason};
///
/// let advisor = DatabaseAdvisor::new(Default::default())?;
/// let advice = advisor.advise(&DatabaseObservation {
///     reads_per_second: 900.0,
///     writes_per_second: 100.0,
///     replicas: 1,
///     replica_lag: Duration::from_millis(20),
///     storage_used_ratio: 0.85,
///     query_time: Duration::from_millis(300),
///     mean_query_time: Duration::from_millis(20),
///     pool_size: 10,
///     pool_utilization_ratio: 0.5,
///     cpu_cores: Some(8),
///     effective_spindles: 1,
/// })?;
/// assert_eq!(advice.replicas, ReplicaAdvice::Add { from: 1, to: 2 });
/// assert!(matches!(advice.scale_up[..], [ScaleUpReason::Storage { .. }]));
/// // 1000 queries/s × 20 ms = 20 connections busy; with 25% headroom the pool needs 25.
/// assert_eq!((advice.pool.needed, advice.pool.guideline), (25, Some(17)));
/// assert_eq!(advice.pool.verdict, PoolVerdict::TooSmall);
/// # Ok::<(), ha_scale::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DatabaseAdvisor {
    config: DatabaseAdvisorConfig,
}

impl DatabaseAdvisor {
    /// An advisor with these thresholds.
    ///
    /// # Errors
    /// As [`DatabaseAdvisorConfig::validate`].
    pub fn new(config: DatabaseAdvisorConfig) -> Result<DatabaseAdvisor> {
        config.validate()?;
        Ok(DatabaseAdvisor { config })
    }

    /// The thresholds.
    #[must_use]
    pub fn config(&self) -> &DatabaseAdvisorConfig {
        &self.config
    }

    /// The advice for what the database does now.
    ///
    /// # Errors
    /// [`ha_core::Error::NotFinite`] or [`ha_core::Error::OutOfRange`] for a negative or
    /// non-finite rate, a ratio outside `[0, 1]`; [`ha_core::Error::Zero`] for an empty pool.
    pub fn advise(&self, obs: &DatabaseObservation) -> Result<DatabaseAdvice> {
        obs.validate()?;
        let c = &self.config;
        let read_write_ratio =
            (obs.writes_per_second > 0.0).then(|| obs.reads_per_second / obs.writes_per_second);
        let read_heavy = match read_write_ratio {
            Some(r) => r > c.read_write_ratio_above,
            None => obs.reads_per_second > 0.0,
        };
        let replicas = if !read_heavy {
            ReplicaAdvice::NotReadHeavy
        } else if obs.replica_lag >= c.max_replica_lag {
            ReplicaAdvice::LagTooHigh {
                lag: obs.replica_lag,
                max: c.max_replica_lag,
            }
        } else if obs.replicas >= c.max_replicas_per_primary {
            ReplicaAdvice::AtLimit {
                replicas: obs.replicas,
                max: c.max_replicas_per_primary,
            }
        } else {
            ReplicaAdvice::Add {
                from: obs.replicas,
                to: obs.replicas + 1,
            }
        };
        let recommended_replicas = match replicas {
            ReplicaAdvice::Add { to, .. } => to,
            _ => obs.replicas,
        };
        let mut scale_up = Vec::new();
        if obs.storage_used_ratio > c.storage_above_ratio {
            scale_up.push(ScaleUpReason::Storage {
                used_ratio: obs.storage_used_ratio,
                above_ratio: c.storage_above_ratio,
            });
        }
        if obs.query_time > c.query_time_above {
            scale_up.push(ScaleUpReason::QueryTime {
                query_time: obs.query_time,
                above: c.query_time_above,
            });
        }
        if obs.pool_utilization_ratio > c.pool_utilization_above_ratio {
            scale_up.push(ScaleUpReason::PoolUtilization {
                utilization_ratio: obs.pool_utilization_ratio,
                above_ratio: c.pool_utilization_above_ratio,
            });
        }
        let pool = self.size_pool(
            obs.reads_per_second + obs.writes_per_second,
            obs.mean_query_time,
            obs.pool_size,
            obs.cpu_cores,
            obs.effective_spindles,
        )?;
        tracing::debug!(
            reads = obs.reads_per_second,
            writes = obs.writes_per_second,
            read_write_ratio = ?read_write_ratio,
            lag = ?obs.replica_lag,
            replicas = obs.replicas,
            recommended_replicas,
            scale_up = scale_up.len(),
            pool_needed = pool.needed,
            pool_current = pool.current,
            pool_verdict = ?pool.verdict,
            "database advice"
        );
        Ok(DatabaseAdvice {
            read_write_ratio,
            replicas,
            recommended_replicas,
            scale_up,
            pool,
        })
    }

    /// The pool sizing check on its own: `queries_per_second` arriving, each holding a
    /// connection for `mean_query_time`, a pool of `pool_size` on a primary with `cpu_cores`
    /// cores and `effective_spindles` spindles.
    ///
    /// ```
    /// use std::time::Duration;
    /// use ha_scale::{DatabaseAdvisor, PoolVerdict};
    ///
    /// let advisor = DatabaseAdvisor::new(Default::default())?;
    /// let check = advisor.size_pool(200.0, Duration::from_millis(10), 50, Some(4), 1)?;
    /// assert_eq!((check.concurrency, check.needed, check.guideline), (2.0, 3, Some(9)));
    /// assert_eq!(check.verdict, PoolVerdict::Oversized);
    /// # Ok::<(), ha_scale::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`ha_core::Error::NotFinite`] or [`ha_core::Error::OutOfRange`] for a rate that is
    /// negative, non-finite or above [`MAX_RATE`]; [`ha_core::Error::Zero`] for an empty pool.
    pub fn size_pool(
        &self,
        queries_per_second: f64,
        mean_query_time: Duration,
        pool_size: u32,
        cpu_cores: Option<u32>,
        effective_spindles: u32,
    ) -> Result<PoolSizing> {
        in_range(
            "queries per second",
            queries_per_second,
            0.0,
            2.0 * MAX_RATE,
            "[0, 2e12]",
        )?;
        if pool_size == 0 {
            return Err(Error::Core(ha_core::Error::Zero { name: "pool size" }));
        }
        let concurrency = queries_per_second * mean_query_time.as_secs_f64();
        let with_headroom = (concurrency * (1.0 + self.config.pool_headroom_ratio)).ceil();
        // Saturate: a need beyond u32 connections is "more than any pool".
        let needed = if with_headroom >= f64::from(u32::MAX) {
            u32::MAX
        } else {
            (with_headroom as u32).max(1)
        };
        let guideline =
            cpu_cores.map(|cores| cores.saturating_mul(2).saturating_add(effective_spindles));
        let verdict = if pool_size < needed {
            PoolVerdict::TooSmall
        } else if guideline.is_some_and(|g| pool_size > g.max(needed)) {
            PoolVerdict::Oversized
        } else {
            PoolVerdict::Fits
        };
        Ok(PoolSizing {
            concurrency,
            needed,
            guideline,
            current: pool_size,
            verdict,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs() -> DatabaseObservation {
        DatabaseObservation {
            reads_per_second: 400.0,
            writes_per_second: 100.0,
            replicas: 0,
            replica_lag: Duration::ZERO,
            storage_used_ratio: 0.5,
            query_time: Duration::from_millis(100),
            mean_query_time: Duration::from_millis(10),
            pool_size: 20,
            pool_utilization_ratio: 0.3,
            cpu_cores: None,
            effective_spindles: 0,
        }
    }

    fn advise(o: DatabaseObservation) -> DatabaseAdvice {
        DatabaseAdvisor::new(DatabaseAdvisorConfig::default())
            .unwrap()
            .advise(&o)
            .unwrap()
    }

    #[test]
    fn exactly_four_to_one_is_not_read_heavy() {
        let a = advise(obs());
        assert_eq!(a.read_write_ratio, Some(4.0));
        assert_eq!(a.replicas, ReplicaAdvice::NotReadHeavy);
        assert_eq!(a.recommended_replicas, 0);
        let a = advise(DatabaseObservation {
            reads_per_second: 401.0,
            ..obs()
        });
        assert_eq!(a.replicas, ReplicaAdvice::Add { from: 0, to: 1 });
    }

    #[test]
    fn lag_and_the_replica_limit_hold_a_replica_back() {
        let heavy = DatabaseObservation {
            reads_per_second: 1000.0,
            ..obs()
        };
        let lagging = advise(DatabaseObservation {
            replicas: 1,
            replica_lag: Duration::from_millis(100),
            ..heavy
        });
        assert!(matches!(lagging.replicas, ReplicaAdvice::LagTooHigh { .. }));
        assert_eq!(lagging.recommended_replicas, 1);
        let full = advise(DatabaseObservation {
            replicas: 3,
            replica_lag: Duration::from_millis(99),
            ..heavy
        });
        assert_eq!(
            full.replicas,
            ReplicaAdvice::AtLimit {
                replicas: 3,
                max: 3
            }
        );
        let over = advise(DatabaseObservation {
            replicas: 5,
            ..heavy
        });
        assert_eq!(over.recommended_replicas, 5, "never fewer than now");
    }

    #[test]
    fn reads_without_writes_are_read_heavy() {
        let a = advise(DatabaseObservation {
            writes_per_second: 0.0,
            ..obs()
        });
        assert_eq!(a.read_write_ratio, None);
        assert_eq!(a.recommended_replicas, 1);
        let idle = advise(DatabaseObservation {
            reads_per_second: 0.0,
            writes_per_second: 0.0,
            ..obs()
        });
        assert_eq!(idle.replicas, ReplicaAdvice::NotReadHeavy);
    }

    #[test]
    fn each_scale_up_threshold_is_strict() {
        assert!(advise(obs()).scale_up.is_empty());
        let at = advise(DatabaseObservation {
            storage_used_ratio: 0.8,
            query_time: Duration::from_secs(2),
            pool_utilization_ratio: 0.7,
            ..obs()
        });
        assert!(at.scale_up.is_empty());
        let over = advise(DatabaseObservation {
            storage_used_ratio: 0.81,
            query_time: Duration::from_millis(2001),
            pool_utilization_ratio: 0.71,
            ..obs()
        });
        assert_eq!(over.scale_up.len(), 3);
    }

    #[test]
    fn pool_sizing_follows_littles_law_and_the_guideline() {
        let advisor = DatabaseAdvisor::new(DatabaseAdvisorConfig::default()).unwrap();
        // 500 q/s × 10 ms = 5 busy; × 1.25 = 6.25 → 7.
        let p = advisor
            .size_pool(500.0, Duration::from_millis(10), 20, None, 0)
            .unwrap();
        assert_eq!((p.needed, p.verdict), (7, PoolVerdict::Fits));
        let p = advisor
            .size_pool(500.0, Duration::from_millis(10), 20, Some(4), 2)
            .unwrap();
        assert_eq!((p.guideline, p.verdict), (Some(10), PoolVerdict::Oversized));
        let p = advisor
            .size_pool(500.0, Duration::from_millis(10), 6, Some(4), 2)
            .unwrap();
        assert_eq!(p.verdict, PoolVerdict::TooSmall);
        let idle = advisor
            .size_pool(0.0, Duration::from_millis(10), 1, None, 0)
            .unwrap();
        assert_eq!(idle.needed, 1);
        let huge = advisor
            .size_pool(2e12, Duration::from_secs(1000), 1, None, 0)
            .unwrap();
        assert_eq!(huge.needed, u32::MAX);
    }

    #[test]
    fn bad_input_is_refused() {
        let advisor = DatabaseAdvisor::new(DatabaseAdvisorConfig::default()).unwrap();
        for bad in [
            DatabaseObservation {
                reads_per_second: -1.0,
                ..obs()
            },
            DatabaseObservation {
                writes_per_second: f64::NAN,
                ..obs()
            },
            DatabaseObservation {
                storage_used_ratio: 1.2,
                ..obs()
            },
            DatabaseObservation {
                pool_utilization_ratio: -0.1,
                ..obs()
            },
            DatabaseObservation {
                pool_size: 0,
                ..obs()
            },
        ] {
            assert!(
                matches!(advisor.advise(&bad), Err(Error::Core(_))),
                "{bad:?}"
            );
        }
        let d = DatabaseAdvisorConfig::default();
        for bad in [
            DatabaseAdvisorConfig {
                read_write_ratio_above: 0.5,
                ..d
            },
            DatabaseAdvisorConfig {
                max_replica_lag: Duration::ZERO,
                ..d
            },
            DatabaseAdvisorConfig {
                max_replicas_per_primary: 0,
                ..d
            },
            DatabaseAdvisorConfig {
                max_replicas_per_primary: 65,
                ..d
            },
            DatabaseAdvisorConfig {
                storage_above_ratio: 0.0,
                ..d
            },
            DatabaseAdvisorConfig {
                query_time_above: Duration::ZERO,
                ..d
            },
            DatabaseAdvisorConfig {
                pool_utilization_above_ratio: f64::INFINITY,
                ..d
            },
            DatabaseAdvisorConfig {
                pool_headroom_ratio: -0.5,
                ..d
            },
        ] {
            assert!(DatabaseAdvisor::new(bad).is_err(), "{bad:?}");
        }
    }
}
