//! How what the network worker reports ([`NetEvent`]) changes the client's state: joining,
//! room events and the lines they read as, the member list and who spoke last, failures.

use super::{App, Bell, ChatLine, Connection, LineKind, NetEvent};
use crate::rpc::types::{Event, EventKind, MemberInfo};
use crate::text::{clean_name, clean_text};

/// Whether `text` names `name`: `@name`, or `name` as a word of its own, any case.
fn mentions(text: &str, name: &str) -> bool {
    let (text, name) = (text.to_lowercase(), name.to_lowercase());
    if name.is_empty() {
        return false;
    }
    let is_word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '-');
    text.match_indices(&name).any(|(at, _)| {
        !is_word(text[..at].chars().next_back()) && !is_word(text[at + name.len()..].chars().next())
    })
}

fn clean_member(member: MemberInfo) -> MemberInfo {
    MemberInfo {
        id: member.id,
        name: clean_name(&member.name).unwrap_or_else(|| "?".into()),
    }
}

impl App {
    pub fn handle_net(&mut self, event: NetEvent) {
        match event {
            NetEvent::Joined {
                result,
                resumed,
                reset,
            } => {
                let joined = result;
                if reset {
                    // Seqs on screen belong to the old history; forget them so the new
                    // room's lines are neither dropped as repeats nor sorted among them.
                    self.lines.iter_mut().for_each(|line| line.seq = None);
                    self.cleared_through = None;
                    self.history_exhausted = true;
                    self.attach();
                    self.push_local(
                        LineKind::Notice,
                        "the server's history was reset; lines above are from before".into(),
                    );
                }
                self.connection = Connection::Connected;
                self.failure = None;
                // Worth asking again after a failure; a reset says there is nothing older.
                self.history_exhausted = reset;
                self.members = joined.members.into_iter().map(clean_member).collect();
                self.members.sort_by_cached_key(|m| m.name.to_lowercase());
                self.members_as_of = joined.last_seq;
                let name = clean_name(&joined.name).unwrap_or_default();
                if resumed {
                    self.push_local(LineKind::Notice, format!("reconnected as {name}"));
                } else {
                    for event in joined.history {
                        self.room_event(event);
                    }
                    let taken = self.taken_note(&name);
                    self.push_local(
                        LineKind::Notice,
                        format!(
                            "you joined {} as {name}{taken}; {} here (/help for commands)",
                            self.server,
                            self.members.len()
                        ),
                    );
                }
                self.me = Some(MemberInfo {
                    id: joined.id,
                    name,
                });
            }
            NetEvent::Event(event) => self.room_event(event),
            NetEvent::Sent {
                seq,
                text,
                latency_ms,
                action,
                ts,
            } => {
                self.last_send_ms = Some(latency_ms);
                let from = self.me.as_ref().map(|m| m.name.clone()).unwrap_or_default();
                let kind = if action {
                    LineKind::Action { from, own: true }
                } else {
                    LineKind::Message { from, own: true }
                };
                self.push_live(ChatLine {
                    seq: Some(seq),
                    ts: Some(ts),
                    mentions_me: false,
                    kind,
                    text: clean_text(&text),
                });
            }
            NetEvent::Renamed(name) => {
                let name = clean_name(&name).unwrap_or_default();
                let text = match self.wanted_name.as_deref().and_then(clean_name) {
                    Some(wanted) if wanted != name => {
                        format!("{wanted} is taken; you are now known as {name}")
                    }
                    _ => format!("you are now known as {name}"),
                };
                self.wanted_name = None;
                self.push_local(LineKind::Notice, text);
                if let Some(me) = &mut self.me {
                    me.name.clone_from(&name);
                    // Our own rename is not echoed back: update the member list here.
                    if let Some(entry) = self.members.iter_mut().find(|m| m.id == me.id) {
                        entry.name = name;
                    }
                    self.members.sort_by_cached_key(|m| m.name.to_lowercase());
                }
            }
            NetEvent::SendFailed { error } => {
                // Often the server's own words: cleaned like everything else it sends.
                let error = clean_text(&error);
                self.push_local(LineKind::Error, format!("not sent: {error}"));
            }
            NetEvent::Disconnected(reason) => self.connection_failed(&reason, false),
            NetEvent::Refused(reason) => self.connection_failed(&reason, true),
            // Only plain mode asks; the TUI keeps its list from the room's events.
            NetEvent::Members(_) => {}
            NetEvent::Reconnecting(secs) => self.connection = Connection::Reconnecting(secs),
            NetEvent::PasswordNeeded { wrong } => {
                let text = if wrong {
                    "wrong password; type it again and press Enter"
                } else {
                    "this room needs a password: type it and press Enter"
                };
                self.push_local(LineKind::Error, text.into());
                self.asking_password = true;
                self.input.take();
            }
            NetEvent::HistoryFailed(error) => {
                // Not again until something changes (a reconnect, a scroll), or a server
                // without history would be asked on every frame.
                self.history_exhausted = self.loading_older;
                self.forget_pages();
                self.jump_live = false;
                let error = clean_text(&error);
                self.push_local(LineKind::Error, format!("could not load history: {error}"));
            }
            NetEvent::Older(events) => {
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
                if events.is_empty() {
                    self.history_exhausted = true;
                }
                // Scrolled back on purpose: what was cleared may be shown again.
                self.cleared_through = None;
                // Newest first, each going in front of what is there.
                for event in events.into_iter().rev() {
                    if let Some(line) = self.line_for(event) {
                        self.lines.push_front(line);
                    }
                }
                self.trim_newest = self.lines.len().saturating_sub(self.scrollback);
            }
            NetEvent::Newer(events) => {
                let newest = self.lines.iter().rev().find_map(|line| line.seq);
                if self
                    .asked
                    .after
                    .take()
                    .is_some_and(|asked| Some(asked) == newest)
                {
                    self.newer_page(events, false);
                } else {
                    self.loading_newer = false;
                }
            }
            NetEvent::Latest(events) => {
                // It replaces the pane: an older page on its way was for the old one.
                self.forget_pages();
                self.newer_page(events, true);
            }
        }
    }

    /// " (NAME is taken)" when the server gave a name other than the one asked for. Only
    /// the first join asks for `wanted_name` (`--name`); later, it may be left from a
    /// `/nick` the server refused.
    fn taken_note(&mut self, name: &str) -> String {
        let wanted = self.wanted_name.take().filter(|_| self.me.is_none());
        match wanted.as_deref().and_then(clean_name) {
            Some(wanted) if wanted != name => format!(" ({wanted} is taken)"),
            _ => String::new(),
        }
    }

    fn room_event(&mut self, event: Event) {
        let own_join = event.kind == EventKind::Join
            && self.me.as_ref().is_some_and(|me| me.id == event.from.id);
        if own_join {
            // "you joined" says it already.
            return;
        }
        // History (the join's own, or a replay up to the join) is older than the member
        // list the server answered with: replaying its joins would bring back members whose
        // leave was never recorded (a crashed server).
        self.track_members(&event, event.seq > self.members_as_of);
        if self
            .cleared_through
            .is_some_and(|cleared| event.seq <= cleared)
        {
            return;
        }
        if let Some(line) = self.line_for(event) {
            let said = matches!(
                line.kind,
                LineKind::Message { .. } | LineKind::Action { .. }
            );
            self.ring_bell |= match self.bell {
                Bell::Off => false,
                Bell::Mention => line.mentions_me,
                Bell::All => said,
            };
            self.push_live(line);
        }
    }

    /// Keeps who spoke last and, for an event after the member list's snapshot (`live`),
    /// the member list in step with joins and leaves.
    fn track_members(&mut self, event: &Event, live: bool) {
        let from = clean_member(event.from.clone());
        match event.kind {
            EventKind::Message => {
                self.recent_speakers.retain(|name| *name != from.name);
                self.recent_speakers.insert(0, from.name);
            }
            EventKind::Join | EventKind::Leave if !live => {}
            EventKind::Join => {
                let key = from.name.to_lowercase();
                if let Err(at) = self
                    .members
                    .binary_search_by(|m| m.name.to_lowercase().cmp(&key))
                {
                    self.members.insert(at, from);
                }
            }
            EventKind::Leave => {
                self.members.retain(|m| m.id != from.id);
                self.recent_speakers.retain(|name| *name != from.name);
            }
            EventKind::Nick => {
                let old = event
                    .text
                    .as_deref()
                    .and_then(clean_name)
                    .unwrap_or_default();
                for speaker in &mut self.recent_speakers {
                    if *speaker == old {
                        speaker.clone_from(&from.name);
                    }
                }
                if !live {
                    return;
                }
                self.members.retain(|m| m.id != from.id);
                self.members.push(from);
                self.members.sort_by_cached_key(|m| m.name.to_lowercase());
            }
            EventKind::Action => {
                self.recent_speakers.retain(|name| *name != from.name);
                self.recent_speakers.insert(0, from.name);
            }
            EventKind::System | EventKind::Topic => {}
        }
    }

    /// How a room event reads in the pane.
    pub(super) fn line_for(&self, event: Event) -> Option<ChatLine> {
        let from = clean_member(event.from);
        let (kind, text) = match event.kind {
            EventKind::Message => (
                LineKind::Message {
                    from: from.name.clone(),
                    own: false,
                },
                clean_text(event.text.as_deref().unwrap_or("")),
            ),
            EventKind::Action => (
                LineKind::Action {
                    from: from.name.clone(),
                    own: false,
                },
                clean_text(event.text.as_deref().unwrap_or("")),
            ),
            EventKind::Nick => {
                let old = event.text.as_deref().and_then(clean_name);
                let old = old.unwrap_or_else(|| "?".into());
                (
                    LineKind::Notice,
                    format!("{old} is now known as {}", from.name),
                )
            }
            EventKind::Join => (LineKind::Notice, format!("{} joined", from.name)),
            EventKind::Topic => (
                LineKind::Notice,
                format!(
                    "{} changed the topic to: {}",
                    from.name,
                    clean_text(event.text.as_deref().unwrap_or(""))
                ),
            ),
            EventKind::Leave => {
                let text = match event.text.as_deref().map(clean_text) {
                    Some(reason) => format!("{} left ({reason})", from.name),
                    None => format!("{} left", from.name),
                };
                (LineKind::Notice, text)
            }
            EventKind::System => (
                LineKind::Notice,
                format!(
                    "{}: {}",
                    from.name,
                    clean_text(event.text.as_deref().unwrap_or(""))
                ),
            ),
        };
        let said = matches!(kind, LineKind::Message { .. } | LineKind::Action { .. });
        let mentions_me = said && self.me.as_ref().is_some_and(|me| mentions(&text, &me.name));
        Some(ChatLine {
            seq: Some(event.seq),
            ts: Some(event.ts),
            mentions_me,
            kind,
            text,
        })
    }

    /// The connection is gone or could not be had (`refused`: and will not be tried again).
    fn connection_failed(&mut self, reason: &str, refused: bool) {
        let reason = clean_text(reason);
        // Only a connection that was up can be lost.
        let mut text = if self.connection == Connection::Connected {
            format!("disconnected: {reason}")
        } else {
            reason.clone()
        };
        if refused {
            text.push_str(" (not trying again; /quit to leave)");
        }
        // The same failure again, its line still the newest: count it there instead of
        // adding the same line on every retry.
        let newest = self
            .lines
            .back_mut()
            .filter(|line| line.kind == LineKind::Error);
        match (&mut self.failure, newest) {
            (Some((last, count)), Some(line)) if *last == text && line.text.starts_with(&text) => {
                *count += 1;
                line.text = format!("{text} ({count} attempts)");
            }
            _ => {
                self.push_local(LineKind::Error, text.clone());
                self.failure = Some((text, 1));
            }
        }
        self.connection = Connection::Disconnected(reason);
        self.members.clear();
        self.loading_older = false;
        self.loading_newer = false;
    }
}
