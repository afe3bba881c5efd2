//! Recommendation history and stabilization (`timestampedRecommendation`,
//! `stabilizeRecommendation` and `stabilizeRecommendationWithBehaviors` in `horizontal.go`).

use std::time::{Duration, Instant};

use crate::ConditionReason;

/// One recorded, unstabilized recommendation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recommendation {
    /// The replicas the metrics asked for.
    pub replicas: u32,
    /// When.
    pub at: Instant,
}

/// The recommendations of past decisions.
///
/// As in Kubernetes, a new recommendation replaces one that has fallen out of every window,
/// or is appended when none has; the history thus holds about one entry per decision within
/// the longest window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recommendations {
    entries: Vec<Recommendation>,
    started: bool,
}

impl Recommendations {
    /// A history holding `entries` (restored from storage, or seeded in a test). A restored
    /// history is not empty in Kubernetes' sense: no initial recommendation is added.
    #[must_use]
    pub fn from_entries(entries: Vec<Recommendation>) -> Recommendations {
        Recommendations {
            entries,
            started: true,
        }
    }

    /// The recorded recommendations, oldest slot first (slots are reused, so not in time order).
    #[must_use]
    pub fn entries(&self) -> &[Recommendation] {
        &self.entries
    }

    /// `recordInitialRecommendation`: on the first decision ever, the current count is
    /// recorded as a recommendation.
    pub(crate) fn record_initial(&mut self, current: u32, now: Instant) {
        if !self.started {
            self.started = true;
            self.entries.push(Recommendation {
                replicas: current,
                at: now,
            });
        }
    }

    /// Without behavior (`stabilizeRecommendation`): the highest of `desired` and the
    /// recommendations not older than `window` (`!Before(now − window)`); `desired` is
    /// recorded.
    pub(crate) fn stabilize_down(&mut self, desired: u32, window: Duration, now: Instant) -> u32 {
        let mut highest = desired;
        let mut old = None;
        for (i, rec) in self.entries.iter().enumerate() {
            if now.saturating_duration_since(rec.at) > window {
                old = Some(i);
            } else if rec.replicas > highest {
                highest = rec.replicas;
            }
        }
        self.store(desired, old, now);
        highest
    }

    /// With behavior (`stabilizeRecommendationWithBehaviors`): the lowest recommendation
    /// strictly within the scale-up window (`After(now − window)`) and `desired` bound the
    /// result from below, the highest within the scale-down window and `desired` from above;
    /// the result is the current count brought within those bounds. `desired` is recorded.
    /// The reason is the one Kubernetes reports when the result differs from `desired`.
    pub(crate) fn stabilize_with_behavior(
        &mut self,
        current: u32,
        desired: u32,
        up_window: Duration,
        down_window: Duration,
        now: Instant,
    ) -> (u32, ConditionReason) {
        let mut up = desired;
        let mut down = desired;
        let mut old = None;
        for (i, rec) in self.entries.iter().enumerate() {
            let age = now.saturating_duration_since(rec.at);
            if age < up_window {
                up = up.min(rec.replicas);
            }
            if age < down_window {
                down = down.max(rec.replicas);
            }
            if age > up_window && age > down_window {
                old = Some(i);
            }
        }
        let recommendation = current.max(up).min(down);
        self.store(desired, old, now);
        let reason = if desired >= current {
            ConditionReason::ScaleUpStabilized
        } else {
            ConditionReason::ScaleDownStabilized
        };
        (recommendation, reason)
    }

    fn store(&mut self, replicas: u32, old: Option<usize>, now: Instant) {
        let rec = Recommendation { replicas, at: now };
        match old.and_then(|i| self.entries.get_mut(i)) {
            Some(slot) => *slot = rec,
            None => self.entries.push(rec),
        }
    }

    /// The latest recommendation time, if any.
    pub(crate) fn latest(&self) -> Option<Instant> {
        self.entries.iter().map(|r| r.at).max()
    }
}
