//! The pods an autoscaler sees: phase, readiness, start time and requests — what Kubernetes'
//! replica calculator reads from each pod to decide whose samples count.

use std::collections::BTreeMap;
use std::time::Instant;

use crate::Resource;

/// A pod's lifecycle phase (`PodPhase`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum PodPhase {
    /// Accepted but not running yet (being scheduled, pulling images). Counted as unready.
    Pending,
    /// Bound to a node, its containers started.
    Running,
    /// All containers exited successfully.
    Succeeded,
    /// All containers exited, at least one in failure. Ignored entirely.
    Failed,
    /// The state could not be obtained.
    Unknown,
}

/// The pod's `Ready` condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadyCondition {
    /// Whether the pod is ready (condition status `True`).
    pub ready: bool,
    /// When the condition last changed.
    pub last_transition: Instant,
}

/// One pod of the scaled workload.
///
/// ```
/// use std::time::{Duration, Instant};
/// use ha_scale::{Pod, PodPhase, Resource};
///
/// let started = Instant::now();
/// let pod = Pod::running("web-0", started).with_request(Resource::Cpu, 0.5);
/// assert_eq!(pod.phase, PodPhase::Running);
/// assert!(pod.is_ready());
/// let starting = Pod::running("web-1", started).unready_since(started + Duration::from_secs(5));
/// assert!(!starting.is_ready());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Pod {
    /// The pod's name, matched against [`PodSample::pod`](crate::PodSample::pod).
    pub name: String,
    /// Its phase.
    pub phase: PodPhase,
    /// Whether it is being deleted (has a deletion timestamp). Ignored entirely.
    pub deleting: bool,
    /// When it started, if it has.
    pub start_time: Option<Instant>,
    /// Its `Ready` condition, if reported.
    pub ready: Option<ReadyCondition>,
    /// Its requests per resource, summed over its containers.
    pub requests: BTreeMap<Resource, f64>,
}

impl Pod {
    /// A running pod, started at `started` and ready since then.
    #[must_use]
    pub fn running(name: impl Into<String>, started: Instant) -> Pod {
        Pod {
            name: name.into(),
            phase: PodPhase::Running,
            deleting: false,
            start_time: Some(started),
            ready: Some(ReadyCondition {
                ready: true,
                last_transition: started,
            }),
            requests: BTreeMap::new(),
        }
    }

    /// A pending pod: not started, not ready.
    #[must_use]
    pub fn pending(name: impl Into<String>) -> Pod {
        Pod {
            name: name.into(),
            phase: PodPhase::Pending,
            deleting: false,
            start_time: None,
            ready: None,
            requests: BTreeMap::new(),
        }
    }

    /// The pod with its request of `resource` set to `value`.
    #[must_use]
    pub fn with_request(mut self, resource: Resource, value: f64) -> Pod {
        self.requests.insert(resource, value);
        self
    }

    /// The pod with its `Ready` condition false since `since`.
    #[must_use]
    pub fn unready_since(mut self, since: Instant) -> Pod {
        self.ready = Some(ReadyCondition {
            ready: false,
            last_transition: since,
        });
        self
    }

    /// The pod in `phase`.
    #[must_use]
    pub fn in_phase(mut self, phase: PodPhase) -> Pod {
        self.phase = phase;
        self
    }

    /// The pod marked for deletion.
    #[must_use]
    pub fn being_deleted(mut self) -> Pod {
        self.deleting = true;
        self
    }

    /// Whether the pod is running and its `Ready` condition true — the pods Kubernetes counts
    /// as ready for object and external metrics (`getReadyPodsCount`).
    #[must_use]
    pub fn is_ready(&self) -> bool {
        self.phase == PodPhase::Running && self.ready.is_some_and(|c| c.ready)
    }
}
