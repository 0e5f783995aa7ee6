//! Who is in a room after a storm of joins and leaves: a newcomer's member list and an old
//! member's, kept from its events, agree exactly, in a small room (each join and leave
//! told) and in a large one (presence events and lists asked for). Correctness only, never
//! timing.

mod common;

use std::collections::BTreeSet;

use chatroom::domain::{ChatConfig, DEFAULT_LARGE_ROOM};
use chatroom::rpc::ChatApiClient;
use chatroom::rpc::server::ServerConfig;
use chatroom::rpc::types::EventKind;
use common::{Member, TestServer, within};
use futures::StreamExt;

const STORM: usize = 500;

/// A server whose rooms are large above `large_room` members (0: never).
async fn server(large_room: usize) -> TestServer {
    TestServer::start_with(ServerConfig {
        chat: ChatConfig {
            rate_limit: None,
            large_room,
            ..ChatConfig::default()
        },
        ..ServerConfig::default()
    })
    .await
}

/// The storm: `STORM` members join, then every other one leaves, all at once. Returns
/// those who stayed and the names that should be in the room with `old` and a newcomer.
async fn storm(server: &TestServer) -> (Vec<Member>, BTreeSet<String>) {
    let members: Vec<Member> = futures::stream::iter(0..STORM)
        .map(|n| async move { Member::join(server, &format!("m{n}")).await })
        .buffer_unordered(50)
        .collect()
        .await;
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
    let mut expected: BTreeSet<String> = staying.iter().map(|m| m.joined.name.clone()).collect();
    expected.extend(["old-timer".to_owned(), "newcomer".to_owned()]);
    (staying, expected)
}

async fn asked(member: &Member) -> BTreeSet<String> {
    member
        .client
        .members(Some(member.session()), None)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.name)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_storm_of_joins_and_leaves_everyone_agrees_on_who_is_here() {
    let server = server(0).await;
    let mut old = Member::join(&server, "old-timer").await;
    let (staying, expected) = storm(&server).await;
    let newcomer = Member::join(&server, "newcomer").await;
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
    assert_eq!(asked(&newcomer).await, expected, "chat_members");
    drop(staying);
    server.stop().await;
}

/// What a client keeping a large room's member list does with the room's events: a list
/// replaces it, named changes are applied, and a presence event that could not name them
/// all makes it ask for the list again. Returns the count the last presence event gave.
async fn follow(member: &mut Member, seen: &mut BTreeSet<String>, joins: &mut usize) -> u32 {
    loop {
        let event = member.next_event().await;
        match event.kind {
            EventKind::Join => {
                *joins += 1;
                seen.insert(event.from.name.clone());
            }
            EventKind::Leave => {
                seen.remove(&event.from.name);
            }
            EventKind::Presence => {
                let presence = event.presence.unwrap();
                if let Some(list) = presence.members {
                    *seen = list.into_iter().map(|m| m.name).collect();
                } else if presence.complete {
                    for gone in presence.left {
                        seen.remove(&gone.name);
                    }
                    seen.extend(presence.joined.into_iter().map(|m| m.name));
                } else {
                    let session = member.session();
                    member.client.sync_members(session, None).await.unwrap();
                    continue;
                }
                return presence.count;
            }
            _ => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_storm_in_a_large_room_presence_events_and_lists_agree_on_who_is_here() {
    let server = server(DEFAULT_LARGE_ROOM).await;
    let mut old = Member::join(&server, "old-timer").await;
    let (staying, expected) = storm(&server).await;
    let mut newcomer = Member::join(&server, "newcomer").await;
    // A large room gives the count, not the list: that is asked for and comes in the stream.
    assert!(
        newcomer.joined.members.is_empty(),
        "no list in a large room"
    );
    assert_eq!(newcomer.joined.member_count as usize, expected.len());
    let session = newcomer.session();
    newcomer.client.sync_members(session, None).await.unwrap();
    let mut listed = BTreeSet::new();
    let mut joins = 0;
    within("the newcomer's list", async {
        while listed != expected {
            follow(&mut newcomer, &mut listed, &mut joins).await;
        }
    })
    .await;

    // The old member, keeping its list from its join and every event since as the TUI
    // does, comes to the same list once the storm is over, and the counts agree with it.
    let mut seen: BTreeSet<String> = old.joined.members.iter().map(|m| m.name.clone()).collect();
    let mut joins = 0;
    within("the old member's list to settle", async {
        loop {
            let count = follow(&mut old, &mut seen, &mut joins).await;
            if seen == expected && count as usize == expected.len() {
                return;
            }
        }
    })
    .await;
    // Each join was told on its own only while the room was small.
    assert!(
        joins <= DEFAULT_LARGE_ROOM,
        "{joins} joins told one by one, in a room large past {DEFAULT_LARGE_ROOM}"
    );
    assert_eq!(asked(&newcomer).await, expected, "chat_members");
    drop(staying);
    server.stop().await;
}

/// The presence tick hands its event to every member from one task, more of them than a
/// tokio task's cooperative budget (128) allows: no member may take that for a full queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_presence_event_reaches_every_member_of_a_large_room() {
    let server = server(100).await;
    let mut members: Vec<Member> = futures::stream::iter(0..300)
        .map(|n| {
            let server = &server;
            async move { Member::join(server, &format!("m{n}")).await }
        })
        .buffered(50)
        .collect()
        .await;
    let last = Member::join(&server, "last").await;
    within("every member to hear of the last join", async {
        for member in &mut members {
            loop {
                let event = member.next_event().await;
                // The tick after the last join counts everyone.
                if event.kind == EventKind::Presence
                    && event.presence.is_some_and(|p| p.count == 301)
                {
                    break;
                }
            }
        }
    })
    .await;
    drop(last);
    server.stop().await;
}
