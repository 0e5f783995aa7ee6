//! What plain mode remembers of its own doing: the lines it sent, so that a catch-up
//! bringing them back does not print them, and (`--mark-read`) the markers it moves.

use crate::rpc::types::{Event, EventKind};
use crate::text::clean_text;

/// How often, at most, `--mark-read` moves the marker of one room.
pub(super) const MARK_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// The seqs our own messages were given, per room, so that a catch-up replaying them (a
/// key's own events are replayed, to its other terminals and its next session alike) does
/// not print them. Those at or below the newest seq received from a room can go: the
/// stream never replays what is behind its cursor. A line whose answer the connection took
/// down with it has no seq: it is known by its room and text, once.
#[derive(Default)]
pub(super) struct OwnLines {
    sent: std::collections::HashMap<String, std::collections::BTreeSet<u64>>,
    /// Lines handed to the worker and not answered yet.
    unanswered: Vec<(String, String)>,
    /// Lines not answered when the connection went: stored or not, nobody can say (the
    /// worker sends them again), so a catch-up may bring them back.
    lost: std::collections::VecDeque<(String, String)>,
}

/// Lines of ours lost with a connection kept for a catch-up to bring back, at most.
const MAX_LOST_LINES: usize = 64;

impl OwnLines {
    /// A line handed to the worker, not answered yet.
    pub(super) fn said(&mut self, room: String, text: String) {
        self.unanswered.push((room, text));
    }

    /// A line of ours was given `seq` in `room`.
    pub(super) fn sent(&mut self, room: String, seq: u64, text: &str) {
        if let Some(at) = self
            .unanswered
            .iter()
            .position(|(r, t)| *r == room && t == text)
        {
            self.unanswered.remove(at);
        }
        self.sent.entry(room).or_default().insert(seq);
    }

    /// The connection went: what was not answered may or may not have been stored.
    pub(super) fn lost(&mut self) {
        self.lost.extend(self.unanswered.drain(..));
        while self.lost.len() > MAX_LOST_LINES {
            self.lost.pop_front();
        }
    }

    /// Whether `event` (`mine`: from our member id) is one of ours; forgets ours up to it
    /// either way.
    pub(super) fn seen(&mut self, event: &Event, mine: bool) -> bool {
        if let Some(seqs) = self.sent.get_mut(&event.room) {
            let ours = seqs.contains(&event.seq);
            *seqs = seqs.split_off(&(event.seq + 1));
            if ours {
                return true;
            }
        }
        if !mine || !matches!(event.kind, EventKind::Message | EventKind::Action) {
            return false;
        }
        let text = event.text.as_deref().unwrap_or_default();
        let lost = self.lost.iter().position(|(room, said)| {
            *room == event.room && (said == text || clean_text(said) == text)
        });
        lost.and_then(|at| self.lost.remove(at)).is_some()
    }
}

/// `--mark-read`: the newest seq printed in each room, and what was marked and when, so
/// that each room's marker moves at most once every [`MARK_EVERY`].
#[derive(Default)]
pub(super) struct Marks {
    printed: std::collections::HashMap<String, u64>,
    marked: std::collections::HashMap<String, (u64, tokio::time::Instant)>,
}

impl Marks {
    pub(super) fn printed(&mut self, room: &str, seq: u64) {
        let newest = self.printed.entry(room.to_owned()).or_default();
        *newest = (*newest).max(seq);
    }

    /// The markers to move now: those of rooms with something printed past their marker,
    /// not moved in the last [`MARK_EVERY`] (any, with `now` none: at the end).
    pub(super) fn due(&mut self, now: Option<tokio::time::Instant>) -> Vec<(String, u64)> {
        let mut due = Vec::new();
        for (room, &seq) in &self.printed {
            let marked = self.marked.get(room);
            if marked.is_some_and(|&(at, _)| at >= seq) {
                continue;
            }
            if let (Some(now), Some(&(_, when))) = (now, marked)
                && now.duration_since(when) < MARK_EVERY
            {
                continue;
            }
            due.push((room.clone(), seq));
        }
        let when = now.unwrap_or_else(tokio::time::Instant::now);
        for (room, seq) in &due {
            self.marked.insert(room.clone(), (*seq, when));
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::event_text::tests::event;

    #[test]
    fn our_own_lines_replayed_are_known_by_their_seq_and_forgotten_once_passed() {
        let mut own = OwnLines::default();
        own.sent("#general".into(), 5, "mine");
        let mut replayed = event(EventKind::Message, "bob", Some("mine"));
        replayed.seq = 5;
        let mut other = replayed.clone();
        other.room = "#ops".into();
        assert!(
            !own.seen(&other, true),
            "the same seq in another room is not ours"
        );
        assert!(own.seen(&replayed, true));
        assert!(own.sent["#general"].is_empty(), "passed: forgotten");
        // The same identity's other terminal said something: not ours.
        replayed.seq = 6;
        assert!(!own.seen(&replayed, true));
        // A line whose answer was lost with the connection: known by its text, once, even
        // once the worker's second send of it is answered.
        own.said("#general".into(), "lost answer".into());
        replayed.seq = 7;
        replayed.text = Some("lost answer".into());
        assert!(!own.seen(&replayed, true), "not lost: an answer will come");
        own.lost();
        own.sent("#general".into(), 9, "lost answer");
        assert!(!own.seen(&replayed, false), "someone else's");
        assert!(own.seen(&replayed, true));
        replayed.seq = 8;
        assert!(!own.seen(&replayed, true), "said once, ours once");
    }

    #[test]
    fn mark_read_moves_each_marker_at_most_once_a_second_and_all_at_the_end() {
        let mut marks = Marks::default();
        let start = tokio::time::Instant::now();
        assert!(marks.due(Some(start)).is_empty(), "nothing printed");
        marks.printed("#general", 3);
        marks.printed("#general", 2);
        assert_eq!(marks.due(Some(start)), [("#general".to_owned(), 3)]);
        assert!(marks.due(Some(start)).is_empty(), "marked already");
        marks.printed("#general", 4);
        let soon = start + std::time::Duration::from_millis(200);
        assert!(marks.due(Some(soon)).is_empty(), "held back");
        assert_eq!(
            marks.due(Some(start + MARK_EVERY)),
            [("#general".to_owned(), 4)]
        );
        marks.printed("#general", 5);
        assert_eq!(marks.due(None), [("#general".to_owned(), 5)], "at the end");
    }
}
