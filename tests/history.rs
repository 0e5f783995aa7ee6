//! History that is never lost: recent history on join, paging, catching up with `since`
//! across the replay/live seam, reconnects in the middle of traffic, and restarts.

mod common;

use std::collections::HashMap;

use chatroom::domain::ChatConfig;
use chatroom::rpc::server::ServerConfig;
use chatroom::rpc::types::{Event, EventKind};
use chatroom::rpc::{ChatApiClient, codes};
use common::{Member, TestServer, WAIT, within};
use jsonrpsee::core::ClientError;
use jsonrpsee::http_client::HttpClientBuilder;
use jsonrpsee::ws_client::WsClient;

fn unlimited() -> ServerConfig {
    ServerConfig {
        chat: ChatConfig {
            rate_limit: None,
            ..ChatConfig::default()
        },
        ..ServerConfig::default()
    }
}

fn texts(events: &[Event]) -> Vec<&str> {
    events
        .iter()
        .filter(|e| e.kind == EventKind::Message)
        .filter_map(|e| e.text.as_deref())
        .collect()
}

fn error_code(err: ClientError) -> i32 {
    match err {
        ClientError::Call(obj) => obj.code(),
        other => panic!("expected a JSON-RPC error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_new_member_gets_recent_history_and_where_it_ends() {
    let server = TestServer::start_with(ServerConfig {
        chat: ChatConfig {
            history_len: 3,
            ..ChatConfig::default()
        },
        ..ServerConfig::default()
    })
    .await;
    let alice = Member::join(&server, "alice").await;
    let mut last = 0;
    for text in ["one", "two", "three", "four"] {
        last = alice.say(text).await;
    }
    let bob = Member::join(&server, "bob").await;
    assert_eq!(texts(&bob.joined.history), ["two", "three", "four"]);
    assert_eq!(bob.joined.last_seq, last);
    server.stop().await;
}

#[tokio::test]
async fn history_pages_back_and_forth() {
    let server = TestServer::start_with(unlimited()).await;
    let alice = Member::join(&server, "alice").await;
    let mut seqs = Vec::new();
    for i in 0..20 {
        seqs.push(alice.say(&format!("m{i}")).await);
    }
    let page = |before, since, limit| {
        alice
            .client
            .history(alice.session(), before, since, limit, None)
    };
    let older = page(Some(seqs[10]), None, Some(3)).await.unwrap();
    assert_eq!(texts(&older), ["m7", "m8", "m9"]);
    let newer = page(None, Some(seqs[16]), Some(10)).await.unwrap();
    assert_eq!(texts(&newer), ["m17", "m18", "m19"]);
    let latest = page(None, None, Some(2)).await.unwrap();
    assert_eq!(texts(&latest), ["m18", "m19"]);
    // Everything from the start, oldest first, the limit capped at 500.
    let all = page(None, Some(0), Some(10_000)).await.unwrap();
    assert_eq!(all.len(), 21, "alice's join and 20 messages");
    assert!(all.windows(2).all(|w| w[1].seq == w[0].seq + 1));

    let err = page(Some(5), Some(1), None).await.unwrap_err();
    assert_eq!(error_code(err), -32602);
    let err = alice
        .client
        .history("nope".into(), None, None, None, None)
        .await
        .unwrap_err();
    assert_eq!(error_code(err), codes::UNKNOWN_SESSION);
    server.stop().await;
}

#[tokio::test]
async fn history_limit_is_capped_at_500() {
    let server = TestServer::start_with(unlimited()).await;
    let alice = Member::join(&server, "alice").await;
    for i in 0..510 {
        alice.say(&format!("m{i}")).await;
    }
    let page = alice
        .client
        .history(alice.session(), None, Some(0), Some(100_000), None)
        .await
        .unwrap();
    assert_eq!(page.len(), 500);
    server.stop().await;
}

#[tokio::test]
async fn subscribe_since_replays_what_was_missed_then_goes_live() {
    let server = TestServer::start_with(unlimited()).await;
    let alice = Member::join(&server, "alice").await;
    let before = alice.say("before").await;
    for i in 0..5 {
        alice.say(&format!("missed {i}")).await;
    }
    // A client that saw up to `before` comes back.
    let client = chatroom::rpc::client::connect(&server.ws_url())
        .await
        .unwrap();
    let joined = client
        .join(Some("returning".into()), None, None, None)
        .await
        .unwrap();
    let mut events = client
        .subscribe_events(joined.session.clone(), Some(before), None)
        .await
        .unwrap();
    let live = alice.say("live").await;
    let mut got = Vec::new();
    while got.last().map(|e: &Event| e.seq) != Some(live) {
        got.push(within("an event", events.next()).await.unwrap().unwrap());
    }
    assert_eq!(
        texts(&got),
        [
            "missed 0", "missed 1", "missed 2", "missed 3", "missed 4", "live"
        ]
    );
    // Every seq after `before`, once, in order, but for the member's own join (no
    // self-echo).
    let stored = client
        .history(joined.session, None, Some(before), None, None)
        .await
        .unwrap();
    let own_join = stored
        .iter()
        .find(|e| e.kind == EventKind::Join && e.from.id == joined.id)
        .unwrap()
        .seq;
    let seqs: Vec<u64> = got.iter().map(|e| e.seq).collect();
    let expected: Vec<u64> = ((before + 1)..=live).filter(|&s| s != own_join).collect();
    assert_eq!(seqs, expected);
    server.stop().await;
}

#[tokio::test]
async fn poll_since_catches_up_a_page_at_a_time() {
    let server = TestServer::start_with(unlimited()).await;
    let alice = Member::join(&server, "alice").await;
    for i in 0..300 {
        alice.say(&format!("m{i}")).await;
    }
    let http = HttpClientBuilder::new()
        .request_timeout(WAIT)
        .build(server.http_url())
        .unwrap();
    let me = http
        .join(Some("curl".into()), None, None, None)
        .await
        .unwrap();
    let mut seen = 0;
    let mut got = Vec::new();
    while texts(&got).len() < 300 {
        let page = http
            .poll(me.session.clone(), Some(5_000), Some(seen), None)
            .await
            .unwrap();
        assert!(!page.is_empty() && page.len() <= 256);
        seen = page.last().unwrap().seq;
        got.extend(page);
    }
    let expected: Vec<String> = (0..300).map(|i| format!("m{i}")).collect();
    assert_eq!(texts(&got), expected);
    // Caught up, the next poll waits for live events.
    let next = tokio::spawn({
        let http = http.clone();
        let session = me.session.clone();
        async move {
            http.poll(session, Some(WAIT.as_millis() as u64), Some(seen), None)
                .await
        }
    });
    alice.say("live").await;
    let page = within("the live poll", next).await.unwrap().unwrap();
    assert_eq!(texts(&page), ["live"]);
    server.stop().await;
}

/// A receiver that keeps dropping its connection and coming back with `since`.
struct Receiver {
    name: String,
    client: WsClient,
    events: jsonrpsee::core::client::Subscription<Event>,
    last_seq: u64,
    /// Sender → the numbers received from it, in arrival order.
    received: HashMap<String, Vec<u64>>,
    reconnects: usize,
}

impl Receiver {
    async fn connect(
        server: &TestServer,
        name: &str,
        since: Option<u64>,
    ) -> (WsClient, jsonrpsee::core::client::Subscription<Event>) {
        let client = chatroom::rpc::client::connect(&server.ws_url())
            .await
            .unwrap();
        let joined = client
            .join(Some(name.to_owned()), None, None, None)
            .await
            .unwrap();
        let events = client
            .subscribe_events(joined.session, since.or(Some(joined.last_seq)), None)
            .await
            .unwrap();
        (client, events)
    }

    async fn reconnect(&mut self, server: &TestServer) {
        let (client, events) = Self::connect(server, &self.name, Some(self.last_seq)).await;
        self.client = client;
        self.events = events;
        self.reconnects += 1;
    }

    fn record(&mut self, event: Event) {
        assert!(
            event.seq > self.last_seq,
            "{}: seq {} after {} (duplicate or out of order)",
            self.name,
            event.seq,
            self.last_seq
        );
        self.last_seq = event.seq;
        if event.kind == EventKind::Message {
            let text = event.text.unwrap();
            let (sender, n) = text.split_once(':').unwrap();
            self.received
                .entry(sender.to_owned())
                .or_default()
                .push(n.parse().unwrap());
        }
    }

    fn count(&self) -> usize {
        self.received.values().map(Vec::len).sum()
    }
}

/// Jepsen-style: numbered messages from concurrent senders, receivers that reconnect in the
/// middle; every acknowledged message must reach every receiver exactly once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_acknowledged_message_is_lost_duplicated_or_reordered_across_reconnects() {
    const SENDERS: usize = 3;
    const MESSAGES: u64 = 150;
    const RECONNECT_EVERY: usize = 40;
    let server = TestServer::start_with(unlimited()).await;

    let mut receivers = Vec::new();
    for r in 0..2 {
        let name = format!("receiver{r}");
        let (client, events) = Receiver::connect(&server, &name, None).await;
        receivers.push(Receiver {
            name,
            client,
            events,
            last_seq: 0,
            received: HashMap::new(),
            reconnects: 0,
        });
    }

    let mut senders = Vec::new();
    for s in 0..SENDERS {
        let sender = Member::join(&server, &format!("sender{s}")).await;
        senders.push(tokio::spawn(async move {
            for n in 0..MESSAGES {
                // Only acknowledged messages count; every send here must be acknowledged.
                sender.say(&format!("sender{s}:{n}")).await;
            }
            sender
        }));
    }

    let total = SENDERS * MESSAGES as usize;
    let receiving = receivers.into_iter().map(|mut receiver| {
        let addr = server.addr;
        async move {
            let server = TestServer::external(addr);
            let mut since_reconnect = 0;
            while receiver.count() < total {
                match within("an event", receiver.events.next()).await {
                    Some(Ok(event)) => {
                        receiver.record(event);
                        since_reconnect += 1;
                    }
                    other => panic!(
                        "{}: stream ended: {other:?} {:?} after {} events, {} reconnects, last {}",
                        receiver.name,
                        receiver.events.close_reason(),
                        receiver.count(),
                        receiver.reconnects,
                        receiver.last_seq
                    ),
                }
                if since_reconnect == RECONNECT_EVERY {
                    since_reconnect = 0;
                    receiver.reconnect(&server).await;
                }
            }
            receiver
        }
    });
    let receivers = within(
        "all messages to arrive",
        futures::future::join_all(receiving),
    )
    .await;
    for sender in senders {
        sender.await.unwrap();
    }

    for receiver in &receivers {
        assert!(
            receiver.reconnects >= 5,
            "{} reconnected only {} times",
            receiver.name,
            receiver.reconnects
        );
        for s in 0..SENDERS {
            let got = &receiver.received[&format!("sender{s}")];
            assert_eq!(
                got,
                &(0..MESSAGES).collect::<Vec<_>>(),
                "{} from sender{s}",
                receiver.name
            );
        }
    }
    drop(receivers);
    server.stop().await;
}

/// Members that join while messages are still being stored get every one of them, in their
/// history or their stream, without asking with `since`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joining_mid_traffic_leaves_no_gap_between_history_and_stream() {
    let server = TestServer::start_with(unlimited()).await;
    let sender = Member::join(&server, "sender").await;
    let sending = tokio::spawn(async move {
        for n in 0..400u32 {
            sender.say(&format!("n{n}")).await;
        }
        sender
    });
    for round in 0..20 {
        let mut member = Member::join(&server, &format!("late{round}")).await;
        let mut numbers: Vec<u32> = member
            .joined
            .history
            .iter()
            .filter(|e| e.kind == EventKind::Message)
            .filter_map(|e| e.text.as_deref()?.strip_prefix('n')?.parse().ok())
            .collect();
        // Read a few live messages after the history.
        let mut live = 0;
        while live < 5 {
            let event = member.next_event().await;
            if event.kind != EventKind::Message {
                continue;
            }
            let n: u32 = event.text.as_deref().unwrap()[1..].parse().unwrap();
            if n == 399 {
                break;
            }
            numbers.push(n);
            live += 1;
        }
        for pair in numbers.windows(2) {
            assert_eq!(
                pair[1],
                pair[0] + 1,
                "round {round}: a gap or repeat in {numbers:?}"
            );
        }
    }
    within("the sender", sending).await.unwrap();
    server.stop().await;
}

#[tokio::test]
async fn a_poll_answer_lost_on_the_way_is_answered_again_from_the_store() {
    let server = TestServer::start_with(unlimited()).await;
    let http = HttpClientBuilder::new()
        .request_timeout(WAIT)
        .build(server.http_url())
        .unwrap();
    let me = http
        .join(Some("curl".into()), None, None, None)
        .await
        .unwrap();
    let alice = Member::join(&server, "alice").await;
    let first = alice.say("one").await;
    alice.say("two").await;
    let seen = me.last_seq;
    let answer = http
        .poll(me.session.clone(), Some(5_000), Some(seen), None)
        .await
        .unwrap();
    assert_eq!(texts(&answer), ["one", "two"]);
    // Suppose that answer never arrived: the client polls again with what it had.
    let again = http
        .poll(me.session.clone(), Some(5_000), Some(seen), None)
        .await
        .unwrap();
    assert_eq!(texts(&again), ["one", "two"]);
    assert!(again.iter().any(|e| e.seq == first));
    server.stop().await;
}

#[tokio::test]
async fn since_ahead_of_the_room_is_refused() {
    let server = TestServer::start().await;
    let alice = Member::join(&server, "alice").await;
    let err = alice
        .client
        .subscribe_events(alice.session(), Some(1_000_000), None)
        .await
        .unwrap_err();
    assert_eq!(error_code(err), codes::SINCE_AHEAD);
    server.stop().await;
}
