//! Carrying out what Enter submits: a slash command (parsed by [`crate::ui::command`]) runs
//! here, against the client's state; anything else is sent.

use super::{Action, App, Connection, LineKind};
use crate::text::clean_name;
use crate::ui::command::{self, Command};

const HELP: &str = "commands: /help  /who  /me ACTION  /nick NEW  /join #ROOM  /part [REASON] leaves this room  \
/msg NAME TEXT a direct message  /query NAME opens the conversation  /close ends the conversation in view  \
/whois NAME who it is (key, rooms, idle)  /topic [TEXT] shows or sets the topic  /list every room  /filter hides or shows the joins and leaves of the quiet  \
/search [-all] TEXT this room's history (or everything) on the server: words, \"a phrase\", from:NAME  \
/members (or F2) show or hide the member list  /clear empties this pane  /quit [REASON] (or /exit)  \
/notify [all|mentions|off] when this room notifies you while the terminal is away  \
//text sends text starting with /\n\
keys: Enter send · Alt-Enter, Shift-Enter or Ctrl-J new line (pastes keep theirs) · \
Ctrl-C, or Ctrl-D on an empty line, quit · PageUp/PageDown, Shift- or Ctrl-Up/Down, \
mouse wheel scroll, End or Esc back to live · Up/Down earlier lines · \
Tab completes names and commands · Alt-1…Alt-9 a room by number · Ctrl-N/Ctrl-P next/previous room · \
Alt-A next room with news, mentions first · F2 member list · F3 room list · Ctrl-L redraw\n\
editing: Left/Right, Home/End or Ctrl-A/Ctrl-E, Alt-B/Alt-F or Ctrl-Left/Right by word, \
Backspace/Delete, Ctrl-W or Alt-Backspace delete word, Ctrl-U/Ctrl-K delete to start/end";

/// Lines kept for Up/Down.
const MAX_SENT_HISTORY: usize = 500;

impl App {
    /// Enter: a command runs locally, anything else is sent.
    pub(super) fn submit(&mut self) -> Action {
        let line = self.input.take();
        self.recalling = None;
        if line.trim().is_empty() {
            return Action::None;
        }
        if self.sent_history.last() != Some(&line) {
            self.sent_history.push(line.clone());
            if self.sent_history.len() > MAX_SENT_HISTORY {
                self.sent_history.remove(0);
            }
        }
        self.pane_mut().go_live();
        match command::parse(&line) {
            Command::Say(text) => self.send(text.into_owned()),
            Command::Quit(reason) => Action::Quit(reason.map(str::to_owned)),
            Command::Join(room) => self.join(room),
            Command::Part { room, reason } => self.part(room, reason),
            Command::Topic(topic) => match self.connected_room() {
                Some(room) => Action::Topic {
                    room,
                    topic: topic.map(str::to_owned),
                },
                None => Action::None,
            },
            Command::List => match self.connected_room() {
                Some(_) => Action::ListRooms,
                None => Action::None,
            },
            Command::Filter => {
                self.smart_filter = !self.smart_filter;
                let text = if self.smart_filter {
                    "the smart filter is on: joins and leaves of those who have not spoken in \
                     the last 10 minutes are hidden from now on (/filter shows them)"
                } else {
                    "the smart filter is off: every join and leave is shown from now on"
                };
                self.push_local(LineKind::Info, text.into());
                Action::None
            }
            Command::Help => {
                self.push_local(LineKind::Info, HELP.to_owned());
                let moderation = crate::ui::command::moderation::HELP;
                self.push_local(LineKind::Info, moderation.to_owned());
                let local = crate::ui::command::local::HELP;
                self.push_local(LineKind::Info, local.to_owned());
                Action::None
            }
            Command::Me(text) => {
                if text.is_empty() {
                    self.push_local(LineKind::Error, "usage: /me ACTION".into());
                    return Action::None;
                }
                match self.send(text.to_owned()) {
                    Action::Send { room, text } => Action::SendAction { room, text },
                    refused => refused,
                }
            }
            Command::Nick(name) => {
                if name.is_empty() {
                    self.push_local(LineKind::Error, "usage: /nick NEW".into());
                    return Action::None;
                }
                if self.connection != Connection::Connected {
                    self.push_local(LineKind::Error, "not connected".into());
                    return Action::None;
                }
                if let Some(me) = &self.me
                    && clean_name(name).is_some_and(|name| name == me.name)
                {
                    let text = format!("you are already {}", me.name);
                    self.push_local(LineKind::Info, text);
                    return Action::None;
                }
                self.wanted_name = Some(name.to_owned());
                Action::Nick(name.to_owned())
            }
            Command::Members => {
                self.toggle_members();
                Action::None
            }
            Command::Notify(arg) => self.notify_command(arg),
            Command::Clear => {
                self.pane_mut().clear();
                Action::None
            }
            Command::Who if self.connection != Connection::Connected => {
                let text = "not connected: who is here is unknown until the client reconnects";
                self.push_local(LineKind::Error, text.into());
                Action::None
            }
            Command::Who => {
                let members = &self.room().members;
                let names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
                let text = format!("{} here: {}", names.len(), names.join(", "));
                self.push_local(LineKind::Info, text);
                Action::None
            }
            Command::Msg { to, text } => {
                if to.is_empty() || text.is_empty() {
                    self.push_local(LineKind::Error, "usage: /msg NAME TEXT".into());
                    return Action::None;
                }
                if self.connected_room().is_none() {
                    return Action::None;
                }
                let shown = crate::text::clean_text(text);
                self.push_local(LineKind::Info, format!("→ {to}: {shown}"));
                Action::Msg {
                    to: to.to_owned(),
                    text: text.to_owned(),
                }
            }
            Command::Query(name) | Command::Whois(name) if name.is_empty() => {
                let usage = if line.trim_start().to_lowercase().starts_with("/query") {
                    "usage: /query NAME"
                } else {
                    "usage: /whois NAME"
                };
                self.push_local(LineKind::Error, usage.into());
                Action::None
            }
            Command::Query(name) => {
                if self.connected_room().is_none() {
                    return Action::None;
                }
                // Open already: it only comes into view.
                let open = self.rooms.iter().position(|room| {
                    room.peer
                        .as_ref()
                        .is_some_and(|peer| peer.name.eq_ignore_ascii_case(name))
                });
                if let Some(at) = open {
                    self.switch_to(at);
                    return Action::None;
                }
                Action::Query(name.to_owned())
            }
            Command::Whois(name) => match self.connected_room() {
                Some(_) => Action::Whois(name.to_owned()),
                None => Action::None,
            },
            Command::Moderation(parsed) => self.moderation_command(parsed),
            Command::Local(local) => self.local_command(local),
            Command::Search { all, query } => self.search_command(all, query),
            Command::Unknown(name) => {
                self.push_local(
                    LineKind::Error,
                    format!(
                        "unknown command /{name} (try /help; //text sends text starting with /)"
                    ),
                );
                Action::None
            }
        }
    }

    /// F2, `/members`: shows or hides the member list, or says why it cannot be shown.
    pub(super) fn toggle_members(&mut self) {
        use crate::ui::render::MEMBER_PANEL_MIN_WIDTH;
        if self.columns < MEMBER_PANEL_MIN_WIDTH {
            let text = format!(
                "the terminal is too narrow for the member list: it needs {MEMBER_PANEL_MIN_WIDTH} \
                 columns, this one has {} (/who lists who is here)",
                self.columns
            );
            self.push_local(LineKind::Info, text);
            return;
        }
        self.show_members = !self.show_members;
    }

    fn send(&mut self, text: String) -> Action {
        if self.connection != Connection::Connected {
            self.push_local(LineKind::Error, "not connected: message not sent".into());
            return Action::None;
        }
        Action::Send {
            room: self.room().name.clone(),
            text,
        }
    }

    /// The room in view, when connected; otherwise says so and gives none.
    pub(super) fn connected_room(&mut self) -> Option<String> {
        if self.connection != Connection::Connected {
            self.push_local(LineKind::Error, "not connected".into());
            return None;
        }
        Some(self.room().name.clone())
    }

    /// `/join #room`: a room we are in comes into view; another is entered, and comes into
    /// view once it is.
    fn join(&mut self, room: String) -> Action {
        if room.is_empty() {
            self.push_local(LineKind::Error, "usage: /join #ROOM".into());
            return Action::None;
        }
        // As the server spells it (`#Ops` is `#ops`), or refused here as it would be there.
        let room = match crate::domain::parse_room_name(&room) {
            Ok(room) => room,
            Err(err) => {
                self.push_local(LineKind::Error, format!("cannot join {room}: {err}"));
                return Action::None;
            }
        };
        if let Some(at) = self.room_index(&room) {
            self.switch_to(at);
            return Action::None;
        }
        if self.connected_room().is_none() {
            return Action::None;
        }
        self.joining = Some(room.clone());
        Action::Enter(room)
    }

    /// `/part [#room] [reason]`: leaves the room named, or the one in view. The last room
    /// stays: `/quit` leaves the server.
    fn part(&mut self, room: Option<String>, reason: Option<&str>) -> Action {
        let Some(current) = self.connected_room() else {
            return Action::None;
        };
        let room = room.map_or(current, |room| {
            crate::domain::parse_room_name(&room).unwrap_or(room)
        });
        if self.room_index(&room).is_none() {
            self.push_local(LineKind::Error, format!("you are not in {room}"));
            return Action::None;
        }
        if self.rooms.len() == 1 {
            let text = "this is the only room you are in: /quit leaves the server";
            self.push_local(LineKind::Error, text.into());
            return Action::None;
        }
        Action::Part {
            room,
            reason: reason.map(str::to_owned),
        }
    }
}
