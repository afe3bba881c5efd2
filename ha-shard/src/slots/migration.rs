//! Moving one slot from its owner to another node, the way Redis Cluster reshards.

use ha_core::NodeId;

use super::SlotTable;
use super::table::slot_index;
use crate::{Error, Result};

/// A slot being moved: MIGRATING on `from`, its owner, and IMPORTING on `to`.
///
/// ```
/// use ha_core::NodeId;
/// use ha_shard::{SlotMigration, SlotTable};
///
/// let (a, b) = (NodeId::new("a")?, NodeId::new("b")?);
/// let mut table = SlotTable::new([(0..=8191, a.clone()), (8192..=16383, b.clone())])?;
/// let started = table.begin_migration(7, &b)?;
/// assert_eq!(started, SlotMigration { slot: 7, from: a, to: b });
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SlotMigration {
    /// The slot.
    pub slot: u16,
    /// Its owner, the source: the slot is MIGRATING there.
    pub from: NodeId,
    /// The target: the slot is IMPORTING there.
    pub to: NodeId,
}

impl SlotTable {
    /// Starts moving `slot` from its owner to `to`: Redis' `CLUSTER SETSLOT <slot> IMPORTING
    /// <source>` on the target and `CLUSTER SETSLOT <slot> MIGRATING <target>` on the source.
    ///
    /// The owner does not change yet. From now on the source serves only the keys it still
    /// holds and sends requests for the others to the target with `-ASK`
    /// ([`redirect`](Self::redirect)); the application moves the keys over (`MIGRATE`), then
    /// calls [`complete_migration`](Self::complete_migration). Starting the same migration again
    /// changes nothing and returns it.
    ///
    /// # Errors
    /// [`Error::SlotOutOfRange`] for a slot of 16384 or more; [`Error::UnknownNode`] if
    /// `to` is not in the table (add it with [`add_node`](Self::add_node) first);
    /// [`Error::SlotAlreadyOwned`] if `to` owns the slot; [`Error::SlotAlreadyMigrating`] if the
    /// slot is migrating to another node.
    pub fn begin_migration(&mut self, slot: u16, to: &NodeId) -> Result<SlotMigration> {
        let index = slot_index(slot)?;
        let target = self
            .index_of(to)
            .ok_or_else(|| Error::UnknownNode(to.clone()))?;
        let owner = self.owners[index];
        if owner == target {
            return Err(Error::SlotAlreadyOwned {
                slot,
                node: to.clone(),
            });
        }
        match self.migrations.get(&slot) {
            Some(&current) if current == target => {}
            Some(&current) => {
                return Err(Error::SlotAlreadyMigrating {
                    slot,
                    to: self.node(current).clone(),
                });
            }
            None => {
                self.migrations.insert(slot, target);
            }
        }
        let migration = self.migration_of(slot, owner, target);
        tracing::debug!(slot, from = %migration.from, to = %migration.to, "slot migration began");
        Ok(migration)
    }

    /// Finishes moving `slot`: its target becomes its owner — Redis' `CLUSTER SETSLOT <slot>
    /// NODE <target>`, sent once every key of the slot has been moved. Requests for the slot now
    /// get `-MOVED` to the new owner everywhere else.
    ///
    /// # Errors
    /// [`Error::SlotOutOfRange`] for a slot of 16384 or more; [`Error::SlotNotMigrating`] if
    /// the slot is not migrating.
    ///
    /// ```
    /// use ha_core::NodeId;
    /// use ha_shard::{Error, SlotTable};
    ///
    /// let (a, b) = (NodeId::new("a")?, NodeId::new("b")?);
    /// let mut table = SlotTable::new([(0..=8191, a.clone()), (8192..=16383, b.clone())])?;
    /// table.begin_migration(7, &b)?;
    /// assert_eq!(table.owner(7)?, &a); // still the source until the keys have moved
    /// table.complete_migration(7)?;
    /// assert_eq!(table.owner(7)?, &b);
    /// assert_eq!(table.slot_counts()[&b], 8193);
    /// assert_eq!(table.complete_migration(7), Err(Error::SlotNotMigrating { slot: 7 }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn complete_migration(&mut self, slot: u16) -> Result<SlotMigration> {
        let index = slot_index(slot)?;
        let target = self
            .migrations
            .remove(&slot)
            .ok_or(Error::SlotNotMigrating { slot })?;
        let migration = self.migration_of(slot, self.owners[index], target);
        self.owners[index] = target;
        tracing::debug!(slot, from = %migration.from, to = %migration.to, "slot migration completed");
        Ok(migration)
    }

    /// Abandons moving `slot`; it stays with its owner — Redis' `CLUSTER SETSLOT <slot> STABLE`.
    /// Keys already moved to the target must be moved back by the application, as
    /// `redis-cli --cluster fix` does.
    ///
    /// # Errors
    /// [`Error::SlotOutOfRange`] for a slot of 16384 or more; [`Error::SlotNotMigrating`] if
    /// the slot is not migrating.
    pub fn abort_migration(&mut self, slot: u16) -> Result<SlotMigration> {
        let index = slot_index(slot)?;
        let target = self
            .migrations
            .remove(&slot)
            .ok_or(Error::SlotNotMigrating { slot })?;
        let migration = self.migration_of(slot, self.owners[index], target);
        tracing::debug!(slot, from = %migration.from, to = %migration.to, "slot migration aborted");
        Ok(migration)
    }

    /// The migration of `slot`, if it is migrating (never for a slot of 16384 or more).
    #[must_use]
    pub fn migration(&self, slot: u16) -> Option<SlotMigration> {
        let index = slot_index(slot).ok()?;
        let &target = self.migrations.get(&slot)?;
        Some(self.migration_of(slot, self.owners[index], target))
    }

    /// Every migration under way, in slot order.
    pub fn migrations(&self) -> impl Iterator<Item = SlotMigration> + '_ {
        self.migrations
            .iter()
            .map(|(&slot, &target)| self.migration_of(slot, self.owners[usize::from(slot)], target))
    }

    /// The target index of `slot` if it is migrating; `slot` must be below 16384.
    pub(super) fn importing_index(&self, slot: u16) -> Option<u16> {
        self.migrations.get(&slot).copied()
    }

    fn migration_of(&self, slot: u16, owner: u16, target: u16) -> SlotMigration {
        SlotMigration {
            slot,
            from: self.node(owner).clone(),
            to: self.node(target).clone(),
        }
    }
}
