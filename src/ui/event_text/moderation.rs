//! How moderation, away and ignore read: the events of rooms ("bob was kicked by alice
//! (spam)"), what the server answered our own requests, and the line told to a member put
//! out of a room. Shared by the TUI and plain mode.

use super::{shown_member, shown_name};
use crate::domain::format_duration;
use crate::rpc::types::{BanInfo, Event, EventKind, MemberInfo};
use crate::text::clean_text;
use crate::ui::command::Moderation;
use crate::ui::net::{Outcome, role_words};

/// A reason as it follows a notice: " (spam)", or nothing.
fn reason(text: Option<&str>) -> String {
    match text.map(clean_text) {
        Some(reason) if !reason.is_empty() => format!(" ({})", reason.replace('\n', " ")),
        _ => String::new(),
    }
}

/// How long something that ends at `until` (ms since the epoch) has left at `now`, as a
/// person says it: "for 2h", "for ever", "(over)". Rounded up to the minute, so a ban of
/// two hours just made reads as one.
pub fn time_left(until: Option<u64>, now: u64) -> String {
    match until {
        None => "for ever".into(),
        Some(until) if until <= now => "(now over)".into(),
        Some(until) => {
            let minutes = (until - now).div_ceil(60_000);
            format!("for {}", format_duration(minutes * 60))
        }
    }
}

/// The name of an event's target, as shown.
fn target(event: &Event) -> String {
    event
        .target
        .as_ref()
        .map_or_else(|| "?".into(), shown_member)
}

/// How an event of the kinds moderation, away and ignore add reads, at `now`.
pub(super) fn notice(event: &Event, now: u64) -> String {
    let from = shown_member(&event.from);
    let why = reason(event.text.as_deref());
    match event.kind {
        EventKind::Kick => format!("{} was kicked by {from}{why}", target(event)),
        EventKind::Ban => format!(
            "{from} banned {} {}{why}",
            target(event),
            time_left(event.until, now)
        ),
        EventKind::Unban => format!("{from} lifted the ban on {}", target(event)),
        EventKind::Mute => {
            let left = match event.until {
                None => "until unmuted".into(),
                until => time_left(until, now),
            };
            format!("{from} muted {} {left}", target(event))
        }
        EventKind::Unmute => format!("{from} unmuted {}", target(event)),
        EventKind::Role => {
            let who = target(event);
            match event.text.as_deref() {
                Some("owner") => format!("{from} made {who} the owner"),
                Some(_) if event.target.as_ref().map(|t| t.id) == Some(event.from.id) => {
                    format!("{who} is now an operator")
                }
                Some(_) => format!("{from} made {who} an operator"),
                None => format!("{from} took operator from {who}"),
            }
        }
        EventKind::Mode => format!(
            "{from} set mode {}",
            clean_text(event.text.as_deref().unwrap_or("?"))
        ),
        EventKind::Invite => format!("{from} invited {}", target(event)),
        EventKind::Gban => format!(
            "{from} banned {} from the server {}{why}",
            target(event),
            time_left(event.until, now)
        ),
        EventKind::Delete => format!("{from} deleted a message of {}", target(event)),
        EventKind::Deleted => format!("{from}: message deleted"),
        EventKind::Away => match event.text.as_deref().map(clean_text) {
            Some(away) if !away.is_empty() => {
                format!("{from} is away: {}", away.replace('\n', " "))
            }
            _ => format!("{from} is back"),
        },
        EventKind::Ignore if event.text.is_none() => format!("you now ignore {}", target(event)),
        EventKind::Ignore => format!("you no longer ignore {}", target(event)),
        EventKind::Invited => {
            let room = clean_text(&event.room);
            format!("{from} invites you to {room} — /join {room}")
        }
        other => format!("{from}: {}", other.as_str()),
    }
}

/// Whether `event` puts `me` out of its room (a kick, a ban or a server ban of us).
pub fn puts_out(event: &Event, me: uuid::Uuid) -> bool {
    matches!(
        event.kind,
        EventKind::Kick | EventKind::Ban | EventKind::Gban
    ) && event.target.as_ref().is_some_and(|target| target.id == me)
}

/// What a member put out of a room is told: "You were kicked from #x by alice: spam".
pub fn put_out_text(event: &Event, room: &str, now: u64) -> String {
    let from = shown_member(&event.from);
    let why = match event.text.as_deref().map(clean_text) {
        Some(why) if !why.is_empty() => format!(": {}", why.replace('\n', " ")),
        _ => String::new(),
    };
    match event.kind {
        EventKind::Kick => format!("You were kicked from {room} by {from}{why}"),
        EventKind::Gban => format!(
            "You were banned from the server by {from} {}{why}",
            time_left(event.until, now)
        ),
        _ => format!(
            "You were banned from {room} by {from} {}{why}",
            time_left(event.until, now)
        ),
    }
}

/// One ban or mute as `/bans` lists it.
pub fn ban_row(ban: &BanInfo, now: u64) -> String {
    let mut who = shown_name(&ban.name);
    if let Some(fingerprint) = &ban.fingerprint {
        who.push_str(&format!(" ({})", clean_text(fingerprint)));
    }
    if let Some(address) = &ban.address {
        who.push_str(&format!(" (address {})", clean_text(address)));
    }
    format!(
        "{who} {} by {}{}",
        time_left(ban.until, now),
        shown_name(&ban.by),
        reason(ban.reason.as_deref())
    )
}

/// Names as a short list, each shown.
fn names(members: &[MemberInfo]) -> String {
    let names: Vec<String> = members.iter().map(shown_member).collect();
    names.join(", ")
}

/// What the server answered a request of ours (`what`, in `room`), as one line (or, for a
/// list, lines).
pub fn outcome_text(room: &str, what: &Moderation, outcome: &Outcome, now: u64) -> String {
    let room = clean_text(room);
    let said = |name: &str| shown_name(name);
    match (what, outcome) {
        (Moderation::Kick { name, reason: why }, _) => {
            format!(
                "you kicked {} from {room}{}",
                said(name),
                reason(why.as_deref())
            )
        }
        (Moderation::Ban { .. }, Outcome::Ban(ban)) => format!(
            "you banned {} from {room} {}{}",
            said(&ban.name),
            time_left(ban.until, now),
            reason(ban.reason.as_deref())
        ),
        (Moderation::Unban(_), Outcome::Ban(ban)) => {
            format!("you lifted the ban on {} in {room}", said(&ban.name))
        }
        (Moderation::Mute { .. }, Outcome::Ban(ban)) => {
            let left = match ban.until {
                None => "until /unmute".into(),
                until => time_left(until, now),
            };
            format!("you muted {} in {room} {left}", said(&ban.name))
        }
        (Moderation::Unmute(_), Outcome::Ban(ban)) => {
            format!("you unmuted {} in {room}", said(&ban.name))
        }
        (Moderation::Gban { .. }, Outcome::Ban(ban)) => format!(
            "you banned {} from the server {}{}",
            said(&ban.name),
            time_left(ban.until, now),
            reason(ban.reason.as_deref())
        ),
        (Moderation::Ungban(_), Outcome::Ban(ban)) => {
            format!("you lifted the server ban on {}", said(&ban.name))
        }
        (Moderation::Bans | Moderation::Gbans, Outcome::Bans(bans)) => {
            let place = match what {
                Moderation::Gbans => "on the server".to_owned(),
                _ => format!("in {room}"),
            };
            if bans.is_empty() {
                return format!("no bans {place}");
            }
            let mut text = format!("{} ban{} {place}:", bans.len(), plural(bans.len()));
            for ban in bans {
                text.push('\n');
                text.push_str(&ban_row(ban, now));
            }
            text
        }
        (Moderation::Role { name, role: None }, _) => {
            format!("you took operator from {} in {room}", said(name))
        }
        (
            Moderation::Role {
                name,
                role: Some(role),
            },
            _,
        ) => {
            format!("you made {} {} of {room}", said(name), role_words(*role))
        }
        (Moderation::Mode(change), Outcome::Modes(modes)) => {
            let modes = clean_text(&modes.modes);
            match change {
                Some(change) => {
                    format!("you set mode {} in {room}: now {modes}", clean_text(change))
                }
                None => format!("the modes of {room} are {modes} ({})", mode_words(&modes)),
            }
        }
        (Moderation::Invite { name, .. }, _) => {
            format!("you invited {} to {room}", said(name))
        }
        (Moderation::Delete(seq), _) => format!("you deleted message {seq}"),
        (Moderation::Away(Some(message)), _) => {
            format!("you are marked away: {}", clean_text(message))
        }
        (Moderation::Away(None), _) => "you are back".into(),
        (Moderation::Ignore { name, on }, Outcome::Ignored(now_ignored)) => {
            let done = if *on {
                format!("you now ignore {}", said(name))
            } else {
                format!("you no longer ignore {}", said(name))
            };
            format!("{done}; {}", ignored_text(now_ignored))
        }
        // Every request has its own answer (see `net::moderate`).
        _ => "done".into(),
    }
}

/// Who is ignored, as a line: "ignoring: bob, carol" or "ignoring nobody".
pub fn ignored_text(ignored: &[MemberInfo]) -> String {
    if ignored.is_empty() {
        "ignoring nobody".into()
    } else {
        format!("ignoring: {}", names(ignored))
    }
}

/// What a room's mode letters mean.
fn mode_words(modes: &str) -> String {
    let mut words = Vec::new();
    for (letter, word) in [('i', "invite only"), ('s', "secret"), ('t', "topic locked")] {
        if modes.contains(letter) {
            words.push(word);
        }
    }
    if words.is_empty() {
        "none set".into()
    } else {
        words.join(", ")
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
