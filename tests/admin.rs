//! `chatroom admin` on a real server's database: refused while the server runs; a ban made
//! offline holds once the server is back; an export after a delete holds no trace of the
//! text; a deleted room is gone.

mod common;

use std::path::Path;
use std::process::Output;

use chatroom::identity::Identity;
use chatroom::rpc::ChatApiClient;
use chatroom::rpc::client::connect;
use chatroom::rpc::codes;
use chatroom::rpc::types::{Event, EventKind};
use common::process::{kill, serve, terminate};
use common::{Member, TempDir, TestServer, code_of, join_keyed, within};

/// `chatroom admin --db DB ARGS…`, waited for.
async fn admin(db: &Path, args: &[&str]) -> Output {
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_chatroom"))
        .arg("admin")
        .arg("--db")
        .arg(db)
        .args(args)
        .kill_on_drop(true)
        .output();
    within("chatroom admin", run).await.unwrap()
}

/// [`admin`], which must succeed; its stdout.
async fn admin_ok(db: &Path, args: &[&str]) -> String {
    let out = admin(db, args).await;
    assert!(
        out.status.success(),
        "admin {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_is_refused_while_the_server_runs_on_the_database() {
    let dir = TempDir::new();
    let db = dir.0.join("chat.db");
    let (server, addr) = serve(&["--db", db.to_str().unwrap()]).await;
    let alice = Member::join(&TestServer::external(addr), "alice").await;
    for args in [&["rooms"][..], &["ban", "192.0.2.1"], &["delete-room", "x"]] {
        let out = admin(&db, args).await;
        assert!(!out.status.success(), "{args:?} ran beside the server");
        let stderr = String::from_utf8(out.stderr).unwrap();
        let real = std::fs::canonicalize(&db).unwrap();
        assert_eq!(
            stderr,
            format!(
                "error: the server is running on {}; stop it first\n",
                real.display()
            )
        );
    }
    drop(alice);
    kill(server).await;
    let rooms = admin_ok(&db, &["rooms"]).await;
    assert!(rooms.contains("#general"), "{rooms}");
    // Nothing was banned while refused.
    let bans = admin_ok(&db, &["bans"]).await;
    assert!(bans.starts_with("no bans"), "{bans}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bans_made_offline_hold_once_the_server_is_back() {
    let dir = TempDir::new();
    let db = dir.0.join("chat.db");
    let db_arg = db.to_str().unwrap();
    let (alice_key, bob_key) = (Identity::generate(), Identity::generate());
    let (server, addr) = serve(&["--db", db_arg]).await;
    let handle = TestServer::external(addr);
    let alice = Member::join_as(&handle, "alice", &alice_key).await;
    let bob = Member::join_as(&handle, "bob", &bob_key).await;
    bob.enter("#rust").await;
    drop((alice, bob));
    terminate(server).await;

    let fingerprint = alice_key.public_key().fingerprint();
    let banned = admin_ok(&db, &["ban", &fingerprint, "--reason", "spam"]).await;
    assert!(banned.contains("alice"), "{banned}");
    admin_ok(&db, &["ban", "--room", "rust", "bob", "--duration", "1h"]).await;
    let listed = admin_ok(&db, &["bans", "--room", "#rust"]).await;
    assert!(
        listed.contains("bob") && listed.contains("by admin"),
        "{listed}"
    );
    let out = admin(&db, &["ban", "bob", "--duration", "10s"]).await;
    assert!(!out.status.success(), "a 10s ban is out of range");
    let identities = admin_ok(&db, &["identities"]).await;
    assert!(identities.contains(&fingerprint), "{identities}");

    let (server, addr) = serve(&["--db", db_arg]).await;
    let handle = TestServer::external(addr);
    let client = connect(&handle.ws_url()).await.unwrap();
    let err = join_keyed(&client, Some("alice"), None, &alice_key)
        .await
        .unwrap_err();
    assert_eq!(code_of(&err), codes::BANNED, "{err}");
    let client = connect(&handle.ws_url()).await.unwrap();
    let bob = join_keyed(&client, Some("bob"), None, &bob_key)
        .await
        .unwrap();
    assert!(
        bob.rooms.iter().all(|r| r.room != "#rust"),
        "not put back where banned: {bob:?}"
    );
    let err = client
        .enter(bob.session.clone(), "#rust".into())
        .await
        .unwrap_err();
    assert_eq!(code_of(&err), codes::BANNED, "{err}");
    kill(server).await;

    admin_ok(&db, &["unban", &fingerprint]).await;
    let (server, addr) = serve(&["--db", db_arg]).await;
    let client = connect(&TestServer::external(addr).ws_url()).await.unwrap();
    join_keyed(&client, Some("alice"), None, &alice_key)
        .await
        .unwrap();
    kill(server).await;
}

const SECRET: &str = "burn after reading";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_after_a_delete_holds_no_trace_of_the_text() {
    let dir = TempDir::new();
    let db = dir.0.join("chat.db");
    let key = Identity::generate();
    let (server, addr) = serve(&["--db", db.to_str().unwrap()]).await;
    let alice = Member::join_as(&TestServer::external(addr), "alice", &key).await;
    let gone = alice.say(SECRET).await;
    alice.say("stays").await;
    alice
        .client
        .delete(alice.session(), gone, None)
        .await
        .unwrap();
    drop(alice);
    terminate(server).await;

    let jsonl = admin_ok(&db, &["export", "#general", "--format", "jsonl"]).await;
    assert!(!jsonl.contains("burn"), "{jsonl}");
    let events: Vec<Event> = jsonl
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let deleted = events.iter().find(|e| e.seq == gone).unwrap();
    assert_eq!(
        (deleted.kind, deleted.text.as_deref()),
        (EventKind::Deleted, None)
    );
    let delete = events.iter().find(|e| e.kind == EventKind::Delete).unwrap();
    assert_eq!(delete.target_seq, Some(gone));
    assert!(events.iter().any(|e| e.text.as_deref() == Some("stays")));

    let text = admin_ok(&db, &["export", "general"]).await;
    assert!(!text.contains("burn"), "{text}");
    assert!(text.contains("<alice> (message deleted)"), "{text}");
    assert!(text.contains("<alice> stays"), "{text}");
    let first = text.lines().next().unwrap();
    assert!(
        first.starts_with('[') && first.as_bytes()[20] == b']',
        "[YYYY-MM-DD HH:MM:SS]: {first}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_room_is_gone_after_a_restart() {
    let dir = TempDir::new();
    let db = dir.0.join("chat.db");
    let db_arg = db.to_str().unwrap();
    let key = Identity::generate();
    let (server, addr) = serve(&["--db", db_arg]).await;
    let alice = Member::join_as(&TestServer::external(addr), "alice", &key).await;
    alice.enter("#tmp").await;
    alice.say_in("#tmp", "soon gone").await;
    drop(alice);
    terminate(server).await;

    let out = admin(&db, &["delete-room", "#general"]).await;
    assert!(!out.status.success(), "the default room is kept");
    let deleted = admin_ok(&db, &["delete-room", "tmp"]).await;
    assert!(deleted.starts_with("deleted #tmp"), "{deleted}");
    assert!(!admin_ok(&db, &["rooms"]).await.contains("#tmp"));
    let mut bytes = std::fs::read(&db).unwrap();
    bytes.extend(std::fs::read(dir.0.join("chat.db-wal")).unwrap_or_default());
    assert!(
        !bytes.windows(9).any(|w| w == b"soon gone"),
        "overwritten, not left in free pages"
    );
    let out = admin(&db, &["export", "#tmp"]).await;
    assert!(!out.status.success(), "nothing left to export");

    let (server, addr) = serve(&["--db", db_arg]).await;
    let client = connect(&TestServer::external(addr).ws_url()).await.unwrap();
    let alice = join_keyed(&client, Some("alice"), None, &key)
        .await
        .unwrap();
    assert!(alice.rooms.iter().all(|r| r.room != "#tmp"), "{alice:?}");
    let rooms = client.rooms(Some(alice.session)).await.unwrap();
    assert!(rooms.iter().all(|r| r.room != "#tmp"), "{rooms:?}");
    kill(server).await;
}
