//! The network worker: one task that owns the connection. The UI reaches it through a
//! cloneable [`Network`] handle and hears back through the event loop's channel, so the UI
//! never awaits the network itself.
//!
//! One session for the whole server, in any number of rooms: the worker knows which rooms
//! the user is in and the last seq it received from each. When the connection drops, the
//! worker says so, waits (capped exponential backoff with jitter), and tries again (given
//! several addresses, `connect A,B,C`, at the next in turn: see `servers.rs`): it ends
//! the old session if the server still has it (freeing the name), joins the first room
//! under the name it last had (after a `/nick`, the new one), enters every other room, and
//! subscribes once with the last seq of each room as its cursor, so every missed event of
//! every room arrives once and in order.
//!
//! Plain mode runs it patiently ([`Network::spawn_patient`]): a line sent while offline, or
//! whose send the connection took down with it, waits for the next session instead of
//! failing, and a rate-limited line waits its turn.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jsonrpsee::core::client::Subscription;
use jsonrpsee::ws_client::WsClient;
use rand::Rng;
use tokio::sync::mpsc;
use tokio::time::Instant;

mod handle;
mod member_sync;
mod moderate;
mod open;
mod proof;
mod resume;
mod retry;
mod servers;
mod session;
mod stream;

use self::handle::{Command, Line};
pub use self::handle::{Network, Page};
pub use self::moderate::{Outcome, role_words};
use self::open::{OpenError, Opened};
use self::retry::backoff;
pub use self::servers::ServerAddress;
use self::servers::Servers;
pub use self::stream::is_part;
use self::stream::{Listener, listen};
use super::app::{AppEvent, NetEvent};
use crate::identity::Identity;
use crate::rpc::tls::ClientTls;
use crate::rpc::types::Event;

/// How long quitting waits for the server to confirm the leave.
const LEAVE_TIMEOUT: Duration = Duration::from_secs(2);
/// Events fetched per page of history.
const HISTORY_PAGE: u32 = 100;

/// Lines fetched before a line jumped to from a search, and as many after it.
pub const AROUND_LINES: u64 = 20;

/// The `since` and `limit` of the history around `seq`: [`AROUND_LINES`] either side.
fn around_page(seq: u64) -> (u64, u32) {
    let since = seq.saturating_sub(AROUND_LINES + 1);
    (since, (seq - since + AROUND_LINES) as u32)
}

/// The rooms the worker is in, in the order they were joined, with the last seq received
/// from each: where a reconnect resumes. Own messages are not counted: an event before one
/// of them may still have been on its way. Shared with the task that reads the stream.
#[derive(Default)]
struct Rooms {
    /// Room and cursor, in joining order; the first is the one `chat_join` enters. A room
    /// not entered yet (one named with `--room`) has no cursor.
    joined: Vec<(String, Option<u64>)>,
    /// The highest seq received of a room not (yet) in `joined`: a room being entered sends
    /// what was on its way to the disk before the answer to entering comes.
    early: std::collections::HashMap<String, u64>,
    /// Rooms the stream showed we are in without our entering them (see
    /// [`Command::Adopt`]), asked for and not yet entered: asked for once.
    adopting: std::collections::HashSet<String>,
    /// The last seq of each room when it was entered: a leave of ours at or before it, in a
    /// catch-up, was undone by entering it again.
    entered_at: std::collections::HashMap<String, u64>,
    /// The name another session of our identity took (a `nick` event from ourselves): the
    /// next join asks for it, not for the one this session had.
    renamed: Option<String>,
    /// Large rooms whose member list we are behind on, to ask for when they are quiet.
    member_sync: member_sync::MemberSync,
}

impl Rooms {
    fn cursor(&mut self, room: &str) -> Option<&mut Option<u64>> {
        self.joined
            .iter_mut()
            .find(|(name, _)| name == room)
            .map(|(_, seq)| seq)
    }
}

struct Worker {
    /// The rooms to be in, and how far each has been received.
    rooms: Arc<Mutex<Rooms>>,
    /// The key to join with; none joins as a guest.
    identity: Option<Arc<Identity>>,
    /// Our own command queue, for the stream's listener to ask for rooms to be entered;
    /// weak, so the queue still closes when the UI lets go of it.
    adopt: mpsc::WeakUnboundedSender<Command>,
    /// The addresses to connect to, and which one is tried now.
    servers: Servers,
    name: Option<String>,
    password: Option<String>,
    tls: ClientTls,
    connect_timeout: Duration,
    /// Hold sends over a reconnect and wait out rate limits, rather than report failure.
    patient: bool,
    /// Lines waiting for a session, when patient.
    unsent: VecDeque<Line>,
    events: mpsc::Sender<AppEvent>,
}

/// A joined, subscribed session.
struct Session {
    client: Arc<WsClient>,
    session: String,
    /// Our member id: events from it are our other sessions'.
    me: uuid::Uuid,
    subscription: Subscription<Event>,
}

/// How a session ended.
enum Ended {
    Quit,
    Lost(String),
}

impl Worker {
    /// Notes that a large room's member list is to be asked for, as joining it did not give
    /// it, unless this client keeps no member lists (plain mode). The stream's task asks
    /// once the room is quiet (`member_sync`).
    fn sync_if_partial(&self, room: &str, listed: usize, count: u32) {
        if !self.patient && listed < count as usize {
            self.rooms()
                .member_sync
                .behind(room, std::time::Instant::now());
        }
    }

    async fn report(&self, event: NetEvent) {
        let _ = self.events.send(AppEvent::Net(event)).await;
    }

    fn rooms(&self) -> std::sync::MutexGuard<'_, Rooms> {
        self.rooms.lock().expect("the rooms lock is never poisoned")
    }

    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let mut joined_before = false;
        let mut old_session: Option<String> = None;
        let mut failures = 0u32;
        loop {
            let tried = (joined_before, failures);
            // Why getting in failed at this address, to tell once it is known what is next.
            let mut failed = None;
            match self.open(&mut old_session, tried).await {
                Ok(opened) => {
                    failures = 0;
                    joined_before = true;
                    self.servers.connected();
                    let Opened {
                        result,
                        resumed,
                        reset,
                        entered,
                        dropped,
                        session,
                    } = opened;
                    // The next session asks for the name this one has (a `guest-…` or
                    // `alice-2` the server gave), not the one first asked for.
                    self.name = Some(result.name.clone());
                    let server = self.servers.current().clone();
                    tracing::info!(url = %server.url, resumed, reset, rooms = entered.len() + 1, "joined");
                    self.sync_if_partial(&result.room, result.members.len(), result.member_count);
                    for (joined, ..) in &entered {
                        self.sync_if_partial(
                            &joined.room,
                            joined.members.len(),
                            joined.member_count,
                        );
                    }
                    if self.servers.several() {
                        self.report(NetEvent::Server(server.display)).await;
                    }
                    self.report(NetEvent::Joined {
                        result: Box::new(result),
                        resumed,
                        reset,
                    })
                    .await;
                    for (joined, resumed, reset) in entered {
                        self.report(NetEvent::Entered {
                            joined,
                            resumed,
                            reset,
                        })
                        .await;
                    }
                    for (room, error) in dropped {
                        self.report(NetEvent::Failed {
                            room: Some(room),
                            error,
                        })
                        .await;
                    }
                    match self.serve(session, &mut commands).await {
                        (Ended::Quit, _) => return,
                        (Ended::Lost(reason), session) => {
                            tracing::warn!(%reason, "connection lost");
                            self.report(NetEvent::Disconnected(reason)).await;
                            old_session = Some(session);
                        }
                    }
                }
                Err(OpenError::Unusable(reason)) if self.servers.refuse() => {
                    tracing::warn!(%reason, "cannot use this address, and will not try it again");
                    failed = Some(reason);
                }
                Err(OpenError::Permanent(reason) | OpenError::Unusable(reason)) => {
                    tracing::warn!(%reason, "cannot join, and will not try again");
                    self.report(NetEvent::Refused(reason)).await;
                    self.wait_offline(&mut commands, None).await;
                    return;
                }
                Err(OpenError::Transient(reason)) => {
                    tracing::warn!(%reason, "cannot join");
                    failed = Some(reason);
                }
                Err(OpenError::Interrupted {
                    reason,
                    session,
                    name,
                }) => {
                    tracing::warn!(%reason, "connection lost while getting in");
                    joined_before = true;
                    // The next attempt frees the name and asks for it again.
                    old_session = Some(session);
                    self.name = Some(name);
                    self.report(NetEvent::Interrupted(reason)).await;
                }
                Err(OpenError::Password { wrong }) => {
                    tracing::info!(wrong, "the server wants a password");
                    self.report(NetEvent::PasswordNeeded { wrong }).await;
                    match self.wait_for_password(&mut commands).await {
                        Some(password) => {
                            self.password = Some(password);
                            continue;
                        }
                        None => return,
                    }
                }
            }
            // The next address, at once while some of this round are untried.
            let wait = self.servers.next();
            if let Some(reason) = failed {
                let event = if wait {
                    NetEvent::Disconnected(reason)
                } else {
                    NetEvent::TryingNext(reason)
                };
                self.report(event).await;
            }
            if !wait {
                continue;
            }
            let wait = backoff(failures, rand::rng().random_range(0.8..1.2));
            failures = failures.saturating_add(1);
            if !self
                .wait_offline(&mut commands, Some(Instant::now() + wait))
                .await
            {
                return;
            }
        }
    }

    /// Runs one session: forwards its events and carries out commands until it ends.
    /// Returns how it ended and the session secret, to clean up on the next attempt.
    async fn serve(
        &mut self,
        session: Session,
        commands: &mut mpsc::UnboundedReceiver<Command>,
    ) -> (Ended, String) {
        let Session {
            client,
            session,
            me,
            subscription,
        } = session;
        let mut listener = tokio::spawn(listen(
            subscription,
            Listener {
                me,
                keep_members: !self.patient,
                events: self.events.clone(),
                rooms: self.rooms.clone(),
                adopt: self.adopt.clone(),
            },
        ));
        // What waited for this session goes first, in order.
        while let Some(line) = self.unsent.pop_front() {
            if let Err(reason) = self.send(&client, &session, line).await {
                listener.abort();
                return (Ended::Lost(reason), session);
            }
        }
        let ended = loop {
            let command = tokio::select! {
                command = commands.recv() => command,
                reason = &mut listener => {
                    break Ended::Lost(reason.unwrap_or_else(|_| "event listener failed".into()));
                }
            };
            let Some(command) = command else {
                break Ended::Quit;
            };
            match self.carry_out(&client, &session, command).await {
                Ok(None) => {}
                Ok(Some(ended)) => break ended,
                Err(reason) => break Ended::Lost(reason),
            }
        };
        listener.abort();
        (ended, session)
    }

    /// Waits for the user to type the password; `None` if they quit instead.
    async fn wait_for_password(
        &self,
        commands: &mut mpsc::UnboundedReceiver<Command>,
    ) -> Option<String> {
        loop {
            match commands.recv().await? {
                Command::Password(password) => return Some(password),
                Command::Leave(_, done) => {
                    let _ = done.send(());
                    return None;
                }
                command => self.refuse(command, "not in the room yet").await,
            }
        }
    }

    /// Reports a command that cannot be carried out now.
    async fn refuse(&self, command: Command, why: &str) {
        let event = match command {
            Command::History(room, _) => NetEvent::HistoryFailed {
                room,
                error: why.into(),
            },
            // Nothing the user asked for: tried again once connected.
            Command::Password(_)
            | Command::Mark(..)
            | Command::Adopt(_)
            | Command::SyncMembers(_) => return,
            command => command.failed(why),
        };
        self.report(event).await;
    }

    /// Without a connection: answers commands until `retry_at` (returning true) or until the
    /// user quits (returning false), counting down in the status line meanwhile.
    async fn wait_offline(
        &mut self,
        commands: &mut mpsc::UnboundedReceiver<Command>,
        retry_at: Option<Instant>,
    ) -> bool {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            let left = retry_at.map(|at| at.saturating_duration_since(Instant::now()));
            if left == Some(Duration::ZERO) {
                return true;
            }
            let command = tokio::select! {
                command = commands.recv() => command,
                _ = tick.tick(), if retry_at.is_some() => {
                    let secs = left.unwrap_or_default().as_secs_f64().ceil() as u64;
                    self.report(NetEvent::Reconnecting(secs)).await;
                    continue;
                }
            };
            match command {
                None => return false,
                Some(Command::Leave(_, done)) => {
                    let _ = done.send(());
                    return false;
                }
                Some(Command::Send(line)) if self.patient => self.unsent.push_back(line),
                Some(command) => self.refuse(command, "not connected").await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::types::EventKind;

    #[test]
    fn a_failure_says_what_failed_and_names_its_room() {
        let failed = Command::Enter("#ops".into()).failed("too many rooms");
        assert_eq!(
            failed,
            NetEvent::Failed {
                room: Some("#ops".into()),
                error: "cannot join #ops: too many rooms".into()
            }
        );
        let failed = Command::Rooms.failed("not connected");
        assert_eq!(
            failed,
            NetEvent::Failed {
                room: None,
                error: "cannot list the rooms: not connected".into()
            }
        );
    }

    /// A listener for member `me`, in `rooms` at the cursors given, and the queue it asks
    /// for rooms to be entered on.
    fn listener(
        me: uuid::Uuid,
        joined: &[(&str, u64)],
    ) -> (
        Listener,
        mpsc::UnboundedReceiver<Command>,
        mpsc::UnboundedSender<Command>,
    ) {
        let (events, _) = mpsc::channel(1);
        let (commands, queue) = mpsc::unbounded_channel();
        let rooms = Rooms {
            joined: joined
                .iter()
                .map(|(room, seq)| ((*room).to_owned(), Some(*seq)))
                .collect(),
            ..Rooms::default()
        };
        let listener = Listener {
            me,
            keep_members: true,
            events,
            rooms: Arc::new(Mutex::new(rooms)),
            adopt: commands.downgrade(),
        };
        (listener, queue, commands)
    }

    fn event(room: &str, seq: u64, kind: EventKind, from: uuid::Uuid) -> Event {
        Event {
            room: room.into(),
            seq,
            ts: 0,
            kind,
            from: crate::rpc::types::MemberInfo {
                id: from,
                name: "someone".into(),
                guest: false,
                ..Default::default()
            },
            text: None,
            ..Default::default()
        }
    }

    #[test]
    fn a_presence_event_that_names_not_every_change_puts_the_member_list_behind() {
        let me = uuid::Uuid::from_u128(1);
        let (mut listener, _queue, _commands) = listener(me, &[("#big", 10)]);
        let behind =
            |listener: &Listener| listener.rooms.lock().unwrap().member_sync.is_behind("#big");
        let mut tick = event("#big", 0, EventKind::Presence, uuid::Uuid::nil());
        let mut presence = crate::rpc::types::Presence {
            count: 500,
            joins: 40,
            complete: true,
            ..Default::default()
        };
        tick.presence = Some(Box::new(presence.clone()));
        listener.track(&tick);
        assert!(!behind(&listener), "every change named: nothing to ask");
        presence.complete = false;
        tick.presence = Some(Box::new(presence.clone()));
        listener.track(&tick);
        assert!(behind(&listener));
        // The list itself catches it up.
        presence.members = Some(Vec::new());
        tick.presence = Some(Box::new(presence.clone()));
        listener.track(&tick);
        assert!(!behind(&listener));
        assert_eq!(
            cursors(&listener),
            [("#big".to_owned(), Some(10))],
            "no cursor moved"
        );
        // Plain mode keeps no member lists: never behind.
        listener.keep_members = false;
        presence.members = None;
        tick.presence = Some(Box::new(presence));
        listener.track(&tick);
        assert!(!behind(&listener));
    }

    fn cursors(listener: &Listener) -> Vec<(String, Option<u64>)> {
        listener.rooms.lock().unwrap().joined.clone()
    }

    #[test]
    fn a_read_marker_moves_no_cursor() {
        let (me, alice) = (uuid::Uuid::from_u128(1), uuid::Uuid::from_u128(2));
        let (listener, mut queue, _keep) = listener(me, &[("#general", 4)]);
        listener.track(&event("#general", 9, EventKind::Read, me));
        assert_eq!(cursors(&listener), [("#general".to_owned(), Some(4))]);
        listener.track(&event("#general", 5, EventKind::Message, alice));
        assert_eq!(cursors(&listener), [("#general".to_owned(), Some(5))]);
        assert!(queue.try_recv().is_err(), "nothing to enter");
    }

    #[test]
    fn told_to_us_alone_moves_no_cursor_and_being_kicked_drops_the_room() {
        let (me, alice) = (uuid::Uuid::from_u128(1), uuid::Uuid::from_u128(2));
        let (listener, mut queue, _keep) = listener(me, &[("#general", 4), ("#ops", 2)]);
        // An invitation to a room we are not in, and an ignore (room ""), seq 0.
        listener.track(&event("#secret", 0, EventKind::Invited, alice));
        listener.track(&event("", 0, EventKind::Ignore, me));
        assert!(queue.try_recv().is_err(), "nothing to enter");
        let rooms = listener.rooms.lock().unwrap();
        assert!(rooms.early.is_empty(), "{:?}", rooms.early);
        drop(rooms);
        assert_eq!(cursors(&listener).len(), 2);
        // Kicked from #ops: not entered again on the next reconnect.
        let mut kick = event("#ops", 3, EventKind::Kick, alice);
        kick.target = Some(crate::rpc::types::MemberInfo {
            id: me,
            name: "bob".into(),
            ..Default::default()
        });
        listener.track(&kick);
        assert_eq!(cursors(&listener), [("#general".to_owned(), Some(4))]);
    }

    #[test]
    fn a_conversation_someone_opened_and_a_room_our_other_session_entered_are_entered_once() {
        let (me, alice) = (uuid::Uuid::from_u128(1), uuid::Uuid::from_u128(2));
        let (listener, mut queue, _keep) = listener(me, &[("#general", 4)]);
        let dm = "dm:a+b";
        listener.track(&event(dm, 1, EventKind::Message, alice));
        listener.track(&event(dm, 2, EventKind::Message, alice));
        listener.track(&event("#ops", 7, EventKind::Join, me));
        // Someone else's join in a room we are not in (yet) is no reason to enter it.
        listener.track(&event("#dev", 3, EventKind::Join, alice));
        let asked: Vec<String> = std::iter::from_fn(|| match queue.try_recv() {
            Ok(Command::Adopt(room)) => Some(room),
            _ => None,
        })
        .collect();
        assert_eq!(asked, [dm, "#ops"]);
        assert_eq!(listener.rooms.lock().unwrap().early.get(dm), Some(&2));
    }

    #[test]
    fn a_room_our_other_session_parted_is_not_entered_again_and_its_name_is_kept() {
        let (me, _) = (uuid::Uuid::from_u128(1), ());
        let (listener, _queue, _keep) = listener(me, &[("#general", 4), ("#ops", 2)]);
        listener
            .rooms
            .lock()
            .unwrap()
            .entered_at
            .insert("#ops".into(), 2);
        let mut part = event("#ops", 2, EventKind::Leave, me);
        part.text = Some("Part: before we came back".into());
        listener.track(&part);
        assert_eq!(cursors(&listener).len(), 2, "undone by entering it again");
        part.seq = 3;
        part.text = Some("server shutting down".into());
        listener.track(&part);
        assert_eq!(
            cursors(&listener).len(),
            2,
            "the end of a session, not a part"
        );
        part.seq = 4;
        part.text = Some("Part: lunch".into());
        listener.track(&part);
        assert_eq!(cursors(&listener), [("#general".to_owned(), Some(4))]);
        let mut nick = event("#general", 5, EventKind::Nick, me);
        nick.from.name = "robert".into();
        listener.track(&nick);
        assert_eq!(
            listener.rooms.lock().unwrap().renamed.as_deref(),
            Some("robert")
        );
    }
}
