//! One room: who sits in it, its seq, its recent history, its topic, and fan-out.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use uuid::Uuid;

use super::event::Stamped;
use super::log::RoomRecord;

/// A member's place in a room: one entry per session it has open.
#[derive(Default)]
pub(super) struct Seat {
    pub(super) conns: Vec<SeatConn>,
}

/// One session's place in a room.
pub(super) struct SeatConn {
    pub(super) conn: u64,
    /// The session's one queue, shared by all its rooms.
    pub(super) queue: Arc<super::delivery::Delivery>,
    /// The newest stored event of this room when the session came into it, where the
    /// history it was given ends: later events (but its own) go into its queue.
    pub(super) live_after: u64,
}

impl Seat {
    /// Where a session's live part of the room starts.
    pub(super) fn live_after(&self, conn: u64) -> Option<u64> {
        self.conns
            .iter()
            .find(|c| c.conn == conn)
            .map(|c| c.live_after)
    }
}

/// A room's state, kept under the chat's lock.
pub(super) struct Room {
    pub(super) name: String,
    pub(super) topic: Option<String>,
    pub(super) created: u64,
    pub(super) last_active: u64,
    pub(super) seats: HashMap<Uuid, Seat>,
    /// The seq the next event gets.
    pub(super) next_seq: u64,
    /// The highest seq stored (and so delivered).
    pub(super) durable_seq: u64,
    /// The latest stored events, for the history a new member gets.
    pub(super) recent: VecDeque<Arc<Stamped>>,
    /// Its owner, operators, modes, invites, bans and mutes.
    pub(super) policy: super::policy::RoomPolicy,
    /// While the room is large: its joins and leaves since its last presence event.
    pub(super) large: Option<super::presence::PresenceBatch>,
    /// The member lists sessions asked for here.
    pub(super) lists: super::presence::ListRequests,
    /// Members seated on other servers sharing the log, as their last event showed them,
    /// with the servers they are in through.
    pub(super) remote: HashMap<Uuid, Elsewhere>,
}

/// A member in a room through other servers.
pub(super) struct Elsewhere {
    pub(super) info: super::event::MemberInfo,
    pub(super) via: std::collections::BTreeSet<String>,
}

/// A room as `/list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomSummary {
    pub name: String,
    pub topic: Option<String>,
    pub members: usize,
    pub last_seq: u64,
    pub created: u64,
    pub last_active: u64,
    pub modes: super::policy::Modes,
}

impl Room {
    /// A room nobody has used yet.
    pub(super) fn new(name: String, now: u64) -> Self {
        Self::recovered(
            RoomRecord {
                name,
                topic: None,
                created: now,
                last_seq: 0,
                last_active: now,
            },
            VecDeque::new(),
        )
    }

    /// A room as the log remembers it, with its latest events.
    pub(super) fn recovered(record: RoomRecord, recent: VecDeque<Arc<Stamped>>) -> Self {
        Self {
            name: record.name,
            topic: record.topic,
            created: record.created,
            last_active: record.last_active,
            seats: HashMap::new(),
            next_seq: record.last_seq + 1,
            durable_seq: record.last_seq,
            recent,
            policy: Default::default(),
            large: None,
            lists: Default::default(),
            remote: HashMap::new(),
        }
    }

    /// How many are in the room: seated here, or on another server.
    pub(super) fn headcount(&self) -> usize {
        self.seats.len()
            + self
                .remote
                .keys()
                .filter(|id| !self.seats.contains_key(id))
                .count()
    }

    /// The newest event accepted.
    pub(super) fn last_seq(&self) -> u64 {
        self.next_seq - 1
    }

    /// Puts a stored event into the queue of every seated session (or, with `only`, every
    /// session of that member) but the one it came from (`origin`: no self-echo; a member's
    /// other sessions do get it) and those whose entry history already held it. Sessions
    /// whose queue is full are noted in `too_slow`, never waited for.
    pub(super) fn fan_out(
        &self,
        event: &Arc<Stamped>,
        origin: Option<u64>,
        only: Option<Uuid>,
        too_slow: &mut Vec<(Uuid, u64)>,
    ) {
        let mut offer = |id: Uuid, seat: &Seat| {
            for conn in &seat.conns {
                if Some(conn.conn) == origin || event.seq <= conn.live_after {
                    continue;
                }
                if !conn.queue.push(event) {
                    too_slow.push((id, conn.conn));
                }
            }
        };
        match only {
            Some(id) => {
                if let Some(seat) = self.seats.get(&id) {
                    offer(id, seat);
                }
            }
            None => {
                for (id, seat) in &self.seats {
                    offer(*id, seat);
                }
            }
        }
    }

    /// [`Room::fan_out`] to every seated session but member `but`'s.
    pub(super) fn fan_out_but(
        &self,
        event: &Arc<Stamped>,
        but: Uuid,
        too_slow: &mut Vec<(Uuid, u64)>,
    ) {
        for (id, seat) in self.seats.iter().filter(|(id, _)| **id != but) {
            for conn in &seat.conns {
                if event.seq > conn.live_after && !conn.queue.push(event) {
                    too_slow.push((*id, conn.conn));
                }
            }
        }
    }

    /// Notes a member in the room through server `via`; returns the name it went by
    /// here before, if it was here already.
    pub(super) fn seat_elsewhere(
        &mut self,
        info: super::event::MemberInfo,
        via: String,
    ) -> Option<String> {
        let before = self.remote.get(&info.id).map(|e| e.info.name.clone());
        let entry = self.remote.entry(info.id).or_insert_with(|| Elsewhere {
            info: info.clone(),
            via: Default::default(),
        });
        entry.info = info;
        entry.via.insert(via);
        before
    }

    /// Notes a member no longer in the room through server `via`; returns it if it is
    /// now in the room through no other server.
    pub(super) fn unseat_elsewhere(
        &mut self,
        id: Uuid,
        via: &str,
    ) -> Option<super::event::MemberInfo> {
        let entry = self.remote.get_mut(&id)?;
        entry.via.remove(via);
        if entry.via.is_empty() {
            return self.remote.remove(&id).map(|e| e.info);
        }
        None
    }

    /// Puts an event no room stores into the queue of every session seated here.
    pub(super) fn tell_all(&self, event: &Arc<Stamped>, too_slow: &mut Vec<(Uuid, u64)>) {
        for (id, seat) in &self.seats {
            for conn in &seat.conns {
                if !conn.queue.push(event) {
                    too_slow.push((*id, conn.conn));
                }
            }
        }
    }

    /// Keeps a stored event among the recent ones.
    pub(super) fn remember(&mut self, event: Arc<Stamped>, history_len: usize) {
        self.durable_seq = self.durable_seq.max(event.seq);
        self.recent.push_back(event);
        while self.recent.len() > history_len {
            self.recent.pop_front();
        }
    }

    /// The latest `len` stored events up to seq `through`, oldest first.
    pub(super) fn history_through(&self, through: u64, len: usize) -> Vec<super::event::Event> {
        let end = self.recent.partition_point(|event| event.seq <= through);
        self.recent
            .range(end.saturating_sub(len)..end)
            .map(|event| event.event.clone())
            .collect()
    }

    pub(super) fn summary(&self) -> RoomSummary {
        RoomSummary {
            name: self.name.clone(),
            topic: self.topic.clone(),
            members: self.headcount(),
            last_seq: self.last_seq(),
            created: self.created,
            last_active: self.last_active,
            modes: self.policy.modes,
        }
    }
}
