//! On synthetic series with known parameters the fitted models recover them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::f64::consts::TAU;

use ha_scale::{ModelSpec, Seasonality, TimeSeries};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, Normal};

const HOUR: i64 = 3600;

/// Simulates ETS(A, A, A) — additive Holt-Winters with Gaussian errors — in error-correction
/// form with the given weights, from level 100, trend 0.05 and a sine season of amplitude 10.
fn simulate_additive(alpha: f64, beta: f64, gamma: f64, m: usize, n: usize, seed: u64) -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let noise = Normal::new(0.0, 1.0).unwrap();
    let (mut l, mut b) = (100.0, 0.05);
    let mut s: Vec<f64> = (0..m)
        .map(|i| 10.0 * (TAU * i as f64 / m as f64).sin())
        .collect();
    (0..n)
        .map(|t| {
            let e = noise.sample(&mut rng);
            let y = l + b + s[t % m] + e;
            l = l + b + alpha * e;
            b += beta * e;
            s[t % m] += gamma * e;
            y
        })
        .collect()
}

#[test]
fn holt_winters_additive_recovers_the_smoothing_weights() {
    let (alpha, beta, gamma) = (0.3, 0.01, 0.1);
    let y = simulate_additive(alpha, beta, gamma, 24, 24 * 200, 7);
    let series = TimeSeries::regular(0, HOUR, y).unwrap();
    let spec = ModelSpec::HoltWinters {
        season_length: 24,
        seasonality: Seasonality::Additive,
        damped: false,
    };
    let model = spec.fit(&series).unwrap();
    let p = model.parameters();
    let (a, b, g) = (p.alpha.unwrap(), p.beta.unwrap(), p.gamma.unwrap());
    assert!((a - alpha).abs() < 0.05, "alpha {a}");
    assert!((b - beta).abs() < 0.01, "beta {b}");
    assert!((g - gamma).abs() < 0.05, "gamma {g}");
    // The one-step error variance is the simulated noise's, 1.
    assert!(
        (model.sigma2() - 1.0).abs() < 0.1,
        "sigma2 {}",
        model.sigma2()
    );
}

#[test]
fn holt_winters_recovers_a_noiseless_trend_and_season() {
    // y = 50 + 0.2 t + 5 sin(2πt/12): the forecast is the same curve continued.
    let f = |t: usize| 50.0 + 0.2 * t as f64 + 5.0 * (TAU * t as f64 / 12.0).sin();
    let series = TimeSeries::regular(0, 1, (0..120).map(f).collect()).unwrap();
    for seasonality in [Seasonality::Additive, Seasonality::Multiplicative] {
        let spec = ModelSpec::HoltWinters {
            season_length: 12,
            seasonality,
            damped: false,
        };
        let model = spec.fit(&series).unwrap();
        let slope = model.parameters().slope;
        let forecast = model.forecast(24).unwrap();
        for p in &forecast.points {
            let want = f(119 + p.horizon);
            // The multiplicative season is only approximately right for an additive swing
            // over a moving level.
            let tolerance = if seasonality == Seasonality::Additive {
                1e-3
            } else {
                0.5
            };
            assert!(
                (p.mean - want).abs() < tolerance,
                "{seasonality:?} h={} {} vs {want}",
                p.horizon,
                p.mean
            );
        }
        if seasonality == Seasonality::Additive {
            assert!((slope - 0.2).abs() < 1e-4, "slope {slope}");
            let factors = model.seasonal_factors().unwrap();
            let amplitude = factors.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            assert!((amplitude - 5.0).abs() < 1e-3, "amplitude {amplitude}");
        }
    }
}

#[test]
fn multiplicative_holt_winters_recovers_a_proportional_season() {
    // A daily peak twice the trough, proportional to a growing level.
    let pattern: Vec<f64> = (0..24)
        .map(|h| 1.0 + (1.0 / 3.0) * (TAU * h as f64 / 24.0).sin())
        .collect();
    let f = |t: usize| (200.0 + 0.5 * t as f64) * pattern[t % 24];
    let series = TimeSeries::regular(0, HOUR, (0..24 * 30).map(f).collect()).unwrap();
    let spec = ModelSpec::HoltWinters {
        season_length: 24,
        seasonality: Seasonality::Multiplicative,
        damped: false,
    };
    let model = spec.fit(&series).unwrap();
    let factors = model.seasonal_factors().unwrap();
    let peak = factors.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let trough = factors.iter().copied().fold(f64::INFINITY, f64::min);
    assert!(
        (peak / trough - 2.0).abs() < 0.02,
        "peak/trough {}",
        peak / trough
    );
    let forecast = model.forecast(48).unwrap();
    for p in &forecast.points {
        let want = f(24 * 30 - 1 + p.horizon);
        assert!(
            (p.mean / want - 1.0).abs() < 0.01,
            "h={} {} vs {want}",
            p.horizon,
            p.mean
        );
    }
}

#[test]
fn damped_holt_recovers_a_flattening_trend() {
    // Level and trend of a damped-trend process with φ = 0.9 and no noise: growth decays.
    let (mut l, mut b, phi) = (10.0, 2.0, 0.9);
    let y: Vec<f64> = (0..60)
        .map(|_| {
            l += phi * b;
            b *= phi;
            l
        })
        .collect();
    let series = TimeSeries::regular(0, 1, y).unwrap();
    let model = ModelSpec::Holt { damped: true }.fit(&series).unwrap();
    let forecast = model.forecast(50).unwrap();
    // The limit is l + b φ/(1 − φ): the forecast flattens towards it, never past it.
    let limit = l + b * phi / (1.0 - phi);
    let last = forecast.points.last().unwrap().mean;
    assert!((last - limit).abs() < 0.05, "{last} vs {limit}");
}

#[test]
fn linear_trend_recovers_slope_and_noise() {
    let mut rng = StdRng::seed_from_u64(3);
    let noise = Normal::new(0.0, 2.0).unwrap();
    let y: Vec<f64> = (0..2000)
        .map(|t| 40.0 + 0.3 * t as f64 + noise.sample(&mut rng))
        .collect();
    let series = TimeSeries::regular(0, 60, y).unwrap();
    let model = ModelSpec::LinearTrend.fit(&series).unwrap();
    assert!((model.parameters().slope - 0.3).abs() < 1e-3);
    assert!(
        (model.sigma2() - 4.0).abs() < 0.3,
        "sigma2 {}",
        model.sigma2()
    );
    // About 95% of fresh points fall in the 95% band.
    let forecast = model.forecast(1000).unwrap();
    let inside = forecast
        .points
        .iter()
        .filter(|p| {
            let actual = 40.0 + 0.3 * (1999 + p.horizon) as f64 + noise.sample(&mut rng);
            p.p95.lower <= actual && actual <= p.p95.upper
        })
        .count();
    assert!((930..=980).contains(&inside), "{inside} of 1000 inside");
}
