//! The server: accepts TCP connections, serves the chat API over WebSocket and plain HTTP
//! POST on the same port, and ties each WebSocket session to the connection that made it.
//!
//! Each accepted socket is checked against the total and per-address limits before any
//! work is spent on it, then served by hyper with a deadline for its request headers (so a
//! slow handshake cannot hold a slot), and handed to jsonrpsee. A WebSocket connection gets
//! its own stop signal, so the server can close it when its member is thrown out.
//!
//! This file holds the settings, start-up, the accept loop and shutdown. Serving one
//! connection is in `rpc/connection.rs`, the limits per address in `rpc/limits.rs`, and the
//! API itself ([`ChatService`]) in `rpc/service.rs`.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use jsonrpsee::server::{
    BatchRequestConfig, PingConfig, RpcModule, ServerConfig as RpcServerConfig, stop_channel,
};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::{Instant, timeout_at};
use tracing::Instrument;

use super::ChatApiServer;
use super::auth::Password;
use super::connection::{Shared, accept_connection, refuse, tune_socket};
pub use super::health::Health;
use super::limits::IpLimiter;
pub use super::service::ChatService;
use crate::domain::{Chat, ChatConfig, EventLog, LogError, RateLimit};
use crate::store::{DbLocation, Retention, Store, StoreError};

/// How long the accept loop pauses after a failed accept.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(100);
/// Refusals being written at once; past that, a refused connection is simply closed, so
/// refusing cannot itself use up file descriptors.
const MAX_REFUSALS: usize = 64;
/// How long closing the store may take even when the grace period is used up: a healthy
/// writer finishes in far less.
const CLOSE_STORE_AT_LEAST: Duration = Duration::from_millis(100);

/// Everything a server can be tuned with; `chatroom serve` fills it from its flags.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub chat: ChatConfig,
    /// Where history is stored.
    pub db: DbLocation,
    /// Share every room with the other servers on this NATS JetStream cluster instead of
    /// keeping history in `db`.
    pub cluster: Option<crate::store::nats::NatsSettings>,
    /// The id this server signs its challenges with, kept with its history so that clients
    /// can tell it from another server (one passing its challenges on); `None`: a new one
    /// at each start.
    pub server_id: Option<String>,
    /// How much history to keep in each room.
    pub retention: Retention,
    /// How many rooms one IP address may create (loopback exempt unless `limit_loopback`):
    /// `burst` at once, refilled at `per_sec`.
    pub room_creations: RateLimit,
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
    /// Outgoing messages buffered per connection before its subscriptions wait (at least the
    /// chat's queue capacity: a subscription that has caught up puts its events here).
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
    /// The server operators at start, by key fingerprint (`SHA256:…`); later changes go
    /// through [`Chat::set_server_operators`].
    pub server_operators: Vec<String>,
    /// Whether this node is ready, as `GET /healthz` answers (always, by default).
    pub health: Health,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            chat: ChatConfig::default(),
            db: DbLocation::Memory,
            cluster: None,
            server_id: None,
            retention: Retention::default(),
            room_creations: RateLimit {
                per_sec: 10.0 / 60.0,
                burst: 10,
            },
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
            server_operators: Vec::new(),
            health: Health::default(),
        }
    }
}

/// A server that has started; dropping it does not stop it, the shutdown future does.
pub struct RunningServer {
    addr: SocketAddr,
    chat: Chat,
    task: tokio::task::JoinHandle<()>,
}

impl RunningServer {
    /// The address actually bound, e.g. the port picked for `127.0.0.1:0`.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn chat(&self) -> &Chat {
        &self.chat
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
    #[error("{0}")]
    Cluster(#[from] crate::store::nats::NatsError),
    #[error("cannot read history: {0}")]
    Log(#[from] LogError),
}

/// Starts serving the chat on `listener` until `shutdown` resolves.
pub async fn start(
    listener: TcpListener,
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<RunningServer, StartError> {
    if let Some(cluster) = config.cluster.clone() {
        let log =
            tokio::task::spawn_blocking(move || crate::store::nats::NatsLog::connect(cluster))
                .await
                .expect("connecting to the cluster does not panic")?;
        tracing::info!(nats = %log.urls(), "sharing rooms through the cluster");
        let mut config = config;
        let health = log.clone();
        config.health = Health::new(move || health.health());
        return start_on_log(listener, config, Arc::new(log), shutdown).await;
    }
    let db = config.db.clone();
    let default_room = config.chat.default_room.clone();
    let retention = config.retention;
    let store = tokio::task::spawn_blocking(move || {
        Store::open_into(&db, &default_room).map(|store| store.with_retention(retention))
    })
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
    start_on_log(listener, config, Arc::new(store), shutdown).await
}

/// [`start`] on any event log, such as the domain's `MemoryLog`: for tests of the server
/// around the chat, whatever the store does.
pub async fn start_on_log(
    listener: TcpListener,
    config: ServerConfig,
    log: Arc<dyn EventLog>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<RunningServer, StartError> {
    let addr = listener.local_addr()?;
    let mut chat_config = config.chat.clone();
    chat_config.encoder = Some(super::service::json_encoder());
    let chat = tokio::task::spawn_blocking(move || Chat::new(chat_config, log))
        .await
        .expect("opening the chat does not panic")?;
    // Before the first connection is accepted: nobody is a member without them.
    chat.set_server_operators(config.server_operators.iter().cloned());
    let task = tokio::spawn(
        run(listener, config, chat.clone(), shutdown)
            .instrument(tracing::info_span!("server", %addr)),
    );
    tracing::info!(%addr, "listening");
    Ok(RunningServer { addr, chat, task })
}

/// The chat API bound to a chat, ready to serve.
pub fn rpc_module(chat: Chat, config: &ServerConfig) -> RpcModule<ChatService> {
    ChatService::new(chat, config).into_rpc()
}

async fn run(
    listener: TcpListener,
    config: ServerConfig,
    chat: Chat,
    shutdown: impl Future<Output = ()>,
) {
    let (stop, server_handle) = stop_channel();
    let shared = Arc::new(Shared {
        methods: rpc_module(chat.clone(), &config).into(),
        rpc: jsonrpsee::server::Server::builder()
            .set_config(rpc_server_config(&config))
            .to_service_builder(),
        chat: chat.clone(),
        stop,
        config: config.clone(),
        shutting_down: AtomicBool::new(false),
    });
    let sockets = Arc::new(Semaphore::new(config.max_connections as usize));
    let per_ip = IpLimiter::new(config.max_per_ip, config.limit_loopback);
    let refusals = Arc::new(Semaphore::new(MAX_REFUSALS));
    let reaper = tokio::spawn(reap_idle_members(chat.clone(), config.http_idle_timeout));
    let presence = tokio::spawn(tick_presence(chat.clone()));
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
    shared.shutting_down.store(true, Ordering::Relaxed);
    // Nobody new gets in while the chat says goodbye.
    drop(listener);
    reaper.abort();
    presence.abort();
    // Everyone hears why before their connection closes: the readers take the notice and
    // the end of their sessions, then the connections are stopped.
    // Whatever the disk does: half the grace at most for storing the goodbye, the rest for
    // the readers to pass it on.
    let deadline = Instant::now() + config.shutdown_grace;
    chat.shutdown(config.shutdown_grace / 2).await;
    if timeout_at(deadline, chat.readers_done()).await.is_err() {
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
    let _ = tokio::task::spawn_blocking(move || chat.close_store(within)).await;
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
        // A subscription that has caught up hands its session's events straight to this
        // buffer (`domain::Outlet`): it holds as many as the queues of all the sessions one
        // connection may have would, so that one of them cannot make another too slow.
        .set_message_buffer_capacity(
            config.connection_buffer.max(
                u32::try_from(
                    config
                        .chat
                        .queue_capacity
                        .saturating_mul(config.max_sessions_per_connection.max(1)),
                )
                .unwrap_or(u32::MAX),
            ),
        )
        .max_calls_in_flight_per_connection(config.max_calls_per_connection)
        .enable_ws_ping(
            PingConfig::new()
                .ping_interval(config.ping_interval)
                .inactive_limit(config.ping_timeout),
        )
        .build()
}

/// Sends large rooms' presence events and the member lists asked for, on the domain's tick.
async fn tick_presence(chat: Chat) {
    let mut tick = tokio::time::interval(crate::domain::PRESENCE_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        chat.flush_presence(std::time::Instant::now());
    }
}

/// How often the names of long-absent keys are looked for (and once at start).
const NAME_EXPIRY_SWEEP: Duration = Duration::from_secs(3600);

/// Removes HTTP-only members that stopped polling, checking a few times per timeout, and
/// releases the names of keys gone longer than the expiry.
async fn reap_idle_members(chat: Chat, idle: Duration) {
    let mut tick = tokio::time::interval((idle / 4).max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_sweep: Option<tokio::time::Instant> = None;
    loop {
        tick.tick().await;
        if last_sweep.is_none_or(|at| at.elapsed() >= NAME_EXPIRY_SWEEP) {
            last_sweep = Some(tokio::time::Instant::now());
            let released = chat.expire_names();
            if released > 0 {
                tracing::info!(released, "released the names of long-absent keys");
            }
        }
        let removed = chat.expire_idle(std::time::Instant::now(), idle);
        if removed > 0 {
            tracing::info!(removed, "removed idle HTTP members");
        }
    }
}
