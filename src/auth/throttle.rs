//! Throttles failed sign-ins and key checks per client address. Each failure spends one cell
//! of a per-address budget (a burst, refilled steadily); an address whose budget is spent is
//! [`Throttled`] (the edge answers 429 with `Retry-After`) for everything it tries — right
//! guesses included — until the budget refills. Successes cost nothing.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use std::sync::Arc;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::metrics::Metrics;

/// The address has spent its failure budget: nothing it presents is checked until it refills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many failed attempts from this address; try again in {retry_after_secs} s")]
pub struct Throttled {
    pub retry_after_secs: u64,
}

/// The per-address failure budget and the addresses currently blocked.
pub struct FailureThrottle {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    blocked: quick_cache::sync::Cache<IpAddr, Instant>,
    /// When the last block ends, in milliseconds after `started` (0: never): while no address
    /// is blocked, the check on every request is an atomic load and at most a clock read.
    blocked_until_ms: AtomicU64,
    started: Instant,
    clock: DefaultClock,
    metrics: Arc<Metrics>,
}

impl FailureThrottle {
    pub fn new(burst: u32, refill: Duration, metrics: Arc<Metrics>) -> Self {
        let refill = refill.max(Duration::from_millis(1));
        // The limiter keeps burst × refill in u64 nanoseconds: a larger burst would overflow.
        let most = u64::MAX / 2 / u64::try_from(refill.as_nanos()).unwrap_or(u64::MAX).max(1);
        let burst = burst.clamp(1, u32::try_from(most).unwrap_or(u32::MAX).max(1));
        let burst = NonZeroU32::new(burst).expect("at least one");
        let quota = Quota::with_period(refill)
            .expect("a non-zero period")
            .allow_burst(burst);
        Self {
            limiter: RateLimiter::keyed(quota),
            // An entry is useless once its time is past; the capacity bounds the memory (an
            // address evicted early is merely unblocked early).
            blocked: quick_cache::sync::Cache::new(100_000),
            blocked_until_ms: AtomicU64::new(0),
            started: Instant::now(),
            clock: DefaultClock::default(),
            metrics,
        }
    }

    fn millis_at(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.started).as_millis()).unwrap_or(u64::MAX)
    }

    /// [`Throttled`] while the address is blocked; checked before any credential is.
    pub fn guard(&self, address: IpAddr) -> Result<(), Throttled> {
        self.check(address).map_err(|retry_after_secs| {
            Metrics::bump(&self.metrics.throttled);
            Throttled { retry_after_secs }
        })
    }

    /// Counts a refused credential against the address; the failure that spends the budget is
    /// [`Throttled`] (then the refusal becomes a 429 rather than a 401).
    pub fn failed(&self, address: IpAddr) -> Result<(), Throttled> {
        Metrics::bump(&self.metrics.auth_failures);
        self.record_failure(address).map_err(|retry_after_secs| {
            Metrics::bump(&self.metrics.throttled);
            Throttled { retry_after_secs }
        })
    }

    /// Spends one cell of the address's budget for something that is no failure (a leak
    /// report, a run started without a credential): [`Throttled`] while the address is blocked
    /// or when this spends the budget. Counted in the throttle's own metrics.
    pub fn spend(&self, address: IpAddr) -> Result<(), Throttled> {
        self.guard(address)?;
        self.failed(address)
    }

    /// `Err(seconds)` while the address is blocked.
    pub fn check(&self, address: IpAddr) -> Result<(), u64> {
        let blocked_until_ms = self.blocked_until_ms.load(Ordering::Acquire);
        // Until an address has been blocked, not even the clock is read.
        if blocked_until_ms == 0 || self.millis_at(Instant::now()) > blocked_until_ms {
            return Ok(());
        }
        match self.blocked.get(&address) {
            Some(until) => {
                let now = Instant::now();
                if until > now {
                    Err(seconds_ceil(until - now))
                } else {
                    Ok(())
                }
            }
            None => Ok(()),
        }
    }

    /// Spends one failure; `Err(seconds)` when that was one too many.
    pub fn record_failure(&self, address: IpAddr) -> Result<(), u64> {
        match self.limiter.check_key(&address) {
            Ok(()) => Ok(()),
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.now());
                let until = Instant::now() + wait;
                self.blocked.insert(address, until);
                // Rounded up, so the fast path never lets a blocked address through early.
                let until_ms = self.millis_at(until).saturating_add(1);
                self.blocked_until_ms.fetch_max(until_ms, Ordering::AcqRel);
                Err(seconds_ceil(wait))
            }
        }
    }

    /// Forgets addresses whose budget is full again (called from the background task).
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

pub(crate) fn seconds_ceil(duration: Duration) -> u64 {
    let rounded_up = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
    rounded_up.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_burst_is_clamped_instead_of_overflowing() {
        // With a refill of a year, the limiter can hold a burst of only about 292 failures
        // (u64::MAX / 2 nanoseconds); u32::MAX is clamped to that, and spending it still
        // blocks the address for a finite time, at most one refill.
        let refill = Duration::from_secs(365 * 24 * 60 * 60);
        let most = u64::MAX / 2 / u64::try_from(refill.as_nanos()).unwrap();
        let throttle = FailureThrottle::new(u32::MAX, refill, Default::default());
        let address = IpAddr::from([127, 0, 0, 1]);
        let mut spent = 0;
        let retry_after = loop {
            match throttle.record_failure(address) {
                Ok(()) => spent += 1,
                Err(retry_after) => break retry_after,
            }
            assert!(spent <= most, "{spent} failures and still not blocked");
        };
        assert_eq!(
            spent, most,
            "the burst is clamped to the most the limiter holds"
        );
        assert!(
            (1..=refill.as_secs()).contains(&retry_after),
            "Retry-After {retry_after}"
        );
        assert!(throttle.check(address).is_err());
    }

    #[test]
    fn the_burst_is_allowed_then_the_address_is_blocked() {
        let throttle = FailureThrottle::new(3, Duration::from_secs(60), Default::default());
        let address: IpAddr = [10, 0, 0, 1].into();
        let other: IpAddr = [10, 0, 0, 2].into();
        for _ in 0..3 {
            assert!(throttle.record_failure(address).is_ok());
            assert!(throttle.check(address).is_ok());
        }
        let retry_after = throttle.record_failure(address).unwrap_err();
        assert!((1..=60).contains(&retry_after), "{retry_after}");
        assert!(throttle.check(address).is_err());
        assert!(throttle.check(other).is_ok());
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(seconds_ceil(Duration::from_millis(1)), 1);
        assert_eq!(seconds_ceil(Duration::from_secs(2)), 2);
        assert_eq!(seconds_ceil(Duration::from_millis(2001)), 3);
        assert_eq!(seconds_ceil(Duration::ZERO), 1);
    }
}
