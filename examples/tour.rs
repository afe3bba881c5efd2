//! A tour of ha-core: one simulated hour of a five-node service, told as it happens.
//!
//! Every 30 seconds of simulated time each node is health-checked and the service takes 3 000
//! requests (100 per second). Along the way api-2 runs hot and slow, api-3 goes down for a quarter
//! of an hour and the critical database slows. ha-core turns the raw check results and request
//! outcomes into the decisions an operator sees: node health, fleet health, alerts that fire and
//! resolve, burn-rate pages, latency percentiles and the error budget left.
//!
//! Run: `cargo run --release --example tour` (add `-- --verbose` to also see every decision's
//! `tracing` event). The simulation is seeded, so every run prints the same story.

use std::error::Error;
use std::time::{Duration, Instant};

use ha::core::slo::{self, BurnRatePolicy, ErrorBudget, EventCounts};
use ha::core::{
    AlertKind, AlertRule, AlertSet, CheckOutcome, Component, Ewma, Health, HealthAggregator,
    HealthCheck, HealthCheckConfig, QuantileSketch, QuantileSketchConfig, SlidingWindow,
    SlidingWindowConfig, metric,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, LogNormal};

const ROUND: Duration = Duration::from_secs(30);
const ROUNDS: u32 = 120;
const REQUESTS_PER_ROUND: u64 = 3_000;
const SLO_TARGET: f64 = 0.999;
const NODES: [(&str, bool); 5] = [
    ("api-1", false),
    ("api-2", false),
    ("api-3", false),
    ("cache-1", false),
    ("db-primary", true),
];

/// What a node is going through at a given minute: the script of the hour.
#[derive(Clone, Copy, PartialEq)]
enum Condition {
    Normal,
    /// Answers, but `factor` times slower, with its CPU pegged.
    Slow {
        factor: f64,
    },
    /// Refuses every connection.
    Down,
}

fn condition(node: &str, minute: f64) -> Condition {
    match node {
        "api-2" if (10.0..22.0).contains(&minute) => Condition::Slow { factor: 30.0 },
        "api-3" if (18.0..33.0).contains(&minute) => Condition::Down,
        "db-primary" if (45.0..50.0).contains(&minute) => Condition::Slow { factor: 20.0 },
        _ => Condition::Normal,
    }
}

/// One monitored node: its health check, a latency average and its own alert rules.
struct Target {
    name: &'static str,
    critical: bool,
    check: HealthCheck,
    latency_ms: Ewma,
    alerts: AlertSet,
}

fn main() -> Result<(), Box<dyn Error>> {
    if std::env::args().any(|a| a == "--verbose" || a == "-v") {
        tracing_subscriber::fmt()
            .with_max_level(tracing_subscriber::filter::LevelFilter::DEBUG)
            .with_target(false)
            .init();
    }
    let mut rng = StdRng::seed_from_u64(7);
    let base_latency_ms = LogNormal::new(20f64.ln(), 0.5)?;
    let start = Instant::now();

    // Health checks every 30 s with a 5 s timeout: 3 failures → unhealthy, 2 successes → healthy,
    // and 3 checks slower than 250 ms in a row → degraded.
    let check_config = HealthCheckConfig {
        degraded_latency: Some(Duration::from_millis(250)),
        ..HealthCheckConfig::default()
    };
    let mut targets = Vec::new();
    for (name, critical) in NODES {
        targets.push(Target {
            name,
            critical,
            check: HealthCheck::new(check_config)?,
            latency_ms: Ewma::with_half_life(Duration::from_secs(60))?,
            alerts: AlertSet::new([AlertRule::cpu_warning(), AlertRule::cpu_critical()])?,
        });
    }
    let fleet = HealthAggregator::new(Default::default())?;
    let mut fleet_health = Health::Unknown;

    // Service-level signals: the error ratio over the last minute feeds the preset
    // "error ratio > 1% for 5 min → critical" rule; good and total requests over each window of
    // the SRE workbook's burn-rate policy feed the pages.
    let mut service_alerts = AlertSet::new([AlertRule::error_rate_critical()])?;
    let minute_window = SlidingWindowConfig {
        window: Duration::from_secs(60),
        buckets: 2,
    };
    let (mut minute_total, mut minute_bad) = (
        SlidingWindow::new(minute_window)?,
        SlidingWindow::new(minute_window)?,
    );
    let policy = BurnRatePolicy::sre_workbook();
    let mut burn_windows = Vec::new();
    for &window in policy.windows() {
        let config = SlidingWindowConfig {
            window,
            buckets: 60,
        };
        burn_windows.push((
            window,
            SlidingWindow::new(config)?,
            SlidingWindow::new(config)?,
        ));
    }
    let mut paging = None;

    // Request latencies, one sketch per 10-minute block, merged at the end.
    let mut blocks = Vec::new();
    let (mut good, mut total) = (0u64, 0u64);

    println!(
        "ha tour — one simulated hour of a five-node service: checks every 30 s, 100 requests/s,"
    );
    println!(
        "an SLO of {:.1}% availability. What ha-core decided, as it happened:\n",
        SLO_TARGET * 100.0
    );

    for round in 0..ROUNDS {
        let now = start + ROUND * round;
        let minute = f64::from(round) / 2.0;
        let stamp = clock(round);

        // 1. Active health checks, then the fleet's health.
        for t in &mut targets {
            let (outcome, latency) = match condition(t.name, minute) {
                Condition::Down => (CheckOutcome::Failure, Duration::from_millis(1)),
                Condition::Slow { factor } => (
                    CheckOutcome::Success,
                    millis(base_latency_ms.sample(&mut rng) * factor),
                ),
                Condition::Normal => (
                    CheckOutcome::Success,
                    millis(base_latency_ms.sample(&mut rng)),
                ),
            };
            t.latency_ms.record(latency.as_secs_f64() * 1e3, now)?;
            if let Some(change) = t.check.record(outcome, latency, now) {
                println!(
                    "{stamp}  {:<10} {:>9} → {:<9}  check {:?} in {:.0} ms, latency EWMA {:.0} ms",
                    t.name,
                    change.from,
                    change.to,
                    outcome,
                    latency.as_secs_f64() * 1e3,
                    t.latency_ms.value().unwrap_or_default()
                );
            }
            let cpu = match condition(t.name, minute) {
                Condition::Slow { .. } => 0.97,
                Condition::Down => 0.0,
                Condition::Normal => rng.random_range(0.35..0.55),
            };
            for alert in t.alerts.observe(metric::CPU_UTILIZATION_RATIO, cpu, now)? {
                report_alert(&stamp, t.name, &alert.rule, alert.kind, cpu);
            }
        }
        let summary = fleet.aggregate(targets.iter().map(|t| Component {
            health: t.check.health(),
            critical: t.critical,
        }));
        if summary.health != fleet_health {
            println!(
                "{stamp}  {:<10} {:>9} → {:<9}  {} healthy, {} degraded, {} unhealthy, {} unknown{}",
                "FLEET",
                fleet_health,
                summary.health,
                summary.healthy,
                summary.degraded,
                summary.unhealthy,
                summary.unknown,
                match summary.worst_critical {
                    Some(h) if h != Health::Healthy => format!("; critical component {h}"),
                    _ => String::new(),
                }
            );
            fleet_health = summary.health;
        }

        // 2. A round of requests, spread evenly over the three API nodes (ha-balance will
        //    route around sick nodes; here nobody does, so the SLO feels every failure).
        if round % 20 == 0 {
            blocks.push(QuantileSketch::new(QuantileSketchConfig::default())?);
        }
        let mut bad = 0;
        if let Some(sketch) = blocks.last_mut() {
            for i in 0..REQUESTS_PER_ROUND {
                let api = ["api-1", "api-2", "api-3"][(i % 3) as usize];
                let db = condition("db-primary", minute);
                let slow_db = if let Condition::Slow { factor } = db {
                    factor / 4.0
                } else {
                    1.0
                };
                let latency_ms = match condition(api, minute) {
                    Condition::Down => {
                        bad += 1;
                        0.5
                    }
                    Condition::Slow { factor } => base_latency_ms.sample(&mut rng) * factor,
                    Condition::Normal => base_latency_ms.sample(&mut rng) * slow_db,
                };
                if latency_ms > 1_000.0 {
                    bad += 1; // the client gave up: a timeout is an error too
                }
                sketch.record(latency_ms)?;
            }
        }
        good += REQUESTS_PER_ROUND - bad;
        total += REQUESTS_PER_ROUND;
        minute_total.add(now, REQUESTS_PER_ROUND);
        minute_bad.add(now, bad);
        for (_, window_total, window_bad) in &mut burn_windows {
            window_total.add(now, REQUESTS_PER_ROUND);
            window_bad.add(now, bad);
        }

        // 3. Service alerts and burn-rate pages.
        let error_ratio = minute_bad.sum(now) as f64 / minute_total.sum(now) as f64;
        for alert in service_alerts.observe(metric::ERROR_RATIO, error_ratio, now)? {
            report_alert(&stamp, "service", &alert.rule, alert.kind, error_ratio);
        }
        let burn = policy.evaluate(SLO_TARGET, |window| {
            burn_windows.iter().find(|(w, _, _)| *w == window).map_or(
                EventCounts { good: 0, total: 0 },
                |(_, t, b)| {
                    let (total, bad) = (t.sum(now), b.sum(now));
                    EventCounts {
                        good: total - bad.min(total),
                        total,
                    }
                },
            )
        })?;
        let now_paging = burn.as_ref().map(|a| (a.severity(), a.rule.burn_rate));
        if now_paging != paging {
            match &burn {
                Some(a) => println!(
                    "{stamp}  {:<10} {:>9}   burning the error budget at {:.1}× over {} and {:.1}× over {} (rule: {}× → {})",
                    "SLO",
                    "ALERT",
                    a.long_burn_rate,
                    human(a.rule.long_window),
                    a.short_burn_rate,
                    human(a.rule.short_window),
                    a.rule.burn_rate,
                    if a.severity() == ha::core::Severity::Critical {
                        "page"
                    } else {
                        "ticket"
                    },
                ),
                None => println!(
                    "{stamp}  {:<10} {:>9}   burn rate back under every threshold",
                    "SLO", "OK"
                ),
            }
            paging = now_paging;
        }
    }

    // The report.
    println!("\nRequest latency by 10-minute block (DDSketch, ±1%):");
    println!(
        "  {:<13} {:>9} {:>9} {:>9} {:>10}",
        "block", "p50 ms", "p95 ms", "p99 ms", "max ms"
    );
    let mut hour = QuantileSketch::new(QuantileSketchConfig::default())?;
    for (i, block) in blocks.iter().enumerate() {
        if let Some(q) = block.quantiles() {
            println!(
                "  {:<13} {:>9.1} {:>9.1} {:>9.1} {:>10.1}",
                format!("{:02}–{:02} min", i * 10, i * 10 + 10),
                q.p50,
                q.p95,
                q.p99,
                q.max
            );
        }
        hour.merge(block)?;
    }
    if let Some(q) = hour.quantiles() {
        println!(
            "  {:<13} {:>9.1} {:>9.1} {:>9.1} {:>10.1}   ({} requests, blocks merged)",
            "whole hour", q.p50, q.p95, q.p99, q.max, q.count
        );
    }

    let counts = EventCounts::new(good, total)?;
    let hour_budget = ErrorBudget::new(SLO_TARGET, counts)?;
    let month_share = slo::budget_consumed_ratio(
        hour_budget.burn_rate(),
        ROUND * ROUNDS,
        slo::ROLLING_30_DAYS,
    )?;
    let allowed = slo::allowed_downtime(SLO_TARGET, slo::ROLLING_30_DAYS)?;
    println!("\nError budget:");
    println!(
        "  {} of {} requests failed ({:.3}%), a burn rate of {:.1}× for the hour",
        counts.bad(),
        counts.total,
        counts.error_ratio() * 100.0,
        hour_budget.burn_rate()
    );
    println!(
        "  this hour spent {:.1}% of the 30-day budget; {:.1}% availability allows {} of downtime in 30 days",
        month_share * 100.0,
        SLO_TARGET * 100.0,
        human(allowed)
    );
    println!(
        "  final health: {}",
        targets
            .iter()
            .map(|t| format!("{} {}", t.name, t.check.health()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}

fn report_alert(stamp: &str, target: &str, rule: &str, kind: AlertKind, value: f64) {
    let what = match kind {
        AlertKind::Pending => "pending",
        AlertKind::Fired => "FIRING",
        AlertKind::Cancelled => "cancelled",
        AlertKind::Resolved { .. } => "resolved",
    };
    println!("{stamp}  {target:<10} {what:>9}   alert {rule} (value {value:.3})");
}

fn millis(ms: f64) -> Duration {
    Duration::from_secs_f64(ms.max(0.0) / 1e3)
}

/// `t+MM:SS` for the start of a round.
fn clock(round: u32) -> String {
    let secs = round * ROUND.as_secs() as u32;
    format!("t+{:02}:{:02}", secs / 60, secs % 60)
}

/// A duration the way an operator says it.
fn human(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs >= 86_400.0 && secs % 86_400.0 == 0.0 {
        format!("{} d", secs / 86_400.0)
    } else if secs >= 3_600.0 && secs % 3_600.0 == 0.0 {
        format!("{} h", secs / 3_600.0)
    } else if secs >= 60.0 {
        format!("{:.1} min", secs / 60.0)
    } else {
        format!("{secs:.0} s")
    }
}
