//! SLO arithmetic: allowed downtime, error budgets, burn rates and multi-window burn-rate alerts.
//!
//! Everything here is a pure function of numbers the caller measured; nothing reads a clock or
//! keeps state. Four questions are answered:
//!
//! - **How much downtime does a target allow?** [`allowed_downtime`] and its inverse
//!   [`availability`], over a [`ROLLING_30_DAYS`] window, a [`calendar_month`] or a
//!   [`calendar_year`] (the "availability table" of the SRE book, appendix A).
//! - **How much of the error budget is spent?** [`EventCounts`] (good and total events) and
//!   [`ErrorBudget`]: allowed and actual bad events, and the share of the budget those events
//!   allow that they spent (the consumed and remaining ratios).
//! - **How fast is it being spent?** [`burn_rate`]: the error ratio divided by the budget
//!   `1 − target`, so a burn rate of 1 spends exactly the budget over the SLO window, and
//!   [`budget_consumed_ratio`] turns a burn rate held for a while into the share of a whole
//!   window's budget spent.
//! - **Should someone be paged?** [`BurnRatePolicy`], a validated set of [`BurnRateRule`]s each
//!   pairing a long and a short window, evaluated to an optional [`BurnRateAlert`].
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
//! # Exact burn rates
//!
//! Targets and thresholds are written as decimals but stored in binary: 0.999 is
//! 0.99899999999999999911…, so `1.0 - 0.999` is 0.0010000000000000009, and dividing error ratios
//! by it puts 1 bad event in 1,000 at a burn rate of 0.9999999999999991 and 144 in 10,000 at
//! 14.399999999999986 — just under the thresholds 1 and 14.4 they sit on. Against 0.9995 the
//! error goes the other way (1 in 2,000 gives 1.0000000000001101), so burns a little under a
//! threshold reach it. So, instead of comparing with a tolerance:
//!
//! - the error budget is `1 − target` **rounded to 15 decimal places**
//!   ([`ErrorBudget::budget_ratio`]). Binary rounding moves a target and its budget by less
//!   than 2 × 10⁻¹⁶, well under half a unit of the 15th decimal, so any target written with at
//!   most 15 decimals gets its exact decimal budget: 0.001 for 99.9 %.
//!   A target with more decimals (a computed `2.0 / 3.0`) has its budget moved by at most
//!   5 × 10⁻¹⁶; one within 5 × 10⁻¹⁶ of 1 keeps `1 − target` unrounded;
//! - a burn rate is the exact ratio `bad × 10¹⁵ / (total × budget in units of 10⁻¹⁵)`, worked
//!   out in integers and **rounded once** to the nearest `f64` ([`burn_rate`],
//!   [`ErrorBudget::burn_rate`] and [`BurnRatePolicy::evaluate`] all compute it so). Counts
//!   exactly on a threshold give the `f64` nearest it — the very value of the literal `14.4` —
//!   and burn rates grow with the bad events;
//! - a rule fires when both burn rates are `>=` its threshold, with no tolerance
//!   ([`BurnRateRule::fires`]).
//!
//! A burn rate less than half a unit in the last place (about one part in 10¹⁶) under a
//! threshold still rounds onto it and fires; at 99.9 % and the workbook's thresholds, counts that
//! close to a threshold without being on it take more than 10¹³ events.
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
//!   budget being spent exactly on schedule — exactly, see [Exact burn rates](#exact-burn-rates).
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
