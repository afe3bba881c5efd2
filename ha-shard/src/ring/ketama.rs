//! Ketama, bit for bit as twemproxy builds it (`distribution: ketama` with `hash: md5`).
//!
//! Followed from twemproxy's sources, `src/hashkit/nc_ketama.c` (`ketama_hash`, `ketama_update`,
//! `ketama_dispatch`), `src/hashkit/nc_md5.c` (`hash_md5`) and `src/nc_conf.c`
//! (`conf_add_server`, which names a server), and checked against libmemcached's
//! `MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA` with weights (`src/libmemcached/hosts.cc`,
//! `update_continuum`), whose published vectors the tests replay.

use std::fmt::Write as _;

use ha_core::Node;
use md5::{Digest, Md5};

use crate::Result;

/// Points per server before weighting (`KETAMA_POINTS_PER_SERVER`).
const POINTS_PER_SERVER: f32 = 160.0;

/// Points taken from one MD5 digest (`pointer_per_hash`).
const POINTS_PER_DIGEST: u32 = 4;

/// twemproxy formats `"{name}-{i}"` into a buffer of this many bytes (`KETAMA_MAX_HOSTLEN`),
/// so the longest string it hashes faithfully is one byte shorter.
const MAX_POINT_NAME_LEN: usize = 86 - 1;

/// The text that names a server in ketama: every point of the server is hashed from
/// `"{name}-{i}"`.
///
/// twemproxy names a server by the `name` written after its `host:port:weight` line when there
/// is one, and otherwise by `host:port` — or by `host` alone when the port is 11211, "to maintain
/// backward compatibility with libmemcached" (`conf_add_server` in `src/nc_conf.c`). Choose the
/// variant that matches how the servers are written in the twemproxy configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum KetamaName {
    /// The node's id, verbatim: for server lines that carry a name,
    /// `10.0.0.1:6379:1 cache-a` → a node with id `cache-a`.
    Id,
    /// The node's [`address`](Node::address), which must be the `host:port` of the server line
    /// without its `:weight`: `10.0.0.1:6379:1` → address `10.0.0.1:6379`, hashed as
    /// `10.0.0.1:6379`. When the text after the address's last `:` is a decimal number equal to
    /// 11211, that suffix is dropped, as twemproxy does: `10.0.0.1:11211` is hashed as
    /// `10.0.0.1`. An address with no `:` is hashed as it is.
    Address,
}

impl KetamaName {
    /// The name of `node` under this rule.
    pub(crate) fn of(self, node: &Node) -> &str {
        match self {
            KetamaName::Id => node.id.as_str(),
            KetamaName::Address => match node.address.rsplit_once(':') {
                Some((host, port))
                    if !port.is_empty()
                        && port.bytes().all(|b| b.is_ascii_digit())
                        && port.parse::<u32>() == Ok(11211) =>
                {
                    host
                }
                _ => &node.address,
            },
        }
    }
}

/// twemproxy's `hash_md5`: the first four bytes of MD5(`key`), little-endian.
#[must_use]
pub(crate) fn md5_hash(key: &[u8]) -> u32 {
    let digest: [u8; 16] = Md5::digest(key).into();
    u32::from_le_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// twemproxy's `ketama_hash` for alignments 0 to 3: the four little-endian 32-bit words of
/// MD5(`text`), in order.
#[must_use]
pub(crate) fn digest_points(text: &[u8]) -> [u32; 4] {
    let d: [u8; 16] = Md5::digest(text).into();
    [0, 1, 2, 3].map(|k| u32::from_le_bytes([d[4 * k], d[4 * k + 1], d[4 * k + 2], d[4 * k + 3]]))
}

/// The number of points of a server of `weight` among `servers` servers of total weight
/// `total_weight`, in single precision as twemproxy computes it:
/// `floorf((float)(pct * 160 / 4 * (float)servers + 0.0000000001)) * 4` with
/// `pct = (float)weight / (float)total_weight`.
#[must_use]
pub(crate) fn points_per_server(weight: u32, total_weight: u64, servers: u32) -> u32 {
    let pct = weight as f32 / total_weight as f32;
    let scaled = pct * POINTS_PER_SERVER / POINTS_PER_DIGEST as f32 * servers as f32;
    // The C expression adds a double constant, then narrows back to float; for any scaled value
    // it leaves the floor unchanged, but it is kept to follow the source.
    let nudged = (f64::from(scaled) + 0.000_000_000_1) as f32;
    (nudged.floor() * POINTS_PER_DIGEST as f32) as u32
}

/// Every point of every node as `(32-bit point, node index)`, in build order.
///
/// # Errors
/// [`ha_core::Error::TooLarge`] when a `"{name}-{i}"` string would not fit twemproxy's buffer
/// (85 bytes), or when the points exceed `max_points`.
pub(crate) fn points(nodes: &[Node], name: KetamaName, max_points: u64) -> Result<Vec<(u32, u32)>> {
    let total_weight: u64 = nodes.iter().map(|n| u64::from(n.weight.get())).sum();
    // Callers bound the node count far below u32::MAX.
    let servers = u32::try_from(nodes.len()).unwrap_or(u32::MAX);
    let counts: Vec<u32> = nodes
        .iter()
        .map(|n| points_per_server(n.weight.get(), total_weight, servers))
        .collect();
    let total: u64 = counts.iter().map(|&c| u64::from(c)).sum();
    if total > max_points {
        return Err(ha_core::Error::TooLarge {
            name: "ketama ring points",
            value: total,
            max: max_points,
        }
        .into());
    }
    let mut out = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
    let mut text = String::new();
    for (index, (node, &count)) in (0u32..).zip(nodes.iter().zip(&counts)) {
        let name = name.of(node);
        let digests = count / POINTS_PER_DIGEST;
        if digests > 0 {
            let longest = name.len() + 1 + decimal_len(digests - 1);
            if longest > MAX_POINT_NAME_LEN {
                return Err(ha_core::Error::TooLarge {
                    name: "ketama point name length",
                    value: longest as u64,
                    max: MAX_POINT_NAME_LEN as u64,
                }
                .into());
            }
        }
        for i in 0..digests {
            text.clear();
            // Writing to a String cannot fail.
            let _ = write!(text, "{name}-{i}");
            out.extend(digest_points(text.as_bytes()).map(|p| (p, index)));
        }
    }
    Ok(out)
}

/// The number of decimal digits of `n`.
fn decimal_len(n: u32) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ha_core::NodeId;

    /// RFC 1321, appendix A.5: MD5("") = d41d8cd98f00b204e9800998ecf8427e and
    /// MD5("abc") = 900150983cd24fb0d6963f7d28e17f72.
    #[test]
    fn point_formula_reads_the_digest_as_little_endian_words() {
        assert_eq!(
            digest_points(b""),
            [0xd98c_1dd4, 0x04b2_008f, 0x9809_80e9, 0x7e42_f8ec]
        );
        assert_eq!(
            digest_points(b"abc"),
            [0x9850_0190, 0xb04f_d23c, 0x7d3f_96d6, 0x727f_e128]
        );
        assert_eq!(md5_hash(b"abc"), 0x9850_0190);
    }

    /// libmemcached's `tests/libmemcached-1.0/ketama.cc`: "VDEAAAAA hashes to fffcd1b5".
    #[test]
    fn key_hash_matches_libmemcached_comment() {
        assert_eq!(md5_hash(b"VDEAAAAA"), 0xfffc_d1b5);
    }

    /// Equal weights give 160 points, except where single precision lands `1/n × 40 × n` just
    /// below 40: then twemproxy gives every server 156. The exceptions up to 1000 servers, as
    /// printed by twemproxy's expression compiled with gcc for x86-64.
    #[test]
    fn equal_weights_give_160_points_or_156_where_floats_round_down() {
        const ROUNDED_DOWN: [u32; 103] = [
            25, 47, 50, 55, 61, 71, 94, 100, 107, 109, 110, 115, 122, 142, 159, 163, 188, 193, 200,
            209, 214, 218, 219, 220, 230, 237, 243, 244, 279, 284, 293, 299, 301, 305, 313, 318,
            319, 326, 376, 386, 397, 400, 418, 425, 428, 431, 436, 438, 440, 460, 474, 486, 488,
            497, 525, 558, 561, 567, 568, 571, 586, 597, 598, 599, 602, 610, 625, 626, 627, 636,
            638, 652, 661, 677, 685, 741, 752, 772, 794, 800, 836, 837, 850, 851, 856, 862, 872,
            876, 879, 880, 919, 920, 933, 948, 951, 953, 957, 972, 975, 976, 977, 991, 994,
        ];
        for servers in 1..=1000 {
            let expected = if ROUNDED_DOWN.contains(&servers) {
                156
            } else {
                160
            };
            assert_eq!(
                points_per_server(1, u64::from(servers), servers),
                expected,
                "{servers} servers"
            );
        }
    }

    /// The weights of libmemcached's ketama test pool: 600, 300, 200, 350, 1000, 800, 950, 100.
    /// Computed by hand from the formula: e.g. 600/4300 × 40 × 8 = 44.65 → 44 digests → 176.
    #[test]
    fn weighted_points_follow_twemproxy_rounding() {
        let weights = [600, 300, 200, 350, 1000, 800, 950, 100];
        let total: u64 = weights.iter().sum::<u32>().into();
        let got: Vec<u32> = weights
            .iter()
            .map(|&w| points_per_server(w, total, 8))
            .collect();
        assert_eq!(got, [176, 88, 56, 104, 296, 236, 280, 28]);
    }

    #[test]
    fn address_names_drop_only_port_11211() {
        let node = |addr: &str| Node::new(NodeId::new("n").unwrap(), addr);
        assert_eq!(KetamaName::Address.of(&node("10.0.0.1:11211")), "10.0.0.1");
        assert_eq!(KetamaName::Address.of(&node("10.0.0.1:011211")), "10.0.0.1");
        assert_eq!(
            KetamaName::Address.of(&node("10.0.0.1:6379")),
            "10.0.0.1:6379"
        );
        assert_eq!(KetamaName::Address.of(&node("host:11211x")), "host:11211x");
        assert_eq!(KetamaName::Address.of(&node("host")), "host");
        assert_eq!(KetamaName::Id.of(&node("10.0.0.1:11211")), "n");
    }

    #[test]
    fn long_names_are_refused() {
        // 160 points are 40 digests, "{name}-0" to "{name}-39": 3 bytes after the name.
        let node = Node::new(NodeId::new("h".repeat(83)).unwrap(), "");
        let err = points(&[node], KetamaName::Id, 1 << 24).unwrap_err();
        assert!(matches!(
            err,
            crate::Error::Core(ha_core::Error::TooLarge { value: 86, .. })
        ));
        let fits = Node::new(NodeId::new("h".repeat(82)).unwrap(), "");
        assert_eq!(points(&[fits], KetamaName::Id, 1 << 24).unwrap().len(), 160);
    }

    #[test]
    fn decimal_lengths() {
        assert_eq!(decimal_len(0), 1);
        assert_eq!(decimal_len(9), 1);
        assert_eq!(decimal_len(10), 2);
        assert_eq!(decimal_len(39), 2);
        assert_eq!(decimal_len(u32::MAX), 10);
    }
}
