//! Notification levels: how loudly each of an identity's rooms and conversations asks for
//! attention (`/notify all|mentions|off`), kept per identity and room like a read marker,
//! stored with the other records, and told to the identity's other sessions with a `notify`
//! event so that every terminal of one person notifies alike.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::conversations::is_conversation;
use super::{Chat, EventKind, Record, RoomError, State, unix_ms};

/// When a room's lines raise a desktop notification (while the terminal is away).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotifyLevel {
    /// Every message from someone else.
    All,
    /// Only a message that names the member.
    Mentions,
    /// Never.
    Off,
}

impl NotifyLevel {
    /// The level a room has until the identity sets one: `all` for a conversation (every
    /// direct message is for the member), `mentions` for a room.
    pub fn default_for(room: &str) -> Self {
        if is_conversation(room) {
            NotifyLevel::All
        } else {
            NotifyLevel::Mentions
        }
    }

    /// The level as the wire, the store and `/notify` spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyLevel::All => "all",
            NotifyLevel::Mentions => "mentions",
            NotifyLevel::Off => "off",
        }
    }
}

impl std::fmt::Display for NotifyLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for NotifyLevel {
    type Err = RoomError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "all" => NotifyLevel::All,
            "mentions" => NotifyLevel::Mentions,
            "off" => NotifyLevel::Off,
            other => return Err(RoomError::BadNotifyLevel(other.chars().take(32).collect())),
        })
    }
}

impl Chat {
    /// Sets the session's identity's level in `room` (with `None`, only reads it), and
    /// tells its other sessions with a `notify` event (never stored). Returns the room's
    /// name and the level now.
    pub fn set_notify(
        &self,
        session: &str,
        room: &str,
        level: Option<NotifyLevel>,
    ) -> Result<(String, NotifyLevel), RoomError> {
        let mut state = self.lock();
        let (id, conn) = state.session(session)?;
        let key = state.members[&id]
            .key
            .clone()
            .ok_or(RoomError::NotIdentified("keep notification levels"))?;
        let name = state.seated_in(id, room)?;
        let Some(level) = level else {
            return Ok((name.clone(), state.notify_level(Some(&key), &name)));
        };
        let identity = state
            .identities
            .get_mut(&key)
            .expect("members' keys are known");
        if identity.notify.get(&name) == Some(&level) {
            return Ok((name, level));
        }
        identity.notify.insert(name.clone(), level);
        state.record(Record::Notify {
            key,
            room: name.clone(),
            level,
        });
        state.tell_notify(id, &name, level, Some(conn));
        Ok((name, level))
    }
}

impl State {
    /// The identity's level in a room: the one it set, or the room's default (guests too).
    pub(super) fn notify_level(&self, key: Option<&str>, room: &str) -> NotifyLevel {
        key.and_then(|key| self.identities.get(key))
            .and_then(|identity| identity.notify.get(room).copied())
            .unwrap_or_else(|| NotifyLevel::default_for(room))
    }

    /// Another server stored a level: the identity's sessions here are told.
    pub(super) fn notify_changed(&mut self, key: &str, room: String, level: NotifyLevel) {
        let Some(identity) = self.identities.get_mut(key) else {
            return;
        };
        if identity.notify.insert(room.clone(), level) == Some(level) {
            return;
        }
        let id = identity.record.id;
        self.tell_notify(id, &room, level, None);
    }

    /// Tells a member's sessions (but `except`) that its level in `room` is now `level`.
    fn tell_notify(&mut self, id: Uuid, room: &str, level: NotifyLevel, except: Option<u64>) {
        let event = super::Event {
            room: room.to_owned(),
            ts: unix_ms(),
            kind: EventKind::Notify,
            text: Some(level.as_str().to_owned()),
            ..Default::default()
        };
        self.tell_own(id, event, except);
    }
}
