//! The three stages a replica reports, as PostgreSQL's standbys do: written, flushed, replayed.

use std::fmt;

/// How far a record has gone on a replica, as PostgreSQL's `pg_stat_replication` distinguishes
/// `write_lsn`, `flush_lsn` and `replay_lsn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "lowercase")
)]
pub enum LagStage {
    /// Received and written, not yet durable (`synchronous_commit = remote_write`).
    Write,
    /// Durable on the replica (`synchronous_commit = on`).
    Flush,
    /// Applied and visible to reads on the replica (`synchronous_commit = remote_apply`).
    Replay,
}

impl LagStage {
    /// The three stages, in their order.
    pub const ALL: [LagStage; 3] = [LagStage::Write, LagStage::Flush, LagStage::Replay];

    /// The lowercase name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            LagStage::Write => "write",
            LagStage::Flush => "flush",
            LagStage::Replay => "replay",
        }
    }
}

impl fmt::Display for LagStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One value for each [`LagStage`].
///
/// ```
/// use ha_replication::{LagStage, PerStage, Position};
///
/// let report = PerStage::new(Position(120), Position(110), Position(100));
/// assert_eq!(*report.get(LagStage::Flush), Position(110));
/// assert_eq!(PerStage::uniform(Position(7)).replay, Position(7));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PerStage<T> {
    /// The write stage's value.
    pub write: T,
    /// The flush stage's value.
    pub flush: T,
    /// The replay stage's value.
    pub replay: T,
}

impl<T> PerStage<T> {
    /// The three values.
    pub fn new(write: T, flush: T, replay: T) -> PerStage<T> {
        PerStage {
            write,
            flush,
            replay,
        }
    }

    /// The value of `stage`.
    pub fn get(&self, stage: LagStage) -> &T {
        match stage {
            LagStage::Write => &self.write,
            LagStage::Flush => &self.flush,
            LagStage::Replay => &self.replay,
        }
    }

    /// The value of `stage`, to change.
    pub fn get_mut(&mut self, stage: LagStage) -> &mut T {
        match stage {
            LagStage::Write => &mut self.write,
            LagStage::Flush => &mut self.flush,
            LagStage::Replay => &mut self.replay,
        }
    }

    /// Each value mapped through `f`, which is told its stage.
    pub fn map<U>(&self, mut f: impl FnMut(LagStage, &T) -> U) -> PerStage<U> {
        PerStage {
            write: f(LagStage::Write, &self.write),
            flush: f(LagStage::Flush, &self.flush),
            replay: f(LagStage::Replay, &self.replay),
        }
    }
}

impl<T: Clone> PerStage<T> {
    /// The same value for every stage: a replica that reports only one position (it applies as
    /// it receives).
    pub fn uniform(value: T) -> PerStage<T> {
        PerStage {
            write: value.clone(),
            flush: value.clone(),
            replay: value,
        }
    }
}
