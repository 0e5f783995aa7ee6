//! The moderation, away and ignore commands as typed: `/kick`, `/ban`, `/mute`, `/op`,
//! `/mode`, `/invite`, `/delete`, `/away`, `/ignore` and the rest, each read once into a
//! [`Moderation`] the TUI and plain mode hand to the network worker alike.

use crate::domain::parse_duration;
use crate::rpc::types::Role;

/// A moderation, away or ignore request, as the network worker carries it out in the room
/// it is given (the room in view, or plain mode's first room).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Moderation {
    Kick {
        name: String,
        reason: Option<String>,
    },
    /// `/ban NAME|FINGERPRINT|ADDRESS [DURATION] [REASON]`; no duration is for ever.
    Ban {
        target: String,
        duration_secs: Option<u64>,
        reason: Option<String>,
    },
    Unban(String),
    Bans,
    Mute {
        name: String,
        duration_secs: Option<u64>,
    },
    Unmute(String),
    /// `/op` (`Some(Op)`), `/deop` (`None`), `/owner` (`Some(Owner)`).
    Role {
        name: String,
        role: Option<Role>,
    },
    /// `/mode [CHANGE]`: show the modes, or change them.
    Mode(Option<String>),
    /// `/invite NAME [#room]`: into the room named, or the one in view.
    Invite {
        name: String,
        room: Option<String>,
    },
    Gban {
        target: String,
        duration_secs: Option<u64>,
        reason: Option<String>,
    },
    Ungban(String),
    Gbans,
    /// `/delete SEQ`: the message with that seq in the room.
    Delete(u64),
    /// `/away [MESSAGE]` (`Some`), `/back` (`None`).
    Away(Option<String>),
    /// `/ignore NAME` (`on`), `/unignore NAME`.
    Ignore {
        name: String,
        on: bool,
    },
}

/// What a moderation command's words read as: the request, or what is wrong with them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Moderate(Moderation),
    /// `/delete` alone: pick the message to delete in the pane.
    SelectToDelete,
    /// `/ignore` alone: who is ignored.
    Ignored,
    /// The words do not make the command: its usage, or what is wrong.
    Usage(String),
}

/// The commands here, for Tab completion.
pub const NAMES: [&str; 19] = [
    "/kick",
    "/ban",
    "/unban",
    "/bans",
    "/mute",
    "/unmute",
    "/op",
    "/deop",
    "/owner",
    "/mode",
    "/invite",
    "/gban",
    "/ungban",
    "/gbans",
    "/delete",
    "/away",
    "/back",
    "/ignore",
    "/unignore",
];

/// Those whose first word is a member's name.
pub const TAKING_A_NAME: [&str; 11] = [
    "/kick",
    "/ban",
    "/unban",
    "/mute",
    "/unmute",
    "/op",
    "/deop",
    "/owner",
    "/invite",
    "/ignore",
    "/unignore",
];

/// Help for these commands, a line of `/help`.
pub const HELP: &str = "moderating (operators; see README): /kick NAME [REASON]  \
/ban NAME|FINGERPRINT|ADDRESS [DURATION] [REASON] (DURATION such as 10m, 2h, 7d, 1h30m; none: for ever)  \
/unban TARGET  /bans  /mute NAME [DURATION]  /unmute NAME  /op NAME  /deop NAME  \
/owner NAME hands the room over, which you cannot undo  /mode [+i|-i|+t|-t|+s|-s] invite only, topic locked, secret  \
/invite NAME [#ROOM]  /delete [SEQ] deletes a message (alone: pick it with Up/Down, Enter, Esc)  \
server operators: /gban TARGET [DURATION] [REASON]  /ungban TARGET  /gbans\n\
you: /away [MESSAGE]  /back  /ignore [NAME] hides what NAME says (alone: who is ignored)  /unignore NAME";

/// Reads the command `name` (lowercased, without its `/`) with the words after it, if it
/// is one of these.
pub fn parse(name: &str, rest: &str) -> Option<Parsed> {
    let (first, after) = split(rest);
    let usage = |text: &str| Parsed::Usage(format!("usage: {text}"));
    let some = |text: &str| (!text.is_empty()).then(|| text.to_owned());
    let named = |make: fn(String) -> Moderation, text: &str| {
        if first.is_empty() {
            usage(text)
        } else {
            Parsed::Moderate(make(first.to_owned()))
        }
    };
    Some(match name {
        "kick" if first.is_empty() => usage("/kick NAME [REASON]"),
        "kick" => Parsed::Moderate(Moderation::Kick {
            name: first.to_owned(),
            reason: some(after),
        }),
        "ban" | "gban" if first.is_empty() => usage(&format!(
            "/{name} NAME|FINGERPRINT|ADDRESS [DURATION] [REASON]"
        )),
        "ban" | "gban" => {
            let (duration_secs, reason) = match duration_then_reason(after) {
                Ok(read) => read,
                Err(bad) => return Some(bad),
            };
            let (target, reason) = (first.to_owned(), reason.map(str::to_owned));
            Parsed::Moderate(if name == "ban" {
                Moderation::Ban {
                    target,
                    duration_secs,
                    reason,
                }
            } else {
                Moderation::Gban {
                    target,
                    duration_secs,
                    reason,
                }
            })
        }
        "unban" => named(Moderation::Unban, "/unban NAME|FINGERPRINT|ADDRESS"),
        "ungban" => named(Moderation::Ungban, "/ungban NAME|FINGERPRINT|ADDRESS"),
        "bans" => Parsed::Moderate(Moderation::Bans),
        "gbans" => Parsed::Moderate(Moderation::Gbans),
        "mute" if first.is_empty() => usage("/mute NAME [DURATION]"),
        "mute" => {
            let (duration_secs, reason) = match duration_then_reason(after) {
                Ok(read) => read,
                Err(bad) => return Some(bad),
            };
            if reason.is_some() {
                return Some(Parsed::Usage(format!(
                    "not a duration: {after} (such as 10m, 2h, 7d, 1h30m; none: until /unmute)"
                )));
            }
            Parsed::Moderate(Moderation::Mute {
                name: first.to_owned(),
                duration_secs,
            })
        }
        "unmute" => named(Moderation::Unmute, "/unmute NAME"),
        "op" | "deop" | "owner" if first.is_empty() => usage(&format!("/{name} NAME")),
        "op" | "deop" | "owner" => Parsed::Moderate(Moderation::Role {
            name: first.to_owned(),
            role: match name {
                "op" => Some(Role::Op),
                "owner" => Some(Role::Owner),
                _ => None,
            },
        }),
        "mode" => Parsed::Moderate(Moderation::Mode(some(rest))),
        "invite" if first.is_empty() => usage("/invite NAME [#ROOM]"),
        "invite" => Parsed::Moderate(Moderation::Invite {
            name: first.to_owned(),
            room: (!after.is_empty()).then(|| super::room_name(after)),
        }),
        "delete" if rest.is_empty() => Parsed::SelectToDelete,
        "delete" => match rest.trim_start_matches('#').parse::<u64>() {
            Ok(seq) if seq > 0 => Parsed::Moderate(Moderation::Delete(seq)),
            _ => Parsed::Usage(format!(
                "not a message number: {rest} (usage: /delete [SEQ]; alone, pick the message)"
            )),
        },
        "away" => Parsed::Moderate(Moderation::Away(Some(
            some(rest).unwrap_or_else(|| "away".to_owned()),
        ))),
        "back" => Parsed::Moderate(Moderation::Away(None)),
        "ignore" if first.is_empty() => Parsed::Ignored,
        "ignore" | "unignore" if first.is_empty() => usage("/unignore NAME"),
        "ignore" | "unignore" => Parsed::Moderate(Moderation::Ignore {
            name: first.to_owned(),
            on: name == "ignore",
        }),
        _ => return None,
    })
}

/// The first word and the rest, trimmed.
fn split(text: &str) -> (&str, &str) {
    match text.find(char::is_whitespace) {
        Some(at) => (&text[..at], text[at..].trim()),
        None => (text, ""),
    }
}

/// `[DURATION] [REASON]`: a first word that reads as a duration is one; one that starts
/// with a digit and does not is a mistake (`10x`); any other starts the reason.
fn duration_then_reason(text: &str) -> Result<(Option<u64>, Option<&str>), Parsed> {
    let (first, after) = split(text);
    if first.is_empty() {
        return Ok((None, None));
    }
    fn reason(text: &str) -> Option<&str> {
        (!text.is_empty()).then_some(text)
    }
    match parse_duration(first) {
        Some(secs) => Ok((Some(secs), reason(after))),
        None if first.starts_with(|c: char| c.is_ascii_digit()) => Err(Parsed::Usage(format!(
            "not a duration: {first} (such as 10m, 2h, 7d, 1h30m; none: for ever)"
        ))),
        None => Ok((None, reason(text))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::command::{self, Command};

    fn moderate(line: &str) -> Moderation {
        match command::parse(line) {
            Command::Moderation(Parsed::Moderate(what)) => what,
            other => panic!("{line}: {other:?}"),
        }
    }

    fn usage(line: &str) -> String {
        match command::parse(line) {
            Command::Moderation(Parsed::Usage(text)) => text,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn kick_reads_a_name_and_a_reason() {
        assert_eq!(
            moderate("/kick bob  stop the spam "),
            Moderation::Kick {
                name: "bob".into(),
                reason: Some("stop the spam".into())
            }
        );
        assert_eq!(
            moderate("/KICK bob"),
            Moderation::Kick {
                name: "bob".into(),
                reason: None
            }
        );
        assert_eq!(usage("/kick"), "usage: /kick NAME [REASON]");
    }

    #[test]
    fn ban_reads_a_duration_if_the_second_word_is_one_and_a_reason_otherwise() {
        let ban = |target: &str, duration_secs, reason: Option<&str>| Moderation::Ban {
            target: target.into(),
            duration_secs,
            reason: reason.map(str::to_owned),
        };
        assert_eq!(
            moderate("/ban bob 1h30m spam"),
            ban("bob", Some(5400), Some("spam"))
        );
        assert_eq!(moderate("/ban bob 7d"), ban("bob", Some(7 * 86_400), None));
        assert_eq!(
            moderate("/ban bob spam and more"),
            ban("bob", None, Some("spam and more"))
        );
        assert_eq!(moderate("/ban 10.0.0.7"), ban("10.0.0.7", None, None));
        assert_eq!(
            moderate("/ban SHA256:abc 2h"),
            ban("SHA256:abc", Some(7200), None)
        );
        assert!(usage("/ban bob 10x spam").starts_with("not a duration: 10x"));
        assert!(usage("/ban bob 1.5h").starts_with("not a duration: 1.5h"));
        assert_eq!(
            usage("/ban"),
            "usage: /ban NAME|FINGERPRINT|ADDRESS [DURATION] [REASON]"
        );
        assert_eq!(
            moderate("/gban bob 2h flood"),
            Moderation::Gban {
                target: "bob".into(),
                duration_secs: Some(7200),
                reason: Some("flood".into())
            }
        );
        assert!(usage("/gban").starts_with("usage: /gban"));
        assert!(usage("/gban bob 5q").starts_with("not a duration: 5q"));
    }

    #[test]
    fn lifting_and_listing_read_their_target() {
        assert_eq!(moderate("/unban bob"), Moderation::Unban("bob".into()));
        assert_eq!(
            moderate("/ungban 10.0.0.7"),
            Moderation::Ungban("10.0.0.7".into())
        );
        assert_eq!(moderate("/bans"), Moderation::Bans);
        assert_eq!(moderate("/gbans"), Moderation::Gbans);
        assert!(usage("/unban").starts_with("usage: /unban"));
        assert!(usage("/ungban").starts_with("usage: /ungban"));
        assert_eq!(moderate("/unmute bob"), Moderation::Unmute("bob".into()));
        assert_eq!(usage("/unmute"), "usage: /unmute NAME");
    }

    #[test]
    fn mute_takes_only_a_duration() {
        assert_eq!(
            moderate("/mute bob 10m"),
            Moderation::Mute {
                name: "bob".into(),
                duration_secs: Some(600)
            }
        );
        assert_eq!(
            moderate("/mute bob"),
            Moderation::Mute {
                name: "bob".into(),
                duration_secs: None
            }
        );
        assert!(usage("/mute bob ten minutes").starts_with("not a duration: ten minutes"));
        assert!(usage("/mute bob 10").starts_with("not a duration: 10"));
        assert_eq!(usage("/mute"), "usage: /mute NAME [DURATION]");
    }

    #[test]
    fn roles_modes_and_invites() {
        let role = |name: &str, role| Moderation::Role {
            name: name.into(),
            role,
        };
        assert_eq!(moderate("/op bob"), role("bob", Some(Role::Op)));
        assert_eq!(moderate("/deop bob"), role("bob", None));
        assert_eq!(moderate("/owner bob"), role("bob", Some(Role::Owner)));
        assert_eq!(usage("/op"), "usage: /op NAME");
        assert_eq!(usage("/deop"), "usage: /deop NAME");
        assert_eq!(usage("/owner"), "usage: /owner NAME");
        assert_eq!(moderate("/mode"), Moderation::Mode(None));
        assert_eq!(
            moderate("/mode +i-t"),
            Moderation::Mode(Some("+i-t".into()))
        );
        assert_eq!(
            moderate("/invite bob"),
            Moderation::Invite {
                name: "bob".into(),
                room: None
            }
        );
        assert_eq!(
            moderate("/invite bob Ops"),
            Moderation::Invite {
                name: "bob".into(),
                room: Some("#ops".into())
            }
        );
        assert_eq!(usage("/invite"), "usage: /invite NAME [#ROOM]");
    }

    #[test]
    fn delete_away_and_ignore() {
        assert_eq!(moderate("/delete 42"), Moderation::Delete(42));
        assert_eq!(moderate("/delete #42"), Moderation::Delete(42));
        assert_eq!(
            command::parse("/delete"),
            Command::Moderation(Parsed::SelectToDelete)
        );
        assert!(usage("/delete soon").starts_with("not a message number: soon"));
        assert!(usage("/delete 0").starts_with("not a message number: 0"));
        assert_eq!(
            moderate("/away  at lunch "),
            Moderation::Away(Some("at lunch".into()))
        );
        assert_eq!(moderate("/away"), Moderation::Away(Some("away".into())));
        assert_eq!(moderate("/back"), Moderation::Away(None));
        assert_eq!(
            moderate("/ignore bob"),
            Moderation::Ignore {
                name: "bob".into(),
                on: true
            }
        );
        assert_eq!(
            moderate("/unignore bob"),
            Moderation::Ignore {
                name: "bob".into(),
                on: false
            }
        );
        assert_eq!(
            command::parse("/ignore"),
            Command::Moderation(Parsed::Ignored)
        );
        assert_eq!(usage("/unignore"), "usage: /unignore NAME");
    }
}
