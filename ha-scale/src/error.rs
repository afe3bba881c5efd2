//! The one error type of ha-scale.

/// What went wrong when a series, a model or a plan was given input it cannot use.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A shared-vocabulary error from ha-core: a setting not finite, out of its range or zero.
    #[error(transparent)]
    Core(#[from] ha_core::Error),
    /// A time series was given no points.
    #[error("a time series needs at least one point, got none")]
    EmptySeries,
    /// Timestamps and values of different lengths.
    #[error("a time series got {times} timestamps but {values} values")]
    LengthMismatch {
        /// Timestamps given.
        times: usize,
        /// Values given.
        values: usize,
    },
    /// A timestamp earlier than the one before it.
    #[error(
        "timestamp {index} ({time}) is earlier than the one before it; timestamps must increase"
    )]
    UnsortedTimestamps {
        /// Its position.
        index: usize,
        /// The timestamp.
        time: i64,
    },
    /// A timestamp equal to the one before it.
    #[error("timestamp {index} ({time}) repeats the one before it")]
    DuplicateTimestamp {
        /// Its position.
        index: usize,
        /// The timestamp.
        time: i64,
    },
    /// A value that is NaN or infinite.
    #[error("value {index} is {value}; every value must be a finite number")]
    NonFiniteValue {
        /// Its position.
        index: usize,
        /// The value.
        value: f64,
    },
    /// A series too short for the model asked for.
    #[error("{model} needs at least {needed} points, the series has {got}")]
    SeriesTooShort {
        /// The model.
        model: &'static str,
        /// Points it needs.
        needed: usize,
        /// Points given.
        got: usize,
    },
    /// A model that needs evenly spaced points got a gap or a crowding.
    #[error(
        "timestamps {index} and {} are {gap} apart, but the series steps by {step} (the median gap); the models need even spacing (within 10%)",
        .index + 1
    )]
    IrregularSpacing {
        /// The position of the first point of the uneven pair.
        index: usize,
        /// The gap found.
        gap: i64,
        /// The series' median step.
        step: f64,
    },
    /// A multiplicative model was given a value that is not positive.
    #[error("{model} needs positive values, value {index} is {value}")]
    NonPositiveValue {
        /// The model.
        model: &'static str,
        /// Its position.
        index: usize,
        /// The value.
        value: f64,
    },
    /// The fit could not find parameters with a finite error.
    #[error(
        "{model} could not be fitted: the one-step errors are not finite for any parameters tried"
    )]
    FitFailed {
        /// The model.
        model: &'static str,
    },
    /// Automatic selection had no candidate model that could be fitted; the reasons per model follow.
    #[error("no candidate model could be fitted: {reasons}")]
    NoModelFits {
        /// Each candidate's error, joined.
        reasons: String,
    },
    /// The same resource was given twice.
    #[error("resource {0} is given more than once")]
    DuplicateResource(crate::Resource),
    /// A load trace with a negative demand.
    #[error("demand {index} is {value}; demand cannot be negative")]
    NegativeDemand {
        /// Its position.
        index: usize,
        /// The value.
        value: f64,
    },
    /// A resource is named that the plan does not hold (a price for an unforecast resource).
    #[error("resource {0} has no forecast")]
    UnknownResource(crate::Resource),
}

/// `Result` with ha-scale's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Checks that a number is finite.
pub(crate) fn finite(name: &'static str, value: f64) -> Result<f64> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(ha_core::Error::NotFinite { name, value }.into())
    }
}

/// Checks that a number is finite and lies in `[lo, hi]` (`range` is its text form).
pub(crate) fn in_range(
    name: &'static str,
    value: f64,
    lo: f64,
    hi: f64,
    range: &'static str,
) -> Result<f64> {
    finite(name, value)?;
    if value < lo || value > hi {
        return Err(ha_core::Error::OutOfRange { name, value, range }.into());
    }
    Ok(value)
}

/// Checks that a number is finite and strictly positive.
pub(crate) fn positive(name: &'static str, value: f64) -> Result<f64> {
    finite(name, value)?;
    if value <= 0.0 {
        return Err(ha_core::Error::OutOfRange {
            name,
            value,
            range: "(0, ∞)",
        }
        .into());
    }
    Ok(value)
}
