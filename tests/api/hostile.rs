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

    use crate::helpers::{TestApp, assert_json};

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

    #[tokio::test]
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
    #[tokio::test]
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
        // The rest is sent only once keyflow holds the first piece.
        eventually("the first piece is read", || {
            app.state.bodies.in_use() == first.len()
        })
        .await;
        stream.write_all(rest.as_bytes()).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    }

    /// A stop takes no new connection but lets a request in flight finish, here one still
    /// sending its body, before the server returns.
    #[tokio::test]
    async fn a_stop_lets_the_request_in_flight_finish() {
        let data_dir = tempfile::tempdir().unwrap();
        let mut config = keyflow::config::ServeConfig::new(data_dir.path().to_path_buf());
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

    #[tokio::test]
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
