//! Hostile input: a table of bad requests, each answered with a 4xx that says why, writing
//! nothing (every table's row count, the flow list and the key list are the same after it),
//! and leaving the server serving. Then the hostile-looking text that is valid (quotes, `../`,
//! right-to-left scripts in a flow's name) is stored and returned exactly as sent.

use reqwest::header::HeaderValue;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, assert_json, enc, flow_names};

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
        keys: app.key_list(token).await,
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

#[tokio::test]
async fn bad_requests_are_refused_with_a_message_and_write_nothing() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let key = app.new_key("mine").await;
    let tenant = app.tenant_id.clone();
    // A key of the right shape and checksum, issued by another deployment (another pepper).
    let elsewhere = TestApp::spawn().await;
    let foreign_key = elsewhere.new_key("theirs").await;

    let big = "a".repeat(64 * 1024);
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
        // A 64 KiB header, wherever it is; the write it rides on does not happen.
        case("64 KiB key", http(app.with_key(Method::GET, FLOW, &big)), 431),
        case("64 KiB tenant", http(flows(Method::GET).header("manywhotenant", &big)), 431),
        case("64 KiB token", http(app.with_token(Method::GET, FLOW, &big)), 431),
        case("64 KiB other header", http(new_flow(json!({"developerName": "Padded"})).header("x-padding", &big)), 431),
        case("16 KiB query", http(list(&big[..16 * 1024])), 414),
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

#[tokio::test]
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

#[tokio::test]
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

#[tokio::test]
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

#[tokio::test]
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

#[tokio::test]
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

#[tokio::test]
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

#[tokio::test]
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

#[tokio::test]
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

/// Runs `sql` on the server's database beside it (the test stands in for time passing).
async fn write_beside(app: &TestApp, sql: &str) -> Vec<(String, String)> {
    use sqlx::Connection;
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

#[tokio::test]
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

#[tokio::test]
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
