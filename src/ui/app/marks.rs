//! Read markers: when the room in view, scrolled to the bottom, has its marker moved (at
//! most once every [`MARK_EVERY`]), and what a marker moved by another session of ours
//! does to a room's unread count.

use std::time::Instant;

use super::rooms::MARK_EVERY;
use super::{App, Connection};

impl App {
    /// The markers to move at `now`: the room in view's, when it is followed to its newest
    /// line and that line is past the marker, and we have a key (a guest has no markers).
    /// The second value is when to ask again, if a move is held back by [`MARK_EVERY`].
    pub fn due_marks(&mut self, now: Instant) -> (Vec<(String, u64)>, Option<Instant>) {
        let keyed = self.me.as_ref().is_some_and(|me| !me.guest);
        if !keyed || self.connection != Connection::Connected {
            return (Vec::new(), None);
        }
        let room = &self.rooms[self.current];
        if room.name.is_empty() || room.pane.scrolled() || room.pane.detached.is_some() {
            return (Vec::new(), None);
        }
        let Some(newest) = room.newest_seq().filter(|&seq| seq > room.read) else {
            return (Vec::new(), None);
        };
        if let Some(at) = room.marked_at
            && now.duration_since(at) < MARK_EVERY
        {
            return (Vec::new(), Some(at + MARK_EVERY));
        }
        let room = &mut self.rooms[self.current];
        room.read = newest;
        room.marked_at = Some(now);
        (vec![(room.name.clone(), newest)], None)
    }

    /// Another session of ours has read room `at` up to `seq`: what is unread here is
    /// what others said after that.
    pub(super) fn read_elsewhere(&mut self, at: usize, seq: u64) {
        let room = &mut self.rooms[at];
        if seq <= room.read {
            return;
        }
        room.read = seq;
        if at != self.current {
            room.recount();
        }
    }
}
