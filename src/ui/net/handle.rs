//! The UI's side of the network worker: the cloneable [`Network`] handle, and the commands
//! it queues for the worker.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};

use super::servers::Servers;
use super::{LEAVE_TIMEOUT, Rooms, Worker};
use crate::ui::app::{AppEvent, NetEvent};
use crate::ui::command::Moderation;
use crate::ui::run::ConnectOptions;

/// What the UI asks of the worker.
pub(super) enum Command {
    Send(Line),
    Nick(String),
    /// Who is in a room, asked of the server.
    Who(String),
    /// A page of a room's history: which one, and how to report it.
    History(String, Page),
    /// Enter a room (creating it if need be).
    Enter(String),
    /// Leave one room, with a reason for the others.
    Part(String, Option<String>),
    /// Show (`None`) or set a room's topic.
    Topic(String, Option<String>),
    /// Every room on the server.
    Rooms,
    /// A direct message to the identity that owns a name (`/msg`).
    Msg(String, String),
    /// Open the conversation with the identity that owns a name (`/query`).
    Query(String),
    /// Who a member is (`/whois`).
    Whois(String),
    /// Move the read marker of a room to a seq.
    Mark(String, u64),
    /// Be in a room the server says we are in (a conversation someone opened with us, a
    /// room another session of ours entered): entered quietly, unless we already are.
    Adopt(String),
    /// Ask for a large room's whole member list: it comes in the stream (see
    /// `chat_sync_members`). Only when the client keeps member lists (not in plain mode).
    SyncMembers(String),
    /// A moderation, away or ignore request, in a room.
    Moderate(String, Moderation),
    /// The password the user typed when asked.
    Password(String),
    /// End the session, with a reason shown in every room.
    Leave(Option<String>, oneshot::Sender<()>),
    /// Set this identity's notification level in a room (`/notify`).
    Notify(String, crate::rpc::types::NotifyLevel),
    /// Search the history of a room, or (`all`) of every room and conversation we can read.
    Search {
        room: String,
        all: bool,
        query: String,
    },
    /// The history of a room around a seq, to jump to that line.
    Around(String, u64),
}

/// A line to say in a room; `action` for a `/me` line.
pub(super) struct Line {
    pub(super) room: String,
    pub(super) text: String,
    pub(super) action: bool,
}

impl Command {
    /// The room a command is about, for a failure to name; none for the server-wide ones.
    pub(super) fn room(&self) -> Option<String> {
        match self {
            Command::Send(line) => Some(line.room.clone()),
            Command::Who(room)
            | Command::History(room, _)
            | Command::Enter(room)
            | Command::Adopt(room)
            | Command::SyncMembers(room)
            | Command::Mark(room, _)
            | Command::Part(room, _)
            | Command::Topic(room, _)
            | Command::Notify(room, _) => Some(room.clone()),
            Command::Search { room, .. } | Command::Around(room, _) => Some(room.clone()),
            Command::Moderate(room, what) => Some(super::moderate::room_of(room, what)),
            Command::Nick(_)
            | Command::Rooms
            | Command::Msg(..)
            | Command::Query(_)
            | Command::Whois(_)
            | Command::Password(_)
            | Command::Leave(..) => None,
        }
    }

    /// What failed, for the start of a failure's line: "cannot join #ops".
    pub(super) fn failing(&self) -> String {
        match self {
            Command::Send(_) | Command::Who(_) => "not sent".into(),
            Command::Nick(name) => format!("cannot take the name {name}"),
            Command::Msg(to, _) => format!("cannot message {to}"),
            Command::Query(name) => format!("cannot open a conversation with {name}"),
            Command::Whois(name) => format!("cannot look up {name}"),
            Command::Mark(room, _) => format!("cannot mark {room} read"),
            Command::Enter(room) | Command::Adopt(room) => format!("cannot join {room}"),
            Command::Part(room, _) => format!("cannot leave {room}"),
            Command::Topic(room, Some(_)) => format!("cannot set the topic of {room}"),
            Command::Topic(room, None) => format!("cannot get the topic of {room}"),
            Command::Rooms => "cannot list the rooms".into(),
            Command::Moderate(room, what) => {
                super::moderate::failing(&super::moderate::room_of(room, what), what)
            }
            Command::History(room, _) => format!("cannot load the history of {room}"),
            Command::SyncMembers(room) => format!("cannot list the members of {room}"),
            Command::Password(_) | Command::Leave(..) => "cannot leave".into(),
            Command::Notify(room, _) => format!("cannot set the notifications of {room}"),
            Command::Search { .. } => "cannot search".into(),
            Command::Around(room, _) => format!("cannot load the history of {room}"),
        }
    }

    /// The report of this command failing, `why`.
    pub(super) fn failed(&self, why: &str) -> NetEvent {
        NetEvent::Failed {
            room: self.room(),
            error: format!("{}: {why}", self.failing()),
        }
    }
}

/// The UI's handle on the network worker.
#[derive(Clone)]
pub struct Network {
    commands: mpsc::UnboundedSender<Command>,
}

impl Network {
    /// Starts the worker: connect, join, subscribe, then report everything on `events`.
    pub fn spawn(options: &ConnectOptions, events: mpsc::Sender<AppEvent>) -> Self {
        Self::start(options, events, false)
    }

    /// [`Network::spawn`] for a script: sends are never refused for being offline or too
    /// fast, they wait (see the module's opening).
    pub fn spawn_patient(options: &ConnectOptions, events: mpsc::Sender<AppEvent>) -> Self {
        Self::start(options, events, true)
    }

    fn start(options: &ConnectOptions, events: mpsc::Sender<AppEvent>, patient: bool) -> Self {
        let (commands, rx) = mpsc::unbounded_channel();
        let rooms = Rooms {
            joined: options
                .rooms
                .iter()
                .map(|room| (room.clone(), None))
                .collect(),
            ..Rooms::default()
        };
        let worker = Worker {
            identity: options.identity.clone(),
            adopt: commands.downgrade(),
            rooms: Arc::new(Mutex::new(rooms)),
            servers: Servers::new(options.servers.clone()),
            name: options.name.clone(),
            password: options.password.clone(),
            tls: options.tls.clone(),
            connect_timeout: options.connect_timeout,
            patient,
            unsent: VecDeque::new(),
            events,
        };
        tokio::spawn(worker.run(rx));
        Self { commands }
    }

    /// Answers [`NetEvent::PasswordNeeded`].
    pub fn password(&self, password: String) {
        let _ = self.commands.send(Command::Password(password));
    }

    /// Queues a message to `room`; the outcome comes back as [`NetEvent::Sent`] or
    /// [`NetEvent::Failed`].
    pub fn send(&self, room: &str, text: String) {
        let room = room.to_owned();
        let _ = self.commands.send(Command::Send(Line {
            room,
            text,
            action: false,
        }));
    }

    /// Queues a `/me` line; reported like [`Network::send`].
    pub fn act(&self, room: &str, text: String) {
        let room = room.to_owned();
        let _ = self.commands.send(Command::Send(Line {
            room,
            text,
            action: true,
        }));
    }

    /// Enters a room, creating it if need be; reported as [`NetEvent::Entered`] or
    /// [`NetEvent::Failed`]. The room is entered again on every reconnect.
    pub fn enter(&self, room: &str) {
        let _ = self.commands.send(Command::Enter(room.to_owned()));
    }

    /// Leaves one room; reported as [`NetEvent::Parted`] or [`NetEvent::Failed`].
    pub fn part(&self, room: &str, reason: Option<String>) {
        let _ = self.commands.send(Command::Part(room.to_owned(), reason));
    }

    /// Asks for a room's topic, or (`Some`) sets it; reported as [`NetEvent::Topic`].
    pub fn topic(&self, room: &str, topic: Option<String>) {
        let _ = self.commands.send(Command::Topic(room.to_owned(), topic));
    }

    /// Asks for every room on the server; reported as [`NetEvent::Rooms`].
    pub fn rooms(&self) {
        let _ = self.commands.send(Command::Rooms);
    }

    /// Sends a direct message to the identity that owns `to`; the conversation is entered
    /// (reported as [`NetEvent::Entered`]) if it is new, and the message reported as
    /// [`NetEvent::Sent`] in it, or [`NetEvent::Failed`].
    pub fn msg(&self, to: &str, text: String) {
        let _ = self.commands.send(Command::Msg(to.to_owned(), text));
    }

    /// Opens the conversation with the identity that owns `name`; reported as
    /// [`NetEvent::Opened`] or [`NetEvent::Failed`].
    pub fn query(&self, name: &str) {
        let _ = self.commands.send(Command::Query(name.to_owned()));
    }

    /// Asks who `name` is; reported as [`NetEvent::Whois`] or [`NetEvent::Failed`].
    pub fn whois(&self, name: &str) {
        let _ = self.commands.send(Command::Whois(name.to_owned()));
    }

    /// Asks for a moderation, away or ignore request in `room`; reported as
    /// [`NetEvent::Moderated`] or [`NetEvent::Failed`].
    pub fn moderate(&self, room: &str, what: Moderation) {
        let _ = self.commands.send(Command::Moderate(room.to_owned(), what));
    }

    /// Sets this identity's notification level in `room`; reported as
    /// [`NetEvent::Notified`] or [`NetEvent::Failed`].
    pub fn notify(&self, room: &str, level: crate::rpc::types::NotifyLevel) {
        let _ = self.commands.send(Command::Notify(room.to_owned(), level));
    }

    /// Moves this identity's read marker in `room` to `seq`. Nothing is reported: a marker
    /// that could not be moved is only logged.
    pub fn mark(&self, room: &str, seq: u64) {
        let _ = self.commands.send(Command::Mark(room.to_owned(), seq));
    }

    /// Asks for a new name; the outcome comes back as [`NetEvent::Renamed`] or an error.
    pub fn nick(&self, name: String) {
        let _ = self.commands.send(Command::Nick(name));
    }

    /// Asks who is in a room; the answer comes back as [`NetEvent::Members`], or
    /// [`NetEvent::Failed`].
    pub fn who(&self, room: &str) {
        let _ = self.commands.send(Command::Who(room.to_owned()));
    }

    /// Asks for a page of a room's history; it comes back as [`NetEvent::Older`],
    /// [`NetEvent::Newer`] or [`NetEvent::Latest`], or [`NetEvent::HistoryFailed`].
    pub fn load(&self, room: &str, page: Page) {
        let _ = self.commands.send(Command::History(room.to_owned(), page));
    }

    /// Searches `room`'s history, or (`all`) everything we can read; reported as
    /// [`NetEvent::SearchResults`] or [`NetEvent::Failed`].
    pub fn search(&self, room: &str, all: bool, query: String) {
        let room = room.to_owned();
        let _ = self.commands.send(Command::Search { room, all, query });
    }

    /// Asks for `room`'s history around `seq`; reported as [`NetEvent::Around`] or
    /// [`NetEvent::Failed`].
    pub fn around(&self, room: &str, seq: u64) {
        let _ = self.commands.send(Command::Around(room.to_owned(), seq));
    }

    /// Ends the session (`/quit`), leaving every room with `reason`, waiting a short while
    /// for the server to confirm.
    pub async fn leave(&self, reason: Option<String>) {
        let (done, confirmed) = oneshot::channel();
        if self.commands.send(Command::Leave(reason, done)).is_ok() {
            let _ = tokio::time::timeout(LEAVE_TIMEOUT, confirmed).await;
        }
    }
}

/// Which page of history to fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    Before(u64),
    After(u64),
    Latest,
}
