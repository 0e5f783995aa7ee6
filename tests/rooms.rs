//! Many rooms over the wire: isolation, per-room order under concurrent senders, resuming
//! several rooms at once, and what rooms refuse, each with its stable error code.

mod common;

use std::collections::{BTreeMap, HashMap};

use chatroom::domain::{ChatConfig, RateLimit};
use chatroom::rpc::client::connect;
use chatroom::rpc::server::ServerConfig;
use chatroom::rpc::types::{Event, EventKind};
use chatroom::rpc::{ChatApiClient, codes};
use common::{Member, TestServer, post, within};
use jsonrpsee::core::ClientError;

fn no_rate_limit() -> ServerConfig {
    ServerConfig {
        chat: ChatConfig {
            rate_limit: None,
            ..ChatConfig::default()
        },
        ..ServerConfig::default()
    }
}

/// One JSON-RPC call over HTTP POST; its `result`.
async fn call(server: &TestServer, body: String) -> serde_json::Value {
    let reply: serde_json::Value =
        serde_json::from_str(&post(server, body.as_bytes()).await).unwrap();
    reply["result"].clone()
}

fn code(err: ClientError) -> i32 {
    match err {
        ClientError::Call(err) => err.code(),
        other => panic!("not a refused call: {other:?}"),
    }
}

/// Events until one whose text is `last`, skipping joins and leaves.
async fn messages_until(member: &mut Member, last: &str) -> Vec<(String, String)> {
    let mut got = Vec::new();
    loop {
        let event = member.next_event().await;
        if event.kind != EventKind::Message {
            continue;
        }
        let text = event.text.clone().unwrap();
        got.push((event.room, text.clone()));
        if text == last {
            return got;
        }
    }
}

#[tokio::test]
async fn a_message_reaches_the_members_of_its_room_only_and_once() {
    let server = TestServer::start_with(no_rate_limit()).await;
    let alice = Member::join(&server, "alice").await;
    for room in ["#a", "#b"] {
        alice.enter(room).await;
    }
    let mut bob = Member::join(&server, "bob").await;
    bob.enter("#a").await;
    let mut dave = Member::join(&server, "dave").await;
    dave.enter("#a").await;
    dave.enter("#b").await;

    alice.say_in("#b", "for b").await;
    alice.say_in("#a", "for a").await;
    alice.say_in("#general", "for everyone").await;
    alice.say_in("#b", "end").await;
    assert_eq!(
        messages_until(&mut dave, "end").await,
        [
            ("#b".into(), "for b".into()),
            ("#a".into(), "for a".into()),
            ("#general".into(), "for everyone".into()),
            ("#b".into(), "end".into()),
        ],
        "a member in three rooms gets each room's events once"
    );
    // bob is not in #b: nothing of it. A last word in #a after everything in #b is the
    // next thing bob gets, so a leak of #b's "end" would show.
    alice.say_in("#a", "marker").await;
    assert_eq!(
        messages_until(&mut bob, "marker").await,
        [
            ("#a".into(), "for a".into()),
            ("#general".into(), "for everyone".into()),
            ("#a".into(), "marker".into()),
        ]
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rooms_seq_rises_by_one_under_concurrent_senders() {
    let server = TestServer::start_with(no_rate_limit()).await;
    let rooms = ["#a", "#b"];
    let mut observer = Member::join(&server, "observer").await;
    for room in rooms {
        observer.enter(room).await;
    }
    let mut senders = Vec::new();
    for n in 0..4 {
        let sender = Member::join(&server, &format!("sender{n}")).await;
        for room in rooms {
            sender.enter(room).await;
        }
        senders.push(sender);
    }
    const EACH: usize = 40;
    let tasks: Vec<_> = senders
        .into_iter()
        .enumerate()
        .map(|(n, sender)| {
            tokio::spawn(async move {
                for i in 0..EACH {
                    let room = rooms[(i + n) % 2];
                    sender.say_in(room, &format!("s{n}-{i}")).await;
                }
                sender
            })
        })
        .collect();
    let mut senders = Vec::new();
    for task in tasks {
        senders.push(within("the senders", task).await.unwrap());
    }
    // Everything sent, then a last word in each room.
    senders[0].say_in("#a", "done").await;
    senders[0].say_in("#b", "done").await;

    let mut seqs: HashMap<String, Vec<u64>> = HashMap::new();
    let mut done = 0;
    let mut messages = 0;
    while done < 2 {
        let event = observer.next_event().await;
        if event.kind == EventKind::Message {
            messages += 1;
            done += usize::from(event.text.as_deref() == Some("done"));
        }
        seqs.entry(event.room).or_default().push(event.seq);
    }
    assert_eq!(messages, 4 * EACH + 2);
    for (room, seqs) in seqs {
        for pair in seqs.windows(2) {
            assert_eq!(
                pair[1],
                pair[0] + 1,
                "{room}: a gap or a repeat in {seqs:?}"
            );
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn resuming_several_rooms_misses_nothing_and_repeats_nothing() {
    let server = TestServer::start_with(no_rate_limit()).await;
    let talker = Member::join(&server, "talker").await;
    talker.enter("#a").await;
    talker.enter("#b").await;

    let mut reader = Member::join(&server, "reader").await;
    reader.enter("#a").await;
    reader.enter("#b").await;
    talker.say_in("#a", "a1").await;
    talker.say_in("#b", "b1").await;
    let mut cursors: BTreeMap<String, u64> = BTreeMap::new();
    for event in [reader.next_event().await, reader.next_event().await] {
        cursors.insert(event.room.clone(), event.seq);
    }
    let seen_general = reader.joined.last_seq;
    cursors.insert("#general".into(), seen_general);
    drop(reader);

    // While the reader is away, both rooms move on.
    for i in 2..=4 {
        talker.say_in("#a", &format!("a{i}")).await;
        talker.say_in("#b", &format!("b{i}")).await;
    }
    talker.say_in("#general", "g").await;

    let client = connect(&server.ws_url()).await.unwrap();
    let joined = client
        .join(Some("reader".into()), None, None, None)
        .await
        .unwrap();
    for room in ["#a", "#b"] {
        client
            .enter(joined.session.clone(), room.into())
            .await
            .unwrap();
    }
    let mut events = client
        .subscribe_events(joined.session.clone(), None, Some(cursors.clone()))
        .await
        .unwrap();
    // After the catch-up the talker's last words arrive live.
    talker.say_in("#a", "live").await;
    let mut got: Vec<Event> = Vec::new();
    while got.last().and_then(|e| e.text.as_deref()) != Some("live") {
        got.push(within("an event", events.next()).await.unwrap().unwrap());
    }
    for room in ["#a", "#b", "#general"] {
        let seqs: Vec<u64> = got
            .iter()
            .filter(|e| e.room == room)
            .map(|e| e.seq)
            .collect();
        let history = talker
            .client
            .history(
                talker.session(),
                None,
                Some(cursors[room]),
                Some(100),
                Some(room.into()),
            )
            .await
            .unwrap();
        // Everything after the cursor but the reader's own new entry, once, in order.
        let expected: Vec<u64> = history
            .iter()
            .filter(|e| e.from.id != joined.id)
            .map(|e| e.seq)
            .collect();
        assert_eq!(seqs, expected, "{room}");
    }
    let texts: Vec<&str> = got.iter().filter_map(|e| e.text.as_deref()).collect();
    for text in ["a2", "a3", "a4", "b2", "b3", "b4", "g", "live"] {
        assert!(texts.contains(&text), "{text} missing from {texts:?}");
    }
    server.stop().await;
}

#[tokio::test]
async fn polling_resumes_each_room_from_its_cursor() {
    let server = TestServer::start().await;
    let joined = call(
        &server,
        r#"{"jsonrpc":"2.0","id":1,"method":"chat_join","params":{"name":"curl"}}"#.into(),
    )
    .await;
    let session = joined["session"].as_str().unwrap().to_owned();
    assert_eq!(joined["protocol"], chatroom::rpc::types::PROTOCOL_VERSION);
    assert_eq!(joined["room"], "#general");
    call(
        &server,
        format!(
            r##"{{"jsonrpc":"2.0","id":2,"method":"chat_enter","params":["{session}","#ops"]}}"##
        ),
    )
    .await;
    let talker = Member::join(&server, "talker").await;
    talker.enter("#ops").await;
    let first = talker.say_in("#ops", "one").await;
    talker.say_in("#ops", "two").await;
    talker.say_in("#general", "three").await;

    // Already has #ops up to "one": gets "two" from there, and #general from 0 live.
    let poll = format!(
        r##"{{"jsonrpc":"2.0","id":3,"method":"chat_poll","params":{{"session":"{session}","timeout_ms":0,"cursors":{{"#ops":{first}}}}}}}"##
    );
    let events = call(&server, poll).await;
    let events = events.as_array().unwrap();
    let ops: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["room"] == "#ops" && e["kind"] == "message")
        .collect();
    assert_eq!(ops[0]["text"], "two", "{events:?}");
    assert!(
        ops.iter().all(|e| e["text"] != "one"),
        "nothing at or before the cursor"
    );
    assert!(
        events
            .iter()
            .any(|e| e["room"] == "#general" && e["text"] == "three"),
        "a room without a cursor goes on live"
    );
    server.stop().await;
}

/// The code `chat_enter` is refused with.
async fn enter_code(member: &Member, room: &str) -> i32 {
    code(
        member
            .client
            .enter(member.session(), room.to_owned())
            .await
            .unwrap_err(),
    )
}

#[tokio::test]
async fn what_rooms_refuse_comes_with_a_stable_code() {
    let server = TestServer::start_with(ServerConfig {
        chat: ChatConfig {
            max_rooms_per_member: 2,
            ..ChatConfig::default()
        },
        ..ServerConfig::default()
    })
    .await;
    let alice = Member::join(&server, "alice").await;
    let bob = Member::join(&server, "bob").await;

    assert_eq!(enter_code(&alice, "#no spaces").await, codes::BAD_ROOM_NAME);
    alice.enter("#ops").await;
    assert_eq!(enter_code(&alice, "#0ps").await, codes::BAD_ROOM_NAME);
    assert_eq!(enter_code(&alice, "#third").await, codes::TOO_MANY_ROOMS);
    let part = bob
        .client
        .part(bob.session(), Some("#ops".into()), None)
        .await;
    assert_eq!(code(part.unwrap_err()), codes::NOT_IN_ROOM);
    let send = bob
        .client
        .send(bob.session(), "hi".into(), None, Some("#ops".into()))
        .await;
    assert_eq!(code(send.unwrap_err()), codes::NOT_IN_ROOM);
    let send = bob
        .client
        .send(bob.session(), "hi".into(), None, Some("#void".into()))
        .await;
    assert_eq!(code(send.unwrap_err()), codes::NO_SUCH_ROOM);
    let history = bob
        .client
        .history(bob.session(), None, None, None, Some("#ops".into()))
        .await;
    assert_eq!(
        code(history.unwrap_err()),
        codes::NOT_IN_ROOM,
        "history is for members"
    );
    let topic = alice
        .client
        .topic(alice.session(), None, Some("x".repeat(513)))
        .await;
    assert_eq!(code(topic.unwrap_err()), codes::TOPIC_TOO_LONG);
    let join = connect(&server.ws_url())
        .await
        .unwrap()
        .join(None, None, Some("nope".into()), None)
        .await;
    assert_eq!(code(join.unwrap_err()), codes::BAD_ROOM_NAME);
    let rooms: Vec<String> = alice
        .client
        .rooms(None)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.room)
        .collect();
    assert_eq!(rooms, ["#general", "#ops"], "nothing refused was made");
    server.stop().await;
}

#[tokio::test]
async fn room_creation_is_limited_per_address() {
    let server = TestServer::start_with(ServerConfig {
        limit_loopback: true,
        room_creations: RateLimit {
            per_sec: 0.001,
            burst: 2,
        },
        ..ServerConfig::default()
    })
    .await;
    let alice = Member::join(&server, "alice").await;
    alice.enter("#one").await;
    alice.enter("#two").await;
    let third = alice.client.enter(alice.session(), "#three".into()).await;
    assert_eq!(code(third.unwrap_err()), codes::RATE_LIMITED);
    // Rooms that exist are not created, so not counted.
    let bob = Member::join(&server, "bob").await;
    bob.enter("#one").await;
    bob.enter("#two").await;
    server.stop().await;
}

#[tokio::test]
async fn a_topic_reaches_the_room_and_the_list_of_rooms() {
    let server = TestServer::start().await;
    let mut alice = Member::join(&server, "alice").await;
    let bob = Member::join(&server, "bob").await;
    let set = bob
        .client
        .topic(bob.session(), None, Some("ship it \u{1b}[2J".into()))
        .await
        .unwrap();
    assert_eq!(
        set.topic.as_deref(),
        Some("ship it [2J"),
        "cleaned like text"
    );
    let event = loop {
        let event = alice.next_event().await;
        if event.kind == EventKind::Topic {
            break event;
        }
    };
    assert_eq!(event.text, set.topic);
    assert_eq!(event.from.name, "bob");
    let rooms = alice.client.rooms(Some(alice.session())).await.unwrap();
    assert_eq!(rooms[0].topic, set.topic);
    assert_eq!(rooms[0].members, 2);
    server.stop().await;
}

#[tokio::test]
async fn a_single_room_client_of_the_old_protocol_still_chats() {
    let server = TestServer::start().await;
    let mut listener = Member::join(&server, "listener").await;
    // Positional params as a single-room client sends them: no room anywhere.
    let joined: serde_json::Value = serde_json::from_str(
        &post(
            &server,
            br#"{"jsonrpc":"2.0","id":1,"method":"chat_join","params":["old"]}"#,
        )
        .await,
    )
    .unwrap();
    let session = joined["result"]["session"].as_str().unwrap();
    let send = format!(
        r#"{{"jsonrpc":"2.0","id":2,"method":"chat_send","params":["{session}","hello"]}}"#
    );
    let sent: serde_json::Value =
        serde_json::from_str(&post(&server, send.as_bytes()).await).unwrap();
    assert!(sent["result"]["seq"].is_u64(), "{sent}");
    let event = loop {
        let event = listener.next_event().await;
        if event.kind == EventKind::Message {
            break event;
        }
    };
    assert_eq!(
        (event.room.as_str(), event.text.as_deref()),
        ("#general", Some("hello"))
    );
    server.stop().await;
}

#[tokio::test]
async fn a_polls_replay_holds_none_of_the_pollers_own_events() {
    let server = TestServer::start().await;
    let joined = call(
        &server,
        r#"{"jsonrpc":"2.0","id":1,"method":"chat_join","params":{"name":"bot"}}"#.into(),
    )
    .await;
    let session = joined["session"].as_str().unwrap().to_owned();
    let friend = Member::join(&server, "friend").await;
    friend.enter("#d").await;
    let entered = call(
        &server,
        format!(
            r##"{{"jsonrpc":"2.0","id":2,"method":"chat_enter","params":["{session}","#d"]}}"##
        ),
    )
    .await;
    let cursor = entered["last_seq"].as_u64().unwrap();
    friend.say_in("#d", "hello bot").await;
    let poll = format!(
        r##"{{"jsonrpc":"2.0","id":3,"method":"chat_poll","params":{{"session":"{session}","timeout_ms":0,"cursors":{{"#d":{cursor}}}}}}}"##
    );
    let first = call(&server, poll.clone()).await;
    // The answer was lost: the same poll again gets the same events back from the log,
    // and still not the bot's own join.
    let again = call(&server, poll).await;
    for answer in [&first, &again] {
        let d: Vec<&serde_json::Value> = answer
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["room"] == "#d")
            .collect();
        assert_eq!(d.len(), 1, "{answer}");
        assert_eq!(d[0]["text"], "hello bot");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_refused_entry_costs_no_room_creation() {
    let server = TestServer::start_with(ServerConfig {
        limit_loopback: true,
        room_creations: RateLimit {
            per_sec: 0.001,
            burst: 2,
        },
        chat: ChatConfig {
            max_rooms_per_member: 2,
            ..ChatConfig::default()
        },
        ..ServerConfig::default()
    })
    .await;
    let kim = Member::join(&server, "kim").await;
    kim.enter("#a").await;
    assert_eq!(enter_code(&kim, "#b").await, codes::TOO_MANY_ROOMS);
    assert_eq!(
        enter_code(&kim, "#а").await,
        codes::BAD_ROOM_NAME,
        "Cyrillic а"
    );
    let lee = Member::join(&server, "lee").await;
    lee.enter("#b").await;
    assert_eq!(enter_code(&lee, "#c").await, codes::TOO_MANY_ROOMS);
    let max = Member::join(&server, "max").await;
    assert_eq!(
        enter_code(&max, "#c").await,
        codes::RATE_LIMITED,
        "two were made"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_poll_with_cursors_while_a_subscription_reads_is_refused_not_replayed() {
    let server = TestServer::start().await;
    let talker = Member::join(&server, "talker").await;
    talker.say("one").await;
    let reader = Member::join(&server, "reader").await;
    assert!(reader.joined.last_seq >= 2, "there is something to replay");
    // The subscription holds the session's events; a poll asking for a replay from 0
    // must not be answered from the log beside it.
    let poll = format!(
        r##"{{"jsonrpc":"2.0","id":1,"method":"chat_poll","params":{{"session":"{}","timeout_ms":0,"cursors":{{"#general":0}}}}}}"##,
        reader.session()
    );
    let reply: serde_json::Value =
        serde_json::from_str(&post(&server, poll.as_bytes()).await).unwrap();
    assert_eq!(reply["error"]["code"], codes::INBOX_BUSY, "{reply}");
    server.stop().await;
}
