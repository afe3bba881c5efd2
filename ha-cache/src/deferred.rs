//! Listener calls held back until a [`Primary`](crate::Primary) or [`Edge`](crate::Edge) has
//! released its own lock.
//!
//! A primary writes its cache and its log under one lock (so the log replays to exactly the
//! cache's contents), and an edge applies changes under its version lock. The cache calls its
//! eviction listener after releasing its shard locks, but those outer locks would still be held:
//! a listener that called back into the primary or edge (to read its version, or write) would
//! deadlock. So while a [`Deferral`] is alive on a thread, the caches' listener calls on that
//! thread are queued, and the deferral runs them when it is dropped — declared before the lock
//! guard, it drops after it. Deferrals nest: only the outermost one runs the queue.

use std::cell::RefCell;
use std::marker::PhantomData;

use crate::listener::{Listener, Removed, notify};

/// Queued listener calls.
type Queue = Vec<Box<dyn FnOnce()>>;

thread_local! {
    /// The listener calls queued on this thread while a deferral is alive.
    static QUEUE: RefCell<Option<Queue>> = const { RefCell::new(None) };
}

/// Holds back listener calls on this thread until it is dropped. Not `Send`: it must drop on
/// the thread whose queue it started.
#[derive(Debug)]
pub(crate) struct Deferral {
    /// Whether this deferral started the queue (and so runs it).
    outermost: bool,
    _this_thread: PhantomData<*const ()>,
}

impl Deferral {
    /// Starts holding back listener calls on this thread.
    #[must_use]
    pub(crate) fn start() -> Deferral {
        let outermost = QUEUE.with(|queue| {
            let mut queue = queue.borrow_mut();
            let outermost = queue.is_none();
            if outermost {
                *queue = Some(Vec::new());
            }
            outermost
        });
        Deferral {
            outermost,
            _this_thread: PhantomData,
        }
    }
}

impl Drop for Deferral {
    fn drop(&mut self) {
        if !self.outermost {
            return;
        }
        // Taken out first: a listener that writes again starts a deferral of its own.
        let calls = QUEUE
            .with(|queue| queue.borrow_mut().take())
            .unwrap_or_default();
        for call in calls {
            call();
        }
    }
}

/// Calls `listener` for `removed` now, or queues the call while a deferral is alive.
pub(crate) fn notify_or_defer<K: 'static, V: 'static>(
    listener: Option<&Listener<K, V>>,
    removed: Removed<K, V>,
) {
    let Some(listener) = listener else {
        return;
    };
    let removed = QUEUE.with(|queue| match queue.borrow_mut().as_mut() {
        Some(queue) => {
            let listener = listener.clone();
            queue.push(Box::new(move || notify(Some(&listener), removed)));
            None
        }
        None => Some(removed),
    });
    if let Some(removed) = removed {
        notify(Some(listener), removed);
    }
}
