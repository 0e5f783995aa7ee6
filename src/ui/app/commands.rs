//! Carrying out what Enter submits: a slash command (parsed by [`crate::ui::command`]) runs
//! here, against the client's state; anything else is sent.

use super::{Action, App, Connection, LineKind, ScrollPos};
use crate::text::clean_name;
use crate::ui::command::{self, Command};

const HELP: &str = "commands: /help  /who  /me ACTION  /nick NEW  /members (or F2) show or hide the member list  \
/clear empties this pane  /quit (or /exit)  //text sends text starting with /\n\
keys: Enter send · Alt-Enter, Shift-Enter or Ctrl-J new line (pastes keep theirs) · \
Ctrl-C, or Ctrl-D on an empty line, quit · PageUp/PageDown, Shift- or Ctrl-Up/Down, \
mouse wheel scroll, End or Esc back to live · Up/Down earlier lines · \
Tab completes names and commands · F2 member list · Ctrl-L redraw\n\
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
        self.go_live();
        match command::parse(&line) {
            Command::Say(text) => self.send(text.into_owned()),
            Command::Quit => Action::Quit,
            Command::Help => {
                self.push_local(LineKind::Info, HELP.to_owned());
                Action::None
            }
            Command::Me(text) => {
                if text.is_empty() {
                    self.push_local(LineKind::Error, "usage: /me ACTION".into());
                    return Action::None;
                }
                match self.send(text.to_owned()) {
                    Action::Send(text) => Action::SendAction(text),
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
            Command::Clear => {
                let newest = self.lines.iter().filter_map(|line| line.seq).max();
                self.cleared_through = self.cleared_through.max(newest).max(self.detached);
                self.lines.clear();
                // What the room sends from now on is what the pane shows.
                (self.scroll, self.scroll_by) = (ScrollPos::LIVE, 0);
                self.attach();
                // Pages asked for before are for lines no longer here.
                self.forget_pages();
                Action::None
            }
            Command::Who if self.connection != Connection::Connected => {
                let text = "not connected: who is here is unknown until the client reconnects";
                self.push_local(LineKind::Error, text.into());
                Action::None
            }
            Command::Who => {
                let names: Vec<&str> = self.members.iter().map(|m| m.name.as_str()).collect();
                let text = format!("{} here: {}", names.len(), names.join(", "));
                self.push_local(LineKind::Info, text);
                Action::None
            }
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
        Action::Send(text)
    }
}
