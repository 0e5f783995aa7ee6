//! What can go wrong for a caller of the rooms, and why a member is no longer in one.

use std::fmt;
use std::time::Duration;

/// The reason on the leave recorded at start-up for a member the server lost track of when
/// it last stopped (a crash).
pub const RESTARTED: &str = "server restarted";

/// What a caller did wrong; each maps to a stable JSON-RPC error code in `rpc`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoomError {
    #[error("unknown session: it never existed or has already left")]
    UnknownSession,
    #[error("message text is empty")]
    EmptyText,
    #[error("message text is {len} bytes; the limit is {max}")]
    TextTooLong { len: usize, max: usize },
    #[error("this session's events are already being read by another subscription or poll")]
    InboxBusy,
    #[error("the name {0:?} is reserved")]
    NameReserved(String),
    #[error("rate limited, retry in {} ms", retry_after.as_millis())]
    RateLimited { retry_after: Duration },
    #[error("session ended: {0}")]
    SessionEnded(LeaveReason),
    #[error("server shutting down")]
    ShuttingDown,
    #[error("a name needs at least one visible character")]
    NameEmpty,
    #[error("storage is falling behind; try again shortly")]
    StorageBehind,
    #[error("server temporarily read-only (its storage is unavailable): nothing was stored")]
    StorageUnavailable,
    #[error(
        "since {since} is ahead of {room}, whose latest event is {latest}; was the server's history reset?"
    )]
    SinceAhead {
        room: String,
        since: u64,
        latest: u64,
    },
    #[error("no such room: {0}")]
    NoSuchRoom(String),
    #[error("you are not in {0}")]
    NotInRoom(String),
    #[error("{0}")]
    BadRoomName(#[from] super::room_name::RoomNameError),
    #[error("{name} looks too much like the room {existing}")]
    RoomLookAlike { name: String, existing: String },
    #[error("{0} looks too much like a room that exists; choose another name")]
    RoomLookAlikeHidden(String),
    #[error("the server has {max} rooms, its limit")]
    TooManyRoomsOnServer { max: usize },
    #[error("you are in {max} rooms, the limit; part one first")]
    TooManyRoomsForMember { max: usize },
    #[error("the topic is {len} bytes; the limit is {max}")]
    TopicTooLong { len: usize, max: usize },
    #[error("the reason is {len} bytes; the limit is {max}")]
    ReasonTooLong { len: usize, max: usize },
    #[error("the name {0} belongs to another key; choose another name")]
    NameOwned(String),
    #[error("only members with a key can {0}; connect with an identity")]
    NotIdentified(&'static str),
    #[error("nobody with a key goes by {0}")]
    NoSuchIdentity(String),
    #[error("marker {seq} is past {room}'s latest event, {latest}")]
    MarkerAhead { room: String, seq: u64, latest: u64 },
    /// A moderation command from someone whose role does not allow it.
    #[error("only {who} can {action}")]
    NotPermitted {
        /// Who may: "operators of #room", "the owner of #room", "server operators".
        who: String,
        action: &'static str,
    },
    /// A moderation command against someone it cannot touch: the owner, a server
    /// operator, an operator (for another operator), or oneself.
    #[error("{0}")]
    Protected(String),
    #[error("{}", banned_text(room.as_deref(), *until, reason.as_deref()))]
    Banned {
        /// `None` for a ban from the whole server.
        room: Option<String>,
        until: Option<u64>,
        reason: Option<String>,
    },
    #[error("{}", muted_text(room, *until))]
    Muted { room: String, until: Option<u64> },
    #[error("{0} is invite only: an operator there must /invite you")]
    InviteOnly(String),
    #[error(
        "a duration of {secs} s is out of range: from {} to {}, or none for ever",
        super::policy::format_duration(super::policy::MIN_DURATION_SECS),
        super::policy::format_duration(super::policy::MAX_DURATION_SECS)
    )]
    BadDuration { secs: u64 },
    #[error("{0}")]
    BadMode(#[from] super::policy::BadMode),
    /// Nobody by that name, fingerprint or address to act on.
    #[error("nobody goes by {0} here")]
    NoSuchMember(String),
    #[error("{room} has no message {seq} that can be deleted")]
    NoSuchMessage { room: String, seq: u64 },
    #[error("{what} holds {max} entries, its limit")]
    ListFull { what: &'static str, max: usize },
    #[error("{0} is not banned or muted there")]
    NotBanned(String),
    #[error("unknown notification level {0:?}: all, mentions or off")]
    BadNotifyLevel(String),
}

/// "You are banned from #room until …: reason".
fn banned_text(room: Option<&str>, until: Option<u64>, reason: Option<&str>) -> String {
    let place = room.map_or_else(|| "this server".to_owned(), str::to_owned);
    let mut text = format!("you are banned from {place}");
    if let Some(until) = until {
        let left = until.saturating_sub(super::unix_ms()) / 1000;
        text.push_str(&format!(
            " for {} more",
            super::policy::format_duration(left.max(1))
        ));
    }
    if let Some(reason) = reason {
        text.push_str(&format!(": {reason}"));
    }
    text
}

fn muted_text(room: &str, until: Option<u64>) -> String {
    let mut text = format!("you are muted in {room}: you can read but not speak");
    if let Some(until) = until {
        let left = until.saturating_sub(super::unix_ms()) / 1000;
        text.push_str(&format!(
            " (for {} more)",
            super::policy::format_duration(left.max(1))
        ));
    }
    text
}

/// Why a member is no longer in the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaveReason {
    /// The member asked to leave.
    Left,
    /// The connection the session was created on closed or stopped answering pings.
    ConnectionClosed,
    /// An HTTP-only member stopped polling.
    IdleTimeout,
    /// The member's queue filled up: it was not reading fast enough.
    TooSlow,
    /// The member kept sending far over its rate limit.
    Flooding,
    /// The server is stopping.
    ServerShutdown,
    /// The member's join could not be stored, so it never happened.
    StorageUnavailable,
    /// A server operator banned the member from the whole server.
    Banned,
}

impl LeaveReason {
    /// Whether the server should also close the connection the session lived on: it was
    /// thrown out, rather than leaving or losing its connection.
    pub fn closes_connection(self) -> bool {
        matches!(
            self,
            LeaveReason::TooSlow | LeaveReason::Flooding | LeaveReason::Banned
        )
    }

    /// The text carried by the `leave` event: none when the member left by itself.
    pub(super) fn event_text(self) -> Option<String> {
        (self != LeaveReason::Left).then(|| self.to_string())
    }
}

impl fmt::Display for LeaveReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LeaveReason::Left => "left",
            LeaveReason::ConnectionClosed => "connection closed",
            LeaveReason::IdleTimeout => "idle timeout",
            LeaveReason::TooSlow => "too slow",
            LeaveReason::Flooding => "flooding",
            LeaveReason::ServerShutdown => "server shutting down",
            LeaveReason::StorageUnavailable => "server storage unavailable",
            LeaveReason::Banned => "banned from the server",
        })
    }
}
