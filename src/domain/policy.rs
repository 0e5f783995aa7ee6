//! Who may do what in a room, and who is kept out: roles, modes, invites, bans and mutes
//! (a room's [`RoomPolicy`]), and the bans of the whole server ([`ServerPolicy`]).
//!
//! Plain data with the rules that read it. Identities are named by member id (made from
//! their key, the same forever); a guest, whose id lasts one session, is banned or muted by
//! the address it comes from. A policy is stored whole, as one record, each time it changes;
//! the serde derives are for that, and for `chatroom admin`.

use std::collections::BTreeSet;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::event::Role;

/// The shortest ban or mute with a duration, in seconds.
pub const MIN_DURATION_SECS: u64 = 60;
/// The longest ban or mute with a duration, in seconds (a year); longer is for ever.
pub const MAX_DURATION_SECS: u64 = 366 * 24 * 60 * 60;
/// The most bans (or mutes) one room, or the server, keeps.
pub const MAX_BANS: usize = 1000;
/// The most identities one room keeps invited.
pub const MAX_INVITES: usize = 1000;
/// The most members one identity ignores.
pub const MAX_IGNORES: usize = 500;

/// Who a ban or mute is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind", content = "value")]
pub enum Target {
    /// An identity, by member id.
    Identity(Uuid),
    /// Guests coming from an address.
    Address(IpAddr),
}

impl Target {
    /// The target for guests from `address`: an IPv6 address stands for its /64, which
    /// one host can move about in at will (the connection limits count it the same way).
    pub fn address(address: IpAddr) -> Self {
        Target::Address(match address {
            IpAddr::V6(v6) => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(bits.into())
            }
            v4 => v4,
        })
    }
}

/// One ban or mute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ban {
    pub target: Target,
    /// The name it went by when banned, for lists.
    pub name: String,
    /// The identity's key fingerprint, for lists; `None` for an address.
    pub fingerprint: Option<String>,
    /// When it ends, ms since the epoch; `None` for never.
    pub until: Option<u64>,
    pub reason: Option<String>,
    /// The name of who banned it.
    pub by: String,
    /// When, ms since the epoch.
    pub at: u64,
}

impl Ban {
    /// Whether it still holds at `now` (ms since the epoch).
    pub fn holds(&self, now: u64) -> bool {
        self.until.is_none_or(|until| until > now)
    }
}

/// A room's modes, as IRC spells them: `+t` topic locked to operators, `+i` invite only,
/// `+s` secret (left out of lists for those not in it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Modes {
    #[serde(default)]
    pub topic_locked: bool,
    #[serde(default)]
    pub invite_only: bool,
    #[serde(default)]
    pub secret: bool,
}

/// A mode letter that is not one of `t`, `i`, `s`, or a change that is not `+…`/`-…`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown mode change {0:?}: use +t, +i or +s (or - to clear), such as \"+it\"")]
pub struct BadMode(pub String);

impl Modes {
    /// `"+its"`, or `"+"` for none.
    pub fn to_letters(self) -> String {
        let mut s = String::from("+");
        if self.invite_only {
            s.push('i');
        }
        if self.secret {
            s.push('s');
        }
        if self.topic_locked {
            s.push('t');
        }
        s
    }

    /// Applies a change such as `"+i"`, `"-t"` or `"+is-t"`; returns the modes it makes.
    pub fn apply(self, change: &str) -> Result<Modes, BadMode> {
        let bad = || BadMode(change.to_owned());
        let mut modes = self;
        let mut on = None;
        let mut letters = 0;
        for c in change.trim().chars() {
            match c {
                '+' => on = Some(true),
                '-' => on = Some(false),
                't' | 'i' | 's' => {
                    let on = on.ok_or_else(bad)?;
                    letters += 1;
                    match c {
                        't' => modes.topic_locked = on,
                        'i' => modes.invite_only = on,
                        _ => modes.secret = on,
                    }
                }
                _ => return Err(bad()),
            }
        }
        if letters == 0 {
            return Err(bad());
        }
        Ok(modes)
    }
}

/// A room's moderation: its owner and operators, modes, invites, bans and mutes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomPolicy {
    /// The identity that created the room or was handed it; `None` for a room a guest
    /// made, the default room, and rooms older than roles (server operators moderate
    /// those).
    pub owner: Option<Uuid>,
    #[serde(default)]
    pub operators: BTreeSet<Uuid>,
    #[serde(default)]
    pub modes: Modes,
    /// Identities invited in, for an invite-only room.
    #[serde(default)]
    pub invited: BTreeSet<Uuid>,
    #[serde(default)]
    pub bans: Vec<Ban>,
    #[serde(default)]
    pub mutes: Vec<Ban>,
}

impl RoomPolicy {
    /// The role an identity has in the room (server operators are told apart elsewhere).
    pub fn role_of(&self, id: Uuid) -> Option<Role> {
        if self.owner == Some(id) {
            Some(Role::Owner)
        } else if self.operators.contains(&id) {
            Some(Role::Op)
        } else {
            None
        }
    }

    /// The ban holding against any of `targets` at `now`.
    pub fn ban_on(&self, targets: &[Target], now: u64) -> Option<&Ban> {
        find(&self.bans, targets, now)
    }

    /// The mute holding against any of `targets` at `now`.
    pub fn mute_on(&self, targets: &[Target], now: u64) -> Option<&Ban> {
        find(&self.mutes, targets, now)
    }

    /// Forgets bans and mutes that have ended. Returns whether any had.
    pub fn prune(&mut self, now: u64) -> bool {
        let before = self.bans.len() + self.mutes.len();
        self.bans.retain(|b| b.holds(now));
        self.mutes.retain(|b| b.holds(now));
        before != self.bans.len() + self.mutes.len()
    }

    /// Whether it says nothing a room without a policy would not.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// The server's own moderation: who is banned from all of it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerPolicy {
    #[serde(default)]
    pub bans: Vec<Ban>,
}

impl ServerPolicy {
    /// The ban holding against any of `targets` at `now`.
    pub fn ban_on(&self, targets: &[Target], now: u64) -> Option<&Ban> {
        find(&self.bans, targets, now)
    }

    /// Forgets bans that have ended. Returns whether any had.
    pub fn prune(&mut self, now: u64) -> bool {
        let before = self.bans.len();
        self.bans.retain(|b| b.holds(now));
        before != self.bans.len()
    }
}

fn find<'a>(list: &'a [Ban], targets: &[Target], now: u64) -> Option<&'a Ban> {
    list.iter()
        .find(|b| b.holds(now) && targets.contains(&b.target))
}

/// Puts `ban` in `list` in place of any on the same target (a second ban changes the
/// first's length and reason). Refuses a new one past [`MAX_BANS`].
pub fn add_ban(list: &mut Vec<Ban>, ban: Ban) -> Result<(), usize> {
    if let Some(old) = list.iter_mut().find(|b| b.target == ban.target) {
        *old = ban;
        return Ok(());
    }
    if list.len() >= MAX_BANS {
        return Err(MAX_BANS);
    }
    list.push(ban);
    Ok(())
}

/// How a duration given in seconds reads: `"10m"`, `"2h"`, `"7d"`, or `"1h30m"`.
pub fn format_duration(secs: u64) -> String {
    let (d, h, m, s) = (
        secs / 86_400,
        secs % 86_400 / 3600,
        secs % 3600 / 60,
        secs % 60,
    );
    let mut out = String::new();
    for (n, unit) in [(d, 'd'), (h, 'h'), (m, 'm'), (s, 's')] {
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
        }
    }
    if out.is_empty() {
        out.push_str("0s");
    }
    out
}

/// Reads a duration as people write one: a number with `s`, `m`, `h`, `d` or `w`, or
/// several (`"1h30m"`). Returns seconds; `None` if it does not read as one.
pub fn parse_duration(text: &str) -> Option<u64> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit: u64 = match c.to_ascii_lowercase() {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            _ => return None,
        };
        let n: u64 = digits.parse().ok()?;
        digits.clear();
        total = total.checked_add(n.checked_mul(unit)?)?;
    }
    if !digits.is_empty() {
        return None;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(parse_duration("10m"), Some(600));
        assert_eq!(parse_duration("2h"), Some(7200));
        assert_eq!(parse_duration("7d"), Some(7 * 86_400));
        assert_eq!(parse_duration("1h30m"), Some(5400));
        assert_eq!(parse_duration("1W"), Some(7 * 86_400));
        for bad in ["", "10", "m", "10x", "-5m", "1.5h", "99999999999999999999d"] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
        assert_eq!(format_duration(5400), "1h30m");
        assert_eq!(format_duration(7 * 86_400), "7d");
    }

    #[test]
    fn modes_change_by_letters() {
        let modes = Modes::default().apply("+it").unwrap();
        assert!(modes.invite_only && modes.topic_locked && !modes.secret);
        assert_eq!(modes.to_letters(), "+it");
        let modes = modes.apply("-t+s").unwrap();
        assert_eq!(modes.to_letters(), "+is");
        for bad in ["", "+", "i", "+x", "+i x"] {
            assert!(Modes::default().apply(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_ban_holds_until_it_ends() {
        let who = Target::Identity(Uuid::from_u128(7));
        let ban = Ban {
            target: who,
            name: "x".into(),
            fingerprint: None,
            until: Some(1000),
            reason: None,
            by: "op".into(),
            at: 0,
        };
        let mut policy = RoomPolicy {
            bans: vec![ban],
            ..Default::default()
        };
        assert!(policy.ban_on(&[who], 999).is_some());
        assert!(policy.ban_on(&[who], 1000).is_none());
        assert!(
            policy
                .ban_on(&[Target::Identity(Uuid::from_u128(8))], 0)
                .is_none()
        );
        assert!(!policy.prune(999));
        assert!(policy.prune(1000));
        assert!(policy.bans.is_empty());
    }

    #[test]
    fn a_list_keeps_one_ban_per_target_and_no_more_than_the_limit() {
        let ban = |n: u128, until| Ban {
            target: Target::Identity(Uuid::from_u128(n)),
            name: n.to_string(),
            fingerprint: None,
            until,
            reason: None,
            by: "op".into(),
            at: 0,
        };
        let mut list = Vec::new();
        add_ban(&mut list, ban(1, Some(5))).unwrap();
        add_ban(&mut list, ban(1, None)).unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].until, None);
        for n in 2..=MAX_BANS as u128 {
            add_ban(&mut list, ban(n, None)).unwrap();
        }
        assert_eq!(add_ban(&mut list, ban(5000, None)), Err(MAX_BANS));
    }
}
