//! Moderation in the domain, sanctions: who may act on whom, kicks, bans by key and by
//! address and their end, mutes, server bans. The helpers here serve `room_settings` too.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::*;

/// A key as the server would have checked it, with a fingerprint of its own.
pub(super) fn key(n: u8) -> Credentials {
    Credentials {
        key: format!("key-{n}"),
        id: Uuid::new_v8([n; 16]),
        fingerprint: format!("SHA256:test-{n}"),
    }
}

pub(super) fn keyed(chat: &Chat, name: &str, n: u8) -> Joined {
    chat.join_from(
        Some(addr(n)),
        Some(name),
        Lifetime::Connection,
        None,
        Some(key(n)),
        || Ok(()),
    )
    .unwrap()
    .0
}

pub(super) fn guest_from(chat: &Chat, name: &str, from: IpAddr) -> Result<Joined, RoomError> {
    chat.join_from(
        Some(from),
        Some(name),
        Lifetime::Connection,
        None,
        None,
        || Ok(()),
    )
    .map(|(joined, _)| joined)
}

pub(super) fn addr(n: u8) -> IpAddr {
    IpAddr::from([10, 0, 0, n])
}

/// A chat without rate limits whose wall clock the test moves, at `start`.
pub(super) fn chat_at(start: u64) -> (Chat, Arc<AtomicU64>) {
    let now = Arc::new(AtomicU64::new(start));
    let clock = now.clone();
    let chat = Chat::in_memory(ChatConfig {
        rate_limit: None,
        clock: Arc::new(move || clock.load(Ordering::SeqCst)),
        ..ChatConfig::default()
    });
    (chat, now)
}

pub(super) fn chat() -> Chat {
    chat_at(1_000_000).0
}

pub(super) fn wait(chat: &Chat) {
    let chat = chat.clone();
    within(async move { chat.settled().await });
}

/// Everything queued for a session so far.
pub(super) fn events(chat: &Chat, session: &str) -> Vec<Event> {
    wait(chat);
    let mut claimed = chat.reader(session).unwrap().try_claim().unwrap();
    let mut out = Vec::new();
    while let Ok(event) = claimed.unread.rx.try_recv() {
        out.push(event.event.clone());
    }
    out
}

pub(super) fn names(chat: &Chat, room: &str) -> Vec<(String, Option<Role>)> {
    chat.members(room)
        .unwrap()
        .into_iter()
        .map(|m| (m.name, m.role))
        .collect()
}

/// alice (key 1) made #x and owns it; bob (key 2) and carol (key 3) are in it too.
pub(super) fn owned_room() -> (Chat, Joined, Joined, Joined) {
    let chat = chat();
    let alice = keyed(&chat, "alice", 1);
    let bob = keyed(&chat, "bob", 2);
    let carol = keyed(&chat, "carol", 3);
    for who in [&alice, &bob, &carol] {
        chat.enter(&who.session, "#x").unwrap();
    }
    wait(&chat);
    (chat, alice, bob, carol)
}

#[test]
fn whoever_makes_a_room_owns_it_and_names_its_operators() {
    let (chat, alice, bob, carol) = owned_room();
    assert_eq!(
        names(&chat, "#x"),
        [
            ("alice".into(), Some(Role::Owner)),
            ("bob".into(), None),
            ("carol".into(), None)
        ]
    );
    // A member may not, nor may an operator hand out roles.
    let refused = chat.kick(&bob.session, "#x", "carol", None).unwrap_err();
    assert!(
        matches!(refused, RoomError::NotPermitted { .. }),
        "{refused}"
    );
    drop(
        chat.set_role(&alice.session, "#x", "bob", Some(Role::Op))
            .unwrap(),
    );
    assert_eq!(names(&chat, "#x")[1], ("bob".into(), Some(Role::Op)));
    assert!(matches!(
        chat.set_role(&bob.session, "#x", "carol", Some(Role::Op)),
        Err(RoomError::NotPermitted { .. })
    ));
    let _ = events(&chat, &carol.session);
    drop(
        chat.kick(&bob.session, "#x", "carol", Some("spam"))
            .unwrap(),
    );
    let seen = events(&chat, &carol.session);
    let kick = seen.iter().find(|e| e.kind == EventKind::Kick).unwrap();
    assert_eq!(kick.from.name, "bob");
    assert_eq!(kick.target.as_ref().unwrap().name, "carol");
    assert_eq!(kick.text.as_deref(), Some("spam"));
    assert!(!names(&chat, "#x").iter().any(|(n, _)| n == "carol"));
    // Out of the room, but free to come back: a kick is not a ban.
    assert_eq!(
        chat.say(&carol.session, "#x", "hi", false).unwrap_err(),
        RoomError::NotInRoom("#x".into())
    );
    chat.enter(&carol.session, "#x").unwrap();
}

#[test]
fn nobody_acts_on_an_equal_a_higher_rank_or_themselves() {
    let (chat, alice, bob, _carol) = owned_room();
    drop(
        chat.set_role(&alice.session, "#x", "bob", Some(Role::Op))
            .unwrap(),
    );
    drop(
        chat.set_role(&alice.session, "#x", "carol", Some(Role::Op))
            .unwrap(),
    );
    for refused in [
        chat.kick(&bob.session, "#x", "alice", None).map(drop),
        chat.ban(&bob.session, "#x", "alice", None, None).map(drop),
        chat.kick(&bob.session, "#x", "carol", None).map(drop),
        chat.mute(&bob.session, "#x", "carol", None).map(drop),
        chat.kick(&bob.session, "#x", "bob", None).map(drop),
        chat.kick(&alice.session, "#x", "alice", None).map(drop),
    ] {
        assert!(
            matches!(refused, Err(RoomError::Protected(_))),
            "{refused:?}"
        );
    }
    assert_eq!(
        chat.kick(&alice.session, "#x", "alice", None).map(drop),
        Err(RoomError::Protected(
            "you cannot do that to yourself".into()
        ))
    );
    // The owner may act on its operators.
    drop(chat.kick(&alice.session, "#x", "carol", None).unwrap());
}

#[test]
fn a_server_operator_moderates_every_room_and_cannot_be_moderated() {
    let (chat, alice, bob, _) = owned_room();
    let boss = keyed(&chat, "boss", 9);
    chat.enter(&boss.session, "#x").unwrap();
    assert!(!chat.is_server_op(&boss.session).unwrap());
    chat.set_server_operators(["SHA256:test-9".to_owned()]);
    assert!(chat.is_server_op(&boss.session).unwrap());
    assert!(
        names(&chat, "#x").contains(&("boss".into(), Some(Role::ServerOp))),
        "shown as one"
    );
    let refused = chat.kick(&alice.session, "#x", "boss", None).unwrap_err();
    assert!(matches!(refused, RoomError::Protected(_)), "{refused}");
    drop(chat.kick(&boss.session, "#x", "alice", None).unwrap());
    // Even the default room, which nobody owns.
    drop(chat.kick(&boss.session, DEFAULT_ROOM, "bob", None).unwrap());
    assert!(matches!(
        chat.kick(&bob.session, DEFAULT_ROOM, "boss", None),
        Err(RoomError::NotInRoom(_)) | Err(RoomError::NotPermitted { .. })
    ));
}

#[test]
fn a_banned_identity_stays_out_under_any_name_and_is_not_put_back_there() {
    let (chat, alice, bob, _) = owned_room();
    let (ban, receipt) = chat
        .ban(&alice.session, "#x", "bob", None, Some("trolling"))
        .unwrap();
    drop(receipt);
    assert_eq!(ban.target, Target::Identity(key(2).id));
    assert_eq!(ban.until, None);
    assert!(!names(&chat, "#x").iter().any(|(n, _)| n == "bob"));
    let refused = chat.enter(&bob.session, "#x").unwrap_err();
    assert_eq!(
        refused,
        RoomError::Banned {
            room: Some("#x".into()),
            until: None,
            reason: Some("trolling".into())
        }
    );
    chat.leave(&bob.session, None).unwrap();
    wait(&chat);
    // Back with the same key under another name: still out, whatever room it asks for.
    let again = chat.join_from(
        Some(addr(7)),
        Some("bobby"),
        Lifetime::Connection,
        Some("#x"),
        Some(key(2)),
        || Ok(()),
    );
    assert!(matches!(again, Err(RoomError::Banned { .. })), "{again:?}");
    let back = keyed(&chat, "bobby", 2);
    assert_eq!(back.room.room, DEFAULT_ROOM);
    assert!(
        back.rooms.iter().all(|r| r.room != "#x"),
        "{:?}",
        back.rooms
    );
    // Lifted: in again.
    drop(chat.unban(&alice.session, "#x", "bob").unwrap());
    chat.enter(&back.session, "#x").unwrap();
}

#[test]
fn a_banned_guest_stays_out_from_its_address_and_others_do_not() {
    let (chat, alice, _, _) = owned_room();
    let mallory = guest_from(&chat, "mallory", addr(66)).unwrap();
    chat.enter(&mallory.session, "#x").unwrap();
    let (ban, receipt) = chat
        .ban(&alice.session, "#x", "mallory", None, None)
        .unwrap();
    drop(receipt);
    assert_eq!(ban.target, Target::Address(addr(66)));
    let twin = guest_from(&chat, "nice-person", addr(66)).unwrap();
    assert!(matches!(
        chat.enter(&twin.session, "#x"),
        Err(RoomError::Banned { .. })
    ));
    let elsewhere = guest_from(&chat, "other", addr(67)).unwrap();
    chat.enter(&elsewhere.session, "#x").unwrap();
    // By address, given as one.
    drop(
        chat.ban(&alice.session, "#x", "10.0.0.67", Some(3600), None)
            .unwrap(),
    );
    assert!(!names(&chat, "#x").iter().any(|(n, _)| n == "other"));
    assert_eq!(chat.bans(&alice.session, "#x").unwrap().len(), 2);
}

#[test]
fn bans_and_mutes_end_on_time_and_durations_are_bounded() {
    let (chat, now) = chat_at(5_000_000);
    let alice = keyed(&chat, "alice", 1);
    let bob = keyed(&chat, "bob", 2);
    chat.enter(&alice.session, "#x").unwrap();
    chat.enter(&bob.session, "#x").unwrap();
    for secs in [0, 59, MAX_DURATION_SECS + 1] {
        assert_eq!(
            chat.ban(&alice.session, "#x", "bob", Some(secs), None)
                .map(drop),
            Err(RoomError::BadDuration { secs })
        );
        assert_eq!(
            chat.mute(&alice.session, "#x", "bob", Some(secs)).map(drop),
            Err(RoomError::BadDuration { secs })
        );
    }
    let (mute, receipt) = chat.mute(&alice.session, "#x", "bob", Some(60)).unwrap();
    drop(receipt);
    assert_eq!(mute.until, Some(5_060_000));
    assert!(matches!(
        chat.say(&bob.session, "#x", "hi", false),
        Err(RoomError::Muted { .. })
    ));
    assert!(matches!(
        chat.topic(&bob.session, "#x", Some("mine")),
        Err(RoomError::Muted { .. })
    ));
    now.store(5_059_999, Ordering::SeqCst);
    assert!(chat.say(&bob.session, "#x", "hi", false).is_err());
    now.store(5_060_000, Ordering::SeqCst);
    drop(chat.say(&bob.session, "#x", "free", false).unwrap());

    drop(
        chat.ban(&alice.session, "#x", "bob", Some(120), None)
            .unwrap(),
    );
    now.store(5_179_999, Ordering::SeqCst);
    assert!(matches!(
        chat.enter(&bob.session, "#x"),
        Err(RoomError::Banned {
            until: Some(5_180_000),
            ..
        })
    ));
    now.store(5_180_000, Ordering::SeqCst);
    chat.enter(&bob.session, "#x").unwrap();
    assert!(chat.bans(&alice.session, "#x").unwrap().is_empty());
}

#[test]
fn a_server_ban_ends_every_session_and_keeps_the_identity_out() {
    let (chat, alice, bob, carol) = owned_room();
    let second = keyed(&chat, "bob", 2);
    assert!(matches!(
        chat.gban(&alice.session, "bob", None, None),
        Err(RoomError::NotPermitted { .. })
    ));
    chat.set_server_operators(["SHA256:test-1".to_owned(), "SHA256:test-3".to_owned()]);
    // Not even another server operator may ban one.
    assert_eq!(
        chat.gban(&alice.session, "carol", None, None).map(drop),
        Err(RoomError::Protected("carol is a server operator".into()))
    );
    let ended = chat.on_end(&bob.session).unwrap();
    let _ = events(&chat, &carol.session);
    let (_, receipts) = chat
        .gban(&alice.session, "bob", None, Some("spam"))
        .unwrap();
    assert_eq!(receipts.len(), 2, "#general and #x");
    drop(receipts);
    assert_eq!(within(ended.reason()), LeaveReason::Banned);
    assert_eq!(chat.member(&second.session), Err(RoomError::UnknownSession));
    let seen = events(&chat, &carol.session);
    assert_eq!(
        seen.iter()
            .filter(|e| e.kind == EventKind::Gban && e.target.as_ref().unwrap().name == "bob")
            .count(),
        2,
        "{seen:?}"
    );
    assert!(
        !seen.iter().any(|e| e.kind == EventKind::Leave),
        "the ban is the only notice: {seen:?}"
    );
    let back = chat.join_from(
        None,
        Some("x"),
        Lifetime::Connection,
        None,
        Some(key(2)),
        || Ok(()),
    );
    assert!(
        matches!(back, Err(RoomError::Banned { room: None, .. })),
        "{back:?}"
    );
    assert_eq!(chat.gbans(&alice.session).unwrap().len(), 1);
    chat.ungban(&alice.session, "SHA256:test-2").unwrap();
    keyed(&chat, "bob", 2);
}

#[test]
fn an_identity_banned_while_away_is_not_put_back_in_that_room() {
    let (chat, alice, bob, carol) = owned_room();
    chat.leave(&bob.session, None).unwrap();
    wait(&chat);
    let _ = events(&chat, &carol.session);
    // By the name it owns, while it is not here.
    let (ban, receipt) = chat.ban(&alice.session, "#x", "bob", None, None).unwrap();
    drop(receipt);
    assert_eq!(ban.target, Target::Identity(key(2).id));
    let seen = events(&chat, &carol.session);
    assert!(
        seen.iter()
            .any(|e| e.kind == EventKind::Ban && e.target.as_ref().unwrap().name == "bob"),
        "{seen:?}"
    );
    let back = keyed(&chat, "bob", 2);
    assert_eq!(back.room.room, DEFAULT_ROOM);
    assert!(
        back.rooms.iter().all(|r| r.room != "#x"),
        "{:?}",
        back.rooms
    );
    assert!(!names(&chat, "#x").iter().any(|(n, _)| n == "bob"));
}

#[test]
fn a_banned_operator_loses_its_say_and_cannot_lift_its_own_ban_or_mute() {
    let (chat, alice, bob, carol) = owned_room();
    drop(
        chat.set_role(&alice.session, "#x", "bob", Some(Role::Op))
            .unwrap(),
    );
    drop(chat.mute(&alice.session, "#x", "bob", None).unwrap());
    assert_eq!(
        chat.unmute(&bob.session, "#x", "bob").map(drop),
        Err(RoomError::Protected(
            "you cannot do that to yourself".into()
        ))
    );
    drop(chat.ban(&alice.session, "#x", "bob", None, None).unwrap());
    assert!(
        chat.members("#x").unwrap().iter().all(|m| m.name != "bob"),
        "put out"
    );
    assert!(matches!(
        chat.unban(&bob.session, "#x", "bob"),
        Err(RoomError::Banned { .. })
    ));
    assert!(matches!(
        chat.kick(&bob.session, "#x", "carol", None),
        Err(RoomError::Banned { .. })
    ));
    // Lifted, it comes back without the role the ban took.
    drop(chat.unban(&alice.session, "#x", "bob").unwrap());
    chat.enter(&bob.session, "#x").unwrap();
    assert!(names(&chat, "#x").contains(&("bob".into(), None)));
    drop(carol);
}

#[test]
fn a_guest_elsewhere_cannot_be_banned_by_name_so_its_address_stays_private() {
    let (chat, alice, _, _) = owned_room();
    let gina = guest_from(&chat, "gina", addr(77)).unwrap();
    assert_eq!(
        chat.ban(&alice.session, "#x", "gina", None, None).map(drop),
        Err(RoomError::NoSuchMember("gina in #x".into()))
    );
    assert_eq!(
        chat.mute(&alice.session, "#x", "gina", None).map(drop),
        Err(RoomError::NoSuchMember("gina in #x".into()))
    );
    chat.enter(&gina.session, "#x").unwrap();
    drop(chat.ban(&alice.session, "#x", "gina", None, None).unwrap());
}

#[test]
fn an_ipv6_guest_is_banned_with_its_whole_slash_64() {
    let (chat, alice, _, _) = owned_room();
    let first: IpAddr = "2001:db8:1:2::10".parse().unwrap();
    let moved: IpAddr = "2001:db8:1:2:aaaa:bbbb:cccc:dddd".parse().unwrap();
    let other: IpAddr = "2001:db8:1:3::10".parse().unwrap();
    let guest = guest_from(&chat, "v6", first).unwrap();
    chat.enter(&guest.session, "#x").unwrap();
    drop(chat.ban(&alice.session, "#x", "v6", None, None).unwrap());
    let back = guest_from(&chat, "v6-again", moved).unwrap();
    assert!(matches!(
        chat.enter(&back.session, "#x"),
        Err(RoomError::Banned { .. })
    ));
    let neighbour = guest_from(&chat, "neighbour", other).unwrap();
    chat.enter(&neighbour.session, "#x").unwrap();
}

#[test]
fn an_identity_banned_from_the_default_room_while_away_comes_back_to_its_other_rooms() {
    let (chat, alice, bob, _) = owned_room();
    chat.set_server_operators(["SHA256:test-1".to_owned()]);
    chat.leave(&bob.session, None).unwrap();
    wait(&chat);
    drop(
        chat.ban(&alice.session, DEFAULT_ROOM, "bob", None, None)
            .unwrap(),
    );
    let back = keyed(&chat, "bob", 2);
    assert_eq!(back.room.room, "#x");
}
