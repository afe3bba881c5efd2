//! # ha — the decision logic of scaling and high availability
//!
//! One dependency for the whole family; each member is a module behind a default-on feature.
#[cfg(feature = "core")]
pub use ha_core as core;
