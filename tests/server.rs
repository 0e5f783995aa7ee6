//! The server end to end over real sockets: WebSocket members, HTTP members, sessions and errors.

mod common;

use std::time::{Duration, Instant};

use chatroom::rpc::server::ServerConfig;
use chatroom::rpc::types::{Event, EventKind, JoinResult, MemberInfo, SendResult};
use chatroom::rpc::{ChatApiClient, codes};
use common::raw_ws::RawWs;
use common::{Member, TestServer, WAIT, post, within};
use jsonrpsee::core::ClientError;
use jsonrpsee::core::client::ClientT;
use jsonrpsee::core::params::ObjectParams;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};

fn error_code(err: ClientError) -> i32 {
    match err {
        ClientError::Call(obj) => obj.code(),
        other => panic!("expected a JSON-RPC error, got {other:?}"),
    }
}

fn http_client(server: &TestServer) -> HttpClient {
    HttpClientBuilder::new()
        .request_timeout(WAIT)
        .build(server.http_url())
        .unwrap()
}

fn is_message(event: &Event, from: &str, text: &str) -> bool {
    event.kind == EventKind::Message
        && event.from.name == from
        && event.text.as_deref() == Some(text)
}

/// alice, bob and carol in the room, with alice already past the two join notices.
async fn alice_bob_carol(server: &TestServer) -> (Member, Member, Member) {
    let mut alice = Member::join(server, "alice").await;
    let bob = Member::join(server, "bob").await;
    let carol = Member::join(server, "carol").await;
    for _ in 0..2 {
        assert_eq!(alice.next_event().await.kind, EventKind::Join);
    }
    (alice, bob, carol)
}

/// Proves `listener` has nothing else queued: whatever `speaker` says now must be the very
/// next event it hears, since every member receives events in room order.
async fn assert_nothing_else_queued(listener: &mut Member, speaker: &Member) {
    speaker.say("marker").await;
    let next = listener.next_event().await;
    assert!(
        is_message(&next, speaker.name(), "marker"),
        "expected only the marker, got {next:?}"
    );
}

#[tokio::test]
async fn message_reaches_the_other_two_members_only() {
    let server = TestServer::start().await;
    let (mut alice, mut bob, mut carol) = alice_bob_carol(&server).await;
    assert_eq!(bob.next_event().await.kind, EventKind::Join);

    let seq = alice.say("hello, room").await;

    for member in [&mut bob, &mut carol] {
        // A join still being stored when carol joined reaches her too; skip those.
        let mut event = member.next_event().await;
        while event.kind == EventKind::Join {
            event = member.next_event().await;
        }
        assert!(is_message(&event, "alice", "hello, room"), "{event:?}");
        assert_eq!(event.seq, seq);
        assert_eq!(event.from.id, alice.joined.id);
    }
    // No self-echo: alice's own line is not waiting for her.
    assert_nothing_else_queued(&mut alice, &carol).await;
    server.stop().await;
}

#[tokio::test]
async fn others_see_join_and_leave_notices() {
    let server = TestServer::start().await;
    let mut alice = Member::join(&server, "alice").await;
    let bob = Member::join(&server, "bob").await;
    let join = alice.next_event().await;
    assert_eq!(
        (join.kind, join.from.name.as_str()),
        (EventKind::Join, "bob")
    );
    assert_eq!(join.text, None);

    bob.client.leave(bob.session(), None).await.unwrap();
    let leave = alice.next_event().await;
    assert_eq!(
        (leave.kind, leave.from.id),
        (EventKind::Leave, bob.joined.id)
    );
    assert_eq!(leave.text, None, "a chosen leave carries no reason");
    assert_eq!(leave.seq, join.seq + 1);
    server.stop().await;
}

#[tokio::test]
async fn dropped_connection_produces_exactly_one_leave() {
    let server = TestServer::start().await;
    let (mut alice, bob, carol) = alice_bob_carol(&server).await;

    drop(bob);
    let leave = alice.next_event().await;
    assert_eq!(
        (leave.kind, leave.from.name.as_str()),
        (EventKind::Leave, "bob")
    );
    assert_eq!(leave.text.as_deref(), Some("connection closed"));
    assert_nothing_else_queued(&mut alice, &carol).await;
    server.stop().await;
}

#[tokio::test]
async fn leave_then_disconnect_is_still_one_leave() {
    let server = TestServer::start().await;
    let (mut alice, bob, carol) = alice_bob_carol(&server).await;

    bob.client.leave(bob.session(), None).await.unwrap();
    drop(bob);
    assert_eq!(alice.next_event().await.kind, EventKind::Leave);
    assert_nothing_else_queued(&mut alice, &carol).await;
    server.stop().await;
}

#[tokio::test]
async fn session_is_dead_after_leave() {
    let server = TestServer::start().await;
    let bob = Member::join(&server, "bob").await;
    bob.client.leave(bob.session(), None).await.unwrap();
    let err = bob
        .client
        .send(bob.session(), "hi".into(), None, None)
        .await
        .unwrap_err();
    assert_eq!(error_code(err), codes::UNKNOWN_SESSION);
    let err = bob.client.leave(bob.session(), None).await.unwrap_err();
    assert_eq!(error_code(err), codes::UNKNOWN_SESSION);
    server.stop().await;
}

#[tokio::test]
async fn server_assigns_names_and_identity() {
    let server = TestServer::start().await;
    let first = Member::join(&server, "alice").await;
    let second = Member::join(&server, "ALICE").await;
    assert_eq!(first.name(), "alice");
    assert_eq!(second.name(), "ALICE-2");
    assert_ne!(first.joined.id, second.joined.id);
    assert_ne!(first.session(), second.session());

    let anonymous = first.client.join(None, None, None, None).await.unwrap();
    assert!(anonymous.name.starts_with("guest-"), "{}", anonymous.name);
    let names: Vec<String> = anonymous.members.into_iter().map(|m| m.name).collect();
    assert_eq!(names.len(), 3);
    assert!(names.contains(&"alice".to_owned()) && names.contains(&"ALICE-2".to_owned()));
    server.stop().await;
}

#[tokio::test]
async fn members_lists_everyone_present() {
    let server = TestServer::start().await;
    let alice = Member::join(&server, "alice").await;
    let _bob = Member::join(&server, "bob").await;
    let members: Vec<MemberInfo> = alice.client.members(None, None).await.unwrap();
    let names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["alice", "bob"]);
    server.stop().await;
}

#[tokio::test]
async fn bad_calls_get_stable_error_codes() {
    let server = TestServer::start().await;
    let alice = Member::join(&server, "alice").await;
    let send = |session: String, text: String| alice.client.send(session, text, None, None);

    let err = send("not-a-session".into(), "hi".into()).await.unwrap_err();
    assert_eq!(error_code(err), codes::UNKNOWN_SESSION);
    let err = send(alice.session(), " \n ".into()).await.unwrap_err();
    assert_eq!(error_code(err), codes::EMPTY_TEXT);
    let err = send(alice.session(), "x".repeat(4097)).await.unwrap_err();
    assert_eq!(error_code(err), codes::TEXT_TOO_LONG);
    let err = alice
        .client
        .subscribe_events(alice.session(), None, None)
        .await
        .unwrap_err();
    assert_eq!(error_code(err), codes::INBOX_BUSY, "one reader per session");
    let err = alice
        .client
        .subscribe_events("nope".into(), None, None)
        .await
        .unwrap_err();
    assert_eq!(error_code(err), codes::UNKNOWN_SESSION);
    server.stop().await;
}

#[tokio::test]
async fn http_member_long_polls_for_events() {
    let server = TestServer::start().await;
    let http = http_client(&server);
    let me = http
        .join(Some("curl".into()), None, None, None)
        .await
        .unwrap();
    let alice = Member::join(&server, "alice").await;

    // The join of alice is already waiting.
    let events = http
        .poll(me.session.clone(), Some(5_000), None, None)
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].kind, events[0].from.name.as_str()),
        (EventKind::Join, "alice")
    );

    // A poll blocks until something arrives.
    let poll = tokio::spawn({
        let http = http.clone();
        let session = me.session.clone();
        async move {
            http.poll(session, Some(WAIT.as_millis() as u64), None, None)
                .await
        }
    });
    let seq = alice.say("anyone on http?").await;
    let events = within("the poll", poll).await.unwrap().unwrap();
    assert_eq!(events.len(), 1);
    assert!(is_message(&events[0], "alice", "anyone on http?"));
    assert_eq!(events[0].seq, seq);

    // And the HTTP member can speak.
    let mut alice = alice;
    http.send(me.session.clone(), "yes".into(), None, None)
        .await
        .unwrap();
    assert!(is_message(&alice.next_event().await, "curl", "yes"));
    server.stop().await;
}

#[tokio::test]
async fn poll_with_nothing_pending_returns_empty_after_its_timeout() {
    let server = TestServer::start().await;
    let http = http_client(&server);
    let me = http
        .join(Some("curl".into()), None, None, None)
        .await
        .unwrap();
    let started = Instant::now();
    let events = http.poll(me.session, Some(300), None, None).await.unwrap();
    assert!(events.is_empty());
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "returned early"
    );
    server.stop().await;
}

#[tokio::test]
async fn http_member_that_stops_polling_is_removed() {
    let server = TestServer::start_with(ServerConfig {
        http_idle_timeout: Duration::from_millis(300),
        ..ServerConfig::default()
    })
    .await;
    let mut alice = Member::join(&server, "alice").await;
    let http = http_client(&server);
    let me = http
        .join(Some("sleepy".into()), None, None, None)
        .await
        .unwrap();
    assert_eq!(alice.next_event().await.kind, EventKind::Join);

    let leave = alice.next_event().await;
    assert_eq!(
        (leave.kind, leave.from.name.as_str()),
        (EventKind::Leave, "sleepy")
    );
    assert_eq!(leave.text.as_deref(), Some("idle timeout"));
    let err = http
        .poll(me.session, Some(0), None, None)
        .await
        .unwrap_err();
    assert_eq!(error_code(err), codes::UNKNOWN_SESSION);
    server.stop().await;
}

#[tokio::test]
async fn websocket_member_does_not_idle_out() {
    let server = TestServer::start_with(ServerConfig {
        http_idle_timeout: Duration::from_millis(100),
        ..ServerConfig::default()
    })
    .await;
    let alice = Member::join(&server, "alice").await;
    let mut bob = Member::join(&server, "bob").await;
    // Wait out several idle periods: an HTTP member would be gone, so the member that
    // joins afterwards must be the next thing bob hears, not alice leaving.
    let http = http_client(&server);
    let sleepy = http
        .join(Some("sleepy".into()), None, None, None)
        .await
        .unwrap();
    assert_eq!(bob.next_event().await.from.name, "sleepy");
    let leave = bob.next_event().await;
    assert_eq!(
        (leave.kind, leave.from.name.as_str()),
        (EventKind::Leave, "sleepy")
    );
    alice.say("still here").await;
    assert!(is_message(&bob.next_event().await, "alice", "still here"));
    drop(sleepy);
    server.stop().await;
}

#[tokio::test]
async fn named_parameters_work_over_http() {
    let server = TestServer::start().await;
    let http = http_client(&server);
    let mut params = ObjectParams::new();
    params.insert("name", "named").unwrap();
    let joined: JoinResult = http.request("chat_join", params).await.unwrap();
    assert_eq!(joined.name, "named");

    let mut params = ObjectParams::new();
    params.insert("session", &joined.session).unwrap();
    params.insert("text", "by name").unwrap();
    let sent: SendResult = http.request("chat_send", params).await.unwrap();
    assert!(sent.seq > 0);

    let mut params = ObjectParams::new();
    params.insert("session", &joined.session).unwrap();
    params.insert("timeout_ms", 0).unwrap();
    let events: Vec<Event> = http.request("chat_poll", params).await.unwrap();
    assert!(events.is_empty(), "no self-echo over HTTP either");
    server.stop().await;
}

/// The README's curl example, byte for byte what curl sends.
#[tokio::test]
async fn plain_http_post_joins_and_sends() {
    let server = TestServer::start().await;
    let mut alice = Member::join(&server, "alice").await;

    let body = post(
        &server,
        br#"{"jsonrpc":"2.0","id":1,"method":"chat_join","params":{"name":"curl"}}"#,
    )
    .await;
    let reply: serde_json::Value = serde_json::from_str(&body).unwrap();
    let session = reply["result"]["session"].as_str().unwrap().to_owned();

    let body = post(
        &server,
        format!(
            r#"{{"jsonrpc":"2.0","id":2,"method":"chat_send","params":{{"session":"{session}","text":"hello from curl"}}}}"#
        )
        .as_bytes(),
    )
    .await;
    let reply: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(reply["result"]["seq"].as_u64().is_some(), "{body}");

    assert_eq!(alice.next_event().await.kind, EventKind::Join);
    assert!(is_message(
        &alice.next_event().await,
        "curl",
        "hello from curl"
    ));
    server.stop().await;
}

#[tokio::test]
async fn websocket_session_can_be_driven_over_http_too() {
    let server = TestServer::start().await;
    let mut alice = Member::join(&server, "alice").await;
    let bob = Member::join(&server, "bob").await;
    alice.next_event().await;
    http_client(&server)
        .send(bob.session(), "via http".into(), None, None)
        .await
        .unwrap();
    assert!(is_message(&alice.next_event().await, "bob", "via http"));
    server.stop().await;
}

#[tokio::test]
async fn shutdown_closes_connections_and_finishes() {
    let server = TestServer::start().await;
    let mut alice = Member::join(&server, "alice").await;
    let addr = server.addr;
    server.stop().await;
    within("the subscription to end", async {
        while alice.events.next().await.is_some() {}
    })
    .await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "still accepting after shutdown"
    );
}

/// A peer that completes the handshake, joins, and then goes silent (never answers pings),
/// like a laptop that went to sleep: the server must notice and end its session.
#[tokio::test]
async fn silent_peer_is_dropped_when_it_stops_answering_pings() {
    let server = TestServer::start_with(ServerConfig {
        ping_interval: Duration::from_millis(100),
        ping_timeout: Duration::from_millis(300),
        ..ServerConfig::default()
    })
    .await;
    let mut alice = Member::join(&server, "alice").await;

    let mut sleeper = RawWs::connect(server.addr).await;
    sleeper.join("sleeper").await;
    let joined = alice.next_event().await;
    assert_eq!(
        (joined.kind, joined.from.name.as_str()),
        (EventKind::Join, "sleeper")
    );
    // From here on the peer neither reads nor writes.
    let leave = alice.next_event().await;
    assert_eq!(
        (leave.kind, leave.from.name.as_str()),
        (EventKind::Leave, "sleeper")
    );
    assert_eq!(leave.text.as_deref(), Some("connection closed"));
    drop(sleeper);
    server.stop().await;
}

#[tokio::test]
async fn me_and_nick_over_the_wire() {
    let server = TestServer::start().await;
    let mut alice = Member::join(&server, "alice").await;
    let bob = Member::join(&server, "bob").await;
    assert_eq!(alice.next_event().await.kind, EventKind::Join);

    bob.client
        .send(bob.session(), "waves".into(), Some(true), None)
        .await
        .unwrap();
    let action = alice.next_event().await;
    assert_eq!(
        (
            action.kind,
            action.from.name.as_str(),
            action.text.as_deref()
        ),
        (EventKind::Action, "bob", Some("waves"))
    );

    let renamed = bob
        .client
        .nick(bob.session(), "robert".into())
        .await
        .unwrap();
    assert_eq!(renamed.name, "robert");
    let nick = alice.next_event().await;
    assert_eq!(
        (nick.kind, nick.from.name.as_str(), nick.text.as_deref()),
        (EventKind::Nick, "robert", Some("bob"))
    );
    assert_eq!(nick.from.id, bob.joined.id);
    let err = bob
        .client
        .nick(bob.session(), "admin".into())
        .await
        .unwrap_err();
    assert_eq!(error_code(err), codes::NAME_RESERVED);
    server.stop().await;
}

/// What waited in a session's queue before it subscribed comes first and in order, then the
/// live events (which skip the queue once it is empty); after an unsubscribe they wait in
/// the queue again for the next subscription, none lost or repeated.
#[tokio::test]
async fn queued_events_come_before_live_ones_across_subscriptions() {
    let server = TestServer::start_with(ServerConfig {
        chat: chatroom::domain::ChatConfig {
            rate_limit: None,
            ..Default::default()
        },
        ..ServerConfig::default()
    })
    .await;
    let client = chatroom::rpc::client::connect(&server.ws_url())
        .await
        .unwrap();
    let joined = client
        .join(Some("reader".into()), None, None, None)
        .await
        .unwrap();
    let writer = Member::join(&server, "writer").await;
    let texts = |range: std::ops::Range<u32>| range.map(|n| format!("m{n}")).collect::<Vec<_>>();
    for text in texts(0..5) {
        writer.say(&text).await;
    }
    let mut got = Vec::new();
    let read = async |subscription: &mut jsonrpsee::core::client::Subscription<Event>,
                      got: &mut Vec<String>,
                      until: &str| {
        within("the messages", async {
            loop {
                let event = subscription.next().await.unwrap().unwrap();
                if event.kind == EventKind::Message {
                    got.push(event.text.clone().unwrap());
                    if event.text.as_deref() == Some(until) {
                        return;
                    }
                }
            }
        })
        .await
    };
    let mut first = client
        .subscribe_events(joined.session.clone(), None, None)
        .await
        .unwrap();
    read(&mut first, &mut got, "m4").await;
    for text in texts(5..10) {
        writer.say(&text).await;
    }
    read(&mut first, &mut got, "m9").await;
    first.unsubscribe().await.unwrap();
    for text in texts(10..15) {
        writer.say(&text).await;
    }
    let mut second = client
        .subscribe_events(joined.session.clone(), None, None)
        .await
        .unwrap();
    read(&mut second, &mut got, "m14").await;
    for text in texts(15..20) {
        writer.say(&text).await;
    }
    read(&mut second, &mut got, "m19").await;
    assert_eq!(got, texts(0..20));
    server.stop().await;
}
