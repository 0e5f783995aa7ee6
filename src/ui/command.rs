//! What a typed line asks for: slash commands parsed once, for the TUI and plain mode alike.

pub mod local;
pub mod moderation;

pub use self::local::Local;
pub use self::moderation::{Moderation, Parsed};

/// A line, read as a command or as text to say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command<'a> {
    /// Text to send as it is; `//text` says `/text`.
    Say(std::borrow::Cow<'a, str>),
    /// `/me ACTION`, the action trimmed (empty when none was given).
    Me(&'a str),
    /// `/nick NEW`, the name trimmed (empty when none was given).
    Nick(&'a str),
    Who,
    Help,
    Members,
    Clear,
    /// `/join #room`, the room's name as [`room_name`] gives it (empty when none was given).
    Join(String),
    /// `/part [#room] [reason]`: the room (the one in view when none is named) and why.
    Part {
        room: Option<String>,
        reason: Option<&'a str>,
    },
    /// `/topic [text]`: show the topic, or set it.
    Topic(Option<&'a str>),
    /// `/list`: every room on the server.
    List,
    /// `/msg NAME TEXT`: a direct message (either empty when not given).
    Msg {
        to: &'a str,
        text: &'a str,
    },
    /// `/query NAME`: open the conversation with NAME (empty when not given).
    Query(&'a str),
    /// `/whois NAME` (empty when not given).
    Whois(&'a str),
    /// `/filter`: the smart filter of joins and leaves on or off.
    Filter,
    /// `/quit [reason]` (or `/exit`): leave the server, the reason shown in every room.
    Quit(Option<&'a str>),
    /// A moderation, away or ignore command (see [`moderation`]).
    Moderation(Parsed),
    /// A `/word` that is no command, never sent.
    Unknown(&'a str),
    /// `/urls`, `/open`, `/lastlog`: about the lines the pane holds (see [`local`]).
    Local(Local),
    /// `/notify [all|mentions|off]`: the room in view's notification level, as typed
    /// (empty: show it).
    Notify(&'a str),
    /// `/search [-all] TEXT`: the room in view's history on the server, or (`all`) every
    /// room and conversation the user can read; `query` is empty when none was given.
    Search {
        all: bool,
        query: &'a str,
    },
}

/// A room as typed (`ops`, `#Ops`), as the server names it: with its `#`, lowercased. The
/// server judges the rest of the name.
pub fn room_name(typed: &str) -> String {
    let typed = typed.trim();
    let bare = typed.strip_prefix('#').unwrap_or(typed);
    format!("#{}", bare.to_lowercase())
}

/// The commands Tab completes at the start of a line.
pub const NAMES: [&str; 19 + moderation::NAMES.len() + local::NAMES.len()] = {
    const BASE: [&str; 19] = [
        "/help", "/who", "/me", "/nick", "/join", "/part", "/topic", "/list", "/filter",
        "/members", "/clear", "/quit", "/exit", "/msg", "/query", "/whois", "/close", "/notify",
        "/search",
    ];
    let mut all = [""; 19 + moderation::NAMES.len() + local::NAMES.len()];
    let mut at = 0;
    while at < all.len() {
        all[at] = if at < BASE.len() {
            BASE[at]
        } else if at < BASE.len() + moderation::NAMES.len() {
            moderation::NAMES[at - BASE.len()]
        } else {
            local::NAMES[at - BASE.len() - moderation::NAMES.len()]
        };
        at += 1;
    }
    all
};

/// The commands whose first word is a member's name, which Tab completes from every room.
pub const TAKING_A_NAME: [&str; 3] = ["/msg", "/query", "/whois"];

/// Whether `command` (`/kick`) takes a member's name first, for Tab completion.
pub fn takes_a_name(command: &str) -> bool {
    let command = command.to_lowercase();
    TAKING_A_NAME
        .iter()
        .chain(moderation::TAKING_A_NAME.iter())
        .any(|name| *name == command)
}

/// Reads a line. Command names are matched whatever their case (`/ME`, `/Quit`).
pub fn parse<'a>(line: &'a str) -> Command<'a> {
    if let Some(escaped) = line.strip_prefix("//") {
        return Command::Say(format!("/{escaped}").into());
    }
    let Some(command) = line.strip_prefix('/') else {
        return Command::Say(line.into());
    };
    // The name is the first word, after any blanks.
    let command = command.trim_start();
    let (name, rest) = match command.find(char::is_whitespace) {
        Some(at) => (&command[..at], command[at..].trim()),
        None => (command, ""),
    };
    let some = |rest: &'a str| (!rest.is_empty()).then_some(rest);
    match name.to_ascii_lowercase().as_str() {
        "quit" | "exit" => Command::Quit(some(rest)),
        "join" => Command::Join(if rest.is_empty() {
            String::new()
        } else {
            room_name(rest)
        }),
        "part" => {
            let (first, after) = match rest.find(char::is_whitespace) {
                Some(at) => (&rest[..at], rest[at..].trim()),
                None => (rest, ""),
            };
            if first.starts_with('#') {
                Command::Part {
                    room: Some(room_name(first)),
                    reason: some(after),
                }
            } else {
                Command::Part {
                    room: None,
                    reason: some(rest),
                }
            }
        }
        // In a conversation, what `/part` does.
        "close" => Command::Part {
            room: None,
            reason: None,
        },
        "msg" => {
            let (to, text) = match rest.find(char::is_whitespace) {
                Some(at) => (&rest[..at], rest[at..].trim()),
                None => (rest, ""),
            };
            Command::Msg { to, text }
        }
        "query" => Command::Query(rest),
        "whois" => Command::Whois(rest),
        "topic" => Command::Topic(some(rest)),
        "list" => Command::List,
        "filter" => Command::Filter,
        "help" => Command::Help,
        "me" => Command::Me(rest),
        "nick" => Command::Nick(rest),
        "who" => Command::Who,
        "members" => Command::Members,
        "clear" => Command::Clear,
        "notify" => Command::Notify(rest),
        "search" => {
            let (first, after) = match rest.find(char::is_whitespace) {
                Some(at) => (&rest[..at], rest[at..].trim()),
                None => (rest, ""),
            };
            if first.eq_ignore_ascii_case("-all") {
                Command::Search {
                    all: true,
                    query: after,
                }
            } else {
                Command::Search {
                    all: false,
                    query: rest,
                }
            }
        }
        lower => match moderation::parse(lower, rest) {
            Some(parsed) => Command::Moderation(parsed),
            None => local::parse(lower, rest).map_or(Command::Unknown(name), Command::Local),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_as_commands_or_text() {
        assert_eq!(parse("hello"), Command::Say("hello".into()));
        assert_eq!(parse("//etc/hosts"), Command::Say("/etc/hosts".into()));
        assert_eq!(parse("/me  waves "), Command::Me("waves"));
        assert_eq!(parse("/me"), Command::Me(""));
        assert_eq!(parse("/me waves\nand more"), Command::Me("waves\nand more"));
        assert_eq!(parse("/nick bob"), Command::Nick("bob"));
        assert_eq!(parse("/who"), Command::Who);
        assert_eq!(parse("/WHO"), Command::Who);
        assert_eq!(parse("/Quit"), Command::Quit(None));
        assert_eq!(parse("/exit"), Command::Quit(None));
        assert_eq!(
            parse("/quit  gone fishing "),
            Command::Quit(Some("gone fishing"))
        );
        assert_eq!(parse("/meow"), Command::Unknown("meow"));
        assert_eq!(parse("/"), Command::Unknown(""));
        assert_eq!(parse("/ me waves"), Command::Me("waves"));
        assert_eq!(parse("/\u{3000}me x"), Command::Me("x"));
    }

    #[test]
    fn search_reads_its_scope_and_query() {
        assert_eq!(
            parse("/search  deploy \"green build\" from:alice "),
            Command::Search {
                all: false,
                query: "deploy \"green build\" from:alice"
            }
        );
        assert_eq!(
            parse("/SEARCH -all deploy"),
            Command::Search {
                all: true,
                query: "deploy"
            }
        );
        assert_eq!(
            parse("/search -all"),
            Command::Search {
                all: true,
                query: ""
            }
        );
        assert_eq!(
            parse("/search"),
            Command::Search {
                all: false,
                query: ""
            }
        );
        // Only the whole word is the switch.
        assert_eq!(
            parse("/search -allow"),
            Command::Search {
                all: false,
                query: "-allow"
            }
        );
    }

    #[test]
    fn room_commands_read_their_room_and_reason() {
        assert_eq!(parse("/join #Ops"), Command::Join("#ops".into()));
        assert_eq!(parse("/join ops"), Command::Join("#ops".into()));
        assert_eq!(parse("/JOIN"), Command::Join(String::new()));
        assert_eq!(
            parse("/part"),
            Command::Part {
                room: None,
                reason: None
            }
        );
        assert_eq!(
            parse("/part off to lunch"),
            Command::Part {
                room: None,
                reason: Some("off to lunch")
            }
        );
        assert_eq!(
            parse("/part #ops bye all"),
            Command::Part {
                room: Some("#ops".into()),
                reason: Some("bye all")
            }
        );
        assert_eq!(parse("/topic"), Command::Topic(None));
        assert_eq!(
            parse("/topic  deploys at 5 "),
            Command::Topic(Some("deploys at 5"))
        );
        assert_eq!(parse("/list"), Command::List);
        assert_eq!(parse("/Filter"), Command::Filter);
    }

    #[test]
    fn direct_message_commands_read_their_name_and_text() {
        assert_eq!(
            parse("/msg alice  hi there "),
            Command::Msg {
                to: "alice",
                text: "hi there"
            }
        );
        assert_eq!(
            parse("/MSG alice"),
            Command::Msg {
                to: "alice",
                text: ""
            }
        );
        assert_eq!(parse("/msg"), Command::Msg { to: "", text: "" });
        assert_eq!(parse("/query  bob "), Command::Query("bob"));
        assert_eq!(parse("/whois bob"), Command::Whois("bob"));
        assert_eq!(parse("/whois"), Command::Whois(""));
        assert_eq!(
            parse("/close"),
            Command::Part {
                room: None,
                reason: None
            }
        );
    }
}
