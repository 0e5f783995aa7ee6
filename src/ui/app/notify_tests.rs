//! Tests of notifications in the client: which lines notify at each `/notify` level, only
//! while the terminal is away; `/notify` itself, for identities and guests; levels from the
//! server and from our other sessions; and the window title's unread count.

use super::ident_tests::{DM, conversation};
use super::room_tests::{event, in_rooms, member, say};
use super::{Action, App, LineKind, NetEvent};
use crate::rpc::types::{EventKind, JoinResult, NotifyLevel, RoomJoined};
use crate::ui::notify::Method;

/// bob in #general and #rust, the terminal away, notifying with OSC 777.
fn away() -> App {
    let mut app = in_rooms(&["#rust"]);
    app.notify.method = Method::Osc777;
    app.set_focus(false);
    app
}

fn due(app: &App) -> Option<(String, String)> {
    app.notification_due().cloned()
}

/// Takes what is due by writing it out, as the event loop does.
fn written(app: &mut App) -> String {
    String::from_utf8(app.terminal_output()).unwrap()
}

fn level(app: &mut App, room: &str, level: NotifyLevel) {
    app.handle_net(NetEvent::Notified {
        room: room.into(),
        level,
    });
}

#[test]
fn a_mention_notifies_at_the_default_level_and_plain_talk_does_not() {
    let mut app = away();
    app.handle_net(say("#rust", 1, "alice", "anyone around?"));
    assert_eq!(due(&app), None, "a room notifies of mentions only");
    app.handle_net(say("#rust", 2, "alice", "bob: look at this"));
    assert_eq!(
        due(&app),
        Some(("alice in #rust".into(), "bob: look at this".into()))
    );
    assert!(written(&mut app).contains("\x1b]777;notify;alice in #rust;bob: look at this\x07"));
    assert_eq!(due(&app), None, "written once");
}

#[test]
fn nothing_notifies_while_the_terminal_has_focus() {
    let mut app = away();
    app.set_focus(true);
    app.handle_net(say("#rust", 1, "alice", "bob: look at this"));
    assert_eq!(due(&app), None);
    level(&mut app, "#rust", NotifyLevel::All);
    app.handle_net(say("#rust", 2, "alice", "anything"));
    assert_eq!(due(&app), None);
    assert!(!written(&mut app).contains("\x1b]777"));
}

#[test]
fn a_terminal_that_never_reports_focus_counts_as_focused() {
    let mut app = in_rooms(&["#rust"]);
    app.notify.method = Method::Osc777;
    app.handle_net(say("#rust", 1, "alice", "bob: look at this"));
    assert_eq!(due(&app), None);
}

#[test]
fn focus_regained_drops_what_was_due() {
    let mut app = away();
    app.handle_net(say("#rust", 1, "alice", "bob: look"));
    assert!(due(&app).is_some());
    app.set_focus(true);
    assert_eq!(due(&app), None);
}

#[test]
fn every_message_of_a_room_set_to_all_notifies() {
    let mut app = away();
    level(&mut app, "#rust", NotifyLevel::All);
    app.handle_net(say("#rust", 1, "alice", "anyone around?"));
    assert_eq!(
        due(&app),
        Some(("alice in #rust".into(), "anyone around?".into()))
    );
    // A /me line reads as one.
    let mut act = event("#rust", 2, EventKind::Action, "alice", Some("waves"));
    act.text = Some("waves".into());
    app.handle_net(NetEvent::Event(act));
    assert_eq!(due(&app).unwrap().1, "* alice waves");
    // Joins and the like never do.
    written(&mut app);
    app.handle_net(NetEvent::Event(event(
        "#rust",
        3,
        EventKind::Join,
        "carol",
        None,
    )));
    assert_eq!(due(&app), None);
}

#[test]
fn a_room_set_to_off_never_notifies_not_even_a_mention() {
    let mut app = away();
    level(&mut app, "#rust", NotifyLevel::Off);
    app.handle_net(say("#rust", 1, "alice", "bob: look at this"));
    assert_eq!(due(&app), None);
}

#[test]
fn every_direct_message_notifies_by_default() {
    let mut app = away();
    app.handle_net(conversation("alice", Vec::new(), 0, 0));
    assert_eq!(app.notify_level(DM), NotifyLevel::All);
    app.handle_net(say(DM, 1, "alice", "psst"));
    assert_eq!(
        due(&app),
        Some(("alice (direct message)".into(), "psst".into()))
    );
}

#[test]
fn our_own_lines_never_notify() {
    let mut app = away();
    level(&mut app, "#rust", NotifyLevel::All);
    // Said in another session of ours: ours all the same.
    app.handle_net(say("#rust", 1, "bob", "bob: a note to self"));
    assert_eq!(due(&app), None);
}

#[test]
fn the_ignored_never_notify() {
    let mut app = away();
    level(&mut app, "#rust", NotifyLevel::All);
    app.ignored = vec![member("carol")];
    app.handle_net(say("#rust", 1, "carol", "bob: hey"));
    assert_eq!(due(&app), None);
    app.handle_net(say("#rust", 2, "alice", "bob: hey"));
    assert!(due(&app).is_some(), "others still do");
}

#[test]
fn what_we_read_already_never_notifies() {
    let mut app = away();
    app.handle_net(NetEvent::Event(event(
        "#rust",
        5,
        EventKind::Read,
        "bob",
        None,
    )));
    app.handle_net(say("#rust", 4, "alice", "bob: old news, read elsewhere"));
    assert_eq!(due(&app), None);
}

#[test]
fn notify_with_off_writes_nothing() {
    let mut app = away();
    app.notify.method = Method::Off;
    app.handle_net(say("#rust", 1, "alice", "bob: look"));
    assert_eq!(due(&app), None);
}

#[test]
fn the_bell_method_rings_once_with_the_mention_bell() {
    let mut app = away();
    app.notify.method = Method::Bell;
    app.bell = super::Bell::Mention;
    app.handle_net(say("#rust", 1, "alice", "bob: look"));
    let out = written(&mut app);
    assert_eq!(
        out.matches('\x07').count(),
        2,
        "one bell, one title: {out:?}"
    );
}

#[test]
fn the_level_comes_with_the_room_and_from_our_other_sessions() {
    let mut app = in_rooms(&[]);
    app.handle_net(NetEvent::Entered {
        joined: RoomJoined {
            room: "#ops".into(),
            notify: Some(NotifyLevel::All),
            ..Default::default()
        },
        resumed: false,
        reset: false,
    });
    assert_eq!(app.notify_level("#ops"), NotifyLevel::All);
    assert_eq!(app.notify_level("#general"), NotifyLevel::Mentions);
    let mut notify = event("#ops", 0, EventKind::Notify, "bob", Some("off"));
    notify.seq = 0;
    app.handle_net(NetEvent::Event(notify));
    assert_eq!(app.notify_level("#ops"), NotifyLevel::Off);
    let ops = app.room_index("#ops").unwrap();
    let last = app.rooms[ops].pane.lines.back().unwrap();
    assert_eq!(
        last.text,
        "notifications in #ops: off (set in another session)"
    );
}

fn type_line(app: &mut App, text: &str) -> Action {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    for c in text.chars() {
        app.handle_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
    }
    app.handle_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE))
}

fn last_line(app: &App) -> (LineKind, String) {
    let line = app.pane().lines.back().unwrap();
    (line.kind.clone(), line.text.clone())
}

#[test]
fn slash_notify_shows_the_level_and_asks_the_server_to_set_it() {
    let mut app = in_rooms(&[]);
    assert_eq!(type_line(&mut app, "/notify"), Action::None);
    assert_eq!(
        last_line(&app),
        (
            LineKind::Info,
            "notifications in #general: mentions (the default) (/notify all|mentions|off)".into()
        )
    );
    assert_eq!(
        type_line(&mut app, "/notify ALL"),
        Action::Notify {
            room: "#general".into(),
            level: NotifyLevel::All
        }
    );
    assert_eq!(
        app.notify_level("#general"),
        NotifyLevel::Mentions,
        "until the server says so"
    );
    level(&mut app, "#general", NotifyLevel::All);
    assert_eq!(
        last_line(&app),
        (LineKind::Info, "notifications in #general: all".into())
    );
    assert_eq!(type_line(&mut app, "/notify loud"), Action::None);
    assert_eq!(
        last_line(&app),
        (
            LineKind::Error,
            "unknown notification level \"loud\": all, mentions or off".into()
        )
    );
}

#[test]
fn a_guests_level_is_its_own_and_asks_nothing_of_the_server() {
    let mut app = App::new("127.0.0.1:7777");
    app.handle_net(NetEvent::Joined {
        result: Box::new(JoinResult {
            room: "#general".into(),
            session: "s".into(),
            id: member("guest").id,
            name: "guest".into(),
            guest: true,
            notify: Some(NotifyLevel::Mentions),
            ..Default::default()
        }),
        resumed: false,
        reset: false,
    });
    assert_eq!(type_line(&mut app, "/notify off"), Action::None);
    assert_eq!(app.notify_level("#general"), NotifyLevel::Off);
    assert!(last_line(&app).1.contains("kept by this client only"));
    // Entering again (a reconnect), with the default the server gives a guest, keeps the
    // guest's own level.
    app.handle_net(NetEvent::Entered {
        joined: RoomJoined {
            room: "#general".into(),
            notify: Some(NotifyLevel::Mentions),
            ..Default::default()
        },
        resumed: true,
        reset: false,
    });
    assert_eq!(app.notify_level("#general"), NotifyLevel::Off);
}

#[test]
fn the_title_counts_the_unread_over_every_room_and_is_written_when_it_changes() {
    let mut app = in_rooms(&["#rust", "#ops"]);
    assert!(written(&mut app).contains("\x1b]2;chatroom\x07"));
    assert!(
        !written(&mut app).contains("\x1b]2;"),
        "unchanged: not again"
    );
    app.handle_net(say("#rust", 1, "alice", "one"));
    app.handle_net(say("#rust", 2, "alice", "two"));
    app.handle_net(say("#general", 1, "alice", "in view: read"));
    app.handle_net(say("#ops", 1, "alice", "three"));
    assert_eq!(app.unread_total(), 3);
    assert!(written(&mut app).contains("\x1b]2;(3) chatroom\x07"));
    let rust = app.room_index("#rust").unwrap();
    app.switch_to(rust);
    assert!(written(&mut app).contains("\x1b]2;(1) chatroom\x07"));
}
