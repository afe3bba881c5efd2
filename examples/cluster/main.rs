//! A real replicated, sharded cluster on loopback, driven by every ha crate, run through trouble.
//!
//! ```sh
//! cargo run --release --example cluster                 # the script of trouble, ≈ 45 s
//! cargo run --release --example cluster -- --quick      # the same in ≈ 10 s
//! cargo run --release --example cluster -- --serve      # keep it up for redis-cli / redis-benchmark
//! cargo run --release --example cluster -- --processes  # each storage node its own OS process
//! ```
//!
//! Five storage nodes (tokio TCP servers on ephemeral loopback ports, a length-prefixed binary
//! protocol, in-memory stores with a replication log) sit behind a coordinator that speaks RESP2.
//! ha-shard places each key's three copies in distinct zones and routes around migrations;
//! ha-replication decides quorums, read repair, hinted handoff, lag and φ-accrual suspicion;
//! ha-balance picks replicas (P2C peak-EWMA), breaks circuits, ejects outliers and rate-limits
//! clients (GCRA); ha-cache keeps hot values close; ha-scale says how many nodes the load needs.

mod client;
mod coordinator;
mod fleet;
mod guard;
mod migrate;
mod node;
mod protocol;
mod report;
mod resp;
mod scale;
mod script;
mod workload;

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use ha::core::{Node, NodeId};
use ha::shard::{HashShards, KeyRouter, ShardMap, ShardPlacement, ShardPlacementConfig};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::client::NodeClient;
use crate::coordinator::{Consistency, Coordinator, Member, Settings};
use crate::fleet::NodeHandle;
use crate::report::Metrics;
use crate::script::{Cluster, PHASES, ScriptConfig};
use crate::workload::WorkloadConfig;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A replicated, sharded key-value cluster on loopback, run through a script of trouble.
#[derive(Debug, Parser)]
#[command(name = "cluster", version)]
struct Args {
    /// Consistency of reads and writes; strong makes every operation an ABD register operation.
    #[arg(long, value_enum, default_value = "quorum")]
    consistency: Consistency,
    /// Storage nodes to start with (one more joins during the script).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(3..=16))]
    nodes: u32,
    /// Hash shards the keys are grouped into (the unit that moves when a node joins).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
    shards: u32,
    /// Target operations per second of the built-in workload (doubles in the last phase).
    #[arg(long, default_value_t = 1500.0)]
    rate: f64,
    /// Concurrent workload clients.
    #[arg(long, default_value_t = 24)]
    workers: usize,
    /// Distinct keys.
    #[arg(long, default_value_t = 20_000)]
    keys: u64,
    /// Zipf exponent of key popularity.
    #[arg(long, default_value_t = 1.0)]
    zipf: f64,
    /// Fraction of operations that are writes (2% of them deletes).
    #[arg(long, default_value_t = 0.25)]
    write_ratio: f64,
    /// Each node's service time per request, in microseconds (a slowed node takes 10×).
    #[arg(long, default_value_t = 500)]
    node_delay_us: u64,
    /// Deadline of one operation in milliseconds (a call to one node gets half of it).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(10..=60_000))]
    timeout_ms: u64,
    /// Per-client rate limit (GCRA), requests per second.
    #[arg(long, default_value_t = 20_000.0)]
    client_rate: f64,
    /// Run each storage node as its own OS process (this program re-executed) instead of in
    /// this process. A restarted process node comes back empty.
    #[arg(long)]
    processes: bool,
    /// Run the script in about 10 seconds instead of about 45.
    #[arg(long)]
    quick: bool,
    /// Skip the script: keep the cluster up and serve RESP until Ctrl-C.
    #[arg(long)]
    serve: bool,
    /// Port of the RESP front end (0: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Print the report as one JSON line at the end.
    #[arg(long)]
    json: bool,
    /// Seed of the workload.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    #[command(subcommand)]
    command: Option<Sub>,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Serve one storage node (what `--processes` runs).
    #[command(hide = true)]
    Node {
        #[arg(long)]
        name: String,
        #[arg(long, default_value_t = 0)]
        delay_us: u64,
    },
}

fn zone(i: u32) -> String {
    format!("zone-{}", ['a', 'b', 'c'][(i % 3) as usize])
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    if let Some(Sub::Node { name, delay_us }) = args.command {
        return Ok(fleet::run_node(name, Duration::from_micros(delay_us)).await?);
    }
    if !(args.rate > 0.0 && args.rate.is_finite() && (0.0..=1.0).contains(&args.write_ratio)) {
        return Err("--rate must be positive and --write-ratio within [0, 1]".into());
    }
    let base_delay = Duration::from_micros(args.node_delay_us);
    let op_timeout = Duration::from_millis(args.timeout_ms);
    let call_timeout = op_timeout / 2;

    // Storage nodes.
    let mut nodes = Vec::new();
    let mut members = Vec::new();
    let mut placed = Vec::new();
    for i in 0..args.nodes {
        let name = format!("n{}", i + 1);
        let node = Arc::new(NodeHandle::new(
            name.clone(),
            zone(i),
            base_delay,
            args.processes,
        ));
        let addr = node.start().await?;
        let id = NodeId::new(&name)?;
        placed.push(Node::new(id.clone(), addr.to_string()).with_zone(zone(i)));
        members.push(Member {
            id,
            client: NodeClient::new(addr, 8, call_timeout),
        });
        nodes.push(node);
    }
    // Placement: three copies of each shard in distinct zones.
    let placement = ShardPlacement::new(
        placed,
        ShardPlacementConfig {
            replication_factor: 3.try_into()?,
        },
    )?;
    let map = ShardMap::Hash(HashShards::new(args.shards)?);
    let router = KeyRouter::from_placement(map, &placement)?;

    let bar = if args.serve || !std::io::stderr().is_terminal() {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(1)
    };
    let say: script::Say = {
        let bar = bar.clone();
        Arc::new(move |line: String| {
            if bar.is_hidden() {
                println!("{line}");
            } else {
                bar.println(line);
            }
        })
    };
    let metrics = Arc::new(Metrics::new());
    let settings = Settings {
        consistency: args.consistency,
        replication_factor: 3,
        op_timeout,
        call_timeout,
        client_rate: args.client_rate,
        cache_entries: 4096,
        cache_ttl: Duration::from_secs(2),
    };
    let events = {
        let say = Arc::clone(&say);
        Arc::new(move |line: String| say(format!("   {line}")))
    };
    let coordinator = Coordinator::new(settings, members, router, Arc::clone(&metrics), events)
        .map_err(|e| e.to_string())?;
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(Arc::clone(&coordinator).maintain(stop_rx.clone()));
    let listener = TcpListener::bind(("127.0.0.1", args.port)).await?;
    let resp_addr = listener.local_addr()?;
    tokio::spawn(resp::serve(
        listener,
        Arc::clone(&coordinator),
        stop_rx.clone(),
    ));
    let (int_tx, int_rx) = watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            let _ = int_tx.send(true);
        }
    });
    println!(
        "cluster: {} nodes ({}), replication factor 3 over zones a/b/c, {} shards, consistency {:?}",
        nodes.len(),
        nodes
            .iter()
            .map(|n| n.name.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        args.shards,
        args.consistency
    );
    println!(
        "RESP front end on {resp_addr}  (redis-cli -p {})",
        resp_addr.port()
    );

    if args.serve {
        metrics.begin_phase("serve")?;
        println!(
            "serving until Ctrl-C; try: redis-benchmark -p {} -t ping,set,get,mset -n 20000 -q",
            resp_addr.port()
        );
        let mut int_rx = int_rx;
        let started = Instant::now();
        let _ = int_rx.changed().await;
        metrics.end_phase(started.elapsed().as_secs_f64(), "served".into());
        let _ = stop_tx.send(true);
        println!(
            "stopped after {} operations",
            metrics.ops_total.load(std::sync::atomic::Ordering::Relaxed)
        );
        for n in &nodes {
            n.kill();
        }
        return Ok(());
    }

    let durations = if args.quick {
        [1.5, 2.0, 2.5, 1.5, 1.5, 1.5]
    } else {
        [6.0, 8.0, 8.0, 7.0, 8.0, 8.0]
    }
    .map(Duration::from_secs_f64);
    let total: Duration = durations.iter().sum();
    bar.set_length(total.as_millis() as u64);
    if let Ok(style) = ProgressStyle::with_template("{bar:40.cyan/blue} {elapsed:>4} {msg}") {
        bar.set_style(style);
    }
    let ticker = {
        let (bar, metrics, coordinator) =
            (bar.clone(), Arc::clone(&metrics), Arc::clone(&coordinator));
        let started = Instant::now();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let (ops, errors) = metrics.current();
                bar.set_position(started.elapsed().as_millis() as u64);
                bar.set_message(format!(
                    "ops {ops} errors {errors} | hints {} | cache {:.0}%",
                    coordinator.hints_pending(),
                    coordinator.cache.stats().hit_ratio() * 100.0
                ));
            }
        })
    };
    let workload = WorkloadConfig {
        workers: args.workers.max(1),
        keys: args.keys.max(1),
        zipf_exponent: args.zipf,
        write_ratio: args.write_ratio,
        seed: args.seed,
    };
    let mut cluster = Cluster {
        nodes,
        coordinator: Arc::clone(&coordinator),
        base_delay,
        shards: args.shards,
        processes: args.processes,
    };
    let config = ScriptConfig {
        durations,
        rate: args.rate,
        workload,
    };
    let outcome = script::run(&mut cluster, config, Arc::clone(&say), int_rx).await;
    ticker.abort();
    bar.finish_and_clear();
    let _ = stop_tx.send(true);
    let outcome = outcome?;
    let info: serde_json::Map<String, serde_json::Value> = coordinator
        .info()
        .into_iter()
        .map(|(k, v)| {
            let value = match (v.parse::<u64>(), v.parse::<f64>()) {
                (Ok(n), _) => json!(n),
                (_, Ok(x)) => json!(x),
                _ => json!(v),
            };
            (k, value)
        })
        .collect();
    let mut report = json!({
        "consistency": format!("{:?}", args.consistency).to_lowercase(),
        "shards": args.shards,
        "phases": metrics.phases_json(),
        "phase_names": PHASES,
        "cluster": info,
    });
    if let (Some(r), Some(o)) = (report.as_object_mut(), outcome.as_object()) {
        for (k, v) in o {
            r.insert(k.clone(), v.clone());
        }
    }
    report::print_text(&report);
    if args.json {
        println!("{report}");
    }
    for n in &cluster.nodes {
        n.kill();
    }
    Ok(())
}
