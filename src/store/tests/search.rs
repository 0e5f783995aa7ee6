//! The full-text index: kept in step with inserts, deletes and pruning, built for an older
//! database's history, and searched by whole words, phrases and sender.

use super::identities::{schema_of, wait_stored};
use super::moderation::{delete, write_schema_3_database};
use super::*;
use crate::domain::{Found, SearchPage, SearchQuery};
use crate::store::schema::LATEST;

fn said_by(seq: u64, room: &str, name: &str, kind: EventKind, text: &str) -> Arc<Stamped> {
    // Later than the old database's lines, whose times are around 1000.
    let mut stamped = event(seq, 10_000 + seq);
    let event = &mut Arc::get_mut(&mut stamped).unwrap().event;
    event.room = room.into();
    event.kind = kind;
    event.from = MemberInfo::new(Uuid::from_u128(seq as u128), name.into());
    event.text = Some(text.into());
    stamped
}

/// A moderator's delete of `target_seq` in `#ops`.
fn delete_in_ops(seq: u64, target_seq: u64) -> Arc<Stamped> {
    let mut stamped = delete(seq, target_seq);
    Arc::get_mut(&mut stamped).unwrap().event.room = "#ops".into();
    stamped
}

fn page() -> SearchPage {
    SearchPage::new(100, 0).unwrap()
}

/// The `(room, seq)` of each hit, newest first.
fn hits(history: &History, rooms: &[&str], query: &str) -> Vec<(String, u64)> {
    let rooms: Vec<String> = rooms.iter().map(|r| r.to_string()).collect();
    let Found { events, .. } = history
        .search(&rooms, &SearchQuery::parse(query).unwrap(), page())
        .unwrap();
    events.into_iter().map(|e| (e.room, e.seq)).collect()
}

fn at(room: &str, seq: u64) -> (String, u64) {
    (room.to_owned(), seq)
}

/// A store with a few lines in two rooms, and its history.
fn a_few_lines() -> (History, Box<dyn Appender>, mpsc::Receiver<Progress>) {
    let store = Store::open(&DbLocation::Memory).unwrap();
    let history = store.history();
    let (writer, progress) = started(store, Retention::default());
    for (seq, stamped) in [
        said_by(
            1,
            "#ops",
            "alice",
            EventKind::Message,
            "the deploy is green",
        ),
        said_by(
            2,
            "#ops",
            "bob",
            EventKind::Message,
            "Deploy failed: red build",
        ),
        said_by(
            3,
            "#ops",
            "alice",
            EventKind::Action,
            "redeploys the green build",
        ),
        said_by(
            4,
            "#dev",
            "bob_x",
            EventKind::Message,
            "green build here too",
        ),
        said_by(
            5,
            "#ops",
            "carol",
            EventKind::Topic,
            "deploy topic is not searched",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        writer.append(seq as u64 + 1, stamped);
    }
    wait_stored(&progress, 5);
    (history, writer, progress)
}

#[test]
fn whole_words_phrases_and_senders_all_match() {
    let (history, _writer, _progress) = a_few_lines();
    let both = ["#ops", "#dev"];
    assert_eq!(
        hits(&history, &both, "deploy"),
        [at("#ops", 2), at("#ops", 1)]
    );
    assert_eq!(
        hits(&history, &both, "\"green build\""),
        [at("#dev", 4), at("#ops", 3)]
    );
    assert_eq!(
        hits(&history, &both, "green from:ALICE"),
        [at("#ops", 3), at("#ops", 1)]
    );
    assert_eq!(
        hits(&history, &both, "from:bob"),
        [at("#ops", 2)],
        "not bob_x"
    );
    assert_eq!(hits(&history, &both, "from:bob_x"), [at("#dev", 4)]);
    assert!(
        hits(&history, &both, "green red").is_empty(),
        "red is not redeploys"
    );
    assert_eq!(hits(&history, &both, "red build"), [at("#ops", 2)]);
    assert_eq!(hits(&history, &["#dev"], "green"), [at("#dev", 4)]);
    assert!(hits(&history, &[], "green").is_empty());
}

#[test]
fn fts5_syntax_in_a_query_is_only_text() {
    let (history, _writer, _progress) = a_few_lines();
    for query in [
        "green OR red",
        "NEAR(green build)",
        "gr*",
        "\"green\" -red",
        "^the",
        "col:x",
    ] {
        let rooms = ["#ops".to_string()];
        let found = history.search(&rooms, &SearchQuery::parse(query).unwrap(), page());
        assert!(found.is_ok(), "{query:?}: {found:?}");
    }
    assert!(
        hits(&history, &["#ops"], "gr*").is_empty(),
        "no prefix search"
    );
    assert!(
        hits(&history, &["#ops"], "green OR red").is_empty(),
        "OR is a word"
    );
}

#[test]
fn a_page_is_bounded_and_says_whether_more_follow() {
    let store = Store::open(&DbLocation::Memory).unwrap();
    let history = store.history();
    let (writer, progress) = started(store, Retention::default());
    for seq in 1..=7 {
        writer.append(seq, said_by(seq, "#ops", "a", EventKind::Message, "same"));
    }
    wait_stored(&progress, 7);
    let query = SearchQuery::parse("same").unwrap();
    let rooms = ["#ops".to_string()];
    let first = history
        .search(&rooms, &query, SearchPage::new(3, 0).unwrap())
        .unwrap();
    let seqs = |found: &Found| found.events.iter().map(|e| e.seq).collect::<Vec<_>>();
    assert_eq!((seqs(&first), first.more), (vec![7, 6, 5], true));
    let last = history
        .search(&rooms, &query, SearchPage::new(3, 6).unwrap())
        .unwrap();
    assert_eq!((seqs(&last), last.more), (vec![1], false));
}

#[test]
fn a_deleted_message_is_no_longer_found() {
    let (history, writer, progress) = a_few_lines();
    writer.append(6, delete_in_ops(6, 1));
    wait_stored(&progress, 6);
    assert_eq!(hits(&history, &["#ops"], "green"), [at("#ops", 3)]);
    // Deleted in the batch that stored it, too.
    writer.append(
        7,
        said_by(7, "#ops", "alice", EventKind::Message, "oops green"),
    );
    writer.append(8, delete_in_ops(8, 7));
    wait_stored(&progress, 8);
    assert_eq!(hits(&history, &["#ops"], "green"), [at("#ops", 3)]);
    assert!(hits(&history, &["#ops"], "oops").is_empty());
}

#[test]
fn pruned_history_is_no_longer_found() {
    let (path, _cleanup) = temp_db();
    let store = Store::open(&DbLocation::File(path.clone())).unwrap();
    let history = store.history();
    let (writer, progress) = started(store, Retention::default());
    for seq in 1..=6 {
        writer.append(seq, said_by(seq, "#ops", "a", EventKind::Message, "needle"));
    }
    wait_stored(&progress, 6);
    let conn = Connection::open(&path).unwrap();
    let retention = Retention {
        max_events: Some(2),
        max_age: None,
    };
    assert_eq!(prune_chunk(&conn, retention).unwrap(), 4);
    assert_eq!(
        hits(&history, &["#ops"], "needle"),
        [at("#ops", 6), at("#ops", 5)]
    );
    let indexed: i64 = conn
        .query_row("SELECT COUNT(*) FROM search", [], |row| row.get(0))
        .unwrap();
    assert_eq!(indexed, 2, "the index holds only what is kept");
    writer.close(WAIT);
}

#[test]
fn an_older_database_has_its_history_indexed_when_it_migrates() {
    let (path, _cleanup) = temp_db();
    write_schema_3_database(&path);
    let location = DbLocation::File(path.clone());
    let store = Store::open(&location).unwrap();
    assert_eq!(schema_of(&path), LATEST);
    let history = store.history();
    assert_eq!(hits(&history, &["#general"], "hi"), [at("#general", 2)]);
    assert_eq!(
        hits(&history, &["#general"], "from:alice"),
        [at("#general", 2)]
    );
    // And the triggers keep it from then on.
    let (writer, progress) = started(store, Retention::default());
    writer.append(
        1,
        said_by(4, "#general", "bob", EventKind::Message, "hi again"),
    );
    wait_stored(&progress, 1);
    assert_eq!(
        hits(&history, &["#general"], "hi"),
        [at("#general", 4), at("#general", 2)]
    );
    writer.close(WAIT);
    drop(history);
    let reopened = Store::open(&location).unwrap();
    assert_eq!(
        hits(&reopened.history(), &["#general"], "hi").len(),
        2,
        "indexed once, not again on every open"
    );
}
