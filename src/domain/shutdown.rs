//! Stopping the chat: telling every room, ending every session, and closing the log.

use std::time::Duration;

use uuid::Uuid;

use super::pending::Undo;
use super::{Chat, EventKind, LeaveReason, server_identity};

impl Chat {
    /// Tells every room with members that the server is stopping, then ends every session.
    /// Each member gets the notice before its stream ends; the leaves are stored for no one
    /// to hear. Waits at most `store_within` for the log: if the notices cannot be stored by
    /// then, the sessions end all the same, and the end of each says why.
    pub async fn shutdown(&self, store_within: Duration) {
        let give_up = tokio::time::Instant::now() + store_within;
        let notices = {
            let mut state = self.lock();
            state.closing = true;
            let rooms: Vec<String> = state
                .rooms
                .values()
                .filter(|room| !room.seats.is_empty())
                .map(|room| room.name.clone())
                .collect();
            rooms
                .iter()
                .map(|room| {
                    state.publish_awaited(
                        room,
                        EventKind::System,
                        server_identity(),
                        Some(LeaveReason::ServerShutdown.to_string()),
                        None,
                        Undo::Nothing,
                    )
                })
                .collect::<Vec<_>>()
        };
        let mut told = true;
        for notice in notices {
            told &= matches!(
                tokio::time::timeout_at(give_up, notice.stored()).await,
                Ok(Ok(_))
            );
        }
        if !told {
            tracing::warn!("the shutdown notice could not be stored; ending the sessions anyway");
        }
        let last = {
            let mut state = self.lock();
            let ids: Vec<Uuid> = state.members.keys().copied().collect();
            for id in ids {
                let reason = LeaveReason::ServerShutdown;
                state.remove(id, reason, reason.event_text());
            }
            state.next_position - 1
        };
        // A log that could not take the notice will not take the leaves either; the next
        // start records them.
        if told
            && tokio::time::timeout_at(give_up, self.stored_position(last))
                .await
                .is_err()
        {
            tracing::warn!("the leaves could not be stored in time");
        }
    }

    /// Closes the log after everything queued is written (or refused, as ever, once out of
    /// time), releasing the database file. Blocks until the log has finished, or for
    /// `within` at most: call it off the async threads.
    pub fn close_store(&self, within: Duration) {
        let appender = self.lock().appender.take();
        if let Some(appender) = appender {
            appender.close(within);
        }
    }

    /// Resolves once no poll or subscription is reading any more: after [`Chat::shutdown`],
    /// when every reader has taken the last events and gone.
    pub async fn readers_done(&self) {
        let mut readers = self.shared.readers.subscribe();
        let _ = readers.wait_for(|n| *n == 0).await;
    }
}
