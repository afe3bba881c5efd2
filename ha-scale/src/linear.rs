//! The least-squares linear trend: `y_i = a + b·i` over the point index `i`.
//!
//! Ordinary least squares; the prediction band at index `x` is the regression prediction
//! interval `σ² (1 + 1/n + (x − x̄)² / Sxx)` with `σ² = SSE / (n − 2)`, normal quantiles.

/// A fitted linear trend.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) struct LinearFit {
    /// Value at index 0.
    pub(crate) intercept: f64,
    /// Change per step.
    pub(crate) slope: f64,
    /// Residual variance `SSE / (n − 2)`.
    pub(crate) sigma2: f64,
    /// Sum of squared residuals.
    pub(crate) sse: f64,
    pub(crate) n: usize,
    x_mean: f64,
    sxx: f64,
}

/// Points a linear trend needs (two to draw a line, a third to measure the noise).
pub(crate) const LINEAR_MIN_POINTS: usize = 3;

impl LinearFit {
    /// Fits the line; `y` holds at least [`LINEAR_MIN_POINTS`] finite values (checked by the caller).
    pub(crate) fn fit(y: &[f64]) -> Self {
        let n = y.len();
        let nf = n as f64;
        let x_mean = (nf - 1.0) / 2.0;
        let y_mean = y.iter().sum::<f64>() / nf;
        let (mut sxy, mut sxx) = (0.0, 0.0);
        for (i, v) in y.iter().enumerate() {
            let dx = i as f64 - x_mean;
            sxy += dx * (v - y_mean);
            sxx += dx * dx;
        }
        let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
        let intercept = y_mean - slope * x_mean;
        let sse: f64 = y
            .iter()
            .enumerate()
            .map(|(i, v)| (v - intercept - slope * i as f64).powi(2))
            .sum();
        let sigma2 = sse / (nf - 2.0).max(1.0);
        Self {
            intercept,
            slope,
            sigma2,
            sse,
            n,
            x_mean,
            sxx,
        }
    }

    /// The line at index `x`.
    pub(crate) fn at(&self, x: f64) -> f64 {
        self.intercept + self.slope * x
    }

    /// The mean index `x̄`.
    pub(crate) fn x_mean(&self) -> f64 {
        self.x_mean
    }

    /// `Σ (x − x̄)²`.
    pub(crate) fn sxx(&self) -> f64 {
        self.sxx
    }

    /// Mean and prediction variance `h` steps after the last point.
    pub(crate) fn predict(&self, h: usize) -> (f64, f64) {
        let x = self.n.saturating_sub(1).saturating_add(h) as f64;
        let leverage = if self.sxx > 0.0 {
            (x - self.x_mean).powi(2) / self.sxx
        } else {
            0.0
        };
        (
            self.at(x),
            self.sigma2 * (1.0 + 1.0 / self.n.max(1) as f64 + leverage),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_an_exact_line() {
        let y: Vec<f64> = (0..10).map(|i| 3.0 + 2.0 * i as f64).collect();
        let fit = LinearFit::fit(&y);
        assert!((fit.intercept - 3.0).abs() < 1e-12 && (fit.slope - 2.0).abs() < 1e-12);
        assert!(fit.sse < 1e-18);
        assert!((fit.predict(1).0 - 23.0).abs() < 1e-9);
    }

    #[test]
    fn band_grows_with_distance() {
        let y = [1.0, 3.0, 2.0, 4.0, 3.0, 5.0];
        let fit = LinearFit::fit(&y);
        assert!(fit.predict(10).1 > fit.predict(1).1);
    }
}
