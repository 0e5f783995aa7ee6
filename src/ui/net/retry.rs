//! When the worker tries connecting again: the wait before each attempt, and what ends
//! the attempts.

use std::time::Duration;

use crate::rpc::client::ConnectError;

/// The first wait before reconnecting; it doubles with every failure.
const FIRST_RETRY: Duration = Duration::from_secs(1);
/// The longest wait between attempts.
const MAX_RETRY: Duration = Duration::from_secs(30);

/// The wait before attempt `failures + 1`: doubling from one second, capped at thirty,
/// scaled by `jitter` so clients dropped together do not all return together.
pub(super) fn backoff(failures: u32, jitter: f64) -> Duration {
    let base = FIRST_RETRY.saturating_mul(1u32 << failures.min(16));
    base.min(MAX_RETRY).mul_f64(jitter)
}

/// Whether a failure to connect ends the attempts: what trying again cannot change, and a
/// host name that does not resolve on the very first attempt (a typo). A host that
/// resolved before (the client got in, or the server was only down) and fails now is the
/// network going away, worth waiting for.
pub(super) fn gives_up(err: &ConnectError, joined_before: bool, failures: u32) -> bool {
    err.is_permanent() || (err.is_unknown_host() && !joined_before && failures == 0)
}

#[cfg(test)]
mod tests {
    use jsonrpsee::core::ClientError;

    use super::*;

    #[test]
    fn backoff_doubles_from_a_second_up_to_thirty() {
        let waits: Vec<u64> = (0..8).map(|n| backoff(n, 1.0).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(backoff(u32::MAX, 1.0), MAX_RETRY);
    }

    #[test]
    fn an_unknown_host_is_given_up_on_only_at_the_very_first_attempt() {
        let unknown = ConnectError::UnknownHost {
            url: "ws://chat.example:7777/".into(),
            cause: ClientError::Custom("no such host".into()),
        };
        assert!(gives_up(&unknown, false, 0), "a typo");
        assert!(
            !gives_up(&unknown, false, 3),
            "the server was down at start, then the network went"
        );
        assert!(!gives_up(&unknown, true, 0), "an outage after getting in");
        let refused = ConnectError::Connect {
            url: "ws://chat.example:7777/".into(),
            cause: ClientError::Custom("connection refused".into()),
        };
        assert!(!gives_up(&refused, false, 0));
        let tls = ConnectError::TlsPort {
            url: "ws://chat.example:7777/".into(),
        };
        assert!(gives_up(&tls, true, 5));
    }

    #[test]
    fn jitter_spreads_the_wait() {
        assert_eq!(backoff(2, 0.8), Duration::from_millis(3200));
        assert_eq!(backoff(2, 1.2), Duration::from_millis(4800));
    }
}
