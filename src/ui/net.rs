//! The network worker: one task that owns the connection. The UI reaches it through a
//! cloneable [`Network`] handle and hears back through the event loop's channel, so the UI
//! never awaits the network itself.
//!
//! When the connection drops, the worker says so, waits (capped exponential backoff with
//! jitter), and tries again: it ends the old session if the server still has it (freeing
//! the name), joins under the name it last had (after a `/nick`, the new one), and
//! subscribes from the last seq it received, so every missed event arrives once and in
//! order.
//!
//! Plain mode runs it patiently ([`Network::spawn_patient`]): a line sent while offline, or
//! whose send the connection took down with it, waits for the next session instead of
//! failing, and a rate-limited line waits its turn.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use jsonrpsee::core::ClientError;
use jsonrpsee::core::client::{Subscription, SubscriptionCloseReason};
use jsonrpsee::ws_client::WsClient;
use rand::Rng;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::app::{AppEvent, NetEvent};
use super::run::ConnectOptions;
use crate::rpc::client::{ConnectError, SUBSCRIPTION_BUFFER, connect_within, describe};
use crate::rpc::tls::ClientTls;
use crate::rpc::types::{Event, JoinResult};
use crate::rpc::{ChatApiClient, codes};

/// How long quitting waits for the server to confirm the leave.
const LEAVE_TIMEOUT: Duration = Duration::from_secs(2);
/// The first wait before reconnecting; it doubles with every failure.
const FIRST_RETRY: Duration = Duration::from_secs(1);
/// The longest wait between attempts.
const MAX_RETRY: Duration = Duration::from_secs(30);
/// Events fetched per page of history.
const HISTORY_PAGE: u32 = 100;

enum Command {
    Send {
        text: String,
        action: bool,
    },
    Nick(String),
    /// Who is in the room, asked of the server.
    Who,
    /// A page of history: which one, and how to report it.
    History(Page),
    /// The password the user typed when asked.
    Password(String),
    Leave(oneshot::Sender<()>),
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
        let worker = Worker {
            url: options.url.clone(),
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

    /// Queues a message; the outcome comes back as [`NetEvent::Sent`] or [`NetEvent::SendFailed`].
    pub fn send(&self, text: String) {
        let _ = self.commands.send(Command::Send {
            text,
            action: false,
        });
    }

    /// Queues a `/me` line; reported like [`Network::send`].
    pub fn act(&self, text: String) {
        let _ = self.commands.send(Command::Send { text, action: true });
    }

    /// Asks for a new name; the outcome comes back as [`NetEvent::Renamed`] or an error.
    pub fn nick(&self, name: String) {
        let _ = self.commands.send(Command::Nick(name));
    }

    /// Asks who is in the room; the answer comes back as [`NetEvent::Members`], or
    /// [`NetEvent::SendFailed`].
    pub fn who(&self) {
        let _ = self.commands.send(Command::Who);
    }

    /// Asks for a page of history; it comes back as [`NetEvent::Older`], [`NetEvent::Newer`]
    /// or [`NetEvent::Latest`], or [`NetEvent::HistoryFailed`].
    pub fn load(&self, page: Page) {
        let _ = self.commands.send(Command::History(page));
    }

    /// Leaves the room, waiting a short while for the server to confirm.
    pub async fn leave(&self) {
        let (done, confirmed) = oneshot::channel();
        if self.commands.send(Command::Leave(done)).is_ok() {
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

struct Worker {
    url: String,
    name: Option<String>,
    password: Option<String>,
    tls: ClientTls,
    connect_timeout: Duration,
    /// Hold sends over a reconnect and wait out rate limits, rather than report failure.
    patient: bool,
    /// Lines (and whether each is a `/me`) waiting for a session, when patient.
    unsent: VecDeque<(String, bool)>,
    events: mpsc::Sender<AppEvent>,
}

/// A joined, subscribed session.
struct Session {
    client: Arc<WsClient>,
    session: String,
    subscription: Subscription<Event>,
}

/// Why the worker could not get into the room.
enum OpenError {
    /// Worth trying again later: the network, the server restarting, a rate limit.
    Transient(String),
    /// Trying again would get the same answer (a reserved name, an untrusted certificate).
    Permanent(String),
    /// The room needs a password, or a different one.
    Password { wrong: bool },
}

/// How a session ended.
enum Ended {
    Quit,
    Lost(String),
}

impl Worker {
    async fn report(&self, event: NetEvent) {
        let _ = self.events.send(AppEvent::Net(event)).await;
    }

    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        // The highest seq received from the room: where a reconnect resumes. Own messages
        // are not counted: an event before one of them may still have been on its way.
        let last_seq = Arc::new(AtomicU64::new(0));
        let mut joined_before = false;
        let mut old_session: Option<String> = None;
        let mut failures = 0u32;
        loop {
            let since = joined_before.then(|| last_seq.load(Ordering::Relaxed));
            let tried = (joined_before, failures);
            match self.open(&mut old_session, since, tried).await {
                Ok((result, session)) => {
                    failures = 0;
                    // A room whose history ends before what we saw was reset (a new
                    // in-memory server, a replaced database): start afresh.
                    let reset = since.is_some_and(|since| since > result.last_seq);
                    if !joined_before || reset {
                        last_seq.store(result.last_seq, Ordering::Relaxed);
                    }
                    let resumed = joined_before && !reset;
                    joined_before = true;
                    // The next session asks for the name this one has (a `guest-…` or
                    // `alice-2` the server gave), not the one first asked for.
                    self.name = Some(result.name.clone());
                    tracing::info!(url = %self.url, resumed, reset, "joined");
                    self.report(NetEvent::Joined {
                        result,
                        resumed,
                        reset,
                    })
                    .await;
                    match self.serve(session, &mut commands, &last_seq).await {
                        (Ended::Quit, _) => return,
                        (Ended::Lost(reason), session) => {
                            tracing::warn!(%reason, "connection lost");
                            self.report(NetEvent::Disconnected(reason)).await;
                            old_session = Some(session);
                        }
                    }
                }
                Err(OpenError::Permanent(reason)) => {
                    tracing::warn!(%reason, "cannot join, and will not try again");
                    self.report(NetEvent::Refused(reason)).await;
                    self.wait_offline(&mut commands, None).await;
                    return;
                }
                Err(OpenError::Transient(reason)) => {
                    tracing::warn!(%reason, "cannot join");
                    self.report(NetEvent::Disconnected(reason)).await;
                }
                Err(OpenError::Password { wrong }) => {
                    tracing::info!(wrong, "the room wants a password");
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

    /// Connects, ends the previous session if the server still has it, joins and subscribes.
    /// `tried`: whether it ever got in, and how many attempts failed since (see [`gives_up`]).
    async fn open(
        &self,
        old_session: &mut Option<String>,
        since: Option<u64>,
        (joined_before, failures): (bool, u32),
    ) -> Result<(JoinResult, Session), OpenError> {
        let client = connect_within(
            &self.url,
            &self.tls,
            SUBSCRIPTION_BUFFER,
            self.connect_timeout,
        )
        .await
        .map_err(|err| {
            if gives_up(&err, joined_before, failures) {
                OpenError::Permanent(err.to_string())
            } else {
                OpenError::Transient(err.to_string())
            }
        })?;
        // Taken only now: an attempt that could not connect leaves it for the next.
        if let Some(old) = old_session.take() {
            // Frees our name if the server has not noticed the old connection is gone.
            let _ = client.leave(old, None).await;
        }
        let joined = client
            .join(self.name.clone(), self.password.clone(), None)
            .await;
        let result = joined.map_err(|err| {
            let code = match &err {
                ClientError::Call(e) => e.code(),
                _ => 0,
            };
            match code {
                codes::PASSWORD_REQUIRED => OpenError::Password { wrong: false },
                codes::WRONG_PASSWORD => OpenError::Password { wrong: true },
                codes::NAME_RESERVED => OpenError::Permanent(describe(&err)),
                _ => OpenError::Transient(describe(&err)),
            }
        })?;
        // First time, from the end of the history we were given; afterwards, from the last
        // event received, unless the room's history no longer reaches that far.
        let since = since
            .filter(|&since| since <= result.last_seq)
            .unwrap_or(result.last_seq);
        let subscription = client
            .subscribe_events(result.session.clone(), Some(since), None)
            .await
            .map_err(|err| OpenError::Transient(describe(&err)))?;
        let session = Session {
            client: Arc::new(client),
            session: result.session.clone(),
            subscription,
        };
        Ok((result, session))
    }

    /// Runs one session: forwards its events and carries out commands until it ends.
    /// Returns how it ended and the session secret, to clean up on the next attempt.
    async fn serve(
        &mut self,
        session: Session,
        commands: &mut mpsc::UnboundedReceiver<Command>,
        last_seq: &Arc<AtomicU64>,
    ) -> (Ended, String) {
        let Session {
            client,
            session,
            subscription,
        } = session;
        let mut listener =
            tokio::spawn(listen(subscription, self.events.clone(), last_seq.clone()));
        // What waited for this session goes first, in order.
        while let Some((text, action)) = self.unsent.pop_front() {
            if let Err(reason) = self.send(&client, &session, text, action).await {
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
            match command {
                Command::Send { text, action } => {
                    if let Err(reason) = self.send(&client, &session, text, action).await {
                        break Ended::Lost(reason);
                    }
                }
                Command::Nick(name) => {
                    let outcome = match client.nick(session.clone(), name).await {
                        Ok(result) => {
                            // Kept for the next session, so a reconnect does not undo it.
                            self.name = Some(result.name.clone());
                            NetEvent::Renamed(result.name)
                        }
                        Err(err) => NetEvent::SendFailed {
                            error: describe(&err),
                        },
                    };
                    self.report(outcome).await;
                }
                Command::Who => {
                    let outcome = match client.members(Some(session.clone()), None).await {
                        Ok(members) => NetEvent::Members(members),
                        Err(err) => NetEvent::SendFailed {
                            error: describe(&err),
                        },
                    };
                    self.report(outcome).await;
                }
                Command::History(page) => {
                    let (before, since) = match page {
                        Page::Before(seq) => (Some(seq), None),
                        Page::After(seq) => (None, Some(seq)),
                        Page::Latest => (None, None),
                    };
                    let events = client
                        .history(session.clone(), before, since, Some(HISTORY_PAGE), None)
                        .await;
                    let outcome = match (events, page) {
                        (Ok(events), Page::Before(_)) => NetEvent::Older(events),
                        (Ok(events), Page::After(_)) => NetEvent::Newer(events),
                        (Ok(events), Page::Latest) => NetEvent::Latest(events),
                        (Err(err), _) => NetEvent::HistoryFailed(describe(&err)),
                    };
                    self.report(outcome).await;
                }
                // Only asked for while joining; by now it is settled.
                Command::Password(_) => {}
                Command::Leave(done) => {
                    if let Err(err) = client.leave(session.clone(), None).await {
                        tracing::warn!(%err, "leave failed");
                    }
                    let _ = done.send(());
                    break Ended::Quit;
                }
            }
        };
        listener.abort();
        (ended, session)
    }

    /// Sends one line and reports how it went. Patient, it waits out a rate limit, and a
    /// line the connection failed under is kept for the next session: the error is then
    /// returned, as the session is over.
    async fn send(
        &mut self,
        client: &WsClient,
        session: &str,
        text: String,
        action: bool,
    ) -> Result<(), String> {
        let started = Instant::now();
        let outcome = loop {
            let sent = client
                .send(
                    session.to_owned(),
                    text.clone(),
                    action.then_some(true),
                    None,
                )
                .await;
            match sent {
                Ok(sent) => {
                    break NetEvent::Sent {
                        seq: sent.seq,
                        text,
                        latency_ms: started.elapsed().as_millis() as u64,
                        action,
                        ts: crate::rpc::types::unix_ms(),
                    };
                }
                Err(ClientError::Call(err))
                    if self.patient && err.code() == codes::RATE_LIMITED =>
                {
                    tokio::time::sleep(retry_after(&err)).await;
                }
                // Not refused by the server but by the connection failing under it, or the
                // session ending with it (a shutdown). Whether it was stored before that is
                // unknown; sending it again may repeat it, but a script's line is not lost.
                Err(err) if self.patient && session_is_over(&err) => {
                    self.unsent.push_front((text, action));
                    return Err(describe(&err));
                }
                Err(err) => {
                    break NetEvent::SendFailed {
                        error: describe(&err),
                    };
                }
            }
        };
        self.report(outcome).await;
        Ok(())
    }

    /// Waits for the user to type the password; `None` if they quit instead.
    async fn wait_for_password(
        &self,
        commands: &mut mpsc::UnboundedReceiver<Command>,
    ) -> Option<String> {
        loop {
            match commands.recv().await? {
                Command::Password(password) => return Some(password),
                Command::Leave(done) => {
                    let _ = done.send(());
                    return None;
                }
                Command::Send { .. } | Command::Nick(_) | Command::Who => {
                    self.report(NetEvent::SendFailed {
                        error: "not in the room yet".into(),
                    })
                    .await;
                }
                Command::History(_) => {
                    self.report(NetEvent::HistoryFailed("not in the room yet".into()))
                        .await;
                }
            }
        }
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
                Some(Command::Leave(done)) => {
                    let _ = done.send(());
                    return false;
                }
                Some(Command::Send { text, action }) if self.patient => {
                    self.unsent.push_back((text, action));
                }
                Some(Command::Send { .. } | Command::Nick(_) | Command::Who) => {
                    self.report(NetEvent::SendFailed {
                        error: "not connected".into(),
                    })
                    .await;
                }
                Some(Command::Password(_)) => {}
                Some(Command::History(_)) => {
                    self.report(NetEvent::HistoryFailed("not connected".into()))
                        .await;
                }
            }
        }
    }
}

/// The wait before attempt `failures + 1`: doubling from one second, capped at thirty,
/// scaled by `jitter` so clients dropped together do not all return together.
fn backoff(failures: u32, jitter: f64) -> Duration {
    let base = FIRST_RETRY.saturating_mul(1u32 << failures.min(16));
    base.min(MAX_RETRY).mul_f64(jitter)
}

/// Whether a failure to connect ends the attempts: what trying again cannot change, and a
/// host name that does not resolve on the very first attempt (a typo). A host that
/// resolved before (the client got in, or the server was only down) and fails now is the
/// network going away, worth waiting for.
fn gives_up(err: &ConnectError, joined_before: bool, failures: u32) -> bool {
    err.is_permanent() || (err.is_unknown_host() && !joined_before && failures == 0)
}

/// Whether a failed call says the session is gone rather than the call refused.
fn session_is_over(err: &ClientError) -> bool {
    match err {
        ClientError::Call(err) => {
            matches!(err.code(), codes::SESSION_ENDED | codes::UNKNOWN_SESSION)
        }
        _ => true,
    }
}

/// How long a rate-limited sender is told to wait.
fn retry_after(err: &jsonrpsee::types::ErrorObjectOwned) -> Duration {
    let wait = err
        .data()
        .and_then(|data| serde_json::from_str::<serde_json::Value>(data.get()).ok())
        .and_then(|data| data["retry_after_ms"].as_u64())
        .unwrap_or(1000);
    Duration::from_millis(wait)
}

/// Forwards room events to the event loop until the subscription ends; returns why it ended.
async fn listen(
    mut subscription: Subscription<Event>,
    events: mpsc::Sender<AppEvent>,
    last_seq: Arc<AtomicU64>,
) -> String {
    while let Some(item) = subscription.next().await {
        let event = match item {
            Ok(event) => event,
            Err(err) => {
                tracing::warn!(%err, "undecodable event");
                continue;
            }
        };
        last_seq.fetch_max(event.seq, Ordering::Relaxed);
        if events
            .send(AppEvent::Net(NetEvent::Event(event)))
            .await
            .is_err()
        {
            break;
        }
    }
    match subscription.close_reason() {
        Some(SubscriptionCloseReason::Lagged) => "fell too far behind the room".into(),
        _ => "connection closed".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_a_second_up_to_thirty() {
        let waits: Vec<u64> = (0..8).map(|n| backoff(n, 1.0).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(backoff(u32::MAX, 1.0), MAX_RETRY);
    }

    #[test]
    fn an_unknown_host_is_given_up_on_only_at_the_very_first_attempt() {
        let unknown = ConnectError::UnknownHost {
            url: "ws://chat.example:7777/".into(),
            cause: ClientError::Custom("no such host".into()),
        };
        assert!(gives_up(&unknown, false, 0), "a typo");
        assert!(
            !gives_up(&unknown, false, 3),
            "the server was down at start, then the network went"
        );
        assert!(!gives_up(&unknown, true, 0), "an outage after getting in");
        let refused = ConnectError::Connect {
            url: "ws://chat.example:7777/".into(),
            cause: ClientError::Custom("connection refused".into()),
        };
        assert!(!gives_up(&refused, false, 0));
        let tls = ConnectError::TlsPort {
            url: "ws://chat.example:7777/".into(),
        };
        assert!(gives_up(&tls, true, 5));
    }

    #[test]
    fn jitter_spreads_the_wait() {
        assert_eq!(backoff(2, 0.8), Duration::from_millis(3200));
        assert_eq!(backoff(2, 1.2), Duration::from_millis(4800));
    }
}
