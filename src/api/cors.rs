//! CORS for the API (`/api/…`): a page of another origin may call it with its credential
//! headers (`x-boomi-flow-api-key`, `manywhotenant`, `Authorization`), from the origins of
//! `--cors-origins` (any by default), and read `x-request-id`. Never with credentials in the
//! CORS sense (cookies): no `Access-Control-Allow-Credentials`, so a browser never sends the
//! pages' session cookie across origins. A preflight is answered by the layer itself, before
//! any extractor, so it needs no credential. The pages (not under `/api/`) get no CORS headers.

use std::time::Duration;

use std::convert::Infallible;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, header};
use axum::response::Response;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::http::extract::{API_KEY_HEADER, TENANT_HEADER};
use crate::http::request_service::REQUEST_ID_HEADER;

/// The layer for the API's routes; `origins` as `--cors-origins` gives them (`None`: any).
pub(crate) fn layer(origins: Option<&[String]>) -> CorsLayer {
    let allow_origin = match origins {
        None => AllowOrigin::any(),
        // The flag's parser admitted only header-safe text.
        Some(origins) => AllowOrigin::list(
            origins
                .iter()
                .filter_map(|origin| HeaderValue::from_str(origin).ok()),
        ),
    };
    CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([
            HeaderName::from_static(API_KEY_HEADER),
            HeaderName::from_static(TENANT_HEADER),
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            REQUEST_ID_HEADER.clone(),
        ])
        .expose_headers([REQUEST_ID_HEADER.clone()])
        .max_age(Duration::from_secs(600))
}

/// The headers `layer` adds to the answer of a request without `Origin` (a client that is not
/// a browser page): what the early answer, which the layer does not wrap, adds itself, so that
/// its answers are the router's to the header. Read from the layer itself, once.
pub(crate) fn headers_without_origin(layer: &CorsLayer) -> HeaderMap {
    use futures_util::FutureExt;
    use tower::{Layer, Service};

    let mut service = layer.layer(tower::service_fn(|_: Request| {
        std::future::ready(Ok::<_, Infallible>(Response::new(Body::empty())))
    }));
    let request = Request::get("/api/")
        .body(Body::empty())
        .expect("a valid request");
    match service.call(request).now_or_never() {
        Some(Ok(response)) => response.headers().clone(),
        // The layer answers a simple request at once; should it not, no headers.
        _ => HeaderMap::new(),
    }
}
