//! The report examples, run as a person would: each writes its charts and summary into a
//! temporary directory, in a short mode, within a time limit.
//!
//! They run the example binaries cargo built beside this test (`cargo test` builds the
//! examples; with a target filter such as `--test reports`, build them first with
//! `cargo build --examples --all-features`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The longest an example may take in a debug build on a loaded machine.
const LIMIT: Duration = Duration::from_secs(60);

/// A fresh directory under the system's temporary one, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("ha-reports-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the example with `args`, killing it past [`LIMIT`]; its output, checked successful.
fn run(name: &str, args: &[&str]) -> String {
    support::run_example(name, args, LIMIT)
}

/// A file that exists and holds at least `min` bytes, starting with `magic`.
fn assert_file(path: &Path, magic: &[u8], min: u64) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        bytes.len() as u64 >= min,
        "{} holds {} bytes",
        path.display(),
        bytes.len()
    );
    assert!(
        bytes.starts_with(magic),
        "{} does not start with {magic:?}",
        path.display()
    );
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n";

#[test]
fn capacity_report_writes_a_chart_per_resource_and_names_the_bottleneck() {
    let dir = TempDir::new("capacity");
    let out = dir.0.to_str().unwrap();
    let stdout = run(
        "capacity_report",
        &["--out", out, "--horizon-days", "240", "--months", "6"],
    );
    for resource in [
        "cpu",
        "memory",
        "storage",
        "bandwidth",
        "requests",
        "overview",
    ] {
        assert_file(&dir.0.join(format!("{resource}.png")), PNG, 5_000);
        assert_file(&dir.0.join(format!("{resource}.svg")), b"<svg", 5_000);
    }
    let summary = std::fs::read_to_string(dir.0.join("summary.txt")).unwrap();
    assert_eq!(summary, stdout.split("\nwrote ").next().unwrap());
    // The sample's storage grows 4.5 GiB a day towards 2 867 GiB usable: it runs out first.
    let named = summary
        .lines()
        .find_map(|l| l.strip_prefix("bottleneck: "))
        .expect("the summary names a bottleneck");
    assert_eq!(named, "storage", "{summary}");
    let first = summary
        .lines()
        .find(|l| l.trim_start().starts_with("1. "))
        .unwrap();
    assert!(
        first.contains("storage") && first.contains("expected"),
        "{first}"
    );
    // Six months of cost, each month with a total.
    let months = summary
        .lines()
        .skip_while(|l| !l.starts_with("month from"))
        .skip(1)
        .take_while(|l| !l.starts_with("total over"))
        .count();
    assert_eq!(months, 6, "{summary}");
}

#[test]
fn capacity_report_refuses_a_bad_csv_with_its_line() {
    let dir = TempDir::new("capacity-bad");
    let csv = dir.0.join("bad.csv");
    std::fs::write(
        &csv,
        "timestamp,storage_gib\n2026-01-01,10\n2026-01-02,oops\n",
    )
    .unwrap();
    let output = Command::new(support::example_binary("capacity_report"))
        .args([
            "--input",
            csv.to_str().unwrap(),
            "--out",
            dir.0.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("bad.csv:3") && stderr.contains("oops"),
        "{stderr}"
    );
}

#[test]
fn autoscale_replay_writes_its_chart_and_a_row_per_strategy() {
    let dir = TempDir::new("replay");
    let out = dir.0.to_str().unwrap();
    // Four hours of the last day's morning ramp: 06:00 to 10:00.
    let stdout = run(
        "autoscale_replay",
        &["--out", out, "--history-hours", "78", "--hours", "4"],
    );
    assert_file(&dir.0.join("replay.png"), PNG, 5_000);
    assert_file(&dir.0.join("replay.svg"), b"<svg", 5_000);
    let rows: Vec<Vec<&str>> = stdout
        .lines()
        .skip_while(|l| !l.starts_with("strategy"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .map(|l| l.split_whitespace().collect())
        .collect();
    let names: Vec<&str> = rows.iter().map(|r| r[0]).collect();
    assert_eq!(names, ["hpa", "step", "predictive"], "{stdout}");
    for row in &rows {
        // misses, share, unmet, idle, replica-hours, peak, cost: all numbers, cost positive.
        assert_eq!(row.len(), 8, "{row:?}");
        let cost: f64 = row[7].parse().unwrap();
        assert!(cost > 0.0, "{row:?}");
        let replica_hours: f64 = row[5].parse().unwrap();
        assert!(replica_hours > 0.0, "{row:?}");
    }
    for name in ["hpa", "step", "predictive"] {
        let csv = std::fs::read_to_string(dir.0.join(format!("replay_{name}.csv"))).unwrap();
        // A header and one line per minute of the four hours.
        assert_eq!(csv.lines().count(), 1 + 4 * 60, "{name}");
    }
    assert!(stdout.contains("predictive: "), "{stdout}");
}
