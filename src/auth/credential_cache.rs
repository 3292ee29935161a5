//! Sign-in credentials from a cache, as API keys are ([`crate::auth::verifier`]): the grants of
//! tokens (a password sign-in's, and those an API key obtained) and of web sessions, keyed by
//! the credential's peppered digest (never the secret), and the memberships a token reaches.
//!
//! What keeps it true:
//! - **Expiry** is checked on every use against the `now` the caller gives, so a cached grant
//!   past its end is never served. A cached grant that fails the check is looked up again
//!   rather than refused from the cache (an expiry that was moved later is then seen).
//! - **Revocation** drops entries: every write that ends a token or a session, or changes what
//!   it reaches (a password change, a sign-out, a membership removed or changed, a key deleted,
//!   rotated or capped), announces a [`crate::store::Change`], and the instance that hears it
//!   (`change_watch`) or made it (the rules' `Revoker`, the web pages) forgets. A generation
//!   counter keeps a lookup that raced the revocation from putting the old grant back.
//! - **Age**: each entry is looked up again after ten minutes, a backstop for a change that no
//!   announcement reached (as the key cache's).
//! - **Memory**: each of the three caches holds about `--credential-cache-capacity` entries
//!   (quick_cache's bound is approximate), evicting the least used.
//!
//! Only grants are cached, never refusals: a made-up token always misses, and a cache of
//! refusals could be filled with garbage. Memberships are cached only when they exist: adding
//! one (an invitation accepted, `keyflow user add`) announces nothing, and needs none.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use quick_cache::sync::Cache;

use crate::coarse_clock::{CoarseClock, Stamped};
use crate::domain::{Digest, Role, TenantId, Timestamp, UserId};
use crate::metrics::Metrics;
use crate::store::{SessionGrant, Store, StoreResult, TokenGrant};

/// How long a grant is served from the cache before storage is asked again, in ticks.
const TTL: u32 = CoarseClock::ticks_in(Duration::from_secs(10 * 60));

/// A member's role in a tenant and since when (what `Store::role_since` reads).
pub type RoleSince = (Role, Timestamp);

/// The cached grants of tokens and web sessions, and the memberships tokens reach.
pub struct CredentialCache {
    tokens: Cache<Digest, Stamped<TokenGrant>>,
    sessions: Cache<Digest, Stamped<SessionGrant>>,
    roles: Cache<(UserId, TenantId), Stamped<RoleSince>>,
    /// Raised by every revocation, before the caches are emptied: a lookup that read storage
    /// before it does not keep what it read.
    generation: AtomicU64,
    clock: CoarseClock,
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
}

impl CredentialCache {
    /// Caches of about `capacity` entries each.
    pub fn new(capacity: u64, store: Arc<dyn Store>, metrics: Arc<Metrics>) -> Self {
        let capacity = usize::try_from(capacity).unwrap_or(usize::MAX);
        Self {
            tokens: Cache::new(capacity),
            sessions: Cache::new(capacity),
            roles: Cache::new(capacity),
            generation: AtomicU64::new(0),
            clock: CoarseClock::default(),
            store,
            metrics,
        }
    }

    /// The grant of the token with this digest if it is live at `now`: from the cache, else
    /// from storage (and then cached). `None`: unknown, revoked, or expired.
    pub async fn token(&self, digest: Digest, now: Timestamp) -> StoreResult<Option<TokenGrant>> {
        let live = |grant: &TokenGrant| grant.expires_at > now;
        if let Some(grant) = self.peek(&self.tokens, &digest, live) {
            self.count_hits(1);
            return Ok(Some(grant));
        }
        let generation = self.before_lookup();
        let grant = self.store.token_by_digest(&digest).await?;
        Ok(self.keep(&self.tokens, digest, grant, generation, live))
    }

    /// The grant of the web session with this digest if it is live at `now`, as
    /// [`CredentialCache::token`].
    pub async fn session(
        &self,
        digest: Digest,
        now: Timestamp,
    ) -> StoreResult<Option<SessionGrant>> {
        let live = |grant: &SessionGrant| grant.expires_at > now;
        if let Some(grant) = self.peek(&self.sessions, &digest, live) {
            self.count_hits(1);
            return Ok(Some(grant));
        }
        let generation = self.before_lookup();
        let grant = self.store.session_by_digest(&digest).await?;
        Ok(self.keep(&self.sessions, digest, grant, generation, live))
    }

    /// The user's role in the tenant and since when, if they are a member.
    pub async fn role_since(
        &self,
        user: UserId,
        tenant: TenantId,
    ) -> StoreResult<Option<RoleSince>> {
        let key = (user, tenant);
        if let Some(role) = self.peek(&self.roles, &key, |_| true) {
            self.count_hits(1);
            return Ok(Some(role));
        }
        let generation = self.before_lookup();
        let role = self.store.role_since(user, tenant).await?;
        Ok(self.keep(&self.roles, key, role, generation, |_| true))
    }

    /// The live grant of the token with this digest if the cache holds it, without asking
    /// storage and without counting: for the early answer before routing, which counts the
    /// hits it used ([`CredentialCache::count_hits`]) only when it answers.
    pub fn cached_token(&self, digest: &Digest, now: Timestamp) -> Option<TokenGrant> {
        self.peek(&self.tokens, digest, |grant| grant.expires_at > now)
    }

    /// The user's role in the tenant and since when, if the cache holds it, as
    /// [`CredentialCache::cached_token`].
    pub fn cached_role(&self, user: UserId, tenant: TenantId) -> Option<RoleSince> {
        self.peek(&self.roles, &(user, tenant), |_| true)
    }

    /// Counts `hits` grants or memberships used from the cache by [`CredentialCache::cached_token`]
    /// and [`CredentialCache::cached_role`].
    pub fn count_hits(&self, hits: u64) {
        self.metrics
            .credential_cache_hits
            .fetch_add(hits, Ordering::Relaxed);
    }

    /// Forgets every cached grant and membership: the next use of each asks storage.
    pub fn forget_all(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.tokens.clear();
        self.sessions.clear();
        self.roles.clear();
    }

    /// Forgets one web session (signed out here; other instances hear the announcement).
    pub fn forget_session(&self, digest: &Digest) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.sessions.remove(digest);
    }

    /// One tick of the clock that ages the entries (the background task's).
    pub fn tick(&self) {
        self.clock.advance();
    }

    /// A fresh cached value that `usable` accepts, not counted.
    fn peek<K, V>(
        &self,
        cache: &Cache<K, Stamped<V>>,
        key: &K,
        usable: impl Fn(&V) -> bool,
    ) -> Option<V>
    where
        K: Eq + std::hash::Hash + Clone,
        V: Clone,
    {
        cache
            .get(key)
            .and_then(|stamped| self.clock.fresh(stamped, TTL))
            .filter(|value| usable(value))
    }

    /// Counts a lookup in storage and notes the generation it starts in.
    fn before_lookup(&self) -> u64 {
        Metrics::bump(&self.metrics.credential_store_lookups);
        self.generation.load(Ordering::SeqCst)
    }

    /// Caches what storage said when it is usable (and only then: no refusal is cached), unless
    /// a revocation ran while storage was asked; returns it if usable.
    fn keep<K, V>(
        &self,
        cache: &Cache<K, Stamped<V>>,
        key: K,
        found: Option<V>,
        generation: u64,
        usable: impl Fn(&V) -> bool,
    ) -> Option<V>
    where
        K: Eq + std::hash::Hash + Clone,
        V: Clone,
    {
        let value = found.filter(|value| usable(value))?;
        cache.insert(key.clone(), self.clock.stamp(value.clone()));
        if self.generation.load(Ordering::SeqCst) != generation {
            cache.remove(&key);
        }
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Email, TenantName};
    use crate::store::{NewSession, NewToken, NewUser, StoreConfig};

    /// A store with one tenant and one member, and the member's id and tenant.
    async fn store_with_member() -> (Arc<dyn Store>, UserId, TenantId, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let config = StoreConfig::Sqlite {
            data_dir: dir.path().to_path_buf(),
        };
        let store = crate::store::open(&config).await.unwrap();
        let tenant = store
            .create_tenant(&TenantName::parse("cached").unwrap())
            .await
            .unwrap()
            .id;
        let user = UserId::generate();
        let new = NewUser {
            id: user,
            email: Email::parse("cached@example.com").unwrap(),
            first_name: None,
            last_name: None,
            password_hash: Some("$argon2id$stand-in".into()),
        };
        store
            .create_user(new, tenant, Role::Administrator)
            .await
            .unwrap();
        (store, user, tenant, dir)
    }

    fn digest(byte: u8) -> Digest {
        Digest::from_bytes([byte; 32])
    }

    /// A token cached while live is refused from the moment it expires, and so is a cached web session.
    #[tokio::test]
    async fn a_cached_token_or_session_past_its_expiry_is_refused() {
        let (store, user, tenant, _dir) = store_with_member().await;
        let now = Timestamp::now();
        let hour = Duration::from_secs(3_600);
        let until = now.plus(hour);
        store
            .insert_token(NewToken {
                digest: digest(1),
                user_id: user,
                tenant_id: tenant,
                created_at: now,
                signed_in_at: now,
                expires_at: until,
                key_id: None,
            })
            .await
            .unwrap();
        store
            .insert_session(NewSession {
                digest: digest(2),
                user_id: user,
                created_at: now,
                expires_at: until,
            })
            .await
            .unwrap();
        let metrics = Arc::new(Metrics::default());
        let cache = CredentialCache::new(100, store.clone(), metrics.clone());
        let lookups = || metrics.credential_store_lookups.load(Ordering::Relaxed);

        assert!(cache.token(digest(1), now).await.unwrap().is_some());
        assert!(cache.session(digest(2), now).await.unwrap().is_some());
        assert_eq!(lookups(), 2);
        let just_before = until.minus(Duration::from_micros(1));
        assert!(cache.token(digest(1), just_before).await.unwrap().is_some());
        assert!(
            cache
                .session(digest(2), just_before)
                .await
                .unwrap()
                .is_some()
        );
        assert_eq!(lookups(), 2, "answered from the cache");

        assert!(cache.token(digest(1), until).await.unwrap().is_none());
        assert!(cache.session(digest(2), until).await.unwrap().is_none());
        let later = until.plus(hour);
        assert!(cache.token(digest(1), later).await.unwrap().is_none());
        assert!(cache.session(digest(2), later).await.unwrap().is_none());
    }

    /// A revocation drops what was cached, and a lookup that raced it keeps nothing.
    #[tokio::test]
    async fn forgetting_drops_the_cached_grants_and_memberships() {
        let (store, user, tenant, _dir) = store_with_member().await;
        let now = Timestamp::now();
        let until = now.plus(Duration::from_secs(60));
        store
            .insert_session(NewSession {
                digest: digest(3),
                user_id: user,
                created_at: now,
                expires_at: until,
            })
            .await
            .unwrap();
        let metrics = Arc::new(Metrics::default());
        let cache = CredentialCache::new(100, store.clone(), metrics.clone());
        assert!(cache.session(digest(3), now).await.unwrap().is_some());
        assert!(cache.role_since(user, tenant).await.unwrap().is_some());

        // Deleted behind the cache's back: the cache still answers, until it forgets.
        store.delete_session(&digest(3)).await.unwrap();
        assert!(cache.session(digest(3), now).await.unwrap().is_some());
        cache.forget_session(&digest(3));
        assert!(cache.session(digest(3), now).await.unwrap().is_none());

        let other = UserId::generate();
        assert!(cache.role_since(other, tenant).await.unwrap().is_none());
        cache.forget_all();
        let lookups = metrics.credential_store_lookups.load(Ordering::Relaxed);
        assert!(cache.role_since(user, tenant).await.unwrap().is_some());
        assert_eq!(
            metrics.credential_store_lookups.load(Ordering::Relaxed),
            lookups + 1,
            "looked up again after forgetting"
        );

        // A lookup that began before a revocation does not put its grant back.
        let generation = cache.before_lookup();
        cache.forget_all();
        let kept = cache.keep(
            &cache.roles,
            (user, tenant),
            Some((Role::Standard, now)),
            generation,
            |_| true,
        );
        assert!(kept.is_some(), "the caller still gets its answer");
        assert!(
            cache.roles.get(&(user, tenant)).is_none(),
            "but it is not cached"
        );
    }
}
