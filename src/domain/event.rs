//! What happens in a room: members as others see them, events, and an event ready to fan out.
//!
//! These are the domain's own types. They carry serde derives because the protocol sends them
//! as they are (`rpc::types` re-exports them), but nothing here knows the wire format.

use std::any::Any;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A member as others see it: the public id, the name the server settled on, and whether
/// it is a guest (no key behind it). In a room's member list (and in a `join`'s `from`) it
/// also says the member's role there and whether it is away.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberInfo {
    pub id: Uuid,
    pub name: String,
    /// Joined without a key: its name is only borrowed. Sent only when true.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub guest: bool,
    /// Its role in the room, in member lists and joins: sent only when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// Its away message, in member lists: sent only while it is away.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub away: Option<String>,
}

/// What a member may do in a room beyond speaking. Shown as `@` before the name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// A room operator, made by the owner: moderates the room.
    Op,
    /// The identity that created the room (or was handed it): moderates it and names its
    /// operators.
    Owner,
    /// A server operator (named by fingerprint in the server's operators file): moderates
    /// every room and the server.
    ServerOp,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Op => "op",
            Role::Owner => "owner",
            Role::ServerOp => "server-op",
        }
    }
}

impl MemberInfo {
    /// A member, a guest unless its id was made from a key (or is the server's).
    pub fn new(id: Uuid, name: String) -> Self {
        Self {
            id,
            name,
            guest: is_guest_id(id),
            role: None,
            away: None,
        }
    }
}

/// Whether a member id is one made from a key; guests get random (version 4) ids, and the
/// server the nil id.
pub use crate::identity::is_keyed_id;

/// Whether an id is a guest's: neither made from a key nor the server's.
pub fn is_guest_id(id: Uuid) -> bool {
    !id.is_nil() && !is_keyed_id(id)
}

/// What kind of thing happened in the room.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    #[default]
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
    /// Another session of the same identity has read the room up to `seq`. Never stored,
    /// not a room event (the room's seq does not move), and sent only to that identity.
    Read,
    /// `from` put `target` out of the room; `text` is the reason.
    Kick,
    /// `from` banned `target` from the room until `until` (never, if null), putting it out
    /// if it was there; `text` is the reason.
    Ban,
    /// `from` lifted the ban on `target`.
    Unban,
    /// `from` muted `target` in the room until `until` (never, if null): it can read but
    /// not speak.
    Mute,
    /// `from` lifted the mute on `target`.
    Unmute,
    /// `target`'s role in the room is now `text`: `"owner"`, `"op"`, or null for none.
    Role,
    /// `from` changed the room's modes: `text` is the change, such as `"+i"` or `"-t"`.
    Mode,
    /// `from` invited `target` into the room (invite-only rooms let in only those invited).
    Invite,
    /// `from` banned `target` from the whole server until `until` (never, if null); it is
    /// put out of every room it was in. `text` is the reason.
    Gban,
    /// `from` deleted the message `target_seq` (written by `target`): its text is gone from
    /// the server, and clients show the line as deleted.
    Delete,
    /// A message that was deleted, as history keeps it: its text is gone.
    Deleted,
    /// `from` is away, with `text` as its message, or back (`text` null).
    Away,
    /// Sent only to `to`'s own other sessions, never stored: the identity now ignores
    /// `target` (`text` null) or no longer does (`text` `"off"`).
    Ignore,
    /// Sent only to the member invited, which is not in the room (the room sees
    /// [`EventKind::Invite`]): `from` invited it into `room`. Never stored; `seq` is 0.
    Invited,
    /// Who came and went in a large room since its last `presence` event (see
    /// [`Presence`]), sent to everyone there on a short tick instead of each join and
    /// leave; or, to one session, the room's whole member list. Never stored; `seq` is 0.
    Presence,
    /// Sent only to the identity's other sessions, never stored: its notification level in
    /// `room` is now `text` (`"all"`, `"mentions"` or `"off"`). `seq` is 0.
    Notify,
}

impl EventKind {
    /// The name of the kind, as the wire and the store spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Message => "message",
            EventKind::Join => "join",
            EventKind::Leave => "leave",
            EventKind::System => "system",
            EventKind::Action => "action",
            EventKind::Nick => "nick",
            EventKind::Topic => "topic",
            EventKind::Read => "read",
            EventKind::Kick => "kick",
            EventKind::Ban => "ban",
            EventKind::Unban => "unban",
            EventKind::Mute => "mute",
            EventKind::Unmute => "unmute",
            EventKind::Role => "role",
            EventKind::Mode => "mode",
            EventKind::Invite => "invite",
            EventKind::Gban => "gban",
            EventKind::Delete => "delete",
            EventKind::Deleted => "deleted",
            EventKind::Away => "away",
            EventKind::Ignore => "ignore",
            EventKind::Invited => "invited",
            EventKind::Presence => "presence",
            EventKind::Notify => "notify",
        }
    }
}

impl std::str::FromStr for EventKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "message" => EventKind::Message,
            "join" => EventKind::Join,
            "leave" => EventKind::Leave,
            "system" => EventKind::System,
            "action" => EventKind::Action,
            "nick" => EventKind::Nick,
            "topic" => EventKind::Topic,
            "read" => EventKind::Read,
            "kick" => EventKind::Kick,
            "ban" => EventKind::Ban,
            "unban" => EventKind::Unban,
            "mute" => EventKind::Mute,
            "unmute" => EventKind::Unmute,
            "role" => EventKind::Role,
            "mode" => EventKind::Mode,
            "invite" => EventKind::Invite,
            "gban" => EventKind::Gban,
            "delete" => EventKind::Delete,
            "deleted" => EventKind::Deleted,
            "away" => EventKind::Away,
            "ignore" => EventKind::Ignore,
            "invited" => EventKind::Invited,
            "presence" => EventKind::Presence,
            "notify" => EventKind::Notify,
            other => return Err(format!("unknown event kind {other:?}")),
        })
    }
}

/// One thing that happened in a room, in the order the room accepted it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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
    /// The message text for `message`; for `leave`, why the member left (its own reason, or
    /// the server's: `"connection closed"`, `"idle timeout"`, `"too slow"`); for `nick`,
    /// the old name; for `topic`, the new topic; for moderation, the reason or the change;
    /// otherwise null.
    pub text: Option<String>,
    /// For moderation (`kick`, `ban`, `unban`, `mute`, `unmute`, `role`, `invite`, `gban`,
    /// `delete`, `ignore`): the member it was done to. Sent only when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<MemberInfo>,
    /// For `ban`, `mute` and `gban`: when it ends, milliseconds since the epoch; null for
    /// never. Sent only when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<u64>,
    /// For `delete`: the seq of the message deleted. Sent only when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_seq: Option<u64>,
    /// For `presence`: who came and went, or the whole member list. Sent only when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence: Option<Box<Presence>>,
}

/// A large room's joins and leaves since its last `presence` event, or its member list.
///
/// A room with more members than the server's large-room size does not send each join and
/// leave to everyone (N members joining would cost N²/2 notices); the joins and leaves are
/// stored as ever, and everyone there gets one `presence` event per tick instead.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Presence {
    /// Members in the room now.
    pub count: u32,
    /// Joins and leaves since the last `presence` event.
    pub joins: u32,
    pub leaves: u32,
    /// Each member whose presence changed, as it ended up: those now in the room
    /// (`joined`) and those now out of it (`left`). Applying them to a member list taken at
    /// any time since the last `presence` event brings it up to date.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub joined: Vec<MemberInfo>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left: Vec<MemberInfo>,
    /// Whether `joined` and `left` name every change. When too many members changed for
    /// one event, both are empty and this is false: a client that keeps a member list asks
    /// for it again (`chat_sync_members`).
    pub complete: bool,
    /// The room's whole member list, sorted by name: in answer to `chat_sync_members`, and
    /// to everyone when a large room becomes small again (from then on each join and
    /// leave is sent again). It replaces the list a client keeps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<MemberInfo>>,
}

impl EventKind {
    /// Whether events of this kind are room events: stored, with a seq of the room's own.
    /// `read`, `ignore` and `invited` are told to one identity only; `presence` sums up a
    /// large room's stored joins and leaves.
    pub fn is_stored(self) -> bool {
        !matches!(
            self,
            EventKind::Read
                | EventKind::Ignore
                | EventKind::Invited
                | EventKind::Presence
                | EventKind::Notify
        )
    }
}

/// Whatever the transport made of an event once, when it was accepted, so fan-out to any
/// number of readers copies that instead of encoding again (the protocol keeps its JSON here).
pub type Wire = Box<dyn Any + Send + Sync>;

/// Makes an event's [`Wire`] form; given by whoever serves the events.
pub type Encoder = Arc<dyn Fn(&Event) -> Wire + Send + Sync>;

/// An event together with its [`Wire`] form.
pub struct Stamped {
    pub event: Event,
    pub wire: Wire,
}

impl Stamped {
    pub fn new(event: Event, encoder: Option<&Encoder>) -> Self {
        let wire = match encoder {
            Some(encode) => encode(&event),
            None => Box::new(()),
        };
        Self { event, wire }
    }
}

impl std::fmt::Debug for Stamped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.event.fmt(f)
    }
}

/// Two stampings of the same event are the same: the wire form follows from the event.
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
