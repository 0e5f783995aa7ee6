//! The chat log on disk (`--chat-log DIR`): every room's and conversation's lines, worded
//! as the client words them, appended to `DIR/<server>/<room>/YYYY-MM-DD.log` in plain text
//! (irssi's and weechat's form), by a thread of its own so the screen never waits on the
//! disk. Each room's last logged seq is kept beside its logs, so neither a catch-up after a
//! reconnect nor a restart of the client writes a line twice.

use std::collections::{BTreeSet, HashMap};
use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone};
use tokio::sync::mpsc;

use super::event_text::{Reading, read_at};
use super::{AppEvent, NetEvent};
use crate::rpc::types::Event;
use crate::text::clean_text;

/// The time, for the log's days and times: injected, so a test can cross midnight.
pub trait Clock: Send + 'static {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
    /// Local time's offset from UTC at `at_ms`, in seconds.
    fn utc_offset_secs(&self, at_ms: u64) -> i64;
}

/// The machine's clock and time zone.
pub struct LocalClock;

impl Clock for LocalClock {
    fn now_ms(&self) -> u64 {
        crate::rpc::types::unix_ms()
    }

    fn utc_offset_secs(&self, at_ms: u64) -> i64 {
        let at = i64::try_from(at_ms).unwrap_or(i64::MAX);
        chrono::Local
            .timestamp_millis_opt(at)
            .earliest()
            .map_or(0, |time| i64::from(time.offset().local_minus_utc()))
    }
}

/// The file a room's last logged seq is kept in, beside its days' logs.
const LAST_SEQ_FILE: &str = "last-seq";

/// In-session seqs remembered above the floor before the floor is raised past them.
const SEEN_CAP: usize = 4096;

/// What the log is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// Lines of one room event (several for a message of several lines).
    Lines {
        room: String,
        seq: u64,
        ts: u64,
        lines: Vec<String>,
        /// Our own line, as its send was answered: it may be logged before an older event
        /// of someone else's, so it does not say that everything below it is logged.
        own: bool,
    },
    /// The server's history of `room` no longer matches (its seqs start again).
    Reset(String),
    /// The room's latest seq as the server gave it on entering: below what is logged
    /// already, the server's seqs started again (a new database, `--db :memory:`).
    Latest { room: String, seq: u64 },
}

/// `name` as one path component that stays where it is put: no `/`, no control
/// characters, never `.` or `..` or hidden, and not too long.
pub fn path_component(name: &str) -> String {
    let mut safe: String = name
        .chars()
        .map(|c| match c {
            '/' | '\\' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect();
    if safe.len() > 100 {
        let mut end = 100;
        while !safe.is_char_boundary(end) {
            end -= 1;
        }
        safe.truncate(end);
    }
    if safe.is_empty() || safe.starts_with('.') {
        safe.insert(0, '_');
    }
    safe
}

/// One room's file for the day, and what has been logged there.
struct RoomLog {
    dir: PathBuf,
    /// Seqs up to this are logged (kept on disk across restarts, with our own lines'
    /// seqs above it).
    floor: u64,
    /// Seqs above the floor logged (an answer to a send can come after a newer event from
    /// someone else).
    seen: BTreeSet<u64>,
    /// The newest seq logged from the room's events (not our own lines): events come in
    /// the room's order, so everything up to it has been seen.
    events_high: u64,
    file: Option<(String, BufWriter<File>)>,
    dirty: bool,
}

/// Writes entries to the files: the thread's work, callable directly in tests.
pub struct Writer {
    root: PathBuf,
    clock: Box<dyn Clock>,
    rooms: HashMap<String, RoomLog>,
}

impl Writer {
    /// Logs for `server` under `dir`.
    pub fn new(dir: &Path, server: &str, clock: Box<dyn Clock>) -> Self {
        Self {
            root: dir.join(path_component(server)),
            clock,
            rooms: HashMap::new(),
        }
    }

    fn room(&mut self, room: &str) -> io::Result<&mut RoomLog> {
        if !self.rooms.contains_key(room) {
            let dir = self.root.join(path_component(room));
            DirBuilder::new().recursive(true).mode(0o700).create(&dir)?;
            let (floor, seen) = match std::fs::read_to_string(dir.join(LAST_SEQ_FILE)) {
                Ok(text) => read_state(&text),
                Err(err) if err.kind() == io::ErrorKind::NotFound => (0, BTreeSet::new()),
                Err(err) => return Err(err),
            };
            let log = RoomLog {
                dir,
                floor,
                seen,
                events_high: floor,
                file: None,
                dirty: false,
            };
            self.rooms.insert(room.to_owned(), log);
        }
        Ok(self.rooms.get_mut(room).expect("just made"))
    }

    /// Appends `entry`'s lines unless its seq is logged already.
    pub fn write(&mut self, entry: Entry) -> io::Result<()> {
        let (room, seq, ts, lines, own) = match entry {
            Entry::Lines {
                room,
                seq,
                ts,
                lines,
                own,
            } => (room, seq, ts, lines, own),
            Entry::Reset(room) => {
                self.room(&room)?.reset();
                return Ok(());
            }
            Entry::Latest { room, seq } => {
                let log = self.room(&room)?;
                let logged = log.seen.last().copied().unwrap_or(0).max(log.floor);
                if seq < logged {
                    log.reset();
                }
                return Ok(());
            }
        };
        let offset = self.clock.utc_offset_secs(ts);
        let local = DateTime::from_timestamp_millis(i64::try_from(ts).unwrap_or(i64::MAX))
            .unwrap_or_default()
            .naive_utc()
            + chrono::Duration::seconds(offset);
        let day = local.format("%Y-%m-%d").to_string();
        let time = local.format("%H:%M:%S").to_string();
        let log = self.room(&room)?;
        if seq <= log.floor || !log.seen.insert(seq) {
            return Ok(());
        }
        if !own {
            log.events_high = log.events_high.max(seq);
        }
        while log.seen.len() > SEEN_CAP {
            log.floor = log.seen.pop_first().expect("not empty");
        }
        if log.file.as_ref().is_none_or(|(open, _)| *open != day) {
            if let Some((_, mut old)) = log.file.take() {
                old.flush()?;
            }
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(log.dir.join(format!("{day}.log")))?;
            log.file = Some((day, BufWriter::new(file)));
        }
        let (_, file) = log.file.as_mut().expect("just opened");
        for line in lines {
            writeln!(file, "{time} {line}")?;
        }
        log.dirty = true;
        Ok(())
    }

    /// Puts what was written on disk, and each room's last logged seq beside it.
    pub fn flush(&mut self) -> io::Result<()> {
        for log in self.rooms.values_mut().filter(|log| log.dirty) {
            if let Some((_, file)) = &mut log.file {
                file.flush()?;
            }
            // Everything up to the newest event is logged; our own lines above it are
            // kept by seq, so that an older event arriving after a restart is still
            // logged and our line is not logged again.
            let last = log.events_high.max(log.floor);
            let own: Vec<String> = log.seen.range(last + 1..).map(u64::to_string).collect();
            let state = log.dir.join(LAST_SEQ_FILE);
            let fresh = log.dir.join(format!("{LAST_SEQ_FILE}.new"));
            let mut file = OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(true)
                .mode(0o600)
                .open(&fresh)?;
            writeln!(file, "{last}")?;
            if !own.is_empty() {
                writeln!(file, "{}", own.join(" "))?;
            }
            std::fs::rename(&fresh, &state)?;
            log.dirty = false;
        }
        Ok(())
    }
}

impl RoomLog {
    /// The server's seqs start again: nothing of the new numbering is logged yet.
    fn reset(&mut self) {
        (self.floor, self.events_high, self.dirty) = (0, 0, true);
        self.seen.clear();
    }
}

/// A room's `last-seq` file: the seq everything up to is logged, then (on a second line)
/// the seqs of our own lines logged above it.
fn read_state(text: &str) -> (u64, BTreeSet<u64>) {
    let mut lines = text.lines();
    let floor = lines
        .next()
        .and_then(|line| line.trim().parse().ok())
        .unwrap_or(0);
    let own = lines
        .next()
        .unwrap_or("")
        .split_whitespace()
        .filter_map(|seq| seq.parse().ok())
        .filter(|&seq| seq > floor)
        .take(SEEN_CAP)
        .collect();
    (floor, own)
}

/// How the log words events, from what the network worker reports.
pub struct Wording {
    /// Our name as the pane shows it, for our own messages (they come back as
    /// [`NetEvent::Sent`]).
    me: String,
    /// Whether we joined as a guest: our name is marked as the others see it.
    guest: bool,
}

impl Default for Wording {
    fn default() -> Self {
        Self {
            me: "?".into(),
            guest: false,
        }
    }
}

impl Wording {
    /// `name` as the log shows ours, as [`super::event_text::shown_member`] shows anyone's.
    fn named(&self, name: &str) -> String {
        let name = super::event_text::shown_name(name);
        if self.guest {
            format!("{}{name}", super::event_text::GUEST_MARK)
        } else {
            name
        }
    }

    /// What `event` adds to the log, now being `now` (ms since the epoch).
    pub fn entries(&mut self, event: &NetEvent, now: u64) -> Vec<Entry> {
        let history = |room: &str, events: &[Event], reset: bool| {
            let reset = reset.then(|| Entry::Reset(room.to_owned()));
            reset
                .into_iter()
                .chain(events.iter().filter_map(|e| event_entry(e, now)))
                .collect()
        };
        // On entering, the room's latest seq first: it tells a server whose seqs started
        // again from one that is where it was.
        let entered = |room: &str, last_seq: u64, events: &[Event], reset: bool| {
            let latest = Entry::Latest {
                room: room.to_owned(),
                seq: last_seq,
            };
            std::iter::once(latest)
                .chain(history(room, events, reset))
                .collect()
        };
        match event {
            NetEvent::Joined { result, reset, .. } => {
                self.guest = result.guest;
                self.me = self.named(&result.name);
                entered(&result.room, result.last_seq, &result.history, *reset)
            }
            NetEvent::Entered { joined, reset, .. } => {
                entered(&joined.room, joined.last_seq, &joined.history, *reset)
            }
            NetEvent::Opened(joined) => {
                entered(&joined.room, joined.last_seq, &joined.history, false)
            }
            NetEvent::Renamed(name) => {
                self.me = self.named(name);
                Vec::new()
            }
            NetEvent::Event(event) => event_entry(event, now).into_iter().collect(),
            NetEvent::Newer { room, events } | NetEvent::Latest { room, events } => {
                history(room, events, false)
            }
            NetEvent::Sent {
                room,
                seq,
                text,
                action,
                ts,
                ..
            } => {
                let me = &self.me;
                let lines = clean_text(text)
                    .lines()
                    .map(|line| match action {
                        true => format!("* {me} {line}"),
                        false => format!("<{me}> {line}"),
                    })
                    .collect();
                vec![Entry::Lines {
                    room: room.clone(),
                    seq: *seq,
                    ts: *ts,
                    lines,
                    own: true,
                }]
            }
            _ => Vec::new(),
        }
    }
}

/// A room event's lines, worded as the pane words it; none for what is not a room event
/// of its own (told to one identity, or a large room's summed-up presence).
fn event_entry(event: &Event, now: u64) -> Option<Entry> {
    if !event.kind.is_stored() {
        return None;
    }
    let lines = match read_at(event, now) {
        Reading::Said { from, text } => each_line(&text, |l| format!("<{from}> {l}")),
        Reading::Acted { from, text } => each_line(&text, |l| format!("* {from} {l}")),
        Reading::Notice(text) => each_line(&text, |l| format!("-!- {l}")),
    };
    Some(Entry::Lines {
        room: event.room.clone(),
        seq: event.seq,
        ts: event.ts,
        lines,
        own: false,
    })
}

fn each_line(text: &str, line: impl Fn(&str) -> String) -> Vec<String> {
    let lines: Vec<String> = text.lines().map(&line).collect();
    if lines.is_empty() {
        vec![line("")]
    } else {
        lines
    }
}

/// The log's thread, fed entries; dropping it writes what is left and waits for that.
pub struct ChatLog {
    entries: Option<std::sync::mpsc::Sender<Entry>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ChatLog {
    /// Starts the thread writing `writer`'s files; `report` is told the first failure to
    /// write, once, and the chat goes on.
    pub fn spawn(mut writer: Writer, report: impl FnOnce(String) + Send + 'static) -> Self {
        let (entries, rx) = std::sync::mpsc::channel::<Entry>();
        let mut report = Some(report);
        let thread = std::thread::spawn(move || {
            let mut failed = |err: io::Error| {
                tracing::warn!(error = %err, "cannot write the chat log");
                if let Some(report) = report.take() {
                    report(format!("cannot write the chat log: {err}"));
                }
            };
            while let Ok(entry) = rx.recv() {
                // Everything waiting, then one flush for the lot.
                for entry in std::iter::once(entry).chain(rx.try_iter()) {
                    if let Err(err) = writer.write(entry) {
                        failed(err);
                    }
                }
                if let Err(err) = writer.flush() {
                    failed(err);
                }
            }
        });
        Self {
            entries: Some(entries),
            thread: Some(thread),
        }
    }

    pub fn log(&self, entry: Entry) {
        if let Some(entries) = &self.entries {
            let _ = entries.send(entry);
        }
    }
}

impl Drop for ChatLog {
    fn drop(&mut self) {
        self.entries.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Puts the chat log between the network worker and the event loop: what the worker sends
/// to the returned sender is logged, then passed on to `events`. With no `dir`, `events`
/// itself. The logs go under the server's `host:port` (of its `url`). A failure to write
/// reaches the loop as a [`NetEvent::Failed`].
pub fn tap(
    dir: Option<&Path>,
    url: &str,
    events: mpsc::Sender<AppEvent>,
) -> mpsc::Sender<AppEvent> {
    let Some(dir) = dir else { return events };
    let server = match url::Url::parse(url) {
        Ok(url) => match (url.host_str(), url.port_or_known_default()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            _ => url.to_string(),
        },
        Err(_) => url.to_owned(),
    };
    let server = server.as_str();
    let (tx, mut rx) = mpsc::channel::<AppEvent>(events.max_capacity());
    let told = events.clone();
    let log = ChatLog::spawn(
        Writer::new(dir, server, Box::new(LocalClock)),
        move |error| {
            let failed = NetEvent::Failed { room: None, error };
            let _ = told.try_send(AppEvent::Net(failed));
        },
    );
    tokio::spawn(async move {
        let mut wording = Wording::default();
        while let Some(event) = rx.recv().await {
            if let AppEvent::Net(net) = &event {
                for entry in wording.entries(net, LocalClock.now_ms()) {
                    log.log(entry);
                }
            }
            if events.send(event).await.is_err() {
                break;
            }
        }
        // Dropping `log` (here, or when the runtime ends) waits for its last writes.
    });
    tx
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::types::{EventKind, MemberInfo};

    /// A clock standing still, in a zone `offset` seconds east of UTC.
    struct Fixed {
        offset: i64,
    }

    impl Clock for Fixed {
        fn now_ms(&self) -> u64 {
            0
        }
        fn utc_offset_secs(&self, _: u64) -> i64 {
            self.offset
        }
    }

    struct Dir(PathBuf);

    impl Dir {
        fn new() -> Self {
            let path =
                std::env::temp_dir().join(format!("chatroom-chatlog-{}", uuid::Uuid::new_v4()));
            Self(path)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// 2026-12-01 23:59:58 UTC, in ms.
    const LATE: u64 = 1_796_169_598_000;

    fn said(room: &str, seq: u64, ts: u64, from: &str, text: &str) -> NetEvent {
        NetEvent::Event(Event {
            room: room.into(),
            seq,
            ts,
            kind: EventKind::Message,
            from: MemberInfo {
                name: from.into(),
                ..Default::default()
            },
            text: Some(text.into()),
            ..Default::default()
        })
    }

    fn writer(dir: &Dir, offset: i64) -> Writer {
        Writer::new(&dir.0, "127.0.0.1:7777", Box::new(Fixed { offset }))
    }

    fn log_all(writer: &mut Writer, events: &[NetEvent]) {
        let mut wording = Wording::default();
        for event in events {
            for entry in wording.entries(event, 0) {
                writer.write(entry).unwrap();
            }
        }
        writer.flush().unwrap();
    }

    fn read(dir: &Dir, room: &str, day: &str) -> String {
        std::fs::read_to_string(
            dir.0
                .join("127.0.0.1:7777")
                .join(room)
                .join(format!("{day}.log")),
        )
        .unwrap_or_default()
    }

    #[test]
    fn lines_read_as_the_client_words_them() {
        let dir = Dir::new();
        let mut action = said("#ops", 2, LATE, "bob", "waves");
        if let NetEvent::Event(event) = &mut action {
            event.kind = EventKind::Action;
        }
        let mut join = said("#ops", 3, LATE, "carol", "");
        if let NetEvent::Event(event) = &mut join {
            (event.kind, event.text) = (EventKind::Join, None);
        }
        let events = [
            said("#ops", 1, LATE, "alice", "hello\nsecond line\u{1b}[31m"),
            action,
            join,
        ];
        log_all(&mut writer(&dir, 0), &events);
        assert_eq!(
            read(&dir, "#ops", "2026-12-01"),
            "23:59:58 <alice> hello\n23:59:58 <alice> second line[31m\n\
             23:59:58 * bob waves\n23:59:58 -!- carol joined\n"
        );
    }

    #[test]
    fn a_replayed_event_is_not_written_again_in_the_session_or_after_a_restart() {
        let dir = Dir::new();
        let first = [
            said("#ops", 1, LATE, "alice", "one"),
            said("#ops", 2, LATE, "alice", "two"),
        ];
        let mut log = writer(&dir, 0);
        log_all(&mut log, &first);
        // A reconnect's catch-up replays what was seen, then what was missed.
        let catch_up = [
            said("#ops", 2, LATE, "alice", "two"),
            said("#ops", 3, LATE, "alice", "three"),
        ];
        log_all(&mut log, &catch_up);
        drop(log);
        // The client started again: its history comes once more.
        let restart = [
            said("#ops", 1, LATE, "alice", "one"),
            said("#ops", 3, LATE, "alice", "three"),
            said("#ops", 4, LATE, "alice", "four"),
        ];
        log_all(&mut writer(&dir, 0), &restart);
        let text = read(&dir, "#ops", "2026-12-01");
        let said: Vec<&str> = text.lines().map(|l| &l[9..]).collect();
        assert_eq!(
            said,
            [
                "<alice> one",
                "<alice> two",
                "<alice> three",
                "<alice> four"
            ]
        );
    }

    fn entered(room: &str, last_seq: u64, guest: bool) -> NetEvent {
        NetEvent::Joined {
            result: Box::new(crate::rpc::types::JoinResult {
                room: room.into(),
                name: "bob".into(),
                guest,
                last_seq,
                ..Default::default()
            }),
            resumed: false,
            reset: false,
        }
    }

    fn sent(room: &str, seq: u64, text: &str) -> NetEvent {
        NetEvent::Sent {
            room: room.into(),
            seq,
            text: text.into(),
            latency_ms: 1,
            action: false,
            ts: LATE,
        }
    }

    fn said_lines(dir: &Dir) -> Vec<String> {
        read(dir, "#ops", "2026-12-01")
            .lines()
            .map(|l| l[9..].to_owned())
            .collect()
    }

    #[test]
    fn a_server_whose_seqs_started_again_is_logged_from_its_first_line() {
        let dir = Dir::new();
        let before: Vec<NetEvent> = std::iter::once(entered("#ops", 0, false))
            .chain((1..=5).map(|seq| said("#ops", seq, LATE, "alice", &format!("old {seq}"))))
            .collect();
        log_all(&mut writer(&dir, 0), &before);
        // The client started again, on a server with a new database: its seqs are lower
        // than what was logged.
        let after = [
            entered("#ops", 1, false),
            said("#ops", 1, LATE, "alice", "new 1"),
            said("#ops", 2, LATE, "alice", "new 2"),
        ];
        log_all(&mut writer(&dir, 0), &after);
        let lines = said_lines(&dir);
        assert_eq!(&lines[5..], ["<alice> new 1", "<alice> new 2"], "{lines:?}");
        // The same server, where it was: nothing logged twice.
        log_all(
            &mut writer(&dir, 0),
            &[
                entered("#ops", 2, false),
                said("#ops", 2, LATE, "alice", "new 2"),
            ],
        );
        assert_eq!(said_lines(&dir).len(), 7);
    }

    #[test]
    fn an_older_event_after_our_own_line_is_still_logged_after_a_restart() {
        let dir = Dir::new();
        // Our send was stored as 100 while alice's 99 was still on its way; the client
        // stops before 99 comes.
        log_all(
            &mut writer(&dir, 0),
            &[entered("#ops", 98, false), sent("#ops", 100, "mine")],
        );
        // Started again: the catch-up brings 99, then our own 100 (an identity's replay
        // holds its own lines).
        log_all(
            &mut writer(&dir, 0),
            &[
                entered("#ops", 100, false),
                said("#ops", 99, LATE, "alice", "hers"),
                said("#ops", 100, LATE, "bob", "mine"),
            ],
        );
        assert_eq!(said_lines(&dir), ["<bob> mine", "<alice> hers"]);
    }

    #[test]
    fn a_guests_own_lines_carry_its_mark_as_its_echo_would() {
        let dir = Dir::new();
        log_all(
            &mut writer(&dir, 0),
            &[entered("#ops", 0, true), sent("#ops", 1, "hi")],
        );
        assert_eq!(said_lines(&dir), ["<~bob> hi"]);
    }

    #[test]
    fn our_own_message_is_logged_once_even_when_its_answer_comes_after_a_newer_event() {
        let dir = Dir::new();
        let joined = NetEvent::Renamed("bob".into());
        let sent = NetEvent::Sent {
            room: "#ops".into(),
            seq: 5,
            text: "mine".into(),
            latency_ms: 1,
            action: false,
            ts: LATE,
        };
        let events = [
            joined,
            said("#ops", 6, LATE, "alice", "theirs"),
            sent.clone(),
            sent,
        ];
        log_all(&mut writer(&dir, 0), &events);
        let text = read(&dir, "#ops", "2026-12-01");
        assert_eq!(text, "23:59:58 <alice> theirs\n23:59:58 <bob> mine\n");
    }

    #[test]
    fn the_log_rotates_at_local_midnight() {
        let dir = Dir::new();
        let events = [
            said("#ops", 1, LATE, "alice", "before"),
            said("#ops", 2, LATE + 3_000, "alice", "after"),
        ];
        log_all(&mut writer(&dir, 0), &events);
        assert_eq!(
            read(&dir, "#ops", "2026-12-01"),
            "23:59:58 <alice> before\n"
        );
        assert_eq!(read(&dir, "#ops", "2026-12-02"), "00:00:01 <alice> after\n");
        // Two hours west of UTC, midnight has not come yet.
        let west = Dir::new();
        log_all(&mut writer(&west, -7200), &events);
        assert_eq!(
            read(&west, "#ops", "2026-12-01"),
            "21:59:58 <alice> before\n22:00:01 <alice> after\n"
        );
    }

    #[test]
    fn a_reset_room_logs_its_new_seqs() {
        let dir = Dir::new();
        log_all(
            &mut writer(&dir, 0),
            &[said("#ops", 7, LATE, "alice", "old")],
        );
        let mut log = writer(&dir, 0);
        log.write(Entry::Reset("#ops".into())).unwrap();
        log_all(&mut log, &[said("#ops", 1, LATE, "alice", "new")]);
        assert!(read(&dir, "#ops", "2026-12-01").ends_with("<alice> new\n"));
    }

    #[test]
    fn hostile_room_and_server_names_stay_inside_the_directory() {
        let dir = Dir::new();
        let mut log = Writer::new(&dir.0, "../../etc", Box::new(Fixed { offset: 0 }));
        let rooms = ["..", "../../x", ".hidden", "a/b", "\u{7}\n", "", "ok"];
        let events: Vec<NetEvent> = rooms
            .iter()
            .map(|room| said(room, 1, LATE, "alice", "hi"))
            .collect();
        log_all(&mut log, &events);
        let mut files = Vec::new();
        let mut dirs = vec![dir.0.clone()];
        while let Some(at) = dirs.pop() {
            for entry in std::fs::read_dir(&at).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "log") {
                    files.push(path);
                }
            }
        }
        assert_eq!(files.len(), rooms.len(), "{files:?}");
        let root = dir.0.canonicalize().unwrap();
        for file in &files {
            let file = file.canonicalize().unwrap();
            assert!(file.starts_with(&root), "{}", file.display());
            assert_eq!(file.components().count(), root.components().count() + 3);
        }
        assert_eq!(path_component(".."), "_..");
        assert_eq!(path_component("a/b\0c"), "a_b_c");
        assert!(path_component(&"x".repeat(500)).len() <= 100);
    }

    #[test]
    fn directories_are_private_and_files_too() {
        use std::os::unix::fs::PermissionsExt;
        let dir = Dir::new();
        log_all(
            &mut writer(&dir, 0),
            &[said("#ops", 1, LATE, "alice", "hi")],
        );
        let room = dir.0.join("127.0.0.1:7777/#ops");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&room), 0o700);
        assert_eq!(mode(room.parent().unwrap()), 0o700);
        assert_eq!(mode(&room.join("2026-12-01.log")), 0o600);
        assert_eq!(mode(&room.join(LAST_SEQ_FILE)), 0o600);
    }

    #[test]
    fn a_write_failure_is_reported_once_and_the_log_goes_on() {
        let dir = Dir::new();
        std::fs::create_dir_all(&dir.0).unwrap();
        // A file where the server's directory would be: nothing can be written under it.
        std::fs::write(dir.0.join("127.0.0.1:7777"), "").unwrap();
        let (told, reports) = std::sync::mpsc::channel();
        let log = ChatLog::spawn(writer(&dir, 0), move |error| told.send(error).unwrap());
        let mut wording = Wording::default();
        for seq in 1..=3 {
            for entry in wording.entries(&said("#ops", seq, LATE, "a", "x"), 0) {
                log.log(entry);
            }
        }
        drop(log);
        let reports: Vec<String> = reports.try_iter().collect();
        assert_eq!(reports.len(), 1, "{reports:?}");
        assert!(
            reports[0].starts_with("cannot write the chat log: "),
            "{}",
            reports[0]
        );
    }
}
