//! Availability targets and the downtime they allow.

use std::time::Duration;

use crate::error::{non_zero_duration, ratio};
use crate::{Error, Result};

/// The downtime an availability target allows over a window: `(1 − target_ratio) × window`.
///
/// This is the SRE book's availability table (appendix A): 99.9 % allows 43.2 minutes in 30
/// days, 99.95 % allows 21.6 minutes, 99.99 % allows 4.32 minutes. The result is rounded to the
/// nanosecond and never exceeds `window`.
///
/// ```
/// use std::time::Duration;
/// use ha_core::slo::{allowed_downtime, calendar_year, ROLLING_30_DAYS};
///
/// let month = allowed_downtime(0.9995, ROLLING_30_DAYS)?;
/// assert!(month.abs_diff(Duration::from_secs(1_296)) < Duration::from_micros(1)); // 21.6 min
/// let year = allowed_downtime(0.9995, calendar_year(2025))?;
/// assert!((year.as_secs_f64() / 3_600.0 - 4.38).abs() < 1e-9);
/// # Ok::<(), ha_core::Error>(())
/// ```
///
/// # Errors
/// - [`Error::NotFinite`] or [`Error::OutOfRange`] if `target_ratio` is not in `[0, 1]`;
/// - [`Error::Zero`] if `window` is zero.
pub fn allowed_downtime(target_ratio: f64, window: Duration) -> Result<Duration> {
    let target_ratio = ratio("target_ratio", target_ratio)?;
    let window = non_zero_duration("window", window)?;
    let seconds = window.as_secs_f64() * (1.0 - target_ratio);
    // `seconds` is finite and non-negative; it can only fail to convert by rounding above
    // `Duration::MAX` when the target is 0 and the window near `Duration::MAX`.
    let allowed = Duration::try_from_secs_f64(seconds).unwrap_or(window);
    Ok(allowed.min(window))
}

/// The availability achieved when `downtime` of a `window` was down: `1 − downtime / window`,
/// a ratio in `[0, 1]`. The inverse of [`allowed_downtime`].
///
/// ```
/// use std::time::Duration;
/// use ha_core::slo::{availability, ROLLING_30_DAYS};
///
/// let achieved = availability(Duration::from_secs(43 * 60 + 12), ROLLING_30_DAYS)?;
/// assert!((achieved - 0.999).abs() < 1e-12);
/// # Ok::<(), ha_core::Error>(())
/// ```
///
/// # Errors
/// - [`Error::Zero`] if `window` is zero;
/// - [`Error::Inverted`] if `downtime` exceeds `window` (both reported in seconds).
pub fn availability(downtime: Duration, window: Duration) -> Result<f64> {
    let window = non_zero_duration("window", window)?;
    if downtime > window {
        return Err(Error::Inverted {
            lower: "downtime",
            lower_value: downtime.as_secs_f64(),
            upper: "window",
            upper_value: window.as_secs_f64(),
        });
    }
    Ok((1.0 - downtime.div_duration_f64(window)).clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slo::test_util::{assert_close, assert_duration_close};
    use crate::slo::{ROLLING_30_DAYS, calendar_month, calendar_year};

    fn minutes(m: f64) -> Duration {
        Duration::from_secs_f64(m * 60.0)
    }

    fn hours(h: f64) -> Duration {
        Duration::from_secs_f64(h * 3_600.0)
    }

    #[test]
    fn three_and_a_half_nines_allow_21_6_minutes_in_30_days() {
        let allowed = allowed_downtime(0.9995, ROLLING_30_DAYS).unwrap();
        assert_duration_close(allowed, minutes(21.6));
    }

    #[test]
    fn three_and_a_half_nines_allow_22_32_minutes_in_a_31_day_month() {
        let allowed = allowed_downtime(0.9995, calendar_month(2025, 1).unwrap()).unwrap();
        assert_duration_close(allowed, minutes(22.32));
    }

    #[test]
    fn three_and_a_half_nines_allow_20_16_minutes_in_a_28_day_february() {
        let allowed = allowed_downtime(0.9995, calendar_month(2025, 2).unwrap()).unwrap();
        assert_duration_close(allowed, minutes(20.16));
    }

    #[test]
    fn three_and_a_half_nines_allow_4_38_hours_in_a_year() {
        let allowed = allowed_downtime(0.9995, calendar_year(2025)).unwrap();
        assert_duration_close(allowed, hours(4.38));
    }

    #[test]
    fn three_and_a_half_nines_allow_4_392_hours_in_a_leap_year() {
        let allowed = allowed_downtime(0.9995, calendar_year(2024)).unwrap();
        assert_duration_close(allowed, hours(4.392));
    }

    #[test]
    fn three_nines_allow_43_2_minutes_in_30_days() {
        let allowed = allowed_downtime(0.999, ROLLING_30_DAYS).unwrap();
        assert_duration_close(allowed, minutes(43.2));
    }

    #[test]
    fn four_nines_allow_4_32_minutes_in_30_days() {
        let allowed = allowed_downtime(0.9999, ROLLING_30_DAYS).unwrap();
        assert_duration_close(allowed, minutes(4.32));
    }

    #[test]
    fn extreme_targets() {
        assert_eq!(allowed_downtime(1.0, ROLLING_30_DAYS), Ok(Duration::ZERO));
        assert_eq!(allowed_downtime(0.0, ROLLING_30_DAYS), Ok(ROLLING_30_DAYS));
        assert_eq!(allowed_downtime(0.0, Duration::MAX), Ok(Duration::MAX));
    }

    #[test]
    fn availability_inverts_the_figures() {
        assert_close(
            availability(minutes(21.6), ROLLING_30_DAYS).unwrap(),
            0.9995,
            1e-12,
        );
        assert_close(
            availability(minutes(43.2), ROLLING_30_DAYS).unwrap(),
            0.999,
            1e-12,
        );
        assert_close(
            availability(hours(4.392), calendar_year(2024)).unwrap(),
            0.9995,
            1e-12,
        );
        assert_eq!(availability(Duration::ZERO, ROLLING_30_DAYS), Ok(1.0));
        assert_eq!(availability(ROLLING_30_DAYS, ROLLING_30_DAYS), Ok(0.0));
    }

    #[test]
    fn rejects_nan_target() {
        assert!(matches!(
            allowed_downtime(f64::NAN, ROLLING_30_DAYS),
            Err(Error::NotFinite {
                name: "target_ratio",
                ..
            })
        ));
    }

    #[test]
    fn rejects_target_above_1() {
        assert!(matches!(
            allowed_downtime(1.0001, ROLLING_30_DAYS),
            Err(Error::OutOfRange {
                name: "target_ratio",
                ..
            })
        ));
    }

    #[test]
    fn rejects_target_below_0() {
        assert!(matches!(
            allowed_downtime(-0.1, ROLLING_30_DAYS),
            Err(Error::OutOfRange {
                name: "target_ratio",
                ..
            })
        ));
    }

    #[test]
    fn rejects_zero_window() {
        assert_eq!(
            allowed_downtime(0.999, Duration::ZERO),
            Err(Error::Zero { name: "window" })
        );
        assert_eq!(
            availability(Duration::ZERO, Duration::ZERO),
            Err(Error::Zero { name: "window" })
        );
    }

    #[test]
    fn rejects_downtime_longer_than_window() {
        let err = availability(Duration::from_secs(61), Duration::from_secs(60)).unwrap_err();
        assert_eq!(
            err,
            Error::Inverted {
                lower: "downtime",
                lower_value: 61.0,
                upper: "window",
                upper_value: 60.0,
            }
        );
        assert_eq!(err.to_string(), "downtime (61) must not exceed window (60)");
    }
}
