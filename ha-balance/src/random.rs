//! Random picks: uniform, and weighted by effective weight.

use std::time::Instant;

use rand::Rng;

use crate::{EndpointSet, Picker, Result};

/// Picks an available endpoint uniformly at random, ignoring weights; `O(1)`.
#[derive(Debug, Clone, Default)]
pub struct Random;

impl Picker for Random {
    fn name(&self) -> &'static str {
        "random"
    }

    fn pick<R: Rng + ?Sized>(
        &mut self,
        endpoints: &EndpointSet,
        _key: Option<&[u8]>,
        _now: Instant,
        rng: &mut R,
    ) -> Result<usize> {
        let available = endpoints.available_indices();
        if available.is_empty() {
            return Err(endpoints.none_available());
        }
        Ok(available[rng.random_range(0..available.len())])
    }
}

/// Picks an available endpoint at random with probability proportional to its effective weight.
///
/// The cumulative weights are kept between changes to the set, so a pick is one random number
/// and a binary search, `O(log n)`; while some endpoint ramps up in slow start the weights
/// change with time and are summed afresh on each pick, `O(n)`.
#[derive(Debug, Clone, Default)]
pub struct WeightedRandom {
    /// The set version the cumulative weights belong to, if they are current.
    version: Option<u64>,
    cumulative: Vec<u64>,
}

impl Picker for WeightedRandom {
    fn name(&self) -> &'static str {
        "weighted random"
    }

    fn pick<R: Rng + ?Sized>(
        &mut self,
        endpoints: &EndpointSet,
        _key: Option<&[u8]>,
        now: Instant,
        rng: &mut R,
    ) -> Result<usize> {
        let available = endpoints.available_indices();
        let ramping = endpoints.ramping(now);
        if ramping || self.version != Some(endpoints.version()) {
            self.cumulative.clear();
            let mut sum = 0u64;
            for &i in available {
                sum += u64::from(endpoints.weight_at(i, now));
                self.cumulative.push(sum);
            }
            self.version = (!ramping).then_some(endpoints.version());
        }
        let total = self.cumulative.last().copied().unwrap_or(0);
        if total == 0 {
            return Err(endpoints.none_available());
        }
        let draw = rng.random_range(0..total);
        let position = self.cumulative.partition_point(|&c| c <= draw);
        available
            .get(position)
            .copied()
            .ok_or_else(|| endpoints.none_available())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::weighted_set;
    use ha_core::Health;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn counts<P: Picker>(picker: &mut P, set: &EndpointSet, picks: usize) -> Vec<usize> {
        let mut rng = StdRng::seed_from_u64(3);
        let now = Instant::now();
        let mut counts = vec![0; set.len()];
        for _ in 0..picks {
            counts[picker.pick(set, None, now, &mut rng).unwrap()] += 1;
        }
        counts
    }

    #[test]
    fn random_is_uniform_and_skips_unavailable() {
        let mut set = weighted_set(&[1, 5, 1, 1]);
        set.set_health("e2", Health::Unhealthy, Instant::now())
            .unwrap();
        let c = counts(&mut Random, &set, 30_000);
        assert_eq!(c[2], 0);
        for i in [0, 1, 3] {
            assert!((9_000..11_000).contains(&c[i]), "{c:?}");
        }
    }

    #[test]
    fn weighted_random_follows_weights_and_refreshes_on_change() {
        let mut set = weighted_set(&[1, 3, 0, 6]);
        let mut picker = WeightedRandom::default();
        let c = counts(&mut picker, &set, 50_000);
        assert_eq!(c[2], 0);
        assert!((4_000..6_000).contains(&c[0]), "{c:?}");
        assert!((13_500..16_500).contains(&c[1]), "{c:?}");
        assert!((28_000..32_000).contains(&c[3]), "{c:?}");
        set.set_weight("e3", 0).unwrap();
        let c = counts(&mut picker, &set, 4_000);
        assert_eq!((c[2], c[3]), (0, 0));
        set.set_weight("e0", 0).unwrap();
        set.set_weight("e1", 0).unwrap();
        let mut rng = StdRng::seed_from_u64(0);
        assert!(matches!(
            picker.pick(&set, None, Instant::now(), &mut rng),
            Err(crate::Error::NoEndpointAvailable { zero_weight: 4, .. })
        ));
    }
}
