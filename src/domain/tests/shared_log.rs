//! A log several servers share: it numbers the rooms' events itself, brings in what the
//! other servers stored, with the members they seat, and the records they changed.

use std::sync::Mutex;

use super::*;

/// What the rooms handed the log: positions and events.
type Handed = Arc<Mutex<Vec<(u64, Arc<Stamped>)>>>;

/// A log the test drives by hand: it keeps what it is handed, and says what happened when
/// the test tells it to.
#[derive(Clone, Default)]
struct HandLog {
    appended: Handed,
    progress: Arc<Mutex<Option<OnProgress>>>,
}

impl HandLog {
    fn tell(&self, progress: Progress) {
        (self.progress.lock().unwrap().as_ref().expect("started"))(progress);
    }

    /// The position and event the rooms handed over last.
    fn last(&self) -> (u64, Event) {
        let appended = self.appended.lock().unwrap();
        let (position, event) = appended.last().expect("something appended");
        (*position, event.event.clone())
    }

    /// Stores the last event handed over as seq `seq`.
    fn store_last_as(&self, seq: u64) {
        let (position, event) = self.last();
        self.tell(Progress::Sequenced {
            position,
            event: Box::new(Event { seq, ..event }),
        });
    }
}

struct HandAppender(HandLog);

impl Appender for HandAppender {
    fn append(&self, position: u64, event: Arc<Stamped>) {
        self.0.appended.lock().unwrap().push((position, event));
    }
    fn record(&self, _position: u64, _record: Record) {}
    fn resume(&self) {}
    fn close(self: Box<Self>, _within: std::time::Duration) -> bool {
        true
    }
}

impl EventLog for HandLog {
    fn recovered(&self) -> Recovered {
        Recovered::default()
    }
    fn latest(&self, _: &str, _: usize) -> Result<Vec<Event>, LogError> {
        Ok(Vec::new())
    }
    fn before(&self, _: &str, _: u64, _: usize) -> Result<Vec<Event>, LogError> {
        Ok(Vec::new())
    }
    fn after(&self, _: &str, _: u64, _: usize) -> Result<Vec<Event>, LogError> {
        Ok(Vec::new())
    }
    fn start(&self, _: std::time::Duration, on_progress: OnProgress) -> Box<dyn Appender> {
        *self.progress.lock().unwrap() = Some(on_progress);
        Box::new(HandAppender(self.clone()))
    }
}

fn chat(log: &HandLog) -> Chat {
    let config = ChatConfig {
        rate_limit: None,
        ..ChatConfig::default()
    };
    Chat::new(config, Arc::new(log.clone())).unwrap()
}

/// An event in the default room from a member of another server.
fn theirs(seq: u64, kind: EventKind, from: &MemberInfo, text: Option<&str>) -> Event {
    Event {
        room: DEFAULT_ROOM.into(),
        seq,
        ts: unix_ms(),
        kind,
        from: from.clone(),
        text: text.map(str::to_owned),
        ..Default::default()
    }
}

fn follow(log: &HandLog, event: Event, via: &str) {
    log.tell(Progress::Followed {
        event: Box::new(event),
        via: via.into(),
    });
}

/// What is waiting in a session's queue.
fn waiting(chat: &Chat, session: &str) -> Vec<(u64, EventKind, Option<String>)> {
    let mut claimed = chat.reader(session).unwrap().try_claim().unwrap();
    let mut out = Vec::new();
    while let Ok(event) = claimed.unread.rx.try_recv() {
        out.push((event.seq, event.kind, event.text.clone()));
    }
    out
}

fn names(chat: &Chat) -> Vec<String> {
    chat.members(DEFAULT_ROOM)
        .unwrap()
        .into_iter()
        .map(|m| m.name)
        .collect()
}

#[test]
fn the_log_numbers_the_rooms_events_and_brings_in_the_other_servers() {
    let log = HandLog::default();
    let chat = chat(&log);
    let (alice, receipt) = chat
        .join(Some("alice"), Lifetime::Connection, None)
        .unwrap();
    let bob = MemberInfo::new(Uuid::new_v4(), "bob".into());
    // Bob joined through another server first: alice's join is stored after it.
    follow(&log, theirs(1, EventKind::Join, &bob, None), "n2");
    log.store_last_as(2);
    assert_eq!(futures::executor::block_on(receipt.stored()), Ok(2));
    assert_eq!(names(&chat), ["alice", "bob"]);

    follow(&log, theirs(3, EventKind::Message, &bob, Some("hi")), "n2");
    let said = chat
        .say(&alice.session, DEFAULT_ROOM, "hello", false)
        .unwrap();
    log.store_last_as(4);
    assert_eq!(futures::executor::block_on(said.stored()), Ok(4));
    // Handed over twice: delivered once.
    follow(&log, theirs(3, EventKind::Message, &bob, Some("hi")), "n2");
    follow(&log, theirs(5, EventKind::Leave, &bob, None), "n2");
    follow(&log, theirs(5, EventKind::Leave, &bob, None), "n2");
    assert_eq!(names(&chat), ["alice"]);
    assert_eq!(
        waiting(&chat, &alice.session),
        [
            (1, EventKind::Join, None),
            (3, EventKind::Message, Some("hi".into())),
            (5, EventKind::Leave, None),
        ],
        "the others' events, in the room's order, and never her own"
    );
    let summary = chat
        .rooms()
        .into_iter()
        .find(|r| r.name == DEFAULT_ROOM)
        .unwrap();
    assert_eq!(summary.last_seq, 5);
}

#[test]
fn a_member_in_through_two_servers_stays_until_it_leaves_both() {
    let log = HandLog::default();
    let chat = chat(&log);
    let (_alice, _receipt) = chat
        .join(Some("alice"), Lifetime::Connection, None)
        .unwrap();
    log.store_last_as(1);
    let bob = MemberInfo::new(Uuid::new_v4(), "bob".into());
    follow(&log, theirs(2, EventKind::Join, &bob, None), "n2");
    follow(&log, theirs(3, EventKind::Join, &bob, None), "n3");
    // Server n2 went away and its leave of bob was recorded; bob is still in through n3.
    follow(&log, theirs(4, EventKind::Leave, &bob, None), "n2");
    assert_eq!(names(&chat), ["alice", "bob"]);
    follow(&log, theirs(5, EventKind::Leave, &bob, None), "n3");
    assert_eq!(names(&chat), ["alice"]);
}

#[test]
fn an_event_the_rooms_took_back_but_the_log_stored_is_delivered_all_the_same() {
    let log = HandLog::default();
    let chat = chat(&log);
    let (alice, _) = chat
        .join(Some("alice"), Lifetime::Connection, None)
        .unwrap();
    log.store_last_as(1);
    let (bob, _) = chat.join(Some("bob"), Lifetime::Connection, None).unwrap();
    log.store_last_as(2);
    let _ = waiting(&chat, &alice.session);
    let said = chat.say(&bob.session, DEFAULT_ROOM, "late", false).unwrap();
    let (position, event) = log.last();
    log.tell(Progress::Dropped { from: position });
    assert!(futures::executor::block_on(said.stored()).is_err());
    // The engine kept it after all: everyone hears it, at the seq it has.
    log.tell(Progress::Sequenced {
        position,
        event: Box::new(Event { seq: 3, ..event }),
    });
    assert_eq!(
        waiting(&chat, &alice.session),
        [(3, EventKind::Message, Some("late".into()))]
    );
}

#[test]
fn a_ban_made_on_another_server_keeps_the_member_out_here() {
    let log = HandLog::default();
    let chat = chat(&log);
    let (bob, _) = chat.join(Some("bob"), Lifetime::Connection, None).unwrap();
    log.store_last_as(1);
    let mut policy = RoomPolicy::default();
    add_ban(
        &mut policy.bans,
        Ban {
            target: Target::Address(std::net::Ipv4Addr::LOCALHOST.into()),
            name: "bob".into(),
            fingerprint: None,
            until: None,
            reason: None,
            by: "op".into(),
            at: unix_ms(),
        },
    )
    .unwrap();
    log.tell(Progress::Changed(Box::new(Record::RoomPolicy {
        room: "#x".into(),
        policy,
    })));
    let (joined, _) = chat
        .join_from(
            Some(std::net::Ipv4Addr::LOCALHOST.into()),
            Some("carol"),
            Lifetime::Connection,
            None,
            None,
            || Ok(()),
        )
        .unwrap();
    log.store_last_as(2);
    let entered = chat.enter(&joined.session, "#x");
    assert!(
        matches!(entered, Err(RoomError::Banned { .. })),
        "{entered:?}"
    );
    drop(bob);
}

#[test]
fn a_marker_moved_in_a_terminal_on_another_server_reaches_this_ones() {
    let log = HandLog::default();
    let chat = chat(&log);
    let key = Credentials {
        key: "key-1".into(),
        id: Uuid::new_v8([1; 16]),
        fingerprint: "SHA256:test-1".into(),
    };
    let (alice, _) = chat
        .join_as(Some("alice"), Lifetime::Connection, None, Some(key), || {
            Ok(())
        })
        .unwrap();
    log.store_last_as(7);
    let marker = |seq| {
        Progress::Changed(Box::new(Record::Marker {
            key: "key-1".into(),
            room: DEFAULT_ROOM.into(),
            seq,
        }))
    };
    log.tell(marker(5));
    // Told again, or behind: nothing more.
    log.tell(marker(5));
    log.tell(marker(3));
    assert_eq!(waiting(&chat, &alice.session), [(5, EventKind::Read, None)]);
}

#[test]
fn a_name_in_use_through_another_server_is_not_given_here() {
    let log = HandLog::default();
    let chat = chat(&log);
    let (_carol, _) = chat
        .join(Some("carol"), Lifetime::Connection, None)
        .unwrap();
    log.store_last_as(1);
    let bob = MemberInfo::new(Uuid::new_v4(), "bob".into());
    follow(&log, theirs(2, EventKind::Join, &bob, None), "n2");
    let (other, _) = chat.join(Some("bob"), Lifetime::Connection, None).unwrap();
    log.store_last_as(3);
    assert_eq!(other.info.name, "bob-2");
    follow(&log, theirs(4, EventKind::Leave, &bob, None), "n2");
    let (again, _) = chat.join(Some("bob"), Lifetime::Connection, None).unwrap();
    assert_eq!(again.info.name, "bob", "free once its holder has left");

    // An identity in through another server keeps its own name here.
    let id = Uuid::new_v8([2; 16]);
    log.tell(Progress::Changed(Box::new(Record::Identity(
        IdentityRecord {
            key: "key-2".into(),
            id,
            name: Some("dave".into()),
            ..Default::default()
        },
    ))));
    follow(
        &log,
        theirs(
            5,
            EventKind::Join,
            &MemberInfo::new(id, "dave".into()),
            None,
        ),
        "n2",
    );
    let key = Credentials {
        key: "key-2".into(),
        id,
        fingerprint: "SHA256:test-2".into(),
    };
    let (dave, _) = chat
        .join_as(Some("dave"), Lifetime::Connection, None, Some(key), || {
            Ok(())
        })
        .unwrap();
    assert_eq!(dave.info.name, "dave");
}

#[test]
fn a_level_set_in_a_terminal_on_another_server_reaches_this_ones() {
    let log = HandLog::default();
    let chat = chat(&log);
    let key = Credentials {
        key: "key-1".into(),
        id: Uuid::new_v8([1; 16]),
        fingerprint: "SHA256:test-1".into(),
    };
    let (alice, _) = chat
        .join_as(Some("alice"), Lifetime::Connection, None, Some(key), || {
            Ok(())
        })
        .unwrap();
    log.store_last_as(1);
    let level = |level| {
        Progress::Changed(Box::new(Record::Notify {
            key: "key-1".into(),
            room: DEFAULT_ROOM.into(),
            level,
        }))
    };
    log.tell(level(NotifyLevel::Off));
    // Told again: nothing more.
    log.tell(level(NotifyLevel::Off));
    assert_eq!(
        waiting(&chat, &alice.session),
        [(0, EventKind::Notify, Some("off".into()))]
    );
    assert_eq!(
        chat.set_notify(&alice.session, DEFAULT_ROOM, None)
            .unwrap()
            .1,
        NotifyLevel::Off
    );
}
