//! A Redis sharding proxy placing keys with ha-shard's ketama ring — the ring twemproxy uses —
//! in front of real `redis-server` processes; then a fourth server joins and the keys it takes
//! over migrate, arc by arc, through ha-shard's migration state machine while a checked
//! workload runs.
//!
//! Run: `cargo run --release --example redis_shards` (needs `redis-server` on the PATH; add
//! `--cache` for an ha-cache L1 in the proxy, `--quick` for a short run). It starts three
//! servers on free loopback ports, loads 20 000 keys through the proxy (MSET split across the
//! servers), checks each server holds exactly the keys the ring names, then runs readers and
//! writers through the proxy while a fourth server joins: the `Rebalancer` plans the arcs of
//! the circle that change owner as waves of moves, and each move runs as a `ShardMigration`
//! (copy a snapshot, replay the writes captured meanwhile, cut over, delete the old copies).
//! Every read is checked — never missing, never older than a write already acknowledged — and
//! at the end every key is on its new owner only, with its last written value.
//!
//! `--serve` runs only the proxy (`--listen`, `--servers host:port,...` for existing servers),
//! for `redis-cli` or `redis-benchmark`; `scripts/bench_redis_proxy.sh` uses it to compare the
//! proxy with twemproxy. Servers are named for ketama by `host:port`, as twemproxy names server
//! lines without a name (`--named` names them `redis-0`, `redis-1`, … instead, for pools whose
//! lines carry those names).

mod backend;
mod migrate;
mod proxy;
mod routing;
mod servers;

use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use ha::core::{Node, NodeId};
use ha::shard::{HashRing, KetamaName, Placement};
use parking_lot::RwLock;
use redis::AsyncCommands;
use tokio::net::TcpListener;

use crate::backend::Backend;
use crate::proxy::{L1, Proxy, ProxyStats};
use crate::routing::Routing;
use crate::servers::RedisServer;

type BoxError = Box<dyn Error + Send + Sync>;

/// A ketama sharding proxy for Redis, and a live join of a fourth server.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Use these servers (`host:port,...`) instead of starting three; a fourth, if given, is the
    /// one that joins (otherwise one is started).
    #[arg(long, value_delimiter = ',')]
    servers: Vec<String>,
    /// The proxy's address.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    /// Keys loaded before the join.
    #[arg(long, default_value_t = 20_000)]
    keys: u64,
    /// A short run (2 000 keys), for the tests.
    #[arg(long)]
    quick: bool,
    /// Keep an ha-cache L1 of GET values in the proxy.
    #[arg(long)]
    cache: bool,
    /// Entries of the L1.
    #[arg(long, default_value_t = 100_000)]
    cache_entries: u64,
    /// Only run the proxy until Ctrl-C.
    #[arg(long)]
    serve: bool,
    /// Name servers `redis-0`, `redis-1`, … for ketama instead of by `host:port`.
    #[arg(long)]
    named: bool,
    /// Reader tasks of the workload.
    #[arg(long, default_value_t = 4)]
    readers: usize,
    /// Writer tasks of the workload.
    #[arg(long, default_value_t = 2)]
    writers: usize,
    /// Worker threads of the proxy's runtime (1: a single-threaded event loop, as twemproxy).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// The most arcs moving at once (the plan's waves).
    #[arg(long, default_value_t = 64)]
    wave: u32,
}

fn node(index: usize, address: &str) -> Result<Node, ha::core::Error> {
    Ok(Node::new(NodeId::new(format!("redis-{index}"))?, address))
}

fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    // One thread by default, as twemproxy runs: every task of a request (session, server
    // writer, server reader) wakes on the same thread, with no cross-thread hand-offs.
    let runtime = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()?
    };
    runtime.block_on(run(args))
}

async fn run(mut args: Args) -> Result<(), BoxError> {
    if args.quick {
        args.keys = args.keys.min(2_000);
    }
    let name = if args.named {
        KetamaName::Id
    } else {
        KetamaName::Address
    };
    // Servers: given, or started here (and killed on exit).
    let mut owned = Vec::new();
    let mut addresses = args.servers.clone();
    if addresses.is_empty() {
        for _ in 0..3 {
            let server =
                tokio::task::spawn_blocking(|| RedisServer::start().map_err(|e| e.to_string()))
                    .await??;
            addresses.push(server.address.clone());
            owned.push(server);
        }
    }
    if addresses.len() < 3 && !args.serve {
        return Err("--servers needs at least three servers (a fourth joins)".into());
    }
    let pool = if args.serve {
        addresses.clone()
    } else {
        addresses[..3].to_vec()
    };
    let nodes = pool
        .iter()
        .enumerate()
        .map(|(i, a)| node(i, a))
        .collect::<Result<Vec<_>, _>>()?;
    let ring = HashRing::ketama(nodes, name)?;
    let mut backends = Vec::new();
    for address in &pool {
        backends.push(Backend::connect(address).await?);
    }
    let l1 = if args.cache {
        Some(L1::new(args.cache_entries)?)
    } else {
        None
    };
    let proxy = Arc::new(Proxy {
        routing: RwLock::new(Routing {
            backends,
            ring,
            join: None,
        }),
        l1,
        stats: ProxyStats::default(),
    });
    let listener = TcpListener::bind(&args.listen).await?;
    let proxy_address = listener.local_addr()?.to_string();
    tokio::spawn(proxy::serve(Arc::clone(&proxy), listener));
    println!(
        "proxy on {proxy_address}, ketama over {} (named by {}){}",
        pool.join(", "),
        if args.named { "id" } else { "host:port" },
        if args.cache {
            ", with an ha-cache L1"
        } else {
            ""
        }
    );

    if args.serve {
        wait_for_shutdown().await;
        report_proxy(&proxy);
        return Ok(());
    }
    let outcome = demo(&args, &proxy, &proxy_address, &addresses, name).await;
    drop(owned);
    outcome
}

async fn wait_for_shutdown() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

fn report_proxy(proxy: &Proxy) {
    let commands = proxy.stats.commands.load(Ordering::Relaxed);
    let slow = proxy.stats.slow_commands.load(Ordering::Relaxed);
    println!("proxy: {commands} commands, {slow} on the slow path (arcs moving)");
    if let Some(l1) = &proxy.l1 {
        let s = l1.stats();
        let lookups = s.hits + s.misses;
        println!(
            "L1: {} hits of {} GETs ({:.1}%)",
            s.hits,
            lookups,
            100.0 * s.hits as f64 / lookups.max(1) as f64
        );
    }
}

fn key(i: u64) -> String {
    format!("key:{i}")
}

fn value(i: u64, generation: u64) -> String {
    format!("{i}:{generation}")
}

/// What the workload saw.
#[derive(Debug, Default)]
struct Checks {
    reads: AtomicU64,
    unreadable: AtomicU64,
    stale: AtomicU64,
    writes: AtomicU64,
    failed_writes: AtomicU64,
    temp_failures: AtomicU64,
}

/// The last acknowledged generation of every key, and the checks.
#[derive(Debug)]
struct Workload {
    acked: Vec<AtomicU64>,
    checks: Checks,
    stop: AtomicBool,
}

/// A small xorshift generator: the workload's choices need no quality, only speed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

impl Workload {
    /// Checks a value read for key `i`, acknowledged generation `floor` before the read.
    fn check(&self, i: u64, floor: u64, got: Option<String>) {
        self.checks.reads.fetch_add(1, Ordering::Relaxed);
        let Some(got) = got else {
            self.checks.unreadable.fetch_add(1, Ordering::Relaxed);
            eprintln!("unreadable: {}", key(i));
            return;
        };
        let generation = got
            .split_once(':')
            .filter(|(k, _)| k.parse::<u64>() == Ok(i))
            .and_then(|(_, g)| g.parse::<u64>().ok());
        match generation {
            Some(g) if g >= floor => {}
            _ => {
                self.checks.stale.fetch_add(1, Ordering::Relaxed);
                eprintln!("stale: {} = {got}, acknowledged generation {floor}", key(i));
            }
        }
    }

    async fn reader(self: Arc<Self>, address: String, seed: u64) -> Result<(), BoxError> {
        let client = redis::Client::open(format!("redis://{address}/"))?;
        let mut con = client.get_multiplexed_async_connection().await?;
        let n = self.acked.len() as u64;
        let mut rng = Rng(seed | 1);
        while !self.stop.load(Ordering::Relaxed) {
            if rng.below(8) == 0 {
                let ids: Vec<u64> = (0..8).map(|_| rng.below(n)).collect();
                let floors: Vec<u64> = ids
                    .iter()
                    .map(|&i| self.acked[i as usize].load(Ordering::Acquire))
                    .collect();
                let keys: Vec<String> = ids.iter().map(|&i| key(i)).collect();
                match con.mget::<_, Vec<Option<String>>>(&keys).await {
                    Ok(values) => {
                        for ((i, floor), v) in ids.iter().zip(floors).zip(values) {
                            self.check(*i, floor, v);
                        }
                    }
                    Err(e) => {
                        eprintln!("MGET failed: {e}");
                        self.checks.unreadable.fetch_add(8, Ordering::Relaxed);
                    }
                }
            } else {
                let i = rng.below(n);
                let floor = self.acked[i as usize].load(Ordering::Acquire);
                match con.get::<_, Option<String>>(key(i)).await {
                    Ok(v) => self.check(i, floor, v),
                    Err(e) => {
                        eprintln!("GET failed: {e}");
                        self.checks.unreadable.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
        Ok(())
    }

    async fn writer(
        self: Arc<Self>,
        address: String,
        me: u64,
        writers: u64,
    ) -> Result<(), BoxError> {
        let client = redis::Client::open(format!("redis://{address}/"))?;
        let mut con = client.get_multiplexed_async_connection().await?;
        let n = self.acked.len() as u64;
        let mut rng = Rng((me + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let own = |r: u64| (r / writers) * writers + me;
        let mine = n / writers;
        while !self.stop.load(Ordering::Relaxed) {
            match rng.below(16) {
                0 => {
                    // A temporary key: set, exists, delete, gone.
                    let tmp = format!("tmp:{me}");
                    let ok = async {
                        con.set::<_, _, ()>(&tmp, "x").await?;
                        let there: u64 = con.exists(&tmp).await?;
                        let deleted: u64 = con.del(&tmp).await?;
                        let after: u64 = con.exists(&tmp).await?;
                        Ok::<bool, redis::RedisError>(there == 1 && deleted == 1 && after == 0)
                    }
                    .await;
                    if !matches!(ok, Ok(true)) {
                        self.checks.temp_failures.fetch_add(1, Ordering::Relaxed);
                        eprintln!("temporary key check failed: {ok:?}");
                    }
                }
                1 | 2 => {
                    let ids: Vec<u64> = (0..4).map(|_| own(rng.below(mine))).collect();
                    let mut ids = ids;
                    ids.sort_unstable();
                    ids.dedup();
                    let pairs: Vec<(String, String)> = ids
                        .iter()
                        .map(|&i| {
                            let g = self.acked[i as usize].load(Ordering::Acquire) + 1;
                            (key(i), value(i, g))
                        })
                        .collect();
                    match con.mset::<_, _, ()>(&pairs).await {
                        Ok(()) => {
                            for &i in &ids {
                                self.acked[i as usize].fetch_add(1, Ordering::AcqRel);
                            }
                            self.checks
                                .writes
                                .fetch_add(ids.len() as u64, Ordering::Relaxed);
                        }
                        Err(e) => {
                            eprintln!("MSET failed: {e}");
                            self.checks.failed_writes.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                _ => {
                    let i = own(rng.below(mine));
                    let g = self.acked[i as usize].load(Ordering::Acquire) + 1;
                    match con.set::<_, _, ()>(key(i), value(i, g)).await {
                        Ok(()) => {
                            self.acked[i as usize].fetch_add(1, Ordering::AcqRel);
                            self.checks.writes.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => {
                            eprintln!("SET failed: {e}");
                            self.checks.failed_writes.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// Keys on each server, read directly, that the ring does not place there; and keys counted.
async fn misplaced(ring: &HashRing, addresses: &[String]) -> Result<(u64, u64), BoxError> {
    let (mut wrong, mut total) = (0, 0);
    for (index, address) in addresses.iter().enumerate() {
        let backend = Backend::connect(address).await?;
        for key in migrate::scan_all(&backend).await? {
            total += 1;
            if ring.locate_hash(ring.hash_key(&key)) != index {
                wrong += 1;
                if wrong <= 5 {
                    eprintln!("misplaced: {} on {address}", String::from_utf8_lossy(&key));
                }
            }
        }
    }
    Ok((wrong, total))
}

async fn demo(
    args: &Args,
    proxy: &Arc<Proxy>,
    proxy_address: &str,
    addresses: &[String],
    name: KetamaName,
) -> Result<(), BoxError> {
    let client = redis::Client::open(format!("redis://{proxy_address}/"))?;
    let mut con = client.get_multiplexed_async_connection().await?;
    let pong: String = redis::cmd("PING").query_async(&mut con).await?;
    let started = Instant::now();
    for chunk in (0..args.keys).collect::<Vec<_>>().chunks(100) {
        let pairs: Vec<(String, String)> = chunk.iter().map(|&i| (key(i), value(i, 0))).collect();
        con.mset::<_, _, ()>(&pairs).await?;
    }
    println!(
        "PING → {pong}; loaded {} keys through the proxy (MSET of 100, split across servers) in {:.2?}",
        args.keys,
        started.elapsed()
    );
    let initial_ring = proxy.routing.read().ring.clone();
    let (wrong, total) = misplaced(&initial_ring, &addresses[..3]).await?;
    println!(
        "placement on 3 servers, read directly: {total} keys, misplaced: {wrong}; per server: {}",
        per_server(&initial_ring, args.keys)
    );

    // The workload, through the proxy, for the whole join.
    let workload = Arc::new(Workload {
        acked: (0..args.keys).map(|_| AtomicU64::new(0)).collect(),
        checks: Checks::default(),
        stop: AtomicBool::new(false),
    });
    let mut tasks = Vec::new();
    for r in 0..args.readers {
        tasks.push(tokio::spawn(Arc::clone(&workload).reader(
            proxy_address.to_string(),
            0x2545_F491_4F6C_DD1D ^ (r as u64 + 1),
        )));
    }
    let writers = args.writers.max(1) as u64;
    for w in 0..writers {
        tasks.push(tokio::spawn(Arc::clone(&workload).writer(
            proxy_address.to_string(),
            w,
            writers,
        )));
    }
    let warm = if args.quick { 300 } else { 1_000 };
    tokio::time::sleep(Duration::from_millis(warm)).await;

    // The fourth server joins.
    let mut joiner_guard = None;
    let joiner = match addresses.get(3) {
        Some(address) => address.clone(),
        None => {
            let server =
                tokio::task::spawn_blocking(|| RedisServer::start().map_err(|e| e.to_string()))
                    .await??;
            let address = server.address.clone();
            joiner_guard = Some(server);
            address
        }
    };
    let backend = Backend::connect(&joiner).await?;
    let checks_before = workload.checks.reads.load(Ordering::Relaxed);
    let report = migrate::join(proxy, backend, node(3, &joiner)?, name, args.wave).await?;
    let reads_during = workload.checks.reads.load(Ordering::Relaxed) - checks_before;
    tokio::time::sleep(Duration::from_millis(warm / 2)).await;
    workload.stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await??;
    }

    // After: every key on its new owner only, with its last acknowledged value.
    let ring = proxy.routing.read().ring.clone();
    let mut all = addresses[..3].to_vec();
    all.push(joiner.clone());
    let (wrong_after, total_after) = misplaced(&ring, &all).await?;
    let mut lost = 0u64;
    let ids: Vec<u64> = (0..args.keys).collect();
    for chunk in ids.chunks(500) {
        let keys: Vec<String> = chunk.iter().map(|&i| key(i)).collect();
        let values: Vec<Option<String>> = con.mget(&keys).await?;
        for (&i, v) in chunk.iter().zip(values) {
            let want = value(i, workload.acked[i as usize].load(Ordering::Acquire));
            if v.as_deref() != Some(want.as_str()) {
                lost += 1;
                if lost <= 5 {
                    eprintln!("last write lost: {} = {v:?}, want {want}", key(i));
                }
            }
        }
    }

    let c = &workload.checks;
    let moved_ratio = report.keys_copied as f64 / report.keys_before.max(1) as f64;
    println!(
        "join of {joiner}: {} of {} arcs of the circle moved ({:.1}% of it) in {} waves of at most {}, in {:.2?}",
        report.arcs_moved,
        report.arcs,
        100.0 * report.circle_share,
        report.waves,
        args.wave,
        report.elapsed
    );
    println!(
        "keys moved: {} of {} ({:.1}%), ideal {:.1}% (1/(n+1)); planned {}, writes replayed {}, old copies deleted {}",
        report.keys_copied,
        report.keys_before,
        100.0 * moved_ratio,
        100.0 * report.ideal_fraction,
        report.keys_planned,
        report.writes_replayed,
        report.keys_cleaned
    );
    println!(
        "workload: reads checked: {}, during the migration: {}, unreadable: {}, stale: {}, writes: {} (failed: {}), temporary-key failures: {}",
        c.reads.load(Ordering::Relaxed),
        reads_during,
        c.unreadable.load(Ordering::Relaxed),
        c.stale.load(Ordering::Relaxed),
        c.writes.load(Ordering::Relaxed),
        c.failed_writes.load(Ordering::Relaxed),
        c.temp_failures.load(Ordering::Relaxed)
    );
    println!(
        "after: {total_after} keys on 4 servers, misplaced: {wrong_after}, last writes lost: {lost}; per server: {}",
        per_server(&ring, args.keys)
    );
    report_proxy(proxy);
    drop(joiner_guard);
    let failed = c.unreadable.load(Ordering::Relaxed)
        + c.stale.load(Ordering::Relaxed)
        + c.failed_writes.load(Ordering::Relaxed)
        + c.temp_failures.load(Ordering::Relaxed)
        + wrong
        + wrong_after
        + lost;
    if failed > 0 || total_after != args.keys {
        return Err(format!("{failed} checks failed ({total_after} keys after the join)").into());
    }
    println!("all checks passed");
    Ok(())
}

/// The keys `key:0 .. key:n` each server of `ring` owns.
fn per_server(ring: &HashRing, keys: u64) -> String {
    let mut counts = vec![0u64; ring.nodes().len()];
    for i in 0..keys {
        counts[ring.locate_hash(ring.hash_key(key(i).as_bytes()))] += 1;
    }
    counts
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(" / ")
}
