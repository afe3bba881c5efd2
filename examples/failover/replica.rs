//! One replica process: a log kept in a file, a TCP port where the primary streams records, an
//! etcd lease for leadership (ha-replication's `ElectionBackend` over etcd), and the
//! ha-replication decisions: which replica to promote (`FailoverSelector`), the fencing epoch
//! every stream is checked against (`Fence`), and how a follower catches up (`CatchUpConfig`
//! with the `EpochHistory`).
//!
//! Wire protocol (one line each): the primary sends `HELLO <name> <epoch> <history>`; the
//! follower answers `AT <epoch> <position>` or `FENCED <epoch> <holder>`; then the primary sends
//! `REWIND <position>` if needed and `REC <epoch> <position>` records, each answered `ACK
//! <position>`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use etcd_client::{Client, GetOptions, PutOptions};
use ha::core::{Health, NodeId};
use ha::replication::{
    Campaign, CatchUpConfig, CatchUpPlan, ElectionBackend, Epoch, EpochHistory, FailoverCandidate,
    FailoverPolicy, FailoverSelector, Fence, Lease, Position, RetainedLog,
};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;

use crate::etcd_election::EtcdElection;

const LEADER_KEY: &str = "/ha-failover/leader";
const STATE_PREFIX: &str = "/ha-failover/state/";
/// The leader lease's time to live: how long a dead primary keeps the key.
const LEASE_TTL: Duration = Duration::from_secs(2);
/// A replica not chosen campaigns anyway after this long without a leader (the chosen one may
/// be dead too).
const FALLBACK_AFTER: Duration = Duration::from_secs(3);

/// Settings of one replica process.
#[derive(Debug, Clone)]
pub(crate) struct ReplicaArgs {
    pub(crate) name: NodeId,
    pub(crate) etcd: String,
    pub(crate) port: u16,
    pub(crate) peers: Vec<(NodeId, u16)>,
    pub(crate) dir: PathBuf,
    pub(crate) write_every: Duration,
    /// Start by trying to write as the primary of the newest epoch in the log (a deposed
    /// primary that comes back believing it still leads).
    pub(crate) resume_as_primary: bool,
}

#[derive(Debug)]
enum Role {
    Follower,
    Primary(Lease),
}

#[derive(Debug)]
struct Node {
    /// The epoch of each record; record `i + 1` is at position `i + 1`.
    log: Vec<Epoch>,
    history: Option<EpochHistory>,
    fence: Fence,
    role: Role,
    file: PathBuf,
}

impl Node {
    fn position(&self) -> Position {
        Position(self.log.len() as u64)
    }

    fn last_epoch(&self) -> Epoch {
        self.log.last().copied().unwrap_or_default()
    }

    fn save(&self) {
        let text: String = self
            .log
            .iter()
            .enumerate()
            .map(|(i, e)| format!("{} {}\n", e.0, i + 1))
            .collect();
        let _ = std::fs::write(&self.file, text);
    }

    fn append(&mut self, epoch: Epoch) {
        self.log.push(epoch);
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&self.file)
        {
            let _ = writeln!(f, "{} {}", epoch.0, self.log.len());
        }
    }

    fn load(file: PathBuf) -> Node {
        let log = std::fs::read_to_string(&file)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split(' ').next()?.parse().ok().map(Epoch))
            .collect();
        Node {
            log,
            history: None,
            fence: Fence::new(),
            role: Role::Follower,
            file,
        }
    }
}

fn event(text: impl AsRef<str>) {
    println!("EVENT {}", text.as_ref());
}

fn history_text(history: &Option<EpochHistory>) -> String {
    match history {
        None => "-".into(),
        Some(h) => h
            .forks()
            .iter()
            .map(|(e, p)| format!("{}:{}", e.0, p.0))
            .collect::<Vec<_>>()
            .join(","),
    }
}

fn parse_history(text: &str) -> Option<EpochHistory> {
    let forks: Option<Vec<(Epoch, Position)>> = text
        .split(',')
        .map(|f| {
            let (e, p) = f.split_once(':')?;
            Some((Epoch(e.parse().ok()?), Position(p.parse().ok()?)))
        })
        .collect();
    EpochHistory::try_from(forks?).ok()
}

pub(crate) async fn run(args: ReplicaArgs) -> Result<(), Box<dyn std::error::Error>> {
    let client = Client::connect([args.etcd.as_str()], None).await?;
    let election = Arc::new(EtcdElection::new(client.clone(), LEADER_KEY));
    let node = Arc::new(Mutex::new(Node::load(
        args.dir.join(format!("{}.log", args.name)),
    )));
    {
        let n = node.lock().await;
        event(format!(
            "started name={} epoch={} position={}",
            args.name,
            n.last_epoch().0,
            n.position().0
        ));
    }
    let listener = TcpListener::bind(("127.0.0.1", args.port)).await?;
    tokio::spawn(serve(listener, node.clone(), args.name.clone()));
    tokio::spawn(publish_state(
        client.clone(),
        node.clone(),
        args.name.clone(),
    ));
    if args.resume_as_primary {
        try_stale_writes(&args, &node).await;
    }

    let selector = FailoverSelector::new(FailoverPolicy::default())?;
    let mut last_leader: Option<Lease> = None;
    let mut no_leader_since: Option<Instant> = None;
    let mut last_renew = Instant::now();
    let mut last_write = Instant::now();
    let mut choice_shown = false;
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let lease = match &node.lock().await.role {
            Role::Primary(lease) => Some(lease.clone()),
            Role::Follower => None,
        };
        if let Some(lease) = lease {
            if last_renew.elapsed() >= Duration::from_millis(500) {
                last_renew = Instant::now();
                match election.renew(&lease).await {
                    Ok(renewed) => node.lock().await.role = Role::Primary(renewed),
                    Err(e) => {
                        event(format!(
                            "stepped_down name={} epoch={} why={e}",
                            args.name, lease.epoch.0
                        ));
                        node.lock().await.role = Role::Follower;
                        continue;
                    }
                }
            }
            if last_write.elapsed() >= args.write_every {
                last_write = Instant::now();
                let mut n = node.lock().await;
                n.append(lease.epoch);
            }
            continue;
        }
        if last_renew.elapsed() < Duration::from_millis(100) {
            continue;
        }
        last_renew = Instant::now();
        match election.observe().await {
            Ok(Some(leader)) => {
                if last_leader.as_ref().is_none_or(|l| l.epoch != leader.epoch) {
                    event(format!(
                        "following name={} leader={} epoch={}",
                        args.name, leader.holder, leader.epoch.0
                    ));
                    node.lock()
                        .await
                        .fence
                        .observe(&leader.holder, leader.epoch);
                }
                last_leader = Some(leader);
                no_leader_since = None;
                choice_shown = false;
            }
            Ok(None) => {
                let since = *no_leader_since.get_or_insert_with(Instant::now);
                let chosen =
                    match choose(&client, &selector, last_leader.as_ref(), &args.name).await {
                        Ok((chosen, text)) => {
                            if !choice_shown {
                                event(format!("choice by={} {text}", args.name));
                                choice_shown = true;
                            }
                            chosen
                        }
                        Err(e) => {
                            event(format!("choice_failed by={} why={e}", args.name));
                            None
                        }
                    };
                if chosen.as_ref() == Some(&args.name) || since.elapsed() >= FALLBACK_AFTER {
                    match election.campaign(&args.name, LEASE_TTL).await {
                        Ok(Campaign::Won(lease)) => {
                            become_primary(&args, &node, lease).await;
                            last_renew = Instant::now();
                        }
                        Ok(Campaign::Lost { .. }) => {}
                        Err(e) => event(format!("campaign_failed name={} why={e}", args.name)),
                    }
                }
            }
            Err(e) => event(format!("observe_failed name={} why={e}", args.name)),
        }
    }
}

/// ha-replication's failover choice over the replicas' published states: the last leader
/// counts as failed; the others are ranked by how much of the log they hold.
async fn choose(
    client: &Client,
    selector: &FailoverSelector,
    last_leader: Option<&Lease>,
    me: &NodeId,
) -> Result<(Option<NodeId>, String), Box<dyn std::error::Error>> {
    let mut client = client.clone();
    let states = client
        .get(STATE_PREFIX, Some(GetOptions::new().with_prefix()))
        .await?;
    let mut candidates = Vec::new();
    let mut primary_at = Position::ZERO;
    for kv in states.kvs() {
        let name = kv.key_str()?.trim_start_matches(STATE_PREFIX);
        let Some(position) = kv
            .value_str()?
            .split(' ')
            .nth(1)
            .and_then(|p| p.parse().ok())
            .map(Position)
        else {
            continue;
        };
        primary_at = primary_at.max(position);
        let id = NodeId::new(name)?;
        let failed = last_leader.is_some_and(|l| l.holder == id);
        candidates.push((id, position, failed));
    }
    let candidates: Vec<FailoverCandidate> = candidates
        .into_iter()
        .map(|(id, position, failed)| {
            let behind = primary_at.records_after(position);
            FailoverCandidate::new(id, position)
                .with_health(if failed {
                    Health::Unhealthy
                } else {
                    Health::Healthy
                })
                // An estimate: each record behind is one write interval of lag.
                .with_lag(Duration::from_millis(20 * behind))
        })
        .collect();
    let decision = selector.choose(primary_at, &candidates)?;
    let text = format!(
        "me={me} promote={} ranked={} rejected={}",
        decision.promote.as_ref().map_or("none".into(), |p| format!(
            "{}@{}(lost={})",
            p.node, p.position.0, p.records_lost
        )),
        decision
            .ranked
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(","),
        decision
            .rejected
            .iter()
            .map(|(n, why)| format!("{n}:{why:?}").replace(' ', ""))
            .collect::<Vec<_>>()
            .join(","),
    );
    Ok((decision.promote.map(|p| p.node), text))
}

async fn become_primary(args: &ReplicaArgs, node: &Arc<Mutex<Node>>, lease: Lease) {
    let mut n = node.lock().await;
    let at = n.position();
    let history = match n.history.take() {
        None => Ok(EpochHistory::new(lease.epoch)),
        Some(mut h) => h.on_promotion(lease.epoch, at).map(|()| h),
    };
    match history {
        Ok(h) => n.history = Some(h),
        Err(e) => {
            event(format!("promotion_refused name={} why={e}", args.name));
            return;
        }
    }
    n.fence.observe(&args.name, lease.epoch);
    n.role = Role::Primary(lease.clone());
    event(format!(
        "primary name={} epoch={} position={} history={}",
        args.name,
        lease.epoch.0,
        at.0,
        history_text(&n.history)
    ));
    drop(n);
    for (peer, port) in args.peers.iter().filter(|(p, _)| *p != args.name) {
        tokio::spawn(push(
            node.clone(),
            args.name.clone(),
            lease.epoch,
            peer.clone(),
            *port,
            args.dir.join(format!("cut-{}", args.name)),
        ));
    }
}

/// Streams the log to one follower while this node is the primary of `epoch`. While the file
/// `cut` exists, nothing more is sent (the demo's network cut: the primary goes on writing
/// records no follower receives).
async fn push(
    node: Arc<Mutex<Node>>,
    me: NodeId,
    epoch: Epoch,
    peer: NodeId,
    port: u16,
    cut: PathBuf,
) {
    let still_primary = |n: &Node| matches!(&n.role, Role::Primary(l) if l.epoch == epoch);
    while still_primary(&*node.lock().await) {
        if let Err(e) = push_once(&node, &me, epoch, &peer, port, &cut).await {
            let _ = e; // the follower is down or restarting: try again
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn push_once(
    node: &Arc<Mutex<Node>>,
    me: &NodeId,
    epoch: Epoch,
    peer: &NodeId,
    port: u16,
    cut: &std::path::Path,
) -> Result<(), Box<dyn std::error::Error>> {
    let stream = TcpStream::connect(("127.0.0.1", port)).await?;
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let hello = {
        let n = node.lock().await;
        format!("HELLO {me} {} {}\n", epoch.0, history_text(&n.history))
    };
    write.write_all(hello.as_bytes()).await?;
    let answer = lines.next_line().await?.ok_or("closed")?;
    let words: Vec<&str> = answer.split(' ').collect();
    let (their_epoch, their_position) = match words.as_slice() {
        ["AT", e, p] => (Epoch(e.parse()?), Position(p.parse()?)),
        ["FENCED", e, holder] => {
            event(format!(
                "fenced_off writer={me} epoch={} by={peer} current={e} holder={holder}",
                epoch.0
            ));
            // A newer epoch exists: this node no longer leads.
            let mut n = node.lock().await;
            if matches!(&n.role, Role::Primary(l) if l.epoch == epoch) {
                n.role = Role::Follower;
            }
            return Ok(());
        }
        _ => return Err(format!("bad answer {answer:?}").into()),
    };
    let plan = {
        let n = node.lock().await;
        let history = n.history.clone().ok_or("no history")?;
        let log = RetainedLog::new(Position(1), n.position())?;
        CatchUpConfig::default().plan_rejoin(their_epoch, their_position, &history, log)?
    };
    let mut next = match plan {
        CatchUpPlan::UpToDate => Position(their_position.0 + 1),
        CatchUpPlan::Stream { from, .. } => from,
        CatchUpPlan::Rewind { fork_at, .. } => {
            write
                .write_all(format!("REWIND {}\n", fork_at.0).as_bytes())
                .await?;
            Position(fork_at.0 + 1)
        }
        CatchUpPlan::Diverged { head, .. } => {
            write
                .write_all(format!("REWIND {}\n", head.0).as_bytes())
                .await?;
            Position(head.0 + 1)
        }
        CatchUpPlan::Snapshot { .. } => return Err("snapshot needed: not in this example".into()),
    };
    event(
        format!(
            "catch_up primary={me} epoch={} follower={peer} at={}:{} plan={plan:?}",
            epoch.0, their_epoch.0, their_position.0
        )
        .replace(": ", "=")
        .replace(", ", ",")
        .replace(" {", "{")
        .replace("{ ", "{")
        .replace(" }", "}"),
    );
    let mut reported = false;
    loop {
        let batch: Vec<(u64, Epoch)> = {
            let n = node.lock().await;
            if !matches!(&n.role, Role::Primary(l) if l.epoch == epoch) {
                return Ok(());
            }
            let head = if cut.exists() {
                next.0.saturating_sub(1)
            } else {
                n.position().0
            };
            (next.0..=head)
                .filter_map(|p| Some((p, *n.log.get(usize::try_from(p).ok()?.checked_sub(1)?)?)))
                .collect()
        };
        for (p, e) in &batch {
            write
                .write_all(format!("REC {} {p}\n", e.0).as_bytes())
                .await?;
        }
        if let Some((last, _)) = batch.last() {
            next = Position(last + 1);
            // Wait for the acknowledgement of the batch's last record.
            loop {
                let line = lines.next_line().await?.ok_or("closed")?;
                if line == format!("ACK {last}") {
                    break;
                }
                if line.starts_with("FENCED") {
                    return Err(line.into());
                }
            }
            if !reported {
                event(format!(
                    "caught_up follower={peer} primary={me} epoch={} position={last}",
                    epoch.0
                ));
                reported = true;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The follower side of a stream.
async fn serve(listener: TcpListener, node: Arc<Mutex<Node>>, me: NodeId) {
    while let Ok((stream, _)) = listener.accept().await {
        let node = node.clone();
        let me = me.clone();
        tokio::spawn(async move {
            let _ = follow(stream, node, me).await;
        });
    }
}

async fn follow(
    stream: TcpStream,
    node: Arc<Mutex<Node>>,
    me: NodeId,
) -> Result<(), Box<dyn std::error::Error>> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let hello = lines.next_line().await?.ok_or("closed")?;
    let words: Vec<&str> = hello.split(' ').collect();
    let ["HELLO", primary, epoch, history] = words.as_slice() else {
        return Err(format!("bad hello {hello:?}").into());
    };
    let primary = NodeId::new(*primary)?;
    let epoch = Epoch(epoch.parse()?);
    {
        let mut n = node.lock().await;
        let verdict = n.fence.admit(&primary, epoch);
        if !verdict.is_accepted() {
            event(
                format!(
                    "fenced name={me} writer={primary} epoch={} verdict={verdict:?}",
                    epoch.0
                )
                .replace(": ", "=")
                .replace(", ", ",")
                .replace(" {", "{")
                .replace("{ ", "{")
                .replace(" }", "}"),
            );
            let holder = n.fence.holder().map_or("-".to_string(), |h| h.to_string());
            write
                .write_all(format!("FENCED {} {holder}\n", n.fence.current().0).as_bytes())
                .await?;
            return Ok(());
        }
        if matches!(&n.role, Role::Primary(l) if l.epoch < epoch) {
            event(format!("deposed name={me} by={primary} epoch={}", epoch.0));
            n.role = Role::Follower;
        }
        n.history = parse_history(history);
        let answer = format!("AT {} {}\n", n.last_epoch().0, n.position().0);
        write.write_all(answer.as_bytes()).await?;
    }
    while let Some(line) = lines.next_line().await? {
        let words: Vec<&str> = line.split(' ').collect();
        let mut n = node.lock().await;
        if !n.fence.check(&primary, epoch).is_accepted() {
            let holder = n.fence.holder().map_or("-".to_string(), |h| h.to_string());
            event(format!(
                "fenced name={me} writer={primary} epoch={} stream_cut=true",
                epoch.0
            ));
            write
                .write_all(format!("FENCED {} {holder}\n", n.fence.current().0).as_bytes())
                .await?;
            return Ok(());
        }
        match words.as_slice() {
            ["REWIND", to] => {
                let to: usize = to.parse()?;
                let from = n.log.len();
                n.log.truncate(to);
                n.save();
                event(format!(
                    "rewound name={me} from={from} to={to} primary={primary} epoch={}",
                    epoch.0
                ));
            }
            ["REC", e, p] => {
                let (e, p): (u64, usize) = (e.parse()?, p.parse()?);
                if p == n.log.len() + 1 {
                    n.append(Epoch(e));
                } else if p > n.log.len() + 1 {
                    return Err(format!("gap: record {p} after {}", n.log.len()).into());
                }
                drop(n);
                write.write_all(format!("ACK {p}\n").as_bytes()).await?;
            }
            _ => return Err(format!("bad line {line:?}").into()),
        }
    }
    Ok(())
}

/// Publishes `epoch position` under a lease of this process, for the failover choice.
async fn publish_state(client: Client, node: Arc<Mutex<Node>>, me: NodeId) {
    let mut client = client;
    let Ok(granted) = client.lease_grant(2, None).await else {
        return;
    };
    let Ok((mut keeper, mut stream)) = client.lease_keep_alive(granted.id()).await else {
        return;
    };
    let key = format!("{STATE_PREFIX}{me}");
    let mut last_keep = Instant::now();
    loop {
        let value = {
            let n = node.lock().await;
            format!("{} {}", n.last_epoch().0, n.position().0)
        };
        let _ = client
            .put(
                key.as_str(),
                value,
                Some(PutOptions::new().with_lease(granted.id())),
            )
            .await;
        if last_keep.elapsed() >= Duration::from_millis(500) {
            last_keep = Instant::now();
            if keeper.keep_alive().await.is_ok() {
                let _ = stream.message().await;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A deposed primary back from the dead: it still believes it leads the newest epoch in its
/// log, and tries to stream to the others. Their fences refuse it.
async fn try_stale_writes(args: &ReplicaArgs, node: &Arc<Mutex<Node>>) {
    let epoch = node.lock().await.last_epoch();
    for (peer, port) in args.peers.iter().filter(|(p, _)| *p != args.name) {
        let attempt = async {
            let stream = TcpStream::connect(("127.0.0.1", *port)).await?;
            let (read, mut write) = stream.into_split();
            let mut lines = BufReader::new(read).lines();
            write
                .write_all(format!("HELLO {} {} -\n", args.name, epoch.0).as_bytes())
                .await?;
            let answer = lines.next_line().await?.unwrap_or_default();
            Ok::<String, Box<dyn std::error::Error>>(answer)
        };
        match attempt.await {
            Ok(answer) if answer.starts_with("FENCED") => event(format!(
                "stale_write_refused writer={} epoch={} by={peer} answer={}",
                args.name,
                epoch.0,
                answer.replace(' ', "_")
            )),
            Ok(answer) => event(format!(
                "stale_write_accepted writer={} epoch={} by={peer} answer={}",
                args.name,
                epoch.0,
                answer.replace(' ', "_")
            )),
            Err(e) => event(format!(
                "stale_write_unreachable writer={} by={peer} why={e}",
                args.name
            )),
        }
    }
}
