//! Delivering stored events: the rooms' own once the log has them (numbered again by a log
//! several servers share), and the events another server stored, with the members it seats.
//!
//! A log shared by several servers gives each room's events their seqs itself, in the
//! order it stores them: the seq a room gave an event when it accepted it is only a guess,
//! and the log's [`super::Progress::Sequenced`] puts it right before anyone sees it. What
//! the other servers stored arrives as [`super::Progress::Followed`], in its room's order,
//! and is delivered to the sessions seated here as if it had been said here. The members
//! those events seat on other servers are kept beside the room's own seats, for its member
//! list and its count.

use std::collections::HashMap;
use std::sync::Arc;

use uuid::Uuid;

use super::{Chat, ChatConfig, Event, EventKind, Stamped, State, log, pending, presence};

impl Chat {
    /// The log stored the event at `position` as `event`: delivers it (and if the rooms
    /// already took it back, takes it in like another server's).
    pub(super) fn sequenced(&self, position: u64, event: Event) {
        let config = &self.shared.config;
        let mut state = self.lock();
        match state.pending.take(position) {
            Some(mut accepted) => {
                let room = event.room.clone();
                if accepted.event.seq != event.seq {
                    let event = Event {
                        seq: event.seq,
                        ..accepted.event.event.clone()
                    };
                    accepted.event = Arc::new(Stamped::new(event, state.encoder.as_ref()));
                }
                if let Some(room) = state.rooms.get_mut(&room) {
                    room.next_seq = room.next_seq.max(accepted.event.seq + 1);
                }
                let mut too_slow = Vec::new();
                state.deliver_one(config, &accepted.event, accepted.origin, &mut too_slow);
                let event = accepted.confirm();
                if let Some(room) = state.rooms.get_mut(&room) {
                    room.remember(event, config.history_len);
                }
                state.end_too_slow(too_slow);
            }
            None => state.take_in(event, None, config),
        }
        let durable = state.durable_position();
        drop(state);
        self.shared.durable.send_replace(durable);
    }

    /// The log stored the record at `position`.
    pub(super) fn recorded(&self, position: u64) {
        let mut state = self.lock();
        state.unstored_records.retain(|(at, _)| *at != position);
        let durable = state.durable_position();
        drop(state);
        self.shared.durable.send_replace(durable);
    }

    /// Another server stored `event` about one of the members it holds (`via`): delivers
    /// it here.
    pub(super) fn followed(&self, event: Event, via: String) {
        let config = &self.shared.config;
        self.lock().take_in(event, Some(&via), config);
    }
}

impl State {
    /// The highest position with everything up to it stored, when positions come back
    /// out of order.
    fn durable_position(&self) -> u64 {
        let waiting = self
            .unstored_records
            .iter()
            .map(|(at, _)| *at)
            .filter(|at| *at > 0)
            .chain(self.pending.first_position())
            .min();
        waiting.map_or(self.next_position - 1, |at| at - 1)
    }

    /// Takes in an event another server stored: the room (made if this server has not met
    /// it), its members elsewhere, its topic, and every session seated here hears it.
    fn take_in(&mut self, event: Event, via: Option<&str>, config: &ChatConfig) {
        if !self.rooms.contains_key(&event.room) {
            self.add_room(event.room.clone());
        }
        let room = self.rooms.get_mut(&event.room).expect("made above");
        if event.seq <= room.durable_seq {
            // Already delivered: a log may hand an event over twice.
            return;
        }
        room.next_seq = room.next_seq.max(event.seq + 1);
        room.last_active = room.last_active.max(event.ts);
        match (event.kind, via) {
            (EventKind::Join, Some(via)) => {
                match room.seat_elsewhere(event.from.clone(), via.to_owned()) {
                    None => self.elsewhere_names.add(event.from.id, &event.from.name),
                    Some(old) => self
                        .elsewhere_names
                        .rename(event.from.id, &old, &event.from.name),
                }
            }
            (EventKind::Leave, Some(via)) => {
                if let Some(gone) = room.unseat_elsewhere(event.from.id, via) {
                    self.elsewhere_names.remove(gone.id, &gone.name);
                }
            }
            (EventKind::Nick, _) => {
                if let Some(member) = room.remote.get_mut(&event.from.id) {
                    let old = std::mem::replace(&mut member.info.name, event.from.name.clone());
                    self.elsewhere_names
                        .rename(event.from.id, &old, &event.from.name);
                }
            }
            (EventKind::Topic, _) => room.topic.clone_from(&event.text),
            _ => {}
        }
        if pending::puts_out(event.kind)
            && event.kind != EventKind::Leave
            && let Some(target) = &event.target
        {
            if let Some(gone) = room.remote.remove(&target.id) {
                self.elsewhere_names.remove(gone.info.id, &gone.info.name);
            }
            // Put out by a moderator on another server: out of the room here too, and
            // its seat goes once it has heard so.
            let name = room.name.clone();
            if let Some(member) = self.members.get_mut(&target.id)
                && member.rooms.remove(&name)
                && let Some(key) = member.key.clone()
            {
                self.remember_room(&key, &name, false);
            }
        }
        // A member seated here who left another server (which went away) is still here:
        // its own sessions are not told it left.
        let room = &self.rooms[&event.room];
        let stays = (event.kind == EventKind::Leave)
            .then_some(event.from.id)
            .filter(|id| room.seats.contains_key(id));
        let event = Arc::new(Stamped::new(event, self.encoder.as_ref()));
        let mut too_slow = Vec::new();
        match stays {
            Some(id) => room.fan_out_but(&event, id, &mut too_slow),
            None => self.deliver_one(config, &event, None, &mut too_slow),
        }
        self.rooms
            .get_mut(&event.room)
            .expect("made above")
            .remember(event, config.history_len);
        self.end_too_slow(too_slow);
    }

    /// Delivers the stored events up to `position`, in order, to every session seated but
    /// the one each came from. Sessions whose queues are full are ended as too slow (a
    /// member whose last session that was is removed, its leaves published like any other
    /// event).
    pub(super) fn deliver_through(&mut self, position: u64, config: &ChatConfig) {
        let mut too_slow = Vec::new();
        while let Some(accepted) = self.pending.pop_stored(position) {
            self.deliver_one(config, &accepted.event, accepted.origin, &mut too_slow);
            // Its sender hears only once everyone else has it queued.
            let event = accepted.confirm();
            let room = self
                .rooms
                .get_mut(&event.room)
                .expect("a room with events waiting is kept");
            room.remember(event, config.history_len);
            self.end_too_slow(std::mem::take(&mut too_slow));
        }
    }

    /// Puts one stored event into the queue of every session seated in its room but
    /// `origin`, and does what its delivery does: a seat put out goes, a deleted message's
    /// text goes from memory, the invited are told.
    fn deliver_one(
        &mut self,
        config: &ChatConfig,
        event: &Arc<Stamped>,
        origin: Option<u64>,
        too_slow: &mut Vec<(Uuid, u64)>,
    ) {
        let fan = self.batch_presence(config, event, too_slow);
        let room = &self.rooms[&event.room];
        let only = match fan {
            presence::Fan::Everyone => None,
            presence::Fan::Own(id) => Some(id),
        };
        room.fan_out(event, origin, only, too_slow);
        let room = self
            .rooms
            .get_mut(&event.room)
            .expect("a room with events waiting is kept");
        if pending::puts_out(event.kind) {
            // A part, a kick or a ban: the member's sessions have heard it, and its seat
            // goes.
            let id = match event.kind {
                EventKind::Leave => Some(event.from.id),
                _ => event.target.as_ref().map(|t| t.id),
            };
            if let Some(id) = id
                && let Some(member) = self.members.get_mut(&id)
                && !member.rooms.contains(&room.name)
            {
                member.seats.remove(&room.name);
                room.seats.remove(&id);
            }
        }
        if event.kind == EventKind::Delete
            && let Some(seq) = event.target_seq
            && let Ok(at) = room.recent.binary_search_by_key(&seq, |e| e.seq)
        {
            // The text goes from memory as it goes from the store.
            let gone = log::tombstone(&room.recent[at].event);
            room.recent[at] = Arc::new(Stamped::new(gone, self.encoder.as_ref()));
        }
        if event.kind == EventKind::Invite {
            // Before its sender hears, as for everyone else the event is for.
            self.invited(event);
        }
    }
}

/// The look-alike keys of the names members go by in rooms through other servers, with who
/// goes by each (and in how many rooms), so that nobody here takes a name in use there.
#[derive(Default)]
pub(super) struct ElsewhereNames(HashMap<String, HashMap<Uuid, usize>>);

impl ElsewhereNames {
    pub(super) fn add(&mut self, id: Uuid, name: &str) {
        for key in super::text_keys(name) {
            *self.0.entry(key).or_default().entry(id).or_default() += 1;
        }
    }

    pub(super) fn remove(&mut self, id: Uuid, name: &str) {
        for key in super::text_keys(name) {
            if let Some(ids) = self.0.get_mut(&key) {
                if let Some(count) = ids.get_mut(&id) {
                    *count -= 1;
                    if *count == 0 {
                        ids.remove(&id);
                    }
                }
                if ids.is_empty() {
                    self.0.remove(&key);
                }
            }
        }
    }

    pub(super) fn rename(&mut self, id: Uuid, old: &str, new: &str) {
        self.remove(id, old);
        self.add(id, new);
    }

    /// Whether someone other than `me` goes by a name with this look-alike key elsewhere.
    pub(super) fn taken(&self, key: &str, me: Option<Uuid>) -> bool {
        self.0
            .get(key)
            .is_some_and(|ids| ids.keys().any(|id| Some(*id) != me))
    }
}
