//! The pages' stylesheet and script, compiled into the binary and served with a long cache
//! lifetime: their URLs carry a digest of the content, so a new build gets new URLs.

use std::sync::LazyLock;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::http::json::Segment;
use crate::state::AppState;

const STYLE: &str = include_str!("assets/style.css");
const SCRIPT: &str = include_str!("assets/settings.js");

pub fn router() -> Router<AppState> {
    Router::new().route("/assets/{file}", get(asset))
}

/// A short digest of every asset, appended to their URLs as `?v=`.
pub fn version() -> &'static str {
    static VERSION: LazyLock<String> = LazyLock::new(|| {
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(STYLE.as_bytes());
        hasher.update(SCRIPT.as_bytes());
        format!("{:08x}", hasher.finalize())
    });
    &VERSION
}

async fn asset(Segment(file): Segment) -> Response {
    let (content_type, body) = match file.as_str() {
        "style.css" => ("text/css; charset=utf-8", STYLE),
        "settings.js" => ("text/javascript; charset=utf-8", SCRIPT),
        _ => return (StatusCode::NOT_FOUND, "there is no such file").into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        body,
    )
        .into_response()
}
