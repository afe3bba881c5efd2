//! Envoy's panic threshold: when too few endpoints are healthy, balance over all of them.
//!
//! Followed: Envoy's `healthy_panic_threshold` (default 50%): with fewer healthy hosts than that
//! share, Envoy assumes the health signal is wrong (or that the healthy few would be crushed)
//! and routes to every host, healthy or not.

use crate::Result;

/// The endpoints to balance over, and whether the panic threshold chose them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Routable<T> {
    /// The endpoints to pick from: the healthy ones, or all of them in panic.
    pub endpoints: Vec<T>,
    /// Whether fewer than the threshold were healthy, so every endpoint is routable.
    pub panic: bool,
}

/// A validated panic threshold; serde reads and writes it as its percentage, checked on the
/// way in.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(try_from = "f64", into = "f64")
)]
pub struct PanicThreshold {
    percent: f64,
}

impl Default for PanicThreshold {
    /// Envoy's 50%.
    fn default() -> Self {
        PanicThreshold { percent: 50.0 }
    }
}

impl TryFrom<f64> for PanicThreshold {
    type Error = crate::Error;

    fn try_from(percent: f64) -> Result<PanicThreshold> {
        PanicThreshold::new(percent)
    }
}

impl From<PanicThreshold> for f64 {
    fn from(threshold: PanicThreshold) -> f64 {
        threshold.percent
    }
}

impl PanicThreshold {
    /// A threshold of `percent` healthy endpoints, in `[0, 100]`; 0 never panics.
    ///
    /// # Errors
    /// [`ha_core::Error::OutOfRange`] or [`ha_core::Error::NotFinite`] (as
    /// [`Error::Core`](crate::Error::Core)) outside `[0, 100]`.
    pub fn new(percent: f64) -> Result<PanicThreshold> {
        let name = "healthy panic threshold percent";
        if !percent.is_finite() {
            return Err(ha_core::Error::NotFinite {
                name,
                value: percent,
            }
            .into());
        }
        if !(0.0..=100.0).contains(&percent) {
            return Err(ha_core::Error::OutOfRange {
                name,
                value: percent,
                range: "[0, 100]",
            }
            .into());
        }
        Ok(PanicThreshold { percent })
    }

    /// The threshold, in percent.
    #[must_use]
    pub fn percent(&self) -> f64 {
        self.percent
    }

    /// The healthy endpoints of `all`, or all of them when fewer than the threshold are
    /// healthy (an empty set is returned as is, not in panic).
    ///
    /// ```
    /// use ha_balance::PanicThreshold;
    ///
    /// let all = ["a", "b", "c", "d"];
    /// let one_down = PanicThreshold::default().select(&all, |e| *e != "a");
    /// assert_eq!((one_down.endpoints.len(), one_down.panic), (3, false));
    /// let three_down = PanicThreshold::default().select(&all, |e| *e == "a");
    /// assert_eq!((three_down.endpoints.len(), three_down.panic), (4, true));
    /// ```
    pub fn select<T: Clone>(&self, all: &[T], is_healthy: impl Fn(&T) -> bool) -> Routable<T> {
        let healthy: Vec<T> = all.iter().filter(|e| is_healthy(e)).cloned().collect();
        let panic =
            !all.is_empty() && (healthy.len() as f64) * 100.0 < self.percent * all.len() as f64;
        if panic {
            tracing::debug!(
                healthy = healthy.len(),
                total = all.len(),
                threshold_percent = self.percent,
                "panic threshold: balancing over every endpoint"
            );
            Routable {
                endpoints: all.to_vec(),
                panic,
            }
        } else {
            Routable {
                endpoints: healthy,
                panic,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bad_thresholds_are_rejected() {
        assert!(PanicThreshold::new(-1.0).is_err());
        assert!(PanicThreshold::new(101.0).is_err());
        assert!(PanicThreshold::new(f64::NAN).is_err());
        assert!(PanicThreshold::new(0.0).is_ok());
    }

    #[test]
    fn exactly_half_healthy_is_not_panic() {
        let r = PanicThreshold::default().select(&[1, 2, 3, 4], |e| *e <= 2);
        assert_eq!((r.endpoints, r.panic), (vec![1, 2], false));
    }

    proptest! {
        #[test]
        fn with_fewer_than_the_threshold_healthy_all_endpoints_are_used(
            health in proptest::collection::vec(any::<bool>(), 1..50),
            percent in 0.0f64..=100.0,
        ) {
            let all: Vec<usize> = (0..health.len()).collect();
            let r = PanicThreshold::new(percent).unwrap().select(&all, |&i| health[i]);
            let healthy = health.iter().filter(|&&h| h).count();
            if (healthy as f64) * 100.0 < percent * all.len() as f64 {
                prop_assert!(r.panic);
                prop_assert_eq!(r.endpoints, all);
            } else {
                prop_assert!(!r.panic);
                prop_assert_eq!(r.endpoints.len(), healthy);
            }
        }
    }
}
