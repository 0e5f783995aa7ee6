//! The room password. Compared in constant time; an address that keeps guessing wrong is
//! shut out for a while, for longer each time (as fail2ban would), and the log says so.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use jsonrpsee::types::ErrorObjectOwned;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::codes;
use super::limits::address_key;

/// Wrong passwords an address may give before it is shut out.
pub const FREE_FAILURES: u32 = 5;
/// The first time an address is shut out; each further wrong guess doubles it.
const FIRST_BAN: Duration = Duration::from_secs(10);
const MAX_BAN: Duration = Duration::from_secs(15 * 60);
/// An address with no wrong guess for this long starts again from nothing.
const FORGET_AFTER: Duration = Duration::from_secs(60 * 60);
/// Addresses remembered at once; past that the quiet ones are forgotten first.
const MAX_TRACKED: usize = 4096;

/// Why a join was refused at the door.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("this server needs a password")]
    PasswordRequired,
    #[error("wrong password")]
    WrongPassword,
    #[error("too many wrong passwords from your address; try again in {} s", retry_after.as_secs().max(1))]
    ShutOut { retry_after: Duration },
}

impl From<AuthError> for ErrorObjectOwned {
    fn from(err: AuthError) -> Self {
        let message = err.to_string();
        match err {
            AuthError::PasswordRequired => {
                ErrorObjectOwned::owned(codes::PASSWORD_REQUIRED, message, None::<()>)
            }
            AuthError::WrongPassword => {
                ErrorObjectOwned::owned(codes::WRONG_PASSWORD, message, None::<()>)
            }
            AuthError::ShutOut { retry_after } => ErrorObjectOwned::owned(
                codes::SHUT_OUT,
                message,
                Some(serde_json::json!({ "retry_after_ms": retry_after.as_millis() as u64 })),
            ),
        }
    }
}

/// The password, kept only as its SHA-256 digest: comparing digests takes the same time
/// whatever was guessed, its length included.
#[derive(Clone)]
pub struct Password([u8; 32]);

impl Password {
    pub fn new(secret: &str) -> Self {
        Self(Sha256::digest(secret.as_bytes()).into())
    }

    fn matches(&self, given: &str) -> bool {
        let given: [u8; 32] = Sha256::digest(given.as_bytes()).into();
        self.0.ct_eq(&given).into()
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(…)")
    }
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
    shut_until: Option<Instant>,
}

/// Checks joins against the password and remembers who guessed wrong.
pub struct PasswordGate {
    password: Password,
    failures: Mutex<HashMap<IpAddr, Failures>>,
}

impl PasswordGate {
    pub fn new(password: Password) -> Self {
        Self {
            password,
            failures: Mutex::default(),
        }
    }

    /// Lets a join from `ip` with `given` in, or says why not.
    pub fn check(&self, ip: Option<IpAddr>, given: Option<&str>) -> Result<(), AuthError> {
        self.check_at(ip, given, Instant::now())
    }

    fn check_at(
        &self,
        ip: Option<IpAddr>,
        given: Option<&str>,
        now: Instant,
    ) -> Result<(), AuthError> {
        let key = ip.map(address_key);
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(entry) = key.and_then(|key| failures.get(&key))
            && let Some(until) = entry.shut_until.filter(|until| *until > now)
        {
            // Even the right password waits: a guesser learns nothing while shut out.
            return Err(AuthError::ShutOut {
                retry_after: until - now,
            });
        }
        let Some(given) = given else {
            // Asking without a password is how a client finds out one is needed.
            return Err(AuthError::PasswordRequired);
        };
        if self.password.matches(given) {
            if let Some(key) = key {
                failures.remove(&key);
            }
            return Ok(());
        }
        let Some(key) = key else {
            return Err(AuthError::WrongPassword);
        };
        if failures.len() >= MAX_TRACKED {
            failures.retain(|_, f| f.shut_until.is_some_and(|until| until > now));
        }
        let entry = failures.entry(key).or_insert(Failures {
            count: 0,
            last: now,
            shut_until: None,
        });
        if now.duration_since(entry.last) > FORGET_AFTER {
            entry.count = 0;
        }
        entry.count += 1;
        entry.last = now;
        if entry.count >= FREE_FAILURES {
            let doublings = (entry.count - FREE_FAILURES).min(16);
            let ban = FIRST_BAN.saturating_mul(1 << doublings).min(MAX_BAN);
            entry.shut_until = Some(now + ban);
            tracing::warn!(
                address = %key,
                failures = entry.count,
                secs = ban.as_secs(),
                "wrong passwords: address shut out"
            );
        } else {
            tracing::info!(address = %key, failures = entry.count, "wrong password");
        }
        Err(AuthError::WrongPassword)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn only_the_right_password_opens() {
        let gate = PasswordGate::new(Password::new("hunter2"));
        assert_eq!(gate.check(ip("10.0.0.1"), Some("hunter2")), Ok(()));
        assert_eq!(
            gate.check(ip("10.0.0.1"), Some("hunter")),
            Err(AuthError::WrongPassword)
        );
        assert_eq!(
            gate.check(ip("10.0.0.1"), Some("hunter2 ")),
            Err(AuthError::WrongPassword)
        );
        assert_eq!(
            gate.check(ip("10.0.0.1"), None),
            Err(AuthError::PasswordRequired)
        );
        assert_eq!(format!("{:?}", Password::new("hunter2")), "Password(…)");
    }

    #[test]
    fn an_address_that_keeps_guessing_is_shut_out_for_longer_each_time() {
        let gate = PasswordGate::new(Password::new("right"));
        let start = Instant::now();
        let guesser = ip("203.0.113.9");
        for _ in 0..FREE_FAILURES - 1 {
            assert_eq!(
                gate.check_at(guesser, Some("wrong"), start),
                Err(AuthError::WrongPassword)
            );
        }
        assert_eq!(
            gate.check_at(guesser, Some("right"), start),
            Ok(()),
            "not yet"
        );
        for _ in 0..FREE_FAILURES {
            let _ = gate.check_at(guesser, Some("wrong"), start);
        }
        let shut = gate.check_at(guesser, Some("right"), start);
        assert_eq!(
            shut,
            Err(AuthError::ShutOut {
                retry_after: FIRST_BAN
            })
        );
        // Another address is not held up.
        assert_eq!(
            gate.check_at(ip("203.0.113.10"), Some("right"), start),
            Ok(())
        );
        // Once the time is up, one more wrong guess shuts it out for twice as long.
        let later = start + FIRST_BAN;
        assert_eq!(
            gate.check_at(guesser, Some("wrong"), later),
            Err(AuthError::WrongPassword)
        );
        assert_eq!(
            gate.check_at(guesser, Some("right"), later),
            Err(AuthError::ShutOut {
                retry_after: 2 * FIRST_BAN
            })
        );
        // The right password after the wait lets it in and wipes the slate.
        let much_later = later + 2 * FIRST_BAN;
        assert_eq!(gate.check_at(guesser, Some("right"), much_later), Ok(()));
        assert_eq!(
            gate.check_at(guesser, Some("wrong"), much_later),
            Err(AuthError::WrongPassword)
        );
    }

    #[test]
    fn an_ipv6_guesser_cannot_dodge_by_changing_its_interface_id() {
        let gate = PasswordGate::new(Password::new("right"));
        let now = Instant::now();
        for i in 0..FREE_FAILURES {
            let _ = gate.check_at(ip(&format!("2001:db8::{i}")), Some("wrong"), now);
        }
        assert!(matches!(
            gate.check_at(ip("2001:db8::ffff"), Some("right"), now),
            Err(AuthError::ShutOut { .. })
        ));
    }

    #[test]
    fn ipv4_clients_of_a_dual_stack_listener_are_told_apart() {
        let gate = PasswordGate::new(Password::new("right"));
        let now = Instant::now();
        for _ in 0..FREE_FAILURES {
            let _ = gate.check_at(ip("::ffff:198.51.100.7"), Some("wrong"), now);
        }
        assert!(matches!(
            gate.check_at(ip("198.51.100.7"), Some("right"), now),
            Err(AuthError::ShutOut { .. })
        ));
        assert_eq!(
            gate.check_at(ip("::ffff:198.51.100.8"), Some("right"), now),
            Ok(()),
            "another IPv4 address is not in the guesser's /64"
        );
    }
}
