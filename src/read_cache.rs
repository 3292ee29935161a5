//! Answers to authenticated reads, kept serialized in memory while what they read is unchanged:
//! a cached read costs no query and no JSON encoding. `api::cached_reads` decides which routes
//! are cached and fills and serves this cache after the credential has been checked; this
//! module only keeps answers and knows when one is still good.
//!
//! An answer is good while the generations it was filled under are current:
//!
//! - the global one, moved by anything this instance cannot place (a write request outside the
//!   tenant-confined routes, the command line through the control socket, a change it could not
//!   hear, a user's names, a password);
//! - its tenant's, moved by a write confined to that tenant, here or announced by another
//!   instance (tenants share 4,096 counters by hash: a collision costs a reload, never a stale
//!   answer);
//! - for an answer that depends on who asks ([`Depends::Viewer`]), the people's, moved by every
//!   change to members, keys, invitations, tenants, names or passwords anywhere;
//! - for the key list ([`Depends::ViewerKeyUse`]) also the keys' last use, moved after each batch
//!   of last uses is written.
//!
//! A load reads the generations before it reads the store ([`ReadCache::stamp`]), so a write
//! that commits while the load runs moves a generation past the stamp and the answer it left
//! is never served. Entries are weighed by their bytes and bounded by `--read-cache-mib`; an
//! entry is served for a minute at most, a backstop should a write ever go unannounced.
//!
//! A large answer's body is kept in the page cache too (`page_bodies`), and weighs twice.
//!
//! Beside the layers, it imports only `coarse_clock`, `page_bodies` and `domain`: it knows no
//! route.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::HeaderMap;

use crate::coarse_clock::CoarseClock;
use crate::domain::{KeyId, Scope, TenantId, Timestamp, UserId};
use crate::page_bodies::PageBody;

/// How long an answer is served from the cache at most, in ticks.
const ANSWER_TTL: u32 = CoarseClock::ticks_in(Duration::from_secs(60));

/// The cache's shards: each holds an eighth of `--read-cache-mib`, and an answer larger than
/// (nearly) one shard is not kept.
const SHARDS: usize = 8;

/// Tenants' generations, shared by hash.
const TENANT_COUNTERS: usize = 4096;

/// What an entry costs beyond its body, headers and path: the key, the stamp, the map's slot.
const ENTRY_OVERHEAD: u64 = 160;

/// What a cached answer depends on besides its tenant's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depends {
    /// Only the tenant's data: one answer for every caller in the tenant.
    Tenant,
    /// Who asks too (their own account, or a route only some members may read): one answer
    /// per [`Viewer`], dropped by any change to people.
    Viewer,
    /// As `Viewer`, and also the keys' last use (the key list shows it).
    ViewerKeyUse,
}

/// Who asks, as far as an answer that depends on it can tell: the user, the sign-in behind a
/// token (which tenants it reaches), and the key behind the credential (a key may not read
/// some answers a sign-in may).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Viewer {
    pub user: UserId,
    pub signed_in_at: Option<Timestamp>,
    pub key: Option<KeyId>,
}

/// What an answer is cached under: the tenant, who asks when it depends on it, and the path
/// with its query, as the client sent it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReadKey {
    tenant: TenantId,
    viewer: Option<Viewer>,
    target: Box<str>,
}

/// A [`ReadKey`] borrowing its path, for a lookup that allocates nothing. Hashes as the key
/// it equals (same fields, same order; a `&str` hashes as a `Box<str>`).
#[derive(Debug, Clone, Copy, Hash)]
pub struct ReadKeyRef<'a> {
    pub tenant: TenantId,
    pub viewer: Option<Viewer>,
    pub target: &'a str,
}

impl ReadKeyRef<'_> {
    pub fn to_owned(self) -> ReadKey {
        ReadKey {
            tenant: self.tenant,
            viewer: self.viewer,
            target: self.target.into(),
        }
    }
}

impl quick_cache::Equivalent<ReadKey> for ReadKeyRef<'_> {
    fn equivalent(&self, key: &ReadKey) -> bool {
        self.tenant == key.tenant && self.viewer == key.viewer && self.target == &*key.target
    }
}

/// A cached answer: a 200 with these headers and this body, and the scope a narrowed key needs
/// for the route it answers (None: any key), for the early answer, which looks it up before
/// routing.
#[derive(Debug)]
pub struct Answer {
    pub headers: HeaderMap,
    pub body: Bytes,
    pub scope: Option<Scope>,
    /// The headers as the early answer sends them (with those it adds to every answer), made
    /// on the answer's first early use rather than at every one.
    pub early_headers: OnceLock<HeaderMap>,
    /// A large body kept in the page cache too, while the answer is: connections send it from
    /// there without copying it.
    pages: Option<PageBody>,
}

impl Answer {
    pub fn new(headers: HeaderMap, body: Bytes, scope: Option<Scope>) -> Self {
        Self {
            pages: PageBody::keep(&body),
            headers,
            body,
            scope,
            early_headers: OnceLock::new(),
        }
    }

    /// The body's bytes in memory: twice its length when it is kept in the page cache too.
    fn body_bytes(&self) -> usize {
        self.body.len() * if self.pages.is_some() { 2 } else { 1 }
    }
}

/// The generations an answer was filled under, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    global: u64,
    tenant: u64,
    people: u64,
    key_use: u64,
    at: u32,
}

#[derive(Clone)]
struct Entry {
    stamp: Stamp,
    depends: Depends,
    answer: Arc<Answer>,
}

/// Weighs an entry by its bytes.
#[derive(Clone)]
struct ByBytes;

impl quick_cache::Weighter<ReadKey, Entry> for ByBytes {
    fn weight(&self, key: &ReadKey, entry: &Entry) -> u64 {
        let headers: usize = entry
            .answer
            .headers
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len() + 32)
            .sum();
        (entry.answer.body_bytes() + headers + key.target.len()) as u64 + ENTRY_OVERHEAD
    }
}

/// The answers, bounded by their total size, and the generations that say which are good.
pub struct ReadCache {
    answers: Option<quick_cache::sync::Cache<ReadKey, Entry, ByBytes>>,
    max_answer_bytes: u64,
    global: AtomicU64,
    tenants: Box<[AtomicU64]>,
    people: AtomicU64,
    key_use: AtomicU64,
    clock: CoarseClock,
}

impl ReadCache {
    /// A cache holding at most `max_bytes` of answers; 0 turns it off.
    pub fn new(max_bytes: u64) -> Self {
        let answers = (max_bytes > 0).then(|| {
            // Sized for answers of about 4 kB to start with.
            let expected = usize::try_from(max_bytes / 4_000)
                .unwrap_or(usize::MAX)
                .max(1);
            let options = quick_cache::OptionsBuilder::new()
                .shards(SHARDS)
                .estimated_items_capacity(expected)
                .weight_capacity(max_bytes)
                .build()
                .expect("both capacities are set");
            quick_cache::sync::Cache::with_options(
                options,
                ByBytes,
                quick_cache::DefaultHashBuilder::default(),
                quick_cache::sync::DefaultLifecycle::default(),
            )
        });
        Self {
            answers,
            // quick_cache keeps nothing heavier than a shard; what the caller should not
            // even read whole to offer.
            max_answer_bytes: max_bytes / SHARDS as u64,
            global: AtomicU64::new(0),
            tenants: (0..TENANT_COUNTERS).map(|_| AtomicU64::new(0)).collect(),
            people: AtomicU64::new(0),
            key_use: AtomicU64::new(0),
            clock: CoarseClock::default(),
        }
    }

    /// Whether answers are kept at all.
    pub fn enabled(&self) -> bool {
        self.answers.is_some()
    }

    /// The largest body worth offering to [`ReadCache::put`].
    pub fn max_answer_bytes(&self) -> u64 {
        self.max_answer_bytes
    }

    fn tenant_counter(&self, tenant: TenantId) -> &AtomicU64 {
        let bits = tenant.0.as_u128();
        let folded = (bits as u64) ^ ((bits >> 64) as u64);
        &self.tenants[(folded % TENANT_COUNTERS as u64) as usize]
    }

    /// The generations now, read before loading what is to be cached under them.
    pub fn stamp(&self, tenant: TenantId) -> Stamp {
        Stamp {
            global: self.global.load(Ordering::SeqCst),
            tenant: self.tenant_counter(tenant).load(Ordering::SeqCst),
            people: self.people.load(Ordering::SeqCst),
            key_use: self.key_use.load(Ordering::SeqCst),
            at: self.clock.ticks(),
        }
    }

    /// Whether an answer stamped `then` is still good.
    fn current(&self, then: &Stamp, tenant: TenantId, depends: Depends) -> bool {
        let now = self.stamp(tenant);
        let age = now.at.wrapping_sub(then.at);
        age < ANSWER_TTL
            && now.global == then.global
            && now.tenant == then.tenant
            && (depends == Depends::Tenant || now.people == then.people)
            && (depends != Depends::ViewerKeyUse || now.key_use == then.key_use)
    }

    /// The cached answer under `key`, if it is still good.
    pub fn get(&self, key: ReadKeyRef<'_>) -> Option<Arc<Answer>> {
        let entry = self.answers.as_ref()?.get(&key)?;
        self.current(&entry.stamp, key.tenant, entry.depends)
            .then_some(entry.answer)
    }

    /// Keeps `answer` under `key`, as good as the generations of `stamp` (read before it was
    /// loaded): if one moved meanwhile, the entry is never served.
    pub fn put(&self, key: ReadKey, stamp: Stamp, depends: Depends, answer: Arc<Answer>) {
        let Some(answers) = &self.answers else {
            return;
        };
        if self.current(&stamp, key.tenant, depends) {
            answers.insert(
                key,
                Entry {
                    stamp,
                    depends,
                    answer,
                },
            );
        }
    }

    /// Every answer's bytes as weighed (for `/metrics` and the tests of the bound).
    pub fn weight(&self) -> u64 {
        self.answers.as_ref().map_or(0, |answers| answers.weight())
    }

    /// How many answers are kept (for `/metrics`).
    pub fn entries(&self) -> u64 {
        self.answers
            .as_ref()
            .map_or(0, |answers| answers.len() as u64)
    }

    /// The bound of [`ReadCache::weight`]: `--read-cache-mib` in bytes.
    pub fn capacity(&self) -> u64 {
        self.answers
            .as_ref()
            .map_or(0, |answers| answers.capacity())
    }

    /// One tick of the clock that ages the answers (the background task's).
    pub fn tick(&self) {
        self.clock.advance();
    }

    /// A write confined to one tenant's data: its answers are stale.
    pub fn forget_tenant(&self, tenant: TenantId) {
        self.tenant_counter(tenant).fetch_add(1, Ordering::SeqCst);
    }

    /// A change to members, keys, invitations or a tenant: what depends on who asks is stale,
    /// and so is the tenant's.
    pub fn forget_people(&self, tenant: Option<TenantId>) {
        if let Some(tenant) = tenant {
            self.forget_tenant(tenant);
        }
        self.people.fetch_add(1, Ordering::SeqCst);
    }

    /// Keys were used: the key lists are stale.
    pub fn forget_key_use(&self) {
        self.key_use.fetch_add(1, Ordering::SeqCst);
    }

    /// Anything may have changed.
    pub fn forget_all(&self) {
        self.global.fetch_add(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(body: &'static [u8]) -> Arc<Answer> {
        Arc::new(Answer::new(
            HeaderMap::new(),
            Bytes::from_static(body),
            None,
        ))
    }

    fn key(tenant: TenantId, target: &str) -> ReadKeyRef<'_> {
        ReadKeyRef {
            tenant,
            viewer: None,
            target,
        }
    }

    fn viewer() -> Viewer {
        Viewer {
            user: UserId::generate(),
            signed_in_at: None,
            key: None,
        }
    }

    #[test]
    fn an_answer_is_served_until_its_tenant_changes_and_only_its_own() {
        let cache = ReadCache::new(1 << 20);
        let (one, other) = (TenantId::generate(), TenantId::generate());
        for tenant in [one, other] {
            let stamp = cache.stamp(tenant);
            cache.put(
                key(tenant, "/a").to_owned(),
                stamp,
                Depends::Tenant,
                answer(b"[]"),
            );
        }
        assert!(cache.get(key(one, "/a")).is_some());
        assert!(cache.get(key(one, "/b")).is_none(), "another path");
        cache.forget_tenant(one);
        assert!(cache.get(key(one, "/a")).is_none());
        // Another tenant's answer stays, unless the two share a counter.
        let shared = std::ptr::eq(cache.tenant_counter(one), cache.tenant_counter(other));
        assert_eq!(cache.get(key(other, "/a")).is_some(), !shared);
        cache.forget_all();
        assert!(cache.get(key(other, "/a")).is_none());
    }

    #[test]
    fn an_answer_loaded_across_a_write_is_never_served() {
        let cache = ReadCache::new(1 << 20);
        let tenant = TenantId::generate();
        let stamp = cache.stamp(tenant);
        cache.forget_tenant(tenant); // a write commits while the answer is being read
        cache.put(
            key(tenant, "/a").to_owned(),
            stamp,
            Depends::Tenant,
            answer(b"old"),
        );
        assert!(cache.get(key(tenant, "/a")).is_none());
    }

    #[test]
    fn a_viewers_answer_goes_with_any_change_to_people_and_the_key_list_with_key_use() {
        let cache = ReadCache::new(1 << 20);
        let tenant = TenantId::generate();
        let who = Some(viewer());
        let me = ReadKeyRef {
            tenant,
            viewer: who,
            target: "/me",
        };
        let keys = ReadKeyRef {
            target: "/me/keys",
            ..me
        };
        let tenant_wide = key(tenant, "/flows");
        let fill = |at: ReadKeyRef<'_>, depends| {
            cache.put(at.to_owned(), cache.stamp(tenant), depends, answer(b"{}"));
        };
        fill(me, Depends::Viewer);
        fill(keys, Depends::ViewerKeyUse);
        fill(tenant_wide, Depends::Tenant);
        assert!(
            cache
                .get(ReadKeyRef {
                    viewer: Some(viewer()),
                    ..me
                })
                .is_none(),
            "another viewer"
        );
        cache.forget_key_use();
        assert!(cache.get(me).is_some());
        assert!(cache.get(keys).is_none());
        cache.forget_people(None);
        assert!(cache.get(me).is_none());
        assert!(
            cache.get(tenant_wide).is_some(),
            "people changed, not the tenant's data"
        );
        cache.forget_people(Some(tenant));
        assert!(cache.get(tenant_wide).is_none());
    }

    #[test]
    fn an_answer_is_loaded_again_once_it_has_aged_a_minute() {
        let cache = ReadCache::new(1 << 20);
        let tenant = TenantId::generate();
        cache.put(
            key(tenant, "/a").to_owned(),
            cache.stamp(tenant),
            Depends::Tenant,
            answer(b"[]"),
        );
        for _ in 1..ANSWER_TTL {
            cache.tick();
        }
        assert!(
            cache.get(key(tenant, "/a")).is_some(),
            "one tick short of a minute"
        );
        cache.tick();
        assert!(cache.get(key(tenant, "/a")).is_none());
    }

    #[test]
    fn the_answers_stay_within_their_bytes() {
        let max = 256 << 10;
        let cache = ReadCache::new(max);
        let tenant = TenantId::generate();
        let body: &'static [u8] = Box::leak(vec![b' '; 4000].into_boxed_slice());
        let paths: Vec<String> = (0..1000).map(|n| format!("/flow/{n}")).collect();
        for path in &paths {
            cache.put(
                key(tenant, path).to_owned(),
                cache.stamp(tenant),
                Depends::Tenant,
                answer(body),
            );
        }
        assert!(cache.weight() <= max, "{} > {max}", cache.weight());
        let kept = paths
            .iter()
            .filter(|path| cache.get(key(tenant, path)).is_some())
            .count();
        assert!(
            kept > 10 && kept < 100,
            "{kept} answers of 4 kB kept in 256 kB"
        );
    }

    /// On Linux a body of 8 KiB or more is kept in the page cache too, and counts twice
    /// against the bound; a smaller one once.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_body_kept_in_the_page_cache_weighs_twice() {
        let cache = ReadCache::new(1 << 20);
        let tenant = TenantId::generate();
        let large: &'static [u8] = Box::leak(vec![b'x'; 20_000].into_boxed_slice());
        cache.put(
            key(tenant, "/large").to_owned(),
            cache.stamp(tenant),
            Depends::Tenant,
            answer(large),
        );
        let weighed = cache.weight();
        assert!((40_000..41_000).contains(&weighed), "{weighed}");
        let small: &'static [u8] = Box::leak(vec![b'x'; 2_000].into_boxed_slice());
        cache.put(
            key(tenant, "/small").to_owned(),
            cache.stamp(tenant),
            Depends::Tenant,
            answer(small),
        );
        let added = cache.weight() - weighed;
        assert!((2_000..3_000).contains(&added), "{added}");
    }

    #[test]
    fn zero_bytes_turns_it_off() {
        let cache = ReadCache::new(0);
        let tenant = TenantId::generate();
        assert!(!cache.enabled());
        cache.put(
            key(tenant, "/a").to_owned(),
            cache.stamp(tenant),
            Depends::Tenant,
            answer(b"[]"),
        );
        assert!(cache.get(key(tenant, "/a")).is_none());
    }
}
