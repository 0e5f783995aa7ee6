//! What a join answers: a key's proof checked against the connection's challenge, and the
//! rooms the member finds, each with its unread count.

use jsonrpsee::types::ErrorObjectOwned;

use super::codes;
use super::connection::ConnectionScope;
use super::service::{ChatService, read_log};
use super::types::{
    EventKind, JoinResult, MAX_UNREAD_COUNTED, PROTOCOL_VERSION, Proof, RoomJoined, RoomMark,
};
use crate::domain::{Credentials, Entered, Joined, RoomError, is_keyed_id};
use crate::identity::{PublicKey, verify_join};

impl ChatService {
    /// Checks a join's proof against the challenge this connection was given, which it
    /// uses up: a proof is good for one join, on this connection, to this server.
    pub(super) fn check_proof(
        &self,
        scope: Option<&ConnectionScope>,
        proof: &Proof,
    ) -> Result<Credentials, ErrorObjectOwned> {
        let scope = scope.ok_or_else(|| {
            bad_proof("an identity needs a WebSocket connection; over HTTP, join as a guest")
        })?;
        let nonce = scope.take_challenge().ok_or_else(|| {
            bad_proof("no challenge on this connection: call chat_challenge first")
        })?;
        let key = verify_join(&proof.key, &proof.signature, &self.server_id, &nonce)
            .map_err(|err| bad_proof(&format!("identity proof refused: {err}")))?;
        Ok(Credentials {
            key: key.to_base64(),
            id: key.member_id(),
            fingerprint: key.fingerprint(),
        })
    }

    /// Claims a name for a key across every server sharing the log, before the chat gives
    /// it: two servers racing for one name give it to one key.
    pub(super) async fn claim_name(
        &self,
        name: String,
        key: String,
    ) -> Result<(), ErrorObjectOwned> {
        let log = self.chat.log();
        let wanted = name.clone();
        let claimed = tokio::task::spawn_blocking(move || log.claim_name(&wanted, &key))
            .await
            .expect("claiming a name does not panic");
        match claimed {
            Ok(true) => Ok(()),
            Ok(false) => Err(RoomError::NameOwned(name).into()),
            Err(err) => {
                tracing::warn!(%err, "cannot claim a name");
                Err(RoomError::StorageUnavailable.into())
            }
        }
    }

    pub(super) async fn join_result(&self, joined: Joined) -> Result<JoinResult, ErrorObjectOwned> {
        let me = joined.info.id;
        let session = joined.session.clone();
        let room = self.room_joined(joined.room, me).await;
        let mut rooms = Vec::with_capacity(joined.rooms.len());
        for other in joined.rooms {
            rooms.push(RoomMark {
                unread: self
                    .unread(&other.room, other.read, other.last_seq, me)
                    .await,
                room: other.room,
                peer: other.peer,
                last_seq: other.last_seq,
                read: other.read,
                notify: Some(other.notify),
            });
        }
        Ok(JoinResult {
            protocol: PROTOCOL_VERSION,
            room: room.room,
            topic: room.topic,
            session: session.clone(),
            id: joined.info.id,
            name: joined.info.name,
            members: room.members,
            member_count: room.member_count,
            last_seq: room.last_seq,
            history: room.history,
            guest: joined.key.is_none(),
            fingerprint: joined.key.as_deref().and_then(fingerprint),
            read: room.read,
            unread: room.unread,
            rooms,
            ignored: self.chat.ignored(&session)?,
            server_op: self.chat.is_server_op(&session)?,
            notify: room.notify,
        })
    }

    pub(super) async fn room_joined(&self, entered: Entered, me: uuid::Uuid) -> RoomJoined {
        let unread = self
            .unread(&entered.room, entered.read, entered.latest, me)
            .await;
        RoomJoined {
            room: entered.room,
            topic: entered.topic,
            members: entered.members,
            member_count: entered.member_count as u32,
            last_seq: entered.last_seq,
            history: entered.history,
            peer: entered.peer,
            read: entered.read,
            unread,
            notify: Some(entered.notify),
        }
    }

    /// Messages from others after `read` up to `last_seq`, counted up to
    /// [`MAX_UNREAD_COUNTED`] among the events that follow the marker.
    pub(super) async fn unread(&self, room: &str, read: u64, last_seq: u64, me: uuid::Uuid) -> u32 {
        // A guest keeps no marker: nothing is unread for it.
        if read >= last_seq || !is_keyed_id(me) {
            return 0;
        }
        let (log, room) = (self.chat.log(), room.to_owned());
        let limit = (last_seq - read).min(4 * u64::from(MAX_UNREAD_COUNTED)) as usize;
        let page = read_log(&self.history_reader, move || log.after(&room, read, limit)).await;
        let Ok(page) = page else { return 0 };
        let counted = page
            .iter()
            .filter(|e| e.seq <= last_seq && e.from.id != me)
            .filter(|e| matches!(e.kind, EventKind::Message | EventKind::Action))
            .count();
        (counted as u32).min(MAX_UNREAD_COUNTED)
    }
}

pub(super) fn bad_proof(message: &str) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(codes::BAD_PROOF, message.to_owned(), None::<()>)
}

/// A key's fingerprint, as `/whois` shows it.
pub(super) fn fingerprint(key: &str) -> Option<String> {
    PublicKey::from_base64(key)
        .ok()
        .map(|key| key.fingerprint())
}
