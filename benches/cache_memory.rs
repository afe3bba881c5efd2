//! Memory per entry: heap bytes held per live entry by ha-cache, quick_cache and moka (sync)
//! after inserting 1,000,000 distinct `u64 → u64` entries into a cache of that capacity.
//!
//! Run: `cargo bench --bench cache_memory`. Not a criterion benchmark: a counting global
//! allocator (`stats_alloc`) measures the heap the cache holds (allocated minus freed, from
//! before it was built to after it was filled), divided by the entries it holds.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::alloc::System;

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const ENTRIES: u64 = 1_000_000;

/// Builds a cache, fills it with `ENTRIES` keys, and prints the heap it holds per entry.
fn measure<C>(
    name: &str,
    build: impl FnOnce() -> C,
    fill: impl Fn(&C, u64),
    len: impl Fn(&C) -> u64,
) {
    let region = Region::new(GLOBAL);
    let cache = build();
    for key in 0..ENTRIES {
        fill(&cache, key);
    }
    let held = len(&cache);
    let stats = region.change();
    // A reallocation's growth or shrinkage is already in the allocated / freed totals.
    let bytes = stats.bytes_allocated as i64 - stats.bytes_deallocated as i64;
    println!(
        "{name:<12} {held:>9} entries  {bytes:>11} bytes  {:>6.1} bytes/entry",
        bytes as f64 / held as f64
    );
    drop(cache);
}

fn main() {
    println!("u64 -> u64, capacity {ENTRIES}, {ENTRIES} distinct keys inserted");
    measure(
        "ha-cache",
        || {
            ha::cache::Cache::<u64, u64>::builder(ENTRIES)
                .build()
                .unwrap()
        },
        |c, k| c.insert(k, k),
        |c| c.len(),
    );
    measure(
        "quick_cache",
        || quick_cache::sync::Cache::<u64, u64>::new(ENTRIES as usize),
        |c, k| c.insert(k, k),
        |c| c.len() as u64,
    );
    measure(
        "moka",
        || moka::sync::Cache::<u64, u64>::new(ENTRIES),
        |c, k| c.insert(k, k),
        |c| {
            c.run_pending_tasks();
            c.entry_count()
        },
    );
}
