//! `GET /healthz`: a load balancer's question, answered on the chat port without a
//! password, outside the JSON-RPC limits, and 503 when the node cannot serve.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chatroom::domain::{
    Appender, Event, EventLog, LogError, MemoryLog, OnProgress, Progress, Recovered,
};
use chatroom::rpc::auth::Password;
use chatroom::rpc::server::{self, Health, ServerConfig};
use common::{Member, TestServer, WAIT, post_raw, within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One request on a fresh connection (`Connection: close`): the status line and the body.
async fn request(addr: SocketAddr, method: &str, path: &str, body: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    within("the HTTP response", stream.read_to_end(&mut response))
        .await
        .unwrap();
    split(&String::from_utf8_lossy(&response))
}

fn split(response: &str) -> (String, String) {
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((response, ""));
    (
        head.lines().next().unwrap_or("").to_owned(),
        body.to_owned(),
    )
}

/// `GET /healthz` on a connection kept open between requests: the status line and body.
async fn check_on(stream: &mut TcpStream) -> (String, String) {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: chatroom\r\n\r\n")
        .await
        .unwrap();
    let mut response = Vec::new();
    within("a health answer", async {
        loop {
            let mut chunk = [0u8; 1024];
            let n = stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "the connection closed before answering");
            response.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&response);
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length: usize = head
                    .lines()
                    .filter_map(|line| line.split_once(':'))
                    .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
                    .expect("a health answer has a length")
                    .1
                    .trim()
                    .parse()
                    .unwrap();
                if body.len() >= length {
                    return;
                }
            }
        }
    })
    .await;
    split(&String::from_utf8_lossy(&response))
}

#[tokio::test]
async fn a_ready_server_answers_ok() {
    let server = TestServer::start().await;
    let (status, body) = request(server.addr, "GET", "/healthz", "").await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(body, "ok\n");
    // A query string changes nothing.
    let (status, _) = request(server.addr, "GET", "/healthz?full=1", "").await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    server.stop().await;
}

#[tokio::test]
async fn head_answers_the_status_without_a_body() {
    let server = TestServer::start().await;
    let (status, body) = request(server.addr, "HEAD", "/healthz", "").await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(body, "");
    server.stop().await;
}

#[tokio::test]
async fn a_node_that_is_not_ready_answers_503_with_the_reason() {
    let server = TestServer::start_with(ServerConfig {
        health: Health::new(|| Err("storage unavailable".to_owned())),
        ..ServerConfig::default()
    })
    .await;
    let (status, body) = request(server.addr, "GET", "/healthz", "").await;
    assert_eq!(status, "HTTP/1.1 503 Service Unavailable");
    assert_eq!(body, "storage unavailable\n");
    let (status, body) = request(server.addr, "HEAD", "/healthz", "").await;
    assert_eq!(status, "HTTP/1.1 503 Service Unavailable");
    assert_eq!(body, "");
    server.stop().await;
}

#[tokio::test]
async fn health_checks_need_no_password_and_are_under_no_body_limit() {
    let server = TestServer::start_with(ServerConfig {
        password: Some(Password::new("secret")),
        max_request_bytes: 16,
        ..ServerConfig::default()
    })
    .await;
    let body = "x".repeat(100);
    let (status, answer) = request(server.addr, "GET", "/healthz", &body).await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(answer, "ok\n");
    // The same body to the API is over its limit, as before.
    let (status, _) = post_raw(&server, body.as_bytes()).await;
    assert_eq!(status, "HTTP/1.1 413 Payload Too Large");
    server.stop().await;
}

#[tokio::test]
async fn other_requests_go_to_the_api_as_before() {
    let server = TestServer::start().await;
    // A POST to /healthz is a JSON-RPC call like a POST anywhere.
    let call = r#"{"jsonrpc":"2.0","id":1,"method":"chat_join","params":{"name":"lb"}}"#;
    let (status, body) = request(server.addr, "POST", "/healthz", call).await;
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
    assert!(body.contains(r#""result""#), "{body}");
    // A GET of any other path gets what a GET of / gets.
    let (root, _) = request(server.addr, "GET", "/", "").await;
    let (other, _) = request(server.addr, "GET", "/healthzz", "").await;
    assert_ne!(root, "HTTP/1.1 200 OK");
    assert_eq!(other, root);
    server.stop().await;
}

/// A log in memory that can hold back what it tells the rooms, so that a shutdown waiting
/// for its goodbye to be stored stays in progress until the test lets it go.
#[derive(Clone, Default)]
struct HeldLog {
    inner: MemoryLog,
    gate: Arc<Gate>,
}

#[derive(Default)]
struct Gate {
    /// `Some` while holding: the latest progress held back.
    held: Mutex<Option<Option<Progress>>>,
    deliver: Mutex<Option<OnProgress>>,
}

impl Gate {
    fn pass(&self, progress: Progress) {
        if let Some(held) = self.held.lock().unwrap().as_mut() {
            *held = Some(progress);
            return;
        }
        self.tell(progress);
    }

    fn tell(&self, progress: Progress) {
        if let Some(deliver) = self.deliver.lock().unwrap().as_ref() {
            deliver(progress);
        }
    }

    fn hold(&self) {
        *self.held.lock().unwrap() = Some(None);
    }

    fn release(&self) {
        let held = self.held.lock().unwrap().take().flatten();
        if let Some(progress) = held {
            self.tell(progress);
        }
    }
}

impl EventLog for HeldLog {
    fn recovered(&self) -> Recovered {
        self.inner.recovered()
    }
    fn latest(&self, room: &str, limit: usize) -> Result<Vec<Event>, LogError> {
        self.inner.latest(room, limit)
    }
    fn before(&self, room: &str, before: u64, limit: usize) -> Result<Vec<Event>, LogError> {
        self.inner.before(room, before, limit)
    }
    fn after(&self, room: &str, since: u64, limit: usize) -> Result<Vec<Event>, LogError> {
        self.inner.after(room, since, limit)
    }
    fn start(&self, timeout: Duration, on_progress: OnProgress) -> Box<dyn Appender> {
        *self.gate.deliver.lock().unwrap() = Some(on_progress);
        let gate = self.gate.clone();
        self.inner
            .start(timeout, Box::new(move |progress| gate.pass(progress)))
    }
}

#[tokio::test]
async fn a_server_shutting_down_answers_503() {
    let log = HeldLog::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let config = ServerConfig {
        // Shutdown waits up to half of this for its goodbye to be stored: far longer than
        // the test, which lets it go.
        shutdown_grace: WAIT * 6,
        ..ServerConfig::default()
    };
    let running = server::start_on_log(listener, config, Arc::new(log.clone()), async {
        let _ = stopped.await;
    })
    .await
    .unwrap();
    let server = TestServer::external(running.local_addr());
    // Someone to say goodbye to, so that shutdown has a notice to store.
    let _member = Member::join(&server, "alice").await;
    let mut checks = TcpStream::connect(server.addr).await.unwrap();
    assert_eq!(check_on(&mut checks).await.0, "HTTP/1.1 200 OK");

    log.gate.hold();
    let _ = stop.send(());
    // The same connection, asked again until the server has begun to stop; it stays open
    // while the goodbye waits to be stored.
    let body = within("a 503 while shutting down", async {
        loop {
            let (status, body) = check_on(&mut checks).await;
            if status == "HTTP/1.1 503 Service Unavailable" {
                return body;
            }
            assert_eq!(status, "HTTP/1.1 200 OK");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert_eq!(body, "shutting down\n");

    log.gate.release();
    within("the server to stop", running.stopped()).await;
}
