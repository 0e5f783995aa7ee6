//! The store's moderation: policies and ignore lists stored in order with the events and
//! read back as [`MemoryLog`] gives them, events' targets kept, deleted messages' text
//! gone from the rows and from the file, kicks and bans in presence, a corrupt policy
//! refused, and the migration from schema 3.
use std::collections::BTreeSet;
use std::net::IpAddr;

use super::identities::{known, schema_of, store_records, wait_stored};
use super::*;
use crate::domain::{Ban, MemoryLog, Modes, Record, RoomPolicy, ServerPolicy, Target};
use crate::store::schema::LATEST;

fn ban(target: Target, name: &str, until: Option<u64>) -> Ban {
    Ban {
        target,
        name: name.into(),
        fingerprint: Some("SHA256:abc".into()),
        until,
        reason: Some("spam".into()),
        by: "alice".into(),
        at: 5,
    }
}

fn policy() -> RoomPolicy {
    let (owner, op, banned) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
    let address: IpAddr = "192.0.2.7".parse().unwrap();
    RoomPolicy {
        owner: Some(owner),
        operators: BTreeSet::from([op]),
        modes: Modes::default().apply("+it").unwrap(),
        invited: BTreeSet::from([Uuid::from_u128(4)]),
        bans: vec![
            ban(Target::Identity(banned), "dave", None),
            ban(Target::Address(address), "192.0.2.7", Some(99)),
        ],
        mutes: vec![ban(Target::Identity(Uuid::from_u128(5)), "carol", Some(77))],
    }
}

fn moderation_records() -> Vec<Record> {
    let server = ServerPolicy {
        bans: vec![ban(Target::Identity(Uuid::from_u128(9)), "mallory", None)],
    };
    vec![
        known("ka", "alice", 1),
        known("kb", "bob", 2),
        Record::RoomPolicy {
            room: "#rust".into(),
            policy: RoomPolicy::default(),
        },
        // The whole policy replaces the one before.
        Record::RoomPolicy {
            room: "#rust".into(),
            policy: policy(),
        },
        Record::RoomPolicy {
            room: "#ops".into(),
            policy: RoomPolicy {
                modes: Modes::default().apply("+s").unwrap(),
                ..Default::default()
            },
        },
        Record::ServerPolicy(ServerPolicy::default()),
        Record::ServerPolicy(server),
        Record::Ignores {
            key: "ka".into(),
            ignored: vec![Uuid::from_u128(8)],
        },
        // The whole list replaces the one before, in its order.
        Record::Ignores {
            key: "ka".into(),
            ignored: vec![Uuid::from_u128(7), Uuid::from_u128(3)],
        },
        // No identity with that key: ignored, as the memory log does.
        Record::Ignores {
            key: "nobody".into(),
            ignored: vec![Uuid::from_u128(1)],
        },
        Record::Ignores {
            key: "kb".into(),
            ignored: vec![],
        },
    ]
}

fn in_memory_after(records: &[Record]) -> Recovered {
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

#[test]
fn policies_and_ignore_lists_survive_a_restart_as_the_memory_log_keeps_them() {
    let records = moderation_records();
    let (path, _cleanup) = temp_db();
    let location = DbLocation::File(path);
    let (writer, progress) = started(Store::open(&location).unwrap(), Retention::default());
    store_records(&*writer, &progress, &records);
    assert!(writer.close(WAIT));
    let recovered = Store::open(&location).unwrap().recovered();
    assert_eq!(
        recovered.policies,
        [
            (
                "#ops".to_owned(),
                RoomPolicy {
                    modes: Modes::default().apply("+s").unwrap(),
                    ..Default::default()
                }
            ),
            ("#rust".to_owned(), policy()),
        ]
    );
    assert_eq!(recovered.server_policy.bans[0].name, "mallory");
    assert_eq!(
        recovered.identities[0].ignored,
        [Uuid::from_u128(7), Uuid::from_u128(3)]
    );
    assert!(recovered.identities[1].ignored.is_empty());
    let memory = in_memory_after(&records);
    assert_eq!(recovered.policies, memory.policies);
    assert_eq!(recovered.server_policy, memory.server_policy);
    assert_eq!(recovered.identities, memory.identities);
}

/// A moderation event of `kind` in #general: `from` did it to `target`.
fn moderation(seq: u64, kind: EventKind, from: u128, target: (u128, &str)) -> Arc<Stamped> {
    Arc::new(Stamped::new(
        Event {
            room: "#general".into(),
            seq,
            ts: seq,
            kind,
            from: MemberInfo::new(Uuid::from_u128(from), format!("m{from}")),
            text: Some("why".into()),
            target: Some(MemberInfo::new(Uuid::from_u128(target.0), target.1.into())),
            until: Some(1_000 + seq),
            target_seq: None,
            presence: None,
        },
        None,
    ))
}

fn said(seq: u64, kind: EventKind, text: &str) -> Arc<Stamped> {
    let mut stamped = event(seq, seq);
    let event = &mut Arc::get_mut(&mut stamped).unwrap().event;
    event.kind = kind;
    event.text = Some(text.into());
    stamped
}

pub(super) fn delete(seq: u64, target_seq: u64) -> Arc<Stamped> {
    let mut stamped = moderation(seq, EventKind::Delete, 7, (7, "alice"));
    let event = &mut Arc::get_mut(&mut stamped).unwrap().event;
    event.text = None;
    event.until = None;
    event.target_seq = Some(target_seq);
    stamped
}

#[test]
fn an_events_target_until_and_target_seq_come_back() {
    let (path, _cleanup) = temp_db();
    let location = DbLocation::File(path);
    let (writer, progress) = started(Store::open(&location).unwrap(), Retention::default());
    let kick = moderation(1, EventKind::Kick, 1, (2, "bob"));
    let gone = delete(2, 1);
    writer.append(1, kick.clone());
    writer.append(2, gone.clone());
    wait_stored(&progress, 2);
    assert!(writer.close(WAIT));
    let events = Store::open(&location)
        .unwrap()
        .history()
        .latest("#general", 10)
        .unwrap();
    assert_eq!(events, [kick.event.clone(), gone.event.clone()]);
    assert_eq!(events[0].target.as_ref().unwrap().name, "bob");
    assert_eq!(events[0].until, Some(1_001));
    assert_eq!(events[1].target_seq, Some(1));
}

const SECRET: &str = "the launch code is 0000";
/// The end of a long message, in an overflow page of its own.
const TAIL: &str = "and the door code 1234";

#[test]
fn a_deleted_message_becomes_a_tombstone_and_its_text_leaves_the_file() {
    let (path, _cleanup) = temp_db();
    let location = DbLocation::File(path.clone());
    let store = Store::open(&location).unwrap();
    let history = store.history();
    let (writer, progress) = started(store, Retention::default());
    // Long enough to spill into an overflow page, as long messages do.
    let long_secret = format!("{SECRET} {} {TAIL}", "x".repeat(3000));
    writer.append(1, said(1, EventKind::Message, SECRET));
    writer.append(2, said(2, EventKind::Action, &long_secret));
    writer.append(3, said(3, EventKind::Message, "kept"));
    writer.append(4, said(4, EventKind::Topic, "a topic stays"));
    wait_stored(&progress, 4);
    writer.append(5, delete(5, 1));
    // In the same batch as the message it deletes, too.
    writer.append(6, said(6, EventKind::Message, "deleted at once"));
    writer.append(7, delete(7, 6));
    writer.append(8, delete(8, 2));
    // Not a message: nothing happens to it.
    writer.append(9, delete(9, 4));
    wait_stored(&progress, 9);

    for events in [
        history.latest("#general", 100).unwrap(),
        history.after("#general", 0, 100).unwrap(),
        history.before("#general", 100, 100).unwrap(),
    ] {
        let by_seq = |seq: u64| events.iter().find(|e| e.seq == seq).unwrap();
        for seq in [1, 2, 6] {
            assert_eq!(by_seq(seq).kind, EventKind::Deleted, "{seq}");
            assert_eq!(by_seq(seq).text, None, "{seq}");
            assert_eq!(by_seq(seq).from.name, "alice", "the author stays");
        }
        assert_eq!(by_seq(3).text.as_deref(), Some("kept"));
        assert_eq!(by_seq(4).kind, EventKind::Topic);
        assert_eq!(by_seq(4).text.as_deref(), Some("a topic stays"));
    }
    // Gone while the store is open too, as after a kill -9: nothing waits in the log.
    assert_text_gone(&path);
    assert!(writer.close(WAIT));
    drop(history);
    // Closed, its WAL checkpointed into the file and removed: no byte of the text is left
    // in free space either.
    assert_text_gone(&path);
}

/// No byte of the deleted texts is in the database file or its write-ahead log.
fn assert_text_gone(path: &std::path::Path) {
    let mut bytes = std::fs::read(path).unwrap();
    if let Ok(wal) = std::fs::read(path.with_extension("db-wal")) {
        bytes.extend(wal);
    }
    for gone in [SECRET, TAIL, "deleted at once"] {
        assert!(
            !bytes.windows(gone.len()).any(|w| w == gone.as_bytes()),
            "{gone:?} is still in the file"
        );
    }
    assert!(bytes.windows(4).any(|w| w == b"kept"), "the search works");
}

#[test]
fn a_member_kicked_or_banned_is_not_left_behind() {
    let (path, _cleanup) = temp_db();
    let location = DbLocation::File(path);
    let (writer, progress) = started(Store::open(&location).unwrap(), Retention::default());
    let join = |seq, id: u128, name: &str| {
        let mut stamped = event(seq, seq);
        let event = &mut Arc::get_mut(&mut stamped).unwrap().event;
        event.kind = EventKind::Join;
        event.from = MemberInfo::new(Uuid::from_u128(id), name.into());
        event.text = None;
        stamped
    };
    writer.append(1, join(1, 1, "op"));
    writer.append(2, join(2, 2, "kicked"));
    writer.append(3, join(3, 3, "banned"));
    writer.append(4, join(4, 4, "gbanned"));
    writer.append(5, join(5, 5, "muted"));
    writer.append(6, moderation(6, EventKind::Kick, 1, (2, "kicked")));
    writer.append(7, moderation(7, EventKind::Ban, 1, (3, "banned")));
    writer.append(8, moderation(8, EventKind::Gban, 1, (4, "gbanned")));
    writer.append(9, moderation(9, EventKind::Mute, 1, (5, "muted")));
    wait_stored(&progress, 9);
    // As after a crash: nobody's leave is stored.
    assert!(writer.close(WAIT));
    let left: Vec<String> = Store::open(&location)
        .unwrap()
        .left_behind()
        .iter()
        .map(|(_, m)| m.name.clone())
        .collect();
    assert_eq!(left, ["op", "muted"]);
}

#[test]
fn a_corrupt_policy_is_refused_not_dropped() {
    for (sql, whose) in [
        (
            "INSERT INTO room_policies (room, policy) VALUES ('#rust', '{\"owner\": 7')",
            "room #rust",
        ),
        (
            "INSERT INTO server_policy (id, policy) VALUES (1, '{\"bans\": \"none\"}')",
            "the server",
        ),
    ] {
        let (path, _cleanup) = temp_db();
        let location = DbLocation::File(path.clone());
        drop(Store::open(&location).unwrap());
        Connection::open(&path).unwrap().execute(sql, []).unwrap();
        match Store::open(&location) {
            Err(err @ StoreError::CorruptPolicy { .. }) => {
                let text = err.to_string();
                assert!(text.contains(whose), "{text}");
            }
            Err(other) => panic!("another error: {other}"),
            Ok(_) => panic!("a corrupt policy of {whose} was let through"),
        }
    }
}

/// Schema 3 as its release made it (8c2a47d's tables, verbatim), with one of everything.
pub(super) fn write_schema_3_database(path: &std::path::Path) {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(
        "CREATE TABLE rooms (
             id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, topic TEXT,
             created INTEGER NOT NULL, last_seq INTEGER NOT NULL DEFAULT 0,
             last_ts INTEGER NOT NULL DEFAULT 0);
         CREATE TABLE events (
             room INTEGER NOT NULL, seq INTEGER NOT NULL, ts INTEGER NOT NULL,
             kind TEXT NOT NULL, from_id TEXT NOT NULL, from_name TEXT NOT NULL, text TEXT,
             PRIMARY KEY (room, seq)) WITHOUT ROWID;
         CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
         CREATE TABLE present (
             room INTEGER NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL,
             joined INTEGER NOT NULL, PRIMARY KEY (room, id));
         INSERT INTO meta (key, value) VALUES ('schema', 3);
         CREATE TABLE identities (
             key TEXT PRIMARY KEY, id TEXT NOT NULL, name TEXT,
             since INTEGER NOT NULL, last_seen INTEGER NOT NULL);
         CREATE TABLE memberships (
             key TEXT NOT NULL, room TEXT NOT NULL, PRIMARY KEY (key, room));
         CREATE TABLE markers (
             key TEXT NOT NULL, room TEXT NOT NULL, seq INTEGER NOT NULL,
             PRIMARY KEY (key, room));
         CREATE TABLE conversations (room TEXT PRIMARY KEY, a TEXT NOT NULL, b TEXT NOT NULL);
         INSERT INTO rooms VALUES (1, '#general', 'old times', 1001, 3, 1003);
         INSERT INTO identities VALUES ('ka', '00000000-0000-8000-8000-000000000001',
             'alice', 100, 200);
         INSERT INTO memberships VALUES ('ka', '#general');
         INSERT INTO markers VALUES ('ka', '#general', 2);
         INSERT INTO conversations VALUES ('dm:x', 'ka', 'kb');",
    )
    .unwrap();
    let alice = Uuid::from_u128(1).to_string();
    for (seq, kind, text) in [(1, "join", None), (2, "message", Some("hi"))] {
        conn.execute(
            "INSERT INTO events VALUES (1, ?1, ?2, ?3, ?4, 'alice', ?5)",
            rusqlite::params![seq, 1000 + seq, kind, alice, text],
        )
        .unwrap();
    }
    conn.execute(
        "INSERT INTO present VALUES (1, ?1, 'alice', 1)",
        [alice.as_str()],
    )
    .unwrap();
}

#[test]
fn a_schema_3_database_gains_moderation_and_keeps_everything() {
    let (path, _cleanup) = temp_db();
    write_schema_3_database(&path);
    let location = DbLocation::File(path.clone());
    {
        let store = Store::open(&location).unwrap();
        let events = store.history().latest("#general", 10).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[1].text.as_deref(), Some("hi"));
        assert_eq!(events[1].target, None);
        assert_eq!(store.last_seq("#general"), 3);
        let recovered = store.recovered();
        assert_eq!(recovered.rooms[0].topic.as_deref(), Some("old times"));
        assert_eq!(recovered.identities.len(), 1);
        assert_eq!(recovered.identities[0].rooms, ["#general"]);
        assert_eq!(recovered.identities[0].markers["#general"], 2);
        assert_eq!(recovered.conversations.len(), 1);
        assert_eq!(recovered.left_behind.len(), 1);
        assert!(recovered.policies.is_empty());
        assert_eq!(recovered.server_policy, ServerPolicy::default());
    }
    assert_eq!(schema_of(&path), LATEST);
    let conn = Connection::open(&path).unwrap();
    for column in ["target_id", "target_name", "until", "target_seq"] {
        let found: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM pragma_table_info('events') WHERE name = ?1",
                [column],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(found, 1, "events.{column}");
    }
    drop(conn);
    moderation_works(&location);
    assert_eq!(schema_of(&path), LATEST, "migrated once");
}

/// Stores a policy, an ignore list and a moderation event in an opened (migrated)
/// database, and checks that they come back after a restart.
pub(super) fn moderation_works(location: &DbLocation) {
    let store = Store::open(location).unwrap();
    let last = store.last_seq("#general");
    let (writer, progress) = started(store, Retention::default());
    let records = [
        known("kz", "zed", 1),
        Record::RoomPolicy {
            room: "#general".into(),
            policy: policy(),
        },
        Record::Ignores {
            key: "kz".into(),
            ignored: vec![Uuid::from_u128(3)],
        },
    ];
    store_records(&*writer, &progress, &records);
    let kick = moderation(last + 1, EventKind::Kick, 1, (2, "bob"));
    writer.append(4, kick.clone());
    wait_stored(&progress, 4);
    assert!(writer.close(WAIT));
    let store = Store::open(location).unwrap();
    let recovered = store.recovered();
    assert_eq!(recovered.policies, [("#general".to_owned(), policy())]);
    let zed = recovered
        .identities
        .iter()
        .find(|i| i.record.key == "kz")
        .unwrap();
    assert_eq!(zed.ignored, [Uuid::from_u128(3)]);
    let events = store.history().latest("#general", 1).unwrap();
    assert_eq!(events, std::slice::from_ref(&kick.event));
}
