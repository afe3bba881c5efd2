//! The replicas an operation is sent to, each in its datacenter.

use std::sync::Arc;

use ha_core::{Node, NodeId};

use crate::{DEFAULT_DATACENTER, Error, Result};

/// The most replicas a [`ReplicaSet`] holds (a key's copies, with stand-ins: far above any
/// replication factor in use).
pub const MAX_REPLICAS: usize = 128;

/// The replicas of one key that an operation asks, each with its datacenter: validated once
/// (not empty, at most [`MAX_REPLICAS`], no node twice), then shared cheaply — cloning is a reference count, so a
/// coordinator per operation costs no copy of the set.
///
/// ```
/// use ha_core::NodeId;
/// use ha_replication::ReplicaSet;
///
/// let set = ReplicaSet::new([(NodeId::new("a")?, "eu"), (NodeId::new("b")?, "us")])?;
/// assert_eq!(set.len(), 2);
/// assert_eq!(set.datacenter_of(&NodeId::new("b")?), Some("us"));
/// let dup = ReplicaSet::single_datacenter([NodeId::new("a")?, NodeId::new("a")?]);
/// assert!(dup.is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(try_from = "Vec<(NodeId, String)>", into = "Vec<(NodeId, String)>")
)]
pub struct ReplicaSet {
    inner: Arc<Inner>,
}

#[derive(Debug, PartialEq, Eq)]
struct Inner {
    /// Sorted by id.
    nodes: Vec<NodeId>,
    /// For each node, the index of its datacenter in `datacenters`.
    datacenter: Vec<usize>,
    /// Sorted, distinct.
    datacenters: Vec<String>,
    /// Replicas in each datacenter.
    sizes: Vec<usize>,
}

impl ReplicaSet {
    /// A set from `(node, datacenter)` pairs.
    ///
    /// # Errors
    /// [`Error::EmptyReplicaSet`]; [`ha_core::Error::TooLarge`] (as [`Error::Core`]) above
    /// [`MAX_REPLICAS`]; [`Error::DuplicateReplica`] for a node given twice.
    pub fn new<S: Into<String>>(
        replicas: impl IntoIterator<Item = (NodeId, S)>,
    ) -> Result<ReplicaSet> {
        let mut pairs: Vec<(NodeId, String)> = replicas
            .into_iter()
            .map(|(id, dc)| (id, dc.into()))
            .collect();
        if pairs.is_empty() {
            return Err(Error::EmptyReplicaSet);
        }
        if pairs.len() > MAX_REPLICAS {
            return Err(ha_core::Error::TooLarge {
                name: "replica set size",
                value: pairs.len() as u64,
                max: MAX_REPLICAS as u64,
            }
            .into());
        }
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        if let Some(w) = pairs.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(Error::DuplicateReplica(w[0].0.clone()));
        }
        let mut datacenters: Vec<String> = pairs.iter().map(|(_, dc)| dc.clone()).collect();
        datacenters.sort();
        datacenters.dedup();
        let datacenter: Vec<usize> = pairs
            .iter()
            .map(|(_, dc)| datacenters.binary_search(dc).unwrap_or(0))
            .collect();
        let mut sizes = vec![0; datacenters.len()];
        for &dc in &datacenter {
            sizes[dc] += 1;
        }
        Ok(ReplicaSet {
            inner: Arc::new(Inner {
                nodes: pairs.into_iter().map(|(id, _)| id).collect(),
                datacenter,
                datacenters,
                sizes,
            }),
        })
    }

    /// A set of `nodes` all in [`DEFAULT_DATACENTER`].
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn single_datacenter(nodes: impl IntoIterator<Item = NodeId>) -> Result<ReplicaSet> {
        ReplicaSet::new(nodes.into_iter().map(|id| (id, DEFAULT_DATACENTER)))
    }

    /// A set of ha-core [`Node`]s, each in its region as the datacenter (or
    /// [`DEFAULT_DATACENTER`] if it names none).
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn from_nodes<'a>(nodes: impl IntoIterator<Item = &'a Node>) -> Result<ReplicaSet> {
        ReplicaSet::new(nodes.into_iter().map(|n| {
            (
                n.id.clone(),
                n.region
                    .clone()
                    .unwrap_or_else(|| DEFAULT_DATACENTER.to_owned()),
            )
        }))
    }

    /// The number of replicas.
    #[must_use]
    pub fn len(&self) -> usize {
        self.inner.nodes.len()
    }

    /// Always false: a set is never empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.inner.nodes.is_empty()
    }

    /// The replicas, sorted by id.
    #[must_use]
    pub fn nodes(&self) -> &[NodeId] {
        &self.inner.nodes
    }

    /// Whether `node` is in the set.
    #[must_use]
    pub fn contains(&self, node: &NodeId) -> bool {
        self.index_of(node).is_some()
    }

    /// The datacenter of `node`, if it is in the set.
    #[must_use]
    pub fn datacenter_of(&self, node: &NodeId) -> Option<&str> {
        self.index_of(node)
            .map(|i| self.inner.datacenters[self.inner.datacenter[i]].as_str())
    }

    /// The distinct datacenters, sorted.
    #[must_use]
    pub fn datacenters(&self) -> &[String] {
        &self.inner.datacenters
    }

    /// The position of `node` in [`nodes`](Self::nodes).
    #[must_use]
    pub fn index_of(&self, node: &NodeId) -> Option<usize> {
        self.inner.nodes.binary_search(node).ok()
    }

    /// The `(node, datacenter)` pairs, sorted by node.
    pub fn iter(&self) -> impl Iterator<Item = (&NodeId, &str)> {
        self.inner
            .nodes
            .iter()
            .zip(&self.inner.datacenter)
            .map(|(id, dc)| (id, self.inner.datacenters[*dc].as_str()))
    }

    /// The number of replicas in the datacenter at `index` of [`datacenters`](Self::datacenters).
    pub(crate) fn datacenter_size(&self, index: usize) -> usize {
        self.inner.sizes.get(index).copied().unwrap_or(0)
    }

    /// The datacenter index (into [`datacenters`](Self::datacenters)) of the replica at `index`.
    pub(crate) fn datacenter_index(&self, index: usize) -> usize {
        self.inner.datacenter.get(index).copied().unwrap_or(0)
    }
}

impl TryFrom<Vec<(NodeId, String)>> for ReplicaSet {
    type Error = Error;

    fn try_from(pairs: Vec<(NodeId, String)>) -> Result<ReplicaSet> {
        ReplicaSet::new(pairs)
    }
}

impl From<ReplicaSet> for Vec<(NodeId, String)> {
    fn from(set: ReplicaSet) -> Vec<(NodeId, String)> {
        set.iter()
            .map(|(id, dc)| (id.clone(), dc.to_owned()))
            .collect()
    }
}
