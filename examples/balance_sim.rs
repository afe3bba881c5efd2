//! linkerd's "Beyond Round Robin: Load Balancing for Latency" experiment (2016), replayed on a
//! virtual clock against ha-balance's pickers.
//!
//! 11 backends answer in a normally distributed 167 ms (standard deviation 5 ms); a client sends
//! 1000 requests a second for 60 s, one every millisecond, with a 1 s timeout. From t = 15 s to
//! t = 45 s one backend answers in 2 s instead, so every request it takes times out. For each
//! picker the run reports the success rate and the latency quantiles the client saw (a timed-out
//! request counts as 1 s), and how many requests went to the slow backend while it was slow.
//!
//! The run is made twice, for two places the balancer may sit. In the client, a timed-out
//! request ends for the balancer at its timeout: `on_complete` with the 1 s the client waited and
//! a failure, as Finagle's and tower's balancers see a cancelled request. In a proxy between the
//! client and the backends, as in linkerd's experiment, the client gives up after 1 s but the
//! proxy hears the backend's answer when it comes, 2 s after the request. Backends have unbounded concurrency, so latency does not grow with load: what differs between
//! pickers is only how much traffic they keep sending to the slow backend.
//!
//! Deterministic: a fixed seed drives the latencies and the pickers' random choices, and time is
//! virtual (offsets from one instant), so every run prints the same figures.
//!
//! Run: `cargo run --release --example balance_sim`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use ha::balance::{
    Balancer, Endpoint, EndpointSet, LeastConnections, P2cLeastLoaded, P2cPeakEwma, Picker,
    RequestOutcome, RoundRobin,
};
use ha::core::NodeId;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, Normal};

const BACKENDS: usize = 11;
const RATE_PER_SEC: u64 = 1000;
const RUN: Duration = Duration::from_secs(60);
const SLOW_FROM: Duration = Duration::from_secs(15);
const SLOW_UNTIL: Duration = Duration::from_secs(45);
const SLOW_LATENCY: Duration = Duration::from_secs(2);
const TIMEOUT: Duration = Duration::from_secs(1);
const MEDIAN_MS: f64 = 167.0;
const SD_MS: f64 = 5.0;
const SEED: u64 = 2016;
/// The backend that slows down.
const SLOW: usize = 3;

/// What one run measured.
struct Report {
    requests: usize,
    succeeded: usize,
    /// Every request's latency as the client saw it, sorted.
    latencies: Vec<Duration>,
    to_slow_while_slow: usize,
}

impl Report {
    fn quantile(&self, q: f64) -> Duration {
        // Nearest rank.
        let rank = ((q * self.latencies.len() as f64).ceil() as usize).max(1);
        self.latencies[rank - 1]
    }
}

/// Where the balancer sits, which decides what it hears of a request that timed out.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Vantage {
    /// In the client: it gives up at the timeout and reports the 1 s it waited, as a failure.
    Client,
    /// In a proxy between client and backends (linkerd's setup): the client gives up at the
    /// timeout, but the proxy's request runs on and it hears the backend's full 2 s answer.
    Proxy,
}

/// A request the balancer has yet to hear back about.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Pending {
    done: Duration,
    seq: u64,
    backend: usize,
    observed: Duration,
    failed: bool,
}

fn simulate<P: Picker>(picker: P, vantage: Vantage) -> Report {
    let ids: Vec<NodeId> = (0..BACKENDS)
        .map(|i| NodeId::new(format!("backend-{i}")).unwrap())
        .collect();
    let set = EndpointSet::new(
        ids.iter().cloned().map(Endpoint::new).collect(),
        Default::default(),
    )
    .unwrap();
    let mut lb = Balancer::new(set, picker);
    let mut rng = StdRng::seed_from_u64(SEED);
    let normal = Normal::new(MEDIAN_MS, SD_MS).unwrap();
    let base = Instant::now();
    let step = Duration::from_nanos(1_000_000_000 / RATE_PER_SEC);
    let total = RUN.as_nanos() / step.as_nanos();

    let mut pending: BinaryHeap<Reverse<Pending>> = BinaryHeap::new();
    let mut latencies = Vec::with_capacity(total as usize);
    let mut succeeded = 0;
    let mut to_slow_while_slow = 0;
    let finish = |lb: &mut Balancer<P>, p: Pending| {
        let outcome = if p.failed {
            RequestOutcome::Failure
        } else {
            RequestOutcome::Success
        };
        lb.on_complete(ids[p.backend].as_str(), p.observed, outcome, base + p.done)
            .unwrap();
    };
    for seq in 0..total as u64 {
        let now = step * seq as u32;
        while pending.peek().is_some_and(|p| p.0.done <= now) {
            let Reverse(p) = pending.pop().unwrap();
            finish(&mut lb, p);
        }
        let id = lb.pick(base + now, &mut rng).unwrap();
        let backend = ids.iter().position(|i| *i == id).unwrap();
        lb.on_start(id.as_str(), base + now).unwrap();
        let slow = backend == SLOW && (SLOW_FROM..SLOW_UNTIL).contains(&now);
        to_slow_while_slow += usize::from(slow);
        let latency = if slow {
            SLOW_LATENCY
        } else {
            Duration::from_secs_f64(normal.sample(&mut rng).max(0.0) / 1000.0)
        };
        // The client's view: an answer within the timeout, or a failure after it.
        let ok = latency < TIMEOUT;
        succeeded += usize::from(ok);
        latencies.push(latency.min(TIMEOUT));
        // The balancer's view.
        let observed = match vantage {
            Vantage::Client => latency.min(TIMEOUT),
            Vantage::Proxy => latency,
        };
        pending.push(Reverse(Pending {
            done: now + observed,
            seq,
            backend,
            observed,
            failed: vantage == Vantage::Client && !ok,
        }));
    }
    while let Some(Reverse(p)) = pending.pop() {
        finish(&mut lb, p);
    }
    latencies.sort_unstable();
    Report {
        requests: latencies.len(),
        succeeded,
        latencies,
        to_slow_while_slow,
    }
}

fn main() {
    println!(
        "linkerd 'Beyond Round Robin': {BACKENDS} backends at {MEDIAN_MS} ms (sd {SD_MS} ms), \
         {RATE_PER_SEC} req/s for {} s, backend-{SLOW} at {} s from {} s to {} s, {} s timeout, seed {SEED}\n",
        RUN.as_secs(),
        SLOW_LATENCY.as_secs(),
        SLOW_FROM.as_secs(),
        SLOW_UNTIL.as_secs(),
        TIMEOUT.as_secs(),
    );
    for (vantage, title) in [
        (
            Vantage::Client,
            "balancer in the client: a timed-out request ends at the timeout",
        ),
        (
            Vantage::Proxy,
            "balancer in a proxy (linkerd's setup): it hears the backend's full answer",
        ),
    ] {
        report(vantage, title);
    }
}

fn report(vantage: Vantage, title: &str) {
    let runs = [
        ("round robin", simulate(RoundRobin::default(), vantage)),
        (
            "least connections",
            simulate(LeastConnections::default(), vantage),
        ),
        ("p2c least loaded", simulate(P2cLeastLoaded, vantage)),
        (
            "p2c peak-ewma",
            simulate(P2cPeakEwma::new(Default::default()).unwrap(), vantage),
        ),
    ];
    println!("{title}\n");
    println!("| picker | success | p50 | p95 | p99 | p99.9 | to the slow backend while slow |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (name, r) in &runs {
        let ms = |q: f64| r.quantile(q).as_secs_f64() * 1000.0;
        println!(
            "| {name} | {:.3}% | {:.0} ms | {:.0} ms | {:.0} ms | {:.0} ms | {} |",
            100.0 * r.succeeded as f64 / r.requests as f64,
            ms(0.5),
            ms(0.95),
            ms(0.99),
            ms(0.999),
            r.to_slow_while_slow,
        );
    }
    let rr_p99 = runs[0].1.quantile(0.99).as_secs_f64();
    let ewma = &runs[3].1;
    let success = ewma.succeeded as f64 / ewma.requests as f64;
    let ratio = ewma.quantile(0.99).as_secs_f64() / rr_p99;
    println!(
        "\ntargets: p2c peak-ewma success {:.3}% (target >= 99.9%: {}), p99 {:.2}x round robin's (target <= 0.5x: {})\n",
        100.0 * success,
        if success >= 0.999 { "met" } else { "NOT met" },
        ratio,
        if ratio <= 0.5 { "met" } else { "NOT met" },
    );
}
