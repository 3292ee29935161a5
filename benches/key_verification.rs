//! Key verification on the hot path (parse and checksum, HMAC, cache hit) and on a cache miss
//! against SQLite holding 100,000 keys, next to baselines measured in the same run; then the
//! refusals past the checksum (an unknown key, a live key with another tenant's id, a deleted
//! key), which should take the same time.
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

/// Keys of each kind the refusal benchmarks cycle through (fewer in a smoke run): as many
/// for each kind, so each touches as many of the index's pages.
const REFUSED_KEYS: usize = 1_000;
const SMOKE_REFUSED_KEYS: usize = 50;
/// Rounds of each comparison of the refusals in turns (about 30 µs × 10 calls × 3 kinds each,
/// some 6 s for each of the two).
const INTERLEAVED_ROUNDS: usize = 6_000;

/// A SQLite store in a temporary directory holding `keys`, all valid, owned by one user.
struct Fixture {
    store: Arc<dyn Store>,
    hasher: Hasher,
    keys: Vec<ApiKey>,
    user: UserId,
    tenant: TenantId,
    _dir: tempfile::TempDir,
}

fn seed(runtime: &Runtime, count: usize) -> Fixture {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let hasher = Hasher::new(&SecretBox::new(Box::new([7u8; 32])));
    let keys: Vec<ApiKey> = (0..count).map(|_| ApiKey::generate()).collect();
    let user = UserId::generate();
    let (store, tenant) = runtime.block_on(async {
        let config = StoreConfig::in_data_dir(dir.path());
        let store = keyflow::store::open(&config).await.expect("open the store");
        let tenant = store
            .create_tenant(&TenantName::parse("Benchmarks").unwrap())
            .await
            .expect("create the tenant");
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
                    scopes: Default::default(),
                    allowed_networks: Default::default(),
                    rate_per_second: None,
                    rate_burst: None,
                })
                .collect();
            store.insert_keys(rows).await.expect("insert a batch");
        }
        (store, tenant.id)
    });
    Fixture {
        store,
        hasher,
        keys,
        user,
        tenant,
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
        preview: "kf_…abcd".into(),
        rotated_until: None,
        scopes: Default::default(),
        allowed_networks: Default::default(),
        rate_per_second: None,
        rate_burst: None,
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

/// The refusals past the checksum, on a verifier built as the server builds it (the default
/// capacity) whose cache holds the live keys, as it would while they are in use:
///
/// - `unknown`: keys with a valid checksum that were never issued;
/// - `other_tenant`: live, cached keys sent with another tenant's id;
/// - `deleted`: keys that were stored, verified, then deleted (with the revocation that drops
///   the cache, as a deletion does).
///
/// Each should be one storage lookup; the benchmark checks that each call was refused and
/// asked storage exactly once. Criterion measures the kinds one after the other, so a change
/// of load on the machine between them shows as a difference; [`interleaved`] then compares
/// them in turns.
fn refusals(c: &mut Criterion, runtime: &Runtime, fixture: &Fixture, count: usize, rounds: usize) {
    let metrics = Arc::new(Metrics::default());
    let verifier = KeyVerifier::new(
        fixture.hasher.clone(),
        CACHE_CAPACITY,
        fixture.store.clone(),
        metrics.clone(),
    );
    let unknown: Vec<ApiKey> = (0..count).map(|_| ApiKey::generate()).collect();
    let unknown: Vec<&str> = unknown.iter().map(ApiKey::expose).collect();
    let deleted = deleted_keys(runtime, fixture, &verifier, count);
    let deleted: Vec<&str> = deleted.iter().map(ApiKey::expose).collect();
    // After the deletions' revocation, so the live keys stay cached.
    let live: Vec<&str> = fixture.keys[..count].iter().map(ApiKey::expose).collect();
    for key in &live {
        let check = runtime.block_on(verifier.verify(key)).unwrap();
        assert!(matches!(check, KeyCheck::Valid(_)), "a seeded key is valid");
    }
    let other_tenant = Some(TenantId::generate());
    let kinds = [
        ("unknown", &unknown, None),
        ("other_tenant", &live, other_tenant),
        ("deleted", &deleted, None),
    ];

    let mut group = c.benchmark_group("refusal");
    group.warm_up_time(Duration::from_secs(2));
    group.measurement_time(Duration::from_secs(5));
    for (name, keys, tenant) in kinds {
        let lookups = metrics.key_store_lookups.load(Ordering::Relaxed);
        let (mut index, mut calls, mut refused) = (0, 0u64, 0u64);
        group.bench_function(name, |b| {
            b.iter(|| {
                calls += 1;
                let key = black_box(keys[next(&mut index, keys.len())]);
                let check = runtime.block_on(verifier.verify_for(key, tenant)).unwrap();
                refused += u64::from(check == KeyCheck::Refused);
                check
            })
        });
        assert_eq!(refused, calls, "{name}: every call was refused");
        assert_eq!(
            metrics.key_store_lookups.load(Ordering::Relaxed) - lookups,
            calls,
            "{name}: every refusal asked storage once"
        );
    }
    group.finish();
    // Cycled as above, then one key of each kind over and over, as a probe of one key would.
    let (unknown_one, live_one, deleted_one) = (vec![unknown[0]], vec![live[0]], vec![deleted[0]]);
    let one_key = [
        ("unknown_one_key", &unknown_one, None),
        ("other_tenant_one_key", &live_one, other_tenant),
        ("deleted_one_key", &deleted_one, None),
    ];
    let lines = interleaved(runtime, &verifier, &kinds, rounds)
        + &interleaved(runtime, &verifier, &one_key, rounds);
    println!(
        "refusals in turns ({rounds} rounds of {ROUND_CALLS} calls per kind): kind, median ns \
         per call, ratio to the first kind in the same round (median, quartiles)\n{lines}"
    );
    if let Some(path) = std::env::var_os("KEYFLOW_BENCH_INTERLEAVED") {
        std::fs::write(path, lines).expect("write the figures of the refusals in turns");
    }
    assert!(
        live.iter().all(|key| verifier.verify_cached(key).is_some()),
        "other_tenant: the live keys were cached, so the refusal did not follow from a miss"
    );
}

/// Calls of one kind timed together in a round of [`interleaved`].
const ROUND_CALLS: usize = 10;

/// The refusal kinds in turns: each round times [`ROUND_CALLS`] refusals of every kind, in an
/// order that rotates from round to round, so all kinds share whatever load the machine has
/// at that moment. One tab-separated line per kind: its median time per call, and the median
/// and quartiles of its per-round ratio to the first kind in the same round (for
/// `scripts/bench.sh`, through the file `KEYFLOW_BENCH_INTERLEAVED` names).
fn interleaved(
    runtime: &Runtime,
    verifier: &KeyVerifier,
    kinds: &[(&str, &Vec<&str>, Option<TenantId>)],
    rounds: usize,
) -> String {
    let mut times: Vec<Vec<f64>> = vec![Vec::with_capacity(rounds); kinds.len()];
    let mut indexes = vec![0; kinds.len()];
    for round in 0..rounds {
        for turn in 0..kinds.len() {
            let kind = (round + turn) % kinds.len();
            let (name, keys, tenant) = kinds[kind];
            let start = std::time::Instant::now();
            for _ in 0..ROUND_CALLS {
                let key = black_box(keys[next(&mut indexes[kind], keys.len())]);
                let check = runtime.block_on(verifier.verify_for(key, tenant)).unwrap();
                assert_eq!(check, KeyCheck::Refused, "{name}: refused");
            }
            times[kind].push(start.elapsed().as_nanos() as f64 / ROUND_CALLS as f64);
        }
    }
    let mut lines = String::new();
    for (kind, (name, _, _)) in kinds.iter().enumerate() {
        let ratios: Vec<f64> = (0..rounds).map(|r| times[kind][r] / times[0][r]).collect();
        let (q1, median, q3) = quartiles(ratios);
        let (_, time, _) = quartiles(times[kind].clone());
        lines += &format!("refusal/{name}\t{time:.1}\t{median:.3}\t{q1:.3}\t{q3:.3}\n");
    }
    lines
}

/// The first quartile, the median and the third quartile.
fn quartiles(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    (at(0.25), at(0.5), at(0.75))
}

/// `count` new keys of the fixture's user, stored, verified (so cached), then deleted, and the
/// cache dropped as a deletion drops it.
fn deleted_keys(
    runtime: &Runtime,
    fixture: &Fixture,
    verifier: &KeyVerifier,
    count: usize,
) -> Vec<ApiKey> {
    let keys: Vec<(KeyId, ApiKey)> = (0..count)
        .map(|_| (KeyId::generate(), ApiKey::generate()))
        .collect();
    runtime.block_on(async {
        let created_at = Timestamp::now();
        let rows = keys
            .iter()
            .enumerate()
            .map(|(i, (id, key))| NewKey {
                id: *id,
                user_id: fixture.user,
                tenant_id: fixture.tenant,
                name: KeyName::parse(&format!("deleted-{i}")).unwrap(),
                digest: fixture.hasher.digest(key.expose()),
                preview: key.preview(),
                sealed: None,
                created_at,
                expires_at: None,
                scopes: Default::default(),
                allowed_networks: Default::default(),
                rate_per_second: None,
                rate_burst: None,
            })
            .collect();
        fixture.store.insert_keys(rows).await.expect("insert");
        for (_, key) in &keys {
            let check = verifier.verify(key.expose()).await.unwrap();
            assert!(matches!(check, KeyCheck::Valid(_)), "a new key is valid");
        }
        for (id, _) in &keys {
            let gone = fixture.store.delete_key(fixture.user, *id).await;
            assert!(gone.expect("delete"), "the key was there");
        }
    });
    verifier.revoke_all();
    keys.into_iter().map(|(_, key)| key).collect()
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
    let (refused, rounds) = if measuring {
        (REFUSED_KEYS, INTERLEAVED_ROUNDS)
    } else {
        (SMOKE_REFUSED_KEYS, 3)
    };
    refusals(&mut criterion, &runtime, &fixture, refused, rounds);
    criterion.final_summary();
}
