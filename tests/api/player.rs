//! The player page, `/{tenantId}/play/{player}?flow-id=…`: a flow run with plain forms (start
//! and join, a required answer missing, post/redirect/get, a double submit), and its refusals
//! (no access: a link to sign in; another tenant's state: 404; bad ids: 400 or 404, never 500).

use reqwest::StatusCode;

use crate::browser::{Browser, Page, attribute_after};
use crate::helpers::{TestApp, both_backends, enc};
use crate::run::build;

both_backends! {
    a_public_flow_runs_in_the_player_without_sign_in,
    a_double_submit_shows_the_state_as_it_is,
    a_members_flow_asks_to_sign_in_and_then_runs,
    another_tenants_state_and_bad_ids_are_refused,
    a_fault_is_shown_and_the_state_waits_where_it_was,
}

fn play(tenant: &str, query: &str) -> String {
    format!("/{tenant}/play/default?{query}")
}

/// The hidden field `name`'s value in the page's form.
fn hidden(page: &Page, name: &str) -> String {
    attribute_after(&page.html, &format!("name=\"{name}\" value=\""))
        .unwrap_or_else(|| format!("no field {name} in {}", page.html))
}

/// The state id a start redirected to.
fn joined(start: &Page) -> String {
    assert_eq!(start.status, StatusCode::SEE_OTHER, "{}", start.html);
    let location = start.location();
    location
        .split("join=")
        .nth(1)
        .unwrap_or_else(|| panic!("no join in {location}"))
        .to_string()
}

/// Posts the page's form with `name` typed into the name box and its first outcome.
async fn answer(
    browser: &mut Browser,
    tenant: &str,
    page: &Page,
    name_box: &str,
    name: &str,
) -> Page {
    let outcome = attribute_after(&page.html, "name=\"outcome\" value=\"").expect("an outcome");
    let join = hidden(page, "join");
    let token = hidden(page, "token");
    let field = format!("c.{name_box}");
    let mut fields = vec![
        ("join", join.as_str()),
        ("token", token.as_str()),
        (field.as_str(), name),
        ("outcome", outcome.as_str()),
    ];
    let csrf = page.html.contains("name=\"csrf\"").then(|| page.csrf());
    if let Some(csrf) = &csrf {
        fields.push(("csrf", csrf));
    }
    browser
        .post(&format!("/{tenant}/play/default"), &fields)
        .await
}

async fn a_public_flow_runs_in_the_player_without_sign_in() {
    let app = TestApp::spawn().await;
    let key = app.new_key("build").await;
    let built = build(&app, &key, "PUBLIC", "STEP").await;
    let mut browser = Browser::new(&app);
    let start = browser
        .get(&play(&app.tenant_id, &format!("flow-id={}", built.flow)))
        .await;
    let state = joined(&start);
    let first = browser.get(start.location()).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.html);
    // The page's input: labelled, marked required, no CSRF field with no session.
    let id = format!("c-{}", built.name_box);
    assert!(
        first
            .html
            .contains(&format!("<label for=\"{id}\">Your name")),
        "{}",
        first.html
    );
    assert!(first.html.contains("aria-required=\"true\""));
    assert!(!first.html.contains("name=\"csrf\""));
    assert_eq!(hidden(&first, "join"), state);
    // A reload joins the same state.
    let again = browser.get(start.location()).await;
    assert_eq!(hidden(&again, "join"), state);
    assert_eq!(hidden(&again, "token"), hidden(&first, "token"));

    // The required answer missing: the page again, with the engine's message, at once.
    let missing = answer(&mut browser, &app.tenant_id, &first, &built.name_box, "").await;
    assert_eq!(
        missing.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        missing.html
    );
    assert!(
        missing.html.contains("Your name is required."),
        "{}",
        missing.html
    );
    assert!(missing.html.contains("aria-invalid=\"true\""));

    // Answered: post/redirect/get to the state, which reached its end.
    let done = answer(
        &mut browser,
        &app.tenant_id,
        &missing,
        &built.name_box,
        "Ada",
    )
    .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    assert!(
        done.location().ends_with(&format!("&join={state}")),
        "{}",
        done.location()
    );
    let end = browser.get(done.location()).await;
    assert_eq!(end.status, StatusCode::OK);
    assert!(end.html.contains("Hello Ada, visit 2"), "{}", end.html);
    assert!(end.html.contains("This flow is over."));
    // The step's markup is read as paragraphs, not shown as text.
    assert!(
        end.html.contains("<p>Hello Ada, visit 2</p>"),
        "{}",
        end.html
    );
    assert!(!end.html.contains("&lt;p&gt;"));
}

async fn a_double_submit_shows_the_state_as_it_is() {
    let app = TestApp::spawn().await;
    let key = app.new_key("build").await;
    let built = build(&app, &key, "PUBLIC", "STEP").await;
    let mut browser = Browser::new(&app);
    let start = browser
        .get(&play(&app.tenant_id, &format!("flow-id={}", built.flow)))
        .await;
    let first = browser.get(start.location()).await;
    let sent = answer(&mut browser, &app.tenant_id, &first, &built.name_box, "Ada").await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER);
    // The same form again: its token is spent.
    let twice = answer(&mut browser, &app.tenant_id, &first, &built.name_box, "Bob").await;
    assert_eq!(twice.status, StatusCode::CONFLICT, "{}", twice.html);
    assert!(
        twice.html.contains("had already been answered"),
        "{}",
        twice.html
    );
    assert!(
        twice.html.contains("Hello Ada, visit 2"),
        "the run as it is: {}",
        twice.html
    );
    // A form that is no form: 400.
    let broken = browser
        .post(
            &format!("/{}/play/default", app.tenant_id),
            &[("join", "nope")],
        )
        .await;
    assert_eq!(broken.status, StatusCode::BAD_REQUEST);
}

async fn a_members_flow_asks_to_sign_in_and_then_runs() {
    let app = TestApp::spawn().await;
    let key = app.new_key("build").await;
    let built = build(&app, &key, "ALL_USERS", "STEP").await;
    let address = play(&app.tenant_id, &format!("flow-id={}", built.flow));
    let mut anonymous = Browser::new(&app);
    let refused = anonymous.get(&address).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.html);
    let link = format!("/login?next={}", enc(&address).replace("%2F", "/"));
    assert!(refused.html.contains(&link), "{link} in {}", refused.html);

    // Signed in: the member runs it, the form carries the session's CSRF token.
    let mut member = Browser::signed_in(&app).await;
    let start = member.get(&address).await;
    joined(&start);
    let first = member.get(start.location()).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.html);
    let csrf = first.csrf();
    assert!(
        first
            .html
            .contains(&format!("name=\"csrf\" value=\"{csrf}\""))
    );
    // Without the token, the session's form is refused.
    let forged = member
        .post(
            &format!("/{}/play/default", app.tenant_id),
            &[
                ("join", &hidden(&first, "join")),
                ("token", &hidden(&first, "token")),
            ],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let done = answer(&mut member, &app.tenant_id, &first, &built.name_box, "Ada").await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    // The member's state is not for nobody.
    let joined_anonymously = anonymous.get(done.location()).await;
    assert_eq!(joined_anonymously.status, StatusCode::UNAUTHORIZED);
}

async fn another_tenants_state_and_bad_ids_are_refused() {
    let app = TestApp::spawn().await;
    let key = app.new_key("build").await;
    let built = build(&app, &key, "PUBLIC", "STEP").await;
    let mut browser = Browser::signed_in(&app).await;
    let start = browser
        .get(&play(&app.tenant_id, &format!("flow-id={}", built.flow)))
        .await;
    let state = joined(&start);
    let other = app.second_tenant("Elsewhere").await;
    let elsewhere = browser.get(&play(&other, &format!("join={state}"))).await;
    assert_eq!(
        elsewhere.status,
        StatusCode::NOT_FOUND,
        "{}",
        elsewhere.html
    );
    let unknown = uuid::Uuid::new_v4();
    for (query, status) in [
        ("flow-id=nope".to_string(), StatusCode::BAD_REQUEST),
        (format!("flow-id={unknown}"), StatusCode::NOT_FOUND),
        (
            format!("flow-id={}&flow-version-id=x", built.flow),
            StatusCode::BAD_REQUEST,
        ),
        (
            format!("flow-id={}&flow-version-id={unknown}", built.flow),
            StatusCode::NOT_FOUND,
        ),
        ("join=nope".to_string(), StatusCode::BAD_REQUEST),
        (format!("join={unknown}"), StatusCode::NOT_FOUND),
        (
            format!("flow-id={unknown}&join={state}"),
            StatusCode::NOT_FOUND,
        ),
        (String::new(), StatusCode::BAD_REQUEST),
    ] {
        let page = browser.get(&play(&app.tenant_id, &query)).await;
        assert_eq!(page.status, status, "{query}: {}", page.html);
    }
    for path in [
        "/not-a-tenant/play/default?flow-id=x",
        &format!("/{}/play/bad%20name?flow-id=x", app.tenant_id),
    ] {
        let page = browser.get(path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}: {}", page.html);
    }
}

async fn a_fault_is_shown_and_the_state_waits_where_it_was() {
    let app = TestApp::spawn().await;
    let key = app.new_key("build").await;
    // The decision leads to a message element, which keyflow does not run: a fault.
    let built = build(&app, &key, "PUBLIC", "MESSAGE").await;
    let mut browser = Browser::new(&app);
    let start = browser
        .get(&play(&app.tenant_id, &format!("flow-id={}", built.flow)))
        .await;
    let state = joined(&start);
    let first = browser.get(start.location()).await;
    let faulted = answer(&mut browser, &app.tenant_id, &first, &built.name_box, "Ada").await;
    assert_eq!(faulted.status, StatusCode::OK, "{}", faulted.html);
    assert!(
        faulted.html.contains("id=\"player-fault\""),
        "{}",
        faulted.html
    );
    assert!(
        faulted.html.contains("does not call connectors"),
        "{}",
        faulted.html
    );
    // Joined again: the page it faulted from, its outcome there to try again.
    let back = format!("join={state}\">Back to where the flow waits</a>");
    assert!(faulted.html.contains(&back), "{}", faulted.html);
    assert!(
        !faulted.html.contains("<form method=\"post\""),
        "nothing to send: {}",
        faulted.html
    );
    let again = browser.get(start.location()).await;
    assert_eq!(again.status, StatusCode::OK);
    assert!(again.html.contains("Your name"), "{}", again.html);
    assert!(again.html.contains("name=\"outcome\""), "{}", again.html);
}
