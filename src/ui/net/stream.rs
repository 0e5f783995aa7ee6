//! The stream of a session's events: each forwarded to the event loop, after keeping the
//! worker's rooms in step with it (cursors; rooms to enter that the server put us in;
//! another session's parts and names).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jsonrpsee::core::client::{Subscription, SubscriptionCloseReason};
use tokio::sync::mpsc;

use super::Rooms;
use super::handle::Command;
use crate::rpc::types::{Event, EventKind, is_conversation};
use crate::ui::app::{AppEvent, NetEvent};

/// What the task reading the stream needs besides the stream.
pub(super) struct Listener {
    /// Our member id: its events come from our other sessions.
    pub(super) me: uuid::Uuid,
    /// Whether the client keeps member lists: then a large room's `presence` event that
    /// could not name every change makes it ask for the whole list.
    pub(super) keep_members: bool,
    pub(super) events: mpsc::Sender<AppEvent>,
    pub(super) rooms: Arc<Mutex<Rooms>>,
    pub(super) adopt: mpsc::WeakUnboundedSender<Command>,
}

impl Listener {
    /// Keeps the cursors and the list of rooms in step with one event: an event told to us
    /// alone (`read`, `ignore`, `invited`) is no room event and moves no cursor; a
    /// conversation someone opened with us, or a room another session of ours entered, is
    /// to be entered; a room another session of ours parted, or that we were kicked or
    /// banned from, is left out of the next reconnect, and a name another session took is
    /// asked for then.
    pub(super) fn track(&self, event: &Event) {
        if self.keep_members
            && let Some(presence) = &event.presence
        {
            let mut rooms = self.rooms.lock().expect("the rooms lock is never poisoned");
            if presence.members.is_some() {
                rooms.member_sync.caught_up(&event.room);
            } else if !presence.complete {
                rooms.member_sync.behind(&event.room, Instant::now());
            }
        }
        if !event.kind.is_stored() {
            return;
        }
        let mine = event.from.id == self.me;
        let mut rooms = self.rooms.lock().expect("the rooms lock is never poisoned");
        if mine && event.kind == EventKind::Nick {
            rooms.renamed = Some(event.from.name.clone());
        }
        let entered_at = rooms.entered_at.get(&event.room).copied().unwrap_or(0);
        let put_out = crate::ui::event_text::moderation::puts_out(event, self.me);
        if (mine && event.seq > entered_at && is_part(event)) || (put_out && event.seq > entered_at)
        {
            rooms.joined.retain(|(room, _)| *room != event.room);
            rooms.early.remove(&event.room);
            return;
        }
        match rooms.cursor(&event.room) {
            Some(cursor) => *cursor = Some(cursor.unwrap_or(0).max(event.seq)),
            None => {
                let early = rooms.early.entry(event.room.clone()).or_default();
                *early = (*early).max(event.seq);
                let ours = (mine && event.kind == EventKind::Join)
                    || (is_conversation(&event.room)
                        && matches!(event.kind, EventKind::Message | EventKind::Action));
                if ours
                    && rooms.adopting.insert(event.room.clone())
                    && let Some(commands) = self.adopt.upgrade()
                {
                    let _ = commands.send(Command::Adopt(event.room.clone()));
                }
            }
        }
    }
}

/// Whether a leave could be a `/part` (its reason, `Part: …`, or none), not the end of a
/// session (`connection closed`, `server shutting down`). Of ours, after we entered the
/// room, it is another session's: our identity's leave is told only once its last session
/// ends, and ours has not (except in a shutdown, which gives its reason).
pub fn is_part(event: &Event) -> bool {
    event.kind == EventKind::Leave
        && event
            .text
            .as_deref()
            .is_none_or(|text| text == "Part" || text.starts_with("Part:"))
}

impl Listener {
    /// Asks for the member lists of the large rooms that have gone quiet (see
    /// `member_sync`).
    fn ask_for_lists(&self) {
        let due = self
            .rooms
            .lock()
            .expect("the rooms lock is never poisoned")
            .member_sync
            .due(Instant::now());
        if let Some(commands) = self.adopt.upgrade() {
            for room in due {
                let _ = commands.send(Command::SyncMembers(room));
            }
        }
    }
}

/// How often the stream's task looks for member lists to ask for.
const LIST_CHECK: Duration = Duration::from_millis(100);

/// Forwards the events of every room to the event loop until the subscription ends, keeping
/// each room's cursor; returns why it ended.
pub(super) async fn listen(mut subscription: Subscription<Event>, listener: Listener) -> String {
    let mut check = tokio::time::interval(LIST_CHECK);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let item = tokio::select! {
            item = subscription.next() => item,
            _ = check.tick() => {
                listener.ask_for_lists();
                continue;
            }
        };
        let Some(item) = item else {
            break;
        };
        let event = match item {
            Ok(event) => event,
            Err(err) => {
                tracing::warn!(%err, "undecodable event");
                continue;
            }
        };
        listener.track(&event);
        if listener
            .events
            .send(AppEvent::Net(NetEvent::Event(event)))
            .await
            .is_err()
        {
            break;
        }
    }
    match subscription.close_reason() {
        Some(SubscriptionCloseReason::Lagged) => "fell too far behind".into(),
        _ => "connection closed".into(),
    }
}
