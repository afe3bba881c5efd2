//! A key placement from ha-shard kept in step with an endpoint set's membership, for the
//! consistent-hash and Maglev pickers.

use std::num::NonZeroU32;
use std::ops::ControlFlow;

use ha_core::Node;
use ha_shard::Placement;

use crate::{EndpointSet, Result};

/// A placement over the set's endpoints of weight above 0, rebuilt when the membership (or a
/// weight) changes; health and drains do not rebuild it — a key whose endpoint is unavailable
/// goes to the next available endpoint in the key's preference order, and comes back when it
/// recovers.
#[derive(Debug, Clone)]
pub(crate) struct HashPlacement<P> {
    built: Option<Built<P>>,
}

#[derive(Debug, Clone)]
struct Built<P> {
    version: u64,
    placement: P,
    /// For each placement index, the set index.
    to_set: Vec<usize>,
}

impl<P: Placement> Default for HashPlacement<P> {
    fn default() -> Self {
        HashPlacement { built: None }
    }
}

impl<P: Placement> HashPlacement<P> {
    /// The set index for `key`: the first available endpoint in its preference order.
    pub(crate) fn pick(
        &mut self,
        endpoints: &EndpointSet,
        key: &[u8],
        build: impl FnOnce(Vec<Node>) -> Result<P>,
    ) -> Result<usize> {
        if endpoints.available_indices().is_empty() {
            return Err(endpoints.none_available());
        }
        let built = match &mut self.built {
            Some(b) if b.version == endpoints.membership_version() => b,
            slot => {
                let mut nodes = Vec::with_capacity(endpoints.len());
                let mut to_set = Vec::with_capacity(endpoints.len());
                for (i, (s, h)) in endpoints.slots().iter().zip(endpoints.hot()).enumerate() {
                    if let Some(weight) = NonZeroU32::new(h.weight) {
                        nodes.push(Node::new(s.id.clone(), "").with_weight(weight));
                        to_set.push(i);
                    }
                }
                tracing::debug!(
                    endpoints = nodes.len(),
                    "hash placement rebuilt for a membership change"
                );
                slot.insert(Built {
                    version: endpoints.membership_version(),
                    placement: build(nodes)?,
                    to_set,
                })
            }
        };
        let slots = endpoints.slots();
        let hash = built.placement.hash_key(key);
        let mut chosen = None;
        let mut skipped = 0usize;
        built.placement.visit_preference(hash, &mut |p| {
            match built.to_set.get(p).copied() {
                Some(i) if endpoints.available_at(i) => {
                    chosen = Some(i);
                    return ControlFlow::Break(());
                }
                _ => skipped += 1,
            }
            ControlFlow::Continue(())
        });
        let i = chosen.ok_or_else(|| endpoints.none_available())?;
        tracing::debug!(hash, endpoint = %slots[i].id, skipped, "hash placement");
        Ok(i)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use ha_core::{Health, NodeId};
    use ha_shard::{MaglevConfig, RingConfig};
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use crate::test_support::weighted_set;
    use crate::{Balancer, ConsistentHash, Endpoint, MaglevHash, Picker};

    fn homes<P: Picker>(lb: &mut Balancer<P>, keys: usize) -> Vec<String> {
        let mut rng = StdRng::seed_from_u64(0);
        let now = Instant::now();
        (0..keys)
            .map(|k| {
                lb.pick_key(format!("key-{k}").as_bytes(), now, &mut rng)
                    .unwrap()
                    .to_string()
            })
            .collect()
    }

    /// `stray_moves`: keys a join may move between old endpoints (Maglev's fresh build moves a
    /// few; the ring none).
    fn check_stability<P: Picker>(picker: P, stray_moves: usize) {
        let now = Instant::now();
        let mut lb = Balancer::new(weighted_set(&[1; 8]), picker);
        let before = homes(&mut lb, 2_000);
        // An unhealthy endpoint's keys move; no other key does; they come back on recovery.
        lb.endpoints_mut()
            .set_health("e3", Health::Unhealthy, now)
            .unwrap();
        let during = homes(&mut lb, 2_000);
        for (b, d) in before.iter().zip(&during) {
            if b == "e3" {
                assert_ne!(d, "e3");
            } else {
                assert_eq!(b, d);
            }
        }
        lb.endpoints_mut()
            .set_health("e3", Health::Healthy, now)
            .unwrap();
        assert_eq!(homes(&mut lb, 2_000), before);
        // A join moves keys only to the new endpoint, and about 1/9 of them.
        lb.endpoints_mut()
            .add(Endpoint::new(NodeId::new("e8").unwrap()), now)
            .unwrap();
        let after = homes(&mut lb, 2_000);
        let moved = before.iter().zip(&after).filter(|(b, a)| b != a).count();
        let stray = before
            .iter()
            .zip(&after)
            .filter(|(b, a)| b != a && *a != "e8")
            .count();
        assert!(
            stray <= stray_moves,
            "{stray} keys moved between old endpoints"
        );
        assert!((120..400).contains(&moved), "{moved} of 2000 moved");
    }

    #[test]
    fn consistent_hash_moves_only_the_keys_it_must() {
        check_stability(ConsistentHash::new(RingConfig::default()).unwrap(), 0);
    }

    #[test]
    fn maglev_moves_only_the_keys_it_must() {
        // A fresh Maglev build moves a few keys between old endpoints too: 4 of 2000 here.
        check_stability(MaglevHash::new(MaglevConfig::default()).unwrap(), 10);
    }

    #[test]
    fn bad_placement_configs_are_rejected() {
        assert!(
            ConsistentHash::new(RingConfig {
                points_per_weight: 0
            })
            .is_err()
        );
        assert!(MaglevHash::new(MaglevConfig { table_size: 100 }).is_err());
    }
}
