//! Key identities against the real server: the challenge-response join and every way a
//! proof can be wrong, names owned by keys, several sessions of one identity, and rooms
//! remembered across sessions.

mod common;

use chatroom::identity::Identity;
use chatroom::rpc::ChatApiClient;
use chatroom::rpc::client::connect;
use chatroom::rpc::codes;
use chatroom::rpc::types::{EventKind, Proof};
use common::{Member, TestServer, code_of, join_keyed, post, within};

#[tokio::test]
async fn a_key_owns_the_name_it_first_used_and_gets_it_back() {
    let server = TestServer::start().await;
    let key = Identity::generate();
    let alice = Member::join_as(&server, "alice", &key).await;
    assert!(!alice.joined.guest);
    assert_eq!(
        alice.joined.fingerprint.as_deref(),
        Some(key.public_key().fingerprint().as_str())
    );
    assert_eq!(
        alice.id(),
        key.public_key().member_id(),
        "the id is the key's"
    );
    let first_id = alice.id();
    alice.client.leave(alice.session(), None).await.unwrap();

    // Back with another name asked for: its own name, and the same id.
    let client = connect(&server.ws_url()).await.unwrap();
    let again = join_keyed(&client, Some("someone-else"), None, &key)
        .await
        .unwrap();
    assert_eq!(again.name, "alice");
    assert_eq!(again.id, first_id);
    server.stop().await;
}

#[tokio::test]
async fn nobody_else_takes_an_owned_name_directly_by_nick_or_by_look_alike() {
    let server = TestServer::start().await;
    let key = Identity::generate();
    let alice = Member::join_as(&server, "alice", &key).await;
    alice.client.leave(alice.session(), None).await.unwrap();

    for attempt in [
        "alice",
        "ALICE",
        "аlice", /* Cyrillic а */
        "alice\u{200b}",
    ] {
        let guest = connect(&server.ws_url()).await.unwrap();
        let err = guest
            .join(Some(attempt.to_owned()), None, None, None)
            .await
            .unwrap_err();
        assert_eq!(code_of(&err), codes::NAME_OWNED, "guest as {attempt:?}");
        let other = Identity::generate();
        let err = join_keyed(&guest, Some(attempt), None, &other)
            .await
            .unwrap_err();
        assert_eq!(
            code_of(&err),
            codes::NAME_OWNED,
            "another key as {attempt:?}"
        );
    }
    let guest = Member::join(&server, "mallory").await;
    let err = guest
        .client
        .nick(guest.session(), "Alice".into())
        .await
        .unwrap_err();
    assert_eq!(code_of(&err), codes::NAME_OWNED);
    assert!(
        err.to_string().contains("belongs to another key"),
        "a clear error: {err}"
    );
    server.stop().await;
}

#[tokio::test]
async fn proofs_that_are_forged_replayed_foreign_or_malformed_are_refused() {
    let server = TestServer::start().await;
    let key = Identity::generate();
    let public = key.public_key().to_base64();
    let client = connect(&server.ws_url()).await.unwrap();
    let join = |proof: Proof| client.join(Some("alice".into()), None, None, Some(proof));

    // No challenge asked for on this connection.
    let challenge_less = Proof {
        key: public.clone(),
        signature: key.sign_join("whatever", "nonce"),
    };
    assert_eq!(
        code_of(&join(challenge_less).await.unwrap_err()),
        codes::BAD_PROOF
    );

    // Forged: signed by another key.
    let c = client.challenge().await.unwrap();
    let forged = Proof {
        key: public.clone(),
        signature: Identity::generate().sign_join(&c.server, &c.nonce),
    };
    assert_eq!(code_of(&join(forged).await.unwrap_err()), codes::BAD_PROOF);

    // Made for another server.
    let c = client.challenge().await.unwrap();
    let foreign = Proof {
        key: public.clone(),
        signature: key.sign_join("another-server", &c.nonce),
    };
    assert_eq!(code_of(&join(foreign).await.unwrap_err()), codes::BAD_PROOF);

    // Malformed key and signature.
    for (bad_key, bad_signature) in [
        ("not base64!".to_owned(), "AAAA".to_owned()),
        ("AAAA".to_owned(), key.sign_join("x", "y")),
        (public.clone(), "AAAA".to_owned()),
    ] {
        client.challenge().await.unwrap();
        let proof = Proof {
            key: bad_key,
            signature: bad_signature,
        };
        assert_eq!(code_of(&join(proof).await.unwrap_err()), codes::BAD_PROOF);
    }

    // A good proof works once; replayed on this connection (the nonce is used up) or on
    // another connection (another nonce), it does not.
    let c = client.challenge().await.unwrap();
    let good = Proof {
        key: public.clone(),
        signature: key.sign_join(&c.server, &c.nonce),
    };
    let joined = join(good.clone()).await.unwrap();
    assert_eq!(joined.name, "alice");
    assert_eq!(
        code_of(&join(good.clone()).await.unwrap_err()),
        codes::BAD_PROOF
    );
    let elsewhere = connect(&server.ws_url()).await.unwrap();
    elsewhere.challenge().await.unwrap();
    let err = elsewhere
        .join(Some("alice".into()), None, None, Some(good))
        .await
        .unwrap_err();
    assert_eq!(code_of(&err), codes::BAD_PROOF);
    server.stop().await;
}

#[tokio::test]
async fn over_plain_http_there_is_no_challenge_and_members_are_guests() {
    let server = TestServer::start().await;
    let body = post(
        &server,
        br#"{"jsonrpc":"2.0","id":1,"method":"chat_challenge","params":[]}"#,
    )
    .await;
    assert!(body.contains("1023"), "{body}");
    let body = post(
        &server,
        br#"{"jsonrpc":"2.0","id":1,"method":"chat_join","params":{"name":"curl"}}"#,
    )
    .await;
    let joined: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(joined["result"]["guest"], true, "{body}");
    assert_eq!(joined["result"]["fingerprint"], serde_json::Value::Null);
    let member = &joined["result"]["members"][0];
    assert_eq!(
        member["guest"], true,
        "guests are marked in member lists: {body}"
    );
    server.stop().await;
}

#[tokio::test]
async fn two_sessions_of_one_identity_are_one_member_and_hear_each_other() {
    let server = TestServer::start().await;
    let key = Identity::generate();
    let mut bob = Member::join(&server, "bob").await;
    let mut laptop = Member::join_as(&server, "alice", &key).await;
    let joined = bob.next_event().await;
    assert_eq!(
        (joined.kind, joined.from.id),
        (EventKind::Join, laptop.id())
    );

    let mut desktop = Member::join_as(&server, "alice", &key).await;
    assert_eq!(desktop.id(), laptop.id());
    assert_eq!(desktop.joined.name, "alice");
    let members = bob.client.members(Some(bob.session()), None).await.unwrap();
    assert_eq!(members.len(), 2, "one member for two sessions: {members:?}");

    // What the laptop says shows on the desktop (as its own), not back on the laptop.
    let seq = laptop.say("from the laptop").await;
    let heard = desktop.next_event().await;
    assert_eq!((heard.seq, heard.from.id), (seq, laptop.id()));
    let heard = bob.next_event().await;
    assert_eq!(heard.seq, seq, "bob heard no second join before it");
    bob.say("hi both").await;
    let on_laptop = laptop.next_event().await;
    assert_eq!(
        on_laptop.text.as_deref(),
        Some("hi both"),
        "no self-echo first"
    );
    assert_eq!(desktop.next_event().await.text.as_deref(), Some("hi both"));

    // One session leaving is not the member leaving.
    laptop.client.leave(laptop.session(), None).await.unwrap();
    desktop.say("still here").await;
    let next = bob.next_event().await;
    assert_eq!(
        (next.kind, next.text.as_deref()),
        (EventKind::Message, Some("still here")),
        "no leave while a session remains"
    );
    server.stop().await;
}

#[tokio::test]
async fn an_identity_comes_back_to_every_room_it_was_in_until_it_parts() {
    let server = TestServer::start().await;
    let key = Identity::generate();
    let alice = Member::join_as(&server, "alice", &key).await;
    alice.enter("#rust").await;
    alice.enter("#ops").await;
    let bob = Member::join(&server, "bob").await;
    bob.enter("#rust").await;
    bob.say_in("#rust", "one").await;
    alice
        .client
        .part(alice.session(), Some("#ops".into()), None)
        .await
        .unwrap();
    // Closing the terminal is not parting.
    drop(alice);
    bob.say_in("#rust", "two").await;

    let client = connect(&server.ws_url()).await.unwrap();
    let back = within("the join", join_keyed(&client, None, None, &key))
        .await
        .unwrap();
    let rooms: Vec<&str> = back.rooms.iter().map(|r| r.room.as_str()).collect();
    assert_eq!(back.room, "#general");
    assert_eq!(rooms, ["#rust"], "parted #ops stays parted");
    assert_eq!(back.rooms[0].unread, 2, "both of bob's messages are unread");
    let rust = client
        .enter(back.session.clone(), "#rust".into())
        .await
        .unwrap();
    assert!(rust.members.iter().any(|m| m.id == back.id));
    let texts: Vec<_> = rust
        .history
        .iter()
        .filter_map(|e| e.text.as_deref())
        .collect();
    assert!(texts.contains(&"two"), "{texts:?}");
    server.stop().await;
}

#[tokio::test]
async fn a_read_marker_moves_forward_only_within_the_room_and_syncs_the_other_sessions() {
    let server = TestServer::start().await;
    let key = Identity::generate();
    let laptop = Member::join_as(&server, "alice", &key).await;
    let mut desktop = Member::join_as(&server, "alice", &key).await;
    let bob = Member::join(&server, "bob").await;
    let first = bob.say("one").await;
    let second = bob.say("two").await;

    let err = laptop
        .client
        .mark(laptop.session(), "#general".into(), second + 1)
        .await
        .unwrap_err();
    assert_eq!(code_of(&err), codes::MARKER_AHEAD);
    let marked = laptop
        .client
        .mark(laptop.session(), "#general".into(), second)
        .await
        .unwrap();
    assert_eq!(marked.seq, second);
    let back = laptop
        .client
        .mark(laptop.session(), "#general".into(), first)
        .await
        .unwrap();
    assert_eq!(back.seq, second, "a marker never moves back");

    // The desktop hears bob's messages, then the laptop's read.
    let read = loop {
        let event = desktop.next_event().await;
        if event.kind == EventKind::Read {
            break event;
        }
    };
    assert_eq!((read.room.as_str(), read.seq), ("#general", second));
    let err = bob
        .client
        .mark(bob.session(), "#general".into(), first)
        .await
        .unwrap_err();
    assert_eq!(
        code_of(&err),
        codes::NOT_IDENTIFIED,
        "guests keep no markers"
    );

    // A new session starts from the marker.
    let client = connect(&server.ws_url()).await.unwrap();
    let again = join_keyed(&client, None, None, &key).await.unwrap();
    assert_eq!((again.read, again.unread), (second, 0));
    server.stop().await;
}

#[tokio::test]
async fn whois_tells_key_guest_since_rooms_and_idle() {
    let server = TestServer::start().await;
    let key = Identity::generate();
    let alice = Member::join_as(&server, "alice", &key).await;
    alice.enter("#rust").await;
    let bob = Member::join(&server, "bob").await;

    let who = alice
        .client
        .whois(alice.session(), "bob".into())
        .await
        .unwrap();
    assert!(who.guest && who.fingerprint.is_none() && who.online);
    let who = bob
        .client
        .whois(bob.session(), "ALICE".into())
        .await
        .unwrap();
    assert_eq!(
        who.fingerprint.as_deref(),
        Some(key.public_key().fingerprint().as_str())
    );
    assert!(!who.guest && who.since.is_some() && who.idle_ms.is_some());
    assert_eq!(who.rooms, ["#general", "#rust"]);
    assert_eq!(who.sessions, 1);

    alice.client.leave(alice.session(), None).await.unwrap();
    let who = bob
        .client
        .whois(bob.session(), "alice".into())
        .await
        .unwrap();
    assert!(!who.online && who.last_seen.is_some() && who.idle_ms.is_none());
    let err = bob
        .client
        .whois(bob.session(), "nobody-at-all".into())
        .await
        .unwrap_err();
    assert_eq!(code_of(&err), codes::NO_SUCH_IDENTITY);
    server.stop().await;
}

#[tokio::test]
async fn a_read_event_reaches_a_session_whose_cursor_is_past_its_seq() {
    let server = TestServer::start().await;
    let key = Identity::generate();
    let laptop = Member::join_as(&server, "alice", &key).await;
    let bob = Member::join(&server, "bob").await;
    let seq = bob.say("read me").await;
    // The desktop has everything up to `seq` already: a marker at `seq` is no event of
    // the room, so its cursor must not hold it back.
    let client = connect(&server.ws_url()).await.unwrap();
    let desktop = join_keyed(&client, None, None, &key).await.unwrap();
    let cursors = std::collections::BTreeMap::from([("#general".to_owned(), seq)]);
    let mut events = client
        .subscribe_events(desktop.session.clone(), None, Some(cursors))
        .await
        .unwrap();
    laptop
        .client
        .mark(laptop.session(), "#general".into(), seq)
        .await
        .unwrap();
    let read = within("the read event", events.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((read.kind, read.seq), (EventKind::Read, seq));
    // Polling, the same.
    let polled = connect(&server.ws_url()).await.unwrap();
    let third = join_keyed(&polled, None, None, &key).await.unwrap();
    let bob_again = bob.say("and me").await;
    laptop
        .client
        .mark(laptop.session(), "#general".into(), bob_again)
        .await
        .unwrap();
    let cursors = std::collections::BTreeMap::from([("#general".to_owned(), bob_again)]);
    let got = polled
        .poll(third.session, Some(5_000), None, Some(cursors))
        .await
        .unwrap();
    assert!(
        got.iter()
            .any(|e| e.kind == EventKind::Read && e.seq == bob_again),
        "{got:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn catching_up_an_identity_gets_back_what_its_earlier_session_said() {
    let server = TestServer::start().await;
    let key = Identity::generate();
    let bob = Member::join(&server, "bob").await;
    let before = bob.say("before").await;
    let first = Member::join_as(&server, "alice", &key).await;
    let mine = first.say("said on the old session").await;
    drop(first);

    // A guest never gets its own words back; an identity does, from its other sessions
    // or from before it reconnected, and tells them apart by their seqs.
    let client = connect(&server.ws_url()).await.unwrap();
    let again = join_keyed(&client, None, None, &key).await.unwrap();
    let cursors = std::collections::BTreeMap::from([("#general".to_owned(), before)]);
    let got = client
        .poll(again.session, Some(0), None, Some(cursors))
        .await
        .unwrap();
    assert!(
        got.iter().any(|e| e.seq == mine && e.from.id == again.id),
        "{got:?}"
    );
    drop(bob);
    server.stop().await;
}
