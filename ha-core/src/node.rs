//! Nodes: the members that every placement, balancing and replication decision is about.

use std::borrow::Borrow;
use std::fmt;
use std::num::NonZeroU32;
use std::str::FromStr;
use std::sync::Arc;

use crate::{Error, Health, Result};

/// The name of a node, unique within a cluster; never empty.
///
/// Cloning is cheap (a reference count), so decisions can hand ids out freely. Ids compare,
/// order and hash as their text, and a `HashMap<NodeId, _>` can be looked up by `&str`.
///
/// ```
/// use ha_core::NodeId;
///
/// let id = NodeId::new("cache-1")?;
/// assert_eq!(id.as_str(), "cache-1");
/// assert!(NodeId::new("").is_err());
/// let parsed: NodeId = "cache-1".parse()?;
/// assert_eq!(parsed, id);
/// # Ok::<(), ha_core::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(try_from = "String", into = "String")
)]
pub struct NodeId(Arc<str>);

impl NodeId {
    /// An id from its text.
    ///
    /// # Errors
    /// [`Error::EmptyNodeId`] if `id` is empty.
    pub fn new(id: impl AsRef<str>) -> Result<NodeId> {
        let id = id.as_ref();
        if id.is_empty() {
            return Err(Error::EmptyNodeId);
        }
        Ok(NodeId(Arc::from(id)))
    }

    /// The id's text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for NodeId {
    type Err = Error;

    fn from_str(s: &str) -> Result<NodeId> {
        NodeId::new(s)
    }
}

impl TryFrom<String> for NodeId {
    type Error = Error;

    fn try_from(s: String) -> Result<NodeId> {
        NodeId::new(s)
    }
}

impl From<NodeId> for String {
    fn from(id: NodeId) -> String {
        id.0.as_ref().to_owned()
    }
}

impl AsRef<str> for NodeId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for NodeId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// A member of a cluster: where it is, how much work it takes, and how it is doing.
///
/// The fields are public plain data; the builder methods read well when a node is set up in one
/// expression. A weight is relative to the other nodes' weights and can never be zero (a node
/// that should take nothing is removed, or marked unhealthy).
///
/// ```
/// use std::num::NonZeroU32;
/// use ha_core::{Health, Node, NodeId};
///
/// let node = Node::new(NodeId::new("db-2")?, "10.0.0.2:5432")
///     .with_zone("eu-west-1b")
///     .with_region("eu-west-1")
///     .with_weight(NonZeroU32::new(2).unwrap_or(NonZeroU32::MIN))
///     .with_status(Health::Healthy);
/// assert_eq!(node.weight.get(), 2);
/// assert_eq!(node.zone.as_deref(), Some("eu-west-1b"));
/// # Ok::<(), ha_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Node {
    /// The node's unique id.
    pub id: NodeId,
    /// Where to reach it (`host:port`, a URL, a socket path): opaque to ha, used by the
    /// application's transport.
    pub address: String,
    /// The failure domain within a region (an availability zone, a rack), if known.
    pub zone: Option<String>,
    /// The region, if known.
    pub region: Option<String>,
    /// The node's share of work relative to the others. Default 1.
    pub weight: NonZeroU32,
    /// The node's current health. Default [`Health::Unknown`].
    pub status: Health,
}

impl Node {
    /// A node of weight 1 and unknown health, in no zone or region.
    #[must_use]
    pub fn new(id: NodeId, address: impl Into<String>) -> Node {
        Node {
            id,
            address: address.into(),
            zone: None,
            region: None,
            weight: NonZeroU32::MIN,
            status: Health::Unknown,
        }
    }

    /// The node, in `zone`.
    #[must_use]
    pub fn with_zone(mut self, zone: impl Into<String>) -> Node {
        self.zone = Some(zone.into());
        self
    }

    /// The node, in `region`.
    #[must_use]
    pub fn with_region(mut self, region: impl Into<String>) -> Node {
        self.region = Some(region.into());
        self
    }

    /// The node, with `weight`.
    #[must_use]
    pub fn with_weight(mut self, weight: NonZeroU32) -> Node {
        self.weight = weight;
        self
    }

    /// The node, with health `status`.
    #[must_use]
    pub fn with_status(mut self, status: Health) -> Node {
        self.status = status;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn empty_id_is_rejected_everywhere() {
        assert_eq!(NodeId::new(""), Err(Error::EmptyNodeId));
        assert_eq!("".parse::<NodeId>(), Err(Error::EmptyNodeId));
        assert_eq!(NodeId::try_from(String::new()), Err(Error::EmptyNodeId));
    }

    #[test]
    fn ids_can_be_looked_up_by_str() {
        let mut map = HashMap::new();
        map.insert(NodeId::new("a").unwrap(), 1);
        assert_eq!(map.get("a"), Some(&1));
    }

    #[cfg(feature = "serde")]
    #[test]
    fn node_round_trips_through_json_and_empty_ids_fail_to_parse() {
        let node = Node::new(NodeId::new("n1").unwrap(), "127.0.0.1:7000").with_zone("z1");
        let json = serde_json::to_string(&node).unwrap();
        assert!(json.contains(r#""id":"n1""#), "{json}");
        assert!(json.contains(r#""status":"unknown""#), "{json}");
        let back: Node = serde_json::from_str(&json).unwrap();
        assert_eq!(back, node);
        let bad = json.replace(r#""id":"n1""#, r#""id":"""#);
        assert!(serde_json::from_str::<Node>(&bad).is_err());
        let zero = json.replace(r#""weight":1"#, r#""weight":0"#);
        assert!(serde_json::from_str::<Node>(&zero).is_err());
    }
}
