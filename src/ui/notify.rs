//! Desktop notifications and the window title, as bytes for the terminal: OSC 777 or OSC 9
//! (picked by what the terminal says it is, or forced with `--notify-with`), the bell as
//! the fallback, wrapped for tmux when inside it; and the title pushed, set and popped.
//!
//! Everything here is pure: the event loop asks for the bytes and writes them. The title
//! and body come from other members and are cleaned first: no control character of any
//! kind can reach the terminal, and nothing can end the sequence early.

/// How `connect` raises a notification (`--notify-with`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum NotifyWith {
    /// Picked by the terminal (`$TERM_PROGRAM`, `$VTE_VERSION`, `$TERM`,
    /// `$KITTY_WINDOW_ID`, `$WT_SESSION`), the bell when none is known.
    #[default]
    Auto,
    /// `ESC ] 777 ; notify ; TITLE ; BODY BEL`: urxvt, foot, WezTerm, VTE terminals, Ghostty.
    Osc777,
    /// `ESC ] 9 ; BODY BEL`: iTerm2, kitty, Windows Terminal.
    Osc9,
    /// The terminal bell: most terminals mark the window or flash it.
    Bell,
    /// No notifications.
    Off,
}

/// What a notification is written as, once picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Osc777,
    Osc9,
    Bell,
    Off,
}

/// The most bytes of a title or a body sent to the terminal.
pub const MAX_NOTIFY_BYTES: usize = 200;

/// What the environment says about the terminal, read once at start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TermEnv {
    pub term_program: Option<String>,
    pub vte_version: Option<String>,
    pub term: Option<String>,
    pub kitty_window_id: Option<String>,
    pub wt_session: Option<String>,
    /// `$TMUX`: the sequences must be passed through tmux to reach the terminal.
    pub tmux: Option<String>,
}

impl TermEnv {
    /// The process's own environment.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Self {
            term_program: var("TERM_PROGRAM"),
            vte_version: var("VTE_VERSION"),
            term: var("TERM"),
            kitty_window_id: var("KITTY_WINDOW_ID"),
            wt_session: var("WT_SESSION"),
            tmux: var("TMUX"),
        }
    }

    /// The method `--notify-with auto` picks for this terminal.
    pub fn detect(&self) -> Method {
        let program = self.term_program.as_deref().unwrap_or("").to_lowercase();
        let term = self.term.as_deref().unwrap_or("");
        if program == "iterm.app" || self.kitty_window_id.is_some() || self.wt_session.is_some() {
            return Method::Osc9;
        }
        if matches!(program.as_str(), "wezterm" | "ghostty") || self.vte_version.is_some() {
            return Method::Osc777;
        }
        if term == "xterm-kitty" {
            Method::Osc9
        } else if term.starts_with("foot")
            || term.starts_with("rxvt-unicode")
            || term == "xterm-ghostty"
            || term == "wezterm"
        {
            Method::Osc777
        } else {
            Method::Bell
        }
    }
}

impl NotifyWith {
    /// The method to use in `env`.
    pub fn method(self, env: &TermEnv) -> Method {
        match self {
            NotifyWith::Auto => env.detect(),
            NotifyWith::Osc777 => Method::Osc777,
            NotifyWith::Osc9 => Method::Osc9,
            NotifyWith::Bell => Method::Bell,
            NotifyWith::Off => Method::Off,
        }
    }
}

/// Untrusted text made safe inside an OSC sequence: cleaned as text to draw is
/// ([`crate::text::clean_text`] drops every C0 and C1 control, ESC, BEL and DEL among them,
/// and the bidirectional overrides), its newlines and tabs become spaces, runs of spaces
/// become one, and `;` (which separates the fields of OSC 777, and starts ConEmu's
/// subcommands in OSC 9) becomes `,`.
/// Cut to [`MAX_NOTIFY_BYTES`] on a character boundary, with `…` when cut.
pub fn clean_field(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len().min(MAX_NOTIFY_BYTES));
    for c in crate::text::clean_text(raw).chars() {
        let c = match c {
            ';' => ',',
            c if c.is_control() => ' ',
            c => c,
        };
        if c == ' ' && (out.is_empty() || out.ends_with(' ')) {
            continue;
        }
        out.push(c);
    }
    let out = out.trim_end();
    if out.len() <= MAX_NOTIFY_BYTES {
        return out.to_owned();
    }
    let ellipsis = '…';
    let mut end = MAX_NOTIFY_BYTES - ellipsis.len_utf8();
    while !out.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{ellipsis}", out[..end].trim_end())
}

/// The bytes that raise a notification with `title` and `body` (both cleaned here), for a
/// terminal reached through tmux when `tmux` is set.
pub fn notification(method: Method, title: &str, body: &str, tmux: bool) -> Vec<u8> {
    let sequence = match method {
        Method::Off => return Vec::new(),
        // tmux passes a bell on (and marks the window) by itself.
        Method::Bell => return b"\x07".to_vec(),
        Method::Osc777 => format!(
            "\x1b]777;notify;{};{}\x07",
            clean_field(title),
            clean_field(body)
        ),
        Method::Osc9 => {
            let title = clean_field(title);
            let body = clean_field(body);
            // OSC 9 has one field: the title leads the body.
            let text = if title.is_empty() {
                body
            } else {
                clean_field(&format!("{title}: {body}"))
            };
            format!("\x1b]9;{text}\x07")
        }
    };
    if tmux {
        tmux_passthrough(sequence.as_bytes())
    } else {
        sequence.into_bytes()
    }
}

/// A sequence wrapped for tmux to hand to the terminal outside it: `ESC P tmux; …
/// ESC \`, every ESC inside doubled (tmux needs `allow-passthrough on` for it).
pub fn tmux_passthrough(sequence: &[u8]) -> Vec<u8> {
    let mut out = b"\x1bPtmux;".to_vec();
    for &byte in sequence {
        if byte == 0x1b {
            out.push(0x1b);
        }
        out.push(byte);
    }
    out.extend_from_slice(b"\x1b\\");
    out
}

/// Saves the terminal's window title on its stack (XTWINOPS 22), to be put back on exit.
pub const PUSH_TITLE: &[u8] = b"\x1b[22;0t";
/// Puts back the title [`PUSH_TITLE`] saved (XTWINOPS 23).
pub const POP_TITLE: &[u8] = b"\x1b[23;0t";

/// The bytes that set the window title (OSC 2) to `title`, cleaned.
pub fn set_title(title: &str) -> Vec<u8> {
    format!("\x1b]2;{}\x07", clean_field(title)).into_bytes()
}

/// The window title for `unread` messages unread over all rooms: `(3) chatroom`, or
/// `chatroom` with none.
pub fn title_for(unread: u64) -> String {
    if unread == 0 {
        "chatroom".to_owned()
    } else {
        format!("({unread}) chatroom")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(bytes: &[u8]) -> String {
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[test]
    fn osc_777_carries_the_title_and_the_body() {
        let bytes = notification(Method::Osc777, "alice in #general", "hi bob", false);
        assert_eq!(text(&bytes), "\x1b]777;notify;alice in #general;hi bob\x07");
    }

    #[test]
    fn osc_9_carries_the_title_and_body_in_its_one_field() {
        let bytes = notification(Method::Osc9, "alice", "hi bob", false);
        assert_eq!(text(&bytes), "\x1b]9;alice: hi bob\x07");
    }

    #[test]
    fn the_bell_and_off() {
        assert_eq!(notification(Method::Bell, "t", "b", false), b"\x07");
        assert_eq!(notification(Method::Bell, "t", "b", true), b"\x07");
        assert!(notification(Method::Off, "t", "b", false).is_empty());
    }

    #[test]
    fn escape_and_bell_in_the_text_cannot_end_the_sequence() {
        let hostile = "x\x1b]0;owned\x07y\x1b\\z\u{9c}w\u{7f}v";
        let bytes = notification(Method::Osc777, hostile, hostile, false);
        let inner = &bytes[2..bytes.len() - 1];
        assert!(
            !inner.iter().any(|&b| b == 0x1b || b == 0x07),
            "{:?}",
            text(&bytes)
        );
        let s = text(inner);
        assert!(!s.chars().any(char::is_control), "{s:?}");
        assert!(
            s.contains("owned"),
            "the text stays, only the controls go: {s:?}"
        );
    }

    #[test]
    fn c0_and_c1_controls_go_and_newlines_and_tabs_become_spaces() {
        assert_eq!(
            clean_field("a\nb\tc\r\n\nd\u{85}e\u{9b}f\u{1}g"),
            "a b c defg"
        );
        assert_eq!(
            clean_field("\u{202e}evil\u{202c}"),
            "evil",
            "no bidi override"
        );
    }

    #[test]
    fn no_semicolon_reaches_a_field() {
        let bytes = notification(Method::Osc777, "a;b", "c;d", false);
        assert_eq!(text(&bytes), "\x1b]777;notify;a,b;c,d\x07");
        let bytes = notification(Method::Osc9, "", "4;3;100", false);
        assert_eq!(
            text(&bytes),
            "\x1b]9;4,3,100\x07",
            "never a ConEmu subcommand"
        );
    }

    #[test]
    fn long_text_is_cut_on_a_character_boundary() {
        let long = "é".repeat(300);
        let cut = clean_field(&long);
        assert!(cut.len() <= MAX_NOTIFY_BYTES, "{}", cut.len());
        assert!(cut.ends_with('…'));
        let bytes = notification(Method::Osc777, &long, &long, false);
        assert!(bytes.len() <= 2 * MAX_NOTIFY_BYTES + 20, "{}", bytes.len());
        assert_eq!(
            clean_field(&"a".repeat(MAX_NOTIFY_BYTES)).len(),
            MAX_NOTIFY_BYTES
        );
    }

    #[test]
    fn inside_tmux_the_sequence_is_passed_through_with_its_escapes_doubled() {
        let bytes = notification(Method::Osc9, "", "hi", true);
        assert_eq!(text(&bytes), "\x1bPtmux;\x1b\x1b]9;hi\x07\x1b\\");
        let bytes = notification(Method::Osc777, "t", "b", true);
        assert_eq!(text(&bytes), "\x1bPtmux;\x1b\x1b]777;notify;t;b\x07\x1b\\");
    }

    #[test]
    fn the_terminal_picks_the_method() {
        let env = |f: fn(&mut TermEnv)| {
            let mut env = TermEnv::default();
            f(&mut env);
            env.detect()
        };
        assert_eq!(env(|_| {}), Method::Bell);
        assert_eq!(
            env(|e| e.term = Some("xterm-256color".into())),
            Method::Bell
        );
        assert_eq!(
            env(|e| e.term_program = Some("iTerm.app".into())),
            Method::Osc9
        );
        assert_eq!(env(|e| e.kitty_window_id = Some("1".into())), Method::Osc9);
        assert_eq!(env(|e| e.term = Some("xterm-kitty".into())), Method::Osc9);
        assert_eq!(env(|e| e.wt_session = Some("x".into())), Method::Osc9);
        assert_eq!(
            env(|e| e.term_program = Some("WezTerm".into())),
            Method::Osc777
        );
        assert_eq!(env(|e| e.vte_version = Some("7600".into())), Method::Osc777);
        assert_eq!(env(|e| e.term = Some("foot".into())), Method::Osc777);
        assert_eq!(
            env(|e| e.term = Some("rxvt-unicode-256color".into())),
            Method::Osc777
        );
        let forced = TermEnv {
            term_program: Some("iTerm.app".into()),
            ..Default::default()
        };
        assert_eq!(NotifyWith::Osc777.method(&forced), Method::Osc777);
        assert_eq!(NotifyWith::Off.method(&forced), Method::Off);
        assert_eq!(NotifyWith::Auto.method(&forced), Method::Osc9);
    }

    #[test]
    fn the_title_counts_what_is_unread_and_is_cleaned() {
        assert_eq!(title_for(0), "chatroom");
        assert_eq!(title_for(3), "(3) chatroom");
        assert_eq!(text(&set_title("(3) chatroom")), "\x1b]2;(3) chatroom\x07");
        assert_eq!(text(&set_title("a\x07b\x1b")), "\x1b]2;ab\x07");
    }
}
