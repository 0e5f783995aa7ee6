//! `chatroom admin`'s access to a database: what it lists, and the bans and room deletions
//! it makes, in SQL, while no server has the database open.
//!
//! The database is opened as a server opens it: its `PATH.lock` is taken for as long as
//! the [`AdminDb`] lives, so a running server makes opening fail with
//! [`StoreError::InUse`], and a server cannot start while an admin command runs. An older
//! database is migrated, as a server would. Bans are written into the same policy rows the
//! server reads at its start, meaning what the server's own `chat_ban` and `chat_gban` make.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, params};
use uuid::Uuid;

use super::{ERASE, History, StoreError, lock, lock_exclusively, policies, real_path};
use crate::domain::{
    Ban, MAX_DURATION_SECS, MIN_DURATION_SECS, Modes, RoomPolicy, ServerPolicy, Target, add_ban,
    is_conversation, parse_room_name,
};
use crate::identity::PublicKey;
use crate::text::look_alike_keys;

/// What an admin command may be refused for.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("the server is running on {}; stop it first", path.display())]
    Running { path: PathBuf },
    #[error("there is no database at {}", path.display())]
    NoDatabase { path: PathBuf },
    #[error(transparent)]
    Store(StoreError),
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("no room {0} in the database")]
    NoSuchRoom(String),
    #[error("{0}")]
    BadRoom(String),
    #[error(
        "{0} is the server's default room, which it makes again at its start; it cannot be \
         deleted (limit its history with serve --retain-days or --retain-events)"
    )]
    DefaultRoom(String),
    #[error(
        "no identity is {0} (a target is a key fingerprint SHA256:…, a name an identity \
         owns, or an IP address for guests)"
    )]
    NoSuchTarget(String),
    #[error("{0} is not banned there")]
    NotBanned(String),
    #[error("a ban lasts from 1m to 366d, or for ever without --duration ({secs}s given)")]
    BadDuration { secs: u64 },
    #[error("the ban list is full ({0} bans)")]
    ListFull(usize),
}

impl From<StoreError> for AdminError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::InUse { path } => AdminError::Running { path },
            other => AdminError::Store(other),
        }
    }
}

/// A room as `chatroom admin rooms` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomRow {
    pub name: String,
    /// Identities that have it among their rooms.
    pub members: u64,
    /// Events stored (retention may have pruned older ones).
    pub events: u64,
    /// When its latest event happened, ms since the epoch.
    pub last_active: u64,
    pub modes: Modes,
    /// Its owner's name (or id, once the name is released); `None` for no owner.
    pub owner: Option<String>,
}

/// An identity as `chatroom admin identities` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityRow {
    pub name: Option<String>,
    pub fingerprint: String,
    pub id: Uuid,
    pub last_seen: u64,
}

/// A database opened for `chatroom admin`, its lock held.
pub struct AdminDb {
    conn: Arc<Mutex<Connection>>,
    _lock: std::fs::File,
    default_room: String,
}

impl AdminDb {
    /// Opens the database at `path`, which must exist, as a server would (`default_room`
    /// as the server's, for migrating and for what may not be deleted).
    pub fn open(path: &Path, default_room: &str) -> Result<Self, AdminError> {
        if !path.is_file() {
            return Err(AdminError::NoDatabase {
                path: path.to_owned(),
            });
        }
        let real = real_path(path)?;
        let lock_file = lock_exclusively(&real)?;
        let sqlite = |source| StoreError::Sqlite {
            path: real.display().to_string(),
            source,
        };
        let mut conn = Connection::open(&real).map_err(sqlite)?;
        // What admin deletes (a room) leaves no trace in free pages.
        conn.pragma_update(None, "secure_delete", ERASE)
            .map_err(sqlite)?;
        super::schema::prepare(&mut conn, default_room).map_err(sqlite)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            _lock: lock_file,
            default_room: default_room.to_owned(),
        })
    }

    /// Its events, to page through as the server does.
    pub fn history(&self) -> History {
        History {
            conn: self.conn.clone(),
        }
    }

    /// Every room (conversations too), by name.
    pub fn rooms(&self) -> Result<Vec<RoomRow>, AdminError> {
        let conn = lock(&self.conn);
        let policies = read_policies(&conn)?;
        let names = self.identity_names(&conn)?;
        let mut statement = conn.prepare(
            "SELECT r.name, r.last_ts,
                 (SELECT COUNT(*) FROM memberships m WHERE m.room = r.name),
                 (SELECT COUNT(*) FROM events e WHERE e.room = r.id)
             FROM rooms r ORDER BY r.name",
        )?;
        let rows = statement.query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, i64>(1)? as u64,
                row.get::<_, i64>(2)? as u64,
                row.get::<_, i64>(3)? as u64,
            ))
        })?;
        let mut rooms = Vec::new();
        for row in rows {
            let (name, last_active, members, events) = row?;
            let policy = policies
                .iter()
                .find(|(room, _)| *room == name)
                .map(|(_, p)| p.clone())
                .unwrap_or_default();
            let owner = policy.owner.map(|id| {
                names
                    .iter()
                    .find(|i| i.id == id)
                    .and_then(|i| i.name.clone())
                    .unwrap_or_else(|| id.to_string())
            });
            rooms.push(RoomRow {
                name,
                members,
                events,
                last_active,
                modes: policy.modes,
                owner,
            });
        }
        Ok(rooms)
    }

    /// Every identity, by name (released names last).
    pub fn identities(&self) -> Result<Vec<IdentityRow>, AdminError> {
        self.identity_names(&lock(&self.conn))
    }

    fn identity_names(&self, conn: &Connection) -> Result<Vec<IdentityRow>, AdminError> {
        let mut statement = conn.prepare(
            "SELECT key, id, name, last_seen FROM identities
             ORDER BY name IS NULL, name COLLATE NOCASE, key",
        )?;
        let rows = statement.query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, Option<String>>(2)?,
                row.get::<_, i64>(3)? as u64,
            ))
        })?;
        let mut identities = Vec::new();
        for row in rows {
            let (key, id, name, last_seen) = row?;
            identities.push(IdentityRow {
                name,
                fingerprint: PublicKey::from_base64(&key)
                    .map_or_else(|_| format!("(unreadable key {key})"), |k| k.fingerprint()),
                id: id.parse().unwrap_or_default(),
                last_seen,
            });
        }
        Ok(identities)
    }

    /// The bans in force at `now`: a room's, or the server's.
    pub fn bans(&self, room: Option<&str>, now: u64) -> Result<Vec<Ban>, AdminError> {
        let conn = lock(&self.conn);
        let bans = match room {
            Some(room) => {
                let room = self.existing_room(&conn, room)?;
                room_policy(&conn, &room)?.bans
            }
            None => server_policy(&conn)?.bans,
        };
        Ok(bans.into_iter().filter(|b| b.holds(now)).collect())
    }

    /// Bans `target` from a room, or (no room) the whole server, for `duration_secs`
    /// (`None`: for ever), at `now`. An identity banned from a room is no longer one of its
    /// members, so the server does not put it back there.
    pub fn ban(
        &self,
        room: Option<&str>,
        target: &str,
        duration_secs: Option<u64>,
        reason: Option<String>,
        now: u64,
    ) -> Result<Ban, AdminError> {
        if let Some(secs) = duration_secs
            && !(MIN_DURATION_SECS..=MAX_DURATION_SECS).contains(&secs)
        {
            return Err(AdminError::BadDuration { secs });
        }
        let mut conn = lock(&self.conn);
        if let Some(room) = room {
            self.existing_room(&conn, room)?;
        }
        let found = self.find(&conn, target)?;
        let ban = Ban {
            target: found.target,
            name: found.name,
            fingerprint: found.fingerprint,
            until: duration_secs.map(|secs| now + secs * 1000),
            reason,
            by: "admin".into(),
            at: now,
        };
        let tx = conn.transaction()?;
        match room {
            Some(room) => {
                let room = self.existing_room(&tx, room)?;
                let mut policy = room_policy(&tx, &room)?;
                policy.prune(now);
                add_ban(&mut policy.bans, ban.clone()).map_err(AdminError::ListFull)?;
                if let Target::Identity(id) = ban.target {
                    policy.invited.remove(&id);
                    tx.execute(
                        "DELETE FROM memberships WHERE room = ?1
                         AND key IN (SELECT key FROM identities WHERE id = ?2)",
                        params![room, id.to_string()],
                    )?;
                }
                policies::put_room_policy(&tx, &room, &policy)?;
            }
            None => {
                let mut policy = server_policy(&tx)?;
                policy.prune(now);
                add_ban(&mut policy.bans, ban.clone()).map_err(AdminError::ListFull)?;
                policies::put_server_policy(&tx, &policy)?;
            }
        }
        tx.commit()?;
        Ok(ban)
    }

    /// Lifts the ban on `target` (as for [`AdminDb::ban`], or the name or fingerprint the
    /// ban lists) from a room, or the server.
    pub fn unban(&self, room: Option<&str>, target: &str, now: u64) -> Result<Ban, AdminError> {
        let mut conn = lock(&self.conn);
        let found = self.find(&conn, target).ok();
        let wanted = target.trim();
        let take = |bans: &mut Vec<Ban>| {
            let lower = wanted.to_lowercase();
            let at = bans
                .iter()
                .position(|b| found.as_ref().is_some_and(|f| f.target == b.target))
                .or_else(|| {
                    bans.iter().position(|b| {
                        b.name.to_lowercase() == lower || b.fingerprint.as_deref() == Some(wanted)
                    })
                })
                .ok_or_else(|| AdminError::NotBanned(wanted.to_owned()))?;
            Ok::<_, AdminError>(bans.remove(at))
        };
        let tx = conn.transaction()?;
        let ban = match room {
            Some(room) => {
                let room = self.existing_room(&tx, room)?;
                let mut policy = room_policy(&tx, &room)?;
                policy.prune(now);
                let ban = take(&mut policy.bans)?;
                policies::put_room_policy(&tx, &room, &policy)?;
                ban
            }
            None => {
                let mut policy = server_policy(&tx)?;
                policy.prune(now);
                let ban = take(&mut policy.bans)?;
                policies::put_server_policy(&tx, &policy)?;
                ban
            }
        };
        tx.commit()?;
        Ok(ban)
    }

    /// Deletes a room and everything kept of it: its events, policy, the memberships, read
    /// markers and notification levels of identities in it, and who was present. Returns how many events
    /// went. The server's default room, and conversations, are refused.
    pub fn delete_room(&self, room: &str) -> Result<u64, AdminError> {
        let mut conn = lock(&self.conn);
        let room = self.existing_room(&conn, room)?;
        if room == self.default_room {
            return Err(AdminError::DefaultRoom(room));
        }
        if is_conversation(&room) {
            return Err(AdminError::BadRoom(format!(
                "{room} is a conversation; delete-room deletes rooms"
            )));
        }
        let tx = conn.transaction()?;
        let id: i64 = tx.query_row("SELECT id FROM rooms WHERE name = ?1", [&room], |row| {
            row.get(0)
        })?;
        let events = tx.execute("DELETE FROM events WHERE room = ?1", [id])? as u64;
        tx.execute("DELETE FROM present WHERE room = ?1", [id])?;
        tx.execute("DELETE FROM rooms WHERE id = ?1", [id])?;
        for table in ["room_policies", "memberships", "markers", "notify_levels"] {
            tx.execute(&format!("DELETE FROM {table} WHERE room = ?1"), [&room])?;
        }
        tx.commit()?;
        Ok(events)
    }

    /// The name of a room the database has: a room name as the server spells it, or a
    /// conversation's as stored.
    fn existing_room(&self, conn: &Connection, raw: &str) -> Result<String, AdminError> {
        let name = if is_conversation(raw) {
            raw.to_owned()
        } else {
            parse_room_name(raw).map_err(|err| AdminError::BadRoom(format!("{raw}: {err}")))?
        };
        let found: Option<i64> = conn
            .query_row("SELECT 1 FROM rooms WHERE name = ?1", [&name], |row| {
                row.get(0)
            })
            .optional()?;
        match found {
            Some(_) => Ok(name),
            None => Err(AdminError::NoSuchRoom(name)),
        }
    }

    /// Whoever `wanted` names, as the server finds one offline: a fingerprint, an
    /// address, or a name an identity owns (or a look-alike of it).
    fn find(&self, conn: &Connection, wanted: &str) -> Result<Found, AdminError> {
        let wanted = wanted.trim();
        if let Ok(address) = wanted.parse::<std::net::IpAddr>() {
            return Ok(Found {
                target: Target::address(address),
                name: address.to_string(),
                fingerprint: None,
            });
        }
        let identities = self.identity_names(conn)?;
        let found = if wanted.starts_with("SHA256:") {
            identities.into_iter().find(|i| i.fingerprint == wanted)
        } else {
            let keys = look_alike_keys(wanted);
            identities.into_iter().find(|i| {
                i.name.as_deref().is_some_and(|name| {
                    let theirs = look_alike_keys(name);
                    keys.iter().any(|k| theirs.contains(k))
                })
            })
        };
        let identity = found.ok_or_else(|| AdminError::NoSuchTarget(wanted.to_owned()))?;
        Ok(Found {
            target: Target::Identity(identity.id),
            name: identity.name.unwrap_or_else(|| wanted.to_owned()),
            fingerprint: Some(identity.fingerprint),
        })
    }
}

/// Whoever a ban is on.
struct Found {
    target: Target,
    name: String,
    fingerprint: Option<String>,
}

fn store_error(source: rusqlite::Error) -> StoreError {
    StoreError::Query(source)
}

fn read_policies(conn: &Connection) -> Result<Vec<(String, RoomPolicy)>, AdminError> {
    Ok(policies::read_room_policies(conn, &store_error)?)
}

fn room_policy(conn: &Connection, room: &str) -> Result<RoomPolicy, AdminError> {
    Ok(read_policies(conn)?
        .into_iter()
        .find(|(name, _)| name == room)
        .map(|(_, policy)| policy)
        .unwrap_or_default())
}

fn server_policy(conn: &Connection) -> Result<ServerPolicy, AdminError> {
    Ok(policies::read_server_policy(conn, &store_error)?)
}
