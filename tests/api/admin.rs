//! Tenant and user administration: `/api/admin/1/tenant`, `/api/admin/1/users…`, roles, the
//! set-password link, and tokens for another tenant.

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, assert_json, assert_unauthorized, both_backends};

both_backends! {
    administrators_read_and_rename_their_tenant,
    a_standard_user_may_not_administer,
    users_are_listed_in_pages,
    roles_change_but_a_tenant_keeps_an_administrator,
    two_administrators_removing_each_other_leave_one,
    removing_a_user_stops_their_key_and_token_on_the_next_request,
}

pub(crate) const USERS: &str = "/api/admin/1/users";
const TENANT: &str = "/api/admin/1/tenant";
pub(crate) const PASSWORD: &str = "a long enough password";

pub(crate) async fn call(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Response {
    let request = app.with_token(method, path, token);
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    request.send().await.unwrap()
}

/// A standard user of `Example` (made with the CLI), signed in: (user id, token).
async fn standard_user(app: &TestApp, email: &str) -> (String, String) {
    let id = app.create_user(email, PASSWORD, &app.tenant_id).await;
    (id, app.login(email, PASSWORD).await)
}

async fn admin_id(app: &TestApp, token: &str) -> String {
    app.me(token).await["id"].as_str().unwrap().to_string()
}

async fn administrators_read_and_rename_their_tenant() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let tenant = assert_json(
        call(&app, &token, Method::GET, TENANT, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(tenant["id"], app.tenant_id.as_str());
    assert_eq!(tenant["developerName"], "Example");

    let body = json!({ "developerName": "acme-2.prod", "developerSummary": "Acme's flows" });
    let renamed = assert_json(
        call(&app, &token, Method::POST, TENANT, Some(body)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(renamed["developerName"], "acme-2.prod");
    assert_eq!(renamed["developerSummary"], "Acme's flows");
    assert_eq!(
        app.me(&token).await["tenants"][0]["developerName"],
        "acme-2.prod"
    );

    for bad in ["ab", "with space", "bob's", &"x".repeat(101)] {
        let body = json!({ "developerName": bad });
        assert_error(
            call(&app, &token, Method::POST, TENANT, Some(body)).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
}

async fn a_standard_user_may_not_administer() {
    let app = TestApp::spawn().await;
    let (_, token) = standard_user(&app, "sam@example.com").await;
    let some_user = uuid::Uuid::now_v7().to_string();
    let forbidden = [
        (Method::GET, TENANT.to_string(), None),
        (
            Method::POST,
            TENANT.to_string(),
            Some(json!({ "developerName": "mine" })),
        ),
        (Method::GET, USERS.to_string(), None),
        (
            Method::POST,
            USERS.to_string(),
            Some(json!({ "email": "x@example.com" })),
        ),
        (Method::GET, format!("{USERS}/{some_user}"), None),
        (Method::PUT, format!("{USERS}/{some_user}"), Some(json!({}))),
        (Method::DELETE, format!("{USERS}/{some_user}"), None),
    ];
    for (method, path, body) in forbidden {
        assert_error(
            call(&app, &token, method, &path, body).await,
            StatusCode::FORBIDDEN,
        )
        .await;
    }
    // Flows are every member's.
    let flows = call(&app, &token, Method::GET, "/api/draw/1/flow", None).await;
    assert_json(flows, StatusCode::OK).await;
}

async fn users_are_listed_in_pages() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    for name in ["ann", "ben", "cat"] {
        let body = json!({ "email": format!("{name}@example.com") });
        assert_json(
            call(&app, &token, Method::POST, USERS, Some(body)).await,
            StatusCode::OK,
        )
        .await;
    }
    let first = call(
        &app,
        &token,
        Method::GET,
        &format!("{USERS}?page=1&pageSize=3"),
        None,
    )
    .await;
    let first = assert_json(first, StatusCode::OK).await;
    assert_eq!(first["_meta"]["total"], 4);
    assert_eq!(first["items"].as_array().unwrap().len(), 3);
    assert_eq!(
        first["items"][0]["email"],
        app.admin_email.as_str(),
        "oldest first"
    );
    assert_eq!(first["items"][0]["role"]["developerName"], "ADMINISTRATOR");
    assert_eq!(first["items"][1]["role"]["developerName"], "STANDARD_USER");
    assert!(first["_links"]["next"].is_string());
    let second = call(
        &app,
        &token,
        Method::GET,
        &format!("{USERS}?page=2&pageSize=3"),
        None,
    )
    .await;
    let second = assert_json(second, StatusCode::OK).await;
    assert_eq!(second["items"][0]["email"], "cat@example.com");
    assert!(second["_links"].get("next").is_none());
    for bad in [
        "page=0",
        "pageSize=0",
        "pageSize=1001",
        "page=x",
        "page=%2B1",
    ] {
        let response = call(&app, &token, Method::GET, &format!("{USERS}?{bad}"), None).await;
        assert_error(response, StatusCode::BAD_REQUEST).await;
    }
}

async fn roles_change_but_a_tenant_keeps_an_administrator() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let me = admin_id(&app, &token).await;
    let (sam, sam_token) = standard_user(&app, "sam@example.com").await;
    let mine = format!("{USERS}/{me}");

    let demote = json!({ "role": { "developerName": "STANDARD_USER" } });
    assert_error(
        call(&app, &token, Method::PUT, &mine, Some(demote.clone())).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_error(
        call(&app, &token, Method::DELETE, &mine, None).await,
        StatusCode::CONFLICT,
    )
    .await;

    let promote = json!({ "firstName": "Sam", "role": { "roleId": 1 } });
    let sam_path = format!("{USERS}/{sam}");
    let promoted = assert_json(
        call(&app, &token, Method::PUT, &sam_path, Some(promote)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(promoted["role"]["developerName"], "ADMINISTRATOR");
    assert_eq!(promoted["firstName"], "Sam");
    // Sam administers at once; now the first administrator may step down.
    assert_json(
        call(&app, &sam_token, Method::GET, TENANT, None).await,
        StatusCode::OK,
    )
    .await;
    let demoted = assert_json(
        call(&app, &token, Method::PUT, &mine, Some(demote)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(demoted["role"]["developerName"], "STANDARD_USER");
    assert_error(
        call(&app, &token, Method::GET, TENANT, None).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let loaded = assert_json(
        call(&app, &sam_token, Method::GET, &mine, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(loaded["role"]["roleId"], 2);
}

async fn two_administrators_removing_each_other_leave_one() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let me = admin_id(&app, &token).await;
    let (sam, sam_token) = standard_user(&app, "sam@example.com").await;
    let promote = json!({ "role": { "developerName": "ADMINISTRATOR" } });
    assert_json(
        call(
            &app,
            &token,
            Method::PUT,
            &format!("{USERS}/{sam}"),
            Some(promote),
        )
        .await,
        StatusCode::OK,
    )
    .await;

    let (remove_sam, remove_me) = (format!("{USERS}/{sam}"), format!("{USERS}/{me}"));
    let (a, b) = tokio::join!(
        call(&app, &token, Method::DELETE, &remove_sam, None),
        call(&app, &sam_token, Method::DELETE, &remove_me, None),
    );
    // Either both passed authentication and the store refused the second removal (409), or
    // one removal landed first and the other's author was no longer a member (401).
    let (winner, loser) = match (a.status(), b.status()) {
        (StatusCode::OK, other) => (&token, other),
        (other, StatusCode::OK) => (&sam_token, other),
        statuses => panic!("no removal succeeded: {statuses:?}"),
    };
    assert!(
        [StatusCode::CONFLICT, StatusCode::UNAUTHORIZED].contains(&loser),
        "{loser}"
    );
    let users = assert_json(
        call(&app, winner, Method::GET, USERS, None).await,
        StatusCode::OK,
    )
    .await;
    let roles: Vec<&Value> = users["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| &u["role"]["developerName"])
        .collect();
    assert_eq!(
        roles,
        [&json!("ADMINISTRATOR")],
        "one administrator is left"
    );
}

async fn removing_a_user_stops_their_key_and_token_on_the_next_request() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let (sam, sam_token) = standard_user(&app, "sam@example.com").await;
    let key = app.new_key_for(&sam_token, "sam's", &app.tenant_id).await;
    assert_json(app.list_flows(Some(&key), None).await, StatusCode::OK).await;
    let with_token = || call(&app, &sam_token, Method::GET, "/api/draw/1/flow", None);
    assert_json(with_token().await, StatusCode::OK).await;

    let removed = call(
        &app,
        &token,
        Method::DELETE,
        &format!("{USERS}/{sam}"),
        None,
    )
    .await;
    assert_eq!(removed.status(), StatusCode::OK);
    assert_unauthorized(app.list_flows(Some(&key), None).await).await;
    assert_unauthorized(with_token().await).await;
    let again = call(
        &app,
        &token,
        Method::DELETE,
        &format!("{USERS}/{sam}"),
        None,
    )
    .await;
    assert_error(again, StatusCode::NOT_FOUND).await;
    let bad = call(
        &app,
        &token,
        Method::GET,
        &format!("{USERS}/not-a-uuid"),
        None,
    )
    .await;
    assert_error(bad, StatusCode::BAD_REQUEST).await;
}
