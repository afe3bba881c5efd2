//! How evenly each ha-shard placement spreads keys, and how many keys a join moves — the figures
//! behind BENCHMARKS.md's placement table.
//!
//! Run: `cargo run --release --example placement_report` (about half a minute). For each algorithm
//! and 10, 100 and 1000 nodes it places 1 000 000 keys and prints peak / mean load, then adds one
//! node and prints the share of keys that moved against the ideal `1/(n+1)` — for Maglev both
//! for a fresh build and for `Maglev::rebuild` from the previous table. Bounded loads are
//! reported as the peak load over the average, against their load factor `c`.

use std::error::Error;

use ha::core::{Node, NodeId};
use ha::shard::{
    BoundedLoads, BoundedLoadsConfig, HashRing, JumpHash, Maglev, MaglevConfig, Memento, Placement,
    Rendezvous, RingConfig, ideal_join_fraction, load_imbalance, moved_fraction,
};

const KEYS: u64 = 1_000_000;
const SIZES: [usize; 3] = [10, 100, 1000];

fn nodes(count: usize) -> Result<Vec<Node>, ha::core::Error> {
    (0..count)
        .map(|i| Ok(Node::new(NodeId::new(format!("node-{i}"))?, "")))
        .collect()
}

type Build = fn(Vec<Node>) -> Result<Box<dyn Placement>, ha::shard::Error>;

fn main() -> Result<(), Box<dyn Error>> {
    let keys: Vec<[u8; 8]> = (0..KEYS).map(u64::to_le_bytes).collect();
    let algorithms: [(&str, Build); 5] = [
        ("jump", |n| Ok(Box::new(JumpHash::new(n)?))),
        ("rendezvous", |n| Ok(Box::new(Rendezvous::new(n)?))),
        ("maglev (65537)", |n| {
            Ok(Box::new(Maglev::new(n, MaglevConfig::default())?))
        }),
        ("ring (1500 points)", |n| {
            Ok(Box::new(HashRing::new(n, RingConfig::default())?))
        }),
        ("memento", |n| Ok(Box::new(Memento::new(n)?))),
    ];
    println!("{KEYS} keys; peak/mean load, and keys moved when node n+1 joins (ideal 1/(n+1))\n");
    println!(
        "{:<20} {:>6} {:>10} {:>10} {:>10} {:>12}",
        "algorithm", "nodes", "peak/mean", "moved", "ideal", "moved/ideal"
    );
    for (name, build) in algorithms {
        for size in SIZES {
            let before = build(nodes(size)?)?;
            let after = build(nodes(size + 1)?)?;
            let report = load_imbalance(&*before, &keys);
            let moved = moved_fraction(&*before, &*after, &keys);
            let ideal = ideal_join_fraction(size);
            println!(
                "{name:<20} {size:>6} {:>10.3} {:>10.5} {:>10.5} {:>12.3}",
                report.peak_over_mean,
                moved,
                ideal,
                moved / ideal
            );
        }
    }

    for size in SIZES {
        let before = Maglev::new(nodes(size)?, MaglevConfig::default())?;
        let after = before.rebuild(nodes(size + 1)?)?;
        let moved = moved_fraction(&before, &after, &keys);
        let ideal = ideal_join_fraction(size);
        println!(
            "{:<20} {size:>6} {:>10} {:>10.5} {:>10.5} {:>12.3}",
            "maglev rebuild",
            "",
            moved,
            ideal,
            moved / ideal
        );
    }

    println!("\nbounded loads over the ring, load factor c = 1.25: peak load / average");
    for size in SIZES {
        let mut bounded = BoundedLoads::new(
            HashRing::new(nodes(size)?, RingConfig::default())?,
            BoundedLoadsConfig { load_factor: 1.25 },
        )?;
        for k in &keys {
            bounded.assign_key(k);
        }
        let peak = (0..size).map(|i| bounded.load(i)).max().unwrap_or(0);
        let average = KEYS as f64 / size as f64;
        println!(
            "{:<20} {size:>6} {:>10.3}   (c = 1.25)",
            "bounded",
            peak as f64 / average
        );
    }
    Ok(())
}
