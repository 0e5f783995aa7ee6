//! Tab completion of members' names (who spoke most recently first), of room names and of
//! commands.

use super::App;
use crate::ui::command::{NAMES as COMMANDS, takes_a_name};

/// A Tab completion in progress: repeated Tabs cycle through the candidates.
#[derive(Debug, Clone)]
pub(super) struct Completion {
    /// Byte offset where the completed word starts.
    start: usize,
    candidates: Vec<String>,
    shown: usize,
}

impl App {
    /// Tab: completes the word before the cursor to a member's name (those who spoke most
    /// recently first), a word starting with `#` to a room's name or, at the start of the
    /// line, a command; Tab again cycles.
    pub(super) fn complete(&mut self) {
        if let Some(completion) = &mut self.completion {
            completion.shown = (completion.shown + 1) % completion.candidates.len();
            let (start, text) = (
                completion.start,
                completion.candidates[completion.shown].clone(),
            );
            self.input.replace_before_cursor(start, &text);
            return;
        }
        let before = self.input.before_cursor();
        let start = before.rfind(char::is_whitespace).map_or(0, |i| {
            i + before[i..].chars().next().map_or(1, char::len_utf8)
        });
        let word = &before[start..];
        if word.is_empty() {
            return;
        }
        let candidates: Vec<String> = if start == 0 && word.starts_with('/') {
            let word = word.to_lowercase();
            COMMANDS
                .iter()
                .filter(|command| command.starts_with(&word))
                .map(|command| format!("{command} "))
                .collect()
        } else if word.starts_with('#') {
            // The rooms we are in first, then those the last /list showed.
            let lower = word.to_lowercase();
            let mut rooms: Vec<&str> = self.rooms.iter().map(|r| r.name.as_str()).collect();
            for room in &self.listed_rooms {
                if !rooms.contains(&room.as_str()) {
                    rooms.push(room);
                }
            }
            rooms
                .into_iter()
                .filter(|room| !room.is_empty() && room.starts_with(&lower))
                .map(|room| format!("{room} "))
                .collect()
        } else if start > 0 && self.takes_a_name(start) {
            // Anyone we know of, in any room, and the people we talk with.
            let lower = word.to_lowercase();
            let me = self.me.as_ref().map(|m| m.name.as_str());
            let room = self.room();
            let mut names: Vec<&str> = room.recent_speakers.iter().map(String::as_str).collect();
            let everyone = std::iter::once(room)
                .chain(self.rooms.iter())
                .flat_map(|room| room.peer.iter().chain(room.members.iter()));
            for member in everyone {
                if !names.contains(&member.name.as_str()) {
                    names.push(&member.name);
                }
            }
            names
                .into_iter()
                .filter(|name| Some(*name) != me && name.to_lowercase().starts_with(&lower))
                .map(|name| format!("{name} "))
                .collect()
        } else {
            let lower = word.to_lowercase();
            let me = self.me.as_ref().map(|m| m.name.as_str());
            // Only those here now; who spoke comes first.
            let room = self.room();
            let here = |name: &str| room.members.iter().any(|m| m.name == name);
            let mut names: Vec<&str> = room
                .recent_speakers
                .iter()
                .map(String::as_str)
                .filter(|name| here(name))
                .collect();
            for member in &room.members {
                if !names.contains(&member.name.as_str()) {
                    names.push(&member.name);
                }
            }
            // irssi style: "alice: " at the start of a line, "alice " elsewhere.
            let suffix = if start == 0 { ": " } else { " " };
            names
                .into_iter()
                .filter(|name| Some(*name) != me && name.to_lowercase().starts_with(&lower))
                .map(|name| format!("{name}{suffix}"))
                .collect()
        };
        let Some(first) = candidates.first().cloned() else {
            return;
        };
        self.input.replace_before_cursor(start, &first);
        self.completion = Some(Completion {
            start,
            candidates,
            shown: 0,
        });
    }

    /// Whether the word starting at `start` is the first argument of a command that takes
    /// a member's name (`/msg`, `/query`, `/whois`).
    fn takes_a_name(&self, start: usize) -> bool {
        let before = &self.input.before_cursor()[..start];
        let mut words = before.split_whitespace();
        let command = words.next().map(str::to_lowercase);
        words.next().is_none() && command.is_some_and(|c| takes_a_name(&c))
    }
}
