//! Accounts across tenants: invitations accepted through their one-time link (a new account
//! sets its password, an existing one gives its own), and a token for another of the user's
//! tenants.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::admin::{PASSWORD, USERS, call};
use crate::helpers::{
    TestApp, assert_error, assert_json, assert_unauthorized, both_backends, flow_names,
};

both_backends! {
    a_new_account_accepts_its_invitation_and_sets_its_password_with_the_link,
    an_existing_account_accepts_with_its_own_password_and_keeps_it,
    a_pending_invitation_is_listed_changed_and_withdrawn,
    a_token_for_another_tenant_of_the_same_user,
}

async fn a_new_account_accepts_its_invitation_and_sets_its_password_with_the_link() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let body = json!({ "email": "Nina@Example.com", "firstName": "Nina", "role": { "developerName": "ADMINISTRATOR" } });
    let added = assert_json(
        call(&app, &token, Method::POST, USERS, Some(body)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(added["email"], "nina@example.com");
    assert_eq!(added["firstName"], "Nina");
    assert_eq!(added["role"]["developerName"], "ADMINISTRATOR");
    assert_eq!(added["invitationPending"], true);
    let link = added["setPasswordLink"].as_str().expect("a link");
    assert!(link.starts_with("/api/admin/1/users/password?token=kfp_"));
    // No usable password yet.
    assert_unauthorized(app.try_login("nina@example.com", "").await).await;

    assert_error(
        app.try_accept(&added, "short").await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    app.accept_invitation(&added, PASSWORD).await;
    let nina = app.login("nina@example.com", PASSWORD).await;
    let me = app.me(&nina).await;
    assert_eq!(
        me["id"], added["id"],
        "a new account keeps the invitation's id"
    );
    assert_eq!(me["firstName"], "Nina", "it takes the invitation's names");
    assert_eq!(me["tenants"][0]["role"], "ADMINISTRATOR");
    // The link works once.
    assert_unauthorized(app.try_accept(&added, "another long password").await).await;
    let listed = assert_json(
        call(&app, &token, Method::GET, USERS, None).await,
        StatusCode::OK,
    )
    .await;
    let shown = &listed["items"][1];
    assert_eq!(shown["id"], added["id"]);
    assert!(shown.get("invitationPending").is_none(), "{shown}");
    assert!(shown.get("setPasswordLink").is_none(), "{shown}");

    // Adding a member again is a conflict.
    let body = json!({ "email": "nina@example.com" });
    let again = call(&app, &token, Method::POST, USERS, Some(body)).await;
    assert_error(again, StatusCode::CONFLICT).await;
}

async fn an_existing_account_accepts_with_its_own_password_and_keeps_it() {
    let app = TestApp::spawn().await;
    let dan = app
        .create_user("dan@example.com", PASSWORD, &app.tenant_id)
        .await;
    let dan_before = app.login("dan@example.com", PASSWORD).await;
    let other = app.create_tenant("Other").await;
    assert!(app.add_admin_to(&other).await.status.success());
    let admin = app.admin_token().await;

    let added = app.invite(&admin, &other, "dan@example.com").await;
    assert_eq!(added["invitationPending"], true);
    assert_eq!(added["role"]["developerName"], "STANDARD_USER");
    assert_ne!(
        added["id"],
        dan.as_str(),
        "the account's id waits for its consent"
    );
    let in_other = |token: &str| {
        app.with_token(Method::GET, "/api/draw/1/flow", token)
            .header("manywhotenant", &other)
            .send()
    };
    // Pending: no reach into the tenant.
    assert_unauthorized(in_other(&dan_before).await.unwrap()).await;
    assert_eq!(
        app.me(&dan_before).await["tenants"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // The link alone is not enough for an account that has a password.
    let wrong = app.try_accept(&added, "not dan's password").await;
    assert_unauthorized(wrong).await;
    app.accept_invitation(&added, PASSWORD).await;
    assert_unauthorized(app.try_accept(&added, PASSWORD).await).await;

    // The membership began after dan's earlier sign-in: that one still does not reach it.
    assert_unauthorized(in_other(&dan_before).await.unwrap()).await;
    let dan_after = app.login("dan@example.com", PASSWORD).await;
    assert_json(in_other(&dan_after).await.unwrap(), StatusCode::OK).await;
    assert_eq!(
        app.me(&dan_after).await["tenants"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let listed = app
        .with_token(Method::GET, &format!("{USERS}/{dan}"), &admin)
        .header("manywhotenant", &other)
        .send()
        .await
        .unwrap();
    let listed = assert_json(listed, StatusCode::OK).await;
    assert_eq!(listed["id"], dan.as_str(), "accepted: the account's own id");
    assert!(listed.get("invitationPending").is_none());
}

async fn a_pending_invitation_is_listed_changed_and_withdrawn() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let added = app.invite(&token, &app.tenant_id, "ivy@example.com").await;
    let id = added["id"].as_str().unwrap();
    let path = format!("{USERS}/{id}");
    let listed = assert_json(
        call(&app, &token, Method::GET, USERS, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed["_meta"]["total"], 2);
    assert_eq!(listed["items"][1]["id"], id);
    assert_eq!(listed["items"][1]["invitationPending"], true);

    let change = json!({ "firstName": "Ivy", "role": { "roleId": 1 } });
    let changed = assert_json(
        call(&app, &token, Method::PUT, &path, Some(change)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(changed["firstName"], "Ivy");
    assert_eq!(changed["role"]["developerName"], "ADMINISTRATOR");
    assert_eq!(changed["invitationPending"], true);
    // A pending administrator is no administrator yet: the only one still may not leave.
    let me = app.me(&token).await["id"].as_str().unwrap().to_string();
    let leave = call(&app, &token, Method::DELETE, &format!("{USERS}/{me}"), None).await;
    assert_error(leave, StatusCode::CONFLICT).await;

    let withdrawn = call(&app, &token, Method::DELETE, &path, None).await;
    assert_eq!(withdrawn.status(), StatusCode::OK);
    assert_error(
        call(&app, &token, Method::GET, &path, None).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    // A withdrawn invitation's link grants nothing.
    assert_unauthorized(app.try_accept(&added, PASSWORD).await).await;
    assert_unauthorized(app.try_login("ivy@example.com", PASSWORD).await).await;
}

async fn a_token_for_another_tenant_of_the_same_user() {
    let app = TestApp::spawn().await;
    let other = app.second_tenant("Other").await;
    let stranger = app.create_tenant("Stranger").await;
    // Signed in after joining Other: a sign-in reaches the memberships that began before it.
    let token = app.admin_token().await;
    let path = |tenant: &str| format!("/api/draw/1/authentication/{tenant}");

    let response = call(&app, &token, Method::GET, &path(&other), None).await;
    let other_token = assert_json(response, StatusCode::OK)
        .await
        .as_str()
        .unwrap()
        .to_string();
    // The new token acts in the other tenant without a manywhotenant.
    let flow = json!({ "developerName": "Only in Other" });
    let created = call(
        &app,
        &other_token,
        Method::POST,
        "/api/draw/1/flow",
        Some(flow),
    )
    .await;
    assert_json(created, StatusCode::OK).await;
    let in_other = app
        .client
        .get(app.url("/api/draw/1/flow"))
        .header("authorization", &token)
        .header("manywhotenant", &other)
        .send()
        .await
        .unwrap();
    let names = flow_names(&assert_json(in_other, StatusCode::OK).await);
    assert_eq!(names, ["Only in Other"]);

    assert_error(
        call(&app, &token, Method::GET, &path(&stranger), None).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_error(
        call(&app, &token, Method::GET, &path("nope"), None).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    let key = app.new_key_for(&token, "k", &app.tenant_id).await;
    let by_key = app
        .with_key(Method::GET, &path(&other), &key)
        .send()
        .await
        .unwrap();
    assert_error(by_key, StatusCode::FORBIDDEN).await;
}

/// A database from before invitations: every membership of an account with no password becomes
/// a pending invitation, and a link survives only for the membership it was made with.
#[tokio::test]
async fn the_migration_turns_memberships_of_accounts_without_a_password_into_invitations() {
    use keyflow::domain::{Digest, TenantId, Timestamp, UserId};
    use keyflow::store::StoreConfig;
    use sqlx::Connection;

    let dir = tempfile::tempdir().unwrap();
    let all = sqlx::migrate!("migrations/sqlite");
    let before = sqlx::migrate::Migrator {
        migrations: std::borrow::Cow::Owned(all.migrations[..3].to_vec()),
        ..sqlx::migrate::Migrator::DEFAULT
    };
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(dir.path().join("keyflow.db"))
        .create_if_missing(true);
    let mut db = sqlx::SqliteConnection::connect_with(&options)
        .await
        .unwrap();
    before.run(&mut db).await.unwrap();
    let (a, b) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    let (kept, made, gone) = (
        uuid::Uuid::now_v7(),
        uuid::Uuid::now_v7(),
        uuid::Uuid::now_v7(),
    );
    let at = |n: u32| format!("2026-01-0{n}T00:00:00.000000Z");
    let far = "2999-01-01T00:00:00.000000Z";
    let script = format!(
        "INSERT INTO tenants VALUES ('{a}', 'A', NULL, '{t1}'), ('{b}', 'B', NULL, '{t1}');
         INSERT INTO users VALUES ('{kept}', 'kept@x', NULL, NULL, 'a-hash', '{t1}'),
                                  ('{made}', 'made@x', 'Made', NULL, '', '{t2}'),
                                  ('{gone}', 'gone@x', NULL, NULL, '', '{t2}');
         INSERT INTO memberships VALUES ('{kept}', '{a}', 'ADMINISTRATOR', '{t1}'),
                                        ('{made}', '{a}', 'STANDARD_USER', '{t2}'),
                                        ('{made}', '{b}', 'STANDARD_USER', '{t3}'),
                                        ('{gone}', '{b}', 'STANDARD_USER', '{t4}');
         INSERT INTO password_links VALUES (x'{made_link}', '{made}', '{t2}', '{far}'),
                                           (x'{gone_link}', '{gone}', '{t2}', '{far}');
         INSERT INTO tokens VALUES (x'{token}', '{kept}', '{a}', '{t3}', '{far}');",
        t1 = at(1),
        t2 = at(2),
        t3 = at(3),
        t4 = at(4),
        made_link = "07".repeat(32),
        gone_link = "08".repeat(32),
        token = "09".repeat(32),
    );
    sqlx::raw_sql(&script).execute(&mut db).await.unwrap();
    db.close().await.unwrap();

    let store = keyflow::store::open(&StoreConfig::in_data_dir(dir.path()))
        .await
        .unwrap();
    let (a, b) = (TenantId(a), TenantId(b));
    let now = Timestamp::now();
    let members = |tenant| store.members(tenant, keyflow::domain::Page::first(10));
    let (in_a, _) = members(a).await.unwrap();
    let shown: Vec<(UserId, bool)> = in_a.iter().map(|m| (m.id, m.pending)).collect();
    assert_eq!(shown, [(UserId(kept), false), (UserId(made), true)]);
    assert_eq!(in_a[1].first_name.as_deref(), Some("Made"));
    let (in_b, _) = members(b).await.unwrap();
    assert!(
        in_b.iter().all(|m| m.pending && m.id != m.account),
        "fresh ids"
    );
    assert!(store.memberships(UserId(made)).await.unwrap().is_empty());
    // The link of the account's first membership accepts that one; a link whose membership
    // was gone grants nothing.
    let grant = store
        .invitation_by_link(&Digest::from_bytes([7; 32]), now)
        .await
        .unwrap();
    let grant = grant.expect("the link kept its invitation");
    assert_eq!((grant.user_id, grant.tenant_id), (UserId(made), a));
    assert!(
        store
            .invitation_by_link(&Digest::from_bytes([8; 32]), now)
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.role_in(UserId(kept), a).await.unwrap().is_some());
    // A token from before was its own sign-in.
    let token = store
        .token_by_digest(&Digest::from_bytes([9; 32]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(token.signed_in_at, Timestamp::parse(&at(3)).unwrap());
    store.close().await;
}
