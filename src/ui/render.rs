//! Drawing: a pure function of [`App`]. Only the rows that are visible are wrapped, so the
//! cost of a frame follows the screen size, not the length of the scrollback.

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::{Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Scrollbar, ScrollbarOrientation, ScrollbarState, StatefulWidget, Widget};
use unicode_segmentation::UnicodeSegmentation;

#[cfg(test)]
mod palette_tests;
mod rooms;
mod search;

pub use self::rooms::{MENTION_MARK, ROOM_PANEL_MIN_WIDTH};
use self::rooms::{ROOM_PANEL_WIDTH, render_header, render_rooms, shows_rooms};
use super::app::{App, Connection, ScrollPos, View};
use super::cells::{cluster_width, put_line, text_width};
use super::present::line_rows;

const PROMPT: &str = "> ";
const PASSWORD_PROMPT: &str = "password: ";

fn prompt(app: &App) -> &'static str {
    if app.asking_password {
        PASSWORD_PROMPT
    } else {
        PROMPT
    }
}
/// Screens lower than this go without the header line.
const HEADER_MIN_HEIGHT: u16 = 6;
/// Below this width the member list hides itself.
pub const MEMBER_PANEL_MIN_WIDTH: u16 = 60;
const MEMBER_PANEL_WIDTH: u16 = 18;

/// Draws the whole screen and places the terminal cursor in the input line.
pub fn draw(app: &App, frame: &mut Frame) {
    let screen = Screen::new(app, frame.area());
    let buf = frame.buffer_mut();
    if let Some(header) = screen.header {
        render_header(app, header, buf);
    }
    if let Some(rooms) = screen.rooms {
        render_rooms(app, rooms, buf);
    }
    render_messages(app, screen.messages, buf);
    if let Some(members) = screen.members {
        render_members(app, members, buf);
    }
    render_status(app, screen.status, buf);
    render_input(app, &screen.layout, screen.input, buf);
    let input = screen.input;
    if input.height > 0 {
        let (row, column) = screen.layout.cursor;
        let y = input.y + (row - screen.layout.first_shown(input.height)) as u16;
        let x = input.x + (text_width(prompt(app)) + column) as u16;
        frame.set_cursor_position(Position::new(x.min(input.right().saturating_sub(1)), y));
    }
}

/// Where everything goes on a screen, with the input wrapped once for the frame.
struct Screen {
    /// The room in view and its topic, when the screen has the rows for it.
    header: Option<Rect>,
    /// The room list, when it is shown and there is room.
    rooms: Option<Rect>,
    /// The message pane, its last column kept for the scrollbar.
    messages: Rect,
    /// The member list, when it is shown and there is room.
    members: Option<Rect>,
    status: Rect,
    input: Rect,
    layout: InputLayout,
}

impl Screen {
    fn new(app: &App, area: Rect) -> Self {
        let layout = InputLayout::new(app, area.width);
        let header_height = u16::from(area.height >= HEADER_MIN_HEIGHT);
        let [header, body, status, input] = area.layout(&Layout::vertical([
            Constraint::Length(header_height),
            Constraint::Min(0),
            Constraint::Length(1),
            Constraint::Length(layout.height(area.height)),
        ]));
        let rooms_width = if shows_rooms(app, body.width) {
            ROOM_PANEL_WIDTH
        } else {
            0
        };
        let [rooms, pane] = body.layout(&Layout::horizontal([
            Constraint::Length(rooms_width),
            Constraint::Min(0),
        ]));
        let members_width = if !app.show_members || pane.width < MEMBER_PANEL_MIN_WIDTH {
            0
        } else {
            MEMBER_PANEL_WIDTH
        };
        let [messages, members] = pane.layout(&Layout::horizontal([
            Constraint::Min(0),
            Constraint::Length(members_width),
        ]));
        Self {
            header: (!header.is_empty()).then_some(header),
            rooms: (!rooms.is_empty()).then_some(rooms),
            messages,
            members: (!members.is_empty()).then_some(members),
            status,
            input,
            layout,
        }
    }
}

/// Where the messages themselves go: the message pane less the scrollbar's column.
fn text_area(messages: Rect) -> Rect {
    Rect {
        width: messages.width.saturating_sub(1),
        ..messages
    }
}

/// The message pane's area on a screen of `size`, less the scrollbar.
fn message_area(app: &App, size: ratatui::layout::Size) -> Rect {
    text_area(Screen::new(app, Rect::from((Position::ORIGIN, size))).messages)
}

/// Rows of messages a screen of `size` shows: how far a page scrolls.
pub fn message_rows(app: &App, size: ratatui::layout::Size) -> usize {
    message_area(app, size).height as usize
}

fn render_members(app: &App, area: Rect, buf: &mut Buffer) {
    let block = ratatui::widgets::Block::new()
        .borders(ratatui::widgets::Borders::LEFT)
        .border_style(app.theme.dim());
    let inner = block.inner(area);
    block.render(area, buf);
    let me = app.me.as_ref().map(|m| m.id);
    let rows = inner.height as usize;
    let overflow = app.room().members.len() > rows;
    let shown = if overflow {
        rows.saturating_sub(1)
    } else {
        rows
    };
    for (row, member) in app.room().members.iter().take(shown).enumerate() {
        let style = if Some(member.id) == me {
            Style::new().add_modifier(Modifier::BOLD)
        } else {
            Style::new().fg(app.theme.nick_colour(&member.name))
        };
        let name = crate::ui::event_text::shown_member(member);
        // `@` for those who moderate the room; the away dimmed, and marked.
        let mark = if member.role.is_some() { "@" } else { " " };
        let line = if member.away.is_some() {
            let dim = app.theme.dim();
            Line::from(vec![
                Span::styled(format!("{mark}{name}"), style.patch(dim)),
                Span::styled(" (away)", dim.add_modifier(Modifier::ITALIC)),
            ])
        } else {
            Line::from(Span::styled(format!("{mark}{name}"), style))
        };
        put_line(buf, inner.x, inner.y + row as u16, &line, inner.width);
    }
    if overflow {
        let more = format!(" … {} more", app.room().members.len() - shown);
        put_line(
            buf,
            inner.x,
            inner.y + shown as u16,
            &Line::from(more).style(app.theme.dim()),
            inner.width,
        );
    }
}

/// The view of the message pane in `area`, each line wrapped to its width as it reads.
fn view(app: &App, area: Rect) -> View {
    let width = area.width as usize;
    if width == 0 {
        return View::default();
    }
    app.pane().view(area.height as usize, |at, line| {
        line_rows(app, at, line, width)
    })
}

/// Where the view stands on a screen of `size` once the pending scroll is applied and kept
/// in bounds, and whether it is scrolled up against the oldest line loaded (time to load
/// older history).
pub fn settled_scroll(app: &App, size: ratatui::layout::Size) -> (ScrollPos, bool) {
    let view = view(app, message_area(app, size));
    // Scrolling up with everything on screen also reaches the top.
    (view.at, app.scrolled() && !view.more_above)
}

fn render_messages(app: &App, messages: Rect, buf: &mut Buffer) {
    if let Some(results) = &app.search.results {
        return search::render_results(app, results, messages, buf);
    }
    let area = text_area(messages);
    if area.is_empty() {
        return;
    }
    let view = view(app, area);
    for (row, (_, line)) in view.rows.iter().rev().enumerate() {
        put_line(buf, area.x, area.y + row as u16, line, area.width);
    }
    render_scrollbar(app, &view, area, buf);
}

/// A scrollbar right of the messages once there is more than fits, measured in lines
/// (rows would mean wrapping the whole scrollback on every frame).
fn render_scrollbar(app: &App, view: &View, area: Rect, buf: &mut Buffer) {
    let (Some((bottom, _)), Some((top, _))) = (view.rows.first(), view.rows.last()) else {
        return;
    };
    if view.at == ScrollPos::LIVE && !view.more_above && app.pane().detached.is_none() {
        // Everything fits.
        return;
    }
    // A line cut by the top edge counts as above the view.
    let top = if view.top_cut {
        top.saturating_sub(1).max(*bottom)
    } else {
        *top
    };
    let total = app.pane().lines.len();
    let shown = top - bottom + 1;
    let mut state = ScrollbarState::new(total - shown + 1)
        .position(total - 1 - top)
        .viewport_content_length(shown);
    let bar = Rect {
        x: area.right(),
        width: 1,
        ..area
    };
    Scrollbar::new(ScrollbarOrientation::VerticalRight)
        .begin_symbol(None)
        .end_symbol(None)
        .track_symbol(Some("│"))
        .track_style(app.theme.dim())
        .thumb_symbol("┃")
        .render(bar, buf, &mut state);
}

fn render_status(app: &App, area: Rect, buf: &mut Buffer) {
    let state = match &app.connection {
        Connection::Connecting => "connecting".to_owned(),
        Connection::Connected => "connected".to_owned(),
        // Never in the room yet: nothing was lost.
        Connection::Disconnected(_) if app.me.is_none() => "not connected".to_owned(),
        Connection::Reconnecting(secs) if app.me.is_none() => {
            format!("not connected — retrying in {secs}s")
        }
        Connection::Disconnected(_) => "disconnected".to_owned(),
        Connection::Reconnecting(secs) => format!("disconnected — reconnecting in {secs}s"),
    };
    let mut parts = vec![app.server.clone(), state];
    if app.connection == Connection::Connected {
        let n = app.room().member_count();
        parts.push(format!("{n} member{}", if n == 1 { "" } else { "s" }));
    }
    if let Some(me) = &app.me {
        parts.push(format!("as {}", me.name));
    }
    if let Some(ms) = app.last_send_ms {
        parts.push(format!("lag {ms} ms"));
    }
    if app.pane().loading_older {
        parts.push("loading older messages…".to_owned());
    } else if app.pane().loading_newer {
        parts.push("loading newer messages…".to_owned());
    } else if app.pane().unseen > 0 {
        let s = if app.pane().unseen == 1 { "" } else { "s" };
        parts.push(format!("{} new message{s} ↓ (End)", app.pane().unseen));
    } else if app.scrolled() || app.pane().detached.is_some() {
        parts.push("scrolled up (PageDown, End)".to_owned());
    }
    let elsewhere = app.active_elsewhere();
    if elsewhere > 0 {
        let s = if elsewhere == 1 { "" } else { "s" };
        parts.push(format!("news in {elsewhere} other room{s} (Alt-A)"));
    }
    let width =
        1 + parts.iter().map(|part| text_width(part)).sum::<usize>() + 3 * (parts.len() - 1);
    if width > area.width as usize {
        // Short of room, the address goes first: the rest is about now.
        parts.remove(0);
    }
    let style = app.theme.status_bar();
    buf.set_style(area, style);
    put_line(
        buf,
        area.x,
        area.y,
        &Line::from(format!(" {}", parts.join(" │ "))).style(style),
        area.width,
    );
}

fn render_input(app: &App, layout: &InputLayout, area: Rect, buf: &mut Buffer) {
    if area.width == 0 || area.height == 0 {
        return;
    }
    let first = layout.first_shown(area.height);
    let prompt = prompt(app);
    for (i, row) in layout
        .rows
        .iter()
        .skip(first)
        .take(area.height as usize)
        .enumerate()
    {
        let lead = if first + i == 0 {
            prompt.bold()
        } else {
            Span::raw(" ".repeat(text_width(prompt)))
        };
        let line = Line::from(vec![lead, Span::raw(row.as_str())]);
        put_line(buf, area.x, area.y + i as u16, &line, area.width);
    }
}

/// Rows the input box grows to before it scrolls.
const MAX_INPUT_ROWS: usize = 5;

/// The input wrapped into rows of the box, and where the cursor falls among them.
struct InputLayout {
    rows: Vec<String>,
    /// Row and column (after the prompt) of the cursor.
    cursor: (usize, usize),
}

impl InputLayout {
    /// Wraps at the box's width less the prompt, inside words if need be (as a shell does),
    /// never inside a grapheme; each line of the text starts a row.
    fn new(app: &App, width: u16) -> Self {
        let available = (width as usize)
            .saturating_sub(text_width(prompt(app)))
            .max(1);
        let masked;
        let (text, cursor_at) = if app.asking_password {
            // One dot per character typed, the cursor among them where it is in the text.
            let dots = |s: &str| "•".repeat(s.graphemes(true).count());
            masked = dots(app.input.text());
            (masked.as_str(), dots(app.input.before_cursor()).len())
        } else {
            (app.input.text(), app.input.cursor())
        };
        let mut rows = vec![String::new()];
        let mut column = 0;
        let mut cursor = None;
        for (at, grapheme) in text.grapheme_indices(true) {
            if grapheme == "\n" {
                if at == cursor_at {
                    cursor = Some((rows.len() - 1, column));
                }
                rows.push(String::new());
                column = 0;
                continue;
            }
            let grapheme = if grapheme == "\t" { " " } else { grapheme };
            let w = cluster_width(grapheme);
            if column + w > available && column > 0 {
                rows.push(String::new());
                column = 0;
            }
            if at == cursor_at {
                cursor = Some((rows.len() - 1, column));
            }
            rows.last_mut()
                .expect("rows is never empty")
                .push_str(grapheme);
            column += w;
        }
        let cursor = cursor.unwrap_or_else(|| {
            if column >= available {
                // At the end of a full row the cursor waits at the start of the next.
                rows.push(String::new());
                (rows.len() - 1, 0)
            } else {
                (rows.len() - 1, column)
            }
        });
        Self { rows, cursor }
    }

    /// Rows the box takes on a screen `height` rows high: it grows with the text, up to
    /// [`MAX_INPUT_ROWS`] and never more than half the screen.
    fn height(&self, screen_height: u16) -> u16 {
        let most = MAX_INPUT_ROWS.min(usize::from(screen_height / 2)).max(1);
        self.rows.len().min(most) as u16
    }

    /// The first row shown in a box of `height` rows: enough to keep the cursor in view.
    fn first_shown(&self, height: u16) -> usize {
        (self.cursor.0 + 1).saturating_sub(usize::from(height.max(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::types::{Event, EventKind, JoinResult, MemberInfo};
    use crate::ui::app::{NetEvent, Timestamps};
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use ratatui::{Terminal, backend::TestBackend};
    use unicode_width::UnicodeWidthStr;
    use uuid::Uuid;

    #[test]
    fn timestamps_can_be_turned_off_or_dated() {
        let mut app = chat_app();
        app.timestamps = Timestamps::Off;
        let terminal = screen(&app, 50, 10);
        let text = format!("{:?}", terminal.backend());
        assert!(!text.contains("00:00") && text.contains("<bob> great, thanks!"));
        app.timestamps = Timestamps::Datetime;
        let terminal = screen(&app, 80, 10);
        assert!(format!("{:?}", terminal.backend()).contains("1970-01-01 00:00 <bob> great"));
    }

    #[test]
    fn wide_input_wraps_whole_characters_and_the_cursor_follows() {
        let mut app = App::new("x:1");
        for _ in 0..19 {
            app.handle_key(KeyEvent::new(KeyCode::Char('日'), KeyModifiers::NONE));
        }
        // 18 columns after the prompt hold 9 wide characters a row; the box grows to 3 rows.
        let mut terminal = screen(&app, 20, 10);
        let rows = lines_of(&terminal);
        assert_eq!(rows[7], format!("> {}", "日".repeat(9)));
        assert_eq!(rows[8], format!("  {}", "日".repeat(9)));
        assert_eq!(rows[9].trim_end(), "  日");
        assert_eq!(terminal.get_cursor_position().unwrap(), Position::new(4, 9));
        // An odd width leaves the last column empty rather than split a character.
        let terminal = screen(&app, 21, 10);
        assert_eq!(lines_of(&terminal)[7], format!("> {} ", "日".repeat(9)));
    }

    /// The screen's rows as text, wide characters once each.
    fn lines_of(terminal: &Terminal<TestBackend>) -> Vec<String> {
        let buffer = terminal.backend().buffer();
        (0..buffer.area.height)
            .map(|y| {
                let mut row = String::new();
                let mut x = 0;
                while x < buffer.area.width {
                    let symbol = buffer[(x, y)].symbol();
                    row.push_str(symbol);
                    x += cluster_width(symbol).max(1) as u16;
                }
                row
            })
            .collect()
    }

    #[test]
    fn scroll_stops_at_the_oldest_line() {
        let mut app = chat_app();
        let size = ratatui::layout::Size::new(50, 7);
        app.pane_mut().scroll_by = 100;
        // 7 rows of messages on a 4-row pane (below the header): 3 rows up, the top row of alice's two-row line
        // is at the bottom, the two below it wholly out of sight.
        assert_eq!(
            settled_scroll(&app, size),
            (ScrollPos { lines: 2, rows: 1 }, true)
        );
        app.pane_mut().scroll_by = 2;
        assert_eq!(
            settled_scroll(&app, size),
            (ScrollPos { lines: 2, rows: 0 }, false)
        );
        app.pane_mut().scroll_by = 0;
        assert_eq!(
            settled_scroll(&app, size),
            (ScrollPos::LIVE, false),
            "not scrolled, not at the top"
        );
        // Down from where it is, and never below live.
        app.pane_mut().scroll = ScrollPos { lines: 2, rows: 1 };
        app.pane_mut().scroll_by = -2;
        assert_eq!(
            settled_scroll(&app, size),
            (ScrollPos { lines: 1, rows: 0 }, false)
        );
        app.pane_mut().scroll_by = -100;
        assert_eq!(settled_scroll(&app, size), (ScrollPos::LIVE, false));
    }

    fn member(name: &str) -> MemberInfo {
        MemberInfo {
            // Fixed ids keep snapshots stable; distinct names get distinct ids.
            id: Uuid::from_u128(
                name.bytes()
                    .fold(0, |h, b| h.wrapping_mul(257).wrapping_add(u128::from(b))),
            ),
            name: name.into(),
            guest: false,
            ..Default::default()
        }
    }

    /// bob, just in a room with `members`.
    fn bob_joined(members: Vec<MemberInfo>) -> App {
        let mut app = App::new("127.0.0.1:7777");
        // These screens show every line; the smart filter has tests of its own.
        app.smart_filter = false;
        app.handle_net(NetEvent::Joined {
            result: Box::new(JoinResult {
                protocol: 2,
                room: "#general".into(),
                topic: None,
                session: "s".into(),
                id: Uuid::from_u128(3),
                name: "bob".into(),
                members,
                last_seq: 0,
                history: Vec::new(),
                ..Default::default()
            }),
            resumed: false,
            reset: false,
        });
        app
    }

    fn chat_app() -> App {
        let mut app = bob_joined(vec![member("alice"), member("bob")]);
        let carol = member("carol");
        let events = [
            (EventKind::Join, &carol, None),
            (
                EventKind::Message,
                &member("alice"),
                Some("hi bob, long time no see — how was the trip to 東京?"),
            ),
            (EventKind::Leave, &carol, Some("connection closed")),
        ];
        for (i, (kind, from, text)) in events.into_iter().enumerate() {
            app.handle_net(NetEvent::Event(Event {
                room: "#general".into(),
                seq: i as u64 + 2,
                ts: 0,
                kind,
                from: from.clone(),
                text: text.map(str::to_owned),
                ..Default::default()
            }));
        }
        app.handle_net(NetEvent::Sent {
            room: "#general".into(),
            seq: 5,
            text: "great, thanks!".into(),
            latency_ms: 7,
            action: false,
            ts: 0,
        });
        for c in "typing…".chars() {
            app.handle_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
        }
        app
    }

    fn screen(app: &App, width: u16, height: u16) -> Terminal<TestBackend> {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal.draw(|frame| draw(app, frame)).unwrap();
        terminal
    }

    #[test]
    fn chat_screen() {
        let terminal = screen(&chat_app(), 50, 10);
        insta::assert_snapshot!(terminal.backend());
    }

    #[test]
    fn cursor_sits_after_the_typed_text() {
        let mut terminal = screen(&chat_app(), 50, 10);
        let position = terminal.get_cursor_position().unwrap();
        assert_eq!(position, Position::new(2 + "typing…".width() as u16, 9));
    }

    #[test]
    fn long_input_scrolls_to_keep_the_cursor_visible() {
        let mut app = chat_app();
        for c in " and then some more words".chars() {
            app.handle_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
        }
        let mut terminal = screen(&app, 20, 6);
        insta::assert_snapshot!(terminal.backend());
        assert_eq!(
            terminal.get_cursor_position().unwrap(),
            Position::new(2 + "ome more words".len() as u16, 5)
        );
    }

    #[test]
    fn scrolled_up_view_shows_older_rows_and_says_so() {
        let mut app = chat_app();
        app.pane_mut().scroll_by = 2;
        let terminal = screen(&app, 50, 6);
        insta::assert_snapshot!(terminal.backend());
    }

    #[test]
    fn disconnected_screen() {
        let mut app = chat_app();
        app.handle_net(NetEvent::Disconnected("connection closed by server".into()));
        let terminal = screen(&app, 50, 8);
        insta::assert_snapshot!(terminal.backend());
    }

    #[test]
    fn moved_to_the_next_server_screen_names_it_in_the_status_line() {
        let mut app = chat_app();
        app.handle_net(NetEvent::Disconnected("connection closed".into()));
        app.handle_net(NetEvent::Server("127.0.0.1:7778".into()));
        app.handle_net(NetEvent::Joined {
            result: Box::new(JoinResult {
                protocol: 2,
                room: "#general".into(),
                session: "s2".into(),
                id: Uuid::from_u128(3),
                name: "bob".into(),
                members: vec![member("alice"), member("bob")],
                member_count: 2,
                last_seq: 5,
                ..Default::default()
            }),
            resumed: true,
            reset: false,
        });
        let terminal = screen(&app, 64, 8);
        insta::assert_snapshot!(terminal.backend());
    }

    /// Hostile text from the network, drawn through the real crossterm backend into a byte
    /// buffer: what reaches the terminal must be our own CSI sequences and printable text.
    #[test]
    fn hostile_text_never_reaches_the_terminal_as_control_bytes() {
        use ratatui::backend::CrosstermBackend;
        use ratatui::{TerminalOptions, Viewport};

        let mut app = chat_app();
        let mallory = MemberInfo {
            id: Uuid::from_u128(666),
            name: "mal\x1b[2J\u{202E}lory\x07".into(),
            guest: false,
            ..Default::default()
        };
        let hostile = [
            "\x1b]0;pwned title\x07",                   // OSC: window title
            "\x1b]52;c;Y2xpcGJvYXJk\x07",               // OSC 52: clipboard
            "\x1bP+q544e\x1b\\",                        // DCS query
            "\x1b_apc\x1b\\\x1b^pm\x1b\\",              // APC, PM
            "safe\rOVERWRITE",                          // carriage-return overwrite
            "\u{9b}31m C1 CSI \u{9d}0;x\u{9c}",         // 8-bit CSI and OSC
            "\u{202E}txet desrever\u{2066}iso\u{2069}", // bidi
            "bell\x07\x07 and \x7f del",
        ];
        for (i, text) in hostile.iter().enumerate() {
            app.handle_net(NetEvent::Event(Event {
                room: "#general".into(),
                seq: 100 + i as u64,
                ts: 0,
                kind: EventKind::Message,
                from: mallory.clone(),
                text: Some((*text).to_owned()),
                ..Default::default()
            }));
        }
        /// Keeps every byte the backend writes, readable after the terminal is done with it.
        #[derive(Clone, Default)]
        struct Capture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Capture {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let capture = Capture::default();
        let mut terminal = Terminal::with_options(
            CrosstermBackend::new(capture.clone()),
            TerminalOptions {
                viewport: Viewport::Fixed(Rect::new(0, 0, 80, 24)),
            },
        )
        .unwrap();
        terminal.draw(|frame| draw(&app, frame)).unwrap();
        drop(terminal);
        let bytes = capture.0.lock().unwrap().clone();
        let output = String::from_utf8(bytes.clone()).expect("valid UTF-8");
        assert!(output.contains("safe"), "the text itself is drawn");

        for (i, &byte) in bytes.iter().enumerate() {
            match byte {
                // Every escape we send starts a CSI sequence: cursor moves, colours, styles.
                0x1b => assert_eq!(bytes.get(i + 1), Some(&b'['), "non-CSI escape at {i}"),
                0x07 | b'\r' | 0x7f => panic!("control byte {byte:#04x} at {i}"),
                0x00..=0x1f if byte != b'\n' => panic!("control byte {byte:#04x} at {i}"),
                _ => {}
            }
        }
        for c in output.chars() {
            let code = c as u32;
            assert!(!(0x80..=0x9f).contains(&code), "C1 control {code:#x}");
            assert!(
                !matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'),
                "bidi control {code:#x}"
            );
        }
    }

    #[test]
    fn wide_screen_shows_the_member_list() {
        let mut terminal = screen(&chat_app(), 80, 10);
        insta::assert_snapshot!(terminal.backend());
        // F2 hides it and the messages take the whole width.
        let mut app = chat_app();
        app.handle_key(KeyEvent::new(KeyCode::F(2), KeyModifiers::NONE));
        terminal.draw(|frame| draw(&app, frame)).unwrap();
        insta::assert_snapshot!("wide_screen_member_list_hidden", terminal.backend());
    }

    #[test]
    fn a_long_member_list_says_how_many_more() {
        let mut app = chat_app();
        for i in 0..20 {
            app.handle_net(NetEvent::Event(Event {
                room: "#general".into(),
                seq: 100 + i,
                ts: 0,
                kind: EventKind::Join,
                from: member(&format!("user{i:02}")),
                text: None,
                ..Default::default()
            }));
        }
        let terminal = screen(&app, 80, 8);
        let panel: Vec<String> = (1..6)
            .map(|y| {
                (63..80)
                    .map(|x| terminal.backend().buffer()[(x, y)].symbol().to_owned())
                    .collect::<String>()
                    .trim()
                    .to_owned()
            })
            .collect();
        assert_eq!(panel.last().unwrap(), "… 18 more", "{panel:?}");
    }

    #[test]
    fn tiny_terminals_do_not_panic() {
        let app = chat_app();
        for (w, h) in [(10, 3), (1, 1), (3, 2), (0, 0), (10, 1)] {
            screen(&app, w, h);
        }
    }

    #[test]
    fn empty_room() {
        let app = bob_joined(vec![member("bob")]);
        insta::assert_snapshot!(screen(&app, 80, 8).backend());
    }

    #[test]
    fn help_screen() {
        let mut app = chat_app();
        app.input.take();
        for c in "/help".chars() {
            app.handle_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
        }
        app.handle_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
        insta::assert_snapshot!(screen(&app, 100, 24).backend());
    }

    #[test]
    fn multi_line_input_grows_the_box() {
        let mut app = chat_app();
        app.paste("\nfirst line of a paste\r\nsecond line\nthird");
        app.handle_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::ALT));
        app.handle_key(KeyEvent::new(KeyCode::Char('!'), KeyModifiers::NONE));
        let mut terminal = screen(&app, 50, 12);
        insta::assert_snapshot!(terminal.backend());
        assert_eq!(
            terminal.get_cursor_position().unwrap(),
            Position::new(3, 11)
        );
        // Past five rows the box stops growing and keeps the cursor's row in view.
        for _ in 0..2 {
            app.handle_key(KeyEvent::new(KeyCode::Char('j'), KeyModifiers::CONTROL));
        }
        let mut terminal = screen(&app, 50, 12);
        let rows = lines_of(&terminal);
        assert!(
            rows[6].starts_with(" connected"),
            "status above the box: {rows:?}"
        );
        let input: Vec<&str> = rows[7..].iter().map(|row| row.trim_end()).collect();
        assert_eq!(input, ["  second line", "  third", "  !", "", ""]);
        assert_eq!(
            terminal.get_cursor_position().unwrap(),
            Position::new(2, 11)
        );
    }

    #[test]
    fn narrow_terminal() {
        let mut app = chat_app();
        app.timestamps = Timestamps::Off;
        insta::assert_snapshot!(screen(&app, 24, 12).backend());
    }

    #[test]
    fn the_scrollbar_shows_where_the_view_is() {
        let mut app = chat_app();
        let alice = member("alice");
        for i in 0..40 {
            app.handle_net(NetEvent::Event(Event {
                room: "#general".into(),
                seq: 10 + i,
                ts: 0,
                kind: EventKind::Message,
                from: alice.clone(),
                text: Some(format!("line {i}")),
                ..Default::default()
            }));
        }
        let thumb_rows = |app: &App| {
            let terminal = screen(app, 40, 12);
            let buffer = terminal.backend().buffer();
            (1..10u16)
                .filter(|&y| buffer[(39, y)].symbol() == "┃")
                .collect::<Vec<_>>()
        };
        let live = thumb_rows(&app);
        assert_eq!(live.last(), Some(&9), "at the bottom when live: {live:?}");
        app.pane_mut().scroll_by = 1000;
        let top = thumb_rows(&app);
        assert_eq!(top.first(), Some(&1), "at the top: {top:?}");
        assert!(top.len() < 10 && !top.is_empty());
        // No scrollbar while everything fits.
        let short = chat_app();
        let terminal = screen(&short, 80, 24);
        let buffer = terminal.backend().buffer();
        assert!((0..22u16).all(|y| !matches!(buffer[(61, y)].symbol(), "┃" | "│")));
    }

    #[test]
    fn new_messages_below_a_scrolled_up_view_are_counted() {
        let mut app = chat_app();
        app.pane_mut().scroll = ScrollPos { lines: 2, rows: 0 };
        for (seq, text) in [(6, "are you there?"), (7, "bob?")] {
            app.handle_net(NetEvent::Event(Event {
                room: "#general".into(),
                seq,
                ts: 0,
                kind: EventKind::Message,
                from: member("alice"),
                text: Some(text.into()),
                ..Default::default()
            }));
        }
        // What the event loop does with lines that arrive below the view.
        let pane = app.pane_mut();
        pane.scroll.lines += std::mem::take(&mut pane.appended_while_scrolled);
        insta::assert_snapshot!(screen(&app, 80, 8).backend());
    }

    /// Emoji sequences and Devanagari, in messages, the input and the member list.
    fn cluster_app() -> App {
        let mut app = bob_joined(vec![member("alice"), member("bob"), member("क्षत्रिय")]);
        let texts = [
            "👨\u{200d}👩\u{200d}👧 family",
            "क्षत्रिय हिन्दी and a long tail that wraps under 👍🏽",
        ];
        for (i, text) in texts.into_iter().enumerate() {
            app.handle_net(NetEvent::Event(Event {
                room: "#general".into(),
                seq: i as u64 + 2,
                ts: 0,
                kind: EventKind::Message,
                from: member("alice"),
                text: Some(text.into()),
                ..Default::default()
            }));
        }
        for c in "hello 👍🏽".chars() {
            app.handle_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
        }
        app
    }

    #[test]
    fn complex_clusters_keep_the_member_list_in_its_column() {
        let mut terminal = screen(&cluster_app(), 64, 10);
        let buffer = terminal.backend().buffer().clone();
        for y in 1..8 {
            assert_eq!(buffer[(46, y)].symbol(), "│", "row {y}");
        }
        // The cursor after 👍 and 🏽, four columns.
        assert_eq!(
            terminal.get_cursor_position().unwrap(),
            Position::new(2 + 6 + 4, 9)
        );
        insta::assert_snapshot!(terminal.backend());
    }
}
