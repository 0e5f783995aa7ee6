//! `chatroom bench --rooms R`: which rooms each member is in, where each message goes, and
//! what every member should therefore receive, checked per (room, publisher).
//!
//! Member `i` has the home room `i mod R` and is also in the next ones, wrapping, up to
//! [`ROOMS_PER_MEMBER`] rooms in all. A publisher (one of the first P members) sends its
//! messages round-robin into its own rooms: message `c` goes to its `c mod k`-th room. So
//! every receiver can tell, from the publisher and the counter alone, which room a message
//! belongs in, and a message that arrives naming any other room, or in a room the receiver
//! is not in, counts as misrouted.

use super::Tally;

/// Rooms each member is in (fewer when there are fewer rooms).
pub const ROOMS_PER_MEMBER: usize = 3;

/// Name of room `r` (0-based): `#bench-1` … `#bench-R`.
pub fn room_name(room: usize) -> String {
    format!("#bench-{}", room + 1)
}

/// The names of the rooms `member` is in, home room first; none without a layout (the
/// default room).
pub(super) fn names_of(layout: Option<&Layout>, member: usize) -> Vec<String> {
    layout.map_or_else(Vec::new, |layout| {
        layout.rooms_of(member).map(room_name).collect()
    })
}

/// Reads a room name back to its index; `None` for any other room.
fn room_index(name: &str) -> Option<usize> {
    let number: usize = name.strip_prefix("#bench-")?.parse().ok()?;
    number.checked_sub(1)
}

/// Who is in which room, for `members` members and `publishers` publishers over `rooms`.
#[derive(Debug, Clone)]
pub struct Layout {
    rooms: usize,
    members: usize,
    publishers: usize,
    /// Rooms per member.
    per_member: usize,
    /// How many members each room has.
    sizes: Vec<u64>,
}

impl Layout {
    pub fn new(rooms: usize, members: usize, publishers: usize) -> Self {
        let rooms = rooms.max(1);
        let per_member = ROOMS_PER_MEMBER.min(rooms);
        let mut sizes = vec![0; rooms];
        for member in 0..members {
            for j in 0..per_member {
                sizes[(member + j) % rooms] += 1;
            }
        }
        Self {
            rooms,
            members,
            publishers,
            per_member,
            sizes,
        }
    }

    /// The rooms member `member` is in, its home room first.
    pub fn rooms_of(&self, member: usize) -> impl Iterator<Item = usize> + '_ {
        (0..self.per_member).map(move |j| (member + j) % self.rooms)
    }

    /// Whether `member` is in `room`.
    fn is_in(&self, member: usize, room: usize) -> bool {
        (room + self.rooms - member % self.rooms) % self.rooms < self.per_member
    }

    /// The room publisher `publisher`'s message number `counter` goes to.
    pub fn room_of_message(&self, publisher: usize, counter: u64) -> usize {
        (publisher + (counter % self.per_member as u64) as usize) % self.rooms
    }

    /// How many of a publisher's first `acked` messages went to its `j`-th room.
    fn sent_to(&self, acked: u64, j: usize) -> u64 {
        let k = self.per_member as u64;
        acked / k + u64::from((j as u64) < acked % k)
    }

    /// The stream a (room, publisher) pair is tallied under.
    fn stream(&self, room: usize, publisher: usize) -> u32 {
        (room * self.publishers + publisher) as u32
    }

    /// Deliveries the run should make, given how many messages each publisher had
    /// acknowledged: each message reaches everyone else in its room.
    pub fn expected(&self, sent: &[u64]) -> u64 {
        sent.iter()
            .enumerate()
            .map(|(publisher, &acked)| {
                self.rooms_of(publisher)
                    .enumerate()
                    .map(|(j, room)| self.sent_to(acked, j) * (self.sizes[room] - 1))
                    .sum::<u64>()
            })
            .sum()
    }

    /// Messages `member` should have had and did not, per room it shares with each other
    /// publisher.
    pub fn lost(&self, tally: &Tally, member: usize, sent: &[u64]) -> u64 {
        let mut lost = 0;
        for (publisher, &acked) in sent.iter().enumerate() {
            if publisher == member {
                continue;
            }
            for (j, room) in self.rooms_of(publisher).enumerate() {
                if !self.is_in(member, room) {
                    continue;
                }
                let got = tally
                    .streams
                    .get(&self.stream(room, publisher))
                    .map_or(0, |s| s.unique);
                lost += self.sent_to(acked, j).saturating_sub(got);
            }
        }
        lost
    }

    /// Checks one bench message that `member` received in the room named `room`, and
    /// tallies it under its (room, publisher) stream if it belongs there. Returns whether it
    /// was tallied.
    pub(super) fn record(
        &self,
        tally: &mut Tally,
        member: usize,
        room: &str,
        (publisher, counter, latency): (u32, u64, u64),
    ) -> bool {
        let p = publisher as usize;
        let routed = room_index(room).filter(|&r| {
            r < self.rooms
                && p < self.publishers
                && p != member
                && member < self.members
                && self.is_in(member, r)
                && self.room_of_message(p, counter) == r
        });
        match routed {
            Some(r) => {
                tally.record(self.stream(r, p), counter, latency);
                true
            }
            None => {
                tally.misrouted += 1;
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        assert_eq!(room_name(0), "#bench-1");
        assert_eq!(room_index("#bench-10"), Some(9));
        assert_eq!(room_index("#bench-0"), None);
        assert_eq!(room_index("#general"), None);
    }

    #[test]
    fn members_sit_in_their_home_room_and_the_next_ones_wrapping() {
        let layout = Layout::new(4, 10, 2);
        assert_eq!(layout.rooms_of(0).collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(layout.rooms_of(3).collect::<Vec<_>>(), [3, 0, 1]);
        for member in 0..10 {
            for room in 0..4 {
                assert_eq!(
                    layout.is_in(member, room),
                    layout.rooms_of(member).any(|r| r == room),
                    "member {member}, room {room}"
                );
            }
        }
        // Ten members, three rooms each, over four rooms.
        assert_eq!(layout.sizes.iter().sum::<u64>(), 30);
        assert_eq!(layout.sizes, [7, 8, 8, 7]);
        // Two rooms: everyone is in both.
        assert_eq!(Layout::new(2, 5, 1).sizes, [5, 5]);
    }

    #[test]
    fn messages_go_round_robin_and_reach_everyone_else_in_their_room() {
        let layout = Layout::new(4, 10, 2);
        assert_eq!(
            (0..4)
                .map(|c| layout.room_of_message(1, c))
                .collect::<Vec<_>>(),
            [1, 2, 3, 1]
        );
        // The publisher sends message c into the (c mod len)-th of its rooms: the same.
        for counter in 0..7 {
            let rooms = names_of(Some(&layout), 1);
            assert_eq!(
                rooms[(counter % rooms.len() as u64) as usize],
                room_name(layout.room_of_message(1, counter))
            );
        }
        assert!(names_of(None, 1).is_empty());
        // Rooms of 7, 8, 8 and 7 members. Publisher 0 acknowledged 4 (into rooms 0, 1, 2,
        // 0), publisher 1 acknowledged 2 (into rooms 1, 2).
        let expected = 2 * 6 + 7 + 7 + 7 + 7;
        assert_eq!(layout.expected(&[4, 2]), expected);
    }

    #[test]
    fn a_member_misses_only_what_its_rooms_carried() {
        let layout = Layout::new(4, 10, 2);
        // Member 3 is in rooms 3, 0 and 1: it shares rooms 0 and 1 with publisher 0 (rooms
        // 0, 1, 2) and rooms 1 and 3 with publisher 1 (rooms 1, 2, 3). Six messages each are
        // two per room.
        let mut tally = Tally::default();
        let full = [6, 6];
        assert_eq!(layout.lost(&tally, 3, &full), 2 + 2 + 2 + 2);
        for counter in [0, 1, 3, 4] {
            let room = room_name(layout.room_of_message(0, counter));
            assert!(layout.record(&mut tally, 3, &room, (0, counter, 5)));
        }
        assert_eq!(layout.lost(&tally, 3, &full), 4);
        for (room, counter) in [
            ("#bench-2", 0),
            ("#bench-4", 2),
            ("#bench-2", 3),
            ("#bench-4", 5),
        ] {
            assert!(layout.record(&mut tally, 3, room, (1, counter, 5)));
        }
        assert_eq!(layout.lost(&tally, 3, &full), 0);
        assert_eq!(tally.misrouted, 0);
    }

    #[test]
    fn a_message_in_the_wrong_room_or_to_a_stranger_is_misrouted() {
        let layout = Layout::new(4, 10, 2);
        let mut tally = Tally::default();
        // Publisher 0's message 2 belongs in room 2 (#bench-3); member 3 is not in it.
        assert!(!layout.record(&mut tally, 3, "#bench-3", (0, 2, 5)));
        // Message 0 belongs in room 0, not room 1, though member 3 is in both.
        assert!(!layout.record(&mut tally, 3, "#bench-2", (0, 0, 5)));
        // Another room altogether, and a member's own message.
        assert!(!layout.record(&mut tally, 3, "#general", (0, 0, 5)));
        assert!(!layout.record(&mut tally, 0, "#bench-1", (0, 0, 5)));
        assert_eq!(tally.misrouted, 4);
        assert_eq!(tally.deliveries(), 0);
    }
}
