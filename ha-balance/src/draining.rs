//! Connection draining: an endpoint on its way out takes no new requests and is let go when its
//! in-flight requests have finished or its drain timeout has passed.
//!
//! [`EndpointSet::drain`](crate::EndpointSet::drain) starts a drain; from then on the endpoint is
//! never picked. [`EndpointSet::poll_drained`](crate::EndpointSet::poll_drained) reports each
//! drained endpoint once, as a [`Drained`](crate::Drained), and removes it from the set;
//! [`EndpointSet::poll_timeout`](crate::EndpointSet::poll_timeout) says when the next drain
//! timeout falls. The default timeout is 300 s, as AWS load balancers' deregistration delay.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use ha_balance::{DrainEnd, Endpoint, EndpointSet};
//! use ha_core::NodeId;
//!
//! let now = Instant::now();
//! let ids = ["a", "b"].map(|id| NodeId::new(id)).into_iter().collect::<Result<Vec<_>, _>>()?;
//! let mut set = EndpointSet::new(ids.into_iter().map(Endpoint::new).collect(), Default::default())?;
//! set.on_start("a")?;
//! set.drain("a", now)?;
//! assert!(set.poll_drained(now).is_none()); // one request in flight
//! assert_eq!(set.poll_timeout(), Some(now + Duration::from_secs(300)));
//! set.on_end("a")?;
//! let drained = set.poll_drained(now + Duration::from_secs(2)).ok_or("not drained")?;
//! assert_eq!((drained.id.as_str(), drained.end), ("a", DrainEnd::Idle));
//! assert_eq!(drained.elapsed, Duration::from_secs(2));
//! assert!(!set.contains("a"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::time::{Duration, Instant};

use ha_core::DrainEnd;

/// A drain in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Drain {
    pub(crate) started: Instant,
    pub(crate) deadline: Instant,
}

impl Drain {
    pub(crate) fn new(now: Instant, timeout: Duration) -> Drain {
        Drain {
            started: now,
            // An `Instant` too far in the future to represent is as good as never.
            deadline: crate::deadline::deadline(now, timeout),
        }
    }

    /// Why the drain is over at `now` with `in_flight` requests left, if it is.
    pub(crate) fn end(&self, in_flight: u32, now: Instant) -> Option<DrainEnd> {
        if in_flight == 0 {
            Some(DrainEnd::Idle)
        } else if now >= self.deadline && self.deadline > self.started {
            Some(DrainEnd::TimedOut)
        } else {
            None
        }
    }
}
