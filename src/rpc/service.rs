//! The chat API's server side: [`ChatService`], the `ChatApiServer` implementation that
//! translates between JSON-RPC calls and the room.

use std::time::Duration;

use jsonrpsee::core::{SubscriptionResult, async_trait};
use jsonrpsee::server::PendingSubscriptionSink;
use jsonrpsee::types::ErrorObjectOwned;
use jsonrpsee::{Extensions, SubscriptionMessage};
use tokio::time::{Instant, timeout_at};

use super::auth::{AuthError, PasswordGate};
use super::connection::ConnectionScope;
use super::limits::{JoinLimiter, RemoteIp};
use super::reads::HistoryReader;
use super::server::ServerConfig;
use super::types::{Event, JoinResult, MemberInfo, NickResult, SendResult};
use super::{
    ChatApiServer, DEFAULT_HISTORY_LIMIT, DEFAULT_POLL_TIMEOUT_MS, MAX_HISTORY_LIMIT,
    MAX_POLL_EVENTS, MAX_POLL_TIMEOUT_MS, codes,
};
use crate::room::{LeaveReason, Lifetime, Room, RoomError};
use crate::store::StoreError;

/// The chat API's server side: thin translation between JSON-RPC and the room.
pub struct ChatService {
    room: Room,
    joins: JoinLimiter,
    max_sessions_per_connection: usize,
    /// Set when the room has a password.
    password: Option<PasswordGate>,
    /// Runs every history read, one at a time, on a thread of its own.
    history_reader: HistoryReader,
}

#[async_trait]
impl ChatApiServer for ChatService {
    async fn join(
        &self,
        ext: &Extensions,
        name: Option<String>,
        password: Option<String>,
        _room: Option<String>,
    ) -> Result<JoinResult, ErrorObjectOwned> {
        let remote = ext.get::<RemoteIp>().map(|ip| ip.0);
        if let Some(gate) = &self.password {
            gate.check(remote, password.as_deref())?;
        }
        let scope = ext.get::<ConnectionScope>();
        if let Some(scope) = scope
            && scope.live_sessions() >= self.max_sessions_per_connection
        {
            return Err(ErrorObjectOwned::owned(
                codes::TOO_MANY_SESSIONS,
                format!(
                    "this connection already has {} sessions",
                    self.max_sessions_per_connection
                ),
                None::<()>,
            ));
        }
        self.joins.check(remote)?;
        let lifetime = match scope {
            Some(_) => Lifetime::Connection,
            None => Lifetime::Idle,
        };
        let (joined, receipt) = self.room.join_with_receipt(name.as_deref(), lifetime)?;
        if let Some(scope) = scope {
            scope.adopt(&joined.session);
        }
        // Answer once the join is stored, as a send is: whoever joins after this member
        // then finds it in the history, not as news. A join that cannot be stored is undone.
        receipt.stored().await?;
        Ok(joined)
    }

    async fn send(
        &self,
        session: String,
        text: String,
        action: Option<bool>,
        _room: Option<String>,
    ) -> Result<SendResult, ErrorObjectOwned> {
        let receipt = self.room.say(&session, &text, action == Some(true))?;
        // The answer means "stored and will be delivered"; a refusal, "never will be".
        let seq = receipt.stored().await?;
        Ok(SendResult { seq })
    }

    async fn nick(&self, session: String, name: String) -> Result<NickResult, ErrorObjectOwned> {
        let (name, receipt) = self.room.nick_with_receipt(&session, &name)?;
        if let Some(receipt) = receipt {
            receipt.stored().await?;
        }
        Ok(NickResult { name })
    }

    async fn enter(
        &self,
        _ext: &Extensions,
        _session: String,
        _room: String,
    ) -> Result<super::types::RoomJoined, ErrorObjectOwned> {
        Err(ErrorObjectOwned::owned(
            codes::NO_SUCH_ROOM,
            "wip",
            None::<()>,
        ))
    }

    async fn part(
        &self,
        _session: String,
        _room: Option<String>,
        _reason: Option<String>,
    ) -> Result<(), ErrorObjectOwned> {
        Err(ErrorObjectOwned::owned(
            codes::NO_SUCH_ROOM,
            "wip",
            None::<()>,
        ))
    }

    async fn topic(
        &self,
        _session: String,
        _room: Option<String>,
        _topic: Option<String>,
    ) -> Result<super::types::TopicResult, ErrorObjectOwned> {
        Err(ErrorObjectOwned::owned(
            codes::NO_SUCH_ROOM,
            "wip",
            None::<()>,
        ))
    }

    async fn rooms(
        &self,
        _session: Option<String>,
    ) -> Result<Vec<super::types::RoomInfo>, ErrorObjectOwned> {
        Err(ErrorObjectOwned::owned(
            codes::NO_SUCH_ROOM,
            "wip",
            None::<()>,
        ))
    }

    async fn leave(
        &self,
        session: String,
        _reason: Option<String>,
    ) -> Result<(), ErrorObjectOwned> {
        Ok(self.room.leave(&session, LeaveReason::Left)?)
    }

    async fn subscribe_events(
        &self,
        pending: PendingSubscriptionSink,
        session: String,
        since: Option<u64>,
        _cursors: Option<std::collections::BTreeMap<String, u64>>,
    ) -> SubscriptionResult {
        // The session first, so a stranger learns nothing of how far the room has got; then
        // claim the queue, so nothing live is missed while catching up.
        let claimed = self
            .room
            .reader(&session)
            .and_then(|r| self.room.check_since(since).map(|()| r))
            .and_then(|r| r.try_claim());
        let mut reader = match claimed {
            Ok(reader) => reader,
            Err(err) => {
                pending.reject(ErrorObjectOwned::from(err)).await;
                return Ok(());
            }
        };
        let sink = pending.accept().await?;
        // The highest seq this subscriber has, so the live part starts right after it.
        let mut delivered = since.unwrap_or(0);
        if since.is_some() && delivered < reader.live_after() {
            // Catch up from the store up to where the queue takes over, once the store has
            // everything up to there.
            self.room.stored(reader.live_after()).await;
            while delivered < reader.live_after() {
                let page = self
                    .stored_after(delivered, reader.live_after(), CATCH_UP_PAGE)
                    .await?;
                let Some(last) = page.last().map(|e| e.seq) else {
                    break;
                };
                for event in &page {
                    if sink.send(event_message(event)?).await.is_err() {
                        return Ok(());
                    }
                }
                delivered = last;
            }
        }
        loop {
            tokio::select! {
                // A closed subscriber must not take one more event off the queue.
                biased;
                () = sink.closed() => return Ok(()),
                next = reader.next() => match next {
                    Ok(event) if event.seq <= delivered => {}
                    Ok(event) => {
                        if sink.send(SubscriptionMessage::from(event.json.clone())).await.is_err() {
                            // Unsubscribed or disconnected: whoever reads next gets it.
                            reader.put_back(event);
                            return Ok(());
                        }
                    }
                    Err(reason) => return Err(format!("session ended: {reason}").into()),
                },
            }
        }
    }

    async fn poll(
        &self,
        session: String,
        timeout_ms: Option<u64>,
        since: Option<u64>,
        _cursors: Option<std::collections::BTreeMap<String, u64>>,
    ) -> Result<Vec<Event>, ErrorObjectOwned> {
        let wait = timeout_ms
            .unwrap_or(DEFAULT_POLL_TIMEOUT_MS)
            .min(MAX_POLL_TIMEOUT_MS);
        let deadline = Instant::now() + Duration::from_millis(wait);
        // The session first: a stranger must not learn how far the room has got.
        let reader = self.room.reader(&session)?;
        self.room.check_since(since)?;
        let seen = since.unwrap_or(0);
        // Up to where the queue takes over, or to what earlier polls returned (an answer
        // may have been lost on its way), the store has it all.
        let from_store_through = reader.live_after.max(reader.handed_out());
        if since.is_some() && seen < from_store_through {
            let page = self
                .stored_after(seen, from_store_through, MAX_POLL_EVENTS)
                .await?;
            if !page.is_empty() {
                return Ok(page);
            }
        }
        // One reader per session at a time: a second poll is refused, not queued, so polls
        // cannot pile up on the server.
        let mut reader = reader.try_claim()?;
        loop {
            match timeout_at(deadline, reader.next_batch(MAX_POLL_EVENTS)).await {
                Err(_elapsed) => return Ok(Vec::new()),
                Ok(Err(reason)) => return Err(RoomError::SessionEnded(reason).into()),
                Ok(Ok(batch)) => {
                    // Anything at or before `since` the caller already has.
                    let fresh: Vec<Event> = batch
                        .iter()
                        .filter(|event| event.seq > seen)
                        .map(|event| Event::clone(event))
                        .collect();
                    if let Some(last) = fresh.last() {
                        reader.note_handed_out(last.seq);
                        return Ok(fresh);
                    }
                }
            }
        }
    }

    async fn history(
        &self,
        session: String,
        before: Option<u64>,
        since: Option<u64>,
        limit: Option<u32>,
        _room: Option<String>,
    ) -> Result<Vec<Event>, ErrorObjectOwned> {
        self.room.member(&session)?;
        let limit = limit
            .unwrap_or(DEFAULT_HISTORY_LIMIT)
            .min(MAX_HISTORY_LIMIT) as usize;
        let history = self.room.history().clone();
        let query = move || match (before, since) {
            (Some(before), None) => history.before(before, limit),
            (None, Some(since)) => history.after(since, limit),
            (None, None) => history.latest(limit),
            (Some(_), Some(_)) => unreachable!("refused below"),
        };
        if before.is_some() && since.is_some() {
            return Err(ErrorObjectOwned::owned(
                jsonrpsee::types::error::INVALID_PARAMS_CODE,
                "give `before` or `since`, not both",
                None::<()>,
            ));
        }
        read_store(&self.history_reader, query).await
    }

    async fn members(
        &self,
        session: Option<String>,
        _room: Option<String>,
    ) -> Result<Vec<MemberInfo>, ErrorObjectOwned> {
        if self.password.is_some() {
            // Who is in a private room is for its members only.
            let session = session.ok_or(AuthError::PasswordRequired)?;
            self.room.member(&session)?;
        } else if let Some(session) = session {
            // An open room answers anyone, but a member asking is still active.
            let _ = self.room.member(&session);
        }
        Ok(self.room.members())
    }
}

/// Events read from the store per step of a catch-up.
const CATCH_UP_PAGE: usize = 500;

impl ChatService {
    pub fn new(room: Room, config: &ServerConfig) -> Self {
        Self {
            room,
            joins: JoinLimiter::new(config.join_rate, config.limit_loopback),
            max_sessions_per_connection: config.max_sessions_per_connection,
            password: config.password.clone().map(PasswordGate::new),
            history_reader: HistoryReader::start(),
        }
    }

    /// Stored events after `since` and no later than `through`, oldest first.
    async fn stored_after(
        &self,
        since: u64,
        through: u64,
        limit: usize,
    ) -> Result<Vec<Event>, ErrorObjectOwned> {
        let history = self.room.history().clone();
        let mut page =
            read_store(&self.history_reader, move || history.after(since, limit)).await?;
        page.retain(|event| event.seq <= through);
        Ok(page)
    }
}

/// Runs a store query off the async threads, on the history reader's thread.
async fn read_store(
    reader: &HistoryReader,
    query: impl FnOnce() -> Result<Vec<Event>, StoreError> + Send + 'static,
) -> Result<Vec<Event>, ErrorObjectOwned> {
    let result = reader.run(query).await;
    result.map_err(|err| {
        tracing::error!(%err, "reading history failed");
        ErrorObjectOwned::owned(
            codes::HISTORY_UNAVAILABLE,
            "history is unavailable",
            None::<()>,
        )
    })
}

fn event_message(event: &Event) -> Result<SubscriptionMessage, serde_json::Error> {
    Ok(serde_json::value::to_raw_value(event)?.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::codes;

    #[tokio::test]
    async fn an_http_member_that_only_reads_or_renames_is_not_idle() {
        let room = Room::default();
        let service = ChatService::new(room.clone(), &ServerConfig::default());
        let session = room.join(Some("reader"), Lifetime::Idle).unwrap().session;
        let idle = Duration::from_secs(60);
        for call in ["chat_history", "chat_members", "chat_nick"] {
            room.backdate_activity(&session, 2 * idle);
            let answered = match call {
                "chat_history" => service
                    .history(session.clone(), None, None, None, None)
                    .await
                    .map(drop),
                "chat_members" => service.members(Some(session.clone()), None).await.map(drop),
                _ => service
                    .nick(session.clone(), "renamed".into())
                    .await
                    .map(drop),
            };
            answered.unwrap();
            let removed = room.expire_idle(std::time::Instant::now(), idle);
            assert_eq!(removed, 0, "{call} did not count as activity");
        }
    }

    #[tokio::test]
    async fn poll_waiting_when_its_session_ends_is_told_why() {
        let room = Room::default();
        let service = ChatService::new(room.clone(), &ServerConfig::default());
        let session = room.join(Some("curl"), Lifetime::Idle).unwrap().session;
        let mut poll = std::pin::pin!(service.poll(session.clone(), Some(10_000), None, None));
        assert!(
            futures::poll!(&mut poll).is_pending(),
            "the poll is waiting"
        );
        room.leave(&session, LeaveReason::TooSlow).unwrap();
        let err = poll.await.unwrap_err();
        assert_eq!(err.code(), codes::SESSION_ENDED);
        assert_eq!(err.message(), "session ended: too slow");
    }
}
