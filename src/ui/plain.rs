//! Plain mode for pipes, scripts and bots: lines from stdin are sent, events are printed to
//! stdout one per line (text or JSON), and the program ends when its input does, once every
//! line it sent has been acknowledged. It runs the same network worker as the TUI, so a
//! lost connection is followed by a reconnect and a catch-up, each told on stdout.

use anyhow::Context;
use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

mod format;
mod moderation;
mod own;

pub use self::format::format_event;
use self::format::{Notice, format_event_in};

use self::own::{MARK_EVERY, Marks, OwnLines};
use super::app::{AppEvent, NetEvent};
use super::command::{self, Command};
use super::event_text::{self, Reading, room_row};
use super::net::{Network, is_part};
use super::run::ConnectOptions;
use crate::domain::is_keyed_id;
use crate::rpc::types::{
    Event, EventKind, MemberInfo, RoomInfo, RoomJoined, SearchHit, SearchResult, Whois,
};
use crate::text::{clean_name, clean_text};
/// Writes events and notices to stdout, a line each.
struct Printer {
    json: bool,
    offset_secs: i64,
    out: tokio::io::Stdout,
}

impl Printer {
    async fn line(&mut self, line: String) -> anyhow::Result<()> {
        self.out.write_all(format!("{line}\n").as_bytes()).await?;
        self.out.flush().await.context("writing to stdout")
    }

    async fn event(&mut self, event: &Event, room: &str) -> anyhow::Result<()> {
        let line = if self.json {
            serde_json::to_string(event).expect("events serialize")
        } else {
            format_event_in(event, room, self.offset_secs)
        };
        self.line(line).await
    }

    /// What `/search` found, a line (or with `--json` an object) a hit, then how many.
    async fn hits(&mut self, query: &str, found: &SearchResult) -> anyhow::Result<()> {
        for hit in &found.hits {
            let line = if self.json {
                serde_json::to_string(&Notice::Hit { hit }).expect("notices serialize")
            } else {
                format::hit_line(hit, self.offset_secs)
            };
            self.line(line).await?;
        }
        let (hits, more) = (found.hits.len(), found.more);
        self.notice(Notice::Searched { query, hits, more }).await
    }

    async fn notice(&mut self, notice: Notice<'_>) -> anyhow::Result<()> {
        let line = if self.json {
            serde_json::to_string(&notice).expect("notices serialize")
        } else {
            let time =
                super::present::format_time(crate::rpc::types::unix_ms(), self.offset_secs, false);
            let text = clean_text(&notice.text(self.offset_secs)).replace('\n', " ");
            match notice.room() {
                Some(room) => format!("{room} {time} -!- {text}"),
                None => format!("{time} -!- {text}"),
            }
        };
        self.line(line).await
    }
}

/// Events buffered between the network worker and plain mode.
const EVENT_BUFFER: usize = 1024;

/// How plain mode prints and what it does besides.
#[derive(Debug, Clone, Copy, Default)]
pub struct Mode {
    /// Each event as a JSON object (`--json`).
    pub json: bool,
    /// Reconnect after a lost connection, rather than end with an error.
    pub reconnect: bool,
    /// Move the read markers over what is printed (`--mark-read`); otherwise plain mode
    /// leaves them alone.
    pub mark_read: bool,
}

/// Runs plain mode until stdin ends or says `/exit`. A failure to get in the first time
/// ends it with that error; so does a lost connection unless `reconnect`.
pub async fn run(options: ConnectOptions, mode: Mode) -> anyhow::Result<()> {
    let Mode {
        json,
        reconnect,
        mark_read,
    } = mode;
    let (events_tx, mut events) = mpsc::channel(EVENT_BUFFER);
    let to_loop = super::chatlog::tap(
        options.chat_log.as_deref(),
        &options.servers[0].url,
        events_tx,
    );
    let network = Network::spawn_patient(&options, to_loop);
    let mut printer = Printer {
        json,
        offset_secs: i64::from(chrono::Local::now().offset().local_minus_utc()),
        out: tokio::io::stdout(),
    };
    let mut lines = read_stdin();
    let mut state = State::default();
    let mut connected = false;
    let mut joined_once = false;
    // Our identities, one per session: our own lines are never printed, and a catch-up
    // after reconnecting replays those of the sessions before (a guest's, under an id of
    // their own; a key's, under the same id as its other terminals, whose lines are shown:
    // told apart from ours by the seqs ours were given).
    let mut own_ids = Vec::new();
    let mut own = OwnLines::default();
    let mut marks = Marks::default();
    let mut keyed = false;
    let mut tick = tokio::time::interval(MARK_EVERY);
    // A line handed to the worker and not yet answered: the next waits for it, and so
    // does the end.
    let mut awaiting = false;
    let mut input_done = false;
    let mut server_shown = None;
    let result = loop {
        if input_done && !awaiting {
            break Ok(());
        }
        tokio::select! {
            line = lines.recv(), if connected && !awaiting && !input_done => {
                let Some(line) = line.transpose().context("reading stdin")? else {
                    input_done = true;
                    continue;
                };
                match state.submit(&network, &line) {
                    Submitted::Sent => awaiting = true,
                    Submitted::Said { room, text } => {
                        own.said(room, text);
                        awaiting = true;
                    }
                    Submitted::Nothing => {}
                    Submitted::Quit => input_done = true,
                }
            }
            _ = tick.tick(), if mark_read => {
                for (room, seq) in marks.due(Some(tokio::time::Instant::now())) {
                    network.mark(&room, seq);
                }
            }
            event = events.recv() => {
                let Some(AppEvent::Net(event)) = event else { continue };
                match event {
                    NetEvent::Joined { result, resumed, reset } => {
                        if !joined_once {
                            // Told once in, beside what the session prints (a new identity).
                            for notice in &options.notices {
                                eprintln!("{}", clean_text(notice));
                            }
                        }
                        (connected, joined_once) = (true, true);
                        own_ids.push(result.id);
                        keyed = !result.guest;
                        if reset {
                            eprintln!("the server's history of {} was reset", clean_text(&result.room));
                        }
                        state.ignored.clone_from(&result.ignored);
                        state.entered(&result.room, true);
                        state.entered_at.insert(result.room.clone(), result.last_seq);
                        let name = clean_name(&result.name).unwrap_or_default();
                        printer.notice(Notice::Joined {
                            room: &clean_text(&result.room),
                            name: &name,
                            asked: options.name.as_deref(),
                            resumed,
                            members: result.members.len(),
                        }).await?;
                    }
                    NetEvent::Entered { joined, resumed, reset } => {
                        if reset {
                            eprintln!("the server's history of {} was reset", clean_text(&joined.room));
                        }
                        state.entered(&joined.room, false);
                        state.entered_at.insert(joined.room.clone(), joined.last_seq);
                        awaiting &= resumed;
                        match state.conversation(&joined) {
                            Some(peer) if !resumed => {
                                printer.notice(Notice::Conversation { room: &joined.room, peer: &peer }).await?;
                            }
                            Some(_) => {}
                            None => printer.notice(Notice::Entered {
                                room: &clean_text(&joined.room),
                                resumed,
                                members: joined.members.len(),
                            }).await?,
                        }
                    }
                    NetEvent::Opened(joined) => {
                        state.entered(&joined.room, false);
                        state.entered_at.insert(joined.room.clone(), joined.last_seq);
                        awaiting = false;
                        let peer = state.conversation(&joined).unwrap_or_default();
                        printer.notice(Notice::Conversation { room: &joined.room, peer: &peer }).await?;
                    }
                    NetEvent::Whois(whois) => {
                        printer.notice(Notice::Whois { whois: &whois }).await?;
                        awaiting = false;
                    }
                    NetEvent::Parted(room) => {
                        state.rooms.retain(|joined| *joined != room);
                        awaiting = false;
                        printer.notice(Notice::Parted { room: &clean_text(&room) }).await?;
                    }
                    // Told to us alone: another session of ours read a room (nothing to
                    // print), ignores someone, or we are invited.
                    NetEvent::Event(event) if !event.kind.is_stored() => {
                        if state.unstored(&event) {
                            printer.event(&event, &clean_text(&event.room)).await?;
                        }
                    }
                    NetEvent::Event(event) => {
                        let spoken = matches!(event.kind, EventKind::Message | EventKind::Action);
                        let mine = own_ids.last() == Some(&event.from.id);
                        let ours = own.seen(&event, mine)
                            || (spoken && !is_keyed_id(event.from.id) && own_ids.contains(&event.from.id));
                        if mine && state.parted_elsewhere(&event) {
                            state.rooms.retain(|joined| *joined != event.room);
                        }
                        state.renamed(&event);
                        let hidden = state.moderation_event(&event, own_ids.last().copied());
                        if !ours && !hidden {
                            printer.event(&event, &state.shown_room(&event.room)).await?;
                            if mark_read && keyed {
                                marks.printed(&event.room, event.seq);
                            }
                        }
                    }
                    NetEvent::Sent { room, seq, text, .. } => {
                        own.sent(room, seq, &text);
                        awaiting = false;
                    }
                    NetEvent::Failed { error, .. } => {
                        eprintln!("{}", clean_text(&error));
                        awaiting = false;
                    }
                    NetEvent::Renamed(name) => {
                        let name = clean_name(&name).unwrap_or_default();
                        printer.notice(Notice::Renamed { name: &name }).await?;
                        awaiting = false;
                    }
                    NetEvent::Members { room, members } => {
                        let room = clean_text(&room);
                        printer.notice(Notice::Members { room: &room, members: &members }).await?;
                        awaiting = false;
                    }
                    NetEvent::Topic { result, changed } => {
                        let (room, topic) = (clean_text(&result.room), result.topic.as_deref().map(clean_text));
                        let topic = topic.filter(|topic| !topic.is_empty());
                        printer.notice(Notice::Topic { room: &room, topic: topic.as_deref(), changed }).await?;
                        awaiting = false;
                    }
                    NetEvent::Rooms(rooms) => {
                        printer.notice(Notice::Rooms { rooms: &rooms }).await?;
                        awaiting = false;
                    }
                    NetEvent::AwayReply { room, name, message } => {
                        let text = event_text::moderation::away_reply(&name, &message);
                        let room = state.shown_room(&room);
                        printer.notice(Notice::Moderated { room: &room, text }).await?;
                    }
                    NetEvent::Moderated { room, what, outcome } => {
                        let text = state.moderated(&room, &what, &outcome);
                        printer.notice(Notice::Moderated { room: &clean_text(&room), text }).await?;
                        awaiting = false;
                    }
                    // Got in, but lost before the stream started: as for a lost connection.
                    NetEvent::Interrupted(reason) if !reconnect => {
                        break Err(anyhow::anyhow!("disconnected: {}", clean_text(&reason)));
                    }
                    NetEvent::Interrupted(reason) => {
                        joined_once = true;
                        own.lost();
                        if std::mem::take(&mut connected) {
                            printer.notice(Notice::Disconnected { reason: &clean_text(&reason) }).await?;
                        }
                    }
                    // Never in the room, or told the same by every retry: nothing to wait for.
                    NetEvent::Disconnected(reason) | NetEvent::Refused(reason) if !joined_once => {
                        break Err(anyhow::anyhow!("{}", clean_text(&reason)));
                    }
                    NetEvent::Refused(reason) => break Err(anyhow::anyhow!("{}", clean_text(&reason))),
                    NetEvent::Disconnected(reason) if !reconnect => {
                        break Err(anyhow::anyhow!("disconnected: {}", clean_text(&reason)));
                    }
                    // Told once per outage; each failed retry says it again.
                    NetEvent::Disconnected(reason) if connected => {
                        connected = false;
                        own.lost();
                        printer.notice(Notice::Disconnected { reason: &clean_text(&reason) }).await?;
                    }
                    NetEvent::Disconnected(_) => {}
                    NetEvent::PasswordNeeded { wrong } => {
                        break Err(anyhow::anyhow!(if wrong {
                            "wrong password"
                        } else {
                            "this server needs a password: give it with --password-file or CHATROOM_PASSWORD"
                        }));
                    }
                    // Told when it changes: the first time in, and on moving to another.
                    NetEvent::Server(server) if server_shown.as_ref() != Some(&server) => {
                        printer.notice(Notice::Server { server: &clean_text(&server) }).await?;
                        server_shown = Some(server);
                    }
                    // Before getting in: why an address did not do. Once in, an outage
                    // is told once, as with a single address.
                    NetEvent::TryingNext(reason) if !joined_once => {
                        eprintln!("{}; trying the next server", clean_text(&reason));
                    }
                    NetEvent::TryingNext(_) => {}
                    NetEvent::Reconnecting(_)
                    | NetEvent::Server(_)
                    | NetEvent::Older { .. }
                    | NetEvent::Newer { .. }
                    | NetEvent::Latest { .. }
                    | NetEvent::HistoryFailed { .. }
                    | NetEvent::Notified { .. } => {}
                    | NetEvent::Around { .. } => {}
                    NetEvent::SearchResults { query, result, .. } => {
                        printer.hits(&query, &result).await?;
                        awaiting = false;
                    }
                }
            }
        }
    };
    // What was printed last is read too: the marks go before the leave, in order.
    for (room, seq) in marks.due(None) {
        network.mark(&room, seq);
    }
    network.leave(state.quit_reason.take()).await;
    result
}

/// The lines of stdin, read on a thread of their own and handed over one at a time. tokio's
/// stdin reads on its blocking pool, which the runtime waits for when it shuts down: a
/// read that never ends (`tail -f /dev/null |`) would keep the process from exiting.
fn read_stdin() -> mpsc::Receiver<std::io::Result<String>> {
    use std::io::BufRead;
    let (lines, rx) = mpsc::channel(1);
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let failed = line.is_err();
            if lines.blocking_send(line).is_err() || failed {
                return;
            }
        }
    });
    rx
}

/// What handing a line to the worker came to.
#[derive(Debug, PartialEq, Eq)]
enum Submitted {
    /// Sent or asked for: an answer will come.
    Sent,
    /// Said in `room`: the answer will come, and the line may come back in a catch-up.
    Said {
        room: String,
        text: String,
    },
    Nothing,
    Quit,
}

/// What plain mode keeps between lines: the rooms it is in, the first of which its lines
/// go to, and the reason a `/quit` gave.
#[derive(Default)]
struct State {
    rooms: Vec<String>,
    quit_reason: Option<String>,
    /// The other identity of each conversation we are in, by room: id and name.
    peers: std::collections::HashMap<String, MemberInfo>,
    /// Each room's last seq when it was entered: what came before is from before.
    entered_at: std::collections::HashMap<String, u64>,
    /// Those whose messages are not printed (`/ignore`).
    ignored: Vec<MemberInfo>,
}

impl State {
    /// In `room`: `first` for the room the session joined, which lines go to unless it is
    /// parted.
    fn entered(&mut self, room: &str, first: bool) {
        if self.rooms.iter().any(|joined| joined == room) {
            return;
        }
        if first {
            self.rooms.insert(0, room.to_owned());
        } else {
            self.rooms.push(room.to_owned());
        }
    }

    /// Whether a leave of ours is another session's `/part` of the room: after we entered
    /// it (see [`is_part`]).
    fn parted_elsewhere(&self, event: &Event) -> bool {
        let entered_at = self.entered_at.get(&event.room).copied().unwrap_or(0);
        event.seq > entered_at && is_part(event)
    }

    /// For a conversation, notes its peer and gives the peer's name.
    fn conversation(&mut self, joined: &RoomJoined) -> Option<String> {
        let peer = joined.peer.clone()?;
        let name = event_text::shown_name(&peer.name);
        self.peers.insert(joined.room.clone(), peer);
        Some(name)
    }

    /// A peer that changed its name goes by the new one.
    fn renamed(&mut self, event: &Event) {
        if event.kind != EventKind::Nick {
            return;
        }
        for peer in self.peers.values_mut() {
            if peer.id == event.from.id {
                peer.name.clone_from(&event.from.name);
            }
        }
    }

    /// A room as a line names it: a conversation as `@peer`.
    fn shown_room(&self, room: &str) -> String {
        match self.peers.get(room) {
            Some(peer) => format!("@{}", event_text::shown_name(&peer.name)),
            None => clean_text(room),
        }
    }

    fn submit(&mut self, network: &Network, line: &str) -> Submitted {
        if line.trim().is_empty() {
            return Submitted::Nothing;
        }
        let refuse = |why: &str| {
            eprintln!("{why}");
            Submitted::Nothing
        };
        let Some(target) = self.rooms.first().cloned() else {
            return refuse("not in any room (/join #room)");
        };
        match command::parse(line) {
            Command::Say(text) => {
                network.send(&target, text.clone().into_owned());
                return Submitted::Said {
                    room: target,
                    text: text.into_owned(),
                };
            }
            Command::Me(text) if !text.is_empty() => {
                network.act(&target, text.to_owned());
                return Submitted::Said {
                    room: target,
                    text: text.to_owned(),
                };
            }
            Command::Nick(name) if !name.is_empty() => network.nick(name.to_owned()),
            Command::Who => network.who(&target),
            Command::Join(room) if room.len() > 1 => network.enter(&room),
            Command::Part { room, reason } => {
                let room = room.unwrap_or(target);
                if !self.rooms.contains(&room) {
                    return refuse(&format!("not in {room}"));
                }
                if self.rooms.len() == 1 {
                    return refuse("that is the only room you are in (/quit leaves the server)");
                }
                network.part(&room, reason.map(str::to_owned));
            }
            Command::Topic(topic) => network.topic(&target, topic.map(str::to_owned)),
            Command::List => network.rooms(),
            Command::Msg { to, text } if !to.is_empty() && !text.is_empty() => {
                network.msg(to, text.to_owned());
            }
            Command::Msg { .. } => return refuse("usage: /msg NAME TEXT"),
            Command::Query(name) if !name.is_empty() => network.query(name),
            Command::Query(_) => return refuse("usage: /query NAME"),
            Command::Whois(name) if !name.is_empty() => network.whois(name),
            Command::Whois(_) => return refuse("usage: /whois NAME"),
            Command::Search { query: "", .. } => {
                return refuse("usage: /search [-all] TEXT");
            }
            Command::Search { all, query } => network.search(&target, all, query.to_owned()),
            Command::Quit(reason) => {
                self.quit_reason = reason.map(str::to_owned);
                return Submitted::Quit;
            }
            Command::Me(_) => return refuse("usage: /me ACTION"),
            Command::Nick(_) => return refuse("usage: /nick NEW"),
            Command::Join(_) => return refuse("usage: /join #ROOM"),
            Command::Help => {
                return refuse(
                    "in plain mode: lines go to the first room; /me ACTION, /nick NEW, /who, \
                     /join #ROOM, /part [#ROOM] [REASON], /topic [TEXT], /list, \
                     /msg NAME TEXT, /query NAME, /whois NAME, /search [-all] TEXT, \
                     /quit [REASON]; \
                     moderating: /kick, /ban, /unban, /bans, /mute, /unmute, /op, /deop, \
                     /owner, /mode, /invite, /gban, /ungban, /gbans, /delete SEQ; \
                     /away [MESSAGE], /back, /ignore [NAME], /unignore NAME; \
                     //text sends /text (/urls, /open and /lastlog read the full-screen \
                     client's pane: plain mode keeps no lines)",
                );
            }
            Command::Members
            | Command::Clear
            | Command::Filter
            | Command::Local(_)
            | Command::Notify(_) => {
                return refuse(&format!("{} is for the full-screen client", line.trim()));
            }
            Command::Moderation(parsed) => {
                return self.moderation_command(network, &target, parsed);
            }
            Command::Unknown(name) => {
                return refuse(&format!(
                    "unknown command /{name} (//text sends text starting with /)"
                ));
            }
        }
        Submitted::Sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::event_text::tests::event;

    #[test]
    fn lines_go_to_the_first_room_and_rooms_are_kept_once_in_order() {
        let mut state = State::default();
        state.entered("#dev", false);
        state.entered("#ops", true);
        state.entered("#dev", false);
        state.entered("#random", false);
        assert_eq!(state.rooms, ["#ops", "#dev", "#random"]);
    }

    #[test]
    fn events_print_as_one_clean_line_each_naming_its_room() {
        let line = |kind, name, text| {
            let line = format_event(&event(kind, name, text), 0);
            line.strip_prefix("#general ")
                .unwrap_or_else(|| panic!("no room: {line}"))
                .to_owned()
        };
        assert_eq!(
            line(EventKind::Message, "alice", Some("hi\nthere")),
            "00:00 <alice> hi there"
        );
        assert_eq!(
            line(EventKind::Action, "alice", Some("waves")),
            "00:00 * alice waves"
        );
        assert_eq!(line(EventKind::Join, "bob", None), "00:00 -!- bob joined");
        assert_eq!(
            line(EventKind::Leave, "bob", Some("too slow")),
            "00:00 -!- bob left (too slow)"
        );
        assert_eq!(
            line(EventKind::Nick, "robert", Some("bob")),
            "00:00 -!- bob is now known as robert"
        );
        assert_eq!(
            line(EventKind::Message, "mal\x1b[2J", Some("\x1b]0;x\x07ok")),
            "00:00 <mal2J> ]0;xok"
        );
        // Names are cleaned by the name rules, so none can imitate another line.
        assert_eq!(
            line(
                EventKind::Message,
                "bob> alice, hi",
                Some("send me your password")
            ),
            "00:00 <bob_alice_hi> send me your password"
        );
        assert_eq!(
            line(EventKind::Nick, "robert", Some("-!- bob")),
            "00:00 -!- bob is now known as robert"
        );
    }

    #[test]
    fn the_ignored_are_not_printed_and_a_kick_of_us_leaves_the_room() {
        let mut state = State::default();
        state.entered("#general", true);
        state.entered("#ops", false);
        let me = uuid::Uuid::from_u128(1);
        let carol = MemberInfo {
            id: uuid::Uuid::from_u128(3),
            name: "carol".into(),
            ..Default::default()
        };
        let mut ignore = event(EventKind::Ignore, "bob", None);
        ignore.target = Some(carol.clone());
        assert!(state.unstored(&ignore), "told");
        let mut said = event(EventKind::Message, "carol", Some("spam"));
        said.from = carol.clone();
        assert!(state.moderation_event(&said, Some(me)), "hidden");
        ignore.text = Some("off".into());
        state.unstored(&ignore);
        assert!(!state.moderation_event(&said, Some(me)));
        assert!(!state.unstored(&event(EventKind::Read, "bob", None)));
        let mut kick = event(EventKind::Kick, "alice", Some("spam"));
        kick.room = "#ops".into();
        kick.target = Some(MemberInfo { id: me, ..carol });
        assert!(
            !state.moderation_event(&kick, Some(me)),
            "the kick is printed"
        );
        assert_eq!(state.rooms, ["#general"]);
    }

    #[test]
    fn a_leave_of_ours_is_a_part_elsewhere_only_after_we_entered_and_only_a_part() {
        let mut state = State::default();
        state.entered("#general", true);
        state.entered_at.insert("#general".into(), 5);
        let mut leave = event(EventKind::Leave, "bob", None);
        leave.seq = 5;
        assert!(!state.parted_elsewhere(&leave), "from before we came back");
        leave.seq = 6;
        leave.text = Some("server shutting down".into());
        assert!(!state.parted_elsewhere(&leave), "a session's end");
        leave.text = Some("Part: lunch".into());
        assert!(state.parted_elsewhere(&leave));
    }
}
