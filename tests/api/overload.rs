//! Overload: beyond `max_in_flight` requests at once, keyflow answers 503 with `Retry-After`
//! straight away instead of queueing, and serves normally as soon as the load is gone.
//!
//! The slots are held deterministically, without sleeps, by the test itself through the
//! server's state: the slot a request takes for its work. An upload waiting for its body holds
//! none (its body is read before it takes one): a flow creation sent with
//! `Expect: 100-continue` gets `100 Continue` once keyflow is reading its body, and waits
//! there until the test sends the body.

use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{TestApp, assert_error, assert_json, both_backends, flow_names};

both_backends! {
    requests_beyond_the_limit_are_shed_and_the_server_recovers,
    under_the_limit_nothing_is_shed,
}

const HELD_BODY: &[u8] = br#"{"developerName":"Held"}"#;

/// An upload that waits for its body until [`release`] sends it.
async fn hold(app: &TestApp, token: &str) -> TcpStream {
    let host = app.address.trim_start_matches("http://");
    let mut stream = TcpStream::connect(host).await.unwrap();
    let head = format!(
        "POST /api/draw/1/flow HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\
         Connection: close\r\n\r\n",
        HELD_BODY.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let expected = b"HTTP/1.1 100 Continue\r\n\r\n";
    let mut interim = vec![0u8; expected.len()];
    stream.read_exact(&mut interim).await.unwrap();
    assert_eq!(interim, expected, "{}", String::from_utf8_lossy(&interim));
    stream
}

/// Sends the upload's body and returns the status line of its answer.
async fn release(mut stream: TcpStream) -> String {
    stream.write_all(HELD_BODY).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    answer.lines().next().unwrap_or_default().to_string()
}

async fn requests_beyond_the_limit_are_shed_and_the_server_recovers() {
    let app = TestApp::spawn_with(|config| config.max_in_flight = 2).await;
    let token = app.admin_token().await;
    let key = app.new_key("load").await;

    // Two uploads waiting for their bodies take no slot: the server still has both.
    let uploads = vec![hold(&app, &token).await, hold(&app, &token).await];
    let health = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);

    let slots = [app.state.in_flight.enter(), app.state.in_flight.enter()];
    assert!(slots.iter().all(Option::is_some), "both slots were free");
    let shed = 5;
    for _ in 0..shed {
        let response = app.list_flows(Some(&key), None).await;
        let retry_after = response.headers().get("retry-after").cloned();
        let cache_control = response.headers().get("cache-control").cloned();
        let message = assert_error(response, StatusCode::SERVICE_UNAVAILABLE).await;
        assert_eq!(retry_after.expect("a 503 says when to retry"), "1");
        assert_eq!(cache_control.expect("a 503 is not cached"), "no-store");
        assert!(message.contains("try again"), "{message}");
    }
    let health = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(
        health.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "all of it is shed"
    );
    drop(slots);

    // The uploads were never dropped: they finish once their bodies arrive.
    for stream in uploads {
        assert_eq!(release(stream).await, "HTTP/1.1 200 OK");
    }
    let flows = app.list_flows(Some(&key), None).await;
    let flows = assert_json(flows, StatusCode::OK).await;
    assert_eq!(
        flow_names(&flows).iter().filter(|n| *n == "Held").count(),
        2
    );
    assert_eq!(app.metric("keyflow_shed_total").await, shed + 1);
}

async fn under_the_limit_nothing_is_shed() {
    let app = TestApp::spawn_with(|config| config.max_in_flight = 2).await;
    let token = app.admin_token().await;
    let held = hold(&app, &token).await;
    let key_list = app.key_list(&token).await;
    assert!(key_list.is_empty());
    assert_eq!(release(held).await, "HTTP/1.1 200 OK");
    assert_eq!(app.metric("keyflow_shed_total").await, 0);
}
