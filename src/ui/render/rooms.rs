//! The room list down the left (F3), with each room's number for Alt-1…Alt-9, its unread
//! count and a marker where we were named; and the header line with the room in view and
//! its topic.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

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
        .border_style(Style::new().fg(Color::DarkGray));
    let inner = block.inner(area);
    block.render(area, buf);
    let width = inner.width as usize;
    for (at, room) in app.rooms.iter().enumerate().take(inner.height as usize) {
        let number = if at < 9 {
            format!("{}", at + 1)
        } else {
            " ".into()
        };
        let count = match (room.mentioned, room.unread) {
            (true, 0) => MENTION_MARK.to_owned(),
            (true, n) => format!("{MENTION_MARK}{n}"),
            (false, 0) => String::new(),
            (false, n) => n.to_string(),
        };
        let name_room = width.saturating_sub(number.len() + 2 + text_width(&count) + 1);
        let name: String = truncate(&room.name, name_room);
        let pad =
            width.saturating_sub(number.len() + 1 + text_width(&name) + text_width(&count) + 1);
        let (name_style, count_style) = if at == app.current {
            let style = Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD);
            (style, style)
        } else if room.mentioned {
            let style = Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD);
            (style, style)
        } else if room.unread > 0 {
            (
                Style::new().add_modifier(Modifier::BOLD),
                Style::new().fg(Color::Cyan),
            )
        } else {
            (Style::new().fg(Color::Gray), Style::new())
        };
        let line = Line::from(vec![
            Span::styled(format!("{number} "), Style::new().fg(Color::DarkGray)),
            Span::styled(format!("{name}{}", " ".repeat(pad)), name_style),
            Span::styled(format!("{count} "), count_style),
        ]);
        put_line(buf, inner.x, inner.y + at as u16, &line, inner.width);
    }
}

/// The header line: the room in view and its topic.
pub fn render_header(app: &App, area: Rect, buf: &mut Buffer) {
    let room = app.room();
    let style = Style::new().fg(Color::White).bg(Color::DarkGray);
    buf.set_style(area, style);
    let name = if room.name.is_empty() {
        "…".to_owned()
    } else {
        room.name.clone()
    };
    let mut spans = vec![Span::styled(
        format!(" {name}"),
        style.add_modifier(Modifier::BOLD),
    )];
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
