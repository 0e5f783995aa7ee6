//! `chatroom connect --plain` in a child process: started with its identity and log in the
//! test's own directory, read line by line, and finished.

use std::process::Stdio;

use tokio::io::BufReader;
use tokio::process::{Child, Command};

use super::{TempDir, within};

/// `chatroom connect --plain` with `args`, stdin, stdout and stderr piped, logging into `dir`.
pub fn plain_client(args: &[&str], dir: &TempDir) -> Child {
    Command::new(env!("CARGO_BIN_EXE_chatroom"))
        .args(["connect", "--plain", "--log-file"])
        .arg(dir.0.join("client.log"))
        // Identities are made and kept in the test's own directory, never the user's.
        .env("XDG_DATA_HOME", dir.0.join("data"))
        // Nor is the user's config file read.
        .env("XDG_CONFIG_HOME", dir.0.join("config"))
        .args(args)
        .env_remove("CHATROOM_PASSWORD")
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

pub type Lines = tokio::io::Lines<BufReader<tokio::process::ChildStdout>>;

/// Reads `out` up to the first line containing `text`, and returns it.
pub async fn line_containing(out: &mut Lines, text: &str) -> String {
    within(&format!("a line with {text:?}"), async {
        loop {
            let line = out.next_line().await.unwrap().expect("output ended");
            if line.contains(text) {
                return line;
            }
        }
    })
    .await
}

/// What a finished client wrote on stderr, and whether it succeeded.
pub async fn finish(mut client: Child) -> (bool, String) {
    use tokio::io::AsyncReadExt;
    let mut stderr = String::new();
    let mut pipe = client.stderr.take().unwrap();
    within("stderr", pipe.read_to_string(&mut stderr))
        .await
        .unwrap();
    let status = within("the client to exit", client.wait()).await.unwrap();
    (status.success(), stderr)
}
