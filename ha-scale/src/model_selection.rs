//! Automatic choice of a forecasting model: fit every candidate, keep the best by AICc or by
//! its error on a held-back window.
//!
//! Candidates: the linear trend, Holt, damped Holt and — given a season length — Holt-Winters
//! additive and multiplicative (positive series only), each plain and damped. AICc follows
//! Hyndman et al. 2008 §7.1 (Gaussian likelihood from the one-step errors); the hold-out
//! criterion fits each candidate without the last `points` values, scores the mean squared error
//! of its forecast of them, and refits the winner on the whole series.

use crate::error::{Error, Result};
use crate::{FittedModel, ModelSpec, Seasonality, TimeSeries};

/// How candidates are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Criterion {
    /// The lowest corrected Akaike information criterion over the whole series (the default).
    #[default]
    Aicc,
    /// The lowest mean squared error forecasting the last `points` values from the rest.
    Holdout {
        /// Values held back; at least 1.
        points: usize,
    },
}

/// What automatic selection may choose from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SelectionConfig {
    /// The season length for the Holt-Winters candidates; `None` (the default) offers none.
    pub season_length: Option<usize>,
    /// How candidates are compared; default [`Criterion::Aicc`].
    pub criterion: Criterion,
    /// Whether damped-trend candidates are offered; default `true`.
    pub damped: bool,
    /// Whether multiplicative-season candidates are offered (positive series only); default `true`.
    pub multiplicative: bool,
}

impl Default for SelectionConfig {
    fn default() -> Self {
        Self {
            season_length: None,
            criterion: Criterion::Aicc,
            damped: true,
            multiplicative: true,
        }
    }
}

impl SelectionConfig {
    /// Checks the settings: a hold-out of at least one point, a season of at least 2.
    pub fn validate(&self) -> Result<()> {
        if let Criterion::Holdout { points: 0 } = self.criterion {
            return Err(ha_core::Error::Zero {
                name: "holdout points",
            }
            .into());
        }
        for spec in self.candidates() {
            spec.validate()?;
        }
        Ok(())
    }

    /// The candidate models, in a fixed order.
    pub fn candidates(&self) -> Vec<ModelSpec> {
        let mut out = vec![ModelSpec::LinearTrend, ModelSpec::Holt { damped: false }];
        if self.damped {
            out.push(ModelSpec::Holt { damped: true });
        }
        if let Some(m) = self.season_length {
            let mut kinds = vec![Seasonality::Additive];
            if self.multiplicative {
                kinds.push(Seasonality::Multiplicative);
            }
            for seasonality in kinds {
                out.push(ModelSpec::HoltWinters {
                    season_length: m,
                    seasonality,
                    damped: false,
                });
                if self.damped {
                    out.push(ModelSpec::HoltWinters {
                        season_length: m,
                        seasonality,
                        damped: true,
                    });
                }
            }
        }
        out
    }
}

/// One candidate's result.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CandidateScore {
    /// The candidate.
    pub model: ModelSpec,
    /// Its score (AICc or hold-out MSE; lower is better), or `None` when it could not be fitted.
    pub score: Option<f64>,
    /// Why it could not be fitted.
    pub rejected: Option<String>,
}

/// The chosen model, fitted to the whole series, and every candidate's score.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Selection {
    /// The winner, fitted to the whole series.
    pub model: FittedModel,
    /// Each candidate's score, in [`SelectionConfig::candidates`] order.
    pub scores: Vec<CandidateScore>,
}

/// Fits every candidate and keeps the best.
///
/// ```
/// use ha_scale::{ModelSpec, SelectionConfig, TimeSeries, select_model};
///
/// // A noiseless line: the linear trend fits it exactly.
/// let series = TimeSeries::regular(0, 60, (0..50).map(|t| 5.0 + 2.0 * t as f64).collect())?;
/// let chosen = select_model(&series, &SelectionConfig::default())?;
/// assert_eq!(chosen.scores.len(), 3);
/// assert!((chosen.model.forecast(1)?.points[0].mean - 105.0).abs() < 1e-6);
/// # Ok::<(), ha_scale::Error>(())
/// ```
///
/// # Errors
/// Bad settings, or no candidate could be fitted ([`Error::NoModelFits`], naming each reason).
pub fn select_model(series: &TimeSeries, config: &SelectionConfig) -> Result<Selection> {
    config.validate()?;
    select_among(series, config, &config.candidates())
}

/// [`select_model`] over the given candidates (a subset of `config.candidates()`), in order;
/// `config` was validated.
pub(crate) fn select_among(
    series: &TimeSeries,
    config: &SelectionConfig,
    candidates: &[ModelSpec],
) -> Result<Selection> {
    let mut scores = Vec::new();
    let mut best: Option<(f64, ModelSpec, Option<FittedModel>)> = None;
    for &spec in candidates {
        let scored = match config.criterion {
            Criterion::Aicc => spec.fit(series).map(|m| (m.aicc(), Some(m))),
            Criterion::Holdout { points } => holdout_mse(spec, series, points).map(|s| (s, None)),
        };
        match scored {
            Ok((score, model)) if !score.is_nan() => {
                tracing::debug!(model = spec.name(), score, "candidate scored");
                scores.push(CandidateScore {
                    model: spec,
                    score: Some(score),
                    rejected: None,
                });
                if best.as_ref().is_none_or(|(b, _, _)| score < *b) {
                    best = Some((score, spec, model));
                }
            }
            Ok((score, _)) => scores.push(CandidateScore {
                model: spec,
                score: None,
                rejected: Some(format!("score is {score}")),
            }),
            Err(e) => {
                tracing::debug!(model = spec.name(), error = %e, "candidate rejected");
                scores.push(CandidateScore {
                    model: spec,
                    score: None,
                    rejected: Some(e.to_string()),
                });
            }
        }
    }
    let Some((score, spec, model)) = best else {
        let reasons = scores
            .iter()
            .map(|s| {
                format!(
                    "{}: {}",
                    s.model.name(),
                    s.rejected.as_deref().unwrap_or("-")
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        return Err(Error::NoModelFits { reasons });
    };
    let model = match model {
        Some(m) => m,
        None => spec.fit(series)?,
    };
    tracing::debug!(model = spec.name(), score, "model selected");
    Ok(Selection { model, scores })
}

/// The mean squared error of `spec` fitted without the last `points` values, forecasting them.
fn holdout_mse(spec: ModelSpec, series: &TimeSeries, points: usize) -> Result<f64> {
    let n = series.len();
    let train_len = n.saturating_sub(points);
    let needed = spec.min_points().saturating_add(points);
    let train = series
        .head(train_len)
        .filter(|_| n >= needed)
        .ok_or(Error::SeriesTooShort {
            model: spec.name(),
            needed,
            got: n,
        })?;
    let forecast = spec.fit(&train)?.forecast(points)?;
    let actual = &series.values()[train_len..];
    let sum: f64 = actual
        .iter()
        .zip(&forecast.points)
        .map(|(a, p)| (a - p.mean).powi(2))
        .sum();
    Ok(sum / points as f64)
}
