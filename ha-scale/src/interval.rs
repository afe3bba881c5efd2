//! Prediction intervals: the 80% and 95% bands around a point forecast.
//!
//! For the linear models — the least-squares trend and the additive-error Holt and additive
//! Holt-Winters methods, ETS class 1 in Hyndman, Koehler, Ord & Snyder, *Forecasting with
//! Exponential Smoothing* (2008), §6.3 — the `h`-step variance is exact:
//! `v_h = σ² (1 + Σ_{j=1}^{h-1} c_j²)` with `c_j = α + β (φ + … + φ^j) + γ [j mod m = 0]`, and the
//! band is `mean ± z σ_h` with normal quantiles. The multiplicative-season method has no such
//! formula; its bands are the empirical quantiles of 1 000 simulated sample paths (fewer, down to
//! 200, for seasons over 4 000 steps) from a seeded generator (Hyndman et al. §6.1), so the same
//! fit always gives the same bands.

/// A two-sided band, `lower ≤ upper`.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Interval {
    /// The lower bound.
    pub lower: f64,
    /// The upper bound.
    pub upper: f64,
}

impl Interval {
    /// The band `centre ± half_width`.
    pub fn around(centre: f64, half_width: f64) -> Self {
        Self {
            lower: centre - half_width,
            upper: centre + half_width,
        }
    }

    /// `upper - lower`.
    pub fn width(&self) -> f64 {
        self.upper - self.lower
    }

    /// Whether `other` lies within this band.
    pub fn contains(&self, other: &Interval) -> bool {
        self.lower <= other.lower && other.upper <= self.upper
    }
}

/// The standard normal quantile for a central 80% band (the 90th percentile).
pub const Z_80: f64 = 1.281_551_565_544_600_5;
/// The standard normal quantile for a central 95% band (the 97.5th percentile).
pub const Z_95: f64 = 1.959_963_984_540_054;

/// The standard normal distribution function Φ(x) (Abramowitz & Stegun 7.1.26 for erf, absolute
/// error below 1.5e-7).
pub(crate) fn normal_cdf(x: f64) -> f64 {
    let z = x.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * z);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-z * z).exp();
    if x >= 0.0 {
        0.5 * (1.0 + erf)
    } else {
        0.5 * (1.0 - erf)
    }
}

/// The `q`-quantile (`q` in `[0, 1]`) of sorted samples, linearly interpolated.
pub(crate) fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        1 => sorted[0],
        n => {
            let pos = q.clamp(0.0, 1.0) * (n - 1) as f64;
            let below = pos.floor() as usize;
            let above = (below + 1).min(n - 1);
            let frac = pos - below as f64;
            sorted[below] + frac * (sorted[above] - sorted[below])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_cdf_matches_the_quantiles() {
        assert!((normal_cdf(Z_95) - 0.975).abs() < 1e-6);
        assert!((normal_cdf(-Z_80) - 0.1).abs() < 1e-6);
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-9);
    }

    #[test]
    fn quantiles_interpolate() {
        let s = [0.0, 1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile_sorted(&s, 0.5), 2.0);
        assert_eq!(quantile_sorted(&s, 0.125), 0.5);
        assert!(Interval::around(0.0, 2.0).contains(&Interval::around(0.5, 1.0)));
    }
}
