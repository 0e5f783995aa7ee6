//! Reading a member's events: its inbox, the reader that claims it, and the end of its session.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::{mpsc, watch};
use uuid::Uuid;

use super::delivery::Outlet;
use super::{Chat, LeaveReason, RoomError, Stamped};

/// The receiving end of a member's queue, plus why it stopped, once it has.
pub(super) struct Inbox {
    pub(super) queue: Arc<tokio::sync::Mutex<Unread>>,
    pub(super) ended: watch::Sender<Option<LeaveReason>>,
    /// The highest seq a poll has returned, per room. A poll answer can be lost on the way
    /// (a client timeout, a reset); a poll that says it has less gets the rest from the log.
    pub(super) handed_out: Mutex<BTreeMap<String, u64>>,
}

/// What a member has not read yet.
pub(super) struct Unread {
    pub(super) rx: mpsc::Receiver<Arc<Stamped>>,
    /// An event taken off the queue but not delivered; it goes out first next time.
    pub(super) returned: Option<Arc<Stamped>>,
}

/// Reading access to one member's events.
pub struct Reader {
    /// Per room the member is in: events after this seq come through the queue, earlier
    /// ones from the log.
    pub live_after: BTreeMap<String, u64>,
    /// The member counts as active while this reader lives (its `Drop`); it also says whose
    /// session this is.
    activity: Activity,
    inbox: Arc<Inbox>,
}

impl Reader {
    /// The highest seq polls have returned so far in a room.
    pub fn handed_out(&self, room: &str) -> u64 {
        let handed_out = self
            .inbox
            .handed_out
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        handed_out.get(room).copied().unwrap_or(0)
    }

    /// Claims the inbox for this reader alone, or fails if another reader has it.
    pub fn try_claim(self) -> Result<ClaimedReader, RoomError> {
        let unread = self
            .inbox
            .queue
            .clone()
            .try_lock_owned()
            .map_err(|_| RoomError::InboxBusy)?;
        Ok(ClaimedReader {
            unread,
            reader: self,
        })
    }

    /// Claims the inbox, waiting for any other reader to let go.
    pub async fn claim(self) -> ClaimedReader {
        let unread = self.inbox.queue.clone().lock_owned().await;
        ClaimedReader {
            unread,
            reader: self,
        }
    }
}

/// A reader holding a member's inbox exclusively.
pub struct ClaimedReader {
    pub(super) unread: tokio::sync::OwnedMutexGuard<Unread>,
    reader: Reader,
}

impl ClaimedReader {
    /// Per room: events after this seq come through the queue; earlier ones from the log.
    pub fn live_after(&self) -> &BTreeMap<String, u64> {
        &self.reader.live_after
    }

    /// The highest seq polls have returned so far in a room.
    pub fn handed_out(&self, room: &str) -> u64 {
        self.reader.handed_out(room)
    }

    /// The next event, or why the member left once everything queued has been read.
    pub async fn next(&mut self) -> Result<Arc<Stamped>, LeaveReason> {
        if let Some(event) = self.unread.returned.take() {
            return Ok(event);
        }
        match self.unread.rx.recv().await {
            Some(event) => Ok(event),
            None => Err(self.ended()),
        }
    }

    /// Records that events of a room up to `seq` were handed to a poll.
    pub fn note_handed_out(&self, room: &str, seq: u64) {
        let mut handed_out = self
            .reader
            .inbox
            .handed_out
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let entry = handed_out.entry(room.to_owned()).or_default();
        *entry = (*entry).max(seq);
    }

    /// Hands back an event that could not be delivered, so the next reader gets it first.
    pub fn put_back(&mut self, event: Arc<Stamped>) {
        debug_assert!(
            self.unread.returned.is_none(),
            "one event is read at a time"
        );
        self.unread.returned = Some(event);
    }

    /// Waits for at least one event, then takes up to `max` of those queued.
    pub async fn next_batch(&mut self, max: usize) -> Result<Vec<Arc<Stamped>>, LeaveReason> {
        let mut batch: Vec<Arc<Stamped>> = self.unread.returned.take().into_iter().collect();
        if batch.is_empty() && self.unread.rx.recv_many(&mut batch, max).await == 0 {
            return Err(self.ended());
        }
        while batch.len() < max {
            match self.unread.rx.try_recv() {
                Ok(event) => batch.push(event),
                Err(_) => break,
            }
        }
        Ok(batch)
    }

    /// Whether nothing is waiting in the queue.
    pub fn is_idle(&self) -> bool {
        self.unread.returned.is_none() && self.unread.rx.is_empty()
    }

    /// Hands the session's events over to `outlet` if nothing is waiting in its queue: from
    /// then on they go straight to it, until it closes (they go to the queue again) or this
    /// reader goes. Returns whether it did; if not, read on and try again.
    pub fn hand_over(&mut self, outlet: Arc<dyn Outlet>) -> bool {
        let chat = &self.reader.activity.chat;
        let state = chat.lock();
        // Under the chat's lock: nothing is pushed between this look and the switch.
        if !self.is_idle() {
            return false;
        }
        let Some(conn) = state
            .members
            .get(&self.reader.activity.id)
            .and_then(|member| member.conns.get(&self.reader.activity.conn))
        else {
            return false;
        };
        conn.queue.set_outlet(Some(outlet));
        true
    }

    fn ended(&self) -> LeaveReason {
        self.reader
            .inbox
            .ended
            .borrow()
            .expect("a queue closes only when its member is detached")
    }
}

impl Drop for ClaimedReader {
    /// Events go to the queue again, for whoever reads next.
    fn drop(&mut self) {
        let activity = &self.reader.activity;
        let state = activity.chat.lock();
        if let Some(conn) = state
            .members
            .get(&activity.id)
            .and_then(|member| member.conns.get(&activity.conn))
        {
            conn.queue.set_outlet(None);
        }
    }
}

/// Waits for a session to end.
pub struct SessionEnd(watch::Receiver<Option<LeaveReason>>);

impl SessionEnd {
    pub async fn reason(mut self) -> LeaveReason {
        // An error means the sender is gone, which happens only after the reason was set.
        let _ = self.0.wait_for(Option::is_some).await;
        self.0.borrow().unwrap_or(LeaveReason::ConnectionClosed)
    }
}

/// Marks a member active for as long as it lives.
struct Activity {
    chat: Chat,
    id: Uuid,
    conn: u64,
}

impl Drop for Activity {
    fn drop(&mut self) {
        let mut state = self.chat.lock();
        if let Some(conn) = state
            .members
            .get_mut(&self.id)
            .and_then(|member| member.conns.get_mut(&self.conn))
        {
            conn.readers -= 1;
            conn.last_active = Instant::now();
        }
        drop(state);
        self.chat.shared.readers.send_modify(|n| *n -= 1);
    }
}

impl Chat {
    /// Resolves with the reason once the session has ended.
    pub fn on_end(&self, session: &str) -> Result<SessionEnd, RoomError> {
        let mut state = self.lock();
        let (id, conn) = state.session(session)?;
        Ok(SessionEnd(
            state.members[&id].conns[&conn].inbox.ended.subscribe(),
        ))
    }

    /// Starts reading a session's events. While the returned reader lives, the member counts
    /// as active, so an HTTP member in a long poll never times out mid-poll.
    pub fn reader(&self, session: &str) -> Result<Reader, RoomError> {
        let mut guard = self.lock();
        let (id, conn) = guard.session(session)?;
        let state = &mut *guard;
        let member = state.members.get_mut(&id).expect("a live session");
        let session_conn = member.conns.get_mut(&conn).expect("a live session");
        session_conn.readers += 1;
        self.shared.readers.send_modify(|n| *n += 1);
        let inbox = session_conn.inbox.clone();
        let live_after = member
            .rooms
            .iter()
            .filter_map(|room| {
                let seat = state.rooms.get(room)?.seats.get(&id)?;
                Some((room.clone(), seat.live_after(conn)?))
            })
            .collect();
        Ok(Reader {
            live_after,
            activity: Activity {
                chat: self.clone(),
                id,
                conn,
            },
            inbox,
        })
    }
}
