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

/// Replies of one operation phase, per replica and per datacenter.
#[derive(Debug, Clone)]
pub(crate) struct Tally {
    replicas: ReplicaSet,
    replies: Vec<Reply>,
    need_total: usize,
    /// Per datacenter index of the replica set: needed, succeeded, failed, size.
    need_dc: Vec<usize>,
    ok_dc: Vec<usize>,
    failed_dc: Vec<usize>,
    size_dc: Vec<usize>,
    ok_total: usize,
    failed_total: usize,
}

impl Tally {
    pub(crate) fn new(replicas: ReplicaSet, requirement: &Requirement) -> Result<Tally> {
        let dcs = replicas.datacenters().len();
        let mut size_dc = vec![0; dcs];
        for i in 0..replicas.len() {
            size_dc[replicas.datacenter_index(i)] += 1;
        }
        if requirement.total > replicas.len() {
            return Err(Error::Unavailable {
                scope: "all datacenters".to_owned(),
                needed: requirement.total,
                available: replicas.len(),
            });
        }
        let mut need_dc = vec![0; dcs];
        for (dc, needed) in &requirement.per_datacenter {
            let index = replicas.datacenters().binary_search(dc);
            let available = index.map_or(0, |i| size_dc[i]);
            match index {
                Ok(i) if available >= *needed => need_dc[i] = *needed,
                _ => {
                    return Err(Error::Unavailable {
                        scope: dc.clone(),
                        needed: *needed,
                        available,
                    });
                }
            }
        }
        Ok(Tally {
            replies: vec![Reply::Pending; replicas.len()],
            replicas,
            need_total: requirement.total,
            need_dc,
            ok_dc: vec![0; dcs],
            failed_dc: vec![0; dcs],
            size_dc,
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
        if self.replies[index] != Reply::Pending {
            return Err(Error::DuplicateReply(from.clone()));
        }
        let dc = self.replicas.datacenter_index(index);
        if succeeded {
            self.replies[index] = Reply::Succeeded;
            self.ok_total += 1;
            self.ok_dc[dc] += 1;
        } else {
            self.replies[index] = Reply::Failed;
            self.failed_total += 1;
            self.failed_dc[dc] += 1;
        }
        Ok(index)
    }

    pub(crate) fn reply(&self, index: usize) -> Reply {
        self.replies.get(index).copied().unwrap_or(Reply::Pending)
    }

    pub(crate) fn succeeded(&self) -> usize {
        self.ok_total
    }

    pub(crate) fn status(&self) -> TallyStatus {
        let n = self.replicas.len();
        if self.ok_total + (n - self.ok_total - self.failed_total) < self.need_total {
            return TallyStatus::Failed(QuorumFailure::NotEnoughReplicas {
                datacenter: None,
                needed: self.need_total,
                succeeded: self.ok_total,
                failed: self.failed_total,
            });
        }
        for dc in 0..self.need_dc.len() {
            let pending = self.size_dc[dc] - self.ok_dc[dc] - self.failed_dc[dc];
            if self.ok_dc[dc] + pending < self.need_dc[dc] {
                return TallyStatus::Failed(QuorumFailure::NotEnoughReplicas {
                    datacenter: Some(self.replicas.datacenters()[dc].clone()),
                    needed: self.need_dc[dc],
                    succeeded: self.ok_dc[dc],
                    failed: self.failed_dc[dc],
                });
            }
        }
        if self.met() {
            TallyStatus::Met
        } else {
            TallyStatus::Pending
        }
    }

    fn met(&self) -> bool {
        self.ok_total >= self.need_total
            && self
                .ok_dc
                .iter()
                .zip(&self.need_dc)
                .all(|(ok, need)| ok >= need)
    }

    /// The failure to report when the deadline passes with the requirement unmet.
    pub(crate) fn timeout_failure(&self) -> QuorumFailure {
        if self.ok_total < self.need_total {
            return QuorumFailure::Timeout {
                datacenter: None,
                needed: self.need_total,
                succeeded: self.ok_total,
            };
        }
        let dc = (0..self.need_dc.len())
            .find(|&dc| self.ok_dc[dc] < self.need_dc[dc])
            .unwrap_or(0);
        QuorumFailure::Timeout {
            datacenter: self.replicas.datacenters().get(dc).cloned(),
            needed: self.need_dc.get(dc).copied().unwrap_or(0),
            succeeded: self.ok_dc.get(dc).copied().unwrap_or(0),
        }
    }

    /// Replicas that replied with success.
    pub(crate) fn succeeded_nodes(&self) -> impl Iterator<Item = &NodeId> {
        self.replicas
            .nodes()
            .iter()
            .zip(&self.replies)
            .filter(|(_, r)| **r == Reply::Succeeded)
            .map(|(id, _)| id)
    }

    /// Recounts the counters from the per-replica replies.
    pub(crate) fn check_invariants(&self) {
        let ok = self
            .replies
            .iter()
            .filter(|r| **r == Reply::Succeeded)
            .count();
        let failed = self.replies.iter().filter(|r| **r == Reply::Failed).count();
        assert_eq!(ok, self.ok_total, "succeeded count");
        assert_eq!(failed, self.failed_total, "failed count");
        assert_eq!(
            self.ok_dc.iter().sum::<usize>(),
            ok,
            "succeeded per datacenter"
        );
        assert_eq!(
            self.failed_dc.iter().sum::<usize>(),
            failed,
            "failed per datacenter"
        );
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
