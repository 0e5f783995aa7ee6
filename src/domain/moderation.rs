//! Moderation: kicking, banning (from a room, or the whole server), muting, roles, modes,
//! invites and deleting messages.
//!
//! A room's owner is the identity that created it; it names operators. Server operators
//! (by key fingerprint, given by the server) moderate every room. Each act is a room event
//! everyone there sees and history keeps, and the room's policy is stored whole with it.
//! Who may do what to whom is in `access`.

use std::sync::Arc;

use uuid::Uuid;

use super::access::{Found, Rank};
use super::event::Role;
use super::pending::{Extras, Undo};
use super::policy::{Ban, MAX_INVITES, Modes, Target, add_ban};
use super::rooms::own_reason;
use super::{
    Chat, Event, EventKind, LeaveReason, MemberInfo, Receipt, Record, RoomError, Stamped, State,
    conversations::is_conversation,
};

impl Chat {
    /// Puts the member `name` out of `room`, with `reason`. Everyone there, the member
    /// included, sees the kick; it may come back (a ban keeps it out).
    pub fn kick(
        &self,
        session: &str,
        room: &str,
        name: &str,
        reason: Option<&str>,
    ) -> Result<Receipt, RoomError> {
        let mut state = self.lock();
        let (id, conn) = state.session(session)?;
        let (room, rank) = state.room_to_moderate(id, room, Rank::Op, "kick")?;
        let reason = self.reason(reason)?;
        let found = state.find(name)?;
        let target = found
            .id
            .filter(|t| {
                state
                    .members
                    .get(t)
                    .is_some_and(|m| m.rooms.contains(&room))
            })
            .ok_or_else(|| RoomError::NoSuchMember(format!("{name} in {room}")))?;
        state.check_may_act(id, rank, &found, Some(&room))?;
        state.check_pending(&self.shared.config)?;
        let from = state.members[&id].info.clone();
        let info = state.members[&target].info.clone();
        state.put_out(target, &room);
        tracing::info!(%id, %target, %room, "kicked");
        Ok(state.publish_awaited_with(
            &room,
            EventKind::Kick,
            from,
            reason,
            Extras::on(info),
            Some(conn),
            Undo::Nothing,
        ))
    }

    /// Bans `target` (a name, key fingerprint or address) from `room` for `duration_secs`
    /// (`None`: for ever), putting it out if it is there: an identity by its key, a guest
    /// by its address (every guest from there).
    pub fn ban(
        &self,
        session: &str,
        room: &str,
        target: &str,
        duration_secs: Option<u64>,
        reason: Option<&str>,
    ) -> Result<(Ban, Receipt), RoomError> {
        let mut state = self.lock();
        let (id, conn) = state.session(session)?;
        let (room, rank) = state.room_to_moderate(id, room, Rank::Op, "ban")?;
        let reason = self.reason(reason)?;
        let found = state.find(target)?;
        state.check_may_act(id, rank, &found, Some(&room))?;
        state.check_pending(&self.shared.config)?;
        let ban = state.new_ban(id, &found, duration_secs, reason.clone())?;
        let now = state.now();
        let policy = &mut state.rooms.get_mut(&room).expect("checked").policy;
        policy.prune(now);
        add_ban(&mut policy.bans, ban.clone()).map_err(|max| RoomError::ListFull {
            what: "the ban list",
            max,
        })?;
        if let Target::Identity(banned) = found.target {
            policy.invited.remove(&banned);
        }
        state.record_policy(&room);
        let from = state.members[&id].info.clone();
        let extras = |target: MemberInfo| Extras {
            target: Some(target),
            until: ban.until,
            target_seq: None,
        };
        // One event for each member put out; one for the ban alone if nobody was there.
        let mut receipt = None;
        for out in state.present_as(found.target, &room) {
            let info = state.members[&out].info.clone();
            state.put_out(out, &room);
            let r = state.publish_awaited_with(
                &room,
                EventKind::Ban,
                from.clone(),
                reason.clone(),
                extras(info),
                Some(conn),
                Undo::Nothing,
            );
            receipt.get_or_insert(r);
        }
        let receipt = match receipt {
            Some(receipt) => receipt,
            None => state.publish_awaited_with(
                &room,
                EventKind::Ban,
                from,
                reason,
                extras(found.info.clone()),
                Some(conn),
                Undo::Nothing,
            ),
        };
        tracing::info!(%id, target = %found.info.name, %room, "banned");
        Ok((ban, receipt))
    }

    /// Lifts the ban on `target` in `room`: a name, fingerprint or address as for
    /// [`Chat::ban`], or the name the ban lists.
    pub fn unban(
        &self,
        session: &str,
        room: &str,
        target: &str,
    ) -> Result<(Ban, Receipt), RoomError> {
        let mut state = self.lock();
        let (id, conn) = state.session(session)?;
        let (room, _) = state.room_to_moderate(id, room, Rank::Op, "unban")?;
        state.check_pending(&self.shared.config)?;
        let found = state.find(target).ok();
        let old = state.rooms[&room].policy.clone();
        let now = state.now();
        let policy = &mut state.rooms.get_mut(&room).expect("checked").policy;
        policy.prune(now);
        let ban = take_listed(&mut policy.bans, found.as_ref(), target)
            .ok_or_else(|| RoomError::NotBanned(target.to_owned()))?;
        state.record_policy(&room);
        let receipt = state.publish_policy_event(
            id,
            conn,
            &room,
            EventKind::Unban,
            None,
            listed_member(&ban),
            old,
        );
        Ok((ban, receipt))
    }

    /// The bans in force in `room` (operators only).
    pub fn bans(&self, session: &str, room: &str) -> Result<Vec<Ban>, RoomError> {
        let mut state = self.lock();
        let (id, _) = state.session(session)?;
        let (room, _) = state.room_to_moderate(id, room, Rank::Op, "list bans")?;
        let now = state.now();
        Ok(state.rooms[&room]
            .policy
            .bans
            .iter()
            .filter(|b| b.holds(now))
            .cloned()
            .collect())
    }

    /// Bans `target` from the whole server (server operators only): it is put out of
    /// every room it is in, each of which sees a `gban` event, and its sessions end.
    pub fn gban(
        &self,
        session: &str,
        target: &str,
        duration_secs: Option<u64>,
        reason: Option<&str>,
    ) -> Result<(Ban, Vec<Receipt>), RoomError> {
        let mut state = self.lock();
        let (id, conn) = state.session(session)?;
        state.server_op_only(id, "ban from the server")?;
        let reason = self.reason(reason)?;
        let found = state.find(target)?;
        state.check_may_act(id, Rank::ServerOp, &found, None)?;
        state.check_pending(&self.shared.config)?;
        let ban = state.new_ban(id, &found, duration_secs, reason.clone())?;
        let now = state.now();
        state.server_policy.prune(now);
        add_ban(&mut state.server_policy.bans, ban.clone()).map_err(|max| RoomError::ListFull {
            what: "the server's ban list",
            max,
        })?;
        let policy = state.server_policy.clone();
        state.record(Record::ServerPolicy(policy));
        let from = state.members[&id].info.clone();
        let banned: Vec<Uuid> = state
            .members
            .values()
            .filter(|m| state.targets_of(m.info.id).contains(&found.target))
            .map(|m| m.info.id)
            .collect();
        let mut receipts = Vec::new();
        for out in banned {
            let info = state.members[&out].info.clone();
            let rooms: Vec<String> = state.members[&out]
                .rooms
                .iter()
                .filter(|r| !is_conversation(r))
                .cloned()
                .collect();
            for room in rooms {
                state.put_out(out, &room);
                receipts.push(state.publish_awaited_with(
                    &room,
                    EventKind::Gban,
                    from.clone(),
                    reason.clone(),
                    Extras {
                        target: Some(info.clone()),
                        until: ban.until,
                        target_seq: None,
                    },
                    Some(conn),
                    Undo::Nothing,
                ));
            }
            // Out of every room already: ending it tells nobody more.
            state.remove(out, LeaveReason::Banned, None);
        }
        tracing::info!(%id, target = %found.info.name, "banned from the server");
        Ok((ban, receipts))
    }

    /// Lifts a server ban (server operators only).
    pub fn ungban(&self, session: &str, target: &str) -> Result<Ban, RoomError> {
        let mut state = self.lock();
        let (id, _) = state.session(session)?;
        state.server_op_only(id, "lift server bans")?;
        let found = state.find(target).ok();
        let now = state.now();
        state.server_policy.prune(now);
        let ban = take_listed(&mut state.server_policy.bans, found.as_ref(), target)
            .ok_or_else(|| RoomError::NotBanned(target.to_owned()))?;
        let policy = state.server_policy.clone();
        state.record(Record::ServerPolicy(policy));
        Ok(ban)
    }

    /// The server's bans in force (server operators only).
    pub fn gbans(&self, session: &str) -> Result<Vec<Ban>, RoomError> {
        let mut state = self.lock();
        let (id, _) = state.session(session)?;
        state.server_op_only(id, "list server bans")?;
        let now = state.now();
        Ok(state
            .server_policy
            .bans
            .iter()
            .filter(|b| b.holds(now))
            .cloned()
            .collect())
    }

    /// Mutes `name` in `room` for `duration_secs` (`None`: until unmuted): it can read but
    /// not speak there.
    pub fn mute(
        &self,
        session: &str,
        room: &str,
        name: &str,
        duration_secs: Option<u64>,
    ) -> Result<(Ban, Receipt), RoomError> {
        let mut state = self.lock();
        let (id, conn) = state.session(session)?;
        let (room, rank) = state.room_to_moderate(id, room, Rank::Op, "mute")?;
        let found = state.find(name)?;
        state.check_may_act(id, rank, &found, Some(&room))?;
        state.check_pending(&self.shared.config)?;
        let mute = state.new_ban(id, &found, duration_secs, None)?;
        let old = state.rooms[&room].policy.clone();
        let now = state.now();
        let policy = &mut state.rooms.get_mut(&room).expect("checked").policy;
        policy.prune(now);
        add_ban(&mut policy.mutes, mute.clone()).map_err(|max| RoomError::ListFull {
            what: "the mute list",
            max,
        })?;
        state.record_policy(&room);
        let from = state.members[&id].info.clone();
        let receipt = state.publish_awaited_with(
            &room,
            EventKind::Mute,
            from,
            None,
            Extras {
                target: Some(found.info),
                until: mute.until,
                target_seq: None,
            },
            Some(conn),
            Undo::Policy {
                room: room.clone(),
                old: Box::new(old),
            },
        );
        Ok((mute, receipt))
    }

    /// Lifts a mute.
    pub fn unmute(
        &self,
        session: &str,
        room: &str,
        name: &str,
    ) -> Result<(Ban, Receipt), RoomError> {
        let mut state = self.lock();
        let (id, conn) = state.session(session)?;
        let (room, _) = state.room_to_moderate(id, room, Rank::Op, "unmute")?;
        state.check_pending(&self.shared.config)?;
        let found = state.find(name).ok();
        let old = state.rooms[&room].policy.clone();
        let now = state.now();
        let policy = &mut state.rooms.get_mut(&room).expect("checked").policy;
        policy.prune(now);
        let mute = take_listed(&mut policy.mutes, found.as_ref(), name)
            .ok_or_else(|| RoomError::NotBanned(name.to_owned()))?;
        state.record_policy(&room);
        let receipt = state.publish_policy_event(
            id,
            conn,
            &room,
            EventKind::Unmute,
            None,
            listed_member(&mute),
            old,
        );
        Ok((mute, receipt))
    }

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
        state.check_pending(&self.shared.config)?;
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
        state.check_pending(&self.shared.config)?;
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
        state.check_pending(&self.shared.config)?;
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
        let from = state.members[&id].info.clone();
        let receipt =
            state.publish_policy_event(id, conn, &room, EventKind::Invite, None, found.info, old);
        // Not in the room, so the room's events do not reach it: told on its own.
        let invited = Arc::new(Stamped::new(
            Event {
                room: room.clone(),
                ts: super::unix_ms(),
                kind: EventKind::Invited,
                from,
                ..Default::default()
            },
            state.encoder.as_ref(),
        ));
        state.tell_member(target, None, &invited);
        Ok(receipt)
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
        if seq > found.durable_seq {
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
        state.check_pending(&self.shared.config)?;
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

    /// Whether the session's member is a server operator.
    pub fn is_server_op(&self, session: &str) -> Result<bool, RoomError> {
        let mut state = self.lock();
        let (id, _) = state.session(session)?;
        Ok(state.is_server_op(id))
    }

    /// The server operators from now on, by key fingerprint (`SHA256:…`). Members
    /// connected now gain or lose the role at once.
    pub fn set_server_operators(&self, fingerprints: impl IntoIterator<Item = String>) {
        let mut state = self.lock();
        state.server_ops = fingerprints.into_iter().collect();
        tracing::info!(count = state.server_ops.len(), "server operators set");
    }

    /// A moderator's reason, cleaned to one line and bounded.
    fn reason(&self, reason: Option<&str>) -> Result<Option<String>, RoomError> {
        let max = self.shared.config.max_reason_bytes;
        Ok(own_reason("", reason, max)?.map(|r| r.trim_start_matches(": ").to_owned()))
    }
}

impl State {
    /// Takes a member out of a room's membership (it is forgotten as one of its rooms);
    /// its seat goes when the event saying so is delivered.
    fn put_out(&mut self, id: Uuid, room: &str) {
        let Some(member) = self.members.get_mut(&id) else {
            return;
        };
        member.rooms.remove(room);
        if let Some(key) = member.key.clone() {
            self.remember_room(&key, room, false);
        }
    }

    /// The members in `room` that a ban on `target` covers.
    fn present_as(&self, target: Target, room: &str) -> Vec<Uuid> {
        self.members
            .values()
            .filter(|m| m.rooms.contains(room))
            .filter(|m| self.targets_of(m.info.id).contains(&target))
            .map(|m| m.info.id)
            .collect()
    }

    fn server_op_only(&self, id: Uuid, action: &'static str) -> Result<(), RoomError> {
        if self.is_server_op(id) {
            Ok(())
        } else {
            Err(RoomError::NotPermitted {
                who: "server operators".into(),
                action,
            })
        }
    }

    /// Publishes a change to a room's policy, taken back (the policy as it was) if it
    /// cannot be stored.
    #[allow(clippy::too_many_arguments)]
    fn publish_policy_event(
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
            .filter(|(_, c)| c.queue.try_send(event.clone()).is_err())
            .map(|(conn, _)| *conn)
            .collect();
        for conn in too_slow {
            let reason = LeaveReason::TooSlow;
            self.end_conn(id, conn, reason, reason.event_text());
        }
    }
}

/// Takes from a ban (or mute) list the entry on `found`, or else the one listed under the
/// name or fingerprint `wanted`.
fn take_listed(list: &mut Vec<Ban>, found: Option<&Found>, wanted: &str) -> Option<Ban> {
    let lower = wanted.trim().to_lowercase();
    let at = list
        .iter()
        .position(|b| found.is_some_and(|f| f.target == b.target))
        .or_else(|| {
            list.iter().position(|b| {
                b.name.to_lowercase() == lower || b.fingerprint.as_deref() == Some(wanted.trim())
            })
        })?;
    Some(list.remove(at))
}

/// The member a listed ban is on, as an event names it.
fn listed_member(ban: &Ban) -> MemberInfo {
    let id = match ban.target {
        Target::Identity(id) => id,
        Target::Address(_) => Uuid::nil(),
    };
    MemberInfo {
        id,
        name: ban.name.clone(),
        guest: matches!(ban.target, Target::Address(_)),
        ..Default::default()
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
