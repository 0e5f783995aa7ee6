//! The event loop: terminal events and network events arrive on one channel, each changes
//! the [`App`], and the screen is redrawn from it.

use anyhow::Context;
use crossterm::event::{Event as TermEvent, EventStream, KeyEventKind};
use futures::StreamExt;
use ratatui::DefaultTerminal;
use tokio::sync::mpsc;

use super::app::{Action, App, AppEvent, Bell, Timestamps};
use super::net::Network;
use super::render::{clamped_scroll, draw, rows_of_newest};

/// Events buffered between the producers and the loop.
const EVENT_BUFFER: usize = 1024;

/// What `chatroom connect` (and `serve --tui`) needs to start the client.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// WebSocket URL to connect to.
    pub url: String,
    /// The server as shown in the status line.
    pub display: String,
    /// The name to ask for; the server may adjust it.
    pub name: Option<String>,
    pub timestamps: Timestamps,
    pub bell: Bell,
}

/// Runs the client until the user quits. The terminal is restored on every way out,
/// panics included (ratatui's panic hook).
pub async fn run(options: ConnectOptions) -> anyhow::Result<()> {
    // The terminal first: if it cannot be set up, nobody should see us join.
    let mut terminal = ratatui::try_init().context("cannot set up the terminal")?;
    exit_on_panic();
    let (events, rx) = mpsc::channel(EVENT_BUFFER);
    let network = Network::spawn(options.url.clone(), options.name.clone(), events.clone());
    tokio::spawn(read_terminal(events.clone()));
    tokio::spawn(forward_stop_signals(events));
    let mut app = App::new(options.display);
    app.timestamps = options.timestamps;
    app.bell = options.bell;
    app.utc_offset_secs = i64::from(chrono::Local::now().offset().local_minus_utc());
    let result = event_loop(&mut terminal, app, rx, network).await;
    ratatui::try_restore().context("cannot restore the terminal")?;
    result
}

/// A panic anywhere — the network task or, under `serve --tui`, the server — has already
/// restored the terminal through ratatui's hook; carrying on would draw over a normal
/// screen, so the process ends instead.
fn exit_on_panic() {
    let restore_and_report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_and_report(info);
        std::process::exit(101);
    }));
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
    terminal: &mut DefaultTerminal,
    mut app: App,
    mut events: mpsc::Receiver<AppEvent>,
    network: Network,
) -> anyhow::Result<()> {
    while !app.should_quit {
        app.page_rows = usize::from(terminal.size()?.height.saturating_sub(2)).max(1);
        terminal.draw(|frame| draw(&app, frame))?;
        let Some(event) = events.recv().await else {
            break;
        };
        handle(&mut app, event, &network).await;
        // Take whatever else is already waiting before drawing again, so a burst of
        // messages costs one frame, not one each.
        while !app.should_quit {
            let Ok(event) = events.try_recv() else { break };
            handle(&mut app, event, &network).await;
        }
        if std::mem::take(&mut app.ring_bell) {
            // BEL is the one byte written around ratatui, and only when asked for.
            use std::io::Write;
            let mut out = std::io::stdout();
            let _ = out.write_all(b"\x07").and_then(|()| out.flush());
        }
        let size = terminal.size()?;
        if app.appended_while_scrolled > 0 {
            // Hold a scrolled-up view still while lines arrive below it.
            if app.scroll > 0 {
                app.scroll += rows_of_newest(&app, size, app.appended_while_scrolled);
            }
            app.appended_while_scrolled = 0;
        }
        let (scroll, at_top) = clamped_scroll(&app, size);
        app.scroll = scroll;
        if scroll == 0 {
            app.unseen = 0;
        }
        if at_top && let Action::LoadOlder(before) = app.wants_older() {
            network.load_older(before);
        }
    }
    Ok(())
}

async fn handle(app: &mut App, event: AppEvent, network: &Network) {
    let action = match event {
        AppEvent::Terminal(TermEvent::Key(key)) if key.kind != KeyEventKind::Release => {
            app.handle_key(key)
        }
        AppEvent::Terminal(_) => Action::None,
        AppEvent::Stop => Action::Quit,
        AppEvent::Net(event) => {
            app.handle_net(event);
            Action::None
        }
    };
    match action {
        Action::None => {}
        Action::Send(text) => network.send(text),
        Action::SendAction(text) => network.act(text),
        Action::Nick(name) => network.nick(name),
        Action::LoadOlder(before) => network.load_older(before),
        Action::Quit => {
            network.leave().await;
            app.should_quit = true;
        }
    }
}
