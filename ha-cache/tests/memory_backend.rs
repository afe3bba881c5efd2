//! The in-memory L2 passes the backend conformance suite, and keeps TTLs on its clock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/backend_suite.rs"]
mod backend_suite;

use std::time::Duration;

use futures::executor::block_on;
use ha_cache::{Backend, BackendOp, InsertOptions, MemoryBackend};
use ha_core::ManualClock;

#[test]
fn the_memory_backend_passes_the_conformance_suite() {
    let l2: MemoryBackend<String, String> = MemoryBackend::new();
    block_on(backend_suite::conformance(&l2));
}

#[test]
fn memory_backend_ttls_follow_the_injected_clock() {
    let clock = ManualClock::new();
    let l2: MemoryBackend<String, u32> = MemoryBackend::with_clock(clock.clone());
    block_on(async {
        let ttl = InsertOptions::new().ttl(Duration::from_secs(3));
        l2.set_many(&[("a".into(), 1), ("b".into(), 2)], &ttl)
            .await
            .unwrap();
        clock.advance(Duration::from_secs(2));
        assert_eq!(
            l2.get_many(&["a".into(), "b".into()]).await.unwrap(),
            vec![Some(1), Some(2)]
        );
        clock.advance(Duration::from_secs(1));
        assert_eq!(l2.get(&"a".into()).await.unwrap(), None);
        // An expired key is neither deleted nor invalidated: it was gone already.
        assert!(!l2.delete(&"b".into()).await.unwrap());
    });
}

#[test]
fn an_unavailable_memory_backend_fails_every_call_with_its_operation() {
    let l2: MemoryBackend<String, u32> = MemoryBackend::new();
    l2.set_available(false);
    block_on(async {
        let none = InsertOptions::new();
        assert_eq!(l2.get(&"a".into()).await.unwrap_err().op(), BackendOp::Get);
        assert_eq!(
            l2.set(&"a".into(), &1, &none).await.unwrap_err().op(),
            BackendOp::Set
        );
        assert_eq!(
            l2.delete(&"a".into()).await.unwrap_err().op(),
            BackendOp::Delete
        );
        let pattern = l2.invalidate_pattern("*").await.unwrap_err();
        assert_eq!(pattern.op(), BackendOp::InvalidatePattern);
        assert_eq!(
            l2.invalidate_tag("t").await.unwrap_err().op(),
            BackendOp::InvalidateTag
        );
    });
}

#[test]
fn a_shared_dyn_backend_passes_the_conformance_suite() {
    let l2: std::sync::Arc<dyn Backend<String, String>> =
        std::sync::Arc::new(MemoryBackend::<String, String>::new());
    block_on(backend_suite::conformance(&l2));
}
