//! The adaptive part of W-TinyLFU: how big the admission window is.
//!
//! Caffeine ("Adaptive Software Cache Management", Einziger, Eytan, Friedman and Manes,
//! Middleware 2018) sizes the window by hill climbing on the hit ratio: every sample of
//! `10 ×` the capacity in requests, it moves the window by a step in the direction that last
//! improved the hit ratio, reverses when the ratio fell, shrinks the step by 2% each time and
//! restarts with a full step (6.25% of the capacity) when the ratio moves by 5 points or more.
//! A large window favours recency (loops, bursts of new keys); a small one favours frequency
//! (skewed, Zipf-like popularity). We follow those constants; the climber runs per shard.

/// Share of the capacity given to the window at first (Caffeine: 1%).
pub(crate) const INITIAL_WINDOW_RATIO: f64 = 0.01;
/// Share of the main space (after the window) kept for protected entries.
pub(crate) const PROTECTED_RATIO: f64 = 0.80;
const STEP_RATIO: f64 = 0.0625;
const STEP_DECAY: f64 = 0.98;
const RESTART_THRESHOLD: f64 = 0.05;
const SAMPLE_MULTIPLIER: u64 = 10;
/// Fewest requests in a sample: below this the hit ratio's noise swamps the effect of a step.
const MIN_SAMPLE: u64 = 5_000;

/// The hill climber of one shard.
#[derive(Debug)]
pub(crate) struct Climber {
    capacity: u64,
    sample_size: u64,
    /// The shard's hit and miss totals when the current sample began.
    hits_at_start: u64,
    misses_at_start: u64,
    previous_hit_ratio: f64,
    step: f64,
}

impl Climber {
    /// A climber for a shard of `capacity` weight holding about `entries` entries.
    pub(crate) fn new(capacity: u64, entries: u64) -> Climber {
        Climber {
            capacity,
            sample_size: SAMPLE_MULTIPLIER.saturating_mul(entries).max(MIN_SAMPLE),
            hits_at_start: 0,
            misses_at_start: 0,
            previous_hit_ratio: 0.0,
            // Start by growing the window: a cold cache fills with recency before frequency
            // estimates mean much (on the OLTP trace at 10% this is worth 4 points).
            step: STEP_RATIO * capacity as f64,
        }
    }

    /// When a sample is complete, the weight by which to grow (or, negative, shrink) the window.
    /// `hits` and `misses` are the shard's running totals.
    pub(crate) fn adjustment(&mut self, total_hits: u64, total_misses: u64) -> Option<i64> {
        let hits = total_hits.saturating_sub(self.hits_at_start);
        let misses = total_misses.saturating_sub(self.misses_at_start);
        let requests = hits + misses;
        if requests < self.sample_size {
            return None;
        }
        let hit_ratio = hits as f64 / requests as f64;
        let change = hit_ratio - self.previous_hit_ratio;
        let amount = if change >= 0.0 { self.step } else { -self.step };
        self.step = if change.abs() >= RESTART_THRESHOLD {
            STEP_RATIO * self.capacity as f64 * amount.signum()
        } else {
            STEP_DECAY * amount
        };
        tracing::debug!(
            hit_ratio,
            previous = self.previous_hit_ratio,
            amount,
            next_step = self.step,
            "cache window hill climb"
        );
        self.previous_hit_ratio = hit_ratio;
        self.hits_at_start = total_hits;
        self.misses_at_start = total_misses;
        Some(amount as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn climbs_on_after_improvement_and_reverses_after_a_fall() {
        let mut climber = Climber::new(1000, 100);
        assert_eq!(climber.adjustment(MIN_SAMPLE - 1, 0), None);
        // From 0 to a hit ratio of 1: an improvement, so the first (growing) step is taken.
        let first = climber.adjustment(MIN_SAMPLE, 0).unwrap();
        assert!(first > 0);
        assert_eq!(climber.adjustment(MIN_SAMPLE, 0), None);
        // The ratio fell to 0.5: the climber reverses.
        let second = climber
            .adjustment(MIN_SAMPLE * 3 / 2, MIN_SAMPLE / 2)
            .unwrap();
        assert!(second < 0);
    }
}
