//! Per-key rate limits for integrator API keys, with the `governor` crate (GCRA), on the
//! injected clock so tests move time by hand. Limits are per replica: N replicas let a key
//! through up to N times its limit, which the README states.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

use governor::clock::Clock as GovernorClock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use hotline_core::Clock;

use crate::IdentityError;

/// Our clock as governor's: time since the epoch, as a `Duration` (a governor `Reference`).
#[derive(Debug, Clone)]
struct InjectedClock(Arc<dyn Clock>);

impl GovernorClock for InjectedClock {
    type Instant = std::time::Duration;
    fn now(&self) -> Self::Instant {
        let now = self.0.now();
        std::time::Duration::from_millis(u64::try_from(now.timestamp_millis()).unwrap_or(0))
    }
}

type Limiter =
    RateLimiter<NotKeyed, InMemoryState, InjectedClock, NoOpMiddleware<std::time::Duration>>;

/// One limiter per API key id, made on first use with the key's own limit.
#[derive(Debug)]
pub struct RateLimits {
    clock: Arc<dyn Clock>,
    limiters: Mutex<HashMap<String, (u32, Arc<Limiter>)>>,
}

impl RateLimits {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            limiters: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from the key's budget, or says how long to wait.
    pub fn check(&self, key_id: &str, per_minute: u32) -> Result<(), IdentityError> {
        let limit = NonZeroU32::new(per_minute).ok_or(IdentityError::RateLimited {
            per_minute,
            retry_after_ms: u64::MAX,
        })?;
        let limiter = {
            let mut map = self.limiters.lock().unwrap_or_else(|e| e.into_inner());
            let entry = map
                .entry(key_id.to_owned())
                .or_insert_with(|| (per_minute, Arc::new(self.limiter(limit))));
            // The limit was changed in the store: start a bucket with the new limit.
            if entry.0 != per_minute {
                *entry = (per_minute, Arc::new(self.limiter(limit)));
            }
            Arc::clone(&entry.1)
        };
        let clock = InjectedClock(Arc::clone(&self.clock));
        limiter
            .check()
            .map_err(|not_until| IdentityError::RateLimited {
                per_minute,
                retry_after_ms: not_until.wait_time_from(clock.now()).as_millis() as u64,
            })
    }

    fn limiter(&self, limit: NonZeroU32) -> Limiter {
        RateLimiter::direct_with_clock(
            Quota::per_minute(limit),
            InjectedClock(Arc::clone(&self.clock)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone, Utc};
    use hotline_core::ManualClock;

    #[test]
    fn a_key_gets_its_per_minute_budget_then_waits_for_it_to_refill() {
        let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap());
        let limits = RateLimits::new(Arc::new(clock.clone()));
        for _ in 0..3 {
            limits.check("k1", 3).unwrap();
        }
        match limits.check("k1", 3) {
            Err(IdentityError::RateLimited {
                per_minute: 3,
                retry_after_ms,
            }) => {
                assert!(
                    retry_after_ms > 0 && retry_after_ms <= 20_000,
                    "{retry_after_ms}"
                );
            }
            other => panic!("expected RateLimited, got {other:?}"),
        }
        // Another key has its own budget.
        limits.check("k2", 3).unwrap();
        // One request's worth (20 s at 3/min) refills.
        clock.advance(Duration::seconds(20));
        limits.check("k1", 3).unwrap();
        assert!(limits.check("k1", 3).is_err());
    }
}
