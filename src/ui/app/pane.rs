//! The message pane as a window onto the room's history: where the view is, going back to
//! live, paging older and newer history in, and keeping the pane's lines in room order
//! within `--scrollback`.

use super::{Action, App, ChatLine, Connection};
use crate::rpc::types::Event;

/// Where the message pane's view is, anchored to a line so that lines arriving or leaving
/// below it, and the terminal being resized, do not move it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
pub(super) struct Asked {
    pub(super) before: Option<u64>,
    pub(super) after: Option<u64>,
}

impl App {
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

    /// A page of history after the pane's newest line, or (`latest`) the room's latest page,
    /// which replaces the pane. Once the pane reaches what the room has sent live, it is
    /// live again.
    pub(super) fn newer_page(&mut self, events: Vec<Event>, latest: bool) {
        self.loading_newer = false;
        if latest {
            self.lines.clear();
            self.history_exhausted = false;
        }
        let empty = events.is_empty();
        for event in events {
            if let Some(line) = self.line_for(event) {
                self.push(line);
            }
        }
        if latest {
            // The view is meant to land on the newest line, not hold still.
            (self.scroll, self.scroll_by) = (ScrollPos::LIVE, 0);
            self.appended_while_scrolled = 0;
        }
        let newest = self.lines.iter().rev().find_map(|line| line.seq);
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
    /// ask for, if any.
    pub fn wants_newer(&mut self) -> Action {
        if self.detached.is_none()
            || self.scrolled()
            || self.loading_newer
            || self.connection != Connection::Connected
        {
            return Action::None;
        }
        self.loading_newer = true;
        let newest = self.lines.iter().rev().find_map(|line| line.seq);
        match newest {
            Some(seq) if !std::mem::take(&mut self.jump_live) => {
                self.asked.after = Some(seq);
                Action::LoadNewer(seq)
            }
            _ => Action::LoadLatest,
        }
    }

    /// When the view is at the top of what is loaded: the older page to ask for, if any.
    pub fn wants_older(&mut self) -> Action {
        if self.loading_older || self.history_exhausted || self.connection != Connection::Connected
        {
            return Action::None;
        }
        match self.oldest_seq() {
            Some(oldest) if oldest > 1 => {
                self.loading_older = true;
                self.asked.before = Some(oldest);
                Action::LoadOlder(oldest)
            }
            _ => Action::None,
        }
    }

    /// The seq older history is fetched before: the pane's oldest line, or with a cleared
    /// pane, what the clear emptied it of.
    pub(super) fn oldest_seq(&self) -> Option<u64> {
        let oldest = self.lines.iter().find_map(|line| line.seq);
        oldest.or(self.cleared_through.map(|seq| seq + 1))
    }

    /// A line the room sent just now. While the pane is detached from the live end it is
    /// only counted; paging forward brings it from the history.
    pub(super) fn push_live(&mut self, line: ChatLine) {
        if let Some(newest) = &mut self.detached {
            if let Some(seq) = line.seq.filter(|seq| seq > newest) {
                *newest = seq;
                self.unseen += 1;
            }
            return;
        }
        if self.push(line) && self.scrolled() {
            self.unseen += 1;
        }
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
