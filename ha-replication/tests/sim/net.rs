//! The simulated network and clock.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Virtual time in milliseconds.
pub type Time = u64;

/// Network behaviour.
#[derive(Debug, Clone, Copy)]
pub struct NetConfig {
    /// Smallest one-way delay, ms.
    pub min_delay: Time,
    /// Largest one-way delay, ms (random in between, so messages reorder).
    pub max_delay: Time,
    /// Chance a message is lost.
    pub drop_ratio: f64,
}

/// A seeded event queue over a network of `nodes` nodes (indices), with partitions and crashes.
#[derive(Debug)]
pub struct Sim<E> {
    pub rng: StdRng,
    pub now: Time,
    pub base: Instant,
    pub config: NetConfig,
    queue: BTreeMap<(Time, u64), E>,
    seq: u64,
    /// Blocked links, stored as (low, high).
    blocked: BTreeSet<(usize, usize)>,
    down: Vec<bool>,
    pub delivered: u64,
    pub dropped: u64,
}

impl<E> Sim<E> {
    pub fn new(seed: u64, nodes: usize, config: NetConfig) -> Sim<E> {
        Sim {
            rng: StdRng::seed_from_u64(seed),
            now: 0,
            base: Instant::now(),
            config,
            queue: BTreeMap::new(),
            seq: 0,
            blocked: BTreeSet::new(),
            down: vec![false; nodes],
            delivered: 0,
            dropped: 0,
        }
    }

    /// The virtual time as an `Instant`.
    pub fn instant(&self, at: Time) -> Instant {
        self.base + Duration::from_millis(at)
    }

    pub fn schedule(&mut self, at: Time, event: E) {
        self.seq += 1;
        self.queue.insert((at.max(self.now), self.seq), event);
    }

    /// Schedules `event` as a message from `from` to `to`: lost if either end is down, the link
    /// is cut, or by chance; otherwise delivered after a random delay. The receiver must check
    /// [`can_deliver`](Self::can_deliver) when it arrives.
    pub fn send(&mut self, from: usize, to: usize, event: E) {
        if self.down[from] || !self.linked(from, to) || self.rng.random_bool(self.config.drop_ratio)
        {
            self.dropped += 1;
            return;
        }
        let delay = self
            .rng
            .random_range(self.config.min_delay..=self.config.max_delay);
        let at = self.now + delay;
        self.schedule(at, event);
    }

    /// Whether a message from `from` may be handed to `to` now (it is up and the link whole).
    pub fn can_deliver(&mut self, from: usize, to: usize) -> bool {
        let ok = !self.down[to] && self.linked(from, to);
        if ok {
            self.delivered += 1;
        } else {
            self.dropped += 1;
        }
        ok
    }

    pub fn pop(&mut self) -> Option<(Time, E)> {
        let ((at, _), event) = self.queue.pop_first()?;
        self.now = at;
        Some((at, event))
    }

    /// The next event due at or before `limit`, if any.
    pub fn pop_until(&mut self, limit: Time) -> Option<(Time, E)> {
        let (&(at, _), _) = self.queue.first_key_value()?;
        if at > limit {
            return None;
        }
        self.pop()
    }

    pub fn is_idle(&self) -> bool {
        self.queue.is_empty()
    }

    pub fn linked(&self, a: usize, b: usize) -> bool {
        a == b || !self.blocked.contains(&(a.min(b), a.max(b)))
    }

    pub fn is_up(&self, node: usize) -> bool {
        !self.down[node]
    }

    /// Whether `to` is up and reachable from `from`: the oracle failure detector the simulated
    /// nodes use.
    pub fn reachable(&self, from: usize, to: usize) -> bool {
        self.is_up(to) && self.linked(from, to)
    }

    /// Cuts every link between `side` and the other nodes.
    pub fn partition(&mut self, side: &[usize]) {
        let n = self.down.len();
        for &a in side {
            for b in 0..n {
                if !side.contains(&b) {
                    self.blocked.insert((a.min(b), a.max(b)));
                }
            }
        }
    }

    pub fn heal(&mut self) {
        self.blocked.clear();
    }

    pub fn crash(&mut self, node: usize) {
        self.down[node] = true;
    }

    pub fn restart(&mut self, node: usize) {
        self.down[node] = false;
    }

    pub fn restart_all(&mut self) {
        self.down.iter_mut().for_each(|d| *d = false);
    }
}
