//! The health of a node or a component.

use std::fmt;

/// How well a node, a component or a whole system is doing.
///
/// The variants are ordered from best to worst — `Healthy < Unknown < Degraded < Unhealthy` — so
/// `max` over a set gives the worst and "worse" has one meaning everywhere in ha. `Unknown` sits
/// between healthy and degraded: nothing bad is known, but nothing good is either.
///
/// ```
/// use ha_core::Health;
///
/// let worst = [Health::Healthy, Health::Degraded, Health::Unknown].into_iter().max();
/// assert_eq!(worst, Some(Health::Degraded));
/// assert!(Health::Degraded.is_available());
/// assert!(!Health::Unhealthy.is_available());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "lowercase")
)]
pub enum Health {
    /// Working as it should.
    Healthy,
    /// Not yet known: no verdict has been reached. The default.
    #[default]
    Unknown,
    /// Working, but slower or with reduced capacity.
    Degraded,
    /// Not working; send it nothing.
    Unhealthy,
}

impl Health {
    /// Whether work may be sent: healthy or degraded.
    #[must_use]
    pub fn is_available(self) -> bool {
        matches!(self, Health::Healthy | Health::Degraded)
    }

    /// The lowercase name, as serialized.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Unknown => "unknown",
            Health::Degraded => "degraded",
            Health::Unhealthy => "unhealthy",
        }
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
