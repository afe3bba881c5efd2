//! A count-min sketch of 4-bit counters with periodic aging: TinyLFU's estimate of how often a
//! key was asked for lately.
//!
//! Follows the sketch described for Caffeine ("TinyLFU: A Highly Efficient Cache Admission
//! Policy", Einziger, Friedman and Manes, 2017): four counters per key, each in a different
//! 64-bit word of a power-of-two table, saturating at 15; after `10 ×` the table's key capacity
//! increments every counter is halved, so old popularity fades. As in Caffeine's current sketch,
//! a key's four counters sit in one 64-byte block (one cache line: one memory miss per count,
//! not four), one counter in each pair of the block's eight words; the table holds four 64-bit
//! words per expected key (Caffeine: one). We use no doorkeeper.

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;

/// Words per expected key. Caffeine uses one; on our traces one or two cost up to 2 points of
/// hit ratio on Zipf at 1% of the keys (more collisions), so we keep four (32 bytes a key).
const WIDTH: u64 = 4;
/// 64-bit words per block (a 64-byte cache line).
const WORDS_PER_BLOCK: usize = 8;
/// Counters per 64-bit word.
const COUNTERS_PER_WORD: u32 = 16;
/// A counter's largest value.
const MAX_COUNT: u64 = 15;
/// Masks the low three bits of every nibble: used to halve all counters at once.
const RESET_MASK: u64 = 0x7777_7777_7777_7777;
/// Seeds mixing the key hash for each of the four rows.
const SEEDS: [u64; 4] = [
    0xc3a5_c85c_97cb_3127,
    0xb492_b66f_be98_f273,
    0x9ae1_6a3b_2f90_404f,
    0xcbf2_9ce4_8422_2325,
];

/// A 4-bit count-min sketch with aging.
///
/// Counters are relaxed atomics so that reads, which hold their shard's lock shared, can count:
/// two racing increments may lose one, which a frequency estimate tolerates. Halving needs
/// exclusive access and runs at the next write once due.
#[derive(Debug)]
pub(crate) struct FrequencySketch {
    table: Vec<AtomicU64>,
    mask: usize,
    /// Increments since the last halving.
    size: AtomicU64,
    /// Increments that trigger a halving.
    sample_size: u64,
}

impl FrequencySketch {
    /// A sketch for about `capacity` distinct keys (at least 16, at most 2^26): a word (16
    /// counters) per key, rounded up to a power of two, and halving after `10 × capacity`
    /// increments.
    pub(crate) fn new(capacity: u64) -> FrequencySketch {
        let capacity = capacity.clamp(16, 1 << 26);
        let words = (capacity * WIDTH).next_power_of_two() as usize;
        FrequencySketch {
            table: (0..words).map(|_| AtomicU64::new(0)).collect(),
            mask: words - 1,
            size: AtomicU64::new(0),
            sample_size: 10 * capacity,
        }
    }

    /// Keys the sketch was sized for.
    pub(crate) fn capacity(&self) -> u64 {
        self.sample_size / 10
    }

    /// Grows the table (dropping all counts) when `keys` exceeds its capacity.
    pub(crate) fn ensure_capacity(&mut self, keys: u64) {
        if keys > self.capacity() && self.capacity() < (1 << 26) {
            *self = FrequencySketch::new(keys.saturating_mul(2));
        }
    }

    /// The first word of `hash`'s block, and for each row the word within the block and the
    /// counter's bit offset in it. The hash is mixed once; each row multiplies it by its seed.
    fn slots(&self, hash: u64) -> (usize, [(usize, u32); 4]) {
        let mixed = (hash ^ SEEDS[0]).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let mixed = mixed ^ (mixed >> 29);
        let block = (mixed as usize & self.mask) & !(WORDS_PER_BLOCK - 1);
        let row = |i: usize| {
            let b = ((mixed >> 32).wrapping_mul(SEEDS[i]) >> 56) as u32;
            let nibble = (b >> 1) % COUNTERS_PER_WORD;
            (
                (2 * i + (b & 1) as usize) & (WORDS_PER_BLOCK - 1),
                nibble * 4,
            )
        };
        (block, [row(0), row(1), row(2), row(3)])
    }

    /// The estimated count of `hash`, in `0..=15`.
    pub(crate) fn frequency(&self, hash: u64) -> u8 {
        let (start, rows) = self.slots(hash);
        let block = &self.table[start..start + WORDS_PER_BLOCK];
        let mut min = MAX_COUNT;
        for (word, shift) in rows {
            min = min.min((block[word].load(Relaxed) >> shift) & 0xf);
        }
        min as u8
    }

    /// Counts one more access to `hash`, halving every counter once enough were counted.
    pub(crate) fn increment(&self, hash: u64) {
        let (start, rows) = self.slots(hash);
        let block = &self.table[start..start + WORDS_PER_BLOCK];
        let mut added = false;
        for (word, shift) in rows {
            let value = block[word].load(Relaxed);
            if (value >> shift) & 0xf < MAX_COUNT {
                block[word].store(value + (1 << shift), Relaxed);
                added = true;
            }
        }
        if added {
            // A plain load and store: a lost count only delays the halving a little.
            self.size.store(self.size.load(Relaxed) + 1, Relaxed);
        }
    }

    /// Halves every counter if enough increments were counted since the last halving.
    pub(crate) fn age_if_due(&mut self) {
        if *self.size.get_mut() >= self.sample_size {
            self.age();
        }
    }

    /// Halves every counter.
    fn age(&mut self) {
        for word in &mut self.table {
            let word = word.get_mut();
            *word = (*word >> 1) & RESET_MASK;
        }
        *self.size.get_mut() /= 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_saturate_at_fifteen() {
        let mut sketch = FrequencySketch::new(64);
        for _ in 0..40 {
            sketch.increment(42);
            sketch.age_if_due();
        }
        assert_eq!(sketch.frequency(42), 15);
    }

    #[test]
    fn frequent_keys_estimate_higher_than_rare_ones() {
        let sketch = FrequencySketch::new(512);
        for key in 0..512u64 {
            let hash = key.wrapping_mul(0x2545_f491_4f6c_dd1d);
            for _ in 0..(key % 8) {
                sketch.increment(hash);
            }
        }
        let hot = 7u64.wrapping_mul(0x2545_f491_4f6c_dd1d);
        let cold = 8u64.wrapping_mul(0x2545_f491_4f6c_dd1d);
        assert!(sketch.frequency(hot) >= 7);
        assert!(sketch.frequency(cold) < sketch.frequency(hot));
    }

    #[test]
    fn aging_halves_counts() {
        let mut sketch = FrequencySketch::new(16);
        for _ in 0..10 {
            sketch.increment(1);
        }
        assert_eq!(sketch.frequency(1), 10);
        sketch.age();
        assert_eq!(sketch.frequency(1), 5);
    }

    #[test]
    fn growing_keeps_a_power_of_two_table() {
        let mut sketch = FrequencySketch::new(16);
        sketch.ensure_capacity(100);
        assert!(sketch.capacity() >= 100);
        assert!(sketch.table.len().is_power_of_two());
        assert!(sketch.table.len() as u64 >= WIDTH * 100);
    }
}
