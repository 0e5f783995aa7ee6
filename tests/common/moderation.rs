//! Helpers for the moderation tests: a server, with server operators if asked, and
//! members joined straight into a room.

use chatroom::identity::Identity;
use chatroom::rpc::ChatApiClient;
use chatroom::rpc::client::connect;
use chatroom::rpc::server::ServerConfig;
use chatroom::rpc::types::{Event, EventKind, MemberInfo};

use super::{Member, TestServer, join_keyed, within};

/// The room the tests moderate: whoever joins it first makes it, and owns it.
pub const ROOM: &str = "#mod";

/// A server on the real store (SQLite, in memory).
pub async fn server() -> TestServer {
    server_with_ops(&[]).await
}

/// [`server`] with these keys as its server operators.
pub async fn server_with_ops(operators: &[&Identity]) -> TestServer {
    TestServer::start_with(ServerConfig {
        server_operators: operators
            .iter()
            .map(|key| key.public_key().fingerprint())
            .collect(),
        ..ServerConfig::default()
    })
    .await
}

/// The identity `key` joined as `name` straight into `room`, and subscribed.
pub async fn joined_in(server: &TestServer, name: &str, room: &str, key: &Identity) -> Member {
    let client = connect(&server.ws_url()).await.unwrap();
    let joined = join_keyed(&client, Some(name), Some(room), key)
        .await
        .unwrap_or_else(|err| panic!("{name} joining {room}: {err}"));
    let events = client
        .subscribe_events(joined.session.clone(), None, None)
        .await
        .unwrap();
    Member {
        client,
        joined,
        events,
    }
}

/// A room's members, as `member` sees them.
pub async fn members_of(member: &Member, room: &str) -> Vec<MemberInfo> {
    member
        .client
        .members(Some(member.session()), Some(room.to_owned()))
        .await
        .unwrap()
}

/// The member's next event of `kind`, passing over the others.
pub async fn next_kind(member: &mut Member, kind: EventKind) -> Event {
    within(&format!("a {kind:?} event"), async {
        loop {
            let event = member
                .events
                .next()
                .await
                .expect("subscription ended")
                .expect("undecodable event");
            if event.kind == kind {
                return event;
            }
        }
    })
    .await
}
