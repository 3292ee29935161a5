//! The store contract for keys that expire and rotate: a rotation keeps the old digest as a
//! superseded value until its end (never past the key's expiry), racing rotations each keep
//! theirs, deleting the key ends every value, `key.expired` is claimed once, and a tenant's
//! maximum caps the keys that would outlive it. The caller's `now` decides: no test waits.

use keyflow::store::KeyRotation;

use super::*;

fn rotation(key: KeyId, user: UserId, at: Timestamp, overlap: u64) -> KeyRotation {
    KeyRotation {
        key_id: key,
        user_id: user,
        digest: digest(),
        preview: "kf_…new1".into(),
        sealed: Some(vec![9, 9]),
        rotated_at: at,
        valid_until: at.plus(Duration::from_secs(overlap)),
    }
}

#[tokio::test]
async fn a_rotation_keeps_the_old_value_until_its_end_and_a_delete_ends_both() {
    each(|store| async move {
        let store = store.as_ref();
        let acme = tenant(store, "Acme").await;
        let ada = member(store, acme.id, "ada@example.com", Role::Administrator).await;
        let mut key = new_key(ada, acme.id, "rotating");
        let expires = Timestamp::now().plus(Duration::from_secs(1_800));
        key.expires_at = Some(expires);
        store.insert_key(key.clone()).await.unwrap();
        let now = Timestamp::now();

        let first = rotation(key.id, ada, now, 3_600);
        assert!(store.rotate_key(first.clone()).await.unwrap());
        let old = store.key_by_digest(&key.digest).await.unwrap().unwrap();
        assert_eq!(old.key_id, key.id);
        assert_eq!(old.rotated_until, Some(first.valid_until));
        assert_eq!(old.expires_at, Some(expires), "never past the key's expiry");
        assert_eq!(&*old.preview, "kf_…abcd", "the old value's preview");
        assert!(!old.ends_by_rotation(), "the key's expiry comes first");
        let new = store.key_by_digest(&first.digest).await.unwrap().unwrap();
        assert_eq!((new.rotated_until, new.expires_at), (None, Some(expires)));
        assert_eq!(&*new.preview, "kf_…new1");
        let listed = store.keys_of_user(ada).await.unwrap();
        assert_eq!(listed[0].rotated_at, Some(now));
        assert_eq!(
            listed[0].sealed.as_deref(),
            Some(&[9u8, 9][..]),
            "sealed replaced"
        );

        // A second rotation leaves the first old value's end as it was.
        let second = rotation(key.id, ada, now, 0);
        assert!(store.rotate_key(second).await.unwrap());
        let old = store.key_by_digest(&key.digest).await.unwrap().unwrap();
        assert_eq!(old.rotated_until, Some(first.valid_until));
        let middle = store.key_by_digest(&first.digest).await.unwrap().unwrap();
        assert_eq!(middle.expires_at, Some(now));
        assert!(middle.ends_by_rotation());

        // Not the user's, or gone: false.
        let other = member(store, acme.id, "bo@example.com", Role::Standard).await;
        assert!(
            !store
                .rotate_key(rotation(key.id, other, now, 0))
                .await
                .unwrap()
        );
        assert!(store.delete_key(ada, key.id).await.unwrap());
        assert!(store.key_by_digest(&key.digest).await.unwrap().is_none());
        assert!(store.key_by_digest(&first.digest).await.unwrap().is_none());
        assert!(
            !store
                .rotate_key(rotation(key.id, ada, now, 0))
                .await
                .unwrap()
        );
    })
    .await;
}

/// Rotations of one key at the same moment all land, one after the other: every value but the
/// last is kept as a superseded one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_rotations_each_keep_their_old_value() {
    each(|store| async move {
        let acme = tenant(store.as_ref(), "Acme").await;
        let ada = member(
            store.as_ref(),
            acme.id,
            "ada@example.com",
            Role::Administrator,
        )
        .await;
        let key = new_key(ada, acme.id, "raced");
        store.insert_key(key.clone()).await.unwrap();
        let now = Timestamp::now();
        let rotations: Vec<KeyRotation> =
            (0..8).map(|_| rotation(key.id, ada, now, 3_600)).collect();
        let tasks = rotations.clone().into_iter().map(|r| {
            let store = store.clone();
            tokio::spawn(async move { store.rotate_key(r).await })
        });
        let results = futures_join(tasks).await;
        assert!(results.iter().all(|r| matches!(r, Ok(true))), "{results:?}");
        let mut found = 0;
        for digest in std::iter::once(&key.digest).chain(rotations.iter().map(|r| &r.digest)) {
            if store.key_by_digest(digest).await.unwrap().is_some() {
                found += 1;
            }
        }
        assert_eq!(
            found, 9,
            "the first value, seven superseded ones and the current one"
        );
    })
    .await;
}

#[tokio::test]
async fn key_expired_is_claimed_once_and_a_maximum_caps_longer_keys() {
    each(|store| async move {
        let store = store.as_ref();
        let acme = tenant(store, "Acme").await;
        let ada = member(store, acme.id, "ada@example.com", Role::Administrator).await;
        let now = Timestamp::now();
        let day = Duration::from_secs(86_400);

        let mut ended = new_key(ada, acme.id, "ended");
        ended.expires_at = Some(now);
        store.insert_key(ended.clone()).await.unwrap();
        let before = Timestamp::parse("2001-01-01T00:00:00Z").unwrap();
        assert_eq!(
            store.claim_expiry_record(ended.id, before).await.unwrap(),
            None
        );
        let claimed = store.claim_expiry_record(ended.id, now).await.unwrap();
        assert_eq!(claimed.as_deref(), Some("ended"));
        assert_eq!(
            store.claim_expiry_record(ended.id, now).await.unwrap(),
            None
        );

        let forever = new_key(ada, acme.id, "forever");
        let mut soon = new_key(ada, acme.id, "soon");
        soon.expires_at = Some(now.plus(day));
        let mut late = new_key(ada, acme.id, "late");
        late.expires_at = Some(now.plus(day * 90));
        for key in [&forever, &soon, &late] {
            store.insert_key(key.clone()).await.unwrap();
        }
        let capped = store
            .set_max_key_lifetime(acme.id, Some(30 * 86_400), now)
            .await
            .unwrap();
        assert_eq!(capped, 2, "forever and late");
        let cap = Some(now.plus(day * 30));
        let read = |key: &NewKey| key.digest;
        for (key, expires) in [(&forever, cap), (&late, cap), (&soon, soon.expires_at)] {
            let grant = store.key_by_digest(&read(key)).await.unwrap().unwrap();
            assert_eq!(grant.expires_at, expires);
        }
        let acme_now = store.tenant(acme.id).await.unwrap().unwrap();
        assert_eq!(acme_now.max_key_lifetime_seconds, Some(30 * 86_400));
        assert_eq!(
            store
                .set_max_key_lifetime(acme.id, None, now)
                .await
                .unwrap(),
            0
        );
        let grant = store.key_by_digest(&forever.digest).await.unwrap().unwrap();
        assert_eq!(
            grant.expires_at, cap,
            "removing the maximum lengthens nothing"
        );
        assert_missing(
            store
                .set_max_key_lifetime(TenantId::generate(), Some(86_400), now)
                .await,
        );
    })
    .await;
}
