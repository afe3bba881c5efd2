//! Leader election on an existing engine, and a failover run end to end.
//!
//! Starts a real etcd server (on free loopback ports, in a temporary directory), then three
//! replica processes — this example re-executed with `replica` — whose primary holds a lease on
//! etcd through ha-replication's `ElectionBackend` trait (implemented over the `etcd-client`
//! crate in `etcd_election.rs`; no home-made consensus). The primary streams its log to the
//! others. The run then:
//!
//! 1. kills the primary's process (SIGKILL);
//! 2. measures the failover: its lease lapses, the survivors run ha-replication's
//!    `FailoverSelector` over their published positions, the chosen one wins the lease, and its
//!    epoch (the etcd revision of the leader key) becomes the fencing token;
//! 3. shows the remaining replica catching up with the new primary (`CatchUpConfig` with the
//!    `EpochHistory`);
//! 4. restarts the killed process believing it still leads: the others' `Fence` refuses its
//!    stale epoch; it then follows, rewinding the records the new timeline discarded.
//!
//! It ends with the measured failover time against the 30 s target, and checks that no epoch
//! had two primaries.
//!
//! Run: `cargo run --example failover` (needs the `etcd` binary; `--short` for a quick run).

mod etcd_election;
mod replica;

use std::collections::BTreeMap;
use std::net::TcpListener as StdListener;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use ha::core::NodeId;
use ha::replication::FailoverTargets;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

#[derive(Parser, Debug)]
#[command(about = "Failover through an etcd lease, measured")]
struct Cli {
    #[command(subcommand)]
    command: Option<Mode>,
    /// A quick run (for tests): fewer writes before the kill.
    #[arg(long)]
    short: bool,
    /// The etcd binary.
    #[arg(long, default_value = "etcd")]
    etcd_bin: String,
}

#[derive(Subcommand, Debug)]
enum Mode {
    /// One replica process (started by the orchestrator).
    Replica {
        #[arg(long)]
        name: String,
        #[arg(long)]
        etcd: String,
        #[arg(long)]
        port: u16,
        /// `name=port,...` of every replica.
        #[arg(long)]
        peers: String,
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value_t = 20)]
        write_every_ms: u64,
        #[arg(long)]
        resume_as_primary: bool,
    },
}

fn free_port() -> std::io::Result<u16> {
    Ok(StdListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The etcd server, killed when dropped (also on a failure).
struct EtcdServer {
    child: std::process::Child,
    client_url: String,
}

impl EtcdServer {
    fn start(bin: &str, dir: &std::path::Path) -> std::io::Result<EtcdServer> {
        let (client, peer) = (free_port()?, free_port()?);
        let client_url = format!("http://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let child = std::process::Command::new(bin)
            .arg("--name=ha-failover")
            .arg(format!("--data-dir={}", dir.join("etcd").display()))
            .arg(format!("--listen-client-urls={client_url}"))
            .arg(format!("--advertise-client-urls={client_url}"))
            .arg(format!("--listen-peer-urls={peer_url}"))
            .arg(format!("--initial-advertise-peer-urls={peer_url}"))
            .arg(format!("--initial-cluster=ha-failover={peer_url}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        Ok(EtcdServer { child, client_url })
    }
}

impl Drop for EtcdServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A temporary directory removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The replica processes, killed when dropped.
struct Replicas {
    children: BTreeMap<String, Child>,
}

impl Drop for Replicas {
    fn drop(&mut self) {
        for child in self.children.values_mut() {
            let _ = child.start_kill();
        }
    }
}

#[derive(Debug)]
struct Line {
    from: String,
    text: String,
    at: Instant,
}

fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.split(' ')
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
}

/// The next line from a replica, or an error once `deadline` passes.
async fn next(rx: &mut mpsc::UnboundedReceiver<Line>, deadline: Instant) -> Result<Line, String> {
    let left = deadline.saturating_duration_since(Instant::now());
    match tokio::time::timeout(left, rx.recv()).await {
        Ok(Some(line)) => Ok(line),
        _ => Err("timed out waiting for the replicas".into()),
    }
}

/// Prints a replica's line and notes every "primary" event by epoch.
fn record(line: &Line, primaries: &mut BTreeMap<u64, Vec<String>>) {
    println!("[{}] {}", line.from, line.text);
    if line.text.starts_with("EVENT primary ") {
        if let (Some(name), Some(epoch)) = (field(&line.text, "name"), field(&line.text, "epoch")) {
            primaries
                .entry(epoch.parse().unwrap_or(0))
                .or_default()
                .push(name.to_string());
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cli = Cli::parse();
    if let Some(Mode::Replica {
        name,
        etcd,
        port,
        peers,
        dir,
        write_every_ms,
        resume_as_primary,
    }) = cli.command
    {
        let peers = peers
            .split(',')
            .map(|p| {
                let (n, port) = p.split_once('=').ok_or("peers: name=port")?;
                Ok((NodeId::new(n)?, port.parse()?))
            })
            .collect::<Result<Vec<_>, Box<dyn std::error::Error>>>()?;
        return replica::run(replica::ReplicaArgs {
            name: NodeId::new(name)?,
            etcd,
            port,
            peers,
            dir,
            write_every: Duration::from_millis(write_every_ms),
            resume_as_primary,
        })
        .await;
    }
    orchestrate(cli.short, &cli.etcd_bin).await
}

async fn orchestrate(short: bool, etcd_bin: &str) -> Result<(), Box<dyn std::error::Error>> {
    let dir = TempDir(std::env::temp_dir().join(format!("ha-failover-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0)?;
    let etcd =
        EtcdServer::start(etcd_bin, &dir.0).map_err(|e| format!("cannot start {etcd_bin}: {e}"))?;
    println!("etcd at {} (data in {})", etcd.client_url, dir.0.display());
    // Wait for etcd to answer.
    let started = Instant::now();
    loop {
        let up = match etcd_client::Client::connect([etcd.client_url.as_str()], None).await {
            Ok(mut c) => c.status().await.is_ok(),
            Err(_) => false,
        };
        if up {
            break;
        }
        if started.elapsed() > Duration::from_secs(20) {
            return Err("etcd did not start".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let names = ["r1", "r2", "r3"];
    let mut ports = BTreeMap::new();
    for n in names {
        ports.insert(n.to_string(), free_port()?);
    }
    let peers = ports
        .iter()
        .map(|(n, p)| format!("{n}={p}"))
        .collect::<Vec<_>>()
        .join(",");
    let exe = std::env::current_exe()?;
    let (tx, mut rx) = mpsc::unbounded_channel::<Line>();
    let spawn = |name: &str, resume: bool| -> std::io::Result<Child> {
        let mut cmd = Command::new(&exe);
        cmd.arg("replica")
            .arg(format!("--name={name}"))
            .arg(format!("--etcd={}", etcd.client_url))
            .arg(format!("--port={}", ports[name]))
            .arg(format!("--peers={peers}"))
            .arg(format!("--dir={}", dir.0.display()))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        if resume {
            cmd.arg("--resume-as-primary");
        }
        let mut child = cmd.spawn()?;
        if let Some(out) = child.stdout.take() {
            let tx = tx.clone();
            let from = name.to_string();
            tokio::spawn(async move {
                let mut lines = BufReader::new(out).lines();
                while let Ok(Some(text)) = lines.next_line().await {
                    let _ = tx.send(Line {
                        from: from.clone(),
                        text,
                        at: Instant::now(),
                    });
                }
            });
        }
        Ok(child)
    };
    let mut replicas = Replicas {
        children: BTreeMap::new(),
    };
    for n in names {
        replicas.children.insert(n.to_string(), spawn(n, false)?);
    }

    let mut primaries: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(if short { 45 } else { 120 });
    let writes_before_kill = if short { 30 } else { 150 };
    // 1. A primary is elected and streams; wait until a follower holds `writes_before_kill`.
    let (first, first_epoch) = loop {
        let line = next(&mut rx, deadline).await?;
        record(&line, &mut primaries);
        if let Some((name, epoch)) = primaries
            .iter()
            .next()
            .and_then(|(e, n)| Some((n.first()?.clone(), *e)))
        {
            break (name, epoch);
        }
    };
    // Let the log grow: poll the followers' files.
    let first_at = loop {
        let held: Vec<usize> = names
            .iter()
            .filter(|n| **n != first)
            .map(|n| {
                std::fs::read_to_string(dir.0.join(format!("{n}.log")))
                    .map(|t| t.lines().count())
                    .unwrap_or(0)
            })
            .collect();
        if held.iter().all(|h| *h >= writes_before_kill) {
            break held;
        }
        match tokio::time::timeout(Duration::from_millis(50), rx.recv()).await {
            Ok(Some(line)) => record(&line, &mut primaries),
            Ok(None) => return Err("replicas gone".into()),
            Err(_) if Instant::now() > deadline => return Err("the log did not grow".into()),
            Err(_) => {}
        }
    };
    // Cut the primary off from its followers, let it write on alone for a moment (records no
    // follower gets: the data a failover loses and the old primary must discard), then kill it.
    println!("--- followers hold {first_at:?} records; cutting {first} off from them");
    std::fs::write(dir.0.join(format!("cut-{first}")), b"")?;
    let cut_until = Instant::now() + Duration::from_millis(300);
    while Instant::now() < cut_until {
        if let Ok(Some(line)) = tokio::time::timeout(Duration::from_millis(50), rx.recv()).await {
            record(&line, &mut primaries);
        }
    }
    println!("--- killing primary {first} (epoch {first_epoch})");

    // 2. Kill the primary; time until another is primary.
    let killed_at = Instant::now();
    if let Some(mut child) = replicas.children.remove(&first) {
        child.kill().await?;
    }
    let _ = std::fs::remove_file(dir.0.join(format!("cut-{first}")));
    let (second, second_epoch, failover) = loop {
        let line = next(&mut rx, deadline).await?;
        record(&line, &mut primaries);
        if line.text.starts_with("EVENT primary ")
            && field(&line.text, "name") != Some(first.as_str())
        {
            let epoch: u64 = field(&line.text, "epoch")
                .and_then(|e| e.parse().ok())
                .unwrap_or(0);
            if epoch > first_epoch {
                break (line.from.clone(), epoch, line.at - killed_at);
            }
        }
    };
    let target = FailoverTargets::default().failover;
    println!(
        "--- failover: {second} is primary in epoch {second_epoch} {:.2} s after the kill (target {} s): {}",
        failover.as_secs_f64(),
        target.as_secs(),
        if failover <= target { "met" } else { "MISSED" }
    );

    // 3. The remaining follower catches up with the new primary.
    let third = names
        .iter()
        .find(|n| **n != first && **n != second)
        .map(|n| n.to_string())
        .unwrap_or_default();
    loop {
        let line = next(&mut rx, deadline).await?;
        record(&line, &mut primaries);
        if line.text.starts_with("EVENT caught_up")
            && field(&line.text, "follower") == Some(third.as_str())
            && field(&line.text, "primary") == Some(second.as_str())
        {
            break;
        }
    }

    // 4. The old primary comes back believing it leads: fenced, then it rewinds and follows.
    println!("--- restarting {first} as a deposed primary that still believes it leads");
    replicas
        .children
        .insert(first.clone(), spawn(&first, true)?);
    let mut refused = 0;
    let mut rejoined = false;
    let mut discarded = 0u64;
    while refused < 2 || !rejoined {
        let line = next(&mut rx, deadline).await?;
        record(&line, &mut primaries);
        if line.text.starts_with("EVENT stale_write_refused") {
            refused += 1;
        }
        if line.text.starts_with("EVENT stale_write_accepted") {
            return Err(format!("a stale write was accepted: {}", line.text).into());
        }
        if line.text.starts_with("EVENT rewound")
            && field(&line.text, "name") == Some(first.as_str())
        {
            let from: u64 = field(&line.text, "from")
                .and_then(|f| f.parse().ok())
                .unwrap_or(0);
            let to: u64 = field(&line.text, "to")
                .and_then(|f| f.parse().ok())
                .unwrap_or(0);
            discarded = from.saturating_sub(to);
        }
        if line.text.starts_with("EVENT caught_up")
            && field(&line.text, "follower") == Some(first.as_str())
        {
            rejoined = true;
        }
    }

    let one_per_epoch = primaries.values().all(|names| {
        let mut n = names.clone();
        n.dedup();
        n.len() == 1
    });
    println!(
        "SUMMARY failover_ms={} target_ms={} met={} epochs={} one_primary_per_epoch={} stale_writes_refused={refused} old_primary_discarded={discarded}",
        failover.as_millis(),
        target.as_millis(),
        failover <= target,
        primaries
            .iter()
            .map(|(e, n)| format!("{e}:{}", n.join("+")))
            .collect::<Vec<_>>()
            .join(","),
        one_per_epoch
    );
    drop(replicas);
    drop(etcd);
    if !one_per_epoch {
        return Err("two primaries in one epoch".into());
    }
    Ok(())
}
