//! Which of the 16384 hash slots a key belongs to, exactly as Redis Cluster computes it.

use crc::{CRC_16_XMODEM, Crc};

/// The number of hash slots of a Redis cluster: slots are `0..SLOT_COUNT`.
pub const SLOT_COUNT: u16 = 16384;

/// CRC-16/XMODEM, the checksum the Redis Cluster specification names (poly 0x1021, init 0, no
/// reflection, no final xor; check value 0x31C3).
static CRC16: Crc<u16> = Crc::<u16>::new(&CRC_16_XMODEM);

/// The hash slot of `key`: CRC-16/XMODEM of the key, or of its hash tag if it has one, modulo
/// 16384. The result equals Redis' `CLUSTER KEYSLOT key` and is always below [`SLOT_COUNT`].
///
/// Keys are bytes, as in Redis; pass `s.as_bytes()` for text.
///
/// ```
/// use ha_shard::key_slot;
///
/// assert_eq!(key_slot(b"somekey"), 11058); // the CLUSTER KEYSLOT documentation's example
/// assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"{user1000}.followers"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use]
pub fn key_slot(key: &[u8]) -> u16 {
    CRC16.checksum(hash_tag(key).unwrap_or(key)) % SLOT_COUNT
}

/// The hash tag of `key`, if it has one: the bytes between the first `{` and the first `}` after
/// it, when there is at least one. Only those bytes are hashed, so keys with the same tag share a
/// slot (and can be used together in multi-key commands).
///
/// There is no tag, and the whole key is hashed, when the key has no `{`, no `}` after its first
/// `{`, or nothing between them: `foo{}{bar}` has no tag even though `{bar}` follows, because only
/// the first `{` counts. A key that starts with `{}` is therefore always hashed whole.
///
/// ```
/// use ha_shard::hash_tag;
///
/// assert_eq!(hash_tag(b"{user1000}.following"), Some(&b"user1000"[..]));
/// assert_eq!(hash_tag(b"foo{{bar}}zap"), Some(&b"{bar"[..]));
/// assert_eq!(hash_tag(b"foo{bar}{zap}"), Some(&b"bar"[..]));
/// assert_eq!(hash_tag(b"foo{}{bar}"), None);
/// assert_eq!(hash_tag(b"foo{bar"), None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use]
pub fn hash_tag(key: &[u8]) -> Option<&[u8]> {
    let open = key.iter().position(|&b| b == b'{')?;
    let rest = key.get(open + 1..)?;
    let close = rest.iter().position(|&b| b == b'}')?;
    if close == 0 { None } else { rest.get(..close) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crc_is_crc16_xmodem_with_its_check_value() {
        // Redis Cluster specification, "Key distribution model": Output for "123456789": 31C3.
        assert_eq!(CRC16.checksum(b"123456789"), 0x31C3);
    }

    #[test]
    fn braces_at_the_edges_give_no_tag_or_the_right_one() {
        assert_eq!(hash_tag(b""), None);
        assert_eq!(hash_tag(b"{"), None);
        assert_eq!(hash_tag(b"}"), None);
        assert_eq!(hash_tag(b"{}"), None);
        assert_eq!(hash_tag(b"}{a}"), Some(&b"a"[..]));
        assert_eq!(hash_tag(b"{{}}"), Some(&b"{"[..]));
        assert_eq!(hash_tag(b"a{b}"), Some(&b"b"[..]));
    }
}
