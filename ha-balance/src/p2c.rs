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
        let load = |i: usize| {
            (
                u64::from(slots[i].in_flight) + 1,
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
