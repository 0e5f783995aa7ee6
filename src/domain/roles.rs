//! A room's roles, modes and invites, and deleting messages: what its owner and operators
//! set, each a room event, stored with the room's policy.

use std::sync::Arc;

use uuid::Uuid;

use super::access::Rank;
use super::event::Role;
use super::pending::{Extras, Undo};
use super::policy::{MAX_INVITES, Modes, Target};
use super::{
    Chat, Event, EventKind, LeaveReason, MemberInfo, Receipt, RoomError, Stamped, State,
    conversations::is_conversation,
};

impl Chat {
    /// Gives the identity `name` a role in `room`: [`Role::Op`], none, or [`Role::Owner`]
    /// (handing the room over: the old owner stays an operator). The owner's and server
    /// operators' to give.
    pub fn set_role(
        &self,
        session: &str,
        room: &str,
        name: &str,
        role: Option<Role>,
    ) -> Result<Vec<Receipt>, RoomError> {
        let mut state = self.lock();
        let (id, conn) = state.session(session)?;
        let (room, _) = state.room_to_moderate(id, room, Rank::Owner, "give roles")?;
        let found = state.find(name)?;
        let Target::Identity(target) = found.target else {
            return Err(RoomError::NoSuchIdentity(name.to_owned()));
        };
        if role == Some(Role::ServerOp) {
            return Err(RoomError::NotPermitted {
                who: "the server's operators file".into(),
                action: "name server operators",
            });
        }
        state.check_moderation(id, &self.shared.config)?;
        let old = state.rooms[&room].policy.clone();
        if old.owner == Some(target) && role != Some(Role::Owner) {
            return Err(RoomError::Protected(format!(
                "{} owns {room}: hand it over first",
                found.info.name
            )));
        }
        let policy = &mut state.rooms.get_mut(&room).expect("checked").policy;
        let mut changed = vec![(target, role)];
        match role {
            Some(Role::Owner) => {
                if let Some(previous) = policy.owner.replace(target)
                    && previous != target
                {
                    policy.operators.insert(previous);
                    changed.push((previous, Some(Role::Op)));
                }
                policy.operators.remove(&target);
            }
            Some(_) => {
                policy.operators.insert(target);
            }
            None => {
                policy.operators.remove(&target);
            }
        }
        if state.rooms[&room].policy == old {
            return Ok(Vec::new());
        }
        state.record_policy(&room);
        let mut receipts = Vec::new();
        for (who, role) in changed {
            let info = state
                .members
                .get(&who)
                .map(|m| m.info.clone())
                .or_else(|| {
                    let identity = state.identities.by_id(who)?;
                    Some(MemberInfo::new(who, identity.record.name.clone()?))
                })
                .unwrap_or_else(|| MemberInfo::new(who, found.info.name.clone()));
            let text = role.map(|r| r.as_str().to_owned());
            receipts.push(state.publish_policy_event(
                id,
                conn,
                &room,
                EventKind::Role,
                text,
                info,
                old.clone(),
            ));
        }
        Ok(receipts)
    }

    /// A room's modes; with `change` (such as `"+i"`, `"-t"`, `"+is"`), changed first by
    /// an operator, and the room told. Returns the room, its modes and the receipt of a
    /// change.
    pub fn mode(
        &self,
        session: &str,
        room: &str,
        change: Option<&str>,
    ) -> Result<(String, Modes, Option<Receipt>), RoomError> {
        let mut state = self.lock();
        let (id, conn) = state.session(session)?;
        let Some(change) = change else {
            let (room, _) = state.room_to_moderate(id, room, Rank::Member, "see modes")?;
            let modes = state.rooms[&room].policy.modes;
            return Ok((room, modes, None));
        };
        let (room, _) = state.room_to_moderate(id, room, Rank::Op, "change modes")?;
        let old = state.rooms[&room].policy.clone();
        let modes = old.modes.apply(change)?;
        if modes == old.modes {
            return Ok((room, modes, None));
        }
        state.check_moderation(id, &self.shared.config)?;
        state.rooms.get_mut(&room).expect("checked").policy.modes = modes;
        state.record_policy(&room);
        let text = mode_change(old.modes, modes);
        let from = state.members[&id].info.clone();
        let receipt = state.publish_awaited_with(
            &room,
            EventKind::Mode,
            from,
            Some(text),
            Extras::default(),
            Some(conn),
            Undo::Policy {
                room: room.clone(),
                old: Box::new(old),
            },
        );
        Ok((room, modes, Some(receipt)))
    }

    /// Invites the identity `name` into `room`: it may enter even while the room is invite
    /// only, and is told with an `invited` event if it is connected.
    pub fn invite(&self, session: &str, room: &str, name: &str) -> Result<Receipt, RoomError> {
        let mut state = self.lock();
        let (id, conn) = state.session(session)?;
        let (room, _) = state.room_to_moderate(id, room, Rank::Op, "invite")?;
        let found = state.find(name)?;
        let Target::Identity(target) = found.target else {
            return Err(RoomError::NoSuchIdentity(name.to_owned()));
        };
        state.check_moderation(id, &self.shared.config)?;
        let old = state.rooms[&room].policy.clone();
        let policy = &mut state.rooms.get_mut(&room).expect("checked").policy;
        if !policy.invited.contains(&target) && policy.invited.len() >= MAX_INVITES {
            return Err(RoomError::ListFull {
                what: "the invite list",
                max: MAX_INVITES,
            });
        }
        policy.invited.insert(target);
        state.record_policy(&room);
        // The invitee hears of it once the invitation is stored (see `invited`).
        Ok(state.publish_policy_event(id, conn, &room, EventKind::Invite, None, found.info, old))
    }

    /// Deletes the message `seq` of `room`: the author's own, or anyone's for an operator
    /// of the room. `stored` is what the log holds at that seq (read by the caller, off
    /// the lock); the room's recent events are looked at first. The text goes from the
    /// store when the `delete` event is stored.
    pub fn delete(
        &self,
        session: &str,
        room: &str,
        seq: u64,
        stored: Option<&Event>,
    ) -> Result<Receipt, RoomError> {
        let mut state = self.lock();
        let (id, conn) = state.session(session)?;
        let room = state.seated_in(id, room)?;
        let missing = || RoomError::NoSuchMessage {
            room: room.clone(),
            seq,
        };
        let found = &state.rooms[&room];
        if seq > found.durable_seq || state.pending.deletes(&room, seq) {
            return Err(missing());
        }
        let message = match found.recent.binary_search_by_key(&seq, |e| e.seq) {
            Ok(at) => found.recent[at].event.clone(),
            Err(_) => stored
                .filter(|e| e.seq == seq)
                .cloned()
                .ok_or_else(missing)?,
        };
        if !matches!(message.kind, EventKind::Message | EventKind::Action) {
            return Err(missing());
        }
        if message.from.id != id && (is_conversation(&room) || state.rank(id, found) < Rank::Op) {
            return Err(RoomError::NotPermitted {
                who: format!("its author or operators of {room}"),
                action: "delete that message",
            });
        }
        state.check_moderation(id, &self.shared.config)?;
        let from = state.members[&id].info.clone();
        tracing::info!(%id, %room, seq, "deleted a message");
        Ok(state.publish_awaited_with(
            &room,
            EventKind::Delete,
            from,
            None,
            Extras {
                target: Some(MemberInfo::new(message.from.id, message.from.name)),
                until: None,
                target_seq: Some(seq),
            },
            Some(conn),
            Undo::Nothing,
        ))
    }
}

impl State {
    /// Tells an invitee of an `invite` just stored: not in the room, it does not get the
    /// room's events, so it gets an `invited` of its own.
    pub(super) fn invited(&mut self, invite: &Event) {
        let Some(target) = &invite.target else { return };
        if self
            .members
            .get(&target.id)
            .is_none_or(|m| m.rooms.contains(&invite.room))
        {
            return;
        }
        let invited = Arc::new(Stamped::new(
            Event {
                room: invite.room.clone(),
                ts: invite.ts,
                kind: EventKind::Invited,
                from: invite.from.clone(),
                ..Default::default()
            },
            self.encoder.as_ref(),
        ));
        self.tell_member(target.id, None, &invited);
    }

    /// Publishes a change to a room's policy, taken back (the policy as it was) if it
    /// cannot be stored.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn publish_policy_event(
        &mut self,
        id: Uuid,
        conn: u64,
        room: &str,
        kind: EventKind,
        text: Option<String>,
        target: MemberInfo,
        old: super::policy::RoomPolicy,
    ) -> Receipt {
        let from = self.members[&id].info.clone();
        self.publish_awaited_with(
            room,
            kind,
            from,
            text,
            Extras::on(target),
            Some(conn),
            Undo::Policy {
                room: room.to_owned(),
                old: Box::new(old),
            },
        )
    }

    /// Puts an event no room stores into every session of member `id` but `except`;
    /// a session whose queue is full is ended as too slow.
    pub(super) fn tell_member(&mut self, id: Uuid, except: Option<u64>, event: &Arc<Stamped>) {
        let Some(member) = self.members.get(&id) else {
            return;
        };
        let too_slow: Vec<u64> = member
            .conns
            .iter()
            .filter(|(conn, _)| Some(**conn) != except)
            .filter(|(_, c)| !c.queue.push(event))
            .map(|(conn, _)| *conn)
            .collect();
        for conn in too_slow {
            let reason = LeaveReason::TooSlow;
            self.end_conn(id, conn, reason, reason.event_text());
        }
    }
}

/// The letters a change turned on and off, such as `"+i-t"`.
fn mode_change(old: Modes, new: Modes) -> String {
    let mut on = String::new();
    let mut off = String::new();
    for (letter, was, is) in [
        ('i', old.invite_only, new.invite_only),
        ('s', old.secret, new.secret),
        ('t', old.topic_locked, new.topic_locked),
    ] {
        if is && !was {
            on.push(letter);
        } else if was && !is {
            off.push(letter);
        }
    }
    let mut text = String::new();
    if !on.is_empty() {
        text.push('+');
        text.push_str(&on);
    }
    if !off.is_empty() {
        text.push('-');
        text.push_str(&off);
    }
    text
}
