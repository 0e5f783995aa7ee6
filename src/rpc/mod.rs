//! The JSON-RPC API, declared once and used by both sides: the server implements the
//! generated `ChatApiServer`, clients call the generated `ChatApiClient` on a jsonrpsee client.

pub mod auth;
pub mod client;
mod connection;
pub mod health;
mod joining;
mod limits;
mod moderation;
pub mod operators;
mod reads;
mod search;
pub mod server;
mod service;
mod stream;
pub mod tls;
pub mod types;

use jsonrpsee::core::SubscriptionResult;
use jsonrpsee::proc_macros::rpc;
use jsonrpsee::types::ErrorObjectOwned;

use crate::domain::RoomError;
use std::collections::BTreeMap;

use types::{
    BanInfo, Challenge, Event, JoinResult, MarkResult, MemberInfo, ModeResult, Moderated,
    MsgResult, NickResult, NotifyResult, Proof, RoomInfo, RoomJoined, SearchResult, SendResult,
    TopicResult, Whois,
};

/// `chat_poll` waits this long when the caller does not say.
pub const DEFAULT_POLL_TIMEOUT_MS: u64 = 25_000;
/// `chat_poll` never waits longer than this, whatever the caller asks.
pub const MAX_POLL_TIMEOUT_MS: u64 = 60_000;
/// `chat_poll` returns at most this many events at once; the rest wait for the next poll.
pub const MAX_POLL_EVENTS: usize = 256;
/// `chat_history` returns this many events when the caller does not say.
pub const DEFAULT_HISTORY_LIMIT: u32 = 100;
/// `chat_history` never returns more than this many events at once.
pub const MAX_HISTORY_LIMIT: u32 = 500;
/// `chat_search` returns this many hits when the caller does not say.
pub const DEFAULT_SEARCH_LIMIT: u32 = 50;

/// The chat API. Method names on the wire are `chat_` + the name given here.
///
/// A call that names no room means the server's default room, so a client written for a
/// single room keeps working unchanged.
#[rpc(server, client, namespace = "chat")]
pub trait ChatApi {
    /// A fresh challenge for this connection, to sign into `chat_join`'s `proof`. Needs a
    /// WebSocket connection: over plain HTTP one joins as a guest.
    #[method(name = "challenge", with_extensions)]
    async fn challenge(&self) -> Result<Challenge, ErrorObjectOwned>;

    /// Starts a session and enters `room` (the default room if none is named). The server
    /// settles the name, unique on the whole server, and returns the session secret. A
    /// server with a password lets in only those who give it. With `proof` (a signed
    /// challenge) the session is that key's identity: back under its own name and in all
    /// its rooms; without, a guest, under a name no key owns.
    #[method(name = "join", with_extensions)]
    async fn join(
        &self,
        name: Option<String>,
        password: Option<String>,
        room: Option<String>,
        proof: Option<Proof>,
    ) -> Result<JoinResult, ErrorObjectOwned>;

    /// Enters another room, creating it if it does not exist yet.
    #[method(name = "enter", with_extensions)]
    async fn enter(&self, session: String, room: String) -> Result<RoomJoined, ErrorObjectOwned>;

    /// Leaves one room (the default room if none is named); the session stays.
    #[method(name = "part")]
    async fn part(
        &self,
        session: String,
        room: Option<String>,
        reason: Option<String>,
    ) -> Result<(), ErrorObjectOwned>;

    /// Says something to everyone else in a room; with `action`, a `/me` line.
    #[method(name = "send")]
    async fn send(
        &self,
        session: String,
        text: String,
        action: Option<bool>,
        room: Option<String>,
    ) -> Result<SendResult, ErrorObjectOwned>;

    /// Changes this member's name in every room at once, under the same rules as joining.
    #[method(name = "nick")]
    async fn nick(&self, session: String, name: String) -> Result<NickResult, ErrorObjectOwned>;

    /// Shows a room's topic, or with `topic` sets it (an empty one clears it).
    #[method(name = "topic")]
    async fn topic(
        &self,
        session: String,
        room: Option<String>,
        topic: Option<String>,
    ) -> Result<TopicResult, ErrorObjectOwned>;

    /// Every room on the server. A server with a password tells only its members (`session`).
    #[method(name = "rooms")]
    async fn rooms(&self, session: Option<String>) -> Result<Vec<RoomInfo>, ErrorObjectOwned>;

    /// Ends the session, leaving every room; the others see `reason` in each.
    #[method(name = "leave")]
    async fn leave(&self, session: String, reason: Option<String>) -> Result<(), ErrorObjectOwned>;

    /// Streams the events of all the session's rooms as `chat_event` notifications
    /// (`chat_subscribe` on the wire; the Rust name avoids jsonrpsee's own `subscribe`).
    /// `cursors` maps rooms to the last seq seen in each, `since` is the default room's:
    /// every stored event after those is replayed first (this session's own excepted), then
    /// the stream continues live with no gap and no duplicate.
    #[subscription(name = "subscribe" => "event", unsubscribe = "unsubscribe", item = Event)]
    async fn subscribe_events(
        &self,
        session: String,
        since: Option<u64>,
        cursors: Option<BTreeMap<String, u64>>,
    ) -> SubscriptionResult;

    /// Waits until at least one event is pending or the timeout passes, then returns them.
    /// `since` and `cursors` as for `chat_subscribe`: stored events after them come first,
    /// a page at a time.
    #[method(name = "poll")]
    async fn poll(
        &self,
        session: String,
        timeout_ms: Option<u64>,
        since: Option<u64>,
        cursors: Option<BTreeMap<String, u64>>,
    ) -> Result<Vec<Event>, ErrorObjectOwned>;

    /// Pages through a room's stored history: the events just `before` a seq, the events
    /// after `since`, or (with neither) the latest; at most `limit`, oldest first.
    #[method(name = "history")]
    async fn history(
        &self,
        session: String,
        before: Option<u64>,
        since: Option<u64>,
        limit: Option<u32>,
        room: Option<String>,
    ) -> Result<Vec<Event>, ErrorObjectOwned>;

    /// Everyone in a room now. A server with a password tells only its members (`session`).
    #[method(name = "members")]
    async fn members(
        &self,
        session: Option<String>,
        room: Option<String>,
    ) -> Result<Vec<MemberInfo>, ErrorObjectOwned>;

    /// Asks for a `presence` event with the room's whole member list in this session's
    /// stream, after everything already there, so that later `presence` events apply to it.
    /// It comes with the next tick, at most once every 500 ms per session and room. A client
    /// keeping the list of a large room asks when it enters and whenever a `presence` event
    /// could not name every change. Answers the member count.
    #[method(name = "sync_members")]
    async fn sync_members(
        &self,
        session: String,
        room: Option<String>,
    ) -> Result<u32, ErrorObjectOwned>;

    /// Sends a direct message to the identity that owns `to`, online or not, opening the
    /// conversation if it is new. Identities only, on both ends.
    #[method(name = "msg")]
    async fn msg(
        &self,
        session: String,
        to: String,
        text: String,
        action: Option<bool>,
    ) -> Result<MsgResult, ErrorObjectOwned>;

    /// Opens (or reopens) the conversation with the identity that owns `name`, as
    /// `chat_enter` opens a room.
    #[method(name = "query")]
    async fn query(&self, session: String, name: String) -> Result<RoomJoined, ErrorObjectOwned>;

    /// Moves this identity's read marker in a room forward to `seq`; its other sessions get
    /// a `read` event.
    #[method(name = "mark")]
    async fn mark(
        &self,
        session: String,
        room: String,
        seq: u64,
    ) -> Result<MarkResult, ErrorObjectOwned>;

    /// Who a member is: key fingerprint or guest, since when the name is theirs, their
    /// rooms and idle time.
    #[method(name = "whois")]
    async fn whois(&self, session: String, name: String) -> Result<Whois, ErrorObjectOwned>;

    /// Puts a member out of a room (operators). Everyone there sees a `kick` event.
    #[method(name = "kick")]
    async fn kick(
        &self,
        session: String,
        name: String,
        room: Option<String>,
        reason: Option<String>,
    ) -> Result<Moderated, ErrorObjectOwned>;

    /// Bans `target` from a room (operators): a name, a key fingerprint (`SHA256:…`) or,
    /// for guests, an address. An identity is banned by its key, a guest by its address.
    /// For `duration_secs` (none: for ever). Puts it out of the room if it is there.
    #[method(name = "ban")]
    async fn ban(
        &self,
        session: String,
        target: String,
        room: Option<String>,
        duration_secs: Option<u64>,
        reason: Option<String>,
    ) -> Result<BanInfo, ErrorObjectOwned>;

    /// Lifts a ban from a room (operators): `target` as for `chat_ban`, or the name the
    /// ban lists.
    #[method(name = "unban")]
    async fn unban(
        &self,
        session: String,
        target: String,
        room: Option<String>,
    ) -> Result<BanInfo, ErrorObjectOwned>;

    /// A room's bans in force (operators).
    #[method(name = "bans")]
    async fn bans(
        &self,
        session: String,
        room: Option<String>,
    ) -> Result<Vec<BanInfo>, ErrorObjectOwned>;

    /// Bans `target` from the whole server (server operators): it is put out of every room
    /// and its sessions end.
    #[method(name = "gban")]
    async fn gban(
        &self,
        session: String,
        target: String,
        duration_secs: Option<u64>,
        reason: Option<String>,
    ) -> Result<BanInfo, ErrorObjectOwned>;

    /// Lifts a server ban (server operators).
    #[method(name = "ungban")]
    async fn ungban(&self, session: String, target: String) -> Result<BanInfo, ErrorObjectOwned>;

    /// The server's bans in force (server operators).
    #[method(name = "gbans")]
    async fn gbans(&self, session: String) -> Result<Vec<BanInfo>, ErrorObjectOwned>;

    /// Mutes a member in a room (operators): it can read but not speak, for
    /// `duration_secs` (none: until unmuted).
    #[method(name = "mute")]
    async fn mute(
        &self,
        session: String,
        name: String,
        room: Option<String>,
        duration_secs: Option<u64>,
    ) -> Result<BanInfo, ErrorObjectOwned>;

    /// Lifts a mute (operators).
    #[method(name = "unmute")]
    async fn unmute(
        &self,
        session: String,
        name: String,
        room: Option<String>,
    ) -> Result<BanInfo, ErrorObjectOwned>;

    /// Gives an identity a role in a room: `"op"`, `"owner"` (hands the room over: the old
    /// owner stays an operator), or null for none. The owner's, and server operators'.
    #[method(name = "role")]
    async fn role(
        &self,
        session: String,
        name: String,
        room: Option<String>,
        role: Option<String>,
    ) -> Result<Moderated, ErrorObjectOwned>;

    /// A room's modes, or with `change` (such as `"+i"`, `"-t"`, `"+is"`) sets them first
    /// (operators).
    #[method(name = "mode")]
    async fn mode(
        &self,
        session: String,
        room: Option<String>,
        change: Option<String>,
    ) -> Result<ModeResult, ErrorObjectOwned>;

    /// Invites an identity into a room (operators); it is told with an `invited` event and
    /// may then enter even an invite-only room.
    #[method(name = "invite")]
    async fn invite(
        &self,
        session: String,
        name: String,
        room: Option<String>,
    ) -> Result<Moderated, ErrorObjectOwned>;

    /// Deletes the message `target_seq` of a room: its author's, or anyone's for an operator. The
    /// text is removed from the server's store; everyone sees a `delete` event.
    #[method(name = "delete")]
    async fn delete(
        &self,
        session: String,
        target_seq: u64,
        room: Option<String>,
    ) -> Result<Moderated, ErrorObjectOwned>;

    /// Marks this member away with `message`, or back without one. Every room it is in
    /// sees an `away` event.
    #[method(name = "away")]
    async fn away(&self, session: String, message: Option<String>) -> Result<(), ErrorObjectOwned>;

    /// Ignores the member `name` (or, with `ignore` false, no longer does). Kept per
    /// identity on the server; its other sessions get an `ignore` event. Returns who it
    /// ignores now.
    #[method(name = "ignore")]
    async fn ignore(
        &self,
        session: String,
        name: String,
        ignore: Option<bool>,
    ) -> Result<Vec<MemberInfo>, ErrorObjectOwned>;

    /// This identity's notification level in a room or conversation: with `level`
    /// (`"all"`, `"mentions"` or `"off"`) sets it first, and its other sessions get a
    /// `notify` event. Identities only.
    #[method(name = "notify")]
    async fn notify(
        &self,
        session: String,
        room: String,
        level: Option<String>,
    ) -> Result<NotifyResult, ErrorObjectOwned>;
    /// Searches stored messages and `/me` actions: `query` is words, "phrases" and
    /// `from:NAME`, all of which must match. In `room` (the default room if none is named,
    /// which the session must be in), or with `all` in every room the session is in and
    /// every conversation of its identity. At most `limit` hits (50 if not said, never over
    /// 100), newest first, after skipping the `offset` newest (at most 1000).
    #[method(name = "search")]
    async fn search(
        &self,
        session: String,
        query: String,
        room: Option<String>,
        all: Option<bool>,
        limit: Option<u32>,
        offset: Option<u32>,
    ) -> Result<SearchResult, ErrorObjectOwned>;
}

/// Stable error codes, documented in `docs/PROTOCOL.md`. Never renumber one.
///
/// They sit outside JSON-RPC's reserved range (-32768 to -32000), where jsonrpsee keeps its
/// own transport errors (oversized request, too many subscriptions, batch limits).
pub mod codes {
    pub const UNKNOWN_SESSION: i32 = 1001;
    pub const EMPTY_TEXT: i32 = 1002;
    pub const TEXT_TOO_LONG: i32 = 1003;
    pub const INBOX_BUSY: i32 = 1004;
    pub const SESSION_ENDED: i32 = 1005;
    pub const RATE_LIMITED: i32 = 1006;
    pub const NAME_RESERVED: i32 = 1007;
    pub const HISTORY_UNAVAILABLE: i32 = 1008;
    pub const TOO_MANY_SESSIONS: i32 = 1009;
    pub const SINCE_AHEAD: i32 = 1010;
    pub const STORAGE_BEHIND: i32 = 1011;
    pub const NAME_EMPTY: i32 = 1012;
    pub const PASSWORD_REQUIRED: i32 = 1013;
    pub const WRONG_PASSWORD: i32 = 1014;
    pub const SHUT_OUT: i32 = 1015;
    pub const STORAGE_UNAVAILABLE: i32 = 1016;
    pub const NO_SUCH_ROOM: i32 = 1017;
    pub const NOT_IN_ROOM: i32 = 1018;
    pub const BAD_ROOM_NAME: i32 = 1019;
    pub const TOO_MANY_ROOMS: i32 = 1020;
    pub const TOPIC_TOO_LONG: i32 = 1021;
    pub const NAME_OWNED: i32 = 1022;
    pub const BAD_PROOF: i32 = 1023;
    pub const NOT_IDENTIFIED: i32 = 1024;
    pub const NO_SUCH_IDENTITY: i32 = 1025;
    pub const MARKER_AHEAD: i32 = 1026;
    pub const NOT_PERMITTED: i32 = 1027;
    pub const PROTECTED: i32 = 1028;
    pub const BANNED: i32 = 1029;
    pub const MUTED: i32 = 1030;
    pub const INVITE_ONLY: i32 = 1031;
    pub const BAD_DURATION: i32 = 1032;
    pub const BAD_MODE: i32 = 1033;
    pub const NO_SUCH_MEMBER: i32 = 1034;
    pub const NO_SUCH_MESSAGE: i32 = 1035;
    pub const LIST_FULL: i32 = 1036;
    pub const NOT_BANNED: i32 = 1037;
    pub const SEARCH_UNAVAILABLE: i32 = 1038;
    pub const BAD_SEARCH: i32 = 1039;
    pub const BAD_NOTIFY_LEVEL: i32 = 1040;

    /// What a code means, in words for someone reading an error (as `docs/PROTOCOL.md`
    /// explains it), for a refusal that came without a message.
    pub fn meaning(code: i32) -> Option<&'static str> {
        Some(match code {
            UNKNOWN_SESSION => "unknown session",
            EMPTY_TEXT => "empty message",
            TEXT_TOO_LONG => "text too long",
            INBOX_BUSY => "another call is already waiting for this session's events",
            SESSION_ENDED => "the session has ended",
            RATE_LIMITED => "too fast; try again shortly",
            NAME_RESERVED => "that name is reserved",
            HISTORY_UNAVAILABLE => "history is unavailable",
            TOO_MANY_SESSIONS => "too many sessions",
            SINCE_AHEAD => "asked for events after the room's latest",
            STORAGE_BEHIND => "the server's storage is behind",
            NAME_EMPTY => "the name is empty once cleaned",
            PASSWORD_REQUIRED => "this server needs a password",
            WRONG_PASSWORD => "wrong password",
            SHUT_OUT => "too many wrong passwords from this address; try again later",
            STORAGE_UNAVAILABLE => "server temporarily read-only (its storage is unavailable)",
            NO_SUCH_ROOM => "no such room",
            NOT_IN_ROOM => "you are not in that room",
            BAD_ROOM_NAME => "not a usable room name",
            TOO_MANY_ROOMS => "too many rooms",
            TOPIC_TOO_LONG => "topic too long",
            NAME_OWNED => "that name belongs to another key",
            BAD_PROOF => "the identity proof was refused",
            NOT_IDENTIFIED => "only members with a key can do that",
            NO_SUCH_IDENTITY => "nobody with a key goes by that name",
            MARKER_AHEAD => "marker past the room's latest event",
            NOT_PERMITTED => "only an operator can do that",
            PROTECTED => "that member cannot be moderated by you",
            BANNED => "you are banned",
            MUTED => "you are muted here",
            INVITE_ONLY => "that room is invite only",
            BAD_DURATION => "duration out of range",
            BAD_MODE => "unknown mode",
            NO_SUCH_MEMBER => "nobody goes by that name here",
            NO_SUCH_MESSAGE => "no such message to delete",
            LIST_FULL => "the list is full",
            NOT_BANNED => "not banned",
            SEARCH_UNAVAILABLE => "search is unavailable on this server",
            BAD_SEARCH => "not a usable search",
            BAD_NOTIFY_LEVEL => "unknown notification level (all, mentions or off)",
            _ => return None,
        })
    }
}

impl From<RoomError> for ErrorObjectOwned {
    fn from(err: RoomError) -> Self {
        let message = err.to_string();
        match err {
            RoomError::NameEmpty => ErrorObjectOwned::owned(codes::NAME_EMPTY, message, None::<()>),
            RoomError::UnknownSession => {
                ErrorObjectOwned::owned(codes::UNKNOWN_SESSION, message, None::<()>)
            }
            RoomError::EmptyText => ErrorObjectOwned::owned(codes::EMPTY_TEXT, message, None::<()>),
            RoomError::TextTooLong { .. } | RoomError::ReasonTooLong { .. } => {
                ErrorObjectOwned::owned(codes::TEXT_TOO_LONG, message, None::<()>)
            }
            RoomError::InboxBusy => ErrorObjectOwned::owned(codes::INBOX_BUSY, message, None::<()>),
            RoomError::SessionEnded(_) | RoomError::ShuttingDown => {
                ErrorObjectOwned::owned(codes::SESSION_ENDED, message, None::<()>)
            }
            RoomError::SinceAhead { .. } => {
                ErrorObjectOwned::owned(codes::SINCE_AHEAD, message, None::<()>)
            }
            RoomError::StorageBehind => {
                ErrorObjectOwned::owned(codes::STORAGE_BEHIND, message, None::<()>)
            }
            RoomError::StorageUnavailable => {
                ErrorObjectOwned::owned(codes::STORAGE_UNAVAILABLE, message, None::<()>)
            }
            RoomError::NameReserved(_) => {
                ErrorObjectOwned::owned(codes::NAME_RESERVED, message, None::<()>)
            }
            RoomError::NoSuchRoom(_) => {
                ErrorObjectOwned::owned(codes::NO_SUCH_ROOM, message, None::<()>)
            }
            RoomError::NotInRoom(_) => {
                ErrorObjectOwned::owned(codes::NOT_IN_ROOM, message, None::<()>)
            }
            RoomError::BadRoomName(_)
            | RoomError::RoomLookAlike { .. }
            | RoomError::RoomLookAlikeHidden(_) => {
                ErrorObjectOwned::owned(codes::BAD_ROOM_NAME, message, None::<()>)
            }
            RoomError::TooManyRoomsOnServer { .. } | RoomError::TooManyRoomsForMember { .. } => {
                ErrorObjectOwned::owned(codes::TOO_MANY_ROOMS, message, None::<()>)
            }
            RoomError::TopicTooLong { .. } => {
                ErrorObjectOwned::owned(codes::TOPIC_TOO_LONG, message, None::<()>)
            }
            RoomError::NameOwned(_) => {
                ErrorObjectOwned::owned(codes::NAME_OWNED, message, None::<()>)
            }
            RoomError::NotIdentified(_) => {
                ErrorObjectOwned::owned(codes::NOT_IDENTIFIED, message, None::<()>)
            }
            RoomError::NoSuchIdentity(_) => {
                ErrorObjectOwned::owned(codes::NO_SUCH_IDENTITY, message, None::<()>)
            }
            RoomError::MarkerAhead { .. } => {
                ErrorObjectOwned::owned(codes::MARKER_AHEAD, message, None::<()>)
            }
            RoomError::NotPermitted { .. } => {
                ErrorObjectOwned::owned(codes::NOT_PERMITTED, message, None::<()>)
            }
            RoomError::Protected(_) => {
                ErrorObjectOwned::owned(codes::PROTECTED, message, None::<()>)
            }
            // The client can show when it ends, in its own clock.
            RoomError::Banned { until, .. } => ErrorObjectOwned::owned(
                codes::BANNED,
                message,
                until.map(|until| serde_json::json!({ "until": until })),
            ),
            RoomError::Muted { until, .. } => ErrorObjectOwned::owned(
                codes::MUTED,
                message,
                until.map(|until| serde_json::json!({ "until": until })),
            ),
            RoomError::InviteOnly(_) => {
                ErrorObjectOwned::owned(codes::INVITE_ONLY, message, None::<()>)
            }
            RoomError::BadDuration { .. } => {
                ErrorObjectOwned::owned(codes::BAD_DURATION, message, None::<()>)
            }
            RoomError::BadMode(_) => ErrorObjectOwned::owned(codes::BAD_MODE, message, None::<()>),
            RoomError::NoSuchMember(_) => {
                ErrorObjectOwned::owned(codes::NO_SUCH_MEMBER, message, None::<()>)
            }
            RoomError::NoSuchMessage { .. } => {
                ErrorObjectOwned::owned(codes::NO_SUCH_MESSAGE, message, None::<()>)
            }
            RoomError::ListFull { .. } => {
                ErrorObjectOwned::owned(codes::LIST_FULL, message, None::<()>)
            }
            RoomError::NotBanned(_) => {
                ErrorObjectOwned::owned(codes::NOT_BANNED, message, None::<()>)
            }
            RoomError::BadNotifyLevel(_) => {
                ErrorObjectOwned::owned(codes::BAD_NOTIFY_LEVEL, message, None::<()>)
            }
            // Machines get the wait as a number, people get it in the message.
            RoomError::RateLimited { retry_after } => ErrorObjectOwned::owned(
                codes::RATE_LIMITED,
                message,
                Some(serde_json::json!({ "retry_after_ms": retry_after.as_millis() as u64 })),
            ),
        }
    }
}
