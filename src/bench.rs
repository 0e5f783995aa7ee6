//! `chatroom bench`: a fan-out load generator. It opens many WebSocket members, has some of
//! them publish numbered, timestamped messages, and has every member check what it receives:
//! delivery latency into an HDR histogram, and loss, duplicates and order per publisher.
//! With `--rooms`, members spread over several rooms each (see [`rooms`]) and the checks
//! are per room and publisher. With several server addresses (`--servers`, the nodes of a
//! cluster), members, publishers among them, are spread over them round-robin, and a
//! delivery from one node to another is checked like any other.
//!
//! The server under test should run with `--rate-limit 0`; a bench that meets the rate limit
//! says so and stops.

use std::sync::Arc;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use hdrhistogram::Histogram;
use jsonrpsee::core::ClientError;
use jsonrpsee::core::client::Subscription;
use jsonrpsee::ws_client::WsClient;
use serde::Serialize;

use crate::rpc::client::connect_with;
use crate::rpc::tls::ClientTls;

use crate::rpc::types::{Event, EventKind};
use crate::rpc::{ChatApiClient, codes};

pub mod plot;
pub mod rooms;
mod tally;

use rooms::Layout;
pub use tally::{Percentiles, Tally};
use tally::{new_histogram, parse_payload, payload};

/// Events each bench member may have waiting in its own client.
const CLIENT_BUFFER: usize = 1 << 20;
/// Connections opened at once while setting up.
const CONNECT_CONCURRENCY: usize = 64;
/// How long the bench waits, once publishing is over, for members to receive anything at all
/// (bench messages, or the joins and leaves queued ahead of them) before it counts what is
/// still missing as lost.
const DRAIN_QUIET: Duration = Duration::from_secs(5);
/// The ramp's step sizes, in members.
pub const RAMP_STEPS: [usize; 8] = [500, 1_000, 2_000, 4_000, 6_000, 8_000, 10_000, 12_000];
/// The ramp stops at the first step whose p95 send-acknowledge round trip is over this.
pub const RAMP_LIMIT: Duration = Duration::from_millis(500);

/// Every timestamp is taken against this, in one process, so latencies need no clock sync.
static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

fn now_micros() -> u64 {
    EPOCH.elapsed().as_micros() as u64
}

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("connecting member {index}: {source}")]
    Connect {
        index: usize,
        source: crate::rpc::client::ConnectError,
    },
    #[error("member {index} could not join: {source}")]
    Join { index: usize, source: ClientError },
    #[error("member {index} could not enter {room}: {source}")]
    Enter {
        index: usize,
        room: String,
        source: ClientError,
    },
    #[error(
        "the server is rate limiting the publishers ({0}); run it with `chatroom serve --rate-limit 0` for benchmarks"
    )]
    RateLimited(String),
    #[error("a publisher's send failed: {0}")]
    Send(ClientError),
}

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// The server's URL, or the URLs of nodes sharing every room: member `i` connects to
    /// `urls[i % len]`. Never empty.
    pub urls: Vec<String>,
    pub clients: usize,
    pub publishers: usize,
    /// Messages per publisher; with `duration` instead, as many as fit.
    pub messages: Option<u64>,
    pub duration: Option<Duration>,
    /// Messages per second per publisher; 0 sends the next as soon as the last is acknowledged.
    pub rate: f64,
    /// Payload size in bytes.
    pub size: usize,
    /// How to trust a `wss://` server.
    pub tls: ClientTls,
    /// The server's password, if it has one.
    pub password: Option<String>,
    /// Rooms to spread the members over; 1 keeps everyone in the server's default room.
    pub rooms: usize,
}

impl BenchConfig {
    /// Where members sit when they are spread over rooms; `None` for the one default room.
    fn layout(&self) -> Option<Layout> {
        (self.rooms > 1).then(|| Layout::new(self.rooms, self.clients, self.publishers))
    }

    /// The address member `index` connects to.
    fn url_of(&self, index: usize) -> &str {
        &self.urls[index % self.urls.len()]
    }

    /// How many members each address has, in the order given.
    fn split(&self) -> Vec<ServerShare> {
        let mut shares: Vec<ServerShare> = self
            .urls
            .iter()
            .map(|url| ServerShare {
                url: url.clone(),
                members: 0,
            })
            .collect();
        for index in 0..self.clients {
            shares[index % self.urls.len()].members += 1;
        }
        shares
    }
}

/// The members one server address had.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerShare {
    pub url: String,
    pub members: usize,
}

/// What a run measured; `--json` prints exactly this.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub clients: usize,
    pub publishers: usize,
    pub rooms: usize,
    /// How many members were on each server address.
    pub servers: Vec<ServerShare>,
    pub connect_s: f64,
    pub messages_sent: u64,
    pub deliveries_expected: u64,
    pub deliveries: u64,
    pub deliveries_per_sec: f64,
    pub lost: u64,
    pub duplicated: u64,
    pub out_of_order: u64,
    /// Bench messages that arrived in a room they were not sent to, or to a member not in it.
    pub misrouted: u64,
    pub latency_ms: Percentiles,
    pub ack_ms: Percentiles,
    pub elapsed_s: f64,
    /// The delivery latencies' distribution, for `--plot` (not in the JSON).
    #[serde(skip)]
    pub latency_curve: Vec<plot::CurvePoint>,
    /// The send-acknowledge round trips' distribution, for `--plot`.
    #[serde(skip)]
    pub ack_curve: Vec<plot::CurvePoint>,
}

impl Report {
    /// Whether every message arrived exactly once, in order, and only where it was sent.
    pub fn is_clean(&self) -> bool {
        self.lost == 0 && self.duplicated == 0 && self.out_of_order == 0 && self.misrouted == 0
    }
}

/// Live counters, for the progress bar and the end of the run.
#[derive(Default)]
struct Progress {
    deliveries: AtomicU64,
    sent: AtomicU64,
    /// Every event received, bench message or not: members still reading show here.
    events: AtomicU64,
}

struct Member {
    client: Arc<WsClient>,
    session: String,
    events: Subscription<Event>,
}

/// Opens, joins and subscribes `count` members, a few at a time, and returns them in order
/// (member `i` at `i`: the layout and the publishers go by it); with a `layout`, each joins
/// in its home room and enters its other rooms before it subscribes.
async fn open_members(
    config: &BenchConfig,
    count: usize,
    layout: Option<&Layout>,
) -> Result<Vec<Member>, BenchError> {
    futures::stream::iter(0..count)
        .map(|index| async move {
            let mut rooms = rooms::names_of(layout, index).into_iter();
            // Thousands of members share this one process: let a member fall behind on
            // its own stream without being dropped, so what is measured is the server.
            let client = connect_with(config.url_of(index), &config.tls, CLIENT_BUFFER)
                .await
                .map_err(|source| BenchError::Connect { index, source })?;
            let joined = client
                .join(
                    Some(format!("bench-{index}")),
                    config.password.clone(),
                    rooms.next(),
                    None,
                )
                .await
                .map_err(|source| BenchError::Join { index, source })?;
            for room in rooms {
                client
                    .enter(joined.session.clone(), room.clone())
                    .await
                    .map_err(|source| BenchError::Enter {
                        index,
                        room,
                        source,
                    })?;
            }
            let events = client
                .subscribe_events(joined.session.clone(), None, None)
                .await
                .map_err(|source| BenchError::Join { index, source })?;
            Ok(Member {
                client: Arc::new(client),
                session: joined.session,
                events,
            })
        })
        .buffered(CONNECT_CONCURRENCY)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect()
}

/// Runs one bench. `on_progress` is called about ten times a second with
/// (deliveries so far, messages sent so far).
pub async fn run(
    config: &BenchConfig,
    on_progress: impl Fn(u64, u64) + Send + 'static,
) -> Result<Report, BenchError> {
    raise_open_files_limit(config.clients);
    LazyLock::force(&EPOCH);
    let layout = config.layout().map(Arc::new);
    let connect_started = Instant::now();
    let members = open_members(config, config.clients, layout.as_deref()).await?;
    let connect_s = connect_started.elapsed().as_secs_f64();

    let progress = Arc::new(Progress::default());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut receivers = Vec::with_capacity(members.len());
    let mut publishers = Vec::new();
    let mut listeners = Vec::new();
    let started = Instant::now();
    for (index, member) in members.into_iter().enumerate() {
        let Member {
            client,
            session,
            events,
        } = member;
        let seat = layout.clone().map(|layout| (layout, index));
        receivers.push(tokio::spawn(receive(
            events,
            progress.clone(),
            stopped.clone(),
            seat,
        )));
        if index < config.publishers {
            let rooms = rooms::names_of(layout.as_deref(), index);
            publishers.push(tokio::spawn(publish(
                index as u32,
                client.clone(),
                session,
                rooms,
                config.clone(),
                progress.clone(),
            )));
        }
        // Every member stays connected, publishers too, until the end of the run.
        listeners.push(client);
    }
    let ticker = tokio::spawn({
        let progress = progress.clone();
        async move {
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            loop {
                tick.tick().await;
                on_progress(
                    progress.deliveries.load(Ordering::Relaxed),
                    progress.sent.load(Ordering::Relaxed),
                );
            }
        }
    });

    let mut sent = Vec::with_capacity(publishers.len());
    let mut acks = new_histogram();
    let mut failure = None;
    for publisher in publishers {
        let outcome = publisher.await.expect("publisher task does not panic");
        sent.push(outcome.acked);
        acks.add(&outcome.acks)
            .expect("histograms of the same bounds add");
        failure = failure.or(outcome.error);
    }
    if let Some(error) = failure {
        ticker.abort();
        return Err(error);
    }

    // Wait for the fan-out to finish: everything expected, or nothing new for a while.
    let messages_sent: u64 = sent.iter().sum();
    let deliveries_expected = match &layout {
        None => messages_sent * (config.clients as u64).saturating_sub(1),
        Some(layout) => layout.expected(&sent),
    };
    let mut last_events = progress.events.load(Ordering::Relaxed);
    let mut quiet_since = Instant::now();
    let mut finished_at = Instant::now();
    let mut poll = tokio::time::interval(Duration::from_millis(20));
    while progress.deliveries.load(Ordering::Relaxed) < deliveries_expected
        && quiet_since.elapsed() < DRAIN_QUIET
    {
        poll.tick().await;
        let events = progress.events.load(Ordering::Relaxed);
        if events != last_events {
            last_events = events;
            quiet_since = Instant::now();
            finished_at = quiet_since;
        }
    }
    if progress.deliveries.load(Ordering::Relaxed) >= deliveries_expected {
        finished_at = Instant::now();
    }
    // The run ended with the last delivery, not after waiting for more.
    let elapsed = finished_at
        .saturating_duration_since(started)
        .max(Duration::from_millis(1));
    let _ = stop.send(true);
    ticker.abort();

    let mut latency = new_histogram();
    let (mut deliveries, mut lost, mut duplicated, mut out_of_order) = (0, 0, 0, 0);
    let mut misrouted = 0;
    for (index, receiver) in receivers.into_iter().enumerate() {
        let tally = receiver.await.expect("receiver task does not panic");
        let me = (index < config.publishers).then_some(index as u32);
        latency
            .add(&tally.latency)
            .expect("histograms of the same bounds add");
        deliveries += tally.deliveries();
        lost += match &layout {
            None => tally.lost(&sent, me),
            Some(layout) => layout.lost(&tally, index, &sent),
        };
        duplicated += tally.duplicated();
        out_of_order += tally.out_of_order();
        misrouted += tally.misrouted;
    }
    drop(listeners);
    Ok(Report {
        clients: config.clients,
        publishers: config.publishers,
        rooms: config.rooms,
        servers: config.split(),
        connect_s,
        messages_sent,
        deliveries_expected,
        deliveries,
        deliveries_per_sec: deliveries as f64 / elapsed.as_secs_f64(),
        lost,
        duplicated,
        out_of_order,
        misrouted,
        latency_ms: Percentiles::of(&latency),
        ack_ms: Percentiles::of(&acks),
        elapsed_s: elapsed.as_secs_f64(),
        latency_curve: plot::curve(&latency),
        ack_curve: plot::curve(&acks),
    })
}

/// One member's receiving side: checks every bench message until told to stop. With rooms,
/// `seat` is the layout and this member's number in it, and every message is checked
/// against the room it names.
async fn receive(
    mut events: Subscription<Event>,
    progress: Arc<Progress>,
    mut stop: tokio::sync::watch::Receiver<bool>,
    seat: Option<(Arc<Layout>, usize)>,
) -> Tally {
    let mut tally = Tally::default();
    loop {
        let item = tokio::select! {
            biased;
            _ = stop.wait_for(|stop| *stop) => return tally,
            item = events.next() => item,
        };
        let Some(Ok(event)) = item else {
            // The stream ended: the server dropped us. Loss shows in the tally.
            let _ = stop.wait_for(|stop| *stop).await;
            return tally;
        };
        progress.events.fetch_add(1, Ordering::Relaxed);
        if event.kind != EventKind::Message {
            continue;
        }
        let Some((publisher, counter, sent)) = event.text.as_deref().and_then(parse_payload) else {
            continue;
        };
        let latency = now_micros().saturating_sub(sent);
        let counted = match &seat {
            None => {
                tally.record(publisher, counter, latency);
                true
            }
            Some((layout, member)) => layout.record(
                &mut tally,
                *member,
                &event.room,
                (publisher, counter, latency),
            ),
        };
        if counted {
            progress.deliveries.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// What one publisher did.
struct Published {
    acked: u64,
    acks: Histogram<u64>,
    error: Option<BenchError>,
}

/// One publisher: sends numbered messages, closed loop or at a fixed rate, and times each
/// acknowledgement. With `rooms`, message `c` goes to `rooms[c mod len]`; without, to the
/// default room.
async fn publish(
    index: u32,
    client: Arc<WsClient>,
    session: String,
    rooms: Vec<String>,
    config: BenchConfig,
    progress: Arc<Progress>,
) -> Published {
    let mut out = Published {
        acked: 0,
        acks: new_histogram(),
        error: None,
    };
    let deadline = config.duration.map(|d| tokio::time::Instant::now() + d);
    let limit = config.messages.unwrap_or(u64::MAX);
    let mut pace = (config.rate > 0.0).then(|| {
        let mut interval = tokio::time::interval(Duration::from_secs_f64(1.0 / config.rate));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        interval
    });
    for counter in 0..limit {
        if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
            break;
        }
        if let Some(pace) = pace.as_mut() {
            pace.tick().await;
        }
        let sent_at = now_micros();
        let text = payload(index, counter, sent_at, config.size);
        let room =
            (!rooms.is_empty()).then(|| rooms[(counter % rooms.len() as u64) as usize].clone());
        match client.send(session.clone(), text, None, room).await {
            Ok(_) => {
                out.acks
                    .saturating_record(now_micros().saturating_sub(sent_at).max(1));
                out.acked += 1;
                progress.sent.fetch_add(1, Ordering::Relaxed);
            }
            Err(ClientError::Call(err)) if err.code() == codes::RATE_LIMITED => {
                out.error = Some(BenchError::RateLimited(err.message().to_owned()));
                break;
            }
            Err(err) => {
                out.error = Some(BenchError::Send(err));
                break;
            }
        }
    }
    out
}

/// Raises the soft open-files limit towards the hard one; each member needs a descriptor
/// here and another in a server on the same host.
fn raise_open_files_limit(members: usize) {
    let wanted = members as u64 + 256;
    match rlimit::increase_nofile_limit(wanted) {
        Ok(got) if got < wanted => tracing::warn!(
            got,
            wanted,
            "cannot open enough files for this many members; the hard limit is too low"
        ),
        Ok(_) => {}
        Err(err) => tracing::warn!(%err, "cannot raise the open-files limit"),
    }
}

/// One row of a ramp: the members, and what the run measured with them.
pub struct RampStep {
    pub clients: usize,
    pub report: Result<Report, BenchError>,
}

/// Steps the member count up until the p95 send-acknowledge round trip passes
/// [`RAMP_LIMIT`], a connection fails, or the steps run out. `on_step` sees each row as it
/// is measured.
pub async fn ramp(config: &BenchConfig, mut on_step: impl FnMut(&RampStep)) -> Vec<RampStep> {
    let mut steps = Vec::new();
    for clients in RAMP_STEPS {
        let step_config = BenchConfig {
            clients,
            ..config.clone()
        };
        let report = run(&step_config, |_, _| {}).await;
        let stop = match &report {
            Ok(report) => report.ack_ms.p95 > RAMP_LIMIT.as_secs_f64() * 1000.0,
            Err(_) => true,
        };
        let step = RampStep { clients, report };
        on_step(&step);
        steps.push(step);
        if stop {
            break;
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_and_have_the_requested_size() {
        let text = payload(3, 42, 123_456, 128);
        assert_eq!(text.len(), 128);
        assert_eq!(parse_payload(&text), Some((3, 42, 123_456)));
        // A payload smaller than its header is just the header.
        assert_eq!(parse_payload(&payload(1, 2, 3, 0)), Some((1, 2, 3)));
        assert_eq!(parse_payload("hello"), None);
        assert_eq!(parse_payload("bx:1:2:"), None);
    }

    #[test]
    fn in_order_stream_is_clean() {
        let mut tally = Tally::default();
        for counter in 0..100 {
            tally.record(0, counter, 1_000);
        }
        assert_eq!(tally.lost(&[100], None), 0);
        assert_eq!(tally.duplicated(), 0);
        assert_eq!(tally.out_of_order(), 0);
        assert_eq!(tally.deliveries(), 100);
    }

    #[test]
    fn gaps_are_lost_messages() {
        let mut tally = Tally::default();
        for counter in [0, 1, 3, 4] {
            tally.record(0, counter, 1_000);
        }
        assert_eq!(tally.lost(&[5], None), 1);
        // A publisher never heard from lost everything it sent.
        assert_eq!(tally.lost(&[5, 7], None), 8);
    }

    #[test]
    fn own_messages_are_not_expected() {
        let mut tally = Tally::default();
        tally.record(1, 0, 10);
        assert_eq!(tally.lost(&[3, 1], Some(0)), 0);
    }

    #[test]
    fn repeats_are_duplicates_and_late_arrivals_are_out_of_order() {
        let mut tally = Tally::default();
        for counter in [0, 2, 1, 2, 3] {
            tally.record(7, counter, 1_000);
        }
        assert_eq!(tally.duplicated(), 1);
        assert_eq!(tally.out_of_order(), 1);
        assert_eq!(tally.lost(&[0, 0, 0, 0, 0, 0, 0, 4], None), 0);
        assert_eq!(tally.deliveries(), 5);
    }

    #[test]
    fn latency_percentiles_come_from_the_histogram() {
        let mut tally = Tally::default();
        for counter in 0..1000 {
            // 1 ms to 1000 ms, one each.
            tally.record(0, counter, (counter + 1) * 1000);
        }
        let p = Percentiles::of(&tally.latency);
        assert!((p.p50 - 500.0).abs() < 2.0, "{p:?}");
        assert!((p.p99 - 990.0).abs() < 2.0, "{p:?}");
        assert!((p.max - 1000.0).abs() < 2.0, "{p:?}");
        assert_eq!(Percentiles::of(&new_histogram()), Percentiles::default());
    }

    #[test]
    fn members_and_publishers_are_spread_round_robin_over_the_addresses() {
        let config = BenchConfig {
            urls: vec!["ws://a/".into(), "ws://b/".into(), "ws://c/".into()],
            clients: 7,
            publishers: 3,
            messages: None,
            duration: None,
            rate: 0.0,
            size: 128,
            tls: ClientTls::default(),
            password: None,
            rooms: 1,
        };
        let at: Vec<&str> = (0..7).map(|index| config.url_of(index)).collect();
        assert_eq!(at[..3], ["ws://a/", "ws://b/", "ws://c/"], "the publishers");
        assert_eq!(at[3..], ["ws://a/", "ws://b/", "ws://c/", "ws://a/"]);
        let split: Vec<usize> = config.split().iter().map(|s| s.members).collect();
        assert_eq!(split, [3, 2, 2]);
    }

    #[test]
    fn a_clean_report_is_one_without_loss_duplicates_or_reordering() {
        let mut report = Report {
            clients: 2,
            publishers: 1,
            rooms: 1,
            servers: Vec::new(),
            connect_s: 0.0,
            messages_sent: 1,
            deliveries_expected: 1,
            deliveries: 1,
            deliveries_per_sec: 1.0,
            lost: 0,
            duplicated: 0,
            out_of_order: 0,
            misrouted: 0,
            latency_ms: Percentiles::default(),
            ack_ms: Percentiles::default(),
            elapsed_s: 1.0,
            latency_curve: Vec::new(),
            ack_curve: Vec::new(),
        };
        assert!(report.is_clean());
        report.out_of_order = 1;
        assert!(!report.is_clean());
        report.out_of_order = 0;
        report.misrouted = 1;
        assert!(!report.is_clean());
    }
}
