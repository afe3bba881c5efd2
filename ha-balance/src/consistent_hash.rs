//! Consistent hashing on a request key, over ha-shard's [`HashRing`].

use std::time::Instant;

use ha_shard::{HashRing, RingConfig};
use rand::Rng;

use crate::hash_placement::HashPlacement;
use crate::{EndpointSet, Error, Picker, Result};

/// Sends every request with the same key to the same endpoint, through a consistent-hash ring
/// with virtual nodes (ha-shard's [`HashRing`], points in proportion to weight), so that a
/// membership change moves only the keys of the endpoints that came or went.
///
/// A key whose endpoint is unavailable (unhealthy, draining) goes to the next available endpoint
/// clockwise on the ring, and back when its endpoint recovers; health changes do not rebuild the
/// ring, membership and weight changes do (on the next pick). Slow start does not apply: a key's
/// home must not move as a ramp progresses. Picks without a key are refused with
/// [`Error::KeyRequired`].
///
/// ```
/// use std::time::Instant;
/// use ha_balance::{Balancer, ConsistentHash, Endpoint, EndpointSet};
/// use ha_core::{Health, NodeId};
/// use rand::{SeedableRng, rngs::StdRng};
///
/// let ids = ["a", "b", "c"].map(NodeId::new).into_iter().collect::<Result<Vec<_>, _>>()?;
/// let set = EndpointSet::new(ids.into_iter().map(Endpoint::new).collect(), Default::default())?;
/// let mut lb = Balancer::new(set, ConsistentHash::new(Default::default())?);
/// let (now, mut rng) = (Instant::now(), StdRng::seed_from_u64(1));
/// let home = lb.pick_key(b"user:42", now, &mut rng)?;
/// assert_eq!(lb.pick_key(b"user:42", now, &mut rng)?, home);
/// lb.endpoints_mut().set_health(home.as_str(), Health::Unhealthy, now)?;
/// assert_ne!(lb.pick_key(b"user:42", now, &mut rng)?, home);
/// lb.endpoints_mut().set_health(home.as_str(), Health::Healthy, now)?;
/// assert_eq!(lb.pick_key(b"user:42", now, &mut rng)?, home);
/// assert!(lb.pick(now, &mut rng).is_err()); // no key
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ConsistentHash {
    config: RingConfig,
    placement: HashPlacement<HashRing>,
}

impl ConsistentHash {
    /// A picker whose ring is built with `config`.
    ///
    /// # Errors
    /// An invalid ring config, as [`Error::Placement`].
    pub fn new(config: RingConfig) -> Result<ConsistentHash> {
        config.validate()?;
        Ok(ConsistentHash {
            config,
            placement: HashPlacement::default(),
        })
    }
}

impl Picker for ConsistentHash {
    fn name(&self) -> &'static str {
        "consistent hash"
    }

    fn pick<R: Rng + ?Sized>(
        &mut self,
        endpoints: &EndpointSet,
        key: Option<&[u8]>,
        _now: Instant,
        _rng: &mut R,
    ) -> Result<usize> {
        let key = key.ok_or(Error::KeyRequired {
            picker: "consistent hash",
        })?;
        let config = self.config;
        self.placement
            .pick(endpoints, key, |nodes| Ok(HashRing::new(nodes, config)?))
    }
}
