//! Where each room's stream resumes after a reconnect (from the last seq received, unless
//! the room's history was reset), and which refusals to enter a room again drop that room.

use crate::rpc::codes;

/// Whether a room's stream resumes from `cursor` (the last seq received from it, if it was
/// joined before) given the room's `last_seq` now, and whether its history was reset (a new
/// in-memory server, a replaced database: it ends before what was received).
pub(super) fn resume(cursor: Option<u64>, last_seq: u64) -> (bool, bool) {
    let reset = cursor.is_some_and(|cursor| cursor > last_seq);
    (cursor.is_some() && !reset, reset)
}

/// Where a room's stream starts: after what was received, or after the history just given.
pub(super) fn resumed_from(cursor: Option<u64>, last_seq: u64) -> u64 {
    cursor
        .filter(|&cursor| cursor <= last_seq)
        .unwrap_or(last_seq)
}

/// Whether a refusal to enter a room again is about that room alone (its name, the room
/// limits), so the session goes on without it. A rate limit is not: the room is kept, and
/// the attempt made again later.
pub(super) fn room_refused(code: i32) -> bool {
    matches!(
        code,
        codes::BAD_ROOM_NAME
            | codes::TOO_MANY_ROOMS
            | codes::NO_SUCH_ROOM
            | codes::BANNED
            | codes::INVITE_ONLY
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_room_resumes_from_its_own_cursor_unless_its_history_was_reset() {
        // First time in: from the end of the history the join gave.
        assert_eq!(resume(None, 7), (false, false));
        assert_eq!(resumed_from(None, 7), 7);
        // Back after an outage: from the last event received.
        assert_eq!(resume(Some(4), 7), (true, false));
        assert_eq!(resumed_from(Some(4), 7), 4);
        assert_eq!(resumed_from(Some(7), 7), 7);
        // The room's history ends before what was received: start afresh.
        assert_eq!(resume(Some(9), 7), (false, true));
        assert_eq!(resumed_from(Some(9), 7), 7);
    }

    #[test]
    fn a_room_refused_on_reconnect_is_dropped_and_the_rest_go_on() {
        assert!(room_refused(codes::TOO_MANY_ROOMS));
        assert!(room_refused(codes::BAD_ROOM_NAME));
        assert!(
            !room_refused(codes::SESSION_ENDED),
            "the session is gone: try again"
        );
    }
}
