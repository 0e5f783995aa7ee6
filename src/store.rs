//! Durable history: every event the room accepts, kept in SQLite.
//!
//! One writer thread owns the write connection and commits events in batches (group
//! commit): whatever arrived while the previous commit was being synced goes into the next
//! transaction, so storing keeps pace with the room however fast it runs. After each commit
//! the writer reports the highest seq now on disk; only then does the room deliver those
//! events and acknowledge them to their senders, so nothing anyone has seen or been promised
//! can be lost in a crash. Reads (history pages, catch-up) use a second connection and never
//! wait for the writer.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use crate::rpc::types::{Event, EventKind, MemberInfo, Stamped};

/// Most events written in one transaction.
const MAX_BATCH: usize = 4096;
/// How long the writer waits before trying a failed commit again.
const RETRY_AFTER: Duration = Duration::from_secs(1);
/// Rows deleted per pruning statement, so pruning never holds the writer for long.
const PRUNE_CHUNK: i64 = 10_000;
/// How often the writer considers pruning.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the directory for {path}: {source}")]
    CreateDir {
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
    #[error("{path} is in use by another chatroom server")]
    InUse { path: PathBuf },
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

/// An opened store, before its writer has started.
pub struct Store {
    /// For a file, its own connection; in memory, the same one as the reader's (an
    /// in-memory database lives in one connection).
    writer: Arc<Mutex<Connection>>,
    /// Held while the store is open: two servers writing one file would hand out the same
    /// seqs.
    lock: Option<std::fs::File>,
    reader: History,
    last_seq: u64,
}

/// Read access to stored history; cheap to clone.
#[derive(Clone)]
pub struct History {
    conn: Arc<Mutex<Connection>>,
}

/// The room's end of the writer thread.
pub struct Writer {
    events: mpsc::Sender<Arc<Stamped>>,
    thread: std::thread::JoinHandle<()>,
}

impl Store {
    pub fn open(location: &DbLocation) -> Result<Self, StoreError> {
        let sqlite = |source| StoreError::Sqlite {
            path: location.to_string(),
            source,
        };
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let writer = match location {
            DbLocation::Memory => Connection::open_in_memory().map_err(sqlite)?,
            DbLocation::File(path) => {
                create_parent_dir(path)?;
                Connection::open_with_flags(path, flags).map_err(sqlite)?
            }
        };
        let lock = match location {
            DbLocation::Memory => None,
            DbLocation::File(path) => Some(lock_exclusively(path)?),
        };
        if matches!(location, DbLocation::File(_)) {
            // WAL lets the reader work while the writer commits; FULL syncs every commit, so
            // an acknowledged message survives a crash or power loss.
            writer
                .pragma_update(None, "journal_mode", "WAL")
                .map_err(sqlite)?;
        }
        writer
            .pragma_update(None, "synchronous", "FULL")
            .map_err(sqlite)?;
        writer
            .busy_timeout(Duration::from_secs(5))
            .map_err(sqlite)?;
        writer
            .execute_batch(
                "CREATE TABLE IF NOT EXISTS events (
                     seq INTEGER PRIMARY KEY,
                     ts INTEGER NOT NULL,
                     kind TEXT NOT NULL,
                     from_id TEXT NOT NULL,
                     from_name TEXT NOT NULL,
                     text TEXT
                 );
                 -- The highest seq ever given out, kept even when pruning empties `events`,
                 -- so seq keeps rising across restarts.
                 CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);",
            )
            .map_err(sqlite)?;
        let last_seq: i64 = writer
            .query_row(
                "SELECT MAX(COALESCE((SELECT value FROM meta WHERE key = 'last_seq'), 0),
                            COALESCE((SELECT MAX(seq) FROM events), 0))",
                [],
                |row| row.get(0),
            )
            .map_err(sqlite)?;
        let writer = Arc::new(Mutex::new(writer));
        let reader = match location {
            DbLocation::Memory => writer.clone(),
            DbLocation::File(path) => {
                let reader = Connection::open_with_flags(path, flags).map_err(sqlite)?;
                reader
                    .busy_timeout(Duration::from_secs(5))
                    .map_err(sqlite)?;
                Arc::new(Mutex::new(reader))
            }
        };
        Ok(Self {
            writer,
            lock,
            reader: History { conn: reader },
            last_seq: last_seq as u64,
        })
    }

    /// The highest seq stored so far; the room continues from the next one.
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    pub fn history(&self) -> History {
        self.reader.clone()
    }

    /// Starts the writer thread. `on_durable` is called from it with the highest seq that
    /// is safely on disk, after every commit.
    pub fn start_writer(
        self,
        retention: Retention,
        on_durable: impl Fn(u64) + Send + 'static,
    ) -> Writer {
        let (events, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("chatroom-store".into())
            .spawn(move || {
                // The lock goes when the writer does.
                let _lock = self.lock;
                write_loop(self.writer, rx, retention, on_durable)
            })
            .expect("spawning the store writer thread");
        Writer { events, thread }
    }
}

impl Writer {
    /// Stores what is queued, then closes the database and lets go of its lock. Blocks until
    /// the writer thread is done.
    pub fn close(self) {
        drop(self.events);
        if self.thread.join().is_err() {
            tracing::error!("the store writer thread panicked");
        }
    }

    /// Queues an event for storing; never blocks.
    pub fn append(&self, event: Arc<Stamped>) {
        // The writer thread only stops once every sender is gone.
        let _ = self.events.send(event);
    }
}

impl History {
    /// Up to `limit` events with seq below `before`, oldest first.
    pub fn before(&self, before: u64, limit: usize) -> Result<Vec<Event>, StoreError> {
        let mut events = self.query(
            "SELECT seq, ts, kind, from_id, from_name, text FROM events
             WHERE seq < ?1 ORDER BY seq DESC LIMIT ?2",
            before,
            limit,
        )?;
        events.reverse();
        Ok(events)
    }

    /// Up to `limit` events with seq above `since`, oldest first.
    pub fn after(&self, since: u64, limit: usize) -> Result<Vec<Event>, StoreError> {
        self.query(
            "SELECT seq, ts, kind, from_id, from_name, text FROM events
             WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            since,
            limit,
        )
    }

    /// The latest `limit` events, oldest first.
    pub fn latest(&self, limit: usize) -> Result<Vec<Event>, StoreError> {
        self.before(i64::MAX as u64, limit)
    }

    fn query(&self, sql: &str, seq: u64, limit: usize) -> Result<Vec<Event>, StoreError> {
        let conn = lock(&self.conn);
        let mut statement = conn.prepare_cached(sql)?;
        let rows = statement.query_map(
            params![seq.min(i64::MAX as u64) as i64, limit as i64],
            |row| {
                Ok((
                    row.get::<_, i64>(0)? as u64,
                    row.get::<_, i64>(1)? as u64,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, String>(4)?,
                    row.get::<_, Option<String>>(5)?,
                ))
            },
        )?;
        rows.map(|row| {
            let (seq, ts, kind, from_id, from_name, text) = row?;
            let corrupt = |reason: String| StoreError::Corrupt { seq, reason };
            Ok(Event {
                seq,
                ts,
                kind: kind.parse().map_err(corrupt)?,
                from: MemberInfo {
                    id: from_id
                        .parse()
                        .map_err(|e: uuid::Error| corrupt(e.to_string()))?,
                    name: from_name,
                },
                text,
            })
        })
        .collect()
    }
}

/// A connection is left consistent by SQLite itself whatever happened while it was held.
fn lock(conn: &Mutex<Connection>) -> std::sync::MutexGuard<'_, Connection> {
    conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Takes `PATH.lock` for this process alone; the operating system lets go of it however the
/// process ends.
fn lock_exclusively(path: &Path) -> Result<std::fs::File, StoreError> {
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

fn create_parent_dir(path: &Path) -> Result<(), StoreError> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: path.to_owned(),
                source,
            })
        }
        _ => Ok(()),
    }
}

fn write_loop(
    conn: Arc<Mutex<Connection>>,
    rx: mpsc::Receiver<Arc<Stamped>>,
    retention: Retention,
    on_durable: impl Fn(u64),
) {
    let mut batch = Vec::new();
    let mut last_prune = std::time::Instant::now();
    // Whether the last pruning step had more to do.
    let mut pruning = false;
    while let Ok(first) = rx.recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(event) => batch.push(event),
                Err(_) => break,
            }
        }
        // Nothing is acknowledged until it is stored, so a failing disk stalls the room's
        // acknowledgements rather than losing messages; keep trying.
        loop {
            // The connection is locked for the write only, not for the wait before a retry:
            // an in-memory store's readers share it.
            let written = write_batch(&mut lock(&conn), &batch);
            match written {
                Ok(()) => break,
                Err(err) => {
                    tracing::error!(%err, events = batch.len(), "storing events failed; retrying");
                    std::thread::sleep(RETRY_AFTER);
                }
            }
        }
        on_durable(batch.last().expect("a batch is never empty").seq);
        batch.clear();

        // One chunk per batch at most, so pruning never holds up deliveries for long.
        if pruning || last_prune.elapsed() >= PRUNE_EVERY {
            last_prune = std::time::Instant::now();
            let pruned = prune_chunk(&lock(&conn), retention);
            pruning = match pruned {
                Ok(removed) => removed == PRUNE_CHUNK as usize,
                Err(err) => {
                    tracing::warn!(%err, "pruning history failed");
                    false
                }
            };
        }
    }
}

fn write_batch(conn: &mut Connection, batch: &[Arc<Stamped>]) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    {
        let mut insert = tx.prepare_cached(
            // A seq already taken fails the batch (and so holds back its acknowledgements)
            // rather than being dropped in silence.
            "INSERT INTO events (seq, ts, kind, from_id, from_name, text)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for event in batch {
            insert.execute(params![
                event.seq as i64,
                event.ts as i64,
                event.kind.as_str(),
                event.from.id.to_string(),
                event.from.name,
                event.text,
            ])?;
        }
        let last = batch.last().map_or(0, |e| e.seq as i64);
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('last_seq', ?1)
             ON CONFLICT(key) DO UPDATE SET value = MAX(value, excluded.value)",
            [last],
        )?;
    }
    tx.commit()
}

/// Deletes up to one chunk of what retention no longer keeps. Returns how many rows went.
fn prune_chunk(conn: &Connection, retention: Retention) -> rusqlite::Result<usize> {
    let newest: Option<i64> = conn
        .query_row("SELECT MAX(seq) FROM events", [], |row| row.get(0))
        .optional()?
        .flatten();
    let Some(newest) = newest else { return Ok(0) };
    let keep_from_seq = retention
        .max_events
        .map_or(0, |n| newest - n.min(i64::MAX as u64) as i64 + 1);
    let keep_from_ts = retention.max_age.map_or(0, |age| {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        now.saturating_sub(age).as_millis() as i64
    });
    let removed = conn.execute(
        "DELETE FROM events WHERE seq IN (
             SELECT seq FROM events WHERE seq < ?1 OR ts < ?2 ORDER BY seq LIMIT ?3)",
        params![keep_from_seq, keep_from_ts, PRUNE_CHUNK],
    )?;
    if removed > 0 {
        tracing::info!(removed, "pruned old history");
    }
    Ok(removed)
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Message => "message",
            EventKind::Join => "join",
            EventKind::Leave => "leave",
            EventKind::System => "system",
            EventKind::Action => "action",
            EventKind::Nick => "nick",
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
            other => return Err(format!("unknown event kind {other:?}")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn event(seq: u64, ts: u64) -> Arc<Stamped> {
        Arc::new(Stamped::new(Event {
            seq,
            ts,
            kind: EventKind::Message,
            from: MemberInfo {
                id: Uuid::from_u128(7),
                name: "alice".into(),
            },
            text: Some(format!("m{seq}")),
        }))
    }

    /// Appends events and waits until the writer says they are on disk.
    fn store_events(
        writer: &Writer,
        durable: &mpsc::Receiver<u64>,
        seqs: impl Iterator<Item = u64>,
    ) {
        let mut last = 0;
        for seq in seqs {
            writer.append(event(seq, seq));
            last = seq;
        }
        while durable
            .recv_timeout(Duration::from_secs(10))
            .expect("writer reports progress")
            < last
        {}
    }

    fn started(store: Store, retention: Retention) -> (Writer, mpsc::Receiver<u64>) {
        let (tx, rx) = mpsc::channel();
        let writer = store.start_writer(retention, move |seq| {
            let _ = tx.send(seq);
        });
        (writer, rx)
    }

    fn temp_db() -> (PathBuf, impl Drop) {
        struct Cleanup(PathBuf);
        impl Drop for Cleanup {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
        let dir = std::env::temp_dir().join(format!("chatroom-store-{}", Uuid::new_v4()));
        (dir.join("nested/chat.db"), Cleanup(dir))
    }

    #[test]
    fn events_come_back_in_pages() {
        let store = Store::open(&DbLocation::Memory).unwrap();
        let history = store.history();
        let (writer, durable) = started(store, Retention::default());
        store_events(&writer, &durable, 1..=10);

        let seqs = |events: Vec<Event>| events.iter().map(|e| e.seq).collect::<Vec<_>>();
        assert_eq!(seqs(history.before(6, 3).unwrap()), [3, 4, 5]);
        assert_eq!(seqs(history.after(6, 3).unwrap()), [7, 8, 9]);
        assert_eq!(seqs(history.latest(2).unwrap()), [9, 10]);
        assert_eq!(seqs(history.after(10, 5).unwrap()), Vec::<u64>::new());
        let first = &history.after(0, 1).unwrap()[0];
        assert_eq!(*first, event(1, 1).event);
    }

    #[test]
    fn a_reopened_file_continues_where_it_left_off() {
        let (path, _cleanup) = temp_db();
        let location = DbLocation::File(path);
        {
            let store = Store::open(&location).unwrap();
            assert_eq!(store.last_seq(), 0);
            let (writer, durable) = started(store, Retention::default());
            store_events(&writer, &durable, 1..=5);
            writer.close();
        }
        let store = Store::open(&location).unwrap();
        assert_eq!(store.last_seq(), 5);
        assert_eq!(store.history().latest(10).unwrap().len(), 5);
    }

    #[test]
    fn pruning_keeps_the_newest_and_the_seq_high_water_mark() {
        let (path, _cleanup) = temp_db();
        let location = DbLocation::File(path);
        let store = Store::open(&location).unwrap();
        let history = store.history();
        let conn = Connection::open(match &location {
            DbLocation::File(p) => p,
            DbLocation::Memory => unreachable!(),
        })
        .unwrap();
        let (writer, durable) = started(store, Retention::default());
        store_events(&writer, &durable, 1..=20);

        let retention = Retention {
            max_events: Some(5),
            max_age: None,
        };
        assert_eq!(prune_chunk(&conn, retention).unwrap(), 15);
        let kept: Vec<u64> = history.latest(100).unwrap().iter().map(|e| e.seq).collect();
        assert_eq!(kept, [16, 17, 18, 19, 20]);

        // Everything older than a day goes (these events have ts = seq ms after the epoch).
        let by_age = Retention {
            max_events: None,
            max_age: Some(Duration::from_secs(86_400)),
        };
        assert_eq!(prune_chunk(&conn, by_age).unwrap(), 5);
        writer.close();
        drop((history, conn));
        assert_eq!(
            Store::open(&location).unwrap().last_seq(),
            20,
            "seq never goes back"
        );
    }

    #[test]
    fn a_file_in_use_by_another_server_is_refused() {
        let (path, _cleanup) = temp_db();
        let location = DbLocation::File(path);
        let first = Store::open(&location).unwrap();
        assert!(matches!(
            Store::open(&location),
            Err(StoreError::InUse { .. })
        ));
        drop(first);
        assert!(Store::open(&location).is_ok(), "free again once closed");
    }

    #[test]
    fn memory_stores_are_separate() {
        let a = Store::open(&DbLocation::Memory).unwrap();
        let history_a = a.history();
        let (writer, durable) = started(a, Retention::default());
        store_events(&writer, &durable, 1..=3);
        let b = Store::open(&DbLocation::Memory).unwrap();
        assert_eq!(b.last_seq(), 0);
        assert_eq!(b.history().latest(10).unwrap().len(), 0);
        assert_eq!(history_a.latest(10).unwrap().len(), 3);
    }

    #[test]
    fn location_parsing() {
        assert_eq!(DbLocation::parse(":memory:"), DbLocation::Memory);
        assert_eq!(
            DbLocation::parse("/tmp/x.db"),
            DbLocation::File("/tmp/x.db".into())
        );
    }
}
