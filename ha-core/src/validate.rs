//! The checks every ha crate runs on settings and arguments, each returning the value it checked
//! or the [`Error`] naming it, so a crate's own validation reads `finite("rate", rate)?`.
//!
//! ```
//! use std::time::Duration;
//! use ha_core::validate::{in_range, non_zero_duration};
//!
//! assert_eq!(in_range("ratio", 0.5, 0.0, 1.0, "[0, 1]"), Ok(0.5));
//! assert!(in_range("ratio", f64::NAN, 0.0, 1.0, "[0, 1]").is_err());
//! assert!(non_zero_duration("timeout", Duration::ZERO).is_err());
//! ```

use std::time::Duration;

use crate::{Error, Result};

/// `value`, if it is finite; else [`Error::NotFinite`].
pub fn finite(name: &'static str, value: f64) -> Result<f64> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(Error::NotFinite { name, value })
    }
}

/// `value`, if it is finite and inside `[low, high]`; else [`Error::NotFinite`] or
/// [`Error::OutOfRange`] naming the range as `range`.
pub fn in_range(
    name: &'static str,
    value: f64,
    low: f64,
    high: f64,
    range: &'static str,
) -> Result<f64> {
    finite(name, value)?;
    if value < low || value > high {
        return Err(Error::OutOfRange { name, value, range });
    }
    Ok(value)
}

/// `value`, if it is a finite ratio in `[0, 1]`.
pub fn ratio(name: &'static str, value: f64) -> Result<f64> {
    in_range(name, value, 0.0, 1.0, "[0, 1]")
}

/// `value`, if it is not zero; else [`Error::Zero`].
pub fn non_zero_duration(name: &'static str, value: Duration) -> Result<Duration> {
    if value.is_zero() {
        Err(Error::Zero { name })
    } else {
        Ok(value)
    }
}
