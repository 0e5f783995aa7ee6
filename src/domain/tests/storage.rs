//! What the rooms do when the log cannot store: refusals, take-backs, nothing half-done.

use std::time::Duration;

use super::{Room, RoomConfig};
use crate::domain::{Chat, DEFAULT_ROOM, Event, EventKind, LeaveReason, Lifetime, RoomError};
use crate::store::{DbLocation, Store, WriteFaults};

const WAIT: Duration = Duration::from_secs(10);

/// A room whose store gives up on an event after 50 ms, and the switch that makes its
/// writes fail.
fn failing_room() -> (Room, WriteFaults) {
    failing_room_giving_up_after(Duration::from_millis(50))
}

fn failing_room_giving_up_after(storage_timeout: Duration) -> (Room, WriteFaults) {
    let store = Store::open(&DbLocation::Memory).unwrap();
    let faults = store.write_faults();
    let config = RoomConfig {
        rate_limit: None,
        storage_timeout,
        ..RoomConfig::default()
    };
    (
        Room(Chat::new(config, std::sync::Arc::new(store)).unwrap()),
        faults,
    )
}

async fn outcome(receipt: crate::domain::Receipt) -> Result<u64, RoomError> {
    tokio::time::timeout(WAIT, receipt.stored())
        .await
        .expect("the store decides within its timeout")
}

/// Says `text` and waits for it to be stored: everything said before is stored too.
async fn say_stored(room: &Room, session: &str, text: &str) -> u64 {
    outcome(room.say(session, DEFAULT_ROOM, text, false).unwrap())
        .await
        .unwrap()
}

/// Makes the store drop everything waiting, waits until the room has taken it back, then
/// lets the store work again and waits until what the room published again is stored.
async fn fail_storing(room: &Room, faults: &WriteFaults, session: &str) {
    faults.set(true);
    let refused = outcome(room.say(session, DEFAULT_ROOM, "refused", false).unwrap()).await;
    assert_eq!(refused, Err(RoomError::StorageUnavailable));
    faults.set(false);
    tokio::time::timeout(WAIT, room.settled())
        .await
        .expect("stored once the disk is back");
}

fn history(room: &Room) -> Vec<(EventKind, String, Option<String>)> {
    let events: Vec<Event> = room.log().latest(DEFAULT_ROOM, 100).unwrap();
    for pair in events.windows(2) {
        assert_eq!(pair[1].seq, pair[0].seq + 1, "gap in {events:?}");
    }
    events
        .into_iter()
        .map(|e| (e.kind, e.from.name, e.text))
        .collect()
}

#[tokio::test]
async fn a_leave_that_cannot_be_stored_is_stored_once_the_disk_is_back() {
    let (room, faults) = failing_room();
    let alice = room.join(Some("alice"), Lifetime::Connection).unwrap();
    let bob = room.join(Some("bob"), Lifetime::Connection).unwrap();
    say_stored(&room, &alice.session, "hi").await;

    faults.set(true);
    room.leave(&bob.session, LeaveReason::Left).unwrap();
    fail_storing(&room, &faults, &alice.session).await;
    say_stored(&room, &alice.session, "after").await;

    assert_eq!(
        history(&room),
        [
            (EventKind::Join, "alice".into(), None),
            (EventKind::Join, "bob".into(), None),
            (EventKind::Message, "alice".into(), Some("hi".into())),
            (EventKind::Leave, "bob".into(), None),
            (EventKind::Message, "alice".into(), Some("after".into())),
        ]
    );
}

#[tokio::test]
async fn a_member_that_joined_and_left_unstored_was_never_there() {
    let (room, faults) = failing_room();
    let alice = room.join(Some("alice"), Lifetime::Connection).unwrap();
    say_stored(&room, &alice.session, "hi").await;

    faults.set(true);
    let (bob, receipt) = room
        .join_with_receipt(Some("bob"), Lifetime::Connection)
        .unwrap();
    room.leave(&bob.session, LeaveReason::ConnectionClosed)
        .unwrap();
    assert_eq!(outcome(receipt).await, Err(RoomError::StorageUnavailable));
    faults.set(false);
    say_stored(&room, &alice.session, "after").await;

    assert_eq!(
        history(&room),
        [
            (EventKind::Join, "alice".into(), None),
            (EventKind::Message, "alice".into(), Some("hi".into())),
            (EventKind::Message, "alice".into(), Some("after".into())),
        ]
    );
}

#[tokio::test]
async fn a_join_that_cannot_be_stored_is_undone() {
    let (room, faults) = failing_room();
    let alice = room.join(Some("alice"), Lifetime::Connection).unwrap();
    say_stored(&room, &alice.session, "hi").await;

    faults.set(true);
    let (bob, receipt) = room
        .join_with_receipt(Some("bob"), Lifetime::Connection)
        .unwrap();
    assert_eq!(outcome(receipt).await, Err(RoomError::StorageUnavailable));
    assert_eq!(room.member(&bob.session), Err(RoomError::UnknownSession));
    let names: Vec<_> = room.members().into_iter().map(|m| m.name).collect();
    assert_eq!(names, ["alice"]);
    faults.set(false);
    let again = room.join(Some("bob"), Lifetime::Connection).unwrap();
    assert_eq!(again.name, "bob", "the name was given back");
}

#[tokio::test]
async fn a_rename_that_cannot_be_stored_is_undone() {
    let (room, faults) = failing_room();
    let alice = room.join(Some("alice"), Lifetime::Connection).unwrap();
    say_stored(&room, &alice.session, "hi").await;

    faults.set(true);
    let (name, receipt) = room.nick_with_receipt(&alice.session, "al").unwrap();
    assert_eq!(name, "al");
    let refused = outcome(receipt.expect("a rename publishes")).await;
    assert_eq!(refused, Err(RoomError::StorageUnavailable));
    assert_eq!(room.member(&alice.session).unwrap().name, "alice");
    faults.set(false);
    let other = room.join(Some("al"), Lifetime::Connection).unwrap();
    assert_eq!(other.name, "al", "the new name was given back");
}

#[tokio::test]
async fn a_member_renamed_and_gone_unstored_leaves_under_its_stored_name() {
    let (room, faults) = failing_room();
    let alice = room.join(Some("alice"), Lifetime::Connection).unwrap();
    let bob = room.join(Some("bob"), Lifetime::Connection).unwrap();
    say_stored(&room, &alice.session, "hi").await;

    faults.set(true);
    room.nick(&bob.session, "robert").unwrap();
    room.leave(&bob.session, LeaveReason::Left).unwrap();
    fail_storing(&room, &faults, &alice.session).await;
    say_stored(&room, &alice.session, "after").await;

    let events = history(&room);
    assert_eq!(
        events[3..],
        [
            (EventKind::Leave, "bob".into(), None),
            (EventKind::Message, "alice".into(), Some("after".into())),
        ]
    );
}

#[tokio::test]
async fn shutdown_ends_every_session_even_when_nothing_can_be_stored() {
    // The store would go on trying for a minute.
    let (room, faults) = failing_room_giving_up_after(Duration::from_secs(60));
    let alice = room.join(Some("alice"), Lifetime::Connection).unwrap();
    say_stored(&room, &alice.session, "hi").await;
    let mut reader = room.reader(&alice.session).unwrap().try_claim().unwrap();

    faults.set(true);
    tokio::time::timeout(WAIT, room.shutdown(Duration::from_millis(100)))
        .await
        .expect("shutdown does not wait for the disk");
    assert_eq!(reader.next().await, Err(LeaveReason::ServerShutdown));
    faults.set(false);
}

#[tokio::test]
async fn a_room_whose_first_join_cannot_be_stored_is_never_made() {
    let (room, faults) = failing_room();
    let alice = room.join(Some("alice"), Lifetime::Connection).unwrap();
    say_stored(&room, &alice.session, "hi").await;

    faults.set(true);
    let (_, receipt) = room.enter(&alice.session, "#new").unwrap();
    assert_eq!(
        outcome(receipt.unwrap()).await,
        Err(RoomError::StorageUnavailable)
    );
    faults.set(false);
    assert!(
        room.rooms().iter().all(|r| r.name != "#new"),
        "the room is forgotten"
    );
    assert_eq!(
        room.say(&alice.session, "#new", "anyone?", false).map(drop),
        Err(RoomError::NoSuchRoom("#new".into()))
    );
    // Made afresh later, numbered from 1.
    let (entered, receipt) = room.enter(&alice.session, "#new").unwrap();
    assert_eq!(outcome(receipt.unwrap()).await, Ok(1));
    assert_eq!(entered.last_seq, 0);
}

#[tokio::test]
async fn a_topic_that_cannot_be_stored_is_undone() {
    let (room, faults) = failing_room();
    let alice = room.join(Some("alice"), Lifetime::Connection).unwrap();
    let (_, _, receipt) = room
        .topic(&alice.session, DEFAULT_ROOM, Some("first"))
        .unwrap();
    outcome(receipt.unwrap()).await.unwrap();

    faults.set(true);
    let (_, _, receipt) = room
        .topic(&alice.session, DEFAULT_ROOM, Some("second"))
        .unwrap();
    assert_eq!(
        outcome(receipt.unwrap()).await,
        Err(RoomError::StorageUnavailable)
    );
    faults.set(false);
    let (_, topic, _) = room.topic(&alice.session, DEFAULT_ROOM, None).unwrap();
    assert_eq!(topic.as_deref(), Some("first"));
}

#[tokio::test]
async fn a_rename_taken_back_never_gives_two_members_one_name() {
    let (room, faults) = failing_room();
    let x = room.join(Some("a"), Lifetime::Connection).unwrap();
    let y = room.join(Some("y"), Lifetime::Connection).unwrap();
    say_stored(&room, &x.session, "hi").await;

    faults.set(true);
    let (_, receipt) = room.nick_with_receipt(&x.session, "b").unwrap();
    // y, in no room at all, renames without an event, to the name x just let go of.
    room.part(&y.session, DEFAULT_ROOM, None).unwrap();
    assert_eq!(room.nick(&y.session, "a").unwrap(), "a");
    assert_eq!(
        outcome(receipt.unwrap()).await,
        Err(RoomError::StorageUnavailable)
    );
    faults.set(false);
    let x_name = room.member(&x.session).unwrap().name;
    assert_ne!(x_name, "a", "y has it");
    assert_eq!(x_name, "a-2");
}

/// A keyed member, as the server would have checked its key.
fn keyed(room: &Room, name: &str, n: u8) -> crate::domain::Joined {
    let key = crate::domain::Credentials {
        key: format!("key-{n}"),
        id: uuid::Uuid::new_v8([n; 16]),
        fingerprint: format!("SHA256:test-{n}"),
    };
    room.join_as(Some(name), Lifetime::Connection, None, Some(key), || Ok(()))
        .unwrap()
        .0
}

#[tokio::test]
async fn what_identities_did_while_storage_failed_is_written_again_once_it_is_back() {
    let dir = std::env::temp_dir().join(format!("chatroom-records-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let location = DbLocation::File(dir.join("chat.db"));
    let store = Store::open(&location).unwrap();
    let faults = store.write_faults();
    let config = RoomConfig {
        rate_limit: None,
        storage_timeout: Duration::from_millis(50),
        ..RoomConfig::default()
    };
    let room = Room(Chat::new(config, std::sync::Arc::new(store)).unwrap());
    let alice = keyed(&room, "alice", 1);
    let bob = keyed(&room, "bob", 2);
    say_stored(&room, &alice.session, "hi").await;
    room.leave(&bob.session, LeaveReason::Left).unwrap();

    faults.set(true);
    // Into a room chosen now: refused, and not to be given back later.
    let (_, entry) = room.enter(&alice.session, "#x").unwrap();
    // A message to bob, away: refused, but the conversation it opened stays open.
    let (dm, message, _) = room.msg(&alice.session, "bob", "refused", false).unwrap();
    assert_eq!(
        outcome(entry.unwrap()).await,
        Err(RoomError::StorageUnavailable)
    );
    assert_eq!(outcome(message).await, Err(RoomError::StorageUnavailable));
    faults.set(false);
    let (_, later, _) = room
        .msg(&alice.session, "bob", "waiting for bob", false)
        .unwrap();
    outcome(later).await.unwrap();
    tokio::time::timeout(WAIT, room.settled()).await.unwrap();
    room.leave(&alice.session, LeaveReason::Left).unwrap();
    tokio::time::timeout(WAIT, room.settled()).await.unwrap();
    room.close_store(WAIT);

    let reopened = Store::open(&location).unwrap();
    let recovered = crate::domain::EventLog::recovered(&reopened);
    let rooms_of = |key: &str| {
        recovered
            .identities
            .iter()
            .find(|i| i.record.key == key)
            .map(|i| i.rooms.clone())
            .unwrap()
    };
    assert!(
        !rooms_of("key-1").contains(&"#x".to_owned()),
        "{recovered:?}"
    );
    assert!(
        rooms_of("key-2").contains(&dm),
        "bob finds the conversation: {recovered:?}"
    );
    assert!(
        recovered.conversations.iter().any(|(room, _)| *room == dm),
        "{recovered:?}"
    );
    drop(reopened);
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn a_kick_a_mute_or_a_ban_that_cannot_be_stored_is_undone() {
    let (room, faults) = failing_room();
    let alice = keyed(&room, "alice", 1);
    let bob = keyed(&room, "bob", 2);
    for who in [&alice, &bob] {
        let (_, entry) = room.enter(&who.session, "#m").unwrap();
        outcome(entry.unwrap()).await.unwrap();
    }
    faults.set(true);
    let (_, mute) = room.mute(&alice.session, "#m", "bob", None).unwrap();
    assert_eq!(outcome(mute).await, Err(RoomError::StorageUnavailable));
    faults.set(false);
    // Never announced, so never in force.
    let free = room.say(&bob.session, "#m", "free", false).unwrap();
    outcome(free).await.unwrap();

    faults.set(true);
    let kick = room.kick(&alice.session, "#m", "bob", Some("out")).unwrap();
    assert_eq!(outcome(kick).await, Err(RoomError::StorageUnavailable));
    faults.set(false);
    tokio::time::timeout(WAIT, room.settled())
        .await
        .expect("stored once the disk is back");
    // Refused, so undone: bob is still in, and history has no kick.
    let still = room.say(&bob.session, "#m", "still here", false).unwrap();
    outcome(still).await.unwrap();
    let history = room.log().latest("#m", 100).unwrap();
    assert!(
        !history.iter().any(|e| e.kind == EventKind::Kick),
        "{history:?}"
    );

    // A mute, then a ban, both refused: both undone, newest first, so the room's policy
    // is as before either.
    let carol = keyed(&room, "carol", 3);
    let (_, entry) = room.enter(&carol.session, "#m").unwrap();
    outcome(entry.unwrap()).await.unwrap();
    faults.set(true);
    let (_, mute) = room.mute(&alice.session, "#m", "bob", None).unwrap();
    let (_, ban) = room.ban(&alice.session, "#m", "carol", None, None).unwrap();
    assert_eq!(outcome(mute).await, Err(RoomError::StorageUnavailable));
    assert_eq!(outcome(ban).await, Err(RoomError::StorageUnavailable));
    faults.set(false);
    tokio::time::timeout(WAIT, room.settled())
        .await
        .expect("stored once the disk is back");
    for who in [&bob, &carol] {
        let said = room.say(&who.session, "#m", "free", false).unwrap();
        outcome(said).await.unwrap();
    }
    assert!(room.bans(&alice.session, "#m").unwrap().is_empty());

    // A ban alone, refused: not in force.
    faults.set(true);
    let (_, ban) = room.ban(&alice.session, "#m", "carol", None, None).unwrap();
    assert_eq!(outcome(ban).await, Err(RoomError::StorageUnavailable));
    faults.set(false);
    tokio::time::timeout(WAIT, room.settled())
        .await
        .expect("stored once the disk is back");
    assert!(room.bans(&alice.session, "#m").unwrap().is_empty());
}

#[tokio::test]
async fn a_message_whose_delete_waits_for_the_disk_cannot_be_deleted_again() {
    let (room, faults) = failing_room_giving_up_after(Duration::from_secs(5));
    let alice = keyed(&room, "alice", 1);
    let seq = say_stored(&room, &alice.session, "oops").await;
    let stored = room.log().after(DEFAULT_ROOM, seq - 1, 1).unwrap();
    faults.set(true);
    let first = room
        .delete(&alice.session, DEFAULT_ROOM, seq, stored.first())
        .unwrap();
    let second = room.delete(&alice.session, DEFAULT_ROOM, seq, stored.first());
    assert!(
        matches!(second, Err(RoomError::NoSuchMessage { .. })),
        "{second:?}"
    );
    faults.set(false);
    assert_eq!(outcome(first).await, Ok(seq + 1));
}

#[tokio::test]
async fn an_invitation_that_cannot_be_stored_is_never_told_to_its_invitee() {
    let (room, faults) = failing_room();
    let alice = keyed(&room, "alice", 1);
    let bob = keyed(&room, "bob", 2);
    let (_, entry) = room.enter(&alice.session, "#club").unwrap();
    outcome(entry.unwrap()).await.unwrap();
    let mut bobs = room.reader(&bob.session).unwrap().try_claim().unwrap();
    while bobs.unread.rx.try_recv().is_ok() {}
    faults.set(true);
    let invite = room.invite(&alice.session, "#club", "bob").unwrap();
    assert_eq!(outcome(invite).await, Err(RoomError::StorageUnavailable));
    faults.set(false);
    let invite = room.invite(&alice.session, "#club", "bob").unwrap();
    outcome(invite).await.unwrap();
    let mut told = Vec::new();
    while let Ok(event) = bobs.unread.rx.try_recv() {
        told.push(event.kind);
    }
    assert_eq!(
        told.iter().filter(|k| **k == EventKind::Invited).count(),
        1,
        "only the stored one: {told:?}"
    );
}
