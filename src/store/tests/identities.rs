//! The store's identity records: stored in order with the events, read back on opening as
//! [`MemoryLog`] would give them, never pruned, dropped like events; and the schema 3
//! migrations (the moderation tables', schema 4, in `moderation`).
use std::collections::BTreeMap;

use super::*;
use crate::domain::{IdentityRecord, IdentityState, MemoryLog, Record, server_identity};
use crate::store::schema::LATEST;

/// A key's identity, its id made from the key as a keyed id is (version 8).
fn identity(key: &str, name: &str, last_seen: u64) -> IdentityRecord {
    let mut bytes = [0u8; 16];
    bytes[..key.len().min(16)].copy_from_slice(&key.as_bytes()[..key.len().min(16)]);
    IdentityRecord {
        key: key.into(),
        id: uuid::Builder::from_custom_bytes(bytes).into_uuid(),
        name: Some(name.into()),
        since: 100,
        last_seen,
    }
}

pub(super) fn known(key: &str, name: &str, last_seen: u64) -> Record {
    Record::Identity(identity(key, name, last_seen))
}

fn member(key: &str, room: &str, member: bool) -> Record {
    Record::Membership {
        key: key.into(),
        room: room.into(),
        member,
    }
}

fn marker(key: &str, room: &str, seq: u64) -> Record {
    Record::Marker {
        key: key.into(),
        room: room.into(),
        seq,
    }
}

const DM: &str = "dm:alice+bob";

fn conversation() -> Record {
    Record::Conversation {
        room: DM.into(),
        keys: ["ka".into(), "kb".into()],
    }
}

/// Records the records at positions 1, 2, … and waits until the last is stored.
pub(super) fn store_records(
    writer: &dyn Appender,
    progress: &mpsc::Receiver<Progress>,
    records: &[Record],
) {
    for (at, record) in records.iter().enumerate() {
        writer.record(at as u64 + 1, record.clone());
    }
    wait_stored(progress, records.len() as u64);
}

pub(super) fn wait_stored(progress: &mpsc::Receiver<Progress>, position: u64) {
    loop {
        match next_progress(progress) {
            Progress::Stored(at) if at >= position => return,
            Progress::Stored(_) => {}
            dropped => panic!("expected everything stored, got {dropped:?}"),
        }
    }
}

/// Stores the records in a fresh file, closes it, and opens it again.
pub(super) fn reopened_after(records: &[Record]) -> Recovered {
    let (path, _cleanup) = temp_db();
    let location = DbLocation::File(path);
    let (writer, progress) = started(Store::open(&location).unwrap(), Retention::default());
    store_records(&*writer, &progress, records);
    assert!(writer.close(WAIT));
    Store::open(&location).unwrap().recovered()
}

/// What a [`MemoryLog`] makes of the same records: the behaviour the store must match.
pub(super) fn in_memory_after(records: &[Record]) -> Recovered {
    let log = MemoryLog::default();
    let (tx, progress) = mpsc::channel();
    let writer = log.start(
        WAIT,
        Box::new(move |p| {
            let _ = tx.send(p);
        }),
    );
    store_records(&*writer, &progress, records);
    assert!(writer.close(WAIT));
    log.recovered()
}

fn state(record: IdentityRecord, rooms: &[&str], markers: &[(&str, u64)]) -> IdentityState {
    IdentityState {
        record,
        rooms: rooms.iter().map(|r| (*r).to_owned()).collect(),
        markers: markers
            .iter()
            .map(|(room, seq)| ((*room).to_owned(), *seq))
            .collect::<BTreeMap<_, _>>(),
        ..Default::default()
    }
}

#[test]
fn every_kind_of_record_survives_a_restart_as_the_memory_log_keeps_it() {
    let mut renamed = identity("ka", "alice", 200);
    renamed.name = Some("ally".into());
    let mut released = identity("kb", "bob", 300);
    released.name = None;
    let records = [
        known("kb", "bob", 150),
        // Before its identity: ignored, as the memory log does.
        member("ka", "#early", true),
        marker("ka", "#early", 4),
        known("ka", "alice", 160),
        member("ka", "#general", true),
        member("ka", DM, true),
        member("kb", DM, true),
        member("ka", "#general", true),
        marker("ka", "#general", 5),
        marker("ka", DM, 2),
        conversation(),
        // A new record for a known key keeps its rooms and markers.
        Record::Identity(renamed.clone()),
        Record::Identity(released.clone()),
    ];
    let recovered = reopened_after(&records);
    assert_eq!(
        recovered.identities,
        [
            state(renamed, &["#general", DM], &[("#general", 5), (DM, 2)]),
            state(released, &[DM], &[]),
        ]
    );
    assert_eq!(
        recovered.conversations,
        [(DM.to_owned(), ["ka".to_owned(), "kb".to_owned()])]
    );
    let memory = in_memory_after(&records);
    assert_eq!(recovered.identities, memory.identities);
    assert_eq!(recovered.conversations, memory.conversations);
}

#[test]
fn a_marker_never_moves_back() {
    let records = [
        known("ka", "alice", 1),
        marker("ka", "#general", 7),
        marker("ka", "#general", 3),
        marker("ka", "#other", 0),
    ];
    let recovered = reopened_after(&records);
    assert_eq!(
        recovered.identities[0].markers,
        BTreeMap::from([("#general".to_owned(), 7), ("#other".to_owned(), 0)])
    );
    assert_eq!(recovered.identities, in_memory_after(&records).identities);
}

#[test]
fn a_marker_never_moves_back_across_batches_and_restarts() {
    let (path, _cleanup) = temp_db();
    let location = DbLocation::File(path);
    let (writer, progress) = started(Store::open(&location).unwrap(), Retention::default());
    store_records(
        &*writer,
        &progress,
        &[known("ka", "alice", 1), marker("ka", "#general", 7)],
    );
    writer.close(WAIT);
    let (writer, progress) = started(Store::open(&location).unwrap(), Retention::default());
    writer.record(3, marker("ka", "#general", 6));
    wait_stored(&progress, 3);
    writer.close(WAIT);
    let recovered = Store::open(&location).unwrap().recovered();
    assert_eq!(recovered.identities[0].markers["#general"], 7);
}

#[test]
fn a_membership_ends_when_the_identity_parts() {
    let records = [
        known("ka", "alice", 1),
        member("ka", "#general", true),
        member("ka", "#rust", true),
        member("ka", "#general", false),
        // Parting a room it is not in changes nothing.
        member("ka", "#never", false),
    ];
    let recovered = reopened_after(&records);
    assert_eq!(recovered.identities[0].rooms, ["#rust"]);
    assert_eq!(recovered.identities, in_memory_after(&records).identities);
}

#[test]
fn events_and_records_interleaved_are_all_stored_and_the_highest_reported() {
    let (path, _cleanup) = temp_db();
    let location = DbLocation::File(path);
    let (writer, progress) = started(Store::open(&location).unwrap(), Retention::default());
    writer.record(1, known("ka", "alice", 1));
    // Positions 2..=41: an event, then a marker at its seq, in turn; the last is a record.
    for seq in 1..=20 {
        writer.append(2 * seq, event(seq, seq));
        writer.record(2 * seq + 1, marker("ka", "#general", seq));
    }
    // Progress may come in several steps; it must reach the last record's position.
    wait_stored(&progress, 41);
    writer.close(WAIT);

    let store = Store::open(&location).unwrap();
    assert_eq!(store.history().latest("#general", 100).unwrap().len(), 20);
    assert_eq!(store.last_seq("#general"), 20);
    assert_eq!(store.recovered().identities[0].markers["#general"], 20);
}

#[test]
fn the_last_position_reported_is_a_records_when_a_record_comes_last() {
    let store = Store::open(&DbLocation::Memory).unwrap();
    let (writer, progress) = started(store, Retention::default());
    writer.append(1, event(1, 1));
    writer.record(2, known("ka", "alice", 1));
    let mut last = 0;
    while last < 2 {
        match next_progress(&progress) {
            Progress::Stored(at) => {
                assert!(at > last, "progress only moves forward");
                last = at;
            }
            dropped => panic!("expected everything stored, got {dropped:?}"),
        }
    }
    assert_eq!(last, 2);
}

#[test]
fn a_record_dropped_under_write_faults_is_never_stored_later() {
    let (path, _cleanup) = temp_db();
    let location = DbLocation::File(path);
    let store = Store::open(&location).unwrap();
    let faults = store.write_faults();
    let (writer, progress) =
        started_with_timeout(store, Retention::default(), Duration::from_millis(50));
    store_records(&*writer, &progress, &[known("ka", "alice", 1)]);

    faults.set(true);
    writer.record(2, member("ka", "#lost", true));
    writer.append(3, event(1, 1));
    assert_eq!(next_progress(&progress), Progress::Dropped { from: 2 });
    // Handed over before the room answers: after what was dropped, so dropped too.
    writer.record(4, marker("ka", "#general", 9));
    writer.record(5, known("kz", "zed", 1));
    faults.set(false);
    writer.resume();
    writer.record(2, member("ka", "#kept", true));
    wait_stored(&progress, 2);
    assert!(writer.close(WAIT));

    let store = Store::open(&location).unwrap();
    let recovered = store.recovered();
    assert_eq!(
        recovered.identities,
        [state(identity("ka", "alice", 1), &["#kept"], &[])]
    );
    assert!(store.history().latest("#general", 10).unwrap().is_empty());
}

#[test]
fn pruning_leaves_identities_memberships_markers_and_conversations_alone() {
    let (path, _cleanup) = temp_db();
    let location = DbLocation::File(path.clone());
    let (writer, progress) = started(Store::open(&location).unwrap(), Retention::default());
    let records = [
        known("ka", "alice", 1),
        member("ka", "#general", true),
        marker("ka", "#general", 3),
        conversation(),
    ];
    store_records(&*writer, &progress, &records);
    for seq in 1..=3 {
        writer.append(4 + seq, event(seq, seq));
    }
    wait_stored(&progress, 7);
    writer.close(WAIT);

    let conn = Connection::open(&path).unwrap();
    let everything = Retention {
        max_events: Some(0),
        max_age: Some(Duration::from_secs(1)),
    };
    assert_eq!(prune_chunk(&conn, everything).unwrap(), 3);
    drop(conn);

    let store = Store::open(&location).unwrap();
    assert!(store.history().latest("#general", 10).unwrap().is_empty());
    let recovered = store.recovered();
    assert_eq!(
        recovered.identities,
        [state(
            identity("ka", "alice", 1),
            &["#general"],
            &[("#general", 3)]
        )]
    );
    assert_eq!(recovered.conversations.len(), 1);
}

pub(super) fn schema_of(path: &std::path::Path) -> i64 {
    super::super::schema::schema_version(&Connection::open(path).unwrap()).unwrap()
}

/// Stores one record of each kind in an opened (migrated) database, and checks that they
/// come back after a restart.
fn identity_tables_work(location: &DbLocation) {
    let store = Store::open(location).unwrap();
    let (writer, progress) = started(store, Retention::default());
    let records = [
        known("ka", "alice", 1),
        member("ka", "#general", true),
        marker("ka", "#general", 2),
        conversation(),
    ];
    store_records(&*writer, &progress, &records);
    writer.close(WAIT);
    let recovered = Store::open(location).unwrap().recovered();
    assert_eq!(
        recovered.identities,
        [state(
            identity("ka", "alice", 1),
            &["#general"],
            &[("#general", 2)]
        )]
    );
    assert_eq!(recovered.conversations.len(), 1);
}

#[test]
fn a_schema_2_database_goes_through_schema_3_and_4_to_5_and_keeps_its_events() {
    let (path, _cleanup) = temp_db();
    let conn = Connection::open(&path).unwrap();
    // eb9bff1's tables, verbatim, as schema 2 made them.
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS rooms (
             id INTEGER PRIMARY KEY,
             name TEXT NOT NULL UNIQUE,
             topic TEXT,
             created INTEGER NOT NULL,
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
         CREATE TABLE IF NOT EXISTS present (
             room INTEGER NOT NULL,
             id TEXT NOT NULL,
             name TEXT NOT NULL,
             joined INTEGER NOT NULL,
             PRIMARY KEY (room, id)
         );
         INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', 2);
         INSERT INTO rooms (id, name, topic, created, last_seq, last_ts)
             VALUES (1, '#general', 'old times', 1001, 3, 1003);",
    )
    .unwrap();
    let alice = Uuid::from_u128(1).to_string();
    for (seq, kind, text) in [
        (1, "join", None),
        (2, "message", Some("hi")),
        (3, "leave", None),
    ] {
        conn.execute(
            "INSERT INTO events VALUES (1, ?1, ?2, ?3, ?4, 'alice', ?5)",
            rusqlite::params![seq, 1000 + seq, kind, alice, text],
        )
        .unwrap();
    }
    drop(conn);

    let location = DbLocation::File(path.clone());
    {
        let store = Store::open(&location).unwrap();
        let events = store.history().latest("#general", 10).unwrap();
        let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [1, 2, 3]);
        assert_eq!(events[1].text.as_deref(), Some("hi"));
        assert_eq!(store.last_seq("#general"), 3);
        assert_eq!(
            store.recovered().rooms[0].topic.as_deref(),
            Some("old times")
        );
        assert!(store.recovered().identities.is_empty());
    }
    assert_eq!(schema_of(&path), LATEST);
    identity_tables_work(&location);
    super::moderation::moderation_works(&location);
    assert_eq!(schema_of(&path), LATEST, "migrated once");
}

#[test]
fn a_schema_1_database_goes_through_schema_2_3_and_4_to_5() {
    let (path, _cleanup) = temp_db();
    write_single_room_database(&path);
    let location = DbLocation::File(path.clone());
    {
        let store = Store::open(&location).unwrap();
        let seqs: Vec<u64> = store
            .history()
            .latest("#general", 10)
            .unwrap()
            .iter()
            .map(|e| e.seq)
            .collect();
        assert_eq!(seqs, [4, 5, 6, 7]);
        assert_eq!(store.last_seq("#general"), 9);
    }
    assert_eq!(schema_of(&path), LATEST);
    identity_tables_work(&location);
    super::moderation::moderation_works(&location);
}

#[test]
fn a_new_database_has_the_latest_schema() {
    let (path, _cleanup) = temp_db();
    let location = DbLocation::File(path.clone());
    drop(Store::open(&location).unwrap());
    assert_eq!(schema_of(&path), LATEST);
    identity_tables_work(&location);
    super::moderation::moderation_works(&location);
}

#[test]
fn who_is_a_guest_follows_from_the_id_when_events_are_read_back() {
    let store = Store::open(&DbLocation::Memory).unwrap();
    let history = store.history();
    let (writer, progress) = started(store, Retention::default());
    let keyed = MemberInfo::new(identity("ka", "alice", 1).id, "alice".into());
    let guest = MemberInfo::new(Uuid::new_v4(), "gus".into());
    assert!(!keyed.guest && guest.guest);
    let members = [server_identity(), keyed, guest];
    for (seq, from) in (1..).zip(members.iter()) {
        let mut stamped = event(seq, seq);
        Arc::get_mut(&mut stamped).unwrap().event.from = from.clone();
        writer.append(seq, stamped);
    }
    wait_stored(&progress, 3);
    let read: Vec<MemberInfo> = history
        .latest("#general", 10)
        .unwrap()
        .into_iter()
        .map(|e| e.from)
        .collect();
    assert_eq!(
        read, members,
        "the server is no guest, a keyed member neither"
    );
}
