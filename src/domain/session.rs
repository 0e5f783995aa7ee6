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
    Chat, Event, EventKind, LeaveReason, Lifetime, Member, MemberInfo, Receipt, RoomError,
    SendBudget, State, text_keys,
};
use crate::text::clean_name;

/// A new session, as [`Chat::join`] made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Joined {
    /// The secret that authorises every later call; known only to this member.
    pub session: String,
    pub info: MemberInfo,
    /// The room it entered.
    pub room: Entered,
}

/// A room as a member finds it on entering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entered {
    pub room: String,
    pub topic: Option<String>,
    /// Everyone in the room, the member included.
    pub members: Vec<MemberInfo>,
    /// The newest stored event when the member entered, the end of `history`: every later
    /// event (but its own) comes through its queue.
    pub last_seq: u64,
    /// The most recent stored events up to `last_seq`, oldest first.
    pub history: Vec<Event>,
}

impl Chat {
    /// Starts a session under a settled name and enters `room` (the default room if
    /// `None`), telling everyone there. The join is complete once its event is stored, and
    /// undone, the session gone, if it cannot be.
    pub fn join(
        &self,
        requested_name: Option<&str>,
        lifetime: Lifetime,
        room: Option<&str>,
    ) -> Result<(Joined, Receipt), RoomError> {
        self.join_with(requested_name, lifetime, room, || Ok(()))
    }

    /// [`Chat::join`], asking `may_create` first if the room is to be made, once every other
    /// check has passed.
    pub fn join_with(
        &self,
        requested_name: Option<&str>,
        lifetime: Lifetime,
        room: Option<&str>,
        may_create: impl FnOnce() -> Result<(), RoomError>,
    ) -> Result<(Joined, Receipt), RoomError> {
        let config = &self.shared.config;
        let requested = requested_name.and_then(clean_name);
        if let Some(name) = &requested
            && is_reserved(name)
        {
            return Err(RoomError::NameReserved(name.clone()));
        }
        let room = match room {
            Some(room) => super::parse_room_name(room)?,
            None => config.default_room.clone(),
        };
        let (queue, rx) = mpsc::channel(config.queue_capacity);
        let session = new_session_secret();
        let id = Uuid::new_v4();
        let now = Instant::now();

        let mut state = self.lock();
        if state.closing {
            return Err(RoomError::ShuttingDown);
        }
        state.check_pending(config)?;
        state.check_room_for_entry(config, &room)?;
        if !state.rooms.contains_key(&room) {
            may_create()?;
        }
        let name = state.take_free_name(requested);
        let info = MemberInfo::new(id, name);
        state.sessions.insert(session.clone(), id);
        state.members.insert(
            id,
            Member {
                info: info.clone(),
                session: session.clone(),
                queue,
                inbox: Arc::new(Inbox {
                    queue: Arc::new(tokio::sync::Mutex::new(Unread { rx, returned: None })),
                    ended: watch::Sender::new(None),
                    handed_out: std::sync::Mutex::default(),
                }),
                lifetime,
                last_active: now,
                readers: 0,
                budget: SendBudget::full(config.rate_limit, now),
                room_budget: SendBudget::full(room_change_limit(config), now),
                rooms: Default::default(),
            },
        );
        let (entered, receipt) = state.seat(config, id, &room, Undo::Session(id));
        drop(state);

        tracing::info!(%id, name = %info.name, %room, "joined");
        let joined = Joined {
            session,
            info,
            room: entered,
        };
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
        let member = state.member_mut(session)?;
        let id = member.info.id;
        // One rename per room: the bound on what waits for the log counts them all.
        let renames = member.rooms.len().max(1);
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
        let name = state.take_free_name(Some(requested));
        let member = state.members.get_mut(&id).expect("looked up just above");
        member.info.name = name.clone();
        let info = member.info.clone();
        let rooms: Vec<String> = member.rooms.iter().cloned().collect();
        let mut receipts = Vec::new();
        if name != old {
            tracing::info!(%id, %old, new = %name, "renamed");
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
                    undo,
                ));
            }
        }
        Ok((name, receipts))
    }

    /// Ends a session and tells every room it was in, with the member's own `reason`; a
    /// session that already ended is unknown.
    pub fn leave(&self, session: &str, reason: Option<&str>) -> Result<(), RoomError> {
        let mut state = self.lock();
        let id = *state
            .sessions
            .get(session)
            .ok_or(RoomError::UnknownSession)?;
        let max = self.shared.config.max_reason_bytes;
        let text = super::rooms::own_reason("Quit", reason, max)?;
        state.remove(id, LeaveReason::Left, text);
        Ok(())
    }

    /// Ends a session for a reason of the server's (a closed connection, a slow reader).
    pub fn end_session(&self, session: &str, reason: LeaveReason) -> Result<(), RoomError> {
        let mut state = self.lock();
        let id = *state
            .sessions
            .get(session)
            .ok_or(RoomError::UnknownSession)?;
        state.remove(id, reason, reason.event_text());
        Ok(())
    }

    /// The identity behind a session.
    pub fn member(&self, session: &str) -> Result<MemberInfo, RoomError> {
        Ok(self.lock().member_mut(session)?.info.clone())
    }

    /// Makes a member look as if its last call was `ago`, so expiry can be tested without
    /// waiting.
    #[cfg(test)]
    pub(crate) fn backdate_activity(&self, session: &str, ago: Duration) {
        let mut state = self.lock();
        let member = state.member_mut(session).expect("a live session");
        member.last_active = Instant::now()
            .checked_sub(ago)
            .expect("the clock is older than that");
    }

    /// Removes every HTTP-only member that has had no call and no reader for `max_idle`.
    /// Returns how many were removed.
    pub fn expire_idle(&self, now: Instant, max_idle: Duration) -> usize {
        let mut state = self.lock();
        let idle: Vec<Uuid> = state
            .members
            .values()
            .filter(|m| {
                m.lifetime == Lifetime::Idle
                    && m.readers == 0
                    && now.saturating_duration_since(m.last_active) >= max_idle
            })
            .map(|m| m.info.id)
            .collect();
        for id in &idle {
            state.remove(
                *id,
                LeaveReason::IdleTimeout,
                LeaveReason::IdleTimeout.event_text(),
            );
        }
        idle.len()
    }
}

impl State {
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
