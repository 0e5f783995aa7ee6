//! The rooms the client is in, each with its own pane, member list, unsent draft, unread
//! count and mention flag, and where the user last looked; switching between them; and the
//! join/leave noise: runs of joins and leaves collapsed into one line, and the smart filter.

use std::collections::HashMap;

use uuid::Uuid;

use super::pane::Pane;
use super::{App, ChatLine, LineKind};
use crate::rpc::types::{Event, EventKind, MemberInfo};
use crate::ui::input::InputLine;

/// The smart filter hides the joins and leaves of members who have not spoken for this long.
pub const QUIET_MS: u64 = 10 * 60 * 1000;

/// One room the client is in.
#[derive(Debug, Clone)]
pub struct Room {
    /// As the server names it, `#general`; empty for the room not joined yet at start.
    pub name: String,
    pub topic: Option<String>,
    pub pane: Pane,
    /// Everyone in the room, sorted by name regardless of case.
    pub members: Vec<MemberInfo>,
    /// The seq the member list is the server's answer as of: events up to it (the join's
    /// history, a catch-up replay) happened before it and must not change it.
    pub(super) members_as_of: u64,
    /// Names of those who spoke, most recent first: Tab offers them first.
    pub(super) recent_speakers: Vec<String>,
    /// What was being typed when the user switched away.
    pub(super) draft: InputLine,
    /// Messages said while the room was not in view.
    pub unread: usize,
    /// Someone named us here while the room was not in view.
    pub mentioned: bool,
    /// When each member last said something here (event time, Unix ms), for the smart filter.
    spoke_at: HashMap<Uuid, u64>,
}

impl Room {
    pub fn new(name: String, scrollback: usize) -> Self {
        Self {
            name,
            topic: None,
            pane: Pane::new(scrollback),
            members: Vec::new(),
            members_as_of: 0,
            recent_speakers: Vec::new(),
            draft: InputLine::default(),
            unread: 0,
            mentioned: false,
            spoke_at: HashMap::new(),
        }
    }

    /// Whether something happened here that the user has not seen.
    pub fn active(&self) -> bool {
        self.unread > 0 || self.mentioned
    }

    /// The user looks away: the "new messages" separator moves to the end of the pane, so
    /// what arrives meanwhile goes below it.
    fn looked_away(&mut self) {
        self.pane
            .lines
            .retain(|line| line.kind != LineKind::Separator);
        self.pane.push(ChatLine::separator());
    }

    /// The user looks at the room again: nothing is unread, and a separator with nothing
    /// below it says nothing.
    fn looked_at(&mut self) {
        (self.unread, self.mentioned) = (0, false);
        if self
            .pane
            .lines
            .back()
            .is_some_and(|line| line.kind == LineKind::Separator)
        {
            self.pane.lines.pop_back();
            self.pane.scroll.lines = self.pane.scroll.lines.saturating_sub(1);
        }
    }

    /// Notes who spoke when, for the smart filter.
    pub(super) fn spoke(&mut self, event: &Event) {
        if matches!(event.kind, EventKind::Message | EventKind::Action) {
            self.spoke_at.insert(event.from.id, event.ts);
        }
    }

    /// Whether the smart filter hides this event: the join or leave of a member who has not
    /// spoken here in the [`QUIET_MS`] before it.
    pub(super) fn quiet(&self, event: &Event) -> bool {
        matches!(event.kind, EventKind::Join | EventKind::Leave)
            && self
                .spoke_at
                .get(&event.from.id)
                .is_none_or(|&spoke| event.ts.saturating_sub(spoke) > QUIET_MS)
    }

    /// Puts a line the room sent live in the pane; a join or a plain leave joins the run of
    /// them that the pane ends with, as one line. Returns whether the line went in.
    pub(super) fn push_live(&mut self, line: ChatLine) -> bool {
        if let LineKind::Presence { joined, left } = &line.kind
            && self.pane.detached.is_none()
            && let Some(newest) = self.pane.lines.back_mut()
            && let LineKind::Presence {
                joined: run_joined,
                left: run_left,
            } = &mut newest.kind
            && line.seq > newest.seq
        {
            run_joined.extend(joined.iter().cloned());
            run_left.extend(left.iter().cloned());
            newest.text = crate::ui::event_text::presence(run_joined, run_left);
            (newest.seq, newest.ts) = (line.seq, line.ts);
            return true;
        }
        self.pane.push_live(line)
    }
}

impl App {
    /// The room in view.
    pub fn room(&self) -> &Room {
        &self.rooms[self.current]
    }

    pub fn room_mut(&mut self) -> &mut Room {
        &mut self.rooms[self.current]
    }

    /// The pane in view.
    pub fn pane(&self) -> &Pane {
        &self.room().pane
    }

    pub fn pane_mut(&mut self) -> &mut Pane {
        &mut self.room_mut().pane
    }

    /// Which of our rooms is `name`.
    pub fn room_index(&self, name: &str) -> Option<usize> {
        self.rooms.iter().position(|room| room.name == name)
    }

    /// The room `name`, added at the end if we were not in it. The room the client starts
    /// in, before it knows its name, takes the first name it is told.
    pub(super) fn room_or_add(&mut self, name: &str) -> usize {
        if let Some(at) = self.room_index(name) {
            return at;
        }
        if let Some(at) = self.rooms.iter().position(|room| room.name.is_empty()) {
            self.rooms[at].name = name.to_owned();
            return at;
        }
        self.rooms.push(Room::new(name.to_owned(), self.scrollback));
        self.rooms.len() - 1
    }

    /// Out of room `at`: it goes, and if it was in view, its neighbour comes into view.
    pub(super) fn remove_room(&mut self, at: usize) {
        if self.rooms.len() == 1 {
            return;
        }
        let was_current = at == self.current;
        self.rooms.remove(at);
        if self.current > at || self.current == self.rooms.len() {
            self.current -= 1;
        }
        if was_current {
            let draft = std::mem::take(&mut self.room_mut().draft);
            self.input.set(draft.text());
            self.room_mut().looked_at();
        }
    }

    /// Brings room `at` into view, keeping the input typed for the one left.
    pub fn switch_to(&mut self, at: usize) {
        if at >= self.rooms.len() || at == self.current {
            return;
        }
        self.completion = None;
        self.recalling = None;
        let draft = std::mem::take(&mut self.input);
        let left = self.room_mut();
        left.draft = draft;
        left.looked_away();
        self.current = at;
        let shown = self.room_mut();
        shown.looked_at();
        self.input = std::mem::take(&mut shown.draft);
    }

    /// Ctrl-N (`by` 1) and Ctrl-P (`by` -1): the next or previous room, round the list.
    pub(super) fn switch_by(&mut self, by: isize) {
        let count = self.rooms.len() as isize;
        let at = (self.current as isize + by).rem_euclid(count) as usize;
        self.switch_to(at);
    }

    /// Alt-A: the next room with something unseen after the one in view, rooms where we
    /// were named first.
    pub(super) fn switch_to_active(&mut self) {
        let count = self.rooms.len();
        let after = |wanted: &dyn Fn(&Room) -> bool| {
            (1..count)
                .map(|step| (self.current + step) % count)
                .find(|&at| wanted(&self.rooms[at]))
        };
        if let Some(at) = after(&|room| room.mentioned).or_else(|| after(&Room::active)) {
            self.switch_to(at);
        }
    }

    /// How many rooms other than the one in view have something unseen.
    pub fn active_elsewhere(&self) -> usize {
        let others = self.rooms.iter().enumerate();
        others
            .filter(|(at, room)| *at != self.current && room.active())
            .count()
    }
}
