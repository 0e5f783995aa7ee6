//! How a room event reads as text, once, for the TUI's pane and plain mode's lines alike;
//! how a run of joins and leaves reads once collapsed into one line; and how a room of
//! `/list` reads.

use crate::rpc::types::{Event, EventKind, RoomInfo};
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

/// How `event` reads.
pub fn read(event: &Event) -> Reading {
    let from = shown_name(&event.from.name);
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
        // WIP(ident): the client helper decides how a read marker shows (it never does).
        EventKind::Read => Reading::Notice(String::new()),
        EventKind::Topic => Reading::Notice(match event.text.as_deref().map(clean_text) {
            Some(topic) if !topic.is_empty() => {
                format!("{from} changed the topic to: {topic}")
            }
            _ => format!("{from} cleared the topic"),
        }),
    }
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
            },
            text: text.map(str::to_owned),
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
    fn a_room_of_the_list_reads_with_its_members_activity_and_topic() {
        let info = RoomInfo {
            room: "#ops".into(),
            topic: Some("deploys\nonly".into()),
            members: 3,
            last_seq: 40,
            created: 0,
            last_active: 86_400_000 + 3_600_000,
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
