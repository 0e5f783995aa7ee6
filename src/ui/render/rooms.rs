//! The room list down the left (F3), with each room's number for Alt-1…Alt-9 (a
//! conversation as `@peer`), its unread count and a marker where we were named; and the
//! header line with the room in view and its topic.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use crate::rpc::types::MAX_UNREAD_COUNTED;
use crate::ui::app::App;
use crate::ui::cells::{put_line, text_width};

/// The room list's width, its border included.
pub const ROOM_PANEL_WIDTH: u16 = 18;
/// Below this width the room list hides itself.
pub const ROOM_PANEL_MIN_WIDTH: u16 = 50;
/// What marks a room where someone named us, before its unread count.
pub const MENTION_MARK: &str = "@";

/// Whether the room list has a place on a screen `width` columns wide: asked for (F3), and
/// more than one room to list.
pub fn shows_rooms(app: &App, width: u16) -> bool {
    app.show_rooms && app.rooms.len() > 1 && width >= ROOM_PANEL_MIN_WIDTH
}

pub fn render_rooms(app: &App, area: Rect, buf: &mut Buffer) {
    let block = ratatui::widgets::Block::new()
        .borders(ratatui::widgets::Borders::RIGHT)
        .border_style(app.theme.dim());
    let inner = block.inner(area);
    block.render(area, buf);
    let width = inner.width as usize;
    // More rooms than rows: the list scrolls so the room in view is on it.
    let rows = inner.height as usize;
    let first = app
        .current
        .saturating_sub(rows.saturating_sub(1))
        .min(app.rooms.len().saturating_sub(rows));
    for (at, room) in app.rooms.iter().enumerate().skip(first).take(rows) {
        let number = if at < 9 {
            format!("{}", at + 1)
        } else {
            " ".into()
        };
        let unread = if room.unread >= MAX_UNREAD_COUNTED as usize {
            format!("{MAX_UNREAD_COUNTED}+")
        } else {
            room.unread.to_string()
        };
        let count = match (room.mentioned, room.unread) {
            (true, 0) => MENTION_MARK.to_owned(),
            (true, _) => format!("{MENTION_MARK}{unread}"),
            (false, 0) => String::new(),
            (false, _) => unread,
        };
        let name_room = width.saturating_sub(number.len() + 2 + text_width(&count) + 1);
        let name: String = truncate(&room.title(), name_room);
        let pad =
            width.saturating_sub(number.len() + 1 + text_width(&name) + text_width(&count) + 1);
        let (name_style, count_style) = if at == app.current {
            let style = Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD);
            (style, style)
        } else if room.mentioned {
            let style = app.theme.mention();
            (style, style)
        } else if room.unread > 0 {
            (Style::new().add_modifier(Modifier::BOLD), app.theme.info())
        } else {
            (app.theme.quiet(), Style::new())
        };
        let line = Line::from(vec![
            Span::styled(format!("{number} "), app.theme.dim()),
            Span::styled(format!("{name}{}", " ".repeat(pad)), name_style),
            Span::styled(format!("{count} "), count_style),
        ]);
        put_line(
            buf,
            inner.x,
            inner.y + (at - first) as u16,
            &line,
            inner.width,
        );
    }
}

/// The header line: the room in view and its topic.
pub fn render_header(app: &App, area: Rect, buf: &mut Buffer) {
    let room = app.room();
    let style = app.theme.header_bar();
    buf.set_style(area, style);
    // Before the first join the room has no name yet: the header stays blank.
    let name = room.title();
    let mut spans = vec![Span::styled(
        format!(" {name}"),
        style.add_modifier(Modifier::BOLD),
    )];
    if room.peer.is_some() {
        spans.push(Span::styled(
            " — a conversation, between the two of you",
            style,
        ));
    }
    // A level set away from the room's default (`/notify`): said, as it changes what the
    // room does while the terminal is away.
    let level = app.notify_level(&room.name);
    if !room.name.is_empty() && level != crate::rpc::types::NotifyLevel::default_for(&room.name) {
        spans.push(Span::styled(format!(" [notify {level}]"), style));
    }
    if let Some(topic) = &room.topic {
        // One row: the topic's own lines run together.
        spans.push(Span::styled(
            format!(" — {}", topic.replace('\n', " ")),
            style,
        ));
    }
    put_line(buf, area.x, area.y, &Line::from(spans), area.width);
}

/// `text` cut to `columns` display columns, with an ellipsis when cut.
fn truncate(text: &str, columns: usize) -> String {
    if text_width(text) <= columns {
        return text.to_owned();
    }
    let mut out = String::new();
    for c in text.chars() {
        if text_width(&out) + text_width(&c.to_string()) + 1 > columns {
            break;
        }
        out.push(c);
    }
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use ratatui::{Terminal, backend::TestBackend};

    use crate::rpc::types::EventKind;
    use crate::ui::app::room_tests::{event, in_rooms, say};
    use crate::ui::app::{App, NetEvent};
    use crate::ui::render::draw;

    fn screen(app: &App, width: u16, height: u16) -> Terminal<TestBackend> {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal.draw(|frame| draw(app, frame)).unwrap();
        terminal
    }

    /// bob in four rooms, looking at #general: news in #ops, a mention in #dev.
    fn busy_app() -> App {
        let mut app = in_rooms(&["#ops", "#dev", "#random"]);
        app.handle_net(say("#ops", 1, "carol", "deploy started"));
        app.handle_net(say("#ops", 2, "carol", "deploy done"));
        app.handle_net(say("#dev", 1, "carol", "bob: review please"));
        app.handle_net(say("#general", 1, "alice", "morning all"));
        app
    }

    #[test]
    fn the_room_list_shows_unread_counts_and_marks_mentions() {
        let app = busy_app();
        assert_eq!(app.active_elsewhere(), 2);
        let terminal = screen(&app, 80, 10);
        insta::assert_snapshot!(terminal.backend());
        let text = format!("{:?}", terminal.backend());
        assert!(text.contains("news in 2 other rooms (Alt-A)"), "{text}");
    }

    #[test]
    fn a_long_room_list_scrolls_to_the_room_in_view() {
        let rooms: Vec<String> = (1..=12).map(|n| format!("#room{n}")).collect();
        let names: Vec<&str> = rooms.iter().map(String::as_str).collect();
        let mut app = in_rooms(&names);
        let last = app.rooms.len() - 1;
        for _ in 0..last {
            app.handle_key(crossterm::event::KeyEvent::new(
                crossterm::event::KeyCode::Char('n'),
                crossterm::event::KeyModifiers::CONTROL,
            ));
        }
        assert_eq!(app.room().name, "#room12");
        let terminal = screen(&app, 80, 8);
        // Row 0 is the header, which names the room in view anyway.
        let list: String = (1..8)
            .flat_map(|y| (0..18).map(move |x| (x, y)))
            .map(|(x, y)| terminal.backend().buffer()[(x, y)].symbol().to_owned())
            .collect();
        assert!(list.contains("#room12"), "{list}");
    }

    #[test]
    fn f3_hides_the_room_list() {
        let mut app = busy_app();
        app.handle_key(crossterm::event::KeyEvent::new(
            crossterm::event::KeyCode::F(3),
            crossterm::event::KeyModifiers::NONE,
        ));
        let terminal = screen(&app, 80, 10);
        let row = |y| {
            (0..18)
                .map(|x| terminal.backend().buffer()[(x, y)].symbol().to_owned())
                .collect::<String>()
        };
        assert!(!row(2).contains("#ops"), "{}", row(2));
        assert!(row(1).contains("you join"), "{}", row(1));
    }

    #[test]
    fn the_header_shows_the_room_and_its_topic() {
        let mut app = in_rooms(&[]);
        app.handle_net(NetEvent::Event(event(
            "#general",
            1,
            EventKind::Topic,
            "alice",
            Some("release day: no deploys after 4pm"),
        )));
        insta::assert_snapshot!(screen(&app, 60, 7).backend());
    }

    #[test]
    fn joins_collapse_and_a_separator_marks_what_is_new() {
        let mut app = in_rooms(&["#ops"]);
        app.smart_filter = false;
        app.handle_net(say("#general", 1, "alice", "before you looked away"));
        app.switch_to(1);
        for (seq, name) in ["dave", "erin", "frank", "gina", "hal"].iter().enumerate() {
            let join = event("#general", seq as u64 + 2, EventKind::Join, name, None);
            app.handle_net(NetEvent::Event(join));
        }
        app.handle_net(say("#general", 7, "dave", "hello everyone"));
        app.switch_to(0);
        insta::assert_snapshot!(screen(&app, 72, 10).backend());
    }

    #[test]
    fn the_room_list_shows_a_conversation_as_a_person_with_the_servers_unread_counts() {
        use crate::ui::app::ident_tests::{conversation, room_with_marker};
        let mut app = in_rooms(&[]);
        let history = (1..=3)
            .map(|seq| {
                crate::ui::app::room_tests::event(
                    "#ops",
                    seq,
                    EventKind::Message,
                    "carol",
                    Some("deploy"),
                )
            })
            .collect();
        app.handle_net(room_with_marker("#ops", history, 1, 12));
        let dm = crate::ui::app::ident_tests::DM;
        let history = vec![crate::ui::app::room_tests::event(
            dm,
            1,
            EventKind::Message,
            "alice",
            Some("lunch?"),
        )];
        app.handle_net(conversation("alice", history, 0, 1));
        let terminal = screen(&app, 80, 8);
        insta::assert_snapshot!(terminal.backend());
        let text = format!("{:?}", terminal.backend());
        assert!(text.contains("@alice"), "{text}");
    }

    #[test]
    fn a_conversation_in_view_is_named_for_the_person_in_the_header() {
        use crate::ui::app::ident_tests::conversation;
        let mut app = in_rooms(&[]);
        let dm = crate::ui::app::ident_tests::DM;
        let history = vec![crate::ui::app::room_tests::event(
            dm,
            1,
            EventKind::Message,
            "alice",
            Some("lunch?"),
        )];
        app.handle_net(conversation("alice", history, 0, 1));
        app.switch_to(1);
        insta::assert_snapshot!(screen(&app, 80, 7).backend());
    }

    #[test]
    fn the_separator_stands_where_the_servers_marker_is() {
        use crate::ui::app::ident_tests::room_with_marker;
        let mut app = in_rooms(&[]);
        let history = [
            "seen on the laptop",
            "also seen",
            "new since",
            "newer still",
        ]
        .iter()
        .enumerate()
        .map(|(at, text)| {
            crate::ui::app::room_tests::event(
                "#ops",
                at as u64 + 1,
                EventKind::Message,
                "carol",
                Some(text),
            )
        })
        .collect();
        app.handle_net(room_with_marker("#ops", history, 2, 2));
        app.switch_to(1);
        insta::assert_snapshot!(screen(&app, 72, 10).backend());
    }

    #[test]
    fn a_guest_is_marked_in_the_member_list_and_on_its_lines() {
        use crate::ui::app::ident_tests::guest;
        let mut app = in_rooms(&[]);
        let mut joined =
            crate::ui::app::room_tests::event("#general", 1, EventKind::Join, "dave", None);
        joined.from = guest("dave");
        app.smart_filter = false;
        app.handle_net(NetEvent::Event(joined));
        let mut said = crate::ui::app::room_tests::event(
            "#general",
            2,
            EventKind::Message,
            "dave",
            Some("hi, no key here"),
        );
        said.from = guest("dave");
        app.handle_net(NetEvent::Event(said));
        insta::assert_snapshot!(screen(&app, 80, 8).backend());
    }

    #[test]
    fn whois_reads_as_lines_in_the_pane() {
        let mut app = in_rooms(&[]);
        app.handle_net(NetEvent::Whois(Box::new(
            crate::ui::app::ident_tests::whois_alice(),
        )));
        insta::assert_snapshot!(screen(&app, 90, 8).backend());
    }

    #[test]
    fn the_header_says_a_notify_level_other_than_the_default() {
        let mut app = in_rooms(&[]);
        let header = |app: &App| {
            let terminal = screen(app, 60, 7);
            (0..60)
                .map(|x| terminal.backend().buffer()[(x, 0)].symbol().to_owned())
                .collect::<String>()
        };
        assert!(!header(&app).contains("notify"), "{}", header(&app));
        app.handle_net(NetEvent::Notified {
            room: "#general".into(),
            level: crate::rpc::types::NotifyLevel::Off,
        });
        assert!(
            header(&app).starts_with(" #general [notify off] — all things"),
            "{}",
            header(&app)
        );
    }
}
