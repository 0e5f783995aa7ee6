//! The writer thread: commits events in batches, reports how far the disk has got, and gives
//! up, within a bounded time, on what the disk will not take.
//!
//! Every event is stored within a bounded time (the writer's `timeout`, counted from when
//! the event was queued) or not at all. A failed commit is retried until the oldest event in
//! it is out of time; then the writer gives up on that event *and on everything queued
//! behind it*, reports [`Progress::Dropped`], and throws away whatever it is handed until
//! the room answers with [`Writer::resume`]. The writer gives up only after an attempt that
//! failed, and so left nothing behind, never while one is under way, so each event is
//! reported exactly once, as stored or as dropped, and a dropped event is never stored
//! later.
//! Dropping everything behind the first one, not only the events out of time, leaves no
//! hole in any room's seqs: nothing after the last stored event is kept, so each room
//! numbers on from there.
//!
//! Records (what the chat knows of identities) are queued, batched, stored, reported and
//! dropped exactly as events are, in position order among them: what holds for an event
//! above holds for a record.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, params};

use super::identities;
use super::presence::track_presence;
use super::{ERASE, Retention, SECURE_DELETE, lock};
use crate::domain::{Appender, EventKind, OnProgress, Progress, Record, Stamped};

/// Most events and records written in one transaction.
const MAX_BATCH: usize = 4096;
/// How long the writer waits before trying a failed commit again.
const RETRY_AFTER: Duration = Duration::from_secs(1);
/// Rows deleted per pruning statement, so pruning never holds the writer for long.
const PRUNE_CHUNK: i64 = 10_000;
/// How often the writer considers pruning.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// The chat's end of the writer thread.
pub struct Writer {
    jobs: mpsc::Sender<Job>,
    thread: std::thread::JoinHandle<()>,
    /// Disconnects when the writer thread ends.
    finished: mpsc::Receiver<()>,
}

/// What the room hands the writer, in order.
enum Job {
    /// Store this event or record, at this log position, queued at this moment.
    Store(Queued),
    /// The chat has forgotten what was dropped: what follows is numbered on from the last
    /// stored event.
    Resume,
}

/// An event or record waiting in the writer: its log position, and when it was queued.
struct Queued {
    position: u64,
    entry: Entry,
    at: Instant,
}

/// What is stored at a log position.
enum Entry {
    Event(Arc<Stamped>),
    Record(Record),
}

/// Makes every commit fail while it is on, as a full or broken disk does. It exists to test
/// what the server does when storing fails; nothing turns it on but a test.
#[derive(Debug, Clone, Default)]
pub struct WriteFaults(Arc<AtomicBool>);

impl WriteFaults {
    pub fn set(&self, failing: bool) {
        self.0.store(failing, Ordering::SeqCst);
    }

    fn check(&self) -> rusqlite::Result<()> {
        if self.0.load(Ordering::SeqCst) {
            return Err(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
                Some("database or disk is full (injected)".into()),
            ));
        }
        Ok(())
    }
}

/// Starts the writer thread on the store's write connection; it holds `lock` (the database's
/// lock file, if any) until it ends.
pub(super) fn start(
    conn: Arc<Mutex<Connection>>,
    lock: Option<std::fs::File>,
    faults: WriteFaults,
    retention: Retention,
    timeout: Duration,
    on_progress: OnProgress,
) -> Writer {
    let (jobs, rx) = mpsc::channel();
    let (finishing, finished) = mpsc::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("chatroom-store".into())
        .spawn(move || {
            // The lock goes when the writer does.
            let _lock = lock;
            let _finishing = finishing;
            let writing = Writing {
                conn,
                retention,
                timeout,
                faults,
                room_ids: HashMap::new(),
            };
            writing.run(rx, on_progress)
        })
        .expect("spawning the store writer thread");
    Writer {
        jobs,
        thread,
        finished,
    }
}

impl Appender for Writer {
    /// Stores what is queued (or gives up on it, as ever, once it is out of time), then
    /// closes the database and lets go of its lock. Waits at most `within` for that; a
    /// writer stuck in the disk is left behind, and the lock goes when the process does.
    /// Returns whether the writer finished.
    fn close(self: Box<Self>, within: Duration) -> bool {
        drop(self.jobs);
        match self.finished.recv_timeout(within) {
            Err(mpsc::RecvTimeoutError::Timeout) => {
                tracing::error!("the store writer did not finish in time; leaving it");
                false
            }
            // It has ended, or is just ending.
            _ => {
                if self.thread.join().is_err() {
                    tracing::error!("the store writer thread panicked");
                }
                true
            }
        }
    }

    /// Queues an event for storing; never blocks.
    fn append(&self, position: u64, event: Arc<Stamped>) {
        self.queue(position, Entry::Event(event));
    }

    /// Queues a record for storing, in position order with the events; never blocks.
    fn record(&self, position: u64, record: Record) {
        self.queue(position, Entry::Record(record));
    }

    /// Answers [`Progress::Dropped`]: the chat has let go of every event not stored, and
    /// what it appends from now on is numbered on from the last stored one.
    fn resume(&self) {
        let _ = self.jobs.send(Job::Resume);
    }
}

impl Writer {
    fn queue(&self, position: u64, entry: Entry) {
        // The writer thread only stops once every sender is gone.
        let _ = self.jobs.send(Job::Store(Queued {
            position,
            entry,
            at: Instant::now(),
        }));
    }
}

/// The writer thread's state.
struct Writing {
    conn: Arc<Mutex<Connection>>,
    retention: Retention,
    /// How long an event may wait to be stored before it is dropped.
    timeout: Duration,
    faults: WriteFaults,
    /// Room name → its row id in `rooms`, for the rooms committed so far.
    room_ids: HashMap<String, i64>,
}

impl Writing {
    fn run(mut self, jobs: mpsc::Receiver<Job>, on_progress: OnProgress) {
        let mut batch: Vec<Queued> = Vec::new();
        // Set from giving up until the room has answered: everything handed over meanwhile
        // was numbered after what was dropped, so it goes too.
        let mut dropping = false;
        let mut last_prune = Instant::now();
        // Whether the last pruning step had more to do.
        let mut pruning = false;
        while let Ok(first) = jobs.recv() {
            let mut next = Some(first);
            while let Some(job) = next {
                match job {
                    Job::Resume => dropping = false,
                    Job::Store(queued) if !dropping => batch.push(queued),
                    Job::Store(..) => {}
                }
                next = (batch.len() < MAX_BATCH)
                    .then(|| jobs.try_recv().ok())
                    .flatten();
            }
            if batch.is_empty() {
                continue;
            }
            if self.store(&batch) {
                on_progress(Progress::Stored(batch.last().expect("not empty").position));
            } else {
                dropping = true;
                on_progress(Progress::Dropped {
                    from: batch[0].position,
                });
            }
            batch.clear();

            // One chunk per batch at most, so pruning never holds up deliveries for long.
            if pruning || last_prune.elapsed() >= PRUNE_EVERY {
                last_prune = Instant::now();
                let pruned = prune_chunk(&lock(&self.conn), self.retention);
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

    /// After a delete: the write-ahead log still holds the pages the deleted text was on
    /// (and the file its page, until a checkpoint), so both are checkpointed now and the
    /// log emptied, rather than at some later time or never after a kill -9.
    fn erase_old_pages(&self) {
        let checkpoint = lock(&self.conn).query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
            row.get::<_, i64>(0)
        });
        match checkpoint {
            Ok(0) => {}
            Ok(_) => tracing::warn!(
                "a reader held the log: deleted text stays in it until the next checkpoint"
            ),
            Err(err) => tracing::warn!(%err, "checkpointing after a delete failed"),
        }
    }

    /// Commits the batch, retrying a failure until its oldest entry is out of time. Returns
    /// whether it was stored; if not, nothing of it was.
    fn store(&mut self, batch: &[Queued]) -> bool {
        let deadline = batch[0].at + self.timeout;
        loop {
            // The connection is locked for the write only, not for the wait before a retry:
            // an in-memory store's readers share it.
            let written = self
                .faults
                .check()
                .and_then(|()| write_batch(&mut lock(&self.conn), &self.room_ids, batch));
            let err = match written {
                Ok(new_rooms) => {
                    self.room_ids.extend(new_rooms);
                    if batch.iter().any(|queued| {
                        matches!(&queued.entry, Entry::Event(e) if e.kind == EventKind::Delete)
                    }) {
                        self.erase_old_pages();
                    }
                    return true;
                }
                Err(err) => err,
            };
            // Given up only after an attempt that failed, which leaves nothing behind, never
            // during one: giving up is final.
            let now = Instant::now();
            if now >= deadline {
                tracing::error!(
                    %err,
                    entries = batch.len(),
                    from = batch[0].position,
                    "storing failed for too long; dropping what waits"
                );
                return false;
            }
            tracing::error!(%err, entries = batch.len(), "storing events failed; retrying");
            std::thread::sleep(RETRY_AFTER.min(deadline - now));
        }
    }
}

/// Writes a batch in one transaction, in order: its events, each room's high water mark
/// and topic, who is present, the messages deleted (their rows become tombstones), and
/// its records. Rooms new in it get their row.
fn write_batch(
    conn: &mut Connection,
    room_ids: &HashMap<String, i64>,
    batch: &[Queued],
) -> rusqlite::Result<HashMap<String, i64>> {
    let tx = conn.transaction()?;
    let mut new_rooms: HashMap<String, i64> = HashMap::new();
    {
        let mut insert = tx.prepare_cached(
            // A seq already taken fails the batch (and so holds back its acknowledgements)
            // rather than being dropped in silence.
            "INSERT INTO events (room, seq, ts, kind, from_id, from_name, text,
                 target_id, target_name, until, target_seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )?;
        // Per room: its newest seq and time in this batch.
        let mut touched: HashMap<i64, (i64, i64)> = HashMap::new();
        for Queued { entry, .. } in batch {
            let event = match entry {
                Entry::Event(event) => event,
                Entry::Record(record) => {
                    identities::apply(&tx, record)?;
                    continue;
                }
            };
            let room = match room_ids.get(&event.room).or(new_rooms.get(&event.room)) {
                Some(id) => *id,
                None => {
                    let id = room_id(&tx, &event.room, event.ts)?;
                    new_rooms.insert(event.room.clone(), id);
                    id
                }
            };
            insert.execute(params![
                room,
                event.seq as i64,
                event.ts as i64,
                event.kind.as_str(),
                event.from.id.to_string(),
                event.from.name,
                event.text,
                event.target.as_ref().map(|t| t.id.to_string()),
                event.target.as_ref().map(|t| t.name.as_str()),
                event.until.map(sql_int),
                event.target_seq.map(sql_int),
            ])?;
            track_presence(&tx, room, event)?;
            if event.kind == EventKind::Delete
                && let Some(seq) = event.target_seq
            {
                // The text goes from the store, not only from view: overwritten where it
                // lay, overflow pages too.
                tx.pragma_update(None, "secure_delete", ERASE)?;
                let erased = tx
                    .prepare_cached(
                        "UPDATE events SET kind = 'deleted', text = NULL
                         WHERE room = ?1 AND seq = ?2 AND kind IN ('message', 'action')",
                    )
                    .and_then(|mut update| update.execute(params![room, sql_int(seq)]));
                tx.pragma_update(None, "secure_delete", SECURE_DELETE)?;
                erased?;
            }
            if event.kind == EventKind::Topic {
                tx.prepare_cached("UPDATE rooms SET topic = ?2 WHERE id = ?1")?
                    .execute(params![room, event.text])?;
            }
            touched.insert(room, (event.seq as i64, event.ts as i64));
        }
        let mut mark = tx.prepare_cached(
            "UPDATE rooms SET last_seq = MAX(last_seq, ?2), last_ts = MAX(last_ts, ?3)
             WHERE id = ?1",
        )?;
        for (room, (seq, ts)) in touched {
            mark.execute(params![room, seq, ts])?;
        }
    }
    tx.commit()?;
    Ok(new_rooms)
}

/// SQLite integers are signed; anything past the largest is kept as the largest.
fn sql_int(value: u64) -> i64 {
    value.min(i64::MAX as u64) as i64
}

/// The row id of a room, made if it has none yet.
fn room_id(tx: &rusqlite::Transaction<'_>, name: &str, ts: u64) -> rusqlite::Result<i64> {
    tx.prepare_cached(
        "INSERT INTO rooms (name, created) VALUES (?1, ?2) ON CONFLICT(name) DO NOTHING",
    )?
    .execute(params![name, ts as i64])?;
    tx.prepare_cached("SELECT id FROM rooms WHERE name = ?1")?
        .query_row([name], |row| row.get(0))
}

/// Deletes up to one chunk of what retention no longer keeps (events only: what the chat
/// knows of identities is never pruned). Returns how many rows went.
pub(super) fn prune_chunk(conn: &Connection, retention: Retention) -> rusqlite::Result<usize> {
    if retention.max_events.is_none() && retention.max_age.is_none() {
        return Ok(0);
    }
    // Each room keeps its newest `max_events`.
    let keep_events = retention
        .max_events
        .map_or(i64::MAX, |n| n.min(i64::MAX as u64) as i64);
    let keep_from_ts = retention.max_age.map_or(0, |age| {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        now.saturating_sub(age).as_millis() as i64
    });
    let removed = conn.execute(
        "DELETE FROM events WHERE (room, seq) IN (
             SELECT e.room, e.seq FROM events e JOIN rooms r ON r.id = e.room
             WHERE e.seq <= r.last_seq - ?1 OR e.ts < ?2 LIMIT ?3)",
        params![keep_events, keep_from_ts, PRUNE_CHUNK],
    )?;
    if removed > 0 {
        tracing::info!(removed, "pruned old history");
    }
    Ok(removed)
}
