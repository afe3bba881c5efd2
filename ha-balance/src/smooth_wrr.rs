//! Smooth weighted round robin, exactly as nginx's upstream module does it
//! (`ngx_http_upstream_get_peer` in `ngx_http_upstream_round_robin.c`).

use std::time::Instant;

use rand::Rng;

use crate::picker::PerEndpoint;
use crate::{EndpointSet, Picker, Result};

/// Weighted round robin that spreads each endpoint's turns evenly through the cycle.
///
/// Each endpoint keeps a current weight. On every pick, every available endpoint's current weight
/// grows by its (effective) weight; the endpoint with the highest current weight is picked — the
/// first in the set's order on a tie — and its current weight drops by the sum of the weights.
/// Over one cycle of `Σ weights` picks each endpoint is picked exactly `weight` times, and turns
/// are interleaved: weights 5, 1, 1 give `a a b a c a a`, where plain weighted round robin gives
/// `a a a a a b c`. `O(n)` a pick.
///
/// Unlike nginx, a failed request does not lower the endpoint's effective weight here: passive
/// health belongs to outlier detection. Slow start lowers the effective weight while an endpoint
/// ramps up.
#[derive(Debug, Clone, Default)]
pub struct SmoothWeightedRoundRobin {
    current: PerEndpoint<i64>,
}

impl Picker for SmoothWeightedRoundRobin {
    fn name(&self) -> &'static str {
        "smooth weighted round robin"
    }

    fn pick<R: Rng + ?Sized>(
        &mut self,
        endpoints: &EndpointSet,
        _key: Option<&[u8]>,
        now: Instant,
        _rng: &mut R,
    ) -> Result<usize> {
        self.current.sync(endpoints, || 0);
        let current = self.current.values_mut();
        let hot = endpoints.hot();
        let ramping = endpoints.ramping(now);
        let mut total: i64 = 0;
        let mut best: Option<(usize, i64)> = None;
        for &i in endpoints.available_indices() {
            let weight = i64::from(if ramping {
                endpoints.weight_at(i, now)
            } else {
                hot[i].weight
            });
            let value = current[i] + weight;
            current[i] = value;
            total += weight;
            if best.is_none_or(|(_, top)| value > top) {
                best = Some((i, value));
            }
        }
        let (best, _) = best.ok_or_else(|| endpoints.none_available())?;
        current[best] -= total;
        Ok(best)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Balancer, Endpoint, EndpointSetConfig};
    use ha_core::NodeId;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn sequence(weights: &[(&str, u32)], picks: usize) -> String {
        let endpoints = weights
            .iter()
            .map(|&(id, w)| Endpoint::new(NodeId::new(id).unwrap()).with_weight(w))
            .collect();
        let set = EndpointSet::new(endpoints, EndpointSetConfig::default()).unwrap();
        let mut lb = Balancer::new(set, SmoothWeightedRoundRobin::default());
        let mut rng = StdRng::seed_from_u64(0);
        let now = Instant::now();
        (0..picks)
            .map(|_| lb.pick(now, &mut rng).unwrap().to_string())
            .collect()
    }

    #[test]
    fn weights_5_1_1_give_nginx_sequence() {
        assert_eq!(
            sequence(&[("a", 5), ("b", 1), ("c", 1)], 14),
            "aabacaaaabacaa"
        );
    }

    #[test]
    fn weights_4_2_1_interleave() {
        // nginx: current weights start at 0, ties to the first.
        assert_eq!(sequence(&[("a", 4), ("b", 2), ("c", 1)], 7), "abacaba");
    }

    #[test]
    fn zero_weight_endpoints_are_skipped() {
        assert_eq!(sequence(&[("a", 0), ("b", 1), ("c", 1)], 4), "bcbc");
    }
}
