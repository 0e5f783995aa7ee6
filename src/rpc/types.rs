//! The wire types: everything that crosses the socket, exactly as `docs/PROTOCOL.md` shows it.
//!
//! These types carry only serde derives, so the room can build them without knowing the transport.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A member as others see it: the public id and the name the server settled on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberInfo {
    pub id: Uuid,
    pub name: String,
}

/// What kind of thing happened in the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    Message,
    Join,
    Leave,
    /// A notice from the server itself to everyone, such as "server shutting down".
    System,
    /// `/me`: text describing what the sender does ("waves").
    Action,
    /// A member changed its name: `from` has the new name, `text` the old one.
    Nick,
    /// The room's topic changed: `text` is the new topic, null when it was cleared.
    Topic,
}

/// One thing that happened in the room, in the order the room accepted it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The room it happened in, such as `"#general"`.
    pub room: String,
    /// Rises by one for every event in the room, so a gap is visible to any client.
    pub seq: u64,
    /// Server time of acceptance, milliseconds since the Unix epoch.
    pub ts: u64,
    pub kind: EventKind,
    /// Always set by the server: a client cannot speak for anyone else.
    pub from: MemberInfo,
    /// The message text for `message`; for `leave`, why the member left when it did not
    /// leave by itself (`"connection closed"`, `"idle timeout"`, `"too slow"`); otherwise null.
    pub text: Option<String>,
}

/// The protocol version this build speaks, told in every [`JoinResult`]: 2 added rooms.
pub const PROTOCOL_VERSION: u32 = 2;

/// The answer to `chat_join`: a session, and the room it entered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinResult {
    /// [`PROTOCOL_VERSION`]: what the server speaks.
    pub protocol: u32,
    /// The room entered: the one asked for, or the server's default room.
    pub room: String,
    /// That room's topic, if it has one.
    pub topic: Option<String>,
    /// The secret that authorises every later call; known only to this member.
    pub session: String,
    /// The public identity others see in `from`.
    pub id: Uuid,
    /// The name the server assigned, which may differ from the one asked for.
    pub name: String,
    /// Everyone in the room at the moment of joining, the new member included.
    pub members: Vec<MemberInfo>,
    /// The newest stored event when this member joined, the end of `history`. The member's
    /// stream carries every later event (but its own), so history and stream meet with no
    /// gap; `since` lets a client that already has more skip ahead, or one that has less
    /// catch up.
    pub last_seq: u64,
    /// The most recent events up to `last_seq`, oldest first.
    pub history: Vec<Event>,
}

/// The answer to `chat_enter`: the room as the member finds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomJoined {
    pub room: String,
    pub topic: Option<String>,
    /// Everyone in the room, the member included.
    pub members: Vec<MemberInfo>,
    /// As in [`JoinResult`]: the end of `history`, after which the stream takes over.
    pub last_seq: u64,
    pub history: Vec<Event>,
}

/// One room in the answer to `chat_rooms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomInfo {
    pub room: String,
    pub topic: Option<String>,
    /// How many members are in it now.
    pub members: u32,
    /// The newest event's seq.
    pub last_seq: u64,
    /// When it was created, milliseconds since the Unix epoch.
    pub created: u64,
    /// When its latest event happened (its creation if none), milliseconds since the epoch.
    pub last_active: u64,
}

/// The answer to `chat_topic`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicResult {
    pub room: String,
    /// The topic now; null for none.
    pub topic: Option<String>,
}

/// The answer to `chat_nick`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NickResult {
    /// The name the server settled on, which may differ from the one asked for.
    pub name: String,
}

/// The answer to `chat_send`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendResult {
    /// The room sequence number the message was given.
    pub seq: u64,
}

/// An event together with its JSON, encoded once when the event is accepted, so fan-out to
/// any number of subscribers copies bytes instead of serializing again.
#[derive(Debug, Clone)]
pub struct Stamped {
    pub event: Event,
    pub json: Box<serde_json::value::RawValue>,
}

impl Stamped {
    pub fn new(event: Event) -> Self {
        let json = serde_json::value::to_raw_value(&event).expect("an event always serializes");
        Self { event, json }
    }
}

/// Two stampings of the same event are the same: the JSON follows from the event.
impl PartialEq for Stamped {
    fn eq(&self, other: &Self) -> bool {
        self.event == other.event
    }
}

impl std::ops::Deref for Stamped {
    type Target = Event;

    fn deref(&self) -> &Event {
        &self.event
    }
}

/// Now, in milliseconds since the Unix epoch: the clock of an event's `ts`, and of the
/// times a client stamps on what it shows.
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
