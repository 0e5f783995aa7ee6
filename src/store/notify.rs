//! Notification levels on disk: each identity's `/notify` level per room, stored by the
//! writer with the other records and read back into the identities when the store opens.
//! Like markers, a level of a key with no identity is ignored, and retention never prunes
//! them.

use rusqlite::{Connection, params};

use crate::domain::{IdentityState, NotifyLevel, Record};

/// The table schema 5 adds.
pub(super) const TABLES: &str = "
    CREATE TABLE IF NOT EXISTS notify_levels (
        key TEXT NOT NULL,
        room TEXT NOT NULL,
        level TEXT NOT NULL,
        PRIMARY KEY (key, room)
    );";

/// Stores a level in place of the one before, inside the writer's transaction.
pub(super) fn apply(conn: &Connection, record: &Record) -> rusqlite::Result<()> {
    if let Record::Notify { key, room, level } = record {
        conn.prepare_cached(
            // The WHERE also keeps SQLite from reading ON CONFLICT as a join's.
            "INSERT INTO notify_levels (key, room, level)
             SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM identities WHERE key = ?1)
             ON CONFLICT (key, room) DO UPDATE SET level = excluded.level",
        )?
        .execute(params![key, room, level.as_str()])?;
    }
    Ok(())
}

/// Puts each identity's stored levels into it. A level this build does not know fails the
/// opening rather than turning silently into another.
pub(super) fn fill_levels(
    conn: &Connection,
    identities: &mut [IdentityState],
) -> rusqlite::Result<()> {
    let at: std::collections::HashMap<String, usize> = identities
        .iter()
        .enumerate()
        .map(|(at, state)| (state.record.key.clone(), at))
        .collect();
    let mut statement = conn.prepare("SELECT key, room, level FROM notify_levels")?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let key: String = row.get(0)?;
        let level: String = row.get(2)?;
        let level: NotifyLevel = level.parse().map_err(|err: crate::domain::RoomError| {
            rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, err.into())
        })?;
        if let Some(&at) = at.get(&key) {
            identities[at].notify.insert(row.get(1)?, level);
        }
    }
    Ok(())
}
