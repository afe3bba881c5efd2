//! Alert rules, their comparisons and the default rules.

use std::fmt;
use std::time::Duration;

use crate::error::finite;
use crate::{Error, Result, Severity};

/// The metric names watched by [`AlertRule::defaults`]; feed samples under these names.
///
/// Ratios are fractions in `[0, 1]`, not percentages; times are in seconds.
pub mod metric {
    /// CPU in use over CPU available, in `[0, 1]`.
    pub const CPU_UTILIZATION_RATIO: &str = "cpu_utilization_ratio";
    /// Memory in use over memory available, in `[0, 1]`.
    pub const MEMORY_UTILIZATION_RATIO: &str = "memory_utilization_ratio";
    /// Disk space in use over disk space available, in `[0, 1]`.
    pub const DISK_UTILIZATION_RATIO: &str = "disk_utilization_ratio";
    /// How far a replica trails its primary, in seconds.
    pub const REPLICATION_LAG_SECONDS: &str = "replication_lag_seconds";
    /// Failed requests over all requests, in `[0, 1]`.
    pub const ERROR_RATIO: &str = "error_ratio";
}

/// How a sample is compared with a rule's threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum Comparison {
    /// `value > threshold`.
    Above,
    /// `value >= threshold`.
    AtOrAbove,
    /// `value < threshold`.
    Below,
    /// `value <= threshold`.
    AtOrBelow,
}

impl Comparison {
    /// Whether `value` compares with `threshold` this way. False if either is NaN.
    ///
    /// ```
    /// use ha_core::Comparison;
    ///
    /// assert!(Comparison::Above.holds(0.9, 0.85));
    /// assert!(!Comparison::Above.holds(0.85, 0.85));
    /// assert!(Comparison::AtOrAbove.holds(0.85, 0.85));
    /// ```
    #[must_use]
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Comparison::Above => value > threshold,
            Comparison::AtOrAbove => value >= threshold,
            Comparison::Below => value < threshold,
            Comparison::AtOrBelow => value <= threshold,
        }
    }

    /// The operator: `>`, `>=`, `<` or `<=`.
    #[must_use]
    pub fn symbol(self) -> &'static str {
        match self {
            Comparison::Above => ">",
            Comparison::AtOrAbove => ">=",
            Comparison::Below => "<",
            Comparison::AtOrBelow => "<=",
        }
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}

/// A rule: "`metric` `comparison` `threshold` for `for_duration` → `severity`".
///
/// A plain description, checked by [`validate`](AlertRule::validate) when an [`Alert`](crate::Alert)
/// or an [`AlertSet`](crate::AlertSet) is built from it. The presets ([`cpu_warning`](AlertRule::cpu_warning)
/// and the rest, all in [`defaults`](AlertRule::defaults)) watch the metric names in
/// [`metric`](crate::metric).
///
/// ```
/// use std::time::Duration;
/// use ha_core::{AlertRule, Comparison, Severity};
///
/// let rule = AlertRule::new(
///     "queue_backlog",
///     "queue_depth",
///     Comparison::AtOrAbove,
///     1000.0,
///     Duration::from_secs(120),
///     Severity::Warning,
/// );
/// rule.validate()?;
/// assert_eq!(rule.to_string(), "queue_backlog: queue_depth >= 1000 for 120s → warning");
/// # Ok::<(), ha_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AlertRule {
    /// The alert's name, reported in every transition. Must not be empty.
    pub name: String,
    /// The name of the metric whose samples the rule evaluates. Must not be empty.
    pub metric: String,
    /// How a sample is compared with the threshold.
    pub comparison: Comparison,
    /// The value compared against. Must be finite.
    pub threshold: f64,
    /// How long the condition must hold before the alert fires, Prometheus' `for`. Zero fires on
    /// the first sample where the condition holds.
    pub for_duration: Duration,
    /// How urgent the alert is once firing.
    pub severity: Severity,
}

impl AlertRule {
    /// A rule from its parts.
    #[must_use]
    pub fn new(
        name: impl Into<String>,
        metric: impl Into<String>,
        comparison: Comparison,
        threshold: f64,
        for_duration: Duration,
        severity: Severity,
    ) -> AlertRule {
        AlertRule {
            name: name.into(),
            metric: metric.into(),
            comparison,
            threshold,
            for_duration,
            severity,
        }
    }

    /// Checks the rule.
    ///
    /// # Errors
    /// [`Error::Empty`] if the name or the metric is empty, [`Error::NotFinite`] if the threshold
    /// is NaN or infinite.
    pub fn validate(&self) -> Result<()> {
        if self.name.is_empty() {
            return Err(Error::Empty {
                name: "alert rule name",
            });
        }
        if self.metric.is_empty() {
            return Err(Error::Empty {
                name: "alert rule metric",
            });
        }
        finite("alert rule threshold", self.threshold)?;
        Ok(())
    }

    /// `cpu_warning`: [`metric::CPU_UTILIZATION_RATIO`] > 0.85 for 5 minutes → warning.
    #[must_use]
    pub fn cpu_warning() -> AlertRule {
        AlertRule::above(
            "cpu_warning",
            metric::CPU_UTILIZATION_RATIO,
            0.85,
            FIVE_MINUTES,
            Severity::Warning,
        )
    }

    /// `cpu_critical`: [`metric::CPU_UTILIZATION_RATIO`] > 0.95 for 5 minutes → critical.
    #[must_use]
    pub fn cpu_critical() -> AlertRule {
        AlertRule::above(
            "cpu_critical",
            metric::CPU_UTILIZATION_RATIO,
            0.95,
            FIVE_MINUTES,
            Severity::Critical,
        )
    }

    /// `memory_warning`: [`metric::MEMORY_UTILIZATION_RATIO`] > 0.90 for 5 minutes → warning.
    #[must_use]
    pub fn memory_warning() -> AlertRule {
        AlertRule::above(
            "memory_warning",
            metric::MEMORY_UTILIZATION_RATIO,
            0.90,
            FIVE_MINUTES,
            Severity::Warning,
        )
    }

    /// `disk_warning`: [`metric::DISK_UTILIZATION_RATIO`] > 0.85 for 5 minutes → warning.
    #[must_use]
    pub fn disk_warning() -> AlertRule {
        AlertRule::above(
            "disk_warning",
            metric::DISK_UTILIZATION_RATIO,
            0.85,
            FIVE_MINUTES,
            Severity::Warning,
        )
    }

    /// `replication_lag_warning`: [`metric::REPLICATION_LAG_SECONDS`] > 0.5 for 1 minute →
    /// warning.
    #[must_use]
    pub fn replication_lag_warning() -> AlertRule {
        AlertRule::above(
            "replication_lag_warning",
            metric::REPLICATION_LAG_SECONDS,
            0.5,
            Duration::from_secs(60),
            Severity::Warning,
        )
    }

    /// `error_rate_critical`: [`metric::ERROR_RATIO`] > 0.01 for 5 minutes → critical.
    #[must_use]
    pub fn error_rate_critical() -> AlertRule {
        AlertRule::above(
            "error_rate_critical",
            metric::ERROR_RATIO,
            0.01,
            FIVE_MINUTES,
            Severity::Critical,
        )
    }

    /// The six presets, in this order: [`cpu_warning`](AlertRule::cpu_warning),
    /// [`cpu_critical`](AlertRule::cpu_critical), [`memory_warning`](AlertRule::memory_warning),
    /// [`disk_warning`](AlertRule::disk_warning),
    /// [`replication_lag_warning`](AlertRule::replication_lag_warning) and
    /// [`error_rate_critical`](AlertRule::error_rate_critical).
    #[must_use]
    pub fn defaults() -> Vec<AlertRule> {
        vec![
            AlertRule::cpu_warning(),
            AlertRule::cpu_critical(),
            AlertRule::memory_warning(),
            AlertRule::disk_warning(),
            AlertRule::replication_lag_warning(),
            AlertRule::error_rate_critical(),
        ]
    }

    fn above(
        name: &str,
        metric: &str,
        threshold: f64,
        for_duration: Duration,
        severity: Severity,
    ) -> AlertRule {
        AlertRule::new(
            name,
            metric,
            Comparison::Above,
            threshold,
            for_duration,
            severity,
        )
    }
}

impl fmt::Display for AlertRule {
    /// `name: metric op threshold for duration → severity`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} {} {} for {:?} → {}",
            self.name,
            self.metric,
            self.comparison,
            self.threshold,
            self.for_duration,
            self.severity
        )
    }
}

/// The hold duration of most presets.
const FIVE_MINUTES: Duration = Duration::from_secs(300);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons_hold_as_their_operators() {
        let cases = [
            (Comparison::Above, [false, false, true]),
            (Comparison::AtOrAbove, [false, true, true]),
            (Comparison::Below, [true, false, false]),
            (Comparison::AtOrBelow, [true, true, false]),
        ];
        for (comparison, expected) in cases {
            let got = [0.5, 1.0, 1.5].map(|v| comparison.holds(v, 1.0));
            assert_eq!(got, expected, "{comparison:?}");
            assert!(!comparison.holds(f64::NAN, 1.0));
        }
        assert_eq!(Comparison::AtOrBelow.to_string(), "<=");
    }

    #[test]
    fn presets_have_their_documented_numbers() {
        let expect = |rule: AlertRule, metric: &str, threshold: f64, secs: u64, severity| {
            assert_eq!(rule.metric, metric, "{rule}");
            assert_eq!(rule.comparison, Comparison::Above, "{rule}");
            assert!((rule.threshold - threshold).abs() < f64::EPSILON, "{rule}");
            assert_eq!(rule.for_duration, Duration::from_secs(secs), "{rule}");
            assert_eq!(rule.severity, severity, "{rule}");
            rule.validate().unwrap();
        };
        use metric::*;
        let (w, c) = (Severity::Warning, Severity::Critical);
        expect(
            AlertRule::cpu_warning(),
            CPU_UTILIZATION_RATIO,
            0.85,
            300,
            w,
        );
        expect(
            AlertRule::cpu_critical(),
            CPU_UTILIZATION_RATIO,
            0.95,
            300,
            c,
        );
        expect(
            AlertRule::memory_warning(),
            MEMORY_UTILIZATION_RATIO,
            0.90,
            300,
            w,
        );
        expect(
            AlertRule::disk_warning(),
            DISK_UTILIZATION_RATIO,
            0.85,
            300,
            w,
        );
        expect(
            AlertRule::replication_lag_warning(),
            REPLICATION_LAG_SECONDS,
            0.5,
            60,
            w,
        );
        expect(AlertRule::error_rate_critical(), ERROR_RATIO, 0.01, 300, c);
    }

    #[test]
    fn defaults_are_the_six_presets_with_distinct_names() {
        let names: Vec<_> = AlertRule::defaults().into_iter().map(|r| r.name).collect();
        assert_eq!(
            names,
            [
                "cpu_warning",
                "cpu_critical",
                "memory_warning",
                "disk_warning",
                "replication_lag_warning",
                "error_rate_critical"
            ]
        );
    }

    #[test]
    fn validate_rejects_empty_names_and_non_finite_thresholds() {
        let mut rule = AlertRule::cpu_warning();
        rule.name.clear();
        assert_eq!(
            rule.validate(),
            Err(Error::Empty {
                name: "alert rule name"
            })
        );
        let mut rule = AlertRule::cpu_warning();
        rule.metric.clear();
        assert_eq!(
            rule.validate(),
            Err(Error::Empty {
                name: "alert rule metric"
            })
        );
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let mut rule = AlertRule::cpu_warning();
            rule.threshold = bad;
            assert!(matches!(rule.validate(), Err(Error::NotFinite { .. })));
        }
        let mut rule = AlertRule::cpu_warning();
        rule.for_duration = Duration::ZERO;
        assert_eq!(rule.validate(), Ok(()));
    }

    #[cfg(feature = "serde")]
    #[test]
    fn rule_round_trips_through_json() {
        let rule = AlertRule::replication_lag_warning();
        let json = serde_json::to_string(&rule).unwrap();
        assert!(json.contains(r#""comparison":"above""#), "{json}");
        assert!(json.contains(r#""severity":"warning""#), "{json}");
        let back: AlertRule = serde_json::from_str(&json).unwrap();
        assert_eq!(back, rule);
    }
}
