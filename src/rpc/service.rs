//! The chat API's server side: [`ChatService`], the `ChatApiServer` implementation that
//! translates between JSON-RPC calls and the chat. The event stream and polling, with their
//! catch-up, are in `stream.rs`.

use std::collections::BTreeMap;
use std::sync::Arc;

use jsonrpsee::Extensions;
use jsonrpsee::core::{SubscriptionResult, async_trait};
use jsonrpsee::server::PendingSubscriptionSink;
use jsonrpsee::types::ErrorObjectOwned;

use super::auth::{AuthError, PasswordGate};
use super::connection::ConnectionScope;
use super::limits::{JoinLimiter, RemoteIp};
use super::reads::HistoryReader;
use super::server::ServerConfig;
use super::types::{
    Event, JoinResult, MemberInfo, NickResult, PROTOCOL_VERSION, RoomInfo, RoomJoined, SendResult,
    TopicResult,
};
use super::{ChatApiServer, DEFAULT_HISTORY_LIMIT, MAX_HISTORY_LIMIT, codes};
use crate::domain::{Chat, Encoder, Entered, Lifetime, LogError, RoomSummary, Wire};

/// The chat API's server side: thin translation between JSON-RPC and the chat.
pub struct ChatService {
    pub(super) chat: Chat,
    joins: JoinLimiter,
    /// Room creations per address.
    creations: JoinLimiter,
    max_sessions_per_connection: usize,
    /// Set when the server has a password.
    password: Option<PasswordGate>,
    /// Runs every history read, one at a time, on a thread of its own.
    pub(super) history_reader: HistoryReader,
}

#[async_trait]
impl ChatApiServer for ChatService {
    async fn join(
        &self,
        ext: &Extensions,
        name: Option<String>,
        password: Option<String>,
        room: Option<String>,
        _proof: Option<super::types::Proof>,
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
        let may_create = || self.creations.check(remote);
        let (joined, receipt) =
            self.chat
                .join_as(name.as_deref(), lifetime, room.as_deref(), None, may_create)?;
        if let Some(scope) = scope {
            scope.adopt(&joined.session);
        }
        // Answer once the join is stored, as a send is: whoever joins after this member
        // then finds it in the history, not as news. A join that cannot be stored is undone.
        receipt.stored().await?;
        let room = joined.room;
        Ok(JoinResult {
            protocol: PROTOCOL_VERSION,
            room: room.room,
            topic: room.topic,
            session: joined.session,
            id: joined.info.id,
            name: joined.info.name,
            members: room.members,
            last_seq: room.last_seq,
            history: room.history,
            guest: true,
            fingerprint: None,
            read: 0,
            unread: 0,
            rooms: Vec::new(),
        })
    }

    async fn enter(
        &self,
        ext: &Extensions,
        session: String,
        room: String,
    ) -> Result<RoomJoined, ErrorObjectOwned> {
        let remote = ext.get::<RemoteIp>().map(|ip| ip.0);
        let may_create = || self.creations.check(remote);
        let (entered, receipt) = self.chat.enter_with(&session, &room, may_create)?;
        if let Some(receipt) = receipt {
            receipt.stored().await?;
        }
        Ok(room_joined(entered))
    }

    async fn part(
        &self,
        session: String,
        room: Option<String>,
        reason: Option<String>,
    ) -> Result<(), ErrorObjectOwned> {
        let room = room.unwrap_or_else(|| self.chat.default_room().to_owned());
        Ok(self.chat.part(&session, &room, reason.as_deref())?)
    }

    async fn send(
        &self,
        session: String,
        text: String,
        action: Option<bool>,
        room: Option<String>,
    ) -> Result<SendResult, ErrorObjectOwned> {
        let room = room.as_deref().unwrap_or(self.chat.default_room());
        let receipt = self.chat.say(&session, room, &text, action == Some(true))?;
        // The answer means "stored and will be delivered"; a refusal, "never will be".
        let seq = receipt.stored().await?;
        Ok(SendResult { seq })
    }

    async fn nick(&self, session: String, name: String) -> Result<NickResult, ErrorObjectOwned> {
        let (name, receipts) = self.chat.nick(&session, &name)?;
        for receipt in receipts {
            receipt.stored().await?;
        }
        Ok(NickResult { name })
    }

    async fn topic(
        &self,
        session: String,
        room: Option<String>,
        topic: Option<String>,
    ) -> Result<TopicResult, ErrorObjectOwned> {
        let room = room.as_deref().unwrap_or(self.chat.default_room());
        let (room, topic, receipt) = self.chat.topic(&session, room, topic.as_deref())?;
        if let Some(receipt) = receipt {
            receipt.stored().await?;
        }
        Ok(TopicResult { room, topic })
    }

    async fn rooms(&self, session: Option<String>) -> Result<Vec<RoomInfo>, ErrorObjectOwned> {
        self.gate_public_read(session)?;
        Ok(self.chat.rooms().into_iter().map(room_info).collect())
    }

    async fn leave(&self, session: String, reason: Option<String>) -> Result<(), ErrorObjectOwned> {
        Ok(self.chat.leave(&session, reason.as_deref())?)
    }

    async fn subscribe_events(
        &self,
        pending: PendingSubscriptionSink,
        session: String,
        since: Option<u64>,
        cursors: Option<BTreeMap<String, u64>>,
    ) -> SubscriptionResult {
        self.stream(pending, session, since, cursors).await
    }

    async fn poll(
        &self,
        session: String,
        timeout_ms: Option<u64>,
        since: Option<u64>,
        cursors: Option<BTreeMap<String, u64>>,
    ) -> Result<Vec<Event>, ErrorObjectOwned> {
        self.poll_events(session, timeout_ms, since, cursors).await
    }

    async fn history(
        &self,
        session: String,
        before: Option<u64>,
        since: Option<u64>,
        limit: Option<u32>,
        room: Option<String>,
    ) -> Result<Vec<Event>, ErrorObjectOwned> {
        let room = room.as_deref().unwrap_or(self.chat.default_room());
        let room = self.chat.check_member_of(&session, room)?;
        if before.is_some() && since.is_some() {
            return Err(ErrorObjectOwned::owned(
                jsonrpsee::types::error::INVALID_PARAMS_CODE,
                "give `before` or `since`, not both",
                None::<()>,
            ));
        }
        let limit = limit
            .unwrap_or(DEFAULT_HISTORY_LIMIT)
            .min(MAX_HISTORY_LIMIT) as usize;
        let log = self.chat.log();
        let query = move || match (before, since) {
            (Some(before), _) => log.before(&room, before, limit),
            (None, Some(since)) => log.after(&room, since, limit),
            (None, None) => log.latest(&room, limit),
        };
        read_log(&self.history_reader, query).await
    }

    async fn members(
        &self,
        session: Option<String>,
        room: Option<String>,
    ) -> Result<Vec<MemberInfo>, ErrorObjectOwned> {
        self.gate_public_read(session)?;
        let room = room.as_deref().unwrap_or(self.chat.default_room());
        Ok(self.chat.members(room)?)
    }

    // WIP(ident): the lead replaces these before the branch lands.
    async fn challenge(
        &self,
        _ext: &Extensions,
    ) -> Result<super::types::Challenge, ErrorObjectOwned> {
        Err(ErrorObjectOwned::owned(codes::BAD_PROOF, "wip", None::<()>))
    }
    async fn msg(
        &self,
        _session: String,
        _to: String,
        _text: String,
        _action: Option<bool>,
    ) -> Result<super::types::MsgResult, ErrorObjectOwned> {
        Err(ErrorObjectOwned::owned(codes::BAD_PROOF, "wip", None::<()>))
    }
    async fn query(&self, _session: String, _name: String) -> Result<RoomJoined, ErrorObjectOwned> {
        Err(ErrorObjectOwned::owned(codes::BAD_PROOF, "wip", None::<()>))
    }
    async fn mark(
        &self,
        _session: String,
        _room: String,
        _seq: u64,
    ) -> Result<super::types::MarkResult, ErrorObjectOwned> {
        Err(ErrorObjectOwned::owned(codes::BAD_PROOF, "wip", None::<()>))
    }
    async fn whois(
        &self,
        _session: String,
        _name: String,
    ) -> Result<super::types::Whois, ErrorObjectOwned> {
        Err(ErrorObjectOwned::owned(codes::BAD_PROOF, "wip", None::<()>))
    }
}

impl ChatService {
    pub fn new(chat: Chat, config: &ServerConfig) -> Self {
        Self {
            chat,
            joins: JoinLimiter::new(config.join_rate, config.limit_loopback),
            creations: JoinLimiter::new(config.room_creations, config.limit_loopback),
            max_sessions_per_connection: config.max_sessions_per_connection,
            password: config.password.clone().map(PasswordGate::new),
            history_reader: HistoryReader::start(),
        }
    }

    /// What anyone may ask of an open server (who is in a room, which rooms there are) is
    /// for members only on a private one. A member asking is active either way.
    fn gate_public_read(&self, session: Option<String>) -> Result<(), ErrorObjectOwned> {
        if self.password.is_some() {
            let session = session.ok_or(AuthError::PasswordRequired)?;
            self.chat.member(&session)?;
        } else if let Some(session) = session {
            let _ = self.chat.member(&session);
        }
        Ok(())
    }
}

fn room_joined(entered: Entered) -> RoomJoined {
    RoomJoined {
        room: entered.room,
        topic: entered.topic,
        members: entered.members,
        last_seq: entered.last_seq,
        history: entered.history,
        peer: None,
        read: 0,
        unread: 0,
    }
}

fn room_info(room: RoomSummary) -> RoomInfo {
    RoomInfo {
        room: room.name,
        topic: room.topic,
        members: room.members as u32,
        last_seq: room.last_seq,
        created: room.created,
        last_active: room.last_active,
    }
}

/// Makes each event's JSON once, when it is accepted, so fan-out copies bytes.
pub(super) fn json_encoder() -> Encoder {
    Arc::new(|event: &Event| -> Wire {
        Box::new(serde_json::value::to_raw_value(event).expect("an event always serializes"))
    })
}

/// Runs a log query off the async threads, on the history reader's thread.
pub(super) async fn read_log(
    reader: &HistoryReader,
    query: impl FnOnce() -> Result<Vec<Event>, LogError> + Send + 'static,
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::domain::LeaveReason;

    fn joined(chat: &Chat, name: &str) -> String {
        let (joined, _) = chat.join(Some(name), Lifetime::Idle, None).unwrap();
        joined.session
    }

    #[tokio::test]
    async fn an_http_member_that_only_reads_or_renames_is_not_idle() {
        let chat = Chat::default();
        let service = ChatService::new(chat.clone(), &ServerConfig::default());
        let session = joined(&chat, "reader");
        let idle = Duration::from_secs(60);
        for call in ["chat_history", "chat_members", "chat_rooms", "chat_nick"] {
            chat.backdate_activity(&session, 2 * idle);
            let answered = match call {
                "chat_history" => service
                    .history(session.clone(), None, None, None, None)
                    .await
                    .map(drop),
                "chat_members" => service.members(Some(session.clone()), None).await.map(drop),
                "chat_rooms" => service.rooms(Some(session.clone())).await.map(drop),
                _ => service
                    .nick(session.clone(), "renamed".into())
                    .await
                    .map(drop),
            };
            answered.unwrap();
            let removed = chat.expire_idle(std::time::Instant::now(), idle);
            assert_eq!(removed, 0, "{call} did not count as activity");
        }
    }

    #[tokio::test]
    async fn poll_waiting_when_its_session_ends_is_told_why() {
        let chat = Chat::default();
        let service = ChatService::new(chat.clone(), &ServerConfig::default());
        let session = joined(&chat, "curl");
        let mut poll = std::pin::pin!(service.poll(session.clone(), Some(10_000), None, None));
        assert!(
            futures::poll!(&mut poll).is_pending(),
            "the poll is waiting"
        );
        chat.end_session(&session, LeaveReason::TooSlow).unwrap();
        let err = poll.await.unwrap_err();
        assert_eq!(err.code(), codes::SESSION_ENDED);
        assert_eq!(err.message(), "session ended: too slow");
    }
}
