//! Moderation of a room's members: kicking, banning (identities by key, guests by address)
//! and muting, and the lists of both.
//!
//! A room's owner is the identity that created it; it names operators. Server operators
//! (by key fingerprint, given by the server) moderate every room. Each act is a room event
//! everyone there sees and history keeps, and the room's policy is stored whole with it.
//! Who may do what to whom is in `access`; roles, modes, invites and deletes in `roles`;
//! server bans in `server_bans`.

use uuid::Uuid;

use super::access::{Found, Rank};
use super::pending::{Extras, Undo};
use super::policy::{Ban, Target, add_ban};
use super::rooms::own_reason;
use super::{Chat, EventKind, MemberInfo, Receipt, RoomError, State};

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
        state.check_moderation(id, &self.shared.config)?;
        let from = state.members[&id].info.clone();
        let info = state.members[&target].info.clone();
        state.put_out(target, &room);
        tracing::info!(%id, %target, %room, "kicked");
        let undo = Undo::PutOut {
            id: Some(target),
            old: Box::new(state.rooms[&room].policy.clone()),
            room: room.clone(),
        };
        Ok(state.publish_awaited_with(
            &room,
            EventKind::Kick,
            from,
            reason,
            Extras::on(info),
            Some(conn),
            undo,
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
        state.check_guest_here(&found, &room)?;
        state.check_may_act(id, rank, &found, Some(&room))?;
        let ban = state.new_ban(id, &found, duration_secs, reason.clone())?;
        state.check_moderation(id, &self.shared.config)?;
        let old = state.rooms[&room].policy.clone();
        let now = state.now();
        let policy = &mut state.rooms.get_mut(&room).expect("checked").policy;
        policy.prune(now);
        add_ban(&mut policy.bans, ban.clone()).map_err(|max| RoomError::ListFull {
            what: "the ban list",
            max,
        })?;
        if let Target::Identity(banned) = found.target {
            // Neither invited nor an operator any more.
            policy.invited.remove(&banned);
            policy.operators.remove(&banned);
        }
        state.record_policy(&room);
        let undo = |out: Option<Uuid>| Undo::PutOut {
            id: out,
            room: room.clone(),
            old: Box::new(old.clone()),
        };
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
                undo(Some(out)),
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
                undo(None),
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
        self.lift(session, room, target, EventKind::Unban)
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
        state.check_guest_here(&found, &room)?;
        state.check_may_act(id, rank, &found, Some(&room))?;
        let mute = state.new_ban(id, &found, duration_secs, None)?;
        state.check_moderation(id, &self.shared.config)?;
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
        self.lift(session, room, name, EventKind::Unmute)
    }

    /// Takes `target` off the room's ban list (`unban`) or mute list (`unmute`), and
    /// tells the room; put back if that cannot be stored.
    fn lift(
        &self,
        session: &str,
        room: &str,
        target: &str,
        kind: EventKind,
    ) -> Result<(Ban, Receipt), RoomError> {
        let mut state = self.lock();
        let (id, conn) = state.session(session)?;
        let action = if kind == EventKind::Unban {
            "unban"
        } else {
            "unmute"
        };
        let (room, _) = state.room_to_moderate(id, room, Rank::Op, action)?;
        state.check_moderation(id, &self.shared.config)?;
        let found = state.find(target).ok();
        if found.as_ref().is_some_and(|f| f.id == Some(id)) {
            return Err(RoomError::Protected(
                "you cannot do that to yourself".into(),
            ));
        }
        let old = state.rooms[&room].policy.clone();
        let now = state.now();
        let policy = &mut state.rooms.get_mut(&room).expect("checked").policy;
        policy.prune(now);
        let list = if kind == EventKind::Unban {
            &mut policy.bans
        } else {
            &mut policy.mutes
        };
        let lifted = take_listed(list, found.as_ref(), target)
            .ok_or_else(|| RoomError::NotBanned(target.to_owned()))?;
        state.record_policy(&room);
        let on = listed_member(&lifted);
        let receipt = state.publish_policy_event(id, conn, &room, kind, None, on, old);
        Ok((lifted, receipt))
    }

    /// A moderator's reason, cleaned to one line and bounded.
    pub(super) fn reason(&self, reason: Option<&str>) -> Result<Option<String>, RoomError> {
        let max = self.shared.config.max_reason_bytes;
        Ok(own_reason("", reason, max)?.map(|r| r.trim_start_matches(": ").to_owned()))
    }
}

impl State {
    /// Takes a member out of a room's membership (it is forgotten as one of its rooms);
    /// its seat goes when the event saying so is delivered.
    pub(super) fn put_out(&mut self, id: Uuid, room: &str) {
        let Some(member) = self.members.get_mut(&id) else {
            return;
        };
        member.rooms.remove(room);
        if let Some(key) = member.key.clone() {
            self.remember_room(&key, room, false);
        }
    }

    /// A guest named by its name is banned or muted by its address, which nobody but the
    /// server's operators gets to see: only a guest in the room can be named so there.
    fn check_guest_here(&self, found: &Found, room: &str) -> Result<(), RoomError> {
        let named_guest = matches!(found.target, Target::Address(_)) && found.id.is_some();
        let here = found
            .id
            .and_then(|id| self.members.get(&id))
            .is_some_and(|m| m.rooms.contains(room));
        if named_guest && !here {
            return Err(RoomError::NoSuchMember(format!(
                "{} in {room}",
                found.info.name
            )));
        }
        Ok(())
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
}

/// Takes from a ban (or mute) list the entry on `found`, or else the one listed under the
/// name or fingerprint `wanted`.
pub(super) fn take_listed(list: &mut Vec<Ban>, found: Option<&Found>, wanted: &str) -> Option<Ban> {
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
pub(super) fn listed_member(ban: &Ban) -> MemberInfo {
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
