//! `chat_search` against the real server: words, phrases, `from:` and all of them at once;
//! only what the searcher may read, ever; deleted messages gone from the answers; the limits.

mod common;

use chatroom::domain::ChatConfig;
use chatroom::identity::Identity;
use chatroom::rpc::ChatApiClient;
use chatroom::rpc::codes;
use chatroom::rpc::server::ServerConfig;
use chatroom::rpc::types::SearchResult;
use common::moderation::{ROOM, joined_in, server};
use common::{Member, TestServer, code_of};

/// Searches `room` (or with `None`, everything) as `member`; the texts found, newest first.
async fn texts(member: &Member, query: &str, room: Option<&str>) -> Vec<String> {
    found(member, query, room)
        .await
        .hits
        .into_iter()
        .map(|hit| hit.text)
        .collect()
}

async fn found(member: &Member, query: &str, room: Option<&str>) -> SearchResult {
    member
        .client
        .search(
            member.session(),
            query.into(),
            room.map(str::to_owned),
            Some(room.is_none()),
            None,
            None,
        )
        .await
        .unwrap_or_else(|err| panic!("searching {query:?}: {err}"))
}

async fn refused(member: &Member, query: &str, room: Option<&str>, all: bool) -> i32 {
    let err = member
        .client
        .search(
            member.session(),
            query.into(),
            room.map(str::to_owned),
            Some(all),
            None,
            None,
        )
        .await
        .expect_err(query);
    code_of(&err)
}

#[tokio::test]
async fn words_phrases_and_senders_are_found_and_all_must_match() {
    let server = TestServer::start().await;
    let alice = Member::join(&server, "alice").await;
    let bob = Member::join(&server, "bob").await;
    alice.say("the deploy is green").await;
    bob.say("deploy failed, the build is red").await;
    alice
        .client
        .send(
            alice.session(),
            "redeploys the green build".into(),
            Some(true),
            None,
        )
        .await
        .unwrap();
    let general = Some("#general");
    assert_eq!(
        texts(&bob, "deploy", general).await,
        ["deploy failed, the build is red", "the deploy is green"],
        "whole words only, newest first"
    );
    assert_eq!(
        texts(&bob, "\"green build\"", general).await,
        ["redeploys the green build"]
    );
    assert_eq!(
        texts(&bob, "green from:alice", general).await,
        ["redeploys the green build", "the deploy is green"]
    );
    assert_eq!(
        texts(&bob, "from:bob", general).await,
        ["deploy failed, the build is red"]
    );
    assert!(texts(&bob, "green red", general).await.is_empty());
    let hit = &found(&bob, "redeploys", general).await.hits[0];
    assert!(hit.action, "{hit:?}");
    assert_eq!(
        (hit.room.as_str(), hit.from.name.as_str()),
        ("#general", "alice")
    );
    assert_eq!(hit.seq, 5, "after two joins and two lines");
    // No room named: the default room.
    let unnamed = bob
        .client
        .search(bob.session(), "green".into(), None, None, None, None)
        .await
        .unwrap();
    assert_eq!(unnamed.hits.len(), 2);
}

#[tokio::test]
async fn a_search_never_reaches_a_secret_room_or_someone_elses_conversation() {
    let server = server().await;
    let (alice_key, bob_key, eve_key) = (
        Identity::generate(),
        Identity::generate(),
        Identity::generate(),
    );
    let alice = joined_in(&server, "alice", ROOM, &alice_key).await;
    alice
        .client
        .mode(alice.session(), Some(ROOM.into()), Some("+s".into()))
        .await
        .unwrap();
    alice.say_in(ROOM, "secret plans").await;
    alice.enter("#general").await;
    let bob = joined_in(&server, "bob", "#general", &bob_key).await;
    alice
        .client
        .msg(alice.session(), "bob".into(), "private plans".into(), None)
        .await
        .unwrap();
    alice.say_in("#general", "public plans").await;
    let eve = joined_in(&server, "eve", "#general", &eve_key).await;
    eve.say_in("#general", "my own plans").await;

    assert_eq!(
        texts(&eve, "plans", None).await,
        ["my own plans", "public plans"],
        "-all: eve's rooms only"
    );
    assert_eq!(texts(&eve, "plans", Some("#general")).await.len(), 2);
    assert_eq!(
        refused(&eve, "plans", Some(ROOM), false).await,
        codes::NO_SUCH_ROOM
    );
    let dm = alice
        .client
        .msg(
            alice.session(),
            "bob".into(),
            "more private plans".into(),
            None,
        )
        .await
        .unwrap()
        .room;
    let code = refused(&eve, "plans", Some(&dm), false).await;
    assert!(
        [
            codes::NO_SUCH_ROOM,
            codes::NOT_IN_ROOM,
            codes::BAD_ROOM_NAME
        ]
        .contains(&code),
        "{code}"
    );
    assert_eq!(
        refused(&eve, "plans", Some(ROOM), true).await,
        jsonrpsee::types::error::INVALID_PARAMS_CODE,
        "a room and -all at once"
    );
    assert_eq!(
        texts(&eve, "from:alice", None).await,
        ["public plans"],
        "by sender too"
    );

    // Bob reads his conversation with alice, and #general, not the secret room. (Lines of
    // two rooms sent in one millisecond have no order between them.)
    let mut bobs = texts(&bob, "plans", None).await;
    bobs.sort();
    assert_eq!(
        bobs,
        [
            "more private plans",
            "my own plans",
            "private plans",
            "public plans"
        ]
    );
    // Alice reads all of hers.
    assert_eq!(texts(&alice, "plans", None).await.len(), 5);
    assert_eq!(texts(&alice, "secret", Some(ROOM)).await, ["secret plans"]);
}

#[tokio::test]
async fn a_room_the_session_is_not_in_is_not_searched() {
    let server = TestServer::start().await;
    let alice = Member::join(&server, "alice").await;
    alice.enter("#other").await;
    alice.say_in("#other", "over here").await;
    let bob = Member::join(&server, "bob").await;
    assert_eq!(
        refused(&bob, "here", Some("#other"), false).await,
        codes::NOT_IN_ROOM
    );
    assert!(texts(&bob, "here", None).await.is_empty());
}

#[tokio::test]
async fn a_deleted_message_is_no_longer_found() {
    let server = TestServer::start().await;
    let alice = Member::join(&server, "alice").await;
    let seq = alice.say("a regrettable remark").await;
    alice.say("a fine remark").await;
    assert_eq!(texts(&alice, "remark", Some("#general")).await.len(), 2);
    alice
        .client
        .delete(alice.session(), seq, None)
        .await
        .unwrap();
    assert_eq!(
        texts(&alice, "remark", Some("#general")).await,
        ["a fine remark"]
    );
    assert!(
        texts(&alice, "regrettable", Some("#general"))
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn a_query_over_the_limits_is_refused_as_a_bad_search() {
    let server = TestServer::start().await;
    let alice = Member::join(&server, "alice").await;
    let general = Some("#general");
    let long = "word ".repeat(60);
    let too_many = ["w"; chatroom::domain::MAX_SEARCH_TERMS + 1].join(" ");
    for query in ["", "  \"\" ", long.as_str(), too_many.as_str(), "\"open"] {
        assert_eq!(
            refused(&alice, query, general, false).await,
            codes::BAD_SEARCH,
            "{query:?}"
        );
    }
    let deep = alice
        .client
        .search(alice.session(), "w".into(), None, None, None, Some(1001))
        .await
        .unwrap_err();
    assert_eq!(code_of(&deep), codes::BAD_SEARCH);
    // FTS5's own syntax is only text: no error, no match.
    for query in ["NEAR(a b)", "a OR b", "x*", "text:y", "^z", "\"a\" - \"b\""] {
        assert!(texts(&alice, query, general).await.is_empty(), "{query:?}");
    }
}

#[tokio::test]
async fn results_come_a_page_at_a_time_newest_first_at_most_a_hundred() {
    let server = TestServer::start_with(ServerConfig {
        chat: ChatConfig {
            rate_limit: None,
            ..ChatConfig::default()
        },
        ..ServerConfig::default()
    })
    .await;
    let alice = Member::join(&server, "alice").await;
    let lines = chatroom::domain::MAX_SEARCH_RESULTS + 5;
    for n in 0..lines {
        alice.say(&format!("line {n}")).await;
    }
    let page = |limit, offset| {
        alice.client.search(
            alice.session(),
            "line".into(),
            None,
            None,
            Some(limit),
            Some(offset),
        )
    };
    let texts = |found: &SearchResult| {
        found
            .hits
            .iter()
            .map(|h| h.text.clone())
            .collect::<Vec<_>>()
    };
    let first = page(2, 0).await.unwrap();
    let newest = |n: usize| format!("line {}", lines - 1 - n);
    assert_eq!(
        (texts(&first), first.more),
        (vec![newest(0), newest(1)], true)
    );
    let last = page(2, lines as u32 - 1).await.unwrap();
    assert_eq!(
        (texts(&last), last.more),
        (vec!["line 0".to_string()], false)
    );
    let most = page(100_000, 0).await.unwrap();
    assert_eq!(
        (most.hits.len(), most.more),
        (chatroom::domain::MAX_SEARCH_RESULTS, true),
        "a limit over the most is brought down, not refused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_mode_prints_a_line_or_an_object_per_hit_and_a_refusal_as_one_line() {
    use common::TempDir;
    use common::plain::{finish, line_containing, plain_client};
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    let server = TestServer::start().await;
    let alice = Member::join(&server, "alice").await;
    alice.say("the deploy is green").await;
    alice.say("deploy failed").await;
    let dir = TempDir::new();
    let mut client = plain_client(&[&server.ws_url(), "--name", "bot"], &dir);
    let mut stdin = client.stdin.take().unwrap();
    let mut out = BufReader::new(client.stdout.take().unwrap()).lines();
    line_containing(&mut out, "-!- you are bot").await;
    stdin.write_all(b"/search deploy\n").await.unwrap();
    let newest = line_containing(&mut out, "<alice>").await;
    assert!(newest.starts_with("#general 20"), "{newest}");
    assert!(newest.ends_with(" <alice> deploy failed"), "{newest}");
    let older = out.next_line().await.unwrap().unwrap();
    assert!(older.ends_with(" <alice> the deploy is green"), "{older}");
    let count = out.next_line().await.unwrap().unwrap();
    assert!(count.ends_with("-!- 2 hits for deploy"), "{count}");
    stdin.write_all(b"/search \"\"\n").await.unwrap();
    drop(stdin);
    let (ok, stderr) = finish(client).await;
    assert!(ok, "{stderr}");
    assert_eq!(
        stderr
            .lines()
            .filter(|l| l.contains("search"))
            .collect::<Vec<_>>(),
        ["cannot search: nothing to search for: give a word, a \"phrase\" or from:NAME"],
        "{stderr}"
    );

    let mut client = plain_client(&[&server.ws_url(), "--name", "bot", "--json"], &dir);
    let mut stdin = client.stdin.take().unwrap();
    let mut out = BufReader::new(client.stdout.take().unwrap()).lines();
    line_containing(&mut out, "joined").await;
    stdin.write_all(b"/search -all green\n").await.unwrap();
    let hit: serde_json::Value =
        serde_json::from_str(&line_containing(&mut out, "\"hit\"").await).unwrap();
    assert_eq!(hit["client"], "hit");
    assert_eq!(hit["hit"]["text"], "the deploy is green");
    assert_eq!(hit["hit"]["room"], "#general");
    assert_eq!(hit["hit"]["from"]["name"], "alice");
    let done: serde_json::Value =
        serde_json::from_str(&line_containing(&mut out, "searched").await).unwrap();
    assert_eq!(
        (done["hits"].as_u64(), done["more"].as_bool()),
        (Some(1), Some(false))
    );
    drop(stdin);
    let (ok, stderr) = finish(client).await;
    assert!(ok, "{stderr}");
    server.stop().await;
}
