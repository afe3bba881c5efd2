//! Advice for a cache tier.

use ha_core::Severity;
use ha_core::validate::ratio;

use crate::error::in_range;
use crate::{Error, Result};

/// One gibibyte, 2³⁰ bytes.
pub const GIB: u64 = 1 << 30;

/// The most shards a cluster may have: one per Redis Cluster hash slot.
pub const MAX_CACHE_SHARDS: u32 = 16_384;

/// The most replicas per shard a plan may have.
pub const MAX_REPLICAS_PER_SHARD: u32 = 16;

/// The thresholds. Defaults are the HA design's.
///
/// ```
/// use ha_scale::{CacheAdvisorConfig, GIB};
///
/// let config = CacheAdvisorConfig::default();
/// assert_eq!((config.cluster_above_bytes, config.max_node_memory_bytes), (5 * GIB, 30 * GIB));
/// assert!(CacheAdvisorConfig { hit_ratio_below: 1.5, ..config }.validate().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CacheAdvisorConfig {
    /// A single node holding more data than this should move to a cluster; not zero.
    /// Default 5 GiB.
    pub cluster_above_bytes: u64,
    /// Warn when the eviction rate is above this, in `[0, 1]`. Default 0.05.
    pub eviction_rate_above_ratio: f64,
    /// Warn when the hit ratio is below this, in `[0, 1]`. Default 0.80.
    pub hit_ratio_below: f64,
    /// The most memory a node of a cluster plan may need; at least `cluster_above_bytes`.
    /// Default 30 GiB.
    pub max_node_memory_bytes: u64,
    /// Memory kept above the data on each node, as a share of it, in `[0, 4]`. Default 0.25.
    pub memory_headroom_ratio: f64,
    /// The fewest shards of a cluster, 1 to [`MAX_CACHE_SHARDS`]. Default 3.
    pub min_shards: u32,
}

impl Default for CacheAdvisorConfig {
    fn default() -> Self {
        CacheAdvisorConfig {
            cluster_above_bytes: 5 * GIB,
            eviction_rate_above_ratio: 0.05,
            hit_ratio_below: 0.80,
            max_node_memory_bytes: 30 * GIB,
            memory_headroom_ratio: 0.25,
            min_shards: 3,
        }
    }
}

impl CacheAdvisorConfig {
    /// Checks the thresholds.
    ///
    /// # Errors
    /// [`ha_core::Error::NotFinite`] or [`ha_core::Error::OutOfRange`] for a ratio outside its
    /// range; [`ha_core::Error::Zero`] for a zero size or shard count;
    /// [`ha_core::Error::TooLarge`] for more shards than [`MAX_CACHE_SHARDS`];
    /// [`ha_core::Error::Inverted`] when a node may hold less than the cluster threshold.
    pub fn validate(&self) -> Result<()> {
        if self.cluster_above_bytes == 0 {
            return Err(ha_core::Error::Zero {
                name: "cluster above bytes",
            }
            .into());
        }
        ratio("eviction rate above ratio", self.eviction_rate_above_ratio)?;
        ratio("hit ratio below", self.hit_ratio_below)?;
        if self.max_node_memory_bytes < self.cluster_above_bytes {
            return Err(ha_core::Error::Inverted {
                lower: "cluster above bytes",
                lower_value: self.cluster_above_bytes as f64,
                upper: "max node memory bytes",
                upper_value: self.max_node_memory_bytes as f64,
            }
            .into());
        }
        in_range(
            "memory headroom ratio",
            self.memory_headroom_ratio,
            0.0,
            4.0,
            "[0, 4]",
        )?;
        shard_count("min shards", self.min_shards)?;
        Ok(())
    }
}

fn shard_count(name: &'static str, shards: u32) -> Result<u32> {
    if shards == 0 {
        return Err(ha_core::Error::Zero { name }.into());
    }
    if shards > MAX_CACHE_SHARDS {
        return Err(ha_core::Error::TooLarge {
            name,
            value: u64::from(shards),
            max: u64::from(MAX_CACHE_SHARDS),
        }
        .into());
    }
    Ok(shards)
}

fn replica_count(replicas: u32) -> Result<u32> {
    if replicas > MAX_REPLICAS_PER_SHARD {
        return Err(ha_core::Error::TooLarge {
            name: "replicas per shard",
            value: u64::from(replicas),
            max: u64::from(MAX_REPLICAS_PER_SHARD),
        }
        .into());
    }
    Ok(replicas)
}

/// What the cache holds and did over a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CacheObservation {
    /// The data held, in bytes.
    pub data_bytes: u64,
    /// Shards now: 1 is a single node (with its replicas).
    pub shards: u32,
    /// Replicas of each shard now.
    pub replicas_per_shard: u32,
    /// Keys held at the end of the window.
    pub keys: u64,
    /// Hits in the window.
    pub hits: u64,
    /// Misses in the window.
    pub misses: u64,
    /// Keys evicted in the window.
    pub evictions: u64,
}

/// What a cluster should look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum ClusterBound {
    /// Shards for memory: each node within its limit.
    Memory,
    /// Shards for the throughput.
    Throughput,
    /// The minimum shard count.
    MinimumShards,
}

/// What a cluster must carry.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CacheTarget {
    /// The data to hold, in bytes.
    pub data_bytes: u64,
    /// Replicas of each shard, 0 to [`MAX_REPLICAS_PER_SHARD`].
    pub replicas_per_shard: u32,
    /// Operations a second to serve, `≥ 0`; 0 leaves throughput out.
    pub ops_per_second: f64,
    /// Operations a second one shard's primary serves, `> 0` when `ops_per_second` is; a
    /// Redis primary does on the order of 100 000 simple commands a second.
    pub ops_per_shard: f64,
}

impl CacheTarget {
    /// A target for this much data, one replica per shard, throughput left out.
    #[must_use]
    pub fn data(data_bytes: u64) -> CacheTarget {
        CacheTarget {
            data_bytes,
            replicas_per_shard: 1,
            ops_per_second: 0.0,
            ops_per_shard: 0.0,
        }
    }
}

/// A cluster plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ClusterPlan {
    /// Shards (primaries).
    pub shards: u32,
    /// Replicas of each.
    pub replicas_per_shard: u32,
    /// All nodes: `shards × (1 + replicas_per_shard)`.
    pub nodes: u32,
    /// Memory each node needs, headroom included, in bytes.
    pub memory_per_node_bytes: u64,
    /// What decided the shard count.
    pub bound: ClusterBound,
}

/// A change of the cache's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum CacheTopology {
    /// The shape fits.
    Keep,
    /// A single node past the cluster threshold: move to this cluster.
    MoveToCluster {
        /// The cluster to move to.
        plan: ClusterPlan,
    },
    /// A cluster whose nodes would need more than their limit: reshard to this plan.
    AddShards {
        /// Shards now.
        from: u32,
        /// The plan.
        plan: ClusterPlan,
    },
}

/// An alert on the cache's rates.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum CacheAlert {
    /// More evictions than the threshold: the cache is too small for its working set.
    EvictionRateHigh {
        /// The rate seen.
        ratio: f64,
        /// The threshold.
        above_ratio: f64,
    },
    /// Fewer hits than the threshold.
    HitRatioLow {
        /// The ratio seen.
        ratio: f64,
        /// The threshold.
        below_ratio: f64,
    },
}

impl CacheAlert {
    /// How urgent it is: a warning (a ticket, not a page).
    #[must_use]
    pub fn severity(&self) -> Severity {
        Severity::Warning
    }
}

/// The advice for a cache.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CacheAdvice {
    /// `hits / (hits + misses)`; `None` without requests.
    pub hit_ratio: Option<f64>,
    /// `evictions / (keys + evictions)`; `None` with neither.
    pub eviction_rate: Option<f64>,
    /// The alerts, eviction first.
    pub alerts: Vec<CacheAlert>,
    /// The change of shape, if any.
    pub topology: CacheTopology,
}

/// Applies the cache rules.
///
/// The rules are the HA design's:
///
/// - **cluster**: a single node holding more than 5 GiB of data should move to a cluster
///   (one node's memory, fork-time copy-on-write and single-threaded CPU stop scaling well
///   there); a cluster whose shards would hold more than 30 GiB each needs more shards.
/// - **alerts**: a warning when the eviction rate is above 5% (the cache is too small for its
///   working set) or the hit ratio below 80% (it saves the backend too little).
/// - **sizing** ([`CacheAdvisor::size_cluster`]): shards enough that each holds at most
///   30 GiB including headroom (default 25% above the data, for fragmentation, replication
///   buffers and the fork of a snapshot, as Redis's memory-optimization notes advise), enough
///   for the throughput when a per-shard rate is given, and at least three (Redis Cluster's
///   minimal cluster has three primaries); each shard with its replicas.
///
/// Rates are counted over a window the caller chooses: the **hit ratio** is
/// `hits / (hits + misses)`, the **eviction rate** `evictions / (keys + evictions)` — the share
/// of the keys the cache held during the window that it evicted.
///
/// ```
/// use ha_scale::{CacheAdvisor, CacheAlert, CacheObservation, CacheTopology, GIB};
///
/// let advisor = CacheAdvisor::new(Default::default())?;
/// let advice = advisor.advise(&CacheObservation {
///     data_bytes: 12 * GIB,
///     shards: 1,
///     replicas_per_shard: 1,
///     keys: 9_000_000,
///     hits: 700,
///     misses: 300,
///     evictions: 1_000_000,
/// })?;
/// let CacheTopology::MoveToCluster { plan } = advice.topology else { panic!() };
/// assert_eq!((plan.shards, plan.replicas_per_shard, plan.nodes), (3, 1, 6));
/// assert!(plan.memory_per_node_bytes <= 30 * GIB);
/// assert!(matches!(advice.alerts[..], [CacheAlert::EvictionRateHigh { .. }, CacheAlert::HitRatioLow { .. }]));
/// # Ok::<(), ha_scale::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CacheAdvisor {
    config: CacheAdvisorConfig,
}

impl CacheAdvisor {
    /// An advisor with these thresholds.
    ///
    /// # Errors
    /// As [`CacheAdvisorConfig::validate`].
    pub fn new(config: CacheAdvisorConfig) -> Result<CacheAdvisor> {
        config.validate()?;
        Ok(CacheAdvisor { config })
    }

    /// The thresholds.
    #[must_use]
    pub fn config(&self) -> &CacheAdvisorConfig {
        &self.config
    }

    /// The advice for what the cache holds and did.
    ///
    /// # Errors
    /// [`ha_core::Error::Zero`] or [`ha_core::Error::TooLarge`] for a shard count of 0 or
    /// above [`MAX_CACHE_SHARDS`], [`ha_core::Error::TooLarge`] for too many replicas; a plan's
    /// errors ([`CacheAdvisor::size_cluster`]).
    pub fn advise(&self, obs: &CacheObservation) -> Result<CacheAdvice> {
        shard_count("shards", obs.shards)?;
        replica_count(obs.replicas_per_shard)?;
        let c = &self.config;
        let requests = obs.hits.saturating_add(obs.misses);
        let hit_ratio = (requests > 0).then(|| obs.hits as f64 / requests as f64);
        let held = obs.keys.saturating_add(obs.evictions);
        let eviction_rate = (held > 0).then(|| obs.evictions as f64 / held as f64);
        let mut alerts = Vec::new();
        if let Some(r) = eviction_rate.filter(|&r| r > c.eviction_rate_above_ratio) {
            alerts.push(CacheAlert::EvictionRateHigh {
                ratio: r,
                above_ratio: c.eviction_rate_above_ratio,
            });
        }
        if let Some(r) = hit_ratio.filter(|&r| r < c.hit_ratio_below) {
            alerts.push(CacheAlert::HitRatioLow {
                ratio: r,
                below_ratio: c.hit_ratio_below,
            });
        }
        let topology = if obs.shards == 1 {
            if obs.data_bytes > c.cluster_above_bytes {
                CacheTopology::MoveToCluster {
                    plan: self.size_cluster(&CacheTarget {
                        replicas_per_shard: obs.replicas_per_shard,
                        ..CacheTarget::data(obs.data_bytes)
                    })?,
                }
            } else {
                CacheTopology::Keep
            }
        } else if self.memory_per_node(obs.data_bytes, obs.shards) > c.max_node_memory_bytes {
            CacheTopology::AddShards {
                from: obs.shards,
                plan: self.size_cluster(&CacheTarget {
                    replicas_per_shard: obs.replicas_per_shard,
                    ..CacheTarget::data(obs.data_bytes)
                })?,
            }
        } else {
            CacheTopology::Keep
        };
        tracing::debug!(
            data_bytes = obs.data_bytes,
            shards = obs.shards,
            hit_ratio = ?hit_ratio,
            eviction_rate = ?eviction_rate,
            alerts = alerts.len(),
            topology = ?topology,
            "cache advice"
        );
        Ok(CacheAdvice {
            hit_ratio,
            eviction_rate,
            alerts,
            topology,
        })
    }

    /// Memory each of `shards` nodes needs for `data_bytes`, headroom included.
    fn memory_per_node(&self, data_bytes: u64, shards: u32) -> u64 {
        let total = data_bytes as f64 * (1.0 + self.config.memory_headroom_ratio);
        let per = (total / f64::from(shards.max(1))).ceil();
        if per >= u64::MAX as f64 {
            u64::MAX
        } else {
            per as u64
        }
    }

    /// The cluster for a target: the fewest shards that keep each node within
    /// `max_node_memory_bytes` (headroom included), serve the throughput, and number at least
    /// `min_shards`.
    ///
    /// ```
    /// use ha_scale::{CacheAdvisor, CacheTarget, ClusterBound, GIB};
    ///
    /// let advisor = CacheAdvisor::new(Default::default())?;
    /// // 200 GiB × 1.25 = 250 GiB over nodes of at most 30 GiB: 9 shards.
    /// let plan = advisor.size_cluster(&CacheTarget { replicas_per_shard: 2, ..CacheTarget::data(200 * GIB) })?;
    /// assert_eq!((plan.shards, plan.nodes, plan.bound), (9, 27, ClusterBound::Memory));
    /// let busy = advisor.size_cluster(&CacheTarget {
    ///     ops_per_second: 1_200_000.0,
    ///     ops_per_shard: 100_000.0,
    ///     ..CacheTarget::data(10 * GIB)
    /// })?;
    /// assert_eq!((busy.shards, busy.bound), (12, ClusterBound::Throughput));
    /// # Ok::<(), ha_scale::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`ha_core::Error::NotFinite`] or [`ha_core::Error::OutOfRange`] for a negative or
    /// non-finite rate, or a per-shard rate that is not positive while a rate is asked;
    /// [`ha_core::Error::TooLarge`] for more than [`MAX_REPLICAS_PER_SHARD`] replicas or a plan
    /// needing more than [`MAX_CACHE_SHARDS`] shards (or more nodes than a `u32` counts).
    pub fn size_cluster(&self, target: &CacheTarget) -> Result<ClusterPlan> {
        let c = &self.config;
        replica_count(target.replicas_per_shard)?;
        in_range(
            "ops per second",
            target.ops_per_second,
            0.0,
            1e15,
            "[0, 1e15]",
        )?;
        let by_memory = (target.data_bytes as f64 * (1.0 + c.memory_headroom_ratio)
            / c.max_node_memory_bytes as f64)
            .ceil();
        let by_throughput = if target.ops_per_second > 0.0 {
            let per = in_range(
                "ops per shard",
                target.ops_per_shard,
                0.0,
                1e15,
                "(0, 1e15]",
            )?;
            if per <= 0.0 {
                return Err(Error::Core(ha_core::Error::OutOfRange {
                    name: "ops per shard",
                    value: per,
                    range: "(0, 1e15]",
                }));
            }
            (target.ops_per_second / per).ceil()
        } else {
            0.0
        };
        let min = f64::from(c.min_shards);
        let (shards, bound) = if by_memory >= by_throughput && by_memory > min {
            (by_memory, ClusterBound::Memory)
        } else if by_throughput > min {
            (by_throughput, ClusterBound::Throughput)
        } else {
            (min, ClusterBound::MinimumShards)
        };
        if shards > f64::from(MAX_CACHE_SHARDS) {
            return Err(ha_core::Error::TooLarge {
                name: "cluster shards",
                value: if shards >= u64::MAX as f64 {
                    u64::MAX
                } else {
                    shards as u64
                },
                max: u64::from(MAX_CACHE_SHARDS),
            }
            .into());
        }
        let mut shards = shards as u32;
        // Guard the float arithmetic: the plan's nodes must fit, byte for byte.
        while self.memory_per_node(target.data_bytes, shards) > c.max_node_memory_bytes
            && shards < MAX_CACHE_SHARDS
        {
            shards += 1;
        }
        if self.memory_per_node(target.data_bytes, shards) > c.max_node_memory_bytes {
            return Err(ha_core::Error::TooLarge {
                name: "cluster shards",
                value: u64::from(MAX_CACHE_SHARDS) + 1,
                max: u64::from(MAX_CACHE_SHARDS),
            }
            .into());
        }
        let nodes = shards * (1 + target.replicas_per_shard);
        let plan = ClusterPlan {
            shards,
            replicas_per_shard: target.replicas_per_shard,
            nodes,
            memory_per_node_bytes: self.memory_per_node(target.data_bytes, shards),
            bound,
        };
        tracing::debug!(
            data_bytes = target.data_bytes,
            ops_per_second = target.ops_per_second,
            by_memory,
            by_throughput,
            shards,
            nodes,
            memory_per_node = plan.memory_per_node_bytes,
            ?bound,
            "cache cluster sized"
        );
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs() -> CacheObservation {
        CacheObservation {
            data_bytes: GIB,
            shards: 1,
            replicas_per_shard: 1,
            keys: 1000,
            hits: 90,
            misses: 10,
            evictions: 0,
        }
    }

    fn advise(o: CacheObservation) -> CacheAdvice {
        CacheAdvisor::new(CacheAdvisorConfig::default())
            .unwrap()
            .advise(&o)
            .unwrap()
    }

    #[test]
    fn a_healthy_small_cache_keeps_its_shape() {
        let a = advise(obs());
        assert_eq!(a.topology, CacheTopology::Keep);
        assert!(a.alerts.is_empty());
        assert_eq!(a.hit_ratio, Some(0.9));
        assert_eq!(a.eviction_rate, Some(0.0));
    }

    #[test]
    fn five_gib_exactly_stays_single() {
        let at = advise(CacheObservation {
            data_bytes: 5 * GIB,
            ..obs()
        });
        assert_eq!(at.topology, CacheTopology::Keep);
        let past = advise(CacheObservation {
            data_bytes: 5 * GIB + 1,
            ..obs()
        });
        assert!(matches!(
            past.topology,
            CacheTopology::MoveToCluster {
                plan: ClusterPlan {
                    shards: 3,
                    bound: ClusterBound::MinimumShards,
                    ..
                }
            }
        ));
    }

    #[test]
    fn an_overfull_cluster_gets_more_shards() {
        let a = advise(CacheObservation {
            data_bytes: 100 * GIB,
            shards: 3,
            ..obs()
        });
        // 125 GiB / 30 GiB → 5 shards.
        assert!(matches!(
            a.topology,
            CacheTopology::AddShards {
                from: 3,
                plan: ClusterPlan { shards: 5, .. }
            }
        ));
        let fits = advise(CacheObservation {
            data_bytes: 100 * GIB,
            shards: 5,
            ..obs()
        });
        assert_eq!(fits.topology, CacheTopology::Keep);
    }

    #[test]
    fn alert_thresholds_are_strict() {
        // 5% evicted exactly, 80% hits exactly: no alert.
        let at = advise(CacheObservation {
            keys: 95,
            evictions: 5,
            hits: 80,
            misses: 20,
            ..obs()
        });
        assert!(at.alerts.is_empty(), "{:?}", at.alerts);
        let past = advise(CacheObservation {
            keys: 94,
            evictions: 6,
            hits: 79,
            misses: 21,
            ..obs()
        });
        assert_eq!(past.alerts.len(), 2);
        assert!(
            past.alerts
                .iter()
                .all(|a| a.severity() == Severity::Warning)
        );
        let idle = advise(CacheObservation {
            keys: 0,
            hits: 0,
            misses: 0,
            ..obs()
        });
        assert_eq!((idle.hit_ratio, idle.eviction_rate), (None, None));
    }

    #[test]
    fn plans_keep_nodes_within_their_memory() {
        let advisor = CacheAdvisor::new(CacheAdvisorConfig::default()).unwrap();
        for gib in [0, 1, 24, 25, 72, 73, 1000, 300_000] {
            let plan = advisor.size_cluster(&CacheTarget::data(gib * GIB)).unwrap();
            assert!(
                plan.memory_per_node_bytes <= 30 * GIB,
                "{gib} GiB: {plan:?}"
            );
            assert!(plan.shards >= 3);
            assert_eq!(plan.nodes, plan.shards * 2);
        }
    }

    #[test]
    fn bad_input_is_refused() {
        let advisor = CacheAdvisor::new(CacheAdvisorConfig::default()).unwrap();
        assert!(
            advisor
                .advise(&CacheObservation { shards: 0, ..obs() })
                .is_err()
        );
        assert!(
            advisor
                .advise(&CacheObservation {
                    replicas_per_shard: 17,
                    ..obs()
                })
                .is_err()
        );
        let too_big = advisor.size_cluster(&CacheTarget::data(u64::MAX));
        assert!(matches!(
            too_big,
            Err(Error::Core(ha_core::Error::TooLarge { .. }))
        ));
        for (ops, per) in [(-1.0, 1.0), (f64::NAN, 1.0), (10.0, 0.0), (10.0, -5.0)] {
            let t = CacheTarget {
                ops_per_second: ops,
                ops_per_shard: per,
                ..CacheTarget::data(GIB)
            };
            assert!(advisor.size_cluster(&t).is_err(), "{ops} {per}");
        }
        let d = CacheAdvisorConfig::default();
        for bad in [
            CacheAdvisorConfig {
                cluster_above_bytes: 0,
                ..d
            },
            CacheAdvisorConfig {
                eviction_rate_above_ratio: -0.1,
                ..d
            },
            CacheAdvisorConfig {
                hit_ratio_below: f64::NAN,
                ..d
            },
            CacheAdvisorConfig {
                max_node_memory_bytes: GIB,
                ..d
            },
            CacheAdvisorConfig {
                memory_headroom_ratio: 5.0,
                ..d
            },
            CacheAdvisorConfig { min_shards: 0, ..d },
            CacheAdvisorConfig {
                min_shards: 20_000,
                ..d
            },
        ] {
            assert!(CacheAdvisor::new(bad).is_err(), "{bad:?}");
        }
    }
}
