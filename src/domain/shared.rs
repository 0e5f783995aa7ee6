//! Records another server stored, in a log several servers share: who owns which name,
//! which rooms an identity is in and how far it has read, conversations, and the rooms'
//! and the server's moderation. Each is taken in as this server would have made it, and
//! what it changes for the members seated here happens here too: a marker moved in
//! another terminal reaches this one's sessions, a server ban ends theirs.

use std::collections::{BTreeSet, HashMap};

use uuid::Uuid;

use super::identities::Identity;
use super::{Chat, LeaveReason, Record, State};

impl Chat {
    /// The key of the identity behind a session, if it has one.
    pub fn key_of(&self, session: &str) -> Option<String> {
        let state = self.lock();
        let (id, _) = *state.sessions.get(session)?;
        state.members.get(&id)?.key.clone()
    }

    /// Takes in a record another server stored.
    pub(super) fn changed(&self, record: Record) {
        self.lock().take_record(record);
    }
}

impl State {
    fn take_record(&mut self, record: Record) {
        match record {
            Record::Identity(record) => {
                let key = record.key.clone();
                if self.identities.get(&key).is_none() {
                    self.identities.insert(Identity {
                        fingerprint: crate::identity::PublicKey::from_base64(&key)
                            .ok()
                            .map(|k| k.fingerprint()),
                        record: record.clone(),
                        rooms: BTreeSet::new(),
                        markers: HashMap::new(),
                        ignored: BTreeSet::new(),
                        notify: HashMap::new(),
                    });
                }
                self.identities.take_name(&key, record.name.as_deref());
                if let Some(identity) = self.identities.get_mut(&key) {
                    identity.record = record;
                }
            }
            Record::Membership { key, room, member } => {
                if let Some(identity) = self.identities.get_mut(&key) {
                    if member {
                        identity.rooms.insert(room);
                    } else {
                        identity.rooms.remove(&room);
                    }
                }
            }
            Record::Marker { key, room, seq } => self.marker_moved(&key, room, seq),
            Record::Conversation { room, keys } => {
                let ids = keys.map(|key| self.identities.get(&key).map(|i| i.record.id));
                if let [Some(a), Some(b)] = ids {
                    self.identities.conversations.insert(room.clone(), [a, b]);
                    if !self.rooms.contains_key(&room) {
                        self.add_room(room);
                    }
                }
            }
            Record::RoomPolicy { room, policy } => {
                if !self.rooms.contains_key(&room) {
                    self.add_room(room.clone());
                }
                if let Some(room) = self.rooms.get_mut(&room) {
                    room.policy = policy;
                }
            }
            Record::ServerPolicy(policy) => {
                self.server_policy = policy;
                let now = self.now();
                self.server_policy.prune(now);
                let banned: Vec<Uuid> = self
                    .members
                    .keys()
                    .copied()
                    .filter(|id| {
                        let targets = self.targets_of(*id);
                        self.server_policy
                            .bans
                            .iter()
                            .any(|ban| targets.contains(&ban.target))
                    })
                    .collect();
                for id in banned {
                    tracing::info!(%id, "banned from the server on another server");
                    self.remove(id, LeaveReason::Banned, None);
                }
            }
            Record::Ignores { key, ignored } => {
                if let Some(identity) = self.identities.get_mut(&key) {
                    identity.ignored = ignored.into_iter().collect();
                }
            }
            Record::Notify { key, room, level } => self.notify_changed(&key, room, level),
        }
    }

    /// An identity read further in another terminal: its sessions here are told.
    fn marker_moved(&mut self, key: &str, room: String, seq: u64) {
        let Some(identity) = self.identities.get_mut(key) else {
            return;
        };
        let marker = identity.markers.entry(room.clone()).or_default();
        if seq <= *marker {
            return;
        }
        *marker = seq;
        let id = identity.record.id;
        self.tell_read(id, &room, seq, None);
    }
}
