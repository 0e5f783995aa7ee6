//! How what the network worker reports ([`NetEvent`]) changes the client's state: joining,
//! room events and the lines they read as, failures (the member list and who spoke last
//! are kept in `members.rs`).

use super::members::{clean_member, track_members};
use super::{App, Bell, ChatLine, Connection, LineKind, NetEvent};
use crate::rpc::types::is_conversation;
use crate::rpc::types::{Event, EventKind, MemberInfo, RoomJoined};
use crate::text::{clean_name, clean_text};
use crate::ui::event_text::{self, GUEST_MARK, Reading, room_row};
use crate::ui::net::is_part;

/// Events of a room being joined kept until the answer to joining comes, at most.
const MAX_EARLY_EVENTS: usize = 1024;

/// Whether `text` names `name`: `@name`, or `name` as a word of its own, any case.
pub(crate) fn mentions(text: &str, name: &str) -> bool {
    let (text, name) = (text.to_lowercase(), name.to_lowercase());
    if name.is_empty() {
        return false;
    }
    let is_word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '-');
    text.match_indices(&name).any(|(at, _)| {
        !is_word(text[..at].chars().next_back()) && !is_word(text[at + name.len()..].chars().next())
    })
}

impl App {
    pub fn handle_net(&mut self, event: NetEvent) {
        match event {
            NetEvent::Joined {
                result,
                resumed,
                reset,
            } => {
                self.connection = Connection::Connected;
                self.failure = None;
                let name = clean_name(&result.name).unwrap_or_default();
                let taken = if resumed {
                    String::new()
                } else {
                    self.taken_note(&name, !result.guest)
                };
                self.ignored.clone_from(&result.ignored);
                let server_op = result.server_op;
                // Known before the history is read: our own lines in it are ours.
                self.me = Some(MemberInfo {
                    id: result.id,
                    name: name.clone(),
                    guest: result.guest,
                    ..Default::default()
                });
                let at = self.room_or_add(&result.room);
                let entered = RoomJoined {
                    room: result.room,
                    topic: result.topic,
                    members: result.members,
                    member_count: result.member_count,
                    last_seq: result.last_seq,
                    history: result.history,
                    peer: None,
                    read: result.read,
                    unread: result.unread,
                    notify: result.notify,
                };
                self.enter(at, entered, resumed, reset);
                if resumed {
                    self.push_local_in(at, LineKind::Notice, format!("reconnected as {name}"));
                } else {
                    let guest = if result.guest {
                        format!(
                            " (a guest: {GUEST_MARK}{name} to others, with no key behind the name)"
                        )
                    } else {
                        String::new()
                    };
                    let text = format!(
                        "you joined {} as {name}{taken}{guest}; {} here (/help for commands)",
                        self.server,
                        self.rooms[at].member_count()
                    );
                    self.push_local_in(at, LineKind::Notice, text);
                    if server_op {
                        let text = "you are a server operator: you moderate every room, and \
                                    the server (/gban, /ungban, /gbans)";
                        self.push_local_in(at, LineKind::Notice, text.into());
                    }
                }
            }
            NetEvent::Entered {
                joined,
                resumed,
                reset,
            } => {
                self.entered(joined, resumed, reset);
            }
            NetEvent::Opened(joined) => {
                let room = joined.room.clone();
                self.entered(*joined, false, false);
                if let Some(at) = self.room_index(&room) {
                    self.switch_to(at);
                }
            }
            NetEvent::Notified { room, level } => self.notify_set(&room, level, true),
            NetEvent::Parted(room) => {
                if let Some(at) = self.room_index(&room) {
                    let text = match &self.rooms[at].peer {
                        Some(peer) => format!("you closed the conversation with {}", peer.name),
                        None => format!("you left {room}"),
                    };
                    self.remove_room(at);
                    self.push_local(LineKind::Notice, text);
                }
            }
            // Told to us alone (`read`, `ignore`, `invited`): no room's.
            NetEvent::Event(event) if !event.kind.is_stored() => self.unstored(event),
            NetEvent::Event(event) => match self.room_index(&event.room) {
                Some(at) => self.room_event(at, event),
                // A room being entered: ours (`/join`), or one the worker enters for us (a
                // conversation someone opened).
                None if (self.joining.as_ref() == Some(&event.room)
                    || is_conversation(&event.room))
                    && self.early_events.len() < MAX_EARLY_EVENTS =>
                {
                    self.early_events.push(event);
                }
                None => tracing::debug!(room = %event.room, "an event for a room we are not in"),
            },
            NetEvent::Sent {
                room,
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
                let Some(at) = self.room_index(&room) else {
                    // Parted while the send was on its way.
                    return;
                };
                self.rooms[at].push_live(ChatLine {
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
                    // Our own rename is not echoed back: update the member lists here.
                    for room in &mut self.rooms {
                        if let Some(entry) = room.members.iter_mut().find(|m| m.id == me.id) {
                            entry.name.clone_from(&name);
                        }
                        room.members.sort_by_cached_key(|m| m.name.to_lowercase());
                    }
                }
            }
            NetEvent::Failed { room, error } => {
                // Often the server's own words: cleaned like everything else it sends.
                let error = clean_text(&error);
                if room.is_some() && room == self.joining {
                    self.joining = None;
                    self.early_events.clear();
                }
                if let Some(room) = &room {
                    self.jump_failed(room);
                }
                let at = room.and_then(|room| self.room_index(&room));
                self.push_local_in(at.unwrap_or(self.current), LineKind::Error, error);
            }
            NetEvent::Disconnected(reason) | NetEvent::Interrupted(reason) => {
                self.connection_failed(&reason, false);
            }
            NetEvent::Refused(reason) => self.connection_failed(&reason, true),
            // Only plain mode asks; the TUI keeps its lists from the rooms' events.
            NetEvent::Members { .. } => {}
            NetEvent::Whois(whois) => {
                let text = event_text::whois(&whois, self.utc_offset_secs).join("\n");
                self.push_local(LineKind::Info, text);
            }
            NetEvent::Rooms(rooms) => {
                let s = if rooms.len() == 1 { "" } else { "s" };
                let mut text = format!("{} room{s} on the server:", rooms.len());
                for info in &rooms {
                    text.push('\n');
                    text.push_str(&room_row(info, self.utc_offset_secs));
                }
                self.push_local(LineKind::Info, text);
                self.listed_rooms = rooms.into_iter().map(|info| info.room).collect();
            }
            NetEvent::Topic { result, changed } => {
                let topic = result.topic.as_deref().map(clean_text);
                let topic = topic.filter(|topic| !topic.is_empty());
                let text = match (&topic, changed) {
                    (Some(topic), true) => format!("you changed the topic to: {topic}"),
                    (None, true) => "you cleared the topic".to_owned(),
                    (Some(topic), false) => format!("the topic of {} is: {topic}", result.room),
                    (None, false) => format!("{} has no topic (/topic TEXT sets one)", result.room),
                };
                // Another room's topic, asked for by name, is only told.
                let at = self.room_index(&result.room);
                if let Some(at) = at {
                    self.rooms[at].topic = topic;
                }
                let at = at.unwrap_or(self.current);
                let kind = if changed {
                    LineKind::Notice
                } else {
                    LineKind::Info
                };
                self.push_local_in(at, kind, text);
            }
            NetEvent::Reconnecting(secs) => self.connection = Connection::Reconnecting(secs),
            NetEvent::Server(server) if server != self.server => {
                self.push_local(LineKind::Notice, format!("connected to {server}"));
                self.server = server;
            }
            NetEvent::Server(_) => {}
            // Why the first address did not do, before ever getting in; in an outage, the
            // round's last failure is enough (it is counted, not repeated).
            NetEvent::TryingNext(reason) if self.me.is_none() => {
                let text = format!("{}; trying the next server", clean_text(&reason));
                self.push_local(LineKind::Error, text);
            }
            NetEvent::TryingNext(_) => {}
            NetEvent::Moderated {
                room,
                what,
                outcome,
            } => self.moderated(room, what, *outcome),
            NetEvent::SearchResults {
                room,
                all,
                query,
                result,
            } => self.search_results(room, all, query, *result),
            NetEvent::Around { room, seq, events } => self.around(room, seq, events),
            NetEvent::AwayReply {
                room,
                name,
                message,
            } => self.away_reply(&room, &name, &message),
            NetEvent::PasswordNeeded { wrong } => {
                let text = if wrong {
                    "wrong password; type it again and press Enter"
                } else {
                    "this server needs a password: type it and press Enter"
                };
                self.push_local(LineKind::Error, text.into());
                self.asking_password = true;
                self.input.take();
            }
            NetEvent::HistoryFailed { room, error } => {
                let Some(at) = self.room_index(&room) else {
                    return;
                };
                self.rooms[at].pane.page_failed();
                let error = clean_text(&error);
                self.push_local_in(
                    at,
                    LineKind::Error,
                    format!("could not load history: {error}"),
                );
            }
            NetEvent::Older { room, events } => {
                if let Some(at) = self.room_index(&room) {
                    let lines = self.lines_for(events);
                    self.rooms[at].pane.older_page(lines);
                }
            }
            NetEvent::Newer { room, events } => {
                if let Some(at) = self.room_index(&room) {
                    let lines = self.lines_for(events);
                    self.rooms[at].pane.newer_page(lines);
                }
            }
            NetEvent::Latest { room, events } => {
                if let Some(at) = self.room_index(&room) {
                    let lines = self.lines_for(events);
                    self.rooms[at].pane.latest_page(lines);
                }
            }
        }
    }

    /// In room `at`, as the server has it now: its members, topic and (unless `resumed`,
    /// when the stream replays what was missed) its latest history.
    fn enter(&mut self, at: usize, joined: RoomJoined, resumed: bool, reset: bool) {
        self.learn_notify_level(&joined.room, joined.notify);
        let room = &mut self.rooms[at];
        if reset {
            room.pane.reset();
            room.pane.push(ChatLine {
                seq: None,
                ts: None,
                mentions_me: false,
                kind: LineKind::Notice,
                text: "the server's history was reset; lines above are from before".into(),
            });
        }
        // Worth asking again after a failure; a reset says there is nothing older.
        room.pane.history_exhausted = reset;
        room.topic = joined
            .topic
            .as_deref()
            .map(clean_text)
            .filter(|t| !t.is_empty());
        room.members = joined.members.into_iter().map(clean_member).collect();
        room.members.sort_by_cached_key(|m| m.name.to_lowercase());
        // A large room gives no list: the worker asks for it, and it comes in the stream.
        room.member_count = joined.member_count as usize;
        room.members_complete = joined.peer.is_some() || room.members.len() >= room.member_count;
        room.members_as_of = joined.last_seq;
        room.peer = joined.peer.map(clean_member);
        if resumed {
            // What another session of ours read meanwhile; the replay counts the rest.
            if joined.read > room.read {
                room.read = joined.read;
                room.recount();
            }
            return;
        }
        room.read = joined.read;
        for event in joined.history {
            self.room_event(at, event);
        }
        let in_view = at == self.current;
        let room = &mut self.rooms[at];
        // Where the user got to, in any session: counted by the server, which holds more
        // than the history given.
        if joined.read > 0 || joined.unread > 0 {
            room.separate_after(joined.read);
        }
        if !in_view {
            room.recount();
            room.unread = room.unread.max(joined.unread as usize);
        }
    }

    /// In a room, entered by us, by another session of ours, or for a conversation opened
    /// with us: it joins the list, and what it sent before the answer came is shown.
    fn entered(&mut self, joined: RoomJoined, resumed: bool, reset: bool) {
        let at = self.room_or_add(&joined.room);
        let name = joined.room.clone();
        let last_seq = joined.last_seq;
        let new = !resumed && self.rooms[at].members.is_empty();
        self.enter(at, joined, resumed, reset);
        if !resumed {
            let room = &self.rooms[at];
            let text = match &room.peer {
                Some(peer) if new => Some(format!(
                    "a conversation with {} (/close ends it here)",
                    peer.name
                )),
                Some(_) => None,
                None => Some(format!("you joined {name}; {} here", room.member_count())),
            };
            if let Some(text) = text {
                self.push_local_in(at, LineKind::Notice, text);
            }
        }
        let (early, others) = std::mem::take(&mut self.early_events)
            .into_iter()
            .partition(|event| event.room == name);
        self.early_events = others;
        for event in early {
            if event.seq > last_seq {
                self.room_event(at, event);
            }
        }
        if self.joining.as_ref() == Some(&name) {
            self.joining = None;
            self.switch_to(at);
        }
    }

    /// " (NAME is taken)" when the server gave a name other than the one asked for; with a
    /// key, a name that is no variant of it is the one the key owns. Only the first join
    /// asks for `wanted_name` (`--name`); later, it may be left from a `/nick` the server
    /// refused.
    fn taken_note(&mut self, name: &str, keyed: bool) -> String {
        let wanted = self.wanted_name.take().filter(|_| self.me.is_none());
        match wanted.as_deref().and_then(clean_name) {
            Some(wanted) if keyed && wanted != name && !name.starts_with(&format!("{wanted}-")) => {
                " (the name your key owns; /nick changes it)".to_owned()
            }
            Some(wanted) if wanted != name => format!(" ({wanted} is taken)"),
            _ => String::new(),
        }
    }

    fn room_event(&mut self, at: usize, event: Event) {
        if self.moderation_event(at, &event) {
            return;
        }
        let mine = self.me.as_ref().is_some_and(|me| me.id == event.from.id);
        if mine && event.kind == EventKind::Join {
            // "you joined" says it already.
            return;
        }
        if mine && event.seq > self.rooms[at].members_as_of && is_part(&event) {
            // Another session's `/part` (see `is_part`).
            let room = self.rooms[at].name.clone();
            if self.rooms.len() > 1 {
                self.remove_room(at);
            }
            self.push_local(
                LineKind::Notice,
                format!("you left {room} (in another session)"),
            );
            return;
        }
        if event.kind == EventKind::Nick && event.seq > self.rooms[at].members_as_of {
            self.renamed_elsewhere(&event.from, mine);
        }
        let room = &mut self.rooms[at];
        // History (the join's own, or a replay up to the join) is older than the member
        // list the server answered with: replaying its joins would bring back members whose
        // leave was never recorded (a crashed server).
        let live = event.seq > room.members_as_of;
        track_members(room, &event, live);
        if let EventKind::Topic = event.kind
            && live
        {
            room.topic = event
                .text
                .as_deref()
                .map(clean_text)
                .filter(|t| !t.is_empty());
        }
        let hidden = self.smart_filter && room.quiet(&event);
        room.spoke(&event);
        if hidden || room.pane.cleared(event.seq) {
            return;
        }
        let line = self.line_for(event);
        let said = matches!(
            line.kind,
            LineKind::Message { own: false, .. } | LineKind::Action { own: false, .. }
        );
        // Only what is new to us: not what we read already, in this session or another.
        let news = said && line.seq.is_some_and(|seq| seq > self.rooms[at].read);
        self.ring_bell |= news
            && match self.bell {
                Bell::Off => false,
                Bell::Mention => line.mentions_me,
                Bell::All => true,
            };
        self.consider_notifying(at, &line, news);
        let mentions_me = line.mentions_me;
        let in_view = at == self.current;
        let room = &mut self.rooms[at];
        if room.push_live(line) && !in_view && news {
            room.unread += 1;
            room.mentioned |= mentions_me;
        }
    }

    /// A member changed its name (`from` has the new one): a conversation's peer goes by
    /// it, and if it was us (another session's `/nick`), so do we.
    fn renamed_elsewhere(&mut self, from: &MemberInfo, mine: bool) {
        let from = clean_member(from.clone());
        for room in &mut self.rooms {
            if let Some(peer) = &mut room.peer
                && peer.id == from.id
            {
                peer.name.clone_from(&from.name);
            }
        }
        if mine && let Some(me) = &mut self.me {
            me.name = from.name;
        }
    }

    /// Room events as lines of the pane, oldest first.
    pub(super) fn lines_for(&self, events: Vec<Event>) -> Vec<ChatLine> {
        let ends = self.hidden_page_ends(&events);
        let lines: Vec<ChatLine> = events
            .into_iter()
            .filter(|event| self.shown_in_page(event))
            .map(|event| self.line_for(event))
            .collect();
        if lines.is_empty() { ends } else { lines }
    }

    /// How a room event reads in the pane (see [`crate::ui::event_text`]).
    pub(super) fn line_for(&self, event: Event) -> ChatLine {
        if event.kind == EventKind::Deleted {
            return super::moderation::deleted_line(&event);
        }
        // Said in another session of ours: our own line.
        let own = self.me.as_ref().is_some_and(|me| me.id == event.from.id);
        let (kind, text) = match event_text::read(&event) {
            Reading::Said { from, text } => (LineKind::Message { from, own }, text),
            Reading::Acted { from, text } => (LineKind::Action { from, own }, text),
            // A join, or a leave that gives no reason of its own, can join a run of them.
            Reading::Notice(text)
                if event.kind == EventKind::Join
                    || (event.kind == EventKind::Leave && event.text.is_none()) =>
            {
                let name = vec![event_text::shown_member(&event.from)];
                let (joined, left) = if event.kind == EventKind::Join {
                    (name, Vec::new())
                } else {
                    (Vec::new(), name)
                };
                (LineKind::Presence { joined, left }, text)
            }
            Reading::Notice(text) => (LineKind::Notice, text),
        };
        let said = matches!(kind, LineKind::Message { .. } | LineKind::Action { .. });
        // A direct message is for us by its nature.
        let direct = is_conversation(&event.room);
        let mentions_me = said
            && !own
            && (direct || self.me.as_ref().is_some_and(|me| mentions(&text, &me.name)));
        ChatLine {
            seq: Some(event.seq),
            ts: Some(event.ts),
            mentions_me,
            kind,
            text,
        }
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
        let current = self.current;
        let newest = self.rooms[current]
            .pane
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
        for room in &mut self.rooms {
            room.members.clear();
            room.pane.forget_pages();
        }
    }
}
