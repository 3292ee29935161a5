//! The store contract for keys' last uses, rate limits and the instances' heartbeats: a batch
//! of uses is written whole and never moves a key's last use back in time; a key's own limit
//! and its tenant's are read with the grant (the key's first); setting a tenant's limit moves
//! the change counter (cached grants carry it), and setting the same again does not; each
//! instance counts those seen within the window the caller gives (the caller's clock decides,
//! so no test waits).

use keyflow::store::KeyUsage;

use super::*;

fn at(seconds: u64) -> Timestamp {
    Timestamp::parse("2026-01-01T00:00:00Z")
        .unwrap()
        .plus(Duration::from_secs(seconds))
}

#[tokio::test]
async fn uses_are_written_in_batches_and_never_go_back_in_time() {
    each(|store| async move {
        let store = store.as_ref();
        let acme = tenant(store, "Acme").await;
        let ada = member(store, acme.id, "ada@example.com", Role::Administrator).await;
        let (one, two) = (new_key(ada, acme.id, "one"), new_key(ada, acme.id, "two"));
        let (one_id, two_id) = (one.id, two.id);
        store.insert_keys(vec![one, two]).await.unwrap();
        let used = |key_id, seconds, address: &str| KeyUsage {
            key_id,
            at: at(seconds),
            address: address.into(),
        };
        // A key gone meanwhile is skipped, not an error.
        let batch = [
            used(one_id, 60, "192.0.2.1"),
            used(two_id, 120, "2001:db8::2"),
            used(KeyId::generate(), 60, "192.0.2.9"),
        ];
        store.record_key_usage(&batch).await.unwrap();
        store.record_key_usage(&[]).await.unwrap();
        // An older use written late (another instance's) changes nothing.
        store
            .record_key_usage(&[used(one_id, 30, "192.0.2.3")])
            .await
            .unwrap();
        let keys = store.keys_of_user(ada).await.unwrap();
        let last = |id| {
            let key = keys.iter().find(|k| k.id == id).unwrap();
            (key.last_used_at, key.last_used_address.clone())
        };
        assert_eq!(last(one_id), (Some(at(60)), Some("192.0.2.1".into())));
        assert_eq!(last(two_id), (Some(at(120)), Some("2001:db8::2".into())));
    })
    .await;
}

#[tokio::test]
async fn a_grant_carries_its_own_rate_limit_else_its_tenants() {
    each(|store| async move {
        let store = store.as_ref();
        let acme = tenant(store, "Acme").await;
        let ada = member(store, acme.id, "ada@example.com", Role::Administrator).await;
        let plain = new_key(ada, acme.id, "plain");
        let mut own = new_key(ada, acme.id, "own");
        (own.rate_per_second, own.rate_burst) = (Some(5), Some(7));
        let (plain_digest, own_digest) = (plain.digest, own.digest);
        store.insert_keys(vec![plain, own]).await.unwrap();
        let limit = |grant: Option<store::KeyGrant>| {
            let grant = grant.expect("a grant");
            (grant.rate_per_second, grant.rate_burst)
        };
        assert_eq!(
            limit(store.key_by_digest(&plain_digest).await.unwrap()),
            (None, None)
        );
        assert_eq!(
            limit(store.key_by_digest(&own_digest).await.unwrap()),
            (Some(5), Some(7))
        );

        let counter = store.change_counter().await.unwrap();
        assert!(
            store
                .set_key_rate_limit(acme.id, Some((50, 80)))
                .await
                .unwrap()
        );
        let moved = store.change_counter().await.unwrap();
        assert!(moved > counter, "cached grants carry the limit: announced");
        assert!(
            store
                .set_key_rate_limit(acme.id, Some((50, 80)))
                .await
                .unwrap()
        );
        assert_eq!(
            store.change_counter().await.unwrap(),
            moved,
            "unchanged: not announced"
        );
        assert!(
            !store
                .set_key_rate_limit(TenantId::generate(), None)
                .await
                .unwrap()
        );
        assert_eq!(
            limit(store.key_by_digest(&plain_digest).await.unwrap()),
            (Some(50), Some(80))
        );
        assert_eq!(
            limit(store.key_by_digest(&own_digest).await.unwrap()),
            (Some(5), Some(7))
        );
        let read = store.tenant(acme.id).await.unwrap().unwrap();
        assert_eq!(
            (read.key_rate_per_second, read.key_rate_burst),
            (Some(50), Some(80))
        );
        let memberships = store.memberships(ada).await.unwrap();
        assert_eq!(memberships[0].tenant.key_rate_burst, Some(80));
        assert!(store.set_key_rate_limit(acme.id, None).await.unwrap());
        assert_eq!(
            limit(store.key_by_digest(&plain_digest).await.unwrap()),
            (None, None)
        );
    })
    .await;
}

#[tokio::test]
async fn instances_count_those_seen_within_the_window() {
    each(|store| async move {
        let store = store.as_ref();
        let (a, b) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
        let beat = |id, now: u64| store.heartbeat(id, at(now), at(now - 3), at(now - 60));
        assert_eq!(beat(a, 100).await.unwrap(), 1, "alone");
        assert_eq!(beat(b, 101).await.unwrap(), 2, "both within 3 s");
        assert_eq!(beat(a, 102).await.unwrap(), 2);
        // B stops beating: counted until 3 s have passed since it last did.
        assert_eq!(beat(a, 104).await.unwrap(), 2);
        assert_eq!(beat(a, 105).await.unwrap(), 1);
        // B back, then gone for good at a graceful stop.
        assert_eq!(beat(b, 106).await.unwrap(), 2);
        store.leave(b).await.unwrap();
        assert_eq!(beat(a, 107).await.unwrap(), 1);
        // A row unseen for a minute is deleted; at least this one is always counted.
        assert_eq!(beat(b, 108).await.unwrap(), 2);
        assert_eq!(beat(a, 200).await.unwrap(), 1);
    })
    .await;
}
