//! Each tenant's whole flow list, kept serialized in memory: the answer to the most frequent
//! call, `GET /api/draw/1/flow` without a filter or a page, costs no query and no JSON
//! encoding once it is cached.
//!
//! Every write that can change a list comes through an HTTP method other than GET, HEAD or
//! OPTIONS (the command line writes no flows and renames no one), so the router forgets every
//! list after each such request ([`FlowListCache::forget_all`]). A generation counter keeps a
//! list read while a write was committing from being cached after the write forgot it. The
//! cache is bounded in bytes, and emptied every minute ([`crate::control`]) should a write
//! ever come from elsewhere.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Bytes;

use crate::domain::TenantId;
use crate::error::ApiError;

/// Weighs a list by its length in bytes (at least 1: quick_cache never evicts an entry that
/// weighs nothing).
#[derive(Clone)]
struct ByLength;

impl quick_cache::Weighter<TenantId, Bytes> for ByLength {
    fn weight(&self, _: &TenantId, body: &Bytes) -> u64 {
        (body.len() as u64).max(1)
    }
}

/// Serialized flow lists by tenant, bounded by their total size.
pub struct FlowListCache {
    lists: Option<quick_cache::sync::Cache<TenantId, Bytes, ByLength>>,
    generation: AtomicU64,
}

impl FlowListCache {
    /// A cache holding at most `max_bytes` of JSON; 0 turns it off.
    pub fn new(max_bytes: u64) -> Self {
        let lists = (max_bytes > 0).then(|| {
            // Sized for lists of about 20 KiB (20 flows) to start with.
            let expected = usize::try_from(max_bytes / 20_000)
                .unwrap_or(usize::MAX)
                .max(1);
            quick_cache::sync::Cache::with_weighter(expected, max_bytes, ByLength)
        });
        Self {
            lists,
            generation: AtomicU64::new(0),
        }
    }

    /// The tenant's list from the cache, or from `load` (then cached).
    pub async fn get_or_load<F, Fut>(&self, tenant: TenantId, load: F) -> Result<Bytes, ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Bytes, ApiError>>,
    {
        let Some(lists) = &self.lists else {
            return load().await;
        };
        if let Some(body) = self.cached(tenant) {
            return Ok(body);
        }
        let generation = self.generation.load(Ordering::SeqCst);
        let body = load().await?;
        lists.insert(tenant, body.clone());
        // A write that finished while the list was read may have missed this entry.
        if self.generation.load(Ordering::SeqCst) != generation {
            lists.remove(&tenant);
        }
        Ok(body)
    }

    /// The tenant's list if it is cached.
    pub fn cached(&self, tenant: TenantId) -> Option<Bytes> {
        self.lists.as_ref()?.get(&tenant)
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

    #[tokio::test]
    async fn a_list_is_loaded_once_until_forgotten() {
        let cache = FlowListCache::new(1 << 20);
        let tenant = TenantId::generate();
        let loads = AtomicU64::new(0);
        let load = || async {
            loads.fetch_add(1, Ordering::SeqCst);
            Ok(Bytes::from_static(b"[]"))
        };
        cache.get_or_load(tenant, load).await.unwrap();
        cache.get_or_load(tenant, load).await.unwrap();
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        cache.forget_all();
        cache.get_or_load(tenant, load).await.unwrap();
        assert_eq!(loads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_list_read_across_a_write_is_not_kept() {
        let cache = FlowListCache::new(1 << 20);
        let tenant = TenantId::generate();
        let stale = cache
            .get_or_load(tenant, || async {
                cache.forget_all(); // a write commits while the list is being read
                Ok(Bytes::from_static(b"[\"old\"]"))
            })
            .await
            .unwrap();
        assert_eq!(&stale[..], b"[\"old\"]");
        let fresh = cache
            .get_or_load(tenant, || async { Ok(Bytes::from_static(b"[\"new\"]")) })
            .await
            .unwrap();
        assert_eq!(&fresh[..], b"[\"new\"]");
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
                    Ok(Bytes::new())
                })
                .await
                .unwrap();
        }
        assert_eq!(loads.load(Ordering::SeqCst), 2);
    }
}
