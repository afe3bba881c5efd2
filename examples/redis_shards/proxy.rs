//! The RESP2 sharding proxy: client sessions, command routing, multi-key splitting and the
//! optional ha-cache L1.
//!
//! A session reads whatever the client sent, decodes every complete frame in the buffer, and
//! on the fast path routes them all under one read lock of the routing table, queuing one batch
//! per server (a single key's command is forwarded as the client's own bytes); it then awaits
//! the batches and writes every reply in one write. MGET, MSET, DEL and EXISTS over keys of
//! several servers are split into one command per server and their replies merged.
//!
//! When a batch touches an arc that is moving (see `routing`), the session takes the slow path
//! for that batch: commands one at a time, each under its arc's lock, reading and writing where
//! the arc's `ShardMigration` says, and multi-key commands split per key.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use ha::cache::Cache;
use parking_lot::RwLock;
use redis_protocol::resp2::decode::decode_bytes_mut;
use redis_protocol::resp2::types::BytesFrame;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use crate::backend::{Backend, Reply, command};
use crate::routing::{Route, Routing};

/// Stripes of write epochs guarding cache fills.
const EPOCH_STRIPES: usize = 1024;

/// The L1: values of GET kept in the proxy, invalidated by every write through it.
///
/// A GET that misses notes its key's write epoch, and fills the cache with the reply only if no
/// write to a key of the same stripe began meanwhile; a write bumps the epoch before it is sent
/// and removes the key again once answered. So a fill never brings back a value older than a
/// write acknowledged before the fill.
#[derive(Debug)]
pub(crate) struct L1 {
    cache: Cache<Bytes, Bytes>,
    epochs: Vec<AtomicU64>,
}

impl L1 {
    /// An L1 of at most `entries` values.
    pub(crate) fn new(entries: u64) -> Result<L1, ha::cache::Error> {
        Ok(L1 {
            cache: Cache::builder(entries).build()?,
            epochs: (0..EPOCH_STRIPES).map(|_| AtomicU64::new(0)).collect(),
        })
    }

    fn stripe(&self, key: &[u8]) -> &AtomicU64 {
        &self.epochs[ha::shard::key_hash(key) as usize % EPOCH_STRIPES]
    }

    fn epoch(&self, key: &[u8]) -> u64 {
        self.stripe(key).load(Ordering::Acquire)
    }

    fn before_write(&self, key: &[u8]) {
        self.stripe(key).fetch_add(1, Ordering::AcqRel);
        self.cache.remove(key);
    }

    fn after_write(&self, key: &[u8]) {
        self.cache.remove(key);
    }

    fn fill(&self, key: Bytes, epoch: u64, reply: &Reply) {
        if let BytesFrame::BulkString(value) = &reply.frame {
            if self.epoch(&key) == epoch {
                self.cache.insert(key, value.clone());
            }
        }
    }

    /// The cache's hit and miss counts.
    pub(crate) fn stats(&self) -> ha::cache::CacheStats {
        self.cache.stats()
    }
}

/// Counters of the proxy.
#[derive(Debug, Default)]
pub(crate) struct ProxyStats {
    /// Commands answered.
    pub(crate) commands: AtomicU64,
    /// Commands that took the slow path (an arc moving).
    pub(crate) slow_commands: AtomicU64,
    /// GETs answered from the L1.
    pub(crate) cache_hits: AtomicU64,
}

/// The proxy's shared state.
#[derive(Debug)]
pub(crate) struct Proxy {
    /// Where keys go.
    pub(crate) routing: RwLock<Routing>,
    /// The L1, with `--cache`.
    pub(crate) l1: Option<L1>,
    /// Counters.
    pub(crate) stats: ProxyStats,
}

/// What a command is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ping,
    Quit,
    Get,
    Read,
    Write,
    Mget,
    Mset,
    Del,
    Exists,
    Unsupported,
}

fn kind(name: &[u8]) -> Kind {
    let mut upper = [0u8; 16];
    if name.len() > upper.len() {
        return Kind::Unsupported;
    }
    for (u, b) in upper.iter_mut().zip(name) {
        *u = b.to_ascii_uppercase();
    }
    match &upper[..name.len()] {
        b"PING" => Kind::Ping,
        b"QUIT" => Kind::Quit,
        b"GET" => Kind::Get,
        b"STRLEN" | b"TTL" | b"PTTL" | b"TYPE" | b"GETRANGE" => Kind::Read,
        b"SET" | b"SETNX" | b"SETEX" | b"PSETEX" | b"GETSET" | b"GETDEL" | b"APPEND" | b"INCR"
        | b"DECR" | b"INCRBY" | b"DECRBY" | b"INCRBYFLOAT" | b"EXPIRE" | b"PEXPIRE"
        | b"PERSIST" | b"SETRANGE" => Kind::Write,
        b"MGET" => Kind::Mget,
        b"MSET" => Kind::Mset,
        b"DEL" | b"UNLINK" => Kind::Del,
        b"EXISTS" => Kind::Exists,
        _ => Kind::Unsupported,
    }
}

/// A command's name and arguments, when it is an array of bulk strings.
fn parts(frame: &BytesFrame) -> Option<Vec<&Bytes>> {
    let BytesFrame::Array(items) = frame else {
        return None;
    };
    items
        .iter()
        .map(|i| match i {
            BytesFrame::BulkString(b) | BytesFrame::SimpleString(b) => Some(b),
            _ => None,
        })
        .collect()
}

fn ok() -> Reply {
    Reply::made(BytesFrame::SimpleString(Bytes::from_static(b"OK")))
}

fn wrong_args(name: &[u8]) -> Reply {
    Reply::error(format!(
        "ERR wrong number of arguments for '{}' command",
        String::from_utf8_lossy(name).to_lowercase()
    ))
}

/// How replies of split commands combine.
#[derive(Debug, Clone, Copy)]
enum Merge {
    Mget,
    Mset,
    Sum,
}

/// One server's share of a split command: its batch position and the keys' places.
#[derive(Debug)]
struct Part {
    server: usize,
    index: usize,
    positions: Vec<usize>,
}

/// A command's reply to be: ready now, or waiting for server replies.
#[derive(Debug)]
enum Slot {
    Ready(Reply),
    One {
        server: usize,
        index: usize,
        fill: Option<(Bytes, u64)>,
        written: Option<Bytes>,
    },
    Split {
        merge: Merge,
        parts: Vec<Part>,
        keys: usize,
        written: Vec<Bytes>,
    },
}

/// The per-server batches being built.
struct Batches {
    frames: Vec<Vec<Bytes>>,
}

impl Batches {
    fn push(&mut self, server: usize, frame: Bytes) -> usize {
        let batch = &mut self.frames[server];
        batch.push(frame);
        batch.len() - 1
    }
}

fn merge(merge: Merge, keys: usize, parts: &[Part], replies: &[Option<Vec<Reply>>]) -> Reply {
    let reply_of = |p: &Part| {
        replies[p.server]
            .as_ref()
            .and_then(|r| r.get(p.index))
            .cloned()
            .unwrap_or_else(|| Reply::error("ERR backend unavailable"))
    };
    match merge {
        Merge::Mget => {
            let mut values = vec![BytesFrame::Null; keys];
            for p in parts {
                let r = reply_of(p);
                match r.frame {
                    BytesFrame::Array(items) if items.len() == p.positions.len() => {
                        for (pos, item) in p.positions.iter().zip(items) {
                            values[*pos] = item;
                        }
                    }
                    _ => return r,
                }
            }
            Reply::made(BytesFrame::Array(values))
        }
        Merge::Mset => {
            for p in parts {
                let r = reply_of(p);
                if matches!(r.frame, BytesFrame::Error(_)) {
                    return r;
                }
            }
            ok()
        }
        Merge::Sum => {
            let mut sum = 0;
            for p in parts {
                let r = reply_of(p);
                match r.frame {
                    BytesFrame::Integer(n) => sum += n,
                    _ => return r,
                }
            }
            Reply::made(BytesFrame::Integer(sum))
        }
    }
}

async fn receive(rx: oneshot::Receiver<Vec<Reply>>, backend: &Backend) -> Reply {
    match rx.await {
        Ok(mut replies) if replies.len() == 1 => replies.swap_remove(0),
        _ => Reply::error(format!("ERR backend {} unavailable", backend.address)),
    }
}

impl Proxy {
    /// Answers one session until the client leaves.
    pub(crate) async fn serve_client(self: Arc<Self>, stream: TcpStream) {
        let _ = stream.set_nodelay(true);
        let (mut read, mut write) = stream.into_split();
        let mut input = BytesMut::with_capacity(16 * 1024);
        let mut output = BytesMut::with_capacity(16 * 1024);
        let mut frames = Vec::new();
        loop {
            match read.read_buf(&mut input).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let mut bad = None;
            loop {
                match decode_bytes_mut(&mut input) {
                    Ok(Some((frame, _, raw))) => frames.push((frame, raw)),
                    Ok(None) => break,
                    Err(e) => {
                        bad = Some(Reply::error(format!("ERR Protocol error: {e}")));
                        break;
                    }
                }
            }
            let quit = self.execute(&mut frames, &mut output).await;
            if let Some(bad) = &bad {
                output.extend_from_slice(&bad.raw);
            }
            if write.write_all(&output).await.is_err() || quit || bad.is_some() {
                return;
            }
            output.clear();
        }
    }

    /// Runs `frames` (emptied) and appends their replies to `output`; true after a QUIT.
    async fn execute(&self, frames: &mut Vec<(BytesFrame, Bytes)>, output: &mut BytesMut) -> bool {
        if frames.is_empty() {
            return false;
        }
        let count = frames.len() as u64;
        self.stats.commands.fetch_add(count, Ordering::Relaxed);
        let quit = frames
            .iter()
            .any(|(f, _)| parts(f).is_some_and(|p| kind(p[0]) == Kind::Quit));
        let planned = {
            let routing = self.routing.read();
            self.plan(&routing, frames).map(|(slots, batches)| {
                let receivers: Vec<_> = batches
                    .frames
                    .into_iter()
                    .zip(&routing.backends)
                    .map(|(batch, backend)| (!batch.is_empty()).then(|| backend.send(batch)))
                    .collect();
                (slots, receivers)
            })
        };
        match planned {
            Some((slots, receivers)) => {
                let mut replies: Vec<Option<Vec<Reply>>> = Vec::with_capacity(receivers.len());
                for rx in receivers {
                    replies.push(match rx {
                        Some(rx) => rx.await.ok(),
                        None => None,
                    });
                }
                for slot in slots {
                    let reply = match slot {
                        Slot::Ready(reply) => reply,
                        Slot::One {
                            server,
                            index,
                            fill,
                            written,
                        } => {
                            let reply = replies[server]
                                .as_ref()
                                .and_then(|r| r.get(index))
                                .cloned()
                                .unwrap_or_else(|| Reply::error("ERR backend unavailable"));
                            if let Some(l1) = &self.l1 {
                                if let Some((key, epoch)) = fill {
                                    l1.fill(key, epoch, &reply);
                                }
                                if let Some(key) = written {
                                    l1.after_write(&key);
                                }
                            }
                            reply
                        }
                        Slot::Split {
                            merge: how,
                            parts,
                            keys,
                            written,
                        } => {
                            let reply = merge(how, keys, &parts, &replies);
                            if let Some(l1) = &self.l1 {
                                for key in &written {
                                    l1.after_write(key);
                                }
                            }
                            reply
                        }
                    };
                    output.extend_from_slice(&reply.raw);
                }
                frames.clear();
            }
            None => {
                self.stats.slow_commands.fetch_add(count, Ordering::Relaxed);
                for (frame, raw) in frames.drain(..) {
                    let reply = self.execute_slow(&frame, raw).await;
                    output.extend_from_slice(&reply.raw);
                }
            }
        }
        quit
    }

    /// Plans `frames` on the fast path; `None` when one touches a moving arc.
    fn plan(
        &self,
        routing: &Routing,
        frames: &[(BytesFrame, Bytes)],
    ) -> Option<(Vec<Slot>, Batches)> {
        let mut batches = Batches {
            frames: vec![Vec::new(); routing.backends.len()],
        };
        let mut slots = Vec::with_capacity(frames.len());
        let stable = |key: &[u8]| match routing.route(key) {
            Route::Stable(server) => Some(server),
            Route::Moving(_) => None,
        };
        for (frame, raw) in frames {
            let Some(args) = parts(frame) else {
                slots.push(Slot::Ready(Reply::error(
                    "ERR commands are arrays of strings",
                )));
                continue;
            };
            let Some(name) = args.first() else {
                slots.push(Slot::Ready(Reply::error("ERR empty command")));
                continue;
            };
            let slot = match kind(name) {
                Kind::Ping => Slot::Ready(ping(&args)),
                Kind::Quit => Slot::Ready(ok()),
                Kind::Unsupported => Slot::Ready(unsupported(name)),
                Kind::Get | Kind::Read | Kind::Write if args.len() < 2 => {
                    Slot::Ready(wrong_args(name))
                }
                k @ (Kind::Get | Kind::Read | Kind::Write) => {
                    let key = args[1];
                    let server = stable(key)?;
                    let mut fill = None;
                    let mut written = None;
                    if let Some(l1) = &self.l1 {
                        if k == Kind::Get {
                            if let Some(value) = l1.cache.get(key.as_ref()) {
                                self.stats.cache_hits.fetch_add(1, Ordering::Relaxed);
                                slots.push(Slot::Ready(Reply::made(BytesFrame::BulkString(value))));
                                continue;
                            }
                            fill = Some((key.clone(), l1.epoch(key)));
                        } else if k == Kind::Write {
                            l1.before_write(key);
                            written = Some(key.clone());
                        }
                    }
                    let index = batches.push(server, raw.clone());
                    Slot::One {
                        server,
                        index,
                        fill,
                        written,
                    }
                }
                k @ (Kind::Mget | Kind::Del | Kind::Exists | Kind::Mset) => {
                    let step = if k == Kind::Mset { 2 } else { 1 };
                    let keyed = &args[1..];
                    if keyed.is_empty() || keyed.len() % step != 0 {
                        slots.push(Slot::Ready(wrong_args(name)));
                        continue;
                    }
                    let keys = keyed.len() / step;
                    let mut per_server: Vec<Vec<usize>> = vec![Vec::new(); routing.backends.len()];
                    for i in 0..keys {
                        per_server[stable(keyed[i * step])?].push(i);
                    }
                    let written: Vec<Bytes> = match (&self.l1, k) {
                        (Some(l1), Kind::Mset | Kind::Del) => (0..keys)
                            .map(|i| {
                                let key = keyed[i * step];
                                l1.before_write(key);
                                key.clone()
                            })
                            .collect(),
                        _ => Vec::new(),
                    };
                    let whole = per_server.iter().filter(|p| !p.is_empty()).count() == 1;
                    let mut split = Vec::new();
                    for (server, positions) in per_server.into_iter().enumerate() {
                        if positions.is_empty() {
                            continue;
                        }
                        let frame = if whole {
                            raw.clone()
                        } else {
                            let mut cmd: Vec<&[u8]> = vec![name.as_ref()];
                            for &i in &positions {
                                cmd.extend(
                                    keyed[i * step..(i + 1) * step].iter().map(|b| b.as_ref()),
                                );
                            }
                            command(&cmd)
                        };
                        let index = batches.push(server, frame);
                        split.push(Part {
                            server,
                            index,
                            positions,
                        });
                    }
                    let how = match k {
                        Kind::Mget => Merge::Mget,
                        Kind::Mset => Merge::Mset,
                        _ => Merge::Sum,
                    };
                    Slot::Split {
                        merge: how,
                        parts: split,
                        keys,
                        written,
                    }
                }
            };
            slots.push(slot);
        }
        Some((slots, batches))
    }

    /// One command on the slow path.
    async fn execute_slow(&self, frame: &BytesFrame, raw: Bytes) -> Reply {
        let Some(args) = parts(frame) else {
            return Reply::error("ERR commands are arrays of strings");
        };
        let Some(name) = args.first() else {
            return Reply::error("ERR empty command");
        };
        match kind(name) {
            Kind::Ping => ping(&args),
            Kind::Quit => ok(),
            Kind::Unsupported => unsupported(name),
            Kind::Get | Kind::Read | Kind::Write if args.len() < 2 => wrong_args(name),
            Kind::Get => self.get_slow(args[1], raw).await,
            Kind::Read => self.on_key(args[1], raw, false).await,
            Kind::Write => self.write_slow(args[1], raw).await,
            Kind::Mget => {
                if args.len() < 2 {
                    return wrong_args(name);
                }
                let mut values = Vec::with_capacity(args.len() - 1);
                for key in &args[1..] {
                    let reply = self.get_slow(key, command(&[b"GET", key])).await;
                    match reply.frame {
                        BytesFrame::Error(_) => return reply,
                        frame => values.push(frame),
                    }
                }
                Reply::made(BytesFrame::Array(values))
            }
            Kind::Mset => {
                if args.len() < 3 || args.len() % 2 == 0 {
                    return wrong_args(name);
                }
                for pair in args[1..].chunks(2) {
                    let reply = self
                        .write_slow(pair[0], command(&[b"SET", pair[0], pair[1]]))
                        .await;
                    if matches!(reply.frame, BytesFrame::Error(_)) {
                        return reply;
                    }
                }
                ok()
            }
            k @ (Kind::Del | Kind::Exists) => {
                if args.len() < 2 {
                    return wrong_args(name);
                }
                let mut sum = 0;
                for key in &args[1..] {
                    let cmd = command(&[name, key]);
                    let reply = if k == Kind::Del {
                        self.write_slow(key, cmd).await
                    } else {
                        self.on_key(key, cmd, false).await
                    };
                    match reply.frame {
                        BytesFrame::Integer(n) => sum += n,
                        _ => return reply,
                    }
                }
                Reply::made(BytesFrame::Integer(sum))
            }
        }
    }

    async fn get_slow(&self, key: &Bytes, cmd: Bytes) -> Reply {
        let Some(l1) = &self.l1 else {
            return self.on_key(key, cmd, false).await;
        };
        if let Some(value) = l1.cache.get(key.as_ref()) {
            self.stats.cache_hits.fetch_add(1, Ordering::Relaxed);
            return Reply::made(BytesFrame::BulkString(value));
        }
        let epoch = l1.epoch(key);
        let reply = self.on_key(key, cmd, false).await;
        l1.fill(key.clone(), epoch, &reply);
        reply
    }

    async fn write_slow(&self, key: &Bytes, cmd: Bytes) -> Reply {
        if let Some(l1) = &self.l1 {
            l1.before_write(key);
        }
        let reply = self.on_key(key, cmd, true).await;
        if let Some(l1) = &self.l1 {
            l1.after_write(key);
        }
        reply
    }

    /// One single-key command, routed through its arc's migration when the arc is moving.
    async fn on_key(&self, key: &Bytes, cmd: Bytes, write: bool) -> Reply {
        loop {
            let routed = {
                let routing = self.routing.read();
                match routing.route(key) {
                    Route::Stable(server) => {
                        // Queued under the routing lock, so a migration starting after this
                        // sees the command done once its barrier returns.
                        let backend = routing.backends[server].clone();
                        let rx = backend.send(vec![cmd.clone()]);
                        Err((rx, backend))
                    }
                    Route::Moving(arc) => Ok((arc, routing.backends.clone())),
                }
            };
            let (arc, backends) = match routed {
                Ok(moving) => moving,
                Err((rx, backend)) => return receive(rx, &backend).await,
            };
            let mut state = arc.state.lock().await;
            if !write {
                let server = state.index_of(state.migration.reads_go_to());
                return backends[server].call(cmd).await;
            }
            let route = state.migration.writes_go_to();
            if route.held {
                drop(state);
                tokio::time::sleep(Duration::from_millis(1)).await;
                continue;
            }
            state.touched.insert(key.clone());
            if route.captured_for_catch_up {
                state.captured.insert(key.clone());
            }
            let to = state.index_of(&route.to);
            let also = route.also_to.as_ref().map(|n| state.index_of(n));
            let first = backends[to].send(vec![cmd.clone()]);
            let second = also.map(|a| backends[a].send(vec![cmd]));
            let reply = receive(first, &backends[to]).await;
            if let (Some(rx), Some(a)) = (second, also) {
                let copy = receive(rx, &backends[a]).await;
                if matches!(copy.frame, BytesFrame::Error(_)) {
                    return copy;
                }
            }
            return reply;
        }
    }
}

fn ping(args: &[&Bytes]) -> Reply {
    match args.get(1) {
        Some(message) => Reply::made(BytesFrame::BulkString((*message).clone())),
        None => Reply::made(BytesFrame::SimpleString(Bytes::from_static(b"PONG"))),
    }
}

fn unsupported(name: &[u8]) -> Reply {
    Reply::error(format!(
        "ERR command '{}' is not supported by this proxy",
        String::from_utf8_lossy(name)
    ))
}

/// Accepts clients on `listener` forever, a task each.
pub(crate) async fn serve(proxy: Arc<Proxy>, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(Arc::clone(&proxy).serve_client(stream));
            }
            Err(e) => {
                eprintln!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}
