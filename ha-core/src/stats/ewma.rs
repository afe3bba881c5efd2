//! An exponentially weighted moving average over irregularly spaced samples.

use std::time::{Duration, Instant};

use crate::Result;
use crate::error::{finite, non_zero_duration};

/// A moving average whose memory fades with elapsed time, not with the number of samples.
///
/// Each sample `xᵢ` taken at `tᵢ` weighs `exp(−(t − tᵢ) / τ)`, where `τ` is the time constant, and the
/// average is the weighted mean of all samples. So samples arriving in a burst at the same instant
/// count equally, a sample after a long silence all but replaces the average, and the answer does
/// not depend on how often samples come. A half-life `h` is the time constant `h / ln 2`: a sample's
/// weight halves every `h`.
///
/// **Accuracy and memory.** The average is a convex combination of the samples, so it never leaves
/// the range of the values fed (clamped against rounding); the state is 40 bytes (64-bit Linux), whatever the
/// number of samples. Samples may be negative (a temperature, a clock offset); NaN and infinite
/// samples are rejected. A sample older than the newest one is weighed by its age, exactly as if
/// it had arrived in order.
///
/// This is the exponential kernel average: a sum of exponentially decaying weights, normalized by
/// their total. It differs from the recursive form `m ← w·m + (1 − w)·x` with `w = exp(−Δt/τ)`
/// (Eckner, "Algorithms for unevenly spaced time series", 2019, and the decay that Finagle's and
/// tower's peak-EWMA use) in one way that matters for request streams: there a sample arriving at
/// the same instant as the previous one gets no weight at all; here it counts like any other.
///
/// ```
/// use std::time::{Duration, Instant};
/// use ha_core::Ewma;
///
/// let start = Instant::now();
/// let mut latency = Ewma::with_half_life(Duration::from_secs(10))?;
/// latency.record(100.0, start)?;
/// assert_eq!(latency.value(), Some(100.0));
/// // One half-life later, a new sample weighs as much as everything before it.
/// latency.record(200.0, start + Duration::from_secs(10))?;
/// let v = latency.value().unwrap_or_default();
/// assert!((v - 2.0 * 200.0 / 3.0 - 100.0 / 3.0).abs() < 1e-9);
/// # Ok::<(), ha_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ewma {
    /// `τ` in seconds, kept as an `f64` because every sample divides by it.
    time_constant_secs: f64,
    state: Option<State>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct State {
    mean: f64,
    /// The summed weight of all samples, as of `latest`.
    weight: f64,
    latest: Instant,
}

impl Ewma {
    /// An average with time constant `tau`: a sample's weight falls to `1/e` after `tau`.
    ///
    /// # Errors
    /// [`Error::Zero`](crate::Error::Zero) if `tau` is zero.
    pub fn with_time_constant(tau: Duration) -> Result<Ewma> {
        let tau = non_zero_duration("ewma time constant", tau)?;
        Ok(Ewma {
            time_constant_secs: tau.as_secs_f64(),
            state: None,
        })
    }

    /// An average whose samples lose half their weight every `half_life`.
    ///
    /// # Errors
    /// [`Error::Zero`](crate::Error::Zero) if `half_life` is zero.
    pub fn with_half_life(half_life: Duration) -> Result<Ewma> {
        let half_life = non_zero_duration("ewma half-life", half_life)?;
        Ok(Ewma {
            time_constant_secs: half_life.as_secs_f64() / std::f64::consts::LN_2,
            state: None,
        })
    }

    /// Takes in `value`, observed at `now`.
    ///
    /// # Errors
    /// [`Error::NotFinite`](crate::Error::NotFinite) if `value` is NaN or infinite; the average
    /// is unchanged.
    pub fn record(&mut self, value: f64, now: Instant) -> Result<()> {
        let value = finite("ewma sample", value)?;
        let Some(state) = &mut self.state else {
            self.state = Some(State {
                mean: value,
                weight: 1.0,
                latest: now,
            });
            return Ok(());
        };
        let tau = self.time_constant_secs;
        // The share of the new sample in the updated mean, in [0, 1].
        let share = if now >= state.latest {
            let decay = (-(now - state.latest).as_secs_f64() / tau).exp();
            state.weight = state.weight * decay + 1.0;
            state.latest = now;
            1.0 / state.weight
        } else {
            let weight = (-(state.latest - now).as_secs_f64() / tau).exp();
            state.weight += weight;
            weight / state.weight
        };
        let mixed = state.mean * (1.0 - share) + value * share;
        state.mean = mixed.clamp(state.mean.min(value), state.mean.max(value));
        Ok(())
    }

    /// The current average, or `None` before the first sample.
    ///
    /// The average does not decay by itself between samples: with no new information it stays
    /// where the last sample left it.
    #[must_use]
    pub fn value(&self) -> Option<f64> {
        self.state.map(|s| s.mean)
    }

    /// When the newest sample was taken, or `None` before the first sample.
    #[must_use]
    pub fn latest(&self) -> Option<Instant> {
        self.state.map(|s| s.latest)
    }

    /// The time constant `τ`.
    #[must_use]
    pub fn time_constant(&self) -> Duration {
        // Only time constants within 1/ln 2 of `Duration::MAX` (from the largest half-lives)
        // do not fit, and saturate.
        Duration::try_from_secs_f64(self.time_constant_secs).unwrap_or(Duration::MAX)
    }

    /// Forgets every sample.
    pub fn reset(&mut self) {
        self.state = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn zero_time_constants_are_rejected() {
        assert_eq!(
            Ewma::with_half_life(Duration::ZERO),
            Err(Error::Zero {
                name: "ewma half-life"
            })
        );
        assert!(Ewma::with_time_constant(Duration::ZERO).is_err());
    }

    #[test]
    fn non_finite_samples_are_rejected_and_leave_the_average_alone() {
        let t = Instant::now();
        let mut e = Ewma::with_half_life(secs(1)).unwrap();
        e.record(5.0, t).unwrap();
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(matches!(e.record(bad, t), Err(Error::NotFinite { .. })));
        }
        assert_eq!(e.value(), Some(5.0));
    }

    #[test]
    fn simultaneous_samples_count_equally() {
        let t = Instant::now();
        let mut e = Ewma::with_half_life(secs(1)).unwrap();
        for v in [1.0, 2.0, 3.0, 6.0] {
            e.record(v, t).unwrap();
        }
        assert!((e.value().unwrap() - 3.0).abs() < 1e-12);
    }

    #[test]
    fn a_sample_after_a_long_silence_replaces_the_average() {
        let t = Instant::now();
        let mut e = Ewma::with_half_life(secs(1)).unwrap();
        e.record(1000.0, t).unwrap();
        e.record(1.0, t + secs(10_000)).unwrap();
        assert_eq!(e.value(), Some(1.0));
    }

    #[test]
    fn half_life_halves_the_weight() {
        let t = Instant::now();
        let mut e = Ewma::with_half_life(secs(30)).unwrap();
        e.record(0.0, t).unwrap();
        e.record(3.0, t + secs(30)).unwrap();
        // weights: old 0.5, new 1 → 3 × 1 / 1.5 = 2.
        assert!((e.value().unwrap() - 2.0).abs() < 1e-9);
        assert!((e.time_constant().as_secs_f64() - 30.0 / std::f64::consts::LN_2).abs() < 1e-6);
    }

    #[test]
    fn a_late_sample_weighs_as_if_it_had_come_in_order() {
        let t = Instant::now();
        let mut in_order = Ewma::with_time_constant(secs(5)).unwrap();
        in_order.record(10.0, t).unwrap();
        in_order.record(20.0, t + secs(3)).unwrap();
        in_order.record(40.0, t + secs(7)).unwrap();
        let mut late = Ewma::with_time_constant(secs(5)).unwrap();
        late.record(10.0, t).unwrap();
        late.record(40.0, t + secs(7)).unwrap();
        late.record(20.0, t + secs(3)).unwrap();
        assert!((in_order.value().unwrap() - late.value().unwrap()).abs() < 1e-9);
        assert_eq!(late.latest(), Some(t + secs(7)));
    }

    #[test]
    fn the_largest_time_constants_do_not_panic() {
        let t = Instant::now();
        for mut e in [
            Ewma::with_half_life(Duration::MAX).unwrap(),
            Ewma::with_time_constant(Duration::MAX).unwrap(),
        ] {
            assert_eq!(e.time_constant(), Duration::MAX);
            e.record(1.0, t).unwrap();
            e.record(3.0, t + secs(1)).unwrap();
            assert!(
                (e.value().unwrap() - 2.0).abs() < 1e-9,
                "no decay: a plain mean"
            );
        }
    }

    #[test]
    fn state_size_is_as_documented() {
        assert!(std::mem::size_of::<Ewma>() <= 40);
    }

    #[test]
    fn negative_samples_are_averaged() {
        let t = Instant::now();
        let mut e = Ewma::with_half_life(secs(1)).unwrap();
        e.record(-4.0, t).unwrap();
        e.record(-2.0, t).unwrap();
        assert_eq!(e.value(), Some(-3.0));
        e.reset();
        assert_eq!(e.value(), None);
    }
}
