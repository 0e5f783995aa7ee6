//! Who may do what, and who is kept out: roles and their ranks, the checks on entering a
//! room (bans, invite only) and on speaking (mutes), who may see a secret room, and finding
//! the member, identity or address a moderation command names.

use std::net::IpAddr;

use uuid::Uuid;

use super::conversations::is_conversation;
use super::event::Role;
use super::policy::{Ban, MAX_DURATION_SECS, MIN_DURATION_SECS, Target};
use super::{MemberInfo, Record, Room, RoomError, State, parse_room_name};

/// How much a member may do in a room: a server operator over an owner over an operator
/// over everyone else. Moderating needs [`Rank::Op`], and acts only on lower ranks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Rank {
    Member,
    Op,
    Owner,
    ServerOp,
}

/// Whoever a moderation command names, found.
#[derive(Debug, Clone)]
pub(super) struct Found {
    /// What a ban or mute is on: the identity, or a guest's address.
    pub(super) target: Target,
    /// As others see it (for an address: its text as the name, and no id).
    pub(super) info: MemberInfo,
    /// The member id to check ranks on and to put out: an identity's, or the guest's
    /// named (absent for an address given as such).
    pub(super) id: Option<Uuid>,
    pub(super) fingerprint: Option<String>,
}

impl State {
    /// What a moderation command that tells a room must pass: room for its event in the
    /// log, and the actor's send budget (each tells the room as a message does).
    pub(super) fn check_moderation(
        &mut self,
        id: Uuid,
        config: &super::ChatConfig,
    ) -> Result<(), RoomError> {
        self.check_pending(config)?;
        self.charge(id, config.rate_limit, std::time::Instant::now())
    }

    /// The wall clock, in milliseconds since the epoch.
    pub(super) fn now(&self) -> u64 {
        (self.clock)()
    }

    /// Whether the identity `id` (connected or not) is a server operator.
    pub(super) fn is_server_op(&self, id: Uuid) -> bool {
        let fingerprint = match self.members.get(&id) {
            Some(member) => member.fingerprint.as_deref(),
            None => self
                .identities
                .by_id(id)
                .and_then(|i| i.fingerprint.as_deref()),
        };
        fingerprint.is_some_and(|f| self.server_ops.contains(f))
    }

    pub(super) fn rank(&self, id: Uuid, room: &Room) -> Rank {
        if self.is_server_op(id) {
            return Rank::ServerOp;
        }
        match room.policy.role_of(id) {
            Some(Role::Owner) => Rank::Owner,
            Some(_) => Rank::Op,
            None => Rank::Member,
        }
    }

    /// The role shown beside a member in a room: a server operator's, else its own there.
    pub(super) fn role_shown(&self, id: Uuid, room: &str) -> Option<Role> {
        if self.is_server_op(id) {
            return Some(Role::ServerOp);
        }
        self.rooms.get(room)?.policy.role_of(id)
    }

    /// What bans and mutes of a member are on: its identity, or (a guest) its address.
    pub(super) fn targets_of(&self, id: Uuid) -> Vec<Target> {
        match self.members.get(&id) {
            Some(member) if member.key.is_none() => {
                member.address.map(Target::address).into_iter().collect()
            }
            _ => vec![Target::Identity(id)],
        }
    }

    /// Refuses anyone banned from the whole server: the identity `id`, or a guest from
    /// `address`.
    pub(super) fn check_server_ban(
        &self,
        id: Option<Uuid>,
        address: Option<IpAddr>,
    ) -> Result<(), RoomError> {
        let targets = entry_targets(id, address);
        match self.server_policy.ban_on(&targets, self.now()) {
            Some(ban) => Err(RoomError::Banned {
                room: None,
                until: ban.until,
                reason: ban.reason.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Refuses entry to a room the member is banned from, or, for an invite-only room, was
    /// not invited to (its operators, owner and the server's operators always get in). A
    /// room that does not exist yet keeps nobody out.
    pub(super) fn check_entry(
        &self,
        id: Option<Uuid>,
        fingerprint: Option<&str>,
        address: Option<IpAddr>,
        room: &str,
    ) -> Result<(), RoomError> {
        let Some(room) = self.rooms.get(room) else {
            return Ok(());
        };
        let policy = &room.policy;
        if let Some(ban) = policy.ban_on(&entry_targets(id, address), self.now()) {
            return Err(RoomError::Banned {
                room: Some(room.name.clone()),
                until: ban.until,
                reason: ban.reason.clone(),
            });
        }
        if policy.modes.invite_only {
            let server_op = fingerprint.is_some_and(|f| self.server_ops.contains(f));
            let welcome =
                id.is_some_and(|id| policy.invited.contains(&id) || policy.role_of(id).is_some());
            if !(server_op || welcome) {
                return Err(RoomError::InviteOnly(room.name.clone()));
            }
        }
        Ok(())
    }

    /// Refuses a message from a member muted in the room.
    pub(super) fn check_mute(&self, id: Uuid, room: &str) -> Result<(), RoomError> {
        let Some(found) = self.rooms.get(room).filter(|r| !r.policy.mutes.is_empty()) else {
            return Ok(());
        };
        match found.policy.mute_on(&self.targets_of(id), self.now()) {
            Some(mute) => Err(RoomError::Muted {
                room: room.to_owned(),
                until: mute.until,
            }),
            None => Ok(()),
        }
    }

    /// Whether the member `asker` (none: someone without a session) may know of `room`: a
    /// secret room is known only to those in it and to server operators.
    pub(super) fn may_see(&self, asker: Option<Uuid>, room: &Room) -> bool {
        if !room.policy.modes.secret {
            return true;
        }
        asker.is_some_and(|id| {
            self.is_server_op(id)
                || self
                    .members
                    .get(&id)
                    .is_some_and(|m| m.rooms.contains(&room.name))
        })
    }

    /// The room `raw` names, for a moderation command by member `id`: it must exist (and
    /// be known to it), not be a conversation, and the member must rank at least `needed`
    /// there.
    pub(super) fn room_to_moderate(
        &self,
        id: Uuid,
        raw: &str,
        needed: Rank,
        action: &'static str,
    ) -> Result<(String, Rank), RoomError> {
        if is_conversation(raw) {
            return Err(RoomError::NoSuchRoom(raw.to_owned()));
        }
        let name = parse_room_name(raw)?;
        let room = self
            .rooms
            .get(&name)
            .filter(|room| self.may_see(Some(id), room))
            .ok_or_else(|| RoomError::NoSuchRoom(name.clone()))?;
        let rank = self.rank(id, room);
        // An operator banned from the room has no say in it.
        if let Some(ban) = room.policy.ban_on(&self.targets_of(id), self.now()) {
            return Err(RoomError::Banned {
                room: Some(name.clone()),
                until: ban.until,
                reason: ban.reason.clone(),
            });
        }
        if rank < needed {
            let who = match needed {
                Rank::Member | Rank::Op => format!("operators of {name}"),
                Rank::Owner => format!("the owner of {name}"),
                Rank::ServerOp => "server operators".to_owned(),
            };
            return Err(RoomError::NotPermitted { who, action });
        }
        Ok((name, rank))
    }

    /// Refuses to act on someone of the actor's rank or above in the room (none: the
    /// server), on a server operator, or on oneself.
    pub(super) fn check_may_act(
        &self,
        actor: Uuid,
        rank: Rank,
        found: &Found,
        room: Option<&str>,
    ) -> Result<(), RoomError> {
        let Some(target) = found.id else {
            return Ok(());
        };
        let name = &found.info.name;
        if target == actor {
            return Err(RoomError::Protected(
                "you cannot do that to yourself".into(),
            ));
        }
        if self.is_server_op(target) {
            return Err(RoomError::Protected(format!("{name} is a server operator")));
        }
        let Some(room) = room.and_then(|r| self.rooms.get(r)) else {
            return Ok(());
        };
        let theirs = self.rank(target, room);
        if theirs >= rank {
            return Err(RoomError::Protected(match theirs {
                Rank::Owner => format!("{name} owns {}", room.name),
                _ => format!(
                    "{name} is an operator of {}; only its owner can do that",
                    room.name
                ),
            }));
        }
        Ok(())
    }

    /// Finds whoever `wanted` names: a key fingerprint (`SHA256:…`), an address, a member
    /// connected now, or an identity owning the name.
    pub(super) fn find(&self, wanted: &str) -> Result<Found, RoomError> {
        let wanted = wanted.trim();
        let missing = || RoomError::NoSuchMember(wanted.to_owned());
        if wanted.starts_with("SHA256:") {
            let identity = self.identities.by_fingerprint(wanted).ok_or_else(missing)?;
            let id = identity.record.id;
            let name = self.members.get(&id).map_or_else(
                || {
                    identity
                        .record
                        .name
                        .clone()
                        .unwrap_or_else(|| wanted.to_owned())
                },
                |m| m.info.name.clone(),
            );
            return Ok(Found {
                target: Target::Identity(id),
                info: MemberInfo::new(id, name),
                id: Some(id),
                fingerprint: Some(wanted.to_owned()),
            });
        }
        if let Ok(address) = wanted.parse::<IpAddr>() {
            return Ok(Found {
                target: Target::address(address),
                info: MemberInfo {
                    id: Uuid::nil(),
                    name: address.to_string(),
                    ..Default::default()
                },
                id: None,
                fingerprint: None,
            });
        }
        let lower = wanted.to_lowercase();
        if let Some(member) = self
            .members
            .values()
            .find(|m| m.info.name.to_lowercase() == lower)
        {
            let id = member.info.id;
            let target = match (&member.key, member.address) {
                (Some(_), _) => Target::Identity(id),
                (None, Some(address)) => Target::address(address),
                (None, None) => return Err(missing()),
            };
            return Ok(Found {
                target,
                info: MemberInfo::new(id, member.info.name.clone()),
                id: Some(id),
                fingerprint: member.fingerprint.clone(),
            });
        }
        let key = self.identities.owner_of(wanted).ok_or_else(missing)?;
        let identity = self.identities.get(key).expect("owners are known");
        let id = identity.record.id;
        Ok(Found {
            target: Target::Identity(id),
            info: MemberInfo::new(id, identity.record.name.clone().unwrap_or_default()),
            id: Some(id),
            fingerprint: identity.fingerprint.clone(),
        })
    }

    /// A new room belongs to the identity that made it (none for a guest's).
    pub(super) fn owned_by(&mut self, room: &str, owner: Option<Uuid>) {
        let Some(owner) = owner else { return };
        if let Some(found) = self.rooms.get_mut(room) {
            found.policy.owner = Some(owner);
            self.record_policy(room);
        }
    }

    /// Hands the log the room's policy as it is now.
    pub(super) fn record_policy(&mut self, room: &str) {
        if let Some(found) = self.rooms.get(room) {
            let policy = found.policy.clone();
            self.record(Record::RoomPolicy {
                room: room.to_owned(),
                policy,
            });
        }
    }

    /// A ban or mute of `found` by member `by` for `duration_secs` (none: for ever),
    /// refused if the duration is out of range.
    pub(super) fn new_ban(
        &self,
        by: Uuid,
        found: &Found,
        duration_secs: Option<u64>,
        reason: Option<String>,
    ) -> Result<Ban, RoomError> {
        if let Some(secs) = duration_secs
            && !(MIN_DURATION_SECS..=MAX_DURATION_SECS).contains(&secs)
        {
            return Err(RoomError::BadDuration { secs });
        }
        let now = self.now();
        Ok(Ban {
            target: found.target,
            name: found.info.name.clone(),
            fingerprint: found.fingerprint.clone(),
            until: duration_secs.map(|secs| now + secs * 1000),
            reason,
            by: self.members[&by].info.name.clone(),
            at: now,
        })
    }
}

fn entry_targets(id: Option<Uuid>, address: Option<IpAddr>) -> Vec<Target> {
    id.map(Target::Identity)
        .into_iter()
        .chain(address.map(Target::address))
        .collect()
}
