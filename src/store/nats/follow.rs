//! Following the cluster: every room's stream read in order, and what it says told to the
//! rooms, in order, as [`Progress`].
//!
//! The rooms bucket names every room; a watch on it starts one ordered consumer per room
//! stream, from the seq after the last one the rooms already have. Each message is this
//! server's own event (its headers carry this server's id and the event's position), now
//! stored and numbered, or another server's. One task ([`report`]) turns them, and the
//! publisher's news, into progress for the rooms.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_nats::jetstream::{self, consumer, kv};
use futures::StreamExt;
use tokio::sync::mpsc;

use super::records::StoredRoom;
use super::{room_record, stream_name, unhex};
use crate::domain::{Event, LogError, OnProgress, Progress, RoomRecord};

/// The header naming the server that published an event.
pub(super) const NODE_HEADER: &str = "Chatroom-Node";
/// The header carrying an event's position on the server that published it.
pub(super) const POSITION_HEADER: &str = "Chatroom-Position";
/// The header naming the server a leave is recorded for, when another server records it
/// (the member's own server went away).
pub(super) const FOR_HEADER: &str = "Chatroom-For-Node";

/// What the parts of the log tell the reporter.
pub(super) enum Report {
    /// The publisher took the event or record at this position.
    Appended(u64),
    /// A room's stream holds `event`; `mine` is its position if this server published it,
    /// `via` the server whose member it is about.
    Stored {
        mine: Option<u64>,
        event: Box<Event>,
        via: String,
    },
    /// The record at this position is in the bucket.
    Recorded(u64),
    /// The event or record at this position could not be stored in time.
    Failed(u64),
    /// Another server changed records.
    Changed(Vec<crate::domain::Record>),
}

/// An event as a stream holds it, with its seq.
pub(super) fn decode(payload: &[u8], seq: u64) -> Result<Event, LogError> {
    let mut event: Event = serde_json::from_slice(payload)
        .map_err(|err| LogError(format!("an event in the cluster is corrupt: {err}")))?;
    event.seq = seq;
    Ok(event)
}

/// Every room the rooms bucket names, as its stream has it.
pub(super) async fn rooms(js: &jetstream::Context) -> Result<Vec<RoomRecord>, LogError> {
    let bucket = js
        .get_key_value("chatroom_rooms")
        .await
        .map_err(|err| LogError(format!("cannot open the rooms bucket: {err}")))?;
    let mut keys = bucket
        .keys()
        .await
        .map_err(|err| LogError(format!("cannot list the rooms: {err}")))?;
    let mut rooms = Vec::new();
    while let Some(key) = keys.next().await {
        let key = key.map_err(|err| LogError(format!("cannot list the rooms: {err}")))?;
        let Some(name) = unhex(&key) else { continue };
        let stored = match bucket.get(key.as_str()).await {
            Ok(Some(value)) => serde_json::from_slice::<StoredRoom>(&value).ok(),
            _ => None,
        };
        // A room whose stream is gone (deleted by hand) is no room; any other failure stops
        // the start, rather than following the room from its first event as if new.
        let Some(mut stream) = super::NatsLog::stream(js, &name).await? else {
            continue;
        };
        let info = stream
            .info()
            .await
            .map_err(|err| LogError(format!("reading room {name}: {err}")))?;
        rooms.push(room_record(name, info, stored.and_then(|s| s.topic)));
    }
    rooms.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(rooms)
}

/// Follows every room the rooms bucket names, now and from now on.
pub(super) async fn follow_rooms(
    js: jetstream::Context,
    bucket: kv::Store,
    opened_at: HashMap<String, u64>,
    reports: mpsc::UnboundedSender<Report>,
    node: String,
) {
    let mut followed: HashSet<String> = HashSet::new();
    loop {
        let mut watch = match bucket.watch_with_history(">").await {
            Ok(watch) => watch,
            Err(err) => {
                tracing::warn!(%err, "cannot watch the cluster's rooms; trying again");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        while let Some(entry) = watch.next().await {
            let Ok(entry) = entry else { break };
            let Some(room) = unhex(&entry.key) else {
                continue;
            };
            if followed.insert(room.clone()) {
                let from = opened_at.get(&room).copied().unwrap_or(0) + 1;
                tokio::spawn(follow_room(
                    js.clone(),
                    room,
                    from,
                    reports.clone(),
                    node.clone(),
                ));
            }
        }
        if reports.is_closed() {
            return;
        }
    }
}

/// Reads one room's stream from seq `from` on, for as long as the log lives.
async fn follow_room(
    js: jetstream::Context,
    room: String,
    mut from: u64,
    reports: mpsc::UnboundedSender<Report>,
    node: String,
) {
    let mut backoff = Duration::from_millis(50);
    while !reports.is_closed() {
        let stream = match js.get_stream(stream_name(&room)).await {
            Ok(stream) => stream,
            Err(err) => {
                tracing::debug!(%room, %err, "cannot find the room's stream yet");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        let config = consumer::push::OrderedConfig {
            deliver_subject: js.client().new_inbox(),
            deliver_policy: consumer::DeliverPolicy::ByStartSequence {
                start_sequence: from,
            },
            ..Default::default()
        };
        let messages = match stream.create_consumer(config).await {
            Ok(consumer) => consumer.messages().await.map_err(|err| err.to_string()),
            Err(err) => Err(err.to_string()),
        };
        let mut messages = match messages {
            Ok(messages) => messages,
            Err(err) => {
                tracing::debug!(%room, %err, "cannot follow the room's stream yet");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        backoff = Duration::from_millis(50);
        while let Some(message) = messages.next().await {
            let message = match message {
                Ok(message) => message,
                Err(err) => {
                    tracing::debug!(%room, %err, "following the room again");
                    break;
                }
            };
            let Ok(info) = message.info() else { continue };
            let seq = info.stream_sequence;
            if seq < from {
                continue;
            }
            from = seq + 1;
            let headers = message.headers.as_ref();
            let header = |name: &str| {
                headers
                    .and_then(|h| h.get(name))
                    .map(|v| v.as_str().to_owned())
            };
            let publisher = header(NODE_HEADER).unwrap_or_default();
            let mine = (publisher == node)
                .then(|| header(POSITION_HEADER))
                .flatten()
                .and_then(|p| p.parse().ok());
            let via = header(FOR_HEADER).unwrap_or(publisher);
            match decode(&message.payload, seq) {
                Ok(event) => {
                    if reports
                        .send(Report::Stored {
                            mine,
                            event: Box::new(event),
                            via,
                        })
                        .is_err()
                    {
                        return;
                    }
                }
                Err(err) => tracing::error!(%room, seq, %err, "skipping an event"),
            }
        }
    }
}

/// Turns what the publisher and the followers tell into progress for the rooms.
pub(super) async fn report(
    mut reported: mpsc::UnboundedReceiver<Report>,
    dropping: Arc<AtomicBool>,
    on_progress: OnProgress,
    presence: super::presence::Presence,
    writer: super::writer::KvWriter,
) {
    // Positions taken by the publisher and not yet stored or given up.
    let mut outstanding: BTreeSet<u64> = BTreeSet::new();
    while let Some(report) = reported.recv().await {
        match report {
            Report::Appended(position) => {
                outstanding.insert(position);
            }
            Report::Stored {
                mine: Some(position),
                event,
                ..
            } => {
                outstanding.remove(&position);
                // In the room's order: a member's join and leave are noted as they were.
                presence.stored(&event, &writer);
                on_progress(Progress::Sequenced { position, event });
            }
            Report::Stored {
                mine: None,
                event,
                via,
            } => {
                on_progress(Progress::Followed { event, via });
            }
            Report::Changed(records) => {
                for record in records {
                    on_progress(Progress::Changed(Box::new(record)));
                }
            }
            Report::Recorded(position) => {
                if outstanding.remove(&position) {
                    on_progress(Progress::Recorded(position));
                }
            }
            Report::Failed(position) => {
                if outstanding.contains(&position) {
                    let from = *outstanding.first().expect("holds position");
                    outstanding.clear();
                    // Until the rooms resume, the publisher throws away what it is given.
                    dropping.store(true, Ordering::SeqCst);
                    on_progress(Progress::Dropped { from });
                }
            }
        }
    }
}
