//! A small deterministic simulation harness shared by the simulation tests: a virtual clock and
//! event queue, a network with seeded delays (hence reordering), drops, partitions and crashed
//! nodes, and a Wing–Gong / Lowe linearizability checker for a register.
#![allow(dead_code, unreachable_pub)]

pub mod linearizability;
pub mod net;

/// How many seeds a simulation runs: `HA_SIM_SEEDS` if set, else `default`.
pub fn seed_count(default: u64) -> u64 {
    std::env::var("HA_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// The first seed: `HA_SIM_SEED_START` if set (to replay one failing seed), else 0.
pub fn first_seed() -> u64 {
    std::env::var("HA_SIM_SEED_START")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}
