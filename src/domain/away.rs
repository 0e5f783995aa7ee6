//! What a member says about itself to everyone: away (with a message) or back; and whom an
//! identity ignores, kept on the server so that all its terminals hide the same people.

use std::sync::Arc;

use uuid::Uuid;

use super::conversations::is_conversation;
use super::pending::{Extras, Undo};
use super::policy::MAX_IGNORES;
use super::{Chat, Event, EventKind, MemberInfo, Receipt, Record, RoomError, Stamped, State};

impl Chat {
    /// Marks the member away with `message`, or back with none; every room it is in sees
    /// an `away` event. Counts against the rate limit like a message. Saying the same
    /// again changes nothing.
    pub fn away(&self, session: &str, message: Option<&str>) -> Result<Vec<Receipt>, RoomError> {
        let config = &self.shared.config;
        let mut state = self.lock();
        let (id, conn) = state.session(session)?;
        let message = match message {
            // Away needs a message, as in IRC: an empty one is "away".
            Some(message) => Some(
                super::rooms::own_reason("Away", Some(message), config.max_reason_bytes)?
                    .map_or_else(|| "away".to_owned(), |m| m["Away: ".len()..].to_owned()),
            ),
            None => None,
        };
        if state.members[&id].away == message {
            return Ok(Vec::new());
        }
        // Not where it is muted: an away message is no way round a mute.
        let rooms: Vec<String> = state.members[&id]
            .rooms
            .iter()
            .filter(|r| !is_conversation(r) && state.check_mute(id, r).is_ok())
            .cloned()
            .collect();
        if state.pending.len() + rooms.len() > config.max_pending {
            return Err(RoomError::StorageBehind);
        }
        state.check_pending(config)?;
        state.charge(id, config.rate_limit, std::time::Instant::now())?;
        let member = state.members.get_mut(&id).expect("looked up above");
        member.away.clone_from(&message);
        member.away_told.clear();
        let from = member.info.clone();
        Ok(rooms
            .iter()
            .map(|room| {
                state.publish_awaited_with(
                    room,
                    EventKind::Away,
                    from.clone(),
                    message.clone(),
                    Extras::default(),
                    Some(conn),
                    Undo::Nothing,
                )
            })
            .collect())
    }

    /// Ignores the member `name` (a member connected now, or an identity by the name it
    /// owns), or with `on` false no longer does. Kept for the identity on the server; its
    /// other sessions get an `ignore` event. Returns who it ignores now.
    pub fn ignore(
        &self,
        session: &str,
        name: &str,
        on: bool,
    ) -> Result<Vec<MemberInfo>, RoomError> {
        let mut state = self.lock();
        let (id, conn) = state.session(session)?;
        let key = state.members[&id]
            .key
            .clone()
            .ok_or(RoomError::NotIdentified("keep an ignore list"))?;
        let wanted = name.to_lowercase();
        let listed = state.ignored_by(&key);
        let target = match state.find(name) {
            Ok(found) => found
                .id
                .ok_or_else(|| RoomError::NoSuchMember(name.to_owned()))?,
            // No longer here under that name, but still on the list.
            Err(_) if !on => listed
                .iter()
                .find(|m| m.name.to_lowercase() == wanted)
                .map(|m| m.id)
                .ok_or_else(|| RoomError::NoSuchMember(name.to_owned()))?,
            Err(missing) => return Err(missing),
        };
        if target == id {
            return Err(RoomError::Protected("you cannot ignore yourself".into()));
        }
        let identity = state
            .identities
            .get_mut(&key)
            .expect("members' keys are known");
        let changed = if on {
            if !identity.ignored.contains(&target) && identity.ignored.len() >= MAX_IGNORES {
                return Err(RoomError::ListFull {
                    what: "your ignore list",
                    max: MAX_IGNORES,
                });
            }
            identity.ignored.insert(target)
        } else {
            identity.ignored.remove(&target)
        };
        if changed {
            let ignored = identity.ignored.iter().copied().collect();
            state.record(Record::Ignores {
                key: key.clone(),
                ignored,
            });
            let target_info = state.member_named(target).unwrap_or_else(|| MemberInfo {
                id: target,
                name: name.to_owned(),
                ..Default::default()
            });
            let event = Arc::new(Stamped::new(
                Event {
                    ts: super::unix_ms(),
                    kind: EventKind::Ignore,
                    from: state.members[&id].info.clone(),
                    text: (!on).then(|| "off".to_owned()),
                    target: Some(target_info),
                    ..Default::default()
                },
                state.encoder.as_ref(),
            ));
            state.tell_member(id, Some(conn), &event);
        }
        Ok(state.ignored_by(&key))
    }

    /// Who the session's identity ignores (nobody, for a guest).
    pub fn ignored(&self, session: &str) -> Result<Vec<MemberInfo>, RoomError> {
        let mut state = self.lock();
        let (id, _) = state.session(session)?;
        Ok(match state.members[&id].key.clone() {
            Some(key) => state.ignored_by(&key),
            None => Vec::new(),
        })
    }
}

impl State {
    /// The members an identity ignores, by the names they go by now (guests no longer
    /// here are left out: their ids will not come back).
    fn ignored_by(&self, key: &str) -> Vec<MemberInfo> {
        let Some(identity) = self.identities.get(key) else {
            return Vec::new();
        };
        let mut list: Vec<MemberInfo> = identity
            .ignored
            .iter()
            .filter_map(|id| self.member_named(*id))
            .collect();
        list.sort_by_cached_key(|m| m.name.to_lowercase());
        list
    }

    /// A member by id as others see it: connected now, or an identity by its name.
    pub(super) fn member_named(&self, id: Uuid) -> Option<MemberInfo> {
        if let Some(member) = self.members.get(&id) {
            return Some(MemberInfo::new(id, member.info.name.clone()));
        }
        let identity = self.identities.by_id(id)?;
        Some(MemberInfo::new(id, identity.record.name.clone()?))
    }
}
