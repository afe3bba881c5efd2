//! The exponential-smoothing recursion shared by Holt and Holt-Winters, its fit and its forecast.
//!
//! Written in error-correction form (Hyndman et al. 2008, Table 2.1, additive errors): with the
//! one-step error `e_t = y_t − ŷ_t` and `base = l + φ b`,
//!
//! | season | `ŷ_t` | level | trend | season |
//! |---|---|---|---|---|
//! | none | `base` | `base + α e` | `φ b + β e` | — |
//! | additive | `base + s` | `base + α e` | `φ b + β e` | `s + γ e` |
//! | multiplicative | `base · s` | `base + α e / s` | `φ b + β e / s` | `s + γ e / base` |
//!
//! The fitted parameters are kept in the usual bounded form: `β = α β*`, `γ = (1 − α) γ*` with
//! `α, β*, γ* ∈ [0.0001, 0.9999]` and, when damped, `φ ∈ [0.8, 0.98]` (Hyndman's admissible box),
//! found by minimising the one-step sum of squared errors with a bounded Nelder–Mead. Initial
//! states start from the heuristics of [`crate::holt`] and [`crate::holt_winters`]; the starting
//! level and trend are then refined with the weights (offsets within the spread of the first
//! seasons), the seasonal factors are kept as the heuristic gives them.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, Normal};

use crate::interval::{Z_80, Z_95, quantile_sorted};
use crate::optimizer::{Bounds, minimize};
use crate::{Interval, Seasonality};

/// The components of a smoothing model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Components {
    pub(crate) damped: bool,
    /// Season length and kind, for Holt-Winters.
    pub(crate) season: Option<(usize, Seasonality)>,
}

/// The smoothing parameters, error-correction form.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) struct Params {
    pub(crate) alpha: f64,
    pub(crate) beta: f64,
    pub(crate) gamma: f64,
    pub(crate) phi: f64,
}

/// Level, trend and the last season of seasonal factors (position `t mod m` holds the factor
/// used at time `t`).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) struct State {
    pub(crate) level: f64,
    pub(crate) trend: f64,
    pub(crate) season: Vec<f64>,
}

/// A fitted smoothing model.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) struct SmoothingFit {
    pub(crate) params: Params,
    pub(crate) damped: bool,
    pub(crate) season_length: usize,
    pub(crate) seasonality: Option<Seasonality>,
    /// The state after the last observation.
    pub(crate) state: State,
    /// Observations fitted.
    pub(crate) n: usize,
    /// One-step sum of squared errors.
    pub(crate) sse: f64,
    /// One-step error variance, `SSE / (n − free parameters)`.
    pub(crate) sigma2: f64,
    /// Objective evaluations the fit spent.
    pub(crate) evaluations: usize,
}

const PARAM_LO: f64 = 0.0001;
const PARAM_HI: f64 = 0.9999;
const PHI_LO: f64 = 0.8;
const PHI_HI: f64 = 0.98;
const MAX_EVALUATIONS: usize = 800;
/// Sample paths simulated for the bands of a multiplicative-season model.
pub(crate) const SIMULATED_PATHS: usize = 1000;
const MIN_SIMULATED_PATHS: usize = 200;
const SIMULATED_STATE_BUDGET: usize = 4_000_000;

/// Runs the recursion over `y` from `init`, leaving the final state in `state`; returns the
/// one-step SSE, or +∞ when a multiplicative step divides by a factor or level at or near zero.
fn run(c: Components, p: Params, state: &mut State, y: &[f64]) -> f64 {
    let phi = if c.damped { p.phi } else { 1.0 };
    let (mut l, mut b) = (state.level, state.trend);
    let mut sse = 0.0;
    match c.season {
        None => {
            for &v in y {
                let base = l + phi * b;
                let e = v - base;
                l = base + p.alpha * e;
                b = phi * b + p.beta * e;
                sse += e * e;
            }
        }
        Some((_, Seasonality::Additive)) => {
            // Whole seasons at a time: position `i` of each chunk is `t mod m`, no division.
            for chunk in y.chunks(state.season.len().max(1)) {
                for (s, &v) in state.season.iter_mut().zip(chunk) {
                    let base = l + phi * b;
                    let e = v - (base + *s);
                    l = base + p.alpha * e;
                    b = phi * b + p.beta * e;
                    *s += p.gamma * e;
                    sse += e * e;
                }
            }
        }
        Some((_, Seasonality::Multiplicative)) => {
            for chunk in y.chunks(state.season.len().max(1)) {
                for (s, &v) in state.season.iter_mut().zip(chunk) {
                    let base = l + phi * b;
                    if s.abs() < 1e-10 || base.abs() < 1e-10 {
                        return f64::INFINITY;
                    }
                    let e = v - base * *s;
                    l = base + p.alpha * e / *s;
                    b = phi * b + p.beta * e / *s;
                    *s += p.gamma * e / base;
                    sse += e * e;
                }
            }
        }
    }
    state.level = l;
    state.trend = b;
    sse
}

/// The parameters in error-correction form from the optimiser's bounded vector
/// `[α, β*, (γ*), (φ)]`.
fn params_from(x: &[f64], c: Components) -> Params {
    let alpha = x[0];
    let beta = alpha * x[1];
    let (gamma, phi_at) = match c.season {
        Some(_) => ((1.0 - alpha) * x[2], 3),
        None => (0.0, 2),
    };
    let phi = if c.damped { x[phi_at] } else { 1.0 };
    Params {
        alpha,
        beta,
        gamma,
        phi,
    }
}

/// Fits the smoothing parameters to `y` from the initial state `init`; `None` when no parameters
/// give a finite error.
pub(crate) fn fit(c: Components, init: &State, y: &[f64]) -> Option<SmoothingFit> {
    let mut x0 = vec![0.3, 0.1];
    let (mut lo, mut hi) = (vec![PARAM_LO; 2], vec![PARAM_HI; 2]);
    if c.season.is_some() {
        x0.push(0.1);
        lo.push(PARAM_LO);
        hi.push(PARAM_HI);
    }
    if c.damped {
        x0.push(0.95);
        lo.push(PHI_LO);
        hi.push(PHI_HI);
    }
    // The starting level and trend are refined too, as offsets from the heuristic within a
    // scale of the data's first steps: `level + u·L`, `trend + v·L/k`, `u, v ∈ [−1, 1]`.
    let weights = x0.len();
    let head = &y[..y.len().min(c.season.map_or(10, |(m, _)| 2 * m))];
    let head_mean = head.iter().sum::<f64>() / head.len() as f64;
    let spread = head
        .iter()
        .map(|v| (v - head_mean).abs())
        .fold(0.0, f64::max);
    let scale = spread.max(1e-9 * head_mean.abs()).max(f64::MIN_POSITIVE);
    let trend_scale = scale / head.len() as f64;
    x0.extend([0.0, 0.0]);
    lo.extend([-1.0, -1.0]);
    hi.extend([1.0, 1.0]);
    let start = |x: &[f64], s: &mut State| {
        s.level = init.level + x[weights] * scale;
        s.trend = init.trend + x[weights + 1] * trend_scale;
        s.season.copy_from_slice(&init.season);
    };
    let mut scratch = init.clone();
    let objective = |x: &[f64]| {
        start(x, &mut scratch);
        run(c, params_from(x, c), &mut scratch, y)
    };
    let best = minimize(objective, &x0, Bounds { lo: &lo, hi: &hi }, MAX_EVALUATIONS);
    if !best.value.is_finite() {
        return None;
    }
    let params = params_from(&best.x, c);
    let mut state = init.clone();
    start(&best.x, &mut state);
    let sse = run(c, params, &mut state, y);
    let n = y.len();
    let free = best.x.len() + c.season.map_or(0, |(m, _)| m.saturating_sub(1));
    let sigma2 = sse / n.saturating_sub(free).max(1) as f64;
    tracing::debug!(
        alpha = params.alpha,
        beta = params.beta,
        gamma = params.gamma,
        phi = params.phi,
        sse,
        evaluations = best.evaluations,
        n,
        "smoothing model fitted"
    );
    Some(SmoothingFit {
        params,
        damped: c.damped,
        season_length: c.season.map_or(1, |(m, _)| m),
        seasonality: c.season.map(|(_, k)| k),
        state,
        n,
        sse,
        sigma2,
        evaluations: best.evaluations,
    })
}

impl SmoothingFit {
    fn phi(&self) -> f64 {
        if self.damped { self.params.phi } else { 1.0 }
    }

    /// `φ + φ² + … + φ^h` (`h` when not damped).
    fn damped_sum(&self, h: usize) -> f64 {
        let phi = self.phi();
        if phi == 1.0 {
            h as f64
        } else {
            phi * (1.0 - phi.powi(h.min(i32::MAX as usize) as i32)) / (1.0 - phi)
        }
    }

    /// The level plus trend `h` steps ahead, without the season.
    pub(crate) fn trend_ahead(&self, h: usize) -> f64 {
        self.state.level + self.damped_sum(h) * self.state.trend
    }

    /// The current level.
    pub(crate) fn level(&self) -> f64 {
        self.state.level
    }

    fn mean_ahead(&self, h: usize) -> f64 {
        let base = self.trend_ahead(h);
        match self.seasonality {
            None => base,
            Some(kind) => {
                // A fit keeps `season` at `season_length` factors (and deserialization checks
                // it); the guards keep a broken state from dividing by zero or indexing out.
                let m = self.season_length.max(1);
                let at = self.n.wrapping_add(h).wrapping_sub(1) % m;
                let s = self.state.season.get(at).copied().unwrap_or(match kind {
                    Seasonality::Additive => 0.0,
                    Seasonality::Multiplicative => 1.0,
                });
                match kind {
                    Seasonality::Additive => base + s,
                    Seasonality::Multiplicative => base * s,
                }
            }
        }
    }

    /// Means and bands for horizons `1..=horizon`.
    pub(crate) fn forecast(&self, horizon: usize, seed: u64) -> Vec<(f64, Interval, Interval)> {
        match self.seasonality {
            Some(Seasonality::Multiplicative) => self.simulated(horizon, seed),
            _ => self.analytic(horizon),
        }
    }

    /// ETS class 1: `v_h = σ² (1 + Σ_{j<h} c_j²)`, `c_j = α + β φ_j + γ [j mod m = 0]`.
    fn analytic(&self, horizon: usize) -> Vec<(f64, Interval, Interval)> {
        let p = self.params;
        let seasonal = self.seasonality.is_some();
        let mut sum_c2 = 0.0;
        (1..=horizon)
            .map(|h| {
                if h > 1 {
                    let j = h - 1;
                    let mut c = p.alpha + p.beta * self.damped_sum(j);
                    if seasonal && j.checked_rem(self.season_length) == Some(0) {
                        c += p.gamma;
                    }
                    sum_c2 += c * c;
                }
                let sd = (self.sigma2 * (1.0 + sum_c2)).sqrt();
                let mean = self.mean_ahead(h);
                (
                    mean,
                    Interval::around(mean, Z_80 * sd),
                    Interval::around(mean, Z_95 * sd),
                )
            })
            .collect()
    }

    /// Bands from the empirical quantiles of seeded simulated sample paths, advanced all
    /// together one step at a time, so memory is the paths' states (`paths × m`), not the
    /// horizon's samples.
    fn simulated(&self, horizon: usize, seed: u64) -> Vec<(f64, Interval, Interval)> {
        let sd = self.sigma2.max(0.0).sqrt();
        let (m, phi, p) = (self.season_length, self.phi(), self.params);
        if m == 0 || self.state.season.len() != m {
            // Only a broken state (which deserialization refuses) lands here: no paths to draw.
            return self.analytic(horizon);
        }
        let paths = simulated_paths(m);
        let mut levels = vec![self.state.level; paths];
        let mut trends = vec![self.state.trend; paths];
        let mut seasons: Vec<f64> = Vec::with_capacity(paths * m);
        for _ in 0..paths {
            seasons.extend_from_slice(&self.state.season);
        }
        let mut samples = vec![0.0; paths];
        let noise = Normal::new(0.0, sd).ok();
        let mut rng = StdRng::seed_from_u64(seed);
        let mut out = Vec::with_capacity(horizon);
        for h in 0..horizon {
            let at = (self.n + h) % m;
            for (path, sample) in samples.iter_mut().enumerate() {
                // One step of ETS(A, A(d), M) with a drawn error e: y = ŷ + e, then the update
                // of the table above.
                let s = &mut seasons[path * m + at];
                let (l, b) = (&mut levels[path], &mut trends[path]);
                let base = *l + phi * *b;
                let e = noise.map_or(0.0, |n| n.sample(&mut rng));
                *sample = base * *s + e;
                if s.abs() < 1e-10 || base.abs() < 1e-10 {
                    continue;
                }
                *l = base + p.alpha * e / *s;
                *b = phi * *b + p.beta * e / *s;
                *s += p.gamma * e / base;
            }
            samples.sort_by(f64::total_cmp);
            let mean = self.mean_ahead(h + 1);
            let band = |q: f64| Interval {
                lower: quantile_sorted(&samples, (1.0 - q) / 2.0).min(mean),
                upper: quantile_sorted(&samples, (1.0 + q) / 2.0).max(mean),
            };
            out.push((mean, band(0.8), band(0.95)));
        }
        out
    }
}

/// Sample paths for a season of `m`: 1 000, fewer (down to 200) for long seasons so the paths'
/// seasonal states stay within about 4 million numbers (32 MB).
pub(crate) fn simulated_paths(m: usize) -> usize {
    (SIMULATED_STATE_BUDGET / m.max(1)).clamp(MIN_SIMULATED_PATHS, SIMULATED_PATHS)
}

/// The one-step SSE of fixed parameters from `init` over `y` (for tests and simulation).
#[cfg(test)]
pub(crate) fn sse_of(c: Components, p: Params, init: &State, y: &[f64]) -> f64 {
    let mut s = init.clone();
    run(c, p, &mut s, y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_series_fits_with_zero_error() {
        // y = 10 + 2t exactly: from the true initial state any parameters give zero error.
        let y: Vec<f64> = (0..50).map(|t| 10.0 + 2.0 * t as f64).collect();
        let init = State {
            level: 8.0,
            trend: 2.0,
            season: vec![],
        };
        let c = Components {
            damped: false,
            season: None,
        };
        let p = Params {
            alpha: 0.5,
            beta: 0.1,
            gamma: 0.0,
            phi: 1.0,
        };
        assert!(sse_of(c, p, &init, &y) < 1e-18);
        let fit = fit(c, &init, &y).unwrap();
        assert!((fit.trend_ahead(1) - 110.0).abs() < 1e-6);
    }
}
