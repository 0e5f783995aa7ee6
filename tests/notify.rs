//! Notification levels against the real server: `chat_notify` sets an identity's level in a
//! room, its other sessions hear of it, the next join carries it in its room entries, and a
//! level that is none, or a guest, is refused.

mod common;

use chatroom::identity::Identity;
use chatroom::rpc::ChatApiClient;
use chatroom::rpc::client::connect;
use chatroom::rpc::codes;
use chatroom::rpc::types::{EventKind, NotifyLevel};
use common::{Member, TestServer, code_of, join_keyed};

#[tokio::test]
async fn a_level_set_in_one_session_reaches_the_other_and_the_next_join() {
    let server = TestServer::start().await;
    let key = Identity::generate();
    let laptop = Member::join_as(&server, "alice", &key).await;
    let mut desktop = Member::join_as(&server, "alice", &key).await;
    assert_eq!(
        laptop.joined.notify,
        Some(NotifyLevel::Mentions),
        "a room's default"
    );
    laptop.enter("#rust").await;

    let set = laptop
        .client
        .notify(laptop.session(), "#rust".into(), Some("all".into()))
        .await
        .unwrap();
    assert_eq!((set.room.as_str(), set.level), ("#rust", NotifyLevel::All));
    let told = loop {
        let event = desktop.next_event().await;
        if event.kind == EventKind::Notify {
            break event;
        }
    };
    assert_eq!(
        (told.room.as_str(), told.text.as_deref(), told.seq),
        ("#rust", Some("all"), 0)
    );
    laptop
        .client
        .notify(laptop.session(), "#general".into(), Some("off".into()))
        .await
        .unwrap();
    // Asked without a level: what it is.
    let now = desktop
        .client
        .notify(desktop.session(), "#general".into(), None)
        .await
        .unwrap();
    assert_eq!(now.level, NotifyLevel::Off);

    // A new session finds both, the room joined and the room entries alike.
    let client = connect(&server.ws_url()).await.unwrap();
    let again = join_keyed(&client, None, None, &key).await.unwrap();
    assert_eq!(again.room, "#general");
    assert_eq!(again.notify, Some(NotifyLevel::Off));
    let rust = again.rooms.iter().find(|r| r.room == "#rust").unwrap();
    assert_eq!(rust.notify, Some(NotifyLevel::All));
    let entered = client
        .enter(again.session.clone(), "#rust".into())
        .await
        .unwrap();
    assert_eq!(entered.notify, Some(NotifyLevel::All));
    server.stop().await;
}

#[tokio::test]
async fn an_unknown_level_is_refused_and_changes_nothing() {
    let server = TestServer::start().await;
    let key = Identity::generate();
    let alice = Member::join_as(&server, "alice", &key).await;
    for bad in ["loud", "ALL", ""] {
        let err = alice
            .client
            .notify(alice.session(), "#general".into(), Some(bad.into()))
            .await
            .unwrap_err();
        assert_eq!(code_of(&err), codes::BAD_NOTIFY_LEVEL, "{bad:?}");
    }
    let now = alice
        .client
        .notify(alice.session(), "#general".into(), None)
        .await
        .unwrap();
    assert_eq!(now.level, NotifyLevel::Mentions);
    server.stop().await;
}

#[tokio::test]
async fn a_guest_keeps_no_level_on_the_server_and_a_conversation_notifies_of_everything() {
    let server = TestServer::start().await;
    let bob = Member::join(&server, "bob").await;
    let err = bob
        .client
        .notify(bob.session(), "#general".into(), Some("all".into()))
        .await
        .unwrap_err();
    assert_eq!(code_of(&err), codes::NOT_IDENTIFIED);

    let alice = Member::join_as(&server, "alice", &Identity::generate()).await;
    let carol = Member::join_as(&server, "carol", &Identity::generate()).await;
    let sent = alice
        .client
        .msg(alice.session(), "carol".into(), "psst".into(), None)
        .await
        .unwrap();
    let opened = carol
        .client
        .query(carol.session(), "alice".into())
        .await
        .unwrap();
    assert_eq!(opened.room, sent.room);
    assert_eq!(opened.notify, Some(NotifyLevel::All));
    server.stop().await;
}
