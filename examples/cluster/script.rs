//! The script of trouble: steady load; a node slowed 10×; a node killed; the node restarted; a
//! sixth node joining; load doubling — then a verification pass over every acknowledged write.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use ha::core::{Node, NodeId};
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::client::NodeClient;
use crate::coordinator::{Coordinator, Member};
use crate::fleet::NodeHandle;
use crate::workload::{self, Acknowledged, Rate, WorkloadConfig};
use crate::{migrate, scale};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub(crate) const PHASES: [&str; 6] = ["steady", "slow", "kill", "restart", "join", "double"];

/// A running cluster: the nodes (in this process) and the coordinator in front of them.
#[derive(Debug)]
pub(crate) struct Cluster {
    pub(crate) nodes: Vec<Arc<NodeHandle>>,
    /// Whether nodes run as their own OS processes.
    pub(crate) processes: bool,
    pub(crate) coordinator: Arc<Coordinator>,
    pub(crate) base_delay: Duration,
    pub(crate) shards: u32,
}

pub(crate) struct ScriptConfig {
    pub(crate) durations: [Duration; 6],
    pub(crate) rate: f64,
    pub(crate) workload: WorkloadConfig,
}

/// Prints a line above the progress display.
pub(crate) type Say = Arc<dyn Fn(String) + Send + Sync>;

/// Waits `d`, or less if interrupted; `false` when interrupted.
async fn wait(d: Duration, interrupted: &mut watch::Receiver<bool>) -> bool {
    if *interrupted.borrow() {
        return false;
    }
    tokio::select! {
        _ = tokio::time::sleep(d) => true,
        _ = interrupted.changed() => false,
    }
}

pub(crate) async fn run(
    cluster: &mut Cluster,
    config: ScriptConfig,
    say: Say,
    mut interrupted: watch::Receiver<bool>,
) -> Result<Value, BoxError> {
    let coordinator = Arc::clone(&cluster.coordinator);
    let metrics = Arc::clone(&coordinator.metrics);
    let rate = Arc::new(Rate::new(config.rate));
    let (stop_tx, stop_rx) = watch::channel(false);
    metrics.begin_phase(PHASES[0])?;
    let workers = workload::start(
        Arc::clone(&coordinator),
        config.workload,
        Arc::clone(&rate),
        stop_rx.clone(),
    )?;
    // The load each second, for the autoscaler and the forecast.
    let samples = Arc::new(parking_lot::Mutex::new(Vec::<f64>::new()));
    let sampler = {
        let (metrics, samples, mut stop) =
            (Arc::clone(&metrics), Arc::clone(&samples), stop_rx.clone());
        tokio::spawn(async move {
            let mut last = metrics.ops_total.load(Ordering::Relaxed);
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    _ = stop.changed() => return,
                }
                let now = metrics.ops_total.load(Ordering::Relaxed);
                samples.lock().push((now - last) as f64 * 2.0);
                last = now;
            }
        })
    };
    let mut join_report = Value::Null;
    let mut scale_report = Value::Null;
    let mut completed = 0;
    let (slow, killed) = (Arc::clone(&cluster.nodes[1]), Arc::clone(&cluster.nodes[2]));
    let killed_id = NodeId::new(&killed.name)?;
    let mut detected_after = None;
    let initial_nodes = cluster.nodes.len() as f64;
    for (i, name) in PHASES.iter().enumerate() {
        if i > 0 {
            metrics.begin_phase(name)?;
        }
        let start = Instant::now();
        let counts_before = coordinator.guard.lock().counts;
        let hints_before = metrics.hints_delivered.load(Ordering::Relaxed);
        say(format!("── phase {}/6: {name}", i + 1));
        let d = config.durations[i];
        let mut ok = true;
        let note = match *name {
            "steady" => {
                ok = wait(d, &mut interrupted).await;
                format!(
                    "{} nodes, rate {:.0} ops/s",
                    cluster.nodes.len(),
                    rate.get()
                )
            }
            "slow" => {
                let before = coordinator.reads_sent();
                slow.set_delay(cluster.base_delay * 10).await?;
                say(format!(
                    "{} slowed 10× ({:?} a request)",
                    slow.name,
                    cluster.base_delay * 10
                ));
                ok = wait(d, &mut interrupted).await;
                slow.set_delay(cluster.base_delay).await?;
                let after = coordinator.reads_sent();
                let delta =
                    |id: &NodeId| after.get(id).unwrap_or(&0) - before.get(id).unwrap_or(&0);
                let total: u64 = after.keys().map(delta).sum();
                let slow_id = NodeId::new(&slow.name)?;
                let share = delta(&slow_id) as f64 / total.max(1) as f64;
                let c = coordinator.guard.lock().counts;
                let reads = if total == 0 {
                    "no replica choice (ABD asks every replica)".to_string()
                } else {
                    format!(
                        "took {:.0}% of replica reads (even share {:.0}%)",
                        share * 100.0,
                        100.0 / cluster.nodes.len() as f64
                    )
                };
                format!(
                    "{} slowed: {reads}, breaker opens {}, ejections {}",
                    slow.name,
                    c.breaker_opens - counts_before.breaker_opens,
                    c.ejections - counts_before.ejections
                )
            }
            "kill" => {
                killed.kill();
                let killed_at = Instant::now();
                say(format!("{} killed", killed.name));
                while killed_at.elapsed() < d && ok {
                    if detected_after.is_none() && coordinator.guard.lock().is_suspected(&killed_id)
                    {
                        detected_after = Some(killed_at.elapsed());
                    }
                    ok = wait(Duration::from_millis(20), &mut interrupted).await;
                }
                format!(
                    "{} killed: detected by φ after {}, {} hints pending",
                    killed.name,
                    detected_after.map_or("-".into(), |d| format!("{} ms", d.as_millis())),
                    coordinator.hints_pending()
                )
            }
            "restart" => {
                let addr = killed.start().await?;
                if let Some(m) = coordinator.member(&killed_id) {
                    m.client.set_addr(addr);
                }
                say(format!("{} restarted on {addr}", killed.name));
                ok = wait(d, &mut interrupted).await;
                format!(
                    "{} back: {} hints delivered, {} pending",
                    killed.name,
                    metrics.hints_delivered.load(Ordering::Relaxed) - hints_before,
                    coordinator.hints_pending()
                )
            }
            "join" => {
                let name = format!("n{}", cluster.nodes.len() + 1);
                let node = Arc::new(NodeHandle::new(
                    name.clone(),
                    "zone-c".into(),
                    cluster.base_delay,
                    cluster.processes,
                ));
                let addr = node.start().await?;
                let id = NodeId::new(&name)?;
                coordinator.add_member(Member {
                    id: id.clone(),
                    client: NodeClient::new(addr, 8, coordinator.settings.call_timeout),
                })?;
                cluster.nodes.push(node);
                say(format!("{name} joins on {addr}"));
                let all: Vec<Node> = cluster
                    .nodes
                    .iter()
                    .map(|n| Ok(Node::new(NodeId::new(&n.name)?, "").with_zone(n.zone.clone())))
                    .collect::<Result<_, ha::core::Error>>()?;
                let log = Arc::clone(&say);
                join_report = migrate::rebalance(&coordinator, all, cluster.shards, &*log).await?;
                let remaining = d.saturating_sub(start.elapsed());
                ok = wait(remaining, &mut interrupted).await;
                format!(
                    "{name} joined: {} copies moved, {} keys copied",
                    join_report["moves"], join_report["keys_copied"]
                )
            }
            _ => {
                rate.set(config.rate * 2.0);
                say(format!("load doubles to {:.0} ops/s", rate.get()));
                ok = wait(d, &mut interrupted).await;
                let per_second = samples.lock().clone();
                let steady = metrics.phases_json();
                let steady_rate = steady
                    .first()
                    .and_then(|p| p["ops_per_second"].as_f64())
                    .unwrap_or(config.rate);
                let target = steady_rate / initial_nodes / 0.8;
                let load = metrics.current().0 as f64 / start.elapsed().as_secs_f64();
                let nodes = cluster.nodes.len() as u32;
                scale_report = scale::recommend(&per_second, load, nodes, target)?;
                format!(
                    "load doubled: autoscaler recommends {} nodes",
                    scale_report["recommended_nodes"]
                )
            }
        };
        if ok {
            metrics.end_phase(start.elapsed().as_secs_f64(), note.clone());
            completed += 1;
            say(format!("   {note}"));
        } else {
            metrics.end_phase(0.0, format!("interrupted; {note}"));
            say("interrupted: stopping the load and verifying".into());
            break;
        }
    }
    let _ = stop_tx.send(true);
    let mut acknowledged = Acknowledged::new();
    for w in workers {
        acknowledged.extend(w.await?);
    }
    sampler.abort();
    // Let hinted handoff finish before reading everything back.
    let drain = Instant::now();
    while coordinator.hints_pending() > 0 && drain.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let verification = verify(&coordinator, &acknowledged).await;
    if join_report.is_object() {
        let errors = metrics.phases_json().get(4).map_or(0, |p| {
            p["errors"]
                .as_object()
                .map_or(0, |e| e.values().filter_map(Value::as_u64).sum::<u64>())
        });
        join_report["unreadable"] = json!(errors);
    }
    Ok(json!({
        "phases_completed": completed,
        "killed_node": killed.name,
        "killed_node_detected": detected_after.is_some(),
        "detected_after_ms": detected_after.map(|d| d.as_millis() as u64),
        "join": join_report,
        "scale": scale_report,
        "verification": verification,
    }))
}

/// Reads every acknowledged write back (bypassing the cache) and counts the ones lost.
pub(crate) async fn verify(coordinator: &Arc<Coordinator>, acknowledged: &Acknowledged) -> Value {
    let entries: Vec<_> = acknowledged.iter().collect();
    let (mut lost, mut unreadable, mut later) = (0u64, 0u64, 0u64);
    for chunk in entries.chunks(64) {
        let reads = chunk.iter().map(|(k, _)| coordinator.read_verified(k));
        let results = futures_util::future::join_all(reads).await;
        for ((_, expect), result) in chunk.iter().zip(results) {
            match result {
                Ok(v) if v == expect.value => {}
                Ok(v) if expect.unacknowledged_after.contains(&v) => later += 1,
                Ok(_) => lost += 1,
                Err(_) => unreadable += 1,
            }
        }
    }
    json!({
        "checked": entries.len(),
        "lost": lost,
        "unreadable": unreadable,
        "newer_unacknowledged_write_seen": later,
    })
}
