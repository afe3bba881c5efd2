//! A linearizability checker for a single read/write register: Wing and Gong's search ("Testing
//! and verifying concurrent objects", 1993) with Lowe's memoization of (linearized set, state)
//! ("Testing for linearizability", 2017).
//!
//! An operation that never returned (a write that timed out) may take effect at any point after
//! its call, or never: its return time is infinite and it need not be linearized.

use std::collections::HashSet;

/// What an operation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Write(u64),
    /// A read and the value it returned (`None`: never written).
    Read(Option<u64>),
}

/// One operation of a history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Op {
    pub kind: OpKind,
    pub call: u64,
    /// `None`: never returned (outcome unknown).
    pub ret: Option<u64>,
}

/// Whether `history` (at most 128 operations) is linearizable for a register starting empty.
/// On failure, returns the longest prefix of operations linearized before the search gave up.
pub fn check(history: &[Op]) -> Result<(), String> {
    assert!(history.len() <= 128, "history too long for the checker");
    let n = history.len();
    let complete: u128 = history
        .iter()
        .enumerate()
        .filter(|(_, op)| op.ret.is_some())
        .fold(0, |m, (i, _)| m | (1 << i));
    let mut seen: HashSet<(u128, Option<u64>)> = HashSet::new();
    // Depth-first search with an explicit stack of (linearized, state, next candidate index).
    let mut stack: Vec<(u128, Option<u64>)> = vec![(0, None)];
    let mut best = 0u32;
    while let Some((done, state)) = stack.pop() {
        if done & complete == complete {
            return Ok(());
        }
        if !seen.insert((done, state)) {
            continue;
        }
        best = best.max(done.count_ones());
        // The earliest return among operations not yet linearized bounds which may go next.
        let min_ret = (0..n)
            .filter(|i| done & (1 << i) == 0)
            .filter_map(|i| history[i].ret)
            .min()
            .unwrap_or(u64::MAX);
        for (i, &op) in history.iter().enumerate() {
            if done & (1 << i) != 0 || op.call > min_ret {
                continue;
            }
            let next = match op.kind {
                OpKind::Write(v) => Some(Some(v)),
                OpKind::Read(v) if v == state => Some(state),
                OpKind::Read(_) => None,
            };
            if let Some(next) = next {
                stack.push((done | (1 << i), next));
            }
        }
    }
    Err(format!(
        "not linearizable: at most {best} of {n} operations could be ordered; history: {history:?}"
    ))
}
