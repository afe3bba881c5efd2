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
                for (i, s) in endpoints.slots().iter().enumerate() {
                    if let Some(weight) = NonZeroU32::new(s.weight) {
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
                Some(i) if slots[i].is_available() => {
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
