//! Notifications from the real `chatroom connect` binary in a pseudo-terminal: the focus
//! reports it is sent (`ESC [ O`, `ESC [ I`) decide whether a mention raises OSC 777, and
//! the window title carries the unread count, pushed at start and popped at exit. The
//! output is read through vt100, whose callbacks see the OSC and window sequences.

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

/// What the terminal was asked beyond drawing, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Asked {
    /// An OSC sequence vt100 does not handle itself (777, 9), by its fields.
    Osc(Vec<String>),
    Title(String),
    /// `CSI 22 ; 0 t` (push the title) or `CSI 23 ; 0 t` (pop it).
    PushTitle,
    PopTitle,
}

#[derive(Default)]
struct Recorder(Vec<Asked>);

impl vt100::Callbacks for Recorder {
    fn unhandled_osc(&mut self, _: &mut vt100::Screen, params: &[&[u8]]) {
        let fields = params
            .iter()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect();
        self.0.push(Asked::Osc(fields));
    }

    fn set_window_title(&mut self, _: &mut vt100::Screen, title: &[u8]) {
        self.0
            .push(Asked::Title(String::from_utf8_lossy(title).into_owned()));
    }

    fn unhandled_csi(
        &mut self,
        _: &mut vt100::Screen,
        _i1: Option<u8>,
        _i2: Option<u8>,
        params: &[&[u16]],
        c: char,
    ) {
        let first = params.first().and_then(|p| p.first().copied());
        match (c, first) {
            ('t', Some(22)) => self.0.push(Asked::PushTitle),
            ('t', Some(23)) => self.0.push(Asked::PopTitle),
            _ => {}
        }
    }
}

struct Tui {
    parser: vt100::Parser<Recorder>,
    output: mpsc::Receiver<Vec<u8>>,
    input: Box<dyn Write + Send>,
    exited: mpsc::Receiver<portable_pty::ExitStatus>,
    _dir: TempDir,
}

impl Tui {
    fn spawn(args: &[&str]) -> Self {
        let pty = native_pty_system()
            .openpty(PtySize {
                rows: ROWS,
                cols: COLS,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("open a pty");
        let dir = TempDir::new();
        let mut command = CommandBuilder::new(env!("CARGO_BIN_EXE_chatroom"));
        command.args(args);
        command.arg("--log-file");
        command.arg(dir.0.join("client.log"));
        command.env("TERM", "xterm-256color");
        command.env("HOME", &dir.0);
        command.env("XDG_DATA_HOME", dir.0.join("data"));
        command.env("XDG_CONFIG_HOME", dir.0.join("config"));
        command.env("XDG_STATE_HOME", dir.0.join("state"));
        // Not wrapped for a tmux the tests may run in.
        command.env_remove("TMUX");
        let mut child = pty.slave.spawn_command(command).expect("spawn chatroom");
        drop(pty.slave);
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
        // The master must stay open while the child runs.
        std::mem::forget(pty.master);
        Self {
            parser: vt100::Parser::new_with_callbacks(ROWS, COLS, 0, Recorder::default()),
            output,
            input,
            exited,
            _dir: dir,
        }
    }

    fn screen(&self) -> String {
        self.parser.screen().contents()
    }

    fn asked(&self) -> &[Asked] {
        &self.parser.callbacks().0
    }

    /// Reads output until `done` holds of the screen and what was asked, failing after
    /// [`WAIT`].
    fn wait_for(&mut self, what: &str, done: impl Fn(&vt100::Screen, &[Asked]) -> bool) {
        let deadline = Instant::now() + WAIT;
        while !done(self.parser.screen(), self.asked()) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.output.recv_timeout(left) {
                Ok(bytes) => self.parser.process(&bytes),
                Err(_) => panic!(
                    "timed out waiting for {what}; asked {:?}; screen:\n{}",
                    self.asked(),
                    self.screen()
                ),
            }
        }
    }

    fn wait_for_text(&mut self, text: &str) {
        self.wait_for(&format!("{text:?}"), |screen, _| {
            screen.contents().contains(text)
        });
    }

    fn send(&mut self, bytes: &str) {
        self.input.write_all(bytes.as_bytes()).unwrap();
        self.input.flush().unwrap();
    }

    /// Waits for the process to end, then reads the rest of its output.
    fn wait_exit(&mut self) -> portable_pty::ExitStatus {
        let status = self.exited.recv_timeout(WAIT).expect("client did not exit");
        let deadline = Instant::now() + WAIT;
        while let Ok(bytes) = self
            .output
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            self.parser.process(&bytes);
        }
        status
    }
}

fn block<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

fn notifications(asked: &[Asked]) -> Vec<Vec<String>> {
    asked
        .iter()
        .filter_map(|a| match a {
            Asked::Osc(fields) if fields.first().map(String::as_str) == Some("777") => {
                Some(fields.clone())
            }
            _ => None,
        })
        .collect()
}

/// Sends `keys` and waits until the input line shows `shown`: every key sent before it,
/// focus reports included, has been taken in by the client.
fn typed(tui: &mut Tui, keys: &str, shown: &str) {
    tui.send(keys);
    tui.wait_for(&format!("{shown:?} in the input"), |screen, _| {
        let input = screen.rows(0, COLS).nth(usize::from(ROWS - 1));
        input.is_some_and(|row| row.trim_end().ends_with(shown))
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mention_notifies_only_while_the_terminal_is_away_and_the_title_counts_and_goes_back() {
    let server = TestServer::start().await;
    let mut alice = Member::join_as(&server, "alice", &Identity::generate()).await;
    let url = server.ws_url();
    let mut tui = Tui::spawn(&["connect", &url, "--name", "bob", "--notify-with", "osc777"]);
    block(|| tui.wait_for_text("connected │ 2 members │ as bob"));
    assert_eq!(alice.next_event().await.kind, EventKind::Join);
    block(|| {
        tui.wait_for("the title", |_, asked| {
            asked.contains(&Asked::Title("chatroom".into()))
        })
    });
    assert_eq!(
        tui.asked()[0],
        Asked::PushTitle,
        "pushed first: {:?}",
        tui.asked()
    );

    // Away: a mention raises OSC 777.
    block(|| typed(&mut tui, "\x1b[Ox", "x"));
    alice.say("bob: are you there?").await;
    block(|| {
        tui.wait_for("a notification", |_, asked| {
            !notifications(asked).is_empty()
        })
    });
    assert_eq!(
        notifications(tui.asked()),
        [vec![
            "777".to_owned(),
            "notify".into(),
            "alice in #general".into(),
            "bob: are you there?".into()
        ]]
    );

    // Back: a mention is only drawn. The notification would be written before the frame
    // that shows the line, so once the line is on screen, none came.
    block(|| typed(&mut tui, "\x1b[Iy", "xy"));
    alice.say("bob: hello again").await;
    block(|| tui.wait_for_text("bob: hello again"));
    assert_eq!(notifications(tui.asked()).len(), 1, "{:?}", tui.asked());

    // A direct message into a conversation not in view: the title counts what the room
    // list counts.
    alice
        .client
        .msg(alice.session(), "bob".into(), "psst".into(), None)
        .await
        .unwrap();
    block(|| {
        tui.wait_for(
            "a count in the title",
            |_, asked| matches!(asked.last(), Some(Asked::Title(t)) if t.starts_with('(')),
        )
    });
    let Some(Asked::Title(title)) = tui.asked().last().cloned() else {
        unreachable!("waited for")
    };
    let count = title
        .strip_prefix('(')
        .and_then(|t| t.strip_suffix(") chatroom"))
        .expect("(N) chatroom");
    block(|| {
        tui.wait_for("the count in the room list", |screen, _| {
            let row = screen.rows(0, 17).nth(2).unwrap_or_default();
            row.starts_with("2 @alice") && row.trim_end().ends_with(&format!("@{count}"))
        })
    });
    assert_eq!(
        notifications(tui.asked()).len(),
        1,
        "focused: no notification"
    );

    tui.send("\x15/exit\r");
    let status = block(|| tui.wait_exit());
    assert!(status.success(), "{status:?}");
    assert_eq!(
        tui.asked().last(),
        Some(&Asked::PopTitle),
        "the title goes back last: {:?}",
        tui.asked()
    );
    server.stop().await;
}
