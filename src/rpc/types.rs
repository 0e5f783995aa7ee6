//! The wire types: everything that crosses the socket, exactly as `docs/PROTOCOL.md` shows it.
//!
//! Events and members are the domain's own types, sent as they are; the rest are the
//! answers of the API's methods.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use crate::domain::{
    CONVERSATION_PREFIX, Event, EventKind, MemberInfo, NotifyLevel, PRESENCE_NAMES, Presence, Role,
    is_conversation, unix_ms,
};

/// The protocol version this build speaks, told in every [`JoinResult`]: 2 added rooms,
/// 3 identities, direct messages and read markers, 4 moderation, away and ignore, 5 large
/// rooms (`presence` events, `member_count`, `chat_sync_members`), 6 search
/// (`chat_search`) and notification levels (`chat_notify`, the `notify` event).
pub const PROTOCOL_VERSION: u32 = 6;

/// The answer to `chat_challenge`: what a client signs to prove it holds its key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    /// This server's id, kept with its database: a proof made for one server is no use on
    /// another, and a client can tell a server that passes on another's challenges.
    pub server: String,
    /// Fresh for this connection and good for one join on it.
    pub nonce: String,
}

/// A client's proof that it holds a key, `chat_join`'s `proof`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proof {
    /// The Ed25519 public key, 32 bytes in base64.
    pub key: String,
    /// The signature (64 bytes, base64) of
    /// `"chatroom-join-v1\n" + server + "\n" + nonce + "\n" + key`, as UTF-8.
    pub signature: String,
}

/// Where an identity got to in one of its rooms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomMark {
    pub room: String,
    /// For a conversation, the other identity; null for a room.
    pub peer: Option<MemberInfo>,
    /// The room's newest event.
    pub last_seq: u64,
    /// The identity's read marker: the last seq it has seen there (0 for none).
    pub read: u64,
    /// Messages after the marker from others, counted up to [`MAX_UNREAD_COUNTED`].
    pub unread: u32,
    /// The identity's notification level there (`chat_notify`); null from a server that
    /// keeps none, which a client reads as the room's default.
    #[serde(default)]
    pub notify: Option<NotifyLevel>,
}

/// Unread counts stop here: a client shows this many as "999+".
pub const MAX_UNREAD_COUNTED: u32 = 999;

/// The answer to `chat_join`: a session, and the room it entered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Everyone in the room at the moment of joining, the new member included; empty in a
    /// large room, whose list a client asks for with `chat_sync_members`.
    pub members: Vec<MemberInfo>,
    /// How many members the room has, the new member included.
    #[serde(default)]
    pub member_count: u32,
    /// The newest stored event when this member joined, the end of `history`. The member's
    /// stream carries every later event (but its own), so history and stream meet with no
    /// gap; `since` lets a client that already has more skip ahead, or one that has less
    /// catch up.
    pub last_seq: u64,
    /// The most recent events up to `last_seq`, oldest first.
    pub history: Vec<Event>,
    /// Joined without a key.
    pub guest: bool,
    /// The key's fingerprint (`SHA256:…`); null for a guest.
    pub fingerprint: Option<String>,
    /// The read marker and unread count in `room`, as in [`RoomMark`] (0 for a guest).
    pub read: u64,
    pub unread: u32,
    /// The other rooms and conversations this identity is in, which the session is in too
    /// (its other sessions', or those it was in when it last left). `chat_enter` one to
    /// get its members and history. Empty for a guest.
    pub rooms: Vec<RoomMark>,
    /// The members this identity ignores (empty for a guest): a client hides what they say.
    #[serde(default)]
    pub ignored: Vec<MemberInfo>,
    /// Whether this identity is a server operator.
    #[serde(default)]
    pub server_op: bool,
    /// The notification level in `room`, as in [`RoomMark`].
    #[serde(default)]
    pub notify: Option<NotifyLevel>,
}

/// The answer to `chat_enter`: the room as the member finds it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomJoined {
    pub room: String,
    pub topic: Option<String>,
    /// Everyone in the room, the member included; empty in a large room, as in
    /// [`JoinResult`].
    pub members: Vec<MemberInfo>,
    #[serde(default)]
    pub member_count: u32,
    /// As in [`JoinResult`]: the end of `history`, after which the stream takes over.
    pub last_seq: u64,
    pub history: Vec<Event>,
    /// For a conversation, the other identity; null for a room.
    pub peer: Option<MemberInfo>,
    /// The read marker and unread count, as in [`RoomMark`].
    pub read: u64,
    pub unread: u32,
    /// The notification level, as in [`RoomMark`].
    #[serde(default)]
    pub notify: Option<NotifyLevel>,
}

/// One room in the answer to `chat_rooms`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Its modes, such as `"+it"` (`"+"` for none).
    #[serde(default)]
    pub modes: String,
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

/// The answer to `chat_msg`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MsgResult {
    /// The conversation's room.
    pub room: String,
    /// The seq the message was given there.
    pub seq: u64,
    /// The recipient's away message, told with the first message sent to it while it is
    /// away; null otherwise.
    #[serde(default)]
    pub away: Option<String>,
}

/// The answer to `chat_mark`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkResult {
    pub room: String,
    /// The marker now: markers only move forward, so this may be past the one asked for.
    pub seq: u64,
}

/// The answer to `chat_notify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifyResult {
    pub room: String,
    /// The level now.
    pub level: NotifyLevel,
}

/// The answer to `chat_whois`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Whois {
    pub name: String,
    pub id: Uuid,
    pub guest: bool,
    /// The key's fingerprint; null for a guest.
    pub fingerprint: Option<String>,
    /// Since when the key has owned the name, milliseconds since the epoch; null for a
    /// guest.
    pub since: Option<u64>,
    /// Connected now.
    pub online: bool,
    /// How many sessions it has open.
    pub sessions: u32,
    /// The rooms it is in (never its conversations).
    pub rooms: Vec<String>,
    /// Milliseconds since its last call; null when not connected.
    pub idle_ms: Option<u64>,
    /// When it was last connected, for an identity that is not; null otherwise.
    pub last_seen: Option<u64>,
    /// Its away message while it is away.
    #[serde(default)]
    pub away: Option<String>,
    /// Whether it is a server operator.
    #[serde(default)]
    pub server_op: bool,
    /// Its role in each room where it has one (among the rooms listed).
    #[serde(default)]
    pub roles: std::collections::BTreeMap<String, Role>,
}

/// The answer to a moderation call that makes one event: where, and the event's seq.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Moderated {
    pub room: String,
    pub seq: u64,
}

/// The answer to `chat_mode`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModeResult {
    pub room: String,
    /// The modes now, such as `"+it"`; `"+"` for none.
    pub modes: String,
}

/// A ban or a mute, as `chat_bans` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BanInfo {
    /// The name it went by when banned.
    pub name: String,
    /// The identity's key fingerprint; null for a guest's address.
    pub fingerprint: Option<String>,
    /// The identity's member id; null for an address.
    pub id: Option<Uuid>,
    /// The guest address banned; null for an identity.
    pub address: Option<String>,
    /// When it ends, milliseconds since the epoch; null for never.
    pub until: Option<u64>,
    pub reason: Option<String>,
    /// Who banned it, by name.
    pub by: String,
    /// When, milliseconds since the epoch.
    pub at: u64,
}

impl From<crate::domain::Ban> for BanInfo {
    fn from(ban: crate::domain::Ban) -> Self {
        use crate::domain::Target;
        let (id, address) = match ban.target {
            Target::Identity(id) => (Some(id), None),
            Target::Address(address) => (None, Some(address.to_string())),
        };
        Self {
            name: ban.name,
            fingerprint: ban.fingerprint,
            id,
            address,
            until: ban.until,
            reason: ban.reason,
            by: ban.by,
            at: ban.at,
        }
    }
}

/// One line `chat_search` found: a message or a `/me` action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchHit {
    pub room: String,
    pub seq: u64,
    /// When it was sent, milliseconds since the epoch.
    pub ts: u64,
    /// Who sent it: the name it had then, and its id.
    pub from: MemberInfo,
    pub text: String,
    /// A `/me` line.
    pub action: bool,
}

/// The answer to `chat_search`: hits newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchResult {
    pub hits: Vec<SearchHit>,
    /// Older hits follow: ask again with `offset` moved past these.
    pub more: bool,
}

impl From<Event> for SearchHit {
    fn from(event: Event) -> Self {
        Self {
            action: event.kind == EventKind::Action,
            room: event.room,
            seq: event.seq,
            ts: event.ts,
            from: event.from,
            text: event.text.unwrap_or_default(),
        }
    }
}
