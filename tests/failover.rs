//! `chatroom connect A,B`: a client given several server addresses uses the first that
//! answers and, when its connection is lost, moves on to the next, resuming its rooms there.
//! Plain mode in a child process, against real servers (a cluster's nodes share every room;
//! here one server's database is served again on another port, or two servers share an id).

mod common;

use std::net::SocketAddr;

use chatroom::rpc::server::ServerConfig;
use chatroom::store::DbLocation;
use common::plain::{finish, line_containing, plain_client};
use common::{Member, TempDir, TestServer, silent_port};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// Waits for `member` to hear `text` said by `from`.
async fn hears(member: &mut Member, from: &str, text: &str) {
    loop {
        let event = member.next_event().await;
        if event.text.as_deref() == Some(text) {
            assert_eq!(event.from.name, from);
            return;
        }
    }
}

/// A loopback port free now, for a server started on it later.
fn free_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_that_never_answers_is_passed_over_for_the_next() {
    let dir = TempDir::new();
    let silent = silent_port().await;
    let server = TestServer::start().await;
    let mut watcher = Member::join(&server, "watcher").await;
    let servers = format!("{silent},{}", server.addr);
    let mut client = plain_client(
        &[&servers, "--name", "bot", "--connect-timeout", "500ms"],
        &dir,
    );
    let mut stdin = client.stdin.take().unwrap();
    let mut out = BufReader::new(client.stdout.take().unwrap()).lines();
    let on = line_containing(&mut out, "-!- connected to").await;
    assert!(
        on.ends_with(&format!("-!- connected to {}", server.addr)),
        "{on}"
    );
    line_containing(&mut out, "-!- you are bot").await;
    stdin.write_all(b"hello from the second\n").await.unwrap();
    hears(&mut watcher, "bot", "hello from the second").await;

    drop(stdin);
    let (ok, stderr) = finish(client).await;
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains(&format!("cannot connect to ws://{silent}/"))
            && stderr.contains("trying the next server"),
        "{stderr}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_whose_server_goes_moves_to_the_next_and_resumes_with_nothing_missed() {
    let dir = TempDir::new();
    let config = || ServerConfig {
        db: DbLocation::File(dir.0.join("chat.db")),
        ..Default::default()
    };
    let first = TestServer::start_with(config()).await;
    // The second node: the same rooms and history, served on another port.
    let second_addr = free_port();
    let servers = format!("{},{second_addr}", first.addr);
    let mut client = plain_client(&[&servers, "--name", "logger"], &dir);
    let mut stdin = client.stdin.take().unwrap();
    let mut out = BufReader::new(client.stdout.take().unwrap()).lines();
    let on = line_containing(&mut out, "-!- connected to").await;
    assert!(
        on.ends_with(&format!("-!- connected to {}", first.addr)),
        "{on}"
    );
    line_containing(&mut out, "-!- you are logger").await;

    first.stop().await;
    line_containing(&mut out, "-!- disconnected").await;
    // A line typed while away is kept for the next node.
    stdin.write_all(b"said while away\n").await.unwrap();
    let second = TestServer::start_on(second_addr, config()).await;
    let mut carol = Member::join(&second, "carol").await;
    let on = line_containing(&mut out, "-!- connected to").await;
    assert!(
        on.ends_with(&format!("-!- connected to {second_addr}")),
        "{on}"
    );
    // Resumed from its cursor: the room's history there is the one it was reading.
    line_containing(&mut out, "-!- reconnected as logger").await;
    let said_before_carol = carol
        .joined
        .history
        .iter()
        .any(|e| e.text.as_deref() == Some("said while away"));
    if !said_before_carol {
        hears(&mut carol, "logger", "said while away").await;
    }
    carol.say("welcome back").await;
    line_containing(&mut out, "<~carol> welcome back").await;

    drop(stdin);
    let (ok, stderr) = finish(client).await;
    assert!(ok, "{stderr}");
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_given_together_that_share_a_server_id_are_each_signed_in_to() {
    // A cluster's nodes may speak with one server id: given together, that is no relay.
    let same = || ServerConfig {
        server_id: Some("0123456789abcdef0123456789abcdef".into()),
        ..ServerConfig::default()
    };
    let (a, b) = (
        TestServer::start_with(same()).await,
        TestServer::start_with(same()).await,
    );
    let dir = TempDir::new();
    let (a_addr, b_addr) = (a.addr, b.addr);
    let servers = format!("{a_addr},{b_addr}");
    let mut client = plain_client(&[&servers, "--name", "alice"], &dir);
    let mut stdin = client.stdin.take().unwrap();
    let mut out = BufReader::new(client.stdout.take().unwrap()).lines();
    line_containing(&mut out, "-!- you are alice").await;
    a.stop().await;
    let on = line_containing(&mut out, "-!- connected to").await;
    assert!(
        on.ends_with(&format!("-!- connected to {}", b.addr)),
        "{on}"
    );
    // In again (resumed or afresh: this server's room is not the first's).
    line_containing(&mut out, "alice").await;
    let mut watcher = Member::join(&b, "watcher").await;
    stdin.write_all(b"still here\n").await.unwrap();
    hears(&mut watcher, "alice", "still here").await;

    drop(stdin);
    let (ok, stderr) = finish(client).await;
    assert!(ok, "{stderr}");
    // Each address has its own line.
    let known =
        std::fs::read_to_string(dir.0.join("data/chatroom/known_servers")).unwrap_or_default();
    for addr in [a_addr, b_addr] {
        assert!(known.contains(&format!("ws://{addr}/ ")), "{known}");
    }
    b.stop().await;
}
