//! The tables, and the migration of a database written by a single-room release.
//!
//! Schema 1 (single room): `events (seq PRIMARY KEY, ...)`, `meta` with the `last_seq` high
//! water mark, `present (id, name)`. Schema 2: a `rooms` table (name, topic, created, the
//! seq high water mark and the last activity), events keyed by `(room, seq)`, and presence
//! per room. An old database's history becomes the default room's, with the same seqs.
//! Schema 3 adds what the chat knows of identities (their tables are in `identities`).
//! Schema 4 adds moderation: `events` gains four nullable columns, `target_id` and
//! `target_name` (the member a kick, ban, mute, role, invite or delete was done to),
//! `until` (when a ban or mute ends, ms since the epoch) and `target_seq` (the message a
//! delete removed); and three tables (in `policies`): `room_policies` (room → its
//! `RoomPolicy` as JSON), `server_policy` (one row: the `ServerPolicy` as JSON) and
//! `ignores` (identity key → each member id it ignores). A deleted message's row stays,
//! as kind `deleted` with its text NULL.
//! Schema 5 adds `notify_levels` (in `notify`): identity key and room → the `/notify`
//! level it set there.
//! Schema 6 adds the full-text index of messages and actions, `search` (FTS5), and the
//! triggers on `events` that keep it in step (in `search`); the migration indexes the
//! history already stored.
//! Each step is one transaction, so a migration cut short leaves the schema before it: a
//! schema 1 database goes through 2, 3, 4 and 5 to 6, a schema 2 one through 3, 4 and 5
//! to 6.

use rusqlite::{Connection, OptionalExtension, params};

use super::identities;
use super::policies;
use super::presence::fill_present_v1_once;
use super::search;
use crate::domain::{RoomRecord, unix_ms};

/// The schema this release writes; [`prepare`] brings an older database up to it.
pub(super) const LATEST: i64 = 6;

/// Schema 2, as its release made it; [`migrate_to_v3`] follows.
const SCHEMA_V2: &str = "
    CREATE TABLE IF NOT EXISTS rooms (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        topic TEXT,
        created INTEGER NOT NULL,
        -- The highest seq ever given out here, kept when pruning empties the room's
        -- events, so seq keeps rising across restarts.
        last_seq INTEGER NOT NULL DEFAULT 0,
        last_ts INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE IF NOT EXISTS events (
        room INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        ts INTEGER NOT NULL,
        kind TEXT NOT NULL,
        from_id TEXT NOT NULL,
        from_name TEXT NOT NULL,
        text TEXT,
        PRIMARY KEY (room, seq)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
    -- Who is in each room as far as the stored events say: joined, not left.
    CREATE TABLE IF NOT EXISTS present (
        room INTEGER NOT NULL,
        id TEXT NOT NULL,
        name TEXT NOT NULL,
        joined INTEGER NOT NULL,
        PRIMARY KEY (room, id)
    );
    INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', 2);";

/// Creates the tables, migrating an older database: schema 1 to 2, 2 to 3, 3 to 4, 4 to 5
/// (notification levels), 5 to 6 (the search index).
pub(super) fn prepare(conn: &mut Connection, default_room: &str) -> rusqlite::Result<()> {
    let has_events = table_has(conn, "events", "seq")?;
    if has_events && !table_has(conn, "events", "room")? {
        migrate_from_v1(conn, default_room)?;
    }
    conn.execute_batch(SCHEMA_V2)?;
    if schema_version(conn)? < 3 {
        migrate_to_v3(conn)?;
    }
    if schema_version(conn)? < 4 {
        migrate_to_v4(conn)?;
    }
    if schema_version(conn)? < 5 {
        migrate_to_v5(conn)?;
    }
    if schema_version(conn)? < LATEST {
        migrate_to_v6(conn)?;
    }
    Ok(())
}

/// The `schema` the database says it has.
pub(super) fn schema_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT value FROM meta WHERE key = 'schema'", [], |row| {
        row.get(0)
    })
}

/// Adds the identity tables and says so, in one transaction: a migration cut short leaves
/// schema 2.
fn migrate_to_v3(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    tx.execute_batch(identities::TABLES)?;
    tx.execute("UPDATE meta SET value = 3 WHERE key = 'schema'", [])?;
    tx.commit()
}

/// Adds the moderation columns and tables and says so, in one transaction: a migration
/// cut short leaves schema 3.
fn migrate_to_v4(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    tx.execute_batch(
        "ALTER TABLE events ADD COLUMN target_id TEXT;
         ALTER TABLE events ADD COLUMN target_name TEXT;
         ALTER TABLE events ADD COLUMN until INTEGER;
         ALTER TABLE events ADD COLUMN target_seq INTEGER;",
    )?;
    tx.execute_batch(policies::TABLES)?;
    tx.execute("UPDATE meta SET value = 4 WHERE key = 'schema'", [])?;
    tx.commit()
}

/// Adds the notification levels' table and says so, in one transaction: a migration cut
/// short leaves schema 4.
fn migrate_to_v5(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    tx.execute_batch(super::notify::TABLES)?;
    tx.execute("UPDATE meta SET value = 5 WHERE key = 'schema'", [])?;
    tx.commit()
}

/// Adds the search index and its triggers, and indexes the history already stored, in one
/// transaction: a migration cut short leaves schema 5.
fn migrate_to_v6(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    tx.execute_batch(search::TABLES)?;
    let indexed = tx.execute(search::FILL, [])?;
    if indexed > 0 {
        tracing::info!(indexed, "indexed stored messages for search");
    }
    tx.execute("UPDATE meta SET value = 6 WHERE key = 'schema'", [])?;
    tx.commit()
}

/// Every room the database knows.
pub(super) fn read_rooms(conn: &Connection) -> rusqlite::Result<Vec<RoomRecord>> {
    let mut statement =
        conn.prepare("SELECT name, topic, created, last_seq, last_ts FROM rooms ORDER BY name")?;
    let rows = statement.query_map([], |row| {
        Ok(RoomRecord {
            name: row.get(0)?,
            topic: row.get(1)?,
            created: row.get::<_, i64>(2)? as u64,
            last_seq: row.get::<_, i64>(3)? as u64,
            last_active: row.get::<_, i64>(4)? as u64,
        })
    })?;
    rows.collect()
}

fn table_has(conn: &Connection, table: &str, column: &str) -> rusqlite::Result<bool> {
    let found: Option<i64> = conn
        .query_row(
            "SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2",
            params![table, column],
            |row| row.get(0),
        )
        .optional()?;
    Ok(found.is_some())
}

/// Moves a single-room database's history, seq high water mark and presence into
/// `default_room`, all in one transaction: a migration cut short leaves the old layout.
fn migrate_from_v1(conn: &mut Connection, default_room: &str) -> rusqlite::Result<()> {
    tracing::info!(room = default_room, "migrating a single-room database");
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
         CREATE TABLE IF NOT EXISTS present (id TEXT PRIMARY KEY, name TEXT NOT NULL);",
    )?;
    fill_present_v1_once(conn)?;
    let tx = conn.transaction()?;
    let now = unix_ms() as i64;
    tx.execute_batch(
        "CREATE TABLE rooms (
             id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, topic TEXT,
             created INTEGER NOT NULL, last_seq INTEGER NOT NULL DEFAULT 0,
             last_ts INTEGER NOT NULL DEFAULT 0);",
    )?;
    tx.execute(
        "INSERT INTO rooms (id, name, created, last_seq, last_ts) VALUES (
             1, ?1,
             COALESCE((SELECT MIN(ts) FROM events), ?2),
             MAX(COALESCE((SELECT value FROM meta WHERE key = 'last_seq'), 0),
                 COALESCE((SELECT MAX(seq) FROM events), 0)),
             COALESCE((SELECT MAX(ts) FROM events), ?2))",
        params![default_room, now],
    )?;
    tx.execute_batch(
        "ALTER TABLE events RENAME TO events_v1;
         ALTER TABLE present RENAME TO present_v1;",
    )?;
    tx.execute_batch(SCHEMA_V2)?;
    tx.execute_batch(
        "INSERT INTO events (room, seq, ts, kind, from_id, from_name, text)
             SELECT 1, seq, ts, kind, from_id, from_name, text FROM events_v1;
         INSERT INTO present (room, id, name, joined)
             SELECT 1, id, name, rowid FROM present_v1;
         DROP TABLE events_v1;
         DROP TABLE present_v1;
         DELETE FROM meta WHERE key IN ('last_seq', 'present');",
    )?;
    tx.commit()
}
