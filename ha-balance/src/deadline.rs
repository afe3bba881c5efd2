//! Deadlines that saturate: a wait longer than an `Instant` can reach means "as late as it can".

use std::time::{Duration, Instant};

/// `now + wait`, or, when that overflows `Instant`, the latest instant within reach — so a
/// huge configured wait (a `Duration::MAX` breaker wait, ejection or queue wait) means "never
/// in practice" rather than wrapping round to `now`.
pub(crate) fn deadline(now: Instant, wait: Duration) -> Instant {
    let mut wait = wait;
    loop {
        if let Some(at) = now.checked_add(wait) {
            return at;
        }
        // Halving reaches a wait that fits: `now + 0` always does.
        wait /= 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_past_the_clock_saturates_far_ahead_instead_of_wrapping_to_now() {
        let now = Instant::now();
        assert_eq!(
            deadline(now, Duration::from_secs(5)),
            now + Duration::from_secs(5)
        );
        assert!(deadline(now, Duration::MAX) > now + Duration::from_secs(86_400 * 365));
    }
}
