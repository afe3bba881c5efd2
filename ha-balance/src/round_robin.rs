//! Round robin: each available endpoint in turn, weights ignored.

use std::time::Instant;

use rand::Rng;

use crate::{EndpointSet, Picker, Result};

/// Takes the available endpoints in the set's order, one after the other, ignoring weights (see
/// [`SmoothWeightedRoundRobin`](crate::SmoothWeightedRoundRobin) for weights). When endpoints
/// become unavailable the turn moves on among the rest; `O(1)` a pick.
///
/// ```
/// use std::time::Instant;
/// use ha_balance::{Balancer, Endpoint, EndpointSet, RoundRobin};
/// use ha_core::NodeId;
/// use rand::{SeedableRng, rngs::StdRng};
///
/// let ids = ["a", "b", "c"].map(NodeId::new).into_iter().collect::<Result<Vec<_>, _>>()?;
/// let set = EndpointSet::new(ids.into_iter().map(Endpoint::new).collect(), Default::default())?;
/// let mut lb = Balancer::new(set, RoundRobin::default());
/// let (now, mut rng) = (Instant::now(), StdRng::seed_from_u64(1));
/// let picks: Vec<_> = (0..4).map(|_| lb.pick(now, &mut rng)).collect::<Result<_, _>>()?;
/// assert_eq!(picks.iter().map(|id| id.as_str()).collect::<String>(), "abca");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct RoundRobin {
    next: usize,
}

impl Picker for RoundRobin {
    fn name(&self) -> &'static str {
        "round robin"
    }

    fn pick<R: Rng + ?Sized>(
        &mut self,
        endpoints: &EndpointSet,
        _key: Option<&[u8]>,
        _now: Instant,
        _rng: &mut R,
    ) -> Result<usize> {
        let available = endpoints.available_indices();
        if available.is_empty() {
            return Err(endpoints.none_available());
        }
        let position = self.next % available.len();
        self.next = position + 1;
        Ok(available[position])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Balancer;
    use crate::test_support::weighted_set;
    use ha_core::Health;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn the_turn_moves_on_among_the_available_and_weights_are_ignored() {
        let mut lb = Balancer::new(weighted_set(&[5, 1, 1, 1]), RoundRobin::default());
        let mut rng = StdRng::seed_from_u64(0);
        let now = Instant::now();
        let mut picks = |lb: &mut Balancer<RoundRobin>, n: usize| {
            (0..n)
                .map(|_| lb.pick(now, &mut rng).unwrap().to_string())
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(picks(&mut lb, 5), "e0 e1 e2 e3 e0");
        lb.endpoints_mut()
            .set_health("e2", Health::Unhealthy, now)
            .unwrap();
        assert_eq!(picks(&mut lb, 4), "e1 e3 e0 e1");
    }
}
