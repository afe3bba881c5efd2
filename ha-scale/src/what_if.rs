//! What-if projections of each tier at k× load.

use std::collections::BTreeSet;
use std::fmt;

use crate::error::{in_range, positive};
use crate::{Error, Result};

/// The limit a resource is held against unless given: 80% of capacity.
pub const DEFAULT_LIMIT_RATIO: f64 = 0.8;

/// The largest growth exponent a resource model may state.
pub const MAX_EXPONENT: f64 = 10.0;

/// What a tier is, which decides the remedies offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum TierKind {
    /// A stateless service (web, API).
    Service,
    /// A relational database.
    Database,
    /// An in-memory cache (Redis, Memcached).
    Cache,
    /// A log or queue (Kafka, a message broker).
    Stream,
}

/// A resource of a tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum TierResource {
    /// Processor time.
    Cpu,
    /// Memory.
    Memory,
    /// Connections (to the tier, of its pool).
    Connections,
    /// Disk space or disk I/O.
    Disk,
    /// Network bandwidth.
    Network,
}

impl fmt::Display for TierResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TierResource::Cpu => "cpu",
            TierResource::Memory => "memory",
            TierResource::Connections => "connections",
            TierResource::Disk => "disk",
            TierResource::Network => "network",
        })
    }
}

/// A documented way to take a resource back under its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum Remedy {
    /// More instances behind the balancer.
    ScaleOut,
    /// Larger instances.
    ScaleUp,
    /// Read replicas taking the reads off the primary.
    ReadReplicas,
    /// A connection pooler (PgBouncer, a proxy) multiplexing clients onto fewer connections.
    ConnectionPooling,
    /// Partitioning tables or topics (by time, by key) within one system.
    Partitioning,
    /// Sharding the data across independent primaries.
    Sharding,
    /// Cluster mode: a cache's key space split over shards (Redis Cluster).
    ClusterMode,
}

impl fmt::Display for Remedy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Remedy::ScaleOut => "scale out",
            Remedy::ScaleUp => "scale up",
            Remedy::ReadReplicas => "read replicas",
            Remedy::ConnectionPooling => "connection pooling",
            Remedy::Partitioning => "partitioning",
            Remedy::Sharding => "sharding",
            Remedy::ClusterMode => "cluster mode",
        })
    }
}

/// The documented remedies for a resource of a tier, the usual first choice first.
///
/// ```
/// use ha_scale::{Remedy, TierKind, TierResource, remedies};
///
/// assert_eq!(remedies(TierKind::Cache, TierResource::Memory), &[Remedy::ClusterMode, Remedy::Sharding]);
/// ```
#[must_use]
pub fn remedies(kind: TierKind, resource: TierResource) -> &'static [Remedy] {
    use Remedy::*;
    use TierResource as R;
    match (kind, resource) {
        (TierKind::Service, R::Cpu | R::Network) => &[ScaleOut],
        (TierKind::Service, R::Memory) => &[ScaleOut, ScaleUp],
        (TierKind::Service, R::Connections) => &[ConnectionPooling, ScaleOut],
        (TierKind::Service, R::Disk) => &[ScaleUp],
        (TierKind::Database, R::Cpu) => &[ReadReplicas, ScaleUp],
        (TierKind::Database, R::Memory) => &[ScaleUp, Partitioning],
        (TierKind::Database, R::Connections) => &[ConnectionPooling, ReadReplicas],
        (TierKind::Database, R::Disk) => &[Partitioning, Sharding, ScaleUp],
        (TierKind::Database, R::Network) => &[ReadReplicas, Sharding],
        (TierKind::Cache, R::Cpu) => &[ClusterMode, ReadReplicas],
        (TierKind::Cache, R::Memory) => &[ClusterMode, Sharding],
        (TierKind::Cache, R::Connections) => &[ConnectionPooling, ClusterMode],
        (TierKind::Cache, R::Disk) => &[ScaleUp],
        (TierKind::Cache, R::Network) => &[ReadReplicas, ClusterMode],
        (TierKind::Stream, R::Cpu | R::Disk | R::Network) => &[Partitioning, ScaleOut],
        (TierKind::Stream, R::Memory) => &[ScaleUp, ScaleOut],
        (TierKind::Stream, R::Connections) => &[ConnectionPooling, ScaleOut],
    }
}

/// How one resource of a tier grows with load.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ResourceModel {
    /// The resource.
    pub resource: TierResource,
    /// Its utilization at today's load, in `[0, 1]`.
    pub utilization_ratio: f64,
    /// The utilization it must stay under, in `(0, 1]`. Default [`DEFAULT_LIMIT_RATIO`].
    pub limit_ratio: f64,
    /// The growth exponent: utilization at k× load is `utilization × k^exponent`, in
    /// `(0, MAX_EXPONENT]`. Default 1 (linear).
    pub exponent: f64,
}

impl ResourceModel {
    /// A resource growing linearly with load, held against [`DEFAULT_LIMIT_RATIO`].
    ///
    /// # Errors
    /// [`ha_core::Error::OutOfRange`] or [`ha_core::Error::NotFinite`] for a utilization outside
    /// `[0, 1]`.
    pub fn linear(resource: TierResource, utilization_ratio: f64) -> Result<ResourceModel> {
        let model = ResourceModel {
            resource,
            utilization_ratio,
            limit_ratio: DEFAULT_LIMIT_RATIO,
            exponent: 1.0,
        };
        model.validate()?;
        Ok(model)
    }

    /// The same model with another limit.
    ///
    /// # Errors
    /// As [`ResourceModel::validate`].
    pub fn with_limit(mut self, limit_ratio: f64) -> Result<ResourceModel> {
        self.limit_ratio = limit_ratio;
        self.validate()?;
        Ok(self)
    }

    /// The same model with another growth exponent.
    ///
    /// # Errors
    /// As [`ResourceModel::validate`].
    pub fn with_exponent(mut self, exponent: f64) -> Result<ResourceModel> {
        self.exponent = exponent;
        self.validate()?;
        Ok(self)
    }

    /// Checks the numbers.
    ///
    /// # Errors
    /// [`ha_core::Error::NotFinite`] or [`ha_core::Error::OutOfRange`]: a utilization outside
    /// `[0, 1]`, a limit outside `(0, 1]`, an exponent outside `(0, MAX_EXPONENT]`.
    pub fn validate(&self) -> Result<()> {
        in_range(
            "utilization ratio",
            self.utilization_ratio,
            0.0,
            1.0,
            "[0, 1]",
        )?;
        in_range("limit ratio", self.limit_ratio, 0.0, 1.0, "(0, 1]")?;
        positive("limit ratio", self.limit_ratio)?;
        in_range("exponent", self.exponent, 0.0, MAX_EXPONENT, "(0, 10]")?;
        positive("exponent", self.exponent)?;
        Ok(())
    }

    /// The utilization at `k`× today's load (may exceed 1: demand beyond capacity).
    #[must_use]
    pub fn project(&self, k: f64) -> f64 {
        self.utilization_ratio * k.powf(self.exponent)
    }

    /// The load factor at which the utilization reaches the limit; `None` when nothing is used
    /// today (it never does). At most 1 when the limit is already reached.
    #[must_use]
    pub fn crosses_at(&self) -> Option<f64> {
        (self.utilization_ratio > 0.0)
            .then(|| (self.limit_ratio / self.utilization_ratio).powf(1.0 / self.exponent))
    }
}

/// A tier: a name, what it is, and its resources.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Tier {
    /// Its name, unique among the tiers.
    pub name: String,
    /// What it is.
    pub kind: TierKind,
    /// Its resources, each at most once.
    pub resources: Vec<ResourceModel>,
}

impl Tier {
    /// A tier, checked.
    ///
    /// # Errors
    /// As [`Tier::validate`].
    pub fn new(
        name: impl Into<String>,
        kind: TierKind,
        resources: Vec<ResourceModel>,
    ) -> Result<Tier> {
        let tier = Tier {
            name: name.into(),
            kind,
            resources,
        };
        tier.validate()?;
        Ok(tier)
    }

    /// Checks the tier.
    ///
    /// # Errors
    /// [`ha_core::Error::Empty`] for an empty name; [`Error::DuplicateTierResource`]; each
    /// resource's [`ResourceModel::validate`] errors.
    pub fn validate(&self) -> Result<()> {
        if self.name.is_empty() {
            return Err(ha_core::Error::Empty { name: "tier name" }.into());
        }
        let mut seen = BTreeSet::new();
        for model in &self.resources {
            model.validate()?;
            if !seen.insert(model.resource) {
                return Err(Error::DuplicateTierResource {
                    tier: self.name.clone(),
                    resource: model.resource,
                });
            }
        }
        Ok(())
    }
}

/// One resource at the projected load.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ResourceProjection {
    /// The resource.
    pub resource: TierResource,
    /// Its utilization today.
    pub utilization_ratio: f64,
    /// Its utilization at the projected load.
    pub projected_ratio: f64,
    /// Its limit.
    pub limit_ratio: f64,
    /// The load factor at which it reaches the limit (`None`: never).
    pub crosses_at: Option<f64>,
    /// Whether the projection is above the limit.
    pub over_limit: bool,
}

/// One tier at the projected load.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TierProjection {
    /// The tier.
    pub tier: String,
    /// What it is.
    pub kind: TierKind,
    /// Its resources, in the order given.
    pub resources: Vec<ResourceProjection>,
}

/// A resource that reaches its limit, when, and what to do.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Crossing {
    /// The tier.
    pub tier: String,
    /// What it is.
    pub kind: TierKind,
    /// The resource.
    pub resource: TierResource,
    /// The load factor at which it reaches its limit.
    pub crosses_at: f64,
    /// The documented remedies, first choice first.
    pub remedies: Vec<Remedy>,
}

/// Every tier at k× load and the limits reached on the way.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct WhatIfReport {
    /// The load factor projected.
    pub load_factor: f64,
    /// Each tier, in the order given.
    pub tiers: Vec<TierProjection>,
    /// The resources that reach their limit at or below the load factor, earliest first (ties
    /// by tier, then resource).
    pub crossings: Vec<Crossing>,
}

impl fmt::Display for WhatIfReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "at {}x load:", self.load_factor)?;
        for tier in &self.tiers {
            for r in &tier.resources {
                writeln!(
                    f,
                    "  {:<12} {:<12} {:>6.1}% -> {:>6.1}% (limit {:.0}%){}",
                    tier.tier,
                    r.resource.to_string(),
                    r.utilization_ratio * 100.0,
                    r.projected_ratio * 100.0,
                    r.limit_ratio * 100.0,
                    if r.over_limit { "  OVER" } else { "" }
                )?;
            }
        }
        if self.crossings.is_empty() {
            return writeln!(f, "no limit reached");
        }
        writeln!(f, "limits reached, first first:")?;
        for c in &self.crossings {
            let remedies: Vec<String> = c.remedies.iter().map(ToString::to_string).collect();
            writeln!(
                f,
                "  {:.2}x  {} {}: {}",
                c.crosses_at,
                c.tier,
                c.resource,
                remedies.join(", ")
            )?;
        }
        Ok(())
    }
}

/// The tiers of a system, checked, ready to project: each tier's utilization at k× today's
/// load, the resources that reach their limits first, and what to do about each.
///
/// Each tier (web, database, cache, stream) is a [`Tier`] of [`ResourceModel`]s: a resource's
/// utilization today, its limit, and how it grows with load. The model is a power law,
///
/// `projected(k) = utilization × k^exponent`,
///
/// linear (exponent 1) unless the operator states otherwise — connections in a full mesh grow
/// as k², a cache's memory for a fixed key space sub-linearly. The load factor at which a
/// resource reaches its limit is then `(limit / utilization)^(1 / exponent)`, never reached when
/// nothing is used today.
///
/// The [`Remedy`]s are the documented ones per tier and resource ([`remedies`]): read replicas
/// and pooling for a database's reads and connections (PostgreSQL's "High Availability, Load
/// Balancing, and Replication" chapter; PgBouncer), partitioning and sharding for its disk,
/// cluster mode for a cache's memory and CPU (Redis Cluster, "Scaling with Redis Cluster"),
/// more partitions for a stream (Kafka's "choosing the number of partitions"), scaling out for a
/// stateless service.
///
/// ```
/// use ha_scale::{Remedy, ResourceModel, Tier, TierKind, TierResource::*, WhatIf};
///
/// let what_if = WhatIf::new(vec![
///     Tier::new("web", TierKind::Service, vec![ResourceModel::linear(Cpu, 0.30)?])?,
///     Tier::new("db", TierKind::Database, vec![
///         ResourceModel::linear(Cpu, 0.40)?,
///         ResourceModel::linear(Connections, 0.50)?.with_exponent(1.5)?,
///         ResourceModel::linear(Disk, 0.60)?.with_limit(0.90)?,
///     ])?,
/// ])?;
/// let report = what_if.project(2.0)?;
/// // Connections grow as k^1.5: at 2× they pass 80% first, at 1.37×.
/// let first = &report.crossings[0];
/// assert_eq!((first.tier.as_str(), first.resource), ("db", Connections));
/// assert!((first.crosses_at - 1.6f64.powf(1.0 / 1.5)).abs() < 1e-9);
/// assert_eq!(first.remedies, vec![Remedy::ConnectionPooling, Remedy::ReadReplicas]);
/// assert_eq!(report.crossings.len(), 3); // db connections, db disk (1.5×), db cpu (2×)
/// assert!(report.to_string().contains("1.37x  db connections: connection pooling, read replicas"));
/// # Ok::<(), ha_scale::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct WhatIf {
    tiers: Vec<Tier>,
}

impl WhatIf {
    /// The tiers, checked.
    ///
    /// # Errors
    /// Each tier's [`Tier::validate`] errors; [`Error::DuplicateTier`] for a name given twice.
    pub fn new(tiers: Vec<Tier>) -> Result<WhatIf> {
        let mut names = BTreeSet::new();
        for tier in &tiers {
            tier.validate()?;
            if !names.insert(tier.name.as_str()) {
                return Err(Error::DuplicateTier(tier.name.clone()));
            }
        }
        Ok(WhatIf { tiers })
    }

    /// The tiers.
    #[must_use]
    pub fn tiers(&self) -> &[Tier] {
        &self.tiers
    }

    /// Every resource that ever reaches its limit, earliest first: the order in which load
    /// growth will hit them.
    #[must_use]
    pub fn crossings(&self) -> Vec<Crossing> {
        self.crossings_up_to(f64::INFINITY)
    }

    fn crossings_up_to(&self, k: f64) -> Vec<Crossing> {
        let mut out: Vec<Crossing> = self
            .tiers
            .iter()
            .flat_map(|tier| {
                tier.resources.iter().filter_map(move |m| {
                    m.crosses_at()
                        .filter(|&at| at <= k)
                        .map(|crosses_at| Crossing {
                            tier: tier.name.clone(),
                            kind: tier.kind,
                            resource: m.resource,
                            crosses_at,
                            remedies: remedies(tier.kind, m.resource).to_vec(),
                        })
                })
            })
            .collect();
        out.sort_by(|a, b| {
            a.crosses_at
                .total_cmp(&b.crosses_at)
                .then_with(|| a.tier.cmp(&b.tier))
                .then_with(|| a.resource.cmp(&b.resource))
        });
        out
    }

    /// Every tier at `k`× today's load.
    ///
    /// # Errors
    /// [`ha_core::Error::NotFinite`] or [`ha_core::Error::OutOfRange`] for a `k` that is not a
    /// finite number above zero.
    pub fn project(&self, k: f64) -> Result<WhatIfReport> {
        positive("load factor", k)?;
        let tiers: Vec<TierProjection> = self
            .tiers
            .iter()
            .map(|tier| TierProjection {
                tier: tier.name.clone(),
                kind: tier.kind,
                resources: tier
                    .resources
                    .iter()
                    .map(|m| {
                        let projected_ratio = m.project(k);
                        ResourceProjection {
                            resource: m.resource,
                            utilization_ratio: m.utilization_ratio,
                            projected_ratio,
                            limit_ratio: m.limit_ratio,
                            crosses_at: m.crosses_at(),
                            over_limit: projected_ratio > m.limit_ratio,
                        }
                    })
                    .collect(),
            })
            .collect();
        let crossings = self.crossings_up_to(k);
        tracing::debug!(
            load_factor = k,
            tiers = tiers.len(),
            crossings = crossings.len(),
            first = ?crossings.first().map(|c| (&c.tier, c.resource, c.crosses_at)),
            "what-if projection"
        );
        Ok(WhatIfReport {
            load_factor: k,
            tiers,
            crossings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TierResource::*;

    #[test]
    fn linear_crossing_is_limit_over_utilization() {
        let m = ResourceModel::linear(Cpu, 0.4).unwrap();
        assert_eq!(m.crosses_at(), Some(2.0));
        assert!((m.project(2.0) - 0.8).abs() < 1e-12);
        assert_eq!(ResourceModel::linear(Cpu, 0.0).unwrap().crosses_at(), None);
        let over = ResourceModel::linear(Cpu, 0.9).unwrap();
        assert!(over.crosses_at().unwrap() < 1.0);
    }

    #[test]
    fn exponents_change_the_order() {
        let what_if = WhatIf::new(vec![
            Tier::new(
                "db",
                TierKind::Database,
                vec![
                    ResourceModel::linear(Cpu, 0.2).unwrap(),
                    ResourceModel::linear(Connections, 0.2)
                        .unwrap()
                        .with_exponent(2.0)
                        .unwrap(),
                ],
            )
            .unwrap(),
        ])
        .unwrap();
        let all = what_if.crossings();
        assert_eq!(all[0].resource, Connections);
        assert!((all[0].crosses_at - 2.0).abs() < 1e-12);
        assert!((all[1].crosses_at - 4.0).abs() < 1e-12);
        let report = what_if.project(3.0).unwrap();
        assert_eq!(report.crossings.len(), 1);
        assert!(report.tiers[0].resources[1].over_limit);
        assert!(!report.tiers[0].resources[0].over_limit);
        let text = report.to_string();
        assert!(text.contains("connection pooling, read replicas"), "{text}");
    }

    #[test]
    fn bad_input_is_refused() {
        assert!(ResourceModel::linear(Cpu, -0.1).is_err());
        assert!(ResourceModel::linear(Cpu, f64::NAN).is_err());
        assert!(ResourceModel::linear(Cpu, 1.5).is_err());
        let m = ResourceModel::linear(Cpu, 0.5).unwrap();
        assert!(m.with_limit(0.0).is_err());
        assert!(m.with_limit(1.2).is_err());
        assert!(m.with_exponent(0.0).is_err());
        assert!(m.with_exponent(-1.0).is_err());
        assert!(m.with_exponent(f64::INFINITY).is_err());
        assert!(m.with_exponent(11.0).is_err());
        assert!(matches!(
            Tier::new("", TierKind::Cache, vec![]),
            Err(Error::Core(ha_core::Error::Empty { .. }))
        ));
        assert_eq!(
            Tier::new("c", TierKind::Cache, vec![m, m]),
            Err(Error::DuplicateTierResource {
                tier: "c".into(),
                resource: Cpu
            })
        );
        let t = Tier::new("c", TierKind::Cache, vec![m]).unwrap();
        assert_eq!(
            WhatIf::new(vec![t.clone(), t.clone()]),
            Err(Error::DuplicateTier("c".into()))
        );
        let w = WhatIf::new(vec![t]).unwrap();
        for k in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(w.project(k).is_err(), "{k}");
        }
        // A tier built by hand past the checks is caught by WhatIf::new.
        let sneaky = Tier {
            name: "s".into(),
            kind: TierKind::Service,
            resources: vec![ResourceModel {
                utilization_ratio: -3.0,
                ..m
            }],
        };
        assert!(WhatIf::new(vec![sneaky]).is_err());
    }

    #[test]
    fn every_tier_and_resource_has_a_remedy() {
        for kind in [
            TierKind::Service,
            TierKind::Database,
            TierKind::Cache,
            TierKind::Stream,
        ] {
            for r in [Cpu, Memory, Connections, Disk, Network] {
                assert!(!remedies(kind, r).is_empty(), "{kind:?} {r:?}");
            }
        }
    }
}
