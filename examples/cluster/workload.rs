//! The built-in clients: workers issuing Zipf-distributed GETs and SETs at a target rate.
//!
//! Each worker owns its own keys (`key:<rank * workers + worker>`) and writes them one at a
//! time, so the last acknowledged value of every key is known exactly: that is what the
//! verification pass reads back.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Zipf};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::coordinator::Coordinator;

#[derive(Debug, Clone, Copy)]
pub(crate) struct WorkloadConfig {
    pub(crate) workers: usize,
    pub(crate) keys: u64,
    pub(crate) zipf_exponent: f64,
    pub(crate) write_ratio: f64,
    pub(crate) seed: u64,
}

/// The target rate, shared so the script can change it (load doubles).
#[derive(Debug)]
pub(crate) struct Rate(AtomicU64);

impl Rate {
    pub(crate) fn new(ops_per_second: f64) -> Rate {
        Rate(AtomicU64::new(ops_per_second.to_bits()))
    }
    pub(crate) fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }
    pub(crate) fn set(&self, ops_per_second: f64) {
        self.0.store(ops_per_second.to_bits(), Ordering::Relaxed);
    }
}

/// A key's last acknowledged value (`None`: deleted) and the writes tried after it that were
/// not acknowledged — one of those may have landed, which is not a loss.
#[derive(Debug, Clone, Default)]
pub(crate) struct Expect {
    pub(crate) value: Option<Vec<u8>>,
    pub(crate) unacknowledged_after: Vec<Option<Vec<u8>>>,
}

/// The writes each worker had acknowledged, by key.
pub(crate) type Acknowledged = HashMap<Vec<u8>, Expect>;

pub(crate) fn key_name(rank: u64, worker: usize, workers: usize) -> Vec<u8> {
    format!("key:{}", rank * workers as u64 + worker as u64).into_bytes()
}

pub(crate) fn start(
    coordinator: Arc<Coordinator>,
    config: WorkloadConfig,
    rate: Arc<Rate>,
    stop: watch::Receiver<bool>,
) -> Result<Vec<JoinHandle<Acknowledged>>, rand_distr::ZipfError> {
    let per_worker = (config.keys / config.workers.max(1) as u64).max(1);
    let zipf = Zipf::new(per_worker as f64, config.zipf_exponent)?;
    Ok((0..config.workers)
        .map(|w| {
            let (coordinator, rate, stop) =
                (Arc::clone(&coordinator), Arc::clone(&rate), stop.clone());
            tokio::spawn(worker(coordinator, config, zipf, w, rate, stop))
        })
        .collect())
}

async fn worker(
    coordinator: Arc<Coordinator>,
    config: WorkloadConfig,
    zipf: Zipf<f64>,
    me: usize,
    rate: Arc<Rate>,
    stop: watch::Receiver<bool>,
) -> Acknowledged {
    let mut rng = StdRng::seed_from_u64(config.seed.wrapping_add(me as u64));
    let client = format!("worker-{me}");
    let mut acked = Acknowledged::new();
    let mut seq = 0u64;
    let mut next = Instant::now();
    while !*stop.borrow() {
        let per_worker_rate = (rate.get() / config.workers as f64).max(0.1);
        next += Duration::from_secs_f64(1.0 / per_worker_rate);
        let now = Instant::now();
        if next > now {
            tokio::time::sleep(next - now).await;
        } else if now - next > Duration::from_millis(200) {
            next = now; // behind: do not burst to catch up
        }
        let rank = zipf.sample(&mut rng) as u64 - 1;
        let key = key_name(rank, me, config.workers);
        let start = Instant::now();
        let outcome = match coordinator.admit(&client) {
            Err(cause) => Err(cause),
            Ok(()) if rng.random_bool(config.write_ratio) => {
                seq += 1;
                let value = rng
                    .random_bool(0.02)
                    .then_some(())
                    .map_or_else(|| Some(format!("{me}:{seq}").into_bytes()), |()| None);
                let done = coordinator.write(key.clone(), value.clone()).await;
                if done.is_ok() {
                    acked.insert(
                        key,
                        Expect {
                            value,
                            unacknowledged_after: Vec::new(),
                        },
                    );
                } else if let Some(e) = acked.get_mut(&key) {
                    e.unacknowledged_after.push(value);
                }
                done
            }
            Ok(()) => coordinator.read(&key).await.map(|_| ()),
        };
        coordinator.metrics.record(outcome, start.elapsed());
    }
    acked
}
