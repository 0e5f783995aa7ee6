//! Tests of what identities bring the client: rooms and conversations given back by the
//! server with their unread counts and markers, direct messages, other sessions of our
//! identity, read markers, `/whois` and guests.

use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::room_tests::{event, in_rooms, member, say, texts};
use super::{Action, App, Bell, LineKind, NetEvent};
use crate::rpc::types::{EventKind, MemberInfo, RoomJoined, Whois};

pub(crate) const DM: &str =
    "dm:00000000-0000-0000-0000-00000000000a+00000000-0000-0000-0000-00000000000b";

fn type_line(app: &mut App, text: &str) -> Action {
    for c in text.chars() {
        app.handle_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
    }
    app.handle_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE))
}

/// The conversation with `peer`, entered with `history` up to `last_seq`, marker at `read`.
pub(crate) fn conversation(
    peer: &str,
    history: Vec<crate::rpc::types::Event>,
    read: u64,
    unread: u32,
) -> NetEvent {
    let last_seq = history.iter().map(|e| e.seq).max().unwrap_or(0);
    NetEvent::Entered {
        joined: RoomJoined {
            room: DM.into(),
            members: vec![member("bob"), member(peer)],
            last_seq,
            history,
            peer: Some(member(peer)),
            read,
            unread,
            ..Default::default()
        },
        resumed: false,
        reset: false,
    }
}

/// A room given back by the server with its history, marker and unread count.
pub(crate) fn room_with_marker(
    room: &str,
    history: Vec<crate::rpc::types::Event>,
    read: u64,
    unread: u32,
) -> NetEvent {
    let last_seq = history.iter().map(|e| e.seq).max().unwrap_or(0);
    NetEvent::Entered {
        joined: RoomJoined {
            room: room.into(),
            members: vec![member("bob"), member("carol")],
            last_seq,
            history,
            read,
            unread,
            ..Default::default()
        },
        resumed: false,
        reset: false,
    }
}

fn message(room: &str, seq: u64, from: &str, text: &str) -> crate::rpc::types::Event {
    event(room, seq, EventKind::Message, from, Some(text))
}

fn at(app: &App, room: &str) -> usize {
    app.room_index(room)
        .unwrap_or_else(|| panic!("not in {room}"))
}

#[test]
fn a_room_given_back_shows_the_servers_unread_count_and_a_separator_at_its_marker() {
    let mut app = in_rooms(&[]);
    let history = (1..=4)
        .map(|seq| message("#ops", seq, "carol", &format!("line {seq}")))
        .collect();
    // Read up to 2 in an earlier session; the server counted 7 unread (more than it sent).
    app.handle_net(room_with_marker("#ops", history, 2, 7));
    let ops = &app.rooms[at(&app, "#ops")];
    assert_eq!(ops.read, 2);
    assert_eq!(ops.unread, 7, "the server's count, not only what it sent");
    let lines: Vec<&str> = ops.pane.lines.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(
        lines[..5],
        ["line 1", "line 2", "new messages", "line 3", "line 4"]
    );
}

#[test]
fn a_room_read_everywhere_has_no_separator_and_nothing_unread() {
    let mut app = in_rooms(&[]);
    let history = vec![message("#ops", 1, "carol", "old news")];
    app.handle_net(room_with_marker("#ops", history, 1, 0));
    let ops = &app.rooms[at(&app, "#ops")];
    assert_eq!(ops.unread, 0);
    assert!(ops.pane.lines.iter().all(|l| l.kind != LineKind::Separator));
}

#[test]
fn a_direct_message_in_a_conversation_not_known_yet_is_shown_once_it_is_entered() {
    let mut app = in_rooms(&[]);
    app.bell = Bell::Mention;
    // The worker enters it; the message that made it came first.
    app.handle_net(NetEvent::Event(message(DM, 1, "alice", "psst")));
    assert_eq!(app.rooms.len(), 1);
    app.handle_net(conversation("alice", Vec::new(), 0, 0));
    let dm = &app.rooms[at(&app, DM)];
    assert_eq!(dm.title(), "@alice");
    assert!(dm.pane.lines.iter().any(|l| l.text == "psst"));
    app.handle_net(NetEvent::Event(message(DM, 2, "alice", "are you there?")));
    let dm = &app.rooms[at(&app, DM)];
    assert_eq!(dm.unread, 2);
    assert!(dm.mentioned, "a direct message counts as naming us");
    assert!(app.ring_bell, "and rings the mention bell");
    assert_eq!(app.room().name, "#general", "it does not steal the view");
}

#[test]
fn the_peers_new_name_renames_the_conversation() {
    let mut app = in_rooms(&[]);
    app.handle_net(conversation("alice", Vec::new(), 0, 0));
    let mut nick = event(DM, 1, EventKind::Nick, "alicia", Some("alice"));
    nick.from.id = member("alice").id;
    app.handle_net(NetEvent::Event(nick));
    assert_eq!(app.rooms[at(&app, DM)].title(), "@alicia");
}

#[test]
fn msg_query_and_whois_ask_the_server_and_close_parts_the_conversation() {
    let mut app = in_rooms(&[]);
    assert_eq!(
        type_line(&mut app, "/msg alice see you at 5"),
        Action::Msg {
            to: "alice".into(),
            text: "see you at 5".into()
        }
    );
    assert_eq!(texts(&app).last().unwrap(), &"→ alice: see you at 5");
    assert_eq!(type_line(&mut app, "/msg alice"), Action::None);
    assert_eq!(texts(&app).last().unwrap(), &"usage: /msg NAME TEXT");
    assert_eq!(
        type_line(&mut app, "/query alice"),
        Action::Query("alice".into())
    );
    assert_eq!(
        type_line(&mut app, "/whois alice"),
        Action::Whois("alice".into())
    );
    assert_eq!(type_line(&mut app, "/whois"), Action::None);
    assert_eq!(texts(&app).last().unwrap(), &"usage: /whois NAME");
    // The answer to /query opens the conversation in view.
    let NetEvent::Entered { joined, .. } = conversation("alice", Vec::new(), 0, 0) else {
        unreachable!()
    };
    app.handle_net(NetEvent::Opened(Box::new(joined)));
    assert_eq!(app.room().title(), "@alice");
    assert_eq!(
        type_line(&mut app, "hi"),
        Action::Send {
            room: DM.into(),
            text: "hi".into()
        },
        "typed in the conversation, said in it"
    );
    // Open already: /query only shows it.
    app.switch_to(0);
    assert_eq!(type_line(&mut app, "/query Alice"), Action::None);
    assert_eq!(app.room().name, DM);
    assert_eq!(
        type_line(&mut app, "/close"),
        Action::Part {
            room: DM.into(),
            reason: None
        }
    );
}

#[test]
fn a_refused_direct_message_is_one_line_in_the_pane() {
    let mut app = in_rooms(&[]);
    app.handle_net(NetEvent::Failed {
        room: None,
        error: "cannot message bob: nobody with a key goes by bob".into(),
    });
    let line = app.pane().lines.back().unwrap();
    assert_eq!(line.kind, LineKind::Error);
    assert_eq!(
        line.text,
        "cannot message bob: nobody with a key goes by bob"
    );
}

#[test]
fn tab_after_msg_completes_names_from_every_room_and_conversation() {
    let mut app = in_rooms(&["#ops"]);
    app.handle_net(conversation("dora", Vec::new(), 0, 0));
    for c in "/msg ca".chars() {
        app.handle_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
    }
    app.handle_key(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE));
    assert_eq!(app.input.text(), "/msg carol ", "carol is only in #ops");
    app.input.take();
    for c in "/whois d".chars() {
        app.handle_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
    }
    app.handle_key(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE));
    assert_eq!(app.input.text(), "/whois dora ");
}

#[test]
fn what_another_session_of_ours_says_is_our_own_line_and_no_news() {
    let mut app = in_rooms(&["#ops"]);
    app.bell = Bell::All;
    app.handle_net(say("#ops", 1, "bob", "from my laptop: bob rocks"));
    let ops = &app.rooms[at(&app, "#ops")];
    let line = ops.pane.lines.back().unwrap();
    assert_eq!(
        line.kind,
        LineKind::Message {
            from: "bob".into(),
            own: true
        }
    );
    assert!(!line.mentions_me, "naming ourselves is no mention");
    assert_eq!((ops.unread, ops.mentioned), (0, false));
    assert!(!app.ring_bell);
}

#[test]
fn our_message_replayed_after_its_acknowledgement_is_shown_once() {
    let mut app = in_rooms(&[]);
    app.handle_net(NetEvent::Sent {
        room: "#general".into(),
        seq: 3,
        text: "mine".into(),
        latency_ms: 1,
        action: false,
        ts: 3000,
    });
    // The catch-up after a reconnect replays a key's own events.
    app.handle_net(say("#general", 3, "bob", "mine"));
    assert_eq!(texts(&app).iter().filter(|t| **t == "mine").count(), 1);
}

#[test]
fn a_part_and_a_nick_from_another_session_of_ours_change_our_list_and_name() {
    let mut app = in_rooms(&["#ops"]);
    let part = event("#ops", 1, EventKind::Leave, "bob", Some("Part: lunch"));
    app.handle_net(NetEvent::Event(part));
    assert!(app.room_index("#ops").is_none());
    assert_eq!(
        texts(&app).last().unwrap(),
        &"you left #ops (in another session)"
    );
    let mut nick = event("#general", 1, EventKind::Nick, "robert", Some("bob"));
    nick.from.id = member("bob").id;
    app.handle_net(NetEvent::Event(nick));
    assert_eq!(app.me.as_ref().unwrap().name, "robert");
    assert!(app.room().members.iter().any(|m| m.name == "robert"));
}

#[test]
fn another_sessions_read_marker_clears_what_it_read_and_is_never_a_line() {
    let mut app = in_rooms(&["#ops"]);
    for seq in 1..=3 {
        app.handle_net(say("#ops", seq, "carol", &format!("bob: {seq}")));
    }
    let ops = at(&app, "#ops");
    assert_eq!((app.rooms[ops].unread, app.rooms[ops].mentioned), (3, true));
    let lines = app.rooms[ops].pane.lines.len();
    let read = |seq| {
        let mut read = event("#ops", seq, EventKind::Read, "bob", None);
        read.text = None;
        NetEvent::Event(read)
    };
    app.handle_net(read(2));
    assert_eq!(app.rooms[ops].unread, 1);
    app.handle_net(read(3));
    assert_eq!(
        (app.rooms[ops].unread, app.rooms[ops].mentioned),
        (0, false)
    );
    assert_eq!(app.rooms[ops].pane.lines.len(), lines, "no line for it");
    // A marker that goes back moves nothing.
    app.handle_net(read(1));
    assert_eq!(app.rooms[ops].read, 3);
}

#[test]
fn the_room_in_view_at_its_newest_line_is_marked_at_most_once_a_second() {
    let mut app = in_rooms(&[]);
    let start = Instant::now();
    assert_eq!(app.due_marks(start), (Vec::new(), None), "nothing to mark");
    app.handle_net(say("#general", 1, "alice", "one"));
    assert_eq!(app.due_marks(start), (vec![("#general".into(), 1)], None));
    assert_eq!(app.due_marks(start).0, [], "marked already");
    app.handle_net(say("#general", 2, "alice", "two"));
    let soon = start + Duration::from_millis(300);
    assert_eq!(
        app.due_marks(soon),
        (Vec::new(), Some(start + Duration::from_secs(1))),
        "held back, and when to ask again"
    );
    let later = start + Duration::from_secs(1);
    assert_eq!(app.due_marks(later).0, [("#general".to_owned(), 2)]);
    // Scrolled up, the newest lines are not seen.
    app.handle_net(say("#general", 3, "alice", "three"));
    app.pane_mut().scroll_by = 1;
    assert_eq!(app.due_marks(later + Duration::from_secs(5)).0, []);
}

#[test]
fn a_guest_never_moves_a_marker() {
    let mut app = in_rooms(&[]);
    app.me.as_mut().unwrap().guest = true;
    app.handle_net(say("#general", 1, "alice", "one"));
    assert_eq!(app.due_marks(Instant::now()), (Vec::new(), None));
}

pub(crate) fn whois_alice() -> Whois {
    Whois {
        name: "alice".into(),
        id: member("alice").id,
        guest: false,
        fingerprint: Some("SHA256:q0rS9qLZXmXw1tYz2y5oQkq8h1x3WvLwA0r4bM0mF6E".into()),
        since: Some(86_400_000),
        online: true,
        sessions: 2,
        rooms: vec!["#general".into(), "#ops".into()],
        idle_ms: Some(185_000),
        last_seen: None,
        ..Default::default()
    }
}

#[test]
fn whois_shows_the_key_the_sessions_the_idle_time_and_the_rooms() {
    let mut app = in_rooms(&[]);
    app.handle_net(NetEvent::Whois(Box::new(whois_alice())));
    assert_eq!(
        texts(&app).last().unwrap(),
        &"alice: key SHA256:q0rS9qLZXmXw1tYz2y5oQkq8h1x3WvLwA0r4bM0mF6E, the name theirs since \
          1970-01-02 00:00\nonline, 2 sessions, idle 3m 5s\nrooms: #general, #ops"
    );
    app.handle_net(NetEvent::Whois(Box::new(Whois {
        name: "bob".into(),
        guest: true,
        fingerprint: None,
        since: None,
        online: true,
        sessions: 1,
        rooms: vec!["#general".into()],
        idle_ms: Some(4_000),
        ..whois_alice()
    })));
    assert_eq!(
        texts(&app).last().unwrap(),
        &"~bob is a guest: no key, the name only borrowed\nonline, 1 session, idle 4s\nrooms: #general"
    );
    app.handle_net(NetEvent::Whois(Box::new(Whois {
        online: false,
        sessions: 0,
        idle_ms: None,
        last_seen: Some(2 * 86_400_000),
        ..whois_alice()
    })));
    assert!(
        texts(&app)
            .last()
            .unwrap()
            .contains("offline, last seen 1970-01-03 00:00"),
        "{:?}",
        texts(&app).last()
    );
}

/// `name` as a guest would be sent: with the flag.
pub(crate) fn guest(name: &str) -> MemberInfo {
    MemberInfo {
        guest: true,
        ..member(name)
    }
}

#[test]
fn a_guest_is_marked_on_its_lines_and_in_the_member_list() {
    let mut app = in_rooms(&[]);
    app.smart_filter = false;
    let mut join = event("#general", 1, EventKind::Join, "dave", None);
    join.from = guest("dave");
    app.handle_net(NetEvent::Event(join));
    let mut said = event("#general", 2, EventKind::Message, "dave", Some("hello"));
    said.from = guest("dave");
    app.handle_net(NetEvent::Event(said));
    assert!(
        app.room()
            .members
            .iter()
            .any(|m| m.name == "dave" && m.guest)
    );
    let line = app.pane().lines.back().unwrap();
    assert_eq!(
        line.kind,
        LineKind::Message {
            from: "~dave".into(),
            own: false
        }
    );
    assert_eq!(texts(&app)[texts(&app).len() - 2], "~dave joined");
}

#[test]
fn a_join_as_a_guest_says_so() {
    let mut app = App::new("127.0.0.1:7777");
    app.handle_net(NetEvent::Joined {
        result: Box::new(crate::rpc::types::JoinResult {
            room: "#general".into(),
            name: "bob".into(),
            guest: true,
            members: vec![guest("bob")],
            ..Default::default()
        }),
        resumed: false,
        reset: false,
    });
    assert!(
        texts(&app)
            .last()
            .unwrap()
            .contains("(a guest: ~bob to others, with no key behind the name)"),
        "{:?}",
        texts(&app)
    );
}

#[test]
fn closing_a_conversation_says_with_whom() {
    let mut app = in_rooms(&[]);
    app.handle_net(conversation("alice", Vec::new(), 0, 0));
    app.handle_net(NetEvent::Parted(DM.into()));
    assert!(app.room_index(DM).is_none());
    assert_eq!(
        texts(&app).last().unwrap(),
        &"you closed the conversation with alice"
    );
}

#[test]
fn a_direct_message_read_already_rings_no_bell_when_it_comes_back() {
    let mut app = in_rooms(&[]);
    app.bell = Bell::Mention;
    let history = vec![message(DM, 1, "alice", "psst")];
    app.handle_net(conversation("alice", history.clone(), 1, 0));
    assert!(!app.ring_bell, "read in an earlier session");
    assert_eq!(app.rooms[at(&app, DM)].unread, 0);
    app.handle_net(NetEvent::Parted(DM.into()));
    app.handle_net(conversation("alice", history, 0, 1));
    assert!(app.ring_bell, "not read yet");
}

#[test]
fn our_own_session_ending_is_no_part() {
    let mut app = in_rooms(&["#ops"]);
    for reason in ["server shutting down", "connection closed"] {
        let leave = event("#ops", 1, EventKind::Leave, "bob", Some(reason));
        app.handle_net(NetEvent::Event(leave));
        assert!(app.room_index("#ops").is_some(), "{reason}");
    }
    // A part without a reason is one.
    let leave = event("#ops", 2, EventKind::Leave, "bob", None);
    app.handle_net(NetEvent::Event(leave));
    assert!(app.room_index("#ops").is_none());
}

#[test]
fn a_key_given_back_the_name_it_owns_is_told_so_not_that_its_name_is_taken() {
    let join = |asked: &str, given: &str, guest: bool| {
        let mut app = App::new("127.0.0.1:7777");
        app.wanted_name = Some(asked.into());
        app.handle_net(NetEvent::Joined {
            result: Box::new(crate::rpc::types::JoinResult {
                room: "#general".into(),
                name: given.into(),
                guest,
                ..Default::default()
            }),
            resumed: false,
            reset: false,
        });
        texts(&app).last().unwrap().to_string()
    };
    let owned = join("bob", "robert", false);
    assert!(
        owned.contains("as robert (the name your key owns"),
        "{owned}"
    );
    let variant = join("bob", "bob-2", false);
    assert!(variant.contains("as bob-2 (bob is taken)"), "{variant}");
    let guest = join("bob", "bob-2", true);
    assert!(guest.contains("as bob-2 (bob is taken)"), "{guest}");
}
