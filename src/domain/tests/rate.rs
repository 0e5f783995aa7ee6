//! Rate limits: bursts, the wait to retry, flooding, and what counts against the limit.

use super::*;

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
