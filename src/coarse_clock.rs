//! A clock for the caches' time-to-live that costs one atomic load to read: it counts ticks
//! that a background task advances every [`CoarseClock::TICK`], so a cache hit never reads the
//! system clock, and entries still expire one by one rather than all at once.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// Ticks since the server started.
#[derive(Debug, Default)]
pub struct CoarseClock {
    ticks: AtomicU32,
}

/// A cached value with the tick it was cached at.
#[derive(Debug, Clone)]
pub struct Stamped<V> {
    pub value: V,
    pub at: u32,
}

impl CoarseClock {
    /// How often the background task advances every cache's clock.
    pub const TICK: Duration = Duration::from_secs(10);

    /// The whole ticks in `duration` (at least one).
    pub const fn ticks_in(duration: Duration) -> u32 {
        let ticks = duration.as_secs() / Self::TICK.as_secs();
        if ticks == 0 { 1 } else { ticks as u32 }
    }

    /// Ticks since the start (wrapping).
    pub fn ticks(&self) -> u32 {
        self.ticks.load(Ordering::Relaxed)
    }

    pub fn advance(&self) {
        self.ticks.fetch_add(1, Ordering::Relaxed);
    }

    /// `value`, stamped with the current tick.
    pub fn stamp<V>(&self, value: V) -> Stamped<V> {
        Stamped {
            value,
            at: self.ticks.load(Ordering::Relaxed),
        }
    }

    /// The value, unless it was stamped `ttl` ticks ago or longer.
    pub fn fresh<V>(&self, stamped: Stamped<V>, ttl: u32) -> Option<V> {
        let age = self.ticks.load(Ordering::Relaxed).wrapping_sub(stamped.at);
        (age < ttl).then_some(stamped.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_lives_its_time_to_live_in_ticks() {
        let clock = CoarseClock::default();
        let stamped = clock.stamp("list");
        assert_eq!(clock.fresh(stamped.clone(), 2), Some("list"));
        clock.advance();
        assert_eq!(clock.fresh(stamped.clone(), 2), Some("list"));
        clock.advance();
        assert_eq!(clock.fresh(stamped, 2), None);
    }

    #[test]
    fn durations_are_whole_ticks_and_at_least_one() {
        assert_eq!(CoarseClock::ticks_in(Duration::from_secs(600)), 60);
        assert_eq!(CoarseClock::ticks_in(Duration::from_secs(60)), 6);
        assert_eq!(CoarseClock::ticks_in(Duration::ZERO), 1);
    }
}
