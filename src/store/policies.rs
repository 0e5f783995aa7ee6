//! Moderation on disk: the [`Record`]s that carry a room's policy, the server's, and whom
//! an identity ignores, stored by the writer in the same transactions as the events, and
//! read back when the store opens.
//!
//! Each record means here what it means to [`crate::domain::MemoryLog`]: a policy record
//! replaces the room's (or the server's) whole, kept as the JSON of its serde form; an
//! `Ignores` record replaces the list of its key, and is ignored for a key with no
//! identity. A policy that does not read back fails the opening: leaving it out would
//! quietly lift its bans.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;
use crate::domain::{IdentityState, Record, RoomPolicy, ServerPolicy};

/// The tables schema 4 adds.
pub(super) const TABLES: &str = "
    CREATE TABLE IF NOT EXISTS room_policies (
        room TEXT PRIMARY KEY,
        policy TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS server_policy (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        policy TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS ignores (
        key TEXT NOT NULL,
        ignored TEXT NOT NULL,
        PRIMARY KEY (key, ignored)
    );";

/// Applies a moderation record, inside the writer's transaction; any other record is
/// none of this module's and changes nothing.
pub(super) fn apply(conn: &Connection, record: &Record) -> rusqlite::Result<()> {
    match record {
        Record::RoomPolicy { room, policy } => {
            put_room_policy(conn, room, policy)?;
        }
        Record::ServerPolicy(policy) => {
            put_server_policy(conn, policy)?;
        }
        Record::Ignores { key, ignored } => {
            conn.prepare_cached("DELETE FROM ignores WHERE key = ?1")?
                .execute([key])?;
            let mut insert = conn.prepare_cached(
                "INSERT OR IGNORE INTO ignores (key, ignored)
                 SELECT ?1, ?2 WHERE EXISTS (SELECT 1 FROM identities WHERE key = ?1)",
            )?;
            for id in ignored {
                insert.execute(params![key, id.to_string()])?;
            }
        }
        Record::Identity(_)
        | Record::Membership { .. }
        | Record::Marker { .. }
        | Record::Conversation { .. }
        | Record::Notify { .. } => {}
    }
    Ok(())
}

/// Stores a room's policy in place of the one before.
pub(super) fn put_room_policy(
    conn: &Connection,
    room: &str,
    policy: &RoomPolicy,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO room_policies (room, policy) VALUES (?1, ?2)
         ON CONFLICT (room) DO UPDATE SET policy = excluded.policy",
    )?
    .execute(params![room, to_json(policy)?])?;
    Ok(())
}

/// Stores the server's policy in place of the one before.
pub(super) fn put_server_policy(conn: &Connection, policy: &ServerPolicy) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO server_policy (id, policy) VALUES (1, ?1)
         ON CONFLICT (id) DO UPDATE SET policy = excluded.policy",
    )?
    .execute([to_json(policy)?])?;
    Ok(())
}

fn to_json(value: &impl serde::Serialize) -> rusqlite::Result<String> {
    serde_json::to_string(value).map_err(|err| rusqlite::Error::ToSqlConversionFailure(err.into()))
}

/// How a rusqlite error reads as the store's (it names the database).
pub(super) type Sqlite<'a> = &'a dyn Fn(rusqlite::Error) -> StoreError;

/// Every room's policy, by room.
pub(super) fn read_room_policies(
    conn: &Connection,
    sqlite: Sqlite<'_>,
) -> Result<Vec<(String, RoomPolicy)>, StoreError> {
    let mut statement = conn
        .prepare("SELECT room, policy FROM room_policies ORDER BY room")
        .map_err(sqlite)?;
    let rows = statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .map_err(sqlite)?;
    let mut policies = Vec::new();
    for row in rows {
        let (room, json): (String, String) = row.map_err(sqlite)?;
        let policy = serde_json::from_str(&json).map_err(|err| StoreError::CorruptPolicy {
            whose: format!("room {room}"),
            reason: err.to_string(),
        })?;
        policies.push((room, policy));
    }
    Ok(policies)
}

/// The server's policy (none stored: no bans).
pub(super) fn read_server_policy(
    conn: &Connection,
    sqlite: Sqlite<'_>,
) -> Result<ServerPolicy, StoreError> {
    let json: Option<String> = conn
        .query_row("SELECT policy FROM server_policy WHERE id = 1", [], |row| {
            row.get(0)
        })
        .optional()
        .map_err(sqlite)?;
    match json {
        None => Ok(ServerPolicy::default()),
        Some(json) => serde_json::from_str(&json).map_err(|err| StoreError::CorruptPolicy {
            whose: "the server".into(),
            reason: err.to_string(),
        }),
    }
}

/// Fills in whom each identity ignores, in the order its last record listed them. An
/// unreadable id fails the opening, as an unreadable identity does.
pub(super) fn fill_ignored(
    conn: &Connection,
    identities: &mut [IdentityState],
    sqlite: Sqlite<'_>,
) -> Result<(), StoreError> {
    let at: HashMap<String, usize> = identities
        .iter()
        .enumerate()
        .map(|(i, state)| (state.record.key.clone(), i))
        .collect();
    let mut statement = conn
        .prepare("SELECT key, ignored FROM ignores ORDER BY key, rowid")
        .map_err(sqlite)?;
    let mut rows = statement.query([]).map_err(sqlite)?;
    while let Some(row) = rows.next().map_err(sqlite)? {
        let key: String = row.get(0).map_err(sqlite)?;
        let id: String = row.get(1).map_err(sqlite)?;
        let id = id
            .parse()
            .map_err(|err: uuid::Error| StoreError::CorruptPolicy {
                whose: format!("the identity {key}'s ignore list"),
                reason: err.to_string(),
            })?;
        if let Some(&i) = at.get(&key) {
            identities[i].ignored.push(id);
        }
    }
    Ok(())
}
