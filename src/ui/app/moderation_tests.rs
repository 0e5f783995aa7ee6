//! Tests of moderation, away and ignore in the client: commands become requests, the
//! rooms' events change member lists and lines, the ignored are hidden, being put out
//! leaves the room, `/delete` alone picks a message; and how the member list, a deleted
//! line and the pick look.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::room_tests::{event, in_rooms, member, say, texts};
use super::{Action, App, LineKind, NetEvent};
use crate::rpc::types::{Event, EventKind, JoinResult, MemberInfo, Moderated, Role};
use crate::ui::command::Moderation;
use crate::ui::net::Outcome;

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn type_line(app: &mut App, text: &str) -> Action {
    for c in text.chars() {
        app.handle_key(key(KeyCode::Char(c)));
    }
    app.handle_key(key(KeyCode::Enter))
}

/// An event of `kind` in `room` from `from`, done to `to`.
fn done_to(room: &str, seq: u64, kind: EventKind, from: &str, to: &str) -> Event {
    Event {
        target: Some(member(to)),
        ..event(room, seq, kind, from, None)
    }
}

fn with(mut event: Event, text: Option<&str>) -> Event {
    event.text = text.map(str::to_owned);
    event
}

fn found<'a>(app: &'a App, room: usize, name: &str) -> &'a MemberInfo {
    app.rooms[room]
        .members
        .iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("{name} not in {:?}", app.rooms[room].members))
}

#[test]
fn moderation_commands_are_asked_of_the_server_for_the_room_in_view() {
    let mut app = in_rooms(&["#ops"]);
    app.switch_to(1);
    assert_eq!(
        type_line(&mut app, "/kick carol spam"),
        Action::Moderate {
            room: "#ops".into(),
            what: Moderation::Kick {
                name: "carol".into(),
                reason: Some("spam".into())
            }
        }
    );
    assert_eq!(type_line(&mut app, "/mute carol 5x"), Action::None);
    assert!(
        texts(&app)
            .last()
            .unwrap()
            .starts_with("not a duration: 5x"),
        "{:?}",
        texts(&app)
    );
    assert_eq!(type_line(&mut app, "/ban"), Action::None);
    assert_eq!(
        app.pane().lines.back().unwrap().kind,
        LineKind::Error,
        "usage is an error line"
    );
}

#[test]
fn a_refusal_is_one_line_in_the_room_it_was_for() {
    let mut app = in_rooms(&["#ops"]);
    app.handle_net(NetEvent::Failed {
        room: Some("#general".into()),
        error: "cannot kick alice: only operators of #general can kick".into(),
    });
    let line = app.rooms[0].pane.lines.back().unwrap();
    assert_eq!(line.kind, LineKind::Error);
    assert_eq!(
        line.text,
        "cannot kick alice: only operators of #general can kick"
    );
}

#[test]
fn roles_and_away_are_kept_from_member_lists_and_events() {
    let mut app = App::new("127.0.0.1:7777");
    let alice = MemberInfo {
        role: Some(Role::Owner),
        away: Some("lunch\x1b[2J".into()),
        ..member("alice")
    };
    app.handle_net(NetEvent::Joined {
        result: Box::new(JoinResult {
            room: "#general".into(),
            id: member("bob").id,
            name: "bob".into(),
            members: vec![alice, member("bob"), member("carol")],
            ..Default::default()
        }),
        resumed: false,
        reset: false,
    });
    assert_eq!(found(&app, 0, "alice").role, Some(Role::Owner));
    assert_eq!(found(&app, 0, "alice").away.as_deref(), Some("lunch[2J"));
    app.handle_net(NetEvent::Event(with(
        done_to("#general", 1, EventKind::Role, "alice", "carol"),
        Some("op"),
    )));
    assert_eq!(found(&app, 0, "carol").role, Some(Role::Op));
    assert!(texts(&app).contains(&"alice made carol an operator"));
    app.handle_net(NetEvent::Event(done_to(
        "#general",
        2,
        EventKind::Role,
        "alice",
        "carol",
    )));
    assert_eq!(found(&app, 0, "carol").role, None);
    app.handle_net(NetEvent::Event(event(
        "#general",
        3,
        EventKind::Away,
        "alice",
        None,
    )));
    assert_eq!(found(&app, 0, "alice").away, None);
    app.handle_net(NetEvent::Event(event(
        "#general",
        4,
        EventKind::Away,
        "carol",
        Some("brb"),
    )));
    assert_eq!(found(&app, 0, "carol").away.as_deref(), Some("brb"));
}

#[test]
fn away_lines_of_the_quiet_are_filtered_like_joins() {
    let mut app = in_rooms(&[]);
    app.handle_net(NetEvent::Event(event(
        "#general",
        1,
        EventKind::Away,
        "alice",
        Some("lunch"),
    )));
    assert!(
        !texts(&app).contains(&"alice is away: lunch"),
        "quiet: hidden"
    );
    assert_eq!(found(&app, 0, "alice").away.as_deref(), Some("lunch"));
    app.handle_net(say("#general", 2, "alice", "back soon"));
    app.handle_net(NetEvent::Event(event(
        "#general",
        3,
        EventKind::Away,
        "alice",
        None,
    )));
    assert!(
        texts(&app).contains(&"alice is back"),
        "spoke lately: shown"
    );
}

#[test]
fn a_deleted_message_says_so_live_and_in_pages_of_history() {
    let mut app = in_rooms(&[]);
    app.handle_net(say("#general", 1, "alice", "oops, my password"));
    app.handle_net(say("#general", 2, "alice", "fine"));
    let mut delete = done_to("#general", 3, EventKind::Delete, "alice", "alice");
    delete.target_seq = Some(1);
    app.handle_net(NetEvent::Event(delete.clone()));
    let line = app.pane().lines.iter().find(|l| l.seq == Some(1)).unwrap();
    assert_eq!(
        (&line.kind, line.text.as_str()),
        (
            &LineKind::Deleted {
                from: "alice".into()
            },
            "message deleted"
        )
    );
    assert!(!texts(&app).iter().any(|t| t.contains("password")));
    assert!(
        !app.pane().lines.iter().any(|l| l.seq == Some(3)),
        "the delete itself is no line"
    );
    // A page of history loaded later has the tombstone, and the delete, which is no line.
    let mut tombstone = event("#general", 1, EventKind::Deleted, "alice", None);
    tombstone.ts = 5;
    let lines = app.lines_for(vec![tombstone, delete]);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].text, "message deleted");
    assert!(matches!(lines[0].kind, LineKind::Deleted { .. }));
}

#[test]
fn the_ignored_are_not_shown_and_the_list_follows_the_server() {
    let mut app = App::new("127.0.0.1:7777");
    app.handle_net(NetEvent::Joined {
        result: Box::new(JoinResult {
            room: "#general".into(),
            id: member("bob").id,
            name: "bob".into(),
            members: vec![member("alice"), member("bob"), member("carol")],
            ignored: vec![member("carol")],
            ..Default::default()
        }),
        resumed: false,
        reset: false,
    });
    app.handle_net(say("#general", 1, "carol", "buy my stuff"));
    app.handle_net(say("#general", 2, "alice", "hi"));
    assert!(!texts(&app).contains(&"buy my stuff"));
    assert!(texts(&app).contains(&"hi"));
    // Another terminal of ours ignores alice too: told here, never stored.
    let mut ignore = done_to("", 0, EventKind::Ignore, "bob", "alice");
    ignore.seq = 0;
    app.handle_net(NetEvent::Event(ignore.clone()));
    assert_eq!(app.rooms.len(), 1, "no room made of it");
    assert!(texts(&app).contains(&"you now ignore alice"));
    app.handle_net(say("#general", 3, "alice", "hello?"));
    assert!(!texts(&app).contains(&"hello?"));
    // History pages hide them too.
    let page = app.lines_for(vec![
        event("#general", 1, EventKind::Message, "carol", Some("old spam")),
        event("#general", 2, EventKind::Join, "carol", None),
    ]);
    assert_eq!(page.len(), 1, "the join stays, the message goes");
    // A page with nothing to show still reaches as far as it did: paging goes on past it.
    let page = app.lines_for(vec![
        event("#general", 5, EventKind::Message, "carol", Some("spam")),
        event(
            "#general",
            6,
            EventKind::Message,
            "carol",
            Some("more spam"),
        ),
    ]);
    let seqs: Vec<Option<u64>> = page.iter().map(|line| line.seq).collect();
    assert_eq!(seqs, [Some(5), Some(6)]);
    assert!(page.iter().all(|line| !line.text.contains("spam")));
    ignore.text = Some("off".into());
    app.handle_net(NetEvent::Event(ignore));
    app.handle_net(say("#general", 4, "alice", "now?"));
    assert!(texts(&app).contains(&"now?"));
    assert_eq!(type_line(&mut app, "/ignore"), Action::None);
    assert_eq!(texts(&app).last(), Some(&"ignoring: carol"));
}

#[test]
fn an_invitation_is_told_in_the_pane_in_view_and_makes_no_room() {
    let mut app = in_rooms(&["#ops"]);
    app.switch_to(1);
    let mut invited = event("#secret", 0, EventKind::Invited, "alice", None);
    invited.seq = 0;
    app.handle_net(NetEvent::Event(invited));
    assert_eq!(app.rooms.len(), 2);
    assert_eq!(
        texts(&app).last(),
        Some(&"alice invites you to #secret — /join #secret")
    );
    // Not an early event of a room being joined either.
    assert!(app.early_events.is_empty());
}

#[test]
fn being_kicked_leaves_the_room_and_says_who_and_why() {
    let mut app = in_rooms(&["#ops"]);
    app.handle_net(NetEvent::Event(with(
        done_to("#ops", 1, EventKind::Kick, "carol", "bob"),
        Some("spam"),
    )));
    assert_eq!(app.rooms.len(), 1, "out of #ops");
    assert_eq!(app.room().name, "#general");
    let line = app.pane().lines.back().unwrap();
    assert_eq!(line.text, "You were kicked from #ops by carol: spam");
    // Someone else's kick only takes them off the list.
    app.handle_net(NetEvent::Event(done_to(
        "#general",
        1,
        EventKind::Kick,
        "bob",
        "alice",
    )));
    assert!(app.rooms[0].members.iter().all(|m| m.name != "alice"));
    assert!(texts(&app).contains(&"alice was kicked by bob"));
    // A kick of ours in history from before is past: the room stays.
    app.handle_net(super::room_tests::entered("#ops", false));
    let ops = app.room_index("#ops").unwrap();
    app.rooms[ops].members_as_of = 5;
    app.handle_net(NetEvent::Event(done_to(
        "#ops",
        4,
        EventKind::Ban,
        "carol",
        "bob",
    )));
    assert!(app.room_index("#ops").is_some());
}

#[test]
fn banned_from_the_last_room_it_stays_with_the_line() {
    let mut app = in_rooms(&[]);
    let mut ban = done_to("#general", 1, EventKind::Ban, "alice", "bob");
    ban.text = Some("flood".into());
    app.handle_net(NetEvent::Event(ban));
    assert_eq!(app.rooms.len(), 1);
    assert!(app.room().members.is_empty());
    assert_eq!(
        texts(&app).last(),
        Some(&"You were banned from #general by alice for ever: flood")
    );
}

#[test]
fn our_own_requests_change_what_our_session_is_not_told() {
    let mut app = in_rooms(&["#ops"]);
    let done = Outcome::Done(Moderated {
        room: "#ops".into(),
        seq: 3,
    });
    app.handle_net(NetEvent::Moderated {
        room: "#ops".into(),
        what: Moderation::Role {
            name: "Carol".into(),
            role: Some(Role::Op),
        },
        outcome: Box::new(done.clone()),
    });
    assert_eq!(found(&app, 1, "carol").role, Some(Role::Op));
    app.handle_net(NetEvent::Moderated {
        room: "#ops".into(),
        what: Moderation::Kick {
            name: "carol".into(),
            reason: None,
        },
        outcome: Box::new(done),
    });
    assert!(app.rooms[1].members.iter().all(|m| m.name != "carol"));
    assert_eq!(
        app.rooms[1].pane.lines.back().unwrap().text,
        "you kicked carol from #ops"
    );
    app.handle_net(NetEvent::Moderated {
        room: "#general".into(),
        what: Moderation::Away(Some("lunch".into())),
        outcome: Box::new(Outcome::Away),
    });
    assert_eq!(found(&app, 0, "bob").away.as_deref(), Some("lunch"));
    assert_eq!(found(&app, 1, "bob").away.as_deref(), Some("lunch"));
    app.handle_net(NetEvent::Moderated {
        room: "#general".into(),
        what: Moderation::Ignore {
            name: "alice".into(),
            on: true,
        },
        outcome: Box::new(Outcome::Ignored(vec![member("alice")])),
    });
    app.handle_net(say("#general", 9, "alice", "psst"));
    assert!(!texts(&app).contains(&"psst"));
}

#[test]
fn delete_alone_picks_a_message_with_up_down_and_enter() {
    let mut app = in_rooms(&[]);
    app.handle_net(say("#general", 1, "alice", "first"));
    app.handle_net(NetEvent::Event(event(
        "#general",
        2,
        EventKind::Join,
        "carol",
        None,
    )));
    app.handle_net(say("#general", 3, "alice", "second"));
    assert_eq!(type_line(&mut app, "/delete"), Action::None);
    assert_eq!(app.selecting, Some(3), "the newest message");
    app.handle_key(key(KeyCode::Up));
    assert_eq!(app.selecting, Some(1), "a join is no message");
    app.handle_key(key(KeyCode::Up));
    assert_eq!(app.selecting, Some(1), "stops at the oldest");
    assert!(app.scrolled(), "the view follows the pick");
    app.handle_key(key(KeyCode::Down));
    app.handle_key(key(KeyCode::Down));
    assert_eq!(app.selecting, Some(3), "stops at the newest");
    assert_eq!(
        app.handle_key(key(KeyCode::Enter)),
        Action::Moderate {
            room: "#general".into(),
            what: Moderation::Delete(3)
        }
    );
    assert_eq!(app.selecting, None);
    assert!(!app.scrolled(), "back to live");
    // Esc lets it go; so does any other key, which then does what it does.
    type_line(&mut app, "/delete");
    app.handle_key(key(KeyCode::Esc));
    assert_eq!(app.selecting, None);
    type_line(&mut app, "/delete");
    app.handle_key(key(KeyCode::Char('x')));
    assert_eq!((app.selecting, app.input.text()), (None, "x"));
}

#[test]
fn delete_alone_in_a_pane_without_messages_says_so() {
    let mut app = in_rooms(&[]);
    type_line(&mut app, "/delete");
    assert_eq!(app.selecting, None);
    assert!(
        texts(&app)
            .last()
            .unwrap()
            .starts_with("no message here to delete")
    );
}

fn screen(app: &App, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|frame| crate::ui::render::draw(app, frame))
        .unwrap();
    terminal
}

/// bob in #general with an owner, an operator away, a member away and carol.
fn moderated_room() -> App {
    let mut app = App::new("127.0.0.1:7777");
    app.smart_filter = false;
    app.show_rooms = false;
    let members = vec![
        MemberInfo {
            role: Some(Role::Owner),
            ..member("alice")
        },
        member("bob"),
        MemberInfo {
            role: Some(Role::Op),
            away: Some("lunch".into()),
            ..member("dave")
        },
        MemberInfo {
            away: Some("gone".into()),
            ..member("erin")
        },
        member("carol"),
    ];
    app.handle_net(NetEvent::Joined {
        result: Box::new(JoinResult {
            room: "#general".into(),
            id: member("bob").id,
            name: "bob".into(),
            members,
            ..Default::default()
        }),
        resumed: false,
        reset: false,
    });
    app.pane_mut().clear();
    for (seq, text) in [(1, "hello all"), (2, "my password is hunter2"), (3, "bye")] {
        let mut said = event("#general", seq, EventKind::Message, "alice", Some(text));
        said.ts = 0;
        app.handle_net(NetEvent::Event(said));
    }
    app
}

#[test]
fn member_list_marks_operators_and_the_away() {
    let app = moderated_room();
    insta::assert_snapshot!(screen(&app, 70, 9).backend());
}

#[test]
fn a_deleted_line_reads_message_deleted() {
    let mut app = moderated_room();
    let mut delete = done_to("#general", 4, EventKind::Delete, "alice", "alice");
    delete.target_seq = Some(2);
    app.handle_net(NetEvent::Event(delete));
    let terminal = screen(&app, 70, 9);
    insta::assert_snapshot!(terminal.backend());
    // Dimmed and in italics, the text gone.
    let cell = &terminal.backend().buffer()[(14, 2)];
    assert_eq!(cell.symbol(), "m");
    assert!(cell.modifier.contains(ratatui::style::Modifier::ITALIC));
    assert_eq!(cell.fg, ratatui::style::Color::DarkGray);
}

#[test]
fn the_message_picked_to_delete_is_highlighted() {
    let mut app = moderated_room();
    type_line(&mut app, "/delete");
    app.handle_key(key(KeyCode::Up));
    let terminal = screen(&app, 70, 9);
    insta::assert_snapshot!(terminal.backend());
    // The highlight is the reversed text of that line, and of no other.
    let buffer = terminal.backend().buffer();
    let reversed: Vec<u16> = (0..9)
        .filter(|&y| {
            (0..50).any(|x| {
                buffer[(x, y)]
                    .modifier
                    .contains(ratatui::style::Modifier::REVERSED)
            })
        })
        .collect();
    assert_eq!(reversed.len(), 1, "{reversed:?}");
}

#[test]
fn a_message_to_someone_away_is_answered_in_its_conversation() {
    let mut app = in_rooms(&["#ops"]);
    app.handle_net(NetEvent::AwayReply {
        room: "#ops".into(),
        name: "carol".into(),
        message: "lunch".into(),
    });
    assert_eq!(
        app.rooms[1].pane.lines.back().unwrap().text,
        "carol is away: lunch"
    );
}

#[test]
fn tab_completes_a_name_after_the_moderation_commands() {
    for (typed, completed) in [
        ("/kick ca", "/kick carol "),
        ("/op ca", "/op carol "),
        ("/ignore ali", "/ignore alice "),
        ("/ba", "/ban "),
    ] {
        let mut app = in_rooms(&["#ops"]);
        for c in typed.chars() {
            app.handle_key(key(KeyCode::Char(c)));
        }
        app.handle_key(key(KeyCode::Tab));
        assert_eq!(app.input.text(), completed);
    }
}

#[test]
fn a_server_operator_is_told_so_on_joining() {
    let mut app = App::new("127.0.0.1:7777");
    app.handle_net(NetEvent::Joined {
        result: Box::new(JoinResult {
            room: "#general".into(),
            id: member("bob").id,
            name: "bob".into(),
            members: vec![member("bob")],
            server_op: true,
            ..Default::default()
        }),
        resumed: false,
        reset: false,
    });
    assert!(
        texts(&app)
            .last()
            .unwrap()
            .starts_with("you are a server operator")
    );
}
