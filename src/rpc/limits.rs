//! Limits per client address: open connections per IP, and a token bucket for joins per IP.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use crate::domain::{RateLimit, RoomError, TokenBucket};

/// Addresses the join limiter remembers before it forgets the quiet ones.
const JOIN_LIMITER_SIZE: usize = 4096;

/// Counts open connections per IP address.
#[derive(Clone)]
pub(super) struct IpLimiter {
    counts: Arc<Mutex<HashMap<IpAddr, u32>>>,
    max: u32,
    limit_loopback: bool,
}

/// One connection's place in the [`IpLimiter`]; gives it back on drop.
pub(super) struct IpPermit {
    limiter: IpLimiter,
    /// `None` for an address the limit does not apply to.
    ip: Option<IpAddr>,
}

impl IpLimiter {
    pub(super) fn new(max: u32, limit_loopback: bool) -> Self {
        Self {
            counts: Arc::default(),
            max,
            limit_loopback,
        }
    }

    pub(super) fn try_acquire(&self, ip: IpAddr) -> Option<IpPermit> {
        if ip.is_loopback() && !self.limit_loopback {
            return Some(IpPermit {
                limiter: self.clone(),
                ip: None,
            });
        }
        let ip = address_key(ip);
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let count = counts.entry(ip).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(IpPermit {
            limiter: self.clone(),
            ip: Some(ip),
        })
    }
}

impl Drop for IpPermit {
    fn drop(&mut self) {
        let Some(ip) = self.ip else { return };
        let mut counts = self
            .limiter
            .counts
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(count) = counts.get_mut(&ip) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&ip);
            }
        }
    }
}

/// What limits per address count by: the address itself for IPv4, its /64 for IPv6 (one
/// subscriber usually holds a whole /64).
pub(super) fn address_key(ip: IpAddr) -> IpAddr {
    let ip = ip.to_canonical();
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
    }
}

/// The client's address, for limits applied per address.
#[derive(Debug, Clone, Copy)]
pub(super) struct RemoteIp(pub(super) IpAddr);

/// A token bucket per address for joins, so sessions cannot be minted to dodge the
/// per-session rate limit.
pub(super) struct JoinLimiter {
    buckets: Mutex<HashMap<IpAddr, TokenBucket>>,
    rate: RateLimit,
    limit_loopback: bool,
}

impl JoinLimiter {
    pub(super) fn new(rate: RateLimit, limit_loopback: bool) -> Self {
        Self {
            buckets: Mutex::default(),
            rate,
            limit_loopback,
        }
    }

    pub(super) fn check(&self, ip: Option<IpAddr>) -> Result<(), RoomError> {
        let Some(ip) = ip.filter(|ip| self.limit_loopback || !ip.is_loopback()) else {
            return Ok(());
        };
        let now = std::time::Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= JOIN_LIMITER_SIZE {
            // A full bucket behaves exactly like a new one: forget those.
            buckets.retain(|_, bucket| !bucket.is_full(self.rate, now));
        }
        buckets
            .entry(address_key(ip))
            .or_insert_with(|| TokenBucket::full(self.rate, now))
            .take(self.rate, now)
            .map_err(|retry_after| RoomError::RateLimited { retry_after })
    }
}
