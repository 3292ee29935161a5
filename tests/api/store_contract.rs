//! The store contract: what every backend must do, checked through the library's public
//! interface (`keyflow::store`) with no server in front. Every operation of the `Store` traits
//! is called at least once, with the edge cases its documentation names (conflicts, missing
//! rows, `None`), and the guarantees that must hold under races: a tenant keeps an
//! administrator, a key name is unique per user and tenant, a password link works once.
//! Whole flows (elements, flow graphs, snapshot images) are checked in `elements`, packages
//! shared by token in `shares`.
//!
//! Each check runs against every backend [`backends`] opens: SQLite always, PostgreSQL when
//! `KEYFLOW_TEST_POSTGRES_URL` is set (`crate::postgres`).

mod audit;
mod dropped_writes;
mod elements;
mod key_lifecycle;
mod run_states;
mod shares;
mod usage_limits;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use keyflow::domain::flow::{FlowDraft, FlowSettings};
use keyflow::domain::{
    Digest, Email, FlowFilter, FlowId, FlowName, KeyId, KeyName, Networks, Page, Role, Scopes,
    TenantId, TenantName, Timestamp, UserId, VersionId,
};
use keyflow::store::{
    self, Activation, AuditEvent, Change, Heard, NewInvitation, NewKey, NewSession, NewToken,
    NewUser, Store, StoreConfig, StoreError, Tenant,
};

/// One backend under test, freshly opened on an empty database.
struct Backend {
    name: &'static str,
    /// What opens it again (to check what a close keeps).
    config: StoreConfig,
    store: Arc<dyn Store>,
    /// Whatever must outlive the store (a temporary data directory).
    _keep: Option<tempfile::TempDir>,
}

/// Every backend the contract runs against.
async fn backends() -> Vec<Backend> {
    let dir = tempfile::tempdir().expect("a data directory");
    let config = StoreConfig::in_data_dir(dir.path());
    let sqlite = store::open(&config).await.expect("open SQLite");
    let mut backends = vec![Backend {
        name: "sqlite",
        config,
        store: sqlite,
        _keep: Some(dir),
    }];
    if let Some(url) = crate::postgres::fresh_database("the store contract").await {
        let config = StoreConfig::Postgres { url };
        let postgres = store::open(&config).await.expect("open PostgreSQL");
        backends.push(Backend {
            name: "postgres",
            config,
            store: postgres,
            _keep: None,
        });
    }
    backends
}

/// Runs `check` against every backend, then closes it.
async fn each<F, Fut>(check: F)
where
    F: Fn(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()>,
{
    for backend in backends().await {
        println!("the store contract on {}", backend.name);
        check(backend.store.clone()).await;
        backend.store.close().await;
    }
}

async fn tenant(store: &dyn Store, name: &str) -> Tenant {
    let name = TenantName::parse(name).unwrap();
    store.create_tenant(&name).await.expect("create a tenant")
}

fn new_user(email: &str) -> NewUser {
    NewUser {
        id: UserId::generate(),
        email: Email::parse(email).unwrap(),
        first_name: Some("First".into()),
        last_name: None,
        password_hash: Some("$argon2id$stand-in".into()),
    }
}

/// A new user who is a member of `tenant` with `role`.
async fn member(store: &dyn Store, tenant: TenantId, email: &str, role: Role) -> UserId {
    let user = new_user(email);
    let id = user.id;
    store.create_user(user, tenant, role).await.expect("create");
    id
}

/// A digest no other test makes.
fn digest() -> Digest {
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    bytes[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    Digest::from_bytes(bytes)
}

fn new_key(user: UserId, tenant: TenantId, name: &str) -> NewKey {
    NewKey {
        id: KeyId::generate(),
        user_id: user,
        tenant_id: tenant,
        name: KeyName::parse(name).unwrap(),
        digest: digest(),
        preview: "kf_…abcd".into(),
        sealed: Some(vec![1, 2, 3]),
        created_at: Timestamp::now(),
        expires_at: None,
        scopes: Scopes::UNSCOPED,
        allowed_networks: Networks::default(),
        rate_per_second: None,
        rate_burst: None,
    }
}

fn draft(name: &str) -> FlowDraft {
    FlowDraft {
        developer_name: FlowName::parse(name).unwrap(),
        developer_summary: Some(format!("{name}, for the contract")),
        settings: FlowSettings::default(),
    }
}

fn filter(text: &str) -> FlowFilter {
    FlowFilter::parse(text).unwrap().expect("a filter")
}

fn names(flows: &[store::FlowRecord]) -> Vec<&str> {
    flows.iter().map(|f| f.developer_name.as_str()).collect()
}

#[track_caller]
fn assert_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
}

#[track_caller]
fn assert_missing<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    assert!(matches!(result, Err(StoreError::Missing(_))), "{result:?}");
}

#[tokio::test]
async fn tenants_are_created_read_and_updated() {
    each(|store| async move {
        let store = store.as_ref();
        let acme = tenant(store, "Acme").await;
        assert_eq!(
            (acme.name.as_str(), acme.summary.as_deref()),
            ("Acme", None)
        );
        let read = store.tenant(acme.id).await.unwrap().expect("the tenant");
        assert_eq!(
            (read.id, read.name, read.created_at),
            (acme.id, acme.name, acme.created_at)
        );
        assert!(store.tenant(TenantId::generate()).await.unwrap().is_none());

        let updated = store
            .update_tenant(acme.id, "acme-2", Some("Acme's flows"), None)
            .await
            .unwrap()
            .expect("updated");
        assert_eq!(updated.name, "acme-2");
        assert_eq!(updated.summary.as_deref(), Some("Acme's flows"));
        assert_eq!(updated.settings, None, "no settings until they are set");
        // Settings are JSON text, kept exactly (U+0000 and the keys' order too), and read back
        // by every read of the tenant, its members' memberships included.
        let settings = r#"{"themes":true,"zeta":"\u0000","alpha":[1]}"#;
        let set = store
            .update_tenant(acme.id, "acme-2", Some("Acme's flows"), Some(settings))
            .await
            .unwrap()
            .expect("updated");
        assert_eq!(set.settings.as_deref(), Some(settings));
        let read = store.tenant(acme.id).await.unwrap().expect("the tenant");
        assert_eq!(read.settings.as_deref(), Some(settings));
        let cleared = store
            .update_tenant(acme.id, "acme-2", None, None)
            .await
            .unwrap();
        let cleared = cleared.expect("updated");
        assert_eq!((cleared.summary, cleared.settings), (None, None));
        let nobody = store
            .update_tenant(TenantId::generate(), "x-y-z", None, None)
            .await;
        assert!(nobody.unwrap().is_none());
    })
    .await;
}

#[tokio::test]
async fn a_user_is_created_with_their_first_membership_or_not_at_all() {
    each(|store| async move {
        let store = store.as_ref();
        assert_eq!(store.count_users().await.unwrap(), 0);
        let acme = tenant(store, "Acme").await;
        let ada = new_user("ada@example.com");
        store
            .create_user(ada.clone(), acme.id, Role::Administrator)
            .await
            .unwrap();
        assert_eq!(store.count_users().await.unwrap(), 1);

        let read = store.user(ada.id).await.unwrap().expect("the user");
        assert_eq!(read.email, "ada@example.com");
        assert_eq!(read.first_name.as_deref(), Some("First"));
        assert_eq!(read.password_hash, ada.password_hash);
        let by_email = store.user_by_email(&ada.email).await.unwrap();
        assert_eq!(by_email.map(|user| user.id), Some(ada.id));
        assert_eq!(
            store.role_in(ada.id, acme.id).await.unwrap(),
            Some(Role::Administrator)
        );
        assert!(store.user(UserId::generate()).await.unwrap().is_none());
        let stranger = Email::parse("nobody@example.com").unwrap();
        assert!(store.user_by_email(&stranger).await.unwrap().is_none());

        // The email is taken: nothing is written.
        let twin = new_user("ada@example.com");
        assert_conflict(
            store
                .create_user(twin.clone(), acme.id, Role::Standard)
                .await,
        );
        assert!(store.user(twin.id).await.unwrap().is_none());
        // No such tenant: neither the user nor the membership is written.
        let lost = new_user("lost@example.com");
        let missing = store.create_user(lost.clone(), TenantId::generate(), Role::Standard);
        assert_missing(missing.await);
        assert!(store.user_by_email(&lost.email).await.unwrap().is_none());
        assert_eq!(store.count_users().await.unwrap(), 1);
    })
    .await;
}

#[tokio::test]
async fn memberships_are_added_listed_paged_and_counted() {
    each(|store| async move {
        let store = store.as_ref();
        let acme = tenant(store, "Acme").await;
        let other = tenant(store, "Other").await;
        let ada = member(store, acme.id, "ada@example.com", Role::Administrator).await;
        let bob = member(store, other.id, "bob@example.com", Role::Administrator).await;
        let cy = member(store, other.id, "cy@example.com", Role::Standard).await;
        store
            .add_membership(bob, acme.id, Role::Standard)
            .await
            .unwrap();
        store
            .add_membership(cy, acme.id, Role::Administrator)
            .await
            .unwrap();
        assert_conflict(store.add_membership(bob, acme.id, Role::Standard).await);
        assert_missing(
            store
                .add_membership(bob, TenantId::generate(), Role::Standard)
                .await,
        );

        assert_eq!(store.member_count(acme.id).await.unwrap(), 3);
        assert_eq!(store.member_count(TenantId::generate()).await.unwrap(), 0);
        // Oldest membership first, a page at a time, with the total.
        let (first, total) = store.members(acme.id, Page::first(2)).await.unwrap();
        let ids: Vec<UserId> = first.iter().map(|m| m.id).collect();
        assert_eq!((ids, total), (vec![ada, bob], 3));
        let second = Page::parse(Some("2"), Some("2")).unwrap().unwrap();
        let (rest, total) = store.members(acme.id, second).await.unwrap();
        assert_eq!(rest.len(), 1);
        assert_eq!(
            (rest[0].id, rest[0].role, total),
            (cy, Role::Administrator, 3)
        );

        let bob_here = store.member(acme.id, bob).await.unwrap().expect("a member");
        assert_eq!(bob_here.email, "bob@example.com");
        assert_eq!(bob_here.role, Role::Standard);
        assert!(
            store
                .member(acme.id, UserId::generate())
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            store
                .member(TenantId::generate(), bob)
                .await
                .unwrap()
                .is_none()
        );

        let tenants = store.memberships(bob).await.unwrap();
        let listed: Vec<(TenantId, &str, Role)> = tenants
            .iter()
            .map(|m| (m.tenant.id, m.tenant.name.as_str(), m.role))
            .collect();
        assert_eq!(
            listed,
            vec![
                (other.id, "Other", Role::Administrator),
                (acme.id, "Acme", Role::Standard)
            ]
        );
        assert!(
            store
                .memberships(UserId::generate())
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(store.role_in(ada, other.id).await.unwrap(), None);
    })
    .await;
}

#[tokio::test]
async fn roles_and_names_change_but_a_tenant_keeps_an_administrator() {
    each(|store| async move {
        let store = store.as_ref();
        let acme = tenant(store, "Acme").await;
        let ada = member(store, acme.id, "ada@example.com", Role::Administrator).await;
        let bob = member(store, acme.id, "bob@example.com", Role::Standard).await;

        assert!(
            store
                .set_role(bob, acme.id, Role::Administrator)
                .await
                .unwrap()
        );
        assert!(store.set_role(ada, acme.id, Role::Standard).await.unwrap());
        // Bob is the last administrator now.
        assert_conflict(store.set_role(bob, acme.id, Role::Standard).await);
        assert_eq!(
            store.role_in(bob, acme.id).await.unwrap(),
            Some(Role::Administrator)
        );
        // Making an administrator of an administrator is no change, and no conflict.
        assert!(
            store
                .set_role(bob, acme.id, Role::Administrator)
                .await
                .unwrap()
        );
        let stranger = UserId::generate();
        assert!(
            !store
                .set_role(stranger, acme.id, Role::Standard)
                .await
                .unwrap()
        );

        store.set_names(ada, Some("Ada"), None).await.unwrap();
        let ada_now = store.user(ada).await.unwrap().unwrap();
        assert_eq!(
            (ada_now.first_name.as_deref(), ada_now.last_name.as_deref()),
            (Some("Ada"), None)
        );
        store.set_names(ada, None, Some("Lovelace")).await.unwrap();
        let ada_now = store.user(ada).await.unwrap().unwrap();
        assert_eq!(
            (ada_now.first_name.as_deref(), ada_now.last_name.as_deref()),
            (None, Some("Lovelace"))
        );
    })
    .await;
}

#[tokio::test]
async fn removing_a_member_takes_their_keys_there_and_moves_the_change_counter() {
    each(|store| async move {
        let store = store.as_ref();
        let acme = tenant(store, "Acme").await;
        let other = tenant(store, "Other").await;
        let ada = member(store, acme.id, "ada@example.com", Role::Administrator).await;
        let bob = member(store, acme.id, "bob@example.com", Role::Standard).await;
        store
            .add_membership(bob, other.id, Role::Administrator)
            .await
            .unwrap();
        let here = new_key(bob, acme.id, "ci");
        let there = new_key(bob, other.id, "ci");
        store.insert_key(here.clone()).await.unwrap();
        store.insert_key(there.clone()).await.unwrap();
        let epoch = store.change_counter().await.unwrap();

        assert!(store.remove_membership(bob, acme.id).await.unwrap());
        assert!(store.change_counter().await.unwrap() > epoch);
        assert_eq!(store.role_in(bob, acme.id).await.unwrap(), None);
        assert!(store.key_by_digest(&here.digest).await.unwrap().is_none());
        let left: Vec<KeyId> = store
            .keys_of_user(bob)
            .await
            .unwrap()
            .iter()
            .map(|k| k.id)
            .collect();
        assert_eq!(left, vec![there.id]);
        assert!(!store.remove_membership(bob, acme.id).await.unwrap());

        // Ada is Acme's last administrator.
        assert_conflict(store.remove_membership(ada, acme.id).await);
        assert_eq!(
            store.role_in(ada, acme.id).await.unwrap(),
            Some(Role::Administrator)
        );
    })
    .await;
}

/// An invitation for `email` to `tenant`, its link expiring at `expires_at`.
fn invitation(
    email: &str,
    tenant: TenantId,
    now: Timestamp,
    expires_at: Timestamp,
) -> NewInvitation {
    NewInvitation {
        id: UserId::generate(),
        email: Email::parse(email).unwrap(),
        tenant,
        role: Role::Standard,
        first_name: Some("Invited".into()),
        last_name: None,
        link_digest: digest(),
        created_at: now,
        expires_at,
    }
}

#[tokio::test]
async fn an_invitation_is_pending_until_its_link_accepts_it_once_and_not_once_it_has_expired() {
    each(|store| async move {
        let store = store.as_ref();
        let acme = tenant(store, "Acme").await;
        let other = tenant(store, "Other").await;
        let now = Timestamp::now();
        let hour = Duration::from_secs(3600);

        // A new email: the account is made with no password, and the member is pending.
        let ann = invitation("ann@example.com", acme.id, now, now.plus(hour));
        let pending = store.invite(ann.clone()).await.unwrap();
        assert!(pending.pending);
        assert_eq!((pending.id, pending.account), (ann.id, ann.id));
        assert_eq!(pending.first_name.as_deref(), Some("Invited"));
        let waiting = store.user(ann.id).await.unwrap().unwrap();
        assert_eq!(waiting.password_hash, None, "no usable password yet");
        assert_eq!(store.role_in(ann.id, acme.id).await.unwrap(), None);
        assert_eq!(store.member_count(acme.id).await.unwrap(), 0);
        assert!(
            store
                .member(acme.id, ann.id)
                .await
                .unwrap()
                .unwrap()
                .pending
        );
        assert_conflict(
            store
                .invite(invitation("ann@example.com", acme.id, now, now.plus(hour)))
                .await,
        );
        assert_missing(
            store
                .invite(invitation(
                    "ann@example.com",
                    TenantId::generate(),
                    now,
                    now.plus(hour),
                ))
                .await,
        );
        // Its role and names change while it waits.
        assert!(
            store
                .update_invitation(acme.id, ann.id, Role::Administrator, Some("Ann"), None)
                .await
                .unwrap()
        );
        assert!(
            !store
                .update_invitation(acme.id, UserId::generate(), Role::Standard, None, None)
                .await
                .unwrap()
        );

        // The link leads to it, accepts it once, and the membership begins then.
        let grant = store
            .invitation_by_link(&ann.link_digest, now)
            .await
            .unwrap();
        let grant = grant.expect("an unexpired link");
        assert_eq!(
            (grant.user_id, grant.tenant_id, grant.password_hash),
            (ann.id, acme.id, None)
        );
        let accepted = store
            .accept_invitation(&ann.link_digest, now, Some("$new"))
            .await
            .unwrap();
        assert_eq!(accepted, Some((ann.id, acme.id)));
        let set = store.user(ann.id).await.unwrap().unwrap();
        assert_eq!(set.password_hash.as_deref(), Some("$new"));
        assert_eq!(
            set.first_name.as_deref(),
            Some("Ann"),
            "the invitation's names"
        );
        assert_eq!(
            store.role_since(ann.id, acme.id).await.unwrap(),
            Some((Role::Administrator, now))
        );
        let again = store
            .accept_invitation(&ann.link_digest, now, Some("$again"))
            .await;
        assert_eq!(again.unwrap(), None, "a link works once");
        assert!(
            store
                .invitation_by_link(&digest(), now)
                .await
                .unwrap()
                .is_none()
        );

        // An account that has a password: the member shown is the invitation's, with a fresh
        // id, and accepting it leaves the password as it is (and must be told so).
        let to_other = invitation("ann@example.com", other.id, now, now.plus(hour));
        let shown = store.invite(to_other.clone()).await.unwrap();
        assert_eq!(shown.id, to_other.id);
        assert_ne!(shown.id, ann.id, "no account id is shown while pending");
        assert_conflict(
            store
                .accept_invitation(&to_other.link_digest, now, Some("$other"))
                .await,
        );
        let joined = store
            .accept_invitation(&to_other.link_digest, now, None)
            .await
            .unwrap();
        assert_eq!(joined, Some((ann.id, other.id)));
        let kept = store.user(ann.id).await.unwrap().unwrap();
        assert_eq!(kept.password_hash.as_deref(), Some("$new"));

        // An expired link grants nothing; a withdrawn one neither.
        let ben = invitation("ben@example.com", acme.id, now, now.plus(hour));
        store.invite(ben.clone()).await.unwrap();
        let after = now.plus(hour).plus(Duration::from_secs(1));
        assert!(
            store
                .invitation_by_link(&ben.link_digest, after)
                .await
                .unwrap()
                .is_none()
        );
        let late = store
            .accept_invitation(&ben.link_digest, after, Some("$late"))
            .await;
        assert_eq!(late.unwrap(), None);
        assert!(store.remove_membership(ben.id, acme.id).await.unwrap());
        let withdrawn = store
            .accept_invitation(&ben.link_digest, now, Some("$w"))
            .await;
        assert_eq!(withdrawn.unwrap(), None);
        assert_eq!(
            store.user(ben.id).await.unwrap().unwrap().password_hash,
            None
        );
    })
    .await;
}

#[tokio::test]
async fn keys_are_unique_per_user_and_tenant_and_found_by_their_digest() {
    each(|store| async move {
        let store = store.as_ref();
        let acme = tenant(store, "Acme").await;
        let other = tenant(store, "Other").await;
        let elsewhere = tenant(store, "Elsewhere").await;
        let ada = member(store, acme.id, "ada@example.com", Role::Administrator).await;
        let bob = member(store, acme.id, "bob@example.com", Role::Standard).await;
        store
            .add_membership(ada, other.id, Role::Standard)
            .await
            .unwrap();

        let ci = new_key(ada, acme.id, "ci");
        store.insert_key(ci.clone()).await.unwrap();
        assert_conflict(store.insert_key(new_key(ada, acme.id, "ci")).await);
        let ci_other = new_key(ada, other.id, "ci");
        store.insert_key(ci_other.clone()).await.unwrap();
        let bobs = new_key(bob, acme.id, "ci");
        store.insert_key(bobs.clone()).await.unwrap();
        // Not a member of that tenant.
        assert_missing(store.insert_key(new_key(ada, elsewhere.id, "ci")).await);
        let mut expiring = new_key(ada, acme.id, "expiring");
        expiring.expires_at = Some(Timestamp::now().plus(Duration::from_secs(60)));
        // Narrowed: its scopes and networks come back in its grant and in the list.
        expiring.scopes = Scopes::parse(["flows:read", "admin:write"]).unwrap();
        expiring.allowed_networks = Networks::parse(["10.0.0.0/8", "2001:db8::1"]).unwrap();
        store.insert_key(expiring.clone()).await.unwrap();

        let grant = store
            .key_by_digest(&ci.digest)
            .await
            .unwrap()
            .expect("a grant");
        assert_eq!(
            (
                grant.key_id,
                grant.user_id,
                grant.tenant_id,
                grant.expires_at
            ),
            (ci.id, ada, acme.id, None)
        );
        let grant = store
            .key_by_digest(&expiring.digest)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(grant.expires_at, expiring.expires_at);
        assert_eq!(grant.scopes, expiring.scopes);
        assert_eq!(grant.allowed_networks, expiring.allowed_networks);
        let unscoped = store.key_by_digest(&ci.digest).await.unwrap().unwrap();
        assert!(unscoped.scopes.is_unscoped() && unscoped.allowed_networks.is_empty());
        assert!(store.key_by_digest(&digest()).await.unwrap().is_none());

        // Oldest first, in every tenant, with the tenant's name.
        let listed = store.keys_of_user(ada).await.unwrap();
        let seen: Vec<(KeyId, &str, &str)> = listed
            .iter()
            .map(|k| (k.id, k.tenant_name.as_str(), k.name.as_str()))
            .collect();
        assert_eq!(
            seen,
            vec![
                (ci.id, "Acme", "ci"),
                (ci_other.id, "Other", "ci"),
                (expiring.id, "Acme", "expiring")
            ]
        );
        assert_eq!(listed[0].preview, "kf_…abcd");
        assert_eq!(listed[0].sealed.as_deref(), Some(&[1u8, 2, 3][..]));
        assert_eq!(listed[0].created_at, ci.created_at);
        assert_eq!(listed[2].expires_at, expiring.expires_at);
        assert_eq!(listed[2].scopes, expiring.scopes);
        assert_eq!(listed[2].allowed_networks, expiring.allowed_networks);
        assert!(
            store
                .keys_of_user(UserId::generate())
                .await
                .unwrap()
                .is_empty()
        );

        let epoch = store.change_counter().await.unwrap();
        assert!(
            !store.delete_key(bob, ci.id).await.unwrap(),
            "not Bob's key"
        );
        assert!(store.key_by_digest(&ci.digest).await.unwrap().is_some());
        assert_eq!(store.change_counter().await.unwrap(), epoch);
        assert!(store.delete_key(ada, ci.id).await.unwrap());
        assert!(store.change_counter().await.unwrap() > epoch);
        assert!(store.key_by_digest(&ci.digest).await.unwrap().is_none());
        assert!(!store.delete_key(ada, ci.id).await.unwrap(), "already gone");

        // Many keys at once: all or none.
        let batch = vec![new_key(bob, acme.id, "one"), new_key(bob, acme.id, "one")];
        let (first, second) = (batch[0].digest, batch[1].digest);
        assert_conflict(store.insert_keys(batch).await);
        assert!(store.key_by_digest(&first).await.unwrap().is_none());
        assert!(store.key_by_digest(&second).await.unwrap().is_none());
        let batch = vec![new_key(bob, acme.id, "one"), new_key(bob, acme.id, "two")];
        store.insert_keys(batch).await.unwrap();
        assert_eq!(store.keys_of_user(bob).await.unwrap().len(), 3);

        // Forgetting the sealed copies: each once.
        let sealed = 5;
        assert_eq!(store.purge_sealed().await.unwrap(), sealed);
        assert_eq!(store.purge_sealed().await.unwrap(), 0);
        let all = [
            store.keys_of_user(ada).await.unwrap(),
            store.keys_of_user(bob).await.unwrap(),
        ];
        assert!(all.iter().flatten().all(|key| key.sealed.is_none()));
    })
    .await;
}

#[tokio::test]
async fn tokens_and_sessions_are_found_by_their_digest_and_a_password_change_ends_the_others() {
    each(|store| async move {
        let store = store.as_ref();
        let acme = tenant(store, "Acme").await;
        let ada = member(store, acme.id, "ada@example.com", Role::Administrator).await;
        let now = Timestamp::now();
        let day = now.plus(Duration::from_secs(86_400));

        let token = NewToken {
            digest: digest(),
            user_id: ada,
            tenant_id: acme.id,
            signed_in_at: now,
            created_at: now,
            expires_at: day,
            key_id: None,
        };
        store.insert_token(token.clone()).await.unwrap();
        let grant = store
            .token_by_digest(&token.digest)
            .await
            .unwrap()
            .expect("a grant");
        assert_eq!(
            (
                grant.user_id,
                grant.tenant_id,
                grant.expires_at,
                grant.key_id
            ),
            (ada, acme.id, day, None)
        );
        assert!(store.token_by_digest(&digest()).await.unwrap().is_none());

        let session = |digest| NewSession {
            digest,
            user_id: ada,
            created_at: now,
            expires_at: day,
        };
        let (kept, other, gone) = (digest(), digest(), digest());
        for digest in [kept, other, gone] {
            store.insert_session(session(digest)).await.unwrap();
        }
        let grant = store
            .session_by_digest(&kept)
            .await
            .unwrap()
            .expect("a session");
        assert_eq!((grant.user_id, grant.expires_at), (ada, day));
        assert!(store.session_by_digest(&digest()).await.unwrap().is_none());
        store.delete_session(&gone).await.unwrap();
        assert!(store.session_by_digest(&gone).await.unwrap().is_none());
        store.delete_session(&gone).await.unwrap();

        store.change_password(ada, "$changed", &kept).await.unwrap();
        let changed = store.user(ada).await.unwrap().unwrap();
        assert_eq!(changed.password_hash.as_deref(), Some("$changed"));
        assert!(store.session_by_digest(&kept).await.unwrap().is_some());
        assert!(store.session_by_digest(&other).await.unwrap().is_none());
        assert!(
            store
                .token_by_digest(&token.digest)
                .await
                .unwrap()
                .is_none()
        );
        assert_missing(store.change_password(UserId::generate(), "$x", &kept).await);
    })
    .await;
}

#[tokio::test]
async fn a_key_bound_token_ends_with_its_key_and_never_outlives_it() {
    each(|store| async move {
        let store = store.as_ref();
        let acme = tenant(store, "Acme").await;
        let ada = member(store, acme.id, "ada@example.com", Role::Administrator).await;
        let bob = member(store, acme.id, "bob@example.com", Role::Standard).await;
        let now = Timestamp::now();
        let hour = now.plus(Duration::from_secs(3_600));
        let day = now.plus(Duration::from_secs(86_400));
        let bound = |user, key: KeyId| NewToken {
            digest: digest(),
            user_id: user,
            tenant_id: acme.id,
            signed_in_at: now,
            created_at: now,
            expires_at: day,
            key_id: Some(key),
        };

        // A key that expires within the hour: its token's grant ends then, not in a day.
        let mut short = new_key(ada, acme.id, "short");
        short.expires_at = Some(hour);
        // Narrowed: the token has the key's scopes and networks.
        short.scopes = Scopes::parse(["elements:read"]).unwrap();
        short.allowed_networks = Networks::parse(["192.0.2.0/24"]).unwrap();
        let (short_id, scopes, networks) = (short.id, short.scopes, short.allowed_networks.clone());
        store.insert_key(short).await.unwrap();
        let token = bound(ada, short_id);
        store.insert_token(token.clone()).await.unwrap();
        let grant = store
            .token_by_digest(&token.digest)
            .await
            .unwrap()
            .expect("a grant");
        assert_eq!((grant.key_id, grant.expires_at), (Some(short_id), hour));
        assert_eq!((grant.scopes, grant.allowed_networks), (scopes, networks));

        // A key without an expiry leaves the token's own.
        let lasting = new_key(ada, acme.id, "lasting");
        let lasting_id = lasting.id;
        store.insert_key(lasting).await.unwrap();
        let other = bound(ada, lasting_id);
        store.insert_token(other.clone()).await.unwrap();
        let grant = store
            .token_by_digest(&other.digest)
            .await
            .unwrap()
            .expect("a grant");
        assert_eq!((grant.key_id, grant.expires_at), (Some(lasting_id), day));
        assert!(grant.scopes.is_unscoped() && grant.allowed_networks.is_empty());

        // Deleting the key deletes its tokens, and only them.
        assert!(store.delete_key(ada, short_id).await.unwrap());
        assert!(
            store
                .token_by_digest(&token.digest)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            store
                .token_by_digest(&other.digest)
                .await
                .unwrap()
                .is_some()
        );
        // A token for a key already gone is refused, not stored.
        assert_missing(store.insert_token(bound(ada, short_id)).await);

        // Removing the owner from the tenant deletes the key and so its tokens.
        let bobs = new_key(bob, acme.id, "bobs");
        let bobs_id = bobs.id;
        store.insert_key(bobs).await.unwrap();
        let bobs_token = bound(bob, bobs_id);
        store.insert_token(bobs_token.clone()).await.unwrap();
        assert!(store.remove_membership(bob, acme.id).await.unwrap());
        assert!(
            store
                .token_by_digest(&bobs_token.digest)
                .await
                .unwrap()
                .is_none()
        );
    })
    .await;
}

#[tokio::test]
async fn flows_are_created_listed_filtered_updated_and_deleted_within_their_tenant() {
    each(|store| async move {
        let store = store.as_ref();
        let acme = tenant(store, "Acme").await;
        let other = tenant(store, "Other").await;
        let ada = member(store, acme.id, "ada@example.com", Role::Administrator).await;
        let bob = member(store, acme.id, "bob@example.com", Role::Standard).await;

        let beta = store
            .create_flow(acme.id, &draft("Beta"), ada)
            .await
            .unwrap();
        assert_eq!(beta.developer_name, "Beta");
        assert_eq!(
            beta.developer_summary.as_deref(),
            Some("Beta, for the contract")
        );
        assert_eq!((beta.who_created.id, beta.who_owner.id), (ada, ada));
        assert_eq!(beta.who_created.email.as_deref(), Some("ada@example.com"));
        assert!(beta.snapshot.is_none());
        let elements = store.flow_elements(acme.id, beta.id).await.unwrap();
        assert_eq!(elements.len(), 1);
        assert_eq!(elements[0].document["elementType"], "START");
        assert_eq!(
            Some(elements[0].id.to_string()),
            beta.start_map_element_id.clone()
        );
        store
            .create_flow(acme.id, &draft("alpha"), ada)
            .await
            .unwrap();

        let all = store.list_flows(acme.id, None).await.unwrap();
        assert_eq!(names(&all), ["alpha", "Beta"], "by name, ignoring case");
        let exact = filter("developerName eq 'BETA'");
        assert_eq!(
            names(&store.list_flows(acme.id, Some(&exact)).await.unwrap()),
            ["Beta"]
        );
        let part = filter("substringof(developerName, 'LPH')");
        assert_eq!(
            names(&store.list_flows(acme.id, Some(&part)).await.unwrap()),
            ["alpha"]
        );
        let read = store
            .flow(acme.id, beta.id)
            .await
            .unwrap()
            .expect("the flow");
        assert_eq!(read.version_id, beta.version_id);
        // Another tenant sees none of it.
        assert!(store.list_flows(other.id, None).await.unwrap().is_empty());
        assert!(store.flow(other.id, beta.id).await.unwrap().is_none());
        assert_missing(store.flow_elements(other.id, beta.id).await);
        assert!(
            store
                .update_flow(other.id, beta.id, &draft("X"), ada)
                .await
                .unwrap()
                .is_none()
        );
        assert!(!store.delete_flow(other.id, beta.id).await.unwrap());

        let gamma = store
            .update_flow(acme.id, beta.id, &draft("Gamma"), bob)
            .await
            .unwrap()
            .expect("updated");
        assert_eq!(
            (gamma.id, gamma.developer_name.as_str()),
            (beta.id, "Gamma")
        );
        assert_ne!(gamma.version_id, beta.version_id, "a new version");
        assert_eq!((gamma.who_created.id, gamma.who_modified.id), (ada, bob));
        let unknown = FlowId::generate();
        assert!(
            store
                .update_flow(acme.id, unknown, &draft("X"), ada)
                .await
                .unwrap()
                .is_none()
        );
        assert!(store.flow(acme.id, unknown).await.unwrap().is_none());

        assert!(store.delete_flow(acme.id, beta.id).await.unwrap());
        assert!(!store.delete_flow(acme.id, beta.id).await.unwrap());
        assert!(store.flow(acme.id, beta.id).await.unwrap().is_none());
        assert_missing(store.flow_elements(acme.id, beta.id).await);
        assert_eq!(
            names(&store.list_flows(acme.id, None).await.unwrap()),
            ["alpha"]
        );
    })
    .await;
}

#[tokio::test]
async fn snapshots_freeze_a_version_and_activation_picks_the_running_one() {
    each(|store| async move {
        let store = store.as_ref();
        let acme = tenant(store, "Acme").await;
        let ada = member(store, acme.id, "ada@example.com", Role::Administrator).await;
        let flow = store
            .create_flow(acme.id, &draft("Orders"), ada)
            .await
            .unwrap();
        let (id, unknown_flow, unknown_version) =
            (flow.id, FlowId::generate(), VersionId::generate());

        let first = store
            .snapshot_flow(acme.id, id, Some("first"), None)
            .await
            .unwrap();
        assert_eq!(
            first.version_id, flow.version_id,
            "the current version is frozen"
        );
        let state = first.snapshot.clone().expect("a snapshot");
        assert_eq!(state.comment.as_deref(), Some("first"));
        assert!(!state.is_active && !state.is_default);
        let editing = store.flow(acme.id, id).await.unwrap().unwrap();
        assert_ne!(editing.version_id, first.version_id, "the flow moves on");
        assert_missing(store.snapshot_flow(acme.id, unknown_flow, None, None).await);

        store
            .update_flow(acme.id, id, &draft("Orders v2"), ada)
            .await
            .unwrap();
        let second = store.snapshot_flow(acme.id, id, None, None).await.unwrap();
        let listed = store.snapshots(acme.id, id).await.unwrap();
        let versions: Vec<VersionId> = listed.iter().map(|s| s.version_id).collect();
        assert_eq!(
            versions,
            [second.version_id, first.version_id],
            "newest first"
        );
        assert_missing(store.snapshots(acme.id, unknown_flow).await);
        let read = store.snapshot(acme.id, id, first.version_id).await.unwrap();
        assert_eq!(read.developer_name, "Orders");
        assert_missing(store.snapshot(acme.id, id, unknown_version).await);
        assert_missing(
            store
                .snapshot(acme.id, unknown_flow, first.version_id)
                .await,
        );

        let running = |flow: Option<FlowId>, filter: Option<FlowFilter>| async move {
            let active = store
                .active_flows(acme.id, flow, filter.as_ref())
                .await
                .unwrap();
            active.iter().map(|f| f.version_id).collect::<Vec<_>>()
        };
        assert!(running(None, None).await.is_empty());
        let on = Activation {
            is_default: false,
            is_active: true,
        };
        let on_by_default = Activation {
            is_default: true,
            is_active: true,
        };
        let activated = store
            .activate(acme.id, id, first.version_id, on, Some("ada@example.com"))
            .await
            .unwrap();
        let state = activated.snapshot.expect("a snapshot");
        assert!(state.is_active && !state.is_default);
        assert_eq!(state.activated_by.as_deref(), Some("ada@example.com"));
        assert_eq!(running(None, None).await, [first.version_id]);
        // The default runs, whichever was activated last.
        store
            .activate(acme.id, id, second.version_id, on_by_default, None)
            .await
            .unwrap();
        assert_eq!(running(None, None).await, [second.version_id]);
        store
            .activate(acme.id, id, first.version_id, on_by_default, None)
            .await
            .unwrap();
        let demoted = store
            .snapshot(acme.id, id, second.version_id)
            .await
            .unwrap();
        let demoted = demoted.snapshot.expect("a snapshot");
        assert!(
            demoted.is_active && !demoted.is_default,
            "one default per flow"
        );
        assert_eq!(running(Some(id), None).await, [first.version_id]);
        let by_name = filter("developerName eq 'orders'");
        assert_eq!(running(None, Some(by_name)).await, [first.version_id]);
        let no_match = filter("substringof(developerName, 'invoices')");
        assert!(running(None, Some(no_match)).await.is_empty());
        assert!(running(Some(unknown_flow), None).await.is_empty());
        assert_missing(store.activate(acme.id, id, unknown_version, on, None).await);
        assert_missing(
            store
                .activate(acme.id, unknown_flow, first.version_id, on, None)
                .await,
        );

        store.deactivate(acme.id, id).await.unwrap();
        assert!(running(None, None).await.is_empty());
        for snapshot in store.snapshots(acme.id, id).await.unwrap() {
            let state = snapshot.snapshot.expect("a snapshot");
            assert!(!state.is_active && !state.is_default);
        }
        assert_missing(store.deactivate(acme.id, unknown_flow).await);
    })
    .await;
}

#[tokio::test]
async fn settings_audit_records_and_the_health_probe() {
    each(|store| async move {
        let store = store.as_ref();
        assert_eq!(store.meta("contract").await.unwrap(), None);
        assert_eq!(store.claim_meta("contract", "1").await.unwrap(), "1");
        assert_eq!(
            store.claim_meta("contract", "2").await.unwrap(),
            "1",
            "the first claim holds"
        );
        assert_eq!(store.meta("contract").await.unwrap().as_deref(), Some("1"));
        // Claimed at the same moment: both are told the one value that holds.
        let (a, b) = tokio::join!(
            store.claim_meta("raced", "a"),
            store.claim_meta("raced", "b")
        );
        assert_eq!(a.unwrap(), b.unwrap());
        let acme = tenant(store, "Acme").await;
        let ada = member(store, acme.id, "ada@example.com", Role::Administrator).await;
        let event = AuditEvent {
            actor: Some(ada),
            tenant: Some(acme.id),
            action: "contract.checked",
            subject: Some("everything".into()),
            ..AuditEvent::default()
        };
        store.record_audit(event).await.unwrap();
        let anonymous = AuditEvent {
            actor: None,
            tenant: None,
            action: "contract.checked",
            subject: None,
            ..AuditEvent::default()
        };
        store.record_audit(anonymous).await.unwrap();
        store.ping().await.unwrap();
    })
    .await;
}

/// What was written before a clean close is there when the store is opened again.
#[tokio::test]
async fn a_closed_store_opens_again_with_everything_written() {
    for backend in backends().await {
        let store = backend.store.as_ref();
        let acme = tenant(store, "Acme").await;
        store.claim_meta("contract", "kept").await.unwrap();
        let epoch = store.change_counter().await.unwrap();
        store.close().await;

        let again = store::open(&backend.config).await.expect("open again");
        assert_eq!(
            again.meta("contract").await.unwrap().as_deref(),
            Some("kept")
        );
        assert_eq!(
            again
                .tenant(acme.id)
                .await
                .unwrap()
                .map(|t| t.name)
                .as_deref(),
            Some("Acme")
        );
        assert_eq!(again.change_counter().await.unwrap(), epoch);
        again.close().await;
    }
}

/// Two administrators demoted or removed at the same moment: one change wins, the other is a
/// conflict, and the tenant is left with exactly one administrator, every time. (PostgreSQL
/// runs both at once on two connections: this fails there without the tenant's row lock.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_demotions_and_removals_leave_exactly_one_administrator() {
    each(|store| async move {
        for round in 0..100 {
            let acme = tenant(store.as_ref(), &format!("Race {round}")).await;
            let mut admins = Vec::new();
            for name in ["a", "b"] {
                let email = format!("{name}{round}@race.example");
                admins.push(member(store.as_ref(), acme.id, &email, Role::Administrator).await);
            }
            // Both demoted, both removed, or one of each, round by round.
            let (demote_a, demote_b) = match round % 3 {
                0 => (true, true),
                1 => (false, false),
                _ => (true, false),
            };
            let change = |user: UserId, demote: bool| {
                let store = store.clone();
                async move {
                    if demote {
                        store.set_role(user, acme.id, Role::Standard).await
                    } else {
                        store.remove_membership(user, acme.id).await
                    }
                }
            };
            let (a, b) = tokio::join!(change(admins[0], demote_a), change(admins[1], demote_b));
            let results = [a, b];
            let won = results.iter().filter(|r| matches!(r, Ok(true))).count();
            let refused = results
                .iter()
                .filter(|r| matches!(r, Err(StoreError::Conflict(_))))
                .count();
            assert_eq!((won, refused), (1, 1), "round {round}: {results:?}");
            let (members, _) = store.members(acme.id, Page::first(10)).await.unwrap();
            let left = members
                .iter()
                .filter(|m| m.role == Role::Administrator)
                .count();
            assert_eq!(left, 1, "round {round}");
        }
    })
    .await;
}

/// Creates of keys of the same name, for the same user and tenant, at the same moment (twenty
/// at once, more than a PostgreSQL pool's connections): one is stored, every other is a
/// conflict.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_creates_of_one_key_name_store_exactly_one() {
    each(|store| async move {
        let acme = tenant(store.as_ref(), "Acme").await;
        let ada = member(
            store.as_ref(),
            acme.id,
            "ada@example.com",
            Role::Administrator,
        )
        .await;
        for round in 0..20 {
            let name = format!("key {round}");
            let creates = (0..20).map(|_| {
                let store = store.clone();
                let key = new_key(ada, acme.id, &name);
                tokio::spawn(async move { store.insert_key(key).await })
            });
            let results: Vec<Result<(), StoreError>> = futures_join(creates).await;
            let stored = results.iter().filter(|r| r.is_ok()).count();
            let refused = results
                .iter()
                .filter(|r| matches!(r, Err(StoreError::Conflict(_))))
                .count();
            assert_eq!((stored, refused), (1, 19), "round {round}: {results:?}");
            let keys = store.keys_of_user(ada).await.unwrap();
            assert_eq!(keys.iter().filter(|k| k.name == name).count(), 1);
        }
    })
    .await;
}

/// An invitation link used by several requests at the same moment is accepted once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invitation_link_raced_for_is_used_once() {
    each(|store| async move {
        let acme = tenant(store.as_ref(), "Acme").await;
        let now = Timestamp::now();
        for round in 0..20 {
            let email = format!("u{round}@race.example");
            let invited = invitation(&email, acme.id, now, now.plus(Duration::from_secs(3600)));
            let digest = invited.link_digest;
            store.invite(invited).await.unwrap();
            let uses = (0..4).map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    let hash = format!("$hash{i}");
                    store.accept_invitation(&digest, now, Some(&hash)).await
                })
            });
            let results: Vec<Result<Option<(UserId, TenantId)>, StoreError>> =
                futures_join(uses).await;
            let used = results.iter().filter(|r| matches!(r, Ok(Some(_)))).count();
            assert_eq!(used, 1, "round {round}: {results:?}");
        }
    })
    .await;
}

/// On a backend that other instances share (one that can be listened to), every write that
/// another instance may have cached is announced once it commits, in order, with the change
/// counter it left; a write that changed nothing is not announced.
#[tokio::test]
async fn writes_that_others_may_have_cached_are_announced_in_commit_order() {
    each(|store| async move {
        let Some(mut listener) = store.listen().await.unwrap() else {
            return; // SQLite: no other instance to tell.
        };
        let store = store.as_ref();
        let acme = tenant(store, "Acme").await;
        let ada = member(store, acme.id, "ada@example.com", Role::Administrator).await;
        let bob = member(store, acme.id, "bob@example.com", Role::Administrator).await;
        let key = new_key(bob, acme.id, "ci");
        store.insert_key(key.clone()).await.unwrap();
        let before = store.change_counter().await.unwrap();

        let flow = store
            .create_flow(acme.id, &draft("Orders"), ada)
            .await
            .unwrap();
        store
            .update_flow(acme.id, flow.id, &draft("Orders v2"), ada)
            .await
            .unwrap();
        let snapshot = store
            .snapshot_flow(acme.id, flow.id, None, None)
            .await
            .unwrap();
        let on = Activation {
            is_default: true,
            is_active: true,
        };
        store
            .activate(acme.id, flow.id, snapshot.version_id, on, None)
            .await
            .unwrap();
        store.deactivate(acme.id, flow.id).await.unwrap();
        store.deactivate(acme.id, flow.id).await.unwrap(); // nothing was active
        assert!(store.delete_flow(acme.id, flow.id).await.unwrap());
        store
            .update_tenant(acme.id, "acme-2", None, None)
            .await
            .unwrap()
            .unwrap();
        assert!(store.set_role(bob, acme.id, Role::Standard).await.unwrap());
        assert!(store.set_role(bob, acme.id, Role::Standard).await.unwrap()); // no change
        assert!(store.delete_key(bob, key.id).await.unwrap());
        assert!(!store.delete_key(bob, key.id).await.unwrap()); // already gone
        store.change_password(ada, "$new", &digest()).await.unwrap();
        // A web session signed out (once: signing out a session that is gone changes nothing).
        let session = digest();
        let now = Timestamp::now();
        store
            .insert_session(NewSession {
                digest: session,
                user_id: ada,
                created_at: now,
                expires_at: now.plus(Duration::from_secs(60)),
            })
            .await
            .unwrap();
        store.delete_session(&session).await.unwrap();
        store.delete_session(&session).await.unwrap();
        assert!(store.remove_membership(bob, acme.id).await.unwrap());
        // What only the cached reads show: a member and a key added, a key used.
        store
            .add_membership(bob, acme.id, Role::Standard)
            .await
            .unwrap();
        let again = new_key(bob, acme.id, "again");
        store.insert_key(again.clone()).await.unwrap();
        let used = keyflow::store::KeyUsage {
            key_id: again.id,
            at: keyflow::domain::Timestamp::now(),
            address: "192.0.2.1".into(),
        };
        store.record_key_usage(&[used]).await.unwrap();
        // An invitation made, then withdrawn: the user administration showed it.
        let now = Timestamp::now();
        let cy = invitation(
            "cy@example.com",
            acme.id,
            now,
            now.plus(Duration::from_secs(60)),
        );
        let cy = store.invite(cy).await.unwrap();
        assert!(store.remove_membership(cy.account, acme.id).await.unwrap());

        let tenant = acme.id;
        let flows = Change::Flows { tenant };
        let expected = [
            flows,
            flows,
            flows,
            flows,
            flows,
            flows,
            Change::Tenant { tenant },
            Change::Members { tenant },
            Change::Keys { tenant },
            Change::Credentials,
            Change::Credentials,
            Change::Members { tenant },
            Change::People { tenant },
            Change::People { tenant },
            Change::Usage,
            Change::People { tenant },
            Change::People { tenant },
        ];
        let mut counter = before;
        for (i, change) in expected.into_iter().enumerate() {
            let announcement = loop {
                let heard = tokio::time::timeout(Duration::from_secs(10), listener.next())
                    .await
                    .unwrap_or_else(|_| panic!("announcement {i} ({change:?}) never came"))
                    .unwrap();
                let Heard::Change(announcement) = heard else {
                    panic!("announcement {i}: {heard:?}");
                };
                // The tenant, its members and the first key, made before, were announced too.
                if announcement.counter > before {
                    break announcement;
                }
            };
            assert_eq!(announcement.change, change, "announcement {i}");
            counter += 1;
            assert_eq!(announcement.counter, counter, "announcement {i}");
        }
        assert_eq!(
            store.change_counter().await.unwrap(),
            counter,
            "nothing more"
        );
    })
    .await;
}

/// Waits for every spawned task, in order.
async fn futures_join<T>(tasks: impl Iterator<Item = tokio::task::JoinHandle<T>>) -> Vec<T> {
    let tasks: Vec<_> = tasks.collect();
    let mut results = Vec::with_capacity(tasks.len());
    for task in tasks {
        results.push(task.await.expect("the task ran"));
    }
    results
}
