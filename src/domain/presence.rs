//! Presence in large rooms: joins and leaves summed up on a tick instead of sent one by one,
//! and a room's member list sent on request, in order with everything else.
//!
//! In a room of N members, telling everyone of every join costs N²/2 notices as the room
//! fills: 50 million for 10,000 members. Above [`ChatConfig::large_room`] members a room
//! is *large*: its joins and leaves are still stored, with their seqs, but instead of each
//! one, everyone there gets one [`EventKind::Presence`] event per tick (the server calls
//! [`Chat::flush_presence`]) with the counts and, when few enough changed, who. A client
//! that keeps the member list asks for it again ([`Chat::sync_members`]) when a tick could
//! not name everyone. Once the room is down to half that size it is small again: everyone
//! gets the whole list once, and then each join and leave as before.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use uuid::Uuid;

use super::event::{Event, Presence, Stamped};
use super::names::server_identity;
use super::{Chat, ChatConfig, EventKind, LeaveReason, MemberInfo, RoomError, State};

/// The most members one presence event names; past that it gives only the counts.
pub const PRESENCE_NAMES: usize = 20;

/// How often the server should call [`Chat::flush_presence`].
pub const PRESENCE_TICK: Duration = Duration::from_millis(250);

/// A session gets a room's member list at most this often, however often it asks.
pub const LIST_EVERY: Duration = Duration::from_millis(500);

/// Member lists one tick sends in one room at most; the others asked for wait for the next
/// ticks. Each is copied for its session under the chat's lock, and a large room's list is
/// large.
pub const LISTS_PER_TICK: usize = 32;

/// A large room's joins and leaves since its last presence event.
#[derive(Debug, Default)]
pub(super) struct PresenceBatch {
    joins: u32,
    leaves: u32,
    /// Each member whose presence changed, in the order of its first change, with whether
    /// it is in the room now and how it was last seen (`None` once forgotten); empty once
    /// `overflow` is set.
    changed: Vec<Option<(Uuid, bool, MemberInfo)>>,
    at: HashMap<Uuid, usize>,
    /// More than [`PRESENCE_NAMES`] members changed: the event gives only the counts.
    overflow: bool,
}

impl PresenceBatch {
    fn is_empty(&self) -> bool {
        self.joins == 0 && self.leaves == 0 && self.changed.is_empty() && !self.overflow
    }

    /// Notes that a member is in the room now (`present`) or out of it.
    fn note(&mut self, member: &MemberInfo, present: bool) {
        if self.overflow {
            return;
        }
        if let Some(&at) = self.at.get(&member.id) {
            self.changed[at] = Some((member.id, present, member.clone()));
            return;
        }
        if self.changed.len() == PRESENCE_NAMES {
            self.overflow = true;
            self.changed = Vec::new();
            self.at = HashMap::new();
            return;
        }
        self.at.insert(member.id, self.changed.len());
        self.changed
            .push(Some((member.id, present, member.clone())));
    }

    /// Leaves a member out of the next presence event: it was put out of the room, which
    /// everyone was told as it happened.
    fn forget(&mut self, id: Uuid) {
        if let Some(at) = self.at.remove(&id) {
            self.changed[at] = None;
        }
    }
}

/// Whom a stored event of a room is sent to.
pub(super) enum Fan {
    /// Everyone seated there (but the session it came from).
    Everyone,
    /// Only this member's sessions: in a large room, its own join or leave.
    Own(Uuid),
}

/// Whether a room of `seated` members is large under `config`, given whether it was.
fn is_large(config: &ChatConfig, seated: usize, was: bool) -> bool {
    match config.large_room {
        0 => false,
        size if was => seated > size / 2,
        size => seated > size,
    }
}

impl Chat {
    /// The server's tick: sends each large room where anyone came or went since its last
    /// presence event a new one, to every session there, then each member list asked for
    /// (at most one per session and room every [`LIST_EVERY`]).
    pub fn flush_presence(&self, now: Instant) {
        let mut state = self.lock();
        let due: Vec<String> = state
            .rooms
            .values()
            .filter(|room| {
                room.large.as_ref().is_some_and(|b| !b.is_empty()) || !room.lists.wanted.is_empty()
            })
            .map(|room| room.name.clone())
            .collect();
        let mut too_slow = Vec::new();
        for room in due {
            if state.rooms[&room]
                .large
                .as_ref()
                .is_some_and(|b| !b.is_empty())
            {
                state.send_presence(&room, false, &mut too_slow);
            }
            state.send_lists(&room, now, &mut too_slow);
        }
        state.end_too_slow(too_slow);
    }

    /// Asks for the room's whole member list, as a presence event in this session's stream
    /// after everything already there, so that applying later presence events to it keeps
    /// it right. It comes with the next tick, and at most once every [`LIST_EVERY`]: asking
    /// again before then costs nothing. Returns how many members the room has.
    pub fn sync_members(&self, session: &str, room: &str) -> Result<usize, RoomError> {
        let mut state = self.lock();
        let (id, conn) = state.session(session)?;
        let name = state.seated_in(id, room)?;
        let room = state.rooms.get_mut(&name).expect("seated in it");
        // Its seats, counted without looking at each: close enough for a count.
        let count = room.headcount();
        room.lists.wanted.insert((id, conn));
        Ok(count)
    }
}

/// Who asked for a room's member list, and when each last got it.
#[derive(Debug, Default)]
pub(super) struct ListRequests {
    wanted: HashSet<(Uuid, u64)>,
    sent: HashMap<(Uuid, u64), Instant>,
}

impl State {
    /// Whether a session entering a room is given its member list: not in a large room,
    /// nor in one this entry makes large (there it asks with `sync_members`).
    pub(super) fn lists_members(&self, config: &ChatConfig, room: &str) -> bool {
        self.rooms
            .get(room)
            .is_none_or(|r| r.large.is_none() && !is_large(config, r.headcount(), false))
    }

    /// Ends the sessions found too slow while their events were queued.
    pub(super) fn end_too_slow(&mut self, too_slow: Vec<(Uuid, u64)>) {
        for (id, conn) in too_slow {
            if self.members.contains_key(&id) {
                tracing::warn!(%id, conn, "disconnected: too slow");
                let reason = LeaveReason::TooSlow;
                self.end_conn(id, conn, reason, reason.event_text());
            }
        }
    }

    /// Before a stored event of a room is delivered: turns the room large or small as its
    /// size says (a room turning small first gets its last presence event, with the whole
    /// member list), then, in a large room, notes a join or leave for the next presence
    /// event. Returns whom the event is for.
    pub(super) fn batch_presence(
        &mut self,
        config: &ChatConfig,
        event: &Event,
        too_slow: &mut Vec<(Uuid, u64)>,
    ) -> Fan {
        // Two members at most, and nobody joins or leaves one.
        if super::is_conversation(&event.room) {
            return Fan::Everyone;
        }
        let Some(room) = self.rooms.get_mut(&event.room) else {
            return Fan::Everyone;
        };
        let was = room.large.is_some();
        // Once per event: the seats and the members elsewhere, a member in through both
        // counted twice, rather than a walk over everyone elsewhere.
        let size = room.seats.len() + room.remote.len();
        match (was, is_large(config, size, was)) {
            (false, true) => room.large = Some(PresenceBatch::default()),
            (true, false) => {
                self.send_presence(&event.room, true, too_slow);
                self.rooms.get_mut(&event.room).expect("here").large = None;
                return Fan::Everyone;
            }
            _ => {}
        }
        let room = self.rooms.get_mut(&event.room).expect("here");
        let Some(batch) = room.large.as_mut() else {
            return Fan::Everyone;
        };
        match event.kind {
            EventKind::Join => {
                batch.joins += 1;
                batch.note(&event.from, true);
            }
            EventKind::Leave => {
                batch.leaves += 1;
                batch.note(&event.from, false);
            }
            // Sent as they are, but a member put out must not come back with the tick.
            EventKind::Kick | EventKind::Ban | EventKind::Gban => {
                if let Some(target) = &event.target {
                    batch.forget(target.id);
                }
                return Fan::Everyone;
            }
            _ => return Fan::Everyone,
        }
        // The member's own other sessions hear of it as ever: that is how they learn it
        // entered or parted a room.
        Fan::Own(event.from.id)
    }

    /// Sends a large room's presence event to everyone there, with the whole member list
    /// if `with_members`, and starts the next.
    fn send_presence(&mut self, room: &str, with_members: bool, too_slow: &mut Vec<(Uuid, u64)>) {
        let Some(batch) = self
            .rooms
            .get_mut(room)
            .and_then(|r| r.large.as_mut())
            .map(std::mem::take)
        else {
            return;
        };
        let mut presence = Presence {
            count: self.member_count(room) as u32,
            joins: batch.joins,
            leaves: batch.leaves,
            complete: !batch.overflow,
            ..Presence::default()
        };
        for (id, present, seen) in batch.changed.into_iter().flatten() {
            if present {
                // As it is now: its name, role or away may have changed since it came.
                presence
                    .joined
                    .push(self.listed_member(id, room).unwrap_or(seen));
            } else {
                presence.left.push(seen);
            }
        }
        if with_members {
            presence.members = Some(self.member_list(room));
        }
        let event = self.presence_event(room, presence);
        self.rooms[room].tell_all(&event, too_slow);
    }

    /// Sends the member lists asked for in a room to those that have not had one for
    /// [`LIST_EVERY`]; the others wait for a later tick.
    fn send_lists(&mut self, room: &str, now: Instant, too_slow: &mut Vec<(Uuid, u64)>) {
        let Some(found) = self.rooms.get_mut(room) else {
            return;
        };
        let lists = &mut found.lists;
        lists
            .sent
            .retain(|_, at| now.saturating_duration_since(*at) < LIST_EVERY);
        let due: Vec<(Uuid, u64)> = lists
            .wanted
            .iter()
            .filter(|who| !lists.sent.contains_key(who))
            .take(LISTS_PER_TICK)
            .copied()
            .collect();
        if due.is_empty() {
            return;
        }
        for who in &due {
            lists.wanted.remove(who);
            lists.sent.insert(*who, now);
        }
        let members = self.member_list(room);
        let event = self.presence_event(
            room,
            Presence {
                count: members.len() as u32,
                complete: true,
                members: Some(members),
                ..Presence::default()
            },
        );
        let seats = &self.rooms[room].seats;
        for (id, conn) in due {
            // Gone since it asked, or no longer here.
            let Some(seat) = seats
                .get(&id)
                .and_then(|s| s.conns.iter().find(|c| c.conn == conn))
            else {
                continue;
            };
            if !seat.queue.push(&event) {
                too_slow.push((id, conn));
            }
        }
    }

    fn presence_event(&self, room: &str, presence: Presence) -> Arc<Stamped> {
        let event = Event {
            room: room.to_owned(),
            seq: 0,
            ts: super::unix_ms(),
            kind: EventKind::Presence,
            from: server_identity(),
            presence: Some(Box::new(presence)),
            ..Event::default()
        };
        Arc::new(Stamped::new(event, self.encoder.as_ref()))
    }
}
