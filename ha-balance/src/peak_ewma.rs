//! The peak-EWMA latency estimate of Finagle's `PeakEwma` load metric, also in tower's
//! `load::PeakEwma`.
//!
//! The estimate jumps to any latency above it at once and otherwise decays towards recent
//! latencies with time: an observation `rtt` at `Δt` after the previous update gives
//! `cost ← rtt` if `rtt > cost`, else `cost ← cost·w + rtt·(1 − w)` with `w = exp(−Δt / τ)`,
//! `τ` the decay time. Reading the load first decays the estimate towards 0 in the same way (an
//! observation of 0 at `now`) so an endpoint that was slow long ago becomes attractive again.
//! The load is `cost × (pending + 1)`: the time the next request would wait for everything
//! in flight, in nanoseconds.
//!
//! An endpoint with no estimate yet is handled either as Finagle does — it is free to try
//! (load 0) until a first request is in flight to it, and then costs a huge
//! [`PENALTY`](PeakEwma::PENALTY) until one completes, so a new endpoint gets one probe, not a
//! flood — or as tower does, with a default round-trip time that decays like any estimate
//! ([`Unmeasured`]).

use std::time::{Duration, Instant};

use crate::Result;

/// What load an endpoint has before its first latency is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum Unmeasured {
    /// Finagle's rule: load 0 while nothing is in flight, then
    /// [`PeakEwma::PENALTY`] plus the pending count until the first completion. The default.
    Penalty,
    /// tower's rule: the estimate starts at this round-trip time (tower's `default_rtt`;
    /// linkerd uses 30 ms) and decays from when the endpoint was first seen.
    DefaultRtt(Duration),
}

/// The settings of the peak-EWMA load metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PeakEwmaConfig {
    /// The decay time `τ`: a peak fades to `1/e` of itself over `τ` without new observations.
    /// Default 10 s (Finagle's `decayTime` and linkerd's default); never zero.
    pub decay: Duration,
    /// The load of an endpoint with no latency yet. Default [`Unmeasured::Penalty`].
    pub unmeasured: Unmeasured,
}

impl Default for PeakEwmaConfig {
    fn default() -> Self {
        PeakEwmaConfig {
            decay: Duration::from_secs(10),
            unmeasured: Unmeasured::Penalty,
        }
    }
}

impl PeakEwmaConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`ha_core::Error::Zero`] (as [`Error::Core`](crate::Error::Core)) for a zero decay or a
    /// zero default round-trip time.
    pub fn validate(&self) -> Result<()> {
        if self.decay.is_zero() {
            return Err(ha_core::Error::Zero {
                name: "peak-ewma decay",
            }
            .into());
        }
        if self.unmeasured == Unmeasured::DefaultRtt(Duration::ZERO) {
            return Err(ha_core::Error::Zero {
                name: "peak-ewma default rtt",
            }
            .into());
        }
        Ok(())
    }
}

/// One endpoint's peak-EWMA round-trip estimate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PeakEwma {
    /// The estimate, in nanoseconds.
    cost_ns: f64,
    /// When it was last updated.
    stamp: Instant,
}

impl PeakEwma {
    /// The load of an endpoint with requests in flight and no latency yet, under
    /// [`Unmeasured::Penalty`]: Finagle's `Long.MaxValue >> 16` nanoseconds, about 39 hours.
    pub const PENALTY: f64 = (i64::MAX >> 16) as f64;

    /// A fresh estimate for an endpoint first seen at `now`.
    #[must_use]
    pub fn new(config: &PeakEwmaConfig, now: Instant) -> PeakEwma {
        let cost_ns = match config.unmeasured {
            Unmeasured::Penalty => 0.0,
            Unmeasured::DefaultRtt(rtt) => nanos(rtt),
        };
        PeakEwma {
            cost_ns,
            stamp: now,
        }
    }

    /// The current estimate in nanoseconds, without decay since the last update.
    #[must_use]
    pub fn estimate_ns(&self) -> f64 {
        self.cost_ns
    }

    /// Takes in a request's round-trip time `rtt`, ended at `now`.
    pub fn observe(&mut self, rtt: Duration, now: Instant, config: &PeakEwmaConfig) {
        self.update(nanos(rtt), now, config);
    }

    /// The load at `now` with `pending` requests in flight, decaying the estimate to `now`
    /// first (as Finagle's and tower's reads do).
    pub fn load(&mut self, pending: u32, now: Instant, config: &PeakEwmaConfig) -> f64 {
        self.update(0.0, now, config);
        if self.cost_ns == 0.0 && pending != 0 {
            PeakEwma::PENALTY + f64::from(pending)
        } else {
            self.cost_ns * (f64::from(pending) + 1.0)
        }
    }

    fn update(&mut self, rtt_ns: f64, now: Instant, config: &PeakEwmaConfig) {
        let elapsed = nanos(now.saturating_duration_since(self.stamp));
        let w = (-elapsed / nanos(config.decay)).exp();
        self.cost_ns = if rtt_ns > self.cost_ns {
            rtt_ns
        } else {
            self.cost_ns * w + rtt_ns * (1.0 - w)
        };
        self.stamp = self.stamp.max(now);
    }
}

fn nanos(d: Duration) -> f64 {
    d.as_secs_f64() * 1e9
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn peaks_are_taken_at_once_and_decay_with_time() {
        let config = PeakEwmaConfig {
            decay: Duration::from_secs(1),
            unmeasured: Unmeasured::Penalty,
        };
        let t = Instant::now();
        let mut e = PeakEwma::new(&config, t);
        assert_eq!(e.load(0, t, &config), 0.0);
        assert_eq!(e.load(2, t, &config), PeakEwma::PENALTY + 2.0);
        e.observe(ms(100), t, &config);
        assert!((e.load(0, t, &config) - 100e6).abs() < 1.0);
        assert!((e.load(1, t, &config) - 200e6).abs() < 1.0);
        // A lower rtt one τ later: 100·e⁻¹ + 10·(1 − e⁻¹), read at the same instant.
        e.observe(ms(10), t + Duration::from_secs(1), &config);
        let expected = 100e6 * (-1f64).exp() + 10e6 * (1.0 - (-1f64).exp());
        assert!((e.estimate_ns() - expected).abs() < 1.0);
        // A spike replaces the estimate.
        e.observe(ms(500), t + Duration::from_secs(1), &config);
        assert_eq!(e.estimate_ns(), 500e6);
        // Reading decays towards zero.
        let later = e.load(0, t + Duration::from_secs(11), &config);
        assert!(later < 500e6 * 1e-4, "{later}");
    }

    #[test]
    fn tower_default_rtt_starts_the_estimate() {
        let config = PeakEwmaConfig {
            decay: Duration::from_secs(1),
            unmeasured: Unmeasured::DefaultRtt(ms(10)),
        };
        let t = Instant::now();
        let mut e = PeakEwma::new(&config, t);
        assert_eq!(e.load(0, t, &config), 10e6);
        let l = e.load(0, t + ms(100), &config);
        assert!(9e6 < l && l < 10e6, "{l}");
        assert!(config.validate().is_ok());
        let zero = PeakEwmaConfig {
            unmeasured: Unmeasured::DefaultRtt(Duration::ZERO),
            ..config
        };
        assert!(zero.validate().is_err());
        let no_decay = PeakEwmaConfig {
            decay: Duration::ZERO,
            ..config
        };
        assert!(no_decay.validate().is_err());
    }
}
