//! The `chatroom` binary: parses the command line, sets up logging, and hands over to the library.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use chatroom::room::{RateLimit, RoomConfig};
use chatroom::rpc::client::ws_url;
use chatroom::rpc::server::{self, ServerConfig};
use chatroom::store::{DbLocation, Retention};
use chatroom::ui::{self, ConnectOptions};
use clap::{Args, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// A real-time terminal chat: JSON-RPC 2.0 over WebSocket, full-screen TUI.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a chat server (add --tui to chat from this terminal too).
    Serve(ServeArgs),
    /// Open the full-screen chat client and join a server.
    Connect(ConnectArgs),
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on, for WebSocket and HTTP alike.
    #[arg(long, env = "CHATROOM_LISTEN", default_value = "127.0.0.1:7777")]
    listen: SocketAddr,
    /// Also open the chat client in this terminal, joined to this server.
    #[arg(long)]
    tui: bool,
    /// Where to keep history (SQLite); `:memory:` keeps it in memory only
    /// [default: chatroom.db in the user's data directory, e.g. ~/.local/share/chatroom/].
    #[arg(long, env = "CHATROOM_DB")]
    db: Option<String>,
    /// Recent events sent to every member when it joins (0 for none).
    #[arg(long, env = "CHATROOM_HISTORY", default_value_t = 50)]
    history: usize,
    /// Delete stored events older than this many days [default: keep them].
    #[arg(long, env = "CHATROOM_RETAIN_DAYS", value_parser = clap::value_parser!(u64).range(1..))]
    retain_days: Option<u64>,
    /// Keep at most this many stored events, deleting the oldest [default: keep them all].
    #[arg(long, env = "CHATROOM_RETAIN_EVENTS", value_parser = clap::value_parser!(u64).range(1..))]
    retain_events: Option<u64>,
    /// With --tui: your name in the room [default: $USER]; ignored without --tui.
    #[arg(long, env = "CHATROOM_NAME")]
    name: Option<String>,
    /// Most open connections at once, WebSocket and HTTP together.
    #[arg(long, env = "CHATROOM_MAX_CONNECTIONS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: u32,
    /// Most open connections from one IP address (loopback is exempt unless --limit-loopback).
    #[arg(long, env = "CHATROOM_MAX_PER_IP", default_value_t = 32,
          value_parser = clap::value_parser!(u32).range(1..))]
    max_per_ip: u32,
    /// Apply --max-per-ip to loopback addresses too.
    #[arg(long, env = "CHATROOM_LIMIT_LOOPBACK")]
    limit_loopback: bool,
    /// Messages one session may send per second on average; 0 turns rate limiting off
    /// (for benchmarks).
    #[arg(long, env = "CHATROOM_RATE_LIMIT", default_value_t = 5.0, value_parser = non_negative)]
    rate_limit: f64,
    /// Messages one session may send in a burst before the rate limit applies.
    #[arg(long, env = "CHATROOM_RATE_BURST", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..))]
    rate_burst: u32,
    /// Calls allowed in one JSON-RPC batch; 0 refuses batches.
    #[arg(long, env = "CHATROOM_MAX_BATCH", default_value_t = 16)]
    max_batch: u32,
    /// Seconds a client may take to send its request headers (the WebSocket handshake).
    #[arg(long, env = "CHATROOM_HANDSHAKE_TIMEOUT_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..))]
    handshake_timeout_secs: u64,
    /// Seconds data sent to a client may go unacknowledged before the connection is dropped.
    #[arg(long, env = "CHATROOM_WRITE_TIMEOUT_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..))]
    write_timeout_secs: u64,
    /// Largest request or WebSocket message accepted, in bytes.
    #[arg(long, env = "CHATROOM_MAX_REQUEST_BYTES", default_value_t = 64 * 1024)]
    max_request_bytes: u32,
    /// Longest message text accepted, in bytes (longer messages are refused, never cut).
    #[arg(long, env = "CHATROOM_MAX_TEXT_BYTES", default_value_t = 4096)]
    max_text_bytes: usize,
    /// Events a member may have waiting; a member that falls further behind is disconnected as too slow.
    #[arg(long, env = "CHATROOM_QUEUE_CAPACITY", default_value_t = 1024,
          value_parser = clap::value_parser!(u32).range(1..))]
    queue_capacity: u32,
    /// Seconds an HTTP-only member may go without a call before it is removed.
    #[arg(long, env = "CHATROOM_HTTP_IDLE_SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..))]
    http_idle_secs: u64,
    /// With --tui: where to write the log [default: the user's state directory].
    #[arg(long, env = "CHATROOM_LOG_FILE")]
    log_file: Option<PathBuf>,
}

#[derive(Args)]
struct ConnectArgs {
    /// Server to join: host:port or a ws:// URL.
    #[arg(env = "CHATROOM_SERVER", default_value = "127.0.0.1:7777")]
    server: String,
    /// Your name in the room [default: $USER]; the server adds a suffix if it is taken.
    #[arg(long, env = "CHATROOM_NAME")]
    name: Option<String>,
    /// Where to write the log [default: the user's state directory].
    #[arg(long, env = "CHATROOM_LOG_FILE")]
    log_file: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Serve(args) if args.tui => serve_with_tui(args).await,
        Command::Serve(args) => serve(args).await,
        Command::Connect(args) => connect(args).await,
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(env_filter())
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let running = server::start(listener, server_config(&args)?, shutdown_signal()).await?;
    running.stopped().await;
    Ok(())
}

async fn serve_with_tui(args: ServeArgs) -> anyhow::Result<()> {
    log_to_file(args.log_file.as_deref())?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = server::start(listener, server_config(&args)?, async {
        let _ = stopped.await;
    })
    .await?;
    let addr = running.local_addr();
    let result = ui::run(ConnectOptions {
        url: ws_url(&addr.to_string()),
        display: format!("hosting {addr}"),
        name: args.name.or_else(default_name),
    })
    .await;
    let _ = stop.send(());
    running.stopped().await;
    result
}

async fn connect(args: ConnectArgs) -> anyhow::Result<()> {
    log_to_file(args.log_file.as_deref())?;
    ui::run(ConnectOptions {
        url: ws_url(&args.server),
        display: args.server,
        name: args.name.or_else(default_name),
    })
    .await
}

fn server_config(args: &ServeArgs) -> anyhow::Result<ServerConfig> {
    let db = match &args.db {
        Some(value) => DbLocation::parse(value),
        None => DbLocation::File(default_db_file()?),
    };
    Ok(ServerConfig {
        db,
        room: RoomConfig {
            queue_capacity: args.queue_capacity as usize,
            max_text_bytes: args.max_text_bytes,
            rate_limit: (args.rate_limit > 0.0).then_some(RateLimit {
                per_sec: args.rate_limit,
                burst: args.rate_burst,
            }),
            history_len: args.history,
            retention: Retention {
                max_events: args.retain_events,
                max_age: args
                    .retain_days
                    .map(|days| Duration::from_secs(days.saturating_mul(86_400))),
            },
        },
        max_connections: args.max_connections,
        max_per_ip: args.max_per_ip,
        limit_loopback: args.limit_loopback,
        max_request_bytes: args.max_request_bytes,
        max_batch: args.max_batch,
        handshake_timeout: Duration::from_secs(args.handshake_timeout_secs),
        write_timeout: Duration::from_secs(args.write_timeout_secs),
        http_idle_timeout: Duration::from_secs(args.http_idle_secs),
        ..ServerConfig::default()
    })
}

fn project_dirs() -> anyhow::Result<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "chatroom")
        .context("no home directory to keep files in; pass a path explicitly")
}

/// `$XDG_DATA_HOME/chatroom/chatroom.db` on Linux.
fn default_db_file() -> anyhow::Result<PathBuf> {
    Ok(project_dirs()?.data_dir().join("chatroom.db"))
}

fn non_negative(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(n) if n.is_finite() && n >= 0.0 => Ok(n),
        _ => Err(format!(
            "{value:?} is not a number of messages per second (0 or more)"
        )),
    }
}

fn default_name() -> Option<String> {
    std::env::var("USER").ok().filter(|name| !name.is_empty())
}

fn env_filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))
}

/// The TUI owns the terminal, so its log goes to a file.
fn log_to_file(path: Option<&Path>) -> anyhow::Result<()> {
    let path = match path {
        Some(path) => path.to_owned(),
        None => default_log_file()?,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create log directory {}", dir.display()))?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("cannot open log file {}", path.display()))?;
    tracing_subscriber::fmt()
        .with_env_filter(env_filter())
        .with_ansi(false)
        .with_writer(file)
        .init();
    Ok(())
}

fn default_log_file() -> anyhow::Result<PathBuf> {
    let dirs = project_dirs()?;
    let dir = dirs.state_dir().unwrap_or_else(|| dirs.data_local_dir());
    Ok(dir.join("chatroom.log"))
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing a SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("stop signal received");
}
