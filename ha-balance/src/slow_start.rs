//! Slow start: a new or recovered endpoint's weight ramps up over a window, as HAProxy's
//! `slowstart` server option does.
//!
//! An endpoint added to a running set, or coming back to health, starts with little of its
//! weight and takes its full share only after the window: its effective weight `t` into the
//! window is `max(1, ⌊weight × t / window⌋)`, capped at `weight`. The weight is never 0 during
//! the ramp, so the endpoint always takes some requests (HAProxy likewise keeps a server's
//! effective weight at least 1). As in HAProxy, the endpoints a set is built with do not ramp —
//! a balancer starting up would otherwise starve every endpoint at once.
//!
//! The weighted pickers use the effective weight: smooth weighted round robin, weighted random,
//! least connections, both power-of-two-choices pickers. Round robin and random ignore weights;
//! consistent hash and Maglev place by configured weight, since a key's home must not move as a
//! ramp progresses.

use std::time::{Duration, Instant};

/// The weight of an endpoint of `weight` that started ramping at `since`, at `now`, for a ramp
/// over `window` (zero: no ramp).
pub(crate) fn ramped_weight(weight: u32, since: Instant, window: Duration, now: Instant) -> u32 {
    if weight == 0 || window.is_zero() {
        return weight;
    }
    let elapsed = now.saturating_duration_since(since);
    if elapsed >= window {
        return weight;
    }
    // elapsed < window, so the ratio is below 1 and the product below `weight`.
    let share = elapsed.as_nanos() * u128::from(weight) / window.as_nanos();
    u32::try_from(share).unwrap_or(weight).clamp(1, weight)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weight_ramps_linearly_and_never_drops_to_zero() {
        let t = Instant::now();
        let w = Duration::from_secs(100);
        assert_eq!(ramped_weight(10, t, w, t), 1);
        assert_eq!(ramped_weight(10, t, w, t + Duration::from_secs(50)), 5);
        assert_eq!(ramped_weight(10, t, w, t + Duration::from_secs(99)), 9);
        assert_eq!(ramped_weight(10, t, w, t + Duration::from_secs(100)), 10);
        assert_eq!(ramped_weight(10, t, w, t + Duration::from_secs(500)), 10);
        assert_eq!(ramped_weight(0, t, w, t), 0);
        assert_eq!(ramped_weight(10, t, Duration::ZERO, t), 10);
        assert_eq!(
            ramped_weight(u32::MAX, t, w, t + Duration::from_secs(50)),
            u32::MAX / 2
        );
    }
}
