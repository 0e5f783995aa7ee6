//! Moderation, away and ignore in the client's state: the commands typed, what the server
//! answered them, and what the rooms' events change: who is an operator or away in the
//! member lists, deleted lines, the ignore list, and being put out of a room.

use uuid::Uuid;

use super::{Action, App, ChatLine, LineKind};
use crate::rpc::types::{Event, EventKind, MemberInfo, Role, unix_ms};
use crate::text::clean_text;
use crate::ui::command::{Moderation, Parsed};
use crate::ui::event_text::moderation::{ignored_text, outcome_text, put_out_text, puts_out};
use crate::ui::event_text::{self, shown_member};
use crate::ui::net::Outcome;

/// What a deleted message's line says instead of its text.
pub const DELETED_TEXT: &str = "message deleted";

/// The line of a message deleted, from history's tombstone (kind `deleted`).
pub(super) fn deleted_line(event: &Event) -> ChatLine {
    ChatLine {
        seq: Some(event.seq),
        ts: Some(event.ts),
        mentions_me: false,
        kind: LineKind::Deleted {
            from: shown_member(&event.from),
        },
        text: DELETED_TEXT.into(),
    }
}

/// A role as an event's text gives it: `"op"`, `"owner"`, or none.
fn role_named(text: Option<&str>) -> Option<Role> {
    match text {
        Some("owner") => Some(Role::Owner),
        Some("server-op") => Some(Role::ServerOp),
        Some(_) => Some(Role::Op),
        None => None,
    }
}

impl App {
    /// A moderation, away or ignore command typed: asked of the server, or done here (the
    /// ignore list, picking a message to delete).
    pub(super) fn moderation_command(&mut self, parsed: Parsed) -> Action {
        match parsed {
            Parsed::Usage(text) => self.push_local(LineKind::Error, text),
            Parsed::Ignored => self.inform(ignored_text(&self.ignored)),
            Parsed::SelectToDelete => self.start_selecting(),
            Parsed::Moderate(what) => {
                if let Some(room) = self.connected_room() {
                    return Action::Moderate { room, what };
                }
            }
        }
        Action::None
    }

    /// Whether a member's messages are hidden.
    pub(super) fn is_ignored(&self, id: Uuid) -> bool {
        self.ignored.iter().any(|member| member.id == id)
    }

    /// Whether an event of a page of history goes in the pane: not a `delete` (its
    /// message is a tombstone there already), nor what the ignored said.
    pub(super) fn shown_in_page(&self, event: &Event) -> bool {
        event.kind != EventKind::Delete && !self.hides(event)
    }

    /// For a page of history none of whose events is shown: a line at each end of it, so
    /// that the pane still reaches as far as the page did (and pages on from there rather
    /// than asking for it again, or taking it for the end of the history).
    pub(super) fn hidden_page_ends(&self, events: &[Event]) -> Vec<ChatLine> {
        let (Some(first), Some(last)) = (events.first(), events.last()) else {
            return Vec::new();
        };
        let text = format!(
            "{} event{} hidden here (ignored members, deletions)",
            events.len(),
            if events.len() == 1 { "" } else { "s" }
        );
        let line = |event: &Event| ChatLine {
            seq: Some(event.seq),
            ts: Some(event.ts),
            mentions_me: false,
            kind: LineKind::Notice,
            text: text.clone(),
        };
        let mut lines = vec![line(first)];
        if last.seq != first.seq {
            lines.push(line(last));
        }
        lines
    }

    /// Whether an event is something said by a member we ignore.
    fn hides(&self, event: &Event) -> bool {
        matches!(event.kind, EventKind::Message | EventKind::Action)
            && self.is_ignored(event.from.id)
    }

    /// An event told to us alone, not stored in any room (`read`, `ignore`, `invited`):
    /// it moves no room's cursor, and makes no room.
    pub(super) fn unstored(&mut self, event: Event) {
        match event.kind {
            EventKind::Read => {
                if let Some(at) = self.room_index(&event.room) {
                    self.read_elsewhere(at, event.seq);
                }
            }
            EventKind::Ignore => {
                let Some(target) = event.target.clone() else {
                    return;
                };
                self.ignored.retain(|member| member.id != target.id);
                if event.text.is_none() {
                    self.ignored.push(target);
                }
                self.inform(notice_of(&event));
            }
            EventKind::Invited => self.push_local(LineKind::Notice, notice_of(&event)),
            EventKind::Presence => self.presence(&event),
            EventKind::Notify => self.notify_event(&event),
            _ => {}
        }
    }

    /// What moderation and away change when room `at` sends `event`; true when the event
    /// is wholly dealt with here and shows no line of its own (a message of the ignored, a
    /// deletion, our being put out).
    pub(super) fn moderation_event(&mut self, at: usize, event: &Event) -> bool {
        if self.hides(event) {
            return true;
        }
        let live = event.seq > self.rooms[at].members_as_of;
        match event.kind {
            EventKind::Delete => {
                if let Some(seq) = event.target_seq {
                    self.tombstone(at, seq);
                }
                return true;
            }
            EventKind::Kick | EventKind::Ban | EventKind::Gban if live => {
                let me = self.me.as_ref().map(|me| me.id);
                if me.is_some_and(|me| puts_out(event, me)) {
                    self.put_out(at, event);
                    return true;
                }
                if let Some(target) = &event.target {
                    self.rooms[at].members.retain(|m| m.id != target.id);
                }
            }
            EventKind::Role if live => {
                let role = role_named(event.text.as_deref());
                if let Some(target) = &event.target
                    && let Some(member) = self.rooms[at]
                        .members
                        .iter_mut()
                        .find(|m| m.id == target.id)
                {
                    member.role = role;
                }
            }
            EventKind::Away if live => {
                let away = event.text.as_deref().map(clean_text);
                if let Some(member) = self.rooms[at]
                    .members
                    .iter_mut()
                    .find(|m| m.id == event.from.id)
                {
                    member.away = away;
                }
            }
            _ => {}
        }
        false
    }

    /// We were kicked or banned from room `at`: out of it, as after `/part`, told who did
    /// it and why. The last room stays, its member list emptied: `/join` goes on from there.
    fn put_out(&mut self, at: usize, event: &Event) {
        let text = put_out_text(event, &self.rooms[at].title(), unix_ms());
        if self.rooms.len() > 1 {
            self.remove_room(at);
            self.push_local(LineKind::Error, text);
        } else {
            self.rooms[at].members.clear();
            self.push_local_in(at, LineKind::Error, text);
        }
    }

    /// The message `seq` of room `at` was deleted: its line says so.
    fn tombstone(&mut self, at: usize, seq: u64) {
        let line = self.rooms[at]
            .pane
            .lines
            .iter_mut()
            .find(|line| line.seq == Some(seq));
        if let Some(line) = line
            && let LineKind::Message { from, .. } | LineKind::Action { from, .. } = &line.kind
        {
            line.kind = LineKind::Deleted { from: from.clone() };
            line.text = DELETED_TEXT.into();
        }
        if self.selecting == Some(seq) && at == self.current {
            self.selecting = None;
        }
    }

    /// A direct message went to someone away: said in its conversation.
    pub(super) fn away_reply(&mut self, room: &str, name: &str, message: &str) {
        let text = crate::ui::event_text::moderation::away_reply(name, message);
        let at = self.room_index(room).unwrap_or(self.current);
        self.push_local_in(at, LineKind::Notice, text);
    }

    /// The server carried out a request of ours: it is told, and what it changed (which
    /// our own session is not sent as an event) is changed here.
    pub(super) fn moderated(&mut self, room: String, what: Moderation, outcome: Outcome) {
        let text = outcome_text(&room, &what, &outcome, unix_ms());
        let at = self.room_index(&room);
        let named = |name: &str| {
            let name = name.to_lowercase();
            move |m: &MemberInfo| m.name.to_lowercase() == name
        };
        match (&what, &outcome, at) {
            (Moderation::Kick { name, .. }, _, Some(at)) => {
                let is = named(name);
                self.rooms[at].members.retain(|m| !is(m));
            }
            (Moderation::Ban { .. }, Outcome::Ban(ban), Some(at)) => {
                let is = named(&ban.name);
                let id = ban.id;
                self.rooms[at]
                    .members
                    .retain(|m| !is(m) && Some(m.id) != id);
            }
            (Moderation::Gban { .. }, Outcome::Ban(ban), _) => {
                let is = named(&ban.name);
                for room in &mut self.rooms {
                    room.members.retain(|m| !is(m) && Some(m.id) != ban.id);
                }
            }
            (Moderation::Role { name, role }, _, Some(at)) => {
                let me = self.me.as_ref().map(|me| me.id);
                let is = named(name);
                for member in &mut self.rooms[at].members {
                    if is(member) {
                        member.role = *role;
                    } else if *role == Some(Role::Owner) && Some(member.id) == me {
                        // Handed over: the old owner stays an operator.
                        member.role = Some(Role::Op);
                    }
                }
            }
            (Moderation::Delete(seq), _, Some(at)) => self.tombstone(at, *seq),
            (Moderation::Away(message), _, _) => {
                let me = self.me.as_ref().map(|me| me.id);
                let away = message.as_deref().map(clean_text);
                for room in &mut self.rooms {
                    for member in &mut room.members {
                        if Some(member.id) == me {
                            member.away.clone_from(&away);
                        }
                    }
                }
            }
            (Moderation::Ignore { .. }, Outcome::Ignored(now), _) => {
                self.ignored = now.clone();
            }
            _ => {}
        }
        let at = at.unwrap_or(self.current);
        self.push_local_in(at, LineKind::Notice, text);
    }
}

/// How an event told to us alone reads.
fn notice_of(event: &Event) -> String {
    match event_text::read(event) {
        event_text::Reading::Notice(text) => text,
        event_text::Reading::Said { text, .. } | event_text::Reading::Acted { text, .. } => text,
    }
}
