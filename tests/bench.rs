//! `chatroom bench` against a real server: correctness only, never timing.

mod common;

use chatroom::bench::{self, BenchConfig};
use chatroom::domain::ChatConfig;
use chatroom::rpc::ChatApiClient;
use chatroom::rpc::server::ServerConfig;
use common::{TestServer, within};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

fn config(server: &TestServer) -> BenchConfig {
    BenchConfig {
        urls: vec![server.ws_url()],
        clients: 20,
        publishers: 2,
        messages: Some(100),
        duration: None,
        rate: 0.0,
        size: 128,
        tls: Default::default(),
        password: None,
        rooms: 1,
    }
}

fn unlimited() -> ServerConfig {
    ServerConfig {
        chat: ChatConfig {
            rate_limit: None,
            ..ChatConfig::default()
        },
        ..ServerConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_bench_delivers_everything_once_in_order() {
    let server = TestServer::start_with(ServerConfig {
        chat: ChatConfig {
            rate_limit: None,
            ..ChatConfig::default()
        },
        ..ServerConfig::default()
    })
    .await;
    let report = within("the bench", bench::run(&config(&server), |_, _| {}))
        .await
        .unwrap();
    assert_eq!(report.messages_sent, 200);
    assert_eq!(report.deliveries_expected, 200 * 19);
    assert_eq!(report.deliveries, report.deliveries_expected, "{report:?}");
    assert!(report.is_clean(), "{report:?}");
    assert!(report.latency_ms.max > 0.0 && report.ack_ms.p50 > 0.0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spread_over_rooms_each_message_reaches_exactly_its_rooms_members_once() {
    let server = TestServer::start_with(unlimited()).await;
    // 12 members over 4 rooms, 3 rooms each: 9 members in every room. The 3 publishers send
    // 30 messages each, 10 into each of their rooms, and each reaches the 8 others there
    // (in one room it would be 11).
    let config = BenchConfig {
        clients: 12,
        publishers: 3,
        messages: Some(30),
        rooms: 4,
        ..config(&server)
    };
    let report = within("the bench", bench::run(&config, |_, _| {}))
        .await
        .unwrap();
    assert_eq!(report.messages_sent, 90);
    assert_eq!(report.deliveries_expected, 90 * 8, "{report:?}");
    assert_eq!(report.deliveries, report.deliveries_expected, "{report:?}");
    assert_eq!(report.misrouted, 0, "{report:?}");
    assert!(report.is_clean(), "{report:?}");
    // The rooms exist, with the members the layout put there.
    let member = common::Member::join(&server, "observer").await;
    let rooms = within("the room list", member.client.rooms(Some(member.session())))
        .await
        .unwrap();
    let bench_rooms: Vec<_> = rooms
        .iter()
        .filter(|room| room.room.starts_with("#bench-"))
        .map(|room| (room.room.as_str(), room.last_seq > 0))
        .collect();
    assert_eq!(
        bench_rooms,
        [
            ("#bench-1", true),
            ("#bench-2", true),
            ("#bench-3", true),
            ("#bench-4", true)
        ]
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spread_over_two_addresses_every_delivery_is_checked_and_the_split_reported() {
    let server = TestServer::start_with(unlimited()).await;
    // Two addresses of one server (the second a relay that counts who comes through it):
    // the mechanics of spreading are the same as over nodes.
    let (relay, through_relay) = counting_relay(server.addr).await;
    let (a, b) = (server.ws_url(), format!("ws://{relay}"));
    let config = BenchConfig {
        urls: vec![a.clone(), b.clone()],
        clients: 21,
        publishers: 3,
        messages: Some(50),
        ..config(&server)
    };
    let report = within("the bench", bench::run(&config, |_, _| {}))
        .await
        .unwrap();
    assert_eq!(report.deliveries_expected, 150 * 20, "{report:?}");
    assert_eq!(report.deliveries, report.deliveries_expected, "{report:?}");
    assert!(report.is_clean(), "{report:?}");
    let split: Vec<(&str, usize)> = report
        .servers
        .iter()
        .map(|share| (share.url.as_str(), share.members))
        .collect();
    assert_eq!(split, [(a.as_str(), 11), (b.as_str(), 10)]);
    assert_eq!(
        through_relay.load(Ordering::SeqCst),
        10,
        "members 1, 3, … 19"
    );
    server.stop().await;
}

/// A TCP relay to `to`, and how many connections it has taken.
async fn counting_relay(to: SocketAddr) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let taken = Arc::new(AtomicUsize::new(0));
    let count = taken.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let mut server = tokio::net::TcpStream::connect(to).await.unwrap();
            tokio::spawn(async move {
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            });
        }
    });
    (addr, taken)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_servers_flag_spreads_the_members_and_says_how_many_were_on_each() {
    let server = TestServer::start_with(unlimited()).await;
    let servers = format!("{0},{0}/", server.ws_url());
    let bench = tokio::process::Command::new(env!("CARGO_BIN_EXE_chatroom"))
        .args(["bench", "--servers", &servers, "--clients", "5"])
        .args(["--publishers", "2", "--messages", "10"])
        .kill_on_drop(true)
        .output();
    let out = within("the bench to finish", bench).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find(|line| line.starts_with("servers"))
        .unwrap_or_else(|| panic!("no servers line: {stdout}"));
    let url = server.ws_url();
    assert!(
        line.ends_with(&format!("3 on {url}/, 2 on {url}/")),
        "{line}"
    );
    // One address or several, not both.
    let both = tokio::process::Command::new(env!("CARGO_BIN_EXE_chatroom"))
        .args(["bench", &url, "--servers", &servers])
        .kill_on_drop(true)
        .output();
    let out = within("the bench to refuse", both).await.unwrap();
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("cannot be used with"), "{said}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_server_is_named_as_the_problem() {
    let server = TestServer::start().await; // default rate limit
    let err = within("the bench", bench::run(&config(&server), |_, _| {}))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("--rate-limit 0"),
        "the message says what to do: {err}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bench_runs_over_wss_into_a_private_room() {
    let made = chatroom::rpc::tls::self_signed(vec!["127.0.0.1".into()]).unwrap();
    let server = TestServer::start_with(ServerConfig {
        chat: ChatConfig {
            rate_limit: None,
            ..ChatConfig::default()
        },
        tls: Some(made.config),
        password: Some(chatroom::rpc::auth::Password::new("bench-secret")),
        ..ServerConfig::default()
    })
    .await;
    let config = BenchConfig {
        urls: vec![format!("wss://{}", server.addr)],
        tls: chatroom::rpc::tls::ClientTls {
            ca_file: None,
            fingerprint: Some(made.fingerprint),
        },
        password: Some("bench-secret".into()),
        ..config(&server)
    };
    let report = within("the bench", bench::run(&config, |_, _| {}))
        .await
        .unwrap();
    assert_eq!(report.deliveries, report.deliveries_expected, "{report:?}");
    assert!(report.is_clean(), "{report:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bench_draws_its_latency_distribution_with_plot() {
    let server = TestServer::start_with(unlimited()).await;
    let dir = common::TempDir::new();
    let path = dir.0.join("latency.svg");
    let bench = tokio::process::Command::new(env!("CARGO_BIN_EXE_chatroom"))
        .args([
            "bench",
            &server.ws_url(),
            "--clients",
            "10",
            "--publishers",
            "2",
        ])
        .args(["--messages", "20", "--plot"])
        .arg(&path)
        .kill_on_drop(true)
        .output();
    let out = within("the bench to finish", bench).await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let drawn = std::fs::read_to_string(&path).unwrap();
    assert!(
        drawn.starts_with("<svg"),
        "{}",
        &drawn[..80.min(drawn.len())]
    );
    for text in [
        "latency by percentile: 10 members",
        "delivery",
        "send acknowledged",
    ] {
        assert!(drawn.contains(text), "no {text:?} in the plot");
    }
    server.stop().await;
}
