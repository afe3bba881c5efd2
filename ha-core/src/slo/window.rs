//! SLO windows: a rolling 30 days, calendar months and calendar years.

use std::time::Duration;

use crate::{Error, Result};

const SECS_PER_DAY: u64 = 24 * 60 * 60;

/// A rolling window of 30 days, the SLO window the SRE workbook uses in its examples.
///
/// ```
/// use ha_core::slo::ROLLING_30_DAYS;
///
/// assert_eq!(ROLLING_30_DAYS.as_secs(), 30 * 24 * 60 * 60);
/// ```
pub const ROLLING_30_DAYS: Duration = Duration::from_secs(30 * SECS_PER_DAY);

/// Whether `year` is a leap year of the proleptic Gregorian calendar: divisible by 4, except
/// centuries not divisible by 400.
fn is_leap_year(year: i32) -> bool {
    year.rem_euclid(4) == 0 && (year.rem_euclid(100) != 0 || year.rem_euclid(400) == 0)
}

/// The length of a calendar month: 28, 29, 30 or 31 days.
///
/// `month` counts from 1 (January) to 12 (December); February has 29 days in Gregorian leap
/// years. Leap seconds and time-zone changes are ignored.
///
/// ```
/// use ha_core::slo::calendar_month;
///
/// assert_eq!(calendar_month(2024, 2)?.as_secs(), 29 * 86_400);
/// assert_eq!(calendar_month(2025, 2)?.as_secs(), 28 * 86_400);
/// assert_eq!(calendar_month(2025, 7)?.as_secs(), 31 * 86_400);
/// assert!(calendar_month(2025, 13).is_err());
/// # Ok::<(), ha_core::Error>(())
/// ```
///
/// # Errors
/// [`Error::InvalidMonth`] if `month` is outside `1..=12`.
pub fn calendar_month(year: i32, month: u8) -> Result<Duration> {
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => return Err(Error::InvalidMonth(month)),
    };
    Ok(Duration::from_secs(days * SECS_PER_DAY))
}

/// The length of a calendar year: 366 days in Gregorian leap years, 365 otherwise.
///
/// ```
/// use ha_core::slo::calendar_year;
///
/// assert_eq!(calendar_year(2024).as_secs(), 366 * 86_400);
/// assert_eq!(calendar_year(1900).as_secs(), 365 * 86_400);
/// assert_eq!(calendar_year(2000).as_secs(), 366 * 86_400);
/// ```
#[must_use]
pub fn calendar_year(year: i32) -> Duration {
    let days = if is_leap_year(year) { 366 } else { 365 };
    Duration::from_secs(days * SECS_PER_DAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn days(n: u64) -> Duration {
        Duration::from_secs(n * SECS_PER_DAY)
    }

    #[test]
    fn rolling_window_is_30_days() {
        assert_eq!(ROLLING_30_DAYS, days(30));
    }

    #[test]
    fn leap_years_follow_the_gregorian_rule() {
        assert!(is_leap_year(2024));
        assert!(is_leap_year(2000));
        assert!(is_leap_year(0));
        assert!(is_leap_year(-4));
        assert!(!is_leap_year(2025));
        assert!(!is_leap_year(1900));
        assert!(!is_leap_year(2100));
        assert!(!is_leap_year(-1));
    }

    #[test]
    fn month_lengths() {
        let lengths = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
        for (month, length) in (1..=12).zip(lengths) {
            assert_eq!(
                calendar_month(2025, month),
                Ok(days(length)),
                "month {month}"
            );
        }
        assert_eq!(calendar_month(2024, 2), Ok(days(29)));
        assert_eq!(calendar_month(1900, 2), Ok(days(28)));
        assert_eq!(calendar_month(2000, 2), Ok(days(29)));
    }

    #[test]
    fn months_of_a_year_sum_to_the_year() {
        for year in [1900, 2000, 2023, 2024] {
            let sum: Duration = (1..=12).filter_map(|m| calendar_month(year, m).ok()).sum();
            assert_eq!(sum, calendar_year(year), "year {year}");
        }
    }

    #[test]
    fn rejects_month_0_and_13() {
        assert_eq!(calendar_month(2025, 0), Err(Error::InvalidMonth(0)));
        assert_eq!(calendar_month(2025, 13), Err(Error::InvalidMonth(13)));
        assert_eq!(calendar_month(2025, u8::MAX), Err(Error::InvalidMonth(255)));
    }

    #[test]
    fn year_lengths() {
        assert_eq!(calendar_year(2025), days(365));
        assert_eq!(calendar_year(2024), days(366));
    }
}
