//! The Redis L2 against a real `redis-server` this test starts on a free loopback port.
//!
//! Without `redis-server` on PATH the tests print why and pass, unless `HA_REQUIRE_REDIS=1`,
//! when they fail (CI sets it after installing the server).
#![cfg(feature = "redis")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/backend_suite.rs"]
mod backend_suite;
#[path = "common/glob_table.rs"]
mod glob_table;

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ha_cache::{
    Backend, BackendOp, BoxError, Cache, Error, InsertOptions, KeyPattern, RedisBackend,
    RedisConfig, TieredCache, origin_fn,
};

/// A `redis-server` child process, killed on drop.
struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a server, or says why not (failing when `HA_REQUIRE_REDIS=1`).
fn start_server(test: &str) -> Option<Server> {
    let required = std::env::var("HA_REQUIRE_REDIS").is_ok_and(|v| v == "1");
    let found = Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            !required,
            "HA_REQUIRE_REDIS=1 but redis-server is not on PATH (apt-get install -y redis-server)"
        );
        eprintln!("skipping {test}: redis-server is not on PATH (set HA_REQUIRE_REDIS=1 to fail)");
        return None;
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args([
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "yes",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server failed to start");
    let server = Server { child, port };
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "redis-server did not listen on port {port} within 10 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(server)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

async fn backend<V>(server: &Server, prefix: &str) -> RedisBackend<String, V> {
    let config = RedisConfig {
        key_prefix: prefix.to_string(),
        ..RedisConfig::default()
    };
    // A server that accepts TCP may still refuse its first commands while it starts (and a
    // loaded machine starts it slowly): retry for up to 10 s, then fail with the last error.
    let url = format!("redis://127.0.0.1:{}/", server.port);
    let mut attempts = 0;
    loop {
        match RedisBackend::connect(&url, config.clone()).await {
            Ok(backend) => return backend,
            Err(err) if attempts < 100 => {
                attempts += 1;
                eprintln!("redis at {url} not ready yet ({err}); retrying");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(err) => panic!("cannot connect to redis at {url}: {err}"),
        }
    }
}

#[test]
fn the_redis_backend_passes_the_conformance_suite() {
    let Some(server) = start_server("the_redis_backend_passes_the_conformance_suite") else {
        return;
    };
    runtime().block_on(async {
        let l2 = backend::<String>(&server, "suite:").await;
        backend_suite::conformance(&l2).await;
        // A second cache with another prefix on the same server is untouched by the first.
        let other = backend::<String>(&server, "other:").await;
        other
            .set(&"user:1".into(), &"x".into(), &InsertOptions::new())
            .await
            .unwrap();
        assert_eq!(l2.invalidate_pattern("*").await.unwrap(), 2); // order:1, t3
        assert_eq!(
            other.get(&"user:1".into()).await.unwrap().as_deref(),
            Some("x")
        );
    });
}

#[test]
fn redis_ttls_expire_entries_and_integer_values_round_trip() {
    let Some(server) = start_server("redis_ttls_expire_entries_and_integer_values_round_trip")
    else {
        return;
    };
    runtime().block_on(async {
        let l2 = backend::<u64>(&server, "ttl:").await;
        let short = InsertOptions::new()
            .ttl(Duration::from_millis(100))
            .tag("t");
        l2.set(&"a".into(), &41, &short).await.unwrap();
        l2.set_many(&[("b".into(), 42), ("c".into(), 43)], &short)
            .await
            .unwrap();
        l2.set(&"d".into(), &44, &InsertOptions::new())
            .await
            .unwrap();
        assert_eq!(l2.get(&"a".into()).await.unwrap(), Some(41));
        tokio::time::sleep(Duration::from_millis(250)).await;
        let keys = ["a".to_string(), "b".into(), "c".into(), "d".into()];
        assert_eq!(
            l2.get_many(&keys).await.unwrap(),
            vec![None, None, None, Some(44)]
        );
        // The tag set expired with its members.
        assert_eq!(l2.invalidate_tag("t").await.unwrap(), 0);
    });
}

#[test]
fn a_tiered_cache_over_redis_reads_through_and_survives_a_server_outage() {
    let Some(server) =
        start_server("a_tiered_cache_over_redis_reads_through_and_survives_a_server_outage")
    else {
        return;
    };
    runtime().block_on(async {
        let l2 = backend::<String>(&server, "tier:").await;
        let cache = TieredCache::builder(Cache::builder(100), l2.clone())
            .l2_ttl(Duration::from_secs(60))
            .origin(origin_fn(|key: String| async move {
                Ok::<_, BoxError>(Some(format!("db:{key}")))
            }))
            .build()
            .unwrap();
        assert_eq!(
            cache.get(&"k".into()).await.unwrap().as_deref(),
            Some("db:k")
        );
        assert_eq!(l2.get(&"k".into()).await.unwrap().as_deref(), Some("db:k"));
        cache.set("w".into(), "v".into()).await.unwrap();
        assert_eq!(l2.get(&"w".into()).await.unwrap().as_deref(), Some("v"));

        drop(server); // the server goes away
        assert!(l2.get(&"k".into()).await.is_err());
        // L1 still answers; a miss falls back to the origin.
        assert_eq!(
            cache.get(&"k".into()).await.unwrap().as_deref(),
            Some("db:k")
        );
        assert_eq!(
            cache.get(&"new".into()).await.unwrap().as_deref(),
            Some("db:new")
        );
        assert!(cache.set("w".into(), "v2".into()).await.is_err());
        assert!(!cache.l1().contains("w"));
        let stats = cache.stats();
        assert_eq!(stats.fallbacks, 1);
        assert!(stats.l2_errors >= 2);
    });
}

/// A plain connection, to look at what the backend stored.
async fn raw(server: &Server) -> redis::aio::MultiplexedConnection {
    redis::Client::open(format!("redis://127.0.0.1:{}/", server.port))
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

#[test]
fn redis_removes_exactly_the_keys_of_the_shared_pattern_table() {
    let Some(server) = start_server("redis_removes_exactly_the_keys_of_the_shared_pattern_table")
    else {
        return;
    };
    runtime().block_on(async {
        // A prefix with glob characters in it, escaped by the backend.
        let l2 = backend::<String>(&server, "g[1]*:").await;
        let mut con = raw(&server).await;
        for &(pattern, hits, misses) in glob_table::TABLE {
            for key in hits.iter().chain(misses) {
                l2.set(&(*key).to_string(), &"v".into(), &InsertOptions::new())
                    .await
                    .unwrap();
            }
            // Redis's own MATCH agrees with KeyPattern on every key stored.
            let compiled = KeyPattern::new(pattern).unwrap();
            let escaped_prefix = r"g\[1\]\*:";
            let (_, listed): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(0)
                .arg("MATCH")
                .arg(format!("{escaped_prefix}{pattern}"))
                .arg("COUNT")
                .arg(10_000)
                .query_async(&mut con)
                .await
                .unwrap();
            for key in hits.iter().chain(misses) {
                let full = format!("g[1]*:{key}");
                assert_eq!(
                    listed.contains(&full),
                    compiled.matches(key),
                    "redis and KeyPattern disagree on {pattern:?} / {key:?}"
                );
            }
            assert_eq!(
                l2.invalidate_pattern(pattern).await.unwrap(),
                hits.len() as u64,
                "{pattern:?}"
            );
            for key in misses {
                assert!(
                    l2.get(&(*key).to_string()).await.unwrap().is_some(),
                    "{pattern:?} removed {key:?}"
                );
            }
            l2.invalidate_pattern("*").await.unwrap();
        }
        for pattern in glob_table::REFUSED {
            let err = l2.invalidate_pattern(pattern).await.unwrap_err();
            assert_eq!(err.op(), BackendOp::InvalidatePattern, "{pattern:?}");
        }
    });
}

#[test]
fn redis_tag_sets_expire_with_their_members_and_live_on_with_a_member_without_ttl() {
    let Some(server) = start_server(
        "redis_tag_sets_expire_with_their_members_and_live_on_with_a_member_without_ttl",
    ) else {
        return;
    };
    runtime().block_on(async {
        let l2 = backend::<String>(&server, "exp:").await;
        let mut con = raw(&server).await;
        let set_key = |tag: &str| format!("ha-cache-tags:s:exp:{tag}");
        let pttl = |key: String| {
            let mut con = con.clone();
            async move {
                redis::cmd("PTTL")
                    .arg(key)
                    .query_async::<i64>(&mut con)
                    .await
                    .unwrap()
            }
        };
        let short = InsertOptions::new().ttl(Duration::from_secs(50)).tag("t");
        l2.set(&"a".into(), &"1".into(), &short).await.unwrap();
        // A new set takes its first member's TTL (PEXPIRE .. GT would have left it none).
        let left = pttl(set_key("t")).await;
        assert!((1..=50_000).contains(&left), "pttl {left}");
        let long = InsertOptions::new().ttl(Duration::from_secs(500)).tag("t");
        l2.set(&"b".into(), &"1".into(), &long).await.unwrap();
        assert!(
            pttl(set_key("t")).await > 50_000,
            "extended to the longest member"
        );
        l2.set(&"c".into(), &"1".into(), &short).await.unwrap();
        assert!(pttl(set_key("t")).await > 50_000, "never shortened");
        l2.set(&"d".into(), &"1".into(), &InsertOptions::new().tag("t"))
            .await
            .unwrap();
        assert_eq!(
            pttl(set_key("t")).await,
            -1,
            "a member without TTL: no expiry"
        );

        // Short-lived members really expire along with their set.
        let brief = InsertOptions::new()
            .ttl(Duration::from_millis(150))
            .tag("u");
        l2.set(&"e".into(), &"1".into(), &brief).await.unwrap();
        tokio::time::sleep(Duration::from_millis(400)).await;
        let exists: u64 = redis::cmd("EXISTS")
            .arg(set_key("u"))
            .arg("ha-cache-tags:k:exp:e")
            .query_async(&mut con)
            .await
            .unwrap();
        assert_eq!(exists, 0, "the set and the key's tag record expired");

        // A huge TTL is stored (clamped), not refused by Redis.
        let forever = InsertOptions::new().ttl(Duration::MAX).tag("v");
        l2.set(&"f".into(), &"1".into(), &forever).await.unwrap();
        assert!(
            l2.set_if_absent(&"g".into(), &"1".into(), &forever)
                .await
                .unwrap()
        );
        l2.set_many(&[("h".into(), "1".into())], &forever)
            .await
            .unwrap();
        assert_eq!(l2.invalidate_tag("v").await.unwrap(), 3);
    });
}

#[test]
fn redis_tag_invalidation_racing_tagged_writes_never_orphans_a_key() {
    let Some(server) =
        start_server("redis_tag_invalidation_racing_tagged_writes_never_orphans_a_key")
    else {
        return;
    };
    runtime().block_on(async {
        let l2 = backend::<String>(&server, "race:").await;
        let tagged = InsertOptions::new().tag("t");
        let writer = {
            let l2 = l2.clone();
            let tagged = tagged.clone();
            tokio::spawn(async move {
                for i in 0..300 {
                    l2.set(&format!("k{i}"), &"v".into(), &tagged)
                        .await
                        .unwrap();
                }
            })
        };
        let invalidator = {
            let l2 = l2.clone();
            tokio::spawn(async move {
                for _ in 0..100 {
                    l2.invalidate_tag("t").await.unwrap();
                }
            })
        };
        writer.await.unwrap();
        invalidator.await.unwrap();
        // Every key still stored was written with the tag and must still be a member.
        l2.invalidate_tag("t").await.unwrap();
        assert_eq!(
            l2.invalidate_pattern("*").await.unwrap(),
            0,
            "orphaned keys"
        );
    });
}

#[test]
fn an_empty_redis_key_prefix_is_refused_with_a_typed_error() {
    let Some(server) = start_server("an_empty_redis_key_prefix_is_refused_with_a_typed_error")
    else {
        return;
    };
    runtime().block_on(async {
        let url = format!("redis://127.0.0.1:{}/", server.port);
        let refuse = |config: RedisConfig| {
            let url = url.clone();
            async move {
                RedisBackend::<String, String>::connect(&url, config)
                    .await
                    .unwrap_err()
            }
        };
        let err = refuse(RedisConfig {
            key_prefix: String::new(),
            ..RedisConfig::default()
        })
        .await;
        assert_eq!(err.op(), BackendOp::Config);
        let source = err.into_source().downcast::<Error>().unwrap();
        assert!(matches!(
            *source,
            Error::Core(ha_core::Error::Empty { name: "key_prefix" })
        ));
        let err = refuse(RedisConfig {
            key_prefix: "ha-cache-tags:app:".into(),
            ..RedisConfig::default()
        })
        .await;
        assert!(matches!(
            *err.into_source().downcast::<Error>().unwrap(),
            Error::OverlappingPrefixes { .. }
        ));
        // Two caches with their own prefixes: "*" in one leaves the other, and the bookkeeping.
        let a = backend::<String>(&server, "a:").await;
        let b = backend::<String>(&server, "b:").await;
        let tagged = InsertOptions::new().tag("t");
        a.set(&"k".into(), &"1".into(), &tagged).await.unwrap();
        b.set(&"k".into(), &"1".into(), &tagged).await.unwrap();
        assert_eq!(a.invalidate_pattern("*").await.unwrap(), 1);
        assert_eq!(b.get(&"k".into()).await.unwrap().as_deref(), Some("1"));
        assert_eq!(
            b.invalidate_tag("t").await.unwrap(),
            1,
            "tags are per prefix"
        );
    });
}

#[derive(Debug, Clone)]
enum Op {
    Set(usize, u8, Vec<usize>),
    SetIfAbsent(usize, u8, Vec<usize>),
    SetMany(Vec<usize>, u8, Vec<usize>),
    Delete(usize),
    Pattern(usize),
    Tag(usize),
    Get(usize),
}

const OP_KEYS: [&str; 6] = ["u:1", "u:2", "u:10", "o:1", "o:[2]", "x"];
const OP_PATTERNS: [&str; 5] = ["u:*", "?:1", "o:\\[*", "*", "[^u]*"];
const OP_TAGS: [&str; 3] = ["red", "blue", "green"];

fn redis_op() -> impl proptest::strategy::Strategy<Value = Op> {
    use proptest::prelude::*;
    let key = 0..OP_KEYS.len();
    let tags = proptest::collection::vec(0..OP_TAGS.len(), 0..3);
    prop_oneof![
        5 => (key.clone(), any::<u8>(), tags.clone()).prop_map(|(k, v, t)| Op::Set(k, v, t)),
        1 => (key.clone(), any::<u8>(), tags.clone()).prop_map(|(k, v, t)| Op::SetIfAbsent(k, v, t)),
        1 => (proptest::collection::vec(key.clone(), 1..4), any::<u8>(), tags)
            .prop_map(|(k, v, t)| Op::SetMany(k, v, t)),
        2 => key.clone().prop_map(Op::Delete),
        1 => (0..OP_PATTERNS.len()).prop_map(Op::Pattern),
        2 => (0..OP_TAGS.len()).prop_map(Op::Tag),
        2 => key.prop_map(Op::Get),
    ]
}

/// What one operation answered, comparable across backends.
async fn run_op<B: Backend<String, String>>(l2: &B, op: &Op) -> String {
    let options = |tags: &[usize]| {
        tags.iter()
            .fold(InsertOptions::new(), |o, &t| o.tag(OP_TAGS[t]))
    };
    let key = |k: usize| OP_KEYS[k].to_string();
    match op {
        Op::Set(k, v, t) => format!(
            "{:?}",
            l2.set(&key(*k), &v.to_string(), &options(t)).await.is_ok()
        ),
        Op::SetIfAbsent(k, v, t) => {
            format!(
                "{:?}",
                l2.set_if_absent(&key(*k), &v.to_string(), &options(t))
                    .await
                    .unwrap()
            )
        }
        Op::SetMany(ks, v, t) => {
            // Distinct keys: a batch writing one key twice has no defined order.
            let mut ks = ks.clone();
            ks.sort_unstable();
            ks.dedup();
            let entries: Vec<(String, String)> =
                ks.iter().map(|&k| (key(k), v.to_string())).collect();
            format!("{:?}", l2.set_many(&entries, &options(t)).await.is_ok())
        }
        Op::Delete(k) => format!("{:?}", l2.delete(&key(*k)).await.unwrap()),
        Op::Pattern(p) => format!(
            "{:?}",
            l2.invalidate_pattern(OP_PATTERNS[*p]).await.unwrap()
        ),
        Op::Tag(t) => format!("{:?}", l2.invalidate_tag(OP_TAGS[*t]).await.unwrap()),
        Op::Get(k) => format!("{:?}", l2.get(&key(*k)).await.unwrap()),
    }
}

#[test]
fn redis_and_memory_backends_answer_every_operation_sequence_alike() {
    let Some(server) =
        start_server("redis_and_memory_backends_answer_every_operation_sequence_alike")
    else {
        return;
    };
    let rt = runtime();
    let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
        cases: 64,
        ..proptest::test_runner::Config::default()
    });
    let case = std::sync::atomic::AtomicU64::new(0);
    runner
        .run(&proptest::collection::vec(redis_op(), 1..40), |ops| {
            rt.block_on(async {
                let n = case.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let redis = backend::<String>(&server, &format!("diff{n}:")).await;
                let memory: ha_cache::MemoryBackend<String, String> =
                    ha_cache::MemoryBackend::new();
                for (i, op) in ops.iter().enumerate() {
                    let (r, m) = (run_op(&redis, op).await, run_op(&memory, op).await);
                    proptest::prop_assert_eq!(&r, &m, "op {} {:?}", i, op);
                }
                for k in 0..OP_KEYS.len() {
                    let (r, m) = (
                        run_op(&redis, &Op::Get(k)).await,
                        run_op(&memory, &Op::Get(k)).await,
                    );
                    proptest::prop_assert_eq!(r, m);
                }
                Ok(())
            })
        })
        .unwrap();
}
