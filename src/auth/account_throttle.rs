//! Throttles password guesses per account, whatever address they come from: the per-address
//! budget (`crate::auth::throttle`) cannot stop many addresses guessing one account. Each
//! account (a digest of the normalized email; unknown emails too, so a refusal never tells
//! whether an account exists) has a budget of failures; past it, every further attempt starts
//! a delay, doubling from the first delay up to a cap, during which the account's sign-ins are
//! answered 429 with `Retry-After`, right password included. A right password resets it.
//!
//! So that an attacker cannot keep the owner out, an address that has signed in to the account
//! before (in this instance, within [`TRUSTED_FOR`]) is still let through during the delay,
//! for at most [`TRUSTED_GRACE`] failures until its next success. Everything is in memory, per
//! instance, bounded by [`ACCOUNTS_KEPT`] accounts.
//!
//! Hand-written over a `quick_cache` map rather than governor: governor's GCRA refills at a
//! steady rate and has no growing delay, nor a way to exempt an address.

use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::auth::api_key::Hasher;
use crate::auth::throttle::seconds_ceil;
use crate::domain::{Digest, Email};
use crate::metrics::Metrics;

/// The account is in its delay after failed sign-ins: no password is checked for it until the
/// delay ends (the edge answers 429 with `Retry-After`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many failed sign-ins for this account; try again in {retry_after_secs} s")]
pub struct AccountDelayed {
    pub retry_after_secs: u64,
}

/// Accounts remembered at most (about: quick_cache's bound is approximate). One that is
/// evicted starts again with its whole budget; evicting one takes this many failed sign-ins
/// for other names, which the per-address budget slows down, and quick_cache keeps an entry
/// that is used often (the account under attack) longer than ones used once.
pub const ACCOUNTS_KEPT: usize = 100_000;
/// A count of failures is forgotten after this long without an attempt (when no delay runs).
pub const FORGET_AFTER: Duration = Duration::from_secs(24 * 60 * 60);
/// How long a successful sign-in from an address makes it trusted for the account.
pub const TRUSTED_FOR: Duration = Duration::from_secs(30 * 24 * 60 * 60);
/// Failures a trusted address may make during a delay before it waits like any other.
pub const TRUSTED_GRACE: u8 = 3;
/// Trusted addresses remembered per account, the most recent kept.
const TRUSTED_PER_ACCOUNT: usize = 4;

/// The per-account failure budgets and delays.
pub struct AccountThrottle {
    free_failures: u32,
    first_delay: Duration,
    max_delay: Duration,
    hasher: Hasher,
    accounts: quick_cache::sync::Cache<Digest, Arc<Mutex<Account>>>,
    metrics: Arc<Metrics>,
}

/// What is known of one account.
struct Account {
    /// Attempts since the last success. An attempt is charged when it starts, not when it
    /// fails, so guesses sent all at once cannot slip past the budget together.
    spent: u32,
    /// While `now` is before it, addresses that are not trusted are refused.
    delayed_until: Option<Instant>,
    last_attempt: Instant,
    trusted: Vec<Trusted>,
}

/// An address that signed in to the account.
struct Trusted {
    address: IpAddr,
    signed_in_at: Instant,
    /// Attempts it made during a delay since it last signed in.
    failures: u8,
}

/// A sign-in attempt the throttle let through; pass it to [`AccountThrottle::succeeded`] if the
/// password was right. (Dropping it leaves the attempt counted as a failure.)
#[must_use]
#[derive(Debug)]
pub struct Attempt {
    account: Digest,
    address: IpAddr,
}

impl AccountThrottle {
    /// `free_failures` attempts without a success are free; the next starts `first_delay`,
    /// each one after doubles it, up to `max_delay`.
    pub fn new(
        free_failures: u32,
        first_delay: Duration,
        max_delay: Duration,
        hasher: Hasher,
        metrics: Arc<Metrics>,
    ) -> Self {
        let max_delay = max_delay.max(Duration::from_millis(1));
        Self {
            free_failures,
            first_delay: first_delay.clamp(Duration::from_millis(1), max_delay),
            max_delay,
            hasher,
            accounts: quick_cache::sync::Cache::new(ACCOUNTS_KEPT),
            metrics,
        }
    }

    /// Starts a password check of `username` from `address`: 429 while the account is in its
    /// delay (unless the address is trusted), else the attempt, already counted as a failure.
    pub fn begin(&self, username: &str, address: IpAddr) -> Result<Attempt, AccountDelayed> {
        let account = self.account_of(username);
        self.begin_at(account, address, Instant::now())
            .map_err(|retry_after_secs| {
                Metrics::bump(&self.metrics.account_throttled);
                AccountDelayed { retry_after_secs }
            })
    }

    /// The password was right: the account's count starts again and the address is trusted.
    pub fn succeeded(&self, attempt: Attempt) {
        self.succeeded_at(attempt, Instant::now());
    }

    /// The key an account is remembered under: a digest of its normalized email (or of the
    /// name as typed, lower-cased, when it is not an email), so the memory an entry takes does
    /// not grow with what a client sends, and no email is kept in memory.
    fn account_of(&self, username: &str) -> Digest {
        match Email::parse(username) {
            Ok(email) => self.hasher.digest(email.as_str()),
            Err(_) => self.hasher.digest(&username.trim().to_lowercase()),
        }
    }

    fn entry(&self, account: Digest, now: Instant) -> Arc<Mutex<Account>> {
        let created = || {
            Ok::<_, std::convert::Infallible>(Arc::new(Mutex::new(Account {
                spent: 0,
                delayed_until: None,
                last_attempt: now,
                trusted: Vec::new(),
            })))
        };
        match self.accounts.get_or_insert_with(&account, created) {
            Ok(entry) => entry,
        }
    }

    /// `Err(seconds)` while `address` must wait.
    fn begin_at(&self, account: Digest, address: IpAddr, now: Instant) -> Result<Attempt, u64> {
        let entry = self.entry(account, now);
        let mut record = entry.lock().unwrap_or_else(PoisonError::into_inner);
        let delayed = record.delayed_until.filter(|until| *until > now);
        if delayed.is_none() && now.saturating_duration_since(record.last_attempt) >= FORGET_AFTER {
            record.spent = 0;
        }
        if let Some(until) = delayed {
            // Only a trusted address with grace left goes on, spending one of it.
            let trusted = record.trusted.iter_mut().find(|trusted| {
                trusted.address == address
                    && now.saturating_duration_since(trusted.signed_in_at) < TRUSTED_FOR
                    && trusted.failures < TRUSTED_GRACE
            });
            match trusted {
                Some(trusted) => trusted.failures += 1,
                None => return Err(seconds_ceil(until - now)),
            }
        }
        record.spent = record.spent.saturating_add(1);
        record.last_attempt = now;
        if let Some(over) = record
            .spent
            .checked_sub(self.free_failures)
            .filter(|&n| n > 0)
        {
            let until = now + self.delay(over);
            record.delayed_until = Some(record.delayed_until.map_or(until, |u| u.max(until)));
        }
        Ok(Attempt { account, address })
    }

    fn succeeded_at(&self, attempt: Attempt, now: Instant) {
        let entry = self.entry(attempt.account, now);
        let mut record = entry.lock().unwrap_or_else(PoisonError::into_inner);
        record.spent = 0;
        record.delayed_until = None;
        record
            .trusted
            .retain(|trusted| trusted.address != attempt.address);
        if record.trusted.len() == TRUSTED_PER_ACCOUNT {
            // The least recently used address makes room.
            record.trusted.remove(0);
        }
        record.trusted.push(Trusted {
            address: attempt.address,
            signed_in_at: now,
            failures: 0,
        });
    }

    /// The delay the `over`-th attempt past the free ones starts: the first delay doubled
    /// `over - 1` times, at most the cap.
    fn delay(&self, over: u32) -> Duration {
        let doublings = (over - 1).min(31);
        self.first_delay
            .saturating_mul(1 << doublings)
            .min(self.max_delay)
    }
}

#[cfg(test)]
mod tests {
    use secrecy::SecretBox;

    use super::*;

    const FIRST: Duration = Duration::from_secs(1);
    const CAP: Duration = Duration::from_secs(15 * 60);

    fn throttle(free: u32) -> AccountThrottle {
        let hasher = Hasher::new(&SecretBox::new(Box::new([1u8; 32])));
        AccountThrottle::new(free, FIRST, CAP, hasher, Default::default())
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
    }

    #[test]
    fn the_free_failures_pass_then_each_attempt_starts_a_doubling_delay_up_to_the_cap() {
        let throttle = throttle(3);
        let account = throttle.account_of("victim@example.com");
        let mut now = Instant::now();
        for n in 0..3u8 {
            assert!(throttle.begin_at(account, ip(n), now).is_ok());
        }
        // The fourth attempt is checked but starts a 1 s delay for every address.
        assert!(throttle.begin_at(account, ip(9), now).is_ok());
        assert_eq!(throttle.begin_at(account, ip(10), now).err(), Some(1));
        let mut expected = FIRST;
        for _ in 0..15 {
            now += expected;
            assert!(throttle.begin_at(account, ip(11), now).is_ok());
            expected = (expected * 2).min(CAP);
            let waited = throttle.begin_at(account, ip(12), now).unwrap_err();
            assert_eq!(waited, expected.as_secs());
        }
        assert_eq!(expected, CAP, "the delay stopped growing at the cap");
    }

    #[test]
    fn other_accounts_are_not_delayed_and_case_or_spaces_do_not_make_another_account() {
        let throttle = throttle(1);
        let now = Instant::now();
        let victim = throttle.account_of("Victim@Example.com ");
        assert_eq!(victim, throttle.account_of("victim@example.com"));
        for _ in 0..2 {
            let _ = throttle.begin_at(victim, ip(1), now);
        }
        assert!(throttle.begin_at(victim, ip(2), now).is_err());
        let other = throttle.account_of("other@example.com");
        assert!(throttle.begin_at(other, ip(2), now).is_ok());
        // A name that is not an email is counted like any other.
        let odd = throttle.account_of("not an email");
        for _ in 0..2 {
            let _ = throttle.begin_at(odd, ip(1), now);
        }
        assert!(throttle.begin_at(odd, ip(2), now).is_err());
    }

    #[test]
    fn a_success_resets_the_count_and_the_delay() {
        let throttle = throttle(2);
        let account = throttle.account_of("a@example.com");
        let now = Instant::now();
        for _ in 0..3 {
            let _ = throttle.begin_at(account, ip(1), now);
        }
        assert!(throttle.begin_at(account, ip(1), now).is_err());
        let later = now + FIRST;
        let attempt = throttle.begin_at(account, ip(1), later).unwrap();
        throttle.succeeded_at(attempt, later);
        for _ in 0..2 {
            assert!(throttle.begin_at(account, ip(2), later).is_ok());
        }
    }

    #[test]
    fn a_trusted_address_gets_through_a_delay_for_its_grace_only() {
        let throttle = throttle(1);
        let account = throttle.account_of("owner@example.com");
        let now = Instant::now();
        let (owner, laptop) = (ip(1), ip(2));
        for address in [owner, laptop] {
            let attempt = throttle.begin_at(account, address, now).unwrap();
            throttle.succeeded_at(attempt, now);
        }
        // An attacker elsewhere starts a delay.
        for _ in 0..2 {
            let _ = throttle.begin_at(account, ip(66), now);
        }
        assert!(throttle.begin_at(account, ip(66), now).is_err());
        for _ in 0..TRUSTED_GRACE {
            assert!(throttle.begin_at(account, owner, now).is_ok());
        }
        assert!(
            throttle.begin_at(account, owner, now).is_err(),
            "grace spent"
        );
        // Trust lapses: the laptop, whose grace is whole, waits like anyone after 30 days.
        let much_later = now + TRUSTED_FOR;
        for _ in 0..2 {
            let _ = throttle.begin_at(account, ip(66), much_later);
        }
        assert!(throttle.begin_at(account, ip(66), much_later).is_err());
        assert!(throttle.begin_at(account, laptop, much_later).is_err());
    }

    #[test]
    fn a_quiet_day_forgets_the_failures() {
        let throttle = throttle(2);
        let account = throttle.account_of("a@example.com");
        let now = Instant::now();
        for _ in 0..2 {
            let _ = throttle.begin_at(account, ip(1), now);
        }
        let tomorrow = now + FORGET_AFTER;
        for _ in 0..2 {
            assert!(throttle.begin_at(account, ip(1), tomorrow).is_ok());
        }
    }
}
