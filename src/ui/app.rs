//! The client's state and how it changes. Nothing here touches the terminal or the network:
//! key handling returns an [`Action`] for the event loop to carry out. This file holds the
//! types and [`App`] itself; how each kind of input changes it is in the submodules.

mod commands;
mod completion;
#[cfg(test)]
pub(crate) mod ident_tests;
#[cfg(test)]
mod keymap_tests;
mod keys;
mod local;
mod marks;
mod members;
mod moderation;
#[cfg(test)]
mod moderation_tests;
mod notify;
#[cfg(test)]
mod notify_tests;
mod pane;
#[cfg(test)]
mod presence_tests;
mod reduce;
mod rooms;
pub mod search;
mod select;

use self::completion::Completion;
pub use self::notify::Notifications;
pub use self::pane::{Pane, ScrollPos, View};
pub(crate) use self::reduce::mentions;
#[cfg(test)]
pub(crate) use self::rooms::tests as room_tests;
pub use self::rooms::{CONVERSATION_MARK, MARK_EVERY, QUIET_MS, Room};
use super::command::Moderation;
use super::input::InputLine;
use crate::rpc::types::{Event, JoinResult, MemberInfo, RoomInfo, RoomJoined, TopicResult, Whois};

/// Lines kept in the message pane unless told otherwise (`--scrollback`); beyond them the
/// pane is a window onto the room's stored history, fetched again as it is scrolled.
pub const DEFAULT_SCROLLBACK: usize = 10_000;

/// Everything that can happen to the client, from the terminal or the network, on one channel.
// Most of what comes is the network's, room events above all: boxing them would allocate
// for each one to spare the few terminal events some bytes.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum AppEvent {
    Terminal(crossterm::event::Event),
    Net(NetEvent),
    /// Asked to stop from outside (SIGTERM, SIGHUP): leave as if the user had quit.
    Stop,
}

/// What the network worker reports. Whatever happened in or to one room names it.
#[derive(Debug, Clone, PartialEq)]
pub enum NetEvent {
    /// In the server, and in the first room; `resumed` after a reconnect, when the stream
    /// replays what was missed.
    Joined {
        result: Box<JoinResult>,
        resumed: bool,
        /// The server's history of that room no longer matches what is on screen (reset).
        reset: bool,
    },
    /// In another room: one entered with `/join`, or (`resumed`) again after a reconnect.
    Entered {
        joined: RoomJoined,
        resumed: bool,
        reset: bool,
    },
    /// In a conversation we asked for (`/query`): it comes into view.
    Opened(Box<RoomJoined>),
    /// Out of a room, as asked.
    Parted(String),
    /// Something that happened in a room (`event.room`).
    Event(Event),
    /// Our own message (a `/me` line with `action`) was accepted in `room` with this seq,
    /// `latency_ms` after it was sent, at `ts` (Unix ms, our clock).
    Sent {
        room: String,
        seq: u64,
        text: String,
        latency_ms: u64,
        action: bool,
        ts: u64,
    },
    /// Our name is now this.
    Renamed(String),
    /// A command was refused or could not be carried out; `room` is the room it was for.
    Failed { room: Option<String>, error: String },
    /// The connection or session is gone, or could not be had; the reason is for the user.
    Disconnected(String),
    /// In the server, but the connection went before every room was entered and the
    /// stream started; trying again, as after [`NetEvent::Disconnected`].
    Interrupted(String),
    /// Getting in failed in a way trying again would not change (a reserved name, a
    /// certificate not trusted, an unknown host at first); the worker has stopped trying.
    Refused(String),
    /// Trying again in this many seconds.
    Reconnecting(u64),
    /// Getting in failed at one of several addresses, for this reason; the next is tried at
    /// once (a round of them all failed is [`NetEvent::Disconnected`]).
    TryingNext(String),
    /// On this one of several addresses (as the user gave it), told before
    /// [`NetEvent::Joined`] each time the worker gets in, when given more than one.
    Server(String),
    /// Everyone in a room, as the server answered [`super::net::Network::who`].
    Members {
        room: String,
        members: Vec<MemberInfo>,
    },
    /// Every room on the server (`/list`).
    Rooms(Vec<RoomInfo>),
    /// Who a member is (`/whois`).
    Whois(Box<Whois>),
    /// A room's topic, as asked for or (`changed`) as we just set it.
    Topic { result: TopicResult, changed: bool },
    /// Older history of a room, asked for by scrolling to the top; empty when there is no more.
    Older { room: String, events: Vec<Event> },
    /// Newer history, asked for by scrolling down a pane that no longer reaches the live end.
    Newer { room: String, events: Vec<Event> },
    /// The latest history, asked for to go back to live (End) from such a pane.
    Latest { room: String, events: Vec<Event> },
    /// A page of a room's history could not be had this time.
    HistoryFailed { room: String, error: String },
    /// The server needs a password (`wrong`: the one given was not it); the worker waits for
    /// [`Action::Password`].
    PasswordNeeded { wrong: bool },
    /// The member a direct message went to (`/msg NAME`) is away, with this message; told
    /// with the first message sent to it while it is.
    AwayReply {
        room: String,
        name: String,
        message: String,
    },
    /// A moderation, away or ignore request was carried out in `room`.
    Moderated {
        room: String,
        what: Moderation,
        outcome: Box<crate::ui::net::Outcome>,
    },
    /// The server set our notification level in `room` (`/notify LEVEL`).
    Notified {
        room: String,
        level: crate::rpc::types::NotifyLevel,
    },
    /// What `/search` found: in `room`, or (`all`) everywhere we can read.
    SearchResults {
        room: String,
        all: bool,
        query: String,
        result: Box<crate::rpc::types::SearchResult>,
    },
    /// A room's history around `seq`, asked for to jump to that line from a search.
    Around {
        room: String,
        seq: u64,
        events: Vec<Event>,
    },
}

/// What the event loop should do after a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    None,
    /// Say this in a room.
    Send {
        room: String,
        text: String,
    },
    /// A `/me` line in a room.
    SendAction {
        room: String,
        text: String,
    },
    /// Ask for a new name.
    Nick(String),
    /// `/join`: enter a room.
    Enter(String),
    /// `/part`: leave a room, telling the others why.
    Part {
        room: String,
        reason: Option<String>,
    },
    /// `/topic`: show a room's topic, or (`Some`) set it.
    Topic {
        room: String,
        topic: Option<String>,
    },
    /// `/list`: ask for every room.
    ListRooms,
    /// `/msg`: a direct message to the identity that owns a name.
    Msg {
        to: String,
        text: String,
    },
    /// `/query`: open the conversation with the identity that owns a name.
    Query(String),
    /// `/whois`: who a member is.
    Whois(String),
    /// A moderation, away or ignore request, in `room`.
    Moderate {
        room: String,
        what: Moderation,
    },
    /// Try joining with this password.
    Password(String),
    /// Ctrl-L: paint the whole screen again, whatever the terminal shows now.
    Redraw,
    /// Leave the server, the reason shown in every room.
    Quit(Option<String>),
    /// `/open N`: open this link with the system's opener.
    Open(String),
    /// `/notify LEVEL`: set this identity's notification level in a room.
    Notify {
        room: String,
        level: crate::rpc::types::NotifyLevel,
    },
    /// `/search`: search a room's history, or (`all`) everything we can read.
    Search {
        room: String,
        all: bool,
        query: String,
    },
}

/// When to ring the terminal bell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Bell {
    Off,
    /// When someone names you.
    Mention,
    /// For every message from someone else.
    All,
}

/// How much of each line's time to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Timestamps {
    Off,
    /// `HH:MM`
    Time,
    /// `YYYY-MM-DD HH:MM`
    Datetime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    Connecting,
    Connected,
    Disconnected(String),
    /// Lost, and trying again in this many seconds.
    Reconnecting(u64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineKind {
    /// Something a member said; `own` marks our own lines.
    Message {
        from: String,
        own: bool,
    },
    /// A `/me` line: `* alice waves`.
    Action {
        from: String,
        own: bool,
    },
    /// Joins, leaves and other room news.
    Notice,
    /// A run of joins and leaves, collapsed into one line.
    Presence {
        joined: Vec<String>,
        left: Vec<String>,
    },
    /// The "new messages" line: where the user last looked at the room.
    Separator,
    /// A message that was deleted: who wrote it; the text says it is gone.
    Deleted {
        from: String,
    },
    /// Local feedback: help text, command output.
    Info,
    Error,
}

/// One entry in the message pane; its text may hold newlines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatLine {
    /// The room seq, for lines that came from the room; keeps the pane in room order.
    pub seq: Option<u64>,
    /// When it happened, Unix milliseconds; none for the client's own notes.
    pub ts: Option<u64>,
    /// Someone else's line that names us.
    pub mentions_me: bool,
    pub kind: LineKind,
    pub text: String,
}

impl ChatLine {
    /// The "new messages" line.
    pub fn separator() -> Self {
        Self {
            seq: None,
            ts: None,
            mentions_me: false,
            kind: LineKind::Separator,
            text: "new messages".into(),
        }
    }
}

/// The most the input holds; a longer paste is cut (the server's limit is far lower).
pub const MAX_INPUT_BYTES: usize = 64 * 1024;

pub struct App {
    /// The server as the user named it, for the status line: of several, the one the
    /// client is on (the first, until another answers).
    pub server: String,
    pub me: Option<MemberInfo>,
    pub connection: Connection,
    /// The rooms we are in, in the order of the room list. Never empty: before the first
    /// join, one room without a name holds the client's own notes.
    pub rooms: Vec<Room>,
    /// Which of `rooms` is in view.
    pub current: usize,
    pub input: InputLine,
    /// Rows one PageUp moves; the event loop keeps it matched to the terminal.
    pub page_rows: usize,
    /// Lines each room's pane keeps; see [`DEFAULT_SCROLLBACK`].
    pub scrollback: usize,
    /// The input is the server's password, typed masked, not a message.
    pub asking_password: bool,
    /// Lines submitted this session, oldest first, for Up/Down.
    sent_history: Vec<String>,
    /// Where Up/Down has got to in `sent_history`, and what was being typed before.
    recalling: Option<(usize, String)>,
    completion: Option<Completion>,
    /// The rooms the last `/list` showed, for Tab completion of room names.
    listed_rooms: Vec<String>,
    /// Whether the member list is shown (when the terminal is wide enough).
    pub show_members: bool,
    /// Whether the room list is shown (F3).
    pub show_rooms: bool,
    /// The smart filter (`/filter`): hide the joins and leaves of those who have not
    /// spoken lately.
    pub smart_filter: bool,
    /// A room `/join` asked for: it comes into view once entered.
    joining: Option<String>,
    /// Events of the room being joined that came before the answer to joining did: the
    /// server delivers what was on its way to the disk when we entered, and the answer only
    /// after. Shown once the room is there.
    early_events: Vec<Event>,
    /// The terminal's width in columns; the event loop keeps it matched, so that F2 can
    /// say when there is no room for the member list.
    pub columns: u16,
    /// The name last asked for (`--name`, `/nick`), to say why the server gave another.
    pub wanted_name: Option<String>,
    /// The last failure to connect and how many times in a row it happened, while its
    /// line is the newest in the pane: a retry that fails the same way updates that line.
    failure: Option<(String, u32)>,
    /// How long the server took to acknowledge our last message.
    pub last_send_ms: Option<u64>,
    pub timestamps: Timestamps,
    pub bell: Bell,
    /// A bell is due; the event loop rings it and clears this.
    pub ring_bell: bool,
    /// Local time's offset from UTC, in seconds, taken once at start so drawing stays a
    /// pure function of state.
    pub utc_offset_secs: i64,
    pub should_quit: bool,
    /// Those whose messages are hidden (`/ignore`), as the server keeps the list.
    pub ignored: Vec<MemberInfo>,
    /// `/delete` alone: the seq of the message picked in the pane in view.
    pub selecting: Option<u64>,
    /// The colours to draw with.
    pub theme: super::theme::Theme,
    /// The local day it is (days since 1970-01-01), as the event loop's clock last said
    /// (see [`super::days`]); unknown, no line shows its date in `time` mode.
    pub today: Option<i64>,
    /// The keys that move between rooms and through the pane (the config file's `[keys]`).
    pub keymap: super::keymap::Keymap,
    /// Focus, `/notify` levels, and the notification and title due.
    pub notify: Notifications,
    /// `/search`: its results view, a jump to a hit on its way, the line jumped to.
    pub search: search::Search,
}

impl App {
    pub fn new(server: impl Into<String>) -> Self {
        Self {
            server: server.into(),
            me: None,
            connection: Connection::Connecting,
            rooms: vec![Room::new(String::new(), DEFAULT_SCROLLBACK)],
            current: 0,
            input: InputLine::default(),
            page_rows: 10,
            scrollback: DEFAULT_SCROLLBACK,
            asking_password: false,
            sent_history: Vec::new(),
            recalling: None,
            completion: None,
            listed_rooms: Vec::new(),
            show_members: true,
            show_rooms: true,
            smart_filter: true,
            joining: None,
            early_events: Vec::new(),
            columns: u16::MAX,
            wanted_name: None,
            failure: None,
            last_send_ms: None,
            timestamps: Timestamps::Time,
            bell: Bell::Off,
            ring_bell: false,
            utc_offset_secs: 0,
            should_quit: false,
            ignored: Vec::new(),
            selecting: None,
            theme: super::theme::Theme::default(),
            today: None,
            keymap: super::keymap::Keymap::default(),
            notify: Notifications::default(),
            search: search::Search::default(),
        }
    }

    /// Sets how many lines each pane keeps.
    pub fn set_scrollback(&mut self, lines: usize) {
        self.scrollback = lines.max(1);
        for room in &mut self.rooms {
            room.pane.scrollback = self.scrollback;
        }
    }

    /// Whether the view of the room in view is scrolled up.
    pub fn scrolled(&self) -> bool {
        self.pane().scrolled()
    }

    /// The page of history the room in view wants from the top of its pane, if any.
    pub fn wants_older(&mut self) -> Option<crate::ui::net::Page> {
        let connected = self.connection == Connection::Connected;
        self.pane_mut().wants_older(connected)
    }

    /// The page of history the room in view wants below its pane, if any.
    pub fn wants_newer(&mut self) -> Option<crate::ui::net::Page> {
        let connected = self.connection == Connection::Connected;
        self.pane_mut().wants_newer(connected)
    }

    /// A note from the client itself, shown in the pane.
    pub fn inform(&mut self, text: String) {
        self.push_local(LineKind::Info, text);
    }

    /// A note of the client's own in the room in view.
    fn push_local(&mut self, kind: LineKind, text: String) {
        let at = self.current;
        self.push_local_in(at, kind, text);
    }

    fn push_local_in(&mut self, at: usize, kind: LineKind, text: String) {
        self.rooms[at].pane.push(ChatLine {
            seq: None,
            ts: None,
            mentions_me: false,
            kind,
            text,
        });
    }
}

#[cfg(test)]
mod tests {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};
    use uuid::Uuid;

    use super::keys::WHEEL_ROWS;
    use super::room_tests::texts;
    use super::*;
    use crate::rpc::types::EventKind;
    use crate::ui::net::Page;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn ctrl(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
    }

    fn type_str(app: &mut App, s: &str) {
        for c in s.chars() {
            assert_eq!(app.handle_key(key(KeyCode::Char(c))), Action::None);
        }
    }

    fn member(name: &str) -> MemberInfo {
        MemberInfo {
            id: Uuid::new_v4(),
            name: name.into(),
            guest: false,
            ..Default::default()
        }
    }

    /// bob joins (or rejoins) a room holding `members`, with `history` up to `last_seq`.
    fn bob_joins(
        members: Vec<MemberInfo>,
        last_seq: u64,
        history: Vec<Event>,
        resumed: bool,
        reset: bool,
    ) -> NetEvent {
        NetEvent::Joined {
            result: Box::new(JoinResult {
                protocol: 2,
                room: "#general".into(),
                topic: None,
                session: "s".into(),
                id: Uuid::new_v4(),
                name: "bob".into(),
                members,
                last_seq,
                history,
                ..Default::default()
            }),
            resumed,
            reset,
        }
    }

    fn joined_app() -> App {
        let mut app = App::new("127.0.0.1:7777");
        app.handle_net(bob_joins(
            vec![member("alice"), member("bob")],
            0,
            Vec::new(),
            false,
            false,
        ));
        app
    }

    fn message(seq: u64, from: &MemberInfo, text: &str) -> NetEvent {
        NetEvent::Event(Event {
            room: "#general".into(),
            seq,
            ts: 0,
            kind: EventKind::Message,
            from: from.clone(),
            text: Some(text.into()),
            ..Default::default()
        })
    }

    #[test]
    fn enter_sends_the_typed_line_and_clears_the_input() {
        let mut app = joined_app();
        type_str(&mut app, "hello");
        assert_eq!(
            app.handle_key(key(KeyCode::Enter)),
            Action::Send {
                room: "#general".into(),
                text: "hello".into(),
            }
        );
        assert!(app.input.is_empty());
    }

    #[test]
    fn enter_on_a_blank_line_sends_nothing() {
        let mut app = joined_app();
        type_str(&mut app, "   ");
        assert_eq!(app.handle_key(key(KeyCode::Enter)), Action::None);
    }

    #[test]
    fn quit_commands_and_keys() {
        for command in ["/quit", "/exit"] {
            let mut app = joined_app();
            type_str(&mut app, command);
            assert_eq!(app.handle_key(key(KeyCode::Enter)), Action::Quit(None));
        }
        assert_eq!(joined_app().handle_key(ctrl('c')), Action::Quit(None));
        assert_eq!(joined_app().handle_key(ctrl('d')), Action::Quit(None));
    }

    #[test]
    fn ctrl_d_with_text_deletes_instead_of_quitting() {
        let mut app = joined_app();
        type_str(&mut app, "ab");
        app.handle_key(key(KeyCode::Home));
        assert_eq!(app.handle_key(ctrl('d')), Action::None);
        assert_eq!(app.input.text(), "b");
    }

    #[test]
    fn unknown_command_is_a_local_error_never_sent() {
        let mut app = joined_app();
        type_str(&mut app, "/frobnicate now");
        assert_eq!(app.handle_key(key(KeyCode::Enter)), Action::None);
        let last = app.pane().lines.back().unwrap();
        assert_eq!(last.kind, LineKind::Error);
        assert!(last.text.contains("/frobnicate"));
    }

    #[test]
    fn double_slash_sends_a_line_starting_with_slash() {
        let mut app = joined_app();
        type_str(&mut app, "//shrug");
        assert_eq!(
            app.handle_key(key(KeyCode::Enter)),
            Action::Send {
                room: "#general".into(),
                text: "/shrug".into(),
            }
        );
    }

    #[test]
    fn sending_while_disconnected_is_refused_locally() {
        let mut app = App::new("x:1");
        type_str(&mut app, "hello");
        assert_eq!(app.handle_key(key(KeyCode::Enter)), Action::None);
        assert_eq!(app.pane().lines.back().unwrap().kind, LineKind::Error);
    }

    #[test]
    fn members_follow_join_and_leave_events() {
        let mut app = joined_app();
        app.smart_filter = false;
        let carol = member("carol");
        app.handle_net(NetEvent::Event(Event {
            room: "#general".into(),
            seq: 5,
            ts: 0,
            kind: EventKind::Join,
            from: carol.clone(),
            text: None,
            ..Default::default()
        }));
        assert_eq!(app.room().members.len(), 3);
        app.handle_net(NetEvent::Event(Event {
            room: "#general".into(),
            seq: 6,
            ts: 0,
            kind: EventKind::Leave,
            from: carol,
            text: Some("connection closed".into()),
            ..Default::default()
        }));
        assert_eq!(app.room().members.len(), 2);
        assert_eq!(
            app.pane().lines.back().unwrap().text,
            "carol left (connection closed)"
        );
    }

    #[test]
    fn own_message_is_shown_in_room_order_when_acknowledged() {
        let mut app = joined_app();
        let alice = member("alice");
        app.handle_net(message(10, &alice, "ten"));
        app.handle_net(message(12, &alice, "twelve"));
        app.handle_net(NetEvent::Sent {
            room: "#general".into(),
            seq: 11,
            text: "eleven".into(),
            latency_ms: 7,
            action: false,
            ts: 0,
        });
        let texts: Vec<&str> = app
            .pane()
            .lines
            .iter()
            .skip(1)
            .map(|l| l.text.as_str())
            .collect();
        assert_eq!(texts, ["ten", "eleven", "twelve"]);
        assert_eq!(
            app.pane().lines[2].kind,
            LineKind::Message {
                from: "bob".into(),
                own: true
            }
        );
    }

    #[test]
    fn received_text_is_cleaned_again_before_display() {
        let mut app = joined_app();
        let mallory = member("mal\x1b[2Jlory");
        app.handle_net(message(3, &mallory, "\x1b]0;pwned\x07hi"));
        let last = app.pane().lines.back().unwrap();
        assert_eq!(last.text, "]0;pwnedhi");
        assert_eq!(
            last.kind,
            LineKind::Message {
                from: "mal2Jlory".into(),
                own: false
            }
        );
    }

    #[test]
    fn scrollback_is_capped() {
        let mut app = joined_app();
        let alice = member("alice");
        for seq in 0..(DEFAULT_SCROLLBACK as u64 + 5) {
            app.handle_net(message(seq + 10, &alice, "x"));
        }
        assert_eq!(app.pane().lines.len(), DEFAULT_SCROLLBACK);
    }

    #[test]
    fn page_keys_scroll_and_sending_returns_to_live() {
        let mut app = joined_app();
        app.handle_key(key(KeyCode::PageUp));
        app.handle_key(key(KeyCode::PageUp));
        assert_eq!(app.pane().scroll_by, 20);
        app.handle_key(key(KeyCode::PageDown));
        assert_eq!(app.pane().scroll_by, 10);
        type_str(&mut app, "hi");
        app.handle_key(key(KeyCode::Enter));
        assert!(!app.scrolled());
    }

    fn event(seq: u64, kind: EventKind, from: &MemberInfo, text: Option<&str>) -> Event {
        Event {
            room: "#general".into(),
            seq,
            ts: 0,
            kind,
            from: from.clone(),
            text: text.map(str::to_owned),
            ..Default::default()
        }
    }

    #[test]
    fn joining_shows_the_history_before_the_welcome() {
        let alice = member("alice");
        let mut app = App::new("x:1");
        app.smart_filter = false;
        app.handle_net(bob_joins(
            vec![alice.clone()],
            2,
            vec![
                event(1, EventKind::Join, &alice, None),
                event(2, EventKind::Message, &alice, Some("earlier")),
            ],
            false,
            false,
        ));
        let texts: Vec<&str> = app.pane().lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts[..2], ["alice joined", "earlier"]);
        assert!(texts[2].starts_with("you joined"));
    }

    #[test]
    fn a_replay_after_reconnecting_shows_each_event_once() {
        let mut app = joined_app();
        let alice = member("alice");
        app.handle_net(message(10, &alice, "before the drop"));
        app.handle_net(NetEvent::Sent {
            room: "#general".into(),
            seq: 11,
            text: "mine".into(),
            latency_ms: 7,
            action: false,
            ts: 0,
        });
        app.handle_net(NetEvent::Disconnected("connection closed".into()));
        app.handle_net(NetEvent::Reconnecting(2));
        assert_eq!(app.connection, Connection::Reconnecting(2));
        app.handle_net(bob_joins(
            vec![alice.clone()],
            12,
            vec![event(
                11,
                EventKind::Message,
                &alice,
                Some("history is ignored"),
            )],
            true,
            false,
        ));
        // The replay repeats our own message and brings what we missed.
        app.handle_net(message(11, &member("bob"), "mine"));
        app.handle_net(message(12, &alice, "while you were away"));
        let room: Vec<&str> = app
            .pane()
            .lines
            .iter()
            .filter(|l| l.seq.is_some())
            .map(|l| l.text.as_str())
            .collect();
        assert_eq!(room, ["before the drop", "mine", "while you were away"]);
        assert_eq!(app.connection, Connection::Connected);
    }

    #[test]
    fn a_reset_server_history_starts_afresh_below_the_old_lines() {
        let mut app = joined_app();
        let alice = member("alice");
        app.handle_net(message(40, &alice, "old world"));
        app.handle_net(bob_joins(
            vec![alice.clone()],
            2,
            vec![event(2, EventKind::Message, &alice, Some("new world"))],
            false,
            true,
        ));
        // Low seqs from the new history are shown, after the old lines, not dropped.
        app.handle_net(message(3, &alice, "after"));
        let texts: Vec<&str> = app
            .pane()
            .lines
            .iter()
            .filter(|l| matches!(l.kind, LineKind::Message { .. }))
            .map(|l| l.text.as_str())
            .collect();
        assert_eq!(texts, ["old world", "new world", "after"]);
    }

    #[test]
    fn own_join_is_not_shown_twice() {
        let mut app = joined_app();
        let me = app.me.clone().unwrap();
        let before = app.pane().lines.len();
        app.handle_net(NetEvent::Event(event(7, EventKind::Join, &me, None)));
        assert_eq!(app.pane().lines.len(), before);
    }

    #[test]
    fn older_history_goes_in_front_and_is_asked_for_once() {
        let mut app = joined_app();
        let alice = member("alice");
        app.handle_net(message(50, &alice, "now"));
        assert_eq!(app.wants_older(), Some(Page::Before(50)));
        assert_eq!(app.wants_older(), None, "one request at a time");
        app.handle_net(NetEvent::Older {
            room: "#general".into(),
            events: vec![
                event(48, EventKind::Message, &alice, Some("older")),
                event(49, EventKind::Message, &alice, Some("old")),
            ],
        });
        let first: Vec<&str> = app
            .pane()
            .lines
            .iter()
            .take(2)
            .map(|l| l.text.as_str())
            .collect();
        assert_eq!(first, ["older", "old"]);
        assert_eq!(app.wants_older(), Some(Page::Before(48)));
        app.handle_net(NetEvent::Older {
            room: "#general".into(),
            events: Vec::new(),
        });
        assert_eq!(app.wants_older(), None, "nothing older is left");
    }

    #[test]
    fn nothing_older_than_the_first_event_is_asked_for() {
        let mut app = joined_app();
        app.handle_net(message(1, &member("alice"), "first ever"));
        assert_eq!(app.wants_older(), None);
    }

    fn alt(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::ALT)
    }

    #[test]
    fn editing_keys_work_on_words_and_line_ends() {
        let mut app = joined_app();
        type_str(&mut app, "one two three");
        app.handle_key(alt('b'));
        app.handle_key(ctrl('w'));
        assert_eq!(app.input.text(), "one three");
        app.handle_key(KeyEvent::new(KeyCode::Left, KeyModifiers::CONTROL));
        assert_eq!(app.input.before_cursor(), "");
        app.handle_key(alt('f'));
        app.handle_key(ctrl('k'));
        assert_eq!(app.input.text(), "one");
        type_str(&mut app, " more");
        app.handle_key(KeyEvent::new(KeyCode::Backspace, KeyModifiers::ALT));
        assert_eq!(app.input.text(), "one ");
        app.handle_key(ctrl('u'));
        assert!(app.input.is_empty());
        // Alt and Ctrl letters never type themselves.
        app.handle_key(alt('x'));
        app.handle_key(ctrl('x'));
        assert!(app.input.is_empty());
    }

    #[test]
    fn up_and_down_recall_sent_lines_and_keep_the_draft() {
        let mut app = joined_app();
        for line in ["first", "second"] {
            type_str(&mut app, line);
            app.handle_key(key(KeyCode::Enter));
        }
        type_str(&mut app, "draft");
        app.handle_key(key(KeyCode::Up));
        assert_eq!(app.input.text(), "second");
        app.handle_key(key(KeyCode::Up));
        app.handle_key(key(KeyCode::Up));
        assert_eq!(app.input.text(), "first", "stops at the oldest");
        app.handle_key(key(KeyCode::Down));
        assert_eq!(app.input.text(), "second");
        app.handle_key(key(KeyCode::Down));
        assert_eq!(app.input.text(), "draft");
    }

    #[test]
    fn tab_completes_names_recent_speakers_first_and_cycles() {
        let mut app = joined_app();
        let (anna, alice) = (member("anna"), member("alice"));
        for who in [&anna, &alice] {
            app.handle_net(NetEvent::Event(event(20, EventKind::Join, who, None)));
        }
        app.handle_net(message(30, &anna, "hi"));
        type_str(&mut app, "a");
        app.handle_key(key(KeyCode::Tab));
        assert_eq!(app.input.text(), "anna: ", "anna spoke last");
        app.handle_key(key(KeyCode::Tab));
        assert_eq!(app.input.text(), "alice: ");
        app.handle_key(key(KeyCode::Tab));
        assert_eq!(app.input.text(), "anna: ");
        // Mid-line, no colon; and our own name is never offered.
        app.handle_key(ctrl('u'));
        type_str(&mut app, "thanks AL");
        app.handle_key(key(KeyCode::Tab));
        assert_eq!(app.input.text(), "thanks alice ");
        app.handle_key(ctrl('u'));
        type_str(&mut app, "bo");
        app.handle_key(key(KeyCode::Tab));
        assert_eq!(app.input.text(), "bo");
    }

    #[test]
    fn tab_completes_commands_at_the_start_of_a_line() {
        let mut app = joined_app();
        type_str(&mut app, "/q");
        app.handle_key(key(KeyCode::Tab));
        assert_eq!(app.input.text(), "/quit ");
    }

    #[test]
    fn clear_empties_the_pane_and_members_toggles_the_list() {
        let mut app = joined_app();
        app.handle_net(message(5, &member("alice"), "hello"));
        type_str(&mut app, "/clear");
        assert_eq!(app.handle_key(key(KeyCode::Enter)), Action::None);
        assert!(app.pane().lines.is_empty());
        assert!(app.show_members);
        type_str(&mut app, "/members");
        app.handle_key(key(KeyCode::Enter));
        assert!(!app.show_members);
        app.handle_key(key(KeyCode::F(2)));
        assert!(app.show_members);
    }

    #[test]
    fn the_last_send_latency_is_kept_for_the_status_line() {
        let mut app = joined_app();
        assert_eq!(app.last_send_ms, None);
        app.handle_net(NetEvent::Sent {
            room: "#general".into(),
            seq: 3,
            text: "hi".into(),
            latency_ms: 12,
            action: false,
            ts: 0,
        });
        assert_eq!(app.last_send_ms, Some(12));
    }

    #[test]
    fn me_and_nick_become_their_actions() {
        let mut app = joined_app();
        type_str(&mut app, "/me waves");
        assert_eq!(
            app.handle_key(key(KeyCode::Enter)),
            Action::SendAction {
                room: "#general".into(),
                text: "waves".into(),
            }
        );
        type_str(&mut app, "/nick robert");
        assert_eq!(
            app.handle_key(key(KeyCode::Enter)),
            Action::Nick("robert".into())
        );
        for usage in ["/me", "/nick  "] {
            type_str(&mut app, usage);
            assert_eq!(app.handle_key(key(KeyCode::Enter)), Action::None);
            assert!(app.pane().lines.back().unwrap().text.starts_with("usage:"));
        }
    }

    #[test]
    fn actions_and_renames_show_as_irc_does() {
        let mut app = joined_app();
        let alice = app.room().members[0].clone();
        app.handle_net(NetEvent::Event(event(
            8,
            EventKind::Action,
            &alice,
            Some("waves"),
        )));
        assert_eq!(
            app.pane().lines.back().unwrap().kind,
            LineKind::Action {
                from: "alice".into(),
                own: false
            }
        );
        let renamed = MemberInfo {
            id: alice.id,
            name: "alicia".into(),
            guest: false,
            ..Default::default()
        };
        app.handle_net(NetEvent::Event(event(
            9,
            EventKind::Nick,
            &renamed,
            Some("alice"),
        )));
        assert_eq!(
            app.pane().lines.back().unwrap().text,
            "alice is now known as alicia"
        );
        let names: Vec<&str> = app.room().members.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["alicia", "bob"]);
        app.handle_net(NetEvent::Renamed("robert".into()));
        assert_eq!(app.me.as_ref().unwrap().name, "robert");
    }

    #[test]
    fn an_old_name_in_a_rename_notice_is_cleaned_as_a_name() {
        let mut app = joined_app();
        let robert = member("robert");
        app.handle_net(NetEvent::Event(event(
            9,
            EventKind::Nick,
            &robert,
            Some("-!- bob> hi"),
        )));
        assert_eq!(
            app.pane().lines.back().unwrap().text,
            "bob_hi is now known as robert"
        );
    }

    #[test]
    fn lines_naming_us_are_marked_and_can_ring_the_bell() {
        let mut app = joined_app();
        app.bell = Bell::Mention;
        let alice = member("alice");
        for (seq, text, named) in [
            (10, "hey @bob, look", true),
            (11, "Bob: lunch?", true),
            (12, "bobby tables", false),
            (13, "ask bob-2 instead", false),
            (14, "nothing here", false),
        ] {
            app.handle_net(message(seq, &alice, text));
            assert_eq!(
                app.pane().lines.back().unwrap().mentions_me,
                named,
                "{text}"
            );
            assert_eq!(std::mem::take(&mut app.ring_bell), named, "{text}");
        }
        app.bell = Bell::All;
        app.handle_net(message(15, &alice, "anything"));
        assert!(app.ring_bell);
    }

    #[test]
    fn lines_arriving_while_scrolled_up_are_counted_and_end_goes_back_to_live() {
        let mut app = joined_app();
        let alice = member("alice");
        app.handle_net(message(10, &alice, "seen"));
        assert_eq!(app.pane().unseen, 0, "nothing unseen while following");
        app.handle_key(key(KeyCode::PageUp));
        app.handle_net(message(11, &alice, "new one"));
        app.handle_net(message(12, &alice, "new two"));
        assert_eq!(
            (app.pane().unseen, app.pane().appended_while_scrolled),
            (2, 2)
        );
        app.handle_key(key(KeyCode::End));
        assert!(!app.scrolled());
        // End with the view live moves the cursor, as in any line editor.
        type_str(&mut app, "ab");
        app.handle_key(key(KeyCode::Home));
        app.handle_key(key(KeyCode::End));
        assert_eq!(app.input.cursor_column(), 2);
        app.handle_key(key(KeyCode::PageUp));
        app.handle_key(key(KeyCode::Esc));
        assert!(!app.scrolled());
    }

    #[test]
    fn shift_or_ctrl_with_up_and_down_scroll_by_a_line() {
        let mut app = joined_app();
        for modifiers in [KeyModifiers::SHIFT, KeyModifiers::CONTROL] {
            app.handle_key(KeyEvent::new(KeyCode::Up, modifiers));
            app.handle_key(KeyEvent::new(KeyCode::Up, modifiers));
            assert_eq!(app.pane().scroll_by, 2);
            app.handle_key(KeyEvent::new(KeyCode::Down, modifiers));
            assert_eq!(app.pane().scroll_by, 1);
            app.handle_key(key(KeyCode::Esc));
        }
        assert!(app.input.is_empty(), "no history recall on the way");
    }

    #[test]
    fn disconnect_is_shown_and_clears_members() {
        let mut app = joined_app();
        app.handle_net(NetEvent::Disconnected("server went away".into()));
        assert_eq!(
            app.connection,
            Connection::Disconnected("server went away".into())
        );
        assert!(app.room().members.is_empty());
    }

    #[test]
    fn a_failure_repeated_on_every_retry_is_one_line_that_counts() {
        let mut app = App::new("x:1");
        let refused = "cannot connect to ws://x:1/: connection refused";
        for _ in 0..3 {
            app.handle_net(NetEvent::Disconnected(refused.into()));
            app.handle_net(NetEvent::Reconnecting(2));
        }
        assert_eq!(texts(&app), [format!("{refused} (3 attempts)")]);
        // Something else said in between: the next failure gets a line of its own.
        app.inform("note".into());
        app.handle_net(NetEvent::Disconnected(refused.into()));
        assert_eq!(texts(&app).len(), 3);
        assert_eq!(texts(&app)[2], refused);
    }

    #[test]
    fn only_a_connection_that_was_up_is_said_to_be_lost() {
        let mut app = joined_app();
        app.handle_net(NetEvent::Disconnected("connection closed".into()));
        assert_eq!(
            texts(&app).last().copied(),
            Some("disconnected: connection closed")
        );
        let mut app = App::new("x:1");
        app.handle_net(NetEvent::Refused("the name is reserved".into()));
        assert_eq!(
            texts(&app),
            ["the name is reserved (not trying again; /quit to leave)"]
        );
    }

    fn with(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn alt_enter_shift_enter_and_ctrl_j_start_a_new_line_and_enter_sends_all() {
        let mut app = joined_app();
        type_str(&mut app, "one");
        app.handle_key(with(KeyCode::Enter, KeyModifiers::ALT));
        type_str(&mut app, "two");
        app.handle_key(with(KeyCode::Enter, KeyModifiers::SHIFT));
        type_str(&mut app, "three");
        app.handle_key(ctrl('j'));
        type_str(&mut app, "four");
        assert_eq!(
            app.handle_key(key(KeyCode::Enter)),
            Action::Send {
                room: "#general".into(),
                text: "one\ntwo\nthree\nfour".into(),
            }
        );
    }

    #[test]
    fn up_and_down_move_inside_a_multi_line_input_before_recalling() {
        let mut app = joined_app();
        type_str(&mut app, "sent before");
        app.handle_key(key(KeyCode::Enter));
        app.paste("line one\nline two");
        app.handle_key(key(KeyCode::Up));
        assert_eq!(app.input.before_cursor(), "line one", "moved up a line");
        app.handle_key(key(KeyCode::Down));
        assert_eq!(app.input.before_cursor(), "line one\nline two");
        app.handle_key(key(KeyCode::Up));
        app.handle_key(key(KeyCode::Up));
        assert_eq!(
            app.input.text(),
            "sent before",
            "recalled from the first line"
        );
        app.handle_key(key(KeyCode::Down));
        assert_eq!(app.input.text(), "line one\nline two", "the draft is back");
    }

    #[test]
    fn a_paste_keeps_its_lines_and_is_one_message() {
        let mut app = joined_app();
        type_str(&mut app, "look: ");
        app.paste("fn main() {\r\n    println!(\"hi\");\r}\n");
        assert_eq!(
            app.input.text(),
            "look: fn main() {\n    println!(\"hi\");\n}\n"
        );
        assert_eq!(
            app.handle_key(key(KeyCode::Enter)),
            Action::Send {
                room: "#general".into(),
                text: "look: fn main() {\n    println!(\"hi\");\n}\n".into(),
            },
            "Enter after a paste sends it; nothing was sent line by line before"
        );
    }

    #[test]
    fn the_input_is_capped_and_an_oversized_paste_is_cut_on_a_character_boundary() {
        let mut app = joined_app();
        app.paste(&"é".repeat(MAX_INPUT_BYTES));
        assert_eq!(app.input.text().len(), MAX_INPUT_BYTES);
        assert!(
            app.pane()
                .lines
                .back()
                .unwrap()
                .text
                .starts_with("paste cut")
        );
        app.handle_key(key(KeyCode::Char('x')));
        assert_eq!(
            app.input.text().len(),
            MAX_INPUT_BYTES,
            "typing stops at the cap"
        );
        app.handle_key(key(KeyCode::Backspace));
        app.paste("ab");
        assert_eq!(
            app.input.text().len(),
            MAX_INPUT_BYTES,
            "'a' fits in the two bytes freed"
        );
        assert!(app.input.text().ends_with("ab"));
    }

    #[test]
    fn the_mouse_wheel_scrolls_and_other_mouse_events_do_nothing() {
        let mut app = joined_app();
        let mouse = |kind| MouseEvent {
            kind,
            column: 0,
            row: 0,
            modifiers: KeyModifiers::NONE,
        };
        app.handle_mouse(mouse(MouseEventKind::ScrollUp));
        app.handle_mouse(mouse(MouseEventKind::ScrollUp));
        assert_eq!(app.pane().scroll_by, 2 * WHEEL_ROWS);
        app.handle_mouse(mouse(MouseEventKind::ScrollDown));
        assert_eq!(app.pane().scroll_by, WHEEL_ROWS);
        app.handle_mouse(mouse(MouseEventKind::Down(
            crossterm::event::MouseButton::Left,
        )));
        assert_eq!(app.pane().scroll_by, WHEEL_ROWS);
    }

    fn seqs(app: &App) -> Vec<u64> {
        app.pane()
            .lines
            .iter()
            .filter_map(|line| line.seq)
            .collect()
    }

    #[test]
    fn a_full_pane_scrolled_into_older_history_lets_go_of_the_newest_and_pages_back() {
        let mut app = joined_app();
        app.set_scrollback(5);
        let alice = member("alice");
        for seq in 10..20 {
            app.handle_net(message(seq, &alice, "x"));
        }
        assert_eq!(seqs(&app), [15, 16, 17, 18, 19], "capped at 5");
        assert!(
            !app.pane().history_exhausted,
            "what fell off can be fetched again"
        );

        // Scrolled to the top, an older page arrives: the newest lines make room.
        app.pane_mut().scroll = ScrollPos { lines: 4, rows: 0 };
        assert_eq!(app.wants_older(), Some(Page::Before(15)));
        app.handle_net(NetEvent::Older {
            room: "#general".into(),
            events: (12..15)
                .map(|seq| event(seq, EventKind::Message, &alice, Some("x")))
                .collect(),
        });
        assert_eq!(app.pane().trim_newest, 3);
        app.pane_mut().drop_newest();
        assert_eq!(seqs(&app), [12, 13, 14, 15, 16]);
        assert_eq!(
            (app.pane().detached, app.pane().scroll),
            (Some(19), ScrollPos { lines: 1, rows: 0 })
        );

        // Live lines are counted, not shown, while the pane is away from the live end.
        app.handle_net(message(20, &alice, "live"));
        assert_eq!(seqs(&app), [12, 13, 14, 15, 16]);
        assert_eq!((app.pane().detached, app.pane().unseen), (Some(20), 1));

        // At the bottom of the pane, the next page is asked for, once.
        assert_eq!(app.wants_newer(), None, "not at the bottom yet");
        app.pane_mut().scroll = ScrollPos::LIVE;
        assert_eq!(app.wants_newer(), Some(Page::After(16)));
        assert_eq!(app.wants_newer(), None);
        app.handle_net(NetEvent::Newer {
            room: "#general".into(),
            events: (17..19)
                .map(|seq| event(seq, EventKind::Message, &alice, Some("x")))
                .collect(),
        });
        assert_eq!(seqs(&app), [14, 15, 16, 17, 18]);
        assert_eq!(
            app.pane().appended_while_scrolled,
            2,
            "the view is held still"
        );
        assert!(app.pane().detached.is_some(), "20 not reached yet");
        app.pane_mut().appended_while_scrolled = 0;
        assert_eq!(app.wants_newer(), Some(Page::After(18)));
        app.handle_net(NetEvent::Newer {
            room: "#general".into(),
            events: (19..21)
                .map(|seq| event(seq, EventKind::Message, &alice, Some("x")))
                .collect(),
        });
        assert_eq!(
            app.pane().detached,
            None,
            "caught up with the room: live again"
        );
        app.handle_net(message(21, &alice, "live again"));
        assert_eq!(seqs(&app), [17, 18, 19, 20, 21]);
    }

    #[test]
    fn end_from_a_detached_pane_fetches_the_latest_page_in_place_of_the_old() {
        let mut app = joined_app();
        app.set_scrollback(5);
        let alice = member("alice");
        for seq in 10..15 {
            app.handle_net(message(seq, &alice, "x"));
        }
        assert_eq!(app.wants_older(), Some(Page::Before(10)));
        app.handle_net(NetEvent::Older {
            room: "#general".into(),
            events: vec![event(9, EventKind::Message, &alice, Some("x"))],
        });
        app.pane_mut().scroll.lines = 1;
        app.pane_mut().drop_newest();
        app.handle_net(message(40, &alice, "much later"));
        app.handle_key(key(KeyCode::End));
        assert_eq!(app.wants_newer(), Some(Page::Latest));
        app.handle_net(NetEvent::Latest {
            room: "#general".into(),
            events: (38..41)
                .map(|seq| event(seq, EventKind::Message, &alice, Some("x")))
                .collect(),
        });
        assert_eq!(seqs(&app), [38, 39, 40]);
        assert_eq!(
            (app.pane().detached, app.pane().scroll, app.pane().unseen),
            (None, ScrollPos::LIVE, 0)
        );
        assert!(
            !app.pane().history_exhausted,
            "older pages can be fetched again"
        );
    }

    #[test]
    fn a_failed_page_is_not_asked_for_again_and_again() {
        let mut app = joined_app();
        app.handle_net(message(50, &member("alice"), "now"));
        assert_eq!(app.wants_older(), Some(Page::Before(50)));
        app.handle_net(NetEvent::HistoryFailed {
            room: "#general".into(),
            error: "history is off".into(),
        });
        assert_eq!(app.wants_older(), None);
        assert!(
            app.pane()
                .lines
                .back()
                .unwrap()
                .text
                .contains("history is off")
        );
    }

    #[test]
    fn cursor_keys_and_line_ends_move_and_delete_where_expected() {
        let mut app = joined_app();
        type_str(&mut app, "héllo wörld");
        app.handle_key(ctrl('a'));
        assert_eq!(app.input.before_cursor(), "");
        app.handle_key(key(KeyCode::Right));
        app.handle_key(key(KeyCode::Right));
        assert_eq!(app.input.before_cursor(), "hé");
        app.handle_key(key(KeyCode::Delete));
        assert_eq!(app.input.text(), "hélo wörld");
        app.handle_key(key(KeyCode::Backspace));
        assert_eq!(app.input.text(), "hlo wörld");
        app.handle_key(ctrl('e'));
        assert_eq!(app.input.before_cursor(), "hlo wörld");
        app.handle_key(key(KeyCode::Left));
        app.handle_key(KeyEvent::new(KeyCode::Right, KeyModifiers::CONTROL));
        assert_eq!(app.input.before_cursor(), "hlo wörld");
        app.handle_key(key(KeyCode::Home));
        app.handle_key(KeyEvent::new(KeyCode::Right, KeyModifiers::CONTROL));
        assert_eq!(app.input.before_cursor(), "hlo");
        app.handle_key(key(KeyCode::End));
        assert_eq!(app.input.before_cursor(), "hlo wörld");
        assert_eq!(
            app.handle_key(ctrl('c')),
            Action::Quit(None),
            "Ctrl-C quits even mid-line"
        );
    }

    /// A pane of seqs 10..15 that an older page (seq 9) pushed over a cap of 5: detached.
    fn detached_app() -> App {
        let mut app = joined_app();
        app.set_scrollback(5);
        let alice = member("alice");
        for seq in 10..15 {
            app.handle_net(message(seq, &alice, "x"));
        }
        app.pane_mut().scroll = ScrollPos { lines: 2, rows: 0 };
        assert_eq!(app.wants_older(), Some(Page::Before(10)));
        app.handle_net(NetEvent::Older {
            room: "#general".into(),
            events: vec![event(9, EventKind::Message, &alice, Some("x"))],
        });
        app.pane_mut().drop_newest();
        assert_eq!(app.pane().detached, Some(14));
        app.handle_net(message(40, &alice, "much later"));
        app
    }

    #[test]
    fn end_pressed_while_a_newer_page_loads_still_goes_to_live() {
        let mut app = detached_app();
        app.pane_mut().scroll = ScrollPos::LIVE;
        assert_eq!(app.wants_newer(), Some(Page::After(13)));
        app.handle_key(key(KeyCode::End));
        app.handle_net(NetEvent::Newer {
            room: "#general".into(),
            events: vec![event(14, EventKind::Message, &member("alice"), Some("x"))],
        });
        assert_eq!(
            app.pane().appended_while_scrolled,
            0,
            "not held: on to live"
        );
        assert_eq!(app.wants_newer(), Some(Page::Latest));
    }

    #[test]
    fn a_page_that_no_longer_fits_the_pane_is_dropped() {
        let mut app = detached_app();
        let alice = member("alice");
        // End asks for the latest page; before it comes, a scroll to the top asks for
        // the page before the old pane.
        app.handle_key(key(KeyCode::End));
        app.pane_mut().scroll = ScrollPos::LIVE;
        assert_eq!(app.wants_newer(), Some(Page::Latest));
        assert_eq!(app.wants_older(), Some(Page::Before(9)));
        app.handle_net(NetEvent::Latest {
            room: "#general".into(),
            events: (38..41)
                .map(|seq| event(seq, EventKind::Message, &alice, Some("x")))
                .collect(),
        });
        app.handle_net(NetEvent::Older {
            room: "#general".into(),
            events: vec![event(8, EventKind::Message, &alice, Some("x"))],
        });
        assert_eq!(seqs(&app), [38, 39, 40], "no page from before the gap");
        assert_eq!(app.wants_older(), Some(Page::Before(38)), "asks afresh");
        // The same after /clear.
        type_str(&mut app, "/clear");
        app.handle_key(key(KeyCode::Enter));
        app.handle_net(NetEvent::Older {
            room: "#general".into(),
            events: vec![event(37, EventKind::Message, &alice, Some("x"))],
        });
        assert!(seqs(&app).is_empty());
    }

    #[test]
    fn an_empty_password_is_never_sent() {
        let mut app = App::new("x:1");
        app.handle_net(NetEvent::PasswordNeeded { wrong: false });
        assert!(app.asking_password);
        assert_eq!(app.handle_key(key(KeyCode::Enter)), Action::None);
        type_str(&mut app, "sesame");
        app.handle_key(key(KeyCode::Up));
        app.handle_key(key(KeyCode::Tab));
        app.handle_key(with(KeyCode::Enter, KeyModifiers::ALT));
        assert_eq!(
            app.input.text(),
            "sesame",
            "no recall, completion or newline"
        );
        assert_eq!(
            app.handle_key(key(KeyCode::Enter)),
            Action::Password("sesame".into())
        );
        assert!(!app.asking_password && app.input.is_empty());
        assert!(app.sent_history.is_empty(), "never kept for Up/Down");
    }

    #[test]
    fn a_wide_character_or_newline_never_takes_the_input_past_its_cap() {
        let mut app = joined_app();
        app.paste(&"x".repeat(MAX_INPUT_BYTES - 2));
        app.handle_key(key(KeyCode::Char('日')));
        assert_eq!(
            app.input.text().len(),
            MAX_INPUT_BYTES - 2,
            "3 bytes do not fit in 2"
        );
        app.handle_key(ctrl('j'));
        app.handle_key(with(KeyCode::Enter, KeyModifiers::ALT));
        app.handle_key(key(KeyCode::Char('é')));
        assert_eq!(app.input.text().len(), MAX_INPUT_BYTES - 2 + 2);
        assert!(app.input.text().ends_with("\n\n"));
    }

    fn names(app: &App) -> Vec<&str> {
        app.room().members.iter().map(|m| m.name.as_str()).collect()
    }

    fn completes(app: &mut App, word: &str) -> String {
        app.handle_key(ctrl('u'));
        type_str(app, word);
        app.handle_key(key(KeyCode::Tab));
        app.input.text().to_owned()
    }

    #[test]
    fn history_never_brings_back_members_who_are_gone() {
        // The server died with ghost in the room: its join is in the history, its leave
        // never was, and the server's member list no longer has it.
        let (alice, ghost, carol, dave) = (
            member("alice"),
            member("ghost"),
            member("carol"),
            member("dave"),
        );
        let history = vec![
            event(4, EventKind::Join, &ghost, None),
            event(5, EventKind::Message, &ghost, Some("boo")),
            event(6, EventKind::Join, &alice, None),
        ];
        let mut app = App::new("x:1");
        app.smart_filter = false;
        app.handle_net(bob_joins(
            vec![alice.clone(), member("bob")],
            6,
            history,
            false,
            false,
        ));
        assert_eq!(names(&app), ["alice", "bob"]);
        assert_eq!(completes(&mut app, "gh"), "gh", "no completion of a ghost");
        assert_eq!(
            app.pane().lines.iter().filter(|l| l.seq.is_some()).count(),
            3
        );

        // A reconnect's catch-up replays what happened before the new member list: it
        // changes nothing either; what follows the join does.
        app.handle_net(NetEvent::Disconnected("connection closed".into()));
        app.handle_net(bob_joins(
            vec![alice.clone(), member("bob")],
            8,
            Vec::new(),
            true,
            false,
        ));
        app.handle_net(NetEvent::Event(event(7, EventKind::Join, &carol, None)));
        app.handle_net(message(8, &carol, "hi"));
        assert_eq!(names(&app), ["alice", "bob"], "carol was gone by the join");
        assert_eq!(completes(&mut app, "c"), "c");
        app.handle_net(NetEvent::Event(event(9, EventKind::Join, &dave, None)));
        app.handle_net(NetEvent::Event(event(10, EventKind::Leave, &alice, None)));
        assert_eq!(names(&app), ["bob", "dave"]);
        assert_eq!(completes(&mut app, "d"), "dave: ");
    }

    #[test]
    fn cleared_lines_stay_cleared_when_a_reconnect_replays_them() {
        let mut app = joined_app();
        let alice = member("alice");
        app.handle_net(message(10, &alice, "before the clear"));
        app.handle_net(NetEvent::Sent {
            room: "#general".into(),
            seq: 11,
            text: "mine".into(),
            latency_ms: 1,
            action: false,
            ts: 0,
        });
        type_str(&mut app, "/clear");
        app.handle_key(key(KeyCode::Enter));
        app.handle_net(NetEvent::Disconnected("connection closed".into()));
        app.handle_net(bob_joins(vec![alice.clone()], 12, Vec::new(), true, false));
        // The replay resumes from the last event received from others: our own is in it.
        app.handle_net(message(11, &member("bob"), "mine"));
        app.handle_net(message(12, &alice, "after"));
        let room: Vec<&str> = app
            .pane()
            .lines
            .iter()
            .filter(|l| l.seq.is_some())
            .map(|l| l.text.as_str())
            .collect();
        assert_eq!(room, ["after"]);

        // Scrolling up is asking for them: the older page brings them back.
        assert_eq!(app.wants_older(), Some(Page::Before(12)));
        app.handle_net(NetEvent::Older {
            room: "#general".into(),
            events: vec![
                event(10, EventKind::Message, &alice, Some("before the clear")),
                event(11, EventKind::Message, &member("bob"), Some("mine")),
            ],
        });
        let seqs: Vec<u64> = app.pane().lines.iter().filter_map(|l| l.seq).collect();
        assert_eq!(seqs, [10, 11, 12]);
    }

    #[test]
    fn scrolling_up_in_an_empty_cleared_pane_fetches_what_was_cleared() {
        let mut app = joined_app();
        app.handle_net(message(10, &member("alice"), "hello"));
        type_str(&mut app, "/clear");
        app.handle_key(key(KeyCode::Enter));
        assert_eq!(app.wants_older(), Some(Page::Before(11)));
    }

    #[test]
    fn commands_are_known_in_any_case() {
        let mut app = joined_app();
        type_str(&mut app, "/ME waves");
        assert_eq!(
            app.handle_key(key(KeyCode::Enter)),
            Action::SendAction {
                room: "#general".into(),
                text: "waves".into(),
            }
        );
        type_str(&mut app, "/Nick carol");
        assert_eq!(
            app.handle_key(key(KeyCode::Enter)),
            Action::Nick("carol".into())
        );
        type_str(&mut app, "/Quit");
        assert_eq!(app.handle_key(key(KeyCode::Enter)), Action::Quit(None));
        assert_eq!(completes(&mut app, "/CL"), "/clear ");
    }

    #[test]
    fn a_command_after_blanks_takes_the_words_after_its_name() {
        let mut app = joined_app();
        type_str(&mut app, "/ me waves");
        assert_eq!(
            app.handle_key(key(KeyCode::Enter)),
            Action::SendAction {
                room: "#general".into(),
                text: "waves".into(),
            }
        );
        // A blank of several bytes before the name is no place to cut the line.
        type_str(&mut app, "/\u{3000}me waves");
        assert_eq!(
            app.handle_key(key(KeyCode::Enter)),
            Action::SendAction {
                room: "#general".into(),
                text: "waves".into(),
            }
        );
        type_str(&mut app, "/\u{3000}nick carol");
        assert_eq!(
            app.handle_key(key(KeyCode::Enter)),
            Action::Nick("carol".into())
        );
        type_str(&mut app, "/\u{a0}x");
        assert_eq!(app.handle_key(key(KeyCode::Enter)), Action::None);
        assert!(
            app.pane()
                .lines
                .back()
                .unwrap()
                .text
                .starts_with("unknown command /x")
        );
    }

    #[test]
    fn nick_to_the_same_name_changes_nothing_and_a_taken_one_says_so() {
        let mut app = joined_app();
        type_str(&mut app, "/nick bob");
        assert_eq!(app.handle_key(key(KeyCode::Enter)), Action::None);
        assert_eq!(app.pane().lines.back().unwrap().text, "you are already bob");

        type_str(&mut app, "/nick alice");
        assert_eq!(
            app.handle_key(key(KeyCode::Enter)),
            Action::Nick("alice".into())
        );
        app.handle_net(NetEvent::Renamed("alice-2".into()));
        assert_eq!(
            app.pane().lines.back().unwrap().text,
            "alice is taken; you are now known as alice-2"
        );
        type_str(&mut app, "/nick carol");
        app.handle_key(key(KeyCode::Enter));
        app.handle_net(NetEvent::Renamed("carol".into()));
        assert_eq!(
            app.pane().lines.back().unwrap().text,
            "you are now known as carol"
        );
    }

    #[test]
    fn joining_under_another_name_says_why() {
        let mut app = App::new("x:1");
        app.wanted_name = Some("bob".into());
        let mut joined = bob_joins(vec![member("bob")], 0, Vec::new(), false, false);
        if let NetEvent::Joined { result, .. } = &mut joined {
            result.name = "bob-2".into();
        }
        app.handle_net(joined);
        let welcome = &app.pane().lines.back().unwrap().text;
        assert!(
            welcome.starts_with("you joined x:1 as bob-2 (bob is taken);"),
            "{welcome}"
        );
    }

    #[test]
    fn a_refused_nick_is_not_blamed_when_the_room_is_joined_again() {
        let mut app = joined_app();
        type_str(&mut app, "/nick admin");
        assert_eq!(
            app.handle_key(key(KeyCode::Enter)),
            Action::Nick("admin".into())
        );
        app.handle_net(NetEvent::Failed {
            room: None,
            error: "the name admin is reserved".into(),
        });
        // The server's history was reset: the client joins afresh, as bob.
        app.handle_net(NetEvent::Disconnected("connection closed".into()));
        app.handle_net(bob_joins(vec![member("bob")], 0, Vec::new(), false, true));
        let welcome = &app.pane().lines.back().unwrap().text;
        assert!(
            welcome.starts_with("you joined 127.0.0.1:7777 as bob;"),
            "{welcome}"
        );
    }

    #[test]
    fn a_servers_error_messages_are_cleaned_before_they_are_shown() {
        let mut app = joined_app();
        let hostile = "no\u{202E}pe\u{E0041}\x1b[2J";
        app.handle_net(NetEvent::Failed {
            room: None,
            error: format!("not sent: {hostile}"),
        });
        assert_eq!(app.pane().lines.back().unwrap().text, "not sent: nope[2J");
        app.handle_net(NetEvent::HistoryFailed {
            room: "#general".into(),
            error: hostile.into(),
        });
        assert_eq!(
            app.pane().lines.back().unwrap().text,
            "could not load history: nope[2J"
        );
    }

    #[test]
    fn who_while_offline_says_so() {
        let mut app = joined_app();
        app.handle_net(NetEvent::Disconnected("connection closed".into()));
        type_str(&mut app, "/who");
        app.handle_key(key(KeyCode::Enter));
        let said = &app.pane().lines.back().unwrap().text;
        assert!(said.starts_with("not connected"), "{said}");
    }

    #[test]
    fn the_member_list_on_a_narrow_terminal_says_it_needs_more_room() {
        let mut app = joined_app();
        app.columns = 45;
        app.handle_key(key(KeyCode::F(2)));
        assert!(app.show_members, "unchanged");
        let said = &app.pane().lines.back().unwrap().text;
        assert!(
            said.contains("too narrow") && said.contains("60 columns") && said.contains("45"),
            "{said}"
        );
        app.columns = 80;
        app.handle_key(key(KeyCode::F(2)));
        assert!(!app.show_members);
    }

    #[test]
    fn ctrl_l_asks_for_a_full_redraw() {
        let mut app = joined_app();
        type_str(&mut app, "draft");
        assert_eq!(app.handle_key(ctrl('l')), Action::Redraw);
        assert_eq!(app.input.text(), "draft");
    }
}
