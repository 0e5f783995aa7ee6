//! Sessions: joining the server (and a first room), renaming everywhere at once, leaving,
//! and the idle expiry of HTTP members.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use tokio::sync::{mpsc, watch};
use uuid::Uuid;

use super::names::is_reserved;
use super::pending::Undo;
use super::reader::{Inbox, Unread};
use super::{
    Chat, Conn, Event, EventKind, LeaveReason, Lifetime, Member, MemberInfo, Receipt, RoomError,
    SendBudget, State, text_keys,
};
use crate::text::clean_name;
use std::collections::HashMap;

/// A new session, as [`Chat::join`] made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Joined {
    /// The secret that authorises every later call; known only to this member.
    pub session: String,
    pub info: MemberInfo,
    /// The identity's key; `None` for a guest.
    pub key: Option<String>,
    /// The room it entered.
    pub room: Entered,
    /// The identity's other rooms and conversations, which the session is in too.
    pub rooms: Vec<Remembered>,
}

/// A room as a member finds it on entering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entered {
    pub room: String,
    pub topic: Option<String>,
    /// Everyone in the room, the member included; empty in a large room (the session
    /// asks for the list with [`super::Chat::sync_members`]).
    pub members: Vec<MemberInfo>,
    /// How many members the room has, the member included.
    pub member_count: usize,
    /// The newest stored event when the member entered, the end of `history`: every later
    /// event (but its own) comes through its queue.
    pub last_seq: u64,
    /// The most recent stored events up to `last_seq`, oldest first.
    pub history: Vec<Event>,
    /// For a conversation, the other identity.
    pub peer: Option<MemberInfo>,
    /// The identity's read marker in the room (0 for a guest).
    pub read: u64,
    /// The room's newest stored event now: past `last_seq` for a session that has been in
    /// the room a while (its stream has the rest), so unread counts can reach it.
    pub latest: u64,
    /// The identity's notification level there (the room's default for a guest).
    pub notify: super::NotifyLevel,
}

/// A key the server has checked: its base64 public key and the member id made from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub key: String,
    pub id: Uuid,
    /// The key's fingerprint (`SHA256:…`): what the server's operators list names.
    pub fingerprint: String,
}

/// One of an identity's rooms as a new session finds it: the session is already in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remembered {
    pub room: String,
    /// For a conversation, the other identity.
    pub peer: Option<MemberInfo>,
    pub last_seq: u64,
    /// The identity's read marker there.
    pub read: u64,
    /// The identity's notification level there.
    pub notify: super::NotifyLevel,
}

impl Chat {
    /// Starts a guest's session under a settled name and enters `room` (the default room
    /// if `None`), telling everyone there. The join is complete once its event is stored,
    /// and undone, the session gone, if it cannot be.
    pub fn join(
        &self,
        requested_name: Option<&str>,
        lifetime: Lifetime,
        room: Option<&str>,
    ) -> Result<(Joined, Receipt), RoomError> {
        let (joined, receipt) = self.join_as(requested_name, lifetime, room, None, || Ok(()))?;
        Ok((joined, receipt.expect("a new member's join is an event")))
    }

    /// Starts a session, for the identity `key` (checked by the caller) or, without one,
    /// for a guest, asking `may_create` first if the room is to be made, once every other
    /// check has passed.
    ///
    /// A guest gets a name no key owns. An identity gets the name it owns back; a new one
    /// owns the name it settles on. An identity already connected gets one more session
    /// in all its rooms, and nobody sees a join; one coming back is put back in every room
    /// and conversation it was in. The receipt is that of the join into `room`, if there
    /// was one.
    pub fn join_as(
        &self,
        requested_name: Option<&str>,
        lifetime: Lifetime,
        room: Option<&str>,
        key: Option<Credentials>,
        may_create: impl FnOnce() -> Result<(), RoomError>,
    ) -> Result<(Joined, Option<Receipt>), RoomError> {
        self.join_from(None, requested_name, lifetime, room, key, may_create)
    }

    /// [`Chat::join_as`] for a session coming from `address`: a guest is banned and muted
    /// by it, and a server ban on it keeps it out.
    pub fn join_from(
        &self,
        address: Option<std::net::IpAddr>,
        requested_name: Option<&str>,
        lifetime: Lifetime,
        room: Option<&str>,
        key: Option<Credentials>,
        may_create: impl FnOnce() -> Result<(), RoomError>,
    ) -> Result<(Joined, Option<Receipt>), RoomError> {
        let config = &self.shared.config;
        let requested = requested_name.and_then(clean_name);
        if let Some(name) = &requested
            && is_reserved(name)
        {
            return Err(RoomError::NameReserved(name.clone()));
        }
        let asked = room.is_some();
        let asked_room = match room {
            Some(room) => Some(super::parse_room_name(room)?),
            None => None,
        };
        let (queue, rx) = mpsc::channel(config.queue_capacity);
        let session = new_session_secret();
        let now = Instant::now();
        let conn = Conn {
            session: session.clone(),
            queue: super::delivery::Delivery::new(queue),
            inbox: Arc::new(Inbox {
                queue: Arc::new(tokio::sync::Mutex::new(Unread { rx, returned: None })),
                ended: watch::Sender::new(None),
                handed_out: std::sync::Mutex::default(),
            }),
            lifetime,
            last_active: now,
            readers: 0,
        };

        let mut state = self.lock();
        if state.closing {
            return Err(RoomError::ShuttingDown);
        }
        state.check_pending(config)?;
        let key_str = key.as_ref().map(|k| k.key.as_str());
        // The rooms an identity coming back was in, and the name it owns.
        let (remembered, owned_name) = match &key {
            Some(k) => {
                let identity = state.identities.get(&k.key);
                (
                    identity.map(|i| i.rooms.clone()).unwrap_or_default(),
                    identity.and_then(|i| i.record.name.clone()),
                )
            }
            None => Default::default(),
        };
        let room = match asked_room {
            Some(room) => room,
            None if remembered.contains(&config.default_room) || remembered.is_empty() => {
                config.default_room.clone()
            }
            None => remembered
                .iter()
                .find(|r| !super::is_conversation(r))
                .cloned()
                .unwrap_or_else(|| config.default_room.clone()),
        };
        let asker = key.as_ref().map(|k| k.id);
        state.check_room_for_entry(config, &room, asker)?;
        let guest_address = if key.is_some() { None } else { address };
        let id_for_checks = key.as_ref().map(|k| k.id);
        state.check_server_ban(id_for_checks, guest_address)?;
        let fingerprint = key.as_ref().map(|k| k.fingerprint.as_str());
        let room = match state.check_entry(id_for_checks, fingerprint, guest_address, &room) {
            Ok(()) => room,
            // Kept out of the room it would have gone back to: another of its rooms, or the
            // default room, instead.
            Err(refused) if !asked => std::iter::once(&config.default_room)
                .chain(remembered.iter().filter(|r| !super::is_conversation(r)))
                .find(|r| {
                    state.rooms.contains_key(*r)
                        && state
                            .check_entry(id_for_checks, fingerprint, guest_address, r)
                            .is_ok()
                })
                .cloned()
                .ok_or(refused)?,
            Err(refused) => return Err(refused),
        };
        let conn_id = state.next_conn;
        state.next_conn += 1;

        let here = key
            .as_ref()
            .is_some_and(|k| state.members.contains_key(&k.id));
        let name = match (&key, owned_name) {
            // Its own name, whatever it asked for: renaming is for `/nick`.
            (Some(_), Some(owned)) => Some(owned),
            _ if here => None,
            _ => {
                if let Some(name) = &requested {
                    state.check_not_owned(name, key_str)?;
                }
                requested
            }
        };
        // One more session in a room it is not in yet enters it: as many rooms as ever.
        if let Some(member) = key.as_ref().and_then(|k| state.members.get(&k.id))
            && !member.rooms.contains(&room)
            && member
                .rooms
                .iter()
                .filter(|r| !super::is_conversation(r))
                .count()
                >= config.max_rooms_per_member
        {
            return Err(RoomError::TooManyRoomsForMember {
                max: config.max_rooms_per_member,
            });
        }
        // Every other check has passed: only now may a room be made.
        if !state.rooms.contains_key(&room) {
            may_create()?;
        }
        // Another session of an identity already here: no join, just one more session.
        if let Some(k) = key.as_ref().filter(|_| here) {
            let (joined, receipt) = state.attach(config, k, session, conn_id, conn, &room);
            drop(state);
            tracing::info!(id = %k.id, "another session of a member");
            return Ok((joined, receipt));
        }
        let name = state.take_free_name(name, key_str);
        let id = key.as_ref().map_or_else(Uuid::new_v4, |k| k.id);
        let info = MemberInfo::new(id, name.clone());
        if let Some(k) = &key {
            state.identity_for(&k.key, id);
            state.identities.set_fingerprint(&k.key, &k.fingerprint);
            state.identity_named(&k.key, &name);
        }
        let new_room = !state.rooms.contains_key(&room);
        state.sessions.insert(session.clone(), (id, conn_id));
        state.members.insert(
            id,
            Member {
                info: info.clone(),
                key: key.as_ref().map(|k| k.key.clone()),
                conns: HashMap::from([(conn_id, conn)]),
                budget: SendBudget::full(config.rate_limit, now),
                room_budget: SendBudget::full(room_change_limit(config), now),
                rooms: Default::default(),
                seats: Default::default(),
                address,
                fingerprint: key.as_ref().map(|k| k.fingerprint.clone()),
                away: None,
                away_told: Default::default(),
            },
        );
        if let Some(k) = &key {
            state.remember_room(&k.key, &room, true);
        }
        if new_room {
            state.add_room(room.clone());
            state.owned_by(&room, key.as_ref().map(|k| k.id));
        }
        let (_, receipt) = state.seat(config, id, &room, Some(conn_id), Undo::Session(id));
        // Back in every room it was in: they see it come back.
        for other in remembered.iter().filter(|r| **r != room) {
            if !state.rooms.contains_key(other) {
                continue;
            }
            if state
                .check_entry(Some(id), fingerprint, None, other)
                .is_err()
            {
                // Banned (or no longer invited) while away: not a room to go back to.
                if let Some(k) = &key {
                    state.remember_room(&k.key, other, false);
                }
                continue;
            }
            let _ = state.seat(config, id, other, Some(conn_id), Undo::Seat(id));
        }
        let joined = state.joined(config, session, info.clone(), conn_id, &room);
        drop(state);

        tracing::info!(%id, name = %info.name, %room, keyed = key.is_some(), "joined");
        Ok((joined, receipt))
    }

    /// Changes a member's name under the rules of joining (cleaned, reserved names refused,
    /// a taken or look-alike name gets a free variant) and tells every room it is in, old
    /// name as text. Counts against the rate limit like a message. Returns the name settled
    /// on, and the receipts of the renames: each is undone if it cannot be stored.
    pub fn nick(
        &self,
        session: &str,
        requested: &str,
    ) -> Result<(String, Vec<Receipt>), RoomError> {
        // The session first: even a refused rename counts as activity.
        let _ = self.lock().member_mut(session)?;
        let requested = clean_name(requested).ok_or(RoomError::NameEmpty)?;
        if is_reserved(&requested) {
            return Err(RoomError::NameReserved(requested));
        }
        let config = &self.shared.config;
        let mut state = self.lock();
        let (id, origin) = state.session(session)?;
        let key = state.members[&id].key.clone();
        state.check_not_owned(&requested, key.as_deref())?;
        // One rename per room: the bound on what waits for the log counts them all.
        let renames = state.members[&id].rooms.len().max(1);
        if state.pending.len() + renames > config.max_pending {
            return Err(RoomError::StorageBehind);
        }
        state.check_pending(config)?;
        state.charge(id, config.rate_limit, Instant::now())?;
        let old = state.members[&id].info.name.clone();
        // Our own name does not count as taken: a change of case is allowed.
        for key in text_keys(&old) {
            state.names.remove(&key);
        }
        let name = state.take_free_name(Some(requested), key.as_deref());
        let member = state.members.get_mut(&id).expect("looked up just above");
        member.info.name = name.clone();
        let info = member.info.clone();
        let rooms: Vec<String> = member.rooms.iter().cloned().collect();
        let mut receipts = Vec::new();
        if name != old {
            tracing::info!(%id, %old, new = %name, "renamed");
            if let Some(key) = &key {
                state.identity_named(key, &name);
            }
            for room in rooms {
                let undo = Undo::Rename {
                    id,
                    old: old.clone(),
                };
                receipts.push(state.publish_awaited(
                    &room,
                    EventKind::Nick,
                    info.clone(),
                    Some(old.clone()),
                    Some(origin),
                    undo,
                ));
            }
        }
        Ok((name, receipts))
    }

    /// Ends a session, with the member's own `reason`: if it was the member's last, every
    /// room it was in sees it leave; a session that already ended is unknown.
    pub fn leave(&self, session: &str, reason: Option<&str>) -> Result<(), RoomError> {
        let mut state = self.lock();
        let (id, conn) = *state
            .sessions
            .get(session)
            .ok_or(RoomError::UnknownSession)?;
        let max = self.shared.config.max_reason_bytes;
        let text = super::rooms::own_reason("Quit", reason, max)?;
        state.end_conn(id, conn, LeaveReason::Left, text);
        Ok(())
    }

    /// Ends a session for a reason of the server's (a closed connection, a slow reader).
    pub fn end_session(&self, session: &str, reason: LeaveReason) -> Result<(), RoomError> {
        let mut state = self.lock();
        let (id, conn) = *state
            .sessions
            .get(session)
            .ok_or(RoomError::UnknownSession)?;
        state.end_conn(id, conn, reason, reason.event_text());
        Ok(())
    }

    /// The member behind a session.
    pub fn member(&self, session: &str) -> Result<MemberInfo, RoomError> {
        Ok(self.lock().member_mut(session)?.info.clone())
    }

    /// Makes a member look as if its last call was `ago`, so expiry can be tested without
    /// waiting.
    #[cfg(test)]
    pub(crate) fn backdate_activity(&self, session: &str, ago: Duration) {
        let mut state = self.lock();
        let (id, conn) = state.session(session).expect("a live session");
        let member = state.members.get_mut(&id).expect("a live session");
        member
            .conns
            .get_mut(&conn)
            .expect("a live session")
            .last_active = Instant::now()
            .checked_sub(ago)
            .expect("the clock is older than that");
    }

    /// Ends every HTTP-only session that has had no call and no reader for `max_idle`.
    /// Returns how many were ended.
    pub fn expire_idle(&self, now: Instant, max_idle: Duration) -> usize {
        let mut state = self.lock();
        let idle: Vec<(Uuid, u64)> = state
            .members
            .values()
            .flat_map(|m| m.conns.iter().map(move |(n, c)| (m.info.id, *n, c)))
            .filter(|(_, _, c)| {
                c.lifetime == Lifetime::Idle
                    && c.readers == 0
                    && now.saturating_duration_since(c.last_active) >= max_idle
            })
            .map(|(id, n, _)| (id, n))
            .collect();
        for (id, conn) in &idle {
            let reason = LeaveReason::IdleTimeout;
            state.end_conn(*id, *conn, reason, reason.event_text());
        }
        idle.len()
    }
}

impl State {
    /// Adds a session to an identity that is here: seated in all its rooms and in `room`,
    /// which it enters if it is not in it yet (the only event this makes).
    fn attach(
        &mut self,
        config: &super::ChatConfig,
        key: &Credentials,
        session: String,
        conn_id: u64,
        conn: Conn,
        room: &str,
    ) -> (Joined, Option<Receipt>) {
        let id = key.id;
        let member = self.members.get_mut(&id).expect("the caller checked");
        member.conns.insert(conn_id, conn);
        let rooms: Vec<String> = member.rooms.iter().cloned().collect();
        self.sessions.insert(session.clone(), (id, conn_id));
        for room in &rooms {
            self.seat_conn(id, conn_id, room);
        }
        let receipt = if rooms.iter().any(|r| r == room) {
            None
        } else {
            self.remember_room(&key.key, room, true);
            let (_, receipt) = self.seat(config, id, room, Some(conn_id), Undo::Entry(id));
            receipt
        };
        let info = self.members[&id].info.clone();
        (self.joined(config, session, info, conn_id, room), receipt)
    }

    /// Spends one of the member's tokens for entering or parting a room; a member that
    /// keeps going past its limit is removed for flooding.
    pub(super) fn charge_room_change(
        &mut self,
        id: Uuid,
        config: &super::ChatConfig,
        now: Instant,
    ) -> Result<(), RoomError> {
        let Some(limit) = room_change_limit(config) else {
            return Ok(());
        };
        let member = self
            .members
            .get_mut(&id)
            .expect("charged members are present");
        match member.room_budget.spend(limit, now) {
            Err(RoomError::SessionEnded(reason)) => {
                tracing::warn!(%id, name = %member.info.name, "disconnected: flooding with rooms");
                self.remove(id, reason, reason.event_text());
                Err(RoomError::SessionEnded(reason))
            }
            other => other,
        }
    }

    /// Gives back what [`State::charge_room_change`] took, for a change that did not happen.
    pub(super) fn refund_room_change(&mut self, id: Uuid, config: &super::ChatConfig) {
        if let (Some(limit), Some(member)) = (room_change_limit(config), self.members.get_mut(&id))
        {
            member.room_budget.refund(limit);
        }
    }

    /// Spends one of the member's tokens; a member that keeps going past its limit is
    /// removed for flooding.
    pub(super) fn charge(
        &mut self,
        id: Uuid,
        limit: Option<super::RateLimit>,
        now: Instant,
    ) -> Result<(), RoomError> {
        let Some(limit) = limit else { return Ok(()) };
        let member = self
            .members
            .get_mut(&id)
            .expect("charged members are present");
        match member.budget.spend(limit, now) {
            Err(RoomError::SessionEnded(reason)) => {
                tracing::warn!(%id, name = %member.info.name, "disconnected: flooding");
                self.remove(id, reason, reason.event_text());
                Err(RoomError::SessionEnded(reason))
            }
            other => other,
        }
    }
}

/// How fast a member may enter and part rooms: a whole room list at once (a client
/// coming back enters every room it was in), then one a second. Off with the rate limit.
fn room_change_limit(config: &super::ChatConfig) -> Option<super::RateLimit> {
    config.rate_limit.map(|_| super::RateLimit {
        per_sec: 1.0,
        burst: config.max_rooms_per_member.min(u32::MAX as usize) as u32,
    })
}

/// 128 random bits from the thread-local CSPRNG, as 32 hex digits.
fn new_session_secret() -> String {
    format!("{:032x}", rand::rng().random::<u128>())
}
