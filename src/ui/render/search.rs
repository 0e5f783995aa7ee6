//! The results view of `/search`, drawn over the message pane: a title naming what was
//! searched, then one row per hit, newest first (room, time, name, text), the words searched
//! for standing out and the picked hit reversed. Everything the server sent is cleaned
//! again here, as everything the client draws.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};

use crate::domain::search_words;
use crate::rpc::types::{SearchHit, is_conversation};
use crate::text::clean_text;
use crate::ui::app::App;
use crate::ui::app::search::Results;
use crate::ui::cells::put_line;
use crate::ui::event_text::shown_name;
use crate::ui::present::format_time;

/// Draws the results view in `area` (the message pane's).
pub fn render_results(app: &App, results: &Results, area: Rect, buf: &mut Buffer) {
    if area.is_empty() {
        return;
    }
    for y in area.top()..area.bottom() {
        for x in area.left()..area.right() {
            buf[(x, y)].reset();
        }
    }
    let title = Line::from(Span::styled(
        title(results),
        Style::new().add_modifier(Modifier::BOLD),
    ));
    put_line(buf, area.x, area.y, &title, area.width);
    let rows = (area.height as usize).saturating_sub(1);
    if rows == 0 {
        return;
    }
    // The window of hits on screen keeps the picked one in it.
    let first = (results.picked + 1).saturating_sub(rows);
    for (row, (at, hit)) in results
        .hits
        .iter()
        .enumerate()
        .skip(first)
        .take(rows)
        .enumerate()
    {
        let mut line = hit_line(app, hit, &results.words);
        if at == results.picked {
            line = line.patch_style(Style::new().add_modifier(Modifier::REVERSED));
        }
        put_line(buf, area.x, area.y + 1 + row as u16, &line, area.width);
    }
}

fn title(results: &Results) -> String {
    let place = match &results.room {
        Some(room) if is_conversation(room) => "this conversation".to_owned(),
        Some(room) => clean_text(room),
        None => "everything you can read".to_owned(),
    };
    let count = results.hits.len();
    let s = if count == 1 { "" } else { "s" };
    let more = if results.more {
        " (older ones not shown)"
    } else {
        ""
    };
    format!(
        "search {} in {place}: {count} hit{s}{more} · Up/Down move · Enter jumps · Esc closes",
        clean_text(&results.query).replace('\n', " ")
    )
}

/// A hit's row: where, when, who, and the text with the words searched for standing out.
fn hit_line(app: &App, hit: &SearchHit, words: &[String]) -> Line<'static> {
    let dim = Style::new().add_modifier(Modifier::DIM);
    let room = room_label(app, &hit.room);
    let when = format_time(hit.ts, app.utc_offset_secs, true);
    let name = shown_name(&hit.from.name);
    let name = if hit.action {
        format!("* {name}")
    } else {
        format!("<{name}>")
    };
    let mut spans = vec![
        Span::styled(format!("{room} "), dim),
        Span::styled(format!("{when} "), dim),
        Span::styled(
            format!("{name} "),
            Style::new().add_modifier(Modifier::BOLD),
        ),
    ];
    let text = clean_text(&hit.text).replace(['\n', '\t'], " ");
    let found = Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED);
    for (piece, matched) in split_matches(&text, words) {
        spans.push(if matched {
            Span::styled(piece, found)
        } else {
            Span::raw(piece)
        });
    }
    Line::from(spans)
}

/// A room as the view names it: a conversation as `@peer` when it is open (its peer known),
/// else `@…`.
fn room_label(app: &App, room: &str) -> String {
    if !is_conversation(room) {
        return clean_text(room);
    }
    let peer = app
        .rooms
        .iter()
        .find(|r| r.name == room)
        .and_then(|r| r.peer.as_ref());
    match peer {
        Some(peer) => format!("@{}", shown_name(&peer.name)),
        None => "@…".into(),
    }
}

/// `text` in pieces, each with whether it is one of `words` (whole words, case ignored).
fn split_matches(text: &str, words: &[String]) -> Vec<(String, bool)> {
    let mut pieces: Vec<(String, bool)> = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let alnum = rest.starts_with(char::is_alphanumeric);
        let end = rest
            .find(|c: char| c.is_alphanumeric() != alnum)
            .unwrap_or(rest.len());
        let (piece, after) = rest.split_at(end);
        let matched = alnum && search_words(piece).iter().all(|w| words.contains(w));
        match pieces.last_mut() {
            Some((last, was)) if *was == matched => last.push_str(piece),
            _ => pieces.push((piece.to_owned(), matched)),
        }
        rest = after;
    }
    pieces
}

#[cfg(test)]
mod tests {
    use ratatui::{Terminal, backend::TestBackend};

    use super::*;
    use crate::rpc::types::{MemberInfo, SearchResult};
    use crate::ui::app::NetEvent;
    use crate::ui::app::room_tests::in_rooms;
    use crate::ui::render::draw;

    fn hit(room: &str, seq: u64, from: &str, text: &str) -> SearchHit {
        SearchHit {
            room: room.into(),
            seq,
            // 1 December 2026, from 09:00 UTC, a minute a line.
            ts: 1_796_115_600_000 + seq * 60_000,
            from: MemberInfo::new(uuid::Uuid::from_u128(seq as u128), from.into()),
            text: text.into(),
            action: false,
        }
    }

    pub(crate) fn found() -> NetEvent {
        NetEvent::SearchResults {
            room: "#general".into(),
            all: true,
            query: "deploy \"green build\"".into(),
            result: Box::new(SearchResult {
                hits: vec![
                    hit("#ops", 9, "carol", "Deploy of the green build is done"),
                    hit("#general", 7, "alice", "who runs the deploy today?"),
                    hit(
                        "#ops",
                        3,
                        "evil\u{1b}[2J",
                        "deploy\u{7}\nstarted\u{1b}]0;pwned\u{7}",
                    ),
                ],
                more: true,
            }),
        }
    }

    #[test]
    fn the_results_view_lists_hits_newest_first_with_the_words_found_standing_out() {
        let mut app = in_rooms(&["#ops"]);
        app.handle_net(found());
        app.search.results.as_mut().unwrap().picked = 1;
        let mut terminal = Terminal::new(TestBackend::new(120, 10)).unwrap();
        terminal.draw(|frame| draw(&app, frame)).unwrap();
        insta::assert_snapshot!(terminal.backend());
        let buffer = terminal.backend().buffer();
        // The picked hit is reversed; the words searched for stand out.
        let styled = |word: &str| {
            let content: Vec<(u16, u16)> = (0..buffer.area.height)
                .flat_map(|y| (0..buffer.area.width).map(move |x| (x, y)))
                .collect();
            content.into_iter().find(|&(x, y)| {
                let row: String = (x..buffer.area.width.min(x + word.len() as u16))
                    .map(|x| buffer[(x, y)].symbol().to_owned())
                    .collect();
                row == word
            })
        };
        let (x, y) = styled("Deploy").expect("the first hit is shown");
        assert!(buffer[(x, y)].modifier.contains(Modifier::UNDERLINED));
        let (x, y) = styled("runs").expect("the second hit is shown");
        assert!(
            buffer[(x, y)].modifier.contains(Modifier::REVERSED),
            "picked"
        );
        assert!(
            !buffer[(x, y)].modifier.contains(Modifier::UNDERLINED),
            "not searched for"
        );
    }

    #[test]
    fn matched_words_are_whole_words_case_ignored() {
        let words = vec!["deploy".to_owned(), "green".to_owned()];
        assert_eq!(
            split_matches("Deploy redeploy, green!", &words),
            [
                ("Deploy".to_owned(), true),
                (" redeploy, ".to_owned(), false),
                ("green".to_owned(), true),
                ("!".to_owned(), false),
            ]
        );
    }
}
