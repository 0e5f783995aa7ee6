//! A pane's view: which of its rows are on screen, worked out from where the view is
//! anchored and the scroll asked for; and settling the pane on it before each frame.

use ratatui::text::Line;

use super::{Pane, ScrollPos};
use crate::ui::app::ChatLine;

/// The view of a pane worked out from [`Pane::scroll`] and the pending
/// [`Pane::scroll_by`]: which rows are on screen and where that leaves the view. Only the
/// lines on screen and those scrolled past are wrapped, so the cost follows the screen, not
/// the length of the scrollback.
#[derive(Debug, Default)]
pub struct View {
    /// Where the view stands, with the pending scroll applied and kept in bounds.
    pub at: ScrollPos,
    /// The rows on screen, newest (the pane's bottom row) first, each with its line's index
    /// counted from the newest.
    pub rows: Vec<(usize, Line<'static>)>,
    /// Rows above the view: the rest of its top line, or older lines.
    pub more_above: bool,
    /// The top line goes on above the view.
    pub top_cut: bool,
}

impl Pane {
    /// The view onto this pane, `height` rows high, each line taking the rows `wrap_line`
    /// wraps it into (at least one), given its place in [`Pane::lines`] and the line.
    pub fn view(
        &self,
        height: usize,
        wrap_line: impl Fn(usize, &ChatLine) -> Vec<Line<'static>>,
    ) -> View {
        let mut view = View::default();
        if height == 0 || self.lines.is_empty() {
            return view;
        }
        let rows_of = |index: usize| {
            let at = self.lines.len() - 1 - index;
            wrap_line(at, &self.lines[at])
        };
        // Lines are counted from the newest: the oldest has the highest index.
        let oldest = self.lines.len() - 1;
        let mut at = self.scroll;
        if at.lines > oldest {
            at = ScrollPos {
                lines: oldest,
                rows: usize::MAX,
            };
        }
        at.rows = at.rows.min(rows_of(at.lines).len() - 1);
        at = if self.scroll_by >= 0 {
            up(at, self.scroll_by.unsigned_abs(), oldest, &rows_of)
        } else {
            down(at, self.scroll_by.unsigned_abs(), &rows_of)
        };
        // Fill the screen upwards from `at`; short of rows at the top, move down to fill it.
        loop {
            view.rows.clear();
            let mut index = at.lines;
            let mut skip = at.rows;
            (view.more_above, view.top_cut) = loop {
                let wrapped = rows_of(index);
                let keep = wrapped.len() - skip;
                let take = keep.min(height - view.rows.len());
                let newest_first = wrapped.into_iter().rev().skip(skip).take(take);
                view.rows.extend(newest_first.map(|row| (index, row)));
                skip = 0;
                if view.rows.len() == height {
                    break (take < keep || index < oldest, take < keep);
                }
                if index == oldest {
                    break (false, false);
                }
                index += 1;
            };
            let short = height - view.rows.len();
            if short == 0 || at == ScrollPos::LIVE {
                break;
            }
            at = down(at, short, &rows_of);
        }
        view.at = at;
        view
    }

    /// After a batch of events, before the view is worked out: keeps a scrolled-up view
    /// still while lines came and went below it.
    pub fn hold_still(&mut self) {
        if self.appended_while_scrolled > 0 {
            if self.scrolled() || self.detached.is_some() {
                self.scroll.lines += self.appended_while_scrolled;
            }
            self.appended_while_scrolled = 0;
        }
        if self.trim_newest > 0 {
            self.drop_newest();
        }
    }

    /// The view settled `at` (the pending scroll applied and kept in bounds): it is where
    /// the pane stands now, and at the live end everything has been seen.
    pub fn settle_at(&mut self, at: ScrollPos) {
        (self.scroll, self.scroll_by) = (at, 0);
        if at == ScrollPos::LIVE && self.detached.is_none() {
            self.unseen = 0;
        }
    }
}

/// `at` moved `by` rows up, stopping at the oldest line's top row.
fn up(
    mut at: ScrollPos,
    by: usize,
    oldest: usize,
    rows_of: &impl Fn(usize) -> Vec<Line<'static>>,
) -> ScrollPos {
    at.rows = at.rows.saturating_add(by);
    loop {
        let rows = rows_of(at.lines).len();
        if at.rows < rows {
            return at;
        }
        if at.lines == oldest {
            at.rows = rows - 1;
            return at;
        }
        at.rows -= rows;
        at.lines += 1;
    }
}

/// `at` moved `by` rows down, stopping at the live end.
fn down(
    mut at: ScrollPos,
    mut by: usize,
    rows_of: &impl Fn(usize) -> Vec<Line<'static>>,
) -> ScrollPos {
    if at.rows >= by {
        at.rows -= by;
        return at;
    }
    by -= at.rows;
    at.rows = 0;
    while by > 0 && at.lines > 0 {
        at.lines -= 1;
        let rows = rows_of(at.lines).len();
        if by <= rows {
            at.rows = rows - by;
            return at;
        }
        by -= rows;
    }
    ScrollPos::LIVE
}
