//! A time series: strictly increasing timestamps, each with one finite value.

use crate::error::{Error, Result};

/// The most a gap may differ from the average step, as a ratio of it, for the series to count as
/// evenly spaced (months of 28 to 31 days pass, a missing day in daily data does not).
const SPACING_TOLERANCE_RATIO: f64 = 0.1;

/// A validated time series: timestamps strictly increasing, values finite, at least one point.
///
/// Timestamps are integers in a unit of the caller's choice — Unix seconds for metrics; the
/// forecasting models only need them evenly spaced, and [`TimeSeries::step`] converts a horizon
/// back into time. Rates per year (growth) assume seconds unless told otherwise.
///
/// ```
/// use ha_scale::{Error, TimeSeries};
///
/// let hourly = TimeSeries::regular(0, 3600, vec![1.0, 2.0, 3.0])?;
/// assert_eq!(hourly.len(), 3);
/// assert_eq!(hourly.step()?, 3600.0);
///
/// let unsorted = TimeSeries::new(vec![0, 20, 10], vec![1.0, 2.0, 3.0]);
/// assert!(matches!(unsorted, Err(Error::UnsortedTimestamps { index: 2, .. })));
/// let nan = TimeSeries::new(vec![0, 10], vec![1.0, f64::NAN]);
/// assert!(matches!(nan, Err(Error::NonFiniteValue { index: 1, .. })));
/// # Ok::<(), Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct TimeSeries {
    times: Vec<i64>,
    values: Vec<f64>,
}

impl TimeSeries {
    /// A series from its timestamps and values, checked: equal lengths, at least one point,
    /// timestamps strictly increasing, values finite.
    pub fn new(times: Vec<i64>, values: Vec<f64>) -> Result<Self> {
        if times.len() != values.len() {
            return Err(Error::LengthMismatch {
                times: times.len(),
                values: values.len(),
            });
        }
        if times.is_empty() {
            return Err(Error::EmptySeries);
        }
        for (index, pair) in times.windows(2).enumerate() {
            let (before, time) = (pair[0], pair[1]);
            if time == before {
                return Err(Error::DuplicateTimestamp {
                    index: index + 1,
                    time,
                });
            }
            if time < before {
                return Err(Error::UnsortedTimestamps {
                    index: index + 1,
                    time,
                });
            }
        }
        if let Some((index, &value)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(Error::NonFiniteValue { index, value });
        }
        Ok(Self { times, values })
    }

    /// An evenly spaced series: the first point at `start`, one every `step` (which must be
    /// positive).
    pub fn regular(start: i64, step: i64, values: Vec<f64>) -> Result<Self> {
        if step <= 0 {
            return Err(ha_core::Error::OutOfRange {
                name: "step",
                value: step as f64,
                range: "(0, ∞)",
            }
            .into());
        }
        let mut times = Vec::with_capacity(values.len());
        let mut time = start;
        for _ in 0..values.len() {
            times.push(time);
            time = time.saturating_add(step);
        }
        Self::new(times, values)
    }

    /// The number of points (at least 1).
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Always `false`: a series holds at least one point. Present for the usual pairing with
    /// [`TimeSeries::len`].
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The timestamps, strictly increasing.
    pub fn times(&self) -> &[i64] {
        &self.times
    }

    /// The values, all finite.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// The last timestamp.
    pub fn last_time(&self) -> i64 {
        self.times.last().copied().unwrap_or_default()
    }

    /// The first `len` points (all of them when `len` is larger), or `None` for `len` 0.
    pub fn head(&self, len: usize) -> Option<Self> {
        let len = len.min(self.len());
        (len > 0).then(|| Self {
            times: self.times[..len].to_vec(),
            values: self.values[..len].to_vec(),
        })
    }

    /// The typical step between points — the median gap — checked to be even: every gap
    /// within 10% of it. A single point has no step and gives [`Error::SeriesTooShort`].
    pub fn step(&self) -> Result<f64> {
        let n = self.len();
        if n < 2 {
            return Err(Error::SeriesTooShort {
                model: "a step",
                needed: 2,
                got: n,
            });
        }
        let mut gaps: Vec<i64> = self
            .times
            .windows(2)
            .map(|pair| pair[1].saturating_sub(pair[0]))
            .collect();
        gaps.sort_unstable();
        let step = gaps[gaps.len() / 2] as f64;
        for (index, pair) in self.times.windows(2).enumerate() {
            let gap = pair[1].saturating_sub(pair[0]);
            if (gap as f64 - step).abs() > SPACING_TOLERANCE_RATIO * step {
                return Err(Error::IrregularSpacing { index, gap, step });
            }
        }
        Ok(step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_series() {
        assert_eq!(TimeSeries::new(vec![], vec![]), Err(Error::EmptySeries));
        assert_eq!(
            TimeSeries::new(vec![1], vec![]),
            Err(Error::LengthMismatch {
                times: 1,
                values: 0
            })
        );
        assert_eq!(
            TimeSeries::new(vec![1, 1], vec![0.0, 0.0]),
            Err(Error::DuplicateTimestamp { index: 1, time: 1 })
        );
        assert!(matches!(
            TimeSeries::new(vec![1, 2], vec![0.0, f64::INFINITY]),
            Err(Error::NonFiniteValue { index: 1, .. })
        ));
        assert!(TimeSeries::regular(0, 0, vec![1.0]).is_err());
    }

    #[test]
    fn step_checks_even_spacing() {
        let s = TimeSeries::new(vec![0, 10, 20, 45], vec![1.0; 4]).unwrap();
        assert!(matches!(
            s.step(),
            Err(Error::IrregularSpacing {
                index: 2,
                gap: 25,
                ..
            })
        ));
        let one = TimeSeries::new(vec![0], vec![1.0]).unwrap();
        assert!(matches!(one.step(), Err(Error::SeriesTooShort { .. })));
        let s = TimeSeries::regular(100, 10, vec![1.0; 5]).unwrap();
        assert_eq!(s.step().unwrap(), 10.0);
        assert_eq!(s.head(2).unwrap().len(), 2);
        assert!(s.head(0).is_none());
    }
}
