//! Rate limiting: a token bucket, and each member's budget, with strikes for flooding.

use std::time::{Duration, Instant};

use super::{LeaveReason, RateLimit, RoomError};

/// A token bucket: `burst` tokens at most, refilled at `per_sec`.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    tokens: f64,
    updated: Instant,
}

impl TokenBucket {
    pub fn full(limit: RateLimit, now: Instant) -> Self {
        Self {
            tokens: f64::from(limit.burst),
            updated: now,
        }
    }

    /// Takes a token, or says how long until one is due.
    pub fn take(&mut self, limit: RateLimit, now: Instant) -> Result<(), Duration> {
        self.refill(limit, now);
        self.take_refilled(limit)
    }

    /// Whether the bucket has refilled completely, i.e. its owner has been quiet.
    pub fn is_full(&mut self, limit: RateLimit, now: Instant) -> bool {
        self.refill(limit, now);
        self.tokens >= f64::from(limit.burst)
    }

    /// Adds what has dripped in since last time; returns how much that was.
    fn refill(&mut self, limit: RateLimit, now: Instant) -> f64 {
        let refill = now.saturating_duration_since(self.updated).as_secs_f64() * limit.per_sec;
        self.updated = now;
        self.tokens = (self.tokens + refill).min(f64::from(limit.burst));
        refill
    }

    fn take_refilled(&mut self, limit: RateLimit) -> Result<(), Duration> {
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Ok(());
        }
        let wait = (1.0 - self.tokens) / limit.per_sec;
        Err(Duration::try_from_secs_f64(wait)
            .unwrap_or(Duration::MAX)
            .max(Duration::from_millis(1)))
    }
}

/// Where a member stands against its rate limit.
pub(super) struct SendBudget {
    bucket: TokenBucket,
    strikes: f64,
}

impl SendBudget {
    pub(super) fn full(limit: Option<RateLimit>, now: Instant) -> Self {
        let bucket = match limit {
            Some(limit) => TokenBucket::full(limit, now),
            None => TokenBucket {
                tokens: 0.0,
                updated: now,
            },
        };
        Self {
            bucket,
            strikes: 0.0,
        }
    }

    /// Gives back a token spent on something that did not happen after all.
    pub(super) fn refund(&mut self, limit: RateLimit) {
        self.bucket.tokens = (self.bucket.tokens + 1.0).min(f64::from(limit.burst));
    }

    /// Takes a token, or says how long until one is due; `Flooding` once strikes run over.
    pub(super) fn spend(&mut self, limit: RateLimit, now: Instant) -> Result<(), RoomError> {
        let refill = self.bucket.refill(limit, now);
        self.strikes = (self.strikes - refill).max(0.0);
        match self.bucket.take_refilled(limit) {
            Ok(()) => Ok(()),
            Err(retry_after) => {
                self.strikes += 1.0;
                if self.strikes > f64::from(limit.burst) {
                    Err(RoomError::SessionEnded(LeaveReason::Flooding))
                } else {
                    Err(RoomError::RateLimited { retry_after })
                }
            }
        }
    }
}
