//! Version digests: a stable 64-bit hash of a stored copy, the same on every node and platform —
//! what a [digest read](crate::DigestRead) compares instead of whole values, and what a
//! [`MerkleTree`](crate::MerkleTree) leaf holds per key for anti-entropy.
//!
//! A digest is XXH3-64 (seed 0) over a canonical byte form: integers little-endian, byte strings
//! and node ids prefixed by their length, a [`DvvSet`]'s clock entries and then its siblings in
//! their (sorted) order. Equal copies have equal digests; different copies collide with
//! probability about 2⁻⁶⁴ per comparison (a collision makes a digest read answer without
//! repairing, and anti-entropy skip a key, until the copy next changes).

use xxhash_rust::xxh3::Xxh3Default;

use crate::{DvvSet, HlcTimestamp, Stamped, Tag, Tagged};

/// Collects the canonical bytes of a value into a digest.
pub struct DigestWriter {
    hasher: Xxh3Default,
}

impl std::fmt::Debug for DigestWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigestWriter")
            .field("so_far", &self.hasher.digest())
            .finish()
    }
}

impl DigestWriter {
    fn new() -> DigestWriter {
        DigestWriter {
            hasher: Xxh3Default::new(),
        }
    }

    /// Takes in raw bytes, as they are (no length prefix: use [`write_bytes`](Self::write_bytes)
    /// for a value of variable length).
    pub fn write_raw(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
    }

    /// Takes in a variable-length byte string, prefixed by its length.
    pub fn write_bytes(&mut self, bytes: &[u8]) {
        self.write_u64(bytes.len() as u64);
        self.hasher.update(bytes);
    }

    /// Takes in a `u64`, little-endian.
    pub fn write_u64(&mut self, n: u64) {
        self.hasher.update(&n.to_le_bytes());
    }

    fn finish(&self) -> u64 {
        self.hasher.digest()
    }
}

/// A value with a canonical byte form for digests: the same bytes on every platform for equal
/// values (integers little-endian, strings length-prefixed).
///
/// Implemented for the integers, `bool`, strings and byte vectors; implement it for a value type
/// by writing its fields in a fixed order.
///
/// ```
/// use ha_replication::{DigestBytes, DigestWriter};
///
/// struct Account { owner: String, balance: i64 }
/// impl DigestBytes for Account {
///     fn write_digest(&self, out: &mut DigestWriter) {
///         self.owner.write_digest(out);
///         self.balance.write_digest(out);
///     }
/// }
/// ```
pub trait DigestBytes {
    /// Writes the value's canonical bytes.
    fn write_digest(&self, out: &mut DigestWriter);
}

macro_rules! le_digest {
    ($($t:ty),*) => {$(
        impl DigestBytes for $t {
            fn write_digest(&self, out: &mut DigestWriter) {
                out.write_raw(&self.to_le_bytes());
            }
        }
    )*};
}
le_digest!(u8, u16, u32, u64, u128, i8, i16, i32, i64, i128);

impl DigestBytes for bool {
    fn write_digest(&self, out: &mut DigestWriter) {
        out.write_raw(&[u8::from(*self)]);
    }
}

impl DigestBytes for str {
    fn write_digest(&self, out: &mut DigestWriter) {
        out.write_bytes(self.as_bytes());
    }
}

impl DigestBytes for String {
    fn write_digest(&self, out: &mut DigestWriter) {
        out.write_bytes(self.as_bytes());
    }
}

impl DigestBytes for [u8] {
    fn write_digest(&self, out: &mut DigestWriter) {
        out.write_bytes(self);
    }
}

impl DigestBytes for Vec<u8> {
    fn write_digest(&self, out: &mut DigestWriter) {
        out.write_bytes(self);
    }
}

impl<T: DigestBytes + ?Sized> DigestBytes for &T {
    fn write_digest(&self, out: &mut DigestWriter) {
        (**self).write_digest(out);
    }
}

impl<T: DigestBytes + ?Sized> DigestBytes for std::sync::Arc<T> {
    fn write_digest(&self, out: &mut DigestWriter) {
        (**self).write_digest(out);
    }
}

impl DigestBytes for ha_core::NodeId {
    fn write_digest(&self, out: &mut DigestWriter) {
        out.write_bytes(self.as_str().as_bytes());
    }
}

impl DigestBytes for HlcTimestamp {
    fn write_digest(&self, out: &mut DigestWriter) {
        out.write_u64(self.wall_nanos);
        self.logical.write_digest(out);
    }
}

impl DigestBytes for Tag {
    fn write_digest(&self, out: &mut DigestWriter) {
        out.write_u64(self.seq);
        self.writer.write_digest(out);
        out.write_u64(self.nonce);
    }
}

/// A stored copy's stable digest: equal copies, equal digests, on every node and platform.
///
/// ```
/// use ha_core::NodeId;
/// use ha_replication::{DvvSet, MerkleTree, VersionDigest, VersionVector};
///
/// let mut on_a = DvvSet::new();
/// on_a.write(&NodeId::new("a")?, &VersionVector::new(), "v1".to_owned())?;
/// let on_b = on_a.clone();
/// assert_eq!(on_a.version_digest(), on_b.version_digest());
/// // The per-key digest a Merkle tree of anti-entropy holds:
/// let tree = MerkleTree::build(4, [(b"key".as_slice(), on_a.version_digest())])?;
/// let same = MerkleTree::build(4, [(b"key".as_slice(), on_b.version_digest())])?;
/// assert!(tree.diff(&same)?.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait VersionDigest {
    /// The copy's digest.
    fn version_digest(&self) -> u64;
}

impl<T: DigestBytes + ?Sized> VersionDigest for T {
    fn version_digest(&self) -> u64 {
        let mut out = DigestWriter::new();
        self.write_digest(&mut out);
        out.finish()
    }
}

/// The clock's `(actor, counter)` entries in actor order, then each sibling's dot and value in
/// dot order: both orders are canonical, so equal sets write equal bytes.
impl<V: DigestBytes> DigestBytes for DvvSet<V> {
    fn write_digest(&self, out: &mut DigestWriter) {
        out.write_u64(self.context().len() as u64);
        for (actor, counter) in self.context().iter() {
            actor.write_digest(out);
            out.write_u64(counter);
        }
        out.write_u64(self.siblings().len() as u64);
        for (dot, value) in self.siblings() {
            dot.actor.write_digest(out);
            out.write_u64(dot.counter);
            value.write_digest(out);
        }
    }
}

impl<V: DigestBytes> DigestBytes for Stamped<V> {
    fn write_digest(&self, out: &mut DigestWriter) {
        self.stamp.write_digest(out);
        self.writer.write_digest(out);
        self.value.write_digest(out);
    }
}

impl<V: DigestBytes> DigestBytes for Tagged<V> {
    fn write_digest(&self, out: &mut DigestWriter) {
        self.tag.write_digest(out);
        self.value.write_digest(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::VersionVector;
    use ha_core::NodeId;

    fn id(s: &str) -> NodeId {
        NodeId::new(s).unwrap()
    }

    #[test]
    fn equal_sets_have_equal_digests_and_any_change_shows() {
        let mut a = DvvSet::new();
        a.write(&id("r1"), &VersionVector::new(), 1u64).unwrap();
        let mut b = DvvSet::new();
        b.merge(&a);
        assert_eq!(a.version_digest(), b.version_digest());
        // A concurrent sibling, a superseding write, a bumped clock: all change the digest.
        let mut sibling = a.clone();
        sibling.write(&id("r1"), &VersionVector::new(), 2).unwrap();
        let mut replaced = a.clone();
        let ctx = a.context().clone();
        replaced.write(&id("r2"), &ctx, 1).unwrap();
        let digests = [
            a.version_digest(),
            sibling.version_digest(),
            replaced.version_digest(),
        ];
        assert_ne!(digests[0], digests[1]);
        assert_ne!(digests[0], digests[2]);
        assert_ne!(digests[1], digests[2]);
        // Merge order does not matter: the canonical form is the same.
        let (mut x, mut y) = (sibling.clone(), replaced.clone());
        x.merge(&replaced);
        y.merge(&sibling);
        assert_eq!(x.version_digest(), y.version_digest());
    }

    /// The digest is a fixed function of the bytes: pinned so a change of encoding (which would
    /// make nodes of two versions disagree on every key) fails here first.
    #[test]
    fn the_digest_encoding_is_pinned() {
        let mut out = DigestWriter::new();
        out.write_u64(1);
        out.write_bytes(b"ab");
        let mut raw = Vec::new();
        raw.extend_from_slice(&1u64.to_le_bytes());
        raw.extend_from_slice(&2u64.to_le_bytes());
        raw.extend_from_slice(b"ab");
        assert_eq!(out.finish(), xxhash_rust::xxh3::xxh3_64(&raw));
        assert_eq!("ab".version_digest(), {
            let mut s = Vec::new();
            s.extend_from_slice(&2u64.to_le_bytes());
            s.extend_from_slice(b"ab");
            xxhash_rust::xxh3::xxh3_64(&s)
        });
    }
}
