//! The real `chatroom connect` binary in a pseudo-terminal against a real server, with the
//! screen read back through a terminal emulator (vt100), as a person would see it.

mod common;

use std::io::{Read, Write};
use std::sync::mpsc;
use std::time::Instant;

use chatroom::identity::Identity;
use chatroom::rpc::ChatApiClient;
use chatroom::rpc::types::EventKind;
use common::{Member, TempDir, TestServer, WAIT};
use portable_pty::{CommandBuilder, PtySize, native_pty_system};

const ROWS: u16 = 24;
const COLS: u16 = 80;

/// A running client binary and what its terminal shows.
struct Tui {
    parser: vt100::Parser,
    output: mpsc::Receiver<Vec<u8>>,
    input: Box<dyn Write + Send>,
    exited: mpsc::Receiver<portable_pty::ExitStatus>,
    pid: u32,
    _log_dir: TempDir,
}

impl Tui {
    fn connect(server: &TestServer, name: &str) -> Self {
        Self::spawn(&["connect", &server.ws_url(), "--name", name])
    }

    fn spawn(args: &[&str]) -> Self {
        Self::spawn_with_env(args, &[])
    }

    /// [`Tui::spawn`], with these variables set for the client.
    fn spawn_with_env(args: &[&str], env: &[(&str, &std::ffi::OsStr)]) -> Self {
        let pty = native_pty_system()
            .openpty(PtySize {
                rows: ROWS,
                cols: COLS,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("open a pty");
        let log_dir = TempDir::new();
        let mut command = CommandBuilder::new(env!("CARGO_BIN_EXE_chatroom"));
        command.args(args);
        command.arg("--log-file");
        command.arg(log_dir.0.join("client.log"));
        command.env("TERM", "xterm-256color");
        // Identities are made and kept in the test's own directory, never the user's.
        command.env("XDG_DATA_HOME", log_dir.0.join("data"));
        for (name, value) in env {
            command.env(name, value);
        }
        command.env("XDG_CONFIG_HOME", log_dir.0.join("config"));
        let mut child = pty.slave.spawn_command(command).expect("spawn chatroom");
        drop(pty.slave);
        let pid = child.process_id().expect("a running child has a pid");

        let mut reader = pty.master.try_clone_reader().unwrap();
        let (out_tx, output) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 || out_tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        let (exit_tx, exited) = mpsc::channel();
        std::thread::spawn(move || {
            if let Ok(status) = child.wait() {
                let _ = exit_tx.send(status);
            }
        });
        let input = pty.master.take_writer().unwrap();
        // The master must stay open while the child runs; leak it into the reader's lifetime.
        std::mem::forget(pty.master);
        Self {
            parser: vt100::Parser::new(ROWS, COLS, 0),
            output,
            input,
            exited,
            pid,
            _log_dir: log_dir,
        }
    }

    fn screen(&self) -> String {
        self.parser.screen().contents()
    }

    /// Reads output until the screen satisfies `done`, failing after [`WAIT`].
    fn wait_for(&mut self, what: &str, done: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + WAIT;
        while !done(&self.screen()) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.output.recv_timeout(left) {
                Ok(bytes) => self.parser.process(&bytes),
                Err(_) => panic!("timed out waiting for {what}; screen:\n{}", self.screen()),
            }
        }
    }

    /// Reads output until the emulated screen satisfies `done`, failing after [`WAIT`].
    fn wait_for_screen(&mut self, what: &str, done: impl Fn(&vt100::Screen) -> bool) {
        let deadline = Instant::now() + WAIT;
        while !done(self.parser.screen()) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.output.recv_timeout(left) {
                Ok(bytes) => self.parser.process(&bytes),
                Err(_) => panic!("timed out waiting for {what}; screen:\n{}", self.screen()),
            }
        }
    }

    fn wait_for_text(&mut self, text: &str) {
        self.wait_for(&format!("{text:?}"), |screen| screen.contains(text));
    }

    fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .args([&format!("-{name}"), &self.pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn type_keys(&mut self, keys: &str) {
        self.input.write_all(keys.as_bytes()).unwrap();
        self.input.flush().unwrap();
    }

    /// Waits for the process to end, then reads the rest of its output.
    fn wait_exit(&mut self) -> portable_pty::ExitStatus {
        let status = self.exited.recv_timeout(WAIT).expect("client did not exit");
        // Everything written before exit is in the pipe; the reader ends at EOF.
        let deadline = Instant::now() + WAIT;
        while let Ok(bytes) = self
            .output
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            self.parser.process(&bytes);
        }
        status
    }

    /// The process ends with success and leaves the terminal as it found it.
    fn assert_exits_cleanly(&mut self) {
        let status = block(|| self.wait_exit());
        assert!(status.success(), "{status:?}");
        self.assert_terminal_restored();
    }

    /// The terminal is as it was: main screen, cursor shown, no paste brackets, no mouse
    /// reports.
    fn assert_terminal_restored(&self) {
        let screen = self.parser.screen();
        assert!(!screen.alternate_screen(), "still on the alternate screen");
        assert!(!screen.hide_cursor(), "cursor still hidden");
        assert!(!screen.bracketed_paste(), "bracketed paste still on");
        assert_eq!(
            screen.mouse_protocol_mode(),
            vt100::MouseProtocolMode::None,
            "mouse reports still on"
        );
    }
}

/// A server with alice (a plain client) and bob (the binary under test), both past joining.
async fn alice_and_bob_in_tui() -> (TestServer, Member, Tui) {
    let server = TestServer::start().await;
    let mut alice = Member::join(&server, "alice").await;
    let mut tui = Tui::connect(&server, "bob");
    block(|| tui.wait_for_text("connected │ 2 members │ as bob"));
    assert_eq!(alice.next_event().await.kind, EventKind::Join);
    (server, alice, tui)
}

fn block<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_then_exit_restores_the_terminal() {
    let (server, mut alice, mut tui) = alice_and_bob_in_tui().await;

    alice.say("hello bob").await;
    block(|| tui.wait_for_text("<~alice> hello bob"));

    tui.type_keys("hi alice\r");
    let event = alice.next_event().await;
    assert_eq!(
        (event.kind, event.from.name.as_str(), event.text.as_deref()),
        (EventKind::Message, "bob", Some("hi alice"))
    );
    block(|| tui.wait_for_text("<bob> hi alice"));

    tui.type_keys("/exit\r");
    assert_left_cleanly(&mut alice, tui).await;
    server.stop().await;
}

/// bob's client said goodbye (one chosen leave, seen by alice), ended and restored the terminal.
async fn assert_left_cleanly(alice: &mut Member, mut tui: Tui) {
    let leave = alice.next_event().await;
    assert_eq!(
        (leave.kind, leave.from.name.as_str(), leave.text),
        (EventKind::Leave, "bob", None),
        "a clean leave"
    );
    tui.assert_exits_cleanly();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incoming_messages_do_not_garble_the_input() {
    let (server, mut alice, mut tui) = alice_and_bob_in_tui().await;

    tui.type_keys("half-typed");
    block(|| tui.wait_for_text("> half-typed"));
    alice.say("interrupting").await;
    block(|| tui.wait_for_text("<~alice> interrupting"));
    let input_row = tui.screen().lines().last().unwrap_or("").to_owned();
    assert_eq!(input_row.trim_end(), "> half-typed");

    tui.type_keys(" line\r");
    let event = alice.next_event().await;
    assert_eq!(event.text.as_deref(), Some("half-typed line"));

    tui.type_keys("\x03"); // Ctrl-C
    assert_left_cleanly(&mut alice, tui).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_d_on_an_empty_line_leaves() {
    let (server, mut alice, mut tui) = alice_and_bob_in_tui().await;

    tui.type_keys("\x04");
    assert_left_cleanly(&mut alice, tui).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_leaves_and_restores_the_terminal() {
    let (server, mut alice, tui) = alice_and_bob_in_tui().await;
    tui.signal("TERM");
    assert_left_cleanly(&mut alice, tui).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_name_is_explained_on_screen() {
    let server = TestServer::start().await;
    let mut tui = Tui::connect(&server, "server");
    block(|| tui.wait_for_text("not trying again"));
    assert!(
        tui.screen().contains(r#"the name "server" is reserved"#),
        "{}",
        tui.screen()
    );
    tui.type_keys("/quit\r");
    tui.assert_exits_cleanly();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_server_is_reported_on_screen() {
    // Port 1 (tcpmux) is privileged and unused on any machine these tests run on.
    let mut tui = Tui::spawn(&["connect", "127.0.0.1:1", "--name", "bob"]);
    block(|| tui.wait_for_text("not connected — retrying in"));
    assert!(
        tui.screen()
            .contains("cannot connect to ws://127.0.0.1:1/: connection refused"),
        "{}",
        tui.screen()
    );
    // Failing again the same way counts on the same line rather than adding one.
    block(|| tui.wait_for_text(" attempts)"));
    let screen = tui.screen();
    assert_eq!(screen.matches("connection refused").count(), 1, "{screen}");
    assert!(
        !screen.contains("disconnected"),
        "never connected:\n{screen}"
    );
    tui.type_keys("/quit\r");
    tui.assert_exits_cleanly();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_that_cannot_work_is_refused_before_the_full_screen() {
    for bad in ["http://127.0.0.1:7777", "127.0.0.1:99999"] {
        let mut tui = Tui::spawn(&["connect", bad, "--name", "bob"]);
        let status = block(|| tui.wait_exit());
        assert!(!status.success(), "{bad}: {status:?}");
        let screen = tui.screen();
        assert!(screen.contains("error: "), "{bad}:\n{screen}");
        assert!(screen.contains("is not"), "{bad}:\n{screen}");
        tui.assert_terminal_restored();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_host_is_reported_once_and_not_retried() {
    let mut tui = Tui::spawn(&["connect", "nosuchhost.invalid", "--name", "bob"]);
    block(|| tui.wait_for_text("not trying again"));
    let screen = tui.screen();
    // (The line wraps.)
    assert!(
        screen.contains("cannot connect to ws://nosuchhost.invalid:7777/:"),
        "{screen}"
    );
    assert!(screen.contains("unknown host"), "{screen}");
    assert!(screen.contains("not connected"), "{screen}");
    tui.type_keys("/quit\r");
    tui.assert_exits_cleanly();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_times_out_and_is_tried_again() {
    let target = common::silent_port().await.to_string();
    let mut tui = Tui::spawn(&[
        "connect",
        &target,
        "--name",
        "bob",
        "--connect-timeout",
        "300ms",
    ]);
    block(|| tui.wait_for_text("within 0.3 s"));
    assert!(tui.screen().contains("no answer"), "{}", tui.screen());
    block(|| tui.wait_for_text("not connected — retrying in"));
    tui.type_keys("/quit\r");
    tui.assert_exits_cleanly();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_tui_hosts_and_chats() {
    let mut tui = Tui::spawn(&[
        "serve",
        "--tui",
        "--listen",
        "127.0.0.1:0",
        "--name",
        "host",
    ]);
    block(|| tui.wait_for_text("connected │ 1 member │ as host"));
    // The status line names the port the server picked.
    let screen = tui.screen();
    let listen: String = screen
        .split("hosting ")
        .nth(1)
        .expect("status line shows the address")
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();

    let client = chatroom::rpc::client::connect(&format!("ws://{listen}"))
        .await
        .unwrap();
    let guest = client
        .join(Some("guest".into()), None, None, None)
        .await
        .unwrap();
    // Guest has said nothing yet: the smart filter hides its join, the count shows it.
    block(|| tui.wait_for_text("connected │ 2 members │ as host"));
    client
        .send(guest.session, "hi host".into(), None, None)
        .await
        .unwrap();
    block(|| tui.wait_for_text("<~guest> hi host"));

    tui.type_keys("/quit\r");
    tui.assert_exits_cleanly();
    // The embedded server went down with the client.
    assert!(tokio::net::TcpStream::connect(&listen).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_tui_makes_the_hosts_own_key_a_server_operator() {
    let mut tui = Tui::spawn(&[
        "serve",
        "--tui",
        "--listen",
        "127.0.0.1:0",
        "--name",
        "host",
    ]);
    block(|| tui.wait_for_text("connected │ 1 member │ as host"));
    let screen = tui.screen();
    let listen: String = screen
        .split("hosting ")
        .nth(1)
        .expect("status line shows the address")
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    let client = chatroom::rpc::client::connect(&format!("ws://{listen}"))
        .await
        .unwrap();
    let guest = client
        .join(Some("guest".into()), None, None, None)
        .await
        .unwrap();
    let host = client
        .whois(guest.session.clone(), "host".into())
        .await
        .unwrap();
    assert!(host.server_op, "{host:?}");
    let me = client.whois(guest.session, "guest".into()).await.unwrap();
    assert!(!me.server_op, "{me:?}");
    tui.type_keys("/quit\r");
    tui.assert_exits_cleanly();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_reconnects_after_a_restart_and_catches_up() {
    let dir = TempDir::new();
    let config = || chatroom::rpc::server::ServerConfig {
        db: chatroom::store::DbLocation::File(dir.0.join("chat.db")),
        ..Default::default()
    };
    let server = TestServer::start_with(config()).await;
    let addr = server.addr;
    let mut alice = Member::join(&server, "alice").await;
    let mut tui = Tui::connect(&server, "bob");
    block(|| tui.wait_for_text("connected │ 2 members │ as bob"));
    assert_eq!(alice.next_event().await.kind, EventKind::Join);
    alice.say("before the restart").await;
    block(|| tui.wait_for_text("<~alice> before the restart"));

    drop(alice);
    server.stop().await;
    block(|| tui.wait_for_text("reconnecting in"));

    // Back on the same address with the same history; someone speaks before bob returns.
    let server = TestServer::start_on(addr, config()).await;
    let carol = Member::join(&server, "carol").await;
    carol.say("while you were away").await;
    block(|| tui.wait_for_text("<~carol> while you were away"));
    block(|| tui.wait_for_text("connected │ 2 members │ as bob"));
    let screen = tui.screen();
    assert_eq!(screen.matches("before the restart").count(), 1, "{screen}");
    assert_eq!(screen.matches("while you were away").count(), 1, "{screen}");

    tui.type_keys("/quit\r");
    tui.assert_exits_cleanly();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrolling_to_the_top_loads_older_history() {
    let server = TestServer::start_with(chatroom::rpc::server::ServerConfig {
        chat: chatroom::domain::ChatConfig {
            rate_limit: None,
            history_len: 5,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let alice = Member::join(&server, "alice").await;
    for i in 0..60 {
        alice.say(&format!("line {i:02}")).await;
    }
    let mut tui = Tui::connect(&server, "bob");
    block(|| tui.wait_for_text("line 59"));
    assert!(
        !tui.screen().contains("line 54"),
        "only recent history at first"
    );
    // PageUp until the very first line appears. Every PageUp shows on screen: it scrolls, or
    // at the top it says older messages are loading (and stops saying so when they are in).
    for _ in 0..100 {
        if tui.screen().contains("line 00") {
            break;
        }
        let before = tui.screen();
        tui.type_keys("\x1b[5~"); // PageUp
        block(|| {
            tui.wait_for("the view to move", |screen| {
                screen != before || screen.contains("line 00")
            })
        });
    }
    assert!(tui.screen().contains("line 00"), "{}", tui.screen());
    tui.type_keys("\x03");
    tui.assert_exits_cleanly();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn me_and_nick_from_the_client() {
    let (server, mut alice, mut tui) = alice_and_bob_in_tui().await;
    tui.type_keys("/me waves\r");
    let action = alice.next_event().await;
    assert_eq!(
        (action.kind, action.text.as_deref()),
        (EventKind::Action, Some("waves"))
    );
    block(|| tui.wait_for_text("* bob waves"));

    tui.type_keys("/nick robert\r");
    let nick = alice.next_event().await;
    assert_eq!(
        (nick.kind, nick.from.name.as_str()),
        (EventKind::Nick, "robert")
    );
    block(|| tui.wait_for_text("you are now known as robert"));
    block(|| tui.wait_for_text("│ robert"));
    tui.type_keys("/quit\r");
    tui.assert_exits_cleanly();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multi_line_paste_is_one_message() {
    let (server, mut alice, mut tui) = alice_and_bob_in_tui().await;
    assert!(
        tui.parser.screen().bracketed_paste(),
        "the client asks for pastes bracketed"
    );
    // A terminal sends a paste between ESC[200~ and ESC[201~, its newlines as CR.
    tui.type_keys("see:\x1b[200~first line\rsecond line\r  indented\x1b[201~");
    block(|| tui.wait_for_text("  second line"));
    let screen = tui.screen();
    let input: Vec<&str> = screen.lines().rev().take(3).map(str::trim_end).collect();
    assert_eq!(
        input,
        ["    indented", "  second line", "> see:first line"],
        "{screen}"
    );

    tui.type_keys("\x1b\r"); // Alt-Enter: one more line by hand
    tui.type_keys("done\r");
    let event = alice.next_event().await;
    assert_eq!(
        event.text.as_deref(),
        Some("see:first line\nsecond line\n  indented\ndone"),
        "sent once, as one message"
    );
    block(|| tui.wait_for_text("<bob> see:first line"));
    tui.type_keys("/exit\r");
    assert_left_cleanly(&mut alice, tui).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mouse_wheel_scrolls_the_pane() {
    let (server, mut alice, mut tui) = alice_and_bob_in_tui().await;
    assert_ne!(
        tui.parser.screen().mouse_protocol_mode(),
        vt100::MouseProtocolMode::None,
        "the client asks for mouse reports"
    );
    // One message of 40 rows (many messages would meet the rate limit).
    let long: Vec<String> = (0..40).map(|i| format!("row {i:02}")).collect();
    alice.say(&long.join("\n")).await;
    block(|| tui.wait_for_text("row 39"));
    // Wheel up, in SGR encoding, over the pane.
    tui.type_keys("\x1b[<64;10;5M\x1b[<64;10;5M");
    block(|| tui.wait_for_text("scrolled up"));
    assert!(!tui.screen().contains("row 39"), "{}", tui.screen());
    alice.say("while scrolled").await;
    block(|| tui.wait_for_text("1 new message"));
    // Back down: the 6 rows scrolled and the one that arrived meanwhile.
    tui.type_keys("\x1b[<65;10;5M\x1b[<65;10;5M\x1b[<65;10;5M");
    block(|| tui.wait_for_text("while scrolled"));
    tui.type_keys("\x03");
    assert_left_cleanly(&mut alice, tui).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_mouse_leaves_the_mouse_to_the_terminal() {
    let server = TestServer::start().await;
    let mut tui = Tui::spawn(&["connect", &server.ws_url(), "--name", "bob", "--no-mouse"]);
    block(|| tui.wait_for_text("connected │ 1 member │ as bob"));
    assert_eq!(
        tui.parser.screen().mouse_protocol_mode(),
        vt100::MouseProtocolMode::None
    );
    tui.type_keys("/quit\r");
    tui.assert_exits_cleanly();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_terminal_clients_chat() {
    let server = TestServer::start().await;
    let mut bob = Tui::connect(&server, "bob");
    block(|| bob.wait_for_text("connected │ 1 member │ as bob"));
    let mut carol = Tui::connect(&server, "carol");
    block(|| carol.wait_for_text("connected │ 2 members │ as carol"));
    // Carol has said nothing yet: the smart filter hides her join, the count shows it.
    block(|| bob.wait_for_text("connected │ 2 members │ as bob"));

    bob.type_keys("hi carol, 日本語 ok?\r");
    block(|| carol.wait_for_text("<bob> hi carol, 日本語 ok?"));
    carol.type_keys("/me nods\r");
    block(|| bob.wait_for_text("* carol nods"));
    // A mention of bob by name is highlighted on bob's screen.
    carol.type_keys("bob: see you\r");
    block(|| bob.wait_for_text("<carol> bob: see you"));
    let row = bob
        .screen()
        .lines()
        .position(|line| line.contains("bob: see you"))
        .unwrap() as u16;
    let column = bob
        .screen()
        .lines()
        .nth(row.into())
        .unwrap()
        .find("bob: see")
        .unwrap() as u16;
    let cell = bob.parser.screen().cell(row, column).unwrap().clone();
    assert!(cell.bold(), "a mention is highlighted");

    carol.type_keys("/exit\r");
    block(|| bob.wait_for_text("carol left"));
    block(|| bob.wait_for_text("connected │ 1 member │ as bob"));
    carol.assert_exits_cleanly();
    bob.type_keys("/quit\r");
    bob.assert_exits_cleanly();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_asks_for_the_password_and_masks_it() {
    let server = TestServer::start_with(chatroom::rpc::server::ServerConfig {
        password: Some(chatroom::rpc::auth::Password::new("sesame")),
        ..Default::default()
    })
    .await;
    let mut tui = Tui::connect(&server, "bob");
    block(|| tui.wait_for_text("this server needs a password"));
    tui.type_keys("guess");
    block(|| tui.wait_for_text("password: •••••"));
    assert!(!tui.screen().contains("guess"), "{}", tui.screen());
    tui.type_keys("\r");
    block(|| tui.wait_for_text("wrong password"));
    tui.type_keys("sesame\r");
    block(|| tui.wait_for_text("connected │ 1 member │ as bob"));
    let screen = tui.screen();
    assert!(
        !screen.contains("sesame") && !screen.contains("guess"),
        "{screen}"
    );
    // What was typed as a password is not offered again as a sent line: after Up, the
    // input holds only what is typed next.
    tui.type_keys("\x1b[Ax");
    block(|| tui.wait_for_text("> x"));
    assert!(!tui.screen().contains("sesame"));
    tui.type_keys("\x15"); // Ctrl-U
    tui.type_keys("/quit\r");
    tui.assert_exits_cleanly();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_is_shown_plainly_and_nothing_is_sent() {
    let made = chatroom::rpc::tls::self_signed(vec!["127.0.0.1".into()]).unwrap();
    let server = TestServer::start_with(chatroom::rpc::server::ServerConfig {
        tls: Some(made.config),
        ..Default::default()
    })
    .await;
    let mut tui = Tui::spawn(&[
        "connect",
        &format!("wss://{}", server.addr),
        "--name",
        "bob",
    ]);
    block(|| tui.wait_for_text("certificate"));
    block(|| tui.wait_for_text("not trying again"));
    tui.type_keys("/quit\r");
    tui.assert_exits_cleanly();
    // Pinned, the same client gets in.
    let pin = made.fingerprint.to_string();
    let addr = server.addr.to_string();
    let mut tui = Tui::spawn(&["connect", &addr, "--name", "bob", "--fingerprint", &pin]);
    block(|| tui.wait_for_text("connected │ 1 member │ as bob"));
    tui.type_keys("/quit\r");
    tui.assert_exits_cleanly();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_tui_hosts_a_private_tls_room_and_joins_it() {
    let dir = TempDir::new();
    let password = dir.0.join("password");
    std::fs::write(&password, "sesame\n").unwrap();
    let mut tui = Tui::spawn(&[
        "serve",
        "--tui",
        "--listen",
        "127.0.0.1:0",
        "--name",
        "host",
        "--db",
        ":memory:",
        "--tls-self-signed",
        "--password-file",
        password.to_str().unwrap(),
    ]);
    // In with its own password, trusting its own certificate; the fingerprint is shown to
    // pass on.
    block(|| tui.wait_for_text("connected │ 1 member │ as host"));
    block(|| tui.wait_for_text("TLS certificate SHA-256 fingerprint"));
    assert!(tui.screen().contains("hosting wss://"), "{}", tui.screen());
    tui.type_keys("/quit\r");
    tui.assert_exits_cleanly();
}

/// Where the member list's border is on an 80-column screen, and the rows of the pane:
/// below the header line, above the status line.
const BORDER_COLUMN: u16 = COLS - 18;
const PANE_TOP: u16 = 1;
const PANE_ROWS: u16 = ROWS - 3;

/// Every row of the message pane has the member list's border in its column.
fn border_in_place(screen: &vt100::Screen) -> bool {
    (PANE_TOP..PANE_TOP + PANE_ROWS).all(|row| {
        screen
            .cell(row, BORDER_COLUMN)
            .is_some_and(|c| c.contents() == "│")
    })
}

/// The pane's text, left of the scrollbar, row by row.
fn pane_rows(screen: &vt100::Screen) -> Vec<String> {
    screen
        .rows(0, BORDER_COLUMN - 1)
        .skip(usize::from(PANE_TOP))
        .take(usize::from(PANE_ROWS))
        .collect()
}

fn input_row(screen: &vt100::Screen) -> String {
    screen
        .rows(0, COLS)
        .nth(usize::from(ROWS - 1))
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emoji_sequences_and_conjuncts_leave_no_stray_cells() {
    let (server, mut alice, mut tui) = alice_and_bob_in_tui().await;
    alice.say("क्षत्रिय हिन्दी").await;
    alice.say("a family 👨\u{200d}👩\u{200d}👧 and 👍🏽").await;
    block(|| tui.wait_for_text("👍🏽"));
    block(|| tui.wait_for_screen("the border in its column", border_in_place));

    let typed = "hello 👍🏽 👨\u{200d}👩\u{200d}👧 क्ष";
    tui.type_keys(typed);
    block(|| tui.wait_for_text(&format!("> {typed}")));
    block(|| tui.wait_for_screen("the border in its column", border_in_place));
    tui.type_keys("\r");
    let sent = alice.next_event().await;
    assert_eq!(sent.from.name, "bob");
    // The acknowledgement can reach us after alice has the message: wait for our own line,
    // or /clear may come before it and leave it on the pane.
    block(|| tui.wait_for_text(&format!("<bob> {typed}")));
    block(|| {
        tui.wait_for_screen("an empty input row, nothing left of the emoji", |screen| {
            input_row(screen).trim_end() == ">"
        })
    });
    assert!(border_in_place(tui.parser.screen()));

    tui.type_keys("/clear\r");
    block(|| {
        tui.wait_for_screen("a wholly blank pane after /clear", |screen| {
            pane_rows(screen).iter().all(|row| row.trim().is_empty())
        })
    });
    assert!(border_in_place(tui.parser.screen()));

    tui.type_keys("\x03");
    assert_left_cleanly(&mut alice, tui).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_l_paints_the_whole_screen_again() {
    let (server, mut alice, mut tui) = alice_and_bob_in_tui().await;
    alice.say("hello bob").await;
    block(|| tui.wait_for_text("<~alice> hello bob"));
    tui.type_keys("draft");
    block(|| tui.wait_for_text("> draft"));

    // What follows Ctrl-L, fed alone to a blank terminal, must be the whole screen.
    let whole = tui.screen();
    let mut fresh = vt100::Parser::new(ROWS, COLS, 0);
    tui.type_keys("\x0c");
    let deadline = Instant::now() + WAIT;
    while fresh.screen().contents() != whole {
        let left = deadline.saturating_duration_since(Instant::now());
        match tui.output.recv_timeout(left) {
            Ok(bytes) => {
                tui.parser.process(&bytes);
                fresh.process(&bytes);
            }
            Err(_) => panic!(
                "no full redraw after Ctrl-L; a blank terminal shows:\n{}",
                fresh.screen().contents()
            ),
        }
    }
    let screen = fresh.screen().contents();
    assert!(screen.contains("<~alice> hello bob") && screen.contains("connected │ 2 members"));
    assert!(screen.ends_with("> draft"), "{screen}");

    tui.type_keys("\x03");
    assert_left_cleanly(&mut alice, tui).await;
    server.stop().await;
}

/// Starts the `chatroom serve` binary on `listen` with history in `db`, to be killed
/// outright; returns it and where it listens.
async fn serve_binary(
    listen: &str,
    db: &std::path::Path,
) -> (tokio::process::Child, std::net::SocketAddr) {
    use tokio::io::AsyncBufReadExt;
    let mut server = tokio::process::Command::new(env!("CARGO_BIN_EXE_chatroom"))
        .args(["serve", "--listen", listen, "--db"])
        .arg(db)
        .env("RUST_LOG", "info")
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut log = tokio::io::BufReader::new(server.stderr.take().unwrap()).lines();
    let addr = common::within("the server to log its address", async {
        loop {
            let line = log.next_line().await.unwrap().expect("server exited");
            if let Some((_, addr)) = line.split_once("listening addr=") {
                return addr.trim().parse().unwrap();
            }
        }
    })
    .await;
    // Keep draining the log so the server never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = log.next_line().await {} });
    (server, addr)
}

/// SIGKILL: no shutdown notice, no leaves recorded.
async fn kill_hard(server: &mut tokio::process::Child) {
    server.start_kill().unwrap();
    common::within("the server to die", server.wait())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleared_lines_stay_cleared_after_the_server_is_killed_and_back() {
    let dir = TempDir::new();
    let db = dir.0.join("chat.db");
    let (mut server, addr) = serve_binary("127.0.0.1:0", &db).await;
    let handle = TestServer::external(addr);
    let alice = Member::join(&handle, "alice").await;
    let mut tui = Tui::connect(&handle, "bob");
    block(|| tui.wait_for_text("connected │ 2 members │ as bob"));
    alice.say("theirs before the clear").await;
    block(|| tui.wait_for_text("<~alice> theirs before the clear"));
    // Our own line is newer than the last event heard from the room (our own are not
    // heard), so the reconnect's catch-up replays it.
    tui.type_keys("mine before the clear\r");
    block(|| tui.wait_for_text("<bob> mine before the clear"));
    tui.type_keys("/clear\r");
    block(|| {
        tui.wait_for_screen("a blank pane", |screen| {
            pane_rows(screen).iter().all(|row| row.trim().is_empty())
        })
    });

    kill_hard(&mut server).await;
    drop(alice);
    block(|| tui.wait_for_text("reconnecting in"));
    let (mut server, _) = serve_binary(&addr.to_string(), &db).await;
    block(|| tui.wait_for_text("reconnected as bob"));
    let carol = Member::join(&handle, "carol").await;
    carol.say("after the clear").await;
    block(|| tui.wait_for_text("<~carol> after the clear"));
    let screen = tui.screen();
    assert!(!screen.contains("before the clear"), "{screen}");

    tui.type_keys("/quit\r");
    tui.assert_exits_cleanly();
    kill_hard(&mut server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_joining_after_a_killed_server_lists_only_who_is_there() {
    let dir = TempDir::new();
    let db = dir.0.join("chat.db");
    let (mut server, addr) = serve_binary("127.0.0.1:0", &db).await;
    let handle = TestServer::external(addr);
    let carol = Member::join(&handle, "carol").await;
    carol.say("soon gone").await;
    kill_hard(&mut server).await;
    drop(carol);

    // carol's join is in the history and (the server having died) maybe not her leave.
    let (mut server, addr) = serve_binary("127.0.0.1:0", &db).await;
    let mut tui = Tui::connect(&TestServer::external(addr), "bob");
    block(|| tui.wait_for_text("<~carol> soon gone"));
    block(|| tui.wait_for_text("connected │ 1 member │ as bob"));
    let members: Vec<String> = tui
        .parser
        .screen()
        .rows(BORDER_COLUMN + 1, COLS - BORDER_COLUMN - 1)
        .skip(usize::from(PANE_TOP))
        .take(usize::from(PANE_ROWS))
        .collect();
    assert!(
        !members.iter().any(|row| row.contains("carol")),
        "{members:?}"
    );
    // Tab has no one to complete: the "!" typed after it follows "ca".
    tui.type_keys("ca\t!");
    block(|| {
        tui.wait_for_screen("the typed line", |screen| {
            input_row(screen).trim_end().ends_with('!')
        })
    });
    assert_eq!(input_row(tui.parser.screen()).trim_end(), "> ca!");

    tui.type_keys("\x03");
    tui.assert_exits_cleanly();
    kill_hard(&mut server).await;
}

/// Row `at` of the room list (rows below the header, left of its border).
fn room_row(screen: &vt100::Screen, at: u16) -> String {
    screen
        .rows(0, 17)
        .nth(usize::from(PANE_TOP + at))
        .unwrap_or_default()
}

fn header(screen: &vt100::Screen) -> String {
    screen.rows(0, COLS).next().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_rooms_switch_with_alt_2_and_ctrl_n_and_the_hidden_one_counts_what_it_missed() {
    let server = TestServer::start().await;
    let client = chatroom::rpc::client::connect(&server.ws_url())
        .await
        .unwrap();
    let carol = client
        .join(Some("carol".into()), None, Some("#ops".into()), None)
        .await
        .unwrap();
    // `ops` without its `#`, as a shell user would type it.
    let mut tui = Tui::spawn(&[
        "connect",
        &server.ws_url(),
        "--name",
        "bob",
        "--room",
        "#general",
        "--room",
        "ops",
    ]);
    block(|| {
        tui.wait_for_screen("both rooms in the list, #general in view", |s| {
            room_row(s, 0).starts_with("1 #general")
                && room_row(s, 1).starts_with("2 #ops")
                && header(s).starts_with(" #general")
        })
    });
    // Alt-2 (ESC 2 from a terminal) brings #ops into view, where carol is.
    tui.type_keys("\x1b2");
    block(|| tui.wait_for_screen("#ops in view", |s| header(s).starts_with(" #ops")));
    block(|| tui.wait_for_text("connected │ 2 members │ as bob"));
    // Ctrl-N goes on round the list, back to #general.
    tui.type_keys("\x0e");
    block(|| {
        tui.wait_for_screen("#general in view again", |s| {
            header(s).starts_with(" #general")
        })
    });

    // Carol speaks in #ops, out of view: its row counts two unread, nothing shows here.
    for text in ["deploy started", "deploy done"] {
        client
            .send(
                carol.session.clone(),
                text.into(),
                None,
                Some("#ops".into()),
            )
            .await
            .unwrap();
    }
    block(|| {
        tui.wait_for_screen("two unread in #ops", |s| {
            room_row(s, 1).trim_end().ends_with(" 2")
        })
    });
    let screen = tui.screen();
    assert!(screen.contains("news in 1 other room (Alt-A)"), "{screen}");
    assert!(!screen.contains("deploy done"), "{screen}");
    assert!(
        room_row(tui.parser.screen(), 0)
            .trim_end()
            .ends_with("#general"),
        "nothing unread in the room in view: {screen}"
    );

    // Back in #ops: the messages, below the separator, and the count gone.
    tui.type_keys("\x1b2");
    block(|| tui.wait_for_text("<~carol> deploy done"));
    block(|| {
        tui.wait_for_screen("no count left", |s| {
            room_row(s, 1).trim_end().ends_with("#ops")
        })
    });
    assert!(tui.screen().contains("new messages"), "{}", tui.screen());
    tui.type_keys("/quit\r");
    tui.assert_exits_cleanly();
    server.stop().await;
}

/// bob's client, with its identity in a key file of the test's own (kept in `dir`).
fn keyed_tui(server: &TestServer, name: &str, dir: &TempDir, extra: &[&str]) -> Tui {
    let key = dir.0.join(format!("{name}.pem"));
    let key = key.to_str().expect("a temp path is UTF-8");
    let url = server.ws_url();
    let mut args = vec!["connect", &url, "--name", name, "--identity", key];
    args.extend_from_slice(extra);
    Tui::spawn(&args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msg_opens_the_conversation_in_the_room_list_and_an_answer_counts_there() {
    let server = TestServer::start().await;
    let alice_key = Identity::generate();
    let mut alice = Member::join_as(&server, "alice", &alice_key).await;
    let dir = TempDir::new();
    let mut tui = keyed_tui(&server, "bob", &dir, &[]);
    block(|| tui.wait_for_text("connected │ 2 members │ as bob"));
    // The identity it made is told once, with where it is kept.
    let screen = tui.screen();
    assert!(
        screen.contains("new identity") && screen.contains("bob.pem"),
        "{screen}"
    );

    tui.type_keys("/msg alice lunch at noon?\r");
    block(|| {
        tui.wait_for_screen("the conversation in the room list", |s| {
            room_row(s, 1).starts_with("2 @alice")
        })
    });
    // The frame may still be on its way: waited for, not read at once.
    block(|| tui.wait_for_text("→ alice: lunch at noon?"));
    let dm = loop {
        let event = alice.next_event().await;
        if event.kind == EventKind::Message {
            assert_eq!(event.text.as_deref(), Some("lunch at noon?"));
            assert!(event.room.starts_with("dm:"), "{}", event.room);
            break event.room;
        }
    };
    // alice answers: in bob's conversation, out of view, a mention's count.
    let sent = alice
        .client
        .msg(alice.session(), "bob".into(), "sure, 12:00".into(), None)
        .await
        .unwrap();
    assert_eq!(sent.room, dm);
    block(|| {
        tui.wait_for_screen("the answer counted", |s| {
            room_row(s, 1).trim_end().ends_with("@1")
        })
    });
    tui.type_keys("\x1b2");
    block(|| tui.wait_for_text("<alice> sure, 12:00"));
    assert!(
        header(tui.parser.screen()).starts_with(" @alice"),
        "{}",
        tui.screen()
    );
    // What is typed here goes to alice alone.
    tui.type_keys("see you\r");
    let event = loop {
        let event = alice.next_event().await;
        if event.kind == EventKind::Message {
            break event;
        }
    };
    assert_eq!(
        (event.room.as_str(), event.text.as_deref()),
        (dm.as_str(), Some("see you"))
    );
    tui.type_keys("/quit\r");
    tui.assert_exits_cleanly();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whois_shows_the_key_fingerprint() {
    let server = TestServer::start().await;
    let alice_key = Identity::generate();
    let _alice = Member::join_as(&server, "alice", &alice_key).await;
    let dir = TempDir::new();
    let mut tui = keyed_tui(&server, "bob", &dir, &[]);
    block(|| tui.wait_for_text("connected │ 2 members │ as bob"));
    tui.type_keys("/whois alice\r");
    // The pane may wrap it after "key".
    let fingerprint = alice_key.public_key().fingerprint();
    block(|| tui.wait_for_text("alice: key"));
    block(|| tui.wait_for_text(&fingerprint));
    block(|| tui.wait_for_text("online, 1 session"));
    block(|| tui.wait_for_text("rooms: #general"));
    // Someone with no key at all is said plainly, on one line.
    tui.type_keys("/whois nobody\r");
    block(|| tui.wait_for_text("cannot look up nobody: nobody with a key goes by"));
    tui.type_keys("/quit\r");
    tui.assert_exits_cleanly();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_is_shown_as_a_guest() {
    let server = TestServer::start().await;
    let dir = TempDir::new();
    let mut tui = keyed_tui(&server, "bob", &dir, &[]);
    block(|| tui.wait_for_text("connected │ 1 member │ as bob"));
    // dave has no key.
    let dave = Member::join(&server, "dave").await;
    dave.say("hello, no key here").await;
    block(|| tui.wait_for_text("<~dave> hello, no key here"));
    block(|| {
        tui.wait_for_screen("~dave in the member list", |s| {
            s.rows(BORDER_COLUMN + 1, 17)
                .any(|row| row.trim() == "~dave")
        })
    });
    tui.type_keys("/whois dave\r");
    block(|| tui.wait_for_text("~dave is a guest"));
    // A guest cannot be sent a direct message: one clear line.
    tui.type_keys("/msg dave hi\r");
    block(|| tui.wait_for_text("cannot message dave:"));
    tui.type_keys("/quit\r");
    tui.assert_exits_cleanly();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_client_is_told_it_is_one_and_cannot_send_direct_messages() {
    let server = TestServer::start().await;
    let alice_key = Identity::generate();
    let _alice = Member::join_as(&server, "alice", &alice_key).await;
    let mut tui = Tui::spawn(&["connect", &server.ws_url(), "--name", "bob", "--guest"]);
    block(|| tui.wait_for_text("connected │ 2 members │ as bob"));
    assert!(tui.screen().contains("a guest"), "{}", tui.screen());
    tui.type_keys("/msg alice hi\r");
    block(|| tui.wait_for_text("cannot message alice:"));
    // Nor take a name a key owns.
    tui.type_keys("/nick alice\r");
    block(|| tui.wait_for_text("cannot take the name alice:"));
    tui.type_keys("/quit\r");
    tui.assert_exits_cleanly();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_owned_by_another_key_is_refused_on_screen() {
    let server = TestServer::start().await;
    let alice_key = Identity::generate();
    let _alice = Member::join_as(&server, "alice", &alice_key).await;
    let dir = TempDir::new();
    let mut tui = keyed_tui(&server, "alice", &dir, &[]);
    block(|| tui.wait_for_text("not trying again"));
    assert!(tui.screen().contains("alice"), "{}", tui.screen());
    tui.type_keys("/quit\r");
    tui.assert_exits_cleanly();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_read_in_another_session_of_ours_has_its_count_cleared() {
    let server = TestServer::start().await;
    let carol = Member::join(&server, "carol").await;
    carol.enter("#ops").await;
    let dir = TempDir::new();
    let mut tui = keyed_tui(
        &server,
        "bob",
        &dir,
        &["--room", "#general", "--room", "#ops"],
    );
    block(|| {
        tui.wait_for_screen("both rooms, #general in view", |s| {
            room_row(s, 1).starts_with("2 #ops") && header(s).starts_with(" #general")
        })
    });
    let mut last = 0;
    for text in ["one", "two"] {
        last = carol.say_in("#ops", text).await;
    }
    block(|| {
        tui.wait_for_screen("two unread in #ops", |s| {
            room_row(s, 1).trim_end().ends_with(" 2")
        })
    });
    // bob's laptop, with the same key, reads #ops.
    let key = Identity::load(&dir.0.join("bob.pem")).unwrap();
    let laptop = Member::join_as(&server, "bob", &key).await;
    laptop
        .client
        .mark(laptop.session(), "#ops".into(), last)
        .await
        .unwrap();
    block(|| {
        tui.wait_for_screen("the count cleared", |s| {
            room_row(s, 1).trim_end().ends_with("#ops")
        })
    });
    tui.type_keys("/quit\r");
    tui.assert_exits_cleanly();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_restart_the_client_is_back_in_its_rooms_with_what_it_missed_counted() {
    let server = TestServer::start().await;
    let carol = Member::join(&server, "carol").await;
    carol.enter("#ops").await;
    carol.say_in("#ops", "read before").await;
    let dir = TempDir::new();
    let mut tui = keyed_tui(
        &server,
        "bob",
        &dir,
        &["--room", "#general", "--room", "#ops"],
    );
    block(|| tui.wait_for_text("connected │ 2 members │ as bob"));
    // Seen, at the bottom of the room in view: the marker moves there.
    tui.type_keys("\x1b2");
    block(|| tui.wait_for_text("<~carol> read before"));
    let key = Identity::load(&dir.0.join("bob.pem")).unwrap();
    tui.type_keys("/quit\r");
    tui.assert_exits_cleanly();
    for text in ["missed one", "missed two"] {
        carol.say_in("#ops", text).await;
    }
    // Asked for no room: the server gives back its rooms (#ops, and #general it is given).
    let mut tui = keyed_tui(&server, "bob", &dir, &[]);
    block(|| {
        tui.wait_for_screen("#ops counted two unread", |s| {
            (0..4).any(|at| {
                let row = room_row(s, at);
                row.contains("#ops") && row.trim_end().ends_with(" 2")
            })
        })
    });
    let ops = (0..4)
        .find(|&at| room_row(tui.parser.screen(), at).contains("#ops"))
        .unwrap();
    tui.type_keys(&format!("\x1b{}", ops + 1));
    block(|| tui.wait_for_text("<~carol> missed two"));
    let rows = pane_rows(tui.parser.screen());
    let at = |text: &str| rows.iter().position(|row| row.contains(text));
    let (before, separator, missed) = (at("read before"), at("new messages"), at("missed one"));
    assert!(
        before < separator && separator < missed && before.is_some(),
        "the separator at the marker: {rows:#?}"
    );
    drop(key);
    tui.type_keys("/quit\r");
    tui.assert_exits_cleanly();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_one_terminal_of_ours_says_shows_in_the_other_as_ours() {
    let server = TestServer::start().await;
    let mut alice = Member::join(&server, "alice").await;
    let dir = TempDir::new();
    let mut desktop = keyed_tui(&server, "bob", &dir, &[]);
    block(|| desktop.wait_for_text("connected │ 2 members │ as bob"));
    assert_eq!(alice.next_event().await.kind, EventKind::Join);
    // The laptop, with the same key: one member still.
    let mut laptop = keyed_tui(&server, "bob", &dir, &[]);
    block(|| laptop.wait_for_text("connected │ 2 members │ as bob"));
    laptop.type_keys("bob here, from the laptop\r");
    let said = alice.next_event().await;
    assert_eq!(
        (said.kind, said.text.as_deref()),
        (EventKind::Message, Some("bob here, from the laptop")),
        "no second join before it"
    );
    block(|| desktop.wait_for_text("<bob> bob here, from the laptop"));
    // Ours, not someone naming us: no mention highlight (yellow) on the desktop.
    let screen = desktop.parser.screen();
    let row = (0..ROWS)
        .find(|&row| {
            screen
                .rows(0, COLS)
                .nth(usize::from(row))
                .is_some_and(|r| r.contains("from the laptop"))
        })
        .unwrap();
    let text_col = (0..COLS)
        .find(|&col| screen.cell(row, col).is_some_and(|c| c.contents() == "f"))
        .unwrap();
    let cell = screen.cell(row, text_col).unwrap();
    assert_ne!(
        cell.fgcolor(),
        vt100::Color::Idx(3),
        "highlighted as a mention"
    );
    laptop.type_keys("/quit\r");
    laptop.assert_exits_cleanly();
    desktop.type_keys("/quit\r");
    desktop.assert_exits_cleanly();
    server.stop().await;
}

/// Whether every piece is somewhere on the screen (a line may wrap between them).
fn shows_all(screen: &str, pieces: &[&str]) -> bool {
    pieces.iter().all(|piece| screen.contains(piece))
}

/// alice's client (a key of its own) made #ops, so owns it; bob's (another key) is in it
/// too, with #ops in view.
fn alice_owns_ops_with_bob(server: &TestServer, dir: &TempDir) -> (Tui, Tui) {
    let mut alice = keyed_tui(server, "alice", dir, &[]);
    block(|| alice.wait_for_text("connected │ 1 member"));
    alice.type_keys("/join #ops\r");
    block(|| alice.wait_for_text("you joined #ops"));
    let mut bob = keyed_tui(server, "bob", dir, &[]);
    block(|| bob.wait_for_text("connected │ 2 members │ as bob"));
    bob.type_keys("/join #ops\r");
    block(|| bob.wait_for_text("you joined #ops; 2 here"));
    // The owner is marked in bob's member list.
    block(|| bob.wait_for_text("@alice"));
    (alice, bob)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_kicks_and_the_kicked_client_says_by_whom_and_why() {
    let server = TestServer::start().await;
    let dir = TempDir::new();
    let (mut alice, mut bob) = alice_owns_ops_with_bob(&server, &dir);
    alice.type_keys("/kick bob spam\r");
    block(|| {
        bob.wait_for("the kick told", |s| {
            shows_all(s, &["You were kicked from #ops", "by alice: spam"])
        })
    });
    // Out of #ops: back in #general, which is the only room left in the list.
    block(|| bob.wait_for_screen("#general in view", |s| header(s).starts_with(" #general")));
    assert!(!bob.screen().contains("2 #ops"), "{}", bob.screen());
    block(|| {
        alice.wait_for("the kick done", |s| {
            shows_all(s, &["you kicked bob", "(spam)"])
        })
    });
    for tui in [&mut alice, &mut bob] {
        tui.type_keys("/quit\r");
        tui.assert_exits_cleanly();
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_muted_member_is_told_why_its_line_was_not_sent() {
    let server = TestServer::start().await;
    let dir = TempDir::new();
    let (mut alice, mut bob) = alice_owns_ops_with_bob(&server, &dir);
    alice.type_keys("/mute bob 10m\r");
    block(|| bob.wait_for_text("alice muted bob for 10m"));
    bob.type_keys("can I still talk?\r");
    block(|| {
        bob.wait_for("the refusal", |s| {
            shows_all(s, &["not sent: you are muted in #ops", "not speak"])
        })
    });
    assert!(!alice.screen().contains("can I still talk?"));
    alice.type_keys("/unmute bob\r");
    block(|| bob.wait_for_text("alice unmuted bob"));
    bob.type_keys("thanks\r");
    block(|| alice.wait_for_text("<bob> thanks"));
    for tui in [&mut alice, &mut bob] {
        tui.type_keys("/quit\r");
        tui.assert_exits_cleanly();
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invitation_lets_a_member_into_an_invite_only_room() {
    let server = TestServer::start().await;
    let dir = TempDir::new();
    let mut alice = keyed_tui(&server, "alice", &dir, &[]);
    block(|| alice.wait_for_text("connected │ 1 member"));
    alice.type_keys("/join #ops\r");
    block(|| alice.wait_for_text("you joined #ops"));
    alice.type_keys("/mode +i\r");
    block(|| alice.wait_for_text("you set mode +i in #ops"));
    let mut bob = keyed_tui(&server, "bob", &dir, &[]);
    block(|| bob.wait_for_text("connected │ 2 members │ as bob"));
    bob.type_keys("/join #ops\r");
    block(|| {
        bob.wait_for("the refusal", |s| {
            shows_all(s, &["cannot join #ops", "invite only"])
        })
    });
    alice.type_keys("/invite bob\r");
    block(|| alice.wait_for_text("you invited bob to #ops"));
    block(|| {
        bob.wait_for("the invitation", |s| {
            shows_all(s, &["alice invites you to #ops", "/join #ops"])
        })
    });
    bob.type_keys("/join #ops\r");
    block(|| bob.wait_for_text("you joined #ops; 2 here"));
    for tui in [&mut alice, &mut bob] {
        tui.type_keys("/quit\r");
        tui.assert_exits_cleanly();
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_alone_picks_our_message_and_enter_deletes_it_for_everyone() {
    let (server, mut alice, mut tui) = alice_and_bob_in_tui().await;
    tui.type_keys("oops, a secret\r");
    block(|| tui.wait_for_text("<bob> oops, a secret"));
    let said = loop {
        let event = alice.next_event().await;
        if event.kind == EventKind::Message {
            break event;
        }
    };
    tui.type_keys("/delete\r");
    block(|| tui.wait_for_text("pick the message to delete"));
    tui.type_keys("\r");
    block(|| tui.wait_for_text("<bob> message deleted"));
    assert!(!tui.screen().contains("a secret"), "{}", tui.screen());
    let delete = loop {
        let event = alice.next_event().await;
        if event.kind == EventKind::Delete {
            break event;
        }
    };
    assert_eq!(delete.target_seq, Some(said.seq));
    tui.type_keys("/quit\r");
    tui.assert_exits_cleanly();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_full_screen_client_takes_its_keys_from_the_config_file_and_logs_the_chat() {
    let server = TestServer::start().await;
    let mut alice = Member::join(&server, "alice").await;
    let dir = TempDir::new();
    let config = dir.0.join("config.toml");
    std::fs::write(&config, "[keys]\nnext_room = \"f5\"\n").unwrap();
    let logs = dir.0.join("logs");
    let url = server.ws_url();
    let mut tui = Tui::spawn(&[
        "connect",
        &url,
        "--name",
        "bob",
        "--room",
        "#general",
        "--room",
        "ops",
        "--config",
        config.to_str().unwrap(),
        "--chat-log",
        logs.to_str().unwrap(),
    ]);
    block(|| {
        tui.wait_for_screen("both rooms, #general in view", |s| {
            room_row(s, 1).starts_with("2 #ops") && header(s).starts_with(" #general")
        })
    });
    assert_eq!(alice.next_event().await.kind, EventKind::Join);
    // Ctrl-N is no longer the next room; F5 is.
    tui.type_keys("\x0e");
    tui.type_keys("\x1b[15~");
    block(|| tui.wait_for_screen("#ops in view", |s| header(s).starts_with(" #ops")));
    tui.type_keys("\x1b[15~");
    block(|| tui.wait_for_screen("#general again", |s| header(s).starts_with(" #general")));

    alice.say("hello bob").await;
    block(|| tui.wait_for_text("<~alice> hello bob"));
    tui.type_keys("hi alice\r");
    assert_eq!(alice.next_event().await.text.as_deref(), Some("hi alice"));
    block(|| tui.wait_for_text("<bob> hi alice"));
    tui.type_keys("/exit\r");
    tui.assert_exits_cleanly();

    let room = logs.join(server.addr.to_string()).join("#general");
    let mut text = String::new();
    for day in std::fs::read_dir(&room).unwrap() {
        let day = day.unwrap().path();
        if day.extension().is_some_and(|e| e == "log") {
            text += &std::fs::read_to_string(day).unwrap();
        }
    }
    let said: Vec<&str> = text.lines().filter_map(|line| line.get(9..)).collect();
    assert!(said.contains(&"<~alice> hello bob"), "{text}");
    assert!(said.contains(&"<bob> hi alice"), "{text}");
    server.stop().await;
}

/// `/open N` hands link N to the opener (here a script named by `CHATROOM_OPENER`) as one
/// argument, shell metacharacters and all, untouched: the script writes down what it got
/// into a FIFO the test reads.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_hands_the_link_to_the_opener_as_one_argument() {
    use std::os::unix::fs::PermissionsExt;
    let server = TestServer::start().await;
    let mut alice = Member::join(&server, "alice").await;
    let dir = TempDir::new();
    let fifo = dir.0.join("opened");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let script = dir.0.join("opener");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s\\n%s' \"$#\" \"$1\" > '{}'\n",
            fifo.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o700)).unwrap();
    let url = "https://a.example/x?a=$(id);b=|c&&d='e'&f=*;g=~h\\#end";
    let mut tui = Tui::spawn_with_env(
        &["connect", &server.ws_url(), "--name", "bob"],
        &[("CHATROOM_OPENER", script.as_os_str())],
    );
    block(|| tui.wait_for_text("connected │ 2 members │ as bob"));
    assert_eq!(alice.next_event().await.kind, EventKind::Join);
    alice.say(&format!("look: {url} (new)")).await;
    block(|| tui.wait_for_text("#end (new)"));

    let (opened, was_opened) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = opened.send(std::fs::read_to_string(&fifo));
    });
    tui.type_keys("/open 1\r");
    let got = block(|| was_opened.recv_timeout(WAIT))
        .expect("the opener ran")
        .unwrap();
    assert_eq!(got, format!("1\n{url}"));
    block(|| tui.wait_for_text("opening"));

    tui.type_keys("/exit\r");
    assert_left_cleanly(&mut alice, tui).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_then_enter_jumps_to_the_line_with_its_history_around_it() {
    let server = TestServer::start_with(chatroom::rpc::server::ServerConfig {
        chat: chatroom::domain::ChatConfig {
            rate_limit: None,
            history_len: 5,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let alice = Member::join(&server, "alice").await;
    for i in 0..60 {
        let text = if i == 40 {
            "line 40 has the needle".to_owned()
        } else {
            format!("line {i:02}")
        };
        alice.say(&text).await;
    }
    let mut tui = Tui::connect(&server, "bob");
    block(|| tui.wait_for_text("line 59"));
    tui.type_keys("/search needle\r");
    block(|| tui.wait_for_text("search needle in #general: 1 hit"));
    assert!(
        !tui.screen().contains("line 59"),
        "the results view is over the pane"
    );
    tui.type_keys("\r");
    // The pane is the history around it, anchored with five lines below the one found,
    // which is underlined.
    block(|| {
        tui.wait_for("the line jumped to", |screen| {
            screen.contains("line 40 has the needle")
                && screen.contains("line 45")
                && !screen.contains("line 46")
                && !screen.contains("search needle in")
        })
    });
    let screen = tui.parser.screen();
    let rows = pane_rows(screen);
    assert!(rows.iter().any(|row| row.contains("line 39")), "{rows:#?}");
    let row = rows.iter().position(|row| row.contains("needle")).unwrap() as u16 + PANE_TOP;
    let column = rows[usize::from(row - PANE_TOP)].find("needle").unwrap() as u16;
    let cell = screen.cell(row, column).unwrap();
    assert!(cell.underline() && cell.bold(), "the line found is marked");
    // Back to live as ever.
    tui.type_keys("\x1b[F"); // End
    block(|| tui.wait_for_text("line 59"));
    tui.type_keys("\x03");
    tui.assert_exits_cleanly();
    server.stop().await;
}
