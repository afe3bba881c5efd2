//! What the example-running integration tests share: where cargo put an example's binary,
//! whether the engines a test talks to are installed, and a run of an example within a limit.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `target/<profile>/examples/NAME`, beside this test's `deps` directory: the example binary
/// cargo built with the tests.
pub(crate) fn example_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    let path = deps
        .parent()
        .unwrap()
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is not built: run `cargo test --all-features` without a target filter (examples \
         build with the tests), or `cargo build --examples --all-features` first",
        path.display()
    );
    path
}

/// Whether every binary is on the PATH. If one is missing: fails when any of `require_vars` is
/// set to 1 (CI sets them), and otherwise says why the test is skipped and returns false.
pub(crate) fn engines(binaries: &[&str], require_vars: &[&str]) -> bool {
    let missing: Vec<&str> = binaries
        .iter()
        .copied()
        .filter(|b| {
            Command::new(b)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_err()
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    let required = require_vars
        .iter()
        .any(|v| std::env::var(v).is_ok_and(|x| x == "1"));
    assert!(
        !required,
        "{missing:?} not found, and {require_vars:?} asks for them"
    );
    eprintln!("skipped: {missing:?} not found on the PATH (bash .ci/services installs them)");
    false
}

/// Runs the example `name` with `args`, killing it past `limit`; its stdout, checked successful
/// (a failure or a timeout panics with both outputs).
pub(crate) fn run_example(name: &str, args: &[&str], limit: Duration) -> String {
    let mut child = Command::new(example_binary(name))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "{name} ran over {limit:?}:\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{name} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}
