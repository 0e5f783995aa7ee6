//! The `chatroom` binary: parses the command line, sets up logging, and hands over to the library.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use chatroom::bench::BenchConfig;
use chatroom::room::{RateLimit, RoomConfig};
use chatroom::rpc::auth::Password;
use chatroom::rpc::client::{CONNECT_TIMEOUT, error_line, server_url};
use chatroom::rpc::server::{self, ServerConfig};
use chatroom::rpc::tls::{self, ClientTls, Fingerprint};
use chatroom::store::{DbLocation, Retention};
use chatroom::ui::app::{Bell, DEFAULT_SCROLLBACK, Timestamps};
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
    /// Open the full-screen chat client and join a server. If the room needs a password and
    /// none was given, it asks for one.
    Connect(ConnectArgs),
    /// Measure a server's fan-out: many members, some publishing, every delivery checked.
    /// Run the server under test with `--rate-limit 0`.
    Bench(BenchArgs),
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on, for WebSocket and HTTP alike: an IP address or a host name,
    /// and a port.
    #[arg(long, env = "CHATROOM_LISTEN", default_value = "127.0.0.1:7777")]
    listen: String,
    /// Also open the chat client in this terminal, joined to this server.
    #[arg(long)]
    tui: bool,
    /// Where to keep history (SQLite), in a directory that exists; `:memory:` keeps it in
    /// memory only [default: chatroom.db in the user's data directory, made if need be,
    /// e.g. ~/.local/share/chatroom/].
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
    /// Calls one WebSocket connection may have in flight; its next message is read only once
    /// one of them has had its answer written.
    #[arg(long, env = "CHATROOM_MAX_CALLS_PER_CONNECTION", default_value_t = 8,
          value_parser = clap::value_parser!(u32).range(1..))]
    max_calls_per_connection: u32,
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
    /// A file holding the room's password: joining then needs it. Or set CHATROOM_PASSWORD
    /// (there is no --password flag: it would show in `ps`).
    #[arg(long, env = "CHATROOM_PASSWORD_FILE")]
    password_file: Option<PathBuf>,
    /// Serve wss:// and https:// with this certificate chain (PEM); needs --tls-key.
    #[arg(long, env = "CHATROOM_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) for --tls-cert.
    #[arg(long, env = "CHATROOM_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Serve wss:// with a certificate made up for this run, and print its fingerprint for
    /// clients to pin with `connect --fingerprint`.
    #[arg(long, conflicts_with = "tls_cert")]
    tls_self_signed: bool,
    /// The chat client's settings, used with --tui.
    #[command(flatten, next_help_heading = "Client options (only with --tui)")]
    client: ClientArgs,
}

/// How a client trusts a `wss://` server (the system's roots unless told otherwise), and the
/// room's password.
#[derive(Args)]
struct AccessArgs {
    /// Trust the CA (or self-signed certificate) in this PEM file for wss://, instead of the
    /// system's roots.
    #[arg(long, env = "CHATROOM_CA_FILE")]
    ca_file: Option<PathBuf>,
    /// Trust exactly the wss:// certificate with this SHA-256 fingerprint, as
    /// `serve --tls-self-signed` prints it.
    #[arg(long, env = "CHATROOM_FINGERPRINT", conflicts_with = "ca_file")]
    fingerprint: Option<Fingerprint>,
    /// A file holding the room's password. Or set CHATROOM_PASSWORD.
    #[arg(long, env = "CHATROOM_PASSWORD_FILE")]
    password_file: Option<PathBuf>,
}

impl AccessArgs {
    fn tls(&self) -> ClientTls {
        ClientTls {
            ca_file: self.ca_file.clone(),
            fingerprint: self.fingerprint,
        }
    }

    /// `host:port` as a URL: `wss://` when a way to trust a certificate was given, which a
    /// `ws://` URL contradicts (it would quietly send everything in the clear).
    fn url(&self, target: &str) -> anyhow::Result<String> {
        let trusting = self.ca_file.is_some() || self.fingerprint.is_some();
        if trusting && target.starts_with("ws://") {
            anyhow::bail!("--ca-file and --fingerprint are for wss:// servers, not {target}");
        }
        Ok(server_url(target, if trusting { "wss" } else { "ws" })?)
    }

    /// The password to join with, if one was given; an empty one counts as none.
    fn password(&self) -> anyhow::Result<Option<String>> {
        Ok(read_password(self.password_file.as_deref())?.filter(|p| !p.is_empty()))
    }
}

#[derive(Args)]
struct ConnectArgs {
    /// Server to join: host[:port] (port 7777 unless given), or a ws:// or wss:// URL.
    #[arg(env = "CHATROOM_SERVER", default_value = "127.0.0.1:7777")]
    server: String,
    #[command(flatten)]
    client: ClientArgs,
    /// Give up on an attempt to connect that has not got through the handshake in this long
    /// (e.g. 10s, 500ms); the client then tries again as after any failure.
    #[arg(long, env = "CHATROOM_CONNECT_TIMEOUT", value_parser = positive_duration,
          default_value = "10s")]
    connect_timeout: Duration,
    /// In plain mode, exit with an error when the connection is lost instead of
    /// reconnecting and catching up.
    #[arg(long)]
    no_reconnect: bool,
    #[command(flatten)]
    access: AccessArgs,
    /// No full screen: send each line of stdin, print each event as a line on stdout, and
    /// exit at the end of input. Chosen by itself when stdin or stdout is not a terminal.
    #[arg(long)]
    plain: bool,
    /// In plain mode, print each event as one JSON object per line.
    #[arg(long)]
    json: bool,
}

/// What the chat client takes, for `connect` and `serve --tui` alike.
#[derive(Args)]
struct ClientArgs {
    /// Your name in the room [default: $USER]; the server adds a suffix if it is taken.
    #[arg(long, env = "CHATROOM_NAME")]
    name: Option<String>,
    /// Where the client writes its log [default: the user's state directory].
    #[arg(long, env = "CHATROOM_LOG_FILE")]
    log_file: Option<PathBuf>,
    /// How much of each message's time to show, in local time.
    #[arg(long, env = "CHATROOM_TIMESTAMPS", value_enum, default_value = "time")]
    timestamps: Timestamps,
    /// Ring the terminal bell when someone names you, for every message, or never.
    #[arg(long, env = "CHATROOM_BELL", value_enum, default_value = "off")]
    bell: Bell,
    /// Lines kept in memory for scrolling back; older ones are fetched from the server again.
    #[arg(long, env = "CHATROOM_SCROLLBACK", default_value_t = DEFAULT_SCROLLBACK as u64,
          value_parser = clap::value_parser!(u64).range(1000..=1_000_000))]
    scrollback: u64,
    /// Leave the mouse to the terminal (plain text selection) instead of scrolling with
    /// the wheel.
    #[arg(long, env = "CHATROOM_NO_MOUSE")]
    no_mouse: bool,
}

impl ClientArgs {
    fn options(
        self,
        url: String,
        display: String,
        password: Option<String>,
        tls: ClientTls,
    ) -> ConnectOptions {
        ConnectOptions {
            password,
            tls,
            notice: None,
            connect_timeout: CONNECT_TIMEOUT,
            url,
            display,
            name: self.name.or_else(default_name),
            timestamps: self.timestamps,
            bell: self.bell,
            scrollback: self.scrollback as usize,
            mouse: !self.no_mouse,
        }
    }
}

#[derive(Args)]
struct BenchArgs {
    /// Server to measure: host[:port] (port 7777 unless given), or a ws:// or wss:// URL.
    #[arg(env = "CHATROOM_SERVER", default_value = "127.0.0.1:7777")]
    server: String,
    #[command(flatten)]
    access: AccessArgs,
    /// Members to open.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(2..))]
    clients: u64,
    /// How many of the members publish.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..))]
    publishers: u64,
    /// Messages each publisher sends.
    #[arg(long, default_value_t = 1000, conflicts_with = "duration")]
    messages: u64,
    /// Publish for this long instead of a number of messages (e.g. 10s, 2m).
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Messages per second per publisher; 0 sends the next as soon as the last is acknowledged.
    #[arg(long, default_value_t = 0.0, value_parser = non_negative)]
    rate: f64,
    /// Payload size in bytes (at least the ~30-byte header that numbers it).
    #[arg(long, default_value_t = 128)]
    size: usize,
    /// Print one JSON object with the results instead of text and a progress bar.
    #[arg(long)]
    json: bool,
    /// Step the member count up (500, 1000, 2000, …) until the p95 send-acknowledge round
    /// trip passes 500 ms, printing a row per step.
    #[arg(long, conflicts_with = "clients")]
    ramp: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Serve(args) if args.tui => serve_with_tui(args).await,
        Command::Serve(args) => serve(args).await,
        Command::Connect(args) => connect(args).await,
        Command::Bench(args) => bench(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // One line, each cause once. Never `{:?}`: that is anyhow's report for developers,
        // with a backtrace under RUST_BACKTRACE; those are for panics, which are bugs.
        Err(err) => {
            eprintln!("error: {}", error_line(err.chain()));
            ExitCode::FAILURE
        }
    }
}

async fn bench(args: BenchArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    anyhow::ensure!(
        args.publishers <= args.clients,
        "--publishers ({}) cannot exceed --clients ({})",
        args.publishers,
        args.clients
    );
    let config = BenchConfig {
        url: args.access.url(&args.server)?,
        tls: args.access.tls(),
        password: args.access.password()?,
        clients: args.clients as usize,
        publishers: args.publishers as usize,
        messages: args.duration.is_none().then_some(args.messages),
        duration: args.duration,
        rate: args.rate,
        size: args.size,
    };
    if args.ramp {
        if !args.json {
            println!(
                "{:>8}  {:>12}  {:>10}  {:>10}  {:>10}  {:>6}",
                "members", "deliveries/s", "ack p95 ms", "ack p99 ms", "lat p99 ms", "lost"
            );
        }
        let steps = chatroom::bench::ramp(&config, |step| {
            if args.json {
                return;
            }
            match &step.report {
                Ok(r) => println!(
                    "{:>8}  {:>12.0}  {:>10.1}  {:>10.1}  {:>10.1}  {:>6}",
                    step.clients,
                    r.deliveries_per_sec,
                    r.ack_ms.p95,
                    r.ack_ms.p99,
                    r.latency_ms.p99,
                    r.lost
                ),
                Err(err) => println!("{:>8}  failed: {err}", step.clients),
            }
        })
        .await;
        if args.json {
            let rows: Vec<_> = steps
                .iter()
                .map(|step| match &step.report {
                    Ok(report) => serde_json::to_value(report).expect("reports serialize"),
                    Err(err) => {
                        serde_json::json!({ "clients": step.clients, "error": err.to_string() })
                    }
                })
                .collect();
            println!("{}", serde_json::Value::Array(rows));
        }
        let clean = steps
            .iter()
            .all(|step| step.report.as_ref().is_ok_and(|r| r.is_clean()) || step.report.is_err());
        anyhow::ensure!(clean, "messages were lost, duplicated or reordered");
        return Ok(());
    }

    let bar = if args.json {
        indicatif::ProgressBar::hidden()
    } else {
        eprintln!(
            "opening {} members ({} publishing) on {} …",
            config.clients, config.publishers, config.url
        );
        let bar = indicatif::ProgressBar::new_spinner();
        bar.enable_steady_tick(Duration::from_millis(100));
        bar
    };
    let report = {
        let bar = bar.clone();
        chatroom::bench::run(&config, move |deliveries, sent| {
            bar.set_message(format!("{sent} sent, {deliveries} delivered"));
        })
        .await
    };
    bar.finish_and_clear();
    let report = report?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_report(&report);
    }
    anyhow::ensure!(
        report.is_clean(),
        "{} lost, {} duplicated, {} out of order",
        report.lost,
        report.duplicated,
        report.out_of_order
    );
    Ok(())
}

fn print_report(r: &chatroom::bench::Report) {
    let p = |p: &chatroom::bench::Percentiles| {
        format!(
            "p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
            p.p50, p.p90, p.p99, p.p999, p.max
        )
    };
    println!(
        "members      {} connected in {:.2} s ({} publishing)",
        r.clients, r.connect_s, r.publishers
    );
    println!("messages     {} sent", r.messages_sent);
    println!(
        "deliveries   {} of {} expected: {} lost, {} duplicated, {} out of order",
        r.deliveries, r.deliveries_expected, r.lost, r.duplicated, r.out_of_order
    );
    println!(
        "throughput   {:.0} deliveries/s over {:.2} s",
        r.deliveries_per_sec, r.elapsed_s
    );
    println!("latency ms   {}", p(&r.latency_ms));
    println!(
        "ack ms       p50 {:.2}  p95 {:.2}  p99 {:.2}",
        r.ack_ms.p50, r.ack_ms.p95, r.ack_ms.p99
    );
}

/// `10s`, `2m`, `500ms`, or a plain number of seconds.
fn parse_duration(value: &str) -> Result<Duration, String> {
    let (number, unit) = value
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or((value, "s"), |at| value.split_at(at));
    let number: f64 = number
        .parse()
        .map_err(|_| format!("{value:?} is not a duration"))?;
    let seconds = match unit {
        "ms" => number / 1000.0,
        "s" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        _ => return Err(format!("{value:?}: use ms, s, m or h")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|err| err.to_string())
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(env_filter())
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    let (listener, bound) = listen(&args.listen).await?;
    let Served {
        config,
        fingerprint,
        ..
    } = server_config(&args, bound)?;
    if let Some(fingerprint) = fingerprint.filter(|_| args.tls_self_signed) {
        // On stdout, not only in the log: this is what clients need to be told.
        println!("TLS certificate SHA-256 fingerprint: {fingerprint}");
        println!(
            "clients connect with: chatroom connect wss://HOST:{} --fingerprint {fingerprint}",
            bound.port()
        );
    }
    let running = server::start(listener, config, shutdown_signal()).await?;
    running.stopped().await;
    Ok(())
}

async fn serve_with_tui(args: ServeArgs) -> anyhow::Result<()> {
    log_to_file(args.client.log_file.as_deref())?;
    let (listener, bound) = listen(&args.listen).await?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let Served {
        config,
        fingerprint,
        password,
    } = server_config(&args, bound)?;
    let running = server::start(listener, config, async {
        let _ = stopped.await;
    })
    .await?;
    let addr = running.local_addr();
    // The hosting client trusts its own server by its certificate's fingerprint.
    let (url, display) = match fingerprint {
        Some(_) => (format!("wss://{addr}"), format!("hosting wss://{addr}")),
        None => (format!("ws://{addr}"), format!("hosting {addr}")),
    };
    let tls = ClientTls {
        ca_file: None,
        fingerprint,
    };
    let mut options = args.client.options(url, display, password, tls);
    if let Some(fingerprint) = fingerprint {
        options.notice = Some(format!(
            "TLS certificate SHA-256 fingerprint, for `chatroom connect --fingerprint`: {fingerprint}"
        ));
    }
    let result = ui::run(options).await;
    let _ = stop.send(());
    running.stopped().await;
    result
}

async fn connect(args: ConnectArgs) -> anyhow::Result<()> {
    log_to_file(args.client.log_file.as_deref())?;
    let plain = args.plain
        || args.json
        || !std::io::stdin().is_terminal()
        || !std::io::stdout().is_terminal();
    let mut options = args.client.options(
        args.access.url(&args.server)?,
        args.server.clone(),
        args.access.password()?,
        args.access.tls(),
    );
    options.connect_timeout = args.connect_timeout;
    if plain {
        ui::plain::run(options, args.json, !args.no_reconnect).await
    } else {
        ui::run(options).await
    }
}

/// What `chatroom serve`'s flags come to.
struct Served {
    config: ServerConfig,
    /// Its certificate's, when it serves TLS.
    fingerprint: Option<Fingerprint>,
    /// The room password as given, for `--tui` to join with.
    password: Option<String>,
}

/// Listens where `--listen` says: an IP address, or a host name resolved (the first of its
/// addresses that can be bound). Returns the address bound.
async fn listen(addr: &str) -> anyhow::Result<(tokio::net::TcpListener, SocketAddr)> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let bound = listener.local_addr().context("the bound address")?;
    Ok((listener, bound))
}

fn server_config(args: &ServeArgs, bound: SocketAddr) -> anyhow::Result<Served> {
    let default = default_db_file()?;
    let db = match &args.db {
        Some(value) => DbLocation::parse(value),
        None => DbLocation::File(default.clone()),
    };
    // The default directory is ours to make, however it was named; any other directory
    // named with --db must exist already.
    if db == DbLocation::File(default.clone())
        && let Some(dir) = default.parent()
    {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    }
    let password = read_password(args.password_file.as_deref())?;
    if password.as_deref() == Some("") {
        anyhow::bail!("the password is empty");
    }
    let (tls, fingerprint) = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            let tls = tls::server_config(cert, key)?;
            (Some(tls.config), Some(tls.fingerprint))
        }
        _ if args.tls_self_signed => {
            let mut names = vec!["localhost".to_owned()];
            if !bound.ip().is_unspecified() {
                names.push(bound.ip().to_string());
            }
            let made = tls::self_signed(names)?;
            (Some(made.config), Some(made.fingerprint))
        }
        _ => (None, None),
    };
    if let Some(fingerprint) = fingerprint {
        tracing::info!(%fingerprint, "serving TLS");
    }
    let config = ServerConfig {
        password: password.as_deref().map(Password::new),
        tls,
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
            ..RoomConfig::default()
        },
        max_connections: args.max_connections,
        max_per_ip: args.max_per_ip,
        limit_loopback: args.limit_loopback,
        max_request_bytes: args.max_request_bytes,
        max_calls_per_connection: args.max_calls_per_connection,
        max_batch: args.max_batch,
        handshake_timeout: Duration::from_secs(args.handshake_timeout_secs),
        write_timeout: Duration::from_secs(args.write_timeout_secs),
        http_idle_timeout: Duration::from_secs(args.http_idle_secs),
        ..ServerConfig::default()
    };
    Ok(Served {
        config,
        fingerprint,
        password,
    })
}

/// The password from `file` (its last line break dropped) or else from CHATROOM_PASSWORD.
fn read_password(file: Option<&Path>) -> anyhow::Result<Option<String>> {
    if let Some(file) = file {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read the password file {}", file.display()))?;
        let password = text.strip_suffix('\n').unwrap_or(&text);
        return Ok(Some(
            password.strip_suffix('\r').unwrap_or(password).to_owned(),
        ));
    }
    Ok(std::env::var("CHATROOM_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty()))
}

fn project_dirs() -> anyhow::Result<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "chatroom")
        .context("no home directory to keep files in; pass a path explicitly")
}

/// `$XDG_DATA_HOME/chatroom/chatroom.db` on Linux.
fn default_db_file() -> anyhow::Result<PathBuf> {
    Ok(project_dirs()?.data_dir().join("chatroom.db"))
}

/// [`parse_duration`], and more than nothing.
fn positive_duration(value: &str) -> Result<Duration, String> {
    match parse_duration(value)? {
        Duration::ZERO => Err(format!("{value:?} is no time at all")),
        duration => Ok(duration),
    }
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

/// Resolves on Ctrl-C or SIGTERM. The handlers are in place as soon as this returns, so a
/// signal that comes while history is still opening stops the server cleanly too.
#[cfg(unix)]
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("installing a SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("installing a SIGINT handler");
    async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        tracing::info!("stop signal received");
    }
}

/// Resolves on Ctrl-C.
#[cfg(not(unix))]
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("stop signal received");
    }
}
