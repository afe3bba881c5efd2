//! The range strategy: ordered split points over byte-string keys.

use crate::{Error, Result, ShardId};

/// Shards over contiguous ranges of byte-string keys, in key order, the way Bigtable tablets,
/// HBase regions and CockroachDB ranges divide a sorted keyspace.
///
/// `n` bounds make `n + 1` shards: the shard at position `i` holds the keys `k` with
/// `bound[i − 1] ≤ k < bound[i]`, where the first shard starts at the empty key (the smallest)
/// and the last is unbounded above. Keys compare as bytes, lexicographically. Range scans touch
/// only the shards their range overlaps, and hot ranges are split where the load is.
///
/// **Shard ids.** A new map numbers its shards `0..=n` in key order. A [`split`](Self::split)
/// keeps the shard's id for the left half and gives the right half a fresh id; a
/// [`merge`](Self::merge) keeps the left shard's id and retires the right one's. Fresh ids count
/// up from one past the largest id ever used and are never reused, so an id always names one
/// history of a range. Maps are immutable: split and merge return a new map.
///
/// ```
/// use ha_shard::{RangeShards, ShardId};
///
/// let map = RangeShards::new(vec![b"g".to_vec(), b"p".to_vec()])?;
/// assert_eq!(map.shard_of(b"apple"), ShardId(0));
/// assert_eq!(map.shard_of(b"grape"), ShardId(1));
/// assert_eq!(map.shard_of(b"zebra"), ShardId(2));
///
/// // "g".."p" is hot: split it at "k", then undo.
/// let (split, right) = map.split(ShardId(1), b"k")?;
/// assert_eq!(right, ShardId(3));
/// assert_eq!(split.shard_of(b"lemon"), ShardId(3));
/// let merged = split.merge(ShardId(1), right)?;
/// assert!(merged.ranges().eq(map.ranges()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(try_from = "Layout", into = "Layout")
)]
pub struct RangeShards {
    /// Strictly increasing, none empty.
    bounds: Vec<Vec<u8>>,
    /// One more than `bounds`: the shard ids in key order, distinct.
    ids: Vec<ShardId>,
    /// The next fresh id; above every id in `ids`.
    next_id: u32,
}

/// One shard's range of keys: `start ≤ key < end`, with no end for the last shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ShardRange<'a> {
    /// The shard.
    pub shard: ShardId,
    /// The first key of the range; empty for the first shard.
    pub start: &'a [u8],
    /// The first key past the range; `None` for the last shard.
    pub end: Option<&'a [u8]>,
}

impl ShardRange<'_> {
    /// Whether `key` falls in this range.
    #[must_use]
    pub fn contains(&self, key: &[u8]) -> bool {
        self.start <= key && self.end.is_none_or(|end| key < end)
    }
}

impl RangeShards {
    /// `bounds.len() + 1` shards split at `bounds`, numbered `0..=bounds.len()` in key order.
    /// No bounds make one shard holding every key.
    ///
    /// # Errors
    /// [`Error::DuplicateRangeBound`] for a bound equal to the one before it, or an empty first
    /// bound; [`Error::UnsortedRangeBound`] for a bound below the one before it;
    /// [`Error::ShardIdsExhausted`] past `u32::MAX` shards.
    pub fn new(bounds: Vec<Vec<u8>>) -> Result<RangeShards> {
        check_bounds(&bounds)?;
        let count = u32::try_from(bounds.len())
            .ok()
            .and_then(|n| n.checked_add(1))
            .ok_or(Error::ShardIdsExhausted)?;
        Ok(RangeShards {
            bounds,
            ids: (0..count).map(ShardId).collect(),
            next_id: count,
        })
    }

    /// The number of shards.
    #[must_use]
    pub fn count(&self) -> usize {
        self.ids.len()
    }

    /// The split points, in increasing order.
    #[must_use]
    pub fn bounds(&self) -> &[Vec<u8>] {
        &self.bounds
    }

    /// The shard of `key`.
    #[must_use]
    pub fn shard_of(&self, key: &[u8]) -> ShardId {
        self.ids[self.position_of(key)]
    }

    /// Whether `shard` is one of these shards.
    #[must_use]
    pub fn contains(&self, shard: ShardId) -> bool {
        self.ids.contains(&shard)
    }

    /// Every shard with its range, in key order.
    pub fn ranges(&self) -> impl Iterator<Item = ShardRange<'_>> + '_ {
        (0..self.ids.len()).map(|i| self.range_at(i))
    }

    /// The range of `shard`, if the map holds it.
    #[must_use]
    pub fn range_of(&self, shard: ShardId) -> Option<ShardRange<'_>> {
        self.ids
            .iter()
            .position(|&id| id == shard)
            .map(|i| self.range_at(i))
    }

    /// The shards holding keys in `start ≤ key < end` (`end` `None`: no upper limit), in key
    /// order; none when the range is empty.
    #[must_use]
    pub fn shards_touched(&self, start: &[u8], end: Option<&[u8]>) -> Vec<ShardId> {
        if end.is_some_and(|end| end <= start) {
            return Vec::new();
        }
        let first = self.position_of(start);
        // The last shard is the one holding keys just below `end`: the first shard whose start
        // is at or past `end` is not touched.
        let past = end.map_or(self.ids.len(), |end| {
            self.bounds.partition_point(|b| b.as_slice() < end) + 1
        });
        self.ids[first..past].to_vec()
    }

    /// This map with `shard` split at `at`: the left half keeps the id and holds the keys below
    /// `at`, a right half with a fresh id holds `at` and the keys after it. Returns the new map
    /// and the right half's id.
    ///
    /// # Errors
    /// [`Error::UnknownShard`]; [`Error::SplitPointOutsideShard`] unless the shard's start
    /// `< at <` its end; [`Error::ShardIdsExhausted`] when no fresh id is left.
    pub fn split(&self, shard: ShardId, at: &[u8]) -> Result<(RangeShards, ShardId)> {
        let i = self.position_of_shard(shard)?;
        let range = self.range_at(i);
        if at <= range.start || range.end.is_some_and(|end| at >= end) {
            return Err(Error::SplitPointOutsideShard(shard));
        }
        let right = ShardId(self.next_id);
        let next_id = self
            .next_id
            .checked_add(1)
            .ok_or(Error::ShardIdsExhausted)?;
        let mut map = self.clone();
        map.bounds.insert(i, at.to_vec());
        map.ids.insert(i + 1, right);
        map.next_id = next_id;
        debug_assert_eq!(map.check(), Ok(()));
        Ok((map, right))
    }

    /// This map with `right` merged into `left`, which keeps its id and now also holds
    /// `right`'s keys; `right`'s id is retired.
    ///
    /// # Errors
    /// [`Error::UnknownShard`] for either shard; [`Error::ShardsNotAdjacent`] unless `right`'s
    /// range starts where `left`'s ends.
    pub fn merge(&self, left: ShardId, right: ShardId) -> Result<RangeShards> {
        let l = self.position_of_shard(left)?;
        let r = self.position_of_shard(right)?;
        if l.checked_add(1) != Some(r) {
            return Err(Error::ShardsNotAdjacent { left, right });
        }
        let mut map = self.clone();
        map.bounds.remove(l);
        map.ids.remove(r);
        debug_assert_eq!(map.check(), Ok(()));
        Ok(map)
    }

    /// Recounts the invariants: bounds strictly increasing and not empty, one id more than
    /// bounds, ids distinct and below the next fresh id. Tests call it after every step; a map
    /// read through serde is checked by it.
    ///
    /// # Errors
    /// The first invariant broken, as for [`new`](Self::new), or
    /// [`Error::InvalidRangeLayout`].
    pub fn check(&self) -> Result<()> {
        check_bounds(&self.bounds)?;
        if self.ids.len() != self.bounds.len() + 1 {
            return Err(Error::InvalidRangeLayout(
                "the shard ids must number one more than the bounds",
            ));
        }
        let mut sorted = self.ids.clone();
        sorted.sort_unstable();
        if sorted.windows(2).any(|w| w[0] == w[1]) {
            return Err(Error::InvalidRangeLayout("a shard id appears twice"));
        }
        if sorted.last().is_some_and(|last| last.0 >= self.next_id) {
            return Err(Error::InvalidRangeLayout(
                "the next fresh id must exceed every shard id",
            ));
        }
        Ok(())
    }

    /// The position, in key order, of the shard holding `key`.
    fn position_of(&self, key: &[u8]) -> usize {
        self.bounds.partition_point(|b| b.as_slice() <= key)
    }

    fn position_of_shard(&self, shard: ShardId) -> Result<usize> {
        self.ids
            .iter()
            .position(|&id| id == shard)
            .ok_or(Error::UnknownShard(shard))
    }

    /// The range at position `i`, which is below `ids.len()`.
    fn range_at(&self, i: usize) -> ShardRange<'_> {
        ShardRange {
            shard: self.ids[i],
            start: i
                .checked_sub(1)
                .and_then(|j| self.bounds.get(j))
                .map_or(&[][..], Vec::as_slice),
            end: self.bounds.get(i).map(Vec::as_slice),
        }
    }
}

/// Bounds must rise strictly from the empty key.
fn check_bounds(bounds: &[Vec<u8>]) -> Result<()> {
    let mut previous: &[u8] = &[];
    for (index, bound) in bounds.iter().enumerate() {
        match bound.as_slice().cmp(previous) {
            std::cmp::Ordering::Less => return Err(Error::UnsortedRangeBound { index }),
            std::cmp::Ordering::Equal => return Err(Error::DuplicateRangeBound { index }),
            std::cmp::Ordering::Greater => previous = bound,
        }
    }
    Ok(())
}

/// The serde form of a [`RangeShards`], checked on the way in by [`RangeShards::check`].
#[cfg(feature = "serde")]
#[derive(serde::Serialize, serde::Deserialize)]
struct Layout {
    /// The split points.
    bounds: Vec<Vec<u8>>,
    /// The shard ids in key order.
    ids: Vec<ShardId>,
    /// The next fresh id.
    next_id: u32,
}

#[cfg(feature = "serde")]
impl From<RangeShards> for Layout {
    fn from(map: RangeShards) -> Layout {
        Layout {
            bounds: map.bounds,
            ids: map.ids,
            next_id: map.next_id,
        }
    }
}

#[cfg(feature = "serde")]
impl TryFrom<Layout> for RangeShards {
    type Error = Error;

    fn try_from(layout: Layout) -> Result<RangeShards> {
        let map = RangeShards {
            bounds: layout.bounds,
            ids: layout.ids,
            next_id: layout.next_id,
        };
        map.check()?;
        Ok(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(bounds: &[&str]) -> RangeShards {
        RangeShards::new(bounds.iter().map(|b| b.as_bytes().to_vec()).collect()).unwrap()
    }

    #[test]
    fn touched_shards_stop_before_the_shard_starting_at_end() {
        let m = map(&["g", "p"]);
        assert_eq!(m.shards_touched(b"a", Some(b"g")), vec![ShardId(0)]);
        assert_eq!(
            m.shards_touched(b"a", Some(b"g\0")),
            vec![ShardId(0), ShardId(1)]
        );
        assert_eq!(m.shards_touched(b"h", None), vec![ShardId(1), ShardId(2)]);
        assert!(m.shards_touched(b"h", Some(b"h")).is_empty());
    }

    #[test]
    fn an_inconsistent_layout_fails_the_check() {
        let mut m = map(&["g"]);
        m.ids.push(ShardId(9));
        assert!(matches!(m.check(), Err(Error::InvalidRangeLayout(_))));
        let mut m = map(&["g"]);
        m.ids[1] = ShardId(0);
        assert!(matches!(m.check(), Err(Error::InvalidRangeLayout(_))));
        let mut m = map(&["g"]);
        m.next_id = 1;
        assert!(matches!(m.check(), Err(Error::InvalidRangeLayout(_))));
    }

    #[cfg(feature = "serde")]
    #[test]
    fn serde_round_trips_and_checks_what_it_reads() {
        let (m, _) = map(&["g", "p"]).split(ShardId(1), b"k").unwrap();
        let json = serde_json::to_string(&m).unwrap();
        let back: RangeShards = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
        let bad = r#"{"bounds":[[2],[1]],"ids":[0,1,2],"next_id":3}"#;
        assert!(serde_json::from_str::<RangeShards>(bad).is_err());
    }
}
