//! Moderation in the domain, what a room is set to: modes, invites and secret rooms,
//! deleting, handing a room over, away, ignore lists, the send budget, and recovery.

use std::sync::Arc;

use super::moderation::*;
use super::*;

#[test]
fn modes_lock_the_topic_keep_uninvited_members_out_and_hide_secret_rooms() {
    let (chat, alice, bob, carol) = owned_room();
    let dave = keyed(&chat, "dave", 4);
    assert!(matches!(
        chat.mode(&bob.session, "#x", Some("+t")),
        Err(RoomError::NotPermitted { .. })
    ));
    assert!(matches!(
        chat.mode(&alice.session, "#x", Some("+q")),
        Err(RoomError::BadMode(_))
    ));
    let (_, modes, receipt) = chat.mode(&alice.session, "#x", Some("+tis")).unwrap();
    drop(receipt);
    assert!(modes.topic_locked && modes.invite_only && modes.secret);
    assert!(matches!(
        chat.topic(&bob.session, "#x", Some("bob's")),
        Err(RoomError::NotPermitted { .. })
    ));
    drop(chat.topic(&alice.session, "#x", Some("alice's")).unwrap());

    // Invite only.
    assert_eq!(
        chat.enter(&dave.session, "#x").unwrap_err(),
        RoomError::InviteOnly("#x".into())
    );
    let _ = events(&chat, &dave.session);
    drop(chat.invite(&alice.session, "#x", "dave").unwrap());
    let told = events(&chat, &dave.session);
    assert!(
        told.iter()
            .any(|e| e.kind == EventKind::Invited && e.room == "#x" && e.from.name == "alice"),
        "{told:?}"
    );
    // Secret: unknown to those not in it, whatever they ask.
    let outsider = keyed(&chat, "eve", 5);
    assert!(
        !chat
            .rooms_for(Some(&outsider.session))
            .iter()
            .any(|r| r.name == "#x")
    );
    assert!(
        chat.rooms_for(Some(&bob.session))
            .iter()
            .any(|r| r.name == "#x")
    );
    assert!(!chat.rooms().iter().any(|r| r.name == "#x"));
    assert_eq!(
        chat.members_for(Some(&outsider.session), "#x").unwrap_err(),
        RoomError::NoSuchRoom("#x".into())
    );
    assert_eq!(
        chat.topic(&outsider.session, "#x", None).unwrap_err(),
        RoomError::NoSuchRoom("#x".into())
    );
    assert!(
        !chat
            .whois(&outsider.session, "carol")
            .unwrap()
            .rooms
            .contains(&"#x".to_owned())
    );
    assert!(
        chat.whois(&bob.session, "carol")
            .unwrap()
            .rooms
            .contains(&"#x".to_owned())
    );
    assert_eq!(
        chat.mode(&outsider.session, "#x", None).unwrap_err(),
        RoomError::NoSuchRoom("#x".into())
    );
    // History is read by members only, and the refusal says nothing of the room.
    assert_eq!(
        chat.check_member_of(&outsider.session, "#x").unwrap_err(),
        RoomError::NoSuchRoom("#x".into())
    );
    assert_eq!(
        chat.check_member_of(&outsider.session, "#nowhere")
            .unwrap_err(),
        RoomError::NoSuchRoom("#nowhere".into())
    );
    chat.enter(&dave.session, "#x").unwrap();
    drop(carol);
}

#[test]
fn a_message_is_deleted_by_its_author_or_an_operator_and_its_text_is_gone() {
    let (chat, alice, bob, carol) = owned_room();
    let said = chat.say(&bob.session, "#x", "regrettable", false).unwrap();
    let seq = said.seq();
    wait(&chat);
    let stored = chat.log().after("#x", seq - 1, 1).unwrap();
    assert_eq!(
        chat.delete(&carol.session, "#x", seq, stored.first())
            .map(drop),
        Err(RoomError::NotPermitted {
            who: "its author or operators of #x".into(),
            action: "delete that message"
        })
    );
    let _ = events(&chat, &carol.session);
    drop(
        chat.delete(&bob.session, "#x", seq, stored.first())
            .unwrap(),
    );
    let seen = events(&chat, &carol.session);
    let delete = seen.iter().find(|e| e.kind == EventKind::Delete).unwrap();
    assert_eq!(delete.target_seq, Some(seq));
    assert_eq!(delete.target.as_ref().unwrap().name, "bob");
    // Gone from the log and from what a newcomer is handed.
    let kept = chat.log().after("#x", seq - 1, 1).unwrap();
    assert_eq!(kept[0].kind, EventKind::Deleted);
    assert_eq!(kept[0].text, None);
    let dave = keyed(&chat, "dave", 4);
    let (entered, _) = chat.enter(&dave.session, "#x").unwrap();
    let line = entered.history.iter().find(|e| e.seq == seq).unwrap();
    assert_eq!(
        (line.kind, line.text.as_deref()),
        (EventKind::Deleted, None)
    );
    // Nothing left to delete there, and a join is no message.
    assert!(matches!(
        chat.delete(&alice.session, "#x", seq, kept.first()),
        Err(RoomError::NoSuchMessage { .. })
    ));
    assert!(matches!(
        chat.delete(&alice.session, "#x", 1, None),
        Err(RoomError::NoSuchMessage { .. })
    ));
    // The owner may delete anyone's.
    let other = chat.say(&carol.session, "#x", "spam", false).unwrap().seq();
    wait(&chat);
    drop(chat.delete(&alice.session, "#x", other, None).unwrap());
}

#[test]
fn the_owner_hands_the_room_over_and_stays_an_operator() {
    let (chat, alice, bob, carol) = owned_room();
    let _ = events(&chat, &carol.session);
    let receipts = chat
        .set_role(&alice.session, "#x", "bob", Some(Role::Owner))
        .unwrap();
    assert_eq!(receipts.len(), 2);
    drop(receipts);
    let roles = names(&chat, "#x");
    assert!(roles.contains(&("alice".into(), Some(Role::Op))));
    assert!(roles.contains(&("bob".into(), Some(Role::Owner))));
    let seen: Vec<(String, Option<String>)> = events(&chat, &carol.session)
        .into_iter()
        .filter(|e| e.kind == EventKind::Role)
        .map(|e| (e.target.unwrap().name, e.text))
        .collect();
    assert_eq!(
        seen,
        [
            ("bob".into(), Some("owner".into())),
            ("alice".into(), Some("op".into()))
        ]
    );
    // Now an operator, alice cannot take the room back nor touch its owner.
    assert!(
        chat.set_role(&alice.session, "#x", "alice", Some(Role::Owner))
            .is_err()
    );
    assert!(matches!(
        chat.set_role(&bob.session, "#x", "bob", None),
        Err(RoomError::Protected(_))
    ));
}

#[test]
fn away_shows_in_lists_and_answers_the_first_message_only() {
    let (chat, alice, bob, _) = owned_room();
    drop(chat.away(&bob.session, Some("lunch")).unwrap());
    let bob_now = chat
        .members("#x")
        .unwrap()
        .into_iter()
        .find(|m| m.name == "bob")
        .unwrap();
    assert_eq!(bob_now.away.as_deref(), Some("lunch"));
    assert_eq!(
        chat.whois(&alice.session, "bob").unwrap().away.as_deref(),
        Some("lunch")
    );
    let (_, _, first) = chat.msg(&alice.session, "bob", "hi", false).unwrap();
    let (_, _, second) = chat.msg(&alice.session, "bob", "hi?", false).unwrap();
    assert_eq!((first.as_deref(), second), (Some("lunch"), None));
    assert!(
        chat.away(&bob.session, Some("lunch")).unwrap().is_empty(),
        "no change"
    );
    drop(chat.away(&bob.session, None).unwrap());
    assert_eq!(chat.whois(&alice.session, "bob").unwrap().away, None);
}

#[test]
fn an_ignore_list_is_kept_per_identity_and_told_to_its_other_sessions() {
    let (chat, alice, _bob, _) = owned_room();
    let other = keyed(&chat, "alice", 1);
    let _ = events(&chat, &other.session);
    let list = chat.ignore(&alice.session, "bob", true).unwrap();
    assert_eq!(
        list.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(),
        ["bob"]
    );
    let told = events(&chat, &other.session);
    let ignore = told.iter().find(|e| e.kind == EventKind::Ignore).unwrap();
    assert_eq!(
        (
            ignore.target.as_ref().unwrap().name.as_str(),
            ignore.text.as_deref()
        ),
        ("bob", None)
    );
    assert_eq!(chat.ignored(&other.session).unwrap(), list);
    assert!(matches!(
        chat.ignore(&alice.session, "alice", true),
        Err(RoomError::Protected(_))
    ));
    let guest = guest_from(&chat, "visitor", addr(50)).unwrap();
    assert_eq!(
        chat.ignore(&guest.session, "bob", true).unwrap_err(),
        RoomError::NotIdentified("keep an ignore list")
    );
    assert!(
        chat.ignore(&alice.session, "bob", false)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn roles_bans_and_ignores_come_back_with_the_log() {
    let log = MemoryLog::default();
    let config = || ChatConfig {
        rate_limit: None,
        ..ChatConfig::default()
    };
    let chat = Chat::new(config(), Arc::new(log.clone())).unwrap();
    let alice = keyed(&chat, "alice", 1);
    let bob = keyed(&chat, "bob", 2);
    keyed(&chat, "carol", 3);
    chat.enter(&alice.session, "#x").unwrap();
    chat.enter(&bob.session, "#x").unwrap();
    drop(
        chat.set_role(&alice.session, "#x", "bob", Some(Role::Op))
            .unwrap(),
    );
    drop(chat.ban(&alice.session, "#x", "carol", None, None).unwrap());
    drop(chat.mode(&alice.session, "#x", Some("+i")).unwrap());
    let _ = chat.ignore(&alice.session, "carol", true).unwrap();
    wait(&chat);
    drop(chat);

    let chat = Chat::new(config(), Arc::new(log)).unwrap();
    let carol = chat
        .join_from(
            None,
            None,
            Lifetime::Connection,
            Some("#x"),
            Some(key(3)),
            || Ok(()),
        )
        .map(drop);
    assert!(matches!(carol, Err(RoomError::Banned { .. })), "{carol:?}");
    let dave = keyed(&chat, "dave", 4);
    assert_eq!(
        chat.enter(&dave.session, "#x").unwrap_err(),
        RoomError::InviteOnly("#x".into())
    );
    let alice = keyed(&chat, "alice", 1);
    assert_eq!(chat.ignored(&alice.session).unwrap()[0].name, "carol");
    let bob = keyed(&chat, "bob", 2);
    assert_eq!(
        chat.members("#x")
            .unwrap()
            .into_iter()
            .map(|m| (m.name, m.role))
            .collect::<Vec<_>>(),
        [
            ("alice".into(), Some(Role::Owner)),
            ("bob".into(), Some(Role::Op))
        ]
    );
    drop((bob, carol));
}

#[test]
fn moderating_spends_the_send_budget_like_speaking() {
    let chat = Chat::default();
    let alice = keyed(&chat, "alice", 1);
    chat.enter(&alice.session, "#x").unwrap();
    let limited = (0..30)
        .map(|n| {
            chat.mode(
                &alice.session,
                "#x",
                Some(if n % 2 == 0 { "+i" } else { "-i" }),
            )
        })
        .find_map(|r| r.err());
    assert!(
        matches!(limited, Some(RoomError::RateLimited { .. })),
        "{limited:?}"
    );
}

#[test]
fn away_is_not_said_where_the_member_is_muted() {
    let (chat, alice, bob, carol) = owned_room();
    chat.enter(&bob.session, "#y").unwrap();
    chat.enter(&carol.session, "#y").unwrap();
    drop(chat.mute(&alice.session, "#x", "bob", None).unwrap());
    let _ = events(&chat, &carol.session);
    drop(chat.away(&bob.session, Some("my advert")).unwrap());
    let rooms: Vec<String> = events(&chat, &carol.session)
        .into_iter()
        .filter(|e| e.kind == EventKind::Away)
        .map(|e| e.room)
        .collect();
    assert_eq!(rooms, ["#general", "#y"]);
}

#[test]
fn a_secret_room_is_not_named_by_the_look_alike_refusal() {
    let (chat, alice, bob, _) = owned_room();
    chat.enter(&alice.session, "#modteam").unwrap();
    drop(chat.mode(&alice.session, "#modteam", Some("+s")).unwrap());
    let refused = chat.enter(&bob.session, "#M0DTEAM").unwrap_err();
    assert_eq!(refused, RoomError::RoomLookAlikeHidden("#m0dteam".into()));
    assert!(!refused.to_string().contains("#modteam"), "{refused}");
    // Someone in it is told which room it is.
    let carol_in = chat.enter(&alice.session, "#M0DTEAM").unwrap_err();
    assert!(carol_in.to_string().contains("#modteam"), "{carol_in}");
}

#[test]
fn a_direct_message_does_not_open_a_conversation_for_someone_ignoring_its_sender() {
    let (chat, alice, bob, _) = owned_room();
    let _ = chat.ignore(&bob.session, "alice", true).unwrap();
    let _ = events(&chat, &bob.session);
    let (room, receipt, _) = chat.msg(&alice.session, "bob", "hello?", false).unwrap();
    drop(receipt);
    let told = events(&chat, &bob.session);
    assert!(told.iter().all(|e| e.room != room), "{told:?}");
    // Nor by speaking in it.
    drop(
        chat.say(&alice.session, &room, "still there?", false)
            .unwrap(),
    );
    let told = events(&chat, &bob.session);
    assert!(told.iter().all(|e| e.room != room), "{told:?}");
    // Unignored, bob may still open it and read what waited.
    let _ = chat.ignore(&bob.session, "alice", false).unwrap();
    let opened = chat.query(&bob.session, "alice").unwrap();
    assert!(
        opened
            .history
            .iter()
            .any(|e| e.text.as_deref() == Some("hello?"))
    );
}
