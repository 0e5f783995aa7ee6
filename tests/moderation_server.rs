//! Moderation across the server: server operators (from `serve --operators`, read again on
//! SIGHUP), server bans, and what members say of themselves: away, and whom they ignore.

mod common;

use std::collections::BTreeSet;
use std::process::Stdio;

use chatroom::identity::Identity;
use chatroom::rpc::ChatApiClient;
use chatroom::rpc::client::connect;
use chatroom::rpc::codes;
use chatroom::rpc::types::EventKind;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

use common::moderation::{ROOM, joined_in, members_of, next_kind, server, server_with_ops};
use common::{TempDir, TestServer, code_of, join_keyed, within};

#[tokio::test]
async fn a_server_ban_closes_the_connection_tells_every_room_and_keeps_the_key_out() {
    let sam_key = Identity::generate();
    let server = server_with_ops(&[&sam_key]).await;
    let mut alice = joined_in(&server, "alice", ROOM, &Identity::generate()).await;
    alice.enter("#other").await;
    let bob_key = Identity::generate();
    let bob = joined_in(&server, "bob", ROOM, &bob_key).await;
    bob.enter("#other").await;
    let sam = common::Member::join_as(&server, "sam", &sam_key).await;
    // Only a server operator may.
    let err = alice
        .client
        .gban(alice.session(), "bob".into(), None, None)
        .await
        .unwrap_err();
    assert_eq!(code_of(&err), codes::NOT_PERMITTED, "{err}");
    sam.client
        .gban(sam.session(), "bob".into(), Some(3600), Some("spam".into()))
        .await
        .unwrap();
    within("bob's connection to close", bob.client.on_disconnect()).await;
    let mut rooms = BTreeSet::new();
    for _ in 0..2 {
        let gban = next_kind(&mut alice, EventKind::Gban).await;
        assert_eq!(gban.target.map(|t| t.id), Some(bob.id()));
        assert_eq!(gban.text.as_deref(), Some("spam"));
        assert!(gban.until.is_some());
        rooms.insert(gban.room);
    }
    assert_eq!(
        rooms,
        BTreeSet::from([ROOM.to_owned(), "#other".to_owned()])
    );
    // Not back in, under any name, into any room.
    let client = connect(&server.ws_url()).await.unwrap();
    let err = join_keyed(&client, Some("robert"), None, &bob_key)
        .await
        .unwrap_err();
    assert_eq!(code_of(&err), codes::BANNED, "{err}");
    let bans = sam.client.gbans(sam.session()).await.unwrap();
    assert_eq!(bans.len(), 1, "{bans:?}");
    sam.client
        .ungban(sam.session(), "bob".into())
        .await
        .unwrap();
    let client = connect(&server.ws_url()).await.unwrap();
    join_keyed(&client, Some("bob"), None, &bob_key)
        .await
        .unwrap();
}

/// `chatroom serve --operators FILE` in a child process, with its log lines on a channel.
async fn serve_with_operators(
    file: &std::path::Path,
) -> (Child, TestServer, mpsc::UnboundedReceiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_chatroom"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--db",
            ":memory:",
            "--operators",
        ])
        .arg(file)
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let (tx, mut log) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            let _ = tx.send(line);
        }
    });
    let line = logged(&mut log, "listening addr=").await;
    let addr = line.split_once("listening addr=").unwrap().1.trim();
    (child, TestServer::external(addr.parse().unwrap()), log)
}

/// The next log line that has `needle` in it.
async fn logged(log: &mut mpsc::UnboundedReceiver<String>, needle: &str) -> String {
    within(&format!("the server to log {needle:?}"), async {
        loop {
            let line = log.recv().await.expect("the server exited");
            if line.contains(needle) {
                return line;
            }
        }
    })
    .await
}

fn hang_up(child: &Child) {
    let pid = child.id().unwrap().to_string();
    let status = std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn operators_from_the_file_moderate_any_room_and_a_sighup_reads_it_again() {
    let dir = TempDir::new();
    let file = dir.0.join("operators");
    let (alice_key, carol_key) = (Identity::generate(), Identity::generate());
    let alice_fp = alice_key.public_key().fingerprint();
    std::fs::write(&file, format!("# the operators\n\n{alice_fp}  # alice\n")).unwrap();
    let (child, server, mut log) = serve_with_operators(&file).await;
    // Bob's room: alice does not own it, and moderates it all the same.
    let bob = joined_in(&server, "bob", ROOM, &Identity::generate()).await;
    let alice = joined_in(&server, "alice", ROOM, &alice_key).await;
    let carol = joined_in(&server, "carol", ROOM, &carol_key).await;
    assert!(alice.joined.server_op && !carol.joined.server_op);
    alice
        .client
        .kick(alice.session(), "carol".into(), Some(ROOM.into()), None)
        .await
        .unwrap();
    assert!(
        !members_of(&bob, ROOM)
            .await
            .iter()
            .any(|m| m.id == carol.id())
    );
    let (c, s) = (&carol.client, carol.session());
    let err = c.gbans(s.clone()).await.unwrap_err();
    assert_eq!(code_of(&err), codes::NOT_PERMITTED, "{err}");
    // A file that cannot be used keeps the list as it was.
    std::fs::write(&file, format!("{alice_fp}\nnot a fingerprint\n")).unwrap();
    hang_up(&child);
    let line = logged(&mut log, "stay as they were").await;
    assert!(line.contains("line 2"), "{line}");
    alice.client.gbans(alice.session()).await.unwrap();
    // A good one is taken, and says who came.
    let carol_fp = carol_key.public_key().fingerprint();
    std::fs::write(&file, format!("{alice_fp}\n{carol_fp}\n")).unwrap();
    hang_up(&child);
    let line = logged(&mut log, "server operators read again").await;
    assert!(line.contains(&carol_fp), "{line}");
    c.gbans(s.clone()).await.unwrap();
    assert!(c.whois(s, "carol".into()).await.unwrap().server_op);
    common::process::terminate(child).await;
}

#[tokio::test]
async fn a_malformed_operators_file_stops_the_server_naming_the_line() {
    let dir = TempDir::new();
    let file = dir.0.join("operators");
    std::fs::write(&file, "# fine\n\nSHA256:short\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_chatroom"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--db",
            ":memory:",
            "--operators",
        ])
        .arg(&file)
        .output();
    let output = within("the server to refuse", output).await.unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].contains("line 3") && lines[0].contains("SHA256:short"),
        "{stderr}"
    );
}

#[tokio::test]
async fn an_away_member_is_shown_away_and_the_first_message_to_it_says_so() {
    let server = server().await;
    let alice = joined_in(&server, "alice", ROOM, &Identity::generate()).await;
    let bob = joined_in(&server, "bob", ROOM, &Identity::generate()).await;
    bob.client
        .away(bob.session(), Some("at lunch".into()))
        .await
        .unwrap();
    let members = members_of(&alice, ROOM).await;
    let shown = members.iter().find(|m| m.id == bob.id()).unwrap();
    assert_eq!(shown.away.as_deref(), Some("at lunch"));
    let whois = alice
        .client
        .whois(alice.session(), "bob".into())
        .await
        .unwrap();
    assert_eq!(whois.away.as_deref(), Some("at lunch"));
    let msg = |text: &str| {
        alice
            .client
            .msg(alice.session(), "bob".into(), text.to_owned(), None)
    };
    assert_eq!(
        msg("are you there?").await.unwrap().away.as_deref(),
        Some("at lunch")
    );
    assert_eq!(msg("ok, later").await.unwrap().away, None);
    // Back: nobody is shown away.
    bob.client.away(bob.session(), None).await.unwrap();
    let members = members_of(&alice, ROOM).await;
    assert!(members.iter().all(|m| m.away.is_none()), "{members:?}");
}

#[tokio::test]
async fn an_ignore_reaches_the_identitys_other_sessions_and_its_next_join() {
    let server = server().await;
    let alice_key = Identity::generate();
    let bob = joined_in(&server, "bob", ROOM, &Identity::generate()).await;
    let alice = joined_in(&server, "alice", ROOM, &alice_key).await;
    let mut laptop = joined_in(&server, "alice", ROOM, &alice_key).await;
    let ignored = alice
        .client
        .ignore(alice.session(), "bob".into(), None)
        .await
        .unwrap();
    assert_eq!(ignored.iter().map(|m| m.id).collect::<Vec<_>>(), [bob.id()]);
    let told = next_kind(&mut laptop, EventKind::Ignore).await;
    assert_eq!(told.target.map(|t| t.id), Some(bob.id()));
    assert_eq!(told.text, None);
    let phone = joined_in(&server, "alice", ROOM, &alice_key).await;
    let ids: Vec<_> = phone.joined.ignored.iter().map(|m| m.id).collect();
    assert_eq!(ids, [bob.id()]);
    // And no longer.
    let ignored = alice
        .client
        .ignore(alice.session(), "bob".into(), Some(false))
        .await
        .unwrap();
    assert!(ignored.is_empty());
    let told = next_kind(&mut laptop, EventKind::Ignore).await;
    assert_eq!(told.text.as_deref(), Some("off"));
}
