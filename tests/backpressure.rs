//! What one connection can cost the server has a ceiling: a client that keeps calling and
//! never reads its answers is held back by TCP instead of growing the server's memory, and
//! however many calls want history, they hold a bounded number of threads.
//!
//! The tests measure the whole process (the server runs in it) from /proc/self/status,
//! so they run one at a time, in a test binary of their own.

mod common;

use std::time::Duration;

use chatroom::domain::ChatConfig;
use chatroom::rpc::ChatApiClient;
use chatroom::rpc::client::connect;
use chatroom::rpc::server::ServerConfig;
use common::raw_ws::{RawWs, TEXT, masked_frame};
use common::{Member, TestServer, within};
use tokio::io::AsyncWriteExt;

/// The tests measure the process: one at a time.
static MEASURING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Calls in flight per connection in these tests.
const CALLS_IN_FLIGHT: u32 = 4;
/// Stored messages, and their length: a `chat_history` answer is then about 400 KB.
const MESSAGES: usize = 100;
const MESSAGE_BYTES: usize = 4000;

/// A number from /proc/self/status, such as `VmRSS` (in KiB) or `Threads`.
fn status(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux /proc");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

/// A server whose history holds [`MESSAGES`] long messages, and the member who wrote them.
async fn server_with_long_history(calls_in_flight: u32) -> (TestServer, Member) {
    let server = TestServer::start_with(ServerConfig {
        chat: ChatConfig {
            rate_limit: None,
            ..ChatConfig::default()
        },
        max_calls_per_connection: calls_in_flight,
        ..ServerConfig::default()
    })
    .await;
    let writer = Member::join(&server, "writer").await;
    let text = "x".repeat(MESSAGE_BYTES);
    for _ in 0..MESSAGES {
        writer.say(&text).await;
    }
    (server, writer)
}

/// A `chat_history` call for everything, padded with whitespace to `bytes`, so that few
/// requests fill the socket's buffers.
fn padded_history_call(session: &str, bytes: usize) -> Vec<u8> {
    let call = format!(
        r#"{{"jsonrpc":"2.0","id":7,"method":"chat_history","params":{{"session":"{session}","limit":500}}"#
    );
    let mut call = call.into_bytes();
    call.resize(bytes - 1, b' ');
    call.push(b'}');
    call
}

/// Sends `frame` up to `budget` times without reading anything, failing as soon as the
/// process has grown by `ceiling_kib` over `before`. Returns whether the server stopped
/// reading (a write could not finish for 2 s) and how much the process grew.
async fn flood_unread(
    hostile: &mut tokio::net::TcpStream,
    frame: &[u8],
    budget: usize,
    before: u64,
    ceiling_kib: u64,
) -> (bool, u64) {
    for sent in 0..budget {
        let write = hostile.write_all(frame);
        // A write that cannot finish for this long means the server has stopped reading.
        if tokio::time::timeout(Duration::from_secs(2), write)
            .await
            .is_err()
        {
            return (true, status("VmRSS").saturating_sub(before));
        }
        if sent % 16 == 0 {
            let grown = status("VmRSS").saturating_sub(before);
            assert!(
                grown < ceiling_kib,
                "resident memory grew by {grown} KiB after {sent} unread messages"
            );
        }
    }
    (false, status("VmRSS").saturating_sub(before))
}

#[tokio::test]
async fn a_client_that_never_reads_its_answers_stops_being_read_and_costs_bounded_memory() {
    let _one_at_a_time = MEASURING.lock().await;
    let (server, writer) = server_with_long_history(CALLS_IN_FLIGHT).await;
    let mut reader = Member::join(&server, "reader").await;
    // Warm up: one answer of the full size, read properly.
    let page = within(
        "a history page",
        reader
            .client
            .history(reader.session(), None, None, Some(500), None),
    )
    .await
    .unwrap();
    assert_eq!(page.len(), MESSAGES + 2, "the messages and two joins");
    let before = status("VmRSS");

    let mut hostile = RawWs::connect(server.addr).await;
    let session = hostile.join("hostile").await;
    let frame = masked_frame(TEXT, &padded_history_call(&session, 4096));
    // Unbounded, the server would read all 16 MB of these and build an answer of 400 KB
    // for each: 1.6 GB. Bounded, it reads a few, then TCP holds the client back.
    const BUDGET: usize = 4000;
    // Answers held: calls in flight at 400 KB each (measured: about 3 MB in all), with room
    // to spare for the allocator.
    const CEILING_KIB: u64 = 32 * 1024;
    let (stalled, grown) =
        flood_unread(&mut hostile.stream, &frame, BUDGET, before, CEILING_KIB).await;
    assert!(grown < CEILING_KIB, "resident memory grew by {grown} KiB");
    assert!(
        stalled,
        "the server kept reading {BUDGET} calls whose answers were not being read"
    );

    // Everyone else carries on: sends are delivered and history is read.
    writer.say("still here").await;
    let event = reader.next_event().await;
    assert_eq!(
        event.kind,
        chatroom::rpc::types::EventKind::Join,
        "hostile's join"
    );
    assert_eq!(
        reader.next_event().await.text.as_deref(),
        Some("still here")
    );
    let page = within(
        "a history page while the hostile client is stalled",
        reader
            .client
            .history(reader.session(), None, None, Some(1), None),
    )
    .await
    .unwrap();
    assert_eq!(page[0].text.as_deref(), Some("still here"));
    drop(hostile);
    server.stop().await;
}

#[tokio::test]
async fn a_batch_counts_as_the_calls_it_holds() {
    let _one_at_a_time = MEASURING.lock().await;
    let (server, writer) = server_with_long_history(8).await;
    // Warm up: one batch answer of the full size, read properly.
    let mut warm = RawWs::connect(server.addr).await;
    let batch = |session: &str| {
        let call = String::from_utf8(padded_history_call(session, 200)).unwrap();
        format!("[{}]", vec![call; 16].join(","))
    };
    let answer = warm.call(&batch(&writer.session())).await;
    assert_eq!(answer.as_array().map(Vec::len), Some(16), "a batch answer");
    let before = status("VmRSS");

    let mut hostile = RawWs::connect(server.addr).await;
    let session = hostile.join("hostile").await;
    let frame = masked_frame(TEXT, batch(&session).as_bytes());
    // Each batch answer is 16 pages of 400 KB. Counted as one call each, batches would
    // hold eight of those at once, 51 MB; counted as their calls (all eight permits for a
    // batch of 16), one at a time (measured: about 15 MB in all).
    const CEILING_KIB: u64 = 32 * 1024;
    let (stalled, grown) =
        flood_unread(&mut hostile.stream, &frame, 4000, before, CEILING_KIB).await;
    assert!(grown < CEILING_KIB, "resident memory grew by {grown} KiB");
    assert!(
        stalled,
        "the server kept reading batches nobody read answers to"
    );
    drop(hostile);
    server.stop().await;
}

#[tokio::test]
async fn pipelined_http_requests_wait_unread_too() {
    let _one_at_a_time = MEASURING.lock().await;
    let (server, writer) = server_with_long_history(CALLS_IN_FLIGHT).await;
    let before = status("VmRSS");
    let call = padded_history_call(&writer.session(), 4096);
    let mut request = format!(
        "POST / HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        server.addr,
        call.len()
    )
    .into_bytes();
    request.extend(call);
    let mut hostile = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    // Keep-alive requests, one after another on one connection, no answer read: hyper
    // serves one at a time, so the rest wait in TCP.
    const CEILING_KIB: u64 = 32 * 1024;
    let (stalled, grown) = flood_unread(&mut hostile, &request, 4000, before, CEILING_KIB).await;
    assert!(grown < CEILING_KIB, "resident memory grew by {grown} KiB");
    assert!(
        stalled,
        "the server kept reading requests nobody read answers to"
    );
    drop(hostile);
    server.stop().await;
}

#[tokio::test]
async fn a_client_that_never_reads_at_all_is_dropped_by_the_write_timeout() {
    let _one_at_a_time = MEASURING.lock().await;
    let server = TestServer::start_with(ServerConfig {
        max_calls_per_connection: CALLS_IN_FLIGHT,
        write_timeout: Duration::from_secs(1),
        ..ServerConfig::default()
    })
    .await;
    let mut watcher = Member::join(&server, "watcher").await;
    let writer = Member::join(&server, "writer").await;
    let text = "x".repeat(MESSAGE_BYTES);
    for _ in 0..MESSAGES / 10 {
        writer.say(&text).await;
    }
    let mut hostile = RawWs::connect(server.addr).await;
    let session = hostile.join("hostile").await;
    let frame = masked_frame(TEXT, &padded_history_call(&session, 4096));
    // Calls until the server has dropped the connection (or the budget is spent).
    let flood = tokio::spawn(async move {
        for _ in 0..4000 {
            if hostile.stream.write_all(&frame).await.is_err() {
                return;
            }
        }
    });
    assert_eq!(watcher.next_event().await.text, None, "writer's join");
    for _ in 0..MESSAGES / 10 {
        watcher.next_event().await;
    }
    assert_eq!(watcher.next_event().await.from.name, "hostile", "its join");
    let leave = watcher.next_event().await;
    assert_eq!(leave.kind, chatroom::rpc::types::EventKind::Leave);
    assert_eq!(leave.from.name, "hostile");
    assert_eq!(leave.text.as_deref(), Some("connection closed"));
    within("the flood to end", flood).await.unwrap();
    server.stop().await;
}

#[tokio::test]
async fn history_reads_hold_a_bounded_number_of_threads_however_many_want_them() {
    let _one_at_a_time = MEASURING.lock().await;
    let (server, writer) = server_with_long_history(CALLS_IN_FLIGHT).await;
    let mut clients = Vec::new();
    for _ in 0..16 {
        clients.push(connect(&server.ws_url()).await.unwrap());
    }
    let before = status("Threads");
    // Sixteen connections with every call they may have in flight reading history at once.
    let calls = clients.iter().flat_map(|client| {
        (0..CALLS_IN_FLIGHT).map(|_| client.history(writer.session(), None, None, Some(500), None))
    });
    let pages = within("every history call", futures::future::join_all(calls)).await;
    for page in pages {
        assert_eq!(page.unwrap().len(), MESSAGES + 1);
    }
    // Idle threads of the blocking pool stay for 10 s, so this counts every thread the
    // calls above needed.
    let grown = status("Threads").saturating_sub(before);
    assert!(grown <= 1, "{grown} more threads for history reads");
    server.stop().await;
}

#[tokio::test]
async fn a_connection_whose_calls_are_all_waiting_is_still_closed_when_its_client_goes() {
    // Measures nothing, but must not run beside the tests that do.
    let _one_at_a_time = MEASURING.lock().await;
    let server = TestServer::start_with(ServerConfig {
        max_calls_per_connection: 1,
        // The pings find out that the client has gone.
        ping_interval: Duration::from_millis(100),
        ..ServerConfig::default()
    })
    .await;
    let mut watcher = Member::join(&server, "watcher").await;
    let mut hostile = RawWs::connect(server.addr).await;
    let session = hostile.join("poller").await;
    assert_eq!(watcher.next_event().await.from.name, "poller", "its join");
    // Nothing happens in the room, so the poll waits its minute: the connection's one call
    // in flight, and its next message (and the close) wait unread.
    let poll = format!(
        r#"{{"jsonrpc":"2.0","id":2,"method":"chat_poll","params":{{"session":"{session}","timeout_ms":60000}}}}"#
    );
    hostile.send_text(&poll).await;
    drop(hostile);
    // Its member leaves as soon as the server has found the connection gone, not once the
    // poll has run out.
    let leave = watcher.next_event().await;
    assert_eq!(leave.kind, chatroom::rpc::types::EventKind::Leave);
    assert_eq!(leave.from.name, "poller");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pings_still_go_out_to_a_member_with_a_long_backlog() {
    let _one_at_a_time = MEASURING.lock().await;
    let server = TestServer::start_with(ServerConfig {
        ping_interval: Duration::from_millis(20),
        ping_timeout: Duration::from_secs(60),
        chat: ChatConfig {
            rate_limit: None,
            queue_capacity: 20_000,
            ..ChatConfig::default()
        },
        ..ServerConfig::default()
    })
    .await;
    let mut watcher = RawWs::connect(server.addr).await;
    let session = watcher.join("watcher").await;
    watcher.subscribe(&session).await;
    let sender = Member::join(&server, "sender").await;
    // About 40 MB for the watcher, which reads nothing meanwhile: far more than the
    // sockets' buffers hold, so the second half of it waits in the server.
    const MESSAGES: usize = 10_000;
    let text = "x".repeat(4000);
    for chunk in (0..MESSAGES).collect::<Vec<_>>().chunks(100) {
        let sends = chunk.iter().map(|_| {
            sender
                .client
                .send(sender.session(), text.clone(), None, None)
        });
        for sent in futures::future::join_all(sends).await {
            sent.unwrap();
        }
    }
    // Reading it all, the watcher must be pinged while the server's backlog drains, not
    // only once it is empty: the send task writes a bounded batch, then looks at its timers.
    let mut messages = 0;
    let mut pinged_in_second_half = false;
    while messages < MESSAGES {
        let (opcode, payload) = watcher.recv_any().await;
        match opcode {
            common::raw_ws::PING if messages > MESSAGES / 2 => pinged_in_second_half = true,
            TEXT if payload.windows(100).any(|w| w == &text.as_bytes()[..100]) => messages += 1,
            _ => {}
        }
    }
    assert!(
        pinged_in_second_half,
        "no ping while the last {} messages drained",
        MESSAGES / 2
    );
    server.stop().await;
}
