//! Events accepted but not yet stored: what they cost, who waits for them, and how the room
//! takes them back when the store drops them.
//!
//! Nothing is delivered or acknowledged before it is stored, so until then an event can
//! still be taken back as if it had never been accepted. The store drops events only all
//! together, every one not stored (see `store`), so taking back means: answer every waiter
//! "storage unavailable", undo what the events did to the room (a join lets its member go
//! unannounced, a rename is reversed) and number on from the last stored event. No client
//! has seen any of those seqs, so the room's seq still rises by exactly one per event. A
//! leave cannot be undone — the member is gone — so it is published again, and stored once
//! the disk is back, or recorded at the next start-up if the server stops first.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::oneshot;

use super::{LeaveReason, RoomError, State, name_key};
use crate::rpc::types::{EventKind, MemberInfo, Stamped};

/// An accepted event and, if someone waits for it, how to tell them it is stored.
pub(super) struct Accepted {
    pub(super) event: Arc<Stamped>,
    /// Dropped unanswered if the event is refused.
    waiter: Option<oneshot::Sender<()>>,
}

impl Accepted {
    /// Tells whoever waits that the event is stored (and delivered).
    pub(super) fn confirm(self) -> Arc<Stamped> {
        if let Some(waiter) = self.waiter {
            let _ = waiter.send(());
        }
        self.event
    }
}

/// The events accepted but not yet stored, oldest first, and what they hold in memory.
#[derive(Default)]
pub(super) struct Pending {
    events: VecDeque<Accepted>,
    bytes: usize,
}

impl Pending {
    pub(super) fn push(&mut self, event: Arc<Stamped>, waiter: Option<oneshot::Sender<()>>) {
        self.bytes += cost(&event);
        self.events.push_back(Accepted { event, waiter });
    }

    pub(super) fn len(&self) -> usize {
        self.events.len()
    }

    /// About how many bytes the waiting events hold.
    pub(super) fn bytes(&self) -> usize {
        self.bytes
    }

    /// The oldest event if it is stored, i.e. its seq is at most `through`.
    pub(super) fn pop_stored(&mut self, through: u64) -> Option<Accepted> {
        if self.events.front()?.event.seq > through {
            return None;
        }
        let accepted = self.events.pop_front()?;
        self.bytes -= cost(&accepted.event);
        Some(accepted)
    }

    fn take_all(&mut self) -> VecDeque<Accepted> {
        self.bytes = 0;
        std::mem::take(&mut self.events)
    }
}

/// What an event holds while it waits: its text and name twice (as strings and in its
/// JSON), and the rest of it.
fn cost(event: &Stamped) -> usize {
    event.json.get().len()
        + event.text.as_ref().map_or(0, String::len)
        + event.from.name.len()
        + std::mem::size_of::<Stamped>()
        + std::mem::size_of::<Accepted>()
}

/// An event the room accepted, on its way to the store.
#[derive(Debug)]
#[must_use = "a receipt says whether the event was stored"]
pub struct Receipt {
    seq: u64,
    stored: oneshot::Receiver<()>,
}

impl Receipt {
    pub(super) fn new(seq: u64) -> (Self, oneshot::Sender<()>) {
        let (tx, stored) = oneshot::channel();
        (Self { seq, stored }, tx)
    }

    /// The seq the event was given; final only once it is stored.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Waits until the event is stored and delivered, and returns its seq; or learns that
    /// it never will be. The store decides within its timeout.
    pub async fn stored(self) -> Result<u64, RoomError> {
        match self.stored.await {
            Ok(()) => Ok(self.seq),
            Err(_) => Err(RoomError::StorageUnavailable),
        }
    }
}

impl State {
    /// The store dropped every event from `from` on: refuses them all, undoes what they did
    /// to the room, and publishes the leaves among them again, numbered on from the last
    /// stored event. Returns how many events were refused.
    pub(super) fn take_back_unstored(&mut self, from: u64) -> usize {
        let dropped = self.pending.take_all();
        debug_assert_eq!(
            dropped.front().map(|a| a.event.seq),
            Some(from),
            "the store drops from the oldest event not stored"
        );
        debug_assert_eq!(from, self.durable_seq + 1);
        self.next_seq = self.durable_seq + 1;
        // Newest first, as they are met.
        let mut leaves: Vec<(MemberInfo, Option<String>)> = Vec::new();
        for accepted in dropped.iter().rev() {
            let event = &accepted.event;
            let id = event.from.id;
            match event.kind {
                EventKind::Leave => leaves.push((event.from.clone(), event.text.clone())),
                EventKind::Join => {
                    if let Some(info) = self.detach(id, LeaveReason::StorageUnavailable) {
                        tracing::warn!(%id, name = %info.name, "join not stored; undone");
                    }
                    // Joined and left, neither stored: never there at all.
                    leaves.retain(|(info, _)| info.id != id);
                }
                EventKind::Nick => {
                    let old = event.text.clone().unwrap_or_default();
                    if let Some(member) = self.members.get_mut(&id) {
                        // Undone newest first, so the member has exactly this event's name
                        // and nobody has taken the old one since.
                        let new = std::mem::replace(&mut member.info.name, old.clone());
                        self.names.remove(&name_key(&new));
                        self.names.insert(name_key(&old));
                    } else if let Some(leave) = leaves.iter_mut().find(|(info, _)| info.id == id) {
                        // It left under a name history never knew.
                        leave.0.name = old;
                    }
                }
                EventKind::Message | EventKind::Action | EventKind::System => {}
            }
        }
        // Their waiters go unanswered, which tells them the events were refused.
        let refused = dropped.len();
        drop(dropped);
        if let Some(writer) = &self.writer {
            writer.resume();
        }
        for (info, text) in leaves.into_iter().rev() {
            self.publish(EventKind::Leave, info, text);
        }
        refused
    }
}
