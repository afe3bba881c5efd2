//! Leader election is not home-made: a trait for a lease / election backend (etcd, Consul,
//! ZooKeeper, Kubernetes leases, a Raft group), and an in-memory backend for tests.

use std::fmt;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use ha_core::{Clock, NodeId};
use parking_lot::Mutex;

use crate::error::non_zero;
use crate::{Epoch, Error, Result};

/// A leadership lease: who holds it, in which epoch, until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The leader.
    pub holder: NodeId,
    /// Its epoch: the fencing token for its writes.
    pub epoch: Epoch,
    /// How long each grant or renewal lasts.
    pub ttl: Duration,
    /// When it lapses unless renewed, on the backend's clock. A ttl reaching past what an
    /// `Instant` can hold saturates to the latest instant within reach (the lease is held
    /// until resigned or superseded), never to an instant already past.
    pub expires_at: Instant,
}

impl Lease {
    /// Whether the lease still holds at `now`.
    #[must_use]
    pub fn is_valid_at(&self, now: Instant) -> bool {
        now < self.expires_at
    }
}

/// The answer to a campaign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Campaign {
    /// The candidate leads, under this lease (a new one, or the one it already held).
    Won(Lease),
    /// Another node holds a valid lease.
    Lost {
        /// The current leader's lease.
        leader: Lease,
    },
}

/// A lease / leader-election service. Implement it over an existing engine; do not build one.
///
/// A production backend wraps an existing consensus service — etcd's `Campaign` / `LeaseKeepAlive`
/// / `Resign` / `Leader`, a Consul session lock, a Kubernetes `Lease` object — in this trait; the
/// rest of ha only needs its answers. Each won lease carries an [`Epoch`], strictly higher than
/// every earlier lease's (etcd's revision, a ZooKeeper zxid or sequence number), to be used as
/// the fencing token of every write (see [`Fence`](crate::Fence)): a lease alone cannot stop a
/// paused ex-leader from writing after it expired, the epoch check at the store does.
///
/// Requirements on an implementation: at most one valid lease at a time (by the backend's own
/// clock); each newly won lease has a higher epoch than every lease before it; `renew` fails
/// once the lease has lapsed or been superseded.
#[async_trait]
pub trait ElectionBackend: Send + Sync + fmt::Debug {
    /// The backend's error (a network failure, a lost session).
    type Error: std::error::Error + Send + Sync + 'static;

    /// Asks for leadership for `ttl`; wins unless another node holds a valid lease.
    async fn campaign(&self, candidate: &NodeId, ttl: Duration) -> Result<Campaign, Self::Error>;

    /// Extends `lease` by its ttl from now; fails if it is no longer the current lease.
    async fn renew(&self, lease: &Lease) -> Result<Lease, Self::Error>;

    /// Gives `lease` up, so another node can win at once. Giving up a lease already lapsed or
    /// superseded does nothing.
    async fn resign(&self, lease: &Lease) -> Result<(), Self::Error>;

    /// The current leader's lease, if one is valid.
    async fn observe(&self) -> Result<Option<Lease>, Self::Error>;
}

/// `now + ttl`, or, when that overflows `Instant`, the latest instant within reach: a huge ttl
/// means "held until resigned or superseded", never a lease already expired when won.
fn expiry(now: Instant, ttl: Duration) -> Instant {
    let mut ttl = ttl;
    loop {
        if let Some(at) = now.checked_add(ttl) {
            return at;
        }
        // Halving reaches a ttl that fits: `now + 0` always does.
        ttl /= 2;
    }
}

#[derive(Debug, Default)]
struct State {
    lease: Option<Lease>,
    epoch: Epoch,
}

/// An [`ElectionBackend`] in one process's memory, on an injected [`Clock`]: **for tests and
/// simulations only** (it shares nothing across processes and survives nothing).
///
/// ```
/// use std::time::Duration;
/// use futures::executor::block_on;
/// use ha_core::{ManualClock, NodeId};
/// use ha_replication::{Campaign, ElectionBackend, Epoch, InMemoryElection};
///
/// let clock = ManualClock::new();
/// let election = InMemoryElection::new(clock.clone());
/// let (a, b) = (NodeId::new("a")?, NodeId::new("b")?);
/// let ttl = Duration::from_secs(10);
/// let Campaign::Won(lease) = block_on(election.campaign(&a, ttl))? else { panic!() };
/// assert_eq!(lease.epoch, Epoch(1));
/// assert!(matches!(block_on(election.campaign(&b, ttl))?, Campaign::Lost { .. }));
/// clock.advance(Duration::from_secs(11)); // a stops renewing: its lease lapses
/// let Campaign::Won(next) = block_on(election.campaign(&b, ttl))? else { panic!() };
/// assert_eq!(next.epoch, Epoch(2));
/// assert!(block_on(election.renew(&lease)).is_err());
/// # Ok::<(), ha_replication::Error>(())
/// ```
#[derive(Debug)]
pub struct InMemoryElection<C> {
    clock: C,
    state: Mutex<State>,
}

impl<C: Clock> InMemoryElection<C> {
    /// An election nobody has won yet (epoch 0), reading time from `clock`.
    pub fn new(clock: C) -> InMemoryElection<C> {
        InMemoryElection {
            clock,
            state: Mutex::new(State::default()),
        }
    }

    /// The latest epoch granted.
    pub fn epoch(&self) -> Epoch {
        self.state.lock().epoch
    }

    fn campaign_now(&self, candidate: &NodeId, ttl: Duration) -> Result<Campaign> {
        non_zero("lease ttl", ttl)?;
        let now = self.clock.now();
        let mut state = self.state.lock();
        if let Some(lease) = state.lease.as_ref().filter(|l| l.is_valid_at(now)) {
            if &lease.holder == candidate {
                return Ok(Campaign::Won(lease.clone()));
            }
            return Ok(Campaign::Lost {
                leader: lease.clone(),
            });
        }
        let epoch = state.epoch.next()?;
        let lease = Lease {
            holder: candidate.clone(),
            epoch,
            ttl,
            expires_at: expiry(now, ttl),
        };
        tracing::debug!(holder = %candidate, epoch = epoch.0, ttl_ms = ttl.as_millis(), "lease won");
        state.epoch = epoch;
        state.lease = Some(lease.clone());
        Ok(Campaign::Won(lease))
    }

    fn renew_now(&self, lease: &Lease) -> Result<Lease> {
        let now = self.clock.now();
        let mut state = self.state.lock();
        match state.lease.as_mut() {
            Some(current)
                if current.epoch == lease.epoch
                    && current.holder == lease.holder
                    && current.is_valid_at(now) =>
            {
                current.expires_at = expiry(now, current.ttl);
                Ok(current.clone())
            }
            _ => Err(Error::LeaseLost {
                holder: lease.holder.clone(),
                epoch: lease.epoch,
            }),
        }
    }

    fn resign_now(&self, lease: &Lease) {
        let mut state = self.state.lock();
        if state
            .lease
            .as_ref()
            .is_some_and(|c| c.epoch == lease.epoch && c.holder == lease.holder)
        {
            tracing::debug!(holder = %lease.holder, epoch = lease.epoch.0, "lease resigned");
            state.lease = None;
        }
    }

    fn observe_now(&self) -> Option<Lease> {
        let now = self.clock.now();
        self.state
            .lock()
            .lease
            .clone()
            .filter(|l| l.is_valid_at(now))
    }
}

#[async_trait]
impl<C: Clock> ElectionBackend for InMemoryElection<C> {
    type Error = Error;

    async fn campaign(&self, candidate: &NodeId, ttl: Duration) -> Result<Campaign> {
        self.campaign_now(candidate, ttl)
    }

    async fn renew(&self, lease: &Lease) -> Result<Lease> {
        self.renew_now(lease)
    }

    async fn resign(&self, lease: &Lease) -> Result<()> {
        self.resign_now(lease);
        Ok(())
    }

    async fn observe(&self) -> Result<Option<Lease>> {
        Ok(self.observe_now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;
    use ha_core::ManualClock;

    fn id(s: &str) -> NodeId {
        NodeId::new(s).unwrap()
    }

    #[test]
    fn renewing_keeps_the_lease_and_resigning_frees_it() {
        let clock = ManualClock::new();
        let e = InMemoryElection::new(clock.clone());
        let ttl = Duration::from_secs(5);
        let Campaign::Won(l1) = block_on(e.campaign(&id("a"), ttl)).unwrap() else {
            panic!("a should win an empty election")
        };
        clock.advance(Duration::from_secs(4));
        let l1 = block_on(e.renew(&l1)).unwrap();
        clock.advance(Duration::from_secs(4));
        // Still valid thanks to the renewal; a campaign by the holder returns its lease.
        assert_eq!(block_on(e.observe()).unwrap(), Some(l1.clone()));
        assert_eq!(
            block_on(e.campaign(&id("a"), ttl)).unwrap(),
            Campaign::Won(l1.clone())
        );
        block_on(e.resign(&l1)).unwrap();
        assert_eq!(block_on(e.observe()).unwrap(), None);
        let Campaign::Won(l2) = block_on(e.campaign(&id("b"), ttl)).unwrap() else {
            panic!("b should win after a resigned")
        };
        assert!(l2.epoch > l1.epoch);
        // Resigning a superseded lease does nothing.
        block_on(e.resign(&l1)).unwrap();
        assert_eq!(block_on(e.observe()).unwrap(), Some(l2));
        assert_eq!(e.epoch(), Epoch(2));
    }

    /// Review item 11: a ttl past what an `Instant` can reach used to give a lease that expired
    /// the moment it was won (and a renewal that expired it).
    #[test]
    fn a_huge_ttl_saturates_instead_of_giving_a_lease_already_expired() {
        let clock = ManualClock::new();
        let e = InMemoryElection::new(clock.clone());
        let Campaign::Won(lease) = block_on(e.campaign(&id("a"), Duration::MAX)).unwrap() else {
            panic!("a should win an empty election")
        };
        let year = Duration::from_secs(365 * 86_400);
        assert!(lease.is_valid_at(clock.now() + year));
        clock.advance(year);
        let renewed = block_on(e.renew(&lease)).unwrap();
        assert!(renewed.is_valid_at(clock.now() + year));
        assert!(matches!(
            block_on(e.campaign(&id("b"), Duration::from_secs(1))).unwrap(),
            Campaign::Lost { .. }
        ));
    }

    #[test]
    fn a_zero_ttl_is_refused() {
        let e = InMemoryElection::new(ManualClock::new());
        assert!(block_on(e.campaign(&id("a"), Duration::ZERO)).is_err());
        assert_eq!(e.epoch(), Epoch(0));
    }
}
