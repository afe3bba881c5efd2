//! Good and total event counts: the raw material of a request-based SLI.

use crate::{Error, Result};

/// How many events (requests, jobs, probes) were good, out of how many in all, over some window.
///
/// A plain pair of counts; [`EventCounts::new`] and [`EventCounts::validate`] check that
/// `good ≤ total`. Functions of [`crate::slo`] that take counts validate them.
///
/// ```
/// use ha_core::slo::EventCounts;
///
/// let counts = EventCounts::new(9_990, 10_000)?;
/// assert_eq!(counts.bad(), 10);
/// assert_eq!(counts.error_ratio(), 0.001);
/// assert!(EventCounts::new(11, 10).is_err());
/// # Ok::<(), ha_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct EventCounts {
    /// Events that met the SLO (served, fast enough, correct).
    pub good: u64,
    /// All events, good and bad; never less than `good`.
    pub total: u64,
}

impl EventCounts {
    /// Counts of `good` events out of `total`.
    ///
    /// # Errors
    /// [`Error::GoodExceedsTotal`] if `good > total`.
    pub fn new(good: u64, total: u64) -> Result<EventCounts> {
        let counts = EventCounts { good, total };
        counts.validate()?;
        Ok(counts)
    }

    /// Checks that `good ≤ total`.
    ///
    /// # Errors
    /// [`Error::GoodExceedsTotal`] if `good > total`.
    pub fn validate(&self) -> Result<()> {
        if self.good > self.total {
            Err(Error::GoodExceedsTotal {
                good: self.good,
                total: self.total,
            })
        } else {
            Ok(())
        }
    }

    /// Bad events: `total − good` (0 if the counts are invalid).
    #[must_use]
    pub fn bad(&self) -> u64 {
        self.total.saturating_sub(self.good)
    }

    /// The share of events that were bad, in `[0, 1]`; 0 when there were no events at all.
    #[must_use]
    pub fn error_ratio(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.bad() as f64 / self.total as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_ratio_is_bad_over_total() {
        let counts = EventCounts::new(999, 1_000).unwrap();
        assert_eq!(counts.bad(), 1);
        assert_eq!(counts.error_ratio(), 0.001);
        assert_eq!(EventCounts::new(0, 4).unwrap().error_ratio(), 1.0);
        assert_eq!(EventCounts::new(4, 4).unwrap().error_ratio(), 0.0);
    }

    #[test]
    fn no_events_means_no_errors() {
        let counts = EventCounts::new(0, 0).unwrap();
        assert_eq!(counts, EventCounts::default());
        assert_eq!(counts.error_ratio(), 0.0);
    }

    #[test]
    fn rejects_good_above_total() {
        let err = EventCounts::new(11, 10).unwrap_err();
        assert_eq!(
            err,
            Error::GoodExceedsTotal {
                good: 11,
                total: 10
            }
        );
        assert_eq!(
            err.to_string(),
            "11 good events exceed the 10 events in all"
        );
        let invalid = EventCounts {
            good: 11,
            total: 10,
        };
        assert!(invalid.validate().is_err());
        assert_eq!(invalid.bad(), 0);
    }

    #[cfg(feature = "serde")]
    #[test]
    fn serializes_as_a_plain_pair() {
        let counts = EventCounts::new(9, 10).unwrap();
        let json = serde_json::to_string(&counts).unwrap();
        assert_eq!(json, r#"{"good":9,"total":10}"#);
        assert_eq!(serde_json::from_str::<EventCounts>(&json).unwrap(), counts);
    }
}
