//! Holt-Winters seasonal method, additive or multiplicative season, optionally damped
//! (Winters 1960; Hyndman et al. 2008, ETS(A, A(d), A) and ETS(A, A(d), M)).
//!
//! The recursion and the fit are shared with Holt ([`crate::smoothing`]); this file holds the
//! seasonal starting state, from the first two full seasons as in classical decomposition.

use crate::smoothing::State;

/// How the season combines with level and trend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Seasonality {
    /// `level + trend + season`: the swing keeps its size as the level moves.
    Additive,
    /// `(level + trend) × season`: the swing grows with the level (a 2× evening peak stays 2×).
    /// Needs positive values.
    Multiplicative,
}

/// Full seasons Holt-Winters needs before its fit: two to start from, one more to fit on.
pub(crate) const HW_MIN_SEASONS: usize = 3;

/// The starting state from the first two seasons: their means give level and slope, each
/// position's deviation (additive) or ratio (multiplicative) from that line, averaged over the
/// two seasons and normalised to sum 0 (mean 1), gives its factor. `y` holds at least `2m`
/// points, positive ones for a multiplicative season (both checked by the caller).
pub(crate) fn initial_state(y: &[f64], m: usize, kind: Seasonality) -> State {
    let mf = m as f64;
    let mean = |j: usize| y[j * m..(j + 1) * m].iter().sum::<f64>() / mf;
    let (first, second) = (mean(0), mean(1));
    let trend = (second - first) / mf;
    let centre = (mf - 1.0) / 2.0;
    let line = |t: usize| first + trend * (t as f64 - centre);
    let mut season: Vec<f64> = (0..m)
        .map(|i| {
            let (a, b) = (i, i + m);
            match kind {
                Seasonality::Additive => ((y[a] - line(a)) + (y[b] - line(b))) / 2.0,
                Seasonality::Multiplicative => (y[a] / line(a) + y[b] / line(b)) / 2.0,
            }
        })
        .collect();
    let avg = season.iter().sum::<f64>() / mf;
    for s in &mut season {
        match kind {
            Seasonality::Additive => *s -= avg,
            Seasonality::Multiplicative => *s /= avg,
        }
    }
    State {
        level: line(0) - trend,
        trend,
        season,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_an_exact_additive_season() {
        let pattern = [3.0, -1.0, -2.0, 0.0];
        let y: Vec<f64> = (0..12)
            .map(|t| 10.0 + 0.5 * t as f64 + pattern[t % 4])
            .collect();
        let s = initial_state(&y, 4, Seasonality::Additive);
        assert!((s.trend - 0.5).abs() < 1e-12);
        assert!((s.level + s.trend - 10.0).abs() < 1e-12);
        for (got, want) in s.season.iter().zip(pattern) {
            assert!((got - want).abs() < 1e-12);
        }
    }
}
