//! What a bench member receives, checked as it arrives: the payload publishers send, one
//! stream per publisher (loss, duplicates, order), and latency percentiles.

use std::collections::HashMap;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Latency percentiles, in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

impl Percentiles {
    pub(super) fn of(histogram: &Histogram<u64>) -> Self {
        let ms = |micros: u64| micros as f64 / 1000.0;
        if histogram.is_empty() {
            return Self::default();
        }
        Self {
            p50: ms(histogram.value_at_quantile(0.50)),
            p90: ms(histogram.value_at_quantile(0.90)),
            p95: ms(histogram.value_at_quantile(0.95)),
            p99: ms(histogram.value_at_quantile(0.99)),
            p999: ms(histogram.value_at_quantile(0.999)),
            max: ms(histogram.max()),
        }
    }
}

/// A bench payload: who sent it, its number, when, padded to the requested size.
pub(super) fn payload(publisher: u32, counter: u64, sent_micros: u64, size: usize) -> String {
    let mut text = format!("b{publisher}:{counter}:{sent_micros}:");
    if text.len() < size {
        text.extend(std::iter::repeat_n('x', size - text.len()));
    }
    text
}

/// Reads a payload back: (publisher, counter, sent micros). `None` for other traffic.
pub(super) fn parse_payload(text: &str) -> Option<(u32, u64, u64)> {
    let mut fields = text.strip_prefix('b')?.splitn(4, ':');
    let publisher = fields.next()?.parse().ok()?;
    let counter = fields.next()?.parse().ok()?;
    let sent = fields.next()?.parse().ok()?;
    Some((publisher, counter, sent))
}

/// One receiver's view of one publisher's stream.
#[derive(Debug, Default, Clone)]
pub(super) struct Stream {
    /// Counters received, as a bitset.
    seen: Vec<u64>,
    pub(super) unique: u64,
    highest: Option<u64>,
    duplicated: u64,
    out_of_order: u64,
}

/// What one member received, checked as it arrives. Streams are keyed by publisher, or with
/// rooms by (room, publisher) (see [`super::rooms`]).
#[derive(Debug)]
pub struct Tally {
    pub(super) streams: HashMap<u32, Stream>,
    pub(super) latency: Histogram<u64>,
    /// Bench messages that had no business reaching this member where they did.
    pub(super) misrouted: u64,
}

impl Default for Tally {
    fn default() -> Self {
        Self {
            streams: HashMap::new(),
            latency: new_histogram(),
            misrouted: 0,
        }
    }
}

pub(super) fn new_histogram() -> Histogram<u64> {
    // Microseconds, up to an hour, three significant digits.
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

impl Tally {
    /// Counts one delivery of `counter` from `publisher`, received `latency_micros` after it
    /// was sent.
    pub fn record(&mut self, publisher: u32, counter: u64, latency_micros: u64) {
        let stream = self.streams.entry(publisher).or_default();
        let (word, bit) = ((counter / 64) as usize, counter % 64);
        if stream.seen.len() <= word {
            stream.seen.resize(word + 1, 0);
        }
        if stream.seen[word] & (1 << bit) != 0 {
            stream.duplicated += 1;
            return;
        }
        stream.seen[word] |= 1 << bit;
        stream.unique += 1;
        if stream.highest.is_some_and(|highest| counter < highest) {
            stream.out_of_order += 1;
        }
        stream.highest = stream.highest.max(Some(counter));
        self.latency.saturating_record(latency_micros.max(1));
    }

    /// How many messages this member never got, given how many each publisher had
    /// acknowledged (`sent[p]`); `me` is this member's own publisher index, if it publishes.
    pub fn lost(&self, sent: &[u64], me: Option<u32>) -> u64 {
        (0..sent.len() as u32)
            .filter(|&p| Some(p) != me)
            .map(|p| {
                let got = self.streams.get(&p).map_or(0, |s| s.unique);
                sent[p as usize].saturating_sub(got)
            })
            .sum()
    }

    pub fn duplicated(&self) -> u64 {
        self.streams.values().map(|s| s.duplicated).sum()
    }

    pub fn out_of_order(&self) -> u64 {
        self.streams.values().map(|s| s.out_of_order).sum()
    }

    pub fn deliveries(&self) -> u64 {
        self.streams.values().map(|s| s.unique + s.duplicated).sum()
    }
}
