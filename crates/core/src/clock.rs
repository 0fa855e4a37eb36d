//! Time is injected: every deadline, lease and timer asks a [`Clock`], so tests drive time by hand.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};

/// Where "now" comes from.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that moves only when told to. Clones share the same time.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self(Arc::new(Mutex::new(start)))
    }
    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
    }
    pub fn set(&self, to: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The wall clock moved by an offset that can be stepped while it runs, as NTP steps a host's
/// clock. Only the chaos harness uses it (`HOTLINE_TEST_CLOCK_OFFSET_FILE`): a replica whose
/// clock jumps must not fire a deadline twice or lose one. Clones share the offset.
#[derive(Debug, Clone, Default)]
pub struct SteppedClock(Arc<AtomicI64>);

impl SteppedClock {
    /// Sets the offset from the wall clock, in milliseconds (negative: behind).
    pub fn set_offset_ms(&self, offset: i64) {
        self.0.store(offset, Ordering::Relaxed);
    }
    pub fn offset_ms(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Clock for SteppedClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + Duration::milliseconds(self.offset_ms())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stepped_clock_moves_by_its_offset_and_clones_share_it() {
        let clock = SteppedClock::default();
        let other = clock.clone();
        clock.set_offset_ms(3_600_000);
        let ahead = other.now() - Utc::now();
        assert!(ahead > Duration::minutes(59) && ahead <= Duration::minutes(60));
        other.set_offset_ms(-3_600_000);
        assert!(clock.now() < Utc::now() - Duration::minutes(59));
    }
}
