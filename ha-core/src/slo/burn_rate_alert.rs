//! Multi-window, multi-burn-rate alerts on an error budget.

use std::time::Duration;

use crate::error::{finite, non_zero_duration};
use crate::slo::budget::slo_target;
use crate::slo::{EventCounts, burn_rate};
use crate::{Error, Result, Severity};

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(60 * 60);

/// One alerting rule: fire at `severity` when the budget burns at `burn_rate` or faster over
/// both the long and the short window.
///
/// The long window makes the alert significant (a 14.4× burn for an hour is 2 % of a 30-day
/// budget); the short window, typically 1/12 of the long one, makes it stop soon after the burn
/// stops, instead of firing on for as long as the bad hour stays inside the long window (SRE
/// workbook, chapter 5, "Alerting on SLOs", approach 6, "Multiwindow, Multi-Burn-Rate Alerts").
///
/// A plain, public-field struct: [`BurnRateRule::validate`] checks it, and
/// [`BurnRatePolicy::new`] validates every rule it is given.
///
/// ```
/// use std::time::Duration;
/// use ha_core::slo::BurnRateRule;
/// use ha_core::Severity;
///
/// let rule = BurnRateRule {
///     long_window: Duration::from_secs(3_600),
///     short_window: Duration::from_secs(300),
///     burn_rate: 14.4,
///     severity: Severity::Critical,
/// };
/// rule.validate()?;
/// assert!(rule.fires(20.0, 15.0));
/// assert!(rule.fires(14.4, 14.4)); // at the threshold
/// assert!(!rule.fires(20.0, 1.0)); // the burn has stopped: reset
/// # Ok::<(), ha_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct BurnRateRule {
    /// The window over which the burn must be sustained; non-zero.
    pub long_window: Duration,
    /// The window that shows the burn is still going on; non-zero and shorter than
    /// `long_window`.
    pub short_window: Duration,
    /// The burn-rate threshold, reached when both windows burn at least this fast; finite and
    /// positive.
    pub burn_rate: f64,
    /// How urgent the alert is: [`Severity::Critical`] pages, [`Severity::Warning`] opens a
    /// ticket.
    pub severity: Severity,
}

impl BurnRateRule {
    /// Checks that both windows are non-zero, the short window is shorter than the long one and
    /// the burn rate is finite and positive.
    ///
    /// # Errors
    /// - [`Error::Zero`] if a window is zero;
    /// - [`Error::OutOfRange`] if `short_window` is not shorter than `long_window` (value in
    ///   seconds) or `burn_rate` is not positive;
    /// - [`Error::NotFinite`] if `burn_rate` is NaN or infinite.
    pub fn validate(&self) -> Result<()> {
        let long_window = non_zero_duration("long_window", self.long_window)?;
        let short_window = non_zero_duration("short_window", self.short_window)?;
        if short_window >= long_window {
            return Err(Error::OutOfRange {
                name: "short_window",
                value: short_window.as_secs_f64(),
                range: "(0, long_window)",
            });
        }
        let name = "burn_rate";
        if finite(name, self.burn_rate)? <= 0.0 {
            return Err(Error::OutOfRange {
                name,
                value: self.burn_rate,
                range: "(0, inf)",
            });
        }
        Ok(())
    }

    /// Whether the rule fires for the burn rates measured over its long and short windows:
    /// both at or above its threshold, compared as they are, without tolerance. False if
    /// either is NaN.
    ///
    /// Burn rates from [`burn_rate`] are exact (see the
    /// [module docs](crate::slo#exact-burn-rates)), so counts that sit exactly on a threshold
    /// written as a decimal reach it: 1 bad event in 1,000 against 99.9 % fires a 1× rule.
    #[must_use]
    pub fn fires(&self, long_burn_rate: f64, short_burn_rate: f64) -> bool {
        long_burn_rate >= self.burn_rate && short_burn_rate >= self.burn_rate
    }

    /// The share of an `slo_window`'s error budget spent by the time the rule fires on a burn
    /// that just reached its threshold: `burn_rate × long_window / slo_window` (2 %, 5 % and
    /// 10 % of a 30-day budget for the workbook's rules); see
    /// [`budget_consumed_ratio`](crate::slo::budget_consumed_ratio).
    ///
    /// # Errors
    /// As [`BurnRateRule::validate`], and as
    /// [`budget_consumed_ratio`](crate::slo::budget_consumed_ratio).
    pub fn budget_consumed_ratio(&self, slo_window: Duration) -> Result<f64> {
        self.validate()?;
        crate::slo::budget_consumed_ratio(self.burn_rate, self.long_window, slo_window)
    }
}

/// A set of [`BurnRateRule`]s evaluated together: the "multiwindow, multi-burn-rate alerts" the
/// SRE workbook recommends (chapter 5, "Alerting on SLOs", approach 6).
///
/// Built by [`BurnRatePolicy::new`], which validates the rules once, or
/// [`BurnRatePolicy::sre_workbook`] (also the default); a policy cannot hold an invalid rule,
/// and a deserialized one goes through [`BurnRatePolicy::new`] too. Evaluation is pure: the
/// caller measures good and total events over each of [`BurnRatePolicy::windows`] and
/// [`BurnRatePolicy::evaluate`] returns the most urgent rule that fires, if any.
///
/// ```
/// use std::time::Duration;
/// use ha_core::slo::{BurnRatePolicy, EventCounts};
///
/// let policy = BurnRatePolicy::sre_workbook();
/// let minute = Duration::from_secs(60);
/// assert_eq!(
///     policy.windows(),
///     [5 * minute, 30 * minute, 60 * minute, 360 * minute, 3 * 24 * 60 * minute],
/// );
/// // 0.05 % of requests failing against a 99.9 % target: half the sustainable rate.
/// let alert = policy.evaluate(0.999, |_window| EventCounts { good: 19_990, total: 20_000 })?;
/// assert_eq!(alert, None);
/// # Ok::<(), ha_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(try_from = "BurnRatePolicyParts")
)]
pub struct BurnRatePolicy {
    /// Valid, at least one.
    rules: Vec<BurnRateRule>,
    /// The distinct windows of `rules`, shortest first.
    #[cfg_attr(feature = "serde", serde(skip))]
    windows: Vec<Duration>,
}

/// The serialized form of a [`BurnRatePolicy`], validated on the way in.
#[cfg(feature = "serde")]
#[derive(serde::Deserialize)]
struct BurnRatePolicyParts {
    rules: Vec<BurnRateRule>,
}

#[cfg(feature = "serde")]
impl TryFrom<BurnRatePolicyParts> for BurnRatePolicy {
    type Error = Error;

    fn try_from(parts: BurnRatePolicyParts) -> Result<BurnRatePolicy> {
        BurnRatePolicy::new(parts.rules)
    }
}

impl Default for BurnRatePolicy {
    /// [`BurnRatePolicy::sre_workbook`].
    fn default() -> BurnRatePolicy {
        BurnRatePolicy::sre_workbook()
    }
}

impl BurnRatePolicy {
    /// A policy of `rules`, each checked by [`BurnRateRule::validate`]. Their order only breaks
    /// ties between firing rules of equal severity and threshold (the first wins).
    ///
    /// ```
    /// use std::time::Duration;
    /// use ha_core::slo::{BurnRatePolicy, BurnRateRule};
    /// use ha_core::{Error, Severity};
    ///
    /// let page = BurnRateRule {
    ///     long_window: Duration::from_secs(3_600),
    ///     short_window: Duration::from_secs(300),
    ///     burn_rate: 14.4,
    ///     severity: Severity::Critical,
    /// };
    /// let policy = BurnRatePolicy::new(vec![page])?;
    /// assert_eq!(policy.rules(), [page]);
    /// assert_eq!(BurnRatePolicy::new(vec![]), Err(Error::Empty { name: "rules" }));
    /// # Ok::<(), ha_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// - [`Error::Empty`] (`rules`) if there are no rules;
    /// - the first error of [`BurnRateRule::validate`] among the rules.
    pub fn new(rules: Vec<BurnRateRule>) -> Result<BurnRatePolicy> {
        if rules.is_empty() {
            return Err(Error::Empty { name: "rules" });
        }
        rules.iter().try_for_each(BurnRateRule::validate)?;
        Ok(BurnRatePolicy::from_valid_rules(rules))
    }

    /// A policy of rules already known to be valid, with its windows worked out.
    fn from_valid_rules(rules: Vec<BurnRateRule>) -> BurnRatePolicy {
        debug_assert!(!rules.is_empty());
        debug_assert!(rules.iter().all(|rule| rule.validate().is_ok()));
        let mut windows: Vec<Duration> = rules
            .iter()
            .flat_map(|rule| [rule.long_window, rule.short_window])
            .collect();
        windows.sort_unstable();
        windows.dedup();
        BurnRatePolicy { rules, windows }
    }

    /// The parameters the SRE workbook recommends as a starting point (chapter 5, "Alerting on
    /// SLOs", section "Multiwindow, Multi-Burn-Rate Alerts"), for a 30-day SLO window:
    ///
    /// | budget spent | long window | short window | burn rate | severity |
    /// |---|---|---|---|---|
    /// | 2 % | 1 hour | 5 minutes | 14.4 | [`Severity::Critical`] (page) |
    /// | 5 % | 6 hours | 30 minutes | 6 | [`Severity::Critical`] (page) |
    /// | 10 % | 3 days | 6 hours | 1 | [`Severity::Warning`] (ticket) |
    #[must_use]
    pub fn sre_workbook() -> BurnRatePolicy {
        BurnRatePolicy::from_valid_rules(vec![
            BurnRateRule {
                long_window: HOUR,
                short_window: 5 * MINUTE,
                burn_rate: 14.4,
                severity: Severity::Critical,
            },
            BurnRateRule {
                long_window: 6 * HOUR,
                short_window: 30 * MINUTE,
                burn_rate: 6.0,
                severity: Severity::Critical,
            },
            BurnRateRule {
                long_window: 72 * HOUR,
                short_window: 6 * HOUR,
                burn_rate: 1.0,
                severity: Severity::Warning,
            },
        ])
    }

    /// The rules, valid and at least one, in the order given.
    #[must_use]
    pub fn rules(&self) -> &[BurnRateRule] {
        &self.rules
    }

    /// The distinct windows, long and short, over which the caller must count events, shortest
    /// first. Worked out once, when the policy is built.
    #[must_use]
    pub fn windows(&self) -> &[Duration] {
        &self.windows
    }

    /// Evaluates every rule against an SLO of `target_ratio` (in `(0, 1)`) and returns the most
    /// urgent one that fires, with the burn rates measured over its windows; `None` if no rule
    /// fires.
    ///
    /// `counts(window)` gives the good and total events of the last `window`; it is called once
    /// for each of [`BurnRatePolicy::windows`], shortest first, and each answer becomes a burn
    /// rate by [`burn_rate`]. A rule fires iff the burn rates of both its long and its short
    /// window are at or above its threshold ([`BurnRateRule::fires`]). Among firing rules the
    /// highest severity wins, then the highest threshold, then the earliest rule. The rules were
    /// validated when the policy was built; only the target and the counts are checked here.
    ///
    /// ```
    /// use std::time::Duration;
    /// use ha_core::slo::{BurnRatePolicy, EventCounts};
    /// use ha_core::Severity;
    ///
    /// // A 99.9 % SLO: an outage failed 2 % of the last hour's requests but has just ended, so
    /// // the last 5 minutes are clean. The 1-hour burn (20×) is over 14.4 but the alert resets.
    /// let hour = Duration::from_secs(3_600);
    /// let counts = |window: Duration| match window {
    ///     w if w < hour => EventCounts { good: 1_000, total: 1_000 },
    ///     w if w == hour => EventCounts { good: 9_800, total: 10_000 },
    ///     _ => EventCounts { good: 99_800, total: 100_000 }, // 2× over 6 h and 3 d
    /// };
    /// let alert = BurnRatePolicy::sre_workbook().evaluate(0.999, counts)?;
    /// // Only the 3-day rule (1×, with a 6-hour short window at 2×) still fires: a ticket.
    /// let alert = alert.map(|alert| (alert.severity(), alert.rule.burn_rate));
    /// assert_eq!(alert, Some((Severity::Warning, 1.0)));
    /// # Ok::<(), ha_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// - [`Error::NotFinite`] or [`Error::OutOfRange`] if `target_ratio` is not in `(0, 1)`;
    /// - [`Error::GoodExceedsTotal`] if `counts` returns invalid counts.
    pub fn evaluate(
        &self,
        target_ratio: f64,
        mut counts: impl FnMut(Duration) -> EventCounts,
    ) -> Result<Option<BurnRateAlert>> {
        let target_ratio = slo_target(target_ratio)?;
        let burn_rates = self
            .windows
            .iter()
            .map(|&window| burn_rate(target_ratio, counts(window)))
            .collect::<Result<Vec<f64>>>()?;
        let burn_rate_over = |window: Duration| {
            self.windows
                .binary_search(&window)
                .ok()
                .and_then(|i| burn_rates.get(i).copied())
        };

        let mut most_urgent: Option<BurnRateAlert> = None;
        for rule in &self.rules {
            let (Some(long_burn_rate), Some(short_burn_rate)) = (
                burn_rate_over(rule.long_window),
                burn_rate_over(rule.short_window),
            ) else {
                debug_assert!(false, "every window of a rule is in windows()");
                continue;
            };
            if !rule.fires(long_burn_rate, short_burn_rate) {
                continue;
            }
            let more_urgent = most_urgent.as_ref().is_none_or(|best| {
                (rule.severity, rule.burn_rate) > (best.rule.severity, best.rule.burn_rate)
            });
            if more_urgent {
                most_urgent = Some(BurnRateAlert {
                    rule: *rule,
                    long_burn_rate,
                    short_burn_rate,
                });
            }
        }
        Ok(most_urgent)
    }
}

/// A firing [`BurnRateRule`] and the burn rates that made it fire, returned by
/// [`BurnRatePolicy::evaluate`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct BurnRateAlert {
    /// The rule that fired.
    pub rule: BurnRateRule,
    /// The burn rate measured over the rule's long window; at least `rule.burn_rate`.
    pub long_burn_rate: f64,
    /// The burn rate measured over the rule's short window; at least `rule.burn_rate`.
    pub short_burn_rate: f64,
}

impl BurnRateAlert {
    /// How urgent the alert is: the severity of its rule.
    #[must_use]
    pub fn severity(&self) -> Severity {
        self.rule.severity
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slo::ROLLING_30_DAYS;
    use crate::slo::test_util::assert_close;

    const TARGET: f64 = 0.999;

    /// Counts with `error_per_mille` failures per thousand events: a burn rate of
    /// `error_per_mille` against a 99.9 % target.
    fn per_mille(error_per_mille: u64) -> EventCounts {
        EventCounts {
            good: 100_000 - 100 * error_per_mille,
            total: 100_000,
        }
    }

    fn rule(long_minutes: u64, short_minutes: u64, burn_rate: f64) -> BurnRateRule {
        BurnRateRule {
            long_window: Duration::from_secs(60 * long_minutes),
            short_window: Duration::from_secs(60 * short_minutes),
            burn_rate,
            severity: Severity::Critical,
        }
    }

    #[test]
    fn sre_workbook_parameters() {
        let policy = BurnRatePolicy::sre_workbook();
        assert_eq!(
            BurnRatePolicy::new(policy.rules().to_vec()),
            Ok(policy.clone())
        );
        assert_eq!(policy, BurnRatePolicy::default());
        let table: Vec<_> = policy
            .rules()
            .iter()
            .map(|r| (r.long_window, r.short_window, r.burn_rate, r.severity))
            .collect();
        assert_eq!(
            table,
            [
                (HOUR, 5 * MINUTE, 14.4, Severity::Critical),
                (6 * HOUR, 30 * MINUTE, 6.0, Severity::Critical),
                (72 * HOUR, 6 * HOUR, 1.0, Severity::Warning),
            ]
        );
        let spent: Vec<f64> = policy
            .rules()
            .iter()
            .map(|r| r.budget_consumed_ratio(ROLLING_30_DAYS).unwrap())
            .collect();
        for (spent, expected) in spent.into_iter().zip([0.02, 0.05, 0.10]) {
            assert_close(spent, expected, 1e-12);
        }
    }

    #[test]
    fn windows_are_distinct_and_sorted() {
        assert_eq!(
            BurnRatePolicy::sre_workbook().windows(),
            [5 * MINUTE, 30 * MINUTE, HOUR, 6 * HOUR, 72 * HOUR]
        );
    }

    #[test]
    fn counts_are_asked_once_per_window_shortest_first() {
        let mut asked = Vec::new();
        let policy = BurnRatePolicy::sre_workbook();
        policy
            .evaluate(TARGET, |window| {
                asked.push(window);
                EventCounts::default()
            })
            .unwrap();
        assert_eq!(asked, policy.windows());
    }

    #[test]
    fn fast_burn_in_both_windows_pages() {
        // 20× everywhere: every rule fires; the 14.4× page wins.
        let alert = BurnRatePolicy::sre_workbook()
            .evaluate(TARGET, |_| per_mille(20))
            .unwrap()
            .unwrap();
        assert_eq!(alert.severity(), Severity::Critical);
        assert_eq!(alert.rule.burn_rate, 14.4);
        assert_close(alert.long_burn_rate, 20.0, 1e-9);
        assert_close(alert.short_burn_rate, 20.0, 1e-9);
    }

    #[test]
    fn long_window_over_threshold_but_short_below_does_not_fire() {
        // The outage of the last hour has ended: the 5-minute window is clean, so the 14.4×
        // rule resets although its 1-hour window still burns at 20×.
        let counts = |window: Duration| {
            if window == HOUR {
                per_mille(20)
            } else {
                per_mille(0)
            }
        };
        assert_eq!(
            BurnRatePolicy::sre_workbook().evaluate(TARGET, counts),
            Ok(None)
        );
    }

    #[test]
    fn short_window_over_threshold_but_long_below_does_not_fire() {
        // A 5-minute spike: too short to matter yet.
        let counts = |window: Duration| {
            if window == 5 * MINUTE {
                per_mille(100)
            } else {
                per_mille(0)
            }
        };
        assert_eq!(
            BurnRatePolicy::sre_workbook().evaluate(TARGET, counts),
            Ok(None)
        );
    }

    #[test]
    fn medium_burn_pages_through_the_six_hour_rule() {
        // 8× everywhere: under 14.4, over 6.
        let alert = BurnRatePolicy::sre_workbook()
            .evaluate(TARGET, |_| per_mille(8))
            .unwrap()
            .unwrap();
        assert_eq!(alert.severity(), Severity::Critical);
        assert_eq!(alert.rule.long_window, 6 * HOUR);
    }

    #[test]
    fn slow_burn_opens_a_ticket() {
        // 2× everywhere: only the 1× rule fires, a warning.
        let alert = BurnRatePolicy::sre_workbook()
            .evaluate(TARGET, |_| per_mille(2))
            .unwrap()
            .unwrap();
        assert_eq!(alert.severity(), Severity::Warning);
        assert_eq!(alert.rule.long_window, 72 * HOUR);
    }

    #[test]
    fn burn_within_budget_does_not_fire() {
        let policy = BurnRatePolicy::sre_workbook();
        assert_eq!(policy.evaluate(TARGET, |_| per_mille(0)), Ok(None));
        assert_eq!(
            policy.evaluate(TARGET, |_| EventCounts::default()),
            Ok(None)
        );
    }

    #[test]
    fn severity_beats_threshold() {
        let policy = BurnRatePolicy::new(vec![
            BurnRateRule {
                severity: Severity::Warning,
                ..rule(60, 5, 10.0)
            },
            rule(360, 30, 2.0),
        ])
        .unwrap();
        let alert = policy.evaluate(TARGET, |_| per_mille(20)).unwrap().unwrap();
        assert_eq!(alert.severity(), Severity::Critical);
        assert_eq!(alert.rule.burn_rate, 2.0);
    }

    #[test]
    fn equal_severity_ties_go_to_the_highest_threshold_then_the_first_rule() {
        let policy = BurnRatePolicy::new(vec![
            rule(360, 30, 6.0),
            rule(60, 5, 14.4),
            rule(120, 10, 14.4),
        ])
        .unwrap();
        let alert = policy.evaluate(TARGET, |_| per_mille(20)).unwrap().unwrap();
        assert_eq!(alert.rule, rule(60, 5, 14.4));
    }

    #[test]
    fn burn_exactly_at_threshold_fires() {
        // Target 0.75: a budget of exactly 0.25, and 1 bad event in 4 burns at exactly 1.
        let policy = BurnRatePolicy::new(vec![rule(60, 5, 1.0)]).unwrap();
        let alert = policy
            .evaluate(0.75, |_| EventCounts { good: 3, total: 4 })
            .unwrap()
            .unwrap();
        assert_eq!(alert.long_burn_rate, 1.0);
        assert!(rule(60, 5, 1.0).fires(1.0, 1.0));
        assert!(!rule(60, 5, 1.0).fires(f64::NAN, 2.0));
    }

    /// `bad` bad events out of `total`.
    fn bad_of(bad: u64, total: u64) -> EventCounts {
        EventCounts::new(total - bad, total).unwrap()
    }

    /// Checks that `at` (bad, total) sits exactly on `threshold` against `target`: a rule of
    /// that threshold fires on it in both windows, with exactly that burn rate, and not on
    /// `below`, which has fewer bad events.
    #[track_caller]
    fn assert_fires_exactly_at(target: f64, threshold: f64, at: (u64, u64), below: (u64, u64)) {
        let policy = BurnRatePolicy::new(vec![rule(60, 5, threshold)]).unwrap();
        let alert = policy.evaluate(target, |_| bad_of(at.0, at.1)).unwrap();
        let alert = alert.unwrap_or_else(|| panic!("{at:?} at {target} must reach {threshold}"));
        assert_eq!(alert.long_burn_rate, threshold);
        assert_eq!(alert.short_burn_rate, threshold);
        // Just below in either window: no alert.
        let below_in_long = |window: Duration| {
            if window == HOUR {
                bad_of(below.0, below.1)
            } else {
                bad_of(at.0, at.1)
            }
        };
        assert_eq!(policy.evaluate(target, below_in_long), Ok(None));
        let below_in_short = |window: Duration| {
            if window == HOUR {
                bad_of(at.0, at.1)
            } else {
                bad_of(below.0, below.1)
            }
        };
        assert_eq!(policy.evaluate(target, below_in_short), Ok(None));
    }

    #[test]
    fn rules_fire_exactly_at_1_6_and_14_4_for_three_nines() {
        assert_fires_exactly_at(0.999, 1.0, (1, 1_000), (999, 1_000_000));
        assert_fires_exactly_at(0.999, 1.0, (10_000, 10_000_000), (9_999, 10_000_000));
        assert_fires_exactly_at(0.999, 6.0, (6, 1_000), (5_999, 1_000_000));
        assert_fires_exactly_at(0.999, 6.0, (3, 500), (2, 500));
        assert_fires_exactly_at(0.999, 14.4, (144, 10_000), (143, 10_000));
        assert_fires_exactly_at(0.999, 14.4, (9, 625), (8_999, 625_000));
        assert_fires_exactly_at(
            0.999,
            14.4,
            (1_440_000, 100_000_000),
            (1_439_999, 100_000_000),
        );
    }

    #[test]
    fn rules_fire_exactly_at_1_6_and_14_4_for_three_and_a_half_nines() {
        assert_fires_exactly_at(0.9995, 1.0, (5, 10_000), (4, 10_000));
        assert_fires_exactly_at(0.9995, 1.0, (50_000, 100_000_000), (49_999, 100_000_000));
        assert_fires_exactly_at(0.9995, 6.0, (3, 1_000), (2_999, 1_000_000));
        assert_fires_exactly_at(0.9995, 6.0, (30, 10_000), (29, 10_000));
        assert_fires_exactly_at(0.9995, 14.4, (72, 10_000), (71, 10_000));
        assert_fires_exactly_at(0.9995, 14.4, (9, 1_250), (8_999, 1_250_000));
        assert_fires_exactly_at(0.9995, 14.4, (720_000, 100_000_000), (719_999, 100_000_000));
    }

    #[test]
    fn workbook_policy_fires_each_rule_exactly_at_its_threshold() {
        let policy = BurnRatePolicy::sre_workbook();
        for (target, per_10_000) in [(0.999, 10), (0.9995, 5)] {
            // `per_10_000 × burn` bad events in 10,000 burn at exactly `burn`.
            let at = |burn: f64| {
                let bad = (per_10_000 as f64 * burn).round() as u64;
                move |_: Duration| bad_of(bad, 10_000)
            };
            let fired = |burn| {
                let alert = policy.evaluate(target, at(burn)).unwrap().unwrap();
                (alert.rule.burn_rate, alert.severity(), alert.long_burn_rate)
            };
            assert_eq!(fired(14.4), (14.4, Severity::Critical, 14.4), "{target}");
            assert_eq!(fired(6.0), (6.0, Severity::Critical, 6.0), "{target}");
            assert_eq!(fired(1.0), (1.0, Severity::Warning, 1.0), "{target}");
            // One bad event fewer in 10,000 than on schedule: nothing.
            let below = policy.evaluate(target, |_| bad_of(per_10_000 - 1, 10_000));
            assert_eq!(below, Ok(None), "{target}");
        }
    }

    #[test]
    fn rejects_short_window_not_shorter_than_long() {
        for short in [60, 61] {
            assert!(
                matches!(
                    rule(60, short, 1.0).validate(),
                    Err(Error::OutOfRange {
                        name: "short_window",
                        ..
                    })
                ),
                "short window {short} min"
            );
        }
    }

    #[test]
    fn rejects_zero_windows() {
        assert_eq!(
            rule(0, 0, 1.0).validate(),
            Err(Error::Zero {
                name: "long_window"
            })
        );
        assert_eq!(
            rule(60, 0, 1.0).validate(),
            Err(Error::Zero {
                name: "short_window"
            })
        );
    }

    #[test]
    fn rejects_burn_rate_not_positive() {
        for burn_rate in [0.0, -1.0] {
            assert!(matches!(
                rule(60, 5, burn_rate).validate(),
                Err(Error::OutOfRange {
                    name: "burn_rate",
                    ..
                })
            ));
        }
        for burn_rate in [f64::NAN, f64::INFINITY] {
            assert!(matches!(
                rule(60, 5, burn_rate).validate(),
                Err(Error::NotFinite {
                    name: "burn_rate",
                    ..
                })
            ));
        }
    }

    #[test]
    fn new_rejects_no_rules_and_invalid_rules() {
        let err = BurnRatePolicy::new(vec![]).unwrap_err();
        assert_eq!(err, Error::Empty { name: "rules" });
        assert_eq!(err.to_string(), "rules must not be empty");
        assert!(matches!(
            BurnRatePolicy::new(vec![rule(60, 5, 1.0), rule(5, 60, 1.0)]),
            Err(Error::OutOfRange {
                name: "short_window",
                ..
            })
        ));
        assert!(matches!(
            BurnRatePolicy::new(vec![rule(60, 5, f64::NAN)]),
            Err(Error::NotFinite {
                name: "burn_rate",
                ..
            })
        ));
    }

    #[test]
    fn new_works_out_the_windows_once() {
        let policy = BurnRatePolicy::new(vec![rule(60, 5, 14.4), rule(360, 60, 6.0)]).unwrap();
        assert_eq!(policy.rules(), [rule(60, 5, 14.4), rule(360, 60, 6.0)]);
        assert_eq!(policy.windows(), [5 * MINUTE, HOUR, 6 * HOUR]);
    }

    #[test]
    fn evaluate_rejects_bad_targets_and_counts() {
        let policy = BurnRatePolicy::sre_workbook();
        for target in [0.0, 1.0, f64::NAN] {
            assert!(policy.evaluate(target, |_| per_mille(0)).is_err());
        }
        assert_eq!(
            policy.evaluate(TARGET, |_| EventCounts { good: 2, total: 1 }),
            Err(Error::GoodExceedsTotal { good: 2, total: 1 })
        );
    }

    #[cfg(feature = "serde")]
    #[test]
    fn policy_and_alert_round_trip_through_serde() {
        let policy = BurnRatePolicy::sre_workbook();
        let json = serde_json::to_string(&policy).unwrap();
        assert!(json.starts_with(r#"{"rules":[{"long_window":"#));
        assert!(json.contains(r#""severity":"critical""#));
        assert!(!json.contains("windows"));
        let read = serde_json::from_str::<BurnRatePolicy>(&json).unwrap();
        assert_eq!(read, policy);
        assert_eq!(read.windows(), policy.windows());
        // Target 0.5 and all events bad: burn rates of exactly 2, which survive JSON.
        let alert = policy
            .evaluate(0.5, |_| EventCounts { good: 0, total: 4 })
            .unwrap()
            .unwrap();
        assert_eq!(alert.long_burn_rate, 2.0);
        let json = serde_json::to_string(&alert).unwrap();
        assert_eq!(serde_json::from_str::<BurnRateAlert>(&json).unwrap(), alert);
    }

    #[cfg(feature = "serde")]
    #[test]
    fn invalid_policies_cannot_be_deserialized() {
        let empty = serde_json::from_str::<BurnRatePolicy>(r#"{"rules":[]}"#).unwrap_err();
        assert!(
            empty.to_string().contains("rules must not be empty"),
            "{empty}"
        );
        let mut rules = serde_json::to_value(BurnRatePolicy::sre_workbook()).unwrap();
        rules["rules"][1]["short_window"] = rules["rules"][1]["long_window"].clone();
        let inverted = serde_json::from_value::<BurnRatePolicy>(rules).unwrap_err();
        assert!(inverted.to_string().contains("short_window"), "{inverted}");
        let missing = serde_json::from_str::<BurnRatePolicy>("{}").unwrap_err();
        assert!(missing.to_string().contains("rules"), "{missing}");
    }
}
