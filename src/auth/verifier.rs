//! The hot path: parse and checksum, HMAC, a bounded in-process cache, storage on a miss.
//! Nothing here writes. A revocation (key deleted, owner removed from the tenant) empties the
//! cache at once; a generation counter keeps a lookup that raced the revocation from putting
//! the revoked grant back. The cache holds about `--key-cache-capacity` grants (quick_cache's
//! capacity is approximate) and each for at most 10 minutes.
//!
//! Every refusal after the checksum — a key unknown or deleted, expired, rotated past its
//! overlap, or sent with another tenant's id — takes one path: the cache, then storage, then a
//! verdict. A cached grant that is refused is looked up again rather than refused from the
//! cache, so the time of a refusal does not tell a live key from a dead one. (Caching refusals
//! instead would not do: an attacker's fresh made-up key always misses, and such a cache could
//! be filled with garbage. Refusals are rare and the per-address throttle bounds them.)
//!
//! The verdict is [`KeyCheck::Refused`] for all of them but one: a value whose digest matched
//! a key that has expired, or a value a rotation superseded whose overlap is over, is
//! [`KeyCheck::Expired`], so the answer can say so and name its preview. That tells the caller
//! nothing new: only who holds the real value can present it. It still took the same path
//! (storage was asked), so its time tells nothing either.
//!
//! A value a rotation superseded is granted with its overlap's end as its expiry, so a cached
//! grant of it stops working at that moment on every instance without any announcement.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::auth::api_key::{ApiKey, Hasher};
use crate::coarse_clock::{CoarseClock, Stamped};
use crate::domain::{Digest, TenantId, Timestamp};
use crate::metrics::Metrics;
use crate::store::{KeyGrant, Store, StoreResult};

/// The verdict on a presented key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyCheck {
    Valid(KeyGrant),
    /// Wrong shape or checksum: refused without touching storage.
    Malformed,
    /// Past the checksum but no good for this request: unknown, deleted, or issued for
    /// another tenant than the one asked for. One verdict, so no answer tells them apart.
    Refused,
    /// The value is a real key's, but the key expired, or a rotation superseded the value and
    /// its overlap is over (`rotated_until` in the grant): the grant says which, and when.
    Expired(KeyGrant),
}

/// How long a grant is served from the cache before storage is asked again, in ticks.
const KEY_CACHE_TTL: u32 = CoarseClock::ticks_in(Duration::from_secs(10 * 60));

/// How far a key gets without storage.
enum Lookup {
    Malformed,
    Cached(Digest, KeyGrant),
    Uncached(Digest),
}

/// Whether a grant lets its key in for `tenant` (the key's own tenant when `None`).
fn admits(grant: &KeyGrant, tenant: Option<TenantId>) -> bool {
    !expired(grant, Timestamp::now()) && tenant.is_none_or(|tenant| tenant == grant.tenant_id)
}

/// Whether the presented value no longer works at `now`: the key's expiry, or the end of a
/// superseded value's overlap (the grant's `expires_at` is the sooner of the two). O(1) on the
/// grant, so a cached grant ends on time on every instance with no announcement.
fn expired(grant: &KeyGrant, now: Timestamp) -> bool {
    grant.expires_at.is_some_and(|at| at <= now)
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

    /// The verdict on a key used in its own tenant.
    pub async fn verify(&self, presented: &str) -> StoreResult<KeyCheck> {
        self.verify_for(presented, None).await
    }

    /// The verdict on a key presented with `tenant` (`manywhotenant`, when sent): a key is
    /// valid only for its own tenant.
    pub async fn verify_for(
        &self,
        presented: &str,
        tenant: Option<TenantId>,
    ) -> StoreResult<KeyCheck> {
        let digest = match self.look_up(presented) {
            Lookup::Malformed => {
                Metrics::bump(&self.metrics.key_checksum_rejections);
                return Ok(KeyCheck::Malformed);
            }
            Lookup::Cached(_, grant) if admits(&grant, tenant) => {
                Metrics::bump(&self.metrics.key_cache_hits);
                return Ok(KeyCheck::Valid(grant));
            }
            // Refused from the cache, this would be quicker than a refusal of a key that is
            // not cached: ask storage, as for that one.
            Lookup::Cached(digest, _) | Lookup::Uncached(digest) => digest,
        };
        match self.lookup(digest).await? {
            Some(grant) if admits(&grant, tenant) => Ok(KeyCheck::Valid(grant)),
            Some(grant) if expired(&grant, Timestamp::now()) => Ok(KeyCheck::Expired(grant)),
            _ => Ok(KeyCheck::Refused),
        }
    }

    /// The grant of a valid, unexpired key that the cache holds, without asking storage and
    /// without counting anything: `None` leaves the verdict to [`KeyVerifier::verify`]. (The
    /// caller counts the cache hit if it answers with the grant.)
    pub fn verify_cached(&self, presented: &str) -> Option<KeyGrant> {
        match self.look_up(presented) {
            Lookup::Cached(_, grant) if admits(&grant, None) => Some(grant),
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
            Some(grant) => Lookup::Cached(digest, grant),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Email, KeyId, KeyName, Role, TenantName, UserId};
    use crate::store::{NewKey, NewUser, StoreConfig};

    /// A superseded value's grant, as storage gives it and the cache keeps it, works until the
    /// end of its overlap and not a moment later, and then reads as ended by its rotation;
    /// the key's own expiry, when sooner, ends it as an expiry instead.
    #[test]
    fn a_superseded_values_grant_ends_with_its_overlap() {
        let now = Timestamp::now();
        let hour = Duration::from_secs(3_600);
        let until = now.plus(hour);
        let grant = KeyGrant {
            key_id: KeyId::generate(),
            user_id: UserId::generate(),
            tenant_id: crate::domain::TenantId::generate(),
            expires_at: Some(until),
            preview: "kf_…old1".into(),
            rotated_until: Some(until),
            scopes: Default::default(),
            allowed_networks: Default::default(),
        };
        assert!(!expired(&grant, now));
        assert!(!expired(&grant, now.plus(hour - Duration::from_micros(1))));
        assert!(expired(&grant, until));
        assert!(grant.ends_by_rotation());
        let sooner = KeyGrant {
            expires_at: Some(now.plus(Duration::from_secs(60))),
            ..grant.clone()
        };
        assert!(expired(&sooner, now.plus(Duration::from_secs(60))));
        assert!(!sooner.ends_by_rotation(), "the key expired first");
        let current = KeyGrant {
            expires_at: None,
            rotated_until: None,
            ..grant
        };
        assert!(!expired(&current, now.plus(hour * 1000)));
    }

    /// README: "a cached key is looked up again after 10 minutes", the backstop for a change
    /// no revocation announced. The clock is advanced here as the background task advances it
    /// every ten seconds (`control::age_caches`), but without waiting, and by no one else.
    #[tokio::test]
    async fn a_cached_key_is_looked_up_again_after_ten_minutes() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::open(&StoreConfig::in_data_dir(dir.path()))
            .await
            .unwrap();
        let tenant = store
            .create_tenant(&TenantName::parse("Aged").unwrap())
            .await
            .unwrap()
            .id;
        let admin = UserId::generate();
        let user = NewUser {
            id: admin,
            email: Email::parse("aged@example.com").unwrap(),
            first_name: None,
            last_name: None,
            password_hash: Some("$argon2id$stand-in".into()),
        };
        store
            .create_user(user, tenant, Role::Administrator)
            .await
            .unwrap();
        let hasher = Hasher::new(&secrecy::SecretBox::new(Box::new([1; 32])));
        let key = ApiKey::generate();
        store
            .insert_key(NewKey {
                id: KeyId::generate(),
                user_id: admin,
                tenant_id: tenant,
                name: KeyName::parse("aged").unwrap(),
                digest: hasher.digest(key.expose()),
                preview: key.preview(),
                sealed: None,
                created_at: Timestamp::now(),
                expires_at: None,
                scopes: Default::default(),
                allowed_networks: Default::default(),
            })
            .await
            .unwrap();
        let metrics = Arc::new(Metrics::default());
        let verifier = KeyVerifier::new(hasher, 100, store.clone(), metrics.clone());
        let key = key.expose();
        assert!(matches!(verifier.verify(key).await, Ok(KeyCheck::Valid(_))));

        // The row goes behind the cache's back: no revocation, so the cache keeps the grant.
        let record = store.keys_of_user(admin).await.unwrap().remove(0);
        assert!(store.delete_key(admin, record.id).await.unwrap());
        let lookups = || metrics.key_store_lookups.load(Ordering::Relaxed);
        let before = lookups();
        for _ in 1..KEY_CACHE_TTL {
            verifier.tick();
        }
        assert_eq!(KEY_CACHE_TTL, 60, "ten minutes of ten-second ticks");
        assert!(
            matches!(verifier.verify(key).await, Ok(KeyCheck::Valid(_))),
            "a moment short of ten minutes, the cached grant still answers"
        );
        assert_eq!(lookups(), before, "answered from the cache");

        verifier.tick();
        assert_eq!(verifier.verify(key).await.unwrap(), KeyCheck::Refused);
        assert_eq!(lookups(), before + 1, "looked up again");
    }
}
