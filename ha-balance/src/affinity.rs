//! Session affinity: each session stays on one endpoint while the session lives and the
//! endpoint stays available.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use ha_core::NodeId;
use rand::Rng;

use crate::{Balancer, Picker, Result};

/// The longest ttl accepted: 100 years.
const MAX_TTL: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// The settings of [`SessionAffinity`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AffinityConfig {
    /// How long a session keeps its endpoint after its last request (an idle timeout: every
    /// request renews it). Default 30 min, the servlet default session timeout; above zero and
    /// at most 100 years.
    pub ttl: Duration,
    /// The most sessions remembered; when full, a new session evicts the one idle longest.
    /// Each takes about 100 bytes plus its id. Default 100 000; at least 1.
    pub max_sessions: usize,
}

impl Default for AffinityConfig {
    fn default() -> Self {
        AffinityConfig {
            ttl: Duration::from_secs(30 * 60),
            max_sessions: 100_000,
        }
    }
}

impl AffinityConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`ha_core::Error::Zero`] (as [`Error::Core`](crate::Error::Core)) for a zero ttl or a
    /// zero session cap, [`ha_core::Error::TooLarge`] for a ttl above 100 years.
    pub fn validate(&self) -> Result<()> {
        if self.ttl.is_zero() {
            return Err(ha_core::Error::Zero {
                name: "affinity ttl",
            }
            .into());
        }
        if self.ttl > MAX_TTL {
            return Err(ha_core::Error::TooLarge {
                name: "affinity ttl in seconds",
                value: self.ttl.as_secs(),
                max: MAX_TTL.as_secs(),
            }
            .into());
        }
        if self.max_sessions == 0 {
            return Err(ha_core::Error::Zero {
                name: "affinity max sessions",
            }
            .into());
        }
        Ok(())
    }
}

/// Why a session was moved to another endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum RepickReason {
    /// Its endpoint is unhealthy or has weight 0.
    Unavailable,
    /// Its endpoint is draining.
    Draining,
    /// Its endpoint is no longer in the set.
    Gone,
}

/// How a session's endpoint was found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum Stickiness {
    /// The session's remembered endpoint, still available.
    Kept,
    /// A session not seen before (or expired, or evicted): freshly picked.
    New,
    /// The remembered endpoint could no longer take it: freshly picked and remembered instead.
    Repicked {
        /// The endpoint the session was on.
        previous: NodeId,
        /// Why it moved.
        reason: RepickReason,
    },
}

/// The endpoint for a session's request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AffinityPick {
    /// The endpoint.
    pub endpoint: NodeId,
    /// Whether it is the session's remembered endpoint.
    pub stickiness: Stickiness,
}

#[derive(Debug, Clone)]
struct Entry {
    endpoint: NodeId,
    /// The key of this session in `by_expiry`.
    expiry: (Instant, u64),
}

/// Session id → endpoint, with expiry and bounded memory.
///
/// A session's first request is picked by the balancer's picker (with the session id as the
/// key, so hash pickers place sessions consistently) and remembered; later requests go to the
/// same endpoint while it is available. When that endpoint is unhealthy, draining or gone, the
/// request is picked afresh and the session moves, and the answer says why. A session unused for
/// the ttl is forgotten. At most `max_sessions` are kept: a new session evicts the one idle
/// longest (least recently used). `O(log n)` a request.
///
/// ```
/// use std::time::{Duration, Instant};
/// use ha_balance::{Balancer, Endpoint, EndpointSet, RoundRobin, SessionAffinity, Stickiness};
/// use ha_core::NodeId;
/// use rand::{SeedableRng, rngs::StdRng};
///
/// let ids = ["a", "b"].map(NodeId::new).into_iter().collect::<Result<Vec<_>, _>>()?;
/// let set = EndpointSet::new(ids.into_iter().map(Endpoint::new).collect(), Default::default())?;
/// let mut lb = Balancer::new(set, RoundRobin::default());
/// let mut sessions = SessionAffinity::new(Default::default())?;
/// let (now, mut rng) = (Instant::now(), StdRng::seed_from_u64(1));
///
/// let first = sessions.pick(&mut lb, "s-1", now, &mut rng)?;
/// assert_eq!(first.stickiness, Stickiness::New);
/// let again = sessions.pick(&mut lb, "s-1", now, &mut rng)?;
/// assert_eq!((again.endpoint.clone(), again.stickiness), (first.endpoint.clone(), Stickiness::Kept));
///
/// lb.endpoints_mut().drain(first.endpoint.as_str(), now)?;
/// let moved = sessions.pick(&mut lb, "s-1", now, &mut rng)?;
/// assert_ne!(moved.endpoint, first.endpoint);
/// assert!(matches!(moved.stickiness, Stickiness::Repicked { .. }));
///
/// // After 30 idle minutes the session is forgotten.
/// let later = sessions.pick(&mut lb, "s-1", now + Duration::from_secs(1800), &mut rng)?;
/// assert_eq!(later.stickiness, Stickiness::New);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct SessionAffinity {
    config: AffinityConfig,
    sessions: HashMap<Box<str>, Entry>,
    /// Sessions by expiry (instant, then insertion sequence), earliest first.
    by_expiry: BTreeMap<(Instant, u64), Box<str>>,
    sequence: u64,
}

impl SessionAffinity {
    /// An empty session table.
    ///
    /// # Errors
    /// An invalid config; see [`AffinityConfig::validate`].
    pub fn new(config: AffinityConfig) -> Result<SessionAffinity> {
        config.validate()?;
        Ok(SessionAffinity {
            config,
            sessions: HashMap::new(),
            by_expiry: BTreeMap::new(),
            sequence: 0,
        })
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &AffinityConfig {
        &self.config
    }

    /// Sessions remembered (expired ones included until the next call that purges).
    #[must_use]
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether no session is remembered.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// The endpoint remembered for `session`, if it has not expired at `now`.
    #[must_use]
    pub fn endpoint_of(&self, session: &str, now: Instant) -> Option<&NodeId> {
        self.sessions
            .get(session)
            .filter(|e| now < e.expiry.0)
            .map(|e| &e.endpoint)
    }

    /// The endpoint for a request of `session` at `now`: its remembered endpoint if that is
    /// still available, otherwise a fresh pick from `balancer`, remembered from now on. Every
    /// call renews the session's ttl.
    ///
    /// # Errors
    /// The balancer's pick errors ([`Error::NoEndpointAvailable`](crate::Error::NoEndpointAvailable) when nothing can take it);
    /// the session is then forgotten.
    pub fn pick<P: Picker, R: Rng + ?Sized>(
        &mut self,
        balancer: &mut Balancer<P>,
        session: &str,
        now: Instant,
        rng: &mut R,
    ) -> Result<AffinityPick> {
        self.purge_expired(now);
        let endpoints = balancer.endpoints();
        let stickiness = match self.sessions.get(session) {
            None => Stickiness::New,
            Some(entry) => {
                let id = entry.endpoint.as_str();
                let reason = if !endpoints.contains(id) {
                    RepickReason::Gone
                } else if endpoints.is_draining(id) {
                    RepickReason::Draining
                } else if !endpoints.is_available(id) {
                    RepickReason::Unavailable
                } else {
                    let endpoint = entry.endpoint.clone();
                    self.remember(session, endpoint.clone(), now);
                    tracing::debug!(session, endpoint = %endpoint, "session kept its endpoint");
                    return Ok(AffinityPick {
                        endpoint,
                        stickiness: Stickiness::Kept,
                    });
                };
                Stickiness::Repicked {
                    previous: entry.endpoint.clone(),
                    reason,
                }
            }
        };
        let endpoint = match balancer.pick_key(session.as_bytes(), now, rng) {
            Ok(endpoint) => endpoint,
            Err(e) => {
                self.forget(session);
                return Err(e);
            }
        };
        tracing::debug!(session, endpoint = %endpoint, stickiness = ?stickiness, sessions = self.sessions.len(), "session placed");
        self.remember(session, endpoint.clone(), now);
        Ok(AffinityPick {
            endpoint,
            stickiness,
        })
    }

    /// Forgets `session`; returns whether it was remembered.
    pub fn forget(&mut self, session: &str) -> bool {
        match self.sessions.remove(session) {
            Some(entry) => {
                self.by_expiry.remove(&entry.expiry);
                true
            }
            None => false,
        }
    }

    /// Forgets every session expired at `now`; returns how many. [`pick`](Self::pick) does
    /// this itself; call it to free memory between picks.
    pub fn purge_expired(&mut self, now: Instant) -> usize {
        let mut purged = 0;
        while let Some(entry) = self.by_expiry.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let session = entry.remove();
            self.sessions.remove(&session);
            purged += 1;
        }
        purged
    }

    /// When the next session expires, if any.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.by_expiry.keys().next().map(|k| k.0)
    }

    /// Recounts the two indexes against each other and the cap. For tests and fuzzing.
    ///
    /// # Panics
    /// If an invariant is broken.
    pub fn check_invariants(&self) {
        assert_eq!(self.sessions.len(), self.by_expiry.len());
        assert!(self.sessions.len() <= self.config.max_sessions);
        for (key, session) in &self.by_expiry {
            assert_eq!(self.sessions.get(session).map(|e| e.expiry), Some(*key));
        }
    }

    fn remember(&mut self, session: &str, endpoint: NodeId, now: Instant) {
        // The ttl is at most 100 years, which every platform's `Instant` can add; were it not,
        // the session would expire at once rather than never.
        let expires = crate::deadline::deadline(now, self.config.ttl);
        self.sequence = self.sequence.wrapping_add(1);
        let expiry = (expires, self.sequence);
        if let Some(entry) = self.sessions.get_mut(session) {
            self.by_expiry.remove(&entry.expiry);
            entry.endpoint = endpoint;
            entry.expiry = expiry;
            if let Some((key, _)) = self.sessions.get_key_value(session) {
                self.by_expiry.insert(expiry, key.clone());
            }
            return;
        }
        if self.sessions.len() >= self.config.max_sessions {
            if let Some((_, evicted)) = self.by_expiry.pop_first() {
                tracing::debug!(session = %evicted, cap = self.config.max_sessions, "session evicted: table full");
                self.sessions.remove(&evicted);
            }
        }
        let key: Box<str> = session.into();
        self.by_expiry.insert(expiry, key.clone());
        self.sessions.insert(key, Entry { endpoint, expiry });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::weighted_set;
    use crate::{ConsistentHash, RoundRobin};
    use ha_core::Health;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn bad_configs_are_rejected() {
        let zero_ttl = AffinityConfig {
            ttl: Duration::ZERO,
            ..AffinityConfig::default()
        };
        assert!(SessionAffinity::new(zero_ttl).is_err());
        let no_room = AffinityConfig {
            max_sessions: 0,
            ..AffinityConfig::default()
        };
        assert!(SessionAffinity::new(no_room).is_err());
        let forever = AffinityConfig {
            ttl: Duration::MAX,
            ..AffinityConfig::default()
        };
        assert!(SessionAffinity::new(forever).is_err());
    }

    #[test]
    fn sessions_move_when_their_endpoint_fails_or_goes_and_say_why() {
        let mut lb = Balancer::new(weighted_set(&[1, 1, 1]), RoundRobin::default());
        let mut sessions = SessionAffinity::new(AffinityConfig::default()).unwrap();
        let mut rng = StdRng::seed_from_u64(1);
        let now = Instant::now();
        let first = sessions.pick(&mut lb, "s", now, &mut rng).unwrap();
        let id = first.endpoint.to_string();
        lb.endpoints_mut()
            .set_health(&id, Health::Unhealthy, now)
            .unwrap();
        let moved = sessions.pick(&mut lb, "s", now, &mut rng).unwrap();
        assert_eq!(
            moved.stickiness,
            Stickiness::Repicked {
                previous: first.endpoint.clone(),
                reason: RepickReason::Unavailable
            }
        );
        // Recovery does not move it back: it stays where it was moved.
        lb.endpoints_mut()
            .set_health(&id, Health::Healthy, now)
            .unwrap();
        let stays = sessions.pick(&mut lb, "s", now, &mut rng).unwrap();
        assert_eq!(stays.endpoint, moved.endpoint);
        assert_eq!(stays.stickiness, Stickiness::Kept);
        lb.endpoints_mut().remove(moved.endpoint.as_str()).unwrap();
        let gone = sessions.pick(&mut lb, "s", now, &mut rng).unwrap();
        assert!(matches!(
            gone.stickiness,
            Stickiness::Repicked {
                reason: RepickReason::Gone,
                ..
            }
        ));
        sessions.check_invariants();
    }

    #[test]
    fn a_full_table_evicts_the_session_idle_longest_and_expiry_frees_memory() {
        let mut lb = Balancer::new(weighted_set(&[1, 1]), RoundRobin::default());
        let config = AffinityConfig {
            ttl: Duration::from_secs(60),
            max_sessions: 2,
        };
        let mut sessions = SessionAffinity::new(config).unwrap();
        let mut rng = StdRng::seed_from_u64(1);
        let t = Instant::now();
        sessions.pick(&mut lb, "a", t, &mut rng).unwrap();
        sessions
            .pick(&mut lb, "b", t + Duration::from_secs(1), &mut rng)
            .unwrap();
        // "a" is used again, so "b" is now idle longest.
        sessions
            .pick(&mut lb, "a", t + Duration::from_secs(2), &mut rng)
            .unwrap();
        sessions
            .pick(&mut lb, "c", t + Duration::from_secs(3), &mut rng)
            .unwrap();
        assert_eq!(sessions.len(), 2);
        let at = t + Duration::from_secs(3);
        assert!(sessions.endpoint_of("b", at).is_none());
        assert!(sessions.endpoint_of("a", at).is_some());
        assert_eq!(sessions.poll_timeout(), Some(t + Duration::from_secs(62)));
        assert_eq!(sessions.purge_expired(t + Duration::from_secs(62)), 1);
        assert_eq!(sessions.purge_expired(t + Duration::from_secs(63)), 1);
        assert!(sessions.is_empty());
        assert!(!sessions.forget("a"));
        sessions.check_invariants();
    }

    #[test]
    fn with_a_hash_picker_new_sessions_are_placed_by_their_id() {
        let mut lb = Balancer::new(
            weighted_set(&[1, 1, 1, 1]),
            ConsistentHash::new(Default::default()).unwrap(),
        );
        let mut rng = StdRng::seed_from_u64(1);
        let now = Instant::now();
        let expected = lb.pick_key(b"user-7", now, &mut rng).unwrap();
        let mut sessions = SessionAffinity::new(AffinityConfig::default()).unwrap();
        let pick = sessions.pick(&mut lb, "user-7", now, &mut rng).unwrap();
        assert_eq!(pick.endpoint, expected);
        // No endpoint at all: an error, and the session is not kept.
        for id in ["e0", "e1", "e2", "e3"] {
            lb.endpoints_mut().drain(id, now).unwrap();
        }
        assert!(sessions.pick(&mut lb, "user-7", now, &mut rng).is_err());
        assert!(sessions.is_empty());
    }
}
