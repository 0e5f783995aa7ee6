//! Durable history: every event the room accepts, kept in SQLite.
//!
//! One writer thread owns the write connection and commits events in batches (group
//! commit): whatever arrived while the previous commit was being synced goes into the next
//! transaction, so storing keeps pace with the room however fast it runs. After each commit
//! the writer reports the highest seq now on disk; only then does the room deliver those
//! events and acknowledge them to their senders, so nothing anyone has seen or been promised
//! can be lost in a crash. Reads (history pages, catch-up) use a second connection and never
//! wait for the writer. The writer, and what it does when the disk fails, is in [`writer`].
//! The store also remembers who is in the room (`presence`), so that after a crash the room
//! can record the leaves of those who were there.

mod presence;
pub mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, params};

use crate::rpc::types::{Event, EventKind, MemberInfo};
use presence::{fill_present_once, read_present};
pub use writer::{Progress, WriteFaults, Writer};

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
    /// Members whose join is stored but not their leave.
    present: Vec<MemberInfo>,
    faults: WriteFaults,
}

/// Read access to stored history; cheap to clone.
#[derive(Clone)]
pub struct History {
    conn: Arc<Mutex<Connection>>,
}

impl Store {
    /// Opens (or creates) the database. A file's directory must exist already, and one
    /// server at a time may have a file open, however its path is spelled.
    pub fn open(location: &DbLocation) -> Result<Self, StoreError> {
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
                 CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
                 -- Who is in the room as far as the stored events say: joined, not left.
                 CREATE TABLE IF NOT EXISTS present (id TEXT PRIMARY KEY, name TEXT NOT NULL);",
            )
            .map_err(sqlite)?;
        fill_present_once(&mut writer).map_err(sqlite)?;
        let present = read_present(&writer).map_err(sqlite)?;
        let last_seq: i64 = writer
            .query_row(
                "SELECT MAX(COALESCE((SELECT value FROM meta WHERE key = 'last_seq'), 0),
                            COALESCE((SELECT MAX(seq) FROM events), 0))",
                [],
                |row| row.get(0),
            )
            .map_err(sqlite)?;
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
            writer,
            lock,
            reader: History { conn: reader },
            last_seq: last_seq as u64,
            present,
            faults: WriteFaults::default(),
        })
    }

    /// Members whose join is stored but not their leave: the room still had them when the
    /// server last stopped without saying goodbye (a crash, or a disk that failed). The
    /// room records their leaves before anything else.
    pub fn left_behind(&self) -> &[MemberInfo] {
        &self.present
    }

    /// The switch that makes this store's commits fail, for tests.
    pub fn write_faults(&self) -> WriteFaults {
        self.faults.clone()
    }

    /// The highest seq stored so far; the room continues from the next one.
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    pub fn history(&self) -> History {
        self.reader.clone()
    }

    /// Starts the writer thread. `on_progress` is called from it after every commit, and
    /// whenever it gives up on events not stored within `timeout` of being appended.
    pub fn start_writer(
        self,
        retention: Retention,
        timeout: Duration,
        on_progress: impl Fn(Progress) + Send + 'static,
    ) -> Writer {
        writer::start(
            self.writer,
            self.lock,
            self.faults,
            retention,
            timeout,
            on_progress,
        )
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
                room: crate::room::DEFAULT_ROOM.to_owned(),
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

/// The file's real path (links and `..` resolved), so that every way of naming one database
/// leads to one lock. The file is created if need be, but never its directory: a mistyped
/// directory must not become an empty history.
fn real_path(path: &Path) -> Result<PathBuf, StoreError> {
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

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Message => "message",
            EventKind::Join => "join",
            EventKind::Leave => "leave",
            EventKind::System => "system",
            EventKind::Action => "action",
            EventKind::Nick => "nick",
            EventKind::Topic => "topic",
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
            other => return Err(format!("unknown event kind {other:?}")),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::writer::prune_chunk;
    use super::*;
    use crate::rpc::types::Stamped;
    use uuid::Uuid;

    fn event(seq: u64, ts: u64) -> Arc<Stamped> {
        Arc::new(Stamped::new(Event {
            room: "#general".into(),
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
        progress: &mpsc::Receiver<Progress>,
        seqs: impl Iterator<Item = u64>,
    ) {
        let mut last = 0;
        for seq in seqs {
            writer.append(event(seq, seq));
            last = seq;
        }
        loop {
            match next_progress(progress) {
                Progress::Stored(seq) if seq >= last => return,
                Progress::Stored(_) => {}
                dropped => panic!("expected the events stored, got {dropped:?}"),
            }
        }
    }

    const WAIT: Duration = Duration::from_secs(10);

    fn started(store: Store, retention: Retention) -> (Writer, mpsc::Receiver<Progress>) {
        started_with_timeout(store, retention, WAIT)
    }

    fn started_with_timeout(
        store: Store,
        retention: Retention,
        timeout: Duration,
    ) -> (Writer, mpsc::Receiver<Progress>) {
        let (tx, rx) = mpsc::channel();
        let writer = store.start_writer(retention, timeout, move |progress| {
            let _ = tx.send(progress);
        });
        (writer, rx)
    }

    fn next_progress(progress: &mpsc::Receiver<Progress>) -> Progress {
        progress
            .recv_timeout(WAIT)
            .expect("writer reports progress")
    }

    fn temp_db() -> (PathBuf, impl Drop) {
        struct Cleanup(PathBuf);
        impl Drop for Cleanup {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
        let dir = std::env::temp_dir().join(format!("chatroom-store-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        (dir.join("chat.db"), Cleanup(dir))
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
            writer.close(WAIT);
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
        writer.close(WAIT);
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
    fn another_path_to_a_file_in_use_is_refused() {
        let (path, _cleanup) = temp_db();
        let dir = path.parent().unwrap().to_owned();
        let _first = Store::open(&DbLocation::File(path.clone())).unwrap();
        let file_link = dir.join("link.db");
        std::os::unix::fs::symlink(&path, &file_link).unwrap();
        let dir_link = dir.join("linked-dir");
        std::os::unix::fs::symlink(&dir, &dir_link).unwrap();
        for other in [
            file_link,
            dir_link.join("chat.db"),
            dir.join(".").join("chat.db"),
        ] {
            assert!(
                matches!(
                    Store::open(&DbLocation::File(other.clone())),
                    Err(StoreError::InUse { .. })
                ),
                "{} was let in",
                other.display()
            );
        }
    }

    #[test]
    fn a_hard_linked_database_is_refused_under_either_name() {
        let (path, _cleanup) = temp_db();
        drop(Store::open(&DbLocation::File(path.clone())).unwrap());
        let other = path.parent().unwrap().join("hard.db");
        std::fs::hard_link(&path, &other).unwrap();
        for name in [&path, &other] {
            let err = Store::open(&DbLocation::File(name.clone()))
                .err()
                .expect("a hard-linked database is refused");
            assert!(
                matches!(err, StoreError::HardLinked { links: 2, .. }),
                "{err}"
            );
        }
    }

    #[test]
    fn a_missing_directory_is_refused_not_created() {
        let (path, _cleanup) = temp_db();
        let missing = path.parent().unwrap().join("typo");
        let err = Store::open(&DbLocation::File(missing.join("chat.db")))
            .err()
            .expect("a missing directory is refused");
        assert!(matches!(err, StoreError::NoDirectory { .. }), "{err}");
        assert!(err.to_string().contains("typo"), "{err}");
        assert!(!missing.exists(), "nothing was created");
    }

    #[test]
    fn events_not_stored_in_time_are_dropped_and_never_stored_later() {
        let store = Store::open(&DbLocation::Memory).unwrap();
        let history = store.history();
        let faults = store.write_faults();
        let (writer, progress) =
            started_with_timeout(store, Retention::default(), Duration::from_millis(50));
        store_events(&writer, &progress, 1..=2);

        faults.set(true);
        writer.append(event(3, 3));
        writer.append(event(4, 4));
        assert_eq!(next_progress(&progress), Progress::Dropped { from: 3 });
        // Handed over before the room answers: numbered after what was dropped, so dropped.
        writer.append(event(5, 5));
        faults.set(false);
        writer.resume();
        // The room numbers on from the last stored event.
        store_events(&writer, &progress, 3..=3);
        writer.close(WAIT);

        let stored: Vec<u64> = history.latest(10).unwrap().iter().map(|e| e.seq).collect();
        assert_eq!(stored, [1, 2, 3]);
    }

    fn member_event(seq: u64, kind: EventKind, id: u128, name: &str) -> Arc<Stamped> {
        Arc::new(Stamped::new(Event {
            room: "#general".into(),
            seq,
            ts: seq,
            kind,
            from: MemberInfo {
                id: Uuid::from_u128(id),
                name: name.into(),
            },
            text: None,
        }))
    }

    #[test]
    fn members_joined_and_not_left_are_remembered_across_a_restart() {
        let (path, _cleanup) = temp_db();
        let location = DbLocation::File(path.clone());
        let (writer, progress) = started(Store::open(&location).unwrap(), Retention::default());
        for event in [
            member_event(1, EventKind::Join, 1, "alice"),
            member_event(2, EventKind::Join, 2, "bob"),
            member_event(3, EventKind::Nick, 1, "al"),
            member_event(4, EventKind::Leave, 2, "bob"),
            member_event(5, EventKind::Join, 3, "carol"),
        ] {
            writer.append(event);
        }
        while next_progress(&progress) != Progress::Stored(5) {}
        writer.close(WAIT);

        let names = |store: &Store| -> Vec<String> {
            store.left_behind().iter().map(|m| m.name.clone()).collect()
        };
        assert_eq!(names(&Store::open(&location).unwrap()), ["al", "carol"]);

        // A database from before presence was kept learns it from its events, once.
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("DROP TABLE present; DELETE FROM meta WHERE key = 'present';")
            .unwrap();
        drop(conn);
        assert_eq!(names(&Store::open(&location).unwrap()), ["al", "carol"]);
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
