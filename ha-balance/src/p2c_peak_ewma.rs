//! Power of two choices by peak-EWMA latency × (pending + 1), as Finagle's `P2CPeakEwma` and
//! tower's `p2c::Balance` over `PeakEwma` pick.

use std::time::{Duration, Instant};

use rand::Rng;

use crate::p2c::sample_two;
use crate::picker::PerEndpoint;
use crate::{EndpointSet, PeakEwma, PeakEwmaConfig, Picker, RequestOutcome, Result};

/// Draws two distinct available endpoints at random and picks the one whose
/// [`PeakEwma`] load — latency estimate × (in-flight + 1) — divided by its effective weight is
/// lower; the first drawn wins a tie. Slow endpoints are avoided within one request of the
/// spike and win back traffic only as their estimate decays (see [`peak_ewma`](crate::peak_ewma)
/// for the estimate and the treatment of new endpoints). Latencies come from
/// [`Balancer::on_complete`](crate::Balancer::on_complete), failures included: a timeout
/// reported with its latency counts as a slow answer.
///
/// Here the estimates only decay at the instants the picker reads them (every pick that samples
/// the endpoint, every completion) — exactly as in Finagle and tower, where reads decay too —
/// with `now` passed in instead of read from a clock.
///
/// ```
/// use std::time::{Duration, Instant};
/// use ha_balance::{Balancer, Endpoint, EndpointSet, P2cPeakEwma, RequestOutcome};
/// use ha_core::NodeId;
/// use rand::{SeedableRng, rngs::StdRng};
///
/// let ids = ["fast", "slow"].map(NodeId::new).into_iter().collect::<Result<Vec<_>, _>>()?;
/// let set = EndpointSet::new(ids.into_iter().map(Endpoint::new).collect(), Default::default())?;
/// let mut lb = Balancer::new(set, P2cPeakEwma::new(Default::default())?);
/// let (now, mut rng) = (Instant::now(), StdRng::seed_from_u64(1));
/// lb.on_start("fast", now)?;
/// lb.on_complete("fast", Duration::from_millis(5), RequestOutcome::Success, now)?;
/// lb.on_start("slow", now)?;
/// lb.on_complete("slow", Duration::from_secs(2), RequestOutcome::Failure, now)?;
/// for _ in 0..10 {
///     assert_eq!(lb.pick(now, &mut rng)?.as_str(), "fast");
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct P2cPeakEwma {
    config: PeakEwmaConfig,
    estimates: PerEndpoint<PeakEwma>,
}

impl P2cPeakEwma {
    /// A picker with `config`.
    ///
    /// # Errors
    /// An invalid config; see [`PeakEwmaConfig::validate`].
    pub fn new(config: PeakEwmaConfig) -> Result<P2cPeakEwma> {
        config.validate()?;
        Ok(P2cPeakEwma {
            config,
            estimates: PerEndpoint::default(),
        })
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &PeakEwmaConfig {
        &self.config
    }

    /// The latency estimate of the endpoint at `index`, in nanoseconds, as of its last update.
    #[must_use]
    pub fn estimate_ns(&self, index: usize) -> Option<f64> {
        self.estimates
            .values()
            .get(index)
            .map(PeakEwma::estimate_ns)
    }

    /// The chosen index and the other one sampled, with their weighted loads.
    pub(crate) fn choose<R: Rng + ?Sized>(
        &mut self,
        endpoints: &EndpointSet,
        now: Instant,
        rng: &mut R,
    ) -> Result<((usize, f64), (usize, f64))> {
        let config = self.config;
        self.estimates
            .sync(endpoints, || PeakEwma::new(&config, now));
        let available = endpoints.available_indices();
        if available.is_empty() {
            return Err(endpoints.none_available());
        }
        let (a, b) = sample_two(available.len(), rng);
        let (a, b) = (available[a], available[b]);
        let slots = endpoints.slots();
        let hot = endpoints.hot();
        let estimates = self.estimates.values_mut();
        let mut load = |i: usize| {
            estimates[i].load(hot[i].in_flight, now, &config)
                / f64::from(endpoints.weight_at(i, now))
        };
        let (la, lb) = (load(a), load(b));
        let chosen = if lb < la {
            ((b, lb), (a, la))
        } else {
            ((a, la), (b, lb))
        };
        tracing::debug!(
            first = %slots[a].id, first_load_ns = la, first_in_flight = hot[a].in_flight,
            second = %slots[b].id, second_load_ns = lb, second_in_flight = hot[b].in_flight,
            chosen = %slots[chosen.0.0].id,
            "p2c peak-ewma"
        );
        Ok(chosen)
    }
}

impl Picker for P2cPeakEwma {
    fn name(&self) -> &'static str {
        "p2c peak-ewma"
    }

    fn pick<R: Rng + ?Sized>(
        &mut self,
        endpoints: &EndpointSet,
        _key: Option<&[u8]>,
        now: Instant,
        rng: &mut R,
    ) -> Result<usize> {
        self.choose(endpoints, now, rng)
            .map(|((chosen, _), _)| chosen)
    }

    fn on_complete(
        &mut self,
        endpoints: &EndpointSet,
        index: usize,
        latency: Duration,
        _outcome: RequestOutcome,
        now: Instant,
    ) {
        let config = self.config;
        self.estimates
            .sync(endpoints, || PeakEwma::new(&config, now));
        if let Some(estimate) = self.estimates.values_mut().get_mut(index) {
            estimate.observe(latency, now, &config);
        }
    }
}
