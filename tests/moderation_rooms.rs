//! Moderation of what a room shows: a secret room hidden from outsiders, and deleted
//! messages gone for good, from history and from catch-up alike.

mod common;

use std::collections::BTreeMap;

use chatroom::identity::Identity;
use chatroom::rpc::ChatApiClient;
use chatroom::rpc::codes;
use chatroom::rpc::types::{Event, EventKind};

use common::code_of;
use common::moderation::{ROOM, joined_in, next_kind, server};

#[tokio::test]
async fn a_secret_room_is_hidden_from_those_not_in_it() {
    let server = server().await;
    let alice = joined_in(&server, "alice", ROOM, &Identity::generate()).await;
    alice.enter("#general").await;
    let bob = joined_in(&server, "bob", "#general", &Identity::generate()).await;
    let (b, s) = (&bob.client, bob.session());
    let listed = |rooms: Vec<chatroom::rpc::types::RoomInfo>| rooms.iter().any(|r| r.room == ROOM);
    // Seen before it is secret, so what follows is the secrecy, not something else.
    assert!(listed(b.rooms(Some(s.clone())).await.unwrap()));
    assert!(
        b.whois(s.clone(), "alice".into())
            .await
            .unwrap()
            .rooms
            .contains(&ROOM.to_owned())
    );
    let mode = alice
        .client
        .mode(alice.session(), Some(ROOM.into()), Some("+s".into()))
        .await
        .unwrap();
    assert_eq!(mode.modes, "+s");
    assert!(!listed(b.rooms(Some(s.clone())).await.unwrap()));
    assert!(!listed(b.rooms(None).await.unwrap()));
    let whois = b.whois(s.clone(), "alice".into()).await.unwrap();
    assert!(!whois.rooms.contains(&ROOM.to_owned()), "{whois:?}");
    assert!(!whois.roles.contains_key(ROOM), "{whois:?}");
    let room = || Some(ROOM.to_owned());
    let refusals = [
        (
            "history",
            b.history(s.clone(), None, None, None, room())
                .await
                .map(drop),
        ),
        (
            "members",
            b.members(Some(s.clone()), room()).await.map(drop),
        ),
        (
            "members without a session",
            b.members(None, room()).await.map(drop),
        ),
        ("topic", b.topic(s.clone(), room(), None).await.map(drop)),
    ];
    for (call, answer) in refusals {
        let err = answer.expect_err(call);
        assert_eq!(code_of(&err), codes::NO_SUCH_ROOM, "{call}: {err}");
    }
    // Its members still see it, and who owns it.
    let rooms = alice.client.rooms(Some(alice.session())).await.unwrap();
    assert!(listed(rooms));
    let whois = alice
        .client
        .whois(alice.session(), "alice".into())
        .await
        .unwrap();
    assert_eq!(
        whois.roles.get(ROOM),
        Some(&chatroom::rpc::types::Role::Owner),
        "{whois:?}"
    );
}

/// Every event of `events` that still carries `text`.
fn carrying<'a>(events: &'a [Event], text: &str) -> Vec<&'a Event> {
    events
        .iter()
        .filter(|e| e.text.as_deref() == Some(text))
        .collect()
}

#[tokio::test]
async fn a_deleted_message_is_a_tombstone_in_history_and_in_catch_up() {
    let server = server().await;
    let alice = joined_in(&server, "alice", ROOM, &Identity::generate()).await;
    let mut bob = joined_in(&server, "bob", ROOM, &Identity::generate()).await;
    let mut carol = joined_in(&server, "carol", ROOM, &Identity::generate()).await;
    let seq = carol.say_in(ROOM, "my password is hunter2").await;
    // Someone else's message, by a plain member: refused.
    let err = bob
        .client
        .delete(bob.session(), seq, Some(ROOM.into()))
        .await
        .unwrap_err();
    assert_eq!(code_of(&err), codes::NOT_PERMITTED, "{err}");
    let history = bob
        .client
        .history(bob.session(), None, None, None, Some(ROOM.into()))
        .await
        .unwrap();
    assert_eq!(carrying(&history, "my password is hunter2").len(), 1);
    // By the owner: everyone else is told (the owner has the answer).
    alice
        .client
        .delete(alice.session(), seq, Some(ROOM.into()))
        .await
        .unwrap();
    for member in [&mut bob, &mut carol] {
        let delete = next_kind(member, EventKind::Delete).await;
        assert_eq!(delete.target_seq, Some(seq));
        assert_eq!(delete.target.map(|t| t.name).as_deref(), Some("carol"));
    }
    // History: the line is there, as a tombstone.
    let history = bob
        .client
        .history(bob.session(), None, None, None, Some(ROOM.into()))
        .await
        .unwrap();
    let tombstone = history.iter().find(|e| e.seq == seq).expect("the line");
    assert_eq!(tombstone.kind, EventKind::Deleted);
    assert_eq!(tombstone.text, None);
    assert!(carrying(&history, "my password is hunter2").is_empty());
    // Catch-up: a newcomer's join history, and a poll from the room's start.
    let dave = joined_in(&server, "dave", ROOM, &Identity::generate()).await;
    assert!(carrying(&dave.joined.history, "my password is hunter2").is_empty());
    let replayed = replay_by_poll(&server).await;
    let line = replayed.iter().find(|e| e.seq == seq).expect("replayed");
    assert_eq!(
        (line.kind, line.text.as_deref()),
        (EventKind::Deleted, None)
    );
    assert!(carrying(&replayed, "my password is hunter2").is_empty());
}

/// A new identity's poll from seq 0 of the room: its catch-up from the log.
async fn replay_by_poll(server: &common::TestServer) -> Vec<Event> {
    let client = chatroom::rpc::client::connect(&server.ws_url())
        .await
        .unwrap();
    let joined = common::join_keyed(&client, Some("erin"), Some(ROOM), &Identity::generate())
        .await
        .unwrap();
    let cursors = BTreeMap::from([(ROOM.to_owned(), 0)]);
    client
        .poll(joined.session, Some(0), None, Some(cursors))
        .await
        .unwrap()
}

#[tokio::test]
async fn authors_delete_their_own_and_deleting_twice_finds_nothing() {
    let server = server().await;
    let _alice = joined_in(&server, "alice", ROOM, &Identity::generate()).await;
    let bob = joined_in(&server, "bob", ROOM, &Identity::generate()).await;
    let seq = bob.say_in(ROOM, "oops").await;
    let delete = || bob.client.delete(bob.session(), seq, Some(ROOM.into()));
    delete().await.unwrap();
    let err = delete().await.unwrap_err();
    assert_eq!(code_of(&err), codes::NO_SUCH_MESSAGE, "{err}");
}

#[tokio::test]
async fn a_message_in_a_conversation_is_deleted_by_its_author_only() {
    let server = server().await;
    let alice = joined_in(&server, "alice", ROOM, &Identity::generate()).await;
    let bob = joined_in(&server, "bob", ROOM, &Identity::generate()).await;
    let sent = alice
        .client
        .msg(
            alice.session(),
            "bob".into(),
            "just between us".into(),
            None,
        )
        .await
        .unwrap();
    let by_bob = bob
        .client
        .delete(bob.session(), sent.seq, Some(sent.room.clone()))
        .await
        .unwrap_err();
    assert_eq!(code_of(&by_bob), codes::NOT_PERMITTED, "{by_bob}");
    alice
        .client
        .delete(alice.session(), sent.seq, Some(sent.room.clone()))
        .await
        .unwrap();
    let history = bob
        .client
        .history(bob.session(), None, None, None, Some(sent.room))
        .await
        .unwrap();
    let line = history.iter().find(|e| e.seq == sent.seq).unwrap();
    assert_eq!(
        (line.kind, line.text.as_deref()),
        (EventKind::Deleted, None)
    );
}

#[tokio::test]
async fn a_room_operator_is_never_told_a_banned_guests_address() {
    let server = server().await;
    let alice = joined_in(&server, "alice", ROOM, &Identity::generate()).await;
    let guest = common::Member::join(&server, "gina").await;
    guest.enter(ROOM).await;
    let ban = alice
        .client
        .ban(
            alice.session(),
            "gina".into(),
            Some(ROOM.into()),
            None,
            None,
        )
        .await
        .unwrap();
    assert_eq!((ban.name.as_str(), ban.address), ("gina", None));
    let listed = alice
        .client
        .bans(alice.session(), Some(ROOM.into()))
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].address, None);
}
