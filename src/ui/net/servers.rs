//! The addresses the worker may connect to (`connect A,B,C`: nodes sharing every room) and
//! which one it tries next: the first that answers; after a lost connection or a failed
//! attempt, the next in turn, wrapping round, with one backoff wait per round of attempts
//! (and one before the first attempt after a loss, as with a single address).

/// One server address as the user gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerAddress {
    /// The WebSocket URL connected to (and the address its server id is remembered under).
    pub url: String,
    /// The address as the user typed it: the status line shows it, and "connected to" it.
    pub display: String,
}

/// Where the worker is in its list of addresses.
#[derive(Debug)]
pub(super) struct Servers {
    list: Vec<ServerAddress>,
    /// The address tried now, or connected to.
    at: usize,
    /// Attempts still to be made, each at once, before the next one waits.
    free: usize,
    /// Addresses that can never work (see [`Servers::refuse`]): skipped from then on.
    refused: Vec<bool>,
}

impl Servers {
    /// Starts at the first address; every address is tried once before the first wait.
    pub(super) fn new(list: Vec<ServerAddress>) -> Self {
        assert!(!list.is_empty(), "at least one server address");
        Self {
            free: list.len() - 1,
            refused: vec![false; list.len()],
            list,
            at: 0,
        }
    }

    pub(super) fn current(&self) -> &ServerAddress {
        &self.list[self.at]
    }

    /// Whether there is more than one address: then the worker says which it is on.
    pub(super) fn several(&self) -> bool {
        self.list.len() > 1
    }

    /// Every address's URL: the user gave them together as one service, so one server id at
    /// several of them is no sign of a relay (see [`crate::identity::known`]).
    pub(super) fn urls(&self) -> Vec<String> {
        self.list.iter().map(|server| server.url.clone()).collect()
    }

    fn active(&self) -> usize {
        self.refused.iter().filter(|refused| !**refused).count()
    }

    /// In at the current address: when it goes, the move to the next waits first, so the
    /// members of a node that died do not all arrive at the next one at once.
    pub(super) fn connected(&mut self) {
        self.free = 0;
    }

    /// The current address failed or went away: moves on to the next one still in the
    /// list. Returns whether to wait before trying it: a whole round of attempts (every
    /// address once) has gone by since the last wait.
    pub(super) fn next(&mut self) -> bool {
        let len = self.list.len();
        for step in 1..=len {
            let at = (self.at + step) % len;
            if !self.refused[at] {
                self.at = at;
                break;
            }
        }
        let rest = self.active().saturating_sub(1);
        if self.free.min(rest) > 0 {
            self.free = self.free.min(rest) - 1;
            false
        } else {
            self.free = rest;
            true
        }
    }

    /// The current address can never work (a TLS port, a host name that does not resolve
    /// at the very first attempt): left out from now on. Returns whether any address is
    /// left to try; [`Servers::next`] moves on to it.
    pub(super) fn refuse(&mut self) -> bool {
        self.refused[self.at] = true;
        self.active() > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn servers(names: &[&str]) -> Servers {
        Servers::new(
            names
                .iter()
                .map(|name| ServerAddress {
                    url: format!("ws://{name}:7777/"),
                    display: (*name).to_owned(),
                })
                .collect(),
        )
    }

    /// The address of each of `attempts` failed attempts in a row, and whether it waited.
    fn failing(servers: &mut Servers, attempts: usize) -> Vec<(String, bool)> {
        (0..attempts)
            .map(|_| {
                let wait = servers.next();
                (servers.current().display.clone(), wait)
            })
            .collect()
    }

    fn plan(steps: &[(&str, bool)]) -> Vec<(String, bool)> {
        steps
            .iter()
            .map(|(name, wait)| ((*name).to_owned(), *wait))
            .collect()
    }

    #[test]
    fn the_first_address_that_answers_is_found_without_waiting_then_each_round_waits_once() {
        let mut servers = servers(&["a", "b", "c"]);
        assert_eq!(servers.current().display, "a");
        assert_eq!(
            failing(&mut servers, 6),
            plan(&[
                ("b", false),
                ("c", false),
                ("a", true),
                ("b", false),
                ("c", false),
                ("a", true)
            ])
        );
    }

    #[test]
    fn a_lost_connection_moves_on_to_the_next_address_after_the_usual_wait_wrapping_round() {
        let mut servers = servers(&["a", "b", "c"]);
        servers.next();
        servers.next();
        servers.connected();
        assert_eq!(servers.current().display, "c");
        // c goes away: a, after a wait; then b at once, c (back, perhaps) at once.
        assert_eq!(
            failing(&mut servers, 4),
            plan(&[("a", true), ("b", false), ("c", false), ("a", true)])
        );
        // In at b; b goes away: c next.
        servers.next();
        servers.connected();
        assert_eq!(servers.current().display, "b");
        assert_eq!(failing(&mut servers, 1), plan(&[("c", true)]));
    }

    #[test]
    fn one_address_waits_before_every_attempt_as_ever() {
        let mut servers = servers(&["a"]);
        assert_eq!(
            failing(&mut servers, 3),
            plan(&[("a", true), ("a", true), ("a", true)])
        );
        servers.connected();
        assert_eq!(failing(&mut servers, 1), plan(&[("a", true)]));
        assert!(!servers.several());
    }

    #[test]
    fn an_address_that_can_never_work_is_left_out_and_the_last_one_refused_ends_it() {
        let mut servers = servers(&["a", "b", "c"]);
        assert!(servers.refuse(), "b and c are left");
        assert_eq!(
            failing(&mut servers, 4),
            plan(&[("b", false), ("c", true), ("b", false), ("c", true)])
        );
        assert!(servers.refuse());
        assert_eq!(failing(&mut servers, 2), plan(&[("b", true), ("b", true)]));
        assert!(!servers.refuse(), "none left");
    }
}
