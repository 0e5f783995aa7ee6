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

use super::{LeaveReason, Room, RoomError, State};
use crate::rpc::types::{Event, EventKind, MemberInfo, Stamped, unix_ms};
use crate::text::look_alike_keys;

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

impl Room {
    /// Called by the store's writer when it has given up on every event from `from` on.
    pub(super) fn not_stored(&self, from: u64) {
        let refused = self.lock().take_back_unstored(from);
        tracing::error!(
            from,
            refused,
            "storage unavailable: events not stored were refused"
        );
    }
}

impl State {
    /// [`State::publish`], for an event someone waits for.
    pub(super) fn publish_awaited(
        &mut self,
        kind: EventKind,
        from: MemberInfo,
        text: Option<String>,
    ) -> Receipt {
        let (receipt, waiter) = Receipt::new(self.next_seq);
        self.accept(kind, from, text, Some(waiter));
        receipt
    }

    /// Gives the event the next seq, hands it to the writer and keeps it until it is
    /// stored; `waiter` hears when it is.
    pub(super) fn accept(
        &mut self,
        kind: EventKind,
        from: MemberInfo,
        text: Option<String>,
        waiter: Option<oneshot::Sender<()>>,
    ) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        let event = Arc::new(Stamped::new(Event {
            room: crate::room::DEFAULT_ROOM.to_owned(),
            seq,
            ts: unix_ms(),
            kind,
            from,
            text,
        }));
        match &self.writer {
            Some(writer) => {
                writer.append(event.clone());
                self.pending.push(event, waiter);
            }
            None => {
                tracing::warn!(seq, "event after the store closed is not kept");
                // Dropping the waiter refuses the event.
                self.pending.push(event, None);
            }
        }
        seq
    }

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
                EventKind::Topic => {}
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
                        for key in look_alike_keys(&new) {
                            self.names.remove(&key);
                        }
                        self.names.extend(look_alike_keys(&old));
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::room::{LeaveReason, Lifetime, Room, RoomConfig, RoomError};
    use crate::rpc::types::{Event, EventKind};
    use crate::store::{DbLocation, Store, WriteFaults};

    const WAIT: Duration = Duration::from_secs(10);

    /// A room whose store gives up on an event after 50 ms, and the switch that makes its
    /// writes fail.
    fn failing_room() -> (Room, WriteFaults) {
        failing_room_giving_up_after(Duration::from_millis(50))
    }

    fn failing_room_giving_up_after(storage_timeout: Duration) -> (Room, WriteFaults) {
        let store = Store::open(&DbLocation::Memory).unwrap();
        let faults = store.write_faults();
        let config = RoomConfig {
            rate_limit: None,
            storage_timeout,
            ..RoomConfig::default()
        };
        (Room::new(config, store).unwrap(), faults)
    }

    async fn outcome(receipt: super::Receipt) -> Result<u64, RoomError> {
        tokio::time::timeout(WAIT, receipt.stored())
            .await
            .expect("the store decides within its timeout")
    }

    /// Says `text` and waits for it to be stored: everything said before is stored too.
    async fn say_stored(room: &Room, session: &str, text: &str) -> u64 {
        outcome(room.say(session, text, false).unwrap())
            .await
            .unwrap()
    }

    /// Makes the store drop everything waiting, waits until the room has taken it back, then
    /// lets the store work again and waits until what the room published again is stored.
    async fn fail_storing(room: &Room, faults: &WriteFaults, session: &str) {
        faults.set(true);
        let refused = outcome(room.say(session, "refused", false).unwrap()).await;
        assert_eq!(refused, Err(RoomError::StorageUnavailable));
        faults.set(false);
        tokio::time::timeout(WAIT, room.settled())
            .await
            .expect("stored once the disk is back");
    }

    fn history(room: &Room) -> Vec<(EventKind, String, Option<String>)> {
        let events: Vec<Event> = room.history().latest(100).unwrap();
        for pair in events.windows(2) {
            assert_eq!(pair[1].seq, pair[0].seq + 1, "gap in {events:?}");
        }
        events
            .into_iter()
            .map(|e| (e.kind, e.from.name, e.text))
            .collect()
    }

    #[tokio::test]
    async fn a_leave_that_cannot_be_stored_is_stored_once_the_disk_is_back() {
        let (room, faults) = failing_room();
        let alice = room.join(Some("alice"), Lifetime::Connection).unwrap();
        let bob = room.join(Some("bob"), Lifetime::Connection).unwrap();
        say_stored(&room, &alice.session, "hi").await;

        faults.set(true);
        room.leave(&bob.session, LeaveReason::Left).unwrap();
        fail_storing(&room, &faults, &alice.session).await;
        say_stored(&room, &alice.session, "after").await;

        assert_eq!(
            history(&room),
            [
                (EventKind::Join, "alice".into(), None),
                (EventKind::Join, "bob".into(), None),
                (EventKind::Message, "alice".into(), Some("hi".into())),
                (EventKind::Leave, "bob".into(), None),
                (EventKind::Message, "alice".into(), Some("after".into())),
            ]
        );
    }

    #[tokio::test]
    async fn a_member_that_joined_and_left_unstored_was_never_there() {
        let (room, faults) = failing_room();
        let alice = room.join(Some("alice"), Lifetime::Connection).unwrap();
        say_stored(&room, &alice.session, "hi").await;

        faults.set(true);
        let (bob, receipt) = room
            .join_with_receipt(Some("bob"), Lifetime::Connection)
            .unwrap();
        room.leave(&bob.session, LeaveReason::ConnectionClosed)
            .unwrap();
        assert_eq!(outcome(receipt).await, Err(RoomError::StorageUnavailable));
        faults.set(false);
        say_stored(&room, &alice.session, "after").await;

        assert_eq!(
            history(&room),
            [
                (EventKind::Join, "alice".into(), None),
                (EventKind::Message, "alice".into(), Some("hi".into())),
                (EventKind::Message, "alice".into(), Some("after".into())),
            ]
        );
    }

    #[tokio::test]
    async fn a_join_that_cannot_be_stored_is_undone() {
        let (room, faults) = failing_room();
        let alice = room.join(Some("alice"), Lifetime::Connection).unwrap();
        say_stored(&room, &alice.session, "hi").await;

        faults.set(true);
        let (bob, receipt) = room
            .join_with_receipt(Some("bob"), Lifetime::Connection)
            .unwrap();
        assert_eq!(outcome(receipt).await, Err(RoomError::StorageUnavailable));
        assert_eq!(room.member(&bob.session), Err(RoomError::UnknownSession));
        let names: Vec<_> = room.members().into_iter().map(|m| m.name).collect();
        assert_eq!(names, ["alice"]);
        faults.set(false);
        let again = room.join(Some("bob"), Lifetime::Connection).unwrap();
        assert_eq!(again.name, "bob", "the name was given back");
    }

    #[tokio::test]
    async fn a_rename_that_cannot_be_stored_is_undone() {
        let (room, faults) = failing_room();
        let alice = room.join(Some("alice"), Lifetime::Connection).unwrap();
        say_stored(&room, &alice.session, "hi").await;

        faults.set(true);
        let (name, receipt) = room.nick_with_receipt(&alice.session, "al").unwrap();
        assert_eq!(name, "al");
        let refused = outcome(receipt.expect("a rename publishes")).await;
        assert_eq!(refused, Err(RoomError::StorageUnavailable));
        assert_eq!(room.member(&alice.session).unwrap().name, "alice");
        faults.set(false);
        let other = room.join(Some("al"), Lifetime::Connection).unwrap();
        assert_eq!(other.name, "al", "the new name was given back");
    }

    #[tokio::test]
    async fn a_member_renamed_and_gone_unstored_leaves_under_its_stored_name() {
        let (room, faults) = failing_room();
        let alice = room.join(Some("alice"), Lifetime::Connection).unwrap();
        let bob = room.join(Some("bob"), Lifetime::Connection).unwrap();
        say_stored(&room, &alice.session, "hi").await;

        faults.set(true);
        room.nick(&bob.session, "robert").unwrap();
        room.leave(&bob.session, LeaveReason::Left).unwrap();
        fail_storing(&room, &faults, &alice.session).await;
        say_stored(&room, &alice.session, "after").await;

        let events = history(&room);
        assert_eq!(
            events[3..],
            [
                (EventKind::Leave, "bob".into(), None),
                (EventKind::Message, "alice".into(), Some("after".into())),
            ]
        );
    }

    #[tokio::test]
    async fn shutdown_ends_every_session_even_when_nothing_can_be_stored() {
        // The store would go on trying for a minute.
        let (room, faults) = failing_room_giving_up_after(Duration::from_secs(60));
        let alice = room.join(Some("alice"), Lifetime::Connection).unwrap();
        say_stored(&room, &alice.session, "hi").await;
        let mut reader = room.reader(&alice.session).unwrap().try_claim().unwrap();

        faults.set(true);
        tokio::time::timeout(WAIT, room.shutdown(Duration::from_millis(100)))
            .await
            .expect("shutdown does not wait for the disk");
        assert_eq!(reader.next().await, Err(LeaveReason::ServerShutdown));
        faults.set(false);
    }
}
