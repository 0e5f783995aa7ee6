//! The `chatroom serve` binary in a child process: started on a free port, killed outright
//! or stopped by a signal.

use std::net::SocketAddr;
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::within;

/// Starts `chatroom serve` with `args` on a free port; returns it and where it listens.
pub async fn serve(args: &[&str]) -> (Child, SocketAddr) {
    serve_with_env(args, &[]).await
}

/// [`serve`] with more environment variables.
pub async fn serve_with_env(
    args: &[&str],
    env: &[(&str, &std::path::Path)],
) -> (Child, SocketAddr) {
    serve_listening("127.0.0.1:0", args, env).await
}

/// `chatroom serve --listen listen` with `args` and `env`; returns it and where it listens.
pub async fn serve_listening(
    listen: &str,
    args: &[&str],
    env: &[(&str, &std::path::Path)],
) -> (Child, SocketAddr) {
    let mut server = Command::new(env!("CARGO_BIN_EXE_chatroom"))
        .args(["serve", "--listen", listen])
        .args(args)
        .envs(env.iter().copied())
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
                return addr.trim().parse::<SocketAddr>().unwrap();
            }
        }
    })
    .await;
    // Keep draining the log so the server never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = log.next_line().await {} });
    (server, addr)
}

/// SIGKILL: no shutdown, no flush, nobody's leave stored.
pub async fn kill(mut server: Child) {
    server.start_kill().unwrap();
    within("the server to die", server.wait()).await.unwrap();
}

/// Stops a server with SIGTERM and checks that it exits cleanly.
pub async fn terminate(mut server: Child) {
    let pid = server.id().unwrap().to_string();
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = within("the server to exit", server.wait()).await.unwrap();
    assert_eq!(status.code(), Some(0), "{status:?}");
}
