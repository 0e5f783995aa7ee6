//! The server: accepts TCP connections, serves the chat API over WebSocket and plain HTTP
//! POST on the same port, and ties each WebSocket session to the connection that made it.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jsonrpsee::core::{BoxError, SubscriptionResult, async_trait};
use jsonrpsee::server::{
    HttpRequest, Methods, PendingSubscriptionSink, PingConfig, RpcModule,
    ServerConfig as RpcServerConfig, serve_with_graceful_shutdown, stop_channel, ws,
};
use jsonrpsee::types::ErrorObjectOwned;
use jsonrpsee::{Extensions, SubscriptionMessage};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio::time::{Instant, timeout_at};
use tower::Service;
use tracing::Instrument;

use super::types::{Event, JoinResult, MemberInfo, SendResult};
use super::{ChatApiServer, DEFAULT_POLL_TIMEOUT_MS, MAX_POLL_EVENTS, MAX_POLL_TIMEOUT_MS};
use crate::room::{LeaveReason, Lifetime, Room, RoomConfig};

/// How long the accept loop pauses after a failed accept.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(100);

/// Everything a server can be tuned with; `chatroom serve` fills it from its flags.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub room: RoomConfig,
    /// Open connections at once, WebSocket and HTTP together (jsonrpsee's default is only 100).
    pub max_connections: u32,
    /// Largest request or WebSocket message accepted, in bytes.
    pub max_request_bytes: u32,
    /// Largest response, in bytes: a full poll batch or a big member list must fit.
    pub max_response_bytes: u32,
    /// Subscriptions one connection may hold open.
    pub max_subscriptions_per_connection: u32,
    /// Outgoing messages buffered per connection before its subscriptions wait.
    pub connection_buffer: u32,
    /// How often the server pings each WebSocket peer.
    pub ping_interval: Duration,
    /// How long a WebSocket peer may stay silent (no pong, no message) before it is dropped.
    pub ping_timeout: Duration,
    /// How long an HTTP-only member may go without a call or poll before it is removed.
    pub http_idle_timeout: Duration,
    /// How long shutdown waits for connections to close before giving up on them.
    pub shutdown_grace: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            room: RoomConfig::default(),
            max_connections: 10_000,
            max_request_bytes: 64 * 1024,
            max_response_bytes: 16 * 1024 * 1024,
            max_subscriptions_per_connection: 4,
            connection_buffer: 1024,
            ping_interval: Duration::from_secs(10),
            ping_timeout: Duration::from_secs(20),
            http_idle_timeout: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

/// A server that has started; dropping it does not stop it, the shutdown future does.
pub struct RunningServer {
    addr: SocketAddr,
    room: Room,
    task: tokio::task::JoinHandle<()>,
}

impl RunningServer {
    /// The address actually bound, e.g. the port picked for `127.0.0.1:0`.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn room(&self) -> &Room {
        &self.room
    }

    /// Resolves once the server has shut down and its connections have closed.
    pub async fn stopped(self) {
        let _ = self.task.await;
    }
}

/// Starts serving one room on `listener` until `shutdown` resolves.
pub async fn start(
    listener: TcpListener,
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<RunningServer> {
    let addr = listener.local_addr()?;
    let room = Room::new(config.room.clone());
    let methods: Methods = rpc_module(room.clone()).into();
    let task = tokio::spawn(
        run(listener, config, room.clone(), methods, shutdown)
            .instrument(tracing::info_span!("server", %addr)),
    );
    tracing::info!(%addr, "listening");
    Ok(RunningServer { addr, room, task })
}

/// The chat API bound to one room, ready to serve.
pub fn rpc_module(room: Room) -> RpcModule<ChatService> {
    ChatService { room }.into_rpc()
}

async fn run(
    listener: TcpListener,
    config: ServerConfig,
    room: Room,
    methods: Methods,
    shutdown: impl Future<Output = ()>,
) {
    let (stop_handle, server_handle) = stop_channel();
    let svc_builder = jsonrpsee::server::Server::builder()
        .set_config(rpc_server_config(&config))
        .to_service_builder();
    let reaper = tokio::spawn(reap_idle_members(room.clone(), config.http_idle_timeout));
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);

    loop {
        let (socket, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors, most likely: the failed connection stays in
                    // the backlog, so pause instead of spinning on it.
                    tracing::warn!(%err, "accept failed");
                    tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Reap finished connection tasks so the set does not grow without bound.
        while let Some(finished) = connections.try_join_next() {
            log_connection_end(finished);
        }

        let room = room.clone();
        let methods = methods.clone();
        let stop = stop_handle.clone();
        let svc_builder = svc_builder.clone();
        let service = tower::service_fn(move |mut request: HttpRequest<hyper::body::Incoming>| {
            let mut service = svc_builder.clone().build(methods.clone(), stop.clone());
            if ws::is_upgrade_request(&request) {
                let scope = ConnectionScope::new(room.clone());
                request.extensions_mut().insert(scope.clone());
                let closed = service.on_session_closed();
                tokio::spawn(async move {
                    closed.await;
                    scope.close();
                });
            }
            service.call(request)
        });
        let stopped = stop_handle.clone().shutdown();
        connections.spawn(
            serve_with_graceful_shutdown(socket, service, stopped)
                .instrument(tracing::debug_span!("connection", %remote)),
        );
    }

    tracing::info!("shutting down");
    reaper.abort();
    let _ = server_handle.stop();
    // `stopped` waits for every stop handle to go, ours included.
    drop((stop_handle, svc_builder));
    let deadline = Instant::now() + config.shutdown_grace;
    while let Ok(Some(finished)) = timeout_at(deadline, connections.join_next()).await {
        log_connection_end(finished);
    }
    // WebSocket connections run in jsonrpsee's own tasks; they hold stop handles until closed.
    if timeout_at(deadline, server_handle.stopped()).await.is_err() || !connections.is_empty() {
        tracing::warn!("connections still open after the grace period; dropping them");
    }
}

fn log_connection_end(finished: Result<Result<(), BoxError>, tokio::task::JoinError>) {
    match finished {
        Ok(Ok(())) => {}
        Ok(Err(err)) => tracing::debug!(%err, "connection ended with an error"),
        Err(err) => tracing::error!(%err, "connection task failed"),
    }
}

fn rpc_server_config(config: &ServerConfig) -> RpcServerConfig {
    RpcServerConfig::builder()
        .max_connections(config.max_connections)
        .max_request_body_size(config.max_request_bytes)
        .max_response_body_size(config.max_response_bytes)
        .max_subscriptions_per_connection(config.max_subscriptions_per_connection)
        .set_message_buffer_capacity(config.connection_buffer)
        .enable_ws_ping(
            PingConfig::new()
                .ping_interval(config.ping_interval)
                .inactive_limit(config.ping_timeout),
        )
        .build()
}

/// Removes HTTP-only members that stopped polling, checking a few times per timeout.
async fn reap_idle_members(room: Room, idle: Duration) {
    let mut tick = tokio::time::interval((idle / 4).max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let removed = room.expire_idle(std::time::Instant::now(), idle);
        if removed > 0 {
            tracing::info!(removed, "removed idle HTTP members");
        }
    }
}

/// The sessions created over one WebSocket connection, which end when it closes.
#[derive(Clone)]
struct ConnectionScope {
    room: Room,
    /// `None` once the connection has closed.
    sessions: Arc<Mutex<Option<Vec<String>>>>,
}

impl ConnectionScope {
    fn new(room: Room) -> Self {
        Self {
            room,
            sessions: Arc::new(Mutex::new(Some(Vec::new()))),
        }
    }

    /// Binds a session to this connection; if the connection is already gone, the session
    /// ends at once so it cannot outlive it.
    fn adopt(&self, session: &str) {
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        match sessions.as_mut() {
            Some(list) => {
                // Forget sessions that already ended, so a join/leave loop on one
                // connection does not grow the list.
                list.retain(|s| self.room.member(s).is_ok());
                list.push(session.to_owned());
            }
            None => {
                drop(sessions);
                let _ = self.room.leave(session, LeaveReason::ConnectionClosed);
            }
        }
    }

    fn close(&self) {
        let sessions = self
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        for session in sessions.into_iter().flatten() {
            // Sessions that left by themselves are already gone; that is fine.
            let _ = self.room.leave(&session, LeaveReason::ConnectionClosed);
        }
    }
}

/// The chat API's server side: thin translation between JSON-RPC and the room.
pub struct ChatService {
    room: Room,
}

#[async_trait]
impl ChatApiServer for ChatService {
    async fn join(
        &self,
        ext: &Extensions,
        name: Option<String>,
    ) -> Result<JoinResult, ErrorObjectOwned> {
        let scope = ext.get::<ConnectionScope>();
        let lifetime = match scope {
            Some(_) => Lifetime::Connection,
            None => Lifetime::Idle,
        };
        let joined = self.room.join(name.as_deref(), lifetime);
        if let Some(scope) = scope {
            scope.adopt(&joined.session);
        }
        Ok(joined)
    }

    async fn send(&self, session: String, text: String) -> Result<SendResult, ErrorObjectOwned> {
        let seq = self.room.send(&session, &text)?;
        Ok(SendResult { seq })
    }

    async fn leave(&self, session: String) -> Result<(), ErrorObjectOwned> {
        Ok(self.room.leave(&session, LeaveReason::Left)?)
    }

    async fn subscribe_events(
        &self,
        pending: PendingSubscriptionSink,
        session: String,
    ) -> SubscriptionResult {
        let mut reader = match self.room.reader(&session).and_then(|r| r.try_claim()) {
            Ok(reader) => reader,
            Err(err) => {
                pending.reject(ErrorObjectOwned::from(err)).await;
                return Ok(());
            }
        };
        let sink = pending.accept().await?;
        loop {
            tokio::select! {
                // A closed subscriber must not take one more event off the queue.
                biased;
                () = sink.closed() => return Ok(()),
                next = reader.next() => match next {
                    Ok(event) => {
                        if sink.send(event_message(&event)?).await.is_err() {
                            // Unsubscribed or disconnected: whoever reads next gets it.
                            reader.put_back(event);
                            return Ok(());
                        }
                    }
                    Err(reason) => return Err(format!("session ended: {reason}").into()),
                },
            }
        }
    }

    async fn poll(
        &self,
        session: String,
        timeout_ms: Option<u64>,
    ) -> Result<Vec<Event>, ErrorObjectOwned> {
        let wait = timeout_ms
            .unwrap_or(DEFAULT_POLL_TIMEOUT_MS)
            .min(MAX_POLL_TIMEOUT_MS);
        let deadline = Instant::now() + Duration::from_millis(wait);
        let reader = self.room.reader(&session)?;
        // Polls of one session take turns; one still waiting when the deadline passes gets nothing.
        let Ok(mut reader) = timeout_at(deadline, reader.claim()).await else {
            return Ok(Vec::new());
        };
        match timeout_at(deadline, reader.next_batch(MAX_POLL_EVENTS)).await {
            Err(_elapsed) => Ok(Vec::new()),
            Ok(Ok(batch)) => Ok(batch.iter().map(|event| Event::clone(event)).collect()),
            Ok(Err(reason)) => Err(super::session_ended(reason)),
        }
    }

    async fn members(&self) -> Result<Vec<MemberInfo>, ErrorObjectOwned> {
        Ok(self.room.members())
    }
}

fn event_message(event: &Event) -> Result<SubscriptionMessage, serde_json::Error> {
    Ok(serde_json::value::to_raw_value(event)?.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::codes;

    #[tokio::test]
    async fn poll_waiting_when_its_session_ends_is_told_why() {
        let room = Room::default();
        let service = ChatService { room: room.clone() };
        let session = room.join(Some("curl"), Lifetime::Idle).session;
        let mut poll = std::pin::pin!(service.poll(session.clone(), Some(10_000)));
        assert!(
            futures::poll!(&mut poll).is_pending(),
            "the poll is waiting"
        );
        room.leave(&session, LeaveReason::TooSlow).unwrap();
        let err = poll.await.unwrap_err();
        assert_eq!(err.code(), codes::SESSION_ENDED);
        assert_eq!(err.message(), "session ended: too slow");
    }
}
