//! When the client asks for a large room's member list: not at every presence event that
//! could not name every change (during a storm that would be every tick, from every client:
//! N lists of N members, four times a second), but once the room has been quiet for a
//! moment, and at least every [`MAX_STALE`] while it is not.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long a room's list must have had no news it could not follow before it is asked for.
pub(super) const QUIET: Duration = Duration::from_millis(500);

/// A list left behind is asked for after this long even if the room never goes quiet.
pub(super) const MAX_STALE: Duration = Duration::from_secs(10);

/// Rooms whose member list we have fallen behind on, with when it first and last happened.
#[derive(Debug, Default)]
pub(super) struct MemberSync {
    stale: HashMap<String, (Instant, Instant)>,
}

impl MemberSync {
    /// Our list of `room` is behind as of `now`: a presence event we could not follow, or
    /// entering a large room, which gives no list.
    pub(super) fn behind(&mut self, room: &str, now: Instant) {
        self.stale
            .entry(room.to_owned())
            .and_modify(|(_, last)| *last = now)
            .or_insert((now, now));
    }

    /// A whole list came: `room`'s is right again.
    pub(super) fn caught_up(&mut self, room: &str) {
        self.stale.remove(room);
    }

    /// Whether our list of `room` is behind.
    #[cfg(test)]
    pub(super) fn is_behind(&self, room: &str) -> bool {
        self.stale.contains_key(room)
    }

    /// The rooms whose list to ask for now, each then counted as asked.
    pub(super) fn due(&mut self, now: Instant) -> Vec<String> {
        let due: Vec<String> = self
            .stale
            .iter()
            .filter(|(_, (first, last))| {
                now.saturating_duration_since(*last) >= QUIET
                    || now.saturating_duration_since(*first) >= MAX_STALE
            })
            .map(|(room, _)| room.clone())
            .collect();
        for room in &due {
            self.stale.remove(room);
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_is_asked_for_once_the_room_is_quiet_or_has_been_behind_too_long() {
        let mut sync = MemberSync::default();
        let start = Instant::now();
        sync.behind("#big", start);
        assert!(sync.due(start + QUIET / 2).is_empty(), "not yet quiet");
        // A storm: news it cannot follow keeps coming, so it waits...
        let mut now = start;
        while now < start + MAX_STALE - QUIET {
            now += QUIET / 2;
            sync.behind("#big", now);
            assert!(sync.due(now).is_empty());
        }
        // ... but not for ever.
        assert_eq!(sync.due(start + MAX_STALE), ["#big"]);
        assert!(sync.due(start + MAX_STALE).is_empty(), "asked for once");
        // Quiet after news: asked for.
        sync.behind("#big", now);
        assert_eq!(sync.due(now + QUIET), ["#big"]);
        // A list that came meanwhile makes asking needless.
        sync.behind("#big", now);
        sync.caught_up("#big");
        assert!(sync.due(now + MAX_STALE).is_empty());
    }
}
