//! The hot path: parse and checksum, HMAC, a bounded in-process cache, storage on a miss.
//! Nothing on it writes: a verified key's request is taken from its rate limit in memory
//! ([`KeyVerifier::charge`]), and its use handed, once a minute, to the usage writer. (The
//! instance's heartbeat, [`KeyVerifier::heartbeat`], writes, on its own timer.) A revocation
//! (key deleted, owner removed from the tenant) empties the cache at once; a generation counter
//! keeps a lookup that raced the revocation from putting the revoked grant back. The cache holds about `--key-cache-capacity` grants (quick_cache's
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

use std::net::IpAddr;
use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use crate::auth::api_key::{ApiKey, Hasher};
use crate::auth::credential_cache::CredentialCache;
use crate::auth::rate_limit::{KeyMeter, Meter, Quota, RateLimit, now_nanos};
use crate::auth::usage::{self, UsageSender};
use crate::coarse_clock::{CoarseClock, Stamped};
use crate::domain::{Digest, KeyId, TenantId, Timestamp};
use crate::metrics::Metrics;
use crate::store::{KeyGrant, Store, StoreResult};

/// A key's grant as the cache holds it: what storage said, and the key's meter (its rate
/// limit's bucket and its last recorded use), shared by every copy. It reads as the
/// [`KeyGrant`] it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub key: KeyGrant,
    pub meter: Meter,
}

impl Deref for Grant {
    type Target = KeyGrant;
    fn deref(&self) -> &KeyGrant {
        &self.key
    }
}

/// The verdict on a presented key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyCheck {
    Valid(Grant),
    /// Wrong shape or checksum: refused without touching storage.
    Malformed,
    /// Past the checksum but no good for this request: unknown, deleted, or issued for
    /// another tenant than the one asked for. One verdict, so no answer tells them apart.
    Refused,
    /// The value is a real key's, but the key expired, or a rotation superseded the value and
    /// its overlap is over (`rotated_until` in the grant): the grant says which, and when.
    Expired(KeyGrant),
}

/// How recently an instance must have said it is alive (every second: `control::heartbeat`)
/// for the others to count it: a stopped instance's share is taken up within about this
/// (at its graceful stop, at the others' next heartbeat), a new one's at their next heartbeat.
pub const LIVE_WITHIN: Duration = Duration::from_secs(3);
/// Rows of instances unseen for this long are deleted.
const FORGET_AFTER: Duration = Duration::from_secs(60);

/// Ticks of the coarse clock in a minute: a key's use is recorded once in each.
const MINUTE: u32 = CoarseClock::ticks_in(Duration::from_secs(60));

/// How long a grant is served from the cache before storage is asked again, in ticks.
const KEY_CACHE_TTL: u32 = CoarseClock::ticks_in(Duration::from_secs(10 * 60));

/// How far a key gets without storage.
enum Lookup {
    Malformed,
    Cached(Digest, Grant),
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
    cache: quick_cache::sync::Cache<Digest, Stamped<Grant>>,
    /// Each key's meter, kept apart from the grants so that dropping the grants (any
    /// revocation) neither refills a bucket nor records a use again within its minute; read
    /// only on a miss (and for a key-bound token).
    meters: quick_cache::sync::Cache<KeyId, Meter>,
    /// The rate limit of a key whose own and whose tenant's are unset; `None`: unlimited.
    default_rate: Option<RateLimit>,
    /// The live instances sharing each key's limit (1 on SQLite), kept by the heartbeat.
    instances: AtomicU32,
    /// This run's name among the instances sharing the database.
    instance: uuid::Uuid,
    usage: UsageSender,
    /// Ages the cached grants: each is looked up again after [`KEY_CACHE_TTL`], a backstop
    /// for a change that no revocation announced.
    clock: CoarseClock,
    generation: AtomicU64,
    /// The sign-in credentials' grants (tokens, web sessions) and the memberships tokens
    /// reach: kept here so that every revocation that reaches the key cache reaches them too.
    credentials: CredentialCache,
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
        let credentials = CredentialCache::new(capacity, store.clone(), metrics.clone());
        let capacity = usize::try_from(capacity).unwrap_or(usize::MAX);
        let cache = quick_cache::sync::Cache::new(capacity);
        // No writer until `with_limits` gives one: uses are dropped (and counted).
        let (usage, _) = usage::channel(metrics.clone());
        Self {
            hasher,
            cache,
            meters: quick_cache::sync::Cache::new(capacity),
            default_rate: None,
            instances: AtomicU32::new(1),
            instance: crate::domain::new_id(),
            usage,
            clock: CoarseClock::default(),
            generation: AtomicU64::new(0),
            credentials,
            store,
            metrics,
        }
    }

    /// The verifier with a credential cache of about `capacity` entries per kind
    /// (`--credential-cache-capacity`; [`KeyVerifier::new`] gives it the key cache's).
    pub fn with_credential_capacity(mut self, capacity: u64) -> Self {
        self.credentials = CredentialCache::new(capacity, self.store.clone(), self.metrics.clone());
        self
    }

    /// The cache of tokens', web sessions' and memberships' grants.
    pub fn credentials(&self) -> &CredentialCache {
        &self.credentials
    }

    /// The verifier with the server's default rate limit and the usage writer's channel.
    pub fn with_limits(mut self, default_rate: Option<RateLimit>, usage: UsageSender) -> Self {
        self.default_rate = default_rate;
        self.usage = usage;
        self
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
            Some(grant) if expired(&grant, Timestamp::now()) => Ok(KeyCheck::Expired(grant.key)),
            _ => Ok(KeyCheck::Refused),
        }
    }

    /// The grant of a valid, unexpired key that the cache holds, without asking storage and
    /// without counting anything: `None` leaves the verdict to [`KeyVerifier::verify`]. (The
    /// caller counts the cache hit if it answers with the grant.)
    pub fn verify_cached(&self, presented: &str) -> Option<Grant> {
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

    async fn lookup(&self, digest: Digest) -> StoreResult<Option<Grant>> {
        let generation = self.generation.load(Ordering::SeqCst);
        Metrics::bump(&self.metrics.key_store_lookups);
        let key = self.store.key_by_digest(&digest).await?;
        let grant = key.map(|key| Grant {
            meter: self.meter(key.key_id),
            key,
        });
        if let Some(grant) = &grant {
            self.cache.insert(digest, self.clock.stamp(grant.clone()));
            // A revocation that ran while storage was asked may have missed this entry.
            if self.generation.load(Ordering::SeqCst) != generation {
                self.cache.remove(&digest);
            }
        }
        Ok(grant)
    }

    /// The meter of a key (made on its first use).
    pub fn meter(&self, key: KeyId) -> Meter {
        let made = self
            .meters
            .get_or_insert_with(&key, || Ok::<_, std::convert::Infallible>(Meter::default()));
        made.unwrap_or_default()
    }

    /// A request with a verified key from `address`: records the key's first use in this
    /// coarse minute (handed to the usage writer, never waited for) and takes the request
    /// from its rate limit. `None`: the key has no limit. Lock-free, no allocation but the
    /// once-a-minute record, no storage.
    pub fn charge(
        &self,
        key: KeyId,
        meter: &KeyMeter,
        limit: (Option<i64>, Option<i64>),
        address: IpAddr,
    ) -> Option<Quota> {
        if meter.first_use_in(self.clock.ticks() / MINUTE) {
            self.usage.send(key, address);
        }
        let limit = RateLimit::from_columns(limit.0, limit.1).or(self.default_rate)?;
        let quota = meter.take(limit, self.instances.load(Ordering::Relaxed), now_nanos());
        if quota.retry_after_secs.is_some() {
            Metrics::bump(&self.metrics.rate_limited);
        }
        Some(quota)
    }

    /// [`KeyVerifier::charge`] for a cached or looked-up grant.
    pub fn charge_grant(&self, grant: &Grant, address: IpAddr) -> Option<Quota> {
        let limit = (grant.rate_per_second, grant.rate_burst);
        self.charge(grant.key_id, &grant.meter.0, limit, address)
    }

    /// The rate limit of a key whose own and whose tenant's are unset (`None`: unlimited).
    pub fn default_rate(&self) -> Option<RateLimit> {
        self.default_rate
    }

    /// The live instances that share each key's limit (the heartbeat's count; at least 1).
    pub fn set_instances(&self, live: u32) {
        self.instances.store(live.max(1), Ordering::Relaxed);
    }

    pub fn instances(&self) -> u32 {
        self.instances.load(Ordering::Relaxed)
    }

    /// Marks this instance alive in storage and takes its share from the live instances'
    /// count: those seen within [`LIVE_WITHIN`]. A store that cannot be reached keeps the
    /// share as it was.
    pub async fn heartbeat(&self) -> StoreResult<u32> {
        let now = Timestamp::now();
        let live = self
            .store
            .heartbeat(
                self.instance,
                now,
                now.minus(LIVE_WITHIN),
                now.minus(FORGET_AFTER),
            )
            .await?;
        self.set_instances(live);
        Ok(live)
    }

    /// Takes this instance out of the count (a graceful stop): the others take its share at
    /// their next heartbeat.
    pub async fn leave(&self) -> StoreResult<()> {
        self.store.leave(self.instance).await
    }

    /// One tick of the clock that ages the cached grants (the background task's).
    pub fn tick(&self) {
        self.clock.advance();
        self.credentials.tick();
    }

    /// How many keys' grants the cache holds (for `/metrics`).
    pub fn cached_grants(&self) -> u64 {
        self.cache.len() as u64
    }

    /// Counts a verification answered from the cache by [`KeyVerifier::verify_cached`].
    pub fn count_cache_hit(&self) {
        Metrics::bump(&self.metrics.key_cache_hits);
    }

    /// Forgets every cached grant, of keys and of sign-in credentials alike: the next check of
    /// each asks storage.
    pub fn revoke_all(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.cache.clear();
        self.credentials.forget_all();
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
            rate_per_second: None,
            rate_burst: None,
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
                rate_per_second: None,
                rate_burst: None,
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
