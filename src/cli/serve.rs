//! `chatroom serve` (alone or with `--tui`) from its flags: the server's settings, the
//! listener, the password, TLS, and the stop signal.

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use chatroom::domain::{Chat, ChatConfig, RateLimit};
use chatroom::rpc::auth::Password;
use chatroom::rpc::operators;
use chatroom::rpc::server::{self, ServerConfig};
use chatroom::rpc::tls::{self, ClientTls, Fingerprint};
use chatroom::store::nats::NatsSettings;
use chatroom::store::{DbLocation, Retention};
use chatroom::ui;

use super::setup::{client_identity, default_db_file, env_filter, log_to_file, read_password};
use crate::ServeArgs;

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(env_filter())
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    let (listener, bound) = listen(&args.listen).await?;
    let Served {
        config,
        fingerprint,
        operators,
        ..
    } = server_config(&args, bound, None)?;
    if let Some(fingerprint) = fingerprint.filter(|_| args.tls_self_signed) {
        // On stdout, not only in the log: this is what clients need to be told.
        println!("TLS certificate SHA-256 fingerprint: {fingerprint}");
        println!(
            "clients connect with: chatroom connect wss://HOST:{} --fingerprint {fingerprint}",
            bound.port()
        );
    }
    let reread = reread_on_hangup(operators);
    let running = server::start(listener, config, shutdown_signal()).await?;
    reread(running.chat().clone());
    running.stopped().await;
    Ok(())
}

/// `given`: the matches `args` were parsed from, for the config file's client settings.
pub async fn serve_with_tui(mut args: ServeArgs, given: &clap::ArgMatches) -> anyhow::Result<()> {
    let file = super::config::load(&args.client)?;
    let mut report = super::config::Report::default();
    super::config::merge_client(&mut args.client, given, &file, &mut report);
    log_to_file(args.client.log_file.as_deref())?;
    // Before the server starts: a key file that cannot be used stops everything.
    let (identity, created) = client_identity(args.client.identity.as_deref(), args.client.guest)?;
    let (listener, bound) = listen(&args.listen).await?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    // The key this terminal joins with moderates the server it hosts.
    let own = identity.as_ref().map(|i| i.public_key().fingerprint());
    // The operators file is read at start only: here a SIGHUP is the terminal hanging up,
    // and the client leaves on it.
    let Served {
        config,
        fingerprint,
        password,
        ..
    } = server_config(&args, bound, own)?;
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
    super::config::dress(&mut options, &file);
    options.identity = identity;
    if let Some(fingerprint) = fingerprint {
        options.notices.push(format!(
            "TLS certificate SHA-256 fingerprint, for `chatroom connect --fingerprint`: {fingerprint}"
        ));
    }
    options.notices.extend(created);
    let result = ui::run(options).await;
    let _ = stop.send(());
    running.stopped().await;
    result
}

/// What `chatroom serve`'s flags come to.
struct Served {
    config: ServerConfig,
    /// Its certificate's, when it serves TLS.
    fingerprint: Option<Fingerprint>,
    /// The room password as given, for `--tui` to join with.
    password: Option<String>,
    /// Where the server operators come from.
    operators: Operators,
}

/// The server operators: those of the `--operators` file, and the hosting terminal's key.
struct Operators {
    file: Option<PathBuf>,
    own: Option<String>,
    /// The file's, as last read.
    listed: BTreeSet<String>,
}

impl Operators {
    fn read(file: Option<&Path>, own: Option<String>) -> anyhow::Result<Self> {
        let listed = match file {
            Some(path) => operators::read(path)?,
            None => BTreeSet::new(),
        };
        Ok(Self {
            file: file.map(Path::to_owned),
            own,
            listed,
        })
    }

    fn all(&self) -> Vec<String> {
        let mut all = self.listed.clone();
        all.extend(self.own.clone());
        all.into_iter().collect()
    }
}

/// Reads the operators file again at each SIGHUP and hands the chat the new list, logging
/// who came and went; a file that cannot be used keeps the list as it was. The handler is
/// in place when this returns (a SIGHUP during start-up must not end the server); the
/// rereading starts once the returned function is given the chat.
#[cfg(unix)]
fn reread_on_hangup(mut operators: Operators) -> impl FnOnce(Chat) {
    use tokio::signal::unix::{SignalKind, signal};
    let hangups = operators.file.clone().map(|path| {
        (
            path,
            signal(SignalKind::hangup()).expect("installing a SIGHUP handler"),
        )
    });
    move |chat| {
        let Some((path, mut hangups)) = hangups else {
            return;
        };
        tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                let listed = match operators::read(&path) {
                    Ok(listed) => listed,
                    Err(err) => {
                        tracing::error!("{err}; the server operators stay as they were");
                        continue;
                    }
                };
                let (added, removed) = operators::changes(&operators.listed, &listed);
                tracing::info!(
                    file = %path.display(),
                    added = ?added,
                    removed = ?removed,
                    "server operators read again"
                );
                operators.listed = listed;
                chat.set_server_operators(operators.all());
            }
        });
    }
}

/// Without SIGHUP, the operators file is read at start only.
#[cfg(not(unix))]
fn reread_on_hangup(_operators: Operators) -> impl FnOnce(Chat) {
    |_chat| {}
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

fn server_config(
    args: &ServeArgs,
    bound: SocketAddr,
    own: Option<String>,
) -> anyhow::Result<Served> {
    let operators = Operators::read(args.operators.as_deref(), own)?;
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
    let server_id = match &db {
        // A database in a missing directory is refused when it is opened, with the reason.
        DbLocation::File(path)
            if path
                .parent()
                .is_none_or(|dir| dir.as_os_str().is_empty() || dir.is_dir()) =>
        {
            Some(server_id_beside(path)?)
        }
        _ => None,
    };
    let cluster = args.cluster.as_ref().map(|urls| NatsSettings {
        urls: urls.clone(),
        replicas: args.cluster_replicas as usize,
    });
    // A node of a cluster keeps nothing beside a database.
    let server_id = if cluster.is_some() { None } else { server_id };
    let config = ServerConfig {
        cluster,
        server_id,
        password: password.as_deref().map(Password::new),
        tls,
        db,
        retention: Retention {
            max_events: args.retain_events,
            max_age: args
                .retain_days
                .map(|days| Duration::from_secs(days.saturating_mul(86_400))),
        },
        room_creations: RateLimit {
            per_sec: f64::from(args.room_creations_per_minute) / 60.0,
            burst: args.room_creations_per_minute,
        },
        chat: ChatConfig {
            default_room: args.default_room.clone(),
            max_rooms: args.max_rooms as usize,
            max_rooms_per_member: args.max_rooms_per_member as usize,
            queue_capacity: args.queue_capacity as usize,
            max_text_bytes: args.max_text_bytes,
            rate_limit: (args.rate_limit > 0.0).then_some(RateLimit {
                per_sec: args.rate_limit,
                burst: args.rate_burst,
            }),
            history_len: args.history,
            large_room: args.large_room,
            name_expiry: Some(Duration::from_secs(
                args.name_expiry_days.saturating_mul(86_400),
            )),
            ..ChatConfig::default()
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
        server_operators: operators.all(),
        ..ServerConfig::default()
    };
    Ok(Served {
        config,
        fingerprint,
        password,
        operators,
    })
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

/// The server's id, kept beside its database (`chat.db` → `chat.db.server-id`) and made
/// there on first start: clients remember which id each address gave, to catch a server
/// that passes another's challenges on.
fn server_id_beside(db: &std::path::Path) -> anyhow::Result<String> {
    let mut path = db.as_os_str().to_owned();
    path.push(".server-id");
    let path = std::path::PathBuf::from(path);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let id = text.trim();
            anyhow::ensure!(
                id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
                "{} does not hold a server id; remove it to make a new one",
                path.display()
            );
            Ok(id.to_owned())
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let id = format!("{:032x}", rand::random::<u128>());
            std::fs::write(&path, format!("{id}\n"))
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok(id)
        }
        Err(err) => Err(err).with_context(|| format!("cannot read {}", path.display())),
    }
}
