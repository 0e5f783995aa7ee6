//! Names: the reserved ones, the server's own identity, and finding a free name for a member.

use rand::Rng;
use uuid::Uuid;

use super::{MemberInfo, RoomError, State};
use crate::text::{MAX_NAME_CHARS, clean_name, look_alike_keys};

/// Names nobody may take, so that nobody can pose as the server. Compared by skeleton, so
/// look-alikes of these are refused too.
pub const RESERVED_NAMES: [&str; 9] = [
    "server",
    "system",
    "admin",
    "administrator",
    "root",
    "operator",
    "moderator",
    "chatroom",
    "nobody",
];

/// The identity under which the server itself speaks (`system` events).
pub const SERVER_NAME: &str = "server";

/// The variants `name-2` … this one are tried in turn before drawing one at random.
const FIRST_VARIANTS: u64 = 9;

#[cfg(test)]
thread_local! {
    /// Candidates [`State::free_name`] looked at, so a test can bound the search.
    pub(super) static CANDIDATES_TRIED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Whether a name is, or looks like, one of [`RESERVED_NAMES`].
pub(super) fn is_reserved(name: &str) -> bool {
    /// The look-alike keys of every reserved name, worked out once.
    static RESERVED_KEYS: std::sync::LazyLock<std::collections::HashSet<String>> =
        std::sync::LazyLock::new(|| {
            RESERVED_NAMES
                .iter()
                .flat_map(|reserved| look_alike_keys(reserved))
                .collect()
        });
    look_alike_keys(name)
        .iter()
        .any(|key| RESERVED_KEYS.contains(key))
}

/// Who `system` events are from: the reserved name, and the nil uuid no member can have.
pub fn server_identity() -> MemberInfo {
    MemberInfo::new(Uuid::nil(), SERVER_NAME.to_owned())
}

/// A name and its look-alike keys, worked out once.
type Keyed = (String, [String; 4]);

impl State {
    /// The name with its keys, if neither it nor a look-alike is in use, nor owned by a key
    /// other than `me`.
    fn if_free(&self, name: String, me: Option<&str>) -> Option<Keyed> {
        let keys = look_alike_keys(&name);
        let my_id = me
            .and_then(|key| self.identities.get(key))
            .map(|i| i.record.id);
        let taken = keys.iter().any(|key| {
            self.names.contains(key)
                || self.elsewhere_names.taken(key, my_id)
                || self
                    .identities
                    .owner_of_key(key)
                    .is_some_and(|owner| Some(owner) != me)
        });
        (!taken).then_some((name, keys))
    }

    /// Settles on a name as [`State::free_name`] does for the identity `me` (a guest if
    /// `None`) and marks it taken.
    pub(super) fn take_free_name(&mut self, requested: Option<String>, me: Option<&str>) -> String {
        let (name, keys) = self.free_name(requested, me);
        self.names.extend(keys);
        name
    }

    /// Refuses a name that a key other than `me` owns, or that looks like one.
    pub(super) fn check_not_owned(&self, name: &str, me: Option<&str>) -> Result<(), RoomError> {
        match self.identities.owner_of(name) {
            Some(owner) if Some(owner) != me => Err(RoomError::NameOwned(name.to_owned())),
            _ => Ok(()),
        }
    }

    /// The (already cleaned) requested name if nobody has it or a look-alike of it, else the
    /// first free of `name-2` … `name-9`, then a free `name-N` with `N` drawn at random from a
    /// range four times the room's size, so that a crowd of one name never makes a join
    /// search through all of them under the room lock; with no usable name, a random
    /// `guest-xxxx`.
    fn free_name(&self, requested: Option<String>, me: Option<&str>) -> Keyed {
        let Some(base) = requested else {
            return self.free_guest_name(me);
        };
        let variant = |n: u64| {
            let suffix = format!("-{n}");
            let stem: String = base
                .chars()
                .take(MAX_NAME_CHARS - suffix.chars().count())
                .collect();
            // Cleaned again: the cut may strand a joiner that joined across it.
            clean_name(&format!("{stem}{suffix}"))
                .expect("the start of a clean name and a suffix clean to a name")
        };
        let tried = |candidate: String| {
            #[cfg(test)]
            CANDIDATES_TRIED.with(|n| n.set(n.get() + 1));
            self.if_free(candidate, me)
        };
        if let Some(free) = self.if_free(base.clone(), me) {
            return free;
        }
        if let Some(free) = (2..=FIRST_VARIANTS).map(variant).find_map(tried) {
            return free;
        }
        // At most a quarter of the range is taken, so a draw is free three times in four.
        let range = 10..10 + 4 * (self.members.len() as u64 + 100);
        let mut rng = rand::rng();
        std::iter::repeat_with(|| variant(rng.random_range(range.clone())))
            .find_map(tried)
            .expect("an endless draw finds a free variant")
    }

    fn free_guest_name(&self, me: Option<&str>) -> Keyed {
        let mut rng = rand::rng();
        // Four hex digits while the room is small; widen as guests crowd the space so
        // the search stays short.
        let digits: u32 = if self.members.len() < 16_384 { 4 } else { 8 };
        loop {
            let n = rng.random_range(0..16u64.pow(digits));
            let candidate = format!("guest-{n:0width$x}", width = digits as usize);
            if let Some(free) = self.if_free(candidate, me) {
                return free;
            }
        }
    }
}
