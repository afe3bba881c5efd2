//! What the example-running integration tests share: where cargo put an example's binary, and
//! whether the engines a test talks to are installed.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::{Command, Stdio};

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
