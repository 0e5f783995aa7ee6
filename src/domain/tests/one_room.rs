//! One room: fan-out without self-echo, joins and leaves, seqs, sessions and readers, slow
//! members, idle expiry, shutdown, and storage falling behind.

use super::*;

#[test]
fn message_reaches_every_other_member_but_not_the_sender() {
    let room = Room::default();
    let alice = room.join(Some("alice"), Lifetime::Connection).unwrap();
    settle(&room);
    let bob = room.join(Some("bob"), Lifetime::Connection).unwrap();
    settle(&room);
    let carol = room.join(Some("carol"), Lifetime::Connection).unwrap();
    settle(&room);
    queued(&room, &alice.session);
    queued(&room, &bob.session);

    room.send(&alice.session, "hi all").unwrap();

    let msg = (EventKind::Message, "alice".into(), Some("hi all".into()));
    assert_eq!(summary(&queued(&room, &bob.session)), vec![msg.clone()]);
    assert_eq!(summary(&queued(&room, &carol.session)), vec![msg]);
    assert!(queued(&room, &alice.session).is_empty(), "no self-echo");
}

#[test]
fn others_are_told_of_joins_and_leaves_but_not_the_member_itself() {
    let room = Room::default();
    let alice = room.join(Some("alice"), Lifetime::Connection).unwrap();
    settle(&room);
    let bob = room.join(Some("bob"), Lifetime::Connection).unwrap();
    settle(&room);
    assert!(
        queued(&room, &bob.session).is_empty(),
        "bob hears nothing of his own join"
    );
    room.leave(&bob.session, LeaveReason::Left).unwrap();

    assert_eq!(
        summary(&queued(&room, &alice.session)),
        vec![
            (EventKind::Join, "bob".into(), None),
            (EventKind::Leave, "bob".into(), None),
        ]
    );
}

#[test]
fn join_result_lists_everyone_including_the_new_member() {
    let room = Room::default();
    room.join(Some("alice"), Lifetime::Connection).unwrap();
    let bob = room.join(Some("bob"), Lifetime::Connection).unwrap();
    let names: Vec<_> = bob.members.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["alice", "bob"]);
    assert!(bob.members.iter().any(|m| m.id == bob.id));
}

#[test]
fn seq_rises_by_one_for_every_event() {
    let room = Room::default();
    let watcher = room.join(Some("watcher"), Lifetime::Connection).unwrap();
    let alice = room.join(Some("alice"), Lifetime::Connection).unwrap();
    room.send(&alice.session, "one").unwrap();
    let seq = room.send(&alice.session, "two").unwrap();
    room.leave(&alice.session, LeaveReason::Left).unwrap();

    let seqs: Vec<u64> = queued(&room, &watcher.session)
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(seqs, [2, 3, 4, 5]);
    assert_eq!(seq, 4);
}

#[test]
fn a_session_leaves_only_once() {
    let room = Room::default();
    let alice = room.join(Some("alice"), Lifetime::Connection).unwrap();
    let bob = room.join(Some("bob"), Lifetime::Connection).unwrap();
    room.leave(&bob.session, LeaveReason::Left).unwrap();
    assert_eq!(
        room.leave(&bob.session, LeaveReason::ConnectionClosed),
        Err(RoomError::UnknownSession)
    );
    let leaves = queued(&room, &alice.session)
        .into_iter()
        .filter(|e| e.kind == EventKind::Leave)
        .count();
    assert_eq!(leaves, 1);
}

#[test]
fn leave_not_asked_for_carries_its_reason() {
    let room = Room::default();
    let alice = room.join(Some("alice"), Lifetime::Connection).unwrap();
    let bob = room.join(Some("bob"), Lifetime::Connection).unwrap();
    room.leave(&bob.session, LeaveReason::ConnectionClosed)
        .unwrap();
    let events = queued(&room, &alice.session);
    assert_eq!(events[1].text.as_deref(), Some("connection closed"));
}

#[test]
fn unknown_session_is_refused_everywhere() {
    let room = Room::default();
    assert_eq!(room.send("nope", "hi"), Err(RoomError::UnknownSession));
    assert_eq!(
        room.leave("nope", LeaveReason::Left),
        Err(RoomError::UnknownSession)
    );
    assert!(matches!(
        room.reader("nope"),
        Err(RoomError::UnknownSession)
    ));
    assert_eq!(room.member("nope"), Err(RoomError::UnknownSession));
}

#[test]
fn empty_and_oversized_text_are_refused_not_trimmed() {
    let room = small_room(8);
    let alice = room.join(Some("alice"), Lifetime::Connection).unwrap();
    assert_eq!(
        room.send(&alice.session, " \n\t "),
        Err(RoomError::EmptyText)
    );
    assert_eq!(
        room.send(&alice.session, "\x1b\x07"),
        Err(RoomError::EmptyText)
    );
    let max = room.config().max_text_bytes;
    assert_eq!(
        room.send(&alice.session, &"x".repeat(max + 1)),
        Err(RoomError::TextTooLong { len: max + 1, max })
    );
    assert!(room.send(&alice.session, &"x".repeat(max)).is_ok());
}

#[test]
fn message_text_is_cleaned_before_fan_out() {
    let room = Room::default();
    let alice = room.join(Some("alice"), Lifetime::Connection).unwrap();
    settle(&room);
    let bob = room.join(Some("bob"), Lifetime::Connection).unwrap();
    settle(&room);
    room.send(&alice.session, "\x1b[2Jhi\u{202E}").unwrap();
    assert_eq!(
        queued(&room, &bob.session)[0].text.as_deref(),
        Some("[2Jhi")
    );
}

#[test]
fn slow_member_is_disconnected_not_waited_for() {
    let room = small_room(4);
    let alice = room.join(Some("alice"), Lifetime::Connection).unwrap();
    let slow = room.join(Some("slow"), Lifetime::Connection).unwrap();
    let fast = room.join(Some("fast"), Lifetime::Connection).unwrap();
    queued(&room, &alice.session);

    for i in 0..10 {
        room.send(&alice.session, &format!("m{i}")).unwrap();
        queued(&room, &fast.session);
    }

    assert_eq!(
        room.send(&slow.session, "hi"),
        Err(RoomError::UnknownSession)
    );
    let alice_saw = summary(&queued(&room, &alice.session));
    assert_eq!(
        alice_saw,
        vec![(EventKind::Leave, "slow".into(), Some("too slow".into()))],
        "exactly one leave, with its reason"
    );
    let names: Vec<_> = room.members().into_iter().map(|m| m.name).collect();
    assert_eq!(names, ["alice", "fast"]);
}

#[tokio::test]
async fn a_removed_member_reads_what_was_queued_then_learns_why() {
    let room = small_room(2);
    let alice = room.join(Some("alice"), Lifetime::Connection).unwrap();
    settle(&room);
    let slow = room.join(Some("slow"), Lifetime::Connection).unwrap();
    settle(&room);
    let mut reader = room.reader(&slow.session).unwrap().try_claim().unwrap();
    for i in 0..3 {
        room.send(&alice.session, &format!("m{i}")).unwrap();
    }
    room.settled().await;
    assert_eq!(reader.next().await.unwrap().text.as_deref(), Some("m0"));
    assert_eq!(reader.next().await.unwrap().text.as_deref(), Some("m1"));
    assert_eq!(reader.next().await, Err(LeaveReason::TooSlow));
}

#[tokio::test]
async fn an_event_put_back_is_read_first_by_the_next_reader() {
    let room = Room::default();
    let alice = room.join(Some("alice"), Lifetime::Connection).unwrap();
    settle(&room);
    let bob = room.join(Some("bob"), Lifetime::Connection).unwrap();
    settle(&room);
    room.send(&alice.session, "one").unwrap();
    room.send(&alice.session, "two").unwrap();
    settle(&room);
    let mut first = room.reader(&bob.session).unwrap().try_claim().unwrap();
    let one = first.next().await.unwrap();
    first.put_back(one);
    drop(first);
    let mut second = room.reader(&bob.session).unwrap().claim().await;
    let texts: Vec<_> = second
        .next_batch(10)
        .await
        .unwrap()
        .iter()
        .map(|e| e.text.clone().unwrap())
        .collect();
    assert_eq!(texts, ["one", "two"]);
}

#[test]
fn inbox_has_one_reader_at_a_time() {
    let room = Room::default();
    let alice = room.join(Some("alice"), Lifetime::Connection).unwrap();
    let _first = room.reader(&alice.session).unwrap().try_claim().unwrap();
    assert!(matches!(
        room.reader(&alice.session).unwrap().try_claim(),
        Err(RoomError::InboxBusy)
    ));
}

#[test]
fn idle_http_member_expires_but_connection_member_does_not() {
    let room = Room::default();
    let watcher = room.join(Some("watcher"), Lifetime::Connection).unwrap();
    let http = room.join(Some("http"), Lifetime::Idle).unwrap();
    let idle = Duration::from_secs(60);
    let later = Instant::now() + Duration::from_secs(61);

    assert_eq!(room.expire_idle(Instant::now(), idle), 0);
    assert_eq!(room.expire_idle(later, idle), 1);
    assert_eq!(room.member(&http.session), Err(RoomError::UnknownSession));
    assert!(room.member(&watcher.session).is_ok());
    let last = queued(&room, &watcher.session).pop().unwrap();
    assert_eq!(last.kind, EventKind::Leave);
    assert_eq!(last.text.as_deref(), Some("idle timeout"));
}

#[test]
fn member_in_a_long_poll_is_not_idle() {
    let room = Room::default();
    let http = room.join(Some("http"), Lifetime::Idle).unwrap();
    let later = Instant::now() + Duration::from_secs(61);
    let reader = room.reader(&http.session).unwrap();
    assert_eq!(room.expire_idle(later, Duration::from_secs(60)), 0);
    drop(reader);
    assert!(room.member(&http.session).is_ok());
}

#[tokio::test]
async fn shutdown_tells_everyone_then_ends_every_session() {
    let room = Room::default();
    let alice = room.join(Some("alice"), Lifetime::Connection).unwrap();
    let bob = room.join(Some("bob"), Lifetime::Idle).unwrap();
    queued(&room, &alice.session);
    let mut reader = room.reader(&alice.session).unwrap().try_claim().unwrap();
    let end = room.on_end(&bob.session).unwrap();

    room.shutdown(Duration::from_secs(10)).await;

    let notice = reader.next().await.unwrap();
    assert_eq!(
        (
            notice.kind,
            notice.from.name.as_str(),
            notice.text.as_deref()
        ),
        (EventKind::System, SERVER_NAME, Some("server shutting down"))
    );
    assert_eq!(notice.from.id, Uuid::nil());
    assert_eq!(reader.next().await, Err(LeaveReason::ServerShutdown));
    assert_eq!(end.reason().await, LeaveReason::ServerShutdown);
    assert!(room.members().is_empty());
    assert!(!LeaveReason::ServerShutdown.closes_connection());
    assert_eq!(
        room.join(Some("late"), Lifetime::Connection).unwrap_err(),
        RoomError::ShuttingDown,
        "nobody gets in after the goodbye"
    );
}

#[tokio::test]
async fn end_signal_says_why_a_session_ended() {
    let room = small_room(1);
    let alice = room.join(Some("alice"), Lifetime::Connection).unwrap();
    settle(&room);
    let slow = room.join(Some("slow"), Lifetime::Connection).unwrap();
    let end = room.on_end(&slow.session).unwrap();
    room.send(&alice.session, "one").unwrap();
    room.send(&alice.session, "two").unwrap();
    let reason = end.reason().await;
    assert_eq!(reason, LeaveReason::TooSlow);
    assert!(reason.closes_connection());
}

#[test]
fn messages_are_refused_while_storage_is_behind() {
    let room = Room::in_memory(RoomConfig {
        rate_limit: None,
        max_pending: 3,
        ..RoomConfig::default()
    });
    let alice = room.join(Some("alice"), Lifetime::Connection).unwrap();
    settle(&room);
    // With the store closed nothing gets stored: the backlog only grows.
    room.close_store(Duration::from_secs(10));
    for i in 0..3 {
        room.send(&alice.session, &format!("m{i}")).unwrap();
    }
    assert_eq!(
        room.send(&alice.session, "m3"),
        Err(RoomError::StorageBehind)
    );
    // Renames and joins wait for the disk too, so they are held back as well.
    assert_eq!(
        room.nick(&alice.session, "alicia"),
        Err(RoomError::StorageBehind)
    );
    assert_eq!(room.member(&alice.session).unwrap().name, "alice");
    assert!(matches!(
        room.join(Some("bob"), Lifetime::Connection),
        Err(RoomError::StorageBehind)
    ));
    assert_eq!(room.members().len(), 1);
}

#[test]
fn since_ahead_of_the_room_is_refused() {
    let room = Room::default();
    let alice = room.join(Some("alice"), Lifetime::Connection).unwrap();
    room.send(&alice.session, "hi").unwrap();
    let cursor = |since: u64| {
        let cursors = [(DEFAULT_ROOM.to_owned(), since)].into();
        room.check_cursors(&alice.session, &cursors).map(drop)
    };
    assert_eq!(cursor(2), Ok(()));
    assert_eq!(
        cursor(3),
        Err(RoomError::SinceAhead {
            room: DEFAULT_ROOM.into(),
            since: 3,
            latest: 2
        })
    );
}

#[test]
fn an_action_is_delivered_as_its_own_kind() {
    let room = Room::default();
    let alice = room.join(Some("alice"), Lifetime::Connection).unwrap();
    settle(&room);
    let bob = room.join(Some("bob"), Lifetime::Connection).unwrap();
    settle(&room);
    room.act(&alice.session, "waves").unwrap();
    assert_eq!(
        summary(&queued(&room, &bob.session)),
        vec![(EventKind::Action, "alice".into(), Some("waves".into()))]
    );
}

#[test]
fn session_secrets_are_128_bits_of_hex() {
    let room = Room::default();
    let a = room.join(None, Lifetime::Connection).unwrap().session;
    let b = room.join(None, Lifetime::Connection).unwrap().session;
    assert_eq!(a.len(), 32);
    assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(a, b);
}
