//! How the rooms are sized and limited, and what ends a session: the settings the server picks.

use std::time::Duration;

/// How the rooms are sized.
#[derive(Clone)]
pub struct ChatConfig {
    /// The room everyone lands in, and the one a call that names no room means.
    pub default_room: String,
    /// Rooms the server holds at most; creating one more is refused.
    pub max_rooms: usize,
    /// Rooms one member may be in at once.
    pub max_rooms_per_member: usize,
    /// Longest topic accepted, in bytes, after cleaning.
    pub max_topic_bytes: usize,
    /// Longest reason for parting or quitting accepted, in bytes, after cleaning.
    pub max_reason_bytes: usize,
    /// Makes each event's wire form once, when it is accepted (see [`super::Wire`]).
    pub encoder: Option<super::Encoder>,
    /// Events a member may have waiting before it counts as too slow and is removed.
    pub queue_capacity: usize,
    /// Longest message text accepted, in bytes, after cleaning.
    pub max_text_bytes: usize,
    /// How fast one session may send; `None` for no limit (benchmarks, trusted bridges).
    pub rate_limit: Option<RateLimit>,
    /// Recent events handed to every new member with its join.
    pub history_len: usize,
    /// Members above which a room is large: its joins and leaves reach everyone summed up
    /// in one presence event per tick, not one by one (see `domain/presence.rs`); it is
    /// small again at half this. 0: no room is ever large.
    pub large_room: usize,
    /// Events accepted but not yet stored beyond which new messages are refused: a store
    /// that has stalled must not let memory grow without bound.
    pub max_pending: usize,
    /// The same bound in bytes (about what the waiting events hold in memory), so that big
    /// messages reach it sooner.
    pub max_pending_bytes: usize,
    /// How long an event may wait to be stored; after that it is refused, never stored
    /// later, and its sender is told that storage is unavailable.
    pub storage_timeout: Duration,
    /// A name whose key has not been seen for this long is released; `None` keeps names
    /// for ever.
    pub name_expiry: Option<Duration>,
    /// The wall clock bans and mutes end by, in milliseconds since the epoch: tests set
    /// their own.
    pub clock: Clock,
}

/// Members above which a room is large unless the server says otherwise.
pub const DEFAULT_LARGE_ROOM: usize = 200;

/// A wall clock in milliseconds since the Unix epoch.
pub type Clock = std::sync::Arc<dyn Fn() -> u64 + Send + Sync>;

/// How long an unused name stays its key's unless the server says otherwise: a year.
pub const DEFAULT_NAME_EXPIRY: Duration = Duration::from_secs(365 * 24 * 60 * 60);

impl std::fmt::Debug for ChatConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatConfig")
            .field("default_room", &self.default_room)
            .field("max_rooms", &self.max_rooms)
            .field("max_rooms_per_member", &self.max_rooms_per_member)
            .field("queue_capacity", &self.queue_capacity)
            .field("rate_limit", &self.rate_limit)
            .finish_non_exhaustive()
    }
}

impl Default for ChatConfig {
    fn default() -> Self {
        Self {
            default_room: DEFAULT_ROOM.to_owned(),
            max_rooms: 1000,
            max_rooms_per_member: 100,
            max_topic_bytes: 512,
            max_reason_bytes: 512,
            encoder: None,
            queue_capacity: 1024,
            max_text_bytes: 4096,
            rate_limit: Some(RateLimit::default()),
            history_len: 50,
            large_room: DEFAULT_LARGE_ROOM,
            max_pending: 100_000,
            max_pending_bytes: 16 * 1024 * 1024,
            storage_timeout: Duration::from_secs(5),
            name_expiry: Some(DEFAULT_NAME_EXPIRY),
            clock: std::sync::Arc::new(super::unix_ms),
        }
    }
}

/// A token bucket per session: `burst` messages at once, refilled at `per_sec`.
///
/// A session that keeps sending into an empty bucket collects strikes, which drain at the
/// same rate; once it has more than `burst` of them it is removed for flooding. A client
/// that waits the advised time never collects any.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub per_sec: f64,
    pub burst: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            per_sec: 5.0,
            burst: 10,
        }
    }
}

/// The room everyone lands in unless the server says otherwise.
pub const DEFAULT_ROOM: &str = "#general";

/// What ends a session besides an explicit leave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    /// Bound to a WebSocket connection; whoever owns the connection ends the session when it closes.
    Connection,
    /// An HTTP-only member: ends after a stretch with no call and no poll in progress.
    Idle,
}
