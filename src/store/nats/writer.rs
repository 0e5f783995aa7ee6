//! The one writer of the key-value buckets: a server's puts and purges land in the order it
//! made them, each retried until its time is up, so a later value of an entry is never
//! overwritten by an earlier one. It notes what it writes, so that the records watch can
//! tell this server's own writes coming back from other servers' changes.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream::kv;
use bytes::Bytes;
use tokio::sync::mpsc;

use super::follow::Report;

/// How many of its own latest values of one entry a server remembers.
const ECHOES_PER_KEY: usize = 8;

/// What to do to an entry.
pub(super) enum Write {
    Put(Bytes),
    Purge,
    /// Purge it only if it holds this value (a claim this server's identity still has).
    PurgeIf(Bytes),
}

/// Who hears that a write is done.
pub(super) enum Done {
    Nothing,
    /// The record at this position: stored, or failed.
    Record(u64),
}

struct Job {
    bucket: kv::Store,
    key: String,
    write: Write,
    deadline: Instant,
    done: Done,
}

/// This server's own latest values of each entry, by hash.
#[derive(Clone, Default)]
pub(super) struct Echoes(Arc<Mutex<HashMap<String, VecDeque<u64>>>>);

fn hash(value: &[u8]) -> u64 {
    let mut hasher = DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}

impl Echoes {
    fn note(&self, key: &str, value: &[u8]) {
        let mut echoes = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let seen = echoes.entry(key.to_owned()).or_default();
        seen.push_back(hash(value));
        if seen.len() > ECHOES_PER_KEY {
            seen.pop_front();
        }
    }

    /// Whether `value` at `key` is one this server wrote.
    pub(super) fn is_own(&self, key: &str, value: &[u8]) -> bool {
        let echoes = self.0.lock().unwrap_or_else(|p| p.into_inner());
        echoes
            .get(key)
            .is_some_and(|seen| seen.contains(&hash(value)))
    }
}

/// Hands writes to the writer without waiting.
#[derive(Clone)]
pub(super) struct KvWriter {
    jobs: mpsc::UnboundedSender<Job>,
    echoes: Echoes,
    timeout: Duration,
}

impl KvWriter {
    /// Starts the writer; failures are told to the reporter and mark the cluster unwritable.
    pub(super) fn start(
        reports: mpsc::UnboundedSender<Report>,
        unwritable: Arc<AtomicBool>,
        timeout: Duration,
    ) -> Self {
        let (jobs, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(rx, reports, unwritable));
        Self {
            jobs,
            echoes: Echoes::default(),
            timeout,
        }
    }

    pub(super) fn echoes(&self) -> Echoes {
        self.echoes.clone()
    }

    pub(super) fn write(&self, bucket: &kv::Store, key: String, write: Write, done: Done) {
        if let Write::Put(value) = &write {
            // Before it is sent: the watch may hear it back before the answer comes.
            self.echoes.note(&key, value);
        }
        let _ = self.jobs.send(Job {
            bucket: bucket.clone(),
            key,
            write,
            deadline: Instant::now() + self.timeout,
            done,
        });
    }
}

async fn run(
    mut jobs: mpsc::UnboundedReceiver<Job>,
    reports: mpsc::UnboundedSender<Report>,
    unwritable: Arc<AtomicBool>,
) {
    while let Some(job) = jobs.recv().await {
        let mut backoff = Duration::from_millis(20);
        let written = loop {
            let attempt = match &job.write {
                Write::Put(value) => job
                    .bucket
                    .put(job.key.as_str(), value.clone())
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                Write::Purge => job
                    .bucket
                    .purge(job.key.as_str())
                    .await
                    .map_err(|e| e.to_string()),
                Write::PurgeIf(expected) => match job.bucket.get(job.key.as_str()).await {
                    Ok(Some(value)) if value == *expected => job
                        .bucket
                        .purge(job.key.as_str())
                        .await
                        .map_err(|e| e.to_string()),
                    Ok(_) => Ok(()),
                    Err(err) => Err(err.to_string()),
                },
            };
            match attempt {
                Ok(()) => break true,
                Err(err) if Instant::now() + backoff < job.deadline => {
                    tracing::debug!(%err, key = %job.key, "not written yet; trying again");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_millis(500));
                }
                Err(err) => {
                    tracing::warn!(%err, key = %job.key, "not written in time");
                    break false;
                }
            }
        };
        if !written {
            unwritable.store(true, Ordering::Relaxed);
        }
        if let Done::Record(position) = job.done {
            let report = if written {
                Report::Recorded(position)
            } else {
                Report::Failed(position)
            };
            let _ = reports.send(report);
        }
    }
}
