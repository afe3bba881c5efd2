//! What a node answers to a request about a key: serve it, or redirect the client the way Redis
//! Cluster does, with `-MOVED` or `-ASK`.

use ha_core::NodeId;

use super::{SlotTable, key_slot};

/// The decision for a request about one key that reached one node.
///
/// | value | Redis Cluster reply | what the client does |
/// |---|---|---|
/// | `Serve` | the command's own reply | nothing more |
/// | `Moved { slot, node }` | `-MOVED <slot> <node's endpoint>` | records that `node` owns `slot` (or refreshes its whole map with `CLUSTER SLOTS`) and resends the request to `node` |
/// | `Ask { slot, node }` | `-ASK <slot> <node's endpoint>` | sends `ASKING`, then this one request, to `node`; its slot map is left alone and later requests for the slot still go to the owner |
///
/// A client may be behind (it holds an old map); the redirects bring it to the right node in at
/// most two hops: `Moved` to the owner, then, while the slot migrates and the owner no longer
/// has the key, `Ask` to the target.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[must_use]
pub enum Redirect {
    /// The node runs the request.
    Serve,
    /// `-MOVED`: `node` owns `slot`; this and every later request for the slot go there.
    Moved {
        /// The key's slot.
        slot: u16,
        /// The slot's owner.
        node: NodeId,
    },
    /// `-ASK`: the slot is migrating to `node` and the owner does not have the key; send
    /// `ASKING` and then this request only to `node`.
    Ask {
        /// The key's slot.
        slot: u16,
        /// The target of the slot's migration.
        node: NodeId,
    },
}

impl SlotTable {
    /// What `node` answers to a request about `key` sent without `ASKING` — the normal case.
    /// `key_present` says whether `node` holds the key; only the source of a migrating slot looks
    /// at it.
    ///
    /// The rules of the Redis Cluster specification:
    /// - the owner of a slot that is not migrating serves;
    /// - the owner (the source) of a migrating slot serves if it holds the key, and answers
    ///   [`Redirect::Ask`] to the target otherwise;
    /// - every other node — the target of a migration too, without `ASKING` — answers
    ///   [`Redirect::Moved`] to the owner. A node not in the table does as well.
    ///
    /// Commands over several keys of one slot follow the same rules with `key_present` meaning
    /// "holds all of them"; Redis' `-TRYAGAIN` for keys split between source and target during a
    /// migration is left to the application.
    ///
    /// ```
    /// use ha_core::NodeId;
    /// use ha_shard::{Redirect, SlotTable, key_slot};
    ///
    /// let (a, b) = (NodeId::new("a")?, NodeId::new("b")?);
    /// let mut table = SlotTable::new([(0..=16383, a.clone())])?;
    /// table.add_node(b.clone())?;
    /// let slot = key_slot(b"foo");
    /// table.begin_migration(slot, &b)?;
    ///
    /// // The source still has the key: it serves. Once the key moved: ASK the target.
    /// assert_eq!(table.redirect(b"foo", &a, true), Redirect::Serve);
    /// assert_eq!(table.redirect(b"foo", &a, false), Redirect::Ask { slot, node: b.clone() });
    /// // The target serves only after ASKING; without it, MOVED back to the owner.
    /// assert_eq!(table.redirect(b"foo", &b, true), Redirect::Moved { slot, node: a.clone() });
    /// assert_eq!(table.redirect_asking(b"foo", &b, true), Redirect::Serve);
    ///
    /// // A client loop: follow redirects until a node serves.
    /// let holder = &b; // the key has moved
    /// let (mut at, mut asking) = (table.owner_of_key(b"foo").clone(), false);
    /// loop {
    ///     let present = &at == holder;
    ///     let reply = if asking {
    ///         table.redirect_asking(b"foo", &at, present)
    ///     } else {
    ///         table.redirect(b"foo", &at, present)
    ///     };
    ///     match reply {
    ///         Redirect::Serve => break,
    ///         Redirect::Moved { node, .. } => (at, asking) = (node, false),
    ///         Redirect::Ask { node, .. } => (at, asking) = (node, true),
    ///         _ => unreachable!(),
    ///     }
    /// }
    /// assert_eq!(&at, holder);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn redirect(&self, key: &[u8], node: &NodeId, key_present: bool) -> Redirect {
        self.decide(key_slot(key), node, false, key_present)
    }

    /// What `node` answers to a request about `key` sent right after `ASKING`, as a client does
    /// after [`Redirect::Ask`]: as [`redirect`](Self::redirect), except that the target of a
    /// migrating slot serves it.
    pub fn redirect_asking(&self, key: &[u8], node: &NodeId, key_present: bool) -> Redirect {
        self.decide(key_slot(key), node, true, key_present)
    }

    /// Redis' `getNodeByQuery` for one slot below 16384.
    fn decide(&self, slot: u16, node: &NodeId, asking: bool, key_present: bool) -> Redirect {
        let owner = self.owners[usize::from(slot)];
        let at = self.index_of(node);
        let importing = self.importing_index(slot);
        if at == Some(owner) {
            return match importing {
                Some(target) if !key_present => Redirect::Ask {
                    slot,
                    node: self.node(target).clone(),
                },
                _ => Redirect::Serve,
            };
        }
        if asking && at.is_some() && at == importing {
            return Redirect::Serve;
        }
        Redirect::Moved {
            slot,
            node: self.node(owner).clone(),
        }
    }
}
