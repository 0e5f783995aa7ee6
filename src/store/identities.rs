//! What the chat knows of identities, on disk: the [`Record`]s the writer stores in the same
//! transactions as the events, and their reading back when the store opens (moderation's
//! records are handed on to `policies`).
//!
//! A record means here exactly what it means to [`crate::domain::MemoryLog`]: an identity
//! record replaces the one with its key (its rooms and markers stay); a membership or marker
//! of a key with no identity is ignored; a marker only moves forward; a membership with
//! `member` false removes the room. Retention never prunes these tables.

use std::collections::BTreeMap;

use rusqlite::{Connection, params};

use crate::domain::{IdentityRecord, IdentityState, Record};

/// The tables schema 3 adds.
pub(super) const TABLES: &str = "
    CREATE TABLE IF NOT EXISTS identities (
        key TEXT PRIMARY KEY,
        id TEXT NOT NULL,
        name TEXT,
        since INTEGER NOT NULL,
        last_seen INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS memberships (
        key TEXT NOT NULL,
        room TEXT NOT NULL,
        PRIMARY KEY (key, room)
    );
    CREATE TABLE IF NOT EXISTS markers (
        key TEXT NOT NULL,
        room TEXT NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (key, room)
    );
    CREATE TABLE IF NOT EXISTS conversations (
        room TEXT PRIMARY KEY,
        a TEXT NOT NULL,
        b TEXT NOT NULL
    );";

/// Applies a record, inside the writer's transaction.
pub(super) fn apply(conn: &Connection, record: &Record) -> rusqlite::Result<()> {
    match record {
        Record::Identity(identity) => conn
            .prepare_cached(
                "INSERT INTO identities (key, id, name, since, last_seen)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (key) DO UPDATE SET id = excluded.id, name = excluded.name,
                     since = excluded.since, last_seen = excluded.last_seen",
            )?
            .execute(params![
                identity.key,
                identity.id.to_string(),
                identity.name,
                sql_int(identity.since),
                sql_int(identity.last_seen),
            ])?,
        Record::Membership {
            key,
            room,
            member: true,
        } => conn
            .prepare_cached(
                "INSERT OR IGNORE INTO memberships (key, room)
                 SELECT ?1, ?2 WHERE EXISTS (SELECT 1 FROM identities WHERE key = ?1)",
            )?
            .execute(params![key, room])?,
        Record::Membership {
            key,
            room,
            member: false,
        } => conn
            .prepare_cached("DELETE FROM memberships WHERE key = ?1 AND room = ?2")?
            .execute(params![key, room])?,
        Record::Marker { key, room, seq } => conn
            .prepare_cached(
                // The WHERE also keeps SQLite from reading ON CONFLICT as a join's.
                "INSERT INTO markers (key, room, seq)
                 SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM identities WHERE key = ?1)
                 ON CONFLICT (key, room) DO UPDATE SET seq = MAX(seq, excluded.seq)",
            )?
            .execute(params![key, room, sql_int(*seq)])?,
        Record::Conversation { room, keys: [a, b] } => conn
            .prepare_cached(
                "INSERT INTO conversations (room, a, b) VALUES (?1, ?2, ?3)
                 ON CONFLICT (room) DO UPDATE SET a = excluded.a, b = excluded.b",
            )?
            .execute(params![room, a, b])?,
        Record::RoomPolicy { .. } | Record::ServerPolicy(_) | Record::Ignores { .. } => {
            return super::policies::apply(conn, record);
        }
        Record::Notify { .. } => return super::notify::apply(conn, record),
    };
    Ok(())
}

/// Every identity, by key, with its rooms (sorted) and markers.
///
/// An unreadable id fails the opening rather than being skipped: a skipped identity would
/// leave its name free for another key to take.
pub(super) fn read_identities(conn: &Connection) -> rusqlite::Result<Vec<IdentityState>> {
    let mut by_key: BTreeMap<String, IdentityState> = BTreeMap::new();
    let mut statement =
        conn.prepare("SELECT key, id, name, since, last_seen FROM identities ORDER BY key")?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let key: String = row.get(0)?;
        let id: String = row.get(1)?;
        let id = id.parse().map_err(|err: uuid::Error| {
            rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, err.into())
        })?;
        let record = IdentityRecord {
            key: key.clone(),
            id,
            name: row.get(2)?,
            since: row.get::<_, i64>(3)? as u64,
            last_seen: row.get::<_, i64>(4)? as u64,
        };
        by_key.insert(
            key,
            IdentityState {
                record,
                rooms: Vec::new(),
                markers: BTreeMap::new(),
                ignored: Vec::new(),
                notify: BTreeMap::new(),
            },
        );
    }
    let mut statement = conn.prepare("SELECT key, room FROM memberships ORDER BY key, room")?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        if let Some(state) = by_key.get_mut(&row.get::<_, String>(0)?) {
            state.rooms.push(row.get(1)?);
        }
    }
    let mut statement = conn.prepare("SELECT key, room, seq FROM markers")?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        if let Some(state) = by_key.get_mut(&row.get::<_, String>(0)?) {
            state
                .markers
                .insert(row.get(1)?, row.get::<_, i64>(2)? as u64);
        }
    }
    Ok(by_key.into_values().collect())
}

/// Every conversation, by room: its room and its two identities' keys.
pub(super) fn read_conversations(
    conn: &Connection,
) -> rusqlite::Result<Vec<(String, [String; 2])>> {
    let mut statement = conn.prepare("SELECT room, a, b FROM conversations ORDER BY room")?;
    let rows = statement.query_map([], |row| Ok((row.get(0)?, [row.get(1)?, row.get(2)?])))?;
    rows.collect()
}

/// SQLite integers are signed; anything past the largest is kept as the largest.
fn sql_int(value: u64) -> i64 {
    value.min(i64::MAX as u64) as i64
}
