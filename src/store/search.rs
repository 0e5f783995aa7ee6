//! The full-text index of stored messages (SQLite FTS5), and searching it.
//!
//! `search` holds the text and the sender's name of every message and `/me` action, its
//! rowid the event's `(room, seq)` packed into one integer, `room << 40 | seq` (room for
//! 2^40 seqs in each of 2^23 rooms). Triggers on
//! `events` keep it in step with whatever changes a row, in the transaction that changes
//! it: an insert adds the line, a moderator's delete (the row becomes kind `deleted`, its
//! text NULL) and a delete of the row (retention, `admin delete-room`) take it out. The
//! index's own `secure-delete` is on, so what is taken out leaves the index's pages too,
//! not just its answers.
//!
//! A user's query never reaches FTS5 as written: every term becomes a quoted string
//! (quotes doubled), joined with `AND`, so no FTS5 syntax can be injected.

use rusqlite::types::Value;

use super::{History, StoreError, lock, read_row};
use crate::domain::{Found, SearchPage, SearchQuery, SearchTerm};

/// The index and the triggers that keep it, as schema 6 adds them (see `schema`).
pub(super) const TABLES: &str = "
    CREATE VIRTUAL TABLE search USING fts5(
        text, name, tokenize = 'unicode61 remove_diacritics 2');
    INSERT INTO search (search, rank) VALUES ('secure-delete', 1);
    CREATE TRIGGER search_insert AFTER INSERT ON events
        WHEN NEW.kind IN ('message', 'action') AND NEW.text IS NOT NULL
    BEGIN
        INSERT INTO search (rowid, text, name)
            VALUES ((NEW.room << 40) | NEW.seq, NEW.text, NEW.from_name);
    END;
    CREATE TRIGGER search_update AFTER UPDATE OF kind, text ON events
        WHEN OLD.kind IN ('message', 'action')
    BEGIN
        DELETE FROM search WHERE rowid = (OLD.room << 40) | OLD.seq;
        INSERT INTO search (rowid, text, name)
            SELECT (NEW.room << 40) | NEW.seq, NEW.text, NEW.from_name
            WHERE NEW.kind IN ('message', 'action') AND NEW.text IS NOT NULL;
    END;
    CREATE TRIGGER search_delete AFTER DELETE ON events
        WHEN OLD.kind IN ('message', 'action')
    BEGIN
        DELETE FROM search WHERE rowid = (OLD.room << 40) | OLD.seq;
    END;";

/// Indexes the messages and actions already stored, when an older database gains the index.
pub(super) const FILL: &str = "
    INSERT INTO search (rowid, text, name)
        SELECT (room << 40) | seq, text, from_name FROM events
        WHERE kind IN ('message', 'action') AND text IS NOT NULL;";

/// The FTS5 expression for a query: each term a quoted string in its column, all ANDed.
pub(super) fn fts_expression(query: &SearchQuery) -> String {
    let quoted = |text: &str| format!("\"{}\"", text.replace('"', "\"\""));
    query
        .terms
        .iter()
        .map(|term| match term {
            SearchTerm::Text(text) => format!("text : {}", quoted(text)),
            SearchTerm::From(name) => format!("name : {}", quoted(name)),
        })
        .collect::<Vec<_>>()
        .join(" AND ")
}

impl History {
    /// The messages and actions of `rooms` that match `query`, newest first, a page at a
    /// time. A `from:` term matches the whole name (ASCII case ignored), not a word of it.
    ///
    /// Each room is searched on its own, newest first by rowid (its seq), so the index hands
    /// over matches in that order and the query stops after the page: no sort of every
    /// match. The rooms' pages are then merged by time.
    pub fn search(
        &self,
        rooms: &[String],
        query: &SearchQuery,
        page: SearchPage,
    ) -> Result<Found, StoreError> {
        let wanted = page.offset + page.limit + 1;
        let mut values: Vec<Value> = vec![
            Value::Text(fts_expression(query)),
            Value::Null,
            Value::Integer(wanted as i64),
        ];
        // First where the matches are, and when: a few bytes each, however long the
        // lines; only the page's lines are read whole, after the merge.
        let mut sql = String::from(
            "SELECT s.rowid, e.ts
             FROM search s
             JOIN events e ON e.room = (s.rowid >> 40) AND e.seq = (s.rowid & 1099511627775)
             WHERE search MATCH ?1
                 AND s.rowid >= (SELECT id FROM rooms WHERE name = ?2) << 40
                 AND s.rowid <= ((SELECT id FROM rooms WHERE name = ?2) << 40) | 1099511627775",
        );
        for term in &query.terms {
            if let SearchTerm::From(name) = term {
                values.push(Value::Text(name.clone()));
                sql.push_str(&format!(
                    " AND e.from_name = ?{} COLLATE NOCASE",
                    values.len()
                ));
            }
        }
        sql.push_str(" ORDER BY s.rowid DESC LIMIT ?3");
        let conn = lock(&self.conn);
        let mut statement = conn.prepare_cached(&sql)?;
        // (ts, room, rowid) of each match, every room's newest `wanted`.
        let mut found: Vec<(i64, &String, i64)> = Vec::new();
        for room in rooms {
            values[1] = Value::Text(room.clone());
            let rows = statement.query_map(rusqlite::params_from_iter(values.iter()), |row| {
                Ok((row.get::<_, i64>(1)?, row.get::<_, i64>(0)?))
            })?;
            for row in rows {
                let (ts, rowid) = row?;
                found.push((ts, room, rowid));
            }
        }
        drop(statement);
        found.sort_by(|a, b| (b.0, b.1, b.2).cmp(&(a.0, a.1, a.2)));
        let more = found.len() > page.offset + page.limit;
        let mut line = conn.prepare_cached(
            "SELECT seq, ts, kind, from_id, from_name, text,
                 target_id, target_name, until, target_seq
             FROM events WHERE room = (?1 >> 40) AND seq = (?1 & 1099511627775)",
        )?;
        let mut events = Vec::with_capacity(page.limit);
        for (_, room, rowid) in found.into_iter().skip(page.offset).take(page.limit) {
            events.push(line.query_row([rowid], read_row)?.into_event(room)?);
        }
        Ok(Found { events, more })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_term_is_quoted_so_nothing_is_fts5_syntax() {
        let query = SearchQuery::parse(r#"a"b OR NEAR(x) from:"c*" ^d"#).unwrap();
        assert_eq!(
            fts_expression(&query),
            r#"text : "a""b" AND text : "OR" AND text : "NEAR(x)" AND name : "c*" AND text : "^d""#
        );
    }
}
