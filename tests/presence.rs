//! Who is in a room after a storm of joins and leaves: a newcomer's member list and an old
//! member's, kept from its events, agree exactly. Correctness only, never timing.

mod common;

use std::collections::BTreeSet;

use chatroom::domain::ChatConfig;
use chatroom::rpc::ChatApiClient;
use chatroom::rpc::server::ServerConfig;
use chatroom::rpc::types::EventKind;
use common::{Member, TestServer, within};
use futures::StreamExt;

const STORM: usize = 500;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_storm_of_joins_and_leaves_everyone_agrees_on_who_is_here() {
    let server = TestServer::start_with(ServerConfig {
        chat: ChatConfig {
            rate_limit: None,
            ..ChatConfig::default()
        },
        ..ServerConfig::default()
    })
    .await;
    let mut old = Member::join(&server, "old-timer").await;
    let members: Vec<Member> = futures::stream::iter(0..STORM)
        .map(|n| {
            let server = &server;
            async move { Member::join(server, &format!("m{n}")).await }
        })
        .buffer_unordered(50)
        .collect()
        .await;
    // Every other one leaves again, all at once.
    let (leaving, staying): (Vec<_>, Vec<_>) = members.into_iter().partition(|m| {
        m.joined
            .name
            .trim_start_matches('m')
            .parse::<usize>()
            .unwrap()
            % 2
            == 0
    });
    futures::future::join_all(leaving.iter().map(|m| m.client.leave(m.session(), None)))
        .await
        .into_iter()
        .for_each(|left| left.unwrap());
    let newcomer = Member::join(&server, "newcomer").await;
    let mut expected: BTreeSet<String> = staying.iter().map(|m| m.joined.name.clone()).collect();
    expected.extend(["old-timer".to_owned(), "newcomer".to_owned()]);
    let listed: BTreeSet<String> = newcomer
        .joined
        .members
        .iter()
        .map(|m| m.name.clone())
        .collect();
    assert_eq!(listed, expected, "the newcomer's list");

    // The old member's list, from its join and every event since, up to the newcomer's join.
    let mut seen: BTreeSet<String> = old.joined.members.iter().map(|m| m.name.clone()).collect();
    within("the old member to see the newcomer come", async {
        loop {
            let event = old.next_event().await;
            match event.kind {
                EventKind::Join => {
                    seen.insert(event.from.name.clone());
                    if event.from.name == "newcomer" {
                        return;
                    }
                }
                EventKind::Leave => {
                    seen.remove(&event.from.name);
                }
                _ => {}
            }
        }
    })
    .await;
    assert_eq!(seen, expected, "the old member's list");
    let asked: BTreeSet<String> = newcomer
        .client
        .members(Some(newcomer.session()), None)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(asked, expected, "chat_members");
    drop(staying);
    server.stop().await;
}
