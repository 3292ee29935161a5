//! The floor of the framework, subject (b) of bench/run.sh: axum answering
//! `GET /api/draw/1/flow` with fixed bytes after comparing the key and tenant headers with
//! fixed values: no key verification, no storage, no middleware.
//!
//! Usage: keyflow-bench-floor LISTEN BODY_FILE KEY TENANT  (prints `listening on http://…`);
//! tokio reads its number of worker threads from `TOKIO_WORKER_THREADS`.

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [listen, body_file, key, tenant] = &args[..] else {
        panic!("usage: keyflow-bench-floor LISTEN BODY_FILE KEY TENANT");
    };
    let body = Bytes::from(std::fs::read(body_file).expect("read the body"));
    let key: &'static str = Box::leak(key.clone().into_boxed_str());
    let tenant: &'static str = Box::leak(tenant.clone().into_boxed_str());
    let answer = move |headers: HeaderMap| {
        let body = body.clone();
        async move {
            let is = |name: &str, value: &str| headers.get(name).is_some_and(|v| v == value);
            if is("x-boomi-flow-api-key", key) && is("manywhotenant", tenant) {
                let json = HeaderValue::from_static("application/json");
                ([(header::CONTENT_TYPE, json)], body).into_response()
            } else {
                (StatusCode::UNAUTHORIZED, "\"the API key is not valid\"").into_response()
            }
        }
    };
    let app: Router = Router::new().route("/api/draw/1/flow", get(answer));
    let listener = tokio::net::TcpListener::bind(listen.as_str())
        .await
        .unwrap();
    println!("listening on http://{}", listener.local_addr().unwrap());
    axum::serve(listener, app).await.unwrap();
}
