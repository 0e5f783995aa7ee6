//! A room's message pane as a window onto its history: one type, [`Pane`], owning the
//! lines, where the view is, going back to live, paging older and newer history in, and
//! keeping the lines in room order within `--scrollback`; which rows are on screen is
//! worked out in `pane/view.rs`.

mod view;

use std::collections::VecDeque;

pub use self::view::View;
use super::ChatLine;
use crate::ui::net::Page;

/// Where the message pane's view is, anchored to a line so that lines arriving or leaving
/// below it, and the terminal being resized, do not move it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ScrollPos {
    /// Lines, counted from the newest, wholly below the view.
    pub lines: usize,
    /// Rows of the next line (the lowest one on screen) below the view.
    pub rows: usize,
}

impl ScrollPos {
    /// Following the conversation: the newest row at the bottom.
    pub const LIVE: Self = Self { lines: 0, rows: 0 };
}

/// The pages of history asked for and not yet answered, by the seq each continues from. A
/// reply that no longer fits the pane (cleared or replaced meanwhile) is dropped rather than
/// leave a gap.
#[derive(Debug, Default, Clone, Copy)]
struct Asked {
    before: Option<u64>,
    after: Option<u64>,
}

/// One room's pane: its lines and the view onto them.
#[derive(Debug, Clone)]
pub struct Pane {
    pub lines: VecDeque<ChatLine>,
    /// Where the view is; [`ScrollPos::LIVE`] follows the conversation.
    pub scroll: ScrollPos,
    /// Rows to scroll up (or, below zero, down) from `scroll`, asked for by keys and the
    /// wheel; the event loop applies it, knowing how lines wrap.
    pub scroll_by: isize,
    /// Lines that arrived while scrolled up and have not been seen yet.
    pub unseen: usize,
    /// Lines added since the event loop last held the view still; it wraps them to know
    /// how far to move `scroll`.
    pub appended_while_scrolled: usize,
    /// An older page of history has been asked for and not arrived yet.
    pub loading_older: bool,
    /// The server has nothing older than the oldest line shown.
    pub history_exhausted: bool,
    /// Lines the pane keeps; see [`super::DEFAULT_SCROLLBACK`].
    pub scrollback: usize,
    /// Set while the pane's lines stop short of the live end, because older history was
    /// loaded into a full pane: the newest seq the room has sent since. Live lines are then
    /// counted, not shown, until the pane is paged forward to them.
    pub detached: Option<u64>,
    /// Lines over the cap at the newest end, for the event loop to drop once it has
    /// measured how many rows they took (the view must not jump when they go) and made sure
    /// none of them is on screen.
    pub trim_newest: usize,
    /// A newer page has been asked for and not arrived yet.
    pub loading_newer: bool,
    /// Going back to live was asked for (End, Esc, sending) while detached.
    jump_live: bool,
    asked: Asked,
    /// The newest seq `/clear` emptied the pane of: replays up to it stay cleared, until
    /// older history is fetched on purpose by scrolling up.
    pub(super) cleared_through: Option<u64>,
}

impl Pane {
    pub fn new(scrollback: usize) -> Self {
        Self {
            lines: VecDeque::new(),
            scroll: ScrollPos::LIVE,
            scroll_by: 0,
            unseen: 0,
            appended_while_scrolled: 0,
            loading_older: false,
            history_exhausted: false,
            scrollback,
            detached: None,
            trim_newest: 0,
            loading_newer: false,
            jump_live: false,
            asked: Asked::default(),
            cleared_through: None,
        }
    }

    /// Whether the view is (or is about to be) scrolled up from the newest line.
    pub fn scrolled(&self) -> bool {
        self.scroll != ScrollPos::LIVE || self.scroll_by > 0
    }

    /// Back to the newest lines: End, Esc, sending.
    pub(super) fn go_live(&mut self) {
        (self.scroll, self.scroll_by) = (ScrollPos::LIVE, 0);
        if self.detached.is_some() {
            self.jump_live = true;
        }
    }

    /// The newest seq shown.
    fn newest_seq(&self) -> Option<u64> {
        self.lines.iter().rev().find_map(|line| line.seq)
    }

    /// `/clear`: empties the pane; what the room sends from now on is what it shows.
    pub(super) fn clear(&mut self) {
        let newest = self.lines.iter().filter_map(|line| line.seq).max();
        self.cleared_through = self.cleared_through.max(newest).max(self.detached);
        self.lines.clear();
        (self.scroll, self.scroll_by) = (ScrollPos::LIVE, 0);
        self.attach();
        // Pages asked for before are for lines no longer here.
        self.forget_pages();
    }

    /// Whether a replayed event is one `/clear` emptied the pane of.
    pub(super) fn cleared(&self, seq: u64) -> bool {
        self.cleared_through.is_some_and(|cleared| seq <= cleared)
    }

    /// The server's history was reset: the seqs on screen belong to the old one. Forgets
    /// them, so the new history's lines are neither dropped as repeats nor sorted among them.
    pub(super) fn reset(&mut self) {
        self.lines.iter_mut().for_each(|line| line.seq = None);
        self.cleared_through = None;
        self.attach();
    }

    /// An older page of history, asked for by [`Pane::wants_older`]: in front of what is
    /// there, unless the pane changed meanwhile. `lines` are oldest first.
    pub(super) fn older_page(&mut self, lines: Vec<ChatLine>) {
        self.loading_older = false;
        let oldest = self.oldest_seq();
        if self
            .asked
            .before
            .take()
            .is_none_or(|asked| Some(asked) != oldest)
        {
            return;
        }
        if lines.is_empty() {
            self.history_exhausted = true;
        }
        // Scrolled back on purpose: what was cleared may be shown again.
        self.cleared_through = None;
        // Newest first, each going in front of what is there.
        for line in lines.into_iter().rev() {
            self.lines.push_front(line);
        }
        self.trim_newest = self.lines.len().saturating_sub(self.scrollback);
    }

    /// A newer page asked for by [`Pane::wants_newer`], unless the pane changed meanwhile.
    pub(super) fn newer_page(&mut self, lines: Vec<ChatLine>) {
        let newest = self.newest_seq();
        if self
            .asked
            .after
            .take()
            .is_some_and(|asked| Some(asked) == newest)
        {
            self.take_page(lines, false);
        } else {
            self.loading_newer = false;
        }
    }

    /// The room's latest page, which replaces the pane.
    pub(super) fn latest_page(&mut self, lines: Vec<ChatLine>) {
        // An older page on its way was for the old pane.
        self.forget_pages();
        self.take_page(lines, true);
    }

    /// The history around a line jumped to (`seq`), which replaces the pane: the view
    /// anchored with `below` lines under that one, where there are as many. Short of the
    /// live end, the pane is detached from it, as after paging back.
    pub(super) fn around_page(&mut self, lines: Vec<ChatLine>, seq: u64, below: usize) {
        let live = self.detached.or(self.newest_seq());
        self.forget_pages();
        self.lines.clear();
        (self.history_exhausted, self.jump_live) = (false, false);
        self.cleared_through = None;
        self.detached = None;
        for line in lines {
            self.push(line);
        }
        let newest = self.newest_seq();
        self.detached = match (live, newest) {
            (Some(live), Some(newest)) if newest < live => Some(live),
            (Some(live), None) => Some(live),
            _ => None,
        };
        let after = match self.lines.iter().rposition(|line| line.seq == Some(seq)) {
            Some(at) => self.lines.len() - 1 - at,
            None => 0,
        };
        self.scroll = ScrollPos {
            lines: after.saturating_sub(below),
            rows: 0,
        };
        (self.scroll_by, self.appended_while_scrolled) = (0, 0);
    }

    /// A page of history after the pane's newest line, or (`latest`) the room's latest page,
    /// which replaces the pane. Once the pane reaches what the room has sent live, it is
    /// live again.
    fn take_page(&mut self, lines: Vec<ChatLine>, latest: bool) {
        self.loading_newer = false;
        if latest {
            self.lines.clear();
            self.history_exhausted = false;
        }
        let empty = lines.is_empty();
        for line in lines {
            self.push(line);
        }
        if latest {
            // The view is meant to land on the newest line, not hold still.
            (self.scroll, self.scroll_by) = (ScrollPos::LIVE, 0);
            self.appended_while_scrolled = 0;
        }
        let newest = self.newest_seq();
        if let Some(live) = self.detached
            && (empty || newest.is_some_and(|newest| newest >= live))
        {
            self.attach();
        } else if self.jump_live {
            // End was pressed while this page was on its way: go on to the latest page
            // rather than hold the view here.
            (self.scroll, self.scroll_by) = (ScrollPos::LIVE, 0);
            self.appended_while_scrolled = 0;
        }
    }

    /// A page of history could not be had: not again until something changes (a
    /// reconnect, a scroll), or a server without history would be asked on every frame.
    pub(super) fn page_failed(&mut self) {
        self.history_exhausted = self.loading_older;
        self.forget_pages();
        self.jump_live = false;
    }

    /// Drops the claim of every page of history asked for: their replies will be ignored.
    pub(super) fn forget_pages(&mut self) {
        self.asked = Asked::default();
        (self.loading_older, self.loading_newer) = (false, false);
    }

    /// The pane reaches the live end again: lines the room sends are shown as they come.
    pub(super) fn attach(&mut self) {
        self.detached = None;
        self.jump_live = false;
        if !self.scrolled() {
            self.unseen = 0;
        }
    }

    /// Drops up to [`Self::trim_newest`] of the newest lines, no more than are wholly below
    /// the view (the pane may stay over its cap by what is on screen): the pane no longer
    /// reaches the live end.
    pub fn drop_newest(&mut self) {
        let count = self.trim_newest.min(self.scroll.lines);
        self.trim_newest = 0;
        if count == 0 {
            return;
        }
        let mut newest = self.detached.unwrap_or(0);
        for _ in 0..count {
            if let Some(seq) = self.lines.pop_back().and_then(|line| line.seq) {
                newest = newest.max(seq);
            }
        }
        self.detached = Some(newest);
        self.scroll.lines -= count;
    }

    /// When the view is at the bottom of a detached pane, or going back to live: the page to
    /// ask for, if any (`connected`: whether anything can be asked now).
    pub fn wants_newer(&mut self, connected: bool) -> Option<Page> {
        if self.detached.is_none() || self.scrolled() || self.loading_newer || !connected {
            return None;
        }
        self.loading_newer = true;
        match self.newest_seq() {
            Some(seq) if !std::mem::take(&mut self.jump_live) => {
                self.asked.after = Some(seq);
                Some(Page::After(seq))
            }
            _ => Some(Page::Latest),
        }
    }

    /// When the view is at the top of what is loaded: the older page to ask for, if any.
    pub fn wants_older(&mut self, connected: bool) -> Option<Page> {
        if self.loading_older || self.history_exhausted || !connected {
            return None;
        }
        match self.oldest_seq() {
            Some(oldest) if oldest > 1 => {
                self.loading_older = true;
                self.asked.before = Some(oldest);
                Some(Page::Before(oldest))
            }
            _ => None,
        }
    }

    /// The seq older history is fetched before: the pane's oldest line, or with a cleared
    /// pane, what the clear emptied it of.
    pub(super) fn oldest_seq(&self) -> Option<u64> {
        let oldest = self.lines.iter().find_map(|line| line.seq);
        oldest.or(self.cleared_through.map(|seq| seq + 1))
    }

    /// A line the room sent just now. While the pane is detached from the live end it is
    /// only counted; paging forward brings it from the history. Returns whether it was new
    /// (in, or counted), not one the pane already had.
    pub(super) fn push_live(&mut self, line: ChatLine) -> bool {
        if let Some(newest) = &mut self.detached {
            if let Some(seq) = line.seq.filter(|seq| seq > newest) {
                *newest = seq;
                self.unseen += 1;
                return true;
            }
            return false;
        }
        let pushed = self.push(line);
        if pushed && self.scrolled() {
            self.unseen += 1;
        }
        pushed
    }

    /// Appends a line, keeping room lines in seq order: our own message's acknowledgement can
    /// arrive after events the room gave an earlier seq. A room line whose seq is already
    /// shown (a replay after reconnecting) is dropped; returns whether the line went in.
    pub(super) fn push(&mut self, line: ChatLine) -> bool {
        let mut at = self.lines.len();
        if let Some(seq) = line.seq {
            for (i, earlier) in self.lines.iter().enumerate().rev() {
                match earlier.seq {
                    Some(s) if s == seq => return false,
                    Some(s) if s > seq => at = i,
                    Some(_) => break,
                    None => {}
                }
            }
        }
        self.lines.insert(at, line);
        if self.lines.len() > self.scrollback {
            self.lines.pop_front();
            // What fell off the top is still in the server's history.
            self.history_exhausted = false;
        }
        if self.scrolled() || self.detached.is_some() {
            // Not following the conversation: the event loop keeps the view where it is.
            self.appended_while_scrolled += 1;
        }
        true
    }
}
