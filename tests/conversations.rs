//! Direct messages against the real server: they wait for an identity that is away, reach
//! every session of one that is here, and nobody else can read them by any method.

mod common;

use std::collections::BTreeMap;

use chatroom::identity::Identity;
use chatroom::rpc::ChatApiClient;
use chatroom::rpc::client::connect;
use chatroom::rpc::codes;
use chatroom::rpc::types::EventKind;
use common::{Member, TestServer, code_of, join_keyed};

#[tokio::test]
async fn a_message_to_an_identity_that_is_away_waits_and_arrives_once() {
    let server = TestServer::start().await;
    let (alice_key, bob_key) = (Identity::generate(), Identity::generate());
    let bob = Member::join_as(&server, "bob", &bob_key).await;
    bob.client.leave(bob.session(), None).await.unwrap();
    let alice = Member::join_as(&server, "alice", &alice_key).await;
    let sent = alice
        .client
        .msg(alice.session(), "bob".into(), "are you there?".into(), None)
        .await
        .unwrap();
    assert!(sent.room.starts_with("dm:"), "{sent:?}");

    let client = connect(&server.ws_url()).await.unwrap();
    let back = join_keyed(&client, None, None, &bob_key).await.unwrap();
    let waiting = back
        .rooms
        .iter()
        .find(|r| r.room == sent.room)
        .expect("the conversation is among bob's rooms");
    assert_eq!(waiting.unread, 1);
    assert_eq!(
        waiting.peer.as_ref().map(|p| p.name.as_str()),
        Some("alice")
    );
    let opened = client
        .enter(back.session.clone(), sent.room.clone())
        .await
        .unwrap();
    let texts: Vec<_> = opened
        .history
        .iter()
        .filter_map(|e| e.text.clone())
        .collect();
    assert_eq!(
        texts,
        ["are you there?"],
        "once, and no joins in a conversation"
    );
    assert!(opened.members.is_empty(), "a conversation lists no members");

    // Catching up from before it gives it once more only to a client that asks so; from
    // its seq, nothing.
    let mut events = client
        .subscribe_events(
            back.session.clone(),
            None,
            Some(BTreeMap::from([(sent.room.clone(), sent.seq)])),
        )
        .await
        .unwrap();
    alice
        .client
        .msg(alice.session(), "bob".into(), "second".into(), None)
        .await
        .unwrap();
    let next = common::within("the live message", events.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next.text.as_deref(), Some("second"));
    server.stop().await;
}

#[tokio::test]
async fn every_session_of_the_recipient_gets_a_direct_message_and_a_read_on_one_reaches_the_other()
{
    let server = TestServer::start().await;
    let (alice_key, bob_key) = (Identity::generate(), Identity::generate());
    let alice = Member::join_as(&server, "alice", &alice_key).await;
    let mut laptop = Member::join_as(&server, "bob", &bob_key).await;
    let mut desktop = Member::join_as(&server, "bob", &bob_key).await;
    let sent = alice
        .client
        .msg(alice.session(), "BOB".into(), "psst".into(), None)
        .await
        .unwrap();
    for session in [&mut laptop, &mut desktop] {
        let event = loop {
            let event = session.next_event().await;
            if event.room == sent.room {
                break event;
            }
        };
        assert_eq!(
            (event.kind, event.text.as_deref(), event.seq),
            (EventKind::Message, Some("psst"), sent.seq)
        );
    }
    laptop
        .client
        .mark(laptop.session(), sent.room.clone(), sent.seq)
        .await
        .unwrap();
    let read = desktop.next_event().await;
    assert_eq!((read.kind, read.seq), (EventKind::Read, sent.seq));
    server.stop().await;
}

#[tokio::test]
async fn nobody_but_the_two_can_read_a_conversation_by_any_method() {
    let server = TestServer::start().await;
    let (alice_key, bob_key, carol_key) = (
        Identity::generate(),
        Identity::generate(),
        Identity::generate(),
    );
    let alice = Member::join_as(&server, "alice", &alice_key).await;
    let _bob = Member::join_as(&server, "bob", &bob_key).await;
    let sent = alice
        .client
        .msg(alice.session(), "bob".into(), "secret".into(), None)
        .await
        .unwrap();
    let carol = Member::join_as(&server, "carol", &carol_key).await;
    let guest = Member::join(&server, "guest").await;
    let cursors = || Some(BTreeMap::from([(sent.room.clone(), 0)]));
    for outsider in [&carol, &guest] {
        let who = outsider.name().to_owned();
        let err = outsider
            .client
            .history(
                outsider.session(),
                None,
                None,
                None,
                Some(sent.room.clone()),
            )
            .await
            .unwrap_err();
        assert_eq!(code_of(&err), codes::NO_SUCH_ROOM, "{who}: history");
        let err = outsider
            .client
            .enter(outsider.session(), sent.room.clone())
            .await
            .unwrap_err();
        assert_eq!(code_of(&err), codes::NO_SUCH_ROOM, "{who}: enter");
        let err = outsider
            .client
            .poll(outsider.session(), Some(0), None, cursors())
            .await
            .unwrap_err();
        assert_eq!(code_of(&err), codes::NO_SUCH_ROOM, "{who}: poll");
        let refused = outsider
            .client
            .subscribe_events(outsider.session(), None, cursors())
            .await
            .map(drop)
            .unwrap_err();
        assert_eq!(code_of(&refused), codes::NO_SUCH_ROOM, "{who}: subscribe");
        let err = outsider
            .client
            .members(Some(outsider.session()), Some(sent.room.clone()))
            .await
            .unwrap_err();
        assert_eq!(code_of(&err), codes::NO_SUCH_ROOM, "{who}: members");
        let err = outsider
            .client
            .send(
                outsider.session(),
                "hi".into(),
                None,
                Some(sent.room.clone()),
            )
            .await
            .unwrap_err();
        assert_eq!(code_of(&err), codes::NO_SUCH_ROOM, "{who}: send");
    }
    let rooms = guest.client.rooms(None).await.unwrap();
    assert!(
        rooms.iter().all(|r| !r.room.starts_with("dm:")),
        "conversations are not listed: {rooms:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn only_identities_message_and_are_messaged() {
    let server = TestServer::start().await;
    let alice = Member::join_as(&server, "alice", &Identity::generate()).await;
    let guest = Member::join(&server, "guest").await;
    for to in ["guest", "nobody-here", "alice"] {
        let err = alice
            .client
            .msg(alice.session(), to.into(), "hi".into(), None)
            .await
            .unwrap_err();
        assert_eq!(code_of(&err), codes::NO_SUCH_IDENTITY, "to {to}");
    }
    let err = guest
        .client
        .msg(guest.session(), "alice".into(), "hi".into(), None)
        .await
        .unwrap_err();
    assert_eq!(code_of(&err), codes::NOT_IDENTIFIED);
    assert!(err.to_string().contains("key"), "a clear error: {err}");
    let err = guest
        .client
        .query(guest.session(), "alice".into())
        .await
        .unwrap_err();
    assert_eq!(code_of(&err), codes::NOT_IDENTIFIED);
    server.stop().await;
}
