//! The server: accepts TCP connections, serves the chat API over WebSocket and plain HTTP
//! POST on the same port, and ties each WebSocket session to the connection that made it.
//!
//! Each accepted socket is checked against the total and per-address limits before any
//! work is spent on it, then served by hyper with a deadline for its request headers (so a
//! slow handshake cannot hold a slot), and handed to jsonrpsee. A WebSocket connection gets
//! its own stop signal, so the server can close it when its member is thrown out.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use jsonrpsee::core::{SubscriptionResult, async_trait};
use jsonrpsee::server::{
    BatchRequestConfig, HttpRequest, Methods, PendingSubscriptionSink, PingConfig, RpcModule,
    ServerConfig as RpcServerConfig, StopHandle, TowerServiceBuilder, stop_channel, ws,
};
use jsonrpsee::types::ErrorObjectOwned;
use jsonrpsee::{Extensions, SubscriptionMessage};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::{Instant, timeout, timeout_at};
use tower::Service;
use tower::layer::util::Identity;
use tracing::Instrument;

use super::auth::{AuthError, Password, PasswordGate};
use super::reads::HistoryReader;
use super::types::{Event, JoinResult, MemberInfo, NickResult, SendResult};
use super::{
    ChatApiServer, DEFAULT_HISTORY_LIMIT, DEFAULT_POLL_TIMEOUT_MS, MAX_HISTORY_LIMIT,
    MAX_POLL_EVENTS, MAX_POLL_TIMEOUT_MS, codes,
};
use crate::room::{LeaveReason, Lifetime, RateLimit, Room, RoomConfig, RoomError, TokenBucket};
use crate::store::{DbLocation, Store, StoreError};

/// How long the accept loop pauses after a failed accept.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(100);
/// How long a refused connection gets to send its request and read the refusal.
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(1);
/// Refusals being written at once; past that, a refused connection is simply closed, so
/// refusing cannot itself use up file descriptors.
const MAX_REFUSALS: usize = 64;
/// Addresses the join limiter remembers before it forgets the quiet ones.
const JOIN_LIMITER_SIZE: usize = 4096;
/// How long closing the store may take even when the grace period is used up: a healthy
/// writer finishes in far less.
const CLOSE_STORE_AT_LEAST: Duration = Duration::from_millis(100);

/// Everything a server can be tuned with; `chatroom serve` fills it from its flags.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub room: RoomConfig,
    /// Where history is stored.
    pub db: DbLocation,
    /// Open TCP connections at once, WebSocket and HTTP together.
    pub max_connections: u32,
    /// Open TCP connections from one IP address.
    pub max_per_ip: u32,
    /// Whether loopback addresses count against `max_per_ip` (off: local bridges and
    /// benchmarks may open as many as they like).
    pub limit_loopback: bool,
    /// Largest request or WebSocket message accepted, in bytes.
    pub max_request_bytes: u32,
    /// Largest response, in bytes: a full poll batch or a big member list must fit.
    pub max_response_bytes: u32,
    /// Calls in one JSON-RPC batch; 0 refuses batches altogether.
    pub max_batch: u32,
    /// Subscriptions one connection may hold open.
    pub max_subscriptions_per_connection: u32,
    /// Sessions one WebSocket connection may hold at once.
    pub max_sessions_per_connection: usize,
    /// How fast one IP address may join (loopback exempt unless `limit_loopback`).
    pub join_rate: RateLimit,
    /// Outgoing messages buffered per connection before its subscriptions wait.
    pub connection_buffer: u32,
    /// Calls one WebSocket connection may have in flight, from reading the request to
    /// writing its answer; its next message waits unread until one is done. So the answers
    /// a connection can hold are at most this many times `max_response_bytes`.
    pub max_calls_per_connection: u32,
    /// How long a client may take to send its request headers (the WebSocket handshake).
    pub handshake_timeout: Duration,
    /// How long data sent to a peer may go unacknowledged before the connection is dropped
    /// (TCP_USER_TIMEOUT): a peer that stops reading cannot hold a socket for ever.
    pub write_timeout: Duration,
    /// How often the server pings each WebSocket peer.
    pub ping_interval: Duration,
    /// How long a WebSocket peer may stay silent (no pong, no message) before it is dropped.
    pub ping_timeout: Duration,
    /// How long an HTTP-only member may go without a call or poll before it is removed.
    pub http_idle_timeout: Duration,
    /// How long shutdown waits for connections to close before giving up on them.
    pub shutdown_grace: Duration,
    /// The room password, if joining needs one.
    pub password: Option<Password>,
    /// Serve TLS (`wss://`, `https://`) instead of plain TCP.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            room: RoomConfig::default(),
            db: DbLocation::Memory,
            max_connections: 10_000,
            max_per_ip: 32,
            limit_loopback: false,
            max_request_bytes: 64 * 1024,
            max_response_bytes: 16 * 1024 * 1024,
            max_batch: 16,
            max_subscriptions_per_connection: 4,
            max_sessions_per_connection: 4,
            join_rate: RateLimit {
                per_sec: 1.0,
                burst: 10,
            },
            connection_buffer: 1024,
            max_calls_per_connection: 8,
            handshake_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(30),
            ping_interval: Duration::from_secs(10),
            ping_timeout: Duration::from_secs(20),
            http_idle_timeout: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(5),
            password: None,
            tls: None,
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

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot read the listening address: {0}")]
    Listener(#[from] io::Error),
    #[error("cannot open history: {0}")]
    Store(#[from] StoreError),
}

/// Starts serving one room on `listener` until `shutdown` resolves.
pub async fn start(
    listener: TcpListener,
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<RunningServer, StartError> {
    let db = config.db.clone();
    let store = tokio::task::spawn_blocking(move || Store::open(&db))
        .await
        .expect("opening the store does not panic")?;
    tracing::info!(db = %config.db, "history opened");
    start_on_store(listener, config, store, shutdown).await
}

/// [`start`] on a store already open (`config.db` is not looked at): for tests that need
/// a hand on the store.
pub async fn start_on_store(
    listener: TcpListener,
    config: ServerConfig,
    store: Store,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<RunningServer, StartError> {
    let addr = listener.local_addr()?;
    let room_config = config.room.clone();
    let room = tokio::task::spawn_blocking(move || Room::new(room_config, store))
        .await
        .expect("opening the room does not panic")?;
    let task = tokio::spawn(
        run(listener, config, room.clone(), shutdown)
            .instrument(tracing::info_span!("server", %addr)),
    );
    tracing::info!(%addr, "listening");
    Ok(RunningServer { addr, room, task })
}

/// The chat API bound to one room, ready to serve.
pub fn rpc_module(room: Room, config: &ServerConfig) -> RpcModule<ChatService> {
    ChatService::new(room, config).into_rpc()
}

/// What every connection task needs, shared.
struct Shared {
    room: Room,
    methods: Methods,
    rpc: TowerServiceBuilder<Identity, Identity>,
    /// Fires when the whole server stops.
    stop: StopHandle,
    config: ServerConfig,
}

async fn run(
    listener: TcpListener,
    config: ServerConfig,
    room: Room,
    shutdown: impl Future<Output = ()>,
) {
    let (stop, server_handle) = stop_channel();
    let shared = Arc::new(Shared {
        methods: rpc_module(room.clone(), &config).into(),
        rpc: jsonrpsee::server::Server::builder()
            .set_config(rpc_server_config(&config))
            .to_service_builder(),
        room: room.clone(),
        stop,
        config: config.clone(),
    });
    let sockets = Arc::new(Semaphore::new(config.max_connections as usize));
    let per_ip = IpLimiter::new(config.max_per_ip, config.limit_loopback);
    let refusals = Arc::new(Semaphore::new(MAX_REFUSALS));
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
        while connections.try_join_next().is_some() {}

        // An IPv4 client of a dual-stack listener arrives as ::ffff:a.b.c.d; every limit
        // counts it as the IPv4 address it is (not as one of a single shared /64).
        let ip = remote.ip().to_canonical();
        let refusal = match (sockets.clone().try_acquire_owned(), per_ip.try_acquire(ip)) {
            (Ok(socket_permit), Some(ip_permit)) => {
                tune_socket(&socket, config.write_timeout);
                let permits = Arc::new((socket_permit, ip_permit));
                connections.spawn(
                    accept_connection(socket, ip, shared.clone(), permits)
                        .instrument(tracing::debug_span!("connection", %remote)),
                );
                continue;
            }
            (Err(_), _) => ("503 Service Unavailable", "server is full"),
            (Ok(_), None) => (
                "429 Too Many Requests",
                "too many connections from your address",
            ),
        };
        tracing::warn!(%remote, reason = refusal.1, "refused");
        if config.tls.is_some() {
            // A plain-text refusal means nothing inside TLS: just close.
            continue;
        }
        if let Ok(permit) = refusals.clone().try_acquire_owned() {
            connections.spawn(async move {
                refuse(socket, refusal.0, refusal.1).await;
                drop(permit);
            });
        }
        // Otherwise too many refusals are under way already: just close this one.
    }

    tracing::info!("shutting down");
    // Nobody new gets in while the room says goodbye.
    drop(listener);
    reaper.abort();
    // Everyone hears why before their connection closes: the readers take the notice and
    // the end of their sessions, then the connections are stopped.
    // Whatever the disk does: half the grace at most for storing the goodbye, the rest for
    // the readers to pass it on.
    let deadline = Instant::now() + config.shutdown_grace;
    room.shutdown(config.shutdown_grace / 2).await;
    if timeout_at(deadline, room.readers_done()).await.is_err() {
        tracing::warn!("some readers did not finish in time");
    }
    let _ = server_handle.stop();
    // `stopped` below waits for every stop handle to go, ours included.
    drop(shared);
    while let Ok(Some(_)) = timeout_at(deadline, connections.join_next()).await {}
    // WebSocket watchers hold stop handles until their connection has closed.
    if timeout_at(deadline, server_handle.stopped()).await.is_err() || !connections.is_empty() {
        tracing::warn!("connections still open after the grace period; dropping them");
    }
    // Last: the database file is free for the next server as soon as this one is stopped.
    // A writer stuck in a failing disk is left to the end of the process.
    let within = deadline
        .saturating_duration_since(Instant::now())
        .max(CLOSE_STORE_AT_LEAST);
    let _ = tokio::task::spawn_blocking(move || room.close_store(within)).await;
}

fn rpc_server_config(config: &ServerConfig) -> RpcServerConfig {
    let batches = match config.max_batch {
        0 => BatchRequestConfig::Disabled,
        n => BatchRequestConfig::Limit(n),
    };
    RpcServerConfig::builder()
        .max_connections(config.max_connections)
        .max_request_body_size(config.max_request_bytes)
        .max_response_body_size(config.max_response_bytes)
        .set_batch_request_config(batches)
        .max_subscriptions_per_connection(config.max_subscriptions_per_connection)
        .set_message_buffer_capacity(config.connection_buffer)
        .max_calls_in_flight_per_connection(config.max_calls_per_connection)
        .enable_ws_ping(
            PingConfig::new()
                .ping_interval(config.ping_interval)
                .inactive_limit(config.ping_timeout),
        )
        .build()
}

/// Low latency for chat lines, and a bound on how long a peer may leave data unread.
fn tune_socket(socket: &TcpStream, write_timeout: Duration) {
    if let Err(err) = socket.set_nodelay(true) {
        tracing::debug!(%err, "cannot set TCP_NODELAY");
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Err(err) = socket2::SockRef::from(socket).set_tcp_user_timeout(Some(write_timeout)) {
        tracing::debug!(%err, "cannot set TCP_USER_TIMEOUT");
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let _ = write_timeout;
}

/// Answers a connection over a limit with a plain HTTP status, then closes it.
async fn refuse(mut socket: TcpStream, status: &str, reason: &str) {
    // Read the request first: closing with it unread would reset the connection and the
    // client might never see why.
    let _ = timeout(REFUSAL_TIMEOUT, socket.read(&mut [0u8; 4096])).await;
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reason}\n",
        reason.len() + 1
    );
    let _ = timeout(REFUSAL_TIMEOUT, async {
        socket.write_all(response.as_bytes()).await?;
        socket.shutdown().await
    })
    .await;
}

/// Completes the TLS handshake, when the server has TLS, within the handshake deadline,
/// then serves the connection. A client that is not speaking TLS (a `ws://` client on a
/// `wss://` port) fails the handshake and is closed.
async fn accept_connection(
    socket: TcpStream,
    remote: IpAddr,
    shared: Arc<Shared>,
    permits: Arc<(OwnedSemaphorePermit, IpPermit)>,
) {
    let Some(tls) = shared.config.tls.clone() else {
        return serve_connection(socket, remote, shared, permits).await;
    };
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    match timeout(shared.config.handshake_timeout, acceptor.accept(socket)).await {
        Ok(Ok(stream)) => serve_connection(stream, remote, shared, permits).await,
        Ok(Err(err)) => tracing::debug!(%err, "TLS handshake failed"),
        Err(_) => tracing::debug!("TLS handshake timed out"),
    }
}

/// Serves HTTP on one connection until the client goes or the server stops. An upgrade to
/// WebSocket lives on in jsonrpsee's task, watched by [`watch_websocket`].
async fn serve_connection<S>(
    socket: S,
    remote: IpAddr,
    shared: Arc<Shared>,
    permits: Arc<(OwnedSemaphorePermit, IpPermit)>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = {
        let shared = shared.clone();
        hyper::service::service_fn(move |request: HttpRequest<Incoming>| {
            // A body must arrive as promptly as the headers did.
            let mut request =
                request.map(|body| DeadlineBody::new(body, shared.config.handshake_timeout));
            request.extensions_mut().insert(RemoteIp(remote));
            let response = if ws::is_upgrade_request(&request) {
                let (conn_stop, conn_stopper) = stop_channel();
                let mut service = shared.rpc.clone().build(shared.methods.clone(), conn_stop);
                let scope = ConnectionScope::new(shared.room.clone());
                request.extensions_mut().insert(scope.clone());
                let closed = service.on_session_closed();
                tokio::spawn(watch_websocket(
                    closed,
                    scope,
                    conn_stopper,
                    shared.clone(),
                    permits.clone(),
                ));
                service.call(request)
            } else {
                let mut service = shared
                    .rpc
                    .clone()
                    .build(shared.methods.clone(), shared.stop.clone());
                service.call(request)
            };
            // jsonrpsee answers every request itself; a plain error type keeps hyper's
            // bounds simple.
            async move {
                Ok::<_, Infallible>(response.await.unwrap_or_else(|err| {
                    tracing::warn!(%err, "request failed");
                    jsonrpsee::server::http::response::internal_error()
                }))
            }
        })
    };
    // The header deadline covers a client that sends nothing as well as one that dribbles.
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(shared.config.handshake_timeout)
        .serve_connection(TokioIo::new(socket), service)
        .with_upgrades();
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = shared.stop.clone().shutdown() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(err) = result {
        tracing::debug!(%err, "connection ended with an error");
    }
}

/// Follows one WebSocket connection: stops it when its member is thrown out or the server
/// stops, and ends the sessions made on it once it has closed.
async fn watch_websocket(
    closed: impl Future<Output = ()> + Send + 'static,
    scope: ConnectionScope,
    conn_stopper: jsonrpsee::server::ServerHandle,
    shared: Arc<Shared>,
    permits: Arc<(OwnedSemaphorePermit, IpPermit)>,
) {
    let mut closed = Box::pin(closed);
    let stop_early = tokio::select! {
        () = &mut closed => false,
        () = scope.kick.notified() => true,
        () = shared.stop.clone().shutdown() => true,
    };
    if stop_early {
        // jsonrpsee finishes the calls in flight and sends a close frame.
        let _ = conn_stopper.stop();
        if timeout(shared.config.shutdown_grace, &mut closed)
            .await
            .is_err()
        {
            // Stuck in a write to a peer that stopped reading: TCP_USER_TIMEOUT ends it.
            // Until then it still holds its places under the connection limits.
            tracing::debug!("WebSocket did not close in time");
            tokio::spawn(async move {
                closed.await;
                drop(permits);
            });
        }
    }
    scope.close();
}

/// Counts open connections per IP address.
#[derive(Clone)]
struct IpLimiter {
    counts: Arc<Mutex<HashMap<IpAddr, u32>>>,
    max: u32,
    limit_loopback: bool,
}

/// One connection's place in the [`IpLimiter`]; gives it back on drop.
struct IpPermit {
    limiter: IpLimiter,
    /// `None` for an address the limit does not apply to.
    ip: Option<IpAddr>,
}

impl IpLimiter {
    fn new(max: u32, limit_loopback: bool) -> Self {
        Self {
            counts: Arc::default(),
            max,
            limit_loopback,
        }
    }

    fn try_acquire(&self, ip: IpAddr) -> Option<IpPermit> {
        if ip.is_loopback() && !self.limit_loopback {
            return Some(IpPermit {
                limiter: self.clone(),
                ip: None,
            });
        }
        let ip = address_key(ip);
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let count = counts.entry(ip).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(IpPermit {
            limiter: self.clone(),
            ip: Some(ip),
        })
    }
}

impl Drop for IpPermit {
    fn drop(&mut self) {
        let Some(ip) = self.ip else { return };
        let mut counts = self
            .limiter
            .counts
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(count) = counts.get_mut(&ip) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&ip);
            }
        }
    }
}

/// What limits per address count by: the address itself for IPv4, its /64 for IPv6 (one
/// subscriber usually holds a whole /64).
pub(super) fn address_key(ip: IpAddr) -> IpAddr {
    let ip = ip.to_canonical();
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
    }
}

/// The client's address, for limits applied per address.
#[derive(Debug, Clone, Copy)]
struct RemoteIp(IpAddr);

/// A token bucket per address for joins, so sessions cannot be minted to dodge the
/// per-session rate limit.
struct JoinLimiter {
    buckets: Mutex<HashMap<IpAddr, TokenBucket>>,
    rate: RateLimit,
    limit_loopback: bool,
}

impl JoinLimiter {
    fn new(rate: RateLimit, limit_loopback: bool) -> Self {
        Self {
            buckets: Mutex::default(),
            rate,
            limit_loopback,
        }
    }

    fn check(&self, ip: Option<IpAddr>) -> Result<(), RoomError> {
        let Some(ip) = ip.filter(|ip| self.limit_loopback || !ip.is_loopback()) else {
            return Ok(());
        };
        let now = std::time::Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= JOIN_LIMITER_SIZE {
            // A full bucket behaves exactly like a new one: forget those.
            buckets.retain(|_, bucket| !bucket.is_full(self.rate, now));
        }
        buckets
            .entry(address_key(ip))
            .or_insert_with(|| TokenBucket::full(self.rate, now))
            .take(self.rate, now)
            .map_err(|retry_after| RoomError::RateLimited { retry_after })
    }
}

/// A request body that must arrive within a deadline, so a client cannot hold a connection
/// by sending its body a byte at a time.
struct DeadlineBody {
    inner: Incoming,
    deadline: std::pin::Pin<Box<tokio::time::Sleep>>,
}

impl DeadlineBody {
    fn new(inner: Incoming, within: Duration) -> Self {
        Self {
            inner,
            deadline: Box::pin(tokio::time::sleep(within)),
        }
    }
}

impl hyper::body::Body for DeadlineBody {
    type Data = hyper::body::Bytes;
    type Error = jsonrpsee::core::BoxError;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        if self.deadline.as_mut().poll(cx).is_ready() {
            return std::task::Poll::Ready(Some(Err("request body too slow".into())));
        }
        std::pin::Pin::new(&mut self.inner)
            .poll_frame(cx)
            .map_err(Into::into)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
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
    /// Signalled when one of the sessions is thrown out, to close the connection too.
    kick: Arc<Notify>,
}

impl ConnectionScope {
    fn new(room: Room) -> Self {
        Self {
            room,
            sessions: Arc::new(Mutex::new(Some(Vec::new()))),
            kick: Arc::new(Notify::new()),
        }
    }

    /// Sessions still alive on this connection.
    fn live_sessions(&self) -> usize {
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        sessions.as_mut().map_or(0, |list| {
            list.retain(|s| self.room.member(s).is_ok());
            list.len()
        })
    }

    /// Binds a session to this connection; if the connection is already gone, the session
    /// ends at once so it cannot outlive it.
    fn adopt(&self, session: &str) {
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        let Some(list) = sessions.as_mut() else {
            drop(sessions);
            let _ = self.room.leave(session, LeaveReason::ConnectionClosed);
            return;
        };
        // Forget sessions that already ended, so a join/leave loop on one connection does
        // not grow the list.
        list.retain(|s| self.room.member(s).is_ok());
        list.push(session.to_owned());
        drop(sessions);
        if let Ok(end) = self.room.on_end(session) {
            let kick = self.kick.clone();
            tokio::spawn(async move {
                if end.reason().await.closes_connection() {
                    kick.notify_one();
                }
            });
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
    joins: JoinLimiter,
    max_sessions_per_connection: usize,
    /// Set when the room has a password.
    password: Option<PasswordGate>,
    /// Runs every history read, one at a time, on a thread of its own.
    history_reader: HistoryReader,
}

#[async_trait]
impl ChatApiServer for ChatService {
    async fn join(
        &self,
        ext: &Extensions,
        name: Option<String>,
        password: Option<String>,
    ) -> Result<JoinResult, ErrorObjectOwned> {
        let remote = ext.get::<RemoteIp>().map(|ip| ip.0);
        if let Some(gate) = &self.password {
            gate.check(remote, password.as_deref())?;
        }
        let scope = ext.get::<ConnectionScope>();
        if let Some(scope) = scope
            && scope.live_sessions() >= self.max_sessions_per_connection
        {
            return Err(ErrorObjectOwned::owned(
                codes::TOO_MANY_SESSIONS,
                format!(
                    "this connection already has {} sessions",
                    self.max_sessions_per_connection
                ),
                None::<()>,
            ));
        }
        self.joins.check(remote)?;
        let lifetime = match scope {
            Some(_) => Lifetime::Connection,
            None => Lifetime::Idle,
        };
        let (joined, receipt) = self.room.join_with_receipt(name.as_deref(), lifetime)?;
        if let Some(scope) = scope {
            scope.adopt(&joined.session);
        }
        // Answer once the join is stored, as a send is: whoever joins after this member
        // then finds it in the history, not as news. A join that cannot be stored is undone.
        receipt.stored().await?;
        Ok(joined)
    }

    async fn send(
        &self,
        session: String,
        text: String,
        action: Option<bool>,
    ) -> Result<SendResult, ErrorObjectOwned> {
        let receipt = self.room.say(&session, &text, action == Some(true))?;
        // The answer means "stored and will be delivered"; a refusal, "never will be".
        let seq = receipt.stored().await?;
        Ok(SendResult { seq })
    }

    async fn nick(&self, session: String, name: String) -> Result<NickResult, ErrorObjectOwned> {
        let (name, receipt) = self.room.nick_with_receipt(&session, &name)?;
        if let Some(receipt) = receipt {
            receipt.stored().await?;
        }
        Ok(NickResult { name })
    }

    async fn leave(&self, session: String) -> Result<(), ErrorObjectOwned> {
        Ok(self.room.leave(&session, LeaveReason::Left)?)
    }

    async fn subscribe_events(
        &self,
        pending: PendingSubscriptionSink,
        session: String,
        since: Option<u64>,
    ) -> SubscriptionResult {
        // The session first, so a stranger learns nothing of how far the room has got; then
        // claim the queue, so nothing live is missed while catching up.
        let claimed = self
            .room
            .reader(&session)
            .and_then(|r| self.room.check_since(since).map(|()| r))
            .and_then(|r| r.try_claim());
        let mut reader = match claimed {
            Ok(reader) => reader,
            Err(err) => {
                pending.reject(ErrorObjectOwned::from(err)).await;
                return Ok(());
            }
        };
        let sink = pending.accept().await?;
        // The highest seq this subscriber has, so the live part starts right after it.
        let mut delivered = since.unwrap_or(0);
        if since.is_some() && delivered < reader.live_after() {
            // Catch up from the store up to where the queue takes over, once the store has
            // everything up to there.
            self.room.stored(reader.live_after()).await;
            while delivered < reader.live_after() {
                let page = self
                    .stored_after(delivered, reader.live_after(), CATCH_UP_PAGE)
                    .await?;
                let Some(last) = page.last().map(|e| e.seq) else {
                    break;
                };
                for event in &page {
                    if sink.send(event_message(event)?).await.is_err() {
                        return Ok(());
                    }
                }
                delivered = last;
            }
        }
        loop {
            tokio::select! {
                // A closed subscriber must not take one more event off the queue.
                biased;
                () = sink.closed() => return Ok(()),
                next = reader.next() => match next {
                    Ok(event) if event.seq <= delivered => {}
                    Ok(event) => {
                        if sink.send(SubscriptionMessage::from(event.json.clone())).await.is_err() {
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
        since: Option<u64>,
    ) -> Result<Vec<Event>, ErrorObjectOwned> {
        let wait = timeout_ms
            .unwrap_or(DEFAULT_POLL_TIMEOUT_MS)
            .min(MAX_POLL_TIMEOUT_MS);
        let deadline = Instant::now() + Duration::from_millis(wait);
        // The session first: a stranger must not learn how far the room has got.
        let reader = self.room.reader(&session)?;
        self.room.check_since(since)?;
        let seen = since.unwrap_or(0);
        // Up to where the queue takes over, or to what earlier polls returned (an answer
        // may have been lost on its way), the store has it all.
        let from_store_through = reader.live_after.max(reader.handed_out());
        if since.is_some() && seen < from_store_through {
            let page = self
                .stored_after(seen, from_store_through, MAX_POLL_EVENTS)
                .await?;
            if !page.is_empty() {
                return Ok(page);
            }
        }
        // One reader per session at a time: a second poll is refused, not queued, so polls
        // cannot pile up on the server.
        let mut reader = reader.try_claim()?;
        loop {
            match timeout_at(deadline, reader.next_batch(MAX_POLL_EVENTS)).await {
                Err(_elapsed) => return Ok(Vec::new()),
                Ok(Err(reason)) => return Err(RoomError::SessionEnded(reason).into()),
                Ok(Ok(batch)) => {
                    // Anything at or before `since` the caller already has.
                    let fresh: Vec<Event> = batch
                        .iter()
                        .filter(|event| event.seq > seen)
                        .map(|event| Event::clone(event))
                        .collect();
                    if let Some(last) = fresh.last() {
                        reader.note_handed_out(last.seq);
                        return Ok(fresh);
                    }
                }
            }
        }
    }

    async fn history(
        &self,
        session: String,
        before: Option<u64>,
        since: Option<u64>,
        limit: Option<u32>,
    ) -> Result<Vec<Event>, ErrorObjectOwned> {
        self.room.member(&session)?;
        let limit = limit
            .unwrap_or(DEFAULT_HISTORY_LIMIT)
            .min(MAX_HISTORY_LIMIT) as usize;
        let history = self.room.history().clone();
        let query = move || match (before, since) {
            (Some(before), None) => history.before(before, limit),
            (None, Some(since)) => history.after(since, limit),
            (None, None) => history.latest(limit),
            (Some(_), Some(_)) => unreachable!("refused below"),
        };
        if before.is_some() && since.is_some() {
            return Err(ErrorObjectOwned::owned(
                jsonrpsee::types::error::INVALID_PARAMS_CODE,
                "give `before` or `since`, not both",
                None::<()>,
            ));
        }
        read_store(&self.history_reader, query).await
    }

    async fn members(&self, session: Option<String>) -> Result<Vec<MemberInfo>, ErrorObjectOwned> {
        if self.password.is_some() {
            // Who is in a private room is for its members only.
            let session = session.ok_or(AuthError::PasswordRequired)?;
            self.room.member(&session)?;
        } else if let Some(session) = session {
            // An open room answers anyone, but a member asking is still active.
            let _ = self.room.member(&session);
        }
        Ok(self.room.members())
    }
}

/// Events read from the store per step of a catch-up.
const CATCH_UP_PAGE: usize = 500;

impl ChatService {
    pub fn new(room: Room, config: &ServerConfig) -> Self {
        Self {
            room,
            joins: JoinLimiter::new(config.join_rate, config.limit_loopback),
            max_sessions_per_connection: config.max_sessions_per_connection,
            password: config.password.clone().map(PasswordGate::new),
            history_reader: HistoryReader::start(),
        }
    }

    /// Stored events after `since` and no later than `through`, oldest first.
    async fn stored_after(
        &self,
        since: u64,
        through: u64,
        limit: usize,
    ) -> Result<Vec<Event>, ErrorObjectOwned> {
        let history = self.room.history().clone();
        let mut page =
            read_store(&self.history_reader, move || history.after(since, limit)).await?;
        page.retain(|event| event.seq <= through);
        Ok(page)
    }
}

/// Runs a store query off the async threads, on the history reader's thread.
async fn read_store(
    reader: &HistoryReader,
    query: impl FnOnce() -> Result<Vec<Event>, StoreError> + Send + 'static,
) -> Result<Vec<Event>, ErrorObjectOwned> {
    let result = reader.run(query).await;
    result.map_err(|err| {
        tracing::error!(%err, "reading history failed");
        ErrorObjectOwned::owned(
            codes::HISTORY_UNAVAILABLE,
            "history is unavailable",
            None::<()>,
        )
    })
}

fn event_message(event: &Event) -> Result<SubscriptionMessage, serde_json::Error> {
    Ok(serde_json::value::to_raw_value(event)?.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::codes;

    #[tokio::test]
    async fn an_http_member_that_only_reads_or_renames_is_not_idle() {
        let room = Room::default();
        let service = ChatService::new(room.clone(), &ServerConfig::default());
        let session = room.join(Some("reader"), Lifetime::Idle).unwrap().session;
        let idle = Duration::from_secs(60);
        for call in ["chat_history", "chat_members", "chat_nick"] {
            room.backdate_activity(&session, 2 * idle);
            let answered = match call {
                "chat_history" => service
                    .history(session.clone(), None, None, None)
                    .await
                    .map(drop),
                "chat_members" => service.members(Some(session.clone())).await.map(drop),
                _ => service
                    .nick(session.clone(), "renamed".into())
                    .await
                    .map(drop),
            };
            answered.unwrap();
            let removed = room.expire_idle(std::time::Instant::now(), idle);
            assert_eq!(removed, 0, "{call} did not count as activity");
        }
    }

    #[tokio::test]
    async fn poll_waiting_when_its_session_ends_is_told_why() {
        let room = Room::default();
        let service = ChatService::new(room.clone(), &ServerConfig::default());
        let session = room.join(Some("curl"), Lifetime::Idle).unwrap().session;
        let mut poll = std::pin::pin!(service.poll(session.clone(), Some(10_000), None));
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
