//! The User Settings page's forms and the Flows page: keys generated, shown and deleted in a
//! browser, errors beside their fields, the password change, and the flows of a tenant.

use keyflow::config::RevealPolicy;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::browser::{Browser, Page};
use crate::helpers::{TestApp, assert_json, assert_unauthorized, both_backends, flow_names};

both_backends! {
    the_form_generates_a_key_that_works_and_shows_it_once,
    form_errors_sit_beside_the_field_and_keep_what_was_typed,
    deleting_with_the_form_stops_the_key_at_once,
    show_is_a_post_with_the_csrf_header_and_follows_the_policy,
    a_password_change_needs_the_current_password_and_ends_other_sign_ins,
    the_flows_page_shows_what_the_api_lists,
}

/// Posts the Generate a new API key form.
async fn generate(browser: &mut Browser, name: &str, tenant: &str) -> Page {
    let settings = browser.get("/settings").await;
    browser
        .post(
            "/settings/keys",
            &[
                ("csrf", &settings.csrf()),
                ("name", name),
                ("tenant", tenant),
            ],
        )
        .await
}

/// The value in the page's new-key notice.
fn new_key_value(page: &Page) -> String {
    let start = page
        .html
        .find(r#"<code id="new-key-value">"#)
        .expect("a new key is shown")
        + r#"<code id="new-key-value">"#.len();
    let end = page.html[start..].find('<').unwrap();
    page.html[start..start + end].to_string()
}

/// The script's Show call, with or without the CSRF header.
async fn reveal(
    browser: &Browser,
    csrf: Option<&str>,
    name: &str,
    tenant: &str,
) -> reqwest::Response {
    let mut request = browser
        .request(Method::POST, "/settings/keys/reveal")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "name={}&tenant={tenant}",
            crate::helpers::enc(name)
        ));
    if let Some(csrf) = csrf {
        request = request.header("x-csrf-token", csrf);
    }
    request.send().await.unwrap()
}

async fn the_form_generates_a_key_that_works_and_shows_it_once() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::signed_in(&app).await;
    let page = generate(&mut browser, "API Key", &app.tenant_id).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let key = new_key_value(&page);
    assert!(crate::helpers::is_key_format(&key), "{key}");
    assert!(page.html.contains(r#"data-key-name="API Key""#));
    assert!(page.html.contains(&app.tenant_id));
    let flows = app.list_flows(Some(&key), Some(&app.tenant_id)).await;
    assert_json(flows, StatusCode::OK).await;
    // Later views list the key by its preview only (the on-demand policy).
    let later = browser.get("/settings").await;
    assert!(!later.html.contains(&key));
    assert!(
        later
            .html
            .contains(&format!("kf_…{}", &key[key.len() - 4..]))
    );
}

async fn form_errors_sit_beside_the_field_and_keep_what_was_typed() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::signed_in(&app).await;
    generate(&mut browser, "dup", &app.tenant_id).await;
    let again = generate(&mut browser, "dup", &app.tenant_id).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(
        again
            .html
            .contains(r#"<p class="field-error" id="key-name-error">You already have a key named"#),
        "{}",
        again.html
    );
    assert!(
        again
            .html
            .contains(r#"name="name" type="text" required value="dup""#)
    );

    let long = "x".repeat(101);
    let refused = generate(&mut browser, &long, &app.tenant_id).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.html.contains("at most 100 characters (it has 101)"),
        "{}",
        refused.html
    );
    assert!(refused.html.contains(&format!(r#"value="{long}""#)));
    assert!(
        refused.html.contains("at most 100 characters."),
        "the limit is shown"
    );

    let stranger = app.create_tenant("Stranger").await;
    let forbidden = generate(&mut browser, "k", &stranger).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    assert!(forbidden.html.contains(r#"id="key-tenant-error""#));
}

async fn deleting_with_the_form_stops_the_key_at_once() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::signed_in(&app).await;
    let key = new_key_value(&generate(&mut browser, "API Key", &app.tenant_id).await);
    let confirm = browser
        .get(&format!(
            "/settings/keys/delete?name=API%20Key&tenant={}",
            app.tenant_id
        ))
        .await;
    assert!(
        confirm
            .html
            .contains("Are you sure you want to remove this key?")
    );
    let deleted = browser
        .post(
            "/settings/keys/delete",
            &[
                ("csrf", &confirm.csrf()),
                ("name", "API Key"),
                ("tenant", &app.tenant_id),
            ],
        )
        .await;
    assert_eq!(deleted.status, StatusCode::OK);
    assert!(deleted.html.contains("The API key “API Key” was deleted."));
    assert!(!deleted.html.contains(r#"data-key-name="API Key""#));
    assert_unauthorized(app.list_flows(Some(&key), Some(&app.tenant_id)).await).await;
}

async fn show_is_a_post_with_the_csrf_header_and_follows_the_policy() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::signed_in(&app).await;
    let page = generate(&mut browser, "API Key", &app.tenant_id).await;
    let key = new_key_value(&page);
    let csrf = page.csrf();
    let shown = assert_json(
        reveal(&browser, Some(&csrf), "API Key", &app.tenant_id).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(shown["apiKey"], key.as_str());
    assert_eq!(shown["tenantId"], app.tenant_id.as_str());
    let forged = reveal(&browser, Some("forged"), "API Key", &app.tenant_id).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert!(forged.json::<Value>().await.unwrap().is_string());
    let stranger = Browser::new(&app);
    let signed_out = reveal(&stranger, Some(&csrf), "API Key", &app.tenant_id).await;
    assert_eq!(signed_out.status(), StatusCode::UNAUTHORIZED);

    // Under `list` the page carries the values; under `never` there is nothing to show.
    let app = TestApp::spawn_with(|c| c.key_reveal = RevealPolicy::List).await;
    let mut browser = Browser::signed_in(&app).await;
    let key = new_key_value(&generate(&mut browser, "k", &app.tenant_id).await);
    assert!(browser.get("/settings").await.html.contains(&key));
    let app = TestApp::spawn_with(|c| c.key_reveal = RevealPolicy::Never).await;
    let mut browser = Browser::signed_in(&app).await;
    let page = generate(&mut browser, "k", &app.tenant_id).await;
    assert!(page.html.contains("it will not be shown again"));
    let later = browser.get("/settings").await;
    assert!(later.html.contains("Shown only when generated"));
    let refused = reveal(&browser, Some(&later.csrf()), "k", &app.tenant_id).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
}

async fn a_password_change_needs_the_current_password_and_ends_other_sign_ins() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::signed_in(&app).await;
    let token = app.admin_token().await;
    let change = |current: &'static str, new: &'static str, confirm: &'static str| {
        [("current", current), ("new", new), ("confirm", confirm)]
    };
    let csrf = browser.get("/settings").await.csrf();
    let post = |fields: [(&'static str, &'static str); 3]| {
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend(fields);
        all
    };
    let wrong = browser
        .post(
            "/settings/password",
            &post(change("nope nope", "new password 1", "new password 1")),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.html.contains("This is not your current password."));
    let short = browser
        .post(
            "/settings/password",
            &post(change("correct horse battery", "short", "short")),
        )
        .await;
    assert!(
        short.html.contains(r#"id="new-password-error""#),
        "{}",
        short.html
    );
    let differ = browser
        .post(
            "/settings/password",
            &post(change(
                "correct horse battery",
                "new password 1",
                "new password 2",
            )),
        )
        .await;
    assert!(differ.html.contains("The two new passwords differ."));
    let done = browser
        .post(
            "/settings/password",
            &post(change(
                "correct horse battery",
                "new password 1",
                "new password 1",
            )),
        )
        .await;
    assert_eq!(done.status, StatusCode::OK);
    assert!(done.html.contains("Your password was changed."));
    // This session goes on; the old password and the old token do not.
    assert_eq!(browser.get("/settings").await.status, StatusCode::OK);
    assert_unauthorized(app.try_login(&app.admin_email, &app.admin_password).await).await;
    app.login(&app.admin_email, "new password 1").await;
    let me = app
        .with_token(Method::GET, "/api/admin/1/users/me", &token)
        .send()
        .await
        .unwrap();
    assert_unauthorized(me).await;
}

async fn the_flows_page_shows_what_the_api_lists() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::signed_in(&app).await;
    let key = app.new_key("flows").await;
    let listed = assert_json(
        app.list_flows(Some(&key), Some(&app.tenant_id)).await,
        StatusCode::OK,
    )
    .await;
    let page = browser.get("/flows").await;
    assert_eq!(page.status, StatusCode::OK);
    for (name, flow) in flow_names(&listed).iter().zip(listed.as_array().unwrap()) {
        assert!(
            page.html.contains(&format!(r#"data-label="Name">{name}<"#)),
            "{name}"
        );
        let summary = flow["developerSummary"].as_str().unwrap_or_default();
        assert!(page.html.contains(summary));
    }
    let other = app.second_tenant("Other").await;
    // A session reaches the memberships that began before its sign-in: Other needs a new one.
    let before = browser.get(&format!("/flows?tenant={other}")).await;
    assert_eq!(before.status, StatusCode::NOT_FOUND);
    let mut browser = Browser::signed_in(&app).await;
    let empty = browser.get(&format!("/flows?tenant={other}")).await;
    assert_eq!(empty.status, StatusCode::OK);
    assert!(
        empty.html.contains("This tenant has no flows."),
        "{}",
        empty.html
    );
    let stranger = app.create_tenant("Stranger").await;
    let refused = browser.get(&format!("/flows?tenant={stranger}")).await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
}
