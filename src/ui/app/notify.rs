//! Notifications in the client: whether the terminal has focus, each room's `/notify`
//! level (the server's, or for a guest this client's own), which lines raise a desktop
//! notification, and the window title's unread count. What is due is only noted here; the
//! event loop asks [`App::terminal_output`] for the bytes and writes them, as it rings the
//! bell, so drawing stays a pure function of state.

use std::collections::HashMap;

use super::{Action, App, ChatLine, LineKind};
use crate::rpc::types::{Event, NotifyLevel, is_conversation};
use crate::ui::notify::{Method, notification, set_title, title_for};

/// The client's notification state.
#[derive(Debug, Clone)]
pub struct Notifications {
    /// Whether the terminal has focus. A terminal that never reports focus counts as
    /// focused for ever, so it never gets a notification for every line.
    pub focused: bool,
    /// How a notification is written (`--notify-with`, or what the terminal is).
    pub method: Method,
    /// The terminal is reached through tmux (`$TMUX`).
    pub tmux: bool,
    /// Room → its level, as the server (or, for a guest, `/notify`) set it.
    levels: HashMap<String, NotifyLevel>,
    /// A notification is due: its title and body.
    due: Option<(String, String)>,
    /// The window title last written, so it is written only when it changes.
    title: Option<String>,
}

impl Default for Notifications {
    fn default() -> Self {
        Self {
            focused: true,
            method: Method::Off,
            tmux: false,
            levels: HashMap::new(),
            due: None,
            title: None,
        }
    }
}

impl App {
    /// The terminal gained (`true`) or lost focus. Whatever was due while away and not
    /// yet written is dropped once the user is back.
    pub fn set_focus(&mut self, focused: bool) {
        self.notify.focused = focused;
        if focused {
            self.notify.due = None;
        }
    }

    /// A room's level: the one set, or the default (`all` for a conversation, `mentions`
    /// for a room).
    pub fn notify_level(&self, room: &str) -> NotifyLevel {
        self.notify
            .levels
            .get(room)
            .copied()
            .unwrap_or_else(|| NotifyLevel::default_for(room))
    }

    fn is_guest(&self) -> bool {
        self.me.as_ref().is_none_or(|me| me.guest)
    }

    /// The level the server gave on entering a room. A guest's levels are its own: the
    /// server keeps none for it.
    pub(super) fn learn_notify_level(&mut self, room: &str, level: Option<NotifyLevel>) {
        if let Some(level) = level
            && !self.is_guest()
        {
            self.notify.levels.insert(room.to_owned(), level);
        }
    }

    /// `/notify [all|mentions|off]`: shows or sets the level of the room in view.
    pub(super) fn notify_command(&mut self, arg: &str) -> Action {
        let room = self.room().name.clone();
        if room.is_empty() {
            self.push_local(LineKind::Error, "not in a room yet".into());
            return Action::None;
        }
        let arg = arg.trim().to_lowercase();
        if arg.is_empty() {
            let level = self.notify_level(&room);
            let default = if level == NotifyLevel::default_for(&room) {
                " (the default)"
            } else {
                ""
            };
            let text =
                format!("notifications in {room}: {level}{default} (/notify all|mentions|off)");
            self.push_local(LineKind::Info, text);
            return Action::None;
        }
        let level = match arg.parse::<NotifyLevel>() {
            Ok(level) => level,
            Err(err) => {
                self.push_local(LineKind::Error, format!("{err}"));
                return Action::None;
            }
        };
        if self.is_guest() {
            self.notify.levels.insert(room.clone(), level);
            let text = format!(
                "notifications in {room}: {level} (kept by this client only: a guest has no \
                 key for the server to keep it with)"
            );
            self.push_local(LineKind::Info, text);
            return Action::None;
        }
        match self.connected_room() {
            Some(room) => Action::Notify { room, level },
            None => Action::None,
        }
    }

    /// The server set a level: asked here (`mine`), or in another session of ours.
    pub(super) fn notify_set(&mut self, room: &str, level: NotifyLevel, mine: bool) {
        self.notify.levels.insert(room.to_owned(), level);
        let Some(at) = self.room_index(room) else {
            return;
        };
        let text = if mine {
            format!("notifications in {room}: {level}")
        } else {
            format!("notifications in {room}: {level} (set in another session)")
        };
        self.push_local_in(at, LineKind::Info, text);
    }

    /// A `notify` event: another session of ours set a level.
    pub(super) fn notify_event(&mut self, event: &Event) {
        if let Some(level) = event.text.as_deref().and_then(|t| t.parse().ok()) {
            self.notify_set(&event.room, level, false);
        }
    }

    /// Whether `line`, new to us in room `at`, raises a notification, and if so notes it as
    /// due: only while the terminal is away, only what others said (the ignored never get
    /// this far), at the room's level.
    pub(super) fn consider_notifying(&mut self, at: usize, line: &ChatLine, news: bool) {
        if !news || self.notify.focused || self.notify.method == Method::Off {
            return;
        }
        let from = match &line.kind {
            LineKind::Message { from, own: false } | LineKind::Action { from, own: false } => from,
            _ => return,
        };
        let room = &self.rooms[at].name;
        let wanted = match self.notify_level(room) {
            NotifyLevel::All => true,
            NotifyLevel::Mentions => line.mentions_me,
            NotifyLevel::Off => false,
        };
        if !wanted {
            return;
        }
        let title = if is_conversation(room) || self.rooms[at].peer.is_some() {
            format!("{from} (direct message)")
        } else {
            format!("{from} in {room}")
        };
        let body = match line.kind {
            LineKind::Action { .. } => format!("* {from} {}", line.text),
            _ => line.text.clone(),
        };
        self.notify.due = Some((title, body));
    }

    /// Messages unread over every room, for the window title.
    pub fn unread_total(&self) -> u64 {
        self.rooms.iter().map(|room| room.unread as u64).sum()
    }

    /// What the event loop writes around ratatui after a batch of events: the notification
    /// due, the bell, and the window title when it changed. Takes what it returns.
    pub fn terminal_output(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        let bell = std::mem::take(&mut self.ring_bell);
        if let Some((title, body)) = self.notify.due.take() {
            let bytes = notification(self.notify.method, &title, &body, self.notify.tmux);
            // One bell is enough when the notification is a bell too.
            if !(bell && bytes == b"\x07") {
                out.extend(bytes);
            }
        }
        if bell {
            out.push(0x07);
        }
        let title = title_for(self.unread_total());
        if self.notify.title.as_ref() != Some(&title) {
            out.extend(set_title(&title));
            self.notify.title = Some(title);
        }
        out
    }

    /// Whether a notification is due (for tests).
    #[cfg(test)]
    pub(crate) fn notification_due(&self) -> Option<&(String, String)> {
        self.notify.due.as_ref()
    }
}
