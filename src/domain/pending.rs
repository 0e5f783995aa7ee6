//! Events accepted but not yet stored: what they cost, who waits for them, and how the
//! rooms take them back when the log drops them.
//!
//! Nothing is delivered or acknowledged before it is stored, so until then an event can
//! still be taken back as if it had never been accepted. The log drops events only all
//! together, every one not stored (see [`super::Progress`]), so taking back means: answer
//! every waiter "storage unavailable", undo what the events did (a join lets its member go
//! unannounced, a rename or a topic is reversed, a room nobody stored anything in is
//! forgotten) and number each room on from its last stored event. No client has seen any
//! of those seqs, so each room's seq still rises by exactly one per event. A leave cannot be
//! undone — the member is gone — so it is published again, and stored once the log is back,
//! or recorded at the next start-up if the server stops first.

use std::collections::VecDeque;

pub(super) use super::identities::RecordAbout;
use std::sync::Arc;

use tokio::sync::oneshot;
use uuid::Uuid;

use super::{
    Chat, Event, EventKind, LeaveReason, MemberInfo, RoomError, Stamped, State, text_keys, unix_ms,
};

/// What taking an event back must undo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Undo {
    Nothing,
    /// The join that started this member's session: the session goes.
    Session(Uuid),
    /// A join into one more room the member is given back: it leaves that room
    /// unannounced.
    Seat(Uuid),
    /// A join into a room the member chose now: as `Seat`, and it is not remembered.
    Entry(Uuid),
    /// A rename: the member gets its old name back.
    Rename {
        id: Uuid,
        old: String,
    },
    /// A topic change: the room gets its old topic back.
    Topic {
        room: String,
        old: Option<String>,
    },
    /// A kick or ban, which put member `id` (if anyone) out of `room`: it is back in (its
    /// seat stays until the event is delivered), and the room gets its old policy back.
    PutOut {
        id: Option<Uuid>,
        room: String,
        old: Box<super::policy::RoomPolicy>,
    },
    /// A change to a room's moderation (a role, mode, mute or invite): the room gets its
    /// old policy back.
    Policy {
        room: String,
        old: Box<super::policy::RoomPolicy>,
    },
}

/// What a moderation event carries besides the usual fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Extras {
    pub(super) target: Option<MemberInfo>,
    pub(super) until: Option<u64>,
    pub(super) target_seq: Option<u64>,
}

impl Extras {
    pub(super) fn on(target: MemberInfo) -> Self {
        Self {
            target: Some(target),
            ..Default::default()
        }
    }

    fn of(event: &Event) -> Self {
        Self {
            target: event.target.clone(),
            until: event.until,
            target_seq: event.target_seq,
        }
    }
}

/// Whether an event puts someone out of its room (a part, a kick, a ban): such an event
/// cannot be undone, only published again, and the seat goes once it is delivered.
pub(super) fn puts_out(kind: EventKind) -> bool {
    matches!(
        kind,
        EventKind::Leave | EventKind::Kick | EventKind::Ban | EventKind::Gban
    )
}

/// An accepted event and, if someone waits for it, how to tell them it is stored.
pub(super) struct Accepted {
    position: u64,
    pub(super) event: Arc<Stamped>,
    /// The session it came from, which does not get it back.
    pub(super) origin: Option<u64>,
    /// Dropped unanswered if the event is refused.
    waiter: Option<oneshot::Sender<u64>>,
    undo: Undo,
}

impl Accepted {
    /// Tells whoever waits that the event is stored (and delivered).
    pub(super) fn confirm(self) -> Arc<Stamped> {
        if let Some(waiter) = self.waiter {
            let _ = waiter.send(self.event.seq);
        }
        self.event
    }
}

/// The events accepted but not yet stored, in log order, and what they hold in memory.
#[derive(Default)]
pub(super) struct Pending {
    events: VecDeque<Accepted>,
    bytes: usize,
}

impl Pending {
    fn push(&mut self, accepted: Accepted) {
        self.bytes += cost(&accepted.event);
        self.events.push_back(accepted);
    }

    /// Whether a delete of message `seq` of `room` waits here: the message is as good as
    /// gone.
    pub(super) fn deletes(&self, room: &str, seq: u64) -> bool {
        self.events.iter().any(|a| {
            a.event.kind == EventKind::Delete
                && a.event.target_seq == Some(seq)
                && a.event.room == room
        })
    }

    pub(super) fn len(&self) -> usize {
        self.events.len()
    }

    /// About how many bytes the waiting events hold.
    pub(super) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Takes the event at `position` out, wherever it waits.
    pub(super) fn take(&mut self, position: u64) -> Option<Accepted> {
        let at = self
            .events
            .binary_search_by_key(&position, |a| a.position)
            .ok()?;
        let accepted = self.events.remove(at)?;
        self.bytes -= cost(&accepted.event);
        Some(accepted)
    }

    /// The position of the oldest event waiting.
    pub(super) fn first_position(&self) -> Option<u64> {
        self.events.front().map(|a| a.position)
    }

    /// The oldest event if it is stored, i.e. its position is at most `through`.
    pub(super) fn pop_stored(&mut self, through: u64) -> Option<Accepted> {
        if self.events.front()?.position > through {
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
/// wire form), and the rest of it.
fn cost(event: &Stamped) -> usize {
    2 * (event.text.as_ref().map_or(0, String::len) + event.from.name.len() + event.room.len())
        + 100
        + std::mem::size_of::<Stamped>()
        + std::mem::size_of::<Accepted>()
}

/// An event the rooms accepted, on its way to the log.
#[derive(Debug)]
#[must_use = "a receipt says whether the event was stored"]
pub struct Receipt {
    seq: u64,
    stored: oneshot::Receiver<u64>,
}

impl Receipt {
    /// The seq the event was given in its room; final only once it is stored (a log shared
    /// by several servers numbers it again).
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Waits until the event is stored and delivered, and returns its seq; or learns that
    /// it never will be. The log decides within its timeout.
    pub async fn stored(self) -> Result<u64, RoomError> {
        match self.stored.await {
            Ok(seq) => Ok(seq),
            Err(_) => Err(RoomError::StorageUnavailable),
        }
    }
}

impl Chat {
    /// Called by the log when it has given up on every event from `from` on.
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
        room: &str,
        kind: EventKind,
        from: MemberInfo,
        text: Option<String>,
        origin: Option<u64>,
        undo: Undo,
    ) -> Receipt {
        self.publish_awaited_with(room, kind, from, text, Extras::default(), origin, undo)
    }

    /// [`State::publish_awaited`] for an event with [`Extras`].
    #[allow(clippy::too_many_arguments)]
    pub(super) fn publish_awaited_with(
        &mut self,
        room: &str,
        kind: EventKind,
        from: MemberInfo,
        text: Option<String>,
        extras: Extras,
        origin: Option<u64>,
        undo: Undo,
    ) -> Receipt {
        let (tx, stored) = oneshot::channel();
        let seq = self.accept(room, (kind, from, text, extras), origin, Some((tx, undo)));
        Receipt { seq, stored }
    }

    /// Gives the event the room's next seq and the log's next position, hands it to the
    /// log and keeps it until it is stored; the waiter hears when it is.
    pub(super) fn accept(
        &mut self,
        room: &str,
        (kind, from, text, extras): (EventKind, MemberInfo, Option<String>, Extras),
        origin: Option<u64>,
        waiter: Option<(oneshot::Sender<u64>, Undo)>,
    ) -> u64 {
        let ts = unix_ms();
        let room = self
            .rooms
            .get_mut(room)
            .expect("events go to rooms that exist");
        let seq = room.next_seq;
        room.next_seq += 1;
        room.last_active = ts;
        let event = Event {
            room: room.name.clone(),
            seq,
            ts,
            kind,
            from,
            text,
            target: extras.target,
            until: extras.until,
            target_seq: extras.target_seq,
            presence: None,
        };
        let event = Arc::new(Stamped::new(event, self.encoder.as_ref()));
        let position = self.next_position;
        self.next_position += 1;
        let (waiter, undo) = match waiter {
            Some((tx, undo)) => (Some(tx), undo),
            None => (None, Undo::Nothing),
        };
        let waiter = match &self.appender {
            Some(appender) => {
                appender.append(position, event.clone());
                waiter
            }
            None => {
                tracing::warn!(seq, "event after the log closed is not kept");
                // Dropping the waiter refuses the event.
                None
            }
        };
        self.pending.push(Accepted {
            position,
            event,
            origin,
            waiter,
            undo,
        });
        seq
    }

    /// Hands the log a record about an identity, in order with the events. Until it is
    /// stored, what it was about is kept, so that a take-back can write it again.
    pub(super) fn record(&mut self, record: super::Record) {
        let position = self.next_position;
        self.next_position += 1;
        self.unstored_records
            .push_back((position, RecordAbout::of(&record)));
        match &self.appender {
            Some(appender) => appender.record(position, record),
            None => tracing::warn!(?record, "a record after the log closed is not kept"),
        }
    }

    /// The record of what memory holds about `about` now.
    fn current_record(&self, about: &RecordAbout) -> Option<super::Record> {
        match about {
            RecordAbout::RoomPolicy(room) => Some(super::Record::RoomPolicy {
                room: room.clone(),
                policy: self.rooms.get(room)?.policy.clone(),
            }),
            RecordAbout::ServerPolicy => {
                Some(super::Record::ServerPolicy(self.server_policy.clone()))
            }
            about => self.identities.current(about),
        }
    }

    /// Forgets the records stored up to `position`.
    pub(super) fn records_stored_through(&mut self, position: u64) {
        while self
            .unstored_records
            .front()
            .is_some_and(|(at, _)| *at <= position)
        {
            self.unstored_records.pop_front();
        }
    }

    /// Writes again, as memory has it now, everything the records not stored were about:
    /// those the log dropped, and those the take-back itself made before the log resumed.
    fn record_again(&mut self) {
        let mut about: Vec<RecordAbout> = std::mem::take(&mut self.unstored_records)
            .into_iter()
            .map(|(_, about)| about)
            .collect();
        about.sort();
        about.dedup();
        for about in about {
            if let Some(record) = self.current_record(&about) {
                self.record(record);
            }
        }
    }

    /// The log dropped every event from `from` on: refuses them all, undoes what they did,
    /// and publishes the leaves among them again, each room numbered on from its last
    /// stored event. Returns how many events were refused.
    pub(super) fn take_back_unstored(&mut self, from: u64) -> usize {
        let dropped = self.pending.take_all();
        // Records take positions too, so the first dropped may be a record.
        debug_assert!(
            dropped.front().is_none_or(|a| a.position >= from),
            "the log drops from the oldest event not stored"
        );
        for room in self.rooms.values_mut() {
            room.next_seq = room.durable_seq + 1;
        }
        // Newest first, as they are met.
        let mut leaves: Vec<Event> = Vec::new();
        let mut new_rooms = Vec::new();
        for accepted in dropped.iter().rev() {
            let event = &accepted.event;
            let id = event.from.id;
            // A part or a server ban cannot be undone (the member, or its sessions, are
            // gone): they are published again. A kick or a room ban is undone.
            if matches!(event.kind, EventKind::Leave | EventKind::Gban) {
                leaves.push(event.event.clone());
            }
            match &accepted.undo {
                Undo::Nothing => {}
                Undo::Session(id) => {
                    if let Some((info, _)) = self.detach(*id, LeaveReason::StorageUnavailable) {
                        tracing::warn!(%id, name = %info.name, "join not stored; undone");
                    }
                    // Joined and left, neither stored: never there at all.
                    leaves.retain(|e| {
                        !(e.kind == EventKind::Leave && e.from.id == *id)
                            && e.target.as_ref().is_none_or(|t| t.id != *id)
                    });
                }
                Undo::Seat(id) | Undo::Entry(id) => {
                    if let Some(member) = self.members.get_mut(id) {
                        member.rooms.remove(&event.room);
                        member.seats.remove(&event.room);
                        // A room it came into only now is not one to come back to.
                        if let (Undo::Entry(_), Some(key)) = (&accepted.undo, member.key.clone()) {
                            self.remember_room(&key, &event.room, false);
                        }
                    }
                    if let Some(room) = self.rooms.get_mut(&event.room) {
                        room.seats.remove(id);
                    }
                    leaves.retain(|e| {
                        let about = if e.kind == EventKind::Leave {
                            Some(e.from.id)
                        } else {
                            e.target.as_ref().map(|t| t.id)
                        };
                        !(about == Some(*id) && e.room == event.room)
                    });
                }
                Undo::Rename { old, .. } => {
                    if let Some(member) = self.members.get_mut(&id) {
                        // Undone newest first, so the member has exactly this event's name
                        // and nobody has taken the old one since. A member in several rooms
                        // has one rename per room: the first undone does it.
                        if member.info.name == event.from.name {
                            let new = member.info.name.clone();
                            for key in text_keys(&new) {
                                self.names.remove(&key);
                            }
                            // Someone may have taken the old name meanwhile (a rename
                            // outside every room stores nothing to take back): the member
                            // then gets a free variant of it instead.
                            let key = self.members[&id].key.clone();
                            let back = self.take_free_name(Some(old.clone()), key.as_deref());
                            self.members.get_mut(&id).expect("just seen").info.name = back.clone();
                            if let Some(key) = key {
                                self.identity_named(&key, &back);
                            }
                        }
                    }
                    for leave in leaves.iter_mut() {
                        // It left under a name history never knew.
                        if leave.from.id == id {
                            leave.from.name.clone_from(old);
                        }
                        if let Some(target) = leave.target.as_mut().filter(|t| t.id == id) {
                            target.name.clone_from(old);
                        }
                    }
                }
                Undo::Topic { room, old } => {
                    if let Some(room) = self.rooms.get_mut(room) {
                        room.topic.clone_from(old);
                    }
                }
                Undo::PutOut {
                    id,
                    room: name,
                    old,
                } => {
                    if let Some(member) = id.and_then(|id| self.members.get_mut(&id))
                        && member.seats.contains(name)
                    {
                        member.rooms.insert(name.clone());
                        if let Some(key) = member.key.clone() {
                            self.remember_room(&key, name, true);
                        }
                    }
                    if let Some(room) = self.rooms.get_mut(name) {
                        room.policy = (**old).clone();
                        self.unstored_records
                            .push_back((0, RecordAbout::RoomPolicy(name.clone())));
                    }
                }
                Undo::Policy { room: name, old } => {
                    if let Some(room) = self.rooms.get_mut(name) {
                        room.policy = (**old).clone();
                        self.unstored_records
                            .push_back((0, RecordAbout::RoomPolicy(name.clone())));
                    }
                }
            }
            new_rooms.push(event.room.clone());
        }
        for room in new_rooms {
            self.drop_unstored_room(&room);
        }
        // Their waiters go unanswered, which tells them the events were refused.
        let refused = dropped.len();
        drop(dropped);
        if let Some(appender) = &self.appender {
            appender.resume();
        }
        self.record_again();
        for leave in leaves.into_iter().rev() {
            if self.rooms.contains_key(&leave.room) {
                let extras = Extras::of(&leave);
                self.accept(
                    &leave.room,
                    (leave.kind, leave.from, leave.text, extras),
                    None,
                    None,
                );
            }
        }
        refused
    }
}
