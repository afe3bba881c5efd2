//! Error budgets and burn rates.

use std::time::Duration;

use crate::error::{finite, non_zero_duration};
use crate::slo::EventCounts;
use crate::{Error, Result};

/// Checks that an SLO target is a finite ratio strictly between 0 and 1: a target of 1 would
/// leave no error budget to divide by, one of 0 would make every event allowed to be bad.
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

/// Error budgets are kept as a whole number of these units of 10⁻¹⁵ each.
const BUDGET_UNITS_PER_ONE: u64 = 1_000_000_000_000_000;

/// The error budget `1 − target_ratio` of a valid target in units of 10⁻¹⁵, rounded to the
/// nearest unit; `None` when that rounds to zero (a target within 5 × 10⁻¹⁶ of 1).
///
/// A target written with at most 15 decimals gets its exact decimal budget: the target's own
/// binary rounding (at most 2⁻⁵⁴), the rounding of `1 − target_ratio` (at most 2⁻⁵⁴) and that of
/// the scaling (at most 2⁻⁴ of a unit) add up to well under half a unit.
fn budget_units(target_ratio: f64) -> Option<u64> {
    debug_assert!(target_ratio > 0.0 && target_ratio < 1.0);
    // In [0, 10¹⁵], a whole number: the cast is exact.
    let units = ((1.0 - target_ratio) * BUDGET_UNITS_PER_ONE as f64).round() as u64;
    (units > 0).then_some(units)
}

/// The error budget of a valid target: `1 − target_ratio` rounded to 15 decimal places, or
/// unrounded when that would leave nothing.
fn budget_ratio_of(target_ratio: f64) -> f64 {
    match budget_units(target_ratio) {
        // Both exact in an f64, so the quotient is the f64 nearest the decimal budget.
        Some(units) => units as f64 / BUDGET_UNITS_PER_ONE as f64,
        None => 1.0 - target_ratio,
    }
}

/// The burn rate of valid counts against a valid target: the exact ratio
/// `bad × 10¹⁵ / (total × budget units)`, rounded once.
fn burn_rate_of(target_ratio: f64, counts: EventCounts) -> f64 {
    let bad = counts.bad();
    if bad == 0 {
        // Also no events at all: no burn.
        return 0.0;
    }
    match budget_units(target_ratio) {
        Some(units) => nearest_f64(
            u128::from(bad) * u128::from(BUDGET_UNITS_PER_ONE),
            u128::from(counts.total) * u128::from(units),
        ),
        None => counts.error_ratio() / (1.0 - target_ratio),
    }
}

/// `numerator / denominator` rounded once to the nearest `f64`, ties to even — the exact
/// quotient, not the quotient of two rounded operands. 0 when the numerator is 0; the
/// denominator must not be 0 (0 is returned if it is).
fn nearest_f64(numerator: u128, denominator: u128) -> f64 {
    debug_assert!(denominator > 0, "division by zero");
    if numerator == 0 || denominator == 0 {
        return 0.0;
    }
    // Long division until the quotient has at least 65 significant bits: the 53 an f64 keeps,
    // the rounding bit, and below them room for a sticky bit recording a non-zero remainder.
    // The value is `(quotient + remainder / denominator) × 2^exponent` throughout.
    let mut quotient = numerator / denominator;
    let mut remainder = numerator % denominator;
    let mut exponent: i32 = 0;
    while quotient < 1 << 64 {
        // `quotient << 64` cannot overflow; `remainder << shift` cannot either.
        let shift = remainder.leading_zeros().min(64);
        if shift == 0 {
            // remainder ≥ 2¹²⁷: one bit at a time, never forming `2 × remainder`.
            let bit = remainder >= denominator - remainder;
            quotient = (quotient << 1) | u128::from(bit);
            remainder = if bit {
                remainder - (denominator - remainder)
            } else {
                remainder << 1
            };
            exponent -= 1;
        } else {
            let wide = remainder << shift;
            // `remainder < denominator`, so this part of the quotient is below 2^shift.
            quotient = (quotient << shift) | (wide / denominator);
            remainder = wide % denominator;
            exponent -= shift as i32;
        }
    }
    if remainder != 0 {
        quotient |= 1;
    }
    // The cast rounds to nearest, ties to even; the power of two scales exactly.
    quotient as f64 * power_of_two(exponent)
}

/// `2^exponent` for an exponent of the normal range, built from its bits so it is exact on
/// every platform.
fn power_of_two(exponent: i32) -> f64 {
    debug_assert!((-1022..=1023).contains(&exponent));
    let biased_exponent = (exponent + 1023).clamp(1, 2046).unsigned_abs();
    f64::from_bits(u64::from(biased_exponent) << 52)
}

/// How fast an error budget is being spent: the error ratio of `counts` divided by the error
/// budget `1 − target_ratio` (SRE workbook, chapter 5, "Alerting on SLOs").
///
/// A burn rate of 1 spends exactly the whole budget over the SLO window; 14.4 spends a 30-day
/// budget in 30 days / 14.4 = 50 hours. No events means no burn.
///
/// The result is exact for targets written with at most 15 decimals: the budget is
/// `1 − target_ratio` rounded to 15 decimal places ([`ErrorBudget::budget_ratio`]), and the
/// ratio is computed in integers and rounded once to the nearest `f64`. So counts that sit
/// exactly on a threshold give exactly that threshold: 1 bad event in 1,000 against 99.9 %
/// burns at 1, not at the 0.9999999999999991 that `0.001 / (1.0 - 0.999)` gives. See the
/// [module docs](crate::slo#exact-burn-rates).
///
/// ```
/// use ha_core::slo::{burn_rate, EventCounts};
///
/// // 1 % of requests failing against a 99.9 % target burns the budget 10× too fast.
/// assert_eq!(burn_rate(0.999, EventCounts::new(990, 1_000)?)?, 10.0);
/// // 144 bad events in 10,000 reach the workbook's 14.4× page exactly.
/// assert_eq!(burn_rate(0.999, EventCounts::new(9_856, 10_000)?)?, 14.4);
/// # Ok::<(), ha_core::Error>(())
/// ```
///
/// # Errors
/// - [`Error::NotFinite`] or [`Error::OutOfRange`] if `target_ratio` is not in `(0, 1)`;
/// - [`Error::GoodExceedsTotal`] if the counts are invalid.
pub fn burn_rate(target_ratio: f64, counts: EventCounts) -> Result<f64> {
    let target_ratio = slo_target(target_ratio)?;
    counts.validate()?;
    Ok(burn_rate_of(target_ratio, counts))
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
/// - [`Error::NotFinite`] if `burn_rate` is NaN or infinite;
/// - [`Error::OutOfRange`] if `burn_rate` is negative;
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

/// The error budget of an SLO target, and the share of it spent by a set of event counts.
///
/// The budget is the share of events allowed to be bad, `1 − target_ratio`; `total` events
/// allow `(1 − target_ratio) × total` bad ones (SRE workbook, chapter 2, "Implementing SLOs").
/// The consumed ratio is the bad events over that allowance: the share of the budget that *the
/// counted events* allow which they spent. It knows nothing of the SLO window, so what it means
/// depends on what the counts cover:
///
/// - counts of a **whole SLO window** give the share of that window's budget spent;
/// - counts of **part of a window** give the burn rate of that part — the two are the same
///   number, [`ErrorBudget::consumed_ratio`] equals [`ErrorBudget::burn_rate`] — which reads 1
///   at every point while the budget is spent on schedule. The share of the whole window's
///   budget spent so far is [`budget_consumed_ratio`]`(burn_rate, covered, slo_window)`.
///
/// The target must lie strictly between 0 and 1. The budget is `1 − target_ratio` rounded to
/// 15 decimal places, so 99.9 % allows exactly 0.001 and burn rates land exactly on decimal
/// thresholds (see [`burn_rate`]). Serialized as its target and counts; a deserialized budget
/// is validated like one from [`ErrorBudget::new`].
///
/// ```
/// use std::time::Duration;
/// use ha_core::slo::{budget_consumed_ratio, ErrorBudget, EventCounts, ROLLING_30_DAYS};
///
/// // 99.9 % of 1,000,000 requests: 1,000 may fail; 250 did.
/// let budget = ErrorBudget::new(0.999, EventCounts::new(999_750, 1_000_000)?)?;
/// assert_eq!(budget.allowed_bad_events(), 1_000.0);
/// assert_eq!(budget.bad_events(), 250);
/// assert_eq!(budget.consumed_ratio(), 0.25);
/// assert_eq!(budget.remaining_ratio(), 0.75);
///
/// // If those were the requests of the last 3 days of a 30-day window, they burned at 0.25×
/// // and spent 2.5 % of the whole window's budget.
/// let three_days = Duration::from_secs(3 * 24 * 3_600);
/// let spent = budget_consumed_ratio(budget.burn_rate(), three_days, ROLLING_30_DAYS)?;
/// assert!((spent - 0.025).abs() < 1e-12);
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

    /// The share of events allowed to be bad: `1 − target_ratio` rounded to 15 decimal places,
    /// in `(0, 1]`.
    ///
    /// The rounding undoes the binary rounding of the target, so 99.9 % gives exactly 0.001
    /// (the `f64` nearest it) where `1.0 - 0.999` gives 0.0010000000000000009. A target with
    /// more decimals, such as a computed `2.0 / 3.0`, moves by at most 5 × 10⁻¹⁶; a target within
    /// 5 × 10⁻¹⁶ of 1, whose rounded budget would be 0, keeps `1 − target_ratio` unrounded.
    #[must_use]
    pub fn budget_ratio(&self) -> f64 {
        budget_ratio_of(self.target_ratio)
    }

    /// How many of the counted events may be bad: [`ErrorBudget::budget_ratio`] × `total`.
    /// Fractional, since a budget of 0.1 % of 1,500 events allows 1.5 bad ones.
    #[must_use]
    pub fn allowed_bad_events(&self) -> f64 {
        self.budget_ratio() * self.counts.total as f64
    }

    /// How many of the counted events were bad.
    #[must_use]
    pub fn bad_events(&self) -> u64 {
        self.counts.bad()
    }

    /// The share of the budget the counted events allow that they spent: bad events over
    /// [`ErrorBudget::allowed_bad_events`], 0 when no events were counted, greater than 1 when
    /// they spent more than they allow.
    ///
    /// The same number as [`ErrorBudget::burn_rate`]. Over a whole SLO window it is the share of
    /// that window's budget spent; over part of a window it is that part's burn rate, and 1
    /// means on schedule, not "all spent" (see the [type docs](ErrorBudget)).
    #[must_use]
    pub fn consumed_ratio(&self) -> f64 {
        self.burn_rate()
    }

    /// The share of the budget the counted events allow that is left: `1 − consumed_ratio`.
    /// **Negative when overspent** — −0.5 means half a budget more than allowed was spent — so
    /// that how far over a service is stays visible; clamp at 0 to display "nothing left".
    #[must_use]
    pub fn remaining_ratio(&self) -> f64 {
        1.0 - self.consumed_ratio()
    }

    /// How fast the budget is being spent: error ratio over [`ErrorBudget::budget_ratio`],
    /// exactly as [`burn_rate`] computes it.
    #[must_use]
    pub fn burn_rate(&self) -> f64 {
        burn_rate_of(self.target_ratio, self.counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slo::ROLLING_30_DAYS;
    use crate::slo::test_util::assert_close;

    const HOUR: Duration = Duration::from_secs(3_600);

    /// `bad` bad events out of `total`.
    fn bad_of(bad: u64, total: u64) -> EventCounts {
        EventCounts::new(total - bad, total).unwrap()
    }

    #[test]
    fn burn_rate_is_error_ratio_over_budget() {
        let counts = EventCounts::new(990, 1_000).unwrap();
        assert_eq!(burn_rate(0.999, counts), Ok(10.0));
        assert_eq!(burn_rate(0.99, counts), Ok(1.0));
        assert_eq!(burn_rate(0.999, EventCounts::default()), Ok(0.0));
        assert_eq!(burn_rate(0.999, bad_of(0, 1_000)), Ok(0.0));
        assert_eq!(burn_rate(0.5, bad_of(1, 1)), Ok(2.0));
    }

    #[test]
    fn burn_rate_is_exact_at_workbook_thresholds_for_three_nines() {
        // 99.9 %: 1 bad event in 1,000 is on schedule. Computed naively, as
        // `0.001 / (1.0 - 0.999)`, these give 0.9999999999999991, 5.999999999999995 and
        // 14.399999999999986.
        for scale in [1, 3, 7, 1_000, 1_000_000] {
            assert_eq!(burn_rate(0.999, bad_of(scale, 1_000 * scale)), Ok(1.0));
            assert_eq!(burn_rate(0.999, bad_of(6 * scale, 1_000 * scale)), Ok(6.0));
            assert_eq!(burn_rate(0.999, bad_of(9 * scale, 625 * scale)), Ok(14.4));
            assert_eq!(
                burn_rate(0.999, bad_of(144 * scale, 10_000 * scale)),
                Ok(14.4)
            );
        }
        assert!(burn_rate(0.999, bad_of(143, 10_000)).unwrap() < 14.4);
        assert!(burn_rate(0.999, bad_of(1_439_999, 100_000_000)).unwrap() < 14.4);
        assert!(burn_rate(0.999, bad_of(999, 1_000_000)).unwrap() < 1.0);
    }

    #[test]
    fn burn_rate_is_exact_at_workbook_thresholds_for_three_and_a_half_nines() {
        // 99.95 %: 1 bad event in 2,000 is on schedule. Naively 1.0000000000001101,
        // 6.000000000000661 and 14.400000000001585: over the threshold, so one event fewer
        // would fire too.
        for scale in [1, 3, 7, 1_000, 1_000_000] {
            assert_eq!(burn_rate(0.9995, bad_of(scale, 2_000 * scale)), Ok(1.0));
            assert_eq!(burn_rate(0.9995, bad_of(3 * scale, 1_000 * scale)), Ok(6.0));
            assert_eq!(
                burn_rate(0.9995, bad_of(9 * scale, 1_250 * scale)),
                Ok(14.4)
            );
            assert_eq!(
                burn_rate(0.9995, bad_of(72 * scale, 10_000 * scale)),
                Ok(14.4)
            );
        }
        assert!(burn_rate(0.9995, bad_of(71, 10_000)).unwrap() < 14.4);
        assert!(burn_rate(0.9995, bad_of(299_999, 100_000_000)).unwrap() < 6.0);
        assert!(burn_rate(0.9995, bad_of(49_999, 100_000_000)).unwrap() < 1.0);
    }

    #[test]
    fn budget_of_a_decimal_target_is_the_decimal() {
        let budget = |target| ErrorBudget::new(target, EventCounts::default()).unwrap();
        assert_eq!(budget(0.999).budget_ratio(), 0.001);
        assert_eq!(budget(0.9995).budget_ratio(), 0.0005);
        assert_eq!(budget(0.99999).budget_ratio(), 0.00001);
        assert_eq!(budget(0.99999999).budget_ratio(), 1e-8);
        assert_eq!(budget(0.999999999999999).budget_ratio(), 1e-15);
        assert_eq!(budget(0.75).budget_ratio(), 0.25);
        assert_eq!(budget(0.1).budget_ratio(), 0.9);
        assert_eq!(budget(1e-300).budget_ratio(), 1.0);
        // Eight nines: 1 bad event in 10⁸ is on schedule.
        assert_eq!(burn_rate(0.99999999, bad_of(1, 100_000_000)), Ok(1.0));
    }

    #[test]
    fn budget_of_a_target_next_to_1_is_unrounded() {
        // The largest f64 below 1: its budget, 2⁻⁵³, rounds to no whole 10⁻¹⁵.
        let target = 1.0 - f64::EPSILON / 2.0;
        let budget = ErrorBudget::new(target, bad_of(1, 1)).unwrap();
        assert_eq!(budget.budget_ratio(), f64::EPSILON / 2.0);
        assert_eq!(budget.burn_rate(), 2.0 / f64::EPSILON);
        assert_eq!(burn_rate(target, bad_of(1, 1)), Ok(2.0 / f64::EPSILON));
        assert_eq!(burn_rate(target, bad_of(0, 1)), Ok(0.0));
    }

    #[test]
    fn nearest_f64_rounds_the_exact_quotient_once() {
        assert_eq!(nearest_f64(1, 3), 1.0 / 3.0);
        assert_eq!(nearest_f64(9_000, 625), 14.4);
        assert_eq!(nearest_f64(0, 7), 0.0);
        assert_eq!(nearest_f64(u128::MAX, u128::MAX), 1.0);
        assert_eq!(nearest_f64(u128::MAX - 1, u128::MAX), 1.0);
        assert_eq!(nearest_f64(u128::MAX, 1), 2f64.powi(128));
        assert_eq!(nearest_f64(1, u128::MAX), 2f64.powi(-128));
        // Halfway between 2⁵³ and 2⁵³ + 2: ties go to even, but any remainder rounds up.
        let half_way = (1u128 << 53) + 1;
        assert_eq!(nearest_f64(half_way << 64, 1 << 64), 2f64.powi(53));
        assert_eq!(
            nearest_f64((half_way << 64) | 1, 1 << 64),
            2f64.powi(53) + 2.0
        );
        // Operands too wide for an f64, where dividing their roundings is one unit off (the
        // expected values are Python's correctly rounded `float(Fraction(n, d))`).
        let vectors: [(u128, u128, f64); 4] = [
            (
                11_744_056_039_463_855_549_090_705_777_183_271,
                13_097_542_144_696_168_495_726_499_745_332_260,
                0.896661061267865,
            ),
            (
                11_561_452_533_716_698_690_537_565_484_473_037,
                8_705_138_073_304_043_823_904_221_290_600_140,
                1.3281182258523945,
            ),
            (
                11_863_433_449_510_662_406_996_556_750_525_836,
                2_023_516_774_987_347_462_052_204_923_311_432,
                5.862779887053242,
            ),
            (
                5_159_599_377_404_880_218_423_899_141_170_225,
                16_196_430_958_348_019_754_715_516_835_230_760,
                0.3185639719438005,
            ),
        ];
        for (numerator, denominator, expected) in vectors {
            assert_eq!(nearest_f64(numerator, denominator), expected);
            assert_ne!(numerator as f64 / denominator as f64, expected);
        }
    }

    proptest::proptest! {
        #[test]
        fn nearest_f64_is_ieee_division_of_the_same_ratio(
            numerator in 0..1u128 << 53,
            denominator in 1..1u128 << 53,
            factor in 1..1u128 << 60,
        ) {
            // Operands below 2⁵³ are exact in an f64, so IEEE division rounds their quotient
            // once; scaled up past 2⁵³ they still have the same quotient.
            let expected = numerator as f64 / denominator as f64;
            proptest::prop_assert_eq!(nearest_f64(numerator, denominator), expected);
            proptest::prop_assert_eq!(
                nearest_f64(numerator * factor, denominator * factor),
                expected
            );
        }
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
        assert_eq!(budget.budget_ratio(), 0.001);
        assert_eq!(budget.allowed_bad_events(), 1_000.0);
        assert_eq!(budget.bad_events(), 250);
        assert_eq!(budget.consumed_ratio(), 0.25);
        assert_eq!(budget.remaining_ratio(), 0.75);
        assert_eq!(budget.burn_rate(), 0.25);
    }

    #[test]
    fn overspent_budget_has_negative_remaining_ratio() {
        let budget = ErrorBudget::new(0.99, EventCounts::new(970, 1_000).unwrap()).unwrap();
        assert_eq!(budget.consumed_ratio(), 3.0);
        assert_eq!(budget.remaining_ratio(), -2.0);
    }

    #[test]
    fn consumed_ratio_of_part_of_a_window_is_its_burn_rate() {
        // One day of a 30-day window spent exactly on schedule: the counts' own allowance is
        // all spent (and the burn rate is 1), but only 1/30 of the window's budget is.
        let day = EventCounts::new(8_631_360, 8_640_000).unwrap();
        let budget = ErrorBudget::new(0.999, day).unwrap();
        assert_eq!(budget.allowed_bad_events(), 8_640.0);
        assert_eq!(budget.consumed_ratio(), 1.0);
        assert_eq!(budget.burn_rate(), 1.0);
        assert_eq!(budget.remaining_ratio(), 0.0);
        let of_window = budget_consumed_ratio(budget.burn_rate(), 24 * HOUR, ROLLING_30_DAYS);
        assert_close(of_window.unwrap(), 1.0 / 30.0, 1e-15);
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
