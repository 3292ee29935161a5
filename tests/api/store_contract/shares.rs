//! The store contract for packages shared by token: a share is found by its digest until it
//! expires (the caller's `now` decides, so no test waits), revoked one by one or all of a
//! flow's at once only within the flow's tenant, swept once expired, and gone with its flow.

use keyflow::store::NewShare;

use super::*;

fn share(tenant: TenantId, flow: FlowId, by: UserId, at: Timestamp, days: u64) -> NewShare {
    NewShare {
        digest: digest(),
        tenant_id: tenant,
        flow_id: flow,
        version_id: VersionId::generate(),
        package: r#"{"packageVersion":1,"note":"nul \u0000 kept"}"#.into(),
        created_by: by,
        created_at: at,
        expires_at: at.plus(Duration::from_secs(days * 86_400)),
    }
}

#[tokio::test]
async fn a_share_is_found_by_its_digest_until_it_expires_or_is_revoked() {
    each(|store| async move {
        let store = store.as_ref();
        let acme = tenant(store, "Acme").await;
        let other = tenant(store, "Other").await;
        let ada = member(store, acme.id, "ada@example.com", Role::Administrator).await;
        let flow = store.create_flow(acme.id, &draft("Shared"), ada).await;
        let flow = flow.unwrap().id;
        let now = Timestamp::now();
        let day = Duration::from_secs(86_400);

        let first = share(acme.id, flow, ada, now, 7);
        store.insert_share(first.clone()).await.unwrap();
        let found = store.shared_package(&first.digest, now).await.unwrap();
        let found = found.expect("a live share");
        assert_eq!(
            (found.tenant_id, found.flow_id, found.version_id),
            (acme.id, flow, first.version_id)
        );
        assert_eq!(
            (found.package, found.expires_at),
            (first.package.clone(), first.expires_at)
        );
        // Unknown digests, and the moment of expiry onwards, find nothing.
        assert!(
            store
                .shared_package(&digest(), now)
                .await
                .unwrap()
                .is_none()
        );
        let at_expiry = first.expires_at;
        assert!(
            store
                .shared_package(&first.digest, at_expiry)
                .await
                .unwrap()
                .is_none()
        );
        let before = now.plus(Duration::from_secs(7 * 86_400 - 1));
        assert!(
            store
                .shared_package(&first.digest, before)
                .await
                .unwrap()
                .is_some()
        );

        // A share of a flow the tenant does not have is Missing.
        let nowhere = share(acme.id, FlowId::generate(), ada, now, 7);
        assert_missing(store.insert_share(nowhere).await);

        // Revoking: only within the flow's tenant and flow, one digest or them all.
        let second = share(acme.id, flow, ada, now, 7);
        store.insert_share(second.clone()).await.unwrap();
        let d = Some(&first.digest);
        assert_eq!(store.revoke_shares(other.id, flow, d).await.unwrap(), 0);
        let elsewhere = FlowId::generate();
        assert_eq!(store.revoke_shares(acme.id, elsewhere, d).await.unwrap(), 0);
        assert_eq!(store.revoke_shares(acme.id, flow, d).await.unwrap(), 1);
        assert!(
            store
                .shared_package(&first.digest, now)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            store
                .shared_package(&second.digest, now)
                .await
                .unwrap()
                .is_some()
        );
        assert_eq!(store.revoke_shares(acme.id, flow, d).await.unwrap(), 0);
        let third = share(acme.id, flow, ada, now, 7);
        store.insert_share(third.clone()).await.unwrap();
        assert_eq!(store.revoke_shares(other.id, flow, None).await.unwrap(), 0);
        assert_eq!(store.revoke_shares(acme.id, flow, None).await.unwrap(), 2);
        assert!(
            store
                .shared_package(&third.digest, now)
                .await
                .unwrap()
                .is_none()
        );

        // Issuing sweeps the shares expired by then.
        let old = share(acme.id, flow, ada, now, 1);
        store.insert_share(old.clone()).await.unwrap();
        let later = share(acme.id, flow, ada, now.plus(day).plus(day), 7);
        store.insert_share(later.clone()).await.unwrap();
        let dump = store.export().await.unwrap();
        let digests: Vec<Digest> = dump.package_shares.iter().map(|s| s.digest).collect();
        assert_eq!(digests, [later.digest], "the expired share was swept");

        // Deleting the flow ends its shares.
        assert!(store.delete_flow(acme.id, flow).await.unwrap());
        assert!(
            store
                .shared_package(&later.digest, now.plus(day))
                .await
                .unwrap()
                .is_none()
        );
        assert!(store.export().await.unwrap().package_shares.is_empty());
    })
    .await;
}
