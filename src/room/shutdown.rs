//! Stopping the room: telling everyone, ending every session, and closing the store.

use std::time::Duration;

use uuid::Uuid;

use super::{LeaveReason, Room, server_identity};
use crate::rpc::types::EventKind;

impl Room {
    /// Tells everyone the server is stopping, then ends every session. Each member gets
    /// the notice before its stream ends; the leaves are stored for no one to hear. Waits
    /// at most `store_within` for the disk: if the notice cannot be stored by then, the
    /// sessions end all the same, and the end of each says why.
    pub async fn shutdown(&self, store_within: Duration) {
        let give_up = tokio::time::Instant::now() + store_within;
        let notice = {
            let mut state = self.lock();
            state.closing = true;
            state.publish_awaited(
                EventKind::System,
                server_identity(),
                Some(LeaveReason::ServerShutdown.to_string()),
            )
        };
        let told = matches!(
            tokio::time::timeout_at(give_up, notice.stored()).await,
            Ok(Ok(_))
        );
        if !told {
            tracing::warn!("the shutdown notice could not be stored; ending the sessions anyway");
        }
        let last = {
            let mut state = self.lock();
            let ids: Vec<Uuid> = state.members.keys().copied().collect();
            for id in ids {
                if let Some(info) = state.detach(id, LeaveReason::ServerShutdown) {
                    state.publish(
                        EventKind::Leave,
                        info,
                        LeaveReason::ServerShutdown.event_text(),
                    );
                }
            }
            state.next_seq - 1
        };
        // A disk that could not take the notice will not take the leaves either; the next
        // start records them.
        if told
            && tokio::time::timeout_at(give_up, self.stored(last))
                .await
                .is_err()
        {
            tracing::warn!("the leaves could not be stored in time");
        }
    }

    /// Closes the store after everything queued is written (or refused, as ever, once out
    /// of time), releasing the database file. Blocks until the writer has finished, or for
    /// `within` at most: call it off the async threads.
    pub fn close_store(&self, within: Duration) {
        let writer = self.lock().writer.take();
        if let Some(writer) = writer {
            writer.close(within);
        }
    }

    /// Resolves once no poll or subscription is reading any more: after [`Room::shutdown`],
    /// when every reader has taken the last events and gone.
    pub async fn readers_done(&self) {
        let mut readers = self.shared.readers.subscribe();
        let _ = readers.wait_for(|n| *n == 0).await;
    }
}
