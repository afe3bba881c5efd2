//! Hybrid logical clocks (Kulkarni, Demirbas, Madappa, Avva and Leone, "Logical Physical
//! Clocks", OPODIS 2014): timestamps that stay close to physical time, never go backwards, and
//! order every message after its cause — the stamp last-writer-wins needs.
//!
//! Followed: the paper's `l.j` / `c.j` update rules for send (local) events and receive events.
//! Where we differ: physical time is passed in (nothing here reads a clock), and a remote stamp
//! further ahead than a configured maximum offset is refused rather than adopted, as CockroachDB
//! does, so one node with a clock far in the future cannot drag every clock with it.

use std::time::Duration;

use crate::{Error, Result};

/// A hybrid-logical-clock timestamp: physical wall time in nanoseconds (since an epoch the caller
/// chooses, the same on every node) and a logical counter that orders events within one tick.
/// Ordered by wall time, then counter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct HlcTimestamp {
    /// The largest physical time known, in nanoseconds since the epoch.
    pub wall_nanos: u64,
    /// Events at that wall time before this one.
    pub logical: u32,
}

/// A node's hybrid logical clock.
///
/// Call [`now`](Self::now) for a local event or a send (a write's stamp), and
/// [`update`](Self::update) when a message carrying a remote stamp arrives. Each returns a stamp
/// above every stamp this clock returned before.
///
/// **Durability.** "Above every stamp before" holds only while the clock's state lives. Persist
/// [`last`](Self::last) (or the whole clock, which is serde) before a stamp is used, and resume
/// with [`resume`](Self::resume) after a restart. A clock rebuilt with [`new`](Self::new) starts
/// at zero and, if physical time stepped back or a stamp was issued on a logical counter, can
/// hand out a stamp equal to or below one it gave before: with last-writer-wins
/// ([`Stamped`](crate::Stamped)) a later write of that node then loses to its own earlier write,
/// or ties with it on `(stamp, writer)` with a different value, and replicas keep whichever copy
/// they saw first.
///
/// ```
/// use std::time::Duration;
/// use ha_replication::{HlcTimestamp, HybridClock};
///
/// let mut clock = HybridClock::new(Duration::from_millis(500))?;
/// let t1 = clock.now(Duration::from_secs(100))?;
/// // Physical time stalls (or steps back): the logical counter keeps order.
/// let t2 = clock.now(Duration::from_secs(99))?;
/// assert!(t2 > t1);
/// assert_eq!(t2.logical, 1);
/// // A message from a node 100 ms ahead moves the clock forward.
/// let remote = HlcTimestamp { wall_nanos: 100_100_000_000, logical: 7 };
/// let t3 = clock.update(remote, Duration::from_secs(100))?;
/// assert!(t3 > remote);
/// # Ok::<(), ha_replication::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct HybridClock {
    last: HlcTimestamp,
    max_offset: Duration,
}

fn nanos(physical: Duration) -> u64 {
    u64::try_from(physical.as_nanos()).unwrap_or(u64::MAX)
}

impl HybridClock {
    /// A clock that refuses remote stamps more than `max_offset` ahead of local physical time
    /// (CockroachDB's default is 500 ms).
    ///
    /// # Errors
    /// [`ha_core::Error::Zero`] (as [`Error::Core`]) for a zero `max_offset`.
    pub fn new(max_offset: Duration) -> Result<HybridClock> {
        if max_offset.is_zero() {
            return Err(ha_core::Error::Zero {
                name: "hybrid clock max offset",
            }
            .into());
        }
        Ok(HybridClock {
            last: HlcTimestamp::default(),
            max_offset,
        })
    }

    /// A clock resumed after a restart from the last stamp it handed out (persisted before the
    /// stamp was used): every stamp it returns is above `last`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use ha_replication::HybridClock;
    ///
    /// let mut before = HybridClock::new(Duration::from_millis(500))?;
    /// let t1 = before.now(Duration::from_secs(100))?;
    /// // Restart; the machine's clock stepped back a second.
    /// let mut after = HybridClock::resume(t1, Duration::from_millis(500))?;
    /// assert!(after.now(Duration::from_secs(99))? > t1);
    /// # Ok::<(), ha_replication::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn resume(last: HlcTimestamp, max_offset: Duration) -> Result<HybridClock> {
        let mut clock = HybridClock::new(max_offset)?;
        clock.last = last;
        Ok(clock)
    }

    /// The last stamp returned.
    #[must_use]
    pub fn last(&self) -> HlcTimestamp {
        self.last
    }

    /// A stamp for a local event or a send at physical time `physical`.
    ///
    /// # Errors
    /// [`Error::ClockCounterExhausted`] after `u32::MAX` events without physical time passing
    /// the last stamp; the clock is unchanged.
    pub fn now(&mut self, physical: Duration) -> Result<HlcTimestamp> {
        let pt = nanos(physical);
        let next = if pt > self.last.wall_nanos {
            HlcTimestamp {
                wall_nanos: pt,
                logical: 0,
            }
        } else {
            HlcTimestamp {
                wall_nanos: self.last.wall_nanos,
                logical: self
                    .last
                    .logical
                    .checked_add(1)
                    .ok_or(Error::ClockCounterExhausted)?,
            }
        };
        self.last = next;
        Ok(next)
    }

    /// Takes in a `remote` stamp received at physical time `physical` and returns the stamp of
    /// the receive event, above both the remote stamp and every earlier local one.
    ///
    /// # Errors
    /// [`Error::ClockOffsetExceeded`] if `remote` is more than the maximum offset ahead of
    /// `physical`; [`Error::ClockCounterExhausted`] if the counter would overflow. Either way the
    /// clock is unchanged.
    pub fn update(&mut self, remote: HlcTimestamp, physical: Duration) -> Result<HlcTimestamp> {
        let pt = nanos(physical);
        let max_offset = nanos(self.max_offset);
        let ahead = remote.wall_nanos.saturating_sub(pt);
        if ahead > max_offset {
            tracing::debug!(ahead, max_offset, "remote hlc stamp refused");
            return Err(Error::ClockOffsetExceeded {
                ahead_nanos: ahead,
                max_offset_nanos: max_offset,
            });
        }
        let last = self.last;
        let wall = last.wall_nanos.max(remote.wall_nanos).max(pt);
        let bump = |c: u32| c.checked_add(1).ok_or(Error::ClockCounterExhausted);
        let logical = if wall == last.wall_nanos && wall == remote.wall_nanos {
            bump(last.logical.max(remote.logical))?
        } else if wall == last.wall_nanos {
            bump(last.logical)?
        } else if wall == remote.wall_nanos {
            bump(remote.logical)?
        } else {
            0
        };
        self.last = HlcTimestamp {
            wall_nanos: wall,
            logical,
        };
        Ok(self.last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_strictly_increase_whatever_physical_time_does() {
        let mut clock = HybridClock::new(Duration::from_millis(10)).unwrap();
        let mut last = HlcTimestamp::default();
        for pt in [5u64, 5, 3, 9, 9, 1, 20] {
            let t = clock.now(Duration::from_nanos(pt)).unwrap();
            assert!(t > last);
            last = t;
            let remote = HlcTimestamp {
                wall_nanos: pt + 2,
                logical: 3,
            };
            let r = clock.update(remote, Duration::from_nanos(pt)).unwrap();
            assert!(r > last && r > remote);
            last = r;
        }
    }

    #[test]
    fn a_stamp_too_far_ahead_is_refused_and_the_clock_is_unchanged() {
        let mut clock = HybridClock::new(Duration::from_millis(1)).unwrap();
        let t = clock.now(Duration::from_secs(1)).unwrap();
        let remote = HlcTimestamp {
            wall_nanos: 2_000_000_000,
            logical: 0,
        };
        assert!(matches!(
            clock.update(remote, Duration::from_secs(1)),
            Err(Error::ClockOffsetExceeded { .. })
        ));
        assert_eq!(clock.last(), t);
        assert!(HybridClock::new(Duration::ZERO).is_err());
    }

    #[test]
    fn counter_exhaustion_is_an_error() {
        let mut clock = HybridClock::new(Duration::from_secs(1)).unwrap();
        clock.last = HlcTimestamp {
            wall_nanos: 10,
            logical: u32::MAX,
        };
        assert_eq!(
            clock.now(Duration::from_nanos(5)),
            Err(Error::ClockCounterExhausted)
        );
    }
}
