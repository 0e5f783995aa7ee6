//! The NATS test cluster the cluster tests run on: three nodes carry a replicated stream
//! through the loss of one and take it back.

mod common;

use std::time::Duration;

use async_nats::jetstream::{self, stream};
use common::nats::NatsCluster;
use common::within;

/// How long a stream may take to elect a new leader after its leader was killed: NATS
/// waits out an election timeout of a few seconds first.
const FAILOVER: Duration = Duration::from_secs(20);

/// Polls `attempt` until it gives a value, for at most `limit`.
async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut attempt: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    tokio::time::timeout(limit, async {
        loop {
            if let Some(value) = attempt().await {
                return value;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

#[tokio::test]
async fn a_replicated_stream_survives_a_node_killed_and_restarted() {
    let mut cluster = NatsCluster::start(3).await;
    let urls: Vec<String> = cluster.urls().split(',').map(str::to_owned).collect();
    assert_eq!(urls.len(), 3);
    let client = within("a NATS connection", async_nats::connect(urls))
        .await
        .unwrap();
    let js = jetstream::new(client);
    let harness = within(
        "an R3 stream",
        js.create_stream(stream::Config {
            name: "harness".to_owned(),
            subjects: vec!["harness.>".to_owned()],
            num_replicas: 3,
            ..Default::default()
        }),
    )
    .await
    .unwrap();
    let ack = within("the publish ack", async {
        js.publish("harness.one", "hello".into()).await?.await
    })
    .await
    .unwrap();
    assert_eq!(ack.sequence, 1);
    let read = within("reading it", harness.get_raw_message(1))
        .await
        .unwrap();
    assert_eq!(read.payload, "hello");
    assert!(cluster.stream_leader("harness").await.is_some());

    cluster.kill(0).await;
    let leader = eventually("a leader among the living", FAILOVER, || async {
        cluster.stream_leader("harness").await.filter(|&i| i != 0)
    })
    .await;
    assert_ne!(leader, 0);
    // The client was perhaps on node 0: it finds another node, and the stream answers.
    let read = eventually("reading after the kill", FAILOVER, || async {
        harness.get_raw_message(1).await.ok()
    })
    .await;
    assert_eq!(read.payload, "hello");
    let ack = within("a publish with a node down", async {
        js.publish("harness.two", "again".into()).await?.await
    })
    .await
    .unwrap();
    assert_eq!(ack.sequence, 2);

    cluster.restart(0).await;
    // Node 0 caught up on what it missed while it was down.
    let held = eventually("node 0 to hold both messages", FAILOVER, || async {
        cluster
            .stream_messages(0, "harness")
            .await
            .filter(|&n| n == 2)
    })
    .await;
    assert_eq!(held, 2);
}
