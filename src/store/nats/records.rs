//! The records about identities, conversations and moderation, in a JetStream key-value
//! bucket (`chatroom_records`), and the bucket naming every room (`chatroom_rooms`).
//!
//! The log applies each record to the whole set it keeps in memory ([`RecordSet`]) and
//! writes the entry the record changed: an identity (`id.<hex key>`, with its rooms,
//! markers, ignore list and notification levels), a conversation, a room's moderation, or the server's.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::follow::Report;
use super::writer::{Done, KvWriter, Write};
use super::{hex, unhex};
use crate::domain::{
    IdentityRecord, IdentityState, NotifyLevel, Record, RecordSet, Recovered, RoomPolicy,
    ServerPolicy,
};

const RECORDS: &str = "chatroom_records";
const ROOMS: &str = "chatroom_rooms";
const NAMES: &str = "chatroom_names";
const DELETED: &str = "chatroom_deleted";

/// An identity as the bucket holds it.
#[derive(Serialize, Deserialize)]
struct StoredIdentity {
    key: String,
    id: Uuid,
    name: Option<String>,
    since: u64,
    last_seen: u64,
    rooms: Vec<String>,
    markers: BTreeMap<String, u64>,
    ignored: Vec<Uuid>,
    /// Room → its `/notify` level; absent in what older builds wrote.
    #[serde(default)]
    notify: BTreeMap<String, NotifyLevel>,
}

/// A room as the rooms bucket names it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub(super) struct StoredRoom {
    pub(super) name: String,
    #[serde(default)]
    pub(super) topic: Option<String>,
}

/// The records bucket, the rooms bucket, and the records as applied so far.
#[derive(Clone)]
pub(super) struct Records {
    records: kv::Store,
    rooms: kv::Store,
    /// Every owned name's look-alike keys → the key owning it, claimed before it is given.
    names: kv::Store,
    deleted: kv::Store,
    set: Arc<Mutex<RecordSet>>,
}

pub(super) async fn bucket(
    js: &jetstream::Context,
    name: &str,
    replicas: usize,
) -> Result<kv::Store, String> {
    if let Ok(store) = js.get_key_value(name).await {
        return Ok(store);
    }
    js.create_key_value(kv::Config {
        bucket: name.to_owned(),
        history: 1,
        num_replicas: replicas,
        storage: jetstream::stream::StorageType::File,
        ..Default::default()
    })
    .await
    .map_err(|err| format!("cannot open the bucket {name}: {err}"))
}

impl Records {
    /// Opens (or makes) both buckets and reads every record.
    pub(super) async fn open(js: &jetstream::Context, replicas: usize) -> Result<Self, String> {
        let records = bucket(js, RECORDS, replicas).await?;
        let rooms = bucket(js, ROOMS, replicas).await?;
        let names = bucket(js, NAMES, replicas).await?;
        let deleted = bucket(js, DELETED, replicas).await?;
        let mut set = RecordSet::default();
        let mut keys = records
            .keys()
            .await
            .map_err(|err| format!("cannot list the records: {err}"))?;
        while let Some(key) = keys.next().await {
            let key = key.map_err(|err| format!("cannot list the records: {err}"))?;
            let Some(entry) = records
                .entry(key.as_str())
                .await
                .map_err(|err| format!("cannot read record {key}: {err}"))?
            else {
                continue;
            };
            if entry.operation == kv::Operation::Put {
                load(&mut set, &key, &entry.value)
                    .map_err(|err| format!("record {key} is corrupt: {err}"))?;
            }
        }
        Ok(Self {
            records,
            rooms,
            names,
            deleted,
            set: Arc::new(Mutex::new(set)),
        })
    }

    pub(super) fn recover_into(&self, recovered: &mut Recovered) {
        self.set
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .recover_into(recovered);
    }

    pub(super) fn rooms_bucket(&self) -> kv::Store {
        self.rooms.clone()
    }

    pub(super) fn records_bucket(&self) -> kv::Store {
        self.records.clone()
    }

    /// Claims `name` for `key`: each of its look-alike keys is made in the names bucket
    /// only if absent, so of two servers racing one wins. `false` if another key has it.
    pub(super) async fn claim(&self, name: &str, key: &str) -> Result<bool, String> {
        let mut made = Vec::new();
        let mut keys: Vec<String> = crate::text::look_alike_keys(name).into_iter().collect();
        keys.sort();
        keys.dedup();
        for look_alike in keys {
            let entry = format!("n.{}", hex(&look_alike));
            match self
                .names
                .create(entry.as_str(), Bytes::from(key.to_owned()))
                .await
            {
                Ok(_) => made.push(entry),
                Err(err) if err.kind() == kv::CreateErrorKind::AlreadyExists => {
                    let owner = self
                        .names
                        .get(entry.as_str())
                        .await
                        .map_err(|e| e.to_string())?;
                    if owner.as_deref() != Some(key.as_bytes()) {
                        // Lost: what this attempt made goes back.
                        for entry in made {
                            let _ = self.names.purge(entry.as_str()).await;
                        }
                        return Ok(false);
                    }
                }
                Err(err) => return Err(err.to_string()),
            }
        }
        Ok(true)
    }

    /// Lets go of the claims on `old` held by `key`, now that it owns `new` instead: the
    /// look-alike keys the two share stay claimed.
    pub(super) fn release(&self, writer: &KvWriter, old: &str, new: Option<&str>, key: &str) {
        let kept = new.map(crate::text::look_alike_keys).unwrap_or_default();
        for look_alike in crate::text::look_alike_keys(old) {
            if kept.contains(&look_alike) {
                continue;
            }
            let entry = format!("n.{}", hex(&look_alike));
            let owner = Bytes::from(key.to_owned());
            writer.write(&self.names, entry, Write::PurgeIf(owner), Done::Nothing);
        }
    }

    /// The name `record` takes from its identity, if it changes the one it owns: the old
    /// name, the new one, and the key.
    pub(super) fn released_by(&self, record: &Record) -> Option<(String, Option<String>, String)> {
        let Record::Identity(new) = record else {
            return None;
        };
        let set = self.set.lock().unwrap_or_else(|p| p.into_inner());
        let old = set.by_key.get(&new.key)?.record.name.clone()?;
        (new.name.as_ref() != Some(&old)).then(|| (old, new.name.clone(), new.key.clone()))
    }

    /// The bucket of deleted messages' tombstones.
    pub(super) fn deleted_bucket(&self) -> kv::Store {
        self.deleted.clone()
    }

    /// Applies a record and returns the entry it changed, as it is now.
    pub(super) fn apply(&self, record: Record) -> Option<(String, Bytes)> {
        let mut set = self.set.lock().unwrap_or_else(|p| p.into_inner());
        let entry = Entry::of(&record);
        set.apply(record);
        let json = encode(&set, &entry)?;
        Some((entry.key(), json))
    }
}

/// The entry `entry` as the bucket holds it, made from what `set` holds now.
fn encode(set: &RecordSet, entry: &Entry) -> Option<Bytes> {
    let json = match entry {
        Entry::Identity(key) => {
            let state = set.by_key.get(key)?;
            serde_json::to_vec(&StoredIdentity {
                key: state.record.key.clone(),
                id: state.record.id,
                name: state.record.name.clone(),
                since: state.record.since,
                last_seen: state.record.last_seen,
                rooms: state.rooms.clone(),
                markers: state.markers.clone(),
                ignored: state.ignored.clone(),
                notify: state.notify.clone(),
            })
        }
        Entry::Conversation(room) => serde_json::to_vec(set.conversations.get(room)?),
        Entry::Policy(room) => serde_json::to_vec(set.policies.get(room)?),
        Entry::Server => serde_json::to_vec(&set.server_policy),
    }
    .ok()?;
    Some(Bytes::from(json))
}

impl Records {
    /// Watches the bucket for what other servers change, for as long as the log lives,
    /// and hands each change on as the records that make it.
    pub(super) async fn watch(
        self,
        reports: tokio::sync::mpsc::UnboundedSender<Report>,
        echoes: super::writer::Echoes,
    ) {
        while !reports.is_closed() {
            // Every entry's latest value first (what is as this server has it changes
            // nothing), then every change: nothing written while it was read is missed.
            let mut watch = match self.records.watch_with_history(">").await {
                Ok(watch) => watch,
                Err(err) => {
                    tracing::debug!(%err, "cannot watch the records yet");
                    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                    continue;
                }
            };
            while let Some(Ok(entry)) = watch.next().await {
                // This server's own writes coming back, perhaps behind a later one.
                if entry.operation != kv::Operation::Put || echoes.is_own(&entry.key, &entry.value)
                {
                    continue;
                }
                let changes = {
                    let mut set = self.set.lock().unwrap_or_else(|p| p.into_inner());
                    let mut next = set.clone();
                    if load(&mut next, &entry.key, &entry.value).is_err() {
                        tracing::error!(key = %entry.key, "skipping a corrupt record");
                        continue;
                    }
                    let changes = changes(&set, &next, &entry.key);
                    *set = next;
                    changes
                };
                if !changes.is_empty() && reports.send(Report::Changed(changes)).is_err() {
                    return;
                }
            }
        }
    }
}

/// The records that turn `old` into `new`, for the entry at `key` (the only one that
/// differs); none if it is as this server wrote it.
fn changes(old: &RecordSet, new: &RecordSet, key: &str) -> Vec<Record> {
    let (kind, name) = key.split_once('.').unwrap_or((key, ""));
    let name = unhex(name).unwrap_or_default();
    let mut out = Vec::new();
    match kind {
        "id" => {
            let Some(now) = new.by_key.get(&name) else {
                return out;
            };
            let before = old.by_key.get(&name);
            if before.map(|b| &b.record) != Some(&now.record) {
                out.push(Record::Identity(now.record.clone()));
            }
            let had: &[String] = before.map_or(&[], |b| &b.rooms);
            for room in now.rooms.iter().filter(|r| !had.contains(r)) {
                out.push(Record::Membership {
                    key: name.clone(),
                    room: room.clone(),
                    member: true,
                });
            }
            for room in had.iter().filter(|r| !now.rooms.contains(r)) {
                out.push(Record::Membership {
                    key: name.clone(),
                    room: room.clone(),
                    member: false,
                });
            }
            for (room, seq) in &now.markers {
                if before.and_then(|b| b.markers.get(room)) < Some(seq) {
                    out.push(Record::Marker {
                        key: name.clone(),
                        room: room.clone(),
                        seq: *seq,
                    });
                }
            }
            if before.map(|b| &b.ignored) != Some(&now.ignored) {
                out.push(Record::Ignores {
                    key: name.clone(),
                    ignored: now.ignored.clone(),
                });
            }
            for (room, level) in &now.notify {
                if before.and_then(|b| b.notify.get(room)) != Some(level) {
                    out.push(Record::Notify {
                        key: name.clone(),
                        room: room.clone(),
                        level: *level,
                    });
                }
            }
        }
        "conv" => {
            if let Some(keys) = new.conversations.get(&name)
                && old.conversations.get(&name) != Some(keys)
            {
                out.push(Record::Conversation {
                    room: name,
                    keys: keys.clone(),
                });
            }
        }
        "policy" => {
            if let Some(policy) = new.policies.get(&name)
                && old.policies.get(&name) != Some(policy)
            {
                out.push(Record::RoomPolicy {
                    room: name,
                    policy: policy.clone(),
                });
            }
        }
        "server" if old.server_policy != new.server_policy => {
            out.push(Record::ServerPolicy(new.server_policy.clone()));
        }
        _ => {}
    }
    out
}

/// Which entry of the bucket a record changes.
enum Entry {
    Identity(String),
    Conversation(String),
    Policy(String),
    Server,
}

impl Entry {
    /// The entry a record changes.
    fn of(record: &Record) -> Self {
        match record {
            Record::Identity(r) => Entry::Identity(r.key.clone()),
            Record::Membership { key, .. }
            | Record::Marker { key, .. }
            | Record::Ignores { key, .. }
            | Record::Notify { key, .. } => Entry::Identity(key.clone()),
            Record::Conversation { room, .. } => Entry::Conversation(room.clone()),
            Record::RoomPolicy { room, .. } => Entry::Policy(room.clone()),
            Record::ServerPolicy(_) => Entry::Server,
        }
    }

    fn key(&self) -> String {
        match self {
            Entry::Identity(key) => format!("id.{}", hex(key)),
            Entry::Conversation(room) => format!("conv.{}", hex(room)),
            Entry::Policy(room) => format!("policy.{}", hex(room)),
            Entry::Server => "server".to_owned(),
        }
    }
}

/// Puts one entry of the bucket into `set`.
fn load(set: &mut RecordSet, key: &str, value: &[u8]) -> Result<(), serde_json::Error> {
    let (kind, name) = key.split_once('.').unwrap_or((key, ""));
    let name = unhex(name).unwrap_or_default();
    match kind {
        "id" => {
            let stored: StoredIdentity = serde_json::from_slice(value)?;
            set.by_key.insert(
                stored.key.clone(),
                IdentityState {
                    record: IdentityRecord {
                        key: stored.key,
                        id: stored.id,
                        name: stored.name,
                        since: stored.since,
                        last_seen: stored.last_seen,
                    },
                    rooms: stored.rooms,
                    markers: stored.markers,
                    ignored: stored.ignored,
                    notify: stored.notify,
                },
            );
        }
        "conv" => {
            set.conversations
                .insert(name, serde_json::from_slice(value)?);
        }
        "policy" => {
            let policy: RoomPolicy = serde_json::from_slice(value)?;
            set.policies.insert(name, policy);
        }
        "server" => {
            let policy: ServerPolicy = serde_json::from_slice(value)?;
            set.server_policy = policy;
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_identity_entry_reads_back_as_it_was_written() {
        let set = RecordSet::default();
        let records = Arc::new(Mutex::new(set));
        let key = "a+b/c=".to_owned();
        let mut applied = RecordSet::default();
        applied.apply(Record::Identity(IdentityRecord {
            key: key.clone(),
            name: Some("alice".into()),
            ..Default::default()
        }));
        applied.apply(Record::Marker {
            key: key.clone(),
            room: "#main".into(),
            seq: 7,
        });
        let state = &applied.by_key[&key];
        let json = serde_json::to_vec(&StoredIdentity {
            key: key.clone(),
            id: state.record.id,
            name: state.record.name.clone(),
            since: 0,
            last_seen: 0,
            rooms: vec![],
            markers: state.markers.clone(),
            ignored: vec![],
            notify: BTreeMap::new(),
        })
        .unwrap();
        let mut loaded = records.lock().unwrap();
        load(&mut loaded, &Entry::Identity(key.clone()).key(), &json).unwrap();
        assert_eq!(loaded.by_key[&key].markers["#main"], 7);
        assert_eq!(loaded.by_key[&key].record.name.as_deref(), Some("alice"));
    }

    #[test]
    fn notify_levels_travel_in_the_identity_entry_and_come_out_as_records() {
        let key = "k+/=".to_owned();
        let mut before = RecordSet::default();
        before.apply(Record::Identity(IdentityRecord {
            key: key.clone(),
            name: Some("alice".into()),
            ..Default::default()
        }));
        let record = Record::Notify {
            key: key.clone(),
            room: "#main".into(),
            level: NotifyLevel::Off,
        };
        let entry = Entry::of(&record);
        let mut written = before.clone();
        written.apply(record);
        let json = encode(&written, &entry).unwrap();
        let entry = entry.key();

        // Another server reads the entry: the level is there, and is the one change.
        let mut after = before.clone();
        load(&mut after, &entry, &json).unwrap();
        assert_eq!(after.by_key[&key].notify["#main"], NotifyLevel::Off);
        assert_eq!(
            changes(&before, &after, &entry),
            [Record::Notify {
                key: key.clone(),
                room: "#main".into(),
                level: NotifyLevel::Off,
            }]
        );
        assert!(changes(&after, &after, &entry).is_empty(), "nothing new");
    }

    #[test]
    fn an_identity_entry_of_an_older_build_reads_with_no_levels() {
        let json = br#"{"key":"k","id":"00000000-0000-0000-0000-000000000000","name":null,
            "since":0,"last_seen":0,"rooms":[],"markers":{},"ignored":[]}"#;
        let mut set = RecordSet::default();
        load(&mut set, &Entry::Identity("k".into()).key(), json).unwrap();
        assert!(set.by_key["k"].notify.is_empty());
    }
}
