//! Replication settings and consistency levels: how many copies are kept in each datacenter (N),
//! and how many of them must answer a read (R) or a write (W) — as Cassandra's
//! `NetworkTopologyStrategy` and consistency levels define them, with Dynamo's plain `R` / `W`
//! counts as [`ConsistencyLevel::Count`].
//!
//! A level turns into a [`Requirement`] once, checked against the config: R or W above N, a zero
//! factor, an unknown local datacenter are [`Error`]s there, never later.

use std::collections::BTreeMap;
use std::fmt;

use crate::{Error, Result};

/// The datacenter name a single-datacenter config and replica set use.
pub const DEFAULT_DATACENTER: &str = "default";

/// How many replicas must answer, as Cassandra names the levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "SCREAMING_SNAKE_CASE"))]
pub enum ConsistencyLevel {
    /// One replica, anywhere.
    One,
    /// Two replicas, anywhere.
    Two,
    /// Three replicas, anywhere.
    Three,
    /// A majority of all replicas: `⌊N / 2⌋ + 1` of the total over every datacenter.
    Quorum,
    /// Every replica.
    All,
    /// A majority of the local datacenter's replicas; the others are not waited for.
    LocalQuorum,
    /// A majority in every datacenter.
    EachQuorum,
    /// Exactly this many replicas, anywhere (Dynamo's `R` or `W`).
    Count(u32),
}

impl fmt::Display for ConsistencyLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConsistencyLevel::One => f.write_str("ONE"),
            ConsistencyLevel::Two => f.write_str("TWO"),
            ConsistencyLevel::Three => f.write_str("THREE"),
            ConsistencyLevel::Quorum => f.write_str("QUORUM"),
            ConsistencyLevel::All => f.write_str("ALL"),
            ConsistencyLevel::LocalQuorum => f.write_str("LOCAL_QUORUM"),
            ConsistencyLevel::EachQuorum => f.write_str("EACH_QUORUM"),
            ConsistencyLevel::Count(n) => write!(f, "{n}"),
        }
    }
}

/// How many copies of each key are kept, per datacenter (N), and which datacenter is local to
/// this coordinator.
///
/// ```
/// use ha_replication::{ConsistencyLevel, ReplicationConfig};
///
/// let config = ReplicationConfig::new([("eu", 3), ("us", 2)], Some("eu"))?;
/// assert_eq!(config.replication_factor(), 5);
/// let quorum = config.requirement(ConsistencyLevel::Quorum)?;
/// assert_eq!(quorum.total, 3);
/// let local = config.requirement(ConsistencyLevel::LocalQuorum)?;
/// assert_eq!(local.per_datacenter, [("eu".to_owned(), 2)]);
/// let each = config.requirement(ConsistencyLevel::EachQuorum)?;
/// assert_eq!(each.per_datacenter, [("eu".to_owned(), 2), ("us".to_owned(), 2)]);
/// # Ok::<(), ha_replication::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ReplicationConfig {
    /// Replicas kept in each datacenter; each above zero, at least one datacenter.
    pub datacenters: BTreeMap<String, usize>,
    /// The coordinator's own datacenter, which `LOCAL_QUORUM` counts in; default none.
    pub local_datacenter: Option<String>,
}

impl Default for ReplicationConfig {
    /// Three replicas in one datacenter, [`DEFAULT_DATACENTER`], which is local.
    fn default() -> Self {
        ReplicationConfig::single_datacenter(3)
    }
}

impl ReplicationConfig {
    /// A config from `(datacenter, replicas)` pairs and the local datacenter, validated.
    ///
    /// # Errors
    /// As [`validate`](Self::validate).
    pub fn new<S: Into<String>>(
        datacenters: impl IntoIterator<Item = (S, usize)>,
        local_datacenter: Option<&str>,
    ) -> Result<ReplicationConfig> {
        let config = ReplicationConfig {
            datacenters: datacenters
                .into_iter()
                .map(|(dc, n)| (dc.into(), n))
                .collect(),
            local_datacenter: local_datacenter.map(str::to_owned),
        };
        config.validate()?;
        Ok(config)
    }

    /// `replicas` copies in [`DEFAULT_DATACENTER`], which is local. Not validated: a zero
    /// factor is refused by [`validate`](Self::validate) and [`requirement`](Self::requirement).
    #[must_use]
    pub fn single_datacenter(replicas: usize) -> ReplicationConfig {
        ReplicationConfig {
            datacenters: BTreeMap::from([(DEFAULT_DATACENTER.to_owned(), replicas)]),
            local_datacenter: Some(DEFAULT_DATACENTER.to_owned()),
        }
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::NoDatacenters`], [`Error::ZeroReplicationFactor`] for a datacenter keeping no
    /// copies, [`Error::UnknownDatacenter`] for a local datacenter not listed.
    pub fn validate(&self) -> Result<()> {
        if self.datacenters.is_empty() {
            return Err(Error::NoDatacenters);
        }
        if let Some((dc, _)) = self.datacenters.iter().find(|(_, n)| **n == 0) {
            return Err(Error::ZeroReplicationFactor {
                datacenter: dc.clone(),
            });
        }
        if let Some(local) = &self.local_datacenter {
            if !self.datacenters.contains_key(local) {
                return Err(Error::UnknownDatacenter(local.clone()));
            }
        }
        Ok(())
    }

    /// N: the copies kept over all datacenters.
    #[must_use]
    pub fn replication_factor(&self) -> usize {
        self.datacenters.values().sum()
    }

    /// What `level` asks of the replicas under this config.
    ///
    /// # Errors
    /// Any error of [`validate`](Self::validate); [`Error::ZeroConsistency`] for
    /// `Count(0)`; [`Error::LevelExceedsReplicas`] for a level asking more than N (or than the
    /// local datacenter keeps); [`Error::NoLocalDatacenter`] for `LOCAL_QUORUM` without one.
    pub fn requirement(&self, level: ConsistencyLevel) -> Result<Requirement> {
        self.validate()?;
        let n = self.replication_factor();
        let majority = |k: usize| k / 2 + 1;
        let anywhere = |needed: usize| {
            if needed > n {
                Err(Error::LevelExceedsReplicas {
                    level: level.to_string(),
                    required: needed,
                    available: n,
                })
            } else {
                Ok(Requirement {
                    level,
                    total: needed,
                    per_datacenter: Vec::new(),
                })
            }
        };
        let requirement = match level {
            ConsistencyLevel::One => anywhere(1)?,
            ConsistencyLevel::Two => anywhere(2)?,
            ConsistencyLevel::Three => anywhere(3)?,
            ConsistencyLevel::Quorum => anywhere(majority(n))?,
            ConsistencyLevel::All => anywhere(n)?,
            ConsistencyLevel::Count(0) => return Err(Error::ZeroConsistency),
            ConsistencyLevel::Count(k) => anywhere(usize::try_from(k).unwrap_or(usize::MAX))?,
            ConsistencyLevel::LocalQuorum => {
                let local = self
                    .local_datacenter
                    .as_ref()
                    .ok_or(Error::NoLocalDatacenter("LOCAL_QUORUM"))?;
                let kept = self
                    .datacenters
                    .get(local)
                    .copied()
                    .ok_or_else(|| Error::UnknownDatacenter(local.clone()))?;
                Requirement {
                    level,
                    total: 0,
                    per_datacenter: vec![(local.clone(), majority(kept))],
                }
            }
            ConsistencyLevel::EachQuorum => Requirement {
                level,
                total: 0,
                per_datacenter: self
                    .datacenters
                    .iter()
                    .map(|(dc, kept)| (dc.clone(), majority(*kept)))
                    .collect(),
            },
        };
        tracing::debug!(
            %level,
            replication_factor = n,
            total = requirement.total,
            per_datacenter = ?requirement.per_datacenter,
            "consistency requirement"
        );
        Ok(requirement)
    }
}

/// The N / R / W settings of a keyspace: the replication config and the levels its reads and
/// writes use. Default: three replicas, `QUORUM` reads and writes.
///
/// ```
/// use ha_replication::{ConsistencyLevel, QuorumConfig, ReplicationConfig};
///
/// let config = QuorumConfig::default();
/// config.validate()?;
/// assert!(config.reads_see_acknowledged_writes()); // 2 + 2 > 3
/// let fast = QuorumConfig { read: ConsistencyLevel::One, ..QuorumConfig::default() };
/// assert!(!fast.reads_see_acknowledged_writes()); // 1 + 2 = 3
/// # Ok::<(), ha_replication::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct QuorumConfig {
    /// Copies kept per datacenter (N); default three in one datacenter.
    pub replication: ReplicationConfig,
    /// The level reads wait for (R); default `QUORUM`.
    pub read: ConsistencyLevel,
    /// The level writes wait for (W); default `QUORUM`.
    pub write: ConsistencyLevel,
}

impl Default for QuorumConfig {
    fn default() -> Self {
        QuorumConfig {
            replication: ReplicationConfig::default(),
            read: ConsistencyLevel::Quorum,
            write: ConsistencyLevel::Quorum,
        }
    }
}

impl QuorumConfig {
    /// Checks the settings: the replication config and both levels under it.
    ///
    /// # Errors
    /// As [`ReplicationConfig::requirement`] for either level.
    pub fn validate(&self) -> Result<()> {
        self.read_requirement()?;
        self.write_requirement()?;
        Ok(())
    }

    /// What a read needs.
    ///
    /// # Errors
    /// As [`ReplicationConfig::requirement`].
    pub fn read_requirement(&self) -> Result<Requirement> {
        self.replication.requirement(self.read)
    }

    /// What a write needs.
    ///
    /// # Errors
    /// As [`ReplicationConfig::requirement`].
    pub fn write_requirement(&self) -> Result<Requirement> {
        self.replication.requirement(self.write)
    }

    /// Whether every read quorum meets every write quorum, so a read sees every write
    /// acknowledged before it began — exactly, for every mix of levels, counting per-datacenter
    /// minimums as well as totals (with strict quorums: a sloppy quorum's stand-ins do not
    /// count). False for an invalid config.
    ///
    /// A read set and a write set can be disjoint exactly when, in every datacenter `d`,
    /// `r_d + w_d ≤ N_d` (its per-datacenter minimums fit side by side), and the replies each
    /// still needs beyond its per-datacenter minimums to reach its total fit in what is left:
    /// `max(0, R − Σ r_d) + max(0, W − Σ w_d) ≤ Σ (N_d − r_d − w_d)`. This returns the negation.
    /// So `QUORUM` reads with `EACH_QUORUM` writes over 3 + 3 replicas overlap (4 + 2 + 2 > 6),
    /// and so do `ALL` reads with anything.
    ///
    /// `LOCAL_QUORUM` counts in the config's [`local_datacenter`](ReplicationConfig::local_datacenter):
    /// the answer holds for reads and writes coordinated from that same datacenter. A
    /// `LOCAL_QUORUM` write from another datacenter is not seen by a `LOCAL_QUORUM` read here;
    /// check such a pair with a config whose read and write levels say so (for example
    /// `EACH_QUORUM` writes).
    ///
    /// ```
    /// use ha_replication::{ConsistencyLevel, QuorumConfig, ReplicationConfig};
    ///
    /// let replication = ReplicationConfig::new([("eu", 3), ("us", 3)], Some("eu"))?;
    /// let config = |read, write| QuorumConfig { replication: replication.clone(), read, write };
    /// assert!(config(ConsistencyLevel::Quorum, ConsistencyLevel::EachQuorum).reads_see_acknowledged_writes());
    /// assert!(config(ConsistencyLevel::All, ConsistencyLevel::LocalQuorum).reads_see_acknowledged_writes());
    /// assert!(!config(ConsistencyLevel::Two, ConsistencyLevel::EachQuorum).reads_see_acknowledged_writes());
    /// # Ok::<(), ha_replication::Error>(())
    /// ```
    #[must_use]
    pub fn reads_see_acknowledged_writes(&self) -> bool {
        let (Ok(r), Ok(w)) = (self.read_requirement(), self.write_requirement()) else {
            return false;
        };
        let need_in = |req: &Requirement, dc: &str| {
            req.per_datacenter
                .iter()
                .filter(|(d, _)| d == dc)
                .map(|(_, n)| *n)
                .sum::<usize>()
        };
        let mut spare = 0usize;
        for (dc, kept) in &self.replication.datacenters {
            let (r_dc, w_dc) = (need_in(&r, dc), need_in(&w, dc));
            match kept.checked_sub(r_dc + w_dc) {
                Some(left) => spare += left,
                None => {
                    tracing::debug!(datacenter = %dc, r_dc, w_dc, kept, "quorums overlap in a datacenter");
                    return true;
                }
            }
        }
        let minimums =
            |req: &Requirement| req.per_datacenter.iter().map(|(_, n)| *n).sum::<usize>();
        let extra_r = r.total.saturating_sub(minimums(&r));
        let extra_w = w.total.saturating_sub(minimums(&w));
        let overlap = extra_r + extra_w > spare;
        tracing::debug!(
            extra_r,
            extra_w,
            spare,
            overlap,
            "read and write quorum overlap"
        );
        overlap
    }
}

/// What an operation needs to succeed: a number of replies from anywhere, and a number from each
/// listed datacenter. Both must be met.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Requirement {
    /// The level it came from.
    pub level: ConsistencyLevel,
    /// Successful replies needed over all datacenters (0 when only per-datacenter counts apply).
    pub total: usize,
    /// Successful replies needed in each listed datacenter, sorted by name.
    pub per_datacenter: Vec<(String, usize)>,
}

impl Requirement {
    /// Exactly `count` replies from anywhere (Dynamo's R or W), checked only against the replica
    /// set an operation is given.
    ///
    /// # Errors
    /// [`Error::ZeroConsistency`] for zero.
    pub fn count(count: usize) -> Result<Requirement> {
        if count == 0 {
            return Err(Error::ZeroConsistency);
        }
        Ok(Requirement {
            level: ConsistencyLevel::Count(u32::try_from(count).unwrap_or(u32::MAX)),
            total: count,
            per_datacenter: Vec::new(),
        })
    }

    /// A majority of `replicas`.
    ///
    /// # Errors
    /// [`Error::ZeroReplicationFactor`] for zero replicas.
    pub fn majority(replicas: usize) -> Result<Requirement> {
        if replicas == 0 {
            return Err(Error::ZeroReplicationFactor {
                datacenter: DEFAULT_DATACENTER.to_owned(),
            });
        }
        Requirement::count(replicas / 2 + 1).map(|r| Requirement {
            level: ConsistencyLevel::Quorum,
            ..r
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_above_n_and_zero_factors_are_refused() {
        let one = ReplicationConfig::single_datacenter(1);
        assert!(matches!(
            one.requirement(ConsistencyLevel::Two),
            Err(Error::LevelExceedsReplicas {
                required: 2,
                available: 1,
                ..
            })
        ));
        assert!(matches!(
            ReplicationConfig::single_datacenter(0).requirement(ConsistencyLevel::One),
            Err(Error::ZeroReplicationFactor { .. })
        ));
        assert_eq!(
            one.requirement(ConsistencyLevel::Count(0)),
            Err(Error::ZeroConsistency)
        );
        assert_eq!(
            ReplicationConfig::new([("a", 1)], Some("b")),
            Err(Error::UnknownDatacenter("b".into()))
        );
        let no_local = ReplicationConfig::new([("a", 3)], None).unwrap();
        assert_eq!(
            no_local.requirement(ConsistencyLevel::LocalQuorum),
            Err(Error::NoLocalDatacenter("LOCAL_QUORUM"))
        );
        assert_eq!(
            ReplicationConfig::new(Vec::<(String, usize)>::new(), None),
            Err(Error::NoDatacenters)
        );
    }

    #[test]
    fn local_quorum_pairs_overlap_within_the_local_datacenter_only() {
        let replication = ReplicationConfig::new([("eu", 3), ("us", 3)], Some("eu")).unwrap();
        let local = QuorumConfig {
            replication: replication.clone(),
            read: ConsistencyLevel::LocalQuorum,
            write: ConsistencyLevel::LocalQuorum,
        };
        assert!(local.reads_see_acknowledged_writes());
        let one_each = QuorumConfig {
            replication,
            read: ConsistencyLevel::One,
            write: ConsistencyLevel::EachQuorum,
        };
        assert!(!one_each.reads_see_acknowledged_writes());
        let bad = QuorumConfig {
            read: ConsistencyLevel::Count(9),
            ..QuorumConfig::default()
        };
        assert!(bad.validate().is_err());
        assert!(!bad.reads_see_acknowledged_writes());
    }

    /// Review item 10: the check ignored the totals per-datacenter levels imply, so it said
    /// "may miss" for pairs that always overlap.
    #[test]
    fn per_datacenter_levels_count_towards_the_overlap_exactly() {
        use ConsistencyLevel::*;
        let replication = ReplicationConfig::new([("eu", 3), ("us", 3)], Some("eu")).unwrap();
        let overlaps = |read, write| {
            QuorumConfig {
                replication: replication.clone(),
                read,
                write,
            }
            .reads_see_acknowledged_writes()
        };
        assert!(overlaps(Quorum, EachQuorum)); // 4 + (2 + 2) > 6
        assert!(overlaps(All, LocalQuorum));
        assert!(overlaps(EachQuorum, EachQuorum));
        assert!(overlaps(LocalQuorum, EachQuorum)); // 2 + 2 > 3 in eu
        assert!(!overlaps(Two, EachQuorum)); // 2 + (2 + 2) = 6: the spare eu and us replica
        assert!(!overlaps(Quorum, LocalQuorum)); // 4 + 2 = 6: one eu replica and all of us
        assert!(overlaps(Count(5), LocalQuorum)); // 5 + 2 > 6
        assert!(!overlaps(One, One));
    }

    /// The formula against brute force: every way to place a read set and a write set.
    #[test]
    fn the_overlap_check_agrees_with_trying_every_pair_of_sets() {
        use ConsistencyLevel::*;
        let levels = [
            One,
            Two,
            Three,
            Quorum,
            All,
            LocalQuorum,
            EachQuorum,
            Count(4),
        ];
        for (eu, us) in [(3usize, 3usize), (2, 3), (1, 4), (3, 1)] {
            let replication = ReplicationConfig::new([("eu", eu), ("us", us)], Some("eu")).unwrap();
            let n = eu + us;
            // Replica i is in eu when i < eu.
            let meets = |req: &Requirement, set: u32| {
                let count = |dc: &str| {
                    (0..n)
                        .filter(|&i| set & (1 << i) != 0 && ((i < eu) == (dc == "eu")))
                        .count()
                };
                set.count_ones() as usize >= req.total
                    && req.per_datacenter.iter().all(|(dc, k)| count(dc) >= *k)
            };
            for read in levels {
                for write in levels {
                    let config = QuorumConfig {
                        replication: replication.clone(),
                        read,
                        write,
                    };
                    let (Ok(r), Ok(w)) = (config.read_requirement(), config.write_requirement())
                    else {
                        assert!(!config.reads_see_acknowledged_writes());
                        continue;
                    };
                    let all = (1u32 << n) - 1;
                    let disjoint = (0..=all).any(|rs| meets(&r, rs) && meets(&w, all & !rs));
                    assert_eq!(
                        config.reads_see_acknowledged_writes(),
                        !disjoint,
                        "{read} / {write} over eu {eu}, us {us}"
                    );
                }
            }
        }
    }

    #[test]
    fn quorum_is_a_majority_of_all_replicas() {
        for (n, q) in [(1, 1), (2, 2), (3, 2), (4, 3), (5, 3)] {
            let config = ReplicationConfig::single_datacenter(n);
            assert_eq!(
                config.requirement(ConsistencyLevel::Quorum).unwrap().total,
                q
            );
            assert_eq!(config.requirement(ConsistencyLevel::All).unwrap().total, n);
        }
    }
}
