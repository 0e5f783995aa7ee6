//! The `chatroom serve` binary as an operator runs it: started, used, stopped by a signal.

mod common;

use std::process::Stdio;

use chatroom::rpc::types::EventKind;
use common::{Member, within};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

#[tokio::test]
async fn sigterm_stops_the_server_gracefully_with_exit_code_zero() {
    let mut server = Command::new(env!("CARGO_BIN_EXE_chatroom"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut log = BufReader::new(server.stderr.take().unwrap()).lines();
    let addr = within("the server to log its address", async {
        loop {
            let line = log.next_line().await.unwrap().expect("server exited");
            if let Some((_, addr)) = line.split_once("listening addr=") {
                return addr.trim().parse::<std::net::SocketAddr>().unwrap();
            }
        }
    })
    .await;
    // Keep draining the log so the server never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = log.next_line().await {} });

    let server_handle = common::TestServer::external(addr);
    let mut alice = Member::join(&server_handle, "alice").await;
    let bob = Member::join(&server_handle, "bob").await;
    assert_eq!(alice.next_event().await.kind, EventKind::Join);

    let pid = server.id().unwrap().to_string();
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(kill.success());

    let notice = alice.next_event().await;
    assert_eq!(
        (notice.kind, notice.text.as_deref()),
        (EventKind::System, Some("server shutting down"))
    );
    let status = within("the server to exit", server.wait()).await.unwrap();
    assert_eq!(status.code(), Some(0), "{status:?}");
    drop(bob);
}
