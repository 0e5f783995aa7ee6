//! How a line of the message pane reads on screen: its time, the sender's name in a colour
//! of its own, and its text, as styled pieces wrapped to the pane's width.

use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use unicode_segmentation::UnicodeSegmentation;

use super::app::{App, ChatLine, LineKind, Timestamps};
use super::cells::{cluster_width, text_width};
use super::days;
use super::theme::Theme;

const TAB: &str = "    ";
/// Either side of the "new messages" separator's words.
const SEPARATOR_RULE: &str = "──────────";

/// `HH:MM` or `YYYY-MM-DD HH:MM` of a Unix-millisecond time, shifted by `offset_secs`.
pub fn format_time(ts_ms: u64, offset_secs: i64, with_date: bool) -> String {
    let secs = (ts_ms / 1000) as i64 + offset_secs;
    let (days, of_day) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let time = format!("{:02}:{:02}", of_day / 3600, of_day % 3600 / 60);
    if !with_date {
        return time;
    }
    let (year, month, day) = days::civil(days);
    format!("{year:04}-{month:02}-{day:02} {time}")
}

/// A line of the pane as the rows it takes `width` columns wide, `at` its place among the
/// pane's lines: headed by the day's name when it is the first of a day.
pub(super) fn line_rows(app: &App, at: usize, line: &ChatLine, width: usize) -> Vec<Line<'static>> {
    let (segments, indent) = styled_segments(app, line);
    let mut rows = wrap(&segments, width, indent);
    if let Some(day) = days::day_change_above(&app.pane().lines, at, app.utc_offset_secs) {
        let heading = [(days::day_heading(day, app.today), app.theme.rule())];
        let mut headed = wrap(&heading, width, 0);
        headed.append(&mut rows);
        rows = headed;
    }
    rows
}

/// A line's text as styled pieces, before wrapping, its time first when shown; and the
/// columns before its text (time, name), where its wrapped rows start.
pub(super) fn styled_segments(app: &App, line: &ChatLine) -> (Vec<(String, Style)>, usize) {
    let theme = &app.theme;
    let dim = theme.dim();
    let stamp = match (app.timestamps, line.ts) {
        (Timestamps::Off, _) => None,
        // The separator stands across the pane, not in the text's column.
        _ if line.kind == LineKind::Separator => None,
        // Older than today (or, the clock moved back, newer): the date as well.
        (Timestamps::Time, Some(ts)) => Some(days::line_time(ts, app.utc_offset_secs, app.today)),
        (Timestamps::Datetime, Some(ts)) => Some(format_time(ts, app.utc_offset_secs, true)),
        // The client's own notes have no time; keep the text in line with the rest.
        (Timestamps::Time, None) => Some(" ".repeat(5)),
        (Timestamps::Datetime, None) => Some(" ".repeat(16)),
    };
    let (mut segments, mut indent) = line_segments(theme, line);
    // The message picked to delete (`/delete` alone) stands out whole.
    if line.seq.is_some() && line.seq == app.selecting {
        for (_, style) in &mut segments {
            *style = style.add_modifier(Modifier::REVERSED);
        }
    }
    // The line jumped to from a search, where the eye looks for it.
    if app.is_marked(line.seq) {
        for (_, style) in &mut segments {
            *style = style.add_modifier(Modifier::UNDERLINED | Modifier::BOLD);
        }
    }
    if let Some(stamp) = stamp {
        let stamp = format!("{stamp} ");
        indent += text_width(&stamp);
        segments.insert(0, (stamp, dim));
    }
    // A line that names us stands out whole, on a background no nick colour has. In a
    // conversation every line is for us: only those that name us stand out there.
    if line.mentions_me && (app.room().peer.is_none() || names_me(app, line)) {
        let highlight = theme.mention();
        for (_, style) in &mut segments {
            *style = style.patch(highlight);
        }
    }
    (segments, indent)
}

/// The pieces of a line after its time, and the columns they take before the text.
fn line_segments(theme: &Theme, line: &ChatLine) -> (Vec<(String, Style)>, usize) {
    let dim = theme.dim();
    let text = line.text.replace('\t', TAB);
    let name_style = |from: &str, own: bool| {
        if own {
            Style::new().add_modifier(Modifier::BOLD)
        } else {
            Style::new().fg(theme.nick_colour(from))
        }
    };
    let segments = match &line.kind {
        LineKind::Message { from, own } => vec![
            ("<".into(), dim),
            (from.clone(), name_style(from, *own)),
            ("> ".into(), dim),
            (text, Style::new()),
        ],
        LineKind::Action { from, own } => vec![
            ("* ".into(), dim),
            (from.clone(), name_style(from, *own)),
            (format!(" {text}"), Style::new()),
        ],
        LineKind::Notice | LineKind::Presence { .. } => vec![(format!("-!- {text}"), dim)],
        LineKind::Deleted { from } => vec![
            ("<".into(), dim),
            (from.clone(), dim),
            ("> ".into(), dim),
            (text, dim.add_modifier(Modifier::ITALIC)),
        ],
        LineKind::Separator => vec![(
            format!("{SEPARATOR_RULE} {text} {SEPARATOR_RULE}"),
            theme.rule(),
        )],
        LineKind::Info => vec![(text, theme.info())],
        LineKind::Error => vec![(text, theme.error())],
    };
    let indent = match &line.kind {
        LineKind::Message { from, .. } | LineKind::Deleted { from } => {
            text_width(from) + "<> ".len()
        }
        LineKind::Action { from, .. } => text_width(from) + "*  ".len(),
        LineKind::Notice | LineKind::Presence { .. } => "-!- ".len(),
        LineKind::Info | LineKind::Error | LineKind::Separator => 0,
    };
    (segments, indent)
}

/// Whether a line's text names us.
fn names_me(app: &App, line: &ChatLine) -> bool {
    app.me
        .as_ref()
        .is_some_and(|me| super::app::mentions(&line.text, &me.name))
}

/// The least a row after a line's first starts in, when the line has a prefix at all.
const MIN_INDENT: usize = 2;

/// Wraps styled text to `width` display columns: at spaces where it can, inside a word where
/// it must, never inside a grapheme. Newlines start a new row. Rows after the first start
/// `indent` columns in, under the text rather than under its time and name (as irssi does),
/// unless that would take more than half the row: then [`MIN_INDENT`] columns in, so that no
/// row of a message can start where a line does and pass for another member's line.
pub(super) fn wrap(
    segments: &[(String, Style)],
    width: usize,
    indent: usize,
) -> Vec<Line<'static>> {
    let indent = if indent * 2 > width {
        indent.min(MIN_INDENT).min(width / 2)
    } else {
        indent
    };
    let pad = " ".repeat(indent);
    // What a row after the first starts with, and how many of its pieces that is.
    let lead: Vec<(&str, Style)> = if indent > 0 {
        vec![(pad.as_str(), Style::new())]
    } else {
        Vec::new()
    };
    let mut rows: Vec<Vec<(&str, Style)>> = vec![Vec::new()];
    // Where the current row's own text starts, in pieces and in columns.
    let (mut start, mut start_width) = (0, 0);
    let mut row_width = 0;
    // Index in the current row just after its last space, where a break may go.
    let mut break_at: Option<usize> = None;
    for (text, style) in segments {
        for grapheme in text.graphemes(true) {
            if grapheme == "\n" {
                rows.push(lead.clone());
                (start, start_width) = (lead.len(), indent);
                (row_width, break_at) = (indent, None);
                continue;
            }
            let w = cluster_width(grapheme);
            if row_width + w > width && row_width > start_width {
                if grapheme == " " {
                    // The break itself takes the place of this space.
                    rows.push(lead.clone());
                    (start, start_width) = (lead.len(), indent);
                    (row_width, break_at) = (indent, None);
                    continue;
                }
                let row = rows.last_mut().expect("rows is never empty");
                let carried = match break_at {
                    // A space at the very start of a row's text is no place to break: the
                    // row would be left empty.
                    Some(at) if at > start + 1 => {
                        let carried = row.split_off(at);
                        row.pop(); // the space the break replaces
                        carried
                    }
                    _ => Vec::new(),
                };
                (start, start_width) = (lead.len(), indent);
                row_width = indent + carried.iter().map(|(g, _)| cluster_width(g)).sum::<usize>();
                let mut next = lead.clone();
                next.extend(carried);
                rows.push(next);
                if row_width + w > width && row_width > start_width {
                    // The carried word fills its row; this grapheme starts the next one.
                    rows.push(lead.clone());
                    row_width = indent;
                }
                break_at = None;
            }
            let row = rows.last_mut().expect("rows is never empty");
            row.push((grapheme, *style));
            row_width += w;
            if grapheme == " " {
                break_at = Some(row.len());
            }
        }
    }
    rows.into_iter().map(merge_spans).collect()
}

/// Joins neighbouring graphemes of the same style into spans.
fn merge_spans(row: Vec<(&str, Style)>) -> Line<'static> {
    let mut spans: Vec<Span<'static>> = Vec::new();
    for (grapheme, style) in row {
        match spans.last_mut() {
            Some(span) if span.style == style => span.content.to_mut().push_str(grapheme),
            _ => spans.push(Span::styled(grapheme.to_owned(), style)),
        }
    }
    Line::from(spans)
}

#[cfg(test)]
mod tests {
    use unicode_width::UnicodeWidthStr;

    use super::*;

    fn plain(rows: &[Line]) -> Vec<String> {
        rows.iter().map(|l| l.to_string()).collect()
    }

    fn wrap_plain(text: &str, width: usize) -> Vec<String> {
        plain(&wrap(&[(text.to_owned(), Style::new())], width, 0))
    }

    #[test]
    fn wraps_at_spaces() {
        assert_eq!(
            wrap_plain("the quick brown fox", 10),
            ["the quick", "brown fox"]
        );
    }

    #[test]
    fn breaks_a_word_longer_than_the_row() {
        assert_eq!(wrap_plain("abcdefghij", 4), ["abcd", "efgh", "ij"]);
    }

    #[test]
    fn wide_characters_never_spill_or_split() {
        let rows = wrap_plain("日本語のテキスト", 5);
        assert_eq!(rows, ["日本", "語の", "テキ", "スト"]);
        assert!(rows.iter().all(|r| r.width() <= 5));
    }

    #[test]
    fn combining_marks_stay_with_their_letter() {
        assert_eq!(
            wrap_plain("e\u{301}e\u{301}e\u{301}", 2),
            ["e\u{301}e\u{301}", "e\u{301}"]
        );
    }

    #[test]
    fn newlines_start_new_rows() {
        assert_eq!(wrap_plain("one\ntwo", 20), ["one", "two"]);
    }

    #[test]
    fn times_are_formatted_in_local_time() {
        // 2026-11-29 13:05:59 UTC
        let ts = 1_795_957_559_000;
        assert_eq!(format_time(ts, 0, false), "13:05");
        assert_eq!(format_time(ts, 3600, false), "14:05");
        assert_eq!(format_time(ts, -14 * 3600, true), "2026-11-28 23:05");
        assert_eq!(format_time(0, 0, true), "1970-01-01 00:00");
        assert_eq!(format_time(951_825_600_000, 0, true), "2000-02-29 12:00");
    }

    #[test]
    fn a_row_starting_with_spaces_still_fits_wide_characters() {
        let rows = wrap_plain("abcdefghij  klmnopqrs日x", 10);
        assert!(rows.iter().all(|r| r.width() <= 10), "{rows:?}");
        assert!(rows.iter().all(|r| !r.is_empty()), "{rows:?}");
        assert_eq!(rows.concat().replace(' ', ""), "abcdefghijklmnopqrs日x");
    }

    #[test]
    fn wrapped_rows_start_under_the_text() {
        let segments = [
            ("12:00 ".to_owned(), Style::new()),
            ("<alice> ".to_owned(), Style::new()),
            ("one two three four five six".to_owned(), Style::new()),
        ];
        assert_eq!(
            plain(&wrap(&segments, 30, 14)),
            ["12:00 <alice> one two three", "              four five six"]
        );
        // A prefix wider than half the row would leave too little: rows start two columns
        // in, never at the edge where a row could pass for a line of its own.
        assert_eq!(
            plain(&wrap(&segments, 24, 14)),
            ["12:00 <alice> one two", "  three four five six"]
        );
        let forged = [
            ("12:00 ".to_owned(), Style::new()),
            ("<a_rather_long_name_here> ".to_owned(), Style::new()),
            (
                "hi
12:00 <alice> send me your password"
                    .to_owned(),
                Style::new(),
            ),
        ];
        let rows = plain(&wrap(&forged, 40, 32));
        assert!(
            rows[1..].iter().all(|row| row.starts_with("  ")),
            "{rows:?}"
        );
        // The text's own lines start under it too.
        let lines = [
            ("-!- ".to_owned(), Style::new()),
            ("a\nb".to_owned(), Style::new()),
        ];
        assert_eq!(plain(&wrap(&lines, 20, 4)), ["-!- a", "    b"]);
    }
}
