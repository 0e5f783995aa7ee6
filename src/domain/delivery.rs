//! Where a session's events go: into its queue, or, once its reader has caught up and handed
//! over, straight to the transport's outlet (one hop fewer for every event).
//!
//! A session's events always go one way at a time, switched under the chat's lock, so none
//! is lost or reordered at the switch: the reader hands over only when its queue is empty
//! ([`super::ClaimedReader::hand_over`]), and an outlet that has closed (the subscriber went)
//! sends the session back to its queue, for whoever reads next.

use std::sync::{Arc, Mutex};

use tokio::sync::mpsc::{self, error::TrySendError};

use super::Stamped;

/// Why an outlet did not take an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// It has no room: the session is too slow.
    #[error("no room for the event")]
    Full,
    /// It is gone: the event goes to the queue instead.
    #[error("the outlet is closed")]
    Closed,
}

/// Something that takes a session's events without waiting, such as a subscription's sink;
/// given by whoever serves the events.
pub trait Outlet: Send + Sync {
    fn offer(&self, event: &Arc<Stamped>) -> Result<(), Refused>;
}

/// A session's way in: its queue, and the outlet its reader handed over to, if any.
pub(super) struct Delivery {
    queue: mpsc::Sender<Arc<Stamped>>,
    direct: Mutex<Option<Arc<dyn Outlet>>>,
}

impl Delivery {
    pub(super) fn new(queue: mpsc::Sender<Arc<Stamped>>) -> Arc<Self> {
        Arc::new(Self {
            queue,
            direct: Mutex::new(None),
        })
    }

    /// Gives the session an event without waiting; false when it has no room for it (it is
    /// too slow).
    pub(super) fn push(&self, event: &Arc<Stamped>) -> bool {
        let mut direct = self.direct();
        if let Some(outlet) = direct.as_ref() {
            match outlet.offer(event) {
                Ok(()) => return true,
                Err(Refused::Full) => return false,
                // The subscriber went: the queue holds it for the next reader.
                Err(Refused::Closed) => *direct = None,
            }
        }
        match self.queue.try_send(event.clone()) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => false,
            // The session owns the receiver, and its deliveries go with it.
            Err(TrySendError::Closed(_)) => unreachable!("a session's inbox outlives it"),
        }
    }

    /// From now on, events go to `outlet` (or, with `None`, to the queue again).
    pub(super) fn set_outlet(&self, outlet: Option<Arc<dyn Outlet>>) {
        *self.direct() = outlet;
    }

    fn direct(&self) -> std::sync::MutexGuard<'_, Option<Arc<dyn Outlet>>> {
        self.direct.lock().unwrap_or_else(|p| p.into_inner())
    }
}
