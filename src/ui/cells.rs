//! Text into terminal cells under one width policy that holds whatever the terminal thinks a
//! grapheme cluster is, and a backend that paints every cell such a cluster may cover.
//!
//! Terminals disagree on clusters of several code points. Some (kitty, WezTerm, Ghostty)
//! give `👍🏽` or `👨‍👩‍👧` the two columns of one emoji; others (tmux, xterm, vt100) add up the
//! code points, `👍` and `🏽` four columns, the family six, and put each letter of a
//! Devanagari conjunct in a cell of its own. ratatui keeps a cluster in one cell of its
//! cluster width and assumes the terminal did the same, so on the others the rest of the
//! cluster was left on screen after it changed (a stray `🏽` in the input row), and text after
//! it was drawn shifted (the member list's border).
//!
//! The policy: a cluster of several code points takes [`cluster_width`] columns, the larger of
//! the two opinions, everywhere (wrapping, the input's cursor, truncation). In the buffer it
//! is one cell followed by padding cells that are never drawn but differ from a blank, so
//! whatever takes their place later is written out. [`ClusterSafe`] draws it by blanking all
//! its columns first and then writing the cluster over them, and places the cursor by
//! position for what follows: every terminal ends with the cluster (or its parts) and blanks
//! in exactly those columns.

use std::io;

use ratatui::backend::{Backend, ClearType, WindowSize};
use ratatui::buffer::{Buffer, Cell, CellDiffOption};
use ratatui::layout::{Position, Size};
use ratatui::style::Style;
use ratatui::text::Line;
use unicode_segmentation::UnicodeSegmentation;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Columns a grapheme cluster takes on screen: for one code point its width; for several,
/// the wider of the cluster's width and the sum of its code points' widths, so that terminals
/// of either kind fit it.
pub fn cluster_width(grapheme: &str) -> usize {
    let mut chars = grapheme.chars();
    match (chars.next(), chars.next()) {
        (None, _) => 0,
        (Some(c), None) => c.width().unwrap_or(0),
        _ => {
            let summed: usize = grapheme.chars().map(|c| c.width().unwrap_or(0)).sum();
            grapheme.width().max(summed)
        }
    }
}

/// Columns `text` takes, cluster by cluster.
pub fn text_width(text: &str) -> usize {
    text.graphemes(true).map(cluster_width).sum()
}

/// [`cluster_width`] as screen columns: one wider than any screen stays wider than it.
fn columns_of(grapheme: &str) -> u16 {
    u16::try_from(cluster_width(grapheme)).unwrap_or(u16::MAX)
}

/// Whether terminals may disagree on how `symbol` (one cell's content) is drawn: it holds
/// more than one code point.
fn is_cluster(symbol: &str) -> bool {
    symbol.chars().nth(1).is_some()
}

/// Writes `text` from `(x, y)` in at most `max_width` columns, as [`Buffer::set_stringn`]
/// does but under [`cluster_width`]: a cluster of several code points is followed by padding
/// cells for the rest of its columns. Returns the column after the last one written.
pub fn put_str(buf: &mut Buffer, x: u16, y: u16, text: &str, max_width: u16, style: Style) -> u16 {
    let right = buf.area.right().min(x.saturating_add(max_width));
    let mut x = x;
    for grapheme in text.graphemes(true) {
        if grapheme.contains(char::is_control) {
            continue;
        }
        let width = columns_of(grapheme);
        if width == 0 {
            continue;
        }
        if x.saturating_add(width) > right {
            break;
        }
        buf[(x, y)]
            .set_symbol(grapheme)
            .set_style(style)
            .set_diff_option(CellDiffOption::None);
        let padding = if is_cluster(grapheme) {
            CellDiffOption::Skip
        } else {
            CellDiffOption::None
        };
        for hidden in x + 1..x + width {
            let cell = &mut buf[(hidden, y)];
            cell.reset();
            cell.set_diff_option(padding);
        }
        x += width;
    }
    x
}

/// Writes a line's spans one after another from `(x, y)`, in at most `max_width` columns.
pub fn put_line(buf: &mut Buffer, x: u16, y: u16, line: &Line<'_>, max_width: u16) -> u16 {
    let right = x.saturating_add(max_width);
    let mut at = x;
    for span in line {
        if at >= right {
            break;
        }
        at = put_str(
            buf,
            at,
            y,
            &span.content,
            right - at,
            line.style.patch(span.style),
        );
    }
    at
}

/// A backend that draws clusters of several code points so that they leave nothing behind
/// on any terminal (see the module's notes), and that never asks the terminal where its
/// cursor is.
pub struct ClusterSafe<B> {
    inner: B,
    /// Where the cursor was put last: [`Backend::get_cursor_position`] answers with it, as
    /// a full-screen client always knows, rather than ask the terminal and wait for a reply
    /// that may never come (ratatui asks when clearing, for Ctrl-L).
    cursor: Position,
}

impl<B> ClusterSafe<B> {
    pub fn new(inner: B) -> Self {
        Self {
            inner,
            cursor: Position::ORIGIN,
        }
    }
}

impl<B: Backend> Backend for ClusterSafe<B> {
    type Error = B::Error;

    fn draw<'a, I>(&mut self, content: I) -> Result<(), Self::Error>
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        // Clusters are laid out to fit; this only keeps a stray one inside the screen. Asked
        // of the terminal only in a frame that holds a cluster.
        let mut columns = None;
        let mut run: Vec<(u16, u16, &Cell)> = Vec::new();
        for (x, y, cell) in content {
            if !is_cluster(cell.symbol()) {
                run.push((x, y, cell));
                continue;
            }
            // What comes before, then blanks over every column the cluster may take, then
            // the cluster over them; each draw starts by placing the cursor.
            if !run.is_empty() {
                self.inner.draw(run.drain(..))?;
            }
            let columns = *columns
                .get_or_insert_with(|| self.inner.size().map_or(u16::MAX, |size| size.width));
            let width = columns_of(cell.symbol()).min(columns.saturating_sub(x));
            let mut blank = cell.clone();
            blank.set_symbol(" ").set_diff_option(CellDiffOption::None);
            let blanks = vec![blank; usize::from(width)];
            self.inner
                .draw((x..).zip(&blanks).map(|(bx, blank)| (bx, y, blank)))?;
            self.inner.draw(std::iter::once((x, y, cell)))?;
        }
        self.inner.draw(run.into_iter())
    }

    fn append_lines(&mut self, n: u16) -> Result<(), Self::Error> {
        self.inner.append_lines(n)
    }

    fn hide_cursor(&mut self) -> Result<(), Self::Error> {
        self.inner.hide_cursor()
    }

    fn show_cursor(&mut self) -> Result<(), Self::Error> {
        self.inner.show_cursor()
    }

    fn get_cursor_position(&mut self) -> Result<Position, Self::Error> {
        Ok(self.cursor)
    }

    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> Result<(), Self::Error> {
        self.cursor = position.into();
        self.inner.set_cursor_position(self.cursor)
    }

    fn clear(&mut self) -> Result<(), Self::Error> {
        self.inner.clear()
    }

    fn clear_region(&mut self, clear_type: ClearType) -> Result<(), Self::Error> {
        self.inner.clear_region(clear_type)
    }

    fn size(&self) -> Result<Size, Self::Error> {
        self.inner.size()
    }

    fn window_size(&mut self) -> Result<WindowSize, Self::Error> {
        self.inner.window_size()
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        self.inner.flush()
    }
}

/// The terminal the client draws on.
pub type ChatTerminal =
    ratatui::Terminal<ClusterSafe<ratatui::backend::CrosstermBackend<io::Stdout>>>;

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use ratatui::backend::CrosstermBackend;
    use ratatui::layout::Rect;
    use ratatui::{Terminal, TerminalOptions, Viewport};

    use super::*;

    const FAMILY: &str = "👨\u{200d}👩\u{200d}👧";
    const THUMB: &str = "👍🏽";
    const HINDI: &str = "क्षत्रिय हिन्दी";

    #[test]
    fn clusters_take_the_wider_of_both_opinions() {
        assert_eq!(cluster_width("a"), 1);
        assert_eq!(cluster_width("東"), 2);
        assert_eq!(cluster_width("e\u{301}"), 1);
        assert_eq!(cluster_width(THUMB), 4, "👍 and 🏽 side by side");
        assert_eq!(cluster_width(FAMILY), 6);
        assert_eq!(cluster_width("⚠\u{fe0f}"), 2, "one emoji");
        assert_eq!(text_width(HINDI), 12);
    }

    #[test]
    fn a_cluster_is_one_cell_and_padding_that_is_never_drawn() {
        let mut buf = Buffer::empty(Rect::new(0, 0, 8, 1));
        assert_eq!(put_str(&mut buf, 0, 0, "a👍🏽b", 8, Style::new()), 6);
        assert_eq!(buf[(1, 0)].symbol(), THUMB);
        for x in 2..5 {
            assert_eq!(buf[(x, 0)].diff_option, CellDiffOption::Skip, "column {x}");
        }
        assert_eq!(buf[(5, 0)].symbol(), "b");
        // What does not fit is left out whole.
        let mut narrow = Buffer::empty(Rect::new(0, 0, 4, 1));
        assert_eq!(put_str(&mut narrow, 0, 0, "a👍🏽", 4, Style::new()), 1);
    }

    #[test]
    fn a_cluster_wider_than_any_screen_is_left_out_whatever_its_width() {
        // One grapheme cluster of 32,769 emoji joined by ZWJ (a hostile server's message):
        // 65,538 columns, which must not wrap round to the 2 of a u16.
        let giant = vec!["👨"; 32_769].join("\u{200d}");
        assert_eq!(giant.graphemes(true).count(), 1);
        let mut buf = Buffer::empty(Rect::new(0, 0, 8, 1));
        assert_eq!(
            put_str(&mut buf, 0, 0, &format!("{giant}ok"), 8, Style::new()),
            0
        );
        assert!((0..8).all(|x| buf[(x, 0)].symbol() == " "));
    }

    /// Every byte the backend writes.
    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Frames drawn through [`ClusterSafe`] and crossterm into vt100, a terminal that adds
    /// up code points as tmux does.
    struct Screen {
        terminal: Terminal<ClusterSafe<CrosstermBackend<Capture>>>,
        capture: Capture,
        parser: vt100::Parser,
    }

    const COLS: u16 = 30;

    impl Screen {
        fn new() -> Self {
            let capture = Capture::default();
            let terminal = Terminal::with_options(
                ClusterSafe::new(CrosstermBackend::new(capture.clone())),
                TerminalOptions {
                    viewport: Viewport::Fixed(Rect::new(0, 0, COLS, 3)),
                },
            )
            .unwrap();
            Self {
                terminal,
                capture,
                parser: vt100::Parser::new(3, COLS, 0),
            }
        }

        /// Draws `text` on the top row, a border at the last column, and the cursor after
        /// the text; returns the top row as the terminal shows it.
        fn frame(&mut self, text: &str) -> String {
            self.terminal
                .draw(|frame| {
                    let buf = frame.buffer_mut();
                    let end = put_str(buf, 0, 0, text, COLS - 1, Style::new());
                    put_str(buf, COLS - 1, 0, "│", 1, Style::new());
                    frame.set_cursor_position(Position::new(end, 0));
                })
                .unwrap();
            let bytes = std::mem::take(&mut *self.capture.0.lock().unwrap());
            self.parser.process(&bytes);
            self.row()
        }

        fn row(&self) -> String {
            self.parser.screen().rows(0, COLS).next().unwrap()
        }

        fn cursor_column(&self) -> u16 {
            self.parser.screen().cursor_position().1
        }
    }

    #[test]
    fn a_skin_tone_emoji_leaves_nothing_behind_and_the_cursor_follows_it() {
        let mut screen = Screen::new();
        let typed = screen.frame(&format!("> hello {THUMB}"));
        assert!(typed.starts_with(&format!("> hello {THUMB}")), "{typed:?}");
        assert_eq!(screen.cursor_column(), 12, "after 👍 and 🏽");
        let sent = screen.frame("> ");
        assert_eq!(sent.trim_end_matches([' ', '│']), ">", "{sent:?}");
        assert!(sent.ends_with('│'));
    }

    #[test]
    fn a_conjunct_leaves_nothing_behind_when_it_goes() {
        let mut screen = Screen::new();
        assert!(screen.frame(HINDI).starts_with(HINDI));
        let cleared = screen.frame("");
        assert_eq!(cleared.trim_end_matches([' ', '│']), "", "{cleared:?}");
    }

    #[test]
    fn text_after_a_zwj_family_lands_after_all_of_it() {
        let mut screen = Screen::new();
        let row = screen.frame(&format!("{FAMILY}ok"));
        assert!(row.starts_with(&format!("{FAMILY}ok ")), "{row:?}");
        assert!(row.ends_with('│'), "{row:?}");
        let replaced = screen.frame("plain text");
        assert_eq!(
            replaced.trim_end_matches([' ', '│']),
            "plain text",
            "{replaced:?}"
        );
    }

    #[test]
    fn a_terminal_that_draws_a_cluster_narrower_is_left_with_blanks_not_old_text() {
        let mut screen = Screen::new();
        screen.frame("> xxxxxxxxxx");
        let frame =
            |text: &str, terminal: &mut Terminal<ClusterSafe<CrosstermBackend<Capture>>>| {
                terminal
                    .draw(|frame| {
                        put_str(frame.buffer_mut(), 0, 0, text, COLS - 1, Style::new());
                    })
                    .unwrap();
            };
        frame(&format!("> {THUMB}"), &mut screen.terminal);
        let bytes = std::mem::take(&mut *screen.capture.0.lock().unwrap());
        // Such a terminal (kitty, WezTerm) draws 👍🏽 in two columns, as vt100 draws 字.
        let output = String::from_utf8(bytes).unwrap().replace(THUMB, "字");
        screen.parser.process(output.as_bytes());
        assert_eq!(screen.row().trim_end(), "> 字", "no x left beside it");
    }
}
