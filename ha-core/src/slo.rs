//! SLO arithmetic: allowed downtime, error budgets, burn rates and multi-window burn-rate alerts.
//!
//! Everything here is a pure function of numbers the caller measured; nothing reads a clock or
//! keeps state. Four questions are answered:
//!
//! - **How much downtime does a target allow?** [`allowed_downtime`] and its inverse
//!   [`availability`], over a [`ROLLING_30_DAYS`] window, a [`calendar_month`] or a
//!   [`calendar_year`] (the "availability table" of the SRE book, appendix A).
//! - **How much of the error budget is spent?** [`EventCounts`] (good and total events) and
//!   [`ErrorBudget`]: allowed and actual bad events, the consumed and remaining ratios.
//! - **How fast is it being spent?** [`burn_rate`]: the error ratio divided by the budget
//!   `1 − target`, so a burn rate of 1 spends exactly the budget over the SLO window, and
//!   [`budget_consumed_ratio`] turns a burn rate held for a while into the share of the budget spent.
//! - **Should someone be paged?** [`BurnRatePolicy`], a set of [`BurnRateRule`]s each pairing a
//!   long and a short window, evaluated to an optional [`BurnRateAlert`].
//!
//! ```
//! use std::time::Duration;
//! use ha_core::slo::{self, BurnRatePolicy, EventCounts};
//! use ha_core::Severity;
//!
//! // 99.9 % over 30 days allows 43.2 minutes of downtime.
//! let allowed = slo::allowed_downtime(0.999, slo::ROLLING_30_DAYS)?;
//! assert!((allowed.as_secs_f64() - 43.2 * 60.0).abs() < 1e-6);
//!
//! // 2 % of requests failed in the last hour and 3 % in the last 5 minutes: a 20× and a 30×
//! // burn of a 99.9 % budget, over the workbook's 14.4× paging threshold in both windows.
//! let policy = BurnRatePolicy::sre_workbook();
//! let alert = policy.evaluate(0.999, |window| {
//!     if window <= Duration::from_secs(5 * 60) {
//!         EventCounts { good: 970, total: 1_000 }
//!     } else {
//!         EventCounts { good: 9_800, total: 10_000 }
//!     }
//! })?;
//! let fired = alert.map(|alert| (alert.severity(), alert.rule.burn_rate));
//! assert_eq!(fired, Some((Severity::Critical, 14.4)));
//! # Ok::<(), ha_core::Error>(())
//! ```
//!
//! # Sources
//!
//! - B. Beyer et al., *Site Reliability Engineering* (O'Reilly, 2016), chapter 4 "Service Level
//!   Objectives" and appendix A "Availability Table" (<https://sre.google/sre-book/availability-table/>).
//! - B. Beyer et al., *The Site Reliability Workbook* (O'Reilly, 2018), chapter 2 "Implementing
//!   SLOs" for error budgets, and chapter 5 "Alerting on SLOs"
//!   (<https://sre.google/workbook/alerting-on-slos/>) for burn rates and the multi-window,
//!   multi-burn-rate alerts of [`BurnRatePolicy::sre_workbook`].
//!
//! # Where we differ
//!
//! - The workbook's Prometheus rules fire when a burn rate is strictly *above* the threshold;
//!   here a rule fires when both burn rates are *at or above* it, so a threshold of 1 fires on a
//!   budget being spent exactly on schedule.
//! - The workbook measures error *rates* over each window in the monitoring system; here the
//!   caller supplies good and total event counts for each window and the burn rates are
//!   computed from them.
//! - The workbook's "calendar month" is whatever the month is; [`calendar_month`] gives its exact
//!   length in the proleptic Gregorian calendar, ignoring leap seconds and time-zone changes.

mod budget;
mod burn_rate_alert;
mod downtime;
mod events;
mod window;

pub use budget::{ErrorBudget, budget_consumed_ratio, burn_rate};
pub use burn_rate_alert::{BurnRateAlert, BurnRatePolicy, BurnRateRule};
pub use downtime::{allowed_downtime, availability};
pub use events::EventCounts;
pub use window::{ROLLING_30_DAYS, calendar_month, calendar_year};

/// Tolerance helpers shared by the unit tests of the submodules.
#[cfg(test)]
mod test_util {
    use std::time::Duration;

    /// Asserts `actual` is within `tolerance` of `expected`.
    #[track_caller]
    pub(crate) fn assert_close(actual: f64, expected: f64, tolerance: f64) {
        assert!(
            (actual - expected).abs() <= tolerance,
            "{actual} is not within {tolerance} of {expected}"
        );
    }

    /// Asserts two durations are within a microsecond of each other.
    #[track_caller]
    pub(crate) fn assert_duration_close(actual: Duration, expected: Duration) {
        let diff = actual.abs_diff(expected);
        assert!(
            diff <= Duration::from_micros(1),
            "{actual:?} is not within 1µs of {expected:?}"
        );
    }
}
