//! The network worker: one task that owns the connection. The UI reaches it through a
//! cloneable [`Network`] handle and hears back through the event loop's channel, so the UI
//! never awaits the network itself.

use std::sync::Arc;
use std::time::Duration;

use jsonrpsee::core::ClientError;
use jsonrpsee::core::client::{Subscription, SubscriptionCloseReason};
use tokio::sync::{mpsc, oneshot};

use super::app::{AppEvent, NetEvent};
use crate::rpc::ChatApiClient;
use crate::rpc::client::connect;
use crate::rpc::types::Event;

/// How long quitting waits for the server to confirm the leave.
const LEAVE_TIMEOUT: Duration = Duration::from_secs(2);

enum Command {
    Send(String),
    Leave(oneshot::Sender<()>),
}

/// The UI's handle on the network worker.
#[derive(Clone)]
pub struct Network {
    commands: mpsc::UnboundedSender<Command>,
}

impl Network {
    /// Starts the worker: connect, join, subscribe, then report everything on `events`.
    pub fn spawn(url: String, name: Option<String>, events: mpsc::Sender<AppEvent>) -> Self {
        let (commands, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(url, name, events, rx));
        Self { commands }
    }

    /// Queues a message; the outcome comes back as [`NetEvent::Sent`] or [`NetEvent::SendFailed`].
    pub fn send(&self, text: String) {
        let _ = self.commands.send(Command::Send(text));
    }

    /// Leaves the room, waiting a short while for the server to confirm.
    pub async fn leave(&self) {
        let (done, confirmed) = oneshot::channel();
        if self.commands.send(Command::Leave(done)).is_ok() {
            let _ = tokio::time::timeout(LEAVE_TIMEOUT, confirmed).await;
        }
    }
}

async fn run(
    url: String,
    name: Option<String>,
    events: mpsc::Sender<AppEvent>,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    let report = |event: NetEvent| {
        let events = events.clone();
        async move {
            let _ = events.send(AppEvent::Net(event)).await;
        }
    };

    let client = match connect(&url).await {
        Ok(client) => Arc::new(client),
        Err(err) => return disconnected(err.to_string(), report, commands).await,
    };
    let joined = match client.join(name).await {
        Ok(joined) => joined,
        Err(err) => return disconnected(describe(err), report, commands).await,
    };
    let session = joined.session.clone();
    let subscription = match client.subscribe_events(session.clone(), None).await {
        Ok(subscription) => subscription,
        Err(err) => return disconnected(describe(err), report, commands).await,
    };
    report(NetEvent::Joined(joined)).await;
    tracing::info!(%url, "joined");

    let mut listener = tokio::spawn(listen(subscription, events.clone()));

    loop {
        let command = tokio::select! {
            command = commands.recv() => command,
            reason = &mut listener => {
                // Without its event stream the session is no use: end it if the server still
                // has it, and let the connection go.
                let _ = tokio::time::timeout(LEAVE_TIMEOUT, client.leave(session)).await;
                drop(client);
                let reason = reason.unwrap_or_else(|_| "event listener failed".into());
                return disconnected(reason, report, commands).await;
            }
        };
        let Some(command) = command else { return };
        match command {
            Command::Send(text) => {
                let outcome = match client.send(session.clone(), text.clone()).await {
                    Ok(sent) => NetEvent::Sent {
                        seq: sent.seq,
                        text,
                    },
                    Err(err) => NetEvent::SendFailed {
                        error: describe(err),
                    },
                };
                report(outcome).await;
            }
            Command::Leave(done) => {
                if let Err(err) = client.leave(session.clone()).await {
                    tracing::warn!(%err, "leave failed");
                }
                listener.abort();
                let _ = done.send(());
                return;
            }
        }
    }
}

/// What went wrong, in words for the user: the server's own message for a refused call.
fn describe(err: ClientError) -> String {
    match err {
        ClientError::Call(err) => err.message().to_owned(),
        other => other.to_string(),
    }
}

/// Forwards room events to the event loop until the subscription ends; returns why it ended.
async fn listen(mut subscription: Subscription<Event>, events: mpsc::Sender<AppEvent>) -> String {
    while let Some(item) = subscription.next().await {
        let event = match item {
            Ok(event) => NetEvent::Event(event),
            Err(err) => {
                tracing::warn!(%err, "undecodable event");
                continue;
            }
        };
        if events.send(AppEvent::Net(event)).await.is_err() {
            break;
        }
    }
    match subscription.close_reason() {
        Some(SubscriptionCloseReason::Lagged) => "fell too far behind the room".into(),
        _ => "connection closed".into(),
    }
}

/// Without a connection: report why, then answer sends with an error until asked to leave.
async fn disconnected<F, Fut>(
    reason: String,
    report: F,
    mut commands: mpsc::UnboundedReceiver<Command>,
) where
    F: Fn(NetEvent) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    tracing::warn!(%reason, "disconnected");
    report(NetEvent::Disconnected(reason)).await;
    while let Some(command) = commands.recv().await {
        match command {
            Command::Send(_) => {
                report(NetEvent::SendFailed {
                    error: "not connected".into(),
                })
                .await
            }
            Command::Leave(done) => {
                let _ = done.send(());
                return;
            }
        }
    }
}
