//! Endpoints: the targets a balancer picks among, and what a request to one came to.

use ha_core::{Health, Node, NodeId};

/// A target that requests can be sent to: its id, its relative weight and its health.
///
/// Unlike [`Node`], whose weight is never zero, an endpoint may have weight 0: it stays in the set
/// (its in-flight requests are still counted and its session affinities are re-picked) but takes
/// no new requests, the way a weight of 0 in nginx or HAProxy parks a server.
///
/// ```
/// use ha_balance::Endpoint;
/// use ha_core::{Health, NodeId};
///
/// let e = Endpoint::new(NodeId::new("api-1")?).with_weight(3);
/// assert_eq!(e.weight, 3);
/// assert_eq!(e.health, Health::Healthy);
/// # Ok::<(), ha_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Endpoint {
    /// The endpoint's unique id.
    pub id: NodeId,
    /// Its share of requests relative to the others' weights; 0 takes none. Default 1.
    pub weight: u32,
    /// Its health: only [`Health::Healthy`] and [`Health::Degraded`] endpoints are picked.
    /// Default [`Health::Healthy`] (an endpoint is assumed up until a check says otherwise, as
    /// Envoy assumes of hosts without active health checking).
    pub health: Health,
}

impl Endpoint {
    /// A healthy endpoint of weight 1.
    #[must_use]
    pub fn new(id: NodeId) -> Endpoint {
        Endpoint {
            id,
            weight: 1,
            health: Health::Healthy,
        }
    }

    /// The endpoint, with `weight`.
    #[must_use]
    pub fn with_weight(mut self, weight: u32) -> Endpoint {
        self.weight = weight;
        self
    }

    /// The endpoint, with `health`.
    #[must_use]
    pub fn with_health(mut self, health: Health) -> Endpoint {
        self.health = health;
        self
    }
}

impl From<&Node> for Endpoint {
    /// The node's id, weight and status.
    fn from(node: &Node) -> Endpoint {
        Endpoint {
            id: node.id.clone(),
            weight: node.weight.get(),
            health: node.status,
        }
    }
}

/// How a request sent to an endpoint ended, as fed to
/// [`Balancer::on_complete`](crate::Balancer::on_complete).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum RequestOutcome {
    /// A response that counts as success.
    Success,
    /// An error response, a reset or a timeout.
    Failure,
}
