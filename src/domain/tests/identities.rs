//! Identities in the domain: names owned by keys, their expiry, several sessions of one
//! identity, and conversations nobody else can reach, even under a released name.

use std::collections::BTreeMap;

use super::*;

/// A key as the server would have checked it: made up, with the id a key would make.
fn key(n: u8) -> Credentials {
    Credentials {
        key: format!("key-{n}"),
        id: Uuid::new_v8([n; 16]),
        fingerprint: format!("SHA256:test-{n}"),
    }
}

fn join_keyed(chat: &Chat, name: &str, key: Credentials) -> Result<Joined, RoomError> {
    chat.join_as(Some(name), Lifetime::Connection, None, Some(key), || Ok(()))
        .map(|(joined, _)| joined)
}

fn guest(chat: &Chat, name: &str) -> Result<Joined, RoomError> {
    chat.join(Some(name), Lifetime::Connection, None)
        .map(|(joined, _)| joined)
}

#[test]
fn a_released_name_goes_to_a_guest_who_still_cannot_read_the_old_owners_conversations() {
    let chat = Chat::default();
    let alice = join_keyed(&chat, "alice", key(1)).unwrap();
    let bob = join_keyed(&chat, "bob", key(2)).unwrap();
    let (room, receipt, _) = chat
        .msg(&alice.session, "bob", "for bob only", false)
        .unwrap();
    drop(receipt);
    chat.leave(&bob.session, None).unwrap();

    // Not yet expired: the name is bob's.
    assert_eq!(chat.expire_names(), 0);
    assert_eq!(
        guest(&chat, "bob").unwrap_err(),
        RoomError::NameOwned("bob".into())
    );
    chat.backdate_identity("key-2", Duration::from_secs(366 * 24 * 3600));
    assert_eq!(chat.expire_names(), 1);
    let impostor = guest(&chat, "bob").unwrap();
    assert_eq!(impostor.info.name, "bob", "the released name is free");
    assert_eq!(
        chat.check_member_of(&impostor.session, &room).unwrap_err(),
        RoomError::NoSuchRoom(room.clone())
    );
    assert_eq!(
        chat.enter(&impostor.session, &room).unwrap_err(),
        RoomError::NoSuchRoom(room.clone())
    );
    let cursors = BTreeMap::from([(room.clone(), 0)]);
    assert_eq!(
        chat.check_cursors(&impostor.session, &cursors).unwrap_err(),
        RoomError::NoSuchRoom(room.clone())
    );
    // And a message to "bob" is now nobody's: the guest is no identity.
    assert!(matches!(
        chat.msg(&alice.session, "bob", "hi", false),
        Err(RoomError::NoSuchIdentity(_))
    ));
}

#[test]
fn an_identity_seen_within_the_expiry_keeps_its_name_and_one_that_is_here_always_does() {
    let chat = Chat::default();
    let alice = join_keyed(&chat, "alice", key(1)).unwrap();
    chat.backdate_identity("key-1", Duration::from_secs(400 * 24 * 3600));
    assert_eq!(chat.expire_names(), 0, "connected now: never released");
    chat.leave(&alice.session, None).unwrap();
    assert_eq!(chat.expire_names(), 0, "its leave just now counts as seen");
}

#[test]
fn renaming_moves_ownership_and_frees_the_old_name() {
    let chat = Chat::default();
    let alice = join_keyed(&chat, "alice", key(1)).unwrap();
    chat.nick(&alice.session, "alicia").unwrap();
    let guest = guest(&chat, "alice").unwrap();
    assert_eq!(guest.info.name, "alice", "the old name is free again");
    assert_eq!(
        chat.nick(&guest.session, "Alicia").unwrap_err(),
        RoomError::NameOwned("Alicia".into())
    );
}

#[test]
fn a_keyed_member_meeting_a_guest_under_its_new_name_gets_a_variant_and_owns_that() {
    let chat = Chat::default();
    let guest = guest(&chat, "carol").unwrap();
    let carol = join_keyed(&chat, "carol", key(3)).unwrap();
    assert_eq!(carol.info.name, "carol-2");
    chat.leave(&guest.session, None).unwrap();
    assert_eq!(
        self::guest(&chat, "carol-2").unwrap_err(),
        RoomError::NameOwned("carol-2".into())
    );
}

#[test]
fn the_last_session_to_end_is_the_members_leave() {
    let chat = Chat::default();
    let watcher = guest(&chat, "watcher").unwrap();
    let one = join_keyed(&chat, "alice", key(1)).unwrap();
    let two = join_keyed(&chat, "alice", key(1)).unwrap();
    assert_eq!(two.info, one.info);
    chat.end_session(&one.session, LeaveReason::ConnectionClosed)
        .unwrap();
    assert_eq!(chat.member(&two.session).unwrap().name, "alice");
    chat.leave(&two.session, Some("bye")).unwrap();
    let room = Room(chat.clone());
    let seen = summary(&queued(&room, &watcher.session));
    assert_eq!(
        seen,
        [
            (EventKind::Join, "alice".into(), None),
            (EventKind::Leave, "alice".into(), Some("Quit: bye".into())),
        ],
        "one join, one leave, for two sessions"
    );
}

#[test]
fn a_part_reaches_the_members_other_sessions_and_then_their_seats_go() {
    let chat = Chat::default();
    let one = join_keyed(&chat, "alice", key(1)).unwrap();
    let two = join_keyed(&chat, "alice", key(1)).unwrap();
    let bob = guest(&chat, "bob").unwrap();
    let (_, receipt) = chat.enter(&one.session, "#rust").unwrap();
    drop(receipt);
    chat.enter(&bob.session, "#rust").unwrap();
    chat.part(&one.session, "#rust", None).unwrap();
    let _receipt = chat
        .say(&bob.session, "#rust", "after the part", false)
        .unwrap();
    let room = Room(chat.clone());
    let on_two: Vec<(String, EventKind)> = queued(&room, &two.session)
        .into_iter()
        .filter(|e| e.room == "#rust")
        .map(|e| (e.from.name, e.kind))
        .collect();
    assert_eq!(
        on_two,
        [
            ("alice".into(), EventKind::Join),
            ("bob".into(), EventKind::Join),
            ("alice".into(), EventKind::Leave),
        ],
        "the other session hears its own entry and part, and nothing after"
    );
    assert_eq!(
        chat.check_member_of(&two.session, "#rust").unwrap_err(),
        RoomError::NotInRoom("#rust".into())
    );
}

#[test]
fn conversations_count_against_neither_the_servers_rooms_nor_a_members() {
    let chat = Chat::in_memory(ChatConfig {
        max_rooms: 2,
        max_rooms_per_member: 2,
        ..ChatConfig::default()
    });
    let alice = join_keyed(&chat, "alice", key(1)).unwrap();
    for n in 2..5 {
        let peer = join_keyed(&chat, &format!("peer{n}"), key(n)).unwrap();
        chat.query(&peer.session, "alice").unwrap();
    }
    // Three conversations, yet alice (in #general) may enter one more room and the server
    // (holding #general) may make it.
    let (entered, _receipt) = chat.enter(&alice.session, "#second").unwrap();
    assert_eq!(entered.room, "#second");
    assert_eq!(
        chat.enter(&alice.session, "#third").unwrap_err(),
        RoomError::TooManyRoomsOnServer { max: 2 }
    );
}

#[test]
fn a_direct_message_keeps_the_limits_of_any_message_and_a_refused_one_opens_nothing() {
    let chat = Chat::in_memory(ChatConfig {
        max_text_bytes: 8,
        ..ChatConfig::default()
    });
    let alice = join_keyed(&chat, "alice", key(1)).unwrap();
    let bob = join_keyed(&chat, "bob", key(2)).unwrap();
    assert_eq!(
        chat.msg(&alice.session, "bob", "\u{200b} \u{7}", false)
            .unwrap_err(),
        RoomError::EmptyText
    );
    assert_eq!(
        chat.msg(&alice.session, "bob", "123456789", false)
            .unwrap_err(),
        RoomError::TextTooLong { len: 9, max: 8 }
    );
    let room = conversation_room(alice.info.id, bob.info.id);
    assert_eq!(
        chat.check_member_of(&bob.session, &room).unwrap_err(),
        RoomError::NoSuchRoom(room),
        "nothing was opened"
    );
}

#[test]
fn a_join_refused_for_an_owned_name_costs_no_room_creation() {
    let chat = Chat::default();
    let alice = join_keyed(&chat, "alice", key(1)).unwrap();
    chat.leave(&alice.session, None).unwrap();
    let asked = std::cell::Cell::new(false);
    let refused = chat.join_as(
        Some("alice"),
        Lifetime::Connection,
        Some("#new"),
        None,
        || {
            asked.set(true);
            Ok(())
        },
    );
    assert_eq!(refused.unwrap_err(), RoomError::NameOwned("alice".into()));
    assert!(!asked.get(), "the creation limiter was not asked");
}

#[test]
fn a_query_opens_for_the_asker_and_a_message_for_both_even_after_one_closed_it() {
    let chat = Chat::default();
    let alice = join_keyed(&chat, "alice", key(1)).unwrap();
    let bob = join_keyed(&chat, "bob", key(2)).unwrap();
    let room = chat.query(&alice.session, "bob").unwrap().room;
    assert!(chat.check_member_of(&alice.session, &room).is_ok());
    assert_eq!(
        chat.check_member_of(&bob.session, &room).unwrap_err(),
        RoomError::NotInRoom(room.clone()),
        "a query alone shows bob nothing"
    );
    let _receipt = chat.say(&alice.session, &room, "hello", false).unwrap();
    assert!(chat.check_member_of(&bob.session, &room).is_ok());
    chat.part(&bob.session, &room, None).unwrap();
    let _receipt = chat
        .say(&alice.session, &room, "still there?", false)
        .unwrap();
    assert!(
        chat.check_member_of(&bob.session, &room).is_ok(),
        "a message into a conversation bob closed opens it for him again"
    );
    let texts: Vec<Option<String>> = queued(&Room(chat.clone()), &bob.session)
        .into_iter()
        .filter(|e| e.room == room)
        .map(|e| e.text)
        .collect();
    assert_eq!(texts, [Some("hello".into()), Some("still there?".into())]);
}

#[test]
fn a_direct_message_over_the_rate_limit_opens_nothing() {
    let chat = Chat::in_memory(ChatConfig {
        rate_limit: Some(RateLimit {
            per_sec: 0.001,
            burst: 1,
        }),
        ..ChatConfig::default()
    });
    let alice = join_keyed(&chat, "alice", key(1)).unwrap();
    let bob = join_keyed(&chat, "bob", key(2)).unwrap();
    let carol = join_keyed(&chat, "carol", key(3)).unwrap();
    let _receipt = chat.msg(&alice.session, "bob", "one", false).unwrap();
    assert!(matches!(
        chat.msg(&alice.session, "carol", "two", false),
        Err(RoomError::RateLimited { .. })
    ));
    let room = conversation_room(alice.info.id, carol.info.id);
    assert_eq!(
        chat.check_member_of(&carol.session, &room).unwrap_err(),
        RoomError::NoSuchRoom(room)
    );
    drop(bob);
}

#[test]
fn another_session_cannot_take_its_member_past_the_rooms_a_member_may_be_in() {
    let chat = Chat::in_memory(ChatConfig {
        max_rooms_per_member: 2,
        ..ChatConfig::default()
    });
    let first = join_keyed(&chat, "alice", key(1)).unwrap();
    let (_, _receipt) = chat.enter(&first.session, "#b").unwrap();
    let more = chat.join_as(
        Some("alice"),
        Lifetime::Connection,
        Some("#c"),
        Some(key(1)),
        || Ok(()),
    );
    assert_eq!(
        more.unwrap_err(),
        RoomError::TooManyRoomsForMember { max: 2 }
    );
    // Into a room it is in, it may.
    let (again, _) = chat
        .join_as(None, Lifetime::Connection, Some("#b"), Some(key(1)), || {
            Ok(())
        })
        .unwrap();
    assert_eq!(again.room.room, "#b");
}

#[test]
fn opening_conversations_is_charged_as_messages_are() {
    let chat = Chat::in_memory(ChatConfig {
        rate_limit: Some(RateLimit {
            per_sec: 0.001,
            burst: 1,
        }),
        ..ChatConfig::default()
    });
    let alice = join_keyed(&chat, "alice", key(1)).unwrap();
    let _bob = join_keyed(&chat, "bob", key(2)).unwrap();
    let _carol = join_keyed(&chat, "carol", key(3)).unwrap();
    chat.query(&alice.session, "bob").unwrap();
    // Opening it again is free; a new one is not.
    chat.query(&alice.session, "bob").unwrap();
    assert!(matches!(
        chat.query(&alice.session, "carol"),
        Err(RoomError::RateLimited { .. })
    ));
}
