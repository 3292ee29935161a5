//! What keeps the server standing under hostile or heavy traffic: a bound on the size of a
//! request's head, a bound on the requests served at once (the rest are shed at once with 503
//! and `Retry-After`, instead of queueing until clients time out), and enough file descriptors
//! for thousands of connections.

use std::sync::Arc;

use axum::BoxError;
use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use tower::ServiceBuilder;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::load_shed::LoadShedLayer;

use crate::error::message_response;
use crate::metrics::Metrics;

/// The longest target (path and query) accepted, in bytes.
pub const MAX_TARGET_BYTES: usize = 8 * 1024;
/// The most bytes of header names and values accepted in one request.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
/// What a shed request is told to wait, in seconds.
pub const RETRY_AFTER_SECS: u64 = 1;

/// Refuses a request whose target or headers are larger than any client of keyflow needs,
/// before anything reads them (hyper itself refuses a head of more than about 400 KiB).
pub async fn bound_head(request: Request, next: Next) -> Response {
    if request.uri().to_string().len() > MAX_TARGET_BYTES {
        return message_response(
            StatusCode::URI_TOO_LONG,
            &format!("the request's path and query are longer than {MAX_TARGET_BYTES} bytes"),
        );
    }
    let header_bytes: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if header_bytes > MAX_HEADER_BYTES {
        return message_response(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            &format!("the request's headers are larger than {MAX_HEADER_BYTES} bytes"),
        );
    }
    next.run(request).await
}

/// `router` serving at most `max_in_flight` requests at once and answering the others 503
/// with `Retry-After` straight away. One semaphore is shared by every route.
pub fn shed_overload<S>(router: Router<S>, max_in_flight: usize, metrics: Arc<Metrics>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let overloaded = move |_: BoxError| {
        let metrics = metrics.clone();
        async move {
            Metrics::bump(&metrics.shed);
            overloaded(max_in_flight)
        }
    };
    router.layer(
        ServiceBuilder::new()
            .layer(HandleErrorLayer::new(overloaded))
            .layer(LoadShedLayer::new())
            .layer(GlobalConcurrencyLimitLayer::new(max_in_flight)),
    )
}

fn overloaded(max_in_flight: usize) -> Response {
    let mut response = message_response(
        StatusCode::SERVICE_UNAVAILABLE,
        &format!(
            "keyflow is serving its limit of {max_in_flight} requests at once; \
             try again in {RETRY_AFTER_SECS} s"
        ),
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    response
}

/// Raises this process's soft limit on open files to the hard limit, so thousands of
/// connections do not run out of descriptors at the usual soft limit of 1024. A failure is
/// logged, not fatal: the accept loop survives running out, it only slows down.
pub fn raise_open_files() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "open file limit"),
        Err(error) => tracing::warn!(%error, "cannot raise the open file limit"),
    }
}
