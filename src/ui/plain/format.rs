//! How plain mode words what it prints: an event as one line (its room, its local time,
//! what happened), and the notices of the client itself, each about one room.

use super::*;

/// How one event reads as a line of text: its room first, then its time in local time
/// (`offset_secs` from UTC).
pub fn format_event(event: &Event, offset_secs: i64) -> String {
    format_event_in(event, &clean_text(&event.room), offset_secs)
}

/// [`format_event`], its room shown as `room` (a conversation as `@peer`).
pub(super) fn format_event_in(event: &Event, room: &str, offset_secs: i64) -> String {
    let time = crate::ui::present::format_time(event.ts, offset_secs, false);
    let body = match event_text::read(event) {
        Reading::Said { from, text } => format!("<{from}> {}", text.replace('\n', " ")),
        Reading::Acted { from, text } => format!("* {from} {}", text.replace('\n', " ")),
        Reading::Notice(text) => format!("-!- {}", text.replace('\n', " ")),
    };
    // An event told to us alone may have no room (`ignore`): the line starts with its time.
    format!("{room} {time} {body}").trim_start().to_owned()
}

/// What plain mode tells about the client itself, beside the room's events: in `--json`
/// output, objects with a `client` field (room events have `kind` instead).
#[derive(Debug, Serialize)]
#[serde(tag = "client", rename_all = "lowercase")]
pub(super) enum Notice<'a> {
    /// On the server and in `room`, under `name` (`asked` is the name asked for);
    /// `resumed` after a reconnect, whose catch-up follows.
    Joined {
        room: &'a str,
        name: &'a str,
        asked: Option<&'a str>,
        resumed: bool,
        members: usize,
    },
    /// In another room too (`/join`, a second `--room`), or again after a reconnect.
    Entered {
        room: &'a str,
        resumed: bool,
        members: usize,
    },
    /// Out of a room (`/part`).
    Parted { room: &'a str },
    /// The connection was lost; reconnecting.
    Disconnected { reason: &'a str },
    /// On this one of the several addresses given (`connect A,B,C`).
    Server { server: &'a str },
    /// `/who`.
    Members {
        room: &'a str,
        members: &'a [MemberInfo],
    },
    /// Our own `/nick`.
    Renamed { name: &'a str },
    /// `/topic`: the topic as asked for, or (`changed`) as we set it.
    Topic {
        room: &'a str,
        topic: Option<&'a str>,
        changed: bool,
    },
    /// `/list`.
    Rooms { rooms: &'a [RoomInfo] },
    /// `/whois`.
    Whois { whois: &'a Whois },
    /// In a conversation with `peer` (`/query`, `/msg`, or a message someone sent us).
    Conversation { room: &'a str, peer: &'a str },
    /// A moderation, away or ignore request of ours was carried out, or (after `/msg`)
    /// the recipient is away: `text` says which.
    Moderated { room: &'a str, text: String },
    /// One line `/search` found.
    Hit { hit: &'a SearchHit },
    /// `/search` is done: how many hits it printed, and whether the server has older ones.
    Searched {
        query: &'a str,
        hits: usize,
        more: bool,
    },
}

/// A line `/search` found, as plain mode prints it: the room, the date and time, and the
/// line as the room showed it.
pub(super) fn hit_line(hit: &SearchHit, offset_secs: i64) -> String {
    let room = clean_text(&hit.room);
    let when = super::super::present::format_time(hit.ts, offset_secs, true);
    let name = event_text::shown_name(&hit.from.name);
    let text = clean_text(&hit.text).replace('\n', " ");
    if hit.action {
        format!("{room} {when} * {name} {text}")
    } else {
        format!("{room} {when} <{name}> {text}")
    }
}

impl Notice<'_> {
    /// The room a notice is about, which its line starts with.
    pub(super) fn room(&self) -> Option<&str> {
        match self {
            Notice::Joined { room, .. }
            | Notice::Entered { room, .. }
            | Notice::Parted { room }
            | Notice::Members { room, .. }
            | Notice::Topic { room, .. }
            | Notice::Moderated { room, .. } => Some(room),
            Notice::Disconnected { .. }
            | Notice::Server { .. }
            | Notice::Renamed { .. }
            | Notice::Rooms { .. }
            | Notice::Whois { .. }
            | Notice::Conversation { .. }
            | Notice::Hit { .. }
            | Notice::Searched { .. } => None,
        }
    }

    pub(super) fn text(&self, offset_secs: i64) -> String {
        match self {
            Notice::Joined {
                name,
                resumed: true,
                ..
            } => format!("reconnected as {name}"),
            Notice::Joined {
                name,
                asked: Some(asked),
                members,
                ..
            } if asked != name => format!("you are {name} (asked for {asked}); {members} here"),
            Notice::Joined { name, members, .. } => format!("you are {name}; {members} here"),
            Notice::Entered {
                room,
                resumed: true,
                ..
            } => format!("back in {room}"),
            Notice::Entered { room, members, .. } => format!("you joined {room}; {members} here"),
            Notice::Parted { room } => format!("you left {room}"),
            Notice::Disconnected { reason } => format!("disconnected: {reason}; reconnecting"),
            Notice::Server { server } => format!("connected to {server}"),
            Notice::Members { members, .. } => {
                let names: Vec<String> = members
                    .iter()
                    .map(|m| event_text::shown_name(&m.name))
                    .collect();
                format!("{} here: {}", names.len(), names.join(", "))
            }
            Notice::Renamed { name } => format!("you are now known as {name}"),
            Notice::Topic {
                topic,
                changed: true,
                ..
            } => match topic {
                Some(topic) => format!("you changed the topic to: {topic}"),
                None => "you cleared the topic".into(),
            },
            Notice::Topic { room, topic, .. } => match topic {
                Some(topic) => format!("the topic of {room} is: {topic}"),
                None => format!("{room} has no topic"),
            },
            Notice::Rooms { rooms } => {
                let rows: Vec<String> = rooms
                    .iter()
                    .map(|info| room_row(info, offset_secs))
                    .collect();
                let s = if rooms.len() == 1 { "" } else { "s" };
                format!("{} room{s}: {}", rooms.len(), rows.join(" | "))
            }
            Notice::Whois { whois } => event_text::whois(whois, offset_secs).join("; "),
            Notice::Conversation { peer, .. } => {
                format!("in a conversation with {peer} (/msg {peer} TEXT)")
            }
            Notice::Moderated { text, .. } => text.clone(),
            Notice::Hit { hit } => hit_line(hit, offset_secs),
            Notice::Searched { query, hits, more } => {
                let s = if *hits == 1 { "" } else { "s" };
                let more = if *more { "; older ones not shown" } else { "" };
                format!("{hits} hit{s} for {query}{more}")
            }
        }
    }
}
