//! Per-key rate limits: a GCRA (the "generic cell rate algorithm", a token bucket kept as one
//! number) in one atomic per key, so the hot path takes its decision lock-free, without
//! allocating and without storage.
//!
//! A key allows `per_second` requests a second with bursts of up to `burst`. Across instances
//! on one database each instance takes `1/N` of both, N being the live instances the
//! database knows (`store::InstanceStore::heartbeat`): the sum over instances stays within the
//! limit, whichever instance a balancer sends each request to.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Instant;

/// The most requests a second a key, a tenant or the server may allow (and the largest burst):
/// past it a limit means nothing on one machine, and the arithmetic below stays in `u64`.
pub const MAX_RATE: u32 = 1_000_000;

/// A key's rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub per_second: u32,
    pub burst: u32,
}

impl RateLimit {
    /// The limit from two stored columns, when both are set and within bounds.
    pub fn from_columns(per_second: Option<i64>, burst: Option<i64>) -> Option<RateLimit> {
        let within = |n: i64| u32::try_from(n).ok().filter(|n| (1..=MAX_RATE).contains(n));
        Some(RateLimit {
            per_second: within(per_second?)?,
            burst: within(burst?)?,
        })
    }

    /// Whether this limit is within `bound` (neither figure above it).
    pub fn within(&self, bound: RateLimit) -> bool {
        self.per_second <= bound.per_second && self.burst <= bound.burst
    }
}

/// What a request with a key learns of its limit: the `RateLimit-*` headers, and whether it
/// was let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// The most requests at once: this instance's share of the key's burst.
    pub limit: u32,
    /// The requests still allowed at once, after this one.
    pub remaining: u32,
    /// Whole seconds until `remaining` is back at `limit`.
    pub reset_secs: u32,
    /// Refused: whole seconds (at least 1) until a request would be let through.
    pub retry_after_secs: Option<u32>,
}

/// The state of one key's bucket and of its last recorded use, shared by every copy of its
/// grant (an `Arc`), so a cache hit clones a reference count and nothing more.
#[derive(Debug, Default)]
pub struct KeyMeter {
    /// The GCRA's "theoretical arrival time": nanoseconds since [`EPOCH`] at which the bucket
    /// is full again. Never before "now" in effect: an older value means full.
    tat: AtomicU64,
    /// The coarse minute (plus one; 0: never) in which the key's use was last handed to the
    /// usage writer ([`crate::auth::usage`]).
    recorded_minute: AtomicU32,
}

/// A shared handle on a [`KeyMeter`]. Grants compare equal whatever their meters hold: the
/// meter is state, not part of what the grant says.
#[derive(Debug, Clone, Default)]
pub struct Meter(pub Arc<KeyMeter>);

impl PartialEq for Meter {
    fn eq(&self, _: &Meter) -> bool {
        true
    }
}

impl Eq for Meter {}

/// The moment the meters count from (the process's first use of them).
static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

/// Nanoseconds since [`EPOCH`]: a read of the monotonic clock (vDSO, no system call).
pub fn now_nanos() -> u64 {
    u64::try_from(EPOCH.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

const NANOS: u64 = 1_000_000_000;

impl KeyMeter {
    /// Takes one request from the bucket at `now` (nanoseconds, [`now_nanos`]), this instance
    /// holding `share` of the `N` live instances' limit (`share` is N, at least 1).
    pub fn take(&self, limit: RateLimit, instances: u32, now: u64) -> Quota {
        let instances = u64::from(instances.max(1));
        let per_second = u64::from(limit.per_second.max(1));
        let burst = u64::from(limit.burst.max(1));
        // One request's worth of time at this instance's share of the rate, and the bucket's
        // depth in time: `burst` requests of the whole rate (so `burst / N` of the share).
        let interval = (NANOS * instances).div_ceil(per_second);
        let depth = burst * NANOS / per_second;
        let share_limit = u32::try_from((depth / interval).max(1)).unwrap_or(u32::MAX);
        let mut tat = self.tat.load(Ordering::Relaxed);
        loop {
            let next = tat.max(now) + interval;
            if next - now > depth.max(interval) {
                // Refused: the bucket would overflow. Nothing changes.
                let wait = next - now - depth.max(interval);
                return Quota {
                    limit: share_limit,
                    remaining: 0,
                    reset_secs: secs_up(tat.max(now) - now),
                    retry_after_secs: Some(secs_up(wait).max(1)),
                };
            }
            match self
                .tat
                .compare_exchange_weak(tat, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => {
                    let room = depth.max(interval) - (next - now);
                    return Quota {
                        limit: share_limit,
                        remaining: u32::try_from(room / interval).unwrap_or(u32::MAX),
                        reset_secs: secs_up(next - now),
                        retry_after_secs: None,
                    };
                }
                Err(current) => tat = current,
            }
        }
    }

    /// Whether the key's use in coarse `minute` is the first this meter sees in it: true at
    /// most once per minute, for one caller.
    pub fn first_use_in(&self, minute: u32) -> bool {
        let stamp = minute.wrapping_add(1);
        let seen = self.recorded_minute.load(Ordering::Relaxed);
        seen != stamp
            && self
                .recorded_minute
                .compare_exchange(seen, stamp, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
    }
}

fn secs_up(nanos: u64) -> u32 {
    u32::try_from(nanos.div_ceil(NANOS)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: RateLimit = RateLimit {
        per_second: 100,
        burst: 200,
    };

    /// How many requests at one moment get through.
    fn burst_at(meter: &KeyMeter, limit: RateLimit, instances: u32, now: u64) -> u32 {
        let mut let_through = 0;
        while meter.take(limit, instances, now).retry_after_secs.is_none() {
            let_through += 1;
            assert!(let_through <= limit.burst, "the bucket never empties");
        }
        let_through
    }

    #[test]
    fn a_burst_then_the_rate_and_headers_that_say_so() {
        let meter = KeyMeter::default();
        let start = 5 * NANOS;
        let first = meter.take(LIMIT, 1, start);
        assert_eq!(first.limit, 200);
        assert_eq!(first.remaining, 199);
        assert_eq!(first.retry_after_secs, None);
        assert_eq!(burst_at(&meter, LIMIT, 1, start), 199);
        let refused = meter.take(LIMIT, 1, start);
        assert_eq!(refused.remaining, 0);
        assert_eq!(refused.retry_after_secs, Some(1));
        assert_eq!(refused.reset_secs, 2, "two seconds to fill 200 at 100/s");
        // A second later, a second's worth (100) is back, and no more.
        assert_eq!(burst_at(&meter, LIMIT, 1, start + NANOS), 100);
    }

    #[test]
    fn over_ten_seconds_the_rate_holds_exactly_on_one_instance() {
        let meter = KeyMeter::default();
        let mut let_through = 0;
        // A request every millisecond (1000/s) for ten seconds.
        for ms in 0..10_000u64 {
            if meter
                .take(LIMIT, 1, ms * 1_000_000)
                .retry_after_secs
                .is_none()
            {
                let_through += 1;
            }
        }
        // The burst, then 100 a second for the ten seconds (the first millisecond included).
        assert!((1_199..=1_201).contains(&let_through), "{let_through}");
    }

    #[test]
    fn each_of_n_instances_takes_its_share() {
        for instances in [1u32, 2, 3, 4] {
            let meter = KeyMeter::default();
            assert_eq!(
                burst_at(&meter, LIMIT, instances, 0),
                200 / instances,
                "{instances} instances"
            );
            let mut let_through = 0u32;
            for ms in 1..=10_000u64 {
                if meter
                    .take(LIMIT, instances, ms * 1_000_000)
                    .retry_after_secs
                    .is_none()
                {
                    let_through += 1;
                }
            }
            let share = 1000 / instances;
            assert!(
                let_through.abs_diff(share) <= share / 100 + 1,
                "{instances} instances: {let_through} in 10 s, wanted {share}"
            );
        }
    }

    #[test]
    fn a_use_is_recorded_once_a_minute() {
        let meter = KeyMeter::default();
        assert!(meter.first_use_in(0));
        assert!(!meter.first_use_in(0));
        assert!(meter.first_use_in(1));
        assert!(!meter.first_use_in(1));
        assert!(meter.first_use_in(7));
    }

    #[test]
    fn stored_columns_read_only_within_bounds() {
        assert_eq!(RateLimit::from_columns(Some(100), Some(200)), Some(LIMIT));
        assert_eq!(RateLimit::from_columns(None, Some(200)), None);
        assert_eq!(RateLimit::from_columns(Some(0), Some(200)), None);
        assert_eq!(RateLimit::from_columns(Some(100), Some(2_000_000)), None);
        assert!(LIMIT.within(LIMIT));
        assert!(
            !RateLimit {
                per_second: 101,
                burst: 1
            }
            .within(LIMIT)
        );
    }
}
