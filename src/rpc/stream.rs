//! A member's events on the wire: the `chat_subscribe` stream and `chat_poll`, each first
//! catching up from the log, room by room, from where the client says it got to.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;

use jsonrpsee::SubscriptionMessage;
use jsonrpsee::core::{SubscriptionError, SubscriptionResult};
use jsonrpsee::server::{PendingSubscriptionSink, SubscriptionSink};
use jsonrpsee::types::ErrorObjectOwned;
use serde_json::value::RawValue;
use tokio::time::{Instant, timeout_at};
use uuid::Uuid;

use super::service::{ChatService, read_log};
use super::types::Event;
use super::{DEFAULT_POLL_TIMEOUT_MS, MAX_POLL_EVENTS, MAX_POLL_TIMEOUT_MS};
use crate::domain::{ClaimedReader, Outlet, Refused, RoomError, Stamped, is_keyed_id};

/// Events read from the log per step of a catch-up.
const CATCH_UP_PAGE: usize = 500;

impl ChatService {
    /// `chat_subscribe`: see the API trait.
    pub(super) async fn stream(
        &self,
        pending: PendingSubscriptionSink,
        session: String,
        since: Option<u64>,
        cursors: Option<BTreeMap<String, u64>>,
    ) -> SubscriptionResult {
        // The session first, so a stranger learns nothing of how far a room has got; then
        // claim the queue, so nothing live is missed while catching up.
        let cursors = self.cursors(since, cursors);
        let claimed = self.chat.reader(&session).and_then(|reader| {
            let me = self.chat.member(&session)?.id;
            let cursors = self.chat.check_cursors(&session, &cursors)?;
            Ok((reader.try_claim()?, cursors, me))
        });
        let (mut reader, cursors, me) = match claimed {
            Ok(claimed) => claimed,
            Err(err) => {
                pending.reject(ErrorObjectOwned::from(err)).await;
                return Ok(());
            }
        };
        let sink = Arc::new(pending.accept().await?);
        // Per room, the highest seq this subscriber has, so its live part starts right
        // after it. The catch-up is a future of its own, boxed: it is large and brief, and
        // inline it would make every subscription's task that much larger for its whole
        // life, idle members included.
        let mut delivered = cursors;
        if !Box::pin(self.catch_up(&sink, &reader, &mut delivered, me)).await? {
            return Ok(());
        }
        // Once caught up, with no cursor ahead of the queue to skip to, the session's events
        // can go straight to the sink: one hop fewer for each.
        let direct = delivered.iter().all(|(room, seen)| {
            reader
                .live_after()
                .get(room)
                .is_none_or(|live_after| seen <= live_after)
        });
        let outlet: Arc<dyn Outlet> = Arc::new(SinkOutlet(sink.clone()));
        loop {
            // A cheap look first: the hand-over takes the chat's lock.
            if direct && reader.is_idle() && reader.hand_over(outlet.clone()) {
                return self.direct(&sink, reader, &session).await;
            }
            tokio::select! {
                // A closed subscriber must not take one more event off the queue.
                biased;
                () = sink.closed() => return Ok(()),
                next = reader.next() => match next {
                    // A read marker, an ignore or an invitation is no room event: its seq
                    // is not a cursor.
                    Ok(event) if event.kind.is_stored()
                        && delivered.get(&event.room).is_some_and(|seen| event.seq <= *seen) => {}
                    Ok(event) => {
                        if sink.send(notification(&sink, &event)?).await.is_err() {
                            // Unsubscribed or disconnected: whoever reads next gets it.
                            reader.put_back(event);
                            return Ok(());
                        }
                    }
                    Err(reason) => {
                        drained(&sink).await;
                        return Err(format!("session ended: {reason}").into());
                    }
                },
            }
        }
    }

    /// Sends a new subscriber what the log has of each room after its cursor, up to where
    /// its queue takes over, and moves the cursors on. False if the subscriber went away.
    async fn catch_up(
        &self,
        sink: &SubscriptionSink,
        reader: &ClaimedReader,
        delivered: &mut BTreeMap<String, u64>,
        me: Uuid,
    ) -> Result<bool, SubscriptionError> {
        for (room, seen) in delivered.iter_mut() {
            let Some(&live_after) = reader.live_after().get(room) else {
                continue;
            };
            if *seen >= live_after {
                continue;
            }
            // Catch up from the log up to where the queue takes over: the log has all of
            // that, since a seat goes live after the room's last stored event.
            while *seen < live_after {
                let page = self
                    .stored_after(room, *seen, live_after, CATCH_UP_PAGE, me)
                    .await?;
                let Some(last) = page.last().map(|e| e.seq) else {
                    break;
                };
                for event in &page {
                    let message = SubscriptionMessage::new(
                        sink.method_name(),
                        sink.subscription_id(),
                        event,
                    )?;
                    if sink.send(message).await.is_err() {
                        return Ok(false);
                    }
                }
                *seen = last;
            }
        }
        Ok(true)
    }

    /// The live part of a subscription whose session's events go straight to its sink:
    /// waits for the subscriber to go (the events go back to the queue, for whoever reads
    /// next, as the reader drops) or the session to end.
    async fn direct(
        &self,
        sink: &SubscriptionSink,
        reader: ClaimedReader,
        session: &str,
    ) -> SubscriptionResult {
        let ended = match self.chat.on_end(session) {
            Ok(ended) => ended,
            Err(_) => return Err("session ended".into()),
        };
        tokio::select! {
            () = sink.closed() => {
                drop(reader);
                Ok(())
            }
            reason = ended.reason() => {
                drained(sink).await;
                Err(format!("session ended: {reason}").into())
            }
        }
    }

    /// `chat_poll`: see the API trait.
    pub(super) async fn poll_events(
        &self,
        session: String,
        timeout_ms: Option<u64>,
        since: Option<u64>,
        cursors: Option<BTreeMap<String, u64>>,
    ) -> Result<Vec<Event>, ErrorObjectOwned> {
        let wait = timeout_ms
            .unwrap_or(DEFAULT_POLL_TIMEOUT_MS)
            .min(MAX_POLL_TIMEOUT_MS);
        let deadline = Instant::now() + Duration::from_millis(wait);
        // The session first: a stranger must not learn how far a room has got.
        let reader = self.chat.reader(&session)?;
        let me = self.chat.member(&session)?.id;
        let cursors = self
            .chat
            .check_cursors(&session, &self.cursors(since, cursors))?;
        // One reader per session at a time, replay included: a second poll is refused, not
        // queued, so polls cannot pile up on the server or answer the same events twice.
        let mut reader = reader.try_claim()?;
        for (room, seen) in &cursors {
            // Up to where the queue takes over, or to what earlier polls returned (an
            // answer may have been lost on its way), the log has it all.
            let live_after = reader.live_after().get(room).copied().unwrap_or(0);
            let through = live_after.max(reader.handed_out(room));
            if *seen < through {
                let page = self
                    .stored_after(room, *seen, through, MAX_POLL_EVENTS, me)
                    .await?;
                if !page.is_empty() {
                    return Ok(page);
                }
            }
        }
        loop {
            match timeout_at(deadline, reader.next_batch(MAX_POLL_EVENTS)).await {
                Err(_elapsed) => return Ok(Vec::new()),
                Ok(Err(reason)) => return Err(RoomError::SessionEnded(reason).into()),
                Ok(Ok(batch)) => {
                    // Anything at or before a room's cursor the caller already has.
                    let fresh: Vec<Event> = batch
                        .iter()
                        .filter(|e| {
                            !e.kind.is_stored()
                                || cursors.get(&e.room).is_none_or(|seen| e.seq > *seen)
                        })
                        .map(|event| event.event.clone())
                        .collect();
                    for event in fresh.iter().filter(|e| e.kind.is_stored()) {
                        reader.note_handed_out(&event.room, event.seq);
                    }
                    if !fresh.is_empty() {
                        return Ok(fresh);
                    }
                }
            }
        }
    }

    /// The cursors a client gave, with `since` as the default room's.
    fn cursors(
        &self,
        since: Option<u64>,
        cursors: Option<BTreeMap<String, u64>>,
    ) -> BTreeMap<String, u64> {
        let mut cursors = cursors.unwrap_or_default();
        if let Some(since) = since {
            cursors
                .entry(self.chat.default_room().to_owned())
                .or_insert(since);
        }
        cursors
    }

    /// Stored events of a room after `since` and no later than `through`, oldest first,
    /// but a guest's own (`me`): a catch-up is no self-echo either. (A guest that
    /// reconnects is a new member, so what it said before does come back to it.) An
    /// identity gets its own too: its other sessions said them, or it did before it
    /// reconnected, and the client knows which of them it shows already. Empty only when
    /// nothing but a guest's own events is left up to `through`.
    async fn stored_after(
        &self,
        room: &str,
        mut since: u64,
        through: u64,
        limit: usize,
        me: Uuid,
    ) -> Result<Vec<Event>, ErrorObjectOwned> {
        loop {
            let (log, room) = (self.chat.log(), room.to_owned());
            let page =
                read_log(&self.history_reader, move || log.after(&room, since, limit)).await?;
            let Some(last) = page.last().map(|e| e.seq) else {
                return Ok(page);
            };
            let fresh: Vec<Event> = page
                .into_iter()
                .filter(|e| e.seq <= through && (e.from.id != me || is_keyed_id(me)))
                .collect();
            if !fresh.is_empty() || last >= through {
                return Ok(fresh);
            }
            since = last;
        }
    }
}

/// A subscription's sink as the chat's outlet for a session's events.
struct SinkOutlet(Arc<SubscriptionSink>);

impl Outlet for SinkOutlet {
    fn offer(&self, event: &Arc<Stamped>) -> Result<(), Refused> {
        // Our own events always encode; if one did not, the session could not be served.
        let message = notification(&self.0, event).map_err(|err| {
            tracing::error!(%err, "an event would not encode");
            Refused::Full
        })?;
        // `send` waits only when there is no room, so polled once it either takes the
        // event or says why not; dropping it then gives up its place. Unconstrained: the
        // task fanning out (a send, the presence tick) may have spent its cooperative
        // budget, which would make a free place look taken.
        let send = tokio::task::unconstrained(self.0.send(message));
        match send.now_or_never() {
            Some(Ok(())) => Ok(()),
            Some(Err(_)) => Err(Refused::Closed),
            None => Err(Refused::Full),
        }
    }
}

/// The notification of an event for a sink, written in one pass around the event's JSON as
/// it was made once on acceptance (or made now if it was not).
fn notification(
    sink: &SubscriptionSink,
    event: &Stamped,
) -> Result<SubscriptionMessage, serde_json::Error> {
    let (method, id) = (sink.method_name(), sink.subscription_id());
    match event.wire.downcast_ref::<Box<RawValue>>() {
        Some(json) => SubscriptionMessage::new(method, id, json),
        None => SubscriptionMessage::new(method, id, &event.event),
    }
}

/// How long an ended session's subscription waits for its last events to leave.
const DRAIN_WITHIN: std::time::Duration = std::time::Duration::from_secs(1);

/// Waits, for at most [`DRAIN_WITHIN`], until the connection has taken every event this
/// subscription handed it: a session ends (its last event, such as the shutdown notice,
/// just handed over) and the server may close the connection right after, which would
/// drop what its writer had not taken yet.
async fn drained(sink: &SubscriptionSink) {
    let limit = tokio::time::Instant::now() + DRAIN_WITHIN;
    while sink.capacity() < sink.max_capacity()
        && !sink.is_closed()
        && tokio::time::Instant::now() < limit
    {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
}
