//! Tests of large rooms in the client: the count from the join, presence events keeping the
//! member list, the list the server sends replacing it, and how the summaries read.

use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::rooms::tests::{event, in_rooms, member};
use super::{App, NetEvent};
use crate::rpc::types::{EventKind, MemberInfo, Presence, RoomJoined};

/// bob, entering a large room of `count` whose join gave no list.
fn in_large_room(count: u32) -> App {
    let mut app = in_rooms(&[]);
    app.handle_net(NetEvent::Entered {
        joined: RoomJoined {
            room: "#big".into(),
            member_count: count,
            ..Default::default()
        },
        resumed: false,
        reset: false,
    });
    app.switch_to(1);
    app
}

fn presence(app: &mut App, presence: Presence) {
    let mut tick = event("#big", 0, EventKind::Presence, "server", None);
    tick.ts = 5_000;
    tick.presence = Some(Box::new(presence));
    app.handle_net(NetEvent::Event(tick));
}

fn names(app: &App) -> Vec<&str> {
    app.rooms[1]
        .members
        .iter()
        .map(|m| m.name.as_str())
        .collect()
}

fn members(names: &[&str]) -> Vec<MemberInfo> {
    names.iter().map(|name| member(name)).collect()
}

#[test]
fn a_large_room_counts_from_its_presence_events_until_its_list_comes() {
    let mut app = in_large_room(500);
    assert!(app.rooms[1].members.is_empty());
    assert_eq!(app.rooms[1].member_count(), 500, "the join's count");
    // Too many changes to name: the count moves, the list waits.
    presence(
        &mut app,
        Presence {
            count: 530,
            joins: 40,
            leaves: 10,
            complete: false,
            ..Presence::default()
        },
    );
    assert_eq!(app.rooms[1].member_count(), 530);
    // The list asked for replaces ours, sorted, names cleaned.
    presence(
        &mut app,
        Presence {
            count: 3,
            complete: true,
            members: Some(members(&["carol", "Alice", "bob\u{1b}[2J"])),
            ..Presence::default()
        },
    );
    assert_eq!(names(&app), ["Alice", "bob2J", "carol"]);
    assert_eq!(app.rooms[1].member_count(), 3);
    // Named changes apply to it, twice without harm.
    for _ in 0..2 {
        presence(
            &mut app,
            Presence {
                count: 3,
                joins: 1,
                leaves: 1,
                joined: members(&["dave"]),
                left: members(&["carol"]),
                complete: true,
                ..Presence::default()
            },
        );
    }
    assert_eq!(names(&app), ["Alice", "bob2J", "dave"]);
}

#[test]
fn presence_summaries_show_all_without_the_smart_filter_and_only_who_spoke_with_it() {
    let mut app = in_large_room(500);
    app.handle_net(NetEvent::Event(event(
        "#big",
        3,
        EventKind::Message,
        "carol",
        Some("brb"),
    )));
    let summary = Presence {
        count: 501,
        joins: 2,
        leaves: 1,
        joined: members(&["dave", "erin"]),
        left: members(&["carol"]),
        complete: true,
        ..Presence::default()
    };
    // Smart filter on (the default): the newcomers are not named, carol (who spoke) is.
    presence(&mut app, summary.clone());
    let last = |app: &App| app.pane().lines.back().map(|l| l.text.clone());
    assert_eq!(last(&app).as_deref(), Some("carol left"));
    // A bare count says nothing about anyone who spoke: no line.
    let before = app.pane().lines.len();
    presence(
        &mut app,
        Presence {
            count: 560,
            joins: 60,
            complete: false,
            ..Presence::default()
        },
    );
    assert_eq!(app.pane().lines.len(), before);
    app.smart_filter = false;
    presence(&mut app, summary);
    assert_eq!(
        last(&app).as_deref(),
        Some("dave and erin joined; carol left (501 here)")
    );
    let mut terminal = Terminal::new(TestBackend::new(70, 8)).unwrap();
    terminal
        .draw(|frame| crate::ui::render::draw(&app, frame))
        .unwrap();
    insta::assert_snapshot!(terminal.backend());
}
