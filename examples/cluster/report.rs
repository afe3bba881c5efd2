//! What the run measured, per phase, and the final report (text, or one JSON line).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use ha::core::{QuantileSketch, QuantileSketchConfig};
use parking_lot::Mutex;
use serde_json::{Value, json};

/// Why an operation failed, as counted in the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Cause {
    /// Too few replicas answered (quorum not reached).
    Unavailable,
    /// The quorum was not reached before the deadline.
    Timeout,
    /// The client's GCRA limit refused it.
    RateLimited,
    /// A migration was draining the key's shard.
    Held,
    /// A node answered something unexpected.
    Protocol,
}

impl Cause {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Cause::Unavailable => "unavailable",
            Cause::Timeout => "timeout",
            Cause::RateLimited => "rate_limited",
            Cause::Held => "held",
            Cause::Protocol => "protocol",
        }
    }
}

#[derive(Debug)]
pub(crate) struct PhaseStats {
    pub(crate) name: &'static str,
    pub(crate) ops: u64,
    pub(crate) errors: BTreeMap<&'static str, u64>,
    latency: QuantileSketch,
    pub(crate) seconds: f64,
    pub(crate) note: String,
}

/// Counters shared by every task.
#[derive(Debug)]
pub(crate) struct Metrics {
    phase: AtomicUsize,
    phases: Mutex<Vec<PhaseStats>>,
    pub(crate) hints_stored: AtomicU64,
    pub(crate) hints_delivered: AtomicU64,
    pub(crate) hints_dropped: AtomicU64,
    pub(crate) read_repairs: AtomicU64,
    pub(crate) ops_total: AtomicU64,
}

impl Metrics {
    pub(crate) fn new() -> Metrics {
        Metrics {
            phase: AtomicUsize::new(0),
            phases: Mutex::new(Vec::new()),
            hints_stored: AtomicU64::new(0),
            hints_delivered: AtomicU64::new(0),
            hints_dropped: AtomicU64::new(0),
            read_repairs: AtomicU64::new(0),
            ops_total: AtomicU64::new(0),
        }
    }

    /// Starts counting into a new phase.
    pub(crate) fn begin_phase(&self, name: &'static str) -> Result<(), ha::core::Error> {
        let mut phases = self.phases.lock();
        phases.push(PhaseStats {
            name,
            ops: 0,
            errors: BTreeMap::new(),
            latency: QuantileSketch::new(QuantileSketchConfig::default())?,
            seconds: 0.0,
            note: String::new(),
        });
        self.phase.store(phases.len() - 1, Ordering::Relaxed);
        Ok(())
    }

    pub(crate) fn end_phase(&self, seconds: f64, note: String) {
        let mut phases = self.phases.lock();
        if let Some(p) = phases.last_mut() {
            p.seconds = seconds;
            p.note = note;
        }
    }

    pub(crate) fn record(&self, outcome: Result<(), Cause>, latency: Duration) {
        self.ops_total.fetch_add(1, Ordering::Relaxed);
        let i = self.phase.load(Ordering::Relaxed);
        let mut phases = self.phases.lock();
        let Some(p) = phases.get_mut(i) else {
            return;
        };
        p.ops += 1;
        match outcome {
            Ok(()) => {
                let _ = p.latency.record_duration(latency);
            }
            Err(cause) => *p.errors.entry(cause.name()).or_insert(0) += 1,
        }
    }

    /// Operations and errors so far in the current phase.
    pub(crate) fn current(&self) -> (u64, u64) {
        let i = self.phase.load(Ordering::Relaxed);
        let phases = self.phases.lock();
        phases
            .get(i)
            .map_or((0, 0), |p| (p.ops, p.errors.values().sum()))
    }

    pub(crate) fn phases_json(&self) -> Vec<Value> {
        self.phases
            .lock()
            .iter()
            .map(|p| {
                let q = |x: f64| {
                    p.latency
                        .quantile(x)
                        .ok()
                        .flatten()
                        .map(|s| (s * 1e6).round() / 1000.0)
                };
                json!({
                    "name": p.name,
                    "ops": p.ops,
                    "ops_per_second": if p.seconds > 0.0 { (p.ops as f64 / p.seconds).round() } else { 0.0 },
                    "errors": p.errors,
                    "p50_ms": q(0.5),
                    "p99_ms": q(0.99),
                    "seconds": (p.seconds * 10.0).round() / 10.0,
                    "completed": p.seconds > 0.0,
                    "note": p.note,
                })
            })
            .collect()
    }
}

/// Prints the report in words from its JSON form.
pub(crate) fn print_text(report: &Value) {
    println!();
    println!("== report ==");
    println!(
        "{:<10} {:>8} {:>8} {:>9} {:>9}  errors / what happened",
        "phase", "ops", "ops/s", "p50 ms", "p99 ms"
    );
    if let Some(phases) = report["phases"].as_array() {
        for p in phases {
            let ms = |v: &Value| v.as_f64().map_or("-".to_string(), |x| format!("{x:.2}"));
            let errors = p["errors"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| format!("{k} {v}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            let errors = if errors.is_empty() {
                "no errors".to_string()
            } else {
                errors
            };
            println!(
                "{:<10} {:>8} {:>8} {:>9} {:>9}  {}; {}",
                p["name"].as_str().unwrap_or("?"),
                p["ops"],
                p["ops_per_second"],
                ms(&p["p50_ms"]),
                ms(&p["p99_ms"]),
                errors,
                p["note"].as_str().unwrap_or(""),
            );
        }
    }
    let c = &report["cluster"];
    println!();
    println!(
        "consistency {}, replication factor 3, {} shards; cache hit ratio {:.1}%",
        report["consistency"].as_str().unwrap_or("?"),
        report["shards"],
        c["cache_hit_ratio"].as_f64().unwrap_or(0.0) * 100.0
    );
    println!(
        "failure detections (φ) {}, outlier ejections {}, breaker opens {}",
        c["detections"], c["ejections"], c["breaker_opens"]
    );
    println!(
        "hints stored {}, delivered {}, pending {}; read repairs {}; worst replica lag p99 {} ms",
        c["hints_stored"],
        c["hints_delivered"],
        c["hints_pending"],
        c["read_repairs"],
        c["lag_p99_ms"]
    );
    let j = &report["join"];
    if !j.is_null() {
        println!(
            "join: {} shard copies moved in {} waves, {} keys copied = {:.1}% of the key copies (ideal {:.1}%), unreadable during migration {}",
            j["moves"],
            j["waves"],
            j["keys_copied"],
            j["moved_fraction"].as_f64().unwrap_or(0.0) * 100.0,
            j["ideal_fraction"].as_f64().unwrap_or(0.0) * 100.0,
            j["unreadable"]
        );
    }
    let s = &report["scale"];
    if !s.is_null() {
        println!(
            "autoscaler: {} nodes now, recommends {} ({}); forecast next {} s: {} ops/s",
            s["current_nodes"],
            s["recommended_nodes"],
            s["reason"].as_str().unwrap_or(""),
            s["horizon_seconds"],
            s["forecast_ops_per_second"]
        );
    }
    let v = &report["verification"];
    println!(
        "verification: {} acknowledged writes read back, {} lost, {} unreadable",
        v["checked"], v["lost"], v["unreadable"]
    );
}
