//! What a key identity keeps across a server killed with -9 and started again: its name,
//! its rooms, its read markers, and the direct messages waiting for it; and a room's
//! moderation (roles, bans, mutes, modes).

mod common;

use chatroom::identity::Identity;
use chatroom::rpc::ChatApiClient;
use chatroom::rpc::client::connect;
use chatroom::rpc::codes;
use common::process::{kill, serve};
use common::{Member, TempDir, TestServer, code_of, join_keyed};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ownership_rooms_markers_and_waiting_messages_survive_a_kill_9() {
    let dir = TempDir::new();
    let db = dir.0.join("chat.db");
    let db_arg = db.to_str().unwrap();
    let (alice_key, bob_key) = (Identity::generate(), Identity::generate());

    let (server, addr) = serve(&["--db", db_arg]).await;
    let handle = TestServer::external(addr);
    let alice = Member::join_as(&handle, "alice", &alice_key).await;
    alice.enter("#rust").await;
    let seen = alice.say_in("#rust", "mine").await;
    let bob = Member::join_as(&handle, "bob", &bob_key).await;
    bob.say_in("#general", "unread by alice").await;
    alice
        .client
        .mark(alice.session(), "#rust".into(), seen)
        .await
        .unwrap();
    bob.client.leave(bob.session(), None).await.unwrap();
    let sent = alice
        .client
        .msg(
            alice.session(),
            "bob".into(),
            "while you were out".into(),
            None,
        )
        .await
        .unwrap();
    // The marker is not acknowledged as stored; this send, after it, is.
    let after = alice.say_in("#rust", "after the marker").await;
    assert!(after > seen);
    kill(server).await; // SIGKILL: no shutdown, no flush
    drop((alice, bob));

    let (server, addr) = serve(&["--db", db_arg]).await;
    let handle = TestServer::external(addr);
    // The name is still alice's: nobody else gets it.
    let guest = connect(&handle.ws_url()).await.unwrap();
    let err = guest
        .join(Some("alice".into()), None, None, None)
        .await
        .unwrap_err();
    assert_eq!(code_of(&err), codes::NAME_OWNED);

    let client = connect(&handle.ws_url()).await.unwrap();
    let alice = join_keyed(&client, Some("alice"), None, &alice_key)
        .await
        .unwrap();
    assert_eq!(alice.name, "alice");
    assert_eq!(alice.unread, 1, "bob's message in #general: {alice:?}");
    let rust = alice
        .rooms
        .iter()
        .find(|r| r.room == "#rust")
        .expect("back in #rust");
    assert_eq!(rust.read, seen, "the marker survived");

    let client = connect(&handle.ws_url()).await.unwrap();
    let bob = join_keyed(&client, None, None, &bob_key).await.unwrap();
    assert_eq!(bob.name, "bob");
    let waiting = bob
        .rooms
        .iter()
        .find(|r| r.room == sent.room)
        .expect("the conversation waits for bob");
    assert_eq!(waiting.unread, 1);
    assert_eq!(
        waiting.peer.as_ref().map(|p| p.name.as_str()),
        Some("alice")
    );
    let opened = client.enter(bob.session, sent.room.clone()).await.unwrap();
    let texts: Vec<_> = opened
        .history
        .iter()
        .filter_map(|e| e.text.clone())
        .collect();
    assert_eq!(texts, ["while you were out"]);
    kill(server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_id_stays_with_the_database() {
    let dir = TempDir::new();
    let db = dir.0.join("chat.db");
    let db_arg = db.to_str().unwrap();
    let mut ids = Vec::new();
    for _ in 0..2 {
        let (server, addr) = serve(&["--db", db_arg]).await;
        let client = connect(&TestServer::external(addr).ws_url()).await.unwrap();
        ids.push(client.challenge().await.unwrap().server);
        kill(server).await;
    }
    assert_eq!(ids[0], ids[1], "clients know the server again by its id");
    let other = dir.0.join("other.db");
    let (server, addr) = serve(&["--db", other.to_str().unwrap()]).await;
    let client = connect(&TestServer::external(addr).ws_url()).await.unwrap();
    assert_ne!(client.challenge().await.unwrap().server, ids[0]);
    kill(server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_bans_mutes_and_modes_survive_a_kill_9() {
    let dir = TempDir::new();
    let db = dir.0.join("chat.db");
    let db_arg = db.to_str().unwrap();
    let [alice_key, bob_key, carol_key, dave_key, eve_key] =
        std::array::from_fn(|_| Identity::generate());
    let room = || Some("#mod".to_owned());

    let (server, addr) = serve(&["--db", db_arg]).await;
    let handle = TestServer::external(addr);
    let alice = Member::join_as(&handle, "alice", &alice_key).await;
    alice.enter("#mod").await; // made by alice: hers
    let bob = Member::join_as(&handle, "bob", &bob_key).await;
    bob.enter("#mod").await;
    let carol = Member::join_as(&handle, "carol", &carol_key).await;
    carol.enter("#mod").await;
    let dave = Member::join_as(&handle, "dave", &dave_key).await;
    dave.enter("#mod").await;
    let (s, c) = (alice.session(), &alice.client);
    c.role(s.clone(), "bob".into(), room(), Some("op".into()))
        .await
        .unwrap();
    c.ban(s.clone(), "dave".into(), room(), None, Some("spam".into()))
        .await
        .unwrap();
    c.mute(s.clone(), "carol".into(), room(), None)
        .await
        .unwrap();
    // Invited, so that the mute is what stops carol, not +i.
    c.invite(s.clone(), "carol".into(), room()).await.unwrap();
    c.mode(s.clone(), room(), Some("+i".into())).await.unwrap();
    kill(server).await; // SIGKILL: no shutdown, no flush
    drop((alice, bob, carol, dave));

    let (server, addr) = serve(&["--db", db_arg]).await;
    let handle = TestServer::external(addr);
    let alice = Member::join_as(&handle, "alice", &alice_key).await;
    let bob = Member::join_as(&handle, "bob", &bob_key).await;
    alice.enter("#mod").await;
    bob.enter("#mod").await;
    let members = alice
        .client
        .members(Some(alice.session()), room())
        .await
        .unwrap();
    let role_of = |name: &str| {
        members
            .iter()
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("{name} in {members:?}"))
            .role
    };
    assert_eq!(role_of("alice"), Some(chatroom::domain::Role::Owner));
    assert_eq!(role_of("bob"), Some(chatroom::domain::Role::Op));

    let client = connect(&handle.ws_url()).await.unwrap();
    let dave = join_keyed(&client, Some("dave"), None, &dave_key)
        .await
        .unwrap();
    let err = client.enter(dave.session, "#mod".into()).await.unwrap_err();
    assert_eq!(code_of(&err), codes::BANNED, "{err}");

    let carol = Member::join_as(&handle, "carol", &carol_key).await;
    carol.enter("#mod").await;
    let err = carol
        .client
        .send(carol.session(), "let me speak".into(), None, room())
        .await
        .unwrap_err();
    assert_eq!(code_of(&err), codes::MUTED, "{err}");

    let client = connect(&handle.ws_url()).await.unwrap();
    let eve = join_keyed(&client, Some("eve"), None, &eve_key)
        .await
        .unwrap();
    let err = client.enter(eve.session, "#mod".into()).await.unwrap_err();
    assert_eq!(code_of(&err), codes::INVITE_ONLY, "{err}");
    kill(server).await;
}
