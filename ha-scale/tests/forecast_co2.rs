//! Holt-Winters on a real series: Mauna Loa CO2, monthly 1958–2001 (NOAA, public domain; see
//! `tests/data/README.md`). The last 24 months are held back; the reference figures are
//! statsmodels 0.15 `ExponentialSmoothing` on the same split: additive ≈ 0.064% sMAPE, damped
//! ≈ 0.056%, seasonal naive ≈ 0.51%.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ha_scale::{
    Criterion, ModelSpec, Seasonality, SelectionConfig, TimeSeries, seasonal_naive, select_model,
    smape,
};

const HELD_BACK: usize = 24;
/// Mean seconds in a month, so the series steps evenly.
const MONTH: i64 = 2_629_746;

fn co2() -> Vec<f64> {
    let text = include_str!("data/co2_monthly.csv");
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split(',').nth(1).unwrap().trim().parse::<f64>().unwrap())
        .collect()
}

fn split() -> (TimeSeries, Vec<f64>) {
    let values = co2();
    assert_eq!(values.len(), 526);
    let (train, test) = values.split_at(values.len() - HELD_BACK);
    (
        TimeSeries::regular(0, MONTH, train.to_vec()).unwrap(),
        test.to_vec(),
    )
}

fn smape_of(spec: ModelSpec) -> f64 {
    let (train, test) = split();
    let forecast = spec.fit(&train).unwrap().forecast(HELD_BACK).unwrap();
    smape(&test, &forecast.means()).unwrap()
}

fn naive_smape() -> f64 {
    let (train, test) = split();
    smape(
        &test,
        &seasonal_naive(train.values(), 12, HELD_BACK).unwrap(),
    )
    .unwrap()
}

#[test]
fn seasonal_naive_matches_the_reference_figure() {
    let naive = naive_smape();
    assert!((naive - 0.51).abs() < 0.02, "seasonal naive sMAPE {naive}%");
}

#[test]
fn holt_winters_additive_beats_seasonal_naive_on_co2() {
    let spec = ModelSpec::HoltWinters {
        season_length: 12,
        seasonality: Seasonality::Additive,
        damped: false,
    };
    let ours = smape_of(spec);
    let naive = naive_smape();
    // statsmodels reaches 0.064% (ours: 0.071%, with heuristic seasonal states); the naive 0.51%.
    assert!(ours < naive / 5.0, "holt-winters {ours}% vs naive {naive}%");
    assert!(ours < 0.1, "holt-winters additive sMAPE {ours}%");
}

#[test]
fn every_holt_winters_variant_beats_seasonal_naive_on_co2() {
    let naive = naive_smape();
    for seasonality in [Seasonality::Additive, Seasonality::Multiplicative] {
        for damped in [false, true] {
            let spec = ModelSpec::HoltWinters {
                season_length: 12,
                seasonality,
                damped,
            };
            let ours = smape_of(spec);
            assert!(
                ours < naive / 2.0,
                "{} sMAPE {ours}% vs naive {naive}%",
                spec.name()
            );
        }
    }
}

#[test]
fn selection_picks_a_seasonal_model_on_co2_by_either_criterion() {
    let (train, test) = split();
    let naive = naive_smape();
    for criterion in [Criterion::Aicc, Criterion::Holdout { points: 24 }] {
        let config = SelectionConfig {
            season_length: Some(12),
            criterion,
            ..Default::default()
        };
        let chosen = select_model(&train, &config).unwrap();
        assert!(
            matches!(chosen.model.spec(), ModelSpec::HoltWinters { .. }),
            "{criterion:?} chose {:?}",
            chosen.model.spec()
        );
        let forecast = chosen.model.forecast(HELD_BACK).unwrap();
        let ours = smape(&test, &forecast.means()).unwrap();
        assert!(
            ours < naive / 2.0,
            "{criterion:?}: {ours}% vs naive {naive}%"
        );
        // The held-back months fall inside the 95% band, nearly all of them.
        let inside = forecast
            .points
            .iter()
            .zip(&test)
            .filter(|(p, a)| p.p95.lower <= **a && **a <= p.p95.upper)
            .count();
        assert!(
            inside >= 20,
            "{criterion:?}: {inside} of 24 inside the 95% band"
        );
    }
}
