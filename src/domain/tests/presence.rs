//! Large rooms: joins and leaves summed up in presence events, member lists on request, and
//! small rooms as before.

use super::*;

/// A chat whose rooms are large above `large` members.
fn chat(large: usize) -> Chat {
    Chat::in_memory(ChatConfig {
        rate_limit: None,
        large_room: large,
        ..ChatConfig::default()
    })
}

fn member(chat: &Chat, name: &str) -> (String, Entered) {
    let (joined, receipt) = chat.join(Some(name), Lifetime::Connection, None).unwrap();
    futures::executor::block_on(receipt.stored()).unwrap();
    (joined.session, joined.room)
}

/// Everything queued for a session once the chat has settled.
fn drain(chat: &Chat, session: &str) -> Vec<Event> {
    futures::executor::block_on(chat.settled());
    let mut claimed = chat.reader(session).unwrap().try_claim().unwrap();
    let mut out = Vec::new();
    while let Ok(event) = claimed.unread.rx.try_recv() {
        out.push(event.event.clone());
    }
    out
}

/// The server's tick, once everything accepted so far is delivered.
fn tick(chat: &Chat, now: Instant) {
    futures::executor::block_on(chat.settled());
    chat.flush_presence(now);
}

fn kinds(events: &[Event]) -> Vec<EventKind> {
    events.iter().map(|e| e.kind).collect()
}

fn names(members: &[MemberInfo]) -> Vec<&str> {
    members.iter().map(|m| m.name.as_str()).collect()
}

#[test]
fn a_small_room_tells_each_join_and_leave_and_lists_its_members() {
    let chat = chat(3);
    let (alice, _) = member(&chat, "alice");
    let (bob, entered) = member(&chat, "bob");
    assert_eq!(names(&entered.members), ["alice", "bob"]);
    assert_eq!(entered.member_count, 2);
    chat.leave(&bob, None).unwrap();
    tick(&chat, Instant::now());
    assert_eq!(
        kinds(&drain(&chat, &alice)),
        [EventKind::Join, EventKind::Leave]
    );
}

#[test]
fn a_large_room_sums_up_joins_and_leaves_in_one_presence_event_per_tick() {
    let chat = chat(2);
    let (alice, _) = member(&chat, "alice");
    let (_bob, _) = member(&chat, "bob");
    assert_eq!(
        kinds(&drain(&chat, &alice)),
        [EventKind::Join],
        "two: still small"
    );
    // The third makes it large: it is not given the list, only the count.
    let (carol, entered) = member(&chat, "carol");
    assert!(entered.members.is_empty());
    assert_eq!(entered.member_count, 3);
    let (_dave, _) = member(&chat, "dave");
    chat.leave(&carol, None).unwrap();
    assert!(drain(&chat, &alice).is_empty(), "nothing before the tick");
    tick(&chat, Instant::now());
    let events = drain(&chat, &alice);
    assert_eq!(kinds(&events), [EventKind::Presence]);
    let presence = events[0].presence.as_deref().unwrap();
    assert_eq!((presence.count, presence.joins, presence.leaves), (3, 2, 1));
    assert!(presence.complete);
    assert_eq!(names(&presence.joined), ["dave"]);
    assert_eq!(names(&presence.left), ["carol"]);
    assert_eq!(presence.members, None);
    assert_eq!(events[0].seq, 0, "no room event: its seq is no cursor");
    // Nothing changed: no event at the next tick.
    tick(&chat, Instant::now());
    assert!(drain(&chat, &alice).is_empty());
    // The joins and leaves are stored all the same, in the room's seq.
    let stored = chat.log().after(DEFAULT_ROOM, 0, 100).unwrap();
    let stored: Vec<(EventKind, &str)> = stored
        .iter()
        .map(|e| (e.kind, e.from.name.as_str()))
        .collect();
    assert_eq!(
        stored,
        [
            (EventKind::Join, "alice"),
            (EventKind::Join, "bob"),
            (EventKind::Join, "carol"),
            (EventKind::Join, "dave"),
            (EventKind::Leave, "carol"),
        ]
    );
}

#[test]
fn a_member_who_came_and_went_within_a_tick_is_named_once_as_it_ended_up() {
    let chat = chat(1);
    let (alice, _) = member(&chat, "alice");
    let (_bob, _) = member(&chat, "bob");
    drain(&chat, &alice);
    tick(&chat, Instant::now());
    drain(&chat, &alice);
    let (carol, _) = member(&chat, "carol");
    chat.leave(&carol, None).unwrap();
    let (erin, _) = member(&chat, "erin");
    chat.nick(&erin, "eve").unwrap();
    tick(&chat, Instant::now());
    let events = drain(&chat, &alice);
    // The rename is told as it happens; the presence event names eve as she is now.
    assert_eq!(kinds(&events), [EventKind::Nick, EventKind::Presence]);
    let presence = events[1].presence.as_deref().unwrap();
    assert_eq!((presence.joins, presence.leaves), (2, 1));
    assert_eq!(names(&presence.joined), ["eve"]);
    assert_eq!(names(&presence.left), ["carol"]);
}

#[test]
fn past_the_names_a_presence_event_can_hold_it_gives_the_counts_alone() {
    let chat = chat(1);
    let (alice, _) = member(&chat, "alice");
    for i in 0..=PRESENCE_NAMES {
        member(&chat, &format!("m{i}"));
    }
    tick(&chat, Instant::now());
    let events = drain(&chat, &alice);
    // Bob's join made the room large: it and every later one are summed up.
    assert_eq!(kinds(&events), [EventKind::Presence]);
    let presence = events.last().unwrap().presence.as_deref().unwrap();
    assert_eq!(presence.joins as usize, PRESENCE_NAMES + 1);
    assert_eq!(presence.count as usize, PRESENCE_NAMES + 2);
    assert!(!presence.complete);
    assert!(presence.joined.is_empty() && presence.left.is_empty());
    // One fewer and every change is named.
    let chat = self::chat(1);
    let (alice, _) = member(&chat, "alice");
    member(&chat, "first");
    for i in 1..PRESENCE_NAMES {
        member(&chat, &format!("m{i}"));
    }
    tick(&chat, Instant::now());
    let events = drain(&chat, &alice);
    let presence = events.last().unwrap().presence.as_deref().unwrap();
    assert!(presence.complete);
    assert_eq!(presence.joined.len(), PRESENCE_NAMES);
}

#[test]
fn a_member_list_asked_for_comes_with_the_next_tick_and_at_most_every_half_second() {
    let chat = chat(1);
    let (alice, _) = member(&chat, "alice");
    member(&chat, "bob");
    member(&chat, "carol");
    let now = Instant::now();
    tick(&chat, now);
    drain(&chat, &alice);
    assert_eq!(chat.sync_members(&alice, DEFAULT_ROOM).unwrap(), 3);
    assert!(drain(&chat, &alice).is_empty(), "not before the tick");
    tick(&chat, now);
    let events = drain(&chat, &alice);
    assert_eq!(kinds(&events), [EventKind::Presence]);
    let list = events[0]
        .presence
        .as_deref()
        .unwrap()
        .members
        .clone()
        .unwrap();
    assert_eq!(names(&list), ["alice", "bob", "carol"]);
    // Asking again at once: it waits for a tick LIST_EVERY later.
    chat.sync_members(&alice, DEFAULT_ROOM).unwrap();
    chat.sync_members(&alice, DEFAULT_ROOM).unwrap();
    tick(&chat, now + LIST_EVERY / 2);
    assert!(drain(&chat, &alice).is_empty(), "too soon");
    tick(&chat, now + LIST_EVERY);
    assert_eq!(kinds(&drain(&chat, &alice)), [EventKind::Presence], "once");
    tick(&chat, now + LIST_EVERY * 3);
    assert!(drain(&chat, &alice).is_empty(), "asked for once, sent once");
}

#[test]
fn only_members_of_a_room_may_ask_for_its_list() {
    let chat = chat(1);
    let (alice, _) = member(&chat, "alice");
    let (bob, _) = member(&chat, "bob");
    chat.enter(&bob, "#elsewhere").unwrap();
    assert!(matches!(
        chat.sync_members(&alice, "#elsewhere"),
        Err(RoomError::NotInRoom(_))
    ));
    assert!(matches!(
        chat.sync_members(&alice, "#nowhere"),
        Err(RoomError::NoSuchRoom(_))
    ));
    assert!(matches!(
        chat.sync_members("no-such-session", DEFAULT_ROOM),
        Err(RoomError::UnknownSession)
    ));
}

#[test]
fn a_large_room_down_to_half_its_size_sends_the_whole_list_then_each_join_again() {
    let chat = chat(4);
    let (alice, _) = member(&chat, "alice");
    let others: Vec<String> = ["b", "c", "d", "e"]
        .iter()
        .map(|name| member(&chat, name).0)
        .collect();
    tick(&chat, Instant::now());
    drain(&chat, &alice);
    // Five: large. Down to three it stays large (more than half of four) ...
    chat.leave(&others[0], None).unwrap();
    chat.leave(&others[1], None).unwrap();
    drain(&chat, &alice);
    // ... and at two it is small again: the last presence event carries the list, and
    // the leave that made it small is told as itself, after it.
    chat.leave(&others[2], None).unwrap();
    let events = drain(&chat, &alice);
    assert_eq!(kinds(&events), [EventKind::Presence, EventKind::Leave]);
    let presence = events[0].presence.as_deref().unwrap();
    assert_eq!(presence.leaves, 2);
    assert_eq!(names(presence.members.as_ref().unwrap()), ["alice", "e"]);
    member(&chat, "f");
    assert_eq!(kinds(&drain(&chat, &alice)), [EventKind::Join]);
}

#[test]
fn rooms_are_never_large_with_a_large_room_size_of_zero() {
    let chat = chat(0);
    let (alice, _) = member(&chat, "alice");
    for i in 0..5 {
        member(&chat, &format!("m{i}"));
    }
    let (_, entered) = member(&chat, "last");
    assert_eq!(entered.members.len(), 7);
    tick(&chat, Instant::now());
    assert!(
        drain(&chat, &alice)
            .iter()
            .all(|e| e.kind == EventKind::Join)
    );
}

#[test]
fn an_identitys_other_sessions_hear_its_own_joins_and_parts_in_a_large_room() {
    let chat = chat(1);
    let (_alice, _) = member(&chat, "alice");
    let (bob, _) = member(&chat, "bob");
    let laptop = super::moderation::keyed(&chat, "carol", 3);
    let phone = super::moderation::keyed(&chat, "carol", 3);
    tick(&chat, Instant::now());
    drain(&chat, &phone.session);
    drain(&chat, &bob);
    // #general is large: the laptop's part is summed up for bob, told as itself to the phone.
    chat.part(&laptop.session, DEFAULT_ROOM, None).unwrap();
    let told = drain(&chat, &phone.session);
    assert_eq!(kinds(&told), [EventKind::Leave]);
    assert!(drain(&chat, &bob).is_empty());
    tick(&chat, Instant::now());
    assert_eq!(kinds(&drain(&chat, &bob)), [EventKind::Presence]);
}

#[test]
fn a_member_kicked_within_a_tick_is_not_named_by_it() {
    let chat = self::chat(2);
    let owner = super::moderation::keyed(&chat, "owner", 1);
    chat.enter(&owner.session, "#x").unwrap();
    let others: Vec<Joined> = (2..5)
        .map(|n| super::moderation::keyed(&chat, &format!("m{n}"), n))
        .collect();
    for other in &others {
        chat.enter(&other.session, "#x").unwrap();
    }
    futures::executor::block_on(chat.settled());
    chat.flush_presence(Instant::now());
    let watcher = &others[0].session;
    drain(&chat, watcher);
    let late = super::moderation::keyed(&chat, "late", 9);
    chat.enter(&late.session, "#x").unwrap();
    futures::executor::block_on(chat.settled());
    let kick = chat.kick(&owner.session, "#x", "late", None).unwrap();
    futures::executor::block_on(kick.stored()).unwrap();
    tick(&chat, Instant::now());
    let events: Vec<Event> = drain(&chat, watcher)
        .into_iter()
        .filter(|e| e.room == "#x")
        .collect();
    assert_eq!(kinds(&events), [EventKind::Kick, EventKind::Presence]);
    let presence = events[1].presence.as_deref().unwrap();
    assert!(presence.joined.is_empty(), "not back with the tick");
    assert!(presence.left.is_empty(), "nor said to have left");
    assert_eq!(presence.count, 4);
}

#[test]
fn a_tick_sends_a_bounded_number_of_member_lists_and_the_rest_wait_for_the_next() {
    let chat = chat(1);
    let sessions: Vec<String> = (0..LISTS_PER_TICK + 5)
        .map(|n| member(&chat, &format!("m{n}")).0)
        .collect();
    let now = Instant::now();
    tick(&chat, now);
    for session in &sessions {
        drain(&chat, session);
        chat.sync_members(session, DEFAULT_ROOM).unwrap();
    }
    let listed = |chat: &Chat| {
        sessions
            .iter()
            .filter(|s| {
                drain(chat, s)
                    .iter()
                    .any(|e| e.presence.as_ref().is_some_and(|p| p.members.is_some()))
            })
            .count()
    };
    tick(&chat, now);
    assert_eq!(listed(&chat), LISTS_PER_TICK);
    tick(&chat, now);
    assert_eq!(listed(&chat), 5, "the rest at the next tick");
}
