//! How a room event reads as text, once, for the TUI's pane and plain mode's lines alike;
//! how a run of joins and leaves reads once collapsed into one line; and how a room of
//! `/list` reads.

pub mod moderation;

use crate::rpc::types::{Event, EventKind, MemberInfo, Presence, RoomInfo, Whois};
use crate::text::{clean_name, clean_text};

/// A room event as it reads: something said, something done (`/me`), or a notice. Names
/// and text are cleaned; the text may hold newlines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reading {
    Said { from: String, text: String },
    Acted { from: String, text: String },
    Notice(String),
}

/// A name from the network as it is shown: cleaned by the name rules, so that none can
/// imitate another line.
pub fn shown_name(name: &str) -> String {
    clean_name(name).unwrap_or_else(|| "?".into())
}

/// A member's name as it is shown: [`shown_name`], marked `~` for a guest, whose name is
/// only borrowed (as IRC marks those it has not identified).
pub fn shown_member(member: &MemberInfo) -> String {
    let name = shown_name(&member.name);
    if member.guest {
        format!("{GUEST_MARK}{name}")
    } else {
        name
    }
}

/// What marks a guest's name.
pub const GUEST_MARK: &str = "~";

/// How `event` reads now.
pub fn read(event: &Event) -> Reading {
    read_at(event, crate::rpc::types::unix_ms())
}

/// How `event` reads at `now` (ms since the epoch): a ban says how long it has left.
pub fn read_at(event: &Event, now: u64) -> Reading {
    let from = shown_member(&event.from);
    let text = || clean_text(event.text.as_deref().unwrap_or(""));
    match event.kind {
        EventKind::Message => Reading::Said { from, text: text() },
        EventKind::Action => Reading::Acted { from, text: text() },
        EventKind::Nick => {
            let old = event.text.as_deref().map_or_else(|| "?".into(), shown_name);
            Reading::Notice(format!("{old} is now known as {from}"))
        }
        EventKind::Join => Reading::Notice(format!("{from} joined")),
        EventKind::Leave => Reading::Notice(match event.text.as_deref().map(clean_text) {
            Some(reason) if !reason.is_empty() => format!("{from} left ({reason})"),
            _ => format!("{from} left"),
        }),
        EventKind::System => Reading::Notice(format!("{from}: {}", text())),
        // Never shown: the clients move their markers on it. Read, it says what it is.
        EventKind::Read => Reading::Notice(format!("read up to {}", event.seq)),
        EventKind::Topic => Reading::Notice(match event.text.as_deref().map(clean_text) {
            Some(topic) if !topic.is_empty() => {
                format!("{from} changed the topic to: {topic}")
            }
            _ => format!("{from} cleared the topic"),
        }),
        EventKind::Presence => Reading::Notice(
            event
                .presence
                .as_deref()
                .map(presence_summary)
                .unwrap_or_default(),
        ),
        _ => Reading::Notice(moderation::notice(event, now)),
    }
}

/// A large room's presence event as one line: who came and went when it names them,
/// "37 joined, 2 left" when it cannot, and how many are here. Empty for a member list
/// alone, which changes nothing to tell.
pub fn presence_summary(presence: &Presence) -> String {
    if presence.joins == 0 && presence.leaves == 0 {
        return String::new();
    }
    let here = format!("{} here", presence.count);
    let named =
        |members: &[MemberInfo]| -> Vec<String> { members.iter().map(shown_member).collect() };
    let (joined, left) = (named(&presence.joined), named(&presence.left));
    if presence.complete && !(joined.is_empty() && left.is_empty()) {
        return format!("{} ({here})", self::presence(&joined, &left));
    }
    let mut counts = Vec::new();
    if presence.joins > 0 {
        counts.push(format!("{} joined", presence.joins));
    }
    if presence.leaves > 0 {
        counts.push(format!("{} left", presence.leaves));
    }
    format!("{} ({here})", counts.join(", "))
}

/// Names as a list that stays short: "alice", "alice and bob", "alice, bob and carol",
/// "alice, bob and 3 others".
pub fn name_list(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [first, second] => format!("{first} and {second}"),
        [first, second, third] => format!("{first}, {second} and {third}"),
        [first, second, rest @ ..] => format!("{first}, {second} and {} others", rest.len()),
    }
}

/// A run of joins and leaves as one line: "alice, bob and 3 others joined; carol left".
pub fn presence(joined: &[String], left: &[String]) -> String {
    let mut parts = Vec::new();
    if !joined.is_empty() {
        parts.push(format!("{} joined", name_list(joined)));
    }
    if !left.is_empty() {
        parts.push(format!("{} left", name_list(left)));
    }
    parts.join("; ")
}

/// The answer to `/whois` as lines: who (key or guest, since when the name is theirs),
/// whether they are here (sessions, idle) or when they were last, and their rooms.
pub fn whois(whois: &Whois, offset_secs: i64) -> Vec<String> {
    let name = shown_name(&whois.name);
    let time = |ms| super::present::format_time(ms, offset_secs, true);
    let who = match (&whois.fingerprint, whois.since) {
        _ if whois.guest => {
            format!("{GUEST_MARK}{name} is a guest: no key, the name only borrowed")
        }
        (Some(fingerprint), Some(since)) => format!(
            "{name}: key {}, the name theirs since {}",
            clean_text(fingerprint),
            time(since)
        ),
        (Some(fingerprint), None) => format!("{name}: key {}", clean_text(fingerprint)),
        (None, _) => format!("{name}: no fingerprint given"),
    };
    let who = if whois.server_op {
        format!("{who}; a server operator")
    } else {
        who
    };
    let mut here = if whois.online {
        let s = if whois.sessions == 1 { "" } else { "s" };
        let idle = whois
            .idle_ms
            .map(|ms| format!(", idle {}", span(ms)))
            .unwrap_or_default();
        format!("online, {} session{s}{idle}", whois.sessions)
    } else {
        match whois.last_seen {
            Some(seen) => format!("offline, last seen {}", time(seen)),
            None => "offline".to_owned(),
        }
    };
    if let Some(away) = &whois.away {
        here.push_str(&format!(", away: {}", clean_text(away).replace('\n', " ")));
    }
    let rooms = if whois.rooms.is_empty() {
        "in no rooms".to_owned()
    } else {
        // With the role held in each, if any: `#ops (owner)`.
        let rooms: Vec<String> = whois
            .rooms
            .iter()
            .map(|room| match whois.roles.get(room) {
                Some(role) => format!("{} ({})", clean_text(room), role.as_str()),
                None => clean_text(room),
            })
            .collect();
        format!("rooms: {}", rooms.join(", "))
    };
    vec![who, here, rooms]
}

/// A span of time as a person says it: `42s`, `5m 3s`, `2h 10m`, `3d 4h`.
pub fn span(ms: u64) -> String {
    let secs = ms / 1000;
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

/// One room of `/list`: its name, members, when it was last active and its topic.
pub fn room_row(info: &RoomInfo, offset_secs: i64) -> String {
    let room = clean_text(&info.room);
    let members = info.members;
    let active = super::present::format_time(info.last_active, offset_secs, true);
    let topic = info.topic.as_deref().map(clean_text).unwrap_or_default();
    let s = if members == 1 { "" } else { "s" };
    let row = format!("{room} ({members} member{s}, active {active})");
    if topic.is_empty() {
        row
    } else {
        format!("{row} {}", topic.replace('\n', " "))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::rpc::types::MemberInfo;
    use uuid::Uuid;

    /// An event of `kind` in `#general` from `name`, with `text`.
    pub(crate) fn event(kind: EventKind, name: &str, text: Option<&str>) -> Event {
        Event {
            room: "#general".into(),
            seq: 1,
            ts: 0,
            kind,
            from: MemberInfo {
                id: Uuid::nil(),
                name: name.into(),
                guest: false,
                ..Default::default()
            },
            text: text.map(str::to_owned),
            ..Default::default()
        }
    }

    #[test]
    fn notices_read_the_same_everywhere() {
        let notice = |kind, name, text| match read(&event(kind, name, text)) {
            Reading::Notice(text) => text,
            other => panic!("{other:?}"),
        };
        assert_eq!(notice(EventKind::Join, "bob", None), "bob joined");
        assert_eq!(notice(EventKind::Leave, "bob", None), "bob left");
        assert_eq!(
            notice(EventKind::Leave, "bob", Some("lunch")),
            "bob left (lunch)"
        );
        assert_eq!(
            notice(EventKind::Topic, "alice", Some("deploys\x1b[2J at 5")),
            "alice changed the topic to: deploys[2J at 5"
        );
        assert_eq!(
            notice(EventKind::Topic, "alice", None),
            "alice cleared the topic"
        );
        assert_eq!(
            notice(EventKind::Nick, "robert", Some("-!- bob")),
            "bob is now known as robert"
        );
    }

    #[test]
    fn a_presence_event_reads_as_who_came_and_went_or_as_counts() {
        let member = |name: &str| MemberInfo {
            id: uuid::Uuid::new_v4(),
            name: name.into(),
            ..Default::default()
        };
        let mut presence = Presence {
            count: 1234,
            joins: 2,
            leaves: 1,
            joined: vec![member("alice"), member("bob\x1b[2J")],
            left: vec![member("carol")],
            complete: true,
            members: None,
        };
        assert_eq!(
            presence_summary(&presence),
            "alice and bob2J joined; carol left (1234 here)"
        );
        // Too many to name: the counts.
        presence.complete = false;
        presence.joined.clear();
        presence.left.clear();
        presence.joins = 37;
        assert_eq!(presence_summary(&presence), "37 joined, 1 left (1234 here)");
        // Came and went within one tick: nobody to name, the counts say it.
        presence.complete = true;
        assert_eq!(presence_summary(&presence), "37 joined, 1 left (1234 here)");
        // A member list alone tells nothing.
        presence.joins = 0;
        presence.leaves = 0;
        presence.members = Some(vec![member("alice")]);
        assert_eq!(presence_summary(&presence), "");
    }

    #[test]
    fn a_room_of_the_list_reads_with_its_members_activity_and_topic() {
        let info = RoomInfo {
            room: "#ops".into(),
            topic: Some("deploys\nonly".into()),
            members: 3,
            last_seq: 40,
            created: 0,
            last_active: 86_400_000 + 3_600_000,
            ..Default::default()
        };
        assert_eq!(
            room_row(&info, 0),
            "#ops (3 members, active 1970-01-02 01:00) deploys only"
        );
        let quiet = RoomInfo {
            topic: None,
            members: 1,
            ..info
        };
        assert_eq!(
            room_row(&quiet, 0),
            "#ops (1 member, active 1970-01-02 01:00)"
        );
    }

    #[test]
    fn a_run_of_joins_and_leaves_reads_as_one_short_line() {
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(presence(&names(&["alice"]), &[]), "alice joined");
        assert_eq!(
            presence(&names(&["alice", "bob"]), &names(&["carol"])),
            "alice and bob joined; carol left"
        );
        assert_eq!(
            presence(&names(&["alice", "bob", "carol", "dave", "erin"]), &[]),
            "alice, bob and 3 others joined"
        );
        assert_eq!(presence(&[], &names(&["a", "b", "c"])), "a, b and c left");
    }
}
