//! Moderation's permissions, end to end against a real server: who may kick, ban, mute,
//! change modes and invite, whom nobody may touch, and what each refusal leaves unchanged.
//! Rooms, secrecy and deletion are in `moderation_rooms.rs`; server operators, away and
//! ignore in `moderation_server.rs`.

mod common;

use chatroom::identity::Identity;
use chatroom::rpc::ChatApiClient;
use chatroom::rpc::codes;
use chatroom::rpc::types::EventKind;

use common::moderation::{ROOM, joined_in, members_of, next_kind, server, server_with_ops};
use common::{code_of, join_keyed};

/// The owner `alice` (who made the room), and `bob` and `carol`, members of it.
async fn room_of_three(server: &common::TestServer) -> [common::Member; 3] {
    let alice = joined_in(server, "alice", ROOM, &Identity::generate()).await;
    let bob = joined_in(server, "bob", ROOM, &Identity::generate()).await;
    let carol = joined_in(server, "carol", ROOM, &Identity::generate()).await;
    [alice, bob, carol]
}

#[tokio::test]
async fn every_moderation_call_from_a_plain_member_is_not_permitted_and_changes_nothing() {
    let server = server().await;
    let [mut alice, bob, carol] = room_of_three(&server).await;
    let dave = joined_in(&server, "dave", "#elsewhere", &Identity::generate()).await;
    let (c, s, room) = (&bob.client, bob.session(), || Some(ROOM.to_owned()));
    let refusals = [
        (
            "kick",
            c.kick(s.clone(), "carol".into(), room(), None)
                .await
                .map(drop),
        ),
        (
            "ban",
            c.ban(s.clone(), "carol".into(), room(), None, None)
                .await
                .map(drop),
        ),
        (
            "unban",
            c.unban(s.clone(), "carol".into(), room()).await.map(drop),
        ),
        ("bans", c.bans(s.clone(), room()).await.map(drop)),
        (
            "mute",
            c.mute(s.clone(), "carol".into(), room(), None)
                .await
                .map(drop),
        ),
        (
            "unmute",
            c.unmute(s.clone(), "carol".into(), room()).await.map(drop),
        ),
        (
            "role",
            c.role(s.clone(), "carol".into(), room(), Some("op".into()))
                .await
                .map(drop),
        ),
        (
            "mode",
            c.mode(s.clone(), room(), Some("+i".into())).await.map(drop),
        ),
        (
            "invite",
            c.invite(s.clone(), "dave".into(), room()).await.map(drop),
        ),
        (
            "gban",
            c.gban(s.clone(), "carol".into(), None, None)
                .await
                .map(drop),
        ),
        (
            "ungban",
            c.ungban(s.clone(), "carol".into()).await.map(drop),
        ),
        ("gbans", c.gbans(s.clone()).await.map(drop)),
    ];
    for (call, answer) in refusals {
        let err = answer.expect_err(call);
        assert_eq!(code_of(&err), codes::NOT_PERMITTED, "{call}: {err}");
    }
    // Carol is still there, may still speak, is no operator; the room is as it was.
    let members = members_of(&alice, ROOM).await;
    let carol_there = members.iter().find(|m| m.id == carol.id()).expect("carol");
    assert_eq!(carol_there.role, None);
    carol.say_in(ROOM, "still here").await;
    let modes = alice
        .client
        .mode(alice.session(), room(), None)
        .await
        .unwrap();
    assert_eq!(modes.modes, "+");
    let bans = alice.client.bans(alice.session(), room()).await.unwrap();
    assert!(bans.is_empty(), "{bans:?}");
    // Nothing happened in the room between the joins and carol's line.
    loop {
        let event = alice.next_event().await;
        assert!(
            matches!(event.kind, EventKind::Join | EventKind::Message),
            "{event:?}"
        );
        if event.text.as_deref() == Some("still here") {
            break;
        }
    }
    drop(dave);
}

#[tokio::test]
async fn nobody_moderates_the_owner_or_a_server_operator_and_ops_not_each_other() {
    let sam_key = Identity::generate();
    let server = server_with_ops(&[&sam_key]).await;
    let [alice, bob, carol] = room_of_three(&server).await;
    let _sam = joined_in(&server, "sam", ROOM, &sam_key).await;
    for name in ["bob", "carol"] {
        alice
            .client
            .role(
                alice.session(),
                name.into(),
                Some(ROOM.into()),
                Some("op".into()),
            )
            .await
            .unwrap();
    }
    let protected = |who: &'static str, err: jsonrpsee::core::client::Error| {
        assert_eq!(code_of(&err), codes::PROTECTED, "{who}: {err}");
    };
    let room = || Some(ROOM.to_owned());
    // An operator against the owner.
    let (b, bs) = (&bob.client, bob.session());
    protected(
        "op kicks owner",
        b.kick(bs.clone(), "alice".into(), room(), None)
            .await
            .unwrap_err(),
    );
    protected(
        "op bans owner",
        b.ban(bs.clone(), "alice".into(), room(), None, None)
            .await
            .unwrap_err(),
    );
    // The owner against a server operator.
    let (a, s) = (&alice.client, alice.session());
    protected(
        "owner kicks server op",
        a.kick(s.clone(), "sam".into(), room(), None)
            .await
            .unwrap_err(),
    );
    protected(
        "owner bans server op",
        a.ban(s.clone(), "sam".into(), room(), None, None)
            .await
            .unwrap_err(),
    );
    // An operator against another.
    protected(
        "op kicks op",
        b.kick(bs.clone(), "carol".into(), room(), None)
            .await
            .unwrap_err(),
    );
    let members = members_of(&alice, ROOM).await;
    for who in [alice.id(), carol.id()] {
        assert!(members.iter().any(|m| m.id == who), "{who} was put out");
    }
    // The owner can.
    a.kick(s, "carol".into(), room(), None).await.unwrap();
    let members = members_of(&alice, ROOM).await;
    assert!(
        !members.iter().any(|m| m.id == carol.id()),
        "carol is still in"
    );
}

#[tokio::test]
async fn durations_under_a_minute_or_over_a_year_are_refused() {
    let alice_key = Identity::generate();
    let server = server_with_ops(&[&alice_key]).await;
    let alice = joined_in(&server, "alice", ROOM, &alice_key).await;
    let bob = joined_in(&server, "bob", ROOM, &Identity::generate()).await;
    let (a, s, room) = (&alice.client, alice.session(), || Some(ROOM.to_owned()));
    for secs in [30, 400 * 86_400] {
        let answers = [
            a.ban(s.clone(), "bob".into(), room(), Some(secs), None)
                .await
                .map(drop),
            a.mute(s.clone(), "bob".into(), room(), Some(secs))
                .await
                .map(drop),
            a.gban(s.clone(), "bob".into(), Some(secs), None)
                .await
                .map(drop),
        ];
        for answer in answers {
            let err = answer.unwrap_err();
            assert_eq!(code_of(&err), codes::BAD_DURATION, "{secs} s: {err}");
        }
    }
    // Bob is untouched.
    bob.say_in(ROOM, "still speaking").await;
    assert!(
        members_of(&alice, ROOM)
            .await
            .iter()
            .any(|m| m.id == bob.id())
    );
}

#[tokio::test]
async fn a_banned_identity_stays_out_under_any_name() {
    let server = server().await;
    let bob_key = Identity::generate();
    let alice = joined_in(&server, "alice", ROOM, &Identity::generate()).await;
    let mut bob = joined_in(&server, "bob", ROOM, &bob_key).await;
    alice
        .client
        .ban(
            alice.session(),
            "bob".into(),
            Some(ROOM.into()),
            None,
            Some("spam".into()),
        )
        .await
        .unwrap();
    let ban = next_kind(&mut bob, EventKind::Ban).await;
    assert_eq!(ban.target.map(|t| t.id), Some(bob.id()));
    drop(bob);
    // The same key, another name: refused at the join into the room...
    let client = chatroom::rpc::client::connect(&server.ws_url())
        .await
        .unwrap();
    let err = join_keyed(&client, Some("robert"), Some(ROOM), &bob_key)
        .await
        .unwrap_err();
    assert_eq!(code_of(&err), codes::BANNED, "{err}");
    // ...and on entering it.
    let joined = join_keyed(&client, Some("robert"), None, &bob_key)
        .await
        .unwrap();
    let err = client
        .enter(joined.session.clone(), ROOM.into())
        .await
        .unwrap_err();
    assert_eq!(code_of(&err), codes::BANNED, "{err}");
    assert!(
        !members_of(&alice, ROOM)
            .await
            .iter()
            .any(|m| m.id == joined.id)
    );
}

#[tokio::test]
async fn a_banned_guest_stays_out_from_its_address() {
    let server = server().await;
    let alice = joined_in(&server, "alice", ROOM, &Identity::generate()).await;
    let client = chatroom::rpc::client::connect(&server.ws_url())
        .await
        .unwrap();
    client
        .join(Some("gina".into()), None, Some(ROOM.into()), None)
        .await
        .unwrap();
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
    // Banned by its address, which the owner (no server operator) is not told.
    assert_eq!((ban.name.as_str(), ban.address), ("gina", None));
    // Another guest from the same address, under another name, at the join and on entering.
    let client = chatroom::rpc::client::connect(&server.ws_url())
        .await
        .unwrap();
    let err = client
        .join(Some("gina2".into()), None, Some(ROOM.into()), None)
        .await
        .unwrap_err();
    assert_eq!(code_of(&err), codes::BANNED, "{err}");
    let joined = client
        .join(Some("gina3".into()), None, None, None)
        .await
        .unwrap();
    let err = client.enter(joined.session, ROOM.into()).await.unwrap_err();
    assert_eq!(code_of(&err), codes::BANNED, "{err}");
    // An identity from that address is not a guest: it gets in.
    joined_in(&server, "ivy", ROOM, &Identity::generate()).await;
}

#[tokio::test]
async fn a_kicked_member_is_told_then_hears_no_more_of_the_room_and_may_come_back() {
    let server = server().await;
    let alice = joined_in(&server, "alice", ROOM, &Identity::generate()).await;
    let mut bob = joined_in(&server, "bob", ROOM, &Identity::generate()).await;
    alice.enter("#other").await;
    bob.enter("#other").await;
    alice
        .client
        .kick(
            alice.session(),
            "bob".into(),
            Some(ROOM.into()),
            Some("calm down".into()),
        )
        .await
        .unwrap();
    let kick = next_kind(&mut bob, EventKind::Kick).await;
    assert_eq!(kick.room, ROOM);
    assert_eq!(kick.from.id, alice.id());
    assert_eq!(kick.target.map(|t| t.id), Some(bob.id()));
    assert_eq!(kick.text.as_deref(), Some("calm down"));
    // What alice says in the room after never reaches bob; what she says elsewhere does.
    alice.say_in(ROOM, "bob is gone").await;
    alice.say_in("#other", "over here").await;
    let next = bob.next_event().await;
    assert_eq!(
        (next.room.as_str(), next.text.as_deref()),
        ("#other", Some("over here"))
    );
    // A kick is no ban.
    bob.enter(ROOM).await;
    assert!(
        members_of(&alice, ROOM)
            .await
            .iter()
            .any(|m| m.id == bob.id())
    );
    alice
        .client
        .ban(
            alice.session(),
            "bob".into(),
            Some(ROOM.into()),
            Some(3600),
            None,
        )
        .await
        .unwrap();
    let err = bob
        .client
        .enter(bob.session(), ROOM.into())
        .await
        .unwrap_err();
    assert_eq!(code_of(&err), codes::BANNED, "{err}");
}

#[tokio::test]
async fn a_muted_member_cannot_speak_until_unmuted() {
    let server = server().await;
    let alice = joined_in(&server, "alice", ROOM, &Identity::generate()).await;
    let bob = joined_in(&server, "bob", ROOM, &Identity::generate()).await;
    alice
        .client
        .mute(alice.session(), "bob".into(), Some(ROOM.into()), Some(600))
        .await
        .unwrap();
    let err = bob
        .client
        .send(bob.session(), "hello?".into(), None, Some(ROOM.into()))
        .await
        .unwrap_err();
    assert_eq!(code_of(&err), codes::MUTED, "{err}");
    assert!(err.to_string().contains("muted"), "{err}");
    alice
        .client
        .unmute(alice.session(), "bob".into(), Some(ROOM.into()))
        .await
        .unwrap();
    bob.say_in(ROOM, "hello again").await;
}

#[tokio::test]
async fn with_plus_t_only_operators_set_the_topic() {
    let server = server().await;
    let [alice, bob, carol] = room_of_three(&server).await;
    alice
        .client
        .mode(alice.session(), Some(ROOM.into()), Some("+t".into()))
        .await
        .unwrap();
    let err = bob
        .client
        .topic(bob.session(), Some(ROOM.into()), Some("mine now".into()))
        .await
        .unwrap_err();
    assert_eq!(code_of(&err), codes::NOT_PERMITTED, "{err}");
    let topic = carol
        .client
        .topic(carol.session(), Some(ROOM.into()), None)
        .await
        .unwrap();
    assert_eq!(topic.topic, None);
    alice
        .client
        .role(
            alice.session(),
            "carol".into(),
            Some(ROOM.into()),
            Some("op".into()),
        )
        .await
        .unwrap();
    for (member, topic) in [(&alice, "the owner's"), (&carol, "an op's")] {
        let set = member
            .client
            .topic(member.session(), Some(ROOM.into()), Some(topic.into()))
            .await
            .unwrap();
        assert_eq!(set.topic.as_deref(), Some(topic));
    }
}

#[tokio::test]
async fn an_invite_only_room_lets_in_only_those_invited() {
    let server = server().await;
    let alice = joined_in(&server, "alice", ROOM, &Identity::generate()).await;
    alice
        .client
        .mode(alice.session(), Some(ROOM.into()), Some("+i".into()))
        .await
        .unwrap();
    let dave_key = Identity::generate();
    let client = chatroom::rpc::client::connect(&server.ws_url())
        .await
        .unwrap();
    let err = join_keyed(&client, Some("dave"), Some(ROOM), &dave_key)
        .await
        .unwrap_err();
    assert_eq!(code_of(&err), codes::INVITE_ONLY, "{err}");
    drop(client);
    let mut dave = common::Member::join_as(&server, "dave", &dave_key).await;
    let err = dave
        .client
        .enter(dave.session(), ROOM.into())
        .await
        .unwrap_err();
    assert_eq!(code_of(&err), codes::INVITE_ONLY, "{err}");
    alice
        .client
        .invite(alice.session(), "dave".into(), Some(ROOM.into()))
        .await
        .unwrap();
    let invited = next_kind(&mut dave, EventKind::Invited).await;
    assert_eq!(invited.room, ROOM);
    assert_eq!(invited.from.id, alice.id());
    dave.enter(ROOM).await;
    assert!(
        members_of(&alice, ROOM)
            .await
            .iter()
            .any(|m| m.id == dave.id())
    );
}

#[tokio::test]
async fn an_invitation_reaches_a_stream_that_has_a_cursor_for_the_room() {
    let server = server().await;
    let alice = joined_in(&server, "alice", ROOM, &Identity::generate()).await;
    let bob_key = Identity::generate();
    let client = chatroom::rpc::client::connect(&server.ws_url())
        .await
        .unwrap();
    let joined = join_keyed(&client, Some("bob"), Some(ROOM), &bob_key)
        .await
        .unwrap();
    alice.say_in(ROOM, "something to have seen").await;
    // Bob's stream starts from a cursor in the room: every seq up to it is old news.
    let cursors = [(ROOM.to_owned(), joined.last_seq + 1)].into();
    let events = client
        .subscribe_events(joined.session.clone(), None, Some(cursors))
        .await
        .unwrap();
    let mut bob = common::Member {
        client,
        joined,
        events,
    };
    alice
        .client
        .kick(alice.session(), "bob".into(), Some(ROOM.into()), None)
        .await
        .unwrap();
    next_kind(&mut bob, EventKind::Kick).await;
    alice
        .client
        .invite(alice.session(), "bob".into(), Some(ROOM.into()))
        .await
        .unwrap();
    // An invitation's seq (0) is no cursor: it is not taken for one already delivered.
    let invited = next_kind(&mut bob, EventKind::Invited).await;
    assert_eq!((invited.room.as_str(), invited.seq), (ROOM, 0));
}
