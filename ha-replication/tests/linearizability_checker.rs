//! The simulation's linearizability checker, tested on histories known to be (or not to be)
//! linearizable, so that a passing simulation means something.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sim;

use sim::linearizability::{Op, OpKind, check};

fn w(v: u64, call: u64, ret: u64) -> Op {
    Op {
        kind: OpKind::Write(v),
        call,
        ret: Some(ret),
    }
}

fn r(v: Option<u64>, call: u64, ret: u64) -> Op {
    Op {
        kind: OpKind::Read(v),
        call,
        ret: Some(ret),
    }
}

#[test]
fn sequential_and_overlapping_histories_are_linearizable() {
    assert!(check(&[]).is_ok());
    assert!(check(&[w(1, 0, 1), r(Some(1), 2, 3)]).is_ok());
    assert!(check(&[r(None, 0, 1), w(1, 2, 3)]).is_ok());
    // A read overlapping a write may return the old or the new value.
    assert!(check(&[w(1, 0, 1), w(2, 2, 10), r(Some(1), 3, 4)]).is_ok());
    assert!(check(&[w(1, 0, 1), w(2, 2, 10), r(Some(2), 3, 4)]).is_ok());
    // Two overlapping writes may land in either order.
    assert!(check(&[w(1, 0, 5), w(2, 1, 6), r(Some(1), 7, 8)]).is_ok());
    assert!(check(&[w(1, 0, 5), w(2, 1, 6), r(Some(2), 7, 8)]).is_ok());
}

#[test]
fn a_stale_read_after_a_finished_write_is_not_linearizable() {
    assert!(check(&[w(1, 0, 1), r(None, 2, 3)]).is_err());
    assert!(check(&[w(1, 0, 1), w(2, 2, 3), r(Some(1), 4, 5)]).is_err());
}

#[test]
fn new_then_old_reads_during_a_write_are_not_linearizable() {
    // The classic inversion: a write of 2 overlaps two reads; the first read sees 2, the
    // second, which starts after the first returned, sees 1 again.
    let history = [w(1, 0, 1), w(2, 2, 20), r(Some(2), 3, 4), r(Some(1), 5, 6)];
    assert!(check(&history).is_err());
    // The same reads in the other order are fine.
    let history = [w(1, 0, 1), w(2, 2, 20), r(Some(1), 3, 4), r(Some(2), 5, 6)];
    assert!(check(&history).is_ok());
}

#[test]
fn a_write_that_never_returned_may_or_may_not_take_effect() {
    let pending = Op {
        kind: OpKind::Write(3),
        call: 0,
        ret: None,
    };
    assert!(check(&[pending, r(Some(3), 5, 6)]).is_ok());
    assert!(check(&[pending, r(None, 5, 6)]).is_ok());
    // ...but once seen, it cannot be unseen.
    assert!(check(&[pending, r(Some(3), 5, 6), r(None, 7, 8)]).is_err());
    // A read cannot return a value never written.
    assert!(check(&[pending, r(Some(4), 5, 6)]).is_err());
}

#[test]
fn a_read_cannot_see_a_write_that_starts_after_it_returns() {
    assert!(check(&[r(Some(1), 0, 1), w(1, 2, 3)]).is_err());
}
