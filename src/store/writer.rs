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
//! hole in the seqs: nothing after the last stored event is kept, so the room numbers on
//! from there.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, params};

use super::presence::track_presence;
use super::{Retention, lock};
use crate::rpc::types::Stamped;

/// Most events written in one transaction.
const MAX_BATCH: usize = 4096;
/// How long the writer waits before trying a failed commit again.
const RETRY_AFTER: Duration = Duration::from_secs(1);
/// Rows deleted per pruning statement, so pruning never holds the writer for long.
const PRUNE_CHUNK: i64 = 10_000;
/// How often the writer considers pruning.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// The room's end of the writer thread.
pub struct Writer {
    jobs: mpsc::Sender<Job>,
    thread: std::thread::JoinHandle<()>,
    /// Disconnects when the writer thread ends.
    finished: mpsc::Receiver<()>,
}

/// What the room hands the writer, in order.
enum Job {
    /// Store this event, queued at this moment.
    Store(Arc<Stamped>, Instant),
    /// The room has forgotten what was dropped: what follows is numbered on from the last
    /// stored event.
    Resume,
}

/// What the writer tells the room, from its own thread, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Every event up to this seq is safely on disk.
    Stored(u64),
    /// Storing failed for longer than the timeout: the event with this seq and every one
    /// queued after it are dropped and will never be stored, and so is anything appended
    /// until [`Writer::resume`].
    Dropped { from: u64 },
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
    on_progress: impl Fn(Progress) + Send + 'static,
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

impl Writer {
    /// Stores what is queued (or gives up on it, as ever, once it is out of time), then
    /// closes the database and lets go of its lock. Waits at most `within` for that; a
    /// writer stuck in the disk is left behind, and the lock goes when the process does.
    /// Returns whether the writer finished.
    pub fn close(self, within: Duration) -> bool {
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
    pub fn append(&self, event: Arc<Stamped>) {
        // The writer thread only stops once every sender is gone.
        let _ = self.jobs.send(Job::Store(event, Instant::now()));
    }

    /// Answers [`Progress::Dropped`]: the room has let go of every event not stored, and
    /// what it appends from now on is numbered on from the last stored one.
    pub fn resume(&self) {
        let _ = self.jobs.send(Job::Resume);
    }
}

/// The writer thread's state.
struct Writing {
    conn: Arc<Mutex<Connection>>,
    retention: Retention,
    /// How long an event may wait to be stored before it is dropped.
    timeout: Duration,
    faults: WriteFaults,
}

impl Writing {
    fn run(self, jobs: mpsc::Receiver<Job>, on_progress: impl Fn(Progress)) {
        let mut batch: Vec<(Arc<Stamped>, Instant)> = Vec::new();
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
                    Job::Store(event, queued) if !dropping => batch.push((event, queued)),
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
                on_progress(Progress::Stored(batch.last().expect("not empty").0.seq));
            } else {
                dropping = true;
                on_progress(Progress::Dropped {
                    from: batch[0].0.seq,
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

    /// Commits the batch, retrying a failure until its oldest event is out of time. Returns
    /// whether it was stored; if not, nothing of it was.
    fn store(&self, batch: &[(Arc<Stamped>, Instant)]) -> bool {
        let deadline = batch[0].1 + self.timeout;
        loop {
            // The connection is locked for the write only, not for the wait before a retry:
            // an in-memory store's readers share it.
            let written = self
                .faults
                .check()
                .and_then(|()| write_batch(&mut lock(&self.conn), batch));
            let Err(err) = written else { return true };
            // Given up only after an attempt that failed, which leaves nothing behind, never
            // during one: giving up is final.
            let now = Instant::now();
            if now >= deadline {
                tracing::error!(
                    %err,
                    events = batch.len(),
                    from = batch[0].0.seq,
                    "storing failed for too long; dropping what waits"
                );
                return false;
            }
            tracing::error!(%err, events = batch.len(), "storing events failed; retrying");
            std::thread::sleep(RETRY_AFTER.min(deadline - now));
        }
    }
}

fn write_batch(conn: &mut Connection, batch: &[(Arc<Stamped>, Instant)]) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    {
        let mut insert = tx.prepare_cached(
            // A seq already taken fails the batch (and so holds back its acknowledgements)
            // rather than being dropped in silence.
            "INSERT INTO events (seq, ts, kind, from_id, from_name, text)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for (event, _) in batch {
            insert.execute(params![
                event.seq as i64,
                event.ts as i64,
                event.kind.as_str(),
                event.from.id.to_string(),
                event.from.name,
                event.text,
            ])?;
            track_presence(&tx, event)?;
        }
        let last = batch.last().map_or(0, |(e, _)| e.seq as i64);
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('last_seq', ?1)
             ON CONFLICT(key) DO UPDATE SET value = MAX(value, excluded.value)",
            [last],
        )?;
    }
    tx.commit()
}

/// Deletes up to one chunk of what retention no longer keeps. Returns how many rows went.
pub(super) fn prune_chunk(conn: &Connection, retention: Retention) -> rusqlite::Result<usize> {
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
