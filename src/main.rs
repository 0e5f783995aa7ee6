//! The `chatroom` binary: parses the command line and hands each subcommand to `cli`, which
//! sets it up (logging, files, the server's settings) and runs it on the library.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use chatroom::rpc::client::{CONNECT_TIMEOUT, error_line, server_url};
use chatroom::rpc::tls::{ClientTls, Fingerprint};
use chatroom::ui::ConnectOptions;
use chatroom::ui::app::{Bell, DEFAULT_SCROLLBACK, Timestamps};
use chatroom::ui::config::{parse_duration, positive_duration, typed_room};
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use cli::setup::read_password;

mod cli;

/// jemalloc rather than glibc's allocator: it gives back the pages a burst (a join storm)
/// freed, where glibc's keeps them, fragmented, in its arenas. See docs/BENCHMARKS.md,
/// "Issue 15: memory per idle member".
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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
    Serve(Box<ServeArgs>),
    /// Open the full-screen chat client and join a server. If the server needs a password and
    /// none was given, it asks for one.
    Connect(ConnectArgs),
    /// Measure a server's fan-out: many members, some publishing, every delivery checked.
    /// Run the server under test with `--rate-limit 0`.
    Bench(BenchArgs),
    /// Look after a stopped server's database: list its rooms, identities and bans, ban and
    /// unban, delete a room, export a room's history. Refused while a server runs on it.
    Admin(cli::admin::AdminArgs),
    /// Show the client's settings in effect, as TOML for the config file, each with where
    /// it came from (flag, env, file, default); or where the config file is looked for.
    Config(ConfigArgs),
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("show").required(true).args(["print", "path"])))]
struct ConfigArgs {
    /// Print every setting `connect` would use (with the flags given here too).
    #[arg(long)]
    print: bool,
    /// Print the config file's path.
    #[arg(long)]
    path: bool,
    #[command(flatten)]
    connect: ConnectArgs,
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
    #[arg(long, env = "CHATROOM_DB", conflicts_with = "cluster")]
    db: Option<String>,
    /// Share every room, with its history, names and moderation, with the other servers
    /// on a NATS JetStream cluster (2.11 or newer): its servers' URLs, comma-separated,
    /// e.g. nats://127.0.0.1:4222,nats://127.0.0.1:4223. See docs/CLUSTER.md.
    #[arg(long, env = "CHATROOM_CLUSTER", value_name = "URLS")]
    cluster: Option<String>,
    /// Copies the cluster keeps of every room's stream and of its buckets: 3 for a
    /// three-server engine, 1 for a single NATS server.
    #[arg(long, env = "CHATROOM_CLUSTER_REPLICAS", default_value_t = 3, requires = "cluster",
          value_parser = clap::value_parser!(u64).range(1..=5))]
    cluster_replicas: u64,
    /// Recent events sent to every member when it joins (0 for none).
    #[arg(long, env = "CHATROOM_HISTORY", default_value_t = 50)]
    history: usize,
    /// The room everyone lands in, and the one calls that name no room mean.
    #[arg(long, env = "CHATROOM_DEFAULT_ROOM", default_value = "#general", value_parser = room_name)]
    default_room: String,
    /// Most rooms on the server; creating one more is refused.
    #[arg(long, env = "CHATROOM_MAX_ROOMS", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..))]
    max_rooms: u64,
    /// Most rooms one member may be in at once.
    #[arg(long, env = "CHATROOM_MAX_ROOMS_PER_MEMBER", default_value_t = 100,
          value_parser = clap::value_parser!(u64).range(1..))]
    max_rooms_per_member: u64,
    /// Release a name whose key has not connected for this many days.
    #[arg(long, env = "CHATROOM_NAME_EXPIRY_DAYS", default_value_t = 365,
          value_parser = clap::value_parser!(u64).range(1..))]
    name_expiry_days: u64,
    /// Rooms one IP address may create per minute, in a burst of as many (loopback is exempt
    /// unless --limit-loopback).
    #[arg(long, env = "CHATROOM_ROOM_CREATIONS_PER_MINUTE", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..))]
    room_creations_per_minute: u32,
    /// Delete stored events older than this many days [default: keep them].
    #[arg(long, env = "CHATROOM_RETAIN_DAYS", value_parser = clap::value_parser!(u64).range(1..))]
    retain_days: Option<u64>,
    /// Keep at most this many stored events per room, deleting the oldest [default: keep
    /// them all].
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
    /// Members above which a room is large: there each join and leave is no longer sent to
    /// everyone, but summed up in one presence event four times a second (the room is small
    /// again at half this). 0: never.
    #[arg(long, env = "CHATROOM_LARGE_ROOM", default_value_t = chatroom::domain::DEFAULT_LARGE_ROOM)]
    large_room: usize,
    /// Events a member may have waiting; a member that falls further behind is disconnected as too slow.
    #[arg(long, env = "CHATROOM_QUEUE_CAPACITY", default_value_t = 1024,
          value_parser = clap::value_parser!(u32).range(1..))]
    queue_capacity: u32,
    /// Seconds an HTTP-only member may go without a call before it is removed.
    #[arg(long, env = "CHATROOM_HTTP_IDLE_SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..))]
    http_idle_secs: u64,
    /// A file holding the server's password: joining then needs it. Or set CHATROOM_PASSWORD
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
    /// A file of server operators: one key fingerprint (`SHA256:…`, as /whois shows it) a
    /// line, `#` comments allowed. Read again on SIGHUP (with --tui, at start only). With
    /// --tui, this terminal's own key is a server operator too.
    #[arg(long, env = "CHATROOM_OPERATORS")]
    operators: Option<PathBuf>,
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
    /// Server to join: host[:port] (port 7777 unless given), or a ws:// or wss:// URL. Or
    /// several, comma-separated, of nodes that share every room (a cluster): the client
    /// uses the first that answers and, when its connection is lost, the next in turn.
    #[arg(
        env = "CHATROOM_SERVER",
        default_value = "127.0.0.1:7777",
        value_name = "SERVER[,…]"
    )]
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
    /// In plain mode, move your read markers over what is printed (otherwise plain mode
    /// leaves them alone, and your other clients' unread counts with them).
    #[arg(long)]
    mark_read: bool,
}

/// What the chat client takes, for `connect` and `serve --tui` alike.
#[derive(Args)]
struct ClientArgs {
    /// Your name on the server [default: $USER]; the server adds a suffix if it is taken.
    #[arg(long, env = "CHATROOM_NAME")]
    name: Option<String>,
    /// A room to be in, such as `#ops` (the `#` may be left out); give it again for more,
    /// joined in order. In plain mode, input lines go to the first [default: the server's
    /// default room].
    #[arg(long = "room", value_name = "NAME", value_parser = typed_room)]
    rooms: Vec<String>,
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
    /// Your identity: the key file that proves your name is yours, made on first use (mode
    /// 0600) [default: identity.pem in the user's data directory, e.g.
    /// ~/.local/share/chatroom/].
    #[arg(
        long,
        env = "CHATROOM_IDENTITY",
        value_name = "FILE",
        conflicts_with = "guest"
    )]
    identity: Option<PathBuf>,
    /// Join without a key, as a guest: under a name no key owns, remembered nowhere.
    #[arg(long)]
    guest: bool,
    /// Colours chosen for a dark or a light terminal background [default: dark].
    #[arg(long, env = "CHATROOM_PALETTE", value_enum)]
    palette: Option<chatroom::ui::theme::Palette>,
    /// The config file, which must exist [default: config.toml in the user's config
    /// directory, e.g. ~/.config/chatroom/, if there is one].
    #[arg(long, env = "CHATROOM_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Write every room's lines to DIR/<server>/<room>/YYYY-MM-DD.log, as plain text.
    #[arg(long, env = "CHATROOM_CHAT_LOG", value_name = "DIR")]
    chat_log: Option<PathBuf>,
    /// How to raise a desktop notification while the terminal is away (a mention, a
    /// direct message, a room set to `/notify all`): picked by the terminal, OSC 777,
    /// OSC 9, the bell, or never.
    #[arg(long, env = "CHATROOM_NOTIFY_WITH", value_enum, default_value = "auto")]
    notify_with: chatroom::ui::notify::NotifyWith,
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
            notices: Vec::new(),
            identity: None,
            connect_timeout: CONNECT_TIMEOUT,
            servers: vec![chatroom::ui::net::ServerAddress { url, display }],
            name: self.name.or_else(default_name),
            rooms: self.rooms,
            timestamps: self.timestamps,
            bell: self.bell,
            scrollback: self.scrollback as usize,
            mouse: !self.no_mouse,
            theme: chatroom::ui::theme::Theme::new(self.palette.unwrap_or_default(), None),
            keymap: chatroom::ui::keymap::Keymap::default(),
            chat_log: self.chat_log,
            notify_with: self.notify_with,
        }
    }
}

#[derive(Args)]
struct BenchArgs {
    /// Server to measure: host[:port] (port 7777 unless given), or a ws:// or wss:// URL.
    #[arg(env = "CHATROOM_SERVER", default_value = "127.0.0.1:7777")]
    server: String,
    /// Spread the members (publishers too) round-robin over these servers, the nodes of a
    /// cluster, comma-separated, each in the same form as SERVER (which, with
    /// CHATROOM_SERVER, it replaces): a delivery from one to another is checked like any
    /// other.
    #[arg(
        long,
        value_name = "SERVER,SERVER…",
        value_delimiter = ',',
        conflicts_with = "server"
    )]
    servers: Vec<String>,
    #[command(flatten)]
    access: AccessArgs,
    /// Members to open.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(2..))]
    clients: u64,
    /// How many of the members publish.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..))]
    publishers: u64,
    /// Spread the members over this many rooms (#bench-1 …), each member in three of them
    /// (its home room and the next two, wrapping); 1 keeps everyone in the default room.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    rooms: u64,
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
    /// Also draw the results as an SVG at this path: the latency distribution (an HDR
    /// percentile plot of delivery and ack latency), or with --ramp ack p95 and
    /// deliveries/s against members.
    #[arg(long, value_name = "FILE.svg")]
    plot: Option<std::path::PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    // The matches as well as the arguments: the config file fills in what was neither a
    // flag nor an environment variable, which only the matches tell apart from a default.
    let matches = Cli::command().get_matches();
    let command = Cli::from_arg_matches(&matches)
        .unwrap_or_else(|err| err.format(&mut Cli::command()).exit())
        .command;
    let given = matches
        .subcommand()
        .map(|(_, given)| given)
        .expect("clap requires a subcommand");
    let result = match command {
        Command::Serve(args) if args.tui => cli::serve::serve_with_tui(*args, given).await,
        Command::Serve(args) => cli::serve::serve(*args).await,
        Command::Connect(args) => cli::connect::connect(args, given).await,
        Command::Bench(args) => cli::bench::bench(args).await,
        Command::Admin(args) => cli::admin::admin(args),
        Command::Config(args) => cli::config::show(args, given),
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

/// A room name as the server takes it (`#` and lowercase letters, digits, `-`, `_`).
fn room_name(value: &str) -> Result<String, String> {
    chatroom::domain::parse_room_name(value).map_err(|err| err.to_string())
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
