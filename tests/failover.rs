//! Runs `examples/failover` in its short mode against a real etcd server and checks its
//! invariants: a failover happened (a second epoch with another primary), no epoch had two
//! primaries, the deposed primary's stale writes were refused, and the failover met the 30 s
//! target.
//!
//! Skipped (with a message) when the `etcd` binary is missing, unless `HA_REQUIRE_ENGINES=1`,
//! in which case it fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.split(' ')
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
}

#[test]
fn failover_through_etcd_has_exactly_one_primary_per_epoch() {
    if !support::engines(&["etcd"], &["HA_REQUIRE_ENGINES"]) {
        return;
    }
    let binary = support::example_binary("failover");
    let mut child = Command::new(&binary)
        .arg("--short")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read output on threads so a full pipe never blocks the example.
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the failover example did not finish in 90 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = out.join().unwrap();
    let err = err.join().unwrap();
    assert!(status.success(), "example failed: {status}\n{out}\n{err}");

    // Every "primary" event, by epoch: exactly one node each.
    let mut primaries: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for line in out.lines().filter(|l| l.contains("EVENT primary ")) {
        let epoch: u64 = field(line, "epoch").unwrap().parse().unwrap();
        let name = field(line, "name").unwrap().to_string();
        let names = primaries.entry(epoch).or_default();
        if !names.contains(&name) {
            names.push(name);
        }
    }
    assert!(primaries.len() >= 2, "no failover happened:\n{out}");
    for (epoch, names) in &primaries {
        assert_eq!(
            names.len(),
            1,
            "epoch {epoch} had primaries {names:?}\n{out}"
        );
    }
    let holders: Vec<&String> = primaries.values().map(|n| &n[0]).collect();
    assert_ne!(holders[0], holders[1], "the new primary is the old one");
    assert!(
        out.lines().any(|l| l.contains("EVENT stale_write_refused")),
        "the deposed primary's writes were not refused:\n{out}"
    );
    assert!(!out.contains("stale_write_accepted"), "{out}");
    let summary = out
        .lines()
        .find(|l| l.starts_with("SUMMARY"))
        .expect("a summary line");
    assert_eq!(field(summary, "one_primary_per_epoch"), Some("true"));
    assert_eq!(field(summary, "met"), Some("true"), "{summary}");
}
