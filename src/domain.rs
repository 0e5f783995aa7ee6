//! The chat itself: sessions, the names people go by, the directory of rooms, each room's
//! membership and fan-out.
//!
//! Plain Rust over a `std::sync::Mutex`; nothing here knows about sockets, JSON or
//! JSON-RPC. The lock guards map work only. A member is a guest (one session) or an
//! identity (a key, with as many sessions as it has terminals open; others see one member).
//! It has one name, unique on the server (an identity's is its own: no other key or guest
//! may take it), and each of its sessions one bounded queue, which carries the events of
//! all its rooms. Fan-out pushes into each seated session's queue with a non-blocking
//! `try_send`, so it never waits on anyone while holding the lock, and a session whose queue
//! is full is ended with the reason "too slow" instead of being waited for or silently
//! skipped (a member whose last session that was leaves every room). A session never gets
//! its own events back; a member's other sessions do.
//!
//! Every room numbers its own events (its `seq` rises by exactly one per event). An event is
//! delivered and acknowledged only once the [`EventLog`] has stored it; until then it waits
//! in `pending`, from where it is taken back if the log cannot keep it.
//!
//! Beside this file, in `domain/`: `event` (members and events), `room_name`, `room` (one
//! room's state and fan-out), `session` (joining, renaming, leaving), `rooms` (entering,
//! parting, speaking, topics), `identities` (keys, owned names, remembered rooms, read
//! markers, whois), `conversations` (direct messages), `policy` (roles, modes, invites, bans
//! and mutes as data), `access` (ranks and the checks on entering, speaking and moderating),
//! `moderation` (kick, ban, mute), `roles` (roles, modes, invites, delete), `server_bans`,
//! `away` (away, ignore lists), `search` (queries and
//! the rooms a session may search), `config`, `error`, `rate` (token buckets), `names`
//! (reserved and free names), `reader` (reading a session's events), `pending` (events
//! waiting for the log), `log` (the [`EventLog`] seam), `notify` (notification levels) and
//! `shutdown`.
//!
//! Moderation acts on identities by member id (made from the key, so a new name changes
//! nothing) and on guests by the address they come from. A room's owner is the identity that
//! made it; server operators are named by key fingerprint. Each act is a room event, stored,
//! and the room's policy is stored whole beside it.

mod access;
mod away;
mod config;
mod conversations;
mod delivery;
mod error;
mod event;
mod followed;
mod identities;
mod log;
mod moderation;
mod names;
mod notify;
mod pending;
mod policy;
mod presence;
mod rate;
mod reader;
mod roles;
mod room;
mod room_name;
mod rooms;
mod search;
mod server_bans;
mod session;
mod shared;
mod shutdown;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::watch;
use uuid::Uuid;

pub use config::{
    ChatConfig, Clock, DEFAULT_LARGE_ROOM, DEFAULT_NAME_EXPIRY, DEFAULT_ROOM, Lifetime, RateLimit,
};
pub use conversations::{CONVERSATION_PREFIX, conversation_room, is_conversation};
pub use delivery::{Outlet, Refused};
pub use error::{LeaveReason, RESTARTED, RoomError};
pub use event::{
    Encoder, Event, EventKind, MemberInfo, Presence, Role, Stamped, Wire, is_guest_id, is_keyed_id,
    unix_ms,
};
pub use identities::WhoisInfo;
pub use log::{
    Appender, EventLog, IdentityRecord, IdentityState, LogError, MemoryLog, OnProgress, Progress,
    Record, RecordSet, Recovered, RoomRecord, tombstone,
};
pub use names::{RESERVED_NAMES, SERVER_NAME, server_identity};
pub use notify::NotifyLevel;
use pending::Pending;
pub use pending::Receipt;
pub use policy::{
    BadMode, Ban, MAX_BANS, MAX_DURATION_SECS, MIN_DURATION_SECS, Modes, RoomPolicy, ServerPolicy,
    Target, add_ban, format_duration, parse_duration,
};
pub use presence::{LIST_EVERY, LISTS_PER_TICK, PRESENCE_NAMES, PRESENCE_TICK};
use rate::SendBudget;
pub use rate::TokenBucket;
use reader::Inbox;
pub use reader::{ClaimedReader, Reader, SessionEnd};
use room::Room;
pub use room::RoomSummary;
pub use room_name::{MAX_ROOM_NAME_CHARS, RoomNameError, parse_room_name};
pub use search::{
    BadQuery, Found, MAX_SEARCH_OFFSET, MAX_SEARCH_QUERY_BYTES, MAX_SEARCH_RESULTS,
    MAX_SEARCH_TERMS, SearchFailure, SearchPage, SearchQuery, SearchTerm, words as search_words,
};
pub use session::{Credentials, Entered, Joined, Remembered};

/// A cheap, cloneable handle to the chat.
#[derive(Clone)]
pub struct Chat {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    config: ChatConfig,
    log: Arc<dyn EventLog>,
    /// The highest log position stored, for senders waiting to be acknowledged.
    durable: watch::Sender<u64>,
    /// Readers (polls, subscriptions) alive, across all members: shutdown waits for them to
    /// deliver the last events before connections close.
    readers: watch::Sender<usize>,
}

struct State {
    members: HashMap<Uuid, Member>,
    /// Session secret → member id and the session's connection number.
    sessions: HashMap<String, (Uuid, u64)>,
    /// The number the next session gets.
    next_conn: u64,
    /// Look-alike keys of the names in use: a shared key marks names people could mistake.
    names: HashSet<String>,
    /// The same, of the names in use through other servers sharing the log.
    elsewhere_names: followed::ElsewhereNames,
    /// Every identity (key) the chat knows, the names they own, and their conversations.
    identities: identities::Identities,
    /// Records handed to the log and not yet stored: their positions and what they were
    /// about, to be written again if the log drops them.
    unstored_records: std::collections::VecDeque<(u64, pending::RecordAbout)>,
    /// Every room, by name.
    rooms: HashMap<String, Room>,
    /// Look-alike keys of the room names → the room holding each.
    room_keys: HashMap<String, String>,
    /// Set by [`Chat::shutdown`]: nobody new gets in.
    closing: bool,
    /// Events given a seq but not yet stored, in log order. They are delivered once stored.
    pending: Pending,
    /// The log position the next event gets.
    next_position: u64,
    /// `None` once the log is closed.
    appender: Option<Box<dyn Appender>>,
    /// The config's encoder, for stamping events under the lock.
    encoder: Option<Encoder>,
    /// The config's default room, which is never forgotten.
    default_room: String,
    /// The config's wall clock, for bans and mutes.
    clock: Clock,
    /// The key fingerprints of the server's operators.
    server_ops: HashSet<String>,
    /// Who is banned from the whole server.
    server_policy: ServerPolicy,
}

/// Someone in the chat: a guest with its one session, or an identity with every session
/// it has open. Others see one member either way.
struct Member {
    info: MemberInfo,
    /// The identity's key (base64), `None` for a guest.
    key: Option<String>,
    /// Its open sessions, by connection number.
    conns: HashMap<u64, Conn>,
    budget: SendBudget,
    /// Its budget for entering and parting rooms, which tell everyone there as a message
    /// does.
    room_budget: SendBudget,
    /// The rooms and conversations it is in.
    rooms: BTreeSet<String>,
    /// The rooms where it still has a seat: its rooms, and those it parted whose part is
    /// not delivered yet (its other sessions hear of the part before the seat goes).
    seats: BTreeSet<String>,
    /// The address its first session came from: what bans and mutes a guest by.
    address: Option<std::net::IpAddr>,
    /// The key's fingerprint, `None` for a guest: what the operators list names.
    fingerprint: Option<String>,
    /// Its away message, while it is away.
    away: Option<String>,
    /// Who has been told the away message since it was set (the first direct message from
    /// each is answered with it).
    away_told: HashSet<Uuid>,
}

/// One session of a member: its own queue, reader and lifetime.
struct Conn {
    session: String,
    queue: Arc<delivery::Delivery>,
    inbox: Arc<Inbox>,
    lifetime: Lifetime,
    last_active: Instant,
    /// Polls and subscriptions in progress; an idle session with a reader is not idle.
    readers: usize,
}

impl Member {
    /// When it last did anything, in any session.
    fn last_active(&self) -> Option<Instant> {
        self.conns.values().map(|c| c.last_active).max()
    }
}

impl Default for Chat {
    /// Default settings, history in memory.
    fn default() -> Self {
        Self::in_memory(ChatConfig::default())
    }
}

impl Chat {
    /// Opens the chat on `log`, continuing every room's seq and history.
    pub fn new(config: ChatConfig, log: Arc<dyn EventLog>) -> Result<Self, LogError> {
        let recovered = log.recovered();
        let mut rooms = HashMap::new();
        let mut room_keys = HashMap::new();
        for record in recovered.rooms {
            // A shared log may have gone on since it said where the room was: what came
            // after is followed, not taken twice.
            let recent = log
                .latest(&record.name, config.history_len)?
                .into_iter()
                .filter(|event| event.seq <= record.last_seq)
                .map(|event| Arc::new(Stamped::new(event, config.encoder.as_ref())))
                .collect();
            if !conversations::is_conversation(&record.name) {
                for key in room_name::room_keys(&record.name) {
                    room_keys.insert(key, record.name.clone());
                }
            }
            rooms.insert(record.name.clone(), Room::recovered(record, recent));
        }
        let mut elsewhere_names = followed::ElsewhereNames::default();
        for (name, member, via) in recovered.elsewhere {
            let room = rooms
                .entry(name.clone())
                .or_insert_with(|| Room::new(name, unix_ms()));
            match room.seat_elsewhere(member.clone(), via) {
                None => elsewhere_names.add(member.id, &member.name),
                Some(old) => elsewhere_names.rename(member.id, &old, &member.name),
            }
        }
        for (name, policy) in recovered.policies {
            if let Some(room) = rooms.get_mut(&name) {
                room.policy = policy;
            }
        }
        let default_room = config.default_room.clone();
        let shared = Arc::new_cyclic(|shared: &std::sync::Weak<Shared>| {
            let shared = shared.clone();
            let on_progress = Box::new(move |progress| {
                if let Some(shared) = shared.upgrade() {
                    let chat = Chat { shared };
                    match progress {
                        Progress::Stored(position) => chat.stored_through(position),
                        Progress::Sequenced { position, event } => chat.sequenced(position, *event),
                        Progress::Recorded(position) => chat.recorded(position),
                        Progress::Changed(record) => chat.changed(*record),
                        Progress::Followed { event, via } => chat.followed(*event, via),
                        Progress::Dropped { from } => chat.not_stored(from),
                    }
                }
            });
            let appender = log.start(config.storage_timeout, on_progress);
            Shared {
                state: Mutex::new(State {
                    members: HashMap::new(),
                    sessions: HashMap::new(),
                    next_conn: 1,
                    names: HashSet::new(),
                    elsewhere_names,
                    identities: identities::Identities::recovered(
                        recovered.identities,
                        recovered.conversations,
                    ),
                    unstored_records: Default::default(),
                    rooms,
                    room_keys,
                    closing: false,
                    pending: Pending::default(),
                    next_position: 1,
                    appender: Some(appender),
                    encoder: config.encoder.clone(),
                    default_room: config.default_room.clone(),
                    clock: config.clock.clone(),
                    server_ops: HashSet::new(),
                    server_policy: recovered.server_policy,
                }),
                config,
                log: log.clone(),
                durable: watch::Sender::new(0),
                readers: watch::Sender::new(0),
            }
        });
        let chat = Self { shared };
        let mut state = chat.lock();
        if !state.rooms.contains_key(&default_room) {
            state.add_room(default_room);
        }
        // Whoever was in a room when the server last died has left: history says so once.
        for (room, info) in recovered.left_behind {
            if state.rooms.contains_key(&room) {
                tracing::info!(%room, id = %info.id, name = %info.name, "recording the leave of a member from before the restart");
                state.publish(
                    &room,
                    EventKind::Leave,
                    info,
                    Some(RESTARTED.to_owned()),
                    None,
                );
            }
        }
        drop(state);
        Ok(chat)
    }

    /// A chat whose history lives in memory only.
    pub fn in_memory(config: ChatConfig) -> Self {
        Self::new(config, Arc::new(MemoryLog::default())).expect("a memory log reads")
    }

    /// Stored history, for paging back and catching up.
    pub fn log(&self) -> Arc<dyn EventLog> {
        self.shared.log.clone()
    }

    pub fn config(&self) -> &ChatConfig {
        &self.shared.config
    }

    /// The room a call that names none means.
    pub fn default_room(&self) -> &str {
        &self.shared.config.default_room
    }

    /// Resolves once every event accepted so far is stored and delivered.
    pub async fn settled(&self) {
        let last = self.lock().next_position - 1;
        self.stored_position(last).await;
    }

    async fn stored_position(&self, position: u64) {
        let mut durable = self.shared.durable.subscribe();
        let _ = durable.wait_for(|stored| *stored >= position).await;
    }

    /// Called by the log after each commit: delivers what is now safe.
    pub(super) fn stored_through(&self, position: u64) {
        let mut state = self.lock();
        state.deliver_through(position, &self.shared.config);
        state.records_stored_through(position);
        drop(state);
        self.shared.durable.send_replace(position);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves the maps consistent (every mutation is a
        // single insert or remove), so carrying on is safe.
        self.shared
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl State {
    /// Refuses a new event while as many events, or as many bytes, as the config allows
    /// are waiting for the log: joins and renames count as much as messages.
    fn check_pending(&self, config: &ChatConfig) -> Result<(), RoomError> {
        if self.pending.len() >= config.max_pending
            || self.pending.bytes() >= config.max_pending_bytes
        {
            return Err(RoomError::StorageBehind);
        }
        Ok(())
    }

    /// The member behind a session. Every call names its session, so looking it up is what
    /// counts as activity: an HTTP member that only reads history is not idle.
    fn member_mut(&mut self, session: &str) -> Result<&mut Member, RoomError> {
        let (id, _) = self.session(session)?;
        Ok(self
            .members
            .get_mut(&id)
            .expect("every session maps to a member"))
    }

    /// The member id and connection number behind a session, marking the session active.
    fn session(&mut self, session: &str) -> Result<(Uuid, u64), RoomError> {
        let (id, conn) = *self
            .sessions
            .get(session)
            .ok_or(RoomError::UnknownSession)?;
        let member = self
            .members
            .get_mut(&id)
            .expect("every session maps to a member");
        member
            .conns
            .get_mut(&conn)
            .expect("every session maps to a connection")
            .last_active = Instant::now();
        Ok((id, conn))
    }

    /// A room that exists.
    fn room(&self, name: &str) -> Result<&Room, RoomError> {
        self.rooms
            .get(name)
            .ok_or_else(|| RoomError::NoSuchRoom(name.to_owned()))
    }

    /// Makes a room and marks its name taken (a conversation has no name to take).
    fn add_room(&mut self, name: String) {
        if !conversations::is_conversation(&name) {
            for key in room_name::room_keys(&name) {
                self.room_keys.insert(key, name.clone());
            }
        }
        self.rooms.insert(name.clone(), Room::new(name, unix_ms()));
    }

    /// Forgets a room nobody ever stored anything in (its creation was taken back).
    fn drop_unstored_room(&mut self, name: &str) {
        let unused = self
            .rooms
            .get(name)
            .is_some_and(|room| room.durable_seq == 0 && room.seats.is_empty())
            && name != self.default_room
            && !conversations::is_conversation(name);
        if unused {
            self.rooms.remove(name);
            self.room_keys.retain(|_, room| room != name);
        }
    }

    /// A member as a room's member list shows it, if it is in the room.
    fn listed_member(&self, id: Uuid, room: &str) -> Option<MemberInfo> {
        let m = self.members.get(&id).filter(|m| m.rooms.contains(room))?;
        Some(MemberInfo {
            role: self.role_shown(id, room),
            away: m.away.clone(),
            ..m.info.clone()
        })
    }

    /// How many members are in a room (not counting those whose part is on its way).
    fn member_count(&self, room: &str) -> usize {
        let Some(found) = self.rooms.get(room) else {
            return 0;
        };
        found
            .seats
            .keys()
            .filter(|id| self.members.get(id).is_some_and(|m| m.rooms.contains(room)))
            .count()
    }

    fn member_list(&self, room: &str) -> Vec<MemberInfo> {
        let Some(room) = self.rooms.get(room) else {
            return Vec::new();
        };
        let mut list: Vec<MemberInfo> = room
            .seats
            .keys()
            .filter_map(|id| self.listed_member(*id, &room.name))
            .collect();
        list.extend(
            room.remote
                .values()
                .filter(|m| !room.seats.contains_key(&m.info.id))
                .map(|m| m.info.clone()),
        );
        list.sort_by_cached_key(|m| m.name.to_lowercase());
        list
    }

    /// Gives the event the room's next seq and sends it to be stored; it is delivered once
    /// it is, to everyone seated but the session it came from (`origin`).
    fn publish(
        &mut self,
        room: &str,
        kind: EventKind,
        from: MemberInfo,
        text: Option<String>,
        origin: Option<u64>,
    ) {
        self.accept(room, (kind, from, text, Default::default()), origin, None);
    }

    /// Ends one session of a member. If it was its last, the member leaves every room with
    /// `text` as the reason; otherwise the others notice nothing.
    fn end_conn(&mut self, id: Uuid, conn: u64, reason: LeaveReason, text: Option<String>) {
        let Some(member) = self.members.get_mut(&id) else {
            return;
        };
        if member.conns.len() <= 1 {
            self.remove(id, reason, text);
            return;
        }
        let Some(ended) = member.conns.remove(&conn) else {
            return;
        };
        self.sessions.remove(&ended.session);
        for room in &member.seats {
            if let Some(seat) = self.rooms.get_mut(room).and_then(|r| r.seats.get_mut(&id)) {
                seat.conns.retain(|c| c.conn != conn);
            }
        }
        ended.inbox.ended.send_replace(Some(reason));
        tracing::info!(%id, conn, %reason, "a session ended; the member stays");
    }

    /// Takes a member out of every map and every room, and marks why; returns it and the
    /// rooms it was in, if it was still here.
    fn detach(&mut self, id: Uuid, reason: LeaveReason) -> Option<(MemberInfo, Vec<String>)> {
        let member = self.members.remove(&id)?;
        for conn in member.conns.values() {
            self.sessions.remove(&conn.session);
            conn.inbox.ended.send_replace(Some(reason));
        }
        for key in text_keys(&member.info.name) {
            self.names.remove(&key);
        }
        for room in &member.seats {
            if let Some(room) = self.rooms.get_mut(room) {
                room.seats.remove(&id);
            }
        }
        if let Some(key) = &member.key {
            self.identity_seen(key);
        }
        Some((member.info, member.rooms.into_iter().collect()))
        // Dropping the queue senders here closes the queues: readers drain what is left,
        // then stop.
    }

    /// Detaches a member and tells every room it was in, with `text` as the leave's reason
    /// (never a conversation: nobody joins or leaves those).
    fn remove(&mut self, id: Uuid, reason: LeaveReason, text: Option<String>) {
        if let Some((info, rooms)) = self.detach(id, reason) {
            tracing::info!(id = %info.id, name = %info.name, %reason, "left");
            for room in rooms {
                if !conversations::is_conversation(&room) {
                    self.publish(&room, EventKind::Leave, info.clone(), text.clone(), None);
                }
            }
        }
    }
}

/// The look-alike keys of a member name.
fn text_keys(name: &str) -> [String; 4] {
    crate::text::look_alike_keys(name)
}

#[cfg(test)]
mod tests;
