//! Many rooms: isolation, per-room seqs, entering and parting, names, topics, limits.

use super::*;

fn chat() -> Chat {
    Chat::in_memory(ChatConfig {
        rate_limit: None,
        ..ChatConfig::default()
    })
}

/// Joins the server (the default room) and waits for the join to be stored.
fn member(chat: &Chat, name: &str) -> String {
    let (joined, receipt) = chat.join(Some(name), Lifetime::Connection, None).unwrap();
    futures::executor::block_on(receipt.stored()).unwrap();
    joined.session
}

fn enter(chat: &Chat, session: &str, room: &str) -> Entered {
    let (entered, receipt) = chat.enter(session, room).unwrap();
    if let Some(receipt) = receipt {
        futures::executor::block_on(receipt.stored()).unwrap();
    }
    entered
}

/// Whether the chat lists the room.
fn exists(chat: &Chat, room: &str) -> bool {
    chat.rooms().iter().any(|r| r.name == room)
}

/// The newest seq of a room, as the list of rooms says.
fn last_seq(chat: &Chat, room: &str) -> u64 {
    chat.rooms()
        .iter()
        .find(|r| r.name == room)
        .unwrap()
        .last_seq
}

fn say(chat: &Chat, session: &str, room: &str, text: &str) -> u64 {
    let receipt = chat.say(session, room, text, false).unwrap();
    futures::executor::block_on(receipt.stored()).unwrap()
}

/// Everything queued for a session once the chat has settled: (room, kind, from, text).
fn inbox(chat: &Chat, session: &str) -> Vec<(String, EventKind, String, Option<String>)> {
    futures::executor::block_on(chat.settled());
    let mut claimed = chat.reader(session).unwrap().try_claim().unwrap();
    let mut out = Vec::new();
    while let Ok(event) = claimed.unread.rx.try_recv() {
        out.push((
            event.room.clone(),
            event.kind,
            event.from.name.clone(),
            event.text.clone(),
        ));
    }
    out
}

fn said(room: &str, from: &str, text: &str) -> (String, EventKind, String, Option<String>) {
    (
        room.to_owned(),
        EventKind::Message,
        from.to_owned(),
        Some(text.to_owned()),
    )
}

#[test]
fn a_message_in_one_room_never_reaches_a_member_only_in_another() {
    let chat = chat();
    let alice = member(&chat, "alice");
    let bob = member(&chat, "bob");
    enter(&chat, &alice, "#a");
    enter(&chat, &bob, "#b");
    chat.part(&bob, DEFAULT_ROOM, None).unwrap();
    inbox(&chat, &bob);
    say(&chat, &alice, "#a", "only for #a");
    assert_eq!(inbox(&chat, &bob), []);
}

#[test]
fn a_member_in_three_rooms_gets_each_rooms_events_once() {
    let chat = chat();
    let alice = member(&chat, "alice");
    let bob = member(&chat, "bob");
    for room in ["#a", "#b"] {
        enter(&chat, &alice, room);
        enter(&chat, &bob, room);
    }
    inbox(&chat, &bob);
    say(&chat, &alice, "#a", "one");
    say(&chat, &alice, DEFAULT_ROOM, "two");
    say(&chat, &alice, "#b", "three");
    assert_eq!(
        inbox(&chat, &bob),
        [
            said("#a", "alice", "one"),
            said(DEFAULT_ROOM, "alice", "two"),
            said("#b", "alice", "three"),
        ]
    );
}

#[test]
fn each_room_numbers_its_own_events_by_one() {
    let chat = chat();
    let alice = member(&chat, "alice");
    let a0 = enter(&chat, &alice, "#a").last_seq;
    let b0 = enter(&chat, &alice, "#b").last_seq;
    let mut a = Vec::new();
    let mut b = Vec::new();
    for i in 0..5 {
        a.push(say(&chat, &alice, "#a", &format!("a{i}")));
        b.push(say(&chat, &alice, "#b", &format!("b{i}")));
    }
    // Each room's join was its event 1.
    assert_eq!((a0, b0), (0, 0));
    assert_eq!(a, [2, 3, 4, 5, 6]);
    assert_eq!(b, [2, 3, 4, 5, 6]);
    assert_eq!(last_seq(&chat, "#a"), 6);
}

#[test]
fn entering_a_room_twice_changes_nothing() {
    let chat = chat();
    let alice = member(&chat, "alice");
    let bob = member(&chat, "bob");
    enter(&chat, &bob, "#a");
    enter(&chat, &alice, "#a");
    inbox(&chat, &bob);
    let first = enter(&chat, &alice, "#a");
    say(&chat, &bob, "#a", "meanwhile");
    let (again, receipt) = chat.enter(&alice, "#A").unwrap();
    assert!(receipt.is_none(), "no second join");
    assert_eq!(again.room, "#a");
    assert_eq!(again.members.len(), 2);
    assert_eq!(inbox(&chat, &bob), []);
    // The history still ends where alice's queue takes over: "meanwhile" comes through the
    // queue, not twice.
    assert_eq!(again.last_seq, first.last_seq);
    assert_eq!(again.history.last().map(|e| e.seq), Some(first.last_seq));
    assert!(
        again
            .history
            .iter()
            .all(|e| e.text.as_deref() != Some("meanwhile"))
    );
}

#[test]
fn parting_tells_the_room_the_reason_and_stops_its_events() {
    let chat = chat();
    let alice = member(&chat, "alice");
    let bob = member(&chat, "bob");
    enter(&chat, &alice, "#a");
    enter(&chat, &bob, "#a");
    inbox(&chat, &alice);
    chat.part(&bob, "#a", Some("lunch\u{7}")).unwrap();
    assert_eq!(
        inbox(&chat, &alice),
        [(
            "#a".to_owned(),
            EventKind::Leave,
            "bob".to_owned(),
            Some("Part: lunch".to_owned())
        )],
        "the reason is cleaned like text, and marked as the member's own"
    );
    inbox(&chat, &bob);
    say(&chat, &alice, "#a", "gone?");
    assert_eq!(inbox(&chat, &bob), [], "nothing more from #a");
    // Still in the default room, still a session.
    say(&chat, &alice, DEFAULT_ROOM, "here");
    assert_eq!(inbox(&chat, &bob), [said(DEFAULT_ROOM, "alice", "here")]);
}

#[test]
fn a_room_you_are_not_in_refuses_parting_sending_and_topics() {
    let chat = chat();
    let alice = member(&chat, "alice");
    let bob = member(&chat, "bob");
    enter(&chat, &alice, "#a");
    let not_in = Err(RoomError::NotInRoom("#a".into()));
    assert_eq!(chat.part(&bob, "#a", None), not_in);
    assert_eq!(chat.say(&bob, "#a", "hi", false).map(drop), not_in);
    assert_eq!(chat.topic(&bob, "#a", Some("mine")).map(drop), not_in);
    assert_eq!(chat.check_member_of(&bob, "#a").map(drop), not_in);
    let cursors = [("#a".to_owned(), 0)].into();
    assert_eq!(chat.check_cursors(&bob, &cursors).map(drop), not_in);
    let nowhere = Err(RoomError::NoSuchRoom("#nowhere".into()));
    assert_eq!(chat.part(&bob, "#nowhere", None), nowhere);
    assert_eq!(chat.say(&bob, "#nowhere", "hi", false).map(drop), nowhere);
    assert_eq!(chat.members("#nowhere").map(drop), nowhere);
}

#[test]
fn a_rename_is_told_in_every_room_once() {
    let chat = chat();
    let alice = member(&chat, "alice");
    let bob = member(&chat, "bob");
    enter(&chat, &alice, "#a");
    enter(&chat, &bob, "#a");
    enter(&chat, &alice, "#b");
    inbox(&chat, &bob);
    let (name, receipts) = chat.nick(&alice, "alicia").unwrap();
    assert_eq!(name, "alicia");
    assert_eq!(receipts.len(), 3, "one rename per room alice is in");
    let nick = |room: &str| {
        (
            room.to_owned(),
            EventKind::Nick,
            "alicia".to_owned(),
            Some("alice".to_owned()),
        )
    };
    let mut got = inbox(&chat, &bob);
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        got,
        [nick("#a"), nick(DEFAULT_ROOM)],
        "bob sits in two of them"
    );
}

#[test]
fn a_name_is_unique_on_the_whole_server() {
    let chat = chat();
    let alice = member(&chat, "alice");
    enter(&chat, &alice, "#a");
    chat.part(&alice, DEFAULT_ROOM, None).unwrap();
    let (other, _) = chat
        .join(Some("alice"), Lifetime::Connection, None)
        .unwrap();
    assert_eq!(
        other.info.name, "alice-2",
        "alice is taken though not in this room"
    );
}

#[test]
fn quitting_tells_every_room_the_reason() {
    let chat = chat();
    let alice = member(&chat, "alice");
    let bob = member(&chat, "bob");
    enter(&chat, &alice, "#a");
    enter(&chat, &bob, "#a");
    inbox(&chat, &bob);
    chat.leave(&alice, Some("bye all")).unwrap();
    let leave = |room: &str| {
        (
            room.to_owned(),
            EventKind::Leave,
            "alice".to_owned(),
            Some("Quit: bye all".to_owned()),
        )
    };
    let mut got = inbox(&chat, &bob);
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(got, [leave("#a"), leave(DEFAULT_ROOM)]);
    assert_eq!(chat.members("#a").unwrap().len(), 1);
}

#[test]
fn bad_room_names_are_refused_and_create_nothing() {
    let chat = chat();
    let alice = member(&chat, "alice");
    for bad in [
        "ops",
        "#",
        "#a b",
        "#dev.team",
        "#tab\there",
        "#zero\u{200b}width",
    ] {
        assert!(
            matches!(chat.enter(&alice, bad), Err(RoomError::BadRoomName(_))),
            "{bad:?} was taken"
        );
    }
    let long = format!("#{}", "x".repeat(MAX_ROOM_NAME_CHARS + 1));
    assert!(matches!(
        chat.enter(&alice, &long),
        Err(RoomError::BadRoomName(RoomNameError::TooLong))
    ));
    assert_eq!(chat.rooms().len(), 1, "only the default room");
    let bad_first_room = chat.join(Some("bob"), Lifetime::Connection, Some("bob's"));
    assert!(matches!(bad_first_room, Err(RoomError::BadRoomName(_))));
    assert_eq!(
        chat.members(DEFAULT_ROOM).unwrap().len(),
        1,
        "no session made"
    );
}

#[test]
fn look_alike_room_names_are_refused() {
    let chat = chat();
    let alice = member(&chat, "alice");
    enter(&chat, &alice, "#ops");
    for look_alike in ["#0ps", "#оps", "#OPS-"] {
        let entered = chat.enter(&alice, look_alike);
        if look_alike == "#OPS-" {
            // Different enough: a new room.
            assert!(entered.is_ok());
            continue;
        }
        assert_eq!(
            entered.map(drop),
            Err(RoomError::RoomLookAlike {
                name: look_alike.to_lowercase(),
                existing: "#ops".into()
            })
        );
    }
    // The same name in capitals is the same room, not a look-alike.
    assert_eq!(enter(&chat, &alice, "#Ops").room, "#ops");
}

#[test]
fn a_member_may_be_in_only_so_many_rooms() {
    let chat = Chat::in_memory(ChatConfig {
        max_rooms_per_member: 3,
        rate_limit: None,
        ..ChatConfig::default()
    });
    let alice = member(&chat, "alice");
    enter(&chat, &alice, "#a");
    enter(&chat, &alice, "#b");
    assert_eq!(
        chat.enter(&alice, "#c").map(drop),
        Err(RoomError::TooManyRoomsForMember { max: 3 })
    );
    assert!(!exists(&chat, "#c"), "nothing was made");
    chat.part(&alice, "#a", None).unwrap();
    enter(&chat, &alice, "#c");
}

#[test]
fn the_server_holds_only_so_many_rooms() {
    let chat = Chat::in_memory(ChatConfig {
        max_rooms: 2,
        rate_limit: None,
        ..ChatConfig::default()
    });
    let alice = member(&chat, "alice");
    let bob = member(&chat, "bob");
    enter(&chat, &alice, "#a");
    assert_eq!(
        chat.enter(&bob, "#b").map(drop),
        Err(RoomError::TooManyRoomsOnServer { max: 2 })
    );
    // Rooms that exist can still be entered.
    enter(&chat, &bob, "#a");
    assert_eq!(chat.rooms().len(), 2);
}

#[test]
fn a_topic_is_an_event_cleaned_and_bounded() {
    let chat = chat();
    let alice = member(&chat, "alice");
    let bob = member(&chat, "bob");
    inbox(&chat, &alice);
    let (room, topic, receipt) = chat
        .topic(
            &bob,
            DEFAULT_ROOM,
            Some("release\u{1b}[31m\nfriday\u{200b}"),
        )
        .unwrap();
    futures::executor::block_on(receipt.unwrap().stored()).unwrap();
    assert_eq!(room, DEFAULT_ROOM);
    assert_eq!(topic.as_deref(), Some("release[31m friday"));
    assert_eq!(
        inbox(&chat, &alice),
        [(
            DEFAULT_ROOM.to_owned(),
            EventKind::Topic,
            "bob".to_owned(),
            Some("release[31m friday".to_owned())
        )]
    );
    assert_eq!(inbox(&chat, &bob), [], "no self-echo");
    // Shown to anyone who asks, and in the list of rooms.
    let (_, shown, none) = chat.topic(&alice, DEFAULT_ROOM, None).unwrap();
    assert!(none.is_none());
    assert_eq!(shown, topic);
    assert_eq!(chat.rooms()[0].topic, topic);
    // The same topic again is no event.
    let (_, _, again) = chat
        .topic(&bob, DEFAULT_ROOM, Some("release[31m friday"))
        .unwrap();
    assert!(again.is_none());
    // Too long is refused, not cut.
    let huge = "t".repeat(chat.config().max_topic_bytes + 1);
    assert_eq!(
        chat.topic(&bob, DEFAULT_ROOM, Some(&huge)).map(drop),
        Err(RoomError::TopicTooLong {
            len: huge.len(),
            max: 512
        })
    );
    // An empty topic clears it.
    let (_, cleared, _) = chat.topic(&bob, DEFAULT_ROOM, Some("  ")).unwrap();
    assert_eq!(cleared, None);
}

#[test]
fn the_list_of_rooms_counts_members() {
    let chat = chat();
    let alice = member(&chat, "alice");
    let bob = member(&chat, "bob");
    enter(&chat, &alice, "#b");
    enter(&chat, &alice, "#a");
    enter(&chat, &bob, "#a");
    let rooms: Vec<(String, usize)> = chat
        .rooms()
        .into_iter()
        .map(|r| (r.name, r.members))
        .collect();
    assert_eq!(
        rooms,
        [("#a".into(), 2), ("#b".into(), 1), (DEFAULT_ROOM.into(), 2)]
    );
}

#[test]
fn a_reader_knows_where_each_room_goes_live() {
    let chat = chat();
    let alice = member(&chat, "alice");
    let bob = member(&chat, "bob");
    enter(&chat, &alice, "#a");
    say(&chat, &alice, "#a", "before bob");
    let entered = enter(&chat, &bob, "#a");
    assert_eq!(entered.last_seq, 2);
    assert_eq!(
        entered.history.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [1, 2]
    );
    let reader = chat.reader(&bob).unwrap();
    assert_eq!(reader.live_after.get("#a"), Some(&2));
    assert!(reader.live_after.contains_key(DEFAULT_ROOM));
}

#[test]
fn rooms_and_their_history_outlive_a_restart() {
    let log = Arc::new(MemoryLog::default());
    {
        let chat = Chat::new(ChatConfig::default(), log.clone()).unwrap();
        let alice = member(&chat, "alice");
        enter(&chat, &alice, "#kept");
        say(&chat, &alice, "#kept", "remember me");
        let (_, _, receipt) = chat.topic(&alice, "#kept", Some("old times")).unwrap();
        futures::executor::block_on(receipt.unwrap().stored()).unwrap();
        chat.part(&alice, "#kept", None).unwrap();
        futures::executor::block_on(chat.settled());
    }
    let chat = Chat::new(ChatConfig::default(), log).unwrap();
    let kept = chat
        .rooms()
        .into_iter()
        .find(|r| r.name == "#kept")
        .expect("an empty room is kept");
    assert_eq!(kept.topic.as_deref(), Some("old times"));
    assert_eq!(kept.members, 0);
    assert_eq!(kept.last_seq, 4);
    let bob = member(&chat, "bob");
    let entered = enter(&chat, &bob, "#kept");
    assert_eq!(entered.history[1].text.as_deref(), Some("remember me"));
    assert_eq!(say(&chat, &bob, "#kept", "next"), 6, "seq carries on");
}

#[test]
fn a_members_own_reason_cannot_pass_for_the_servers_nor_run_long() {
    let chat = chat();
    let alice = member(&chat, "alice");
    let bob = member(&chat, "bob");
    enter(&chat, &alice, "#a");
    enter(&chat, &bob, "#a");
    inbox(&chat, &alice);
    chat.part(&bob, "#a", Some("server restarted")).unwrap();
    let got = inbox(&chat, &alice);
    assert_eq!(got[0].3.as_deref(), Some("Part: server restarted"));
    let huge = "r".repeat(chat.config().max_reason_bytes + 1);
    assert_eq!(
        chat.part(&alice, "#a", Some(&huge)),
        Err(RoomError::ReasonTooLong {
            len: huge.len(),
            max: 512
        })
    );
    assert_eq!(
        chat.leave(&alice, Some(&huge)),
        Err(RoomError::ReasonTooLong {
            len: huge.len(),
            max: 512
        })
    );
    assert!(
        chat.member(&alice).is_ok(),
        "a refused quit leaves the session be"
    );
}

#[test]
fn entering_and_parting_over_and_over_is_rate_limited() {
    let chat = Chat::in_memory(ChatConfig {
        max_rooms_per_member: 3,
        ..ChatConfig::default()
    });
    let alice = member(&chat, "alice");
    // A whole room list at once is fine (a client coming back enters all its rooms)...
    enter(&chat, &alice, "#a");
    chat.part(&alice, "#a", None).unwrap();
    enter(&chat, &alice, "#a");
    // ...then one change a second.
    assert!(matches!(
        chat.part(&alice, "#a", None),
        Err(RoomError::RateLimited { .. })
    ));
    assert!(matches!(
        chat.enter(&alice, "#b"),
        Err(RoomError::RateLimited { .. })
    ));
    // Entering a room already entered costs nothing.
    assert!(chat.enter(&alice, "#a").is_ok());
}

#[test]
fn an_entry_refused_for_its_creation_costs_the_member_nothing() {
    let chat = Chat::in_memory(ChatConfig {
        max_rooms_per_member: 2,
        ..ChatConfig::default()
    });
    let alice = member(&chat, "alice");
    let refuse = || {
        Err(RoomError::RateLimited {
            retry_after: std::time::Duration::from_secs(60),
        })
    };
    for _ in 0..5 {
        assert!(chat.enter_with(&alice, "#new", refuse).is_err());
    }
    // Both room changes of the budget are still there.
    enter(&chat, &alice, "#a");
    chat.part(&alice, "#a", None).unwrap();
}
