//! The event loop: terminal events and network events arrive on one channel, each changes
//! the [`App`], and the screen is redrawn from it.

use anyhow::Context;
use crossterm::event::{
    DisableBracketedPaste, DisableFocusChange, EnableBracketedPaste, EnableFocusChange,
    Event as TermEvent, EventStream, KeyEventKind,
};
use futures::StreamExt;
use ratatui::layout::Size;
use tokio::sync::mpsc;

use super::app::{Action, App, AppEvent, Bell, Timestamps};
use super::cells::{ChatTerminal, ClusterSafe};
use super::days::LocalNow;
use super::net::{Network, Page};
use super::render::{draw, message_rows, settled_scroll};
use crate::rpc::tls::ClientTls;

/// Events buffered between the producers and the loop.
const EVENT_BUFFER: usize = 1024;

/// What `chatroom connect` (and `serve --tui`) needs to start the client.
#[derive(Clone)] // no Debug: it holds the password
pub struct ConnectOptions {
    /// The server's address, or (`connect A,B,C`) the addresses of nodes sharing every
    /// room: the first that answers is used, and the next in turn when it goes. Never empty.
    pub servers: Vec<super::net::ServerAddress>,
    /// The name to ask for; the server may adjust it.
    pub name: Option<String>,
    /// The rooms to be in, in order (`--room`); none means the server's default room.
    pub rooms: Vec<String>,
    pub timestamps: Timestamps,
    pub bell: Bell,
    /// Lines kept in the message pane; older ones are fetched again from the server.
    pub scrollback: usize,
    /// Take the mouse wheel (which keeps the terminal from selecting text without Shift).
    pub mouse: bool,
    /// The room password, when known before joining; otherwise it is asked for if needed.
    pub password: Option<String>,
    /// How to trust a `wss://` server.
    pub tls: ClientTls,
    /// Things to tell the user first (`serve --tui`: the certificate's fingerprint; a new
    /// identity: where it was saved).
    pub notices: Vec<String>,
    /// The key to join with (`--identity`); none joins as a guest (`--guest`).
    pub identity: Option<std::sync::Arc<crate::identity::Identity>>,
    /// How long one attempt to connect may take before it counts as failed.
    pub connect_timeout: std::time::Duration,
    /// The colours to draw with (the config file's `[theme]`).
    pub theme: super::theme::Theme,
    /// The room-switching and scrolling keys (the config file's `[keys]`).
    pub keymap: super::keymap::Keymap,
    /// Where to write the chat log (`--chat-log`), if anywhere.
    pub chat_log: Option<std::path::PathBuf>,
    /// How desktop notifications are raised (`--notify-with`).
    pub notify_with: super::notify::NotifyWith,
}

/// Runs the client until the user quits. The terminal is restored on every way out,
/// panics included (ratatui's panic hook).
pub async fn run(options: ConnectOptions) -> anyhow::Result<()> {
    // The terminal first: if it cannot be set up, nobody should see us join.
    // ratatui's own set-up (raw mode, the alternate screen, the panic hook that restores
    // them), then our backend over the same stdout.
    drop(ratatui::try_init().context("cannot set up the terminal")?);
    let backend = ClusterSafe::new(ratatui::backend::CrosstermBackend::new(std::io::stdout()));
    let mut terminal = match ratatui::Terminal::new(backend) {
        Ok(terminal) => terminal,
        Err(err) => {
            restore();
            return Err(err).context("cannot set up the terminal");
        }
    };
    exit_on_panic();
    // The title is ours until exit, when the one saved here comes back (`leave_modes`).
    let modes = write_raw(super::notify::PUSH_TITLE)
        .and_then(|()| crossterm::execute!(std::io::stdout(), EnableBracketedPaste))
        .and_then(|()| crossterm::execute!(std::io::stdout(), EnableFocusChange))
        .and_then(|()| {
            if options.mouse {
                crossterm::execute!(std::io::stdout(), EnableWheel)
            } else {
                Ok(())
            }
        });
    if let Err(err) = modes {
        restore();
        return Err(err).context("cannot set up the terminal");
    }
    let (events, rx) = mpsc::channel(EVENT_BUFFER);
    let to_loop = super::chatlog::tap(
        options.chat_log.as_deref(),
        &options.servers[0].url,
        events.clone(),
    );
    let network = Network::spawn(&options, to_loop);
    tokio::spawn(read_terminal(events.clone()));
    tokio::spawn(forward_stop_signals(events));
    let mut app = App::new(options.servers[0].display.clone());
    app.wanted_name.clone_from(&options.name);
    app.timestamps = options.timestamps;
    app.bell = options.bell;
    app.theme = options.theme.clone();
    app.keymap = options.keymap.clone();
    let terminal_env = super::notify::TermEnv::from_env();
    app.notify.method = options.notify_with.method(&terminal_env);
    app.notify.tmux = terminal_env.tmux.is_some();
    app.set_scrollback(options.scrollback);
    for notice in &options.notices {
        app.inform(notice.clone());
    }
    app.set_clock(LocalNow::system());
    let result = event_loop(&mut terminal, app, rx, network).await;
    leave_modes();
    ratatui::try_restore().context("cannot restore the terminal")?;
    result
}

/// Turns off what [`run`] turned on beyond ratatui's raw mode and alternate screen: left on,
/// the shell would be sent mouse reports and paste brackets.
fn leave_modes() {
    let _ = crossterm::execute!(
        std::io::stdout(),
        DisableWheel,
        DisableBracketedPaste,
        DisableFocusChange
    );
    let _ = write_raw(super::notify::POP_TITLE);
}

/// Writes bytes around ratatui (the bell, notifications, the title), at once.
fn write_raw(bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout();
    out.write_all(bytes).and_then(|()| out.flush())
}

fn restore() {
    leave_modes();
    let _ = ratatui::try_restore();
}

/// A panic anywhere — the network task or, under `serve --tui`, the server — restores the
/// terminal (our modes here, the rest through ratatui's hook) and ends the process:
/// carrying on would draw over a normal screen.
fn exit_on_panic() {
    let restore_and_report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        leave_modes();
        restore_and_report(info);
        std::process::exit(101);
    }));
}

/// Mouse reports for buttons and the wheel only, in SGR form (modes 1000 and 1006).
/// crossterm's `EnableMouseCapture` also asks for every movement, which is a stream of
/// events a chat has no use for.
struct EnableWheel;

impl crossterm::Command for EnableWheel {
    fn write_ansi(&self, f: &mut impl std::fmt::Write) -> std::fmt::Result {
        f.write_str("\x1b[?1000h\x1b[?1006h")
    }

    #[cfg(windows)]
    fn execute_winapi(&self) -> std::io::Result<()> {
        crossterm::event::EnableMouseCapture.execute_winapi()
    }
}

struct DisableWheel;

impl crossterm::Command for DisableWheel {
    fn write_ansi(&self, f: &mut impl std::fmt::Write) -> std::fmt::Result {
        f.write_str("\x1b[?1006l\x1b[?1000l")
    }

    #[cfg(windows)]
    fn execute_winapi(&self) -> std::io::Result<()> {
        crossterm::event::DisableMouseCapture.execute_winapi()
    }
}

/// Turns SIGTERM and SIGHUP (the terminal went away) into an orderly quit.
async fn forward_stop_signals(events: mpsc::Sender<AppEvent>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut hup)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) else {
            tracing::warn!("cannot listen for SIGTERM/SIGHUP");
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = hup.recv() => {}
        }
        let _ = events.send(AppEvent::Stop).await;
    }
}

/// Feeds terminal input into the event loop's channel.
async fn read_terminal(events: mpsc::Sender<AppEvent>) {
    let mut stream = EventStream::new();
    while let Some(event) = stream.next().await {
        match event {
            Ok(event) => {
                if events.send(AppEvent::Terminal(event)).await.is_err() {
                    return;
                }
            }
            Err(err) => {
                tracing::error!(%err, "terminal input failed");
                return;
            }
        }
    }
}

async fn event_loop(
    terminal: &mut ChatTerminal,
    mut app: App,
    mut events: mpsc::Receiver<AppEvent>,
    network: Network,
) -> anyhow::Result<()> {
    // When a read marker held back (at most one move a second) is due.
    let mut mark_at: Option<tokio::time::Instant> = None;
    // The next local midnight, when lines of the day before start showing their date.
    let mut day_starts = next_day(&mut app, LocalNow::system());
    while !app.should_quit {
        terminal.draw(|frame| draw(&app, frame))?;
        let event = tokio::select! {
            event = events.recv() => event,
            () = tokio::time::sleep_until(mark_at.unwrap_or(day_starts)), if mark_at.is_some() => {
                mark_at = move_markers(&mut app, &network);
                continue;
            }
            () = tokio::time::sleep_until(day_starts) => {
                day_starts = next_day(&mut app, LocalNow::system());
                continue;
            }
        };
        let Some(event) = event else {
            break;
        };
        // The monotonic timer stands still while the machine sleeps: the clock is read
        // again whenever something happens, so a night spent suspended still turns the day.
        day_starts = next_day(&mut app, LocalNow::system());
        let mut redraw = handle(&mut app, event, &network).await;
        // Take whatever else is already waiting before drawing again, so a burst of
        // messages costs one frame, not one each.
        while !app.should_quit {
            let Ok(event) = events.try_recv() else { break };
            redraw |= handle(&mut app, event, &network).await;
        }
        if redraw {
            // Clears the terminal and forgets what ratatui believes is on it, so the next
            // frame writes every cell.
            terminal.clear()?;
        }
        // The bell, a notification and the title are the bytes written around ratatui,
        // and only when due.
        let out = app.terminal_output();
        if !out.is_empty() {
            let _ = write_raw(&out);
        }
        for page in settle(&mut app, terminal.size()?) {
            network.load(&app.room().name, page);
        }
        if let Some((room, seq)) = app.wants_jump() {
            network.around(&room, seq);
        }
        mark_at = move_markers(&mut app, &network);
    }
    Ok(())
}

/// Tells the app what time it is; returns when the next local day starts.
fn next_day(app: &mut App, now: LocalNow) -> tokio::time::Instant {
    app.set_clock(now);
    tokio::time::Instant::now() + now.until_next_day()
}

/// Moves the read markers that are due; returns when to look again, if one is held back.
fn move_markers(app: &mut App, network: &Network) -> Option<tokio::time::Instant> {
    let (marks, next) = app.due_marks(std::time::Instant::now());
    for (room, seq) in marks {
        network.mark(&room, seq);
    }
    next.map(tokio::time::Instant::from_std)
}

/// After a batch of events, before drawing, on a screen of `size`: keeps a scrolled-up view
/// still while lines come and go below it, keeps the scroll in bounds, and says which pages
/// of history the view has reached the end of.
fn settle(app: &mut App, size: Size) -> Vec<Page> {
    app.page_rows = message_rows(app, size).max(1);
    app.columns = size.width;
    app.pane_mut().hold_still();
    let (scroll, at_top) = settled_scroll(app, size);
    app.pane_mut().settle_at(scroll);
    let mut pages = Vec::new();
    if at_top && let Some(page) = app.wants_older() {
        pages.push(page);
    }
    pages.extend(app.wants_newer());
    pages
}

/// Carries out one event; returns whether the whole screen is to be painted again.
async fn handle(app: &mut App, event: AppEvent, network: &Network) -> bool {
    let action = match event {
        AppEvent::Terminal(TermEvent::Key(key)) if key.kind != KeyEventKind::Release => {
            app.handle_key(key)
        }
        AppEvent::Terminal(TermEvent::Paste(text)) => {
            app.paste(&text);
            Action::None
        }
        AppEvent::Terminal(TermEvent::Mouse(mouse)) => {
            app.handle_mouse(mouse);
            Action::None
        }
        AppEvent::Terminal(TermEvent::FocusGained) => {
            app.set_focus(true);
            Action::None
        }
        AppEvent::Terminal(TermEvent::FocusLost) => {
            app.set_focus(false);
            Action::None
        }
        AppEvent::Terminal(_) => Action::None,
        AppEvent::Stop => Action::Quit(None),
        AppEvent::Net(event) => {
            app.handle_net(event);
            Action::None
        }
    };
    match action {
        Action::None => {}
        Action::Send { room, text } => network.send(&room, text),
        Action::SendAction { room, text } => network.act(&room, text),
        Action::Nick(name) => network.nick(name),
        Action::Enter(room) => network.enter(&room),
        Action::Part { room, reason } => network.part(&room, reason),
        Action::Topic { room, topic } => network.topic(&room, topic),
        Action::ListRooms => network.rooms(),
        Action::Msg { to, text } => network.msg(&to, text),
        Action::Query(name) => network.query(&name),
        Action::Whois(name) => network.whois(&name),
        Action::Moderate { room, what } => network.moderate(&room, what),
        Action::Password(password) => network.password(password),
        Action::Notify { room, level } => network.notify(&room, level),
        Action::Search { room, all, query } => network.search(&room, all, query),
        Action::Redraw => return true,
        Action::Quit(reason) => {
            network.leave(reason).await;
            app.should_quit = true;
        }
        Action::Open(url) => {
            if let Err(err) = super::links::open(&url) {
                app.could_not_open(&url, &err);
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::types::{Event, EventKind, JoinResult, MemberInfo};
    use crate::ui::app::{DEFAULT_SCROLLBACK, NetEvent, ScrollPos};
    use ratatui::{Terminal, backend::TestBackend};
    use uuid::Uuid;

    fn pane(app: &App, size: Size) -> Vec<String> {
        let mut terminal = Terminal::new(TestBackend::new(size.width, size.height)).unwrap();
        terminal.draw(|frame| draw(app, frame)).unwrap();
        let buffer = terminal.backend().buffer();
        // Below the header line, above the status line.
        (1..size.height - 2)
            // Text only: the scrollbar moves as lines come and go out of sight.
            .map(|y| {
                (0..size.width - 1)
                    .map(|x| buffer[(x, y)].symbol())
                    .collect()
            })
            .collect()
    }

    fn message(seq: u64, text: &str) -> Event {
        Event {
            room: "#general".into(),
            seq,
            ts: 0,
            kind: EventKind::Message,
            from: MemberInfo {
                id: Uuid::from_u128(1),
                name: "alice".into(),
                guest: false,
                ..Default::default()
            },
            text: Some(text.into()),
            ..Default::default()
        }
    }

    /// bob, in an empty room, keeping `scrollback` lines.
    fn joined(scrollback: usize) -> App {
        let mut app = App::new("x:1");
        app.set_scrollback(scrollback);
        app.handle_net(NetEvent::Joined {
            result: Box::new(JoinResult {
                protocol: 2,
                room: "#general".into(),
                topic: None,
                session: "s".into(),
                id: Uuid::from_u128(2),
                name: "bob".into(),
                members: Vec::new(),
                last_seq: 0,
                history: Vec::new(),
                ..Default::default()
            }),
            resumed: false,
            reset: false,
        });
        app
    }

    #[test]
    fn an_older_page_into_a_full_pane_holds_the_view_and_then_pages_forward() {
        let size = Size::new(30, 8);
        let mut app = joined(8);
        for seq in 20..30 {
            // Lines of two rows each, so rows and lines differ.
            app.handle_net(NetEvent::Event(message(
                seq,
                &format!("number {seq} wraps onto a row"),
            )));
        }
        app.pane_mut().scroll_by = 1000;
        let pages = settle(&mut app, size);
        assert_eq!(
            pages,
            [Page::Before(22)],
            "at the top: the older page is asked for"
        );
        let before = pane(&app, size);
        app.handle_net(NetEvent::Older {
            room: "#general".into(),
            events: (19..22).map(|seq| message(seq, "older")).collect(),
        });
        let pages = settle(&mut app, size);
        assert_eq!(pane(&app, size), before, "the view did not move");
        assert_eq!(app.pane().lines.len(), 8);
        assert_eq!(app.pane().detached, Some(29));
        assert!(pages.is_empty(), "{pages:?}");

        // Paging down to the bottom of what is held asks for what follows it.
        app.pane_mut().scroll = ScrollPos::LIVE;
        let pages = settle(&mut app, size);
        assert_eq!(pages, [Page::After(26)]);
        let before = pane(&app, size);
        app.handle_net(NetEvent::Newer {
            room: "#general".into(),
            events: (27..29).map(|seq| message(seq, "newer")).collect(),
        });
        settle(&mut app, size);
        assert_eq!(
            pane(&app, size),
            before,
            "a newer page does not move the view either"
        );
        assert!(app.scrolled());
    }

    #[test]
    fn lines_on_screen_are_never_dropped_to_keep_the_cap() {
        let size = Size::new(30, 8);
        let mut app = joined(3);
        for seq in 20..23 {
            app.handle_net(NetEvent::Event(message(seq, "now")));
        }
        // Line 22 is out of sight below; 20 and 21 are on screen.
        app.pane_mut().scroll = ScrollPos { lines: 1, rows: 0 };
        assert_eq!(app.wants_older(), Some(Page::Before(20)));
        app.handle_net(NetEvent::Older {
            room: "#general".into(),
            events: (10..20).map(|seq| message(seq, "older")).collect(),
        });
        let before = pane(&app, size);
        settle(&mut app, size);
        assert_eq!(pane(&app, size), before);
        assert!(
            app.pane().lines.len() > 3,
            "over the cap while the lines are in view"
        );
    }

    #[test]
    fn new_lines_do_not_move_a_scrolled_up_view() {
        let size = Size::new(50, 8);
        let mut app = joined(DEFAULT_SCROLLBACK);
        for seq in 1..10 {
            app.handle_net(NetEvent::Event(message(seq, &format!("line {seq}"))));
        }
        app.pane_mut().scroll_by = 2;
        settle(&mut app, size);
        let before = pane(&app, size);
        app.handle_net(NetEvent::Event(message(
            10,
            "a long line that wraps onto a second row of the pane",
        )));
        settle(&mut app, size);
        assert_eq!(pane(&app, size), before);
        assert_eq!(app.pane().unseen, 1, "counted for the status line");
        // Resized narrower, the view still starts from the same line at the bottom.
        let narrow = Size::new(20, 8);
        settle(&mut app, narrow);
        let rows = pane(&app, narrow);
        assert_eq!(
            (rows[3].trim_end(), rows[4].trim_end()),
            ("00:00 <alice> line", "  7"),
            "line 7, wrapped, is still the lowest on screen"
        );
    }
}
