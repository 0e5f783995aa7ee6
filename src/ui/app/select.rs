//! `/delete` alone: picking the message to delete in the pane in view. The pick starts on
//! the newest message; Up and Down move it over the messages (the view follows, the picked
//! line at its bottom), Enter deletes it, Esc (or any other key) lets it go.

use crossterm::event::{KeyCode, KeyEvent};

use super::{Action, App, LineKind, ScrollPos};
use crate::ui::command::Moderation;

/// What the pane says when picking starts.
const PICKING: &str = "pick the message to delete: Up/Down move, Enter deletes it, Esc cancels";

impl App {
    /// The seqs of the messages in the pane in view that can be picked, oldest first.
    fn pickable(&self) -> Vec<u64> {
        let lines = self.pane().lines.iter();
        lines
            .filter(|line| {
                matches!(
                    line.kind,
                    LineKind::Message { .. } | LineKind::Action { .. }
                )
            })
            .filter_map(|line| line.seq)
            .collect()
    }

    /// `/delete` alone: the newest message is picked.
    pub(super) fn start_selecting(&mut self) {
        let Some(&newest) = self.pickable().last() else {
            let text = "no message here to delete (/delete SEQ names one)";
            self.push_local(LineKind::Error, text.into());
            return;
        };
        self.inform(PICKING.into());
        self.selecting = Some(newest);
        self.show_picked();
    }

    /// A key while picking: what it does, or `None` for a key that is not the picking's
    /// (the pick is let go, and the key does what it always does).
    pub(super) fn select_key(&mut self, key: KeyEvent) -> Option<Action> {
        let picked = self.selecting?;
        let pickable = self.pickable();
        let at = pickable.iter().position(|&seq| seq == picked);
        match (key.code, at) {
            (KeyCode::Up, Some(at)) => {
                self.selecting = Some(pickable[at.saturating_sub(1)]);
                self.show_picked();
            }
            (KeyCode::Down, Some(at)) => {
                self.selecting = Some(pickable[(at + 1).min(pickable.len() - 1)]);
                self.show_picked();
            }
            (KeyCode::Enter, Some(_)) => {
                self.stop_selecting();
                return Some(match self.connected_room() {
                    Some(room) => Action::Moderate {
                        room,
                        what: Moderation::Delete(picked),
                    },
                    None => Action::None,
                });
            }
            (KeyCode::Esc, _) => self.stop_selecting(),
            // The line went (deleted meanwhile, trimmed): nothing is picked any more.
            (_, None) => {
                self.stop_selecting();
                return Some(Action::None);
            }
            _ => {
                self.stop_selecting();
                return None;
            }
        }
        Some(Action::None)
    }

    /// Lets the pick go, back to the newest lines.
    fn stop_selecting(&mut self) {
        self.selecting = None;
        self.pane_mut().go_live();
    }

    /// Scrolls the pane so the picked line is at the bottom of the view.
    fn show_picked(&mut self) {
        let Some(picked) = self.selecting else {
            return;
        };
        let pane = self.pane_mut();
        if let Some(at) = pane.lines.iter().rposition(|line| line.seq == Some(picked)) {
            pane.scroll = ScrollPos {
                lines: pane.lines.len() - 1 - at,
                rows: 0,
            };
            pane.scroll_by = 0;
        }
    }
}
