//! The cached reads (`api::cached_reads`, `read_cache`): each read, once cached, shows a write
//! made through the API on the very next request, and one made through the command line on
//! the next request (SQLite: the control socket) or within the bound (PostgreSQL: the
//! announcement); the checks of every request still apply to a cached answer; the answers stay
//! within `--read-cache-mib`. Another instance's writes: `instances.rs`.

use std::time::{Duration, Instant};

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, TENANT_HEADER, TestApp, assert_json, both_backends, enc};

both_backends! {
    flows_snapshots_and_active_flows_show_a_write_on_the_next_read,
    elements_show_a_write_on_the_next_read,
    people_keys_and_the_tenant_show_a_write_on_the_next_read,
    a_cached_answer_is_the_handlers_and_keeps_every_check,
    the_command_line_is_seen_by_the_next_read,
    the_cached_reads_stay_within_their_setting,
    every_cached_read_of_a_flow_is_gone_once_it_is_deleted,
    a_large_answer_is_sent_whole_from_the_page_cache,
}

const FLOW: &str = "/api/draw/1/flow";

/// How soon a change announced through PostgreSQL must be seen (README, "Several instances").
const BOUND: Duration = Duration::from_secs(1);

async fn get(app: &TestApp, key: &str, path: &str) -> Value {
    let response = app.with_key(Method::GET, path, key).send().await.unwrap();
    assert_json(response, StatusCode::OK).await
}

/// Reads `path` twice: the second is answered from the cache (both must agree).
async fn cached(app: &TestApp, key: &str, path: &str) -> Value {
    let first = get(app, key, path).await;
    let second = get(app, key, path).await;
    assert_eq!(first, second, "{path}");
    first
}

async fn post(app: &TestApp, key: &str, path: &str, body: Option<Value>) -> Value {
    let request = app.with_key(Method::POST, path, key);
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    assert_json(request.send().await.unwrap(), StatusCode::OK).await
}

fn names(list: &Value) -> Vec<String> {
    let items = list.as_array().expect("a list");
    let mut names: Vec<String> = items
        .iter()
        .map(|item| {
            item["developerName"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    names.sort();
    names
}

async fn flows_snapshots_and_active_flows_show_a_write_on_the_next_read() {
    let app = TestApp::spawn().await;
    let key = app.new_key("reads").await;
    let flow = post(&app, &key, FLOW, Some(json!({"developerName": "Before"}))).await;
    let id = flow["id"]["id"].as_str().unwrap().to_string();
    let by_id = format!("{FLOW}/{id}");
    let filtered = format!("{FLOW}?filter={}", enc("startswith(developerName,'Aft')"));
    let graph = format!("/api/draw/1/graph/flow/{id}");
    let graph2 = format!("/api/draw/2/graph/flow/{id}");
    let snaps = format!("{FLOW}/snap/{id}");
    let active = format!("{FLOW}/active");
    let package = format!("/api/package/1/flow/{id}");

    assert!(names(&cached(&app, &key, FLOW).await).contains(&"Before".into()));
    assert_eq!(
        names(&cached(&app, &key, &filtered).await),
        Vec::<String>::new()
    );
    assert_eq!(cached(&app, &key, &by_id).await["developerName"], "Before");
    assert_eq!(cached(&app, &key, &graph).await["developerName"], "Before");
    cached(&app, &key, &graph2).await;
    assert!(
        cached(&app, &key, &package)
            .await
            .to_string()
            .contains("Before")
    );
    assert_eq!(
        cached(&app, &key, &snaps).await.as_array().unwrap().len(),
        0
    );
    assert_eq!(
        cached(&app, &key, &active).await.as_array().unwrap().len(),
        0
    );

    let mut renamed = flow.clone();
    renamed["developerName"] = json!("After");
    post(&app, &key, FLOW, Some(renamed)).await;
    assert!(names(&get(&app, &key, FLOW).await).contains(&"After".into()));
    assert_eq!(names(&get(&app, &key, &filtered).await), vec!["After"]);
    assert_eq!(get(&app, &key, &by_id).await["developerName"], "After");
    assert_eq!(get(&app, &key, &graph).await["developerName"], "After");
    let exported = get(&app, &key, &package).await.to_string();
    assert!(exported.contains("After") && !exported.contains("Before"));

    let snapshot = post(&app, &key, &snaps, Some(json!("first"))).await;
    let version = snapshot["id"]["versionId"].as_str().unwrap().to_string();
    assert_eq!(get(&app, &key, &snaps).await.as_array().unwrap().len(), 1);
    let activation = format!("{FLOW}/activation/{id}/{version}/true/true");
    post(&app, &key, &activation, None).await;
    assert_eq!(get(&app, &key, &active).await.as_array().unwrap().len(), 1);

    let deleted = app
        .with_key(Method::DELETE, &by_id, &key)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::OK);
    for path in [&by_id, &graph, &graph2, &snaps, &package] {
        let gone = app.with_key(Method::GET, path, &key).send().await.unwrap();
        assert_eq!(gone.status(), StatusCode::NOT_FOUND, "{path}");
    }
    assert!(!names(&get(&app, &key, FLOW).await).contains(&"After".into()));
}

async fn elements_show_a_write_on_the_next_read() {
    let app = TestApp::spawn().await;
    let key = app.new_key("reads").await;
    let list = "/api/draw/1/element/value";
    let list2 = "/api/draw/2/element/value";
    let value = post(
        &app,
        &key,
        list,
        Some(json!({"developerName": "v1", "contentType": "ContentString"})),
    )
    .await;
    let id = value["id"].as_str().unwrap().to_string();
    let by_id = format!("{list}/{id}");

    assert_eq!(names(&cached(&app, &key, list).await), vec!["v1"]);
    cached(&app, &key, list2).await;
    assert_eq!(cached(&app, &key, &by_id).await["developerName"], "v1");

    let mut renamed = value.clone();
    renamed["developerName"] = json!("v2");
    post(&app, &key, list, Some(renamed)).await;
    assert_eq!(names(&get(&app, &key, list).await), vec!["v2"]);
    assert!(get(&app, &key, list2).await.to_string().contains("v2"));
    assert_eq!(get(&app, &key, &by_id).await["developerName"], "v2");

    let deleted = app
        .with_key(Method::DELETE, &by_id, &key)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::OK);
    assert_eq!(names(&get(&app, &key, list).await), Vec::<String>::new());
    let gone = app
        .with_key(Method::GET, &by_id, &key)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
}

async fn token_get(app: &TestApp, token: &str, path: &str) -> Value {
    let response = app
        .with_token(Method::GET, path, token)
        .send()
        .await
        .unwrap();
    assert_json(response, StatusCode::OK).await
}

/// Reads `path` with a token twice, the second from the cache.
async fn token_cached(app: &TestApp, token: &str, path: &str) -> Value {
    let first = token_get(app, token, path).await;
    assert_eq!(token_get(app, token, path).await, first, "{path}");
    first
}

async fn people_keys_and_the_tenant_show_a_write_on_the_next_read() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let me = "/api/admin/1/users/me";
    let keys = "/api/admin/1/users/me/keys";
    let users = "/api/admin/1/users";
    let tenant = "/api/admin/1/tenant";

    token_cached(&app, &token, me).await;
    assert_eq!(
        token_cached(&app, &token, keys)
            .await
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let before = token_cached(&app, &token, users).await;
    assert_eq!(
        token_cached(&app, &token, tenant).await["developerName"],
        "Example"
    );

    // Names, a key, an invitation, the tenant's settings: each seen by the next read.
    let renamed = app
        .with_token(Method::PUT, me, &token)
        .json(&json!({"firstName": "Ada"}))
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.status(), StatusCode::OK);
    assert_eq!(token_get(&app, &token, me).await["firstName"], "Ada");

    let key = app.new_key_for(&token, "listed", &app.tenant_id).await;
    let listed = token_get(&app, &token, keys).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["name"], "listed");

    let invited = app
        .invite(&token, &app.tenant_id, "invited@example.com")
        .await;
    let after = token_get(&app, &token, users).await;
    assert_ne!(after, before);
    assert!(after.to_string().contains("invited@example.com"));
    let one = format!("{users}/{}", invited["id"].as_str().unwrap());
    assert_eq!(
        token_cached(&app, &token, &one).await["email"],
        "invited@example.com"
    );

    let body = json!({"developerName": "Renamed", "developerSummary": "s"});
    let changed = app
        .with_token(Method::POST, tenant, &token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    assert_eq!(
        token_get(&app, &token, tenant).await["developerName"],
        "Renamed"
    );
    // The tenant's new name shows in what the user reads of themselves.
    assert!(
        token_get(&app, &token, me)
            .await
            .to_string()
            .contains("Renamed")
    );

    // The key is used: its last use shows in the list once it is written, within the bound
    // of the usage writer (a batch as soon as it is handed over).
    get(&app, &key, FLOW).await;
    let since = Instant::now();
    loop {
        let listed = token_get(&app, &token, keys).await;
        if !listed[0]["lastUsedAt"].is_null() {
            break;
        }
        assert!(
            since.elapsed() < Duration::from_secs(5),
            "the key's use never showed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let path = "/api/admin/1/users/me/keys/listed";
    let deleted = app
        .with_token(Method::DELETE, path, &token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::OK);
    assert_eq!(
        token_get(&app, &token, keys)
            .await
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

async fn a_cached_answer_is_the_handlers_and_keeps_every_check() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let key = app.new_key("reads").await;
    let send = |path: &'static str, key: String| {
        let app = &app;
        async move { app.with_key(Method::GET, path, &key).send().await.unwrap() }
    };
    // The same headers and body from the handler and from the cache.
    let first = send(FLOW, key.clone()).await;
    let second = send(FLOW, key.clone()).await;
    for response in [&first, &second] {
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "application/json");
        assert_eq!(response.headers()["cache-control"], "no-store");
        assert!(response.headers().contains_key("ratelimit-limit"));
        assert!(response.headers().contains_key("x-request-id"));
    }
    let (first, second): (Response, Response) = (first, second);
    assert_eq!(first.text().await.unwrap(), second.text().await.unwrap());
    assert!(app.state.cached_read_bytes() > 0, "the list was cached");

    // Every cached read, routed and filled, then answered early from the caches: the same
    // status, headers (but the date, the request id and the requests left) and body.
    let flow = post(&app, &key, FLOW, Some(json!({"developerName": "Same"}))).await;
    let by_id = format!("{FLOW}/{}", flow["id"]["id"].as_str().unwrap());
    let headers = |response: &Response| {
        let mut names: Vec<(String, String)> = response
            .headers()
            .iter()
            .filter(|(name, _)| {
                !["date", "x-request-id", "ratelimit-remaining"].contains(&name.as_str())
            })
            .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_string()))
            .collect();
        names.sort();
        names
    };
    for path in [
        by_id.as_str(),
        "/api/draw/1/element/value",
        "/api/admin/1/users/me",
        "/api/admin/1/users",
        "/api/draw/1/flow/active",
    ] {
        let routed = app.with_key(Method::GET, path, &key).send().await.unwrap();
        let early = app.with_key(Method::GET, path, &key).send().await.unwrap();
        assert_eq!(routed.status(), StatusCode::OK, "{path}");
        assert_eq!(early.status(), StatusCode::OK, "{path}");
        assert_eq!(headers(&routed), headers(&early), "{path}");
        assert_eq!(
            routed.bytes().await.unwrap(),
            early.bytes().await.unwrap(),
            "{path}"
        );
    }

    // A key narrowed to elements is refused the flows it would find cached.
    let narrowed = app
        .with_token(Method::POST, "/api/admin/1/users/me/keys", &token)
        .json(&json!({"name": "narrow", "tenantId": app.tenant_id, "scopes": ["elements:read"]}))
        .send()
        .await
        .unwrap();
    let narrowed = assert_json(narrowed, StatusCode::OK).await;
    let narrowed = narrowed["apiKey"].as_str().unwrap().to_string();
    // Twice: the second with its grant cached, which the early answer looks at.
    for _ in 0..2 {
        assert_eq!(
            send(FLOW, narrowed.clone()).await.status(),
            StatusCode::FORBIDDEN
        );
    }
    // No key at all, or another tenant's id: refused, whatever is cached.
    let none = app.client.get(app.url(FLOW)).send().await.unwrap();
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    let other = app
        .with_key(Method::GET, FLOW, &key)
        .header(TENANT_HEADER, uuid::Uuid::now_v7().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::UNAUTHORIZED);

    // The key list a sign-in has cached is refused to a key of the same user.
    let keys = "/api/admin/1/users/me/keys";
    // (Read twice, not compared: a key's last use may land between the two.)
    token_get(&app, &token, keys).await;
    token_get(&app, &token, keys).await;
    let by_key = app.with_key(Method::GET, keys, &key).send().await.unwrap();
    assert_eq!(by_key.status(), StatusCode::FORBIDDEN);

    // The administration a sign-in of an administrator has cached is refused to a standard
    // member, and to the administrator once demoted.
    let users = "/api/admin/1/users";
    token_cached(&app, &token, users).await;
    let added = app
        .invite(&token, &app.tenant_id, "member@example.com")
        .await;
    app.accept_invitation(&added, "member password").await;
    let member = app.login("member@example.com", "member password").await;
    let refused = app
        .with_token(Method::GET, users, &member)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let promote = format!("{users}/{}", added["id"].as_str().unwrap());
    let promoted = app
        .with_token(Method::PUT, &promote, &token)
        .json(&json!({ "role": { "roleId": 1 } }))
        .send()
        .await
        .unwrap();
    assert_eq!(promoted.status(), StatusCode::OK);
    token_cached(&app, &member, users).await;
    let admin_id = token_get(&app, &token, "/api/admin/1/users/me").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let demoted = app
        .with_token(Method::PUT, &format!("{users}/{admin_id}"), &member)
        .json(&json!({ "role": { "developerName": "STANDARD_USER" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(demoted.status(), StatusCode::OK);
    let refused = app
        .with_token(Method::GET, users, &token)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
}

/// Polls `check` until it holds: at once on SQLite (the command line told the server before it
/// returned), within [`BOUND`] on PostgreSQL (the announcement travels).
async fn seen<F, Fut>(app: &TestApp, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let since = Instant::now();
    loop {
        if check().await {
            return;
        }
        assert!(
            app.backend() == Backend::Postgres && since.elapsed() < BOUND,
            "{what}: not seen by the next read"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn the_command_line_is_seen_by_the_next_read() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    let users = "/api/admin/1/users";
    let tenant = "/api/admin/1/tenant";
    token_cached(&app, &token, users).await;
    token_cached(&app, &token, tenant).await;

    // A user created into the tenant shows in its user administration.
    app.create_user("made@example.com", "made password", &app.tenant_id)
        .await;
    seen(&app, "a user created from the command line", || async {
        token_get(&app, &token, users)
            .await
            .to_string()
            .contains("made@example.com")
    })
    .await;

    // A second tenant that user is added to shows in what they read of themselves with a key
    // (a key reaches every membership; a sign-in only those begun before it).
    let made = app.login("made@example.com", "made password").await;
    let made_key = app.new_key_for(&made, "mine", &app.tenant_id).await;
    let me = "/api/admin/1/users/me";
    let tenants = |me: &Value| me["tenants"].as_array().map_or(0, Vec::len);
    assert_eq!(tenants(&cached(&app, &made_key, me).await), 1);
    let other = app.create_tenant("Other").await;
    app.add_user("made@example.com", &other).await;
    seen(&app, "a membership added from the command line", || async {
        tenants(&get(&app, &made_key, me).await) == 2
    })
    .await;

    // The tenant's key rate limit shows in its settings.
    let out = app
        .cli(
            &[
                "tenant",
                "key-rate-limit",
                "--tenant",
                &app.tenant_id,
                "--requests-per-second",
                "2",
                "--burst",
                "4",
            ],
            None,
        )
        .await;
    assert!(out.status.success(), "{}", crate::helpers::show(&out));
    seen(&app, "a rate limit set from the command line", || async {
        token_get(&app, &token, tenant).await["tenantSettings"]["apiKeyRateLimit"]
            == json!({"requestsPerSecond": 2, "burst": 4})
    })
    .await;

    // A member removed from the command line leaves the user administration.
    app.remove_user("made@example.com", &app.tenant_id).await;
    seen(&app, "a member removed from the command line", || async {
        !token_get(&app, &token, users)
            .await
            .to_string()
            .contains("made@example.com")
    })
    .await;
}

async fn the_cached_reads_stay_within_their_setting() {
    let bound: u64 = 256 * 1024;
    let app = TestApp::spawn_with(|config| config.read_cache_bytes = bound).await;
    let key = app.new_key("reads").await;
    // An element of about 20 kB, read under 100 paths (the query makes each its own answer):
    // 2 MB of answers through a cache of 256 kB.
    let big = "x".repeat(20_000);
    let list = "/api/draw/1/element/value";
    let value = post(&app, &key, list, Some(json!({"developerName": "big", "developerSummary": big, "contentType": "ContentString"}))).await;
    let id = value["id"].as_str().unwrap();
    for n in 0..100 {
        let path = format!("{list}/{id}?n={n}");
        assert_eq!(get(&app, &key, &path).await["id"], id);
        assert!(
            app.state.cached_read_bytes() <= bound,
            "{} bytes cached, over {bound}",
            app.state.cached_read_bytes()
        );
    }
    assert!(
        app.state.cached_read_bytes() > bound / 2,
        "answers were kept"
    );
}

/// Every cached read of one flow — its header, graphs, elements, snapshots and their images and
/// diff, its active version by id and by name, the tenant elements it uses, its packages — read
/// twice (the second from the cache), then the flow deleted: none answers 200 again.
async fn every_cached_read_of_a_flow_is_gone_once_it_is_deleted() {
    let app = TestApp::spawn().await;
    let key = app.new_key("reads").await;
    let flow = post(&app, &key, FLOW, Some(json!({"developerName": "Doomed"}))).await;
    let id = flow["id"]["id"].as_str().unwrap().to_string();
    let token = flow["editingToken"].as_str().unwrap().to_string();
    let start = flow["startMapElementId"].as_str().unwrap().to_string();
    let first = post(&app, &key, &format!("{FLOW}/snap/{id}"), Some(json!("one"))).await;
    let first = first["id"]["versionId"].as_str().unwrap().to_string();
    let second = post(&app, &key, &format!("{FLOW}/snap/{id}"), Some(json!("two"))).await;
    let second = second["id"]["versionId"].as_str().unwrap().to_string();
    post(
        &app,
        &key,
        &format!("{FLOW}/activation/{id}/{first}/true/true"),
        None,
    )
    .await;
    let elements = format!("{FLOW}/{id}/{token}/element");
    let paths = [
        format!("{FLOW}/{id}"),
        format!("/api/draw/1/graph/flow/{id}"),
        format!("/api/draw/2/graph/flow/{id}"),
        format!("{elements}/map"),
        format!("{elements}/map/{start}"),
        format!("{elements}/group"),
        format!("{elements}/navigation"),
        format!("{FLOW}/snap/{id}"),
        format!("/api/draw/2/flow/snap/{id}"),
        format!("{FLOW}/snap/{id}/{first}"),
        format!("{FLOW}/snap/{id}/diff/{first}/{second}"),
        format!("{FLOW}/active/{id}"),
        format!("{FLOW}/active/name/Doomed"),
        format!("/api/draw/1/element/flow/{id}/value"),
        format!("/api/package/1/flow/{id}"),
        format!("/api/package/1/flow/{id}/{first}"),
    ];
    for path in &paths {
        cached(&app, &key, path).await;
    }
    let deleted = app
        .with_key(Method::DELETE, &format!("{FLOW}/{id}"), &key)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::OK);
    for path in &paths {
        let gone = app.with_key(Method::GET, path, &key).send().await.unwrap();
        assert_ne!(
            gone.status(),
            StatusCode::OK,
            "{path} served after the flow was deleted"
        );
    }
}

/// A cached answer of 8 KiB or more leaves from the page cache (`page_bodies`, with
/// `sendfile`): whole and the same as the handler's, again and again on one connection, and to
/// a client that reads it a little at a time.
async fn a_large_answer_is_sent_whole_from_the_page_cache() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn().await;
    let key = app.new_key("large").await;
    let summary = "a flow described at length ".repeat(70);
    for n in 0..60 {
        let body = json!({"developerName": format!("Large {n}"), "developerSummary": summary});
        post(&app, &key, FLOW, Some(body)).await;
    }
    let routed = app.with_key(Method::GET, FLOW, &key).send().await.unwrap();
    assert_eq!(routed.status(), StatusCode::OK);
    let routed = routed.bytes().await.unwrap();
    assert!(routed.len() > 100_000, "{} bytes", routed.len());
    let sends = app.metric("keyflow_page_sends_total").await;
    for _ in 0..5 {
        let again = app.with_key(Method::GET, FLOW, &key).send().await.unwrap();
        assert_eq!(again.status(), StatusCode::OK);
        assert_eq!(again.bytes().await.unwrap(), routed);
    }
    assert!(
        app.metric("keyflow_page_sends_total").await >= sends + 5,
        "each answer's body left from the page cache"
    );

    // A receive buffer of 4 KiB, read a little at a time (pieces of the body sent:
    // `http::page_io`'s own test).
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let address = app
        .url("/")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let mut stream = socket.connect(address.parse().unwrap()).await.unwrap();
    let request = format!(
        "GET {FLOW} HTTP/1.1\r\nhost: keyflow\r\nx-boomi-flow-api-key: {key}\r\n\
         manywhotenant: {}\r\nconnection: close\r\n\r\n",
        app.tenant_id
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut received = Vec::new();
    let mut piece = [0u8; 1024];
    loop {
        let read = stream.read(&mut piece).await.unwrap();
        if read == 0 {
            break;
        }
        received.extend_from_slice(&piece[..read]);
    }
    let text = String::from_utf8(received).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(body.as_bytes(), &routed[..]);
}
