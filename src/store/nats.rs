//! The [`EventLog`] several servers share: NATS JetStream, one replicated stream per room.
//!
//! Each room is a stream (`CHATROOM_R_<hex of its name>`, subject `chatroom.r.<hex>`), so
//! the stream's sequence is the room's seq: dense, and the same on every server. A server
//! publishes the events its rooms accept (`nats/publish.rs`), each with a `Nats-Msg-Id` made
//! of the server's id and the event's position, so that a publish retried after a lost
//! answer is stored once. It follows every room's stream (`nats/follow.rs`) and learns from
//! it, in each room's order, both what it published (now numbered) and what the others did;
//! an event counts as stored only once it comes back this way, which it does only when the
//! stream's replicas hold it. The records about identities, rooms' moderation and the
//! server's bans live in a key-value bucket (`nats/records.rs`), and who is in which room
//! through which server in another, kept alive by each server's heartbeat
//! (`nats/presence.rs`): when a server stops beating, the others record its members'
//! leaves, once. See `docs/CLUSTER.md`.

mod deleted;
mod follow;
mod presence;
mod publish;
mod records;
mod writer;

pub use presence::SERVER_GONE;

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::{self, stream};

use crate::domain::{
    Appender, Event, EventLog, LogError, OnProgress, Recovered, RoomRecord, unix_ms,
};

/// How long a read of the engine may take before it is given up.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a node starting waits for JetStream to be ready (a cluster starting with it is
/// still electing its leaders).
const STARTUP_WAIT: Duration = Duration::from_secs(60);
/// How long the engine remembers a message id: a publish retried within it is stored once.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// Why the cluster log could not start.
#[derive(Debug, thiserror::Error)]
pub enum NatsError {
    #[error("cannot connect to NATS at {urls}: {source}")]
    Connect {
        urls: String,
        source: async_nats::ConnectError,
    },
    #[error("cannot read the NATS URLs {urls}: {reason}")]
    Url { urls: String, reason: String },
    #[error("JetStream at {urls} is not ready: {reason}")]
    NotReady { urls: String, reason: String },
    #[error("cannot start the NATS client's runtime: {0}")]
    Runtime(std::io::Error),
}

/// How this server joins the cluster.
#[derive(Debug, Clone)]
pub struct NatsSettings {
    /// The NATS servers, comma-separated `nats://host:port` URLs.
    pub urls: String,
    /// Replicas of every stream and bucket (3 for a three-server engine).
    pub replicas: usize,
}

/// The stream holding a room.
fn stream_name(room: &str) -> String {
    format!("CHATROOM_R_{}", hex(room))
}

/// The subject a room's events are published on.
fn subject(room: &str) -> String {
    format!("chatroom.r.{}", hex(room))
}

fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<String> {
    let bytes = (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    String::from_utf8(bytes).ok()
}

/// What every part of the log shares.
struct Inner {
    runtime: Option<tokio::runtime::Runtime>,
    js: jetstream::Context,
    client: async_nats::Client,
    /// This server's id in the cluster: its events' message ids start with it.
    node: String,
    settings: NatsSettings,
    records: records::Records,
    presence: presence::Presence,
    /// Set while the log has dropped what it was given and waits for the rooms to resume.
    dropping: Arc<AtomicBool>,
    /// The last seq of each room when the log was opened: where following starts.
    opened_at: Mutex<HashMap<String, u64>>,
    /// Every room when the log was opened, until the chat asks.
    rooms: Mutex<Vec<RoomRecord>>,
    /// Set once a publish has failed for lack of the engine, cleared by the next success.
    unwritable: Arc<AtomicBool>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// The cluster's log, shared by every server connected to the same JetStream.
#[derive(Clone)]
pub struct NatsLog {
    inner: Arc<Inner>,
}

impl NatsLog {
    /// Connects to the engine and reads what it holds; fails if it is not there.
    pub fn connect(settings: NatsSettings) -> Result<Self, NatsError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("chatroom-nats")
            .enable_all()
            .build()
            .map_err(NatsError::Runtime)?;
        let urls = settings.urls.clone();
        let node = uuid::Uuid::new_v4().simple().to_string();
        let node_id = node.clone();
        let (client, js, records, presence, rooms) =
            block_on_for(&runtime, STARTUP_WAIT + READ_TIMEOUT, async move {
                let client = async_nats::ConnectOptions::new()
                    .name("chatroom")
                    .retry_on_initial_connect()
                    .connection_timeout(Duration::from_secs(5))
                    .connect(
                        urls.split(',')
                            .map(|url| url.trim().parse::<async_nats::ServerAddr>())
                            .collect::<Result<Vec<_>, _>>()
                            .map_err(|err| NatsError::Url {
                                urls: urls.clone(),
                                reason: err.to_string(),
                            })?,
                    )
                    .await
                    .map_err(|source| NatsError::Connect {
                        urls: urls.clone(),
                        source,
                    })?;
                let js = jetstream::new(client.clone());
                let not_ready = |reason| NatsError::NotReady {
                    urls: urls.clone(),
                    reason,
                };
                let deadline = tokio::time::Instant::now() + STARTUP_WAIT;
                let mut told = false;
                let opened = loop {
                    let opened = async {
                        let records = records::Records::open(&js, settings.replicas).await?;
                        let presence =
                            presence::Presence::open(&js, settings.replicas, node.clone()).await?;
                        // Every room as it is now: a room missed here would be followed
                        // from its first event as if it were new.
                        let rooms = follow::rooms(&js).await.map_err(|err| err.0)?;
                        Ok::<_, String>((records, presence, rooms))
                    }
                    .await;
                    match opened {
                        Ok(opened) => break opened,
                        Err(reason) if tokio::time::Instant::now() < deadline => {
                            if !told {
                                tracing::info!(%reason, "waiting for JetStream to be ready");
                                told = true;
                            }
                            tokio::time::sleep(Duration::from_millis(500)).await;
                        }
                        Err(reason) => return Err(not_ready(reason)),
                    }
                };
                Ok::<_, NatsError>((client, js, opened.0, opened.1, opened.2))
            })
            .unwrap_or_else(|| {
                Err(NatsError::NotReady {
                    urls: settings.urls.clone(),
                    reason: "no answer in time".into(),
                })
            })?;
        Ok(Self {
            inner: Arc::new(Inner {
                runtime: Some(runtime),
                js,
                client,
                node: node_id,
                settings,
                records,
                presence,
                dropping: Arc::new(AtomicBool::new(false)),
                opened_at: Mutex::new(HashMap::new()),
                rooms: Mutex::new(rooms),
                unwritable: Arc::new(AtomicBool::new(false)),
            }),
        })
    }

    /// The NATS servers it was given.
    pub fn urls(&self) -> &str {
        &self.inner.settings.urls
    }

    /// Whether the engine takes writes now, as a load balancer asks.
    pub fn health(&self) -> Result<(), String> {
        if self.inner.client.connection_state() != async_nats::connection::State::Connected {
            return Err("not connected to NATS".into());
        }
        if self.inner.unwritable.load(Ordering::Relaxed)
            || self.inner.dropping.load(Ordering::Relaxed)
        {
            return Err("the cluster is read-only: JetStream has no quorum".into());
        }
        Ok(())
    }

    /// Runs `work` on the log's runtime and waits for it, from any thread.
    fn block<T: Send + 'static>(
        &self,
        work: impl Future<Output = Result<T, LogError>> + Send + 'static,
    ) -> Result<T, LogError> {
        let runtime = self
            .inner
            .runtime
            .as_ref()
            .expect("open while the log lives");
        block_on(runtime, work)
            .unwrap_or_else(|| Err(LogError("the cluster did not answer in time".into())))
    }

    /// The room's stream, if it has one.
    async fn stream(
        js: &jetstream::Context,
        room: &str,
    ) -> Result<Option<stream::Stream>, LogError> {
        match js.get_stream(stream_name(room)).await {
            Ok(stream) => Ok(Some(stream)),
            Err(err)
                if matches!(err.kind(), jetstream::context::GetStreamErrorKind::JetStream(e)
                    if e.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND) =>
            {
                Ok(None)
            }
            Err(err) => Err(LogError(format!("reading room {room}: {err}"))),
        }
    }

    /// The room's events with seqs in `from..=to`, oldest first.
    fn range(&self, room: &str, from: u64, to: u64) -> Result<Vec<Event>, LogError> {
        if from > to {
            return Ok(Vec::new());
        }
        let js = self.inner.js.clone();
        let records = self.inner.records.deleted_bucket();
        let room = room.to_owned();
        self.block(async move {
            let Some(stream) = Self::stream(&js, &room).await? else {
                return Ok(Vec::new());
            };
            let mut events = Vec::new();
            for seq in from..=to {
                // From the stream's leader: a replica answering a direct get may not have
                // the latest events yet, and a catch-up must not skip them.
                match stream.get_raw_message(seq).await {
                    Ok(message) => events.push(follow::decode(&message.payload, seq)?),
                    Err(err)
                        if err.kind() == jetstream::stream::RawMessageErrorKind::NoMessageFound =>
                    {
                        // Erased by a moderator's delete: its tombstone stands in.
                        events.extend(deleted::tombstone(&records, &room, seq).await);
                    }
                    Err(err) => return Err(LogError(format!("reading room {room}: {err}"))),
                }
            }
            Ok(events)
        })
    }

    /// The last seq of a room, 0 if it has none.
    fn last_seq(&self, room: &str) -> Result<u64, LogError> {
        let js = self.inner.js.clone();
        let room = room.to_owned();
        self.block(async move {
            match Self::stream(&js, &room).await? {
                Some(mut stream) => {
                    let info = stream
                        .info()
                        .await
                        .map_err(|err| LogError(format!("reading room {room}: {err}")))?;
                    Ok(info.state.last_sequence)
                }
                None => Ok(0),
            }
        })
    }
}

/// Runs `work` on `runtime` and waits for it from this thread; `None` if it took too long.
fn block_on<T: Send + 'static>(
    runtime: &tokio::runtime::Runtime,
    work: impl Future<Output = T> + Send + 'static,
) -> Option<T> {
    block_on_for(runtime, READ_TIMEOUT, work)
}

/// [`block_on`], waiting at most `limit`.
fn block_on_for<T: Send + 'static>(
    runtime: &tokio::runtime::Runtime,
    limit: Duration,
    work: impl Future<Output = T> + Send + 'static,
) -> Option<T> {
    let (done, answer) = std::sync::mpsc::channel();
    runtime.spawn(async move {
        let _ = done.send(work.await);
    });
    answer.recv_timeout(limit).ok()
}

// No `search`: a stream per room keeps no index, and each node's own index would hold only
// what it followed since it started, so the log keeps the seam's answer, that it cannot,
// rather than answer half.
impl EventLog for NatsLog {
    fn recovered(&self) -> Recovered {
        let mut recovered = Recovered::default();
        let rooms =
            std::mem::take(&mut *self.inner.rooms.lock().unwrap_or_else(|p| p.into_inner()));
        let mut opened_at = self
            .inner
            .opened_at
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        for room in rooms {
            opened_at.insert(room.name.clone(), room.last_seq);
            recovered.rooms.push(room);
        }
        drop(opened_at);
        self.inner.records.recover_into(&mut recovered);
        recovered.elsewhere = self.inner.presence.elsewhere();
        recovered
    }

    fn latest(&self, room: &str, limit: usize) -> Result<Vec<Event>, LogError> {
        let last = self.last_seq(room)?;
        self.range(room, (last + 1).saturating_sub(limit as u64).max(1), last)
    }

    fn before(&self, room: &str, before: u64, limit: usize) -> Result<Vec<Event>, LogError> {
        let to = before.saturating_sub(1);
        self.range(room, (to + 1).saturating_sub(limit as u64).max(1), to)
    }

    fn after(&self, room: &str, since: u64, limit: usize) -> Result<Vec<Event>, LogError> {
        let last = self.last_seq(room)?;
        self.range(
            room,
            since + 1,
            last.min(since.saturating_add(limit as u64)),
        )
    }

    fn claim_name(&self, name: &str, key: &str) -> Result<bool, LogError> {
        let records = self.inner.records.clone();
        let (name, key) = (name.to_owned(), key.to_owned());
        self.block(async move {
            records
                .claim(&name, &key)
                .await
                .map_err(|err| LogError(format!("cannot claim the name: {err}")))
        })
    }

    fn start(&self, timeout: Duration, on_progress: OnProgress) -> Box<dyn Appender> {
        let runtime = self
            .inner
            .runtime
            .as_ref()
            .expect("open while the log lives");
        let (reports, reported) = tokio::sync::mpsc::unbounded_channel();
        let opened_at = self
            .inner
            .opened_at
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let writer = {
            let _in_runtime = runtime.enter();
            writer::KvWriter::start(reports.clone(), self.inner.unwritable.clone(), timeout)
        };
        runtime.spawn(follow::report(
            reported,
            self.inner.dropping.clone(),
            on_progress,
            self.inner.presence.clone(),
            writer.clone(),
        ));
        runtime.spawn(follow::follow_rooms(
            self.inner.js.clone(),
            self.inner.records.rooms_bucket(),
            opened_at,
            reports.clone(),
            self.inner.node.clone(),
        ));
        runtime.spawn(self.inner.presence.clone().run(
            self.inner.js.clone(),
            self.inner.unwritable.clone(),
            writer.clone(),
        ));
        runtime.spawn(
            self.inner
                .records
                .clone()
                .watch(reports.clone(), writer.echoes()),
        );
        publish::start(
            runtime.handle().clone(),
            publish::Publisher {
                js: self.inner.js.clone(),
                node: self.inner.node.clone(),
                replicas: self.inner.settings.replicas,
                records: self.inner.records.clone(),
                writer,
                dropping: self.inner.dropping.clone(),
                unwritable: self.inner.unwritable.clone(),
                timeout,
                reports,
            },
        )
    }
}

/// A room as its stream and its entry in the rooms bucket describe it.
fn room_record(name: String, info: &stream::Info, topic: Option<String>) -> RoomRecord {
    let created = (info.created.unix_timestamp_nanos() / 1_000_000).max(0) as u64;
    let last = (info.state.last_timestamp.unix_timestamp_nanos() / 1_000_000).max(0) as u64;
    RoomRecord {
        name,
        topic,
        created,
        last_seq: info.state.last_sequence,
        last_active: if info.state.last_sequence == 0 {
            unix_ms()
        } else {
            last
        },
    }
}
