//! Who gets in: a room password over WebSocket and HTTP, and TLS with the ways a client can
//! trust a certificate.

mod common;

use chatroom::rpc::ChatApiClient;
use chatroom::rpc::auth::{FREE_FAILURES, Password};
use chatroom::rpc::client::{ConnectError, SUBSCRIPTION_BUFFER, connect, connect_with};
use chatroom::rpc::codes;
use chatroom::rpc::server::ServerConfig;
use chatroom::rpc::tls::{self, ClientTls, Fingerprint};
use common::{TempDir, TestServer, within};
use jsonrpsee::core::ClientError;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};

const SECRET: &str = "correct horse battery staple";

fn code(err: ClientError) -> i32 {
    match err {
        ClientError::Call(call) => call.code(),
        other => panic!("not a call error: {other}"),
    }
}

async fn private_room() -> TestServer {
    TestServer::start_with(ServerConfig {
        password: Some(Password::new(SECRET)),
        ..ServerConfig::default()
    })
    .await
}

fn http(server: &TestServer) -> HttpClient {
    HttpClientBuilder::default()
        .build(server.http_url())
        .unwrap()
}

/// Missing and wrong passwords are refused and make no member; the right one joins.
async fn assert_only_the_password_joins(client: &impl ChatApiClient) {
    let missing = client
        .join(Some("eve".into()), None, None, None)
        .await
        .unwrap_err();
    assert_eq!(code(missing), codes::PASSWORD_REQUIRED);
    let wrong = client
        .join(Some("eve".into()), Some("guess".into()), None, None)
        .await;
    assert_eq!(code(wrong.unwrap_err()), codes::WRONG_PASSWORD);
    let alice = client
        .join(Some("alice".into()), Some(SECRET.into()), None, None)
        .await
        .unwrap();
    let members = client
        .members(Some(alice.session.clone()), None)
        .await
        .unwrap();
    let names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["alice"], "the refused joins made no member");
}

#[tokio::test]
async fn only_the_right_password_joins_over_websocket() {
    let server = private_room().await;
    assert_only_the_password_joins(&connect(&server.ws_url()).await.unwrap()).await;
    server.stop().await;
}

#[tokio::test]
async fn only_the_right_password_joins_over_http() {
    let server = private_room().await;
    assert_only_the_password_joins(&http(&server)).await;
    server.stop().await;
}

/// Every method, called without a session of the room: refused, over either transport.
async fn assert_every_method_refuses_outsiders(client: &impl ChatApiClient) {
    let bogus = || "0123456789abcdef0123456789abcdef".to_owned();
    assert_eq!(
        code(client.members(None, None).await.unwrap_err()),
        codes::PASSWORD_REQUIRED
    );
    assert_eq!(
        code(client.members(Some(bogus()), None).await.unwrap_err()),
        codes::UNKNOWN_SESSION
    );
    let refusals = [
        client
            .send(bogus(), "hi".into(), None, None)
            .await
            .map(|_| ()),
        client.nick(bogus(), "mallory".into()).await.map(|_| ()),
        client.poll(bogus(), Some(0), None, None).await.map(|_| ()),
        client
            .history(bogus(), None, None, None, None)
            .await
            .map(|_| ()),
        client.leave(bogus(), None).await,
    ];
    for refusal in refusals {
        assert_eq!(code(refusal.unwrap_err()), codes::UNKNOWN_SESSION);
    }
}

#[tokio::test]
async fn every_method_refuses_callers_without_a_session() {
    let server = private_room().await;
    assert_every_method_refuses_outsiders(&http(&server)).await;
    let ws = connect(&server.ws_url()).await.unwrap();
    assert_every_method_refuses_outsiders(&ws).await;
    // The event stream too.
    assert!(
        ws.subscribe_events("0123456789abcdef0123456789abcdef".into(), None, None)
            .await
            .is_err()
    );
    // An open room tells anyone who is there.
    let open = TestServer::start().await;
    assert!(http(&open).members(None, None).await.is_ok());
    server.stop().await;
    open.stop().await;
}

#[tokio::test]
async fn a_made_up_session_learns_nothing_of_how_far_a_private_room_has_got() {
    let server = private_room().await;
    let http = http(&server);
    let alice = http
        .join(Some("alice".into()), Some(SECRET.into()), None, None)
        .await
        .unwrap();
    http.send(alice.session, "a secret chat".into(), None, None)
        .await
        .unwrap();
    let bogus = || "0123456789abcdef0123456789abcdef".to_owned();
    let assert_refused_blind = |err: ClientError| {
        let ClientError::Call(call) = err else {
            panic!("not a call error: {err}")
        };
        assert_eq!(call.code(), codes::UNKNOWN_SESSION, "{}", call.message());
        assert!(!call.message().contains("latest"), "{}", call.message());
    };
    assert_refused_blind(
        http.poll(bogus(), Some(0), Some(u64::MAX), None)
            .await
            .unwrap_err(),
    );
    let ws = connect(&server.ws_url()).await.unwrap();
    assert_refused_blind(
        ws.subscribe_events(bogus(), Some(u64::MAX), None)
            .await
            .unwrap_err(),
    );
    server.stop().await;
}

#[tokio::test]
async fn an_address_that_keeps_guessing_is_shut_out_even_with_the_right_password() {
    let server = private_room().await;
    let http = http(&server);
    for _ in 0..FREE_FAILURES {
        let wrong = http
            .join(None, Some("guess".into()), None, None)
            .await
            .unwrap_err();
        assert_eq!(code(wrong), codes::WRONG_PASSWORD);
    }
    let err = http
        .join(None, Some(SECRET.into()), None, None)
        .await
        .unwrap_err();
    let ClientError::Call(call) = err else {
        panic!("{err}")
    };
    assert_eq!(call.code(), codes::SHUT_OUT);
    let data: serde_json::Value = serde_json::from_str(call.data().unwrap().get()).unwrap();
    assert!(data["retry_after_ms"].as_u64().unwrap() > 0, "{data}");
    server.stop().await;
}

/// A TLS server with a certificate made in the test for 127.0.0.1, and that certificate
/// as a PEM file for clients to trust.
async fn tls_server(dir: &TempDir) -> (TestServer, std::path::PathBuf, Fingerprint) {
    let made = tls::self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let ca = dir.0.join("ca.pem");
    std::fs::write(&ca, &made.cert_pem).unwrap();
    let server = TestServer::start_with(ServerConfig {
        tls: Some(made.config),
        ..ServerConfig::default()
    })
    .await;
    (server, ca, made.fingerprint)
}

fn wss(server: &TestServer) -> String {
    format!("wss://{}", server.addr)
}

async fn members_of(server: &TestServer, ca: &std::path::Path) -> usize {
    let tls = ClientTls {
        ca_file: Some(ca.to_owned()),
        fingerprint: None,
    };
    let client = connect_with(&wss(server), &tls, SUBSCRIPTION_BUFFER)
        .await
        .unwrap();
    client.members(None, None).await.unwrap().len()
}

#[tokio::test]
async fn a_client_trusting_the_ca_file_chats_over_wss_and_https() {
    let dir = TempDir::new();
    let (server, ca, _) = tls_server(&dir).await;
    let tls = ClientTls {
        ca_file: Some(ca.clone()),
        fingerprint: None,
    };
    let client = connect_with(&wss(&server), &tls, SUBSCRIPTION_BUFFER)
        .await
        .unwrap();
    let alice = client
        .join(Some("alice".into()), None, None, None)
        .await
        .unwrap();
    client
        .send(alice.session.clone(), "private words".into(), None, None)
        .await
        .unwrap();

    let https = HttpClientBuilder::default()
        .with_custom_cert_store(tls.client_config().unwrap().unwrap())
        .build(format!("https://{}", server.addr))
        .unwrap();
    let bob = https
        .join(Some("bob".into()), None, None, None)
        .await
        .unwrap();
    let history = https
        .history(bob.session, None, None, None, None)
        .await
        .unwrap();
    assert!(
        history
            .iter()
            .any(|e| e.text.as_deref() == Some("private words"))
    );
    server.stop().await;
}

#[tokio::test]
async fn without_the_ca_file_the_certificate_is_refused_and_nothing_is_sent() {
    let dir = TempDir::new();
    let (server, ca, _) = tls_server(&dir).await;
    let err = connect(&wss(&server)).await.unwrap_err();
    assert!(matches!(err, ConnectError::Handshake { .. }), "{err}");
    assert!(err.is_permanent());
    assert!(err.to_string().contains("certificate"), "{err}");
    let https = HttpClientBuilder::default()
        .build(format!("https://{}", server.addr))
        .unwrap();
    // hyper's error says only "client error (Connect)", but it is a transport failure,
    // not an answer from the server.
    let err = https
        .join(Some("eve".into()), None, None, None)
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Transport(_)), "{err}");
    assert_eq!(members_of(&server, &ca).await, 0, "nobody joined");
    server.stop().await;
}

#[tokio::test]
async fn a_pinned_fingerprint_is_trusted_and_any_other_refused() {
    let dir = TempDir::new();
    let (server, ca, fingerprint) = tls_server(&dir).await;
    let pinned = ClientTls {
        ca_file: None,
        fingerprint: Some(fingerprint),
    };
    let client = connect_with(&wss(&server), &pinned, SUBSCRIPTION_BUFFER)
        .await
        .unwrap();
    client
        .join(Some("pinned".into()), None, None, None)
        .await
        .unwrap();

    let other = tls::self_signed(vec!["127.0.0.1".into()]).unwrap();
    let wrong = ClientTls {
        ca_file: None,
        fingerprint: Some(other.fingerprint),
    };
    let err = connect_with(&wss(&server), &wrong, SUBSCRIPTION_BUFFER)
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectError::Handshake { .. }), "{err}");
    assert!(err.to_string().contains("fingerprint"), "{err}");
    assert_eq!(members_of(&server, &ca).await, 1, "only the pinned client");
    server.stop().await;
}

#[tokio::test]
async fn a_plain_ws_client_on_a_tls_port_fails_cleanly() {
    let dir = TempDir::new();
    let (server, ca, _) = tls_server(&dir).await;
    let result = within("the plain client to give up", connect(&server.ws_url())).await;
    let err = result.unwrap_err().to_string();
    assert!(err.contains("try wss://"), "{err}");
    // The server is none the worse for it.
    assert_eq!(members_of(&server, &ca).await, 0);
    server.stop().await;
}
