//! The coordinator: every key's reads and writes, decided by the crates.
//!
//! - where: ha-shard's `KeyRouter` over a hash `ShardMap` and zone-aware `ShardPlacement`
//!   (replication factor 3), with in-flight migrations;
//! - how many must answer: ha-replication's `WriteCoordinator` / `ReadCoordinator` at the chosen
//!   consistency level over last-writer-wins `Stamped` values from a `HybridClock`, or an ABD
//!   register operation (`AbdOperation`) in strong mode; read repair from the read coordinator;
//!   `HintStore` hinted handoff for replicas that missed a write; `LagTracker` for how far
//!   behind each node is;
//! - which replica and whether at all: the `Guard` (φ accrual, breakers, outlier ejection, P2C
//!   peak-EWMA) and a per-client GCRA `KeyedRateLimiter` (ha-balance);
//! - an ha-cache `Cache` in front of reads (not in strong mode: it would break linearizability).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ha::balance::{KeyedLimiterConfig, KeyedRateLimiter, RateLimitConfig};
use ha::cache::Cache;
use ha::core::NodeId;
use ha::replication::{
    AbdOperation, AbdOutput, AbdQuorums, AbdReply, AbdRequest, AbdWriter, ConsistencyLevel,
    HintConfig, HintOutcome, HintStore, HlcTimestamp, HybridClock, LagConfig, LagTracker, PerStage,
    Position, Progress, QuorumConfig, ReadCoordinator, ReplicaSet, ReplicationConfig, Requirement,
    Stamped, Tag, Tagged, WriteCoordinator,
};
use ha::shard::KeyRouter;
use parking_lot::{Mutex, RwLock};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::sync::mpsc;

use crate::client::{CallError, NodeClient};
use crate::guard::{Guard, GuardEvent};
use crate::protocol::{Request, Response, Version, Versioned};
use crate::report::{Cause, Metrics};

pub(crate) type Value = Option<Vec<u8>>;
pub(crate) type Item = Stamped<Value>;

/// The consistency a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Consistency {
    One,
    Quorum,
    All,
    /// Linearizable: every read and write is an ABD register operation over a majority.
    Strong,
}

impl Consistency {
    fn level(self) -> ConsistencyLevel {
        match self {
            Consistency::One => ConsistencyLevel::One,
            Consistency::Quorum | Consistency::Strong => ConsistencyLevel::Quorum,
            Consistency::All => ConsistencyLevel::All,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) consistency: Consistency,
    pub(crate) replication_factor: usize,
    pub(crate) op_timeout: Duration,
    pub(crate) call_timeout: Duration,
    pub(crate) client_rate: f64,
    pub(crate) cache_entries: u64,
    pub(crate) cache_ttl: Duration,
}

#[derive(Debug)]
pub(crate) struct Member {
    pub(crate) id: NodeId,
    pub(crate) client: NodeClient,
}

/// A line for the event log, printed above the progress bar.
pub(crate) type EventSink = Arc<dyn Fn(String) + Send + Sync>;

pub(crate) struct Coordinator {
    pub(crate) settings: Settings,
    me: NodeId,
    members: RwLock<BTreeMap<NodeId, Arc<Member>>>,
    pub(crate) router: RwLock<KeyRouter>,
    hlc: Mutex<HybridClock>,
    /// Numbers this coordinator's strong-mode writes, many of which run at once (ABD needs each
    /// concurrent write of one writer id told apart; the nonce travels as the version's minor).
    abd_writer: Mutex<AbdWriter>,
    pub(crate) guard: Mutex<Guard>,
    hints: Mutex<HintStore<Vec<u8>, Item>>,
    lag: Mutex<LagTracker>,
    /// Per node, the writes (sequence number → key) sent but not yet applied there, hinted ones
    /// included: the oldest is the node's replication watermark for the lag tracker.
    pending: Mutex<BTreeMap<NodeId, BTreeMap<u64, Vec<u8>>>>,
    write_seq: AtomicU64,
    /// Replica reads sent, per node.
    reads_sent: Mutex<BTreeMap<NodeId, u64>>,
    lag_p99: Mutex<Duration>,
    pub(crate) cache: Cache<Vec<u8>, Arc<Item>>,
    limiter: KeyedRateLimiter<String>,
    rng: Mutex<StdRng>,
    pub(crate) metrics: Arc<Metrics>,
    events: EventSink,
}

impl std::fmt::Debug for Coordinator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coordinator").field("me", &self.me).finish()
    }
}

/// A node's answer to one call, sent back to the operation waiting for it.
type Reply = (NodeId, Result<Response, CallError>, Duration);

fn physical_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

fn to_wire(item: &Item) -> Versioned {
    Versioned {
        version: Version {
            major: item.stamp.wall_nanos,
            minor: item.stamp.logical,
            writer: item.writer.as_str().to_owned(),
        },
        value: item.value.clone(),
    }
}

fn from_wire(v: Versioned) -> Result<Item, CallError> {
    let writer = NodeId::new(&v.version.writer).map_err(|_| CallError::Protocol)?;
    let stamp = HlcTimestamp {
        wall_nanos: v.version.major,
        logical: v.version.minor,
    };
    Ok(Stamped::new(v.value, stamp, writer))
}

fn tagged_from_wire(v: Versioned) -> Result<Tagged<Value>, CallError> {
    let writer = NodeId::new(&v.version.writer).map_err(|_| CallError::Protocol)?;
    Ok(Tagged {
        tag: Tag {
            seq: v.version.major,
            writer,
            nonce: u64::from(v.version.minor),
        },
        value: v.value,
    })
}

fn item_from_tagged(t: &Tagged<Value>) -> Item {
    // The nonce fits: `write` refuses nonces past u32::MAX.
    let stamp = HlcTimestamp {
        wall_nanos: t.tag.seq,
        logical: u32::try_from(t.tag.nonce).unwrap_or(u32::MAX),
    };
    Stamped::new(t.value.clone(), stamp, t.tag.writer.clone())
}

impl Coordinator {
    pub(crate) fn new(
        settings: Settings,
        members: Vec<Member>,
        router: KeyRouter,
        metrics: Arc<Metrics>,
        events: EventSink,
    ) -> Result<Arc<Coordinator>, Box<dyn std::error::Error + Send + Sync>> {
        let now = Instant::now();
        let ids: Vec<NodeId> = members.iter().map(|m| m.id.clone()).collect();
        let mut lag = LagTracker::new(LagConfig::default())?;
        for id in &ids {
            lag.add_replica(id.clone())?;
        }
        let limiter = KeyedRateLimiter::new(
            KeyedLimiterConfig {
                limit: RateLimitConfig {
                    requests_per_second: settings.client_rate,
                    burst: 200,
                },
                ..KeyedLimiterConfig::default()
            },
            now,
        )?;
        let cache = Cache::builder(settings.cache_entries.max(1))
            .time_to_live(settings.cache_ttl)
            .build()?;
        let hints = HintStore::new(HintConfig {
            max_hints_per_node: 1_000_000,
            max_hints: 4_000_000,
            max_hint_window: Duration::from_secs(600),
        })?;
        let me = NodeId::new("coordinator")?;
        Ok(Arc::new(Coordinator {
            abd_writer: Mutex::new(AbdWriter::new(me.clone(), 0)),
            me,
            guard: Mutex::new(Guard::new(&ids, settings.call_timeout, now)?),
            members: RwLock::new(
                members
                    .into_iter()
                    .map(|m| (m.id.clone(), Arc::new(m)))
                    .collect(),
            ),
            router: RwLock::new(router),
            hlc: Mutex::new(HybridClock::new(Duration::from_millis(500))?),
            hints: Mutex::new(hints),
            lag: Mutex::new(lag),
            pending: Mutex::new(ids.iter().map(|i| (i.clone(), BTreeMap::new())).collect()),
            write_seq: AtomicU64::new(0),
            reads_sent: Mutex::new(BTreeMap::new()),
            lag_p99: Mutex::new(Duration::ZERO),
            cache,
            limiter,
            rng: Mutex::new(StdRng::seed_from_u64(7)),
            metrics,
            events,
            settings,
        }))
    }

    pub(crate) fn member(&self, id: &NodeId) -> Option<Arc<Member>> {
        self.members.read().get(id).cloned()
    }

    pub(crate) fn member_ids(&self) -> Vec<NodeId> {
        self.members.read().keys().cloned().collect()
    }

    pub(crate) fn add_member(
        &self,
        member: Member,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.guard.lock().add_node(&member.id)?;
        self.lag.lock().add_replica(member.id.clone())?;
        self.pending
            .lock()
            .insert(member.id.clone(), BTreeMap::new());
        self.members
            .write()
            .insert(member.id.clone(), Arc::new(member));
        Ok(())
    }

    fn requirement(&self, n: usize, read: bool) -> Result<Requirement, Cause> {
        let config = QuorumConfig {
            replication: ReplicationConfig::single_datacenter(n),
            read: self.settings.consistency.level(),
            write: self.settings.consistency.level(),
        };
        let r = if read {
            config.read_requirement()
        } else {
            config.write_requirement()
        };
        r.map_err(|_| Cause::Unavailable)
    }

    /// The client's GCRA budget.
    pub(crate) fn admit(&self, client: &str) -> Result<(), Cause> {
        if self
            .limiter
            .check(&client.to_owned(), Instant::now())
            .is_admitted()
        {
            Ok(())
        } else {
            Err(Cause::RateLimited)
        }
    }

    fn emit(&self, events: Vec<GuardEvent>) {
        for e in events {
            let line = match e {
                GuardEvent::Suspected { node, phi } => {
                    format!("φ accrual: {node} suspected (φ = {phi:.1})")
                }
                GuardEvent::Recovered { node } => format!("φ accrual: {node} heartbeats again"),
                GuardEvent::Ejected { node } => format!("outlier detection: {node} ejected"),
                GuardEvent::Unejected { node } => format!("outlier detection: {node} back"),
                GuardEvent::BreakerOpened { node } => format!("circuit breaker: {node} open"),
                GuardEvent::BreakerClosed { node } => format!("circuit breaker: {node} closed"),
            };
            (self.events)(line);
        }
    }

    /// Sends one request to `node` through the guard, in the background; the answer goes to
    /// `tx`. `set` names the replica set whose balancer hears about it (reads).
    fn send(
        self: &Arc<Self>,
        node: NodeId,
        request: Request,
        set: Option<Vec<NodeId>>,
        tx: mpsc::UnboundedSender<Reply>,
    ) {
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let result = this.call(&node, &request, set.as_deref()).await;
            let _ = tx.send((node, result.0, result.1));
        });
    }

    async fn call(
        &self,
        node: &NodeId,
        request: &Request,
        set: Option<&[NodeId]>,
    ) -> (Result<Response, CallError>, Duration) {
        let start = Instant::now();
        let permit = {
            let mut guard = self.guard.lock();
            let admitted = guard.admit(node, start);
            if admitted.is_ok() {
                if let Some(set) = set {
                    guard.on_sent(set, node, start);
                }
            }
            admitted
        };
        let Ok(permit) = permit else {
            return (Err(CallError::Connection), Duration::ZERO);
        };
        let Some(member) = self.member(node) else {
            return (Err(CallError::Protocol), Duration::ZERO);
        };
        let result = member.client.call(request).await;
        let now = Instant::now();
        let latency = now - start;
        let events = self.guard.lock().on_call(
            node,
            permit,
            result.as_ref().map(|_| ()).map_err(|e| *e),
            latency,
            set,
            now,
        );
        self.emit(events);
        (result, latency)
    }

    /// A put to one replica whose failure leaves a hint; the answer also goes to `tx`.
    fn send_put(
        self: &Arc<Self>,
        node: NodeId,
        key: Vec<u8>,
        item: Item,
        seq: u64,
        tx: Option<mpsc::UnboundedSender<Reply>>,
    ) {
        let this = Arc::clone(self);
        self.pending
            .lock()
            .entry(node.clone())
            .or_default()
            .insert(seq, key.clone());
        tokio::spawn(async move {
            let request = Request::Put {
                key: key.clone(),
                item: to_wire(&item),
            };
            let (result, latency) = this.call(&node, &request, None).await;
            let result = match result {
                Ok(Response::Ack { .. }) => Ok(Response::Ack {
                    applied: true,
                    position: 0,
                }),
                Ok(_) => Err(CallError::Protocol),
                Err(e) => Err(e),
            };
            if result.is_ok() {
                if let Some(p) = this.pending.lock().get_mut(&node) {
                    p.remove(&seq);
                }
            } else {
                this.store_hint(node.clone(), key, item);
            }
            if let Some(tx) = tx {
                let _ = tx.send((node, result, latency));
            }
        });
    }

    /// Keeps a write `node` missed, to hand it off when the node is back.
    fn store_hint(&self, node: NodeId, key: Vec<u8>, item: Item) {
        let outcome = self.hints.lock().store(node, key, item, Instant::now());
        match outcome {
            HintOutcome::Stored => {
                self.metrics.hints_stored.fetch_add(1, Ordering::Relaxed);
            }
            HintOutcome::Coalesced => {}
            HintOutcome::Dropped => {
                self.metrics.hints_dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn cache_put(&self, key: &[u8], item: &Item) {
        if self.settings.consistency == Consistency::Strong {
            return;
        }
        let newer = self.cache.peek(key).is_none_or(|c| item.wins_over(&c));
        if newer {
            self.cache.insert(key.to_vec(), Arc::new(item.clone()));
        }
    }

    /// A write (a `None` value deletes) at the run's consistency.
    pub(crate) async fn write(self: &Arc<Self>, key: Vec<u8>, value: Value) -> Result<(), Cause> {
        if self.settings.consistency == Consistency::Strong {
            let op = {
                let route = self.router.read().route(&key);
                let replicas = ReplicaSet::single_datacenter(route.write_to)
                    .map_err(|_| Cause::Unavailable)?;
                let n = replicas.len();
                let deadline = Instant::now() + self.settings.op_timeout;
                let mut writer = self.abd_writer.lock();
                // The wire carries the nonce in 32 bits: past that, refuse rather than reuse one.
                if writer.next_nonce() > u64::from(u32::MAX) {
                    return Err(Cause::Unavailable);
                }
                writer
                    .write(replicas, AbdQuorums::majority(n), value, deadline)
                    .map_err(|_| Cause::Unavailable)?
            };
            return self.abd(key, op).await.map(|_| ());
        }
        let route = self.router.read().route(&key);
        if route.held {
            return Err(Cause::Held);
        }
        let stamp = self
            .hlc
            .lock()
            .now(physical_now())
            .map_err(|_| Cause::Protocol)?;
        let item = Stamped::new(value, stamp, self.me.clone());
        let seq = self.write_seq.fetch_add(1, Ordering::Relaxed) + 1;
        let deadline = Instant::now() + self.settings.op_timeout;
        let requirement = self.requirement(route.write_to.len(), false)?;
        let replicas = ReplicaSet::single_datacenter(route.write_to.clone())
            .map_err(|_| Cause::Unavailable)?;
        let mut write = WriteCoordinator::new(replicas, &requirement, deadline)
            .map_err(|_| Cause::Unavailable)?;
        let (tx, mut rx) = mpsc::unbounded_channel();
        for node in &route.write_to {
            self.send_put(
                node.clone(),
                key.clone(),
                item.clone(),
                seq,
                Some(tx.clone()),
            );
        }
        for node in &route.also_write_to {
            self.send_put(node.clone(), key.clone(), item.clone(), seq, None);
        }
        drop(tx);
        let outcome = loop {
            let at = tokio::time::Instant::from_std(deadline);
            let progress = match tokio::time::timeout_at(at, rx.recv()).await {
                Ok(Some((node, Ok(_), _))) => write.on_ack(&node),
                Ok(Some((node, Err(_), _))) => write.on_failure(&node),
                Ok(None) | Err(_) => Ok(write.handle_timeout(Instant::now().max(deadline))),
            };
            match progress {
                Ok(Progress::Succeeded(_)) => break Ok(()),
                Ok(Progress::Failed(f)) => break Err(failure_cause(&f)),
                Ok(Progress::NeedMore) => {}
                Err(_) => break Err(Cause::Protocol),
            }
        };
        if outcome.is_ok() {
            self.cache_put(&key, &item);
        }
        outcome
    }

    /// A read at the run's consistency, through the L1 cache (except in strong mode).
    pub(crate) async fn read(self: &Arc<Self>, key: &[u8]) -> Result<Value, Cause> {
        if self.settings.consistency == Consistency::Strong {
            return self.strong_read(key).await;
        }
        if let Some(hit) = self.cache.get(key) {
            return Ok(hit.value.clone());
        }
        let n = self.settings.replication_factor;
        let requirement = self.requirement(n, true)?;
        let item = self.read_replicas(key, &requirement).await?;
        if let Some(item) = &item {
            self.cache_put(key, item);
        }
        Ok(item.and_then(|i| i.value))
    }

    /// A read that bypasses the cache at QUORUM (or ABD in strong mode), for verification.
    pub(crate) async fn read_verified(self: &Arc<Self>, key: &[u8]) -> Result<Value, Cause> {
        if self.settings.consistency == Consistency::Strong {
            return self.strong_read(key).await;
        }
        let requirement = Requirement::majority(self.settings.replication_factor)
            .map_err(|_| Cause::Unavailable)?;
        Ok(self
            .read_replicas(key, &requirement)
            .await?
            .and_then(|i| i.value))
    }

    async fn strong_read(self: &Arc<Self>, key: &[u8]) -> Result<Value, Cause> {
        let op = {
            let route = self.router.read().route(key);
            let replicas =
                ReplicaSet::single_datacenter(route.read_from).map_err(|_| Cause::Unavailable)?;
            let n = replicas.len();
            let deadline = Instant::now() + self.settings.op_timeout;
            AbdOperation::read(replicas, AbdQuorums::majority(n), deadline)
                .map_err(|_| Cause::Unavailable)?
        };
        match self.abd(key.to_vec(), op).await? {
            AbdOutput::Read(v) => Ok(v.flatten()),
            AbdOutput::Written(_) => Err(Cause::Protocol),
        }
    }

    async fn read_replicas(
        self: &Arc<Self>,
        key: &[u8],
        requirement: &Requirement,
    ) -> Result<Option<Item>, Cause> {
        let set = self.router.read().route(key).read_from;
        let deadline = Instant::now() + self.settings.op_timeout;
        let replicas =
            ReplicaSet::single_datacenter(set.clone()).map_err(|_| Cause::Unavailable)?;
        let mut read: ReadCoordinator<Item> = ReadCoordinator::new(replicas, requirement, deadline)
            .map_err(|_| Cause::Unavailable)?;
        let order = {
            let mut rng = self.rng.lock();
            self.guard.lock().read_order(&set, Instant::now(), &mut rng)
        };
        let (tx, mut rx) = mpsc::unbounded_channel::<Reply>();
        let mut next = 0;
        let send_next = |this: &Arc<Self>, next: &mut usize| {
            if let Some(node) = order.get(*next) {
                *this.reads_sent.lock().entry(node.clone()).or_insert(0) += 1;
                let request = Request::Get { key: key.to_vec() };
                this.send(node.clone(), request, Some(set.clone()), tx.clone());
                *next += 1;
            }
        };
        for _ in 0..requirement.total {
            send_next(self, &mut next);
        }
        // Hedge: ask one more replica if the first ones are slow.
        let mut hedge_at = Instant::now() + Duration::from_millis(15);
        let outcome = loop {
            let wake = hedge_at.min(deadline);
            let at = tokio::time::Instant::from_std(wake);
            let progress = match tokio::time::timeout_at(at, rx.recv()).await {
                Ok(Some((node, Ok(Response::Value(v)), _))) => match v.map(from_wire).transpose() {
                    Ok(copy) => read.on_value(&node, copy),
                    Err(_) => read.on_failure(&node),
                },
                Ok(Some((node, _, _))) => {
                    send_next(self, &mut next);
                    read.on_failure(&node)
                }
                Ok(None) => Ok(read.handle_timeout(Instant::now().max(deadline))),
                Err(_) if wake == hedge_at && hedge_at < deadline => {
                    send_next(self, &mut next);
                    hedge_at = deadline;
                    Ok(Progress::NeedMore)
                }
                Err(_) => Ok(read.handle_timeout(Instant::now().max(deadline))),
            };
            match progress {
                Ok(Progress::Succeeded(merged)) => break Ok(merged),
                Ok(Progress::Failed(f)) => break Err(failure_cause(&f)),
                Ok(Progress::NeedMore) => {}
                Err(_) => break Err(Cause::Protocol),
            }
        };
        if outcome.is_ok() {
            for repair in read.repairs() {
                self.metrics.read_repairs.fetch_add(1, Ordering::Relaxed);
                let seq = self.write_seq.load(Ordering::Relaxed);
                self.send_put(repair.replica, key.to_vec(), repair.value, seq, None);
            }
        }
        outcome
    }

    /// Runs one ABD operation to its end: queries, then the update phase.
    async fn abd(
        self: &Arc<Self>,
        key: Vec<u8>,
        mut op: AbdOperation<Value>,
    ) -> Result<AbdOutput<Value>, Cause> {
        let (tx, mut rx) =
            mpsc::unbounded_channel::<(NodeId, Result<AbdReply<Value>, CallError>)>();
        loop {
            while let Some((node, request)) = op.poll_transmit() {
                let this = Arc::clone(self);
                let (tx, key) = (tx.clone(), key.clone());
                tokio::spawn(async move {
                    let reply = match request {
                        AbdRequest::Query => {
                            let r = this.call(&node, &Request::Get { key }, None).await.0;
                            match r {
                                Ok(Response::Value(v)) => {
                                    v.map(tagged_from_wire).transpose().map(AbdReply::Value)
                                }
                                Ok(_) => Err(CallError::Protocol),
                                Err(e) => Err(e),
                            }
                        }
                        AbdRequest::Update(tagged) => {
                            let item = item_from_tagged(&tagged);
                            let put = Request::Put {
                                key: key.clone(),
                                item: to_wire(&item),
                            };
                            match this.call(&node, &put, None).await.0 {
                                Ok(Response::Ack { .. }) => Ok(AbdReply::Ack(tagged.tag)),
                                Ok(_) => Err(CallError::Protocol),
                                Err(e) => {
                                    this.store_hint(node.clone(), key, item);
                                    Err(e)
                                }
                            }
                        }
                    };
                    let _ = tx.send((node, reply));
                });
            }
            let Some(deadline) = op.poll_timeout() else {
                break;
            };
            let at = tokio::time::Instant::from_std(deadline);
            let progress = match tokio::time::timeout_at(at, rx.recv()).await {
                Ok(Some((node, Ok(reply)))) => op.on_reply(&node, reply),
                Ok(Some((node, Err(_)))) => op.on_failure(&node),
                Ok(None) | Err(_) => Ok(op.handle_timeout(Instant::now().max(deadline))),
            };
            match progress {
                Ok(Progress::Succeeded(out)) => return Ok(out),
                Ok(Progress::Failed(f)) => return Err(failure_cause(&f)),
                Ok(Progress::NeedMore) => {}
                Err(_) => return Err(Cause::Protocol),
            }
        }
        match op.progress() {
            Progress::Succeeded(out) => Ok(out),
            Progress::Failed(f) => Err(failure_cause(&f)),
            Progress::NeedMore => Err(Cause::Timeout),
        }
    }

    /// Background work every 100 ms until `stop`: heartbeats, suspicion, outlier sweeps,
    /// breaker timeouts, hint delivery and lag reports.
    pub(crate) async fn maintain(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let delivering: Arc<Mutex<HashSet<NodeId>>> = Arc::default();
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.changed() => return,
            }
            let now = Instant::now();
            let ids = self.member_ids();
            for id in &ids {
                let this = Arc::clone(&self);
                let id = id.clone();
                tokio::spawn(async move {
                    let Some(member) = this.member(&id) else {
                        return;
                    };
                    let answer = member
                        .client
                        .call_within(&Request::Heartbeat, Duration::from_millis(500))
                        .await;
                    if let Ok(Response::Heartbeat { .. }) = answer {
                        this.guard.lock().on_heartbeat(&id, Instant::now());
                    }
                });
            }
            let events = self.guard.lock().tick(&ids, now);
            self.emit(events);
            self.deliver_hints(&ids, &delivering);
            let _ = self.hints.lock().handle_timeout(now);
            self.report_lag(&ids, now);
        }
    }

    fn deliver_hints(self: &Arc<Self>, ids: &[NodeId], delivering: &Arc<Mutex<HashSet<NodeId>>>) {
        for id in ids {
            if self.guard.lock().is_suspected(id) || !delivering.lock().insert(id.clone()) {
                continue;
            }
            let batch = self.hints.lock().take(id, 500);
            if batch.is_empty() {
                delivering.lock().remove(id);
                continue;
            }
            let this = Arc::clone(self);
            let (id, delivering) = (id.clone(), Arc::clone(delivering));
            tokio::spawn(async move {
                let mut delivered = HashSet::new();
                let mut rest = batch.into_iter();
                for hint in rest.by_ref() {
                    let Some(member) = this.member(&id) else {
                        break;
                    };
                    let put = Request::Put {
                        key: hint.key.clone(),
                        item: to_wire(&hint.value),
                    };
                    if member.client.call(&put).await.is_ok() {
                        this.metrics.hints_delivered.fetch_add(1, Ordering::Relaxed);
                        this.cache.remove(&hint.key);
                        delivered.insert(hint.key);
                    } else {
                        this.hints
                            .lock()
                            .store(hint.target, hint.key, hint.value, Instant::now());
                        break;
                    }
                }
                for hint in rest {
                    this.hints
                        .lock()
                        .store(hint.target, hint.key, hint.value, Instant::now());
                }
                if let Some(p) = this.pending.lock().get_mut(&id) {
                    p.retain(|_, k| !delivered.contains(k));
                }
                delivering.lock().remove(&id);
            });
        }
    }

    fn report_lag(&self, ids: &[NodeId], now: Instant) {
        let head = self.write_seq.load(Ordering::Relaxed);
        let marks: Vec<(NodeId, u64)> = {
            let pending = self.pending.lock();
            ids.iter()
                .map(|id| {
                    let first = pending.get(id).and_then(|p| p.keys().next().copied());
                    (
                        id.clone(),
                        first.map_or(head, |s| s.saturating_sub(1).min(head)),
                    )
                })
                .collect()
        };
        let mut lag = self.lag.lock();
        if let Err(e) = lag.on_primary_write(Position(head), now) {
            tracing::debug!(error = %e, "lag tracker refused the head");
        }
        let mut worst = Duration::ZERO;
        for (id, mark) in marks {
            let _ = lag.on_replica_report(&id, PerStage::uniform(Position(mark)), now);
            if let Ok(report) = lag.replica(&id, now) {
                worst = worst.max(report.p99.replay.unwrap_or_default());
            }
        }
        let mut p99 = self.lag_p99.lock();
        *p99 = (*p99).max(worst);
    }

    /// Replica reads sent so far, per node.
    pub(crate) fn reads_sent(&self) -> BTreeMap<NodeId, u64> {
        self.reads_sent.lock().clone()
    }

    /// The worst replica's p99 replication lag seen so far.
    pub(crate) fn lag_p99(&self) -> Duration {
        *self.lag_p99.lock()
    }

    pub(crate) fn hints_pending(&self) -> usize {
        self.hints.lock().len()
    }

    /// Figures for INFO and the report.
    pub(crate) fn info(&self) -> Vec<(String, String)> {
        let stats = self.cache.stats();
        let counts = self.guard.lock().counts;
        let m = &self.metrics;
        vec![
            ("nodes".into(), self.member_ids().len().to_string()),
            (
                "consistency".into(),
                format!("{:?}", self.settings.consistency).to_lowercase(),
            ),
            (
                "ops".into(),
                m.ops_total.load(Ordering::Relaxed).to_string(),
            ),
            (
                "cache_hit_ratio".into(),
                format!("{:.3}", stats.hit_ratio()),
            ),
            ("detections".into(), counts.detections.to_string()),
            ("ejections".into(), counts.ejections.to_string()),
            ("breaker_opens".into(), counts.breaker_opens.to_string()),
            (
                "hints_stored".into(),
                m.hints_stored.load(Ordering::Relaxed).to_string(),
            ),
            (
                "hints_delivered".into(),
                m.hints_delivered.load(Ordering::Relaxed).to_string(),
            ),
            ("hints_pending".into(), self.hints_pending().to_string()),
            (
                "hints_dropped".into(),
                m.hints_dropped.load(Ordering::Relaxed).to_string(),
            ),
            (
                "read_repairs".into(),
                m.read_repairs.load(Ordering::Relaxed).to_string(),
            ),
            ("lag_p99_ms".into(), self.lag_p99().as_millis().to_string()),
        ]
    }
}

fn failure_cause(f: &ha::replication::QuorumFailure) -> Cause {
    match f {
        ha::replication::QuorumFailure::Timeout { .. } => Cause::Timeout,
        _ => Cause::Unavailable,
    }
}
