//! The record of past scale changes that rate policies are measured against
//! (`timestampedScaleEvent`, `storeScaleEvent` and `getReplicasChangePerPeriod` in
//! `horizontal.go`).

use std::time::{Duration, Instant};

/// One recorded change of the replica count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScaleEvent {
    /// How many replicas were added (scale up) or removed (scale down); always positive.
    pub change: u32,
    /// When.
    pub at: Instant,
    /// Older than the longest policy period when last checked: its slot is reused by the next
    /// event (the event still counts until then, as in Kubernetes).
    pub outdated: bool,
}

/// Scale-up and scale-down events, kept only when a [`Behavior`](crate::Behavior) is set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScaleEvents {
    up: Vec<ScaleEvent>,
    down: Vec<ScaleEvent>,
}

impl ScaleEvents {
    /// A history holding these events (restored from storage, or seeded in a test).
    /// Events with a zero change are dropped.
    #[must_use]
    pub fn from_events(up: Vec<ScaleEvent>, down: Vec<ScaleEvent>) -> ScaleEvents {
        ScaleEvents {
            up: up.into_iter().filter(|e| e.change > 0).collect(),
            down: down.into_iter().filter(|e| e.change > 0).collect(),
        }
    }

    /// The recorded scale-up events.
    #[must_use]
    pub fn up(&self) -> &[ScaleEvent] {
        &self.up
    }

    /// The recorded scale-down events.
    #[must_use]
    pub fn down(&self) -> &[ScaleEvent] {
        &self.down
    }

    /// Records a change from `previous` to `new` replicas (`storeScaleEvent`): events of that
    /// direction older than `longest_period` are marked outdated, and the new event takes the
    /// last outdated slot, or is appended when there is none.
    pub(crate) fn record(
        &mut self,
        previous: u32,
        new: u32,
        longest_period: Duration,
        now: Instant,
    ) {
        let (list, change) = if new > previous {
            (&mut self.up, new - previous)
        } else {
            (&mut self.down, previous - new)
        };
        let mut slot = None;
        for (i, event) in list.iter_mut().enumerate() {
            // markScaleEventsOutdated: timestamp.Before(now − period).
            if now.saturating_duration_since(event.at) > longest_period {
                event.outdated = true;
            }
            if event.outdated {
                slot = Some(i);
            }
        }
        let event = ScaleEvent {
            change,
            at: now,
            outdated: false,
        };
        match slot.and_then(|i| list.get_mut(i)) {
            Some(old) => *old = event,
            None => list.push(event),
        }
    }

    /// Pods added by events strictly within `period` before `now` (`After(now − period)`).
    pub(crate) fn added_within(&self, period: Duration, now: Instant) -> u32 {
        sum_within(&self.up, period, now)
    }

    /// Pods removed by events strictly within `period` before `now`.
    pub(crate) fn removed_within(&self, period: Duration, now: Instant) -> u32 {
        sum_within(&self.down, period, now)
    }

    /// The latest event time, if any.
    pub(crate) fn latest(&self) -> Option<Instant> {
        self.up.iter().chain(&self.down).map(|e| e.at).max()
    }
}

fn sum_within(events: &[ScaleEvent], period: Duration, now: Instant) -> u32 {
    events
        .iter()
        .filter(|e| now.saturating_duration_since(e.at) < period)
        .fold(0u32, |sum, e| sum.saturating_add(e.change))
}
