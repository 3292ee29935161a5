//! The server's shared state: what every handler, extractor and background task can reach,
//! and the narrow views of it that the rules (`keys()`, `members()`, `sign_in()`) and the
//! edge's extractors (`Authenticator`, `BodyLimit`) take instead of all of it.

use std::ops::Deref;
use std::sync::Arc;

use crate::auth::account_throttle::AccountThrottle;
use crate::auth::api_key::{Hasher, Sealer};
use crate::auth::rate_limit::RateLimit;
use crate::auth::throttle::FailureThrottle;
use crate::auth::usage::{self, UsageReceiver};
use crate::auth::verifier::KeyVerifier;
use crate::config::ServeConfig;
use crate::http::extract::Authenticator;
use crate::http::json::BodyLimit;
use crate::http::limits::InFlight;
use crate::http::request_body::{BodyBudget, BodyReader};
use crate::http::scope::{client_address, current_request_id};
use crate::metrics::Metrics;
use crate::read_cache::ReadCache;
use crate::rules::audit::Origin;
use crate::rules::keys::Keys;
use crate::rules::leaks::Leaks;
use crate::rules::members::Members;
use crate::rules::refusals::Refusals;
use crate::rules::shares::Shares;
use crate::rules::sign_in::SignIn;
use crate::secrets::Secrets;
use crate::store::Store;

/// What every handler can reach. Cloning is one reference count.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub store: Arc<dyn Store>,
    /// Digests under the pepper: of keys, tokens, sessions, password links, CSRF tokens.
    pub(crate) hasher: Hasher,
    pub(crate) verifier: KeyVerifier,
    pub(crate) throttle: FailureThrottle,
    pub(crate) account_throttle: AccountThrottle,
    pub(crate) sealer: Sealer,
    /// Answers to authenticated reads (`api::cached_reads` fills and serves it).
    pub(crate) reads: ReadCache,
    /// The requests being served, bounded by `--max-in-flight` (the request service's; here so
    /// tests can hold slots).
    pub in_flight: Arc<InFlight>,
    /// How request bodies are read, with the bytes of those being received at once.
    pub bodies: Arc<BodyReader>,
    pub(crate) config: ServeConfig,
    pub metrics: Arc<Metrics>,
    /// Refused credentials counted until the next flush to the audit trail
    /// (`control::audit_upkeep`).
    pub(crate) refusals: Refusals,
    /// Leak reports per address (each report spends one cell of the budget).
    pub(crate) leak_throttle: FailureThrottle,
    /// Runs started without a credential (public flows) per address: each start spends one
    /// cell, so nobody can fill the store with states at the speed of the network.
    pub(crate) anonymous_starts: FailureThrottle,
}

impl Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    /// The bytes of answers the read cache holds, as weighed against `--read-cache-mib`.
    pub fn cached_read_bytes(&self) -> u64 {
        self.reads.weight()
    }

    /// The state over an opened store with loaded secrets, and the receiving end of its keys'
    /// uses, for the usage writer ([`crate::auth::usage::write`]) the server runs.
    pub(crate) fn new(
        config: ServeConfig,
        store: Arc<dyn Store>,
        secrets: &Secrets,
    ) -> (Self, UsageReceiver) {
        let metrics = Arc::new(Metrics::default());
        let (usage, usage_receiver) = usage::channel(metrics.clone());
        let default_rate = (config.key_requests_per_second > 0).then_some(RateLimit {
            per_second: config.key_requests_per_second,
            burst: config.key_burst.max(1),
        });
        let hasher = Hasher::new(&secrets.pepper);
        let account_throttle = AccountThrottle::new(
            config.account_failure_burst,
            config.account_failure_first_delay,
            config.account_failure_max_delay,
            hasher.clone(),
            metrics.clone(),
        );
        let verifier = KeyVerifier::new(
            hasher.clone(),
            config.key_cache_capacity,
            store.clone(),
            metrics.clone(),
        )
        .with_limits(default_rate, usage)
        .with_credential_capacity(config.credential_cache_capacity);
        let throttle = FailureThrottle::new(
            config.auth_failure_burst,
            config.auth_failure_refill,
            metrics.clone(),
        );
        let sealer = Sealer::new(&secrets.master_key);
        // Ten reports per address at once, one more every six seconds. Its own counters: a
        // report is no failed credential, and must not show as one in /metrics.
        let leak_throttle = FailureThrottle::new(
            10,
            std::time::Duration::from_secs(6),
            Arc::new(Metrics::default()),
        );
        // Its own counters too: a start is no failed credential.
        let anonymous_starts = FailureThrottle::new(
            config.anonymous_run_start_burst,
            std::time::Duration::from_secs(1),
            Arc::new(Metrics::default()),
        );
        let reads = ReadCache::new(config.read_cache_bytes);
        let in_flight = Arc::new(InFlight::new(config.max_in_flight));
        let bodies = Arc::new(BodyReader {
            limit_bytes: config.body_limit_bytes,
            anonymous_limit_bytes: config.anonymous_body_limit_bytes,
            timeout: config.body_timeout,
            budget: BodyBudget::new(config.max_in_flight.saturating_mul(config.body_limit_bytes)),
        });
        let state = Self(Arc::new(Shared {
            store,
            hasher,
            verifier,
            throttle,
            account_throttle,
            sealer,
            reads,
            in_flight,
            bodies,
            refusals: Refusals::default(),
            leak_throttle,
            anonymous_starts,
            config,
            metrics,
        }));
        (state, usage_receiver)
    }
}

impl AppState {
    /// The live instances this one shares each key's rate limit with, itself included.
    pub fn live_instances(&self) -> u32 {
        self.verifier.instances()
    }

    /// Drops every cached credential (keys, tokens, web sessions, memberships), as an
    /// announced revocation does: for a test that changes storage behind the server's back.
    pub fn forget_credentials(&self) {
        self.verifier.revoke_all();
    }
}

/// The audit trail's upkeep, run by `control::audit_upkeep` (and by tests, without waiting).
impl AppState {
    /// Writes the refused credentials counted so far; returns how many events it wrote.
    pub async fn flush_refusals(&self) -> anyhow::Result<usize> {
        Ok(self.refusals.flush(self.store.as_ref()).await?)
    }

    /// Prunes the events older than `retention` before `now`; returns how many.
    pub async fn prune_audit(
        &self,
        retention: std::time::Duration,
        now: crate::domain::Timestamp,
    ) -> anyhow::Result<u64> {
        Ok(crate::rules::audit::prune(self.store.as_ref(), retention, now).await?)
    }

    /// Deletes the states of running flows expired at `now` (`control::state_upkeep`, and
    /// tests with a clock of their own); returns how many.
    pub async fn prune_states(&self, now: crate::domain::Timestamp) -> anyhow::Result<u64> {
        Ok(crate::rules::run::expiry::prune(self.store.as_ref(), now).await?)
    }
}

/// The rules, over this server's store, secrets and settings.
impl AppState {
    pub(crate) fn keys(&self) -> Keys<'_> {
        Keys {
            store: self.store.as_ref(),
            hasher: &self.hasher,
            sealer: &self.sealer,
            reveal: self.config.key_reveal,
            revoker: &self.verifier,
            request_id: current_request_id(),
            address: Some(client_address()),
            default_rate_limit: self.verifier.default_rate(),
        }
    }

    /// Where the request being served came from, for the audit trail.
    pub(crate) fn origin(&self) -> Origin {
        Origin {
            address: Some(client_address()),
            request_id: Some(current_request_id()),
        }
    }

    pub(crate) fn leaks(&self) -> Leaks<'_> {
        Leaks {
            store: self.store.as_ref(),
            revoker: &self.verifier,
        }
    }

    pub(crate) fn members(&self) -> Members<'_> {
        Members {
            store: self.store.as_ref(),
            revoker: &self.verifier,
            origin: self.origin(),
        }
    }

    pub(crate) fn shares(&self) -> Shares<'_> {
        Shares {
            store: self.store.as_ref(),
            hasher: &self.hasher,
            origin: self.origin(),
        }
    }

    pub(crate) fn sign_in(&self) -> SignIn<'_> {
        SignIn {
            store: self.store.as_ref(),
            hasher: &self.hasher,
            throttle: &self.throttle,
            account_throttle: &self.account_throttle,
            token_ttl: self.config.token_ttl,
            origin: self.origin(),
            refusals: &self.refusals,
            revoker: &self.verifier,
        }
    }
}

impl Authenticator for AppState {
    fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    fn hasher(&self) -> &Hasher {
        &self.hasher
    }

    fn verifier(&self) -> &KeyVerifier {
        &self.verifier
    }

    fn throttle(&self) -> &FailureThrottle {
        &self.throttle
    }

    fn key_rules(&self) -> Keys<'_> {
        self.keys()
    }

    fn refusals(&self) -> &Refusals {
        &self.refusals
    }
}

impl BodyLimit for AppState {
    fn body_limit_bytes(&self) -> usize {
        self.config.body_limit_bytes
    }
}
