//! Several `chatroom serve` nodes sharing every room through a three-server NATS JetStream
//! cluster (`--cluster`): one dense order everywhere, a node killed with -9 and its members
//! resumed on another, the stream's leader killed, quorum lost and regained, moderation
//! from one node applied on another.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::time::Duration;

use chatroom::domain::{Event, EventKind};
use chatroom::identity::Identity;
use chatroom::rpc::ChatApiClient;
use chatroom::rpc::client::connect;
use chatroom::rpc::codes;
use chatroom::store::nats::SERVER_GONE;
use common::nats::NatsCluster;
use common::process::{kill, serve};
use common::{Member, TestServer, code_of, join_keyed};
use tokio::process::Child;

/// Failing over takes NATS an election timeout of a few seconds, and a node gone silent
/// is declared gone after three; every wait for either ends by this.
const FAILOVER: Duration = Duration::from_secs(30);
/// How long a node may be silent before the others record its members' leaves.
const GONE_AFTER: Duration = Duration::from_secs(3);

/// Awaits `future` for at most `limit`.
async fn within_for<T>(what: &str, limit: Duration, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(limit, future)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// A chatroom node on the cluster, with no rate limit.
async fn node(nats: &NatsCluster) -> (Child, TestServer) {
    let urls = nats.urls();
    let (child, addr) = serve(&["--cluster", &urls, "--rate-limit", "0"]).await;
    (child, TestServer::external(addr))
}

/// Everything a member has seen of `#general` (what it was sent, and what it sent
/// itself), by seq.
#[derive(Default)]
struct View(BTreeMap<u64, (EventKind, String, Option<String>)>);

impl View {
    fn note(&mut self, event: &Event) {
        if event.room == "#general" && event.seq > 0 {
            let seen = (event.kind, event.from.name.clone(), event.text.clone());
            if let Some(before) = self.0.insert(event.seq, seen.clone()) {
                assert_eq!(
                    before, seen,
                    "seq {} delivered twice, differently",
                    event.seq
                );
            }
        }
    }

    fn messages(&self) -> Vec<String> {
        self.0
            .values()
            .filter(|(kind, _, _)| *kind == EventKind::Message)
            .filter_map(|(_, _, text)| text.clone())
            .collect()
    }
}

/// Reads a member's events into `view` until `done` says it has all it waits for.
async fn read_until(member: &mut Member, view: &mut View, done: impl Fn(&View) -> bool) {
    within_for("every event", FAILOVER, async {
        while !done(view) {
            let event = member.next_event().await;
            view.note(&event);
        }
    })
    .await;
}

/// The whole stored history of `#general`, oldest first, read through `member`.
async fn history(member: &Member) -> Vec<Event> {
    let mut all = Vec::new();
    let mut since = 0;
    loop {
        let page = member
            .client
            .history(member.session(), None, Some(since), Some(500), None)
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        since = last.seq;
        all.extend(page);
    }
    all
}

fn assert_dense(events: &[Event]) {
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
    assert_eq!(seqs, expected, "the room's seqs rise by exactly one");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_on_three_nodes_see_one_dense_order() {
    let nats = NatsCluster::start(3).await;
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(node(&nats).await);
    }
    let mut members = Vec::new();
    for (i, (_, server)) in nodes.iter().enumerate() {
        members.push(Member::join(server, &format!("m{i}")).await);
    }
    // Everyone is in before anyone speaks: each has seen the others' joins.
    for (i, member) in members.iter_mut().enumerate() {
        let mut view = View::default();
        read_until(member, &mut view, |v| {
            v.0.values()
                .filter(|(k, _, _)| *k == EventKind::Join)
                .count()
                >= 2 - i
        })
        .await;
    }
    const EACH: usize = 20;
    let mut senders = Vec::new();
    for (i, (_, server)) in nodes.iter().enumerate() {
        // A second connection per member sends, so that its reads go on meanwhile.
        let client = connect(&server.ws_url()).await.unwrap();
        let session = members[i].session();
        senders.push(tokio::spawn(async move {
            let mut sent = Vec::new();
            for n in 0..EACH {
                let text = format!("m{i}-{n}");
                let ack = client.send(session.clone(), text.clone(), None, None).await;
                sent.push((ack.unwrap().seq, text));
            }
            sent
        }));
    }
    let mut views = Vec::new();
    for member in members.iter_mut() {
        let mut view = View::default();
        // The others' messages; its own never come back.
        read_until(member, &mut view, |v| v.messages().len() >= 2 * EACH).await;
        views.push(view);
    }
    for (i, sender) in senders.into_iter().enumerate() {
        let sent = within_for("the sends", FAILOVER, sender).await.unwrap();
        for (seq, text) in sent {
            views[i]
                .0
                .insert(seq, (EventKind::Message, format!("m{i}"), Some(text)));
        }
    }
    let stored = history(&members[0]).await;
    assert_dense(&stored);
    let messages: Vec<&Event> = stored
        .iter()
        .filter(|e| e.kind == EventKind::Message)
        .collect();
    assert_eq!(messages.len(), 3 * EACH);
    // Every member saw every message at the seq history has it at.
    for view in &views {
        for message in &messages {
            let seen = view.0.get(&message.seq).expect("a message missed");
            assert_eq!(seen.2, message.text, "seq {} differs", message.seq);
        }
    }
    // Each sender's messages are in the order it sent them.
    for i in 0..3 {
        let own: Vec<String> = messages
            .iter()
            .filter(|e| e.from.name == format!("m{i}"))
            .filter_map(|e| e.text.clone())
            .collect();
        let expected: Vec<String> = (0..EACH).map(|n| format!("m{i}-{n}")).collect();
        assert_eq!(own, expected);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_mid_traffic_loses_nothing_and_its_members_leave_once() {
    let nats = NatsCluster::start(3).await;
    let (doomed, a) = node(&nats).await;
    let (_b_child, b) = node(&nats).await;
    let (_c_child, c) = node(&nats).await;
    let alice_key = Identity::generate();
    let mut alice = Member::join_as(&a, "alice", &alice_key).await;
    let mut bob = Member::join(&b, "bob").await;
    let alice_id = alice.id();
    let mut alice_view = View::default();
    // Bob talks throughout; alice's node dies in the middle of it.
    let talker = connect(&b.ws_url()).await.unwrap();
    let session = bob.session();
    let talking = tokio::spawn(async move {
        for n in 0..40 {
            talker
                .send(session.clone(), format!("b{n}"), None, None)
                .await
                .unwrap();
        }
    });
    read_until(&mut alice, &mut alice_view, |v| v.messages().len() >= 10).await;
    kill(doomed).await;
    within_for("bob's sends", FAILOVER, talking).await.unwrap();

    // Alice comes back through node c, from the last seq she saw.
    let last_seen = *alice_view.0.keys().last().unwrap();
    let client = connect(&c.ws_url()).await.unwrap();
    let joined = join_keyed(&client, Some("alice"), None, &alice_key)
        .await
        .unwrap();
    assert_eq!(joined.name, "alice");
    let cursors = BTreeMap::from([("#general".to_owned(), last_seen)]);
    let events = client
        .subscribe_events(joined.session.clone(), None, Some(cursors))
        .await
        .unwrap();
    let mut alice = Member {
        client,
        joined,
        events,
    };
    read_until(&mut alice, &mut alice_view, |v| v.messages().len() >= 40).await;
    let expected: Vec<String> = (0..40).map(|n| format!("b{n}")).collect();
    assert_eq!(alice_view.messages(), expected, "no gap, no duplicate");

    // Bob sees alice's old session leave, once, within a few seconds.
    let mut bob_view = View::default();
    read_until(&mut bob, &mut bob_view, |v| {
        v.0.values().any(|(k, name, text)| {
            *k == EventKind::Leave && name == "alice" && text.as_deref() == Some(SERVER_GONE)
        })
    })
    .await;
    let stored = history(&bob).await;
    assert_dense(&stored);
    let leaves = stored
        .iter()
        .filter(|e| e.kind == EventKind::Leave && e.from.id == alice_id)
        .count();
    assert_eq!(leaves, 1, "the dead node's member leaves once");
    // And she is in the room again, through node c.
    let members = bob.client.members(Some(bob.session()), None).await.unwrap();
    assert!(members.iter().any(|m| m.id == alice_id), "{members:?}");
}

/// The NATS server leading `#general`'s stream.
async fn general_leader(nats: &NatsCluster) -> usize {
    let stream = format!(
        "CHATROOM_R_{}",
        "#general"
            .bytes()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    within_for("the stream's leader", FAILOVER, async {
        loop {
            if let Some(leader) = nats.stream_leader(&stream).await {
                return leader;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
}

/// Sends `count` messages one after another, each to be acknowledged or refused; returns
/// the acknowledged ones (seq and text) and how many were refused with 1016.
async fn send_through(member: &Member, prefix: &str, count: usize) -> (Vec<(u64, String)>, usize) {
    let mut acked = Vec::new();
    let mut refused = 0;
    for n in 0..count {
        let text = format!("{prefix}{n}");
        let sent = member
            .client
            .send(member.session(), text.clone(), None, None)
            .await;
        match sent {
            Ok(ack) => acked.push((ack.seq, text)),
            Err(jsonrpsee::core::client::Error::Call(err)) => {
                assert_eq!(err.code(), codes::STORAGE_UNAVAILABLE, "{err}");
                refused += 1;
            }
            Err(other) => panic!("{text}: not refused but {other}"),
        }
    }
    (acked, refused)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_leader_killed_mid_traffic_keeps_every_acknowledged_message_once() {
    let mut nats = NatsCluster::start(3).await;
    let (_a_child, a) = node(&nats).await;
    let (_b_child, b) = node(&nats).await;
    let sender = Member::join(&a, "sender").await;
    let reader = Member::join(&b, "reader").await;
    let leader = general_leader(&nats).await;
    let first = send_through(&sender, "before-", 10).await;
    assert_eq!(first.1, 0, "nothing refused while the cluster is whole");
    nats.kill(leader).await;
    let during = within_for(
        "the sends through the election",
        Duration::from_secs(90),
        send_through(&sender, "during-", 30),
    )
    .await;
    nats.restart(leader).await;
    let after = send_through(&sender, "after-", 10).await;
    assert_eq!(after.1, 0, "the cluster takes writes again");

    let stored = history(&reader).await;
    assert_dense(&stored);
    let texts: Vec<&str> = stored
        .iter()
        .filter(|e| e.kind == EventKind::Message)
        .filter_map(|e| e.text.as_deref())
        .collect();
    for (seq, text) in first.0.iter().chain(&during.0).chain(&after.0) {
        assert_eq!(
            texts.iter().filter(|t| **t == text).count(),
            1,
            "acknowledged {text} is stored exactly once"
        );
        let at = stored.iter().find(|e| e.seq == *seq).unwrap();
        assert_eq!(
            at.text.as_deref(),
            Some(text.as_str()),
            "at the seq it was acknowledged with"
        );
    }
}

/// `GET /healthz` on a node: the status code.
async fn health(addr: SocketAddr) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let response = common::within("the health check", async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        response
    })
    .await;
    response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_two_of_three_nats_servers_down_sends_are_refused_and_everything_comes_back() {
    let mut nats = NatsCluster::start(3).await;
    let (_a_child, a) = node(&nats).await;
    let (_b_child, b) = node(&nats).await;
    let writer = Member::join(&a, "writer").await;
    let mut reader = Member::join(&b, "reader").await;
    let mut view = View::default();
    assert_eq!(send_through(&writer, "whole-", 3).await.1, 0);
    read_until(&mut reader, &mut view, |v| v.messages().len() >= 3).await;
    assert_eq!(health(a.addr).await, 200);

    nats.kill(1).await;
    nats.kill(2).await;
    // Refused with the documented code, within the storage timeout.
    let refused = within_for("a refusal", FAILOVER, async {
        loop {
            let sent = writer
                .client
                .send(writer.session(), "while down".into(), None, None)
                .await;
            match sent {
                Err(err) => return code_of(&err),
                // One may get in before the loss is noticed.
                Ok(_) => continue,
            }
        }
    })
    .await;
    assert_eq!(refused, codes::STORAGE_UNAVAILABLE);
    assert_eq!(health(a.addr).await, 503, "a load balancer is told");
    // The connections stay: reads still answer.
    writer
        .client
        .members(Some(writer.session()), None)
        .await
        .expect("the connection is kept");

    nats.restart(1).await;
    nats.restart(2).await;
    // Ready again before anyone sends: its own heartbeat tells it the cluster writes.
    within_for(
        "the node to say it is ready, with nobody sending",
        FAILOVER,
        async {
            while health(a.addr).await != 200 {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        },
    )
    .await;
    let back = within_for("writes again", FAILOVER, async {
        loop {
            let sent = writer
                .client
                .send(writer.session(), "back".into(), None, None)
                .await;
            if let Ok(ack) = sent {
                return ack.seq;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    // Delivery resumed by itself: the reader gets it without doing anything.
    read_until(&mut reader, &mut view, |v| v.0.contains_key(&back)).await;
    assert_eq!(view.0[&back].2.as_deref(), Some("back"));
    // Every node was silent while the cluster could not write, and none of them is gone:
    // nobody's leave is recorded for a server that went away, in twice the time it takes.
    let ghost = tokio::time::timeout(
        2 * GONE_AFTER,
        read_until(&mut reader, &mut view, |v| {
            v.0.values()
                .any(|(k, _, text)| *k == EventKind::Leave && text.as_deref() == Some(SERVER_GONE))
        }),
    )
    .await;
    assert!(ghost.is_err(), "a live member was recorded as gone");
    let stored = history(&reader).await;
    assert_dense(&stored);
    let texts: HashSet<&str> = stored.iter().filter_map(|e| e.text.as_deref()).collect();
    assert!(texts.contains("back"));
    assert!(!texts.contains(SERVER_GONE));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ban_on_one_node_keeps_the_member_out_through_another() {
    let nats = NatsCluster::start(3).await;
    let (_a_child, a) = node(&nats).await;
    let (_b_child, b) = node(&nats).await;
    let (owner_key, bob_key) = (Identity::generate(), Identity::generate());
    let owner = Member::join_as(&a, "owner", &owner_key).await;
    owner.enter("#mod").await;
    let mut bob = Member::join_as(&b, "bob", &bob_key).await;
    bob.enter("#mod").await;
    // The owner, on node a, sees bob come in through node b, and bans him.
    within_for("bob in #mod on node a", FAILOVER, async {
        loop {
            let members = owner
                .client
                .members(Some(owner.session()), Some("#mod".into()))
                .await
                .unwrap();
            if members.iter().any(|m| m.name == "bob") {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    // A message the owner deletes on node a is gone from the history read through node b:
    // its place is kept, its text is not.
    let oops = owner.say_in("#mod", "oops, a secret").await;
    owner
        .client
        .delete(owner.session(), oops, Some("#mod".into()))
        .await
        .unwrap();
    within_for("the delete to reach node b", FAILOVER, async {
        loop {
            let page = bob
                .client
                .history(
                    bob.session(),
                    None,
                    Some(oops - 1),
                    Some(10),
                    Some("#mod".into()),
                )
                .await
                .unwrap();
            let at = page
                .iter()
                .find(|e| e.seq == oops)
                .expect("its place is kept");
            if at.kind == EventKind::Deleted {
                assert_eq!(at.text, None);
                assert_eq!(at.from.name, "owner");
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    owner
        .client
        .ban(
            owner.session(),
            "bob".into(),
            Some("#mod".into()),
            None,
            None,
        )
        .await
        .unwrap();
    // Bob, on node b, is told and put out.
    within_for("bob to hear of his ban", FAILOVER, async {
        loop {
            let event = bob.next_event().await;
            if event.kind == EventKind::Ban && event.room == "#mod" {
                return;
            }
        }
    })
    .await;
    // He cannot come back, through node b or a third node.
    let (_c_child, c) = node(&nats).await;
    for server in [&b, &c] {
        let client = connect(&server.ws_url()).await.unwrap();
        let joined = join_keyed(&client, Some("bob"), None, &bob_key)
            .await
            .unwrap();
        let refused = within_for("the ban to reach the node", FAILOVER, async {
            loop {
                match client.enter(joined.session.clone(), "#mod".into()).await {
                    Err(err) => return code_of(&err),
                    Ok(_) => {
                        client
                            .part(joined.session.clone(), Some("#mod".into()), None)
                            .await
                            .unwrap();
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        })
        .await;
        assert_eq!(refused, codes::BANNED);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_raced_from_two_nodes_goes_to_one_key() {
    let nats = NatsCluster::start(3).await;
    let (_a_child, a) = node(&nats).await;
    let (_b_child, b) = node(&nats).await;
    // The room's stream is made, and both nodes are in it, before the race: a fresh
    // cluster placing its first stream is not what this is about.
    let _warm = (
        Member::join(&a, "warm-a").await,
        Member::join(&b, "warm-b").await,
    );
    for round in 0..5 {
        let name = format!("racer{round}");
        let (one, two) = (Identity::generate(), Identity::generate());
        let (left, right) = (
            connect(&a.ws_url()).await.unwrap(),
            connect(&b.ws_url()).await.unwrap(),
        );
        // Both sign in for the same name at once, through different nodes.
        let (first, second) = tokio::join!(
            join_keyed(&left, Some(&name), None, &one),
            join_keyed(&right, Some(&name), None, &two)
        );
        let outcomes = [first, second];
        let winners: Vec<_> = outcomes
            .iter()
            .filter_map(|o| o.as_ref().ok())
            .filter(|joined| joined.name == name)
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: one key gets {name}");
        for outcome in &outcomes {
            if let Err(err) = outcome {
                assert_eq!(code_of(err), codes::NAME_OWNED, "{err}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_member_on_one_node_slows_nobody_on_the_others() {
    use common::raw_ws::RawWs;
    let nats = NatsCluster::start(3).await;
    let urls = nats.urls();
    let small_queues = [
        "--cluster",
        urls.as_str(),
        "--rate-limit",
        "0",
        "--queue-capacity",
        "16",
    ];
    let (_a_child, a_addr) = serve(&small_queues).await;
    let (_b_child, b_addr) = serve(&small_queues).await;
    let (a, b) = (TestServer::external(a_addr), TestServer::external(b_addr));
    let mut alice = Member::join(&b, "alice").await;
    let bob = Member::join(&a, "bob").await;
    let mut slow = RawWs::connect(b.addr).await;
    let session = slow.join("slow").await;
    let reply = slow.subscribe(&session).await;
    assert!(reply["result"].is_u64(), "{reply}");
    let mut view = View::default();
    read_until(&mut alice, &mut view, |v| {
        v.0.values()
            .any(|(k, name, _)| *k == EventKind::Join && name == "slow")
    })
    .await;
    // From here on `slow`, beside alice on node b, reads nothing; bob on node a talks.
    let text = "y".repeat(4000);
    for _ in 0..20_000 {
        let seq = bob.say(&text).await;
        let event = alice.next_event().await;
        if event.kind == EventKind::Leave {
            assert_eq!(event.from.name, "slow");
            assert_eq!(event.text.as_deref(), Some("too slow"));
            assert_eq!(alice.next_event().await.seq, seq, "alice is not held up");
            return;
        }
        assert_eq!(event.seq, seq, "alice is not held up");
    }
    panic!("the slow member was never disconnected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notify_level_set_on_one_node_reaches_the_identitys_sessions_on_another() {
    let nats = NatsCluster::start(3).await;
    let (_a_child, a) = node(&nats).await;
    let (_b_child, b) = node(&nats).await;
    let key = Identity::generate();
    let laptop = Member::join_as(&a, "alice", &key).await;
    let mut desktop = Member::join_as(&b, "alice", &key).await;
    laptop
        .client
        .notify(laptop.session(), "#general".into(), Some("off".into()))
        .await
        .unwrap();
    let told = within_for("the notify event on node b", FAILOVER, async {
        loop {
            let event = desktop.next_event().await;
            if event.kind == EventKind::Notify {
                return event;
            }
        }
    })
    .await;
    assert_eq!(
        (told.room.as_str(), told.text.as_deref()),
        ("#general", Some("off"))
    );
    // A node started afterwards reads it from the records.
    let (_c_child, c) = node(&nats).await;
    let client = connect(&c.ws_url()).await.unwrap();
    let joined = join_keyed(&client, None, None, &key).await.unwrap();
    assert_eq!(joined.notify, Some(chatroom::rpc::types::NotifyLevel::Off));
    // A cluster node keeps no full-text index: a search says so, in so many words.
    let refused = laptop
        .client
        .search(
            laptop.session(),
            "hello".into(),
            None,
            Some(true),
            None,
            None,
        )
        .await
        .expect_err("a cluster node cannot search");
    let refused = match refused {
        jsonrpsee::core::client::Error::Call(err) => err,
        other => panic!("not a refusal: {other}"),
    };
    assert_eq!(refused.code(), codes::SEARCH_UNAVAILABLE, "{refused:?}");
    assert!(refused.message().contains("unavailable"), "{refused:?}");
}
