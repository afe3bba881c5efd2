//! Counting replies against a [`Requirement`]: met, still possible, or impossible — the core the
//! write and read coordinators share.

use std::time::Instant;

use ha_core::NodeId;

use crate::{Error, ReplicaSet, Requirement, Result};

/// Why an operation failed to reach its consistency level.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum QuorumFailure {
    /// So many replicas failed that the level cannot be met even if every other answers.
    NotEnoughReplicas {
        /// Where it fell short: a datacenter's name, or `None` for the count over all.
        datacenter: Option<String>,
        /// Successful replies needed there.
        needed: usize,
        /// Successful replies received there.
        succeeded: usize,
        /// Failed replies received there.
        failed: usize,
    },
    /// The deadline passed before enough replicas answered. A write that timed out may still
    /// have been applied by some replicas: its outcome is unknown, not "not written".
    Timeout {
        /// Where it fell short: a datacenter's name, or `None` for the count over all.
        datacenter: Option<String>,
        /// Successful replies needed there.
        needed: usize,
        /// Successful replies received there.
        succeeded: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reply {
    Pending,
    Succeeded,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TallyStatus {
    Pending,
    Met,
    Failed(QuorumFailure),
}

/// The count of one datacenter a requirement names.
#[derive(Debug, Clone, Copy)]
struct DcCount {
    /// Index into the replica set's datacenters.
    dc: usize,
    needed: usize,
    size: usize,
    ok: usize,
    failed: usize,
}

/// Replies of one operation phase, per replica (bit masks: a replica set holds at most
/// [`MAX_REPLICAS`](crate::replica_set::MAX_REPLICAS)) and per datacenter the requirement names.
/// Building one allocates only for per-datacenter levels.
#[derive(Debug, Clone)]
pub(crate) struct Tally {
    replicas: ReplicaSet,
    ok_mask: u128,
    failed_mask: u128,
    need_total: usize,
    dcs: Vec<DcCount>,
    ok_total: usize,
    failed_total: usize,
}

impl Tally {
    pub(crate) fn new(replicas: ReplicaSet, requirement: &Requirement) -> Result<Tally> {
        // A requirement built by hand (its fields are public) is checked as the levels are: at
        // least one replica in all, none of zero in a datacenter, no datacenter twice.
        if requirement.total == 0 && requirement.per_datacenter.is_empty()
            || requirement
                .per_datacenter
                .iter()
                .any(|(_, needed)| *needed == 0)
        {
            return Err(Error::ZeroConsistency);
        }
        let mut names: Vec<&String> = requirement.per_datacenter.iter().map(|(n, _)| n).collect();
        names.sort_unstable();
        if let Some(pair) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(Error::DuplicateDatacenter(pair[0].clone()));
        }
        if requirement.total > replicas.len() {
            return Err(Error::Unavailable {
                scope: "all datacenters".to_owned(),
                needed: requirement.total,
                available: replicas.len(),
            });
        }
        let mut dcs = Vec::new();
        for (name, needed) in &requirement.per_datacenter {
            let index = replicas.datacenters().binary_search(name);
            let size = index.map_or(0, |i| replicas.datacenter_size(i));
            match index {
                Ok(dc) if size >= *needed => dcs.push(DcCount {
                    dc,
                    needed: *needed,
                    size,
                    ok: 0,
                    failed: 0,
                }),
                _ => {
                    return Err(Error::Unavailable {
                        scope: name.clone(),
                        needed: *needed,
                        available: size,
                    });
                }
            }
        }
        Ok(Tally {
            replicas,
            ok_mask: 0,
            failed_mask: 0,
            need_total: requirement.total,
            dcs,
            ok_total: 0,
            failed_total: 0,
        })
    }

    pub(crate) fn replicas(&self) -> &ReplicaSet {
        &self.replicas
    }

    /// Records a reply; returns the replica's index.
    pub(crate) fn record(&mut self, from: &NodeId, succeeded: bool) -> Result<usize> {
        let index = self
            .replicas
            .index_of(from)
            .ok_or_else(|| Error::UnknownReplica(from.clone()))?;
        let bit = 1u128 << index;
        if (self.ok_mask | self.failed_mask) & bit != 0 {
            return Err(Error::DuplicateReply(from.clone()));
        }
        let dc = self.replicas.datacenter_index(index);
        let counted = self.dcs.iter_mut().find(|c| c.dc == dc);
        if succeeded {
            self.ok_mask |= bit;
            self.ok_total += 1;
            if let Some(c) = counted {
                c.ok += 1;
            }
        } else {
            self.failed_mask |= bit;
            self.failed_total += 1;
            if let Some(c) = counted {
                c.failed += 1;
            }
        }
        Ok(index)
    }

    pub(crate) fn reply(&self, index: usize) -> Reply {
        let bit = 1u128
            .checked_shl(u32::try_from(index).unwrap_or(u32::MAX))
            .unwrap_or(0);
        if self.ok_mask & bit != 0 {
            Reply::Succeeded
        } else if self.failed_mask & bit != 0 {
            Reply::Failed
        } else {
            Reply::Pending
        }
    }

    pub(crate) fn succeeded(&self) -> usize {
        self.ok_total
    }

    pub(crate) fn status(&self) -> TallyStatus {
        let n = self.replicas.len();
        if n - self.failed_total < self.need_total {
            return TallyStatus::Failed(QuorumFailure::NotEnoughReplicas {
                datacenter: None,
                needed: self.need_total,
                succeeded: self.ok_total,
                failed: self.failed_total,
            });
        }
        if let Some(c) = self.dcs.iter().find(|c| c.size - c.failed < c.needed) {
            return TallyStatus::Failed(QuorumFailure::NotEnoughReplicas {
                datacenter: Some(self.replicas.datacenters()[c.dc].clone()),
                needed: c.needed,
                succeeded: c.ok,
                failed: c.failed,
            });
        }
        if self.ok_total >= self.need_total && self.dcs.iter().all(|c| c.ok >= c.needed) {
            TallyStatus::Met
        } else {
            TallyStatus::Pending
        }
    }

    /// The failure to report when the deadline passes with the requirement unmet.
    pub(crate) fn timeout_failure(&self) -> QuorumFailure {
        match self.dcs.iter().find(|c| c.ok < c.needed) {
            Some(c) if self.ok_total >= self.need_total => QuorumFailure::Timeout {
                datacenter: Some(self.replicas.datacenters()[c.dc].clone()),
                needed: c.needed,
                succeeded: c.ok,
            },
            _ => QuorumFailure::Timeout {
                datacenter: None,
                needed: self.need_total,
                succeeded: self.ok_total,
            },
        }
    }

    /// Replicas that replied with success.
    pub(crate) fn succeeded_nodes(&self) -> impl Iterator<Item = &NodeId> {
        let mask = self.ok_mask;
        self.replicas
            .nodes()
            .iter()
            .enumerate()
            .filter(move |(i, _)| mask & (1u128 << i) != 0)
            .map(|(_, id)| id)
    }

    /// Recounts the counters from the per-replica replies.
    pub(crate) fn check_invariants(&self) {
        assert_eq!(
            self.ok_mask & self.failed_mask,
            0,
            "a replica both succeeded and failed"
        );
        assert_eq!(
            self.ok_mask.count_ones() as usize,
            self.ok_total,
            "succeeded count"
        );
        assert_eq!(
            self.failed_mask.count_ones() as usize,
            self.failed_total,
            "failed count"
        );
        assert!(
            self.replicas.len() >= 128
                || (self.ok_mask | self.failed_mask) >> self.replicas.len() == 0
        );
        for c in &self.dcs {
            let in_dc = |mask: u128| {
                (0..self.replicas.len())
                    .filter(|&i| {
                        mask & (1u128 << i) != 0 && self.replicas.datacenter_index(i) == c.dc
                    })
                    .count()
            };
            assert_eq!(in_dc(self.ok_mask), c.ok, "succeeded in datacenter");
            assert_eq!(in_dc(self.failed_mask), c.failed, "failed in datacenter");
        }
    }
}

/// Where an operation stands after an input.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Progress<T> {
    /// Not decided: wait for more replies or the deadline.
    NeedMore,
    /// The consistency level was met; for a read, the resolved value (`None`: no replica that
    /// answered holds the key).
    Succeeded(T),
    /// The level cannot be met, or the deadline passed.
    Failed(QuorumFailure),
}

impl<T> Progress<T> {
    /// Whether the operation is decided (succeeded or failed).
    #[must_use]
    pub fn is_done(&self) -> bool {
        !matches!(self, Progress::NeedMore)
    }
}

pub(crate) fn deadline_passed(deadline: Instant, now: Instant) -> bool {
    now >= deadline
}
