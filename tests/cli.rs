//! The `chatroom serve` binary as an operator runs it: started, used, stopped by a signal,
//! killed outright and started again.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::Stdio;

use chatroom::domain::RESTARTED;
use chatroom::rpc::ChatApiClient;
use chatroom::rpc::server::ServerConfig;
use chatroom::rpc::types::{Event, EventKind};
use chatroom::store::{DbLocation, Store};
use common::plain::{Lines, finish, line_containing, plain_client};
use common::process::{kill, serve, serve_listening, serve_with_env, terminate};
use common::{Member, TempDir, TestServer, silent_port, within};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

#[tokio::test]
async fn sigterm_stops_the_server_gracefully_with_exit_code_zero() {
    let (mut server, addr) = serve(&["--db", ":memory:"]).await;
    let handle = TestServer::external(addr);
    let mut alice = Member::join(&handle, "alice").await;
    let bob = Member::join(&handle, "bob").await;
    assert_eq!(alice.next_event().await.kind, EventKind::Join);

    let pid = server.id().unwrap().to_string();
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(kill.success());

    let notice = alice.next_event().await;
    assert_eq!(
        (notice.kind, notice.text.as_deref()),
        (EventKind::System, Some("server shutting down"))
    );
    let status = within("the server to exit", server.wait()).await.unwrap();
    assert_eq!(status.code(), Some(0), "{status:?}");
    drop(bob);
}

/// Every message the server acknowledged, read back from history, page by page.
async fn all_history(handle: &TestServer) -> Vec<Event> {
    let reader = Member::join(handle, "auditor").await;
    let mut events = Vec::new();
    let mut since = 0;
    loop {
        let page = reader
            .client
            .history(reader.session(), None, Some(since), Some(500), None)
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        since = last.seq;
        events.extend(page);
    }
    events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_loses_no_acknowledged_message() {
    let dir = TempDir::new();
    let db = dir.0.join("chat.db");
    let db = db.to_str().unwrap();
    let (server, addr) = serve(&["--db", db, "--rate-limit", "0"]).await;
    let handle = TestServer::external(addr);

    // Send as fast as acknowledgements come back, and kill the server mid-stream.
    let sender = Member::join(&handle, "sender").await;
    let (acked_tx, mut acked_rx) = tokio::sync::mpsc::unbounded_channel();
    let sending = tokio::spawn(async move {
        for n in 0u64.. {
            match sender
                .client
                .send(sender.session(), format!("m{n}"), None, None)
                .await
            {
                Ok(sent) => {
                    if acked_tx.send((sent.seq, format!("m{n}"))).is_err() {
                        return;
                    }
                }
                Err(_) => return, // the server is gone
            }
        }
    });
    let mut acked = Vec::new();
    while acked.len() < 200 {
        acked.push(within("acknowledgements", acked_rx.recv()).await.unwrap());
    }
    kill(server).await; // SIGKILL: no shutdown, no flush
    within("the sender to notice", sending).await.unwrap();
    while let Ok(more) = acked_rx.try_recv() {
        acked.push(more);
    }

    let (server, addr) = serve(&["--db", db, "--rate-limit", "0"]).await;
    let handle = TestServer::external(addr);
    let stored: Vec<(u64, String)> = all_history(&handle)
        .await
        .into_iter()
        .filter(|e| e.kind == EventKind::Message)
        .map(|e| (e.seq, e.text.unwrap()))
        .collect();
    // Every acknowledged message is there, once, in order (an unacknowledged one may be too).
    let mut stored_iter = stored.iter();
    for message in &acked {
        assert!(
            stored_iter.any(|s| s == message),
            "acknowledged {message:?} is missing or out of order"
        );
    }
    let mut seqs: Vec<u64> = stored.iter().map(|(seq, _)| *seq).collect();
    seqs.dedup();
    assert_eq!(seqs.len(), stored.len(), "no duplicates");

    // seq keeps rising after the restart, past everything stored, and what is said now is
    // kept too.
    let highest_stored = stored.last().unwrap().0;
    let writer = Member::join(&handle, "after").await;
    let seq = writer.say("after the restart").await;
    assert!(
        seq > highest_stored,
        "seq {seq} reused (stored up to {highest_stored})"
    );
    let kept = all_history(&handle).await;
    assert!(
        kept.iter()
            .any(|e| e.seq == seq && e.text.as_deref() == Some("after the restart"))
    );
    kill(server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_loses_no_acknowledged_message_in_any_room() {
    let dir = TempDir::new();
    let db = dir.0.join("chat.db");
    let db = db.to_str().unwrap();
    let (server, addr) = serve(&["--db", db, "--rate-limit", "0"]).await;
    let handle = TestServer::external(addr);
    let rooms = ["#general", "#a", "#b"];

    // Three senders, one per room, as fast as acknowledgements come back; kill mid-stream.
    let (acked_tx, mut acked_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut sending = Vec::new();
    for room in rooms {
        let sender = Member::join(&handle, &format!("sender{}", &room[1..])).await;
        sender.enter(room).await;
        let acked_tx = acked_tx.clone();
        sending.push(tokio::spawn(async move {
            for n in 0u64.. {
                let text = format!("{room}-{n}");
                match sender
                    .client
                    .send(sender.session(), text.clone(), None, Some(room.into()))
                    .await
                {
                    Ok(sent) => {
                        if acked_tx.send((room, sent.seq, text)).is_err() {
                            return;
                        }
                    }
                    Err(_) => return, // the server is gone
                }
            }
        }));
    }
    drop(acked_tx);
    // A reader in every room, noting the last seq it saw in each.
    let mut reader = Member::join(&handle, "reader").await;
    for room in rooms {
        reader.enter(room).await;
    }
    let (seen_tx, seen_rx) = tokio::sync::watch::channel(BTreeMap::<String, u64>::new());
    let reading = tokio::spawn(async move {
        while let Some(Ok(event)) = reader.events.next().await {
            seen_tx.send_modify(|seen| {
                let seen = seen.entry(event.room.clone()).or_default();
                *seen = (*seen).max(event.seq);
            });
        }
    });
    let mut acked = Vec::new();
    while acked.len() < 300 {
        acked.push(within("acknowledgements", acked_rx.recv()).await.unwrap());
    }
    kill(server).await; // SIGKILL: no shutdown, no flush
    for task in sending {
        within("the senders to notice", task).await.unwrap();
    }
    while let Ok(more) = acked_rx.try_recv() {
        acked.push(more);
    }
    within("the reader to notice", reading).await.unwrap();
    let cursors = seen_rx.borrow().clone();

    let (server, addr) = serve(&["--db", db, "--rate-limit", "0"]).await;
    let handle = TestServer::external(addr);
    // The reader comes back with where it got to in each room.
    let client = chatroom::rpc::client::connect(&handle.ws_url())
        .await
        .unwrap();
    let back = client
        .join(Some("reader".into()), None, None, None)
        .await
        .unwrap();
    for room in &rooms[1..] {
        client
            .enter(back.session.clone(), (*room).into())
            .await
            .unwrap();
    }
    let mut resumed = client
        .subscribe_events(back.session.clone(), None, Some(cursors.clone()))
        .await
        .unwrap();
    let auditor = Member::join(&handle, "auditor").await;
    for room in rooms {
        auditor.enter(room).await;
        auditor.say_in(room, "end").await;
    }
    let mut caught_up: Vec<Event> = Vec::new();
    let mut ends = 0;
    while ends < rooms.len() {
        let event = within("the catch-up", resumed.next())
            .await
            .unwrap()
            .unwrap();
        ends += usize::from(event.text.as_deref() == Some("end"));
        caught_up.push(event);
    }
    for room in rooms {
        auditor.enter(room).await;
        let mut stored = Vec::new();
        let mut since = 0;
        loop {
            let page = auditor
                .client
                .history(
                    auditor.session(),
                    None,
                    Some(since),
                    Some(500),
                    Some(room.into()),
                )
                .await
                .unwrap();
            let Some(last) = page.last() else { break };
            since = last.seq;
            stored.extend(page);
        }
        for pair in stored.windows(2) {
            assert_eq!(pair[1].seq, pair[0].seq + 1, "{room}: a gap or a repeat");
        }
        // The reader got everything after its cursor but its own new entry, once, in order.
        let after = cursors.get(room).copied().unwrap_or(0);
        let expected: Vec<u64> = stored
            .iter()
            .filter(|e| e.seq > after && e.from.id != back.id)
            .map(|e| e.seq)
            .collect();
        let got: Vec<u64> = caught_up
            .iter()
            .filter(|e| e.room == room)
            .map(|e| e.seq)
            .collect();
        assert_eq!(got, expected, "{room}: the resumed reader");
        let messages: Vec<(u64, String)> = stored
            .into_iter()
            .filter(|e| e.kind == EventKind::Message)
            .map(|e| (e.seq, e.text.unwrap()))
            .collect();
        // Every acknowledged message of this room is there, once, in order.
        let mut stored_iter = messages.iter();
        let mine: Vec<_> = acked.iter().filter(|(r, ..)| *r == room).collect();
        assert!(!mine.is_empty(), "{room} got some messages through");
        for (_, seq, text) in mine {
            assert!(
                stored_iter.any(|(s, t)| s == seq && t == text),
                "{room}: acknowledged {text} (seq {seq}) is missing or out of order"
            );
        }
    }
    kill(server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_crash_the_members_who_were_there_are_recorded_as_gone_once() {
    let dir = TempDir::new();
    let db = dir.0.join("chat.db");
    let db_arg = db.to_str().unwrap();
    let (server, addr) = serve(&["--db", db_arg]).await;
    let handle = TestServer::external(addr);
    let mut alice = Member::join(&handle, "alice").await;
    let bob = Member::join(&handle, "bob").await;
    let carol = Member::join(&handle, "carol").await;
    bob.client.leave(bob.session(), None).await.unwrap();
    // Alice has heard of all three, so all three are stored.
    for kind in [EventKind::Join, EventKind::Join, EventKind::Leave] {
        assert_eq!(alice.next_event().await.kind, kind);
    }
    kill(server).await; // SIGKILL: nobody's leave is stored
    drop((alice, bob, carol));

    // The first start records the leaves, the second finds nothing more to record.
    for _ in 0..2 {
        let (server, _) = serve(&["--db", db_arg]).await;
        terminate(server).await;
    }
    let store = Store::open(&DbLocation::File(db)).unwrap();
    assert!(store.left_behind().is_empty());
    let mut restarted: Vec<String> = store
        .history()
        .latest("#general", 100)
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == EventKind::Leave && e.text.as_deref() == Some(RESTARTED))
        .map(|e| e.from.name)
        .collect();
    restarted.sort();
    assert_eq!(restarted, ["alice", "carol"]);
}

#[tokio::test]
async fn a_database_in_a_missing_directory_is_refused() {
    let dir = TempDir::new();
    let db = dir.0.join("typo").join("chat.db");
    let run = Command::new(env!("CARGO_BIN_EXE_chatroom"))
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(&db)
        .kill_on_drop(true)
        .output();
    let out = within("the server to refuse", run).await.unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("typo does not exist (create it, or check the path)"),
        "{stderr}"
    );
    assert!(!dir.0.join("typo").exists(), "nothing was created");
}

#[tokio::test]
async fn the_default_data_directory_is_made_when_missing() {
    let dir = TempDir::new();
    let data = dir.0.join("data");
    let (server, _) = serve_with_env(&[], &[("XDG_DATA_HOME", &data)]).await;
    assert!(data.join("chatroom").join("chatroom.db").exists());
    terminate(server).await;
}

#[tokio::test]
async fn the_default_database_named_with_db_gets_its_directory_made_too() {
    let dir = TempDir::new();
    let data = dir.0.join("data");
    let file = data.join("chatroom").join("chatroom.db");
    let db = file.to_str().unwrap();
    let (server, _) = serve_with_env(&["--db", db], &[("XDG_DATA_HOME", &data)]).await;
    assert!(file.exists());
    terminate(server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_mode_sends_stdin_and_prints_events() {
    use tokio::io::AsyncWriteExt;
    let server = TestServer::start().await;
    let mut alice = Member::join(&server, "alice").await;
    let dir = TempDir::new();
    let mut client = Command::new(env!("CARGO_BIN_EXE_chatroom"))
        .args(["connect", &server.ws_url(), "--name", "ci", "--log-file"])
        .arg(dir.0.join("client.log"))
        .env("XDG_DATA_HOME", dir.0.join("data"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = client.stdin.take().unwrap();
    let mut stdout = BufReader::new(client.stdout.take().unwrap()).lines();
    assert_eq!(alice.next_event().await.from.name, "ci");

    stdin.write_all(b"deploy done\n/me waves\n").await.unwrap();
    let said = alice.next_event().await;
    assert_eq!(said.text.as_deref(), Some("deploy done"));
    let action = alice.next_event().await;
    assert_eq!(
        (action.kind, action.text.as_deref()),
        (EventKind::Action, Some("waves"))
    );

    alice.say("thanks ci").await;
    let printed = within("the printed line", async {
        loop {
            let line = stdout.next_line().await.unwrap().expect("output ended");
            if line.contains("thanks ci") {
                return line;
            }
        }
    })
    .await;
    assert!(printed.ends_with("<~alice> thanks ci"), "{printed}");

    // End of input: the client leaves and exits cleanly.
    drop(stdin);
    let leave = alice.next_event().await;
    assert_eq!((leave.kind, leave.text), (EventKind::Leave, None));
    let status = within("the client to exit", client.wait()).await.unwrap();
    assert!(status.success(), "{status:?}");
    server.stop().await;
}

/// A private room on the internet, as the README sets it up: a self-signed certificate whose
/// fingerprint the server prints, a password file, and a script that pins the one and
/// reads the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_room_with_a_self_signed_certificate_and_a_password() {
    let dir = TempDir::new();
    let password_file = dir.0.join("password");
    std::fs::write(&password_file, "sesame\n").unwrap();
    let mut server = Command::new(env!("CARGO_BIN_EXE_chatroom"))
        .args(["serve", "--listen", "127.0.0.1:0", "--db", ":memory:"])
        .args(["--tls-self-signed", "--password-file"])
        .arg(&password_file)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut out = BufReader::new(server.stdout.take().unwrap()).lines();
    let fingerprint = within("the fingerprint", out.next_line())
        .await
        .unwrap()
        .expect("a first line");
    let fingerprint = fingerprint
        .strip_prefix("TLS certificate SHA-256 fingerprint: ")
        .unwrap_or_else(|| panic!("{fingerprint}"))
        .to_owned();
    let mut log = BufReader::new(server.stderr.take().unwrap()).lines();
    let addr = within("the address", async {
        loop {
            let line = log.next_line().await.unwrap().expect("server exited");
            if let Some((_, addr)) = line.split_once("listening addr=") {
                return addr.trim().to_owned();
            }
        }
    })
    .await;
    tokio::spawn(async move { while let Ok(Some(_)) = log.next_line().await {} });

    let run = |target: &str, extra: &[&str], password: Option<&std::path::Path>, env: &str| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_chatroom"));
        command
            .args(["connect", "--plain", target, "--name", "ci", "--log-file"])
            .arg(dir.0.join("client.log"))
            .env("XDG_DATA_HOME", dir.0.join("data"))
            .args(extra)
            .env("CHATROOM_PASSWORD", env)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(file) = password {
            command.arg("--password-file").arg(file);
        }
        command.output()
    };
    let pinned = ["--fingerprint", fingerprint.as_str()];
    // A bare address with --fingerprint means wss://.
    let ok = within(
        "the pinned client",
        run(&addr, &pinned, Some(&password_file), ""),
    )
    .await
    .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );

    let from_env = within(
        "the client with CHATROOM_PASSWORD",
        run(&addr, &pinned, None, "sesame"),
    )
    .await
    .unwrap();
    let said = String::from_utf8_lossy(&from_env.stderr);
    assert!(from_env.status.success(), "{said}");

    let no_password = within(
        "the client without a password",
        run(&addr, &pinned, None, ""),
    )
    .await
    .unwrap();
    assert!(!no_password.status.success());
    let said = String::from_utf8_lossy(&no_password.stderr);
    assert!(said.contains("needs a password"), "{said}");

    let wss = format!("wss://{addr}");
    let unpinned = within(
        "the client that does not pin",
        run(&wss, &[], Some(&password_file), ""),
    )
    .await
    .unwrap();
    assert!(!unpinned.status.success());
    let said = String::from_utf8_lossy(&unpinned.stderr);
    assert!(said.contains("certificate"), "{said}");

    let plain = within(
        "the ws:// client",
        run(&addr, &[], Some(&password_file), ""),
    )
    .await
    .unwrap();
    assert!(!plain.status.success());
    let said = String::from_utf8_lossy(&plain.stderr);
    assert!(said.contains("try wss://"), "{said}");

    // A pinned fingerprint with a ws:// URL is a contradiction, not a quiet downgrade.
    let ws = format!("ws://{addr}");
    let downgrade = within(
        "the ws:// client with a pin",
        run(&ws, &pinned, None, "sesame"),
    )
    .await
    .unwrap();
    assert!(!downgrade.status.success());
    let said = String::from_utf8_lossy(&downgrade.stderr);
    assert!(said.contains("for wss:// servers"), "{said}");

    kill(server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_mode_reconnects_after_a_restart_catches_up_and_loses_no_line() {
    use tokio::io::AsyncWriteExt;
    let dir = TempDir::new();
    let config = || ServerConfig {
        db: DbLocation::File(dir.0.join("chat.db")),
        ..Default::default()
    };
    let server = TestServer::start_with(config()).await;
    let addr = server.addr;
    let mut watcher = Member::join(&server, "watcher").await;
    let mut client = plain_client(&[&server.ws_url(), "--name", "logger"], &dir);
    let mut stdin = client.stdin.take().unwrap();
    let mut out = BufReader::new(client.stdout.take().unwrap()).lines();
    assert_eq!(watcher.next_event().await.from.name, "logger");
    drop(watcher);
    // In, and subscribed: the join alone does not say the stream has started.
    line_containing(&mut out, "-!- you are logger").await;

    server.stop().await;
    line_containing(&mut out, "server shutting down").await;
    line_containing(&mut out, "-!- disconnected").await;
    // A line typed while the server is away is kept for it.
    stdin.write_all(b"said while away\n").await.unwrap();

    // Back on the same address with the same history.
    let server = TestServer::start_on(addr, config()).await;
    let mut carol = Member::join(&server, "carol").await;
    line_containing(&mut out, "-!- reconnected as logger").await;
    let said_before_carol = carol
        .joined
        .history
        .iter()
        .any(|e| e.text.as_deref() == Some("said while away"));
    if !said_before_carol {
        loop {
            let event = carol.next_event().await;
            if event.text.as_deref() == Some("said while away") {
                assert_eq!(event.from.name, "logger");
                break;
            }
        }
    }
    carol.say("welcome back").await;
    line_containing(&mut out, "<~carol> welcome back").await;

    drop(stdin);
    let (ok, stderr) = finish(client).await;
    assert!(ok, "{stderr}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_mode_with_no_reconnect_exits_with_an_error_when_the_connection_is_lost() {
    let dir = TempDir::new();
    let server = TestServer::start().await;
    let mut client = plain_client(&[&server.ws_url(), "--name", "bot", "--no-reconnect"], &dir);
    let mut out = BufReader::new(client.stdout.take().unwrap()).lines();
    line_containing(&mut out, "-!- you are bot").await;
    server.stop().await;
    let (ok, stderr) = finish(client).await;
    assert!(!ok, "exited successfully");
    // After the note of the identity made for it.
    let last = stderr.lines().last().unwrap_or_default();
    assert!(last.starts_with("error: disconnected"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_mode_says_which_name_it_got_and_who_is_here() {
    use tokio::io::AsyncWriteExt;
    let dir = TempDir::new();
    let server = TestServer::start().await;
    let _alice = Member::join(&server, "alice").await;
    let mut client = plain_client(&[&server.ws_url(), "--name", "alice"], &dir);
    let mut stdin = client.stdin.take().unwrap();
    let mut out = BufReader::new(client.stdout.take().unwrap()).lines();
    let joined = line_containing(&mut out, "-!- you are").await;
    assert!(
        joined.ends_with("-!- you are alice-2 (asked for alice); 2 here"),
        "{joined}"
    );
    stdin.write_all(b"/WHO\n").await.unwrap();
    let who = line_containing(&mut out, "here:").await;
    assert!(who.ends_with("-!- 2 here: alice, alice-2"), "{who}");
    drop(stdin);
    let (ok, stderr) = finish(client).await;
    assert!(ok, "{stderr}");

    // With --json, the same as objects told apart from room events by `client`.
    let mut client = plain_client(&[&server.ws_url(), "--name", "alice", "--json"], &dir);
    let mut stdin = client.stdin.take().unwrap();
    let mut out = BufReader::new(client.stdout.take().unwrap()).lines();
    let joined: serde_json::Value =
        serde_json::from_str(&line_containing(&mut out, "joined").await).unwrap();
    assert_eq!(joined["client"], "joined");
    assert_eq!(joined["room"], "#general");
    assert_eq!(joined["name"], "alice-2");
    assert_eq!(joined["asked"], "alice");
    stdin.write_all(b"/who\n").await.unwrap();
    let who: serde_json::Value =
        serde_json::from_str(&line_containing(&mut out, "members").await).unwrap();
    assert_eq!(who["client"], "members");
    assert_eq!(who["room"], "#general");
    assert_eq!(who["members"].as_array().unwrap().len(), 2);
    drop(stdin);
    let (ok, stderr) = finish(client).await;
    assert!(ok, "{stderr}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_is_given_up_on() {
    let dir = TempDir::new();
    let addr = silent_port().await;
    let target = format!("ws://{addr}");
    let client = plain_client(&[&target, "--connect-timeout", "200ms"], &dir);
    let (ok, stderr) = finish(client).await;
    assert!(!ok);
    assert_eq!(
        stderr,
        format!("error: cannot connect to ws://{addr}/: no answer within 0.2 s\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_one_line_each_cause_once_and_never_a_backtrace() {
    let dir = TempDir::new();
    let server = TestServer::start_with(ServerConfig {
        password: Some(chatroom::rpc::auth::Password::new("sesame")),
        ..Default::default()
    })
    .await;
    let wrong = Command::new(env!("CARGO_BIN_EXE_chatroom"))
        .args(["connect", "--plain", &server.ws_url(), "--log-file"])
        .arg(dir.0.join("client.log"))
        .env("XDG_DATA_HOME", dir.0.join("data"))
        .env("CHATROOM_PASSWORD", "guess")
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null())
        .output();
    let wrong = within("the client with a wrong password", wrong)
        .await
        .unwrap();
    assert!(!wrong.status.success());
    assert_eq!(
        String::from_utf8_lossy(&wrong.stderr),
        "error: wrong password\n"
    );
    server.stop().await;

    // Port 1 (tcpmux) is privileged and unused on any machine these tests run on.
    let refused = plain_client(&["127.0.0.1:1"], &dir);
    let (ok, stderr) = finish(refused).await;
    assert!(!ok);
    assert_eq!(
        stderr,
        "error: cannot connect to ws://127.0.0.1:1/: connection refused\n"
    );

    let made = chatroom::rpc::tls::self_signed(vec!["127.0.0.1".into()]).unwrap();
    let server = TestServer::start_with(ServerConfig {
        tls: Some(made.config),
        ..Default::default()
    })
    .await;
    let other = chatroom::rpc::tls::self_signed(vec!["127.0.0.1".into()]).unwrap();
    let pin = other.fingerprint.to_string();
    let addr = server.addr.to_string();
    let mismatched = plain_client(&[&addr, "--fingerprint", &pin], &dir);
    let (ok, stderr) = finish(mismatched).await;
    assert!(!ok);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "error: cannot connect to wss://{addr}/: the server's certificate has fingerprint"
        )),
        "{stderr}"
    );
    assert!(
        stderr.ends_with(&format!("not the pinned {pin}\n")),
        "{stderr}"
    );
    server.stop().await;
}

/// A self-signed certificate for 127.0.0.1 marked as a CA, as `openssl req -x509` makes
/// one, written to `dir` as cert.pem and key.pem.
fn ca_flagged_certificate(dir: &TempDir) -> (std::path::PathBuf, std::path::PathBuf) {
    let mut params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let (cert_file, key_file) = (dir.0.join("cert.pem"), dir.0.join("key.pem"));
    std::fs::write(&cert_file, cert.pem()).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    (cert_file, key_file)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ca_file_holding_a_self_signed_ca_certificate_trusts_that_server() {
    use tokio::io::AsyncWriteExt;
    let dir = TempDir::new();
    let (cert, key) = ca_flagged_certificate(&dir);
    let tls = chatroom::rpc::tls::server_config(&cert, &key).unwrap();
    let server = TestServer::start_with(ServerConfig {
        tls: Some(tls.config),
        ..Default::default()
    })
    .await;
    let addr = server.addr.to_string();
    let mut client = plain_client(&[&addr, "--ca-file", cert.to_str().unwrap()], &dir);
    let mut stdin = client.stdin.take().unwrap();
    stdin.write_all(b"over tls\n").await.unwrap();
    drop(stdin);
    let (ok, stderr) = finish(client).await;
    assert!(ok, "{stderr}");
    let reader = chatroom::rpc::client::connect_with(
        &format!("wss://{addr}"),
        &chatroom::rpc::tls::ClientTls {
            ca_file: Some(cert),
            fingerprint: None,
        },
        chatroom::rpc::client::SUBSCRIPTION_BUFFER,
    )
    .await
    .unwrap();
    let joined = reader
        .join(Some("reader".into()), None, None, None)
        .await
        .unwrap();
    assert!(
        joined
            .history
            .iter()
            .any(|e| e.text.as_deref() == Some("over tls"))
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_without_a_port_means_7777_and_a_bad_one_is_refused_at_once() {
    let dir = TempDir::new();
    let (ok, stderr) = finish(plain_client(&["nosuchhost.invalid"], &dir)).await;
    assert!(!ok);
    assert!(
        stderr.starts_with("error: cannot connect to ws://nosuchhost.invalid:7777/: unknown host"),
        "{stderr}"
    );
    for bad in ["http://127.0.0.1:7777", "127.0.0.1:99999"] {
        let (ok, stderr) = finish(plain_client(&[bad], &dir)).await;
        assert!(!ok);
        assert!(
            stderr.starts_with(&format!("error: {bad:?} is not")),
            "{stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_listens_on_a_host_name() {
    let (server, addr) = serve_on("localhost:0", ":memory:").await;
    assert!(addr.ip().is_loopback(), "{addr}");
    let member = Member::join(&TestServer::external(addr), "alice").await;
    assert_eq!(member.name(), "alice");
    kill(server).await;
}

#[tokio::test]
async fn help_says_what_each_command_does_with_its_flags() {
    let help = |command: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_chatroom"))
            .args([command, "--help"])
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    let bench = help("bench");
    assert!(
        !bench.contains("asks"),
        "bench never asks for a password:\n{bench}"
    );
    let connect = help("connect");
    assert!(connect.contains("asks for one"), "{connect}");
    let serve = help("serve");
    let (server_flags, client_flags) = serve
        .split_once("Client options (only with --tui):")
        .unwrap_or_else(|| panic!("{serve}"));
    let has_name = |flags: &str| flags.lines().any(|l| l.trim_start().starts_with("--name "));
    assert!(has_name(client_flags), "{serve}");
    assert!(!has_name(server_flags), "{serve}");
    assert!(server_flags.contains("--listen"), "{serve}");
}

/// `chatroom serve` on `listen` with the database `db`, and where it listens.
async fn serve_on(listen: &str, db: &str) -> (Child, SocketAddr) {
    serve_listening(listen, &["--db", db], &[]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_mode_does_not_echo_its_own_lines_from_a_catch_up() {
    use tokio::io::AsyncWriteExt;
    let dir = TempDir::new();
    let db = dir.0.join("chat.db");
    let db = db.to_str().unwrap();
    let (server, addr) = serve_on("127.0.0.1:0", db).await;
    let mut watcher = Member::join(&TestServer::external(addr), "watcher").await;
    let target = addr.to_string();
    let mut client = plain_client(&[&target, "--name", "logger"], &dir);
    let mut stdin = client.stdin.take().unwrap();
    let mut out = BufReader::new(client.stdout.take().unwrap()).lines();
    assert_eq!(watcher.next_event().await.from.name, "logger");
    // The last event of the room before it dies is logger's own, so the catch-up after
    // it comes back starts before it.
    stdin.write_all(b"mine\n").await.unwrap();
    assert_eq!(watcher.next_event().await.text.as_deref(), Some("mine"));
    kill(server).await; // SIGKILL: no shutdown notice
    line_containing(&mut out, "-!- disconnected").await;

    let (server, _) = serve_on(&target, db).await;
    let handle = TestServer::external(addr);
    let carol = Member::join(&handle, "carol").await;
    line_containing(&mut out, "-!- reconnected as logger").await;
    carol.say("welcome back").await;
    within("carol's line", async {
        loop {
            let line = out.next_line().await.unwrap().expect("output ended");
            assert!(!line.contains("<logger>"), "our own line echoed: {line}");
            if line.contains("<~carol> welcome back") {
                break;
            }
        }
    })
    .await;
    drop(stdin);
    let (ok, stderr) = finish(client).await;
    assert!(ok, "{stderr}");
    kill(server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_mode_rejoins_under_the_name_it_has_after_a_nick() {
    use tokio::io::AsyncWriteExt;
    let dir = TempDir::new();
    let config = || ServerConfig {
        db: DbLocation::File(dir.0.join("chat.db")),
        ..Default::default()
    };
    let server = TestServer::start_with(config()).await;
    let addr = server.addr;
    let mut client = plain_client(&[&server.ws_url(), "--name", "logger"], &dir);
    let mut stdin = client.stdin.take().unwrap();
    let mut out = BufReader::new(client.stdout.take().unwrap()).lines();
    line_containing(&mut out, "-!- you are logger").await;
    stdin.write_all(b"/nick scribe\n").await.unwrap();
    line_containing(&mut out, "-!- you are now known as scribe").await;

    server.stop().await;
    line_containing(&mut out, "-!- disconnected").await;
    let server = TestServer::start_on(addr, config()).await;
    let back = line_containing(&mut out, "-!- reconnected as").await;
    assert!(back.ends_with("-!- reconnected as scribe"), "{back}");

    drop(stdin);
    let (ok, stderr) = finish(client).await;
    assert!(ok, "{stderr}");
    server.stop().await;
}

/// A TCP relay to `to` that can be cut as a network outage cuts a client off: the
/// client's side closes while the server's side stays open (the server has not noticed),
/// and the first attempt to connect after the cut fails too.
struct Relay {
    addr: SocketAddr,
    cut: tokio::sync::watch::Sender<()>,
    refuse_next: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Relay {
    async fn start(to: SocketAddr) -> Self {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (cut, _) = tokio::sync::watch::channel(());
        let refuse_next = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (cuts, refusing) = (cut.clone(), refuse_next.clone());
        tokio::spawn(async move {
            let held = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
            while let Ok((mut client, _)) = listener.accept().await {
                if refusing.swap(false, Ordering::SeqCst) {
                    continue; // dropped: this attempt fails
                }
                let mut server = tokio::net::TcpStream::connect(to).await.unwrap();
                let mut cut = cuts.subscribe();
                let held = held.clone();
                tokio::spawn(async move {
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.changed() => held.lock().unwrap().push(server),
                    }
                });
            }
        });
        Self {
            addr,
            cut,
            refuse_next,
        }
    }

    fn cut(&self) {
        self.refuse_next
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.cut.send_replace(());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnect_that_fails_once_still_frees_the_name_the_old_session_holds() {
    let dir = TempDir::new();
    let server = TestServer::start().await;
    let relay = Relay::start(server.addr).await;
    let target = format!("ws://{}", relay.addr);
    let mut client = plain_client(&[&target, "--name", "logger"], &dir);
    let stdin = client.stdin.take().unwrap();
    let mut out = BufReader::new(client.stdout.take().unwrap()).lines();
    line_containing(&mut out, "-!- you are logger").await;

    relay.cut();
    line_containing(&mut out, "-!- disconnected").await;
    // The server still has the old session, and with it the name.
    let back = line_containing(&mut out, "-!- reconnected as").await;
    assert!(back.ends_with("-!- reconnected as logger"), "{back}");

    drop(stdin);
    let (ok, stderr) = finish(client).await;
    assert!(ok, "{stderr}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_keeps_its_guest_name_over_a_reconnect() {
    let dir = TempDir::new();
    let config = || ServerConfig {
        db: DbLocation::File(dir.0.join("chat.db")),
        ..Default::default()
    };
    let server = TestServer::start_with(config()).await;
    let addr = server.addr;
    // An empty name is no name: the server makes one up.
    let mut client = plain_client(&[&server.ws_url(), "--name", ""], &dir);
    let stdin = client.stdin.take().unwrap();
    let mut out = BufReader::new(client.stdout.take().unwrap()).lines();
    let joined = line_containing(&mut out, "-!- you are guest-").await;
    let (_, rest) = joined.split_once("-!- you are ").unwrap();
    let guest = rest.split([' ', ';']).next().unwrap().to_owned();

    server.stop().await;
    line_containing(&mut out, "-!- disconnected").await;
    let server = TestServer::start_on(addr, config()).await;
    let back = line_containing(&mut out, "-!- reconnected as").await;
    assert!(
        back.ends_with(&format!("-!- reconnected as {guest}")),
        "{back}"
    );

    drop(stdin);
    let (ok, stderr) = finish(client).await;
    assert!(ok, "{stderr}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_mode_in_two_rooms_names_the_room_of_every_line_and_sends_to_the_first() {
    use tokio::io::AsyncWriteExt;
    let dir = TempDir::new();
    let server = TestServer::start().await;
    let client = chatroom::rpc::client::connect(&server.ws_url())
        .await
        .unwrap();
    let carol = client
        .join(Some("carol".into()), None, Some("#ops".into()), None)
        .await
        .unwrap();
    client
        .enter(carol.session.clone(), "#dev".into())
        .await
        .unwrap();
    let mut events = client
        .subscribe_events(carol.session.clone(), None, None)
        .await
        .unwrap();
    let mut logger = plain_client(
        &[
            &server.ws_url(),
            "--name",
            "logger",
            "--room",
            "ops",
            "--room",
            "#dev",
        ],
        &dir,
    );
    let mut stdin = logger.stdin.take().unwrap();
    let mut out = BufReader::new(logger.stdout.take().unwrap()).lines();
    let joined = line_containing(&mut out, "-!- you are logger").await;
    assert!(joined.starts_with("#ops "), "{joined}");
    let entered = line_containing(&mut out, "-!- you joined #dev").await;
    assert!(entered.starts_with("#dev "), "{entered}");

    for (room, text) in [("#dev", "in dev"), ("#ops", "in ops")] {
        client
            .send(carol.session.clone(), text.into(), None, Some(room.into()))
            .await
            .unwrap();
    }
    let dev = line_containing(&mut out, "<~carol> in dev").await;
    assert!(dev.starts_with("#dev "), "{dev}");
    let ops = line_containing(&mut out, "<~carol> in ops").await;
    assert!(ops.starts_with("#ops "), "{ops}");

    // A line typed goes to the first room; /join and /part work here too.
    stdin
        .write_all(b"hello ops\n/join #random\n")
        .await
        .unwrap();
    let said = within("logger's line", async {
        loop {
            let event = events.next().await.unwrap().unwrap();
            if event.kind == EventKind::Message {
                return event;
            }
        }
    })
    .await;
    assert_eq!(
        (said.room.as_str(), said.text.as_deref()),
        ("#ops", Some("hello ops"))
    );
    line_containing(&mut out, "-!- you joined #random").await;
    // /topic and /list, in the first room and of the server.
    stdin
        .write_all(b"/topic deploys at 5\n/topic\n/list\n")
        .await
        .unwrap();
    let set = line_containing(&mut out, "-!- you changed the topic to: deploys at 5").await;
    assert!(set.starts_with("#ops "), "{set}");
    line_containing(&mut out, "-!- the topic of #ops is: deploys at 5").await;
    let list = line_containing(&mut out, "rooms: ").await;
    assert!(list.contains("#ops (2 members, active "), "{list}");
    assert!(list.contains("deploys at 5"), "{list}");
    assert!(list.contains("#random (1 member"), "{list}");
    stdin.write_all(b"/part #dev bye now\n").await.unwrap();
    line_containing(&mut out, "-!- you left #dev").await;
    let left = within("logger's leave from #dev", async {
        loop {
            let event = events.next().await.unwrap().unwrap();
            if event.kind == EventKind::Leave {
                return event;
            }
        }
    })
    .await;
    assert_eq!(
        (left.room.as_str(), left.text.as_deref()),
        ("#dev", Some("Part: bye now"))
    );
    drop(stdin);
    let (ok, stderr) = finish(logger).await;
    assert!(ok, "{stderr}");
    server.stop().await;
}

/// Reads `out` until `done` holds for the lines read so far (`seen` included), adding them.
async fn lines_until(out: &mut Lines, seen: &mut Vec<String>, done: impl Fn(&[String]) -> bool) {
    within("the lines waited for", async {
        while !done(seen) {
            seen.push(out.next_line().await.unwrap().expect("output ended"));
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_lost_connection_every_room_catches_up_each_event_once_in_order() {
    let dir = TempDir::new();
    let server = TestServer::start().await;
    let relay = Relay::start(server.addr).await;
    let client = chatroom::rpc::client::connect(&server.ws_url())
        .await
        .unwrap();
    let carol = client
        .join(Some("carol".into()), None, Some("#a".into()), None)
        .await
        .unwrap();
    client
        .enter(carol.session.clone(), "#b".into())
        .await
        .unwrap();
    let say = |room: &'static str, text: &'static str| {
        let (client, session) = (&client, carol.session.clone());
        async move {
            client
                .send(session, text.into(), None, Some(room.into()))
                .await
                .unwrap();
        }
    };
    let target = format!("ws://{}", relay.addr);
    let mut logger = plain_client(
        &[&target, "--name", "logger", "--room", "a", "--room", "b"],
        &dir,
    );
    let stdin = logger.stdin.take().unwrap();
    let mut out = BufReader::new(logger.stdout.take().unwrap()).lines();
    let has = |text: &'static str| move |seen: &[String]| seen.iter().any(|l| l.contains(text));
    let mut seen = Vec::new();
    lines_until(&mut out, &mut seen, has("-!- you joined #b")).await;
    say("#a", "a1").await;
    say("#b", "b1").await;
    lines_until(&mut out, &mut seen, has("<~carol> b1")).await;

    relay.cut();
    lines_until(&mut out, &mut seen, has("-!- disconnected")).await;
    // While the client is away (it waits a second before trying again), both rooms go on.
    say("#a", "a2").await;
    say("#b", "b2").await;
    say("#a", "a3").await;
    lines_until(&mut out, &mut seen, has("-!- reconnected as logger")).await;
    say("#b", "b3").await;
    say("#a", "a4").await;
    lines_until(&mut out, &mut seen, |seen| {
        has("<~carol> b3")(seen) && has("<~carol> a4")(seen)
    })
    .await;

    let said_in = |room: &str| -> Vec<String> {
        let prefix = format!("{room} ");
        seen.iter()
            .filter(|line| line.starts_with(&prefix) && line.contains("<~carol>"))
            .map(|line| line.rsplit(' ').next().unwrap().to_owned())
            .collect()
    };
    assert_eq!(said_in("#a"), ["a1", "a2", "a3", "a4"], "{seen:#?}");
    assert_eq!(said_in("#b"), ["b1", "b2", "b3"], "{seen:#?}");
    drop(stdin);
    let (ok, stderr) = finish(logger).await;
    assert!(ok, "{stderr}");
    server.stop().await;
}

/// A relay whose first connection is cut just after the server's answer that holds a
/// session (the join): the client is in, but its stream never starts.
async fn relay_cutting_the_first_join(to: SocketAddr) -> SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut first = true;
        while let Ok((mut client, _)) = listener.accept().await {
            let mut server = tokio::net::TcpStream::connect(to).await.unwrap();
            if !std::mem::take(&mut first) {
                tokio::spawn(async move {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                });
                continue;
            }
            tokio::spawn(async move {
                let (mut client_read, mut client_write) = client.split();
                let (mut server_read, mut server_write) = server.split();
                let upstream = tokio::io::copy(&mut client_read, &mut server_write);
                let downstream = async {
                    let mut buf = [0u8; 16 * 1024];
                    loop {
                        let n = server_read.read(&mut buf).await.unwrap_or(0);
                        if n == 0 || client_write.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                        // Server frames are not masked: the answer's JSON is readable.
                        if buf[..n].windows(9).any(|w| w == b"\"session\"") {
                            return;
                        }
                    }
                };
                tokio::select! {
                    _ = upstream => {}
                    () = downstream => {}
                }
                // Both halves dropped here: the connection is gone.
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_mode_lost_between_joining_and_its_stream_tries_again_under_its_name() {
    let dir = TempDir::new();
    let server = TestServer::start().await;
    let relay = relay_cutting_the_first_join(server.addr).await;
    let mut logger = plain_client(&[&format!("ws://{relay}"), "--name", "logger"], &dir);
    let stdin = logger.stdin.take().unwrap();
    let mut out = BufReader::new(logger.stdout.take().unwrap()).lines();
    // Not "never got in": it was in, so it tries again, and frees its name for itself;
    // and as its stream never started, this is its first time in, not a reconnect.
    let joined = line_containing(&mut out, "-!- you are").await;
    assert!(joined.ends_with("-!- you are logger; 1 here"), "{joined}");
    drop(stdin);
    let (ok, stderr) = finish(logger).await;
    assert!(ok, "{stderr}");
    server.stop().await;
}

#[tokio::test]
async fn the_room_limits_are_set_by_flags() {
    let (server, addr) = serve(&[
        "--db",
        ":memory:",
        "--default-room",
        "#Lobby",
        "--max-rooms",
        "3",
        "--max-rooms-per-member",
        "2",
        "--room-creations-per-minute",
        "1",
        "--limit-loopback",
    ])
    .await;
    let handle = TestServer::external(addr);
    let alice = Member::join(&handle, "alice").await;
    assert_eq!(alice.joined.room, "#lobby", "the default room, lowercased");
    alice.enter("#one").await;
    let refused = |err: jsonrpsee::core::ClientError| match err {
        jsonrpsee::core::ClientError::Call(err) => err.code(),
        other => panic!("{other:?}"),
    };
    // A second creation within the minute from this address.
    let bob = Member::join(&handle, "bob").await;
    let second = bob.client.enter(bob.session(), "#two".into()).await;
    assert_eq!(
        refused(second.unwrap_err()),
        chatroom::rpc::codes::RATE_LIMITED
    );
    // Two rooms is all alice may be in.
    let third = alice.client.enter(alice.session(), "#lobby".into()).await;
    assert!(third.is_ok(), "already in it");
    kill(server).await;

    let (server, addr) = serve(&[
        "--db",
        ":memory:",
        "--max-rooms",
        "2",
        "--max-rooms-per-member",
        "2",
    ])
    .await;
    let handle = TestServer::external(addr);
    let alice = Member::join(&handle, "alice").await;
    alice.enter("#one").await;
    let more = alice.client.enter(alice.session(), "#two".into()).await;
    assert_eq!(
        refused(more.unwrap_err()),
        chatroom::rpc::codes::TOO_MANY_ROOMS
    );
    let bob = Member::join(&handle, "bob").await;
    let full = bob.client.enter(bob.session(), "#two".into()).await;
    assert_eq!(
        refused(full.unwrap_err()),
        chatroom::rpc::codes::TOO_MANY_ROOMS,
        "server full"
    );
    kill(server).await;

    let bad = Command::new(env!("CARGO_BIN_EXE_chatroom"))
        .args(["serve", "--default-room", "lobby"])
        .output()
        .await
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("starts with #"));
}

/// What bob's identity (the key in `dir`) finds in #general when it next joins: its read
/// marker there and its unread count.
async fn bobs_marker(server: &TestServer, dir: &TempDir) -> (u64, u32) {
    let key = chatroom::identity::Identity::load(&dir.0.join("bob.pem")).unwrap();
    let client = chatroom::rpc::client::connect(&server.ws_url())
        .await
        .unwrap();
    let joined = common::join_keyed(&client, Some("bob"), Some("#general"), &key)
        .await
        .unwrap();
    let _ = client.leave(joined.session, None).await;
    (joined.read, joined.unread)
}

/// Plain mode keyed as bob (`dir`/bob.pem), with `extra` flags: it prints what carol says
/// and ends with its input.
async fn plain_bob_reads_carol(server: &TestServer, dir: &TempDir, extra: &[&str]) -> u64 {
    use tokio::io::AsyncWriteExt;
    let key = dir.0.join("bob.pem");
    let mut args = vec![
        server.ws_url(),
        "--name".into(),
        "bob".into(),
        "--identity".into(),
    ];
    args.push(key.to_str().unwrap().to_owned());
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut client = plain_client(&args, dir);
    let mut stdin = client.stdin.take().unwrap();
    let mut out = BufReader::new(client.stdout.take().unwrap()).lines();
    line_containing(&mut out, "-!- you are bob").await;
    let carol = Member::join(server, "carol").await;
    let mut last = 0;
    for text in ["one", "two", "three"] {
        last = carol.say(text).await;
    }
    line_containing(&mut out, "<~carol> three").await;
    stdin.write_all(b"/quit\n").await.unwrap();
    drop(stdin);
    let (ok, stderr) = finish(client).await;
    assert!(ok, "{stderr}");
    let _ = carol.client.leave(carol.session(), None).await;
    last
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_mode_leaves_the_read_marker_alone_unless_told_to_mark_what_it_printed() {
    let server = TestServer::start().await;
    let dir = TempDir::new();
    plain_bob_reads_carol(&server, &dir, &[]).await;
    let (_, unread) = bobs_marker(&server, &dir).await;
    assert_eq!(unread, 3, "left alone: still unread");

    let last = plain_bob_reads_carol(&server, &dir, &["--mark-read"]).await;
    assert_eq!(
        bobs_marker(&server, &dir).await,
        (last, 0),
        "marked as printed"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_that_reconnects_is_never_seen_to_leave_and_join() {
    use tokio::io::AsyncWriteExt;
    let dir = TempDir::new();
    let server = TestServer::start().await;
    let mut watcher = Member::join(&server, "watcher").await;
    let relay = Relay::start(server.addr).await;
    let target = format!("ws://{}", relay.addr);
    let mut client = plain_client(&[&target, "--name", "logger"], &dir);
    let mut stdin = client.stdin.take().unwrap();
    let mut out = BufReader::new(client.stdout.take().unwrap()).lines();
    line_containing(&mut out, "-!- you are logger").await;
    assert_eq!(watcher.next_event().await.kind, EventKind::Join);

    // The server still has the old session: the new one joins before it is ended.
    relay.cut();
    line_containing(&mut out, "-!- disconnected").await;
    line_containing(&mut out, "-!- reconnected as logger").await;
    stdin.write_all(b"back\n").await.unwrap();
    let next = watcher.next_event().await;
    assert_eq!(
        (next.kind, next.text.as_deref()),
        (EventKind::Message, Some("back")),
        "nothing between: {next:?}"
    );

    drop(stdin);
    let (ok, stderr) = finish(client).await;
    assert!(ok, "{stderr}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_identity_file_that_cannot_be_used_stops_the_client_with_one_line() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new();
    let server = TestServer::start().await;
    let run = |key: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_chatroom"))
            .args(["connect", "--plain", &server.ws_url(), "--log-file"])
            .arg(dir.0.join("client.log"))
            .arg("--identity")
            .arg(key)
            .env("XDG_DATA_HOME", dir.0.join("data"))
            .stdin(Stdio::null())
            .output()
    };
    let loose = dir.0.join("loose.pem");
    chatroom::identity::Identity::create(&loose).unwrap();
    std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = within("the client to refuse", run(&loose)).await.unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: identity file"), "{stderr}");
    assert!(stderr.contains("chmod 600"), "{stderr}");

    let corrupt = dir.0.join("corrupt.pem");
    std::fs::write(&corrupt, "not a key\n").unwrap();
    std::fs::set_permissions(&corrupt, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = within("the client to refuse", run(&corrupt)).await.unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("is not a chatroom identity"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&corrupt).unwrap(),
        "not a key\n",
        "never replaced"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_mode_sends_and_prints_direct_messages_under_the_persons_name() {
    use tokio::io::AsyncWriteExt;
    let dir = TempDir::new();
    let server = TestServer::start().await;
    let alice_key = chatroom::identity::Identity::generate();
    let mut alice = Member::join_as(&server, "alice", &alice_key).await;
    let key = dir.0.join("bot.pem");
    let key = key.to_str().unwrap();
    let mut client = plain_client(
        &[&server.ws_url(), "--name", "bot", "--identity", key],
        &dir,
    );
    let mut stdin = client.stdin.take().unwrap();
    let mut out = BufReader::new(client.stdout.take().unwrap()).lines();
    line_containing(&mut out, "-!- you are bot").await;
    stdin
        .write_all(b"/msg alice build 42 is green\n")
        .await
        .unwrap();
    let dm = loop {
        let event = alice.next_event().await;
        if event.kind == EventKind::Message {
            assert_eq!(event.text.as_deref(), Some("build 42 is green"));
            break event.room;
        }
    };
    line_containing(&mut out, "-!- in a conversation with alice").await;
    alice
        .client
        .send(alice.session(), "thanks".into(), None, Some(dm))
        .await
        .unwrap();
    let line = line_containing(&mut out, "<alice> thanks").await;
    assert!(line.starts_with("@alice "), "{line}");
    drop(stdin);
    let (ok, stderr) = finish(client).await;
    assert!(ok, "{stderr}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_giving_another_servers_id_is_not_signed_in_to() {
    use tokio::io::AsyncWriteExt;
    // Server B speaks with A's id, as a server passing A's challenges on to sign in there
    // as us would.
    let same = |_: ()| ServerConfig {
        server_id: Some("0123456789abcdef0123456789abcdef".into()),
        ..ServerConfig::default()
    };
    let (a, b) = (
        TestServer::start_with(same(())).await,
        TestServer::start_with(same(())).await,
    );
    let dir = TempDir::new();
    let mut client = plain_client(&[&a.ws_url(), "--name", "alice"], &dir);
    let mut out = BufReader::new(client.stdout.take().unwrap()).lines();
    line_containing(&mut out, "-!- you are alice").await;
    client.stdin.take().unwrap().shutdown().await.unwrap();
    let (ok, stderr) = finish(client).await;
    assert!(ok, "{stderr}");

    let client = plain_client(&[&b.ws_url(), "--name", "alice"], &dir);
    let (ok, stderr) = finish(client).await;
    assert!(!ok, "refused");
    assert!(stderr.contains("passing your sign-in on"), "{stderr}");
    let members = Member::join(&b, "watcher").await;
    let list = members
        .client
        .members(Some(members.session()), None)
        .await
        .unwrap();
    assert_eq!(list.len(), 1, "alice never got in: {list:?}");
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_mode_moderates_with_the_same_commands() {
    use tokio::io::AsyncWriteExt;
    let dir = TempDir::new();
    let server = TestServer::start().await;
    // The bot's key makes #bots, so the bot owns it.
    let key = dir.0.join("bot.pem");
    let mut client = plain_client(
        &[
            &server.ws_url(),
            "--name",
            "bot",
            "--identity",
            key.to_str().unwrap(),
            "--room",
            "#bots",
        ],
        &dir,
    );
    let mut stdin = client.stdin.take().unwrap();
    let mut out = BufReader::new(client.stdout.take().unwrap()).lines();
    line_containing(&mut out, "-!- you are bot").await;
    let mut alice =
        Member::join_as(&server, "alice", &chatroom::identity::Identity::generate()).await;
    alice.enter("#bots").await;
    line_containing(&mut out, "alice joined").await;
    // A mistake is told on stderr and sends nothing; the next line goes on.
    stdin
        .write_all(b"/mute alice 5x\n/mode +t\n")
        .await
        .unwrap();
    let mode = line_containing(&mut out, "set mode").await;
    assert!(
        mode.ends_with("-!- you set mode +t in #bots: now +t"),
        "{mode}"
    );
    stdin.write_all(b"/kick alice flooding\n").await.unwrap();
    let kicked = line_containing(&mut out, "kicked").await;
    assert!(
        kicked.starts_with("#bots ")
            && kicked.ends_with("-!- you kicked alice from #bots (flooding)"),
        "{kicked}"
    );
    let kick = within("alice's kick", async {
        loop {
            let event = alice.next_event().await;
            if event.kind == EventKind::Kick {
                return event;
            }
        }
    })
    .await;
    assert_eq!(kick.text.as_deref(), Some("flooding"));
    assert_eq!(kick.target.map(|t| t.name).as_deref(), Some("alice"));
    drop(stdin);
    let (ok, stderr) = finish(client).await;
    assert!(ok, "{stderr}");
    assert!(stderr.contains("not a duration: 5x"), "{stderr}");
    server.stop().await;
}
