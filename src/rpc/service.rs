//! The chat API's server side: [`ChatService`], the `ChatApiServer` implementation that
//! translates between JSON-RPC calls and the chat. The event stream and polling, with their
//! catch-up, are in `stream.rs`; what a join answers (the proof checked, unread counts) is in
//! `joining.rs`; searching in `search.rs`.

use std::collections::BTreeMap;
use std::sync::Arc;

use jsonrpsee::Extensions;
use jsonrpsee::core::{SubscriptionResult, async_trait};
use jsonrpsee::server::PendingSubscriptionSink;
use jsonrpsee::types::ErrorObjectOwned;

use super::auth::{AuthError, PasswordGate};
use super::connection::ConnectionScope;
use super::joining::{bad_proof, fingerprint};
use super::limits::{JoinLimiter, RemoteIp};
use super::reads::HistoryReader;
use super::server::ServerConfig;
use super::types::{
    BanInfo, Challenge, Event, JoinResult, MarkResult, MemberInfo, ModeResult, Moderated,
    MsgResult, NickResult, NotifyResult, RoomInfo, RoomJoined, SearchResult, SendResult,
    TopicResult, Whois,
};
use super::{ChatApiServer, DEFAULT_HISTORY_LIMIT, MAX_HISTORY_LIMIT, codes};
use crate::domain::{Chat, Encoder, Lifetime, LogError, RoomSummary, Wire};

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
    /// What a join proof is bound to, besides its connection's nonce: this server's id.
    pub(super) server_id: String,
}

#[async_trait]
impl ChatApiServer for ChatService {
    async fn join(
        &self,
        ext: &Extensions,
        name: Option<String>,
        password: Option<String>,
        room: Option<String>,
        proof: Option<super::types::Proof>,
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
        let key = match proof {
            Some(proof) => Some(self.check_proof(scope, &proof)?),
            None => None,
        };
        let lifetime = match scope {
            Some(_) => Lifetime::Connection,
            None => Lifetime::Idle,
        };
        if let (Some(key), Some(name)) = (&key, name.as_deref().and_then(crate::text::clean_name)) {
            self.claim_name(name, key.key.clone()).await?;
        }
        let may_create = || self.creations.check(remote);
        // The address too: a guest is banned by it.
        let (joined, receipt) = self.chat.join_from(
            remote,
            name.as_deref(),
            lifetime,
            room.as_deref(),
            key,
            may_create,
        )?;
        if let Some(scope) = scope {
            scope.adopt(&joined.session);
        }
        // Answer once the join is stored, as a send is: whoever joins after this member
        // then finds it in the history, not as news. A join that cannot be stored is undone.
        if let Some(receipt) = receipt {
            receipt.stored().await?;
        }
        self.join_result(joined).await
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
        let me = self.chat.member(&session)?.id;
        Ok(self.room_joined(entered, me).await)
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
        if let (Some(key), Some(cleaned)) =
            (self.chat.key_of(&session), crate::text::clean_name(&name))
        {
            self.claim_name(cleaned, key).await?;
        }
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
        self.gate_public_read(session.clone())?;
        Ok(self
            .chat
            .rooms_for(session.as_deref())
            .into_iter()
            .map(room_info)
            .collect())
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
        self.gate_public_read(session.clone())?;
        let room = room.as_deref().unwrap_or(self.chat.default_room());
        Ok(self.chat.members_for(session.as_deref(), room)?)
    }

    async fn sync_members(
        &self,
        session: String,
        room: Option<String>,
    ) -> Result<u32, ErrorObjectOwned> {
        let room = room.as_deref().unwrap_or(self.chat.default_room());
        Ok(self.chat.sync_members(&session, room)? as u32)
    }

    async fn challenge(&self, ext: &Extensions) -> Result<Challenge, ErrorObjectOwned> {
        let scope = ext.get::<ConnectionScope>().ok_or_else(|| {
            bad_proof("an identity needs a WebSocket connection; over HTTP, join as a guest")
        })?;
        Ok(Challenge {
            server: self.server_id.clone(),
            nonce: scope.issue_challenge(),
        })
    }

    async fn msg(
        &self,
        session: String,
        to: String,
        text: String,
        action: Option<bool>,
    ) -> Result<MsgResult, ErrorObjectOwned> {
        let (room, receipt, away) = self.chat.msg(&session, &to, &text, action == Some(true))?;
        let seq = receipt.stored().await?;
        Ok(MsgResult { room, seq, away })
    }

    async fn query(&self, session: String, name: String) -> Result<RoomJoined, ErrorObjectOwned> {
        let entered = self.chat.query(&session, &name)?;
        let me = self.chat.member(&session)?.id;
        Ok(self.room_joined(entered, me).await)
    }

    async fn mark(
        &self,
        session: String,
        room: String,
        seq: u64,
    ) -> Result<MarkResult, ErrorObjectOwned> {
        let (room, seq) = self.chat.mark(&session, &room, seq)?;
        Ok(MarkResult { room, seq })
    }

    async fn whois(&self, session: String, name: String) -> Result<Whois, ErrorObjectOwned> {
        let who = self.chat.whois(&session, &name)?;
        Ok(Whois {
            name: who.info.name,
            id: who.info.id,
            guest: who.key.is_none(),
            fingerprint: who.key.as_deref().and_then(fingerprint),
            since: who.since,
            online: who.online,
            sessions: who.sessions as u32,
            rooms: who.rooms,
            idle_ms: who.idle.map(|idle| idle.as_millis() as u64),
            last_seen: who.last_seen,
            away: who.away,
            server_op: who.server_op,
            roles: who.roles,
        })
    }

    async fn kick(
        &self,
        session: String,
        name: String,
        room: Option<String>,
        reason: Option<String>,
    ) -> Result<Moderated, ErrorObjectOwned> {
        self.kick_member(session, name, room, reason).await
    }

    async fn ban(
        &self,
        session: String,
        target: String,
        room: Option<String>,
        duration_secs: Option<u64>,
        reason: Option<String>,
    ) -> Result<BanInfo, ErrorObjectOwned> {
        self.ban_target(session, target, room, duration_secs, reason)
            .await
    }

    async fn unban(
        &self,
        session: String,
        target: String,
        room: Option<String>,
    ) -> Result<BanInfo, ErrorObjectOwned> {
        self.unban_target(session, target, room).await
    }

    async fn bans(
        &self,
        session: String,
        room: Option<String>,
    ) -> Result<Vec<BanInfo>, ErrorObjectOwned> {
        self.room_bans(session, room)
    }

    async fn gban(
        &self,
        session: String,
        target: String,
        duration_secs: Option<u64>,
        reason: Option<String>,
    ) -> Result<BanInfo, ErrorObjectOwned> {
        self.server_ban(session, target, duration_secs, reason)
            .await
    }

    async fn ungban(&self, session: String, target: String) -> Result<BanInfo, ErrorObjectOwned> {
        Ok(self.chat.ungban(&session, &target)?.into())
    }

    async fn gbans(&self, session: String) -> Result<Vec<BanInfo>, ErrorObjectOwned> {
        Ok(self
            .chat
            .gbans(&session)?
            .into_iter()
            .map(BanInfo::from)
            .collect())
    }

    async fn mute(
        &self,
        session: String,
        name: String,
        room: Option<String>,
        duration_secs: Option<u64>,
    ) -> Result<BanInfo, ErrorObjectOwned> {
        self.mute_member(session, name, room, duration_secs).await
    }

    async fn unmute(
        &self,
        session: String,
        name: String,
        room: Option<String>,
    ) -> Result<BanInfo, ErrorObjectOwned> {
        self.unmute_member(session, name, room).await
    }

    async fn role(
        &self,
        session: String,
        name: String,
        room: Option<String>,
        role: Option<String>,
    ) -> Result<Moderated, ErrorObjectOwned> {
        self.set_role(session, name, room, role).await
    }

    async fn mode(
        &self,
        session: String,
        room: Option<String>,
        change: Option<String>,
    ) -> Result<ModeResult, ErrorObjectOwned> {
        self.room_mode(session, room, change).await
    }

    async fn invite(
        &self,
        session: String,
        name: String,
        room: Option<String>,
    ) -> Result<Moderated, ErrorObjectOwned> {
        self.invite_member(session, name, room).await
    }

    async fn delete(
        &self,
        session: String,
        target_seq: u64,
        room: Option<String>,
    ) -> Result<Moderated, ErrorObjectOwned> {
        self.delete_message(session, target_seq, room).await
    }

    async fn away(&self, session: String, message: Option<String>) -> Result<(), ErrorObjectOwned> {
        for receipt in self.chat.away(&session, message.as_deref())? {
            receipt.stored().await?;
        }
        Ok(())
    }

    async fn ignore(
        &self,
        session: String,
        name: String,
        ignore: Option<bool>,
    ) -> Result<Vec<MemberInfo>, ErrorObjectOwned> {
        Ok(self.chat.ignore(&session, &name, ignore.unwrap_or(true))?)
    }

    async fn notify(
        &self,
        session: String,
        room: String,
        level: Option<String>,
    ) -> Result<NotifyResult, ErrorObjectOwned> {
        let level = level.map(|level| level.parse()).transpose()?;
        let (room, level) = self.chat.set_notify(&session, &room, level)?;
        Ok(NotifyResult { room, level })
    }

    async fn search(
        &self,
        session: String,
        query: String,
        room: Option<String>,
        all: Option<bool>,
        limit: Option<u32>,
        offset: Option<u32>,
    ) -> Result<SearchResult, ErrorObjectOwned> {
        self.search_lines(session, query, room, all.unwrap_or(false), limit, offset)
            .await
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
            server_id: config
                .server_id
                .clone()
                .unwrap_or_else(|| format!("{:032x}", rand::random::<u128>())),
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

fn room_info(room: RoomSummary) -> RoomInfo {
    RoomInfo {
        room: room.name,
        topic: room.topic,
        members: room.members as u32,
        last_seq: room.last_seq,
        created: room.created,
        last_active: room.last_active,
        modes: room.modes.to_letters(),
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
    result.map_err(|err| history_unavailable(&err, "reading"))
}

/// A read of the log that failed, as the caller hears it; the cause goes to the log.
pub(super) fn history_unavailable(err: &LogError, doing: &str) -> ErrorObjectOwned {
    tracing::error!(%err, "{doing} history failed");
    ErrorObjectOwned::owned(
        codes::HISTORY_UNAVAILABLE,
        "history is unavailable",
        None::<()>,
    )
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
