//! Sign-in credentials verified from the cache (`auth::credential_cache`): each kind — a
//! password sign-in's token, a token an API key obtained (in `Authorization` and in the key
//! header), a web session, and the membership a token reaches — is answered from the cache
//! once seen, and refused on the very next request once revoked through the API, the web
//! pages or the command line. (Several instances: `tests/api/instances.rs`.)

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::browser::Browser;
use crate::helpers::{
    Backend, KEY_HEADER, TENANT_HEADER, TestApp, assert_json, assert_unauthorized, both_backends,
};

both_backends! {
    a_cached_token_is_refused_once_its_member_is_removed,
    a_cached_administrator_is_refused_once_demoted,
    cached_tokens_and_sessions_are_refused_after_a_password_change,
    a_cached_key_bound_token_is_refused_once_its_key_is_deleted,
    a_cached_web_session_is_refused_once_signed_out,
    a_cached_token_is_refused_once_the_command_line_removes_its_member,
}

const HITS: &str = "keyflow_credential_cache_hits_total";
const ME: &str = "/api/admin/1/users/me";

/// A member of the app's tenant (invited, link accepted) signed in: their token and id.
async fn member(app: &TestApp, email: &str, role: Option<&str>) -> (String, String) {
    let admin = app.admin_token().await;
    let mut body = json!({ "email": email });
    if let Some(role) = role {
        body["role"] = json!({ "developerName": role });
    }
    let added = assert_json(
        app.try_invite(&admin, &app.tenant_id, body).await,
        StatusCode::OK,
    )
    .await;
    app.accept_invitation(&added, "member password").await;
    let token = app.login(email, "member password").await;
    (token, added["id"].as_str().unwrap().to_string())
}

async fn me_status(app: &TestApp, token: &str) -> StatusCode {
    let response = app.with_token(Method::GET, ME, token).send().await.unwrap();
    response.status()
}

/// Asks `ask` twice and insists the second answer came from the credential cache (the hits
/// counter moved), so that what follows tests a cached credential.
async fn cached<F, Fut>(app: &TestApp, mut ask: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = StatusCode>,
{
    assert!(ask().await.is_success(), "the credential works");
    let hits = app.metric(HITS).await;
    assert!(ask().await.is_success(), "the credential works again");
    assert!(
        app.metric(HITS).await > hits,
        "the second use was answered from the credential cache"
    );
}

async fn a_cached_token_is_refused_once_its_member_is_removed() {
    let app = TestApp::spawn().await;
    let (token, id) = member(&app, "leaving@example.com", None).await;
    cached(&app, || me_status(&app, &token)).await;
    let admin = app.admin_token().await;
    let removed = app
        .with_token(Method::DELETE, &format!("/api/admin/1/users/{id}"), &admin)
        .header(TENANT_HEADER, &app.tenant_id)
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), StatusCode::OK);
    let refused = app
        .with_token(Method::GET, ME, &token)
        .send()
        .await
        .unwrap();
    assert_unauthorized(refused).await;
}

async fn a_cached_administrator_is_refused_once_demoted() {
    let app = TestApp::spawn().await;
    let (token, id) = member(&app, "demoted@example.com", Some("ADMINISTRATOR")).await;
    let list = || async {
        app.with_token(Method::GET, "/api/admin/1/users", &token)
            .header(TENANT_HEADER, &app.tenant_id)
            .send()
            .await
            .unwrap()
            .status()
    };
    cached(&app, list).await;
    let admin = app.admin_token().await;
    let demoted = app
        .with_token(Method::PUT, &format!("/api/admin/1/users/{id}"), &admin)
        .header(TENANT_HEADER, &app.tenant_id)
        .json(&json!({ "role": { "developerName": "STANDARD_USER" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(demoted.status(), StatusCode::OK);
    assert_eq!(list().await, StatusCode::FORBIDDEN);
}

async fn cached_tokens_and_sessions_are_refused_after_a_password_change() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    cached(&app, || me_status(&app, &token)).await;
    // Another browser's session, cached too.
    let mut other = Browser::signed_in(&app).await;
    assert_eq!(other.get("/settings").await.status, StatusCode::OK);
    assert_eq!(other.get("/settings").await.status, StatusCode::OK);

    let mut browser = Browser::signed_in(&app).await;
    let csrf = browser.get("/settings").await.csrf();
    let fields = [
        ("csrf", csrf.as_str()),
        ("current", app.admin_password.as_str()),
        ("new", "a brand new password"),
        ("confirm", "a brand new password"),
    ];
    let done = browser.post("/settings/password", &fields).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.html);

    assert_eq!(me_status(&app, &token).await, StatusCode::UNAUTHORIZED);
    let ended = other.get("/settings").await;
    assert_eq!(
        ended.status,
        StatusCode::SEE_OTHER,
        "the other session ended"
    );
    assert_eq!(
        browser.get("/settings").await.status,
        StatusCode::OK,
        "the session that changed it stays"
    );
}

async fn a_cached_key_bound_token_is_refused_once_its_key_is_deleted() {
    let app = TestApp::spawn().await;
    let owner = app.admin_token().await;
    let key = app.new_key_for(&owner, "bound", &app.tenant_id).await;
    let obtained = app
        .with_key(
            Method::GET,
            &format!("/api/draw/1/authentication/{}", app.tenant_id),
            &key,
        )
        .send()
        .await
        .unwrap();
    let token: Value = assert_json(obtained, StatusCode::OK).await;
    let token = token.as_str().unwrap().to_string();
    let in_authorization = || async {
        let sent = app.with_token(Method::GET, "/api/draw/1/flow", &token);
        sent.send().await.unwrap().status()
    };
    let in_key_header = || async {
        let sent = app.client.get(app.url("/api/draw/1/flow"));
        sent.header(KEY_HEADER, &token)
            .send()
            .await
            .unwrap()
            .status()
    };
    cached(&app, in_authorization).await;
    cached(&app, in_key_header).await;

    let deleted = app
        .with_token(Method::DELETE, &format!("{ME}/keys/bound"), &owner)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::OK);
    assert_eq!(in_authorization().await, StatusCode::UNAUTHORIZED);
    assert_eq!(in_key_header().await, StatusCode::UNAUTHORIZED);
}

async fn a_cached_web_session_is_refused_once_signed_out() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::signed_in(&app).await;
    let session = browser.cookie("keyflow_session").unwrap().to_string();
    // A client that follows no redirect: a 303 to the sign-in page is what a refusal looks
    // like.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let replay = || async {
        client
            .get(app.url("/settings"))
            .header("cookie", format!("keyflow_session={session}"))
            .send()
            .await
            .unwrap()
            .status()
    };
    let hits = app.metric(HITS).await;
    assert_eq!(replay().await, StatusCode::OK);
    assert_eq!(replay().await, StatusCode::OK);
    assert!(app.metric(HITS).await > hits, "answered from the cache");

    let csrf = browser.get("/settings").await.csrf();
    let out = browser.post("/logout", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(replay().await, StatusCode::SEE_OTHER);
}

async fn a_cached_token_is_refused_once_the_command_line_removes_its_member() {
    let app = TestApp::spawn().await;
    let (token, _) = member(&app, "cli-gone@example.com", None).await;
    cached(&app, || me_status(&app, &token)).await;
    app.remove_user("cli-gone@example.com", &app.tenant_id)
        .await;
    // On a data directory the command told the server through its control socket before it
    // returned: the very next request. On PostgreSQL the server hears the announcement as it
    // arrives, after the command returned: polled, within the bound.
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let status = me_status(&app, &token).await;
        if status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert!(
            app.backend() == Backend::Postgres && Instant::now() < deadline,
            "still {status} after the command line removed the member"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
