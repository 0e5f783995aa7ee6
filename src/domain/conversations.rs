//! Direct messages: a conversation is a room of exactly two identities, named after their
//! member ids, with a seq, history, catch-up and read markers like any room. Nobody else
//! can enter it, read it or learn that it exists; nobody joins or leaves it, so it has no
//! presence events. A message to an identity that is not connected waits in it, and the
//! identity finds it there, unread, when it next connects.

use std::time::Instant;

use uuid::Uuid;

use super::pending::Undo;
use super::rooms::message_text;
use super::{Chat, ChatConfig, Entered, EventKind, MemberInfo, Receipt, Record, RoomError, State};

/// What every conversation's name starts with; no room's can (those start with `#`).
pub const CONVERSATION_PREFIX: &str = "dm:";

/// Whether a room name is a conversation's.
pub fn is_conversation(room: &str) -> bool {
    room.starts_with(CONVERSATION_PREFIX)
}

/// The conversation between two member ids: the same whoever starts it.
pub fn conversation_room(a: Uuid, b: Uuid) -> String {
    let (first, second) = if a <= b { (a, b) } else { (b, a) };
    format!("{CONVERSATION_PREFIX}{first}+{second}")
}

impl Chat {
    /// Sends a direct message to the identity owning `to`, connected or not, opening the
    /// conversation if it is new. Returns the conversation's room and the receipt.
    pub fn msg(
        &self,
        session: &str,
        to: &str,
        text: &str,
        action: bool,
    ) -> Result<(String, Receipt, Option<String>), RoomError> {
        let config = &self.shared.config;
        let now = Instant::now();
        let mut state = self.lock();
        let (id, conn) = state.session(session)?;
        let text = message_text(text, config.max_text_bytes)?;
        let peer = state.peer_for(id, to)?;
        let peer_id = peer.1;
        state.check_pending(config)?;
        state.charge(id, config.rate_limit, now)?;
        // Every check has passed: only now is the conversation opened.
        // Someone who ignores the sender is not made to open it: the message waits in the
        // conversation's history, read only if it opens the conversation itself.
        let ignored = state
            .identities
            .by_id(peer_id)
            .is_some_and(|peer| peer.ignored.contains(&id));
        let room = state.open_conversation(config, id, peer, Some(conn), !ignored);
        let kind = if action {
            EventKind::Action
        } else {
            EventKind::Message
        };
        let from = state.members[&id].info.clone();
        let receipt =
            state.publish_awaited(&room, kind, from, Some(text), Some(conn), Undo::Nothing);
        // The first message to someone away since it went away is answered with why.
        let away = state.members.get_mut(&peer_id).and_then(|member| {
            let away = member.away.clone()?;
            member.away_told.insert(id).then_some(away)
        });
        Ok((room, receipt, away))
    }

    /// Opens the conversation with the identity owning `name`, as entering opens a room.
    pub fn query(&self, session: &str, name: &str) -> Result<Entered, RoomError> {
        let config = &self.shared.config;
        let mut state = self.lock();
        let (id, conn) = state.session(session)?;
        let peer = state.peer_for(id, name)?;
        // Opening one is charged as a message is: conversations are not made for free.
        if !state
            .identities
            .conversations
            .contains_key(&conversation_room(id, peer.1))
        {
            state.charge(id, config.rate_limit, Instant::now())?;
        }
        let room = state.open_conversation(config, id, peer, Some(conn), false);
        Ok(state.entered(config, id, conn, &room))
    }
}

impl State {
    /// The identity owning `to`, for a direct message from member `id`: its key and id.
    /// Changes nothing.
    fn peer_for(&self, id: Uuid, to: &str) -> Result<(String, Uuid), RoomError> {
        let my_key = self.members[&id]
            .key
            .as_deref()
            .ok_or(RoomError::NotIdentified("send direct messages"))?;
        let peer_key = self
            .identities
            .owner_of(to)
            .filter(|key| *key != my_key)
            .ok_or_else(|| RoomError::NoSuchIdentity(to.to_owned()))?;
        let peer_id = self
            .identities
            .get(peer_key)
            .expect("owners are known")
            .record
            .id;
        Ok((peer_key.to_owned(), peer_id))
    }

    /// The conversation between member `id` and the identity `peer`, made if new, and
    /// opened for `id` (and, with `both`, for the peer too: a message opens it for both, a
    /// query only for whoever asks).
    fn open_conversation(
        &mut self,
        config: &ChatConfig,
        id: Uuid,
        (peer_key, peer_id): (String, Uuid),
        origin: Option<u64>,
        both: bool,
    ) -> String {
        let my_key = self.members[&id].key.clone().expect("checked by peer_for");
        let room = conversation_room(id, peer_id);
        if !self.rooms.contains_key(&room) {
            self.add_room(room.clone());
        }
        if !self.identities.conversations.contains_key(&room) {
            self.identities
                .conversations
                .insert(room.clone(), [id, peer_id]);
            self.record(Record::Conversation {
                room: room.clone(),
                keys: [my_key, peer_key],
            });
        }
        if both {
            self.both_in_conversation(config, &room, id, origin);
        } else {
            self.in_conversation(config, &room, id, origin);
        }
        room
    }

    /// Both identities of a conversation are in it from now on (one may have closed it),
    /// and whichever sessions of theirs are connected are seated in it.
    pub(super) fn both_in_conversation(
        &mut self,
        config: &ChatConfig,
        room: &str,
        sender: Uuid,
        origin: Option<u64>,
    ) {
        let Some(ids) = self.identities.conversations.get(room).copied() else {
            return;
        };
        for member in ids {
            let ignores_sender = member != sender
                && self
                    .identities
                    .by_id(member)
                    .is_some_and(|m| m.ignored.contains(&sender));
            if ignores_sender {
                // Not opened again for someone who ignores the sender.
                continue;
            }
            let from = (member == sender).then_some(origin).flatten();
            self.in_conversation(config, room, member, from);
        }
    }

    /// One identity is in a conversation from now on, seated in it if connected.
    fn in_conversation(
        &mut self,
        config: &ChatConfig,
        room: &str,
        member: Uuid,
        origin: Option<u64>,
    ) {
        let Some(key) = self.identities.by_id(member).map(|i| i.record.key.clone()) else {
            return;
        };
        self.remember_room(&key, room, true);
        let seated = self
            .members
            .get(&member)
            .is_some_and(|m| m.rooms.contains(room));
        if self.members.contains_key(&member) && !seated {
            self.seat(config, member, room, origin, Undo::Nothing);
        }
    }

    /// For a conversation, the member on its other side, as it is known now.
    pub(super) fn peer(&self, me: Uuid, room: &str) -> Option<MemberInfo> {
        let ids = self.identities.conversations.get(room)?;
        let other = *ids.iter().find(|id| **id != me)?;
        if let Some(member) = self.members.get(&other) {
            return Some(member.info.clone());
        }
        let identity = self.identities.by_id(other)?;
        Some(MemberInfo::new(
            other,
            identity.record.name.clone().unwrap_or_else(|| "?".into()),
        ))
    }
}
