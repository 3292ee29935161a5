//! Key verification on the hot path (parse and checksum, HMAC, cache hit) and on a cache miss
//! against SQLite holding 100,000 keys, next to baselines measured in the same run.
//!
//! Run it with `scripts/bench.sh`, which writes the medians, as ratios to the plain SHA-256
//! baseline, into `docs/BENCHMARKS.md`. Timings are never asserted; the assertions here only
//! check that each benchmark measured what its name says (hits were hits, misses went to
//! storage).

use std::collections::HashMap;
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion};
use keyflow::auth::api_key::{ApiKey, Hasher};
use keyflow::auth::verifier::{KeyCheck, KeyVerifier};
use keyflow::domain::{
    Digest, Email, KeyId, KeyName, Role, TenantId, TenantName, Timestamp, UserId,
};
use keyflow::metrics::Metrics;
use keyflow::store::{KeyGrant, NewKey, NewUser, Store, StoreConfig};
use secrecy::SecretBox;
use sha2::{Digest as _, Sha256};
use tokio::runtime::Runtime;

/// Keys in storage for a real run, as the issue asks.
const STORED_KEYS: usize = 100_000;
/// Keys in storage under `cargo test --benches`, which runs each routine once: a smoke test
/// should not spend seconds seeding.
const SMOKE_KEYS: usize = 1_000;
/// Keys per `insert_keys` call, each one transaction.
const BATCH: usize = 10_000;
/// The server's default cache capacity (`ServeConfig::key_cache_capacity`).
const CACHE_CAPACITY: u64 = 100_000;
/// How many of the stored keys the cached benchmarks cycle through: 90 % of the capacity,
/// because quick_cache's capacity is approximate (filled to exactly its capacity, it evicts a
/// few entries: about 0.4 % of lookups then miss).
const CACHED_SHARE: f64 = 0.9;

/// The keys the cached benchmarks cycle through (all of them in a smoke run).
fn cached_keys(fixture: &Fixture) -> &[ApiKey] {
    let most = (CACHE_CAPACITY as f64 * CACHED_SHARE) as usize;
    &fixture.keys[..fixture.keys.len().min(most)]
}

/// A SQLite store in a temporary directory holding `keys`, all valid, owned by one user.
struct Fixture {
    store: Arc<dyn Store>,
    hasher: Hasher,
    keys: Vec<ApiKey>,
    _dir: tempfile::TempDir,
}

fn seed(runtime: &Runtime, count: usize) -> Fixture {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let hasher = Hasher::new(&SecretBox::new(Box::new([7u8; 32])));
    let keys: Vec<ApiKey> = (0..count).map(|_| ApiKey::generate()).collect();
    let store = runtime.block_on(async {
        let config = StoreConfig::in_data_dir(dir.path());
        let store = keyflow::store::open(&config).await.expect("open the store");
        let tenant = store
            .create_tenant(&TenantName::parse("Benchmarks").unwrap())
            .await
            .expect("create the tenant");
        let user = UserId::generate();
        let owner = NewUser {
            id: user,
            email: Email::parse("bench@example.com").unwrap(),
            first_name: None,
            last_name: None,
            password_hash: None,
        };
        store
            .create_user(owner, tenant.id, Role::Administrator)
            .await
            .expect("create the user");
        let created_at = Timestamp::now();
        for (batch, chunk) in keys.chunks(BATCH).enumerate() {
            let rows = chunk
                .iter()
                .enumerate()
                .map(|(i, key)| NewKey {
                    id: KeyId::generate(),
                    user_id: user,
                    tenant_id: tenant.id,
                    name: KeyName::parse(&format!("bench-{}", batch * BATCH + i)).unwrap(),
                    digest: hasher.digest(key.expose()),
                    preview: key.preview(),
                    sealed: None,
                    created_at,
                    expires_at: None,
                })
                .collect();
            store.insert_keys(rows).await.expect("insert a batch");
        }
        store
    });
    Fixture {
        store,
        hasher,
        keys,
        _dir: dir,
    }
}

/// Polls a future once with a no-op waker: the cost of `verify` without any runtime. Only
/// futures that finish without waiting (a cache hit) may be passed.
fn poll_once<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("a cached verification waited"),
    }
}

/// Cycles through `len` indexes, so consecutive iterations use different keys.
fn next(index: &mut usize, len: usize) -> usize {
    *index += 1;
    if *index == len {
        *index = 0;
    }
    *index
}

/// Plain SHA-256 of a key (the floor of any digest-based check, and the ratios' 1), lookups
/// of a digest among the stored ones in a `std` hash map, in the verifier's quick_cache and in
/// the moka cache it replaced, and an empty `block_on`.
fn baselines(c: &mut Criterion, runtime: &Runtime, fixture: &Fixture) {
    let mut group = c.benchmark_group("baseline");
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));

    let key = fixture.keys[0].expose();
    group.bench_function("sha256_35B", |b| {
        b.iter(|| Sha256::digest(black_box(key.as_bytes())))
    });

    let grant = KeyGrant {
        key_id: KeyId::generate(),
        user_id: UserId::generate(),
        tenant_id: TenantId::generate(),
        expires_at: None,
    };
    let digests: Vec<Digest> = cached_keys(fixture)
        .iter()
        .map(|key| fixture.hasher.digest(key.expose()))
        .collect();
    let map: HashMap<Digest, KeyGrant> = digests.iter().map(|d| (*d, grant.clone())).collect();
    let mut index = 0;
    group.bench_function("hashmap_get", |b| {
        b.iter(|| {
            let i = next(&mut index, digests.len());
            map.get(black_box(&digests[i])).cloned()
        })
    });

    // What the verifier's cache costs by itself: a quick_cache built as `KeyVerifier::new`
    // builds it, holding the same grants.
    let cache = quick_cache::sync::Cache::<Digest, KeyGrant>::new(CACHE_CAPACITY as usize);
    for digest in &digests {
        cache.insert(*digest, grant.clone());
    }
    bench_hits(&mut group, "cache_get", &digests, |digest| {
        cache.get(digest)
    });

    // The moka cache the verifier used before, built as it was (with its 10-minute TTL).
    let cache: moka::sync::Cache<Digest, KeyGrant> = moka::sync::Cache::builder()
        .max_capacity(CACHE_CAPACITY)
        .time_to_live(Duration::from_secs(10 * 60))
        .build();
    for digest in &digests {
        cache.insert(*digest, grant.clone());
    }
    cache.run_pending_tasks();
    bench_hits(&mut group, "moka_get", &digests, |digest| cache.get(digest));

    group.bench_function("block_on_empty", |b| {
        b.iter(|| runtime.block_on(black_box(async {})))
    });
    group.finish();
}

/// Benchmarks `get` cycling through `digests`, and checks that every call found its grant.
fn bench_hits(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    digests: &[Digest],
    get: impl Fn(&Digest) -> Option<KeyGrant>,
) {
    let (mut index, mut calls, mut hits) = (0, 0u64, 0u64);
    group.bench_function(name, |b| {
        b.iter(|| {
            calls += 1;
            let found = get(black_box(&digests[next(&mut index, digests.len())]));
            hits += u64::from(found.is_some());
            found
        })
    });
    assert_eq!(hits, calls, "{name}: every digest is cached");
}

/// The steps of the hot path alone, then a whole verification answered from the cache.
fn hot_path(c: &mut Criterion, runtime: &Runtime, fixture: &Fixture) {
    let metrics = Arc::new(Metrics::default());
    let verifier = KeyVerifier::new(
        fixture.hasher.clone(),
        CACHE_CAPACITY,
        fixture.store.clone(),
        metrics.clone(),
    );
    // Every key cycled through goes through storage once, so the cache holds all of them.
    for key in cached_keys(fixture) {
        let check = runtime.block_on(verifier.verify(key.expose())).unwrap();
        assert!(matches!(check, KeyCheck::Valid(_)), "a seeded key is valid");
    }
    let keys: Vec<&str> = cached_keys(fixture).iter().map(ApiKey::expose).collect();

    let mut group = c.benchmark_group("hot_path");
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));

    let mut index = 0;
    group.bench_function("parse", |b| {
        b.iter(|| ApiKey::parse(black_box(keys[next(&mut index, keys.len())])))
    });
    group.bench_function("hmac", |b| {
        b.iter(|| {
            let key = black_box(keys[next(&mut index, keys.len())]);
            fixture.hasher.digest(key)
        })
    });

    let hits = metrics.key_cache_hits.load(Ordering::Relaxed);
    let lookups = metrics.key_store_lookups.load(Ordering::Relaxed);
    let mut calls = 0u64;
    group.bench_function("verify_cached", |b| {
        b.iter(|| {
            calls += 1;
            let key = black_box(keys[next(&mut index, keys.len())]);
            runtime.block_on(verifier.verify(key))
        })
    });
    group.bench_function("verify_cached_poll_once", |b| {
        b.iter(|| {
            calls += 1;
            let key = black_box(keys[next(&mut index, keys.len())]);
            poll_once(verifier.verify(key))
        })
    });
    let hot_key = keys[0];
    group.bench_function("verify_cached_one_key", |b| {
        b.iter(|| {
            calls += 1;
            runtime.block_on(verifier.verify(black_box(hot_key)))
        })
    });
    group.finish();
    assert_eq!(
        metrics.key_store_lookups.load(Ordering::Relaxed) - lookups,
        0,
        "a cached verification went to storage"
    );
    assert_eq!(metrics.key_cache_hits.load(Ordering::Relaxed) - hits, calls);
}

/// A verification whose grant is not cached: a verifier with cache capacity 0, cycling
/// through every stored key, so each call is a lookup by digest among all of them.
fn miss(c: &mut Criterion, runtime: &Runtime, fixture: &Fixture) {
    let metrics = Arc::new(Metrics::default());
    let verifier = KeyVerifier::new(
        fixture.hasher.clone(),
        0,
        fixture.store.clone(),
        metrics.clone(),
    );
    let keys: Vec<&str> = fixture.keys.iter().map(ApiKey::expose).collect();

    let mut group = c.benchmark_group("miss");
    group.warm_up_time(Duration::from_secs(2));
    group.measurement_time(Duration::from_secs(5));
    let mut index = 0;
    let mut calls = 0u64;
    group.bench_function("verify_miss", |b| {
        b.iter(|| {
            calls += 1;
            let key = black_box(keys[next(&mut index, keys.len())]);
            runtime.block_on(verifier.verify(key))
        })
    });
    group.finish();
    assert_eq!(
        metrics.key_cache_hits.load(Ordering::Relaxed),
        0,
        "a miss hit"
    );
    assert_eq!(metrics.key_store_lookups.load(Ordering::Relaxed), calls);
    // Spot check that a miss finds the grant rather than measuring an empty answer.
    let check = runtime.block_on(verifier.verify(keys[0])).unwrap();
    assert!(matches!(check, KeyCheck::Valid(_)), "a seeded key is valid");
}

fn main() {
    // Criterion measures only under `cargo bench` (`--bench` without `--test`); otherwise it
    // runs each routine once as a smoke test.
    let args: Vec<String> = std::env::args().collect();
    let measuring = args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let fixture = seed(&runtime, if measuring { STORED_KEYS } else { SMOKE_KEYS });

    let mut criterion = Criterion::default().sample_size(100).configure_from_args();
    baselines(&mut criterion, &runtime, &fixture);
    hot_path(&mut criterion, &runtime, &fixture);
    miss(&mut criterion, &runtime, &fixture);
    criterion.final_summary();
}
