//! Holt's linear trend method, optionally with a damped trend (Gardner & McKenzie 1985).
//!
//! Level and trend smoothed by `α` and `β`; damping multiplies the trend by `φ < 1` each step so
//! long forecasts flatten to `l + b φ / (1 − φ)` instead of growing without end. The recursion
//! and the fit are shared with Holt-Winters ([`crate::smoothing`]); this file holds Holt's
//! starting state.

use crate::linear::LinearFit;
use crate::smoothing::State;

/// Points Holt's method needs: the initial regression's three, and more observations than its
/// five fitted quantities (`α`, `β`, `φ`, level, trend).
pub(crate) const HOLT_MIN_POINTS: usize = 6;

/// The starting state: a least-squares line through the first ten points (Hyndman et al. 2008,
/// §2.6.1), set one step before the first observation so its forecast is the line's start.
pub(crate) fn initial_state(y: &[f64]) -> State {
    let head = &y[..y.len().min(10)];
    let line = LinearFit::fit(head);
    State {
        level: line.intercept - line.slope,
        trend: line.slope,
        season: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_on_the_line() {
        let y: Vec<f64> = (0..20).map(|t| 5.0 + 0.5 * t as f64).collect();
        let s = initial_state(&y);
        assert!((s.level + s.trend - 5.0).abs() < 1e-12);
        assert!((s.trend - 0.5).abs() < 1e-12);
    }
}
