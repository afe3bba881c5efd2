//! Hit ratios of ha-cache beside exact LRU, moka, quick_cache and Belady's OPT (the ceiling),
//! on synthetic Zipf and loop/scan traces and the ARC paper's OLTP and P3 traces, at cache
//! sizes of 0.1%, 1% and 10% of the distinct keys. Cold start, fill on miss.
//!
//! Run: `cargo run --release --example cache_hit_ratio [path/to/cache-traces]` (env `HA_ONLY=1`:
//! only ha-cache's column, for tuning runs) — the traces
//! directory defaults to `../shared/data/cache-traces` (its README cites the ARC paper:
//! Megiddo and Modha, "ARC: A Self-Tuning, Low Overhead Replacement Cache", FAST 2003).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeSet, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Zipf};

/// A cache under test: `access` returns whether the key was a hit, filling on a miss.
trait Policy {
    fn access(&mut self, key: u64) -> bool;
}

struct Ha(ha::cache::Cache<u64, ()>);
impl Policy for Ha {
    fn access(&mut self, key: u64) -> bool {
        let hit = self.0.get(&key).is_some();
        if !hit {
            self.0.insert(key, ());
        }
        hit
    }
}

struct Moka(moka::sync::Cache<u64, ()>);
impl Policy for Moka {
    fn access(&mut self, key: u64) -> bool {
        let hit = self.0.get(&key).is_some();
        if !hit {
            self.0.insert(key, ());
        }
        hit
    }
}

struct Quick(quick_cache::sync::Cache<u64, ()>);
impl Policy for Quick {
    fn access(&mut self, key: u64) -> bool {
        let hit = self.0.get(&key).is_some();
        if !hit {
            self.0.insert(key, ());
        }
        hit
    }
}

/// Exact LRU: last-use stamps, the oldest stamp evicted.
struct Lru {
    capacity: usize,
    clock: u64,
    stamps: HashMap<u64, u64>,
    order: BTreeSet<(u64, u64)>,
}

impl Lru {
    fn new(capacity: usize) -> Lru {
        Lru {
            capacity,
            clock: 0,
            stamps: HashMap::new(),
            order: BTreeSet::new(),
        }
    }
}

impl Policy for Lru {
    fn access(&mut self, key: u64) -> bool {
        self.clock += 1;
        let hit = match self.stamps.insert(key, self.clock) {
            Some(old) => {
                self.order.remove(&(old, key));
                true
            }
            None => false,
        };
        self.order.insert((self.clock, key));
        if self.stamps.len() > self.capacity {
            let (_, victim) = self.order.pop_first().unwrap();
            self.stamps.remove(&victim);
        }
        hit
    }
}

/// Belady's OPT: on a miss with a full cache, evict the key used again furthest in the future.
fn opt_hit_ratio(trace: &[u64], capacity: usize) -> f64 {
    let mut next_use = vec![u64::MAX; trace.len()];
    let mut seen: HashMap<u64, u64> = HashMap::new();
    for (i, &key) in trace.iter().enumerate().rev() {
        if let Some(&n) = seen.get(&key) {
            next_use[i] = n;
        }
        seen.insert(key, i as u64);
    }
    let mut resident: HashMap<u64, u64> = HashMap::new();
    let mut by_next: BTreeSet<(u64, u64)> = BTreeSet::new();
    let mut hits = 0u64;
    for (i, &key) in trace.iter().enumerate() {
        if let Some(n) = resident.remove(&key) {
            by_next.remove(&(n, key));
            hits += 1;
        } else if resident.len() >= capacity {
            let (_, victim) = by_next.pop_last().unwrap();
            resident.remove(&victim);
        }
        resident.insert(key, next_use[i]);
        by_next.insert((next_use[i], key));
    }
    hits as f64 / trace.len() as f64
}

fn hit_ratio(policy: &mut dyn Policy, trace: &[u64]) -> f64 {
    let hits = trace.iter().filter(|&&key| policy.access(key)).count();
    hits as f64 / trace.len() as f64
}

fn zipf_trace(alpha: f64, keys: u64, len: usize) -> Vec<u64> {
    let zipf = Zipf::new(keys as f64, alpha).unwrap();
    let mut rng = SmallRng::seed_from_u64(42);
    (0..len).map(|_| zipf.sample(&mut rng) as u64).collect()
}

/// A Zipf(0.9) hot set interleaved with loops over a range a little larger than a small cache
/// and one-off sequential scans: recency, frequency and scan resistance all matter.
fn loop_scan_trace(len: usize) -> Vec<u64> {
    let zipf = Zipf::new(50_000.0, 0.9).unwrap();
    let mut rng = SmallRng::seed_from_u64(7);
    let mut out = Vec::with_capacity(len);
    let (mut loop_at, mut scan_at) = (0u64, 0u64);
    while out.len() < len {
        match (out.len() / 50_000) % 3 {
            // Phase 1: skewed key-value traffic.
            0 => out.push(zipf.sample(&mut rng) as u64),
            // Phase 2: a loop of 2,000 keys, mixed 1:1 with the hot set.
            1 => {
                if rng.random_bool(0.5) {
                    out.push(1_000_000 + loop_at % 2_000);
                    loop_at += 1;
                } else {
                    out.push(zipf.sample(&mut rng) as u64);
                }
            }
            // Phase 3: a scan of never-repeated keys, mixed 1:1 with the hot set.
            _ => {
                if rng.random_bool(0.5) {
                    out.push(10_000_000 + scan_at);
                    scan_at += 1;
                } else {
                    out.push(zipf.sample(&mut rng) as u64);
                }
            }
        }
    }
    out
}

/// Reads an ARC trace: lines `start count _ _`, each touching pages `start..start + count`.
fn arc_trace(path: &Path) -> Option<Vec<u64>> {
    let file = std::fs::File::open(path).ok()?;
    let mut decoder =
        ruzstd::decoding::StreamingDecoder::new(std::io::BufReader::new(file)).ok()?;
    let mut text = String::new();
    decoder.read_to_string(&mut text).ok()?;
    let mut out = Vec::new();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let start: u64 = fields.next()?.parse().ok()?;
        let count: u64 = fields.next()?.parse().ok()?;
        out.extend(start..start + count);
    }
    Some(out)
}

fn report(name: &str, trace: &[u64]) {
    let distinct = trace.iter().collect::<std::collections::HashSet<_>>().len();
    println!(
        "\n{name}: {} accesses, {distinct} distinct keys",
        trace.len()
    );
    println!("| size | ha-cache | LRU | moka | quick_cache | OPT |");
    println!("|---:|---:|---:|---:|---:|---:|");
    for percent in [0.1, 1.0, 10.0] {
        let capacity = ((distinct as f64 * percent / 100.0) as usize).max(16);
        let ours = hit_ratio(
            &mut Ha(ha::cache::Cache::builder(capacity as u64).build().unwrap()),
            trace,
        );
        if std::env::var_os("HA_ONLY").is_some() {
            // Tuning runs: the peers' columns do not change, so skip them.
            println!("| {percent}% ({capacity}) | {ours:.4} | | | | |");
            continue;
        }
        let lru = hit_ratio(&mut Lru::new(capacity), trace);
        let moka = hit_ratio(&mut Moka(moka::sync::Cache::new(capacity as u64)), trace);
        let quick = hit_ratio(&mut Quick(quick_cache::sync::Cache::new(capacity)), trace);
        let opt = opt_hit_ratio(trace, capacity);
        println!(
            "| {percent}% ({capacity}) | {ours:.4} | {lru:.4} | {moka:.4} | {quick:.4} | {opt:.4} |"
        );
    }
}

fn main() {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../shared/data/cache-traces"));
    for alpha in [0.6, 0.8, 1.0] {
        report(
            &format!("Zipf {alpha} over 100,000 keys"),
            &zipf_trace(alpha, 100_000, 2_000_000),
        );
    }
    report("loop/scan mix", &loop_scan_trace(1_500_000));
    for name in ["OLTP", "P3"] {
        match arc_trace(&dir.join(format!("{name}.lis.zst"))) {
            Some(trace) => report(&format!("ARC trace {name}"), &trace),
            None => println!(
                "\n{name}: trace not found or unreadable under {}",
                dir.display()
            ),
        }
    }
}
