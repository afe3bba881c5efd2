//! Replica lag in time and in records, as PostgreSQL's walsender measures `write_lag`,
//! `flush_lag` and `replay_lag`; see [`LagTracker`].

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use ha_core::NodeId;

use crate::error::time_regressed;
use crate::{
    CatchUpConfig, CatchUpPlan, Error, LagLimits, LagStage, LagStatus, LagWindow, LagWindowConfig,
    PerStage, Position, Result, RetainedLog,
};

/// The fewest samples the ring may hold.
const MIN_SAMPLES: u32 = 4;
/// The most samples the ring may hold (16 MiB of samples).
const MAX_SAMPLES: u32 = 1 << 20;

/// The settings of a [`LagTracker`].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct LagConfig {
    /// What counts as lagging or disconnected. Default: [`LagLimits::default`] (replay lag p99
    /// within 100 ms, disconnected after 10 s of silence).
    pub limits: LagLimits,
    /// The window the lag quantiles cover. Default: [`LagWindowConfig::default`] (60 s in 6
    /// slices).
    pub window: LagWindowConfig,
    /// How many primary position samples are kept, 16 bytes each, in `[4, 1 048 576]`. Default
    /// 4096 (PostgreSQL keeps 8192 per standby).
    pub max_samples: SampleCount,
}

/// How many position samples a [`LagTracker`] keeps; see [`LagConfig::max_samples`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct SampleCount(pub u32);

impl Default for SampleCount {
    fn default() -> Self {
        SampleCount(4096)
    }
}

impl LagConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// As [`LagLimits::validate`] and [`LagWindowConfig::validate`];
    /// [`ha_core::Error::OutOfRange`] for a sample count outside `[4, 1 048 576]`.
    pub fn validate(&self) -> Result<()> {
        self.limits.validate()?;
        self.window.validate()?;
        let n = self.max_samples.0;
        if !(MIN_SAMPLES..=MAX_SAMPLES).contains(&n) {
            return Err(ha_core::Error::OutOfRange {
                name: "max samples",
                value: f64::from(n),
                range: "[4, 1048576]",
            }
            .into());
        }
        Ok(())
    }
}

/// One replica's lag, as [`LagTracker::replica`] reports it.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ReplicaLag {
    /// The replica.
    pub replica: NodeId,
    /// In sync, lagging or disconnected, against the configured [`LagLimits`].
    pub status: LagStatus,
    /// The positions it last reported, if it ever did.
    pub positions: Option<PerStage<Position>>,
    /// How far each stage is behind the primary's latest position, in position units (records,
    /// when positions count records). A replica never heard from counts from position 0.
    pub records_behind: PerStage<u64>,
    /// The lag measured at its latest report, per stage (`None` if that report passed no
    /// sample and none was pending: caught up and idle).
    pub last_lag: PerStage<Option<Duration>>,
    /// The median lag over the window, per stage.
    pub p50: PerStage<Option<Duration>>,
    /// The 99th percentile lag over the window, per stage.
    pub p99: PerStage<Option<Duration>>,
    /// The lag the status was judged on: the configured stage at the configured quantile.
    pub judged_lag: Option<Duration>,
    /// How long since its latest report; `None` if it never reported.
    pub silent_for: Option<Duration>,
}

/// A position the primary wrote, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sample {
    position: Position,
    at: Instant,
}

#[derive(Debug, Clone)]
struct Replica {
    positions: Option<PerStage<Position>>,
    last_report: Option<Instant>,
    last_lag: PerStage<Option<Duration>>,
    windows: PerStage<LagWindow>,
}

/// Lag of every replica behind one primary, in time and in records, with p50 / p99 over a
/// window and an in-sync / lagging / disconnected status.
///
/// **How PostgreSQL does it.** The walsender keeps a ring of samples, each a WAL position and
/// the time the primary flushed it (`LagTrackerWrite`). When a standby reports how far it has
/// written, flushed and replayed, each of the three positions is looked up in the ring
/// (`LagTrackerRead`, one read head per stage): the lag is the time between the primary writing
/// the newest sample the standby has now passed and the primary hearing that it passed it. Each
/// sample is used once per stage, so an idle, caught-up standby stops producing lag values
/// instead of showing a lag that grows with idleness.
///
/// **What we do the same.** [`LagTracker::on_primary_write`] records samples, one per distinct
/// position; [`LagTracker::on_replica_report`] measures, for each stage that advanced since the
/// previous report, `now` minus the time of the newest sample at or below its new position. This
/// includes the time for the report to come back, as PostgreSQL's does. A stage that did not
/// advance and is caught up measures nothing, so an idle replica does not show a lag growing
/// with idleness.
///
/// **Where we differ.**
/// - One ring serves every replica: samples are found by binary search (positions only grow), so
///   there are no read heads, and a sample is dropped once every replica has replayed past a
///   newer one.
/// - When the ring is full (a replica stalled or disconnected pins it) every other sample is
///   dropped, halving the resolution of old samples instead of losing the oldest ones.
///   PostgreSQL overwrites its newest sample instead. Both only ever *over*-estimate lag: a
///   replica passing a dropped sample is measured against an older one.
/// - A stage that did not advance while the primary has written past it — and a replica's first
///   report, whose earlier position is unknown — is measured against the oldest sample it has not
///   reached (`now` minus its time, a lower bound of that sample's eventual lag), so a connected
///   replica that stops applying shows a growing lag. PostgreSQL interpolates between samples for
///   the same purpose.
/// - Lag values go into a [`LagWindow`] per stage, so p50 / p99 over the last minute are at hand,
///   and a replica's [`LagStatus`] is judged on the configured quantile ([`LagLimits`]).
///
/// **Bad input.** Times must not go back (across primary writes and replica reports together);
/// the primary's position must not go back (a repeated position is ignored, as PostgreSQL
/// ignores it); a replica's positions must satisfy write ≥ flush ≥ replay, must not go back
/// (call [`LagTracker::reset_replica`] after re-cloning one) and must not pass the primary's.
/// Each is refused with a typed [`Error`] and nothing changes.
///
/// Feed it the primary's write positions ([`on_primary_write`](Self::on_primary_write)) and
/// each replica's reports ([`on_replica_report`](Self::on_replica_report)); ask it for
/// [`replica`](Self::replica) reports, the [`lagging`](Self::lagging) replicas and
/// [`catch_up`](Self::catch_up) plans.
///
/// ```
/// use std::time::{Duration, Instant};
/// use ha_core::NodeId;
/// use ha_replication::{LagConfig, LagStatus, LagTracker, PerStage, Position};
///
/// let mut lag = LagTracker::new(LagConfig::default())?;
/// let (fast, slow) = (NodeId::new("fast")?, NodeId::new("slow")?);
/// lag.add_replica(fast.clone())?;
/// lag.add_replica(slow.clone())?;
/// let mut now = Instant::now();
/// for i in 1..=100u64 {
///     lag.on_primary_write(Position(i * 10), now)?;
///     now += Duration::from_millis(5);
///     // `fast` applies each write within 5 ms; `slow` is 30 writes (150 ms) behind.
///     lag.on_replica_report(&fast, PerStage::uniform(Position(i * 10)), now)?;
///     lag.on_replica_report(&slow, PerStage::uniform(Position(i.saturating_sub(30) * 10)), now)?;
/// }
/// assert_eq!(lag.replica(&fast, now)?.status, LagStatus::InSync);
/// let report = lag.replica(&slow, now)?;
/// assert_eq!(report.status, LagStatus::Lagging);
/// assert_eq!(report.records_behind.replay, 300);
/// assert_eq!(lag.lagging(now), vec![(slow, LagStatus::Lagging)]);
/// # Ok::<(), ha_replication::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct LagTracker {
    config: LagConfig,
    samples: VecDeque<Sample>,
    primary: Option<Position>,
    latest: Option<Instant>,
    replicas: BTreeMap<NodeId, Replica>,
    empty_windows: PerStage<LagWindow>,
}

impl LagTracker {
    /// A tracker with no replicas and no primary position yet.
    ///
    /// # Errors
    /// As [`LagConfig::validate`].
    pub fn new(config: LagConfig) -> Result<LagTracker> {
        config.validate()?;
        let window = LagWindow::new(config.window)?;
        Ok(LagTracker {
            config,
            samples: VecDeque::with_capacity(config.max_samples.0 as usize),
            primary: None,
            latest: None,
            replicas: BTreeMap::new(),
            empty_windows: PerStage::uniform(window),
        })
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &LagConfig {
        &self.config
    }

    /// Starts tracking `replica`; it counts as disconnected until it reports.
    ///
    /// # Errors
    /// [`Error::DuplicateReplica`] if it is already tracked.
    pub fn add_replica(&mut self, replica: NodeId) -> Result<()> {
        if self.replicas.contains_key(&replica) {
            return Err(Error::DuplicateReplica(replica));
        }
        self.replicas.insert(
            replica,
            Replica {
                positions: None,
                last_report: None,
                last_lag: PerStage::default(),
                windows: self.empty_windows.clone(),
            },
        );
        Ok(())
    }

    /// Stops tracking `replica`.
    ///
    /// # Errors
    /// [`Error::UnknownReplica`] if it is not tracked.
    pub fn remove_replica(&mut self, replica: &NodeId) -> Result<()> {
        match self.replicas.remove(replica) {
            Some(_) => Ok(()),
            None => Err(Error::UnknownReplica(replica.clone())),
        }
    }

    /// Forgets what `replica` reported (positions, lag history), as after it was re-cloned from
    /// a snapshot: its next report may start anywhere.
    ///
    /// # Errors
    /// [`Error::UnknownReplica`] if it is not tracked.
    pub fn reset_replica(&mut self, replica: &NodeId) -> Result<()> {
        let windows = self.empty_windows.clone();
        let state = self.replica_mut(replica)?;
        state.positions = None;
        state.last_lag = PerStage::default();
        state.windows = windows;
        Ok(())
    }

    /// The tracked replicas, in id order.
    pub fn replicas(&self) -> impl Iterator<Item = &NodeId> {
        self.replicas.keys()
    }

    /// The primary's latest position, if it wrote any.
    #[must_use]
    pub fn primary_position(&self) -> Option<Position> {
        self.primary
    }

    /// What `replica` last reported, if it ever did.
    ///
    /// # Errors
    /// [`Error::UnknownReplica`] if it is not tracked.
    pub fn replica_positions(&self, replica: &NodeId) -> Result<Option<PerStage<Position>>> {
        Ok(self.replica_ref(replica)?.positions)
    }

    /// The primary wrote (flushed) up to `position` at `now`. A position equal to the latest is
    /// ignored (nothing new was written), as PostgreSQL's lag tracker ignores it.
    ///
    /// # Errors
    /// [`Error::TimeRegressed`] if `now` is before an event already fed,
    /// [`Error::PrimaryPositionRegressed`] if `position` is below the latest; nothing changes.
    pub fn on_primary_write(&mut self, position: Position, now: Instant) -> Result<()> {
        self.check_time("primary write", now)?;
        if let Some(previous) = self.primary {
            if position < previous {
                return Err(Error::PrimaryPositionRegressed {
                    previous,
                    given: position,
                });
            }
            if position == previous {
                self.latest = Some(now);
                return Ok(());
            }
        }
        if self.samples.len() >= self.config.max_samples.0 as usize {
            self.compact();
        }
        self.samples.push_back(Sample { position, at: now });
        self.primary = Some(position);
        self.latest = Some(now);
        Ok(())
    }

    /// `replica` reported at `now` that it has written, flushed and replayed up to `positions`.
    /// Returns the lag measured for each stage (`None` for a stage that is caught up with
    /// nothing new passed). Feed the primary's current position first: a position the primary
    /// has not reported is refused.
    ///
    /// # Errors
    /// [`Error::UnknownReplica`], [`Error::TimeRegressed`], [`Error::StagesOutOfOrder`],
    /// [`Error::ReplicaAhead`] or [`Error::ReplicaPositionRegressed`]; nothing changes.
    pub fn on_replica_report(
        &mut self,
        replica: &NodeId,
        positions: PerStage<Position>,
        now: Instant,
    ) -> Result<PerStage<Option<Duration>>> {
        self.check_time("replica report", now)?;
        let primary = self.primary.unwrap_or(Position::ZERO);
        let state = self
            .replicas
            .get(replica)
            .ok_or_else(|| Error::UnknownReplica(replica.clone()))?;
        if positions.write < positions.flush || positions.flush < positions.replay {
            return Err(Error::StagesOutOfOrder {
                replica: replica.clone(),
                write: positions.write,
                flush: positions.flush,
                replay: positions.replay,
            });
        }
        if positions.write > primary {
            return Err(Error::ReplicaAhead {
                replica: replica.clone(),
                reported: positions.write,
                primary,
            });
        }
        if let Some(previous) = state.positions {
            for stage in LagStage::ALL {
                let (before, given) = (*previous.get(stage), *positions.get(stage));
                if given < before {
                    return Err(Error::ReplicaPositionRegressed {
                        replica: replica.clone(),
                        stage,
                        previous: before,
                        given,
                    });
                }
            }
        }
        let previous = state.positions;
        let lags = positions.map(|stage, &position| {
            let before = previous.map(|p| *p.get(stage));
            self.measure(before, position, now)
        });
        let state = self.replica_mut(replica)?;
        for stage in LagStage::ALL {
            if let Some(lag) = *lags.get(stage) {
                state.windows.get_mut(stage).record(lag, now)?;
            }
        }
        state.positions = Some(positions);
        state.last_report = Some(now);
        state.last_lag = lags;
        self.latest = Some(now);
        tracing::debug!(
            %replica,
            write = positions.write.0,
            flush = positions.flush.0,
            replay = positions.replay.0,
            primary = primary.0,
            write_lag = ?lags.write,
            flush_lag = ?lags.flush,
            replay_lag = ?lags.replay,
            "replica report"
        );
        Ok(lags)
    }

    /// The earliest instant at which a replica now connected counts as disconnected if it stays
    /// silent: when to look at the statuses again. `None` when no replica has reported.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let after = self.config.limits.disconnect_after;
        self.replicas
            .values()
            .filter_map(|r| r.last_report)
            // Silence *over* the limit disconnects: one nanosecond past it.
            .filter_map(|t| t.checked_add(after.saturating_add(Duration::from_nanos(1))))
            .min()
    }

    /// `replica`'s lag, status and positions at `now`.
    ///
    /// # Errors
    /// [`Error::UnknownReplica`] if it is not tracked.
    pub fn replica(&self, replica: &NodeId, now: Instant) -> Result<ReplicaLag> {
        let state = self.replica_ref(replica)?;
        Ok(self.report(replica, state, now))
    }

    /// `replica`'s status at `now`.
    ///
    /// # Errors
    /// [`Error::UnknownReplica`] if it is not tracked.
    pub fn status(&self, replica: &NodeId, now: Instant) -> Result<LagStatus> {
        Ok(self.replica(replica, now)?.status)
    }

    /// Every replica's lag at `now`, in id order.
    #[must_use]
    pub fn report_all(&self, now: Instant) -> Vec<ReplicaLag> {
        self.replicas
            .iter()
            .map(|(id, state)| self.report(id, state, now))
            .collect()
    }

    /// The replicas that are not in sync at `now` — lagging or disconnected — in id order.
    #[must_use]
    pub fn lagging(&self, now: Instant) -> Vec<(NodeId, LagStatus)> {
        self.report_all(now)
            .into_iter()
            .filter(|r| r.status != LagStatus::InSync)
            .map(|r| {
                tracing::debug!(
                    replica = %r.replica,
                    status = %r.status,
                    judged_lag = ?r.judged_lag,
                    max_lag = ?self.config.limits.max_lag,
                    records_behind = *r.records_behind.get(self.config.limits.stage),
                    silent_for = ?r.silent_for,
                    "replica not in sync"
                );
                (r.replica, r.status)
            })
            .collect()
    }

    /// How `replica` can catch up with the primary's latest position, given what the primary's
    /// log still holds: stream the records after its flushed position, or take a snapshot when
    /// the log no longer reaches back that far. A replica never heard from counts as empty.
    ///
    /// # Errors
    /// [`Error::UnknownReplica`] if it is not tracked; as [`CatchUpConfig::validate`].
    pub fn catch_up(
        &self,
        replica: &NodeId,
        log: RetainedLog,
        config: &CatchUpConfig,
    ) -> Result<CatchUpPlan> {
        config.validate()?;
        let state = self.replica_ref(replica)?;
        let from = state.positions.map_or(Position::ZERO, |p| p.flush);
        let plan = config.plan(from, log);
        tracing::debug!(%replica, from = from.0, oldest = log.oldest().0, head = log.head().0, ?plan, "catch-up plan");
        Ok(plan)
    }

    /// Checks the tracker's internal invariants, panicking if one is broken; for tests.
    pub fn check_invariants(&self) {
        assert!(self.samples.len() <= self.config.max_samples.0 as usize);
        for pair in self.samples.iter().zip(self.samples.iter().skip(1)) {
            assert!(pair.0.position < pair.1.position, "sample positions grow");
            assert!(pair.0.at <= pair.1.at, "sample times never go back");
        }
        if let Some(last) = self.samples.back() {
            assert_eq!(Some(last.position), self.primary);
        }
        let primary = self.primary.unwrap_or(Position::ZERO);
        for state in self.replicas.values() {
            if let Some(p) = state.positions {
                assert!(p.write >= p.flush && p.flush >= p.replay);
                assert!(p.write <= primary);
            }
        }
    }

    /// The lag of a stage now at `position`, previously at `before`: against the newest sample
    /// at or below `position` if the stage advanced, else against the oldest sample it has not
    /// reached (a lower bound of that sample's lag); `None` when it is caught up and did not
    /// advance, or on a first report with nothing pending.
    fn measure(
        &self,
        before: Option<Position>,
        position: Position,
        now: Instant,
    ) -> Option<Duration> {
        let passed = self.samples.partition_point(|s| s.position <= position);
        let pending = || self.samples.get(passed);
        let sample = match before {
            Some(b) if position > b => passed
                .checked_sub(1)
                .and_then(|i| self.samples.get(i))
                .or_else(pending),
            _ => pending(),
        }?;
        Some(now.saturating_duration_since(sample.at))
    }

    /// Makes room in the ring: drops the samples every replica has replayed past, then, if that
    /// freed less than a quarter, every other sample (keeping the oldest and the newest).
    fn compact(&mut self) {
        let floor = self
            .replicas
            .values()
            .map(|r| r.positions.map_or(Position::ZERO, |p| p.replay))
            .min();
        // With no replicas, nothing needs the old samples beyond the newest.
        let floor = floor.unwrap_or_else(|| self.primary.unwrap_or(Position::ZERO));
        let before = self.samples.len();
        // The newest sample at or below the floor stays: a replica advancing from there is
        // measured against it.
        while self.samples.get(1).is_some_and(|s| s.position <= floor) {
            self.samples.pop_front();
        }
        let max = self.config.max_samples.0 as usize;
        if self.samples.len() > max - max / 4 {
            let last = self.samples.len() - 1;
            let mut index = 0;
            self.samples.retain(|_| {
                let keep = index % 2 == 0 || index == last;
                index += 1;
                keep
            });
        }
        tracing::debug!(
            before,
            after = self.samples.len(),
            floor = floor.0,
            "lag sample ring compacted"
        );
    }

    fn report(&self, replica: &NodeId, state: &Replica, now: Instant) -> ReplicaLag {
        let primary = self.primary.unwrap_or(Position::ZERO);
        let positions = state.positions.unwrap_or_default();
        let records_behind = positions.map(|_, p| primary.records_after(*p));
        let summaries = state.windows.map(|_, w| w.quantiles(now));
        let seconds = |s: f64| Duration::try_from_secs_f64(s).ok();
        let p50 = summaries.map(|_, q| q.and_then(|q| seconds(q.p50)));
        let p99 = summaries.map(|_, q| q.and_then(|q| seconds(q.p99)));
        let limits = &self.config.limits;
        let judged_lag = state
            .windows
            .get(limits.stage)
            .quantile(limits.quantile, now);
        let silent_for = state.last_report.map(|t| now.saturating_duration_since(t));
        let status = limits.classify(silent_for, judged_lag, *records_behind.get(limits.stage));
        ReplicaLag {
            replica: replica.clone(),
            status,
            positions: state.positions,
            records_behind,
            last_lag: state.last_lag,
            p50,
            p99,
            judged_lag,
            silent_for,
        }
    }

    fn check_time(&self, what: &'static str, now: Instant) -> Result<()> {
        match self.latest {
            Some(latest) if now < latest => Err(time_regressed(what, latest, now)),
            _ => Ok(()),
        }
    }

    fn replica_ref(&self, replica: &NodeId) -> Result<&Replica> {
        self.replicas
            .get(replica)
            .ok_or_else(|| Error::UnknownReplica(replica.clone()))
    }

    fn replica_mut(&mut self, replica: &NodeId) -> Result<&mut Replica> {
        self.replicas
            .get_mut(replica)
            .ok_or_else(|| Error::UnknownReplica(replica.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> NodeId {
        NodeId::new(s).unwrap()
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn tracker(replicas: &[&str]) -> LagTracker {
        let mut t = LagTracker::new(LagConfig::default()).unwrap();
        for r in replicas {
            t.add_replica(id(r)).unwrap();
        }
        t
    }

    #[test]
    fn a_silence_limit_past_what_an_instant_holds_sets_no_timer() {
        let mut config = LagConfig::default();
        config.limits.disconnect_after = Duration::MAX;
        let mut t = LagTracker::new(config).unwrap();
        t.add_replica(id("r")).unwrap();
        let t0 = Instant::now();
        t.on_primary_write(Position(10), t0).unwrap();
        t.on_replica_report(&id("r"), PerStage::uniform(Position(10)), t0)
            .unwrap();
        assert_eq!(t.poll_timeout(), None);
    }

    #[test]
    fn each_stage_is_measured_against_the_newest_sample_it_reached() {
        let mut t = tracker(&["r"]);
        let t0 = Instant::now();
        t.on_primary_write(Position(10), t0).unwrap();
        t.on_primary_write(Position(20), t0 + ms(10)).unwrap();
        t.on_primary_write(Position(30), t0 + ms(20)).unwrap();
        // First report: only what is pending counts (its earlier position is unknown).
        let lags = t
            .on_replica_report(&id("r"), PerStage::uniform(Position(10)), t0 + ms(25))
            .unwrap();
        assert_eq!(lags.replay, Some(ms(15))); // 20 written at 10 ms, not reached
        let report = PerStage::new(Position(30), Position(20), Position(10));
        let lags = t.on_replica_report(&id("r"), report, t0 + ms(30)).unwrap();
        assert_eq!(lags.write, Some(ms(10))); // reached 30, written at 20 ms
        assert_eq!(lags.flush, Some(ms(20))); // reached 20, written at 10 ms
        assert_eq!(lags.replay, Some(ms(20))); // stuck at 10: 20 pending since 10 ms
        let r = t.replica(&id("r"), t0 + ms(30)).unwrap();
        assert_eq!(r.records_behind, PerStage::new(0, 10, 20));
        assert_eq!(r.silent_for, Some(Duration::ZERO));
        assert_eq!(r.last_lag, lags);
        t.check_invariants();
    }

    #[test]
    fn an_idle_caught_up_replica_measures_nothing_and_a_stalled_one_grows() {
        let mut t = tracker(&["idle", "stalled"]);
        let t0 = Instant::now();
        t.on_primary_write(Position(5), t0).unwrap();
        for r in ["idle", "stalled"] {
            t.on_replica_report(&id(r), PerStage::uniform(Position(0)), t0 + ms(1))
                .unwrap();
        }
        t.on_replica_report(&id("idle"), PerStage::uniform(Position(5)), t0 + ms(2))
            .unwrap();
        for s in 1..=5 {
            let now = t0 + Duration::from_secs(s);
            let idle = t
                .on_replica_report(&id("idle"), PerStage::uniform(Position(5)), now)
                .unwrap();
            assert_eq!(idle, PerStage::default());
            let stalled = t
                .on_replica_report(&id("stalled"), PerStage::uniform(Position(0)), now)
                .unwrap();
            assert_eq!(stalled.replay, Some(Duration::from_secs(s)));
        }
        let now = t0 + Duration::from_secs(5);
        assert_eq!(t.status(&id("idle"), now).unwrap(), LagStatus::InSync);
        assert_eq!(t.status(&id("stalled"), now).unwrap(), LagStatus::Lagging);
        assert_eq!(t.lagging(now), vec![(id("stalled"), LagStatus::Lagging)]);
    }

    #[test]
    fn silence_disconnects_and_never_heard_is_disconnected() {
        let mut t = tracker(&["a", "b"]);
        let t0 = Instant::now();
        t.on_primary_write(Position(1), t0).unwrap();
        t.on_replica_report(&id("a"), PerStage::uniform(Position(1)), t0)
            .unwrap();
        let later = t0 + Duration::from_secs(11);
        assert_eq!(
            t.lagging(later),
            vec![
                (id("a"), LagStatus::Disconnected),
                (id("b"), LagStatus::Disconnected)
            ]
        );
        assert_eq!(
            t.status(&id("a"), t0 + Duration::from_secs(10)).unwrap(),
            LagStatus::InSync
        );
        assert_eq!(t.report_all(later).len(), 2);
        let deadline = t.poll_timeout().unwrap();
        assert_eq!(
            t.status(&id("a"), deadline).unwrap(),
            LagStatus::Disconnected
        );
        let just_before = deadline - Duration::from_nanos(1);
        assert_eq!(t.status(&id("a"), just_before).unwrap(), LagStatus::InSync);
    }

    #[test]
    fn bad_input_is_refused_and_changes_nothing() {
        let mut t = tracker(&["r"]);
        let t0 = Instant::now() + Duration::from_secs(1);
        assert_eq!(
            t.add_replica(id("r")),
            Err(Error::DuplicateReplica(id("r")))
        );
        t.on_primary_write(Position(100), t0).unwrap();
        // A repeated position is ignored.
        t.on_primary_write(Position(100), t0 + ms(1)).unwrap();
        assert_eq!(
            t.on_primary_write(Position(99), t0 + ms(2)),
            Err(Error::PrimaryPositionRegressed {
                previous: Position(100),
                given: Position(99)
            })
        );
        assert!(matches!(
            t.on_primary_write(Position(101), t0),
            Err(Error::TimeRegressed {
                what: "primary write",
                ..
            })
        ));
        let now = t0 + ms(5);
        assert_eq!(
            t.on_replica_report(&id("x"), PerStage::uniform(Position(1)), now),
            Err(Error::UnknownReplica(id("x")))
        );
        assert!(matches!(
            t.on_replica_report(
                &id("r"),
                PerStage::new(Position(5), Position(6), Position(1)),
                now
            ),
            Err(Error::StagesOutOfOrder { .. })
        ));
        assert_eq!(
            t.on_replica_report(&id("r"), PerStage::uniform(Position(101)), now),
            Err(Error::ReplicaAhead {
                replica: id("r"),
                reported: Position(101),
                primary: Position(100)
            })
        );
        t.on_replica_report(&id("r"), PerStage::uniform(Position(50)), now)
            .unwrap();
        assert_eq!(
            t.on_replica_report(
                &id("r"),
                PerStage::new(Position(50), Position(50), Position(40)),
                now
            ),
            Err(Error::ReplicaPositionRegressed {
                replica: id("r"),
                stage: LagStage::Replay,
                previous: Position(50),
                given: Position(40)
            })
        );
        assert_eq!(
            t.replica_positions(&id("r")).unwrap(),
            Some(PerStage::uniform(Position(50)))
        );
        // After a reset (re-cloned), a lower position is accepted.
        t.reset_replica(&id("r")).unwrap();
        assert_eq!(t.replica_positions(&id("r")).unwrap(), None);
        t.on_replica_report(&id("r"), PerStage::uniform(Position(10)), now)
            .unwrap();
        t.remove_replica(&id("r")).unwrap();
        assert_eq!(
            t.remove_replica(&id("r")),
            Err(Error::UnknownReplica(id("r")))
        );
        assert!(t.replica(&id("r"), now).is_err());
        assert!(t.reset_replica(&id("r")).is_err());
        t.check_invariants();
    }

    #[test]
    fn bad_settings_are_rejected() {
        for n in [0, 3, MAX_SAMPLES + 1] {
            let c = LagConfig {
                max_samples: SampleCount(n),
                ..LagConfig::default()
            };
            assert!(LagTracker::new(c).is_err(), "{n}");
        }
        let mut c = LagConfig::default();
        c.limits.quantile = 2.0;
        assert!(LagTracker::new(c).is_err());
        let mut c = LagConfig::default();
        c.window.slices = 0;
        assert!(LagTracker::new(c).is_err());
    }

    #[test]
    fn the_ring_stays_bounded_with_a_stalled_replica_pinning_it() {
        let mut t = LagTracker::new(LagConfig {
            max_samples: SampleCount(16),
            ..LagConfig::default()
        })
        .unwrap();
        t.add_replica(id("stalled")).unwrap();
        t.add_replica(id("live")).unwrap();
        let t0 = Instant::now();
        t.on_primary_write(Position(1), t0).unwrap();
        t.on_replica_report(&id("stalled"), PerStage::uniform(Position(1)), t0)
            .unwrap();
        for i in 2..1000u64 {
            let now = t0 + ms(i);
            t.on_primary_write(Position(i), now).unwrap();
            t.on_replica_report(&id("live"), PerStage::uniform(Position(i)), now)
                .unwrap();
            t.check_invariants();
        }
        // The stalled replica catches up at once: measured against a sample at or before 999,
        // never a later one, so at least its true lag for position 999 (1 ms).
        let now = t0 + ms(1000);
        let lags = t
            .on_replica_report(&id("stalled"), PerStage::uniform(Position(999)), now)
            .unwrap();
        assert!(lags.replay.unwrap() >= ms(1));
    }

    #[test]
    fn catch_up_streams_from_the_flush_position_or_snapshots() {
        let mut t = tracker(&["r", "new"]);
        let t0 = Instant::now();
        t.on_primary_write(Position(500), t0).unwrap();
        t.on_replica_report(
            &id("r"),
            PerStage::new(Position(400), Position(300), Position(200)),
            t0,
        )
        .unwrap();
        let log = RetainedLog::new(Position(250), Position(500)).unwrap();
        let config = CatchUpConfig::default();
        assert!(matches!(
            t.catch_up(&id("r"), log, &config).unwrap(),
            CatchUpPlan::Stream {
                from: Position(301),
                records: 200,
                ..
            }
        ));
        assert!(matches!(
            t.catch_up(&id("new"), log, &config).unwrap(),
            CatchUpPlan::Snapshot {
                replica_at: Position(0),
                ..
            }
        ));
        let bad = CatchUpConfig {
            stream_records_per_second: 0.0,
            ..config
        };
        assert!(t.catch_up(&id("r"), log, &bad).is_err());
        assert!(t.catch_up(&id("x"), log, &config).is_err());
    }
}
