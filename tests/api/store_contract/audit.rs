//! The store contract for the audit trail and leak reports: a search reads a tenant's events
//! or a user's own (or both), filtered and paged; pruning deletes only events older than its
//! cut-off, at most a batch a statement; a leak report revokes each live key once, however
//! many reports race for it, records a notice, and announces the change.

use keyflow::store::{AuditOrder, AuditQuery, LeakReport};

use super::*;

fn event(actor: Option<UserId>, tenant: Option<TenantId>, action: &'static str) -> AuditEvent {
    AuditEvent {
        actor,
        tenant,
        action,
        ..AuditEvent::default()
    }
}

#[tokio::test]
async fn a_search_reads_a_tenants_events_or_a_users_own_filtered_and_paged() {
    each(|store| async move {
        let store = store.as_ref();
        let acme = tenant(store, "Acme").await;
        let other = tenant(store, "Other").await;
        let ada = member(store, acme.id, "ada@example.com", Role::Administrator).await;
        let bob = member(store, other.id, "bob@example.com", Role::Administrator).await;
        for action in ["key.created", "key.deleted", "key.created"] {
            store
                .record_audit(event(Some(ada), Some(acme.id), action))
                .await
                .unwrap();
        }
        store
            .record_audit(event(Some(bob), Some(other.id), "key.created"))
            .await
            .unwrap();
        store
            .record_audit(event(Some(ada), None, "user.signed_in"))
            .await
            .unwrap();

        let of = |tenant: Option<TenantId>, actor: Option<UserId>| AuditQuery {
            tenant,
            actor,
            limit: 100,
            ..AuditQuery::default()
        };
        assert_eq!(
            store
                .search_audit(&of(Some(acme.id), None))
                .await
                .unwrap()
                .total,
            3
        );
        assert_eq!(
            store
                .search_audit(&of(None, Some(bob)))
                .await
                .unwrap()
                .total,
            1
        );
        // Both: the tenant's and the user's own (a sign-in belongs to no tenant).
        assert_eq!(
            store
                .search_audit(&of(Some(acme.id), Some(ada)))
                .await
                .unwrap()
                .total,
            4
        );

        let created = AuditQuery {
            types: vec!["key.created".into()],
            order: AuditOrder::OccurredAt,
            descending: true,
            limit: 1,
            offset: 1,
            ..of(Some(acme.id), None)
        };
        let page = store.search_audit(&created).await.unwrap();
        assert_eq!((page.total, page.events.len()), (2, 1));
        assert_eq!(page.events[0].email.as_deref(), Some("ada@example.com"));
        let keys = AuditQuery {
            type_prefix: Some("key.".into()),
            ..of(None, Some(ada))
        };
        assert_eq!(store.search_audit(&keys).await.unwrap().total, 3);
        let later = AuditQuery {
            from: Some(Timestamp::now().plus(Duration::from_secs(60))),
            ..of(Some(acme.id), None)
        };
        assert_eq!(store.search_audit(&later).await.unwrap().total, 0);
    })
    .await;
}

#[tokio::test]
async fn pruning_deletes_only_older_events_a_batch_at_a_time() {
    each(|store| async move {
        let store = store.as_ref();
        let now = Timestamp::now();
        let old = now.minus(Duration::from_secs(3_600));
        for _ in 0..5 {
            let mut stale = event(None, None, "test.old");
            stale.at = Some(old);
            store.record_audit(stale).await.unwrap();
        }
        store
            .record_audit(event(None, None, "test.new"))
            .await
            .unwrap();
        let cut = now.minus(Duration::from_secs(60));
        assert_eq!(store.prune_audit(cut, 3).await.unwrap(), 3);
        assert_eq!(store.prune_audit(cut, 3).await.unwrap(), 2);
        assert_eq!(store.prune_audit(cut, 3).await.unwrap(), 0);
        let all = AuditQuery {
            limit: 10,
            ..AuditQuery::default()
        };
        let left = store.search_audit(&all).await.unwrap();
        assert_eq!(left.total, 1);
        assert_eq!(left.events[0].action, "test.new");
    })
    .await;
}

/// Eight reports of one key at once revoke it once: one notice, one event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leaked_key_is_revoked_once_however_many_reports_race() {
    each(|store| async move {
        let acme = tenant(store.as_ref(), "Acme").await;
        let ada = member(store.as_ref(), acme.id, "ada@example.com", Role::Standard).await;
        let key = new_key(ada, acme.id, "ci");
        let kept = new_key(ada, acme.id, "kept");
        store.insert_key(key.clone()).await.unwrap();
        store.insert_key(kept.clone()).await.unwrap();
        let before = store.change_counter().await.unwrap();
        let reports = (0..8).map(|_| {
            let store = store.clone();
            let digests = vec![key.digest, digest()];
            tokio::spawn(async move {
                let report = LeakReport {
                    url: Some("https://example.com/paste".into()),
                    address: Some("192.0.2.1".into()),
                    request_id: None,
                    at: Timestamp::now(),
                };
                store.report_leaks(&digests, &report).await.unwrap()
            })
        });
        let revoked: Vec<_> = futures_join(reports).await.into_iter().flatten().collect();
        assert_eq!(revoked.len(), 1, "{revoked:?}");
        assert_eq!(revoked[0].key_name, "ci");
        assert!(store.key_by_digest(&key.digest).await.unwrap().is_none());
        assert!(store.key_by_digest(&kept.digest).await.unwrap().is_some());
        let notices = store.leak_reports_of(ada).await.unwrap();
        assert_eq!(notices.len(), 1);
        assert_eq!(notices[0].url.as_deref(), Some("https://example.com/paste"));
        let events = AuditQuery {
            types: vec!["key.reported_leaked".into()],
            limit: 10,
            ..AuditQuery::default()
        };
        assert_eq!(store.search_audit(&events).await.unwrap().total, 1);
        // Announced, so every instance drops the key (SQLite's epoch moves too).
        assert!(store.change_counter().await.unwrap() > before);
        // Nothing to revoke: nothing written, nothing announced.
        let after = store.change_counter().await.unwrap();
        let report = LeakReport {
            url: None,
            address: None,
            request_id: None,
            at: Timestamp::now(),
        };
        assert!(
            store
                .report_leaks(&[key.digest], &report)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(store.change_counter().await.unwrap(), after);
    })
    .await;
}
