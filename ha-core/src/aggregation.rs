//! One health for many components.

use crate::error::ratio;
use crate::{Error, Health, Result};

/// The rules that turn many components' health into one. The defaults are those of the HA design:
/// over 30% unhealthy → unhealthy; any unhealthy, or over 20% degraded → degraded; else healthy.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AggregationConfig {
    /// The whole is unhealthy when the unhealthy share of the components is above this.
    /// Default 0.30.
    pub unhealthy_above_ratio: f64,
    /// The whole is degraded when the share of components that are not known to be healthy
    /// (degraded, unhealthy or unknown) is above this. Default 0.20; at most
    /// `unhealthy_above_ratio`.
    pub degraded_above_ratio: f64,
    /// Whether a single unhealthy component makes the whole degraded. Default `true`.
    pub degraded_on_any_unhealthy: bool,
}

impl Default for AggregationConfig {
    fn default() -> Self {
        AggregationConfig {
            unhealthy_above_ratio: 0.30,
            degraded_above_ratio: 0.20,
            degraded_on_any_unhealthy: true,
        }
    }
}

impl AggregationConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::OutOfRange`] or [`Error::NotFinite`] for a ratio outside `[0, 1]`;
    /// [`Error::Inverted`] when the degraded ratio is above the unhealthy one.
    pub fn validate(&self) -> Result<()> {
        let unhealthy = ratio("unhealthy above ratio", self.unhealthy_above_ratio)?;
        let degraded = ratio("degraded above ratio", self.degraded_above_ratio)?;
        if degraded > unhealthy {
            return Err(Error::Inverted {
                lower: "degraded above ratio",
                lower_value: degraded,
                upper: "unhealthy above ratio",
                upper_value: unhealthy,
            });
        }
        Ok(())
    }
}

/// One input to an aggregation: a component's health and whether the whole depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Component {
    /// The component's health.
    pub health: Health,
    /// A critical component's health caps the whole: when it is unhealthy the whole is unhealthy,
    /// when it is degraded the whole is at best degraded.
    pub critical: bool,
}

impl Component {
    /// A component that is not critical.
    #[must_use]
    pub fn new(health: Health) -> Component {
        Component {
            health,
            critical: false,
        }
    }

    /// A critical component.
    #[must_use]
    pub fn critical(health: Health) -> Component {
        Component {
            health,
            critical: true,
        }
    }
}

/// The outcome of an aggregation: the health of the whole and the counts behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct HealthSummary {
    /// The health of the whole.
    pub health: Health,
    /// Healthy components.
    pub healthy: usize,
    /// Degraded components.
    pub degraded: usize,
    /// Unhealthy components.
    pub unhealthy: usize,
    /// Components of unknown health.
    pub unknown: usize,
    /// The worst health among the critical components whose health is known, if any.
    pub worst_critical: Option<Health>,
}

/// Turns the health of many components into the health of the whole.
///
/// Shares are taken over all components. With `u` the unhealthy share and `b` the share of
/// components not known to be healthy (degraded, unhealthy or unknown):
/// 1. unhealthy if `u > unhealthy_above_ratio` or a critical component is unhealthy;
/// 2. else degraded if any component is unhealthy (when `degraded_on_any_unhealthy`),
///    `b > degraded_above_ratio`, or a critical component is degraded;
/// 3. else healthy.
///
/// An empty set is [`Health::Unknown`]. A component of unknown health (a node that has not been
/// checked enough yet) counts as not yet good: it adds to the degraded share, never to the
/// unhealthy share, so a fleet that is mostly unknown is degraded, not healthy and not unknown.
/// That is what keeps the rule monotone: making one component worse (in [`Health`]'s order,
/// `Healthy < Unknown < Degraded < Unhealthy`) never makes the whole better — a rule that left
/// unknown components out of the shares would turn a fleet better when one of them became
/// degraded, by growing the denominator.
///
/// ```
/// use ha_core::{Component, Health, HealthAggregator};
///
/// let aggregator = HealthAggregator::new(Default::default())?;
/// let mut fleet = vec![Component::new(Health::Healthy); 9];
/// fleet.push(Component::new(Health::Degraded));
/// assert_eq!(aggregator.aggregate(fleet.iter().copied()).health, Health::Healthy);
/// fleet.push(Component::critical(Health::Unhealthy));
/// assert_eq!(aggregator.aggregate(fleet).health, Health::Unhealthy);
/// # Ok::<(), ha_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HealthAggregator {
    config: AggregationConfig,
}

impl HealthAggregator {
    /// An aggregator with these rules.
    ///
    /// # Errors
    /// As [`AggregationConfig::validate`].
    pub fn new(config: AggregationConfig) -> Result<HealthAggregator> {
        config.validate()?;
        Ok(HealthAggregator { config })
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &AggregationConfig {
        &self.config
    }

    /// The health of the whole made of `components`.
    #[must_use]
    pub fn aggregate(&self, components: impl IntoIterator<Item = Component>) -> HealthSummary {
        let mut s = HealthSummary::default();
        for c in components {
            match c.health {
                Health::Healthy => s.healthy += 1,
                Health::Degraded => s.degraded += 1,
                Health::Unhealthy => s.unhealthy += 1,
                Health::Unknown => s.unknown += 1,
            }
            if c.critical && c.health != Health::Unknown {
                s.worst_critical = s.worst_critical.max(Some(c.health));
            }
        }
        let all = s.healthy + s.degraded + s.unhealthy + s.unknown;
        s.health = if all == 0 {
            Health::Unknown
        } else {
            let share = |n: usize| n as f64 / all as f64;
            let c = &self.config;
            if share(s.unhealthy) > c.unhealthy_above_ratio
                || s.worst_critical == Some(Health::Unhealthy)
            {
                Health::Unhealthy
            } else if (c.degraded_on_any_unhealthy && s.unhealthy > 0)
                || share(all - s.healthy) > c.degraded_above_ratio
                || s.worst_critical == Some(Health::Degraded)
            {
                Health::Degraded
            } else {
                Health::Healthy
            }
        };
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Health::*;

    fn fleet(healthy: usize, degraded: usize, unhealthy: usize, unknown: usize) -> Vec<Component> {
        [
            (Healthy, healthy),
            (Degraded, degraded),
            (Unhealthy, unhealthy),
            (Unknown, unknown),
        ]
        .into_iter()
        .flat_map(|(h, n)| std::iter::repeat_n(Component::new(h), n))
        .collect()
    }

    fn default_health(components: Vec<Component>) -> Health {
        HealthAggregator::new(AggregationConfig::default())
            .unwrap()
            .aggregate(components)
            .health
    }

    #[test]
    fn the_documented_default_rule() {
        assert_eq!(default_health(fleet(10, 0, 0, 0)), Healthy);
        assert_eq!(
            default_health(fleet(8, 2, 0, 0)),
            Healthy,
            "20% is not over 20%"
        );
        assert_eq!(default_health(fleet(7, 3, 0, 0)), Degraded);
        assert_eq!(default_health(fleet(9, 0, 1, 0)), Degraded, "any unhealthy");
        assert_eq!(
            default_health(fleet(7, 0, 3, 0)),
            Degraded,
            "30% is not over 30%"
        );
        assert_eq!(default_health(fleet(6, 0, 4, 0)), Unhealthy);
    }

    #[test]
    fn unknown_components_count_as_not_yet_good() {
        assert_eq!(
            default_health(fleet(0, 0, 0, 0)),
            Unknown,
            "nothing to judge"
        );
        assert_eq!(default_health(fleet(0, 0, 0, 5)), Degraded);
        assert_eq!(default_health(fleet(9, 0, 0, 1)), Healthy);
        assert_eq!(
            default_health(fleet(4, 0, 0, 1)),
            Healthy,
            "20% is not over 20%"
        );
        assert_eq!(default_health(fleet(3, 0, 0, 1)), Degraded);
        // Unknown components never count as unhealthy …
        assert_eq!(default_health(fleet(0, 0, 3, 7)), Degraded);
        // … and the reviewer's case: 3 of 10 unhealthy stays degraded whatever the tenth is.
        assert_eq!(default_health(fleet(6, 0, 3, 1)), Degraded);
        assert_eq!(default_health(fleet(6, 1, 3, 0)), Degraded);
        let summary = HealthAggregator::new(AggregationConfig::default())
            .unwrap()
            .aggregate(fleet(3, 2, 1, 4));
        assert_eq!(
            (
                summary.healthy,
                summary.degraded,
                summary.unhealthy,
                summary.unknown
            ),
            (3, 2, 1, 4)
        );
    }

    #[test]
    fn critical_components_cap_the_whole() {
        let mut f = fleet(99, 0, 0, 0);
        f.push(Component::critical(Degraded));
        assert_eq!(default_health(f.clone()), Degraded);
        f.push(Component::critical(Unhealthy));
        assert_eq!(default_health(f.clone()), Unhealthy);
        let mut unknown_critical = fleet(5, 0, 0, 0);
        unknown_critical.push(Component::critical(Unknown));
        assert_eq!(default_health(unknown_critical), Healthy);
    }

    #[test]
    fn the_any_unhealthy_rule_can_be_turned_off() {
        let lenient = HealthAggregator::new(AggregationConfig {
            degraded_on_any_unhealthy: false,
            ..AggregationConfig::default()
        })
        .unwrap();
        assert_eq!(lenient.aggregate(fleet(9, 0, 1, 0)).health, Healthy);
        assert_eq!(lenient.aggregate(fleet(7, 0, 3, 0)).health, Degraded);
    }

    #[test]
    fn bad_settings_are_rejected() {
        let with = |u, d| {
            HealthAggregator::new(AggregationConfig {
                unhealthy_above_ratio: u,
                degraded_above_ratio: d,
                degraded_on_any_unhealthy: true,
            })
        };
        assert!(matches!(with(1.5, 0.2), Err(Error::OutOfRange { .. })));
        assert!(matches!(with(0.3, f64::NAN), Err(Error::NotFinite { .. })));
        assert!(matches!(with(0.3, -0.1), Err(Error::OutOfRange { .. })));
        assert!(matches!(with(0.2, 0.3), Err(Error::Inverted { .. })));
        assert!(with(0.0, 0.0).is_ok());
    }
}
