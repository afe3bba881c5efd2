//! The placement hash: one stable, specified 64-bit hash for every key that decides placement.

/// The 64-bit placement hash of a key: **XXH3-64 with seed 0** (Yann Collet's xxHash, version
/// 0.8 specification), through the `xxhash-rust` crate.
///
/// Placement decisions made by different processes, machines and releases must agree, so this
/// function is part of ha-shard's compatibility promise: its output for a given key never changes,
/// on any platform (it is tested against the upstream xxHash anchors and against vectors for
/// every length class from LLVM's xxhash unit tests, which were produced by the reference
/// implementation).
/// Callers that already hash their keys may pass their own 64-bit hash to the `*_hash` methods of
/// [`Placement`](crate::Placement) instead.
///
/// ```
/// assert_eq!(ha_shard::key_hash(b""), 0x2D06_8005_38D3_94C2);
/// assert_eq!(ha_shard::key_hash(b"a"), 0xE6C6_32B6_1E96_4E1F);
/// ```
#[must_use]
pub fn key_hash(key: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(key)
}

/// Mixes two 64-bit values into one well-spread 64-bit value: MurmurHash3's `fmix64` finalizer
/// (Appleby) applied to `a ⊕ b`. A bijection in each argument, stable everywhere; used to derive
/// per-node scores and replica probes from a key hash.
#[must_use]
pub(crate) fn mix(a: u64, b: u64) -> u64 {
    let mut h = a ^ b;
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    h
}

/// A hash mapped to the open interval (0, 1), uniform: its top 52 bits, centred in their cell.
/// (With 53 bits the top cell's centre, `1 − 2⁻⁵⁴`, would round to 1.)
#[must_use]
pub(crate) fn unit_interval(h: u64) -> f64 {
    ((h >> 12) as f64 + 0.5) / (1u64 << 52) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// XXH3-64 (seed 0) of the first `len` bytes of a xorshift-generated buffer, from LLVM's
    /// `llvm/unittests/Support/xxhashTest.cpp` (test `xxh3`), whose values come from the
    /// reference xxHash implementation; they cover every length class of the algorithm.
    #[test]
    fn key_hash_matches_published_xxh3_vectors() {
        let mut buffer = [0u8; 2243];
        let mut x: u64 = 1;
        for b in &mut buffer {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        let vectors: [(usize, u64); 24] = [
            (0, 0x2d06800538d394c2),
            (1, 0xd0d496e05c553485),
            (2, 0x84d625edb7055eac),
            (3, 0x6ea2d59aca5c3778),
            (4, 0xbf65290914e80242),
            (5, 0xc01fd099ad4fc8e4),
            (6, 0x9e3ea8187399caa5),
            (7, 0x9da8b60540644f5a),
            (8, 0xabc1413da6cd0209),
            (9, 0x8bc89400bfed51f6),
            (16, 0x7e46916754d7c9b8),
            (17, 0xed4be912ba5f836d),
            (32, 0xf59b59b58c304fd1),
            (33, 0x9013fb74ca603e0c),
            (64, 0xfa5271fcce0db1c3),
            (65, 0x79c42431727f1012),
            (96, 0x591ee0ddf9c9ccd1),
            (97, 0x8ffc6a3111fe19da),
            (128, 0x06a146ee9a2da378),
            (129, 0xbc7138129bf065da),
            (403, 0xcefeb3ffa532ad8c),
            (512, 0xcdfa6b6268e3650f),
            (513, 0x4bb5d42742f9765f),
            (2048, 0x330ce110cbb79eae),
        ];
        for (len, expected) in vectors {
            assert_eq!(key_hash(&buffer[..len]), expected, "length {len}");
        }
    }

    /// The upstream xxHash project's anchors for the empty string and "a".
    #[test]
    fn key_hash_matches_the_upstream_anchors() {
        assert_eq!(key_hash(b""), 0x2D06800538D394C2);
        assert_eq!(key_hash(b"a"), 0xE6C632B61E964E1F);
    }

    #[test]
    fn unit_interval_stays_open() {
        for h in [0, 1, u64::MAX, u64::MAX - 1, 1 << 63] {
            let u = unit_interval(h);
            assert!(u > 0.0 && u < 1.0, "{h}: {u}");
        }
    }
}
