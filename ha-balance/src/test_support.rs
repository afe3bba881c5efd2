//! Helpers for the unit tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ha_core::NodeId;

use crate::{Endpoint, EndpointSet, EndpointSetConfig};

/// A set of endpoints `e0`, `e1`, … with `weights`.
pub(crate) fn weighted_set(weights: &[u32]) -> EndpointSet {
    let endpoints = weights
        .iter()
        .enumerate()
        .map(|(i, &w)| Endpoint::new(NodeId::new(format!("e{i}")).unwrap()).with_weight(w))
        .collect();
    EndpointSet::new(endpoints, EndpointSetConfig::default()).unwrap()
}
