//! A message a moderator deleted: erased from its room's stream, with its tombstone (its
//! place, author and time, not its text) kept in the records bucket under
//! `del.<room hex>.<seq>`, where reads find it in the gap.

use async_nats::jetstream::{self, kv};
use bytes::Bytes;

use super::{follow, hex, stream_name};
use crate::domain::Event;

fn key(room: &str, seq: u64) -> String {
    format!("del.{}.{seq}", hex(room))
}

/// Keeps the tombstone of message `seq` of `room`, then erases the message.
pub(super) async fn erase(js: &jetstream::Context, records: &kv::Store, room: &str, seq: u64) {
    let Ok(stream) = js.get_stream(stream_name(room)).await else {
        return;
    };
    let Ok(message) = stream.get_raw_message(seq).await else {
        return;
    };
    let Ok(original) = follow::decode(&message.payload, seq) else {
        return;
    };
    let Ok(json) = serde_json::to_vec(&crate::domain::tombstone(&original)) else {
        return;
    };
    if let Err(err) = records.put(key(room, seq), Bytes::from(json)).await {
        // Without its tombstone the message stays: better a message a moderator deleted
        // than a gap in the history.
        tracing::warn!(%err, room, seq, "cannot keep a deleted message's tombstone");
        return;
    }
    if let Err(err) = stream.delete_message(seq).await {
        tracing::warn!(%err, room, seq, "cannot erase a deleted message");
    }
}

/// The tombstone standing in for message `seq` of `room`, if a moderator deleted it.
pub(super) async fn tombstone(records: &kv::Store, room: &str, seq: u64) -> Option<Event> {
    let value = records.get(key(room, seq)).await.ok()??;
    serde_json::from_slice(&value).ok()
}
