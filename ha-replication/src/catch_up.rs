//! How a replica that fell behind gets level again: stream the records it misses, or take a
//! snapshot when the primary's log no longer reaches back far enough.

use std::time::Duration;

use crate::error::{in_range, non_zero};
use crate::{Epoch, EpochHistory, Error, Position, Result};

/// What the primary's log still holds: every record from `oldest` to `head`, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetainedLog {
    oldest: Position,
    head: Position,
}

impl RetainedLog {
    /// The log holding `oldest..=head`. An empty log (everything compacted away) is
    /// `oldest = head + 1`.
    ///
    /// # Errors
    /// [`ha_core::Error::Inverted`] if `oldest` lies more than one past `head`.
    pub fn new(oldest: Position, head: Position) -> Result<RetainedLog> {
        if oldest.0 > head.0.saturating_add(1) {
            return Err(Error::Core(ha_core::Error::Inverted {
                lower: "oldest retained position",
                lower_value: oldest.0 as f64,
                upper: "head position + 1",
                upper_value: head.0 as f64 + 1.0,
            }));
        }
        Ok(RetainedLog { oldest, head })
    }

    /// The oldest position still held.
    #[must_use]
    pub fn oldest(&self) -> Position {
        self.oldest
    }

    /// The newest position.
    #[must_use]
    pub fn head(&self) -> Position {
        self.head
    }
}

/// How fast catching up goes, to estimate how long a plan takes.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CatchUpConfig {
    /// Records (position units) a replica applies per second while streaming, above 0.
    /// Default 10 000.
    pub stream_records_per_second: f64,
    /// How long taking, shipping and loading a snapshot takes. Default 10 min.
    pub snapshot_duration: Duration,
}

impl Default for CatchUpConfig {
    fn default() -> Self {
        CatchUpConfig {
            stream_records_per_second: 10_000.0,
            snapshot_duration: Duration::from_secs(600),
        }
    }
}

/// What a replica must do to catch up with the primary.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case", tag = "kind")
)]
///
/// This is the choice PostgreSQL makes between streaming from a replication slot's retained WAL
/// and a new `pg_basebackup`, and Raft between `AppendEntries` and `InstallSnapshot` once the
/// leader has compacted its log past a follower's index.
pub enum CatchUpPlan {
    /// Nothing to do: it holds everything the primary wrote.
    UpToDate,
    /// Stream the records `from..=to` from the primary's log.
    Stream {
        /// The first record to send (one past the replica's position).
        from: Position,
        /// The last record to send (the primary's head).
        to: Position,
        /// How many records that is.
        records: u64,
        /// How long applying them is expected to take.
        estimated: Duration,
    },
    /// The log starts after the replica's position: the records between are gone, so the
    /// replica must load a snapshot of the primary and then stream from the snapshot's position.
    Snapshot {
        /// The replica's position.
        replica_at: Position,
        /// The oldest position the log still holds.
        log_starts_at: Position,
        /// How long the snapshot is expected to take.
        estimated: Duration,
    },
    /// The node holds records after the current epoch's fork from its own (a deposed
    /// primary's unreplicated writes): it must discard them, rewinding to `fork_at` (as
    /// `pg_rewind` does), and then catch up from there.
    Rewind {
        /// The node's position.
        replica_at: Position,
        /// The last position its log shares with the current epoch.
        fork_at: Position,
        /// How many records it must discard.
        records_discarded: u64,
    },
    /// The replica is past the primary's head: it holds records the primary never had (a
    /// deposed primary's unreplicated writes). It must be rewound to a common position (as
    /// `pg_rewind` does) or re-cloned before it can follow.
    Diverged {
        /// The replica's position.
        replica_at: Position,
        /// The primary's head.
        head: Position,
    },
}

impl CatchUpConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`ha_core::Error::OutOfRange`] or [`ha_core::Error::NotFinite`] for a stream rate that
    /// is not a positive finite number, [`ha_core::Error::Zero`] for a zero snapshot duration.
    pub fn validate(&self) -> Result<()> {
        in_range(
            "stream records per second",
            self.stream_records_per_second,
            f64::MIN_POSITIVE,
            f64::MAX,
            "(0, ∞)",
        )?;
        non_zero("snapshot duration", self.snapshot_duration)?;
        Ok(())
    }

    /// The plan for a replica at `replica` against `log`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use ha_replication::{CatchUpConfig, CatchUpPlan, Position, RetainedLog};
    ///
    /// let config = CatchUpConfig::default(); // 10 000 records/s
    /// let log = RetainedLog::new(Position(5_000), Position(25_000))?;
    /// assert_eq!(
    ///     config.plan(Position(15_000), log),
    ///     CatchUpPlan::Stream {
    ///         from: Position(15_001),
    ///         to: Position(25_000),
    ///         records: 10_000,
    ///         estimated: Duration::from_secs(1),
    ///     }
    /// );
    /// assert!(matches!(config.plan(Position(1_000), log), CatchUpPlan::Snapshot { .. }));
    /// assert_eq!(config.plan(Position(25_000), log), CatchUpPlan::UpToDate);
    /// # Ok::<(), ha_replication::Error>(())
    /// ```
    #[must_use]
    pub fn plan(&self, replica: Position, log: RetainedLog) -> CatchUpPlan {
        if replica > log.head {
            return CatchUpPlan::Diverged {
                replica_at: replica,
                head: log.head,
            };
        }
        if replica == log.head {
            return CatchUpPlan::UpToDate;
        }
        let from = Position(replica.0 + 1);
        if from < log.oldest {
            return CatchUpPlan::Snapshot {
                replica_at: replica,
                log_starts_at: log.oldest,
                estimated: self.snapshot_duration,
            };
        }
        let records = log.head.records_after(replica);
        let seconds = records as f64 / self.stream_records_per_second;
        CatchUpPlan::Stream {
            from,
            to: log.head,
            records,
            estimated: Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX),
        }
    }
}

impl CatchUpConfig {
    /// The plan for a node rejoining after failovers: its log was written in `epoch` up to
    /// `position`. A node holding records past its epoch's fork must [rewind](CatchUpPlan::Rewind)
    /// first; otherwise it is planned as [`plan`](Self::plan) plans it.
    ///
    /// ```
    /// use ha_replication::{CatchUpConfig, CatchUpPlan, Epoch, EpochHistory, Position, RetainedLog};
    ///
    /// let mut history = EpochHistory::new(Epoch(1));
    /// history.on_promotion(Epoch(2), Position(100))?;
    /// let log = RetainedLog::new(Position(1), Position(150))?; // the new primary wrote on
    /// let config = CatchUpConfig::default();
    /// // The deposed primary stopped at 103 in epoch 1: positions 101..=103 must go.
    /// assert_eq!(
    ///     config.plan_rejoin(Epoch(1), Position(103), &history, log)?,
    ///     CatchUpPlan::Rewind { replica_at: Position(103), fork_at: Position(100), records_discarded: 3 },
    /// );
    /// assert!(matches!(config.plan_rejoin(Epoch(1), Position(95), &history, log)?, CatchUpPlan::Stream { .. }));
    /// # Ok::<(), ha_replication::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`EpochHistory::divergence`].
    pub fn plan_rejoin(
        &self,
        epoch: Epoch,
        position: Position,
        history: &EpochHistory,
        log: RetainedLog,
    ) -> Result<CatchUpPlan> {
        let plan = match history.divergence(epoch, position)? {
            Some(fork_at) => CatchUpPlan::Rewind {
                replica_at: position,
                fork_at,
                records_discarded: position.records_after(fork_at),
            },
            None => self.plan(position, log),
        };
        tracing::debug!(epoch = epoch.0, position = position.0, ?plan, "rejoin plan");
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_bounds_and_rates_are_validated() {
        assert!(RetainedLog::new(Position(11), Position(10)).is_ok());
        assert!(RetainedLog::new(Position(12), Position(10)).is_err());
        assert!(RetainedLog::new(Position(u64::MAX), Position(u64::MAX)).is_ok());
        for rate in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let c = CatchUpConfig {
                stream_records_per_second: rate,
                ..CatchUpConfig::default()
            };
            assert!(c.validate().is_err(), "{rate}");
        }
        let c = CatchUpConfig {
            snapshot_duration: Duration::ZERO,
            ..CatchUpConfig::default()
        };
        assert!(c.validate().is_err());
        assert!(CatchUpConfig::default().validate().is_ok());
    }

    #[test]
    fn the_record_just_before_the_log_start_still_streams() {
        let c = CatchUpConfig::default();
        let log = RetainedLog::new(Position(100), Position(200)).unwrap();
        assert!(matches!(
            c.plan(Position(99), log),
            CatchUpPlan::Stream {
                from: Position(100),
                records: 101,
                ..
            }
        ));
        assert!(matches!(
            c.plan(Position(98), log),
            CatchUpPlan::Snapshot { .. }
        ));
        assert_eq!(
            c.plan(Position(201), log),
            CatchUpPlan::Diverged {
                replica_at: Position(201),
                head: Position(200)
            }
        );
        // A fully compacted log: only a replica at the head needs nothing.
        let empty = RetainedLog::new(Position(201), Position(200)).unwrap();
        assert_eq!(c.plan(Position(200), empty), CatchUpPlan::UpToDate);
        assert!(matches!(
            c.plan(Position(199), empty),
            CatchUpPlan::Snapshot { .. }
        ));
    }
}
