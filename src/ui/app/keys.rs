//! Keys, pastes and the mouse wheel: what each does to the input and the view, and the
//! [`Action`] it asks the event loop for. Up/Down recall of sent lines lives here too. The
//! keys that move between rooms and through the pane are looked up in the [`Keymap`].
//!
//! [`Keymap`]: crate::ui::keymap::Keymap

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEvent, MouseEventKind};

use super::{Action, App, LineKind, MAX_INPUT_BYTES};
use crate::ui::keymap::KeyAction;

/// Rows one turn of the mouse wheel scrolls.
pub(super) const WHEEL_ROWS: isize = 3;

impl App {
    pub fn handle_key(&mut self, key: KeyEvent) -> Action {
        if key.kind == KeyEventKind::Release {
            return Action::None;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        let shift = key.modifiers.contains(KeyModifiers::SHIFT);
        if key.code != KeyCode::Tab {
            self.completion = None;
        }
        if self.asking_password {
            match key.code {
                KeyCode::Enter if !(alt || shift || self.input.is_empty()) => {
                    self.asking_password = false;
                    self.push_local(LineKind::Info, "trying the password…".into());
                    return Action::Password(self.input.take());
                }
                // Nothing that would show or keep the password: no recall, no completion,
                // no new lines.
                KeyCode::Up | KeyCode::Down | KeyCode::Tab | KeyCode::Enter => {
                    return Action::None;
                }
                KeyCode::Char('j') if ctrl => return Action::None,
                _ => {}
            }
        }
        if self.selecting.is_some()
            && let Some(action) = self.select_key(key)
        {
            return action;
        }
        if self.search.results.is_some()
            && let Some(action) = self.search_key(key)
        {
            return action;
        }
        if let Some(action) = self.keymap.action(key) {
            self.key_action(action);
            return Action::None;
        }
        match key.code {
            KeyCode::Char('c') if ctrl => return Action::Quit(None),
            KeyCode::Char('l') if ctrl => return Action::Redraw,
            KeyCode::Char('d') if ctrl && self.input.is_empty() => return Action::Quit(None),
            KeyCode::Char('d') if ctrl => self.input.delete(),
            KeyCode::Char('a') if ctrl => self.input.home(),
            KeyCode::Char('e') if ctrl => self.input.end(),
            KeyCode::Char('w') if ctrl => self.input.delete_word_before(),
            KeyCode::Char('u') if ctrl => self.input.kill_to_start(),
            KeyCode::Char('k') if ctrl => self.input.kill_to_end(),
            // Ctrl-J is a bare line feed: a newline, as Alt-Enter is.
            KeyCode::Char('j') if ctrl => self.insert('\n'),
            KeyCode::Char('b') if alt => self.input.word_left(),
            KeyCode::Char('f') if alt => self.input.word_right(),
            KeyCode::Char(_) if ctrl || alt => {}
            KeyCode::Char(c) => self.insert(c),
            // Shift-Enter only reaches us from terminals that tell it apart from Enter.
            KeyCode::Enter if alt || shift => self.insert('\n'),
            KeyCode::Enter => return self.submit(),
            KeyCode::Backspace if alt => self.input.delete_word_before(),
            KeyCode::Backspace => self.input.backspace(),
            KeyCode::Delete => self.input.delete(),
            KeyCode::Left if ctrl => self.input.word_left(),
            KeyCode::Right if ctrl => self.input.word_right(),
            KeyCode::Left => self.input.left(),
            KeyCode::Right => self.input.right(),
            KeyCode::Up if !self.input.up() => self.recall_older(),
            KeyCode::Down if !self.input.down() => self.recall_newer(),
            KeyCode::Tab => self.complete(),
            KeyCode::F(2) => self.toggle_members(),
            KeyCode::F(3) => self.show_rooms = !self.show_rooms,
            KeyCode::Home => self.input.home(),
            KeyCode::End if self.scrolled() || self.pane().detached.is_some() => {
                self.pane_mut().go_live();
            }
            KeyCode::End => self.input.end(),
            _ => {}
        }
        Action::None
    }

    /// A key of the [`Keymap`](crate::ui::keymap::Keymap): between rooms, through the pane.
    fn key_action(&mut self, action: KeyAction) {
        match action {
            KeyAction::NextRoom => self.switch_by(1),
            KeyAction::PreviousRoom => self.switch_by(-1),
            KeyAction::Room(at) => self.switch_to(at),
            KeyAction::ActiveRoom => self.switch_to_active(),
            KeyAction::PageUp => self.pane_mut().scroll_by += self.page_rows as isize,
            KeyAction::PageDown => self.pane_mut().scroll_by -= self.page_rows as isize,
            KeyAction::LineUp => self.pane_mut().scroll_by += 1,
            KeyAction::LineDown => self.pane_mut().scroll_by -= 1,
            KeyAction::Bottom => self.pane_mut().go_live(),
        }
    }

    /// A bracketed paste: the text goes into the input as it is, newlines and all, to be
    /// sent as one message. Carriage returns become newlines; the input stays within
    /// [`MAX_INPUT_BYTES`].
    pub fn paste(&mut self, text: &str) {
        self.completion = None;
        let text = text.replace("\r\n", "\n").replace('\r', "\n");
        let room = MAX_INPUT_BYTES.saturating_sub(self.input.text().len());
        let mut fits = text.len().min(room);
        while !text.is_char_boundary(fits) {
            fits -= 1;
        }
        if fits < text.len() {
            self.push_local(
                LineKind::Error,
                format!(
                    "paste cut to fit the input's {} KiB",
                    MAX_INPUT_BYTES / 1024
                ),
            );
        }
        self.input.insert_str(&text[..fits]);
    }

    /// The mouse wheel scrolls the message pane; nothing else of the mouse is used.
    pub fn handle_mouse(&mut self, event: MouseEvent) {
        match event.kind {
            MouseEventKind::ScrollUp => self.pane_mut().scroll_by += WHEEL_ROWS,
            MouseEventKind::ScrollDown => self.pane_mut().scroll_by -= WHEEL_ROWS,
            _ => {}
        }
    }

    /// Types `c`, if the input has room for it.
    fn insert(&mut self, c: char) {
        if self.input.text().len() + c.len_utf8() <= MAX_INPUT_BYTES {
            self.input.insert(c);
        }
    }

    /// Up: the line sent before the one shown (keeping what was being typed).
    fn recall_older(&mut self) {
        let at = match &self.recalling {
            None if self.sent_history.is_empty() => return,
            None => {
                let draft = self.input.text().to_owned();
                self.recalling = Some((self.sent_history.len() - 1, draft));
                self.sent_history.len() - 1
            }
            Some((at, _)) => {
                let at = at.saturating_sub(1);
                if let Some((pos, _)) = &mut self.recalling {
                    *pos = at;
                }
                at
            }
        };
        self.input.set(&self.sent_history[at]);
    }

    /// Down: the next line sent, and past the newest, what was being typed.
    fn recall_newer(&mut self) {
        let Some((at, draft)) = self.recalling.take() else {
            return;
        };
        if at + 1 < self.sent_history.len() {
            self.input.set(&self.sent_history[at + 1]);
            self.recalling = Some((at + 1, draft));
        } else {
            self.input.set(&draft);
        }
    }
}
