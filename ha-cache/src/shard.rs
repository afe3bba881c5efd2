//! One shard of the cache: a single-threaded W-TinyLFU core that the concurrent [`Cache`]
//! wraps in a lock, one per shard.
//!
//! Entries live in a slab; a hash table maps each key's hash to its slot. Three intrusive LRU
//! lists (oldest at the head) hold the regions of W-TinyLFU: the admission *window*, and the
//! main space split into *probation* and *protected*. A new entry enters the window; when the
//! window overflows, its oldest entries move to probation as candidates, and while the shard is
//! over capacity each candidate duels the oldest probation entry (the victim): the one the
//! frequency sketch says was asked for more often stays. A hit in probation promotes an entry
//! to protected; protected overflow is demoted back to probation.
//!
//! Unlike Caffeine, which buffers reads and replays them on the lists, a read here only sets
//! the entry's `referenced` bit (and counts it in the sketch); the move a read earns — to its
//! list's tail, or from probation to protected — is made when eviction next reaches the entry,
//! as CLOCK's second chance does. A hit touches one entry instead of three list neighbours.
//!
//! [`Cache`]: crate::Cache

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU64};

use hashbrown::HashTable;

use crate::expiry::{ExpiryQueue, LazyNow, NEVER};
use crate::frequency_sketch::FrequencySketch;
use crate::listener::{RemovalCause, Removed};
use crate::policy::{Climber, INITIAL_WINDOW_RATIO, PROTECTED_RATIO};
use crate::stats::CacheStats;

/// No slot.
const NIL: u32 = u32::MAX;
/// A candidate this frequent may win a lost duel at random, 1 time in 128, so an attacker
/// cannot pin a hot victim in place by flooding colliding keys (Caffeine's defence).
const ADMIT_HASHDOS_THRESHOLD: u8 = 6;
/// Operations between clock reads that look for expired entries when no operation read it.
const SWEEP_EVERY: u32 = 64;
/// Expired entries removed per operation at most (the rest wait for the next operations).
const SWEEP_BUDGET: usize = 32;

/// A tag entries can be invalidated by.
pub(crate) type Tag = Arc<str>;

type TagIndex = HashMap<Tag, hashbrown::HashSet<u32, ahash::RandomState>, ahash::RandomState>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Region {
    Window = 0,
    Probation = 1,
    Protected = 2,
}

#[derive(Debug)]
struct Node<K, V> {
    key: K,
    value: V,
    hash: u64,
    weight: u64,
    region: Region,
    /// Read since it was last placed: moves it (to the window's or protected's tail, or from
    /// probation to protected) when eviction next reaches it, instead of on the read.
    referenced: AtomicBool,
    prev: u32,
    next: u32,
    /// Time-to-live deadline, or [`NEVER`].
    expires_at: u64,
    /// Last read or write, for time to idle.
    accessed_at: u64,
    /// The deadline of this entry's live item in the expiry queue, or [`NEVER`].
    queued: u64,
    tags: Option<Box<[Tag]>>,
}

#[derive(Debug)]
struct Slot<K, V> {
    generation: u32,
    node: Option<Node<K, V>>,
}

#[derive(Debug, Clone, Copy)]
struct List {
    head: u32,
    tail: u32,
    len: u64,
    weight: u64,
}

impl List {
    const EMPTY: List = List {
        head: NIL,
        tail: NIL,
        len: 0,
        weight: 0,
    };
}

/// What an insert stores besides the key and value: its weight, time to live and tags.
#[derive(Debug, Clone, Default)]
pub(crate) struct Write {
    pub(crate) weight: u64,
    /// Nanoseconds the entry lives, or `None` for the cache's default.
    pub(crate) ttl: Option<u64>,
    pub(crate) tags: Option<Box<[Tag]>>,
}

/// Settings fixed at construction.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ShardSettings {
    pub(crate) capacity: u64,
    /// Entries the shard is expected to hold (sizes the sketch).
    pub(crate) entries: u64,
    pub(crate) default_ttl: Option<u64>,
    pub(crate) time_to_idle: Option<u64>,
    pub(crate) seed: u64,
}

/// One shard.
#[derive(Debug)]
pub(crate) struct Shard<K, V> {
    table: HashTable<u32>,
    slots: Vec<Slot<K, V>>,
    free: Vec<u32>,
    lists: [List; 3],
    settings: ShardSettings,
    weight: u64,
    window_max: u64,
    protected_max: u64,
    sketch: FrequencySketch,
    climber: Climber,
    expiry: ExpiryQueue,
    /// Entries with a live expiry-queue item.
    timed: usize,
    tags: TagIndex,
    tag_hasher: ahash::RandomState,
    /// Counts other than hits and misses.
    stats: CacheStats,
    /// Hits and misses: relaxed atomics, counted by reads under the shared lock.
    hits: AtomicU64,
    misses: AtomicU64,
    rng: u64,
    ops: u32,
}

impl<K: Hash + Eq + Clone, V: Clone> Shard<K, V> {
    pub(crate) fn new(settings: ShardSettings) -> Shard<K, V> {
        let capacity = settings.capacity;
        let window_max = ((capacity as f64 * INITIAL_WINDOW_RATIO) as u64).max(1);
        let mut shard = Shard {
            table: HashTable::new(),
            slots: Vec::new(),
            free: Vec::new(),
            lists: [List::EMPTY; 3],
            settings,
            weight: 0,
            window_max,
            protected_max: 0,
            sketch: FrequencySketch::new(settings.entries.min(1 << 20)),
            climber: Climber::new(capacity, settings.entries),
            expiry: ExpiryQueue::default(),
            timed: 0,
            tags: TagIndex::with_hasher(Self::hasher(settings.seed)),
            tag_hasher: Self::hasher(settings.seed),
            stats: CacheStats::default(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            rng: settings.seed | 1,
            ops: 0,
        };
        shard.set_window(window_max);
        shard
    }

    fn hasher(seed: u64) -> ahash::RandomState {
        ahash::RandomState::with_seeds(seed, seed ^ 0x5bd1_e995, 0x2545_f491, 0x9e37_79b9)
    }

    fn set_window(&mut self, window_max: u64) {
        self.window_max = window_max.min(self.settings.capacity);
        let main = self.settings.capacity - self.window_max;
        self.protected_max = (main as f64 * PROTECTED_RATIO) as u64;
    }

    pub(crate) fn capacity(&self) -> u64 {
        self.settings.capacity
    }

    /// This shard's counts.
    pub(crate) fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Relaxed),
            misses: self.misses.load(Relaxed),
            ..self.stats
        }
    }

    pub(crate) fn len(&self) -> u64 {
        self.lists.iter().map(|l| l.len).sum()
    }

    pub(crate) fn weight(&self) -> u64 {
        self.weight
    }

    fn node(&self, slot: u32) -> &Node<K, V> {
        match &self.slots[slot as usize].node {
            Some(node) => node,
            None => unreachable!("slot {slot} is linked but empty"),
        }
    }

    fn node_mut(&mut self, slot: u32) -> &mut Node<K, V> {
        match &mut self.slots[slot as usize].node {
            Some(node) => node,
            None => unreachable!("slot {slot} is linked but empty"),
        }
    }

    fn find<Q>(&self, hash: u64, key: &Q) -> Option<u32>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let slots = &self.slots;
        self.table
            .find(hash, |&slot| match &slots[slot as usize].node {
                Some(node) => node.key.borrow() == key,
                None => false,
            })
            .copied()
    }

    // ---- lists -------------------------------------------------------------------------------

    fn link_tail(&mut self, region: Region, slot: u32) {
        let tail = self.lists[region as usize].tail;
        let weight = {
            let node = self.node_mut(slot);
            node.region = region;
            node.prev = tail;
            node.next = NIL;
            node.weight
        };
        if tail == NIL {
            self.lists[region as usize].head = slot;
        } else {
            self.node_mut(tail).next = slot;
        }
        let list = &mut self.lists[region as usize];
        list.tail = slot;
        list.len += 1;
        list.weight += weight;
    }

    fn unlink(&mut self, slot: u32) {
        let (region, prev, next, weight) = {
            let node = self.node(slot);
            (node.region, node.prev, node.next, node.weight)
        };
        if prev == NIL {
            self.lists[region as usize].head = next;
        } else {
            self.node_mut(prev).next = next;
        }
        if next == NIL {
            self.lists[region as usize].tail = prev;
        } else {
            self.node_mut(next).prev = prev;
        }
        let list = &mut self.lists[region as usize];
        list.len -= 1;
        list.weight -= weight;
    }

    fn move_to(&mut self, region: Region, slot: u32) {
        self.unlink(slot);
        self.link_tail(region, slot);
    }

    // ---- expiry ------------------------------------------------------------------------------

    fn deadline(&self, node: &Node<K, V>) -> u64 {
        match self.settings.time_to_idle {
            Some(idle) => node.expires_at.min(node.accessed_at.saturating_add(idle)),
            None => node.expires_at,
        }
    }

    fn can_expire(&self, node: &Node<K, V>) -> bool {
        node.expires_at != NEVER || self.settings.time_to_idle.is_some()
    }

    /// Puts `slot` in the expiry queue at its current deadline, unless it is already there.
    fn schedule(&mut self, slot: u32) {
        let deadline = self.deadline(self.node(slot));
        let generation = self.slots[slot as usize].generation;
        let node = self.node_mut(slot);
        if node.queued == deadline {
            return;
        }
        let was_queued = node.queued != NEVER;
        node.queued = deadline;
        match (was_queued, deadline != NEVER) {
            (false, true) => self.timed += 1,
            (true, false) => self.timed -= 1,
            _ => {}
        }
        self.expiry.push(deadline, slot, generation);
        if self.expiry.len() > 2 * self.timed + 64 {
            let slots = &self.slots;
            self.expiry.retain(|deadline, slot, generation| {
                let live = &slots[slot as usize];
                live.generation == generation
                    && live.node.as_ref().is_some_and(|n| n.queued == deadline)
            });
        }
    }

    /// Removes up to `budget` entries whose deadline has passed.
    fn expire_due(&mut self, now: u64, budget: usize, removed: &mut Removed<K, V>) {
        let mut done = 0;
        while done < budget {
            let Some((deadline, slot, generation)) = self.expiry.pop_due(now) else {
                break;
            };
            let entry = &self.slots[slot as usize];
            let live = entry.generation == generation
                && entry.node.as_ref().is_some_and(|n| n.queued == deadline);
            if !live {
                continue;
            }
            let current = self.deadline(self.node(slot));
            if current <= now {
                self.remove_slot(slot, RemovalCause::Expired, removed);
                done += 1;
            } else {
                // Time to idle moved the deadline on: queue it again there.
                let node = self.node_mut(slot);
                node.queued = current;
                self.expiry.push(current, slot, generation);
            }
        }
        if done > 0 {
            tracing::debug!(expired = done, now, "cache expired entries");
        }
    }

    /// Every [`SWEEP_EVERY`] operations, or whenever the clock was read anyway, expires due entries.
    fn maintain(&mut self, now: &mut LazyNow<'_>, removed: &mut Removed<K, V>) {
        self.ops = self.ops.wrapping_add(1);
        if self.expiry.is_empty() {
            return;
        }
        if now.read().is_some() || self.ops % SWEEP_EVERY == 0 {
            let now = now.get();
            self.expire_due(now, SWEEP_BUDGET, removed);
        }
    }

    /// Expires every due entry.
    pub(crate) fn purge_expired(&mut self, now: &mut LazyNow<'_>, removed: &mut Removed<K, V>) {
        if !self.expiry.is_empty() {
            let now = now.get();
            self.expire_due(now, usize::MAX, removed);
        }
    }

    /// Whether the entry in `slot` has expired by now (reading the clock only if it can).
    fn is_expired(&self, slot: u32, now: &mut LazyNow<'_>) -> bool {
        let node = self.node(slot);
        self.can_expire(node) && self.deadline(node) <= now.get()
    }

    // ---- removal -----------------------------------------------------------------------------

    fn remove_slot(&mut self, slot: u32, cause: RemovalCause, removed: &mut Removed<K, V>) {
        self.unlink(slot);
        let hash = self.node(slot).hash;
        if let Ok(entry) = self.table.find_entry(hash, |&s| s == slot) {
            entry.remove();
        }
        let entry = &mut self.slots[slot as usize];
        entry.generation = entry.generation.wrapping_add(1);
        let Some(node) = entry.node.take() else {
            return;
        };
        self.free.push(slot);
        self.weight -= node.weight;
        if node.queued != NEVER {
            self.timed -= 1;
        }
        if let Some(tags) = &node.tags {
            self.untag(slot, tags);
        }
        match cause {
            RemovalCause::Size => self.stats.evictions_size += 1,
            RemovalCause::Expired => self.stats.expirations += 1,
            RemovalCause::Explicit => self.stats.removals_explicit += 1,
            RemovalCause::Replaced => self.stats.replacements += 1,
        }
        removed.push((node.key, node.value, cause));
    }

    fn untag(&mut self, slot: u32, tags: &[Tag]) {
        for tag in tags {
            if let Some(set) = self.tags.get_mut(tag) {
                set.remove(&slot);
                if set.is_empty() {
                    self.tags.remove(tag);
                }
            }
        }
    }

    fn tag(&mut self, slot: u32, tags: &[Tag]) {
        for tag in tags {
            self.tags
                .entry(tag.clone())
                .or_insert_with(|| hashbrown::HashSet::with_hasher(self.tag_hasher.clone()))
                .insert(slot);
        }
    }

    // ---- policy ------------------------------------------------------------------------------

    /// A read: counted in the sketch and marked for its move at the next eviction (lazy
    /// promotion), so a hit touches only its own entry.
    fn on_hit(&self, slot: u32) {
        let node = self.node(slot);
        if !node.referenced.load(Relaxed) {
            node.referenced.store(true, Relaxed);
        }
        self.sketch.increment(node.hash);
    }

    /// Demotes protected overflow to probation, giving read entries a second chance.
    fn demote_protected(&mut self) {
        let mut chances = self.lists[Region::Protected as usize].len;
        while self.lists[Region::Protected as usize].weight > self.protected_max
            && self.lists[Region::Protected as usize].len > 1
        {
            let oldest = self.lists[Region::Protected as usize].head;
            let node = self.node_mut(oldest);
            let again = *node.referenced.get_mut() && chances > 0;
            *node.referenced.get_mut() = false;
            if again {
                chances -= 1;
                self.move_to(Region::Protected, oldest);
            } else {
                self.move_to(Region::Probation, oldest);
            }
        }
    }

    fn on_miss(&mut self) {
        self.climb();
    }

    /// A lookup under the shared lock: a hit or a miss it can answer alone, or `None` when the
    /// exclusive path must run — the entry expired (it must be removed), the cache has a time
    /// to idle (a read moves the deadline), or expiry maintenance is due (every 64th hit on
    /// a shard with timed entries).
    pub(crate) fn get_shared<Q>(
        &self,
        hash: u64,
        key: &Q,
        now: &mut LazyNow<'_>,
    ) -> Option<Option<V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if self.settings.time_to_idle.is_some() {
            return None;
        }
        let Some(slot) = self.find(hash, key) else {
            self.misses.fetch_add(1, Relaxed);
            return Some(None);
        };
        if self.is_expired(slot, now) {
            return None;
        }
        let hits = self.hits.fetch_add(1, Relaxed);
        if !self.expiry.is_empty() && hits % u64::from(SWEEP_EVERY) == 0 {
            // Undo: the exclusive path counts this read.
            self.hits.fetch_sub(1, Relaxed);
            return None;
        }
        self.on_hit(slot);
        Some(Some(self.node(slot).value.clone()))
    }

    fn climb(&mut self) {
        let (hits, misses) = (*self.hits.get_mut(), *self.misses.get_mut());
        if let Some(amount) = self.climber.adjustment(hits, misses) {
            let window = if amount >= 0 {
                self.window_max.saturating_add(amount.unsigned_abs())
            } else {
                self.window_max.saturating_sub(amount.unsigned_abs())
            };
            self.set_window(window);
            tracing::debug!(
                window_max = self.window_max,
                protected_max = self.protected_max,
                capacity = self.settings.capacity,
                "cache window resized"
            );
        }
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64*: enough for a 1-in-128 coin.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// TinyLFU's admission: whether `candidate` should replace `victim`.
    fn admit(&mut self, candidate: u64, victim: u64) -> bool {
        let candidate_freq = self.sketch.frequency(candidate);
        let victim_freq = self.sketch.frequency(victim);
        let admitted = if candidate_freq > victim_freq {
            true
        } else if candidate_freq >= ADMIT_HASHDOS_THRESHOLD {
            self.next_random() & 127 == 0
        } else {
            false
        };
        tracing::trace!(
            candidate_freq,
            victim_freq,
            admitted,
            "cache admission duel"
        );
        admitted
    }

    /// Moves window overflow to probation and evicts until the shard is within capacity.
    ///
    /// Entries read since they were placed get their move now: a window entry goes back to the
    /// window's tail, a probation entry is promoted to protected (and protected overflow is
    /// demoted afterwards). The entries leaving the window are the candidates; each duels the
    /// probation head (the victim) on sketch frequency.
    fn evict(&mut self, removed: &mut Removed<K, V>) {
        let mut candidates = 0u64;
        let mut chances = self.lists[Region::Window as usize].len;
        while self.lists[Region::Window as usize].weight > self.window_max {
            let oldest = self.lists[Region::Window as usize].head;
            if oldest == NIL {
                break;
            }
            let node = self.node_mut(oldest);
            let again = *node.referenced.get_mut() && chances > 0;
            *node.referenced.get_mut() = false;
            if again {
                chances -= 1;
                self.move_to(Region::Window, oldest);
            } else {
                self.move_to(Region::Probation, oldest);
                candidates += 1;
            }
        }
        while self.weight > self.settings.capacity {
            let probation = self.lists[Region::Probation as usize];
            let victim_is_candidate = candidates > 0 && probation.len <= candidates;
            let head = probation.head;
            if head != NIL && self.node(head).referenced.load(Relaxed) {
                *self.node_mut(head).referenced.get_mut() = false;
                self.move_to(Region::Protected, head);
                if victim_is_candidate {
                    candidates -= 1;
                }
                continue;
            }
            let victim = [Region::Probation, Region::Protected, Region::Window]
                .iter()
                .map(|&r| self.lists[r as usize].head)
                .find(|&s| s != NIL);
            let Some(victim) = victim else {
                break;
            };
            let candidate = if candidates > 0 { probation.tail } else { NIL };
            if candidate == NIL || candidate == victim {
                self.remove_slot(victim, RemovalCause::Size, removed);
                if victim_is_candidate {
                    candidates -= 1;
                }
                continue;
            }
            let (candidate_hash, victim_hash) = (self.node(candidate).hash, self.node(victim).hash);
            if self.admit(candidate_hash, victim_hash) {
                self.remove_slot(victim, RemovalCause::Size, removed);
                if victim_is_candidate {
                    candidates -= 1;
                }
            } else {
                self.remove_slot(candidate, RemovalCause::Size, removed);
                candidates -= 1;
            }
        }
        self.demote_protected();
    }

    // ---- operations --------------------------------------------------------------------------

    /// Looks `key` up, counting a hit or a miss; an expired entry is removed, never returned.
    pub(crate) fn get<Q>(
        &mut self,
        hash: u64,
        key: &Q,
        now: &mut LazyNow<'_>,
        removed: &mut Removed<K, V>,
    ) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let found = self.find(hash, key);
        let out = match found {
            Some(slot) if self.is_expired(slot, now) => {
                self.remove_slot(slot, RemovalCause::Expired, removed);
                None
            }
            Some(slot) => {
                if self.settings.time_to_idle.is_some() {
                    let at = now.get();
                    self.node_mut(slot).accessed_at = at;
                }
                self.on_hit(slot);
                Some(self.node(slot).value.clone())
            }
            None => None,
        };
        if out.is_some() {
            self.hits.fetch_add(1, Relaxed);
        } else {
            self.misses.fetch_add(1, Relaxed);
            self.on_miss();
        }
        self.sketch.age_if_due();
        self.maintain(now, removed);
        out
    }

    /// The live value of `key`, with no effect on statistics or the policy.
    pub(crate) fn peek<Q>(&self, hash: u64, key: &Q, now: &mut LazyNow<'_>) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let slot = self.find(hash, key)?;
        (!self.is_expired(slot, now)).then(|| self.node(slot).value.clone())
    }

    /// The live entry of `key` with its time-to-live deadline ([`NEVER`] for none) and its
    /// tags, with no effect on statistics or the policy (for a primary's snapshot).
    pub(crate) fn peek_entry<Q>(
        &self,
        hash: u64,
        key: &Q,
        now: &mut LazyNow<'_>,
    ) -> Option<(V, u64, Vec<Tag>)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let slot = self.find(hash, key)?;
        if self.is_expired(slot, now) {
            return None;
        }
        let node = self.node(slot);
        let tags = node.tags.as_deref().map_or_else(Vec::new, <[Tag]>::to_vec);
        Some((node.value.clone(), node.expires_at, tags))
    }

    /// Inserts or overwrites `key`. An entry heavier than the shard is not stored: a previous
    /// value is removed, and the new one reported as evicted for size.
    pub(crate) fn insert(
        &mut self,
        hash: u64,
        key: K,
        value: V,
        write: Write,
        now: &mut LazyNow<'_>,
        removed: &mut Removed<K, V>,
    ) {
        let weight = write.weight;
        self.sketch.age_if_due();
        self.climb();
        let ttl = write.ttl.or(self.settings.default_ttl);
        let timed = ttl.is_some() || self.settings.time_to_idle.is_some();
        let at = if timed { now.get() } else { 0 };
        let expires_at = ttl.map_or(NEVER, |ttl| at.saturating_add(ttl));
        let mut existing = self.find(hash, &key);
        if let Some(slot) = existing.filter(|&slot| self.is_expired(slot, now)) {
            // An expired entry is gone: the write is a fresh insert.
            self.remove_slot(slot, RemovalCause::Expired, removed);
            existing = None;
        }
        if weight > self.settings.capacity {
            if let Some(slot) = existing {
                self.remove_slot(slot, RemovalCause::Replaced, removed);
            }
            tracing::debug!(
                weight,
                capacity = self.settings.capacity,
                "cache entry too heavy, not stored"
            );
            self.stats.evictions_size += 1;
            removed.push((key, value, RemovalCause::Size));
            self.maintain(now, removed);
            return;
        }
        match existing {
            Some(slot) => {
                let old_tags = self.node_mut(slot).tags.take();
                if let Some(tags) = &old_tags {
                    self.untag(slot, tags);
                }
                if let Some(tags) = &write.tags {
                    self.tag(slot, tags);
                }
                let old_weight = self.node(slot).weight;
                let region = self.node(slot).region;
                let node = self.node_mut(slot);
                let old = std::mem::replace(&mut node.value, value);
                node.weight = weight;
                node.expires_at = expires_at;
                node.accessed_at = at;
                node.tags = write.tags;
                let list = &mut self.lists[region as usize];
                list.weight = list.weight - old_weight + weight;
                self.weight = self.weight - old_weight + weight;
                self.stats.updates += 1;
                self.stats.replacements += 1;
                removed.push((key, old, RemovalCause::Replaced));
                self.schedule(slot);
                self.on_hit(slot);
            }
            None => {
                let node = Node {
                    key,
                    value,
                    hash,
                    weight,
                    region: Region::Window,
                    referenced: AtomicBool::new(false),
                    prev: NIL,
                    next: NIL,
                    expires_at,
                    accessed_at: at,
                    queued: NEVER,
                    tags: None,
                };
                let slot = match self.free.pop() {
                    Some(slot) => {
                        self.slots[slot as usize].node = Some(node);
                        slot
                    }
                    None => {
                        let slot = u32::try_from(self.slots.len()).unwrap_or(NIL);
                        debug_assert!(slot != NIL, "a shard holds fewer than 2^32 - 1 entries");
                        self.slots.push(Slot {
                            generation: 0,
                            node: Some(node),
                        });
                        slot
                    }
                };
                let slots = &self.slots;
                self.table
                    .insert_unique(hash, slot, |&s| match &slots[s as usize].node {
                        Some(node) => node.hash,
                        None => 0,
                    });
                if let Some(tags) = &write.tags {
                    self.tag(slot, tags);
                }
                self.node_mut(slot).tags = write.tags;
                self.weight += weight;
                self.link_tail(Region::Window, slot);
                self.schedule(slot);
                self.stats.inserts += 1;
                self.sketch.increment(hash);
                self.sketch.ensure_capacity(self.len());
            }
        }
        self.evict(removed);
        self.maintain(now, removed);
    }

    /// Removes `key`, returning its live value.
    pub(crate) fn remove<Q>(
        &mut self,
        hash: u64,
        key: &Q,
        now: &mut LazyNow<'_>,
        removed: &mut Removed<K, V>,
    ) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let slot = self.find(hash, key)?;
        let out = if self.is_expired(slot, now) {
            self.remove_slot(slot, RemovalCause::Expired, removed);
            None
        } else {
            self.remove_slot(slot, RemovalCause::Explicit, removed);
            removed.last().map(|(_, value, _)| value.clone())
        };
        self.maintain(now, removed);
        out
    }

    /// Removes every live entry tagged `tag`, returning how many; expired ones are reported
    /// as expired and not counted.
    pub(crate) fn invalidate_tag(
        &mut self,
        tag: &str,
        now: &mut LazyNow<'_>,
        removed: &mut Removed<K, V>,
    ) -> u64 {
        let Some(slots) = self.tags.get(tag) else {
            return 0;
        };
        let mut slots: Vec<u32> = slots.iter().copied().collect();
        slots.sort_unstable();
        self.remove_slots(slots, now, removed)
    }

    /// Removes every live entry whose key `matches`, returning how many.
    pub(crate) fn invalidate_matching(
        &mut self,
        mut matches: impl FnMut(&K) -> bool,
        now: &mut LazyNow<'_>,
        removed: &mut Removed<K, V>,
    ) -> u64 {
        let slots: Vec<u32> = (0..self.slots.len() as u32)
            .filter(|&s| {
                self.slots[s as usize]
                    .node
                    .as_ref()
                    .is_some_and(|n| matches(&n.key))
            })
            .collect();
        self.remove_slots(slots, now, removed)
    }

    fn remove_slots(
        &mut self,
        slots: Vec<u32>,
        now: &mut LazyNow<'_>,
        removed: &mut Removed<K, V>,
    ) -> u64 {
        let mut count = 0;
        for slot in slots {
            if self.is_expired(slot, now) {
                self.remove_slot(slot, RemovalCause::Expired, removed);
            } else {
                self.remove_slot(slot, RemovalCause::Explicit, removed);
                count += 1;
            }
        }
        count
    }

    /// Removes every entry.
    pub(crate) fn clear(&mut self, now: &mut LazyNow<'_>, removed: &mut Removed<K, V>) {
        let slots: Vec<u32> = (0..self.slots.len() as u32)
            .filter(|&s| self.slots[s as usize].node.is_some())
            .collect();
        self.remove_slots(slots, now, removed);
        self.expiry.clear();
        self.slots.clear();
        self.free.clear();
        self.table.clear();
    }

    /// Checks every internal invariant, describing the first one broken.
    pub(crate) fn check_invariants(&self) -> Result<(), String> {
        let mut weight = 0;
        let mut len = 0;
        for region in [Region::Window, Region::Probation, Region::Protected] {
            let list = self.lists[region as usize];
            let (mut n, mut w, mut prev, mut at) = (0, 0, NIL, list.head);
            while at != NIL {
                let node = self.node(at);
                if node.region != region || node.prev != prev {
                    return Err(format!("slot {at} is mislinked in {region:?}"));
                }
                if self.find(node.hash, &node.key) != Some(at) {
                    return Err(format!("slot {at} is not found by its key"));
                }
                n += 1;
                w += node.weight;
                prev = at;
                at = node.next;
            }
            if prev != list.tail || n != list.len || w != list.weight {
                return Err(format!("{region:?} list counts are off"));
            }
            weight += w;
            len += n;
        }
        if weight != self.weight || self.table.len() as u64 != len {
            return Err(format!(
                "weight {} / entries {} disagree with lists {weight} / {len}",
                self.weight,
                self.table.len()
            ));
        }
        if self.weight > self.settings.capacity {
            return Err(format!(
                "weight {} exceeds capacity {}",
                self.weight, self.settings.capacity
            ));
        }
        for (tag, slots) in &self.tags {
            for &slot in slots {
                let tagged = self.slots[slot as usize]
                    .node
                    .as_ref()
                    .and_then(|n| n.tags.as_ref())
                    .is_some_and(|tags| tags.iter().any(|t| t == tag));
                if !tagged {
                    return Err(format!("tag index lists slot {slot} under {tag:?} wrongly"));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_stays_small() {
        // The figure the crate docs give for memory per entry (with u64 keys and values).
        assert!(std::mem::size_of::<Slot<u64, u64>>() <= 96);
    }
}
