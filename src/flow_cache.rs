//! Each tenant's whole flow list, kept serialized in memory: the answer to the most frequent
//! call, `GET /api/draw/1/flow` without a filter or a page, costs no query and no JSON
//! encoding once it is cached.
//!
//! Every write that can change a list comes through an HTTP method other than GET, HEAD or
//! OPTIONS (the command line writes no flows and renames no one), so the router forgets every
//! list after each such request ([`FlowListCache::forget_all`]). Writes made by other instances
//! on PostgreSQL are announced, and forget that tenant's list ([`FlowListCache::forget`],
//! from [`crate::change_watch`]). A generation counter keeps a list read while a write was
//! committing from being cached after the write forgot it. The cache is bounded in bytes, and a
//! list is served for a minute at most should a write ever go unannounced.
//!
//! Beside the layers, it imports only `coarse_clock` and `domain`: it knows no HTTP. A load's
//! error is the caller's own type ([`FlowListCache::get_or_load`] is generic over it), passed
//! back untouched.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::body::Bytes;

use crate::coarse_clock::{CoarseClock, Stamped};
use crate::domain::TenantId;

/// How long a list is served from the cache at most, in ticks.
const LIST_TTL: u32 = CoarseClock::ticks_in(Duration::from_secs(60));

/// The cache's shards: each holds a quarter of `--flow-cache-mib`, and a list larger than
/// (nearly) one shard is not kept. More shards would contend less and cap lists lower.
const SHARDS: usize = 4;

/// Weighs a list by its length in bytes (at least 1: quick_cache never evicts an entry that
/// weighs nothing).
#[derive(Clone)]
struct ByLength;

impl quick_cache::Weighter<TenantId, Stamped<Bytes>> for ByLength {
    fn weight(&self, _: &TenantId, list: &Stamped<Bytes>) -> u64 {
        (list.value.len() as u64).max(1)
    }
}

/// Serialized flow lists by tenant, bounded by their total size.
pub struct FlowListCache {
    lists: Option<quick_cache::sync::Cache<TenantId, Stamped<Bytes>, ByLength>>,
    generation: AtomicU64,
    clock: CoarseClock,
}

impl FlowListCache {
    /// A cache holding at most `max_bytes` of JSON; 0 turns it off.
    pub fn new(max_bytes: u64) -> Self {
        let lists = (max_bytes > 0).then(|| {
            // Sized for lists of about 20 kB (20 flows) to start with.
            let expected = usize::try_from(max_bytes / 20_000)
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
                ByLength,
                quick_cache::DefaultHashBuilder::default(),
                quick_cache::sync::DefaultLifecycle::default(),
            )
        });
        Self {
            lists,
            generation: AtomicU64::new(0),
            clock: CoarseClock::default(),
        }
    }

    /// The tenant's list from the cache, or from `load` (then cached). A failed load is not
    /// cached and its error is returned as it is: the error type is the caller's, so that the
    /// cache stays below the edge that defines `ApiError`.
    pub async fn get_or_load<F, Fut, E>(&self, tenant: TenantId, load: F) -> Result<Bytes, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Bytes, E>>,
    {
        let Some(lists) = &self.lists else {
            return load().await;
        };
        if let Some(body) = self.cached(tenant) {
            return Ok(body);
        }
        let generation = self.generation.load(Ordering::SeqCst);
        let body = load().await?;
        lists.insert(tenant, self.clock.stamp(body.clone()));
        // A write that finished while the list was read may have missed this entry.
        if self.generation.load(Ordering::SeqCst) != generation {
            lists.remove(&tenant);
        }
        Ok(body)
    }

    /// The tenant's list if it is cached.
    pub fn cached(&self, tenant: TenantId) -> Option<Bytes> {
        let stamped = self.lists.as_ref()?.get(&tenant)?;
        self.clock.fresh(stamped, LIST_TTL)
    }

    /// One tick of the clock that ages the lists (the background task's).
    pub fn tick(&self) {
        self.clock.advance();
    }

    /// Forgets one tenant's list: another instance announced a write to its flows.
    pub fn forget(&self, tenant: TenantId) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Some(lists) = &self.lists {
            lists.remove(&tenant);
        }
    }

    /// Forgets every list: called after each request that may have written.
    pub fn forget_all(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Some(lists) = &self.lists {
            lists.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The loads below never fail; the cache takes any error type.
    type Never = std::convert::Infallible;

    #[tokio::test]
    async fn a_list_is_loaded_once_until_forgotten() {
        let cache = FlowListCache::new(1 << 20);
        let tenant = TenantId::generate();
        let loads = AtomicU64::new(0);
        let load = || async {
            loads.fetch_add(1, Ordering::SeqCst);
            Ok::<_, Never>(Bytes::from_static(b"[]"))
        };
        cache.get_or_load(tenant, load).await.unwrap();
        cache.get_or_load(tenant, load).await.unwrap();
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        cache.forget_all();
        cache.get_or_load(tenant, load).await.unwrap();
        assert_eq!(loads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_failed_load_is_passed_back_and_not_kept() {
        let cache = FlowListCache::new(1 << 20);
        let tenant = TenantId::generate();
        let failed = cache
            .get_or_load(tenant, || async { Err::<Bytes, _>("the store is down") })
            .await;
        assert_eq!(failed, Err("the store is down"));
        assert!(cache.cached(tenant).is_none());
    }

    #[tokio::test]
    async fn a_list_read_across_a_write_is_not_kept() {
        let cache = FlowListCache::new(1 << 20);
        let tenant = TenantId::generate();
        let stale = cache
            .get_or_load(tenant, || async {
                cache.forget_all(); // a write commits while the list is being read
                Ok::<_, Never>(Bytes::from_static(b"[\"old\"]"))
            })
            .await
            .unwrap();
        assert_eq!(&stale[..], b"[\"old\"]");
        let fresh = cache
            .get_or_load(tenant, || async {
                Ok::<_, Never>(Bytes::from_static(b"[\"new\"]"))
            })
            .await
            .unwrap();
        assert_eq!(&fresh[..], b"[\"new\"]");
    }

    #[tokio::test]
    async fn a_list_is_loaded_again_once_it_has_aged_a_minute() {
        let cache = FlowListCache::new(1 << 20);
        let tenant = TenantId::generate();
        let loads = AtomicU64::new(0);
        let load = || async {
            loads.fetch_add(1, Ordering::SeqCst);
            Ok::<_, Never>(Bytes::from_static(b"[]"))
        };
        cache.get_or_load(tenant, load).await.unwrap();
        for _ in 1..LIST_TTL {
            cache.tick();
        }
        cache.get_or_load(tenant, load).await.unwrap();
        assert_eq!(
            loads.load(Ordering::SeqCst),
            1,
            "still fresh one tick short of a minute"
        );
        cache.tick();
        cache.get_or_load(tenant, load).await.unwrap();
        assert_eq!(loads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_list_of_a_shard_is_kept_and_a_larger_one_is_not() {
        let cache = FlowListCache::new(4 << 20);
        let (small, large) = (TenantId::generate(), TenantId::generate());
        let list =
            |bytes: usize| move || async move { Ok::<_, Never>(Bytes::from(vec![b' '; bytes])) };
        cache.get_or_load(small, list(900 << 10)).await.unwrap();
        cache.get_or_load(large, list(2 << 20)).await.unwrap();
        assert!(cache.cached(small).is_some());
        assert!(cache.cached(large).is_none(), "over a quarter of the cache");
    }

    #[tokio::test]
    async fn zero_bytes_turns_it_off() {
        let cache = FlowListCache::new(0);
        let tenant = TenantId::generate();
        let loads = AtomicU64::new(0);
        for _ in 0..2 {
            cache
                .get_or_load(tenant, || async {
                    loads.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, Never>(Bytes::new())
                })
                .await
                .unwrap();
        }
        assert_eq!(loads.load(Ordering::SeqCst), 2);
    }
}
