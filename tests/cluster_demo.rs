//! The cluster demo run end to end: `--quick` through the whole script of trouble, and
//! `--serve` driven by `redis-benchmark` and a real Redis client.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Kills the child when the test ends, passed or failed.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `cmd` to its end within `limit`, returning its stdout.
fn run_within(mut cmd: Command, limit: Duration) -> (bool, String) {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut guard = Guard(child);
    let stdout = guard.0.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            text.push_str(&line);
            text.push('\n');
        }
        let _ = tx.send(text);
    });
    let text = rx
        .recv_timeout(limit)
        .expect("the demo did not finish in time");
    let status = guard.0.wait().unwrap();
    (status.success(), text)
}

fn quick_script_checks(extra: &[&str]) {
    let mut cmd = Command::new(support::example_binary("cluster"));
    cmd.args(extra);
    cmd.args([
        "--quick",
        "--json",
        "--rate",
        "300",
        "--workers",
        "8",
        "--keys",
        "2000",
    ]);
    let (ok, out) = run_within(cmd, Duration::from_secs(120));
    println!("{out}");
    assert!(ok, "the demo failed");
    let last = out.lines().last().unwrap();
    let report: serde_json::Value = serde_json::from_str(last).unwrap();
    assert_eq!(report["phases_completed"], 6, "every phase completed");
    let phases = report["phases"].as_array().unwrap();
    assert_eq!(phases.len(), 6);
    assert!(phases.iter().all(|p| p["completed"] == true));
    let v = &report["verification"];
    assert!(
        v["checked"].as_u64().unwrap() > 50,
        "the workload wrote: {v}"
    );
    assert_eq!(v["lost"], 0, "no acknowledged write lost: {v}");
    assert_eq!(v["unreadable"], 0, "every acknowledged write readable: {v}");
    assert_eq!(report["killed_node_detected"], true);
    assert!(report["cluster"]["detections"].as_f64().unwrap() >= 1.0);
    assert!(
        report["join"]["moves"].as_u64().unwrap() > 0,
        "the join moved copies"
    );
    assert!(report["scale"]["recommended_nodes"].as_u64().is_some());
}

#[test]
fn quick_script_loses_no_acknowledged_write_and_detects_the_killed_node() {
    quick_script_checks(&[]);
}

#[test]
fn quick_script_with_node_processes_loses_no_acknowledged_write() {
    quick_script_checks(&["--processes"]);
}

#[test]
fn serve_answers_redis_benchmark_and_a_redis_client() {
    if !support::engines(&["redis-benchmark"], &["HA_REQUIRE_ENGINES"]) {
        return;
    }
    let child = Command::new(support::example_binary("cluster"))
        .args(["--serve", "--timeout-ms", "5000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut guard = Guard(child);
    let stdout = guard.0.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("RESP front end on ") {
                let addr = rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                let _ = tx.send(addr);
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the front end's address");
    let port = addr.rsplit(':').next().unwrap().to_owned();

    // MSET writes ten keys a request: fewer of them keep the test short in a debug build.
    let mut text = String::new();
    for (tests, requests) in [("ping,set,get", "2000"), ("mset", "300")] {
        let out = Command::new("redis-benchmark")
            .args(["-p", &port, "-t", tests, "-n", requests, "-q", "-c", "10"])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).replace('\r', "\n");
        let stderr = String::from_utf8_lossy(&out.stderr);
        println!("{stdout}{stderr}");
        assert!(
            out.status.success(),
            "redis-benchmark -t {tests} failed: {stderr}"
        );
        assert!(
            !stderr.contains("Error from server"),
            "an error reply: {stderr}"
        );
        text.push_str(&stdout);
    }
    for test in ["PING_INLINE", "PING_MBULK", "SET", "GET", "MSET"] {
        assert!(
            text.lines()
                .any(|l| l.trim_start().starts_with(test) && l.contains("requests per second")),
            "{test} missing from redis-benchmark's output"
        );
    }

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = redis::Client::open(format!("redis://{addr}/")).unwrap();
        let mut con = client.get_multiplexed_async_connection().await.unwrap();
        let pong: String = redis::cmd("PING").query_async(&mut con).await.unwrap();
        assert_eq!(pong, "PONG");
        let () = redis::cmd("SET")
            .arg("demo:a")
            .arg("1")
            .query_async(&mut con)
            .await
            .unwrap();
        let a: Option<String> = redis::cmd("GET")
            .arg("demo:a")
            .query_async(&mut con)
            .await
            .unwrap();
        assert_eq!(a.as_deref(), Some("1"));
        let () = redis::cmd("MSET")
            .arg(&["demo:b", "2", "demo:c", "3"])
            .query_async(&mut con)
            .await
            .unwrap();
        let many: Vec<Option<String>> = redis::cmd("MGET")
            .arg(&["demo:a", "demo:b", "demo:c", "demo:none"])
            .query_async(&mut con)
            .await
            .unwrap();
        assert_eq!(
            many,
            [Some("1".into()), Some("2".into()), Some("3".into()), None]
        );
        let exists: i64 = redis::cmd("EXISTS")
            .arg(&["demo:a", "demo:b", "demo:none"])
            .query_async(&mut con)
            .await
            .unwrap();
        assert_eq!(exists, 2);
        let deleted: i64 = redis::cmd("DEL")
            .arg(&["demo:a", "demo:none"])
            .query_async(&mut con)
            .await
            .unwrap();
        assert_eq!(deleted, 1);
        let gone: Option<String> = redis::cmd("GET")
            .arg("demo:a")
            .query_async(&mut con)
            .await
            .unwrap();
        assert_eq!(gone, None);
        let info: String = redis::cmd("INFO").query_async(&mut con).await.unwrap();
        assert!(info.contains("nodes:5"), "{info}");
        assert!(info.contains("consistency:quorum"), "{info}");
        let wrong: redis::RedisResult<String> = redis::cmd("GET").query_async(&mut con).await;
        assert!(wrong.is_err());
    });
}
