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

// ---- Issue 9 point 6: guessing one account from many addresses ----

mod guessing_one_account {
    use std::net::IpAddr;
    use std::time::{Duration, Instant};

    use reqwest::{Response, StatusCode};
    use serde_json::json;

    use crate::browser::Browser;
    use crate::helpers::{TestApp, assert_error, assert_json, assert_unauthorized};

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

    #[tokio::test]
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

    #[tokio::test]
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

    use crate::helpers::{TestApp, assert_json, assert_unauthorized};

    const LOOKUPS: &str = "keyflow_key_store_lookups_total";

    #[tokio::test]
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
