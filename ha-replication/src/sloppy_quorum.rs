//! Sloppy quorums (Dynamo, SOSP 2007, §4.6): a write goes to the first N *reachable* nodes of
//! the key's preference list rather than strictly to its N home replicas; each stand-in keeps the
//! write as a hint for the home replica it replaces ([`HintStore`](crate::HintStore)) and hands it
//! over when that replica is back.

use std::collections::BTreeSet;

use ha_core::NodeId;

use crate::{DEFAULT_DATACENTER, Error, Result};

/// One node a sloppy write goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SloppyTarget {
    /// The node to send to.
    pub node: NodeId,
    /// The unreachable home replica it stands in for, whose hint it keeps; `None` for a home
    /// replica.
    pub hint_for: Option<NodeId>,
}

/// The targets of a sloppy-quorum write: walking `preference` (the key's nodes in placement
/// order, home replicas first, e.g. from ha-shard's `locate_n`), the first `replicas` of them are
/// the home replicas; each home replica that `is_up` says is unreachable is replaced by the next
/// reachable node past them, which keeps a hint for it. Home replicas come first in the result,
/// then stand-ins in preference order. Fewer than `replicas` targets come back when too few
/// nodes are reachable: the write coordinator then refuses or fails the level as usual.
///
/// ```
/// use ha_core::NodeId;
/// use ha_replication::sloppy_targets;
///
/// let pref = ["a", "b", "c", "d", "e"].map(NodeId::new).into_iter().collect::<Result<Vec<_>, _>>()?;
/// let targets = sloppy_targets(&pref, 3, |n| n.as_str() != "b")?;
/// let sent: Vec<_> = targets.iter().map(|t| (t.node.as_str(), t.hint_for.as_ref().map(|h| h.as_str()))).collect();
/// assert_eq!(sent, [("a", None), ("c", None), ("d", Some("b"))]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`Error::ZeroReplicationFactor`] for `replicas == 0`; [`Error::DuplicateReplica`] for a node
/// listed twice in `preference`.
pub fn sloppy_targets(
    preference: &[NodeId],
    replicas: usize,
    is_up: impl Fn(&NodeId) -> bool,
) -> Result<Vec<SloppyTarget>> {
    if replicas == 0 {
        return Err(Error::ZeroReplicationFactor {
            datacenter: DEFAULT_DATACENTER.to_owned(),
        });
    }
    let mut seen = BTreeSet::new();
    if let Some(dup) = preference.iter().find(|n| !seen.insert(*n)) {
        return Err(Error::DuplicateReplica(dup.clone()));
    }
    let home = &preference[..replicas.min(preference.len())];
    let mut targets: Vec<SloppyTarget> = home
        .iter()
        .filter(|n| is_up(n))
        .map(|n| SloppyTarget {
            node: n.clone(),
            hint_for: None,
        })
        .collect();
    let mut down = home.iter().filter(|n| !is_up(n));
    let mut fallbacks = preference[home.len()..].iter().filter(|n| is_up(n));
    for missing in down.by_ref() {
        let Some(stand_in) = fallbacks.next() else {
            break;
        };
        targets.push(SloppyTarget {
            node: stand_in.clone(),
            hint_for: Some(missing.clone()),
        });
    }
    tracing::debug!(
        replicas,
        targets = targets.len(),
        stand_ins = targets.iter().filter(|t| t.hint_for.is_some()).count(),
        "sloppy quorum targets"
    );
    Ok(targets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(names: &[&str]) -> Vec<NodeId> {
        names.iter().map(|n| NodeId::new(n).unwrap()).collect()
    }

    #[test]
    fn all_up_is_the_home_replicas_and_too_few_up_is_fewer_targets() {
        let pref = ids(&["a", "b", "c", "d"]);
        let all = sloppy_targets(&pref, 3, |_| true).unwrap();
        assert_eq!(
            all.iter().map(|t| t.node.as_str()).collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
        let few = sloppy_targets(&pref, 3, |n| n.as_str() == "a").unwrap();
        assert_eq!(few.len(), 1);
        assert!(sloppy_targets(&pref, 0, |_| true).is_err());
        assert!(sloppy_targets(&ids(&["a", "a"]), 1, |_| true).is_err());
    }
}
