//! Whether a replica keeps up: in sync, lagging or disconnected, against configured limits.

use std::fmt;
use std::time::Duration;

use crate::error::{in_range, non_zero};
use crate::{LagStage, Result};

/// Where a replica stands against the configured lag limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum LagStatus {
    /// Reporting, and its lag is within the limits.
    InSync,
    /// Reporting, but its lag (in time or in records) is over a limit.
    Lagging,
    /// Silent for longer than allowed, or never heard from.
    Disconnected,
}

impl fmt::Display for LagStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LagStatus::InSync => "in sync",
            LagStatus::Lagging => "lagging",
            LagStatus::Disconnected => "disconnected",
        })
    }
}

/// The limits a replica's lag is judged against.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct LagLimits {
    /// The stage whose lag is judged. Default [`LagStage::Replay`]: when a write becomes
    /// visible to reads on the replica.
    pub stage: LagStage,
    /// The largest lag allowed at `quantile` over the window. Default 100 ms (a p99 target).
    pub max_lag: Duration,
    /// The quantile of the window's lag compared with `max_lag`, in `[0, 1]`. Default 0.99.
    pub quantile: f64,
    /// The most records the replica may be behind the primary's latest position, if limited.
    /// Default `None`.
    pub max_records_behind: Option<u64>,
    /// How long a replica may stay silent before it counts as disconnected. Default 10 s.
    pub disconnect_after: Duration,
}

impl Default for LagLimits {
    fn default() -> Self {
        LagLimits {
            stage: LagStage::Replay,
            max_lag: Duration::from_millis(100),
            quantile: 0.99,
            max_records_behind: None,
            disconnect_after: Duration::from_secs(10),
        }
    }
}

impl LagLimits {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`ha_core::Error::Zero`] for a zero `disconnect_after`, [`ha_core::Error::OutOfRange`] or
    /// [`ha_core::Error::NotFinite`] for a quantile outside `[0, 1]`.
    pub fn validate(&self) -> Result<()> {
        non_zero("disconnect after", self.disconnect_after)?;
        in_range("lag quantile", self.quantile, 0.0, 1.0, "[0, 1]")?;
        Ok(())
    }

    /// The status of a replica silent for `silent_for` (`None`: never heard from), whose lag at
    /// the configured quantile is `lag` (`None`: nothing measured in the window) and which is
    /// `records_behind` the primary.
    ///
    /// A replica with no lag measured in the window (caught up and idle, or just connected) is
    /// judged on records alone.
    ///
    /// ```
    /// use std::time::Duration;
    /// use ha_replication::{LagLimits, LagStatus};
    ///
    /// let limits = LagLimits::default();
    /// let ms = Duration::from_millis;
    /// assert_eq!(limits.classify(Some(ms(500)), Some(ms(40)), 3), LagStatus::InSync);
    /// assert_eq!(limits.classify(Some(ms(500)), Some(ms(250)), 3), LagStatus::Lagging);
    /// assert_eq!(limits.classify(Some(Duration::from_secs(11)), Some(ms(40)), 3), LagStatus::Disconnected);
    /// assert_eq!(limits.classify(None, None, 0), LagStatus::Disconnected);
    /// ```
    #[must_use]
    pub fn classify(
        &self,
        silent_for: Option<Duration>,
        lag: Option<Duration>,
        records_behind: u64,
    ) -> LagStatus {
        match silent_for {
            None => return LagStatus::Disconnected,
            Some(s) if s > self.disconnect_after => return LagStatus::Disconnected,
            Some(_) => {}
        }
        let late = lag.is_some_and(|l| l > self.max_lag);
        let behind = self
            .max_records_behind
            .is_some_and(|max| records_behind > max);
        if late || behind {
            LagStatus::Lagging
        } else {
            LagStatus::InSync
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_validated() {
        let mut l = LagLimits {
            disconnect_after: Duration::ZERO,
            ..LagLimits::default()
        };
        assert!(l.validate().is_err());
        l.disconnect_after = Duration::from_secs(1);
        l.quantile = 1.5;
        assert!(l.validate().is_err());
        l.quantile = f64::NAN;
        assert!(l.validate().is_err());
        l.quantile = 0.5;
        assert!(l.validate().is_ok());
    }

    #[test]
    fn records_behind_make_a_replica_lag_only_when_limited() {
        let mut l = LagLimits::default();
        let heard = Some(Duration::from_millis(10));
        assert_eq!(l.classify(heard, None, 1_000_000), LagStatus::InSync);
        l.max_records_behind = Some(1000);
        assert_eq!(l.classify(heard, None, 1000), LagStatus::InSync);
        assert_eq!(l.classify(heard, None, 1001), LagStatus::Lagging);
        // Silence exactly at the limit is still connected.
        assert_eq!(
            l.classify(Some(l.disconnect_after), None, 0),
            LagStatus::InSync
        );
    }
}
