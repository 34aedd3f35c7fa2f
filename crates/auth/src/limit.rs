//! Request budgets per principal or client address, in fixed one-minute windows.
//!
//! A fixed window (GitHub's model) gives exactly the numbers the `X-RateLimit-Limit`,
//! `-Remaining` and `-Reset` headers report; GCRA limiters such as governor do not expose a
//! remaining count, so this small counter is written here.

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
    time::{Duration, Instant},
};

/// The window every budget is counted in.
const WINDOW: Duration = Duration::from_secs(60);
/// Keys tracked before expired windows are swept (at most once per window).
const SWEEP_AT: usize = 10_000;
/// Keys tracked at most; past it every window starts over (a flood of distinct keys must not
/// grow memory without bound).
const MAX_KEYS: usize = 200_000;

/// The verdict on one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Whether it may proceed.
    pub allowed: bool,
    /// The budget per window.
    pub limit: u32,
    /// Requests left in this window.
    pub remaining: u32,
    /// Seconds until the window resets.
    pub reset_seconds: u64,
}

/// Counts requests per key.
#[derive(Debug, Default)]
pub struct RateLimiter {
    windows: Mutex<Windows>,
}

#[derive(Debug, Default)]
struct Windows {
    by_key: HashMap<String, (Instant, u32)>,
    last_sweep: Option<Instant>,
}

impl RateLimiter {
    /// Counts one request for `key` against `limit` per minute.
    pub fn check(&self, key: &str, limit: u32) -> Decision {
        self.check_at(key, limit, Instant::now())
    }

    fn check_at(&self, key: &str, limit: u32, now: Instant) -> Decision {
        let mut guard = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        let w = &mut *guard;
        let due = w.last_sweep.is_none_or(|t| now.duration_since(t) >= WINDOW);
        if w.by_key.len() >= SWEEP_AT && due {
            w.by_key
                .retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
            w.last_sweep = Some(now);
        }
        if w.by_key.len() >= MAX_KEYS {
            w.by_key.clear();
        }
        let entry = w.by_key.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        let allowed = entry.1 < limit;
        if allowed {
            entry.1 += 1;
        }
        let elapsed = now.duration_since(entry.0);
        Decision {
            allowed,
            limit,
            remaining: limit.saturating_sub(entry.1),
            reset_seconds: (WINDOW.saturating_sub(elapsed)).as_secs().max(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_down_refuses_then_resets() {
        let l = RateLimiter::default();
        let t0 = Instant::now();
        for i in 0..3 {
            let d = l.check_at("k", 3, t0);
            assert!(d.allowed);
            assert_eq!(d.remaining, 2 - i);
        }
        let d = l.check_at("k", 3, t0 + Duration::from_secs(10));
        assert!(!d.allowed);
        assert_eq!(d.remaining, 0);
        assert_eq!(d.reset_seconds, 50);
        assert!(l.check_at("other", 3, t0).allowed, "keys are independent");
        assert!(l.check_at("k", 3, t0 + WINDOW).allowed, "a new window");
    }
}
