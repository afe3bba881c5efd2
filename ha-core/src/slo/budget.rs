//! Error budgets and burn rates.

use std::time::Duration;

use crate::error::{finite, non_zero_duration};
use crate::slo::EventCounts;
use crate::{Error, Result};

/// Checks that an SLO target is a finite ratio strictly between 0 and 1, so its error budget
/// `1 − target` is neither zero nor everything.
pub(crate) fn slo_target(value: f64) -> Result<f64> {
    let name = "target_ratio";
    if finite(name, value)? > 0.0 && value < 1.0 {
        Ok(value)
    } else {
        Err(Error::OutOfRange {
            name,
            value,
            range: "(0, 1)",
        })
    }
}

/// How fast an error budget is being spent: the error ratio of `counts` divided by the error
/// budget `1 − target_ratio` (SRE workbook, chapter 5, "Alerting on SLOs").
///
/// A burn rate of 1 spends exactly the whole budget over the SLO window; 14.4 spends it in
/// 30 days / 14.4 = 50 hours. No events means no burn.
///
/// ```
/// use ha_core::slo::{burn_rate, EventCounts};
///
/// // 1 % of requests failing against a 99.9 % target burns the budget 10× too fast.
/// let rate = burn_rate(0.999, EventCounts::new(990, 1_000)?)?;
/// assert!((rate - 10.0).abs() < 1e-9);
/// # Ok::<(), ha_core::Error>(())
/// ```
///
/// # Errors
/// - [`Error::NotFinite`] or [`Error::OutOfRange`] if `target_ratio` is not in `(0, 1)`;
/// - [`Error::GoodExceedsTotal`] if the counts are invalid.
pub fn burn_rate(target_ratio: f64, counts: EventCounts) -> Result<f64> {
    let target_ratio = slo_target(target_ratio)?;
    counts.validate()?;
    Ok(counts.error_ratio() / (1.0 - target_ratio))
}

/// The share of a whole window's error budget spent by burning at `burn_rate` for `over`:
/// `burn_rate × over / slo_window`.
///
/// This is how the SRE workbook picks its alert thresholds: a 14.4× burn for 1 hour of a 30-day
/// SLO spends 2 % of the budget, a 6× burn for 6 hours spends 5 %, a 1× burn for 3 days 10 %.
/// The result exceeds 1 when the burn would overspend the whole budget.
///
/// ```
/// use std::time::Duration;
/// use ha_core::slo::{budget_consumed_ratio, ROLLING_30_DAYS};
///
/// let spent = budget_consumed_ratio(14.4, Duration::from_secs(3_600), ROLLING_30_DAYS)?;
/// assert!((spent - 0.02).abs() < 1e-12);
/// # Ok::<(), ha_core::Error>(())
/// ```
///
/// # Errors
/// - [`Error::NotFinite`] or [`Error::OutOfRange`] if `burn_rate` is negative or not finite;
/// - [`Error::Zero`] if `slo_window` is zero;
/// - [`Error::Inverted`] if `over` is longer than `slo_window` (both reported in seconds).
pub fn budget_consumed_ratio(burn_rate: f64, over: Duration, slo_window: Duration) -> Result<f64> {
    let name = "burn_rate";
    if finite(name, burn_rate)? < 0.0 {
        return Err(Error::OutOfRange {
            name,
            value: burn_rate,
            range: "[0, inf)",
        });
    }
    let slo_window = non_zero_duration("slo_window", slo_window)?;
    if over > slo_window {
        return Err(Error::Inverted {
            lower: "over",
            lower_value: over.as_secs_f64(),
            upper: "slo_window",
            upper_value: slo_window.as_secs_f64(),
        });
    }
    Ok(burn_rate * over.div_duration_f64(slo_window))
}

/// The error budget of an SLO target over one SLO window, and how much of it the events counted
/// so far in that window have spent.
///
/// The budget is the share of events allowed to be bad, `1 − target_ratio`; for `total`
/// events it allows `(1 − target_ratio) × total` bad ones (SRE workbook, chapter 2,
/// "Implementing SLOs"). The consumed ratio is bad events over allowed ones, which is the burn
/// rate of the counts: a budget spent on schedule reads 1 at the end of the window.
///
/// The target must lie strictly between 0 and 1. Serialized as its target and counts; a
/// deserialized budget is validated like one from [`ErrorBudget::new`].
///
/// ```
/// use ha_core::slo::{ErrorBudget, EventCounts};
///
/// // 99.9 % of 1,000,000 requests: 1,000 may fail; 250 did.
/// let budget = ErrorBudget::new(0.999, EventCounts::new(999_750, 1_000_000)?)?;
/// assert!((budget.allowed_bad_events() - 1_000.0).abs() < 1e-6);
/// assert_eq!(budget.bad_events(), 250);
/// assert!((budget.consumed_ratio() - 0.25).abs() < 1e-9);
/// assert!((budget.remaining_ratio() - 0.75).abs() < 1e-9);
/// # Ok::<(), ha_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(try_from = "ErrorBudgetParts")
)]
pub struct ErrorBudget {
    target_ratio: f64,
    counts: EventCounts,
}

/// The serialized form of an [`ErrorBudget`], validated on the way in.
#[cfg(feature = "serde")]
#[derive(serde::Deserialize)]
struct ErrorBudgetParts {
    target_ratio: f64,
    counts: EventCounts,
}

#[cfg(feature = "serde")]
impl TryFrom<ErrorBudgetParts> for ErrorBudget {
    type Error = Error;

    fn try_from(parts: ErrorBudgetParts) -> Result<ErrorBudget> {
        ErrorBudget::new(parts.target_ratio, parts.counts)
    }
}

impl ErrorBudget {
    /// The budget of `target_ratio` (in `(0, 1)`), spent by `counts`.
    ///
    /// # Errors
    /// - [`Error::NotFinite`] or [`Error::OutOfRange`] if `target_ratio` is not in `(0, 1)`;
    /// - [`Error::GoodExceedsTotal`] if the counts are invalid.
    pub fn new(target_ratio: f64, counts: EventCounts) -> Result<ErrorBudget> {
        let target_ratio = slo_target(target_ratio)?;
        counts.validate()?;
        Ok(ErrorBudget {
            target_ratio,
            counts,
        })
    }

    /// The SLO target, in `(0, 1)`.
    #[must_use]
    pub fn target_ratio(&self) -> f64 {
        self.target_ratio
    }

    /// The events counted.
    #[must_use]
    pub fn counts(&self) -> EventCounts {
        self.counts
    }

    /// The share of events allowed to be bad: `1 − target_ratio`, in `(0, 1)`.
    #[must_use]
    pub fn budget_ratio(&self) -> f64 {
        1.0 - self.target_ratio
    }

    /// How many of the counted events may be bad: `(1 − target_ratio) × total`. Fractional,
    /// since a budget of 0.1 % of 1,500 events allows 1.5 bad ones.
    #[must_use]
    pub fn allowed_bad_events(&self) -> f64 {
        self.budget_ratio() * self.counts.total as f64
    }

    /// How many of the counted events were bad.
    #[must_use]
    pub fn bad_events(&self) -> u64 {
        self.counts.bad()
    }

    /// The share of the budget spent: bad events over allowed bad events, 0 when no events were
    /// counted. Greater than 1 when the budget is overspent.
    ///
    /// Equal to [`ErrorBudget::burn_rate`]: spending the budget at a burn rate of `b` for a
    /// whole window consumes `b` budgets.
    #[must_use]
    pub fn consumed_ratio(&self) -> f64 {
        self.burn_rate()
    }

    /// The share of the budget left: `1 − consumed_ratio`. **Negative when the budget is
    /// overspent** — −0.5 means half a budget more than allowed was spent — so that how far
    /// over a service is stays visible; clamp at 0 to display "nothing left".
    #[must_use]
    pub fn remaining_ratio(&self) -> f64 {
        1.0 - self.consumed_ratio()
    }

    /// How fast the budget is being spent: error ratio over `1 − target_ratio`; see
    /// [`burn_rate`].
    #[must_use]
    pub fn burn_rate(&self) -> f64 {
        self.counts.error_ratio() / self.budget_ratio()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slo::ROLLING_30_DAYS;
    use crate::slo::test_util::assert_close;

    const HOUR: Duration = Duration::from_secs(3_600);

    #[test]
    fn burn_rate_is_error_ratio_over_budget() {
        let counts = EventCounts::new(990, 1_000).unwrap();
        assert_close(burn_rate(0.999, counts).unwrap(), 10.0, 1e-9);
        assert_close(burn_rate(0.99, counts).unwrap(), 1.0, 1e-9);
        assert_eq!(burn_rate(0.999, EventCounts::default()), Ok(0.0));
    }

    #[test]
    fn burn_rate_rejects_targets_outside_the_open_unit_interval() {
        let counts = EventCounts::new(1, 1).unwrap();
        for target in [0.0, 1.0, -0.5, 1.5] {
            assert!(
                matches!(
                    burn_rate(target, counts),
                    Err(Error::OutOfRange {
                        name: "target_ratio",
                        range: "(0, 1)",
                        ..
                    })
                ),
                "target {target}"
            );
        }
        for target in [f64::NAN, f64::INFINITY] {
            assert!(matches!(
                burn_rate(target, counts),
                Err(Error::NotFinite { .. })
            ));
        }
    }

    #[test]
    fn burn_rate_rejects_good_above_total() {
        let invalid = EventCounts { good: 2, total: 1 };
        assert_eq!(
            burn_rate(0.999, invalid),
            Err(Error::GoodExceedsTotal { good: 2, total: 1 })
        );
        assert!(ErrorBudget::new(0.999, invalid).is_err());
    }

    #[test]
    fn fourteen_point_four_for_an_hour_of_30_days_consumes_2_percent() {
        assert_close(
            budget_consumed_ratio(14.4, HOUR, ROLLING_30_DAYS).unwrap(),
            0.02,
            1e-12,
        );
    }

    #[test]
    fn workbook_thresholds_consume_2_5_and_10_percent() {
        assert_close(
            budget_consumed_ratio(6.0, 6 * HOUR, ROLLING_30_DAYS).unwrap(),
            0.05,
            1e-12,
        );
        assert_close(
            budget_consumed_ratio(1.0, 72 * HOUR, ROLLING_30_DAYS).unwrap(),
            0.10,
            1e-12,
        );
        assert_eq!(
            budget_consumed_ratio(2.0, ROLLING_30_DAYS, ROLLING_30_DAYS),
            Ok(2.0)
        );
        assert_eq!(budget_consumed_ratio(0.0, HOUR, ROLLING_30_DAYS), Ok(0.0));
    }

    #[test]
    fn budget_consumed_ratio_rejections() {
        assert!(matches!(
            budget_consumed_ratio(-1.0, HOUR, ROLLING_30_DAYS),
            Err(Error::OutOfRange {
                name: "burn_rate",
                ..
            })
        ));
        assert!(matches!(
            budget_consumed_ratio(f64::NAN, HOUR, ROLLING_30_DAYS),
            Err(Error::NotFinite {
                name: "burn_rate",
                ..
            })
        ));
        assert_eq!(
            budget_consumed_ratio(1.0, Duration::ZERO, Duration::ZERO),
            Err(Error::Zero { name: "slo_window" })
        );
        assert!(matches!(
            budget_consumed_ratio(1.0, 2 * HOUR, HOUR),
            Err(Error::Inverted { lower: "over", .. })
        ));
    }

    #[test]
    fn budget_of_three_nines() {
        let budget =
            ErrorBudget::new(0.999, EventCounts::new(999_750, 1_000_000).unwrap()).unwrap();
        assert_eq!(budget.target_ratio(), 0.999);
        assert_eq!(budget.counts().total, 1_000_000);
        assert_close(budget.budget_ratio(), 0.001, 1e-15);
        assert_close(budget.allowed_bad_events(), 1_000.0, 1e-6);
        assert_eq!(budget.bad_events(), 250);
        assert_close(budget.consumed_ratio(), 0.25, 1e-9);
        assert_close(budget.remaining_ratio(), 0.75, 1e-9);
        assert_close(budget.burn_rate(), 0.25, 1e-9);
    }

    #[test]
    fn overspent_budget_has_negative_remaining_ratio() {
        let budget = ErrorBudget::new(0.99, EventCounts::new(970, 1_000).unwrap()).unwrap();
        assert_close(budget.consumed_ratio(), 3.0, 1e-9);
        assert_close(budget.remaining_ratio(), -2.0, 1e-9);
    }

    #[test]
    fn empty_budget_is_untouched() {
        let budget = ErrorBudget::new(0.999, EventCounts::default()).unwrap();
        assert_eq!(budget.allowed_bad_events(), 0.0);
        assert_eq!(budget.consumed_ratio(), 0.0);
        assert_eq!(budget.remaining_ratio(), 1.0);
    }

    #[test]
    fn error_budget_rejects_nan_and_extreme_targets() {
        let counts = EventCounts::new(1, 1).unwrap();
        assert!(matches!(
            ErrorBudget::new(f64::NAN, counts),
            Err(Error::NotFinite { .. })
        ));
        for target in [0.0, 1.0, -0.1, 1.1] {
            assert!(matches!(
                ErrorBudget::new(target, counts),
                Err(Error::OutOfRange { .. })
            ));
        }
    }

    #[cfg(feature = "serde")]
    #[test]
    fn error_budget_round_trips_and_validates_through_serde() {
        let budget = ErrorBudget::new(0.999, EventCounts::new(9, 10).unwrap()).unwrap();
        let json = serde_json::to_string(&budget).unwrap();
        assert_eq!(
            json,
            r#"{"target_ratio":0.999,"counts":{"good":9,"total":10}}"#
        );
        assert_eq!(serde_json::from_str::<ErrorBudget>(&json).unwrap(), budget);
        let bad_target = r#"{"target_ratio":1.0,"counts":{"good":9,"total":10}}"#;
        assert!(serde_json::from_str::<ErrorBudget>(bad_target).is_err());
        let bad_counts = r#"{"target_ratio":0.9,"counts":{"good":11,"total":10}}"#;
        assert!(serde_json::from_str::<ErrorBudget>(bad_counts).is_err());
    }
}
