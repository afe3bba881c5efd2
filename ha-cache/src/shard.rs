//! One shard of the cache: a single-threaded W-TinyLFU core that the concurrent [`Cache`]
//! wraps in a lock, one per shard.
//!
//! Entries live in slabs indexed by a `u32` slot, laid out by who reads them: a read touches
//! only the *entry* (key hash, key, value, read mark, region: 32 bytes for `u64 → u64`); list
//! moves touch only the 16-byte *links* (neighbours, weight, slot generation); deadlines live
//! in a third slab that exists only once the shard holds an entry that can expire, and tags in
//! a side map. A hash table maps each key's hash to its slot. Three intrusive LRU lists
//! (oldest at the head) hold the regions of W-TinyLFU: the admission *window*, and the main
//! space split into *probation* and *protected*. A new entry enters the window; when the window
//! overflows, its oldest entries move to probation as candidates, and while the shard is over
//! capacity each candidate duels the oldest probation entry (the victim): the one the frequency
//! sketch says was asked for more often stays. A hit in probation promotes an entry to
//! protected; protected overflow is demoted back to probation.
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
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64};

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
/// Reads a shard buffers for the sketch before a write (or a reader finding it full) counts
/// them.
const READ_BUFFER: usize = 64;

/// A tag entries can be invalidated by.
pub(crate) type Tag = Arc<str>;

type TagIndex = HashMap<Tag, hashbrown::HashSet<u32, ahash::RandomState>, ahash::RandomState>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Region {
    Window = 0,
    Probation = 1,
    Protected = 2,
}

/// What a read needs. `Option<Entry>` costs no extra byte: the region's spare values mark a
/// free slot.
#[derive(Debug)]
struct Entry<K, V> {
    hash: u64,
    key: K,
    value: V,
    /// Read since it was last placed: moves it (to the window's or protected's tail, or from
    /// probation to protected) when eviction next reaches it, instead of on the read.
    referenced: AtomicBool,
    region: Region,
}

/// What the lists need, apart from the entries so a list move touches 16 bytes a neighbour.
#[derive(Debug, Clone, Copy)]
struct Links {
    prev: u32,
    next: u32,
    weight: u32,
    /// Bumped each time the slot is freed, so stale expiry-queue items are recognised.
    generation: u32,
}

/// The deadlines of one entry, kept only by shards that hold an entry that can expire.
#[derive(Debug, Clone, Copy)]
struct Timing {
    /// Time-to-live deadline, or [`NEVER`].
    expires_at: u64,
    /// Last read or write, for time to idle.
    accessed_at: u64,
    /// The deadline of this entry's live item in the expiry queue, or [`NEVER`].
    queued: u64,
}

impl Timing {
    const UNTIMED: Timing = Timing {
        expires_at: NEVER,
        accessed_at: 0,
        queued: NEVER,
    };
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
    pub(crate) weight: u32,
    /// Nanoseconds the entry lives, or `None` for the cache's default.
    pub(crate) ttl: Option<u64>,
    pub(crate) tags: Option<Box<[Tag]>>,
}

/// Settings fixed at construction.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ShardSettings {
    pub(crate) capacity: u64,
    /// The heaviest entry stored: the same in every shard, even when the capacities differ by
    /// one after splitting the cache's capacity.
    pub(crate) max_entry_weight: u64,
    /// Entries the shard is expected to hold (sizes the sketch).
    pub(crate) entries: u64,
    pub(crate) default_ttl: Option<u64>,
    pub(crate) time_to_idle: Option<u64>,
    pub(crate) seed: u64,
}

/// One live entry as [`Shard::live_entries`] reports it: key, value, nanoseconds of life
/// left (`None`: no deadline) and tags.
pub(crate) type LiveEntry<K, V> = (K, V, Option<u64>, Vec<Tag>);

/// One shard.
#[derive(Debug)]
pub(crate) struct Shard<K, V> {
    table: HashTable<u32>,
    entries: Vec<Option<Entry<K, V>>>,
    links: Vec<Links>,
    /// Empty until the shard may hold an entry that can expire; then as long as `entries`.
    timing: Vec<Timing>,
    timing_on: bool,
    entry_tags: HashMap<u32, Box<[Tag]>, ahash::RandomState>,
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
    /// Key hashes of reads not yet counted in the sketch: a hit appends its hash (a plain
    /// load and store, no read-modify-write; racing readers may overwrite each other's, which
    /// only loses a count) instead of updating the sketch's random cache line, and the next
    /// writer counts the batch.
    reads: [AtomicU64; READ_BUFFER],
    reads_len: AtomicU32,
    rng: u64,
    ops: u32,
}

impl<K: Hash + Eq + Clone, V: Clone> Shard<K, V> {
    pub(crate) fn new(settings: ShardSettings) -> Shard<K, V> {
        let capacity = settings.capacity;
        let window_max = ((capacity as f64 * INITIAL_WINDOW_RATIO) as u64).max(1);
        let mut shard = Shard {
            table: HashTable::new(),
            entries: Vec::new(),
            links: Vec::new(),
            timing: Vec::new(),
            timing_on: settings.default_ttl.is_some() || settings.time_to_idle.is_some(),
            entry_tags: HashMap::with_hasher(Self::hasher(settings.seed)),
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
            reads: std::array::from_fn(|_| AtomicU64::new(0)),
            reads_len: AtomicU32::new(0),
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
        self.table.len() as u64
    }

    pub(crate) fn weight(&self) -> u64 {
        self.weight
    }

    fn entry(&self, slot: u32) -> &Entry<K, V> {
        match &self.entries[slot as usize] {
            Some(entry) => entry,
            None => unreachable!("slot {slot} is linked but empty"),
        }
    }

    fn entry_mut(&mut self, slot: u32) -> &mut Entry<K, V> {
        match &mut self.entries[slot as usize] {
            Some(entry) => entry,
            None => unreachable!("slot {slot} is linked but empty"),
        }
    }

    fn find<Q>(&self, hash: u64, key: &Q) -> Option<u32>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let entries = &self.entries;
        self.table
            .find(hash, |&slot| match &entries[slot as usize] {
                Some(entry) => entry.key.borrow() == key,
                None => false,
            })
            .copied()
    }

    /// Stores `entry` in a free slot (or a new one) and returns the slot.
    fn allocate(&mut self, entry: Entry<K, V>, weight: u32) -> u32 {
        if let Some(slot) = self.free.pop() {
            self.entries[slot as usize] = Some(entry);
            let links = &mut self.links[slot as usize];
            links.weight = weight;
            return slot;
        }
        let slot = u32::try_from(self.entries.len()).unwrap_or(NIL);
        debug_assert!(slot != NIL, "a shard holds fewer than 2^32 - 1 entries");
        self.entries.push(Some(entry));
        self.links.push(Links {
            prev: NIL,
            next: NIL,
            weight,
            generation: 0,
        });
        if self.timing_on {
            self.timing.push(Timing::UNTIMED);
        }
        slot
    }

    /// From now on the shard keeps deadlines for its entries.
    fn enable_timing(&mut self) {
        if !self.timing_on {
            self.timing_on = true;
            self.timing.resize(self.entries.len(), Timing::UNTIMED);
        }
    }

    // ---- lists -------------------------------------------------------------------------------

    fn link_tail(&mut self, region: Region, slot: u32) {
        self.entry_mut(slot).region = region;
        let list = &mut self.lists[region as usize];
        let tail = list.tail;
        let links = &mut self.links[slot as usize];
        links.prev = tail;
        links.next = NIL;
        list.tail = slot;
        list.len += 1;
        list.weight += u64::from(links.weight);
        if tail == NIL {
            list.head = slot;
        } else {
            self.links[tail as usize].next = slot;
        }
    }

    fn unlink(&mut self, slot: u32) {
        let region = self.entry(slot).region;
        let Links {
            prev, next, weight, ..
        } = self.links[slot as usize];
        let list = &mut self.lists[region as usize];
        if prev == NIL {
            list.head = next;
        } else {
            self.links[prev as usize].next = next;
        }
        if next == NIL {
            list.tail = prev;
        } else {
            self.links[next as usize].prev = prev;
        }
        list.len -= 1;
        list.weight -= u64::from(weight);
    }

    fn move_to(&mut self, region: Region, slot: u32) {
        self.unlink(slot);
        self.link_tail(region, slot);
    }

    // ---- expiry ------------------------------------------------------------------------------

    fn deadline(&self, timing: &Timing) -> u64 {
        match self.settings.time_to_idle {
            Some(idle) => timing
                .expires_at
                .min(timing.accessed_at.saturating_add(idle)),
            None => timing.expires_at,
        }
    }

    /// Puts `slot` in the expiry queue at its current deadline, unless it is already there.
    fn schedule(&mut self, slot: u32) {
        if !self.timing_on {
            return;
        }
        let deadline = self.deadline(&self.timing[slot as usize]);
        let generation = self.links[slot as usize].generation;
        let timing = &mut self.timing[slot as usize];
        if timing.queued == deadline {
            return;
        }
        let was_queued = timing.queued != NEVER;
        timing.queued = deadline;
        match (was_queued, deadline != NEVER) {
            (false, true) => self.timed += 1,
            (true, false) => self.timed -= 1,
            _ => {}
        }
        self.expiry.push(deadline, slot, generation);
        if self.expiry.len() > 2 * self.timed + 64 {
            let (links, timing) = (&self.links, &self.timing);
            self.expiry.retain(|deadline, slot, generation| {
                links[slot as usize].generation == generation
                    && timing[slot as usize].queued == deadline
            });
        }
    }

    /// Whether the item `(deadline, slot, generation)` popped from the queue is the live one.
    fn is_live_item(&self, deadline: u64, slot: u32, generation: u32) -> bool {
        self.links[slot as usize].generation == generation
            && self.entries[slot as usize].is_some()
            && self.timing[slot as usize].queued == deadline
    }

    /// Removes up to `budget` entries whose deadline has passed.
    fn expire_due(&mut self, now: u64, budget: usize, removed: &mut Removed<K, V>) {
        let mut done = 0;
        while done < budget {
            let Some((deadline, slot, generation)) = self.expiry.pop_due(now) else {
                break;
            };
            if !self.is_live_item(deadline, slot, generation) {
                continue;
            }
            let current = self.deadline(&self.timing[slot as usize]);
            if current <= now {
                self.remove_slot(slot, RemovalCause::Expired, removed);
                done += 1;
            } else {
                // Time to idle moved the deadline on: queue it again there.
                self.timing[slot as usize].queued = current;
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

    /// The deadline of the entry in `slot`, or [`NEVER`].
    fn deadline_of(&self, slot: u32) -> u64 {
        if self.timing_on {
            self.deadline(&self.timing[slot as usize])
        } else {
            NEVER
        }
    }

    /// Whether the entry in `slot` has expired by now (reading the clock only if it can).
    fn is_expired(&self, slot: u32, now: &mut LazyNow<'_>) -> bool {
        let deadline = self.deadline_of(slot);
        deadline != NEVER && deadline <= now.get()
    }

    // ---- removal -----------------------------------------------------------------------------

    fn remove_slot(&mut self, slot: u32, cause: RemovalCause, removed: &mut Removed<K, V>) {
        let (key, value) = self.take_slot(slot, cause);
        removed.push(key, value, cause);
    }

    /// Unlinks and frees `slot`, counting its removal, and returns its key and value.
    fn take_slot(&mut self, slot: u32, cause: RemovalCause) -> (K, V) {
        self.unlink(slot);
        let hash = self.entry(slot).hash;
        if let Ok(found) = self.table.find_entry(hash, |&s| s == slot) {
            found.remove();
        }
        let links = &mut self.links[slot as usize];
        links.generation = links.generation.wrapping_add(1);
        let weight = links.weight;
        let Some(entry) = self.entries[slot as usize].take() else {
            unreachable!("slot {slot} is linked but empty");
        };
        self.free.push(slot);
        self.weight -= u64::from(weight);
        if self.timing_on {
            let timing = &mut self.timing[slot as usize];
            if timing.queued != NEVER {
                self.timed -= 1;
            }
            *timing = Timing::UNTIMED;
        }
        if !self.entry_tags.is_empty() {
            if let Some(tags) = self.entry_tags.remove(&slot) {
                self.untag(slot, &tags);
            }
        }
        match cause {
            RemovalCause::Size => self.stats.evictions_size += 1,
            RemovalCause::Expired => self.stats.expirations += 1,
            RemovalCause::Explicit => self.stats.removals_explicit += 1,
            RemovalCause::Replaced => self.stats.replacements += 1,
        }
        (entry.key, entry.value)
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

    /// Sets the tags of `slot` (none: `None`), keeping the tag index in step.
    fn set_tags(&mut self, slot: u32, tags: Option<Box<[Tag]>>) {
        if !self.entry_tags.is_empty() {
            if let Some(old) = self.entry_tags.remove(&slot) {
                self.untag(slot, &old);
            }
        }
        if let Some(tags) = tags {
            for tag in tags.iter() {
                self.tags
                    .entry(tag.clone())
                    .or_insert_with(|| hashbrown::HashSet::with_hasher(self.tag_hasher.clone()))
                    .insert(slot);
            }
            self.entry_tags.insert(slot, tags);
        }
    }

    // ---- policy ------------------------------------------------------------------------------

    /// A read under the exclusive lock: counted in the sketch and marked for its move at the
    /// next eviction (lazy promotion), so a hit touches only its own entry.
    fn on_hit(&self, entry: &Entry<K, V>) {
        if !entry.referenced.load(Relaxed) {
            entry.referenced.store(true, Relaxed);
        }
        self.sketch.increment(entry.hash);
    }

    /// A read under the shared lock: marked, and its hash buffered for the sketch (dropped
    /// when the buffer is full: [`reads_full`](Shard::reads_full) tells the reader to drain).
    fn on_shared_hit(&self, entry: &Entry<K, V>) {
        if !entry.referenced.load(Relaxed) {
            entry.referenced.store(true, Relaxed);
        }
        let n = self.reads_len.load(Relaxed) as usize;
        if n < READ_BUFFER {
            self.reads[n].store(entry.hash, Relaxed);
            self.reads_len.store(n as u32 + 1, Relaxed);
        }
    }

    /// Whether the read buffer is full (reads are being dropped until it is drained).
    pub(crate) fn reads_full(&self) -> bool {
        self.reads_len.load(Relaxed) as usize >= READ_BUFFER
    }

    /// Counts the buffered reads in the sketch.
    pub(crate) fn drain_reads(&mut self) {
        let n = (*self.reads_len.get_mut() as usize).min(READ_BUFFER);
        for read in &mut self.reads[..n] {
            self.sketch.increment(*read.get_mut());
        }
        *self.reads_len.get_mut() = 0;
    }

    /// Takes the read mark of `slot`, returning whether it was set.
    fn take_referenced(&mut self, slot: u32) -> bool {
        std::mem::take(self.entry_mut(slot).referenced.get_mut())
    }

    /// Demotes protected overflow to probation, giving read entries a second chance.
    fn demote_protected(&mut self) {
        let mut chances = self.lists[Region::Protected as usize].len;
        while self.lists[Region::Protected as usize].weight > self.protected_max
            && self.lists[Region::Protected as usize].len > 1
        {
            let oldest = self.lists[Region::Protected as usize].head;
            let again = self.take_referenced(oldest) && chances > 0;
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
        if self.timing_on {
            if self.is_expired(slot, now) {
                return None;
            }
            if !self.expiry.is_empty() {
                let hits = self.hits.fetch_add(1, Relaxed);
                if hits % u64::from(SWEEP_EVERY) == 0 {
                    // Undo: the exclusive path counts this read.
                    self.hits.fetch_sub(1, Relaxed);
                    return None;
                }
                let entry = self.entry(slot);
                self.on_shared_hit(entry);
                return Some(Some(entry.value.clone()));
            }
        }
        self.hits.fetch_add(1, Relaxed);
        let entry = self.entry(slot);
        self.on_shared_hit(entry);
        Some(Some(entry.value.clone()))
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
            let again = self.take_referenced(oldest) && chances > 0;
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
            if head != NIL && self.take_referenced(head) {
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
            let (candidate_hash, victim_hash) =
                (self.entry(candidate).hash, self.entry(victim).hash);
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
        self.drain_reads();
        let found = self.find(hash, key);
        let out = match found {
            Some(slot) if self.is_expired(slot, now) => {
                self.remove_slot(slot, RemovalCause::Expired, removed);
                None
            }
            Some(slot) => {
                if self.settings.time_to_idle.is_some() {
                    let at = now.get();
                    self.timing[slot as usize].accessed_at = at;
                }
                let entry = self.entry(slot);
                self.on_hit(entry);
                Some(entry.value.clone())
            }
            None => None,
        };
        if out.is_some() {
            *self.hits.get_mut() += 1;
        } else {
            *self.misses.get_mut() += 1;
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
        (!self.is_expired(slot, now)).then(|| self.entry(slot).value.clone())
    }

    /// The live entry of `key`: its value, the nanoseconds it has left (`None`: no deadline) and
    /// its tags, with no effect on statistics or the policy (for a primary's snapshot).
    pub(crate) fn peek_entry<Q>(
        &self,
        hash: u64,
        key: &Q,
        now: &mut LazyNow<'_>,
    ) -> Option<(V, Option<u64>, Vec<Tag>)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let slot = self.find(hash, key)?;
        let (left, tags) = self.life_left(slot, now)?;
        Some((self.entry(slot).value.clone(), left, tags))
    }

    /// The nanoseconds the entry in `slot` has left (`None`: no deadline) and its tags, or
    /// `None` when it has expired.
    fn life_left(&self, slot: u32, now: &mut LazyNow<'_>) -> Option<(Option<u64>, Vec<Tag>)> {
        let deadline = self.deadline_of(slot);
        let left = if deadline == NEVER {
            None
        } else {
            Some(deadline.checked_sub(now.get()).filter(|&left| left > 0)?)
        };
        let tags = self
            .entry_tags
            .get(&slot)
            .map_or_else(Vec::new, |tags| tags.to_vec());
        Some((left, tags))
    }

    /// Inserts or overwrites `key`. An entry heavier than the cache's largest entry weight is
    /// not stored: a previous value is removed, and the new one reported as evicted for size.
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
        self.drain_reads();
        self.sketch.age_if_due();
        self.climb();
        let stored = u64::from(weight) <= self.settings.max_entry_weight;
        if stored {
            // Every stored write counts once, new key or not. Counting first lets the sketch
            // line's cache miss overlap the hash table's.
            self.sketch.increment(hash);
        }
        let ttl = write.ttl.or(self.settings.default_ttl);
        let timed = ttl.is_some() || self.settings.time_to_idle.is_some();
        if timed {
            self.enable_timing();
        }
        let at = if timed { now.get() } else { 0 };
        let expires_at = ttl.map_or(NEVER, |ttl| at.saturating_add(ttl));
        let mut existing = self.find(hash, &key);
        if let Some(slot) = existing.filter(|&slot| self.is_expired(slot, now)) {
            // An expired entry is gone: the write is a fresh insert.
            self.remove_slot(slot, RemovalCause::Expired, removed);
            existing = None;
        }
        if !stored {
            if let Some(slot) = existing {
                self.remove_slot(slot, RemovalCause::Replaced, removed);
            }
            tracing::debug!(
                weight,
                max_entry_weight = self.settings.max_entry_weight,
                "cache entry too heavy, not stored"
            );
            self.stats.evictions_size += 1;
            removed.push(key, value, RemovalCause::Size);
            self.maintain(now, removed);
            return;
        }
        let slot = match existing {
            Some(slot) => {
                let region = self.entry(slot).region;
                let old = std::mem::replace(&mut self.entry_mut(slot).value, value);
                let links = &mut self.links[slot as usize];
                let old_weight = u64::from(std::mem::replace(&mut links.weight, weight));
                let list = &mut self.lists[region as usize];
                list.weight = list.weight - old_weight + u64::from(weight);
                self.weight = self.weight - old_weight + u64::from(weight);
                self.stats.updates += 1;
                self.stats.replacements += 1;
                removed.push(key, old, RemovalCause::Replaced);
                let entry = self.entry(slot);
                if !entry.referenced.load(Relaxed) {
                    entry.referenced.store(true, Relaxed);
                }
                slot
            }
            None => {
                let entry = Entry {
                    hash,
                    key,
                    value,
                    referenced: AtomicBool::new(false),
                    region: Region::Window,
                };
                let slot = self.allocate(entry, weight);
                let entries = &self.entries;
                self.table.insert_unique(hash, slot, |&s| {
                    entries[s as usize].as_ref().map_or(0, |entry| entry.hash)
                });
                self.weight += u64::from(weight);
                self.link_tail(Region::Window, slot);
                self.stats.inserts += 1;
                self.sketch.ensure_capacity(self.len());
                slot
            }
        };
        if existing.is_some() || write.tags.is_some() {
            self.set_tags(slot, write.tags);
        }
        if self.timing_on {
            let timing = &mut self.timing[slot as usize];
            timing.expires_at = expires_at;
            timing.accessed_at = at;
            self.schedule(slot);
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
            let (key, value) = self.take_slot(slot, RemovalCause::Explicit);
            let out = value.clone();
            removed.push(key, value, RemovalCause::Explicit);
            Some(out)
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

    /// The occupied slots, in slot order.
    fn occupied(&self) -> impl Iterator<Item = (u32, &Entry<K, V>)> {
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(slot, entry)| Some((slot as u32, entry.as_ref()?)))
    }

    /// Removes every live entry whose key `matches`, returning how many.
    pub(crate) fn invalidate_matching(
        &mut self,
        mut matches: impl FnMut(&K) -> bool,
        now: &mut LazyNow<'_>,
        removed: &mut Removed<K, V>,
    ) -> u64 {
        let slots: Vec<u32> = self
            .occupied()
            .filter(|(_, entry)| matches(&entry.key))
            .map(|(slot, _)| slot)
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
        let slots: Vec<u32> = self.occupied().map(|(slot, _)| slot).collect();
        self.remove_slots(slots, now, removed);
        self.expiry.clear();
        self.entries.clear();
        self.links.clear();
        self.timing.clear();
        self.free.clear();
        self.table.clear();
    }

    /// Every live entry: key, value, time left and tags, with no effect on the policy.
    pub(crate) fn live_entries(&self, now: &mut LazyNow<'_>, out: &mut Vec<LiveEntry<K, V>>) {
        for (slot, entry) in self.occupied() {
            if let Some((left, tags)) = self.life_left(slot, now) {
                out.push((entry.key.clone(), entry.value.clone(), left, tags));
            }
        }
    }

    /// Checks every internal invariant, describing the first one broken.
    pub(crate) fn check_invariants(&self) -> Result<(), String> {
        let mut weight = 0;
        let mut len = 0;
        for region in [Region::Window, Region::Probation, Region::Protected] {
            let list = self.lists[region as usize];
            let (mut n, mut w, mut prev, mut at) = (0, 0, NIL, list.head);
            while at != NIL {
                let Some(entry) = &self.entries[at as usize] else {
                    return Err(format!("free slot {at} is linked in {region:?}"));
                };
                let links = self.links[at as usize];
                if entry.region != region || links.prev != prev {
                    return Err(format!("slot {at} is mislinked in {region:?}"));
                }
                if self.find(entry.hash, &entry.key) != Some(at) {
                    return Err(format!("slot {at} is not found by its key"));
                }
                n += 1;
                w += u64::from(links.weight);
                prev = at;
                at = links.next;
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
        if self.timing_on && self.timing.len() != self.entries.len() {
            return Err("the deadline slab is not as long as the entry slab".to_string());
        }
        for (tag, slots) in &self.tags {
            for &slot in slots {
                let tagged = self
                    .entry_tags
                    .get(&slot)
                    .is_some_and(|tags| tags.iter().any(|t| t == tag));
                if !tagged || self.entries[slot as usize].is_none() {
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
    fn entries_and_links_stay_small() {
        // The figures the crate docs give for memory per entry (with u64 keys and values).
        assert_eq!(std::mem::size_of::<Option<Entry<u64, u64>>>(), 32);
        assert_eq!(std::mem::size_of::<Links>(), 16);
    }
}
