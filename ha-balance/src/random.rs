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
