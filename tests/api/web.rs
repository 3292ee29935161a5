//! The web pages: signing in and out, the session cookie, CSRF and the security headers.

use reqwest::{Method, StatusCode};

use crate::browser::Browser;
use crate::helpers::{Backend, TestApp, both_backends};

both_backends! {
    a_signed_out_visit_goes_to_the_login_and_back,
    next_never_leads_off_the_site,
    the_session_cookie_is_http_only_lax_and_only_a_digest_is_stored,
    the_cookie_is_secure_with_the_flag_or_behind_tls,
    a_wrong_password_shows_the_form_again_with_the_email,
    repeated_failures_from_one_address_are_throttled,
    a_post_without_its_csrf_token_is_forbidden,
    signing_out_ends_the_session,
    pages_forbid_framing_and_inline_script,
}

async fn sign_in(
    browser: &mut Browser,
    app: &TestApp,
    password: &str,
    next: &str,
) -> crate::browser::Page {
    let form = browser.get("/login").await;
    browser
        .post(
            "/login",
            &[
                ("email", app.admin_email.as_str()),
                ("password", password),
                ("next", next),
                ("csrf", &form.csrf()),
            ],
        )
        .await
}

async fn a_signed_out_visit_goes_to_the_login_and_back() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    let visit = browser.get("/settings").await;
    assert_eq!(visit.status, StatusCode::SEE_OTHER);
    assert_eq!(visit.location(), "/login?next=/settings");
    let login = browser.get(visit.location()).await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(
        login.html.contains(r#"name="next" value="/settings""#),
        "{}",
        login.html
    );
    let done = sign_in(&mut browser, &app, &app.admin_password, "/settings").await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(done.location(), "/settings");
    let settings = browser.get("/settings").await;
    assert_eq!(settings.status, StatusCode::OK);
    assert!(settings.html.contains("<h1>User Settings</h1>"));
    assert!(settings.html.contains(&app.admin_email));
}

async fn next_never_leads_off_the_site() {
    let app = TestApp::spawn().await;
    for next in [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
    ] {
        let mut browser = Browser::new(&app);
        let done = sign_in(&mut browser, &app, &app.admin_password, next).await;
        assert_eq!(done.location(), "/settings", "next = {next}");
    }
}

async fn the_session_cookie_is_http_only_lax_and_only_a_digest_is_stored() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    let done = sign_in(&mut browser, &app, &app.admin_password, "").await;
    let cookie = done
        .set_cookie("keyflow_session")
        .expect("a session cookie");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="] {
        assert!(cookie.contains(attribute), "{attribute} missing: {cookie}");
    }
    assert!(!cookie.contains("Secure"), "{cookie}");
    let token = browser.cookie("keyflow_session").unwrap().to_string();
    let hex: String = token.bytes().map(|b| format!("{b:02x}")).collect();
    for stored in stored_bytes(&app).await {
        assert!(!stored.windows(token.len()).any(|w| w == token.as_bytes()));
        assert!(!stored.windows(hex.len()).any(|w| w == hex.as_bytes()));
    }
}

/// Everything the server's database holds: SQLite's files, or on PostgreSQL every row of
/// every table as text (a `bytea` in hex).
async fn stored_bytes(app: &TestApp) -> Vec<Vec<u8>> {
    use sqlx::Connection;
    if app.backend() == Backend::Sqlite {
        let database = std::fs::read(app.data_dir().join("keyflow.db")).unwrap();
        let wal = std::fs::read(app.data_dir().join("keyflow.db-wal")).unwrap_or_default();
        return vec![database, wal];
    }
    let mut db = app.postgres().await;
    let tables: Vec<(String,)> = sqlx::query_as(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    let mut stored = Vec::new();
    for (table,) in tables {
        let sql = format!("SELECT row_to_json(t)::text FROM \"{table}\" t");
        let rows: Vec<(String,)> = sqlx::query_as(&sql).fetch_all(&mut db).await.unwrap();
        stored.extend(rows.into_iter().map(|(row,)| row.into_bytes()));
    }
    db.close().await.unwrap();
    assert!(!stored.is_empty(), "no rows in the server's schema");
    stored
}

async fn the_cookie_is_secure_with_the_flag_or_behind_tls() {
    let app = TestApp::spawn_with(|config| config.secure_cookies = true).await;
    let mut browser = Browser::new(&app);
    let done = sign_in(&mut browser, &app, &app.admin_password, "").await;
    let cookie = done.set_cookie("keyflow_session").unwrap();
    assert!(is_secure(&cookie), "{cookie}");

    let app = TestApp::spawn().await;
    let browser = Browser::new(&app);
    let response = browser
        .request(Method::GET, "/login")
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(is_secure(&cookie), "{cookie}");
}

/// Whether a `Set-Cookie` value has the `Secure` attribute (attributes come in any order).
fn is_secure(cookie: &str) -> bool {
    cookie
        .split(';')
        .any(|attribute| attribute.trim() == "Secure")
}

async fn a_wrong_password_shows_the_form_again_with_the_email() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    let refused = sign_in(&mut browser, &app, "not the password", "/settings").await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.html.contains("Wrong email or password"),
        "{}",
        refused.html
    );
    assert!(
        refused
            .html
            .contains(&format!(r#"value="{}""#, app.admin_email))
    );
    assert!(refused.set_cookie("keyflow_session").is_none());
    assert_eq!(browser.get("/settings").await.status, StatusCode::SEE_OTHER);
}

async fn repeated_failures_from_one_address_are_throttled() {
    let app = TestApp::spawn_with(|config| config.auth_failure_burst = 2).await;
    let mut browser = Browser::new(&app);
    for _ in 0..2 {
        let refused = sign_in(&mut browser, &app, "wrong guess", "").await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let throttled = sign_in(&mut browser, &app, "wrong guess", "").await;
    assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(!throttled.header("retry-after").is_empty());
    assert!(
        throttled.html.contains("Too many failed sign-ins"),
        "{}",
        throttled.html
    );
    // The right password does not get through either until the budget refills.
    let right = sign_in(&mut browser, &app, &app.admin_password, "").await;
    assert_eq!(right.status, StatusCode::TOO_MANY_REQUESTS);
}

async fn a_post_without_its_csrf_token_is_forbidden() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::signed_in(&app).await;
    let tenant = app.tenant_id.as_str();
    for fields in [
        vec![("name", "k"), ("tenant", tenant)],
        vec![("name", "k"), ("tenant", tenant), ("csrf", "forged")],
    ] {
        let refused = browser.post("/settings/keys", &fields).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert!(refused.html.contains("security token"));
    }
    assert_eq!(
        browser.post("/logout", &[]).await.status,
        StatusCode::FORBIDDEN
    );
    // Nothing happened: still signed in, no key made.
    let settings = browser.get("/settings").await;
    assert_eq!(settings.status, StatusCode::OK);
    assert!(settings.html.contains("You have no API keys yet."));
    // The sign-in form has its token too.
    let mut stranger = Browser::new(&app);
    stranger.get("/login").await;
    let login = stranger
        .post(
            "/login",
            &[
                ("email", &app.admin_email),
                ("password", &app.admin_password),
            ],
        )
        .await;
    assert_eq!(login.status, StatusCode::FORBIDDEN);
}

async fn signing_out_ends_the_session() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::signed_in(&app).await;
    let session = browser.cookie("keyflow_session").unwrap().to_string();
    let settings = browser.get("/settings").await;
    let out = browser.post("/logout", &[("csrf", &settings.csrf())]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(out.location(), "/login");
    assert!(
        out.set_cookie("keyflow_session")
            .unwrap()
            .contains("Max-Age=0")
    );
    let replayed = browser
        .request(Method::GET, "/settings")
        .header("cookie", format!("keyflow_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(replayed.status(), StatusCode::SEE_OTHER);
}

async fn pages_forbid_framing_and_inline_script() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::signed_in(&app).await;
    for path in ["/login", "/settings", "/flows"] {
        let page = browser.get(path).await;
        let policy = page.header("content-security-policy");
        for part in [
            "default-src 'self'",
            "script-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(policy.contains(part), "{path}: {policy}");
        }
        assert!(!policy.contains("unsafe-inline"), "{path}: {policy}");
        assert_eq!(page.header("x-frame-options"), "DENY", "{path}");
        assert_eq!(page.header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(page.header("cache-control"), "no-store", "{path}");
        for script in page.html.split("<script").skip(1) {
            assert!(
                script.starts_with(" src=\"/assets/"),
                "{path}: inline script {script}"
            );
        }
        for handler in [" onclick=", " onload=", " onsubmit=", "javascript:"] {
            assert!(!page.html.contains(handler), "{path}: {handler}");
        }
    }
    let script = browser.get("/assets/settings.js").await;
    assert_eq!(script.status, StatusCode::OK);
    assert!(script.header("content-type").starts_with("text/javascript"));
    assert!(script.header("cache-control").contains("max-age=31536000"));
    assert_eq!(
        browser.get("/assets/nothing.js").await.status,
        StatusCode::NOT_FOUND
    );
}
