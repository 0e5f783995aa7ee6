//! Publishing: the events and records the rooms hand the log, sent to the cluster in the
//! order they come, each retried with the same message id until it is stored or its time
//! is up.
//!
//! An event is not reported stored here: its room's follower reports it once the stream
//! hands it back. Here only its failure is reported, which drops everything not yet stored
//! (see [`crate::domain::Progress::Dropped`]); until the rooms resume, what comes is thrown
//! away.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_nats::HeaderMap;
use async_nats::jetstream::{self, kv, stream};
use bytes::Bytes;
use tokio::sync::mpsc;

use super::follow::{NODE_HEADER, POSITION_HEADER, Report};
use super::records::{Records, StoredRoom};
use super::writer::{Done, KvWriter, Write};
use super::{DUPLICATE_WINDOW, hex, stream_name, subject};
use crate::domain::{Appender, EventKind, Record, Stamped};

/// What publishing needs.
pub(super) struct Publisher {
    pub(super) js: jetstream::Context,
    pub(super) node: String,
    pub(super) replicas: usize,
    pub(super) records: Records,
    pub(super) writer: KvWriter,
    pub(super) dropping: Arc<AtomicBool>,
    pub(super) unwritable: Arc<AtomicBool>,
    pub(super) timeout: Duration,
    pub(super) reports: mpsc::UnboundedSender<Report>,
}

enum Job {
    /// An event, its position, and when the rooms accepted it (its time runs from then).
    Event(u64, Arc<Stamped>, Instant),
    Record(u64, Record),
    Resume,
    Close(std::sync::mpsc::Sender<()>),
}

/// Starts publishing on `runtime`; the appender hands it work without waiting.
pub(super) fn start(runtime: tokio::runtime::Handle, publisher: Publisher) -> Box<dyn Appender> {
    let (jobs, rx) = mpsc::unbounded_channel();
    runtime.spawn(run(Arc::new(publisher), rx));
    Box::new(NatsAppender { jobs })
}

struct NatsAppender {
    jobs: mpsc::UnboundedSender<Job>,
}

impl Appender for NatsAppender {
    fn append(&self, position: u64, event: Arc<Stamped>) {
        let _ = self.jobs.send(Job::Event(position, event, Instant::now()));
    }

    fn record(&self, position: u64, record: Record) {
        let _ = self.jobs.send(Job::Record(position, record));
    }

    fn resume(&self) {
        let _ = self.jobs.send(Job::Resume);
    }

    fn close(self: Box<Self>, within: Duration) -> bool {
        let (done, finished) = std::sync::mpsc::channel();
        if self.jobs.send(Job::Close(done)).is_err() {
            return true;
        }
        finished.recv_timeout(within).is_ok()
    }
}

async fn run(publisher: Arc<Publisher>, mut jobs: mpsc::UnboundedReceiver<Job>) {
    let mut streams: HashSet<String> = HashSet::new();
    let mut in_flight = tokio::task::JoinSet::new();
    while let Some(job) = jobs.recv().await {
        while in_flight.try_join_next().is_some() {}
        match job {
            Job::Event(position, event, accepted) => {
                if publisher.dropping.load(Ordering::SeqCst) {
                    continue;
                }
                let _ = publisher.reports.send(Report::Appended(position));
                let deadline = accepted + publisher.timeout;
                if !streams.contains(&event.room) {
                    match ensure_stream(&publisher, &event.room, deadline).await {
                        Ok(()) => {
                            streams.insert(event.room.clone());
                        }
                        Err(err) => {
                            tracing::warn!(room = %event.room, %err, "cannot make the room's stream");
                            publisher.unwritable.store(true, Ordering::Relaxed);
                            let _ = publisher.reports.send(Report::Failed(position));
                            continue;
                        }
                    }
                }
                // The JSON the protocol made of it when it was accepted, if it made JSON.
                let encoded = event
                    .wire
                    .downcast_ref::<Box<serde_json::value::RawValue>>()
                    .map(|json| Bytes::copy_from_slice(json.get().as_bytes()));
                let payload = match encoded
                    .map_or_else(|| serde_json::to_vec(&event.event).map(Bytes::from), Ok)
                {
                    Ok(json) => json,
                    Err(err) => {
                        tracing::error!(%err, "cannot encode an event");
                        let _ = publisher.reports.send(Report::Failed(position));
                        continue;
                    }
                };
                let mut headers = HeaderMap::new();
                headers.insert(
                    "Nats-Msg-Id",
                    format!("{}-{position}", publisher.node).as_str(),
                );
                headers.insert(NODE_HEADER, publisher.node.as_str());
                headers.insert(POSITION_HEADER, position.to_string().as_str());
                // Sent now, in order; its answer is awaited beside the next ones.
                // Even sending may wait (for the client's room for answers in flight): never
                // past the event's time, so that what queues behind it is not held.
                let first = tokio::time::timeout_at(
                    deadline.into(),
                    publisher.js.publish_with_headers(
                        subject(&event.room),
                        headers.clone(),
                        payload.clone(),
                    ),
                )
                .await
                .map_err(|_| "no room to send in time".to_owned())
                .and_then(|sent| sent.map_err(|err| err.to_string()));
                let publisher = publisher.clone();
                in_flight.spawn(async move {
                    let stored = match first {
                        Ok(ack) => ack.await.map(|_| ()).map_err(|e| e.to_string()),
                        Err(err) => Err(err),
                    };
                    let stored = match stored {
                        Ok(()) => Ok(()),
                        Err(err) => {
                            tracing::debug!(%err, position, "publish failed; trying again");
                            retry(&publisher, &event.room, headers, payload, deadline).await
                        }
                    };
                    match stored {
                        Ok(()) => {
                            publisher.unwritable.store(false, Ordering::Relaxed);
                            if event.kind == EventKind::Delete
                                && let Some(seq) = event.target_seq
                            {
                                super::deleted::erase(&publisher.js, &publisher.records.deleted_bucket(), &event.room, seq).await;
                            }
                            if event.kind == EventKind::Topic {
                                put_room(&publisher.records.rooms_bucket(), &event.room, event.text.clone()).await;
                            }
                        }
                        Err(err) => {
                            tracing::warn!(%err, position, room = %event.room, "event not stored in time");
                            publisher.unwritable.store(true, Ordering::Relaxed);
                            let _ = publisher.reports.send(Report::Failed(position));
                        }
                    }
                });
            }
            Job::Record(position, record) => {
                if publisher.dropping.load(Ordering::SeqCst) {
                    continue;
                }
                let _ = publisher.reports.send(Report::Appended(position));
                let released = publisher.records.released_by(&record);
                let Some((key, value)) = publisher.records.apply(record) else {
                    let _ = publisher.reports.send(Report::Recorded(position));
                    continue;
                };
                // In order, one after another: a later value of an entry always lands last.
                publisher.writer.write(
                    &publisher.records.records_bucket(),
                    key,
                    Write::Put(value),
                    Done::Record(position),
                );
                if let Some((old, new, owner)) = released {
                    publisher
                        .records
                        .release(&publisher.writer, &old, new.as_deref(), &owner);
                }
            }
            Job::Resume => publisher.dropping.store(false, Ordering::SeqCst),
            Job::Close(done) => {
                while in_flight.join_next().await.is_some() {}
                let _ = done.send(());
                return;
            }
        }
    }
}

/// Publishes again, with the same message id, until the stream answers or time is up.
async fn retry(
    publisher: &Publisher,
    room: &str,
    headers: HeaderMap,
    payload: Bytes,
    deadline: Instant,
) -> Result<(), String> {
    let mut backoff = Duration::from_millis(20);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err("no answer from the cluster in time".into());
        }
        tokio::time::sleep(backoff.min(left)).await;
        backoff = (backoff * 2).min(Duration::from_millis(500));
        let attempt = async {
            publisher
                .js
                .publish_with_headers(subject(room), headers.clone(), payload.clone())
                .await?
                .await
        };
        match tokio::time::timeout(deadline.saturating_duration_since(Instant::now()), attempt)
            .await
        {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(err)) => tracing::debug!(%err, "publish failed; trying again"),
            Err(_) => return Err("no answer from the cluster in time".into()),
        }
    }
}

/// Makes the room's stream, and names the room in the rooms bucket, if they are not there.
async fn ensure_stream(publisher: &Publisher, room: &str, deadline: Instant) -> Result<(), String> {
    let config = stream::Config {
        name: stream_name(room),
        subjects: vec![subject(room)],
        num_replicas: publisher.replicas,
        duplicate_window: DUPLICATE_WINDOW,
        allow_direct: true,
        storage: stream::StorageType::File,
        ..Default::default()
    };
    let mut backoff = Duration::from_millis(20);
    loop {
        let attempt = publisher.js.get_or_create_stream(config.clone()).await;
        match attempt {
            Ok(_) => break,
            Err(err) if Instant::now() + backoff < deadline => {
                tracing::debug!(%err, room, "cannot make the room's stream yet");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_millis(500));
            }
            Err(err) => return Err(err.to_string()),
        }
    }
    let bucket = publisher.records.rooms_bucket();
    let value = serde_json::to_vec(&StoredRoom {
        name: room.to_owned(),
        topic: None,
    })
    .map_err(|e| e.to_string())?;
    match bucket.create(hex(room), Bytes::from(value)).await {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == kv::CreateErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(err.to_string()),
    }
}

/// Writes a room's topic into the rooms bucket.
async fn put_room(bucket: &kv::Store, room: &str, topic: Option<String>) {
    let Ok(value) = serde_json::to_vec(&StoredRoom {
        name: room.to_owned(),
        topic,
    }) else {
        return;
    };
    if let Err(err) = bucket.put(hex(room), Bytes::from(value)).await {
        tracing::warn!(%err, room, "cannot store the room's topic");
    }
}
