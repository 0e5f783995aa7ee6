//! Shared test helpers: a real server on an ephemeral port, and members that talk to it.
#![allow(dead_code)] // each test binary uses a different part of this module

pub mod moderation;
pub mod nats;
pub mod plain;
pub mod process;
pub mod raw_ws;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use chatroom::identity::Identity;
use chatroom::rpc::ChatApiClient;
use chatroom::rpc::client::connect;
use chatroom::rpc::server::{self, RunningServer, ServerConfig};
use chatroom::rpc::types::{Event, JoinResult, Proof};
use chatroom::store::Store;
use jsonrpsee::core::client::Subscription;
use jsonrpsee::ws_client::WsClient;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Every wait in the tests ends by this.
pub const WAIT: Duration = Duration::from_secs(10);

/// Awaits `future`, failing the test if it takes longer than [`WAIT`].
pub async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, future)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// A port that accepts TCP connections and never says a word.
pub async fn silent_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    addr
}

pub struct TestServer {
    pub addr: SocketAddr,
    /// `None` for a server running in another process.
    inner: Option<(oneshot::Sender<()>, RunningServer)>,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(ServerConfig::default()).await
    }

    pub async fn start_with(config: ServerConfig) -> Self {
        Self::start_on("127.0.0.1:0".parse().unwrap(), config).await
    }

    /// On a given address: to bring a server back where clients expect it.
    pub async fn start_on(addr: SocketAddr, config: ServerConfig) -> Self {
        let listener = TcpListener::bind(addr).await.unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let running = server::start(listener, config, async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
        Self {
            addr: running.local_addr(),
            inner: Some((stop, running)),
        }
    }

    /// On a store opened by the test, which keeps a hand on it (to make its writes fail).
    pub async fn start_on_store(config: ServerConfig, store: Store) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let running = server::start_on_store(listener, config, store, async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
        Self {
            addr: running.local_addr(),
            inner: Some((stop, running)),
        }
    }

    /// A handle on a server some other process runs, for its URLs.
    pub fn external(addr: SocketAddr) -> Self {
        Self { addr, inner: None }
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    pub fn http_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub async fn stop(self) {
        let (stop, running) = self
            .inner
            .expect("only an in-process server can be stopped");
        let _ = stop.send(());
        within("the server to stop", running.stopped()).await;
    }
}

/// A member connected over WebSocket and subscribed to its events.
pub struct Member {
    pub client: WsClient,
    pub joined: JoinResult,
    pub events: Subscription<Event>,
}

impl Member {
    pub async fn join(server: &TestServer, name: &str) -> Self {
        let client = connect(&server.ws_url()).await.unwrap();
        let joined = client
            .join(Some(name.to_owned()), None, None, None)
            .await
            .unwrap();
        Self::subscribed(client, joined).await
    }

    /// Joins as the identity `key`, proving it holds the key, and subscribes.
    pub async fn join_as(server: &TestServer, name: &str, key: &Identity) -> Self {
        let client = connect(&server.ws_url()).await.unwrap();
        let joined = join_keyed(&client, Some(name), None, key).await.unwrap();
        Self::subscribed(client, joined).await
    }

    async fn subscribed(client: WsClient, joined: JoinResult) -> Self {
        let events = client
            .subscribe_events(joined.session.clone(), None, None)
            .await
            .unwrap();
        Self {
            client,
            joined,
            events,
        }
    }

    pub fn session(&self) -> String {
        self.joined.session.clone()
    }

    pub fn id(&self) -> uuid::Uuid {
        self.joined.id
    }

    pub fn name(&self) -> &str {
        &self.joined.name
    }

    pub async fn say(&self, text: &str) -> u64 {
        self.client
            .send(self.session(), text.to_owned(), None, None)
            .await
            .unwrap()
            .seq
    }

    /// Enters another room, waiting for the join to be stored; returns its last seq.
    pub async fn enter(&self, room: &str) -> u64 {
        self.client
            .enter(self.session(), room.to_owned())
            .await
            .unwrap()
            .last_seq
    }

    /// Says something in a room; returns its seq there.
    pub async fn say_in(&self, room: &str, text: &str) -> u64 {
        self.client
            .send(self.session(), text.to_owned(), None, Some(room.to_owned()))
            .await
            .unwrap()
            .seq
    }

    pub async fn next_event(&mut self) -> Event {
        within("an event", self.events.next())
            .await
            .expect("subscription ended")
            .expect("undecodable event")
    }
}

/// Asks for a challenge on `client`'s connection, signs it with `key` and joins with the
/// proof.
pub async fn join_keyed(
    client: &WsClient,
    name: Option<&str>,
    room: Option<&str>,
    key: &Identity,
) -> Result<JoinResult, jsonrpsee::core::client::Error> {
    let challenge = client.challenge().await?;
    let proof = Proof {
        key: key.public_key().to_base64(),
        signature: key.sign_join(&challenge.server, &challenge.nonce),
    };
    client
        .join(
            name.map(str::to_owned),
            None,
            room.map(str::to_owned),
            Some(proof),
        )
        .await
}

/// The JSON-RPC error code of a failed call.
pub fn code_of(err: &jsonrpsee::core::client::Error) -> i32 {
    match err {
        jsonrpsee::core::client::Error::Call(err) => err.code(),
        other => panic!("not a call error: {other}"),
    }
}

/// One HTTP/1.1 POST on a fresh connection; the response body, after checking for 200 OK.
pub async fn post(server: &TestServer, body: &[u8]) -> String {
    let (status, body) = post_raw(server, body).await;
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
    body
}

/// One HTTP/1.1 POST on a fresh connection: the status line and the body.
pub async fn post_raw(server: &TestServer, body: &[u8]) -> (String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        server.addr,
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // The server may answer before reading everything (a body over the limit).
    let _ = stream.write_all(body).await;
    let mut response = Vec::new();
    within("the HTTP response", stream.read_to_end(&mut response))
        .await
        .unwrap();
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    (
        head.lines().next().unwrap_or("").to_owned(),
        body.to_owned(),
    )
}

/// A scratch directory removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let path = std::env::temp_dir().join(format!("chatroom-test-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
