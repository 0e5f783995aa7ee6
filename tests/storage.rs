//! A real server over a store whose writes fail, as on a full disk: every call that needs
//! storing is answered in bounded time, nothing refused is stored later, seq keeps no gap,
//! and the server stops within its grace period whatever the disk does.

mod common;

use std::time::Duration;

use chatroom::domain::ChatConfig;
use chatroom::rpc::client::connect;
use chatroom::rpc::server::ServerConfig;
use chatroom::rpc::types::{Event, EventKind};
use chatroom::rpc::{ChatApiClient, codes};
use chatroom::store::{DbLocation, Store, WriteFaults};
use common::raw_ws::RawWs;
use common::{Member, TestServer, within};
use jsonrpsee::core::ClientError;

fn config(storage_timeout: Duration) -> ServerConfig {
    ServerConfig {
        chat: ChatConfig {
            rate_limit: None,
            storage_timeout,
            ..ChatConfig::default()
        },
        ..ServerConfig::default()
    }
}

/// A server whose store fails every write while the switch returned is on.
async fn server_with_faults(config: ServerConfig) -> (TestServer, WriteFaults) {
    let store = Store::open(&DbLocation::Memory).unwrap();
    let faults = store.write_faults();
    (TestServer::start_on_store(config, store).await, faults)
}

fn error_code(err: ClientError) -> i32 {
    match err {
        ClientError::Call(obj) => obj.code(),
        other => panic!("expected a JSON-RPC error, got {other:?}"),
    }
}

async fn all_history(member: &Member) -> Vec<Event> {
    member
        .client
        .history(member.session(), None, Some(0), Some(500), None)
        .await
        .unwrap()
}

fn assert_no_gap(events: &[Event]) {
    for pair in events.windows(2) {
        assert_eq!(pair[1].seq, pair[0].seq + 1, "gap in {events:?}");
    }
}

#[tokio::test]
async fn a_send_that_cannot_be_stored_is_refused_and_never_stored_later() {
    let (server, faults) = server_with_faults(config(Duration::from_millis(200))).await;
    let alice = Member::join(&server, "alice").await;
    let mut bob = Member::join(&server, "bob").await;
    let before = alice.say("before").await;
    assert_eq!(bob.next_event().await.text.as_deref(), Some("before"));

    faults.set(true);
    let refused = within(
        "the send to be refused",
        alice
            .client
            .send(alice.session(), "lost".into(), None, None),
    )
    .await
    .unwrap_err();
    assert_eq!(error_code(refused), codes::STORAGE_UNAVAILABLE);

    // Once the disk is back, what is said next is stored, after everything before the
    // failure and nothing of it.
    faults.set(false);
    let after = alice.say("after").await;
    assert_eq!(
        after,
        before + 1,
        "the refused message's seq was never seen"
    );
    let next = bob.next_event().await;
    assert_eq!((next.seq, next.text.as_deref()), (after, Some("after")));
    let history = all_history(&bob).await;
    assert!(
        history.iter().all(|e| e.text.as_deref() != Some("lost")),
        "{history:?}"
    );
    assert_no_gap(&history);
    server.stop().await;
}

#[tokio::test]
async fn joins_and_renames_fail_cleanly_while_storage_is_unavailable() {
    let (server, faults) = server_with_faults(config(Duration::from_millis(200))).await;
    let mut alice = Member::join(&server, "alice").await;
    let bob = Member::join(&server, "bob").await;
    assert_eq!(alice.next_event().await.kind, EventKind::Join);

    faults.set(true);
    let carol = chatroom::rpc::client::connect(&server.ws_url())
        .await
        .unwrap();
    let refused = within(
        "the join to fail",
        carol.join(Some("carol".into()), None, None, None),
    )
    .await
    .unwrap_err();
    assert_eq!(error_code(refused), codes::STORAGE_UNAVAILABLE);
    let refused = within(
        "the rename to fail",
        bob.client.nick(bob.session(), "robert".into()),
    )
    .await
    .unwrap_err();
    assert_eq!(error_code(refused), codes::STORAGE_UNAVAILABLE);
    let names = |members: Vec<chatroom::rpc::types::MemberInfo>| {
        members.into_iter().map(|m| m.name).collect::<Vec<_>>()
    };
    assert_eq!(
        names(alice.client.members(None, None).await.unwrap()),
        ["alice", "bob"],
        "neither the join nor the rename happened"
    );

    faults.set(false);
    let joined = carol
        .join(Some("carol".into()), None, None, None)
        .await
        .unwrap();
    assert_eq!(joined.name, "carol", "the name was never taken");
    let next = alice.next_event().await;
    assert_eq!(
        (next.kind, next.from.name.as_str()),
        (EventKind::Join, "carol")
    );
    let history = all_history(&alice).await;
    let carol_joins = history
        .iter()
        .filter(|e| e.kind == EventKind::Join && e.from.name == "carol")
        .count();
    assert_eq!(carol_joins, 1, "{history:?}");
    assert!(history.iter().all(|e| e.kind != EventKind::Nick));
    assert_no_gap(&history);
    server.stop().await;
}

#[tokio::test]
async fn shutdown_ends_every_session_within_its_grace_while_storage_hangs() {
    // The store would go on trying for a minute: the grace period must not wait for it.
    let (server, faults) = server_with_faults(ServerConfig {
        shutdown_grace: Duration::from_secs(1),
        ..config(Duration::from_secs(60))
    })
    .await;
    let mut alice = Member::join(&server, "alice").await;
    let mut raw = RawWs::connect(server.addr).await;
    let session = raw.join("raw").await;
    raw.subscribe(&session).await;
    assert_eq!(alice.next_event().await.kind, EventKind::Join);

    faults.set(true);
    server.stop().await;
    // The notice could not be stored, so it is not delivered; the end of each session says
    // why instead.
    let end = raw.recv_json().await;
    assert_eq!(
        end["params"]["error"], "session ended: server shutting down",
        "{end}"
    );
    raw.closed().await;
    within("alice's stream to end", async {
        assert!(alice.events.next().await.is_none());
    })
    .await;
    faults.set(false);
}

#[tokio::test]
async fn messages_waiting_to_be_stored_are_bounded_in_bytes() {
    const SENDS: usize = 40;
    const TEXT: usize = 4000;
    const BOUND: usize = 64 * 1024;
    let (server, faults) = server_with_faults(ServerConfig {
        chat: ChatConfig {
            max_pending_bytes: BOUND,
            max_text_bytes: 4096,
            ..config(Duration::from_secs(60)).chat
        },
        ..ServerConfig::default()
    })
    .await;
    let alice = Member::join(&server, "alice").await;
    let session = alice.session();
    // Each send on a connection of its own: the calls one connection may have in flight are
    // bounded, and that bound must not be what holds the messages back here.
    let mut clients = Vec::new();
    for _ in 0..SENDS {
        clients.push(connect(&server.ws_url()).await.unwrap());
    }

    faults.set(true);
    let (results, mut outcomes) = tokio::sync::mpsc::unbounded_channel();
    for client in clients {
        let (session, results) = (session.clone(), results.clone());
        tokio::spawn(async move {
            let sent = client.send(session, "x".repeat(TEXT), None, None).await;
            let _ = results.send(sent.map(|r| r.seq).map_err(error_code));
        });
    }
    // Each waiting message holds at least its text, so at most BOUND / TEXT of them (and
    // one more, which crosses the bound) wait; the rest are refused at once.
    let most_waiting = BOUND / TEXT + 1;
    for _ in 0..SENDS - most_waiting {
        let outcome = within("a refusal", outcomes.recv()).await.unwrap();
        assert_eq!(outcome, Err(codes::STORAGE_BEHIND));
    }
    faults.set(false);
    let mut stored = 0;
    for _ in 0..most_waiting {
        match within("an outcome", outcomes.recv()).await.unwrap() {
            Ok(_) => stored += 1,
            Err(code) => assert_eq!(code, codes::STORAGE_BEHIND),
        }
    }
    assert!(stored > 0, "the messages that waited were stored");
    server.stop().await;
}
