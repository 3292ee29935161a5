//! What keeps the server standing under hostile or heavy traffic: a bound on the size of a
//! request's head, a bound on the requests served at once (the rest are shed at once with 503
//! and `Retry-After`, instead of queueing until clients time out), and enough file descriptors
//! for thousands of connections.

use std::sync::atomic::{AtomicUsize, Ordering};

use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::Response;

use crate::http::error::message_response;

/// The longest target (path and query) accepted, in bytes.
pub const MAX_TARGET_BYTES: usize = 8 * 1024;
/// The most bytes of header names and values accepted in one request.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
/// What a shed request is told to wait, in seconds.
pub const RETRY_AFTER_SECS: u64 = 1;

/// The refusal of a request whose target or headers (`header_bytes` of names and values) are
/// larger than any client of keyflow needs, before anything reads them (hyper itself refuses a
/// head of more than `connections::READ_BUFFER_BYTES`, 64 KiB).
pub fn refuse_oversized_head(uri: &Uri, header_bytes: usize) -> Option<Response> {
    let target = uri.path_and_query().map_or(0, |p| p.as_str().len());
    if target > MAX_TARGET_BYTES {
        return Some(message_response(
            StatusCode::URI_TOO_LONG,
            &format!("the request's path and query are longer than {MAX_TARGET_BYTES} bytes"),
        ));
    }
    (header_bytes > MAX_HEADER_BYTES).then(|| {
        message_response(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            &format!("the request's headers are larger than {MAX_HEADER_BYTES} bytes"),
        )
    })
}

/// Counts the requests being served, and turns away those beyond the limit at once. (An
/// atomic counter rather than tower's `ConcurrencyLimit` and `LoadShed` layers: the same
/// shedding without a semaphore, two layers and an allocation on every request.)
pub struct InFlight {
    count: AtomicUsize,
    max: usize,
}

/// One request being served; it leaves the count when dropped.
pub struct Slot<'a>(&'a AtomicUsize);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl InFlight {
    pub fn new(max: usize) -> Self {
        Self {
            count: AtomicUsize::new(0),
            max: max.max(1),
        }
    }

    /// A slot, or none when `max` requests are in flight.
    pub fn enter(&self) -> Option<Slot<'_>> {
        if self.count.fetch_add(1, Ordering::AcqRel) >= self.max {
            self.count.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Slot(&self.count))
    }

    /// The answer to a request that found no slot: 503 with `Retry-After`.
    pub fn shed(&self) -> Response {
        overloaded(self.max)
    }
}

fn overloaded(max_in_flight: usize) -> Response {
    unavailable(&format!(
        "keyflow is serving its limit of {max_in_flight} requests at once; \
         try again in {RETRY_AFTER_SECS} s"
    ))
}

/// 503 with `message` (which says when to try again) and `Retry-After`.
pub fn unavailable(message: &str) -> Response {
    let mut response = message_response(StatusCode::SERVICE_UNAVAILABLE, message);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_past_the_limit_is_turned_away_until_a_slot_frees() {
        let limit = InFlight::new(2);
        let first = limit.enter().unwrap();
        let _second = limit.enter().unwrap();
        assert!(limit.enter().is_none(), "a third is refused");
        let refused = limit.shed();
        assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(refused.headers()[header::RETRY_AFTER], "1");
        drop(first);
        assert!(limit.enter().is_some());
    }
}
