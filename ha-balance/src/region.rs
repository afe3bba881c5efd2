//! Region routing: the nearest healthy region, by great-circle distance or by measured latency,
//! failing over down the same order.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use ha_core::{Ewma, Health};

use crate::{Error, Result};

/// The mean radius of the Earth in kilometres (IUGG), for great-circle distances.
pub const EARTH_RADIUS_KM: f64 = 6371.0088;

/// A point on the Earth, in degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct GeoPoint {
    /// Latitude in degrees, in [−90, 90], north positive.
    pub latitude: f64,
    /// Longitude in degrees, in [−180, 180], east positive.
    pub longitude: f64,
}

impl GeoPoint {
    /// A checked point.
    ///
    /// # Errors
    /// [`ha_core::Error::NotFinite`] or [`ha_core::Error::OutOfRange`] (as [`Error::Core`]) for
    /// a NaN, infinite or out-of-range coordinate.
    pub fn new(latitude: f64, longitude: f64) -> Result<GeoPoint> {
        let point = GeoPoint {
            latitude,
            longitude,
        };
        point.validate()?;
        Ok(point)
    }

    /// Checks the coordinates; see [`new`](Self::new).
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn validate(&self) -> Result<()> {
        for (name, value, limit, range) in [
            ("latitude", self.latitude, 90.0, "[-90, 90]"),
            ("longitude", self.longitude, 180.0, "[-180, 180]"),
        ] {
            if !value.is_finite() {
                return Err(ha_core::Error::NotFinite { name, value }.into());
            }
            if value.abs() > limit {
                return Err(ha_core::Error::OutOfRange { name, value, range }.into());
            }
        }
        Ok(())
    }

    /// The great-circle distance to `other` in kilometres, by the haversine formula on a sphere
    /// of [`EARTH_RADIUS_KM`] (within about 0.5% of the ellipsoidal distance).
    ///
    /// ```
    /// use ha_balance::GeoPoint;
    ///
    /// let london = GeoPoint::new(51.5074, -0.1278)?;
    /// let new_york = GeoPoint::new(40.7128, -74.0060)?;
    /// assert!((london.distance_km(&new_york) - 5570.0).abs() < 10.0);
    /// # Ok::<(), ha_balance::Error>(())
    /// ```
    #[must_use]
    pub fn distance_km(&self, other: &GeoPoint) -> f64 {
        let (lat1, lat2) = (self.latitude.to_radians(), other.latitude.to_radians());
        let dlat = lat2 - lat1;
        let dlon = (other.longitude - self.longitude).to_radians();
        let a = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_KM * a.sqrt().clamp(0.0, 1.0).asin()
    }
}

/// A region requests can be routed to.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Region {
    /// Its unique name (`eu-west-1`).
    pub name: String,
    /// Where it is.
    pub location: GeoPoint,
}

impl Region {
    /// A region called `name` at `location`.
    #[must_use]
    pub fn new(name: impl Into<String>, location: GeoPoint) -> Region {
        Region {
            name: name.into(),
            location,
        }
    }
}

/// The settings of a [`RegionRouter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct RegionRouterConfig {
    /// The half-life of each region's latency average (ha-core's time-decayed [`Ewma`]).
    /// Default 30 s; never zero.
    pub latency_half_life: Duration,
}

impl Default for RegionRouterConfig {
    fn default() -> Self {
        RegionRouterConfig {
            latency_half_life: Duration::from_secs(30),
        }
    }
}

impl RegionRouterConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`ha_core::Error::Zero`] (as [`Error::Core`]) for a zero half-life.
    pub fn validate(&self) -> Result<()> {
        Ewma::with_half_life(self.latency_half_life)?;
        Ok(())
    }
}

/// How to order regions.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum RegionStrategy {
    /// Nearest first by great-circle distance from this point (the client's location).
    Nearest(GeoPoint),
    /// Lowest measured latency first; regions never measured follow, in the order given.
    LowestLatency,
}

/// The region chosen for a request.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct RegionChoice {
    /// The region's name.
    pub region: String,
    /// How many better-ranked regions were passed over as unhealthy: 0 for the first choice.
    pub failover: usize,
    /// Its distance from the client, when routing by distance.
    pub distance_km: Option<f64>,
    /// Its latency average, if measured.
    pub latency: Option<Duration>,
}

#[derive(Debug, Clone)]
struct RegionState {
    region: Region,
    health: Health,
    latency: Ewma,
}

/// Regions with their location, health and measured latency; routes each request to the best
/// available region and fails over down the ranking.
///
/// Regions are available while [`Health::is_available`] (healthy or degraded; new regions are
/// healthy). Ties in the ranking go to the order the regions were given.
///
/// ```
/// use std::time::{Duration, Instant};
/// use ha_balance::{GeoPoint, Region, RegionRouter, RegionStrategy};
/// use ha_core::Health;
///
/// let mut router = RegionRouter::new(
///     vec![
///         Region::new("us-east", GeoPoint::new(39.0, -77.5)?),
///         Region::new("eu-west", GeoPoint::new(53.3, -6.3)?),
///         Region::new("ap-south", GeoPoint::new(19.1, 72.9)?),
///     ],
///     Default::default(),
/// )?;
/// let paris = RegionStrategy::Nearest(GeoPoint::new(48.86, 2.35)?);
/// assert_eq!(router.route(paris)?.region, "eu-west");
/// router.set_health("eu-west", Health::Unhealthy)?;
/// let choice = router.route(paris)?;
/// assert_eq!((choice.region.as_str(), choice.failover), ("us-east", 1));
///
/// let now = Instant::now();
/// router.record_latency("ap-south", Duration::from_millis(40), now)?;
/// router.record_latency("us-east", Duration::from_millis(90), now)?;
/// assert_eq!(router.route(RegionStrategy::LowestLatency)?.region, "ap-south");
/// # Ok::<(), ha_balance::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct RegionRouter {
    config: RegionRouterConfig,
    regions: Vec<RegionState>,
    index: HashMap<String, usize>,
}

impl RegionRouter {
    /// A router over `regions`, all healthy and unmeasured.
    ///
    /// # Errors
    /// [`Error::NoRegions`], [`Error::DuplicateRegion`], an invalid location (see
    /// [`GeoPoint::validate`]) or config (see [`RegionRouterConfig::validate`]).
    pub fn new(regions: Vec<Region>, config: RegionRouterConfig) -> Result<RegionRouter> {
        config.validate()?;
        if regions.is_empty() {
            return Err(Error::NoRegions);
        }
        let mut index = HashMap::with_capacity(regions.len());
        let mut states = Vec::with_capacity(regions.len());
        for (i, region) in regions.into_iter().enumerate() {
            region.location.validate()?;
            if index.insert(region.name.clone(), i).is_some() {
                return Err(Error::DuplicateRegion(region.name));
            }
            states.push(RegionState {
                region,
                health: Health::Healthy,
                latency: Ewma::with_half_life(config.latency_half_life)?,
            });
        }
        Ok(RegionRouter {
            config,
            regions: states,
            index,
        })
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &RegionRouterConfig {
        &self.config
    }

    /// Sets the health of region `name`.
    ///
    /// # Errors
    /// [`Error::UnknownRegion`].
    pub fn set_health(&mut self, name: &str, health: Health) -> Result<()> {
        let state = self.state_mut(name)?;
        tracing::debug!(region = name, from = %state.health, to = %health, "region health changed");
        state.health = health;
        Ok(())
    }

    /// Takes in a latency measured to region `name` at `now` (a probe or a request's round
    /// trip).
    ///
    /// # Errors
    /// [`Error::UnknownRegion`].
    pub fn record_latency(&mut self, name: &str, latency: Duration, now: Instant) -> Result<()> {
        let state = self.state_mut(name)?;
        state.latency.record(latency.as_secs_f64(), now)?;
        Ok(())
    }

    /// The latency average of region `name`, if measured.
    #[must_use]
    pub fn latency(&self, name: &str) -> Option<Duration> {
        let state = &self.regions[*self.index.get(name)?];
        latency_of(state)
    }

    /// Every region's name, best first for `strategy`, healthy or not: the failover order.
    #[must_use]
    pub fn ranking(&self, strategy: RegionStrategy) -> Vec<&str> {
        self.ranked(strategy)
            .into_iter()
            .map(|(i, _)| self.regions[i].region.name.as_str())
            .collect()
    }

    /// The best available region for `strategy`.
    ///
    /// # Errors
    /// [`Error::NoRegionAvailable`] when every region is unhealthy; an invalid client location
    /// (see [`GeoPoint::validate`]).
    pub fn route(&self, strategy: RegionStrategy) -> Result<RegionChoice> {
        if let RegionStrategy::Nearest(from) = strategy {
            from.validate()?;
        }
        let ranked = self.ranked(strategy);
        let (failover, (i, distance_km)) = ranked
            .into_iter()
            .enumerate()
            .find(|(_, (i, _))| self.regions[*i].health.is_available())
            .ok_or(Error::NoRegionAvailable {
                total: self.regions.len(),
            })?;
        let state = &self.regions[i];
        let choice = RegionChoice {
            region: state.region.name.clone(),
            failover,
            distance_km,
            latency: latency_of(state),
        };
        tracing::debug!(region = %choice.region, failover, distance_km = ?choice.distance_km, latency = ?choice.latency, "region routed");
        Ok(choice)
    }

    /// Region indices best first, with the distance when ranking by distance.
    fn ranked(&self, strategy: RegionStrategy) -> Vec<(usize, Option<f64>)> {
        match strategy {
            RegionStrategy::Nearest(from) => {
                let mut ranked: Vec<(usize, Option<f64>)> = self
                    .regions
                    .iter()
                    .enumerate()
                    .map(|(i, s)| (i, Some(from.distance_km(&s.region.location))))
                    .collect();
                // A NaN distance (from an unchecked point) sorts last.
                ranked.sort_by(|a, b| {
                    let (da, db) = (a.1.unwrap_or(f64::NAN), b.1.unwrap_or(f64::NAN));
                    match (da.is_nan(), db.is_nan()) {
                        (false, false) => da.total_cmp(&db),
                        (a_nan, b_nan) => a_nan.cmp(&b_nan),
                    }
                });
                ranked
            }
            RegionStrategy::LowestLatency => {
                let mut ranked: Vec<(usize, Option<f64>)> =
                    (0..self.regions.len()).map(|i| (i, None)).collect();
                ranked.sort_by(|a, b| {
                    let la = self.regions[a.0].latency.value();
                    let lb = self.regions[b.0].latency.value();
                    match (la, lb) {
                        (Some(x), Some(y)) => x.total_cmp(&y),
                        (Some(_), None) => Ordering::Less,
                        (None, Some(_)) => Ordering::Greater,
                        (None, None) => Ordering::Equal,
                    }
                });
                ranked
            }
        }
    }

    fn state_mut(&mut self, name: &str) -> Result<&mut RegionState> {
        let &i = self
            .index
            .get(name)
            .ok_or_else(|| Error::UnknownRegion(name.to_owned()))?;
        Ok(&mut self.regions[i])
    }
}

fn latency_of(state: &RegionState) -> Option<Duration> {
    state
        .latency
        .value()
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router() -> RegionRouter {
        RegionRouter::new(
            vec![
                Region::new("us-east", GeoPoint::new(39.0, -77.5).unwrap()),
                Region::new("us-west", GeoPoint::new(45.6, -121.2).unwrap()),
                Region::new("eu-west", GeoPoint::new(53.3, -6.3).unwrap()),
            ],
            RegionRouterConfig::default(),
        )
        .unwrap()
    }

    #[test]
    fn haversine_matches_known_distances() {
        let a = GeoPoint::new(0.0, 0.0).unwrap();
        assert_eq!(a.distance_km(&a), 0.0);
        let quarter = a.distance_km(&GeoPoint::new(0.0, 90.0).unwrap());
        assert!((quarter - EARTH_RADIUS_KM * std::f64::consts::FRAC_PI_2).abs() < 1e-6);
        let antipode = a.distance_km(&GeoPoint::new(0.0, 180.0).unwrap());
        assert!((antipode - EARTH_RADIUS_KM * std::f64::consts::PI).abs() < 1e-6);
        // Paris–Sydney, about 16 960 km.
        let paris = GeoPoint::new(48.8566, 2.3522).unwrap();
        let sydney = GeoPoint::new(-33.8688, 151.2093).unwrap();
        assert!((paris.distance_km(&sydney) - 16_960.0).abs() < 40.0);
    }

    #[test]
    fn bad_coordinates_and_settings_are_rejected() {
        assert!(matches!(
            GeoPoint::new(f64::NAN, 0.0),
            Err(Error::Core(ha_core::Error::NotFinite { .. }))
        ));
        assert!(matches!(
            GeoPoint::new(91.0, 0.0),
            Err(Error::Core(ha_core::Error::OutOfRange { .. }))
        ));
        assert!(GeoPoint::new(0.0, -180.5).is_err());
        assert_eq!(
            RegionRouter::new(vec![], RegionRouterConfig::default()).unwrap_err(),
            Error::NoRegions
        );
        let p = GeoPoint::new(0.0, 0.0).unwrap();
        assert_eq!(
            RegionRouter::new(
                vec![Region::new("a", p), Region::new("a", p)],
                RegionRouterConfig::default()
            )
            .unwrap_err(),
            Error::DuplicateRegion("a".into())
        );
        let zero = RegionRouterConfig {
            latency_half_life: Duration::ZERO,
        };
        assert!(RegionRouter::new(vec![Region::new("a", p)], zero).is_err());
        let bad = GeoPoint {
            latitude: f64::NAN,
            longitude: 0.0,
        };
        assert!(router().route(RegionStrategy::Nearest(bad)).is_err());
        assert!(
            RegionRouter::new(vec![Region::new("a", bad)], RegionRouterConfig::default()).is_err()
        );
        let mut r = router();
        assert_eq!(
            r.set_health("mars", Health::Healthy),
            Err(Error::UnknownRegion("mars".into()))
        );
        assert!(
            r.record_latency("mars", Duration::from_millis(1), Instant::now())
                .is_err()
        );
    }

    #[test]
    fn routing_by_distance_fails_over_in_order() {
        let mut r = router();
        let seattle = RegionStrategy::Nearest(GeoPoint::new(47.6, -122.3).unwrap());
        assert_eq!(r.ranking(seattle), vec!["us-west", "us-east", "eu-west"]);
        let choice = r.route(seattle).unwrap();
        assert_eq!((choice.region.as_str(), choice.failover), ("us-west", 0));
        assert!(choice.distance_km.unwrap() < 300.0);
        r.set_health("us-west", Health::Unhealthy).unwrap();
        r.set_health("us-east", Health::Degraded).unwrap();
        assert_eq!(r.route(seattle).unwrap().region, "us-east");
        r.set_health("us-east", Health::Unhealthy).unwrap();
        let last = r.route(seattle).unwrap();
        assert_eq!((last.region.as_str(), last.failover), ("eu-west", 2));
        r.set_health("eu-west", Health::Unhealthy).unwrap();
        assert_eq!(
            r.route(seattle).unwrap_err(),
            Error::NoRegionAvailable { total: 3 }
        );
    }

    #[test]
    fn routing_by_latency_follows_the_average_and_ranks_unmeasured_last() {
        let mut r = router();
        let t = Instant::now();
        // Nothing measured: the order given.
        assert_eq!(
            r.ranking(RegionStrategy::LowestLatency),
            vec!["us-east", "us-west", "eu-west"]
        );
        r.record_latency("eu-west", Duration::from_millis(80), t)
            .unwrap();
        r.record_latency("us-west", Duration::from_millis(30), t)
            .unwrap();
        assert_eq!(
            r.ranking(RegionStrategy::LowestLatency),
            vec!["us-west", "eu-west", "us-east"]
        );
        // us-west slows down; after a few half-lives its average passes eu-west's.
        for s in 1..=6 {
            r.record_latency(
                "us-west",
                Duration::from_millis(300),
                t + Duration::from_secs(30 * s),
            )
            .unwrap();
        }
        let choice = r.route(RegionStrategy::LowestLatency).unwrap();
        assert_eq!(choice.region, "eu-west");
        assert_eq!(choice.latency, Some(Duration::from_millis(80)));
        assert!(r.latency("us-west").unwrap() > Duration::from_millis(250));
        assert_eq!(r.latency("us-east"), None);
    }
}
