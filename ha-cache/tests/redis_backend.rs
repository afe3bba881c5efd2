//! The Redis L2 against a real `redis-server` this test starts on a free loopback port.
//!
//! Without `redis-server` on PATH the tests print why and pass, unless `HA_REQUIRE_REDIS=1`,
//! when they fail (CI sets it after installing the server).
#![cfg(feature = "redis")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/backend_suite.rs"]
mod backend_suite;

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ha_cache::{
    Backend, BoxError, Cache, InsertOptions, RedisBackend, RedisConfig, TieredCache, origin_fn,
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
