//! Rooms for a member: entering (creating a room if it is new), parting, speaking, topics,
//! and the questions asked about rooms (who is in one, which exist, how far one has got).

use std::collections::BTreeMap;
use std::time::Instant;

use uuid::Uuid;

use super::conversations::is_conversation;
use super::pending::Undo;
use super::room::{RoomSummary, Seat, SeatConn};
use super::{
    Chat, ChatConfig, Entered, EventKind, MemberInfo, Receipt, RoomError, State, parse_room_name,
    room_name,
};
use crate::text::clean_text;

impl Chat {
    /// Enters a room, creating it if it does not exist yet, and tells everyone there.
    /// Entering a room the member is already in changes nothing and answers the same way.
    /// Returns the receipt of the join (none if already in).
    pub fn enter(
        &self,
        session: &str,
        room: &str,
    ) -> Result<(Entered, Option<Receipt>), RoomError> {
        self.enter_with(session, room, || Ok(()))
    }

    /// [`Chat::enter`], asking `may_create` first if the room is to be made, once every
    /// other check has passed: a refused entry costs no creation. It is called under the
    /// chat's lock, so it must be map work only (the server's per-address limiter is) and
    /// must never call back into the chat.
    pub fn enter_with(
        &self,
        session: &str,
        room: &str,
        may_create: impl FnOnce() -> Result<(), RoomError>,
    ) -> Result<(Entered, Option<Receipt>), RoomError> {
        let config = &self.shared.config;
        let mut state = self.lock();
        let (id, conn) = state.session(session)?;
        let name = state.room_key(id, room)?;
        if state.members[&id].rooms.contains(&name) {
            // As when it first entered: history up to where its queue took over, so the
            // two still meet without a gap or an overlap.
            return Ok((state.entered(config, id, conn, &name), None));
        }
        if is_conversation(&name) {
            // One of its two identities reopening it: no event, nobody else is told.
            let key = state.members[&id]
                .key
                .clone()
                .expect("only identities have these");
            state.remember_room(&key, &name, true);
            state.seat(config, id, &name, Some(conn), Undo::Seat(id));
            return Ok((state.entered(config, id, conn, &name), None));
        }
        if state.closing {
            return Err(RoomError::ShuttingDown);
        }
        state.check_pending(config)?;
        state.check_room_for_entry(config, &name, Some(id))?;
        let member = &state.members[&id];
        let (fingerprint, address) = (member.fingerprint.clone(), member.address);
        let guest_address = if member.key.is_some() { None } else { address };
        state.check_entry(Some(id), fingerprint.as_deref(), guest_address, &name)?;
        let member = &state.members[&id];
        let public = member.rooms.iter().filter(|r| !is_conversation(r)).count();
        if public >= config.max_rooms_per_member {
            return Err(RoomError::TooManyRoomsForMember {
                max: config.max_rooms_per_member,
            });
        }
        state.charge_room_change(id, config, Instant::now())?;
        if !state.rooms.contains_key(&name)
            && let Err(refused) = may_create()
        {
            // Nothing changed: the member keeps its budget.
            state.refund_room_change(id, config);
            return Err(refused);
        }
        if let Some(key) = state.members[&id].key.clone() {
            state.remember_room(&key, &name, true);
        }
        if !state.rooms.contains_key(&name) {
            state.add_room(name.clone());
            let owner = state.members[&id].key.is_some().then_some(id);
            state.owned_by(&name, owner);
        }
        let (entered, receipt) = state.seat(config, id, &name, Some(conn), Undo::Entry(id));
        tracing::info!(%id, room = %name, "entered");
        Ok((entered, receipt))
    }

    /// Leaves one room; the others there see the member's `reason`, and so do its other
    /// sessions, which leave it too. The session stays. Closing a conversation tells
    /// nobody; a new message opens it again.
    pub fn part(&self, session: &str, room: &str, reason: Option<&str>) -> Result<(), RoomError> {
        let mut state = self.lock();
        let (id, conn) = state.session(session)?;
        let info = state.members[&id].info.clone();
        let key = state.members[&id].key.clone();
        let name = state.seated_in(id, room)?;
        let text = own_reason("Part", reason, self.shared.config.max_reason_bytes)?;
        state.charge_room_change(id, &self.shared.config, Instant::now())?;
        let member = state.members.get_mut(&id).expect("looked up above");
        member.rooms.remove(&name);
        if let Some(key) = &key {
            state.remember_room(key, &name, false);
        }
        let room = state.rooms.get_mut(&name).expect("a member's rooms exist");
        tracing::info!(%id, room = %name, "parted");
        if is_conversation(&name) {
            room.seats.remove(&id);
            state
                .members
                .get_mut(&id)
                .expect("here")
                .seats
                .remove(&name);
            return Ok(());
        }
        // This session hears nothing more from the room; the others hear the part first.
        if let Some(seat) = room.seats.get_mut(&id) {
            seat.conns.retain(|c| c.conn != conn);
        }
        state.publish(&name, EventKind::Leave, info, text, Some(conn));
        Ok(())
    }

    /// Cleans and checks the text, gives it the room's next seq and queues it for every
    /// other member there; with `action`, a `/me` line. The receipt says whether it was
    /// stored.
    pub fn say(
        &self,
        session: &str,
        room: &str,
        text: &str,
        action: bool,
    ) -> Result<Receipt, RoomError> {
        let kind = if action {
            EventKind::Action
        } else {
            EventKind::Message
        };
        self.say_at(session, room, text, kind, Instant::now())
    }

    pub(super) fn say_at(
        &self,
        session: &str,
        room: &str,
        text: &str,
        kind: EventKind,
        now: Instant,
    ) -> Result<Receipt, RoomError> {
        let config = &self.shared.config;
        let mut state = self.lock();
        // The session first: a refused send counts as activity too.
        let (id, conn) = state.session(session)?;
        let room = state.seated_in(id, room)?;
        state.check_mute(id, &room)?;
        let text = message_text(text, config.max_text_bytes)?;
        state.check_pending(config)?;
        state.charge(id, config.rate_limit, now)?;
        if is_conversation(&room) {
            // The other side may have closed it: this opens it for them again.
            state.both_in_conversation(config, &room, id, Some(conn));
        }
        let from = state.members[&id].info.clone();
        Ok(state.publish_awaited(&room, kind, from, Some(text), Some(conn), Undo::Nothing))
    }

    /// A room's topic; with `topic`, sets it first (an empty one clears it) and tells the
    /// room. Setting counts against the rate limit like a message. Returns the room's name,
    /// its topic now, and the receipt of the change if there was one.
    pub fn topic(
        &self,
        session: &str,
        room: &str,
        topic: Option<&str>,
    ) -> Result<(String, Option<String>, Option<Receipt>), RoomError> {
        let config = &self.shared.config;
        let mut state = self.lock();
        let (id, conn) = state.session(session)?;
        let Some(topic) = topic else {
            let name = parse_room_name(room)?;
            let found = state.room(&name)?;
            if !state.may_see(Some(id), found) {
                return Err(RoomError::NoSuchRoom(name));
            }
            let current = found.topic.clone();
            return Ok((name, current, None));
        };
        let name = parse_room_name(room)?;
        let name = state.seated_in(id, &name)?;
        state.check_mute(id, &name)?;
        if state.rooms[&name].policy.modes.topic_locked
            && state.rank(id, &state.rooms[&name]) < super::access::Rank::Op
        {
            return Err(RoomError::NotPermitted {
                who: format!("operators of {name}"),
                action: "set the topic while it is locked (+t)",
            });
        }
        let topic = clean_text(topic).replace(['\n', '\t'], " ");
        let topic = topic.trim();
        if topic.len() > config.max_topic_bytes {
            return Err(RoomError::TopicTooLong {
                len: topic.len(),
                max: config.max_topic_bytes,
            });
        }
        let topic = (!topic.is_empty()).then(|| topic.to_owned());
        let current = &state.room(&name)?.topic;
        if *current == topic {
            return Ok((name, topic, None));
        }
        state.check_pending(config)?;
        state.charge(id, config.rate_limit, Instant::now())?;
        let old = std::mem::replace(
            &mut state.rooms.get_mut(&name).expect("checked").topic,
            topic.clone(),
        );
        let from = state.members[&id].info.clone();
        let undo = Undo::Topic {
            room: name.clone(),
            old,
        };
        let receipt = state.publish_awaited(
            &name,
            EventKind::Topic,
            from,
            topic.clone(),
            Some(conn),
            undo,
        );
        Ok((name, topic, Some(receipt)))
    }

    /// Every room but the secret ones, by name.
    pub fn rooms(&self) -> Vec<RoomSummary> {
        self.rooms_for(None)
    }

    /// Every room, by name, as the member behind `asker` may see the list: a secret room
    /// only if it is in it (or a server operator).
    pub fn rooms_for(&self, asker: Option<&str>) -> Vec<RoomSummary> {
        let mut state = self.lock();
        let asker = asker.and_then(|session| state.session(session).ok());
        let mut rooms: Vec<RoomSummary> = state
            .rooms
            .values()
            .filter(|r| !is_conversation(&r.name))
            .filter(|r| state.may_see(asker.map(|(id, _)| id), r))
            .map(|r| r.summary())
            .collect();
        rooms.sort_by(|a, b| a.name.cmp(&b.name));
        rooms
    }

    /// Everyone in a room now (not a secret one's).
    pub fn members(&self, room: &str) -> Result<Vec<MemberInfo>, RoomError> {
        self.members_for(None, room)
    }

    /// Everyone in a room now, as the member behind `asker` may know: a secret room is
    /// no room at all to those not in it.
    pub fn members_for(
        &self,
        asker: Option<&str>,
        room: &str,
    ) -> Result<Vec<MemberInfo>, RoomError> {
        if is_conversation(room) {
            return Err(RoomError::NoSuchRoom(room.to_owned()));
        }
        let name = parse_room_name(room)?;
        let mut state = self.lock();
        let asker = asker.and_then(|session| state.session(session).ok());
        let found = state.room(&name)?;
        if !state.may_see(asker.map(|(id, _)| id), found) {
            return Err(RoomError::NoSuchRoom(name));
        }
        Ok(state.member_list(&name))
    }

    /// The room's name if the session's member is in it: what reading its history needs.
    pub fn check_member_of(&self, session: &str, room: &str) -> Result<String, RoomError> {
        let mut state = self.lock();
        let (id, _) = state.session(session)?;
        state.seated_in(id, room)
    }

    /// Checks where a client says it has got to, room by room: each room must be one the
    /// member is in, and no cursor may be ahead of its room. Returns the cursors by
    /// room name as the server spells it.
    pub fn check_cursors(
        &self,
        session: &str,
        cursors: &BTreeMap<String, u64>,
    ) -> Result<BTreeMap<String, u64>, RoomError> {
        let mut state = self.lock();
        let (id, _) = state.session(session)?;
        let mut checked = BTreeMap::new();
        for (room, since) in cursors {
            let name = state.seated_in(id, room)?;
            let latest = state.rooms[&name].last_seq();
            if *since > latest {
                return Err(RoomError::SinceAhead {
                    room: name,
                    since: *since,
                    latest,
                });
            }
            checked.insert(name, *since);
        }
        Ok(checked)
    }
}

/// A message's text, cleaned: refused if nothing is left, or if more than `max` bytes are.
pub(super) fn message_text(text: &str, max: usize) -> Result<String, RoomError> {
    let text = clean_text(text);
    if text.is_empty() {
        return Err(RoomError::EmptyText);
    }
    if text.len() > max {
        return Err(RoomError::TextTooLong {
            len: text.len(),
            max,
        });
    }
    Ok(text)
}

/// A member's own reason for leaving: cleaned to one line, bounded, and labelled as its own
/// (`Part: …`, `Quit: …`, as IRC servers do), so that it can never pass for one of the
/// server's reasons ("too slow", "server restarted").
pub(super) fn own_reason(
    label: &str,
    reason: Option<&str>,
    max: usize,
) -> Result<Option<String>, RoomError> {
    let Some(reason) = reason else {
        return Ok(None);
    };
    let reason = clean_text(reason).replace(['\n', '\t'], " ");
    let reason = reason.trim();
    if reason.len() > max {
        return Err(RoomError::ReasonTooLong {
            len: reason.len(),
            max,
        });
    }
    Ok((!reason.is_empty()).then(|| format!("{label}: {reason}")))
}

impl State {
    /// Refuses entry to a room that could not be made: a look-alike of another room's name,
    /// or one room too many.
    pub(super) fn check_room_for_entry(
        &self,
        config: &ChatConfig,
        name: &str,
        asker: Option<Uuid>,
    ) -> Result<(), RoomError> {
        if self.rooms.contains_key(name) {
            return Ok(());
        }
        for key in room_name::room_keys(name) {
            if let Some(existing) = self.room_keys.get(&key) {
                // A secret room is not named to those who may not know of it.
                if self
                    .rooms
                    .get(existing)
                    .is_some_and(|room| !self.may_see(asker, room))
                {
                    return Err(RoomError::RoomLookAlikeHidden(name.to_owned()));
                }
                return Err(RoomError::RoomLookAlike {
                    name: name.to_owned(),
                    existing: existing.clone(),
                });
            }
        }
        // Conversations are not rooms of the server's: they do not count.
        let rooms = self.rooms.keys().filter(|r| !is_conversation(r)).count();
        if rooms >= config.max_rooms {
            return Err(RoomError::TooManyRoomsOnServer {
                max: config.max_rooms,
            });
        }
        Ok(())
    }

    /// Seats every session of a member in a room (made now if new; checked beforehand),
    /// publishes its join (none in a conversation) as coming from session `origin`, and
    /// returns the room as that session finds it. `undo` says what taking the join back
    /// undoes.
    pub(super) fn seat(
        &mut self,
        config: &ChatConfig,
        id: Uuid,
        name: &str,
        origin: Option<u64>,
        undo: Undo,
    ) -> (Entered, Option<Receipt>) {
        if !self.rooms.contains_key(name) {
            self.add_room(name.to_owned());
        }
        let role = self.role_shown(id, name);
        let member = self.members.get_mut(&id).expect("seated members exist");
        member.rooms.insert(name.to_owned());
        member.seats.insert(name.to_owned());
        let mut info = member.info.clone();
        info.role = role;
        let room = self.rooms.get_mut(name).expect("made above");
        // Events accepted but not yet stored are after this, so they reach the member when
        // they are delivered: history and queue meet without a gap.
        let live_after = room.durable_seq;
        let conns = member
            .conns
            .iter()
            .map(|(conn, c)| SeatConn {
                conn: *conn,
                queue: c.queue.clone(),
                live_after,
            })
            .collect();
        room.seats.insert(id, Seat { conns });
        let receipt = (!is_conversation(name))
            .then(|| self.publish_awaited(name, EventKind::Join, info, None, origin, undo));
        let conn = origin.unwrap_or_default();
        (self.entered(config, id, conn, name), receipt)
    }

    /// Seats one more session of a member in a room it is in.
    pub(super) fn seat_conn(&mut self, id: Uuid, conn: u64, name: &str) {
        let queue = self.members[&id].conns[&conn].queue.clone();
        let Some(room) = self.rooms.get_mut(name) else {
            return;
        };
        let live_after = room.durable_seq;
        room.seats.entry(id).or_default().conns.push(SeatConn {
            conn,
            queue,
            live_after,
        });
    }

    /// A room as one session of a member finds it: history up to where its queue takes
    /// over.
    pub(super) fn entered(&self, config: &ChatConfig, id: Uuid, conn: u64, name: &str) -> Entered {
        let room = &self.rooms[name];
        let live_after = room
            .seats
            .get(&id)
            .and_then(|seat| seat.live_after(conn))
            .unwrap_or(room.durable_seq);
        let key = self.members[&id].key.as_deref();
        // A large room's list is asked for apart (`sync_members`); its seats count those
        // whose part is on its way, close enough for a count.
        let (members, member_count) = if is_conversation(name) {
            (Vec::new(), room.seats.len())
        } else if self.lists_members(config, name) {
            let members = self.member_list(name);
            let count = members.len();
            (members, count)
        } else {
            (Vec::new(), room.headcount())
        };
        Entered {
            room: name.to_owned(),
            topic: room.topic.clone(),
            members,
            member_count,
            last_seq: live_after,
            history: room.history_through(live_after, config.history_len),
            peer: self.peer(id, name),
            read: self.marker(key, name),
            latest: room.durable_seq,
            notify: self.notify_level(key, name),
        }
    }

    /// A new session as it starts: in `room`, and in the identity's other rooms.
    pub(super) fn joined(
        &self,
        config: &ChatConfig,
        session: String,
        info: MemberInfo,
        conn: u64,
        room: &str,
    ) -> super::Joined {
        let member = &self.members[&info.id];
        let key = member.key.as_deref();
        let rooms = member
            .rooms
            .iter()
            .filter(|r| *r != room)
            .map(|r| super::session::Remembered {
                room: r.clone(),
                peer: self.peer(info.id, r),
                last_seq: self.rooms[r].durable_seq,
                read: self.marker(key, r),
                notify: self.notify_level(key, r),
            })
            .collect();
        super::Joined {
            session,
            key: member.key.clone(),
            room: self.entered(config, info.id, conn, room),
            info,
            rooms,
        }
    }

    /// The room's name as the chat keeps it: a conversation's as it is, a room's
    /// normalised. A conversation the member is not one of is no room at all, whether or
    /// not it exists.
    pub(super) fn room_key(&self, id: Uuid, room: &str) -> Result<String, RoomError> {
        if is_conversation(room) {
            let room = room.to_owned();
            return match self.identities.conversations.get(&room) {
                Some(ids) if ids.contains(&id) => Ok(room),
                _ => Err(RoomError::NoSuchRoom(room)),
            };
        }
        Ok(parse_room_name(room)?)
    }

    /// The room's name, if the member is in it. A secret room the member cannot see is
    /// no room at all, so that asking does not tell it exists.
    pub(super) fn seated_in(&self, id: Uuid, room: &str) -> Result<String, RoomError> {
        let name = self.room_key(id, room)?;
        let found = self.room(&name)?;
        if !self.members[&id].rooms.contains(&name) {
            if !self.may_see(Some(id), found) {
                return Err(RoomError::NoSuchRoom(name));
            }
            return Err(RoomError::NotInRoom(name));
        }
        Ok(name)
    }
}
