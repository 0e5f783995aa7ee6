//! Unit tests of the chat domain: one room's behaviour (through `Room`, the single-room API
//! these were first written against, over the default room), then many rooms.

use std::time::{Duration, Instant};

use super::*;
use crate::text::{MAX_NAME_CHARS, clean_name};

mod identities;
mod many_rooms;
mod moderation;
mod names;
mod notify;
mod one_room;
mod presence;
mod rate;
mod room_settings;
mod shared_log;
mod storage;

pub(super) type RoomConfig = ChatConfig;

/// The chat seen as its default room alone.
#[derive(Clone)]
pub(super) struct Room(pub(super) Chat);

/// What joining the default room tells a member.
#[derive(Debug)]
struct JoinResult {
    session: String,
    id: Uuid,
    name: String,
    members: Vec<MemberInfo>,
}

impl std::ops::Deref for Room {
    type Target = Chat;

    fn deref(&self) -> &Chat {
        &self.0
    }
}

impl Room {
    fn default() -> Self {
        Self(Chat::default())
    }

    fn in_memory(config: ChatConfig) -> Self {
        Self(Chat::in_memory(config))
    }

    fn join(&self, name: Option<&str>, lifetime: Lifetime) -> Result<JoinResult, RoomError> {
        self.join_with_receipt(name, lifetime)
            .map(|(joined, _receipt)| joined)
    }

    fn send(&self, session: &str, text: &str) -> Result<u64, RoomError> {
        self.0
            .say(session, DEFAULT_ROOM, text, false)
            .map(|receipt| receipt.seq())
    }

    fn act(&self, session: &str, text: &str) -> Result<u64, RoomError> {
        self.0
            .say(session, DEFAULT_ROOM, text, true)
            .map(|receipt| receipt.seq())
    }

    fn send_at(&self, session: &str, text: &str, now: Instant) -> Result<u64, RoomError> {
        self.0
            .say_at(session, DEFAULT_ROOM, text, EventKind::Message, now)
            .map(|receipt| receipt.seq())
    }

    fn nick(&self, session: &str, name: &str) -> Result<String, RoomError> {
        self.0.nick(session, name).map(|(name, _)| name)
    }

    fn leave(&self, session: &str, reason: LeaveReason) -> Result<(), RoomError> {
        match reason {
            LeaveReason::Left => self.0.leave(session, None),
            reason => self.0.end_session(session, reason),
        }
    }

    fn members(&self) -> Vec<MemberInfo> {
        self.0.members(DEFAULT_ROOM).unwrap()
    }

    fn join_with_receipt(
        &self,
        name: Option<&str>,
        lifetime: Lifetime,
    ) -> Result<(JoinResult, Receipt), RoomError> {
        let (joined, receipt) = self.0.join(name, lifetime, None)?;
        Ok((
            JoinResult {
                session: joined.session,
                id: joined.info.id,
                name: joined.info.name,
                members: joined.room.members,
            },
            receipt,
        ))
    }

    fn nick_with_receipt(
        &self,
        session: &str,
        name: &str,
    ) -> Result<(String, Option<Receipt>), RoomError> {
        self.0
            .nick(session, name)
            .map(|(name, mut receipts)| (name, receipts.pop()))
    }
}

fn small_room(queue_capacity: usize) -> Room {
    Room::in_memory(RoomConfig {
        queue_capacity,
        ..RoomConfig::default()
    })
}

/// Waits until everything accepted so far is stored and delivered.
fn settle(room: &Room) {
    let chat = room.0.clone();
    within(async move { chat.settled().await });
}

/// Runs `work` to its end on a thread of its own, failing the test if that takes more
/// than ten seconds: no wait here is without a bound.
pub(super) fn within<T: Send + 'static>(
    work: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(futures::executor::block_on(work));
    });
    finished
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("done within ten seconds")
}

/// Everything queued for a session once the room has settled.
fn queued(room: &Room, session: &str) -> Vec<Event> {
    settle(room);
    let mut claimed = room.reader(session).unwrap().try_claim().unwrap();
    let mut out = Vec::new();
    while let Ok(event) = claimed.unread.rx.try_recv() {
        out.push(event.event.clone());
    }
    out
}

fn summary(events: &[Event]) -> Vec<(EventKind, String, Option<String>)> {
    events
        .iter()
        .map(|e| (e.kind, e.from.name.clone(), e.text.clone()))
        .collect()
}
