//! The resources a capacity plan tracks.

use std::fmt;

/// A resource whose use is forecast against a capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum CapacityResource {
    /// Processor time (cores, or a utilisation in any unit shared with the capacity).
    Cpu,
    /// Memory.
    Memory,
    /// Disk or object storage.
    Storage,
    /// Network bandwidth.
    Bandwidth,
    /// Request rate.
    Requests,
}

impl fmt::Display for CapacityResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Cpu => "cpu",
            Self::Memory => "memory",
            Self::Storage => "storage",
            Self::Bandwidth => "bandwidth",
            Self::Requests => "requests",
        })
    }
}
