//! The hot path: parse and checksum, HMAC, a bounded in-process cache, storage on a miss.
//! Nothing here writes. A revocation (key deleted, owner removed from the tenant) empties the
//! cache at once; a generation counter keeps a lookup that raced the revocation from putting
//! the revoked grant back. The cache holds about `--key-cache-capacity` grants (quick_cache's
//! capacity is approximate) and each for at most 10 minutes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::auth::api_key::{ApiKey, Hasher};
use crate::coarse_clock::{CoarseClock, Stamped};
use crate::domain::Digest;
use crate::domain::Timestamp;
use crate::metrics::Metrics;
use crate::store::{KeyGrant, Store, StoreResult};

/// The verdict on a presented key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyCheck {
    Valid(KeyGrant),
    /// Wrong shape or checksum: refused without touching storage.
    Malformed,
    /// Well-formed but not issued here (or deleted).
    Unknown,
    Expired,
}

/// How long a grant is served from the cache before storage is asked again, in ticks.
const KEY_CACHE_TTL: u32 = CoarseClock::ticks_in(Duration::from_secs(10 * 60));

/// How far a key gets without storage.
enum Lookup {
    Malformed,
    Cached(KeyGrant),
    Uncached(Digest),
}

fn has_expired(grant: &KeyGrant) -> bool {
    grant.expires_at.is_some_and(|at| at <= Timestamp::now())
}

/// Verifies API keys against a cache in front of the store.
pub struct KeyVerifier {
    hasher: Hasher,
    /// quick_cache rather than moka: a hit here is a read lock and one atomic bit, where a
    /// moka hit also queues a read record, pins an epoch and may run housekeeping inline (about
    /// five times as long: `baseline/cache_get` and `baseline/moka_get` in docs/BENCHMARKS.md).
    cache: quick_cache::sync::Cache<Digest, Stamped<KeyGrant>>,
    /// Ages the cached grants: each is looked up again after [`KEY_CACHE_TTL`], a backstop
    /// for a change that no revocation announced.
    clock: CoarseClock,
    generation: AtomicU64,
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
}

impl KeyVerifier {
    pub fn new(
        hasher: Hasher,
        capacity: u64,
        store: Arc<dyn Store>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let capacity = usize::try_from(capacity).unwrap_or(usize::MAX);
        let cache = quick_cache::sync::Cache::new(capacity);
        Self {
            hasher,
            cache,
            clock: CoarseClock::default(),
            generation: AtomicU64::new(0),
            store,
            metrics,
        }
    }

    pub async fn verify(&self, presented: &str) -> StoreResult<KeyCheck> {
        let grant = match self.look_up(presented) {
            Lookup::Malformed => {
                Metrics::bump(&self.metrics.key_checksum_rejections);
                return Ok(KeyCheck::Malformed);
            }
            Lookup::Cached(grant) => {
                Metrics::bump(&self.metrics.key_cache_hits);
                grant
            }
            Lookup::Uncached(digest) => match self.lookup(digest).await? {
                Some(grant) => grant,
                None => return Ok(KeyCheck::Unknown),
            },
        };
        if has_expired(&grant) {
            return Ok(KeyCheck::Expired);
        }
        Ok(KeyCheck::Valid(grant))
    }

    /// The grant of a valid, unexpired key that the cache holds, without asking storage and
    /// without counting anything: `None` leaves the verdict to [`KeyVerifier::verify`]. (The
    /// caller counts the cache hit if it answers with the grant.)
    pub fn verify_cached(&self, presented: &str) -> Option<KeyGrant> {
        match self.look_up(presented) {
            Lookup::Cached(grant) if !has_expired(&grant) => Some(grant),
            _ => None,
        }
    }

    /// Shape and checksum, then the digest, then the cache.
    fn look_up(&self, presented: &str) -> Lookup {
        if ApiKey::check(presented).is_err() {
            return Lookup::Malformed;
        }
        let digest = self.hasher.digest(presented);
        let cached = self.cache.get(&digest);
        match cached.and_then(|stamped| self.clock.fresh(stamped, KEY_CACHE_TTL)) {
            Some(grant) => Lookup::Cached(grant),
            None => Lookup::Uncached(digest),
        }
    }

    async fn lookup(&self, digest: Digest) -> StoreResult<Option<KeyGrant>> {
        let generation = self.generation.load(Ordering::SeqCst);
        Metrics::bump(&self.metrics.key_store_lookups);
        let grant = self.store.key_by_digest(&digest).await?;
        if let Some(grant) = &grant {
            self.cache.insert(digest, self.clock.stamp(grant.clone()));
            // A revocation that ran while storage was asked may have missed this entry.
            if self.generation.load(Ordering::SeqCst) != generation {
                self.cache.remove(&digest);
            }
        }
        Ok(grant)
    }

    /// One tick of the clock that ages the cached grants (the background task's).
    pub fn tick(&self) {
        self.clock.advance();
    }

    /// Counts a verification answered from the cache by [`KeyVerifier::verify_cached`].
    pub fn count_cache_hit(&self) {
        Metrics::bump(&self.metrics.key_cache_hits);
    }

    /// Forgets every cached grant: the next check of each key asks storage.
    pub fn revoke_all(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.cache.clear();
    }
}
