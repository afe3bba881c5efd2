//! Quantiles of the last stretch of time: a ring of quantile sketches, one per time slice.

use std::time::{Duration, Instant};

use ha_core::{QuantileSketch, QuantileSketchConfig, Quantiles};

use crate::error::{non_zero, time_regressed};
use crate::{Error, Result};

/// The most slices a window may be cut into; each holds a sketch.
const MAX_SLICES: u32 = 64;

/// The shape of a [`LagWindow`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct LagWindowConfig {
    /// How far back the quantiles reach. Default 60 s.
    pub window: Duration,
    /// How many slices the window is cut into; the window's far edge moves a slice at a time.
    /// Default 6 (10 s slices), at most 64.
    pub slices: u32,
    /// The sketch behind each slice. Default: ha-core's default (1% relative accuracy).
    pub sketch: QuantileSketchConfig,
}

impl Default for LagWindowConfig {
    fn default() -> Self {
        LagWindowConfig {
            window: Duration::from_secs(60),
            slices: 6,
            sketch: QuantileSketchConfig::default(),
        }
    }
}

impl LagWindowConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`ha_core::Error::Zero`] for a zero window or zero slices, [`ha_core::Error::TooLarge`]
    /// for more than 64 slices or slices shorter than a microsecond, and the sketch's own checks.
    pub fn validate(&self) -> Result<()> {
        non_zero("lag window", self.window)?;
        if self.slices == 0 {
            return Err(ha_core::Error::Zero {
                name: "lag window slices",
            }
            .into());
        }
        let micros = u64::try_from(self.window.as_micros()).unwrap_or(u64::MAX);
        let max = u64::from(MAX_SLICES).min(micros);
        if u64::from(self.slices) > max {
            return Err(ha_core::Error::TooLarge {
                name: "lag window slices",
                value: self.slices.into(),
                max,
            }
            .into());
        }
        self.sketch.validate()?;
        Ok(())
    }
}

/// Durations recorded over the last `window`, answering p50 / p99 (any quantile) within the
/// sketch's relative accuracy.
///
/// Time is cut into `slices` slices of `window / slices`; each has its own [`QuantileSketch`],
/// cleared when the ring comes round to it again. A query merges the slices still inside the
/// window, so the window's far edge is exact to a slice: it covers between `window - slice` and
/// `window` of history. Recording is the sketch's cost (tens of nanoseconds); a query merges up to
/// `slices` sketches.
///
/// ```
/// use std::time::{Duration, Instant};
/// use ha_replication::{LagWindow, LagWindowConfig};
///
/// let mut lags = LagWindow::new(LagWindowConfig::default())?;
/// let mut now = Instant::now();
/// for ms in 1..=100 {
///     lags.record(Duration::from_millis(ms), now)?;
///     now += Duration::from_millis(100);
/// }
/// let q = lags.quantiles(now).unwrap();
/// assert!((q.p99 - 0.099).abs() < 0.002); // seconds
/// // Two minutes later nothing is left in the window.
/// assert!(lags.quantiles(now + Duration::from_secs(120)).is_none());
/// # Ok::<(), ha_replication::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct LagWindow {
    config: LagWindowConfig,
    slice: Duration,
    /// Each slot's sketch and the index of the slice it holds (time since `origin` / `slice`).
    slots: Vec<(u64, QuantileSketch)>,
    origin: Option<Instant>,
    latest: Option<Instant>,
    /// The slice of the latest sample and the instant it ends, so a sample in the same slice
    /// needs no division.
    current: Option<(u64, Instant)>,
}

impl LagWindow {
    /// An empty window.
    ///
    /// # Errors
    /// As [`LagWindowConfig::validate`].
    pub fn new(config: LagWindowConfig) -> Result<LagWindow> {
        config.validate()?;
        let slice = config.window / config.slices;
        let empty = QuantileSketch::new(config.sketch)?;
        Ok(LagWindow {
            config,
            slice,
            slots: vec![(0, empty); config.slices as usize],
            origin: None,
            latest: None,
            current: None,
        })
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &LagWindowConfig {
        &self.config
    }

    /// Records one duration observed at `now`.
    ///
    /// # Errors
    /// [`Error::TimeRegressed`] if `now` is before a time already recorded; nothing changes.
    pub fn record(&mut self, lag: Duration, now: Instant) -> Result<()> {
        if let Some(latest) = self.latest {
            if now < latest {
                return Err(time_regressed("lag sample", latest, now));
            }
        }
        let origin = *self.origin.get_or_insert(now);
        let index = match self.current {
            Some((index, end)) if now < end => index,
            _ => {
                let index = self.slice_index(origin, now);
                let end = u32::try_from(index.saturating_add(1))
                    .ok()
                    .and_then(|next| origin.checked_add(self.slice.checked_mul(next)?));
                // Past u32::MAX slices (or the end of `Instant`) every sample takes the slow path.
                self.current = end.map(|end| (index, end));
                index
            }
        };
        let slots = self.slots.len() as u64;
        let slot = &mut self.slots[(index % slots) as usize];
        if slot.0 != index {
            slot.0 = index;
            slot.1.clear();
        }
        // A duration is finite and a slot's count cannot reach u64::MAX in practice; a refusal
        // would only drop this one sample.
        if let Err(e) = slot.1.record(lag.as_secs_f64()) {
            return Err(Error::Core(e));
        }
        self.latest = Some(now);
        Ok(())
    }

    /// Count, min, mean, p50, p95, p99 and max of the durations (in seconds) recorded in the
    /// window ending at `now`, or `None` when there are none.
    #[must_use]
    pub fn quantiles(&self, now: Instant) -> Option<Quantiles> {
        self.merged(now)?.quantiles()
    }

    /// The `q`-quantile of the durations recorded in the window ending at `now`, or `None` when
    /// there are none or `q` is outside `[0, 1]`.
    #[must_use]
    pub fn quantile(&self, q: f64, now: Instant) -> Option<Duration> {
        let seconds = self.merged(now)?.quantile(q).ok().flatten()?;
        Duration::try_from_secs_f64(seconds).ok()
    }

    /// The slices inside the window ending at `now`, merged.
    fn merged(&self, now: Instant) -> Option<QuantileSketch> {
        let origin = self.origin?;
        let current = self.slice_index(origin, now);
        let oldest = current.saturating_sub(self.slots.len() as u64 - 1);
        let mut merged: Option<QuantileSketch> = None;
        for (index, sketch) in &self.slots {
            if *index < oldest || *index > current || sketch.is_empty() {
                continue;
            }
            match merged.as_mut() {
                None => merged = Some(sketch.clone()),
                // Same settings by construction; counts this large cannot occur in a window.
                Some(m) => {
                    let _ = m.merge(sketch);
                }
            }
        }
        merged
    }

    /// Forgets every sample, keeping the settings and the latest time seen.
    pub fn clear(&mut self) {
        for (_, sketch) in &mut self.slots {
            sketch.clear();
        }
    }

    fn slice_index(&self, origin: Instant, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(origin).as_nanos();
        u64::try_from(elapsed / self.slice.as_nanos().max(1)).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_settings_are_rejected() {
        let with = |f: fn(&mut LagWindowConfig)| {
            let mut c = LagWindowConfig::default();
            f(&mut c);
            LagWindow::new(c).map(|_| ())
        };
        assert!(with(|c| c.window = Duration::ZERO).is_err());
        assert!(with(|c| c.slices = 0).is_err());
        assert!(with(|c| c.slices = 65).is_err());
        assert!(with(|c| c.window = Duration::from_nanos(10)).is_err());
        assert!(with(|c| c.sketch.relative_accuracy = 2.0).is_err());
    }

    #[test]
    fn old_slices_leave_the_window() {
        let mut w = LagWindow::new(LagWindowConfig::default()).unwrap();
        let t0 = Instant::now();
        w.record(Duration::from_secs(5), t0).unwrap();
        w.record(Duration::from_millis(10), t0 + Duration::from_secs(55))
            .unwrap();
        let q = w.quantiles(t0 + Duration::from_secs(55)).unwrap();
        assert_eq!((q.count, q.max), (2, 5.0));
        // 65 s on, the first slice (0..10 s) is out, the second (50..60 s) still in.
        let q = w.quantiles(t0 + Duration::from_secs(65)).unwrap();
        assert_eq!(q.count, 1);
        assert!((q.max - 0.01).abs() < 1e-12);
        // A slot reused by a later slice starts empty.
        w.record(Duration::from_millis(20), t0 + Duration::from_secs(61))
            .unwrap();
        let q = w.quantiles(t0 + Duration::from_secs(61)).unwrap();
        assert_eq!(q.count, 2);
    }

    #[test]
    fn time_going_back_is_refused() {
        let mut w = LagWindow::new(LagWindowConfig::default()).unwrap();
        let t0 = Instant::now() + Duration::from_secs(1);
        w.record(Duration::from_millis(1), t0).unwrap();
        let err = w
            .record(Duration::from_millis(1), t0 - Duration::from_millis(5))
            .unwrap_err();
        assert_eq!(
            err,
            Error::TimeRegressed {
                what: "lag sample",
                behind: Duration::from_millis(5)
            }
        );
        assert_eq!(w.quantiles(t0).unwrap().count, 1);
        w.clear();
        assert!(w.quantiles(t0).is_none());
    }
}
