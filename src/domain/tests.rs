//! Unit tests of the chat domain: one room's behaviour (through `Room`, the single-room API
//! these were first written against, over the default room), then many rooms.

use std::time::{Duration, Instant};

use super::*;
use crate::text::{MAX_NAME_CHARS, clean_name};

mod many_rooms;
mod storage;

pub(super) type RoomConfig = ChatConfig;

/// The chat seen as its default room alone.
#[derive(Clone)]
pub(super) struct Room(pub(super) Chat);

/// What joining the default room tells a member.
#[derive(Debug)]
struct JoinResult {
    session: String,
    id: Uuid,
    name: String,
    members: Vec<MemberInfo>,
}

impl std::ops::Deref for Room {
    type Target = Chat;

    fn deref(&self) -> &Chat {
        &self.0
    }
}

impl Room {
    fn default() -> Self {
        Self(Chat::default())
    }

    fn in_memory(config: ChatConfig) -> Self {
        Self(Chat::in_memory(config))
    }

    fn join(&self, name: Option<&str>, lifetime: Lifetime) -> Result<JoinResult, RoomError> {
        self.join_with_receipt(name, lifetime)
            .map(|(joined, _receipt)| joined)
    }

    fn send(&self, session: &str, text: &str) -> Result<u64, RoomError> {
        self.0
            .say(session, DEFAULT_ROOM, text, false)
            .map(|receipt| receipt.seq())
    }

    fn act(&self, session: &str, text: &str) -> Result<u64, RoomError> {
        self.0
            .say(session, DEFAULT_ROOM, text, true)
            .map(|receipt| receipt.seq())
    }

    fn send_at(&self, session: &str, text: &str, now: Instant) -> Result<u64, RoomError> {
        self.0
            .say_at(session, DEFAULT_ROOM, text, EventKind::Message, now)
            .map(|receipt| receipt.seq())
    }

    fn nick(&self, session: &str, name: &str) -> Result<String, RoomError> {
        self.0.nick(session, name).map(|(name, _)| name)
    }

    fn leave(&self, session: &str, reason: LeaveReason) -> Result<(), RoomError> {
        match reason {
            LeaveReason::Left => self.0.leave(session, None),
            reason => self.0.end_session(session, reason),
        }
    }

    fn members(&self) -> Vec<MemberInfo> {
        self.0.members(DEFAULT_ROOM).unwrap()
    }

    fn join_with_receipt(
        &self,
        name: Option<&str>,
        lifetime: Lifetime,
    ) -> Result<(JoinResult, Receipt), RoomError> {
        let (joined, receipt) = self.0.join(name, lifetime, None)?;
        Ok((
            JoinResult {
                session: joined.session,
                id: joined.info.id,
                name: joined.info.name,
                members: joined.room.members,
            },
            receipt,
        ))
    }

    fn nick_with_receipt(
        &self,
        session: &str,
        name: &str,
    ) -> Result<(String, Option<Receipt>), RoomError> {
        self.0
            .nick(session, name)
            .map(|(name, mut receipts)| (name, receipts.pop()))
    }
}

fn small_room(queue_capacity: usize) -> Room {
    Room::in_memory(RoomConfig {
        queue_capacity,
        ..RoomConfig::default()
    })
}

/// Waits until everything accepted so far is stored and delivered.
fn settle(room: &Room) {
    futures::executor::block_on(room.settled());
}

/// Everything queued for a session once the room has settled.
fn queued(room: &Room, session: &str) -> Vec<Event> {
    settle(room);
    let mut claimed = room.reader(session).unwrap().try_claim().unwrap();
    let mut out = Vec::new();
    while let Ok(event) = claimed.unread.rx.try_recv() {
        out.push(event.event.clone());
    }
    out
}

fn summary(events: &[Event]) -> Vec<(EventKind, String, Option<String>)> {
    events
        .iter()
        .map(|e| (e.kind, e.from.name.clone(), e.text.clone()))
        .collect()
}

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
fn taken_name_gets_a_numbered_variant_case_insensitively() {
    let room = Room::default();
    assert_eq!(
        room.join(Some("alice"), Lifetime::Connection).unwrap().name,
        "alice"
    );
    assert_eq!(
        room.join(Some("Alice"), Lifetime::Connection).unwrap().name,
        "Alice-2"
    );
    assert_eq!(
        room.join(Some("ALICE"), Lifetime::Connection).unwrap().name,
        "ALICE-3"
    );
}

#[test]
fn name_is_free_again_after_its_member_leaves() {
    let room = Room::default();
    let first = room.join(Some("alice"), Lifetime::Connection).unwrap();
    room.leave(&first.session, LeaveReason::Left).unwrap();
    assert_eq!(
        room.join(Some("alice"), Lifetime::Connection).unwrap().name,
        "alice"
    );
}

#[test]
fn numbered_variant_of_a_long_name_stays_within_the_limit() {
    let room = Room::default();
    let long = "n".repeat(MAX_NAME_CHARS);
    room.join(Some(&long), Lifetime::Connection).unwrap();
    let second = room.join(Some(&long), Lifetime::Connection).unwrap().name;
    assert_eq!(second.chars().count(), MAX_NAME_CHARS);
    assert!(second.ends_with("-2"));
}

#[test]
fn missing_or_unusable_name_becomes_a_guest_name() {
    let room = Room::default();
    for requested in [None, Some(""), Some("  \x1b\u{200B} ")] {
        let name = room.join(requested, Lifetime::Connection).unwrap().name;
        assert!(
            name.len() == "guest-0000".len() && name.starts_with("guest-"),
            "{name}"
        );
    }
}

#[test]
fn names_are_cleaned_before_use() {
    let room = Room::default();
    assert_eq!(
        room.join(Some(" \x1b[31mbob\n"), Lifetime::Connection)
            .unwrap()
            .name,
        "31mbob"
    );
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
fn a_refused_send_or_rename_still_counts_as_activity() {
    let room = small_room(8);
    let bot = room.join(Some("bot"), Lifetime::Idle).unwrap();
    let idle = Duration::from_secs(60);
    let too_long = "x".repeat(room.config().max_text_bytes + 1);
    let refused: [(&str, &dyn Fn() -> bool); 3] = [
        ("an empty send", &|| room.send(&bot.session, " ").is_err()),
        ("a send too long", &|| {
            room.send(&bot.session, &too_long).is_err()
        }),
        ("a reserved name", &|| {
            room.nick(&bot.session, "server").is_err()
        }),
    ];
    for (call, refuse) in refused {
        room.backdate_activity(&bot.session, 2 * idle);
        assert!(refuse(), "{call} is refused");
        assert_eq!(
            room.expire_idle(Instant::now(), idle),
            0,
            "{call} did not count as activity"
        );
    }
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

fn limited_room(per_sec: f64, burst: u32) -> Room {
    Room::in_memory(RoomConfig {
        rate_limit: Some(RateLimit { per_sec, burst }),
        ..RoomConfig::default()
    })
}

#[test]
fn burst_is_allowed_then_the_rate_limit_says_when_to_retry() {
    let room = limited_room(5.0, 10);
    let alice = room.join(Some("alice"), Lifetime::Connection).unwrap();
    let t0 = Instant::now();
    for i in 0..10 {
        room.send_at(&alice.session, &format!("m{i}"), t0).unwrap();
    }
    match room.send_at(&alice.session, "one too many", t0) {
        Err(RoomError::RateLimited { retry_after }) => {
            assert_eq!(retry_after, Duration::from_millis(200));
        }
        other => panic!("expected a rate limit, got {other:?}"),
    }
    // Waiting as told is enough.
    let later = t0 + Duration::from_millis(200);
    assert!(room.send_at(&alice.session, "patient", later).is_ok());
}

#[test]
fn rate_limit_message_names_the_wait() {
    let err = RoomError::RateLimited {
        retry_after: Duration::from_millis(200),
    };
    assert_eq!(err.to_string(), "rate limited, retry in 200 ms");
}

#[test]
fn a_multi_line_paste_is_one_message_against_the_limit() {
    let room = limited_room(5.0, 10);
    let alice = room.join(Some("alice"), Lifetime::Connection).unwrap();
    let paste = (0..50)
        .map(|i| format!("line {i}"))
        .collect::<Vec<_>>()
        .join("\n");
    let t0 = Instant::now();
    room.send_at(&alice.session, &paste, t0).unwrap();
    for i in 0..9 {
        room.send_at(&alice.session, &format!("m{i}"), t0).unwrap();
    }
}

#[test]
fn a_session_that_keeps_flooding_is_removed() {
    let room = limited_room(5.0, 10);
    let watcher = room.join(Some("watcher"), Lifetime::Connection).unwrap();
    let flooder = room.join(Some("flooder"), Lifetime::Connection).unwrap();
    let t0 = Instant::now();
    let outcomes: Vec<_> = (0..25)
        .map(|i| room.send_at(&flooder.session, &format!("m{i}"), t0))
        .collect();
    assert!(outcomes[..10].iter().all(Result::is_ok));
    assert!(
        outcomes[10..20]
            .iter()
            .all(|r| matches!(r, Err(RoomError::RateLimited { .. })))
    );
    assert_eq!(
        outcomes[20],
        Err(RoomError::SessionEnded(LeaveReason::Flooding))
    );
    assert_eq!(outcomes[21], Err(RoomError::UnknownSession));
    let last = queued(&room, &watcher.session).pop().unwrap();
    assert_eq!(
        (last.kind, last.from.name.as_str(), last.text.as_deref()),
        (EventKind::Leave, "flooder", Some("flooding"))
    );
}

#[test]
fn strikes_drain_for_a_client_that_slows_down() {
    let room = limited_room(5.0, 10);
    let alice = room.join(Some("alice"), Lifetime::Connection).unwrap();
    let mut now = Instant::now();
    // Over and over: use the burst, overshoot a few times, then pause as advised.
    for _ in 0..20 {
        while room.send_at(&alice.session, "hi", now).is_ok() {}
        for _ in 0..3 {
            assert!(matches!(
                room.send_at(&alice.session, "hi", now),
                Err(RoomError::RateLimited { .. })
            ));
        }
        now += Duration::from_secs(3);
    }
    assert!(room.member(&alice.session).is_ok(), "never kicked");
}

#[test]
fn without_a_rate_limit_anything_goes() {
    let room = Room::in_memory(RoomConfig {
        rate_limit: None,
        queue_capacity: 10_000,
        ..RoomConfig::default()
    });
    let alice = room.join(Some("alice"), Lifetime::Connection).unwrap();
    let t0 = Instant::now();
    for i in 0..1000 {
        room.send_at(&alice.session, &format!("m{i}"), t0).unwrap();
    }
}

#[test]
fn reserved_names_are_refused_in_any_disguise() {
    let room = Room::default();
    for name in [
        "server",
        "SYSTEM",
        " admin ",
        "ѕerver",
        "r\u{200B}oot",
        "ꓢerver",
    ] {
        assert!(
            matches!(
                room.join(Some(name), Lifetime::Connection),
                Err(RoomError::NameReserved(_))
            ),
            "{name:?} was let in"
        );
    }
    assert!(room.members().is_empty());
    assert_eq!(
        room.join(Some("serverless"), Lifetime::Connection)
            .unwrap()
            .name,
        "serverless"
    );
}

#[test]
fn look_alike_names_collide() {
    let room = Room::default();
    room.join(Some("alice"), Lifetime::Connection).unwrap();
    // Cyrillic а, and a Latin look-alike built from other letters.
    assert_eq!(
        room.join(Some("аlice"), Lifetime::Connection).unwrap().name,
        "аlice-2"
    );
    // A look-alike whose skeleton has capitals (Lisu ꓮ looks like A).
    assert_eq!(
        room.join(Some("ꓮlice"), Lifetime::Connection).unwrap().name,
        "ꓮlice-3"
    );
    room.join(Some("paypal"), Lifetime::Connection).unwrap();
    assert_eq!(
        room.join(Some("paypa1"), Lifetime::Connection)
            .unwrap()
            .name,
        "paypa1-2"
    );
}

#[test]
fn disguised_look_alikes_of_a_present_name_get_a_variant() {
    let room = Room::default();
    room.join(Some("alice"), Lifetime::Connection).unwrap();
    for disguise in [
        "aIice",          // capital I for l
        "alı\u{307}ce",   // dotless ı with a dot above
        "alice\u{2800}",  // a braille blank after it
        "alice\u{13430}", // an Egyptian hieroglyph joiner after it
        "ALICE",
        "ALlCE", // a small l for the I of ALICE
    ] {
        let name = room
            .join(Some(disguise), Lifetime::Connection)
            .unwrap()
            .name;
        assert!(
            name.ends_with(char::is_numeric) && name.contains('-'),
            "{disguise:?} got in as {name:?}"
        );
    }
}

#[test]
fn reserved_names_are_refused_in_cherokee_and_other_disguises() {
    let room = Room::default();
    for name in [
        "ᎪDMIN",
        "RᎾOT",
        "Ꮎperator",
        "admı\u{307}n",
        "ADMlN", // a small l: ADMIN in most fonts
        "server\u{2800}",
        "-!- server",
        "<server>",
    ] {
        assert!(
            matches!(
                room.join(Some(name), Lifetime::Connection),
                Err(RoomError::NameReserved(_))
            ),
            "{name:?} was let in"
        );
    }
    let alice = room.join(Some("alice"), Lifetime::Connection).unwrap();
    assert!(matches!(
        room.nick(&alice.session, "ᎪDMIN"),
        Err(RoomError::NameReserved(_))
    ));
}

#[test]
fn a_variant_of_a_long_name_is_clean_too() {
    let room = Room::default();
    // The cut for the suffix lands right after a ZWNJ, which then joins nothing.
    let long = format!("{}ب\u{200C}بب", "x".repeat(MAX_NAME_CHARS - 4));
    assert_eq!(clean_name(&long).as_deref(), Some(long.as_str()));
    room.join(Some(&long), Lifetime::Connection).unwrap();
    let variant = room.join(Some(&long), Lifetime::Connection).unwrap().name;
    assert_eq!(variant, format!("{}ب-2", "x".repeat(MAX_NAME_CHARS - 4)));
}

#[test]
fn a_crowd_of_one_name_does_not_make_each_join_search_through_it() {
    let room = Room::in_memory(RoomConfig {
        rate_limit: None,
        ..RoomConfig::default()
    });
    let mut names = std::collections::HashSet::new();
    for _ in 0..1_000 {
        names.insert(room.join(Some("alice"), Lifetime::Connection).unwrap().name);
    }
    assert_eq!(names.len(), 1_000, "every alice got a name of its own");
    assert!(
        names.contains("alice-9"),
        "the first variants come in order"
    );
    names::CANDIDATES_TRIED.with(|n| n.set(0));
    let last = room.join(Some("alice"), Lifetime::Connection).unwrap().name;
    assert!(last.starts_with("alice-") && !names.contains(&last));
    let tried = names::CANDIDATES_TRIED.with(std::cell::Cell::get);
    assert!(tried <= 40, "{tried} candidates looked at for one join");
}

#[test]
fn a_name_frees_every_key_it_held() {
    let room = Room::default();
    let alice = room.join(Some("ALICE"), Lifetime::Connection).unwrap();
    room.leave(&alice.session, LeaveReason::Left).unwrap();
    assert_eq!(
        room.join(Some("alice"), Lifetime::Connection).unwrap().name,
        "alice"
    );
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
fn nick_renames_and_tells_everyone_the_old_name() {
    let room = Room::default();
    let alice = room.join(Some("alice"), Lifetime::Connection).unwrap();
    settle(&room);
    let bob = room.join(Some("bob"), Lifetime::Connection).unwrap();
    settle(&room);
    assert_eq!(room.nick(&alice.session, " Alicia ").unwrap(), "Alicia");
    let events = queued(&room, &bob.session);
    assert_eq!(
        summary(&events),
        vec![(EventKind::Nick, "Alicia".into(), Some("alice".into()))]
    );
    assert_eq!(events[0].from.id, alice.id);
    assert_eq!(room.member(&alice.session).unwrap().name, "Alicia");
    // The old name is free again; our own name in another case is fine.
    assert_eq!(
        room.join(Some("alice"), Lifetime::Connection).unwrap().name,
        "alice"
    );
    assert_eq!(room.nick(&alice.session, "ALICIA").unwrap(), "ALICIA");
}

#[test]
fn nick_follows_the_rules_of_joining() {
    let room = Room::default();
    let alice = room.join(Some("alice"), Lifetime::Connection).unwrap();
    room.join(Some("bob"), Lifetime::Connection).unwrap();
    assert_eq!(room.nick(&alice.session, "bob").unwrap(), "bob-2");
    assert_eq!(
        room.nick(&alice.session, "ѕystem"),
        Err(RoomError::NameReserved("ѕystem".into()))
    );
    assert_eq!(
        room.nick(&alice.session, " \u{200B} "),
        Err(RoomError::NameEmpty)
    );
    assert_eq!(room.nick("nope", "x"), Err(RoomError::UnknownSession));
}

#[test]
fn nick_changes_count_against_the_rate_limit() {
    let room = limited_room(1.0, 2);
    let alice = room.join(Some("alice"), Lifetime::Connection).unwrap();
    room.nick(&alice.session, "a1").unwrap();
    room.nick(&alice.session, "a2").unwrap();
    assert!(matches!(
        room.nick(&alice.session, "a3"),
        Err(RoomError::RateLimited { .. })
    ));
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
