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
    // An address is banned for a guest.
    if ban.address.is_some() {
        who.insert_str(0, super::GUEST_MARK);
    }
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

/// What a direct message's sender is told of a recipient away: "bob is away: lunch".
pub fn away_reply(name: &str, message: &str) -> String {
    format!(
        "{} is away: {}",
        shown_name(name),
        clean_text(message).replace('\n', " ")
    )
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::types::{ModeResult, Moderated, Role};
    use crate::ui::event_text::tests::event;
    use crate::ui::event_text::{Reading, read_at};

    const NOW: u64 = 1_000_000_000;

    fn member(name: &str, id: u128) -> MemberInfo {
        MemberInfo {
            id: Uuid::from_u128(id),
            name: name.into(),
            ..Default::default()
        }
    }

    use uuid::Uuid;

    /// An event of `kind` from alice, done to bob.
    fn done_to_bob(kind: EventKind, text: Option<&str>, until: Option<u64>) -> String {
        let mut event = event(kind, "alice", text);
        event.target = Some(member("bob", 2));
        event.until = until;
        match read_at(&event, NOW) {
            Reading::Notice(text) => text,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_moderation_event_reads_as_a_notice() {
        use EventKind::*;
        assert_eq!(
            done_to_bob(Kick, Some("spam\x1b[2J"), None),
            "bob was kicked by alice (spam[2J)"
        );
        assert_eq!(done_to_bob(Kick, None, None), "bob was kicked by alice");
        assert_eq!(
            done_to_bob(Ban, Some("flood"), Some(NOW + 2 * 3_600_000 - 5)),
            "alice banned bob for 2h (flood)"
        );
        assert_eq!(done_to_bob(Ban, None, None), "alice banned bob for ever");
        assert_eq!(
            done_to_bob(Ban, None, Some(NOW - 1)),
            "alice banned bob (now over)"
        );
        assert_eq!(
            done_to_bob(Unban, None, None),
            "alice lifted the ban on bob"
        );
        assert_eq!(
            done_to_bob(Mute, None, Some(NOW + 600_000)),
            "alice muted bob for 10m"
        );
        assert_eq!(
            done_to_bob(Mute, None, None),
            "alice muted bob until unmuted"
        );
        assert_eq!(done_to_bob(Unmute, None, None), "alice unmuted bob");
        assert_eq!(
            done_to_bob(Role, Some("op"), None),
            "alice made bob an operator"
        );
        assert_eq!(
            done_to_bob(Role, Some("owner"), None),
            "alice made bob the owner"
        );
        assert_eq!(
            done_to_bob(Role, None, None),
            "alice took operator from bob"
        );
        assert_eq!(done_to_bob(Mode, Some("+i-t"), None), "alice set mode +i-t");
        assert_eq!(done_to_bob(Invite, None, None), "alice invited bob");
        assert_eq!(
            done_to_bob(Gban, Some("spam"), None),
            "alice banned bob from the server for ever (spam)"
        );
        assert_eq!(
            done_to_bob(Delete, None, None),
            "alice deleted a message of bob"
        );
        assert_eq!(done_to_bob(Deleted, None, None), "alice: message deleted");
        assert_eq!(
            done_to_bob(Away, Some("lunch"), None),
            "alice is away: lunch"
        );
        assert_eq!(done_to_bob(Away, None, None), "alice is back");
        assert_eq!(done_to_bob(Ignore, None, None), "you now ignore bob");
        assert_eq!(
            done_to_bob(Ignore, Some("off"), None),
            "you no longer ignore bob"
        );
        let mut invited = event(Invited, "alice", None);
        invited.room = "#ops".into();
        assert_eq!(
            done_to_bob_event(&invited),
            "alice invites you to #ops — /join #ops"
        );
        // The handing over's second event: the old owner is an operator now.
        let mut old_owner = event(Role, "alice", Some("op"));
        old_owner.target = Some(old_owner.from.clone());
        assert_eq!(done_to_bob_event(&old_owner), "alice is now an operator");
    }

    fn done_to_bob_event(event: &Event) -> String {
        match read_at(event, NOW) {
            Reading::Notice(text) => text,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn being_put_out_says_who_did_it_and_why() {
        let me = Uuid::from_u128(2);
        let mut kick = event(EventKind::Kick, "alice", Some("spam"));
        kick.target = Some(member("bob", 2));
        assert!(puts_out(&kick, me));
        assert!(!puts_out(&kick, Uuid::from_u128(3)), "someone else's kick");
        assert_eq!(
            put_out_text(&kick, "#x", NOW),
            "You were kicked from #x by alice: spam"
        );
        let mut ban = kick.clone();
        (ban.kind, ban.text, ban.until) = (EventKind::Ban, None, Some(NOW + 3_600_000));
        assert_eq!(
            put_out_text(&ban, "#x", NOW),
            "You were banned from #x by alice for 1h"
        );
        ban.kind = EventKind::Gban;
        assert!(puts_out(&ban, me));
        assert_eq!(
            put_out_text(&ban, "#x", NOW),
            "You were banned from the server by alice for 1h"
        );
        let mut mute = kick;
        mute.kind = EventKind::Mute;
        assert!(!puts_out(&mute, me), "a mute leaves us in the room");
    }

    fn ban(name: &str, until: Option<u64>, reason: Option<&str>) -> BanInfo {
        BanInfo {
            name: name.into(),
            fingerprint: Some("SHA256:abc".into()),
            id: Some(Uuid::from_u128(2)),
            address: None,
            until,
            reason: reason.map(str::to_owned),
            by: "alice".into(),
            at: 0,
        }
    }

    #[test]
    fn the_answers_to_our_own_requests_read_as_one_line() {
        let text = |what: Moderation, outcome: Outcome| outcome_text("#ops", &what, &outcome, NOW);
        let done = || {
            Outcome::Done(Moderated {
                room: "#ops".into(),
                seq: 9,
            })
        };
        assert_eq!(
            text(
                Moderation::Kick {
                    name: "bob".into(),
                    reason: Some("spam".into())
                },
                done()
            ),
            "you kicked bob from #ops (spam)"
        );
        let banned = Outcome::Ban(ban("bob", Some(NOW + 600_000), Some("flood")));
        let ban_bob = Moderation::Ban {
            target: "bob".into(),
            duration_secs: Some(600),
            reason: Some("flood".into()),
        };
        assert_eq!(
            text(ban_bob, banned.clone()),
            "you banned bob from #ops for 10m (flood)"
        );
        assert_eq!(
            text(Moderation::Unban("bob".into()), banned.clone()),
            "you lifted the ban on bob in #ops"
        );
        let mute = Moderation::Mute {
            name: "bob".into(),
            duration_secs: None,
        };
        assert_eq!(
            text(mute, Outcome::Ban(ban("bob", None, None))),
            "you muted bob in #ops until /unmute"
        );
        assert_eq!(
            text(Moderation::Unmute("bob".into()), banned.clone()),
            "you unmuted bob in #ops"
        );
        let gban = Moderation::Gban {
            target: "bob".into(),
            duration_secs: None,
            reason: None,
        };
        assert_eq!(
            text(gban, Outcome::Ban(ban("bob", None, None))),
            "you banned bob from the server for ever"
        );
        assert_eq!(
            text(Moderation::Ungban("bob".into()), banned.clone()),
            "you lifted the server ban on bob"
        );
        assert_eq!(
            text(Moderation::Bans, Outcome::Bans(Vec::new())),
            "no bans in #ops"
        );
        assert_eq!(
            text(
                Moderation::Gbans,
                Outcome::Bans(vec![ban("bob", None, Some("spam"))])
            ),
            "1 ban on the server:\nbob (SHA256:abc) for ever by alice (spam)"
        );
        let role = |role| Moderation::Role {
            name: "bob".into(),
            role,
        };
        assert_eq!(
            text(role(Some(Role::Op)), done()),
            "you made bob an operator of #ops"
        );
        assert_eq!(
            text(role(Some(Role::Owner)), done()),
            "you made bob the owner of #ops"
        );
        assert_eq!(
            text(role(None), done()),
            "you took operator from bob in #ops"
        );
        let modes = |modes: &str| {
            Outcome::Modes(ModeResult {
                room: "#ops".into(),
                modes: modes.into(),
            })
        };
        assert_eq!(
            text(Moderation::Mode(None), modes("+it")),
            "the modes of #ops are +it (invite only, topic locked)"
        );
        assert_eq!(
            text(Moderation::Mode(None), modes("+")),
            "the modes of #ops are + (none set)"
        );
        assert_eq!(
            text(Moderation::Mode(Some("+s".into())), modes("+s")),
            "you set mode +s in #ops: now +s"
        );
        let invite = Moderation::Invite {
            name: "bob".into(),
            room: None,
        };
        assert_eq!(text(invite, done()), "you invited bob to #ops");
        assert_eq!(text(Moderation::Delete(9), done()), "you deleted message 9");
        assert_eq!(
            text(Moderation::Away(Some("lunch".into())), Outcome::Away),
            "you are marked away: lunch"
        );
        assert_eq!(text(Moderation::Away(None), Outcome::Away), "you are back");
        let ignore = |on| Moderation::Ignore {
            name: "bob".into(),
            on,
        };
        assert_eq!(
            text(ignore(true), Outcome::Ignored(vec![member("bob", 2)])),
            "you now ignore bob; ignoring: bob"
        );
        assert_eq!(
            text(ignore(false), Outcome::Ignored(Vec::new())),
            "you no longer ignore bob; ignoring nobody"
        );
    }

    #[test]
    fn whois_tells_roles_away_and_server_operators() {
        let whois = crate::rpc::types::Whois {
            name: "alice".into(),
            fingerprint: Some("SHA256:abc".into()),
            online: true,
            sessions: 1,
            rooms: vec!["#general".into(), "#ops".into()],
            away: Some("lunch".into()),
            server_op: true,
            roles: [("#ops".to_owned(), Role::Owner)].into(),
            ..Default::default()
        };
        assert_eq!(
            crate::ui::event_text::whois(&whois, 0),
            [
                "alice: key SHA256:abc; a server operator",
                "online, 1 session, away: lunch",
                "rooms: #general, #ops (owner)"
            ]
        );
    }

    #[test]
    fn a_message_to_someone_away_says_so() {
        assert_eq!(
            away_reply("bob", "lunch\nback at 2"),
            "bob is away: lunch back at 2"
        );
    }

    #[test]
    fn a_ban_row_names_the_key_or_the_address() {
        let mut guest = ban("guest-1", Some(NOW + 90_000), None);
        (guest.fingerprint, guest.id, guest.address) = (None, None, Some("10.0.0.7".into()));
        assert_eq!(
            ban_row(&guest, NOW),
            "~guest-1 (address 10.0.0.7) for 2m by alice"
        );
    }
}
