//! Plain mode's side of moderation, away and ignore: the commands typed (parsed as the
//! TUI parses them), the ignore list that hides lines, and rooms we are put out of.

use super::{State, Submitted};
use crate::rpc::types::{Event, EventKind, unix_ms};
use crate::ui::command::{Moderation, Parsed};
use crate::ui::event_text::moderation::{ignored_text, outcome_text, puts_out};
use crate::ui::net::{Network, Outcome};

impl State {
    /// A moderation command typed, for the first room (an invite names its own).
    pub(super) fn moderation_command(
        &mut self,
        network: &Network,
        room: &str,
        parsed: Parsed,
    ) -> Submitted {
        match parsed {
            Parsed::Moderate(what) => {
                network.moderate(room, what);
                return Submitted::Sent;
            }
            Parsed::Usage(text) => eprintln!("{text}"),
            Parsed::Ignored => eprintln!("{}", ignored_text(&self.ignored)),
            Parsed::SelectToDelete => {
                eprintln!("in plain mode /delete needs the message's seq: /delete SEQ");
            }
        }
        Submitted::Nothing
    }

    /// What an event told to us alone changes; whether it is printed (`read` is not, nor a
    /// member list).
    pub(super) fn unstored(&mut self, event: &Event) -> bool {
        match event.kind {
            EventKind::Ignore => {
                if let Some(target) = &event.target {
                    self.ignored.retain(|member| member.id != target.id);
                    if event.text.is_none() {
                        self.ignored.push(target.clone());
                    }
                }
                true
            }
            EventKind::Invited => true,
            // A large room's joins and leaves, summed up; a member list alone says nothing.
            EventKind::Presence => event
                .presence
                .as_deref()
                .is_some_and(|p| p.joins + p.leaves > 0),
            _ => false,
        }
    }

    /// What a room's event changes here (`me`: our member id); whether it is hidden (a
    /// message of someone ignored). A kick or ban of us takes the room out of our list.
    pub(super) fn moderation_event(&mut self, event: &Event, me: Option<uuid::Uuid>) -> bool {
        if me.is_some_and(|me| puts_out(event, me)) {
            self.rooms.retain(|joined| *joined != event.room);
        }
        matches!(event.kind, EventKind::Message | EventKind::Action)
            && self.ignored.iter().any(|member| member.id == event.from.id)
    }

    /// The server carried out a request of ours: what it changed, and how it reads.
    pub(super) fn moderated(&mut self, room: &str, what: &Moderation, outcome: &Outcome) -> String {
        if let Outcome::Ignored(now) = outcome {
            self.ignored.clone_from(now);
        }
        outcome_text(room, what, outcome, unix_ms())
    }
}
