//! The one error type of ha-core.

use std::time::Duration;

use crate::QuantileSketchConfig;

/// What went wrong when a setting, an argument or a sample was rejected.
///
/// Every constructor validates its configuration once and every input that can be wrong (a NaN
/// sample, a quantile outside `[0, 1]`, a sample older than the last one) is checked, so a value
/// of this type always names the bad setting and its value.
///
/// ```
/// use ha_core::{Error, QuantileSketch};
///
/// let mut sketch = QuantileSketch::new(Default::default())?;
/// let err = sketch.record(f64::NAN).unwrap_err();
/// assert!(matches!(err, Error::NotFinite { .. }));
/// assert_eq!(err.to_string(), "sample must be a finite number, got NaN");
/// # Ok::<(), ha_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A number that must be finite was NaN or infinite.
    #[error("{name} must be a finite number, got {value}")]
    NotFinite {
        /// The setting or argument.
        name: &'static str,
        /// The value given.
        value: f64,
    },
    /// A number lies outside the range its setting allows.
    #[error("{name} must be in {range}, got {value}")]
    OutOfRange {
        /// The setting or argument.
        name: &'static str,
        /// The value given.
        value: f64,
        /// The allowed range, as text (`"[0, 1]"`, `"(0, 0.5]"`).
        range: &'static str,
    },
    /// A count or a duration that must be positive was zero.
    #[error("{name} must be greater than zero")]
    Zero {
        /// The setting or argument.
        name: &'static str,
    },
    /// A count exceeds the limit that bounds memory or work.
    #[error("{name} is {value}, above the limit of {max}")]
    TooLarge {
        /// The setting or argument.
        name: &'static str,
        /// The value given.
        value: u64,
        /// The largest value allowed.
        max: u64,
    },
    /// Two settings that must be ordered are the wrong way round.
    #[error("{lower} ({lower_value}) must not exceed {upper} ({upper_value})")]
    Inverted {
        /// The setting that must be the smaller.
        lower: &'static str,
        /// Its value.
        lower_value: f64,
        /// The setting that must be the larger.
        upper: &'static str,
        /// Its value.
        upper_value: f64,
    },
    /// A sample came with a time earlier than one already taken in.
    #[error("{name} is {behind:?} older than the latest sample; samples must come in time order")]
    OutOfOrder {
        /// What was fed.
        name: &'static str,
        /// How far before the latest sample it lies.
        behind: Duration,
    },
    /// Two quantile sketches with different settings cannot be merged.
    #[error("cannot merge quantile sketches with different settings: {left:?} and {right:?}")]
    IncompatibleSketches {
        /// The settings of the sketch merged into.
        left: QuantileSketchConfig,
        /// The settings of the sketch merged from.
        right: QuantileSketchConfig,
    },
    /// A node id was empty.
    #[error("node id must not be empty")]
    EmptyNodeId,
    /// More good events than events in all were reported.
    #[error("{good} good events exceed the {total} events in all")]
    GoodExceedsTotal {
        /// Good events.
        good: u64,
        /// All events.
        total: u64,
    },
    /// A calendar month outside 1..=12.
    #[error("month must be in 1..=12, got {0}")]
    InvalidMonth(u8),
    /// A name or other text that must not be empty was empty.
    #[error("{name} must not be empty")]
    Empty {
        /// The setting or argument.
        name: &'static str,
    },
}

/// `Result` with ha-core's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) use crate::validate::{finite, non_zero_duration, ratio};
