//! Properties of the streaming statistics, each named for the invariant it states.

use std::time::{Duration, Instant};

use ha_core::{Ewma, QuantileSketch, QuantileSketchConfig, SlidingWindow, SlidingWindowConfig};
use proptest::prelude::*;

/// Positive values spread over many orders of magnitude, as latencies and sizes are.
fn magnitudes() -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(
        (1e-6f64..1.0, -3i32..9).prop_map(|(m, e)| m * 10f64.powi(e)),
        1..2000,
    )
}

/// The exact value of rank `⌊q·(n−1)⌋` — the one the sketch's guarantee is stated against.
fn exact_quantile(sorted: &[f64], q: f64) -> f64 {
    sorted[(q * (sorted.len() - 1) as f64).floor() as usize]
}

const QUANTILES: [f64; 9] = [0.0, 0.01, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0];

proptest! {
    #[test]
    fn sketch_stays_within_its_relative_error_of_exact_quantiles(
        mut values in magnitudes(),
        accuracy in prop::sample::select(vec![0.001, 0.01, 0.05]),
    ) {
        // Values span 18 decades; the guarantee holds for every quantile while that span fits in
        // `γ^max_buckets`, so give the sketch enough buckets (about 20 700 at 0.1%).
        let gamma: f64 = (1.0 + accuracy) / (1.0 - accuracy);
        let max_buckets = (1e18f64.ln() / gamma.ln()).ceil() as u32 + 1;
        let mut sketch = QuantileSketch::new(QuantileSketchConfig {
            relative_accuracy: accuracy,
            max_buckets,
            ..QuantileSketchConfig::default()
        })
        .unwrap();
        for &v in &values {
            sketch.record(v).unwrap();
        }
        values.sort_by(f64::total_cmp);
        for q in QUANTILES {
            let exact = exact_quantile(&values, q);
            let estimate = sketch.quantile(q).unwrap().unwrap();
            // A hair of slack for the rounding of logarithms at bucket edges.
            prop_assert!(
                (estimate - exact).abs() <= (accuracy + 1e-9) * exact,
                "q={q}: estimate {estimate} vs exact {exact}"
            );
        }
    }

    #[test]
    fn merging_two_sketches_equals_sketching_the_union(
        left in magnitudes(),
        right in magnitudes(),
    ) {
        let config = QuantileSketchConfig::default();
        let sketch_of = |values: &[f64]| {
            let mut s = QuantileSketch::new(config).unwrap();
            for &v in values {
                s.record(v).unwrap();
            }
            s
        };
        let mut merged = sketch_of(&left);
        merged.merge(&sketch_of(&right)).unwrap();
        let union = sketch_of(&[left.as_slice(), right.as_slice()].concat());
        prop_assert_eq!(merged.count(), union.count());
        prop_assert_eq!(merged.min(), union.min());
        prop_assert_eq!(merged.max(), union.max());
        for q in (0..=100).map(|p| f64::from(p) / 100.0) {
            prop_assert_eq!(merged.quantile(q).unwrap(), union.quantile(q).unwrap(), "q={}", q);
        }
        let (a, b) = (merged.sum().unwrap(), union.sum().unwrap());
        prop_assert!((a - b).abs() <= 1e-9 * a.abs().max(b.abs()));
    }

    #[test]
    fn ewma_never_leaves_the_range_of_its_inputs(
        samples in prop::collection::vec((-1e12f64..1e12, 0u64..100_000), 1..300),
        half_life_ms in 1u64..100_000,
    ) {
        let start = Instant::now() + Duration::from_secs(1_000);
        let mut ewma = Ewma::with_half_life(Duration::from_millis(half_life_ms)).unwrap();
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for (value, at_ms) in samples {
            // Times jump around: late samples are part of the contract too.
            ewma.record(value, start + Duration::from_millis(at_ms)).unwrap();
            lo = lo.min(value);
            hi = hi.max(value);
            let v = ewma.value().unwrap();
            prop_assert!(lo <= v && v <= hi, "{v} outside [{lo}, {hi}]");
        }
    }

    #[test]
    fn ewma_is_the_exponentially_weighted_mean_of_its_samples_in_any_arrival_order(
        samples in prop::collection::vec((-1e6f64..1e6, 0u64..60_000), 1..100),
        half_life_ms in 100u64..100_000,
    ) {
        let start = Instant::now();
        let half_life = Duration::from_millis(half_life_ms);
        let mut ewma = Ewma::with_half_life(half_life).unwrap();
        for &(value, at_ms) in &samples {
            ewma.record(value, start + Duration::from_millis(at_ms)).unwrap();
        }
        // The closed form: weights 2^(−age / half-life), ages from the newest sample.
        let newest = samples.iter().map(|&(_, t)| t).max().unwrap();
        let weight = |t: u64| (-((newest - t) as f64) / half_life_ms as f64 * std::f64::consts::LN_2).exp();
        let total: f64 = samples.iter().map(|&(_, t)| weight(t)).sum();
        let expected = samples.iter().map(|&(v, t)| v * weight(t)).sum::<f64>() / total;
        let scale = samples.iter().map(|&(v, _)| v.abs()).fold(1.0, f64::max);
        let got = ewma.value().unwrap();
        prop_assert!((got - expected).abs() <= 1e-9 * scale, "{} vs {}", got, expected);
        prop_assert_eq!(ewma.latest(), Some(start + Duration::from_millis(newest)));
    }

    #[test]
    fn sliding_window_sum_equals_the_amounts_inside_its_buckets(
        events in prop::collection::vec((0u64..30_000, 1u64..1_000), 0..200),
        queries in prop::collection::vec(0u64..40_000, 1..20),
        buckets in 1u32..50,
    ) {
        let config = SlidingWindowConfig { window: Duration::from_secs(10), buckets };
        let mut window = SlidingWindow::new(config).unwrap();
        let start = Instant::now();
        // The model works in nanoseconds, like the window.
        let bucket_ns = u128::from(10_000_000_000u64 / u64::from(buckets));
        let origin = events.first().map(|&(t, _)| t);
        let bucket_of = |t: u64| -> i128 {
            let rel = i128::from(t) * 1_000_000 - i128::from(origin.unwrap_or(0)) * 1_000_000;
            rel.div_euclid(bucket_ns as i128)
        };
        let mut accepted = Vec::new();
        let mut head = i128::MIN;
        for &(t, amount) in &events {
            let b = bucket_of(t);
            let fits = head == i128::MIN || head - b < i128::from(buckets);
            let counted = window.add(start + Duration::from_millis(t), amount);
            window.check_invariants();
            prop_assert_eq!(counted, fits, "event at {} ms", t);
            if fits {
                accepted.push((b, amount));
                head = head.max(b);
            }
        }
        for q in queries {
            let qb = bucket_of(q);
            let expected: u64 = accepted
                .iter()
                .filter(|&&(b, _)| b <= qb && qb - b < i128::from(buckets) && head - b < i128::from(buckets))
                .map(|&(_, a)| a)
                .sum();
            prop_assert_eq!(window.sum(start + Duration::from_millis(q)), expected, "query at {} ms", q);
        }
    }
}
