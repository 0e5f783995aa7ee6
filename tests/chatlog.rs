//! `connect --chat-log DIR` as a user runs it: the real binary in plain mode against a real
//! server, across a server restart (a reconnect with a catch-up) and a restart of the
//! client, writing every line once.

mod common;

use std::net::SocketAddr;
use std::path::Path;

use common::plain::{Lines, finish, line_containing, plain_client};
use common::process::{kill, serve_listening};
use common::{Member, TempDir, TestServer, within};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Child;

async fn serve_on(listen: &str, db: &str) -> (Child, SocketAddr) {
    serve_listening(listen, &["--db", db], &[]).await
}

/// Every line logged for `room` of the server at `addr`, the days in order.
fn logged(dir: &Path, addr: SocketAddr, room: &str) -> Vec<String> {
    let room = dir.join(addr.to_string()).join(room);
    let mut days: Vec<_> = std::fs::read_dir(&room)
        .unwrap_or_else(|err| panic!("{}: {err}", room.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "log"))
        .collect();
    days.sort();
    days.iter()
        .flat_map(|day| {
            let text = std::fs::read_to_string(day).unwrap();
            text.lines().map(str::to_owned).collect::<Vec<_>>()
        })
        .collect()
}

/// How many lines end with `text` (after the `HH:MM:SS ` each starts with).
fn count(lines: &[String], text: &str) -> usize {
    lines
        .iter()
        .filter(|line| line.get(9..) == Some(text))
        .count()
}

async fn wait_for(out: &mut Lines, text: &str) {
    line_containing(out, text).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chat_log_has_each_line_once_across_a_reconnect_and_a_restart_of_the_client() {
    let dir = TempDir::new();
    let logs = dir.0.join("logs");
    let logs_arg = logs.to_str().unwrap().to_owned();
    let db = dir.0.join("chat.db");
    let db = db.to_str().unwrap();
    let (server, addr) = serve_on("127.0.0.1:0", db).await;
    let target = addr.to_string();
    let mut alice = Member::join(&TestServer::external(addr), "alice").await;
    alice.say("one").await;

    let args = [
        target.as_str(),
        "--name",
        "bob",
        "--chat-log",
        logs_arg.as_str(),
    ];
    let mut client = plain_client(&args, &dir);
    let mut stdin = client.stdin.take().unwrap();
    let mut out = BufReader::new(client.stdout.take().unwrap()).lines();
    assert_eq!(alice.next_event().await.from.name, "bob");
    stdin.write_all(b"mine\n").await.unwrap();
    assert_eq!(alice.next_event().await.text.as_deref(), Some("mine"));
    alice.say("two").await;
    wait_for(&mut out, "<~alice> two").await;

    // The server dies and comes back: the client reconnects and catches up from before
    // its own last line.
    kill(server).await;
    wait_for(&mut out, "-!- disconnected").await;
    let (server, _) = serve_on(&target, db).await;
    let carol = Member::join(&TestServer::external(addr), "carol").await;
    wait_for(&mut out, "-!- reconnected as bob").await;
    carol.say("welcome back").await;
    wait_for(&mut out, "<~carol> welcome back").await;
    drop(stdin);
    let (ok, stderr) = finish(client).await;
    assert!(ok, "{stderr}");

    let lines = logged(&logs, addr, "#general");
    for text in [
        "<~alice> one",
        "<bob> mine",
        "<~alice> two",
        "<~carol> welcome back",
    ] {
        assert_eq!(count(&lines, text), 1, "{text:?} in\n{}", lines.join("\n"));
    }

    // The client again: the history it is sent on joining is logged already.
    let mut client = plain_client(&args, &dir);
    let stdin = client.stdin.take().unwrap();
    let mut out = BufReader::new(client.stdout.take().unwrap()).lines();
    wait_for(&mut out, "-!- you are bob").await;
    carol.say("and again").await;
    wait_for(&mut out, "<~carol> and again").await;
    drop(stdin);
    let (ok, stderr) = finish(client).await;
    assert!(ok, "{stderr}");

    let again = logged(&logs, addr, "#general");
    assert_eq!(
        &again[..lines.len()],
        &lines[..],
        "appended to, not rewritten"
    );
    for text in [
        "<~alice> one",
        "<bob> mine",
        "<~alice> two",
        "<~carol> welcome back",
    ] {
        assert_eq!(count(&again, text), 1, "{text:?} in\n{}", again.join("\n"));
    }
    assert_eq!(
        count(&again, "<~carol> and again"),
        1,
        "{}",
        again.join("\n")
    );
    within("the server to stop", kill(server)).await;
}
