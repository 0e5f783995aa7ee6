//! Unit tests of the SQLite store.
use std::sync::mpsc;

use super::writer::prune_chunk;
use super::*;
use crate::domain::{EventKind, Progress, Stamped};
use uuid::Uuid;

mod admin;
mod identities;
mod moderation;
mod notify;
mod search;

fn event(seq: u64, ts: u64) -> Arc<Stamped> {
    Arc::new(Stamped::new(
        Event {
            room: "#general".into(),
            seq,
            ts,
            kind: EventKind::Message,
            from: MemberInfo::new(Uuid::from_u128(7), "alice".into()),
            text: Some(format!("m{seq}")),
            ..Default::default()
        },
        None,
    ))
}

/// Appends events and waits until the writer says they are on disk.
fn store_events(
    writer: &dyn Appender,
    progress: &mpsc::Receiver<Progress>,
    seqs: impl Iterator<Item = u64>,
) {
    let mut last = 0;
    for seq in seqs {
        writer.append(seq, event(seq, seq));
        last = seq;
    }
    loop {
        match next_progress(progress) {
            Progress::Stored(seq) if seq >= last => return,
            Progress::Stored(_) => {}
            dropped => panic!("expected the events stored, got {dropped:?}"),
        }
    }
}

const WAIT: Duration = Duration::from_secs(10);

fn started(store: Store, retention: Retention) -> (Box<dyn Appender>, mpsc::Receiver<Progress>) {
    started_with_timeout(store, retention, WAIT)
}

fn started_with_timeout(
    store: Store,
    retention: Retention,
    timeout: Duration,
) -> (Box<dyn Appender>, mpsc::Receiver<Progress>) {
    let (tx, rx) = mpsc::channel();
    let writer = store.with_retention(retention).start(
        timeout,
        Box::new(move |progress| {
            let _ = tx.send(progress);
        }),
    );
    (writer, rx)
}

fn next_progress(progress: &mpsc::Receiver<Progress>) -> Progress {
    progress
        .recv_timeout(WAIT)
        .expect("writer reports progress")
}

fn temp_db() -> (PathBuf, impl Drop) {
    struct Cleanup(PathBuf);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let dir = std::env::temp_dir().join(format!("chatroom-store-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    (dir.join("chat.db"), Cleanup(dir))
}

#[test]
fn events_come_back_in_pages() {
    let store = Store::open(&DbLocation::Memory).unwrap();
    let history = store.history();
    let (writer, durable) = started(store, Retention::default());
    store_events(&*writer, &durable, 1..=10);

    let seqs = |events: Vec<Event>| events.iter().map(|e| e.seq).collect::<Vec<_>>();
    assert_eq!(seqs(history.before("#general", 6, 3).unwrap()), [3, 4, 5]);
    assert_eq!(seqs(history.after("#general", 6, 3).unwrap()), [7, 8, 9]);
    assert_eq!(seqs(history.latest("#general", 2).unwrap()), [9, 10]);
    assert_eq!(
        seqs(history.after("#general", 10, 5).unwrap()),
        Vec::<u64>::new()
    );
    let first = &history.after("#general", 0, 1).unwrap()[0];
    assert_eq!(*first, event(1, 1).event);
}

#[test]
fn a_reopened_file_continues_where_it_left_off() {
    let (path, _cleanup) = temp_db();
    let location = DbLocation::File(path);
    {
        let store = Store::open(&location).unwrap();
        assert_eq!(store.last_seq("#general"), 0);
        let (writer, durable) = started(store, Retention::default());
        store_events(&*writer, &durable, 1..=5);
        writer.close(WAIT);
    }
    let store = Store::open(&location).unwrap();
    assert_eq!(store.last_seq("#general"), 5);
    assert_eq!(store.history().latest("#general", 10).unwrap().len(), 5);
}

#[test]
fn pruning_keeps_the_newest_and_the_seq_high_water_mark() {
    let (path, _cleanup) = temp_db();
    let location = DbLocation::File(path);
    let store = Store::open(&location).unwrap();
    let history = store.history();
    let conn = Connection::open(match &location {
        DbLocation::File(p) => p,
        DbLocation::Memory => unreachable!(),
    })
    .unwrap();
    let (writer, durable) = started(store, Retention::default());
    store_events(&*writer, &durable, 1..=20);

    let retention = Retention {
        max_events: Some(5),
        max_age: None,
    };
    assert_eq!(prune_chunk(&conn, retention).unwrap(), 15);
    let kept: Vec<u64> = history
        .latest("#general", 100)
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(kept, [16, 17, 18, 19, 20]);

    // Everything older than a day goes (these events have ts = seq ms after the epoch).
    let by_age = Retention {
        max_events: None,
        max_age: Some(Duration::from_secs(86_400)),
    };
    assert_eq!(prune_chunk(&conn, by_age).unwrap(), 5);
    writer.close(WAIT);
    drop((history, conn));
    assert_eq!(
        Store::open(&location).unwrap().last_seq("#general"),
        20,
        "seq never goes back"
    );
}

#[test]
fn a_file_in_use_by_another_server_is_refused() {
    let (path, _cleanup) = temp_db();
    let location = DbLocation::File(path);
    let first = Store::open(&location).unwrap();
    assert!(matches!(
        Store::open(&location),
        Err(StoreError::InUse { .. })
    ));
    drop(first);
    assert!(Store::open(&location).is_ok(), "free again once closed");
}

#[test]
fn another_path_to_a_file_in_use_is_refused() {
    let (path, _cleanup) = temp_db();
    let dir = path.parent().unwrap().to_owned();
    let _first = Store::open(&DbLocation::File(path.clone())).unwrap();
    let file_link = dir.join("link.db");
    std::os::unix::fs::symlink(&path, &file_link).unwrap();
    let dir_link = dir.join("linked-dir");
    std::os::unix::fs::symlink(&dir, &dir_link).unwrap();
    for other in [
        file_link,
        dir_link.join("chat.db"),
        dir.join(".").join("chat.db"),
    ] {
        assert!(
            matches!(
                Store::open(&DbLocation::File(other.clone())),
                Err(StoreError::InUse { .. })
            ),
            "{} was let in",
            other.display()
        );
    }
}

#[test]
fn a_hard_linked_database_is_refused_under_either_name() {
    let (path, _cleanup) = temp_db();
    drop(Store::open(&DbLocation::File(path.clone())).unwrap());
    let other = path.parent().unwrap().join("hard.db");
    std::fs::hard_link(&path, &other).unwrap();
    for name in [&path, &other] {
        let err = Store::open(&DbLocation::File(name.clone()))
            .err()
            .expect("a hard-linked database is refused");
        assert!(
            matches!(err, StoreError::HardLinked { links: 2, .. }),
            "{err}"
        );
    }
}

#[test]
fn a_missing_directory_is_refused_not_created() {
    let (path, _cleanup) = temp_db();
    let missing = path.parent().unwrap().join("typo");
    let err = Store::open(&DbLocation::File(missing.join("chat.db")))
        .err()
        .expect("a missing directory is refused");
    assert!(matches!(err, StoreError::NoDirectory { .. }), "{err}");
    assert!(err.to_string().contains("typo"), "{err}");
    assert!(!missing.exists(), "nothing was created");
}

#[test]
fn events_not_stored_in_time_are_dropped_and_never_stored_later() {
    let store = Store::open(&DbLocation::Memory).unwrap();
    let history = store.history();
    let faults = store.write_faults();
    let (writer, progress) =
        started_with_timeout(store, Retention::default(), Duration::from_millis(50));
    store_events(&*writer, &progress, 1..=2);

    faults.set(true);
    writer.append(3, event(3, 3));
    writer.append(4, event(4, 4));
    assert_eq!(next_progress(&progress), Progress::Dropped { from: 3 });
    // Handed over before the room answers: numbered after what was dropped, so dropped.
    writer.append(5, event(5, 5));
    faults.set(false);
    writer.resume();
    // The room numbers on from the last stored event.
    store_events(&*writer, &progress, 3..=3);
    writer.close(WAIT);

    let stored: Vec<u64> = history
        .latest("#general", 10)
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(stored, [1, 2, 3]);
}

fn member_event(seq: u64, kind: EventKind, id: u128, name: &str) -> Arc<Stamped> {
    Arc::new(Stamped::new(
        Event {
            room: "#general".into(),
            seq,
            ts: seq,
            kind,
            from: MemberInfo::new(Uuid::from_u128(id), name.into()),
            text: None,
            ..Default::default()
        },
        None,
    ))
}

#[test]
fn members_joined_and_not_left_are_remembered_across_a_restart() {
    let (path, _cleanup) = temp_db();
    let location = DbLocation::File(path.clone());
    let (writer, progress) = started(Store::open(&location).unwrap(), Retention::default());
    for event in [
        member_event(1, EventKind::Join, 1, "alice"),
        member_event(2, EventKind::Join, 2, "bob"),
        member_event(3, EventKind::Nick, 1, "al"),
        member_event(4, EventKind::Leave, 2, "bob"),
        member_event(5, EventKind::Join, 3, "carol"),
    ] {
        writer.append(event.seq, event);
    }
    while next_progress(&progress) != Progress::Stored(5) {}
    writer.close(WAIT);

    let names = |store: &Store| -> Vec<String> {
        store
            .left_behind()
            .iter()
            .map(|(_, m)| m.name.clone())
            .collect()
    };
    assert_eq!(names(&Store::open(&location).unwrap()), ["al", "carol"]);
}

/// A database as the single-room release wrote it: `events` keyed by seq alone, the seq
/// high water mark in `meta` (past the events: the newest were pruned), and, as the oldest
/// databases had, no `present` table.
fn write_single_room_database(path: &std::path::Path) {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(
        "CREATE TABLE events (seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL, kind TEXT NOT NULL,
             from_id TEXT NOT NULL, from_name TEXT NOT NULL, text TEXT);
         CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
         INSERT INTO meta (key, value) VALUES ('last_seq', 9);",
    )
    .unwrap();
    let alice = Uuid::from_u128(1).to_string();
    let bob = Uuid::from_u128(2).to_string();
    for (seq, kind, id, name, text) in [
        (4, "join", &alice, "alice", None),
        (5, "join", &bob, "bob", None),
        (6, "message", &alice, "alice", Some("hello")),
        (7, "leave", &bob, "bob", None),
    ] {
        conn.execute(
            "INSERT INTO events VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            rusqlite::params![seq, 1000 + seq, kind, id, name, text],
        )
        .unwrap();
    }
}

#[test]
fn a_single_room_database_becomes_the_default_rooms_history() {
    let (path, _cleanup) = temp_db();
    write_single_room_database(&path);
    let location = DbLocation::File(path);
    let store = Store::open_into(&location, "#lobby").unwrap();

    let events = store.history().latest("#lobby", 100).unwrap();
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [4, 5, 6, 7], "the same seqs");
    assert!(events.iter().all(|e| e.room == "#lobby"));
    assert_eq!(events[2].text.as_deref(), Some("hello"));
    assert_eq!(store.last_seq("#lobby"), 9, "the high water mark moves too");
    let recovered = store.recovered();
    assert_eq!(recovered.rooms.len(), 1);
    assert_eq!(recovered.rooms[0].created, 1004);
    // Who was present is worked out from the old events: alice never left.
    let left: Vec<(String, String)> = store
        .left_behind()
        .iter()
        .map(|(room, m)| (room.clone(), m.name.clone()))
        .collect();
    assert_eq!(left, [("#lobby".to_owned(), "alice".to_owned())]);

    // Migrated once: it opens again as it is, and carries on numbering from 10.
    let (writer, progress) = started(store, Retention::default());
    let mut next = event(10, 2000);
    Arc::get_mut(&mut next).unwrap().event.room = "#lobby".into();
    writer.append(1, next);
    while next_progress(&progress) != Progress::Stored(1) {}
    writer.close(WAIT);
    let store = Store::open_into(&location, "#other").unwrap();
    assert_eq!(store.last_seq("#lobby"), 10);
    assert_eq!(store.history().latest("#lobby", 100).unwrap().len(), 5);
    assert_eq!(store.last_seq("#other"), 0, "not migrated a second time");
}

#[test]
fn memory_stores_are_separate() {
    let a = Store::open(&DbLocation::Memory).unwrap();
    let history_a = a.history();
    let (writer, durable) = started(a, Retention::default());
    store_events(&*writer, &durable, 1..=3);
    let b = Store::open(&DbLocation::Memory).unwrap();
    assert_eq!(b.last_seq("#general"), 0);
    assert_eq!(b.history().latest("#general", 10).unwrap().len(), 0);
    assert_eq!(history_a.latest("#general", 10).unwrap().len(), 3);
}

#[test]
fn location_parsing() {
    assert_eq!(DbLocation::parse(":memory:"), DbLocation::Memory);
    assert_eq!(
        DbLocation::parse("/tmp/x.db"),
        DbLocation::File("/tmp/x.db".into())
    );
}

#[test]
fn a_database_of_the_last_single_room_release_keeps_who_was_present() {
    let (path, _cleanup) = temp_db();
    let conn = Connection::open(&path).unwrap();
    // d3c51b1's tables, verbatim, with who was present kept in `present`.
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS events (
             seq INTEGER PRIMARY KEY,
             ts INTEGER NOT NULL,
             kind TEXT NOT NULL,
             from_id TEXT NOT NULL,
             from_name TEXT NOT NULL,
             text TEXT
         );
         CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
         CREATE TABLE IF NOT EXISTS present (id TEXT PRIMARY KEY, name TEXT NOT NULL);
         INSERT INTO meta (key, value) VALUES ('present', 1), ('last_seq', 2);",
    )
    .unwrap();
    let carol = Uuid::from_u128(3).to_string();
    conn.execute(
        "INSERT INTO events VALUES (1, 1001, 'join', ?1, 'carol', NULL)",
        [&carol],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO events VALUES (2, 1002, 'nick', ?1, 'caro', NULL)",
        [&carol],
    )
    .unwrap();
    // The release kept `present` in step: carol, under her new name.
    conn.execute("INSERT INTO present VALUES (?1, 'caro')", [&carol])
        .unwrap();
    drop(conn);

    let store = Store::open(&DbLocation::File(path)).unwrap();
    let left: Vec<(String, String)> = store
        .left_behind()
        .iter()
        .map(|(room, m)| (room.clone(), m.name.clone()))
        .collect();
    assert_eq!(left, [("#general".to_owned(), "caro".to_owned())]);
    assert_eq!(store.last_seq("#general"), 2);
    let kinds: Vec<EventKind> = store
        .history()
        .latest("#general", 10)
        .unwrap()
        .iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, [EventKind::Join, EventKind::Nick]);
}
