//! The store's notification levels: kept per identity and room across a restart as the
//! memory log keeps them, and the schema 5 migration that adds their table.
use super::identities::{in_memory_after, known, reopened_after, schema_of, store_records};
use super::*;
use crate::domain::{NotifyLevel, Record};
use crate::store::schema::LATEST;

fn level(key: &str, room: &str, level: NotifyLevel) -> Record {
    Record::Notify {
        key: key.into(),
        room: room.into(),
        level,
    }
}

#[test]
fn levels_are_kept_per_identity_and_room_across_a_restart() {
    let records = [
        known("ka", "alice", 1),
        known("kb", "bob", 1),
        level("ka", "#general", NotifyLevel::All),
        level("ka", "#rust", NotifyLevel::Off),
        level("kb", "#general", NotifyLevel::Off),
        // A later level replaces the one before.
        level("ka", "#rust", NotifyLevel::Mentions),
        // Of no identity: ignored, as a marker would be.
        level("kz", "#general", NotifyLevel::All),
    ];
    let recovered = reopened_after(&records);
    let of = |key: &str| {
        recovered
            .identities
            .iter()
            .find(|i| i.record.key == key)
            .map(|i| i.notify.clone())
            .unwrap()
    };
    assert_eq!(
        of("ka").into_iter().collect::<Vec<_>>(),
        [
            ("#general".to_owned(), NotifyLevel::All),
            ("#rust".to_owned(), NotifyLevel::Mentions)
        ]
    );
    assert_eq!(
        of("kb").into_iter().collect::<Vec<_>>(),
        [("#general".to_owned(), NotifyLevel::Off)]
    );
    assert_eq!(recovered.identities.len(), 2);
    assert_eq!(
        recovered.identities,
        in_memory_after(&records).identities,
        "as the memory log keeps them"
    );
}

/// A database as schema 4 left it: schema 3's tables and the moderation ones.
fn write_schema_4_database(path: &std::path::Path) {
    super::moderation::write_schema_3_database(path);
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(
        "ALTER TABLE events ADD COLUMN target_id TEXT;
         ALTER TABLE events ADD COLUMN target_name TEXT;
         ALTER TABLE events ADD COLUMN until INTEGER;
         ALTER TABLE events ADD COLUMN target_seq INTEGER;",
    )
    .unwrap();
    conn.execute_batch(super::super::policies::TABLES).unwrap();
    conn.execute("UPDATE meta SET value = 4 WHERE key = 'schema'", [])
        .unwrap();
}

#[test]
fn a_schema_4_database_gains_notify_levels_and_keeps_its_identities() {
    let (path, _cleanup) = temp_db();
    write_schema_4_database(&path);
    let location = DbLocation::File(path.clone());
    let store = Store::open(&location).unwrap();
    let recovered = store.recovered();
    assert_eq!(recovered.identities.len(), 1);
    assert_eq!(recovered.identities[0].markers["#general"], 2);
    assert!(recovered.identities[0].notify.is_empty());
    assert_eq!(schema_of(&path), LATEST);

    let (writer, progress) = started(store, Retention::default());
    store_records(
        &*writer,
        &progress,
        &[level("ka", "#general", NotifyLevel::Off)],
    );
    assert!(writer.close(WAIT));
    let recovered = Store::open(&location).unwrap().recovered();
    assert_eq!(
        recovered.identities[0].notify.get("#general"),
        Some(&NotifyLevel::Off)
    );
    assert_eq!(schema_of(&path), LATEST, "migrated once");
}

#[test]
fn an_unknown_stored_level_fails_the_opening() {
    let (path, _cleanup) = temp_db();
    let location = DbLocation::File(path.clone());
    let (writer, progress) = started(Store::open(&location).unwrap(), Retention::default());
    store_records(&*writer, &progress, &[known("ka", "alice", 1)]);
    assert!(writer.close(WAIT));
    Connection::open(&path)
        .unwrap()
        .execute(
            "INSERT INTO notify_levels VALUES ('ka', '#general', 'loud')",
            [],
        )
        .unwrap();
    assert!(Store::open(&location).is_err(), "not silently a default");
}
