//! Serving one accepted connection: TLS, HTTP with deadlines, the upgrade to WebSocket, and
//! the sessions tied to a WebSocket connection, which end when it closes.

use std::convert::Infallible;
use std::future::Future;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::Either;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use jsonrpsee::server::{HttpRequest, Methods, StopHandle, TowerServiceBuilder, stop_channel, ws};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Notify, OwnedSemaphorePermit};
use tokio::time::timeout;
use tower::Service;
use tower::layer::util::Identity;

use super::health;
use super::limits::{IpPermit, RemoteIp};
use super::server::ServerConfig;
use crate::domain::{Chat, LeaveReason};

/// How long a refused connection gets to send its request and read the refusal.
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(1);

/// What every connection task needs, shared.
pub(super) struct Shared {
    pub(super) chat: Chat,
    pub(super) methods: Methods,
    pub(super) rpc: TowerServiceBuilder<Identity, Identity>,
    /// Fires when the whole server stops.
    pub(super) stop: StopHandle,
    pub(super) config: ServerConfig,
    /// Set once shutdown begins: health checks answer 503 from then on.
    pub(super) shutting_down: AtomicBool,
}

/// Low latency for chat lines, and a bound on how long a peer may leave data unread.
pub(super) fn tune_socket(socket: &TcpStream, write_timeout: Duration) {
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
pub(super) async fn refuse(mut socket: TcpStream, status: &str, reason: &str) {
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
pub(super) async fn accept_connection(
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
            // Answered here: no password, no JSON-RPC limits, no member, no call.
            if health::is_health_check(&request) {
                let shutting_down = shared.shutting_down.load(Ordering::Relaxed);
                let answer = health::answer(&shared.config.health, shutting_down);
                return Either::Left(std::future::ready(Ok(answer)));
            }
            let response = if ws::is_upgrade_request(&request) {
                let (conn_stop, conn_stopper) = stop_channel();
                let mut service = shared.rpc.clone().build(shared.methods.clone(), conn_stop);
                let scope = ConnectionScope::new(shared.chat.clone());
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
            Either::Right(async move {
                Ok::<_, Infallible>(response.await.unwrap_or_else(|err| {
                    tracing::warn!(%err, "request failed");
                    jsonrpsee::server::http::response::internal_error()
                }))
            })
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

/// The sessions created over one WebSocket connection, which end when it closes.
#[derive(Clone)]
pub(super) struct ConnectionScope {
    chat: Chat,
    /// `None` once the connection has closed.
    sessions: Arc<Mutex<Option<Vec<String>>>>,
    /// Signalled when one of the sessions is thrown out, to close the connection too.
    kick: Arc<Notify>,
    /// The challenge last handed out on this connection, until a join uses it.
    challenge: Arc<Mutex<Option<String>>>,
}

impl ConnectionScope {
    fn new(chat: Chat) -> Self {
        Self {
            chat,
            sessions: Arc::new(Mutex::new(Some(Vec::new()))),
            kick: Arc::new(Notify::new()),
            challenge: Arc::default(),
        }
    }

    /// A fresh nonce for this connection, replacing any earlier one.
    pub(super) fn issue_challenge(&self) -> String {
        let nonce = format!(
            "{:032x}{:032x}",
            rand::random::<u128>(),
            rand::random::<u128>()
        );
        *self.challenge.lock().unwrap_or_else(|p| p.into_inner()) = Some(nonce.clone());
        nonce
    }

    /// The nonce handed out on this connection, which no later join can use again.
    pub(super) fn take_challenge(&self) -> Option<String> {
        self.challenge
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    /// Sessions still alive on this connection.
    pub(super) fn live_sessions(&self) -> usize {
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        sessions.as_mut().map_or(0, |list| {
            list.retain(|s| self.chat.member(s).is_ok());
            list.len()
        })
    }

    /// Binds a session to this connection; if the connection is already gone, the session
    /// ends at once so it cannot outlive it.
    pub(super) fn adopt(&self, session: &str) {
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        let Some(list) = sessions.as_mut() else {
            drop(sessions);
            let _ = self
                .chat
                .end_session(session, LeaveReason::ConnectionClosed);
            return;
        };
        // Forget sessions that already ended, so a join/leave loop on one connection does
        // not grow the list.
        list.retain(|s| self.chat.member(s).is_ok());
        list.push(session.to_owned());
        drop(sessions);
        if let Ok(end) = self.chat.on_end(session) {
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
            let _ = self
                .chat
                .end_session(&session, LeaveReason::ConnectionClosed);
        }
    }
}
