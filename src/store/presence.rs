//! Who is in each room as far as stored events say (joined, not left), kept in the
//! `present` table in the same transactions as the events, so that after a crash the rooms
//! can record the leaves of those who were there.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};

use crate::domain::{Event, EventKind, MemberInfo};

/// Keeps `present` in step with a stored event of room `room` (its id).
pub(super) fn track_presence(conn: &Connection, room: i64, event: &Event) -> rusqlite::Result<()> {
    let id = event.from.id.to_string();
    let name = &event.from.name;
    match event.kind {
        EventKind::Join => conn
            .prepare_cached(
                "INSERT OR REPLACE INTO present (room, id, name, joined) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![room, id, name, event.seq as i64])?,
        EventKind::Nick => conn
            .prepare_cached("UPDATE present SET name = ?3 WHERE room = ?1 AND id = ?2")?
            .execute(params![room, id, name])?,
        EventKind::Leave => conn
            .prepare_cached("DELETE FROM present WHERE room = ?1 AND id = ?2")?
            .execute(params![room, id])?,
        // Put out of the room: gone as if it had left.
        EventKind::Kick | EventKind::Ban | EventKind::Gban => match &event.target {
            Some(target) => conn
                .prepare_cached("DELETE FROM present WHERE room = ?1 AND id = ?2")?
                .execute(params![room, target.id.to_string()])?,
            None => 0,
        },
        EventKind::Message
        | EventKind::Action
        | EventKind::System
        | EventKind::Topic
        | EventKind::Read
        | EventKind::Unban
        | EventKind::Mute
        | EventKind::Unmute
        | EventKind::Role
        | EventKind::Mode
        | EventKind::Invite
        | EventKind::Delete
        | EventKind::Deleted
        | EventKind::Away
        | EventKind::Ignore
        | EventKind::Invited
        | EventKind::Presence
        | EventKind::Notify => 0,
    };
    Ok(())
}

/// A single-room database from before `present` existed gets it filled from its events,
/// once, before it is migrated.
pub(super) fn fill_present_v1_once(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    let filled: Option<i64> = tx
        .query_row("SELECT value FROM meta WHERE key = 'present'", [], |row| {
            row.get(0)
        })
        .optional()?;
    if filled.is_none() {
        let mut present: HashMap<String, (i64, String)> = HashMap::new();
        {
            let mut statement = tx.prepare(
                "SELECT seq, kind, from_id, from_name FROM events
                 WHERE kind IN ('join', 'nick', 'leave') ORDER BY seq",
            )?;
            let mut rows = statement.query([])?;
            while let Some(row) = rows.next()? {
                let (seq, kind, id, name): (i64, String, String, String) =
                    (row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?);
                match kind.as_str() {
                    "join" => {
                        present.insert(id, (seq, name));
                    }
                    "nick" => {
                        if let Some(member) = present.get_mut(&id) {
                            member.1 = name;
                        }
                    }
                    _ => {
                        present.remove(&id);
                    }
                }
            }
        }
        let mut members: Vec<_> = present.into_iter().collect();
        members.sort_by_key(|(_, (seq, _))| *seq);
        for (id, (_, name)) in members {
            tx.execute(
                "INSERT OR REPLACE INTO present (id, name) VALUES (?1, ?2)",
                params![id, name],
            )?;
        }
        tx.execute("INSERT INTO meta (key, value) VALUES ('present', 1)", [])?;
    }
    tx.commit()
}

/// Who each room still had, in the order they joined.
pub(super) fn read_present(conn: &Connection) -> rusqlite::Result<Vec<(String, MemberInfo)>> {
    let mut statement = conn.prepare(
        "SELECT r.name, p.id, p.name FROM present p JOIN rooms r ON r.id = p.room
         ORDER BY r.name, p.joined",
    )?;
    let rows = statement.query_map([], |row| {
        Ok((
            row.get::<_, String>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, String>(2)?,
        ))
    })?;
    let mut members = Vec::new();
    for row in rows {
        let (room, id, name) = row?;
        match id.parse() {
            Ok(id) => members.push((room, MemberInfo::new(id, name))),
            Err(err) => tracing::warn!(%err, %id, "unreadable member in `present`; skipped"),
        }
    }
    Ok(members)
}
