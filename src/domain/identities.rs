//! Identities: the keys the chat knows, the names they own, the rooms each is in (kept
//! while it is away, as a bouncer keeps them), how far each has read, and `/whois`.
//!
//! A key is checked by the server before the chat hears of it; here a key is a string (its
//! base64 public key) and the member id made from it. The first key to use a name owns it:
//! nobody else may take that name or a look-alike, until the key has not been seen for the
//! configured expiry and the name is released.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use uuid::Uuid;

use super::conversations::is_conversation;
use super::log::{IdentityRecord, IdentityState};
use super::{Chat, EventKind, MemberInfo, Record, RoomError, Stamped, State, text_keys, unix_ms};

/// An identity as the chat keeps it.
pub(super) struct Identity {
    pub(super) record: IdentityRecord,
    /// The rooms and conversations it is in, connected or not.
    pub(super) rooms: BTreeSet<String>,
    /// Room → the last seq it has seen there.
    pub(super) markers: HashMap<String, u64>,
    /// The members it ignores.
    pub(super) ignored: BTreeSet<Uuid>,
    /// Its key's fingerprint, once known.
    pub(super) fingerprint: Option<String>,
    /// Room → the notification level it set there (the rest have their default).
    pub(super) notify: HashMap<String, super::NotifyLevel>,
}

/// Every identity, and the indexes that find one.
#[derive(Default)]
pub(super) struct Identities {
    by_key: HashMap<String, Identity>,
    /// Look-alike keys of every owned name → the key owning it.
    owned: HashMap<String, String>,
    /// Member id → key.
    by_id: HashMap<Uuid, String>,
    /// Key fingerprint → key.
    by_fingerprint: HashMap<String, String>,
    /// Conversation room → its two member ids.
    pub(super) conversations: HashMap<String, [Uuid; 2]>,
}

impl Identities {
    /// The identities and conversations a log remembers.
    pub(super) fn recovered(
        states: Vec<IdentityState>,
        conversations: Vec<(String, [String; 2])>,
    ) -> Self {
        let mut identities = Self::default();
        for state in states {
            identities.insert(Identity {
                rooms: state.rooms.into_iter().collect(),
                markers: state.markers.into_iter().collect(),
                ignored: state.ignored.into_iter().collect(),
                notify: state.notify.into_iter().collect(),
                fingerprint: crate::identity::PublicKey::from_base64(&state.record.key)
                    .ok()
                    .map(|key| key.fingerprint()),
                record: state.record,
            });
        }
        for (room, keys) in conversations {
            let ids = keys.map(|key| identities.by_key.get(&key).map(|i| i.record.id));
            if let [Some(a), Some(b)] = ids {
                identities.conversations.insert(room, [a, b]);
            }
        }
        identities
    }

    pub(super) fn insert(&mut self, identity: Identity) {
        let key = identity.record.key.clone();
        if let Some(name) = &identity.record.name {
            for look_alike in text_keys(name) {
                self.owned.insert(look_alike, key.clone());
            }
        }
        self.by_id.insert(identity.record.id, key.clone());
        if let Some(fingerprint) = &identity.fingerprint {
            self.by_fingerprint.insert(fingerprint.clone(), key.clone());
        }
        self.by_key.insert(key, identity);
    }

    /// Notes the fingerprint of a key (the server computes it when it checks the key).
    pub(super) fn set_fingerprint(&mut self, key: &str, fingerprint: &str) {
        if let Some(identity) = self.by_key.get_mut(key)
            && identity.fingerprint.is_none()
        {
            identity.fingerprint = Some(fingerprint.to_owned());
            self.by_fingerprint
                .insert(fingerprint.to_owned(), key.to_owned());
        }
    }

    /// The identity with a key fingerprint.
    pub(super) fn by_fingerprint(&self, fingerprint: &str) -> Option<&Identity> {
        self.by_fingerprint
            .get(fingerprint)
            .and_then(|key| self.by_key.get(key))
    }

    /// The key owning a look-alike key of a name.
    pub(super) fn owner_of_key(&self, look_alike: &str) -> Option<&str> {
        self.owned.get(look_alike).map(String::as_str)
    }

    /// The key owning `name` or a look-alike of it.
    pub(super) fn owner_of(&self, name: &str) -> Option<&str> {
        text_keys(name)
            .iter()
            .find_map(|key| self.owner_of_key(key))
    }

    pub(super) fn get(&self, key: &str) -> Option<&Identity> {
        self.by_key.get(key)
    }

    pub(super) fn get_mut(&mut self, key: &str) -> Option<&mut Identity> {
        self.by_key.get_mut(key)
    }

    /// The identity a member id was made for.
    pub(super) fn by_id(&self, id: Uuid) -> Option<&Identity> {
        self.by_id.get(&id).and_then(|key| self.by_key.get(key))
    }

    /// [`Identities::claim`], for a name another server gave.
    pub(super) fn take_name(&mut self, key: &str, name: Option<&str>) {
        self.claim(key, name);
    }

    /// Gives `key` the name `name`, releasing the one it had: the keys of that name alone
    /// are looked at, not every owned name (this runs at every join of an identity).
    fn claim(&mut self, key: &str, name: Option<&str>) {
        let old = self.by_key.get(key).and_then(|i| i.record.name.clone());
        for look_alike in old.iter().flat_map(|old| text_keys(old)) {
            if self
                .owned
                .get(&look_alike)
                .is_some_and(|owner| owner == key)
            {
                self.owned.remove(&look_alike);
            }
        }
        if let Some(name) = name {
            for look_alike in text_keys(name) {
                self.owned.insert(look_alike, key.to_owned());
            }
        }
    }
}

/// What a record is about: which identity, room or conversation. A take-back writes what
/// memory has about it again.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum RecordAbout {
    Identity(String),
    Membership(String, String),
    Marker(String, String),
    Conversation(String),
    RoomPolicy(String),
    ServerPolicy,
    Ignores(String),
    Notify(String, String),
}

impl RecordAbout {
    pub(super) fn of(record: &Record) -> Self {
        match record {
            Record::Identity(r) => Self::Identity(r.key.clone()),
            Record::Membership { key, room, .. } => Self::Membership(key.clone(), room.clone()),
            Record::Marker { key, room, .. } => Self::Marker(key.clone(), room.clone()),
            Record::Conversation { room, .. } => Self::Conversation(room.clone()),
            Record::RoomPolicy { room, .. } => Self::RoomPolicy(room.clone()),
            Record::ServerPolicy(_) => Self::ServerPolicy,
            Record::Ignores { key, .. } => Self::Ignores(key.clone()),
            Record::Notify { key, room, .. } => Self::Notify(key.clone(), room.clone()),
        }
    }
}

impl Identities {
    /// The record of what memory holds about `about` now.
    pub(super) fn current(&self, about: &RecordAbout) -> Option<Record> {
        Some(match about {
            RecordAbout::Identity(key) => Record::Identity(self.get(key)?.record.clone()),
            RecordAbout::Membership(key, room) => Record::Membership {
                key: key.clone(),
                room: room.clone(),
                member: self.get(key)?.rooms.contains(room),
            },
            RecordAbout::Marker(key, room) => Record::Marker {
                key: key.clone(),
                room: room.clone(),
                seq: *self.get(key)?.markers.get(room)?,
            },
            RecordAbout::Conversation(room) => {
                let ids = self.conversations.get(room)?;
                let keys = [self.by_id.get(&ids[0])?, self.by_id.get(&ids[1])?];
                Record::Conversation {
                    room: room.clone(),
                    keys: keys.map(String::clone),
                }
            }
            RecordAbout::Ignores(key) => Record::Ignores {
                key: key.clone(),
                ignored: self.get(key)?.ignored.iter().copied().collect(),
            },
            RecordAbout::Notify(key, room) => Record::Notify {
                key: key.clone(),
                room: room.clone(),
                level: *self.get(key)?.notify.get(room)?,
            },
            // The rooms' and the server's own, which the state holds.
            RecordAbout::RoomPolicy(_) | RecordAbout::ServerPolicy => return None,
        })
    }
}

/// A member as `/whois` tells of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhoisInfo {
    pub info: MemberInfo,
    /// The key (base64); `None` for a guest.
    pub key: Option<String>,
    /// Since when the key has owned the name (ms since the epoch).
    pub since: Option<u64>,
    pub online: bool,
    pub sessions: usize,
    /// Its rooms, never its conversations.
    pub rooms: Vec<String>,
    /// Time since its last call, while connected.
    pub idle: Option<Duration>,
    /// When it was last connected, while it is not.
    pub last_seen: Option<u64>,
    /// Its away message, while it is away.
    pub away: Option<String>,
    pub server_op: bool,
    /// Its role in each of the listed rooms where it has one.
    pub roles: std::collections::BTreeMap<String, super::Role>,
}

impl Chat {
    /// Moves the session's identity's read marker in `room` forward to `seq`, and tells its
    /// other sessions with a `read` event (never stored: it is not a room event). Returns
    /// the marker now.
    pub fn mark(&self, session: &str, room: &str, seq: u64) -> Result<(String, u64), RoomError> {
        let mut state = self.lock();
        let (id, conn) = state.session(session)?;
        let key = state.members[&id]
            .key
            .clone()
            .ok_or(RoomError::NotIdentified("keep read markers"))?;
        let name = state.seated_in(id, room)?;
        // Stored events only: one not stored yet could still be taken back.
        let latest = state.rooms[&name].durable_seq;
        if seq > latest {
            return Err(RoomError::MarkerAhead {
                room: name,
                seq,
                latest,
            });
        }
        let identity = state
            .identities
            .get_mut(&key)
            .expect("members' keys are known");
        let marker = identity.markers.entry(name.clone()).or_default();
        if seq <= *marker {
            return Ok((name, *marker));
        }
        *marker = seq;
        state.record(Record::Marker {
            key,
            room: name.clone(),
            seq,
        });
        state.tell_read(id, &name, seq, Some(conn));
        Ok((name, seq))
    }

    /// Who goes by `name`: a member connected now, or an identity that owns it.
    pub fn whois(&self, session: &str, name: &str) -> Result<WhoisInfo, RoomError> {
        let mut state = self.lock();
        let (asker, _) = state.session(session)?;
        let wanted = name.to_lowercase();
        // Never a conversation, nor a secret room the asker is not in.
        let public_rooms = |rooms: &BTreeSet<String>| -> Vec<String> {
            rooms
                .iter()
                .filter(|r| !is_conversation(r))
                .filter(|r| {
                    state
                        .rooms
                        .get(*r)
                        .is_some_and(|room| state.may_see(Some(asker), room))
                })
                .cloned()
                .collect()
        };
        let roles =
            |id: Uuid, rooms: &[String]| -> std::collections::BTreeMap<String, super::Role> {
                rooms
                    .iter()
                    .filter_map(|r| Some((r.clone(), state.rooms.get(r)?.policy.role_of(id)?)))
                    .collect()
            };
        let online = state
            .members
            .values()
            .find(|m| m.info.name.to_lowercase() == wanted);
        if let Some(member) = online {
            let identity = member.key.as_deref().and_then(|k| state.identities.get(k));
            let rooms = public_rooms(&member.rooms);
            return Ok(WhoisInfo {
                info: member.info.clone(),
                key: member.key.clone(),
                since: identity.map(|i| i.record.since),
                online: true,
                sessions: member.conns.len(),
                roles: roles(member.info.id, &rooms),
                rooms,
                idle: member.last_active().map(|at| at.elapsed()),
                last_seen: None,
                away: member.away.clone(),
                server_op: state.is_server_op(member.info.id),
            });
        }
        let key = state
            .identities
            .owner_of(name)
            .ok_or_else(|| RoomError::NoSuchIdentity(name.to_owned()))?;
        let identity = state.identities.get(key).expect("owners are known");
        let rooms = public_rooms(&identity.rooms);
        let id = identity.record.id;
        Ok(WhoisInfo {
            info: MemberInfo::new(
                identity.record.id,
                identity.record.name.clone().unwrap_or_default(),
            ),
            key: Some(identity.record.key.clone()),
            since: Some(identity.record.since),
            online: false,
            sessions: 0,
            roles: roles(id, &rooms),
            rooms,
            idle: None,
            last_seen: Some(identity.record.last_seen),
            away: None,
            server_op: state.is_server_op(id),
        })
    }

    /// Releases the names of identities not seen for the configured expiry. Returns how
    /// many were released.
    pub fn expire_names(&self) -> usize {
        let Some(expiry) = self.shared.config.name_expiry else {
            return 0;
        };
        let cutoff = unix_ms().saturating_sub(expiry.as_millis() as u64);
        let mut state = self.lock();
        let online: BTreeSet<String> = state
            .members
            .values()
            .filter_map(|m| m.key.clone())
            .collect();
        let stale: Vec<String> = state
            .identities
            .by_key
            .values()
            .filter(|i| i.record.name.is_some() && i.record.last_seen < cutoff)
            .filter(|i| !online.contains(&i.record.key))
            .map(|i| i.record.key.clone())
            .collect();
        for key in &stale {
            tracing::info!(%key, "name released after a long absence");
            state.identities.claim(key, None);
            let identity = state.identities.get_mut(key).expect("just listed");
            identity.record.name = None;
            let record = identity.record.clone();
            state.record(Record::Identity(record));
        }
        stale.len()
    }

    /// Makes an identity look as if it was last seen `ago`, so expiry can be tested
    /// without waiting.
    #[cfg(test)]
    pub(crate) fn backdate_identity(&self, key: &str, ago: Duration) {
        let mut state = self.lock();
        let identity = state.identities.get_mut(key).expect("a known identity");
        identity.record.last_seen = unix_ms().saturating_sub(ago.as_millis() as u64);
    }
}

impl State {
    /// The identity `key` with member id `id`, made now if it is new (owning no name yet).
    pub(super) fn identity_for(&mut self, key: &str, id: Uuid) -> &mut Identity {
        if self.identities.get(key).is_none() {
            let now = unix_ms();
            self.identities.insert(Identity {
                record: IdentityRecord {
                    key: key.to_owned(),
                    id,
                    name: None,
                    since: now,
                    last_seen: now,
                },
                rooms: BTreeSet::new(),
                markers: HashMap::new(),
                ignored: BTreeSet::new(),
                fingerprint: None,
                notify: HashMap::new(),
            });
        }
        self.identities.get_mut(key).expect("made above")
    }

    /// The identity now owns `name` (releasing its old one), and the log hears of it.
    pub(super) fn identity_named(&mut self, key: &str, name: &str) {
        self.identities.claim(key, Some(name));
        let Some(identity) = self.identities.get_mut(key) else {
            return;
        };
        if identity.record.name.as_deref() != Some(name) {
            identity.record.name = Some(name.to_owned());
            identity.record.since = unix_ms();
        }
        identity.record.last_seen = unix_ms();
        let record = identity.record.clone();
        self.record(Record::Identity(record));
    }

    /// The identity was seen now (its last session ended, or one began).
    pub(super) fn identity_seen(&mut self, key: &str) {
        if let Some(identity) = self.identities.get_mut(key) {
            identity.record.last_seen = unix_ms();
            let record = identity.record.clone();
            self.record(Record::Identity(record));
        }
    }

    /// Remembers that the identity is in `room` (or, with `member` false, no longer), so a
    /// later session is put back there.
    pub(super) fn remember_room(&mut self, key: &str, room: &str, member: bool) {
        let Some(identity) = self.identities.get_mut(key) else {
            return;
        };
        let changed = if member {
            identity.rooms.insert(room.to_owned())
        } else {
            identity.rooms.remove(room)
        };
        if changed {
            self.record(Record::Membership {
                key: key.to_owned(),
                room: room.to_owned(),
                member,
            });
        }
    }

    /// Tells a member's sessions (but `except`) that it has read `room` up to `seq`.
    pub(super) fn tell_read(&mut self, id: Uuid, room: &str, seq: u64, except: Option<u64>) {
        let read = super::Event {
            room: room.to_owned(),
            seq,
            ts: unix_ms(),
            kind: EventKind::Read,
            ..Default::default()
        };
        self.tell_own(id, read, except);
    }

    /// Tells a member's sessions (but `except`) what only they hear (a read marker, a
    /// notification level), from the member itself; a session too slow to take it ends.
    pub(super) fn tell_own(&mut self, id: Uuid, event: super::Event, except: Option<u64>) {
        let Some(member) = self.members.get(&id) else {
            return;
        };
        let event = super::Event {
            from: member.info.clone(),
            ..event
        };
        let event = std::sync::Arc::new(Stamped::new(event, self.encoder.as_ref()));
        let too_slow: Vec<u64> = member
            .conns
            .iter()
            .filter(|(other, _)| Some(**other) != except)
            .filter(|(_, c)| !c.queue.push(&event))
            .map(|(other, _)| *other)
            .collect();
        for other in too_slow {
            let reason = super::LeaveReason::TooSlow;
            self.end_conn(id, other, reason, reason.event_text());
        }
    }

    /// The identity's read marker in a room (0 for none, and for guests).
    pub(super) fn marker(&self, key: Option<&str>, room: &str) -> u64 {
        key.and_then(|key| self.identities.get(key))
            .and_then(|identity| identity.markers.get(room).copied())
            .unwrap_or(0)
    }
}
