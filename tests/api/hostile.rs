//! Hostile input: a table of bad requests, each answered with a 4xx that says why, writing
//! nothing (every table's row count, the flow list and the key list are the same after it),
//! and leaving the server serving. Then the hostile-looking text that is valid (quotes, `../`,
//! right-to-left scripts in a flow's name) is stored and returned exactly as sent.

use reqwest::header::HeaderValue;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, assert_error, assert_json, both_backends, enc, flow_names};

both_backends! {
    bad_requests_are_refused_with_a_message_and_write_nothing,
    hostile_looking_text_that_is_valid_is_stored_exactly,
    a_link_kept_from_tenant_a_grants_nothing_in_tenant_b_that_adds_the_email_later,
    a_link_used_after_the_account_joined_tenant_b_needs_its_password,
    the_link_of_a_withdrawn_invitation_grants_nothing,
    adding_an_email_answers_the_same_whether_or_not_it_has_an_account_elsewhere,
    the_command_line_does_not_add_an_account_whose_password_a_link_would_set,
    removal_ends_tokens_and_sessions_for_good_even_when_the_user_is_added_back,
    removal_from_the_command_line_is_for_good_too,
    a_token_minted_from_a_token_ends_when_the_asking_token_does,
    an_administrator_renames_only_users_who_belong_to_no_other_tenant,
    a_path_flag_is_exactly_true_or_false,
    a_role_whose_name_and_id_disagree_is_refused,
    api_answers_are_never_cached,
    every_stored_text_is_checked,
    valid_texts_are_stored_as_sent,
    an_empty_name_clears_it_and_a_users_own_names_are_checked,
}

const FLOW: &str = "/api/draw/1/flow";
const KEYS: &str = "/api/admin/1/users/me/keys";

/// How a case reaches the server.
enum Probe {
    Http(Box<RequestBuilder>),
    /// Bytes no HTTP client would send; keyflow itself answers.
    Raw(Vec<u8>),
    /// Bytes that break HTTP/1.1 itself: hyper refuses them before keyflow sees a request,
    /// with the status alone and no body, so only the status is asserted.
    RawRefusedByHyper(Vec<u8>),
}

struct Case {
    what: &'static str,
    probe: Probe,
    status: StatusCode,
}

fn case(what: &'static str, probe: Probe, status: u16) -> Case {
    let status = StatusCode::from_u16(status).unwrap();
    Case {
        what,
        probe,
        status,
    }
}

/// Everything a bad request could have changed.
#[derive(Debug, PartialEq)]
struct Written {
    rows: std::collections::BTreeMap<String, i64>,
    flows: Value,
    keys: Vec<Value>,
}

async fn written(app: &TestApp, token: &str, key: &str) -> Written {
    let flows = app.list_flows(Some(key), Some(&app.tenant_id)).await;
    Written {
        rows: app.row_counts().await,
        flows: assert_json(flows, StatusCode::OK).await,
        // The key's last use is left out: the valid reads here use the key, and its use is
        // written behind the request (its first use each minute), so it may land at any point
        // of the test, and a new minute records it again.
        keys: app
            .key_list(token)
            .await
            .into_iter()
            .map(|mut key| {
                if let Some(key) = key.as_object_mut() {
                    key.remove("lastUsedAt");
                    key.remove("lastUsedAddress");
                }
                key
            })
            .collect(),
    }
}

/// A raw request: `head` lines (request line first), then the body.
fn raw(head: &[&[u8]], body: &[u8]) -> Vec<u8> {
    let mut request = Vec::new();
    for line in head {
        request.extend_from_slice(line);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"Host: keyflow\r\nConnection: close\r\n");
    request.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    request.extend_from_slice(body);
    request
}

async fn bad_requests_are_refused_with_a_message_and_write_nothing() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let key = app.new_key("mine").await;
    let tenant = app.tenant_id.clone();
    // A key of the right shape and checksum, issued by another deployment (another pepper).
    let elsewhere = TestApp::spawn().await;
    let foreign_key = elsewhere.new_key("theirs").await;

    let big = "a".repeat(48 * 1024);
    let ten_mb = format!(
        "{{\"developerName\":\"Huge\",\"developerSummary\":\"{}\"}}",
        "x".repeat(10 * 1024 * 1024)
    );
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let not_utf8 = HeaderValue::from_bytes(b"\xff\xfe\xfd").unwrap();
    let bearer = format!("Authorization: Bearer {token}");

    let flows = |m: Method| app.with_key(m, FLOW, &key).header("manywhotenant", &tenant);
    let get = |query: String| {
        app.with_key(Method::GET, &format!("{FLOW}?{query}"), &key)
            .header("manywhotenant", &tenant)
    };
    let list = |filter: &str| get(format!("filter={}", enc(filter)));
    let paged = |page: &str, size: &str| get(format!("page={}&pageSize={}", enc(page), enc(size)));
    let new_flow = |body: Value| flows(Method::POST).json(&body);
    let new_key = |name: &str, tenant_id: &str| {
        app.with_token(Method::POST, KEYS, &token)
            .json(&json!({ "name": name, "tenantId": tenant_id }))
    };
    let raw_body = |path: &str, body: String| {
        app.with_token(Method::POST, path, &token)
            .header("content-type", "application/json")
            .body(body)
    };
    let http = |request: RequestBuilder| Probe::Http(Box::new(request));

    // One case a line: what, how it is sent, the status.
    #[rustfmt::skip]
    let cases = vec![
        // A 48 KiB header (past keyflow's 32 KiB, within the connection's 64 KiB read buffer),
        // wherever it is; the write it rides on does not happen.
        case("48 KiB key", http(app.with_key(Method::GET, FLOW, &big)), 431),
        case("48 KiB tenant", http(flows(Method::GET).header("manywhotenant", &big)), 431),
        case("48 KiB token", http(app.with_token(Method::GET, FLOW, &big)), 431),
        case("48 KiB other header", http(new_flow(json!({"developerName": "Padded"})).header("x-padding", &big)), 431),
        case("16 KiB query", http(list(&big[..16 * 1024])), 414),
        // Past the connection's read buffer (64 KiB), hyper answers before keyflow reads it.
        case("200 KiB header", Probe::RawRefusedByHyper(raw(&[b"GET /api/draw/1/flow HTTP/1.1", format!("x-padding: {}", "a".repeat(200 * 1024)).as_bytes()], b"")), 431),
        // Bytes that are not UTF-8, NUL bytes, and credential headers sent twice.
        case("non-UTF-8 key", http(app.client.get(app.url(FLOW)).header("x-boomi-flow-api-key", not_utf8.clone())), 401),
        case("non-UTF-8 tenant", http(app.with_key(Method::POST, FLOW, &key).header("manywhotenant", not_utf8.clone()).json(&json!({"developerName": "T"}))), 400),
        case("non-UTF-8 token", http(app.client.get(app.url(FLOW)).header("authorization", not_utf8.clone())), 401),
        case("a second tenant header", http(new_flow(json!({"developerName": "T"})).header("manywhotenant", &elsewhere.tenant_id)), 400),
        case("a second key header", http(new_flow(json!({"developerName": "T"})).header("x-boomi-flow-api-key", &foreign_key)), 400),
        case("NUL in the key", Probe::RawRefusedByHyper(raw(&[b"GET /api/draw/1/flow HTTP/1.1", b"x-boomi-flow-api-key: kf_\0abc"], b"")), 400),
        case("NUL in the tenant", Probe::RawRefusedByHyper(raw(&[b"POST /api/draw/1/flow HTTP/1.1", bearer.as_bytes(), b"manywhotenant: \0"], b"{\"developerName\":\"N\"}")), 400),
        case("NUL in a header name", Probe::RawRefusedByHyper(raw(&[b"GET /api/draw/1/flow HTTP/1.1", b"x-boomi\0: 1"], b"")), 400),
        case("non-UTF-8 in the path", Probe::RawRefusedByHyper(raw(&[b"GET /api/draw/1/flow/\xff\xfe HTTP/1.1", format!("x-boomi-flow-api-key: {key}").as_bytes()], b"")), 400),
        case("encoded non-UTF-8 in the path", http(app.with_key(Method::GET, &format!("{FLOW}/%FF%FE"), &key)), 400),
        case("encoded non-UTF-8 in the filter", http(get("filter=developerName%20eq%20%27%FF%27".into())), 400),
        case("NUL in the filter", http(list("developerName eq 'a\0b'")), 400),
        case("NUL in a flow name", http(new_flow(json!({"developerName": "a\u{0}b"}))), 422),
        // Bodies: 10 MB, and JSON nested 10,000 deep.
        case("10 MB flow", Probe::Raw(raw(&[b"POST /api/draw/1/flow HTTP/1.1", bearer.as_bytes()], ten_mb.as_bytes())), 413),
        case("10 MB key", Probe::Raw(raw(&[b"POST /api/admin/1/users/me/keys HTTP/1.1", bearer.as_bytes()], ten_mb.as_bytes())), 413),
        case("deep flow", http(raw_body(FLOW, deep.clone())), 400),
        case("deep key", http(raw_body(KEYS, format!("{{\"name\":\"d\",\"x\":{deep}}}"))), 400),
        // Unicode that disguises a name, and JSON that is not Unicode.
        case("right-to-left override in a flow name", http(new_flow(json!({"developerName": "Invoice \u{202E}fdp.exe"}))), 422),
        case("right-to-left isolate in a key name", http(new_key("key\u{2067}evil", &tenant)), 422),
        case("zero-width space in a flow name", http(new_flow(json!({"developerName": "ad\u{200B}min"}))), 422),
        case("a lone surrogate", http(raw_body(FLOW, r#"{"developerName":"\ud800"}"#.into())), 400),
        case("256 CJK characters", http(new_flow(json!({"developerName": "名".repeat(256)}))), 422),
        // SQL metacharacters where keyflow reads structure: filters, ids, the tenant header.
        case("SQL after a filter", http(list("developerName eq 'x' OR 1=1 --")), 400),
        case("SQL statement in a filter", http(list("developerName eq 'x'; DROP TABLE flows; --")), 400),
        case("SQL in substringof", http(list("substringof(developerName,'%') or '1'='1'")), 400),
        case("SQL as the tenant", http(flows(Method::GET).header("manywhotenant", "' OR '1'='1")), 400),
        case("SQL as a key's tenantId", http(new_key("k", "x' OR 1=1; --")), 422),
        case("SQL as a flow id", http(app.with_key(Method::DELETE, &format!("{FLOW}/{}", enc("1 OR 1=1")), &key)), 400),
        case("SQL as a key's name to delete", http(app.with_token(Method::DELETE, &format!("{KEYS}/{}", enc("x' OR '1'='1")), &token)), 404),
        // `../` in names and paths.
        case("../ in a key name", http(new_key("../../etc/passwd", &tenant)), 422),
        case("a key named ..", http(new_key("..", &tenant)), 422),
        case("../ as a key to delete", http(app.with_token(Method::DELETE, &format!("{KEYS}/{}", enc("../../flow")), &token)), 404),
        case("../ as a flow id", http(app.with_key(Method::DELETE, &format!("{FLOW}/{}", enc("../keys")), &key)), 400),
        // Paging out of range.
        case("negative page", http(paged("-1", "10")), 400),
        case("page zero", http(paged("0", "10")), 400),
        case("negative pageSize", http(paged("1", "-10")), 400),
        case("huge page", http(paged("99999999999999999999", "10")), 400),
        case("huge pageSize", http(paged("1", "1000000")), 400),
        case("fractional pageSize", http(paged("1", "1e3")), 400),
        case("signed page", http(paged("+1", "10")), 400),
        case("signed pageSize", http(paged("1", "+10")), 400),
        // Keys of the right shape and checksum that this deployment never issued.
        case("a key from another deployment", http(app.with_key(Method::GET, FLOW, &foreign_key).header("manywhotenant", &tenant)), 401),
        case("another deployment's key and tenant", http(app.with_key(Method::GET, FLOW, &foreign_key).header("manywhotenant", &elsewhere.tenant_id)), 401),
        case("another deployment's key, writing", http(app.with_key(Method::POST, FLOW, &foreign_key).json(&json!({"developerName": "Theirs"}))), 401),
    ];

    let before = written(&app, &token, &key).await;
    for Case {
        what,
        probe,
        status,
    } in cases
    {
        match probe {
            Probe::Http(request) => {
                let response = request.send().await.unwrap();
                let message = assert_error(response, status).await;
                assert!(message.len() > 10, "{what}: a terse message {message:?}");
            }
            Probe::Raw(bytes) => {
                let (got, body) = app.raw_bytes(&bytes).await;
                assert_eq!(got, status.as_u16(), "{what}: {body}");
                let message: Value = serde_json::from_str(&body)
                    .unwrap_or_else(|_| panic!("{what}: not JSON: {body:?}"));
                assert!(message.is_string(), "{what}: {body}");
            }
            Probe::RawRefusedByHyper(bytes) => {
                let (got, _) = app.raw_bytes(&bytes).await;
                assert_eq!(got, status.as_u16(), "{what}");
            }
        }
        assert_eq!(
            written(&app, &token, &key).await,
            before,
            "{what} wrote something"
        );
        let health = app.client.get(app.url("/health")).send().await.unwrap();
        assert_eq!(
            health.status(),
            StatusCode::OK,
            "{what}: the server stopped serving"
        );
    }
}

async fn hostile_looking_text_that_is_valid_is_stored_exactly() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let key = app.new_key("mine").await;
    let before = app.row_counts().await;
    let names = [
        "Robert'); DROP TABLE flows; --",
        "../../etc/passwd",
        "%00 %s %n \\x00",
        "מפתח API",
        "مفتاح",
        "名前 🚀",
    ];
    for name in names {
        let response = app
            .with_key(Method::POST, FLOW, &key)
            .json(&json!({ "developerName": name }))
            .send()
            .await
            .unwrap();
        let flow = assert_json(response, StatusCode::OK).await;
        assert_eq!(flow["developerName"], name);
    }
    let listed = assert_json(app.list_flows(Some(&key), None).await, StatusCode::OK).await;
    for name in names {
        assert!(
            flow_names(&listed).iter().any(|n| n == name),
            "{name} not listed"
        );
    }
    let after = app.row_counts().await;
    assert_eq!(after["flows"], before["flows"] + names.len() as i64);
    assert_eq!(
        after["api_keys"], before["api_keys"],
        "other tables untouched"
    );
    // The quote is data to the filter too, and a key's name may hold SQL.
    let filter = "developerName eq 'Robert''); DROP TABLE flows; --'";
    let found = app
        .with_key(Method::GET, &format!("{FLOW}?filter={}", enc(filter)), &key)
        .send()
        .await
        .unwrap();
    let found = assert_json(found, StatusCode::OK).await;
    assert_eq!(flow_names(&found), vec![names[0].to_string()]);
    let sql_key = app
        .new_key_for(&token, "x'; DELETE FROM api_keys; --", &app.tenant_id)
        .await;
    let listed = app.list_flows(Some(&sql_key), None).await;
    assert_eq!(listed.status(), StatusCode::OK);
    assert_eq!(app.row_counts().await["api_keys"], before["api_keys"] + 1);
}

// ---- Issue 9 point 1: account takeover across tenants through a set-password link ----
// A link accepts only its own tenant's invitation; an account that has a password wants it.

/// A second tenant "B" with its own administrator (bob, made with the command line): (tenant
/// id, bob's token).
async fn tenant_b(app: &TestApp) -> (String, String) {
    let b = app.create_tenant("B").await;
    app.create_user("bob@b.example", "bob's long password", &b)
        .await;
    (b, app.login("bob@b.example", "bob's long password").await)
}

/// `GET /api/draw/1/flow` in `tenant` with a token: the status.
async fn flows_in(app: &TestApp, token: &str, tenant: &str) -> StatusCode {
    app.with_token(Method::GET, FLOW, token)
        .header(crate::helpers::TENANT_HEADER, tenant)
        .send()
        .await
        .unwrap()
        .status()
}

/// The `users/me` tenant ids a token lists.
async fn tenant_ids(app: &TestApp, token: &str) -> Vec<String> {
    let me = app.me(token).await;
    let tenants = me["tenants"].as_array().unwrap();
    tenants
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect()
}

async fn a_link_kept_from_tenant_a_grants_nothing_in_tenant_b_that_adds_the_email_later() {
    let app = TestApp::spawn().await;
    let admin_a = app.admin_token().await;
    let (b, bob) = tenant_b(&app).await;
    // A's administrator adds new@x and keeps the link; B adds the same email afterwards.
    let from_a = app.invite(&admin_a, &app.tenant_id, "new@x.example").await;
    let from_b = app.invite(&bob, &b, "new@x.example").await;

    app.accept_invitation(&from_a, "the attacker's password")
        .await;
    let taken = app.login("new@x.example", "the attacker's password").await;
    assert_eq!(tenant_ids(&app, &taken).await, [app.tenant_id.as_str()]);
    assert_eq!(flows_in(&app, &taken, &b).await, StatusCode::UNAUTHORIZED);
    let mint = app
        .with_token(
            Method::GET,
            &format!("/api/draw/1/authentication/{b}"),
            &taken,
        )
        .send()
        .await
        .unwrap();
    assert_error(mint, StatusCode::FORBIDDEN).await;
    let key = app.create_key(&taken, "into b", &b).await;
    assert_error(key, StatusCode::FORBIDDEN).await;
    // B's invitation is still pending, and its link now wants the account's password.
    let b_users = app
        .with_token(Method::GET, "/api/admin/1/users", &bob)
        .header(crate::helpers::TENANT_HEADER, &b)
        .send()
        .await
        .unwrap();
    let b_users = assert_json(b_users, StatusCode::OK).await;
    assert_eq!(b_users["items"][1]["invitationPending"], true);
    crate::helpers::assert_unauthorized(app.try_accept(&from_b, "another password!").await).await;
}

async fn a_link_used_after_the_account_joined_tenant_b_needs_its_password() {
    // Two failures allowed, and none given back while the test runs (hashing is slow here).
    let app = TestApp::spawn_with(|config| {
        config.auth_failure_burst = 2;
        config.auth_failure_refill = std::time::Duration::from_secs(3600);
    })
    .await;
    let admin_a = app.admin_token().await;
    let (b, bob) = tenant_b(&app).await;
    // The account exists in B (its owner accepted B's link) before A's link is used.
    let from_b = app.invite(&bob, &b, "new@x.example").await;
    app.accept_invitation(&from_b, "the owner's password").await;
    let from_a = app.invite(&admin_a, &app.tenant_id, "new@x.example").await;

    for guess in ["the attacker's password", "another guess here"] {
        crate::helpers::assert_unauthorized(app.try_accept(&from_a, guess).await).await;
    }
    // The guesses spend the address's budget: the next is a 429, and so is even the right one.
    let spent = app.try_accept(&from_a, "a third guess, too many").await;
    assert_error(spent, StatusCode::TOO_MANY_REQUESTS).await;
    let right = app.try_accept(&from_a, "the owner's password").await;
    assert_error(right, StatusCode::TOO_MANY_REQUESTS).await;
    // Nothing changed: the owner's one tenant.
    let email = keyflow::domain::Email::parse("new@x.example").unwrap();
    let owner = app
        .state
        .store
        .user_by_email(&email)
        .await
        .unwrap()
        .unwrap();
    let memberships = app.state.store.memberships(owner.id).await.unwrap();
    let tenants: Vec<String> = memberships
        .iter()
        .map(|m| m.tenant.id.to_string())
        .collect();
    assert_eq!(tenants, [b]);
}

async fn the_link_of_a_withdrawn_invitation_grants_nothing() {
    let app = TestApp::spawn().await;
    let admin_a = app.admin_token().await;
    let (b, bob) = tenant_b(&app).await;
    let from_a = app.invite(&admin_a, &app.tenant_id, "new@x.example").await;
    let path = format!("/api/admin/1/users/{}", from_a["id"].as_str().unwrap());
    let removed = app
        .with_token(Method::DELETE, &path, &admin_a)
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), StatusCode::OK);
    app.invite(&bob, &b, "new@x.example").await;

    crate::helpers::assert_unauthorized(app.try_accept(&from_a, "the attacker's password").await)
        .await;
    let login = app
        .try_login("new@x.example", "the attacker's password")
        .await;
    crate::helpers::assert_unauthorized(login).await;
}

async fn adding_an_email_answers_the_same_whether_or_not_it_has_an_account_elsewhere() {
    let app = TestApp::spawn().await;
    let admin_a = app.admin_token().await;
    let b = app.create_tenant("B").await;
    let args = [
        "user",
        "create",
        "--email",
        "old@b.example",
        "--tenant",
        &b,
        "--first-name",
        "Real",
        "--last-name",
        "Name",
    ];
    let old_id = app.cli_id(&args, Some("old's long password\n")).await;
    let old_token = app.login("old@b.example", "old's long password").await;

    let not_before = uuid::Uuid::now_v7().to_string();
    let add = |email: &str| {
        let body = json!({ "email": email, "firstName": "Typed" });
        app.try_invite(&admin_a, &app.tenant_id, body)
    };
    let fresh = assert_json(add("fresh@a.example").await, StatusCode::OK).await;
    let existing = assert_json(add("old@b.example").await, StatusCode::OK).await;

    let keys =
        |value: &Value| -> Vec<String> { value.as_object().unwrap().keys().cloned().collect() };
    assert_eq!(keys(&fresh), keys(&existing));
    for (added, email) in [(&fresh, "fresh@a.example"), (&existing, "old@b.example")] {
        let link = added["setPasswordLink"].as_str().expect("always a link");
        assert!(
            link.starts_with("/api/admin/1/users/password?token=kfp_"),
            "{link}"
        );
        assert_eq!(link.len(), fresh["setPasswordLink"].as_str().unwrap().len());
        assert_eq!(added["email"], email);
        assert_eq!(added["invitationPending"], true);
        assert_eq!(
            added["firstName"], "Typed",
            "the names typed, never the account's"
        );
        assert_eq!(added["lastName"], Value::Null);
        assert_eq!(added["role"]["developerName"], "STANDARD_USER");
        // A fresh UUID v7 (its time is now) and a fresh createdAt: nothing of the account's age.
        let id = added["id"].as_str().unwrap();
        assert!(id > not_before.as_str(), "{id} is older than the request");
        assert_ne!(id, old_id);
        let created = added["createdAt"].as_str().unwrap();
        assert!(created.starts_with(&keyflow::domain::Timestamp::now().to_rfc3339()[..10]));
    }
    // The listing and a lookup show both the same way; the account's own id is unknown here.
    let get = |path: String| app.with_token(Method::GET, &path, &admin_a).send();
    for added in [&fresh, &existing] {
        let path = format!("/api/admin/1/users/{}", added["id"].as_str().unwrap());
        let shown = assert_json(get(path).await.unwrap(), StatusCode::OK).await;
        assert_eq!(
            keys(&shown),
            keys(&fresh)
                .into_iter()
                .filter(|k| k != "setPasswordLink")
                .collect::<Vec<_>>()
        );
        assert_eq!(shown["firstName"], "Typed");
    }
    let by_account = get(format!("/api/admin/1/users/{old_id}")).await.unwrap();
    assert_error(by_account, StatusCode::NOT_FOUND).await;
    // Renaming a pending invitation is the invitation's business: the same answer for both,
    // and the account's own names are untouched.
    for added in [&fresh, &existing] {
        let path = format!("/api/admin/1/users/{}", added["id"].as_str().unwrap());
        let renamed = app
            .with_token(Method::PUT, &path, &admin_a)
            .json(&json!({ "firstName": "Renamed" }))
            .send()
            .await
            .unwrap();
        assert_eq!(
            assert_json(renamed, StatusCode::OK).await["firstName"],
            "Renamed"
        );
    }
    assert_eq!(app.me(&old_token).await["firstName"], "Real");
}

async fn the_command_line_does_not_add_an_account_whose_password_a_link_would_set() {
    let app = TestApp::spawn().await;
    let admin_a = app.admin_token().await;
    let b = app.create_tenant("B").await;
    let from_a = app.invite(&admin_a, &app.tenant_id, "new@x.example").await;
    let args = ["user", "add", "--email", "new@x.example", "--tenant", &b];
    let out = app.cli(&args, None).await;
    assert!(!out.status.success(), "{}", crate::helpers::show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("has no password yet"), "{stderr}");

    app.accept_invitation(&from_a, "the attacker's password")
        .await;
    let taken = app.login("new@x.example", "the attacker's password").await;
    assert_eq!(tenant_ids(&app, &taken).await, [app.tenant_id.as_str()]);
}

// ---- Issue 9 point 3: removed means removed ----
// A sign-in reaches the memberships that began before it; removal deletes the tenant's tokens.

/// sam: an administrator of "Other" (his first tenant) and a standard user of Example, both
/// from the command line. Returns (Other's id, sam's id in Example).
async fn sam_in_two_tenants(app: &TestApp) -> (String, String) {
    let other = app.create_tenant("Other").await;
    let sam = app.create_user("sam@example.com", SAM, &other).await;
    app.add_user("sam@example.com", &app.tenant_id).await;
    (other, sam)
}

const SAM: &str = "sam's long password";

async fn removal_ends_tokens_and_sessions_for_good_even_when_the_user_is_added_back() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (other, sam) = sam_in_two_tenants(&app).await;
    let example = app.tenant_id.clone();
    let for_other = app.login("sam@example.com", SAM).await;
    let mint = |token: &str| {
        let path = format!("/api/draw/1/authentication/{example}");
        app.with_token(Method::GET, &path, token).send()
    };
    let for_example = assert_json(mint(&for_other).await.unwrap(), StatusCode::OK).await;
    let for_example = for_example.as_str().unwrap().to_string();
    let mut session = crate::browser::Browser::signed_in_as(&app, "sam@example.com", SAM).await;
    let flows_page = format!("/flows?tenant={example}");
    assert_eq!(session.get(&flows_page).await.status, StatusCode::OK);
    assert_eq!(flows_in(&app, &for_other, &example).await, StatusCode::OK);
    let tokens_before = app.row_counts().await["tokens"];

    let path = format!("/api/admin/1/users/{sam}");
    let removed = app
        .with_token(Method::DELETE, &path, &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), StatusCode::OK);
    assert_eq!(
        app.row_counts().await["tokens"],
        tokens_before - 1,
        "Example's token is gone"
    );
    // Added back over the API: sam accepts the invitation with his password.
    let again = app.invite(&admin, &example, "sam@example.com").await;
    app.accept_invitation(&again, SAM).await;

    let with_example_token = app.with_token(Method::GET, FLOW, &for_example).send().await;
    crate::helpers::assert_unauthorized(with_example_token.unwrap()).await;
    assert_eq!(
        flows_in(&app, &for_other, &example).await,
        StatusCode::UNAUTHORIZED
    );
    assert_error(mint(&for_other).await.unwrap(), StatusCode::FORBIDDEN).await;
    assert_eq!(tenant_ids(&app, &for_other).await, [other.as_str()]);
    assert_eq!(session.get(&flows_page).await.status, StatusCode::NOT_FOUND);
    let settings = session.get("/settings").await;
    assert!(
        !settings.html.contains(&example),
        "Example is offered to the old session"
    );

    // A new sign-in reaches Example; its new key stays out of the old sign-ins' reach.
    let fresh = app.login("sam@example.com", SAM).await;
    assert_eq!(flows_in(&app, &fresh, &example).await, StatusCode::OK);
    app.new_key_for(&fresh, "after re-adding", &example).await;
    assert!(app.key_list(&for_other).await.is_empty());
    let reveal = app
        .with_token(
            Method::POST,
            &format!("{KEYS}/after%20re-adding/reveal"),
            &for_other,
        )
        .send()
        .await
        .unwrap();
    assert_error(reveal, StatusCode::NOT_FOUND).await;
    let settings = session.get("/settings").await;
    assert!(!settings.html.contains("after re-adding"));
    let shown = session
        .request(Method::POST, "/settings/keys/reveal")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-csrf-token", settings.csrf())
        .body(format!("name=after%20re-adding&tenant={example}"))
        .send()
        .await
        .unwrap();
    assert_error(shown, StatusCode::NOT_FOUND).await;
    let created = session
        .post(
            "/settings/keys",
            &[
                ("csrf", &settings.csrf()),
                ("name", "old session"),
                ("tenant", &example),
            ],
        )
        .await;
    assert!(
        !created.html.contains("new-key-value"),
        "the old session made a key"
    );
}

async fn removal_from_the_command_line_is_for_good_too() {
    let app = TestApp::spawn().await;
    app.create_user("sam@example.com", SAM, &app.tenant_id)
        .await;
    let token = app.login("sam@example.com", SAM).await;
    let mut session = crate::browser::Browser::signed_in_as(&app, "sam@example.com", SAM).await;
    let tokens_before = app.row_counts().await["tokens"];

    let email = ["--email", "sam@example.com", "--tenant", &app.tenant_id];
    let out = app
        .cli(&[&["user", "remove"][..], &email].concat(), None)
        .await;
    assert!(out.status.success(), "{}", crate::helpers::show(&out));
    assert_eq!(app.row_counts().await["tokens"], tokens_before - 1);
    app.add_user("sam@example.com", &app.tenant_id).await;

    let old = app
        .with_token(Method::GET, FLOW, &token)
        .send()
        .await
        .unwrap();
    crate::helpers::assert_unauthorized(old).await;
    let settings = session.get("/settings").await;
    assert_eq!(settings.status, StatusCode::OK);
    assert!(!settings.html.contains(&app.tenant_id));
    let fresh = app.login("sam@example.com", SAM).await;
    assert_eq!(flows_in(&app, &fresh, &app.tenant_id).await, StatusCode::OK);
}

// ---- Issue 9 point 4: a token cannot renew itself ----

/// Runs `sql` on the server's database beside it (the test stands in for time passing), then
/// reads every token's sign-in and end as RFC 3339 text in keyflow's format.
async fn write_beside(app: &TestApp, sql: &str) -> Vec<(String, String)> {
    use sqlx::Connection;
    if app.backend() == Backend::Postgres {
        let mut db = app.postgres().await;
        if !sql.is_empty() {
            sqlx::raw_sql(sql).execute(&mut db).await.unwrap();
        }
        let text = |column| {
            format!("to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
        };
        let select = format!(
            "SELECT {}, {} FROM tokens ORDER BY created_at",
            text("signed_in_at"),
            text("expires_at")
        );
        let rows = sqlx::query_as(&select).fetch_all(&mut db).await.unwrap();
        db.close().await.unwrap();
        return rows;
    }
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(app.data_dir().join("keyflow.db"))
        .busy_timeout(std::time::Duration::from_secs(10));
    let mut db = sqlx::SqliteConnection::connect_with(&options)
        .await
        .unwrap();
    sqlx::raw_sql(sql).execute(&mut db).await.unwrap();
    let rows = sqlx::query_as("SELECT signed_in_at, expires_at FROM tokens ORDER BY created_at")
        .fetch_all(&mut db)
        .await
        .unwrap();
    db.close().await.unwrap();
    rows
}

/// `GET /api/draw/1/authentication/{tenant}` with `token`: the new token.
async fn mint(app: &TestApp, token: &str, tenant: &str) -> String {
    let path = format!("/api/draw/1/authentication/{tenant}");
    let response = app
        .with_token(Method::GET, &path, token)
        .send()
        .await
        .unwrap();
    let minted = assert_json(response, StatusCode::OK).await;
    minted.as_str().unwrap().to_string()
}

async fn a_token_minted_from_a_token_ends_when_the_asking_token_does() {
    let app = TestApp::spawn().await;
    let other = app.second_tenant("Other").await;
    let first = app.admin_token().await;
    // The first token is near its end (as if signed in a day ago).
    let soon = keyflow::domain::Timestamp::now()
        .plus(std::time::Duration::from_secs(120))
        .to_rfc3339();
    write_beside(&app, &format!("UPDATE tokens SET expires_at = '{soon}'")).await;
    let second = mint(&app, &first, &other).await;
    let third = mint(&app, &second, &app.tenant_id).await;
    let rows = write_beside(&app, "").await;
    assert_eq!(rows.len(), 3);
    for (signed_in_at, expires_at) in &rows {
        assert_eq!(
            expires_at, &soon,
            "a minted token outlived the one that asked"
        );
        assert_eq!(signed_in_at, &rows[0].0, "the sign-in is carried over");
    }
    // Once the first token has ended, its descendants have too, and none can mint.
    write_beside(
        &app,
        "UPDATE tokens SET expires_at = '2000-01-01T00:00:00.000000Z'",
    )
    .await;
    // Behind the server's back, which caches the tokens it has seen: dropped as an announced
    // change would drop them (a cached grant's own end is `auth::credential_cache`'s tests').
    app.state.forget_credentials();
    for token in [&first, &second, &third] {
        let path = format!("/api/draw/1/authentication/{other}");
        let response = app
            .with_token(Method::GET, &path, token)
            .send()
            .await
            .unwrap();
        crate::helpers::assert_unauthorized(response).await;
    }
    // Only a password sign-in starts a new lifetime.
    let fresh = app.admin_token().await;
    assert_eq!(flows_in(&app, &fresh, &other).await, StatusCode::OK);
}

// ---- Issue 9 point 8: names only for users of no other tenant ----

async fn an_administrator_renames_only_users_who_belong_to_no_other_tenant() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, sam) = sam_in_two_tenants(&app).await;
    let sam_token = app.login("sam@example.com", SAM).await;
    let put = |id: String, body: Value| {
        let path = format!("/api/admin/1/users/{id}");
        app.with_token(Method::PUT, &path, &admin)
            .json(&body)
            .send()
    };

    let renamed = put(sam.clone(), json!({ "firstName": "Mallory" }))
        .await
        .unwrap();
    let message = assert_error(renamed, StatusCode::FORBIDDEN).await;
    assert!(
        message.contains("only the user changes their own name"),
        "{message}"
    );
    assert_eq!(app.me(&sam_token).await["firstName"], Value::Null);
    // A role change alone, or the names as they are, is fine.
    let promoted = put(sam.clone(), json!({ "role": { "roleId": 1 } }))
        .await
        .unwrap();
    assert_eq!(
        assert_json(promoted, StatusCode::OK).await["role"]["roleId"],
        1
    );
    let same = put(sam.clone(), json!({ "firstName": null, "lastName": "" }))
        .await
        .unwrap();
    assert_json(same, StatusCode::OK).await;
    // The user changes their own name (with a token; a key may not).
    let own = app
        .with_token(Method::PUT, "/api/admin/1/users/me", &sam_token)
        .json(&json!({ "firstName": "Sam" }))
        .send()
        .await
        .unwrap();
    assert_eq!(assert_json(own, StatusCode::OK).await["firstName"], "Sam");
    let key = app.new_key_for(&sam_token, "sam's", &app.tenant_id).await;
    let by_key = app
        .with_key(Method::PUT, "/api/admin/1/users/me", &key)
        .json(&json!({ "firstName": "Mallory" }))
        .send()
        .await
        .unwrap();
    assert_error(by_key, StatusCode::FORBIDDEN).await;
    let shown = app
        .with_token(Method::GET, &format!("/api/admin/1/users/{sam}"), &admin)
        .send()
        .await
        .unwrap();
    let shown = assert_json(shown, StatusCode::OK).await;
    assert_eq!(
        (&shown["firstName"], &shown["lastName"]),
        (&json!("Sam"), &Value::Null)
    );

    // A user of this tenant only is the administrator's to name.
    let solo = app
        .create_user("solo@example.com", SAM, &app.tenant_id)
        .await;
    let named = put(solo, json!({ "firstName": "Solo", "lastName": "Only" }))
        .await
        .unwrap();
    let named = assert_json(named, StatusCode::OK).await;
    assert_eq!(
        (&named["firstName"], &named["lastName"]),
        (&json!("Solo"), &json!("Only"))
    );
}

// ---- Issue 9 point 9: inputs mean one thing ----

/// A path flag is `true` or `false` as `docs/API.md` spells it: `TRUE` is a 400 and activates
/// nothing, where a case-insensitive reading would let a proxy rule on the exact path and
/// keyflow disagree about what was asked.
async fn a_path_flag_is_exactly_true_or_false() {
    let app = TestApp::spawn().await;
    let key = app.new_key("flags").await;
    let created = app
        .with_key(Method::POST, FLOW, &key)
        .json(&json!({ "developerName": "Flagged" }))
        .send()
        .await
        .unwrap();
    let flow = assert_json(created, StatusCode::OK).await;
    let flow = flow["id"]["id"].as_str().unwrap().to_string();
    let snapped = app
        .with_key(Method::POST, &format!("{FLOW}/snap/{flow}"), &key)
        .send()
        .await
        .unwrap();
    let version = assert_json(snapped, StatusCode::OK).await["id"]["versionId"]
        .as_str()
        .unwrap()
        .to_string();
    let activation = |default: &str, active: &str| {
        app.with_key(
            Method::POST,
            &format!("{FLOW}/activation/{flow}/{version}/{default}/{active}"),
            &key,
        )
    };
    let snapshots = || async {
        let listed = app
            .with_key(Method::GET, &format!("{FLOW}/snap/{flow}"), &key)
            .send()
            .await
            .unwrap();
        assert_json(listed, StatusCode::OK).await
    };
    let before = snapshots().await;
    assert_eq!(before[0]["isActive"], false);
    for (default, active) in [
        ("true", "TRUE"),
        ("True", "true"),
        ("FALSE", "true"),
        ("false", "1"),
        ("yes", "true"),
        ("true", "tRuE"),
    ] {
        let response = activation(default, active).send().await.unwrap();
        let message = assert_error(response, StatusCode::BAD_REQUEST).await;
        assert!(
            message.contains("must be true or false"),
            "{default}/{active}: {message}"
        );
        assert_eq!(
            snapshots().await,
            before,
            "{default}/{active} changed the snapshot"
        );
    }
    let activated = activation("true", "true").send().await.unwrap();
    let activated = assert_json(activated, StatusCode::OK).await;
    assert_eq!(
        (&activated["isActive"], &activated["isDefault"]),
        (&json!(true), &json!(true))
    );
}

/// A role named by both `developerName` and `roleId` must be named alike: one that says
/// `ADMINISTRATOR` and `2` is a 422, on adding a user and on updating one, and changes nothing.
async fn a_role_whose_name_and_id_disagree_is_refused() {
    const USERS: &str = "/api/admin/1/users";
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let users = || async {
        let listed = app
            .with_token(Method::GET, USERS, &token)
            .send()
            .await
            .unwrap();
        assert_json(listed, StatusCode::OK).await
    };
    let before = (app.row_counts().await, users().await);
    for role in [
        json!({ "developerName": "ADMINISTRATOR", "roleId": 2 }),
        json!({ "developerName": "STANDARD_USER", "roleId": 1 }),
    ] {
        let body = json!({ "email": "both@example.com", "role": role });
        let response = app
            .with_token(Method::POST, USERS, &token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let message = assert_error(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(message.contains("different roles"), "{message}");
        assert_eq!(
            (app.row_counts().await, users().await),
            before,
            "{role} wrote"
        );
    }

    // Named alike, twice, it is that role.
    let agreeing = json!({
        "email": "both@example.com",
        "role": { "developerName": "STANDARD_USER", "roleId": 2 }
    });
    let added = app
        .with_token(Method::POST, USERS, &token)
        .json(&agreeing)
        .send()
        .await
        .unwrap();
    let added = assert_json(added, StatusCode::OK).await;
    assert_eq!(added["role"]["developerName"], "STANDARD_USER");
    let path = format!("{USERS}/{}", added["id"].as_str().unwrap());

    let before = users().await;
    let disagreeing = json!({ "role": { "developerName": "ADMINISTRATOR", "roleId": 2 } });
    let response = app
        .with_token(Method::PUT, &path, &token)
        .json(&disagreeing)
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(users().await, before, "a refused update changed the user");
}

// ---- Issue 9 point 7: answers that carry secrets are never cached ----

/// Every API answer says `Cache-Control: no-store`, the ones holding a secret (a token, a key's
/// value, a set-password link) first among them, and the refusals too: no browser or proxy
/// cache keeps any of them.
async fn api_answers_are_never_cached() {
    use keyflow::api::cached_reads::answer_from_cache;
    let app = TestApp::spawn().await;
    let no_store = |what: &str, response: &reqwest::Response| {
        assert_eq!(
            response
                .headers()
                .get("cache-control")
                .map(|value| value.to_str().unwrap().to_string()),
            Some("no-store".to_string()),
            "{what}: {:?}",
            response.headers()
        );
    };

    let signed_in = app.try_login(&app.admin_email, &app.admin_password).await;
    no_store("a token from a sign-in", &signed_in);
    let token = assert_json(signed_in, StatusCode::OK).await;
    let token = token.as_str().unwrap().to_string();
    let other_tenant = app.second_tenant("Cached").await;
    let for_tenant = app
        .with_token(
            Method::GET,
            &format!("/api/draw/1/authentication/{other_tenant}"),
            &token,
        )
        .send()
        .await
        .unwrap();
    no_store("a token for another tenant", &for_tenant);

    let created = app.create_key(&token, "cached", &app.tenant_id).await;
    no_store("a new key", &created);
    let key = assert_json(created, StatusCode::OK).await["apiKey"]
        .as_str()
        .unwrap()
        .to_string();
    let listed = app
        .with_token(Method::GET, KEYS, &token)
        .send()
        .await
        .unwrap();
    no_store("the key list", &listed);
    let revealed = app
        .with_token(Method::POST, &format!("{KEYS}/cached/reveal"), &token)
        .send()
        .await
        .unwrap();
    assert_eq!(revealed.status(), StatusCode::OK);
    no_store("a revealed key", &revealed);
    let invited = app
        .with_token(Method::POST, "/api/admin/1/users", &token)
        .json(&json!({ "email": "invited@example.com" }))
        .send()
        .await
        .unwrap();
    no_store("a set-password link", &invited);
    assert!(assert_json(invited, StatusCode::OK).await["setPasswordLink"].is_string());

    // The flow list, through the router and then from the caches before routing.
    let routed = app.list_flows(Some(&key), Some(&app.tenant_id)).await;
    assert_eq!(routed.status(), StatusCode::OK);
    no_store("the routed flow list", &routed);
    let request = axum::http::Request::get(FLOW)
        .header("x-boomi-flow-api-key", &key)
        .header("manywhotenant", &app.tenant_id)
        .body(axum::body::Body::empty())
        .unwrap();
    let client = std::net::IpAddr::from([127, 0, 0, 1]);
    assert!(
        answer_from_cache(&app.state, &request, client).is_some(),
        "the next list is answered from the caches"
    );
    let early = app.list_flows(Some(&key), Some(&app.tenant_id)).await;
    assert_eq!(early.status(), StatusCode::OK);
    no_store("the flow list from the caches", &early);

    // Refusals: 401, 404, 413, 414, 422.
    let refusals = [
        ("no credentials", app.client.get(app.url(FLOW)), 401),
        (
            "no such endpoint",
            app.with_token(Method::GET, "/api/nothing", &token),
            404,
        ),
        (
            "a body over the limit",
            app.with_token(Method::POST, FLOW, &token)
                .body(vec![b' '; 2 << 20]),
            413,
        ),
        (
            "a path over the limit",
            app.with_token(
                Method::GET,
                &format!("{FLOW}?{}", "a".repeat(16 << 10)),
                &token,
            ),
            414,
        ),
        (
            "an invalid field",
            app.with_token(Method::POST, FLOW, &token)
                .json(&json!({ "developerName": "" })),
            422,
        ),
    ];
    for (what, request, status) in refusals {
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{what}");
        no_store(what, &response);
    }
}

// ---- Issue 9 point 8: every stored text is checked ----

/// What a refused text could have changed: every table's row count, and the texts an update
/// would rewrite in place (the flow list, the snapshots, the tenant, the users, the keys).
#[derive(Debug, PartialEq)]
struct StoredTexts {
    rows: std::collections::BTreeMap<String, i64>,
    flows: Value,
    snapshots: Value,
    tenant: Value,
    users: Value,
    keys: Vec<Value>,
}

async fn stored_texts(app: &TestApp, token: &str, flow: &str) -> StoredTexts {
    let read = |path: String| async move {
        let response = app
            .with_token(Method::GET, &path, token)
            .send()
            .await
            .unwrap();
        assert_json(response, StatusCode::OK).await
    };
    StoredTexts {
        rows: app.row_counts().await,
        flows: read(FLOW.to_string()).await,
        snapshots: read(format!("{FLOW}/snap/{flow}")).await,
        tenant: read("/api/admin/1/tenant".to_string()).await,
        users: read("/api/admin/1/users".to_string()).await,
        keys: app.key_list(token).await,
    }
}

/// Each text keyflow stores — flow names, summaries and tags, snapshot comments, the tenant's
/// name and summary, users' emails and first and last names, key names — holding a NUL, a
/// right-to-left override or 100,000 characters is refused with a message naming the field,
/// through the API, the web page and the command line, and nothing is written.
async fn every_stored_text_is_checked() {
    const USERS: &str = "/api/admin/1/users";
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let flows = assert_json(
        app.with_token(Method::GET, FLOW, &token)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    let flow = flows[0]["id"]["id"].as_str().unwrap().to_string();
    let added = app
        .with_token(Method::POST, USERS, &token)
        .json(&json!({ "email": "named@example.com", "firstName": "Named" }))
        .send()
        .await
        .unwrap();
    let user = assert_json(added, StatusCode::OK).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut browser = crate::browser::Browser::signed_in(&app).await;

    let long = "x".repeat(100_000);
    let bad_texts: [(&str, String); 3] = [
        ("a NUL", "before\u{0}after".to_string()),
        (
            "a right-to-left override",
            "Invoice \u{202E}fdp.exe".to_string(),
        ),
        ("100,000 characters", long.clone()),
    ];
    // A request for each field, given the text; the words its message must hold.
    type Field<'a> = (&'a str, &'a str, Box<dyn Fn(&str) -> RequestBuilder + 'a>);
    let post = |path: &str, body: Value| app.with_token(Method::POST, path, &token).json(&body);
    let fields: Vec<Field> = vec![
        (
            "a flow's name",
            "developerName",
            Box::new(|t| post(FLOW, json!({ "developerName": t }))),
        ),
        (
            "a flow's summary",
            "developerSummary",
            Box::new(|t| post(FLOW, json!({ "developerName": "S", "developerSummary": t }))),
        ),
        (
            "an updated flow's summary",
            "developerSummary",
            Box::new(|t| {
                post(
                    FLOW,
                    json!({ "id": { "id": flow }, "developerName": "S", "developerSummary": t }),
                )
            }),
        ),
        (
            "a flow's tag",
            "tags",
            Box::new(|t| post(FLOW, json!({ "developerName": "T", "tags": ["fine", t] }))),
        ),
        (
            "a snapshot's comment",
            "comment",
            Box::new(|t| {
                app.with_token(Method::POST, &format!("{FLOW}/snap/{flow}"), &token)
                    .json(&json!(t))
            }),
        ),
        (
            "the tenant's name",
            "developerName",
            Box::new(|t| post("/api/admin/1/tenant", json!({ "developerName": t }))),
        ),
        (
            "the tenant's summary",
            "developerSummary",
            Box::new(|t| post("/api/admin/1/tenant", json!({ "developerSummary": t }))),
        ),
        (
            "a new user's email",
            "email",
            Box::new(|t| post(USERS, json!({ "email": format!("{t}@example.com") }))),
        ),
        (
            "a new user's first name",
            "firstName",
            Box::new(|t| post(USERS, json!({ "email": "new@example.com", "firstName": t }))),
        ),
        (
            "a new user's last name",
            "lastName",
            Box::new(|t| post(USERS, json!({ "email": "new@example.com", "lastName": t }))),
        ),
        (
            "a user's first name",
            "firstName",
            Box::new(|t| {
                app.with_token(Method::PUT, &format!("{USERS}/{user}"), &token)
                    .json(&json!({ "firstName": t }))
            }),
        ),
        (
            "a user's last name",
            "lastName",
            Box::new(|t| {
                app.with_token(Method::PUT, &format!("{USERS}/{user}"), &token)
                    .json(&json!({ "lastName": t }))
            }),
        ),
        (
            "a key's name",
            "key name",
            Box::new(|t| post(KEYS, json!({ "name": t, "tenantId": app.tenant_id }))),
        ),
    ];

    let before = stored_texts(&app, &token, &flow).await;
    for (field, named, request) in &fields {
        for (what, text) in &bad_texts {
            let response = request(text).send().await.unwrap();
            let message = assert_error(response, StatusCode::UNPROCESSABLE_ENTITY).await;
            let words = if *named == "email" { "email" } else { named };
            assert!(
                message.contains(words) && message.len() < 400,
                "{field} with {what}: the message {message:?} does not name {words}, or echoes it"
            );
            assert_eq!(
                stored_texts(&app, &token, &flow).await,
                before,
                "{field} with {what} wrote something"
            );
        }
    }

    // The web page's Generate a new API key form.
    for (what, text) in &bad_texts {
        let settings = browser.get("/settings").await;
        let page = browser
            .post(
                "/settings/keys",
                &[
                    ("csrf", &settings.csrf()),
                    ("name", text),
                    ("tenant", &app.tenant_id),
                ],
            )
            .await;
        assert_eq!(
            page.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "the key form with {what}"
        );
        assert!(
            page.html.contains("key name"),
            "the key form with {what}: no message"
        );
        assert_eq!(
            stored_texts(&app, &token, &flow).await,
            before,
            "the key form with {what} wrote something"
        );
    }

    // The command line. An argument cannot hold a NUL: a bell (U+0007) stands for it.
    let cli_texts = [
        ("a control character", "before\u{7}after".to_string()),
        (
            "a right-to-left override",
            "Invoice \u{202E}fdp.exe".to_string(),
        ),
        ("100,000 characters", long.clone()),
    ];
    let tenant = app.tenant_id.clone();
    for (what, text) in &cli_texts {
        let email = format!("{text}@example.com");
        let commands: [(&str, Vec<&str>); 4] = [
            (
                "tenant create --name",
                vec!["tenant", "create", "--name", text],
            ),
            (
                "user create --email",
                vec!["user", "create", "--email", &email, "--tenant", &tenant],
            ),
            (
                "user create --first-name",
                vec![
                    "user",
                    "create",
                    "--email",
                    "cli@example.com",
                    "--tenant",
                    &tenant,
                    "--first-name",
                    text,
                ],
            ),
            (
                "user create --last-name",
                vec![
                    "user",
                    "create",
                    "--email",
                    "cli@example.com",
                    "--tenant",
                    &tenant,
                    "--last-name",
                    text,
                ],
            ),
        ];
        for (command, args) in commands {
            let out = app.cli(&args, Some("a long enough password\n")).await;
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(
                out.status.code(),
                Some(1),
                "{command} with {what}: {}",
                crate::helpers::show(&out)
            );
            assert!(
                stderr.starts_with("error: ") && out.stdout.is_empty(),
                "{command} with {what}: {stderr}"
            );
            assert_eq!(
                stored_texts(&app, &token, &flow).await,
                before,
                "{command} with {what} wrote something"
            );
        }
    }
}

/// What the rules allow is stored as sent: prose keeps its line breaks and tabs (and any
/// script), a person's name is trimmed, and the longest texts allowed fit.
async fn valid_texts_are_stored_as_sent() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let summary = "Line one\r\nline two\n\ttabbed: מפתח 名前 🚀";
    let created = app
        .with_token(Method::POST, FLOW, &token)
        .json(&json!({ "developerName": "Prose", "developerSummary": summary, "tags": ["a tag", "x".repeat(100)] }))
        .send()
        .await
        .unwrap();
    let created = assert_json(created, StatusCode::OK).await;
    assert_eq!(created["developerSummary"], summary);
    assert_eq!(created["tags"][1], "x".repeat(100));
    let flow = created["id"]["id"].as_str().unwrap();
    let long = "é".repeat(2000);
    let snapped = app
        .with_token(Method::POST, &format!("{FLOW}/snap/{flow}"), &token)
        .json(&json!(long))
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_json(snapped, StatusCode::OK).await["comment"],
        long.as_str()
    );
    let tenant = app
        .with_token(Method::POST, "/api/admin/1/tenant", &token)
        .json(&json!({ "developerSummary": summary }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_json(tenant, StatusCode::OK).await["developerSummary"],
        summary
    );
    let added = app
        .with_token(Method::POST, "/api/admin/1/users", &token)
        .json(&json!({ "email": "zoe@example.com", "firstName": "  Zoë ", "lastName": "ن".repeat(100) }))
        .send()
        .await
        .unwrap();
    let added = assert_json(added, StatusCode::OK).await;
    assert_eq!(added["firstName"], "Zoë");
    assert_eq!(added["lastName"], "ن".repeat(100));
    // One character over is refused.
    let over = app
        .with_token(Method::POST, "/api/admin/1/tenant", &token)
        .json(&json!({ "developerSummary": "x".repeat(2001) }))
        .send()
        .await
        .unwrap();
    let message = assert_error(over, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(message.contains("at most 2000"), "{message}");
}

// ---- Issue 9 point 8: both halves together ----

/// An update tells a name left out (kept) from an empty one (cleared), and the user's own
/// `PUT /api/admin/1/users/me` checks names like every other text.
async fn an_empty_name_clears_it_and_a_users_own_names_are_checked() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let id = app
        .create_user("pat@example.com", "pat's long password", &app.tenant_id)
        .await;
    let pat = app.login("pat@example.com", "pat's long password").await;
    let path = format!("/api/admin/1/users/{id}");
    let put = |body: Value| {
        app.with_token(Method::PUT, &path, &admin)
            .json(&body)
            .send()
    };

    let named = put(json!({ "firstName": "Pat", "lastName": "Lee" }))
        .await
        .unwrap();
    assert_json(named, StatusCode::OK).await;
    let kept = put(json!({ "lastName": "Kim" })).await.unwrap();
    let kept = assert_json(kept, StatusCode::OK).await;
    assert_eq!(
        (&kept["firstName"], &kept["lastName"]),
        (&json!("Pat"), &json!("Kim"))
    );
    let cleared = put(json!({ "firstName": "", "lastName": "  " }))
        .await
        .unwrap();
    let cleared = assert_json(cleared, StatusCode::OK).await;
    assert_eq!(
        (&cleared["firstName"], &cleared["lastName"]),
        (&Value::Null, &Value::Null)
    );

    for bad in ["a\u{0}b", "Eve \u{202E}lin", &"x".repeat(100_000)] {
        let own = app
            .with_token(Method::PUT, "/api/admin/1/users/me", &pat)
            .json(&json!({ "firstName": bad }))
            .send()
            .await
            .unwrap();
        let message = assert_error(own, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(message.contains("firstName"), "{message}");
    }
    assert_eq!(app.me(&pat).await["firstName"], Value::Null);
}

// ---- Issue 9 point 6: guessing one account from many addresses ----

mod guessing_one_account {
    use std::net::IpAddr;
    use std::time::{Duration, Instant};

    use reqwest::{Response, StatusCode};
    use serde_json::json;

    use crate::browser::Browser;
    use crate::helpers::{TestApp, assert_error, assert_json, assert_unauthorized, both_backends};

    both_backends! {
        guesses_from_many_addresses_delay_the_account_for_a_bounded_while,
        an_email_without_an_account_is_delayed_alike,
    }

    const VICTIM: &str = "victim@example.com";
    const VICTIM_PASSWORD: &str = "the victim's own password";
    const WRONG: &str = "a wrong guess at it";

    /// A client whose connections come from `127.0.0.<last>`: the server takes the TCP peer
    /// for the client's address, and Linux routes the whole of 127.0.0.0/8 to the loopback.
    fn client_from(last: u8) -> reqwest::Client {
        reqwest::Client::builder()
            .local_address(IpAddr::from([127, 0, 0, last]))
            .build()
            .unwrap()
    }

    async fn sign_in(app: &TestApp, from: u8, email: &str, password: &str) -> Response {
        client_from(from)
            .post(app.url("/api/draw/1/authentication"))
            .json(&json!({ "username": email, "password": password }))
            .send()
            .await
            .unwrap()
    }

    /// Wrong guesses at `email`, one from each of `127.0.0.<first>..`, until one is answered
    /// 429; returns that answer and how many guesses were refused with 401 before it.
    async fn guess_until_delayed(app: &TestApp, email: &str, first: u8) -> (Response, u8) {
        for (refused, from) in (first..first + 30).enumerate() {
            let answer = sign_in(app, from, email, WRONG).await;
            match answer.status() {
                StatusCode::UNAUTHORIZED => assert_unauthorized(answer).await,
                StatusCode::TOO_MANY_REQUESTS => return (answer, refused as u8),
                other => panic!("guess from 127.0.0.{from}: {other}"),
            };
        }
        panic!("30 addresses guessed at {email} and none was answered 429");
    }

    fn retry_after(answer: &Response) -> u64 {
        answer
            .headers()
            .get("retry-after")
            .expect("a 429 carries Retry-After")
            .to_str()
            .unwrap()
            .parse()
            .expect("Retry-After is in seconds")
    }

    async fn guesses_from_many_addresses_delay_the_account_for_a_bounded_while() {
        let app = TestApp::spawn_with(|config| {
            config.account_failure_burst = 3;
            config.account_failure_first_delay = Duration::from_secs(1);
            config.account_failure_max_delay = Duration::from_secs(2);
        })
        .await;
        app.create_user(VICTIM, VICTIM_PASSWORD, &app.tenant_id)
            .await;

        // Each address guesses once, far inside its own budget (1000 in the tests): only the
        // account's budget can stop this. The three free failures and the fourth attempt (which
        // starts the delay) are checked; a later one is refused.
        let (delayed, refused) = guess_until_delayed(&app, VICTIM, 2).await;
        assert!(refused >= 4, "only {refused} guesses were checked");
        assert!((1..=2).contains(&retry_after(&delayed)));
        let message = assert_error(delayed, StatusCode::TOO_MANY_REQUESTS).await;
        assert!(message.contains("for this account"), "{message}");

        // While the delay runs, the right password waits too, from a new address, over the API
        // and on the web form alike...
        let right = sign_in(&app, 40, VICTIM, VICTIM_PASSWORD).await;
        assert_error(right, StatusCode::TOO_MANY_REQUESTS).await;
        let mut browser = Browser::new(&app);
        let form = browser.get("/login").await;
        let fields = [
            ("email", VICTIM),
            ("password", VICTIM_PASSWORD),
            ("next", ""),
            ("csrf", &form.csrf()),
        ];
        let page = browser.post("/login", &fields).await;
        assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(!page.header("retry-after").is_empty());
        assert!(page.html.contains("for this account"), "{}", page.html);
        // ...but another account signs in, even from an address that guessed.
        let other = sign_in(&app, 3, &app.admin_email, &app.admin_password).await;
        assert_json(other, StatusCode::OK).await;
        assert!(app.metric("keyflow_account_throttled_total").await >= 3);

        // The delay ends by itself (the cap is 2 s here); the owner then signs in.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let answer = sign_in(&app, 50, VICTIM, VICTIM_PASSWORD).await;
            if answer.status() == StatusCode::OK {
                break;
            }
            assert_error(answer, StatusCode::TOO_MANY_REQUESTS).await;
            assert!(Instant::now() < deadline, "the account stayed delayed");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        // 127.0.0.50 has signed in to the account: when a new attack delays it, that address
        // still gets through with the right password, and its success ends the delay.
        let (delayed, _) = guess_until_delayed(&app, VICTIM, 60).await;
        assert_error(delayed, StatusCode::TOO_MANY_REQUESTS).await;
        let owner = sign_in(&app, 50, VICTIM, VICTIM_PASSWORD).await;
        assert_json(owner, StatusCode::OK).await;
        let elsewhere = sign_in(&app, 41, VICTIM, VICTIM_PASSWORD).await;
        assert_json(elsewhere, StatusCode::OK).await;
    }

    async fn an_email_without_an_account_is_delayed_alike() {
        let app = TestApp::spawn_with(|config| {
            config.account_failure_burst = 3;
            config.account_failure_first_delay = Duration::from_secs(60);
        })
        .await;
        let (delayed, refused) = guess_until_delayed(&app, "nobody@example.com", 2).await;
        assert_eq!(refused, 4);
        let message = assert_error(delayed, StatusCode::TOO_MANY_REQUESTS).await;
        assert!(message.contains("for this account"), "{message}");
    }
}

// ---- Issue 9 point 10: one refusal for every dead or misdirected key ----

mod equal_key_refusals {
    use keyflow::auth::api_key::ApiKey;
    use reqwest::{Method, StatusCode};

    use crate::helpers::{TestApp, assert_json, assert_unauthorized, both_backends};

    both_backends! {
        unknown_deleted_removed_and_other_tenant_keys_get_one_answer_by_one_path,
    }

    const LOOKUPS: &str = "keyflow_key_store_lookups_total";

    async fn unknown_deleted_removed_and_other_tenant_keys_get_one_answer_by_one_path() {
        let app = TestApp::spawn().await;
        let admin = app.admin_token().await;
        let other_tenant = app.second_tenant("Other").await;

        // A key that works, and is cached, sent with another tenant's id.
        let live = app.new_key("live").await;
        assert_json(app.list_flows(Some(&live), None).await, StatusCode::OK).await;
        // A deleted key.
        let deleted = app.new_key_for(&admin, "deleted", &app.tenant_id).await;
        assert_json(app.list_flows(Some(&deleted), None).await, StatusCode::OK).await;
        let gone = app
            .with_token(Method::DELETE, "/api/admin/1/users/me/keys/deleted", &admin)
            .send()
            .await
            .unwrap();
        assert_eq!(gone.status(), StatusCode::OK);
        // The key of a user since removed from the tenant.
        let password = "the member's password";
        let member = app
            .create_user("member@example.com", password, &app.tenant_id)
            .await;
        let member_token = app.login("member@example.com", password).await;
        let orphan = app.new_key_for(&member_token, "mine", &app.tenant_id).await;
        assert_json(app.list_flows(Some(&orphan), None).await, StatusCode::OK).await;
        let removed = app
            .with_token(
                Method::DELETE,
                &format!("/api/admin/1/users/{member}"),
                &admin,
            )
            .send()
            .await
            .unwrap();
        assert_eq!(removed.status(), StatusCode::OK);
        // A key with a valid checksum that was never issued.
        let unknown = ApiKey::generate().expose().to_string();

        let refusals = [
            ("an unknown key", unknown.as_str(), None),
            ("a deleted key", &deleted, None),
            ("a removed owner's key", &orphan, None),
            (
                "a live key with another tenant's id",
                &live,
                Some(&other_tenant),
            ),
            (
                "a live key with a tenant that does not exist",
                &live,
                Some(&"0190d9b2-0000-7000-8000-000000000000".to_string()),
            ),
        ];
        let mut bodies = Vec::new();
        for (what, key, tenant) in refusals {
            // Twice each: a second refusal takes the same path as the first.
            for round in 0..2 {
                let before = app.metric(LOOKUPS).await;
                let answer = app.list_flows(Some(key), tenant.map(String::as_str)).await;
                let body = assert_unauthorized(answer).await;
                assert_eq!(
                    app.metric(LOOKUPS).await,
                    before + 1,
                    "{what} (round {round}) was not refused after one storage lookup"
                );
                bodies.push((what, body));
            }
        }
        // A malformed key is refused before storage, with the same words.
        let before = app.metric(LOOKUPS).await;
        let malformed = app.list_flows(Some("kf_not-a-key"), None).await;
        bodies.push(("a malformed key", assert_unauthorized(malformed).await));
        assert_eq!(app.metric(LOOKUPS).await, before);

        let (_, first) = &bodies[0];
        for (what, body) in &bodies {
            assert_eq!(body, first, "{what} is told something else");
        }
        // And the live key still works in its own tenant.
        let own = app.list_flows(Some(&live), Some(&app.tenant_id)).await;
        assert_json(own, StatusCode::OK).await;
    }
}

// ---- Issue 9 point 2: slow clients ----

/// Clients that send their request slowly: a body that never finishes, a head a byte at a
/// time, more connections than one address may hold. They hold no in-flight slot, everyone
/// else is served meanwhile, and each is closed by its deadline.
mod slow_clients {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    use reqwest::StatusCode;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use crate::helpers::{TestApp, assert_json, both_backends};

    both_backends! {
        slow_bodies_and_heads_hold_no_slot_and_are_closed_by_their_deadlines,
        a_body_in_pieces_within_its_deadline_is_served,
        stalled_bodies_are_charged_their_whole_length_within_the_budget,
        a_stop_lets_the_request_in_flight_finish,
        connections_past_the_bound_per_address_are_closed_at_once,
    }

    /// The head and body deadlines of these tests' servers.
    const DEADLINE: Duration = Duration::from_secs(3);
    /// How late after its deadline a slow connection may still be closed: generous, for a
    /// loaded machine. (The deadline itself is the server's promise; the margin is not.)
    const MARGIN: Duration = Duration::from_secs(10);

    fn host(app: &TestApp) -> String {
        app.address.trim_start_matches("http://").to_string()
    }

    /// What a slow client saw: how long its connection stayed open and what it was answered.
    struct Closed {
        after: Duration,
        answer: String,
    }

    /// Connects, sends `start`, then one byte of `trickle` every 200 ms until the server closes
    /// the connection. `closed` counts the clients the server has closed.
    async fn slow_client(
        host: String,
        start: Vec<u8>,
        trickle: u8,
        closed: Arc<AtomicUsize>,
    ) -> Closed {
        let opened = Instant::now();
        let stream = TcpStream::connect(host).await.unwrap();
        let (mut read, mut write) = stream.into_split();
        write.write_all(&start).await.unwrap();
        let mut answer = Vec::new();
        let reading = read.read_to_end(&mut answer);
        tokio::pin!(reading);
        loop {
            tokio::select! {
                // EOF, or a reset: either way the server closed it.
                _ = &mut reading => break,
                () = tokio::time::sleep(Duration::from_millis(200)) => {
                    let _ = write.write_all(&[trickle]).await;
                }
            }
        }
        closed.fetch_add(1, Ordering::SeqCst);
        Closed {
            after: opened.elapsed(),
            answer: String::from_utf8_lossy(&answer).into_owned(),
        }
    }

    /// Polls `done` until it holds, for at most 10 s.
    async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
        let give_up = Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(Instant::now() < give_up, "{what}: not after 10 s");
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn slow_bodies_and_heads_hold_no_slot_and_are_closed_by_their_deadlines() {
        let app = TestApp::spawn_with(|config| {
            config.max_in_flight = 4;
            config.header_timeout = DEADLINE;
            config.body_timeout = DEADLINE;
            config.max_connections_per_address = 64;
        })
        .await;
        let key = app.new_key("patient").await;
        let host = host(&app);
        let slow = 8; // of each kind: twice --max-in-flight
        let closed = Arc::new(AtomicUsize::new(0));
        let requests = &app.state.metrics.http_requests;
        let heads_before = requests.load(Ordering::SeqCst);

        // A sign-in announcing 100 bytes of body and sending one now and then.
        let body_head = format!(
            "POST /api/draw/1/authentication HTTP/1.1\r\nHost: {host}\r\n\
             Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{"
        );
        let bodies: Vec<_> = (0..slow)
            .map(|_| {
                let start = body_head.clone().into_bytes();
                tokio::spawn(slow_client(host.clone(), start, b' ', closed.clone()))
            })
            .collect();
        // A head that never ends: a byte now and then of one more header's value.
        let loris_head = format!("GET /health HTTP/1.1\r\nHost: {host}\r\nX-Slow: ");
        let lorises: Vec<_> = (0..slow)
            .map(|_| {
                let start = loris_head.clone().into_bytes();
                tokio::spawn(slow_client(host.clone(), start, b'a', closed.clone()))
            })
            .collect();

        // A client that was answered once, then sends its next head a byte at a time: the
        // head deadline runs from the answer. (Two: their first requests take slots.)
        let twice = 2;
        let after_answer = format!(
            "GET /health HTTP/1.1\r\nHost: {host}\r\n\r\n\
             GET /health HTTP/1.1\r\nHost: {host}\r\nX-Slow: "
        );
        let answered: Vec<_> = (0..twice)
            .map(|_| {
                let start = after_answer.clone().into_bytes();
                tokio::spawn(slow_client(host.clone(), start, b'a', closed.clone()))
            })
            .collect();

        // Every slow body's head has reached keyflow, which is now waiting for its body.
        eventually("the slow bodies' heads and the first heads arrive", || {
            requests.load(Ordering::SeqCst) >= heads_before + (slow + twice) as u64
        })
        .await;
        let health = app.client.get(app.url("/health")).send().await.unwrap();
        assert_eq!(health.status(), StatusCode::OK);
        let token = app.admin_token().await;
        assert!(!token.is_empty());
        let flows = app.list_flows(Some(&key), None).await;
        assert_json(flows, StatusCode::OK).await;
        assert_eq!(
            closed.load(Ordering::SeqCst),
            0,
            "the slow clients were all still open while the others were served"
        );

        let wait = DEADLINE + MARGIN;
        for body in bodies {
            let closed = tokio::time::timeout(wait, body)
                .await
                .expect("closed")
                .unwrap();
            assert!(
                closed.after < wait,
                "a slow body closed after {:?}",
                closed.after
            );
            assert!(
                closed.answer.starts_with("HTTP/1.1 408 "),
                "a slow body is answered 408: {:?}",
                closed.answer
            );
            assert!(
                closed.answer.contains("connection: close"),
                "{}",
                closed.answer
            );
            assert!(
                closed.answer.contains("did not arrive within 3 s"),
                "{}",
                closed.answer
            );
        }
        for loris in lorises {
            let closed = tokio::time::timeout(wait, loris)
                .await
                .expect("closed")
                .unwrap();
            assert!(
                closed.after < wait,
                "a slow head closed after {:?}",
                closed.after
            );
            assert_eq!(closed.answer, "", "a head that never ends gets no answer");
        }
        for answered in answered {
            let closed = tokio::time::timeout(wait, answered)
                .await
                .expect("closed")
                .unwrap();
            assert!(
                closed.after < wait,
                "a slow second head closed after {:?}",
                closed.after
            );
            assert!(
                closed.answer.starts_with("HTTP/1.1 200 "),
                "{}",
                closed.answer
            );
            assert_eq!(
                closed.answer.matches("HTTP/1.1").count(),
                1,
                "only the first request is answered: {}",
                closed.answer
            );
        }
        let missed = app.state.metrics.deadlines_missed.load(Ordering::SeqCst);
        assert_eq!(missed, (2 * slow + twice) as u64);
        assert_eq!(
            app.state.bodies.in_use(),
            0,
            "the bodies' bytes were given back"
        );
        let health = app.client.get(app.url("/health")).send().await.unwrap();
        assert_eq!(health.status(), StatusCode::OK);
    }

    /// A body that arrives in pieces, within its deadline, is read whole.
    async fn a_body_in_pieces_within_its_deadline_is_served() {
        let app = TestApp::spawn_with(|config| config.body_timeout = DEADLINE).await;
        let body = serde_json::json!({"username": app.admin_email, "password": app.admin_password})
            .to_string();
        let (first, rest) = body.split_at(10);
        let host = host(&app);
        let mut stream = TcpStream::connect(&host).await.unwrap();
        let head = format!(
            "POST /api/draw/1/authentication HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{first}",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        // The rest is sent only once keyflow is reading the body: it has charged the body's
        // whole length against the budget, before the rest arrives.
        eventually("the body is being read", || {
            app.state.bodies.in_use() == body.len()
        })
        .await;
        stream.write_all(rest.as_bytes()).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    }

    /// README, "Slow clients": the bodies held at once take at most `--max-in-flight` × the
    /// body limit. Here that budget is 4 bodies of 64 KiB: four clients that send all but one
    /// byte of a 64 KiB body and stall are charged exactly their whole length (the capacity of
    /// the buffer each is read into, reserved before a byte arrived), a fifth body is refused
    /// at once (503, `Retry-After`), a body without any credential is held to the smaller
    /// limit (413 at once), and each charge is given back when its connection ends.
    async fn stalled_bodies_are_charged_their_whole_length_within_the_budget() {
        const LIMIT: usize = 64 * 1024;
        let app = TestApp::spawn_with(|config| {
            config.body_limit_bytes = LIMIT;
            config.max_in_flight = 4;
            config.anonymous_body_limit_bytes = 1024;
        })
        .await;
        let host = host(&app);
        let mut stalled = Vec::new();
        for _ in 0..4 {
            let mut stream = TcpStream::connect(&host).await.unwrap();
            let head = format!(
                "POST /api/draw/1/flow HTTP/1.1\r\nHost: {host}\r\n\
                 Authorization: Bearer made-up\r\nContent-Type: application/json\r\n\
                 Content-Length: {LIMIT}\r\n\r\n"
            );
            stream.write_all(head.as_bytes()).await.unwrap();
            stream.write_all(&vec![b' '; LIMIT - 1]).await.unwrap();
            stalled.push(stream);
        }
        eventually("the four bodies are charged", || {
            app.state.bodies.in_use() == 4 * LIMIT
        })
        .await;
        let fifth = app
            .client
            .post(app.url("/api/draw/1/flow"))
            .header("authorization", "Bearer made-up")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(fifth.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(fifth.headers()["retry-after"], "1");
        let anonymous = app
            .client
            .post(app.url("/api/draw/1/authentication"))
            .header("content-type", "application/json")
            .body(vec![b' '; 2048])
            .send()
            .await
            .unwrap();
        assert_eq!(anonymous.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(app.state.bodies.in_use(), 4 * LIMIT, "neither was charged");
        drop(stalled);
        eventually("the charges are given back", || {
            app.state.bodies.in_use() == 0
        })
        .await;
        let signed_in = app
            .client
            .post(app.url("/api/draw/1/authentication"))
            .json(&serde_json::json!({"username": app.admin_email, "password": app.admin_password}))
            .send()
            .await
            .unwrap();
        assert_json(signed_in, StatusCode::OK).await;
    }

    /// A stop takes no new connection but lets a request in flight finish, here one still
    /// sending its body, before the server returns.
    async fn a_stop_lets_the_request_in_flight_finish() {
        let data_dir = tempfile::tempdir().unwrap();
        let mut config = keyflow::config::ServeConfig::new(data_dir.path().to_path_buf());
        config.database_url = crate::helpers::fresh_database().await;
        config.admin_password = Some(crate::helpers::ADMIN_PASSWORD.into());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = keyflow::app::Server::start(config, listener).await.unwrap();
        let host = server.local_addr().to_string();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(server.run(async {
            let _ = stopped.await;
        }));
        let body = serde_json::json!({
            "username": "admin@example.com", "password": crate::helpers::ADMIN_PASSWORD
        })
        .to_string();
        let mut stream = TcpStream::connect(&host).await.unwrap();
        let head = format!(
            "POST /api/draw/1/authentication HTTP/1.1\r\nHost: {host}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\
             Expect: 100-continue\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        // `100 Continue` once keyflow is reading the body.
        let expected = b"HTTP/1.1 100 Continue\r\n\r\n";
        let mut interim = vec![0u8; expected.len()];
        stream.read_exact(&mut interim).await.unwrap();
        assert_eq!(interim, expected);

        stop.send(()).unwrap();
        let give_up = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(&host).await.is_ok() {
            assert!(Instant::now() < give_up, "still accepting after the stop");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        stream.write_all(body.as_bytes()).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
        let stopped = tokio::time::timeout(Duration::from_secs(10), running).await;
        stopped.expect("the server returns").unwrap().unwrap();
    }

    /// Sends `GET /health` on a kept-alive connection and reads its answer's status line.
    async fn health_on(stream: &mut TcpStream, host: &str) -> Option<String> {
        let request = format!("GET /health HTTP/1.1\r\nHost: {host}\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut answer = Vec::new();
        let mut buffer = [0u8; 1024];
        // The whole answer: its head, then as many bytes as it says its body has.
        loop {
            let read = stream.read(&mut buffer).await.ok()?;
            if read == 0 {
                return None;
            }
            answer.extend_from_slice(&buffer[..read]);
            let text = String::from_utf8_lossy(&answer);
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length = head
                    .lines()
                    .find_map(|line| line.strip_prefix("content-length: "))
                    .and_then(|n| n.parse::<usize>().ok())
                    .unwrap_or(0);
                if body.len() >= length {
                    return head.lines().next().map(str::to_string);
                }
            }
        }
    }

    async fn connections_past_the_bound_per_address_are_closed_at_once() {
        let app = TestApp::spawn_with(|config| config.max_connections_per_address = 3).await;
        let host = host(&app);
        let mut open = Vec::new();
        for _ in 0..3 {
            let mut stream = TcpStream::connect(&host).await.unwrap();
            let status = health_on(&mut stream, &host).await;
            assert_eq!(status.as_deref(), Some("HTTP/1.1 200 OK"));
            open.push(stream);
        }
        // A fourth from the same address is closed without an answer, whoever makes it.
        let mut fourth = TcpStream::connect(&host).await.unwrap();
        assert_eq!(health_on(&mut fourth, &host).await, None);
        assert!(app.client.get(app.url("/health")).send().await.is_err());
        let refused = &app.state.metrics.connections_refused;
        assert_eq!(refused.load(Ordering::SeqCst), 2);
        // The three still work, and once one is closed its place is free again.
        assert_eq!(
            health_on(&mut open[0], &host).await.as_deref(),
            Some("HTTP/1.1 200 OK")
        );
        drop(open.pop());
        let give_up = Instant::now() + Duration::from_secs(10);
        loop {
            let mut again = TcpStream::connect(&host).await.unwrap();
            if let Some(status) = health_on(&mut again, &host).await {
                assert_eq!(status, "HTTP/1.1 200 OK");
                break;
            }
            assert!(
                Instant::now() < give_up,
                "the closed connection's place was not freed"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
