//! Durable history in SQLite: the embedded [`EventLog`], every room's events in one file.
//!
//! One writer thread owns the write connection and commits events in batches (group
//! commit): whatever arrived while the previous commit was being synced goes into the next
//! transaction, so storing keeps pace with the rooms however fast they run. After each
//! commit the writer reports the highest log position now on disk; only then do the rooms
//! deliver those events and acknowledge them to their senders, so nothing anyone has seen
//! or been promised can be lost in a crash. Reads (history pages, catch-up) use a second
//! connection and never wait for the writer. The writer, and what it does when the disk
//! fails, is in [`writer`]; the tables and the migration from a single-room database in
//! `schema`. The store also remembers who is in each room (`presence`), so that after a
//! crash the rooms can record the leaves of those who were there, what the chat knows
//! of identities (`identities`), and moderation: rooms' and the server's policies and
//! whom identities ignore (`policies`), stored in order with the events (schema 4, whose
//! tables `schema` describes), notification levels (`notify`, schema 5), and the full-text
//! index of messages (`search`, schema 6). A deleted message's text is removed from its
//! row when the delete is stored, with `secure_delete` on so that the bytes it took are
//! overwritten, not left in free space. `admin` is `chatroom admin`'s access to a database
//! no server has open.

pub mod admin;
mod identities;
pub mod nats;
mod notify;
mod policies;
mod presence;
mod schema;
mod search;
pub mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, params};

use crate::domain::{
    Appender, DEFAULT_ROOM, Event, EventLog, Found, LogError, MemberInfo, OnProgress, Recovered,
    SearchFailure, SearchPage, SearchQuery,
};
use presence::read_present;
pub use writer::{WriteFaults, Writer};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A mistyped path must not quietly become an empty history.
    #[error("the directory {} does not exist (create it, or check the path)", dir.display())]
    NoDirectory { dir: PathBuf },
    #[error("cannot open {path}: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("database {path}: {source}")]
    Sqlite {
        path: String,
        source: rusqlite::Error,
    },
    #[error("history query failed: {0}")]
    Query(#[from] rusqlite::Error),
    #[error("stored event {seq} is unreadable: {reason}")]
    Corrupt { seq: u64, reason: String },
    /// A ban must never be lost to a row that no longer reads.
    #[error(
        "the stored moderation of {whose} is unreadable ({reason}); restore the database \
         from a backup rather than run without its bans"
    )]
    CorruptPolicy { whose: String, reason: String },
    #[error("{path} is in use by another chatroom server")]
    InUse { path: PathBuf },
    /// Another name for the file would lead to another lock (and another WAL file), so two
    /// servers could share one history.
    #[error(
        "{} has {links} hard links; a database must have one name (copy it instead of linking it)",
        path.display()
    )]
    HardLinked { path: PathBuf, links: u64 },
    #[error("cannot lock {path}: {source}")]
    Lock {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Where history lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbLocation {
    /// In memory only: gone when the server stops.
    Memory,
    File(PathBuf),
}

impl DbLocation {
    /// `:memory:` means memory; anything else is a file path.
    pub fn parse(value: &str) -> Self {
        if value == ":memory:" {
            DbLocation::Memory
        } else {
            DbLocation::File(PathBuf::from(value))
        }
    }
}

impl std::fmt::Display for DbLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DbLocation::Memory => f.write_str(":memory:"),
            DbLocation::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// How much history to keep; `None` keeps everything.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retention {
    pub max_events: Option<u64>,
    pub max_age: Option<Duration>,
}

/// The write connection and the database's lock file, if any.
type WriterParts = (Arc<Mutex<Connection>>, Option<std::fs::File>);

/// An opened store: the [`EventLog`] the chat runs on.
pub struct Store {
    /// What the writer thread takes when the log starts: for a file, its own connection
    /// (in memory, the reader's, as an in-memory database lives in one connection), and
    /// the lock, held while the store is open, since two servers writing one file would
    /// hand out the same seqs.
    writer: Mutex<Option<WriterParts>>,
    reader: History,
    recovered: Recovered,
    retention: Retention,
    faults: WriteFaults,
}

/// Read access to stored history; cheap to clone.
#[derive(Clone)]
pub struct History {
    conn: Arc<Mutex<Connection>>,
}

impl Store {
    /// Opens (or creates) the database, migrating one from a single-room release into
    /// [`DEFAULT_ROOM`]. A file's directory must exist already, and one server at a time
    /// may have a file open, however its path is spelled.
    pub fn open(location: &DbLocation) -> Result<Self, StoreError> {
        Self::open_into(location, DEFAULT_ROOM)
    }

    /// [`Store::open`], with the room an old single-room database's history moves into.
    pub fn open_into(location: &DbLocation, default_room: &str) -> Result<Self, StoreError> {
        let sqlite = |source| StoreError::Sqlite {
            path: location.to_string(),
            source,
        };
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let (file, lock) = match location {
            DbLocation::Memory => (None, None),
            DbLocation::File(path) => {
                let real = real_path(path)?;
                let lock = lock_exclusively(&real)?;
                (Some(real), Some(lock))
            }
        };
        let mut writer = match &file {
            None => Connection::open_in_memory().map_err(sqlite)?,
            Some(path) => Connection::open_with_flags(path, flags).map_err(sqlite)?,
        };
        if file.is_some() {
            // WAL lets the reader work while the writer commits; FULL syncs every commit, so
            // an acknowledged message survives a crash or power loss.
            writer
                .pragma_update(None, "journal_mode", "WAL")
                .map_err(sqlite)?;
        }
        writer
            .pragma_update(None, "synchronous", "FULL")
            .map_err(sqlite)?;
        // What is deleted is overwritten where it lay (see SECURE_DELETE and ERASE).
        writer
            .pragma_update(None, "secure_delete", SECURE_DELETE)
            .map_err(sqlite)?;
        writer
            .busy_timeout(Duration::from_secs(5))
            .map_err(sqlite)?;
        schema::prepare(&mut writer, default_room).map_err(sqlite)?;
        let mut identities = identities::read_identities(&writer).map_err(sqlite)?;
        policies::fill_ignored(&writer, &mut identities, &sqlite)?;
        notify::fill_levels(&writer, &mut identities).map_err(sqlite)?;
        let recovered = Recovered {
            elsewhere: Vec::new(),
            identities,
            conversations: identities::read_conversations(&writer).map_err(sqlite)?,
            rooms: schema::read_rooms(&writer).map_err(sqlite)?,
            left_behind: read_present(&writer).map_err(sqlite)?,
            policies: policies::read_room_policies(&writer, &sqlite)?,
            server_policy: policies::read_server_policy(&writer, &sqlite)?,
        };
        let writer = Arc::new(Mutex::new(writer));
        let reader = match &file {
            None => writer.clone(),
            Some(path) => {
                let reader = Connection::open_with_flags(path, flags).map_err(sqlite)?;
                reader
                    .busy_timeout(Duration::from_secs(5))
                    .map_err(sqlite)?;
                Arc::new(Mutex::new(reader))
            }
        };
        Ok(Self {
            writer: Mutex::new(Some((writer, lock))),
            reader: History { conn: reader },
            recovered,
            retention: Retention::default(),
            faults: WriteFaults::default(),
        })
    }

    /// How much history the writer keeps, per room.
    pub fn with_retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    /// Members whose join into a room is stored but not their leave: the room still had
    /// them when the server last stopped without saying goodbye (a crash, or a disk that
    /// failed). The chat records their leaves before anything else.
    pub fn left_behind(&self) -> &[(String, MemberInfo)] {
        &self.recovered.left_behind
    }

    /// The switch that makes this store's commits fail, for tests.
    pub fn write_faults(&self) -> WriteFaults {
        self.faults.clone()
    }

    /// The highest seq stored so far in a room; it continues from the next one.
    pub fn last_seq(&self, room: &str) -> u64 {
        self.recovered
            .rooms
            .iter()
            .find(|r| r.name == room)
            .map_or(0, |r| r.last_seq)
    }

    pub fn history(&self) -> History {
        self.reader.clone()
    }
}

impl EventLog for Store {
    fn recovered(&self) -> Recovered {
        self.recovered.clone()
    }

    fn latest(&self, room: &str, limit: usize) -> Result<Vec<Event>, LogError> {
        self.reader.latest(room, limit).map_err(log_error)
    }

    fn before(&self, room: &str, before: u64, limit: usize) -> Result<Vec<Event>, LogError> {
        self.reader.before(room, before, limit).map_err(log_error)
    }

    fn after(&self, room: &str, since: u64, limit: usize) -> Result<Vec<Event>, LogError> {
        self.reader.after(room, since, limit).map_err(log_error)
    }

    fn search(
        &self,
        rooms: &[String],
        query: &SearchQuery,
        page: SearchPage,
    ) -> Result<Found, SearchFailure> {
        self.reader
            .search(rooms, query, page)
            .map_err(|err| SearchFailure::Failed(log_error(err)))
    }

    /// Starts the writer thread; a store starts once.
    fn start(&self, timeout: Duration, on_progress: OnProgress) -> Box<dyn Appender> {
        let (conn, lock) = self
            .writer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .expect("a store's log is started once");
        Box::new(writer::start(
            conn,
            lock,
            self.faults.clone(),
            self.retention,
            timeout,
            on_progress,
        ))
    }
}

fn log_error(err: StoreError) -> LogError {
    LogError(err.to_string())
}

/// The write connection's `secure_delete`: `FAST` zeroes what is deleted inside a page at
/// no extra I/O, not the pages freed whole (those of pruned history, say), which `ON`
/// would write again, doubling what pruning writes.
pub(crate) const SECURE_DELETE: &str = "FAST";
/// The `secure_delete` of what must leave no trace: a deleted message (its overflow pages
/// too) and a room deleted by `admin`.
pub(crate) const ERASE: &str = "ON";

const SELECT_EVENTS: &str = "SELECT e.seq, e.ts, e.kind, e.from_id, e.from_name, e.text,
         e.target_id, e.target_name, e.until, e.target_seq
     FROM events e JOIN rooms r ON r.id = e.room WHERE r.name = ?1";

impl History {
    /// Up to `limit` events of a room with seq below `before`, oldest first.
    pub fn before(&self, room: &str, before: u64, limit: usize) -> Result<Vec<Event>, StoreError> {
        let sql = format!("{SELECT_EVENTS} AND e.seq < ?2 ORDER BY e.seq DESC LIMIT ?3");
        let mut events = self.query(&sql, room, before, limit)?;
        events.reverse();
        Ok(events)
    }

    /// Up to `limit` events of a room with seq above `since`, oldest first.
    pub fn after(&self, room: &str, since: u64, limit: usize) -> Result<Vec<Event>, StoreError> {
        let sql = format!("{SELECT_EVENTS} AND e.seq > ?2 ORDER BY e.seq LIMIT ?3");
        self.query(&sql, room, since, limit)
    }

    /// The latest `limit` events of a room, oldest first.
    pub fn latest(&self, room: &str, limit: usize) -> Result<Vec<Event>, StoreError> {
        self.before(room, i64::MAX as u64, limit)
    }

    fn query(
        &self,
        sql: &str,
        room: &str,
        seq: u64,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError> {
        let conn = lock(&self.conn);
        let mut statement = conn.prepare_cached(sql)?;
        let rows = statement.query_map(
            params![room, seq.min(i64::MAX as u64) as i64, limit as i64],
            read_row,
        )?;
        rows.map(|row| row?.into_event(room)).collect()
    }
}

/// Reads the columns `SELECT_EVENTS` names, in its order.
fn read_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok(Row {
        seq: row.get::<_, i64>(0)? as u64,
        ts: row.get::<_, i64>(1)? as u64,
        kind: row.get(2)?,
        from_id: row.get(3)?,
        from_name: row.get(4)?,
        text: row.get(5)?,
        target_id: row.get(6)?,
        target_name: row.get(7)?,
        until: row.get::<_, Option<i64>>(8)?.map(|n| n as u64),
        target_seq: row.get::<_, Option<i64>>(9)?.map(|n| n as u64),
    })
}

/// An `events` row as it is read.
struct Row {
    seq: u64,
    ts: u64,
    kind: String,
    from_id: String,
    from_name: String,
    text: Option<String>,
    target_id: Option<String>,
    target_name: Option<String>,
    until: Option<u64>,
    target_seq: Option<u64>,
}

impl Row {
    fn into_event(self, room: &str) -> Result<Event, StoreError> {
        let seq = self.seq;
        let corrupt = |reason: String| StoreError::Corrupt { seq, reason };
        let id = |text: &str| {
            text.parse()
                .map_err(|e: uuid::Error| corrupt(e.to_string()))
        };
        let target = match self.target_id {
            Some(target_id) => Some(MemberInfo::new(
                id(&target_id)?,
                self.target_name.unwrap_or_default(),
            )),
            None => None,
        };
        Ok(Event {
            room: room.to_owned(),
            seq,
            ts: self.ts,
            kind: self.kind.parse().map_err(corrupt)?,
            from: MemberInfo::new(id(&self.from_id)?, self.from_name),
            text: self.text,
            target,
            until: self.until,
            target_seq: self.target_seq,
            presence: None,
        })
    }
}

/// A connection is left consistent by SQLite itself whatever happened while it was held.
fn lock(conn: &Mutex<Connection>) -> std::sync::MutexGuard<'_, Connection> {
    conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The file's real path (links and `..` resolved), so that every way of naming one database
/// leads to one lock. The file is created if need be, but never its directory: a mistyped
/// directory must not become an empty history.
pub(crate) fn real_path(path: &Path) -> Result<PathBuf, StoreError> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(StoreError::NoDirectory {
            dir: dir.to_owned(),
        });
    }
    let open = |source| StoreError::Open {
        path: path.to_owned(),
        source,
    };
    // An empty file is an empty SQLite database.
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(open)?;
    let real = std::fs::canonicalize(path).map_err(open)?;
    // A hard link is a second real path to the same file, which no path can tell apart.
    let links = hard_links(&std::fs::metadata(&real).map_err(open)?);
    if links > 1 {
        return Err(StoreError::HardLinked { path: real, links });
    }
    Ok(real)
}

#[cfg(unix)]
fn hard_links(meta: &std::fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::nlink(meta)
}

#[cfg(not(unix))]
fn hard_links(_: &std::fs::Metadata) -> u64 {
    1
}

/// Takes `PATH.lock` (for the real path) for this process alone; the operating system lets
/// go of it however the process ends.
pub(crate) fn lock_exclusively(path: &Path) -> Result<std::fs::File, StoreError> {
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    let lock_path = PathBuf::from(lock_path);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|source| StoreError::Lock {
            path: lock_path.clone(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::InUse {
            path: path.to_owned(),
        }),
        Err(std::fs::TryLockError::Error(source)) => Err(StoreError::Lock {
            path: lock_path,
            source,
        }),
    }
}

#[cfg(test)]
mod tests;
