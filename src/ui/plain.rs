//! Plain mode for pipes, scripts and bots: lines from stdin are sent, events are printed to
//! stdout one per line (text or JSON), and the program ends when its input does, once every
//! line it sent has been acknowledged. It runs the same network worker as the TUI, so a
//! lost connection is followed by a reconnect and a catch-up, each told on stdout.

use anyhow::Context;
use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use super::app::{AppEvent, NetEvent};
use super::command::{self, Command};
use super::net::Network;
use super::run::ConnectOptions;
use crate::rpc::types::{Event, EventKind, MemberInfo};
use crate::text::{clean_name, clean_text};
/// How one event reads as a line of text, times in local time (`offset_secs` from UTC).
pub fn format_event(event: &Event, offset_secs: i64) -> String {
    let time = super::present::format_time(event.ts, offset_secs, false);
    let who = clean_name(&event.from.name).unwrap_or_else(|| "?".into());
    let text = clean_text(event.text.as_deref().unwrap_or("")).replace('\n', " ");
    match event.kind {
        EventKind::Nick => {
            let old = event.text.as_deref().and_then(clean_name);
            let old = old.unwrap_or_else(|| "?".into());
            format!("{time} -!- {old} is now known as {who}")
        }
        EventKind::Message => format!("{time} <{who}> {text}"),
        EventKind::Action => format!("{time} * {who} {text}"),
        EventKind::Join => format!("{time} -!- {who} joined"),
        EventKind::Leave if text.is_empty() => format!("{time} -!- {who} left"),
        EventKind::Leave => format!("{time} -!- {who} left ({text})"),
        EventKind::System => format!("{time} -!- {who}: {text}"),
        EventKind::Topic => format!("{time} -!- {who} changed the topic to: {text}"),
    }
}

/// What plain mode tells about the client itself, beside the room's events: in `--json`
/// output, objects with a `client` field (room events have `kind` instead).
#[derive(Debug, Serialize)]
#[serde(tag = "client", rename_all = "lowercase")]
enum Notice<'a> {
    /// In the room, under `name` (`asked` is the name asked for); `resumed` after a
    /// reconnect, whose catch-up follows.
    Joined {
        name: &'a str,
        asked: Option<&'a str>,
        resumed: bool,
        members: usize,
    },
    /// The connection was lost; reconnecting.
    Disconnected { reason: &'a str },
    /// `/who`.
    Members { members: &'a [MemberInfo] },
    /// Our own `/nick`.
    Renamed { name: &'a str },
}

impl Notice<'_> {
    fn text(&self) -> String {
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
            Notice::Disconnected { reason } => format!("disconnected: {reason}; reconnecting"),
            Notice::Members { members } => {
                let names: Vec<String> = members
                    .iter()
                    .map(|m| clean_name(&m.name).unwrap_or_else(|| "?".into()))
                    .collect();
                format!("{} here: {}", names.len(), names.join(", "))
            }
            Notice::Renamed { name } => format!("you are now known as {name}"),
        }
    }
}

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

    async fn event(&mut self, event: &Event) -> anyhow::Result<()> {
        let line = if self.json {
            serde_json::to_string(event).expect("events serialize")
        } else {
            format_event(event, self.offset_secs)
        };
        self.line(line).await
    }

    async fn notice(&mut self, notice: Notice<'_>) -> anyhow::Result<()> {
        let line = if self.json {
            serde_json::to_string(&notice).expect("notices serialize")
        } else {
            let time =
                super::present::format_time(crate::rpc::types::unix_ms(), self.offset_secs, false);
            format!("{time} -!- {}", clean_text(&notice.text()))
        };
        self.line(line).await
    }
}

/// Events buffered between the network worker and plain mode.
const EVENT_BUFFER: usize = 1024;

/// Runs plain mode until stdin ends or says `/exit`. A failure to get in the first time
/// ends it with that error; so does a lost connection unless `reconnect`.
pub async fn run(options: ConnectOptions, json: bool, reconnect: bool) -> anyhow::Result<()> {
    let (events_tx, mut events) = mpsc::channel(EVENT_BUFFER);
    let network = Network::spawn_patient(&options, events_tx);
    let mut printer = Printer {
        json,
        offset_secs: i64::from(chrono::Local::now().offset().local_minus_utc()),
        out: tokio::io::stdout(),
    };
    let mut lines = read_stdin();
    let mut connected = false;
    let mut joined_once = false;
    // Our identities, one per session: our own lines are never printed, and a catch-up
    // after reconnecting replays those of the sessions before.
    let mut own_ids = Vec::new();
    // A line handed to the worker and not yet answered: the next waits for it, and so
    // does the end.
    let mut awaiting = false;
    let mut input_done = false;
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
                match submit(&network, &line) {
                    Submitted::Sent => awaiting = true,
                    Submitted::Nothing => {}
                    Submitted::Quit => input_done = true,
                }
            }
            event = events.recv() => {
                let Some(AppEvent::Net(event)) = event else { continue };
                match event {
                    NetEvent::Joined { result, resumed, reset } => {
                        (connected, joined_once) = (true, true);
                        own_ids.push(result.id);
                        if reset {
                            eprintln!("the server's history was reset");
                        }
                        let name = clean_name(&result.name).unwrap_or_default();
                        printer.notice(Notice::Joined {
                            name: &name,
                            asked: options.name.as_deref(),
                            resumed,
                            members: result.members.len(),
                        }).await?;
                    }
                    NetEvent::Event(event) => {
                        let spoken = matches!(event.kind, EventKind::Message | EventKind::Action);
                        if !(spoken && own_ids.contains(&event.from.id)) {
                            printer.event(&event).await?;
                        }
                    }
                    NetEvent::Sent { .. } => awaiting = false,
                    NetEvent::SendFailed { error } => {
                        eprintln!("not sent: {}", clean_text(&error));
                        awaiting = false;
                    }
                    NetEvent::Renamed(name) => {
                        let name = clean_name(&name).unwrap_or_default();
                        printer.notice(Notice::Renamed { name: &name }).await?;
                        awaiting = false;
                    }
                    NetEvent::Members(members) => {
                        printer.notice(Notice::Members { members: &members }).await?;
                        awaiting = false;
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
                        printer.notice(Notice::Disconnected { reason: &clean_text(&reason) }).await?;
                    }
                    NetEvent::Disconnected(_) => {}
                    NetEvent::PasswordNeeded { wrong } => {
                        break Err(anyhow::anyhow!(if wrong {
                            "wrong password"
                        } else {
                            "this room needs a password: give it with --password-file or CHATROOM_PASSWORD"
                        }));
                    }
                    NetEvent::Reconnecting(_)
                    | NetEvent::Older(_)
                    | NetEvent::Newer(_)
                    | NetEvent::Latest(_)
                    | NetEvent::HistoryFailed(_) => {}
                }
            }
        }
    };
    network.leave().await;
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
enum Submitted {
    /// Sent or asked for: an answer will come.
    Sent,
    Nothing,
    Quit,
}

fn submit(network: &Network, line: &str) -> Submitted {
    if line.trim().is_empty() {
        return Submitted::Nothing;
    }
    match command::parse(line) {
        Command::Say(text) => network.send(text.into_owned()),
        Command::Me(text) if !text.is_empty() => network.act(text.to_owned()),
        Command::Nick(name) if !name.is_empty() => network.nick(name.to_owned()),
        Command::Who => network.who(),
        Command::Quit => return Submitted::Quit,
        Command::Me(_) => {
            eprintln!("usage: /me ACTION");
            return Submitted::Nothing;
        }
        Command::Nick(_) => {
            eprintln!("usage: /nick NEW");
            return Submitted::Nothing;
        }
        Command::Help => {
            eprintln!("in plain mode: /me ACTION, /nick NEW, /who, /quit; //text sends /text");
            return Submitted::Nothing;
        }
        Command::Members | Command::Clear => {
            eprintln!("{} is for the full-screen client", line.trim());
            return Submitted::Nothing;
        }
        Command::Unknown(name) => {
            eprintln!("unknown command /{name} (//text sends text starting with /)");
            return Submitted::Nothing;
        }
    }
    Submitted::Sent
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::types::MemberInfo;
    use uuid::Uuid;

    fn event(kind: EventKind, name: &str, text: Option<&str>) -> Event {
        Event {
            room: "#general".into(),
            seq: 1,
            ts: 0,
            kind,
            from: MemberInfo {
                id: Uuid::nil(),
                name: name.into(),
            },
            text: text.map(str::to_owned),
        }
    }

    #[test]
    fn events_print_as_one_clean_line_each() {
        let line = |kind, name, text| format_event(&event(kind, name, text), 0);
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
}
