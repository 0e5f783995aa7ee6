//! The wire types: everything that crosses the socket, exactly as `docs/PROTOCOL.md` shows it.
//!
//! Events and members are the domain's own types, sent as they are; the rest are the
//! answers of the API's methods.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use crate::domain::{Event, EventKind, MemberInfo, unix_ms};

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
