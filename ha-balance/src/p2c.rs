//! Power of two choices by least load (Mitzenmacher, "The Power of Two Choices in Randomized
//! Load Balancing", 2001; tower's `p2c::Balance` over `PendingRequests`).

use std::time::Instant;

use rand::Rng;

use crate::{EndpointSet, Picker, Result};

/// Two distinct positions in `0..len` drawn uniformly, or the one position when `len` is 1.
pub(crate) fn sample_two<R: Rng + ?Sized>(len: usize, rng: &mut R) -> (usize, usize) {
    if len < 2 {
        return (0, 0);
    }
    let a = rng.random_range(0..len);
    let b = rng.random_range(0..len - 1);
    (a, if b >= a { b + 1 } else { b })
}

/// Draws two distinct available endpoints at random and picks the less loaded, where load is
/// `(in_flight + 1) / weight` as for [`LeastConnections`](crate::LeastConnections); the first
/// drawn wins a tie. `O(1)` a pick, and nearly as good as scanning for the least loaded, without
/// every client herding onto the same one.
#[derive(Debug, Clone, Default)]
pub struct P2cLeastLoaded;

impl P2cLeastLoaded {
    /// The chosen index and the other one sampled.
    pub(crate) fn choose<R: Rng + ?Sized>(
        endpoints: &EndpointSet,
        now: Instant,
        rng: &mut R,
    ) -> Result<(usize, usize)> {
        let available = endpoints.available_indices();
        if available.is_empty() {
            return Err(endpoints.none_available());
        }
        let (a, b) = sample_two(available.len(), rng);
        let (a, b) = (available[a], available[b]);
        let slots = endpoints.slots();
        let hot = endpoints.hot();
        let load = |i: usize| {
            (
                u64::from(hot[i].in_flight) + 1,
                u64::from(endpoints.weight_at(i, now)),
            )
        };
        let ((la, wa), (lb, wb)) = (load(a), load(b));
        let chosen = if lb * wa < la * wb { (b, a) } else { (a, b) };
        tracing::debug!(
            first = %slots[a].id, first_in_flight = la - 1, first_weight = wa,
            second = %slots[b].id, second_in_flight = lb - 1, second_weight = wb,
            chosen = %slots[chosen.0].id,
            "p2c least loaded"
        );
        Ok(chosen)
    }
}

impl Picker for P2cLeastLoaded {
    fn name(&self) -> &'static str {
        "p2c least loaded"
    }

    fn pick<R: Rng + ?Sized>(
        &mut self,
        endpoints: &EndpointSet,
        _key: Option<&[u8]>,
        now: Instant,
        rng: &mut R,
    ) -> Result<usize> {
        P2cLeastLoaded::choose(endpoints, now, rng).map(|(chosen, _)| chosen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::P2cPeakEwma;
    use crate::test_support::weighted_set;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use std::time::Duration;

    #[test]
    fn samples_are_distinct_and_cover_every_pair() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut seen = [[false; 4]; 4];
        for _ in 0..2_000 {
            let (a, b) = sample_two(4, &mut rng);
            assert_ne!(a, b);
            seen[a][b] = true;
        }
        for (a, row) in seen.iter().enumerate() {
            for (b, &hit) in row.iter().enumerate() {
                assert_eq!(hit, a != b);
            }
        }
        assert_eq!(sample_two(1, &mut rng), (0, 0));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn p2c_least_loaded_never_picks_the_worse_of_its_two_samples(
            weights in prop::collection::vec(1u32..5, 1..12),
            starts in prop::collection::vec(0usize..12, 0..60),
            seed in any::<u64>(),
        ) {
            let mut set = weighted_set(&weights);
            for s in starts {
                let id = format!("e{}", s % weights.len());
                set.on_start(&id).unwrap();
            }
            let now = Instant::now();
            let mut rng = StdRng::seed_from_u64(seed);
            for _ in 0..20 {
                let (chosen, other) = P2cLeastLoaded::choose(&set, now, &mut rng).unwrap();
                let load = |i: usize| {
                    (f64::from(set.in_flight_at(i).unwrap()) + 1.0)
                        / f64::from(set.effective_weight_at(i, now).unwrap())
                };
                prop_assert!(load(chosen) <= load(other));
                if weights.len() > 1 {
                    prop_assert_ne!(chosen, other);
                }
                let id = set.id_at(chosen).unwrap().to_string();
                set.on_start(&id).unwrap();
            }
        }

        #[test]
        fn p2c_peak_ewma_never_picks_the_worse_of_its_two_samples(
            latencies_ms in prop::collection::vec(prop::option::of(1u64..2_000), 2..12),
            pending in prop::collection::vec(0u32..4, 12),
            seed in any::<u64>(),
        ) {
            let weights = vec![1; latencies_ms.len()];
            let mut set = weighted_set(&weights);
            let mut picker = P2cPeakEwma::new(Default::default()).unwrap();
            let t = Instant::now();
            for (i, latency) in latencies_ms.iter().enumerate() {
                let id = format!("e{i}");
                for _ in 0..pending[i] {
                    set.on_start(&id).unwrap();
                }
                if let Some(ms) = latency {
                    picker.on_complete(&set, i, Duration::from_millis(*ms), crate::RequestOutcome::Success, t);
                }
            }
            let mut rng = StdRng::seed_from_u64(seed);
            for step in 0..20u64 {
                let now = t + Duration::from_millis(step * 50);
                let ((_, chosen_load), (_, other_load)) = picker.choose(&set, now, &mut rng).unwrap();
                prop_assert!(chosen_load <= other_load);
            }
        }
    }
}
