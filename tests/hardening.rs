//! Hostile and careless clients against a real server: oversized and malformed input,
//! floods, slow readers, too many connections, slow handshakes, and the accounting of
//! joins and leaves on every way out.

mod common;

use std::time::Duration;

use chatroom::domain::{ChatConfig, RateLimit};
use chatroom::rpc::server::ServerConfig;
use chatroom::rpc::types::EventKind;
use chatroom::rpc::{ChatApiClient, codes};
use common::raw_ws::{BINARY, RawWs, length_header};
use common::{Member, TestServer, post_raw, within};
use jsonrpsee::core::ClientError;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const MEMBERS_CALL: &str = r#"{"jsonrpc":"2.0","id":7,"method":"chat_members"}"#;

/// The JSON-RPC error code in a reply, failing the test if the reply is not an error.
fn error_code(reply: &Value) -> i64 {
    reply["error"]["code"]
        .as_i64()
        .unwrap_or_else(|| panic!("expected an error, got {reply}"))
}

fn client_error_code(err: ClientError) -> i32 {
    match err {
        ClientError::Call(obj) => obj.code(),
        other => panic!("expected a JSON-RPC error, got {other:?}"),
    }
}

/// The connection still answers a valid call.
async fn assert_still_usable(ws: &mut RawWs) {
    let reply = ws.call(MEMBERS_CALL).await;
    assert!(reply["result"].is_array(), "{reply}");
}

/// Inputs that are not valid JSON-RPC, with the error each must get.
fn malformed_inputs() -> Vec<(&'static str, Vec<u8>, i64)> {
    const PARSE: i64 = -32700;
    const INVALID_REQUEST: i64 = -32600;
    const INVALID_PARAMS: i64 = -32602;
    vec![
        ("garbage bytes", b"\x00\x01garbage\xfe".to_vec(), PARSE),
        ("an empty object", b"{}".to_vec(), PARSE),
        ("an empty batch", b"[]".to_vec(), INVALID_REQUEST),
        (
            "unclosed JSON",
            br#"{"jsonrpc":"2.0","id":1,"method":"chat_members""#.to_vec(),
            PARSE,
        ),
        (
            "10,000 nested arrays",
            "[".repeat(10_000).into_bytes(),
            PARSE,
        ),
        (
            "invalid UTF-8 in a string",
            b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"chat_join\",\"params\":[\"\xff\xfe\"]}"
                .to_vec(),
            INVALID_REQUEST,
        ),
        (
            "an unknown method",
            br#"{"jsonrpc":"2.0","id":1,"method":"chat_nope"}"#.to_vec(),
            -32601,
        ),
        (
            "a lone surrogate",
            br#"{"jsonrpc":"2.0","id":1,"method":"chat_join","params":["\ud800"]}"#.to_vec(),
            INVALID_PARAMS,
        ),
    ]
}

#[tokio::test]
async fn malformed_websocket_messages_get_errors_and_the_connection_stays_open() {
    let server = TestServer::start().await;
    let mut ws = RawWs::connect(server.addr).await;
    for (what, input, code) in malformed_inputs() {
        // Binary frames carry bytes that are not UTF-8 at all; jsonrpsee reads both kinds.
        ws.send_frame(BINARY, &input).await;
        let reply = ws.recv_json().await;
        assert_eq!(error_code(&reply), code, "{what}: {reply}");
        assert_still_usable(&mut ws).await;
    }
    assert!(server_members(&server).await.is_empty(), "nobody joined");
    server.stop().await;
}

#[tokio::test]
async fn malformed_http_requests_get_errors() {
    let server = TestServer::start().await;
    for (what, input, code) in malformed_inputs() {
        let (status, body) = post_raw(&server, &input).await;
        let reply: Value = serde_json::from_str(&body)
            .unwrap_or_else(|_| panic!("{what}: {status} with non-JSON body {body:?}"));
        assert_eq!(error_code(&reply), code, "{what}: {status} {reply}");
    }
    assert!(server_members(&server).await.is_empty(), "nobody joined");
    server.stop().await;
}

async fn server_members(server: &TestServer) -> Vec<String> {
    let client = chatroom::rpc::client::connect(&server.ws_url())
        .await
        .unwrap();
    client
        .members(None, None)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.name)
        .collect()
}

fn oversized_join() -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"chat_join","params":["{}"]}}"#,
        "x".repeat(70 * 1024)
    )
}

#[tokio::test]
async fn oversized_websocket_message_is_refused_and_the_connection_stays_usable() {
    let server = TestServer::start().await;
    let mut ws = RawWs::connect(server.addr).await;
    let reply = ws.call(&oversized_join()).await;
    assert_eq!(error_code(&reply), -32007, "{reply}");
    assert_still_usable(&mut ws).await;
    server.stop().await;
}

#[tokio::test]
async fn oversized_http_request_is_refused() {
    let server = TestServer::start().await;
    let (status, body) = post_raw(&server, oversized_join().as_bytes()).await;
    assert_eq!(status, "HTTP/1.1 413 Payload Too Large", "{body}");
    server.stop().await;
}

#[tokio::test]
async fn a_frame_claiming_gigabytes_costs_nothing_and_hurts_no_one() {
    let server = TestServer::start().await;
    let before = resident_kib();
    let mut liar = RawWs::connect(server.addr).await;
    let mut header = vec![0x81];
    header.extend(length_header(4 << 30));
    header.extend([1, 2, 3, 4]); // mask
    liar.stream.write_all(&header).await.unwrap();
    liar.stream.write_all(&[b'x'; 1024]).await.unwrap();

    // The room carries on for everyone else.
    let mut alice = Member::join(&server, "alice").await;
    let bob = Member::join(&server, "bob").await;
    assert_eq!(alice.next_event().await.kind, EventKind::Join);
    bob.say("business as usual").await;
    assert_eq!(
        alice.next_event().await.text.as_deref(),
        Some("business as usual")
    );
    let grown = resident_kib().saturating_sub(before);
    assert!(grown < 256 * 1024, "resident memory grew by {grown} KiB");
    server.stop().await;
}

/// This process's resident memory (the server runs in it), from /proc.
fn resident_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn batches_over_the_cap_are_refused() {
    let server = TestServer::start_with(ServerConfig {
        max_batch: 4,
        ..ServerConfig::default()
    })
    .await;
    let batch = |n: usize| format!("[{}]", vec![MEMBERS_CALL; n].join(","));
    let mut ws = RawWs::connect(server.addr).await;
    let reply = ws.call(&batch(4)).await;
    assert_eq!(reply.as_array().map(Vec::len), Some(4), "{reply}");
    let reply = ws.call(&batch(5)).await;
    assert_eq!(error_code(&reply), -32010, "{reply}");
    assert_still_usable(&mut ws).await;
    server.stop().await;
}

#[tokio::test]
async fn batches_can_be_turned_off() {
    let server = TestServer::start_with(ServerConfig {
        max_batch: 0,
        ..ServerConfig::default()
    })
    .await;
    let mut ws = RawWs::connect(server.addr).await;
    let reply = ws.call(&format!("[{MEMBERS_CALL}]")).await;
    assert_eq!(error_code(&reply), -32005, "{reply}");
    server.stop().await;
}

#[tokio::test]
async fn flooding_client_is_limited_then_disconnected_while_others_carry_on() {
    let server = TestServer::start_with(ServerConfig {
        chat: ChatConfig {
            // Slow enough that even a heavily loaded machine floods it.
            rate_limit: Some(RateLimit {
                per_sec: 1.0,
                burst: 10,
            }),
            ..ChatConfig::default()
        },
        ..ServerConfig::default()
    })
    .await;
    let mut alice = Member::join(&server, "alice").await;
    let bob = Member::join(&server, "bob").await;
    let mut flooder = RawWs::connect(server.addr).await;
    let session = flooder.join("flooder").await;
    assert_eq!(alice.next_event().await.from.name, "bob");
    assert_eq!(alice.next_event().await.from.name, "flooder");

    let send =
        format!(r#"{{"jsonrpc":"2.0","id":2,"method":"chat_send","params":["{session}","spam"]}}"#);
    let mut accepted = 0;
    let mut limited = 0;
    let mut ended = None;
    for round in 0..100 {
        let reply = flooder.call(&send).await;
        if reply["result"]["seq"].is_u64() {
            accepted += 1;
            continue;
        }
        match error_code(&reply) as i32 {
            codes::RATE_LIMITED => {
                let message = reply["error"]["message"].as_str().unwrap();
                assert!(message.starts_with("rate limited, retry in "), "{message}");
                assert!(reply["error"]["data"]["retry_after_ms"].as_u64().unwrap() > 0);
                limited += 1;
            }
            codes::SESSION_ENDED => {
                ended = Some((round, reply["error"]["message"].clone()));
                break;
            }
            other => panic!("unexpected error {other}: {reply}"),
        }
        if round == 15 {
            // Someone else speaks in the middle of the flood and is heard at once.
            bob.say("over the noise").await;
        }
    }
    let (_, message) = ended.expect("the flooder was never disconnected");
    assert_eq!(message, "session ended: flooding");
    assert!(accepted >= 10, "the burst was allowed ({accepted})");
    assert!(
        limited >= 5,
        "calls over the limit were refused ({limited})"
    );

    // alice saw the accepted spam, bob's line in its place, and one leave.
    let mut saw_bob = false;
    loop {
        let event = alice.next_event().await;
        match (event.kind, event.from.name.as_str()) {
            (EventKind::Message, "flooder") => assert!(!saw_bob || accepted > 10),
            (EventKind::Message, "bob") => saw_bob = true,
            (EventKind::Leave, "flooder") => {
                assert_eq!(event.text.as_deref(), Some("flooding"));
                break;
            }
            other => panic!("unexpected event {other:?}"),
        }
    }
    assert!(saw_bob, "bob was heard during the flood");
    // The flooder's connection is closed too.
    flooder.closed().await;
    server.stop().await;
}

#[tokio::test]
async fn slow_reader_is_disconnected_and_nobody_else_stalls() {
    let server = TestServer::start_with(ServerConfig {
        chat: ChatConfig {
            queue_capacity: 16,
            rate_limit: None,
            ..ChatConfig::default()
        },
        connection_buffer: 16,
        // The kicked reader's socket stays stuck in a write until TCP_USER_TIMEOUT; do not
        // wait for it at shutdown.
        shutdown_grace: Duration::from_millis(100),
        ..ServerConfig::default()
    })
    .await;
    let mut alice = Member::join(&server, "alice").await;
    let bob = Member::join(&server, "bob").await;
    let mut slow = RawWs::connect(server.addr).await;
    let session = slow.join("slow").await;
    let reply = slow.subscribe(&session).await;
    assert!(reply["result"].is_u64(), "{reply}");
    assert_eq!(alice.next_event().await.from.name, "bob");
    assert_eq!(alice.next_event().await.from.name, "slow");
    // From here on `slow` reads nothing. Big messages fill its socket buffers quickly.
    let text = "y".repeat(4000);
    let mut last_seq = 0;
    for _ in 0..20_000 {
        let seq = bob.say(&text).await;
        let event = alice.next_event().await;
        if event.kind == EventKind::Leave {
            assert_eq!(event.from.name, "slow");
            assert_eq!(event.text.as_deref(), Some("too slow"));
            // Everyone else got every message, in order, up to the kick.
            assert_eq!(event.seq, last_seq + 1);
            assert_eq!(alice.next_event().await.seq, seq);
            server.stop().await;
            return;
        }
        assert_eq!(event.seq, seq, "alice is not held up");
        last_seq = seq;
    }
    panic!("the slow reader was never disconnected");
}

#[tokio::test]
async fn killed_client_produces_exactly_one_leave() {
    let server = TestServer::start().await;
    let mut alice = Member::join(&server, "alice").await;
    let bob = Member::join(&server, "bob").await;
    let mut victim = RawWs::connect(server.addr).await;
    victim.join("victim").await;
    assert_eq!(alice.next_event().await.from.name, "bob");
    assert_eq!(alice.next_event().await.from.name, "victim");

    // No close frame, no FIN: the connection is reset, as when a process is killed.
    socket2::SockRef::from(&victim.stream)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(victim);
    let leave = alice.next_event().await;
    assert_eq!(
        (leave.kind, leave.from.name.as_str(), leave.text.as_deref()),
        (EventKind::Leave, "victim", Some("connection closed"))
    );
    bob.say("marker").await;
    assert_eq!(alice.next_event().await.text.as_deref(), Some("marker"));
    server.stop().await;
}

/// Reads a refused connection's answer: the status line.
async fn refusal(addr: std::net::SocketAddr) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    within("the refusal", stream.read_to_string(&mut response))
        .await
        .unwrap();
    response.lines().next().unwrap_or("").to_owned()
}

#[tokio::test]
async fn connections_over_the_per_address_cap_are_refused() {
    let server = TestServer::start_with(ServerConfig {
        max_per_ip: 2,
        limit_loopback: true,
        ..ServerConfig::default()
    })
    .await;
    let first = RawWs::connect(server.addr).await;
    let mut second = RawWs::connect(server.addr).await;
    assert_eq!(refusal(server.addr).await, "HTTP/1.1 429 Too Many Requests");
    // A slot frees up when a connection goes.
    drop(first);
    second.join("second").await;
    within("a free slot", async {
        loop {
            let mut stream = TcpStream::connect(server.addr).await.unwrap();
            let request = format!(
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{MEMBERS_CALL}",
                MEMBERS_CALL.len()
            );
            stream.write_all(request.as_bytes()).await.unwrap();
            let mut head = [0u8; 12];
            if stream.read_exact(&mut head).await.is_ok() && &head == b"HTTP/1.1 200" {
                return;
            }
        }
    })
    .await;
    server.stop().await;
}

#[tokio::test]
async fn loopback_is_exempt_from_the_per_address_cap_by_default() {
    let server = TestServer::start_with(ServerConfig {
        max_per_ip: 2,
        ..ServerConfig::default()
    })
    .await;
    let mut connections = Vec::new();
    for _ in 0..5 {
        connections.push(RawWs::connect(server.addr).await);
    }
    server.stop().await;
}

#[tokio::test]
async fn connections_over_the_total_cap_are_refused() {
    let server = TestServer::start_with(ServerConfig {
        max_connections: 2,
        ..ServerConfig::default()
    })
    .await;
    let _first = RawWs::connect(server.addr).await;
    let _second = RawWs::connect(server.addr).await;
    assert_eq!(
        refusal(server.addr).await,
        "HTTP/1.1 503 Service Unavailable"
    );
    server.stop().await;
}

#[tokio::test]
async fn subscriptions_per_connection_are_capped() {
    // More sessions than subscriptions allowed, so the subscription cap is what trips.
    let server = TestServer::start_with(ServerConfig {
        max_sessions_per_connection: 8,
        ..ServerConfig::default()
    })
    .await;
    let client = chatroom::rpc::client::connect(&server.ws_url())
        .await
        .unwrap();
    let mut subscriptions = Vec::new();
    for i in 0..4 {
        let joined = client
            .join(Some(format!("m{i}")), None, None, None)
            .await
            .unwrap();
        subscriptions.push(
            client
                .subscribe_events(joined.session, None, None)
                .await
                .unwrap(),
        );
    }
    let joined = client
        .join(Some("m4".into()), None, None, None)
        .await
        .unwrap();
    let err = client
        .subscribe_events(joined.session, None, None)
        .await
        .unwrap_err();
    assert_eq!(client_error_code(err), -32006);
    server.stop().await;
}

#[tokio::test]
async fn sessions_per_connection_are_capped() {
    let server = TestServer::start().await;
    let client = chatroom::rpc::client::connect(&server.ws_url())
        .await
        .unwrap();
    let mut sessions = Vec::new();
    for i in 0..4 {
        sessions.push(
            client
                .join(Some(format!("m{i}")), None, None, None)
                .await
                .unwrap()
                .session,
        );
    }
    let err = client
        .join(Some("m4".into()), None, None, None)
        .await
        .unwrap_err();
    assert_eq!(client_error_code(err), codes::TOO_MANY_SESSIONS);
    // Leaving frees a place.
    client.leave(sessions.pop().unwrap(), None).await.unwrap();
    client
        .join(Some("m4".into()), None, None, None)
        .await
        .unwrap();
    server.stop().await;
}

#[tokio::test]
async fn joins_are_rate_limited_per_address() {
    let server = TestServer::start_with(ServerConfig {
        limit_loopback: true,
        join_rate: RateLimit {
            per_sec: 0.5,
            burst: 3,
        },
        ..ServerConfig::default()
    })
    .await;
    let http = jsonrpsee::http_client::HttpClientBuilder::new()
        .build(server.http_url())
        .unwrap();
    for i in 0..3 {
        http.join(Some(format!("j{i}")), None, None, None)
            .await
            .unwrap();
    }
    let err = http
        .join(Some("j3".into()), None, None, None)
        .await
        .unwrap_err();
    assert_eq!(client_error_code(err), codes::RATE_LIMITED);
    // The same holds over WebSocket, from the same address.
    let ws = chatroom::rpc::client::connect(&server.ws_url())
        .await
        .unwrap();
    let err = ws
        .join(Some("w".into()), None, None, None)
        .await
        .unwrap_err();
    assert_eq!(client_error_code(err), codes::RATE_LIMITED);
    server.stop().await;
}

#[tokio::test]
async fn a_second_concurrent_poll_is_refused_not_queued() {
    let server = TestServer::start().await;
    let http = jsonrpsee::http_client::HttpClientBuilder::new()
        .request_timeout(common::WAIT)
        .build(server.http_url())
        .unwrap();
    let me = http
        .join(Some("poller".into()), None, None, None)
        .await
        .unwrap();
    // A subscription holds the session's events, as a first long poll would.
    let ws = chatroom::rpc::client::connect(&server.ws_url())
        .await
        .unwrap();
    let _events = ws
        .subscribe_events(me.session.clone(), None, None)
        .await
        .unwrap();
    let err = http
        .poll(me.session.clone(), Some(60_000), None, None)
        .await
        .unwrap_err();
    assert_eq!(client_error_code(err), codes::INBOX_BUSY);
    server.stop().await;
}

#[tokio::test]
async fn a_request_body_sent_a_byte_at_a_time_is_cut_off() {
    let server = TestServer::start_with(ServerConfig {
        handshake_timeout: Duration::from_millis(300),
        ..ServerConfig::default()
    })
    .await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
        .await
        .unwrap();
    // Keep dribbling until the server gives up on us.
    let cut_off = within("the server to give up on the body", async {
        let mut buf = [0u8; 1024];
        loop {
            tokio::select! {
                read = stream.read(&mut buf) => return read,
                () = tokio::time::sleep(Duration::from_millis(50)) => {
                    if stream.write_all(b" ").await.is_err() {
                        return Ok(0);
                    }
                }
            }
        }
    })
    .await;
    // Either an error response or a closed connection; never a wait without end.
    let _ = cut_off;
    server.stop().await;
}

#[tokio::test]
async fn slow_handshake_times_out_without_blocking_others() {
    let server = TestServer::start_with(ServerConfig {
        handshake_timeout: Duration::from_millis(300),
        ..ServerConfig::default()
    })
    .await;
    let mut dribbler = TcpStream::connect(server.addr).await.unwrap();
    dribbler
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut silent = TcpStream::connect(server.addr).await.unwrap();

    // Meanwhile others get in and chat.
    let mut alice = Member::join(&server, "alice").await;
    let bob = Member::join(&server, "bob").await;
    assert_eq!(alice.next_event().await.kind, EventKind::Join);
    bob.say("hi").await;
    assert_eq!(alice.next_event().await.text.as_deref(), Some("hi"));

    for stream in [&mut dribbler, &mut silent] {
        let mut rest = Vec::new();
        within(
            "the server to drop the slow handshake",
            stream.read_to_end(&mut rest),
        )
        .await
        .ok();
        assert!(
            rest.is_empty() || rest.starts_with(b"HTTP/1.1 408"),
            "{}",
            String::from_utf8_lossy(&rest)
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn shutdown_sends_everyone_a_notice_then_closes() {
    let server = TestServer::start().await;
    let mut alice = Member::join(&server, "alice").await;
    let mut raw = RawWs::connect(server.addr).await;
    let session = raw.join("raw").await;
    raw.subscribe(&session).await;
    assert_eq!(alice.next_event().await.kind, EventKind::Join);

    let stopping = tokio::spawn(server.stop());
    let notice = alice.next_event().await;
    assert_eq!(
        (
            notice.kind,
            notice.from.name.as_str(),
            notice.text.as_deref()
        ),
        (EventKind::System, "server", Some("server shutting down"))
    );
    within("alice's stream to end", async {
        assert!(
            alice.events.next().await.is_none(),
            "nothing after the notice"
        );
    })
    .await;
    // The raw client sees the notice, the end of its subscription, and a close.
    let notice = raw.recv_json().await;
    assert_eq!(notice["params"]["result"]["kind"], "system", "{notice}");
    let end = raw.recv_json().await;
    assert_eq!(
        end["params"]["error"],
        "session ended: server shutting down"
    );
    raw.closed().await;
    within("the server to stop", stopping).await.unwrap();
}

#[tokio::test]
async fn reserved_names_are_refused_over_the_wire() {
    let server = TestServer::start().await;
    let client = chatroom::rpc::client::connect(&server.ws_url())
        .await
        .unwrap();
    let err = client
        .join(Some("System".into()), None, None, None)
        .await
        .unwrap_err();
    assert_eq!(client_error_code(err), codes::NAME_RESERVED);
    server.stop().await;
}

#[tokio::test]
async fn look_alike_of_a_present_name_gets_a_variant() {
    let server = TestServer::start().await;
    let alice = Member::join(&server, "alice").await;
    let impostor = Member::join(&server, "\u{0430}lice").await; // Cyrillic а
    assert_ne!(impostor.name(), "\u{0430}lice");
    assert_eq!(impostor.name(), "\u{0430}lice-2");
    drop(alice);
    server.stop().await;
}

#[tokio::test]
async fn disguised_look_alikes_get_a_variant_or_are_refused() {
    let server = TestServer::start().await;
    let mut alice = Member::join(&server, "alice").await;
    let capital_i = Member::join(&server, "aIice").await;
    assert_eq!(capital_i.name(), "aIice-2");
    assert_eq!(alice.next_event().await.from.name, "aIice-2");
    let braille_blank = Member::join(&server, "alice\u{2800}").await;
    assert_eq!(braille_blank.name(), "alice-3");
    let line_maker = Member::join(&server, "bob> alice, send me your password").await;
    assert_eq!(line_maker.name(), "bob_alice_send_me_your_password");
    for reserved in ["ᎪDMIN", "RᎾOT", "server\u{2800}", "-!- server"] {
        let err = capital_i
            .client
            .join(Some(reserved.into()), None, None, None)
            .await
            .unwrap_err();
        assert_eq!(client_error_code(err), codes::NAME_RESERVED, "{reserved:?}");
    }
    server.stop().await;
}

#[tokio::test]
async fn text_of_only_invisible_characters_is_refused_and_joiners_that_join_arrive() {
    let server = TestServer::start().await;
    let mut alice = Member::join(&server, "alice").await;
    let mallory = Member::join(&server, "mallory").await;
    alice.next_event().await; // mallory's join
    // Tags spelling "hi", a variation selector, a braille blank, an idle ZWJ.
    let invisible = "\u{E0068}\u{E0069}\u{FE00}\u{2800}\u{200D}";
    let err = mallory
        .client
        .send(mallory.session(), invisible.into(), None, None)
        .await
        .unwrap_err();
    assert_eq!(client_error_code(err), codes::EMPTY_TEXT);
    mallory
        .say(&format!("ok{invisible} 👩\u{200D}💻 می\u{200C}خواهم"))
        .await;
    let event = alice.next_event().await;
    assert_eq!(
        event.text.as_deref(),
        Some("ok  👩\u{200D}💻 می\u{200C}خواهم"),
        "the braille blank became a space"
    );
    server.stop().await;
}

#[tokio::test]
async fn hostile_text_is_cleaned_before_anyone_sees_it() {
    let server = TestServer::start().await;
    let mut alice = Member::join(&server, "alice").await;
    let mallory = Member::join(&server, "mal\u{202E}lory\x1b[31m").await;
    assert_eq!(mallory.name(), "mallory31m");
    assert_eq!(alice.next_event().await.from.name, "mallory31m");
    mallory
        .say("\x1b]52;c;cGF3bmVk\x07hi\u{200B}\r\x1b[2K\u{2066}there")
        .await;
    let event = alice.next_event().await;
    assert_eq!(event.text.as_deref(), Some("]52;c;cGF3bmVkhi\n[2Kthere"));
    server.stop().await;
}
