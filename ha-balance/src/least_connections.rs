//! Least connections: the endpoint with the fewest requests in flight for its weight.

use std::time::Instant;

use rand::Rng;

use crate::{EndpointSet, Picker, Result};

/// Picks the available endpoint with the least load, where load is `(in_flight + 1) / weight`
/// — the in-flight requests it would have with this one, per unit of effective weight (as
/// HAProxy's and nginx's weighted `leastconn`). Ties go round robin: the scan starts one
/// endpoint later on every pick and the first least-loaded endpoint wins. `O(n)` a pick, no
/// randomness.
///
/// In-flight counts come from [`Balancer::on_start`](crate::Balancer::on_start) and
/// [`Balancer::on_complete`](crate::Balancer::on_complete).
#[derive(Debug, Clone, Default)]
pub struct LeastConnections {
    offset: usize,
}

impl Picker for LeastConnections {
    fn name(&self) -> &'static str {
        "least connections"
    }

    fn pick<R: Rng + ?Sized>(
        &mut self,
        endpoints: &EndpointSet,
        _key: Option<&[u8]>,
        now: Instant,
        _rng: &mut R,
    ) -> Result<usize> {
        let available = endpoints.available_indices();
        if available.is_empty() {
            return Err(endpoints.none_available());
        }
        let start = self.offset % available.len();
        self.offset = start + 1;
        let hot = endpoints.hot();
        let ramping = endpoints.ramping(now);
        let mut best: Option<(usize, u64, u64)> = None;
        for &i in available[start..].iter().chain(&available[..start]) {
            let load = u64::from(hot[i].in_flight) + 1;
            let weight = u64::from(if ramping {
                endpoints.weight_at(i, now)
            } else {
                hot[i].weight
            });
            // load / weight < best_load / best_weight, in integers (each product < 2⁶⁴).
            if best.is_none_or(|(_, bl, bw)| load * bw < bl * weight) {
                best = Some((i, load, weight));
            }
        }
        best.map(|(i, _, _)| i)
            .ok_or_else(|| endpoints.none_available())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::weighted_set;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn the_least_loaded_per_weight_wins_and_ties_rotate() {
        let mut set = weighted_set(&[1, 1, 2]);
        let now = Instant::now();
        let mut rng = StdRng::seed_from_u64(0);
        let mut lc = LeastConnections::default();
        // All idle: e2 (weight 2) has load 1/2, the others 1.
        assert_eq!(lc.pick(&set, None, now, &mut rng).unwrap(), 2);
        set.on_start("e2").unwrap();
        // e2: 2/2 = 1, a three-way tie: the scan start rotates.
        let picks: Vec<usize> = (0..3)
            .map(|_| lc.pick(&set, None, now, &mut rng).unwrap())
            .collect();
        let mut sorted = picks.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, vec![0, 1, 2], "{picks:?}");
        set.on_start("e0").unwrap();
        set.on_start("e2").unwrap();
        // e0: 2, e1: 1, e2: 3/2.
        assert_eq!(lc.pick(&set, None, now, &mut rng).unwrap(), 1);
    }
}
