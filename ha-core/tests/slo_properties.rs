//! Properties of the SLO arithmetic in `ha_core::slo`, each named for the invariant it states.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use ha_core::Severity;
use ha_core::slo::{
    self, BurnRatePolicy, BurnRateRule, ErrorBudget, EventCounts, allowed_downtime, availability,
    budget_consumed_ratio, burn_rate, calendar_month, calendar_year,
};
use proptest::prelude::*;

/// Ten years, in seconds: longer than any SLO window in use.
const TEN_YEARS_SECS: u64 = 10 * 366 * 24 * 60 * 60;

/// A window from one second to ten years, with nanoseconds.
fn window() -> impl Strategy<Value = Duration> {
    (1..TEN_YEARS_SECS, 0..1_000_000_000u32).prop_map(|(secs, nanos)| Duration::new(secs, nanos))
}

/// Any non-zero duration at all, up to `Duration::MAX`.
fn any_window() -> impl Strategy<Value = Duration> {
    (any::<u64>(), 0..1_000_000_000u32)
        .prop_map(|(secs, nanos)| Duration::new(secs, nanos))
        .prop_filter("non-zero", |d| !d.is_zero())
}

/// An SLO target strictly between 0 and 1, as used for budgets and burn rates.
fn slo_target() -> impl Strategy<Value = f64> {
    prop_oneof![0.5..0.99999f64, 0.00001..1.0f64]
}

/// Valid counts of up to 2^40 events, so every count converts to `f64` exactly.
fn counts() -> impl Strategy<Value = EventCounts> {
    (0..1u64 << 40, 0..1u64 << 40).prop_map(|(good, bad)| EventCounts {
        good,
        total: good + bad,
    })
}

/// `share` of `window`, never more than `window` (`Duration::mul_f64` can round above
/// `Duration::MAX` and panic).
fn share_of(window: Duration, share: f64) -> Duration {
    Duration::try_from_secs_f64(window.as_secs_f64() * share)
        .unwrap_or(window)
        .min(window)
}

fn severity() -> impl Strategy<Value = Severity> {
    prop_oneof![
        Just(Severity::Info),
        Just(Severity::Warning),
        Just(Severity::Critical)
    ]
}

/// A valid rule: windows of one minute to three days, short shorter than long.
fn rule() -> impl Strategy<Value = BurnRateRule> {
    (2..4_320u64, 0.01..100.0f64, severity()).prop_flat_map(|(long, burn_rate, severity)| {
        (1..long).prop_map(move |short| BurnRateRule {
            long_window: Duration::from_secs(60 * long),
            short_window: Duration::from_secs(60 * short),
            burn_rate,
            severity,
        })
    })
}

/// A decimal `units / 10^places`, as written in a config file.
#[derive(Debug, Clone, Copy)]
struct Decimal {
    units: u64,
    places: u32,
}

impl Decimal {
    /// The `f64` nearest the decimal, as parsing it would give: both operands are exact, so
    /// the division rounds once.
    fn value(self) -> f64 {
        self.units as f64 / 10u64.pow(self.places) as f64
    }
}

/// `counts` with `offset` more (or fewer) bad events out of the same total, kept valid.
fn offset_bad(counts: EventCounts, offset: i64) -> EventCounts {
    let bad = counts.bad().saturating_add_signed(offset).min(counts.total);
    EventCounts {
        good: counts.total - bad,
        total: counts.total,
    }
}

/// An SLO target and a burn-rate threshold written as decimals, and counts whose burn rate is
/// exactly the threshold.
#[derive(Debug, Clone, Copy)]
struct DecimalThresholdCase {
    /// `units / 10^places`, the target.
    target: Decimal,
    /// The threshold.
    threshold: Decimal,
    /// Counts burning at exactly `threshold` against `target`.
    at_threshold: EventCounts,
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Targets as people write them: the common nines, and any decimal of up to 6 places.
fn decimal_target() -> impl Strategy<Value = Decimal> {
    let common = prop::sample::select(vec![
        (9, 1),
        (95, 2),
        (99, 2),
        (995, 3),
        (999, 3),
        (9_995, 4),
        (9_999, 4),
        (99_995, 5),
        (99_999, 5),
        (999_999, 6),
    ])
    .prop_map(|(units, places)| Decimal { units, places });
    let any = (1..=6u32).prop_flat_map(|places| {
        (1..10u64.pow(places)).prop_map(move |units| Decimal { units, places })
    });
    prop_oneof![common, any]
}

/// A target, a threshold in hundredths (1, 6, 14.4 or any from 0.01 to 1,000) that counts can
/// reach (threshold × budget ≤ 1), and counts exactly on it, scaled by up to 1,000.
fn decimal_threshold_case() -> impl Strategy<Value = DecimalThresholdCase> {
    (decimal_target(), 1..=1_000u64).prop_flat_map(|(target, scale)| {
        let budget_units = 10u64.pow(target.places) - target.units;
        // threshold × budget = (units × budget_units) / 10^(2 + target.places) ≤ 1; at least
        // 100 (a threshold of 1), since the budget is below 1.
        let max_units = (10u64.pow(2 + target.places) / budget_units).min(100_000);
        let workbook = prop::sample::select(vec![100u64, 600, 1_440])
            .prop_filter("reachable", move |&units| units <= max_units);
        prop_oneof![workbook, 1..=max_units].prop_map(move |units| {
            let threshold = Decimal { units, places: 2 };
            // The error ratio on the threshold, bad / total, in lowest terms.
            let bad = u128::from(units) * u128::from(budget_units);
            let total = 10u128.pow(2 + target.places);
            let divisor = gcd(bad, total);
            let (bad, total) = (bad / divisor, total / divisor);
            let scale = u128::from(scale);
            let at_threshold = EventCounts {
                good: u64::try_from((total - bad) * scale).unwrap(),
                total: u64::try_from(total * scale).unwrap(),
            };
            DecimalThresholdCase {
                target,
                threshold,
                at_threshold,
            }
        })
    })
}

/// Whether `counts` burn at `threshold` or faster against `target`, in exact integers:
/// bad / total ≥ threshold × (1 − target).
fn reaches_exactly(counts: EventCounts, target: Decimal, threshold: Decimal) -> bool {
    let budget_units = 10u128.pow(target.places) - u128::from(target.units);
    let scale = 10u128.pow(target.places + threshold.places);
    u128::from(counts.bad()) * scale
        >= u128::from(threshold.units) * budget_units * u128::from(counts.total)
}

/// How many bad events to add to counts on a threshold: mostly none or one either way.
fn near_offset() -> impl Strategy<Value = i64> {
    prop_oneof![Just(0), Just(-1), Just(1), -3..=3i64]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn downtime_and_availability_are_inverse(
        target in 0.0..=1.0f64,
        window in window(),
        downtime_share in 0.0..=1.0f64,
    ) {
        let allowed = allowed_downtime(target, window).unwrap();
        let achieved = availability(allowed, window).unwrap();
        // The downtime is rounded to the nanosecond, and the window is at least a second.
        prop_assert!((achieved - target).abs() <= 2e-9, "{achieved} vs {target}");

        let downtime = share_of(window, downtime_share);
        let back = allowed_downtime(availability(downtime, window).unwrap(), window).unwrap();
        prop_assert!(back.abs_diff(downtime) <= Duration::from_micros(1), "{back:?} vs {downtime:?}");
    }

    #[test]
    fn allowed_downtime_never_exceeds_window(target in 0.0..=1.0f64, window in any_window()) {
        prop_assert!(allowed_downtime(target, window).unwrap() <= window);
    }

    #[test]
    fn higher_targets_never_allow_more_downtime(
        a in 0.0..=1.0f64,
        b in 0.0..=1.0f64,
        window in window(),
    ) {
        let (low, high) = if a <= b { (a, b) } else { (b, a) };
        prop_assert!(allowed_downtime(high, window).unwrap() <= allowed_downtime(low, window).unwrap());
    }

    #[test]
    fn availability_stays_a_ratio(window in any_window(), downtime_share in 0.0..=1.0f64) {
        let downtime = share_of(window, downtime_share);
        let achieved = availability(downtime, window).unwrap();
        prop_assert!((0.0..=1.0).contains(&achieved));
    }

    #[test]
    fn downtime_longer_than_window_is_rejected(window in window(), extra in 1..u32::MAX) {
        let downtime = window + Duration::from_nanos(u64::from(extra));
        prop_assert!(availability(downtime, window).is_err());
    }

    #[test]
    fn calendar_months_sum_to_calendar_year(year in any::<i32>()) {
        let months: Duration = (1..=12).map(|m| calendar_month(year, m).unwrap()).sum();
        prop_assert_eq!(months, calendar_year(year));
    }

    #[test]
    fn months_outside_1_to_12_are_rejected(year in any::<i32>(), month in 13..=u8::MAX) {
        prop_assert!(calendar_month(year, month).is_err());
        prop_assert!(calendar_month(year, 0).is_err());
    }

    #[test]
    fn event_counts_are_valid_iff_good_at_most_total(good in any::<u64>(), total in any::<u64>()) {
        prop_assert_eq!(EventCounts::new(good, total).is_ok(), good <= total);
        let ratio = EventCounts { good, total }.error_ratio();
        prop_assert!((0.0..=1.0).contains(&ratio));
    }

    #[test]
    fn more_bad_events_never_leave_more_budget(
        target in slo_target(),
        good in 0..1u64 << 40,
        a in 0..1u64 << 40,
        b in 0..1u64 << 40,
    ) {
        let (fewer, more) = if a <= b { (a, b) } else { (b, a) };
        let budget = |bad: u64| ErrorBudget::new(target, EventCounts { good, total: good + bad }).unwrap();
        let (fewer, more) = (budget(fewer), budget(more));
        prop_assert!(more.remaining_ratio() <= fewer.remaining_ratio());
        prop_assert!(more.consumed_ratio() >= fewer.consumed_ratio());
        prop_assert!(more.burn_rate() >= fewer.burn_rate());
    }

    #[test]
    fn consumed_ratio_is_the_burn_rate_held_for_the_whole_window(
        target in slo_target(),
        counts in counts(),
        window in window(),
    ) {
        let budget = ErrorBudget::new(target, counts).unwrap();
        prop_assert_eq!(budget.burn_rate(), burn_rate(target, counts).unwrap());
        let over_window = budget_consumed_ratio(budget.burn_rate(), window, window).unwrap();
        prop_assert_eq!(budget.consumed_ratio(), over_window);
        prop_assert_eq!(budget.remaining_ratio(), 1.0 - budget.consumed_ratio());
    }

    #[test]
    fn budget_is_overspent_iff_bad_events_exceed_the_allowance(
        target in slo_target(),
        counts in counts(),
    ) {
        let budget = ErrorBudget::new(target, counts).unwrap();
        let bad = budget.bad_events() as f64;
        let allowed = budget.allowed_bad_events();
        // Away from the boundary, where rounding could go either way.
        if bad > allowed * (1.0 + 1e-9) {
            prop_assert!(budget.consumed_ratio() > 1.0 && budget.remaining_ratio() < 0.0);
        }
        if bad < allowed * (1.0 - 1e-9) {
            prop_assert!(budget.consumed_ratio() < 1.0 && budget.remaining_ratio() > 0.0);
        }
    }

    #[test]
    fn budget_consumed_grows_with_time_and_burn_rate(
        rates in (0.0..1_000.0f64, 0.0..1_000.0f64),
        shares in (0.0..=1.0f64, 0.0..=1.0f64),
    ) {
        let window = slo::ROLLING_30_DAYS;
        let (low_rate, high_rate) = if rates.0 <= rates.1 { rates } else { (rates.1, rates.0) };
        let (short, long) = if shares.0 <= shares.1 { shares } else { (shares.1, shares.0) };
        let (short, long) = (share_of(window, short), share_of(window, long));
        let spent = |rate, over| budget_consumed_ratio(rate, over, window).unwrap();
        prop_assert!(spent(low_rate, short) <= spent(high_rate, short));
        prop_assert!(spent(low_rate, short) <= spent(low_rate, long));
    }

    #[test]
    fn burn_rate_alert_fires_iff_both_windows_reach_threshold(
        case in decimal_threshold_case(),
        windows in rule().prop_map(|rule| (rule.long_window, rule.short_window)),
        long_offset in near_offset(),
        short_offset in near_offset(),
    ) {
        let DecimalThresholdCase { target, threshold, at_threshold } = case;
        let rule = BurnRateRule {
            long_window: windows.0,
            short_window: windows.1,
            burn_rate: threshold.value(),
            severity: Severity::Critical,
        };
        let policy = BurnRatePolicy::new(vec![rule]).unwrap();
        let long_counts = offset_bad(at_threshold, long_offset);
        let short_counts = offset_bad(at_threshold, short_offset);
        let counts = |window: Duration| {
            if window == rule.long_window { long_counts } else { short_counts }
        };
        let alert = policy.evaluate(target.value(), counts).unwrap();
        // Decided in exact integer arithmetic, not in floating point.
        let reaches = |counts: EventCounts| reaches_exactly(counts, target, threshold);
        let expected = reaches(long_counts) && reaches(short_counts);
        prop_assert_eq!(
            alert.is_some(),
            expected,
            "{:?} and {:?} against {} at {}×",
            long_counts,
            short_counts,
            target.value(),
            threshold.value()
        );
        if long_offset == 0 {
            // Counts on the threshold burn at exactly the threshold.
            prop_assert_eq!(burn_rate(target.value(), long_counts).unwrap(), threshold.value());
        }
        if let Some(alert) = alert {
            prop_assert_eq!(alert.rule, rule);
            prop_assert_eq!(alert.long_burn_rate, burn_rate(target.value(), long_counts).unwrap());
            prop_assert_eq!(alert.short_burn_rate, burn_rate(target.value(), short_counts).unwrap());
            prop_assert!(alert.long_burn_rate >= rule.burn_rate);
            prop_assert!(alert.short_burn_rate >= rule.burn_rate);
        }
    }

    #[test]
    fn burn_rate_alert_agrees_with_the_burn_rates_of_any_counts(
        rule in rule(),
        target in slo_target(),
        long_counts in counts(),
        short_counts in counts(),
    ) {
        let policy = BurnRatePolicy::new(vec![rule]).unwrap();
        let counts = |window: Duration| {
            if window == rule.long_window { long_counts } else { short_counts }
        };
        let long_rate = burn_rate(target, long_counts).unwrap();
        let short_rate = burn_rate(target, short_counts).unwrap();
        let alert = policy.evaluate(target, counts).unwrap();
        let expected = long_rate >= rule.burn_rate && short_rate >= rule.burn_rate;
        prop_assert_eq!(alert.is_some(), expected);
        if let Some(alert) = alert {
            prop_assert_eq!(alert.rule, rule);
            prop_assert_eq!(alert.long_burn_rate, long_rate);
            prop_assert_eq!(alert.short_burn_rate, short_rate);
        }
    }

    #[test]
    fn burn_rate_is_exact_on_decimal_thresholds(case in decimal_threshold_case()) {
        let DecimalThresholdCase { target, threshold, at_threshold } = case;
        let budget = ErrorBudget::new(target.value(), at_threshold).unwrap();
        prop_assert_eq!(budget.budget_ratio(), Decimal {
            units: 10u64.pow(target.places) - target.units,
            places: target.places,
        }.value());
        prop_assert_eq!(budget.burn_rate(), threshold.value());
        prop_assert_eq!(burn_rate(target.value(), at_threshold).unwrap(), threshold.value());
        prop_assert_eq!(budget.consumed_ratio(), threshold.value());
    }

    #[test]
    fn burn_rate_alert_is_the_most_urgent_firing_rule(
        rules in prop::collection::vec(rule(), 1..6),
        target in slo_target(),
        measured in prop::collection::vec(counts(), 12),
    ) {
        let policy = BurnRatePolicy::new(rules).unwrap();
        let windows = policy.windows();
        let counts = |window: Duration| {
            let i = windows.binary_search(&window).unwrap();
            measured[i % measured.len()]
        };
        let rate = |window| burn_rate(target, counts(window)).unwrap();
        let firing: Vec<&BurnRateRule> = policy
            .rules()
            .iter()
            .filter(|r| r.fires(rate(r.long_window), rate(r.short_window)))
            .collect();
        let alert = policy.evaluate(target, counts).unwrap();
        prop_assert_eq!(alert.is_some(), !firing.is_empty());
        if let Some(alert) = alert {
            prop_assert!(firing.contains(&&alert.rule));
            prop_assert!(alert.rule.fires(alert.long_burn_rate, alert.short_burn_rate));
            for other in firing {
                prop_assert!(
                    (other.severity, other.burn_rate) <= (alert.rule.severity, alert.rule.burn_rate)
                );
            }
        }
    }

    #[test]
    fn policy_windows_are_sorted_distinct_and_complete(rules in prop::collection::vec(rule(), 1..6)) {
        let policy = BurnRatePolicy::new(rules.clone()).unwrap();
        prop_assert_eq!(policy.rules(), &rules[..]);
        let windows = policy.windows();
        prop_assert!(windows.windows(2).all(|pair| pair[0] < pair[1]));
        for rule in policy.rules() {
            prop_assert!(windows.contains(&rule.long_window));
            prop_assert!(windows.contains(&rule.short_window));
        }
        for window in windows {
            prop_assert!(
                rules.iter().any(|r| r.long_window == *window || r.short_window == *window)
            );
        }
    }

    #[test]
    fn policies_with_an_invalid_rule_are_rejected(
        rules in prop::collection::vec(rule(), 0..6),
        at in any::<prop::sample::Index>(),
        long in 1..1_000_000u64,
        extra in 0..1_000_000u64,
    ) {
        let mut rules = rules;
        let bad = BurnRateRule {
            long_window: Duration::from_secs(long),
            short_window: Duration::from_secs(long + extra),
            burn_rate: 1.0,
            severity: Severity::Warning,
        };
        let position = at.index(rules.len() + 1);
        rules.insert(position, bad);
        prop_assert!(BurnRatePolicy::new(rules).is_err());
    }

    #[test]
    fn rules_with_short_window_not_shorter_than_long_are_rejected(
        long in 1..1_000_000u64,
        extra in 0..1_000_000u64,
        burn_rate in 0.01..100.0f64,
    ) {
        let rule = BurnRateRule {
            long_window: Duration::from_secs(long),
            short_window: Duration::from_secs(long + extra),
            burn_rate,
            severity: Severity::Critical,
        };
        prop_assert!(rule.validate().is_err());
    }
}
