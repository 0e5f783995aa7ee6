//! The seam between the rooms and the place where events are kept: [`EventLog`].
//!
//! The rooms give every event its seq and hand it to the log in the order they accepted it,
//! each with a position: one counter across all rooms, the order of the log. The log
//! answers, from its own thread, how far it has got ([`Progress`]). Only then do the rooms
//! deliver and acknowledge those events, so nothing anyone has seen can be lost. Reads page
//! through one room's history. Following the log is the same callback: stored events come
//! back in order.
//!
//! Beside the events, the log keeps what the chat knows of identities ([`Record`]): who owns
//! which name, the rooms and conversations each identity is in, and how far each has read.
//! Records take positions from the same counter and are stored in the same order, so a
//! join acknowledged as stored has its claim on the name stored with it.
//!
//! SQLite (`store`) is the embedded default; [`MemoryLog`] keeps everything in memory, for
//! tests and for servers that need no history. A replicated log (NATS JetStream) plugs in
//! here without touching the room logic.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use uuid::Uuid;

use super::event::{Event, EventKind, MemberInfo, Stamped};
use super::notify::NotifyLevel;
use super::policy::{RoomPolicy, ServerPolicy};
use super::search::{Found, SearchFailure, SearchPage, SearchQuery};

/// Why the log could not answer.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct LogError(pub String);

/// A room as the log knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomRecord {
    pub name: String,
    pub topic: Option<String>,
    /// When its first event was stored, milliseconds since the Unix epoch.
    pub created: u64,
    /// The highest seq it ever gave out, kept when retention prunes its events.
    pub last_seq: u64,
    /// When its latest event happened.
    pub last_active: u64,
}

/// An identity: a public key, and the name it owns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdentityRecord {
    /// The Ed25519 public key, base64: what the identity is.
    pub key: String,
    /// The member id it always has, made from the key.
    pub id: Uuid,
    /// The name it owns; `None` once released for lack of use.
    pub name: Option<String>,
    /// When it came to own that name, milliseconds since the Unix epoch.
    pub since: u64,
    /// When it was last connected (its last session's end, or now while connected).
    pub last_seen: u64,
}

/// What the chat keeps about identities, stored in order with the events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// An identity, new or changed.
    Identity(IdentityRecord),
    /// An identity (by key) is in a room or conversation from now on, or, with `member`
    /// false, no longer (it parted).
    Membership {
        key: String,
        room: String,
        member: bool,
    },
    /// The last seq an identity has seen in a room.
    Marker { key: String, room: String, seq: u64 },
    /// A conversation: the room holding two identities' direct messages.
    Conversation { room: String, keys: [String; 2] },
    /// A room's moderation, whole, as it is now (it replaces the one before).
    RoomPolicy { room: String, policy: RoomPolicy },
    /// The server's moderation, whole, as it is now.
    ServerPolicy(ServerPolicy),
    /// The members an identity (by key) ignores, whole, as they are now.
    Ignores { key: String, ignored: Vec<Uuid> },
    /// An identity's notification level in a room or conversation.
    Notify {
        key: String,
        room: String,
        level: NotifyLevel,
    },
}

/// An identity as the log remembers it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdentityState {
    pub record: IdentityRecord,
    /// The rooms and conversations it is in.
    pub rooms: Vec<String>,
    /// Room → the last seq it has seen there.
    pub markers: BTreeMap<String, u64>,
    /// The member ids it ignores.
    pub ignored: Vec<Uuid>,
    /// Room → the notification level it set there.
    pub notify: BTreeMap<String, NotifyLevel>,
}

/// What a log holds when it is opened.
#[derive(Debug, Clone, Default)]
pub struct Recovered {
    pub rooms: Vec<RoomRecord>,
    /// Members whose join into a room is stored but not their leave: the server last
    /// stopped without saying goodbye. The rooms record their leaves before anything else.
    pub left_behind: Vec<(String, MemberInfo)>,
    /// Members in a room through another server sharing the log: the room, the member,
    /// and the server.
    pub elsewhere: Vec<(String, MemberInfo, String)>,
    /// Every identity the log knows, by key.
    pub identities: Vec<IdentityState>,
    /// Every conversation: its room and the keys of its two identities.
    pub conversations: Vec<(String, [String; 2])>,
    /// The moderation of every room that has any.
    pub policies: Vec<(String, RoomPolicy)>,
    /// The server's bans.
    pub server_policy: ServerPolicy,
}

/// What the log tells the rooms, from its own thread, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Every event up to this position is durable.
    Stored(u64),
    /// The event at `position` is durable, as `event`: a log several servers share keeps
    /// each room on its own and numbers its events itself, so positions come back in each
    /// room's order rather than all in one, and the seq the rooms gave an event was only
    /// their guess. One the rooms already took back is taken in like another server's.
    Sequenced { position: u64, event: Box<Event> },
    /// The record at this position is durable (in a log that says so one by one).
    Recorded(u64),
    /// A record another server stored: the chat takes it in (a name owned, a marker
    /// moved, a room's or the server's moderation changed).
    Changed(Box<Record>),
    /// An event another server stored, in its room's order: the rooms take it in and
    /// deliver it as if it were their own. `via` names the server whose member it is
    /// about (the one it came through, or, for a leave recorded for a server that went
    /// away, that server).
    Followed { event: Box<Event>, via: String },
    /// The event at this position and every one appended after it are dropped and will
    /// never be stored, and so is anything appended until [`Appender::resume`].
    Dropped { from: u64 },
}

/// Called by the log with its [`Progress`].
pub type OnProgress = Box<dyn Fn(Progress) + Send + 'static>;

/// Where events get stored.
pub trait EventLog: Send + Sync + 'static {
    /// What was already stored when the log was opened.
    fn recovered(&self) -> Recovered;
    /// At most `limit` of the room's newest events, oldest first.
    fn latest(&self, room: &str, limit: usize) -> Result<Vec<Event>, LogError>;
    /// At most `limit` events just before seq `before`, oldest first.
    fn before(&self, room: &str, before: u64, limit: usize) -> Result<Vec<Event>, LogError>;
    /// At most `limit` events after seq `since`, oldest first.
    fn after(&self, room: &str, since: u64, limit: usize) -> Result<Vec<Event>, LogError>;
    /// Claims `name` for the identity `key` wherever several servers share the log, before
    /// the chat gives it: of two servers racing for one name, one wins. `false`: another
    /// key has it. A log only one server uses has nothing to race and says yes.
    fn claim_name(&self, _name: &str, _key: &str) -> Result<bool, LogError> {
        Ok(true)
    }
    /// At most `page.limit` messages and actions of `rooms` matching `query`, newest
    /// first, after the `page.offset` newest. The rooms are the ones the searcher may read,
    /// worked out by the chat. A log without an index to search says so: the default.
    fn search(
        &self,
        _rooms: &[String],
        _query: &SearchQuery,
        _page: SearchPage,
    ) -> Result<Found, SearchFailure> {
        Err(SearchFailure::Unavailable)
    }
    /// Starts taking appends. `timeout` bounds how long an event may wait to be stored;
    /// `on_progress` hears, from the log's own thread, what became durable or was dropped.
    fn start(&self, timeout: Duration, on_progress: OnProgress) -> Box<dyn Appender>;
}

/// The appending end of a started log.
pub trait Appender: Send {
    /// Queues an event; never blocks.
    fn append(&self, position: u64, event: Arc<Stamped>);
    /// Queues a record, stored in position order with the events; never blocks.
    fn record(&self, position: u64, record: Record);
    /// Answers [`Progress::Dropped`]: the rooms have let go of everything not stored, and
    /// what they append from now on follows the last stored event.
    fn resume(&self);
    /// Stores what is queued, then stops, waiting at most `within`. Returns whether it
    /// finished in time.
    fn close(self: Box<Self>, within: Duration) -> bool;
}

/// A log in memory: every event is kept, in a thread of its own so that progress comes
/// back the way it does from a disk.
#[derive(Default, Clone)]
pub struct MemoryLog {
    rooms: Arc<Mutex<HashMap<String, Vec<Event>>>>,
    identities: Arc<Mutex<RecordSet>>,
}

/// The records a log keeps, applied as they come: what [`MemoryLog`] holds, and what a
/// log that stores them one by one keeps beside its store.
#[derive(Debug, Default, Clone)]
pub struct RecordSet {
    pub by_key: BTreeMap<String, IdentityState>,
    pub conversations: BTreeMap<String, [String; 2]>,
    pub policies: BTreeMap<String, RoomPolicy>,
    pub server_policy: ServerPolicy,
}

impl RecordSet {
    /// Puts what it holds into `recovered`.
    pub fn recover_into(&self, recovered: &mut Recovered) {
        recovered.identities = self.by_key.values().cloned().collect();
        recovered.conversations = self
            .conversations
            .iter()
            .map(|(room, keys)| (room.clone(), keys.clone()))
            .collect();
        recovered.policies = self
            .policies
            .iter()
            .map(|(room, policy)| (room.clone(), policy.clone()))
            .collect();
        recovered.server_policy = self.server_policy.clone();
    }

    /// Applies a record as a store would.
    pub fn apply(&mut self, record: Record) {
        match record {
            Record::Identity(record) => {
                let key = record.key.clone();
                match self.by_key.get_mut(&key) {
                    Some(state) => state.record = record,
                    None => {
                        self.by_key.insert(
                            key,
                            IdentityState {
                                record,
                                rooms: Vec::new(),
                                markers: BTreeMap::new(),
                                ignored: Vec::new(),
                                notify: BTreeMap::new(),
                            },
                        );
                    }
                }
            }
            Record::Membership { key, room, member } => {
                if let Some(state) = self.by_key.get_mut(&key) {
                    state.rooms.retain(|r| *r != room);
                    if member {
                        state.rooms.push(room);
                        state.rooms.sort();
                    }
                }
            }
            Record::Marker { key, room, seq } => {
                if let Some(state) = self.by_key.get_mut(&key) {
                    let marker = state.markers.entry(room).or_default();
                    *marker = (*marker).max(seq);
                }
            }
            Record::Conversation { room, keys } => {
                self.conversations.insert(room, keys);
            }
            Record::RoomPolicy { room, policy } => {
                self.policies.insert(room, policy);
            }
            Record::ServerPolicy(policy) => self.server_policy = policy,
            Record::Ignores { key, ignored } => {
                if let Some(state) = self.by_key.get_mut(&key) {
                    state.ignored = ignored;
                }
            }
            Record::Notify { key, room, level } => {
                if let Some(state) = self.by_key.get_mut(&key) {
                    state.notify.insert(room, level);
                }
            }
        }
    }
}

/// What a [`MemoryLog`]'s thread is handed.
enum MemoryJob {
    Event(u64, Arc<Stamped>),
    Record(u64, Record),
}

impl MemoryLog {
    fn read(&self, room: &str, pick: impl FnOnce(&[Event]) -> &[Event]) -> Vec<Event> {
        let rooms = self.rooms.lock().unwrap_or_else(|p| p.into_inner());
        rooms
            .get(room)
            .map(|events| pick(events).to_vec())
            .unwrap_or_default()
    }
}

impl EventLog for MemoryLog {
    fn recovered(&self) -> Recovered {
        let rooms = self.rooms.lock().unwrap_or_else(|p| p.into_inner());
        let mut recovered = Recovered::default();
        for (name, events) in rooms.iter() {
            let topic = events
                .iter()
                .rev()
                .find(|e| e.kind == EventKind::Topic)
                .and_then(|e| e.text.clone());
            recovered.rooms.push(RoomRecord {
                name: name.clone(),
                topic,
                created: events.first().map_or(0, |e| e.ts),
                last_seq: events.last().map_or(0, |e| e.seq),
                last_active: events.last().map_or(0, |e| e.ts),
            });
            let mut present: Vec<MemberInfo> = Vec::new();
            for event in events {
                match event.kind {
                    EventKind::Join => present.push(event.from.clone()),
                    EventKind::Leave => present.retain(|m| m.id != event.from.id),
                    // Put out of the room: it is gone as if it had left.
                    EventKind::Kick | EventKind::Ban | EventKind::Gban => {
                        if let Some(target) = &event.target {
                            present.retain(|m| m.id != target.id);
                        }
                    }
                    EventKind::Nick => {
                        for member in present.iter_mut().filter(|m| m.id == event.from.id) {
                            member.name.clone_from(&event.from.name);
                        }
                    }
                    _ => {}
                }
            }
            recovered
                .left_behind
                .extend(present.into_iter().map(|m| (name.clone(), m)));
        }
        recovered.rooms.sort_by(|a, b| a.name.cmp(&b.name));
        let identities = self.identities.lock().unwrap_or_else(|p| p.into_inner());
        identities.recover_into(&mut recovered);
        recovered
    }

    fn latest(&self, room: &str, limit: usize) -> Result<Vec<Event>, LogError> {
        Ok(self.read(room, |events| &events[events.len().saturating_sub(limit)..]))
    }

    fn before(&self, room: &str, before: u64, limit: usize) -> Result<Vec<Event>, LogError> {
        Ok(self.read(room, |events| {
            let end = events.partition_point(|e| e.seq < before);
            &events[end.saturating_sub(limit)..end]
        }))
    }

    fn after(&self, room: &str, since: u64, limit: usize) -> Result<Vec<Event>, LogError> {
        Ok(self.read(room, |events| {
            let start = events.partition_point(|e| e.seq <= since);
            &events[start..(start + limit).min(events.len())]
        }))
    }

    /// A plain scan of every event, by [`SearchQuery::matches`]: enough for tests and for
    /// servers that keep no history on disk.
    fn search(
        &self,
        rooms: &[String],
        query: &SearchQuery,
        page: SearchPage,
    ) -> Result<Found, SearchFailure> {
        let held = self.rooms.lock().unwrap_or_else(|p| p.into_inner());
        let mut hits: Vec<&Event> = rooms
            .iter()
            .filter_map(|room| held.get(room))
            .flatten()
            .filter(|e| matches!(e.kind, EventKind::Message | EventKind::Action))
            .filter(|e| {
                e.text
                    .as_deref()
                    .is_some_and(|text| query.matches(&e.from.name, text))
            })
            .collect();
        hits.sort_by(|a, b| (b.ts, &b.room, b.seq).cmp(&(a.ts, &a.room, a.seq)));
        let more = hits.len() > page.offset + page.limit;
        Ok(Found {
            events: hits
                .into_iter()
                .skip(page.offset)
                .take(page.limit)
                .cloned()
                .collect(),
            more,
        })
    }

    fn start(&self, _timeout: Duration, on_progress: OnProgress) -> Box<dyn Appender> {
        let (jobs, rx) = mpsc::channel::<MemoryJob>();
        let (done, finished) = mpsc::channel::<()>();
        let (rooms, identities) = (self.rooms.clone(), self.identities.clone());
        std::thread::Builder::new()
            .name("chatroom-memory-log".into())
            .spawn(move || {
                let _done = done;
                while let Ok(first) = rx.recv() {
                    let mut batch = vec![first];
                    while let Ok(next) = rx.try_recv() {
                        batch.push(next);
                    }
                    let mut position = 0;
                    {
                        let mut rooms = rooms.lock().unwrap_or_else(|p| p.into_inner());
                        let mut identities = identities.lock().unwrap_or_else(|p| p.into_inner());
                        for job in batch {
                            match job {
                                MemoryJob::Event(at, event) => {
                                    position = at;
                                    let events = rooms.entry(event.room.clone()).or_default();
                                    if event.kind == EventKind::Delete
                                        && let Some(seq) = event.target_seq
                                        && let Ok(i) = events.binary_search_by_key(&seq, |e| e.seq)
                                    {
                                        events[i] = tombstone(&events[i]);
                                    }
                                    events.push(event.event.clone());
                                }
                                MemoryJob::Record(at, record) => {
                                    position = at;
                                    identities.apply(record);
                                }
                            }
                        }
                    }
                    on_progress(Progress::Stored(position));
                }
            })
            .expect("spawning the memory log thread");
        Box::new(MemoryAppender { jobs, finished })
    }
}

/// A deleted message as history keeps it: its place, its author and time, not its text.
pub fn tombstone(event: &Event) -> Event {
    Event {
        kind: EventKind::Deleted,
        text: None,
        ..event.clone()
    }
}

struct MemoryAppender {
    jobs: mpsc::Sender<MemoryJob>,
    finished: mpsc::Receiver<()>,
}

impl Appender for MemoryAppender {
    fn append(&self, position: u64, event: Arc<Stamped>) {
        let _ = self.jobs.send(MemoryJob::Event(position, event));
    }

    fn record(&self, position: u64, record: Record) {
        let _ = self.jobs.send(MemoryJob::Record(position, record));
    }

    fn resume(&self) {}

    fn close(self: Box<Self>, within: Duration) -> bool {
        drop(self.jobs);
        !matches!(
            self.finished.recv_timeout(within),
            Err(mpsc::RecvTimeoutError::Timeout)
        )
    }
}
