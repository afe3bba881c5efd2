//! Forecast accuracy: sMAPE, and the seasonal-naive forecast every seasonal model must beat.

/// Symmetric mean absolute percentage error, in percent:
/// `100/n Σ 2|F − A| / (|A| + |F|)` over pairs (a pair of zeros counts 0). `None` when the
/// slices are empty or differ in length.
///
/// ```
/// let s = ha_scale::smape(&[100.0, 200.0], &[110.0, 200.0]).unwrap();
/// assert!((s - 100.0 / 2.0 * 2.0 * 10.0 / 210.0).abs() < 1e-12);
/// ```
pub fn smape(actual: &[f64], forecast: &[f64]) -> Option<f64> {
    if actual.is_empty() || actual.len() != forecast.len() {
        return None;
    }
    let sum: f64 = actual
        .iter()
        .zip(forecast)
        .map(|(a, f)| {
            let denom = a.abs() + f.abs();
            if denom == 0.0 {
                0.0
            } else {
                2.0 * (f - a).abs() / denom
            }
        })
        .sum();
    Some(100.0 * sum / actual.len() as f64)
}

/// The seasonal-naive forecast: each of the next `horizon` steps repeats the value one season
/// before it (`ŷ_{n+h} = y_{n+h−m⌈h/m⌉}`). `None` when the history is shorter than a season or the
/// season is 0.
///
/// ```
/// let f = ha_scale::seasonal_naive(&[1.0, 2.0, 3.0, 4.0, 5.0], 2, 3).unwrap();
/// assert_eq!(f, vec![4.0, 5.0, 4.0]);
/// ```
pub fn seasonal_naive(history: &[f64], season_length: usize, horizon: usize) -> Option<Vec<f64>> {
    if season_length == 0 || history.len() < season_length {
        return None;
    }
    let last_season = &history[history.len() - season_length..];
    Some(
        (0..horizon)
            .map(|h| last_season[h % season_length])
            .collect(),
    )
}
