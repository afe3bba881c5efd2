//! The tolerance around a usage ratio of 1 within which an autoscaler changes nothing.

use crate::Result;

/// How far the usage ratio may stray from 1 before the replica count changes.
///
/// Kubernetes' controller flag `--horizontal-pod-autoscaler-tolerance` defaults to 0.1 in both
/// directions; since Kubernetes 1.33 an HPA may set each direction apart (`behavior.scaleUp.tolerance`,
/// `behavior.scaleDown.tolerance`). A ratio `r` is within tolerance when
/// `1 − scale_down ≤ r ≤ 1 + scale_up` (`Tolerances.isWithin` in `replica_calculator.go`).
///
/// ```
/// use ha_scale::Tolerance;
///
/// let t = Tolerance::default();
/// assert!(t.is_within(1.1) && t.is_within(0.9));
/// assert!(!t.is_within(1.11) && !t.is_within(0.89));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Tolerance {
    /// How far below 1 the ratio may fall without a scale down. Default 0.1.
    pub scale_down: f64,
    /// How far above 1 the ratio may rise without a scale up. Default 0.1.
    pub scale_up: f64,
}

impl Default for Tolerance {
    fn default() -> Self {
        Tolerance {
            scale_down: 0.1,
            scale_up: 0.1,
        }
    }
}

impl Tolerance {
    /// The same tolerance both ways.
    #[must_use]
    pub fn symmetric(tolerance: f64) -> Tolerance {
        Tolerance {
            scale_down: tolerance,
            scale_up: tolerance,
        }
    }

    /// Whether `usage_ratio` is close enough to 1 to change nothing.
    #[must_use]
    pub fn is_within(&self, usage_ratio: f64) -> bool {
        1.0 - self.scale_down <= usage_ratio && usage_ratio <= 1.0 + self.scale_up
    }

    /// Checks both tolerances are finite and in `[0, 1)` (the scale-up one may exceed 1).
    ///
    /// # Errors
    /// [`ha_core::Error::NotFinite`] or [`ha_core::Error::OutOfRange`].
    pub fn validate(&self) -> Result<()> {
        for (name, value, range_max) in [
            ("scale-down tolerance", self.scale_down, 1.0),
            ("scale-up tolerance", self.scale_up, f64::MAX),
        ] {
            if !value.is_finite() {
                return Err(ha_core::Error::NotFinite { name, value }.into());
            }
            if !(0.0..range_max).contains(&value) {
                let range = if range_max == 1.0 {
                    "[0, 1)"
                } else {
                    "[0, ∞)"
                };
                return Err(ha_core::Error::OutOfRange { name, value, range }.into());
            }
        }
        Ok(())
    }
}
