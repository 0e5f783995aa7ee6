//! The keys that move between rooms and through the pane, as the config file's `[keys]`
//! binds them (today's keys by default): key names parsed into crossterm key events, and the
//! table `App::handle_key` looks a key up in before the editing keys.

use std::collections::HashMap;
use std::fmt;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a bound key does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyAction {
    NextRoom,
    PreviousRoom,
    /// The room at this place in the list, from 0 (Alt-1 is room 0).
    Room(usize),
    /// The next room with unread lines.
    ActiveRoom,
    PageUp,
    PageDown,
    LineUp,
    LineDown,
    /// Back to the newest line.
    Bottom,
}

impl KeyAction {
    /// Every action, in the order `config --print` lists them.
    pub fn all() -> impl Iterator<Item = KeyAction> {
        [Self::NextRoom, Self::PreviousRoom]
            .into_iter()
            .chain((0..9).map(Self::Room))
            .chain([
                Self::ActiveRoom,
                Self::PageUp,
                Self::PageDown,
                Self::LineUp,
                Self::LineDown,
                Self::Bottom,
            ])
    }

    /// Its name in the config file's `[keys]`.
    pub fn name(self) -> String {
        match self {
            Self::NextRoom => "next_room".into(),
            Self::PreviousRoom => "previous_room".into(),
            Self::Room(n) => format!("room_{}", n + 1),
            Self::ActiveRoom => "active_room".into(),
            Self::PageUp => "page_up".into(),
            Self::PageDown => "page_down".into(),
            Self::LineUp => "line_up".into(),
            Self::LineDown => "line_down".into(),
            Self::Bottom => "bottom".into(),
        }
    }

    /// The keys it has when the file says nothing: the client's keys before there was a
    /// file.
    pub fn default_keys(self) -> Vec<Key> {
        let key = |code, modifiers| Key { code, modifiers };
        let (ctrl, alt, shift, none) = (
            KeyModifiers::CONTROL,
            KeyModifiers::ALT,
            KeyModifiers::SHIFT,
            KeyModifiers::NONE,
        );
        match self {
            Self::NextRoom => vec![key(KeyCode::Char('n'), ctrl)],
            Self::PreviousRoom => vec![key(KeyCode::Char('p'), ctrl)],
            Self::Room(n) => {
                let digit = char::from_digit(n as u32 + 1, 10).expect("rooms 1 to 9");
                vec![key(KeyCode::Char(digit), alt)]
            }
            Self::ActiveRoom => vec![key(KeyCode::Char('a'), alt)],
            Self::PageUp => vec![key(KeyCode::PageUp, none)],
            Self::PageDown => vec![key(KeyCode::PageDown, none)],
            Self::LineUp => vec![key(KeyCode::Up, ctrl), key(KeyCode::Up, shift)],
            Self::LineDown => vec![key(KeyCode::Down, ctrl), key(KeyCode::Down, shift)],
            Self::Bottom => vec![key(KeyCode::Esc, none)],
        }
    }
}

/// A key with its modifiers, as the user names it (`ctrl-n`, `alt-right`, `pageup`).
/// Letters are kept as typed with Shift folded in (`alt-A` is Alt-Shift-A), the way
/// terminals report them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    code: KeyCode,
    modifiers: KeyModifiers,
}

/// Why a key name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("{0:?} is not a key: use e.g. ctrl-n, alt-right, pageup, shift-up, f5")]
    Unknown(String),
    #[error("{0:?} would type text: give it ctrl- or alt-")]
    Types(String),
    #[error("{0:?} is ctrl-c, which always quits")]
    Reserved(String),
    #[error("{0:?} edits or sends the input line; bind another key")]
    Editing(String),
}

/// The keys the input line itself uses (see `App::handle_key`): binding one would take
/// sending, editing, recall or completion away.
const EDITING_KEYS: [&str; 25] = [
    "ctrl-l",
    "ctrl-d",
    "ctrl-a",
    "ctrl-e",
    "ctrl-w",
    "ctrl-u",
    "ctrl-k",
    "ctrl-j",
    "alt-b",
    "alt-f",
    "enter",
    "alt-enter",
    "shift-enter",
    "backspace",
    "alt-backspace",
    "delete",
    "left",
    "right",
    "ctrl-left",
    "ctrl-right",
    "up",
    "down",
    "tab",
    "home",
    "end",
];

/// Two actions on one key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key} is bound to both {first} and {second}")]
pub struct DuplicateKey {
    pub key: String,
    pub first: String,
    pub second: String,
}

impl Key {
    /// The key a terminal event is, in the form bindings are kept in.
    fn of_event(event: KeyEvent) -> Self {
        let mut modifiers =
            event.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT);
        let code = match event.code {
            // The letter's case says Shift already; some terminals add the flag, some not.
            KeyCode::Char(c) => {
                modifiers.remove(KeyModifiers::SHIFT);
                if modifiers.contains(KeyModifiers::CONTROL) {
                    KeyCode::Char(c.to_ascii_lowercase())
                } else {
                    KeyCode::Char(c)
                }
            }
            KeyCode::BackTab => {
                modifiers.remove(KeyModifiers::SHIFT);
                KeyCode::BackTab
            }
            code => code,
        };
        Self { code, modifiers }
    }
}

impl std::str::FromStr for Key {
    type Err = KeyError;

    fn from_str(name: &str) -> Result<Self, KeyError> {
        let unknown = || KeyError::Unknown(name.to_owned());
        let mut modifiers = KeyModifiers::NONE;
        let mut rest = name.trim();
        // `ctrl--` is Ctrl and the minus key: only split off what names a modifier.
        while let Some((head, tail)) = rest.split_once('-').filter(|(_, tail)| !tail.is_empty()) {
            modifiers |= match head.to_ascii_lowercase().as_str() {
                "ctrl" | "control" | "c" => KeyModifiers::CONTROL,
                "alt" | "meta" | "m" => KeyModifiers::ALT,
                "shift" | "s" => KeyModifiers::SHIFT,
                _ => return Err(unknown()),
            };
            rest = tail;
        }
        let lower = rest.to_ascii_lowercase();
        let code = match lower.as_str() {
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "pageup" | "pgup" => KeyCode::PageUp,
            "pagedown" | "pgdn" => KeyCode::PageDown,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "esc" | "escape" => KeyCode::Esc,
            "tab" => KeyCode::Tab,
            "backtab" => KeyCode::BackTab,
            "enter" | "return" => KeyCode::Enter,
            "backspace" => KeyCode::Backspace,
            "delete" | "del" => KeyCode::Delete,
            "insert" | "ins" => KeyCode::Insert,
            "space" => KeyCode::Char(' '),
            f if f.len() > 1 && f.starts_with('f') => match f[1..].parse::<u8>() {
                Ok(n @ 1..=24) => KeyCode::F(n),
                _ => return Err(unknown()),
            },
            _ => {
                let mut chars = rest.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) if !c.is_control() => KeyCode::Char(c),
                    _ => return Err(unknown()),
                }
            }
        };
        let key = Self::of_event(KeyEvent::new(code, modifiers));
        // A letter with Shift is the capital letter.
        let key = match (code, modifiers.contains(KeyModifiers::SHIFT)) {
            (KeyCode::Char(c), true) if !key.modifiers.contains(KeyModifiers::CONTROL) => Self {
                code: KeyCode::Char(c.to_ascii_uppercase()),
                ..key
            },
            _ => key,
        };
        if let KeyCode::Char(c) = key.code {
            if key.modifiers.is_empty() {
                return Err(KeyError::Types(name.to_owned()));
            }
            if c == 'c' && key.modifiers == KeyModifiers::CONTROL {
                return Err(KeyError::Reserved(name.to_owned()));
            }
        }
        if EDITING_KEYS
            .iter()
            .any(|editing| parse_plain(editing) == Some(key))
        {
            return Err(KeyError::Editing(name.to_owned()));
        }
        Ok(key)
    }
}

/// One of [`EDITING_KEYS`] as a key (they name no printable key alone, so parsing one does
/// not come back here).
fn parse_plain(name: &str) -> Option<Key> {
    let (modifiers, rest) = match name.split_once('-') {
        Some(("ctrl", rest)) => (KeyModifiers::CONTROL, rest),
        Some(("alt", rest)) => (KeyModifiers::ALT, rest),
        Some(("shift", rest)) => (KeyModifiers::SHIFT, rest),
        _ => (KeyModifiers::NONE, name),
    };
    let code = match rest {
        "enter" => KeyCode::Enter,
        "backspace" => KeyCode::Backspace,
        "delete" => KeyCode::Delete,
        "left" => KeyCode::Left,
        "right" => KeyCode::Right,
        "up" => KeyCode::Up,
        "down" => KeyCode::Down,
        "tab" => KeyCode::Tab,
        "home" => KeyCode::Home,
        "end" => KeyCode::End,
        one if one.len() == 1 => KeyCode::Char(one.chars().next()?),
        _ => return None,
    };
    Some(Key::of_event(KeyEvent::new(code, modifiers)))
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (flag, name) in [
            (KeyModifiers::CONTROL, "ctrl-"),
            (KeyModifiers::ALT, "alt-"),
            (KeyModifiers::SHIFT, "shift-"),
        ] {
            if self.modifiers.contains(flag) {
                f.write_str(name)?;
            }
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::F(n) => write!(f, "f{n}"),
            KeyCode::PageUp => f.write_str("pageup"),
            KeyCode::PageDown => f.write_str("pagedown"),
            code => f.write_str(&format!("{code:?}").to_ascii_lowercase()),
        }
    }
}

/// Which action each bound key has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keymap {
    keys: HashMap<Key, KeyAction>,
}

impl Default for Keymap {
    fn default() -> Self {
        Self::new(&HashMap::new()).expect("the default keys do not overlap")
    }
}

impl Keymap {
    /// The default keys, with the actions in `bound` taking the keys given instead of
    /// theirs (an empty list unbinds one). Two actions on one key is refused.
    pub fn new(bound: &HashMap<KeyAction, Vec<Key>>) -> Result<Self, DuplicateKey> {
        let mut keys = HashMap::new();
        for action in KeyAction::all() {
            let chosen = bound
                .get(&action)
                .cloned()
                .unwrap_or_else(|| action.default_keys());
            for key in chosen {
                if let Some(first) = keys.insert(key, action)
                    && first != action
                {
                    return Err(DuplicateKey {
                        key: key.to_string(),
                        first: first.name(),
                        second: action.name(),
                    });
                }
            }
        }
        Ok(Self { keys })
    }

    /// What this key press is bound to, if anything.
    pub fn action(&self, event: KeyEvent) -> Option<KeyAction> {
        self.keys.get(&Key::of_event(event)).copied()
    }

    /// The keys bound to `action`, in a stable order.
    pub fn keys_of(&self, action: KeyAction) -> Vec<Key> {
        let mut keys: Vec<Key> = self
            .keys
            .iter()
            .filter(|(_, a)| **a == action)
            .map(|(k, _)| *k)
            .collect();
        keys.sort_by_key(|k| k.to_string());
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> Key {
        name.parse().unwrap()
    }

    #[test]
    fn key_names_parse_into_the_events_terminals_send() {
        let event = |code, modifiers| Key::of_event(KeyEvent::new(code, modifiers));
        assert_eq!(
            key("ctrl-n"),
            event(KeyCode::Char('n'), KeyModifiers::CONTROL)
        );
        assert_eq!(
            key("Ctrl-N"),
            event(KeyCode::Char('n'), KeyModifiers::CONTROL)
        );
        assert_eq!(key("alt-right"), event(KeyCode::Right, KeyModifiers::ALT));
        assert_eq!(key("pageup"), event(KeyCode::PageUp, KeyModifiers::NONE));
        assert_eq!(key("shift-up"), event(KeyCode::Up, KeyModifiers::SHIFT));
        assert_eq!(key("f5"), event(KeyCode::F(5), KeyModifiers::NONE));
        assert_eq!(
            key("alt-shift-a"),
            event(KeyCode::Char('A'), KeyModifiers::ALT | KeyModifiers::SHIFT)
        );
        assert_eq!(
            key("ctrl--"),
            event(KeyCode::Char('-'), KeyModifiers::CONTROL)
        );
        for name in [
            "ctrl-n",
            "alt-right",
            "pageup",
            "shift-up",
            "f5",
            "alt-A",
            "ctrl-space",
        ] {
            assert_eq!(key(&key(name).to_string()), key(name), "{name}");
        }
    }

    #[test]
    fn nonsense_typing_keys_and_ctrl_c_are_refused() {
        assert!(matches!(
            "hyper-x".parse::<Key>(),
            Err(KeyError::Unknown(_))
        ));
        assert!(matches!("pagup".parse::<Key>(), Err(KeyError::Unknown(_))));
        assert!(matches!("f99".parse::<Key>(), Err(KeyError::Unknown(_))));
        assert!(matches!("x".parse::<Key>(), Err(KeyError::Types(_))));
        assert!(matches!(
            "ctrl-c".parse::<Key>(),
            Err(KeyError::Reserved(_))
        ));
    }

    #[test]
    fn the_input_lines_own_keys_cannot_be_bound() {
        for name in [
            "enter",
            "Backspace",
            "up",
            "tab",
            "ctrl-d",
            "ctrl-l",
            "home",
            "alt-b",
        ] {
            assert!(
                matches!(name.parse::<Key>(), Err(KeyError::Editing(_))),
                "{name}"
            );
        }
        // Keys the input leaves alone may be bound, Esc (going live) among them.
        for name in ["esc", "ctrl-up", "alt-left", "f5", "ctrl-b"] {
            assert!(name.parse::<Key>().is_ok(), "{name}");
        }
    }

    #[test]
    fn the_default_map_has_todays_keys() {
        let map = Keymap::default();
        let press = |code, modifiers| map.action(KeyEvent::new(code, modifiers));
        assert_eq!(
            press(KeyCode::Char('n'), KeyModifiers::CONTROL),
            Some(KeyAction::NextRoom)
        );
        assert_eq!(
            press(KeyCode::Char('3'), KeyModifiers::ALT),
            Some(KeyAction::Room(2))
        );
        assert_eq!(
            press(KeyCode::Up, KeyModifiers::SHIFT),
            Some(KeyAction::LineUp)
        );
        assert_eq!(press(KeyCode::Char('n'), KeyModifiers::NONE), None);
    }

    #[test]
    fn a_rebinding_replaces_the_default_and_a_clash_is_refused() {
        let bound = HashMap::from([(KeyAction::NextRoom, vec![key("alt-right")])]);
        let map = Keymap::new(&bound).unwrap();
        assert_eq!(map.keys_of(KeyAction::NextRoom), vec![key("alt-right")]);
        let clash = HashMap::from([(KeyAction::NextRoom, vec![key("ctrl-p")])]);
        let err = Keymap::new(&clash).unwrap_err();
        assert_eq!(err.key, "ctrl-p");
        assert_eq!(
            (err.first.as_str(), err.second.as_str()),
            ("next_room", "previous_room")
        );
    }
}
