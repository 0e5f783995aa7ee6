//! Who is in which room through which server, across the cluster, and the leaves of a
//! server that went away.
//!
//! Each server beats every [`HEARTBEAT`] in the nodes bucket. The presence bucket holds one
//! entry per member, room and server (`<room hex>.<member id>.<server id>`): written when
//! that server's join of the member is stored, removed when its leave, kick or ban is. A
//! server not heard for [`DEAD_AFTER`] is gone: every other server publishes the leave of
//! each of its members, with one message id per entry, so the room's stream keeps the
//! leave once however many publish it, and removes the entry.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::HeaderMap;
use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::follow::{FOR_HEADER, NODE_HEADER};
use super::writer::{Done, KvWriter, Write};
use super::{hex, records, subject};
use crate::domain::{Event, EventKind, MemberInfo, unix_ms};

/// How often a server says it is alive.
pub(super) const HEARTBEAT: Duration = Duration::from_millis(500);
/// How long a server may be silent before the others record its members' leaves.
pub(super) const DEAD_AFTER: Duration = Duration::from_secs(3);
/// The reason a leave recorded for a server that went away gives.
pub const SERVER_GONE: &str = "server went away";

const NODES: &str = "chatroom_nodes";
const PRESENCE: &str = "chatroom_presence";

/// One member in one room through one server.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(super) struct Seated {
    pub(super) room: String,
    pub(super) member: MemberInfo,
    pub(super) node: String,
}

impl Seated {
    fn key(room: &str, member: Uuid, node: &str) -> String {
        format!("{}.{}.{node}", hex(room), member.simple())
    }
}

/// The presence and nodes buckets, and what this server has seen of them.
#[derive(Clone)]
pub(super) struct Presence {
    node: String,
    nodes: kv::Store,
    presence: kv::Store,
    /// Every entry of the presence bucket, by key, as the watch has told.
    seated: Arc<Mutex<HashMap<String, Seated>>>,
}

impl Presence {
    pub(super) async fn open(
        js: &jetstream::Context,
        replicas: usize,
        node: String,
    ) -> Result<Self, String> {
        let nodes = records::bucket(js, NODES, replicas).await?;
        let presence = records::bucket(js, PRESENCE, replicas).await?;
        let mut seated = HashMap::new();
        let mut keys = presence
            .keys()
            .await
            .map_err(|err| format!("cannot list who is where: {err}"))?;
        while let Some(key) = keys.next().await {
            let Ok(key) = key else { continue };
            if let Ok(Some(value)) = presence.get(key.as_str()).await
                && let Ok(entry) = serde_json::from_slice::<Seated>(&value)
            {
                seated.insert(key, entry);
            }
        }
        Ok(Self {
            node,
            nodes,
            presence,
            seated: Arc::new(Mutex::new(seated)),
        })
    }

    /// Everyone in a room through another server, as the bucket had them at opening.
    pub(super) fn elsewhere(&self) -> Vec<(String, MemberInfo, String)> {
        let seated = self.seated.lock().unwrap_or_else(|p| p.into_inner());
        seated
            .values()
            .filter(|s| s.node != self.node)
            .map(|s| (s.room.clone(), s.member.clone(), s.node.clone()))
            .collect()
    }

    /// What one of this server's events, now stored, changes in the bucket.
    pub(super) fn stored(&self, event: &Event, writer: &KvWriter) {
        match event.kind {
            EventKind::Join => {
                let entry = Seated {
                    room: event.room.clone(),
                    member: event.from.clone(),
                    node: self.node.clone(),
                };
                let key = Seated::key(&event.room, event.from.id, &self.node);
                if let Ok(value) = serde_json::to_vec(&entry) {
                    writer.write(
                        &self.presence,
                        key,
                        Write::Put(Bytes::from(value)),
                        Done::Nothing,
                    );
                }
            }
            EventKind::Leave => {
                let key = Seated::key(&event.room, event.from.id, &self.node);
                writer.write(&self.presence, key, Write::Purge, Done::Nothing);
            }
            EventKind::Kick | EventKind::Ban | EventKind::Gban => {
                let Some(target) = &event.target else { return };
                // Through whichever server it was in.
                let prefix = format!("{}.{}.", hex(&event.room), target.id.simple());
                let keys: Vec<String> = {
                    let seated = self.seated.lock().unwrap_or_else(|p| p.into_inner());
                    seated
                        .keys()
                        .filter(|k| k.starts_with(&prefix))
                        .cloned()
                        .collect()
                };
                for key in keys {
                    writer.write(&self.presence, key, Write::Purge, Done::Nothing);
                }
            }
            _ => {}
        }
    }

    /// Beats, watches the buckets, and records the leaves of servers that went away, for
    /// as long as the log lives.
    pub(super) async fn run(
        self,
        js: jetstream::Context,
        unwritable: Arc<AtomicBool>,
        writer: KvWriter,
    ) {
        // Each server's beat as last read (its entry's revision), and when it last changed.
        let mut beats: HashMap<String, (u64, Instant)> = HashMap::new();
        tokio::spawn(watch_presence(self.presence.clone(), self.seated.clone()));
        let mut reaped: HashSet<String> = HashSet::new();
        // Since when this server's own beats have been taken: only a server that has
        // itself been writing for a while can tell another's silence from the cluster's
        // (every beat fails while it has no quorum).
        let mut writable_since: Option<Instant> = None;
        let mut beat = tokio::time::interval(HEARTBEAT);
        beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            beat.tick().await;
            let now = unix_ms().to_string();
            // A beat is a write: whether it is taken says whether the cluster takes writes,
            // even while nobody sends anything.
            match self.nodes.put(self.node.as_str(), Bytes::from(now)).await {
                Ok(_) => {
                    unwritable.store(false, Ordering::Relaxed);
                    writable_since.get_or_insert_with(Instant::now);
                }
                Err(err) => {
                    tracing::debug!(%err, "cannot beat");
                    unwritable.store(true, Ordering::Relaxed);
                    writable_since = None;
                }
            }
            if writable_since.is_none_or(|since| since.elapsed() <= DEAD_AFTER) {
                continue;
            }
            let others: HashSet<String> = {
                let seated = self.seated.lock().unwrap_or_else(|p| p.into_inner());
                seated
                    .values()
                    .map(|s| s.node.clone())
                    .filter(|node| *node != self.node)
                    .collect()
            };
            // Each one's beat read now, from the bucket itself: a watch can lag.
            let mut readable = true;
            for node in &others {
                match self.nodes.entry(node.as_str()).await {
                    Ok(entry) => {
                        let revision = entry.map_or(0, |e| e.revision);
                        let seen = beats
                            .entry(node.clone())
                            .or_insert((revision, Instant::now()));
                        if seen.0 != revision {
                            *seen = (revision, Instant::now());
                        }
                    }
                    Err(_) => readable = false,
                }
            }
            beats.retain(|node, _| others.contains(node));
            if !readable {
                continue;
            }
            let gone: Vec<(String, Seated)> = {
                // Silent for DEAD_AFTER while this server could write (checked above).
                let dead = |node: &str| {
                    beats
                        .get(node)
                        .is_some_and(|(_, at)| at.elapsed() > DEAD_AFTER)
                };
                let seated = self.seated.lock().unwrap_or_else(|p| p.into_inner());
                seated
                    .iter()
                    .filter(|(key, s)| {
                        s.node != self.node && !reaped.contains(*key) && dead(&s.node)
                    })
                    .map(|(key, s)| (key.clone(), s.clone()))
                    .collect()
            };
            {
                let seated = self.seated.lock().unwrap_or_else(|p| p.into_inner());
                reaped.retain(|key| seated.contains_key(key));
            }
            for (key, seated) in gone {
                if self.record_leave(&js, &key, &seated).await {
                    reaped.insert(key.clone());
                    writer.write(&self.presence, key, Write::Purge, Done::Nothing);
                }
            }
        }
    }

    /// Publishes the leave of a member whose server went away; the message id makes it
    /// one leave however many servers publish it.
    async fn record_leave(&self, js: &jetstream::Context, key: &str, seated: &Seated) -> bool {
        let event = Event {
            room: seated.room.clone(),
            seq: 0,
            ts: unix_ms(),
            kind: EventKind::Leave,
            from: MemberInfo {
                role: None,
                away: None,
                ..seated.member.clone()
            },
            text: Some(SERVER_GONE.to_owned()),
            target: None,
            until: None,
            target_seq: None,
            presence: None,
        };
        let Ok(payload) = serde_json::to_vec(&event) else {
            return false;
        };
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", format!("gone-{key}").as_str());
        headers.insert(NODE_HEADER, self.node.as_str());
        headers.insert(FOR_HEADER, seated.node.as_str());
        let stored = async {
            js.publish_with_headers(subject(&seated.room), headers, Bytes::from(payload))
                .await?
                .await
        };
        match tokio::time::timeout(Duration::from_secs(5), stored).await {
            Ok(Ok(_)) => {
                tracing::info!(room = %seated.room, name = %seated.member.name, server = %seated.node, "recorded the leave of a member whose server went away");
                true
            }
            Ok(Err(err)) => {
                tracing::debug!(%err, "cannot record a leave yet");
                false
            }
            Err(_) => false,
        }
    }
}

/// Keeps `seated` up to date with the presence bucket.
async fn watch_presence(presence: kv::Store, seated: Arc<Mutex<HashMap<String, Seated>>>) {
    loop {
        if let Ok(mut watch) = presence.watch_with_history(">").await {
            while let Some(Ok(entry)) = watch.next().await {
                let mut seated = seated.lock().unwrap_or_else(|p| p.into_inner());
                match entry.operation {
                    kv::Operation::Put => {
                        if let Ok(value) = serde_json::from_slice::<Seated>(&entry.value) {
                            seated.insert(entry.key, value);
                        }
                    }
                    kv::Operation::Delete | kv::Operation::Purge => {
                        seated.remove(&entry.key);
                    }
                }
            }
        }
        tokio::time::sleep(HEARTBEAT).await;
    }
}
